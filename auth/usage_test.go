package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
)

// failingUsage is a store whose AddUsage fails while fail is set.
type failingUsage struct {
	*countingStore
	fail  bool
	calls int
}

func (s *failingUsage) AddUsage(ctx context.Context, counts []pihu.UsageCount, now time.Time) error {
	s.calls++
	if s.fail {
		return errors.New("database unreachable")
	}
	return s.countingStore.AddUsage(ctx, counts, now)
}

// checkCounts checks that counts are want, hour by hour.
func checkCounts(tb testing.TB, what string, got []pihu.UsageCount, want ...pihu.UsageCount) {
	tb.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		tb.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func TestCount(t *testing.T) {
	ctx := context.Background()
	store, k, _, now := setup(t)
	start := *now
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }})
	window := func() (time.Time, time.Time) { return start, start.Add(24 * time.Hour) }

	*now = start.Add(10 * time.Minute)
	a.CountAllowed(k)
	a.CountAllowed(k)
	a.CountRefused(k, pihu.RefusalRateLimit)
	*now = start.Add(70 * time.Minute) // the next hour
	a.CountAllowed(k)
	a.CountRefused(k, pihu.RefusalCredits)
	a.CountRefused(k, pihu.RefusalAddress)
	a.CountRefused(k, pihu.RefusalCredits)
	h0 := pihu.UsageCount{KeyID: k.ID, Hour: start, Allowed: 2, Refused: 1, By: pihu.Refusals{pihu.RefusalRateLimit: 1}}
	h1 := pihu.UsageCount{KeyID: k.ID, Hour: start.Add(time.Hour), Allowed: 1, Refused: 3,
		By: pihu.Refusals{pihu.RefusalAddress: 1, pihu.RefusalCredits: 2}}

	t.Run("NothingStoredBeforeFlush", func(t *testing.T) {
		from, to := window()
		got, err := store.Usage(ctx, k.AccountID, k.ID, from, to)
		if err != nil {
			t.Fatal(err)
		}
		checkCounts(t, "stored", got)
	})
	t.Run("UsageShowsPending", func(t *testing.T) {
		from, to := window()
		got, err := a.Usage(ctx, k.AccountID, k.ID, from, to)
		if err != nil {
			t.Fatal(err)
		}
		checkCounts(t, "usage", got, h0, h1)
		// Only the hours asked for.
		got, _ = a.Usage(ctx, k.AccountID, k.ID, start.Add(time.Hour), to)
		checkCounts(t, "usage from the second hour", got, h1)
	})
	t.Run("Flush", func(t *testing.T) {
		if err := a.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		from, to := window()
		got, _ := store.Usage(ctx, k.AccountID, k.ID, from, to)
		checkCounts(t, "stored", got, h0, h1)
		// Flushed counts are not counted twice.
		got, _ = a.Usage(ctx, k.AccountID, k.ID, from, to)
		checkCounts(t, "usage", got, h0, h1)
	})
	t.Run("StoredPlusPending", func(t *testing.T) {
		a.CountRefused(k, pihu.RefusalRateLimit)
		from, to := window()
		got, _ := a.Usage(ctx, k.AccountID, k.ID, from, to)
		h1 := h1
		h1.Refused++
		h1.By[pihu.RefusalRateLimit]++
		checkCounts(t, "usage", got, h0, h1)
		if err := a.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ = store.Usage(ctx, k.AccountID, k.ID, from, to)
		checkCounts(t, "stored", got, h0, h1)
	})
	t.Run("ErrOtherAccount", func(t *testing.T) {
		from, to := window()
		_, err := a.Usage(ctx, pihu.NewID(pihu.PrefixAccount), k.ID, from, to)
		if got := pihu.ErrorCode(err); got != pihu.ENotFound {
			t.Errorf("got %q, want %q", got, pihu.ENotFound)
		}
	})
}

// TestCount_FlushFailureKeepsCounts: counts a flush could not write stay
// visible and are written, once, by the next flush.
func TestCount_FlushFailureKeepsCounts(t *testing.T) {
	ctx := context.Background()
	cs, k, _, now := setup(t)
	store := &failingUsage{countingStore: cs, fail: true}
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }})
	from, to := *now, now.Add(time.Hour)
	a.CountAllowed(k)
	a.CountRefused(k, pihu.RefusalRateLimit)
	a.RecordUse(k)

	if err := a.Flush(ctx); err == nil {
		t.Fatal("Flush: got nil error, want the store's")
	}
	a.CountAllowed(k) // counted while the store was down
	want := pihu.UsageCount{KeyID: k.ID, Hour: from, Allowed: 2, Refused: 1, By: pihu.Refusals{pihu.RefusalRateLimit: 1}}
	got, err := a.Usage(ctx, k.AccountID, k.ID, from, to)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, "usage after a failed flush", got, want)
	// last_used was written all the same: the two batches are separate.
	if stored, _ := cs.Key(ctx, k.AccountID, k.ID); stored.LastUsed == nil || !stored.LastUsed.Equal(*now) {
		t.Errorf("last_used: got %v, want %v", stored.LastUsed, *now)
	}

	store.fail = false
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = cs.Usage(ctx, k.AccountID, k.ID, from, to)
	checkCounts(t, "stored", got, want)
	calls := store.calls
	if err := a.Flush(ctx); err != nil || store.calls != calls {
		t.Errorf("empty flush: got %v and %d store calls, want nil and none", err, store.calls-calls)
	}
}

// TestCount_FailureDropsExpiredHours: counts still unwritten when their
// hour passes retention are dropped, so that a long outage of the store
// cannot grow memory without bound.
func TestCount_FailureDropsExpiredHours(t *testing.T) {
	ctx := context.Background()
	cs, k, _, now := setup(t)
	store := &failingUsage{countingStore: cs, fail: true}
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }})
	start := *now
	a.CountAllowed(k)
	*now = start.Add(pihu.UsageRetention + time.Hour)
	a.CountRefused(k, pihu.RefusalRateLimit)
	if err := a.Flush(ctx); err == nil {
		t.Fatal("Flush: got nil error, want the store's")
	}
	got, _ := a.Usage(ctx, k.AccountID, k.ID, start, now.Add(time.Hour))
	checkCounts(t, "usage", got, pihu.UsageCount{KeyID: k.ID, Hour: start.Add(pihu.UsageRetention + time.Hour), Refused: 1,
		By: pihu.Refusals{pihu.RefusalRateLimit: 1}})
}

// TestCount_NoAllocation: counting a key already counted this hour, the
// warm path of every request, allocates nothing.
func TestCount_NoAllocation(t *testing.T) {
	store, k, _, now := setup(t)
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }})
	a.CountAllowed(k)
	a.CountRefused(k, pihu.RefusalRateLimit)
	if n := testing.AllocsPerRun(100, func() { a.CountAllowed(k); a.CountRefused(k, pihu.RefusalRateLimit) }); n != 0 {
		t.Errorf("allocations per count: got %v, want 0", n)
	}
}

// TestCount_WithoutUsageStore: a KeyStore that keeps no usage counts
// nothing, and Usage says why.
func TestCount_WithoutUsageStore(t *testing.T) {
	cs, k, _, now := setup(t)
	a := auth.New(keysOnly{cs}, auth.Options{Now: func() time.Time { return *now }})
	a.CountAllowed(k)
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Usage(context.Background(), k.AccountID, k.ID, *now, now.Add(time.Hour)); err == nil {
		t.Error("Usage without a UsageStore: got nil error, want one")
	}
	// Options.Usage supplies one.
	a = auth.New(keysOnly{cs}, auth.Options{Now: func() time.Time { return *now }, Usage: cs})
	a.CountAllowed(k)
	got, err := a.Usage(context.Background(), k.AccountID, k.ID, *now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, "usage", got, pihu.UsageCount{KeyID: k.ID, Hour: *now, Allowed: 1})
}

// keysOnly hides every method of a store but those of pihu.KeyStore.
type keysOnly struct{ pihu.KeyStore }

func BenchmarkCount_Warm(b *testing.B) {
	store, k, _, now := setup(b)
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }})
	a.CountAllowed(k)
	b.ReportAllocs()
	for b.Loop() {
		a.CountAllowed(k)
	}
}

// TestCount_ConcurrentFlushAndRead counts requests while flushes run and
// usage is read: every read sees each request once (the totals it sees
// never go down nor past what was counted), and in the end the store has
// every request exactly once.
func TestCount_ConcurrentFlushAndRead(t *testing.T) {
	ctx := context.Background()
	store, k, _, now := setup(t)
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }})
	const workers, each = 4, 300
	from, to := *now, now.Add(time.Hour)
	total := func(counts []pihu.UsageCount) int64 {
		var n int64
		for _, c := range counts {
			n += c.Allowed
		}
		return n
	}

	done := make(chan struct{})
	var background sync.WaitGroup
	background.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				if err := a.Flush(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	background.Go(func() {
		var last int64
		for {
			select {
			case <-done:
				return
			default:
				got, err := a.Usage(ctx, k.AccountID, k.ID, from, to)
				if err != nil {
					t.Error(err)
					return
				}
				if n := total(got); n < last || n > workers*each {
					t.Errorf("usage read: %d requests after %d, of at most %d", n, last, workers*each)
					return
				} else {
					last = n
				}
			}
		}
	})
	var counting sync.WaitGroup
	for range workers {
		counting.Go(func() {
			for i := range each {
				a.CountAllowed(k)
				if i%5 == 0 { // spread the counts over many flushes
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	counting.Wait()
	close(done)
	background.Wait()

	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stored, err := store.Usage(ctx, k.AccountID, k.ID, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if n := total(stored); n != workers*each {
		t.Errorf("stored: got %d requests, want %d", n, workers*each)
	}
}
