//go:build !unix

package auth

import "errors"

// mapMem is not available here: the cache's memory comes from the heap.
func mapMem(int) ([]byte, error) { return nil, errors.New("no mmap on this platform") }

func unmapMem([]byte) error { return nil }
