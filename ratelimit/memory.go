package ratelimit

import (
	"context"
	"errors"
	"hash/maphash"
	"strings"
	"sync"
	"time"
)

// MemoryOptions configure a Memory limiter; zero values take the defaults.
type MemoryOptions struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxKeys bounds the number of keys tracked at once (default
	// 1,000,000: about 64 bytes each plus a copy of the key, so under
	// 100 MB). When it is reached the key closest
	// to a full budget is forgotten, which can only let that key make a
	// few more requests, never fewer.
	MaxKeys int
	// SweepInterval is how often idle keys (those whose budget is full
	// again, and so need no memory) are dropped (default 10 seconds: a
	// key used once under a limit of 1000/m is idle 60 ms later, and the
	// shards' maps, which never shrink, grow to the keys of one interval).
	SweepInterval time.Duration
}

// Memory is the in-process Limiter: exact GCRA with one timestamp (the
// theoretical arrival time, TAT) per key that has spent part of its budget.
// Keys are spread over mutex-protected shards so that concurrent requests
// for different keys rarely wait for each other. It starts no goroutine:
// each shard drops its idle keys when it is next used after SweepInterval.
//
// Its limits are per process; several instances behind a load balancer
// each allow the full limit.
type Memory struct {
	now         func() time.Time
	sweepEvery  int64
	maxPerShard int
	seed        maphash.Seed
	shards      [shardCount]shard
}

const shardCount = 64

type shard struct {
	mu sync.Mutex
	// tats maps a key to its TAT in Unix nanoseconds. A key whose TAT is
	// not after now has a full budget, the same as a key not in the map.
	// The map holds a copy of each key of its own, written once: Go
	// replaces a string key's memory on every assignment, and a caller's
	// key may be part of a larger object (the auth cache hands out a key's
	// id inside the key's copy) that the map would keep alive until the
	// next sweep. So a TAT is changed through its pointer, never by
	// assigning to the map again.
	tats      map[string]*int64
	nextSweep int64
	_         [40]byte // keeps shards on separate cache lines
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns an in-process Limiter.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 1_000_000
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = 10 * time.Second
	}
	m := &Memory{
		now:         opts.Now,
		sweepEvery:  int64(opts.SweepInterval),
		maxPerShard: max(1, opts.MaxKeys/shardCount),
		seed:        maphash.MakeSeed(),
	}
	for i := range m.shards {
		m.shards[i].tats = make(map[string]*int64)
	}
	return m
}

// Allow implements Limiter. It returns an error only for an invalid limit.
func (m *Memory) Allow(_ context.Context, key string, limit Limit) (Result, error) {
	return m.take(key, limit, 1)
}

// Peek implements Limiter. It returns an error only for an invalid limit.
func (m *Memory) Peek(_ context.Context, key string, limit Limit) (Result, error) {
	return m.take(key, limit, 0)
}

// Refund implements Limiter. It returns an error only for an invalid
// limit.
func (m *Memory) Refund(_ context.Context, key string, limit Limit) error {
	if err := limit.Validate(); err != nil {
		return err
	}
	s := &m.shards[maphash.String(m.seed, key)%shardCount]
	s.mu.Lock()
	defer s.mu.Unlock()
	// A key not tracked has a full budget already. A TAT moved back to
	// now or before is a full budget too, which the next sweep drops.
	if p, ok := s.tats[key]; ok {
		*p -= int64(limit.Interval())
	}
	return nil
}

// AllowN implements Limiter. It returns an error only for an invalid
// limit, or a negative cost.
func (m *Memory) AllowN(_ context.Context, key string, limit Limit, n int) (Result, error) {
	if n < 0 {
		return Result{}, errNegativeCost
	}
	if n > limit.BurstSize() {
		res, err := m.take(key, limit, 0)
		return OverBurst(res), err
	}
	return m.take(key, limit, int64(n))
}

// RefundN implements Limiter. It returns an error only for an invalid
// limit.
func (m *Memory) RefundN(_ context.Context, key string, limit Limit, n int) error {
	if err := limit.Validate(); err != nil {
		return err
	}
	if n < 1 || n > limit.BurstSize() {
		return nil
	}
	s := &m.shards[maphash.String(m.seed, key)%shardCount]
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.tats[key]; ok {
		*p -= int64(limit.Interval()) * int64(n)
	}
	return nil
}

var errNegativeCost = errors.New("ratelimit: a negative cost")

// Len returns the number of keys tracked: those that have spent part of
// their budget and not yet been swept.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.tats)
		s.mu.Unlock()
	}
	return n
}

// take decides a request of cost n (0 to the limit's burst) for key.
func (m *Memory) take(key string, limit Limit, n int64) (Result, error) {
	if err := limit.Validate(); err != nil {
		return Result{}, err
	}
	now := m.now().UnixNano()
	s := &m.shards[maphash.String(m.seed, key)%shardCount]
	s.mu.Lock()
	defer s.mu.Unlock()
	if now >= s.nextSweep {
		s.sweep(now)
		s.nextSweep = now + m.sweepEvery
	}
	p, ok := s.tats[key]
	tat := now
	if ok && *p > now {
		tat = *p
	}
	res, newTAT := gcra(now, tat, int64(limit.Interval()), int64(limit.BurstSize()), n)
	switch {
	case newTAT == tat:
	case ok:
		*p = newTAT
	default:
		if len(s.tats) >= m.maxPerShard {
			s.evictOne(now)
		}
		p = new(int64)
		*p = newTAT
		s.tats[strings.Clone(key)] = p
	}
	return res, nil
}

// gcra is the decision of GCRA for a request of cost n at now, for a key
// whose TAT is tat (not before now), one request becoming available every
// interval and at most burst saved up. It returns the result and the new
// TAT (tat itself if nothing was spent). Every time is in nanoseconds.
//
// The arithmetic is that of redis_rate's script: the request is allowed if
// the new TAT, less the burst's worth of time, is not after now.
func gcra(now, tat, interval, burst, n int64) (Result, int64) {
	burstOffset := interval * burst
	newTAT := tat + interval*n
	diff := now - (newTAT - burstOffset)
	if n == 0 {
		remaining := diff / interval
		r := Result{Allowed: remaining >= 1, Limit: int(burst), Remaining: int(remaining), ResetAfter: time.Duration(tat - now)}
		if !r.Allowed {
			r.RetryAfter = time.Duration(interval - diff)
		}
		return r, tat
	}
	if diff < 0 {
		// What is left, less than n: none for a request of one.
		left := max(0, (now-(tat-burstOffset))/interval)
		return Result{Limit: int(burst), Remaining: int(left), RetryAfter: time.Duration(-diff), ResetAfter: time.Duration(tat - now)}, tat
	}
	return Result{Allowed: true, Limit: int(burst), Remaining: int(diff / interval), ResetAfter: time.Duration(newTAT - now)}, newTAT
}

// sweep drops the keys whose budget is full at now.
func (s *shard) sweep(now int64) {
	for k, tat := range s.tats {
		if *tat <= now {
			delete(s.tats, k)
		}
	}
}

// evictOne makes room for a key in a full shard: it drops the first idle
// key among a few, or else the one among them closest to a full budget.
// Looking at a few keys only keeps the cost of a full shard constant.
func (s *shard) evictOne(now int64) {
	const probes = 8
	var victim string
	var victimTAT int64
	i := 0
	for k, tat := range s.tats {
		if *tat <= now {
			delete(s.tats, k)
			return
		}
		if i == 0 || *tat < victimTAT {
			victim, victimTAT = k, *tat
		}
		if i++; i == probes {
			break
		}
	}
	delete(s.tats, victim)
}
