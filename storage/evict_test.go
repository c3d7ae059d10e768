package storage

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// evOpen opens a store for eviction tests; dir "" means persistence off.
func evOpen(t *testing.T, dir string, maxMem int64, noEviction bool) *Store {
	t.Helper()
	pol := PolicyAllKeysLRU
	if noEviction {
		pol = PolicyNoEviction
	}
	s, err := Open(Options{Dir: dir, Sync: SyncEverySec, MaxMemory: maxMem, Policy: pol})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// evLocked runs fn holding key's shard in database 0.
func evLocked(s *Store, key string, fn func(db DB)) { evLockedKeys(s, []string{key}, fn) }

// evLockedKeys runs fn holding the shards of keys in database 0 (RENAME
// and COPY write two keys, as the server locks them).
func evLockedKeys(s *Store, keys []string, fn func(db DB)) {
	var ls LockSet
	for _, k := range keys {
		ls.Add(s.ShardOf(0, []byte(k)))
	}
	s.Lock(&ls)
	defer s.Unlock(&ls)
	fn(s.DB(0))
}

// evSet writes key the way the server does: make room first (without locks
// held), then write under the key's shard lock.
func evSet(t *testing.T, s *Store, key, val string, exp int64) {
	t.Helper()
	require.NoError(t, s.EnsureMemory())
	evLocked(s, key, func(db DB) { db.SetString([]byte(key), []byte(val), exp, false) })
}

// evGet reads key; ok is false when it does not exist.
func evGet(s *Store, key string) (val string, ok bool) {
	evLocked(s, key, func(db DB) {
		if e := db.Lookup([]byte(key)); e != nil {
			val, ok = string(e.Bytes()), true
		}
	})
	return val, ok
}

// evResident reports whether key is in the hot tier.
func evResident(s *Store, key string) bool {
	var in bool
	evLocked(s, key, func(db DB) { in = db.shard([]byte(key)).m.has(key) })
	return in
}

// evSize is DBSIZE of database 0.
func evSize(s *Store) int {
	var n int
	withDB(s, func(db DB) { n = db.Size() })
	return n
}

// evEvictAll drops every key from the hot tier.
func evEvictAll(t *testing.T, s *Store) {
	t.Helper()
	old := s.MaxMemory()
	s.SetMaxMemory(1)
	require.NoError(t, s.EnsureMemory())
	s.SetMaxMemory(old)
	require.Zero(t, s.UsedMemory())
}

func evVal(i int) string { return fmt.Sprintf("value-%d-%s", i, strings.Repeat("v", 1000)) }

func TestEvictBeyondMaxMemoryKeepsEveryKeyReadable(t *testing.T) {
	const n, maxMem = 1000, 64 << 10
	s := evOpen(t, t.TempDir(), maxMem, false)
	for i := 0; i < n; i++ {
		evSet(t, s, fmt.Sprint("k", i), evVal(i), 0)
		// room is made before each write: at most one entry over the limit
		require.LessOrEqual(t, s.UsedMemory(), int64(maxMem+2048), "after key %d", i)
	}
	resident := 0
	for i := 0; i < n; i++ {
		if evResident(s, fmt.Sprint("k", i)) {
			resident++
		}
	}
	require.Less(t, resident, n/2, "most keys were evicted")
	require.Equal(t, n, evSize(s), "DBSIZE counts keys that live only on disk")
	require.Equal(t, int64(n-resident), s.StatsRef().EvictedKeys.Load())
	for i := 0; i < n; i++ {
		v, ok := evGet(s, fmt.Sprint("k", i))
		require.True(t, ok, "k%d lost", i)
		require.Equal(t, evVal(i), v, "k%d", i)
	}
	require.GreaterOrEqual(t, s.StatsRef().DiskLoads.Load(), int64(n-resident))
	require.Equal(t, n, evSize(s), "loading back does not change DBSIZE")
	for i := 0; i < n; i++ {
		require.True(t, evResident(s, fmt.Sprint("k", i)), "reads bring keys back")
	}
}

func TestEvictDeleteIsNotResurrected(t *testing.T) {
	dir := t.TempDir()
	s := evOpen(t, dir, 0, false)
	for i := 0; i < 50; i++ {
		evSet(t, s, fmt.Sprint("k", i), evVal(i), 0)
	}
	evEvictAll(t, s)
	require.False(t, evResident(s, "k7"))
	evLocked(s, "k7", func(db DB) {
		require.True(t, db.Delete([]byte("k7")))
		require.False(t, db.Delete([]byte("k7")))
	})
	// a key deleted right after being written, then evicted neighbours
	evSet(t, s, "fresh", "x", 0)
	evLocked(s, "fresh", func(db DB) { require.True(t, db.Delete([]byte("fresh"))) })
	evEvictAll(t, s)
	_, ok := evGet(s, "k7")
	require.False(t, ok)
	require.Equal(t, 49, evSize(s))
	require.NoError(t, s.Close())

	s2 := evOpen(t, dir, 0, false)
	_, ok = evGet(s2, "k7")
	require.False(t, ok, "deleted evicted key came back after restart")
	_, ok = evGet(s2, "fresh")
	require.False(t, ok)
	require.Equal(t, 49, evSize(s2))
	v, ok := evGet(s2, "k8")
	require.True(t, ok)
	require.Equal(t, evVal(8), v)
}

func TestEvictOverwriteEvictedKey(t *testing.T) {
	dir := t.TempDir()
	s := evOpen(t, dir, 0, false)
	evSet(t, s, "a", "old", 0)
	evSet(t, s, "b", "old-b", NowMs()+100_000)
	evEvictAll(t, s)
	require.Equal(t, 2, evSize(s))
	evSet(t, s, "a", "new", 0)
	require.Equal(t, 2, evSize(s), "overwriting an evicted key does not count it twice")
	v, _ := evGet(s, "a")
	require.Equal(t, "new", v)

	// keepTTL on an evicted key keeps its on-disk deadline
	var exp int64
	evLocked(s, "b", func(db DB) {
		db.SetString([]byte("b"), []byte("new-b"), 0, true)
		exp = db.Expiry([]byte("b"))
	})
	require.Positive(t, exp)

	// evicted again, then a whole-entry replace (RENAME over the cold key)
	evEvictAll(t, s)
	withDB(s, func(db DB) {
		db.SetString([]byte("tmp"), []byte("put"), 0, false)
		require.True(t, db.Rename([]byte("tmp"), []byte("a")))
	})
	require.Equal(t, 2, evSize(s))
	require.NoError(t, s.Close())

	s2 := evOpen(t, dir, 0, false)
	v, _ = evGet(s2, "a")
	require.Equal(t, "put", v)
	v, _ = evGet(s2, "b")
	require.Equal(t, "new-b", v)
	evLocked(s2, "b", func(db DB) { require.Equal(t, exp, db.Expiry([]byte("b"))) })
}

func TestEvictExpiryOfEvictedKey(t *testing.T) {
	dir := t.TempDir()
	s := evOpen(t, dir, 0, false)
	evSet(t, s, "short", "v", NowMs()+50)
	evSet(t, s, "long", "v", NowMs()+100_000)
	evSet(t, s, "setexp", "v", 0)
	evEvictAll(t, s)

	// a deadline set on an evicted key is kept
	evLocked(s, "setexp", func(db DB) { require.True(t, db.SetExpiry([]byte("setexp"), NowMs()+50)) })
	evEvictAll(t, s)
	time.Sleep(120 * time.Millisecond)
	for _, k := range []string{"short", "setexp"} {
		_, ok := evGet(s, k)
		require.False(t, ok, "%s expired while on disk", k)
		evLocked(s, k, func(db DB) { require.Nil(t, db.Peek([]byte(k))) })
	}
	evLocked(s, "long", func(db DB) {
		require.Greater(t, db.Expiry([]byte("long"))-NowMs(), int64(90_000))
	})
	require.Equal(t, 1, evSize(s))

	// PERSIST of an evicted key survives a restart
	evEvictAll(t, s)
	evLocked(s, "long", func(db DB) { require.True(t, db.Persist([]byte("long"))) })
	require.NoError(t, s.Close())
	s2 := evOpen(t, dir, 0, false)
	evLocked(s2, "long", func(db DB) {
		require.NotNil(t, db.Peek([]byte("long")))
		require.Zero(t, db.Expiry([]byte("long")))
	})
	require.Equal(t, 1, evSize(s2))
}

// A restart loads nothing (the first reply comes at once) and serves every
// key from disk on access, within a smaller memory limit.
func TestEvictRestartWithSmallerMaxMemory(t *testing.T) {
	const n = 500
	dir := t.TempDir()
	s := evOpen(t, dir, 0, false)
	for i := 0; i < n; i++ {
		evSet(t, s, fmt.Sprint("k", i), evVal(i), 0)
	}
	full := s.UsedMemory()
	require.NoError(t, s.Close())

	s2 := evOpen(t, dir, full/4, false)
	require.Zero(t, s2.DB(0).Resident(), "nothing is loaded at start")
	require.Equal(t, n, evSize(s2))
	for i := 0; i < n; i++ {
		v, ok := evGet(s2, fmt.Sprint("k", i))
		require.True(t, ok, "k%d", i)
		require.Equal(t, evVal(i), v)
	}
	require.Positive(t, s2.StatsRef().DiskLoads.Load())
	require.Equal(t, n, evSize(s2))

	// writes enforce the limit again, and deletes of never-loaded keys work
	require.NoError(t, s2.Close())
	s3 := evOpen(t, dir, full/4, false)
	for i := 0; i < n; i += 2 {
		evLocked(s3, fmt.Sprint("k", i), func(db DB) { require.True(t, db.Delete([]byte(fmt.Sprint("k", i)))) })
	}
	evSet(t, s3, "new", "x", 0)
	require.LessOrEqual(t, s3.UsedMemory(), full/4+2048)
	require.Equal(t, n/2+1, evSize(s3))
	require.NoError(t, s3.Close())
	s4 := evOpen(t, dir, 0, false)
	require.Equal(t, n/2+1, evSize(s4))
	_, ok := evGet(s4, "k0")
	require.False(t, ok)
	v, _ := evGet(s4, "k1")
	require.Equal(t, evVal(1), v)
}

func TestEvictPersistenceOffNoEvictionRefuses(t *testing.T) {
	s := evOpen(t, "", 8<<10, true)
	var err error
	i := 0
	for ; i < 100; i++ {
		if err = s.EnsureMemory(); err != nil {
			break
		}
		evLocked(s, fmt.Sprint("k", i), func(db DB) { db.SetString([]byte(fmt.Sprint("k", i)), []byte(evVal(i)), 0, false) })
	}
	require.True(t, errors.Is(err, ErrOOM), "writes past maxmemory are refused: %v", err)
	require.Equal(t, i, evSize(s), "nothing was dropped")
	for j := 0; j < i; j++ {
		v, ok := evGet(s, fmt.Sprint("k", j))
		require.True(t, ok)
		require.Equal(t, evVal(j), v)
	}
	require.Zero(t, s.StatsRef().EvictedKeys.Load())
	// raising the limit lets writes through again
	s.SetMaxMemory(0)
	require.NoError(t, s.EnsureMemory())
}

func TestEvictPersistenceOffDeletesKeys(t *testing.T) {
	const n, maxMem = 200, 16 << 10
	s := evOpen(t, "", maxMem, false)
	var evicted []string
	s.SetEventHook(func(ev Event) {
		if ev.Name == "evicted" {
			evicted = append(evicted, string(ev.Key))
		}
	})
	for i := 0; i < n; i++ {
		evSet(t, s, fmt.Sprint("k", i), evVal(i), 0)
	}
	require.LessOrEqual(t, s.UsedMemory(), int64(maxMem+2048))
	size := evSize(s)
	require.Less(t, size, n, "a pure cache drops keys")
	require.Equal(t, n-size, len(evicted), "one evicted event per dropped key")
	require.Equal(t, int64(n-size), s.StatsRef().EvictedKeys.Load())
	for _, k := range evicted {
		_, ok := evGet(s, k)
		require.False(t, ok, "%s was evicted without persistence: it is gone", k)
	}
	// the most recent write is never the victim of its own EnsureMemory
	v, ok := evGet(s, fmt.Sprint("k", n-1))
	require.True(t, ok)
	require.Equal(t, evVal(n-1), v)
}

// Memory accounting: every operation's effect is undone by deleting the
// keys, so UsedMemory returns to zero (no drift).
func TestEvictMemoryAccountingNoDrift(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		s := evOpen(t, dir, 0, false)
		require.Zero(t, s.UsedMemory())
		var ls LockSet
		ls.AddDB(0)
		ls.AddDB(1)
		s.Lock(&ls)
		db := s.DB(0)
		k := []byte("key")
		for _, size := range []int{10, 1000, 5, 100000, 0, 64, 63, 200, 3} {
			db.SetString(k, make([]byte, size), 0, false)
		}
		db.SetString(k, []byte("x"), NowMs()+100000, false)
		db.SetExpiry(k, NowMs()+200000)
		db.Persist(k)
		db.SetString(k, []byte("yy"), 0, true)
		tmp := []byte("tmp")
		db.SetString(tmp, []byte("entry value"), NowMs()+100000, false)
		db.Rename(tmp, []byte("put"))
		db.SetString(tmp, make([]byte, 5000), 0, false)
		db.Rename(tmp, []byte("put"))
		db.SetString(tmp, []byte("z"), 0, false)
		db.CopyTo(tmp, db, k)
		db.MoveTo(tmp, s.DB(1))
		db.Delete(tmp)
		db.SetString([]byte("gone"), []byte("v"), 0, false)
		db.SetExpiry([]byte("gone"), NowMs()-1) // past deadline: deleted
		s.DB(1).SetString(k, make([]byte, 300), 0, false)
		require.Positive(t, s.UsedMemory())
		for _, key := range []string{"key", "put"} {
			require.True(t, db.Delete([]byte(key)), key)
		}
		require.Zero(t, s.UsedMemory()-accountedMem(s, 1)-accountedMem(s, 0), "dir %q", dir)
		for j := 0; j < ShardsPerDB; j++ {
			require.Zero(t, s.shards[j].m.len(), "dir %q: db 0 holds a deleted key", dir)
		}
		s.DB(1).Flush()
		s.Unlock(&ls)
		// tombstones go once their deletions are committed
		require.NoError(t, s.Checkpoint())
		s.sweepTombs()
		require.Zero(t, s.UsedMemory()-s.ixMem.Load(), "dir %q: used memory drifted", dir)

		// FLUSH of a populated database, then lazy expiry of a key
		withDB(s, func(db DB) {
			for i := 0; i < 100; i++ {
				db.SetString([]byte(fmt.Sprint("f", i)), make([]byte, i*10), 0, false)
			}
			db.Flush()
		})
		require.Zero(t, s.UsedMemory()-s.ixMem.Load())
		evSet(t, s, "exp", "value", NowMs()+20)
		time.Sleep(50 * time.Millisecond)
		_, ok := evGet(s, "exp")
		require.False(t, ok)
		require.NoError(t, s.Checkpoint())
		s.sweepTombs()
		require.Zero(t, s.UsedMemory()-s.ixMem.Load())
		if dir != "" {
			// eviction and loading back balance too
			evSet(t, s, "ev", evVal(1), 0)
			evEvictAll(t, s)
			_, ok = evGet(s, "ev")
			require.True(t, ok)
			require.Positive(t, s.UsedMemory())
			evLocked(s, "ev", func(db DB) { db.Delete([]byte("ev")) })
			require.NoError(t, s.Checkpoint())
			s.sweepTombs()
			require.Zero(t, s.UsedMemory())
		}
	}
}

// accountedMem sums the entry sizes of database i (the caller holds its shards).
func accountedMem(s *Store, i int) int64 {
	var n int64
	for j := 0; j < ShardsPerDB; j++ {
		for k, e := range s.shards[i*ShardsPerDB+j].m.all() {
			n += e.memSize(len(k))
		}
		for k := range s.shards[i*ShardsPerDB+j].tomb {
			n += int64(len(k) + tombOverhead)
		}
		n += s.shards[i*ShardsPerDB+j].ix.memSize()
	}
	return n
}
