package auth_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/postgres"
	"github.com/pihu-ai/pihu/postgres/postgrestest"
	"github.com/pihu-ai/pihu/sqlite"
)

// spendCounter counts the spends (leases included), reports and
// give-backs that reach the store.
type spendCounter struct {
	pihu.Store
	spends, reports, givebacks atomic.Int64
}

func (s *spendCounter) SpendCredits(ctx context.Context, id string, cost int64, now time.Time) (pihu.Spend, error) {
	s.spends.Add(1)
	return s.Store.SpendCredits(ctx, id, cost, now)
}

func (s *spendCounter) LeaseCredits(ctx context.Context, r pihu.LeaseRequest, now time.Time) (pihu.Spend, error) {
	s.spends.Add(1)
	return s.Store.LeaseCredits(ctx, r, now)
}

func (s *spendCounter) ReportCreditLease(ctx context.Context, id, instance string, held int64, expires time.Time) (bool, error) {
	s.reports.Add(1)
	return s.Store.ReportCreditLease(ctx, id, instance, held, expires)
}

func (s *spendCounter) ReturnCreditLease(ctx context.Context, id, instance string, unspent int64, now time.Time) (bool, error) {
	s.givebacks.Add(1)
	return s.Store.ReturnCreditLease(ctx, id, instance, unspent, now)
}

// creditStores runs f on SQLite and, with PIHU_TEST_POSTGRES_URL, on
// PostgreSQL (a schema of its own).
func creditStores(t *testing.T, f func(t *testing.T, s pihu.Store)) {
	t.Run("SQLite", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), sqlitetest.Path(t))
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
		// Besides, in the background, the reports ahead of spending: a
		// lease of 20 credits here is reported a credit at a time (half
		// a tranche of 2).
		t.Logf("500 spends: %d spends and leases, %d reports in the background", s.spends.Load(), s.reports.Load())
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

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorded is what the store's record of instance's lease of key k
// holds (renewing it to expires); -1 without one.
func recorded(tb testing.TB, s pihu.Store, k *pihu.Key, instance string, expires time.Time) int64 {
	tb.Helper()
	ls, err := s.RenewCreditLeases(context.Background(), instance, []string{k.ID}, expires)
	if err != nil {
		tb.Fatal(err)
	}
	if len(ls) == 0 {
		return -1
	}
	return ls[0].Held
}

// The record of a lease never holds more than the process has unspent,
// after every spend (it reports ahead), and never less than that minus
// one tranche (a tenth of the lease, rounded up); the reports are made
// in the background, one every half tranche.
func TestCreditLeases_ReportsAhead(t *testing.T) {
	creditStores(t, func(t *testing.T, db pihu.Store) {
		s := &spendCounter{Store: db}
		k := meteredKey(t, db, 20_000, nil)
		clock := &fakeClock{t: creditsEpoch.Add(time.Minute)}
		c := leases(t, s, auth.CreditLeaseOptions{Now: clock.Now, Instance: "inst_a"})
		ctx := context.Background()
		now := clock.Now()
		const lease, tranche = 19_999 / 50, (19_999/50 + 9) / 10 // 399 and 40
		spent := int64(0)
		for i := range 1000 {
			sp, err := c.SpendCredits(ctx, k.ID, 1, now)
			if err != nil || !sp.OK {
				t.Fatalf("spend %d: got %+v, %v", i+1, sp, err)
			}
			spent++
			if i == 0 {
				continue // exact
			}
			held := c.Held(k.ID)
			rec := recorded(t, db, k, "inst_a", now.Add(time.Hour))
			if rec > held {
				t.Fatalf("after spend %d: the record holds %d, more than the %d the process has unspent", i+1, rec, held)
			}
			if held-rec > tranche {
				t.Fatalf("after spend %d: the record holds %d of the %d unspent: %d would be lost, more than a tranche (%d)", i+1, rec, held, held-rec, tranche)
			}
		}
		if n := s.spends.Load(); n != 4 {
			t.Errorf("1,000 spends: %d spends and leases reached the store, want 4 (one exact, three leases of about %d)", n, lease)
		}
		// A report when half a tranche is left, of the next half: one
		// every 20 spends, less the first of each lease (taken with it),
		// and at most one more under way.
		n := s.reports.Load()
		t.Logf("1,000 spends: %d reports", n)
		if n < 44 || n > 50 {
			t.Errorf("1,000 spends: %d reports, want 44 to 50 (one every half tranche of %d)", n, tranche)
		}
	})
}

// A process that dies (no Close) loses at most one tranche of each
// lease: once its leases expire, a sweeper gives back what their
// records hold, and the key has what was admitted less, minus at most a
// tenth of a lease; never more than that.
func TestCreditLeases_DeadInstance(t *testing.T) {
	creditStores(t, func(t *testing.T, db pihu.Store) {
		const total = 10_000
		for _, stopAfter := range []int{2, 3, 25, 100, 333} {
			k := meteredKey(t, db, total, nil)
			clock := &fakeClock{t: creditsEpoch.Add(time.Minute)}
			dead := auth.NewCreditLeases(db, auth.CreditLeaseOptions{Now: clock.Now, TTL: 30 * time.Second})
			ctx := context.Background()
			now := clock.Now()
			spent := int64(0)
			for range stopAfter {
				sp, err := dead.SpendCredits(ctx, k.ID, 1, now)
				if err != nil || !sp.OK {
					t.Fatalf("spend: got %+v, %v", sp, err)
				}
				spent++
			}
			lease := int64(total-1) / 50
			tranche := (lease + 9) / 10
			// Dead: no Close, no renewal. Before the lease expires, a
			// sweep gives nothing back.
			if n, err := db.ExpireCreditLeases(ctx, now.Add(29*time.Second), 100); err != nil || n != 0 {
				t.Fatalf("sweep before expiry: got %d, %v; want 0", n, err)
			}
			n, err := db.ExpireCreditLeases(ctx, now.Add(31*time.Second), 100)
			if err != nil {
				t.Fatal(err)
			}
			if stopAfter > 1 && n != 1 {
				t.Errorf("after %d spends: the sweep returned %d leases, want 1", stopAfter, n)
			}
			got := stored(t, db, k, now.Add(time.Minute))
			lost := total - spent - got
			t.Logf("a process dead after %d spends: %d credits lost (a tranche is %d)", stopAfter, lost, tranche)
			if lost < 0 || lost > tranche {
				t.Errorf("after %d spends and death: %d left, want %d less at most one tranche (%d), never more", stopAfter, got, total-spent, tranche)
			}
		}
	})
}

// A process that cannot renew its lease stops spending it 2·TTL/3 after
// its last renewal; its next spend goes to the store, which has given
// the record's credits back if it expired (another process's sweep),
// and the process takes a new lease: nothing is spent twice.
func TestCreditLeases_StopsUnrenewed(t *testing.T) {
	creditStores(t, func(t *testing.T, db pihu.Store) {
		s := &spendCounter{Store: db}
		const total = 10_000
		k := meteredKey(t, db, total, nil)
		clock := &fakeClock{t: creditsEpoch.Add(time.Minute)}
		c := leases(t, s, auth.CreditLeaseOptions{Now: clock.Now, TTL: 30 * time.Second, IdleAfter: time.Hour})
		ctx := context.Background()
		spent := int64(0)
		spend := func() {
			t.Helper()
			sp, err := c.SpendCredits(ctx, k.ID, 1, clock.Now())
			if err != nil || !sp.OK {
				t.Fatalf("spend: got %+v, %v", sp, err)
			}
			spent++
		}
		spend()
		spend() // a lease
		before := s.spends.Load()
		clock.Add(19 * time.Second)
		spend()
		if got := s.spends.Load(); got != before {
			t.Fatalf("19 s after the lease: %d spends reached the store, want none", got-before)
		}
		clock.Add(time.Second) // 20 s: 2·TTL/3, not renewed
		spend()
		if got := s.spends.Load(); got != before+1 {
			t.Fatalf("20 s after the lease, not renewed: %d spends reached the store, want 1 (a new lease)", got-before)
		}
		// Partitioned: the new lease is not renewed and expires; another
		// process's sweep gives back what its record holds. The process
		// does not spend it: its next spend takes a lease again.
		clock.Add(31 * time.Second)
		if n, err := db.ExpireCreditLeases(ctx, clock.Now(), 100); err != nil || n != 1 {
			t.Fatalf("sweep: got %d, %v; want 1", n, err)
		}
		spend()
		if got := s.spends.Load(); got != before+2 {
			t.Fatalf("after the lease expired: %d spends reached the store, want 2", got-before)
		}
		c.Close()
		got := stored(t, db, k, clock.Now())
		if got+spent > total {
			t.Fatalf("%d left + %d admitted = %d: more than the %d there were", got, spent, got+spent, total)
		}
		lease := int64(total) / 50
		if lost := total - spent - got; lost > (lease+9)/10 {
			t.Errorf("%d lost: more than a tranche", lost)
		}
	})
}

// Run renews the leases: with a TTL of 1 s, a lease lives on, and is
// spent without a store call, for three times as long (a TTL long enough
// for a renewal every third of it on a loaded machine), and a sweep finds nothing
// expired; once the process stops (Close), nothing is left recorded.
func TestCreditLeases_Run(t *testing.T) {
	creditStores(t, func(t *testing.T, db pihu.Store) {
		s := &spendCounter{Store: db}
		k := meteredKey(t, db, 100_000, nil)
		c := auth.NewCreditLeases(s, auth.CreditLeaseOptions{TTL: time.Second, Instance: "inst_run"})
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { c.Run(ctx) })
		for range 2 {
			if sp, err := c.SpendCredits(context.Background(), k.ID, 1, time.Now()); err != nil || !sp.OK {
				t.Fatalf("spend: %+v, %v", sp, err)
			}
		}
		before := s.spends.Load()
		for range 10 {
			time.Sleep(300 * time.Millisecond)
			if sp, err := c.SpendCredits(context.Background(), k.ID, 1, time.Now()); err != nil || !sp.OK {
				t.Fatalf("spend: %+v, %v", sp, err)
			}
			if n, err := db.ExpireCreditLeases(context.Background(), time.Now(), 100); err != nil || n != 0 {
				t.Fatalf("sweep while the lease is renewed: got %d, %v; want 0", n, err)
			}
		}
		if got := s.spends.Load(); got != before {
			t.Errorf("3 s of spends from a renewed lease: %d reached the store, want none", got-before)
		}
		cancel()
		wg.Wait()
		c.Close()
		if rec := recorded(t, db, k, "inst_run", time.Now().Add(time.Hour)); rec != -1 {
			t.Errorf("after Close: the lease is still recorded (%d held)", rec)
		}
		if got := stored(t, db, k, time.Now()); got != 100_000-12 {
			t.Errorf("after Close: %d left, want %d", got, 100_000-12)
		}
	})
}

// Several processes spending one key at once, with costs of 1 to 3 and
// keys forgotten at random, two of them dying (never closed) part way:
// no credit is spent twice, and once the dead ones' leases have expired
// and been swept and the live ones have closed, the store has what was
// not admitted less at most one tranche per dead process (a tenth of a
// lease of 2% of the balance: 6 credits of 3,000).
func TestCreditLeases_FleetWithDeaths(t *testing.T) {
	creditStores(t, func(t *testing.T, db pihu.Store) {
		const total = 3000
		const tranche = (total/50 + 9) / 10
		k := meteredKey(t, db, total, nil)
		clock := &fakeClock{t: creditsEpoch.Add(time.Minute)}
		now := clock.Now()
		fleet := make([]*auth.CreditLeases, 4)
		for i := range fleet {
			fleet[i] = auth.NewCreditLeases(db, auth.CreditLeaseOptions{Now: clock.Now})
		}
		var dead [2]atomic.Bool // fleet[0] and fleet[1] die
		var spent atomic.Int64
		var wg sync.WaitGroup
		for g := range 12 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(g), 27))
				for {
					i := rng.IntN(len(fleet))
					if i < 2 && dead[i].Load() {
						continue
					}
					c := fleet[i]
					if i < 2 && rng.IntN(400) == 0 {
						dead[i].Store(true) // dies: never used or closed again
						continue
					}
					if rng.IntN(50) == 0 {
						c.Forget(k.ID)
					}
					cost := int64(1 + rng.IntN(3))
					sp, err := c.SpendCredits(context.Background(), k.ID, cost, now)
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
		for _, c := range fleet[2:] {
			c.Close()
		}
		if _, err := db.ExpireCreditLeases(context.Background(), clock.Now().Add(time.Hour), 100); err != nil {
			t.Fatal(err)
		}
		got := stored(t, db, k, now)
		lost := total - spent.Load() - got
		t.Logf("%d admitted, %d left, %d lost by the dead processes (died: %v, %v)", spent.Load(), got, lost, dead[0].Load(), dead[1].Load())
		if lost < 0 || lost > 2*tranche {
			t.Errorf("%d in the store + %d admitted = %d, want %d less at most %d (a tranche per dead process)", got, spent.Load(), got+spent.Load(), total, 2*tranche)
		}
	})
}

// flakyStore fails every call about credits while down.
type flakyStore struct {
	pihu.Store
	down atomic.Bool
}

var errDown = pihu.Errorf(pihu.EUnavailable, "The database is unreachable at the moment; try again in a few seconds.")

func (s *flakyStore) SpendCredits(ctx context.Context, id string, cost int64, now time.Time) (pihu.Spend, error) {
	if s.down.Load() {
		return pihu.Spend{}, errDown
	}
	return s.Store.SpendCredits(ctx, id, cost, now)
}

func (s *flakyStore) LeaseCredits(ctx context.Context, r pihu.LeaseRequest, now time.Time) (pihu.Spend, error) {
	if s.down.Load() {
		return pihu.Spend{}, errDown
	}
	return s.Store.LeaseCredits(ctx, r, now)
}

func (s *flakyStore) ReportCreditLease(ctx context.Context, id, instance string, held int64, expires time.Time) (bool, error) {
	if s.down.Load() {
		return false, errDown
	}
	return s.Store.ReportCreditLease(ctx, id, instance, held, expires)
}

// While the store is down, a process spends only what it has reported
// of its lease (at most a tranche), then a key's spends fail as exact
// ones would; once the store is back, spending goes on, and on Close the
// store has exactly what was not admitted.
func TestCreditLeases_StoreDown(t *testing.T) {
	creditStores(t, func(t *testing.T, db pihu.Store) {
		const total = 100_000
		s := &flakyStore{Store: db}
		k := meteredKey(t, db, total, nil)
		c := auth.NewCreditLeases(s, auth.CreditLeaseOptions{Logger: slog.New(slog.DiscardHandler)})
		ctx := context.Background()
		now := creditsEpoch.Add(time.Minute)
		spent := int64(0)
		spend := func() error {
			sp, err := c.SpendCredits(ctx, k.ID, 1, now)
			if err == nil && !sp.OK {
				t.Fatalf("spend refused: %+v", sp)
			}
			if err == nil {
				spent++
			}
			return err
		}
		for range 50 {
			if err := spend(); err != nil {
				t.Fatal(err)
			}
		}
		s.down.Store(true)
		during := 0
		for range 1000 {
			if err := spend(); err != nil {
				if pihu.ErrorCode(err) != pihu.EUnavailable {
					t.Fatalf("spend while the store is down: got %v, want EUnavailable", err)
				}
				break
			}
			during++
		}
		const tranche = ((total-1)/50 + 9) / 10
		t.Logf("spends while the store was down: %d (a tranche is %d)", during, tranche)
		if during == 0 || during > tranche {
			t.Errorf("spends while the store was down: got %d, want 1 to a tranche (%d)", during, tranche)
		}
		s.down.Store(false)
		for range 50 {
			if err := spend(); err != nil {
				t.Fatalf("spend once the store is back: %v", err)
			}
		}
		c.Close()
		if got := stored(t, db, k, now); got+spent != total {
			t.Errorf("after Close: %d in the store + %d admitted = %d, want %d", got, spent, got+spent, total)
		}
	})
}
