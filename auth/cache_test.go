package auth_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/ratelimit"
)

// accountCountingStore counts reads of accounts as well as of keys.
type accountCountingStore struct {
	*countingStore
	accountReads int
}

func (s *accountCountingStore) Account(ctx context.Context, id string) (*pihu.Account, error) {
	s.accountReads++
	return s.countingStore.Account(ctx, id)
}

// addKeys stores n more keys of account accountID and returns their
// secrets.
func addKeys(tb testing.TB, s *countingStore, accountID string, n int, now time.Time) []string {
	tb.Helper()
	var secrets []string
	for range n {
		k, secret, err := pihu.NewKey(accountID, pihu.KeyRequest{Name: "k", Permissions: pihu.Permissions{"candidate:read"}}, nil, now)
		if err != nil {
			tb.Fatal(err)
		}
		if err := s.CreateKey(context.Background(), k); err != nil {
			tb.Fatal(err)
		}
		secrets = append(secrets, secret)
	}
	return secrets
}

// TestAccount_Cached: the account of a warm key is served from memory,
// so that whoami reads nothing; InvalidateAccount makes the account and
// its keys be read again.
func TestAccount_Cached(t *testing.T) {
	ctx := context.Background()
	cs, k, secret, now := setup(t)
	store := &accountCountingStore{countingStore: cs}
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }, TTL: time.Minute})

	if _, err := a.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if store.accountReads != 1 {
		t.Fatalf("account reads on the first use: got %d, want 1", store.accountReads)
	}
	t.Run("WarmReadsNothing", func(t *testing.T) {
		keyReads := store.reads
		for range 3 {
			got, err := a.Authenticate(ctx, secret)
			if err != nil {
				t.Fatal(err)
			}
			acct, err := a.Account(ctx, got.AccountID)
			if err != nil || acct.ID != k.AccountID || acct.Name != "A" {
				t.Fatalf("got %+v, %v, want account %s named A", acct, err, k.AccountID)
			}
		}
		if store.accountReads != 1 || store.reads != keyReads {
			t.Errorf("reads: got %d of accounts and %d of keys, want none", store.accountReads-1, store.reads-keyReads)
		}
	})
	t.Run("OtherKeysShareIt", func(t *testing.T) {
		for _, s := range addKeys(t, cs, k.AccountID, 3, *now) {
			if _, err := a.Authenticate(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		if store.accountReads != 1 {
			t.Errorf("account reads for 3 more keys of the account: got %d, want none", store.accountReads-1)
		}
	})
	t.Run("InvalidateAccountReadsAgain", func(t *testing.T) {
		keyReads := store.reads
		a.InvalidateAccount(k.AccountID)
		if _, err := a.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
		if store.accountReads != 2 || store.reads != keyReads+1 {
			t.Errorf("reads after InvalidateAccount: got %d of accounts and %d of keys, want 1 and 1", store.accountReads-1, store.reads-keyReads)
		}
	})
	t.Run("UncachedAccountIsRead", func(t *testing.T) {
		other := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "B", Created: *now}
		owner, _, _ := pihu.NewKey(other.ID, pihu.OwnerKeyRequest(), nil, *now)
		if err := cs.CreateAccount(ctx, other, owner); err != nil {
			t.Fatal(err)
		}
		got, err := a.Account(ctx, other.ID)
		if err != nil || got.Name != "B" {
			t.Errorf("got %+v, %v, want account B", got, err)
		}
		if _, err := a.Account(ctx, pihu.NewID(pihu.PrefixAccount)); pihu.ErrorCode(err) != pihu.ENotFound {
			t.Errorf("unknown account: got %v, want %s", err, pihu.ENotFound)
		}
	})
}

// TestCache_EvictsUnused: a full cache makes room by dropping a key that
// was not used since the last sweep, not the key in use.
func TestCache_EvictsUnused(t *testing.T) {
	ctx := context.Background()
	store, k, inUse, now := setup(t)
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }, TTL: time.Hour, MaxEntries: 2})
	others := addKeys(t, store, k.AccountID, 10, *now)
	if _, err := a.Authenticate(ctx, inUse); err != nil {
		t.Fatal(err)
	}
	for _, s := range others {
		// The key in use is used between each of the others.
		if _, err := a.Authenticate(ctx, inUse); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	before := store.reads
	if _, err := a.Authenticate(ctx, inUse); err != nil {
		t.Fatal(err)
	}
	if store.reads != before {
		t.Errorf("the key in use was evicted: got %d reads, want none", store.reads-before)
	}
	if _, err := a.Authenticate(ctx, others[0]); err != nil {
		t.Fatal(err)
	}
	if store.reads != before+1 {
		t.Errorf("a key unused for 9 sweeps: got %d reads, want 1 (evicted)", store.reads-before)
	}
}

// TestCache_NegativeSizeCachesNothing: MaxEntries < 0 reads every time.
func TestCache_NegativeSizeCachesNothing(t *testing.T) {
	ctx := context.Background()
	store, _, secret, now := setup(t)
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }, MaxEntries: -1})
	for range 3 {
		if _, err := a.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	if store.reads != 3 {
		t.Errorf("reads: got %d, want 3", store.reads)
	}
}

// TestRestrictions_CachedKeyKeepsThem: a key read from the cache has its
// allowed_ips and rate limit as the store parsed them, on a miss and on a
// hit alike.
func TestRestrictions_CachedKeyKeepsThem(t *testing.T) {
	ctx := context.Background()
	store, acct, _, now := setup(t)
	req := pihu.KeyRequest{Name: "r", Permissions: pihu.Permissions{"candidate:read"}, AllowedIPs: []string{"10.0.0.0/8"}}
	k, secret, err := pihu.NewKey(acct.AccountID, req, nil, *now)
	if err != nil {
		t.Fatal(err)
	}
	k.RateLimit = pihu.StoredRateLimit("5/m")
	if err := store.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }})
	for i := range 2 { // a miss, then a hit
		got, err := a.AuthenticateGuarded(ctx, secret, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.RateLimit.String() != "5/m" || fmt.Sprint(got.AllowedIPs.Strings()) != "[10.0.0.0/8]" || got.Name != "r" || got.ID != k.ID {
			t.Errorf("use %d: got %+v", i, got)
		}
		if l := ratelimit.KeyLimit(got.RateLimit); l != ratelimit.PerMinute(5) || !got.AllowedIPs.Allows("10.9.9.9") || got.AllowedIPs.Allows("11.0.0.1") {
			t.Errorf("use %d: limit %v, allowed_ips %v", i, l, got.AllowedIPs)
		}
	}
}

// BenchmarkCache_Memory reports the memory a cached key takes: on the Go
// heap (its share of what keys share, and of the tables of numbers that
// index them), outside it (its slot and its share of the two indexes, see
// memory), and both: the figure behind DefaultCacheSize (run with
// -benchtime=1x; it caches 100,000 keys whatever b.N).
func BenchmarkCache_Memory(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	const n = 100_000
	store := &memStore{keys: make(map[string]*pihu.Key, n), account: &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "Bench"}}
	var secrets []string
	for range n {
		k, secret, err := pihu.NewKey(store.account.ID, pihu.KeyRequest{Name: "a key", Permissions: pihu.Permissions{"candidate:read"}}, nil, now)
		if err != nil {
			b.Fatal(err)
		}
		store.keys[string(k.Digest)] = k
		secrets = append(secrets, secret)
	}
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		a := auth.New(store, auth.Options{TTL: time.Hour})
		for _, s := range secrets {
			// Lookup, not Authenticate: the uses recorded for the next
			// flush are not the cache.
			if _, err := a.Lookup(ctx, s); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
		off := float64(auth.OffHeapBytes(a)) / n
		b.ReportMetric(heap, "heap-B/key")
		b.ReportMetric(off, "offheap-B/key")
		b.ReportMetric(heap+off, "B/key")
		runtime.KeepAlive(a)
	}
}

// memStore is a store of keys in memory, for measuring the cache alone: it
// returns a fresh copy of a key on each read, as a database does.
type memStore struct {
	pihu.KeyStore // nil: only the methods below are called
	keys          map[string]*pihu.Key
	account       *pihu.Account
}

func (s *memStore) KeyByDigest(_ context.Context, d []byte) (*pihu.Key, error) {
	k, ok := s.keys[string(d)]
	if !ok {
		return nil, pihu.Errorf(pihu.ENotFound, "no key")
	}
	cp := *k
	cp.ID, cp.Name, cp.AccountID = strings.Clone(k.ID), strings.Clone(k.Name), strings.Clone(k.AccountID)
	cp.Permissions = append(pihu.Permissions(nil), k.Permissions...)
	cp.Digest = bytes.Clone(k.Digest)
	return &cp, nil
}

func (s *memStore) Account(context.Context, string) (*pihu.Account, error) {
	cp := *s.account
	return &cp, nil
}
