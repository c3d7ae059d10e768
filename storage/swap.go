package storage

import (
	"errors"

	"github.com/cockroachdb/pebble/v2"
)

// ErrSwapLoading refuses SWAPDB while the start-up builds that fill the
// shards of every database in the background (key, label and vector
// indexes) are still running.
var ErrSwapLoading = errors.New("LOADING lux is still building its indexes, retry SWAPDB in a moment")

// SwapDBs exchanges the contents of databases a and b, as Redis's SWAPDB:
// a client connected to a sees b's keys from then on. The caller holds every
// shard of both databases. WATCHes are kept by database, as Redis keeps
// them: a watch on a key that exists in either database before the swap is
// dirtied (Redis's touchAllWatchedKeysInDb, with its rules for keys that
// were already expired). Blocked clients are the caller's to wake.
//
// With persistence the records of both databases are rewritten under each
// other's number in one Pebble batch, so a crash leaves the swap whole or
// not at all; the call returns once that batch is committed. It costs a
// write of both databases' records (Redis swaps two pointers).
func (s *Store) SwapDBs(a, b int) error {
	if a == b {
		return nil
	}
	if s.dur != nil && !s.indexesBuilt() {
		return ErrSwapLoading
	}
	if err := s.Err(); err != nil {
		return err
	}
	da, db := s.DB(a), s.DB(b)
	for i := 0; i < ShardsPerDB; i++ {
		da.touchSwapped(db, i)
		db.touchSwapped(da, i)
	}
	var seq uint64
	if s.dur != nil {
		var err error
		if seq, err = s.swapDurable(a, b); err != nil {
			return err
		}
	}
	for i := 0; i < ShardsPerDB; i++ {
		x, y := &s.shards[a*ShardsPerDB+i], &s.shards[b*ShardsPerDB+i]
		x.m, y.m = y.m, x.m
		x.expires, y.expires = y.expires, x.expires
		x.tomb, y.tomb = y.tomb, x.tomb
		x.dirty, y.dirty = y.dirty, x.dirty
		x.mem, y.mem = y.mem, x.mem
		x.cdelta, y.cdelta = y.cdelta, x.cdelta
		x.ix, y.ix = y.ix, x.ix
		xr, yr := x.ixReady.Load(), y.ixReady.Load()
		x.ixReady.Store(yr)
		y.ixReady.Store(xr)
		// a SCAN cursor names a position in its database's key order
		x.order, y.order = y.order, x.order
		x.ordered, y.ordered = y.ordered, x.ordered
		x.epoch++
		y.epoch++
		x.series, y.series = y.series, x.series
		if s.dur != nil {
			x.lastSeq.Store(seq)
			y.lastSeq.Store(seq)
		}
	}
	ka, kb := s.keys[a].Load(), s.keys[b].Load()
	s.keys[a].Store(kb)
	s.keys[b].Store(ka)
	pa, pb := s.partial[a].Load(), s.partial[b].Load()
	s.partial[a].Store(pb)
	s.partial[b].Store(pa)
	va, vb := &s.vec.dbs[a], &s.vec.dbs[b]
	va.mu.Lock()
	vb.mu.Lock()
	va.keys, vb.keys = vb.keys, va.keys
	va.spaces, vb.spaces = vb.spaces, va.spaces
	va.keyMem, vb.keyMem = vb.keyMem, va.keyMem
	vb.mu.Unlock()
	va.mu.Unlock()
	s.stats.Changes.Add(1)
	return nil
}

// indexesBuilt reports whether the start-up builds that write into the
// shards (key indexes, time series labels, vectors) have finished.
func (s *Store) indexesBuilt() bool {
	for _, ch := range []chan struct{}{s.indexDone, s.ts.done} {
		if ch == nil {
			continue
		}
		select {
		case <-ch:
		default:
			return false
		}
	}
	for i := range s.vec.dbs {
		select {
		case <-s.vec.dbs[i].loaded:
		default:
			return false
		}
	}
	return true
}

// touchSwapped dirties the WATCHes of shard i of db that SWAPDB with other
// changes: Redis's touchAllWatchedKeysInDb(db, other).
func (db DB) touchSwapped(other DB, i int) {
	sh := &db.s.shards[db.idx*ShardsPerDB+i]
	if len(sh.watched) == 0 {
		return
	}
	osh := &db.s.shards[other.idx*ShardsPerDB+i]
	for k, regs := range sh.watched {
		key := []byte(k)
		inThis := db.present(sh, key)
		inOther := other.present(osh, key)
		if !inThis && !inOther {
			continue
		}
		for _, r := range regs {
			if r.stale {
				if !inOther {
					r.stale = false // an expired key gone: no logical change
					continue
				} else if other.IsStale(key) {
					continue // an expired key stays expired
				}
			} else if !inThis && other.IsStale(key) {
				r.stale = true // a missing key replaced by an expired one
				continue
			}
			r.w.dirty.Store(true)
		}
	}
}

// present reports whether key has a record in db, expired or not, without
// loading or expiring it (Redis's dictFind).
func (db DB) present(sh *shard, key []byte) bool {
	if ok := sh.m.has(bstr(key)); ok {
		return true
	}
	if !db.diskMayHave(sh, key) {
		return false
	}
	t, _, err := db.diskHeader(key)
	return err == nil && t != TypeNone
}

// swapNamespaces are the record kinds that carry a database number.
var swapNamespaces = []byte{nsMeta, nsElem, nsExpire}

// swapDurable rewrites the committed records of a under b's number and the
// other way round, in one batch, and waits until it is committed. Every
// write to either database is committed first (the caller holds their
// shards, so no other can come).
func (s *Store) swapDurable(a, b int) (uint64, error) {
	d := s.dur
	if err := d.waitCommitted(d.appended.Load()); err != nil {
		return 0, err
	}
	type rec struct{ k, v []byte }
	var recs []rec
	for _, db := range []int{a, b} {
		for _, ns := range swapNamespaces {
			it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: []byte{ns, byte(db)}, UpperBound: []byte{ns, byte(db) + 1}})
			if err != nil {
				return 0, err
			}
			for it.First(); it.Valid(); it.Next() {
				k := append([]byte(nil), it.Key()...)
				if db == a {
					k[1] = byte(b)
				} else {
					k[1] = byte(a)
				}
				v, err := it.ValueAndErr()
				if err != nil {
					it.Close()
					return 0, err
				}
				recs = append(recs, rec{k, append([]byte(nil), v...)})
			}
			if err := it.Close(); err != nil {
				return 0, err
			}
		}
	}
	ka, kb := s.keys[a].Load(), s.keys[b].Load()
	seq := d.append(nil, func(p *Pending) {
		for _, db := range []int{a, b} {
			for _, ns := range swapNamespaces {
				p.DeleteRange([]byte{ns, byte(db)}, []byte{ns, byte(db) + 1}, nil)
			}
		}
		for _, r := range recs {
			p.Set(r.k, r.v)
		}
		p.ZeroCount(a)
		p.ZeroCount(b)
		p.count[a], p.count[b] = kb, ka
	})
	if err := d.waitCommitted(seq); err != nil {
		return 0, err
	}
	return seq, nil
}
