package storage

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// SCAN with persistence is a real cursor over memory and disk: COUNT 1
// returns about one key (it returned ~3,000 of 100k keys when a call walked
// a whole shard), and a full iteration returns every key exactly once, also
// keys that are only on disk and keys written while it runs.
func TestScanReturnsAboutCountAndEveryKeyOnce(t *testing.T) {
	s := evOpen(t, t.TempDir(), 0, false)
	const n = 20000
	for i := 0; i < n; i++ {
		withLocked(s, []string{fmt.Sprint("k", i)}, func(db DB) {
			db.SetString([]byte(fmt.Sprint("k", i)), []byte("v"), 0, false)
		})
	}
	evEvictAll(t, s) // half the test is about keys only on disk
	db := s.DB(0)
	var got []string
	next, err := db.Scan(0, 1, func(k []byte, _ Type) { got = append(got, string(k)) })
	require.NoError(t, err)
	require.NotZero(t, next)
	require.LessOrEqual(t, len(got), 2, "SCAN 0 COUNT 1")

	seen := map[string]int{}
	cursor, calls := uint64(0), 0
	for {
		c, err := db.Scan(cursor, 10, func(k []byte, _ Type) { seen[string(k)]++ })
		require.NoError(t, err)
		calls++
		if calls == 50 {
			// a write in the middle of the iteration does not disturb it
			withLocked(s, []string{"late"}, func(db DB) { db.SetString([]byte("late"), []byte("v"), 0, false) })
		}
		if c == 0 {
			break
		}
		require.Greater(t, c, cursor, "the cursor moves forward")
		cursor = c
	}
	for i := 0; i < n; i++ {
		require.Equal(t, 1, seen[fmt.Sprint("k", i)], "k%d", i)
	}
	require.InDelta(t, n/10, calls, n/20, "about COUNT keys a call")
	require.Equal(t, 1, db.Resident(), "SCAN loaded keys into memory (only \"late\" was written)")
}

// KEYS after a restart with a small limit reads Pebble: it loads nothing
// (it used to load every key: used_memory 22.5 MB against a 2 MB limit).
func TestKeysLoadsNothing(t *testing.T) {
	dir := t.TempDir()
	s := evOpen(t, dir, 0, false)
	for i := 0; i < 3000; i++ {
		evSet(t, s, fmt.Sprint("k", i), evVal(i), 0)
	}
	require.NoError(t, s.Close())
	s2 := evOpen(t, dir, 256<<10, false)
	<-s2.indexDone
	before := s2.UsedMemory()
	n := 0
	require.NoError(t, s2.DB(0).Keys(func([]byte) { n++ }))
	require.Equal(t, 3000, n)
	require.Equal(t, before, s2.UsedMemory())
	k, ok, err := s2.DB(0).RandomKey()
	require.NoError(t, err)
	require.True(t, ok)
	require.Contains(t, k, "k")
	require.Equal(t, before, s2.UsedMemory())
}

// Cold reads make room as writes do: reading back every key of a store
// much larger than the limit keeps memory bounded (reads only used to evict
// at the next write).
func TestColdReadsStayWithinTheLimit(t *testing.T) {
	dir := t.TempDir()
	s := evOpen(t, dir, 0, false)
	for i := 0; i < 2000; i++ {
		evSet(t, s, fmt.Sprint("k", i), evVal(i), 0)
	}
	require.NoError(t, s.Close())
	const limit = 512 << 10
	s2 := evOpen(t, dir, limit, false)
	// the key index is built in the background and counts in used memory:
	// let it finish, so that only the reads below add memory
	<-s2.indexDone
	for i := 0; i < 2000; i++ {
		require.NoError(t, s2.EnsureMemory()) // what dispatch does before any command over the limit
		v, ok := evGet(s2, fmt.Sprint("k", i))
		require.True(t, ok)
		require.Equal(t, evVal(i), v)
		require.LessOrEqual(t, s2.UsedMemory(), s2.hotLimit(limit)+int64(len(evVal(i)))+4096)
	}
}

// Writes far past the limit are never refused with persistence, also while
// the committer is slow: writers wait for it (back-pressure) instead.
func TestWritesPastTheLimitAreNeverRefused(t *testing.T) {
	s := evOpen(t, t.TempDir(), 256<<10, false)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 1500; i++ {
				if err := s.EnsureMemory(); err != nil {
					errs <- err
					return
				}
				k := fmt.Sprintf("g%d-%d", g, i)
				withLocked(s, []string{k}, func(db DB) { db.SetString([]byte(k), []byte(evVal(i)), 0, false) })
			}
		}(g)
	}
	// a slow disk: hold the committer back for a while
	s.dur.commitMu.Lock()
	time.Sleep(50 * time.Millisecond)
	s.dur.commitMu.Unlock()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 6000, s.DB(0).Size())
	require.LessOrEqual(t, s.UsedMemory(), s.hotLimit(256<<10)+4096)
}

// Without persistence SCAN is a cursor over the shards' insertion-order
// lists: about COUNT keys a call, and every key present for the whole
// iteration comes back even when deletions compact the lists midway.
func TestScanWithoutPersistence(t *testing.T) {
	s, err := Open(Options{})
	require.NoError(t, err)
	defer s.Close()
	const n = 20000
	for i := 0; i < n; i++ {
		withLocked(s, []string{fmt.Sprint("k", i)}, func(db DB) {
			db.SetString([]byte(fmt.Sprint("k", i)), []byte("v"), 0, false)
		})
	}
	var all LockSet
	all.AddDB(0)
	scan := func(cursor uint64, count int, fn func(k []byte, _ Type)) uint64 {
		s.Lock(&all)
		defer s.Unlock(&all)
		next, err := s.DB(0).Scan(cursor, count, fn)
		require.NoError(t, err)
		return next
	}
	var got []string
	next := scan(0, 1, func(k []byte, _ Type) { got = append(got, string(k)) })
	require.NotZero(t, next)
	require.Len(t, got, 1, "SCAN 0 COUNT 1")

	seen := map[string]int{}
	cursor, calls := uint64(0), 0
	for {
		cursor = scan(cursor, 10, func(k []byte, _ Type) { seen[string(k)]++ })
		calls++
		if calls == 100 {
			// delete the odd keys: most of every shard's list becomes holes
			// and is compacted while the iteration is under way
			for i := 1; i < n; i += 2 {
				withLocked(s, []string{fmt.Sprint("k", i)}, func(db DB) { db.Delete([]byte(fmt.Sprint("k", i))) })
			}
		}
		if cursor == 0 {
			break
		}
	}
	for i := 0; i < n; i += 2 {
		require.GreaterOrEqual(t, seen[fmt.Sprint("k", i)], 1, "k%d present throughout was not returned", i)
	}
	require.Less(t, calls, n/10+n/10, "about COUNT keys a call")
}

// Hold keeps a transaction's writes out of Pebble until Release, so a crash
// in its middle (the committer runs every 5 ms) cannot leave half.
func TestHoldKeepsATransactionInOneBatch(t *testing.T) {
	s := evOpen(t, t.TempDir(), 0, false)
	s.Hold()
	withLocked(s, []string{"a"}, func(db DB) { db.SetString([]byte("a"), []byte("1"), 0, false) })
	first := s.LastSeq()
	s.dur.signal()
	time.Sleep(30 * time.Millisecond) // several commit intervals
	require.Less(t, s.dur.committed.Load(), first, "a write of the transaction was committed before its end")
	withLocked(s, []string{"b"}, func(db DB) { db.SetString([]byte("b"), []byte("1"), 0, false) })
	s.Release()
	require.NoError(t, s.dur.waitCommitted(s.LastSeq()))
	require.GreaterOrEqual(t, s.dur.committed.Load(), first+1)
}

// A holder that takes the pending group past stallPendingBytes is answered
// without waiting for its commit; the next holder waits for the group to
// leave the pending buffer first, so at most one such group is pending
// (and one in Pebble's hands) however many holders follow.
func TestHeldBigWriteWaitsAtTheNextHold(t *testing.T) {
	s := evOpen(t, t.TempDir(), 0, false)
	big := make([]byte, 1<<20)
	for round := 0; round < 3; round++ {
		s.Hold()
		for i := 0; i < 9; i++ {
			k := fmt.Sprintf("big%d-%d", round, i)
			withLocked(s, []string{k}, func(db DB) { db.SetString([]byte(k), big, 0, false) })
		}
		require.True(t, s.dur.stall.Load(), "the held group passed the stall point")
		s.Release()
		s.Hold()
		s.dur.mu.Lock()
		pending := s.dur.batch.Len()
		s.dur.mu.Unlock()
		s.Release()
		require.Less(t, pending, stallPendingBytes, "a holder went on with the big group still pending")
	}
	require.NoError(t, s.dur.waitCommitted(s.LastSeq()))
}
