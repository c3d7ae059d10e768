package storage

// Faults of the data directory under a running store: write and fsync
// errors, a full disk (also one that takes half a write), a disk that cannot
// take the flushes. Writes must then fail, never be acknowledged; reads go
// on; and after the disk is repaired and the store restarted, every
// acknowledged write is there and no write group is half applied.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/stretchr/testify/require"
)

// faultLog is the store's logger in the fault tests: it keeps the error
// lines. A Fatalf reaching it means Pebble's fatal exit was not turned into
// an error: it panics, which ends the test binary with the message.
type faultLog struct {
	mu   sync.Mutex
	errs []string
}

func (l *faultLog) Infof(string, ...interface{}) {}

func (l *faultLog) Errorf(format string, args ...interface{}) {
	l.mu.Lock()
	l.errs = append(l.errs, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *faultLog) Fatalf(format string, args ...interface{}) {
	panic("pebble Fatalf reached the configured logger: " + fmt.Sprintf(format, args...))
}

func (l *faultLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}

// faultRule decides the error of one file system operation (nil: it succeeds).
type faultRule func(op errorfs.Op) error

// faultDisk is a data directory on a crashable in-memory file system whose
// operations start failing on demand, like a disk that fills up or goes bad
// under a running store. restart gives the disk as the next start sees it.
type faultDisk struct {
	mem  *vfs.MemFS
	fs   vfs.FS
	rule atomic.Pointer[faultRule]
	torn atomic.Bool // WAL writes store half their bytes and fail with ENOSPC
	hits atomic.Int64
}

func newFaultDisk() *faultDisk {
	d := &faultDisk{mem: vfs.NewCrashableMem()}
	d.fs = errorfs.Wrap(&tornFS{FS: d.mem, d: d}, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if r := d.rule.Load(); r != nil {
			if err := (*r)(op); err != nil {
				d.hits.Add(1)
				return err
			}
		}
		return nil
	}))
	return d
}

func (d *faultDisk) fail(r faultRule) { d.rule.Store(&r) }

// restart returns the file system a restart after a crash at this moment
// sees: what was fsynced, or (unsynced) also every byte written.
func (d *faultDisk) restart(unsynced bool) vfs.FS {
	cfg := vfs.CrashCloneCfg{}
	if unsynced {
		cfg = vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: rand.New(rand.NewPCG(1, 2))}
	}
	return d.mem.CrashClone(cfg)
}

// tornFS makes WAL writes store only their first half and fail with ENOSPC
// while its disk's torn flag is set: a disk that fills up in mid-write.
type tornFS struct {
	vfs.FS
	d *faultDisk
}

func (fs *tornFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.wrap(name, f, err)
}

func (fs *tornFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	return fs.wrap(newname, f, err)
}

func (fs *tornFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	return fs.wrap(name, f, err)
}

func (fs *tornFS) Unwrap() vfs.FS { return fs.FS }

func (fs *tornFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return &tornFile{File: f, d: fs.d, name: name}, nil
}

type tornFile struct {
	vfs.File
	d    *faultDisk
	name string
}

func (f *tornFile) Write(p []byte) (int, error) {
	if !f.d.torn.Load() {
		return f.File.Write(p)
	}
	f.d.hits.Add(1)
	n, _ := f.File.Write(p[:len(p)/2])
	return n, &os.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
}

func enospc(op errorfs.Op) error {
	return &os.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
}

// The faults.
var (
	// every write to the WAL fails (an I/O error)
	walWriteErrors faultRule = func(op errorfs.Op) error {
		if strings.HasSuffix(op.Path, ".log") && (op.Kind == errorfs.OpFileWrite || op.Kind == errorfs.OpFileWriteAt) {
			return errorfs.ErrInjected
		}
		return nil
	}
	// the WAL's fsyncs fail (EIO), its writes succeed
	walSyncErrors faultRule = func(op errorfs.Op) error {
		if strings.HasSuffix(op.Path, ".log") && (op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData || op.Kind == errorfs.OpFileSyncTo) {
			return &os.PathError{Op: "fsync", Path: op.Path, Err: syscall.EIO}
		}
		return nil
	}
	// the disk is full: nothing can be created, grown or synced
	diskFull faultRule = func(op errorfs.Op) error {
		switch op.Kind {
		case errorfs.OpCreate, errorfs.OpReuseForWrite, errorfs.OpLink, errorfs.OpFileWrite, errorfs.OpFileWriteAt,
			errorfs.OpFilePreallocate, errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
			return enospc(op)
		}
		return nil
	}
	// the disk is too full for a table file: the WAL (preallocated) still
	// takes the commits, memtable flushes fail
	tableWritesFail faultRule = func(op errorfs.Op) error {
		if strings.HasSuffix(op.Path, ".sst") && op.Kind.ReadOrWrite() == errorfs.OpIsWrite && op.Kind != errorfs.OpRemove {
			return enospc(op)
		}
		return nil
	}
)

// faultState is what a fault test wrote: values that must survive, and the
// write groups made while the disk was failing (each all there or not at all).
type faultState struct {
	acked  map[string]string // key -> value of acknowledged writes
	rounds int               // groups attempted while failing
	ackedR int               // of which the first ackedR were acknowledged (always mode)
}

func faultVal(key string, n int) string { return key + ":" + strings.Repeat("x", n) }

// faultGroup writes round i of the failing phase: a string and one write
// group of two sets (a Tx, as SMOVE or SINTERSTORE make).
func faultGroup(s *Store, i int) {
	late := fmt.Sprint("late", i)
	pa, pb := fmt.Sprint("pa", i), fmt.Sprint("pb", i)
	withLocked(s, []string{late, pa, pb}, func(db DB) {
		db.SetString([]byte(late), []byte(faultVal(late, 1000)), 0, false)
		tx := db.Begin()
		for _, k := range []string{pa, pb} {
			st := NewSet()
			for m := 0; m < 5; m++ {
				st.Add([]byte(fmt.Sprint("m", m)))
			}
			e := tx.Create([]byte(k), st)
			st.ForEachElem(func(sub, _ []byte) { tx.Put([]byte(k), sub, nil) })
			tx.Changed([]byte(k), e, 0, "sadd")
		}
		tx.Commit()
	})
}

// checkFaultState checks a restarted store: acknowledged writes are there,
// each failing-phase group is whole or absent, nothing holds another value.
func checkFaultState(t *testing.T, s *Store, st *faultState) {
	t.Helper()
	withDB(s, func(db DB) {
		for k, v := range st.acked {
			e := db.Lookup([]byte(k))
			require.NotNil(t, e, "acknowledged key %s lost", k)
			require.Equal(t, v, string(e.Bytes()), "key %s", k)
		}
		for i := 0; i < st.rounds; i++ {
			late := fmt.Sprint("late", i)
			if e := db.Lookup([]byte(late)); e != nil {
				require.Equal(t, faultVal(late, 1000), string(e.Bytes()))
			} else {
				require.GreaterOrEqual(t, i, st.ackedR, "acknowledged %s lost", late)
			}
			pa, pb := db.Lookup([]byte(fmt.Sprint("pa", i))), db.Lookup([]byte(fmt.Sprint("pb", i)))
			require.Equal(t, pa == nil, pb == nil, "round %d: half of a write group survived", i)
			if pa == nil {
				require.GreaterOrEqual(t, i, st.ackedR, "acknowledged group %d lost", i)
				continue
			}
			require.Equal(t, 5, pa.Object().Len(), "round %d", i)
			require.Equal(t, 5, pb.Object().Len(), "round %d", i)
		}
	})
	require.NoError(t, s.Err())
}

// closeWithin closes s, failing the test if Close does not return in time.
func closeWithin(t *testing.T, s *Store, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("Store.Close did not return within %s after the disk failed", d)
		return nil
	}
}

// TestFaultDiskErrorRefusesWrites: the disk fails under a running store in
// each sync mode. The failure surfaces as an error (always mode: the writes
// waiting for their fsync get it; every mode: Store.Err, Checkpoint), never
// as a success nor a crash; reads of earlier keys, also from disk, go on;
// Close returns. After the disk is repaired, a restart (from the fsynced
// state, or with every byte that reached the disk) has every acknowledged
// write and no half write group.
func TestFaultDiskErrorRefusesWrites(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode SyncMode
		rule faultRule
		torn bool
	}{
		{"always/wal-write-error", SyncAlways, walWriteErrors, false},
		{"always/wal-fsync-error", SyncAlways, walSyncErrors, false},
		{"always/disk-full", SyncAlways, diskFull, false},
		{"always/disk-full-mid-write", SyncAlways, nil, true},
		{"everysec/wal-write-error", SyncEverySec, walWriteErrors, false},
		{"everysec/disk-full-mid-write", SyncEverySec, nil, true},
		{"no/disk-full", SyncNo, diskFull, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			disk := newFaultDisk()
			lg := &faultLog{}
			s, err := Open(Options{Dir: "data", Sync: tc.mode, FS: disk.fs, Logger: lg})
			require.NoError(t, err)
			st := &faultState{acked: map[string]string{}}
			for i := 0; i < 40; i++ {
				k := fmt.Sprint("k", i)
				withLocked(s, []string{k}, func(db DB) { db.SetString([]byte(k), []byte(faultVal(k, 100)), 0, false) })
				st.acked[k] = faultVal(k, 100)
			}
			require.NoError(t, s.Checkpoint())
			// most keys leave memory: reads after the failure go to Pebble
			s.SetMaxMemory(1)
			_ = s.EnsureMemory()
			s.SetMaxMemory(0)
			withDB(s, func(db DB) { require.Less(t, db.Resident(), 40) })

			if tc.torn {
				disk.torn.Store(true)
			} else {
				disk.fail(tc.rule)
			}
			deadline := time.Now().Add(10 * time.Second)
			for s.Err() == nil {
				require.True(t, time.Now().Before(deadline), "the disk failed (%d injected errors) but the store did not report it", disk.hits.Load())
				faultGroup(s, st.rounds)
				st.rounds++
				if tc.mode == SyncAlways {
					if err := s.WaitDurable(s.LastSeq()); err != nil {
						break
					}
					st.ackedR = st.rounds
				} else {
					time.Sleep(time.Millisecond)
				}
			}
			require.Positive(t, disk.hits.Load())
			var ef *ErrFailed
			require.ErrorAs(t, s.Err(), &ef)
			require.Contains(t, s.Err().Error(), "writing to the data directory failed")
			// every later durability wait fails: nothing is acknowledged
			withLocked(s, []string{"after"}, func(db DB) { db.SetString([]byte("after"), []byte("x"), 0, false) })
			if tc.mode == SyncAlways {
				require.Error(t, s.WaitDurable(s.LastSeq()))
			}
			require.Error(t, s.Checkpoint())
			// reads go on, from memory and from disk
			withDB(s, func(db DB) {
				for k, v := range st.acked {
					e := db.Lookup([]byte(k))
					require.NotNil(t, e, "key %s", k)
					require.Equal(t, v, string(e.Bytes()))
				}
			})
			// INFO persistence still answers (Pebble's metrics), with the error counted
			info := make(chan PersistenceInfo, 1)
			go func() { info <- s.Persistence() }()
			select {
			case pi := <-info:
				require.Positive(t, pi.Errors)
			case <-time.After(10 * time.Second):
				t.Fatal("Persistence (INFO) hangs after the failure")
			}
			require.ErrorAs(t, closeWithin(t, s, 10*time.Second), &ef)
			require.NotEmpty(t, lg.lines(), "the failure is logged")

			for _, unsynced := range []bool{false, true} {
				s2, err := Open(Options{Dir: "data", Sync: tc.mode, FS: disk.restart(unsynced), Logger: &faultLog{}})
				require.NoError(t, err, "restart after the disk was repaired (unsynced data kept: %v)", unsynced)
				checkFaultState(t, s2, st)
				withLocked(s2, []string{"new"}, func(db DB) { db.SetString([]byte("new"), []byte("v"), 0, false) })
				require.NoError(t, s2.Checkpoint())
				require.NoError(t, closeWithin(t, s2, 10*time.Second))
			}
		})
	}
}

// TestFaultFlushFailureRefusesWrites: the WAL still takes commits (its file
// is preallocated) but the disk has no room for the table a memtable flush
// writes. Pebble retries the flush without end and, two memtables later,
// stalls every commit until one succeeds; the store must report the failure
// instead: writes fail (never hang), reads go on, Close returns, and a
// restart has every acknowledged write.
func TestFaultFlushFailureRefusesWrites(t *testing.T) {
	disk := newFaultDisk()
	lg := &faultLog{}
	s, err := Open(Options{Dir: "data", Sync: SyncAlways, FS: disk.fs, Logger: lg})
	require.NoError(t, err)
	st := &faultState{acked: map[string]string{}}
	for i := 0; i < 20; i++ {
		k := fmt.Sprint("k", i)
		withLocked(s, []string{k}, func(db DB) { db.SetString([]byte(k), []byte(faultVal(k, 100)), 0, false) })
		st.acked[k] = faultVal(k, 100)
	}
	require.NoError(t, s.Checkpoint())
	disk.fail(tableWritesFail)
	done := make(chan error, 1)
	go func() {
		// 1 KiB a round: the first memtable fills after about 2000 rounds
		for i := 0; i < 20000; i++ {
			faultGroup(s, i)
			st.rounds = i + 1
			if err := s.WaitDurable(s.LastSeq()); err != nil {
				done <- err
				return
			}
			st.ackedR = i + 1
		}
		done <- nil
	}()
	select {
	case err := <-done:
		require.Error(t, err, "every write was acknowledged although no memtable could be flushed")
	case <-time.After(20 * time.Second):
		t.Fatalf("writes hang: the store never reported the failed flushes (%d injected errors)", disk.hits.Load())
	}
	var ef *ErrFailed
	require.ErrorAs(t, s.Err(), &ef)
	require.Contains(t, s.Err().Error(), "flush")
	withDB(s, func(db DB) {
		for k, v := range st.acked {
			require.Equal(t, v, string(db.Lookup([]byte(k)).Bytes()))
		}
	})
	require.ErrorAs(t, closeWithin(t, s, 10*time.Second), &ef)
	require.NotEmpty(t, lg.lines(), "the failure is logged")
	for _, unsynced := range []bool{false, true} {
		s2, err := Open(Options{Dir: "data", Sync: SyncAlways, FS: disk.restart(unsynced), Logger: &faultLog{}})
		require.NoError(t, err)
		checkFaultState(t, s2, st)
		require.NoError(t, closeWithin(t, s2, 10*time.Second))
	}
}

// TestFaultOpenOnFailingDisk: a store opened on a disk that cannot be
// written fails to open with the disk's error; Pebble's fatal exit when it
// cannot write its first MANIFEST becomes that error too.
func TestFaultOpenOnFailingDisk(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule faultRule
		want string
	}{
		{"disk-full", diskFull, "no space left on device"},
		{"manifest-fsync-error", func(op errorfs.Op) error {
			if strings.Contains(op.Path, "MANIFEST") && op.Kind == errorfs.OpFileSync {
				return &os.PathError{Op: "fsync", Path: op.Path, Err: syscall.EIO}
			}
			return nil
		}, "MANIFEST sync failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			disk := newFaultDisk()
			disk.fail(tc.rule)
			s, err := Open(Options{Dir: "data", Sync: SyncAlways, FS: disk.fs, Logger: &faultLog{}})
			if err == nil {
				s.Close()
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestFaultCloseOnFailedDisk: the disk fails while the store is idle, then
// it is closed (a shutdown). Close's final flush starts a new WAL, and
// Pebble cannot survive failing to close the old one (a panic that its own
// deferred unlock turns into a fatal runtime error): Close must find the
// failure first and return it.
func TestFaultCloseOnFailedDisk(t *testing.T) {
	for _, rule := range []faultRule{walWriteErrors, walSyncErrors, diskFull} {
		disk := newFaultDisk()
		s, err := Open(Options{Dir: "data", Sync: SyncEverySec, FS: disk.fs, Logger: &faultLog{}})
		require.NoError(t, err)
		withLocked(s, []string{"k"}, func(db DB) { db.SetString([]byte("k"), []byte("v"), 0, false) })
		require.NoError(t, s.Checkpoint())
		disk.fail(rule)
		var ef *ErrFailed
		require.ErrorAs(t, closeWithin(t, s, 10*time.Second), &ef)
		s2, err := Open(Options{Dir: "data", FS: disk.restart(false), Logger: &faultLog{}})
		require.NoError(t, err)
		withLocked(s2, []string{"k"}, func(db DB) { require.Equal(t, "v", string(db.Lookup([]byte("k")).Bytes())) })
		require.NoError(t, s2.Close())
	}
}
