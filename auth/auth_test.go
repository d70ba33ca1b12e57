package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/sqlite"
)

// countingStore counts the reads of the hot path, to show that a warm
// cache does none.
type countingStore struct {
	*sqlite.DB
	reads int
}

func (s *countingStore) KeyByDigest(ctx context.Context, d []byte) (*pihu.Key, error) {
	s.reads++
	return s.DB.KeyByDigest(ctx, d)
}

func setup(tb testing.TB) (*countingStore, *pihu.Key, string, *time.Time) {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), sqlitetest.Path(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	now := time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC)
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "A", Created: now}
	req := pihu.OwnerKeyRequest()
	req.Expiration = "1h"
	k, secret, err := pihu.NewKey(a.ID, req, nil, now)
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.CreateAccount(context.Background(), a, k); err != nil {
		tb.Fatal(err)
	}
	return &countingStore{DB: db}, k, secret, &now
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	store, k, secret, now := setup(t)
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }, TTL: time.Minute})

	t.Run("WarmCacheReadsNothing", func(t *testing.T) {
		for range 3 {
			got, err := a.Authenticate(ctx, secret)
			if err != nil || got.ID != k.ID {
				t.Fatalf("got %v, %v", got, err)
			}
		}
		if store.reads != 1 {
			t.Errorf("store reads: got %d, want 1", store.reads)
		}
	})
	t.Run("TTLReadsAgain", func(t *testing.T) {
		*now = now.Add(2 * time.Minute)
		if _, err := a.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
		if store.reads != 2 {
			t.Errorf("store reads: got %d, want 2", store.reads)
		}
	})
	t.Run("InvalidateReadsAgain", func(t *testing.T) {
		a.Invalidate(k.ID)
		a.Authenticate(ctx, secret)
		if store.reads != 3 {
			t.Errorf("store reads: got %d, want 3", store.reads)
		}
	})
	t.Run("ErrUnknown", func(t *testing.T) {
		_, err := a.Authenticate(ctx, pihu.NewSecret(pihu.Live))
		if got := pihu.ErrorCode(err); got != pihu.EInvalidAPIKey {
			t.Errorf("got %q, want %q", got, pihu.EInvalidAPIKey)
		}
	})
	t.Run("ErrMalformedReadsNothing", func(t *testing.T) {
		before := store.reads
		_, err := a.Authenticate(ctx, corrupt(secret))
		if pihu.ErrorCode(err) != pihu.EInvalidAPIKey || store.reads != before {
			t.Errorf("got %v and %d reads, want invalid_api_key and none", err, store.reads-before)
		}
	})
	t.Run("LastUsedFlushed", func(t *testing.T) {
		if err := a.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := store.Key(ctx, k.AccountID, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastUsed == nil || !got.LastUsed.Equal(*now) {
			t.Errorf("last_used: got %v, want %v", got.LastUsed, *now)
		}
	})
	t.Run("ErrExpiredWhileCached", func(t *testing.T) {
		*now = k.Expires.Add(0)
		_, err := a.Authenticate(ctx, secret)
		if got := pihu.ErrorCode(err); got != pihu.EExpiredAPIKey {
			t.Errorf("got %q, want %q", got, pihu.EExpiredAPIKey)
		}
	})
}

// The guard is asked only before a store read for a secret never seen: it
// can refuse guesses without a read, while seen keys, fresh or stale, go
// on working.
func TestAuthenticateGuarded(t *testing.T) {
	ctx := context.Background()
	store, k, secret, now := setup(t)
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }, TTL: time.Minute})
	refuse := pihu.Errorf(pihu.ERateLimited, "refused")
	calls := 0
	guard := func() error { calls++; return refuse }

	if _, err := a.AuthenticateGuarded(ctx, secret, guard); err != refuse || store.reads != 0 {
		t.Fatalf("unseen key: got %v and %d reads, want the guard's error and none", err, store.reads)
	}
	if _, err := a.AuthenticateGuarded(ctx, secret, nil); err != nil { // now seen
		t.Fatal(err)
	}
	calls = 0
	if got, err := a.AuthenticateGuarded(ctx, secret, guard); err != nil || got.ID != k.ID || calls != 0 {
		t.Errorf("cached key: got %v, %v with %d guard calls, want the key and none", got, err, calls)
	}
	*now = now.Add(2 * time.Minute) // stale: read again, without the guard
	before := store.reads
	if _, err := a.AuthenticateGuarded(ctx, secret, guard); err != nil || calls != 0 || store.reads != before+1 {
		t.Errorf("stale key: got %v, %d guard calls, %d reads; want the key, none, one", err, calls, store.reads-before)
	}
	if _, err := a.AuthenticateGuarded(ctx, corrupt(secret), guard); pihu.ErrorCode(err) != pihu.EInvalidAPIKey || calls != 0 {
		t.Errorf("malformed key: got %v with %d guard calls, want invalid_api_key and none", err, calls)
	}
}

func TestRecordUse(t *testing.T) {
	ctx := context.Background()
	store, k, secret, now := setup(t)
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }})
	got, err := a.Lookup(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	a.RecordUse(got)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if stored, _ := store.Key(ctx, k.AccountID, k.ID); stored.LastUsed == nil || !stored.LastUsed.Equal(*now) {
		t.Errorf("last_used: got %v, want %v", stored.LastUsed, *now)
	}
}

func TestRun_FlushesOnStop(t *testing.T) {
	store, k, secret, now := setup(t)
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx, time.Hour); close(done) }()
	got, err := a.Authenticate(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	a.CountAllowed(got)
	cancel()
	<-done
	got, _ = store.Key(context.Background(), k.AccountID, k.ID)
	if got.LastUsed == nil {
		t.Error("last_used not written on stop")
	}
	counts, err := store.Usage(context.Background(), k.AccountID, k.ID, *now, now.Add(time.Hour))
	if err != nil || len(counts) != 1 || counts[0].Allowed != 1 {
		t.Errorf("usage on stop: got %v, %v; want one allowed request", counts, err)
	}
}

func BenchmarkAuthenticate_Warm(b *testing.B) {
	store, _, secret, now := setup(b)
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }})
	ctx := context.Background()
	a.Authenticate(ctx, secret)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, secret); err != nil {
			b.Fatal(err)
		}
	}
}

// corrupt returns secret with its last character changed, so that its
// checksum is wrong.
func corrupt(secret string) string {
	last := byte('x')
	if secret[len(secret)-1] == last {
		last = 'y'
	}
	return secret[:len(secret)-1] + string(last)
}
