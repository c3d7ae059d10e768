package storage

import (
	"sync"
	"sync/atomic"
)

// readFailures are the keys whose record could not be read (readFailed):
// the store serves them as absent, so the server answers their reads with
// the error instead (see ReadError).
type readFailures struct {
	n    atomic.Int32
	mu   sync.Mutex
	keys map[string]error
}

// maxReadFailures bounds the keys remembered (a damaged table can hold
// millions); the store refuses writes after the first anyway.
const maxReadFailures = 1024

func (s *Store) noteReadFailure(key []byte, err error) {
	f := &s.rfail
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.keys[string(key)]; ok || len(f.keys) >= maxReadFailures {
		return
	}
	if f.keys == nil {
		f.keys = make(map[string]error)
	}
	f.keys[string(key)] = err
	f.n.Add(1)
}

// ReadError returns the error of a failed read of a key of this name (in
// any database), or nil. Such a key reads as absent: a read of it must
// answer the error, not a missing value.
func (s *Store) ReadError(key []byte) error {
	f := &s.rfail
	if f.n.Load() == 0 {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keys[string(key)]
}

// HasReadErrors reports whether any key's record could not be read.
func (s *Store) HasReadErrors() bool { return s.rfail.n.Load() > 0 }
