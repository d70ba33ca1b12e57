package auth

import (
	"testing"
	"unsafe"
)

// TestSlot_Compact keeps a cached key's fixed part small: with its id, its
// name and the two index maps, a key takes under 200 bytes (see
// BenchmarkCache_Memory).
func TestSlot_Compact(t *testing.T) {
	if got, want := unsafe.Sizeof(slot{}), uintptr(104); got > want {
		t.Errorf("got %d bytes a slot, want at most %d", got, want)
	}
}
