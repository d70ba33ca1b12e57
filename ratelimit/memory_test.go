package ratelimit_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/pihu-ai/pihu/ratelimit"
	"github.com/pihu-ai/pihu/ratelimit/ratelimittest"
)

func TestMemory(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T, now func() time.Time) ratelimit.Limiter {
		return ratelimit.NewMemory(ratelimit.MemoryOptions{Now: now})
	})
}

// Keys whose budget is full again are dropped at the next sweep, and keys
// still recovering are kept with their state.
func TestMemory_SweepsIdleKeys(t *testing.T) {
	clk := ratelimittest.NewClock(ratelimittest.Epoch)
	m := ratelimit.NewMemory(ratelimit.MemoryOptions{Now: clk.Now, SweepInterval: time.Minute})
	ctx := context.Background()
	short, long := ratelimit.PerSecond(1), ratelimit.PerHour(1)
	for i := range 1000 {
		m.Allow(ctx, fmt.Sprintf("short-%d", i), short)
	}
	m.Allow(ctx, "long", long)
	if got := m.Len(); got != 1001 {
		t.Fatalf("Len after 1001 keys: got %d", got)
	}
	clk.Add(2 * time.Minute)
	for i := range 1000 { // touches every shard, so each one sweeps
		m.Peek(ctx, fmt.Sprintf("other-%d", i), short)
	}
	if got := m.Len(); got != 1 {
		t.Errorf("Len after the sweep: got %d, want 1 (the key still recovering)", got)
	}
	if r, _ := m.Allow(ctx, "long", long); r.Allowed {
		t.Errorf("the recovering key lost its state: got %+v", r)
	}
}

// By default a shard sweeps every 10 seconds: its idle keys are kept 9
// seconds later and gone 11 seconds later.
func TestMemory_SweepsEvery10sByDefault(t *testing.T) {
	clk := ratelimittest.NewClock(ratelimittest.Epoch)
	m := ratelimit.NewMemory(ratelimit.MemoryOptions{Now: clk.Now})
	ctx := context.Background()
	for i := range 1000 {
		m.Allow(ctx, fmt.Sprintf("key-%d", i), ratelimit.PerSecond(1))
	}
	for _, step := range []struct {
		after time.Duration
		want  int
	}{{9 * time.Second, 1000}, {2 * time.Second, 0}} {
		clk.Add(step.after)
		for i := range 1000 { // touches every shard
			m.Peek(ctx, fmt.Sprintf("other-%d", i), ratelimit.PerSecond(1))
		}
		if got := m.Len(); got != step.want {
			t.Errorf("Len %v later: got %d, want %d", step.after, got, step.want)
		}
	}
}

// MaxKeys bounds the memory however many keys are seen, and a key that
// has to be forgotten early is the one closest to a full budget.
func TestMemory_MaxKeys(t *testing.T) {
	clk := ratelimittest.NewClock(ratelimittest.Epoch)
	m := ratelimit.NewMemory(ratelimit.MemoryOptions{Now: clk.Now, MaxKeys: 640, SweepInterval: 24 * time.Hour})
	ctx := context.Background()
	for i := range 10_000 {
		m.Allow(ctx, fmt.Sprintf("k%d", i), ratelimit.PerHour(1))
	}
	if got := m.Len(); got > 640 {
		t.Errorf("Len: got %d, want at most 640", got)
	}
}

// The decision for a key already tracked allocates nothing.
func TestMemory_AllowDoesNotAllocate(t *testing.T) {
	m := ratelimit.NewMemory(ratelimit.MemoryOptions{})
	ctx := context.Background()
	l := ratelimit.PerSecond(ratelimit.MaxRate)
	m.Allow(ctx, "key_abc", l)
	if n := testing.AllocsPerRun(1000, func() { m.Allow(ctx, "key_abc", l) }); n != 0 {
		t.Errorf("Allow: got %v allocations, want 0", n)
	}
}

func TestParseLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ratelimit.Limit
	}{
		{"1/s", ratelimit.Limit{Rate: 1, Period: time.Second}},
		{"1000/m", ratelimit.Limit{Rate: 1000, Period: time.Minute}},
		{"36/h", ratelimit.Limit{Rate: 36, Period: time.Hour}},
		{"1000000/s", ratelimit.Limit{Rate: 1000000, Period: time.Second}},
	} {
		got, err := ratelimit.ParseLimit(tc.in, "rate_limit")
		if err != nil || got != tc.want {
			t.Errorf("ParseLimit(%q): got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if got.String() != tc.in {
			t.Errorf("%+v.String(): got %q, want %q", got, got.String(), tc.in)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("ParseLimit(%q) is not valid: %v", tc.in, err)
		}
	}
	for _, in := range []string{"", "/m", "100", "100/", "0/m", "-1/m", "+1/m", "01/m", "1.5/m", "100/d", "100/M", "100/min",
		"1000001/s", "99999999999999999999/m", " 1/m", "1/m ", "1//m", "1/s/m", "１/m"} {
		_, err := ratelimit.ParseLimit(in, "rate_limit")
		if err == nil {
			t.Errorf("ParseLimit(%q): got no error", in)
			continue
		}
		if got := err.Error(); got == "" || !strings.Contains(got, "(rate_limit)") || !strings.Contains(got, "parameter_invalid") {
			t.Errorf("ParseLimit(%q): error %q does not name parameter_invalid on rate_limit", in, got)
		}
	}
}

// FuzzParseLimit: a limit ParseLimit accepts is valid and reads back the
// same.
func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"1/s", "1000/m", "1000000/h", "0/m", "01/m", "1000001/s", "5/d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ratelimit.ParseLimit(s, "rate_limit")
		if err != nil {
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("ParseLimit(%q) = %+v, which is invalid: %v", s, l, err)
		}
		if l.String() != s {
			t.Fatalf("ParseLimit(%q).String() = %q", s, l.String())
		}
	})
}

// BenchmarkMemory_Allow measures one decision. See BENCHMARKS.md.
func BenchmarkMemory_Allow(b *testing.B) {
	ctx := context.Background()
	l := ratelimit.PerSecond(ratelimit.MaxRate) // never refuses: the common case
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("key_%022d", i)
	}
	b.Run("OneKey", func(b *testing.B) {
		m := ratelimit.NewMemory(ratelimit.MemoryOptions{})
		b.ReportAllocs()
		for b.Loop() {
			m.Allow(ctx, keys[0], l)
		}
	})
	b.Run("100kKeys", func(b *testing.B) {
		m := ratelimit.NewMemory(ratelimit.MemoryOptions{})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			m.Allow(ctx, keys[i%len(keys)], l)
			i++
		}
	})
	b.Run("Refused", func(b *testing.B) {
		m := ratelimit.NewMemory(ratelimit.MemoryOptions{})
		small := ratelimit.PerHour(1)
		m.Allow(ctx, keys[0], small)
		b.ReportAllocs()
		for b.Loop() {
			m.Allow(ctx, keys[0], small)
		}
	})
	b.Run("Parallel100kKeys", func(b *testing.B) {
		m := ratelimit.NewMemory(ratelimit.MemoryOptions{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := int(time.Now().UnixNano()) % len(keys)
			for pb.Next() {
				m.Allow(ctx, keys[i%len(keys)], l)
				i++
			}
		})
	})
	b.Run("ParallelOneKey", func(b *testing.B) {
		m := ratelimit.NewMemory(ratelimit.MemoryOptions{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Allow(ctx, keys[0], l)
			}
		})
	})
}

// TestMemory_KeepsNoCallerMemory: the limiter holds copies of its keys of
// its own. A key that is part of a larger object (the auth cache hands out
// a key's id inside the key's copy) does not keep that object alive,
// neither after the key's first request nor after its next, although Go
// replaces a map's string key on every assignment.
func TestMemory_KeepsNoCallerMemory(t *testing.T) {
	m := ratelimit.NewMemory(ratelimit.MemoryOptions{})
	limit := ratelimit.Limit{Rate: 10, Period: time.Minute}
	freed := make(chan int, 2)
	for i := range 2 { // the first request inserts the key, the second updates it
		big := new([4096]byte)
		copy(big[:], "key_1")
		runtime.AddCleanup(big, func(i int) { freed <- i }, i)
		if _, err := m.Allow(context.Background(), unsafe.String(&big[0], 5), limit); err != nil {
			t.Fatal(err)
		}
	}
	if m.Len() != 1 {
		t.Fatalf("%d keys tracked, want 1", m.Len())
	}
	for n, deadline := 0, time.Now().Add(5*time.Second); n < 2; {
		runtime.GC()
		select {
		case <-freed:
			n++
		case <-time.After(10 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatalf("%d of the 2 objects holding the key were freed; the limiter keeps the others alive", n)
			}
		}
	}
	runtime.KeepAlive(m)
}
