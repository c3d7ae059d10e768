package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

// Lists on disk: records under the key's element prefix whose sub-keys
// start with an 8-byte big-endian position — a point record per element,
// or a run record for several pushed in a row with its trim record
// (listdisk.go). Elements occupy consecutive positions; LPUSH takes head-1
// and RPUSH tail+1, starting from listOrigin, so pushes and pops at either
// end write at the list's ends only. The meta payload is empty:
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

// List is a Redis list: a ring buffer of references to its elements, whose
// bytes live in a few large chunks. Neither the ring nor a reference holds a
// pointer, so a list of millions of elements is a handful of objects to the
// garbage collector: with one string per element, a pipelined LPUSH into a
// growing list spent a quarter of the server's CPU in the collector marking
// the ring (with everysec's garbage, collections came often). Chunks are
// append-only: an element's bytes never change once written, so the string
// At and Pop return stays valid (and keeps its chunk alive) after the list
// moves on. Bytes of removed elements are dead until a compaction copies the
// live ones into fresh chunks, which happens when the dead outweigh the live
// (amortized: each copy is paid for by as many bytes removed).
type List struct {
	ring   []listRef // len is zero or a power of two
	head   int       // ring index of the first element
	n      int
	pos    uint64 // on-disk position of the first element
	bytes  int    // sum of element lengths
	chunks [][]byte
	dead   int // bytes of removed elements still in chunks
	chunkB int // sum of the chunks' capacities

	ops       []listOp // element records changed since the last commit
	accounted int      // MemSize when the store last accounted it

	// on disk (listdisk.go): the run records (nil: none), and the push
	// still open in the commit group of generation openGen (0: none), its
	// op there and its end
	runs     *runDeque
	openGen  uint64
	openOp   int32
	openLeft bool

	// oldMeta: loaded from a meta record holding head and tail (format 1),
	// which the next change rewrites (Tx.List)
	oldMeta bool
}

// listRef is where an element's bytes are: chunks[chunk][off:off+n], 8
// bytes. Chunks hold at most listChunkMax bytes, so offset and length fit 16
// bits; an element of listBig bytes or more has a chunk of its own, and its
// n is listBig (the element is the whole chunk).
type listRef struct {
	chunk uint32
	off   uint16
	n     uint16
}

// Chunk sizes: the first fits a small list's element or two, later ones
// double up to listChunkMax.
const (
	listChunkMin = 32
	listChunkMax = 64 << 10
	listBig      = 1<<16 - 1
)

// listCompactMin is the least dead bytes a compaction is worth.
const listCompactMin = 4 << 10

// store copies v into the list's chunks and returns its reference.
func (l *List) store(v []byte) listRef {
	if len(v) >= listBig {
		c := append([]byte(nil), v...)
		l.chunks = append(l.chunks, c)
		l.chunkB += cap(c)
		return listRef{chunk: uint32(len(l.chunks) - 1), n: listBig}
	}
	if k := len(l.chunks) - 1; k >= 0 {
		c := l.chunks[k]
		if cap(c)-len(c) >= len(v) && cap(c) <= listChunkMax {
			l.chunks[k] = append(c, v...)
			return listRef{chunk: uint32(k), off: uint16(len(c)), n: uint16(len(v))}
		}
	}
	size := listChunkMin
	if k := len(l.chunks) - 1; k >= 0 {
		size = min(2*cap(l.chunks[k]), listChunkMax)
	}
	size = max(size, len(v))
	c := make([]byte, 0, size)
	l.chunks = append(l.chunks, append(c, v...))
	l.chunkB += size
	return listRef{chunk: uint32(len(l.chunks) - 1), n: uint16(len(v))}
}

// bytesOf is the element r refers to, as a view of its chunk (nil when
// empty).
func (l *List) bytesOf(r listRef) []byte { return refBytes(l.chunks, r) }

// refBytes is the element r refers to in chunks.
func refBytes(chunks [][]byte, r listRef) []byte {
	if r.n == listBig {
		return chunks[r.chunk]
	}
	if r.n == 0 {
		return nil
	}
	return chunks[r.chunk][r.off : int(r.off)+int(r.n) : int(r.off)+int(r.n)]
}

// str is the element r refers to, as a string viewing its chunk.
func (l *List) str(r listRef) string {
	b := l.bytesOf(r)
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// drop counts r's bytes as dead (compact reclaims them).
func (l *List) drop(r listRef) {
	n := len(l.bytesOf(r))
	l.dead += n
	l.bytes -= n
}

// compact copies the live elements into fresh chunks once the dead bytes
// outweigh them (strings handed out keep the old chunks alive as long as
// they are used).
func (l *List) compact() {
	if l.dead < listCompactMin || l.dead <= l.bytes {
		return
	}
	old := l.chunks
	l.chunks, l.chunkB, l.dead = nil, 0, 0
	if l.n > 0 {
		first := make([]byte, 0, min(max(l.bytes, listChunkMin), listChunkMax))
		l.chunks, l.chunkB = [][]byte{first}, cap(first)
	}
	mask := len(l.ring) - 1
	for i := 0; i < l.n; i++ {
		j := (l.head + i) & mask
		l.ring[j] = l.store(refBytes(old, l.ring[j]))
	}
}

// listOp is one pending element record write (del: remove the record;
// push: a position the list did not have, see Pending.SetUnindexed).
type listOp struct {
	pos  uint64
	val  string
	del  bool
	push bool
	end  uint8 // push, del: endLeft (the first element), endRight (the last) or 0
}

// The ends of a list a listOp pushes or pops at.
const (
	endLeft uint8 = 1 + iota
	endRight
)

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
		l.pushBack(it.Value())
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
// records go with its meta record): point records, and run records with
// their trim records (listdisk.go), whose extents it keeps.
func loadListRecords(it ElemIter) (Object, error) {
	l := &List{}
	var run []byte // a run record waiting for its trim record
	var runLo uint64
	haveRun := false
	flush := func(tlo, thi uint64, trimmed bool) error {
		if !haveRun {
			return nil
		}
		haveRun = false
		cnt, err := eachRunElem(run, runLo, nil)
		if err != nil {
			return err
		}
		if !trimmed {
			tlo, thi = runLo, runLo+uint64(cnt)-1
		}
		if tlo < runLo || tlo > thi || thi >= runLo+uint64(cnt) {
			return fmt.Errorf("%w: list run record at position %d holds %d elements, trimmed to %d..%d", errCorrupt, runLo, cnt, tlo, thi)
		}
		if l.n > 0 && tlo != l.pos+uint64(l.n) {
			return fmt.Errorf("%w: list run record at position %d follows %d", errCorrupt, tlo, l.pos+uint64(l.n)-1)
		}
		if l.n == 0 {
			l.pos = tlo
		}
		eachRunElem(run, runLo, func(p uint64, e []byte) {
			if p >= tlo && p <= thi {
				l.pushBack(e)
			}
		})
		if l.runs == nil {
			l.runs = &runDeque{}
		}
		l.runs.pushBack(listRun{lo: runLo, hi: runLo + uint64(cnt) - 1, tlo: tlo, thi: thi})
		return nil
	}
	for it.Next() {
		sub := it.Sub()
		if len(sub) == 9 && sub[8] == listTrimMark {
			lo := binary.BigEndian.Uint64(sub)
			v := it.Value()
			if !haveRun || lo != runLo || len(v) != 16 {
				return nil, fmt.Errorf("%w: list trim record at position %d without its run", errCorrupt, lo)
			}
			if err := flush(binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), true); err != nil {
				return nil, err
			}
			continue
		}
		if err := flush(0, 0, false); err != nil {
			return nil, err
		}
		switch {
		case len(sub) == 9 && sub[8] == listRunMark:
			runLo = binary.BigEndian.Uint64(sub)
			run = append(run[:0], it.Value()...)
			haveRun = true
		case len(sub) == 8:
			p := binary.BigEndian.Uint64(sub)
			if l.n == 0 {
				l.pos = p
			} else if p != l.pos+uint64(l.n) {
				return nil, fmt.Errorf("%w: list element record at position %d follows %d", errCorrupt, p, l.pos+uint64(l.n)-1)
			}
			l.pushBack(it.Value())
		}
	}
	if err := flush(0, 0, false); err != nil {
		return nil, err
	}
	if l.n == 0 {
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
func (l *List) MemSize() int {
	return 120 + l.chunkB + len(l.ring)*8 + len(l.chunks)*24 + l.runs.memSize()
}

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
		c.pushBack(l.bytesOf(l.ref(i)))
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
func (l *List) At(i int) string { return l.str(l.ref(i)) }

func (l *List) ref(i int) listRef { return l.ring[(l.head+i)&(len(l.ring)-1)] }

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
	if need <= len(l.ring) {
		return
	}
	size := len(l.ring)
	if size == 0 {
		size = 4
	}
	for size < need {
		size *= 2
	}
	nb := make([]listRef, size)
	for i := 0; i < l.n; i++ {
		nb[i] = l.ref(i)
	}
	l.ring, l.head = nb, 0
}

// shrink releases ring space once the list has become much smaller.
func (l *List) shrink() {
	l.compact()
	if len(l.ring) > 64 && l.n < len(l.ring)/4 {
		size := len(l.ring)
		for size > 4 && l.n <= size/4 {
			size /= 2
		}
		nb := make([]listRef, size)
		for i := 0; i < l.n; i++ {
			nb[i] = l.ref(i)
		}
		l.ring, l.head = nb, 0
	}
}

func (l *List) set(i int, r listRef) { l.ring[(l.head+i)&(len(l.ring)-1)] = r }

// pushBack appends v (copied) and returns it as stored.
func (l *List) pushBack(v []byte) string {
	r := l.store(v)
	l.grow(1)
	l.n++
	l.set(l.n-1, r)
	l.bytes += len(v)
	return l.str(r)
}

func (l *List) put(i int, v string) {
	l.ops = append(l.ops, listOp{pos: l.pos + uint64(i), val: v})
}

// dropOps forgets the recorded element changes (written, or superseded by
// a write of the whole list), keeping a small buffer for the next command;
// a large one (LPUSH of many elements, LTRIM) goes.
func (l *List) dropOps() {
	if cap(l.ops) <= 64 {
		clear(l.ops)
		l.ops = l.ops[:0]
	} else {
		l.ops = nil
	}
}

// pushed records element i, at a position the list did not have: the
// first (end endLeft) or the last (endRight).
func (l *List) pushed(i int, v string, end uint8) {
	l.ops = append(l.ops, listOp{pos: l.pos + uint64(i), val: v, push: true, end: end})
}

// del records the deletion of element i: the first (end endLeft), the last
// (endRight) or one in between (0).
func (l *List) del(i int, end uint8) {
	l.ops = append(l.ops, listOp{pos: l.pos + uint64(i), del: true, end: end})
}

// PushLeft inserts v (copied) at the head.
func (l *List) PushLeft(v []byte) {
	r := l.store(v)
	l.grow(1)
	l.head = (l.head - 1) & (len(l.ring) - 1)
	l.n++
	l.ring[l.head] = r
	l.bytes += len(v)
	if l.n > 1 {
		l.pos--
	}
	l.pushed(0, l.str(r), endLeft)
}

// PushRight appends v (copied) at the tail.
func (l *List) PushRight(v []byte) {
	s := l.pushBack(v)
	l.pushed(l.n-1, s, endRight)
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
	r := l.ref(0)
	v := l.str(r)
	l.del(0, endLeft)
	l.head = (l.head + 1) & (len(l.ring) - 1)
	l.n--
	l.drop(r)
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
	r := l.ref(l.n - 1)
	v := l.str(r)
	l.del(l.n-1, endRight)
	l.n--
	l.drop(r)
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
	l.drop(l.ref(i))
	r := l.store(v)
	l.bytes += len(v)
	l.set(i, r)
	l.put(i, l.str(r))
	l.compact()
}

// Insert inserts v (copied) before element i (0 <= i <= Len()). The shorter
// side shifts, and every shifted element's record is rewritten.
func (l *List) Insert(i int, v []byte) {
	if i >= l.n {
		l.PushRight(v)
		return
	}
	if i == 0 {
		l.PushLeft(v)
		return
	}
	r := l.store(v)
	l.grow(1)
	l.bytes += len(v)
	if i < l.n-i {
		// shift elements 0..i-1 one place left
		l.head = (l.head - 1) & (len(l.ring) - 1)
		l.n++
		l.pos--
		for j := 0; j < i; j++ {
			l.set(j, l.ref(j+1))
			l.put(j, l.At(j))
		}
	} else {
		// shift elements i..n-1 one place right
		l.n++
		for j := l.n - 1; j > i; j-- {
			l.set(j, l.ref(j-1))
			l.put(j, l.At(j))
		}
	}
	l.set(i, r)
	l.put(i, l.str(r))
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
	vals := make([]listRef, 0, l.n-removed)
	for i := 0; i < l.n; i++ {
		if keep[i] {
			vals = append(vals, l.ref(i))
		} else {
			l.drop(l.ref(i))
		}
	}
	oldN := l.n
	if l.n-first <= last+1 {
		// keep the head in place: rewrite from first, delete the vacated tail
		for j := first; j < len(vals); j++ {
			l.set(j, vals[j])
			l.put(j, l.str(vals[j]))
		}
		for j := oldN - 1; j >= len(vals); j-- {
			l.del(j, endRight) // from the last: each is the end of the list so far
		}
		l.n = len(vals)
	} else {
		// keep the tail in place: delete the vacated head, rewrite up to last
		for j := 0; j < removed; j++ {
			l.del(j, endLeft) // from the first: each is the start so far
		}
		l.head = (l.head + removed) & (len(l.ring) - 1)
		l.pos += uint64(removed)
		l.n = len(vals)
		for j := 0; j <= last-removed; j++ {
			l.set(j, vals[j])
			l.put(j, l.str(vals[j]))
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
