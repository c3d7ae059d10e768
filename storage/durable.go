package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// SyncMode is the fsync policy, with the meaning of Redis's appendfsync.
type SyncMode int

// The fsync policies.
const (
	// SyncEverySec fsyncs acknowledged writes within about one second.
	SyncEverySec SyncMode = iota
	// SyncAlways acknowledges a write only after it has been fsynced (group commit).
	SyncAlways
	// SyncNo leaves syncing to Pebble and the operating system.
	SyncNo
)

// ParseSyncMode parses "always", "everysec" or "no".
func ParseSyncMode(s string) (SyncMode, error) {
	switch s {
	case "always":
		return SyncAlways, nil
	case "everysec":
		return SyncEverySec, nil
	case "no":
		return SyncNo, nil
	}
	return 0, fmt.Errorf("invalid appendfsync %q (want always, everysec or no)", s)
}

func (m SyncMode) String() string {
	switch m {
	case SyncAlways:
		return "always"
	case SyncNo:
		return "no"
	}
	return "everysec"
}

// Key-space prefixes of the on-disk encoding. Only this package knows them.
const (
	nsMeta      = 'k' // 'k' db hash(8) key -> type(1) expireAt(8) payload
	nsElem      = 'e' // 'e' db uvarint(len(key)) key sub -> element value
	nsTable     = 't' // 't' <tables-owned suffix> -> tables-owned value
	nsExpire    = 'x' // 'x' db expireAt(8) key -> empty: a deadline hint for active expiry
	nsCount     = 'c' // 'c' db -> number of keys (8 bytes), written with every batch that changes it
	nsVersion   = 'v' // 'v' -> storage format name
	nsFunctions = 'f' // 'f' -> the function libraries (functions.go)
)

// formatVersion names the on-disk layout; a directory holding another one is
// refused at start with a clear message instead of being misread. Format 3
// adds lists' run and trim records (listdisk.go), which a build of format 2
// would skip without a word: a directory of format 2 is upgraded in place
// when it opens (everything it holds reads the same), and from then on a
// format-2 build refuses it.
const formatVersion = "lux-go storage 3"

// formatUpgradable are the older formats this build reads as they are.
var formatUpgradable = []string{"lux-go storage 2"}

// commitInterval bounds how long a write sits in the pending batch before it is
// handed to Pebble, in the modes that do not wait for fsync.
const commitInterval = 5 * time.Millisecond

// noSyncEvery is how many seconds apart "appendfsync no" syncs the WAL.
const noSyncEvery = 5

// maxPendingBytes makes the committer run early when the pending batch is large.
const maxPendingBytes = 2 << 20

// stallPendingBytes is the back-pressure point: a writer that finds this
// much waiting for Pebble waits for the committer before it goes on, so the
// pending buffer cannot grow without bound while Pebble is slower than the
// writers.
const stallPendingBytes = 8 << 20

// ErrFailed wraps the error that stopped the durable store: after a failed
// commit nothing more is written (later batches would land without the lost
// one), writes are refused and reads go on.
type ErrFailed struct{ Err error }

func (e *ErrFailed) Error() string { return "writing to the data directory failed: " + e.Err.Error() }

func (e *ErrFailed) Unwrap() error { return e.Err }

// pebbleGuard turns the ways Pebble ends the process when it cannot write
// (Logger.Fatalf after a failed WAL write or fsync, "pebble: fatal commit
// error"; Logger.Fatalf when a new MANIFEST cannot be written; a panic with
// the error from its WAL writer once the log has failed) into an error
// returned to the caller, when they happen inside one of our calls into
// Pebble (run): the store then stops writing and keeps serving reads instead
// of dying. Outside our calls (Pebble's background flushes and compactions)
// Fatalf stays fatal.
type pebbleGuard struct {
	active atomic.Int32 // calls of run in progress
	// wedged: a recovered panic came from inside Pebble's commit pipeline,
	// which may still hold its lock; DB.Close would wait for it forever.
	wedged atomic.Bool
}

// pebbleFatal is what fatalLogger.Fatalf panics with inside run.
type pebbleFatal struct{ msg string }

// run calls fn, returning Pebble's fatal errors during it as errors.
func (g *pebbleGuard) run(fn func() error) (err error) {
	g.active.Add(1)
	defer func() {
		g.active.Add(-1)
		r := recover()
		if r == nil {
			return
		}
		switch v := r.(type) {
		case pebbleFatal:
			err = errors.New(v.msg)
		case runtime.Error:
			panic(r) // a bug, not a failed write
		case error:
			g.wedged.Store(true)
			err = v
		default:
			panic(r)
		}
	}()
	return fn()
}

// fatalLogger is the logger Pebble gets: the configured one, whose Fatalf
// panics inside pebbleGuard.run (after logging the message as an error).
type fatalLogger struct {
	pebble.Logger
	g *pebbleGuard
}

func (l fatalLogger) Fatalf(format string, args ...interface{}) {
	msg := fmt.Sprintf(format, args...)
	if l.g.active.Load() > 0 {
		l.Logger.Errorf("%s", msg)
		panic(pebbleFatal{msg})
	}
	l.Logger.Fatalf("%s", msg)
}

// durable is the write path to Pebble. Writers append to one pending batch under
// mu (cheap memcpy), and a single committer goroutine hands batches to Pebble, so
// many writes from many connections share one commit and, in always mode, one fsync.
type durable struct {
	db     *pebble.DB
	mode   atomic.Int32 // SyncMode; CONFIG SET appendfsync changes it (syncMode)
	guard  *pebbleGuard
	logger pebble.Logger

	mu    sync.Mutex
	batch *Pending // writes not yet handed to Pebble
	spare *Pending // the other buffer, reused by the committer
	idle  int      // commits in a row that found nothing pending (committer only)
	seq   uint64   // sequence of the last appended write

	appended  atomic.Uint64 // == seq, readable without mu
	committed atomic.Uint64 // every write <= committed is in Pebble (readable)
	synced    atomic.Uint64 // every write <= synced is fsynced

	commitMu sync.Mutex // one commit at a time, so spare is always free
	// cutMu keeps the committer from cutting the pending group while a
	// command or transaction appends (Hold): its writes land in one batch
	cutMu  sync.RWMutex
	holds  atomic.Int32
	stall  atomic.Bool  // the pending batch passed stallPendingBytes while held
	held   atomic.Int64 // bytes the pending buffers hold (part of used memory)
	counts [NumDBs]int64

	waitMu   sync.Mutex
	waitCond *sync.Cond
	waiters  int

	failed   atomic.Pointer[ErrFailed]
	failedCh chan struct{} // closed when failed is set

	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	lastSync atomic.Int64 // unix seconds of the last completed fsync
	syncErrs atomic.Int64
	commits  atomic.Int64
	fsyncs   atomic.Int64
}

// pebbleBudget splits a memory limit between Pebble (block cache and
// memtables) and the hot tier: Pebble gets about a quarter, within bounds,
// so a small limit still leaves the hot tier most of it.
func pebbleBudget(maxMemory int64) (cache, memtable int64) {
	// Pebble flushes whatever its log holds before it opens (about 25 ms a
	// MiB here), so memtables stay small: a restart after kill -9 replays at
	// most memtableStop of them.
	if maxMemory <= 0 {
		return 32 << 20, maxMemtable
	}
	cache = clamp(maxMemory/8, 256<<10, 64<<20)
	memtable = clamp(maxMemory/8, 1<<20, maxMemtable)
	return cache, memtable
}

// idleCommits is how many commits in a row must find nothing pending
// before the committer releases the groups' buffers (about 100 ms).
const idleCommits = 20

// memtableStop is how many memtables may exist before writes wait for a
// flush: it bounds Pebble's memory (outside the Go heap) to
// cache + memtableStop × memtable.
const memtableStop = 2

// valueSeparationMin is the smallest value Pebble stores in a blob file.
const valueSeparationMin = 1024

// maxMemtable bounds a memtable (and so the log a restart must replay).
// With 2 MB memtables and compactions from 4 L0 tables, the table
// benchmark's inserts (a row and its index entries, increasing ids and
// timestamps) spent 40% of the server's CPU compacting: 4 MB and 8 L0
// tables took inserts from 36-40k/s at 28-32 µs of CPU each to 44-48k/s at
// 20-22 µs (bench/tables, 300,000 messages, everysec), for up to 8 MB of log
// to replay after a crash instead of 4 (about 200 ms).
const maxMemtable = 4 << 20

// PebbleMemory returns the most memory Pebble holds outside the Go heap for
// a memory limit (block cache and memtables), so the process can budget it.
func PebbleMemory(maxMemory int64) int64 {
	cache, memtable := pebbleBudget(maxMemory)
	return cache + memtableStop*memtable
}

func clamp(v, lo, hi int64) int64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

func openDurable(dir string, mode SyncMode, maxMemory int64, logger pebble.Logger, fs vfs.FS) (*durable, error) {
	cacheSize, memtable := pebbleBudget(maxMemory)
	guard := &pebbleGuard{}
	logger = fatalLogger{Logger: logger, g: guard}
	opts := &pebble.Options{
		FormatMajorVersion:          pebble.FormatNewest,
		MemTableSize:                uint64(memtable),
		MemTableStopWritesThreshold: memtableStop,
		L0CompactionThreshold:       8,
		L0StopWritesThreshold:       24,
		Logger:                      logger,
		FS:                          fs,
	}
	// Bloom filters answer most lookups of keys that are not on disk
	// without reading a data block (a miss must not cost a disk seek).
	opts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	opts.Levels[0].FilterType = pebble.TableFilter
	// flushes (and the flush of the log at start) do not compress: L0
	// tables are short-lived, compactions into L1 and below compress
	opts.Levels[0].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	opts.Levels[1].Compression = func() *sstable.CompressionProfile { return sstable.SnappyCompression }
	// Values of a KiB and more (a time series' runs of samples, large
	// strings) go to blob files, written once: compactions move references
	// to them instead of rewriting them at every level. In an ingest of 10
	// interleaved series (whose new runs overlap every older table, so each
	// compaction into the base level rewrote it whole) compactions fell
	// from 30% of the server's CPU to 11%. Blob files are
	// rewritten to reclaim space once a fifth of them is garbage and they
	// are 5 minutes old.
	opts.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
		return pebble.ValueSeparationPolicy{Enabled: true, MinimumSize: valueSeparationMin,
			MaxBlobReferenceDepth: 10, RewriteMinimumAge: 5 * time.Minute, TargetGarbageRatio: 0.2}
	}
	var self atomic.Pointer[durable] // set once Pebble is open
	el := pebble.MakeLoggingEventListener(logger)
	// flushes and compactions are routine; errors and stalls are not
	el.FlushBegin, el.FlushEnd, el.CompactionBegin, el.CompactionEnd = nil, nil, nil, nil
	el.TableCreated, el.TableDeleted, el.TableIngested, el.TableStatsLoaded = nil, nil, nil, nil
	el.WALCreated, el.WALDeleted, el.ManifestCreated, el.ManifestDeleted = nil, nil, nil, nil
	el.ManifestCreated, el.TableValidated, el.DownloadBegin, el.DownloadEnd = nil, nil, nil, nil
	// A memtable that cannot be flushed (no room for its table) is retried
	// at once and without end, and two of them stall every commit until one
	// succeeds: writers would hang. The store fails instead (writes are
	// refused, reads go on, the log still holds everything committed).
	el.FlushEnd = func(info pebble.FlushInfo) {
		// (a flush that had nothing to write reports "empty table")
		if d := self.Load(); d != nil && info.Err != nil && info.Err.Error() != "pebble: empty table" {
			d.fail(fmt.Errorf("flushing a memtable: %w", info.Err))
		}
	}
	logBackground := el.BackgroundError
	el.BackgroundError = func(err error) {
		// once the store failed (and said why), Pebble's retries are not logged
		if d := self.Load(); d == nil || d.err() == nil {
			logBackground(err)
		}
	}
	opts.EventListener = &el
	opts.Cache = pebble.NewCache(cacheSize)
	defer opts.Cache.Unref()
	gate := newCompactGate()
	opts.Experimental.CompactionScheduler = gate
	var db *pebble.DB
	err := guard.run(func() (err error) {
		db, err = pebble.Open(dir, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	gate.Open()
	d := &durable{db: db, guard: guard, logger: logger, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), failedCh: make(chan struct{})}
	d.mode.Store(int32(mode))
	if err := d.checkFormat(); err != nil {
		db.Close()
		return nil, err
	}
	d.batch, d.spare = newPending(), newPending()
	d.batch.held, d.spare.held = &d.held, &d.held
	d.waitCond = sync.NewCond(&d.waitMu)
	self.Store(d)
	d.lastSync.Store(time.Now().Unix())
	go d.run()
	return d, nil
}

// checkFormat refuses a directory written in another layout and loads the
// key counts.
func (d *durable) checkFormat() error {
	v, closer, err := d.db.Get([]byte{nsVersion})
	switch {
	case err == nil:
		got := string(v)
		closer.Close()
		if got != formatVersion {
			if !slices.Contains(formatUpgradable, got) {
				return fmt.Errorf("data directory holds storage format %q, this build reads %q", got, formatVersion)
			}
			if err := d.guard.run(func() error {
				return d.db.Set([]byte{nsVersion}, []byte(formatVersion), pebble.Sync)
			}); err != nil {
				return err
			}
		}
	case errors.Is(err, pebble.ErrNotFound):
		// new, or written before the format was named: refuse data it cannot read
		it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: []byte{nsElem}, UpperBound: []byte{nsMeta + 1}})
		if err != nil {
			return err
		}
		any := it.First()
		it.Close()
		if any {
			return fmt.Errorf("data directory holds data of an older storage format (before %q); start with an empty --data-dir", formatVersion)
		}
		if err := d.guard.run(func() error {
			return d.db.Set([]byte{nsVersion}, []byte(formatVersion), pebble.Sync)
		}); err != nil {
			return err
		}
		return nil
	default:
		return err
	}
	for i := 0; i < NumDBs; i++ {
		v, closer, err := d.db.Get([]byte{nsCount, byte(i)})
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if len(v) != 8 {
			closer.Close()
			return fmt.Errorf("data directory is corrupt: key count record of db %d has %d bytes", i, len(v))
		}
		d.counts[i] = int64(binary.BigEndian.Uint64(v))
		closer.Close()
		if d.counts[i] < 0 {
			return fmt.Errorf("data directory is corrupt: db %d has a negative key count", i)
		}
	}
	return nil
}

// append runs fn on the pending group, adds the key-count changes of the
// given shards, and returns the write's sequence number. A writer that finds
// the pending group past stallPendingBytes waits for the committer.
func (d *durable) append(shards []*shard, fn func(b *Pending)) uint64 {
	d.mu.Lock()
	fn(d.batch)
	for _, sh := range shards {
		if sh.cdelta != 0 {
			d.batch.count[sh.db] += sh.cdelta
			d.batch.counted = true
			sh.cdelta = 0
		}
	}
	d.seq++
	s := d.seq
	d.appended.Store(s)
	n := d.batch.Len()
	d.mu.Unlock()
	if n > maxPendingBytes {
		d.signal()
		if n > stallPendingBytes {
			if d.holds.Load() == 0 {
				d.waitCommitted(s - 1)
			} else {
				// a holder cannot wait here (the committer waits for
				// it): it waits when it releases
				d.stall.Store(true)
			}
		}
	}
	return s
}

// hold keeps the committer from cutting the pending batch until release, so
// every write appended in between lands in one Pebble batch. A holder that
// finds the pending batch past stallPendingBytes (a previous holder left it
// there) waits for the committer first.
func (d *durable) hold() {
	if d.stall.Load() {
		d.signal()
		d.waitCommitted(d.appended.Load())
	}
	d.cutMu.RLock()
	d.holds.Add(1)
}

// release ends a hold. A holder that took the pending batch past
// stallPendingBytes does not wait for its commit here: its reply goes out
// while Pebble takes the batch, and the next holder or writer waits instead
// (hold, append), so at most one such batch is in Pebble's hands and one
// more is pending. Waiting here held one MSET of a million keys with
// everysec for the commit of its 14 MB batch before the reply.
func (d *durable) release() {
	d.holds.Add(-1)
	d.cutMu.RUnlock()
	if d.stall.Load() {
		d.signal()
	}
}

// syncMode is the current fsync policy.
func (d *durable) syncMode() SyncMode { return SyncMode(d.mode.Load()) }

func (d *durable) signal() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *durable) run() {
	defer close(d.done)
	tick := time.NewTicker(commitInterval)
	defer tick.Stop()
	syncTick := time.NewTicker(time.Second)
	defer syncTick.Stop()
	noSyncs := 0
	for {
		select {
		case <-d.stop:
			d.commitPending(true)
			return
		case <-d.kick:
			d.commitPending(d.syncMode() == SyncAlways)
		case <-tick.C:
			d.commitPending(d.syncMode() == SyncAlways)
		case <-syncTick.C:
			// Pebble holds NoSync commits in a user-space buffer until a
			// sync or a full 32 KiB block, so even "no" syncs now and then,
			// or a process crash could lose writes of any age.
			noSyncs++
			if d.syncMode() == SyncEverySec || (d.syncMode() == SyncNo && noSyncs%noSyncEvery == 0) {
				d.commitPending(true)
			}
		}
	}
}

// commitPending hands the pending batch to Pebble; with sync it also fsyncs the
// WAL (even when nothing is pending, so that earlier NoSync commits are flushed).
func (d *durable) commitPending(sync bool) {
	d.commitMu.Lock()
	defer d.commitMu.Unlock()
	if d.failed.Load() != nil {
		return
	}
	d.cutMu.Lock()
	d.mu.Lock()
	p, seq := d.batch, d.seq
	pending := !p.Empty()
	if pending {
		d.batch, d.spare = d.spare, nil
	}
	d.stall.Store(false)
	d.mu.Unlock()
	d.cutMu.Unlock()
	opt := pebble.NoSync
	if sync {
		opt = pebble.Sync
	}
	var err error
	if pending {
		b := d.db.NewBatchWithSize(p.Len() + 64)
		p.fill(b)
		if p.counted {
			for i := range p.count {
				if p.zero[i] {
					d.counts[i] = 0
				}
				if p.count[i] != 0 || p.zero[i] {
					d.counts[i] += p.count[i]
					var v [8]byte
					binary.BigEndian.PutUint64(v[:], uint64(d.counts[i]))
					b.Set([]byte{nsCount, byte(i)}, v[:], nil)
				}
			}
		}
		p.reset()
		d.mu.Lock()
		d.spare = p
		d.mu.Unlock()
		err = d.guard.run(func() error { return b.Commit(opt) })
		if err == nil {
			b.Close() // a failed batch may still be referenced by Pebble
		}
		d.commits.Add(1)
		d.idle = 0
	} else if d.idle++; d.idle == idleCommits {
		// quiet: the groups' buffers go (spare is ours under commitMu)
		d.mu.Lock()
		d.batch.release()
		if d.spare != nil {
			d.spare.release()
		}
		d.mu.Unlock()
	}
	if !pending && sync && d.synced.Load() < seq {
		err = d.guard.run(func() error { return d.db.LogData(nil, pebble.Sync) })
	}
	if err != nil {
		// The batch is gone and acknowledged writes may be in it: carrying
		// on would report later writes durable without it. Stop writing;
		// the server refuses writes from now on and keeps serving reads. A
		// restart recovers everything that reached the log.
		d.fail(err)
		return
	}
	d.committed.Store(seq)
	if sync {
		d.fsyncs.Add(1)
		d.synced.Store(seq)
		d.lastSync.Store(time.Now().Unix())
	}
	d.waitMu.Lock()
	if d.waiters > 0 {
		d.waitCond.Broadcast()
	}
	d.waitMu.Unlock()
}

// fail stops the durable store: nothing more is committed, waiters get err.
func (d *durable) fail(err error) {
	d.syncErrs.Add(1)
	if d.failed.CompareAndSwap(nil, &ErrFailed{Err: err}) {
		close(d.failedCh)
		d.logger.Errorf("lux: writing to the data directory failed: %v; writes are refused until the server is restarted, reads go on", err)
	}
	d.waitMu.Lock()
	d.waitCond.Broadcast()
	d.waitMu.Unlock()
}

// err returns the error that stopped the durable store, or nil.
func (d *durable) err() error {
	if f := d.failed.Load(); f != nil {
		return f
	}
	return nil
}

// waitSynced blocks until the write with sequence seq is fsynced, or the
// store failed.
func (d *durable) waitSynced(seq uint64) error {
	return d.wait(&d.synced, seq)
}

// waitCommitted blocks until the write with sequence seq is readable from
// Pebble, or the store failed.
func (d *durable) waitCommitted(seq uint64) error {
	return d.wait(&d.committed, seq)
}

func (d *durable) wait(mark *atomic.Uint64, seq uint64) error {
	if mark.Load() >= seq {
		return nil
	}
	d.signal()
	d.waitMu.Lock()
	d.waiters++
	for mark.Load() < seq && d.failed.Load() == nil {
		d.waitCond.Wait()
	}
	d.waiters--
	d.waitMu.Unlock()
	return d.err()
}

// checkpoint commits and fsyncs everything appended so far.
func (d *durable) checkpoint() error {
	d.mu.Lock()
	seq := d.seq
	d.mu.Unlock()
	if d.syncMode() == SyncAlways {
		return d.waitSynced(seq)
	}
	if err := d.waitCommitted(seq); err != nil {
		return err
	}
	d.commitMu.Lock() // no sync after a failure, nor during the one that fails
	err := d.err()
	if err == nil {
		err = d.guard.run(func() error { return d.db.LogData(nil, pebble.Sync) })
		if err != nil {
			d.fail(err)
		}
	}
	d.commitMu.Unlock()
	if err != nil {
		return d.err()
	}
	if d.synced.Load() < seq {
		d.synced.Store(seq)
	}
	d.fsyncs.Add(1)
	d.lastSync.Store(time.Now().Unix())
	return nil
}

func (d *durable) close() error {
	close(d.stop)
	select {
	case <-d.done:
	case <-d.failedCh:
		select {
		case <-d.done:
		case <-time.After(time.Second):
			// the committer is in a commit stalled behind flushes that
			// cannot succeed: it never returns, and holds Pebble's commit
			// pipeline (DB.Close would wait for it)
			d.guard.wedged.Store(true)
		}
	}
	// a clean stop flushes the memtables so the next start replays no log
	var ferr error
	if d.err() == nil {
		// The flush starts a new WAL, and Pebble does not survive failing
		// to close the old one (rotateWAL panics, and its caller's deferred
		// unlock turns that into a fatal runtime error): a synced empty
		// record first finds a log that cannot be written, as an error.
		if err := d.guard.run(func() error { return d.db.LogData(nil, pebble.Sync) }); err != nil {
			d.fail(err)
		} else {
			ferr = d.guard.run(d.db.Flush)
		}
	}
	if d.guard.wedged.Load() {
		// Pebble's commit pipeline may be locked by the failed write:
		// DB.Close would wait forever. The process is stopping anyway.
		return firstErr(d.err(), ferr)
	}
	cerr := d.db.Close()
	if cerr == nil {
		cerr = ferr
	}
	if err := d.err(); err != nil {
		return err
	}
	return cerr
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// ---- key encoding ----

// metaKeyLen is the length of a key's meta record key.
func metaKeyLen(key []byte) int { return 10 + len(key) }

// metaKey orders keys by a stable hash, so a SCAN cursor is a position in
// hash order (an integer, as clients expect) that survives restarts and
// concurrent writes.
func metaKey(dst []byte, db int, key []byte) []byte {
	dst = append(dst, nsMeta, byte(db))
	dst = binary.BigEndian.AppendUint64(dst, KeyHash(key))
	return append(dst, key...)
}

// KeyHash is the stable 62-bit hash that orders a database's keys on disk
// (and SCAN cursors); it fits a signed 64-bit integer for every client.
func KeyHash(key []byte) uint64 { return xxhash.Sum64(key) >> 2 }

// expireKey is the deadline hint of key: active expiry finds keys that are
// not in memory by scanning these in deadline order.
func expireKey(dst []byte, db int, exp int64, key []byte) []byte {
	dst = append(dst, nsExpire, byte(db))
	dst = binary.BigEndian.AppendUint64(dst, uint64(exp))
	return append(dst, key...)
}

func elemPrefix(dst []byte, db int, key []byte) []byte {
	dst = append(dst, nsElem, byte(db))
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	return append(dst, key...)
}

// prefixEnd returns the smallest key greater than every key with the prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

const metaHeader = 9 // type(1) + expireAt(8)

func putMetaHeader(dst []byte, t Type, exp int64) {
	dst[0] = byte(t)
	binary.BigEndian.PutUint64(dst[1:9], uint64(exp))
}

var errCorrupt = errors.New("storage: corrupt record")

func decodeMeta(v []byte) (Type, int64, []byte, error) {
	if len(v) < metaHeader {
		return 0, 0, nil, errCorrupt
	}
	return Type(v[0]), int64(binary.BigEndian.Uint64(v[1:9])), v[metaHeader:], nil
}

// writeMeta records key's meta record (and, with a deadline, its hint for
// active expiry).
func writeMeta(b *Pending, db int, key []byte, t Type, exp int64, payload []byte) {
	op := b.SetDeferred(metaKeyLen(key), metaHeader+len(payload))
	metaKey(op.Key[:0], db, key)
	putMetaHeader(op.Value, t, exp)
	copy(op.Value[metaHeader:], payload)
	op.Finish()
	if exp != 0 {
		// a stale hint (the deadline changed) is dropped when active expiry
		// reaches it and finds another deadline
		op := b.SetDeferred(10+len(key), 0)
		expireKey(op.Key[:0], db, exp, key)
		op.Finish()
	}
}

// deleteMeta records the deletion of key's meta record and, for a
// collection, of every element.
func deleteMeta(b *Pending, db int, key []byte, elems bool) {
	op := b.DeleteDeferred(metaKeyLen(key))
	metaKey(op.Key[:0], db, key)
	op.Finish()
	if elems {
		p := elemPrefix(nil, db, key)
		b.DeleteRange(p, prefixEnd(p), nil)
	}
}
