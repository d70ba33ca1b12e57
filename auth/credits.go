package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"sync/atomic"
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
	// Tranches sets the tranche, a lease divided by Tranches, rounded up
	// (default 10): the most the process may spend of a lease beyond
	// what the store's record of it says is spent, and so the most an
	// instance that dies loses of each lease. It reports half a tranche
	// at a time, when half a tranche is left.
	Tranches int64
	// TTL is how long a lease lives in the store without being renewed:
	// when it has expired, any instance's SweepCreditLeases gives what it
	// holds back to the key. Run renews the leases every TTL/3, and the
	// process stops spending a lease it could not renew for 2·TTL/3
	// (default 30 s).
	TTL time.Duration
	// Instance names this process in the leases the store records
	// (default a random id, new for each CreditLeases).
	Instance string
	// Now is the clock of the leases' expiry (default time.Now).
	Now func() time.Time
	// IdleAfter is how long a key's lease may go unused before it is
	// given back (default 10 s).
	IdleAfter time.Duration
	// Timeout bounds a call to the store in the background (default 5 s).
	Timeout time.Duration
	// Logger receives the failures to give a lease back or renew it
	// (default slog.Default()).
	Logger *slog.Logger
}

// CreditLeases is a CreditSpender that spends most credits without a
// store call: a key's first spend in the process is exact (the store's
// SpendCredits) and says how many credits are left; from then on, when
// the process holds too few of the key's credits for a request, it takes
// a lease: one LeaseCredits of the request's cost plus a Share of the
// balance, spent then and there in the store like any spend, so that no
// credit is ever spent twice, and handed out request by request from
// memory until spent. A key whose balance is too small for a lease, or
// whose lease the store cannot cover, is spent exactly: what the process
// held is given back first, so that the store has every credit.
//
// The store records each lease (pihu.CreditLease) with what the process
// still holds of it, as reported ahead of spending: the process may
// spend at most a tranche (a tenth of the lease) beyond what the record
// says is spent, and when half of that is left it lowers what the record
// holds by the next half, in the background (one write every half
// tranche; a request that finds nothing reported left waits for that
// write). The record never holds more than the process has unspent.
// Run renews the records every TTL/3; a record not renewed for TTL
// expires, and SweepCreditLeases, run by every instance, gives what it
// holds back to the key at its next sweep. So if the process dies, its
// leases come back once they expire, less what it had reported as spent
// and not yet spent: at most one tranche per key, a tenth of a lease,
// 0.2% of what the key had left when the lease was taken (rounded up: at
// least 1 credit). A process that cannot renew a lease for 2·TTL/3 stops
// spending it, and takes a new one (or spends exactly) at its next
// request. That credits are never spent twice does not depend on clocks
// or timing: the process only ever spends what it took out of the
// record first, in a committed transaction, and a record is returned to
// the key by the one transaction that deletes it.
//
// What a lease does not spend goes back to the store (ReturnCreditLease,
// which deletes the record in the same transaction) when the key changes
// or is revoked (Forget, called for every key invalidated), when the key
// is unused for IdleAfter, and on Close; the store takes it back only if
// the balance was not set or refilled since (a balance set through the
// API is the balance; unused credits are not carried over a refill). A
// lease is not spent past the key's next refill. A lease taken in the
// second its balance was set or refilled (pihu.LeaseSealed) is never
// given back, whether the process stops or dies.
//
// It is safe for concurrent use: spends of one key wait for each other
// while a lease is taken, spends of different keys do not.
type CreditLeases struct {
	store    pihu.CreditStore
	share    int64
	minLease int64
	tranches int64
	ttl      time.Duration
	instance string
	now      func() time.Time
	idle     time.Duration
	timeout  time.Duration
	logger   *slog.Logger

	mu        sync.Mutex
	keys      map[string]*creditLease
	nextSweep time.Time
	// releasing holds, for each key whose lease is being given back in
	// the background, a channel closed once it is: the key's next lease
	// (same key, same instance, so the same record) waits for it.
	releasing map[string]chan struct{}

	// bgMu orders work in the background against Close.
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
	// reported is what the store's record of the lease holds, as far as
	// the process knows (when a report's outcome is unknown, the higher
	// of the two): held − reported may be spent without a store call.
	// tranche is the most held − reported is once a report is through.
	reported int64
	tranche  int64
	// valid is when the process stops spending the lease unless it is
	// renewed: TTL/3 before the record expires.
	valid time.Time
	// recorded: the store may hold a record of this process's lease of
	// the key (read without mu by Run).
	recorded atomic.Bool
	// reporting, while a report is under way in the background, is
	// closed when it ends. After a report that failed, the next is not
	// tried in the background before retryAt.
	reporting chan struct{}
	retryAt   time.Time
	// sealed: the held credits were leased in the second their balance
	// was set or refilled (pihu.LeaseSealed): they are spent, never
	// given back, and the record holds none of them.
	sealed bool
	// prior, if not nil, is closed once the lease the process held of
	// the key before this one is given back: its record is the one this
	// lease would write.
	prior <-chan struct{}
	// used is the last spend's time, for IdleAfter; gone is set once the
	// key is forgotten, so that a spend that waited for it starts over.
	used time.Time
	gone bool
}

// NewCreditLeases returns a CreditSpender spending the credits of store
// from leases. Call Run to renew its leases, and Close to give them
// back.
func NewCreditLeases(store pihu.CreditStore, opts CreditLeaseOptions) *CreditLeases {
	if opts.Share <= 0 {
		opts.Share = 50
	}
	if opts.MinLease <= 0 {
		opts.MinLease = 2
	}
	if opts.Tranches <= 0 {
		opts.Tranches = 10
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultCreditLeaseTTL
	}
	if opts.Instance == "" {
		b := make([]byte, 12)
		rand.Read(b)
		opts.Instance = "inst_" + hex.EncodeToString(b)
	}
	if opts.Now == nil {
		opts.Now = time.Now
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
		store: store, share: opts.Share, minLease: opts.MinLease, tranches: opts.Tranches,
		ttl: opts.TTL, instance: opts.Instance, now: opts.Now, idle: opts.IdleAfter,
		timeout: opts.Timeout, logger: opts.Logger, keys: make(map[string]*creditLease),
		releasing: make(map[string]chan struct{}),
	}
}

// DefaultCreditLeaseTTL is how long a lease of credits lives in the store
// without being renewed, by default (CreditLeaseOptions.TTL).
const DefaultCreditLeaseTTL = 30 * time.Second

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
		if sp, ok := c.warm(id, e, cost, now); ok {
			e.used = now
			e.mu.Unlock()
			return sp, nil
		}
		if ch := e.reporting; ch != nil {
			// The next tranche is being reported: wait for it.
			e.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return pihu.Spend{}, ctx.Err()
			}
			continue
		}
		sp, err := c.spend(ctx, id, e, cost, now)
		e.used = now
		e.mu.Unlock()
		return sp, err
	}
}

// RefundCredits implements CreditSpender: n credits that a spend of key
// or identity id, which answered sp, took go back to the lease they came
// from while the process holds it (the same balance, recorded and not
// sealed, valid, before its refill), without a store call; otherwise to
// the store (pihu.CreditStore.RefundCredits). Credits added to a lease
// go back to the store with it: none is spent twice.
func (c *CreditLeases) RefundCredits(ctx context.Context, id string, n int64, sp pihu.Spend, now time.Time) (bool, error) {
	c.mu.Lock()
	e := c.keys[id]
	c.mu.Unlock()
	if e != nil {
		e.mu.Lock()
		if !e.gone && e.recorded.Load() && !e.sealed && e.refilled.Equal(sp.Refilled) && now.Before(e.valid) &&
			(e.until.IsZero() || now.Before(e.until)) {
			e.held += n
			e.mu.Unlock()
			return true, nil
		}
		e.mu.Unlock()
	}
	return c.store.RefundCredits(ctx, id, n, sp, now)
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
		e = &creditLease{prior: c.releasing[id]}
		c.keys[id] = e
	}
	return e
}

// awaitPrior waits, e locked, until the lease held before e of the same
// key is given back.
func (e *creditLease) awaitPrior(ctx context.Context) error {
	if e.prior == nil {
		return nil
	}
	select {
	case <-e.prior:
		e.prior = nil
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// warm spends cost credits of key id from what e holds and the store's
// record no longer does, with e locked, without a store call; false if
// it cannot. When little of that is left, the next tranche is reported
// in the background.
func (c *CreditLeases) warm(id string, e *creditLease, cost int64, now time.Time) (pihu.Spend, bool) {
	if e.held > 0 && !e.until.IsZero() && !now.Before(e.until) {
		// A refill since the lease: what it held is not carried over.
		e.held, e.reported = 0, 0
	}
	if !now.Before(e.valid) || e.held-e.reported < max(cost, 1) {
		return pihu.Spend{}, false
	}
	e.held -= cost
	if e.reporting == nil && e.reported > 0 && 2*(e.held-e.reported) <= e.tranche && !now.Before(e.retryAt) {
		c.reportAhead(id, e, max(0, e.held-e.tranche))
	}
	return pihu.Spend{OK: true, Remaining: e.remaining + e.held, NextRefill: e.next, Refilled: e.refilled}, true
}

// spend spends cost credits of key id with e locked, and no report of
// it under way, when warm could not: from the lease once its next
// tranche is reported, from a new lease, or exactly.
func (c *CreditLeases) spend(ctx context.Context, id string, e *creditLease, cost int64, now time.Time) (pihu.Spend, error) {
	if now.Before(e.valid) && e.held >= max(cost, 1) {
		// Enough is held, not yet reported: report a tranche (or the
		// cost, if more) now.
		target := max(0, e.held-max(e.tranche, cost))
		sent := c.now()
		ok, err := c.store.ReportCreditLease(ctx, id, c.instance, target, sent.Add(c.ttl))
		if err != nil {
			return pihu.Spend{}, err
		}
		c.reported(e, target, sent, ok)
		if ok {
			e.held -= cost
			return pihu.Spend{OK: true, Remaining: e.remaining + e.held, NextRefill: e.next, Refilled: e.refilled}, nil
		}
	}
	if err := e.awaitPrior(ctx); err != nil {
		return pihu.Spend{}, err
	}
	if c.leasable(e, cost, now) {
		chunk := e.remaining / c.share
		tranche := (chunk + c.tranches - 1) / c.tranches
		sent := c.now()
		r := pihu.LeaseRequest{KeyID: id, Instance: c.instance, Cost: cost, Lease: chunk,
			Unreported: min(chunk, tranche), Expires: sent.Add(c.ttl)}
		if e.recorded.Load() {
			r.Unspent = e.returnable()
		}
		sp, err := c.store.LeaseCredits(ctx, r, now)
		// Whatever the outcome, the lease held before is no longer
		// this process's to spend: replaced (given back) or, after an
		// error, of unknown fate (its record expires).
		e.drop()
		if err != nil {
			return sp, err
		}
		if sp.OK {
			e.take(sp)
			if sp.Remaining >= 0 {
				e.held, e.reported, e.tranche = chunk, r.Held(sp, now), tranche
				e.sealed = pihu.LeaseSealed(sp, now)
				e.valid = sent.Add(c.ttl - c.ttl/3)
				e.recorded.Store(true)
			}
			return pihu.Spend{OK: true, Remaining: e.remaining + e.held, NextRefill: e.next, Refilled: e.refilled}, nil
		}
	}
	// The exact path: what is held goes back first, so that the store has
	// every credit of the key.
	if e.recorded.Load() {
		n := e.returnable()
		_, err := c.store.ReturnCreditLease(ctx, id, c.instance, n, now)
		e.drop()
		if err != nil {
			return pihu.Spend{}, err
		}
	}
	e.drop()
	sp, err := c.store.SpendCredits(ctx, id, cost, now)
	if err != nil {
		return sp, err
	}
	e.take(sp)
	return sp, nil
}

// leasable reports whether a spend of cost at now may take a lease: the
// balance is known and large enough, no refill is due, and it was not
// set or refilled in this second (see pihu.LeaseSealed).
func (c *CreditLeases) leasable(e *creditLease, cost int64, now time.Time) bool {
	return e.known && cost > 0 && e.remaining/c.share >= c.minLease &&
		(e.until.IsZero() || now.Before(e.until)) && now.Truncate(time.Second).After(e.refilled)
}

// reportAhead reports in the background, e locked, that the record of
// the lease of key id holds target credits, so that the process may
// spend down to it once the store has it.
func (c *CreditLeases) reportAhead(id string, e *creditLease, target int64) {
	ch := make(chan struct{})
	e.reporting = ch
	sent := c.now()
	if !c.background(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		ok, err := c.store.ReportCreditLease(ctx, id, c.instance, target, sent.Add(c.ttl))
		e.mu.Lock()
		if err != nil {
			c.logger.Warn("could not report a lease of credits; its next tranche waits for the store", "key_id", id, "err", err)
			e.retryAt = sent.Add(time.Second)
		} else {
			c.reported(e, target, sent, ok)
		}
		e.reporting = nil
		e.mu.Unlock()
		close(ch)
	}) {
		e.reporting = nil
	}
}

// reported records, e locked, a report sent at sent that the lease's
// record holds target: ok, the process may spend down to target until
// the record's new expiry less TTL/3; not ok, the record is gone
// (expired and returned to the key), and so is the lease.
func (c *CreditLeases) reported(e *creditLease, target int64, sent time.Time, ok bool) {
	if !ok {
		e.drop()
		return
	}
	e.reported = min(e.reported, target)
	if v := sent.Add(c.ttl - c.ttl/3); v.After(e.valid) {
		e.valid = v
	}
}

// returnable is what e holds that may be given back.
func (e *creditLease) returnable() int64 {
	if e.sealed {
		return 0
	}
	return e.held
}

// drop forgets e's lease: nothing is held or recorded any more.
func (e *creditLease) drop() {
	e.held, e.reported, e.tranche, e.sealed, e.valid = 0, 0, 0, false, time.Time{}
	e.recorded.Store(false)
}

// take records what a spend that answered sp says of the key's balance.
func (e *creditLease) take(sp pihu.Spend) {
	e.known = sp.Remaining >= 0
	e.remaining = sp.Remaining
	e.refilled = sp.Refilled
	e.next = sp.NextRefill
	e.until = time.Time{}
	if sp.NextRefill != nil {
		e.until = *sp.NextRefill
	}
}

// Run renews the process's leases every TTL/3 until ctx is done, so that
// they do not expire while it lives.
func (c *CreditLeases) Run(ctx context.Context) {
	t := time.NewTicker(c.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.renew(ctx)
		}
	}
}

// renew renews the leases the process holds.
func (c *CreditLeases) renew(ctx context.Context) {
	c.mu.Lock()
	var ids []string
	for id, e := range c.keys {
		if e.recorded.Load() {
			ids = append(ids, id)
		}
	}
	c.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	sent := c.now()
	leases, err := c.store.RenewCreditLeases(ctx, c.instance, ids, sent.Add(c.ttl))
	if err != nil {
		if ctx.Err() == nil {
			c.logger.Warn("could not renew the leases of credits; they are not spent past their expiry", "leases", len(ids), "err", err)
		}
		return
	}
	for _, l := range leases {
		c.mu.Lock()
		e := c.keys[l.KeyID]
		c.mu.Unlock()
		if e == nil {
			continue
		}
		e.mu.Lock()
		if e.recorded.Load() {
			if v := sent.Add(c.ttl - c.ttl/3); v.After(e.valid) {
				e.valid = v
			}
		}
		e.mu.Unlock()
	}
}

// Forget gives back, in the background, what the process holds of key
// id's credits, and forgets what it knew of them: call it when the key
// changes or is revoked, so that a changed balance is read afresh. It
// does not wait, not even for a spend of the key under way.
func (c *CreditLeases) Forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.keys[id]; e != nil {
		delete(c.keys, id)
		c.releaseLocked(id, e, time.Now())
	}
}

// releaseLocked gives back e's lease in the background, c.mu held; the
// next lease of the key waits for it.
func (c *CreditLeases) releaseLocked(id string, e *creditLease, now time.Time) {
	done := make(chan struct{})
	c.releasing[id] = done
	f := func() {
		c.release(id, e, now)
		c.mu.Lock()
		if c.releasing[id] == done {
			delete(c.releasing, id)
		}
		c.mu.Unlock()
		close(done)
	}
	if !c.background(f) {
		go f() // closed: not waited for
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

// Instance is the id of the process in the leases the store records.
func (c *CreditLeases) Instance() string { return c.instance }

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
	now := time.Now()
	for id, e := range keys {
		c.release(id, e, now)
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
			c.releaseLocked(id, e, now)
		}
	}
}

// release gives back what e holds and deletes its record, once no spend
// or report of it is under way; e is no longer in c.keys.
func (c *CreditLeases) release(id string, e *creditLease, now time.Time) {
	e.mu.Lock()
	for e.reporting != nil {
		ch := e.reporting
		e.mu.Unlock()
		<-ch
		e.mu.Lock()
	}
	n, recorded := e.returnable(), e.recorded.Load()
	e.drop()
	e.gone = true
	prior := e.prior
	e.mu.Unlock()
	if !recorded {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if prior != nil {
		select {
		case <-prior:
		case <-ctx.Done():
		}
	}
	if _, err := c.store.ReturnCreditLease(ctx, id, c.instance, n, now); err != nil {
		c.logger.Warn("could not give back the unused credits of a lease; what its record holds goes back when it expires",
			"key_id", id, "credits", n, "ttl", c.ttl, "err", err)
	}
}

// background runs f in a goroutine Close waits for, and reports whether
// it did: not once closed (then Close gives back what is held itself).
func (c *CreditLeases) background(f func()) bool {
	c.bgMu.Lock()
	defer c.bgMu.Unlock()
	if c.closed {
		return false
	}
	c.bg.Go(f)
	return true
}

// SweepCreditLeases gives back to their keys what the leases of credits
// that expired hold (pihu.CreditLeaseStore.ExpireCreditLeases: the leases
// of instances that died, or could not renew them), now and then every
// interval until ctx is done. Every instance runs it, whether it takes
// leases or not: two at once return each lease once.
func SweepCreditLeases(ctx context.Context, store pihu.CreditStore, every time.Duration, logger *slog.Logger) {
	const batch = 100
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for {
			n, err := store.ExpireCreditLeases(ctx, time.Now(), batch)
			if err != nil {
				if ctx.Err() == nil && pihu.ErrorCode(err) != pihu.EUnavailable {
					logger.Warn("could not give back the credits of expired leases", "err", err)
				}
				break
			}
			if n > 0 {
				logger.Info("gave back the credits of expired leases", "leases", n)
			}
			if n < batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
