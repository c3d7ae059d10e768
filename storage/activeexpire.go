package storage

import "sync"

// activeExpireOff holds the stores whose background expiry was switched off
// (DEBUG SET-ACTIVE-EXPIRE 0, which Redis's test suite uses to observe lazy
// expiry). A side table rather than a Store field keeps this debugging knob
// out of the hot struct; it is read once per expiry tick.
var activeExpireOff sync.Map // *Store -> struct{}

// SetActiveExpire switches the background reclamation of expired keys on or
// off. Lazy expiry on access is unaffected.
func (s *Store) SetActiveExpire(on bool) {
	if on {
		activeExpireOff.Delete(s)
	} else {
		activeExpireOff.Store(s, struct{}{})
	}
}

// ActiveExpire reports whether background expiry is on (the default).
func (s *Store) ActiveExpire() bool {
	_, off := activeExpireOff.Load(s)
	return !off
}
