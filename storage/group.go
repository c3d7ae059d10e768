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
	d := s.dur
	d.cutMu.RLock()
	d.holds.Add(1)
	return func() {
		d.holds.Add(-1)
		d.cutMu.RUnlock()
		d.signal()
	}
}
