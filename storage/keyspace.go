package storage

import (
	"math"
)

// DB is one logical database. Its methods require the caller to hold the lock
// of the shard of every key passed (see Store.Lock).
type DB struct {
	s   *Store
	idx int
	g   *writeGroup // when set, durable writes are collected for one append
}

// writeGroup collects the durable writes of one multi-step operation (RENAME,
// MOVE, COPY, SET over a collection) so they reach Pebble in one batch: after
// a crash either all of them are there or none.
type writeGroup struct {
	fns    []func(b *Pending)
	shards []*shard
}

// grouped returns db collecting its durable writes into g.
func (db DB) grouped(g *writeGroup) DB { db.g = g; return db }

// appendDurable records a write of shard sh, or collects it into the group.
func (db DB) appendDurable(sh *shard, fn func(b *Pending)) {
	if db.g == nil {
		db.s.appendDurable(sh, fn)
		return
	}
	db.g.fns = append(db.g.fns, fn)
	db.g.shards = append(db.g.shards, sh)
}

// commit appends the group's writes as one crash-atomic batch.
func (g *writeGroup) commit(s *Store) {
	if len(g.fns) == 0 {
		return
	}
	fns := g.fns
	s.appendDurableMulti(g.shards, func(b *Pending) {
		for _, fn := range fns {
			fn(b)
		}
	})
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
	e := sh.m[string(key)]
	if e == nil {
		if !db.s.partial[db.idx].Load() {
			return nil
		}
		if e = db.loadFromDisk(sh, key); e == nil {
			return nil
		}
	}
	if len(sh.expires) > 0 {
		if exp, ok := sh.expires[string(key)]; ok && exp <= NowMs() {
			db.deleteKey(sh, string(key), "expired")
			db.s.stats.ExpiredKeys.Add(1)
			return nil
		}
	}
	if touch {
		e.lru = lruClock()
	}
	return e
}

// Exists reports whether key holds a live value (no LRU or stats effect).
func (db DB) Exists(key []byte) bool { return db.Peek(key) != nil }

// IsStale reports whether key is present in memory but past its deadline
// (used by WATCH: a key already expired when watched does not abort EXEC).
func (db DB) IsStale(key []byte) bool {
	// expires holds only existing keys, resident or evicted to disk
	exp, ok := db.shard(key).expires[string(key)]
	return ok && exp <= NowMs()
}

// Expiry returns the absolute unix-ms deadline of a live key, 0 if it has none.
func (db DB) Expiry(key []byte) int64 { return db.shard(key).expires[string(key)] }

// SetString stores a string value. exp is an absolute unix-ms deadline; 0
// clears any TTL unless keepTTL is set.
func (db DB) SetString(key, val []byte, exp int64, keepTTL bool) {
	db.SetStringEvent(key, val, exp, keepTTL, "set")
}

// SetStringEvent is SetString reporting the given event name (Redis's
// keyspace events: "append", "incrby", "incrbyfloat", "setrange").
func (db DB) SetStringEvent(key, val []byte, exp int64, keepTTL bool, event string) {
	sh := db.shard(key)
	e := sh.m[string(key)]
	if e == nil && db.s.partial[db.idx].Load() {
		e = db.loadFromDisk(sh, key)
	}
	if keepTTL {
		exp = sh.expires[string(key)]
	}
	if e == nil {
		e = &Entry{}
		sh.m[string(key)] = e
		db.fire(key, "new")
		sh.mem += int64(len(key) + entryOverhead)
		db.s.mem.Add(int64(len(key) + entryOverhead))
	} else if e.Type != TypeString {
		// the collection's elements and the new string reach disk together
		g := &writeGroup{}
		db = db.grouped(g)
		defer g.commit(db.s)
		db.dropObject(sh, key, e)
	}
	old := int64(cap(e.Str))
	if cap(e.Str) >= len(val) && cap(e.Str) <= 2*len(val)+16 {
		e.Str = append(e.Str[:0], val...)
	} else {
		e.Str = append(make([]byte, 0, len(val)), val...)
	}
	e.Type, e.Obj, e.lru = TypeString, nil, lruClock()
	e.Raw = event == "append" || event == "setrange"
	if delta := int64(cap(e.Str)) - old; delta != 0 {
		sh.mem += delta
		db.s.mem.Add(delta)
	}
	db.setExpiry(sh, key, exp)
	db.persistString(sh, key, val, exp)
	db.touch(sh, key, event)
}

func (db DB) setExpiry(sh *shard, key []byte, exp int64) {
	if exp > 0 {
		if _, ok := sh.expires[string(key)]; ok {
			sh.expires[string(key)] = exp
		} else {
			sh.expires[string(key)] = exp
		}
	} else if len(sh.expires) > 0 {
		delete(sh.expires, string(key))
	}
}

func (db DB) persistString(sh *shard, key, val []byte, exp int64) {
	db.appendDurable(sh, func(b *Pending) {
		op := b.SetDeferred(2+len(key), metaHeader+len(val))
		metaKey(op.Key[:0], db.idx, key)
		putMetaHeader(op.Value, TypeString, exp)
		copy(op.Value[metaHeader:], val)
		op.Finish()
	})
}

// persistMeta rewrites the meta record of a collection key.
func (db DB) persistMeta(sh *shard, key []byte, e *Entry, exp int64) {
	payload := e.Obj.MetaPayload()
	db.appendDurable(sh, func(b *Pending) {
		op := b.SetDeferred(2+len(key), metaHeader+len(payload))
		metaKey(op.Key[:0], db.idx, key)
		putMetaHeader(op.Value, e.Type, exp)
		copy(op.Value[metaHeader:], payload)
		op.Finish()
	})
}

// Delete removes key; it reports whether a live key was removed.
func (db DB) Delete(key []byte) bool {
	sh := db.shard(key)
	if db.lookup(sh, key, false) == nil {
		return false
	}
	db.deleteKey(sh, string(key), "del")
	return true
}

// deleteKey removes a key that is in memory (live or expired).
func (db DB) deleteKey(sh *shard, key string, event string) {
	if db.removeKey(sh, key) {
		db.touch(sh, []byte(key), event)
	}
}

// removeKey deletes an in-memory key and its records without reporting an
// event (a key replaced by RENAME/COPY/MOVE reports only the command's event).
func (db DB) removeKey(sh *shard, key string) bool {
	e := sh.m[key]
	if e == nil {
		return false
	}
	size := e.memSize(len(key))
	delete(sh.m, key)
	delete(sh.expires, key)
	sh.mem -= size
	db.s.mem.Add(-size)
	db.persistDelete(sh, []byte(key), e.Type != TypeString)
	return true
}

func (db DB) persistDelete(sh *shard, key []byte, elems bool) {
	db.appendDurable(sh, func(b *Pending) {
		op := b.DeleteDeferred(2 + len(key))
		metaKey(op.Key[:0], db.idx, key)
		op.Finish()
		if elems {
			p := elemPrefix(nil, db.idx, key)
			b.DeleteRange(p, prefixEnd(p), nil)
		}
	})
}

// dropObject discards the collection elements of e on disk when a key changes type.
func (db DB) dropObject(sh *shard, key []byte, e *Entry) {
	if e.Obj != nil {
		sz := int64(e.Obj.MemSize())
		sh.mem -= sz
		db.s.mem.Add(-sz)
		db.appendDurable(sh, func(b *Pending) {
			p := elemPrefix(nil, db.idx, key)
			b.DeleteRange(p, prefixEnd(p), nil)
		})
	}
}

// SetExpiry sets key's absolute deadline (unix ms); a deadline in the past
// deletes the key (event "del" as Redis does for EXPIRE with a past time).
// It reports whether the key exists.
func (db DB) SetExpiry(key []byte, exp int64) bool {
	sh := db.shard(key)
	e := db.lookup(sh, key, false)
	if e == nil {
		return false
	}
	if exp <= NowMs() {
		db.deleteKey(sh, string(key), "del")
		return true
	}
	sh.expires[string(key)] = exp
	db.persistEntry(sh, key, e, exp)
	db.touch(sh, key, "expire")
	return true
}

// Persist removes key's deadline; it reports whether one was removed.
func (db DB) Persist(key []byte) bool {
	sh := db.shard(key)
	e := db.lookup(sh, key, false)
	if e == nil {
		return false
	}
	if _, ok := sh.expires[string(key)]; !ok {
		return false
	}
	delete(sh.expires, string(key))
	db.persistEntry(sh, key, e, 0)
	db.touch(sh, key, "persist")
	return true
}

func (db DB) persistEntry(sh *shard, key []byte, e *Entry, exp int64) {
	if e.Type == TypeString {
		db.persistString(sh, key, e.Str, exp)
	} else {
		db.persistMeta(sh, key, e, exp)
	}
}

// Put stores a whole entry under key, replacing any value silently (as
// RESTORE REPLACE does) and reporting "set". The entry must not be shared with
// another key. For collections the caller persists the elements with PutElem
// afterwards.
func (db DB) Put(key []byte, e *Entry, exp int64) { db.putEntry(key, e, exp, "set") }

// AddObject creates a new collection key holding obj (no deadline).
func (db DB) AddObject(key []byte, obj Object) *Entry {
	e := &Entry{Obj: obj, Type: obj.Type()}
	db.Put(key, e, 0)
	return e
}

// PutElem durably records one element of a collection key (sub is the
// element's on-disk sub-key, val its value) and accounts memory delta.
func (db DB) PutElem(key, sub, val []byte) {
	sh := db.shard(key)
	db.appendDurable(sh, func(b *Pending) {
		p := elemPrefix(nil, db.idx, key)
		op := b.SetDeferred(len(p)+len(sub), len(val))
		copy(op.Key, p)
		copy(op.Key[len(p):], sub)
		copy(op.Value, val)
		op.Finish()
	})
}

// DelElem durably removes one element of a collection key.
func (db DB) DelElem(key, sub []byte) {
	sh := db.shard(key)
	db.appendDurable(sh, func(b *Pending) {
		p := elemPrefix(nil, db.idx, key)
		op := b.DeleteDeferred(len(p) + len(sub))
		copy(op.Key, p)
		copy(op.Key[len(p):], sub)
		op.Finish()
	})
}

// Modified must be called after a collection value was changed in place and
// its meta payload (MetaPayload) changed: it rewrites the key's meta record,
// re-accounts memory (memDelta), invalidates WATCHes and fires the event hook.
// A collection left empty is deleted (with its elements on disk).
func (db DB) Modified(key []byte, e *Entry, memDelta int64, event string) {
	db.changed(key, e, memDelta, event, true)
}

// ModifiedElems is Modified for changes that only touched elements (recorded
// with PutElem/DelElem) and left the meta payload as it was: no meta rewrite.
func (db DB) ModifiedElems(key []byte, e *Entry, memDelta int64, event string) {
	db.changed(key, e, memDelta, event, false)
}

func (db DB) changed(key []byte, e *Entry, memDelta int64, event string, meta bool) {
	sh := db.shard(key)
	sh.mem += memDelta
	db.s.mem.Add(memDelta)
	if e.Obj != nil && e.Obj.Len() == 0 {
		db.deleteKey(sh, string(key), event)
		return
	}
	if meta {
		db.persistEntry(sh, key, e, sh.expires[string(key)])
	}
	db.touch(sh, key, event)
}

// fire reports an event to the hook without invalidating WATCHes: "new"
// (a key was created) and "keymiss" (a read found nothing), as Redis's n and
// m notification classes.
func (db DB) fire(key []byte, event string) {
	if h := db.s.hook.Load(); h != nil {
		(*h)(Event{DB: db.idx, Key: key, Name: event})
	}
}

// Signal invalidates WATCHes and fires the event hook for key without
// changing it (Redis's signalModifiedKey for commands that change nothing
// durable).
func (db DB) Signal(key []byte, event string) { db.touch(db.shard(key), key, event) }

// touch is the single place every mutation reports to: WATCH invalidation and
// the event hook (pub/sub key events, blocked-client wake-ups).
func (db DB) touch(sh *shard, key []byte, event string) {
	if len(sh.watched) > 0 {
		if regs := sh.watched[string(key)]; len(regs) > 0 {
			_, exists := sh.m[string(key)]
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
		(*h)(Event{DB: db.idx, Key: key, Name: event})
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

// ---- whole-database operations (caller holds every shard of the database) ----

// Size returns the number of keys, including keys that live only on disk.
func (db DB) Size() int {
	n := 0
	for i := 0; i < ShardsPerDB; i++ {
		sh := &db.s.shards[db.idx*ShardsPerDB+i]
		n += len(sh.m) + int(sh.evicted)
	}
	return n
}

// ExpiresCount returns the number of keys with a deadline.
func (db DB) ExpiresCount() int {
	n := 0
	for i := 0; i < ShardsPerDB; i++ {
		n += len(db.s.shards[db.idx*ShardsPerDB+i].expires)
	}
	return n
}

// Flush deletes every key of the database. Watched keys that existed are
// invalidated, as Redis's FLUSHDB does.
func (db DB) Flush() {
	for i := 0; i < ShardsPerDB; i++ {
		sh := &db.s.shards[db.idx*ShardsPerDB+i]
		for k, regs := range sh.watched {
			_, ok := sh.m[k]
			if !ok && sh.evicted > 0 {
				ok = db.loadFromDisk(sh, []byte(k)) != nil
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
		sh.mem, sh.evicted = 0, 0
		sh.m = make(map[string]*Entry)
		sh.expires = make(map[string]int64)
	}
	if db.s.dur != nil {
		sh := &db.s.shards[db.idx*ShardsPerDB]
		db.appendDurable(sh, func(b *Pending) {
			for _, ns := range []byte{nsMeta, nsElem} {
				b.DeleteRange([]byte{ns, byte(db.idx)}, []byte{ns, byte(db.idx) + 1}, nil)
			}
		})
		// every shard must see the flush as its latest write before disk reads
		for i := 0; i < ShardsPerDB; i++ {
			db.s.shards[db.idx*ShardsPerDB+i].lastSeq.Store(sh.lastSeq.Load())
		}
	}
	db.s.partial[db.idx].Store(false)
}

// ForEach calls fn for every live in-memory key of shard i of the database
// (0 <= i < ShardsPerDB) until fn returns false. The caller holds that shard.
// Keys that live only on disk are loaded first.
func (db DB) ForEach(i int, fn func(key string, e *Entry) bool) {
	sh := &db.s.shards[db.idx*ShardsPerDB+i]
	if sh.evicted > 0 {
		db.loadShard(sh, i)
	}
	now := NowMs()
	for k, e := range sh.m {
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

// ShardID returns the lock id of shard i of the database.
func (db DB) ShardID(i int) ShardID { return ShardID(db.idx*ShardsPerDB + i) }

// RandomKey returns a random live key (the caller holds every shard of the database).
func (db DB) RandomKey() (string, bool) {
	start := randomShard(db.idx) - db.idx*ShardsPerDB
	for j := 0; j < ShardsPerDB; j++ {
		i := (start + j) % ShardsPerDB
		var found string
		ok := false
		db.ForEach(i, func(k string, _ *Entry) bool {
			found, ok = k, true
			return false
		})
		if ok {
			return found, true
		}
	}
	return "", false
}

// TTLMs returns Redis's TTL semantics in ms: -2 missing, -1 no deadline.
func (db DB) TTLMs(key []byte) int64 {
	if db.Peek(key) == nil {
		return -2
	}
	exp := db.Expiry(key)
	if exp == 0 {
		return -1
	}
	ttl := exp - NowMs()
	if ttl < 0 {
		ttl = 0
	}
	return ttl
}

// MaxDeadline is the largest deadline accepted (Redis rejects overflowing expire times).
const MaxDeadline = math.MaxInt64 / 2
