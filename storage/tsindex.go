package storage

import (
	"encoding/binary"
	"sort"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// seriesIndex is one shard's label index of its time series (TSMRANGE):
// every live series key of the shard, resident or only on disk, with its
// labels, and for every "name=value" pair the keys that carry it. It lives
// in the shard and changes under the shard's lock with the series it
// describes: creations, relabelings, deletions, expiry, RENAME, MOVE, COPY,
// a SET over the key and FLUSHDB all pass through Tx (tx.go: install,
// remove, SetString, expireCold) or DB.Flush, which call tsIndexPut and
// valueGone (typeindex.go). A series going to the cold tier stays indexed.
//
// After a start the index of a shard is built from the shard's meta records
// on disk (Pebble's committed state, less the keys with a tombstone, plus
// the resident keys: the same invariant that makes cold misses exact) by a
// background goroutine, one shard at a time under its lock; until then the
// shard's hooks do nothing. TSMRANGE holds every shard of its database and
// builds the ones still missing itself, so it never waits for the goroutine
// and no other command waits at all.
type seriesIndex struct {
	ready bool
	keys  map[string][]Label             // series key -> its labels (the series' own slice, never modified in place)
	pairs map[string]map[string]struct{} // "name=value" -> series keys
	mem   int64
}

// tsState is the store's part of the label index: the start-up build.
type tsState struct {
	done chan struct{} // closed when the background build ends
}

// Approximate bytes of one map entry of the index beyond its strings.
const tsIndexEntry = 48

func pairKey(l Label) string { return l.Name + "=" + l.Value }

func (ix *seriesIndex) put(key string, labels []Label) int64 {
	if ix.keys == nil {
		ix.keys = make(map[string][]Label)
		ix.pairs = make(map[string]map[string]struct{})
	}
	var delta int64
	if _, ok := ix.keys[key]; !ok {
		delta += int64(len(key) + tsIndexEntry)
	} else {
		delta += ix.del(key) + int64(len(key)+tsIndexEntry)
	}
	ix.keys[key] = labels
	for _, l := range labels {
		p := pairKey(l)
		set := ix.pairs[p]
		if set == nil {
			set = make(map[string]struct{})
			ix.pairs[p] = set
			delta += int64(len(p) + tsIndexEntry)
		}
		set[key] = struct{}{}
		delta += int64(len(key) + tsIndexEntry)
	}
	ix.mem += delta
	return delta
}

// del removes key and returns the change in bytes (negative).
func (ix *seriesIndex) del(key string) int64 {
	labels, ok := ix.keys[key]
	if !ok {
		return 0
	}
	delete(ix.keys, key)
	delta := -int64(len(key) + tsIndexEntry)
	for _, l := range labels {
		p := pairKey(l)
		if set := ix.pairs[p]; set != nil {
			delete(set, key)
			delta -= int64(len(key) + tsIndexEntry)
			if len(set) == 0 {
				delete(ix.pairs, p)
				delta -= int64(len(p) + tsIndexEntry)
			}
		}
	}
	ix.mem += delta
	return delta
}

// tsIndexPut indexes key as the series t (shard locked).
func (db DB) tsIndexPut(sh *shard, key []byte, t *TimeSeries) {
	if sh.series.ready {
		db.account(sh, sh.series.put(string(key), t.labels))
	}
}

// tsIndexDel drops key from the index (shard locked).
func (db DB) tsIndexDel(sh *shard, key []byte) {
	if sh.series.ready {
		db.account(sh, sh.series.del(string(key)))
	}
}

// tsFlushed empties the index of a flushed shard (its memory is dropped
// with the shard's).
func (sh *shard) tsFlushed() { sh.series = seriesIndex{ready: true} }

// startSeriesIndexes builds the label indexes in the background after Open
// (at once when nothing is on disk).
func (s *Store) startSeriesIndexes() {
	s.ts.done = make(chan struct{})
	if s.dur == nil {
		for i := range s.shards {
			s.shards[i].series.ready = true
		}
		close(s.ts.done)
		return
	}
	go func() {
		defer close(s.ts.done)
		for i := range s.shards {
			select {
			case <-s.stopExpire:
				return
			default:
			}
			sh := &s.shards[i]
			sh.mu.Lock()
			s.buildSeriesShard(sh, i%ShardsPerDB)
			sh.mu.Unlock()
		}
	}()
}

// buildSeriesShard fills the label index of shard i of sh's database (sh
// locked) unless it is complete.
func (s *Store) buildSeriesShard(sh *shard, i int) {
	if sh.series.ready {
		return
	}
	ix := seriesIndex{}
	db := s.DB(sh.db)
	if s.dur != nil && s.partial[sh.db].Load() {
		dbi := sh.db
		lower := binary.BigEndian.AppendUint64([]byte{nsMeta, byte(dbi)}, uint64(i)<<57)
		var upper []byte
		if i+1 < ShardsPerDB {
			upper = binary.BigEndian.AppendUint64([]byte{nsMeta, byte(dbi)}, uint64(i+1)<<57)
		} else {
			upper = []byte{nsMeta, byte(dbi) + 1}
		}
		it, err := s.dur.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err == nil {
			for ok := it.First(); ok; ok = it.Next() {
				k := it.Key()
				if len(k) < 11 {
					continue
				}
				key := k[10:]
				if _, gone := sh.tomb[string(key)]; gone {
					continue
				}
				if res := sh.m.has(bstr(key)); res {
					continue
				}
				v, err := it.ValueAndErr()
				if err != nil || len(v) == 0 || Type(v[0]) != TypeTimeSeries {
					continue
				}
				_, _, payload, err := decodeMeta(v)
				if err == nil {
					var labels []Label
					if _, labels, err = decodeTSMeta(payload); err == nil {
						ix.put(string(key), labels)
						continue
					}
				}
				// a damaged record: reading the key reports it
				s.readFailed(key, err)
			}
			if err := it.Close(); err != nil {
				s.readFailed(lower, err)
			}
		} else {
			s.readFailed(lower, err)
		}
	}
	for k, e := range sh.m.all() {
		if t, ok := e.Object().(*TimeSeries); ok {
			ix.put(strings.Clone(k), t.labels)
		}
	}
	ix.ready = true
	sh.series = ix
	db.account(sh, ix.mem)
}

// SeriesKeys returns, sorted, the keys of the database's time series whose
// labels include every filter (none: every series), resident or cold. The
// caller holds every shard of the database. An entry may be past its
// deadline: reading it through Lookup expires it.
func (db DB) SeriesKeys(filters []Label) []string {
	var out []string
	pairs := make([]string, len(filters))
	for i, f := range filters {
		pairs[i] = pairKey(f)
	}
	for i := 0; i < ShardsPerDB; i++ {
		sh := &db.s.shards[db.idx*ShardsPerDB+i]
		db.s.buildSeriesShard(sh, i)
		ix := &sh.series
		if len(pairs) == 0 {
			for k := range ix.keys {
				out = append(out, k)
			}
			continue
		}
		// walk the smallest set, check the others
		var best map[string]struct{}
		for _, p := range pairs {
			set := ix.pairs[p]
			if len(set) == 0 {
				best = nil
				break
			}
			if best == nil || len(set) < len(best) {
				best = set
			}
		}
	keys:
		for k := range best {
			for _, p := range pairs {
				if _, ok := ix.pairs[p][k]; !ok {
					continue keys
				}
			}
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
