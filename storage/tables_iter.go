package storage

// Ordered access to the tables' key space beyond TableIter's forward walk:
// the tables engine reads its indexes from Pebble (merging the writes it has
// not seen committed yet itself), in both directions.

// First moves to the first key of the iterator's range; it reports whether
// there is one.
func (t *TableIterator) First() bool { return t.it.First() }

// Last moves to the last key of the iterator's range; it reports whether
// there is one.
func (t *TableIterator) Last() bool { return t.it.Last() }

// SeekLT moves to the last key < key; it reports whether there is one.
func (t *TableIterator) SeekLT(key []byte) bool {
	k := make([]byte, 0, 1+len(key))
	return t.it.SeekLT(append(append(k, nsTable), key...))
}

// Prev moves to the previous key; it reports whether there is one.
func (t *TableIterator) Prev() bool { return t.it.Prev() }

// TableWaitCommitted blocks until the table write group with durable
// sequence seq (TableWrite's result) is readable through TableGet and
// TableIter, or the store failed (its error is returned). Persistence off:
// nil at once.
func (s *Store) TableWaitCommitted(seq uint64) error {
	if s.dur == nil {
		return nil
	}
	return s.dur.waitCommitted(seq)
}
