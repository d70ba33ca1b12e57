package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
)

// dialect is SQLite's side of the SQL the stores share (package sqlstore):
// times are unix seconds, a webhook endpoint's events a JSON array, and a
// write transaction holds the file's write lock from its start.
var dialect = &sqlstore.Dialect{
	WriteLocked:   true,
	Seq:           "rowid",
	HasEvent:      `EXISTS (SELECT 1 FROM json_each(events) WHERE value = ?)`,
	HasPermission: `EXISTS (SELECT 1 FROM json_each(permissions) WHERE value = ?)`,
	Time:          func(t time.Time) any { return unixTime(t) },
	Keys:          sqlstore.Scanner[*pihu.Key]{Columns: keyColumns, Scan: scanKey},
	Events:        sqlstore.Scanner[*pihu.AuditEvent]{Columns: eventColumns, Scan: scanEvent},
	Endpoints:     sqlstore.Scanner[*pihu.WebhookEndpoint]{Columns: endpointColumns, Scan: scanEndpoint},
	Deliveries:    sqlstore.Scanner[*pihu.Delivery]{Columns: deliveryColumns, Scan: scanDelivery},
}

// shared is the part of the store written once for every SQL database;
// embedded under this name, its methods are the store's and its fields
// stay unexported.
type shared = sqlstore.Store

// runner runs sqlstore's work on the store's database.
type runner struct{ db *DB }

// Write runs f in a write transaction (see inTx). lockKey is for stores
// that lock rows: this transaction holds the file's write lock.
func (d runner) Write(ctx context.Context, what, lockKey string, f func(ctx context.Context, tx sqlstore.Tx) error) error {
	return d.db.inTx(ctx, what, func(tx *sql.Tx) error {
		return named(what, f(ctx, newTxn(tx)))
	})
}

// Now reads the store's clock (DB.Now).
func (d runner) Now() time.Time { return d.db.Now() }

// Read runs f on the database's connections.
func (d runner) Read(ctx context.Context, what string, f func(ctx context.Context, c sqlstore.Conn) error) error {
	return named(what, f(ctx, conn{d.db.db}))
}

// named names what failed in err, unless err is nil or a *pihu.Error, which
// goes to the caller as it is.
func named(what string, err error) error {
	var e *pihu.Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	return fmt.Errorf("sqlite: %s: %w", what, err)
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

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner = sqlstore.Row
