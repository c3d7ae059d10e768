package storage

// Hold keeps every durable write appended until Release in one Pebble
// batch, so a command that writes several keys (DEL k1 k2, SMOVE, LMOVE,
// SINTERSTORE, ...) or a transaction (EXEC) is crash-atomic whichever
// storage calls it makes. The holder must not wait for the durable store
// (Checkpoint, Flush, Scan, ...) before releasing: the committer waits for
// it. Holds do not nest: a holder must not call Hold again (a waiting
// committer would deadlock it). Without persistence it does nothing.
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
