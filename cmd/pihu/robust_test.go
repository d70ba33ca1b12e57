package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// longTest skips t unless PIHU_LONG_TESTS=1, as .ci/run sets it.
func longTest(t *testing.T) {
	t.Helper()
	if os.Getenv("PIHU_LONG_TESTS") != "1" {
		t.Skip("a long test: set PIHU_LONG_TESTS=1 to run it (CI does)")
	}
}

// apiClient sends JSON requests with a key, without failing the test on a
// transport error: a server killed mid-request is what some tests want.
type apiClient struct {
	http *http.Client
	base string
}

func (c *apiClient) call(method, path, key, body string) (int, map[string]any, error) {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, err
	}
	var out map[string]any
	json.Unmarshal(b, &out)
	return res.StatusCode, out, nil
}

// TestCrashSafety runs `pihu serve` on SQLite, creates, rotates and revokes
// keys from several clients, kills the process with SIGKILL in the middle
// of that a few times, and restarts it: every key whose creation was
// answered 200 (and not revoked since) still works, and no key whose
// revocation or rotation was answered 200 works again.
func TestCrashSafety(t *testing.T) {
	longTest(t)
	dir := t.TempDir()
	limits := []string{"--rate-limit", "1000000/m", "--failed-auth-limit", "1000000/m"}
	var (
		mu      sync.Mutex
		live    = map[string]string{} // id → secret: created or rotated to, answered 200
		revoked = map[string]string{} // id → secret: revoked or rotated away, answered 200
		lost    int                   // requests without an answer
		writes  int                   // writes answered 200
	)
	var owner string
	const rounds, clients = 3, 4
	for round := range rounds {
		s := startServer(t, dir, limits...)
		if round == 0 {
			owner = ownerKey(t, s)
		}
		c := &apiClient{http: &http.Client{Timeout: 10 * time.Second}, base: s.url}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range clients {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(round), uint64(w)))
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					status, out, err := c.call("POST", "/v1/auth/api-keys", owner, fmt.Sprintf(`{"name":"crash %d-%d-%d","permissions":["candidate:read"]}`, round, w, i))
					if err != nil {
						mu.Lock()
						lost++
						mu.Unlock()
						return // the server is gone
					}
					if status != 200 {
						t.Errorf("create: got %d %v", status, out)
						return
					}
					id, secret := out["id"].(string), out["key"].(string)
					mu.Lock()
					live[id] = secret
					writes++
					mu.Unlock()
					switch rng.IntN(3) {
					case 0: // revoke it
						mu.Lock()
						delete(live, id) // unknown until answered
						mu.Unlock()
						status, _, err := c.call("DELETE", "/v1/auth/api-keys/"+id, owner, "")
						mu.Lock()
						if err == nil && status == 200 {
							revoked[id] = secret
							writes++
						} else if err != nil {
							lost++
						}
						mu.Unlock()
						if err != nil {
							return
						}
					case 1: // rotate it, ending the old key now
						mu.Lock()
						delete(live, id)
						mu.Unlock()
						status, out, err := c.call("POST", "/v1/auth/api-keys/"+id+"/rotate", owner, `{"expire_old_in":"now"}`)
						mu.Lock()
						if err == nil && status == 200 {
							revoked[id] = secret
							live[out["id"].(string)] = out["key"].(string)
							writes++
						} else if err != nil {
							lost++
						}
						mu.Unlock()
						if err != nil {
							return
						}
					}
				}
			})
		}
		time.Sleep(time.Duration(800+rand.IntN(1200)) * time.Millisecond)
		if err := s.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		err := <-s.done
		s.done <- err
		close(stop)
		wg.Wait()
		mu.Lock()
		t.Logf("round %d: SIGKILL; so far %d writes answered 200, %d live keys, %d revoked, %d requests without an answer", round+1, writes, len(live), len(revoked), lost)
		mu.Unlock()
	}

	s := startServer(t, dir, limits...)
	c := &apiClient{http: &http.Client{Timeout: 10 * time.Second}, base: s.url}
	var working, refused int
	for id, secret := range live {
		status, out, err := c.call("GET", "/v1/auth/whoami", secret, "")
		if err != nil || status != 200 {
			t.Errorf("key %s, created with a 200, after the crashes: got %d %v %v", id, status, out, err)
			continue
		}
		working++
	}
	for id, secret := range revoked {
		status, out, err := c.call("GET", "/v1/auth/whoami", secret, "")
		if err != nil || status != 401 {
			t.Errorf("key %s, revoked with a 200, after the crashes: got %d %v %v, want 401", id, status, out, err)
			continue
		}
		refused++
	}
	if len(live) == 0 || len(revoked) == 0 {
		t.Errorf("the load made %d live and %d revoked keys; want some of each", len(live), len(revoked))
	}
	fmt.Printf("crash safety: %d SIGKILLs, %d writes answered 200; after restart %d of %d live keys work, %d of %d revoked keys refused; %d requests lost with the process\n",
		rounds, writes, working, len(live), refused, len(revoked), lost)
	s.stop(t)
}

// TestNoSecretAnywhere runs a full scenario (the API, the CLI, the
// dashboard, access tokens, rotation, revocation, a leak report, keys sent
// where they do not belong), then runs `pihu scan` over the database files,
// the server's log, the /metrics output and the audit log: it finds no key,
// and none of the issued keys or tokens is in any of them.
func TestNoSecretAnywhere(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	owner := ownerKey(t, s)
	// The owner key's file is where serve hands the key over, by design:
	// the operator reads it and deletes it.
	if err := os.Remove(filepath.Join(dir, "pihu.db.owner-key")); err != nil {
		t.Fatal(err)
	}
	secrets := []string{owner}
	create := func(key, body string) map[string]any {
		t.Helper()
		status, out := do(t, "POST", s.url+"/v1/auth/api-keys", key, body)
		if status != 200 {
			t.Fatalf("create %s: got %d %v", body, status, out)
		}
		secrets = append(secrets, out["key"].(string))
		return out
	}
	k1 := create(owner, `{"name":"one","permissions":["candidate:read","token:write","api_key:verify"]}`)
	k2 := create(owner, `{"name":"two","permissions":["*"],"environment":"test","allowed_ips":["127.0.0.1"]}`)
	secret1 := k1["key"].(string)
	do(t, "GET", s.url+"/v1/candidates", secret1, "")
	do(t, "POST", s.url+"/v1/auth/verify", secret1, `{"key":"`+k2["key"].(string)+`"}`)
	status, tok := do(t, "POST", s.url+"/v1/auth/tokens", secret1, `{"permissions":["candidate:read"]}`)
	if status != 200 {
		t.Fatalf("token: got %d %v", status, tok)
	}
	token := tok["access_token"].(string)
	do(t, "GET", s.url+"/v1/candidates", token, "")
	status, rotated := do(t, "POST", s.url+"/v1/auth/api-keys/"+k1["id"].(string)+"/rotate", owner, `{"expire_old_in":"1h"}`)
	if status != 200 {
		t.Fatalf("rotate: got %d %v", status, rotated)
	}
	secrets = append(secrets, rotated["key"].(string))
	do(t, "DELETE", s.url+"/v1/auth/api-keys/"+k2["id"].(string), owner, "")
	leaked := create(owner, `{"name":"leaked","permissions":["candidate:read"]}`)
	do(t, "POST", s.url+"/v1/auth/leaked-keys", "", `{"keys":["`+leaked["key"].(string)+`"]}`)
	// Keys where they do not belong: in a path, in a query, revoked, in a
	// body that is not JSON.
	do(t, "GET", s.url+"/v1/"+secret1, owner, "")
	do(t, "GET", s.url+"/v1/candidates?"+secret1+"=1", owner, "")
	do(t, "GET", s.url+"/v1/candidates?key="+secret1, owner, "")
	do(t, "GET", s.url+"/v1/auth/whoami", k2["key"].(string), "")
	do(t, "POST", s.url+"/v1/candidates", owner, `{"name":"`+secret1+`","email":"`+secret1+`"}`)
	do(t, "POST", s.url+"/v1/candidates", owner, `{"`+secret1+`":1}`)
	// The CLI.
	r := pihuCLI(t, s.url, owner, "keys", "create", "--name", "cli", "--permission", "candidate:read", "--json")
	if r.code != 0 {
		t.Fatalf("pihu keys create: %d %s", r.code, r.stderr)
	}
	var cliKey map[string]any
	json.Unmarshal([]byte(r.stdout), &cliKey)
	if k, _ := cliKey["key"].(string); k != "" {
		secrets = append(secrets, k)
	} else {
		t.Fatalf("pihu keys create printed no key: %s", r.stdout)
	}
	pihuCLI(t, s.url, owner, "keys", "list")
	// The dashboard: the owner sets a password, then creates a key.
	b, _ := os.ReadFile(filepath.Join(dir, "pihu.db.setup-link"))
	os.Remove(filepath.Join(dir, "pihu.db.setup-link"))
	link := strings.TrimSpace(string(b))
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := browser.PostForm(s.url+"/setup", url.Values{"token": {strings.TrimPrefix(link, s.url+"/setup?token=")}, "email": {"ops@example.com"}, "password": {"correct horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = browser.PostForm(s.url+"/keys", url.Values{"name": {"web"}, "permissions": {"candidate:read"}, "environment": {"live"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	// The form answers 303 to the page that shows the key once.
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /keys: got %d, want 303", res.StatusCode)
	}
	res, err = browser.Get(s.url + res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if m := keyPattern.Find(page); m != nil {
		secrets = append(secrets, string(m))
	} else {
		t.Errorf("the dashboard showed no new key (%d)", res.StatusCode)
	}

	// What is left behind: metrics, audit log, log, database files.
	out := t.TempDir()
	writeFile := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(out, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res, err = http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	writeFile("metrics.txt", metrics)
	req, _ := http.NewRequest("GET", s.url+"/v1/auth/audit-events?limit=100", nil)
	req.Header.Set("Authorization", "Bearer "+owner)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	audit, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !bytes.Contains(audit, []byte("api_key.leaked")) {
		t.Errorf("the audit log lacks the leak: %s", audit)
	}
	writeFile("audit.json", audit)
	s.stop(t)
	writeFile("serve.log", []byte(s.stderr.String()))
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		writeFile("db-"+filepath.Base(f), b)
	}

	scan := pihuCLI(t, "", "", "scan", out)
	if scan.code != 0 {
		t.Errorf("pihu scan over the database files, the log, /metrics and the audit log: exit %d\n%s%s", scan.code, scan.stdout, scan.stderr)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(out, e.Name()))
		for _, sec := range append(secrets, token) {
			if bytes.Contains(b, []byte(sec)) || bytes.Contains(b, []byte(sec[8:])) {
				t.Errorf("%s holds an issued secret", e.Name())
			}
		}
	}
	// The scan can fail: a file holding one of the keys is found.
	writeFile("leak.txt", []byte("export PIHU_API_KEY="+secrets[1]+"\n"))
	if scan := pihuCLI(t, "", "", "scan", out); scan.code != 1 {
		t.Errorf("pihu scan over a file with a key: exit %d, want 1", scan.code)
	}
	t.Logf("%d issued keys and a token; scanned %d files: none found", len(secrets), len(entries))
}
