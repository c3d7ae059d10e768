package storage

import (
	"errors"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// TableWriter records table writes (rows, index entries, schemas, sequences)
// in the tables' own key space. Keys are the tables package's encoding; this
// package only prefixes them.
type TableWriter struct{ b *Pending }

// Set records key = val.
func (w TableWriter) Set(key, val []byte) {
	op := w.b.SetDeferred(1+len(key), len(val))
	op.Key[0] = nsTable
	copy(op.Key[1:], key)
	copy(op.Value, val)
	op.Finish()
}

// Delete removes key.
func (w TableWriter) Delete(key []byte) {
	op := w.b.DeleteDeferred(1 + len(key))
	op.Key[0] = nsTable
	copy(op.Key[1:], key)
	op.Finish()
}

// DeletePrefix removes every key starting with prefix.
func (w TableWriter) DeletePrefix(prefix []byte) {
	p := append([]byte{nsTable}, prefix...)
	w.b.DeleteRange(p, prefixEnd(p), nil)
}

// TableWrite records a group of table writes and returns the group's
// durable sequence (0 with persistence off). Everything fn records lands in
// one Pebble batch, so the group is crash-atomic: after a crash either all
// of it is there or none. The durability of the group follows the sync mode
// like any key write; pair with WaitDurable(LastSeq()) in always mode. Once
// TableCommitted() reaches the returned sequence, TableGet and TableIter
// read the group's writes.
func (s *Store) TableWrite(fn func(w TableWriter)) uint64 {
	s.stats.Changes.Add(1)
	if s.dur == nil {
		return 0
	}
	return s.dur.append(nil, func(b *Pending) { fn(TableWriter{b}) })
}

// TableCommitted is the durable sequence up to which every write, table
// writes included, is in Pebble: a table key whose last write's sequence
// (TableWrite's result) is at most this reads back exactly through TableGet
// and TableIter. Persistence off: 0.
func (s *Store) TableCommitted() uint64 {
	if s.dur == nil {
		return 0
	}
	return s.dur.committed.Load()
}

// TableScan calls fn for every stored table key with the given prefix, in key
// order, reading what Pebble holds (use at start-up, before any writes).
// The slices are valid only during the call.
func (s *Store) TableScan(prefix []byte, fn func(key, val []byte) bool) error {
	if s.dur == nil {
		return nil
	}
	if err := s.dur.waitCommitted(s.LastSeq()); err != nil {
		return err
	}
	p := append([]byte{nsTable}, prefix...)
	it, err := s.dur.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if !fn(it.Key()[1:], v) {
			break
		}
	}
	return it.Error()
}

// errNoPersistence is TableGet's and TableIter's answer without a data
// directory: the tables engine then keeps every row in memory.
var errNoPersistence = errors.New("storage: persistence is off")

// TableGet reads one table key from Pebble's committed state, without
// waiting for pending writes: the caller knows the key's last write is
// committed (see TableCommitted). It returns a copy of the value, or
// ok=false when Pebble does not hold the key. A read error is returned,
// never taken for a missing key.
func (s *Store) TableGet(key []byte) (val []byte, ok bool, err error) {
	if s.dur == nil {
		return nil, false, errNoPersistence
	}
	k := make([]byte, 0, 1+len(key))
	k = append(append(k, nsTable), key...)
	v, closer, err := s.dur.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	val = append([]byte(nil), v...)
	closer.Close()
	return val, true, nil
}

// TableIterator walks table keys in Pebble's committed state (see TableGet
// for when that state is exact for a key).
type TableIterator struct {
	it  *pebble.Iterator
	err error
}

// TableIter returns an iterator over the table keys in [lower, upper); it
// must be closed.
func (s *Store) TableIter(lower, upper []byte) (*TableIterator, error) {
	if s.dur == nil {
		return nil, errNoPersistence
	}
	lo := append([]byte{nsTable}, lower...)
	hi := append([]byte{nsTable}, upper...)
	it, err := s.dur.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	return &TableIterator{it: it}, nil
}

// SeekGE moves to the first key >= key; it reports whether there is one.
func (t *TableIterator) SeekGE(key []byte) bool {
	k := make([]byte, 0, 1+len(key))
	return t.it.SeekGE(append(append(k, nsTable), key...))
}

// Next moves to the next key; it reports whether there is one.
func (t *TableIterator) Next() bool { return t.it.Next() }

// Key is the current key (valid until the iterator moves).
func (t *TableIterator) Key() []byte { return t.it.Key()[1:] }

// Value is the current value (valid until the iterator moves); a read error
// makes it nil and is returned by Err.
func (t *TableIterator) Value() []byte {
	v, err := t.it.ValueAndErr()
	if err != nil && t.err == nil {
		t.err = err
	}
	return v
}

// Err is the first error the iterator met.
func (t *TableIterator) Err() error {
	if t.err != nil {
		return t.err
	}
	return t.it.Error()
}

// Close releases the iterator; it returns Err.
func (t *TableIterator) Close() error {
	err := t.Err()
	if cerr := t.it.Close(); err == nil {
		err = cerr
	}
	return err
}

// ---- table memory in the hot tier ----

// TableCache is the tables engine's cache of rows: EnsureMemory shrinks it
// along with the resident keys when the hot tier is over its limit.
type TableCache interface {
	// CachedBytes is the part of the table memory (AddTableMemory) that
	// Evict may free: resident rows.
	CachedBytes() int64
	// Evict drops about need bytes of rows whose writes are committed from
	// memory (subtracting them through AddTableMemory) and returns the bytes
	// it freed. It is called from any goroutine, with no lock of the
	// store's held, and must not wait for anything but its own short
	// critical sections.
	Evict(need int64) int64
}

// tableState is the table engine's part of the hot tier (Store.tab).
type tableState struct {
	bytes atomic.Int64 // counted in Store.mem too
	cache atomic.Pointer[TableCache]
}

// AddTableMemory adds delta (negative: frees) to the bytes the tables
// engine holds in memory: rows, indexes, row slots. They count in
// UsedMemory like resident keys, so EnsureMemory sees them.
func (s *Store) AddTableMemory(delta int64) {
	s.tab.bytes.Add(delta)
	s.mem.Add(delta)
}

// TableMemory is the bytes the tables engine holds (part of UsedMemory).
func (s *Store) TableMemory() int64 { return s.tab.bytes.Load() }

// SetTableCache registers the tables engine's row cache (nil: none).
func (s *Store) SetTableCache(c TableCache) {
	if c == nil {
		s.tab.cache.Store(nil)
		return
	}
	s.tab.cache.Store(&c)
}

// HotLimit is the part of the memory limit the hot tier (resident keys and
// table memory) is kept under; 0 without a limit.
func (s *Store) HotLimit() int64 {
	max := s.maxMemory.Load()
	if max <= 0 {
		return 0
	}
	return s.hotLimit(max)
}

// evictTableRows asks the row cache to free its share of what the hot tier
// is over limit by: the excess split between cached rows and resident keys
// in proportion to their memory. It reports whether that is progress
// towards the limit: not when table indexes alone are over it (the rows'
// share was the whole excess, another round frees nothing more).
func (s *Store) evictTableRows(limit int64) bool {
	p := s.tab.cache.Load()
	if p == nil {
		return false
	}
	c := *p
	mem := s.mem.Load()
	excess := mem - limit
	cached := c.CachedBytes()
	if excess <= 0 || cached <= 0 {
		return false
	}
	need := excess
	if keys := mem - s.tab.bytes.Load(); keys > 0 {
		need = int64(float64(excess) * float64(cached) / float64(cached+keys))
	}
	return c.Evict(max(need, 1)) > 0 && !s.tablesPinnedOver(limit)
}

// tablesPinnedOver reports whether the table memory that cannot leave
// memory (indexes, row slots) alone is over the limit: then waiting for the
// committer frees nothing worth waiting for.
func (s *Store) tablesPinnedOver(limit int64) bool {
	pinned := s.tab.bytes.Load()
	if p := s.tab.cache.Load(); p != nil {
		pinned -= (*p).CachedBytes()
	}
	return pinned > limit
}
