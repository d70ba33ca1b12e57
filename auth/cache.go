package auth

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/pihu-ai/pihu"
)

// DefaultCacheSize is how many keys an Authenticator caches unless told
// otherwise: a million keys in use at once take about 160 MB, outside the
// Go heap (see BENCHMARKS.md), and a key not in the cache costs one
// indexed read.
const DefaultCacheSize = 1_000_000

// The cache of verified keys keeps, for each key, only what a request
// needs, in a 128-byte slot holding no Go pointer, and keeps its bulk out
// of the Go heap (see memory: mmap on unix), so that a million keys are
// neither walked by the garbage collector nor doubled by GOGC:
//
//   - slots live in chunks of 4,096; a slot holds the key's SHA-256
//     digest, when it was read, its id and its name as bytes (an id is
//     `key_` and 22 characters; a name of up to 43 bytes fits in the slot,
//     a longer one, or an id of another form, is kept in a small table of
//     strings on the heap, spill), and uint32 numbers into tables on the
//     heap for what keys share or rarely have: the permission lists (one
//     entry for all the keys that have the same), the accounts (cached
//     next to their keys so that whoami and the like need no read) and
//     extra;
//   - keys are found by digest and by id through two open-addressing
//     indexes of hashes to slot numbers, in the same memory (index.go):
//     the first 8 bytes of the digest, and maphash of the id; a hit is
//     confirmed against the full digest or id in the slot;
//   - a key handed out is a copy (key), whose strings are copied out of
//     the slot with it, so that nothing a request holds is overwritten
//     when the slot is reused;
//   - allowed_ips and the key's own rate limit are kept as the store
//     parsed them, once, when it read the key (pihu.RateLimit and
//     pihu.AllowedIPs, values that copies share);
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
	// idInline and nameInline are the longest id and name a slot holds
	// itself; longer ones are spilled (slot.idLen or slot.nameLen is
	// spilled, and the first 4 bytes are the string's number in spill).
	idInline   = 26
	nameInline = 43
	spilled    = 0xff
)

// slot is one cached key. It holds no Go pointer: it lives outside the
// heap.
type slot struct {
	digest [32]byte
	// loaded is when the key was read from the store, Unix nanoseconds;
	// in a free slot, the next free slot.
	loaded  int64
	perms   uint32 // in cache.perms, shared with every key that has the same
	acct    uint32 // in cache.accts, shared with the account's other keys
	extra   uint32 // in cache.extras, plus one; 0: no expiry, not revoked, no restrictions of its own
	used    uint32 // CLOCK's reference bit, set atomically on a hit
	id      [idInline]byte
	name    [nameInline]byte
	idLen   uint8
	nameLen uint8
	flags   uint8 // flagLive, flagTest, flagDisabled
}

const (
	flagLive     = 1 << iota // the slot holds a key
	flagTest                 // environment test (else live)
	flagDisabled             // the key is disabled (pihu.Key.Disabled)
)

// extra is what most keys do not have, kept out of the slot so that
// those keys do not pay for it.
type extra struct {
	expires   *time.Time
	revoked   *time.Time
	rateLimit pihu.RateLimit
	named     pihu.NamedLimits
	allowed   pihu.AllowedIPs
	// metadata and credits are the key's, as read (the credits tell the
	// handlers that the key is counted, and how it refills; what is left
	// is in the store).
	metadata []byte
	credits  *pihu.Credits
	// identity is the key's identity as read with it, and ident its
	// entry in cache.idents, which InvalidateIdentity marks stale.
	identity *pihu.Identity
	ident    *identEntry
}

// identEntry is an identity the cached keys of which are marked stale at
// once when it changes (InvalidateIdentity): they are read again, with
// the identity as it is now, at their next use. An identity changes
// rarely and has few keys, so a read of each of them costs less than
// keeping identities apart from their keys.
type identEntry struct {
	id    string
	refs  int  // cached keys of the identity
	stale bool // InvalidateIdentity dropped it
}

// cachedAccount is an account as its cached keys share it.
type cachedAccount struct {
	account *pihu.Account
	loaded  int64  // Unix nanoseconds
	refs    int    // cached keys pointing at it
	num     uint32 // in cache.accts
	stale   bool   // InvalidateAccount dropped it: its keys are read again
	// roles are the account's roles, shared by every entry of the
	// account (a fresh read of the account keeps them): see roles.go.
	roles *roleTable
}

// sharedPerms is a permission list, and list of role ids, as the cached
// keys that have both share them.
type sharedPerms struct {
	perms pihu.Permissions
	roles []string // the role ids; nil for none
	name  string   // the key of cache.permIndex
	refs  int
	// rights and live are what the keys may do and the roles of roles
	// that exist, as resolved against the account's roles of load
	// generation gen (0: never); see roles.go.
	rights pihu.Permissions
	live   []string
	gen    uint64
}

// cache is the verified keys; see the comment above.
type cache struct {
	max      int
	own      *owner
	chunks   [][]slot
	n        int32 // slots handed out so far
	free     int32 // the first free slot, -1 if none; the others follow through slot.loaded
	hand     int32
	live     int
	byDigest index
	byID     index
	seed     maphash.Seed
	accounts map[string]*cachedAccount // by account id: the entry new keys share
	accts    table[*cachedAccount]
	perms    table[sharedPerms]
	permIdx  map[string]uint32
	extras   table[*extra]
	spill    table[string]
	// idents are the identities of cached keys, by id.
	idents map[string]*identEntry
}

// owner is what a cache's memory is given back with when the cache is
// dropped without release (runtime.AddCleanup).
type owner struct{ mem *memory }

// table is numbered values on the heap, whose numbers are reused once
// freed.
type table[T any] struct {
	items []T
	free  []uint32
}

func (t *table[T]) add(v T) uint32 {
	if n := len(t.free); n > 0 {
		i := t.free[n-1]
		t.free = t.free[:n-1]
		t.items[i] = v
		return i
	}
	t.items = append(t.items, v)
	return uint32(len(t.items) - 1)
}

func (t *table[T]) del(i uint32) {
	var zero T
	t.items[i] = zero
	t.free = append(t.free, i)
}

func newCache(max int) cache {
	own := &owner{mem: newMemory()}
	runtime.AddCleanup(own, (*memory).release, own.mem)
	return cache{
		max:      max,
		own:      own,
		free:     -1,
		byDigest: index{mem: own.mem},
		byID:     index{mem: own.mem},
		seed:     maphash.MakeSeed(),
		accounts: make(map[string]*cachedAccount),
		permIdx:  make(map[string]uint32),
		idents:   make(map[string]*identEntry),
	}
}

// release gives back the cache's memory: nothing may use the cache
// afterwards. Write lock.
func (c *cache) release() { c.own.mem.release() }

func (c *cache) at(i int32) *slot { return &c.chunks[i>>chunkBits][i&(chunkSize-1)] }

func digestHash(d *[32]byte) uint64 { return binary.LittleEndian.Uint64(d[:8]) }

func (c *cache) idHash(id string) uint64 { return maphash.String(c.seed, id) }

// find returns the slot number of digest d, or -1. Read lock.
func (c *cache) find(d *[32]byte) int32 {
	return c.byDigest.find(digestHash(d), func(i int32) bool { return c.at(i).digest == *d })
}

// findID returns the slot number of key id, or -1. Read lock.
func (c *cache) findID(id string) int32 {
	return c.byID.find(c.idHash(id), func(i int32) bool { return c.isID(c.at(i), id) })
}

// get returns the slot of digest d, or nil. Read lock.
func (c *cache) get(d *[32]byte) *slot {
	if i := c.find(d); i >= 0 {
		return c.at(i)
	}
	return nil
}

// getID returns the slot of key id, or nil. Read lock.
func (c *cache) getID(id string) *slot {
	if i := c.findID(id); i >= 0 {
		return c.at(i)
	}
	return nil
}

// isID reports whether s holds key id.
func (c *cache) isID(s *slot, id string) bool {
	if s.idLen == spilled {
		return c.spill.items[spillNum(s.id[:])] == id
	}
	return string(s.id[:s.idLen]) == id
}

// setString stores v in field b of a slot, whose length is *n, or in
// spill if it does not fit. Write lock.
func (c *cache) setString(b []byte, n *uint8, v string) {
	if len(v) <= len(b) {
		*n = uint8(copy(b, v))
		return
	}
	binary.LittleEndian.PutUint32(b, c.spill.add(v))
	*n = spilled
}

func spillNum(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// acct returns the account entry of the key s holds. Read lock.
func (c *cache) acct(s *slot) *cachedAccount { return c.accts.items[s.acct] }

// keyCopy is a key handed out and the bytes of its id and name: one
// allocation.
type keyCopy struct {
	k pihu.Key
	b [idInline + nameInline]byte
}

// key returns the key s holds, as the rest of the server sees keys: a
// fresh copy, strings included, so that no request shares memory with a
// slot that may be reused. Read lock.
func (c *cache) key(s *slot) *pihu.Key {
	atomic.StoreUint32(&s.used, 1)
	kc := &keyCopy{}
	k := &kc.k
	b := kc.b[:0]
	k.ID, b = c.copyString(s.id[:], s.idLen, b)
	k.Name, _ = c.copyString(s.name[:], s.nameLen, b)
	k.AccountID = c.acct(s).account.ID
	k.Environment = pihu.Live
	if s.flags&flagTest != 0 {
		k.Environment = pihu.Test
	}
	k.Disabled = s.flags&flagDisabled != 0
	sp := &c.perms.items[s.perms]
	k.Permissions, k.Roles = sp.perms, sp.roles
	if s.extra != 0 {
		x := c.extras.items[s.extra-1]
		k.Expires, k.Revoked = x.expires, x.revoked
		k.RateLimit, k.RateLimits, k.AllowedIPs = x.rateLimit, x.named, x.allowed
		k.Metadata = x.metadata
		if x.credits != nil {
			cr := *x.credits
			k.Credits = &cr
		}
		k.Identity = x.identity
	}
	return k
}

// copyString returns the string held in field f of a slot, of length n,
// copied to the end of buf (whose capacity it fits in), or the spilled
// string, which nothing changes; and buf with it.
func (c *cache) copyString(f []byte, n uint8, buf []byte) (string, []byte) {
	if n == spilled {
		return c.spill.items[spillNum(f)], buf
	}
	if n == 0 {
		return "", buf
	}
	start := len(buf)
	buf = append(buf, f[:n]...)
	return unsafe.String(&buf[start], int(n)), buf
}

// put caches k, whose account is acct, read at now. Write lock.
func (c *cache) put(k *pihu.Key, acct *pihu.Account, now int64) {
	if c.max <= 0 {
		return
	}
	var d [32]byte
	copy(d[:], k.Digest)
	// The key may be cached already (read again after its TTL): its slot
	// is taken over.
	if i := c.find(&d); i >= 0 {
		c.remove(i)
	}
	if i := c.findID(k.ID); i >= 0 {
		c.remove(i)
	}
	i := c.alloc()
	s := c.at(i)
	*s = slot{digest: d, loaded: now, perms: c.intern(k.Permissions, k.Roles), acct: c.account(acct, now), flags: flagLive}
	if k.Environment == pihu.Test {
		s.flags |= flagTest
	}
	if k.Disabled {
		s.flags |= flagDisabled
	}
	c.setString(s.id[:], &s.idLen, k.ID)
	c.setString(s.name[:], &s.nameLen, k.Name)
	if k.Expires != nil || k.Revoked != nil || !k.RateLimit.IsZero() || k.RateLimits != nil || !k.AllowedIPs.Anywhere() || k.Metadata != nil || k.Credits != nil ||
		k.Identity != nil {
		x := &extra{expires: k.Expires, revoked: k.Revoked, rateLimit: k.RateLimit, named: k.RateLimits, allowed: k.AllowedIPs,
			metadata: k.Metadata, credits: k.Credits, identity: k.Identity}
		if k.Identity != nil {
			x.ident = c.identity(k.Identity.ID)
		}
		s.extra = c.extras.add(x) + 1
	}
	c.byDigest.insert(digestHash(&d), i)
	c.byID.insert(c.idHash(k.ID), i)
	c.live++
}

// expire makes every entry read before at (Unix nanoseconds) count as
// read at at, or earlier if it was: past its TTL if at is a TTL ago, so
// that it is read again at its next use. Write lock.
func (c *cache) expire(at int64) {
	for i := range c.n {
		if s := c.at(i); s.flags&flagLive != 0 && s.loaded > at {
			s.loaded = at
		}
	}
}

// alloc returns an empty slot: a freed one, a new one, or one taken from
// the key CLOCK picks. Write lock.
func (c *cache) alloc() int32 {
	if i := c.free; i >= 0 {
		c.free = int32(c.at(i).loaded)
		return i
	}
	if int(c.n) < c.max {
		if int(c.n)>>chunkBits == len(c.chunks) {
			c.chunks = append(c.chunks, allocSlice[slot](c.own.mem, min(chunkSize, c.max-int(c.n))))
		}
		c.n++
		return c.n - 1
	}
	for {
		i := c.hand
		c.hand = (c.hand + 1) % c.n
		s := c.at(i)
		if atomic.LoadUint32(&s.used) == 1 {
			atomic.StoreUint32(&s.used, 0)
			continue
		}
		// Every slot is live here: the free list is empty.
		c.clear(i)
		return i
	}
}

// remove empties slot i and frees it. Write lock.
func (c *cache) remove(i int32) {
	s := c.at(i)
	if s.flags&flagLive == 0 {
		return
	}
	c.clear(i)
	s.loaded = int64(c.free)
	c.free = i
}

// clear empties slot i, which holds a key, and lets go of what it shared.
// Write lock.
func (c *cache) clear(i int32) {
	s := c.at(i)
	c.byDigest.remove(digestHash(&s.digest), i)
	var id string
	if s.idLen == spilled {
		id = c.spill.items[spillNum(s.id[:])]
		c.spill.del(spillNum(s.id[:]))
	} else {
		id = string(s.id[:s.idLen])
	}
	c.byID.remove(c.idHash(id), i)
	if s.nameLen == spilled {
		c.spill.del(spillNum(s.name[:]))
	}
	a := c.accts.items[s.acct]
	if a.refs--; a.refs == 0 {
		if c.accounts[a.account.ID] == a {
			delete(c.accounts, a.account.ID)
		}
		c.accts.del(s.acct)
	}
	p := &c.perms.items[s.perms]
	if p.refs--; p.refs == 0 {
		delete(c.permIdx, p.name)
		c.perms.del(s.perms)
	}
	if s.extra != 0 {
		if e := c.extras.items[s.extra-1].ident; e != nil {
			if e.refs--; e.refs == 0 && c.idents[e.id] == e {
				delete(c.idents, e.id)
			}
		}
		c.extras.del(s.extra - 1)
	}
	*s = slot{}
	c.live--
}

// identity returns the entry of identity id, made if there is none, and
// counts one more key of it. Write lock.
func (c *cache) identity(id string) *identEntry {
	e := c.idents[id]
	if e == nil {
		e = &identEntry{id: id}
		c.idents[id] = e
	}
	e.refs++
	return e
}

// staleIdentity reports whether the key s holds is of an identity that
// changed since it was read. Read lock.
func (c *cache) staleIdentity(s *slot) bool {
	if s.extra == 0 {
		return false
	}
	e := c.extras.items[s.extra-1].ident
	return e != nil && e.stale
}

// account returns the number of the shared entry of acct, made or
// refreshed by a read at now, and counts one more key pointing at it.
// Write lock.
func (c *cache) account(acct *pihu.Account, now int64) uint32 {
	a := c.accounts[acct.ID]
	if a == nil || a.stale || a.account != acct {
		// A fresh read replaces the entry for the keys read from now on;
		// keys that point at the old one keep it until they are read
		// again. Both share the account's roles.
		roles := &roleTable{}
		if a != nil && !a.stale {
			roles = a.roles
		}
		a = &cachedAccount{account: acct, loaded: now, num: c.accts.add(nil), roles: roles}
		c.accts.items[a.num] = a
		c.accounts[acct.ID] = a
	}
	a.refs++
	return a.num
}

// intern returns the number of the shared copy of a permission list and
// list of role ids, and counts one more key pointing at it. Write lock.
func (c *cache) intern(p pihu.Permissions, roles []string) uint32 {
	name := permsName(p, roles)
	i, ok := c.permIdx[name]
	if !ok {
		sp := sharedPerms{perms: append(pihu.Permissions(nil), p...), name: name}
		if len(roles) > 0 {
			sp.roles = append([]string(nil), roles...)
		}
		i = c.perms.add(sp)
		c.permIdx[name] = i
	}
	c.perms.items[i].refs++
	return i
}

// permsName is the key of cache.permIdx of permissions p and role ids
// roles ("|" is in neither).
func permsName(p pihu.Permissions, roles []string) string {
	var b strings.Builder
	for _, s := range p {
		b.WriteString(string(s))
		b.WriteByte(' ')
	}
	if len(roles) > 0 {
		b.WriteByte('|')
		for _, r := range roles {
			b.WriteString(r)
			b.WriteByte(' ')
		}
	}
	return b.String()
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
