// Package gcheadroom keeps the Go garbage collector from running more
// often than a small heap needs.
//
// The collector starts a cycle when the heap has grown by GOGC percent of
// what the last cycle left live (and at 4 MB at the least). A server whose
// live heap is small, a few megabytes, but which allocates a few
// kilobytes a request, then collects a hundred times a second under load,
// and the cycles' fixed costs (stopping the world, scanning stacks and
// globals, the background workers) become a large part of every request's
// CPU. Run raises the percent so that the heap may grow by at least a
// fixed headroom between cycles: with a live heap of 3 MB and a headroom
// of 32 MB, the percent is 800 and the collector runs about a tenth as
// often. A live heap larger than the headroom keeps the base percent:
// memory then grows as GOGC says, never more.
//
// It is what GOGC itself would do with a floor of its own, which Go lacks.
// A memory limit (GOMEMLIMIT, debug.SetMemoryLimit) still applies: the
// runtime collects as it nears one, whatever the percent.
package gcheadroom

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// MaxPercent bounds the percent Run sets.
const MaxPercent = 100_000

// minHeap is the runtime's minimum heap goal at GOGC=100, 4 MB, which it
// scales by GOGC: a percent of p makes the goal at least minHeap × p/100.
const minHeap = 4 << 20

// Percent is the collector's percent that lets a live heap of live bytes
// grow by about headroom bytes before the next cycle, and never less than
// base. A live heap under the runtime's 4 MB minimum counts as 4 MB, so
// that the minimum, which the runtime scales by the percent, stays at or
// under the headroom: the heap goal is then the larger of live + headroom
// and headroom.
func Percent(live, headroom uint64, base int) int {
	live = max(live, minHeap)
	// Rounded up, so that live × percent / 100 ≥ headroom.
	p := min((headroom*100+live-1)/live, MaxPercent)
	return max(base, int(p))
}

// Run sets the collector's percent from the live heap every interval
// (see Percent, base 100, GOGC's default) until ctx ends, then puts the
// percent back as it found it. Call it only when the environment does not
// set GOGC, which is the operator's choice to keep.
func Run(ctx context.Context, headroom uint64, interval time.Duration) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	set := 100
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			// A change under a tenth is not worth resetting the pacer for.
			if p := Percent(sample[0].Value.Uint64(), headroom, 100); p > set+set/10 || p < set-set/10 {
				debug.SetGCPercent(p)
				set = p
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
