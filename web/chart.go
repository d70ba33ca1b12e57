package web

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pihu-ai/pihu"
)

// chart is a bar chart drawn on the server as inline SVG: one bar a
// period, allowed requests stacked under refused ones. The template draws
// it from the geometry computed here, so that the page needs no script.
type chart struct {
	Title string
	// Summary describes the chart for screen readers.
	Summary        string
	Width, Height  int
	Bars           []bar
	Labels         []label
	Grid           []gridLine
	Allowed, Refus int64
	// AllowedText and RefusedText are the totals, written for people;
	// Why is why the refused were refused, the reasons that occurred.
	AllowedText, RefusedText string
	Why                      []reasonCount
	Empty                    bool
	PlotTop, PlotBt          float64
}

type bar struct {
	X, W                 float64
	AllowedY, AllowedH   float64
	RefusedY, RefusedH   float64
	Title                string
	HasAllowed, HasRefus bool
}

// reasonCount is how many requests were refused for one reason, in words.
type reasonCount struct{ Count, Reason string }

// reasonWords are the dashboard's words for the reasons of pihu.Refusal.
var reasonWords = [pihu.NumRefusals]string{
	pihu.RefusalRateLimit:  "rate limited",
	pihu.RefusalAddress:    "address not allowed",
	pihu.RefusalPermission: "missing permission",
	pihu.RefusalCredits:    "credits used up",
	pihu.RefusalDisabled:   "key disabled",
}

// why is the reasons of refused requests split by by, those that
// occurred, in the order of pihu.Refusal; refusals without a reason (from
// before reasons were kept) last.
func why(refused int64, by pihu.Refusals) []reasonCount {
	var out []reasonCount
	for r, n := range by {
		if n > 0 {
			out = append(out, reasonCount{thousands(n), reasonWords[r]})
		}
	}
	if other := refused - by.Sum(); other > 0 {
		out = append(out, reasonCount{thousands(other), "reason not recorded"})
	}
	return out
}

// whyText is why's reasons in a sentence: " (3 rate limited, 1 missing
// permission)", or "" for none.
func whyText(rs []reasonCount) string {
	if len(rs) == 0 {
		return ""
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Count + " " + r.Reason
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

type label struct {
	X    float64
	Text string
}

type gridLine struct {
	Y    float64
	Text string
}

// Geometry of a chart, in SVG user units.
const (
	chartWidth  = 720
	chartHeight = 200
	plotLeft    = 44.0
	plotRight   = 8.0
	plotTop     = 10.0
	plotBottom  = 24.0
)

// usageWindow is the time range the key page reads: the last 30 days,
// whole UTC days, as GET /v1/auth/api-keys/{id}/usage?granularity=day.
func usageWindow(now time.Time) (from, to time.Time) {
	return pihu.UsageDaily.Window(now)
}

// hourlyChart draws the last 24 hours, an hour a bar, the current hour last.
func hourlyChart(counts []pihu.UsageCount, now time.Time) *chart {
	s := pihu.NewUsageSeries(pihu.UsageHourly, now, counts)
	names := make([]string, len(s.Buckets))
	ticks := map[int]string{}
	for i, b := range s.Buckets {
		names[i] = b.Start.Format("Jan 2 15:04") + "–" + b.Start.Add(time.Hour).Format("15:04") + " UTC"
		if i%6 == 0 {
			ticks[i] = b.Start.Format("15:04")
		}
	}
	ticks[len(names)-1] = "now"
	return drawChart("Last 24 hours, by hour (UTC)", names, ticks, s)
}

// dailyChart draws the last 30 days, a UTC day a bar, today last.
func dailyChart(counts []pihu.UsageCount, now time.Time) *chart {
	s := pihu.NewUsageSeries(pihu.UsageDaily, now, counts)
	names := make([]string, len(s.Buckets))
	ticks := map[int]string{}
	for i, b := range s.Buckets {
		names[i] = b.Start.Format("Mon Jan 2")
		if i%7 == 1 {
			ticks[i] = b.Start.Format("Jan 2")
		}
	}
	ticks[len(names)-1] = "today"
	return drawChart("Last 30 days, by day (UTC)", names, ticks, s)
}

// drawChart lays out the bars of the series' buckets, named by names,
// with labels under the bars of ticks.
func drawChart(title string, names []string, ticks map[int]string, s pihu.UsageSeries) *chart {
	c := &chart{Title: title, Width: chartWidth, Height: chartHeight, PlotTop: plotTop, PlotBt: chartHeight - plotBottom,
		Allowed: s.Allowed, Refus: s.Refused}
	c.Why = why(s.Refused, s.By)
	allowed, refused := make([]int64, len(s.Buckets)), make([]int64, len(s.Buckets))
	var peak int64
	for i, b := range s.Buckets {
		allowed[i], refused[i] = b.Allowed, b.Refused
		peak = max(peak, b.Allowed+b.Refused)
	}
	c.Empty = peak == 0
	top := niceCeiling(peak)
	plotH := float64(chartHeight) - plotTop - plotBottom
	plotW := float64(chartWidth) - plotLeft - plotRight
	slot := plotW / float64(len(allowed))
	gap := slot * 0.2
	scale := func(n int64) float64 { return float64(n) / float64(top) * plotH }
	base := plotTop + plotH
	for i := range allowed {
		x := plotLeft + float64(i)*slot + gap/2
		ah, rh := scale(allowed[i]), scale(refused[i])
		b := bar{
			X: round1(x), W: round1(slot - gap),
			AllowedY: round1(base - ah), AllowedH: round1(ah),
			RefusedY: round1(base - ah - rh), RefusedH: round1(rh),
			HasAllowed: allowed[i] > 0, HasRefus: refused[i] > 0,
			Title: fmt.Sprintf("%s: %s allowed, %s refused%s", names[i], thousands(allowed[i]), thousands(refused[i]),
				whyText(why(refused[i], s.Buckets[i].By))),
		}
		c.Bars = append(c.Bars, b)
		if t, ok := ticks[i]; ok {
			c.Labels = append(c.Labels, label{X: round1(x + (slot-gap)/2), Text: t})
		}
	}
	for _, n := range []int64{0, top / 2, top} {
		c.Grid = append(c.Grid, gridLine{Y: round1(base - scale(n)), Text: short(n)})
	}
	c.AllowedText, c.RefusedText = thousands(c.Allowed), thousands(c.Refus)
	c.Summary = fmt.Sprintf("%s: %s requests allowed and %s refused%s in all, at most %s in one bar.",
		title, thousands(c.Allowed), thousands(c.Refus), whyText(c.Why), thousands(peak))
	return c
}

// niceCeiling is the smallest of 2, 4, 10, 20, 40, 100… (times powers of
// ten) that is at least n: the top of the axis.
func niceCeiling(n int64) int64 {
	if n <= 2 {
		return 2
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 4, 5} {
			if m*p >= n && (m*p)%2 == 0 {
				return m * p
			}
		}
	}
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

// thousands writes n with thin separators: 12,345.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// short writes n for an axis: 950, 1.2k, 3M.
func short(n int64) string {
	switch {
	case n >= 1_000_000:
		return strconv.FormatFloat(float64(n)/1e6, 'f', -1, 64) + "M"
	case n >= 1_000:
		return strconv.FormatFloat(float64(n)/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatInt(n, 10)
}
