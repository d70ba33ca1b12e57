// Package sqlitetest gives tests new SQLite databases quickly: a file
// holding what sqlite.Open makes of a new file, copied from one migrated
// once per test process. Migrating a new file takes about half a second
// under the race detector, a copy of the result a few milliseconds, and
// the tests open hundreds. The tests of migrating a new file itself
// (sqlite's TestMigrate, TestOpen_…) call sqlite.Open on an empty path.
package sqlitetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pihu-ai/pihu/sqlite"
)

// Path creates a database as Create does, named pihu.db in a new
// temporary folder of tb's, and returns its path.
func Path(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "pihu.db")
	Create(tb, path)
	return path
}

// Create writes at path, which must not exist, the database that
// sqlite.Open makes of a new file: every migration applied, no rows.
// sqlite.Open then opens it as it would any migrated database.
func Create(tb testing.TB, path string) {
	tb.Helper()
	data, mode, err := migrated()
	if err != nil {
		tb.Fatalf("sqlitetest: %v", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err == nil {
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		tb.Fatalf("sqlitetest: %v", err)
	}
}

// template is the migrated database, made once per process.
var template struct {
	once sync.Once
	data []byte
	mode os.FileMode
	err  error
}

// migrated returns the bytes and mode of a new file that sqlite.Open
// migrated and closed.
func migrated() ([]byte, os.FileMode, error) {
	template.once.Do(func() {
		template.data, template.mode, template.err = migrate()
	})
	return template.data, template.mode, template.err
}

func migrate() ([]byte, os.FileMode, error) {
	dir, err := os.MkdirTemp("", "pihu-sqlitetest-")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "pihu.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		return nil, 0, err
	}
	if err := db.Close(); err != nil {
		return nil, 0, err
	}
	// Closing the last connection checkpoints the write-ahead log into
	// the file and removes it: the file alone is the database.
	if _, err := os.Stat(path + "-wal"); err == nil {
		return nil, 0, fmt.Errorf("the migrated database kept a write-ahead log after Close")
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	data, err := os.ReadFile(path)
	return data, fi.Mode().Perm(), err
}
