package ratelimit_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/internal/redistest"
	"github.com/pihu-ai/pihu/ratelimit"
	"github.com/pihu-ai/pihu/ratelimit/ratelimittest"
	"github.com/redis/go-redis/v9"
)

func dial(t testing.TB, url string) *redis.Client {
	t.Helper()
	c, err := ratelimit.DialRedis(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newRedis(t testing.TB, c redis.UniversalClient, opts ratelimit.RedisOptions) *ratelimit.Redis {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = redistest.Prefix(t)
	}
	r := ratelimit.NewRedis(c, opts)
	t.Cleanup(func() { r.Close() })
	return r
}

// The Redis limiter passes the conformance suite on the suite's clock,
// which the script takes as its time.
func TestRedis(t *testing.T) {
	c := dial(t, redistest.URL(t))
	ratelimittest.Run(t, func(t *testing.T, now func() time.Time) ratelimit.Limiter {
		r := newRedis(t, c, ratelimit.RedisOptions{Now: now})
		t.Cleanup(func() {
			if r.Degraded() {
				t.Error("the limiter fell back to memory: the suite did not run on Redis")
			}
		})
		return r
	})
}

// On the server's clock (the default), two limiters on one Redis, as two
// instances would be, share one budget, and the numbers are those of the
// suite up to the time that passes between calls.
func TestRedis_ServerClockShared(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t)
	a := newRedis(t, dial(t, url), ratelimit.RedisOptions{Prefix: prefix})
	b := newRedis(t, dial(t, url), ratelimit.RedisOptions{Prefix: prefix})
	ctx := context.Background()
	l := ratelimit.PerMinute(6)
	for i := range 6 {
		lim := a
		if i%2 == 1 {
			lim = b
		}
		r, err := lim.Allow(ctx, "key_shared", l)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Allowed || r.Limit != 6 || r.Remaining != 5-i {
			t.Fatalf("request %d: got %+v, want allowed with %d remaining", i+1, r, 5-i)
		}
		if want := time.Duration(i+1) * 10 * time.Second; r.ResetAfter > want || r.ResetAfter < want-time.Second {
			t.Errorf("request %d: ResetAfter %s, want about %s", i+1, r.ResetAfter, want)
		}
	}
	for _, lim := range []*ratelimit.Redis{a, b} {
		r, err := lim.Allow(ctx, "key_shared", l)
		if err != nil {
			t.Fatal(err)
		}
		if r.Allowed || r.RetryAfter <= 9*time.Second || r.RetryAfter > 10*time.Second {
			t.Errorf("7th request: got %+v, want refused with RetryAfter about 10s", r)
		}
	}
	p, err := b.Peek(ctx, "key_shared", l)
	if err != nil || p.Allowed {
		t.Errorf("Peek of a spent key: got %+v, %v", p, err)
	}
	if a.Degraded() || b.Degraded() {
		t.Error("Degraded() is true with Redis up")
	}
}

// logBuffer is a concurrency-safe log destination.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// With Redis unreachable from the start (a port nobody listens on), every
// decision is made in process: limits still hold, valid requests are not
// refused, the failure is logged once, and no request waits for Redis
// after the first.
func TestRedis_FallbackWhenUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	var logs logBuffer
	r := newRedis(t, dial(t, "redis://"+dead+"/0"), ratelimit.RedisOptions{Logger: logs.logger(), ProbeInterval: 50 * time.Millisecond})
	ctx := context.Background()
	l := ratelimit.PerMinute(5)
	for i := range 5 {
		res, err := r.Allow(ctx, "key_a", l)
		if err != nil || !res.Allowed || res.Remaining != 4-i {
			t.Fatalf("request %d with Redis down: got %+v, %v; want allowed, %d remaining", i+1, res, err, 4-i)
		}
	}
	if res, err := r.Allow(ctx, "key_a", l); err != nil || res.Allowed {
		t.Fatalf("6th request with Redis down: got %+v, %v; want refused (the fallback limits)", res, err)
	}
	if !r.Degraded() {
		t.Error("Degraded() is false with Redis down")
	}
	start := time.Now()
	for range 1000 {
		r.Allow(ctx, "key_b", ratelimit.PerSecond(ratelimit.MaxRate))
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("1000 decisions while degraded took %s: they should not wait for Redis", d)
	}
	time.Sleep(300 * time.Millisecond) // several probes fail
	if n := logs.count("Redis is unreachable"); n != 1 {
		t.Errorf("got %d log lines about Redis being unreachable, want 1:\n%s", n, logs.b.String())
	}
	if _, err := r.Allow(ctx, "key_a", ratelimit.Limit{Rate: 0, Period: time.Minute}); err == nil {
		t.Error("an invalid limit gave no error while degraded")
	}
}

// A Redis that accepts connections but never answers (hung, or stopped
// with SIGSTOP): a decision waits at most Timeout, then falls back.
func TestRedis_FallbackWhenHung(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	var logs logBuffer
	r := newRedis(t, dial(t, "redis://"+ln.Addr().String()+"/0"), ratelimit.RedisOptions{Timeout: 100 * time.Millisecond, Logger: logs.logger()})
	ctx := context.Background()
	start := time.Now()
	res, err := r.Allow(ctx, "key_a", ratelimit.PerMinute(5))
	took := time.Since(start)
	if err != nil || !res.Allowed || res.Remaining != 4 {
		t.Fatalf("first request to a hung Redis: got %+v, %v; want allowed by the fallback", res, err)
	}
	if took > time.Second {
		t.Errorf("first request to a hung Redis took %s, want about the 100 ms timeout", took)
	}
	start = time.Now()
	r.Allow(ctx, "key_a", ratelimit.PerMinute(5))
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Errorf("second request took %s: it should not wait for Redis again", took)
	}
	if !r.Degraded() || logs.count("Redis is unreachable") != 1 {
		t.Errorf("Degraded() %v, log:\n%s", r.Degraded(), logs.b.String())
	}
}

// A Redis that goes away mid-use: decisions fall back to the process
// (a key's limit still holds), and when Redis is back the limiter returns
// to it within a probe interval, logging each change once.
func TestRedis_FallbackAndRecovery(t *testing.T) {
	srv := redistest.Start(t)
	var logs logBuffer
	prefix := redistest.Prefix(t)
	r := newRedis(t, dial(t, srv.URL()), ratelimit.RedisOptions{Prefix: prefix, Logger: logs.logger(), ProbeInterval: 100 * time.Millisecond})
	ctx := context.Background()
	l := ratelimit.PerMinute(4)
	for i := range 2 {
		if res, err := r.Allow(ctx, "key_a", l); err != nil || !res.Allowed {
			t.Fatalf("request %d: got %+v, %v", i+1, res, err)
		}
	}
	if r.Degraded() {
		t.Fatal("degraded with Redis up")
	}

	srv.Stop()
	allowed := 0
	for range 10 {
		res, err := r.Allow(ctx, "key_a", l)
		if err != nil {
			t.Fatalf("with Redis stopped: %v", err)
		}
		if res.Allowed {
			allowed++
		}
	}
	// The fallback starts from a full budget: it cannot know what Redis
	// had, and refusing a valid key would be worse than one more burst.
	if allowed != 4 {
		t.Errorf("with Redis stopped, 10 requests at 4/m: got %d allowed, want 4 (one burst, in process)", allowed)
	}
	if !r.Degraded() {
		t.Error("Degraded() is false with Redis stopped")
	}

	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for r.Degraded() {
		if time.Now().After(deadline) {
			t.Fatal("still degraded 5 s after Redis came back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Decisions are in Redis again: a budget spent through this limiter
	// is spent for a second one on the same Redis.
	for i := range 4 {
		if res, err := r.Allow(ctx, "key_c", l); err != nil || !res.Allowed {
			t.Fatalf("after recovery, request %d: got %+v, %v", i+1, res, err)
		}
	}
	other := newRedis(t, dial(t, srv.URL()), ratelimit.RedisOptions{Prefix: prefix})
	if res, err := other.Allow(ctx, "key_c", l); err != nil || res.Allowed {
		t.Errorf("after recovery, another instance's 5th request: got %+v, %v; want refused", res, err)
	}
	if n := logs.count("Redis is unreachable"); n != 1 {
		t.Errorf("got %d log lines about Redis being unreachable, want 1:\n%s", n, logs.b.String())
	}
	if n := logs.count("Redis is back"); n != 1 {
		t.Errorf("got %d log lines about Redis being back, want 1:\n%s", n, logs.b.String())
	}
}

// BenchmarkRedis_Allow measures one decision in Redis, next to
// BenchmarkMemory_Allow. See BENCHMARKS.md.
func BenchmarkRedis_Allow(b *testing.B) {
	c := dial(b, redistest.URL(b))
	ctx := context.Background()
	l := ratelimit.PerSecond(ratelimit.MaxRate)
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("key_%022d", i)
	}
	// The floor: one round trip to Redis, with no script.
	b.Run("Ping", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.Ping(ctx)
		}
	})
	b.Run("OneKey", func(b *testing.B) {
		r := newRedis(b, c, ratelimit.RedisOptions{})
		b.ReportAllocs()
		for b.Loop() {
			r.Allow(ctx, keys[0], l)
		}
	})
	b.Run("100kKeys", func(b *testing.B) {
		r := newRedis(b, c, ratelimit.RedisOptions{})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r.Allow(ctx, keys[i%len(keys)], l)
			i++
		}
	})
	b.Run("Refused", func(b *testing.B) {
		r := newRedis(b, c, ratelimit.RedisOptions{})
		small := ratelimit.PerHour(1)
		r.Allow(ctx, keys[0], small)
		b.ReportAllocs()
		for b.Loop() {
			r.Allow(ctx, keys[0], small)
		}
	})
	// 32 requests in flight at once, as a busy server has: Redis
	// pipelines them over the pool's connections.
	b.Run("Parallel32", func(b *testing.B) {
		r := newRedis(b, c, ratelimit.RedisOptions{})
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			i := int(time.Now().UnixNano()) % len(keys)
			for pb.Next() {
				r.Allow(ctx, keys[i%len(keys)], l)
				i++
			}
		})
	})
	b.Run("Degraded", func(b *testing.B) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		dead := ln.Addr().String()
		ln.Close()
		r := newRedis(b, dial(b, "redis://"+dead+"/0"), ratelimit.RedisOptions{Logger: slog.New(slog.DiscardHandler)})
		r.Allow(ctx, keys[0], l) // fails over
		b.ReportAllocs()
		for b.Loop() {
			r.Allow(ctx, keys[0], l)
		}
	})
}
