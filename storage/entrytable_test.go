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
	require.Equal(t, uintptr(24), unsafe.Sizeof(Entry{}), "the Entry is one 24-byte size class")
	for _, k := range testKeys() {
		for _, v := range []string{"", "x", strings.Repeat("v", 100), strings.Repeat("w", 5000)} {
			e := newStringEntry([]byte(k), []byte(v))
			require.Equal(t, k, e.key(), "key of len %d", len(k))
			require.Equal(t, v, string(e.Bytes()))
			require.Positive(t, e.valueCap(), "the value keeps a capacity so p stays inside the buffer")
			// growing in place within the buffer leaves the key alone
			before := e.p
			full := strings.Repeat("z", e.valueCap())
			e.setBytes([]byte(k), []byte(full))
			require.Equal(t, before, e.p, "rewritten in place")
			require.Equal(t, k, e.key())
			require.Equal(t, full, string(e.Bytes()))
			e.rekey([]byte(k + "/renamed"))
			require.Equal(t, k+"/renamed", e.key())
			require.Equal(t, full, string(e.Bytes()))
			// past the capacity: a new buffer, same key
			e.setBytes([]byte(k+"/renamed"), []byte(full+"+"))
			require.Equal(t, k+"/renamed", e.key())
			require.Equal(t, full+"+", string(e.Bytes()))
		}
		o := newObjEntry([]byte(k), NewSet())
		require.Equal(t, k, o.key())
		require.Nil(t, o.Bytes())
		require.NotNil(t, o.Object())
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
		require.LessOrEqual(t, tab.used*20, tab.size()*17+20)
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
				before := db.Lookup([]byte(k)).p
				db.SetStringEvent([]byte(k), []byte("67890"), 0, false, "set")
				e := db.Lookup([]byte(k))
				require.Equal(t, before, e.p, "rewritten in place")
				require.Equal(t, k, e.key())
			})
			// APPEND-style growth past the buffer, then a shrink
			for _, v := range []string{strings.Repeat("g", 1000), "s"} {
				evLocked(s, k, func(db DB) {
					db.SetStringEvent([]byte(k), []byte(v), 0, false, "append")
					e := db.Lookup([]byte(k))
					require.Equal(t, v, string(e.Bytes()))
					require.Equal(t, k, e.key())
					require.Equal(t, e, db.shard([]byte(k)).m.get(k))
				})
			}
			// the value passed is the entry's own bytes
			evLocked(s, k, func(db DB) {
				e := db.Lookup([]byte(k))
				db.SetStringEvent([]byte(k), e.Bytes(), 0, false, "set")
				require.Equal(t, "s", string(db.Lookup([]byte(k)).Bytes()))
			})
			// RENAME moves the entry under the new key; COPY makes a new one
			evLockedKeys(s, []string{k, k + "-r"}, func(db DB) {
				tx := db.Begin()
				require.True(t, tx.Rename([]byte(k), []byte(k+"-r")))
				tx.Commit()
			})
			evLockedKeys(s, []string{k + "-r", k + "-c"}, func(db DB) {
				e := db.Lookup([]byte(k + "-r"))
				require.Equal(t, k+"-r", e.key())
				require.Equal(t, "s", string(e.Bytes()))
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
				require.Equal(t, "back", string(e.Bytes()))
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

// TestEntryBigBox runs the layout of strings too long for 32-bit lengths
// with the limit lowered.
func TestEntryBigBox(t *testing.T) {
	saved := maxInline
	maxInline = 64
	defer func() { maxInline = saved }()
	s := evOpen(t, t.TempDir(), 0, false)
	small, big := "small", strings.Repeat("B", 100)
	evSet(t, s, "k", small, 0)
	evLocked(s, "k", func(db DB) {
		e := db.Lookup([]byte("k"))
		require.Zero(t, e.flags&flagBig)
		db.SetStringEvent([]byte("k"), []byte(big), 0, false, "append")
		e = db.Lookup([]byte("k"))
		require.NotZero(t, e.flags&flagBig)
		require.True(t, e.Raw())
		require.Equal(t, big, string(e.Bytes()))
		require.Equal(t, "k", e.key())
		db.SetStringEvent([]byte("k"), []byte(big[:90]), 0, false, "set")
		require.Equal(t, big[:90], string(db.Lookup([]byte("k")).Bytes()))
		tx := db.Begin()
		require.True(t, tx.Rename([]byte("k"), []byte("k2")))
		tx.Commit()
	})
	evLocked(s, "k2", func(db DB) {
		e := db.Lookup([]byte("k2"))
		require.Equal(t, "k2", e.key())
		require.Equal(t, big[:90], string(e.Bytes()))
		db.SetString([]byte("k2"), []byte(small), 0, false)
		e = db.Lookup([]byte("k2"))
		require.Zero(t, e.flags&flagBig)
		require.Equal(t, small, string(e.Bytes()))
		require.Equal(t, "k2", e.key())
	})
	require.Equal(t, accountedMem(s, 0), s.UsedMemory())
}

// TestEntryCounterInPlace is INCR's pattern: a counter's value changes
// length (1 to 6 digits) in its key's buffer, which moves only when the
// value outgrows the buffer's size class (20-byte key: 4 digits fit the
// 24-byte class, then 12 the 32-byte one), never back and forth.
func TestEntryCounterInPlace(t *testing.T) {
	s := evOpen(t, "", 0, false)
	const k = "counter:000000000001"
	evSet(t, s, k, "0", 0)
	var p unsafe.Pointer
	evLocked(s, k, func(db DB) { p = db.Lookup([]byte(k)).p })
	moves := 0
	for i := 1; i <= 100000; i++ {
		evLocked(s, k, func(db DB) {
			db.SetStringEvent([]byte(k), []byte(fmt.Sprint(i)), 0, true, "incrby")
			if e := db.Lookup([]byte(k)); e.p != p {
				p = e.p
				moves++
			}
		})
	}
	require.Equal(t, 1, moves)
	evLocked(s, k, func(db DB) {
		e := db.Lookup([]byte(k))
		require.Equal(t, "100000", string(e.Bytes()))
		require.Equal(t, 12, e.valueCap())
		require.False(t, e.Raw())
		require.Equal(t, k, e.key())
	})
	require.Equal(t, accountedMem(s, 0), s.UsedMemory())
}
