package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the pihu binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pihu-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "pihu")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building pihu: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `pihu serve` process.
type server struct {
	cmd    *exec.Cmd
	dir    string // the folder of its database, pihu.db
	url    string
	stderr *syncBuffer
	done   chan error
	found  chan string // the address, once it listens
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServer runs `pihu serve` on a free port with the database in dir,
// and waits until it listens.
func startServer(tb testing.TB, dir string, args ...string) *server {
	tb.Helper()
	s := launchServer(tb, dir, args...)
	s.wait(tb)
	return s
}

// launchServer runs `pihu serve` on a free port with the database in dir,
// and dir its working directory, its stderr a pipe (not a terminal),
// without waiting for it.
func launchServer(tb testing.TB, dir string, args ...string) *server {
	tb.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0", "--database", "sqlite:" + filepath.Join(dir, "pihu.db")}, args...)...)
	cmd.Env = append(os.Environ(), "PIHU_ADDR=", "PIHU_DATABASE_URL=", "PIHU_REDIS_URL=")
	cmd.Dir = dir
	s := &server{cmd: cmd, dir: dir, stderr: &syncBuffer{}, done: make(chan error, 1), found: make(chan string, 1)}
	pr, pw := io.Pipe()
	cmd.Stderr = io.MultiWriter(s.stderr, pw)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { s.done <- cmd.Wait(); pw.Close() }()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				s.found <- m[1]
				io.Copy(io.Discard, pr)
				return
			}
		}
	}()
	tb.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	return s
}

// wait waits until s listens.
func (s *server) wait(tb testing.TB) {
	tb.Helper()
	select {
	case addr := <-s.found:
		s.url = "http://" + addr
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		tb.Fatalf("pihu serve did not start:\n%s", s.stderr.String())
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(tb testing.TB) {
	tb.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		if err != nil {
			tb.Fatalf("pihu serve exited with %v after SIGTERM:\n%s", err, s.stderr.String())
		}
	case <-time.After(20 * time.Second):
		tb.Fatal("pihu serve did not stop after SIGTERM")
	}
}

func do(tb testing.TB, method, url, key, body string) (int, map[string]any) {
	tb.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
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
	return res.StatusCode, out
}

var keyPattern = regexp.MustCompile(`ph_(?:live|test)_[0-9A-Za-z]{40,}`)

// TestSeed runs the vendor page's two requests against the real binary and
// checks every field of its responses.
func TestSeed(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)

	// The first start, its stderr not a terminal, writes the owner key to
	// a file only its owner can read and logs the file's path with the
	// dashboard's address, never the key.
	owner := ownerKey(t, s)
	var logged bool
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		logged = logged || strings.Contains(line, "owner_key_file=") && strings.Contains(line, "dashboard="+s.url+"/")
	}
	if !logged {
		t.Errorf("no log line with owner_key_file and the dashboard's address:\n%s", s.stderr.String())
	}

	status, created := do(t, "POST", s.url+"/v1/auth/api-keys", owner, `{
"name": "My API Key",
"expiration": "30d",
"permissions": ["interview:write", "candidate:read"]
}`)
	if status != 200 {
		t.Fatalf("create: got %d %v", status, created)
	}
	secret, _ := created["key"].(string)
	if !keyPattern.MatchString(secret) || !strings.HasPrefix(secret, "ph_live_") {
		t.Errorf("key: got %q", secret)
	}
	if id, _ := created["id"].(string); !strings.HasPrefix(id, "key_") {
		t.Errorf("id: got %q", id)
	}
	if created["name"] != "My API Key" {
		t.Errorf("name: got %v", created["name"])
	}
	createdAt := parseTime(t, created["created"])
	if since := time.Since(createdAt); since < -time.Second || since > time.Minute {
		t.Errorf("created: got %v, want about now", createdAt)
	}
	if got, want := parseTime(t, created["expires"]), createdAt.Add(30*24*time.Hour); !got.Equal(want) {
		t.Errorf("expires: got %v, want %v (created + 30 days)", got, want)
	}

	// The new key works, so the list shows its use within 5 s.
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
		t.Fatalf("last_used still null 5 s after a use")
	}
	parseTime(t, item["last_used"])
	if _, ok := item["key"]; ok {
		t.Error("the list shows the secret")
	}

	s.stop(t)

	// No file of the database and no log line holds a key it issued.
	keyFile := filepath.Join(dir, "pihu.db.owner-key")
	files, _ := filepath.Glob(filepath.Join(dir, "pihu.db*"))
	files = slices.DeleteFunc(files, func(f string) bool { return f == keyFile })
	if len(files) == 0 {
		t.Fatal("no database file")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{owner, secret} {
			if bytes.Contains(b, []byte(k)) || bytes.Contains(b, []byte(k[8:])) {
				t.Errorf("%s holds a plaintext key", filepath.Base(f))
			}
		}
	}
	logs := s.stderr.String()
	for _, k := range []string{owner, secret} {
		if strings.Contains(logs, k[8:]) {
			t.Errorf("the server's log holds a key:\n%s", logs)
		}
	}

	// A later start, after the operator deleted the file as told, prints
	// no key and writes none.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, dir)
	if keyPattern.MatchString(s2.stderr.String()) || strings.Contains(s2.stderr.String(), "owner_key_file") {
		t.Errorf("a second start printed a key or wrote a key file:\n%s", s2.stderr.String())
	}
	if left, _ := filepath.Glob(keyFile + "*"); len(left) != 0 {
		t.Errorf("a second start left %v", left)
	}
}

func parseTime(tb testing.TB, v any) time.Time {
	tb.Helper()
	s, _ := v.(string)
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil || ts.Format(time.RFC3339) != s || !strings.HasSuffix(s, "Z") {
		tb.Fatalf("%v is not an RFC 3339 UTC time to the second", v)
	}
	return ts
}

// TestAccountsCreate creates an account with the CLI while a server runs
// on the same database file, and uses its key against that server.
func TestAccountsCreate(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	out, err := exec.Command(binary, "accounts", "create", "--name", "Acme", "--json", "--database", "sqlite:"+filepath.Join(dir, "pihu.db")).Output()
	if err != nil {
		t.Fatalf("accounts create: %v", err)
	}
	var got struct {
		Account struct{ ID, Name string }
		APIKey  map[string]any `json:"api_key"`
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decoding %s: %v", out, err)
	}
	if !strings.HasPrefix(got.Account.ID, "acct_") || got.Account.Name != "Acme" {
		t.Errorf("account: got %+v", got.Account)
	}
	secret, _ := got.APIKey["key"].(string)
	if perms, _ := got.APIKey["permissions"].([]any); len(perms) != 1 || perms[0] != "*" || got.APIKey["expires"] != nil {
		t.Errorf("api_key: got %v, want permissions [\"*\"] and no expiry", got.APIKey)
	}
	status, who := do(t, "GET", s.url+"/v1/auth/whoami", secret, "")
	if status != 200 {
		t.Fatalf("whoami: got %d %v", status, who)
	}
	if acct, _ := who["account"].(map[string]any); acct["id"] != got.Account.ID {
		t.Errorf("whoami account: got %v, want %s", acct, got.Account.ID)
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"version"}, 0},
		{[]string{}, 2},
		{[]string{"nope"}, 2},
		{[]string{"serve", "--nope"}, 2},
		{[]string{"serve", "--rate-limit", "fast"}, 2},
		{[]string{"serve", "--rate-limit", "0/m"}, 2},
		{[]string{"serve", "--failed-auth-limit", "30/d"}, 2},
		{[]string{"serve", "--trusted-proxy-header", "X Forwarded For", "--trusted-proxies", "10.0.0.0/8"}, 2},
		// A header believed from anyone, or proxies with no header to
		// believe, is a mistake: exit 2 rather than run without it.
		{[]string{"serve", "--trusted-proxy-header", "X-Forwarded-For"}, 2},
		{[]string{"serve", "--trusted-proxies", "10.0.0.0/8"}, 2},
		{[]string{"serve", "--trusted-proxy-header", "X-Forwarded-For", "--trusted-proxies", "10.0.0.0/33"}, 2},
		{[]string{"serve", "--trusted-proxy-header", "X-Forwarded-For", "--trusted-proxies", "proxy.internal"}, 2},
		{[]string{"serve", "--trusted-proxy-header", "X-Forwarded-For", "--trusted-proxies", "10.0.0.1,"}, 2},
		{[]string{"serve", "--redis", "http://127.0.0.1:6379"}, 2},
		{[]string{"serve", "--redis", "redis://127.0.0.1:6379/notanumber"}, 2},
		{[]string{"accounts", "create"}, 2},
		{[]string{"migrate", "--database", "mysql://x"}, 2},
		{[]string{"migrate", "--database", "sqlite:" + filepath.Join(t.TempDir(), "m.db")}, 0},
	} {
		err := exec.Command(binary, tc.args...).Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code {
			t.Errorf("pihu %v: exit code got %d, want %d", tc.args, code, tc.code)
		}
	}
}

// TestServe_RateLimits starts the binary with its rate-limit flags and
// checks that they are the ones in force.
func TestServe_RateLimits(t *testing.T) {
	s := startServer(t, t.TempDir(), "--rate-limit", "3/m", "--failed-auth-limit", "2/m", "--trusted-proxy-header", "X-Forwarded-For", "--trusted-proxies", "127.0.0.1, ::1")
	owner := ownerKey(t, s)
	get := func(key, addr string) *http.Response {
		req, _ := http.NewRequest("GET", s.url+"/v1/auth/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("X-Forwarded-For", addr)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for i := range 3 {
		if res := get(owner, "192.0.2.1"); res.StatusCode != 200 || res.Header.Get("RateLimit-Limit") != "3" {
			t.Fatalf("request %d: got %d, RateLimit-Limit %q; want 200 and 3", i+1, res.StatusCode, res.Header.Get("RateLimit-Limit"))
		}
	}
	if res := get(owner, "192.0.2.1"); res.StatusCode != 429 || res.Header.Get("Retry-After") != "20" {
		t.Errorf("4th request at 3/m: got %d, Retry-After %q; want 429 and 20", res.StatusCode, res.Header.Get("Retry-After"))
	}
	wrong := corrupt(owner)
	for i, want := range []int{401, 401, 429} {
		if res := get(wrong, "198.51.100.7"); res.StatusCode != want {
			t.Errorf("wrong key %d at 2/m: got %d, want %d", i+1, res.StatusCode, want)
		}
	}
	if res := get(wrong, "198.51.100.8"); res.StatusCode != 401 {
		t.Errorf("wrong key from another address (X-Forwarded-For trusted): got %d, want 401", res.StatusCode)
	}
}

// corrupt returns secret with its last character changed, so that its
// checksum is wrong.
func corrupt(secret string) string {
	last := byte('x')
	if secret[len(secret)-1] == last {
		last = 'y'
	}
	return secret[:len(secret)-1] + string(last)
}

// TestServe_TrustedProxies: the proxy header is believed only from
// --trusted-proxies. Here the proxies are 10.0.0.0/8 and the test client
// (127.0.0.1) is not one, so the X-Forwarded-For it writes is ignored, and
// its wrong keys all count against 127.0.0.1, whatever address each
// claims. The header without the proxies, or from the environment
// without them, is refused with a message saying why.
func TestServe_TrustedProxies(t *testing.T) {
	s := startServer(t, t.TempDir(), "--failed-auth-limit", "2/m", "--trusted-proxy-header", "X-Forwarded-For", "--trusted-proxies", "10.0.0.0/8")
	wrong := corrupt(ownerKey(t, s))
	for i, want := range []int{401, 401, 429} {
		req, _ := http.NewRequest("GET", s.url+"/v1/auth/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+wrong)
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("wrong key %d with a forged X-Forwarded-For: got %d, want %d", i+1, res.StatusCode, want)
		}
	}

	for _, env := range [][]string{nil, {"PIHU_TRUSTED_PROXY_HEADER=X-Forwarded-For"}} {
		args := []string{"serve", "--addr", "127.0.0.1:0", "--database", "sqlite:" + filepath.Join(t.TempDir(), "p.db")}
		if env == nil {
			args = append(args, "--trusted-proxy-header", "X-Forwarded-For")
		}
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), append(env, "PIHU_TRUSTED_PROXIES=")...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("header %v without proxies: got %v, want exit 2", env, err)
		}
		if !strings.Contains(string(out), "--trusted-proxies") || !strings.Contains(string(out), "forged") {
			t.Errorf("header %v without proxies: the message does not say why: %s", env, out)
		}
	}
}

// logsWith returns what s logged once it holds every one of want, waiting
// up to 3 s: serve writes its log in batches (every 100 ms).
func (s *server) logsWith(tb testing.TB, want ...string) string {
	tb.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		logs := s.stderr.String()
		all := true
		for _, w := range want {
			all = all && strings.Contains(logs, w)
		}
		if all || time.Now().After(deadline) {
			return logs
		}
		time.Sleep(20 * time.Millisecond)
	}
}
