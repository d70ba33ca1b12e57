package auth

import "unsafe"

// memory hands out the cache's bulk (slots and index tables) outside the
// Go heap where the platform allows it (mmap on unix, offheap_unix.go):
// memory the garbage collector neither scans nor counts when it decides
// how far the heap may grow (GOGC lets the heap reach twice what is live
// between collections; a million cached keys would be doubled with it).
// What is put there holds no Go pointer, so the collector has nothing to
// find in it. Elsewhere, or if the system refuses a mapping, it is
// ordinary heap memory, allocated without pointers.
//
// It is used under the Authenticator's write lock only.
type memory struct {
	live  map[unsafe.Pointer]region
	bytes int // mapped or allocated, for the memory benchmark
}

type region struct {
	b      []byte
	mapped bool // from mapMem, to be given back with unmapMem
}

func newMemory() *memory { return &memory{live: make(map[unsafe.Pointer]region)} }

// alloc returns n zeroed bytes (n > 0).
func (m *memory) alloc(n int) []byte {
	r := region{}
	if b, err := mapMem(n); err == nil {
		r = region{b: b, mapped: true}
	} else {
		r.b = make([]byte, n)
	}
	m.live[unsafe.Pointer(unsafe.SliceData(r.b))] = r
	m.bytes += n
	return r.b
}

// free gives back b, which alloc returned; nothing may use it afterwards.
func (m *memory) free(b []byte) {
	p := unsafe.Pointer(unsafe.SliceData(b))
	r, ok := m.live[p]
	if !ok {
		return
	}
	delete(m.live, p)
	m.bytes -= len(r.b)
	if r.mapped {
		_ = unmapMem(r.b)
	}
}

// release gives back everything still allocated.
func (m *memory) release() {
	for _, r := range m.live {
		m.free(r.b)
	}
}

// allocSlice returns n zeroed values of T, a type without pointers, from m.
func allocSlice[T any](m *memory, n int) []T {
	var zero T
	b := m.alloc(n * int(unsafe.Sizeof(zero)))
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// freeSlice gives back s, which allocSlice returned.
func freeSlice[T any](m *memory, s []T) {
	if cap(s) == 0 {
		return
	}
	var zero T
	s = s[:cap(s)]
	m.free(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(zero))))
}
