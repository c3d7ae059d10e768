// Package storage is the keyspace: a sharded in-memory hot tier over a durable
// Pebble store. Handlers never see Pebble; they call the methods of DB while
// holding the locks of the shards their keys live in (see LockSet).
//
// Invariants:
//   - Every mutation of a key goes through a change set, Tx (tx.go), whose
//     methods update memory, report to WATCH and the key-event hook (DB.touch)
//     and buffer the durable records that Commit appends in one call. DB's
//     one-key mutators (SetString, Delete, ...) are a Tx of one change.
//   - The caller holds the shard lock of every key it passes to DB's methods and
//     does not retain byte slices obtained from an Entry after unlocking.
package storage

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
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
	// Lux's own types (docs/LUX-EXTENSIONS.md).
	TypeTimeSeries Type = 6
	TypeVector     Type = 7
	// TypeStream is Redis's stream (stream.go).
	TypeStream Type = 8
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
	case TypeTimeSeries:
		return "timeseries"
	case TypeVector:
		return "vector"
	case TypeStream:
		return "stream"
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
	// ForEachElem calls fn once for every element with exactly the sub-key
	// and value of its element record (RENAME, COPY and MOVE write them
	// again under the destination key without reading them back from
	// disk). fn must not retain sub or val, and ForEachElem must not call
	// back into the store (it runs while the durable batch is being filled).
	ForEachElem(fn func(sub, val []byte))
	// Clone returns a deep copy sharing no mutable state with the receiver (COPY).
	Clone() Object
}

// Entry is one key's value: a string's bytes (Bytes) or a collection
// (Object), with its key (entrytable.go has the layout: 24 bytes, and the
// key shares the string value's buffer). Only the store changes an entry;
// handlers read it under the shard lock and never retain what Bytes
// returns past it.
type Entry struct {
	// p is a string's first value byte in its buffer (the key's bytes are
	// before it) or, with flagBox, the *entryBox of a collection or of a
	// string too long for n and c
	p    unsafe.Pointer
	n, c uint32 // the string's length and capacity (without flagBox)
	lru  uint32 // seconds clock of the last access, for eviction and OBJECT IDLETIME
	Type Type
	// flags: flagRaw marks a string modified in place (APPEND, SETRANGE),
	// which Redis reports as encoding "raw" whatever its content
	flags uint8
	freq  uint8 // LFU counter (0 = never counted)
	klen  uint8 // the key's length, or longKey: stored in the buffer
}

// dirtySeq marks an entry or tombstone written since the last time eviction
// looked at it; eviction stamps it with its shard's last sequence.
const dirtySeq = ^uint64(0)

// Idle returns the seconds since the entry was last accessed.
func (e *Entry) Idle() int64 { return int64(lruClock() - e.lru) }

// entryOverhead approximates the per-key bytes beyond the key and value
// buffer: the Entry (24 bytes) and its slot in the shard's entryTable (9
// bytes at 60-85% load).
const entryOverhead = 40

// boxOverhead is the entryBox of a collection (or huge string).
const boxOverhead = 32

// MemUsage is the bytes the key's entry is accounted for (MEMORY USAGE).
func (e *Entry) MemUsage() int64 { return e.memSize(len(e.key())) }

// memSize is the entry's accounted bytes: its key's length, the value's
// capacity (the buffer's size class less the key), entryOverhead and a
// collection's box and own estimate.
func (e *Entry) memSize(keyLen int) int64 {
	n := int64(keyLen + entryOverhead)
	if e.flags&flagBox == 0 {
		n += int64(e.c)
		if e.klen == longKey {
			n += 4
		}
		return n
	}
	n += boxOverhead
	if e.flags&flagBig != 0 {
		return n + int64(cap((*bigBox)(e.p).str))
	}
	if o := e.box().obj; o != nil {
		n += int64(o.MemSize())
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
	m       entryTable       // resident keys
	expires map[string]int64 // absolute unix-ms deadlines of resident keys that have one
	// tomb holds keys deleted from memory whose deletion may not be in
	// Pebble yet (value: the sequence bounding it, or dirtySeq): a miss on
	// them must not read the old value back from disk.
	tomb map[string]uint64
	// dirty holds the resident entries whose last write may not be in
	// Pebble yet (value as tomb's): they must not leave memory. Kept out of
	// Entry so a clean key costs no extra bytes.
	dirty   map[*Entry]uint64
	watched map[string][]*watchReg
	lastSeq atomic.Uint64 // sequence of the last durable write in this shard
	mem     int64
	cdelta  int64 // key-count change not yet handed to the durable batch
	db      int
	ix      keyIndex // every live key of the shard (with persistence), once ixReady
	ixReady atomic.Bool
	// order lists the resident keys in insertion order for SCAN without
	// persistence; deleted keys stay until the list is rebuilt (then epoch
	// moves on), so a position is a stable cursor
	order   []string
	ordered bool // order is kept (from the first SCAN of the shard on)
	epoch   uint16
	series  seriesIndex // the shard's time series by label (tsindex.go)
}

// tombOverhead approximates a tombstone's bytes beyond its key.
const tombOverhead = 48

// Options configure a Store.
type Options struct {
	// Dir is the Pebble directory; empty means persistence off (pure in-memory).
	Dir string
	// Sync is the fsync policy.
	Sync SyncMode
	// MaxMemory bounds the hot tier in bytes (0 = unbounded).
	MaxMemory int64
	// Policy is what happens over MaxMemory.
	Policy Policy
	// Logger receives Pebble's errors and notable events (nil: discarded).
	Logger pebble.Logger
	// FS is the file system Pebble runs on (nil: the real one). Tests pass
	// crashable or error-injecting file systems.
	FS vfs.FS
}

// Event is a key mutation reported to the event hook.
type Event struct {
	DB   int
	Key  []byte
	Name string // "set", "del", "expired", "evicted", "lpush", ...
	// Origin is the Origin of the DB (or Tx) that made the change: the
	// server's client whose command ran; nil for the store's own work
	// (active expiry, eviction).
	Origin Origin
}

// Origin tells the event hook who caused a change (DB.WithOrigin). The
// store only carries it.
type Origin interface{}

// Store is the whole keyspace: NumDBs databases over one durable store.
type Store struct {
	opts   Options
	shards [NumDBs * ShardsPerDB]shard
	dur    *durable // nil when persistence is off

	mem       atomic.Int64 // sum of shard mem
	clientMem atomic.Int64 // AddClientMemory
	maxMemory atomic.Int64
	policy    atomic.Int32         // Policy over the limit
	partial   [NumDBs]atomic.Bool  // some keys may live only on disk
	keys      [NumDBs]atomic.Int64 // live keys, resident or not (DBSIZE)
	evictNext atomic.Uint32        // round-robin start for eviction

	hook atomic.Pointer[func(Event)]

	tab tableState // the tables engine's memory and row cache (tablekv.go)
	ts  tsState    // the time series label index's start-up build (tsindex.go)

	vec     vecIndex      // the vector search index (vecindex.go)
	vecDone chan struct{} // closed when the start-up read of the vectors ends

	stats Stats

	activeExpireOff atomic.Bool
	// expireCycleHook, when set, gets the duration of every active expiry
	// cycle that reclaimed keys (Redis's "expire-cycle" latency event)
	expireCycleHook atomic.Pointer[func(time.Duration)]
	expirePaused    atomic.Bool           // CLIENT PAUSE: expired keys are not reclaimed
	expireScan      atomic.Int32          // >0: every resident deadline is checked every expireScanRounds cycles (expire.go)
	readErr         atomic.Pointer[error] // a failed read: writes are refused
	rfail           readFailures          // the keys whose read failed

	ixOff      atomic.Bool  // key indexes given up (over their memory budget)
	ixMem      atomic.Int64 // bytes held by the key indexes
	indexDone  chan struct{}
	indexBuilt atomic.Int64 // ms the background build took (+1), 0 while running

	stopExpire chan struct{}
	expireDone chan struct{}
	closed     atomic.Bool
}

// Stats are counters for INFO.
type Stats struct {
	ExpiredKeys atomic.Int64
	// ExpireCapReached counts active expiry cycles cut short by their time
	// budget (INFO expired_time_cap_reached_count)
	ExpireCapReached atomic.Int64
	EvictedKeys      atomic.Int64
	KeyspaceHits     atomic.Int64
	KeyspaceMiss     atomic.Int64
	DiskLoads        atomic.Int64 // keys read back from Pebble
	DiskMisses       atomic.Int64 // lookups Pebble answered "no such key"
	Changes          atomic.Int64 // writes since the last checkpoint
	LastSave         atomic.Int64
}

// ErrOOM is returned when a write is refused because of the memory limit.
var ErrOOM = errors.New("OOM command not allowed when used memory > 'maxmemory'.")

// Open opens (or creates) a store. Nothing is loaded: Pebble holds every
// key, memory is a cache filled on access, so the store serves at once
// whatever the data size.
func Open(opts Options) (*Store, error) {
	s := &Store{opts: opts,
		stopExpire: make(chan struct{}), expireDone: make(chan struct{}), indexDone: make(chan struct{}),
		vecDone: make(chan struct{})}
	s.maxMemory.Store(opts.MaxMemory)
	s.policy.Store(int32(opts.Policy))
	for i := range s.shards {
		s.shards[i].expires = make(map[string]int64)
		s.shards[i].tomb = make(map[string]uint64)
		s.shards[i].dirty = make(map[*Entry]uint64)
		s.shards[i].db = i / ShardsPerDB
	}
	s.stats.LastSave.Store(time.Now().Unix())
	tickClock()
	if opts.Dir != "" {
		fs := opts.FS
		if fs == nil {
			fs = vfs.Default
			if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
				return nil, err
			}
		}
		logger := opts.Logger
		if logger == nil {
			logger = discardLogger{}
		}
		d, err := openDurable(opts.Dir, opts.Sync, opts.MaxMemory, logger, fs)
		if err != nil {
			return nil, err
		}
		s.dur = d
		for i := 0; i < NumDBs; i++ {
			s.keys[i].Store(d.counts[i])
			s.partial[i].Store(d.counts[i] > 0)
			if d.counts[i] == 0 {
				// nothing on disk: the (empty) index is complete at once
				for j := 0; j < ShardsPerDB; j++ {
					s.shards[i*ShardsPerDB+j].ixReady.Store(true)
				}
			}
		}
		go s.buildIndexes()
		s.vec.init(true)
		go s.loadVectors(d.counts)
	} else {
		close(s.indexDone)
		s.vec.init(false)
		close(s.vecDone)
	}
	s.startSeriesIndexes()
	go s.expireLoop()
	return s, nil
}

// discardLogger drops Pebble's messages; Fatalf must not return (Pebble's
// contract), so it panics with the message.
type discardLogger struct{}

func (discardLogger) Infof(string, ...interface{})  {}
func (discardLogger) Errorf(string, ...interface{}) {}
func (discardLogger) Fatalf(format string, args ...interface{}) {
	panic(fmt.Sprintf(format, args...))
}

// Err returns the error that stopped the durable store (writes are then
// refused; reads go on), or nil.
func (s *Store) Err() error {
	if s.dur == nil {
		return nil
	}
	if err := s.dur.err(); err != nil {
		return err
	}
	if p := s.readErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Close stops background work, commits and fsyncs everything, and closes Pebble.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(s.stopExpire)
	<-s.expireDone
	<-s.indexDone
	<-s.ts.done
	<-s.vecDone
	if s.dur != nil {
		return s.dur.close()
	}
	return nil
}

// Persistent reports whether the store writes to disk.
func (s *Store) Persistent() bool { return s.dur != nil }

// SyncMode returns the fsync policy.
func (s *Store) SyncMode() SyncMode {
	if s.dur != nil {
		return s.dur.syncMode()
	}
	return s.opts.Sync
}

// SetSyncMode changes the fsync policy (CONFIG SET appendfsync): writes
// acknowledged from now on follow it; without persistence it is only
// remembered.
func (s *Store) SetSyncMode(m SyncMode) {
	if s.dur != nil {
		s.dur.mode.Store(int32(m))
		s.dur.signal()
	}
}

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

// Policy returns what happens over the memory limit.
func (s *Store) Policy() Policy { return Policy(s.policy.Load()) }

// SetPolicy changes what happens over the memory limit.
func (s *Store) SetPolicy(p Policy) { s.policy.Store(int32(p)) }

// NoEviction reports whether writes over the limit are refused.
func (s *Store) NoEviction() bool { return s.Policy() == PolicyNoEviction }

// DB returns database i (0 <= i < NumDBs).
func (s *Store) DB(i int) DB { return DB{s: s, idx: i} }

// ---- locking ----

// ShardID identifies one shard of one database; lock order is by ShardID.
type ShardID uint16

// ShardOf returns the shard a key of database db lives in: the top bits of
// its stable hash, so a shard's keys are one contiguous range on disk.
func (s *Store) ShardOf(db int, key []byte) ShardID {
	return ShardID(db*ShardsPerDB + int(KeyHash(key)>>57))
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
// always mode, a no-op otherwise. It fails when the durable store failed
// before the write was synced: the write must not be acknowledged.
func (s *Store) WaitDurable(seq uint64) error {
	if s.dur == nil || seq == 0 || s.dur.syncMode() != SyncAlways {
		return nil
	}
	return s.dur.waitSynced(seq)
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
	return PersistenceInfo{Enabled: true, Mode: d.syncMode().String(), LastSync: d.lastSync.Load(),
		Commits: d.commits.Load(), Fsyncs: d.fsyncs.Load(), Errors: d.syncErrs.Load(),
		DiskSize: m.DiskSpaceUsage(), PendingBytes: pend}
}

// appendDurable records a write for shard sh.
func (s *Store) appendDurable(sh *shard, fn func(b *Pending)) {
	s.stats.Changes.Add(1)
	if s.dur == nil {
		return
	}
	sh.lastSeq.Store(s.dur.append([]*shard{sh}, fn))
}

// appendDurableMulti records one crash-atomic write group touching several
// shards; each shard's lastSeq is advanced so eviction and disk reads of any
// of them wait for the group's commit.
func (s *Store) appendDurableMulti(shards []*shard, fn func(b *Pending)) {
	s.stats.Changes.Add(1)
	if s.dur == nil {
		return
	}
	seq := s.dur.append(shards, fn)
	for _, sh := range shards {
		sh.lastSeq.Store(seq)
	}
}

// ---- clock ----

// clockSec is a seconds clock for LRU stamps, advanced by every open
// store's expiry loop (reading the time on each access costs more than a GET).
var clockSec atomic.Uint32

func tickClock() { clockSec.Store(uint32(time.Now().Unix())) }

func lruClock() uint32 { return clockSec.Load() }

// NowMs is the current unix time in milliseconds.
func NowMs() int64 { return time.Now().UnixMilli() }
