package auth

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// model is what the cache must agree with: the keys put and not removed,
// by id, each with its digest. The cache may have evicted some of them, but
// holds nothing else, and what it holds is what was put.
type model map[string]*pihu.Key

// checkCache asserts the cache's own invariants and its agreement with m.
func checkCache(t *testing.T, c *cache, m model, evicted bool) {
	t.Helper()
	live := 0
	for i := range c.n {
		s := c.at(i)
		if s.flags&flagLive == 0 {
			continue
		}
		live++
		k := c.key(s)
		want, ok := m[k.ID]
		if !ok {
			t.Fatalf("slot %d holds %s, which was removed", i, k.ID)
		}
		if k.Name != want.Name || k.AccountID != want.AccountID || k.Environment != want.Environment ||
			strings.Join(perms(k), " ") != strings.Join(perms(want), " ") || s.digest != [32]byte(want.Digest) {
			t.Fatalf("slot %d: got %+v, want %+v", i, k, want)
		}
		if (k.Expires == nil) != (want.Expires == nil) {
			t.Fatalf("slot %d: expires %v, want %v", i, k.Expires, want.Expires)
		}
		if c.find(&s.digest) != i || c.findID(k.ID) != i {
			t.Fatalf("slot %d (%s) not found by its digest (%d) or id (%d)", i, k.ID, c.find(&s.digest), c.findID(k.ID))
		}
	}
	if live != c.live || c.byDigest.n != live || c.byID.n != live || live > c.max {
		t.Fatalf("%d live slots, live %d, indexes %d and %d, max %d", live, c.live, c.byDigest.n, c.byID.n, c.max)
	}
	free := 0
	for i := c.free; i >= 0; i = int32(c.at(i).loaded) {
		if c.at(i).flags&flagLive != 0 || free > int(c.n) {
			t.Fatalf("the free list holds live slot %d, or loops", i)
		}
		free++
	}
	if free+live != int(c.n) {
		t.Fatalf("%d free and %d live slots of %d handed out", free, live, c.n)
	}
	// Nothing shared outlives its keys.
	if n := len(c.accts.items) - len(c.accts.free); n > live {
		t.Fatalf("%d account entries for %d keys", n, live)
	}
	if n := len(c.perms.items) - len(c.perms.free); n > live || len(c.permIdx) > n {
		t.Fatalf("%d permission lists (%d named) for %d keys", n, len(c.permIdx), live)
	}
	if n := len(c.spill.items) - len(c.spill.free); n > 2*live {
		t.Fatalf("%d spilled strings for %d keys", n, live)
	}
	for id, k := range m {
		if !evicted && c.findID(id) < 0 {
			t.Fatalf("%s missing from a cache with room for it", id)
		}
		if got := c.get((*[32]byte)(k.Digest)); got != nil && c.key(got).ID != id {
			t.Fatalf("%s's digest finds %s", id, c.key(got).ID)
		}
	}
}

func perms(k *pihu.Key) []string {
	var out []string
	for _, p := range k.Permissions {
		out = append(out, string(p))
	}
	return out
}

// FuzzCache runs a sequence of puts, removals and lookups read from the
// input against the cache and against a map, and checks after each step
// that the cache holds only what the map does, as it was put, found by
// both indexes, with its free list, shared tables and counts right. Ids,
// names and digests come from small sets so that keys are put again, share
// an id or a digest with another, collide in the indexes' tags, spill
// (long ids and names), and fill small caches (eviction).
func FuzzCache(f *testing.F) {
	f.Add(uint8(3), []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add(uint8(1), []byte{0, 17, 34, 51, 68, 85, 102, 119})
	f.Add(uint8(40), []byte("put some keys, then drop them: the quick brown fox jumps over the lazy dog"))
	f.Add(uint8(2), []byte{0, 0, 0, 64, 64, 128, 128, 192, 192, 1, 65, 129, 193})
	accounts := []*pihu.Account{{ID: "acc_1", Name: "One"}, {ID: "acc_2", Name: "Two"}}
	permSets := []pihu.Permissions{{"candidate:read"}, {"candidate:read", "interview:write"}, nil}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, size uint8, ops []byte) {
		c := newCache(int(size%48) + 1)
		defer c.release()
		m := model{}
		evicted := false // the model held more keys than fit at some point
		for n, op := range ops {
			v := int(op & 0x3f)
			switch op >> 6 {
			case 0, 1: // put key v%24, with one of 4 digests for its secret
				id := "key_" + strings.Repeat(string(rune('a'+v%24)), 22)
				if v%24 == 23 {
					id += "-imported" // spilled
				}
				name := strings.Repeat("n", (v*7+n)%60) // up to 59: some spill
				sum := sha256.Sum256([]byte{byte(v % 24), byte(op >> 6)})
				if v%5 == 0 {
					sum[0], sum[1] = 0, 0 // tags collide too
				}
				k := &pihu.Key{ID: id, Name: name, AccountID: accounts[v%2].ID, Digest: sum[:],
					Permissions: permSets[v%3], Environment: pihu.Live}
				if v%4 == 0 {
					k.Environment = pihu.Test
					exp := now.Add(time.Hour)
					k.Expires = &exp
				}
				for id, other := range m { // put drops what shares its digest or id
					if id == k.ID || string(other.Digest) == string(k.Digest) {
						delete(m, id)
					}
				}
				c.put(k, accounts[v%2], now.UnixNano())
				m[k.ID] = k
				evicted = evicted || len(m) > c.max
			case 2: // drop key v%24
				id := "key_" + strings.Repeat(string(rune('a'+v%24)), 22)
				if v%24 == 23 {
					id += "-imported"
				}
				if i := c.findID(id); i >= 0 {
					c.remove(i)
				}
				delete(m, id)
			case 3: // use every key of the model, setting reference bits
				for _, k := range m {
					if s := c.get((*[32]byte)(k.Digest)); s != nil && v%2 == 0 {
						c.key(s)
					}
				}
			}
			checkCache(t, &c, m, evicted)
		}
	})
}
