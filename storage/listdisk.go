package storage

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// Lists on disk, storage format 3: besides point records (sub-key: the element's
// 8-byte position) a list has run records and trim records.
//
//   - A run record (sub-key: position lo ‖ listRunMark; value: each element
//     as a uvarint length and its bytes) holds the elements at positions
//     lo, lo+1, ... that were pushed to one end of the list one after another
//     within one commit window (Pending.ListPush): a window's pushes cost
//     Pebble one record instead of one per element (pipelined LPUSH with
//     everysec spent about half of its CPU writing, flushing and compacting
//     element records).
//   - A trim record (sub-key: the run's lo ‖ listTrimMark; value: the first
//     and last live position, 8 bytes each) says which of a run's elements
//     are still in the list once some were popped from its ends: a window's
//     pops from one run cost one record, which the next pop in the window
//     replaces (Pending coalesces it), and popping never writes a position's
//     deletion over a run (a range deletion over pos(lo) would take the run
//     record with it).
//
// The List keeps the extents of its run records (runDeque) and the
// invariant that records' extents do not overlap: the first run may have
// popped (dead) positions only before its live ones when it holds the
// list's first element, the last run only after its live ones when it
// holds the last; a write into a run's dead positions first rewrites the
// run's live elements as a new run (rebase), and a change inside a run
// other than a pop from the list's end rewrites them as point records
// (explode). Every way of writing a list whole (RENAME, COPY, MOVE,
// RESTORE, SORT STORE) writes point records, SWAPDB copies the records as
// they are, and the loader rebuilds the extents from the records it reads.
const (
	listRunMark  = 'r'
	listTrimMark = 't'
)

// listRun is one run record of a list: its elements are at positions
// lo..hi, of which tlo..thi are live (a trim record says so when they are
// not all).
type listRun struct {
	lo, hi, tlo, thi uint64
}

// runDeque is a list's run records in position order: a slice whose first
// h entries are unused, so runs come and go at both ends in O(1). A nil
// *runDeque is empty.
type runDeque struct {
	a []listRun
	h int
}

func (d *runDeque) len() int {
	if d == nil {
		return 0
	}
	return len(d.a) - d.h
}

func (d *runDeque) memSize() int {
	if d == nil {
		return 0
	}
	return 32 + cap(d.a)*32
}

func (d *runDeque) at(i int) *listRun  { return &d.a[d.h+i] }
func (d *runDeque) back() *listRun     { return d.at(d.len() - 1) }
func (d *runDeque) popFront()          { d.h++; d.trim() }
func (d *runDeque) popBack()           { d.a = d.a[:len(d.a)-1]; d.trim() }
func (d *runDeque) pushBack(r listRun) { d.a = append(d.a, r) }
func (d *runDeque) remove(i int)       { d.a = append(d.a[:d.h+i], d.a[d.h+i+1:]...); d.trim() }

func (d *runDeque) trim() {
	if d.len() == 0 {
		d.a, d.h = d.a[:0], 0
	}
}

func (d *runDeque) pushFront(r listRun) {
	if d.h == 0 {
		n := d.len()
		room := max(4, n)
		na := make([]listRun, room+n, room+n+max(4, n/2))
		copy(na[room:], d.a)
		d.a, d.h = na, room
	}
	d.h--
	d.a[d.h] = r
}

// find returns the index of the run whose live positions hold p, or -1.
func (d *runDeque) find(p uint64) int {
	n := d.len()
	i := sort.Search(n, func(i int) bool { return d.at(i).thi >= p })
	if i < n && d.at(i).tlo <= p {
		return i
	}
	return -1
}

// listSub is the key of a run record (mark listRunMark) or of its trim
// record (listTrimMark) under prefix.
func listSub(dst, prefix []byte, lo uint64, mark byte) []byte {
	dst = append(dst[:0], prefix...)
	dst = binary.BigEndian.AppendUint64(dst, lo)
	return append(dst, mark)
}

// dropRun deletes the run record at lo and its trim record.
func dropRun(b *Pending, prefix []byte, lo uint64) {
	var k [64]byte
	b.Delete(listSub(k[:0], prefix, lo, listRunMark))
	b.Delete(listSub(k[:0], prefix, lo, listTrimMark))
}

// putPoint writes the point record of position p.
func putPoint(b *Pending, prefix []byte, p uint64, v string) {
	op := b.SetDeferred(len(prefix)+8, len(v))
	copy(op.Key, prefix)
	binary.BigEndian.PutUint64(op.Key[len(prefix):], p)
	copy(op.Value, v)
}

// appendRunElem appends element e to a run record's value.
func appendRunElem(dst, e []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(e)))
	return append(dst, e...)
}

// record writes ops, the element changes of one command (in order), to
// b: the list's records under prefix. It keeps the invariants above; see
// the cases in recPush, recDel and recPut.
func (l *List) record(b *Pending, prefix []byte, ops []listOp) {
	if l.openGen != b.gen {
		l.openGen = 0
	}
	for i := range ops {
		o := &ops[i]
		switch {
		case o.push:
			l.recPush(b, prefix, o.pos, o.val, o.end == endLeft)
		case o.del:
			l.recDel(b, prefix, o.pos, o.end)
		default:
			l.recPut(b, prefix, o.pos, o.val)
		}
	}
}

// resetDisk forgets the list's run records: it is about to be written
// whole as point records.
func (l *List) resetDisk() {
	l.runs = nil
	l.openGen = 0
}

// addRun makes r the list's first or last run.
func (l *List) addRun(r listRun, first bool) {
	if l.runs == nil {
		l.runs = &runDeque{}
	}
	if first {
		l.runs.pushFront(r)
	} else {
		l.runs.pushBack(r)
	}
}

// openRun is the run entry of the open push (which must be a run).
func (l *List) openRun() *listRun {
	if l.openLeft {
		return l.runs.at(0)
	}
	return l.runs.back()
}

// clearDead rebases the first or last run when position p, about to be
// written, is one of its dead positions.
func (l *List) clearDead(b *Pending, prefix []byte, p uint64) {
	if l.runs.len() == 0 {
		return
	}
	if r := l.runs.at(0); r.lo <= p && p < r.tlo {
		l.rebase(b, prefix, 0)
	}
	if l.runs.len() == 0 {
		return
	}
	if i := l.runs.len() - 1; l.runs.at(i).thi < p && p <= l.runs.at(i).hi {
		l.rebase(b, prefix, i)
	}
}

// recPush: an element pushed at p, the list's new first (left) or last
// element. It joins the element or run this list pushed last at the same
// end in this commit group when nothing else of the list was written at
// that end since; otherwise it starts a new one (a point record until a
// second joins it).
func (l *List) recPush(b *Pending, prefix []byte, p uint64, val string, left bool) {
	l.clearDead(b, prefix, p)
	if l.openGen != 0 && l.openLeft == left {
		lo, hi, run := b.ListOpen(l.openOp)
		if (left && p == lo-1) || (!left && p == hi+1) {
			b.ListPush(prefix, p, []byte(val), l.openOp, left)
			switch {
			case !run: // a second element: the point record becomes a run
				r := listRun{lo: min(p, lo), hi: max(p, hi)}
				r.tlo, r.thi = r.lo, r.hi
				l.addRun(r, left)
			case left:
				r := l.runs.at(0)
				r.lo, r.tlo = p, p
			default:
				r := l.runs.back()
				r.hi, r.thi = p, p
			}
			return
		}
	}
	l.openOp = b.ListPush(prefix, p, []byte(val), -1, left)
	l.openGen, l.openLeft = b.gen, left
}

// popOpen takes the element at p back from the open push, if it is the
// push's end on the side the list is popped from, and reports whether it
// did.
func (l *List) popOpen(b *Pending, p uint64, left bool) bool {
	if l.openGen == 0 {
		return false
	}
	lo, hi, run := b.ListOpen(l.openOp)
	if (left && p != lo) || (!left && p != hi) {
		return false
	}
	empty := b.ListPop(l.openOp, left)
	if run {
		r := l.openRun()
		if left {
			r.lo, r.tlo = r.lo+1, r.tlo+1
		} else {
			r.hi, r.thi = r.hi-1, r.thi-1
		}
		if empty {
			if l.openLeft {
				l.runs.popFront()
			} else {
				l.runs.popBack()
			}
		}
	}
	if empty {
		l.openGen = 0
	}
	return true
}

// recDel: the element at p deleted. At the list's start or end (end) it
// is taken back from the open push, trimmed from its run, or its point
// record deleted; in between (LREM's closing up does not delete there) its
// run is exploded first.
func (l *List) recDel(b *Pending, prefix []byte, p uint64, end uint8) {
	if end == 0 {
		l.openGen = 0
		if i := l.runs.find(p); i >= 0 {
			l.explode(b, prefix, i)
		}
		b.DeletePos(prefix, p)
		return
	}
	left := end == endLeft
	if l.popOpen(b, p, left) {
		return
	}
	if l.openGen != 0 && l.openLeft == left {
		l.openGen = 0 // something else of this end is written
	}
	i := -1
	if n := l.runs.len(); n > 0 {
		if left && l.runs.at(0).tlo == p {
			i = 0
		} else if !left && l.runs.at(n-1).thi == p {
			i = n - 1
		}
	}
	if i < 0 {
		b.DeletePos(prefix, p)
		return
	}
	r := l.runs.at(i)
	if left {
		r.tlo++
	} else {
		r.thi--
	}
	if r.tlo > r.thi {
		dropRun(b, prefix, r.lo)
		if i == 0 {
			l.runs.popFront()
		} else {
			l.runs.popBack()
		}
		return
	}
	op := b.SetDeferred(len(prefix)+9, 16)
	listSub(op.Key[:0], prefix, r.lo, listTrimMark)
	binary.BigEndian.PutUint64(op.Value, r.tlo)
	binary.BigEndian.PutUint64(op.Value[8:], r.thi)
}

// recPut: element p set (LSET, LINSERT's shifts, LREM's closing up). In a
// run it explodes the run (which writes p's final value); otherwise p's
// point record is written.
func (l *List) recPut(b *Pending, prefix []byte, p uint64, val string) {
	l.openGen = 0
	if i := l.runs.find(p); i >= 0 {
		l.explode(b, prefix, i)
		return
	}
	l.clearDead(b, prefix, p)
	putPoint(b, prefix, p, val)
}

// finalAt returns the element at position p when the command ends, or
// false when p is not in the list then.
func (l *List) finalAt(p uint64) (string, bool) {
	if l.n == 0 || p < l.pos || p-l.pos >= uint64(l.n) {
		return "", false
	}
	return l.At(int(p - l.pos)), true
}

// explode rewrites run i's live elements as point records, with their
// values when the command ends (later changes of the command write theirs
// again), and deletes the run.
func (l *List) explode(b *Pending, prefix []byte, i int) {
	r := *l.runs.at(i)
	l.openGen = 0
	dropRun(b, prefix, r.lo)
	for p := r.tlo; p <= r.thi; p++ {
		if v, ok := l.finalAt(p); ok {
			putPoint(b, prefix, p, v)
		}
	}
	l.runs.remove(i)
}

// rebase rewrites run i's live elements as a new run record starting at
// its first live position (the values when the command ends: a position
// the command still deletes gets an empty placeholder), so that its dead
// positions can be written.
func (l *List) rebase(b *Pending, prefix []byte, i int) {
	r := l.runs.at(i)
	dropRun(b, prefix, r.lo)
	var val []byte
	for p := r.tlo; p <= r.thi; p++ {
		v, _ := l.finalAt(p)
		val = appendRunElem(val, []byte(v))
	}
	var k [64]byte
	b.Set(listSub(k[:0], prefix, r.tlo, listRunMark), val)
	r.lo, r.hi = r.tlo, r.thi
}

// eachRunElem parses a run record's value, whose first element is at
// position lo, calling fn (if not nil) with each element's position and
// bytes, and returns how many it holds (at least one).
func eachRunElem(v []byte, lo uint64, fn func(p uint64, e []byte)) (int, error) {
	n := 0
	for len(v) > 0 {
		m, w := binary.Uvarint(v)
		if w <= 0 || m > uint64(len(v)-w) {
			return 0, fmt.Errorf("%w: bad list run record at position %d", errCorrupt, lo)
		}
		if fn != nil {
			fn(lo+uint64(n), v[w:w+int(m)])
		}
		v = v[w+int(m):]
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: empty list run record at position %d", errCorrupt, lo)
	}
	return n, nil
}
