package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pihu-ai/pihu"
)

// requestLogColumns are the columns of request_log, in scanRequestLog's
// order.
const requestLogColumns = `id, request_id, account_id, key_id, token_id, created, door, method, path, status, ip, code, omitted`

func scanRequestLog(row Row) (*pihu.RequestLogEntry, error) {
	var (
		e       pihu.RequestLogEntry
		created timeDest
	)
	if err := row.Scan(&e.ID, &e.RequestID, &e.AccountID, &e.KeyID, &e.TokenID, &created, &e.Door, &e.Method, &e.Path,
		&e.Status, &e.IP, &e.Code, &e.Omitted); err != nil {
		return nil, err
	}
	e.Time = time.Time(created)
	return &e, nil
}

// AppendRequestLog stores entries in one transaction, as one batch, each
// with a new id unless it has one; an entry of an unknown key, or of a
// key of another account than its own, is skipped.
func (s Store) AppendRequestLog(ctx context.Context, entries []pihu.RequestLogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	return s.Driver.Batch(ctx, "append request log", func(ctx context.Context, tx Tx) error {
		d := tx.Dialect()
		args := make([][]any, len(entries))
		for i := range entries {
			e := &entries[i]
			if e.ID == "" {
				e.ID = pihu.NewID(pihu.PrefixRequestLog)
			}
			args[i] = []any{e.ID, e.RequestID, e.TokenID, d.Time(e.Time), e.Door, e.Method, e.Path, e.Status, e.IP, e.Code, e.Omitted,
				e.KeyID, e.AccountID}
		}
		return tx.ExecBatch(ctx, `INSERT INTO request_log (id, request_id, token_id, created, door, method, path, status, ip, code, omitted,
				account_id, key_id)
			SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, account_id, id FROM api_keys WHERE id = ? AND account_id = ?`, args)
	})
}

// ListRequestLog returns a page of an account's request log, newest first,
// and whether more follow.
func (s Store) ListRequestLog(ctx context.Context, f pihu.RequestLogFilter) ([]*pihu.RequestLogEntry, bool, error) {
	if f.KeyID != "" {
		_, err := read(ctx, s, "key "+f.KeyID, func(ctx context.Context, c Conn) (int, error) {
			var one int
			err := c.QueryRow(ctx, `SELECT 1 FROM api_keys WHERE id = ? AND account_id = ?`, f.KeyID, f.AccountID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return 0, pihu.KeyNotFound(f.KeyID)
			}
			return one, err
		})
		if err != nil {
			return nil, false, err
		}
	}
	q := AccountPage("request_log", requestLogColumns, f.AccountID, "", "",
		pihu.Page{Limit: f.Limit, StartingAfter: f.StartingAfter, EndingBefore: f.EndingBefore},
		"this account's request log")
	add := func(cond string, args ...any) {
		q.Where += " AND " + cond
		q.Args = append(q.Args, args...)
	}
	if f.KeyID != "" {
		add("key_id = ?", f.KeyID)
	}
	if f.Environment != "" {
		add("EXISTS (SELECT 1 FROM api_keys WHERE api_keys.id = request_log.key_id AND api_keys.environment = ?)", string(f.Environment))
	}
	if f.Status != 0 {
		add("status = ?", f.Status)
	}
	if f.StatusClass != 0 {
		add("status >= ? AND status < ?", f.StatusClass*100, f.StatusClass*100+100)
	}
	if f.Code != "" {
		add("code = ?", f.Code)
	}
	if f.Refused {
		cond := "(omitted > 0 OR code IN ("
		var args []any
		for i, c := range pihu.RefusalCodes() {
			if i > 0 {
				cond += ", "
			}
			cond += "?"
			args = append(args, c)
		}
		add(cond+"))", args...)
	}
	if !f.Since.IsZero() {
		add("created >= ?", s.Dialect.Time(f.Since))
	}
	if !f.Until.IsZero() {
		add("created < ?", s.Dialect.Time(f.Until))
	}
	return page(ctx, s, q, scanRequestLog)
}

// PruneRequestLog deletes the entries created before before, and each
// account's beyond its max newest.
func (s Store) PruneRequestLog(ctx context.Context, before time.Time, max int) (int, error) {
	n, err := write(ctx, s, "prune request log", "", func(ctx context.Context, tx Tx) (int64, error) {
		n, err := tx.Exec(ctx, `DELETE FROM request_log WHERE created < ?`, tx.Dialect().Time(before))
		if err != nil {
			return 0, fmt.Errorf("prune request log by age: %w", err)
		}
		if max <= 0 {
			return n, nil
		}
		rows, err := tx.Query(ctx, `SELECT account_id FROM request_log GROUP BY account_id HAVING count(*) > ?`, max)
		if err != nil {
			return 0, fmt.Errorf("prune request log: %w", err)
		}
		accounts, err := collect(rows, func(row Row) (string, error) {
			var id string
			return id, row.Scan(&id)
		})
		if err != nil {
			return 0, fmt.Errorf("prune request log: %w", err)
		}
		for _, a := range accounts {
			m, err := tx.Exec(ctx, `DELETE FROM request_log WHERE account_id = ? AND seq <=
				(SELECT seq FROM request_log WHERE account_id = ? ORDER BY seq DESC LIMIT 1 OFFSET `+strconv.Itoa(max)+`)`, a, a)
			if err != nil {
				return 0, fmt.Errorf("prune request log of account %s: %w", a, err)
			}
			n += m
		}
		return n, nil
	})
	return int(n), err
}
