// Package tables is Lux's relational table engine: typed schemas, rows,
// unique and ref() integrity checks, indexes and the TQUERY parser, planner
// and executor.
//
// Every change is written through storage.TableWrite, one crash-atomic
// batch per command. Schemas are held in memory. With persistence, the
// stored index entries are the indexes (read with Pebble iterators, the
// writes not committed yet merged in: stored.go), and rows (compact encoded
// strings) are a cache over the store: a row whose write is committed may
// leave memory when the store is over its memory limit and is read back on
// access (cache.go). Opening reads schemas, id sequences and counts only
// (load.go). Without persistence rows and indexes (B-trees) live in memory.
// The engine is not safe for
// concurrent use by itself: the caller holds the DB's lock for the whole
// command (RLock for reads, Lock for writes), which makes every check and
// the write it guards atomic; only the row cache is shared with the
// store's eviction, under its own mutex.
package tables

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	rowBuf  []byte // a row being encoded (write lock): its string is one exact-size copy
	stamp   uint64

	repairs []string // what loading found damaged and repaired
	loadErr error    // why loading failed (commands answer with it until a flush)
	loaded  chan struct{}
	stop    atomic.Bool // Close: stop loading

	// writes not known to be committed (stored.go; write lock)
	cur  *stamp    // the running write command's stamp
	pend []pendEnt // queued writes, oldest first from ph
	ph   int

	// the row cache (cache.go)
	mem    atomic.Int64
	cached atomic.Int64
	reads  atomic.Int64 // rows read back from the store
	cmu    sync.Mutex   // the evictor's lock: the ring, db.all, row maps, dropped flags
	all    []*table     // every table, for the evictor (under cmu)
	ring   []ringEnt    // resident rows in the order they became resident (circular)
	rhead  int
	rn     int
	ringOn bool // the ring is kept (the store asked for eviction once)
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

func newDB(store *storage.Store) *DB {
	db := &DB{store: store, persist: store != nil && store.Persistent(), tables: map[string]*table{}, nextTid: 1,
		Now: func() int64 { return time.Now().UnixMilli() }, loaded: make(chan struct{})}
	db.writeFn = db.flushOps
	return db
}

// Open loads every table from store (schemas, id sequences, counts; not the
// rows nor the indexes). The returned DB is usable even when err is non-nil (it
// then holds whatever loaded before the error); the caller decides whether
// to serve it.
func Open(store *storage.Store) (*DB, error) {
	db := newDB(store)
	err := db.loadAll()
	db.loadErr = err
	close(db.loaded)
	return db, err
}

// OpenBackground is Open with the loading done by a goroutine, so that the
// server answers at once: the engine's write lock is held until loading is
// done, so every table command waits for it (check Err under the lock).
// done, if not nil, is called when loading ends, still under the lock (so
// it may read the engine, e.g. String, but must not call a method that
// locks it).
func OpenBackground(store *storage.Store, done func(db *DB, err error)) *DB {
	db := newDB(store)
	db.mu.Lock()
	go func() {
		err := db.loadAll()
		db.loadErr = err
		if done != nil {
			done(db, err)
		}
		db.mu.Unlock()
		close(db.loaded)
	}()
	return db
}

// loadAll loads the stored tables and hooks the row cache into the store's
// memory management.
func (db *DB) loadAll() error {
	var err error
	if db.persist {
		err = db.load()
		db.refreshNames()
	}
	if db.store != nil {
		db.store.SetTableCache(db)
	}
	return err
}

// Err is why loading failed, or nil (caller holds the lock): the tables
// are then not served until a flush removes them.
func (db *DB) Err() error { return db.loadErr }

// Close stops a background load and waits for it; the store may then be
// closed.
func (db *DB) Close() {
	db.stop.Store(true)
	<-db.loaded
	if db.store != nil {
		db.store.SetTableCache(nil)
	}
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

// rowString encodes db.ents (sorted) into one string. The buffer is kept
// for the next row unless the row was large.
func (db *DB) rowString() string {
	db.rowBuf = encodeRow(db.rowBuf[:0], db.ents)
	data := string(db.rowBuf)
	if cap(db.rowBuf) > 64<<10 {
		db.rowBuf = nil
	}
	return data
}

// putState records t's last id and counts (every command that changes them).
func (db *DB) putState(t *table) {
	if !db.persist {
		return
	}
	k0 := len(db.wb)
	db.wb = stateKey(db.wb, t.tid)
	k1 := len(db.wb)
	db.wb = binary.BigEndian.AppendUint64(db.wb, uint64(t.seq))
	db.wb = t.appendCounts(db.wb)
	db.addOp(wSet, k0, k1)
}

// delKey records the deletion of one stored key.
func (db *DB) delKey(k []byte) { db.keyOp(wDel, k) }

// keyOp records an op of kind on key k that carries no value.
func (db *DB) keyOp(kind uint8, k []byte) {
	if !db.persist {
		return
	}
	k0 := len(db.wb)
	db.wb = append(db.wb, k...)
	db.addOp(kind, k0, len(db.wb))
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

// delPrefix records the deletion of every stored key starting with p.
func (db *DB) delPrefix(p []byte) { db.keyOp(wDelPrefix, p) }

// commit hands the command's writes to storage as one crash-atomic group
// and returns its durable sequence. What the command wrote in memory (rows,
// overlay entries, tombstones) may leave once the batch is committed; what
// earlier commands wrote and is committed by now leaves the overlays.
func (db *DB) commit() uint64 {
	var seq uint64
	if len(db.wops) > 0 {
		seq = db.store.TableWrite(db.writeFn)
	} else if db.cur != nil {
		seq = db.store.LastSeq()
	}
	if db.cur != nil {
		db.cur.seq.Store(seq)
		db.cur = nil
	}
	db.prune()
	db.wops = db.wops[:0]
	if cap(db.wb) > 1<<20 {
		db.wb = nil // don't pin a huge buffer after a TALTER or a bulk repair
	} else {
		db.wb = db.wb[:0]
	}
	return seq
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
	t.initIndexes(db)
	db.nextTid++
	db.tables[t.name] = t
	db.register(t)
	db.syncPinned(t)
	db.refreshNames()
	db.putNextTid()
	db.putSchema(t)
	db.putState(t)
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
			var err error
			if ok, err = db.exists(target, id); err != nil {
				return err
			}
		}
		if !ok {
			return errFK(v.f.name, v.canon, v.f.ref)
		}
	}
	return nil
}

// checkUnique checks the unique values of db.vals against rows other than selfID.
func (db *DB) checkUnique(t *table, selfID int64) error {
	for _, v := range db.vals {
		if v.f.unique {
			_, taken, err := v.f.idx.other(v.k, selfID)
			if err != nil {
				return errIndexRead(t, err)
			}
			if taken {
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
	if err := db.checkUnique(t, 0); err != nil {
		return 0, err
	}
	db.ents = db.ents[:0]
	for _, v := range db.vals {
		db.ents = append(db.ents, rowEnt{fid: v.f.fid, val: v.canon})
	}
	sortByFid(db.ents)
	data := db.rowString()
	t.seq = id
	db.setRow(t, id, data)
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
	db.putRow(t, id, data)
	db.putState(t)
	db.syncPinned(t)
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
	data, ok, err := db.row(t, id)
	if err != nil {
		return err
	}
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
	old, ok, err := db.row(t, id)
	if err != nil {
		return err
	}
	if !ok {
		return errRowNotFound(id, t.name)
	}
	if err := db.parsePairs(t, pairs); err != nil {
		return err
	}
	if err := db.checkRefs(t, id); err != nil {
		return err
	}
	if err := db.checkUnique(t, id); err != nil {
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
		db.syncPinned(t)
		db.commit()
		return nil
	}
	sortByFid(db.ents)
	data := db.rowString()
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
	db.setRow(t, id, data)
	db.putRow(t, id, data)
	db.putState(t)
	db.syncPinned(t)
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
	data, ok, err := db.row(t, id)
	if err != nil {
		return err
	}
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
			held, err := db.references(u, f, id, exclude)
			if err != nil {
				return errIndexRead(u, err)
			}
			if held {
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
	db.clearRow(t, id)
	t.count--
	db.delRow(t, id)
	db.putState(t)
	db.syncPinned(t)
	db.commit()
	return nil
}

// references reports whether a row of t other than exclude has ref field
// f = id.
func (db *DB) references(t *table, f *field, id, exclude int64) (bool, error) {
	key := tv{n: intKey(id)}
	if f.idx != nil {
		_, held, err := f.idx.other(key, exclude)
		return held, err
	}
	if c := t.compOf(f); c != nil {
		held := false
		err := c.scan(key.n, krange{}, false, func(_ tv, _ bool, rid int64) bool {
			held = rid != exclude
			return !held
		})
		return held, err
	}
	// every ref field has an index; this is only a safety net
	want := strconv.FormatInt(id, 10)
	held := false
	err := db.scanRows(t, true, func(rid int64, data string) bool {
		if rid != exclude {
			if v, ok := rowValue(data, f.fid); ok && v == want {
				held = true
			}
		}
		return !held
	})
	return held, err
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
	db.forget(t)
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
	var add, drop *field
	var fields []*field // the schema after the change
	switch {
	case eqFoldASCII(action, "add"):
		f, err := parseSpec(arg)
		if err != nil {
			return err
		}
		if t.byName[f.name] != nil {
			return errFieldExists([]byte(f.name))
		}
		f.fid = t.nextFid // what addField gives it
		add = f
		fields = append(slices.Clone(t.fields), f)
	case eqFoldASCII(action, "drop"):
		f := t.byName[string(arg)]
		if f == nil {
			return errFieldMissing(arg)
		}
		drop = f
		fields = slices.DeleteFunc(slices.Clone(t.fields), func(g *field) bool { return g == f })
	default:
		return errAlterAction(action)
	}
	// The indexes the new schema calls for that do not exist yet are built
	// from the rows before anything changes: reading cold rows may fail,
	// and the command then fails whole. A stored index is built by writing
	// its entries into the command's batch (after a deletion of whatever
	// its key range held), an in-memory one in memory.
	want := wantedComps(fields)
	var builds []*compIndex
	for _, rn := range want {
		if t.compFor(rn[0], rn[1]) == nil {
			builds = append(builds, newCompIndex(db, t, rn[0], rn[1]))
		}
	}
	singles := map[*field]singleIndex{}
	for _, f := range fields {
		if singleWanted(f, want) && f.idx == nil {
			singles[f] = newSingleIndex(db, t, f)
		}
	}
	nops, nwb := len(db.wops), len(db.wb)
	if len(builds) > 0 || len(singles) > 0 {
		for _, c := range builds {
			if c.s != nil {
				db.delPrefix(c.s.prefix)
			}
		}
		for f, x := range singles {
			if _, ok := x.(*storedSingle); ok {
				db.delPrefix(singlePrefix(nil, t.tid, f.fid))
			}
		}
		// transient rows will do: index keys are copied
		err := db.scanRows(t, true, func(id int64, data string) bool {
			for _, c := range builds {
				if e, ok := rowCompEntry(c, data, id); ok {
					if c.s != nil {
						db.compOp(wSet, t, c, e)
					} else {
						c.add(e)
					}
				}
			}
			for f, x := range singles {
				if v, ok := rowValue(data, f.fid); ok {
					if k, ok := canonKey(f.typ, v); ok {
						if s, ok := x.(*storedSingle); ok {
							db.singleOp(wSet, t, f, k, id)
							s.n++
						} else {
							x.add(k, id)
						}
					}
				}
			}
			return true
		})
		if err != nil {
			db.wops, db.wb = db.wops[:nops], db.wb[:nwb]
			return err
		}
	}
	if drop != nil {
		if drop.idx != nil {
			db.delPrefix(singlePrefix(nil, t.tid, drop.fid))
		}
		t.removeField(drop)
		db.dropValues(t, drop.fid)
	} else {
		t.addField(add)
	}
	t.rerank()
	var next []*compIndex
	for _, rn := range want {
		c := t.compFor(rn[0], rn[1])
		if c == nil {
			for _, b := range builds {
				if b.r == rn[0] && b.n == rn[1] {
					c = b
				}
			}
			if c.t != nil {
				c.t.Ascend(func(e compEnt) bool {
					db.compOp(wSet, t, c, e)
					return true
				})
			}
		}
		next = append(next, c)
	}
	for _, c := range t.comps {
		if !slices.Contains(next, c) {
			db.delPrefix(compPrefix(nil, t.tid, c.r.fid, c.n.fid))
		}
	}
	t.comps = next
	for _, f := range t.fields {
		switch wanted := singleWanted(f, want); {
		case wanted && f.idx == nil:
			f.idx = singles[f]
			if _, stored := f.idx.(*storedSingle); !stored {
				db.delPrefix(singlePrefix(nil, t.tid, f.fid))
				_ = f.idx.scan(krange{}, false, func(k tv, id int64) bool {
					db.singleOp(wSet, t, f, k, id)
					return true
				})
			}
		case !wanted && f.idx != nil:
			f.idx = nil
			db.delPrefix(singlePrefix(nil, t.tid, f.fid))
		}
	}
	db.syncPinned(t)
	db.putSchema(t)
	db.putState(t)
	seq := db.commit()
	if db.persist && (len(builds) > 0 || len(singles) > 0) {
		// the new stored indexes were written without an overlay: they
		// are read from Pebble, so wait until it holds them
		if err := db.store.TableWaitCommitted(seq); err != nil {
			return err
		}
	}
	return nil
}

// dropValues removes field fid's values from the resident rows of t. The
// stored rows keep them until each row is next written: reading a row
// skips fields the schema lacks.
func (db *DB) dropValues(t *table, fid uint32) {
	db.cmu.Lock()
	defer db.cmu.Unlock()
	for id, b := range t.rows {
		if b.dead {
			continue
		}
		if _, has := rowValue(b.data, fid); !has {
			continue
		}
		db.ents, _ = decodeRow(b.data, db.ents[:0])
		keep := db.ents[:0]
		for _, e := range db.ents {
			if e.fid != fid {
				keep = append(keep, e)
			}
		}
		db.replaceRow(t, id, b, string(encodeRow(nil, keep)))
	}
}

// Flush removes every table (FLUSHDB, FLUSHALL). Table ids keep counting so
// that no stored key of a flushed table can be mistaken for a new one's.
func (db *DB) Flush() {
	for _, t := range db.tables {
		db.forget(t)
	}
	db.loadErr = nil // whatever failed to load is gone from disk too
	db.tables = map[string]*table{}
	db.refreshNames()
	db.delPrefix([]byte{kTable})
	db.putNextTid()
	db.commit()
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
