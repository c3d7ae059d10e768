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

// SyncBarrier returns once every write appended so far, including those of
// commands holding the committer at the time of the call, is fsynced (always
// mode; it returns at once in the other modes and without persistence). It
// takes the committer's cut, so the holders finish appending first, then
// waits for the sync of everything appended up to that point. Key-change
// subscriptions (KSUB) call it before they deliver an event in always mode:
// the event was reported while its command held the committer, so its write
// is covered. The caller must hold no shard lock and must not be a holder.
func (s *Store) SyncBarrier() error {
	if s.dur == nil || s.dur.syncMode() != SyncAlways {
		return nil
	}
	d := s.dur
	d.cutMu.Lock()
	seq := d.appended.Load()
	d.cutMu.Unlock()
	return d.waitSynced(seq)
}
