package client

import (
	"context"
	"crypto/rand"
	"net/http"
)

// Retries and idempotency: a POST that carries an Idempotency-Key acts at
// most once; a retry with the same key and the same parameters within 24
// hours gets the first answer again (Response.Replayed tells), even when
// the first answer was lost to a timeout. Without a key, a CreateKey or
// RotateKey whose answer is lost leaves a key nobody holds.

type idempotencyKeyContext struct{}

// WithIdempotencyKey returns a context that makes every POST sent with it
// (CreateKey, RotateKey, Verify, CreateCandidate, CreateInterview) carry
// key as its Idempotency-Key header. Use one key per operation, and the
// same key for every retry of it:
//
//	ctx := client.WithIdempotencyKey(ctx, client.NewIdempotencyKey())
//	key, err := c.RotateKey(ctx, id, client.RotateParams{})
//	// on a timeout or a 5xx, call RotateKey again with the same ctx
//
// The API refuses a key that is empty, longer than 255 characters or not
// printable ASCII (400 parameter_invalid), reuses for another request
// (400 idempotency_key_reused), and one whose first request still runs
// (409 idempotency_key_in_use: retry a moment later). Requests other than
// POST ignore it.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKeyContext{}, key)
}

// NewIdempotencyKey returns a new random Idempotency-Key, with 128 bits
// from crypto/rand: the stored answer of a key creation is only as secret
// as its idempotency key is hard to guess.
func NewIdempotencyKey() string { return rand.Text() }

// setIdempotencyKey gives req the Idempotency-Key of ctx, if it is a POST
// and ctx has one.
func setIdempotencyKey(ctx context.Context, req *http.Request) {
	if key, ok := ctx.Value(idempotencyKeyContext{}).(string); ok && req.Method == http.MethodPost {
		req.Header.Set("Idempotency-Key", key)
	}
}
