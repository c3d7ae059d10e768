package storage

import "fmt"

// errNoElems is a loader's answer to a collection meta record without any
// element record: the keyspace never holds an empty collection (commands
// rely on it, e.g. LPOP pops without checking), and a meta record and its
// elements are always written and deleted in one atomic group, so only
// damage can leave one behind.
var errNoElems = fmt.Errorf("%w: collection without elements", errCorrupt)

// CreateObject stores obj under key, replacing any value the key holds, and
// persists its meta record; unlike AddObject it fires no event. The caller
// then writes the elements with PutElem and finishes with exactly one
// ModifiedElems/Modified carrying the command's own event ("hset", "sadd",
// "sinterstore", ...), so a created or overwritten key reports one event, as
// in Redis. Its Len must be non-zero by that call (an empty collection is
// deleted there). The caller holds the key's shard lock.
func (db DB) CreateObject(key []byte, obj Object) *Entry {
	sh := db.shard(key)
	k := string(key)
	if old := db.lookup(sh, key, false); old != nil {
		db.unlink(sh, k, old.memSize(len(k)))
		db.persistDelete(sh, key, old.Type != TypeString)
	} else {
		db.created(sh)
		db.fire(key, "new")
	}
	e := &Entry{Obj: obj, Type: obj.Type(), lru: lruClock()}
	db.link(sh, k, e)
	db.persistMeta(sh, key, e, 0)
	return e
}
