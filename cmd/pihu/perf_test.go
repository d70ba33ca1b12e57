package main_test

import (
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServe_AccessLog: --access-log off drops the request lines (and only
// them), json writes them as JSON beside a text log, and every line
// written in batches is out by the time the server has stopped.
func TestServe_AccessLog(t *testing.T) {
	for _, tc := range []struct {
		flag, want, notWant string
	}{
		{"", "msg=request", ""},
		{"off", "", "msg=request"},
		{"json", `"msg":"request"`, "msg=request"},
	} {
		t.Run("Flag="+tc.flag, func(t *testing.T) {
			args := []string{}
			if tc.flag != "" {
				args = append(args, "--access-log", tc.flag)
			}
			s := startServer(t, t.TempDir(), args...)
			owner := ownerKey(t, s)
			for range 20 {
				if code, _ := do(t, "GET", s.url+"/v1/auth/whoami", owner, ""); code != 200 {
					t.Fatalf("whoami: got %d", code)
				}
			}
			s.stop(t)
			logs := s.stderr.String()
			if !strings.Contains(logs, "msg=stopped") {
				t.Errorf("the text log lost its last line:\n%s", logs)
			}
			if tc.want != "" {
				if got := strings.Count(logs, tc.want); got != 20 {
					t.Errorf("got %d request lines (%q), want 20:\n%s", got, tc.want, logs)
				}
			}
			if tc.notWant != "" && strings.Contains(logs, tc.notWant) {
				t.Errorf("the log has %q:\n%s", tc.notWant, logs)
			}
		})
	}
	t.Run("ErrUnknown", func(t *testing.T) {
		out, code := runBinary(t, "serve", "--access-log", "xml")
		if code != 2 || !strings.Contains(out, "--access-log") {
			t.Errorf("got exit %d and %q, want 2 and a message naming --access-log", code, out)
		}
	})
}

var pprofAddr = regexp.MustCompile(`pprof_addr=(\S+)`)

// TestServe_Pprof: --pprof serves net/http/pprof on its own address, and
// the API's address does not.
func TestServe_Pprof(t *testing.T) {
	s := startServer(t, t.TempDir(), "--pprof", "127.0.0.1:0")
	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := pprofAddr.FindStringSubmatch(s.stderr.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("no pprof_addr in the log:\n%s", s.stderr.String())
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "serve") {
		t.Errorf("pprof: got %d %q", resp.StatusCode, b)
	}
	resp, err = http.Get(s.url + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("the API's address: got %d, want 404", resp.StatusCode)
	}
}

// TestServe_KeyCacheSize: the flag takes a number of keys, 0 included.
func TestServe_KeyCacheSize(t *testing.T) {
	s := startServer(t, t.TempDir(), "--key-cache-size", "0")
	owner := ownerKey(t, s)
	for range 3 {
		if code, _ := do(t, "GET", s.url+"/v1/auth/whoami", owner, ""); code != 200 {
			t.Errorf("whoami with no cache: got %d", code)
		}
	}
	out, code := runBinary(t, "serve", "--key-cache-size", "-5")
	if code != 2 || !strings.Contains(out, "--key-cache-size") {
		t.Errorf("got exit %d and %q, want 2 and a message naming --key-cache-size", code, out)
	}
}

// runBinary runs the binary with args and returns its combined output and exit
// code.
func runBinary(tb testing.TB, args ...string) (string, int) {
	tb.Helper()
	out, err := exec.Command(binary, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		tb.Fatal(err)
	}
	return string(out), 0
}

// TestServe_CreatedKeysSurviveKill: every key answered 200 is on disk
// when the answer leaves, even with keys committed together: after a
// kill -9 right after the answers, each of them works.
func TestServe_CreatedKeysSurviveKill(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	owner := ownerKey(t, s)
	const clients, each = 8, 5
	keys := make(chan string, clients*each)
	done := make(chan struct{})
	for range clients {
		go func() {
			defer func() { done <- struct{}{} }()
			for range each {
				code, body := do(t, "POST", s.url+"/v1/auth/api-keys", owner, `{"name":"k","permissions":["candidate:read"]}`)
				if code != 200 {
					t.Errorf("create: got %d %v", code, body)
					return
				}
				keys <- body["key"].(string)
			}
		}()
	}
	for range clients {
		<-done
	}
	s.cmd.Process.Kill() // SIGKILL: nothing is flushed on the way out
	<-s.done
	s.done <- nil // for the cleanup
	close(keys)

	s2 := startServer(t, dir)
	n := 0
	for k := range keys {
		n++
		if code, _ := do(t, "GET", s2.url+"/v1/auth/whoami", k, ""); code != 200 {
			t.Errorf("a key answered 200 before the kill: whoami got %d", code)
		}
	}
	if n != clients*each {
		t.Errorf("got %d keys, want %d", n, clients*each)
	}
}
