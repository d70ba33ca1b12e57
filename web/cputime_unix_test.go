//go:build unix

package web_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used (user and system): a
// cost that other processes loading the machine do not change, unlike
// wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
