package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pihu-ai/pihu"
)

// CreditLeaseOptions configure CreditLeases; zero values take the
// defaults.
type CreditLeaseOptions struct {
	// Share is how many leases a key's balance is cut into: one lease is
	// the balance left (as the store last said) divided by Share, rounded
	// down (default 50: 2%).
	Share int64
	// MinLease is the fewest credits a lease is worth: a key whose lease
	// would be smaller is spent in the store on every request (default
	// 2: balances under 100 credits).
	MinLease int64
	// IdleAfter is how long a key's lease may go unused before it is
	// given back (default 10 s).
	IdleAfter time.Duration
	// Timeout bounds giving a lease back in the background (default 5 s).
	Timeout time.Duration
	// Logger receives the failures to give a lease back (default
	// slog.Default()).
	Logger *slog.Logger
}

// CreditLeases is a CreditSpender that spends most credits without a
// store call: a key's first spend in the process is exact (the store's
// SpendCredits) and says how many credits are left; from then on, when
// the process holds too few of the key's credits for a request, it takes
// a lease: one SpendCredits of the request's cost plus a Share of the
// balance, spent then and there in the store like any spend, so that no
// credit is ever spent twice, and handed out request by request from
// memory until spent. A key whose balance is too small for a lease, or
// whose lease the store cannot cover, is spent exactly: what the process
// held is given back first, so that the store has every credit.
//
// What a lease does not spend goes back to the store (GiveBackCredits)
// when the key changes or is revoked (Forget, called for every key
// invalidated), when the key is unused for IdleAfter, and on Close; the
// store takes it back only if the balance was not set or refilled since
// (a balance set through the API is the balance; unused credits are not
// carried over a refill). A lease is not spent past the key's next
// refill. If the process dies without Close, what its leases held is
// lost: at most one lease per key, 2% of what the key had left.
//
// It is safe for concurrent use: spends of one key wait for each other
// while a lease is taken, spends of different keys do not.
type CreditLeases struct {
	store    pihu.CreditStore
	share    int64
	minLease int64
	idle     time.Duration
	timeout  time.Duration
	logger   *slog.Logger

	mu        sync.Mutex
	keys      map[string]*creditLease
	nextSweep time.Time

	// bgMu orders giving back in the background against Close.
	bgMu   sync.Mutex
	closed bool
	bg     sync.WaitGroup
}

var _ CreditSpender = (*CreditLeases)(nil)

// creditLease is what the process knows and holds of one key's credits.
type creditLease struct {
	mu sync.Mutex
	// known: a spend of the key answered, and remaining is what the
	// store had after it (leases included, as spent).
	known     bool
	remaining int64
	// held credits of a lease, given back to a balance refilled (or set)
	// at refilled, spendable until until (the next refill; zero: no
	// refill).
	held     int64
	refilled time.Time
	until    time.Time
	next     *time.Time
	// sealed: the held credits were leased in the second their balance
	// was set or refilled, when a change later in that second would
	// leave the same refilled (stores keep seconds): they are spent,
	// never given back.
	sealed bool
	// used is the last spend's time, for IdleAfter; gone is set once the
	// key is forgotten, so that a spend that waited for it starts over.
	used time.Time
	gone bool
}

// NewCreditLeases returns a CreditSpender spending the credits of store
// from leases.
func NewCreditLeases(store pihu.CreditStore, opts CreditLeaseOptions) *CreditLeases {
	if opts.Share <= 0 {
		opts.Share = 50
	}
	if opts.MinLease <= 0 {
		opts.MinLease = 2
	}
	if opts.IdleAfter <= 0 {
		opts.IdleAfter = 10 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &CreditLeases{
		store: store, share: opts.Share, minLease: opts.MinLease, idle: opts.IdleAfter,
		timeout: opts.Timeout, logger: opts.Logger, keys: make(map[string]*creditLease),
	}
}

// SpendCredits implements CreditSpender, as pihu.CreditStore's does: the
// Spend's Remaining is the key's balance as this process sees it (what
// the store had at its last spend of the key, and what it holds since).
func (c *CreditLeases) SpendCredits(ctx context.Context, id string, cost int64, now time.Time) (pihu.Spend, error) {
	for {
		e := c.entry(id, now)
		e.mu.Lock()
		if e.gone {
			e.mu.Unlock()
			continue
		}
		sp, err := c.spend(ctx, id, e, cost, now)
		e.used = now
		e.mu.Unlock()
		return sp, err
	}
}

// entry returns the key's lease, made if need be, after forgetting the
// keys unused for IdleAfter if that is due.
func (c *CreditLeases) entry(id string, now time.Time) *creditLease {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !now.Before(c.nextSweep) {
		c.sweep(now)
		c.nextSweep = now.Add(c.idle)
	}
	e := c.keys[id]
	if e == nil {
		e = &creditLease{}
		c.keys[id] = e
	}
	return e
}

// spend spends cost credits of key id with e locked.
func (c *CreditLeases) spend(ctx context.Context, id string, e *creditLease, cost int64, now time.Time) (pihu.Spend, error) {
	if e.held > 0 && !e.until.IsZero() && !now.Before(e.until) {
		// A refill since the lease: what it held is not carried over.
		e.held = 0
	}
	if e.held >= max(cost, 1) {
		e.held -= cost
		return pihu.Spend{OK: true, Remaining: e.remaining + e.held, NextRefill: e.next, Refilled: e.refilled}, nil
	}
	if c.leasable(e, cost, now) {
		chunk := e.remaining / c.share
		sp, err := c.store.SpendCredits(ctx, id, cost+chunk, now)
		if err != nil {
			return sp, err
		}
		if sp.OK {
			if !sp.Refilled.Equal(e.refilled) {
				e.held = 0 // from before a refill or a change: not this balance's
			}
			e.take(sp, chunk)
			e.sealed = e.sealed || !now.Truncate(time.Second).After(sp.Refilled)
			return pihu.Spend{OK: true, Remaining: e.remaining + e.held, NextRefill: e.next, Refilled: e.refilled}, nil
		}
	}
	// The exact path: what is held goes back first, so that the store has
	// every credit of the key.
	if n, refilled := e.returnable(); n > 0 {
		if _, err := c.store.GiveBackCredits(ctx, id, n, refilled, now); err != nil {
			return pihu.Spend{}, err
		}
	}
	e.held, e.sealed = 0, false
	sp, err := c.store.SpendCredits(ctx, id, cost, now)
	if err != nil {
		return sp, err
	}
	e.take(sp, 0)
	return sp, nil
}

// leasable reports whether a spend of cost at now may take a lease: the
// balance is known and large enough, no refill is due, and it was not
// set or refilled in this second (see sealed).
func (c *CreditLeases) leasable(e *creditLease, cost int64, now time.Time) bool {
	return e.known && cost > 0 && e.remaining/c.share >= c.minLease &&
		(e.until.IsZero() || now.Before(e.until)) && now.Truncate(time.Second).After(e.refilled)
}

// returnable is what e holds that may be given back, and the refilled
// of its balance.
func (e *creditLease) returnable() (int64, time.Time) {
	if e.sealed {
		return 0, e.refilled
	}
	return e.held, e.refilled
}

// take records a spend that answered sp and left held more credits to
// the process.
func (e *creditLease) take(sp pihu.Spend, held int64) {
	e.known = sp.Remaining >= 0
	e.remaining = sp.Remaining
	e.held += held
	e.refilled = sp.Refilled
	e.next = sp.NextRefill
	e.until = time.Time{}
	if sp.NextRefill != nil {
		e.until = *sp.NextRefill
	}
}

// Forget gives back, in the background, what the process holds of key
// id's credits, and forgets what it knew of them: call it when the key
// changes or is revoked, so that a changed balance is read afresh. It
// does not wait, not even for a spend of the key under way.
func (c *CreditLeases) Forget(id string) {
	c.mu.Lock()
	e := c.keys[id]
	delete(c.keys, id)
	c.mu.Unlock()
	if e != nil {
		now := time.Now()
		c.background(func() { c.release(id, e, now) })
	}
}

// Held returns how many credits of key id the process holds.
func (c *CreditLeases) Held(id string) int64 {
	c.mu.Lock()
	e := c.keys[id]
	c.mu.Unlock()
	if e == nil {
		return 0
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.held
}

// Close gives back every lease, waiting at most the Timeout for the
// store.
func (c *CreditLeases) Close() error {
	c.bgMu.Lock()
	c.closed = true
	c.bgMu.Unlock()
	c.mu.Lock()
	keys := c.keys
	c.keys = make(map[string]*creditLease)
	c.mu.Unlock()
	c.bg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	now := time.Now()
	for id, e := range keys {
		e.mu.Lock()
		n, refilled := e.returnable()
		e.held, e.gone = 0, true
		e.mu.Unlock()
		if n > 0 {
			c.giveBack(ctx, id, n, refilled, now)
		}
	}
	return nil
}

// sweep forgets the keys unused since IdleAfter before now, giving back
// their leases; c.mu is held. A key being spent is left for next time.
func (c *CreditLeases) sweep(now time.Time) {
	for id, e := range c.keys {
		if !e.mu.TryLock() {
			continue
		}
		idle := now.Sub(e.used) >= c.idle
		e.mu.Unlock()
		if idle {
			delete(c.keys, id)
			c.background(func() { c.release(id, e, now) })
		}
	}
}

// release gives back what e holds, once no spend of it is under way; e
// is no longer in c.keys.
func (c *CreditLeases) release(id string, e *creditLease, now time.Time) {
	e.mu.Lock()
	n, refilled := e.returnable()
	e.held, e.gone = 0, true
	e.mu.Unlock()
	if n > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		c.giveBack(ctx, id, n, refilled, now)
	}
}

// background runs f in a goroutine Close waits for, unless closed (then
// Close gives back what is held itself).
func (c *CreditLeases) background(f func()) {
	c.bgMu.Lock()
	defer c.bgMu.Unlock()
	if !c.closed {
		c.bg.Go(f)
	}
}

func (c *CreditLeases) giveBack(ctx context.Context, id string, n int64, refilled, now time.Time) {
	if _, err := c.store.GiveBackCredits(ctx, id, n, refilled, now); err != nil {
		c.logger.Warn("could not give back the unused credits of a lease: they are lost", "key_id", id, "credits", n, "err", err)
	}
}
