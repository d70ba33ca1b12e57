package auth_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/postgres"
	"github.com/pihu-ai/pihu/postgres/postgrestest"
	"github.com/pihu-ai/pihu/sqlite"
)

// spendCounter counts the spends and give-backs that reach the store.
type spendCounter struct {
	pihu.Store
	spends, givebacks atomic.Int64
}

func (s *spendCounter) SpendCredits(ctx context.Context, id string, cost int64, now time.Time) (pihu.Spend, error) {
	s.spends.Add(1)
	return s.Store.SpendCredits(ctx, id, cost, now)
}

func (s *spendCounter) GiveBackCredits(ctx context.Context, id string, n int64, leased, now time.Time) (bool, error) {
	s.givebacks.Add(1)
	return s.Store.GiveBackCredits(ctx, id, n, leased, now)
}

// creditStores runs f on SQLite and, with PIHU_TEST_POSTGRES_URL, on
// PostgreSQL (a schema of its own).
func creditStores(t *testing.T, f func(t *testing.T, s pihu.Store)) {
	t.Run("SQLite", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "pihu.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		f(t, db)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		if os.Getenv(postgrestest.EnvURL) == "" {
			t.Skip(postgrestest.EnvURL + " is not set")
		}
		db, err := postgres.Open(context.Background(), postgrestest.NewSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		f(t, db)
	})
}

var creditsEpoch = time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC)

// meteredKey stores a key of a new account with n credits and refill r.
func meteredKey(tb testing.TB, s pihu.Store, n int64, r *pihu.Refill) *pihu.Key {
	tb.Helper()
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "A", Created: creditsEpoch}
	owner, _, err := pihu.NewKey(a.ID, pihu.OwnerKeyRequest(), nil, creditsEpoch)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.CreateAccount(context.Background(), a, owner); err != nil {
		tb.Fatal(err)
	}
	req := pihu.KeyRequest{Name: "metered", Permissions: pihu.Permissions{"candidate:read"}, Credits: &pihu.Credits{Remaining: n, Refill: r}}
	k, _, err := pihu.NewKey(a.ID, req, owner, creditsEpoch)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.CreateKey(context.Background(), k); err != nil {
		tb.Fatal(err)
	}
	return k
}

// stored is key k's balance in the store at now.
func stored(tb testing.TB, s pihu.Store, k *pihu.Key, now time.Time) int64 {
	tb.Helper()
	sp, err := s.SpendCredits(context.Background(), k.ID, 0, now)
	if err != nil {
		tb.Fatal(err)
	}
	return sp.Remaining
}

func leases(t *testing.T, s pihu.Store, opts auth.CreditLeaseOptions) *auth.CreditLeases {
	t.Helper()
	c := auth.NewCreditLeases(s, opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// 500 requests of a key with 1,000 credits reach the store about once
// every 15 (a lease is 2% of what is left), every one admitted and
// counted with the balance as it stands; on Close what the lease held is
// given back, and the store has exactly 500 left.
func TestCreditLeases_FewStoreCalls(t *testing.T) {
	creditStores(t, func(t *testing.T, db pihu.Store) {
		s := &spendCounter{Store: db}
		k := meteredKey(t, db, 1000, nil)
		c := auth.NewCreditLeases(s, auth.CreditLeaseOptions{})
		ctx := context.Background()
		now := creditsEpoch.Add(time.Minute)
		for i := range 500 {
			sp, err := c.SpendCredits(ctx, k.ID, 1, now)
			if err != nil || !sp.OK || sp.Remaining != int64(999-i) {
				t.Fatalf("spend %d: got %+v, %v; want OK with %d remaining", i+1, sp, err, 999-i)
			}
		}
		if n := s.spends.Load(); n > 50 {
			t.Errorf("500 spends reached the store %d times, want about 35", n)
		}
		if c.Held(k.ID) == 0 {
			t.Error("Held after 500 spends: got 0, want a lease")
		}
		c.Close()
		if got := stored(t, db, k, now); got != 500 {
			t.Errorf("the store's balance after Close: got %d, want 500", got)
		}
	})
}

// A key with under 100 credits left is spent in the store on every
// request, and refused exactly when they are spent.
func TestCreditLeases_ExactWhenFew(t *testing.T) {
	creditStores(t, func(t *testing.T, db pihu.Store) {
		s := &spendCounter{Store: db}
		k := meteredKey(t, db, 60, nil)
		c := leases(t, s, auth.CreditLeaseOptions{})
		ctx := context.Background()
		for i := range 61 {
			sp, err := c.SpendCredits(ctx, k.ID, 1, creditsEpoch)
			if err != nil {
				t.Fatal(err)
			}
			if sp.OK != (i < 60) {
				t.Fatalf("spend %d: got %+v", i+1, sp)
			}
		}
		if n := s.spends.Load(); n != 61 {
			t.Errorf("61 spends of a key with 60 credits reached the store %d times, want 61", n)
		}
	})
}

// Several processes spending one key at once, with costs of 1 to 3, keys
// forgotten (changed) at random, until each is refused: no credit is
// spent twice (what was admitted never exceeds the balance) and, once
// every process has closed, none is lost (the store has exactly what
// was not admitted).
func TestCreditLeases_NeverSpentTwiceNeverLost(t *testing.T) {
	creditStores(t, func(t *testing.T, db pihu.Store) {
		const total = 3000
		k := meteredKey(t, db, total, nil)
		fleet := make([]*auth.CreditLeases, 4)
		for i := range fleet {
			fleet[i] = auth.NewCreditLeases(db, auth.CreditLeaseOptions{})
		}
		var spent atomic.Int64
		var wg sync.WaitGroup
		for g := range 12 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(g), 26))
				for {
					c := fleet[rng.IntN(len(fleet))]
					if rng.IntN(50) == 0 {
						c.Forget(k.ID)
					}
					cost := int64(1 + rng.IntN(3))
					sp, err := c.SpendCredits(context.Background(), k.ID, cost, creditsEpoch.Add(time.Minute))
					if err != nil {
						t.Error(err)
						return
					}
					if !sp.OK {
						return
					}
					spent.Add(cost)
				}
			})
		}
		wg.Wait()
		if got := spent.Load(); got > total {
			t.Fatalf("admitted %d credits of %d: some were spent twice", got, total)
		}
		for _, c := range fleet {
			c.Close()
		}
		if got := stored(t, db, k, creditsEpoch.Add(time.Minute)); got+spent.Load() != total {
			t.Errorf("after every process closed: %d in the store + %d admitted = %d, want %d", got, spent.Load(), got+spent.Load(), total)
		}
	})
}

// A key forgotten (changed, revoked) gives back what was leased of it;
// a balance set since is the balance, and takes nothing back.
func TestCreditLeases_Forget(t *testing.T) {
	creditStores(t, func(t *testing.T, db pihu.Store) {
		ctx := context.Background()
		now := creditsEpoch.Add(time.Minute)
		t.Run("GivesBack", func(t *testing.T) {
			k := meteredKey(t, db, 1000, nil)
			c := leases(t, db, auth.CreditLeaseOptions{})
			for range 3 {
				c.SpendCredits(ctx, k.ID, 1, now)
			}
			if c.Held(k.ID) == 0 {
				t.Fatal("Held after 3 spends: got 0, want a lease")
			}
			c.Forget(k.ID)
			waitStored(t, db, k, now, 997)
		})
		t.Run("SetBalanceWins", func(t *testing.T) {
			k := meteredKey(t, db, 1000, nil)
			c := leases(t, db, auth.CreditLeaseOptions{})
			for range 3 {
				c.SpendCredits(ctx, k.ID, 1, now)
			}
			if _, err := db.UpdateKey(ctx, pihu.KeyUpdate{AccountID: k.AccountID, ID: k.ID, Apply: func(k *pihu.Key) error {
				k.Credits = &pihu.Credits{Remaining: 500, Refilled: now.Add(time.Second)}
				return nil
			}}); err != nil {
				t.Fatal(err)
			}
			c.Forget(k.ID)
			c.Close() // waits for the give-back
			if got := stored(t, db, k, now.Add(time.Second)); got != 500 {
				t.Errorf("balance set to 500 after a lease, the lease forgotten: got %d, want 500", got)
			}
		})
	})
}

func waitStored(t *testing.T, s pihu.Store, k *pihu.Key, now time.Time, want int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := stored(t, s, k, now)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store's balance: got %d, want %d", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A key unused for IdleAfter gives its lease back at the next spend of
// any key.
func TestCreditLeases_IdleGivesBack(t *testing.T) {
	creditStores(t, func(t *testing.T, db pihu.Store) {
		ctx := context.Background()
		a, b := meteredKey(t, db, 1000, nil), meteredKey(t, db, 1000, nil)
		c := leases(t, db, auth.CreditLeaseOptions{IdleAfter: time.Minute})
		now := creditsEpoch.Add(time.Minute)
		for range 3 {
			c.SpendCredits(ctx, a.ID, 1, now)
		}
		c.SpendCredits(ctx, b.ID, 1, now.Add(2*time.Minute))
		waitStored(t, db, a, now, 997)
	})
}

// A lease is not spent past the key's refill: the new day's balance is
// the refill's amount, spent exactly, and what the lease held is not
// carried over.
func TestCreditLeases_Refill(t *testing.T) {
	creditStores(t, func(t *testing.T, db pihu.Store) {
		ctx := context.Background()
		k := meteredKey(t, db, 1000, &pihu.Refill{Interval: pihu.RefillDaily, Amount: 1000})
		c := leases(t, db, auth.CreditLeaseOptions{})
		evening := time.Date(2024, 2, 20, 23, 0, 0, 0, time.UTC)
		for range 3 {
			c.SpendCredits(ctx, k.ID, 1, evening)
		}
		if c.Held(k.ID) == 0 {
			t.Fatal("Held after 3 spends: got 0, want a lease")
		}
		morning := time.Date(2024, 2, 21, 1, 0, 0, 0, time.UTC)
		sp, err := c.SpendCredits(ctx, k.ID, 1, morning)
		if err != nil || !sp.OK || sp.Remaining != 999 {
			t.Fatalf("first spend after the refill: got %+v, %v; want 999 remaining", sp, err)
		}
		c.Close()
		if got := stored(t, db, k, morning); got != 999 {
			t.Errorf("after Close: got %d in the store, want 999 (nothing of the day before carried over)", got)
		}
	})
}

// No lease is taken in the second a balance was set (created, changed,
// refilled): the store keeps seconds, and a change later in that second
// could not be told from it when the lease is given back. From the next
// second on, leases are taken.
func TestCreditLeases_SameSecond(t *testing.T) {
	creditStores(t, func(t *testing.T, db pihu.Store) {
		s := &spendCounter{Store: db}
		k := meteredKey(t, db, 1000, nil) // created at creditsEpoch
		c := leases(t, s, auth.CreditLeaseOptions{})
		ctx := context.Background()
		for range 10 {
			c.SpendCredits(ctx, k.ID, 1, creditsEpoch.Add(500*time.Millisecond))
		}
		if n := s.spends.Load(); n != 10 {
			t.Errorf("10 spends in the second the balance was set reached the store %d times, want 10", n)
		}
		for range 10 {
			c.SpendCredits(ctx, k.ID, 1, creditsEpoch.Add(time.Second))
		}
		if n := s.spends.Load(); n != 11 {
			t.Errorf("10 spends the second after reached the store %d times in all, want 11 (one lease)", n)
		}
	})
}
