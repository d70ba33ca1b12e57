// Package postgres implements pihu.Store on PostgreSQL, for several
// instances of `pihu serve` sharing one database behind a load balancer.
//
// It speaks to the database through a pgx connection pool. Where the SQLite
// store relies on its single writer for race-freedom, this one relies on
// PostgreSQL's own tools, each named where it is used: row locks
// (SELECT … FOR UPDATE / FOR SHARE) for the checks that must hold until a
// transaction commits, unique constraints with ON CONFLICT for
// reservations, additive upserts and GREATEST for counters written by
// several instances at once, and transaction-scoped advisory locks for the
// first-start account, the migrations and the signing keys. A transaction that PostgreSQL
// aborts as a deadlock or a serialization failure is retried.
//
// Every call fails fast when the database is unreachable or frozen: every
// call has a deadline of its own (Options.CallTimeout), statements and
// lock waits end on the server a little before it (statement_timeout,
// lock_timeout), and connections time out (connect_timeout, default 5 s);
// such failures are pihu.EUnavailable, which the API answers with a 503.
// The batched writes of key uses (TouchKeys, AddUsage), which no client
// waits for, have a longer deadline, so that the backlog of an outage can
// be written once the database is back.
//
// Primary and RecordPrimary tell which primary the store writes to (the
// cluster's system identifier and timeline), so that instances can refuse
// the old primary of a failover (see pihu.Primary.Admit).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
)

// migrations holds the schema, one file a version, applied in file-name
// order. A shipped migration is never edited: a change is a new file.
//
//go:embed migrations/*.sql
var migrations embed.FS

// Defaults of the connection settings, each overridden by the same
// parameter in the database URL.
const (
	// defaultConnectTimeout bounds the opening of a connection
	// (connect_timeout).
	defaultConnectTimeout = 5 * time.Second
	// defaultIdleInTransaction ends, on the server, a transaction whose
	// client went silent (idle_in_transaction_session_timeout).
	defaultIdleInTransaction = "60s"
	// defaultMaxConns is the pool's size (pool_max_conns).
	defaultMaxConns = 16
)

// DefaultCallTimeout is Options.CallTimeout unless set: the commands that
// work on the database directly (pihu migrate, pihu accounts) allow a
// longer call than serve, whose clients wait (serve --database-timeout).
const DefaultCallTimeout = 5 * time.Second

// batchTimeout bounds the batched writes of key uses, at the least.
const batchTimeout = 30 * time.Second

// migrateTimeout bounds one migration, the wait for another instance's
// included.
const migrateTimeout = 10 * time.Minute

// Advisory lock keys: the first of the two int4 keys of
// pg_advisory_xact_lock; the second is the hash of the schema, so that
// stores in different schemas of one database do not wait for each other.
const (
	lockMigrate      = 0x70696875 // "pihu"
	lockFirstAccount = 0x70696876
	lockSigning      = 0x70696877
)

// DB is the PostgreSQL store. It is safe for concurrent use, and any number
// of DBs, in one process or many, may share one database.
type DB struct {
	shared // the methods written once for SQL stores (package sqlstore)

	pool *pgxpool.Pool

	// Now is the clock the store reads when it has to date something
	// itself (an account created without a time, a deletion). It
	// defaults to time.Now; tests replace it to control time.
	Now func() time.Time

	// CallTimeout bounds every store call on the client side (see
	// Options), so that a database that stops answering mid-call (a
	// network partition, a frozen server, where no error ever comes
	// back) fails the call with pihu.EUnavailable instead of hanging it.
	CallTimeout time.Duration
}

// Options configure Open; zero values take the defaults.
type Options struct {
	// CallTimeout bounds every store call, waiting for a connection
	// included (default DefaultCallTimeout). Unless the URL sets them,
	// statement_timeout is nine tenths of it and lock_timeout half, so
	// that the server ends a statement that takes too long, keeping its
	// connection, before the client gives up on it.
	CallTimeout time.Duration
	// CheckPrimary, if set, is asked about the server of every new
	// connection (its pihu.Primary) before the connection is used; an
	// error refuses it, and with several hosts in the URL the next one is
	// tried, as for target_session_attrs. Servers whose identity cannot be
	// read (a role not allowed to) are not asked about.
	CheckPrimary func(ctx context.Context, p pihu.Primary) error
}

var _ pihu.Store = (*DB)(nil)

// IsURL reports whether databaseURL names a PostgreSQL database
// ("postgres://…" or "postgresql://…").
func IsURL(databaseURL string) bool {
	u := strings.ToLower(databaseURL)
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// Open connects to the database at databaseURL, a libpq connection URL
// ("postgres://user@host:5432/db?sslmode=disable"), and applies the
// migrations it lacks, so that a store it returns is ready to use.
//
// Besides libpq's parameters, the URL may hold any server setting, which
// every connection then starts with: search_path=NAME keeps pihu's tables
// in schema NAME (it must exist), and statement_timeout and lock_timeout
// override the defaults (see Options). pool_max_conns sets the pool's
// size (default 16).
func Open(ctx context.Context, databaseURL string) (*DB, error) {
	return OpenWith(ctx, databaseURL, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, databaseURL string, opts Options) (*DB, error) {
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// pgx's message quotes the URL with its password replaced by
		// xxxxx (TestOpen_BadURL checks that it stays so).
		return nil, fmt.Errorf("postgres: %w; use postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAMS]", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	params := cfg.ConnConfig.RuntimeParams
	for name, def := range map[string]string{
		"statement_timeout":                   strconv.FormatInt((opts.CallTimeout*9/10).Milliseconds(), 10) + "ms",
		"lock_timeout":                        strconv.FormatInt((opts.CallTimeout/2).Milliseconds(), 10) + "ms",
		"idle_in_transaction_session_timeout": defaultIdleInTransaction,
		"application_name":                    "pihu",
	} {
		if _, ok := params[name]; !ok {
			params[name] = def
		}
	}
	if !strings.Contains(databaseURL, "pool_max_conns=") {
		cfg.MaxConns = defaultMaxConns
	}
	if opts.CheckPrimary != nil {
		cfg.ConnConfig.ValidateConnect = checkPrimary(cfg.ConnConfig.ValidateConnect, opts.CheckPrimary)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db := &DB{pool: pool, Now: time.Now, CallTimeout: opts.CallTimeout}
	db.shared = shared{Driver: runner{db}, Dialect: dialect}
	if err := db.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Migrate applies the embedded migrations the database lacks, in file-name
// order, each in its own transaction and recorded in schema_migrations.
// Each transaction first takes an advisory lock, so that of several
// instances starting at once on one database, one applies a migration and
// the others wait for it, then find it recorded and skip it. Applying them
// again is a no-op.
func (db *DB) Migrate(ctx context.Context) error {
	var schema *string
	if err := db.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return wrap("migrate", err)
	}
	if schema == nil {
		return errors.New("postgres: migrate: the search_path names no schema that exists: create it (CREATE SCHEMA name) or fix the search_path parameter of the database URL")
	}
	return sqlstore.Migrate(ctx, migrations, db.migrate)
}

// migrate applies one migration unless it is recorded. The advisory lock
// is held until the transaction ends, so the check and the work are one
// step for every instance; the table of versions is created under it too,
// since two concurrent CREATE TABLE IF NOT EXISTS can both fail.
func (db *DB) migrate(ctx context.Context, version int, name string) error {
	return db.inTxWithin(ctx, migrateTimeout, "migration "+name, "", func(ctx context.Context, tx pgx.Tx) error {
		// A migration may take longer than a request's statement, and
		// wait for another instance's (the advisory lock).
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, lockMigrate); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL
		)`); err != nil {
			return err
		}
		return sqlstore.ApplyMigration(ctx, txn{conn{tx}, tx, ""}, migrations, version, name, db.Now(), func(ctx context.Context, script string) error {
			_, err := tx.Exec(ctx, script)
			return err
		})
	})
}

// Ping reports whether the database answers; it backs /readyz.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	if err := db.pool.Ping(ctx); err != nil {
		return wrap("ping", err)
	}
	return nil
}

// Reset closes the pool's connections (those in use when they are given
// back), so that the next ones are made anew: on the primary the URL
// leads to now, checked by Options.CheckPrimary.
func (db *DB) Reset() { db.pool.Reset() }

// Close closes every connection of the pool, waiting for those in use to
// be released.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// withTimeout gives ctx the deadline limit from now, unless it has an
// earlier one.
func withTimeout(ctx context.Context, limit time.Duration) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) < limit {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, limit)
}

// maxAttempts is how many times inTx runs a transaction that PostgreSQL
// aborts as a deadlock or a serialization failure.
const maxAttempts = 5

// inTx runs f in a transaction (read committed), with a context bounded
// by CallTimeout, and commits it if f returns nil. f must start from
// scratch each time it is called, since a transaction aborted by a
// deadlock or a serialization failure is run again. An error of f that is a *pihu.Error is returned as it is; any
// other is wrapped, naming what.
//
// If ctx carries an actor (pihu.Actor), each run of the transaction first
// checks it (sqlstore.CheckActor), and f runs only if the actor may act: every
// write this store makes for a caller goes through here.
func (db *DB) inTx(ctx context.Context, what string, f func(ctx context.Context, tx pgx.Tx) error) error {
	return db.inTxWithin(ctx, db.CallTimeout, what, "", f)
}

// inTxLocking is inTx for a transaction that locks the row of key keyID
// FOR UPDATE: when that key is the actor's own, the actor's check locks
// its row so at once, rather than FOR SHARE and then again FOR UPDATE, so
// that two such transactions of one key queue instead of deadlocking on
// upgrading their locks (a key spending its credits, changing or revoking
// itself).
func (db *DB) inTxLocking(ctx context.Context, what, keyID string, f func(ctx context.Context, tx pgx.Tx) error) error {
	return db.inTxWithin(ctx, db.CallTimeout, what, keyID, f)
}

// inTxWithin is inTxLocking with another bound than CallTimeout on the
// whole.
func (db *DB) inTxWithin(ctx context.Context, limit time.Duration, what, keyID string, f func(ctx context.Context, tx pgx.Tx) error) error {
	ctx, cancel := withTimeout(ctx, limit)
	defer cancel()
	actor, hasActor := pihu.ActorFromContext(ctx)
	run := func(tx pgx.Tx) error {
		if hasActor {
			if err := sqlstore.CheckActor(ctx, conn{tx}, dialect, actor, keyID); err != nil {
				return err
			}
		}
		return f(ctx, tx)
	}
	var err error
	for attempt := 1; ; attempt++ {
		err = pgx.BeginFunc(ctx, db.pool, run)
		if err == nil || attempt == maxAttempts || !retryable(err) {
			break
		}
		// A short pause, longer each time, lets the other transaction
		// finish.
		select {
		case <-ctx.Done():
			return wrap(what, ctx.Err())
		case <-time.After(time.Duration(attempt) * 5 * time.Millisecond):
		}
	}
	if err == nil {
		return nil
	}
	var e *pihu.Error
	if errors.As(err, &e) && !unavailable(err) {
		return err
	}
	return wrap(what, err)
}

// retryable reports whether err aborted a transaction that may succeed if
// run again: a deadlock or a serialization failure.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// errUnavailable is the domain error of a database that cannot be reached
// or did not answer in time.
var errUnavailable = pihu.Errorf(pihu.EUnavailable, "The database is unreachable at the moment; try again in a few seconds.")

// wrap names the work that failed and keeps the driver's error for the
// logs; a failure to reach the database also becomes pihu.EUnavailable.
func wrap(what string, err error) error {
	if unavailable(err) {
		return fmt.Errorf("postgres: %s: %w: %w", what, errUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}

// unavailable reports whether err means the database could not be reached,
// or did not answer in time, rather than that it refused the work.
func unavailable(err error) bool {
	if errors.Is(err, errUnavailable) {
		return true
	}
	var (
		connErr *pgconn.ConnectError
		netErr  net.Error
		pgErr   *pgconn.PgError
	)
	switch {
	case errors.As(err, &connErr), errors.As(err, &netErr), pgconn.Timeout(err),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		// A cancelled context is the caller's: it gave up (a client
		// that went away); not a fault of the store, and not worth a 500.
		return true
	case errors.As(err, &pgErr):
		// Class 08: connection exceptions; 57P0x: the server is
		// shutting down or starting; 53300: too many connections;
		// 57014: a statement cancelled by statement_timeout; 55P03: a
		// lock not granted within lock_timeout; 25006: a write sent to
		// a read-only server (a replica, or a primary demoted by a
		// failover while the connection was open).
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P0") ||
			slices.Contains([]string{"53300", "57014", "55P03", "25006"}, pgErr.Code)
	}
	return false
}

// uniqueViolation reports whether err is a unique violation of the named
// constraint or index.
func uniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}

// querier is what the helpers need of a pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ts converts t to what the database stores: the second, in UTC. Domain
// times are already whole seconds (pihu.Timestamp).
func ts(t time.Time) time.Time { return pihu.Timestamp(t) }

// utc returns an optional time read from the database in UTC.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}
