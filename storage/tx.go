package storage

import "sync"

// CollTx is the change set of one collection command (HSET, SMOVE,
// SINTERSTORE, ...): its in-memory changes apply at once, its durable
// records are buffered and reach the durable store in one append by Commit,
// so a crash never leaves half a command on disk (an SMOVE that removed the
// member from the source but not yet added it to the destination, a
// SINTERSTORE destination with part of its members). Events and WATCH
// invalidation are reported by Commit, in order.
//
// Use: tx := db.BeginColl(); ... tx.Create/Put/Del/Changed/Delete ...;
// tx.Commit(). The caller holds the shard of every key it names and must
// call Commit before releasing them. Byte slices passed in are copied.
type CollTx struct {
	db      DB
	dur     bool
	arena   []byte
	ops     []collOp
	shards  []*shard
	touches []collTouch
}

type collOp struct {
	kind           uint8
	typ            Type
	k0, k1, s0, s1 int // key and sub-key spans in arena
	v0, v1         int // value (element value or meta payload) span
}

const (
	collPut  uint8 = iota // element record
	collDel               // element deletion
	collMeta              // meta record of a new key (no deadline)
	collDrop              // meta record and every element of a key
)

type collTouch struct {
	sh     *shard
	k0, k1 int
	event  string
}

var collTxPool = sync.Pool{New: func() any { return new(CollTx) }}

// BeginColl starts a collection command's change set.
func (db DB) BeginColl() *CollTx {
	tx := collTxPool.Get().(*CollTx)
	tx.db = db
	tx.dur = db.s.dur != nil
	return tx
}

func (tx *CollTx) span(b []byte) (int, int) {
	start := len(tx.arena)
	tx.arena = append(tx.arena, b...)
	return start, len(tx.arena)
}

func (tx *CollTx) addShard(sh *shard) {
	for _, x := range tx.shards {
		if x == sh {
			return
		}
	}
	tx.shards = append(tx.shards, sh)
}

func (tx *CollTx) op(kind uint8, key, sub, val []byte, t Type) {
	if !tx.dur {
		return
	}
	o := collOp{kind: kind, typ: t}
	o.k0, o.k1 = tx.span(key)
	o.s0, o.s1 = tx.span(sub)
	o.v0, o.v1 = tx.span(val)
	tx.ops = append(tx.ops, o)
	tx.addShard(tx.db.shard(key))
}

func (tx *CollTx) touch(sh *shard, key []byte, event string) {
	t := collTouch{sh: sh, event: event}
	t.k0, t.k1 = tx.span(key)
	tx.touches = append(tx.touches, t)
}

// dropMem removes key's entry from memory (accounting included) and records
// the deletion of its meta record and elements.
func (tx *CollTx) dropMem(sh *shard, key []byte) {
	k := string(key)
	e := sh.m[k]
	if e == nil {
		return
	}
	tx.db.unlink(sh, k, e.memSize(len(k)))
	tx.db.removed(sh, key)
	tx.op(collDrop, key, nil, nil, e.Type)
}

// Create stores obj under key, replacing any value the key holds (and its
// deadline), and records the new key's meta record. No event: the command
// reports the key once with Changed.
func (tx *CollTx) Create(key []byte, obj Object) *Entry {
	db := tx.db
	sh := db.shard(key)
	if db.lookup(sh, key, false) != nil {
		tx.dropMem(sh, key)
	} else {
		db.fire(key, "new")
	}
	e := &Entry{Obj: obj, Type: obj.Type(), lru: lruClock()}
	db.link(sh, string(key), e)
	db.created(sh)
	tx.op(collMeta, key, nil, obj.MetaPayload(), e.Type)
	return e
}

// Put records element sub = val of key.
func (tx *CollTx) Put(key, sub, val []byte) { tx.op(collPut, key, sub, val, 0) }

// Del records the removal of element sub of key.
func (tx *CollTx) Del(key, sub []byte) { tx.op(collDel, key, sub, nil, 0) }

// Changed ends the changes to key's collection (elements only; the meta
// payload must be unchanged): memDelta is MemSize after minus before. A
// collection left empty is deleted with its elements; the events are event,
// then "del" for a deleted key, as Redis notifies.
func (tx *CollTx) Changed(key []byte, e *Entry, memDelta int64, event string) {
	sh := tx.db.shard(key)
	tx.db.account(sh, memDelta)
	tx.touch(sh, key, event)
	if e.Obj != nil && e.Obj.Len() == 0 && sh.m[string(key)] == e {
		tx.dropMem(sh, key)
		tx.touch(sh, key, "del")
	}
}

// Delete deletes key (any type) and reports whether it existed (event "del").
func (tx *CollTx) Delete(key []byte) bool {
	sh := tx.db.shard(key)
	if tx.db.lookup(sh, key, false) == nil {
		return false
	}
	tx.dropMem(sh, key)
	tx.touch(sh, key, "del")
	return true
}

// Signal reports event for key without changing it.
func (tx *CollTx) Signal(key []byte, event string) {
	tx.touch(tx.db.shard(key), key, event)
}

// Commit appends the buffered records in one durable write, reports the
// events and recycles tx (which must not be used afterwards).
func (tx *CollTx) Commit() {
	db := tx.db
	if len(tx.ops) > 0 || (!tx.dur && len(tx.touches) > 0) {
		db.s.appendDurableMulti(tx.shards, tx.write)
	}
	for _, t := range tx.touches {
		db.touch(t.sh, tx.arena[t.k0:t.k1], t.event)
	}
	tx.arena = tx.arena[:0]
	tx.ops = tx.ops[:0]
	tx.shards = tx.shards[:0]
	tx.touches = tx.touches[:0]
	tx.db = DB{}
	if cap(tx.arena) <= 64<<10 {
		collTxPool.Put(tx)
	}
}

// write fills the durable batch (under the durable store's lock).
func (tx *CollTx) write(b *Pending) {
	db := tx.db
	var prefix []byte
	for _, o := range tx.ops {
		key := tx.arena[o.k0:o.k1]
		switch o.kind {
		case collPut, collDel:
			prefix = elemPrefix(prefix[:0], db.idx, key)
			sub := tx.arena[o.s0:o.s1]
			if o.kind == collDel {
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
		case collMeta:
			payload := tx.arena[o.v0:o.v1]
			writeMeta(b, db.idx, key, o.typ, 0, payload)
		case collDrop:
			deleteMeta(b, db.idx, key, o.typ != TypeString)
		}
	}
}
