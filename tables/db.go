// Package tables is Lux's relational table engine: typed schemas, rows,
// unique and ref() integrity checks, in-memory indexes and the TQUERY
// parser, planner and executor.
//
// Everything is kept in memory (rows as compact encoded strings, indexes as
// B-trees) and every change is also written through storage.TableWrite, one
// crash-atomic batch per command, so a restart loads exactly the state the
// acknowledged commands left (Open). The engine is not safe for concurrent
// use by itself: the caller holds the DB's lock for the whole command
// (RLock for reads, Lock for writes), which makes every check and the write
// it guards atomic.
package tables

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/luxdb/lux-go/storage"
)

// Writer receives a command's reply (the server's client connection).
type Writer interface {
	WriteArray(n int)
	WriteInt64(n int64)
	WriteBulkString(s string)
}

// DB is the table engine of one store.
type DB struct {
	mu      sync.RWMutex
	store   *storage.Store
	persist bool
	tables  map[string]*table
	names   []string // sorted table names, for TLIST and deterministic checks
	nextTid uint32

	// Now returns the current epoch milliseconds (`*` timestamps); tests
	// may replace it before first use.
	Now func() int64

	// the running write command's durable writes (caller holds mu)
	wb      []byte
	wops    []wop
	writeFn func(storage.TableWriter)
	vals    []pval
	ents    []rowEnt
	stamp   uint64

	repairs []string // what loading found damaged and rebuilt
}

type wop struct {
	kind       uint8
	k0, k1, v1 int // key wb[k0:k1], value wb[k1:v1]
}

const (
	wSet = iota
	wDel
	wDelPrefix
)

// pval is one parsed field/value pair of TINSERT or TUPDATE.
type pval struct {
	f     *field
	canon string
	k     tv
}

// Open loads every table from store. The returned DB is usable even when
// err is non-nil (it then holds whatever loaded before the error); the
// caller decides whether to serve it.
func Open(store *storage.Store) (*DB, error) {
	db := &DB{store: store, persist: store != nil && store.Persistent(), tables: map[string]*table{}, nextTid: 1,
		Now: func() int64 { return time.Now().UnixMilli() }}
	db.writeFn = db.flushOps
	if !db.persist {
		return db, nil
	}
	err := db.load(store.TableScan)
	db.refreshNames()
	return db, err
}

// Lock takes the engine's write lock (write commands, EXEC).
func (db *DB) Lock() { db.mu.Lock() }

// Unlock releases the write lock.
func (db *DB) Unlock() { db.mu.Unlock() }

// RLock takes the engine's read lock (read-only commands).
func (db *DB) RLock() { db.mu.RLock() }

// RUnlock releases the read lock.
func (db *DB) RUnlock() { db.mu.RUnlock() }

func (db *DB) refreshNames() {
	db.names = db.names[:0]
	for n := range db.tables {
		db.names = append(db.names, n)
	}
	sort.Strings(db.names)
}

// ---- durable write batch ----

func (db *DB) addOp(kind uint8, k0, k1 int) {
	db.wops = append(db.wops, wop{kind: kind, k0: k0, k1: k1, v1: len(db.wb)})
}

// putRow records row id = data.
func (db *DB) putRow(t *table, id int64, data string) {
	if !db.persist {
		return
	}
	k0 := len(db.wb)
	db.wb = rowKey(db.wb, t.tid, id)
	k1 := len(db.wb)
	db.wb = append(db.wb, data...)
	db.addOp(wSet, k0, k1)
}

func (db *DB) delRow(t *table, id int64) {
	if !db.persist {
		return
	}
	k0 := len(db.wb)
	db.wb = rowKey(db.wb, t.tid, id)
	db.addOp(wDel, k0, len(db.wb))
}

func (db *DB) putSeq(t *table) {
	if !db.persist {
		return
	}
	k0 := len(db.wb)
	db.wb = seqKey(db.wb, t.tid)
	k1 := len(db.wb)
	db.wb = binary.BigEndian.AppendUint64(db.wb, uint64(t.seq))
	db.addOp(wSet, k0, k1)
}

func (db *DB) putSchema(t *table) {
	if !db.persist {
		return
	}
	k0 := len(db.wb)
	db.wb = schemaKey(db.wb, t.tid)
	k1 := len(db.wb)
	db.wb = encodeSchema(db.wb, t)
	db.addOp(wSet, k0, k1)
}

func (db *DB) putNextTid() {
	if !db.persist {
		return
	}
	k0 := len(db.wb)
	db.wb = append(db.wb, kNextTable)
	k1 := len(db.wb)
	db.wb = binary.BigEndian.AppendUint64(db.wb, uint64(db.nextTid))
	db.addOp(wSet, k0, k1)
}

// singleOp records the set or deletion of a single-index entry.
func (db *DB) singleOp(kind uint8, t *table, f *field, k tv, id int64) {
	if !db.persist {
		return
	}
	k0 := len(db.wb)
	db.wb = singlePrefix(db.wb, t.tid, f.fid)
	db.wb = appendSingleEntry(db.wb, f.typ, k, id)
	db.addOp(kind, k0, len(db.wb))
}

// compOp records the set or deletion of a composite-index entry.
func (db *DB) compOp(kind uint8, t *table, c *compIndex, e compEnt) {
	if !db.persist {
		return
	}
	k0 := len(db.wb)
	db.wb = compPrefix(db.wb, t.tid, c.r.fid, c.n.fid)
	db.wb = appendCompEntry(db.wb, e)
	db.addOp(kind, k0, len(db.wb))
}

// delPrefix records the deletion of every stored key starting with the key
// built by mk.
func (db *DB) delPrefix(p []byte) {
	if !db.persist {
		return
	}
	k0 := len(db.wb)
	db.wb = append(db.wb, p...)
	db.addOp(wDelPrefix, k0, len(db.wb))
}

// commit hands the command's writes to storage as one crash-atomic group.
func (db *DB) commit() {
	if len(db.wops) > 0 {
		db.store.TableWrite(db.writeFn)
	}
	db.wops = db.wops[:0]
	if cap(db.wb) > 1<<20 {
		db.wb = nil // don't pin a huge buffer after a TALTER or a bulk repair
	} else {
		db.wb = db.wb[:0]
	}
}

func (db *DB) flushOps(w storage.TableWriter) {
	for _, op := range db.wops {
		k := db.wb[op.k0:op.k1]
		switch op.kind {
		case wSet:
			w.Set(k, db.wb[op.k1:op.v1])
		case wDel:
			w.Delete(k)
		case wDelPrefix:
			w.DeletePrefix(k)
		}
	}
}

// ---- commands ----

func (db *DB) table(name []byte) (*table, error) {
	t := db.tables[string(name)]
	if t == nil {
		return nil, errNoTable(name)
	}
	return t, nil
}

// Create is TCREATE: a new table with the given field specs.
func (db *DB) Create(name []byte, specs [][]byte) error {
	if !validName(name) {
		return ErrInvalidTableName
	}
	if db.tables[string(name)] != nil {
		return errTableExists(name)
	}
	if db.nextTid >= maxTableID {
		return ErrTableIDs
	}
	t := newTable(db.nextTid, string(name))
	for _, spec := range specs {
		f, err := parseSpec(spec)
		if err != nil {
			return err
		}
		if t.byName[f.name] != nil {
			return errDupField([]byte(f.name))
		}
		t.addField(f)
	}
	t.rerank()
	t.initIndexes()
	db.nextTid++
	db.tables[t.name] = t
	db.refreshNames()
	db.putNextTid()
	db.putSchema(t)
	db.putSeq(t)
	db.commit()
	return nil
}

// parsePairs type-checks field/value pairs into db.vals (a repeated field:
// the last value wins).
func (db *DB) parsePairs(t *table, pairs [][]byte) error {
	db.vals = db.vals[:0]
	db.stamp++ // marks the fields seen in this call (field.mark)
	now := int64(0)
	for i := 0; i+1 < len(pairs); i += 2 {
		f := t.byName[string(pairs[i])]
		if f == nil {
			return errUnknownField(pairs[i])
		}
		if f.typ == TypeTimestamp && now == 0 {
			now = db.Now()
		}
		canon, k, err := parseValue(f, pairs[i+1], now)
		if err != nil {
			return err
		}
		pv := pval{f: f, canon: canon, k: k}
		if f.mark == db.stamp {
			db.vals[f.slot] = pv
			continue
		}
		f.mark, f.slot = db.stamp, len(db.vals)
		db.vals = append(db.vals, pv)
	}
	return nil
}

// checkRefs checks the ref values of db.vals. selfID is the id the row being
// written has (or will have): a row may reference itself.
func (db *DB) checkRefs(t *table, selfID int64) error {
	for _, v := range db.vals {
		if v.f.typ != TypeRef {
			continue
		}
		id := keyInt(v.k.n)
		target := db.tables[v.f.ref]
		ok := target != nil && (target == t && id == selfID)
		if !ok && target != nil {
			_, ok = target.row(id)
		}
		if !ok {
			return errFK(v.f.name, v.canon, v.f.ref)
		}
	}
	return nil
}

// checkUnique checks the unique values of db.vals against rows other than selfID.
func (db *DB) checkUnique(selfID int64) error {
	for _, v := range db.vals {
		if v.f.unique {
			if _, taken := v.f.idx.other(v.k, selfID); taken {
				return errUnique(v.f.name)
			}
		}
	}
	return nil
}

// Insert is TINSERT: it returns the new row's id.
func (db *DB) Insert(name []byte, pairs [][]byte) (int64, error) {
	t, err := db.table(name)
	if err != nil {
		return 0, err
	}
	if err := db.parsePairs(t, pairs); err != nil {
		return 0, err
	}
	id := t.seq + 1
	if err := db.checkRefs(t, id); err != nil {
		return 0, err
	}
	if err := db.checkUnique(0); err != nil {
		return 0, err
	}
	db.ents = db.ents[:0]
	for _, v := range db.vals {
		db.ents = append(db.ents, rowEnt{fid: v.f.fid, val: v.canon})
	}
	sortByFid(db.ents)
	data := string(encodeRow(nil, db.ents))
	t.seq = id
	t.setRow(id, data)
	t.count++
	for _, v := range db.vals {
		if v.f.idx != nil {
			v.f.idx.add(v.k, id)
			db.singleOp(wSet, t, v.f, v.k, id)
		}
	}
	for _, c := range t.comps {
		if e, ok := db.compEntryOf(c, id); ok {
			c.add(e)
			db.compOp(wSet, t, c, e)
		}
	}
	db.putSeq(t)
	db.putRow(t, id, data)
	db.commit()
	return id, nil
}

// compEntryOf builds c's entry for row id from db.vals; ok is false when the
// row has no value for c's ref field.
func (db *DB) compEntryOf(c *compIndex, id int64) (compEnt, bool) {
	var r, n *pval
	for i := range db.vals {
		switch db.vals[i].f {
		case c.r:
			r = &db.vals[i]
		case c.n:
			n = &db.vals[i]
		}
	}
	if r == nil {
		return compEnt{}, false
	}
	if n == nil {
		return compEntry(r.k.n, tv{}, false, id), true
	}
	return compEntry(r.k.n, n.k, true, id), true
}

// rowCompEntry builds c's entry for a stored row.
func rowCompEntry(c *compIndex, data string, id int64) (compEnt, bool) {
	rv, ok := rowValue(data, c.r.fid)
	if !ok {
		return compEnt{}, false
	}
	rk, ok := canonKey(c.r.typ, rv)
	if !ok {
		return compEnt{}, false
	}
	nv, present := rowValue(data, c.n.fid)
	if !present {
		return compEntry(rk.n, tv{}, false, id), true
	}
	nk, ok := canonKey(c.n.typ, nv)
	if !ok {
		return compEntry(rk.n, tv{}, false, id), true
	}
	return compEntry(rk.n, nk, true, id), true
}

func parseID(b []byte) (int64, error) {
	id, ok := parseStrictInt(b)
	if !ok {
		return 0, ErrInvalidRowID
	}
	return id, nil
}

// Get is TGET: the row's field/value pairs, sorted by field name.
func (db *DB) Get(name, idArg []byte, w Writer) error {
	t, err := db.table(name)
	if err != nil {
		return err
	}
	id, err := parseID(idArg)
	if err != nil {
		return err
	}
	data, ok := t.row(id)
	if !ok {
		return errRowNotFound(id, t.name)
	}
	var buf [16]pair
	ps := t.pairs(data, buf[:0])
	w.WriteArray(2 * len(ps))
	for _, p := range ps {
		w.WriteBulkString(p.f.name)
		w.WriteBulkString(p.val)
	}
	return nil
}

// pair is one field of a row in reply order.
type pair struct {
	f   *field
	val string
}

// pairs returns a row's fields sorted by field name.
func (t *table) pairs(data string, buf []pair) []pair {
	var eb [16]rowEnt
	ents, _ := decodeRow(data, eb[:0])
	for _, e := range ents {
		if f := t.fieldOf(e.fid); f != nil {
			buf = append(buf, pair{f, e.val})
		}
	}
	if len(buf) > 12 {
		sort.Slice(buf, func(i, j int) bool { return buf[i].f.rank < buf[j].f.rank })
	} else {
		for i := 1; i < len(buf); i++ {
			for j := i; j > 0 && buf[j].f.rank < buf[j-1].f.rank; j-- {
				buf[j], buf[j-1] = buf[j-1], buf[j]
			}
		}
	}
	return buf
}

// Update is TUPDATE: it sets the given fields of row id.
func (db *DB) Update(name, idArg []byte, pairs [][]byte) error {
	t, err := db.table(name)
	if err != nil {
		return err
	}
	id, err := parseID(idArg)
	if err != nil {
		return err
	}
	old, ok := t.row(id)
	if !ok {
		return errRowNotFound(id, t.name)
	}
	if err := db.parsePairs(t, pairs); err != nil {
		return err
	}
	if err := db.checkRefs(t, id); err != nil {
		return err
	}
	if err := db.checkUnique(id); err != nil {
		return err
	}
	// the new row: old fields (in fid order), overwritten by the new values
	db.ents, _ = decodeRow(old, db.ents[:0])
	n0 := len(db.ents)
	changed := false
	for _, v := range db.vals {
		i := sort.Search(n0, func(i int) bool { return db.ents[i].fid >= v.f.fid })
		if i < n0 && db.ents[i].fid == v.f.fid {
			if db.ents[i].val == v.canon {
				continue
			}
			if v.f.idx != nil {
				oldK, _ := canonKey(v.f.typ, db.ents[i].val)
				v.f.idx.del(oldK, id)
				db.singleOp(wDel, t, v.f, oldK, id)
				v.f.idx.add(v.k, id)
				db.singleOp(wSet, t, v.f, v.k, id)
			}
			db.ents[i].val = v.canon
			changed = true
			continue
		}
		if v.f.idx != nil {
			v.f.idx.add(v.k, id)
			db.singleOp(wSet, t, v.f, v.k, id)
		}
		db.ents = append(db.ents, rowEnt{fid: v.f.fid, val: v.canon})
		changed = true
	}
	if !changed {
		db.commit()
		return nil
	}
	sortByFid(db.ents)
	data := string(encodeRow(nil, db.ents))
	for _, c := range t.comps {
		oe, had := rowCompEntry(c, old, id)
		ne, has := rowCompEntry(c, data, id)
		if had == has && oe == ne {
			continue
		}
		if had {
			c.del(oe)
			db.compOp(wDel, t, c, oe)
		}
		if has {
			c.add(ne)
			db.compOp(wSet, t, c, ne)
		}
	}
	t.rows[id] = data
	db.putRow(t, id, data)
	db.commit()
	return nil
}

// Delete is TDEL: it removes row id unless another row references it.
func (db *DB) Delete(name, idArg []byte) error {
	t, err := db.table(name)
	if err != nil {
		return err
	}
	id, err := parseID(idArg)
	if err != nil {
		return err
	}
	data, ok := t.row(id)
	if !ok {
		return errRowNotFound(id, t.name)
	}
	for _, un := range db.names {
		u := db.tables[un]
		for _, f := range u.fields {
			if f.typ != TypeRef || f.ref != t.name {
				continue
			}
			exclude := int64(0)
			if u == t {
				exclude = id // a row referencing itself does not hold itself
			}
			if u.references(f, id, exclude) {
				return errReferenced(id, u.name)
			}
		}
	}
	var eb [16]rowEnt
	ents, _ := decodeRow(data, eb[:0])
	for _, e := range ents {
		f := t.fieldOf(e.fid)
		if f == nil || f.idx == nil {
			continue
		}
		if k, ok := canonKey(f.typ, e.val); ok {
			f.idx.del(k, id)
			db.singleOp(wDel, t, f, k, id)
		}
	}
	for _, c := range t.comps {
		if e, ok := rowCompEntry(c, data, id); ok {
			c.del(e)
			db.compOp(wDel, t, c, e)
		}
	}
	t.rows[id] = ""
	t.count--
	db.delRow(t, id)
	db.commit()
	return nil
}

// references reports whether a row other than exclude has ref field f = id.
func (t *table) references(f *field, id, exclude int64) bool {
	key := tv{n: intKey(id)}
	if f.idx != nil {
		_, held := f.idx.other(key, exclude)
		return held
	}
	if c := t.compOf(f); c != nil {
		held := false
		c.scan(key.n, krange{}, false, func(_ tv, _ bool, rid int64) bool {
			held = rid != exclude
			return !held
		})
		return held
	}
	// every ref field has an index; this is only a safety net
	for rid, data := range t.rows {
		if data == "" || int64(rid) == exclude {
			continue
		}
		if v, ok := rowValue(data, f.fid); ok && v == strconv.FormatInt(id, 10) {
			return true
		}
	}
	return false
}

// Drop is TDROP: it removes a table no other table references.
func (db *DB) Drop(name []byte) error {
	t, err := db.table(name)
	if err != nil {
		return err
	}
	for _, un := range db.names {
		u := db.tables[un]
		if u == t {
			continue
		}
		for _, f := range u.fields {
			if f.typ == TypeRef && f.ref == t.name {
				return errDropReferenced(t.name, u.name)
			}
		}
	}
	delete(db.tables, t.name)
	db.refreshNames()
	db.delPrefix(tablePrefix(nil, t.tid))
	db.commit()
	return nil
}

// Count is TCOUNT.
func (db *DB) Count(name []byte) (int64, error) {
	t, err := db.table(name)
	if err != nil {
		return 0, err
	}
	return int64(t.count), nil
}

// Schema is TSCHEMA: the field specs in declaration order.
func (db *DB) Schema(name []byte) ([]string, error) {
	t, err := db.table(name)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(t.fields))
	for i, f := range t.fields {
		out[i] = f.spec()
	}
	return out, nil
}

// List is TLIST: the table names, sorted.
func (db *DB) List() []string { return append([]string(nil), db.names...) }

// Alter is TALTER table ADD spec | DROP field.
func (db *DB) Alter(name, action, arg []byte) error {
	t, err := db.table(name)
	if err != nil {
		return err
	}
	switch {
	case eqFoldASCII(action, "add"):
		f, err := parseSpec(arg)
		if err != nil {
			return err
		}
		if t.byName[f.name] != nil {
			return errFieldExists([]byte(f.name))
		}
		t.addField(f)
		t.rerank()
	case eqFoldASCII(action, "drop"):
		f := t.byName[string(arg)]
		if f == nil {
			return errFieldMissing(arg)
		}
		if f.idx != nil {
			db.delPrefix(singlePrefix(nil, t.tid, f.fid))
		}
		t.removeField(f)
		t.rerank()
		// the values go from memory now; stored rows keep them until the
		// row is next written (loading skips fields the schema lacks)
		for id, data := range t.rows {
			if data == "" {
				continue
			}
			if _, has := rowValue(data, f.fid); !has {
				continue
			}
			db.ents, _ = decodeRow(data, db.ents[:0])
			keep := db.ents[:0]
			for _, e := range db.ents {
				if e.fid != f.fid {
					keep = append(keep, e)
				}
			}
			t.rows[id] = string(encodeRow(nil, keep))
		}
	default:
		return errAlterAction(action)
	}
	db.reconcileIndexes(t)
	db.putSchema(t)
	db.commit()
	return nil
}

// reconcileIndexes makes t's indexes match its schema after a TALTER:
// indexes no longer wanted are dropped, new ones are built from the rows.
func (db *DB) reconcileIndexes(t *table) {
	want := t.wantedComps()
	var next []*compIndex
	for _, rn := range want {
		c := t.compFor(rn[0], rn[1])
		if c == nil {
			c = newCompIndex(rn[0], rn[1])
			for id, data := range t.rows {
				if data == "" {
					continue
				}
				if e, ok := rowCompEntry(c, data, int64(id)); ok {
					c.add(e)
					db.compOp(wSet, t, c, e)
				}
			}
		}
		next = append(next, c)
	}
	for _, c := range t.comps {
		kept := false
		for _, n := range next {
			kept = kept || n == c
		}
		if !kept {
			db.delPrefix(compPrefix(nil, t.tid, c.r.fid, c.n.fid))
		}
	}
	t.comps = next
	for _, f := range t.fields {
		switch wanted := singleWanted(f, want); {
		case wanted && f.idx == nil:
			f.idx = newSingleIndex(f.typ)
			db.rebuildSingle(t, f)
		case !wanted && f.idx != nil:
			f.idx = nil
			db.delPrefix(singlePrefix(nil, t.tid, f.fid))
		}
	}
}

// Flush removes every table (FLUSHDB, FLUSHALL). Table ids keep counting so
// that no stored key of a flushed table can be mistaken for a new one's.
func (db *DB) Flush() {
	db.tables = map[string]*table{}
	db.refreshNames()
	db.delPrefix([]byte{kTable})
	db.putNextTid()
	db.commit()
}

// ---- loading ----

// load reads every stored table. Rows are checked as they load; index
// entries are loaded into the in-memory indexes and verified against the
// rows (value and count), and an index that does not match is rebuilt from
// the rows and rewritten, so a damaged index can never answer a query
// wrongly.
//
// scan is storage's TableScan (a parameter so that tests can load any key
// set).
func (db *DB) load(scan func(prefix []byte, fn func(k, v []byte) bool) error) error {
	var (
		cur     *table
		counts  map[uint32]int // rows holding each fid, of cur
		badIdx  = map[any]bool{}
		loadErr error
		stale   [][]byte
		staleT  = map[uint32]bool{}
	)
	type tableCounts struct {
		t      *table
		counts map[uint32]int
	}
	var all []tableCounts
	err := scan(nil, func(k, v []byte) bool {
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
			cur, counts = t, map[uint32]int{}
			db.tables[t.name] = t
			all = append(all, tableCounts{t, counts})
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
			data := string(v)
			ents, ok := decodeRow(data, db.ents[:0])
			if !ok {
				loadErr = fmt.Errorf("tables: table %q: corrupt row %d", cur.name, id)
				return false
			}
			keep := ents[:0]
			for _, e := range ents {
				f := cur.fieldOf(e.fid)
				if f == nil {
					continue // a dropped field's value
				}
				if _, ok := canonKey(f.typ, e.val); !ok {
					loadErr = fmt.Errorf("tables: table %q: corrupt value in row %d", cur.name, id)
					return false
				}
				keep = append(keep, e)
				counts[e.fid]++
			}
			if len(keep) != len(ents) {
				data = string(encodeRow(nil, keep))
			}
			db.ents = ents[:0]
			cur.setRow(id, data)
			cur.count++
		case kIndex:
			db.loadIndexEntry(cur, k, badIdx, &stale)
		default:
			stale = append(stale, append([]byte(nil), k...))
		}
		return true
	})
	if err == nil {
		err = loadErr
	}
	if err != nil {
		return err
	}
	// verify every index's size against the rows and rebuild what differs
	for _, tc := range all {
		t := tc.t
		for _, f := range t.fields {
			if f.idx != nil && (badIdx[f] || f.idx.len() != tc.counts[f.fid]) {
				db.repairs = append(db.repairs, fmt.Sprintf("index %s(%s) did not match the rows (%d entries, %d rows with the field): rebuilt",
					t.name, f.name, f.idx.len(), tc.counts[f.fid]))
				db.rebuildSingle(t, f)
			}
		}
		for _, c := range t.comps {
			if badIdx[c] || c.len() != tc.counts[c.r.fid] {
				db.repairs = append(db.repairs, fmt.Sprintf("index %s(%s, %s) did not match the rows (%d entries, %d rows with %s): rebuilt",
					t.name, c.r.name, c.n.name, c.len(), tc.counts[c.r.fid], c.r.name))
				db.rebuildComp(t, c)
			}
		}
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

// loadIndexEntry adds one stored index entry to its in-memory index after
// checking it against the row; an entry that does not match marks the index
// for a rebuild, an entry of an index the schema lacks is deleted.
func (db *DB) loadIndexEntry(t *table, k []byte, bad map[any]bool, stale *[][]byte) {
	rest := k[6:]
	switch {
	case len(rest) >= 5 && rest[0] == kSingle:
		f := t.fieldOf(binary.BigEndian.Uint32(rest[1:5]))
		if f == nil || f.idx == nil {
			*stale = append(*stale, append([]byte(nil), k[:11]...))
			return
		}
		kv, id, ok := decodeSingleEntry(f.typ, rest[5:])
		if ok {
			data, exists := t.row(id)
			val, has := rowValue(data, f.fid)
			rk, _ := canonKey(f.typ, val)
			ok = exists && has && cmpTV(f.typ, rk, kv) == 0
		}
		if !ok {
			bad[f] = true
			return
		}
		f.idx.add(kv, id)
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
		if ok {
			id := int64(e.idp &^ hasB)
			data, exists := t.row(id)
			want, has := rowCompEntry(c, data, id)
			ok = exists && has && want == e
		}
		if !ok {
			bad[c] = true
			return
		}
		c.add(e)
	default:
		*stale = append(*stale, append([]byte(nil), k...))
	}
}

func (db *DB) rebuildSingle(t *table, f *field) {
	f.idx.clear()
	db.delPrefix(singlePrefix(nil, t.tid, f.fid))
	for id, data := range t.rows {
		if data == "" {
			continue
		}
		if v, ok := rowValue(data, f.fid); ok {
			k, _ := canonKey(f.typ, v)
			f.idx.add(k, int64(id))
			db.singleOp(wSet, t, f, k, int64(id))
		}
	}
}

func (db *DB) rebuildComp(t *table, c *compIndex) {
	c.t.Clear(false)
	db.delPrefix(compPrefix(nil, t.tid, c.r.fid, c.n.fid))
	for id, data := range t.rows {
		if data == "" {
			continue
		}
		if e, ok := rowCompEntry(c, data, int64(id)); ok {
			c.add(e)
			db.compOp(wSet, t, c, e)
		}
	}
}

// Repairs describes what loading found damaged and rebuilt (nothing, after
// any sequence of acknowledged commands and crashes: a non-empty list is a
// bug or disk damage worth logging).
func (db *DB) Repairs() []string { return db.repairs }

// String describes the engine for logs.
func (db *DB) String() string {
	var b strings.Builder
	for _, n := range db.names {
		fmt.Fprintf(&b, "%s(%d rows) ", n, db.tables[n].count)
	}
	return strings.TrimSpace(b.String())
}
