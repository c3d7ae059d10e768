package storage

// Atomic runs fn with a DB whose durable writes are collected and handed to
// the durable store as one write group when fn returns, so that a command
// made of several storage calls on several keys (MSET, MSETNX) reaches the
// disk whole or not at all. Memory, events and WATCH invalidation are
// updated by each call as usual. The caller holds the shards of every key
// fn writes until Atomic returns.
func (db DB) Atomic(fn func(db DB)) {
	if db.g != nil {
		fn(db)
		return
	}
	g := &writeGroup{}
	fn(db.grouped(g))
	g.commit(db.s)
}

// HoldCommits keeps every durable write appended until the returned release
// is called in one Pebble batch, so a transaction (EXEC) is all there after
// a crash or not at all. The holder must not wait for the durable store
// (Checkpoint, Flush, Scan, ...) before releasing: the committer waits for
// it. Without persistence it does nothing.
func (s *Store) HoldCommits() (release func()) {
	if s.dur == nil {
		return func() {}
	}
	s.dur.hold()
	return s.dur.release
}

// Hold is HoldCommits for one command: every durable write the command
// appends until Release lands in the same Pebble batch, so a command that
// writes several keys (DEL k1 k2, SMOVE, LMOVE, SINTERSTORE, ...) is
// crash-atomic whichever storage calls it makes. Holds do not nest: a
// holder must not call Hold again (a waiting committer would deadlock it).
func (s *Store) Hold() {
	if s.dur != nil {
		s.dur.hold()
	}
}

// Release ends Hold.
func (s *Store) Release() {
	if s.dur != nil {
		s.dur.release()
	}
}
