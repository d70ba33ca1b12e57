package ratelimit_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/ratelimit"
)

func TestAppendHeaders(t *testing.T) {
	long := strings.Repeat("p", 200) // longer than the buffer on the stack
	for _, tc := range []struct {
		name   string
		policy string
		l      ratelimit.Limit
		res    ratelimit.Result
		want   []pihu.Header
	}{
		{"Default", "default", ratelimit.Limit{Rate: 1000000, Period: time.Second},
			ratelimit.Result{Limit: 1000000, Remaining: 999999, ResetAfter: time.Microsecond},
			[]pihu.Header{
				{Name: "Ratelimit-Policy", Value: `"default";q=1000000;w=1`},
				{Name: "Ratelimit", Value: `"default";r=999999;t=1`},
				{Name: "Ratelimit-Limit", Value: "1000000"},
				{Name: "Ratelimit-Remaining", Value: "999999"},
				{Name: "Ratelimit-Reset", Value: "1"},
			}},
		{"Spent", "default", ratelimit.Limit{Rate: 100, Period: time.Minute},
			ratelimit.Result{Limit: 100, Remaining: 0, ResetAfter: 59500 * time.Millisecond},
			[]pihu.Header{
				{Name: "Ratelimit-Policy", Value: `"default";q=100;w=60`},
				{Name: "Ratelimit", Value: `"default";r=0;t=60`},
				{Name: "Ratelimit-Limit", Value: "100"},
				{Name: "Ratelimit-Remaining", Value: "0"},
				{Name: "Ratelimit-Reset", Value: "60"},
			}},
		{"OtherPolicy", "failed-auth", ratelimit.Limit{Rate: 10, Period: time.Minute},
			ratelimit.Result{Limit: 10, Remaining: 9, ResetAfter: 6 * time.Second},
			[]pihu.Header{
				{Name: "Ratelimit-Policy", Value: `"failed-auth";q=10;w=60`},
				{Name: "Ratelimit", Value: `"failed-auth";r=9;t=6`},
			}},
		{"LongPolicy", long, ratelimit.Limit{Rate: 5, Period: time.Hour},
			ratelimit.Result{Limit: 5, Remaining: 4, ResetAfter: 720 * time.Second},
			[]pihu.Header{
				{Name: "Ratelimit-Policy", Value: `"` + long + `";q=5;w=3600`},
				{Name: "Ratelimit", Value: `"` + long + `";r=4;t=720`},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := []pihu.Header{{Name: "Request-Id", Value: "req_1"}}
			got := ratelimit.AppendHeaders(slices.Clone(before), tc.policy, tc.l, tc.res)
			if want := append(before, tc.want...); !slices.Equal(got, want) {
				t.Errorf("got %q\nwant %q", got, want)
			}
		})
	}
}

// TestAppendHeaders_OneAllocation: the five values of a key's limit share
// one string, as AppendHeaders says.
func TestAppendHeaders_OneAllocation(t *testing.T) {
	dst := make([]pihu.Header, 0, 8)
	l := ratelimit.Limit{Rate: 1000000, Period: time.Second}
	res := ratelimit.Result{Limit: 1000000, Remaining: 999999, ResetAfter: time.Second}
	if n := testing.AllocsPerRun(100, func() { ratelimit.AppendHeaders(dst[:0], "default", l, res) }); n != 1 {
		t.Errorf("%v allocations, want 1", n)
	}
}
