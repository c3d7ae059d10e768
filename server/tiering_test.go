package server

import (
	"context"
	"fmt"
	"testing"

	"github.com/luxdb/lux-go/storage"
	"github.com/stretchr/testify/require"
)

// With persistence SCAN, KEYS, RANDOMKEY and DBSIZE take no shard lock (they
// read Pebble or a counter), so they never stall the database; without it
// the in-memory walk holds the database's shards.
func TestKeyspaceWalksTakeNoLockWithPersistence(t *testing.T) {
	for _, dir := range []string{t.TempDir(), ""} {
		ts := startServer(t, dir)
		for _, name := range []string{"scan", "keys", "randomkey", "dbsize"} {
			cmd := lookupCommand([]byte(name))
			var ls storage.LockSet
			ls.Reset()
			ts.srv.addLocks(cmd, 0, [][]byte{[]byte(name), []byte("0")}, &ls, nil)
			want := 0
			if dir == "" && name != "dbsize" {
				want = storage.ShardsPerDB
			}
			require.Equal(t, want, ls.Len(), "%s (persistence %v)", name, dir != "")
		}
	}
}

// SCAN 0 COUNT 1 returns about one key and a full SCAN returns every key
// once, through the real command (persistence on).
func TestScanCommandCursor(t *testing.T) {
	ts := startServer(t, t.TempDir())
	c := ts.client(t)
	ctx := context.Background()
	for i := 0; i < 5000; i++ {
		require.NoError(t, c.Set(ctx, fmt.Sprint("k", i), "v", 0).Err())
	}
	keys, cur, err := c.Scan(ctx, 0, "", 1).Result()
	require.NoError(t, err)
	require.NotZero(t, cur)
	require.LessOrEqual(t, len(keys), 2)
	seen := map[string]bool{}
	cur = 0
	for {
		keys, next, err := c.Scan(ctx, cur, "k1*", 100).Result()
		require.NoError(t, err)
		for _, k := range keys {
			require.False(t, seen[k], "%s returned twice", k)
			seen[k] = true
		}
		if next == 0 {
			break
		}
		cur = next
	}
	require.Len(t, seen, 1111) // k1, k10-k19, k100-k199, k1000-k1999
	n, err := c.DBSize(ctx).Result()
	require.NoError(t, err)
	require.Equal(t, int64(5000), n)
	typed, _, err := c.ScanType(ctx, 0, "*", 100000, "string").Result()
	require.NoError(t, err)
	require.Len(t, typed, 5000)
}

// CONFIG SET maxmemory inside MULTI/EXEC does not deadlock on the shard
// locks EXEC holds; the eviction runs once EXEC has released them.
func TestConfigSetMaxmemoryInsideExec(t *testing.T) {
	ts := startServer(t, t.TempDir())
	c := ts.client(t)
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		require.NoError(t, c.Set(ctx, fmt.Sprint("k", i), "some value", 0).Err())
	}
	tx := c.TxPipeline()
	tx.Set(ctx, "k1", "x", 0)
	tx.ConfigSet(ctx, "maxmemory", "1")
	_, err := tx.Exec(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return ts.store.StatsRef().EvictedKeys.Load() > 0
	}, 5e9, 1e7, "CONFIG SET maxmemory inside EXEC evicted nothing")
	require.NoError(t, c.ConfigSet(ctx, "maxmemory", "0").Err())
	v, err := c.Get(ctx, "k1").Result()
	require.NoError(t, err)
	require.Equal(t, "x", v)
	require.Equal(t, int64(200), c.DBSize(ctx).Val())
}
