package storage

import (
	"math"
)

// DB is one logical database. Its methods require the caller to hold the lock
// of the shard of every key passed (see Store.Lock).
type DB struct {
	s      *Store
	idx    int
	origin Origin // reported in every Event of a change made through db
}

// WithOrigin returns db whose changes report o as their Event.Origin.
func (db DB) WithOrigin(o Origin) DB {
	db.origin = o
	return db
}

// Index returns the database number.
func (db DB) Index() int { return db.idx }

// Store returns the store the database belongs to.
func (db DB) Store() *Store { return db.s }

func (db DB) shard(key []byte) *shard { return &db.s.shards[db.s.ShardOf(db.idx, key)] }

// Lookup returns the live entry of key for a read, or nil. It counts a
// keyspace hit or miss, expires the key lazily and marks it recently used.
func (db DB) Lookup(key []byte) *Entry {
	e := db.lookup(db.shard(key), key, true)
	if e == nil {
		db.s.stats.KeyspaceMiss.Add(1)
		db.fire(key, "keymiss")
	} else {
		db.s.stats.KeyspaceHits.Add(1)
	}
	return e
}

// LookupWrite returns the live entry of key for a write, or nil, without
// touching the hit/miss counters.
func (db DB) LookupWrite(key []byte) *Entry { return db.lookup(db.shard(key), key, true) }

// Peek returns the live entry without updating its access time (OBJECT, TYPE
// stay LRU-neutral as in Redis when asked with no-touch semantics).
func (db DB) Peek(key []byte) *Entry { return db.lookup(db.shard(key), key, false) }

func (db DB) lookup(sh *shard, key []byte, touch bool) *Entry {
	e := sh.m.get(bstr(key))
	if e == nil {
		if e = db.loadFromDisk(sh, key); e == nil {
			return nil
		}
	}
	if len(sh.expires) > 0 {
		if exp, ok := sh.expires[string(key)]; ok && exp <= NowMs() {
			if db.s.expirePaused.Load() {
				return nil // logically expired; reclaimed after the pause
			}
			db.deleteKey(sh, string(key), "expired")
			db.s.stats.ExpiredKeys.Add(1)
			return nil
		}
	}
	if touch {
		now := lruClock()
		if db.s.Policy().lfu() {
			lfuTouch(e, now)
		}
		e.lru = now
	}
	return e
}

// IsStale reports whether key exists but is past its deadline and not yet
// reclaimed (used by WATCH: a key already expired when watched does not
// abort EXEC).
func (db DB) IsStale(key []byte) bool {
	sh := db.shard(key)
	if ok := sh.m.has(bstr(key)); ok {
		exp, ok := sh.expires[string(key)]
		return ok && exp <= NowMs()
	}
	if !db.diskMayHave(sh, key) {
		return false
	}
	t, exp, err := db.diskHeader(key)
	return err == nil && t != TypeNone && exp != 0 && exp <= NowMs()
}

// Expiry returns the absolute unix-ms deadline of a live key, 0 if it has
// none (or does not exist).
func (db DB) Expiry(key []byte) int64 {
	sh := db.shard(key)
	if exp, ok := sh.expires[string(key)]; ok {
		return exp
	}
	if ok := sh.m.has(bstr(key)); ok {
		return 0
	}
	if db.lookup(sh, key, false) == nil {
		return 0
	}
	return sh.expires[string(key)]
}

// SetString stores a string value (a Tx of one change: Tx.SetString with
// event "set").
func (db DB) SetString(key, val []byte, exp int64, keepTTL bool) {
	db.SetStringEvent(key, val, exp, keepTTL, "set")
}

// SetStringEvent is Tx.SetString as a change of its own.
func (db DB) SetStringEvent(key, val []byte, exp int64, keepTTL bool, event string) {
	if db.s.dur == nil {
		tx := memTx(db)
		tx.SetString(key, val, exp, keepTTL, event)
		tx.commitMem()
		return
	}
	tx := db.Begin()
	tx.SetString(key, val, exp, keepTTL, event)
	tx.Commit()
}

// SetStringOf is SetStringEvent(key, val, 0, true, event) for e, the live
// string entry of key that LookupWrite returned in the same command (the
// shard still locked): the key is not looked up again (INCR and its kin).
func (db DB) SetStringOf(e *Entry, key, val []byte, event string) {
	sh := db.shard(key)
	var exp int64
	if len(sh.expires) > 0 {
		exp = sh.expires[string(key)]
	}
	if db.s.dur == nil {
		tx := memTx(db)
		tx.storeString(sh, e, key, val, exp, event)
		tx.commitMem()
		return
	}
	tx := db.Begin()
	tx.storeString(sh, e, key, val, exp, event)
	tx.Commit()
}

func (db DB) setExpiry(sh *shard, key []byte, exp int64) {
	if exp > 0 {
		sh.expires[string(key)] = exp
	} else if len(sh.expires) > 0 {
		delete(sh.expires, string(key))
	}
}

// Delete removes key (Tx.Delete as a change of its own); it reports whether
// a live key was removed.
func (db DB) Delete(key []byte) bool {
	tx := db.Begin()
	ok := tx.Delete(key)
	tx.Commit()
	return ok
}

// deleteKey removes a key that is in memory, live or past its deadline
// (lazy and active expiry, eviction without persistence).
func (db DB) deleteKey(sh *shard, key string, event string) {
	tx := db.Begin()
	tx.remove(db, sh, []byte(key), event)
	tx.Commit()
}

// link makes e, whose key is key, the resident entry of key (it was not
// resident) and accounts its memory. The entry counts as written until
// eviction stamps it.
func (db DB) link(sh *shard, key []byte, e *Entry) {
	sh.m.put(e)
	if db.s.dur != nil {
		sh.dirty[e] = dirtySeq
	} else if sh.ordered {
		sh.order = append(sh.order, string(key))
		sh.reorder()
	}
	db.indexDel(sh, key) // resident now: the table answers for it
	if len(sh.tomb) > 0 {
		if _, ok := sh.tomb[string(key)]; ok {
			// the new value's write follows the deletion in the log, and
			// the entry stays resident until that write is committed
			delete(sh.tomb, string(key))
			db.account(sh, -int64(len(key)+tombOverhead))
		}
	}
	db.account(sh, e.memSize(len(key)))
}

// unlink drops key's resident entry, whose accounted size is size, because
// the key is deleted or replaced; with persistence a tombstone stands for it
// until the deletion is committed.
func (db DB) unlink(sh *shard, k string, size int64) {
	if e := sh.m.get(k); e != nil && db.s.dur != nil {
		delete(sh.dirty, e)
	}
	sh.m.del(k)
	if sh.ordered {
		sh.reorder()
	}
	delete(sh.expires, k)
	db.account(sh, -size)
	db.tombstone(sh, k)
}

// tombstone records that key was deleted and Pebble may not know yet.
func (db DB) tombstone(sh *shard, k string) {
	if db.s.dur == nil {
		return
	}
	if _, ok := sh.tomb[k]; !ok {
		db.account(sh, int64(len(k)+tombOverhead))
	}
	sh.tomb[k] = dirtySeq
}

func (db DB) account(sh *shard, delta int64) {
	sh.mem += delta
	db.s.mem.Add(delta)
}

// created counts a new key; removed counts a deleted one. The change reaches
// the durable key count with the shard's next durable write (the key's own
// meta record), in the same batch.
func (db DB) created(sh *shard) {
	db.s.keys[db.idx].Add(1)
	if db.s.dur != nil {
		sh.cdelta++
	}
}

func (db DB) removed(sh *shard, key []byte) {
	db.indexDel(sh, key)
	db.s.keys[db.idx].Add(-1)
	if db.s.dur != nil {
		sh.cdelta--
	}
}

// SetExpiry is Tx.SetExpiry as a change of its own.
func (db DB) SetExpiry(key []byte, exp int64) bool {
	tx := db.Begin()
	ok := tx.SetExpiry(key, exp)
	tx.Commit()
	return ok
}

// Persist is Tx.Persist as a change of its own.
func (db DB) Persist(key []byte) bool {
	tx := db.Begin()
	ok := tx.Persist(key)
	tx.Commit()
	return ok
}

// fire reports an event to the hook without invalidating WATCHes: "new"
// (a key was created) and "keymiss" (a read found nothing), as Redis's n and
// m notification classes.
func (db DB) fire(key []byte, event string) {
	if h := db.s.hook.Load(); h != nil {
		(*h)(Event{DB: db.idx, Key: key, Name: event, Origin: db.origin})
	}
}

// Signal invalidates WATCHes and fires the event hook for key without
// changing it (Redis's signalModifiedKey for commands that change nothing
// durable): Tx.Signal outside a change set, as it records nothing.
func (db DB) Signal(key []byte, event string) { db.touch(db.shard(key), key, event) }

// touch is the single place every mutation reports to: WATCH invalidation and
// the event hook (pub/sub key events, blocked-client wake-ups).
func (db DB) touch(sh *shard, key []byte, event string) {
	if db.s.dur != nil {
		if e := sh.m.get(bstr(key)); e != nil {
			sh.dirty[e] = dirtySeq
		}
	}
	if len(sh.watched) > 0 {
		if regs := sh.watched[string(key)]; len(regs) > 0 {
			exists := sh.m.has(bstr(key))
			for _, r := range regs {
				if r.stale && !exists {
					// a key already expired when watched is now deleted:
					// logically nothing changed (Redis 7 semantics)
					r.stale = false
					continue
				}
				r.w.dirty.Store(true)
			}
		}
	}
	if h := db.s.hook.Load(); h != nil {
		(*h)(Event{DB: db.idx, Key: key, Name: event, Origin: db.origin})
	}
}

// watchReg is one client's WATCH of one key.
type watchReg struct {
	w     *Watch
	stale bool // the key was logically expired (but present) when watched
}

// Watch registers w to be dirtied when key changes.
func (db DB) Watch(key []byte, w *Watch) {
	sh := db.shard(key)
	if sh.watched == nil {
		sh.watched = make(map[string][]*watchReg)
	}
	for _, r := range sh.watched[string(key)] {
		if r.w == w {
			return
		}
	}
	sh.watched[string(key)] = append(sh.watched[string(key)], &watchReg{w: w, stale: db.IsStale(key)})
}

// WatchExpired reports whether key expired after w started watching it,
// which aborts EXEC like a modification.
func (db DB) WatchExpired(key []byte, w *Watch) bool {
	sh := db.shard(key)
	for _, r := range sh.watched[string(key)] {
		if r.w == w {
			return !r.stale && db.IsStale(key)
		}
	}
	return false
}

// Unwatch removes w from key's watchers.
func (db DB) Unwatch(key []byte, w *Watch) {
	sh := db.shard(key)
	regs := sh.watched[string(key)]
	for i, r := range regs {
		if r.w == w {
			regs = append(regs[:i], regs[i+1:]...)
			break
		}
	}
	if len(regs) == 0 {
		delete(sh.watched, string(key))
	} else {
		sh.watched[string(key)] = regs
	}
}

// ---- whole-database operations ----

// Size returns the number of keys, including keys that are only on disk
// (maintained on every write and stored with the data: no scan).
func (db DB) Size() int { return int(db.s.keys[db.idx].Load()) }

// ExpiresCount returns the number of resident keys with a deadline (keys
// that are only on disk are not counted).
func (db DB) ExpiresCount() int {
	n := 0
	for i := 0; i < ShardsPerDB; i++ {
		n += len(db.s.shards[db.idx*ShardsPerDB+i].expires)
	}
	return n
}

// Resident returns the number of keys of the database held in memory.
func (db DB) Resident() int {
	n := 0
	for i := 0; i < ShardsPerDB; i++ {
		n += db.s.shards[db.idx*ShardsPerDB+i].m.len()
	}
	return n
}

// Flush deletes every key of the database (the caller holds every shard of
// it). Watched keys that existed are invalidated, as Redis's FLUSHDB does.
// With persistence it waits until the deletion is committed, so that no
// lookup can read a flushed key back from disk.
func (db DB) Flush() error {
	for i := 0; i < ShardsPerDB; i++ {
		sh := &db.s.shards[db.idx*ShardsPerDB+i]
		for k, regs := range sh.watched {
			ok := db.lookup(sh, []byte(k), false) != nil
			if !ok {
				ok = db.IsStale([]byte(k))
			}
			if ok {
				for _, r := range regs {
					if r.stale {
						r.stale = false // an expired key deleted: no logical change
						continue
					}
					r.w.dirty.Store(true)
				}
			}
		}
		db.s.mem.Add(-sh.mem)
		db.s.ixMem.Add(-sh.ix.memSize())
		sh.mem, sh.cdelta = 0, 0
		sh.ix = keyIndex{}
		sh.ixReady.Store(db.s.dur != nil && !db.s.ixOff.Load())
		sh.dirty = make(map[*Entry]uint64)
		sh.order, sh.ordered = nil, false
		sh.epoch++
		sh.m = entryTable{}
		sh.expires = make(map[string]int64)
		sh.tomb = make(map[string]uint64)
		sh.tsFlushed()
	}
	db.s.keys[db.idx].Store(0)
	db.vecFlush()
	if db.s.dur != nil {
		first := &db.s.shards[db.idx*ShardsPerDB]
		seq := db.s.dur.append([]*shard{first}, func(b *Pending) {
			for _, ns := range []byte{nsMeta, nsElem, nsExpire} {
				b.DeleteRange([]byte{ns, byte(db.idx)}, []byte{ns, byte(db.idx) + 1}, nil)
			}
			b.ZeroCount(db.idx)
		})
		db.s.stats.Changes.Add(1)
		for i := 0; i < ShardsPerDB; i++ {
			db.s.shards[db.idx*ShardsPerDB+i].lastSeq.Store(seq)
		}
		if err := db.s.dur.waitCommitted(seq); err != nil {
			return err
		}
	}
	db.s.partial[db.idx].Store(false)
	return nil
}

// ForEach calls fn for every live resident key of shard i of the database
// (0 <= i < ShardsPerDB) until fn returns false. The caller holds that shard.
// Keys that are only on disk are not visited (use Scan for the whole keyspace).
func (db DB) ForEach(i int, fn func(key string, e *Entry) bool) {
	sh := &db.s.shards[db.idx*ShardsPerDB+i]
	now := NowMs()
	for k, e := range sh.m.all() {
		if len(sh.expires) > 0 {
			if exp, ok := sh.expires[k]; ok && exp <= now {
				continue
			}
		}
		if !fn(k, e) {
			return
		}
	}
}

// MaxDeadline is the largest deadline accepted (Redis rejects overflowing expire times).
const MaxDeadline = math.MaxInt64 / 2
