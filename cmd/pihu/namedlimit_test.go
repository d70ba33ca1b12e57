package main_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestNamedLimitsCommands: keys create and update, identities create and
// update take --ratelimit NAME=LIMIT (repeatable; none removes them all)
// and show a key's and an identity's named limits.
func TestNamedLimitsCommands(t *testing.T) {
	s := startServer(t, t.TempDir())
	owner := ownerKey(t, s)

	r := pihuCLI(t, s.url, owner, "keys", "create", "--name", "llm", "--permission", "candidate:read",
		"--ratelimit", "tokens=50000/d", "--ratelimit", "images=10/m", "--json").ok(t)
	var k struct {
		ID         string            `json:"id"`
		RateLimits map[string]string `json:"ratelimits"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &k); err != nil || k.RateLimits["tokens"] != "50000/d" || k.RateLimits["images"] != "10/m" {
		t.Fatalf("keys create --ratelimit: got %q (%v)", r.stdout, err)
	}
	if r := pihuCLI(t, s.url, owner, "keys", "get", k.ID).ok(t); !strings.Contains(r.stdout, "images=10/m, tokens=50000/d") {
		t.Errorf("keys get: no named limits in\n%s", r.stdout)
	}
	r = pihuCLI(t, s.url, owner, "keys", "update", k.ID, "--ratelimit", "tokens=100/h").ok(t)
	if !strings.Contains(r.stdout, "tokens=100/h") || strings.Contains(r.stdout, "images") {
		t.Errorf("keys update --ratelimit: got\n%s", r.stdout)
	}
	if r := pihuCLI(t, s.url, owner, "keys", "update", k.ID, "--ratelimit", "none").ok(t); strings.Contains(r.stdout, "Named limits") {
		t.Errorf("keys update --ratelimit none: got\n%s", r.stdout)
	}
	if r := pihuCLI(t, s.url, owner, "keys", "update", k.ID, "--ratelimit", "Tokens=1/m"); r.code != 1 || !strings.Contains(r.stderr, "parameter_invalid") {
		t.Errorf("keys update with a bad name: got %d %q, want 1 and parameter_invalid", r.code, r.stderr)
	}
	if r := pihuCLI(t, s.url, owner, "keys", "update", k.ID, "--ratelimit", "tokens"); r.code != 2 {
		t.Errorf("keys update --ratelimit tokens: got %d, want 2 (usage)", r.code)
	}
	if r := pihuCLI(t, s.url, owner, "keys", "update", k.ID); r.code != 2 {
		t.Errorf("keys update with nothing to change: got %d, want 2", r.code)
	}

	r = pihuCLI(t, s.url, owner, "identities", "create", "--external-id", "org_1", "--ratelimit", "tokens=5/s").ok(t)
	if !strings.Contains(r.stdout, "tokens=5/s") {
		t.Errorf("identities create --ratelimit: got\n%s", r.stdout)
	}
	id := strings.Fields(r.stdout[strings.Index(r.stdout, "idt_"):])[0]
	id = strings.TrimRight(id, "):")
	if r := pihuCLI(t, s.url, owner, "identities", "update", id, "--ratelimit", "none").ok(t); strings.Contains(r.stdout, "Named limits") {
		t.Errorf("identities update --ratelimit none: got\n%s", r.stdout)
	}
}
