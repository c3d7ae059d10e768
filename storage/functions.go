package storage

import (
	"errors"

	"github.com/cockroachdb/pebble/v2"
)

// The server's function libraries (FUNCTION LOAD) are one record: the
// server's own encoding of every library, rewritten whole by each FUNCTION
// LOAD, DELETE, FLUSH or RESTORE (rare, small). FLUSHALL leaves it alone, as
// Redis keeps functions across FLUSHALL.
var functionsKey = []byte{nsFunctions}

// SaveFunctions records the function libraries (nil or empty: none) in the
// next batch and returns its durable sequence (0 with persistence off);
// pair with WaitDurable in always mode like any write.
func (s *Store) SaveFunctions(payload []byte) uint64 {
	s.stats.Changes.Add(1)
	if s.dur == nil {
		return 0
	}
	return s.dur.append(nil, func(b *Pending) {
		if len(payload) == 0 {
			op := b.DeleteDeferred(len(functionsKey))
			copy(op.Key, functionsKey)
			op.Finish()
			return
		}
		op := b.SetDeferred(len(functionsKey), len(payload))
		copy(op.Key, functionsKey)
		copy(op.Value, payload)
		op.Finish()
	})
}

// LoadFunctions returns the recorded function libraries (nil when none or
// with persistence off). Call at start-up.
func (s *Store) LoadFunctions() ([]byte, error) {
	if s.dur == nil {
		return nil, nil
	}
	if err := s.dur.waitCommitted(s.LastSeq()); err != nil {
		return nil, err
	}
	v, closer, err := s.dur.db.Get(functionsKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, nil
}
