package main_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowRequest is a request in flight: its headers are sent and half its
// body, the rest when finish is called.
type slowRequest struct {
	conn net.Conn
	rest string
}

// startSlowRequest sends the headers and the first half of a POST of a
// candidate to the server at addr, with key.
func startSlowRequest(tb testing.TB, addr, key string) *slowRequest {
	tb.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	body := `{"name":"In Flight","email":"flight@example.com"}`
	fmt.Fprintf(conn, "POST /v1/candidates HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		addr, key, len(body), body[:len(body)/2])
	return &slowRequest{conn: conn, rest: body[len(body)/2:]}
}

// finish sends the rest of the body and returns the response's status.
func (r *slowRequest) finish(tb testing.TB) int {
	tb.Helper()
	if _, err := io.WriteString(r.conn, r.rest); err != nil {
		tb.Fatalf("sending the rest of the body: %v", err)
	}
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(r.conn), nil)
	if err != nil {
		tb.Fatalf("reading the response of the request in flight: %v", err)
	}
	res.Body.Close()
	return res.StatusCode
}

// waitFor waits until the server's log has a line matching re.
func waitFor(tb testing.TB, s *server, re string) {
	tb.Helper()
	pattern := regexp.MustCompile(re)
	for deadline := time.Now().Add(10 * time.Second); !pattern.MatchString(s.stderr.String()); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("no log line matching %q:\n%s", re, s.stderr.String())
		}
	}
}

// exitCode waits for the process to end and returns its exit status.
func exitCode(tb testing.TB, s *server, within time.Duration) int {
	tb.Helper()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			tb.Fatal(err)
		}
		return 0
	case <-time.After(within):
		tb.Fatalf("pihu serve did not exit within %v:\n%s", within, s.stderr.String())
		return -1
	}
}

// TestServe_Drain sends SIGTERM to the real binary while a request is in
// flight: /readyz answers 503 at once while other requests are still
// served for --drain-delay, the request in flight is answered, the key
// uses not yet written (last_used, usage counts) are written, and the
// process exits 0.
func TestServe_Drain(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, "--drain-delay", "2s")
	owner := ownerKey(t, s)
	addr := strings.TrimPrefix(s.url, "http://")
	status, k := do(t, "POST", s.url+"/v1/auth/api-keys", owner, `{"name":"used","permissions":["candidate:read"]}`)
	if status != 200 {
		t.Fatalf("create: got %d %v", status, k)
	}
	secret, id := k["key"].(string), k["id"].(string)

	inFlight := startSlowRequest(t, addr, owner)
	time.Sleep(100 * time.Millisecond) // the request reaches its handler's body read
	// The use goes in, then SIGTERM comes before the periodic flush can
	// be counted on: the drain writes it.
	if status, _ := do(t, "GET", s.url+"/v1/candidates", secret, ""); status != 200 {
		t.Fatalf("use: got %d", status)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s, `shutting down`)

	res, err := http.Get(s.url + "/readyz")
	if err != nil {
		t.Fatalf("/readyz while draining: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 503 || !strings.Contains(string(b), `"reason":"draining"`) {
		t.Errorf("/readyz while draining: got %d %s, want 503 draining", res.StatusCode, b)
	}
	if status, _ := do(t, "GET", s.url+"/v1/auth/whoami", owner, ""); status != 200 {
		t.Errorf("a request during --drain-delay: got %d, want 200", status)
	}

	time.Sleep(2500 * time.Millisecond) // past the delay: the listener is closed
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Errorf("new connections are still taken after --drain-delay")
	}
	if status := inFlight.finish(t); status != 200 {
		t.Errorf("the request in flight: got %d, want 200", status)
	}
	if code := exitCode(t, s, 10*time.Second); code != 0 {
		t.Fatalf("exit status after SIGTERM: got %d, want 0:\n%s", code, s.stderr.String())
	}

	// A new process on the same database sees the use and the candidate.
	s2 := startServer(t, dir)
	status, item := do(t, "GET", s2.url+"/v1/auth/api-keys/"+id, owner, "")
	if status != 200 || item["last_used"] == nil {
		t.Errorf("after the drain, the key: got %d %v, want last_used set", status, item)
	}
	status, usage := do(t, "GET", s2.url+"/v1/auth/api-keys/"+id+"/usage", owner, "")
	if total, _ := usage["total"].(map[string]any); status != 200 || total["allowed"] != float64(1) {
		t.Errorf("after the drain, usage: got %d %v, want 1 allowed", status, usage)
	}
	status, list := do(t, "GET", s2.url+"/v1/candidates", owner, "")
	if data, _ := list["data"].([]any); status != 200 || len(data) != 1 {
		t.Errorf("after the drain, candidates: got %d %v, want the one created in flight", status, list)
	}
}

// TestServe_SecondSignal sends a second SIGTERM while the first drains a
// request that does not end: the process exits at once, with status 1.
func TestServe_SecondSignal(t *testing.T) {
	s := startServer(t, t.TempDir(), "--drain-timeout", "1m")
	owner := ownerKey(t, s)
	startSlowRequest(t, strings.TrimPrefix(s.url, "http://"), owner)
	time.Sleep(100 * time.Millisecond)
	s.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, s, `shutting down`)
	time.Sleep(200 * time.Millisecond) // still draining: the request waits
	select {
	case <-s.done:
		t.Fatal("exited before the request in flight ended")
	default:
	}
	start := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	if code := exitCode(t, s, 5*time.Second); code != 1 {
		t.Errorf("exit status after a second signal: got %d, want 1", code)
	}
	t.Logf("exited %v after the second signal", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(s.stderr.String(), "second signal") {
		t.Errorf("no message about the second signal:\n%s", s.stderr.String())
	}
}

// TestServe_DrainTimeout checks the bound: a request still in flight after
// --drain-timeout has its connection closed, and the process writes the
// key uses and exits 0.
func TestServe_DrainTimeout(t *testing.T) {
	s := startServer(t, t.TempDir(), "--drain-timeout", "1s")
	owner := ownerKey(t, s)
	startSlowRequest(t, strings.TrimPrefix(s.url, "http://"), owner)
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	if code := exitCode(t, s, 10*time.Second); code != 0 {
		t.Errorf("exit status: got %d, want 0:\n%s", code, s.stderr.String())
	}
	if d := time.Since(start); d < time.Second || d > 5*time.Second {
		t.Errorf("exited %v after SIGTERM, want after the 1s bound and soon after it", d)
	}
	if !strings.Contains(s.stderr.String(), "still in flight after --drain-timeout") {
		t.Errorf("no warning about the requests cut:\n%s", s.stderr.String())
	}
}

var metricsAddrLog = regexp.MustCompile(`msg="serving metrics" metrics_addr=(\S+)`)

// TestServe_MetricsAddr serves /metrics on --metrics-addr, and not on the
// API's address.
func TestServe_MetricsAddr(t *testing.T) {
	s := startServer(t, t.TempDir(), "--metrics-addr", "127.0.0.1:0")
	m := metricsAddrLog.FindStringSubmatch(s.stderr.String())
	if m == nil {
		t.Fatalf("no metrics address logged:\n%s", s.stderr.String())
	}
	owner := ownerKey(t, s)
	do(t, "GET", s.url+"/v1/auth/whoami", owner, "")
	do(t, "GET", s.url+"/v1/auth/whoami", owner, "")
	if status, out := do(t, "GET", s.url+"/metrics", "", ""); status != 404 || out["error"] == nil {
		t.Errorf("/metrics on the API address: got %d %v, want the API's JSON 404", status, out)
	}
	body := scrape(t, "http://"+m[1]+"/metrics")
	for _, want := range []string{`pihu_http_requests_total{method="GET",route="GET /v1/auth/whoami",status="200"} 2`, "pihu_key_cache_entries 1", "pihu_key_cache_misses_total 1", "pihu_key_cache_hits_total 1", "pihu_store_query_duration_seconds_count{op=\"KeyByDigest\"}", "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
	s.stop(t)
}

// TestServe_GCHeadroom: serve raises the collector's percent for its small
// heap (package gcheadroom), unless GOGC is set, which it leaves alone.
func TestServe_GCHeadroom(t *testing.T) {
	percent := regexp.MustCompile(`(?m)^go_gc_gogc_percent (\d+)$`)
	for _, tc := range []struct {
		gogc string
		ok   func(p int) bool
		want string
	}{
		// More than Go's 100 %, by how much depends on the live heap
		// (about 20 MB just after the start, a few MB later).
		{"", func(p int) bool { return p > 100 }, "more than 100 %"},
		{"100", func(p int) bool { return p == 100 }, "100 %, GOGC's"},
		{"150", func(p int) bool { return p == 150 }, "150 %, GOGC's"},
	} {
		t.Run("GOGC="+tc.gogc, func(t *testing.T) {
			t.Setenv("GOGC", tc.gogc)
			s := startServer(t, t.TempDir(), "--metrics-addr", "127.0.0.1:0")
			m := metricsAddrLog.FindStringSubmatch(s.stderr.String())
			if m == nil {
				t.Fatalf("no metrics address logged:\n%s", s.stderr.String())
			}
			// The percent is set within a second of the start.
			var got int
			for deadline := time.Now().Add(5 * time.Second); ; {
				p := percent.FindStringSubmatch(scrape(t, "http://"+m[1]+"/metrics"))
				if p == nil {
					t.Fatal("/metrics has no go_gc_gogc_percent")
				}
				got, _ = strconv.Atoi(p[1])
				if tc.ok(got) || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if !tc.ok(got) {
				t.Errorf("go_gc_gogc_percent %d, want %s", got, tc.want)
			}
			s.stop(t)
		})
	}
}

func scrape(tb testing.TB, url string) string {
	tb.Helper()
	res, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		tb.Fatalf("GET %s: got %d %s", url, res.StatusCode, b)
	}
	return string(b)
}
