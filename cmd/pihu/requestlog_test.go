package main_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServe_RequestLogFlags: the request log's flags take whole numbers of
// 1 or more, and a duration.
func TestServe_RequestLogFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"ZeroMax", []string{"--request-log-max", "0"}, "--request-log-max 0"},
		{"ZeroRate", []string{"--request-log-rate", "0"}, "--request-log-rate 0"},
		{"BadRetention", []string{"--request-log-retention", "a week"}, "request-log-retention"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pihuCLI(t, "", "", append([]string{"serve", "--addr", "127.0.0.1:0", "--database", "sqlite:" + filepath.Join(dir, "pihu.db")}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("got exit %d, stderr %q; want 2 and %q", r.code, r.stderr, tc.want)
			}
		})
	}
}

// requestLog reads the account's request log once the server flushed
// (every second).
func requestLog(t *testing.T, s *server, key string) []any {
	t.Helper()
	time.Sleep(1500 * time.Millisecond)
	code, l := do(t, "GET", s.url+"/v1/auth/requests", key, "")
	if code != 200 {
		t.Fatalf("GET /v1/auth/requests: %d %v", code, l)
	}
	return l["data"].([]any)
}

// TestServe_RequestLogBudget: serve logs each account's requests within
// --request-log-burst, and writes how many it left out.
func TestServe_RequestLogBudget(t *testing.T) {
	s := startServer(t, t.TempDir(), "--request-log-burst", "3", "--request-log-rate", "1")
	owner := ownerKey(t, s)
	for range 6 {
		if code, _ := do(t, "GET", s.url+"/v1/auth/whoami", owner, ""); code != 200 {
			t.Fatalf("whoami: %d", code)
		}
	}
	var logged, omitted float64
	for _, e := range requestLog(t, s, owner) {
		e := e.(map[string]any)
		if n, ok := e["omitted"].(float64); ok {
			omitted += n
		} else if e["path"] == "/v1/auth/whoami" {
			logged++
		}
	}
	// The budget refills by one a second: a slow machine logs a few more.
	if logged < 3 || logged+omitted != 6 {
		t.Errorf("%v requests logged, %v omitted: want at least 3 logged and the rest omitted, 6 in all", logged, omitted)
	}
}

// TestServe_RequestLogOff: --request-log-retention 0 keeps no log.
func TestServe_RequestLogOff(t *testing.T) {
	s := startServer(t, t.TempDir(), "--request-log-retention", "0")
	owner := ownerKey(t, s)
	do(t, "GET", s.url+"/v1/auth/whoami", owner, "")
	if got := requestLog(t, s, owner); len(got) != 0 {
		t.Errorf("got %v, want no entry", got)
	}
}

// TestKeysCommands_Requests: `pihu keys requests ID` prints a key's log
// as a table, `--refused` keeps the refusals, `--json` is the API's
// answer, and with no ID the account's log.
func TestKeysCommands_Requests(t *testing.T) {
	s := startServer(t, t.TempDir())
	owner := ownerKey(t, s)
	r := pihuCLI(t, s.url, owner, "keys", "create", "--json", "--name", "reader", "--permission", "candidate:read").ok(t)
	var k struct{ ID, Key string }
	if err := json.Unmarshal([]byte(r.stdout), &k); err != nil {
		t.Fatal(err)
	}
	do(t, "GET", s.url+"/v1/candidates", k.Key, "")
	do(t, "POST", s.url+"/v1/candidates", k.Key, `{"name":"A","email":"a@example.com"}`)
	time.Sleep(1500 * time.Millisecond) // the server's flush

	out := pihuCLI(t, s.url, owner, "keys", "requests", k.ID).ok(t).stdout
	for _, want := range []string{"TIME", "METHOD", "GET", "POST", "/v1/candidates", "200", "403", "insufficient_permissions"} {
		if !strings.Contains(out, want) {
			t.Errorf("keys requests: no %q in\n%s", want, out)
		}
	}
	out = pihuCLI(t, s.url, owner, "keys", "requests", k.ID, "--refused").ok(t).stdout
	if strings.Contains(out, " 200 ") || !strings.Contains(out, "403") {
		t.Errorf("keys requests --refused:\n%s", out)
	}
	var l struct {
		Data []struct {
			KeyID  string `json:"key_id"`
			Status int
		}
	}
	if err := json.Unmarshal([]byte(pihuCLI(t, s.url, owner, "keys", "requests", "--json", "--status", "4xx").ok(t).stdout), &l); err != nil || len(l.Data) != 1 || l.Data[0].KeyID != k.ID {
		t.Errorf("keys requests --json --status 4xx: %+v (%v)", l, err)
	}
	if r := pihuCLI(t, s.url, owner, "keys", "requests", "--since", "yesterday"); r.code != 2 {
		t.Errorf("--since yesterday: exit %d, want 2", r.code)
	}
}
