package pihu

import "context"

// KeyContextKey is the key under which a request's context carries its
// authenticated key. NewContextWithKey sets it; a context type of its own
// may answer Value(KeyContextKey{}) with the key instead, as the HTTP
// server's per-request context does to save an allocation.
type KeyContextKey struct{}

// NewContextWithKey returns ctx carrying the authenticated key of a request.
func NewContextWithKey(ctx context.Context, k *Key) context.Context {
	return context.WithValue(ctx, KeyContextKey{}, k)
}

// KeyFromContext returns the authenticated key of a request, or nil.
func KeyFromContext(ctx context.Context) *Key {
	k, _ := ctx.Value(KeyContextKey{}).(*Key)
	return k
}
