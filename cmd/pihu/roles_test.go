package main_test

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRolesCommands(t *testing.T) {
	s := startServer(t, t.TempDir())
	owner := ownerKey(t, s)

	r := pihuCLI(t, s.url, owner, "roles", "create", "--name", "support", "--permission", "candidate:read", "--description", "First line.", "--json").ok(t)
	var role struct {
		ID          string   `json:"id"`
		Permissions []string `json:"permissions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &role); err != nil || !strings.HasPrefix(role.ID, "role_") {
		t.Fatalf("create --json: got %q (%v)", r.stdout, err)
	}
	if r := pihuCLI(t, s.url, owner, "roles", "create", "--name", "support", "--permission", "candidate:read"); r.code != 1 || !strings.Contains(r.stderr, "role_exists") {
		t.Errorf("create twice: got %d %q, want 1 and role_exists", r.code, r.stderr)
	}
	r = pihuCLI(t, s.url, owner, "roles", "list").ok(t)
	for _, want := range []string{"NAME", "support", "candidate:read", "First line.", role.ID} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list: no %q in\n%s", want, r.stdout)
		}
	}

	// A key given the role, and nothing of its own.
	r = pihuCLI(t, s.url, owner, "keys", "create", "--name", "Support", "--role", role.ID, "--json").ok(t)
	var k struct {
		ID    string   `json:"id"`
		Key   string   `json:"key"`
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &k); err != nil || len(k.Roles) != 1 || k.Roles[0] != role.ID {
		t.Fatalf("keys create --role: got %q (%v)", r.stdout, err)
	}
	if r := pihuCLI(t, s.url, owner, "keys", "get", k.ID).ok(t); !strings.Contains(r.stdout, "Roles") || !strings.Contains(r.stdout, role.ID) {
		t.Errorf("keys get: no roles in\n%s", r.stdout)
	}
	if code := status(t, s.url, "/v1/candidates", k.Key); code != 200 {
		t.Errorf("candidates through the role: got %d, want 200", code)
	}

	r = pihuCLI(t, s.url, owner, "roles", "update", role.ID, "--permission", "interview:read").ok(t)
	if !strings.Contains(r.stdout, "interview:read") || strings.Contains(r.stdout, "candidate:read") {
		t.Errorf("update: got\n%s", r.stdout)
	}
	if code := status(t, s.url, "/v1/candidates", k.Key); code != 403 {
		t.Errorf("candidates after the role lost the permission: got %d, want 403", code)
	}
	if r := pihuCLI(t, s.url, owner, "roles", "get", role.ID).ok(t); !strings.Contains(r.stdout, "interview:read") {
		t.Errorf("get: got\n%s", r.stdout)
	}
	if r := pihuCLI(t, s.url, owner, "roles", "update", role.ID); r.code != 2 {
		t.Errorf("update with nothing to change: got %d, want 2", r.code)
	}

	if r := pihuCLI(t, s.url, owner, "roles", "delete", role.ID); r.code != 1 || !strings.Contains(r.stderr, "role_in_use") || !strings.Contains(r.stderr, "1 key holds") {
		t.Errorf("delete held: got %d %q", r.code, r.stderr)
	}
	r = pihuCLI(t, s.url, owner, "roles", "delete", role.ID, "--force").ok(t)
	if !strings.Contains(r.stdout, "1 key held it, and lost it") {
		t.Errorf("delete --force: got %q", r.stdout)
	}
	if r := pihuCLI(t, s.url, owner, "roles", "get"); r.code != 2 || !strings.Contains(r.stderr, "ID is required") {
		t.Errorf("get without an id: got %d %q", r.code, r.stderr)
	}
	if r := pihuCLI(t, s.url, owner, "roles", "frobnicate"); r.code != 2 {
		t.Errorf("unknown subcommand: got %d, want 2", r.code)
	}
}
