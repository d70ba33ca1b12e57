// Package ratelimit decides whether a request may go ahead under a rate
// limit, per key (an API key's id, a client address…), with the generic
// cell rate algorithm (GCRA): a smooth limiter that allows a burst and then
// a steady rate, and keeps a single timestamp per key.
//
// Limiter is the interface the HTTP layer depends on. NewMemory is the
// in-process implementation; NewRedis shares limits between instances
// behind the same interface, with the same numbers. The semantics of Result are those of
// github.com/go-redis/redis_rate (Limit, Remaining, RetryAfter, ResetAfter)
// so that a Redis limiter built on the same GCRA is a drop-in.
//
// The conformance suite every Limiter passes is in ratelimittest.
package ratelimit

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/pihu-ai/pihu"
)

// Limiter decides, one request at a time, whether a key is within its
// limit. Implementations are safe for concurrent use.
//
// Being limited is a result (Result.Allowed == false), never an error; an
// error means the limiter itself failed (an unreachable Redis, an invalid
// Limit) and no decision was made.
type Limiter interface {
	// Allow spends one request of key under limit if the limit allows it,
	// and reports the decision with the state of key's budget after it.
	// A request that is refused spends nothing.
	Allow(ctx context.Context, key string, limit Limit) (Result, error)

	// Peek reports whether the next Allow of key would succeed, without
	// spending anything: Allowed is true when at least one request is
	// left, Remaining is how many could be made now, RetryAfter how long
	// until one can be when none can, and ResetAfter how long until the
	// budget is full. It lets a caller refuse work for a key that has no
	// budget left before doing it (as the HTTP server does for client
	// addresses that have been guessing keys).
	Peek(ctx context.Context, key string, limit Limit) (Result, error)

	// Refund gives back one request that Allow spent of key under limit,
	// never making the budget more than full. It lets a caller spend
	// before the work a limit guards and give the request back when the
	// work turns out not to be what the limit counts: a limit of failed
	// sign-ins is spent before the password is checked, so that
	// concurrent guesses cannot all pass a check made before any of them
	// was counted, and refunded when the password was right.
	Refund(ctx context.Context, key string, limit Limit) error

	// AllowN is Allow for a request of cost n: it spends n requests of
	// key under limit if the limit allows all of them, and none
	// otherwise. A cost of 0 is Peek; a cost over the limit's burst is
	// never allowed (see OverBurst). Named limits (tokens, images…) are
	// spent with it.
	AllowN(ctx context.Context, key string, limit Limit, n int) (Result, error)

	// RefundN gives back n requests that AllowN spent, as Refund does
	// one.
	RefundN(ctx context.Context, key string, limit Limit, n int) error
}

// OverBurst is the refusal of a request whose cost is more than limit's
// burst, which no budget ever holds: peek is the state of the key's
// budget (Peek's result), which the refusal reports, and its RetryAfter
// is how long until the budget is full, the most it will ever hold.
func OverBurst(peek Result) Result {
	peek.Allowed, peek.RetryAfter = false, peek.ResetAfter
	return peek
}

// Limit is Rate requests per Period, with bursts of up to Burst requests.
// Under GCRA one request becomes available every Period/Rate, and at most
// Burst are ever saved up.
type Limit struct {
	Rate   int
	Period time.Duration
	// Burst is the most requests that may be made at once; 0 means Rate,
	// so that a fresh key may spend a whole period's worth at once.
	Burst int
}

// MaxRate is the largest number of requests a limit may allow per period
// (and the largest burst): beyond it a limit is no limit, and one request
// per period's millionth is as fine as the clock needs to be.
const MaxRate = pihu.MaxRate

// PerSecond returns the limit of n requests a second.
func PerSecond(n int) Limit { return Limit{Rate: n, Period: time.Second} }

// PerMinute returns the limit of n requests a minute.
func PerMinute(n int) Limit { return Limit{Rate: n, Period: time.Minute} }

// PerHour returns the limit of n requests an hour.
func PerHour(n int) Limit { return Limit{Rate: n, Period: time.Hour} }

// BurstSize is the limit's Burst, or its Rate if Burst is 0.
func (l Limit) BurstSize() int {
	if l.Burst == 0 {
		return l.Rate
	}
	return l.Burst
}

// Interval is the time it takes for one request to become available again
// (the emission interval of GCRA): Period / Rate.
func (l Limit) Interval() time.Duration {
	if l.Rate <= 0 {
		return 0
	}
	return l.Period / time.Duration(l.Rate)
}

// Validate reports whether the limit can be enforced: Rate from 1 to
// MaxRate, Burst from 0 to MaxRate, a positive Period of at most a day with
// an interval of at least a nanosecond. Returns EParameterInvalid.
func (l Limit) Validate() error {
	switch {
	case l.Rate < 1 || l.Rate > MaxRate:
		return pihu.Errorf(pihu.EParameterInvalid, "A rate limit allows 1 to %d requests per period, not %d.", MaxRate, l.Rate)
	case l.Burst < 0 || l.Burst > MaxRate:
		return pihu.Errorf(pihu.EParameterInvalid, "A rate limit's burst is 0 (the rate) to %d requests, not %d.", MaxRate, l.Burst)
	case l.Period <= 0 || l.Period > 24*time.Hour:
		return pihu.Errorf(pihu.EParameterInvalid, "A rate limit's period is more than zero and at most a day, not %s.", l.Period)
	case l.Interval() < 1:
		return pihu.Errorf(pihu.EParameterInvalid, "A rate limit of %d requests per %s is finer than the clock.", l.Rate, l.Period)
	case int64(l.Interval()) > math.MaxInt64/int64(l.BurstSize()):
		return pihu.Errorf(pihu.EParameterInvalid, "A rate limit's burst of %d requests spans more time than the clock can count.", l.BurstSize())
	}
	return nil
}

// String returns the limit as ParseLimit reads it ("100/m") when it is of
// that form, and a description otherwise.
func (l Limit) String() string {
	unit := ""
	switch l.Period {
	case time.Second:
		unit = "s"
	case time.Minute:
		unit = "m"
	case time.Hour:
		unit = "h"
	case 24 * time.Hour:
		unit = "d"
	}
	if unit != "" && (l.Burst == 0 || l.Burst == l.Rate) {
		return strconv.Itoa(l.Rate) + "/" + unit
	}
	return strconv.Itoa(l.Rate) + " per " + l.Period.String() + ", burst " + strconv.Itoa(l.BurstSize())
}

// ParseLimit reads a limit written "N/s", "N/m" or "N/h", as
// pihu.ParseRateLimit does: N requests a second, minute or hour, N a whole
// number from 1 to MaxRate without sign or leading zero. Returns
// EParameterInvalid with param (the name of the field or flag it came
// from) otherwise.
func ParseLimit(s, param string) (Limit, error) {
	l, err := pihu.ParseRateLimit(s, param)
	if err != nil {
		return Limit{}, err
	}
	return KeyLimit(l), nil
}

// KeyLimit is the Limit of a key's own rate limit l, which is set and
// parsed (see pihu.RateLimit.Err).
func KeyLimit(l pihu.RateLimit) Limit { return Limit{Rate: l.Rate, Period: l.Period} }

// RateLimit is l as a key's own rate limit, to compare keys' limits with:
// the zero pihu.RateLimit if l is not of the form one takes (N/s, N/m or
// N/h, with no burst of its own).
func (l Limit) RateLimit() pihu.RateLimit {
	switch {
	case l.Burst != 0 && l.Burst != l.Rate, l.Rate < 1 || l.Rate > MaxRate:
		return pihu.RateLimit{}
	case l.Period == time.Second, l.Period == time.Minute, l.Period == time.Hour:
		return pihu.RateLimit{Rate: l.Rate, Period: l.Period}
	}
	return pihu.RateLimit{}
}

// Result is a Limiter's decision and the state of the key's budget after
// it.
type Result struct {
	// Allowed reports whether the request may go ahead.
	Allowed bool
	// Limit is the most requests the key may make at once: the limit's
	// burst.
	Limit int
	// Remaining is how many more requests the key may make right now.
	Remaining int
	// ResetAfter is how long until the key's budget is full again (0 if
	// it is full): the RateLimit-Reset header, rounded up to seconds.
	ResetAfter time.Duration
	// RetryAfter is how long until a refused request would be allowed; 0
	// when Allowed.
	RetryAfter time.Duration
}
