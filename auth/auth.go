// Package auth is the hot path of every API request: it turns a bearer
// secret into a verified key without touching the database when warm, and
// records key use in batches off the request path.
//
// Verified keys are cached in process by the SHA-256 of their secret. A
// cached entry is trusted for at most TTL, after which it is read again, so
// that a change made by another process is seen within TTL; a revocation
// made through this process is seen at once (Invalidate). Expiry is checked
// against the clock on every request, cached or not.
package auth

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"sync"
	"time"

	"github.com/pihu-ai/pihu"
)

// Authenticator verifies secrets. It is safe for concurrent use.
type Authenticator struct {
	store  pihu.KeyStore
	tokens *Tokens // nil: API keys only
	now    func() time.Time
	ttl    time.Duration
	max    int
	logger *slog.Logger

	mu    sync.RWMutex
	cache map[[32]byte]entry
	byID  map[string][32]byte
	// invalidations counts calls to Invalidate. A key read from the store
	// is cached only if none happened during the read, so that a read
	// that raced a revocation cannot put the key back for a whole TTL.
	invalidations uint64

	usageMu sync.Mutex
	usage   map[string]time.Time
}

type entry struct {
	key    *pihu.Key
	loaded time.Time
}

// Options configure an Authenticator; zero values take the defaults.
type Options struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// TTL is how long a cached key is trusted before it is read again
	// (default 30 s).
	TTL time.Duration
	// MaxEntries bounds the cache (default 100,000 keys).
	MaxEntries int
	// Logger receives flush failures (default slog.Default()).
	Logger *slog.Logger
	// Tokens, if not nil, verifies access tokens, which are then accepted
	// wherever a key is (see AuthenticateGuarded).
	Tokens *Tokens
}

// New returns an Authenticator reading keys from store.
func New(store pihu.KeyStore, opts Options) *Authenticator {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TTL == 0 {
		opts.TTL = 30 * time.Second
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = 100_000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Authenticator{
		store:  store,
		tokens: opts.Tokens,
		now:    opts.Now,
		ttl:    opts.TTL,
		max:    opts.MaxEntries,
		logger: opts.Logger,
		cache:  make(map[[32]byte]entry),
		byID:   make(map[string][32]byte),
		usage:  make(map[string]time.Time),
	}
}

// Authenticate returns the key whose secret is given, and records its use.
// Returns EInvalidAPIKey for a malformed or unknown secret, EExpiredAPIKey
// or ERevokedAPIKey for one that no longer works. Any other error is the
// store's.
func (a *Authenticator) Authenticate(ctx context.Context, secret string) (*pihu.Key, error) {
	return a.AuthenticateGuarded(ctx, secret, nil)
}

// AuthenticateGuarded is Authenticate, except that before it reads the
// store for a secret the cache does not hold at all (fresh or stale: a key
// this process has not seen), it calls guard, if not nil, and returns
// guard's error instead of reading when there is one. It lets the caller
// refuse lookups to an address that has been guessing keys while serving
// the keys already seen, at no extra cost on the warm path.
//
// A secret shaped like a JWT is an access token (see authenticateToken).
func (a *Authenticator) AuthenticateGuarded(ctx context.Context, secret string, guard func() error) (*pihu.Key, error) {
	if a.tokens != nil && pihu.LooksLikeToken(secret) {
		return a.authenticateToken(ctx, secret, guard)
	}
	k, err := a.lookup(ctx, secret, guard)
	if err != nil {
		return nil, err
	}
	now := a.now()
	if ok, code := k.Active(now); !ok {
		return nil, &pihu.Error{Code: code, Message: activeMessage(code)}
	}
	a.recordUse(k.ID, now)
	return k, nil
}

// RecordUse records that key k was used now, as Authenticate does, for a
// key that was checked another way (POST /v1/auth/verify): it reaches
// `last_used` with the next flush.
func (a *Authenticator) RecordUse(k *pihu.Key) {
	a.recordUse(k.ID, a.now())
}

func (a *Authenticator) recordUse(id string, now time.Time) {
	a.usageMu.Lock()
	a.usage[id] = now
	a.usageMu.Unlock()
}

func activeMessage(code string) string {
	if code == pihu.ERevokedAPIKey {
		return "This API key has been revoked. Create a new key in the dashboard or with POST /v1/auth/api-keys."
	}
	return "This API key has expired. Create a new key in the dashboard or with POST /v1/auth/api-keys."
}

var errInvalid = pihu.Errorf(pihu.EInvalidAPIKey, "The API key is not valid. Check that you copied the whole key, starting with ph_live_ or ph_test_.")

// Lookup returns the key whose secret is given, whatever its state
// (revoked and expired keys included), from the cache when it can. Returns
// EInvalidAPIKey for a malformed or unknown secret.
func (a *Authenticator) Lookup(ctx context.Context, secret string) (*pihu.Key, error) {
	return a.lookup(ctx, secret, nil)
}

// lookup is Lookup; guard, if not nil, is asked before reading the store
// for a digest the cache does not hold (see AuthenticateGuarded).
func (a *Authenticator) lookup(ctx context.Context, secret string, guard func() error) (*pihu.Key, error) {
	if _, ok := pihu.ParseSecret(secret); !ok {
		return nil, errInvalid
	}
	var digest [32]byte
	copy(digest[:], pihu.Digest(secret))

	a.mu.RLock()
	e, ok := a.cache[digest]
	gen := a.invalidations
	a.mu.RUnlock()
	if ok && a.now().Sub(e.loaded) < a.ttl {
		return e.key, nil
	}
	if !ok && guard != nil {
		if err := guard(); err != nil {
			return nil, err
		}
	}

	k, err := a.store.KeyByDigest(ctx, digest[:])
	if pihu.ErrorCode(err) == pihu.ENotFound {
		return nil, errInvalid
	} else if err != nil {
		return nil, err
	}
	// The store found the key by its digest; compare again in constant
	// time so that no code path ever decides on a variable-time compare.
	if subtle.ConstantTimeCompare(k.Digest, digest[:]) != 1 {
		return nil, errInvalid
	}
	a.put(k, gen)
	return k, nil
}

// put caches k, read from the store while the invalidation count was gen.
func (a *Authenticator) put(k *pihu.Key, gen uint64) {
	var digest [32]byte
	copy(digest[:], k.Digest)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.invalidations != gen {
		// A key changed while this one was read: it may be this one, as
		// it was before the change. Use it for this request only.
		return
	}
	if len(a.cache) >= a.max {
		for d, old := range a.cache { // evict an arbitrary entry
			delete(a.cache, d)
			delete(a.byID, old.key.ID)
			break
		}
	}
	a.cache[digest] = entry{key: k, loaded: a.now()}
	a.byID[k.ID] = digest
}

// Invalidate drops key id from the cache, so that the next request with its
// secret reads the store and sees the change. Call it after any change to
// a key (revocation, rotation, a leak report): it is the one place a
// change reaches the hot path, and where sharing it with other instances
// belongs.
func (a *Authenticator) Invalidate(id string) {
	a.mu.Lock()
	a.invalidations++
	if d, ok := a.byID[id]; ok {
		delete(a.cache, d)
		delete(a.byID, id)
	}
	a.mu.Unlock()
}

// Flush writes the uses recorded since the last flush to the store.
func (a *Authenticator) Flush(ctx context.Context) error {
	a.usageMu.Lock()
	uses := a.usage
	a.usage = make(map[string]time.Time, len(uses))
	a.usageMu.Unlock()
	if len(uses) == 0 {
		return nil
	}
	if err := a.store.TouchKeys(ctx, uses); err != nil {
		// Put the uses back so that the next flush tries again, unless a
		// newer use was recorded meanwhile.
		a.usageMu.Lock()
		for id, t := range uses {
			if cur, ok := a.usage[id]; !ok || cur.Before(t) {
				a.usage[id] = t
			}
		}
		a.usageMu.Unlock()
		return err
	}
	return nil
}

// Run flushes recorded uses every interval until ctx is done, then flushes
// once more with a fresh context so that no use is lost on shutdown.
func (a *Authenticator) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := a.Flush(fctx); err != nil {
				a.logger.Error("flushing last_used on shutdown", "err", err)
			}
			return
		case <-t.C:
			if err := a.Flush(ctx); err != nil {
				a.logger.Error("flushing last_used", "err", err)
			}
		}
	}
}
