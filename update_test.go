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
			RateLimit: "100/m", Expires: &expires, AllowedIPs: []string{"10.0.0.0/8"},
			Credits: &pihu.Credits{Remaining: 100, Refill: &pihu.Refill{Interval: pihu.RefillDaily, Amount: 100}, Refilled: now}}
	}
	later, sooner := expires.Add(time.Hour), expires.Add(-time.Hour)
	n := func(v int64) *int64 { return &v }
	for _, tt := range []struct {
		name   string
		change pihu.KeyChange
		param  string // "": allowed
	}{
		{"HigherRate", pihu.KeyChange{RateLimit: "101/m", SetRateLimit: true}, "rate_limit"},
		{"SameAverageLargerBurst", pihu.KeyChange{RateLimit: "6000/h", SetRateLimit: true}, "rate_limit"},
		{"DefaultAbove", pihu.KeyChange{SetRateLimit: true, DefaultRateLimit: "1000/m"}, "rate_limit"},
		{"DefaultUnknown", pihu.KeyChange{SetRateLimit: true}, "rate_limit"},
		{"LowerRate", pihu.KeyChange{RateLimit: "1/s", SetRateLimit: true}, ""},
		{"DefaultBelow", pihu.KeyChange{SetRateLimit: true, DefaultRateLimit: "10/m"}, ""},
		{"LaterExpiry", pihu.KeyChange{Expires: &later, SetExpires: true}, "expires"},
		{"NoExpiry", pihu.KeyChange{SetExpires: true}, "expires"},
		{"SoonerExpiry", pihu.KeyChange{Expires: &sooner, SetExpires: true}, ""},
		{"WiderIPs", pihu.KeyChange{AllowedIPs: []string{"10.0.0.0/7"}, SetAllowedIPs: true}, "allowed_ips"},
		{"NoIPs", pihu.KeyChange{SetAllowedIPs: true}, "allowed_ips"},
		{"NarrowerIPs", pihu.KeyChange{AllowedIPs: []string{"10.1.0.0/16"}, SetAllowedIPs: true}, ""},
		{"MoreCredits", pihu.KeyChange{Remaining: n(101), SetRemaining: true}, "remaining"},
		{"Uncounted", pihu.KeyChange{SetRemaining: true}, "remaining"},
		{"Add", pihu.KeyChange{Add: n(1)}, "add"},
		{"LargerRefill", pihu.KeyChange{Refill: &pihu.Refill{Interval: pihu.RefillDaily, Amount: 101}, SetRefill: true}, "refill"},
		{"FewerCredits", pihu.KeyChange{Remaining: n(99), SetRemaining: true}, ""},
		{"SmallerRefill", pihu.KeyChange{Refill: &pihu.Refill{Interval: pihu.RefillDaily, Amount: 1}, SetRefill: true}, ""},
		{"NoRefill", pihu.KeyChange{SetRefill: true}, ""},
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
			c.DefaultRateLimit = "1000/m"
			assertNoError(t, c.Apply(owner, self(), now))
		})
	}
}
