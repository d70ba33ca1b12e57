package auth

// OffHeapBytes returns the memory a's cache holds outside the Go heap
// (slots and indexes), for BenchmarkCache_Memory.
func OffHeapBytes(a *Authenticator) int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.c.own.mem.bytes
}
