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
	HoldsAny:         `permissions && ?::text[]`,
	// Containment of {name: value} matches a member of that name whose
	// value is that string, and no other JSON value.
	HasMetadata: `metadata::jsonb @> jsonb_build_object(?::text, ?::text)`,
	Time:        func(t time.Time) any { return ts(t) },
	Keys:        sqlstore.Scanner[*pihu.Key]{Columns: sqlstore.KeyReadColumns, Scan: row(scanKey)},
	Roles:       sqlstore.RolesScanner(func(p *[]string) any { return p }),
	Credits:     sqlstore.Scanner[*pihu.Credits]{Columns: sqlstore.CreditColumns, Scan: row(scanCredits)},
	InList:      `= ANY (?)`,
	Least:       "LEAST",
	LeaseTime:   func(t time.Time) any { return t.UTC() },
	Strings:     func(ss []string) any { return ss },
	// pgx reads a text[] into a *[]string as it is.
	Events:     sqlstore.EventsScanner(func(p *[]string) any { return p }),
	Endpoints:  sqlstore.EndpointsScanner(func(p *[]string) any { return p }),
	SkipLocked: " FOR UPDATE OF d SKIP LOCKED",
	Seconds:    "? * interval '1 second'",
	AppendJSON: func(column string) string {
		return column + " || jsonb_build_array(?::jsonb)"
	},
	Epoch:           "'-infinity'",
	Permissions:     permissions,
	UniqueViolation: uniqueViolation,
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

// WriteOne is Read: the pool writes as it reads.
func (r runner) WriteOne(ctx context.Context, what string, f func(ctx context.Context, c sqlstore.Conn) error) error {
	return r.Read(ctx, what, f)
}

// Batch runs f in a transaction as Write does, within batchTimeout at
// the least.
func (r runner) Batch(ctx context.Context, what string, f func(ctx context.Context, tx sqlstore.Tx) error) error {
	return r.db.inTxWithin(ctx, max(r.db.CallTimeout, batchTimeout), what, "", func(ctx context.Context, tx pgx.Tx) error {
		return f(ctx, txn{conn{tx}, tx, ""})
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

// ExecBatch sends query for each of args in one round trip.
func (t txn) ExecBatch(ctx context.Context, query string, args [][]any) error {
	if len(args) == 0 {
		return nil
	}
	query = sqlstore.Rebind(query)
	b := &pgx.Batch{}
	for _, a := range args {
		b.Queue(query, a...)
	}
	return t.tx.SendBatch(ctx, b).Close()
}

func (t txn) CheckCreator(ctx context.Context, k *pihu.Key) error {
	return sqlstore.CheckCreator(ctx, t, dialect, k, t.lockKey)
}

// permissions is p as the text[] the database keeps: never NULL.
func permissions(p pihu.Permissions) any {
	out := make([]string, len(p))
	for i, v := range p {
		out[i] = string(v)
	}
	return out
}
