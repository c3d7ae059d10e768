package server

// The data directory fails under a running server: writes are refused with
// -MISCONF, reads go on, nothing is half applied.

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/luxdb/lux-go/storage"
	"github.com/stretchr/testify/require"
)

// faultyDisk is a crashable in-memory file system whose WAL writes fail
// once broken is set.
type faultyDisk struct {
	mem    *vfs.MemFS
	fs     vfs.FS
	broken atomic.Bool
}

func newFaultyDisk() *faultyDisk {
	d := &faultyDisk{mem: vfs.NewCrashableMem()}
	d.fs = errorfs.Wrap(d.mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if d.broken.Load() && strings.HasSuffix(op.Path, ".log") && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return errorfs.ErrInjected
		}
		return nil
	}))
	return d
}

// quietLogger drops Pebble's messages; a Fatalf reaching it panics (the
// store turns the ones of a failed write into an error before).
type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{})  {}
func (quietLogger) Errorf(string, ...interface{}) {}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	panic("pebble Fatalf: " + format)
}

// startServerOn starts a server on the data directory "data" of fs.
func startServerOn(t *testing.T, fs vfs.FS, mode storage.SyncMode) *testServer {
	t.Helper()
	store, err := storage.Open(storage.Options{Dir: "data", Sync: mode, FS: fs, Logger: quietLogger{}})
	require.NoError(t, err)
	cfg := DefaultConfig()
	cfg.Port = 0
	s := New(cfg, store)
	require.NoError(t, s.Listen())
	go s.Serve()
	ts := &testServer{srv: s, store: store, addr: s.Addr().String()}
	t.Cleanup(ts.stop)
	return ts
}

// doOrEOF sends a command and reads its reply, "EOF" when the server
// closed the connection instead.
func (r *rawConn) doOrEOF(args ...string) string {
	r.send(args...)
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	out, err := readRESP(r.rd)
	if err != nil {
		return "EOF"
	}
	return out
}

const misconfPrefix = "-MISCONF Errors writing to the data directory, writes are refused until the server is restarted: writing to the data directory failed: "

// TestFaultWritesMisconfReadsGoOn: once the WAL cannot be written, a write
// waiting for its fsync (always mode) is not acknowledged, every later
// write command gets -MISCONF, and reads (of memory and of disk) still
// answer, in every sync mode.
func TestFaultWritesMisconfReadsGoOn(t *testing.T) {
	for _, mode := range []storage.SyncMode{storage.SyncAlways, storage.SyncEverySec} {
		t.Run(mode.String(), func(t *testing.T) {
			disk := newFaultyDisk()
			ts := startServerOn(t, disk.fs, mode)
			r := ts.raw(t)
			require.Equal(t, "+OK\r\n", r.do("SET", "k1", "v1"))
			require.Equal(t, ":1\r\n", r.do("HSET", "h", "f", "v"))
			require.Equal(t, "+OK\r\n", r.do("SAVE"))

			disk.broken.Store(true)
			if mode == storage.SyncAlways {
				// the write is not acknowledged: its connection is closed
				require.Equal(t, "EOF", r.doOrEOF("SET", "k2", "v2"))
			} else {
				// acknowledged before the next sync; the failure surfaces
				// within about a second
				deadline := time.Now().Add(10 * time.Second)
				for {
					rep := r.do("SET", "k2", "v2")
					if strings.HasPrefix(rep, "-MISCONF") {
						break
					}
					require.Equal(t, "+OK\r\n", rep)
					require.True(t, time.Now().Before(deadline), "the failure never surfaced")
					time.Sleep(20 * time.Millisecond)
				}
			}
			require.Error(t, ts.store.Err())

			r2 := ts.raw(t)
			for _, cmd := range [][]string{{"SET", "k3", "v3"}, {"DEL", "k1"}, {"INCR", "n"}, {"HSET", "h", "g", "w"}, {"MSET", "a", "1", "b", "2"}, {"FLUSHALL"}} {
				rep := r2.do(cmd...)
				require.True(t, strings.HasPrefix(rep, misconfPrefix), "%v: %q", cmd, rep)
				require.True(t, strings.HasSuffix(rep, "\r\n") && strings.Count(rep, "\r\n") == 1, "one line: %q", rep)
			}
			require.Equal(t, "$2\r\nv1\r\n", r2.do("GET", "k1"))
			require.Equal(t, "$1\r\nv\r\n", r2.do("HGET", "h", "f"))
			require.Equal(t, ":1\r\n", r2.do("EXISTS", "k1"))
			require.Equal(t, "+PONG\r\n", r2.do("PING"))
			// a read in the same batch as a refused write still answers
			r2.send("SET", "k4", "v4")
			r2.send("GET", "k1")
			require.True(t, strings.HasPrefix(r2.reply(), "-MISCONF"))
			require.Equal(t, "$2\r\nv1\r\n", r2.reply())
			// MULTI with a write is refused as Redis does (EXECABORT)
			require.Equal(t, "+OK\r\n", r2.do("MULTI"))
			require.True(t, strings.HasPrefix(r2.do("SET", "k5", "v"), "-MISCONF"))
			require.True(t, strings.HasPrefix(r2.do("EXEC"), "-EXECABORT"))
		})
	}
}

// TestFaultMsetAllOrNothing: the keys of an MSET (MSETNX) reach the disk
// together: the command's records are one durable append (every change
// goes through one storage.Tx), and the disk fails in the middle of the
// command (at its second key's change): after a restart the command must be
// all there or not at all. (A Checkpoint inside the command, which this
// test used when a command's keys were appended one by one, would now
// deadlock: a write command holds the committer until it ends.)
func TestFaultMsetAllOrNothing(t *testing.T) {
	for _, tc := range []struct{ name, cmd, before string }{
		{"MSET", "MSET", "string"},
		{"MSET-over-hash", "MSET", "hash"}, // a SET over a collection is a write group of its own
		{"MSETNX", "MSETNX", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			disk := newFaultyDisk()
			ts := startServerOn(t, disk.fs, storage.SyncAlways)
			r := ts.raw(t)
			switch tc.before {
			case "string":
				require.Equal(t, "+OK\r\n", r.do("MSET", "a", "old", "b", "old"))
			case "hash":
				require.Equal(t, ":1\r\n", r.do("HSET", "a", "f", "old"))
			}
			require.NoError(t, ts.store.Checkpoint())
			seq0 := ts.store.LastSeq()
			var sets atomic.Int32
			ts.store.SetEventHook(func(ev storage.Event) {
				if ev.Name == "set" && sets.Add(1) == 2 {
					disk.broken.Store(true)
				}
			})
			rep := r.doOrEOF(tc.cmd, "a", "new", "b", "new")
			require.EqualValues(t, 2, sets.Load(), "the disk did not break in the middle of the command")
			require.Equal(t, seq0+1, ts.store.LastSeq(), "%s was not one durable append", tc.cmd)
			ts.stop()

			ts2 := startServerOn(t, disk.mem.CrashClone(vfs.CrashCloneCfg{}), storage.SyncAlways)
			r2 := ts2.raw(t)
			a, b := r2.do("GET", "a"), r2.do("GET", "b")
			if rep != "EOF" {
				require.Equal(t, "$3\r\nnew\r\n", a, "acknowledged %s lost (reply %q)", tc.cmd, rep)
			}
			if tc.before == "hash" && a != "$3\r\nnew\r\n" {
				require.Equal(t, "$3\r\nold\r\n", r2.do("HGET", "a", "f"))
				a = "$-1\r\n"
			}
			require.Equal(t, a, b, "half of %s survived: a=%q b=%q", tc.cmd, a, b)
		})
	}
}

// TestCorruptKeyReadAnswersError: one key's meta record on disk is cut
// short. The store finds it while building its key index after Open and
// serves the key as absent; the server answers reads of it with the error
// (never "no such key"), refuses writes with -MISCONF, and serves the
// other keys.
func TestCorruptKeyReadAnswersError(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	for i := 0; i < 100; i++ {
		require.Equal(t, "+OK\r\n", r.do("SET", fmt.Sprint("k", i), fmt.Sprint("v", i)))
	}
	ts.stop()
	db, err := pebble.Open(dir, &pebble.Options{FormatMajorVersion: pebble.FormatNewest, Logger: quietLogger{}})
	require.NoError(t, err)
	mk := binary.BigEndian.AppendUint64([]byte{'k', 0}, storage.KeyHash([]byte("k7")))
	require.NoError(t, db.Set(append(mk, "k7"...), []byte{1, 0, 0}, pebble.Sync))
	require.NoError(t, db.Close())

	ts2 := startServer(t, dir)
	deadline := time.Now().Add(10 * time.Second)
	for ts2.store.Err() == nil {
		require.True(t, time.Now().Before(deadline), "the damaged record was not found")
		time.Sleep(10 * time.Millisecond)
	}
	r2 := ts2.raw(t)
	const readErr = `-ERR reading key "k7" from the data directory: storage: corrupt record: meta record of 3 bytes` + "\r\n"
	for _, cmd := range [][]string{{"GET", "k7"}, {"EXISTS", "k7"}, {"TYPE", "k7"}, {"TTL", "k7"}, {"MGET", "k8", "k7"}, {"STRLEN", "k7"}} {
		require.Equal(t, readErr, r2.do(cmd...), "%v", cmd)
	}
	require.Equal(t, "$2\r\nv8\r\n", r2.do("GET", "k8"))
	rep := r2.do("SET", "k7", "x")
	require.True(t, strings.HasPrefix(rep, `-MISCONF Errors writing to the data directory, writes are refused until the server is restarted: reading key "k7"`), rep)
}
