package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
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
	nsMeta  = 'k' // 'k' db key -> type(1) expireAt(8) payload
	nsElem  = 'e' // 'e' db uvarint(len(key)) key sub -> element value
	nsTable = 't' // 't' <tables-owned suffix> -> tables-owned value
)

// commitInterval bounds how long a write sits in the pending batch before it is
// handed to Pebble, in the modes that do not wait for fsync.
const commitInterval = 5 * time.Millisecond

// noSyncEvery is how many seconds apart "appendfsync no" syncs the WAL.
const noSyncEvery = 5

// maxPendingBytes makes the committer run early when the pending batch is large.
const maxPendingBytes = 4 << 20

// durable is the write path to Pebble. Writers append to one pending batch under
// mu (cheap memcpy), and a single committer goroutine hands batches to Pebble, so
// many writes from many connections share one commit and, in always mode, one fsync.
type durable struct {
	db   *pebble.DB
	mode SyncMode

	mu    sync.Mutex
	batch *Pending // writes not yet handed to Pebble
	spare *Pending // the other buffer, reused by the committer
	seq   uint64   // sequence of the last appended write

	appended  atomic.Uint64 // == seq, readable without mu
	committed atomic.Uint64 // every write <= committed is in Pebble (readable)
	synced    atomic.Uint64 // every write <= synced is fsynced

	commitMu sync.Mutex // one commit at a time, so spare is always free

	waitMu   sync.Mutex
	waitCond *sync.Cond
	waiters  int

	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	lastSync atomic.Int64 // unix seconds of the last completed fsync
	syncErrs atomic.Int64
	commits  atomic.Int64
	fsyncs   atomic.Int64
}

func openDurable(dir string, mode SyncMode) (*durable, error) {
	opts := &pebble.Options{
		FormatMajorVersion:          pebble.FormatNewest,
		MemTableSize:                16 << 20,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		Logger:                      quietLogger{},
	}
	opts.Cache = pebble.NewCache(8 << 20)
	defer opts.Cache.Unref()
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	d := &durable{db: db, mode: mode, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	d.batch, d.spare = newPending(), newPending()
	d.waitCond = sync.NewCond(&d.waitMu)
	d.lastSync.Store(time.Now().Unix())
	go d.run()
	return d, nil
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{})  {}
func (quietLogger) Errorf(string, ...interface{}) {}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	panic(fmt.Sprintf(format, args...))
}

// append runs fn on the pending group and returns the write's sequence number.
func (d *durable) append(fn func(b *Pending)) uint64 {
	d.mu.Lock()
	fn(d.batch)
	d.seq++
	s := d.seq
	d.appended.Store(s)
	big := d.batch.Len() > maxPendingBytes
	d.mu.Unlock()
	if big {
		d.signal()
	}
	return s
}

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
			d.commitPending(d.mode == SyncAlways)
		case <-tick.C:
			d.commitPending(d.mode == SyncAlways)
		case <-syncTick.C:
			// Pebble holds NoSync commits in a user-space buffer until a
			// sync or a full 32 KiB block, so even "no" syncs now and then,
			// or a process crash could lose writes of any age.
			noSyncs++
			if d.mode == SyncEverySec || (d.mode == SyncNo && noSyncs%noSyncEvery == 0) {
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
	d.mu.Lock()
	p, seq := d.batch, d.seq
	pending := !p.Empty()
	if pending {
		d.batch, d.spare = d.spare, nil
	}
	d.mu.Unlock()
	opt := pebble.NoSync
	if sync {
		opt = pebble.Sync
	}
	var err error
	if pending {
		b := d.db.NewBatchWithSize(p.Len() + 64)
		p.fill(b)
		p.reset()
		d.mu.Lock()
		d.spare = p
		d.mu.Unlock()
		err = b.Commit(opt)
		b.Close()
		d.commits.Add(1)
	} else if sync && d.synced.Load() < seq {
		err = d.db.LogData(nil, pebble.Sync)
	}
	if err != nil {
		// The batch is gone and acknowledged writes may be in it: carrying on
		// would report them durable later. Stop instead; a restart recovers
		// everything that reached the log (like PostgreSQL on fsync failure).
		d.syncErrs.Add(1)
		fmt.Fprintf(os.Stderr, "lux: FATAL: writing to the data directory failed: %v\n", err)
		os.Exit(1)
	}
	d.committed.Store(seq)
	if sync {
		d.fsyncs.Add(1)
		d.synced.Store(seq)
		d.lastSync.Store(time.Now().Unix())
		d.waitMu.Lock()
		if d.waiters > 0 {
			d.waitCond.Broadcast()
		}
		d.waitMu.Unlock()
	}
}

// waitSynced blocks until the write with sequence seq is fsynced.
func (d *durable) waitSynced(seq uint64) {
	if d.synced.Load() >= seq {
		return
	}
	d.signal()
	d.waitMu.Lock()
	d.waiters++
	for d.synced.Load() < seq {
		d.waitCond.Wait()
	}
	d.waiters--
	d.waitMu.Unlock()
}

// waitCommitted blocks until the write with sequence seq is readable from Pebble.
func (d *durable) waitCommitted(seq uint64) {
	for d.committed.Load() < seq {
		d.signal()
		time.Sleep(100 * time.Microsecond)
	}
}

// checkpoint commits and fsyncs everything appended so far.
func (d *durable) checkpoint() error {
	d.mu.Lock()
	seq := d.seq
	d.mu.Unlock()
	if d.mode == SyncAlways {
		d.waitSynced(seq)
		return nil
	}
	d.waitCommitted(seq)
	if err := d.db.LogData(nil, pebble.Sync); err != nil {
		return err
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
	<-d.done
	return d.db.Close()
}

// ---- key encoding ----

func metaKey(dst []byte, db int, key []byte) []byte {
	dst = append(dst, nsMeta, byte(db))
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
