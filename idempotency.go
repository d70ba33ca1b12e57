package pihu

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Retries are safe: a POST sent with an Idempotency-Key (Stripe's header)
// acts once, and a retry with the same key and the same request within
// IdempotencyTTL gets the first response again instead of acting twice.
//
// A record never holds the Idempotency-Key value. It is found by a SHA-256
// over the scope it was sent in (the authenticating key, or the client
// address of an unauthenticated request) and the value; the request is
// recognised by an HMAC of its method, path and body; and the response,
// which may show a new key's secret, is kept encrypted with AES-256-GCM
// under a key derived from the value with HKDF. Without the value the
// stored response is useless, so a copy of the database shows no secret.

// Limits of idempotency records.
const (
	// IdempotencyTTL is how long a request's response is kept and
	// replayed; an older record is gone, and the key acts again.
	IdempotencyTTL = 24 * time.Hour
	// IdempotencyLockTimeout is how long a record whose request has not
	// finished blocks a retry. A request that died with its process
	// (a crash between reserving and completing) leaves such a record;
	// after this, a retry with the same request may act.
	IdempotencyLockTimeout = 60 * time.Second
	// MaxIdempotencyKeyLength is the longest Idempotency-Key accepted.
	MaxIdempotencyKeyLength = 255
)

// IdempotencyKeyHeader is the request header of an idempotency key, as
// the error param names it.
const IdempotencyKeyHeader = "Idempotency-Key"

// IdempotencyRecord is what a store keeps of one request sent with an
// Idempotency-Key: enough to recognise a retry and replay its response,
// and nothing that shows the key's value or a secret in clear.
type IdempotencyRecord struct {
	// Lookup is the index: IdempotencyKey.Lookup, a SHA-256 over the
	// scope and the value.
	Lookup []byte
	// Fingerprint identifies the request: IdempotencyKey.Fingerprint.
	Fingerprint []byte
	// Token names the reservation (the id of the request holding it), so
	// that only its holder completes or releases it.
	Token string
	// Created is when the request that holds the record reserved it: the
	// record expires IdempotencyTTL later, and its lock, while Status is
	// 0, IdempotencyLockTimeout later.
	Created time.Time
	// Status is the response's HTTP status, 0 while the request runs.
	Status int
	// Response is the sealed response (IdempotencyKey.Seal); nil while
	// the request runs.
	Response []byte
	// EndedKey is true if the request revoked, or shortened the life of,
	// the very key that made it (such as a key rotating itself): only
	// such a record is replayed to that key once it no longer works, and
	// only while the key is as the request left it (see KeyEnd).
	EndedKey bool
}

// Done reports whether the record's request finished, so that its
// response can be replayed.
func (r *IdempotencyRecord) Done() bool { return r.Status != 0 }

// Stale reports whether the record's request is still unfinished after
// IdempotencyLockTimeout at now: it most likely died with its process.
func (r *IdempotencyRecord) Stale(now time.Time) bool {
	return !r.Done() && !now.Before(r.Created.Add(IdempotencyLockTimeout))
}

// Expired reports whether the record is IdempotencyTTL old or older at
// now: it is neither replayed nor kept.
func (r *IdempotencyRecord) Expired(now time.Time) bool {
	return !now.Before(r.Created.Add(IdempotencyTTL))
}

// IdempotencyStore keeps the records of requests sent with an
// Idempotency-Key. Implementations must be safe for concurrent use, in one
// process or several sharing the database.
type IdempotencyStore interface {
	// ReserveIdempotency claims rec.Lookup at rec.Created for the request
	// rec describes (its Status 0 and Response nil), first deleting every
	// record that has expired at rec.Created. It returns nil once it
	// stored rec: there was no record, or an unfinished one with the same
	// Fingerprint whose lock went stale, which rec replaces. Otherwise it
	// changes nothing and returns the record under rec.Lookup, for the
	// caller to replay, or refuse. Of concurrent reservations of one
	// Lookup, exactly one gets nil.
	ReserveIdempotency(ctx context.Context, rec *IdempotencyRecord) (*IdempotencyRecord, error)
	// CompleteIdempotency stores rec.Status, rec.Response and rec.EndedKey
	// in the unfinished record of rec.Lookup reserved with rec.Token.
	// Returns ENotFound if there is none (another request took it over
	// after its lock went stale, or it expired). It checks no Actor: the
	// request whose answer it records may have revoked its own key.
	CompleteIdempotency(ctx context.Context, rec *IdempotencyRecord) error
	// ReleaseIdempotency deletes the unfinished record of rec.Lookup
	// reserved with rec.Token, if it is still there, so that a retry may
	// act: its request failed without an answer worth replaying. It
	// checks no Actor, as CompleteIdempotency.
	ReleaseIdempotency(ctx context.Context, rec *IdempotencyRecord) error
	// IdempotencyRecord returns the record of lookup, finished or not, if
	// it has not expired at now. Returns ENotFound otherwise.
	IdempotencyRecord(ctx context.Context, lookup []byte, now time.Time) (*IdempotencyRecord, error)
}

// ValidIdempotencyKey checks an Idempotency-Key header value: 1 to
// MaxIdempotencyKeyLength printable ASCII characters. Returns
// EParameterInvalid on IdempotencyKeyHeader otherwise.
func ValidIdempotencyKey(value string) error {
	if value == "" || len(value) > MaxIdempotencyKeyLength {
		return ParamErrorf(EParameterInvalid, IdempotencyKeyHeader,
			"The Idempotency-Key header must hold 1 to %d characters; a random value such as a UUID is best.", MaxIdempotencyKeyLength)
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 || c > 0x7e {
			return ParamErrorf(EParameterInvalid, IdempotencyKeyHeader,
				"The Idempotency-Key header may hold only printable ASCII characters; a random value such as a UUID is best.")
		}
	}
	return nil
}

// IdempotencyKey is an Idempotency-Key value bound to the scope it was
// sent in, with the keys derived from it. It is never stored.
type IdempotencyKey struct {
	lookup [sha256.Size]byte
	mac    []byte // the key of Fingerprint
	aead   cipher.AEAD
}

// Labels that separate the uses of one value, so that no derived key or
// hash can stand for another.
const (
	idemLookupLabel = "pihu idempotency lookup v1"
	idemMACLabel    = "pihu idempotency fingerprint v1"
	idemSealLabel   = "pihu idempotency response v1"
)

// NewIdempotencyKey derives the lookup hash, the fingerprint key and the
// response key of value sent in scope (such as "key:key_…" or
// "ip:203.0.113.7"): the same value in two scopes shares nothing. Returns
// EParameterInvalid if value is not a valid Idempotency-Key.
func NewIdempotencyKey(scope, value string) (*IdempotencyKey, error) {
	if err := ValidIdempotencyKey(value); err != nil {
		return nil, err
	}
	k := &IdempotencyKey{}
	h := sha256.New()
	h.Write([]byte(idemLookupLabel))
	writeField(h, scope)
	writeField(h, value)
	h.Sum(k.lookup[:0])

	info := func(label string) string { return label + "\x00" + scope }
	var err error
	if k.mac, err = hkdf.Key(sha256.New, []byte(value), nil, info(idemMACLabel), 32); err != nil {
		return nil, fmt.Errorf("pihu: idempotency key: %w", err)
	}
	sealKey, err := hkdf.Key(sha256.New, []byte(value), nil, info(idemSealLabel), 32)
	if err != nil {
		return nil, fmt.Errorf("pihu: idempotency key: %w", err)
	}
	block, err := aes.NewCipher(sealKey) // 32 bytes: AES-256
	if err != nil {
		return nil, fmt.Errorf("pihu: idempotency key: %w", err)
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("pihu: idempotency key: %w", err)
	}
	return k, nil
}

// writeField writes s with its length first, so that no two sequences of
// fields hash alike.
func writeField(h interface{ Write([]byte) (int, error) }, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// Lookup is the index of the key's record: a SHA-256 over a label, the
// scope and the value.
func (k *IdempotencyKey) Lookup() []byte { return k.lookup[:] }

// Fingerprint identifies a request: an HMAC-SHA256, under a key derived
// from the value, of its method, its path with query, and its body. Two
// requests are the same request if and only if their fingerprints are
// equal; without the value, a fingerprint tells nothing about the body.
func (k *IdempotencyKey) Fingerprint(method, target string, body []byte) []byte {
	m := hmac.New(sha256.New, k.mac)
	writeField(m, method)
	writeField(m, target)
	writeField(m, string(body))
	return m.Sum(nil)
}

// IdempotentResponse is a response as it is replayed: its headers that
// matter (such as Content-Type) and its body. Its status is kept beside
// it, in the record.
type IdempotentResponse struct {
	Header map[string]string `json:"header,omitempty"`
	Body   []byte            `json:"body"`
	// Ended is how the request left the very key that made it, if it
	// ended it (see IdempotencyRecord.EndedKey); it is sealed with the
	// response, so only a retry holding the Idempotency-Key reads it.
	Ended *KeyEnd `json:"ended,omitempty"`
}

// KeyEnd is how a request ended the very key that made it: the time it
// revoked it, or the expiry it gave it (a key rotating itself, now or
// with a grace period). The response is replayed to that key, once it no
// longer works, only while the key is still as the request left it
// (Matches): a key revoked by someone else, or given another expiry,
// since, gets no replay.
type KeyEnd struct {
	Revoked *time.Time `json:"revoked,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
}

// Matches reports whether k, as stored now, is as the request that
// recorded e left it. A nil e matches nothing.
func (e *KeyEnd) Matches(k *Key) bool {
	switch {
	case e == nil:
		return false
	case e.Revoked != nil:
		return k.Revoked != nil && k.Revoked.Equal(*e.Revoked)
	default:
		return e.Expires != nil && k.Revoked == nil && k.Expires != nil && k.Expires.Equal(*e.Expires)
	}
}

// sealVersion is the first byte of a sealed response, so that the format
// can change.
const sealVersion = 1

// Seal encrypts resp, with status, for the record: AES-256-GCM under a key
// derived from the value, with a random nonce, bound to the record's
// lookup and status so that no sealed response can be moved to another
// record or status.
func (k *IdempotencyKey) Seal(status int, resp IdempotentResponse) ([]byte, error) {
	plain, err := json.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("pihu: seal response: %w", err)
	}
	out := make([]byte, 1+k.aead.NonceSize(), 1+k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	out[0] = sealVersion
	rand.Read(out[1:]) // never fails (Go 1.24+)
	return k.aead.Seal(out, out[1:], plain, k.additionalData(status)), nil
}

// Open decrypts a response Seal sealed with status. It fails if sealed was
// sealed under another value or scope, for another status, or changed.
func (k *IdempotencyKey) Open(status int, sealed []byte) (IdempotentResponse, error) {
	var resp IdempotentResponse
	n := k.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealVersion {
		return resp, errors.New("pihu: open response: not a sealed response")
	}
	plain, err := k.aead.Open(nil, sealed[1:1+n], sealed[1+n:], k.additionalData(status))
	if err != nil {
		return resp, fmt.Errorf("pihu: open response: %w", err)
	}
	if err := json.Unmarshal(plain, &resp); err != nil {
		return resp, fmt.Errorf("pihu: open response: %w", err)
	}
	return resp, nil
}

func (k *IdempotencyKey) additionalData(status int) []byte {
	ad := make([]byte, 0, len(k.lookup)+8)
	ad = append(ad, k.lookup[:]...)
	return binary.BigEndian.AppendUint64(ad, uint64(status))
}
