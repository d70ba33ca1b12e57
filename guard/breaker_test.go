package guard_test

import (
	"testing"
	"time"

	"github.com/pihu-ai/pihu/guard"
)

// clock is a clock the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC)} }
func wantAllow(t *testing.T, b *guard.Breaker, want bool) {
	t.Helper()
	if got := b.Allow(); got != want {
		t.Fatalf("Allow: got %v, want %v", got, want)
	}
}

// TestBreaker runs the breaker through an outage on a clock of its own:
// it opens after Threshold consecutive failures (a success in between
// starts the count again), lets nothing through while open, has its probes
// due after a backoff that doubles after each failed probe up to
// MaxBackoff, and closes on the first probe that succeeds.
func TestBreaker(t *testing.T) {
	c := newClock()
	b := guard.NewBreaker(guard.BreakerOptions{Threshold: 3, MinBackoff: 250 * time.Millisecond, MaxBackoff: time.Second, Now: c.now})
	wantAllow(t, b, true)

	t.Run("SuccessResetsTheCount", func(t *testing.T) {
		for range 2 {
			if b.Failure() {
				t.Fatal("opened before the threshold")
			}
		}
		b.Success()
		for range 2 {
			if b.Failure() {
				t.Fatal("opened after a success and two failures; want the count started again")
			}
		}
		wantAllow(t, b, true)
	})
	t.Run("OpensAtTheThreshold", func(t *testing.T) {
		if !b.Failure() {
			t.Fatal("the third consecutive failure did not open the breaker")
		}
		wantAllow(t, b, false)
		if b.Failure() {
			t.Error("a failure while open reported opening again")
		}
		// A call let through before it opened succeeds: only a probe closes.
		b.Success()
		wantAllow(t, b, false)
	})
	t.Run("ProbesBackOff", func(t *testing.T) {
		for _, want := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, time.Second} {
			if got := b.ProbeIn(); got != want {
				t.Fatalf("next probe in %v, want %v", got, want)
			}
			c.add(want)
			if got := b.ProbeIn(); got != 0 {
				t.Fatalf("after the wait, next probe in %v, want 0 (due)", got)
			}
			if b.Probed(false) {
				t.Fatal("a failed probe closed the breaker")
			}
			wantAllow(t, b, false)
		}
	})
	t.Run("ProbeCloses", func(t *testing.T) {
		if !b.Probed(true) {
			t.Fatal("a successful probe did not close the breaker")
		}
		wantAllow(t, b, true)
		if b.Probed(true) {
			t.Error("a probe while closed reported closing")
		}
		// Closed again, it takes Threshold failures anew, and the backoff
		// starts from MinBackoff.
		b.Failure()
		b.Failure()
		wantAllow(t, b, true)
		b.Failure()
		wantAllow(t, b, false)
		if got := b.ProbeIn(); got != 250*time.Millisecond {
			t.Errorf("next probe in %v after opening again, want 250ms", got)
		}
	})
	t.Run("Defaults", func(t *testing.T) {
		b := guard.NewBreaker(guard.BreakerOptions{Now: c.now})
		for range 2 {
			b.Failure()
		}
		wantAllow(t, b, true)
		b.Failure()
		wantAllow(t, b, false)
		for _, want := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 2 * time.Second} {
			if got := b.ProbeIn(); got != want {
				t.Fatalf("next probe in %v, want %v", got, want)
			}
			c.add(want)
			b.Probed(false)
		}
	})
	t.Run("Trip", func(t *testing.T) {
		b := guard.NewBreaker(guard.BreakerOptions{Now: c.now})
		b.Trip()
		wantAllow(t, b, false)
		b.Probed(true)
		wantAllow(t, b, true)
	})
}
