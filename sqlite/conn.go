package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
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
	WriteLocked: true,
	Seq:         "rowid",
	HasEvent:    `EXISTS (SELECT 1 FROM json_each(events) WHERE value = ?)`,
	Time:        func(t time.Time) any { return unixTime(t) },
	Keys:        sqlstore.Scanner[*pihu.Key]{Columns: sqlstore.KeyReadColumns, Scan: scanKey},
	Roles:       sqlstore.RolesScanner(readJSONList),
	Credits:     sqlstore.Scanner[*pihu.Credits]{Columns: sqlstore.CreditColumns, Scan: scanCredits},
	InList:      `IN (SELECT value FROM json_each(?))`,
	Least:       "MIN",
	// A lease lives for seconds: its expiry is kept in milliseconds.
	LeaseTime: func(t time.Time) any { return t.UnixMilli() },
	Strings:   jsonStrings,
	Events:    sqlstore.EventsScanner(readJSONList),
	Endpoints: sqlstore.EndpointsScanner(readJSONList),
	Seconds:   "?",
	AppendJSON: func(column string) string {
		return "json_insert(" + column + ", '$[#]', json(?))"
	},
	Epoch:         "0",
	HasPermission: `EXISTS (SELECT 1 FROM json_each(permissions) WHERE value = ?)`,
	HoldsAny:      `EXISTS (SELECT 1 FROM json_each(permissions) WHERE value IN (SELECT value FROM json_each(?)))`,
	HasMetadata:   `EXISTS (SELECT 1 FROM json_each(metadata) WHERE key = ? AND type = 'text' AND value = ?)`,
	Permissions: func(p pihu.Permissions) any {
		b, _ := json.Marshal(p) // strings always marshal
		return string(b)
	},
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

// WriteOne runs f once this process's other writes are done (see
// queueWrite).
func (d runner) WriteOne(ctx context.Context, what string, f func(ctx context.Context, c sqlstore.Conn) error) error {
	defer d.db.queueWrite()()
	return named(what, f(ctx, conn{q: d.db.db}))
}

// Batch is Write: SQLite's calls have no deadline.
func (d runner) Batch(ctx context.Context, what string, f func(ctx context.Context, tx sqlstore.Tx) error) error {
	return d.Write(ctx, what, "", f)
}

// Now reads the store's clock (DB.Now).
func (d runner) Now() time.Time { return d.db.Now() }

// Read runs f on the database's connections.
func (d runner) Read(ctx context.Context, what string, f func(ctx context.Context, c sqlstore.Conn) error) error {
	return named(what, f(ctx, conn{d.db.db, d.db.stmts}))
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
	// stmts are the queries prepared for q, by their text (DB.stmts).
	stmts map[string]*sql.Stmt
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
	if stmt, ok := c.stmts[query]; ok {
		return stmt.QueryRowContext(ctx, args...)
	}
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

func newTxn(tx *sql.Tx) txn { return txn{conn{q: tx}, tx} }

func (t txn) Dialect() *sqlstore.Dialect { return dialect }

// ExecBatch runs query for each of args, prepared once.
func (t txn) ExecBatch(ctx context.Context, query string, args [][]any) error {
	if len(args) == 0 {
		return nil
	}
	stmt, err := t.tx.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, a := range args {
		if _, err := stmt.ExecContext(ctx, a...); err != nil {
			return err
		}
	}
	return nil
}

func (t txn) CheckCreator(ctx context.Context, k *pihu.Key) error {
	return sqlstore.CheckCreator(ctx, t, dialect, k, "")
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner = sqlstore.Row

// jsonStrings is ss as SQLite keeps a list: a JSON array; nil is NULL.
func jsonStrings(ss []string) any {
	if ss == nil {
		return nil
	}
	b, _ := json.Marshal(ss) // strings always marshal
	return string(b)
}

// jsonList reads a list SQLite keeps (a JSON array; NULL is nil).
type jsonList []string

// readJSONList is the destination that reads such a list into *p.
func readJSONList(p *[]string) any { return (*jsonList)(p) }

// Scan implements sql.Scanner.
func (l *jsonList) Scan(src any) error {
	switch s := src.(type) {
	case nil:
		*l = nil
		return nil
	case string:
		return json.Unmarshal([]byte(s), (*[]string)(l))
	case []byte:
		return json.Unmarshal(s, (*[]string)(l))
	}
	return fmt.Errorf("sqlite: a list column holds a %T", src)
}
