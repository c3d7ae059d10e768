package storage

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The open-addressing key index agrees with a map under random puts,
// updates and deletes, including clustered hashes that exercise wrap-around
// and backward-shift deletion.
func TestKeyIndexModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	for _, spread := range []uint64{1 << 62, 1 << 10, 200} {
		var ix keyIndex
		model := map[uint64]uint64{}
		for step := 0; step < 50000; step++ {
			h := r.Uint64N(spread)
			if spread < 1<<20 {
				// clustered: same home slots, high bits differ
				h |= uint64(r.IntN(4)) << 40
			}
			switch r.IntN(3) {
			case 0, 1:
				c := uint64(1 + r.IntN(2))
				ix.put(h, c)
				model[h] = c
			case 2:
				ix.del(h)
				delete(model, h)
			}
			if step%997 == 0 {
				require.Equal(t, len(model), ix.n)
				for k, c := range model {
					require.Equal(t, c, ix.get(k), "spread %d step %d", spread, step)
				}
			}
			require.Equal(t, model[h], ix.get(h))
		}
	}
}

// With the index complete, a lookup of a missing key reads nothing from
// Pebble, and a SET over a cold string key does not read its old value.
func TestKeyIndexAvoidsDiskReads(t *testing.T) {
	dir := t.TempDir()
	s := evOpen(t, dir, 0, false)
	for i := 0; i < 300; i++ {
		evSet(t, s, fmt.Sprint("k", i), evVal(i), 0)
	}
	require.NoError(t, s.Close())
	s2 := evOpen(t, dir, 0, false)
	<-s2.indexDone
	require.Equal(t, NumDBs*ShardsPerDB, s2.Memory().IndexShards)
	for i := 0; i < 300; i++ {
		_, ok := evGet(s2, fmt.Sprint("missing", i))
		require.False(t, ok)
	}
	require.Zero(t, s2.stats.DiskMisses.Load(), "a missing key cost a disk read")
	for i := 0; i < 300; i++ {
		evSet(t, s2, fmt.Sprint("k", i), "new", 0)
	}
	require.Zero(t, s2.stats.DiskLoads.Load(), "SET read the old value")
	require.Equal(t, 300, s2.DB(0).Size())
	for i := 0; i < 300; i += 7 {
		v, ok := evGet(s2, fmt.Sprint("k", i))
		require.True(t, ok)
		require.Equal(t, "new", v)
	}
	require.NoError(t, s2.Close())
	s3 := evOpen(t, dir, 0, false)
	require.Equal(t, 300, s3.DB(0).Size())
	v, ok := evGet(s3, "k5")
	require.True(t, ok)
	require.Equal(t, "new", v)
}
