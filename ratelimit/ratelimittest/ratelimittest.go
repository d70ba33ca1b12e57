// Package ratelimittest is the conformance suite of ratelimit.Limiter: every
// implementation (in memory, Redis) runs it from its own tests, so that the
// HTTP layer can rely on the same decisions and the same numbers from each.
//
// Time is injected: the suite hands each limiter a clock it moves itself,
// so that no test sleeps and every expected number is exact. A limiter
// backed by a server (Redis) must therefore take the time from its Now
// option rather than from the server's clock to run the suite.
package ratelimittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/ratelimit"
)

// NewLimiter returns a Limiter that reads the time from now. Each call
// must return a limiter that has not seen the suite's keys (they are
// random per subtest, so a shared Redis does).
type NewLimiter func(t *testing.T, now func() time.Time) ratelimit.Limiter

// Run checks, one subtest per rule, that the limiters newLimiter returns
// behave as ratelimit.Limiter says.
func Run(t *testing.T, newLimiter NewLimiter) {
	tests := []struct {
		name string
		test func(*testing.T, *env)
	}{
		{"Burst", testBurst},
		{"FirstRequest", testFirstRequest},
		{"SteadyRate", testSteadyRate},
		{"RetryAfterIsExact", testRetryAfterIsExact},
		{"RefusalSpendsNothing", testRefusalSpendsNothing},
		{"PartialRecovery", testPartialRecovery},
		{"Reset", testReset},
		{"LongIdleIsOneBurst", testLongIdleIsOneBurst},
		{"BurstOption", testBurstOption},
		{"PerSecondAndPerHour", testPerSecondAndPerHour},
		{"KeysAreIndependent", testKeysAreIndependent},
		{"LimitsAreIndependent", testLimitsAreIndependent},
		{"Peek", testPeek},
		{"Refund", testRefund},
		{"RefundNeverOverfills", testRefundNeverOverfills},
		{"AllowN", testAllowN},
		{"ConcurrentReserveAndRefund", testConcurrentReserveAndRefund},
		{"InvalidLimit", testInvalidLimit},
		{"ConcurrentOneKey", testConcurrentOneKey},
		{"ConcurrentManyKeys", testConcurrentManyKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := NewClock(Epoch)
			e := &env{Limiter: newLimiter(t, clk.Now), clock: clk, prefix: "ratelimittest:" + randomHex() + ":"}
			tc.test(t, e)
		})
	}
}

// Epoch is the time the suite's clocks start at.
var Epoch = time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC)

// Clock is a settable time source, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that reads t until it is moved.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	ratelimit.Limiter
	clock  *Clock
	prefix string
}

// key returns a key of this subtest only.
func (e *env) key(name string) string { return e.prefix + name }

func (e *env) allow(t *testing.T, key string, l ratelimit.Limit) ratelimit.Result {
	t.Helper()
	r, err := e.Allow(context.Background(), key, l)
	if err != nil {
		t.Fatalf("Allow(%s, %v): %v", key, l, err)
	}
	return r
}

func (e *env) peek(t *testing.T, key string, l ratelimit.Limit) ratelimit.Result {
	t.Helper()
	r, err := e.Peek(context.Background(), key, l)
	if err != nil {
		t.Fatalf("Peek(%s, %v): %v", key, l, err)
	}
	return r
}

// exhaust spends every request key has left, and fails if that takes more
// than the limit's burst.
func (e *env) exhaust(t *testing.T, key string, l ratelimit.Limit) {
	t.Helper()
	for i := 0; i <= l.BurstSize(); i++ {
		if !e.allow(t, key, l).Allowed {
			return
		}
	}
	t.Fatalf("%s: more than %d requests allowed at once", key, l.BurstSize())
}

func want(t *testing.T, what string, got, want ratelimit.Result) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
}

func randomHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// A fresh key may spend its whole burst at once, the counts going down one
// by one, and the next request is refused until one interval has passed.
func testBurst(t *testing.T, e *env) {
	l, k := ratelimit.PerMinute(5), e.key("k")
	for i := 1; i <= 5; i++ {
		want(t, "request", e.allow(t, k, l), ratelimit.Result{
			Allowed: true, Limit: 5, Remaining: 5 - i, ResetAfter: time.Duration(i) * 12 * time.Second,
		})
	}
	want(t, "6th request", e.allow(t, k, l), ratelimit.Result{
		Allowed: false, Limit: 5, Remaining: 0, RetryAfter: 12 * time.Second, ResetAfter: time.Minute,
	})
}

// The first request of a key leaves one interval to wait before the budget
// is full again, and nothing to retry.
func testFirstRequest(t *testing.T, e *env) {
	want(t, "first request", e.allow(t, e.key("k"), ratelimit.PerMinute(60)), ratelimit.Result{
		Allowed: true, Limit: 60, Remaining: 59, ResetAfter: time.Second,
	})
}

// Once the burst is spent, one request becomes available per interval:
// over ten minutes at 5/m, exactly 50 more are allowed.
func testSteadyRate(t *testing.T, e *env) {
	l, k := ratelimit.PerMinute(5), e.key("k")
	e.exhaust(t, k, l)
	allowed := 0
	for range 600 {
		e.clock.Add(time.Second)
		for e.allow(t, k, l).Allowed {
			allowed++
		}
	}
	if allowed != 50 {
		t.Errorf("over 10 minutes at 5/m after the burst: got %d allowed, want 50", allowed)
	}
}

// RetryAfter is exactly when the next request is allowed: a nanosecond
// earlier it is still refused.
func testRetryAfterIsExact(t *testing.T, e *env) {
	l, k := ratelimit.PerHour(7), e.key("k") // an interval that is not a whole second
	e.exhaust(t, k, l)
	r := e.allow(t, k, l)
	if r.Allowed || r.RetryAfter <= 0 || r.RetryAfter > l.Interval() {
		t.Fatalf("refused request: got %+v, want RetryAfter in (0, %s]", r, l.Interval())
	}
	e.clock.Add(r.RetryAfter - time.Nanosecond)
	if got := e.allow(t, k, l); got.Allowed || got.RetryAfter != time.Nanosecond {
		t.Fatalf("a nanosecond before RetryAfter: got %+v, want refused with RetryAfter 1ns", got)
	}
	e.clock.Add(time.Nanosecond)
	if got := e.allow(t, k, l); !got.Allowed || got.Remaining != 0 {
		t.Fatalf("at RetryAfter: got %+v, want allowed with 0 remaining", got)
	}
}

// Refused requests spend nothing: hammering a limited key does not push
// its recovery back.
func testRefusalSpendsNothing(t *testing.T, e *env) {
	l, k := ratelimit.PerMinute(5), e.key("k")
	e.exhaust(t, k, l)
	for range 100 {
		e.allow(t, k, l)
		e.clock.Add(100 * time.Millisecond) // 10 s in all
	}
	want(t, "after 10 s of refusals", e.allow(t, k, l), ratelimit.Result{
		Allowed: false, Limit: 5, RetryAfter: 2 * time.Second, ResetAfter: 50 * time.Second,
	})
	e.clock.Add(2 * time.Second)
	if r := e.allow(t, k, l); !r.Allowed {
		t.Errorf("12 s after exhaustion: got %+v, want allowed", r)
	}
}

// Time given back is counted to the interval: half a minute into a spent
// 5/m budget, two requests are back.
func testPartialRecovery(t *testing.T, e *env) {
	l, k := ratelimit.PerMinute(5), e.key("k")
	e.exhaust(t, k, l)
	e.clock.Add(30 * time.Second)
	want(t, "peek", e.peek(t, k, l), ratelimit.Result{Allowed: true, Limit: 5, Remaining: 2, ResetAfter: 30 * time.Second})
	want(t, "allow", e.allow(t, k, l), ratelimit.Result{Allowed: true, Limit: 5, Remaining: 1, ResetAfter: 42 * time.Second})
}

// After ResetAfter the key has its whole burst again.
func testReset(t *testing.T, e *env) {
	l, k := ratelimit.PerMinute(10), e.key("k")
	for range 4 {
		e.allow(t, k, l)
	}
	r := e.allow(t, k, l)
	if r.ResetAfter != 30*time.Second {
		t.Fatalf("after 5 of 10/m: ResetAfter %s, want 30s", r.ResetAfter)
	}
	e.clock.Add(r.ResetAfter - time.Nanosecond)
	if p := e.peek(t, k, l); p.Remaining != 9 || p.ResetAfter != time.Nanosecond {
		t.Errorf("a nanosecond before the reset: got %+v, want 9 remaining", p)
	}
	e.clock.Add(time.Nanosecond)
	want(t, "peek at the reset", e.peek(t, k, l), ratelimit.Result{Allowed: true, Limit: 10, Remaining: 10})
	e.exhaust(t, k, l) // fails if more than 10 are allowed
}

// However long a key was idle, it saves up one burst, no more.
func testLongIdleIsOneBurst(t *testing.T, e *env) {
	l, k := ratelimit.PerMinute(3), e.key("k")
	e.allow(t, k, l)
	e.clock.Add(24 * time.Hour)
	allowed := 0
	for e.allow(t, k, l).Allowed {
		allowed++
	}
	if allowed != 3 {
		t.Errorf("after a day idle: got %d allowed at once, want 3", allowed)
	}
}

// Burst, when set, is the most requests at once, independently of Rate.
func testBurstOption(t *testing.T, e *env) {
	l, k := ratelimit.Limit{Rate: 1, Period: time.Second, Burst: 3}, e.key("k")
	for i := range 3 {
		if r := e.allow(t, k, l); !r.Allowed || r.Limit != 3 || r.Remaining != 2-i {
			t.Fatalf("request %d: got %+v", i+1, r)
		}
	}
	want(t, "4th request", e.allow(t, k, l), ratelimit.Result{Limit: 3, RetryAfter: time.Second, ResetAfter: 3 * time.Second})
	e.clock.Add(time.Second)
	want(t, "after 1 s", e.allow(t, k, l), ratelimit.Result{Allowed: true, Limit: 3, ResetAfter: 3 * time.Second})
}

// The period's unit is honoured: 2/s recovers in half a second, 2/h in half
// an hour.
func testPerSecondAndPerHour(t *testing.T, e *env) {
	for _, tc := range []struct {
		limit    ratelimit.Limit
		interval time.Duration
	}{
		{ratelimit.PerSecond(2), 500 * time.Millisecond},
		{ratelimit.PerHour(2), 30 * time.Minute},
	} {
		k := e.key(tc.limit.String())
		e.exhaust(t, k, tc.limit)
		if r := e.allow(t, k, tc.limit); r.RetryAfter != tc.interval {
			t.Errorf("%s: RetryAfter got %s, want %s", tc.limit, r.RetryAfter, tc.interval)
		}
		e.clock.Add(tc.interval)
		if r := e.allow(t, k, tc.limit); !r.Allowed {
			t.Errorf("%s: one interval later: got %+v, want allowed", tc.limit, r)
		}
	}
}

// Spending one key's budget leaves every other key's untouched.
func testKeysAreIndependent(t *testing.T, e *env) {
	l := ratelimit.PerMinute(5)
	e.exhaust(t, e.key("a"), l)
	want(t, "key b", e.allow(t, e.key("b"), l), ratelimit.Result{Allowed: true, Limit: 5, Remaining: 4, ResetAfter: 12 * time.Second})
	if r := e.allow(t, e.key("a"), l); r.Allowed {
		t.Errorf("key a after b: got %+v, want still refused", r)
	}
}

// Two keys with different limits are each held to their own.
func testLimitsAreIndependent(t *testing.T, e *env) {
	small, large := ratelimit.PerMinute(2), ratelimit.PerMinute(20)
	count := func(k string, l ratelimit.Limit) int {
		n := 0
		for e.allow(t, k, l).Allowed {
			n++
		}
		return n
	}
	if got := count(e.key("small"), small); got != 2 {
		t.Errorf("2/m: got %d allowed, want 2", got)
	}
	if got := count(e.key("large"), large); got != 20 {
		t.Errorf("20/m: got %d allowed, want 20", got)
	}
}

// Peek reports what Allow would do and spends nothing.
func testPeek(t *testing.T, e *env) {
	l, k := ratelimit.PerMinute(3), e.key("k")
	want(t, "peek at a fresh key", e.peek(t, k, l), ratelimit.Result{Allowed: true, Limit: 3, Remaining: 3})
	for range 10 {
		e.peek(t, k, l)
	}
	e.allow(t, k, l)
	want(t, "peek after one request", e.peek(t, k, l), ratelimit.Result{Allowed: true, Limit: 3, Remaining: 2, ResetAfter: 20 * time.Second})
	e.exhaust(t, k, l)
	refused := e.allow(t, k, l)
	want(t, "peek at a spent key", e.peek(t, k, l), refused)
	e.clock.Add(refused.RetryAfter)
	if p := e.peek(t, k, l); !p.Allowed || p.Remaining != 1 {
		t.Errorf("peek after RetryAfter: got %+v, want 1 remaining", p)
	}
	if r := e.allow(t, k, l); !r.Allowed {
		t.Errorf("allow after a peek said yes: got %+v", r)
	}
}

func (e *env) refund(t *testing.T, key string, l ratelimit.Limit) {
	t.Helper()
	if err := e.Refund(context.Background(), key, l); err != nil {
		t.Fatalf("Refund(%s, %v): %v", key, l, err)
	}
}

// Refund gives back one request that Allow spent: a spent key may make one
// more request, and then none.
func testRefund(t *testing.T, e *env) {
	l, k := ratelimit.PerMinute(3), e.key("k")
	e.exhaust(t, k, l)
	e.refund(t, k, l)
	if p := e.peek(t, k, l); !p.Allowed || p.Remaining != 1 {
		t.Errorf("peek after a refund of a spent key: got %+v, want 1 remaining", p)
	}
	if r := e.allow(t, k, l); !r.Allowed || r.Remaining != 0 {
		t.Errorf("allow after the refund: got %+v, want allowed, 0 remaining", r)
	}
	if r := e.allow(t, k, l); r.Allowed {
		t.Errorf("a second allow after one refund: got %+v, want refused", r)
	}
	if err := e.Refund(context.Background(), k, ratelimit.Limit{Rate: 0, Period: time.Minute}); err == nil {
		t.Errorf("Refund with an invalid limit: no error")
	}
}

// Refunds beyond what was spent leave the budget full, never more: a fresh
// key refunded still has its burst and no more.
func testRefundNeverOverfills(t *testing.T, e *env) {
	l, k := ratelimit.PerMinute(3), e.key("k")
	e.refund(t, k, l)
	want(t, "peek at a fresh key refunded", e.peek(t, k, l), ratelimit.Result{Allowed: true, Limit: 3, Remaining: 3})
	e.allow(t, k, l)
	for range 5 {
		e.refund(t, k, l)
	}
	want(t, "peek after more refunds than requests", e.peek(t, k, l), ratelimit.Result{Allowed: true, Limit: 3, Remaining: 3})
	for i := range 3 {
		if r := e.allow(t, k, l); !r.Allowed {
			t.Fatalf("request %d after the refunds: refused", i+1)
		}
	}
	if r := e.allow(t, k, l); r.Allowed {
		t.Errorf("request 4 of a burst of 3: allowed")
	}
}

// Reserve-then-refund under concurrency: of many concurrent reservations
// at most the burst succeed, and refunding every one of them leaves the
// budget full again.
func testConcurrentReserveAndRefund(t *testing.T, e *env) {
	l, k := ratelimit.PerMinute(10), e.key("k")
	var (
		wg      sync.WaitGroup
		allowed atomic.Int64
	)
	for range 50 {
		wg.Go(func() {
			r, err := e.Allow(context.Background(), k, l)
			if err != nil {
				t.Error(err)
				return
			}
			if r.Allowed {
				allowed.Add(1)
				if err := e.Refund(context.Background(), k, l); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n < 10 || n > 50 {
		t.Errorf("reservations allowed: got %d, want at least the burst of 10", n)
	}
	want(t, "peek after every reservation was refunded", e.peek(t, k, l), ratelimit.Result{Allowed: true, Limit: 10, Remaining: 10})
}

// An impossible limit is an error, not a decision.
func testInvalidLimit(t *testing.T, e *env) {
	for _, l := range []ratelimit.Limit{
		{Rate: 0, Period: time.Minute},
		{Rate: -1, Period: time.Minute},
		{Rate: 5, Period: 0},
		{Rate: 5, Period: time.Minute, Burst: -1},
		{Rate: ratelimit.MaxRate + 1, Period: time.Hour},
	} {
		if _, err := e.Allow(context.Background(), e.key("k"), l); err == nil {
			t.Errorf("Allow with %+v: got no error", l)
		}
		if _, err := e.Peek(context.Background(), e.key("k"), l); err == nil {
			t.Errorf("Peek with %+v: got no error", l)
		}
	}
}

// Concurrent requests for one key never allow more than the burst: with
// the clock still, exactly the burst of 800 attempts go through.
func testConcurrentOneKey(t *testing.T, e *env) {
	l, k := ratelimit.PerMinute(100), e.key("k")
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				r, err := e.Allow(context.Background(), k, l)
				if err != nil {
					t.Error(err)
					return
				}
				if r.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != 100 {
		t.Errorf("8×100 concurrent requests at 100/m: got %d allowed, want 100", got)
	}
}

// Concurrent requests for many keys, with the clock moving, each get
// exactly their own burst.
func testConcurrentManyKeys(t *testing.T, e *env) {
	l := ratelimit.PerMinute(10)
	const keys = 16
	var wg sync.WaitGroup
	counts := make([]atomic.Int64, keys)
	for i := range keys {
		wg.Go(func() {
			k := e.key(string(rune('a' + i)))
			for range 30 {
				r, err := e.Allow(context.Background(), k, l)
				if err != nil {
					t.Error(err)
					return
				}
				if r.Allowed {
					counts[i].Add(1)
				}
			}
		})
	}
	// Moving the clock by less than one interval during the run changes
	// no count, and makes the race detector see reads of it.
	wg.Go(func() {
		for range 10 {
			e.clock.Add(time.Millisecond)
		}
	})
	wg.Wait()
	for i := range counts {
		if got := counts[i].Load(); got != 10 {
			t.Errorf("key %d: got %d allowed, want 10", i, got)
		}
	}
}

// AllowN spends its cost at once, or nothing: a request costing more than
// is left is refused and spends none, one costing more than the burst is
// never allowed, and RefundN gives a cost back.
func testAllowN(t *testing.T, e *env) {
	ctx := context.Background()
	l, k := ratelimit.PerMinute(10), e.key("n")
	r, err := e.AllowN(ctx, k, l, 7)
	if err != nil || !r.Allowed || r.Remaining != 3 || r.Limit != 10 {
		t.Fatalf("AllowN(7) of 10: got %+v, %v; want allowed, 3 remaining", r, err)
	}
	if r, _ := e.AllowN(ctx, k, l, 4); r.Allowed || r.RetryAfter != 6*time.Second {
		t.Errorf("AllowN(4) with 3 left: got %+v, want refused, retry after 6s", r)
	}
	if r, _ := e.AllowN(ctx, k, l, 3); !r.Allowed || r.Remaining != 0 {
		t.Errorf("AllowN(3) with 3 left: got %+v, want allowed, 0 remaining", r)
	}
	if err := e.RefundN(ctx, k, l, 5); err != nil {
		t.Fatal(err)
	}
	if p := e.peek(t, k, l); p.Remaining != 5 {
		t.Errorf("after RefundN(5): got %+v, want 5 remaining", p)
	}
	if r, _ := e.AllowN(ctx, k, l, 11); r.Allowed {
		t.Errorf("AllowN(11) of a burst of 10: got %+v, want refused", r)
	}
	if p := e.peek(t, k, l); p.Remaining != 5 {
		t.Errorf("after a refused AllowN: got %+v, want 5 remaining still", p)
	}
	if r, _ := e.AllowN(ctx, k, l, 0); !r.Allowed || r.Remaining != 5 {
		t.Errorf("AllowN(0): got %+v, want a peek: allowed, 5 remaining", r)
	}
	e.clock.Add(time.Minute)
	if r, _ := e.AllowN(ctx, k, l, 10); !r.Allowed || r.Remaining != 0 {
		t.Errorf("AllowN(10) a minute later: got %+v, want the whole burst", r)
	}
}
