package main_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/client"
)

// TestWebhooks_NoLossAcrossSIGKILL creates and revokes keys while the
// webhook receiver is down, kills the server with SIGKILL, starts it
// again and brings the receiver up: every event arrives, signed. The
// outbox rows were written in the transactions of the changes, so the
// kill could lose none.
func TestWebhooks_NoLossAcrossSIGKILL(t *testing.T) {
	dir := t.TempDir()
	// A port nobody listens on until the receiver comes up.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	s := startServer(t, dir, "--webhook-retry", "1s", "--webhook-loopback", "allow")
	owner := ownerKey(t, s)
	status, ep := do(t, "POST", s.url+"/v1/webhook-endpoints", owner,
		`{"url":"http://`+addr+`/hooks","events":["api_key.created","api_key.revoked","api_key.rotated"]}`)
	if status != 200 {
		t.Fatalf("creating the endpoint: %d %v", status, ep)
	}
	secret := ep["secret"].(string)
	want := map[string]bool{} // "type key_id"
	for i := range 8 {
		status, k := do(t, "POST", s.url+"/v1/auth/api-keys", owner, fmt.Sprintf(`{"name":"worker %d","permissions":["candidate:read"]}`, i))
		if status != 200 {
			t.Fatalf("create: %d %v", status, k)
		}
		id := k["id"].(string)
		want["api_key.created "+id] = true
		if i%2 == 0 {
			if status, out := do(t, "DELETE", s.url+"/v1/auth/api-keys/"+id, owner, ""); status != 200 {
				t.Fatalf("revoke: %d %v", status, out)
			}
			want["api_key.revoked "+id] = true
		}
	}
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err = <-s.done
	s.done <- err

	s = startServer(t, dir, "--webhook-retry", "1s", "--webhook-loopback", "allow")
	var (
		mu   sync.Mutex
		got  = map[string]bool{}
		bad  []string
		done = make(chan struct{})
	)
	rl, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the receiver's port was taken meanwhile: %v", err)
	}
	receiver := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := client.VerifyWebhook(body, r.Header.Get("Pihu-Signature"), secret, time.Minute)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			bad = append(bad, err.Error())
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got[ev.Type+" "+ev.Data.ID] = true
		if len(got) == len(want) {
			select {
			case <-done:
			default:
				close(done)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go receiver.Serve(rl)
	defer receiver.Close()

	select {
	case <-done:
	case <-time.After(60 * time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	for ev := range want {
		if !got[ev] {
			t.Errorf("lost across the SIGKILL: %s", ev)
		}
	}
	for ev := range got {
		if !want[ev] {
			t.Errorf("an event nobody caused: %s", ev)
		}
	}
	if len(bad) > 0 {
		t.Errorf("deliveries that did not verify: %v", bad)
	}
	_, list := do(t, "GET", s.url+"/v1/webhook-endpoints/"+ep["id"].(string)+"/deliveries?limit=100", owner, "")
	if n := len(list["data"].([]any)); n != len(want) {
		t.Errorf("deliveries listed: %d, want %d", n, len(want))
	}
	s.stop(t)
	if !strings.Contains(s.stderr.String(), "stopped") {
		t.Errorf("no clean stop:\n%s", s.stderr.String())
	}
}

// TestServe_WebhookLoopback: by default serve refuses endpoints on its own
// machine, and its deliveries never connect there, even to an endpoint
// registered while --webhook-loopback allow was set; with it set, both
// work. A value other than allow or deny, by flag or environment, is a
// usage error.
func TestServe_WebhookLoopback(t *testing.T) {
	var hits atomic.Int32
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer rc.Close()
	endpoint := `{"url":"` + rc.URL + `/hooks","events":["api_key.created"]}`
	dir := t.TempDir()

	s := startServer(t, dir)
	owner := ownerKey(t, s)
	if status, out := do(t, "POST", s.url+"/v1/webhook-endpoints", owner, endpoint); status != 400 || !strings.Contains(fmt.Sprint(out), "--webhook-loopback allow") {
		t.Fatalf("default: got %d %v, want a 400 naming --webhook-loopback allow", status, out)
	}
	s.stop(t)

	s = startServer(t, dir, "--webhook-loopback", "allow", "--webhook-retry", "1s")
	status, ep := do(t, "POST", s.url+"/v1/webhook-endpoints", owner, endpoint)
	if status != 200 {
		t.Fatalf("allow: got %d %v", status, ep)
	}
	id := ep["id"].(string)
	if status, k := do(t, "POST", s.url+"/v1/auth/api-keys", owner, `{"name":"delivered","permissions":["candidate:read"]}`); status != 200 {
		t.Fatalf("create: %d %v", status, k)
	}
	deadline := time.Now().Add(15 * time.Second)
	for hits.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if hits.Load() == 0 {
		t.Fatal("allow: the receiver on loopback got no delivery")
	}
	s.stop(t)

	s = startServer(t, dir, "--webhook-retry", "1s")
	before := hits.Load()
	if status, k := do(t, "POST", s.url+"/v1/auth/api-keys", owner, `{"name":"refused","permissions":["candidate:read"]}`); status != 200 {
		t.Fatalf("create: %d %v", status, k)
	}
	var refused string
	for deadline := time.Now().Add(15 * time.Second); refused == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		_, list := do(t, "GET", s.url+"/v1/webhook-endpoints/"+id+"/deliveries", owner, "")
		for _, d := range list["data"].([]any) {
			for _, a := range d.(map[string]any)["attempts"].([]any) {
				if e, _ := a.(map[string]any)["error"].(string); strings.Contains(e, "loopback") {
					refused = e
				}
			}
		}
	}
	// The account reads why, never the address.
	if refused != "refused: the host resolves to a loopback address (serve --webhook-loopback allow permits it, for development)" {
		t.Errorf("deny: no attempt refused for its loopback address (got %q)", refused)
	}
	if hits.Load() != before {
		t.Errorf("deny: the receiver on loopback was reached %d times", hits.Load()-before)
	}

	if out, code := runBinary(t, "serve", "--webhook-loopback", "maybe"); code != 2 || !strings.Contains(out, "--webhook-loopback") {
		t.Errorf("--webhook-loopback maybe: got exit %d and %q, want 2 naming the flag", code, out)
	}
	t.Setenv("PIHU_WEBHOOK_LOOPBACK", "yes")
	if out, code := runBinary(t, "serve", "--addr", "127.0.0.1:0"); code != 2 || !strings.Contains(out, "--webhook-loopback \"yes\"") {
		t.Errorf("PIHU_WEBHOOK_LOOPBACK=yes: got exit %d and %q, want 2 naming the value", code, out)
	}
}
