package storage

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// testKeys returns keys of every length class: empty, short, 254 (the
// longest with an inline length), 255 and longer (length in the buffer).
func testKeys() []string {
	return []string{"", "k", "key:000000000001", strings.Repeat("a", 254), strings.Repeat("b", 255),
		strings.Repeat("c", 256), strings.Repeat("d", 70000)}
}

func TestEntryKeyLayout(t *testing.T) {
	require.Equal(t, uintptr(48), unsafe.Sizeof(Entry{}), "the Entry is one 48-byte size class")
	for _, k := range testKeys() {
		for _, v := range []string{"", "x", strings.Repeat("v", 100), strings.Repeat("w", 5000)} {
			e := newStringEntry([]byte(k), []byte(v))
			require.Equal(t, k, e.key(), "key of len %d", len(k))
			require.Equal(t, v, string(e.Str))
			require.Positive(t, cap(e.Str), "Str keeps a capacity so its pointer stays after the key")
			// growing in place within the buffer leaves the key alone
			e.Str = append(e.Str[:0], strings.Repeat("z", cap(e.Str))...)
			require.Equal(t, k, e.key())
			e.rekey([]byte(k + "/renamed"))
			require.Equal(t, k+"/renamed", e.key())
			require.Equal(t, strings.Repeat("z", len(e.Str)), string(e.Str))
		}
		o := newObjEntry([]byte(k), NewSet())
		require.Equal(t, k, o.key())
		require.Zero(t, len(o.Str))
		require.Equal(t, TypeSet, o.Type)
		o.rekey([]byte("other"))
		require.Equal(t, "other", o.key())
	}
}

// TestEntryTableModel runs random puts, gets and deletes (some while
// iterating) against a Go map.
func TestEntryTableModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var tab entryTable
	model := map[string]*Entry{}
	keys := testKeys()
	for i := 0; i < 3000; i++ {
		keys = append(keys, fmt.Sprintf("key:%d", i))
	}
	check := func() {
		require.Equal(t, len(model), tab.len())
		seen := map[string]bool{}
		for k, e := range tab.all() {
			require.False(t, seen[k], "key %q yielded twice", k)
			seen[k] = true
			require.Same(t, model[k], e)
		}
		require.Len(t, seen, len(model))
		require.LessOrEqual(t, tab.used*20, len(tab.tags)*17+20)
	}
	for step := 0; step < 200000; step++ {
		k := keys[r.IntN(len(keys))]
		switch op := r.IntN(10); {
		case op < 5:
			e := newStringEntry([]byte(k), []byte("v"))
			tab.put(e)
			model[k] = e
		case op < 8:
			require.Equal(t, model[k], tab.del(k))
			delete(model, k)
		default:
			require.Equal(t, model[k], tab.get(k))
			require.Equal(t, model[k] != nil, tab.has(k))
		}
		if step%20000 == 0 {
			check()
		}
		if step == 100000 {
			// delete every other key while iterating, from a random slot
			n := 0
			for k := range tab.sample() {
				if n++; n%2 == 0 {
					tab.del(k)
					delete(model, k)
				}
			}
			check()
			// and then everything: the table shrinks back to nothing
			for k := range tab.all() {
				tab.del(k)
				delete(model, k)
			}
			check()
			require.Zero(t, tab.memSize())
		}
	}
	check()
}

// TestEntryLayoutThroughStore covers the paths that make, mutate and move
// entries, with and without persistence and across eviction and reload.
func TestEntryLayoutThroughStore(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		s := evOpen(t, dir, 0, false)
		long := strings.Repeat("L", 300)
		for _, k := range []string{"", "a", long} {
			evSet(t, s, k, "12345", 0)
			// in place: fits the buffer's capacity
			evLocked(s, k, func(db DB) {
				before := unsafe.SliceData(db.Lookup([]byte(k)).Str)
				db.SetStringEvent([]byte(k), []byte("67890"), 0, false, "set")
				e := db.Lookup([]byte(k))
				require.Equal(t, before, unsafe.SliceData(e.Str), "rewritten in place")
				require.Equal(t, k, e.key())
			})
			// APPEND-style growth past the buffer, then a shrink
			for _, v := range []string{strings.Repeat("g", 1000), "s"} {
				evLocked(s, k, func(db DB) {
					db.SetStringEvent([]byte(k), []byte(v), 0, false, "append")
					e := db.Lookup([]byte(k))
					require.Equal(t, v, string(e.Str))
					require.Equal(t, k, e.key())
					require.Equal(t, e, db.shard([]byte(k)).m.get(k))
				})
			}
			// the value passed is the entry's own bytes
			evLocked(s, k, func(db DB) {
				e := db.Lookup([]byte(k))
				db.SetStringEvent([]byte(k), e.Str, 0, false, "set")
				require.Equal(t, "s", string(db.Lookup([]byte(k)).Str))
			})
			// RENAME moves the entry under the new key; COPY makes a new one
			evLocked(s, k, func(db DB) {
				tx := db.Begin()
				require.True(t, tx.Rename([]byte(k), []byte(k+"-r")))
				tx.Commit()
			})
			evLocked(s, k+"-r", func(db DB) {
				e := db.Lookup([]byte(k + "-r"))
				require.Equal(t, k+"-r", e.key())
				require.Equal(t, "s", string(e.Str))
				tx := db.Begin()
				require.True(t, tx.CopyTo([]byte(k+"-r"), db, []byte(k+"-c")))
				tx.Commit()
			})
			v, ok := evGet(s, k+"-c")
			require.True(t, ok)
			require.Equal(t, "s", v)
			// a collection over the string and a string over the collection
			evLocked(s, k, func(db DB) {
				tx := db.Begin()
				set := NewSet()
				set.Add([]byte("m"))
				tx.Store([]byte(k), set, "sadd")
				tx.Commit()
				e := db.Lookup([]byte(k))
				require.Equal(t, k, e.key())
				require.Equal(t, TypeSet, e.Type)
				db.SetString([]byte(k), []byte("back"), 0, false)
				e = db.Lookup([]byte(k))
				require.Equal(t, TypeString, e.Type)
				require.Equal(t, "back", string(e.Str))
				require.Equal(t, k, e.key())
			})
			// a key with a deadline expires lazily
			evSet(t, s, k+"-x", "gone", NowMs()-1)
			_, ok = evGet(s, k+"-x")
			require.False(t, ok)
		}
		require.Equal(t, accountedMem(s, 0), s.UsedMemory())
		if dir == "" {
			continue
		}
		// evict everything, read it back from Pebble
		require.NoError(t, s.Checkpoint())
		s.SetMaxMemory(1)
		for i := 0; i < 100 && s.UsedMemory() > 0; i++ {
			s.EnsureMemory()
		}
		for _, k := range []string{"", "a", long} {
			require.False(t, evResident(s, k))
			v, ok := evGet(s, k)
			require.True(t, ok)
			require.Equal(t, "back", v)
			require.True(t, evResident(s, k))
			evLocked(s, k, func(db DB) { require.Equal(t, k, db.Lookup([]byte(k)).key()) })
		}
	}
}
