package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/internal/redistest"
)

// The property of the leased limiter (docs/rate-limits.md): whatever the
// number of instances, the order their requests come in, and how late
// their leases reach Redis, the requests the fleet admits are ones a
// single exact GCRA limiter would admit: in no stretch of time does the
// fleet admit more than Burst + its length / interval. simulate checks it
// on fleets of Leased limiters sharing one store: the real Redis (the Lua
// scripts), or memLeases, the same semantics in Go, which is fast enough
// to run thousands of fleets and to fuzz.

// memLeases is lease.lua and giveback.lua in Go, on a map: for the
// property tests only, which also run (smaller) on Redis itself.
type memLeases struct {
	mu   sync.Mutex
	tats map[string]int64
}

func newMemLeases() *memLeases { return &memLeases{tats: map[string]int64{}} }

func (m *memLeases) lease(_ context.Context, key string, q leaseQuery) (leaseGrant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := q.now
	tat := max(now, m.tats[key])
	after := tat == q.after
	span := min(q.fresh, now+q.burstOffset-tat)
	if after {
		span = min(q.want, now+q.burstOffset-tat)
	}
	if span <= 0 || (span < q.interval && !after) {
		return leaseGrant{now: now, start: tat, end: tat}, nil
	}
	m.tats[key] = tat + span
	return leaseGrant{now: now, start: tat, end: tat + span}, nil
}

func (m *memLeases) giveBack(_ context.Context, key string, g giveBack) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.tats[key]; !ok || t != g.end {
		return false, nil
	}
	if g.from <= g.now {
		delete(m.tats, key)
	} else {
		m.tats[key] = g.from
	}
	return true, nil
}

// simConfig is one fleet and one limit.
type simConfig struct {
	instances int
	limit     Limit
	share     int
	steps     int
}

func (c simConfig) String() string {
	return fmt.Sprintf("%d instances, %v (burst %d), share %d", c.instances, c.limit, c.limit.BurstSize(), c.share)
}

// randomConfig draws a fleet and a limit.
func randomConfig(rng *rand.Rand, steps int) simConfig {
	periods := []time.Duration{time.Second, time.Minute, time.Hour, 7 * time.Second}
	l := Limit{Rate: 1 + rng.IntN(300), Period: periods[rng.IntN(len(periods))]}
	if rng.IntN(3) == 0 {
		l.Burst = 1 + rng.IntN(400)
	}
	return simConfig{instances: 1 + rng.IntN(5), limit: l, share: 1 + rng.IntN(12), steps: steps}
}

// simulate runs cfg's fleet on store under a schedule drawn from next
// (next(n) is in [0, n)): requests to random instances, the clock moving
// by random amounts, leases taken in the background run late and out of
// order, keys forgotten (revoked) on random instances. It returns an
// error describing the first admission a single exact limiter would have
// refused, if any, and the counts of admitted and refused requests.
func simulate(cfg simConfig, store leaseStore, prefix string, next func(int) int) (admitted, refused int, err error) {
	clock := time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC).UnixNano()
	now := func() time.Time { return time.Unix(0, clock) }
	var pending []func()
	fleet := make([]*Leased, cfg.instances)
	for i := range fleet {
		r := NewRedis(nil, RedisOptions{Now: now, Prefix: prefix})
		l := newLeased(r, store, LeasedOptions{Share: cfg.share, MinLease: 1})
		l.spawn = func(f func()) { pending = append(pending, f) }
		fleet[i] = l
	}
	interval, burst := int64(cfg.limit.Interval()), int64(cfg.limit.BurstSize())
	key := "key"
	// exact is the TAT of a single exact limiter fed the admitted requests.
	exact := clock
	ctx := context.Background()
	for step := range cfg.steps {
		switch a := next(10); {
		case a < 5: // requests, to one instance
			l := fleet[next(len(fleet))]
			for range 1 + next(4) {
				res, aerr := l.Allow(ctx, key, cfg.limit)
				if aerr != nil {
					return admitted, refused, fmt.Errorf("step %d: Allow: %v", step, aerr)
				}
				if !res.Allowed {
					refused++
					continue
				}
				admitted++
				r, tat := gcra(clock, max(clock, exact), interval, burst, 1)
				if !r.Allowed {
					return admitted, refused, fmt.Errorf("step %d, %s: admission %d at +%s is one a single exact limiter refuses (retry in %s)",
						step, cfg, admitted, time.Duration(clock-exactStart(cfg)), r.RetryAfter)
				}
				exact = tat
			}
		case a < 7: // time passes: a little, or up to three intervals
			d := int64(next(1000)) * interval / 1000
			if next(4) == 0 {
				d = int64(next(3001)) * interval / 1000
			}
			clock += d
		case a < 9: // a late lease or give-back reaches Redis
			if len(pending) > 0 {
				i := next(len(pending))
				f := pending[i]
				pending = append(pending[:i], pending[i+1:]...)
				f()
			}
		default: // the key is changed or revoked: one instance forgets it
			fleet[next(len(fleet))].Forget(key)
		}
	}
	for len(pending) > 0 {
		f := pending[0]
		pending = pending[1:]
		f()
	}
	return admitted, refused, nil
}

// exactStart is the clock's start, to report times from it.
func exactStart(simConfig) int64 {
	return time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC).UnixNano()
}

// TestLeased_Property simulates 3,000 random fleets in process and checks
// that none admits more than a single exact limiter would.
func TestLeased_Property(t *testing.T) {
	runs := 3000
	if testing.Short() {
		runs = 300
	}
	var admitted, refused int
	for seed := range uint64(runs) {
		rng := rand.New(rand.NewPCG(seed, 26))
		cfg := randomConfig(rng, 400)
		a, r, err := simulate(cfg, newMemLeases(), "", rng.IntN)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		admitted += a
		refused += r
	}
	// A schedule that admits or refuses nothing checks nothing.
	if admitted < runs*50 || refused < runs*50 {
		t.Errorf("%d fleets admitted %d requests and refused %d: the schedules do not reach the limits", runs, admitted, refused)
	}
}

// TestLeased_PropertyRedis is TestLeased_Property on Redis itself, with
// the Lua scripts: fewer fleets, each on a key of its own.
func TestLeased_PropertyRedis(t *testing.T) {
	c, err := DialRedis(redistest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	store := redisLeases{client: c, prefix: redistest.Prefix(t)}
	runs := 60
	if testing.Short() {
		runs = 10
	}
	for seed := range uint64(runs) {
		rng := rand.New(rand.NewPCG(seed, 2626))
		cfg := randomConfig(rng, 250)
		if _, _, err := simulate(cfg, store, "", rng.IntN); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		c.Del(context.Background(), store.prefix+"key")
	}
}

// FuzzLeased checks the property on schedules the fuzzer writes: the
// first bytes choose the fleet and the limit, the rest the schedule.
func FuzzLeased(f *testing.F) {
	f.Add([]byte{1, 100, 0, 2, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{4, 5, 2, 1, 9, 0, 9, 1, 7, 8, 0, 0, 0, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 4 {
			return
		}
		periods := []time.Duration{time.Second, time.Minute, time.Hour, 7 * time.Second}
		cfg := simConfig{
			instances: 1 + int(b[0])%5,
			limit:     Limit{Rate: 1 + int(b[1]), Period: periods[int(b[2])%len(periods)], Burst: int(b[3]) % 64 * 5},
			share:     1 + int(b[2])/4%12,
			steps:     len(b) * 4,
		}
		sched := b[4:]
		i := 0
		next := func(n int) int {
			if len(sched) == 0 {
				return 0
			}
			v := int(sched[i%len(sched)]) + i/len(sched)
			i++
			return v % n
		}
		if _, _, err := simulate(cfg, newMemLeases(), "", next); err != nil {
			t.Fatal(err)
		}
	})
}
