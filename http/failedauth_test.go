package http_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/ratelimit"
)

// gatedStore is the real store, except that while the test holds it, each
// key lookup by digest waits for the test to release it: the test then
// sees how many of many concurrent requests reached the lookup, the work
// the failed-authentication budget guards.
type gatedStore struct {
	pihu.Store
	mu      sync.Mutex
	gate    chan struct{} // nil: lookups go through
	arrived atomic.Int64
}

func (s *gatedStore) KeyByDigest(ctx context.Context, digest []byte) (*pihu.Key, error) {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		s.arrived.Add(1)
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.Store.KeyByDigest(ctx, digest)
}

// hold makes lookups wait from now on, and counts them from zero.
func (s *gatedStore) hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = make(chan struct{})
	s.arrived.Store(0)
}

func (s *gatedStore) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.gate)
	s.gate = nil
}

// gatedAuth makes the server's authenticator read keys through g.
func gatedAuth(g *gatedStore) func(*pihuhttp.Options) {
	return func(o *pihuhttp.Options) {
		g.Store = o.Store
		o.Auth = auth.New(g, auth.Options{Now: o.Now, Logger: o.Logger, Tokens: o.Auth.Tokens()})
	}
}

// concurrently sends n requests at once with send, holding every key
// lookup until each request is either waiting at the lookup or answered,
// and returns how many got each status and how many reached the lookup.
// A budget looked at before the work and spent after it lets all n reach
// the lookup; one spent first, only as many as it holds.
func concurrently(t *testing.T, g *gatedStore, n int, send func(i int) int) (statuses map[int]int, lookups int64) {
	t.Helper()
	g.hold()
	var (
		wg       sync.WaitGroup
		answered atomic.Int64
		mu       sync.Mutex
	)
	statuses = map[int]int{}
	for i := range n {
		wg.Go(func() {
			status := send(i)
			answered.Add(1)
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for g.arrived.Load()+answered.Load() < int64(n) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	lookups = g.arrived.Load()
	g.release()
	wg.Wait()
	return statuses, lookups
}

// importedSecrets returns n secrets of the shape an imported key may have
// (no pihu prefix nor checksum), each looked up by its digest.
func importedSecrets(n int) []string {
	out := make([]string, n)
	for i := range out {
		b := make([]byte, 16)
		rand.Read(b)
		out[i] = "legacy_" + hex.EncodeToString(b)
	}
	return out
}

// TestRateLimit_FailedAuthSpentBeforeLookup: many concurrent wrong
// secrets from one address, against a failed-authentication budget of M,
// reach the store at most M times, through every door that looks a
// secret up (a request's bearer key, an imported key's secret, a verify
// caller, an import caller, OAuth client credentials): the budget is
// spent before the lookup and given back when the secret is valid, not
// looked at first and spent after, when all of them have looked.
func TestRateLimit_FailedAuthSpentBeforeLookup(t *testing.T) {
	const n, budget = 40, 5
	doors := []struct {
		name string
		send func(ts *testServer, secret string) int
	}{
		{"BearerKey", func(ts *testServer, secret string) int {
			return ts.doWith(t, "GET", "/v1/auth/whoami", "", map[string]string{"Authorization": bearer(secret)}).status
		}},
		{"Verify", func(ts *testServer, secret string) int {
			body := `{"key":"` + forged(1)[0] + `"}`
			return ts.doWith(t, "POST", "/v1/auth/verify", body, map[string]string{"Authorization": bearer(secret), "Content-Type": "application/json"}).status
		}},
		{"Import", func(ts *testServer, secret string) int {
			body := `{"keys":[{"hash":"` + hex.EncodeToString(make([]byte, 32)) + `","name":"x","permissions":["candidate:read"]}]}`
			return ts.doWith(t, "POST", "/v1/auth/api-keys/import", body, map[string]string{"Authorization": bearer(secret), "Content-Type": "application/json"}).status
		}},
		{"ForwardAuth", func(ts *testServer, secret string) int {
			return ts.doWith(t, "GET", "/v1/auth/forward", "", map[string]string{"Authorization": bearer(secret)}).status
		}},
		{"OAuthClientCredentials", func(ts *testServer, secret string) int {
			return ts.oauth(t, "grant_type=client_credentials", map[string]string{"Authorization": basic("key_0000000000000000000000", secret)}).status
		}},
	}
	for _, door := range doors {
		for _, shape := range []struct {
			name    string
			secrets func(int) []string
		}{{"PihuKeys", forged}, {"ImportedShape", importedSecrets}} {
			if door.name == "OAuthClientCredentials" && shape.name == "ImportedShape" {
				continue // client_secret takes pihu keys only
			}
			t.Run(door.name+"/"+shape.name, func(t *testing.T) {
				g := &gatedStore{}
				ts := newTestServer(t, gatedAuth(g), func(o *pihuhttp.Options) { o.FailedAuthLimit = ratelimit.PerMinute(budget) })
				secrets := shape.secrets(n)
				statuses, lookups := concurrently(t, g, n, func(i int) int { return door.send(ts, secrets[i]) })
				if lookups > budget {
					t.Errorf("lookups: %d of %d concurrent wrong secrets reached the store, want at most the budget of %d", lookups, n, budget)
				}
				if statuses[401] > budget || statuses[401]+statuses[429] != n {
					t.Errorf("statuses: got %v, want at most %d × 401 and the rest 429", statuses, budget)
				}
			})
		}
	}
}

// TestRateLimit_FailedAuthRefund: a valid key looked up spends nothing of
// its address's failure budget (the failure reserved before the lookup
// is given back), while a wrong one keeps it spent.
func TestRateLimit_FailedAuthRefund(t *testing.T) {
	ts := newTestServer(t, func(o *pihuhttp.Options) {
		o.TrustedProxyHeader, o.TrustedProxies = "X-Real-IP", loopback
		o.FailedAuthLimit = ratelimit.PerMinute(3)
	})
	from := func(key string) int {
		return ts.doWith(t, "GET", "/v1/auth/whoami", "", map[string]string{"Authorization": bearer(key), "X-Real-IP": "203.0.113.9"}).status
	}
	for i := range 2 {
		if got := from(forged(1)[0]); got != 401 {
			t.Fatalf("wrong key %d: got %d, want 401", i+1, got)
		}
	}
	// Five keys this server has not seen, each looked up: each reserves
	// the one failure left and gives it back.
	for i := range 5 {
		k := ts.newKey(t, ts.Owner, fmt.Sprintf(`{"name":"unseen %d","permissions":["api_key:read"]}`, i)).Key
		if got := from(k); got != 200 {
			t.Fatalf("valid unseen key %d: got %d, want 200", i+1, got)
		}
	}
	if got := from(forged(1)[0]); got != 401 {
		t.Errorf("third wrong key: got %d, want 401 (the valid keys spent nothing)", got)
	}
	if got := from(forged(1)[0]); got != 429 {
		t.Errorf("fourth wrong key: got %d, want 429", got)
	}
}

// TestLeakedKeys_LimitSpentBeforeLookup: concurrent leaked-key reports
// from one address, against a report limit of M, look keys up for at most
// M of them.
func TestLeakedKeys_LimitSpentBeforeLookup(t *testing.T) {
	const n, limit = 30, 4
	g := &gatedStore{}
	ts := newTestServer(t, gatedAuth(g), func(o *pihuhttp.Options) { o.LeakedKeysLimit = ratelimit.PerMinute(limit) })
	secrets := forged(n)
	statuses, lookups := concurrently(t, g, n, func(i int) int {
		return ts.doWith(t, "POST", "/v1/auth/leaked-keys", `{"keys":["`+secrets[i]+`"]}`, map[string]string{"Content-Type": "application/json"}).status
	})
	if lookups > limit {
		t.Errorf("lookups: %d of %d concurrent reports reached the store, want at most %d", lookups, n, limit)
	}
	if statuses[200] > limit || statuses[200]+statuses[429] != n {
		t.Errorf("statuses: got %v, want at most %d × 200 and the rest 429", statuses, limit)
	}
}
