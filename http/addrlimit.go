package http

import (
	"context"
	"sync"
	"time"
)

// AddressLimiter limits a kind of request per client address, such as
// reports of leaked keys, which need no key and so have no key's limit.
// Being limited is a result (ok false, with how long to wait), not an
// error. Implementations are safe for concurrent use.
type AddressLimiter interface {
	Allow(ctx context.Context, addr string) (ok bool, retryAfter time.Duration)
}

// memoryAddressLimiter is an AddressLimiter in process: a token bucket per
// address holding up to n tokens, refilled smoothly at n per period.
type memoryAddressLimiter struct {
	n   float64
	per time.Duration
	now func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxAddresses bounds the limiter's memory: past it, the buckets of
// addresses that have waited long enough to be full again are dropped.
const maxAddresses = 100_000

// newMemoryAddressLimiter allows each address n requests a period, in a
// burst or spread out, on the clock now.
func newMemoryAddressLimiter(n int, per time.Duration, now func() time.Time) *memoryAddressLimiter {
	return &memoryAddressLimiter{n: float64(n), per: per, now: now, buckets: make(map[string]*bucket)}
}

func (l *memoryAddressLimiter) Allow(_ context.Context, addr string) (bool, time.Duration) {
	now := l.now()
	rate := l.n / float64(l.per) // tokens a nanosecond
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[addr]
	if !ok {
		if len(l.buckets) >= maxAddresses {
			l.sweep(now)
		}
		b = &bucket{tokens: l.n, at: now}
		l.buckets[addr] = b
	}
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = min(l.n, b.tokens+float64(elapsed)*rate)
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate)
}

// sweep drops the buckets that would be full at now; if every address is
// still limited, it drops them all rather than grow without bound.
func (l *memoryAddressLimiter) sweep(now time.Time) {
	for addr, b := range l.buckets {
		if now.Sub(b.at) >= l.per {
			delete(l.buckets, addr)
		}
	}
	if len(l.buckets) >= maxAddresses {
		clear(l.buckets)
	}
}
