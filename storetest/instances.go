package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// RunInstances checks the rules that must hold when several instances of
// the service share one database: open returns two stores on the same new,
// empty database (two handles with connections of their own, as two
// processes have), and each rule races writes through both. Run closes
// both when the subtest ends.
func RunInstances(t *testing.T, open func(t *testing.T) (pihu.Store, pihu.Store)) {
	run := func(name string, test func(*testing.T, [2]pihu.Store)) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			a, b := open(t)
			t.Cleanup(func() {
				for _, s := range []pihu.Store{a, b} {
					if err := s.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				}
			})
			test(t, [2]pihu.Store{a, b})
		})
	}
	run("CreateFirstAccount", testInstancesCreateFirstAccount)
	run("TouchKeys", testInstancesTouchKeys)
	run("AddUsage", testInstancesAddUsage)
	run("ReserveIdempotency", testInstancesReserveIdempotency)
	run("ClaimDeliveries", testInstancesClaimDeliveries)
	run("EmitDedupe", testInstancesEmitDedupe)
	run("SpendCredits", testInstancesSpendCredits)
	run("SpendIdentityCredits", testInstancesSpendIdentityCredits)
	run("ExpireCreditLeases", testInstancesExpireCreditLeases)
}

// testInstancesCreateFirstAccount starts several first starts on each
// instance at once: exactly one creates an account.
func testInstancesCreateFirstAccount(t *testing.T, s [2]pihu.Store) {
	const each = 4
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  int
		start = make(chan struct{})
	)
	for _, st := range s {
		for range each {
			a, owner := newAccount(t, "Default")
			wg.Go(func() {
				<-start
				created, err := st.CreateFirstAccount(t.Context(), a, owner, ownerEvent(owner, epoch))
				if err != nil {
					t.Errorf("CreateFirstAccount: %v", err)
				}
				if created {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if wins != 1 {
		t.Errorf("CreateFirstAccount created %d accounts, want 1", wins)
	}
	for _, st := range s {
		checkCount(t, st, 1)
	}
}

// testInstancesTouchKeys flushes the uses of the same keys from both
// instances at once, in batches that name the keys in different orders
// and with times out of order: each key ends with its latest use, which no
// earlier use flushed later overwrites, and no flush fails.
func testInstancesTouchKeys(t *testing.T, s [2]pihu.Store) {
	const rounds = 20
	a, owner := mustCreateAccount(t, s[0], "Acme")
	keys := []*pihu.Key{owner}
	for i := range 3 {
		k := newKey(t, a.ID, readKey(fmt.Sprintf("Key %d", i)), epoch)
		mustCreateKey(t, s[0], k)
		keys = append(keys, k)
	}
	var wg sync.WaitGroup
	for i, st := range s {
		wg.Go(func() {
			for r := range rounds {
				uses := map[string]time.Time{}
				for j, k := range keys {
					// Instance 0 counts up, instance 1 down: the latest
					// use of every key is in a batch of each.
					n := r
					if i == 1 {
						n = rounds - 1 - r
					}
					uses[k.ID] = epoch.Add(time.Duration(n*len(keys)+j) * time.Second)
				}
				if err := st.TouchKeys(t.Context(), uses); err != nil {
					t.Errorf("TouchKeys: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	for j, k := range keys {
		want := epoch.Add(time.Duration((rounds-1)*len(keys)+j) * time.Second)
		for _, st := range s {
			checkLastUsed(t, st, k, &want)
		}
	}
}

// testInstancesAddUsage adds counts of the same keys and hours from both
// instances at once: every count is kept (no update lost), and no flush
// fails.
func testInstancesAddUsage(t *testing.T, s [2]pihu.Store) {
	const rounds = 20
	a, owner := mustCreateAccount(t, s[0], "Acme")
	other := newKey(t, a.ID, readKey("Other"), epoch)
	mustCreateKey(t, s[0], other)
	h0, h1 := epoch, epoch.Add(time.Hour)
	var wg sync.WaitGroup
	for i, st := range s {
		wg.Go(func() {
			for range rounds {
				counts := []pihu.UsageCount{
					{KeyID: owner.ID, Hour: h0, Allowed: 1},
					{KeyID: other.ID, Hour: h1, Refused: 2},
					{KeyID: owner.ID, Hour: h1.Add(time.Minute), Allowed: 3, Refused: 1},
					{KeyID: other.ID, Hour: h0, Allowed: 5},
				}
				if i == 1 {
					for l, r := 0, len(counts)-1; l < r; l, r = l+1, r-1 {
						counts[l], counts[r] = counts[r], counts[l]
					}
				}
				if err := st.AddUsage(t.Context(), counts, h1); err != nil {
					t.Errorf("AddUsage: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	const n = 2 * rounds
	for _, st := range s {
		checkUsage(t, st, a.ID, owner.ID, h0, h1.Add(time.Hour), []pihu.UsageCount{
			{KeyID: owner.ID, Hour: h0, Allowed: n},
			{KeyID: owner.ID, Hour: h1, Allowed: 3 * n, Refused: n},
		})
		checkUsage(t, st, a.ID, other.ID, h0, h1.Add(time.Hour), []pihu.UsageCount{
			{KeyID: other.ID, Hour: h0, Allowed: 5 * n},
			{KeyID: other.ID, Hour: h1, Refused: 2 * n},
		})
	}
}

// testInstancesReserveIdempotency sends one Idempotency-Key to both
// instances at once, as a client retrying through a load balancer does:
// exactly one reservation is stored.
func testInstancesReserveIdempotency(t *testing.T, s [2]pihu.Store) {
	const each = 8
	k := idemKey(t, "key:key_a", "retry-1")
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		won   int
		start = make(chan struct{})
	)
	for _, st := range s {
		for range each {
			wg.Go(func() {
				<-start
				existing, err := st.ReserveIdempotency(t.Context(), idemRecord(k, `{"name":"Ada"}`, epoch))
				if err != nil {
					t.Errorf("ReserveIdempotency: %v", err)
					return
				}
				if existing == nil {
					mu.Lock()
					won++
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if won != 1 {
		t.Errorf("reservations stored: got %d, want exactly 1 of %d", won, 2*each)
	}
}
