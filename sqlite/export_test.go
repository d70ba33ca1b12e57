package sqlite

import "time"

// SetBusyTimeout sets the busy timeout of the stores opened from now on,
// until the function it returns is called.
func SetBusyTimeout(d time.Duration) (restore func()) {
	old := busyTimeout
	busyTimeout = d
	return func() { busyTimeout = old }
}
