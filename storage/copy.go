package storage

import (
	"bytes"
	"errors"

	"github.com/cockroachdb/pebble/v2"
)

// ElemWriter is implemented by collection objects whose elements are
// persisted as separate records with PutElem. RENAME, COPY and MOVE use it to
// write the elements again under the destination key without reading them
// back from disk.
type ElemWriter interface {
	// ForEachElem calls fn once for every element with exactly the sub-key and
	// value the type writes with PutElem. fn must not retain sub or val, and
	// ForEachElem must not call back into the store (it runs while the
	// durable batch is being filled).
	ForEachElem(fn func(sub, val []byte))
}

// Cloner is implemented by collection objects so that COPY can duplicate them.
type Cloner interface {
	// Clone returns a deep copy sharing no mutable state with the receiver.
	Clone() Object
}

// ErrNotClonable is returned by CopyTo when a collection value implements
// neither Cloner nor can be reloaded from disk (persistence off).
var ErrNotClonable = errors.New("COPY is not supported for this value type")

// elemRec is one on-disk element read back for the disk fallback.
type elemRec struct{ sub, val []byte }

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
	// read the elements before the source's records are deleted
	disk := db.diskElems(sh, src, e)
	g := &writeGroup{}
	defer g.commit(db.s)
	db = db.grouped(g)
	db.deleteKey(sh, string(src), "rename_from")
	db.putEntry(dst, e, exp, "rename_to")
	db.persistElems(dst, e, disk)
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
	disk := db.diskElems(sh, key, e)
	g := &writeGroup{}
	defer g.commit(db.s)
	db, to = db.grouped(g), to.grouped(g)
	db.deleteKey(sh, string(key), "move_from")
	to.putEntry(key, e, exp, "move_to")
	to.persistElems(key, e, disk)
	return true
}

// CopyTo stores an independent copy of src's value and deadline under dst in
// database to (COPY), replacing any value dst holds. It returns false when
// src does not exist. The caller holds both keys' shards; (db, src) and
// (to, dst) differ.
func (db DB) CopyTo(src []byte, to DB, dst []byte) (bool, error) {
	sh := db.shard(src)
	e := db.lookup(sh, src, false)
	if e == nil {
		return false, nil
	}
	exp := sh.expires[string(src)]
	var ne *Entry
	var disk []elemRec
	switch {
	case e.Obj == nil:
		ne = &Entry{Str: append([]byte(nil), e.Str...), Type: e.Type}
	default:
		if c, ok := e.Obj.(Cloner); ok {
			ne = &Entry{Obj: c.Clone(), Type: e.Type}
			disk = db.diskElems(sh, src, ne)
			break
		}
		if db.s.dur == nil {
			return false, ErrNotClonable
		}
		// no Cloner: rebuild a private copy from the durable records
		db.s.dur.waitCommitted(sh.lastSeq.Load())
		payload := e.Obj.MetaPayload()
		meta := make([]byte, metaHeader+len(payload))
		putMetaHeader(meta, e.Type, exp)
		copy(meta[metaHeader:], payload)
		c, _, err := db.s.decodeEntry(db.idx, src, meta)
		if err != nil {
			return false, err
		}
		ne = c
		disk = db.readElems(src)
	}
	g := &writeGroup{}
	to = to.grouped(g)
	to.putEntry(dst, ne, exp, "copy_to")
	to.persistElems(dst, ne, disk)
	g.commit(db.s)
	return true, nil
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

// diskElems returns the on-disk elements of key when e is a collection that
// cannot enumerate its own elements (no ElemWriter) and persistence is on;
// otherwise nil.
func (db DB) diskElems(sh *shard, key []byte, e *Entry) []elemRec {
	if e.Obj == nil || db.s.dur == nil {
		return nil
	}
	if _, ok := e.Obj.(ElemWriter); ok {
		return nil
	}
	db.s.dur.waitCommitted(sh.lastSeq.Load())
	return db.readElems(key)
}

// readElems copies the committed element records of key out of Pebble.
func (db DB) readElems(key []byte) []elemRec {
	p := elemPrefix(nil, db.idx, key)
	it, err := db.s.dur.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil
	}
	defer it.Close()
	var out []elemRec
	for ok := it.First(); ok && bytes.HasPrefix(it.Key(), p); ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			break
		}
		out = append(out, elemRec{sub: append([]byte(nil), it.Key()[len(p):]...), val: append([]byte(nil), v...)})
	}
	return out
}

// persistElems writes the elements of collection e under key in one durable
// append: from the object itself (ElemWriter) or from records read off disk.
func (db DB) persistElems(key []byte, e *Entry, disk []elemRec) {
	if e.Obj == nil || db.s.dur == nil {
		return
	}
	w, ok := e.Obj.(ElemWriter)
	if !ok && len(disk) == 0 {
		return
	}
	sh := db.shard(key)
	db.appendDurable(sh, func(b *Pending) {
		p := elemPrefix(nil, db.idx, key)
		put := func(sub, val []byte) {
			op := b.SetDeferred(len(p)+len(sub), len(val))
			copy(op.Key, p)
			copy(op.Key[len(p):], sub)
			copy(op.Value, val)
			op.Finish()
		}
		if ok {
			w.ForEachElem(put)
			return
		}
		for _, r := range disk {
			put(r.sub, r.val)
		}
	})
}
