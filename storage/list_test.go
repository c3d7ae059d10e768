package storage

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/stretchr/testify/require"
)

// drainOps applies the list's pending element records to a simulated disk,
// as Tx.List does to Pebble.
func drainOps(disk map[uint64]string, l *List) {
	for _, o := range l.ops {
		if o.del {
			delete(disk, o.pos)
		} else {
			disk[o.pos] = o.val
		}
	}
	l.ops = nil
}

// checkList verifies l against the model and the simulated disk: the disk
// holds exactly one record per element, at pos+i, and nothing else.
func checkList(t *testing.T, l *List, model []string, disk map[uint64]string) {
	t.Helper()
	require.Equal(t, len(model), l.Len())
	got := make([]string, 0, l.Len())
	l.Range(0, l.Len(), func(_ int, v string) bool { got = append(got, v); return true })
	if len(model) == 0 {
		require.Empty(t, got)
		// an emptied list is deleted with all its records (DeleteRange)
		for k := range disk {
			delete(disk, k)
		}
		return
	}
	require.Equal(t, model, got)
	require.Len(t, disk, len(model), "stale element records on disk")
	require.Empty(t, l.MetaPayload(), "the records give head and tail")
	head, tail := l.bounds()
	require.Equal(t, uint64(len(model)-1), tail-head)
	for i, v := range model {
		require.Equal(t, v, disk[head+uint64(i)], "record %d", i)
	}
	bytes := 0
	for _, v := range model {
		bytes += len(v)
	}
	require.Equal(t, bytes, l.bytes)
}

func TestListRandomOpsMatchModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	l := NewList()
	var model []string
	disk := map[uint64]string{}
	val := func() string { return fmt.Sprintf("v%d", rng.IntN(20)) }
	for step := 0; step < 20000; step++ {
		switch op := rng.IntN(10); {
		case op < 2:
			v := val()
			l.PushLeft([]byte(v))
			model = append([]string{v}, model...)
		case op < 4:
			v := val()
			l.PushRight([]byte(v))
			model = append(model, v)
		case op == 4 && len(model) > 0:
			require.Equal(t, model[0], l.PopLeft())
			model = model[1:]
		case op == 5 && len(model) > 0:
			require.Equal(t, model[len(model)-1], l.PopRight())
			model = model[:len(model)-1]
		case op == 6:
			i := rng.IntN(len(model) + 1)
			v := val()
			l.Insert(i, []byte(v))
			model = append(model[:i], append([]string{v}, model[i:]...)...)
		case op == 7 && len(model) > 0:
			i := rng.IntN(len(model))
			v := val()
			l.Set(i, []byte(v))
			model[i] = v
		case op == 8 && len(model) > 0:
			target := val()
			var kept []string
			for _, v := range model {
				if v != target {
					kept = append(kept, v)
				}
			}
			n := l.RemoveWhere(func(_ int, v string) bool { return v == target })
			require.Equal(t, len(model)-len(kept), n)
			model = kept
		case op == 9 && len(model) > 0 && rng.IntN(4) == 0:
			lo := rng.IntN(len(model))
			hi := lo + rng.IntN(len(model)-lo+1)
			l.Trim(lo, hi)
			model = append([]string(nil), model[lo:hi]...)
		}
		drainOps(disk, l)
		checkList(t, l, model, disk)
	}
}

func TestListInsertShiftsShorterSide(t *testing.T) {
	l := NewList()
	for i := 0; i < 100; i++ {
		l.PushRight([]byte(fmt.Sprint(i)))
	}
	l.ops = nil
	l.Insert(2, []byte("x")) // near the head: only the first two move
	require.Len(t, l.ops, 3)
	l.ops = nil
	l.Insert(99, []byte("y")) // near the tail: only the last two move
	require.Len(t, l.ops, 3)
}

// withLocked runs fn holding the shards of keys in database 0.
func withLocked(s *Store, keys []string, fn func(db DB)) {
	var ls LockSet
	for _, k := range keys {
		ls.Add(s.ShardOf(0, []byte(k)))
	}
	s.Lock(&ls)
	defer s.Unlock(&ls)
	fn(s.DB(0))
}

func listContents(t *testing.T, s *Store, key string) []string {
	t.Helper()
	var out []string
	withLocked(s, []string{key}, func(db DB) {
		e := db.Lookup([]byte(key))
		if e == nil {
			return
		}
		l := e.Object().(*List)
		l.Range(0, l.Len(), func(_ int, v string) bool { out = append(out, v); return true })
	})
	return out
}

func TestListCommitSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Sync: SyncEverySec})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(3, 4))
	models := map[string][]string{}
	keys := []string{"a", "b", "c"}
	for step := 0; step < 3000; step++ {
		k := keys[rng.IntN(len(keys))]
		withLocked(s, keys, func(db DB) {
			e, l := listFor(db, k)
			m := models[k]
			switch op := rng.IntN(6); {
			case op < 2:
				v := fmt.Sprint(step)
				l.PushLeft([]byte(v))
				m = append([]string{v}, m...)
			case op < 3:
				v := fmt.Sprint(step)
				l.PushRight([]byte(v))
				m = append(m, v)
			case op == 3 && len(m) > 0:
				i := rng.IntN(len(m) + 1)
				l.Insert(i, []byte("ins"))
				m = append(m[:i], append([]string{"ins"}, m[i:]...)...)
			case op == 4 && len(m) > 0:
				l.PopLeft()
				m = m[1:]
			case op == 5 && len(m) > 0:
				// LMOVE k -> other: both keys in one atomic commit
				dst := keys[(rng.IntN(2)+1+indexOf(keys, k))%len(keys)]
				de, dl := listFor(db, dst)
				v := l.PopRight()
				dl.PushLeft([]byte(v))
				models[dst] = append([]string{v}, models[dst]...)
				m = m[:len(m)-1]
				commitLists(db, ListChange{Key: []byte(dst), Entry: de, List: dl, Event: "lpush"},
					ListChange{Key: []byte(k), Entry: e, List: l, Event: "rpop"})
				models[k] = m
				return
			}
			models[k] = m
			commitLists(db, ListChange{Key: []byte(k), Entry: e, List: l, Event: "x"})
		})
	}
	for _, k := range keys {
		require.Equal(t, models[k], listContents(t, s, k), k)
	}
	require.NoError(t, s.Close())

	s, err = Open(Options{Dir: dir, Sync: SyncEverySec})
	require.NoError(t, err)
	defer s.Close()
	for _, k := range keys {
		require.Equal(t, models[k], listContents(t, s, k), "after restart: %s", k)
	}
}

// listFor returns key's entry and list for a change, or nil and a new list.
func listFor(db DB, key string) (*Entry, *List) {
	e := db.LookupWrite([]byte(key))
	if e == nil {
		return nil, NewList()
	}
	return e, e.Object().(*List)
}

// commitLists records list changes in one change set, as a command does.
func commitLists(db DB, changes ...ListChange) []*Entry {
	tx := db.Begin()
	defer tx.Commit()
	entries := make([]*Entry, len(changes))
	for i, ch := range changes {
		entries[i] = tx.List(ch)
	}
	return entries
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func TestListMemoryAccounting(t *testing.T) {
	s, err := Open(Options{})
	require.NoError(t, err)
	defer s.Close()
	base := s.UsedMemory()
	withLocked(s, []string{"k"}, func(db DB) {
		l := NewList()
		for i := 0; i < 1000; i++ {
			l.PushRight([]byte("some element value"))
		}
		commitLists(db, ListChange{Key: []byte("k"), List: l, Event: "rpush"})
	})
	require.Greater(t, s.UsedMemory(), base+18000)
	withLocked(s, []string{"k"}, func(db DB) {
		e := db.LookupWrite([]byte("k"))
		l := e.Object().(*List)
		l.Trim(0, 10)
		commitLists(db, ListChange{Key: []byte("k"), Entry: e, List: l, Event: "ltrim"})
		require.Equal(t, int64(l.MemSize()+len("k")+entryOverhead+boxOverhead), s.UsedMemory()-base)
		l.Trim(0, 0)
		entries := commitLists(db, ListChange{Key: []byte("k"), Entry: e, List: l, Event: "ltrim"})
		require.Nil(t, entries[0])
		require.Nil(t, db.Lookup([]byte("k")))
	})
	require.Equal(t, base, s.UsedMemory())
}

// A list written by the previous format (head and tail in its meta
// payload, records outside them ignored) loads as before; its first change
// rewrites the meta record with an empty payload, after which its records
// alone say where it starts, also over restarts.
func TestListFormat1MetaLoadsAndIsRewritten(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Sync: SyncAlways})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	writeRaw(t, dir, func(b *pebble.Batch) {
		payload := binary.BigEndian.AppendUint64(nil, 100)
		payload = binary.BigEndian.AppendUint64(payload, 102)
		v := make([]byte, metaHeader, metaHeader+16)
		putMetaHeader(v, TypeList, 0)
		b.Set(metaKey(nil, 0, []byte("old")), append(v, payload...), nil)
		for p, val := range map[uint64]string{99: "stale", 100: "a", 101: "b", 102: "c", 103: "stale too"} {
			b.Set(append(elemPrefix(nil, 0, []byte("old")), binary.BigEndian.AppendUint64(nil, p)...), []byte(val), nil)
		}
		b.Set([]byte{nsCount, 0}, binary.BigEndian.AppendUint64(nil, 1), nil)
	})
	elems := func(s *Store) (out []string, meta []byte) {
		withLocked(s, []string{"old"}, func(db DB) {
			e := db.Lookup([]byte("old"))
			require.NotNil(t, e)
			l := e.Object().(*List)
			l.Range(0, l.Len(), func(_ int, v string) bool { out = append(out, v); return true })
		})
		require.NoError(t, s.SyncBarrier()) // the committer has written the changes
		v, closer, err := s.dur.db.Get(metaKey(nil, 0, []byte("old")))
		require.NoError(t, err)
		_, _, payload, err := decodeMeta(v)
		require.NoError(t, err)
		meta = append([]byte(nil), payload...)
		closer.Close()
		return out, meta
	}

	s, err = Open(Options{Dir: dir, Sync: SyncAlways})
	require.NoError(t, err)
	got, meta := elems(s)
	require.Equal(t, []string{"a", "b", "c"}, got)
	require.Len(t, meta, 16, "loading rewrote nothing")
	withLocked(s, []string{"old"}, func(db DB) {
		e := db.LookupWrite([]byte("old"))
		l := e.Object().(*List)
		l.PushRight([]byte("d")) // position 103: the stale record is overwritten
		commitLists(db, ListChange{Key: []byte("old"), Entry: e, List: l, Event: "rpush"})
	})
	got, meta = elems(s)
	require.Equal(t, []string{"a", "b", "c", "d"}, got)
	require.Empty(t, meta, "the change left the format-1 meta record")
	withLocked(s, []string{"old"}, func(db DB) {
		e := db.LookupWrite([]byte("old"))
		l := e.Object().(*List)
		l.PushLeft([]byte("z")) // position 99
		l.PopRight()
		commitLists(db, ListChange{Key: []byte("old"), Entry: e, List: l, Event: "lpush"})
	})
	require.NoError(t, s.Close())

	s, err = Open(Options{Dir: dir, Sync: SyncAlways})
	require.NoError(t, err)
	defer s.Close()
	got, meta = elems(s)
	require.Equal(t, []string{"z", "a", "b", "c"}, got)
	require.Empty(t, meta)
}

// A list used as a queue reclaims its removed elements' bytes (compaction),
// and every string At and Pop handed out keeps its content afterwards:
// chunks are never written over.
func TestListChunksCompactAndViewsStay(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	l := NewList()
	var model []string
	type kept struct{ got, want string }
	var views []kept
	compactions := 0
	for step := 0; step < 60000; step++ {
		v := fmt.Sprintf("%d:%s", step, make([]byte, rng.IntN(300)))
		if step%997 == 0 {
			// around the largest element a shared chunk holds
			p := fmt.Sprintf("%d:", step)
			v = p + string(make([]byte, []int{listBig - 1, listBig, listBig + 1, 70000}[step%4]-len(p)))
		}
		if rng.IntN(2) == 0 {
			l.PushLeft([]byte(v))
			model = append([]string{v}, model...)
		} else {
			l.PushRight([]byte(v))
			model = append(model, v)
		}
		for len(model) > 50+rng.IntN(50) {
			dead := l.dead
			var got string
			if rng.IntN(2) == 0 {
				got = l.PopLeft()
				require.Equal(t, model[0], got)
				model = model[1:]
			} else {
				got = l.PopRight()
				require.Equal(t, model[len(model)-1], got)
				model = model[:len(model)-1]
			}
			if l.dead < dead {
				compactions++
			}
			if rng.IntN(100) == 0 {
				views = append(views, kept{got, string([]byte(got))})
			}
		}
		if rng.IntN(50) == 0 && l.Len() > 0 {
			i := rng.IntN(l.Len())
			views = append(views, kept{l.At(i), model[i]})
			nv := fmt.Sprintf("set%d", step)
			l.Set(i, []byte(nv))
			model[i] = nv
		}
		l.ops = nil
		// the chunks hold the live bytes and at most as many dead ones
		// (plus the chunk being filled and the compaction threshold)
		require.LessOrEqual(t, l.chunkB, 2*l.bytes+4*listChunkMax+listCompactMin, "step %d", step)
	}
	require.Greater(t, compactions, 10)
	got := make([]string, 0, l.Len())
	l.Range(0, l.Len(), func(_ int, v string) bool { got = append(got, v); return true })
	require.Equal(t, model, got)
	for _, k := range views {
		require.Equal(t, k.want, k.got, "a string handed out changed")
	}
	c := l.Clone().(*List)
	got = got[:0]
	c.Range(0, c.Len(), func(_ int, v string) bool { got = append(got, v); return true })
	require.Equal(t, model, got)
}
