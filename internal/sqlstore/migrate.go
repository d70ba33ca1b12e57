package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
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
