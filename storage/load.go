package storage

import (
	"bytes"
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
		return &Entry{Str: append([]byte(nil), payload...), Type: t, lru: lruClock()}, exp, nil
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
	return &Entry{Obj: obj, Type: t, lru: lruClock()}, exp, nil
}

// load reads the keyspace from Pebble at start-up, up to the memory limit;
// keys past it stay on disk and are loaded on first access.
func (s *Store) load() error {
	lower, upper := []byte{nsMeta}, []byte{nsMeta + 1}
	it, err := s.dur.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	now := NowMs()
	var expired [][]byte
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < 2 || int(k[1]) >= NumDBs {
			continue
		}
		dbi, key := int(k[1]), k[2:]
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		_, exp, _, err := decodeMeta(v)
		if err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		if exp != 0 && exp <= now {
			expired = append(expired, append([]byte(nil), k...))
			continue
		}
		sh := &s.shards[s.ShardOf(dbi, key)]
		if max := s.maxMemory.Load(); max > 0 && s.mem.Load() >= max {
			if exp != 0 {
				// active expiry reclaims disk-only keys by their deadline
				sh.expires[string(key)] = exp
			}
			sh.evicted++
			s.partial[dbi].Store(true)
			continue
		}
		e, exp, err := s.decodeEntry(dbi, key, v)
		if err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		ks := string(key)
		sh.m[ks] = e
		if exp != 0 {
			sh.expires[ks] = exp
		}
		size := e.memSize(len(ks))
		sh.mem += size
		s.mem.Add(size)
	}
	if len(expired) > 0 {
		b := s.dur.db.NewBatch()
		for _, k := range expired {
			b.Delete(k, nil)
			p := elemPrefix(nil, int(k[1]), k[2:])
			b.DeleteRange(p, prefixEnd(p), nil)
		}
		if err := b.Commit(pebble.Sync); err != nil {
			return err
		}
		s.stats.ExpiredKeys.Add(int64(len(expired)))
	}
	return nil
}

// loadFromDisk loads a key that is not resident (the database is partial).
// Writes of the shard are committed first so Pebble never returns a value the
// hot tier has already replaced or deleted.
func (db DB) loadFromDisk(sh *shard, key []byte) *Entry {
	d := db.s.dur
	if d == nil || sh.evicted == 0 {
		return nil
	}
	d.waitCommitted(sh.lastSeq.Load())
	mk := metaKey(nil, db.idx, key)
	v, closer, err := d.db.Get(mk)
	if err != nil {
		return nil
	}
	e, exp, err := db.s.decodeEntry(db.idx, key, v)
	closer.Close()
	if err != nil {
		return nil
	}
	db.s.stats.DiskLoads.Add(1)
	k := string(key)
	sh.m[k] = e
	sh.evicted--
	if exp != 0 {
		sh.expires[k] = exp
	}
	size := e.memSize(len(k))
	sh.mem += size
	db.s.mem.Add(size)
	return e
}

// loadShard brings every disk-only key of shard i back into memory (SCAN,
// KEYS); the memory limit is enforced again by the next write.
func (db DB) loadShard(sh *shard, i int) {
	d := db.s.dur
	if d == nil {
		return
	}
	d.waitCommitted(sh.lastSeq.Load())
	lower := []byte{nsMeta, byte(db.idx)}
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: []byte{nsMeta, byte(db.idx) + 1}})
	if err != nil {
		return
	}
	defer it.Close()
	id := db.ShardID(i)
	for ok := it.First(); ok && sh.evicted > 0; ok = it.Next() {
		key := it.Key()[2:]
		if db.s.ShardOf(db.idx, key) != id {
			continue
		}
		if _, ok := sh.m[string(key)]; ok {
			continue
		}
		db.loadFromDisk(sh, key)
	}
}

// EnsureMemory makes room under the memory limit before a write: cold keys are
// dropped from memory (they stay on disk), or, with persistence off, deleted
// like Redis's allkeys-lru. With NoEviction it returns ErrOOM instead.
func (s *Store) EnsureMemory() error {
	max := s.maxMemory.Load()
	if max <= 0 || s.mem.Load() <= max {
		return nil
	}
	if s.noEviction.Load() {
		return ErrOOM
	}
	for tries := 0; s.mem.Load() > max && tries < 10000; tries++ {
		dbi := tries % NumDBs
		s.evictOne(randomShard(dbi))
	}
	if s.mem.Load() > max {
		return ErrOOM
	}
	return nil
}

// evictOne samples a few keys of shard i and evicts the least recently used.
func (s *Store) evictOne(i int) {
	sh := &s.shards[i]
	if s.dur != nil && sh.lastSeq.Load() > s.dur.committed.Load() {
		s.dur.waitCommitted(sh.lastSeq.Load())
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.m) == 0 {
		return
	}
	var victim string
	var best *Entry
	n := 0
	for k, e := range sh.m {
		if _, watched := sh.watched[k]; !watched && (best == nil || e.lru < best.lru) {
			victim, best = k, e
		}
		if n++; n >= 5 {
			break
		}
	}
	if best == nil {
		return
	}
	db := DB{s: s, idx: i / ShardsPerDB}
	if s.dur == nil {
		s.stats.EvictedKeys.Add(1)
		db.deleteKey(sh, victim, "evicted")
		return
	}
	if sh.lastSeq.Load() > s.dur.committed.Load() {
		return // a write raced in; try another shard
	}
	s.stats.EvictedKeys.Add(1)
	size := best.memSize(len(victim))
	delete(sh.m, victim)
	// the deadline stays in expires so active expiry can reclaim the key
	// without loading it
	sh.mem -= size
	s.mem.Add(-size)
	sh.evicted++
	s.partial[db.idx].Store(true)
}
