package http

import (
	"maps"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/ratelimit"
)

// TestRateLimitHeaders: the headers are those of the RFC draft's
// RateLimit fields, and the RateLimit-Limit/Remaining/Reset trio for the
// default policy; an Add on one of them changes no other header, and
// headers set earlier keep their values.
func TestRateLimitHeaders(t *testing.T) {
	var set []http.Header
	var wants []http.Header
	for _, tc := range []struct {
		policy string
		l      ratelimit.Limit
		res    ratelimit.Result
	}{
		{"default", ratelimit.Limit{Rate: 1000, Period: time.Minute}, ratelimit.Result{Limit: 1000, Remaining: 999, ResetAfter: 59500 * time.Millisecond}},
		{"default", ratelimit.Limit{Rate: 1000000, Period: time.Second}, ratelimit.Result{Limit: 1000000, Remaining: 0, ResetAfter: 0}},
		{"failed-auth", ratelimit.Limit{Rate: 30, Period: time.Hour}, ratelimit.Result{Limit: 30, Remaining: 12, ResetAfter: time.Nanosecond}},
		{"leaked-keys", ratelimit.Limit{Rate: 10, Period: time.Minute}, ratelimit.Result{Limit: 10, Remaining: -1, ResetAfter: 2 * time.Minute}},
	} {
		want := http.Header{}
		reset := strconv.Itoa(ceilSeconds(tc.res.ResetAfter))
		remaining := strconv.Itoa(tc.res.Remaining)
		want.Set("RateLimit-Policy", `"`+tc.policy+`";q=`+strconv.Itoa(tc.l.Rate)+";w="+strconv.Itoa(int(tc.l.Period/time.Second)))
		want.Set("RateLimit", `"`+tc.policy+`";r=`+remaining+";t="+reset)
		if tc.policy == "default" {
			want.Set("RateLimit-Limit", strconv.Itoa(tc.res.Limit))
			want.Set("RateLimit-Remaining", remaining)
			want.Set("RateLimit-Reset", reset)
		}
		got := http.Header{}
		rateLimitHeaders(got, tc.policy, tc.l, tc.res)
		set, wants = append(set, got), append(wants, want)
		if !maps.EqualFunc(got, want, func(a, b []string) bool { return len(a) == 1 && len(b) == 1 && a[0] == b[0] }) {
			t.Errorf("%s:\n got %v\nwant %v", tc.policy, got, want)
		}
		before := got.Clone()
		for k := range got {
			got.Add(k, "added")
			got[k] = got[k][:1]
		}
		if !maps.EqualFunc(got, before, func(a, b []string) bool { return a[0] == b[0] }) {
			t.Errorf("%s: an Add changed another header: %v, was %v", tc.policy, got, before)
		}
	}
	for i := range set {
		if got := set[i]; !maps.EqualFunc(got, wants[i], func(a, b []string) bool { return a[0] == b[0] }) {
			t.Errorf("case %d after the others: got %v, want %v", i, got, wants[i])
		}
	}
}
