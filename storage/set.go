package storage

import (
	"math"
	"slices"
	"strconv"
)

// Set is a Redis set in a compact dict (see dict in hash.go). Byte slices it
// returns alias its storage: they are valid until the next mutation.
type Set struct {
	d dict
	// big is sticky like Redis's intset -> hashtable conversion: set once the
	// set held a member that is not an integer or exceeded set-max-intset-entries.
	big bool
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{} }

// Type implements Object.
func (s *Set) Type() Type { return TypeSet }

// Len implements Object.
func (s *Set) Len() int { return s.d.n }

// MemSize implements Object.
func (s *Set) MemSize() int { return s.d.memSize() + 8 }

// Encoding implements Object: what Redis 7.0 would use for the same history.
func (s *Set) Encoding() string {
	if s.big {
		return "hashtable"
	}
	return "intset"
}

// MetaPayload implements Object: a set keeps nothing in its meta record.
func (s *Set) MetaPayload() []byte { return nil }

// Has reports whether m is a member.
func (s *Set) Has(m []byte) bool {
	off, _, _ := s.d.find(m)
	return off >= 0
}

// Add adds m and reports whether it was new.
func (s *Set) Add(m []byte) bool {
	off, _, h := s.d.find(m)
	if off >= 0 {
		return false
	}
	s.d.addHashed(m, nil, h)
	if !s.big && (int64(s.d.n) > SetMaxIntsetEntries.Load() || !isIntString(m)) {
		s.big = true
	}
	return true
}

// Remove removes m and reports whether it was a member.
func (s *Set) Remove(m []byte) bool {
	off, slot, _ := s.d.find(m)
	if off < 0 {
		return false
	}
	s.d.remove(off, slot)
	return true
}

// ForEach visits the members until fn returns false: an intset-encoded set in
// ascending numeric order (as Redis replies), otherwise in insertion order.
func (s *Set) ForEach(fn func(m []byte) bool) {
	if s.big {
		s.d.forEach(func(k, _ []byte) bool { return fn(k) })
		return
	}
	ints := make([]int64, 0, s.d.n)
	s.d.forEach(func(k, _ []byte) bool {
		v, _ := strconv.ParseInt(string(k), 10, 64)
		ints = append(ints, v)
		return true
	})
	slices.Sort(ints)
	// one buffer for all, so each member slice stays valid like an arena slice
	buf := make([]byte, 0, 21*len(ints))
	for _, v := range ints {
		start := len(buf)
		buf = strconv.AppendInt(buf, v, 10)
		if !fn(buf[start:len(buf):len(buf)]) {
			return
		}
	}
}

// Random returns a uniformly random member (the set must not be empty).
func (s *Set) Random() []byte {
	m, _, _ := s.d.rec(s.d.randomOff())
	return m
}

// RandomDistinct calls fn for min(count, Len) distinct random members.
func (s *Set) RandomDistinct(count int, fn func(m []byte)) {
	s.d.randomDistinct(count, func(k, _ []byte) { fn(k) })
}

// Scan is SSCAN's step: see dict.scan. An intset-encoded set is returned
// whole with cursor 0, as Redis does.
func (s *Set) Scan(cursor uint64, count int, fn func(m []byte)) uint64 {
	if !s.big {
		s.ForEach(func(m []byte) bool { fn(m); return true })
		return 0
	}
	return s.d.scan(cursor, count, func(k, _ []byte) { fn(k) })
}

// Clone implements Object.
func (s *Set) Clone() Object { return &Set{d: s.d.clone(), big: s.big} }

// ForEachElem implements Object. member -> empty value.
func (s *Set) ForEachElem(fn func(sub, val []byte)) {
	s.d.forEach(func(k, _ []byte) bool { fn(k, nil); return true })
}

func loadSet(_ []byte, it ElemIter) (Object, error) {
	s := NewSet()
	for it.Next() {
		m := it.Sub()
		s.d.add(m, nil)
		if !s.big && !isIntString(m) {
			s.big = true
		}
	}
	if s.d.n == 0 {
		return nil, errNoElems
	}
	if int64(s.d.n) > SetMaxIntsetEntries.Load() {
		s.big = true
	}
	return s, nil
}

// isIntString reports whether b is the canonical decimal form of an int64,
// which is what Redis's intset accepts (string2ll).
func isIntString(b []byte) bool {
	n := len(b)
	if n == 0 || n > 20 {
		return false
	}
	if n == 1 && b[0] == '0' {
		return true
	}
	i := 0
	if b[0] == '-' {
		i = 1
	}
	if i == n || b[i] < '1' || b[i] > '9' {
		return false
	}
	var v uint64
	for ; i < n; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return false
		}
		if v > (math.MaxUint64-uint64(c-'0'))/10 {
			return false
		}
		v = v*10 + uint64(c-'0')
	}
	if b[0] == '-' {
		return v <= 1<<63
	}
	return v <= math.MaxInt64
}
