package pihu_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// FuzzValidateMetadata: metadata it accepts is a JSON object of at most
// 4 KiB and 50 members, compact (validating it again gives it back
// byte for byte), meaning what was given; anything else is
// parameter_invalid on "metadata".
func FuzzValidateMetadata(f *testing.F) {
	for _, s := range []string{`{"plan":"pro"}`, ` { "a" : [1, 2, {"b": null}] } `, `null`, `[]`, `"x"`, `{"a":1,"a":2}`, `{"a":1e999}`, `{`, `{"\u00e9":"\ud83d\ude00"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := pihu.ValidateMetadata(json.RawMessage(in), "metadata")
		if err != nil {
			rejected(t, in, err, pihu.EParameterInvalid, "metadata")
			return
		}
		if out == nil {
			if s := string(bytes.Trim([]byte(in), " \t\r\n")); s != "" && s != "null" {
				t.Fatalf("%q: accepted as no metadata", in)
			}
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(out, &m); err != nil || len(out) > pihu.MaxMetadataBytes || len(m) > pihu.MaxMetadataMembers {
			t.Fatalf("%q: accepted %q (%d bytes, %d members, %v)", in, out, len(out), len(m), err)
		}
		again, err := pihu.ValidateMetadata(out, "metadata")
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("%q: validating %q again gave %q, %v", in, out, again, err)
		}
		var a, b any
		json.Unmarshal([]byte(in), &a)
		json.Unmarshal(out, &b)
		if ja, _ := json.Marshal(a); !bytes.Equal(ja, mustMarshal(b)) {
			t.Fatalf("%q: compacted to %q, which means something else", in, out)
		}
	})
}

func mustMarshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// FuzzRefill: a refill it accepts has Last(now) <= now < Next(now), both
// at 00:00 UTC, Next within a day (daily) or 31 days (monthly), on the day
// asked or the month's last; Last(Next(now)) is Next(now); and a rejection
// is parameter_invalid on "refill".
func FuzzRefill(f *testing.F) {
	f.Add("monthly", int64(100), 31, int64(1712000000))
	f.Add("daily", int64(1), 0, int64(0))
	f.Add("monthly", int64(5), 0, int64(-5000000000))
	f.Add("weekly", int64(5), 1, int64(1))
	f.Fuzz(func(t *testing.T, interval string, amount int64, day int, unix int64) {
		if unix < -1e11 || unix > 1e11 {
			return // beyond year ±5000: not times a key meets
		}
		r := &pihu.Refill{Interval: interval, Amount: amount, Day: day}
		if err := r.Validate("refill"); err != nil {
			rejected(t, interval, err, pihu.EParameterInvalid, "refill")
			return
		}
		now := time.Unix(unix, 0).UTC()
		last, next := r.Last(now), r.Next(now)
		if last.After(now) || !next.After(now) || last.Hour()+last.Minute()+last.Second() != 0 || next.Hour()+next.Minute()+next.Second() != 0 {
			t.Fatalf("%+v at %v: last %v, next %v", *r, now, last, next)
		}
		if got := r.Last(next); !got.Equal(next) {
			t.Fatalf("%+v: Last(Next(%v)) = %v, want %v", *r, now, got, next)
		}
		limit := 24 * time.Hour
		if r.Interval == pihu.RefillMonthly {
			limit = 31 * 24 * time.Hour
			lastDay := time.Date(next.Year(), next.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
			if next.Day() != min(r.Day, lastDay) {
				t.Fatalf("%+v: next refill on day %d of a month of %d days", *r, next.Day(), lastDay)
			}
		}
		if next.Sub(last) > limit {
			t.Fatalf("%+v at %v: %v between refills", *r, now, next.Sub(last))
		}
	})
}

// TestCredits_Spend: a spend takes the refill due first, refuses what is
// not there without changing anything, and a cost of 0 needs one credit.
func TestCredits_Spend(t *testing.T) {
	start := time.Date(2024, 1, 31, 10, 0, 0, 0, time.UTC)
	c := &pihu.Credits{Remaining: 1, Refill: &pihu.Refill{Interval: pihu.RefillMonthly, Amount: 10, Day: 31}, Refilled: start}
	sp, next := c.Spend(2, start)
	if sp.OK || sp.Remaining != 1 || next != *c {
		t.Errorf("over: got %+v, %+v", sp, next)
	}
	sp, next = c.Spend(1, start)
	if !sp.OK || next.Remaining != 0 || !sp.NextRefill.Equal(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("spend: got %+v, %+v", sp, next)
	}
	sp, _ = next.Spend(0, start)
	if sp.OK {
		t.Errorf("cost 0 of an empty key: got %+v, want refused", sp)
	}
	sp, after := next.Spend(4, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC))
	if !sp.OK || after.Remaining != 6 || !after.Refilled.Equal(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("after the refill: got %+v, %+v", sp, after)
	}
}
