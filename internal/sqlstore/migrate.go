package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// Migrate applies the migrations of fsys's directory "migrations", in
// file-name order, with apply, which applies one unless it is recorded
// (each store in its own transaction, under its own lock). A migration's
// name starts with its version ("0001_init.sql"); versions must rise.
func Migrate(ctx context.Context, fsys fs.FS, apply func(ctx context.Context, version int, name string) error) error {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	last := 0
	for _, e := range entries {
		version, err := migrationVersion(e.Name())
		if err != nil {
			return err
		}
		if version <= last {
			return fmt.Errorf("migration %s: version %d does not follow %d", e.Name(), version, last)
		}
		last = version
		if err := apply(ctx, version, path.Join("migrations", e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// ApplyMigration applies migration name of fsys, version version, in tx
// unless schema_migrations records it, and records it, applied at now.
// The store holds its lock for migrations (the write lock, an advisory
// lock) around tx, so that of two processes migrating at once one applies
// it and the other then finds it recorded. exec runs the script as it is
// written, on tx's connection, without the rewriting of placeholders
// tx's own Exec may do.
func ApplyMigration(ctx context.Context, tx Tx, fsys fs.FS, version int, name string, now time.Time, exec func(ctx context.Context, script string) error) error {
	var applied int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&applied); err != nil {
		return err
	}
	if applied > 0 {
		return nil
	}
	script, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	if err := exec(ctx, string(script)); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, tx.Dialect().Time(now))
	return err
}

// migrationVersion is the number a migration file's name starts with, as
// in "0001_init.sql".
func migrationVersion(name string) (int, error) {
	digits, _, _ := strings.Cut(name, "_")
	v, err := strconv.Atoi(digits)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("migration %s: the name must start with a version number such as 0001_", name)
	}
	return v, nil
}
