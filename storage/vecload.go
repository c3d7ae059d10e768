package storage

import (
	"github.com/cockroachdb/pebble/v2"
)

// loadVectors reads the vectors on disk into the search index after Open
// returned (the first reply does not wait): one pass over each database's
// meta records. Writes go on meanwhile; a key a write decided since the
// start (vecDB.touched) is skipped; the check and the insertion happen
// under the database's index mutex, which every index change of a write
// takes (no shard lock: a VSEARCH waiting for the read inside EXEC or a
// pipeline may hold shards). Only
// VSEARCH and VCARD wait, per database, until it is read; the graph is then
// built by the spaces' workers while searches scan exactly.
func (s *Store) loadVectors(counts [NumDBs]int64) {
	defer close(s.vecDone)
	for dbi := 0; dbi < NumDBs; dbi++ {
		if counts[dbi] > 0 && !s.closed.Load() {
			s.loadVectorsDB(dbi)
		}
		d := &s.vec.dbs[dbi]
		d.mu.Lock()
		d.loading, d.touched = false, nil
		d.mu.Unlock()
		close(d.loaded)
	}
}

func (s *Store) loadVectorsDB(dbi int) {
	lower := []byte{nsMeta, byte(dbi)}
	upper := []byte{nsMeta, byte(dbi) + 1}
	it, err := s.dur.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return
	}
	defer it.Close()
	db := s.DB(dbi)
	d := &s.vec.dbs[dbi]
	now := NowMs()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < 10 {
			continue
		}
		val, err := it.ValueAndErr()
		if err != nil || len(val) < metaHeader || Type(val[0]) != TypeVector {
			continue
		}
		t, exp, payload, err := decodeMeta(val)
		if err != nil || t != TypeVector || (exp != 0 && exp <= now) {
			continue // expiry deletes it
		}
		v, err := decodeVector(payload)
		if err != nil {
			continue
		}
		key := append([]byte(nil), k[10:]...)
		d.mu.Lock()
		if !d.stopLoad {
			if _, done := d.touched[string(key)]; !done {
				db.vecPutLocked(d, key, v, exp)
			}
		}
		d.mu.Unlock()
		if s.closed.Load() {
			return
		}
	}
}
