package pihu_test

import (
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func TestKeyChange_ApplySelfNarrows(t *testing.T) {
	now := testNow
	expires := now.Add(30 * 24 * time.Hour)
	self := func() *pihu.Key {
		return &pihu.Key{ID: "key_1", AccountID: "acct_1", Environment: pihu.Live, Permissions: pihu.Permissions{"api_key:write"},
			RateLimit: pihu.StoredRateLimit("100/m"), Expires: &expires, AllowedIPs: pihu.StoredAllowedIPs([]string{"10.0.0.0/8"}),
			Credits: &pihu.Credits{Remaining: 100, Refill: &pihu.Refill{Interval: pihu.RefillDaily, Amount: 100}, Refilled: now}}
	}
	later, sooner := expires.Add(time.Hour), expires.Add(-time.Hour)
	n := func(v int64) *int64 { return &v }
	for _, tt := range []struct {
		name   string
		change pihu.KeyChange
		param  string // "": allowed
	}{
		{"HigherRate", pihu.KeyChange{RateLimit: pihu.Some(pihu.StoredRateLimit("101/m"))}, "rate_limit"},
		{"SameAverageLargerBurst", pihu.KeyChange{RateLimit: pihu.Some(pihu.StoredRateLimit("6000/h"))}, "rate_limit"},
		{"DefaultAbove", pihu.KeyChange{RateLimit: pihu.Null[pihu.RateLimit](), DefaultRateLimit: pihu.StoredRateLimit("1000/m")}, "rate_limit"},
		{"DefaultUnknown", pihu.KeyChange{RateLimit: pihu.Null[pihu.RateLimit]()}, "rate_limit"},
		{"LowerRate", pihu.KeyChange{RateLimit: pihu.Some(pihu.StoredRateLimit("1/s"))}, ""},
		{"DefaultBelow", pihu.KeyChange{RateLimit: pihu.Null[pihu.RateLimit](), DefaultRateLimit: pihu.StoredRateLimit("10/m")}, ""},
		{"LaterExpiry", pihu.KeyChange{Expires: pihu.Some(later)}, "expires"},
		{"NoExpiry", pihu.KeyChange{Expires: pihu.Null[time.Time]()}, "expires"},
		{"SoonerExpiry", pihu.KeyChange{Expires: pihu.Some(sooner)}, ""},
		{"WiderIPs", pihu.KeyChange{AllowedIPs: pihu.Some([]string{"10.0.0.0/7"})}, "allowed_ips"},
		{"NoIPs", pihu.KeyChange{AllowedIPs: pihu.Null[[]string]()}, "allowed_ips"},
		{"NarrowerIPs", pihu.KeyChange{AllowedIPs: pihu.Some([]string{"10.1.0.0/16"})}, ""},
		{"MoreCredits", pihu.KeyChange{Remaining: pihu.Some(int64(101))}, "remaining"},
		{"Uncounted", pihu.KeyChange{Remaining: pihu.Null[int64]()}, "remaining"},
		{"Add", pihu.KeyChange{Add: n(1)}, "add"},
		{"LargerRefill", pihu.KeyChange{Refill: pihu.Some(pihu.Refill{Interval: pihu.RefillDaily, Amount: 101})}, "refill"},
		{"FewerCredits", pihu.KeyChange{Remaining: pihu.Some(int64(99))}, ""},
		{"SmallerRefill", pihu.KeyChange{Refill: pihu.Some(pihu.Refill{Interval: pihu.RefillDaily, Amount: 1})}, ""},
		{"NoRefill", pihu.KeyChange{Refill: pihu.Null[pihu.Refill]()}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := self()
			err := tt.change.Apply(self(), k, now)
			if tt.param == "" {
				assertNoError(t, err)
				return
			}
			assertError(t, err, pihu.EInsufficientPermissions, tt.param)
			// Another key with rights over it may make the same change.
			owner := &pihu.Key{ID: "key_owner", AccountID: "acct_1", Environment: pihu.Live, Permissions: pihu.Permissions{"*"}}
			c := tt.change
			c.DefaultRateLimit = pihu.StoredRateLimit("1000/m")
			assertNoError(t, c.Apply(owner, self(), now))
		})
	}
}
