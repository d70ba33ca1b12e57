// Package sqlstore holds, once, the work the SQL stores (sqlite and
// postgres) do alike: keys' creation, inserts, updates and imports, spends
// and leases of credits, the rules of key rotation and cascading
// revocation, leak reports, audit events, the webhook outbox (its events,
// claims and deliveries) and its payloads, usage counts and key uses,
// people, invites and their rules, sessions, idempotency reservations,
// signing keys, paged lists, and each migration applied once. Store
// implements those methods of pihu.Store; each store embeds it and keeps
// only what differs by driver, handed over as a Driver (its transactions,
// reads, single writes and batches), Conns and Txs (its driver's queries
// behind one small interface) and a Dialect (the SQL and the column types
// that differ, and the scanners of the rows its driver reads its own way).
//
// Queries here are written with ? placeholders, one per argument, in
// order: SQLite takes them as they are, and the postgres store numbers
// them (Rebind). Reading no row is sql.ErrNoRows with either driver (pgx's
// ErrNoRows wraps it).
package sqlstore

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pihu-ai/pihu"
)

// Row is one row to read: a query's only one, or the current one of Rows.
type Row interface {
	Scan(dest ...any) error
}

// Rows are the rows of a query, read one at a time.
type Rows interface {
	Row
	Next() bool
	Err() error
	Close()
}

// Conn runs queries, in a transaction or not. Exec returns the number of
// rows the statement changed.
type Conn interface {
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Tx is a write transaction of a store: its queries, its dialect, and the
// writes whose SQL is the store's own.
type Tx interface {
	Conn
	Dialect() *Dialect
	// ExecBatch runs query once for each list of arguments, in order:
	// prepared once, or sent in one round trip.
	ExecBatch(ctx context.Context, query string, args [][]any) error
	// CheckCreator checks, as the transaction sees it, that the key
	// that created k may still act (pihu.CreatorOf), if k has a creator.
	CheckCreator(ctx context.Context, k *pihu.Key) error
}

// Dialect is what the SQL of one database differs in.
type Dialect struct {
	// WriteLocked is true of a database whose write transactions hold
	// its one write lock from their start (SQLite's immediate
	// transactions): what one reads, no other changes until it ends.
	WriteLocked bool
	// ForUpdate ends a SELECT whose rows must stay as read until the
	// transaction ends: " FOR UPDATE" where rows are locked one by one,
	// "" where the transaction is WriteLocked.
	ForUpdate string
	// ForShare is ForUpdate for rows that others may read, and not
	// change, until the transaction ends: " FOR SHARE", or "".
	ForShare string
	// LockFirstAccount, if not "", is a statement that waits for any
	// other transaction running it to end, run before a first account
	// is created: "" where the transaction is WriteLocked.
	LockFirstAccount string
	// LockSigningKeys is LockFirstAccount for the changes of the active
	// signing key.
	LockSigningKeys string
	// Seq is the column that orders a table's rows as inserted, for the
	// tables without their own seq column.
	Seq string
	// HasEvent is the condition, with one ? for an event type, that a
	// webhook endpoint's events column holds that type.
	HasEvent string
	// InList is the condition, with one ? for a list of strings (see
	// Strings), that a column's value is in it: the column's name goes
	// before it.
	InList string
	// Least is the SQL function of the least of its arguments.
	Least string

	// SkipLocked ends the subquery that picks the deliveries a claim
	// takes (d, joined with their endpoints): " FOR UPDATE OF d SKIP
	// LOCKED" where rows are locked, "" where the transaction is
	// WriteLocked.
	SkipLocked string
	// Seconds is a number of seconds, one ?, as the difference of two
	// times of the database.
	Seconds string
	// AppendJSON is the SQL of a JSON array column with one element
	// more, one ? for its JSON.
	AppendJSON func(column string) string
	// Epoch is the SQL of a time before any other (a lease that has
	// ended).
	Epoch string
	// HasPermission is the condition, with one ? for a permission, that
	// a key's permissions column names that permission.
	HasPermission string
	// HoldsAny is HasPermission for a list of permissions, one ? for
	// them (see Strings): the permissions column names one of them.
	HoldsAny string
	// HasMetadata is the condition, with a ? for a member's name and a ?
	// for a string, that a key's metadata has that member with that
	// string value (a value of another JSON type does not match).
	HasMetadata string

	// The rows whose columns the databases type differently (JSON text
	// against arrays and jsonb), each read by its store's scanner.
	// Keys reads KeyReadColumns: a key and its role ids.
	Keys      Scanner[*pihu.Key]
	Roles     Scanner[*pihu.KeyRole]
	Events    Scanner[*pihu.AuditEvent]
	Endpoints Scanner[*pihu.WebhookEndpoint]
	// Credits reads a key's credits (CreditColumns): nil for none.
	Credits Scanner[*pihu.Credits]

	// UniqueViolation, if set, reports whether err is a write that broke
	// the named unique constraint or index. Unset where the transaction
	// is WriteLocked: a check before the write sees every other write.
	UniqueViolation func(err error, constraint string) bool
	// Time is t as the database stores it (the second, UTC: domain times
	// are whole seconds already).
	Time func(t time.Time) any
	// LeaseTime is Time for the expiry of a lease of credits, kept
	// finer than the second.
	LeaseTime func(t time.Time) any
	// Permissions are a key's permissions as the database stores them.
	Permissions func(p pihu.Permissions) any
	// Strings is a list of strings as the database stores it; nil is
	// NULL.
	Strings func(ss []string) any
}

// NullTime is d.Time(*t), or NULL for nil.
func (d *Dialect) NullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.Time(*t)
}

// NullString is s, or NULL for "".
func NullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// rebound caches Rebind's results: a store's queries are a few hundred
// strings, built from constants.
var rebound sync.Map

// Rebind numbers the ? placeholders of query ($1, $2…) for PostgreSQL. A
// ? inside a quoted string or identifier is left alone.
func Rebind(query string) string {
	if q, ok := rebound.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	rebound.Store(query, b.String())
	return b.String()
}
