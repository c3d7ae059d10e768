package storage

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/stretchr/testify/require"
)

// exSet writes key in database dbi with an absolute deadline (0 = none).
func exSet(s *Store, dbi int, key string, exp int64) {
	var ls LockSet
	ls.Add(s.ShardOf(dbi, []byte(key)))
	s.Lock(&ls)
	defer s.Unlock(&ls)
	s.DB(dbi).SetString([]byte(key), []byte("v-"+key), exp, false)
}

// exResidentCount counts the keys held in memory by database dbi, expired
// or not: what active expiry has not reclaimed yet.
func exResidentCount(s *Store, dbi int) int {
	n := 0
	for i := 0; i < ShardsPerDB; i++ {
		sh := &s.shards[dbi*ShardsPerDB+i]
		sh.mu.Lock()
		n += sh.m.len()
		sh.mu.Unlock()
	}
	return n
}

// exOnDisk reports whether the committed durable state holds key's record.
func exOnDisk(t *testing.T, s *Store, dbi int, key string) bool {
	t.Helper()
	_, closer, err := s.dur.db.Get(metaKey(nil, dbi, []byte(key)))
	if errors.Is(err, pebble.ErrNotFound) {
		return false
	}
	require.NoError(t, err)
	closer.Close()
	return true
}

func TestExpireActiveReclaimsWithoutReads(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		s := evOpen(t, dir, 0, false)
		const n = 300
		s.SetActiveExpire(false) // until every key is written
		deadline := NowMs() + 50
		for i := 0; i < n; i++ {
			exSet(s, 5, fmt.Sprint("t", i), deadline)
			exSet(s, 5, fmt.Sprint("keep", i), NowMs()+100_000)
			exSet(s, 5, fmt.Sprint("plain", i), 0)
		}
		require.Equal(t, 3*n, exResidentCount(s, 5))
		s.SetActiveExpire(true)
		require.Eventually(t, func() bool { return exResidentCount(s, 5) == 2*n }, 10*time.Second, 10*time.Millisecond,
			"dir %q: active expiry did not reclaim the expired keys", dir)
		require.Equal(t, int64(n), s.StatsRef().ExpiredKeys.Load())
		var ls LockSet
		ls.AddDB(5)
		s.Lock(&ls)
		require.Equal(t, 2*n, s.DB(5).Size())
		require.Equal(t, n, s.DB(5).ExpiresCount())
		s.Unlock(&ls)
		if dir != "" {
			require.NoError(t, s.Checkpoint())
			require.False(t, exOnDisk(t, s, 5, "t0"), "reclaimed keys are deleted on disk")
			require.True(t, exOnDisk(t, s, 5, "keep0"))
		}
		require.NoError(t, s.Close())
	}
}

func TestExpireActiveEventsAreReported(t *testing.T) {
	s := evOpen(t, "", 0, false)
	got := make(chan string, 16)
	s.SetEventHook(func(ev Event) {
		if ev.Name == "expired" {
			got <- fmt.Sprintf("%d:%s", ev.DB, ev.Key)
		}
	})
	exSet(s, 2, "k", NowMs()+30)
	select {
	case k := <-got:
		require.Equal(t, "2:k", k)
	case <-time.After(10 * time.Second):
		t.Fatal("no expired event from active expiry")
	}
}

func TestExpireActiveOffKeepsKeysUntilRead(t *testing.T) {
	s := evOpen(t, "", 0, false)
	require.True(t, s.ActiveExpire())
	s.SetActiveExpire(false)
	require.False(t, s.ActiveExpire())
	const n = 100
	for i := 0; i < n; i++ {
		exSet(s, 0, fmt.Sprint("k", i), NowMs()+20)
	}
	time.Sleep(400 * time.Millisecond) // four expiry cycles
	require.Equal(t, n, exResidentCount(s, 0), "active expiry is off")
	require.Zero(t, s.StatsRef().ExpiredKeys.Load())
	// lazy expiry still works
	for i := 0; i < n/2; i++ {
		_, ok := evGet(s, fmt.Sprint("k", i))
		require.False(t, ok)
	}
	require.Equal(t, n/2, exResidentCount(s, 0))
	require.Equal(t, int64(n/2), s.StatsRef().ExpiredKeys.Load())
	// switched back on, the rest goes
	s.SetActiveExpire(true)
	require.Eventually(t, func() bool { return exResidentCount(s, 0) == 0 }, 10*time.Second, 10*time.Millisecond)
}

func TestExpireRemovedAtLoad(t *testing.T) {
	dir := t.TempDir()
	s := evOpen(t, dir, 0, false)
	s.SetActiveExpire(false)
	for i := 0; i < 50; i++ {
		exSet(s, 0, fmt.Sprint("gone", i), NowMs()+30)
		exSet(s, 3, fmt.Sprint("gone", i), NowMs()+30)
	}
	exSet(s, 0, "stays", NowMs()+100_000)
	// a collection with elements on disk expires too
	withDB(s, func(db DB) {
		h := NewHash()
		h.Set([]byte("f"), []byte("v"))
		tx := db.Begin()
		tx.Store([]byte("hash"), h, "hset")
		tx.Commit()
		require.True(t, db.SetExpiry([]byte("hash"), NowMs()+30))
	})
	require.NoError(t, s.Close())
	time.Sleep(60 * time.Millisecond)

	// nothing is loaded at start: active expiry finds the due deadlines on
	// disk and deletes the keys without anyone reading them
	s2 := evOpen(t, dir, 0, false)
	require.Equal(t, 52, s2.DB(0).Size(), "counts are exact at start, before expiry")
	require.Eventually(t, func() bool {
		return s2.StatsRef().ExpiredKeys.Load() == 101
	}, 5*time.Second, 20*time.Millisecond)
	require.Zero(t, exResidentCount(s2, 0), "expiry loads nothing")
	require.Equal(t, 1, s2.DB(0).Size())
	require.Zero(t, s2.DB(3).Size())
	require.NoError(t, s2.Checkpoint())
	require.False(t, exOnDisk(t, s2, 0, "gone0"), "expired records are deleted")
	require.False(t, exOnDisk(t, s2, 3, "gone0"))
	require.False(t, exOnDisk(t, s2, 0, "hash"))
	p := elemPrefix(nil, 0, []byte("hash"))
	it, err := s2.dur.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	require.NoError(t, err)
	require.False(t, it.First(), "the expired hash's elements are deleted")
	require.NoError(t, it.Close())
	require.True(t, exOnDisk(t, s2, 0, "stays"))
}

// Deadlines are absolute: a restart keeps the exact deadline, so the
// remaining TTL keeps shrinking across it.
func TestExpireAbsoluteDeadlinesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	s := evOpen(t, dir, 0, false)
	exp := NowMs() + 100_000
	exSet(s, 0, "a", exp)
	exSet(s, 7, "b", exp+1)
	exSet(s, 0, "short", NowMs()+300)
	withDB(s, func(db DB) {
		db.SetString([]byte("c"), []byte("v"), 0, false)
		require.True(t, db.SetExpiry([]byte("c"), exp+2))
		db.SetString([]byte("p"), []byte("v"), exp, false)
		require.True(t, db.Persist([]byte("p")))
	})
	require.NoError(t, s.Close())
	s2 := evOpen(t, dir, 0, false)
	withDB(s2, func(db DB) {
		require.Equal(t, exp, db.Expiry([]byte("a")))
		require.Equal(t, exp+2, db.Expiry([]byte("c")))
		require.Zero(t, db.Expiry([]byte("p")))
		require.Zero(t, db.Expiry([]byte("p")))
		require.NotNil(t, db.Peek([]byte("p")))
	})
	var ls LockSet
	ls.Add(s2.ShardOf(7, []byte("b")))
	s2.Lock(&ls)
	require.Equal(t, exp+1, s2.DB(7).Expiry([]byte("b")))
	s2.Unlock(&ls)
	// the short deadline passes while the store is open again
	require.Eventually(t, func() bool {
		_, ok := evGet(s2, "short")
		return !ok
	}, 10*time.Second, 20*time.Millisecond)
}

// A volatile key evicted to disk must still be reclaimed when its deadline
// passes, without a read: otherwise DBSIZE keeps counting it and its record
// stays on disk forever (a cache of expiring keys larger than maxmemory
// grows its data directory without bound until a restart).
func TestExpireActiveReclaimsEvictedKeys(t *testing.T) {
	dir := t.TempDir()
	s := evOpen(t, dir, 0, false)
	const n = 50
	for i := 0; i < n; i++ {
		evSet(t, s, fmt.Sprint("k", i), "v", NowMs()+50)
	}
	evEvictAll(t, s)
	require.Equal(t, n, evSize(s))
	require.Eventually(t, func() bool { return evSize(s) == 0 }, 5*time.Second, 20*time.Millisecond,
		"expired keys that live only on disk are never reclaimed: DBSIZE stays %d", evSize(s))
	require.NoError(t, s.Checkpoint())
	require.False(t, exOnDisk(t, s, 0, "k0"))
}

// Keys a restart leaves on disk (the data exceeds maxmemory) must be
// reclaimed by active expiry as well: load records no deadline for them
// today, so they stay counted and on disk until read.
func TestExpireActiveReclaimsKeysLeftOnDiskAtLoad(t *testing.T) {
	dir := t.TempDir()
	s := evOpen(t, dir, 0, false)
	const n = 200
	exp := NowMs() + 2500
	for i := 0; i < n; i++ {
		evSet(t, s, fmt.Sprint("k", i), evVal(i), exp)
	}
	full := s.UsedMemory()
	require.NoError(t, s.Close())

	s2 := evOpen(t, dir, full/10, false)
	require.Less(t, exResidentCount(s2, 0), n/2, "precondition: most keys stay on disk")
	require.Equal(t, n, evSize(s2))
	time.Sleep(time.Until(time.UnixMilli(exp)))
	require.Eventually(t, func() bool { return evSize(s2) == 0 }, 5*time.Second, 20*time.Millisecond,
		"expired keys left on disk at load are never reclaimed")
	require.NoError(t, s2.Checkpoint())
	require.False(t, exOnDisk(t, s2, 0, "k0"))
	require.False(t, exOnDisk(t, s2, 0, fmt.Sprint("k", n-1)))
}

// A key already expired when WATCHed is logically absent, also when it was
// evicted to disk: its reclamation must not abort EXEC (as for a resident
// stale key, Redis 7 semantics).
func TestExpireWatchOfStaleEvictedKey(t *testing.T) {
	s := evOpen(t, t.TempDir(), 0, false)
	s.SetActiveExpire(false)
	evSet(t, s, "k", "v", NowMs()+20)
	evEvictAll(t, s)
	time.Sleep(50 * time.Millisecond)
	var w Watch
	evLocked(s, "k", func(db DB) { db.Watch([]byte("k"), &w) })
	s.SetActiveExpire(true)
	require.Eventually(t, func() bool { return evSize(s) == 0 }, 5*time.Second, 10*time.Millisecond)
	evLocked(s, "k", func(db DB) {
		require.False(t, w.Dirty(), "reclaiming a key that was already expired when watched dirtied the WATCH")
		require.False(t, db.WatchExpired([]byte("k"), &w))
		db.Unwatch([]byte("k"), &w)
	})
}

// TestExpireCycleHook: a cycle that reclaims keys reports its duration (the
// server's "expire-cycle" latency event); one that reclaims none does not.
func TestExpireCycleHook(t *testing.T) {
	s := evOpen(t, "", 0, false)
	got := make(chan time.Duration, 100)
	s.SetExpireCycleHook(func(d time.Duration) { got <- d })
	time.Sleep(250 * time.Millisecond) // cycles with nothing to expire
	require.Len(t, got, 0)
	exSet(s, 0, "k", NowMs()+20)
	select {
	case d := <-got:
		require.GreaterOrEqual(t, d, time.Duration(0))
	case <-time.After(5 * time.Second):
		t.Fatal("no cycle reported")
	}
}
