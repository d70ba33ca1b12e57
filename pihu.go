// Package pihu holds the domain of the Pihu.ai authentication service: API
// keys, permissions, accounts, the storage interfaces and the errors every
// layer speaks. It imports no database, cache or HTTP code; each of those
// lives in a subpackage named after it (sqlite, http, …) and depends on this
// one, never the other way round.
package pihu

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"math/big"
	mathrand "math/rand/v2"
	"time"
)

// Store is everything the service keeps. A backend (sqlite, postgres)
// implements it and passes the conformance suite in storetest.
//
// Every write a caller makes through it (keys, candidates, interviews,
// webhook endpoints, credits, tokens, idempotency reservations) checks,
// inside its own transaction, the Actor its context carries, if any, and
// changes nothing if that key may no longer act (ERevokedAPIKey or
// EExpiredAPIKey, see Actor.Check). The server's own bookkeeping checks
// none: usage counts, last use, webhook deliveries, signing keys, and the
// completion or release of an idempotency record, which records the
// answer of a request that may have just revoked its own key.
//
// Implementations must be safe for concurrent use.
type Store interface {
	AccountStore
	KeyStore
	CandidateStore
	InterviewStore
	AuditStore
	UserStore
	IdempotencyStore
	UsageStore
	RequestLogStore
	SigningKeyStore
	WebhookStore
	CreditStore
	LeakStore
	PermissionStore
	RoleStore
	IdentityStore
	PasskeyStore

	// Ping reports whether the database answers; it backs /readyz.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// Timestamp truncates t to the second in UTC: every time the API shows is
// RFC 3339 to the second, and stores keep exactly what the API shows so that
// `expires` is `created` plus the duration, exactly.
func Timestamp(t time.Time) time.Time {
	return t.UTC().Truncate(time.Second)
}

const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

var big62 = big.NewInt(62)

// encodeBase62 writes n in base 62, left-padded with '0' to width
// characters.
func encodeBase62(n *big.Int, width int) string {
	n = new(big.Int).Set(n)
	var out []byte
	mod := new(big.Int)
	for n.Sign() > 0 {
		n.DivMod(n, big62, mod)
		out = append(out, base62Alphabet[mod.Int64()])
	}
	for len(out) < width {
		out = append(out, '0')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

// randomBase62 returns the base62 form of n random bytes from crypto/rand,
// always of the same length for the same n.
func randomBase62(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never returns an error on supported platforms
	// (Go 1.24+); it crashes the program instead.
	rand.Read(b)
	width := base62Width(n)
	return encodeBase62(new(big.Int).SetBytes(b), width)
}

// base62Width is the number of base62 digits needed for any n-byte number.
func base62Width(n int) int {
	max := new(big.Int).Lsh(big.NewInt(1), uint(8*n))
	max.Sub(max, big.NewInt(1))
	return len(encodeBase62(max, 0))
}

// ID prefixes. Ids are not secret; they name things in URLs and logs.
const (
	PrefixAccount   = "acct_"
	PrefixKey       = "key_"
	PrefixCandidate = "cand_"
	PrefixInterview = "intv_"
	PrefixEvent     = "evt_"
	PrefixRequest   = "req_"
	PrefixUser      = "user_"
	PrefixInvite    = "inv_"
	PrefixRole      = "role_"
	PrefixIdentity  = "idt_"
)

// IDLength is the number of random base62 characters of an id, after its
// prefix: 22 of them carry 130 bits, as many as a random UUID and more.
const IDLength = 22

// NewID returns prefix followed by 22 random base62 characters: unique
// without coordination, and unguessable. Every request gets one, so it
// draws characters straight from random bytes (rejecting the 8 byte values
// that would bias the draw) instead of converting a big number.
func NewID(prefix string) string {
	return string(AppendID(make([]byte, 0, len(prefix)+IDLength), prefix))
}

// AppendID appends an id of NewID's form to dst and returns the extended
// buffer: for a caller that keeps the id's bytes in memory of its own.
func AppendID(dst []byte, prefix string) []byte {
	return appendID(dst, prefix, func(b []byte) { rand.Read(b) })
}

// AppendRequestID is AppendID for a request's id, which must be unique but
// guards nothing: it draws from math/rand/v2's generator (ChaCha8, seeded
// by the system), a tenth of crypto/rand's cost on every request.
func AppendRequestID(dst []byte) []byte {
	return appendID(dst, PrefixRequest, func(b []byte) {
		for i := 0; i < len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], mathrand.Uint64())
		}
	})
}

// appendID appends prefix and IDLength base62 characters drawn from the
// bytes fill writes (32 at a time) to dst.
func appendID(dst []byte, prefix string, fill func([]byte)) []byte {
	dst = append(dst, prefix...)
	end := len(dst) + IDLength
	var buf [32]byte
	for len(dst) < end {
		fill(buf[:])
		for _, b := range buf {
			if b < 248 && len(dst) < end { // 248 = 4 × 62
				dst = append(dst, base62Alphabet[b%62])
			}
		}
	}
	return dst
}
