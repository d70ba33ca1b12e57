package auth

import (
	"testing"
)

// checkIndex asserts what index's lookups rely on: every entry sits at its
// home or after it with no empty entry in between, and n counts them.
func checkIndex(t *testing.T, x *index) {
	t.Helper()
	mask := uint32(len(x.tab) - 1)
	n := 0
	for p, e := range x.tab {
		if e == 0 {
			continue
		}
		n++
		for q := uint32(e>>32) & mask; q != uint32(p); q = (q + 1) & mask {
			if x.tab[q] == 0 {
				t.Fatalf("entry %#x at %d: empty entry at %d between it and its home", e, p, q)
			}
		}
	}
	if n != x.n {
		t.Fatalf("got %d entries, n says %d", n, x.n)
	}
}

// TestIndex_Grows: an index doubles as it fills, keeping every entry.
func TestIndex_Grows(t *testing.T) {
	mem := newMemory()
	defer mem.release()
	x := index{mem: mem}
	const n = 5000
	h := func(i int32) uint64 { return uint64(i) * 0x9e3779b97f4a7c15 }
	for i := range int32(n) {
		x.insert(h(i), i)
	}
	checkIndex(t, &x)
	if len(x.tab) != 8192 || x.n != n {
		t.Errorf("got a table of %d for %d entries, want 8192 (at most three quarters full)", len(x.tab), x.n)
	}
	for i := range int32(n) {
		if got := x.find(h(i), func(j int32) bool { return j == i }); got != i {
			t.Fatalf("find %d: got %d", i, got)
		}
	}
	if got := x.find(h(n), func(int32) bool { return true }); got != -1 {
		t.Errorf("a hash never inserted: got %d, want -1", got)
	}
	if mem.bytes != 8192*8 {
		t.Errorf("memory held: got %d bytes, want only the current table's %d", mem.bytes, 8192*8)
	}
}

// TestIndex_CollisionsAndBackwardShift: entries with the same tag (the
// same home), or homes next to each other, form one cluster; deleting from
// its middle and across the end of the table (wrap-around) shifts the rest
// back, leaves no tombstone, and every other entry is still found.
func TestIndex_CollisionsAndBackwardShift(t *testing.T) {
	mem := newMemory()
	defer mem.release()
	x := index{mem: mem}
	x.insert(0, 0) // make the table: 512 entries
	x.remove(0, 0)
	last := uint64(len(x.tab) - 1)
	// Homes: slots 1-4 at the last entry (the same tag: full collisions),
	// 5-6 at entry 0, 7 at entry 1: the cluster wraps around.
	hashes := map[int32]uint64{1: last, 2: last, 3: last, 4: last, 5: 0, 6: 0, 7: 1}
	for i := int32(1); i <= 7; i++ {
		x.insert(hashes[i], i)
	}
	checkIndex(t, &x)
	if x.tab[last] != entry(uint32(last), 1) || x.tab[0] != entry(uint32(last), 2) {
		t.Fatalf("the cluster does not wrap around: %#x %#x", x.tab[last], x.tab[0])
	}
	// Same tag: the caller's eq picks among them.
	if got := x.find(last, func(i int32) bool { return i == 3 }); got != 3 {
		t.Errorf("find among colliding entries: got %d, want 3", got)
	}
	for _, i := range []int32{1, 3, 6, 2} { // the head, the middle, past the end, across the end
		x.remove(hashes[i], i)
		delete(hashes, i)
		checkIndex(t, &x)
		for j, h := range hashes {
			if got := x.find(h, func(k int32) bool { return k == j }); got != j {
				t.Fatalf("after removing %d: find %d got %d", i, j, got)
			}
		}
		if got := x.find(hashes[i], func(k int32) bool { return k == i }); got != -1 {
			t.Fatalf("removed %d still found", i)
		}
	}
	x.remove(last, 99) // not there: nothing changes
	for j, h := range hashes {
		x.remove(h, j)
	}
	checkIndex(t, &x)
	for p, e := range x.tab {
		if e != 0 {
			t.Fatalf("entry %d left after removing everything: %#x (a tombstone?)", p, e)
		}
	}
}

// TestMemory_GivesBack: what memory hands out is zeroed, counted, and
// given back by free and release.
func TestMemory_GivesBack(t *testing.T) {
	m := newMemory()
	a := allocSlice[slot](m, 100)
	b := allocSlice[uint64](m, 10)
	for i := range a {
		if a[i] != (slot{}) {
			t.Fatal("memory not zeroed")
		}
	}
	a[99].loaded = 1 // writable to its end
	if m.bytes != 100*128+80 || len(m.live) != 2 {
		t.Errorf("got %d bytes in %d regions, want %d in 2", m.bytes, len(m.live), 100*128+80)
	}
	freeSlice(m, a)
	if m.bytes != 80 || len(m.live) != 1 {
		t.Errorf("after free: got %d bytes in %d regions, want 80 in 1", m.bytes, len(m.live))
	}
	b[9] = 1
	m.release()
	if m.bytes != 0 || len(m.live) != 0 {
		t.Errorf("after release: got %d bytes in %d regions, want none", m.bytes, len(m.live))
	}
}
