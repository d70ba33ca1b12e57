package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pihu-ai/pihu"
)

// eventColumns are the columns scanEvent reads, in its order.
const eventColumns = `id, account_id, environment, action, actor, target, ip, created`

// insertEvents stores audit events, inside the transaction of the change
// they record.
func insertEvents(ctx context.Context, e execer, events []*pihu.AuditEvent) error {
	for _, ev := range events {
		env := sql.Null[string]{V: string(ev.Environment), Valid: ev.Environment != ""}
		if _, err := e.ExecContext(ctx, `INSERT INTO audit_events (`+eventColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			ev.ID, ev.AccountID, env, ev.Action, ev.Actor, ev.Target, ev.IP, unixTime(ev.Created)); err != nil {
			return fmt.Errorf("sqlite: record event %s: %w", ev.ID, err)
		}
	}
	return nil
}

func scanEvent(row interface{ Scan(...any) error }) (*pihu.AuditEvent, error) {
	var (
		ev      pihu.AuditEvent
		env     sql.Null[string]
		created int64
	)
	if err := row.Scan(&ev.ID, &ev.AccountID, &env, &ev.Action, &ev.Actor, &ev.Target, &ev.IP, &created); err != nil {
		return nil, err
	}
	ev.Environment = pihu.Environment(env.V)
	ev.Created = fromUnix(created)
	return &ev, nil
}

// ListAuditEvents returns a page of the account's audit events, newest
// first, and whether more follow. A Limit out of 1 to 100 means 10 if
// below, 100 if above. Returns EParameterInvalid on "starting_after" if
// that id is not one of the account's events.
func (db *DB) ListAuditEvents(ctx context.Context, f pihu.AuditFilter) ([]*pihu.AuditEvent, bool, error) {
	limit := f.Limit
	switch {
	case limit < 1:
		limit = defaultLimit
	case limit > maxLimit:
		limit = maxLimit
	}

	query := `SELECT ` + eventColumns + ` FROM audit_events WHERE account_id = ?`
	args := []any{f.AccountID}
	if f.Environment != "" {
		query += ` AND environment = ?`
		args = append(args, string(f.Environment))
	}
	if f.StartingAfter != "" {
		var seq int64
		err := db.db.QueryRowContext(ctx, `SELECT seq FROM audit_events WHERE id = ? AND account_id = ?`,
			f.StartingAfter, f.AccountID).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, false, pihu.ParamErrorf(pihu.EParameterInvalid, "starting_after",
				"%q is not the id of one of this account's audit events; give the id of the last event of the previous page.", f.StartingAfter)
		}
		if err != nil {
			return nil, false, fmt.Errorf("sqlite: list audit events: %w", err)
		}
		query += ` AND seq < ?`
		args = append(args, seq)
	}
	query += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, limit+1)

	rows, err := db.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: list audit events: %w", err)
	}
	defer rows.Close()
	events := make([]*pihu.AuditEvent, 0, limit+1)
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, false, fmt.Errorf("sqlite: list audit events: %w", err)
		}
		events = append(events, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("sqlite: list audit events: %w", err)
	}
	if len(events) > limit {
		return events[:limit], true, nil
	}
	return events, false, nil
}
