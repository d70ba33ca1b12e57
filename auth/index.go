package auth

// index maps 64-bit hashes to slot numbers, by open addressing with linear
// probing, in memory outside the Go heap (see memory): a table of uint64
// entries, each the low 32 bits of the hash (its tag) above the slot
// number plus one; 0 is an empty entry. An entry's home is its tag masked
// to the table's size, and it sits at its home or after it, with no empty
// entry between. Hashes may collide: find asks the caller to confirm each
// entry whose tag matches against the slot itself (the full digest or id).
//
// The table doubles when three quarters full, and a deletion shifts the
// entries that follow back into the hole (backward-shift deletion), so that
// there are no tombstones and a lookup never walks more than the cluster it
// falls in.
type index struct {
	mem *memory
	tab []uint64
	n   int // entries
}

// minIndex is the smallest table: one page.
const minIndex = 512

func entry(tag uint32, i int32) uint64 { return uint64(tag)<<32 | uint64(uint32(i)+1) }

// find returns the first slot whose entry has the tag of h and for which
// eq is true, or -1.
func (x *index) find(h uint64, eq func(int32) bool) int32 {
	if x.n == 0 {
		return -1
	}
	mask := uint32(len(x.tab) - 1)
	tag := uint32(h)
	for p := tag & mask; ; p = (p + 1) & mask {
		e := x.tab[p]
		if e == 0 {
			return -1
		}
		if uint32(e>>32) == tag {
			if i := int32(uint32(e)) - 1; eq(i) {
				return i
			}
		}
	}
}

// insert adds slot i under hash h.
func (x *index) insert(h uint64, i int32) {
	if (x.n+1)*4 > len(x.tab)*3 {
		x.grow()
	}
	place(x.tab, entry(uint32(h), i))
	x.n++
}

// place puts e at its home in tab, or the first empty entry after it.
func place(tab []uint64, e uint64) {
	mask := uint32(len(tab) - 1)
	p := uint32(e>>32) & mask
	for tab[p] != 0 {
		p = (p + 1) & mask
	}
	tab[p] = e
}

// grow doubles the table.
func (x *index) grow() {
	old := x.tab
	x.tab = allocSlice[uint64](x.mem, max(minIndex, 2*len(old)))
	for _, e := range old {
		if e != 0 {
			place(x.tab, e)
		}
	}
	freeSlice(x.mem, old)
}

// remove deletes the entry of slot i under hash h, if there is one.
func (x *index) remove(h uint64, i int32) {
	if x.n == 0 {
		return
	}
	mask := uint32(len(x.tab) - 1)
	want := entry(uint32(h), i)
	p := uint32(h) & mask
	for x.tab[p] != want {
		if x.tab[p] == 0 {
			return
		}
		p = (p + 1) & mask
	}
	// Backward shift: each following entry of the cluster that may sit
	// at the hole (its home is not between the hole and itself) moves
	// into it, and its place becomes the hole.
	for q := (p + 1) & mask; x.tab[q] != 0; q = (q + 1) & mask {
		home := uint32(x.tab[q]>>32) & mask
		if (q-home)&mask >= (q-p)&mask {
			x.tab[p] = x.tab[q]
			p = q
		}
	}
	x.tab[p] = 0
	x.n--
}
