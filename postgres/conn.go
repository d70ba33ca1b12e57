package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
)

// dialect is PostgreSQL's side of the SQL the stores share (package
// sqlstore): times are timestamptz, a webhook endpoint's events a text[],
// and rows that must stay as read are locked FOR UPDATE.
var dialect = &sqlstore.Dialect{
	ForUpdate:  " FOR UPDATE",
	HasEvent:   `? = ANY (events)`,
	KeyColumns: keyColumns,
	ScanKey:    func(r sqlstore.Row) (*pihu.Key, error) { return scanKey(r) },
	Time:       func(t time.Time) any { return ts(t) },
}

// conn is a pool or a transaction as sqlstore sees it: its ? placeholders
// numbered (sqlstore.Rebind).
type conn struct{ q querier }

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, sqlstore.Rebind(query), args...)
	return tag.RowsAffected(), err
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return c.q.Query(ctx, sqlstore.Rebind(query), args...)
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return c.q.QueryRow(ctx, sqlstore.Rebind(query), args...)
}

// txn is a transaction as sqlstore sees it. lockKey is the key whose row
// it locks FOR UPDATE (see inTxLocking).
type txn struct {
	conn
	tx      pgx.Tx
	lockKey string
}

func (t txn) Dialect() *sqlstore.Dialect { return dialect }

func (t txn) InsertKey(ctx context.Context, k *pihu.Key) error { return insertKey(ctx, t.tx, k) }

func (t txn) InsertEvents(ctx context.Context, events []*pihu.AuditEvent) error {
	return insertEvents(ctx, t.tx, events)
}

func (t txn) CheckCreator(ctx context.Context, k *pihu.Key) error {
	return checkCreator(ctx, t.tx, k, t.lockKey)
}

// inTxDo is inTxLocking for work that returns a value; lockKey may be "".
// f may run more than once (see inTx).
func inTxDo[T any](ctx context.Context, db *DB, what, lockKey string, f func(ctx context.Context, tx txn) (T, error)) (T, error) {
	var v T
	err := db.inTxLocking(ctx, what, lockKey, func(ctx context.Context, tx pgx.Tx) (err error) {
		v, err = f(ctx, txn{conn{tx}, tx, lockKey})
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// listPage runs q (see sqlstore.ListPage) on the pool, within CallTimeout.
func listPage[T any](ctx context.Context, db *DB, q sqlstore.PageQuery, scan func(pgx.Row) (T, error)) ([]T, bool, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	out, more, err := sqlstore.ListPage(ctx, conn{db.pool}, q, func(r sqlstore.Row) (T, error) { return scan(r) })
	var e *pihu.Error
	if err != nil && !errors.As(err, &e) {
		return nil, false, wrap("list "+q.Table, err)
	}
	return out, more, err
}
