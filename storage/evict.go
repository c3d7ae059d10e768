package storage

import (
	"math"
	"math/rand/v2"
)

// Policy is what the store does over its memory limit, named as Redis's
// maxmemory-policy. With persistence every policy but noeviction only
// chooses which keys leave memory (they stay on disk: nothing is lost);
// without persistence the chosen keys are deleted, as in Redis.
type Policy int32

// The policies.
const (
	PolicyAllKeysLRU Policy = iota
	PolicyNoEviction
	PolicyVolatileLRU
	PolicyAllKeysRandom
	PolicyVolatileRandom
	PolicyVolatileTTL
	PolicyAllKeysLFU
	PolicyVolatileLFU
)

var policyNames = [...]string{
	PolicyAllKeysLRU: "allkeys-lru", PolicyNoEviction: "noeviction",
	PolicyVolatileLRU: "volatile-lru", PolicyAllKeysRandom: "allkeys-random",
	PolicyVolatileRandom: "volatile-random", PolicyVolatileTTL: "volatile-ttl",
	PolicyAllKeysLFU: "allkeys-lfu", PolicyVolatileLFU: "volatile-lfu",
}

func (p Policy) String() string { return policyNames[p] }

// ParsePolicy parses a maxmemory-policy name (case-insensitive).
func ParsePolicy(s string) (Policy, bool) {
	for i, n := range policyNames {
		if len(n) == len(s) && equalFoldASCII(n, s) {
			return Policy(i), true
		}
	}
	return 0, false
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func (p Policy) volatile() bool {
	return p == PolicyVolatileLRU || p == PolicyVolatileRandom || p == PolicyVolatileTTL || p == PolicyVolatileLFU
}

func (p Policy) lfu() bool { return p == PolicyAllKeysLFU || p == PolicyVolatileLFU }

// LFU counter, as Redis: a logarithmic 8-bit counter that new keys start at
// 5 and that decays by one per minute without access.
const (
	lfuInitVal   = 5
	lfuLogFactor = 10
)

func lfuTouch(e *Entry, now uint32) {
	if e.freq == 0 {
		e.freq = lfuInitVal
	}
	if mins := (now - e.lru) / 60; mins > 0 {
		if uint32(e.freq) > mins {
			e.freq -= uint8(mins)
		} else {
			e.freq = 0
		}
	}
	if e.freq == 255 {
		return
	}
	base := float64(0)
	if e.freq > lfuInitVal {
		base = float64(e.freq - lfuInitVal)
	}
	if rand.Float64() < 1/(base*lfuLogFactor+1) {
		e.freq++
	}
}

// SetIdle makes the entry look last accessed sec seconds ago (RESTORE
// IDLETIME); the caller holds the key's shard.
func (e *Entry) SetIdle(sec int64) {
	if sec > math.MaxUint32 {
		sec = math.MaxUint32
	}
	e.lru = lruClock() - uint32(sec)
}

// SetFreq sets the entry's LFU counter, its decay counted from now (RESTORE
// FREQ); the caller holds the key's shard. A counter of 0 reads back as
// the initial 5 (0 marks an entry never counted).
func (e *Entry) SetFreq(f uint8) {
	e.freq = f
	e.lru = lruClock()
}

// Freq returns the entry's LFU counter (OBJECT FREQ).
func (e *Entry) Freq() int {
	if e.freq == 0 {
		return lfuInitVal
	}
	return int(e.freq)
}

// hotLimit is the part of the memory limit left to the hot tier: with
// persistence Pebble's block cache and memtables are part of the budget.
func (s *Store) hotLimit(max int64) int64 {
	if s.dur == nil {
		return max
	}
	hot := max - PebbleMemory(max) - s.dur.held.Load() - goOverhead(max)
	if hot < max/4 {
		hot = max / 4
	}
	return hot
}

// goOverhead is what the engine's own Go allocations (Pebble's iterators,
// flush and compaction buffers, connection buffers) are assumed to take out
// of the limit.
func goOverhead(max int64) int64 { return clamp(max/16, 1<<20, 32<<20) }

// OverLimit reports whether the hot tier is over its share of the limit.
func (s *Store) OverLimit() bool {
	max := s.maxMemory.Load()
	return max > 0 && s.counted() > s.hotLimit(max)
}

// AddClientMemory counts (or, negative, uncounts) memory outside the
// keyspace that Redis counts in used_memory: its clients' buffers. Without
// persistence it counts against the limit as in Redis, so a maxmemory below
// what the connected clients take refuses writes; with persistence hotLimit
// already sets goOverhead aside for it.
func (s *Store) AddClientMemory(d int64) { s.clientMem.Add(d) }

// counted is the memory held against hotLimit.
func (s *Store) counted() int64 {
	if s.dur == nil {
		return s.mem.Load() + s.clientMem.Load()
	}
	return s.mem.Load()
}

// EnsureMemory brings the hot tier under the memory limit before a write, or
// after a read that loaded keys from disk. With persistence, cold keys leave
// memory and stay readable from Pebble; a key whose last write is not
// committed yet cannot leave, so when only those are left it waits for the
// committer — the back-pressure that keeps memory bounded at any write rate;
// a write is never refused for memory unless the policy is noeviction.
// Without persistence the policy's victims are deleted, as in Redis, and
// ErrOOM is returned when nothing can be evicted.
func (s *Store) EnsureMemory() error {
	max := s.maxMemory.Load()
	if max <= 0 {
		return nil
	}
	limit := s.hotLimit(max)
	if s.counted() <= limit {
		return nil
	}
	if s.ixMem.Load() > s.indexBudget() && !s.ixOff.Load() {
		s.dropIndexes()
	}
	// evicted keys enter the key index: it may pass its budget here
	defer func() {
		if s.ixMem.Load() > s.indexBudget() && !s.ixOff.Load() {
			s.dropIndexes()
		}
	}()
	pol := s.Policy()
	if pol == PolicyNoEviction {
		return ErrOOM
	}
	for round := 0; s.counted() > limit; round++ {
		progress := s.evictTableRows(limit) // the table rows' share (tablekv.go)
		for tries := 0; tries < 128 && s.counted() > limit; tries++ {
			if s.evictOne(pol) {
				progress = true
			}
		}
		if progress {
			round = 0
			continue
		}
		if s.dur == nil {
			return ErrOOM
		}
		if round >= 4 || s.tablesPinnedOver(limit) {
			// only watched keys or tombstones left, or table indexes
			// alone over the limit: never refuse
			return nil
		}
		// what is resident was written but not committed yet
		if err := s.dur.waitCommitted(s.dur.appended.Load()); err != nil {
			return nil
		}
	}
	return nil
}

// evictSample is how many keys one eviction step compares.
const evictSample = 5

// evictOne samples one shard of a database holding keys and evicts the best
// victim the policy names among evictSample keys; it reports whether it did.
func (s *Store) evictOne(pol Policy) bool {
	start := int(s.evictNext.Add(1))
	dbi := -1
	for j := 0; j < NumDBs; j++ {
		if i := (start + j) % NumDBs; s.keys[i].Load() > 0 {
			dbi = i
			break
		}
	}
	if dbi < 0 {
		return false
	}
	// from a random shard of the database, the first holding keys (or
	// tombstones to sweep): a database with one key in one of its 32 shards
	// must not look empty to a run of unlucky samples
	var sh *shard
	first := randomShard(dbi)
	for j := 0; j < ShardsPerDB; j++ {
		c := &s.shards[dbi*ShardsPerDB+(first-dbi*ShardsPerDB+j)%ShardsPerDB]
		c.mu.Lock()
		if c.m.len() > 0 || (s.dur != nil && len(c.tomb) > 0) {
			sh = c
			break
		}
		c.mu.Unlock()
	}
	if sh == nil {
		return false
	}
	defer sh.mu.Unlock()
	var committed, last uint64
	if s.dur != nil {
		committed, last = s.dur.committed.Load(), sh.lastSeq.Load()
		if len(sh.tomb) > 0 || len(sh.dirty) > 256 {
			s.sweepShard(sh)
		}
	}
	ok := func(k string, e *Entry) bool {
		if _, watched := sh.watched[k]; watched {
			return false
		}
		if s.dur == nil {
			return true
		}
		seq, dirty := sh.dirty[e]
		if !dirty {
			return true
		}
		if seq == dirtySeq {
			// every write of the key was appended while holding this shard
			seq = last
			sh.dirty[e] = last
		}
		if seq > committed {
			return false
		}
		delete(sh.dirty, e)
		return true
	}
	var victim string
	var best *Entry
	bestScore := uint64(math.MaxUint64)
	n := 0
	score := func(k string, e *Entry) uint64 {
		switch pol {
		case PolicyAllKeysRandom, PolicyVolatileRandom:
			return 0
		case PolicyVolatileTTL:
			return uint64(sh.expires[k])
		case PolicyAllKeysLFU, PolicyVolatileLFU:
			return uint64(e.Freq())<<32 | uint64(e.lru)
		}
		return uint64(e.lru)
	}
	consider := func(k string, e *Entry) {
		if !ok(k, e) {
			return
		}
		if sc := score(k, e); best == nil || sc < bestScore {
			victim, best, bestScore = k, e, sc
		}
	}
	if pol.volatile() && len(sh.expires) > 0 {
		for k := range sh.expires {
			if e := sh.m.get(k); e != nil {
				consider(k, e)
			}
			if n++; n >= evictSample {
				break
			}
		}
	} else if !pol.volatile() || s.dur != nil {
		// with persistence a volatile policy falls back to every key:
		// leaving memory loses nothing
		for k, e := range sh.m.sample() {
			consider(k, e)
			if n++; n >= evictSample {
				break
			}
		}
	}
	if best == nil {
		return false
	}
	db := DB{s: s, idx: dbi}
	s.stats.EvictedKeys.Add(1)
	if s.dur == nil {
		db.deleteKey(sh, victim, "evicted")
		return true
	}
	sh.m.del(victim)
	delete(sh.expires, victim)
	db.account(sh, -best.memSize(len(victim)))
	db.indexPut(sh, []byte(victim), best.Type) // only on disk from now on
	s.partial[dbi].Store(true)
	return true
}

// MemoryInfo breaks the memory the store counts against its limit down.
type MemoryInfo struct {
	Hot          int64 // resident keys, values, tombstones and key indexes
	Index        int64 // key indexes (part of Hot)
	Pending      int64 // writes waiting for Pebble
	PebbleCache  int64 // Pebble's block cache in use
	PebbleTables int64 // Pebble's memtables
	IndexShards  int   // shards whose key index is complete
	IndexBuildMs int64 // how long the start-up index build took (0: running or off)
	IndexOff     bool  // indexes given up for memory
	Clients      int64 // clients' buffers (counted in Total without persistence)
	Persistent   bool
}

// Memory reports the store's memory use (Pebble's part read from its metrics).
func (s *Store) Memory() MemoryInfo {
	mi := MemoryInfo{Hot: s.mem.Load(), Index: s.ixMem.Load(), IndexOff: s.ixOff.Load(), Clients: s.clientMem.Load()}
	if b := s.indexBuilt.Load(); b > 0 {
		mi.IndexBuildMs = b - 1
	}
	if s.dur == nil {
		return mi
	}
	mi.Persistent = true
	mi.Pending = s.dur.held.Load()
	m := s.dur.db.Metrics()
	mi.PebbleCache = m.BlockCache.Size
	mi.PebbleTables = int64(m.MemTable.Size)
	for i := range s.shards {
		if s.shards[i].ixReady.Load() {
			mi.IndexShards++
		}
	}
	return mi
}

// Total is the memory counted against the limit.
func (m MemoryInfo) Total() int64 {
	if !m.Persistent {
		return m.Hot + m.Clients // see AddClientMemory
	}
	return m.Hot + m.Pending + m.PebbleCache + m.PebbleTables
}
