package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Lists on disk: one record per element under the key's element prefix, the
// sub-key an 8-byte big-endian position. Elements occupy consecutive
// positions; LPUSH takes head-1 and RPUSH tail+1, starting from listOrigin, so
// pushes and pops at either end write one record. The meta payload is empty:
// the element records themselves say where the list starts (its first
// record) and ends, so a push or a pop writes its element record only and
// the meta record is written when the list is created (and by EXPIRE and
// its kin). Rewriting the meta record at every change (format 1 below) put
// the same key in every memtable flush: each L0 table then spanned from the
// meta key to the elements and overlapped every other, and compactions
// rewrote the whole list again and again (57% of the CPU of pipelined
// LPUSH with everysec). Lists written before kept head(8)+tail(8) in their
// meta payload, the positions of the first and last element; they load as
// before and their meta record is rewritten at their next change.
//
// A command mutates the in-memory List (which remembers the element records
// it changed) and then records it with Tx.List: every element record and
// meta record of the command, across all its keys (LMOVE), goes into the
// command's one durable append, so a crash never leaves half a command on
// disk.

// listOrigin is the position of the first element of a new list.
const listOrigin = uint64(1) << 63

// listElemOverhead approximates the bytes per element beyond its contents:
// the string header in the ring and the allocation's rounding.
const listElemOverhead = 24

// List is a Redis list: a ring buffer of elements.
type List struct {
	buf   []string // len is zero or a power of two
	head  int      // ring index of the first element
	n     int
	pos   uint64 // on-disk position of the first element
	bytes int    // sum of element lengths

	ops       []listOp // element records changed since the last commit
	accounted int      // MemSize when the store last accounted it
	// oldMeta: loaded from a meta record holding head and tail (format 1),
	// which the next change rewrites (Tx.List)
	oldMeta bool
}

// listOp is one pending element record write (del: remove the record).
type listOp struct {
	pos uint64
	val string
	del bool
}

// NewList returns an empty list (it must get elements before Tx.List).
func NewList() *List { return &List{pos: listOrigin} }

func init() { RegisterLoader(TypeList, loadList) }

// loadList rebuilds a list from its meta payload and element records.
func loadList(meta []byte, it ElemIter) (Object, error) {
	if len(meta) == 0 {
		return loadListRecords(it)
	}
	if len(meta) < 16 {
		return nil, errors.New("storage: bad list meta payload")
	}
	head := binary.BigEndian.Uint64(meta)
	tail := binary.BigEndian.Uint64(meta[8:])
	l := &List{pos: head}
	for it.Next() {
		sub := it.Sub()
		if len(sub) != 8 {
			continue
		}
		// records outside [head, tail] cannot exist after atomic commits;
		// skip them rather than resurrect anything
		if p := binary.BigEndian.Uint64(sub); p < head || p > tail {
			continue
		}
		l.pushBack(string(it.Value()))
	}
	if l.n == 0 {
		return nil, errNoElems
	}
	l.accounted = l.MemSize()
	l.oldMeta = true
	return l, nil
}

// loadListRecords rebuilds a list whose meta payload is empty: its
// elements are its records in position order, at consecutive positions
// (every change commits its records atomically, and a deleted list's
// records go with its meta record).
func loadListRecords(it ElemIter) (Object, error) {
	var l *List
	for it.Next() {
		sub := it.Sub()
		if len(sub) != 8 {
			continue
		}
		p := binary.BigEndian.Uint64(sub)
		if l == nil {
			l = &List{pos: p}
		} else if p != l.pos+uint64(l.n) {
			return nil, fmt.Errorf("storage: list element record at position %d follows %d", p, l.pos+uint64(l.n)-1)
		}
		l.pushBack(string(it.Value()))
	}
	if l == nil {
		return nil, errNoElems
	}
	l.accounted = l.MemSize()
	return l, nil
}

// Type implements Object.
func (l *List) Type() Type { return TypeList }

// Len implements Object.
func (l *List) Len() int { return l.n }

// MemSize implements Object.
func (l *List) MemSize() int { return 48 + l.bytes + l.n*listElemOverhead + (len(l.buf)-l.n)*16 }

// Encoding implements Object: Redis 7.0 lists are always quicklists.
func (l *List) Encoding() string { return "quicklist" }

// MetaPayload implements Object: empty (the records give head and tail).
func (l *List) MetaPayload() []byte { return nil }

// bounds returns the positions of the first and last element.
func (l *List) bounds() (head, tail uint64) { return l.pos, l.pos + uint64(l.n) - 1 }

// Clone implements Object.
func (l *List) Clone() Object {
	c := &List{pos: l.pos}
	c.grow(l.n)
	for i := 0; i < l.n; i++ {
		c.pushBack(l.At(i))
	}
	c.accounted = c.MemSize()
	return c
}

// ForEachElem implements Object.
func (l *List) ForEachElem(fn func(sub, val []byte)) {
	var sub [8]byte
	var val []byte
	for i := 0; i < l.n; i++ {
		binary.BigEndian.PutUint64(sub[:], l.pos+uint64(i))
		val = append(val[:0], l.At(i)...)
		fn(sub[:], val)
	}
}

// At returns element i (0 <= i < Len()).
func (l *List) At(i int) string { return l.buf[(l.head+i)&(len(l.buf)-1)] }

// Range calls fn for elements lo..hi-1 in order until fn returns false.
func (l *List) Range(lo, hi int, fn func(i int, v string) bool) {
	for i := lo; i < hi; i++ {
		if !fn(i, l.At(i)) {
			return
		}
	}
}

// RangeReverse calls fn for elements hi-1 down to lo until fn returns false.
func (l *List) RangeReverse(lo, hi int, fn func(i int, v string) bool) {
	for i := hi - 1; i >= lo; i-- {
		if !fn(i, l.At(i)) {
			return
		}
	}
}

// grow makes room for extra more elements.
func (l *List) grow(extra int) {
	need := l.n + extra
	if need <= len(l.buf) {
		return
	}
	size := len(l.buf)
	if size == 0 {
		size = 4
	}
	for size < need {
		size *= 2
	}
	nb := make([]string, size)
	for i := 0; i < l.n; i++ {
		nb[i] = l.At(i)
	}
	l.buf, l.head = nb, 0
}

// shrink releases ring space once the list has become much smaller.
func (l *List) shrink() {
	if len(l.buf) > 64 && l.n < len(l.buf)/4 {
		size := len(l.buf)
		for size > 4 && l.n <= size/4 {
			size /= 2
		}
		nb := make([]string, size)
		for i := 0; i < l.n; i++ {
			nb[i] = l.At(i)
		}
		l.buf, l.head = nb, 0
	}
}

func (l *List) set(i int, v string) { l.buf[(l.head+i)&(len(l.buf)-1)] = v }

func (l *List) pushBack(v string) {
	l.grow(1)
	l.n++
	l.set(l.n-1, v)
	l.bytes += len(v)
}

func (l *List) put(i int, v string) {
	l.ops = append(l.ops, listOp{pos: l.pos + uint64(i), val: v})
}

func (l *List) del(i int) {
	l.ops = append(l.ops, listOp{pos: l.pos + uint64(i), del: true})
}

// PushLeft inserts v (copied) at the head.
func (l *List) PushLeft(v []byte) {
	s := string(v)
	l.grow(1)
	l.head = (l.head - 1) & (len(l.buf) - 1)
	l.n++
	l.buf[l.head] = s
	l.bytes += len(s)
	if l.n > 1 {
		l.pos--
	}
	l.put(0, s)
}

// PushRight appends v (copied) at the tail.
func (l *List) PushRight(v []byte) {
	s := string(v)
	l.pushBack(s)
	l.put(l.n-1, s)
}

// Push inserts v at the head (left) or the tail.
func (l *List) Push(v []byte, left bool) {
	if left {
		l.PushLeft(v)
	} else {
		l.PushRight(v)
	}
}

// PopLeft removes and returns the first element (the list must not be empty).
func (l *List) PopLeft() string {
	v := l.At(0)
	l.del(0)
	l.set(0, "")
	l.head = (l.head + 1) & (len(l.buf) - 1)
	l.n--
	l.bytes -= len(v)
	if l.n > 0 {
		l.pos++
	} else {
		l.pos = listOrigin
	}
	l.shrink()
	return v
}

// PopRight removes and returns the last element (the list must not be empty).
func (l *List) PopRight() string {
	v := l.At(l.n - 1)
	l.del(l.n - 1)
	l.set(l.n-1, "")
	l.n--
	l.bytes -= len(v)
	if l.n == 0 {
		l.pos = listOrigin
	}
	l.shrink()
	return v
}

// Pop removes the first (left) or last element.
func (l *List) Pop(left bool) string {
	if left {
		return l.PopLeft()
	}
	return l.PopRight()
}

// Set replaces element i (0 <= i < Len()) with v (copied).
func (l *List) Set(i int, v []byte) {
	s := string(v)
	l.bytes += len(s) - len(l.At(i))
	l.set(i, s)
	l.put(i, s)
}

// Insert inserts v (copied) before element i (0 <= i <= Len()). The shorter
// side shifts, and every shifted element's record is rewritten.
func (l *List) Insert(i int, v []byte) {
	s := string(v)
	if i >= l.n {
		l.PushRight(v)
		return
	}
	if i == 0 {
		l.PushLeft(v)
		return
	}
	l.grow(1)
	l.bytes += len(s)
	if i < l.n-i {
		// shift elements 0..i-1 one place left
		l.head = (l.head - 1) & (len(l.buf) - 1)
		l.n++
		l.pos--
		for j := 0; j < i; j++ {
			l.set(j, l.At(j+1))
			l.put(j, l.At(j))
		}
	} else {
		// shift elements i..n-1 one place right
		l.n++
		for j := l.n - 1; j > i; j-- {
			l.set(j, l.At(j-1))
			l.put(j, l.At(j))
		}
	}
	l.set(i, s)
	l.put(i, s)
}

// RemoveWhere deletes the elements for which drop returns true (LREM). The
// surviving elements close up toward the end that rewrites fewer records.
func (l *List) RemoveWhere(drop func(i int, v string) bool) int {
	keep := make([]bool, l.n)
	first, last, removed := -1, -1, 0
	for i := 0; i < l.n; i++ {
		if drop(i, l.At(i)) {
			if first < 0 {
				first = i
			}
			last = i
			removed++
		} else {
			keep[i] = true
		}
	}
	if removed == 0 {
		return 0
	}
	vals := make([]string, 0, l.n-removed)
	for i := 0; i < l.n; i++ {
		if keep[i] {
			vals = append(vals, l.At(i))
		} else {
			l.bytes -= len(l.At(i))
		}
	}
	oldN := l.n
	if l.n-first <= last+1 {
		// keep the head in place: rewrite from first, delete the vacated tail
		for j := first; j < len(vals); j++ {
			l.set(j, vals[j])
			l.put(j, vals[j])
		}
		for j := len(vals); j < oldN; j++ {
			l.set(j, "")
			l.del(j)
		}
		l.n = len(vals)
	} else {
		// keep the tail in place: delete the vacated head, rewrite up to last
		for j := 0; j < removed; j++ {
			l.del(j)
			l.set(j, "")
		}
		l.head = (l.head + removed) & (len(l.buf) - 1)
		l.pos += uint64(removed)
		l.n = len(vals)
		for j := 0; j <= last-removed; j++ {
			l.set(j, vals[j])
			l.put(j, vals[j])
		}
	}
	if l.n == 0 {
		l.pos = listOrigin
	}
	l.shrink()
	return removed
}

// Trim keeps elements lo..hi-1 (LTRIM); lo >= hi empties the list.
func (l *List) Trim(lo, hi int) {
	if lo < 0 {
		lo = 0
	}
	if hi > l.n {
		hi = l.n
	}
	if lo >= hi {
		lo, hi = 0, 0
	}
	for l.n > hi {
		l.PopRight()
	}
	for i := 0; i < lo; i++ {
		l.PopLeft()
	}
}
