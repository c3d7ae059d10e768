package storage

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPendingCoalescesPointWrites(t *testing.T) {
	p := newPending()
	p.Set([]byte("a"), []byte("1"))
	p.Set([]byte("b"), []byte("1"))
	p.Set([]byte("a"), []byte("2"))
	p.Delete([]byte("b"))
	p.DeleteRange([]byte("x"), []byte("y"), nil)
	p.Set([]byte("a"), []byte("3"))
	p.indexLast()
	var got []string
	for _, op := range p.ops {
		if op.kind == opDead {
			continue
		}
		got = append(got, string([]byte{"?SDR"[op.kind]})+string(p.arena[op.k0:op.k1])+"="+string(p.arena[op.v0:op.v1]))
	}
	// the range deletion stays in place; each key keeps only its last write
	require.Equal(t, []string{"Db=", "Rx=y", "Sa=3"}, got)
	require.Equal(t, 3, p.live)
	p.reset()
	require.True(t, p.Empty())
	p.Set([]byte("a"), []byte("4"))
	p.indexLast()
	require.Equal(t, 1, p.live)
}

// Keys whose hashes collide still coalesce each on its own: with every key
// hashing alike, the survivors are each key's last write.
func TestPendingCoalescesCollidingKeys(t *testing.T) {
	for _, collide := range []bool{false, true} {
		if collide {
			saved := pendingHash
			pendingHash = func([]byte) uint64 { return 7 }
			defer func() { pendingHash = saved }()
		}
		p := newPending()
		want := map[string]string{}
		for i := 0; i < 2000; i++ {
			k, v := fmt.Sprintf("k%d", i%37), fmt.Sprintf("v%d", i)
			if i%11 == 0 {
				p.Delete([]byte(k))
				want[k] = "<del>"
			} else {
				p.Set([]byte(k), []byte(v))
				want[k] = v
			}
		}
		p.indexLast()
		got := map[string]string{}
		for _, op := range p.ops {
			if op.kind == opDead {
				continue
			}
			k := string(p.arena[op.k0:op.k1])
			require.NotContains(t, got, k, "two live writes of %s (collide %v)", k, collide)
			if op.kind == opDelete {
				got[k] = "<del>"
			} else {
				got[k] = string(p.arena[op.v0:op.v1])
			}
		}
		require.Equal(t, want, got, "collide %v", collide)
		require.Equal(t, len(want), p.live)
		p.reset()
		require.Nil(t, p.collided)
	}
}

func TestDurableRoundTripAfterCoalescing(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Sync: SyncAlways})
	require.NoError(t, err)
	db := s.DB(0)
	var ls LockSet
	ls.Add(s.ShardOf(0, []byte("k")))
	s.Lock(&ls)
	for i := 0; i < 100; i++ {
		db.SetString([]byte("k"), []byte{byte('a' + i%26)}, 0, false)
	}
	db.SetString([]byte("k"), []byte("final"), 0, false)
	s.Unlock(&ls)
	s.WaitDurable(s.LastSeq())
	require.NoError(t, s.Close())

	s2, err := Open(Options{Dir: dir})
	require.NoError(t, err)
	defer s2.Close()
	s2.Lock(&ls)
	e := s2.DB(0).Lookup([]byte("k"))
	s2.Unlock(&ls)
	require.NotNil(t, e)
	require.Equal(t, "final", string(e.Bytes()))
}

// TestPendingRelease: an empty group's release drops its buffers and what
// the held-bytes counter counts for them, and the group works afterwards.
func TestPendingRelease(t *testing.T) {
	var held atomic.Int64
	p := newPending()
	p.held = &held
	for i := 0; i < 1000; i++ {
		op := p.SetDeferred(8, 100)
		copy(op.Key, fmt.Sprintf("k%07d", i))
	}
	require.Positive(t, held.Load())
	p.release()
	require.NotNil(t, p.arena, "a group with writes keeps them")
	p.reset()
	p.release()
	require.Nil(t, p.arena)
	require.Nil(t, p.scratch.Key, "no slice into the dropped arena survives")
	require.Zero(t, held.Load())
	p.Set([]byte("k"), []byte("v"))
	require.Equal(t, 1, p.live)
}

// DeletePos turns deletions of adjacent positions in a row into one range
// deletion without changing what the group does: random list-like writes
// (sets and deletions of positions under two prefixes, other keys between)
// leave the same state applied through Pending as applied one by one.
func TestPendingDeletePosMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	prefixes := [][]byte{[]byte("e\x00\x01a"), []byte("e\x00\x01b")}
	key := func(pfx []byte, pos uint64) string {
		return string(binary.BigEndian.AppendUint64(append([]byte(nil), pfx...), pos))
	}
	ranges, unindexed := 0, 0
	for round := 0; round < 300; round++ {
		p := newPending()
		want := map[string]string{}
		// the state before the group: records on "disk"
		disk := map[string]string{}
		for _, pfx := range prefixes {
			for pos := uint64(90); pos < 130; pos++ {
				disk[key(pfx, pos)] = "old"
			}
		}
		disk["e\x00\x01a\xff"] = "other key after the positions"
		for k, v := range disk {
			want[k] = v
		}
		pos := uint64(100 + rng.IntN(20))
		for i := 0; i < 60; i++ {
			pfx := prefixes[rng.IntN(2)]
			switch r := rng.IntN(10); {
			case r < 5: // pop at the running position, either way
				if rng.IntN(2) == 0 {
					pos++
				} else {
					pos--
				}
				p.DeletePos(pfx, pos)
				delete(want, key(pfx, pos))
			case r < 7:
				q := pos + uint64(rng.IntN(5)) - 2
				v := fmt.Sprintf("v%d", i)
				if rng.IntN(2) == 0 {
					p.Set([]byte(key(pfx, q)), []byte(v))
				} else { // a push's write: not indexed, never dropped
					k := key(pfx, q)
					op := p.SetUnindexed(len(k), len(v))
					copy(op.Key, k)
					copy(op.Value, v)
					unindexed++
				}
				want[key(pfx, q)] = v
			case r < 8:
				q := pos + uint64(rng.IntN(5)) - 2
				p.Delete([]byte(key(pfx, q)))
				delete(want, key(pfx, q))
			default: // a deletion anywhere
				q := uint64(90 + rng.IntN(40))
				p.DeletePos(pfx, q)
				delete(want, key(pfx, q))
			}
		}
		p.indexLast()
		got := maps.Clone(disk)
		for _, op := range p.ops {
			k, v := string(p.arena[op.k0:op.k1]), string(p.arena[op.v0:op.v1])
			switch op.kind {
			case opSet:
				got[k] = v
			case opDelete:
				delete(got, k)
			case opRangeDelete:
				ranges++
				for gk := range got {
					if gk >= k && gk < v {
						delete(got, gk)
					}
				}
			}
		}
		require.Equal(t, want, got, "round %d", round)
	}
	require.Greater(t, ranges, 300, "adjacent deletions did not become ranges")
	require.Greater(t, unindexed, 300)
}

// hashSlots against a map, through growth and resets; hashes that differ
// only in the top bit share an entry (indexLast tells such keys apart).
func TestHashSlotsMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var hs hashSlots
	for round := 0; round < 6; round++ {
		model := map[uint64]int32{}
		n := []int{0, 10, 5000, 100, 70000, 3}[round]
		for i := 0; i < n; i++ {
			h := rng.Uint64() >> uint(rng.IntN(40)) // small hashes collide in the low bits
			if i%97 == 0 {
				h = 0
			}
			v := int32(i)
			hs.put(h, v)
			model[h|1<<63] = v
		}
		for h, v := range model {
			got, ok := hs.get(h &^ (1 << 63))
			require.True(t, ok)
			require.Equal(t, v, got)
			got, ok = hs.get(h) // the top bit does not tell them apart
			require.True(t, ok)
			require.Equal(t, v, got)
		}
		for i := 0; i < 1000; i++ {
			h := rng.Uint64()
			if _, in := model[h|1<<63]; !in {
				_, ok := hs.get(h)
				require.False(t, ok)
			}
		}
		hs.reset()
		_, ok := hs.get(0)
		require.False(t, ok, "reset leaves nothing")
	}
}
