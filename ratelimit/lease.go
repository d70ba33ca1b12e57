package ratelimit

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// LeasedOptions configure a Leased limiter; zero values take the defaults.
type LeasedOptions struct {
	// Redis is how the limiter reaches Redis, as for NewRedis: the key
	// prefix (the same keys as the Redis limiter's, so that both may share
	// one Redis), the clock, the timeout of one call, the probe and the
	// fallback while Redis is unreachable.
	Redis RedisOptions
	// Exact decides every request in Redis, as the Redis limiter does:
	// no lease is taken (serve --exact-limits).
	Exact bool
	// Share is how many leases a limit's burst is cut into: one lease is
	// worth Burst/Share requests (default 50: 2% of the burst).
	Share int
	// MinLease is the fewest requests a lease is worth: a limit whose
	// lease would be smaller is decided in Redis on every request, as
	// with Exact (default 2: with the default Share, limits with a burst
	// under 100 requests).
	MinLease int
	// MaxKeys bounds the number of keys with a lease or a refusal known
	// in this process (default 1,000,000). When it is reached, the key
	// least recently used of a few gives back its lease and is forgotten.
	MaxKeys int
	// IdleAfter is how long a key may go unused before its lease is given
	// back and the key forgotten (default 10 s).
	IdleAfter time.Duration
}

// Leased is the Limiter of a fleet that decides locally: the same GCRA
// and the same state in Redis as the Redis limiter (one TAT per key), but
// instead of spending one request per round trip, an instance leases a
// span of the key's GCRA time line at once (lease.lua: as many requests
// as one Share of the burst, no more than the budget has left) and spends
// it request by request in process. A warm request makes no network call;
// a new lease is taken in the background when half of one is spent, and
// a request waits for Redis only when the lease is spent (or on the
// key's first request in this process). A key whose budget is known to
// be spent is refused in process until the moment Redis said a request
// comes back.
//
// A lease is a span [start, end) of the time line that Redis has moved
// the key's TAT past, exactly as end-start worth of requests would have;
// no other instance is ever given any of it. A request spends the part
// [t, t+interval) of it, t being now or the end of the part spent last,
// whichever is later, and only if that part is within the span. So every
// request admitted by any instance owns a part of the time line of its
// own, which starts no earlier than the moment it was admitted and ends
// no later than the burst offset after it: in any stretch of time, the
// whole fleet admits no more requests than a single exact limiter could
// (see docs/rate-limits.md for the proof). What leasing costs is the
// other way round: requests an instance leased and did not spend are
// unavailable to the others until their time passes (at most one lease
// per instance, Burst/Share requests each) or the lease is given back.
//
// Unused leases are given back (giveback.lua: only if no lease was taken
// after them, so that nobody else's span moves) when the key is
// forgotten: on Forget (a key revoked or changed), when it was unused
// for IdleAfter, and on Close.
//
// The time of a decision is Redis's: an instance estimates it from the
// time each lease was answered at, an estimate never earlier than the
// real time (the round trip can only make it later), so that a part of a
// lease is never judged to start before it really does.
//
// If Redis fails, decisions go to the in-process fallback exactly as
// with the Redis limiter, until the probe finds Redis again.
type Leased struct {
	r           *Redis
	store       leaseStore
	exact       bool
	share       int64
	minLease    int64
	idle        int64
	maxPerShard int
	seed        maphash.Seed
	shards      [shardCount]leaseShard

	// The time in Redis is estimated from the time since base, on the
	// monotonic clock, and sync: see clock and sample.
	base time.Time
	sync atomic.Pointer[clockSync]

	// spawn starts background work (a lease taken ahead of need, a lease
	// given back); bg counts the work under way, which Close waits for.
	spawn  func(func())
	mu     sync.Mutex // guards closed against bg.Add
	closed bool
	bg     sync.WaitGroup
}

var _ Limiter = (*Leased)(nil)

type leaseShard struct {
	mu        sync.Mutex
	m         map[string]*lease
	nextSweep int64
	_         [40]byte // keeps shards on separate cache lines
}

// lease is what this process holds of a key's budget. Every time is in
// Unix nanoseconds, on the estimated Redis clock.
type lease struct {
	// interval and burst are the limit's; a key used under another limit
	// gets a new lease.
	interval, burst int64
	// [tat, end) is the span being spent: the next request takes
	// [max(now, tat), +interval) if that ends by end.
	tat, end int64
	// [next, nextEnd) is a span leased when another instance had leased
	// right after [tat, end): it is spent once that one is (0, 0: none).
	next, nextEnd int64
	// known is the key's TAT in Redis when last heard: never before end,
	// since nobody leases before a span already leased.
	known int64
	// call is the lease being taken, if any: one at a time per key.
	call *leaseCall
	// used is when the key was last asked about.
	used int64
}

// leaseCall is a lease being taken. Whoever needs it first runs it: the
// background, or a request that cannot wait for the background.
type leaseCall struct {
	once sync.Once
	run  func() error
	err  error
}

func (c *leaseCall) wait() error {
	c.once.Do(func() { c.err = c.run() })
	return c.err
}

// NewLeased returns a Limiter keeping its state in Redis through client
// (see DialRedis), deciding locally from leases as Leased describes. Call
// Close when done with it, to give the leases back.
func NewLeased(client redis.UniversalClient, opts LeasedOptions) *Leased {
	r := NewRedis(client, opts.Redis)
	return newLeased(r, redisLeases{client: client, prefix: r.prefix}, opts)
}

func newLeased(r *Redis, store leaseStore, opts LeasedOptions) *Leased {
	if opts.Share <= 0 {
		opts.Share = 50
	}
	if opts.MinLease <= 0 {
		opts.MinLease = 2
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 1_000_000
	}
	if opts.IdleAfter <= 0 {
		opts.IdleAfter = 10 * time.Second
	}
	l := &Leased{
		r: r, store: store, exact: opts.Exact,
		share: int64(opts.Share), minLease: int64(opts.MinLease), idle: int64(opts.IdleAfter),
		maxPerShard: max(1, opts.MaxKeys/shardCount),
		seed:        maphash.MakeSeed(),
		base:        time.Now(),
		spawn:       func(f func()) { go f() },
	}
	// Until a lease answers, this clock's own time; nothing is decided
	// on it (every key starts with a lease).
	l.sync.Store(&clockSync{offset: l.base.UnixNano(), window: -syncWindow})
	for i := range l.shards {
		l.shards[i].m = make(map[string]*lease)
	}
	return l
}

// LeaseSize is how many requests one lease of limit is worth, 0 when
// limit is decided in Redis on every request.
func (l *Leased) LeaseSize(limit Limit) int {
	return int(l.chunk(limit))
}

func (l *Leased) chunk(limit Limit) int64 {
	if l.exact {
		return 0
	}
	c := int64(limit.BurstSize()) / l.share
	if c < l.minLease {
		return 0
	}
	return c
}

// Allow implements Limiter. It returns an error only for an invalid limit,
// or when ctx is done while it asks Redis.
func (l *Leased) Allow(ctx context.Context, key string, limit Limit) (Result, error) {
	if err := limit.Validate(); err != nil {
		return Result{}, err
	}
	chunk := l.chunk(limit)
	if chunk == 0 {
		return l.once(ctx, key, limit, 1)
	}
	for range 2 {
		if l.r.degraded.Load() {
			return l.r.decideLocally(ctx, key, limit, 1)
		}
		res, call := l.step(key, limit, chunk)
		if call == nil {
			return res, nil
		}
		if err := call.wait(); err != nil {
			return l.r.decideLocally(ctx, key, limit, 1)
		}
	}
	// Other requests spent two fresh leases before this one could: a
	// key this hot with a budget this small is decided in Redis.
	return l.once(ctx, key, limit, 1)
}

// once decides one request in Redis, as the Redis limiter does, with a
// lease of exactly one request spent at once (cost 1), or a lease of
// nothing that only reads the key's TAT (cost 0).
func (l *Leased) once(ctx context.Context, key string, limit Limit, cost int64) (Result, error) {
	if l.r.degraded.Load() {
		return l.r.decideLocally(ctx, key, limit, cost)
	}
	interval, burst := int64(limit.Interval()), int64(limit.BurstSize())
	q := leaseQuery{interval: interval, burstOffset: interval * burst, want: interval * cost, after: -1, fresh: interval * cost}
	if l.r.now != nil {
		q.now = l.r.now().UnixNano()
	}
	tctx, cancel := context.WithTimeout(ctx, l.r.timeout)
	g, err := l.store.lease(tctx, key, q)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		l.r.fail(err)
		return l.r.decideLocally(ctx, key, limit, cost)
	}
	res, _ := gcra(g.now, g.start, interval, burst, cost)
	return res, nil
}

// Peek implements Limiter: from what this process holds and last heard
// of the key, or from Redis for a key it knows nothing of. It returns an
// error only for an invalid limit, or when ctx is done while it asks
// Redis.
func (l *Leased) Peek(ctx context.Context, key string, limit Limit) (Result, error) {
	if err := limit.Validate(); err != nil {
		return Result{}, err
	}
	if l.chunk(limit) == 0 || l.r.degraded.Load() {
		return l.once(ctx, key, limit, 0)
	}
	s := l.shard(key)
	s.mu.Lock()
	e := s.m[key]
	if e == nil || e.interval != int64(limit.Interval()) || e.burst != int64(limit.BurstSize()) {
		s.mu.Unlock()
		return l.once(ctx, key, limit, 0)
	}
	now := l.clock()
	res, _ := gcra(now, e.fleetTAT(now), e.interval, e.burst, 0)
	s.mu.Unlock()
	return res, nil
}

// Refund implements Limiter. A request spent from this process's lease
// goes back to the lease (the span it took is free again); for a key this
// process holds no lease of, it goes back to the key's budget in Redis, as
// the Redis limiter gives it back. A refund of a key whose lease has
// nothing spent ahead of now does nothing: its budget is as full as this
// process can tell, and giving one back in Redis could let the fleet admit
// more than the limit. It returns an error only for an invalid limit, or
// when ctx is done while it asks Redis.
func (l *Leased) Refund(ctx context.Context, key string, limit Limit) error {
	if err := limit.Validate(); err != nil {
		return err
	}
	if l.chunk(limit) == 0 || l.r.degraded.Load() {
		return l.r.Refund(ctx, key, limit)
	}
	s := l.shard(key)
	s.mu.Lock()
	e := s.m[key]
	if e != nil && e.interval == int64(limit.Interval()) && e.burst == int64(limit.BurstSize()) {
		if now := l.clock(); e.tat > now {
			e.tat = max(now, e.tat-e.interval)
		}
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	return l.r.Refund(ctx, key, limit)
}

// AllowN implements Limiter. A cost of one is Allow, from the lease; any
// other cost is decided in Redis, as the Redis limiter decides it (a
// lease is of requests of one, and a span leased for a larger cost could
// be cut short by the budget left): it moves the key's TAT past every
// span leased, so the bound holds for both. It returns an error only for
// an invalid limit or a negative cost, or when ctx is done while it asks
// Redis.
func (l *Leased) AllowN(ctx context.Context, key string, limit Limit, n int) (Result, error) {
	switch {
	case n == 1:
		return l.Allow(ctx, key, limit)
	case n == 0:
		return l.Peek(ctx, key, limit)
	}
	return l.r.AllowN(ctx, key, limit, n)
}

// RefundN implements Limiter: Refund for one, else as the Redis limiter
// gives back what it spent.
func (l *Leased) RefundN(ctx context.Context, key string, limit Limit, n int) error {
	if n == 1 {
		return l.Refund(ctx, key, limit)
	}
	return l.r.RefundN(ctx, key, limit, n)
}

// Forget gives back what this process holds of key's budget, and forgets
// it: call it when the key changes or is revoked, so that a lease of a
// revoked key returns to the budget and a changed limit starts afresh.
// It does not wait for Redis.
func (l *Leased) Forget(key string) {
	s := l.shard(key)
	s.mu.Lock()
	if e := s.m[key]; e != nil {
		delete(s.m, key)
		l.release(key, e, l.clock())
	}
	s.mu.Unlock()
}

// Degraded reports whether decisions are made in process because Redis
// failed and has not answered since.
func (l *Leased) Degraded() bool { return l.r.Degraded() }

// Len returns the number of keys this process holds a lease of, or knows
// to be spent.
func (l *Leased) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// Close waits for the leases being taken, gives back every lease this
// process holds (waiting at most the timeout of one call for Redis), and
// stops probing Redis. It does not close the client.
func (l *Leased) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.bg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), l.r.timeout)
	defer cancel()
	now := l.clock()
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		held := s.m
		s.m = make(map[string]*lease)
		s.mu.Unlock()
		for key, e := range held {
			if g, ok := e.unused(now); ok && ctx.Err() == nil {
				l.giveBackCtx(ctx, key, g)
			}
		}
	}
	return l.r.Close()
}

func (l *Leased) shard(key string) *leaseShard {
	return &l.shards[maphash.String(l.seed, key)%shardCount]
}

// clockSync is what the estimate of the time in Redis rests on.
type clockSync struct {
	// offset is what to add to the time since base: the least offset
	// sampled since window, sampled at at, with a round trip of rtt.
	offset, at, rtt int64
	window          int64
}

// syncWindow is how long the least offset sampled is kept before a fresh
// sample replaces it, so that the estimate follows the clocks' drift.
const syncWindow = int64(time.Second)

// driftRate is how fast the two clocks may drift apart: 1/2000 (500 ppm,
// the most NTP slews a clock by; a clock off by more is broken). The
// estimate moves ahead of its sample by that much, so that it stays no
// earlier than Redis's time however far the clocks drift.
const driftRate = 2000

// clock is the estimated time in Redis, never earlier than the real one
// (see sample), or the injected clock's.
func (l *Leased) clock() int64 {
	if l.r.now != nil {
		return l.r.now().UnixNano()
	}
	since := int64(time.Since(l.base))
	s := l.sync.Load()
	return since + s.offset + (since-s.at)/driftRate
}

// sample takes in what a lease answered: Redis read its clock (redisNow)
// after the query was sent (sent, on the monotonic clock since base) and
// before it was answered (got), so redisNow - sent is never less than the
// true offset between the two clocks, and more by at most the round trip.
// The least of these in the last syncWindow is the estimate's offset.
func (l *Leased) sample(redisNow, sent, got int64) {
	next := &clockSync{offset: redisNow - sent, at: sent, rtt: got - sent, window: sent}
	for {
		cur := l.sync.Load()
		if sent-cur.window <= syncWindow {
			if next.offset >= cur.offset {
				return
			}
			next.window = cur.window
		}
		if l.sync.CompareAndSwap(cur, next) {
			return
		}
	}
}

// slack is how much longer than wanted a lease is taken, so that one
// starting at Redis's now still holds what was wanted when spent from
// the (later) estimate of now: the estimate's round trip and drift.
func (l *Leased) slack() int64 {
	if l.r.now != nil {
		return 0
	}
	s := l.sync.Load()
	return s.rtt + (int64(time.Since(l.base))-s.at)/driftRate
}

// step decides a request from what the process holds, or returns the
// lease to wait for before it can.
func (l *Leased) step(key string, limit Limit, chunk int64) (Result, *leaseCall) {
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := l.clock()
	if now >= s.nextSweep {
		l.sweep(s, now)
		s.nextSweep = now + l.idle
	}
	e := s.m[key]
	interval, burst := int64(limit.Interval()), int64(limit.BurstSize())
	if e == nil || e.interval != interval || e.burst != burst {
		if e != nil {
			l.release(key, e, now)
		} else if len(s.m) >= l.maxPerShard {
			l.evictOne(s, now)
		}
		e = &lease{interval: interval, burst: burst}
		s.m[strings.Clone(key)] = e
	}
	e.used = now
	if res, ok := e.spend(now); ok {
		l.topUp(key, e, now, chunk)
		return res, nil
	}
	fleet := e.fleetTAT(now)
	if fleet-now > burst*interval-interval {
		// The budget is spent, as far as Redis said last: refused here
		// until a request comes back.
		res, _ := gcra(now, fleet, interval, burst, 1)
		return res, nil
	}
	return Result{}, l.startLease(key, e, now, chunk, false)
}

// spend admits a request from the spans held, if one has room for it.
func (e *lease) spend(now int64) (Result, bool) {
	for {
		t := max(now, e.tat)
		if t+e.interval <= e.end {
			fleet := max(now, e.known-(e.end-t))
			res, _ := gcra(now, fleet, e.interval, e.burst, 1)
			if !res.Allowed {
				// What Redis said last is ahead of this clock (an estimate
				// that moved back): the span is ours all the same.
				res = Result{Allowed: true, Limit: int(e.burst), ResetAfter: time.Duration(fleet + e.interval - now)}
			}
			e.tat = t + e.interval
			return res, true
		}
		if e.nextEnd == 0 {
			return Result{}, false
		}
		e.tat, e.end, e.next, e.nextEnd = e.next, e.nextEnd, 0, 0
	}
}

// left is how much of the span being spent is still to spend at now.
func (e *lease) left(now int64) int64 {
	return max(0, e.end-max(now, e.tat))
}

// fleetTAT is the key's TAT as the fleet would have it if this process
// gave back what it holds: as Redis said last, less the span left.
func (e *lease) fleetTAT(now int64) int64 {
	return max(now, e.known-e.left(now))
}

// unused is the span this process could give back at now: the end of
// the last one it leased, if any of it is left.
func (e *lease) unused(now int64) (giveBack, bool) {
	if e.nextEnd != 0 {
		return giveBack{end: e.nextEnd, from: max(now, e.next)}, e.nextEnd > now
	}
	from := max(now, e.tat)
	return giveBack{end: e.end, from: from}, e.end > from
}

// topUp leases ahead of need once half of a lease is spent, unless Redis
// said last that there is nothing more to lease.
func (l *Leased) topUp(key string, e *lease, now, chunk int64) {
	if e.call != nil || e.nextEnd != 0 || 2*e.left(now) >= chunk*e.interval {
		return
	}
	if max(now, e.known)-now > e.burst*e.interval-e.interval {
		return
	}
	l.startLease(key, e, now, chunk, true)
}

// startLease returns the lease call of e, starting one for up to chunk
// requests (less what is left) if none is under way, in the background
// if asked.
func (l *Leased) startLease(key string, e *lease, now, chunk int64, background bool) *leaseCall {
	if e.call != nil {
		return e.call
	}
	// The slack covers the estimate of now being later than Redis's: a
	// lease starting at Redis's now still holds chunk requests from it.
	slack := min(l.slack(), chunk*e.interval)
	q := leaseQuery{
		interval: e.interval, burstOffset: e.interval * e.burst,
		want: max(chunk*e.interval-e.left(now), e.interval) + slack, after: e.end,
		fresh: chunk*e.interval + slack,
	}
	c := &leaseCall{}
	c.run = func() error { return l.runLease(key, e, q) }
	e.call = c
	if background {
		l.background(func() { c.wait() })
	}
	return c
}

// runLease takes the lease q in Redis and adds it to e.
func (l *Leased) runLease(key string, e *lease, q leaseQuery) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.r.timeout)
	defer cancel()
	if l.r.now != nil {
		q.now = l.r.now().UnixNano()
	}
	sent := int64(time.Since(l.base))
	g, err := l.store.lease(ctx, key, q)
	if err == nil && q.now == 0 {
		l.sample(g.now, sent, int64(time.Since(l.base)))
	}
	s := l.shard(key)
	s.mu.Lock()
	e.call = nil
	if err == nil {
		e.add(g)
	}
	orphan := s.m[key] != e
	s.mu.Unlock()
	if err != nil {
		l.r.fail(err)
		return err
	}
	if orphan && g.end > g.start {
		// Forgotten meanwhile: what was leased goes back at once.
		l.background(func() { l.giveBackNow(key, giveBack{end: g.end, from: g.start}) })
	}
	return nil
}

// add puts a lease Redis answered with in e.
func (e *lease) add(g leaseGrant) {
	e.known = g.end
	switch {
	case g.end == g.start:
	case g.start == e.end:
		e.end = g.end // right after the span held: one longer span
	case e.left(g.now) < e.interval:
		e.tat, e.end = g.start, g.end // what was left is worth no request
	default:
		e.next, e.nextEnd = g.start, g.end
	}
}

// release gives back, in the background, what e holds at now. The caller
// holds the shard's lock and has dropped e from it.
func (l *Leased) release(key string, e *lease, now int64) {
	if g, ok := e.unused(now); ok {
		l.background(func() { l.giveBackNow(key, g) })
	}
}

func (l *Leased) giveBackNow(key string, g giveBack) {
	ctx, cancel := context.WithTimeout(context.Background(), l.r.timeout)
	defer cancel()
	l.giveBackCtx(ctx, key, g)
}

// giveBackCtx gives g back in Redis. A failure leaves the span to pass
// with time, as a span that cannot be given back does.
func (l *Leased) giveBackCtx(ctx context.Context, key string, g giveBack) {
	if l.r.now != nil {
		g.now = l.r.now().UnixNano()
	}
	l.store.giveBack(ctx, key, g)
}

// background runs f with spawn, unless the limiter is closed.
func (l *Leased) background(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.bg.Add(1)
	l.spawn(func() {
		defer l.bg.Done()
		f()
	})
}

// sweep forgets the keys of s not used for IdleAfter, giving their leases
// back.
func (l *Leased) sweep(s *leaseShard, now int64) {
	for k, e := range s.m {
		if e.call == nil && now-e.used >= l.idle {
			delete(s.m, k)
			l.release(k, e, now)
		}
	}
}

// evictOne makes room in a full shard: the key least recently used among
// a few without a lease under way gives its lease back and is forgotten.
func (l *Leased) evictOne(s *leaseShard, now int64) {
	const probes = 8
	var victim string
	var oldest *lease
	i := 0
	for k, e := range s.m {
		if e.call == nil && (oldest == nil || e.used < oldest.used) {
			victim, oldest = k, e
		}
		if i++; i == probes {
			break
		}
	}
	if oldest != nil {
		delete(s.m, victim)
		l.release(victim, oldest, now)
	}
}

// leaseStore is where leases are taken and given back: Redis, through
// lease.lua and giveback.lua.
type leaseStore interface {
	// lease takes a lease of key's time line as lease.lua does.
	lease(ctx context.Context, key string, q leaseQuery) (leaseGrant, error)
	// giveBack gives back the end of a lease as giveback.lua does, and
	// reports whether it did.
	giveBack(ctx context.Context, key string, g giveBack) (bool, error)
}

// leaseQuery asks for a lease; times in nanoseconds.
type leaseQuery struct {
	now         int64 // 0: Redis's clock
	interval    int64
	burstOffset int64
	want        int64 // the span wanted right after the caller's
	after       int64 // the end of the caller's span: a short lease only there
	fresh       int64 // the span wanted anywhere else
}

// leaseGrant is a lease: [start, end), empty if end is start, which is
// then the key's TAT; now is the time it was decided at.
type leaseGrant struct {
	now, start, end int64
}

// giveBack gives back [from, end) of a lease whose end is end.
type giveBack struct {
	now       int64 // 0: Redis's clock
	end, from int64
}

var (
	//go:embed lease.lua
	leaseSource string
	//go:embed giveback.lua
	giveBackSource string

	leaseScript    = redis.NewScript(timeSource + leaseSource)
	giveBackScript = redis.NewScript(timeSource + giveBackSource)
)

// redisLeases is the leaseStore of Redis.
type redisLeases struct {
	client redis.UniversalClient
	prefix string
}

func clockArg(now int64) string {
	if now == 0 {
		return ""
	}
	return strconv.FormatInt(now, 10)
}

func (s redisLeases) lease(ctx context.Context, key string, q leaseQuery) (leaseGrant, error) {
	v, err := leaseScript.Run(ctx, s.client, []string{s.prefix + key},
		clockArg(q.now), q.interval, q.burstOffset, q.want, idleTTL.Milliseconds(), strconv.FormatInt(q.after, 10), q.fresh).StringSlice()
	if err != nil {
		return leaseGrant{}, err
	}
	if len(v) != 3 {
		return leaseGrant{}, fmt.Errorf("ratelimit: the lease script returned %d values, want 3", len(v))
	}
	now, err1 := strconv.ParseInt(v[0], 10, 64)
	start, err2 := strconv.ParseInt(v[1], 10, 64)
	end, err3 := strconv.ParseInt(v[2], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return leaseGrant{}, fmt.Errorf("ratelimit: the lease script returned %q: %w", v, err)
	}
	return leaseGrant{now: now, start: start, end: end}, nil
}

func (s redisLeases) giveBack(ctx context.Context, key string, g giveBack) (bool, error) {
	n, err := giveBackScript.Run(ctx, s.client, []string{s.prefix + key},
		clockArg(g.now), strconv.FormatInt(g.end, 10), strconv.FormatInt(g.from, 10), idleTTL.Milliseconds()).Int()
	return n == 1, err
}
