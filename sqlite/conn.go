package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
)

// dialect is SQLite's side of the SQL the stores share (package sqlstore):
// times are unix seconds, a webhook endpoint's events a JSON array, and a
// write transaction holds the file's write lock from its start.
var dialect = &sqlstore.Dialect{
	WriteLocked: true,
	HasEvent:    `EXISTS (SELECT 1 FROM json_each(events) WHERE value = ?)`,
	KeyColumns:  keyColumns,
	ScanKey:     func(r sqlstore.Row) (*pihu.Key, error) { return scanKey(r) },
	Time:        func(t time.Time) any { return unixTime(t) },
}

// conn is a *sql.DB or a *sql.Tx as sqlstore sees it.
type conn struct {
	q interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
}

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return c.q.QueryRowContext(ctx, query, args...)
}

// sqlRows are *sql.Rows as sqlstore reads them.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// txn is a write transaction as sqlstore sees it.
type txn struct {
	conn
	tx *sql.Tx
}

func newTxn(tx *sql.Tx) txn { return txn{conn{tx}, tx} }

func (t txn) Dialect() *sqlstore.Dialect { return dialect }

func (t txn) InsertKey(ctx context.Context, k *pihu.Key) error { return insertKey(ctx, t.tx, k) }

func (t txn) InsertEvents(ctx context.Context, events []*pihu.AuditEvent) error {
	return insertEvents(ctx, t.tx, events)
}

func (t txn) CheckCreator(ctx context.Context, k *pihu.Key) error { return checkCreator(ctx, t.tx, k) }

// inTxDo is inTx for work that returns a value.
func inTxDo[T any](ctx context.Context, db *DB, what string, f func(tx txn) (T, error)) (T, error) {
	var v T
	err := db.inTx(ctx, what, func(tx *sql.Tx) (err error) {
		v, err = f(newTxn(tx))
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner = sqlstore.Row
