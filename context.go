package pihu

import (
	"context"
	"time"
)

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

// Actor is the API key a write is made for: the key a request
// authenticated with, or, for a request made with an access token, the key
// the token was minted from (the token's own expiry is checked when it
// authenticates). A store given a context that carries an Actor
// (NewContextWithActor) re-checks it inside the transaction of every write
// it makes for a caller, with Actor.Check on the actor's key as stored
// there, and changes nothing if it fails: a key revoked while its request
// is in flight writes nothing after its revocation, on any door. The
// dashboard acts for a person, not a key: its writes carry no Actor; nor
// do the server's own writes (usage counts, last use, the record of an
// idempotent response).
type Actor struct {
	AccountID string
	KeyID     string
	// At is when the actor acts: its key must not have expired by then.
	At time.Time
}

// ActorContextKey is the key under which a context carries its Actor. A
// context type of its own may answer Value(ActorContextKey{}) with one, as
// the HTTP server's per-request context does.
type ActorContextKey struct{}

// NewContextWithActor returns ctx carrying a, the actor of the writes made
// with it.
func NewContextWithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, ActorContextKey{}, a)
}

// ActorFromContext returns the actor ctx carries, if any.
func ActorFromContext(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(ActorContextKey{}).(Actor)
	return a, ok
}

// Check applies the rule of an actor to k, the actor's key as the write's
// transaction reads it (nil if there is no key a.KeyID in a.AccountID):
// ERevokedAPIKey if there is none or it is revoked (whenever the
// revocation is dated: a key being revoked is not trusted to act),
// EExpiredAPIKey if it has expired at a.At, and EDisabledAPIKey if it is
// disabled. nil if it may act.
func (a Actor) Check(k *Key) error {
	switch {
	case k == nil || k.AccountID != a.AccountID:
		return Errorf(ERevokedAPIKey, "The API key making this request is not a key of this account any more; nothing was changed.")
	case k.Revoked != nil:
		return Errorf(ERevokedAPIKey, "The API key making this request was revoked before the request could finish; nothing was changed.")
	case k.Expires != nil && !a.At.Before(*k.Expires):
		return Errorf(EExpiredAPIKey, "The API key making this request expired before the request could finish; nothing was changed.")
	case k.Disabled:
		return Errorf(EDisabledAPIKey, "The API key making this request was disabled before the request could finish; nothing was changed.")
	}
	return nil
}

// CreatorOf is the actor that creates k: the key k.CreatedBy, at
// k.Created. A store that creates a key checks it (Actor.Check) in the
// creating transaction, whether or not the context carries an actor.
func CreatorOf(k *Key) Actor {
	return Actor{AccountID: k.AccountID, KeyID: k.CreatedBy, At: k.Created}
}
