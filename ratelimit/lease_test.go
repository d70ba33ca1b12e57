package ratelimit_test

import (
	"testing"
	"time"

	"github.com/pihu-ai/pihu/internal/redistest"
	"github.com/pihu-ai/pihu/ratelimit"
	"github.com/pihu-ai/pihu/ratelimit/ratelimittest"
	"github.com/redis/go-redis/v9"
)

func newLeased(t testing.TB, c redis.UniversalClient, opts ratelimit.LeasedOptions) *ratelimit.Leased {
	t.Helper()
	if opts.Redis.Prefix == "" {
		opts.Redis.Prefix = redistest.Prefix(t)
	}
	l := ratelimit.NewLeased(c, opts)
	t.Cleanup(func() { l.Close() })
	return l
}

// The leased limiter passes the conformance suite with the same numbers
// as the exact ones: alone, an instance's leases are contiguous spans of
// the key's time line, and what it holds is what it would have left. It
// runs with leases of the whole burst, of half of it (one lease ahead of
// need, taken in the background), of a quarter, and with the defaults.
func TestLeased(t *testing.T) {
	c := dial(t, redistest.URL(t))
	for _, tc := range []struct {
		name string
		opts ratelimit.LeasedOptions
	}{
		{"WholeBurst", ratelimit.LeasedOptions{Share: 1, MinLease: 1}},
		{"HalfBurst", ratelimit.LeasedOptions{Share: 2, MinLease: 1}},
		{"QuarterBurst", ratelimit.LeasedOptions{Share: 4, MinLease: 1}},
		{"Defaults", ratelimit.LeasedOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ratelimittest.Run(t, func(t *testing.T, now func() time.Time) ratelimit.Limiter {
				opts := tc.opts
				opts.Redis.Now = now
				l := newLeased(t, c, opts)
				t.Cleanup(func() {
					if l.Degraded() {
						t.Error("the limiter fell back to memory: the suite did not run on Redis")
					}
				})
				return l
			})
		})
	}
}
