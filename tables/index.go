package tables

import (
	"cmp"
	"math"
	"strings"

	"github.com/google/btree"
)

// Without persistence indexes live in memory as B-trees of fixed-size entries
// (no per-entry heap allocation for numeric keys). With persistence the
// stored entries (keys.go) are the index, read from Pebble with the writes
// not committed yet merged in (stored.go). Entries are ordered by (value,
// id), so the rows holding one value come out in id order, which is TQUERY's
// default order.

const btreeDegree = 32

// Memory an index entry is counted for (the store's used memory): the
// entry's bytes twice over, as B-tree nodes filled by appends at the end
// of each value's run are half full (measured: 52, 36 and 53 + len bytes).
const (
	compEntBytes = 52 // composite entry
	numEntBytes  = 36 // single-field entry of a numeric key
	strEntBytes  = 48 // single-field entry of a string key, plus its length
)

// bound is one end of a key range.
type bound struct {
	k    tv
	set  bool // false: unbounded
	incl bool
}

// krange is a range of key values; the zero value is everything.
type krange struct{ lo, hi bound }

func (r krange) bounded() bool { return r.lo.set || r.hi.set }

// below reports whether k is before the range's low end.
func (r krange) below(t Type, k tv) bool {
	if !r.lo.set {
		return false
	}
	c := cmpTV(t, k, r.lo.k)
	return c < 0 || c == 0 && !r.lo.incl
}

// above reports whether k is after the range's high end.
func (r krange) above(t Type, k tv) bool {
	if !r.hi.set {
		return false
	}
	c := cmpTV(t, k, r.hi.k)
	return c > 0 || c == 0 && !r.hi.incl
}

// singleIndex indexes one field (every unique field and every ref field):
// unique checks, RESTRICT checks, equality and range predicates, ORDER BY.
// Rows without the field have no entry.
type singleIndex interface {
	add(k tv, id int64)
	del(k tv, id int64)
	len() int
	// scan visits the entries with keys in r, ascending by (key, id) or
	// descending by (key, id), until fn returns false; a stored index
	// returns the error of reading it.
	scan(r krange, desc bool, fn func(k tv, id int64) bool) error
	// other returns a row other than exclude holding key k.
	other(k tv, exclude int64) (int64, bool, error)
	clear()
	// bytes is the memory the entries are counted for.
	bytes() int64
}

type ordEnt[K cmp.Ordered] struct {
	v  K
	id int64
}

func ordLess[K cmp.Ordered](a, b ordEnt[K]) bool {
	if a.v != b.v {
		return a.v < b.v
	}
	return a.id < b.id
}

// sidx is a single-field index over numeric keys (uint64) or strings.
type sidx[K cmp.Ordered] struct {
	t   *btree.BTreeG[ordEnt[K]]
	typ Type
	mem int64
}

// newSingleIndex makes f's index: stored with persistence, else in memory.
func newSingleIndex(db *DB, t *table, f *field) singleIndex {
	if db != nil && db.persist {
		return &storedSingle{db: db, t: t, typ: f.typ, prefix: singlePrefix(nil, t.tid, f.fid)}
	}
	return newMemIndex(f.typ)
}

func newMemIndex(t Type) singleIndex {
	if t == TypeStr {
		return &sidx[string]{t: btree.NewG(btreeDegree, ordLess[string]), typ: t}
	}
	return &sidx[uint64]{t: btree.NewG(btreeDegree, ordLess[uint64]), typ: t}
}

func kOf[K cmp.Ordered](k tv) K {
	var z K
	switch p := any(&z).(type) {
	case *uint64:
		*p = k.n
	case *string:
		*p = k.s
	}
	return z
}

func tvOf[K cmp.Ordered](v K) tv {
	switch p := any(v).(type) {
	case uint64:
		return tv{n: p}
	case string:
		return tv{s: p}
	}
	return tv{}
}

func entBytes[K cmp.Ordered](v K) int64 {
	if s, ok := any(v).(string); ok {
		return strEntBytes + int64(len(s))
	}
	return numEntBytes
}

func (x *sidx[K]) add(k tv, id int64) {
	if x.typ == TypeStr {
		// a key cut from a row's data would keep the whole row in memory
		// after the row leaves the cache
		k.s = strings.Clone(k.s)
	}
	e := ordEnt[K]{kOf[K](k), id}
	if _, replaced := x.t.ReplaceOrInsert(e); !replaced {
		x.mem += entBytes(e.v)
	}
}

func (x *sidx[K]) del(k tv, id int64) {
	if e, ok := x.t.Delete(ordEnt[K]{kOf[K](k), id}); ok {
		x.mem -= entBytes(e.v)
	}
}

func (x *sidx[K]) len() int     { return x.t.Len() }
func (x *sidx[K]) bytes() int64 { return x.mem }
func (x *sidx[K]) clear()       { x.t.Clear(false); x.mem = 0 }

func (x *sidx[K]) scan(r krange, desc bool, fn func(k tv, id int64) bool) error {
	if !desc {
		visit := func(e ordEnt[K]) bool {
			k := tvOf(e.v)
			if r.below(x.typ, k) {
				return true
			}
			if r.above(x.typ, k) {
				return false
			}
			return fn(k, e.id)
		}
		if r.lo.set {
			x.t.AscendGreaterOrEqual(ordEnt[K]{kOf[K](r.lo.k), math.MinInt64}, visit)
		} else {
			x.t.Ascend(visit)
		}
		return nil
	}
	visit := func(e ordEnt[K]) bool {
		k := tvOf(e.v)
		if r.above(x.typ, k) {
			return true
		}
		if r.below(x.typ, k) {
			return false
		}
		return fn(k, e.id)
	}
	if r.hi.set {
		x.t.DescendLessOrEqual(ordEnt[K]{kOf[K](r.hi.k), math.MaxInt64}, visit)
	} else {
		x.t.Descend(visit)
	}
	return nil
}

func (x *sidx[K]) other(k tv, exclude int64) (found int64, ok bool, err error) {
	v := kOf[K](k)
	x.t.AscendGreaterOrEqual(ordEnt[K]{v, math.MinInt64}, func(e ordEnt[K]) bool {
		if e.v != v {
			return false
		}
		if e.id == exclude {
			return true
		}
		found, ok = e.id, true
		return false
	})
	return found, ok, nil
}

// compEnt is one entry of a composite (ref, numeric) index. idp is the row
// id with the top bit set when the row has the numeric field: rows without
// it sort first within a ref value, as ORDER BY ASC puts missing values first.
type compEnt struct {
	a, b uint64
	idp  uint64
}

const hasB = uint64(1) << 63

func compLess(x, y compEnt) bool {
	if x.a != y.a {
		return x.a < y.a
	}
	if px, py := x.idp&hasB, y.idp&hasB; px != py {
		return px < py
	}
	if x.b != y.b {
		return x.b < y.b
	}
	return x.idp < y.idp
}

// compIndex indexes (ref field, numeric field, id) for every row that has the
// ref field: `WHERE ref = X ORDER BY num [DESC] LIMIT k` reads about k
// entries, however many rows have ref = X. In memory (t) without
// persistence, stored (s) with it.
type compIndex struct {
	r, n *field
	t    *btree.BTreeG[compEnt]
	s    *storedComp
}

// newCompIndex makes table t's (r, n) index: stored with persistence, else
// in memory.
func newCompIndex(db *DB, t *table, r, n *field) *compIndex {
	if db != nil && db.persist {
		return &compIndex{r: r, n: n, s: &storedComp{db: db, t: t, prefix: compPrefix(nil, t.tid, r.fid, n.fid)}}
	}
	return &compIndex{r: r, n: n, t: btree.NewG(btreeDegree, compLess)}
}

func compEntry(a uint64, b tv, present bool, id int64) compEnt {
	e := compEnt{a: a, idp: uint64(id)}
	if present {
		e.b, e.idp = b.n, e.idp|hasB
	}
	return e
}

func (x *compIndex) add(e compEnt) {
	if x.s != nil {
		x.s.set(e, false)
		return
	}
	x.t.ReplaceOrInsert(e)
}

func (x *compIndex) del(e compEnt) {
	if x.s != nil {
		x.s.set(e, true)
		return
	}
	x.t.Delete(e)
}

// len is the number of entries of an in-memory index (tests).
func (x *compIndex) len() int {
	if x.t == nil {
		return 0
	}
	return x.t.Len()
}

// bytes is the memory an in-memory index is counted for (a stored index's
// overlay is counted as it changes).
func (x *compIndex) bytes() int64 {
	if x.t == nil {
		return 0
	}
	return int64(x.t.Len()) * compEntBytes
}

func (x *compIndex) clear() {
	if x.t != nil {
		x.t.Clear(false)
	}
}

// visit filters one entry of a scan of ref value a over range r in the
// given direction: it calls fn for an entry in range and reports whether
// the scan goes on.
func (x *compIndex) visit(e compEnt, a uint64, r krange, desc bool, fn func(b tv, present bool, id int64) bool) bool {
	if e.a != a {
		return false
	}
	t := x.n.typ
	id := int64(e.idp &^ hasB)
	if e.idp&hasB == 0 {
		if r.bounded() {
			return !desc // missing values sort first: ascending, the range is ahead
		}
		return fn(tv{}, false, id)
	}
	k := tv{n: e.b}
	if !desc {
		if r.below(t, k) {
			return true
		}
		if r.above(t, k) {
			return false
		}
	} else {
		if r.above(t, k) {
			return true
		}
		if r.below(t, k) {
			return false
		}
	}
	return fn(k, true, id)
}

// scan visits the entries with ref value a whose numeric value is in r (rows
// without the numeric value only when r is unbounded: they match no range),
// ascending or descending, until fn returns false.
func (x *compIndex) scan(a uint64, r krange, desc bool, fn func(b tv, present bool, id int64) bool) error {
	if x.s != nil {
		return x.s.scan(x, a, r, desc, fn)
	}
	visit := func(e compEnt) bool { return x.visit(e, a, r, desc, fn) }
	if !desc {
		start := compEnt{a: a}
		if r.lo.set {
			start = compEnt{a: a, b: r.lo.k.n, idp: hasB}
		}
		x.t.AscendGreaterOrEqual(start, visit)
		return nil
	}
	start := compEnt{a: a, b: math.MaxUint64, idp: math.MaxUint64}
	if r.hi.set {
		start = compEnt{a: a, b: r.hi.k.n, idp: math.MaxUint64}
	}
	x.t.DescendLessOrEqual(start, visit)
	return nil
}
