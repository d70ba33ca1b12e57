package gcheadroom

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		live, headroom uint64
		base, want     int
	}{
		{3 * mb, 32 * mb, 100, 800},        // under the runtime's 4 MB: counted as 4 MB
		{0, 32 * mb, 100, 800},             // before the first cycle
		{8 * mb, 32 * mb, 100, 400},        // 8 MB may grow by 32 MB
		{10 * mb, 32 * mb, 100, 320},       // rounded up: 10 × 3.2 = 32
		{10*mb + 1, 32 * mb, 100, 320},     // 320 % of a little more is still ≥ 32 MB
		{32 * mb, 32 * mb, 100, 100},       // as large as the headroom: GOGC's default
		{500 * mb, 32 * mb, 100, 100},      // larger: never under the base
		{500 * mb, 32 * mb, 150, 150},      // the base wins
		{4 * mb, 1 << 40, 100, MaxPercent}, // bounded
		{4 * mb, 0, 100, 100},              // no headroom: the base
	} {
		got := Percent(tc.live, tc.headroom, tc.base)
		if got != tc.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", tc.live, tc.headroom, tc.base, got, tc.want)
		}
		if live := max(tc.live, minHeap); got < MaxPercent && got > tc.base && live*uint64(got)/100 < tc.headroom {
			t.Errorf("Percent(%d, %d, %d) = %d lets the heap grow by %d only", tc.live, tc.headroom, tc.base, got, live*uint64(got)/100)
		}
	}
}

// gogc is the collector's percent, as the runtime reports it.
func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestRun: Run sets the percent its headroom needs for this process's
// live heap, follows the heap as it grows, and puts the percent back when
// its context ends.
func TestRun(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, 64<<20, time.Millisecond)
	}()
	// A test binary's live heap is under 4 MB: 64 MB of headroom is 1,600 %.
	waitFor(t, func() bool { return gogc() == 1600 })

	// 32 MB kept live: the percent that leaves 64 MB of room falls.
	keep := make([]*[1 << 20]byte, 32)
	for i := range keep {
		keep[i] = new([1 << 20]byte)
	}
	runtime.GC()
	waitFor(t, func() bool { p := gogc(); return p >= 180 && p <= 210 })
	runtime.KeepAlive(keep)

	cancel()
	<-done
	if got := gogc(); got != 100 {
		t.Errorf("after Run: percent %d, want 100 as it was", got)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("percent %d after 5 s", gogc())
		}
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
}
