package pihu

import (
	"context"
	"time"
)

// UsageRetention is how long hourly usage counts are kept.
const UsageRetention = 90 * 24 * time.Hour

// UsageCount is how many requests one key made in one hour: those let
// through (Allowed) and those refused after the key was recognised
// (Refused: rate limited, an address outside allowed_ips, a missing
// permission, credits used up), with why (By).
type UsageCount struct {
	KeyID   string
	Hour    time.Time // the start of the hour, UTC
	Allowed int64
	Refused int64
	// By splits Refused by reason. Its sum is at most Refused: refusals
	// counted before the reasons were kept (an upgraded server's
	// history) have none, and show as Refused less the sum.
	By Refusals
}

// Add adds o's counts to c's.
func (c *UsageCount) Add(o UsageCount) {
	c.Allowed += o.Allowed
	c.Refused += o.Refused
	c.By.Add(o.By)
}

// Refusal is why a request made with a recognised key was refused, as its
// usage counts it: each is the error code the client got.
type Refusal uint8

const (
	RefusalRateLimit  Refusal = iota // rate_limited
	RefusalAddress                   // ip_not_allowed
	RefusalPermission                // insufficient_permissions (a permission or environment the key lacks)
	RefusalCredits                   // usage_exceeded
	RefusalDisabled                  // disabled_api_key
	NumRefusals       = iota         // the number of reasons
)

// Code is the error code a request refused for r was answered with.
func (r Refusal) Code() string {
	return [...]string{ERateLimited, EIPNotAllowed, EInsufficientPermissions, EUsageExceeded, EDisabledAPIKey}[r]
}

// Refusals counts refused requests by reason, indexed by Refusal.
type Refusals [NumRefusals]int64

// Add adds o to rs.
func (rs *Refusals) Add(o Refusals) {
	for i, n := range o {
		rs[i] += n
	}
}

// Sum is the refusals of every reason.
func (rs Refusals) Sum() int64 {
	var n int64
	for _, c := range rs {
		n += c
	}
	return n
}

// UsageStore keeps usage counts, written in batches off the request path.
// Implementations are safe for concurrent use.
type UsageStore interface {
	// AddUsage adds counts to the stored counts of the same key and hour
	// (a Hour inside an hour counts for the hour's start), in one
	// transaction, and deletes the counts of hours that started more than
	// UsageRetention before now's hour. Counts of unknown keys, and of
	// hours already past retention, are skipped.
	AddUsage(ctx context.Context, counts []UsageCount, now time.Time) error

	// Usage returns the hourly counts of key keyID of account accountID
	// for the hours from from (inclusive) to to (exclusive), oldest first;
	// hours without a request are left out. Returns ENotFound if the key
	// does not exist or belongs to another account.
	Usage(ctx context.Context, accountID, keyID string, from, to time.Time) ([]UsageCount, error)
}

// UsageGranularity is the size of the buckets a key's usage is shown in,
// and with it the span shown.
type UsageGranularity string

const (
	// UsageHourly is 24 buckets of an hour: the last 24 whole hours, the
	// current one (not yet over) included.
	UsageHourly UsageGranularity = "hour"
	// UsageDaily is 30 buckets of a UTC day: the last 30 days, today (not
	// yet over) included.
	UsageDaily UsageGranularity = "day"
)

// Validate returns EParameterInvalid on "granularity" unless g is
// UsageHourly or UsageDaily.
func (g UsageGranularity) Validate() error {
	if g != UsageHourly && g != UsageDaily {
		return ParamErrorf(EParameterInvalid, "granularity",
			"\"granularity\" must be \"hour\" (the last 24 hours) or \"day\" (the last 30 days).")
	}
	return nil
}

// bucket is the length of one of g's buckets, and their number.
func (g UsageGranularity) bucket() (time.Duration, int) {
	if g == UsageDaily {
		return 24 * time.Hour, 30
	}
	return time.Hour, 24
}

// Window is the span g shows at now: from the start of its first bucket
// (inclusive) to the end of its last (exclusive), the bucket holding now.
func (g UsageGranularity) Window(now time.Time) (from, to time.Time) {
	size, n := g.bucket()
	// UTC days and hours both start on a multiple of their length since
	// the zero time, which is in UTC.
	to = now.UTC().Truncate(size).Add(size)
	return to.Add(-time.Duration(n) * size), to
}

// UsageBucket is the requests of a key in one bucket of a UsageSeries.
type UsageBucket struct {
	Start   time.Time // UTC
	Allowed int64
	Refused int64
	By      Refusals // as UsageCount.By
}

func (b *UsageBucket) add(c UsageCount) {
	b.Allowed += c.Allowed
	b.Refused += c.Refused
	b.By.Add(c.By)
}

// UsageSeries is a key's usage in the buckets of one granularity, oldest
// first, every bucket present (zeros included): what a chart draws.
type UsageSeries struct {
	Granularity UsageGranularity
	// Start and End are the window (see UsageGranularity.Window).
	Start, End time.Time
	Buckets    []UsageBucket
	// Allowed, Refused and By are the totals of the buckets.
	Allowed, Refused int64
	By               Refusals
}

// NewUsageSeries sums hourly counts (as UsageStore.Usage returns them for
// g.Window(now)) into g's buckets at now. Counts outside the window are
// ignored.
func NewUsageSeries(g UsageGranularity, now time.Time, counts []UsageCount) UsageSeries {
	size, n := g.bucket()
	from, to := g.Window(now)
	s := UsageSeries{Granularity: g, Start: from, End: to, Buckets: make([]UsageBucket, n)}
	for i := range s.Buckets {
		s.Buckets[i].Start = from.Add(time.Duration(i) * size)
	}
	for _, c := range counts {
		if c.Hour.Before(from) || !c.Hour.Before(to) {
			continue
		}
		b := &s.Buckets[c.Hour.Sub(from)/size]
		b.add(c)
		s.Allowed += c.Allowed
		s.Refused += c.Refused
		s.By.Add(c.By)
	}
	return s
}
