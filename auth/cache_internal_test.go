package auth

import (
	"crypto/sha256"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/pihu-ai/pihu"
)

// TestSlot_Compact keeps a cached key small, and its slot free of Go
// pointers, which the memory it lives in (outside the heap) may not hold:
// with its share of the two indexes, a key takes under 200 bytes (see
// BenchmarkCache_Memory). 128 bytes is also a cache line's multiple: a hit
// touches at most two lines of slot.
func TestSlot_Compact(t *testing.T) {
	if got, want := unsafe.Sizeof(slot{}), uintptr(128); got != want {
		t.Errorf("got %d bytes a slot, want %d", got, want)
	}
	var noPointers func(reflect.Type) bool
	noPointers = func(ty reflect.Type) bool {
		switch ty.Kind() {
		case reflect.Array:
			return noPointers(ty.Elem())
		case reflect.Struct:
			for i := range ty.NumField() {
				if !noPointers(ty.Field(i).Type) {
					return false
				}
			}
			return true
		case reflect.Bool, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int,
			reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint, reflect.Uintptr:
			return true
		}
		return false
	}
	if !noPointers(reflect.TypeFor[slot]()) {
		t.Error("slot holds a pointer, a string or a slice: it cannot live outside the heap")
	}
}

// testKey returns key n of account acct, with a name of nameLen bytes.
func testKey(n, nameLen int) *pihu.Key {
	d := sha256.Sum256([]byte{byte(n), byte(n >> 8)})
	return &pihu.Key{ID: fmt.Sprintf("key_%022d", n), Name: strings.Repeat("x", nameLen), AccountID: "acc_1",
		Digest: d[:], Permissions: pihu.Permissions{"candidate:read"}, Environment: pihu.Live}
}

var testAccount = &pihu.Account{ID: "acc_1", Name: "A"}

// holds returns the numbers of the test keys c holds, of those up to n.
func holds(c *cache, n int) []int {
	var out []int
	for i := range n {
		if c.findID(testKey(i, 0).ID) >= 0 {
			out = append(out, i)
		}
	}
	return out
}

// TestCache_ReusesFreedSpace: the slots, spilled strings and shared
// entries of removed keys are used again, so that a cache whose keys come
// and go does not grow.
func TestCache_ReusesFreedSpace(t *testing.T) {
	c := newCache(100)
	defer c.release()
	for i := range 10 {
		c.put(testKey(i, 50), testAccount, 1) // 50 bytes: spilled
	}
	bytes := c.own.mem.bytes
	for round := range 20 {
		for i := range 10 {
			c.remove(c.findID(testKey(i+round, 0).ID))
		}
		if c.live != 0 || len(c.accounts) != 0 || len(c.permIdx) != 0 {
			t.Fatalf("round %d: %d keys, %d accounts, %d permission lists left", round, c.live, len(c.accounts), len(c.permIdx))
		}
		for i := range 10 {
			c.put(testKey(i+round+1, 50), testAccount, 1)
		}
	}
	if c.n != 10 || len(c.spill.items) != 10 || len(c.accts.items) != 1 || len(c.perms.items) != 1 || c.own.mem.bytes != bytes {
		t.Errorf("got %d slots, %d spilled strings, %d accounts, %d permission lists, %d bytes; want 10, 10, 1, 1, %d",
			c.n, len(c.spill.items), len(c.accts.items), len(c.perms.items), c.own.mem.bytes, bytes)
	}
	k := c.key(c.getID(testKey(25, 0).ID))
	if k.ID != testKey(25, 0).ID || len(k.Name) != 50 || k.AccountID != "acc_1" {
		t.Errorf("a key in a reused slot: got %+v", k)
	}
}

// TestCache_ClockWrapsAround: the CLOCK hand spares the keys used since it
// last passed, clearing their bits, and goes round past the last slot.
func TestCache_ClockWrapsAround(t *testing.T) {
	c := newCache(4)
	defer c.release()
	use := func(ns ...int) {
		for _, n := range ns {
			c.key(c.getID(testKey(n, 0).ID))
		}
	}
	for i := range 4 {
		c.put(testKey(i, 5), testAccount, 1)
	}
	use(0, 1, 2, 3)
	c.put(testKey(4, 5), testAccount, 1) // every bit set: a full turn, then slot 0
	if got := fmt.Sprint(holds(&c, 10)); got != "[1 2 3 4]" {
		t.Fatalf("after a full turn: got %s, want [1 2 3 4]", got)
	}
	use(1, 2)
	c.put(testKey(5, 5), testAccount, 1) // 1 and 2 spared, 3 taken
	if got := fmt.Sprint(holds(&c, 10)); got != "[1 2 4 5]" {
		t.Fatalf("got %s, want [1 2 4 5]", got)
	}
	use(5)
	c.put(testKey(6, 5), testAccount, 1) // past the end: 5 (slot 3) spared, 4 (slot 0) taken
	if got := fmt.Sprint(holds(&c, 10)); got != "[1 2 5 6]" {
		t.Fatalf("after wrapping around: got %s, want [1 2 5 6]", got)
	}
	if c.n != 4 || c.live != 4 || c.byDigest.n != 4 || c.byID.n != 4 {
		t.Errorf("got %d slots, %d live, indexes %d and %d; want 4 each", c.n, c.live, c.byDigest.n, c.byID.n)
	}
}

// TestCache_KeyIsACopy: a key handed out keeps its strings when its slot is
// taken by another key.
func TestCache_KeyIsACopy(t *testing.T) {
	c := newCache(1)
	defer c.release()
	c.put(testKey(1, 10), testAccount, 1)
	k := c.key(c.getID(testKey(1, 0).ID))
	c.put(testKey(2, 20), testAccount, 1) // evicts key 1, same slot
	if k.ID != testKey(1, 0).ID || k.Name != strings.Repeat("x", 10) {
		t.Errorf("got %q %q after the slot was reused", k.ID, k.Name)
	}
}
