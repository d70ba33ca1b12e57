package sqlitetest_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/sqlite"
)

// TestPath: a database Path wrote is the one sqlite.Open makes of a new
// file, schema, migrations record and settings alike, and opens.
func TestPath(t *testing.T) {
	fresh, copied := filepath.Join(t.TempDir(), "fresh.db"), sqlitetest.Path(t)
	db, err := sqlite.Open(t.Context(), fresh)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = sqlite.Open(t.Context(), copied)
	if err != nil {
		t.Fatalf("Open of the copy: %v", err)
	}
	db.Close()
	want, got := describe(t, fresh), describe(t, copied)
	if len(want) < 10 {
		t.Fatalf("a new database describes as %q: too little to compare", want)
	}
	if !slices.Equal(got, want) {
		t.Errorf("the copy differs from a new database:\ngot  %q\nwant %q", got, want)
	}
	fi, err := os.Stat(copied)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := os.Stat(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != fw.Mode() {
		t.Errorf("mode %v, want %v as for a new database", fi.Mode(), fw.Mode())
	}
}

// describe lists a database's schema, its migrations record and the
// settings kept in the file.
func describe(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []string
	for _, q := range []string{
		`SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master ORDER BY type, name`,
		`SELECT 'migration ' || version FROM schema_migrations ORDER BY version`,
		`SELECT 'journal_mode ' || journal_mode FROM pragma_journal_mode`,
		`SELECT 'user_version ' || user_version FROM pragma_user_version`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}
