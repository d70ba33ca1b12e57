package pihu_test

import (
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func TestUsageGranularity_Window(t *testing.T) {
	now := time.Date(2026, 11, 27, 8, 34, 56, 0, time.UTC)
	for _, tt := range []struct {
		g        pihu.UsageGranularity
		now      time.Time
		from, to time.Time
	}{
		{pihu.UsageHourly, now, time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)},
		{pihu.UsageDaily, now, time.Date(2026, 10, 29, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)},
		// On a boundary, the bucket starting now is the last one.
		{pihu.UsageHourly, time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC), time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)},
		// Days are UTC days, whatever the zone of now.
		{pihu.UsageDaily, now.In(time.FixedZone("UTC+10", 10*3600)), time.Date(2026, 10, 29, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)},
	} {
		from, to := tt.g.Window(tt.now)
		if !from.Equal(tt.from) || !to.Equal(tt.to) || from.Location() != time.UTC {
			t.Errorf("%s at %v: got %v to %v, want %v to %v", tt.g, tt.now, from, to, tt.from, tt.to)
		}
	}
}

func TestUsageGranularity_Validate(t *testing.T) {
	for _, g := range []pihu.UsageGranularity{pihu.UsageHourly, pihu.UsageDaily} {
		if err := g.Validate(); err != nil {
			t.Errorf("%q: got %v, want nil", g, err)
		}
	}
	for _, g := range []pihu.UsageGranularity{"", "hours", "Hour", "week", "minute"} {
		err := g.Validate()
		if e, ok := err.(*pihu.Error); !ok || e.Code != pihu.EParameterInvalid || e.Param != "granularity" {
			t.Errorf("%q: got %v, want parameter_invalid on granularity", g, err)
		}
	}
}

func TestNewUsageSeries(t *testing.T) {
	now := time.Date(2026, 11, 27, 8, 34, 56, 0, time.UTC)
	hour := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }
	counts := []pihu.UsageCount{
		{Hour: hour(26, 8), Allowed: 100},                         // a day ago: outside the 24 hours
		{Hour: hour(26, 9), Allowed: 1},                           // the first hour
		{Hour: hour(27, 0), Allowed: 2, Refused: 1},               // today
		{Hour: hour(27, 8), Allowed: 3, Refused: 4},               // the current hour
		{Hour: hour(28, 0), Allowed: 1000},                        // tomorrow: ignored
		{Hour: hour(27, 8).Add(-31 * 24 * time.Hour), Refused: 7}, // before the 30 days
	}

	t.Run("Hourly", func(t *testing.T) {
		s := pihu.NewUsageSeries(pihu.UsageHourly, now, counts)
		if len(s.Buckets) != 24 {
			t.Fatalf("buckets: got %d, want 24", len(s.Buckets))
		}
		for i, b := range s.Buckets {
			if want := hour(26, 9).Add(time.Duration(i) * time.Hour); !b.Start.Equal(want) {
				t.Errorf("bucket %d: starts at %v, want %v", i, b.Start, want)
			}
		}
		first, today, last := s.Buckets[0], s.Buckets[15], s.Buckets[23]
		if first.Allowed != 1 || today.Allowed != 2 || today.Refused != 1 || last.Allowed != 3 || last.Refused != 4 {
			t.Errorf("buckets: got first %+v, 00:00 %+v, last %+v", first, today, last)
		}
		if s.Allowed != 6 || s.Refused != 5 {
			t.Errorf("totals: got %d allowed and %d refused, want 6 and 5", s.Allowed, s.Refused)
		}
		if s.Buckets[1] != (pihu.UsageBucket{Start: hour(26, 10)}) {
			t.Errorf("an hour without requests: got %+v, want zeros", s.Buckets[1])
		}
	})
	t.Run("Daily", func(t *testing.T) {
		s := pihu.NewUsageSeries(pihu.UsageDaily, now, counts)
		if len(s.Buckets) != 30 || !s.Buckets[0].Start.Equal(time.Date(2026, 10, 29, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("buckets: got %d from %v, want 30 from 2026-10-29", len(s.Buckets), s.Buckets[0].Start)
		}
		yesterday, today := s.Buckets[28], s.Buckets[29]
		if yesterday.Allowed != 101 || today.Allowed != 5 || today.Refused != 5 {
			t.Errorf("buckets: got yesterday %+v, today %+v", yesterday, today)
		}
		if s.Allowed != 106 || s.Refused != 5 {
			t.Errorf("totals: got %d allowed and %d refused, want 106 and 5", s.Allowed, s.Refused)
		}
	})
}
