package storage

import (
	"encoding/binary"
	"math"
	"slices"
	"sync"
)

// Tx is the change set of one command, and the only way a key's value
// changes: every mutation — a string written (SET, APPEND, INCR...), a
// collection's elements changed (HSET, SADD, ZADD, LPUSH...), a key created,
// replaced, renamed, moved, copied, deleted, given or stripped of a deadline
// — is one call of a Tx method. That call applies the change to the cache
// (resident entry, tombstone, memory accounting, key count, key index),
// reports it through DB.touch (WATCH invalidation, keyspace notifications,
// blocked-client wake-ups: the events reach the hook in call order) and
// buffers its durable records; Commit hands every record of the command to
// the durable store in one append, so a crash never leaves half a command on
// disk (an SMOVE that removed the member from the source but not yet added
// it to the destination, a SINTERSTORE destination with part of its members).
//
// Use: tx := db.Begin(); ... tx.SetString/Create/Put/Del/Changed/List/
// Delete/Rename/... ; tx.Commit(). The caller holds the shard of every key
// it names and must call Commit before releasing them. Byte slices passed in
// are copied; the elements of a collection given to Store (or carried by
// Rename, MoveTo, CopyTo) are read from it by Commit. The DB methods that change one key (SetString, Delete,
// SetExpiry, Persist, Rename, MoveTo, CopyTo, Signal) are a Tx of that one
// change.
//
// A Tx is recycled through a pool: a command that writes one key allocates
// nothing for its change set.
type Tx struct {
	db     DB
	dur    bool
	arena  []byte
	ops    []txOp
	objs   []Object // collections read when the batch is filled (txElems, txMember, txList)
	lops   []listOp // lists' element changes (txList)
	shards []*shard
	lastK  [2]int // span of the last key recorded, reused by the next record of that key
	prefix []byte // write's element prefix (kept: a new one each write was 6% of pipelined LPUSH's CPU)
	// touched: a change was reported (counted in Stats.Changes without
	// persistence, where there are no records)
	touched bool
}

type txOp struct {
	kind   uint8
	typ    Type
	db     uint8
	k0, k1 int   // key span in arena
	s0, s1 int   // sub-key span (txElems: index in objs)
	v0, v1 int   // value (element value or meta payload) span (txMember: index in objs)
	exp    int64 // txMeta: the key's deadline
}

const (
	txPut       uint8 = iota // element record
	txDel                    // element deletion
	txMeta                   // meta record (with its deadline hint)
	txDrop                   // meta record and, for a collection, every element
	txDropElems              // every element (the key stays, as a string)
	txElems                  // every element of objs[s0], read when the batch is filled
	txMember                 // a sorted set member with its score in objs[v0] when the batch is filled
	txDelRange               // every element with sub-key in [sub, val) (a series' retention)
	txSample                 // a time series sample (sub: ts, val: value bits) for the series' run
	txList                   // a list's element changes: lops[s0:s1] of the List objs[v0] (List.record)
)

var txPool = sync.Pool{New: func() any { return new(Tx) }}

// Begin starts a command's change set.
func (db DB) Begin() *Tx {
	tx := txPool.Get().(*Tx)
	tx.db = db
	tx.dur = db.s.dur != nil
	tx.lastK = [2]int{-1, -1}
	return tx
}

// Grow makes room for n more records of about size bytes (keys and values)
// in all, so a command of many writes (MSET of half a million keys) fills
// its buffers without regrowing them again and again.
func (tx *Tx) Grow(n, size int) {
	if !tx.dur {
		return
	}
	tx.ops = slices.Grow(tx.ops, n)
	tx.arena = slices.Grow(tx.arena, size)
}

// memTx is a Tx for a store that keeps nothing on disk, returned by value
// so it stays on the caller's stack: such a Tx records nothing, so the
// pool's round trip (Begin, Commit) is all it would cost. The hot string
// writes use it; end it with commitMem.
func memTx(db DB) Tx {
	return Tx{db: db, lastK: [2]int{-1, -1}}
}

// commitMem ends a memTx: the change counts as Commit counts it.
func (tx *Tx) commitMem() {
	if tx.touched {
		tx.db.s.stats.Changes.Add(1)
	}
}

// keySpan copies key into the arena, or reuses the copy the previous record
// made of the same key.
func (tx *Tx) keySpan(key []byte) (int, int) {
	if k0, k1 := tx.lastK[0], tx.lastK[1]; k0 >= 0 && string(tx.arena[k0:k1]) == string(key) {
		return k0, k1
	}
	k0, k1 := tx.span(key)
	tx.lastK = [2]int{k0, k1}
	return k0, k1
}

func (tx *Tx) span(b []byte) (int, int) {
	start := len(tx.arena)
	tx.arena = append(tx.arena, b...)
	return start, len(tx.arena)
}

func (tx *Tx) addShard(sh *shard) {
	for _, x := range tx.shards {
		if x == sh {
			return
		}
	}
	tx.shards = append(tx.shards, sh)
}

// rec buffers one durable record of key in database db (shard sh).
func (tx *Tx) rec(kind uint8, db DB, sh *shard, key, sub, val []byte, t Type, exp int64) {
	if !tx.dur {
		return
	}
	o := txOp{kind: kind, typ: t, db: uint8(db.idx), exp: exp}
	o.k0, o.k1 = tx.keySpan(key)
	o.s0, o.s1 = tx.span(sub)
	o.v0, o.v1 = tx.span(val)
	tx.ops = append(tx.ops, o)
	tx.addShard(sh)
}

// recElems buffers the records of every element of obj under key, read from
// obj when the durable batch is filled (no copy: RENAME, COPY, *STORE).
func (tx *Tx) recElems(db DB, sh *shard, key []byte, obj Object) {
	if !tx.dur {
		return
	}
	o := txOp{kind: txElems, db: uint8(db.idx), s0: len(tx.objs)}
	o.k0, o.k1 = tx.keySpan(key)
	tx.objs = append(tx.objs, obj)
	tx.ops = append(tx.ops, o)
	tx.addShard(sh)
}

// payload is the meta payload of e after its type and deadline.
func payload(e *Entry) []byte {
	if e.Object() != nil {
		return e.Object().MetaPayload()
	}
	return e.Bytes()
}

// ---- the cache side of every change ----

// remove deletes key's resident entry (live or past its deadline) with its
// records and reports event; it reports whether there was an entry.
func (tx *Tx) remove(db DB, sh *shard, key []byte, event string) bool {
	k := string(key)
	e := sh.m.get(k)
	if e == nil {
		return false
	}
	db.unlink(sh, k, e.memSize(len(k)))
	db.removed(sh, key)
	db.valueGone(sh, key, e.Type)
	tx.rec(txDrop, db, sh, key, nil, nil, e.Type, 0)
	if event != "" {
		tx.touch(db, sh, key, event)
	}
	return true
}

// install makes e the value of key in db with deadline exp, replacing any
// live value silently (as Redis does: only the command's event is
// reported) or counting a new key ("new"), and records its meta record and,
// with elems, every element of its collection. It reports no event.
func (tx *Tx) install(db DB, sh *shard, key []byte, e *Entry, exp int64, elems bool) {
	e.rekey(key) // RENAME: the entry was key's source's
	if old := db.lookup(sh, key, false); old != nil {
		k := string(key)
		db.unlink(sh, k, old.memSize(len(k)))
		db.valueGone(sh, key, old.Type)
		tx.rec(txDrop, db, sh, key, nil, nil, old.Type, 0)
		e.lru = lruClock()
		db.link(sh, key, e)
	} else {
		tx.create(db, sh, key, e)
	}
	db.setExpiry(sh, key, exp)
	db.valueInstalled(sh, key, e, exp)
	tx.rec(txMeta, db, sh, key, nil, payload(e), e.Type, exp)
	if l, ok := e.Object().(*List); ok && elems {
		// written whole: the element changes that built it (RESTORE,
		// SORT STORE push its elements) are not to be written again
		l.dropOps()
	}
	if elems && e.Object() != nil {
		tx.recElems(db, sh, key, e.Object())
	}
}

// create makes e the value of key, which does not exist (no record: the
// caller records the meta record).
func (tx *Tx) create(db DB, sh *shard, key []byte, e *Entry) {
	db.created(sh)
	db.fire(key, "new")
	e.lru = lruClock()
	db.link(sh, key, e)
}

// touch reports a change of key (DB.touch) and counts it; the change's
// origin is the Tx's, also for a key of another database (MOVE, COPY DB).
func (tx *Tx) touch(db DB, sh *shard, key []byte, event string) {
	tx.touched = true
	db.origin = tx.db.origin
	db.touch(sh, key, event)
}

// expireCold deletes key, which is not resident, because its deadline
// passed (lazy and active expiry of keys only on disk).
func (tx *Tx) expireCold(sh *shard, key []byte, t Type) {
	db := tx.db
	db.removed(sh, key)
	db.valueGone(sh, key, t)
	db.tombstone(sh, string(key))
	tx.rec(txDrop, db, sh, key, nil, nil, t, 0)
	tx.touch(db, sh, key, "expired")
}

// ---- strings ----

// SetString stores the string val under key, replacing any value, and
// reports event ("set", "append", "incrby", "incrbyfloat", "setrange"). exp
// is an absolute unix-ms deadline; 0 clears any deadline unless keepTTL is
// set. The key's entry is updated in place (its buffer reused when it fits).
func (tx *Tx) SetString(key, val []byte, exp int64, keepTTL bool, event string) {
	db := tx.db
	sh := db.shard(key)
	e := sh.m.get(bstr(key))
	if e != nil && len(sh.expires) > 0 {
		if d, ok := sh.expires[string(key)]; ok && d <= NowMs() {
			// past its deadline but not reclaimed yet: it expires first, as
			// Redis's lookupKeyWrite does ("expired", then the write's event)
			tx.remove(db, sh, key, "expired")
			db.s.stats.ExpiredKeys.Add(1)
			e = nil
		}
	}
	blind := false
	if e == nil {
		if class, ok := db.indexClass(sh, key); ok && !keepTTL && class != classColl {
			// absent, or a string that is only on disk: its old value is
			// not needed, so it is not read (a SET stays one write)
			blind = class == classString
		} else {
			e = db.loadFromDisk(sh, key)
		}
	}
	if keepTTL {
		exp = sh.expires[string(key)]
	}
	if e == nil {
		e = newStringEntry(key, val)
		db.link(sh, key, e)
		if !blind {
			db.created(sh)
			db.fire(key, "new")
		}
	} else if e.Type != TypeString {
		// a string over a collection: its elements go, in the same batch
		// (a vector has no element records)
		if e.Type != TypeVector && e.Object() != nil {
			tx.rec(txDropElems, db, sh, key, nil, nil, e.Type, 0)
		}
		db.valueGone(sh, key, e.Type)
		before := e.memSize(len(key))
		e.setValue(key, nil, len(val)) // the collection and its box go
		e.Type = TypeString
		db.account(sh, e.memSize(len(key))-before)
	}
	db.setExpiry(sh, key, exp)
	tx.storeString(sh, e, key, val, exp, event)
}

// storeString makes val the value of e, key's resident string entry (or
// one becoming a string), and records it with deadline exp.
func (tx *Tx) storeString(sh *shard, e *Entry, key, val []byte, exp int64, event string) {
	db := tx.db
	old := e.memSize(len(key))
	e.setBytes(key, val)
	e.Type, e.lru = TypeString, lruClock()
	// values grown in place, and HyperLogLogs (Redis creates them raw)
	e.setRaw(event == "append" || event == "setrange" || len(event) > 2 && event[:2] == "pf")
	if delta := e.memSize(len(key)) - old; delta != 0 {
		db.account(sh, delta)
	}
	tx.rec(txMeta, db, sh, key, nil, val, TypeString, exp)
	tx.touch(db, sh, key, event)
}

// ---- key-level changes ----

// Delete deletes key (any type) and reports whether it existed (event "del").
func (tx *Tx) Delete(key []byte) bool {
	db := tx.db
	sh := db.shard(key)
	if db.lookup(sh, key, false) == nil {
		return false
	}
	return tx.remove(db, sh, key, "del")
}

// SetExpiry sets key's absolute deadline (unix ms); a deadline in the past
// deletes the key (event "del" as Redis does for EXPIRE with a past time).
// It reports whether the key exists.
func (tx *Tx) SetExpiry(key []byte, exp int64) bool {
	db := tx.db
	sh := db.shard(key)
	e := db.lookup(sh, key, false)
	if e == nil {
		return false
	}
	if exp <= NowMs() {
		return tx.remove(db, sh, key, "del")
	}
	sh.expires[string(key)] = exp
	if e.Type == TypeVector {
		db.vecExpiry(key, e, exp)
	}
	tx.rec(txMeta, db, sh, key, nil, payload(e), e.Type, exp)
	tx.touch(db, sh, key, "expire")
	return true
}

// Persist removes key's deadline; it reports whether one was removed.
func (tx *Tx) Persist(key []byte) bool {
	db := tx.db
	sh := db.shard(key)
	e := db.lookup(sh, key, false)
	if e == nil {
		return false
	}
	if _, ok := sh.expires[string(key)]; !ok {
		return false
	}
	delete(sh.expires, string(key))
	if e.Type == TypeVector {
		db.vecExpiry(key, e, 0)
	}
	tx.rec(txMeta, db, sh, key, nil, payload(e), e.Type, 0)
	tx.touch(db, sh, key, "persist")
	return true
}

// Rename moves src's value and deadline to dst in the same database,
// replacing any value dst holds (RENAME, RENAMENX). It reports whether src
// existed. src and dst differ.
func (tx *Tx) Rename(src, dst []byte) bool {
	return tx.relocate(src, tx.db, dst, "rename_from", "rename_to")
}

// MoveTo moves key with its deadline to database to under the same name
// (MOVE), replacing any value it holds there. It reports whether key existed.
func (tx *Tx) MoveTo(key []byte, to DB) bool {
	return tx.relocate(key, to, key, "move_from", "move_to")
}

// relocate moves src's entry and deadline to dst in database to (RENAME,
// MOVE), reporting fromEv on src and toEv on dst.
func (tx *Tx) relocate(src []byte, to DB, dst []byte, fromEv, toEv string) bool {
	db := tx.db
	sh := db.shard(src)
	e := db.lookup(sh, src, false)
	if e == nil {
		return false
	}
	exp := sh.expires[string(src)]
	tx.remove(db, sh, src, fromEv)
	tsh := to.shard(dst)
	tx.install(to, tsh, dst, e, exp, true)
	tx.touch(to, tsh, dst, toEv)
	return true
}

// CopyTo stores an independent copy of src's value and deadline under dst in
// database to (COPY), replacing any value dst holds. It returns false when
// src does not exist. (tx's database, src) and (to, dst) differ.
func (tx *Tx) CopyTo(src []byte, to DB, dst []byte) bool {
	db := tx.db
	sh := db.shard(src)
	e := db.lookup(sh, src, false)
	if e == nil {
		return false
	}
	exp := sh.expires[string(src)]
	var ne *Entry
	if e.Object() != nil {
		ne = newObjEntry(dst, e.Object().Clone())
		ne.Type = e.Type
	} else {
		ne = newStringEntry(dst, e.Bytes())
		ne.Type = e.Type
	}
	tsh := to.shard(dst)
	tx.install(to, tsh, dst, ne, exp, true)
	tx.touch(to, tsh, dst, "copy_to")
	return true
}

// Restore stores a value built from a serialized payload (RESTORE) under
// key with deadline exp (absolute unix ms, 0 = none), replacing silently any
// value the key holds, records it and reports event ("restore"). A string is
// str with obj nil (str is copied); a collection is obj, which the store
// keeps. It returns the new entry, for SetIdle/SetFreq.
func (tx *Tx) Restore(key, str []byte, obj Object, exp int64, event string) *Entry {
	db := tx.db
	sh := db.shard(key)
	var e *Entry
	if obj != nil {
		e = newObjEntry(key, obj)
	} else {
		e = newStringEntry(key, str)
	}
	tx.install(db, sh, key, e, exp, true)
	tx.touch(db, sh, key, event)
	return e
}

// Signal reports event for key without changing it (Redis's
// signalModifiedKey for commands that change nothing durable).
func (tx *Tx) Signal(key []byte, event string) {
	tx.touch(tx.db, tx.db.shard(key), key, event)
}

// ---- collections ----

// Create stores the empty or partial collection obj under key, replacing
// any value the key holds (and its deadline), and records the new key's
// meta record: the caller records the elements with Put and ends with
// Changed, whose event is the only one the key reports (as in Redis).
func (tx *Tx) Create(key []byte, obj Object) *Entry {
	e := newObjEntry(key, obj)
	tx.install(tx.db, tx.db.shard(key), key, e, 0, false)
	return e
}

// Store stores the complete, non-empty collection obj under key, replacing
// any value the key holds (and its deadline), records every element and
// reports event (SINTERSTORE, ZUNIONSTORE, a ZADD creating its key, ...).
func (tx *Tx) Store(key []byte, obj Object, event string) *Entry {
	db := tx.db
	sh := db.shard(key)
	e := newObjEntry(key, obj)
	tx.install(db, sh, key, e, 0, true)
	tx.touch(db, sh, key, event)
	return e
}

// Put records element sub = val of key's collection.
func (tx *Tx) Put(key, sub, val []byte) {
	tx.rec(txPut, tx.db, tx.db.shard(key), key, sub, val, 0, 0)
}

// PutMember records member m of key's sorted set z with the score z holds
// for it when Commit fills the batch: the stored score (a listpack keeps -0
// as 0), looked up only with persistence.
func (tx *Tx) PutMember(key []byte, z *ZSet, m []byte) {
	if !tx.dur {
		return
	}
	tx.rec(txMember, tx.db, tx.db.shard(key), key, m, nil, 0, 0)
	o := &tx.ops[len(tx.ops)-1]
	if n := len(tx.objs); n == 0 || tx.objs[n-1] != Object(z) {
		tx.objs = append(tx.objs, z)
	}
	o.v0 = len(tx.objs) - 1
}

// Del records the removal of element sub of key's collection.
func (tx *Tx) Del(key, sub []byte) {
	tx.rec(txDel, tx.db, tx.db.shard(key), key, sub, nil, 0, 0)
}

// Changed ends the changes to key's collection (elements only; the meta
// payload must be unchanged): memDelta is MemSize after minus before. A
// collection left empty is deleted with its elements; the events are event,
// then "del" for a deleted key, as Redis notifies.
func (tx *Tx) Changed(key []byte, e *Entry, memDelta int64, event string) {
	db := tx.db
	sh := db.shard(key)
	db.account(sh, memDelta)
	tx.touch(db, sh, key, event)
	if e.Object() != nil && e.Object().Len() == 0 && sh.m.get(bstr(key)) == e {
		tx.remove(db, sh, key, "del")
	}
}

// ListChange is one key's list mutation, for Tx.List.
type ListChange struct {
	Key   []byte
	Entry *Entry // nil: the key did not exist and List is a new list
	List  *List
	Event string // keyspace event name: "lpush", "rpop", "linsert", ...
}

// List records a list mutation: the element records the List changed since
// the last one and its meta record. It accounts memory, creates a new key
// (Entry nil), deletes a list left empty (events: Event, then "del") and
// reports Event. It returns the key's entry (nil once deleted). A key may
// be recorded twice in one Tx (LMOVE from a list to itself); its element
// records are written once.
func (tx *Tx) List(ch ListChange) *Entry {
	db := tx.db
	sh := db.shard(ch.Key)
	l, e := ch.List, ch.Entry
	if e == nil {
		// the same new list may come twice (LMOVE onto itself)
		if e = sh.m.get(bstr(ch.Key)); e != nil && e.Object() != Object(l) {
			e = nil
		}
	}
	ops := l.ops
	defer l.dropOps() // (copied by listOps)
	switch {
	case e == nil && l.n == 0:
		return nil
	case e == nil:
		e = newObjEntry(ch.Key, l)
		l.accounted = l.MemSize()
		tx.create(db, sh, ch.Key, e)
		tx.listOps(sh, ch.Key, l, ops)
		tx.rec(txMeta, db, sh, ch.Key, nil, l.MetaPayload(), TypeList, 0)
	case l.n == 0:
		if sh.m.get(bstr(ch.Key)) == e {
			// the meta record's deletion takes every element with it
			db.account(sh, int64(e.Object().MemSize()-l.accounted))
			tx.touch(db, sh, ch.Key, ch.Event)
			tx.remove(db, sh, ch.Key, "del")
		}
		return nil
	default:
		db.account(sh, int64(l.MemSize()-l.accounted))
		l.accounted = l.MemSize()
		e.lru = lruClock()
		tx.listOps(sh, ch.Key, l, ops)
		if l.oldMeta {
			// a list of format 1: its meta record's head and tail would
			// go stale; the empty payload makes the records say (list.go)
			l.oldMeta = false
			tx.rec(txMeta, db, sh, ch.Key, nil, l.MetaPayload(), TypeList, sh.expires[string(ch.Key)])
		}
	}
	tx.touch(db, sh, ch.Key, ch.Event)
	return e
}

// listOps records a list's changed element records.
func (tx *Tx) listOps(sh *shard, key []byte, l *List, ops []listOp) {
	if !tx.dur || len(ops) == 0 {
		return
	}
	tx.addShard(sh)
	o := txOp{kind: txList, db: uint8(tx.db.idx), s0: len(tx.lops), v0: len(tx.objs)}
	o.k0, o.k1 = tx.keySpan(key)
	tx.lops = append(tx.lops, ops...)
	o.s1 = len(tx.lops)
	tx.objs = append(tx.objs, l)
	tx.ops = append(tx.ops, o)
}

// ---- commit ----

// Commit appends the buffered records in one durable write and recycles tx
// (which must not be used afterwards).
func (tx *Tx) Commit() {
	db := tx.db
	if len(tx.ops) > 0 {
		db.s.appendDurableMulti(tx.shards, tx.write)
	} else if !tx.dur && tx.touched {
		db.s.stats.Changes.Add(1)
	}
	tx.touched = false
	tx.arena = tx.arena[:0]
	tx.ops = tx.ops[:0]
	if len(tx.objs) > 0 {
		clear(tx.objs)
		tx.objs = tx.objs[:0]
	}
	if len(tx.lops) > 0 {
		clear(tx.lops)
		tx.lops = tx.lops[:0]
	}
	tx.shards = tx.shards[:0]
	tx.db = DB{}
	if cap(tx.arena) <= 64<<10 && cap(tx.ops) <= 4096 {
		txPool.Put(tx)
	}
}

// write fills the durable batch (under the durable store's lock).
func (tx *Tx) write(b *Pending) {
	b.Grow(len(tx.ops), len(tx.arena)+len(tx.ops)*24) // keys get a prefix of up to 11 bytes, meta values a header
	prefix := tx.prefix[:0]
	for _, o := range tx.ops {
		key := tx.arena[o.k0:o.k1]
		dbi := int(o.db)
		switch o.kind {
		case txPut, txDel:
			prefix = elemPrefix(prefix[:0], dbi, key)
			sub := tx.arena[o.s0:o.s1]
			if o.kind == txDel {
				op := b.DeleteDeferred(len(prefix) + len(sub))
				copy(op.Key, prefix)
				copy(op.Key[len(prefix):], sub)
				op.Finish()
				continue
			}
			val := tx.arena[o.v0:o.v1]
			op := b.SetDeferred(len(prefix)+len(sub), len(val))
			copy(op.Key, prefix)
			copy(op.Key[len(prefix):], sub)
			copy(op.Value, val)
			op.Finish()
		case txList:
			prefix = elemPrefix(prefix[:0], dbi, key)
			tx.objs[o.v0].(*List).record(b, prefix, tx.lops[o.s0:o.s1])
		case txSample:
			prefix = elemPrefix(prefix[:0], dbi, key)
			ts := int64(binary.BigEndian.Uint64(tx.arena[o.s0:]))
			val := math.Float64frombits(binary.BigEndian.Uint64(tx.arena[o.v0:]))
			b.AppendSample(prefix, ts, val)
		case txDelRange:
			p := elemPrefix(nil, dbi, key)
			n := len(p)
			start := append(p, tx.arena[o.s0:o.s1]...)
			end := append(start[:n:n], tx.arena[o.v0:o.v1]...)
			b.DeleteRange(start, end, nil)
		case txMeta:
			writeMeta(b, dbi, key, o.typ, o.exp, tx.arena[o.v0:o.v1])
		case txDrop:
			deleteMeta(b, dbi, key, o.typ != TypeString && o.typ != TypeVector)
		case txDropElems:
			p := elemPrefix(nil, dbi, key)
			b.DeleteRange(p, prefixEnd(p), nil)
		case txMember:
			m := tx.arena[o.s0:o.s1]
			score, ok := tx.objs[o.v0].(*ZSet).Score(m)
			if !ok {
				continue // removed again by the command: its deletion follows
			}
			prefix = elemPrefix(prefix[:0], dbi, key)
			op := b.SetDeferred(len(prefix)+len(m), 8)
			copy(op.Key, prefix)
			copy(op.Key[len(prefix):], m)
			encodeZScore(op.Value[:0], score)
			op.Finish()
		case txElems:
			prefix = elemPrefix(prefix[:0], dbi, key)
			if l, ok := tx.objs[o.s0].(*List); ok {
				l.resetDisk() // written whole as point records
			}
			p := prefix
			tx.objs[o.s0].ForEachElem(func(sub, val []byte) {
				op := b.SetDeferred(len(p)+len(sub), len(val))
				copy(op.Key, p)
				copy(op.Key[len(p):], sub)
				copy(op.Value, val)
				op.Finish()
			})
		}
	}
	if cap(prefix) <= 1024 {
		tx.prefix = prefix[:0]
	}
}
