package storage

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// Scan walks database db's live keys from cursor, calling fn with each key
// (valid during the call only) and its type, until it has visited about
// count keys; it returns the cursor to continue from, 0 at the end.
//
// With persistence the walk reads Pebble in the keys' stable hash order, after
// committing every write appended so far, so it needs no shard lock and
// covers keys that are only on disk: the cursor is the hash to resume at,
// and a full iteration returns every key that exists for its whole duration
// (all keys sharing a hash come in one call). Without persistence the caller
// holds every shard of the database and the cursor is a position in the
// shards' insertion-order lists.
func (db DB) Scan(cursor uint64, count int, fn func(key []byte, t Type)) (uint64, error) {
	if db.s.dur == nil {
		return db.scanMemory(cursor, count, fn), nil
	}
	it, err := db.diskIter()
	if err != nil {
		return 0, err
	}
	defer it.Close()
	now := NowMs()
	seek := binary.BigEndian.AppendUint64([]byte{nsMeta, byte(db.idx)}, cursor)
	visited := 0
	var lastHash uint64
	for ok := it.SeekGE(seek); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < 10 {
			continue
		}
		h := binary.BigEndian.Uint64(k[2:10])
		if visited >= count && h != lastHash {
			return h, nil
		}
		lastHash = h
		visited++
		v, err := it.ValueAndErr()
		if err != nil {
			return 0, db.s.readFailed(k[10:], err)
		}
		t, exp, _, err := decodeMeta(v)
		if err != nil {
			return 0, db.s.readFailed(k[10:], err)
		}
		if exp != 0 && exp <= now {
			continue
		}
		fn(k[10:], t)
	}
	return 0, it.Error()
}

// diskIter commits everything appended so far and opens an iterator over
// the database's meta records.
func (db DB) diskIter() (*pebble.Iterator, error) {
	d := db.s.dur
	if err := d.waitCommitted(d.appended.Load()); err != nil {
		return nil, err
	}
	return d.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{nsMeta, byte(db.idx)},
		UpperBound: []byte{nsMeta, byte(db.idx) + 1},
	})
}

// scanMemory walks the shards' scan orders. The cursor packs the shard
// (bits 48-52), the order's epoch (bits 32-47) and the position (bits 0-31):
// below 2^53, so it is exact in every client's number type.
func (db DB) scanMemory(cursor uint64, count int, fn func(key []byte, t Type)) uint64 {
	i := int(cursor >> 48)
	pos := int(cursor & 0xffffffff)
	epoch := uint16(cursor >> 32)
	now := NowMs()
	visited := 0
	for ; i < ShardsPerDB; i, pos = i+1, 0 {
		sh := &db.s.shards[db.idx*ShardsPerDB+i]
		if !sh.ordered {
			// the list is only kept once SCAN is used: a server that
			// never scans pays nothing for it
			sh.ordered = true
			sh.order = sh.order[:0]
			for k := range sh.m.all() {
				// a copy: the entry's buffer may be replaced (a value
				// outgrowing it) while the list still names the key
				sh.order = append(sh.order, strings.Clone(k))
			}
			sh.epoch++
		}
		if cursor != 0 && epoch != sh.epoch {
			pos = 0 // compacted since: start the shard again
		}
		cursor = 1 // only the first shard visited uses the cursor's epoch
		for ; pos < len(sh.order); pos++ {
			k := sh.order[pos]
			e := sh.m.get(k)
			if e == nil {
				continue // deleted since it was listed
			}
			if visited >= count {
				return uint64(i)<<48 | uint64(sh.epoch)<<32 | uint64(pos)
			}
			visited++
			if exp, ok := sh.expires[k]; ok && exp <= now {
				continue
			}
			fn([]byte(k), e.Type)
		}
	}
	return 0
}

// Keys calls fn for every live key of the database (KEYS), under the same
// locking rules as Scan.
func (db DB) Keys(fn func(key []byte)) error {
	if db.s.dur == nil {
		for i := 0; i < ShardsPerDB; i++ {
			db.ForEach(i, func(k string, _ *Entry) bool {
				fn([]byte(k))
				return true
			})
		}
		return nil
	}
	it, err := db.diskIter()
	if err != nil {
		return err
	}
	defer it.Close()
	now := NowMs()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < 10 {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return db.s.readFailed(k[10:], err)
		}
		_, exp, _, err := decodeMeta(v)
		if err != nil {
			return db.s.readFailed(k[10:], err)
		}
		if exp == 0 || exp > now {
			fn(k[10:])
		}
	}
	return it.Error()
}

// RandomKey returns a random live key, under the same locking rules as Scan.
func (db DB) RandomKey() (string, bool, error) {
	if db.s.dur == nil {
		start := rand.IntN(ShardsPerDB)
		for j := 0; j < ShardsPerDB; j++ {
			var found string
			ok := false
			db.ForEach((start+j)%ShardsPerDB, func(k string, _ *Entry) bool {
				found, ok = k, true
				return false
			})
			if ok {
				return found, true, nil
			}
		}
		return "", false, nil
	}
	if db.Size() == 0 {
		return "", false, nil
	}
	it, err := db.diskIter()
	if err != nil {
		return "", false, err
	}
	defer it.Close()
	now := NowMs()
	seek := binary.BigEndian.AppendUint64([]byte{nsMeta, byte(db.idx)}, rand.Uint64()>>2)
	ok := it.SeekGE(seek)
	for wrapped := false; ; ok = it.Next() {
		if !ok {
			if wrapped {
				return "", false, it.Error()
			}
			wrapped = true
			if ok = it.First(); !ok {
				return "", false, it.Error()
			}
		}
		k := it.Key()
		if len(k) < 10 {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return "", false, db.s.readFailed(k[10:], err)
		}
		if _, exp, _, err := decodeMeta(v); err == nil && (exp == 0 || exp > now) {
			return string(k[10:]), true, nil
		}
		if wrapped && bytes.Compare(k, seek) >= 0 {
			return "", false, nil // every key is expired
		}
	}
}

// reorder rebuilds the scan order from the resident keys when most of it
// names keys that are gone (amortized O(1) per insert or delete). Positions
// change: the epoch moves on, and a cursor of an older epoch restarts the
// shard (SCAN may return a key twice, never miss one present throughout).
func (sh *shard) reorder() {
	if len(sh.order) <= 2*sh.m.len()+64 {
		return
	}
	if sh.m.len() == 0 {
		sh.order, sh.ordered = nil, false
		sh.epoch++
		return
	}
	sh.order = sh.order[:0]
	for k := range sh.m.all() {
		sh.order = append(sh.order, strings.Clone(k))
	}
	sh.epoch++
}
