package storage

// Rename moves src's value and deadline to dst in the same database,
// replacing any value dst holds (RENAME, RENAMENX). It reports whether src
// existed. The caller holds the shards of both keys; src and dst differ.
func (db DB) Rename(src, dst []byte) bool {
	sh := db.shard(src)
	e := db.lookup(sh, src, false)
	if e == nil {
		return false
	}
	exp := sh.expires[string(src)]
	g := &writeGroup{}
	defer g.commit(db.s)
	db = db.grouped(g)
	db.deleteKey(sh, string(src), "rename_from")
	db.putEntry(dst, e, exp, "rename_to")
	db.persistElems(dst, e)
	return true
}

// MoveTo moves key with its deadline to database to under the same name
// (MOVE), replacing any value it holds there. It reports whether key existed.
// The caller holds the key's shard in both databases.
func (db DB) MoveTo(key []byte, to DB) bool {
	sh := db.shard(key)
	e := db.lookup(sh, key, false)
	if e == nil {
		return false
	}
	exp := sh.expires[string(key)]
	g := &writeGroup{}
	defer g.commit(db.s)
	db, to = db.grouped(g), to.grouped(g)
	db.deleteKey(sh, string(key), "move_from")
	to.putEntry(key, e, exp, "move_to")
	to.persistElems(key, e)
	return true
}

// CopyTo stores an independent copy of src's value and deadline under dst in
// database to (COPY), replacing any value dst holds. It returns false when
// src does not exist. The caller holds both keys' shards; (db, src) and
// (to, dst) differ.
func (db DB) CopyTo(src []byte, to DB, dst []byte) bool {
	sh := db.shard(src)
	e := db.lookup(sh, src, false)
	if e == nil {
		return false
	}
	exp := sh.expires[string(src)]
	ne := &Entry{Str: append([]byte(nil), e.Str...), Type: e.Type}
	if e.Obj != nil {
		ne = &Entry{Obj: e.Obj.Clone(), Type: e.Type}
	}
	g := &writeGroup{}
	to = to.grouped(g)
	to.putEntry(dst, ne, exp, "copy_to")
	to.persistElems(dst, ne)
	g.commit(db.s)
	return true
}

// putEntry is Put with the event name of the calling command.
func (db DB) putEntry(key []byte, e *Entry, exp int64, event string) {
	sh := db.shard(key)
	k := string(key)
	if old := db.lookup(sh, key, false); old != nil {
		// replaced silently, as Redis: only the command's event
		db.unlink(sh, k, old.memSize(len(k)))
		db.persistDelete(sh, key, old.Type != TypeString)
	} else {
		db.created(sh)
		db.fire(key, "new")
	}
	e.lru = lruClock()
	db.link(sh, k, e)
	db.setExpiry(sh, key, exp)
	db.persistEntry(sh, key, e, exp)
	db.touch(sh, key, event)
}

// persistElems writes the elements of collection e under key in one durable
// append.
func (db DB) persistElems(key []byte, e *Entry) {
	if e.Obj == nil || db.s.dur == nil {
		return
	}
	sh := db.shard(key)
	db.appendDurable(sh, func(b *Pending) {
		p := elemPrefix(nil, db.idx, key)
		e.Obj.ForEachElem(func(sub, val []byte) {
			op := b.SetDeferred(len(p)+len(sub), len(val))
			copy(op.Key, p)
			copy(op.Key[len(p):], sub)
			copy(op.Value, val)
			op.Finish()
		})
	})
}
