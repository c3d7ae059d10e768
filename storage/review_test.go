package storage

// Review tests: each demonstrates a defect found in review and fails until
// it is fixed (see the report for the proposed fixes).

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/stretchr/testify/require"
)

// reviewDiskHas reports whether Pebble (committed state) holds the meta
// record of key in database db.
func reviewDiskHas(t *testing.T, s *Store, db int, key string) bool {
	t.Helper()
	v, closer, err := s.dur.db.Get(metaKey(nil, db, []byte(key)))
	if errors.Is(err, pebble.ErrNotFound) {
		return false
	}
	require.NoError(t, err)
	_ = v
	closer.Close()
	return true
}

// RENAME appends the deletion of src and the write of dst as separate
// durable records; a commit (and fsync) can fall between them, so a crash
// there loses the value entirely: neither src nor dst is on disk. The event
// hook runs between the two appends, which lets the test commit exactly at
// that point, as the committer goroutine may do at any time.
func TestReviewRenameIsCrashAtomic(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), Sync: SyncEverySec})
	require.NoError(t, err)
	defer s.Close()
	withLocked(s, []string{"src", "dst"}, func(db DB) {
		db.SetString([]byte("src"), []byte("precious"), 0, false)
	})
	require.NoError(t, s.Checkpoint())
	require.True(t, reviewDiskHas(t, s, 0, "src"))

	var lost bool
	s.SetEventHook(func(ev Event) {
		if ev.Name == "rename_from" {
			// what a crash right after the committer's next fsync would leave
			s.dur.commitPending(true)
			lost = !reviewDiskHas(t, s, 0, "src") && !reviewDiskHas(t, s, 0, "dst")
		}
	})
	withLocked(s, []string{"src", "dst"}, func(db DB) {
		require.True(t, db.Rename([]byte("src"), []byte("dst")))
	})
	require.False(t, lost, "a committed, fsynced state exists with neither src nor dst: RENAME is not crash-atomic")
}

// FLUSHDB must invalidate a WATCH of every key that existed, as Redis's
// touchAllWatchedKeysInDb does. A key that was evicted to disk still exists
// (GET returns it), but Flush only looks at the in-memory map.
func TestReviewFlushDirtiesWatchOfEvictedKey(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), Sync: SyncEverySec})
	require.NoError(t, err)
	defer s.Close()
	withDB(s, func(db DB) {
		db.SetString([]byte("k"), []byte("v"), 0, false)
	})
	// evict everything
	s.SetMaxMemory(1)
	_ = s.EnsureMemory()
	s.SetMaxMemory(0)
	var w Watch
	withDB(s, func(db DB) {
		sh := db.shard([]byte("k"))
		require.False(t, sh.m.has("k"), "precondition: k is evicted")
		db.Watch([]byte("k"), &w)
		db.Flush()
	})
	require.True(t, w.Dirty(), "FLUSHDB removed a watched, existing (evicted) key but EXEC would still run")
}

// evicted_keys counts exactly the keys that left memory: a key written
// after the evictor looked at it (its write not committed) must not be
// counted or dropped.
func TestReviewEvictedKeysCountsOnlyEvictions(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), Sync: SyncEverySec})
	require.NoError(t, err)
	defer s.Close()
	for i := 0; i < 200; i++ {
		k := fmt.Sprintf("k%d", i)
		withLocked(s, []string{k}, func(db DB) { db.SetString([]byte(k), []byte("v"), 0, false) })
	}
	require.NoError(t, s.Checkpoint())
	s.dur.commitMu.Lock() // nothing new commits while the evictor runs
	for i := 0; i < 100; i++ {
		k := fmt.Sprintf("k%d", i)
		withLocked(s, []string{k}, func(db DB) { db.SetString([]byte(k), []byte("v2"), 0, false) })
	}
	for i := 0; i < 2000; i++ {
		s.evictOne(PolicyAllKeysLRU)
	}
	s.dur.commitMu.Unlock()
	db := s.DB(0)
	require.Equal(t, int64(db.Size()-db.Resident()), s.stats.EvictedKeys.Load(), "evicted_keys counts an eviction that did not happen")
	for i := 0; i < 100; i++ {
		k := fmt.Sprintf("k%d", i)
		require.True(t, db.shard([]byte(k)).m.has(k), "a key with an uncommitted write left memory")
	}
	withDB(s, func(db DB) {
		for i := 0; i < 200; i++ {
			want := "v"
			if i < 100 {
				want = "v2"
			}
			e := db.Lookup([]byte(fmt.Sprintf("k%d", i)))
			require.NotNil(t, e)
			require.Equal(t, want, string(e.Bytes()))
		}
	})
}

// evictOne reads sh.lastSeq before taking the shard lock while writers
// update it under the lock: a data race (run with -race).
func TestReviewEvictOneLastSeqRace(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), Sync: SyncEverySec})
	require.NoError(t, err)
	defer s.Close()
	s.SetMaxMemory(64 << 10)
	var wg sync.WaitGroup
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 3000; i++ {
				k := fmt.Sprintf("k%d-%d", g, i)
				_ = s.EnsureMemory()
				withLocked(s, []string{k}, func(db DB) { db.SetString([]byte(k), make([]byte, 100), 0, false) })
			}
		}(g)
	}
	wg.Wait()
}

// reviewMemCheck verifies the memory counters against the entries.
func reviewMemCheck(t *testing.T, s *Store) {
	t.Helper()
	// every shard stays locked for the whole check: active expiry may run
	// between shards otherwise and make the store total look drifted
	var all LockSet
	all.AddAll()
	s.Lock(&all)
	defer s.Unlock(&all)
	var total int64
	for i := range s.shards {
		sh := &s.shards[i]
		var sum int64
		for k, e := range sh.m.all() {
			sum += e.memSize(len(k))
		}
		for k := range sh.tomb {
			sum += int64(len(k) + tombOverhead)
		}
		sum += sh.ix.memSize()
		require.Equal(t, sum, sh.mem, "shard %d mem counter drifted", i)
		total += sh.mem
	}
	require.Equal(t, total, s.mem.Load(), "store mem counter drifted")
}

// Random core operations (strings, hashes, expiry, rename, copy, move,
// eviction, disk loads, flush) keep the memory counters equal to the sum of
// the entries' sizes.
func TestReviewMemoryAccountingRandomOps(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), Sync: SyncEverySec})
	require.NoError(t, err)
	defer s.Close()
	r := rand.New(rand.NewPCG(1, 2))
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for step := 0; step < 4000; step++ {
		k := []byte(keys[r.IntN(len(keys))])
		k2 := []byte(keys[r.IntN(len(keys))])
		var ls LockSet
		ls.AddAll()
		s.Lock(&ls)
		db := s.DB(r.IntN(2))
		switch op := r.IntN(12); op {
		case 0, 1:
			db.SetString(k, make([]byte, r.IntN(300)), 0, r.IntN(2) == 0)
		case 2:
			db.Delete(k)
		case 3:
			db.SetExpiry(k, NowMs()+int64(r.IntN(3)))
		case 4:
			e := db.LookupWrite(k)
			if e == nil {
				h := NewHash()
				h.Set([]byte("f"), []byte("v"))
				tx := db.Begin()
				tx.Store(k, h, "hset")
				tx.Commit()
			} else if h, ok := e.Object().(*Hash); ok {
				before := int64(h.MemSize())
				f := []byte(fmt.Sprint("f", r.IntN(20)))
				tx := db.Begin()
				if r.IntN(3) == 0 {
					h.Delete(f)
					tx.Del(k, f)
				} else {
					v := make([]byte, r.IntN(50))
					h.Set(f, v)
					tx.Put(k, f, v)
				}
				tx.Changed(k, e, int64(h.MemSize())-before, "hset")
				tx.Commit()
			}
		case 5:
			if string(k) != string(k2) {
				db.Rename(k, k2)
			}
		case 6:
			to := s.DB(1 - db.Index())
			db.CopyTo(k, to, k2)
		case 7:
			to := s.DB(1 - db.Index())
			if to.Peek(k) == nil {
				db.MoveTo(k, to)
			}
		case 8:
			if r.IntN(20) == 0 {
				db.Flush()
			}
		case 9:
			db.Lookup(k)
		case 10:
			db.ForEach(r.IntN(ShardsPerDB), func(string, *Entry) bool { return true })
		case 11:
			db.Persist(k)
		}
		s.Unlock(&ls)
		if step%50 == 0 {
			s.SetMaxMemory(int64(200 + r.IntN(2000)))
			_ = s.EnsureMemory()
			s.SetMaxMemory(0)
		}
		if step%97 == 0 {
			reviewMemCheck(t, s)
		}
	}
	reviewMemCheck(t, s)
}

// walHas reports whether any WAL file in dir contains needle, i.e. whether
// the record has at least reached the operating system (a process crash,
// unlike a machine crash, would keep it).
func walHas(t *testing.T, dir string, needle []byte) bool {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.log"))
	require.NoError(t, err)
	for _, n := range names {
		b, err := os.ReadFile(n)
		require.NoError(t, err)
		if bytes.Contains(b, needle) {
			return true
		}
	}
	return false
}

// appendfsync no must still hand writes to the OS (Redis write(2)s the AOF
// every event loop, so a process crash loses nothing in that mode). Pebble
// keeps NoSync commits in a user-space block buffer until a sync or a full
// 32 KiB block, and SyncNo never syncs: a small write stays in the process
// indefinitely and a kill -9 (or any panic) loses it, however old it is.
func TestReviewSyncNoWritesReachTheOS(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Sync: SyncNo})
	require.NoError(t, err)
	defer s.Close()
	needle := []byte("needle-4c1f9a7e")
	withLocked(s, []string{"k"}, func(db DB) { db.SetString([]byte("k"), needle, 0, false) })
	seq := s.LastSeq()
	deadline := time.Now().Add((noSyncEvery + 2) * time.Second)
	for time.Now().Before(deadline) && !walHas(t, dir, needle) {
		time.Sleep(50 * time.Millisecond)
	}
	require.GreaterOrEqual(t, s.dur.committed.Load(), seq, "committed to Pebble")
	require.True(t, walHas(t, dir, needle), "the write is still only in the process's memory")
}
