package storage

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// zref is the reference model: members in (score, member) order.
type zref struct {
	scores map[string]float64
}

func (r *zref) sorted() []string {
	out := make([]string, 0, len(r.scores))
	for m := range r.scores {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := r.scores[out[i]], r.scores[out[j]]
		if a != b {
			return a < b
		}
		return out[i] < out[j]
	})
	return out
}

// checkZSet verifies the tree's structural invariants and that it matches ref.
func checkZSet(t *testing.T, z *ZSet, ref *zref) {
	t.Helper()
	want := ref.sorted()
	require.Equal(t, len(want), z.Len())
	var got []string
	z.ForEach(func(m []byte, s float64) bool {
		got = append(got, string(m))
		if ref.scores[string(m)] != s {
			t.Fatalf("score of %q: %v want %v", m, s, ref.scores[string(m)])
		}
		return true
	})
	if len(want) == 0 {
		require.Nil(t, z.t)
		require.Empty(t, z.lp)
		return
	}
	require.Equal(t, want, got)
	// reverse walk through the leaf chain
	var rev []string
	z.Range(0, z.Len(), true, func(m []byte, _ float64) bool {
		rev = append(rev, string(m))
		return true
	})
	slices.Reverse(rev)
	require.Equal(t, want, rev)
	// counts and routing entries
	var walk func(n *znode) int
	walk = func(n *znode) int {
		if n.leaf() {
			require.LessOrEqual(t, len(n.ents), zLeafMax)
			require.LessOrEqual(t, cap(n.ents), zLeafMax)
			return len(n.ents)
		}
		require.Equal(t, len(n.kids), len(n.firsts))
		require.Equal(t, len(n.kids), len(n.cnts))
		require.LessOrEqual(t, len(n.kids), zInnerMax)
		tot := 0
		for i, k := range n.kids {
			c := walk(k)
			require.Equal(t, c, n.cnts[i])
			require.Equal(t, k.first(), n.firsts[i])
			require.Greater(t, c, 0)
			tot += c
		}
		return tot
	}
	if z.t != nil {
		require.Nil(t, z.lp)
		require.Equal(t, z.t.n, walk(z.t.root))
	} else {
		require.LessOrEqual(t, z.n, zSmallMax)
	}
	for i, m := range want {
		r, ok := z.Rank([]byte(m))
		am, as := z.At(i)
		s, sok := z.Score([]byte(m))
		if !ok || r != i || string(am) != m || as != ref.scores[m] || !sok || s != ref.scores[m] {
			t.Fatalf("member %q: rank %d,%v want %d; at %q %v; score %v,%v want %v", m, r, ok, i, am, as, s, sok, ref.scores[m])
		}
	}
}

// depth returns the number of tree levels (0 for the small form).
func (z *ZSet) depth() int {
	if z.t == nil {
		return 0
	}
	d := 0
	for n := z.t.root; n != nil; d++ {
		if n.leaf() {
			return d + 1
		}
		n = n.kids[0]
	}
	return d
}

func TestZSetRandomOpsAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, universe := range []int{5, 40, 300, 3000, 20000} {
		z := NewZSet()
		ref := &zref{scores: map[string]float64{}}
		ops, maxDepth := 20000, 0
		if universe > 10000 {
			// deep trees: three levels, inner-node merges and borrows
			ops = 120000
		}
		for op := 0; op < ops; op++ {
			m := "m" + strconv.Itoa(rng.IntN(universe))
			switch rng.IntN(10) {
			case 0, 1, 2, 3, 4:
				if universe > 10000 && op > ops*2/3 {
					// drain phase: shrink the tree through merges
					_, existed := ref.scores[m]
					require.Equal(t, existed, z.Remove([]byte(m)))
					delete(ref.scores, m)
					continue
				}
				s := float64(rng.IntN(universe / 2))
				if rng.IntN(4) == 0 {
					s = 7 // many ties: ordering falls back to members
				}
				_, existed := ref.scores[m]
				require.Equal(t, !existed, z.Set([]byte(m), s))
				ref.scores[m] = s
			case 5, 6, 7, 8:
				_, existed := ref.scores[m]
				require.Equal(t, existed, z.Remove([]byte(m)))
				delete(ref.scores, m)
			case 9:
				_, ok := z.Score([]byte(m))
				_, existed := ref.scores[m]
				require.Equal(t, existed, ok)
			}
			if op%(ops/20+1) == 0 {
				checkZSet(t, z, ref)
				maxDepth = max(maxDepth, z.depth())
			}
		}
		checkZSet(t, z, ref)
		if universe > 10000 {
			require.GreaterOrEqual(t, maxDepth, 3)
		}
		for m := range ref.scores {
			require.True(t, z.Remove([]byte(m)))
		}
		clear(ref.scores)
		checkZSet(t, z, ref)
	}
}

func TestZSetSequentialInsertsPackLeaves(t *testing.T) {
	z := NewZSet()
	ref := &zref{scores: map[string]float64{}}
	for i := 0; i < 10000; i++ {
		m := fmt.Sprintf("k%06d", i)
		z.Set([]byte(m), float64(i))
		ref.scores[m] = float64(i)
	}
	checkZSet(t, z, ref)
	leaves := 0
	for l := z.t.head; l != nil; l = l.next {
		leaves++
	}
	// ascending inserts keep leaves full instead of half full
	require.LessOrEqual(t, leaves, 10000/zLeafMax+2)
	// descending too
	z2 := NewZSet()
	for i := 10000; i > 0; i-- {
		z2.Set([]byte(fmt.Sprintf("k%06d", i)), float64(i))
	}
	leaves = 0
	for l := z2.t.head; l != nil; l = l.next {
		leaves++
	}
	require.LessOrEqual(t, leaves, 10000/zLeafMax+2)
}

func TestZSetSearchAndRange(t *testing.T) {
	for _, n := range []int{100, 1000} { // small form, large form
		z := NewZSet()
		for i := 0; i < n; i++ {
			z.Set([]byte(fmt.Sprintf("m%04d", i)), float64(i/10))
		}
		require.Equal(t, n > zSmallMax, z.t != nil)
		// first rank with score >= 5
		require.Equal(t, 50, z.SearchScore(func(s float64) bool { return s >= 5 }))
		require.Equal(t, 60, z.SearchScore(func(s float64) bool { return s > 5 }))
		require.Equal(t, 0, z.SearchScore(func(s float64) bool { return s >= math.Inf(-1) }))
		require.Equal(t, n, z.SearchScore(func(s float64) bool { return s > 1e9 }))
		require.Equal(t, 23, z.SearchLex(func(m []byte) bool { return bytes.Compare(m, []byte("m0023")) >= 0 }))
		last := func(k int) string { return fmt.Sprintf("m%04d", n-k) }
		var got []string
		z.Range(n-3, n+1000, false, func(m []byte, _ float64) bool { got = append(got, string(m)); return true })
		require.Equal(t, []string{last(3), last(2), last(1)}, got)
		got = nil
		z.Range(0, 3, true, func(m []byte, _ float64) bool { got = append(got, string(m)); return true })
		require.Equal(t, []string{last(1), last(2), last(3)}, got)
		got = nil
		z.Range(1, 3, true, func(m []byte, _ float64) bool { got = append(got, string(m)); return false })
		require.Equal(t, []string{last(2)}, got, "fn returning false stops the walk")
		m, s := z.At(n - 1)
		require.Equal(t, last(1), string(m))
		require.Equal(t, float64((n-1)/10), s)
	}
}

func TestZSetScanVisitsAll(t *testing.T) {
	z := NewZSet()
	for i := 0; i < 5000; i++ {
		z.Set([]byte(strconv.Itoa(i)), float64(i))
	}
	require.True(t, z.big)
	seen := map[string]bool{}
	var cur uint64
	for {
		cur = z.Scan(cur, 10, func(m []byte, s float64) {
			require.Equal(t, string(m), strconv.Itoa(int(s)))
			seen[string(m)] = true
		})
		if cur == 0 {
			break
		}
	}
	require.Len(t, seen, 5000)
}

func TestZSetCompactionKeepsOffsets(t *testing.T) {
	z := NewZSet()
	ref := &zref{scores: map[string]float64{}}
	for i := 0; i < 2000; i++ {
		m := fmt.Sprintf("member-%d", i)
		z.Set([]byte(m), float64(i%37))
		ref.scores[m] = float64(i % 37)
	}
	for i := 0; i < 2000; i += 3 {
		m := fmt.Sprintf("member-%d", i)
		require.True(t, z.Remove([]byte(m)))
		delete(ref.scores, m)
	}
	for i := 0; i < 2000; i++ {
		if i%3 != 0 {
			m := fmt.Sprintf("member-%d", i)
			if i%2 == 0 {
				require.True(t, z.Remove([]byte(m)))
				delete(ref.scores, m)
			}
		}
	}
	require.Less(t, z.t.dead*2, len(z.t.arena)+128)
	checkZSet(t, z, ref)
}

func TestZSetEncoding(t *testing.T) {
	z := NewZSet()
	z.Set([]byte("a"), 1)
	require.Equal(t, "listpack", z.Encoding())
	z.Set(bytes.Repeat([]byte("x"), 65), 2)
	require.Equal(t, "skiplist", z.Encoding())
	z.Remove(bytes.Repeat([]byte("x"), 65))
	require.Equal(t, "skiplist", z.Encoding(), "conversion is sticky")
	z.FitEncoding()
	require.Equal(t, "listpack", z.Encoding())
	for i := 0; i < 129; i++ {
		z.Set([]byte(strconv.Itoa(i)), 0)
	}
	require.Equal(t, "skiplist", z.Encoding())
}

func TestZSetCloneAndBuilder(t *testing.T) {
	z := NewZSet()
	ref := &zref{scores: map[string]float64{}}
	b := NewZSetBuilder(0)
	for i := 0; i < 3000; i++ {
		m := fmt.Sprintf("e%d", i)
		s := float64((i * 7919) % 1000)
		z.Set([]byte(m), s)
		b.Add([]byte(m), s)
		ref.scores[m] = s
	}
	c := z.Clone().(*ZSet)
	checkZSet(t, c, ref)
	built := b.Finish()
	checkZSet(t, built, ref)
	// the copies are independent and still work after mutations
	c.Remove([]byte("e1"))
	checkZSet(t, z, ref)
	for i := 0; i < 3000; i += 2 {
		m := fmt.Sprintf("e%d", i)
		built.Remove([]byte(m))
		delete(ref.scores, m)
	}
	checkZSet(t, built, ref)
	// ForEachElem yields the on-disk form
	n := 0
	built.ForEachElem(func(sub, val []byte) {
		require.Len(t, val, 8)
		require.Equal(t, encodeZScore(nil, ref.scores[string(sub)]), val)
		n++
	})
	require.Equal(t, len(ref.scores), n)
}

func TestZSetPersistAndLoad(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Sync: SyncAlways})
	require.NoError(t, err)
	db := s.DB(0)
	key := []byte("z")
	var ls LockSet
	ls.Add(s.ShardOf(0, key))
	s.Lock(&ls)
	z := NewZSet()
	tx := db.Begin()
	e := tx.Create(key, z)
	before := z.MemSize()
	for i := 0; i < 500; i++ {
		m := []byte(fmt.Sprintf("m%d", i))
		z.Set(m, float64(i)/3)
		tx.PutMember(key, z, m)
	}
	tx.Changed(key, e, int64(z.MemSize()-before), "zadd")
	tx.Commit()
	before = z.MemSize()
	z.Remove([]byte("m7"))
	tx = db.Begin()
	tx.Del(key, []byte("m7"))
	tx.Changed(key, e, int64(z.MemSize()-before), "zrem")
	tx.Commit()
	s.Unlock(&ls)
	require.NoError(t, s.Close())

	s, err = Open(Options{Dir: dir, Sync: SyncAlways})
	require.NoError(t, err)
	defer s.Close()
	var ls2 LockSet
	ls2.Add(s.ShardOf(0, key))
	s.Lock(&ls2)
	defer s.Unlock(&ls2)
	e = s.DB(0).Lookup(key)
	require.NotNil(t, e)
	z2 := e.Object().(*ZSet)
	require.Equal(t, 499, z2.Len())
	ref := &zref{scores: map[string]float64{}}
	for i := 0; i < 500; i++ {
		if i != 7 {
			ref.scores[fmt.Sprintf("m%d", i)] = float64(i) / 3
		}
	}
	checkZSet(t, z2, ref)
	require.Equal(t, "skiplist", z2.Encoding())
}

// TestZSetStoreAndElemsGroups checks a sorted set's change sets: a stored
// set replaces a key of another type with its deadline, and one Tx puts and
// deletes members, each in one durable append.
func TestZSetStoreAndElemsGroups(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Sync: SyncAlways})
	require.NoError(t, err)
	key := []byte("k")
	var ls LockSet
	ls.Add(s.ShardOf(0, key))
	s.Lock(&ls)
	db := s.DB(0)
	db.SetString(key, []byte("string"), NowMs()+1000000, false)
	z := NewZSet()
	for i := 0; i < 300; i++ {
		z.Set([]byte(fmt.Sprintf("m%d", i)), float64(i))
	}
	changes := s.StatsRef().Changes.Load()
	tx := db.Begin()
	e := tx.Store(key, z, "zunionstore")
	tx.Commit()
	require.Equal(t, changes+1, s.StatsRef().Changes.Load(), "one durable group")
	require.Zero(t, db.Expiry(key))
	before := z.MemSize()
	z.Set([]byte("m1"), -1)
	z.Remove([]byte("m2"))
	z.Set([]byte("new"), 0.5)
	tx = db.Begin()
	tx.PutMember(key, z, []byte("m1"))
	tx.Del(key, []byte("m2"))
	tx.PutMember(key, z, []byte("new"))
	tx.Changed(key, e, int64(z.MemSize()-before), "zadd")
	tx.Commit()
	require.Equal(t, changes+2, s.StatsRef().Changes.Load(), "one durable group")
	s.Unlock(&ls)
	require.NoError(t, s.Close())

	s, err = Open(Options{Dir: dir})
	require.NoError(t, err)
	defer s.Close()
	var ls2 LockSet
	ls2.Add(s.ShardOf(0, key))
	s.Lock(&ls2)
	defer s.Unlock(&ls2)
	e = s.DB(0).Lookup(key)
	require.NotNil(t, e)
	require.Equal(t, TypeZSet, e.Type)
	ref := &zref{scores: map[string]float64{}}
	for i := 0; i < 300; i++ {
		ref.scores[fmt.Sprintf("m%d", i)] = float64(i)
	}
	ref.scores["m1"] = -1
	delete(ref.scores, "m2")
	ref.scores["new"] = 0.5
	checkZSet(t, e.Object().(*ZSet), ref)
}
