package web_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/ratelimit"
	"github.com/pihu-ai/pihu/web"
)

// gatedStore is the real store, except that while the test holds it, each
// lookup of a user by email (the step between the sign-in limit and the
// password check) waits for the test to release it: the test then sees
// how many of many concurrent sign-ins got past the limit.
type gatedStore struct {
	pihu.Store
	mu      sync.Mutex
	gate    chan struct{} // nil: lookups go through
	arrived atomic.Int64
}

func (s *gatedStore) UserByEmail(ctx context.Context, email string) (*pihu.User, error) {
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
	return s.Store.UserByEmail(ctx, email)
}

// concurrently sends n requests at once with send, holding every lookup
// until each request is either waiting at it or answered, and returns how
// many got each status and how many reached the lookup.
func (s *gatedStore) concurrently(t *testing.T, n int, send func(i int) int) (statuses map[int]int, arrived int64) {
	t.Helper()
	s.mu.Lock()
	s.gate = make(chan struct{})
	s.arrived.Store(0)
	s.mu.Unlock()
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
	for s.arrived.Load()+answered.Load() < int64(n) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	arrived = s.arrived.Load()
	s.mu.Lock()
	close(s.gate)
	s.gate = nil
	s.mu.Unlock()
	wg.Wait()
	return statuses, arrived
}

// TestLogin_LimitSpentBeforeHash: of many concurrent wrong-password
// sign-ins against a limit of M, at most M get their password checked and
// are answered "wrong password"; the rest are 429, because the limit is
// spent before the password is hashed, not looked at before and spent
// after, when every one of them has looked.
func TestLogin_LimitSpentBeforeHash(t *testing.T) {
	const n, limit = 60, 10
	for _, tt := range []struct {
		name string
		// client is the address of request i: one for all, or one each
		// (then the email's budget is what holds).
		client func(i int) string
	}{
		{"OneAddress", func(int) string { return "203.0.113.5" }},
		{"ManyAddresses", func(i int) string { return fmt.Sprintf("198.51.100.%d", i+1) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := &gatedStore{}
			d := newDashboard(t, func(o *web.Options) {
				g.Store = o.Store
				o.Store = g
				o.SignInLimit = ratelimit.PerMinute(limit)
				o.PasswordHashes = n // the limit, not the hash bound, is under test
			})
			d.signUp(t, "ada@example.com")
			statuses, arrived := g.concurrently(t, n, func(i int) int {
				return d.browser(t).post("/login", form("email", "ada@example.com", "password", "wrong password"), clientHeader, tt.client(i)).StatusCode
			})
			if arrived > limit {
				t.Errorf("%d of %d concurrent sign-ins got past the limit of %d to the password check", arrived, n, limit)
			}
			if statuses[http.StatusUnauthorized] > limit || statuses[http.StatusUnauthorized]+statuses[http.StatusTooManyRequests] != n {
				t.Errorf("statuses: got %v, want at most %d × 401 (wrong password) and the rest 429", statuses, limit)
			}
			// The budget is spent: the right password waits too.
			p := d.browser(t).post("/login", form("email", "ada@example.com", "password", password), clientHeader, "192.0.2.1")
			checkStatus(t, p, http.StatusTooManyRequests)
		})
	}
}

// TestLogin_RightPasswordGivesBack: a sign-in with the right password
// spends nothing of the limit (what it reserved is given back), so
// colleagues behind one address sign in however many they are, and
// failures still count.
func TestLogin_RightPasswordGivesBack(t *testing.T) {
	d := newDashboard(t, func(o *web.Options) { o.SignInLimit = ratelimit.PerMinute(3) })
	d.signUp(t, "ada@example.com")
	const office = "203.0.113.20"
	for range 2 {
		checkStatus(t, d.browser(t).post("/login", form("email", "ada@example.com", "password", "wrong password"), clientHeader, office), http.StatusUnauthorized)
	}
	for range 10 {
		checkRedirect(t, d.browser(t).post("/login", form("email", "ada@example.com", "password", password), clientHeader, office), "/keys")
	}
	checkStatus(t, d.browser(t).post("/login", form("email", "ada@example.com", "password", "wrong password"), clientHeader, office), http.StatusUnauthorized)
	checkStatus(t, d.browser(t).post("/login", form("email", "ada@example.com", "password", password), clientHeader, office), http.StatusTooManyRequests)
}

// TestLogin_MemoryBounded: 500 concurrent sign-ins, each from its own
// address and under a limit that lets them all through, with the real
// argon2id costs (19 MiB a hash), keep the process's heap under 200 MB:
// at most Options.PasswordHashes hashes run at once, a few more wait, and
// the rest are refused at once with 503 and Retry-After instead of each
// taking its 19 MiB. This bounds memory, not time.
func TestLogin_MemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("computes real argon2id hashes")
	}
	const n, bound = 500, 200 << 20
	d := newDashboard(t, func(o *web.Options) {
		o.Password = web.DefaultPasswordParams
		o.SignInLimit = ratelimit.PerMinute(10 * n)
	})
	d.signUp(t, "ada@example.com")

	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
		start    = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			b := d.browser(t)
			<-start
			p := b.post("/login", form("email", "ada@example.com", "password", "wrong password"), clientHeader, fmt.Sprintf("10.%d.%d.1", i/250, i%250))
			if p.StatusCode == http.StatusServiceUnavailable && p.Header.Get("Retry-After") == "" {
				t.Errorf("a 503 without Retry-After")
			}
			mu.Lock()
			statuses[p.StatusCode]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	close(stop)
	<-sampled
	if statuses[http.StatusUnauthorized] == 0 || statuses[http.StatusUnauthorized]+statuses[http.StatusServiceUnavailable] != n {
		t.Errorf("statuses: got %v, want 401 (checked) or 503 (refused while busy)", statuses)
	}
	if p := peak.Load(); p > bound {
		t.Errorf("heap in use peaked at %d MB during %d concurrent sign-ins, want under %d MB", p>>20, n, bound>>20)
	}
	t.Logf("statuses %v, heap in use peaked at %d MB", statuses, peak.Load()>>20)
}
