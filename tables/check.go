package tables

import (
	"fmt"
	"hash/maphash"
)

// Check reads every row and every index entry of every table and reports
// the first disagreement: a row that does not decode, a row count or an
// index's entries that do not match the rows (compared by number and by an
// order-independent sum of hashes, so no row is held while its entries are
// found). Nothing runs it at start-up — each command's rows, entries and
// counts are one crash-atomic batch, so they agree after any crash — but
// tests do, after crashes and restarts. The caller holds the read lock.
func (db *DB) Check() error {
	for _, name := range db.names {
		t := db.tables[name]
		if err := db.checkTable(t); err != nil {
			return fmt.Errorf("tables: table %q: %w", t.name, err)
		}
	}
	return nil
}

func (db *DB) checkTable(t *table) error {
	seed := maphash.MakeSeed()
	single := func(typ Type, k tv, id int64) uint64 {
		h := k.n
		if typ == TypeStr {
			h = maphash.String(seed, k.s)
		}
		return mix64(mix64(h) ^ uint64(id))
	}
	comp := func(e compEnt) uint64 { return mix64(mix64(mix64(e.a)^e.b) ^ e.idp) }
	type sum struct {
		n int
		h uint64
	}
	want := map[any]*sum{}
	add := func(m map[any]*sum, idx any, h uint64) {
		s := m[idx]
		if s == nil {
			s = &sum{}
			m[idx] = s
		}
		s.n++
		s.h += h
	}
	rows := 0
	var bad error
	err := db.scanRows(t, true, func(id int64, data string) bool {
		rows++
		ents, ok := decodeRow(data, nil)
		if !ok {
			bad = fmt.Errorf("row %d does not decode", id)
			return false
		}
		for _, e := range ents {
			f := t.fieldOf(e.fid)
			if f == nil || f.idx == nil {
				continue
			}
			k, ok := canonKey(f.typ, e.val)
			if !ok {
				bad = fmt.Errorf("row %d: bad value of %s", id, f.name)
				return false
			}
			add(want, f, single(f.typ, k, id))
		}
		for _, c := range t.comps {
			if e, ok := rowCompEntry(c, data, id); ok {
				add(want, c, comp(e))
			}
		}
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return err
	}
	if rows != t.count {
		return fmt.Errorf("%d rows, counted %d", rows, t.count)
	}
	got := map[any]*sum{}
	for _, f := range t.fields {
		if f.idx == nil {
			continue
		}
		n := 0
		if err := f.idx.scan(krange{}, false, func(k tv, id int64) bool {
			n++
			add(got, f, single(f.typ, k, id))
			return true
		}); err != nil {
			return err
		}
		if n != f.idx.len() {
			return fmt.Errorf("index %s: %d entries, counted %d", f.name, n, f.idx.len())
		}
	}
	for _, c := range t.comps {
		if err := c.all(func(e compEnt) bool {
			add(got, c, comp(e))
			return true
		}); err != nil {
			return err
		}
	}
	check := func(idx any, what string) error {
		var w, g sum
		if s := want[idx]; s != nil {
			w = *s
		}
		if s := got[idx]; s != nil {
			g = *s
		}
		if w != g {
			return fmt.Errorf("index %s does not match the rows (%d entries, %d called for)", what, g.n, w.n)
		}
		return nil
	}
	for _, f := range t.fields {
		if f.idx != nil {
			if err := check(f, f.name); err != nil {
				return err
			}
		}
	}
	for _, c := range t.comps {
		if err := check(c, "("+c.r.name+", "+c.n.name+")"); err != nil {
			return err
		}
	}
	return nil
}

// all visits every entry of c in order.
func (x *compIndex) all(fn func(e compEnt) bool) error {
	if x.s == nil {
		x.t.Ascend(fn)
		return nil
	}
	var derr error
	err := x.s.db.scanStored(&x.s.ov, x.s.prefix, nil, nil, false, func(b []byte) bool {
		e, ok := decodeCompEntry(b)
		if !ok {
			derr = errCorruptIndex
			return false
		}
		return fn(e)
	})
	if err == nil {
		err = derr
	}
	return err
}

// mix64 is a 64-bit finalizer (splitmix64's).
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
