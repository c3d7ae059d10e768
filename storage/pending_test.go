package storage

import (
	"fmt"
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
