package tables

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
)

// load reads every stored table: schemas, id sequences, which rows exist,
// and the index entries into the in-memory indexes. Rows are read once, to
// check them and to check the indexes against them, and (with persistence)
// not kept: they load on access (cache.go). Each index is checked against
// the rows by count and by an order-independent sum of hashes of its
// entries, computed from the rows on one side and from the stored entries
// on the other, so no row has to be held while its entries are found; an
// index that does not match is rebuilt from the rows and rewritten, so a
// damaged index can never answer a query wrongly.
//
// scan is storage's TableScan (a parameter so that tests can load any key
// set).
func (db *DB) load(scan func(prefix []byte, fn func(k, v []byte) bool) error) error {
	var (
		cur     *table
		loadErr error
		stale   [][]byte
		staleT  = map[uint32]bool{}
		chk     = newIndexCheck()
		n       int
	)
	var all []*table
	err := scan(nil, func(k, v []byte) bool {
		if n++; n&4095 == 0 && db.stop.Load() {
			loadErr = errors.New("tables: loading stopped")
			return false
		}
		switch {
		case len(k) == 1 && k[0] == kNextTable:
			if len(v) == 8 {
				n := binary.BigEndian.Uint64(v)
				if n > maxTableID {
					loadErr = fmt.Errorf("tables: next table id %d out of range", n)
					return false
				}
				if uint32(n) > db.nextTid {
					db.nextTid = uint32(n)
				}
			}
			return true
		case len(k) >= 6 && k[0] == kTable:
		default:
			stale = append(stale, append([]byte(nil), k...))
			return true
		}
		tid := binary.BigEndian.Uint32(k[1:5])
		if tid >= maxTableID {
			loadErr = fmt.Errorf("tables: table id %d out of range", tid)
			return false
		}
		if tid >= db.nextTid {
			db.nextTid = tid + 1
		}
		if cur == nil || cur.tid != tid {
			cur = nil
			if k[5] != kSchema {
				// keys of a table without a schema: leftovers, removed below
				if !staleT[tid] {
					staleT[tid] = true
					stale = append(stale, tablePrefix(nil, tid))
				}
				return true
			}
			t, err := decodeSchema(tid, string(v))
			if err != nil {
				loadErr = fmt.Errorf("tables: table id %d: %w", tid, err)
				return false
			}
			if db.tables[t.name] != nil {
				loadErr = fmt.Errorf("tables: table %q stored twice", t.name)
				return false
			}
			cur = t
			db.tables[t.name] = t
			db.register(t)
			all = append(all, t)
			return true
		}
		switch k[5] {
		case kSeq:
			// the sequence sorts before the rows, which it bounds
			s := int64(-1)
			if len(v) == 8 {
				s = int64(binary.BigEndian.Uint64(v))
			}
			if len(k) != 6 || s < 0 || s > maxRowID {
				loadErr = fmt.Errorf("tables: table %q: corrupt id sequence", cur.name)
				return false
			}
			cur.seq = s
		case kRow:
			if len(k) != 14 {
				loadErr = fmt.Errorf("tables: table %q: bad row key", cur.name)
				return false
			}
			id := int64(binary.BigEndian.Uint64(k[6:]))
			if id <= 0 || id > cur.seq {
				// TINSERT writes the sequence in the row's batch: a row
				// past it is damage, and must not size cur.rows
				loadErr = fmt.Errorf("tables: table %q: row %d beyond the id sequence (%d)", cur.name, id, cur.seq)
				return false
			}
			if err := db.loadRow(cur, id, v, chk); err != nil {
				loadErr = err
				return false
			}
		case kIndex:
			db.loadIndexEntry(cur, k, chk, &stale)
		default:
			stale = append(stale, append([]byte(nil), k...))
		}
		return true
	})
	if err == nil {
		err = loadErr
	}
	for _, t := range all {
		db.syncPinned(t)
	}
	if err != nil {
		return err
	}
	// rebuild every index whose entries do not match the rows
	for _, t := range all {
		for _, f := range t.fields {
			if f.idx == nil {
				continue
			}
			if want, got, ok := chk.result(f); !ok {
				db.repairs = append(db.repairs, fmt.Sprintf("index %s(%s) did not match the rows (%d entries, %d rows with the field): rebuilt",
					t.name, f.name, got, want))
				if err := db.rebuildSingle(t, f); err != nil {
					return err
				}
			}
		}
		for _, c := range t.comps {
			if want, got, ok := chk.result(c); !ok {
				db.repairs = append(db.repairs, fmt.Sprintf("index %s(%s, %s) did not match the rows (%d entries, %d rows with %s): rebuilt",
					t.name, c.r.name, c.n.name, got, want, c.r.name))
				if err := db.rebuildComp(t, c); err != nil {
					return err
				}
			}
		}
		db.syncPinned(t)
	}
	if len(stale) > 0 {
		db.repairs = append(db.repairs, fmt.Sprintf("removed %d stored key ranges no table owns", len(stale)))
	}
	for _, p := range stale {
		db.delPrefix(p)
	}
	db.commit()
	return nil
}

// loadRow checks stored row id of t (v is only valid during the call),
// adds the index entries it calls for to chk, and marks the row stored
// (with persistence; without, the row is kept in memory).
func (db *DB) loadRow(t *table, id int64, v []byte, chk *indexCheck) error {
	ents, ok := decodeRow(unsafeString(v), db.ents[:0])
	if !ok {
		return fmt.Errorf("tables: table %q: corrupt row %d", t.name, id)
	}
	keep := ents[:0]
	for _, e := range ents {
		f := t.fieldOf(e.fid)
		if f == nil {
			continue // a dropped field's value
		}
		k, ok := canonKey(f.typ, e.val)
		if !ok {
			return fmt.Errorf("tables: table %q: corrupt value in row %d", t.name, id)
		}
		keep = append(keep, e)
		if f.idx != nil {
			chk.want(f, chk.single(f.typ, k, id))
		}
	}
	data := unsafeString(v)
	if len(keep) != len(ents) {
		data = string(encodeRow(nil, keep))
	}
	db.ents = ents[:0]
	for _, c := range t.comps {
		if e, ok := rowCompEntry(c, data, id); ok {
			chk.want(c, chk.comp(e))
		}
	}
	if db.persist {
		db.markStored(t, id)
	} else {
		db.setRow(t, id, strings.Clone(data))
	}
	t.count++
	return nil
}

// loadIndexEntry adds one stored index entry to its in-memory index and to
// chk; an entry that does not decode marks the index for a rebuild, an
// entry of an index the schema lacks is deleted.
func (db *DB) loadIndexEntry(t *table, k []byte, chk *indexCheck, stale *[][]byte) {
	rest := k[6:]
	switch {
	case len(rest) >= 5 && rest[0] == kSingle:
		f := t.fieldOf(binary.BigEndian.Uint32(rest[1:5]))
		if f == nil || f.idx == nil {
			*stale = append(*stale, append([]byte(nil), k[:11]...))
			return
		}
		kv, id, ok := decodeSingleEntry(f.typ, rest[5:])
		if !ok {
			chk.bad[f] = true
			return
		}
		f.idx.add(kv, id)
		chk.got(f, chk.single(f.typ, kv, id))
	case len(rest) >= 9 && rest[0] == kComp:
		r := t.fieldOf(binary.BigEndian.Uint32(rest[1:5]))
		n := t.fieldOf(binary.BigEndian.Uint32(rest[5:9]))
		var c *compIndex
		if r != nil && n != nil {
			c = t.compFor(r, n)
		}
		if c == nil {
			*stale = append(*stale, append([]byte(nil), k[:15]...))
			return
		}
		e, ok := decodeCompEntry(rest[9:])
		if !ok {
			chk.bad[c] = true
			return
		}
		c.add(e)
		chk.got(c, chk.comp(e))
	default:
		*stale = append(*stale, append([]byte(nil), k...))
	}
}

// indexCheck compares, per index (a *field or a *compIndex), the entries
// the rows call for with the stored ones: their number and the sum of
// their hashes, which does not depend on the order they come in.
type indexCheck struct {
	seed        maphash.Seed
	salt        uint64
	wants, gots map[any]*entrySum
	bad         map[any]bool
}

type entrySum struct {
	n   int
	sum uint64
}

func newIndexCheck() *indexCheck {
	seed := maphash.MakeSeed()
	return &indexCheck{seed: seed, salt: maphash.String(seed, "salt"),
		wants: map[any]*entrySum{}, gots: map[any]*entrySum{}, bad: map[any]bool{}}
}

func add(m map[any]*entrySum, idx any, h uint64) {
	s := m[idx]
	if s == nil {
		s = &entrySum{}
		m[idx] = s
	}
	s.n++
	s.sum += h
}

func (c *indexCheck) want(idx any, h uint64) { add(c.wants, idx, h) }
func (c *indexCheck) got(idx any, h uint64)  { add(c.gots, idx, h) }

// result returns the entries the rows call for and the stored ones, and
// whether they match.
func (c *indexCheck) result(idx any) (want, got int, ok bool) {
	var w, g entrySum
	if s := c.wants[idx]; s != nil {
		w = *s
	}
	if s := c.gots[idx]; s != nil {
		g = *s
	}
	return w.n, g.n, !c.bad[idx] && w == g
}

// mix64 is a 64-bit finalizer (splitmix64's).
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (c *indexCheck) single(t Type, k tv, id int64) uint64 {
	h := k.n
	if t == TypeStr {
		h = maphash.String(c.seed, k.s)
	}
	return mix64(mix64(h^c.salt) ^ uint64(id))
}

func (c *indexCheck) comp(e compEnt) uint64 {
	return mix64(mix64(mix64(e.a^c.salt)^e.b) ^ e.idp)
}

func (db *DB) rebuildSingle(t *table, f *field) error {
	f.idx.clear()
	db.delPrefix(singlePrefix(nil, t.tid, f.fid))
	return db.scanRows(t, true, func(id int64, data string) bool {
		if v, ok := rowValue(data, f.fid); ok {
			k, _ := canonKey(f.typ, v)
			f.idx.add(k, id)
			db.singleOp(wSet, t, f, k, id)
		}
		return true
	})
}

func (db *DB) rebuildComp(t *table, c *compIndex) error {
	c.clear()
	db.delPrefix(compPrefix(nil, t.tid, c.r.fid, c.n.fid))
	return db.scanRows(t, true, func(id int64, data string) bool {
		if e, ok := rowCompEntry(c, data, id); ok {
			c.add(e)
			db.compOp(wSet, t, c, e)
		}
		return true
	})
}
