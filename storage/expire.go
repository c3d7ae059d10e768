package storage

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// SetActiveExpire switches the background reclamation of expired keys on or
// off (DEBUG SET-ACTIVE-EXPIRE, which Redis's test suite uses to observe lazy
// expiry). Lazy expiry on access is unaffected.
func (s *Store) SetActiveExpire(on bool) { s.activeExpireOff.Store(!on) }

// SetExpirePaused suspends expiry (CLIENT PAUSE): a key past its deadline
// reads as missing but is neither deleted nor counted, and the active
// expiry cycle skips, until it is resumed.
func (s *Store) SetExpirePaused(on bool) { s.expirePaused.Store(on) }

// SetExpireCycleHook makes fn receive the duration of each active expiry
// cycle that deleted at least one key, as Redis's activeExpireCycle reports
// its "expire-cycle" latency. fn runs on the expiry goroutine.
func (s *Store) SetExpireCycleHook(fn func(time.Duration)) { s.expireCycleHook.Store(&fn) }

// ActiveExpire reports whether background expiry is on (the default).
func (s *Store) ActiveExpire() bool { return !s.activeExpireOff.Load() }

// expireScanRounds: in scan mode each expiry cycle (100 ms) checks every
// deadline of one shard in expireScanRounds, so a resident key is deleted
// within about expireScanRounds × 100 ms of its deadline even when nobody
// reads it and the random sampling does not pick it.
const expireScanRounds = 5

// SetExpireScan asks (on) or stops asking (off) for expired keys to be
// deleted within about half a second of their deadline whether read or
// not: key-change subscriptions (KSUB) promise an "expired" event then.
// Calls nest: scanning goes on while more ons than offs were made. Keys
// only on disk are expired by the deadline hints every cycle anyway.
func (s *Store) SetExpireScan(on bool) {
	if on {
		s.expireScan.Add(1)
	} else {
		s.expireScan.Add(-1)
	}
}

// expireLoop reclaims expired keys without reads, like Redis's active expire
// cycle: sample resident keys with deadlines, delete the expired ones, repeat
// while many of a sample were expired; then walk the on-disk deadline hints
// up to now, so keys that are not in memory expire on time too. It also
// drops tombstones whose deletion is committed.
func (s *Store) expireLoop() {
	defer close(s.expireDone)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	round := 0
	for {
		select {
		case <-s.stopExpire:
			return
		case <-t.C:
		}
		tickClock()
		s.sweepTombs()
		if !s.ActiveExpire() || s.expirePaused.Load() {
			continue
		}
		start := time.Now()
		expiredBefore := s.stats.ExpiredKeys.Load()
		capped := false
		for i := range s.shards {
			for {
				n, expired := s.expireSample(i, 20)
				if n == 0 || expired*4 < n {
					break
				}
				if time.Since(start) > 25*time.Millisecond {
					capped = true
					break
				}
			}
		}
		if capped {
			s.stats.ExpireCapReached.Add(1)
		}
		if s.expireScan.Load() > 0 {
			round = (round + 1) % expireScanRounds
			for i := round; i < len(s.shards); i += expireScanRounds {
				s.expireShard(i)
			}
		}
		if s.dur != nil {
			for db := 0; db < NumDBs; db++ {
				if s.partial[db].Load() {
					s.expireDisk(db, 500)
				}
			}
		}
		if h := s.expireCycleHook.Load(); h != nil && s.stats.ExpiredKeys.Load() != expiredBefore {
			(*h)(time.Since(start))
		}
	}
}

func (s *Store) expireSample(i, count int) (sampled, expired int) {
	sh := &s.shards[i]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.expires) == 0 {
		return 0, 0
	}
	now := NowMs()
	db := DB{s: s, idx: sh.db}
	for k, exp := range sh.expires {
		sampled++
		if exp <= now {
			expired++
			s.expireHeld(func() { db.deleteKey(sh, k, "expired") })
			s.stats.ExpiredKeys.Add(1)
		}
		if sampled >= count {
			break
		}
	}
	return sampled, expired
}

// expireHeld runs a background expiry's deletion under Hold, as commands
// run theirs: its "expired" event reaches the hook before its record is
// appended, and SyncBarrier (KSUB in always mode) must wait for that
// append. The caller holds the key's shard, as commands do before Hold.
func (s *Store) expireHeld(fn func()) {
	s.Hold()
	fn()
	s.Release()
}

// expireShard deletes every expired resident key of shard i.
func (s *Store) expireShard(i int) {
	sh := &s.shards[i]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.expires) == 0 {
		return
	}
	now := NowMs()
	db := DB{s: s, idx: sh.db}
	for k, exp := range sh.expires {
		if exp <= now {
			s.expireHeld(func() { db.deleteKey(sh, k, "expired") })
			s.stats.ExpiredKeys.Add(1)
		}
	}
}

// sweepTombs drops the tombstones whose deletion Pebble already holds.
func (s *Store) sweepTombs() {
	if s.dur == nil {
		return
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		if len(sh.tomb) > 0 || len(sh.dirty) > 0 {
			s.sweepShard(sh)
		}
		sh.mu.Unlock()
	}
}

// sweepShard stamps new tombstones and dirty marks and drops the committed
// ones (shard locked).
func (s *Store) sweepShard(sh *shard) {
	committed := s.dur.committed.Load()
	last := sh.lastSeq.Load()
	sweepMarks(sh.dirty, last, committed, func(*Entry) {})
	sweepMarks(sh.tomb, last, committed, func(k string) {
		size := int64(len(k) + tombOverhead)
		sh.mem -= size
		s.mem.Add(-size)
	})
}

// sweepMarks stamps the unstamped marks of m with last (every write they
// stand for was appended while the shard was held, so last bounds it) and
// drops those committed, calling dropped for each.
func sweepMarks[K comparable](m map[K]uint64, last, committed uint64, dropped func(K)) {
	for k, seq := range m {
		if seq == dirtySeq {
			m[k] = last
			seq = last
		}
		if seq <= committed {
			delete(m, k)
			dropped(k)
		}
	}
}

// expireDisk walks database db's deadline hints that are due and expires
// the keys that still carry that deadline (at most limit hints per call).
func (s *Store) expireDisk(dbi int, limit int) {
	d := s.dur
	now := NowMs()
	lower := []byte{nsExpire, byte(dbi)}
	upper := binary.BigEndian.AppendUint64([]byte{nsExpire, byte(dbi)}, uint64(now)+1)
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return
	}
	type hint struct {
		exp int64
		key []byte
	}
	var due []hint
	for ok := it.First(); ok && len(due) < limit; ok = it.Next() {
		k := it.Key()
		if len(k) < 10 {
			continue
		}
		due = append(due, hint{int64(binary.BigEndian.Uint64(k[2:10])), append([]byte(nil), k[10:]...)})
	}
	it.Close()
	db := s.DB(dbi)
	for _, h := range due {
		sh := db.shard(h.key)
		sh.mu.Lock()
		db.expireHint(sh, h.key, h.exp, now)
		sh.mu.Unlock()
	}
}

// expireHint handles one due deadline hint of key (shard locked): the key
// expires if it still has that deadline; the hint goes either way.
func (db DB) expireHint(sh *shard, key []byte, exp, now int64) {
	drop := func() {
		db.s.appendDurable(sh, func(b *Pending) {
			op := b.DeleteDeferred(10 + len(key))
			expireKey(op.Key[:0], db.idx, exp, key)
			op.Finish()
		})
	}
	k := string(key)
	if sh.m.has(k) {
		if cur, ok := sh.expires[k]; ok && cur == exp && cur <= now {
			db.s.expireHeld(func() { db.deleteKey(sh, k, "expired") })
			db.s.stats.ExpiredKeys.Add(1)
		}
		drop()
		return
	}
	if _, ok := sh.tomb[k]; ok {
		drop()
		return
	}
	t, cur, err := db.diskHeader(key)
	if err != nil {
		return
	}
	if t != TypeNone && cur == exp && cur <= now {
		db.s.expireHeld(func() { db.expireOnDisk(sh, key, t) })
	}
	drop()
}

// expireOnDisk deletes a key that is not in memory because its deadline
// passed (shard locked).
func (db DB) expireOnDisk(sh *shard, key []byte, t Type) {
	tx := db.Begin()
	tx.expireCold(sh, key, t)
	tx.Commit()
	db.s.stats.ExpiredKeys.Add(1)
}

// diskHeader reads the type and deadline of a key that is not in memory
// from Pebble (TypeNone when it is not there).
func (db DB) diskHeader(key []byte) (Type, int64, error) {
	v, closer, err := db.s.dur.db.Get(metaKey(nil, db.idx, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return TypeNone, 0, nil
	}
	if err != nil {
		return TypeNone, 0, db.s.readFailed(key, err)
	}
	defer closer.Close()
	t, exp, _, err := decodeMeta(v)
	if err != nil {
		return TypeNone, 0, db.s.readFailed(key, err)
	}
	return t, exp, nil
}

// randomShard returns a random shard index of database db.
func randomShard(db int) int { return db*ShardsPerDB + rand.IntN(ShardsPerDB) }
