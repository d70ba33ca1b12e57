package pihu

import "context"

type contextKey int

const keyContextKey contextKey = iota

// NewContextWithKey returns ctx carrying the authenticated key of a request.
func NewContextWithKey(ctx context.Context, k *Key) context.Context {
	return context.WithValue(ctx, keyContextKey, k)
}

// KeyFromContext returns the authenticated key of a request, or nil.
func KeyFromContext(ctx context.Context) *Key {
	k, _ := ctx.Value(keyContextKey).(*Key)
	return k
}
