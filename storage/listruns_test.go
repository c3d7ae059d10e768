package storage

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
)

// listWorld runs random list commands on a store against a model.
type listWorld struct {
	t      *testing.T
	s      *Store
	rng    *rand.Rand
	keys   []string
	models map[string][]string
	step   int
}

func (w *listWorld) state() string {
	var b strings.Builder
	for _, k := range w.keys {
		fmt.Fprintf(&b, "%s=%q;", k, w.models[k])
	}
	return b.String()
}

func (w *listWorld) stored() string {
	var b strings.Builder
	for _, k := range w.keys {
		fmt.Fprintf(&b, "%s=%q;", k, listContents(w.t, w.s, k))
	}
	return b.String()
}

func (w *listWorld) val() string {
	w.step++
	if w.rng.IntN(8) == 0 {
		return "dup"
	}
	return fmt.Sprint(w.step)
}

// command runs one random list command as one change set.
func (w *listWorld) command() {
	rng := w.rng
	k := w.keys[rng.IntN(len(w.keys))]
	withLocked(w.s, w.keys, func(db DB) {
		e, l := listFor(db, k)
		m := w.models[k]
		event := "x"
		switch op := rng.IntN(17); {
		case op < 4: // LPUSH of 1..6
			for range 1 + rng.IntN(6) {
				v := w.val()
				l.PushLeft([]byte(v))
				m = append([]string{v}, m...)
			}
		case op < 7: // RPUSH of 1..6
			for range 1 + rng.IntN(6) {
				v := w.val()
				l.PushRight([]byte(v))
				m = append(m, v)
			}
		case op < 9 && len(m) > 0: // LPOP count
			for n := 1 + rng.IntN(4); n > 0 && len(m) > 0; n-- {
				require.Equal(w.t, m[0], l.PopLeft())
				m = m[1:]
			}
		case op < 11 && len(m) > 0: // RPOP count
			for n := 1 + rng.IntN(4); n > 0 && len(m) > 0; n-- {
				require.Equal(w.t, m[len(m)-1], l.PopRight())
				m = m[:len(m)-1]
			}
		case op == 11 && len(m) > 0: // LSET
			i, v := rng.IntN(len(m)), w.val()
			l.Set(i, []byte(v))
			m[i] = v
		case op == 12 && len(m) > 0: // LINSERT
			i, v := rng.IntN(len(m)+1), w.val()
			l.Insert(i, []byte(v))
			m = append(m[:i], append([]string{v}, m[i:]...)...)
		case op == 13 && len(m) > 0: // LREM of a value present
			target := m[rng.IntN(len(m))]
			var kept []string
			for _, v := range m {
				if v != target {
					kept = append(kept, v)
				}
			}
			require.Equal(w.t, len(m)-len(kept), l.RemoveWhere(func(_ int, v string) bool { return v == target }))
			m = kept
		case op == 14 && len(m) > 0 && rng.IntN(3) == 0: // LTRIM
			lo := rng.IntN(len(m))
			hi := lo + rng.IntN(len(m)-lo+1)
			l.Trim(lo, hi)
			m = append([]string(nil), m[lo:hi]...)
		case op == 16 && len(m) > 0: // SORT ... STORE, RESTORE: a new list written whole
			nl := NewList()
			var nm []string
			for i := len(m) - 1; i >= 0; i-- {
				nl.PushRight([]byte(m[i]))
				nm = append(nm, m[i])
			}
			tx := db.Begin()
			tx.Store([]byte(k), nl, "sortstore")
			tx.Commit()
			w.models[k] = nm
			return
		case op == 15 && len(m) > 0: // LMOVE k k (rotate) or to another key
			dst := w.keys[rng.IntN(len(w.keys))]
			left := rng.IntN(2) == 0
			var v string
			if left {
				v = l.PopLeft()
				m = m[1:]
			} else {
				v = l.PopRight()
				m = m[:len(m)-1]
			}
			if dst == k {
				l.Push([]byte(v), !left)
				if left {
					m = append(m, v)
				} else {
					m = append([]string{v}, m...)
				}
				break
			}
			de, dl := listFor(db, dst)
			dl.PushLeft([]byte(v))
			w.models[dst] = append([]string{v}, w.models[dst]...)
			w.models[k] = m
			commitLists(db, ListChange{Key: []byte(k), Entry: e, List: l, Event: "lmove"},
				ListChange{Key: []byte(dst), Entry: de, List: dl, Event: "lmove"})
			return
		}
		w.models[k] = m
		commitLists(db, ListChange{Key: []byte(k), Entry: e, List: l, Event: event})
	})
}

// Lists written with run and trim records (listdisk.go) come back from a
// crash as the state after some prefix of the commands — after all of them
// once they were checkpointed — whatever mix of pushes, pops, LSET,
// LINSERT, LREM, LTRIM and LMOVE, in commit groups of one command or many
// (Hold), with lists evicted and loaded again between commands.
func TestListRunsSurviveCrashes(t *testing.T) {
	seeds := 1
	if n, err := strconv.Atoi(os.Getenv("LUX_LIST_SEEDS")); err == nil {
		seeds = n // a longer run: LUX_LIST_SEEDS=50 go test ./storage -run ListRunsSurvive
	}
	for seed := range seeds {
		for _, tc := range []struct {
			name   string
			maxMem int64
		}{{"resident", 0}, {"evicted", 256 << 10}} {
			t.Run(fmt.Sprint(tc.name, seed), func(t *testing.T) { testListRuns(t, uint64(seed), tc.maxMem) })
		}
	}
}

func testListRuns(t *testing.T, seed uint64, maxMem int64) {
	mem := vfs.NewCrashableMem()
	open := func(fs vfs.FS) *Store {
		s, err := Open(Options{Dir: "data", Sync: SyncEverySec, FS: fs, MaxMemory: maxMem, Policy: PolicyAllKeysLRU})
		require.NoError(t, err)
		return s
	}
	w := &listWorld{t: t, s: open(mem), rng: rand.New(rand.NewPCG(7+seed, uint64(maxMem))),
		keys: []string{"a", "b", "c"}, models: map[string][]string{}}
	runs, trimmed, evicted := 0, 0, int64(0)
	for round := 0; round < 30; round++ {
		seen := map[string]bool{w.state(): true}
		for i := 0; i < 200; i++ {
			if w.rng.IntN(4) == 0 {
				// a commit group of several commands
				w.s.Hold()
				for range 1 + w.rng.IntN(20) {
					w.command()
					seen[w.state()] = true
				}
				w.s.Release()
			} else {
				if maxMem > 0 {
					require.NoError(t, w.s.EnsureMemory())
				}
				w.command()
				seen[w.state()] = true
			}
			if w.rng.IntN(50) == 0 {
				require.NoError(t, w.s.Checkpoint())
				seen = map[string]bool{w.state(): true}
			}
			if maxMem > 0 && w.rng.IntN(10) == 0 {
				// fill memory with other keys so the lists are evicted
				k := fmt.Sprint("filler", w.step, i)
				withLocked(w.s, []string{k}, func(db DB) {
					db.SetString([]byte(k), make([]byte, 32<<10), 0, false)
				})
			}
		}
		require.Equal(t, w.state(), w.stored())
		synced := w.rng.IntN(2) == 0
		if synced {
			require.NoError(t, w.s.Checkpoint())
		}
		var fs vfs.FS
		if synced || w.rng.IntN(2) == 0 {
			fs = mem.CrashClone(vfs.CrashCloneCfg{})
		} else {
			fs = mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: w.rng.IntN(101), RNG: rand.New(rand.NewPCG(uint64(round), 9))})
		}
		want := w.state()
		evicted += w.s.StatsRef().EvictedKeys.Load()
		require.NoError(t, w.s.Close())
		w.s = open(fs)
		got := w.stored()
		if synced {
			require.Equal(t, want, got, "round %d: after a crash following a checkpoint", round)
		} else {
			require.True(t, seen[got], "round %d: the lists after a crash are no state the commands made:\n%s", round, got)
		}
		for _, k := range w.keys {
			w.models[k] = listContents(t, w.s, k)
			withLocked(w.s, []string{k}, func(db DB) {
				if e := db.Peek([]byte(k)); e != nil {
					l := e.Object().(*List)
					runs += l.runs.len()
					for i := range l.runs.len() {
						if r := l.runs.at(i); r.tlo != r.lo || r.thi != r.hi {
							trimmed++
						}
					}
				}
			})
		}
		mem = fs.(*vfs.MemFS)
	}
	require.NoError(t, w.s.Close())
	t.Logf("loaded %d runs, %d of them trimmed; %d keys evicted", runs, trimmed, evicted)
	if maxMem > 0 {
		require.NotZero(t, evicted)
	}
	require.NotZero(t, runs)
	require.NotZero(t, trimmed)
}

// A directory of storage format 2 (lists of point records only) opens as
// it is: its lists read the same, take run records from then on, and the
// directory is marked format 3, which a format-2 build refuses instead of
// skipping the runs.
func TestFormat2DirectoryUpgrades(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Sync: SyncEverySec})
	require.NoError(t, err)
	withLocked(s, []string{"l"}, func(db DB) {
		_, l := listFor(db, "l")
		l.PushRight([]byte("a"))
		commitLists(db, ListChange{Key: []byte("l"), List: l, Event: "rpush"})
	})
	require.NoError(t, s.Close())
	writeRaw(t, dir, func(b *pebble.Batch) { b.Set([]byte{nsVersion}, []byte("lux-go storage 2"), nil) })

	s, err = Open(Options{Dir: dir, Sync: SyncEverySec})
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, listContents(t, s, "l"))
	withLocked(s, []string{"l"}, func(db DB) {
		e, l := listFor(db, "l")
		for _, v := range []string{"b", "c", "d"} {
			l.PushRight([]byte(v))
		}
		commitLists(db, ListChange{Key: []byte("l"), Entry: e, List: l, Event: "rpush"})
	})
	require.NoError(t, s.Close())

	s, err = Open(Options{Dir: dir, Sync: SyncEverySec})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c", "d"}, listContents(t, s, "l"))
	withLocked(s, []string{"l"}, func(db DB) {
		require.Equal(t, 1, db.Peek([]byte("l")).Object().(*List).runs.len(), "b, c and d are one run record")
	})
	require.NoError(t, s.Close())

	db, err := pebble.Open(dir, &pebble.Options{FormatMajorVersion: pebble.FormatNewest, Logger: &faultLog{}})
	require.NoError(t, err)
	v, closer, err := db.Get([]byte{nsVersion})
	require.NoError(t, err)
	require.Equal(t, formatVersion, string(v))
	closer.Close()
	require.NoError(t, db.Close())
}
