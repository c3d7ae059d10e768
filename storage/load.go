package storage

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// ElemIter walks the on-disk elements of one collection key in sub-key order.
type ElemIter interface {
	// Next advances; it returns false at the end.
	Next() bool
	// Sub is the element's sub-key; Value its value. Both are valid until the next call.
	Sub() []byte
	Value() []byte
}

// Loader rebuilds a collection from its meta payload and elements.
type Loader func(meta []byte, elems ElemIter) (Object, error)

var (
	loadersMu sync.RWMutex
	loaders   = map[Type]Loader{}
)

// errNoElems is a loader's answer to a collection meta record without any
// element record: the keyspace never holds an empty collection (commands
// rely on it, e.g. LPOP pops without checking), and a meta record and its
// elements are always written and deleted in one atomic group, so only
// damage can leave one behind.
var errNoElems = fmt.Errorf("%w: collection without elements", errCorrupt)

// RegisterLoader installs the loader of a collection type (called from init
// functions of the type's file).
func RegisterLoader(t Type, l Loader) {
	loadersMu.Lock()
	loaders[t] = l
	loadersMu.Unlock()
}

type pebbleElemIter struct {
	it     *pebble.Iterator
	prefix []byte
	first  bool
}

func (p *pebbleElemIter) Next() bool {
	var ok bool
	if p.first {
		p.first = false
		ok = p.it.SeekGE(p.prefix)
	} else {
		ok = p.it.Next()
	}
	return ok && bytes.HasPrefix(p.it.Key(), p.prefix)
}

func (p *pebbleElemIter) Sub() []byte { return p.it.Key()[len(p.prefix):] }
func (p *pebbleElemIter) Value() []byte {
	v, _ := p.it.ValueAndErr()
	return v
}

// decodeEntry builds an in-memory entry from a meta record (and, for
// collections, the elements on disk).
func (s *Store) decodeEntry(db int, key, val []byte) (*Entry, int64, error) {
	t, exp, payload, err := decodeMeta(val)
	if err != nil {
		return nil, 0, err
	}
	if t == TypeString {
		e := newStringEntry(key, payload)
		e.lru = lruClock()
		return e, exp, nil
	}
	loadersMu.RLock()
	l := loaders[t]
	loadersMu.RUnlock()
	if l == nil {
		return nil, 0, fmt.Errorf("storage: no loader for type %d", t)
	}
	p := elemPrefix(nil, db, key)
	it, err := s.dur.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, 0, err
	}
	defer it.Close()
	obj, err := l(payload, &pebbleElemIter{it: it, prefix: p, first: true})
	if err != nil {
		return nil, 0, err
	}
	e := newObjEntry(key, obj)
	e.Type, e.lru = t, lruClock()
	return e, exp, nil
}

// diskMayHave reports whether a key that is not resident may be on disk:
// the database has keys outside memory and the key was not deleted since
// (a tombstone stands for a deletion Pebble may not hold yet).
func (db DB) diskMayHave(sh *shard, key []byte) bool {
	if db.s.dur == nil || !db.s.partial[db.idx].Load() {
		return false
	}
	if len(sh.tomb) > 0 {
		if _, ok := sh.tomb[string(key)]; ok {
			return false
		}
	}
	if class, ok := db.indexClass(sh, key); ok && class == 0 {
		return false // no such key: no disk read
	}
	return true
}

// loadFromDisk reads a key that is not resident from Pebble and makes it
// resident (the caller holds its shard). Pebble's committed state is exact
// for such a key: an entry leaves memory only after its last write is
// committed, and a deletion leaves a tombstone until it is. A key found past
// its deadline is expired here, as a resident one would be. A read or decode
// error stops writes (see Err) so that nothing is written over a value that
// could not be read, and the key reads as absent.
func (db DB) loadFromDisk(sh *shard, key []byte) *Entry {
	if !db.diskMayHave(sh, key) {
		return nil
	}
	v, closer, err := db.s.dur.db.Get(metaKey(nil, db.idx, key))
	if errors.Is(err, pebble.ErrNotFound) {
		db.s.stats.DiskMisses.Add(1)
		return nil
	}
	if err != nil {
		db.s.readFailed(key, err)
		return nil
	}
	t, exp, _, err := decodeMeta(v)
	if err == nil && exp != 0 && exp <= NowMs() {
		closer.Close()
		db.expireOnDisk(sh, key, t)
		return nil
	}
	e, exp, err := db.s.decodeEntry(db.idx, key, v)
	closer.Close()
	if err != nil {
		db.s.readFailed(key, err)
		return nil
	}
	db.s.stats.DiskLoads.Add(1)
	k := string(key)
	db.link(sh, key, e)
	delete(sh.dirty, e) // Pebble holds exactly this value
	if exp != 0 {
		sh.expires[k] = exp
	}
	return e
}

// readFailed records a read or decode error of key: from now on writes are
// refused (a write over a value that could not be read would lose or
// resurrect data), reads go on. It returns the error to report.
func (s *Store) readFailed(key []byte, err error) error {
	rerr := fmt.Errorf("reading key %q from the data directory: %w", truncKey(key), err)
	s.noteReadFailure(key, rerr)
	if s.readErr.CompareAndSwap(nil, &rerr) && s.opts.Logger != nil {
		s.opts.Logger.Errorf("lux: %v; writes are refused until the server is restarted", rerr)
	}
	return rerr
}

func truncKey(k []byte) []byte {
	if len(k) > 64 {
		return k[:64]
	}
	return k
}
