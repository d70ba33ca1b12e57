package auth

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/ratelimit"
)

// DefaultCacheSize is how many keys an Authenticator caches unless told
// otherwise: a million keys in use at once take about 200 MB (see
// BENCHMARKS.md), and a key not in the cache costs one indexed read.
const DefaultCacheSize = 1_000_000

// The cache of verified keys keeps, for each key, only what a request
// needs (about 100 bytes, plus its id and name), in slots allocated a
// chunk at a time, so that a million keys are a few hundred allocations
// rather than millions of maps and pointers for the garbage collector to
// walk:
//
//   - found by digest and by id through two maps of 64-bit hashes to slot
//     numbers (the first 8 bytes of the SHA-256 digest, and maphash of the
//     id); a hit is confirmed against the full digest or id kept in the
//     slot, and two keys whose hashes collide simply take turns in the
//     cache;
//   - permission lists are shared between keys that have the same ones,
//     and so is each account, which is cached next to its keys so that
//     whoami and the like need no read;
//   - allowed_ips and the key's own rate limit are parsed once, when the
//     key is read (Rules);
//   - when the cache is full, the key to drop is chosen by CLOCK, the
//     classic approximation of least-recently-used: every hit sets the
//     slot's reference bit (an atomic store under the read lock), and the
//     hand sweeping for a victim clears set bits and takes the first slot
//     whose bit is clear, so a key used since the hand last passed stays.
//     It needs no write lock on a hit, and no list to keep in order.
//
// Everything is guarded by Authenticator.mu: read-locked for lookups,
// write-locked to add, drop or evict, which is also where Invalidate's
// generation is checked.

const (
	chunkBits = 12
	chunkSize = 1 << chunkBits
	// maxInterned bounds the table of shared permission lists; past it
	// each key keeps its own.
	maxInterned = 10_000
)

// slot is one cached key.
type slot struct {
	digest [32]byte
	id     string
	name   string
	perms  *pihu.Permissions // shared with every key that has the same
	acct   *cachedAccount    // shared with the account's other keys
	extra  *extra            // nil: no expiry, not revoked, no rules of its own
	loaded int64             // when it was read from the store, Unix nanoseconds
	used   uint32            // CLOCK's reference bit, set atomically on a hit
	test   bool              // environment test (else live)
	live   bool              // the slot holds a key
}

// extra is what most keys do not have, kept out of the slot so that
// those keys do not pay for it.
type extra struct {
	expires *time.Time
	revoked *time.Time
	rules   *Rules
	// metadata and credits are the key's, as read (the credits tell the
	// handlers that the key is counted, and how it refills; what is left
	// is in the store).
	metadata []byte
	credits  *pihu.Credits
}

// cachedAccount is an account as its cached keys share it.
type cachedAccount struct {
	account *pihu.Account
	loaded  int64 // Unix nanoseconds
	refs    int   // cached keys pointing at it
	stale   bool  // InvalidateAccount dropped it: its keys are read again
}

// Rules are the restrictions of a key of its own, parsed once when the
// key was read, for the checks every request makes.
type Rules struct {
	// AllowedIPs are the key's allowed_ips, parsed; nil means anywhere.
	AllowedIPs []netip.Prefix
	// RateLimit is the key's own rate limit; the zero Limit means the
	// server's default.
	RateLimit ratelimit.Limit
	// err is why the stored rate limit does not parse.
	err error
	// allowed and limit are the stored forms, for the handlers that show
	// or copy them.
	allowed []string
	limit   string
}

// NewRules parses the restrictions of k. A stored rate limit that does not
// parse (only a key written around the API has one) makes Limit return an
// error; an allowed_ips entry that does not parse allows nothing, as for
// pihu.IPAllowed. It returns nil for a key with no restriction of its own.
func NewRules(k *pihu.Key) *Rules {
	if k.AllowedIPs == nil && k.RateLimit == "" {
		return nil
	}
	r := &Rules{allowed: k.AllowedIPs, limit: k.RateLimit}
	if k.AllowedIPs != nil {
		r.AllowedIPs = make([]netip.Prefix, 0, len(k.AllowedIPs))
		for _, s := range k.AllowedIPs {
			if p, ok := parsePrefix(s); ok {
				r.AllowedIPs = append(r.AllowedIPs, p)
			}
		}
	}
	if k.RateLimit != "" {
		l, err := ratelimit.ParseLimit(k.RateLimit, "rate_limit")
		if err != nil {
			r.err = errors.New("key " + k.ID + " has an invalid stored rate limit " + k.RateLimit + ": " + err.Error())
		}
		r.RateLimit = l
	}
	return r
}

// parsePrefix parses a stored allowed_ips entry, which is normalised: an
// address alone or a CIDR range.
func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err == nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// IPAllowed reports whether a request from addr may use the key; like
// pihu.IPAllowed, without parsing the key's list again. A nil Rules allows
// every address.
func (r *Rules) IPAllowed(addr string) bool {
	if r == nil || r.AllowedIPs == nil {
		return true
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range r.AllowedIPs {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Limit is the key's own rate limit, or def if it has none. It returns an
// error if the stored limit does not parse.
func (r *Rules) Limit(def ratelimit.Limit) (ratelimit.Limit, error) {
	switch {
	case r == nil || r.RateLimit == (ratelimit.Limit{}) && r.err == nil:
		return def, nil
	case r.err != nil:
		return def, r.err
	}
	return r.RateLimit, nil
}

// cache is the verified keys; see the comment above.
type cache struct {
	max      int
	chunks   [][]slot
	n        int32   // slots handed out so far
	free     []int32 // slots emptied by Invalidate or a collision
	hand     int32
	byDigest map[uint64]int32
	byID     map[uint64]int32
	seed     maphash.Seed
	accounts map[string]*cachedAccount
	perms    map[string]*pihu.Permissions
}

func newCache(max int) cache {
	return cache{
		max:      max,
		byDigest: make(map[uint64]int32),
		byID:     make(map[uint64]int32),
		seed:     maphash.MakeSeed(),
		accounts: make(map[string]*cachedAccount),
		perms:    make(map[string]*pihu.Permissions),
	}
}

func (c *cache) at(i int32) *slot { return &c.chunks[i>>chunkBits][i&(chunkSize-1)] }

func digestHash(d *[32]byte) uint64 { return binary.LittleEndian.Uint64(d[:8]) }

func (c *cache) idHash(id string) uint64 { return maphash.String(c.seed, id) }

// get returns the slot of digest d, or nil. Read lock.
func (c *cache) get(d *[32]byte) *slot {
	i, ok := c.byDigest[digestHash(d)]
	if !ok {
		return nil
	}
	if s := c.at(i); s.digest == *d {
		return s
	}
	return nil
}

// getID returns the slot of key id, or nil. Read lock.
func (c *cache) getID(id string) *slot {
	i, ok := c.byID[c.idHash(id)]
	if !ok {
		return nil
	}
	if s := c.at(i); s.id == id {
		return s
	}
	return nil
}

// rules returns the rules of the key s holds. Read lock.
func (s *slot) rules() *Rules {
	if s.extra == nil {
		return nil
	}
	return s.extra.rules
}

// key returns the key s holds, as the rest of the server sees keys: a
// fresh copy, so that no request shares memory with a slot that may be
// reused. Read lock.
func (s *slot) key() *pihu.Key {
	atomic.StoreUint32(&s.used, 1)
	env := pihu.Live
	if s.test {
		env = pihu.Test
	}
	k := &pihu.Key{ID: s.id, AccountID: s.acct.account.ID, Name: s.name, Environment: env, Permissions: *s.perms}
	if x := s.extra; x != nil {
		k.Expires, k.Revoked = x.expires, x.revoked
		if x.rules != nil {
			k.RateLimit, k.AllowedIPs = x.rules.limit, x.rules.allowed
		}
		k.Metadata = x.metadata
		if x.credits != nil {
			c := *x.credits
			k.Credits = &c
		}
	}
	return k
}

// put caches k, whose account is acct, read at now, with its rules. Write
// lock.
func (c *cache) put(k *pihu.Key, acct *pihu.Account, rules *Rules, now int64) {
	if c.max <= 0 {
		return
	}
	var d [32]byte
	copy(d[:], k.Digest)
	dh, ih := digestHash(&d), c.idHash(k.ID)
	// The key may be cached already (read again after its TTL), or share
	// a hash with another: its slot is taken over.
	if i, ok := c.byDigest[dh]; ok {
		c.remove(i)
	}
	if i, ok := c.byID[ih]; ok {
		c.remove(i)
	}
	i := c.alloc()
	s := c.at(i)
	*s = slot{
		digest: d, id: k.ID, name: k.Name, perms: c.intern(k.Permissions), acct: c.account(acct, now),
		loaded: now, test: k.Environment == pihu.Test, live: true,
	}
	if k.Expires != nil || k.Revoked != nil || rules != nil || k.Metadata != nil || k.Credits != nil {
		s.extra = &extra{expires: k.Expires, revoked: k.Revoked, rules: rules, metadata: k.Metadata, credits: k.Credits}
	}
	c.byDigest[dh] = i
	c.byID[ih] = i
}

// alloc returns an empty slot: a freed one, a new one, or one taken from
// the key CLOCK picks.
func (c *cache) alloc() int32 {
	if n := len(c.free); n > 0 {
		i := c.free[n-1]
		c.free = c.free[:n-1]
		return i
	}
	if int(c.n) < c.max {
		if int(c.n)>>chunkBits == len(c.chunks) {
			c.chunks = append(c.chunks, make([]slot, min(chunkSize, c.max-int(c.n))))
		}
		c.n++
		return c.n - 1
	}
	for {
		i := c.hand
		c.hand = (c.hand + 1) % c.n
		s := c.at(i)
		if s.live && atomic.LoadUint32(&s.used) == 1 {
			atomic.StoreUint32(&s.used, 0)
			continue
		}
		if s.live {
			c.remove(i)
			c.free = c.free[:len(c.free)-1] // the slot remove freed is this one
		}
		return i
	}
}

// remove empties slot i. Write lock.
func (c *cache) remove(i int32) {
	s := c.at(i)
	if !s.live {
		return
	}
	if j, ok := c.byDigest[digestHash(&s.digest)]; ok && j == i {
		delete(c.byDigest, digestHash(&s.digest))
	}
	if j, ok := c.byID[c.idHash(s.id)]; ok && j == i {
		delete(c.byID, c.idHash(s.id))
	}
	if a := s.acct; a != nil {
		if a.refs--; a.refs == 0 && c.accounts[a.account.ID] == a {
			delete(c.accounts, a.account.ID)
		}
	}
	*s = slot{}
	c.free = append(c.free, i)
}

// account returns the shared entry of acct, made or refreshed by a read at
// now, and counts one more key pointing at it. Write lock.
func (c *cache) account(acct *pihu.Account, now int64) *cachedAccount {
	a := c.accounts[acct.ID]
	if a == nil || a.stale || a.account != acct {
		// A fresh read replaces the entry for the keys read from now on;
		// keys that point at the old one keep it until they are read again.
		a = &cachedAccount{account: acct, loaded: now}
		c.accounts[acct.ID] = a
	}
	a.refs++
	return a
}

// intern returns the shared copy of a permission list.
func (c *cache) intern(p pihu.Permissions) *pihu.Permissions {
	var b strings.Builder
	for _, s := range p {
		b.WriteString(string(s))
		b.WriteByte(' ')
	}
	if shared, ok := c.perms[b.String()]; ok {
		return shared
	}
	cp := append(pihu.Permissions(nil), p...)
	if len(c.perms) < maxInterned {
		c.perms[b.String()] = &cp
	}
	return &cp
}

// accountReader is what an Authenticator needs of a store to cache
// accounts next to their keys; every pihu.Store has it.
type accountReader interface {
	Account(ctx context.Context, id string) (*pihu.Account, error)
}

// accountFor returns the account of a key just read from the store: the
// cached one if it is fresh, else read. Called without the lock.
func (a *Authenticator) accountFor(ctx context.Context, id string) (*pihu.Account, error) {
	now := a.now().UnixNano()
	a.mu.RLock()
	ca := a.c.accounts[id]
	if ca != nil && !ca.stale && now-ca.loaded < int64(a.ttl) {
		acct := ca.account
		a.mu.RUnlock()
		return acct, nil
	}
	a.mu.RUnlock()
	if a.accounts == nil {
		return &pihu.Account{ID: id}, nil
	}
	return a.accounts.Account(ctx, id)
}

// Account returns account id from the cache, where it is as long as one
// of its keys is, and else from the store: whoami and every request that
// needs only its key's account read nothing when the key is warm.
// Returns ENotFound if there is no such account.
func (a *Authenticator) Account(ctx context.Context, id string) (*pihu.Account, error) {
	a.mu.RLock()
	var acct *pihu.Account
	if ca := a.c.accounts[id]; ca != nil && !ca.stale && ca.account.Name != "" {
		acct = ca.account
	}
	a.mu.RUnlock()
	if acct != nil {
		return acct, nil
	}
	if a.accounts == nil {
		return nil, errors.New("auth: the store cannot read accounts")
	}
	return a.accounts.Account(ctx, id)
}

// InvalidateAccount drops account id from the cache, and makes its cached
// keys be read again, with the account, on their next use: call it after
// changing an account (its name), as Invalidate after changing a key.
func (a *Authenticator) InvalidateAccount(id string) {
	a.mu.Lock()
	a.invalidations++
	if ca := a.c.accounts[id]; ca != nil {
		ca.stale = true
		delete(a.c.accounts, id)
	}
	a.mu.Unlock()
}
