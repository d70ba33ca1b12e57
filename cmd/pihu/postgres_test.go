package main_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/postgres/postgrestest"
)

// launchPostgres runs `pihu serve` on a free port on the PostgreSQL
// database at databaseURL, in the working directory dir (where its first
// start writes pihu.owner-key), without waiting for it.
func launchPostgres(tb testing.TB, dir, databaseURL string, args ...string) *server {
	tb.Helper()
	s := launchServer(tb, dir, append([]string{"--database", databaseURL}, args...)...)
	return s
}

// pgOwnerKey is the key the first start of s wrote to the file it logged:
// on PostgreSQL, pihu.owner-key in its working directory.
func pgOwnerKey(tb testing.TB, s *server) string {
	tb.Helper()
	return ownerKeyIn(tb, s, "pihu.owner-key")
}

// pihuIn runs the binary in dir with args, PIHU_DATABASE_URL unset.
func pihuIn(tb testing.TB, dir string, args ...string) cli {
	tb.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PIHU_DATABASE_URL=")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cli{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		tb.Fatal(err)
	}
	return r
}

// TestPostgres_Serve runs the binary on PostgreSQL, on a fresh schema
// named by search_path in the URL: migrate (twice), the first start, the
// vendor page's two requests (a key created, then listed with its use),
// the dashboard's setup link, and the accounts commands beside the running
// server.
func TestPostgres_Serve(t *testing.T) {
	u := postgrestest.NewSchema(t)
	dir := t.TempDir()
	for range 2 {
		if r := pihuIn(t, dir, "migrate", "--database", u); r.code != 0 || !strings.Contains(r.stdout, "up to date") {
			t.Fatalf("migrate: exit %d, %s%s", r.code, r.stdout, r.stderr)
		}
	}

	s := launchPostgres(t, dir, u)
	s.wait(t)
	owner := pgOwnerKey(t, s)

	status, created := do(t, "POST", s.url+"/v1/auth/api-keys", owner, `{
"name": "My API Key",
"expiration": "30d",
"permissions": ["interview:write", "candidate:read"]
}`)
	if status != 200 {
		t.Fatalf("create: got %d %v", status, created)
	}
	secret, _ := created["key"].(string)
	if !keyPattern.MatchString(secret) || !strings.HasPrefix(secret, "ph_live_") || created["name"] != "My API Key" {
		t.Errorf("create: got %v", created)
	}
	createdAt := parseTime(t, created["created"])
	if got, want := parseTime(t, created["expires"]), createdAt.Add(30*24*time.Hour); !got.Equal(want) {
		t.Errorf("expires: got %v, want %v (created + 30 days)", got, want)
	}
	if status, _ := do(t, "GET", s.url+"/v1/auth/whoami", secret, ""); status != 200 {
		t.Fatalf("whoami with the new key: got %d", status)
	}
	var item map[string]any
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		status, list := do(t, "GET", s.url+"/v1/auth/api-keys", owner, "")
		if status != 200 || list["has_more"] != false {
			t.Fatalf("list: got %d %v", status, list)
		}
		data, _ := list["data"].([]any)
		if len(data) != 2 {
			t.Fatalf("list: got %d keys, want the new one and the owner", len(data))
		}
		item, _ = data[0].(map[string]any)
		if item["last_used"] != nil || time.Now().After(deadline) {
			break
		}
	}
	for _, field := range []string{"id", "name", "created", "expires"} {
		if item[field] != created[field] {
			t.Errorf("list %s: got %v, want %v", field, item[field], created[field])
		}
	}
	if item["last_used"] == nil {
		t.Errorf("last_used still null 5 s after a use")
	}

	// The dashboard's setup link (a one-time link, kept in PostgreSQL)
	// opens its page.
	link, err := os.ReadFile(filepath.Join(dir, "pihu.setup-link"))
	if err != nil {
		t.Fatalf("setup link: %v", err)
	}
	res, err := http.Get(strings.TrimSpace(string(link)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("GET the setup link: got %d, want 200", res.StatusCode)
	}

	// The accounts commands work on the same database while it runs.
	r := pihuIn(t, dir, "accounts", "create", "--name", "Acme", "--json", "--database", u)
	if r.code != 0 {
		t.Fatalf("accounts create: exit %d: %s", r.code, r.stderr)
	}
	var acme struct {
		Account struct{ ID string }
		APIKey  struct{ Key string } `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &acme); err != nil {
		t.Fatalf("accounts create --json: %v in %q", err, r.stdout)
	}
	if status, who := do(t, "GET", s.url+"/v1/auth/whoami", acme.APIKey.Key, ""); status != 200 {
		t.Errorf("whoami with the new account's key: got %d %v", status, who)
	}
	r = pihuIn(t, dir, "accounts", "list", "--json", "--database", u)
	var list []accountItem
	if err := json.Unmarshal([]byte(r.stdout), &list); r.code != 0 || err != nil {
		t.Fatalf("accounts list: exit %d, %v: %s%s", r.code, err, r.stdout, r.stderr)
	}
	if len(list) != 2 || list[0].Name != "Default" || list[0].Keys != 2 || list[1].ID != acme.Account.ID || list[1].Keys != 1 {
		t.Errorf("accounts list: got %+v, want Default with 2 keys, then Acme with 1", list)
	}
	r = pihuIn(t, dir, "accounts", "recover", acme.Account.ID, "--json", "--database", u)
	if r.code != 0 {
		t.Errorf("accounts recover: exit %d: %s", r.code, r.stderr)
	}
	s.stop(t)

	// A later start prints no key and writes none.
	for _, f := range []string{"pihu.owner-key", "pihu.setup-link"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	s2 := launchPostgres(t, dir, u)
	s2.wait(t)
	if keyPattern.MatchString(s2.stderr.String()) || strings.Contains(s2.stderr.String(), "owner_key_file") {
		t.Errorf("a second start printed a key or wrote a key file:\n%s", s2.stderr.String())
	}
	logs := s.stderr.String() + s2.stderr.String()
	for _, k := range []string{owner, secret, acme.APIKey.Key} {
		if strings.Contains(logs, k[8:]) {
			t.Errorf("a server's log holds a key:\n%s", logs)
		}
	}
}

// TestPostgres_ConcurrentFirstStart starts three servers at once, each in
// a working directory of its own, on one empty PostgreSQL schema: exactly
// one creates the account "Default" and writes its owner key.
func TestPostgres_ConcurrentFirstStart(t *testing.T) {
	u := postgrestest.NewSchema(t)
	servers := make([]*server, 3)
	for i := range servers {
		servers[i] = launchPostgres(t, t.TempDir(), u)
	}
	var wrote int
	for _, s := range servers {
		s.wait(t)
		if strings.Contains(s.stderr.String(), "owner_key_file=") {
			wrote++
			pgOwnerKey(t, s)
		}
	}
	if wrote != 1 {
		t.Errorf("%d servers wrote an owner key file, want 1", wrote)
	}
	r := pihuIn(t, t.TempDir(), "accounts", "list", "--json", "--database", u)
	var list []accountItem
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("accounts list: %v in %q (%s)", err, r.stdout, r.stderr)
	}
	if len(list) != 1 || list[0].Name != "Default" || list[0].Keys != 1 {
		t.Errorf("accounts: got %+v, want one Default with one key", list)
	}
}

// TestPostgres_Unreachable checks that a database that does not answer
// fails a command fast, with exit 1 and a message without the password,
// rather than hanging.
func TestPostgres_Unreachable(t *testing.T) {
	start := time.Now()
	// Port 1 on the loopback: nothing listens, the connection is refused.
	r := pihuIn(t, t.TempDir(), "migrate", "--database", "postgres://pihu:s3cret-pw@127.0.0.1:1/pihu?sslmode=disable")
	if r.code != 1 {
		t.Errorf("exit code: got %d, want 1 (%s)", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "s3cret-pw") {
		t.Errorf("the message shows the password: %s", r.stderr)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %v, want a quick failure", took)
	}
}

// TestPostgres_Unavailable makes the database unreachable under a running
// server (through a proxy the test controls): a key in the server's cache
// keeps working, anything that needs the database gets a 503 with the
// error body and Retry-After, at once rather than after a hang, and all
// works again once the database is back.
func TestPostgres_Unavailable(t *testing.T) {
	proxy, u := postgrestest.NewProxy(t, postgrestest.NewSchema(t))
	s := launchPostgres(t, t.TempDir(), postgrestest.WithParam(t, u, "connect_timeout", "1"))
	s.wait(t)
	owner := pgOwnerKey(t, s)
	newKey := func(body string) string {
		t.Helper()
		status, created := do(t, "POST", s.url+"/v1/auth/api-keys", owner, body)
		if status != 200 {
			t.Fatalf("create: got %d %v", status, created)
		}
		key, _ := created["key"].(string)
		return key
	}
	verifier := newKey(`{"name":"Gateway","permissions":["api_key:verify"]}`)
	service := newKey(`{"name":"Service","permissions":["candidate:read"]}`)
	uncached := newKey(`{"name":"Uncached","permissions":["candidate:read"]}`)
	verify := func() (int, map[string]any) {
		t.Helper()
		return do(t, "POST", s.url+"/v1/auth/verify", verifier, `{"key":"`+service+`"}`)
	}
	if status, body := verify(); status != 200 || body["valid"] != true {
		t.Fatalf("verify: got %d %v", status, body)
	}

	proxy.Stop()
	// Both keys are in the server's cache: verifying needs no database.
	if status, body := verify(); status != 200 || body["valid"] != true {
		t.Errorf("verify with cached keys while the database is down: got %d %v, want 200 and valid", status, body)
	}
	for _, tt := range []struct{ name, path, key string }{
		{"UncachedKey", "/v1/auth/whoami", uncached},
		{"List", "/v1/auth/api-keys", owner},
	} {
		start := time.Now()
		res, body := doFull(t, "GET", s.url+tt.path, tt.key)
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: took %v, want a quick answer", tt.name, took)
		}
		e, _ := body["error"].(map[string]any)
		if res.StatusCode != 503 || e["type"] != "api_error" || e["code"] != "unavailable" || e["message"] == "" ||
			e["request_id"] != res.Header.Get("Request-Id") || res.Header.Get("Retry-After") == "" {
			t.Errorf("%s: got %d %v (Retry-After %q), want a 503 unavailable error body", tt.name, res.StatusCode, body, res.Header.Get("Retry-After"))
		}
	}
	// Keys already verified are served (stale-if-error): ready, degraded.
	if res, body := doFull(t, "GET", s.url+"/readyz", ""); res.StatusCode != 200 || body["status"] != "degraded" || body["database"] != "unreachable" {
		t.Errorf("readyz: got %d %v, want 200 degraded with the database unreachable", res.StatusCode, body)
	}

	proxy.Start(t)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		status, body := do(t, "GET", s.url+"/v1/auth/whoami", uncached, "")
		if status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("whoami after the database came back: got %d %v", status, body)
		}
	}
	if strings.Contains(s.stderr.String(), uncached[8:]) || strings.Contains(s.stderr.String(), owner[8:]) {
		t.Errorf("the log holds a key:\n%s", s.stderr.String())
	}
}

// doFull sends a request and returns the response, its body closed, and
// the body decoded.
func doFull(tb testing.TB, method, url, key string) (*http.Response, map[string]any) {
	tb.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		tb.Fatal(err)
	}
	return res, out
}
