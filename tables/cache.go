package tables

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"unsafe"
)

// Rows in memory are a cache over the store (with persistence).
//
// Each table has a map of resident rows by id. A write publishes a new body
// (stamped with its command's durable sequence, stored.go); the body may
// leave memory once the store has committed that write, as Pebble then holds
// exactly that row, and it is read back from Pebble on the next access. A
// deletion leaves a tombstone until it is committed. So a resident body or a
// tombstone is authoritative, and a row that is neither is exactly what
// Pebble's committed state holds: whether a row exists is a map lookup or a
// Pebble Get (bloom filters answer most misses). Without persistence every
// row is resident and the map is all there is.
//
// Concurrency: writes hold the engine's write lock, reads its read lock, and
// the evictor (Evict, called by the store's EnsureMemory from any
// goroutine) holds only cmu; the maps, the ring and a table's dropped flag
// change under cmu. A reader that reads a cold row from Pebble adds it to
// the map under cmu: no write can run meanwhile, so what it read is current.
//
// Memory: every resident body and tombstone, every overlay entry of a
// stored index and every entry of an in-memory index is counted in the
// store's used memory (AddTableMemory), so the store's memory limit covers
// tables, and EnsureMemory makes room by calling Evict for the rows' share
// of the excess.

// rowBody is a row held in memory, or a tombstone (dead). data never changes
// once the body is published; ref does.
type rowBody struct {
	data string
	st   *stamp      // the command that wrote it (storedStamp: read from the store)
	ref  atomic.Bool // read since the evictor last passed it: a second chance
	dead bool        // a deletion not known to be committed
}

// rowOverhead is what a resident row is counted for beyond its data: the
// body, the string's allocation rounding, its map slot and ring entry.
const rowOverhead = 112

func rowBytes(data string) int64 { return int64(len(data)) + rowOverhead }

// ringEnt names a resident row in the eviction ring.
type ringEnt struct {
	t  *table
	id int64
}

// ---- memory accounting ----

// addMem counts delta bytes of table memory.
func (db *DB) addMem(delta int64) {
	if delta == 0 {
		return
	}
	db.mem.Add(delta)
	if db.store != nil {
		db.store.AddTableMemory(delta)
	}
}

// syncPinned counts t's in-memory indexes at their current size (called
// after anything that changes them, under the write lock).
func (db *DB) syncPinned(t *table) {
	var n int64
	for _, f := range t.fields {
		if f.idx != nil {
			n += f.idx.bytes()
		}
	}
	for _, c := range t.comps {
		n += c.bytes()
	}
	if d := n - t.pinned; d != 0 {
		t.pinned = n
		db.addMem(d)
	}
}

// cachedDelta counts a change of resident row bytes of t.
func (db *DB) cachedDelta(t *table, d int64) {
	t.cached.Add(d)
	db.cached.Add(d)
	db.addMem(d)
}

// forget uncounts a table that is gone (TDROP, flush); the caller holds
// the write lock.
func (db *DB) forget(t *table) {
	db.cmu.Lock()
	t.dropped = true
	for i, u := range db.all {
		if u == t {
			db.all = append(db.all[:i], db.all[i+1:]...)
			break
		}
	}
	c := t.cached.Load()
	db.cmu.Unlock()
	db.cached.Add(-c)
	db.addMem(-c - t.pinned - t.ovMem)
}

// register makes t known to the evictor.
func (db *DB) register(t *table) {
	db.cmu.Lock()
	db.all = append(db.all, t)
	db.cmu.Unlock()
}

// CachedBytes is the memory of the resident rows (storage.TableCache).
func (db *DB) CachedBytes() int64 {
	if !db.persist {
		return 0 // nothing can leave memory
	}
	return db.cached.Load()
}

// RowsRead is the number of rows read back from the store since Open.
func (db *DB) RowsRead() int64 { return db.reads.Load() }

// RowBytes is the memory of the resident rows (which cannot leave memory
// without persistence).
func (db *DB) RowBytes() int64 { return db.cached.Load() }

// MemoryBytes is all the memory the engine is counted for: resident rows,
// in-memory indexes, overlays of stored indexes.
func (db *DB) MemoryBytes() int64 { return db.mem.Load() }

// ---- rows ----

// setRow publishes row id = data as written by the running command (write
// lock); the command's commit stamps it with its durable sequence.
func (db *DB) setRow(t *table, id int64, data string) {
	nb := &rowBody{data: data, st: storedStamp}
	if db.persist {
		nb.st = db.curStamp()
		db.pend = append(db.pend, pendEnt{st: nb.st, t: t, id: id, body: nb})
	}
	d := rowBytes(data)
	db.cmu.Lock()
	old := t.rows[id]
	t.rows[id] = nb
	if old != nil && old.dead {
		t.ovMem -= rowOverhead
		db.addMem(-rowOverhead)
	} else if old != nil {
		d -= rowBytes(old.data)
	}
	if old == nil || old.dead {
		db.ringAddLocked(t, id)
	}
	db.cmu.Unlock()
	db.cachedDelta(t, d)
}

// replaceRow swaps a resident body for one with other data but the same
// write (TALTER DROP removing a value in memory only; cmu held).
func (db *DB) replaceRow(t *table, id int64, old *rowBody, data string) {
	nb := &rowBody{data: data, st: old.st}
	t.rows[id] = nb
	db.cachedDelta(t, rowBytes(data)-rowBytes(old.data))
}

// clearRow removes row id (TDEL, write lock): with persistence it leaves a
// tombstone until the deletion is committed.
func (db *DB) clearRow(t *table, id int64) {
	var nb *rowBody
	if db.persist {
		nb = &rowBody{st: db.curStamp(), dead: true}
		db.pend = append(db.pend, pendEnt{st: nb.st, t: t, id: id, body: nb})
	}
	d := int64(0)
	db.cmu.Lock()
	old := t.rows[id]
	if old != nil && !old.dead {
		d -= rowBytes(old.data)
	}
	if nb != nil {
		t.rows[id] = nb
	} else {
		delete(t.rows, id)
	}
	db.cmu.Unlock()
	db.cachedDelta(t, d)
	if nb != nil && (old == nil || !old.dead) {
		// a tombstone is counted with the overlays: prune drops it
		t.ovMem += rowOverhead
		db.addMem(rowOverhead)
	}
}

// row returns row id of t: its data, whether it exists, and the error of
// reading it from the store. A cold row read is kept in memory.
func (db *DB) row(t *table, id int64) (string, bool, error) {
	db.cmu.Lock()
	b := t.rows[id]
	db.cmu.Unlock()
	if b != nil {
		if b.dead {
			return "", false, nil
		}
		if !b.ref.Load() {
			b.ref.Store(true)
		}
		return b.data, true, nil
	}
	if !db.persist || id <= 0 || id > t.seq {
		return "", false, nil
	}
	var kb [16]byte
	v, ok, err := db.store.TableGet(rowKey(kb[:0], t.tid, id))
	if err != nil {
		return "", false, errRead(t, id, err)
	}
	if !ok {
		return "", false, nil
	}
	db.reads.Add(1)
	data, err := db.storedRow(t, id, v)
	if err != nil {
		return "", false, err
	}
	nb := &rowBody{data: data, st: storedStamp}
	db.cmu.Lock()
	if cur := t.rows[id]; cur != nil {
		db.cmu.Unlock() // another reader was first
		return cur.data, true, nil
	}
	t.rows[id] = nb
	db.ringAddLocked(t, id)
	db.cmu.Unlock()
	db.cachedDelta(t, rowBytes(data))
	return data, true, nil
}

// exists reports whether row id of t exists (a Get when it is not resident).
func (db *DB) exists(t *table, id int64) (bool, error) {
	_, ok, err := db.row(t, id)
	return ok, err
}

// storedRow checks a row read from the store and drops the values of
// fields the schema no longer has (TALTER DROP leaves them in stored rows).
// The result may share v's bytes.
func (db *DB) storedRow(t *table, id int64, v []byte) (string, error) {
	var eb [16]rowEnt
	ents, ok := decodeRow(unsafeString(v), eb[:0])
	if !ok {
		return "", errRead(t, id, errCorrupt)
	}
	keep := ents[:0]
	for _, e := range ents {
		f := t.fieldOf(e.fid)
		if f == nil {
			continue
		}
		if _, ok := canonKey(f.typ, e.val); !ok {
			return "", errRead(t, id, errCorrupt)
		}
		keep = append(keep, e)
	}
	if len(keep) != len(ents) {
		return string(encodeRow(nil, keep)), nil
	}
	return unsafeString(v), nil // v's bytes: the caller copies them if need be
}

func errRead(t *table, id int64, err error) error {
	msg := strings.NewReplacer("\r", " ", "\n", " ").Replace(err.Error())
	return Error(fmt.Sprintf("ERR reading row %d of table '%s' from the data directory failed: %s", id, qs(t.name), msg))
}

// errIndexRead is the error reply for an index of t that could not be read.
func errIndexRead(t *table, err error) error {
	if _, ok := err.(Error); ok {
		return err
	}
	msg := strings.NewReplacer("\r", " ", "\n", " ").Replace(err.Error())
	return Error(fmt.Sprintf("ERR reading an index of table '%s' from the data directory failed: %s", qs(t.name), msg))
}

// forEachRow calls fn for every row of t in id order until fn returns
// false: resident rows from memory, cold ones from the store (one pass of
// an iterator; they are not kept in memory, so a full scan does not push
// the cached rows out).
func (db *DB) forEachRow(t *table, fn func(id int64, data string) bool) error {
	return db.scanRows(t, false, fn)
}

// scanRows is forEachRow; with transient, the data of a cold row is only
// valid during the call (no copy is made).
func (db *DB) scanRows(t *table, transient bool, fn func(id int64, data string) bool) error {
	if !db.persist {
		db.cmu.Lock()
		ids := make([]int64, 0, len(t.rows))
		for id := range t.rows {
			ids = append(ids, id)
		}
		db.cmu.Unlock()
		slices.Sort(ids)
		for _, id := range ids {
			db.cmu.Lock()
			b := t.rows[id]
			db.cmu.Unlock()
			if b != nil && !fn(id, b.data) {
				return nil
			}
		}
		return nil
	}
	// The rows written by commands not known to be committed (queued) are
	// read through row, which finds them resident or, once committed and
	// evicted meanwhile, in Pebble's current state; every other row's last
	// write was committed before this scan began, so the iterator (made
	// after) holds it, unless a resident body or tombstone says otherwise.
	var pend []int64
	for _, e := range db.pend[db.ph:] {
		if e.t == t && e.ov == nil {
			pend = append(pend, e.id)
		}
	}
	slices.Sort(pend)
	pend = slices.Compact(pend)
	it, err := db.store.TableIter(rowKey(nil, t.tid, 1), rowKey(nil, t.tid, t.seq+1))
	if err != nil {
		return errRead(t, 0, err)
	}
	defer it.Close()
	ok := it.First()
	i := 0
	for {
		pid := int64(-1)
		if ok {
			k := it.Key()
			if len(k) != 14 {
				return errRead(t, 0, errCorrupt)
			}
			pid = int64(binary.BigEndian.Uint64(k[6:]))
		}
		if i < len(pend) && (!ok || pend[i] <= pid) {
			id := pend[i]
			i++
			if ok && pid == id {
				ok = it.Next()
			}
			data, has, err := db.row(t, id)
			if err != nil {
				return err
			}
			if has && !fn(id, data) {
				return nil
			}
			continue
		}
		if !ok {
			break
		}
		db.cmu.Lock()
		b := t.rows[pid]
		db.cmu.Unlock()
		if b != nil {
			if !b.dead && !fn(pid, b.data) {
				return nil
			}
			ok = it.Next()
			continue
		}
		v := it.Value()
		if v == nil {
			if err := it.Err(); err != nil {
				return errRead(t, pid, err)
			}
		}
		db.reads.Add(1)
		data, err := db.storedRow(t, pid, v)
		if err != nil {
			return err
		}
		if !transient && len(data) > 0 && len(v) > 0 && unsafe.StringData(data) == &v[0] {
			data = strings.Clone(data)
		}
		if !fn(pid, data) {
			return nil
		}
		ok = it.Next()
	}
	if err := it.Err(); err != nil {
		return errRead(t, 0, err)
	}
	return nil
}

// ---- eviction ----

// ringAddLocked queues a row that became resident for eviction (cmu
// held). The ring is kept only once the store has asked for eviction
// (ringOn); until then Evict fills it from the maps.
func (db *DB) ringAddLocked(t *table, id int64) {
	if db.persist && db.ringOn {
		db.ringPush(ringEnt{t, id})
	}
}

func (db *DB) ringPush(e ringEnt) {
	if db.rn == len(db.ring) {
		db.ringCompact()
	}
	db.ring[(db.rhead+db.rn)&(len(db.ring)-1)] = e
	db.rn++
}

func (db *DB) ringPop() ringEnt {
	e := db.ring[db.rhead]
	db.ring[db.rhead] = ringEnt{}
	db.rhead = (db.rhead + 1) & (len(db.ring) - 1)
	db.rn--
	return e
}

// live reports whether a ring entry still names a resident row (cmu held).
func (e ringEnt) live() bool {
	if e.t.dropped {
		return false
	}
	b := e.t.rows[e.id]
	return b != nil && !b.dead
}

// ringCompact drops the entries of rows no longer resident from a full
// ring, and grows it when that frees less than half.
func (db *DB) ringCompact() {
	var keep []ringEnt
	for db.rn > 0 {
		if e := db.ringPop(); e.live() {
			keep = append(keep, e)
		}
	}
	n := len(db.ring)
	if n == 0 {
		n = 1024
	}
	for len(keep)*2 > n {
		n *= 2
	}
	if n != len(db.ring) {
		db.ring = make([]ringEnt, n)
	}
	db.rhead = 0
	db.rn = copy(db.ring, keep)
}

// Evict drops about need bytes of resident rows whose writes are committed
// from memory and returns the bytes freed (storage.TableCache: the store's
// EnsureMemory calls it when over its memory limit). Rows leave in the
// order they became resident, with a second chance for those read since
// the evictor last passed them (CLOCK); it stops at the first row whose
// write is not committed yet. It takes cmu only, never the engine's lock.
func (db *DB) Evict(need int64) int64 {
	if !db.persist || need <= 0 {
		return 0
	}
	committed := db.store.TableCommitted()
	db.cmu.Lock()
	defer db.cmu.Unlock()
	if !db.ringOn {
		db.ringOn = true
		for _, t := range db.all {
			for id, b := range t.rows {
				if !b.dead {
					db.ringPush(ringEnt{t, id})
				}
			}
		}
	}
	var freed int64
	for n := db.rn; n > 0 && freed < need; n-- {
		e := db.ring[db.rhead]
		if !e.live() {
			db.ringPop()
			continue
		}
		b := e.t.rows[e.id]
		if b.st.seq.Load() > committed {
			// written after everything behind it was read or
			// written before it: the rest of the ring is about as
			// new, and waits for the committer too
			break
		}
		db.ringPop()
		if b.ref.Load() {
			b.ref.Store(false)
			db.ringPush(e)
			continue
		}
		delete(e.t.rows, e.id)
		sz := rowBytes(b.data)
		e.t.cached.Add(-sz)
		freed += sz
		e.t.evicted++
		if e.t.evicted >= 1<<16 && e.t.evicted > 2*len(e.t.rows) {
			// Go maps keep their size after deletions: copy a map that
			// has lost most of its rows since it was last copied
			m := make(map[int64]*rowBody, len(e.t.rows))
			for id, b := range e.t.rows {
				m[id] = b
			}
			e.t.rows = m
			e.t.evicted = 0
		}
	}
	db.cached.Add(-freed)
	db.addMem(-freed)
	return freed
}

// unsafeString views b as a string without copying (for decoding only: the
// string must not outlive b's contents).
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
