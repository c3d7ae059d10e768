package storage

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"

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
		if cursor != 0 && epoch != sh.epoch {
			pos = 0 // compacted since: start the shard again
		}
		cursor = 1 // only the first shard visited uses the cursor's epoch
		for ; pos < len(sh.order); pos++ {
			o := sh.order[pos]
			if !o.live {
				continue
			}
			if visited >= count {
				return uint64(i)<<48 | uint64(sh.epoch)<<32 | uint64(pos)
			}
			visited++
			if exp, ok := sh.expires[o.key]; ok && exp <= now {
				continue
			}
			if e := sh.m[o.key]; e != nil {
				fn([]byte(o.key), e.Type)
			}
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

// orderSlot is one position of a shard's scan order.
type orderSlot struct {
	key  string
	live bool
}

// unorder punches e's hole in the scan order, compacting the order when
// most of it is holes (positions change: the epoch moves on, and a cursor
// of the old epoch restarts the shard — SCAN may return a key twice, never
// miss one present throughout).
func (sh *shard) unorder(e *Entry) {
	if int(e.pos) >= len(sh.order) {
		return
	}
	sh.order[e.pos] = orderSlot{}
	sh.holes++
	if sh.holes > 64 && sh.holes*2 > len(sh.order) {
		kept := make([]orderSlot, 0, len(sh.order)-sh.holes)
		for _, o := range sh.order {
			if o.live {
				if x := sh.m[o.key]; x != nil {
					x.pos = int32(len(kept))
				}
				kept = append(kept, o)
			}
		}
		sh.order, sh.holes = kept, 0
		sh.epoch++
	}
}
