//go:build unix

package auth

import "golang.org/x/sys/unix"

// mapMem maps n bytes of anonymous, private memory: zeroed, outside the Go
// heap, given to the process page by page as they are first written.
func mapMem(n int) ([]byte, error) {
	return unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
}

func unmapMem(b []byte) error { return unix.Munmap(b) }
