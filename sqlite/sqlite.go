// Package sqlite implements pihu.Store on an embedded SQLite database, the
// default storage: one file, no server to install.
//
// The file is opened in WAL mode with a busy timeout and immediate
// transactions, so that a running `pihu serve` and a `pihu accounts create`
// in another process can write to the same file at once: readers never wait
// for writers, and writers queue for the write lock instead of failing.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
	driver "modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// migrations holds the schema, one file a version, applied in file-name
// order. A shipped migration is never edited: a change is a new file.
//
//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeout is how long a connection waits for another one, possibly in
// another process, to release the write lock before it gives up: then the
// write fails with pihu.EUnavailable (a 503 with Retry-After), well before
// a client would give up. A variable for the tests.
var busyTimeout = 5 * time.Second

// errBusy is a write that waited busyTimeout for the write lock, held by
// another process, in vain.
var errBusy = pihu.Errorf(pihu.EUnavailable, "The database is busy at the moment; try again in a few seconds.")

// DB is the SQLite store. It is safe for concurrent use, and several DBs,
// in one process or several, may use the same file at once.
type DB struct {
	shared // the methods written once for SQL stores (package sqlstore)

	db *sql.DB

	// The queries of the hot path, prepared once: each connection
	// compiles them the first time it runs them and keeps them.
	// keyByDigest is KeyByDigest's; stmts are sqlstore's reads, by
	// their text, which the connection for reads runs (conn).
	keyByDigest *sql.Stmt
	stmts       map[string]*sql.Stmt

	// writer admits one write transaction of this DB at a time. SQLite
	// takes one writer at a time anyway; queueing here, where the next
	// writer starts the moment the last one commits, rather than in
	// SQLite's busy handler, which sleeps in steps of milliseconds, is
	// what lets concurrent writers reach the disk's commit rate.
	// Writers of other processes still queue in the busy handler.
	writer chan struct{}

	// pendingMu guards the keys waiting to be committed together (see
	// CreateKey), the spends likewise (see SpendCredits), and groups counts
	// the commits of either.
	pendingMu sync.Mutex
	pending   []*createRequest
	spends    []*spendRequest
	groups    int

	// Now is the clock the store reads when it has to date something
	// itself (an account created without a time, a migration). It
	// defaults to time.Now; tests replace it to control time.
	Now func() time.Time
}

// queueWrite waits for this process's other writes to end (DB.writer, the
// queue beginWrite takes too), and returns the function that lets the next
// one go: for writes that run outside inTx. SQLite takes one writer at a
// time, and a connection waiting for the write lock polls for it, with no
// queue: under a steady load of writes from many goroutines one of them
// could lose every poll for the whole busy timeout and fail with
// SQLITE_BUSY (the soak test saw it at 32 clients). Not reentrant: a
// function holding it must not call inTx or beginWrite.
func (db *DB) queueWrite() func() {
	db.writer <- struct{}{}
	return func() { <-db.writer }
}

var _ pihu.Store = (*DB)(nil)

// Open opens the database file at path, creating it if need be, and applies
// the migrations it lacks, so that a store it returns is ready to use.
func Open(ctx context.Context, path string) (*DB, error) {
	sqldb, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// As many idle connections as open ones, kept for good: opening one
	// costs hundreds of microseconds (the file, the pragmas, the schema),
	// which database/sql's default of 2 idle connections made every
	// request beyond the second pay.
	sqldb.SetMaxOpenConns(maxConns)
	sqldb.SetMaxIdleConns(maxConns)
	sqldb.SetConnMaxIdleTime(0)
	sqldb.SetConnMaxLifetime(0)
	db := &DB{db: sqldb, Now: time.Now, writer: make(chan struct{}, 1)}
	db.shared = shared{Driver: runner{db}, Dialect: dialect}
	if err := db.firstConn(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := db.Migrate(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := db.prepare(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return db, nil
}

// firstConn opens the database's first connection, retrying for up to
// busyTimeout while SQLite answers SQLITE_BUSY. Opening a connection sets
// journal_mode(WAL), and on a new file that another process is switching
// to WAL at that moment, SQLite answers SQLITE_BUSY at once instead of
// waiting under busy_timeout (three servers starting together on one new
// file failed so about once in 30 starts). Once the file is in WAL mode,
// which it keeps, the pragma takes no lock and later connections open
// without it.
func (db *DB) firstConn(ctx context.Context) error {
	return untilNotBusy(ctx, time.Now().Add(busyTimeout), func() error {
		c, err := db.db.Conn(ctx)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// isBusy reports whether err is SQLite's SQLITE_BUSY: the write lock was
// not to be had.
func isBusy(err error) bool {
	var serr *driver.Error
	return errors.As(err, &serr) && serr.Code()&0xff == sqlite3.SQLITE_BUSY
}

// migrateTimeout bounds how long Migrate waits, in all, for its turns at
// the write lock. Servers starting together on one new file take the lock
// in turns, one migration each, and on a loaded machine one of them can
// wait longer than busyTimeout for a turn (seen with three processes on 2
// busy cores). A start may wait for that; a request may not. A variable
// for the tests.
var migrateTimeout = 30 * time.Second

// untilNotBusy runs f until it does not fail for want of the write lock
// (SQLITE_BUSY, or errBusy after busyTimeout), or deadline has passed, or
// ctx is done; it returns f's last error, wrapping errBusy if it was busy.
func untilNotBusy(ctx context.Context, deadline time.Time, f func() error) error {
	for {
		err := f()
		if !errors.Is(err, errBusy) && !isBusy(err) {
			return err
		}
		if time.Now().After(deadline) {
			if !errors.Is(err, errBusy) {
				err = fmt.Errorf("%w: %w", errBusy, err)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// beginWrite begins a write transaction once this DB's other write
// transactions are done (see DB.writer). Call done after the transaction
// has committed or rolled back.
//
// If ctx carries an actor (pihu.Actor), the transaction first checks it
// (sqlstore.CheckActor), and beginWrite returns its error, a *pihu.Error, with no
// transaction if it may not act: every write transaction of this store
// starts here, or in commitGroups, which checks the actor of each request
// of its group.
func (db *DB) beginWrite(ctx context.Context) (tx *sql.Tx, done func(), err error) {
	select {
	case db.writer <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	done = func() { <-db.writer }
	tx, err = db.db.BeginTx(ctx, nil)
	if err != nil {
		done()
		if isBusy(err) {
			err = fmt.Errorf("%w: %w", errBusy, err)
		}
		return nil, nil, err
	}
	if a, ok := pihu.ActorFromContext(ctx); ok {
		if err := sqlstore.CheckActor(ctx, conn{q: tx}, dialect, a, ""); err != nil {
			tx.Rollback()
			done()
			return nil, nil, err
		}
	}
	return tx, done, nil
}

// maxConns is how many connections a DB opens at most, and keeps open.
// In WAL mode readers run side by side, while writers queue for the one
// write lock; 16 leaves readers room while writers wait.
const maxConns = 16

// prepare prepares the queries of the hot path.
func (db *DB) prepare(ctx context.Context) error {
	db.stmts = make(map[string]*sql.Stmt)
	for _, query := range []string{keyByDigest, sqlstore.KeyByIDQuery, sqlstore.AccountQuery} {
		stmt, err := db.db.PrepareContext(ctx, query)
		if err != nil {
			return err
		}
		db.stmts[query] = stmt
	}
	db.keyByDigest = db.stmts[keyByDigest]
	return nil
}

// keyByDigest is the query of KeyByDigest.
const keyByDigest = `SELECT ` + sqlstore.KeyReadColumns + ` FROM api_keys WHERE digest = ?`

// dsn is the driver's name for the file at path with the connection
// settings every connection needs. The path goes in a "file:" URI, escaped,
// so that a '?' or '#' in it names a file rather than starting a query.
func dsn(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// SQLite's page cache is per connection, 2 MB by default: 32 MB for
	// the 16 that stay open. A lookup by digest reads the interior pages
	// of the digest's index and of the table (at 1,000,000 keys, about 140
	// and 120 pages of 4 KB), then a leaf of each, which the file system
	// caches too: 1 MB a connection keeps about all the interior pages.
	q.Add("_pragma", "cache_size(-1024)")
	// A write transaction takes the write lock when it begins, so two
	// writers queue under busy_timeout instead of one failing at once
	// with SQLITE_BUSY when it upgrades a read lock.
	q.Set("_txlock", "immediate")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// ParseURL returns the file path of a database URL of the form
// "sqlite:PATH" (also written "sqlite://PATH"; an absolute path then gives
// "sqlite:///abs/path.db"). ok is false if the URL is not a SQLite one, or
// names no file.
func ParseURL(databaseURL string) (path string, ok bool) {
	const scheme = "sqlite:"
	if len(databaseURL) < len(scheme) || !strings.EqualFold(databaseURL[:len(scheme)], scheme) {
		return "", false
	}
	path = databaseURL[len(scheme):]
	path = strings.TrimPrefix(path, "//")
	return path, path != ""
}

// Migrate applies the embedded migrations the database lacks, in file-name
// order, each in its own transaction and recorded in schema_migrations.
// Applying them again is a no-op, and so is a race with another process
// migrating the same file: the second waits for the first (for up to
// migrateTimeout in all) and then finds the work done.
func (db *DB) Migrate(ctx context.Context) error {
	deadline := time.Now().Add(migrateTimeout)
	if err := untilNotBusy(ctx, deadline, func() error { return db.createMigrationsTable(ctx) }); err != nil {
		return fmt.Errorf("sqlite: create schema_migrations: %w", err)
	}
	return sqlstore.Migrate(ctx, migrations, func(ctx context.Context, version int, name string) error {
		return untilNotBusy(ctx, deadline, func() error { return db.migrate(ctx, version, name) })
	})
}

// createMigrationsTable creates schema_migrations if it is missing, in an
// immediate transaction: it takes the write lock first, waiting for it
// under busy_timeout. As a plain statement it read the schema, then asked
// for the write lock, and SQLite answers a reader that wants to write while
// another process does with SQLITE_BUSY at once, without waiting (several
// servers starting on a new file hit it under load).
func (db *DB) createMigrationsTable(ctx context.Context) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return err
	}
	return tx.Commit()
}

// migrate applies one migration unless it is recorded. The check is inside
// the transaction, which holds the write lock, so that two processes
// cannot both apply it.
func (db *DB) migrate(ctx context.Context, version int, name string) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlite: migration %s: %w", name, err)
		}
	}()
	tx, done, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer done()
	defer tx.Rollback()
	err = sqlstore.ApplyMigration(ctx, newTxn(tx), migrations, version, name, db.Now(), func(ctx context.Context, script string) error {
		_, err := tx.ExecContext(ctx, script)
		return err
	})
	if err != nil {
		return err
	}
	return tx.Commit()
}

// Ping reports whether the database answers; it backs /readyz.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes the database. Writes already committed are in the file; the
// WAL is checkpointed by SQLite when the last connection to it closes.
func (db *DB) Close() error {
	for _, stmt := range db.stmts {
		stmt.Close()
	}
	if err := db.db.Close(); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// unixTime converts t to what the database stores: unix seconds. Domain
// times are already whole seconds (pihu.Timestamp).
func unixTime(t time.Time) int64 { return t.Unix() }

// fromUnix converts unix seconds back to a time in UTC.
func fromUnix(s int64) time.Time { return time.Unix(s, 0).UTC() }

// fromNullUnix is fromUnix for an optional time; NULL is nil.
func fromNullUnix(n sql.Null[int64]) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromUnix(n.V)
	return &t
}

// inTx runs f in a write transaction and commits it if f returns nil.
// what names the work in errors. If ctx carries an actor, f runs only if
// the actor may act, checked in the same transaction (see beginWrite);
// else inTx returns the actor's error.
func (db *DB) inTx(ctx context.Context, what string, f func(tx *sql.Tx) error) error {
	tx, done, err := db.beginWrite(ctx)
	if err != nil {
		var e *pihu.Error
		if errors.As(err, &e) { // the actor may not act
			return err
		}
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer done()
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return nil
}
