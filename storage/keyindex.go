package storage

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// keyIndex is one shard's set of the live keys that are not resident (only
// on disk), as 62-bit key hashes (KeyHash) with the value's class in the low
// 2 bits. It answers "does this key exist, and is it a string?" without
// Pebble for a key the shard's table does not hold: a miss on an absent key
// costs no disk read, and a SET over a cold string key writes without
// reading the old value. Resident keys are not in it (the table answers for
// them): a key leaves the index when it becomes resident (link) and enters
// it when eviction drops its entry, so a server whose keys all fit in memory
// pays nothing for it. Two keys sharing a 62-bit hash would make a new key
// look present, or a cold key absent once the other is loaded (p ≈ n/2^62
// per write at n keys).
//
// Open addressing with linear probing and backward-shift deletion; 8 bytes a
// slot, any size (a key's home slot is chosen by multiply-shift from the low
// 32 bits of its hash, not by a mask), regrown to 60% full at 80% load: a
// power-of-two table was half empty just after it doubled (16.7 bytes a key
// at a million keys over 32 shards), this one averages about 11.
type keyIndex struct {
	slots []uint64
	n     int
}

const (
	classString uint64 = 1
	classColl   uint64 = 2
)

func classOf(t Type) uint64 {
	if t == TypeString {
		return classString
	}
	return classColl
}

const keyIndexMinSlots = 64

func (ix *keyIndex) memSize() int64 { return int64(len(ix.slots)) * 8 }

// home is the first slot probed for hash h.
func (ix *keyIndex) home(h uint64) int {
	return int((h & 0xffffffff) * uint64(len(ix.slots)) >> 32)
}

// get returns the class of the key with hash h, 0 when absent.
func (ix *keyIndex) get(h uint64) uint64 {
	if len(ix.slots) == 0 {
		return 0
	}
	n := len(ix.slots)
	for i := ix.home(h); ; {
		v := ix.slots[i]
		if v == 0 {
			return 0
		}
		if v>>2 == h {
			return v & 3
		}
		if i++; i == n {
			i = 0
		}
	}
}

// put adds or updates the key with hash h; it returns the change in bytes.
func (ix *keyIndex) put(h, class uint64) int64 {
	var grown int64
	if (ix.n+1)*5 > len(ix.slots)*4 {
		grown = ix.grow()
	}
	n := len(ix.slots)
	for i := ix.home(h); ; {
		v := ix.slots[i]
		if v == 0 {
			ix.slots[i] = h<<2 | class
			ix.n++
			return grown
		}
		if v>>2 == h {
			ix.slots[i] = h<<2 | class
			return grown
		}
		if i++; i == n {
			i = 0
		}
	}
}

func (ix *keyIndex) grow() int64 {
	old := ix.slots
	size := (ix.n + 1) * 5 / 3
	if size < keyIndexMinSlots {
		size = keyIndexMinSlots
	}
	ix.slots = make([]uint64, size)
	ix.n = 0
	for _, v := range old {
		if v == 0 {
			continue
		}
		for i := ix.home(v >> 2); ; {
			if ix.slots[i] == 0 {
				ix.slots[i] = v
				ix.n++
				break
			}
			if i++; i == size {
				i = 0
			}
		}
	}
	return int64(size-len(old)) * 8
}

// del removes the key with hash h (backward-shift deletion keeps every
// probe sequence unbroken).
func (ix *keyIndex) del(h uint64) {
	if len(ix.slots) == 0 {
		return
	}
	n := len(ix.slots)
	i := ix.home(h)
	for {
		v := ix.slots[i]
		if v == 0 {
			return
		}
		if v>>2 == h {
			break
		}
		if i++; i == n {
			i = 0
		}
	}
	ix.n--
	for j := i + 1; ; j++ {
		if j == n {
			j = 0
		}
		v := ix.slots[j]
		if v == 0 {
			ix.slots[i] = 0
			return
		}
		// move v back to the hole unless its home lies cyclically in (i, j]
		home := ix.home(v >> 2)
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			ix.slots[i] = v
			i = j
		}
	}
}

// ---- the shard's view ----

func (db DB) indexPut(sh *shard, key []byte, t Type) {
	if sh.ixReady.Load() {
		if grown := sh.ix.put(KeyHash(key), classOf(t)); grown != 0 {
			db.account(sh, grown)
			db.s.ixMem.Add(grown)
		}
	}
}

func (db DB) indexDel(sh *shard, key []byte) {
	if sh.ixReady.Load() {
		sh.ix.del(KeyHash(key))
	}
}

// indexClass returns the class of key per the shard's index: 0 absent,
// classString, classColl; ok is false when the index is not complete.
func (db DB) indexClass(sh *shard, key []byte) (class uint64, ok bool) {
	if !sh.ixReady.Load() {
		return 0, false
	}
	return sh.ix.get(KeyHash(key)), true
}

// buildIndexes fills the key index of every shard of every database that
// has keys on disk, one shard at a time under its lock, in the background
// after Open. Until a shard's index is complete, lookups of its cold keys
// ask Pebble. It gives up (and frees every index) when the indexes would
// take more than a quarter of the memory limit.
func (s *Store) buildIndexes() {
	defer close(s.indexDone)
	start := time.Now()
	for dbi := 0; dbi < NumDBs; dbi++ {
		for i := 0; i < ShardsPerDB; i++ {
			select {
			case <-s.stopExpire:
				return
			default:
			}
			if !s.buildShardIndex(dbi, i) {
				s.dropIndexes()
				return
			}
		}
	}
	s.indexBuilt.Store(time.Since(start).Milliseconds() + 1)
}

func (s *Store) buildShardIndex(dbi, i int) bool {
	sh := &s.shards[dbi*ShardsPerDB+i]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.ixReady.Load() || s.ixOff.Load() {
		return !s.ixOff.Load()
	}
	var ix keyIndex
	db := s.DB(dbi)
	if s.partial[dbi].Load() {
		lower := binary.BigEndian.AppendUint64([]byte{nsMeta, byte(dbi)}, uint64(i)<<57)
		var upper []byte
		if i+1 < ShardsPerDB {
			upper = binary.BigEndian.AppendUint64([]byte{nsMeta, byte(dbi)}, uint64(i+1)<<57)
		} else {
			upper = []byte{nsMeta, byte(dbi) + 1}
		}
		it, err := s.dur.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return false
		}
		for ok := it.First(); ok; ok = it.Next() {
			k := it.Key()
			if len(k) < 11 {
				continue
			}
			if _, gone := sh.tomb[string(k[10:])]; gone {
				continue
			}
			v, err := it.ValueAndErr()
			if err == nil {
				err = checkMetaHeader(v)
			}
			if err != nil {
				key := append([]byte(nil), k[10:]...) // k is the iterator's, reused once it is closed
				it.Close()
				s.readFailed(key, err)
				return false
			}
			ix.put(binary.BigEndian.Uint64(k[2:10]), classOf(Type(v[0])))
		}
		if err := it.Close(); err != nil {
			// a block of meta records that cannot be read (a damaged table)
			rerr := fmt.Errorf("reading the keys of db %d from the data directory: %w", dbi, err)
			if s.readErr.CompareAndSwap(nil, &rerr) && s.opts.Logger != nil {
				s.opts.Logger.Errorf("lux: %v; writes are refused until the server is restarted", rerr)
			}
			return false
		}
	}
	for k := range sh.m.all() {
		ix.del(KeyHash([]byte(k))) // resident: the table answers for it
	}
	if s.ixMem.Load()+ix.memSize() > s.indexBudget() {
		return false
	}
	s.ixMem.Add(ix.memSize())
	sh.ix = ix
	sh.ixReady.Store(true)
	db.account(sh, ix.memSize())
	return true
}

// checkMetaHeader reports a meta record too short for its header or of a
// type without a loader: the index build finds it at start, before a read
// would.
func checkMetaHeader(v []byte) error {
	if len(v) < metaHeader {
		return fmt.Errorf("%w: meta record of %d bytes", errCorrupt, len(v))
	}
	t := Type(v[0])
	if t == TypeString {
		return nil
	}
	loadersMu.RLock()
	l := loaders[t]
	loadersMu.RUnlock()
	if l == nil {
		return fmt.Errorf("%w: unknown type %d", errCorrupt, t)
	}
	return nil
}

// indexBudget is the most the key indexes may hold: a quarter of the memory
// limit (unbounded without one).
func (s *Store) indexBudget() int64 {
	if max := s.maxMemory.Load(); max > 0 {
		return max / 4
	}
	return 1 << 62
}

// dropIndexes gives the key indexes up for good (they outgrew their budget):
// lookups of cold keys ask Pebble, whose bloom filters answer most misses.
func (s *Store) dropIndexes() {
	s.ixOff.Store(true)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		if sh.ixReady.Load() {
			DB{s: s, idx: sh.db}.account(sh, -sh.ix.memSize())
			s.ixMem.Add(-sh.ix.memSize())
			sh.ix = keyIndex{}
			sh.ixReady.Store(false)
		}
		sh.mu.Unlock()
	}
}
