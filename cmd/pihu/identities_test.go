package main_test

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestIdentitiesCommands(t *testing.T) {
	s := startServer(t, t.TempDir())
	owner := ownerKey(t, s)

	r := pihuCLI(t, s.url, owner, "identities", "create", "--external-id", "org_acme", "--metadata", `{"plan":"pro"}`, "--rate-limit", "2/m", "--json").ok(t)
	var idt struct {
		ID        string  `json:"id"`
		RateLimit *string `json:"rate_limit"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &idt); err != nil || !strings.HasPrefix(idt.ID, "idt_") || idt.RateLimit == nil || *idt.RateLimit != "2/m" {
		t.Fatalf("create --json: got %q (%v)", r.stdout, err)
	}
	if r := pihuCLI(t, s.url, owner, "identities", "create", "--external-id", "org_acme"); r.code != 1 || !strings.Contains(r.stderr, "identity_exists") {
		t.Errorf("create twice: got %d %q, want 1 and identity_exists", r.code, r.stderr)
	}
	r = pihuCLI(t, s.url, owner, "identities", "list").ok(t)
	for _, want := range []string{"EXTERNAL ID", "org_acme", "2/m", `{"plan":"pro"}`, idt.ID} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list: no %q in\n%s", want, r.stdout)
		}
	}

	// Two keys of the identity share its 2/m.
	var secrets []string
	for _, name := range []string{"a", "b"} {
		r = pihuCLI(t, s.url, owner, "keys", "create", "--name", name, "--permission", "candidate:read", "--identity", idt.ID, "--json").ok(t)
		var k struct {
			ID         string  `json:"id"`
			Key        string  `json:"key"`
			IdentityID *string `json:"identity_id"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &k); err != nil || k.IdentityID == nil || *k.IdentityID != idt.ID {
			t.Fatalf("keys create --identity: got %q (%v)", r.stdout, err)
		}
		if r := pihuCLI(t, s.url, owner, "keys", "get", k.ID).ok(t); !strings.Contains(r.stdout, "Identity") || !strings.Contains(r.stdout, idt.ID) {
			t.Errorf("keys get: no identity in\n%s", r.stdout)
		}
		secrets = append(secrets, k.Key)
	}
	codes := []int{status(t, s.url, "/v1/candidates", secrets[0]), status(t, s.url, "/v1/candidates", secrets[1]), status(t, s.url, "/v1/candidates", secrets[0])}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
		t.Errorf("three requests with two keys of an identity of 2/m: got %v, want 200 200 429", codes)
	}
	if r := pihuCLI(t, s.url, owner, "keys", "list", "--identity", idt.ID).ok(t); strings.Count(r.stdout, "candidate:read") != 2 {
		t.Errorf("keys list --identity: got\n%s", r.stdout)
	}

	r = pihuCLI(t, s.url, owner, "identities", "update", idt.ID, "--rate-limit", "none", "--external-id", "org_acme_2").ok(t)
	if !strings.Contains(r.stdout, "org_acme_2") || !strings.Contains(r.stdout, "none") {
		t.Errorf("update: got\n%s", r.stdout)
	}
	if code := status(t, s.url, "/v1/candidates", secrets[0]); code != 200 {
		t.Errorf("after the shared limit was removed: got %d, want 200", code)
	}
	if r := pihuCLI(t, s.url, owner, "identities", "show", idt.ID).ok(t); !strings.Contains(r.stdout, "org_acme_2") {
		t.Errorf("show: got\n%s", r.stdout)
	}
	if r := pihuCLI(t, s.url, owner, "identities", "update", idt.ID); r.code != 2 {
		t.Errorf("update with nothing to change: got %d, want 2", r.code)
	}

	if r := pihuCLI(t, s.url, owner, "identities", "delete", idt.ID); r.code != 1 || !strings.Contains(r.stderr, "identity_in_use") || !strings.Contains(r.stderr, "2 active keys") {
		t.Errorf("delete with keys: got %d %q", r.code, r.stderr)
	}
	r = pihuCLI(t, s.url, owner, "identities", "delete", idt.ID, "--revoke-keys").ok(t)
	if !strings.Contains(r.stdout, "2 keys of it were revoked") {
		t.Errorf("delete --revoke-keys: got %q", r.stdout)
	}
	if code := status(t, s.url, "/v1/candidates", secrets[1]); code != 401 {
		t.Errorf("a key of the deleted identity: got %d, want 401", code)
	}
	if r := pihuCLI(t, s.url, owner, "identities", "show"); r.code != 2 || !strings.Contains(r.stderr, "ID is required") {
		t.Errorf("show without an id: got %d %q", r.code, r.stderr)
	}
}

// TestIdentitiesCommands_Credits: identities create and update --credits,
// --add-credits and --refill; the identity's keys share its credits.
func TestIdentitiesCommands_Credits(t *testing.T) {
	s := startServer(t, t.TempDir())
	owner := ownerKey(t, s)
	r := pihuCLI(t, s.url, owner, "identities", "create", "--external-id", "org_acme", "--credits", "2", "--refill", "monthly:100:15", "--json").ok(t)
	var idt struct {
		ID        string `json:"id"`
		Remaining *int64 `json:"remaining"`
		Refill    *struct {
			Interval string `json:"interval"`
			Amount   int64  `json:"amount"`
			Day      int    `json:"day"`
		} `json:"refill"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &idt); err != nil || idt.Remaining == nil || *idt.Remaining != 2 ||
		idt.Refill == nil || idt.Refill.Interval != "monthly" || idt.Refill.Amount != 100 || idt.Refill.Day != 15 {
		t.Fatalf("create --credits --refill: got %q (%v)", r.stdout, err)
	}
	r = pihuCLI(t, s.url, owner, "keys", "create", "--name", "a", "--permission", "candidate:read", "--identity", idt.ID, "--json").ok(t)
	var k struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &k); err != nil {
		t.Fatal(err)
	}
	codes := []int{status(t, s.url, "/v1/candidates", k.Key), status(t, s.url, "/v1/candidates", k.Key), status(t, s.url, "/v1/candidates", k.Key)}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 403 {
		t.Errorf("three requests of an identity of 2 credits: got %v, want 200 200 403", codes)
	}
	r = pihuCLI(t, s.url, owner, "identities", "update", idt.ID, "--add-credits", "5", "--refill", "none").ok(t)
	if !strings.Contains(r.stdout, "5 left, shared by its keys") || strings.Contains(r.stdout, "Refill") {
		t.Errorf("update --add-credits --refill none: got\n%s", r.stdout)
	}
	if code := status(t, s.url, "/v1/candidates", k.Key); code != 200 {
		t.Errorf("after credits were added: got %d, want 200", code)
	}
	if r := pihuCLI(t, s.url, owner, "identities", "list").ok(t); !strings.Contains(r.stdout, "CREDITS") || !strings.Contains(r.stdout, " 4 ") {
		t.Errorf("list: no credits in\n%s", r.stdout)
	}
	r = pihuCLI(t, s.url, owner, "identities", "update", idt.ID, "--credits", "none").ok(t)
	if !strings.Contains(r.stdout, "not counted") {
		t.Errorf("update --credits none: got\n%s", r.stdout)
	}
	for _, args := range [][]string{
		{"create", "--external-id", "x", "--refill", "daily:5"},
		{"create", "--external-id", "x", "--credits", "-1"},
		{"create", "--external-id", "x", "--credits", "1", "--refill", "hourly:5"},
		{"update", idt.ID, "--credits", "1", "--add-credits", "1"},
	} {
		if r := pihuCLI(t, s.url, owner, append([]string{"identities"}, args...)...); r.code != 2 {
			t.Errorf("identities %v: got %d %q, want 2", args, r.code, r.stderr)
		}
	}
}
