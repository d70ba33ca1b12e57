package sqlitetest

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCreate_Exists: the database is never written over a file.
func TestCreate_Exists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pihu.db")
	if err := os.WriteFile(path, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := create(path); err == nil {
		t.Error("create wrote over an existing file without failing")
	}
	if b, _ := os.ReadFile(path); string(b) != "data" {
		t.Errorf("the file now holds %q", b)
	}
}
