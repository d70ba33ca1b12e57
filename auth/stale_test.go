package auth_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
)

// outageStore is a real store whose reads of keys and accounts fail as an
// unreachable database's do (pihu.EUnavailable), or with err, while set.
type outageStore struct {
	*countingStore
	err error
}

func (s *outageStore) KeyByDigest(ctx context.Context, d []byte) (*pihu.Key, error) {
	if s.err != nil {
		s.reads++
		return nil, s.err
	}
	return s.countingStore.KeyByDigest(ctx, d)
}

func (s *outageStore) Key(ctx context.Context, accountID, id string) (*pihu.Key, error) {
	if s.err != nil {
		return nil, s.err
	}
	return s.countingStore.Key(ctx, accountID, id)
}

var errStoreDown = pihu.Errorf(pihu.EUnavailable, "The database is unreachable.")

// staleObserver counts stale answers.
type staleObserver struct {
	mu    sync.Mutex
	stale int
}

func (o *staleObserver) CacheHit()     {}
func (o *staleObserver) CacheMiss()    {}
func (o *staleObserver) Flushed(error) {}
func (o *staleObserver) StaleHit()     { o.mu.Lock(); o.stale++; o.mu.Unlock() }

// TestStaleIfError takes the store down under an Authenticator with a
// TTL of 30 s and a stale-if-error of 15 minutes, on a clock of the
// test's: a key verified before the outage keeps working past its TTL,
// up to TTL + stale-if-error from when it was read and not a nanosecond
// more; an unknown key, a key invalidated during the outage and an
// error other than unavailability are not answered stale; once the store
// answers, the key is read again at its next use, and a change made
// meanwhile is seen; the outage is logged once when it starts and once
// when it ends, with the count of stale answers.
func TestStaleIfError(t *testing.T) {
	ctx := context.Background()
	const ttl, staleFor = 30 * time.Second, 15 * time.Minute
	newAuth := func(t *testing.T, stale time.Duration) (*auth.Authenticator, *outageStore, *pihu.Key, string, *time.Time, *staleObserver, *bytes.Buffer) {
		t.Helper()
		cs, k, secret, now := setup(t)
		store := &outageStore{countingStore: cs}
		obs := &staleObserver{}
		logs := &bytes.Buffer{}
		a := auth.New(store, auth.Options{Now: func() time.Time { return *now }, TTL: ttl, StaleIfError: stale, Observer: obs,
			Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if _, err := a.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
		return a, store, k, secret, now, obs, logs
	}
	start := func(now *time.Time) time.Time { return *now }

	t.Run("WarmKeyOutlivesTheTTL", func(t *testing.T) {
		a, store, k, secret, now, obs, logs := newAuth(t, staleFor)
		loaded := start(now)
		store.err = errStoreDown
		for _, at := range []time.Duration{ttl, ttl + time.Minute, ttl + staleFor - time.Nanosecond} {
			*now = loaded.Add(at)
			got, err := a.Authenticate(ctx, secret)
			if err != nil || got.ID != k.ID {
				t.Fatalf("%v after the read, the store down: got %v, %v; want the key", at, got, err)
			}
		}
		if obs.stale != 3 {
			t.Errorf("stale answers observed: got %d, want 3", obs.stale)
		}
		*now = loaded.Add(ttl + staleFor)
		if _, err := a.Authenticate(ctx, secret); pihu.ErrorCode(err) != pihu.EUnavailable {
			t.Errorf("TTL + stale-if-error after the read: got %v, want %s", err, pihu.EUnavailable)
		}
		if n := strings.Count(logs.String(), "answered from the cache"); n != 1 {
			t.Errorf("%d lines say keys are answered stale, want 1:\n%s", n, logs)
		}

		// Back: read again at the next use, and logged once with the count.
		store.err = nil
		reads := store.reads
		if _, err := a.Authenticate(ctx, secret); err != nil || store.reads != reads+1 {
			t.Errorf("store back: got %v with %d reads, want the key and one read", err, store.reads-reads)
		}
		if !strings.Contains(logs.String(), "the store answers again") || !strings.Contains(logs.String(), "stale_answers=3") {
			t.Errorf("no line saying the store answers again after 3 stale answers:\n%s", logs)
		}
	})

	t.Run("Disabled", func(t *testing.T) {
		a, store, _, secret, now, _, _ := newAuth(t, 0)
		store.err = errStoreDown
		*now = now.Add(ttl)
		if _, err := a.Authenticate(ctx, secret); pihu.ErrorCode(err) != pihu.EUnavailable {
			t.Errorf("stale-if-error 0, past the TTL: got %v, want %s", err, pihu.EUnavailable)
		}
	})

	t.Run("UnknownKey", func(t *testing.T) {
		a, store, _, _, _, _, _ := newAuth(t, staleFor)
		store.err = errStoreDown
		if _, err := a.Authenticate(ctx, pihu.NewSecret(pihu.Live)); pihu.ErrorCode(err) != pihu.EUnavailable {
			t.Errorf("a key never seen: got %v, want %s", err, pihu.EUnavailable)
		}
	})

	t.Run("InvalidatedDuringTheOutage", func(t *testing.T) {
		a, store, k, secret, now, _, _ := newAuth(t, staleFor)
		store.err = errStoreDown
		*now = now.Add(ttl)
		a.Invalidate(k.ID) // a revocation heard from another instance
		if _, err := a.Authenticate(ctx, secret); pihu.ErrorCode(err) != pihu.EUnavailable {
			t.Errorf("a key invalidated during the outage: got %v, want %s", err, pihu.EUnavailable)
		}
	})

	t.Run("OtherErrors", func(t *testing.T) {
		a, store, _, secret, now, _, _ := newAuth(t, staleFor)
		store.err = pihu.Errorf(pihu.EInternal, "broken")
		*now = now.Add(ttl)
		if _, err := a.Authenticate(ctx, secret); pihu.ErrorCode(err) != pihu.EInternal {
			t.Errorf("a fault that is not unavailability: got %v, want %s", err, pihu.EInternal)
		}
	})

	t.Run("ChangeMadeMeanwhileSeenOnceBack", func(t *testing.T) {
		a, store, k, secret, now, _, _ := newAuth(t, staleFor)
		store.err = errStoreDown
		*now = now.Add(ttl)
		if _, err := a.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
		// Revoked where this instance did not hear it.
		if _, err := store.RevokeKey(ctx, k.AccountID, k.ID, *now); err != nil {
			t.Fatal(err)
		}
		store.err = nil
		if _, err := a.Authenticate(ctx, secret); pihu.ErrorCode(err) != pihu.ERevokedAPIKey {
			t.Errorf("once the store is back: got %v, want revoked", err)
		}
	})

	t.Run("TokenParent", func(t *testing.T) {
		// The parent of an access token is looked up by id: stale too.
		a, store, k, _, now, _, _ := newAuth(t, staleFor)
		store.err = errStoreDown
		*now = now.Add(ttl)
		if got, err := a.KeyByID(ctx, k.AccountID, k.ID, nil); err != nil || got.ID != k.ID {
			t.Errorf("parent by id during the outage: got %v, %v; want the key", got, err)
		}
		if _, err := a.KeyByID(ctx, "acct_other", k.ID, nil); pihu.ErrorCode(err) != pihu.EUnavailable {
			t.Errorf("another account's id during the outage: got %v, want %s", err, pihu.EUnavailable)
		}
	})
}

// TestStaleIfError_Reconnect: the invalidations heard by Redis pub/sub
// resume during a store outage. The entries cached before may have missed
// an invalidation: they are not trusted fresh any more, but they still
// answer stale while the store is down, and are read again once it is
// back, so that a revocation missed in the gap does not survive the
// outage.
func TestStaleIfError_Reconnect(t *testing.T) {
	ctx := context.Background()
	cs, k, secret, now := setup(t)
	store := &outageStore{countingStore: cs}
	bus := newLocalBus()
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }, TTL: time.Hour, StaleIfError: time.Hour, Invalidations: bus, Logger: slog.New(slog.DiscardHandler)})
	listen(t, a, bus)
	bus.setConnected(true)
	if _, err := a.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	bus.setConnected(false)
	// Revoked elsewhere while the subscription is down: the message is
	// lost. Then the store goes down too.
	if _, err := store.RevokeKey(ctx, k.AccountID, k.ID, *now); err != nil {
		t.Fatal(err)
	}
	store.err = errStoreDown
	bus.setConnected(true)
	reads := store.reads
	if _, err := a.Authenticate(ctx, secret); err != nil {
		t.Errorf("after reconnecting, the store down: got %v, want the key, stale", err)
	}
	if store.reads != reads+1 {
		t.Errorf("after reconnecting: %d reads, want 1 (the entry is no longer fresh)", store.reads-reads)
	}
	store.err = nil
	if _, err := a.Authenticate(ctx, secret); pihu.ErrorCode(err) != pihu.ERevokedAPIKey {
		t.Errorf("once the store is back: got %v, want revoked", err)
	}
}

// touchOutage is a store whose TouchKeys fails, as an unreachable
// database's does, for its first fails calls.
type touchOutage struct {
	*countingStore
	mu    sync.Mutex
	fails int
	calls int
}

func (s *touchOutage) TouchKeys(ctx context.Context, uses map[string]time.Time) error {
	s.mu.Lock()
	s.calls++
	fail := s.calls <= s.fails
	s.mu.Unlock()
	if fail {
		return errStoreDown
	}
	return s.countingStore.TouchKeys(ctx, uses)
}

// TestRun_LogsAnOutageOnce: flushes that fail through an outage of the
// store are logged once when the first fails and once when one works
// again, with the count, and what was kept is written then.
func TestRun_LogsAnOutageOnce(t *testing.T) {
	cs, k, secret, now := setup(t)
	store := &touchOutage{countingStore: cs, fails: 5}
	logs := &syncBuffer{}
	at := *now
	a := auth.New(store, auth.Options{Now: func() time.Time { return at }, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if _, err := a.Authenticate(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx, time.Millisecond); close(done) }()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "works again"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no line saying flushing works again:\n%s", logs)
		}
	}
	cancel()
	<-done
	if n := strings.Count(logs.String(), "flushing key uses failed"); n != 1 || !strings.Contains(logs.String(), "failed_flushes=5") {
		t.Errorf("want one line for 5 failed flushes, got %d:\n%s", n, logs)
	}
	if got, _ := store.Key(context.Background(), k.AccountID, k.ID); got.LastUsed == nil {
		t.Error("last_used not written once the store was back")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
