package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
)

// dialect is PostgreSQL's side of the SQL the stores share (package
// sqlstore): times are timestamptz, a webhook endpoint's events a text[],
// and rows that must stay as read are locked FOR UPDATE.
var dialect = &sqlstore.Dialect{
	ForUpdate: " FOR UPDATE",
	ForShare:  " FOR SHARE",
	// An advisory lock held until the transaction ends, keyed by the
	// schema, so that stores in different schemas do not wait for each
	// other.
	LockFirstAccount: fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d, hashtext(current_schema()))`, lockFirstAccount),
	LockSigningKeys:  fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d, hashtext(current_schema()))`, lockSigning),
	Seq:              "seq",
	HasEvent:         `? = ANY (events)`,
	HasPermission:    `? = ANY (permissions)`,
	Time:             func(t time.Time) any { return ts(t) },
	Keys:             sqlstore.Scanner[*pihu.Key]{Columns: keyColumns, Scan: row(scanKey)},
	Events:           sqlstore.Scanner[*pihu.AuditEvent]{Columns: eventColumns, Scan: row(scanEvent)},
	Endpoints:        sqlstore.Scanner[*pihu.WebhookEndpoint]{Columns: endpointColumns, Scan: row(scanEndpoint)},
	Deliveries:       sqlstore.Scanner[*pihu.Delivery]{Columns: deliveryColumns, Scan: row(scanDelivery)},
	UniqueViolation:  uniqueViolation,
}

// row turns a scanner of pgx rows into one of sqlstore rows (the same
// method).
func row[T any](scan func(pgx.Row) (T, error)) func(sqlstore.Row) (T, error) {
	return func(r sqlstore.Row) (T, error) { return scan(r) }
}

// shared is the part of the store written once for every SQL database;
// embedded under this name, its methods are the store's and its fields
// stay unexported.
type shared = sqlstore.Store

// runner runs sqlstore's work on the store's pool.
type runner struct{ db *DB }

// Write runs f in a transaction (see inTxLocking).
func (r runner) Write(ctx context.Context, what, lockKey string, f func(ctx context.Context, tx sqlstore.Tx) error) error {
	return r.db.inTxLocking(ctx, what, lockKey, func(ctx context.Context, tx pgx.Tx) error {
		return f(ctx, txn{conn{tx}, tx, lockKey})
	})
}

// Now reads the store's clock (DB.Now).
func (r runner) Now() time.Time { return r.db.Now() }

// Read runs f on the pool, within CallTimeout.
func (r runner) Read(ctx context.Context, what string, f func(ctx context.Context, c sqlstore.Conn) error) error {
	ctx, cancel := withTimeout(ctx, r.db.CallTimeout)
	defer cancel()
	err := f(ctx, conn{r.db.pool})
	var e *pihu.Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	return wrap(what, err)
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
