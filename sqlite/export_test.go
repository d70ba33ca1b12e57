package sqlite

import "time"

// SetBusyTimeout sets the busy timeout of the stores opened from now on,
// until the function it returns is called.
func SetBusyTimeout(d time.Duration) (restore func()) {
	old := busyTimeout
	busyTimeout = d
	return func() { busyTimeout = old }
}

// SetMigrateTimeout sets how long Migrate waits in all for the write
// lock, until the function it returns is called.
func SetMigrateTimeout(d time.Duration) (restore func()) {
	old := migrateTimeout
	migrateTimeout = d
	return func() { migrateTimeout = old }
}
