package storage

// SetActiveExpire switches the background reclamation of expired keys on or
// off (DEBUG SET-ACTIVE-EXPIRE, which Redis's test suite uses to observe lazy
// expiry). Lazy expiry on access is unaffected.
func (s *Store) SetActiveExpire(on bool) { s.activeExpireOff.Store(!on) }

// ActiveExpire reports whether background expiry is on (the default).
func (s *Store) ActiveExpire() bool { return !s.activeExpireOff.Load() }
