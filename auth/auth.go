// Package auth is the hot path of every API request: it turns a bearer
// secret into a verified key without touching the database when warm, and
// records key use in batches off the request path: when each key was last
// used, and how many requests each key made each hour, allowed and refused.
//
// Verified keys are cached in process by the SHA-256 of their secret. A
// cached entry is trusted for at most TTL, after which it is read again, so
// that a change made by another process is seen within TTL; a revocation
// made through this process is seen at once (Invalidate). Expiry is checked
// against the clock on every request, cached or not. Each key's account is
// cached next to it (Account, InvalidateAccount), and a cached key keeps
// only what a request needs, in about 200 bytes; see cache.go.
//
// With several instances, Options.Invalidations carries every Invalidate
// to the others, which drop the key too; while that channel is down, the
// cache trusts an entry for UnsubscribedTTL only.
//
// When the store cannot be reached (pihu.EUnavailable), a key whose entry
// is past its TTL is answered from the cache, stale, for up to
// Options.StaleIfError more, the way HTTP caches do stale-if-error: the
// known keys keep working through a database outage, while unknown keys
// still need the store. Invalidations still apply to stale entries, and a
// stale entry is read again at its next use once the store answers.
package auth

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pihu-ai/pihu"
)

// Authenticator verifies secrets. It is safe for concurrent use.
type Authenticator struct {
	store  pihu.KeyStore
	counts pihu.UsageStore // nil: requests are not counted
	tokens *Tokens         // nil: API keys only
	now    func() time.Time
	ttl    time.Duration
	logger *slog.Logger
	obs    Observer
	// staleIfError is how long past its TTL an entry may answer while
	// the store is unavailable; 0: never.
	staleIfError time.Duration
	// stale counts the stale answers of the outage under way, and
	// staling is whether one is under way (a stale answer given since the
	// store last answered), for one log line when it starts and one when
	// it ends.
	stale   atomic.Int64
	staling atomic.Bool

	// inv, if not nil, shares invalidations with other instances;
	// subscribed is whether this one hears theirs, and while it does not,
	// entries are trusted for shortTTL only.
	inv            Invalidations
	shortTTL       time.Duration
	subscribed     atomic.Bool
	publishFailing atomic.Bool

	// accounts reads the accounts cached next to their keys; nil if the
	// store cannot (then Account fails). roles reads the roles of the
	// accounts whose cached keys hold roles (see roles.go).
	accounts accountReader
	roles    roleReader

	mu sync.RWMutex
	c  cache
	// invalidations counts calls to Invalidate. A key read from the store
	// is cached only if none happened during the read, so that a read
	// that raced a revocation cannot put the key back for a whole TTL.
	invalidations uint64
	// roleEpoch does the same for the roles of accounts (InvalidateRoles),
	// and roleLoads numbers the tables of roles read (roleTable.gen).
	roleEpoch, roleLoads uint64

	// neg remembers, for a TTL, the digests of secrets of another shape
	// than pihu's (candidates for imported keys) that the store did not
	// know: see lookup. Any invalidation empties it.
	negMu sync.Mutex
	neg   map[[32]byte]int64

	// flushMu is held by Flush from taking the recorded uses until the
	// store has them, and by Usage while it reads the store and the
	// counts not yet flushed, so that Usage counts every request once.
	flushMu sync.Mutex

	// usageMu guards what is recorded for the next flush: the last use of
	// each key, and the requests of each key and hour.
	usageMu sync.Mutex
	usage   map[string]time.Time
	hourly  map[hourKey]tally

	// reqlog is the request log not yet flushed (see LogRequest).
	reqlog *requestLog
}

// hourKey names the requests of one key in one hour: Unix seconds of the
// hour's start.
type hourKey struct {
	id   string
	hour int64
}

// tally is the requests of one key in one hour: allowed, and refused by
// reason.
type tally struct {
	allowed int64
	by      pihu.Refusals
}

func (t tally) add(o tally) tally {
	t.allowed += o.allowed
	t.by.Add(o.by)
	return t
}

// count is t as a count of key id in hour.
func (t tally) count(id string, hour int64) pihu.UsageCount {
	return pihu.UsageCount{KeyID: id, Hour: time.Unix(hour, 0).UTC(), Allowed: t.allowed, Refused: t.by.Sum(), By: t.by}
}

// Options configure an Authenticator; zero values take the defaults.
type Options struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// TTL is how long a cached key is trusted before it is read again
	// (default 30 s).
	TTL time.Duration
	// MaxEntries bounds the cache (default DefaultCacheSize keys); when
	// it is full, a key that has not been used lately makes room. A
	// negative value caches nothing.
	MaxEntries int
	// Logger receives flush failures (default slog.Default()).
	Logger *slog.Logger
	// Usage receives the hourly request counts (CountAllowed,
	// CountRefused) at each Flush, and answers Usage (default: the store
	// given to New, if it is a pihu.UsageStore, as every pihu.Store is;
	// if neither, requests are not counted).
	Usage pihu.UsageStore
	// RequestLog receives the request log's entries (LogRequest) at each
	// Flush (default: the store given to New, if it is a
	// pihu.RequestLogStore, as every pihu.Store is). NoRequestLog keeps
	// no request log.
	RequestLog   pihu.RequestLogStore
	NoRequestLog bool
	// RequestLogRate and RequestLogBurst are each account's budget of
	// entries: RequestLogRate a second (default DefaultRequestLogRate),
	// RequestLogBurst at once (default DefaultRequestLogBurst). The
	// entries over it are left out, and counted (see LogRequest).
	RequestLogRate  float64
	RequestLogBurst int
	// Tokens, if not nil, verifies access tokens, which are then accepted
	// wherever a key is (see AuthenticateGuarded).
	Tokens *Tokens
	// Invalidations, if set, carries Invalidate to the other instances
	// sharing the store, and theirs to this one (see Listen). Nil: a
	// change made elsewhere is seen within TTL.
	Invalidations Invalidations
	// UnsubscribedTTL is how long a cached key is trusted while
	// Invalidations is set but this instance does not hear the others
	// (before Listen has subscribed, or after the subscription was lost):
	// the bound on how long a change made elsewhere can go unseen then
	// (default 1 s).
	UnsubscribedTTL time.Duration
	// Observer, if not nil, is told of cache hits and misses and of
	// flushes, for metrics.
	Observer Observer
	// StaleIfError is how long past its TTL a cached key keeps working
	// while the store is unavailable (its reads fail with
	// pihu.EUnavailable): a key verified before a database outage keeps
	// authenticating for up to TTL + StaleIfError from when it was last
	// read. Zero (the default) or less: never; a key past its TTL then
	// fails with the store.
	StaleIfError time.Duration
}

// Invalidations carries the invalidations of keys between the instances
// that share one store (Redis pub/sub in package redisbus), so that a key
// revoked or changed through one instance is refused by every other one
// at once, even where it is cached; and so do the invalidations of an
// account's roles (InvalidateRoles). Implementations are safe for
// concurrent use.
type Invalidations interface {
	// Publish tells every instance, this one included, that what msg
	// names changed: the id of a key, "roles:" and the id of an
	// account whose roles changed, or "identity:" and the id of an
	// identity that changed. It returns an error if the message
	// could not be sent.
	Publish(ctx context.Context, msg string) error
	// Subscribe calls invalidated with every message published by any
	// instance, until ctx is done. It calls connected(true) each time
	// the subscription is made (again), from when every later publication
	// reaches invalidated, and connected(false) when it is lost (messages
	// published until it is made again may never arrive); it reconnects
	// by itself. Both are called from one goroutine, one call at a time.
	Subscribe(ctx context.Context, invalidated func(keyID string), connected func(up bool))
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
		opts.MaxEntries = DefaultCacheSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Usage == nil {
		opts.Usage, _ = store.(pihu.UsageStore)
	}
	if opts.UnsubscribedTTL <= 0 {
		opts.UnsubscribedTTL = time.Second
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	if opts.RequestLog == nil {
		opts.RequestLog, _ = store.(pihu.RequestLogStore)
	}
	if opts.NoRequestLog {
		opts.RequestLog = nil
	}
	accounts, _ := store.(accountReader)
	roles, _ := store.(roleReader)
	return &Authenticator{
		store:    store,
		accounts: accounts,
		roles:    roles,
		counts:   opts.Usage,
		tokens:   opts.Tokens,
		now:      opts.Now,
		ttl:      opts.TTL,
		logger:   opts.Logger,
		c:        newCache(opts.MaxEntries),
		obs:      opts.Observer,
		inv:      opts.Invalidations,
		shortTTL: min(opts.UnsubscribedTTL, opts.TTL),

		staleIfError: max(opts.StaleIfError, 0),
		usage:        make(map[string]time.Time),
		hourly:       make(map[hourKey]tally),
		reqlog:       newRequestLog(opts.RequestLog, opts.RequestLogRate, opts.RequestLogBurst, 0),
	}
}

// Authenticate returns the key whose secret is given, and records its use.
// Returns EInvalidAPIKey for a malformed or unknown secret, EExpiredAPIKey
// or ERevokedAPIKey for one that no longer works, EDisabledAPIKey for a
// disabled one (see Active). Any other error is the store's.
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
	if token, err := a.IsToken(ctx, secret, guard); err != nil {
		return nil, err
	} else if token {
		return a.authenticateToken(ctx, secret, guard)
	}
	now := a.now()
	k, err := a.lookup(ctx, secret, now, guard)
	if err != nil {
		return nil, err
	}
	if err := a.active(k, now, false); err != nil {
		return nil, err
	}
	a.recordUse(k.ID, now)
	return k, nil
}

// Active returns nil if key k works now, and else the refusal every door
// gives it, from pihu.Key.Active, the one rule: ERevokedAPIKey,
// EExpiredAPIKey or EDisabledAPIKey. A disabled key's refusal is counted
// in its usage, as refused (a revoked or expired key's is not): its owner
// sees who still uses it before enabling it again or revoking it. The
// doors that check a key given some other way than as their bearer
// credential (POST /v1/auth/verify) call it; Authenticate does for the
// others.
func (a *Authenticator) Active(k *pihu.Key) error {
	return a.active(k, a.now(), false)
}

// active is Active at now; token words the refusal for an access token
// minted from k rather than for k itself.
func (a *Authenticator) active(k *pihu.Key, now time.Time, token bool) error {
	ok, code := k.Active(now)
	if ok {
		return nil
	}
	if code == pihu.EDisabledAPIKey {
		a.CountRefused(k, pihu.RefusalDisabled)
	}
	if token {
		return &pihu.Error{Code: code, Message: tokenParentMessage(k, code)}
	}
	return &pihu.Error{Code: code, Message: activeMessage(k, code)}
}

// IsToken reports whether secret is to be read as an access token rather
// than as a key's secret, the same way on every door: when it has a JWT's
// shape (pihu.LooksLikeToken), a takes tokens, and it is not the
// secret of a key. An imported key's secret may have any shape, two dots
// included (pihu.ImportableSecret); so a token-shaped secret that could
// be one is looked up as a key first (from the cache when it holds it),
// and only one that no key has is a token. Tokens pihu issues are longer
// than any imported secret, so they are never looked up. guard is as for
// AuthenticateGuarded; its error, or the store's, is returned.
func (a *Authenticator) IsToken(ctx context.Context, secret string, guard func() error) (bool, error) {
	if a.tokens == nil || !pihu.LooksLikeToken(secret) {
		return false, nil
	}
	if !pihu.ImportableSecret(secret) {
		return true, nil
	}
	_, err := a.lookup(ctx, secret, a.now(), guard)
	switch code := pihu.ErrorCode(err); {
	case err == nil:
		return false, nil
	case code == pihu.EInvalidAPIKey:
		return true, nil
	default:
		return false, err
	}
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

// CountAllowed counts one request of key k, now, that was let through
// (whatever the handler then answered); it reaches the store with the next
// Flush. It costs a lock and a map update, and allocates nothing once k
// has been counted in the current hour.
func (a *Authenticator) CountAllowed(k *pihu.Key) { a.count(k.ID, false, 0) }

// CountRefused counts one request of key k, now, that was refused after
// the key was recognised: an address outside its allowed_ips, its rate
// limit spent, a permission it lacks, its credits used up; why is kept.
func (a *Authenticator) CountRefused(k *pihu.Key, why pihu.Refusal) { a.count(k.ID, true, why) }

func (a *Authenticator) count(id string, refused bool, why pihu.Refusal) {
	if a.counts == nil {
		return
	}
	hk := hourKey{id: id, hour: hourOf(a.now())}
	a.usageMu.Lock()
	t := a.hourly[hk]
	if refused {
		t.by[why]++
	} else {
		t.allowed++
	}
	a.hourly[hk] = t
	a.usageMu.Unlock()
}

// hourOf is the Unix second the hour of t starts at.
func hourOf(t time.Time) int64 {
	s := t.Unix()
	return s - ((s%3600)+3600)%3600
}

// activeMessage is the message of the refusal code of key k, to the one
// who holds it.
func activeMessage(k *pihu.Key, code string) string {
	switch code {
	case pihu.ERevokedAPIKey:
		return "This API key has been revoked. Create a new key in the dashboard or with POST /v1/auth/api-keys."
	case pihu.EDisabledAPIKey:
		return "This API key is disabled. An admin can enable it again with PATCH /v1/auth/api-keys/" + k.ID + ` and {"enabled": true}, or in the dashboard.`
	}
	return "This API key has expired. Create a new key in the dashboard or with POST /v1/auth/api-keys."
}

// tokenParentMessage is the message of the refusal code of key k to an
// access token minted from it: a token dies with its key, and is disabled
// with it.
func tokenParentMessage(k *pihu.Key, code string) string {
	switch code {
	case pihu.ERevokedAPIKey:
		return "The API key this access token was minted with has been revoked, and its tokens with it. Mint a token with a key that works."
	case pihu.EDisabledAPIKey:
		return "The API key this access token was minted with is disabled, and its tokens with it. An admin can enable it again with PATCH /v1/auth/api-keys/" + k.ID + ` and {"enabled": true}, or in the dashboard.`
	}
	return "The API key this access token was minted with has expired, and its tokens with it. Mint a token with a key that works."
}

// maxSecret is the length of the longest secret that may be a key: the
// longest key pihu makes (ParseSecret) or imports (ImportableSecret).
const maxSecret = max(len("ph_live_")+256, pihu.MaxImportedSecret)

var errInvalid = pihu.Errorf(pihu.EInvalidAPIKey, "The API key is not valid. Check that you copied the whole key, starting with ph_live_ or ph_test_.")

// Lookup returns the key whose secret is given, whatever its state
// (revoked and expired keys included), from the cache when it can. Returns
// EInvalidAPIKey for a malformed or unknown secret.
func (a *Authenticator) Lookup(ctx context.Context, secret string) (*pihu.Key, error) {
	return a.lookup(ctx, secret, a.now(), nil)
}

// fresh reports whether slot s may be used at now without reading the
// store again. Read lock.
func (a *Authenticator) fresh(s *slot, now int64) bool {
	return now-s.loaded < int64(a.ttlNow()) && !a.c.acct(s).stale && !a.c.staleIdentity(s)
}

// lookup is Lookup at time at; guard, if not nil,
// is asked before reading the store for a digest the cache does not hold
// (see AuthenticateGuarded).
func (a *Authenticator) lookup(ctx context.Context, secret string, at time.Time, guard func() error) (*pihu.Key, error) {
	if len(secret) > maxSecret {
		return nil, errInvalid
	}
	// The digest first: a key in the cache is known well-formed (its
	// digest is a stored key's), so its shape and checksum need no check.
	var buf [maxSecret]byte
	digest := sha256.Sum256(buf[:copy(buf[:], secret)])

	now := at.UnixNano()
	a.mu.RLock()
	s := a.c.get(&digest)
	if s != nil && a.fresh(s, now) {
		k := a.c.key(s)
		resolved := a.rightsOf(s, k, now)
		a.mu.RUnlock()
		a.obs.CacheHit()
		return a.withRights(ctx, k, resolved)
	}
	gen := a.invalidations
	a.mu.RUnlock()
	a.obs.CacheMiss()
	return a.miss(ctx, secret, digest, s == nil, now, gen, guard)
}

// miss is lookup for a secret of SHA-256 digest that the cache holds not
// (uncached), or not fresh: it reads the store, while the invalidation
// count is gen, and caches what it finds. The digest is passed by value,
// so that only a miss moves it to the heap.
func (a *Authenticator) miss(ctx context.Context, secret string, digest [32]byte, uncached bool, now int64, gen uint64, guard func() error) (*pihu.Key, error) {
	_, shaped := pihu.ParseSecret(secret)
	if !shaped && !pihu.ImportableSecret(secret) {
		return nil, errInvalid
	}
	if uncached && !shaped && a.unknown(&digest, now) {
		// A secret of another shape than pihu's can only be an imported
		// key's; one that was unknown a moment ago is still unknown.
		return nil, errInvalid
	}
	if uncached && guard != nil {
		if err := guard(); err != nil {
			return nil, err
		}
	}

	k, err := a.store.KeyByDigest(ctx, digest[:])
	if pihu.ErrorCode(err) == pihu.ENotFound {
		a.storeAnswered()
		if !shaped {
			a.remember(&digest, now, gen)
		}
		return nil, errInvalid
	} else if err != nil {
		return a.staleOr(ctx, func() *slot { return a.c.get(&digest) }, now, err)
	}
	// The store found the key by its digest; compare again in constant
	// time so that no code path ever decides on a variable-time compare.
	if subtle.ConstantTimeCompare(k.Digest, digest[:]) != 1 {
		return nil, errInvalid
	}
	if err := a.put(ctx, k, gen); err != nil {
		return a.staleOr(ctx, func() *slot { return a.c.get(&digest) }, now, err)
	}
	a.storeAnswered()
	return a.withRights(ctx, k, false)
}

// staleOr answers a lookup whose read of the store failed with err: from
// the cache entry find returns (called under the read lock), stale, if
// err is the store's unavailability and the entry is within StaleIfError
// past its TTL; else with err.
func (a *Authenticator) staleOr(ctx context.Context, find func() *slot, now int64, err error) (*pihu.Key, error) {
	if a.staleIfError <= 0 || pihu.ErrorCode(err) != pihu.EUnavailable {
		return nil, err
	}
	a.mu.RLock()
	s := find()
	if s == nil || now-s.loaded >= int64(a.ttl+a.staleIfError) {
		a.mu.RUnlock()
		return nil, err
	}
	k := a.c.key(s)
	resolved := a.rightsOf(s, k, now)
	a.mu.RUnlock()
	a.obs.StaleHit()
	a.stale.Add(1)
	if a.staling.CompareAndSwap(false, true) {
		a.logger.Warn("the store is unavailable: keys already verified are answered from the cache, for up to stale-if-error past their TTL; unknown keys get 503",
			"stale_if_error", a.staleIfError, "err", err)
	}
	return a.withRights(ctx, k, resolved)
}

// storeAnswered records that the store answered a read: an outage during
// which stale answers were given is over (logged once, with their count).
func (a *Authenticator) storeAnswered() {
	if a.staling.Load() && a.staling.CompareAndSwap(true, false) {
		a.logger.Info("the store answers again: cached keys are read again at their next use", "stale_answers", a.stale.Swap(0))
	}
}

// put caches k, read from the store while the invalidation count was gen,
// with its account (read too if the cache has it not, or not fresh).
func (a *Authenticator) put(ctx context.Context, k *pihu.Key, gen uint64) error {
	acct, err := a.accountFor(ctx, k.AccountID)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.invalidations != gen {
		// A key changed while this one was read: it may be this one, as
		// it was before the change. Use it for this request only.
		return nil
	}
	a.c.put(k, acct, a.now().UnixNano())
	return nil
}

// ttlNow is how long a cache entry is trusted: TTL, or UnsubscribedTTL
// while invalidations from other instances may be missed.
func (a *Authenticator) ttlNow() time.Duration {
	if a.inv != nil && !a.subscribed.Load() {
		return a.shortTTL
	}
	return a.ttl
}

// Invalidate drops key id from the cache, so that the next request with its
// secret reads the store and sees the change, and, with
// Options.Invalidations, tells the other instances to drop it too (waiting
// at most 250 ms for that; a failure is logged, and the others then see
// the change within their TTL). Call it after any change to a key
// (revocation, rotation, a leak report): it is the one place a change
// reaches the hot path.
func (a *Authenticator) Invalidate(id string) {
	a.drop(id)
	a.publish(id)
}

// publish sends msg (a key id, or rolesMessage and an account id) to the
// other instances with Options.Invalidations, waiting at most 250 ms.
func (a *Authenticator) publish(msg string) {
	if a.inv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	if err := a.inv.Publish(ctx, msg); err != nil {
		// Logged once until a publication succeeds or the subscription
		// is back: a cascade of many keys during an outage is one line.
		if a.publishFailing.CompareAndSwap(false, true) {
			a.logger.Warn("could not tell the other instances that a key or role changed: until the subscription is up again, they see such changes only when their cache entries end (30 s at most)",
				"changed", msg, "err", err)
		}
		return
	}
	a.publishFailing.Store(false)
}

// Listen drops the keys other instances invalidate from the cache, until
// ctx is done; it does nothing without Options.Invalidations. Each time
// the subscription is made (again) every cached key is read again at its
// next use, since the invalidations published while it was down are lost
// (while the store is unavailable, such a key may still answer stale,
// within StaleIfError); while it is down, entries are trusted for
// UnsubscribedTTL only.
func (a *Authenticator) Listen(ctx context.Context) {
	if a.inv == nil {
		return
	}
	a.inv.Subscribe(ctx, a.heard, a.setSubscribed)
}

// StaleIfError is how long past its TTL a cached key answers while the
// store is unavailable (Options.StaleIfError); 0: never.
func (a *Authenticator) StaleIfError() time.Duration { return a.staleIfError }

// Subscribed reports whether this Authenticator hears the invalidations of
// other instances: true once Listen has subscribed and while the
// subscription holds, and always true without Options.Invalidations.
func (a *Authenticator) Subscribed() bool { return a.inv == nil || a.subscribed.Load() }

func (a *Authenticator) setSubscribed(up bool) {
	if up {
		// Entries cached while the subscription was down may have missed
		// an invalidation; nothing is missed from now on. Each is read
		// again at its next use; while the store cannot be read, it may
		// still answer stale, within StaleIfError past its TTL.
		a.mu.Lock()
		a.invalidations++
		at := a.now().UnixNano() - int64(a.ttl)
		a.c.expire(at)
		a.expireRoles(at)
		a.mu.Unlock()
		a.negMu.Lock()
		clear(a.neg)
		a.negMu.Unlock()
		a.publishFailing.Store(false)
	}
	a.subscribed.Store(up)
}

// drop removes key id from the cache, and forgets every secret known to
// be unknown: the change may be an import.
func (a *Authenticator) drop(id string) {
	a.mu.Lock()
	a.invalidations++
	if i := a.c.findID(id); i >= 0 {
		a.c.remove(i)
	}
	a.mu.Unlock()
	a.negMu.Lock()
	clear(a.neg)
	a.negMu.Unlock()
}

// maxNegative bounds the secrets remembered as unknown; past it the
// memory starts again, empty.
const maxNegative = 10_000

// unknown reports whether a secret of another shape than pihu's, with
// SHA-256 d, was looked up and not found within the TTL before now.
func (a *Authenticator) unknown(d *[32]byte, now int64) bool {
	a.negMu.Lock()
	defer a.negMu.Unlock()
	at, ok := a.neg[*d]
	return ok && now-at < int64(a.ttlNow())
}

// remember records that the secret of SHA-256 d was looked up at now and
// not found, so that the same guess sent again reads nothing for a TTL;
// unless an invalidation (an import, perhaps of this secret) happened
// since the read began, when the invalidation count was gen. The check is
// made holding negMu, which drop takes after counting its invalidation:
// either this sees the new count, or drop's clearing comes after this.
func (a *Authenticator) remember(d *[32]byte, now int64, gen uint64) {
	a.negMu.Lock()
	defer a.negMu.Unlock()
	a.mu.RLock()
	changed := a.invalidations != gen
	a.mu.RUnlock()
	if changed {
		return
	}
	if a.neg == nil || len(a.neg) >= maxNegative {
		a.neg = make(map[[32]byte]int64)
	}
	a.neg[*d] = now
}

// Flush writes the uses recorded since the last flush to the store: the
// last use of each key (TouchKeys), the requests counted per key and hour
// (AddUsage) and the request log's entries (AppendRequestLog), one store
// call each. What a call fails to write is kept for
// the next flush.
func (a *Authenticator) Flush(ctx context.Context) error {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	err := errors.Join(a.flushUses(ctx), a.flushCounts(ctx), a.flushRequestLog(ctx))
	a.obs.Flushed(err)
	return err
}

func (a *Authenticator) flushUses(ctx context.Context) error {
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

func (a *Authenticator) flushCounts(ctx context.Context) error {
	if a.counts == nil {
		return nil
	}
	a.usageMu.Lock()
	hourly := a.hourly
	// As many entries as the last batch, so that the keys in use now are
	// counted into the new map without it growing on the request path.
	a.hourly = make(map[hourKey]tally, len(hourly))
	a.usageMu.Unlock()
	if len(hourly) == 0 {
		return nil
	}
	counts := make([]pihu.UsageCount, 0, len(hourly))
	for hk, t := range hourly {
		counts = append(counts, t.count(hk.id, hk.hour))
	}
	now := a.now()
	if err := a.counts.AddUsage(ctx, counts, now); err != nil {
		// Add the counts back for the next flush, except those of hours
		// the store would no longer keep, so that an outage of the store
		// holds at most UsageRetention of counts in memory.
		oldest := hourOf(now.Add(-pihu.UsageRetention))
		a.usageMu.Lock()
		for hk, t := range hourly {
			if hk.hour < oldest {
				continue
			}
			cur := a.hourly[hk]
			a.hourly[hk] = cur.add(t)
		}
		a.usageMu.Unlock()
		return err
	}
	return nil
}

// Usage returns the hourly counts of key keyID of account accountID, as
// pihu.UsageStore.Usage does, with the requests counted since the last
// flush added: a request shows in its key's usage as soon as it is
// counted. (With several instances, another instance's requests show after
// its next flush.) Returns ENotFound if the key does not exist or belongs
// to another account, and an error if the Authenticator has no UsageStore.
func (a *Authenticator) Usage(ctx context.Context, accountID, keyID string, from, to time.Time) ([]pihu.UsageCount, error) {
	if a.counts == nil {
		return nil, errors.New("auth: no pihu.UsageStore to read usage from")
	}
	// Holding flushMu, no flush is between taking the counts from memory
	// and the store having them: each count is in exactly one of the two.
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	stored, err := a.counts.Usage(ctx, accountID, keyID, from, to)
	if err != nil {
		return nil, err
	}
	byHour := make(map[int64]pihu.UsageCount, len(stored))
	for _, c := range stored {
		byHour[c.Hour.Unix()] = c
	}
	lo, hi := from.Unix(), to.Unix()
	add := func(hour int64, t tally) {
		c, ok := byHour[hour]
		if !ok {
			c = pihu.UsageCount{KeyID: keyID, Hour: time.Unix(hour, 0).UTC()}
		}
		c.Add(t.count(keyID, hour))
		byHour[hour] = c
	}
	a.usageMu.Lock()
	// Whichever is shorter: the hours asked for, or the counts pending.
	if first := hourOf(from); (hi-first)/3600 < int64(len(a.hourly)) {
		for h := first; h < hi; h += 3600 {
			if t, ok := a.hourly[hourKey{id: keyID, hour: h}]; ok && h >= lo {
				add(h, t)
			}
		}
	} else {
		for hk, t := range a.hourly {
			if hk.id == keyID && hk.hour >= lo && hk.hour < hi {
				add(hk.hour, t)
			}
		}
	}
	a.usageMu.Unlock()
	out := make([]pihu.UsageCount, 0, len(byHour))
	for _, c := range byHour {
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y pihu.UsageCount) int { return cmp.Compare(x.Hour.Unix(), y.Hour.Unix()) })
	return out, nil
}

// Run flushes recorded uses every interval until ctx is done, then flushes
// once more with a fresh context so that no use is lost on shutdown. A
// flush that fails is logged when it is the first to fail, and the first
// that succeeds after failures is logged with their count: one line when
// the store goes, one when it is back, however long the outage.
func (a *Authenticator) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failed := 0
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := a.Flush(fctx); err != nil {
				a.logger.Error("flushing key uses on shutdown", "err", err)
			}
			return
		case <-t.C:
			err := a.Flush(ctx)
			switch {
			case err != nil && failed == 0:
				a.logger.Error("flushing key uses failed: they are kept in memory and written at the first flush that succeeds", "err", err)
			case err == nil && failed > 0:
				a.logger.Info("flushing key uses works again: what was kept is written", "failed_flushes", failed)
			}
			if err != nil {
				failed++
			} else {
				failed = 0
			}
		}
	}
}
