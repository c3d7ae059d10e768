package tables

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/luxdb/lux-go/storage"
)

// Rows in memory are a cache over the store (with persistence).
//
// Each table has a dense array of row slots indexed by id. A slot is nil (no
// such row), coldRow (the row is stored but not in memory) or the row's
// body. A write publishes a new body; the body may leave memory (its slot
// becomes coldRow) once the store has committed the write that made it, as
// Pebble then holds exactly that row, and it is read back from Pebble on the
// next access. Which rows exist is always known from the slots, so a
// missing row or a foreign key to one costs no disk read.
//
// Concurrency: writes hold the engine's write lock, reads its read lock
// (and load cold rows into their slots with compare-and-swap, so readers
// never block each other), and the evictor (Evict, called by the store's
// EnsureMemory from any goroutine) holds only cmu: slots change atomically,
// and what the evictor reads besides them (the slot array, the ring, a
// table's dropped flag) changes under cmu.
//
// Memory: every resident body, every slot and every index entry is counted
// in the store's used memory (AddTableMemory), so the store's memory limit
// covers tables, and EnsureMemory makes room by calling Evict for the rows'
// share of the excess. Indexes stay in memory.

// rowBody is a row held in memory. data never changes once the body is
// published; seq and ref do.
type rowBody struct {
	data string
	// seq is the durable sequence of the write that made this body
	// (pendingSeq until its command's batch is appended, 0 for a body read
	// from the store): the body may leave memory once it is committed.
	seq atomic.Uint64
	ref atomic.Bool // read since the evictor last passed it: a second chance
}

const pendingSeq = math.MaxUint64

// coldRow is the slot of a row that is stored but not in memory.
var coldRow = &rowBody{}

// rowOverhead is what a resident row is counted for beyond its data: the
// body, the string's allocation rounding, its ring entry.
const rowOverhead = 72

// slotBytes is what a row slot is counted for.
const slotBytes = 8

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

// syncPinned counts t's slots and indexes at their current size (called
// after anything that changes them, under the write lock).
func (db *DB) syncPinned(t *table) {
	n := int64(cap(t.rows)) * slotBytes
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
	db.addMem(-c - t.pinned)
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

// MemoryBytes is all the memory the engine is counted for: slots, indexes
// and resident rows.
func (db *DB) MemoryBytes() int64 { return db.mem.Load() }

// ---- slots ----

// growRows makes t's slot array hold id (write lock).
func (db *DB) growRows(t *table, id int64) {
	if id < int64(len(t.rows)) {
		return
	}
	db.cmu.Lock()
	defer db.cmu.Unlock()
	if id < int64(cap(t.rows)) {
		t.rows = t.rows[:id+1]
		return
	}
	n := int64(cap(t.rows))
	if n < 16 {
		n = 16
	}
	for n <= id {
		n *= 2
	}
	rows := make([]atomic.Pointer[rowBody], id+1, n)
	for i := range t.rows {
		rows[i].Store(t.rows[i].Load())
	}
	t.rows = rows
}

// setRow publishes row id = data as written by the running command (write
// lock); the command's commit stamps it with its durable sequence.
func (db *DB) setRow(t *table, id int64, data string) {
	db.growRows(t, id)
	nb := &rowBody{data: data}
	if db.persist {
		nb.seq.Store(pendingSeq)
		db.written = append(db.written, nb)
	}
	old := t.rows[id].Swap(nb)
	d := rowBytes(data)
	if old != nil && old != coldRow {
		d -= rowBytes(old.data)
	} else {
		db.ringAdd(t, id)
	}
	db.cachedDelta(t, d)
}

// replaceRow swaps a resident body for one with other data but the same
// write (TALTER DROP removing a value in memory only); a cold row is left
// alone (reading it drops the value again).
func (db *DB) replaceRow(t *table, id int64, old *rowBody, data string) {
	nb := &rowBody{data: data}
	nb.seq.Store(old.seq.Load())
	if t.rows[id].CompareAndSwap(old, nb) {
		db.cachedDelta(t, rowBytes(data)-rowBytes(old.data))
	}
}

// clearRow empties slot id (TDEL, write lock).
func (db *DB) clearRow(t *table, id int64) {
	old := t.rows[id].Swap(nil)
	if old != nil && old != coldRow {
		db.cachedDelta(t, -rowBytes(old.data))
	}
}

// markStored records that row id exists in the store only (loading).
func (db *DB) markStored(t *table, id int64) {
	db.growRows(t, id)
	t.rows[id].Store(coldRow)
}

// stampWritten gives the bodies the running command published the
// sequence of its durable batch.
func (db *DB) stampWritten(seq uint64) {
	for i, b := range db.written {
		b.seq.Store(seq)
		db.written[i] = nil
	}
	db.written = db.written[:0]
}

// row returns row id of t: its data, whether it exists, and the error of
// reading it from the store. A cold row read is kept in memory.
func (db *DB) row(t *table, id int64) (string, bool, error) {
	if id <= 0 || id >= int64(len(t.rows)) {
		return "", false, nil
	}
	s := &t.rows[id]
	b := s.Load()
	if b == nil {
		return "", false, nil
	}
	if b != coldRow {
		if !b.ref.Load() {
			b.ref.Store(true)
		}
		return b.data, true, nil
	}
	var kb [16]byte
	db.reads.Add(1)
	v, ok, err := db.store.TableGet(rowKey(kb[:0], t.tid, id))
	if err == nil && !ok {
		err = fmt.Errorf("row missing")
	}
	if err != nil {
		return "", false, errRead(t, id, err)
	}
	data, err := db.storedRow(t, id, v)
	if err != nil {
		return "", false, err
	}
	nb := &rowBody{data: data}
	if s.CompareAndSwap(coldRow, nb) {
		db.ringAdd(t, id)
		db.cachedDelta(t, rowBytes(data))
	}
	return data, true, nil
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
	var it *storage.TableIterator
	valid := false
	defer func() {
		if it != nil {
			it.Close()
		}
	}()
	var kb [16]byte
	for id := int64(1); id < int64(len(t.rows)); id++ {
		b := t.rows[id].Load()
		if b == nil {
			continue
		}
		if b != coldRow {
			if !fn(id, b.data) {
				return nil
			}
			continue
		}
		want := rowKey(kb[:0], t.tid, id)
		if it == nil {
			var err error
			if it, err = db.store.TableIter(rowKey(nil, t.tid, 1), rowKey(nil, t.tid, int64(len(t.rows)))); err != nil {
				return errRead(t, id, err)
			}
			valid = it.SeekGE(want)
		}
		// resident and deleted rows leave stored keys to step over; a
		// long run of them is skipped with a seek
		for steps := 0; valid && bytes.Compare(it.Key(), want) < 0; steps++ {
			if steps == 8 {
				valid = it.SeekGE(want)
				continue
			}
			valid = it.Next()
		}
		if !valid || !bytes.Equal(it.Key(), want) {
			err := it.Err()
			if err == nil {
				err = fmt.Errorf("row missing")
			}
			return errRead(t, id, err)
		}
		v := it.Value()
		if v == nil {
			if err := it.Err(); err != nil {
				return errRead(t, id, err)
			}
		}
		db.reads.Add(1)
		data, err := db.storedRow(t, id, v)
		if err != nil {
			return err
		}
		if !transient && len(data) > 0 && unsafe.StringData(data) == &v[0] {
			data = strings.Clone(data)
		}
		if !fn(id, data) {
			return nil
		}
	}
	return nil
}

// ---- eviction ----

// ringAdd queues a row that became resident for eviction. The ring is kept
// only once the store has asked for eviction (ringOn); until then Evict
// fills it from the slots.
func (db *DB) ringAdd(t *table, id int64) {
	if !db.persist {
		return
	}
	db.cmu.Lock()
	if db.ringOn {
		db.ringPush(ringEnt{t, id})
	}
	db.cmu.Unlock()
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

// live reports whether a ring entry still names a resident row.
func (e ringEnt) live() bool {
	if e.t.dropped || e.id >= int64(len(e.t.rows)) {
		return false
	}
	b := e.t.rows[e.id].Load()
	return b != nil && b != coldRow
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
		db.addMem(int64(n-len(db.ring)) * 16)
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
			for id := range t.rows {
				if b := t.rows[id].Load(); b != nil && b != coldRow {
					db.ringPush(ringEnt{t, int64(id)})
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
		s := &e.t.rows[e.id]
		b := s.Load()
		if b.seq.Load() > committed {
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
		if !s.CompareAndSwap(b, coldRow) {
			db.ringPush(e) // written again meanwhile: still resident
			continue
		}
		sz := rowBytes(b.data)
		e.t.cached.Add(-sz)
		freed += sz
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

// exists reports whether row id of t exists (no disk read).
func (t *table) exists(id int64) bool {
	return id > 0 && id < int64(len(t.rows)) && t.rows[id].Load() != nil
}
