// Package storage is the keyspace: a sharded in-memory hot tier over a durable
// Pebble store. Handlers never see Pebble; they call the methods of DB while
// holding the locks of the shards their keys live in (see LockSet).
//
// Invariants:
//   - Every mutation of a key goes through one of DB's mutating methods, which
//     update memory, append the durable record, invalidate WATCHes and fire the
//     key-event hook in one place.
//   - The caller holds the shard lock of every key it passes to DB's methods and
//     does not retain byte slices obtained from an Entry after unlocking.
package storage

import (
	"errors"
	"hash/maphash"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// NumDBs is the number of logical databases (SELECT 0..15), as in Redis.
const NumDBs = 16

// ShardsPerDB is the number of independently locked shards in each database.
const ShardsPerDB = 32

// Type is a value type, numbered as stored on disk.
type Type uint8

// Value types.
const (
	TypeNone   Type = 0
	TypeString Type = 1
	TypeList   Type = 2
	TypeHash   Type = 3
	TypeSet    Type = 4
	TypeZSet   Type = 5
)

// String returns the name TYPE replies with.
func (t Type) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeList:
		return "list"
	case TypeHash:
		return "hash"
	case TypeSet:
		return "set"
	case TypeZSet:
		return "zset"
	}
	return "none"
}

// Object is an in-memory collection value (list, hash, set, sorted set).
type Object interface {
	Type() Type
	// Len is the number of elements; a collection with none is deleted.
	Len() int
	// MemSize estimates the bytes the object holds, for memory accounting.
	MemSize() int
	// Encoding is the name OBJECT ENCODING replies with.
	Encoding() string
	// MetaPayload is persisted in the key's meta record after the type and deadline.
	MetaPayload() []byte
}

// Entry is one key's value. Str holds a string's bytes; Obj a collection.
type Entry struct {
	Str  []byte
	Obj  Object
	Type Type
	// Raw marks a string modified in place (APPEND, SETRANGE), which Redis
	// reports as encoding "raw" whatever its content.
	Raw bool
	lru uint32 // seconds clock of the last access, for eviction and OBJECT IDLETIME
}

// Idle returns the seconds since the entry was last accessed.
func (e *Entry) Idle() int64 { return int64(lruClock() - e.lru) }

// entryOverhead approximates the per-key bytes beyond key and value: map slot,
// Entry struct, allocation headers.
const entryOverhead = 96

func (e *Entry) memSize(keyLen int) int64 {
	n := int64(keyLen + cap(e.Str) + entryOverhead)
	if e.Obj != nil {
		n += int64(e.Obj.MemSize())
	}
	return n
}

// Watch is one client's WATCH state: set dirty when any watched key changes.
type Watch struct{ dirty atomic.Bool }

// Dirty reports whether a watched key was modified.
func (w *Watch) Dirty() bool { return w.dirty.Load() }

// Reset clears the dirty flag.
func (w *Watch) Reset() { w.dirty.Store(false) }

type shard struct {
	mu      sync.Mutex
	m       map[string]*Entry
	expires map[string]int64 // absolute unix-ms deadlines of keys that have one
	watched map[string][]*watchReg
	lastSeq atomic.Uint64 // sequence of the last durable write in this shard (the evictor reads it unlocked)
	mem     int64
	evicted int64 // keys of this shard that live only on disk
}

// Options configure a Store.
type Options struct {
	// Dir is the Pebble directory; empty means persistence off (pure in-memory).
	Dir string
	// Sync is the fsync policy.
	Sync SyncMode
	// MaxMemory bounds the hot tier in bytes (0 = unbounded).
	MaxMemory int64
	// NoEviction refuses writes over MaxMemory (Redis's noeviction) instead of evicting.
	NoEviction bool
	// NoGCTuning leaves the Go collector's GOGC alone (embedding, tests).
	NoGCTuning bool
}

// Event is a key mutation reported to the event hook.
type Event struct {
	DB   int
	Key  []byte
	Name string // "set", "del", "expired", "evicted", "lpush", ...
}

// Store is the whole keyspace: NumDBs databases over one durable store.
type Store struct {
	opts   Options
	shards [NumDBs * ShardsPerDB]shard
	dur    *durable // nil when persistence is off
	seed   maphash.Seed

	mem        atomic.Int64 // sum of shard mem
	maxMemory  atomic.Int64
	noEviction atomic.Bool
	partial    [NumDBs]atomic.Bool // some keys live only on disk

	hook atomic.Pointer[func(Event)]

	stats Stats

	activeExpireOff atomic.Bool

	stopExpire chan struct{}
	expireDone chan struct{}
	closed     atomic.Bool
}

// Stats are counters for INFO.
type Stats struct {
	ExpiredKeys  atomic.Int64
	EvictedKeys  atomic.Int64
	KeyspaceHits atomic.Int64
	KeyspaceMiss atomic.Int64
	DiskLoads    atomic.Int64
	Changes      atomic.Int64 // writes since the last checkpoint
	LastSave     atomic.Int64
}

// ErrOOM is returned when a write is refused because of the memory limit.
var ErrOOM = errors.New("OOM command not allowed when used memory > 'maxmemory'.")

// Open opens (or creates) a store and loads the keyspace into memory.
func Open(opts Options) (*Store, error) {
	s := &Store{opts: opts, seed: maphash.MakeSeed(),
		stopExpire: make(chan struct{}), expireDone: make(chan struct{})}
	s.maxMemory.Store(opts.MaxMemory)
	s.noEviction.Store(opts.NoEviction)
	for i := range s.shards {
		s.shards[i].m = make(map[string]*Entry)
		s.shards[i].expires = make(map[string]int64)
	}
	s.stats.LastSave.Store(time.Now().Unix())
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, err
		}
		d, err := openDurable(opts.Dir, opts.Sync)
		if err != nil {
			return nil, err
		}
		s.dur = d
		if err := s.load(); err != nil {
			d.close()
			return nil, err
		}
	}
	go s.expireLoop()
	if !opts.NoGCTuning {
		go s.gcTuner()
	}
	return s, nil
}

// Close stops background work, commits and fsyncs everything, and closes Pebble.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(s.stopExpire)
	<-s.expireDone
	if s.dur != nil {
		return s.dur.close()
	}
	return nil
}

// Persistent reports whether the store writes to disk.
func (s *Store) Persistent() bool { return s.dur != nil }

// SyncMode returns the fsync policy.
func (s *Store) SyncMode() SyncMode { return s.opts.Sync }

// Dir returns the data directory ("" when persistence is off).
func (s *Store) Dir() string { return s.opts.Dir }

// SetEventHook installs the function called for every key mutation (WATCH
// invalidation is separate). It runs with the key's shard locked: it must not
// block or call back into the store.
func (s *Store) SetEventHook(fn func(Event)) {
	s.hook.Store(&fn)
}

// StatsRef returns the store's counters.
func (s *Store) StatsRef() *Stats { return &s.stats }

// UsedMemory is the estimated bytes held by the hot tier.
func (s *Store) UsedMemory() int64 { return s.mem.Load() }

// MaxMemory is the hot-tier limit (0 = none).
func (s *Store) MaxMemory() int64 { return s.maxMemory.Load() }

// SetMaxMemory changes the hot-tier limit.
func (s *Store) SetMaxMemory(n int64) { s.maxMemory.Store(n) }

// NoEviction reports whether writes over the limit are refused.
func (s *Store) NoEviction() bool { return s.noEviction.Load() }

// SetNoEviction switches between refusing writes over the limit (true) and
// evicting cold keys (false).
func (s *Store) SetNoEviction(v bool) { s.noEviction.Store(v) }

// DB returns database i (0 <= i < NumDBs).
func (s *Store) DB(i int) DB { return DB{s: s, idx: i} }

// ---- locking ----

// ShardID identifies one shard of one database; lock order is by ShardID.
type ShardID uint16

// ShardOf returns the shard a key of database db lives in.
func (s *Store) ShardOf(db int, key []byte) ShardID {
	h := maphash.Bytes(s.seed, key)
	return ShardID(db*ShardsPerDB + int(h%ShardsPerDB))
}

// LockSet is a set of shards to lock together, always in ascending order so
// multi-key commands cannot deadlock. The zero value is empty.
type LockSet struct {
	ids   []ShardID
	small [4]ShardID
}

// Reset empties the set.
func (l *LockSet) Reset() { l.ids = l.small[:0] }

// Add adds a shard.
func (l *LockSet) Add(id ShardID) {
	if l.ids == nil {
		l.ids = l.small[:0]
	}
	// insertion sort with dedup: sets are tiny except for lock-all
	i := len(l.ids)
	for i > 0 && l.ids[i-1] > id {
		i--
	}
	if i > 0 && l.ids[i-1] == id {
		return
	}
	l.ids = append(l.ids, 0)
	copy(l.ids[i+1:], l.ids[i:])
	l.ids[i] = id
}

// AddDB adds every shard of database db.
func (l *LockSet) AddDB(db int) {
	for i := 0; i < ShardsPerDB; i++ {
		l.Add(ShardID(db*ShardsPerDB + i))
	}
}

// AddAll adds every shard of every database.
func (l *LockSet) AddAll() {
	l.ids = l.ids[:0]
	for i := 0; i < NumDBs*ShardsPerDB; i++ {
		l.ids = append(l.ids, ShardID(i))
	}
}

// Equal reports whether two sets hold the same shards.
func (l *LockSet) Equal(o *LockSet) bool {
	if len(l.ids) != len(o.ids) {
		return false
	}
	for i, id := range l.ids {
		if o.ids[i] != id {
			return false
		}
	}
	return true
}

// CopyFrom makes l a copy of o.
func (l *LockSet) CopyFrom(o *LockSet) {
	if l.ids == nil {
		l.ids = l.small[:0]
	}
	l.ids = append(l.ids[:0], o.ids...)
}

// Len returns the number of shards in the set.
func (l *LockSet) Len() int { return len(l.ids) }

// Lock locks every shard of the set in ascending order.
func (s *Store) Lock(l *LockSet) {
	for _, id := range l.ids {
		s.shards[id].mu.Lock()
	}
}

// Unlock unlocks every shard of the set.
func (s *Store) Unlock(l *LockSet) {
	for i := len(l.ids) - 1; i >= 0; i-- {
		s.shards[l.ids[i]].mu.Unlock()
	}
}

// ---- durability ----

// LastSeq returns the sequence of the last durable write appended so far.
func (s *Store) LastSeq() uint64 {
	if s.dur == nil {
		return 0
	}
	return s.dur.appended.Load()
}

// WaitDurable blocks until write seq is durable per the sync mode: fsynced in
// always mode, a no-op otherwise.
func (s *Store) WaitDurable(seq uint64) {
	if s.dur == nil || seq == 0 || s.dur.mode != SyncAlways {
		return
	}
	s.dur.waitSynced(seq)
}

// Checkpoint commits and fsyncs every write so far (SAVE, BGSAVE, SHUTDOWN).
func (s *Store) Checkpoint() error {
	s.stats.LastSave.Store(time.Now().Unix())
	s.stats.Changes.Store(0)
	if s.dur == nil {
		return nil
	}
	return s.dur.checkpoint()
}

// PersistenceInfo describes the durable store for INFO persistence.
type PersistenceInfo struct {
	Enabled      bool
	Mode         string
	LastSync     int64
	Commits      int64
	Fsyncs       int64
	Errors       int64
	DiskSize     uint64
	PendingBytes int
}

// Persistence returns the durable store's state.
func (s *Store) Persistence() PersistenceInfo {
	if s.dur == nil {
		return PersistenceInfo{Mode: "off"}
	}
	d := s.dur
	d.mu.Lock()
	pend := d.batch.Len()
	d.mu.Unlock()
	m := d.db.Metrics()
	return PersistenceInfo{Enabled: true, Mode: d.mode.String(), LastSync: d.lastSync.Load(),
		Commits: d.commits.Load(), Fsyncs: d.fsyncs.Load(), Errors: d.syncErrs.Load(),
		DiskSize: m.DiskSpaceUsage(), PendingBytes: pend}
}

// appendDurable records a write for shard sh.
func (s *Store) appendDurable(sh *shard, fn func(b *Pending)) {
	s.stats.Changes.Add(1)
	if s.dur == nil {
		return
	}
	sh.lastSeq.Store(s.dur.append(fn))
}

// appendDurableMulti records one crash-atomic write group touching several
// shards; each shard's lastSeq is advanced so eviction and disk reads of any
// of them wait for the group's commit.
func (s *Store) appendDurableMulti(shards []*shard, fn func(b *Pending)) {
	s.stats.Changes.Add(1)
	if s.dur == nil {
		return
	}
	seq := s.dur.append(fn)
	for _, sh := range shards {
		sh.lastSeq.Store(seq)
	}
}

// ---- clock ----

var clockSec atomic.Uint32

func init() {
	clockSec.Store(uint32(time.Now().Unix()))
	go func() {
		for range time.Tick(100 * time.Millisecond) {
			clockSec.Store(uint32(time.Now().Unix()))
		}
	}()
}

func lruClock() uint32 { return clockSec.Load() }

// NowMs is the current unix time in milliseconds.
func NowMs() int64 { return time.Now().UnixMilli() }

// ---- active expiry ----

// expireLoop reclaims expired keys without reads, like Redis's active expire
// cycle: sample keys with deadlines, delete the expired ones, repeat while many
// of a sample were expired.
func (s *Store) expireLoop() {
	defer close(s.expireDone)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stopExpire:
			return
		case <-t.C:
		}
		if !s.ActiveExpire() {
			continue
		}
		start := time.Now()
		for i := range s.shards {
			for {
				n, expired := s.expireSample(i, 20)
				if n == 0 || expired*4 < n || time.Since(start) > 25*time.Millisecond {
					break
				}
			}
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
	db := DB{s: s, idx: i / ShardsPerDB}
	for k, exp := range sh.expires {
		sampled++
		if exp <= now {
			expired++
			if _, resident := sh.m[k]; resident {
				db.deleteKey(sh, k, "expired")
			} else {
				// evicted to disk: delete its records without loading it
				delete(sh.expires, k)
				sh.evicted--
				kb := []byte(k)
				db.persistDelete(sh, kb, true)
				db.touch(sh, kb, "expired")
			}
			s.stats.ExpiredKeys.Add(1)
		}
		if sampled >= count {
			break
		}
	}
	return sampled, expired
}

// randomShard returns a random shard index of database db.
func randomShard(db int) int { return db*ShardsPerDB + rand.IntN(ShardsPerDB) }
