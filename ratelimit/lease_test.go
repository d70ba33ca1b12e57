package ratelimit_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/internal/redistest"
	"github.com/pihu-ai/pihu/ratelimit"
	"github.com/pihu-ai/pihu/ratelimit/ratelimittest"
	"github.com/redis/go-redis/v9"
)

func newLeased(t testing.TB, c redis.UniversalClient, opts ratelimit.LeasedOptions) *ratelimit.Leased {
	t.Helper()
	if opts.Redis.Prefix == "" {
		opts.Redis.Prefix = redistest.Prefix(t)
	}
	l := ratelimit.NewLeased(c, opts)
	t.Cleanup(func() { l.Close() })
	return l
}

// The leased limiter passes the conformance suite with the same numbers
// as the exact ones: alone, an instance's leases are contiguous spans of
// the key's time line, and what it holds is what it would have left. It
// runs with leases of the whole burst, of half of it (one lease ahead of
// need, taken in the background), of a quarter, with the defaults, and
// with no lease at all (Exact).
func TestLeased(t *testing.T) {
	c := dial(t, redistest.URL(t))
	for _, tc := range []struct {
		name string
		opts ratelimit.LeasedOptions
	}{
		{"WholeBurst", ratelimit.LeasedOptions{Share: 1, MinLease: 1}},
		{"HalfBurst", ratelimit.LeasedOptions{Share: 2, MinLease: 1}},
		{"QuarterBurst", ratelimit.LeasedOptions{Share: 4, MinLease: 1}},
		{"Defaults", ratelimit.LeasedOptions{}},
		{"Exact", ratelimit.LeasedOptions{Exact: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ratelimittest.Run(t, func(t *testing.T, now func() time.Time) ratelimit.Limiter {
				opts := tc.opts
				opts.Redis.Now = now
				l := newLeased(t, c, opts)
				t.Cleanup(func() {
					if l.Degraded() {
						t.Error("the limiter fell back to memory: the suite did not run on Redis")
					}
				})
				return l
			})
		})
	}
}

// commands counts the commands a Redis client sends.
type commands struct{ n atomic.Int64 }

func (c *commands) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commands) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *commands) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// counted is a client of url that counts its commands.
func counted(t testing.TB, url string) (*redis.Client, *commands) {
	t.Helper()
	c := dial(t, url)
	var n commands
	c.AddHook(&n)
	return c, &n
}

// A warm request makes no call to Redis: 1,000 requests of a key at
// 1000/m (leases of 20 requests, taken when half of one is spent) make
// about 100, and a spent key is refused without asking Redis again
// until a request comes back. With Exact, every request asks.
func TestLeased_WarmRequestsMakeNoCall(t *testing.T) {
	url := redistest.URL(t)
	ctx := context.Background()
	clk := ratelimittest.NewClock(ratelimittest.Epoch)
	c, n := counted(t, url)
	l := newLeased(t, c, ratelimit.LeasedOptions{Redis: ratelimit.RedisOptions{Now: clk.Now}})
	limit := ratelimit.PerMinute(1000)
	if got := l.LeaseSize(limit); got != 20 {
		t.Fatalf("LeaseSize(1000/m): got %d, want 20", got)
	}
	for i := range 1000 {
		if r, err := l.Allow(ctx, "key_warm", limit); err != nil || !r.Allowed {
			t.Fatalf("request %d: got %+v, %v", i+1, r, err)
		}
	}
	if r, err := l.Allow(ctx, "key_warm", limit); err != nil || r.Allowed || r.RetryAfter != 60*time.Millisecond {
		t.Fatalf("request 1001: got %+v, %v; want refused, retry in 60ms", r, err)
	}
	calls := n.n.Load()
	if calls > 120 {
		t.Errorf("1,001 requests made %d calls to Redis, want about 100 (one per half lease)", calls)
	}
	for range 1000 {
		l.Allow(ctx, "key_warm", limit)
	}
	if got := n.n.Load() - calls; got != 0 {
		t.Errorf("1,000 requests of a spent key made %d calls to Redis, want 0", got)
	}
	clk.Add(60 * time.Millisecond)
	if r, _ := l.Allow(ctx, "key_warm", limit); !r.Allowed {
		t.Errorf("once a request is back: got %+v, want allowed", r)
	}

	exact, m := counted(t, url)
	e := newLeased(t, exact, ratelimit.LeasedOptions{Exact: true, Redis: ratelimit.RedisOptions{Now: clk.Now}})
	if got := e.LeaseSize(limit); got != 0 {
		t.Errorf("LeaseSize with Exact: got %d, want 0", got)
	}
	for range 100 {
		e.Allow(ctx, "key_exact", limit)
	}
	if got := m.n.Load(); got < 100 {
		t.Errorf("100 requests with Exact made %d calls to Redis, want one each", got)
	}
}

// Limits with a burst under 100 requests are decided in Redis on every
// request by default; from 100 on, leased two requests at a time or
// more.
func TestLeased_LeaseSize(t *testing.T) {
	l := ratelimit.NewLeased(nil, ratelimit.LeasedOptions{})
	for _, tc := range []struct {
		limit ratelimit.Limit
		want  int
	}{
		{ratelimit.PerMinute(6), 0},
		{ratelimit.PerMinute(99), 0},
		{ratelimit.PerMinute(100), 2},
		{ratelimit.PerMinute(1000), 20},
		{ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 500}, 10},
		{ratelimit.PerSecond(ratelimit.MaxRate), 20000},
	} {
		if got := l.LeaseSize(tc.limit); got != tc.want {
			t.Errorf("LeaseSize(%v): got %d, want %d", tc.limit, got, tc.want)
		}
	}
}

// Two instances, each with a connection of its own, on the Redis
// server's clock, hammered by 8 goroutines each: together they admit no
// more than a single exact limiter could in the time the run took (the
// burst, plus one request per interval elapsed), and no fewer than the
// burst less what the two may hold unspent (one lease each).
func TestLeased_TwoInstances(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t)
	for _, limit := range []ratelimit.Limit{ratelimit.PerMinute(100), ratelimit.PerSecond(2000)} {
		t.Run(limit.String(), func(t *testing.T) {
			a := newLeased(t, dial(t, url), ratelimit.LeasedOptions{Redis: ratelimit.RedisOptions{Prefix: prefix}})
			b := newLeased(t, dial(t, url), ratelimit.LeasedOptions{Redis: ratelimit.RedisOptions{Prefix: prefix}})
			key := "key_" + limit.String()
			var admitted atomic.Int64
			var wg sync.WaitGroup
			start := time.Now()
			for _, l := range []*ratelimit.Leased{a, b} {
				for range 8 {
					wg.Go(func() {
						for time.Since(start) < 300*time.Millisecond {
							r, err := l.Allow(context.Background(), key, limit)
							if err != nil {
								t.Error(err)
								return
							}
							if r.Allowed {
								admitted.Add(1)
							}
						}
					})
				}
			}
			wg.Wait()
			elapsed := time.Since(start)
			burst := int64(limit.BurstSize())
			most := burst + int64(elapsed/limit.Interval()) + 1
			least := burst - 2*int64(a.LeaseSize(limit))
			got := admitted.Load()
			t.Logf("%v from two instances for %s: %d admitted (at most %d, at least %d)", limit, elapsed.Round(time.Millisecond), got, most, least)
			if got > most || got < least {
				t.Errorf("%v from two instances for %s: got %d admitted, want %d to %d", limit, elapsed, got, least, most)
			}
			if a.Degraded() || b.Degraded() {
				t.Error("an instance fell back to memory")
			}
		})
	}
}

// A key forgotten (revoked, or changed) gives its lease back at once:
// another instance then finds the whole budget but what was spent.
func TestLeased_ForgetGivesTheLeaseBack(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t)
	clk := ratelimittest.NewClock(ratelimittest.Epoch)
	opts := ratelimit.LeasedOptions{Share: 2, Redis: ratelimit.RedisOptions{Prefix: prefix, Now: clk.Now}}
	a := newLeased(t, dial(t, url), opts)
	b := newLeased(t, dial(t, url), opts)
	ctx := context.Background()
	limit := ratelimit.PerMinute(100) // leases of 50
	if r, err := a.Allow(ctx, "key_revoked", limit); err != nil || !r.Allowed {
		t.Fatalf("first request: got %+v, %v", r, err)
	}
	if p, _ := b.Peek(ctx, "key_revoked", limit); p.Remaining != 50 {
		t.Fatalf("another instance's Peek while the first holds a lease: got %+v, want 50 remaining", p)
	}
	a.Forget("key_revoked")
	if a.Len() != 0 {
		t.Errorf("Len after Forget: got %d, want 0", a.Len())
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := b.Peek(ctx, "key_revoked", limit)
		if err != nil {
			t.Fatal(err)
		}
		if p.Remaining == 99 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after Forget, another instance's Peek: got %+v, want 99 remaining", p)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Close gives back every lease; the budget is then whole again but for
// what was spent.
func TestLeased_CloseGivesLeasesBack(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t)
	clk := ratelimittest.NewClock(ratelimittest.Epoch)
	opts := ratelimit.LeasedOptions{Share: 1, Redis: ratelimit.RedisOptions{Prefix: prefix, Now: clk.Now}}
	a := ratelimit.NewLeased(dial(t, url), opts)
	ctx := context.Background()
	limit := ratelimit.PerMinute(100)
	for range 3 {
		a.Allow(ctx, "key_one", limit)
		a.Allow(ctx, "key_two", limit)
	}
	a.Close()
	b := newLeased(t, dial(t, url), opts)
	for _, k := range []string{"key_one", "key_two"} {
		if p, _ := b.Peek(ctx, k, limit); p.Remaining != 97 {
			t.Errorf("%s after the other instance closed: got %+v, want 97 remaining", k, p)
		}
	}
}

// A key unused for IdleAfter gives its lease back and is forgotten.
func TestLeased_IdleKeysGiveBack(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t)
	clk := ratelimittest.NewClock(ratelimittest.Epoch)
	opts := ratelimit.LeasedOptions{Share: 1, IdleAfter: time.Second, Redis: ratelimit.RedisOptions{Prefix: prefix, Now: clk.Now}}
	a := newLeased(t, dial(t, url), opts)
	b := newLeased(t, dial(t, url), opts)
	ctx := context.Background()
	limit := ratelimit.PerHour(100)
	a.Allow(ctx, "key_idle", limit)
	clk.Add(2 * time.Second)
	for i := range 1000 { // touches every shard, so each one sweeps
		a.Allow(ctx, fmt.Sprintf("key_other_%d", i), limit)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if p, _ := b.Peek(ctx, "key_idle", limit); p.Remaining == 99 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("5 s after the sweep, the idle key's lease is still out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// With Redis unreachable, the leased limiter decides in process as the
// Redis limiter does: limits still hold, and no request waits for Redis
// after the first.
func TestLeased_FallbackWhenUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	var logs logBuffer
	l := newLeased(t, dial(t, "redis://"+dead+"/0"), ratelimit.LeasedOptions{Redis: ratelimit.RedisOptions{Logger: logs.logger(), ProbeInterval: 50 * time.Millisecond}})
	ctx := context.Background()
	limit := ratelimit.PerMinute(100)
	allowed := 0
	for range 150 {
		r, err := l.Allow(ctx, "key_a", limit)
		if err != nil {
			t.Fatal(err)
		}
		if r.Allowed {
			allowed++
		}
	}
	if allowed != 100 {
		t.Errorf("150 requests at 100/m with Redis down: got %d allowed, want 100 (the fallback's)", allowed)
	}
	if !l.Degraded() || logs.count("Redis is unreachable") != 1 {
		t.Errorf("Degraded() %v, log:\n%s", l.Degraded(), logs.b.String())
	}
	if p, err := l.Peek(ctx, "key_a", limit); err != nil || p.Allowed {
		t.Errorf("Peek of a spent key with Redis down: got %+v, %v", p, err)
	}
}

// BenchmarkLeased_Allow measures one decision of the leased limiter on
// Redis, next to BenchmarkRedis_Allow and BenchmarkMemory_Allow: a warm
// key is decided in process, a lease taken every 10,000 requests at
// 1000000/s. See BENCHMARKS.md.
func BenchmarkLeased_Allow(b *testing.B) {
	c := dial(b, redistest.URL(b))
	ctx := context.Background()
	l := ratelimit.PerSecond(ratelimit.MaxRate)
	b.Run("OneKey", func(b *testing.B) {
		r := newLeased(b, c, ratelimit.LeasedOptions{})
		b.ReportAllocs()
		for b.Loop() {
			r.Allow(ctx, "key_one", l)
		}
	})
	b.Run("Refused", func(b *testing.B) {
		r := newLeased(b, c, ratelimit.LeasedOptions{})
		small := ratelimit.PerHour(100)
		for range 101 {
			r.Allow(ctx, "key_spent", small)
		}
		b.ReportAllocs()
		for b.Loop() {
			r.Allow(ctx, "key_spent", small)
		}
	})
	b.Run("Parallel32", func(b *testing.B) {
		r := newLeased(b, c, ratelimit.LeasedOptions{})
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r.Allow(ctx, "key_parallel", l)
			}
		})
	})
	b.Run("Exact", func(b *testing.B) {
		r := newLeased(b, c, ratelimit.LeasedOptions{Exact: true})
		b.ReportAllocs()
		for b.Loop() {
			r.Allow(ctx, "key_exact", l)
		}
	})
}
