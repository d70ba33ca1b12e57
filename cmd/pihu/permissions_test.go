package main_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestPermissionsCommands(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	owner := ownerKey(t, s)
	db := "sqlite:" + filepath.Join(dir, "pihu.db")

	// --server: straight on the database, offered to every account.
	r := pihuCLI(t, "", "", "permissions", "add", "audit:export", "--server", "--database", db, "--description", "Export the audit trail.").ok(t)
	if !strings.Contains(r.stdout, "audit:export") {
		t.Errorf("add --server: got %q", r.stdout)
	}
	if r := pihuCLI(t, "", "", "permissions", "add", "audit:export", "--server", "--database", db); r.code != 1 || !strings.Contains(r.stderr, "already") {
		t.Errorf("add --server twice: got %d %q, want 1 and a message", r.code, r.stderr)
	}
	if r := pihuCLI(t, "", "", "permissions", "add", "candidate:read", "--server", "--database", db); r.code != 2 {
		t.Errorf("add --server a built-in: got %d %q, want 2", r.code, r.stderr)
	}
	r = pihuCLI(t, "", "", "permissions", "list", "--server", "--database", db, "--json").ok(t)
	var list struct {
		Data []struct{ Name, Description, Source string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list.Data) != 1 || list.Data[0].Source != "server" {
		t.Errorf("list --server --json: got %q (%v)", r.stdout, err)
	}

	// Through the API: the account's own.
	pihuCLI(t, s.url, owner, "permissions", "add", "billing:read", "--description", "Read invoices.").ok(t)
	r = pihuCLI(t, s.url, owner, "permissions", "list").ok(t)
	for _, want := range []string{"NAME", "candidate:read", "built_in", "audit:export", "server", "billing:read", "account", "Read invoices."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list: no %q in\n%s", want, r.stdout)
		}
	}
	pihuCLI(t, s.url, owner, "keys", "create", "--name", "Billing", "--permission", "billing:read", "--permission", "audit:export").ok(t)

	// A held permission is refused without --force, with the count.
	if r := pihuCLI(t, s.url, owner, "permissions", "delete", "billing:read"); r.code != 1 || !strings.Contains(r.stderr, "permission_in_use") || !strings.Contains(r.stderr, "1 key holds") {
		t.Errorf("delete held: got %d %q", r.code, r.stderr)
	}
	r = pihuCLI(t, s.url, owner, "permissions", "delete", "billing:read", "--force", "--json").ok(t)
	var d struct {
		Deleted  bool `json:"deleted"`
		KeyCount int  `json:"key_count"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || !d.Deleted || d.KeyCount != 1 {
		t.Errorf("delete --force --json: got %q (%v)", r.stdout, err)
	}
	if r := pihuCLI(t, "", "", "permissions", "delete", "audit:export", "--server", "--database", db); r.code != 1 || !strings.Contains(r.stderr, "--force") {
		t.Errorf("delete --server held: got %d %q", r.code, r.stderr)
	}
	r = pihuCLI(t, "", "", "permissions", "delete", "audit:export", "--server", "--force", "--database", db).ok(t)
	if !strings.Contains(r.stdout, "1 key still holds it") {
		t.Errorf("delete --server --force: got %q", r.stdout)
	}
	if r := pihuCLI(t, "", "", "permissions", "delete", "--server", "--database", db); r.code != 2 {
		t.Errorf("delete without a name: got %d, want 2", r.code)
	}
	if r := pihuCLI(t, "", "", "permissions", "frobnicate"); r.code != 2 {
		t.Errorf("unknown subcommand: got %d, want 2", r.code)
	}
}
