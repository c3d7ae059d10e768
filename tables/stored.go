package tables

import (
	"math"
	"sync/atomic"
	"unsafe"

	"github.com/google/btree"
)

// With persistence the indexes are not held in memory: the stored index
// entries (keys.go, order-preserving) are the index, read with Pebble
// iterators. What Pebble does not hold yet — the writes of this process
// that the committer has not committed — is kept beside it in memory, per
// index as an overlay of entries set or deleted, and for rows as resident
// bodies and tombstones (cache.go). The invariant is the key store's: an
// overlay entry, a resident row or a tombstone is authoritative; anything
// else is exactly what Pebble's committed state says. Every write a command
// makes is also queued (DB.pend) with the command's stamp; once the store
// has committed the command's batch, the queue drops its overlay entries
// and tombstones (prune, at the end of each write command). Reads hold the
// engine's read lock, so nothing is pruned while they run: an entry not in
// an overlay when a read starts was committed before it started, and an
// iterator made after that sees it.

// stamp is the durable sequence of one write command's batch, shared by
// everything the command wrote (pendingSeq until the batch is handed to the
// store).
type stamp struct{ seq atomic.Uint64 }

const pendingSeq = math.MaxUint64

// storedStamp marks a row body read from the store (always committed).
var storedStamp = &stamp{}

// curStamp is the running write command's stamp.
func (db *DB) curStamp() *stamp {
	if db.cur == nil {
		db.cur = &stamp{}
		db.cur.seq.Store(pendingSeq)
	}
	return db.cur
}

// ovEnt is an index entry written by this process: set or deleted, by the
// command of st. k is the stored entry without the index's key prefix.
type ovEnt struct {
	k   string
	del bool
	st  *stamp
}

func ovLess(a, b ovEnt) bool { return a.k < b.k }

// overlay is an index's writes not known to be committed.
type overlay struct {
	t *btree.BTreeG[ovEnt]
}

// ovEntBytes is what an overlay entry is counted for besides its key: the
// B-tree item and node share, the queue entry.
const ovEntBytes = 128

// pendEnt is one queued write: an overlay entry (ov set) or a row (body).
type pendEnt struct {
	st   *stamp
	ov   *overlay
	k    string
	t    *table
	id   int64
	body *rowBody
}

// ovSet records that the entry k of index ov (of table t) is set (del
// false) or deleted by the running command.
func (db *DB) ovSet(t *table, ov *overlay, k []byte, del bool) {
	if ov.t == nil {
		ov.t = btree.NewG(16, ovLess)
	}
	st := db.curStamp()
	e := ovEnt{k: string(k), del: del, st: st}
	if _, replaced := ov.t.ReplaceOrInsert(e); !replaced {
		d := int64(ovEntBytes + len(e.k))
		t.ovMem += d
		db.addMem(d)
	}
	db.pend = append(db.pend, pendEnt{st: st, ov: ov, k: e.k, t: t})
}

// prune drops the overlay entries and tombstones whose commands are
// committed (write lock).
func (db *DB) prune() {
	if !db.persist || db.ph == len(db.pend) {
		return
	}
	committed := db.store.TableCommitted()
	locked := false
	for db.ph < len(db.pend) {
		e := &db.pend[db.ph]
		if e.st.seq.Load() > committed {
			break
		}
		switch {
		case e.t.dropped:
		case e.ov != nil:
			if o, ok := e.ov.t.Get(ovEnt{k: e.k}); ok && o.st == e.st {
				e.ov.t.Delete(o)
				d := int64(ovEntBytes + len(o.k))
				e.t.ovMem -= d
				db.addMem(-d)
			}
		case e.body.dead:
			if !locked {
				db.cmu.Lock()
				locked = true
			}
			if e.t.rows[e.id] == e.body {
				delete(e.t.rows, e.id)
				e.t.ovMem -= rowOverhead
				db.addMem(-rowOverhead)
			}
		}
		*e = pendEnt{}
		db.ph++
	}
	if locked {
		db.cmu.Unlock()
	}
	if db.ph == len(db.pend) {
		db.pend, db.ph = db.pend[:0], 0
		if cap(db.pend) > 1<<16 {
			db.pend = nil
		}
	} else if db.ph > 1024 && db.ph*2 > len(db.pend) {
		n := copy(db.pend, db.pend[db.ph:])
		clear(db.pend[n:])
		db.pend, db.ph = db.pend[:n], 0
	}
}

// bview views s as bytes (read-only).
func bview(s string) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// scanStored visits the entries of the index stored under prefix whose
// suffix (the entry without the prefix) is in [lo, hi) — nil: unbounded —
// merged with the overlay ov, ascending or descending, until fn returns
// false. The slice fn gets is only valid during the call.
func (db *DB) scanStored(ov *overlay, prefix, lo, hi []byte, desc bool, fn func(e []byte) bool) error {
	var pend []ovEnt
	if ov.t != nil && ov.t.Len() > 0 {
		collect := func(e ovEnt) bool { pend = append(pend, e); return true }
		switch {
		case lo != nil && hi != nil:
			ov.t.AscendRange(ovEnt{k: string(lo)}, ovEnt{k: string(hi)}, collect)
		case lo != nil:
			ov.t.AscendGreaterOrEqual(ovEnt{k: string(lo)}, collect)
		case hi != nil:
			ov.t.AscendLessThan(ovEnt{k: string(hi)}, collect)
		default:
			ov.t.Ascend(collect)
		}
	}
	var lb, ub [64]byte
	lower := append(append(lb[:0], prefix...), lo...)
	var upper []byte
	if hi != nil {
		upper = append(append(ub[:0], prefix...), hi...)
	} else {
		upper = prefixEnd(prefix)
	}
	it, err := db.store.TableIter(lower, upper)
	if err != nil {
		return err
	}
	np := len(prefix)
	if !desc {
		ok, i := it.First(), 0
		for {
			var pk []byte
			if ok {
				pk = it.Key()[np:]
			}
			if i < len(pend) && (!ok || pend[i].k <= string(pk)) {
				e := pend[i]
				i++
				if ok && e.k == string(pk) {
					ok = it.Next()
				}
				if !e.del && !fn(bview(e.k)) {
					break
				}
				continue
			}
			if !ok || !fn(pk) {
				break
			}
			ok = it.Next()
		}
	} else {
		ok, i := it.Last(), len(pend)-1
		for {
			var pk []byte
			if ok {
				pk = it.Key()[np:]
			}
			if i >= 0 && (!ok || pend[i].k >= string(pk)) {
				e := pend[i]
				i--
				if ok && e.k == string(pk) {
					ok = it.Prev()
				}
				if !e.del && !fn(bview(e.k)) {
					break
				}
				continue
			}
			if !ok || !fn(pk) {
				break
			}
			ok = it.Prev()
		}
	}
	return it.Close()
}

// prefixEnd is the first key after every key starting with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// ---- stored single-field index ----

// storedSingle is a single-field index read from the store (persistence).
type storedSingle struct {
	db     *DB
	t      *table
	typ    Type
	prefix []byte
	ov     overlay
	n      int // entries (stored in the table's count record)
}

func (x *storedSingle) entry(k tv, id int64) []byte {
	var b [32]byte
	return appendSingleEntry(b[:0], x.typ, k, id)
}

func (x *storedSingle) add(k tv, id int64) {
	x.db.ovSet(x.t, &x.ov, x.entry(k, id), false)
	x.n++
}

func (x *storedSingle) del(k tv, id int64) {
	x.db.ovSet(x.t, &x.ov, x.entry(k, id), true)
	x.n--
}

func (x *storedSingle) len() int     { return x.n }
func (x *storedSingle) bytes() int64 { return 0 } // the overlay is counted as it changes
func (x *storedSingle) clear()       { x.n = 0 }

// valueKey is the stored encoding of a key value without an id: every
// entry of that value sorts at or after it.
func (x *storedSingle) valueKey(k tv) []byte {
	b := appendSingleEntry(nil, x.typ, k, 0)
	return b[:len(b)-8]
}

// afterValue sorts after every entry of value k and before any larger value.
func (x *storedSingle) afterValue(k tv) []byte {
	return append(x.valueKey(k), 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
}

func (x *storedSingle) scan(r krange, desc bool, fn func(k tv, id int64) bool) error {
	var lo, hi []byte
	if r.lo.set {
		lo = x.valueKey(r.lo.k)
	}
	if r.hi.set {
		hi = x.afterValue(r.hi.k)
	}
	var derr error
	err := x.db.scanStored(&x.ov, x.prefix, lo, hi, desc, func(e []byte) bool {
		k, id, ok := decodeSingleEntry(x.typ, e)
		if !ok {
			derr = errCorruptIndex
			return false
		}
		if !desc {
			if r.below(x.typ, k) {
				return true
			}
			if r.above(x.typ, k) {
				return false
			}
		} else {
			if r.above(x.typ, k) {
				return true
			}
			if r.below(x.typ, k) {
				return false
			}
		}
		return fn(k, id)
	})
	if err == nil {
		err = derr
	}
	return err
}

func (x *storedSingle) other(k tv, exclude int64) (found int64, ok bool, err error) {
	err = x.scan(krange{lo: bound{k: k, set: true, incl: true}, hi: bound{k: k, set: true, incl: true}}, false,
		func(_ tv, id int64) bool {
			if id == exclude {
				return true
			}
			found, ok = id, true
			return false
		})
	return found, ok, err
}

// ---- stored composite index ----

// storedComp is a composite index read from the store (persistence).
type storedComp struct {
	db     *DB
	t      *table
	prefix []byte
	ov     overlay
}

func (x *storedComp) set(e compEnt, del bool) {
	var b [32]byte
	x.db.ovSet(x.t, &x.ov, appendCompEntry(b[:0], e), del)
}

func (x *storedComp) scan(c *compIndex, a uint64, r krange, desc bool, fn func(b tv, present bool, id int64) bool) error {
	var lb, hb [32]byte
	lo := appendU64(lb[:0], a)
	if !desc && r.lo.set {
		lo = appendU64(append(lo, 1), r.lo.k.n)
	}
	hi := appendU64(hb[:0], a)
	if desc && r.hi.set {
		hi = append(appendU64(append(hi, 1), r.hi.k.n), 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
	} else {
		hi = append(hi, 0xFF)
	}
	var derr error
	err := x.db.scanStored(&x.ov, x.prefix, lo, hi, desc, func(b []byte) bool {
		e, ok := decodeCompEntry(b)
		if !ok {
			derr = errCorruptIndex
			return false
		}
		return c.visit(e, a, r, desc, fn)
	})
	if err == nil {
		err = derr
	}
	return err
}

func appendU64(dst []byte, v uint64) []byte {
	return append(dst, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

var errCorruptIndex = Error("ERR a stored index entry does not decode (the data directory is damaged)")
