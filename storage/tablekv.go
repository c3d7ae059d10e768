package storage

import (
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

// TableWrite records a group of table writes. Everything fn records lands in
// one Pebble batch, so the group is crash-atomic: after a crash either all of
// it is there or none. The durability of the group follows the sync mode like
// any key write; pair with WaitDurable(LastSeq()) in always mode. With
// persistence off it does nothing.
func (s *Store) TableWrite(fn func(w TableWriter)) {
	s.stats.Changes.Add(1)
	if s.dur == nil {
		return
	}
	s.dur.append(nil, func(b *Pending) { fn(TableWriter{b}) })
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
