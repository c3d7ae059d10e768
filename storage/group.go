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
