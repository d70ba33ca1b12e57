package pihu_test

import (
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func TestParseRateLimit(t *testing.T) {
	for _, tt := range []struct {
		in     string
		rate   int
		period time.Duration
	}{
		{"1/s", 1, time.Second},
		{"100/m", 100, time.Minute},
		{"1000000/h", 1_000_000, time.Hour},
	} {
		l, err := pihu.ParseRateLimit(tt.in, "rate_limit")
		assertNoError(t, err)
		if l.Rate != tt.rate || l.Period != tt.period || l.String() != tt.in || l.IsZero() || l.Err() != nil {
			t.Errorf("%q: got %+v (%q), want %d per %v", tt.in, l, l, tt.rate, tt.period)
		}
	}
	for _, in := range []string{"", "often", "0/m", "01/m", "+1/m", "1000001/s", "10/d", "10/", "/m", "1/m/m"} {
		_, err := pihu.ParseRateLimit(in, "rate_limit")
		assertError(t, err, pihu.EParameterInvalid, "rate_limit")
	}
}

// TestStoredRateLimit: a stored limit is parsed once; "" is none, and a
// text that does not parse is kept as it is, with its error.
func TestStoredRateLimit(t *testing.T) {
	if l := pihu.StoredRateLimit(""); !l.IsZero() || l.String() != "" || l.Err() != nil {
		t.Errorf("\"\": got %+v, want none", l)
	}
	if l := pihu.StoredRateLimit("5/m"); l.Rate != 5 || l.Period != time.Minute || l.String() != "5/m" || l.Err() != nil {
		t.Errorf("5/m: got %+v", l)
	}
	l := pihu.StoredRateLimit("often")
	if l.IsZero() || l.String() != "often" || l.Rate != 0 {
		t.Errorf("often: got %+v (%q), want it kept as stored", l, l)
	}
	assertError(t, l.Err(), pihu.EParameterInvalid, "rate_limit")
}

func TestRateLimit_Within(t *testing.T) {
	for _, tt := range []struct {
		next, cur string
		want      bool
	}{
		{"100/m", "100/m", true},
		{"99/m", "100/m", true},
		{"1/s", "100/m", true},
		{"101/m", "100/m", false},
		{"6000/h", "100/m", false}, // the same average, a larger burst
		{"2/s", "100/m", false},    // fewer at once, more over time
		{"often", "100/m", false},
		{"1/m", "often", false},
	} {
		if got := pihu.StoredRateLimit(tt.next).Within(pihu.StoredRateLimit(tt.cur)); got != tt.want {
			t.Errorf("%s within %s: got %v, want %v", tt.next, tt.cur, got, tt.want)
		}
	}
	if (pihu.RateLimit{}).Within(pihu.StoredRateLimit("1/s")) || pihu.StoredRateLimit("1/s").Within(pihu.RateLimit{}) {
		t.Error("none is within something, or has something within it")
	}
}
