package guard

import (
	"sync"
	"time"
)

// Breaker is a circuit breaker: it counts the consecutive failures of the
// calls it lets through and, after Threshold of them, opens: it lets no
// call through until a probe (a cheap call made by its owner, not by a
// client) succeeds. Probes are due after a backoff that doubles after each
// failed probe, from MinBackoff up to MaxBackoff, so that a store that is
// down is asked once in a while rather than by every request.
//
// It is safe for concurrent use. The zero Breaker is not ready: use
// NewBreaker.
type Breaker struct {
	threshold  int
	minBackoff time.Duration
	maxBackoff time.Duration
	now        func() time.Time

	mu       sync.Mutex
	failures int // consecutive, while closed
	open     bool
	backoff  time.Duration // the wait before the next probe, while open
	due      time.Time     // when the next probe is due, while open
}

// BreakerOptions configure a Breaker; zero values take the defaults.
type BreakerOptions struct {
	// Threshold is how many consecutive failures open the breaker
	// (default 3).
	Threshold int
	// MinBackoff is the wait before the first probe (default 250 ms);
	// MaxBackoff bounds the waits as they double (default 2 s).
	MinBackoff, MaxBackoff time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// NewBreaker returns a closed Breaker.
func NewBreaker(opts BreakerOptions) *Breaker {
	if opts.Threshold <= 0 {
		opts.Threshold = 3
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 250 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(2*time.Second, opts.MinBackoff)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Breaker{threshold: opts.Threshold, minBackoff: opts.MinBackoff, maxBackoff: opts.MaxBackoff, now: opts.Now}
}

// Allow reports whether a call may go through: true while the breaker is
// closed.
func (b *Breaker) Allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.open
}

// Open reports whether the breaker is open.
func (b *Breaker) Open() bool { return !b.Allow() }

// Success records a call that the store answered (with a result or a
// refusal of its own, such as not found): the failures start again from
// zero. A success while open (a call let through before it opened) does
// not close it: only a probe does.
func (b *Breaker) Success() {
	b.mu.Lock()
	b.failures = 0
	b.mu.Unlock()
}

// Failure records a call that failed for the store's unavailability, and
// reports whether it opened the breaker.
func (b *Breaker) Failure() (opened bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open {
		return false
	}
	b.failures++
	if b.failures < b.threshold {
		return false
	}
	b.open, b.failures = true, 0
	b.backoff = b.minBackoff
	b.due = b.now().Add(b.backoff)
	return true
}

// Trip opens the breaker at once, whatever the count: its owner knows the
// store is down (it never connected, or refused it).
func (b *Breaker) Trip() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		b.open, b.failures = true, 0
		b.backoff = b.minBackoff
		b.due = b.now().Add(b.backoff)
	}
}

// ProbeIn returns how long until the next probe is due (0 or less: now);
// it is meaningless while the breaker is closed.
func (b *Breaker) ProbeIn() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.due.Sub(b.now())
}

// Probed records the outcome of a probe: a success closes the breaker, a
// failure doubles the wait before the next one, up to MaxBackoff. It
// reports whether the breaker closed.
func (b *Breaker) Probed(ok bool) (closed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return false
	}
	if ok {
		b.open, b.failures = false, 0
		return true
	}
	b.backoff = min(2*b.backoff, b.maxBackoff)
	b.due = b.now().Add(b.backoff)
	return false
}
