package auth

// Observer is told what an Authenticator does, for metrics: each key lookup
// answered from the cache or from the store, and each batched write of key
// uses. Its methods are called on the request path and must be quick and
// safe for concurrent use. It is never told a key, a key id or a digest.
type Observer interface {
	// CacheHit is called for a lookup answered from the cache.
	CacheHit()
	// CacheMiss is called for a lookup that reads the store.
	CacheMiss()
	// StaleHit is called for a lookup answered from the cache, past its
	// TTL, because the store was unavailable (Options.StaleIfError).
	StaleHit()
	// Flushed is called after each Flush, with its error.
	Flushed(err error)
}

type nopObserver struct{}

func (nopObserver) CacheHit()     {}
func (nopObserver) CacheMiss()    {}
func (nopObserver) StaleHit()     {}
func (nopObserver) Flushed(error) {}

// CacheLen returns the number of keys in the cache.
func (a *Authenticator) CacheLen() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.c.live
}
