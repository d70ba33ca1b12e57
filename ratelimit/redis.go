package ratelimit

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configure a Redis limiter; zero values take the defaults.
type RedisOptions struct {
	// Prefix is put before every key in Redis (default "pihu:ratelimit:"),
	// so that the limits share a Redis database with other data.
	Prefix string
	// Now, if set, is the clock the decisions are made on. Nil (the
	// default) uses the Redis server's clock, one clock for every
	// instance, so that clock skew between machines cannot stretch or
	// shrink a limit. Tests set it to move time themselves.
	Now func() time.Time
	// Timeout bounds one decision in Redis (default 250 ms); past it, the
	// decision is the fallback's.
	Timeout time.Duration
	// ProbeInterval is how often an unreachable Redis is tried again, by
	// one PING at a time (default 1 s).
	ProbeInterval time.Duration
	// Fallback decides while Redis cannot (default an in-process Memory
	// on Now).
	Fallback Limiter
	// Logger receives one line when Redis becomes unreachable and one
	// when it is back (default slog.Default()).
	Logger *slog.Logger
}

// Redis is the Limiter shared by every instance that uses the same Redis:
// the same GCRA as Memory, its one timestamp per key (the TAT) kept in
// Redis and read, decided on and written by one Lua script, atomically.
// The script returns the TAT it decided on and the numbers of the Result
// are computed from it by the same function Memory uses, so that both
// limiters give the same answers to the nanosecond.
//
// If Redis fails (unreachable, too slow, an error), the decision is made
// by the in-process Fallback instead, so that a request is neither refused
// nor let through without limit: while Redis is down each instance
// enforces the limits on its own. The first failure is logged and starts
// a probe that PINGs Redis every ProbeInterval; while it has not
// answered, no request waits for Redis. When it answers, that is logged
// and decisions go back to Redis.
type Redis struct {
	client   redis.UniversalClient
	prefix   string
	now      func() time.Time
	timeout  time.Duration
	probe    time.Duration
	fallback Limiter
	logger   *slog.Logger

	degraded atomic.Bool
	// mu orders starting a probe after Close against Close's wait.
	mu      sync.Mutex
	closed  bool
	probing sync.WaitGroup
	closing chan struct{}
}

var _ Limiter = (*Redis)(nil)

var (
	//go:embed time.lua
	timeSource string
	//go:embed redis.lua
	gcraSource string
)

// gcraScript is the GCRA of Memory in Lua. Times are Unix nanoseconds in
// decimal strings, computed on as pairs of numbers (seconds, nanoseconds)
// since Lua's numbers are doubles, exact only to 2⁵³: time.lua, the
// prelude of every script, does that arithmetic.
var gcraScript = redis.NewScript(timeSource + gcraSource)

// idleTTL is how long a key stays in Redis after its budget is full again:
// a key with a full budget needs no state, and the slack keeps a key whose
// clock is injected (tests) from expiring early in real time.
const idleTTL = time.Minute

// NewRedis returns a Limiter keeping its state in Redis through client
// (see DialRedis for the settings it should have). Call Close when done
// with it.
func NewRedis(client redis.UniversalClient, opts RedisOptions) *Redis {
	if opts.Prefix == "" {
		opts.Prefix = "pihu:ratelimit:"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 250 * time.Millisecond
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = time.Second
	}
	if opts.Fallback == nil {
		opts.Fallback = NewMemory(MemoryOptions{Now: opts.Now})
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Redis{
		client: client, prefix: opts.Prefix, now: opts.Now, timeout: opts.Timeout,
		probe: opts.ProbeInterval, fallback: opts.Fallback, logger: opts.Logger,
		closing: make(chan struct{}),
	}
}

// DialRedis returns a client for the Redis of url (redis://… or
// rediss://…, as redis.ParseURL reads it) set up for a hot path: every
// call bounded by its context, no retries (a failed call goes to the
// fallback, and the probe retries), and dials, reads and writes that give
// up after a second.
func DialRedis(url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = -1
	opts.DialTimeout = time.Second
	opts.DialerRetries = 1
	opts.ReadTimeout = time.Second
	opts.WriteTimeout = time.Second
	opts.PoolTimeout = time.Second
	opts.DisableIdentity = true
	return redis.NewClient(opts), nil
}

// Allow implements Limiter. It returns an error only for an invalid limit,
// or when ctx is done.
func (r *Redis) Allow(ctx context.Context, key string, limit Limit) (Result, error) {
	return r.take(ctx, key, limit, 1)
}

// Peek implements Limiter. It returns an error only for an invalid limit,
// or when ctx is done.
func (r *Redis) Peek(ctx context.Context, key string, limit Limit) (Result, error) {
	return r.take(ctx, key, limit, 0)
}

// Refund implements Limiter. It returns an error only for an invalid
// limit, or when ctx is done.
func (r *Redis) Refund(ctx context.Context, key string, limit Limit) error {
	_, err := r.take(ctx, key, limit, -1)
	return err
}

// AllowN implements Limiter. It returns an error only for an invalid
// limit or a negative cost, or when ctx is done.
func (r *Redis) AllowN(ctx context.Context, key string, limit Limit, n int) (Result, error) {
	if n < 0 {
		return Result{}, errNegativeCost
	}
	if n > limit.BurstSize() {
		res, err := r.take(ctx, key, limit, 0)
		return OverBurst(res), err
	}
	return r.take(ctx, key, limit, int64(n))
}

// RefundN implements Limiter. It returns an error only for an invalid
// limit, or when ctx is done.
func (r *Redis) RefundN(ctx context.Context, key string, limit Limit, n int) error {
	if n < 1 || n > limit.BurstSize() {
		return limit.Validate()
	}
	_, err := r.take(ctx, key, limit, -int64(n))
	return err
}

// Degraded reports whether decisions are made in process because Redis
// failed and has not answered since.
func (r *Redis) Degraded() bool { return r.degraded.Load() }

// Close stops probing Redis. It does not close the client.
func (r *Redis) Close() error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.closing)
	}
	r.mu.Unlock()
	r.probing.Wait()
	return nil
}

func (r *Redis) take(ctx context.Context, key string, limit Limit, n int64) (Result, error) {
	if err := limit.Validate(); err != nil {
		return Result{}, err
	}
	if r.degraded.Load() {
		return r.decideLocally(ctx, key, limit, n)
	}
	res, err := r.decide(ctx, key, limit, n)
	if err == nil {
		return res, nil
	}
	if ctx.Err() != nil {
		// The caller is gone: this says nothing about Redis.
		return Result{}, ctx.Err()
	}
	r.fail(err)
	return r.decideLocally(ctx, key, limit, n)
}

func (r *Redis) decideLocally(ctx context.Context, key string, limit Limit, n int64) (Result, error) {
	switch {
	case n == 0:
		return r.fallback.Peek(ctx, key, limit)
	case n < 0:
		return Result{}, r.fallback.RefundN(ctx, key, limit, int(-n))
	}
	return r.fallback.AllowN(ctx, key, limit, int(n))
}

// decide runs the script for a request of cost n: n > 0 spends n (Allow,
// AllowN), 0 looks (Peek), n < 0 gives -n back (Refund, RefundN, whose
// Result is meaningless). The script spends or gives back one interval at
// a time: a cost of several is one step of several intervals.
func (r *Redis) decide(ctx context.Context, key string, limit Limit, n int64) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	now := ""
	if r.now != nil {
		now = strconv.FormatInt(r.now().UnixNano(), 10)
	}
	interval, burst := int64(limit.Interval()), int64(limit.BurstSize())
	step, sign := interval, n
	if n > 1 || n < -1 {
		step, sign = interval*max(n, -n), n/max(n, -n)
	}
	v, err := gcraScript.Run(ctx, r.client, []string{r.prefix + key},
		now, step, interval*burst, sign, idleTTL.Milliseconds()).StringSlice()
	if err != nil {
		return Result{}, err
	}
	if len(v) != 2 {
		return Result{}, fmt.Errorf("ratelimit: the Redis script returned %d values, want 2", len(v))
	}
	nowNS, err1 := strconv.ParseInt(v[0], 10, 64)
	tat, err2 := strconv.ParseInt(v[1], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return Result{}, fmt.Errorf("ratelimit: the Redis script returned %q: %w", v, err)
	}
	res, _ := gcra(nowNS, tat, interval, burst, max(n, 0))
	return res, nil
}

// fail switches to the fallback after Redis failed with err, if that is
// not done already, and starts the probe.
func (r *Redis) fail(err error) {
	if !r.degraded.CompareAndSwap(false, true) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.logger.Error("Redis is unreachable: rate limits are kept in this process until it is back, so each instance allows the full limit",
		"err", err, "retry_every", r.probe)
	r.probing.Go(r.probeUntilBack)
}

// probeUntilBack PINGs Redis every probe interval until it answers, then
// switches decisions back to it.
func (r *Redis) probeUntilBack() {
	t := time.NewTicker(r.probe)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-r.closing:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		err := r.client.Ping(ctx).Err()
		cancel()
		if err == nil {
			r.degraded.Store(false)
			r.logger.Info("Redis is back: rate limits are shared again", "down_for", time.Since(start).Round(time.Millisecond))
			return
		}
	}
}
