// Package sqlitetest gives tests new SQLite databases quickly: a file
// holding what sqlite.Open makes of a new file, copied from one migrated
// once per test process. Migrating a new file takes about half a second
// under the race detector, a copy of the result a few milliseconds, and
// the tests open hundreds. The tests of migrating a new file itself
// (sqlite's TestMigrate, TestOpen_…) call sqlite.Open on an empty path.
package sqlitetest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pihu-ai/pihu/sqlite"
)

// Path writes, as pihu.db in a new temporary folder of tb's, the
// database that sqlite.Open makes of a new file (every migration
// applied, no rows), and returns its path. sqlite.Open then opens it as
// it would any migrated database.
func Path(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "pihu.db")
	if err := create(path); err != nil {
		tb.Fatalf("sqlitetest: %v", err)
	}
	return path
}

// create writes the migrated database at path, which must not exist.
func create(path string) error {
	t, err := migrated()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, t.mode)
	if err != nil {
		return err
	}
	_, err = f.Write(t.data)
	return errors.Join(err, f.Close())
}

// template is a new file that sqlite.Open migrated and closed: its bytes
// and its mode.
type template struct {
	data []byte
	mode os.FileMode
}

// migrated makes the template once per process.
var migrated = sync.OnceValues(func() (template, error) {
	dir, err := os.MkdirTemp("", "pihu-sqlitetest-")
	if err != nil {
		return template{}, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "pihu.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		return template{}, err
	}
	if err := db.Close(); err != nil {
		return template{}, err
	}
	// Closing the last connection checkpoints the write-ahead log into
	// the file and removes it: the file alone is the database.
	if _, err := os.Stat(path + "-wal"); err == nil {
		return template{}, errors.New("the migrated database kept a write-ahead log after Close")
	}
	fi, err := os.Stat(path)
	if err != nil {
		return template{}, err
	}
	data, err := os.ReadFile(path)
	return template{data: data, mode: fi.Mode().Perm()}, err
})
