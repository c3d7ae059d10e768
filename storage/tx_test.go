package storage

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHashSetTxOneAppendPerCommand(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	require.NoError(t, err)
	var events []string
	s.SetEventHook(func(ev Event) {
		if ev.Name != "new" && ev.Name != "keymiss" { // notification-only events
			events = append(events, string(ev.Key)+":"+ev.Name)
		}
	})
	src, dst := []byte("src"), []byte("dst")
	withDB(s, func(db DB) {
		st := NewSet()
		tx := db.Begin()
		for i := 0; i < 100; i++ {
			st.Add([]byte(fmt.Sprint(i)))
		}
		e := tx.Create(src, st)
		st.ForEachElem(func(sub, _ []byte) { tx.Put(src, sub, nil) })
		tx.Changed(src, e, 0, "sadd")
		tx.Commit()
	})
	require.Equal(t, []string{"src:sadd"}, events)
	events = nil
	changes := s.StatsRef().Changes.Load()
	withDB(s, func(db DB) {
		// an SMOVE into a new key: removal, creation and insertion together
		se := db.LookupWrite(src)
		st := se.Object().(*Set)
		before := st.MemSize()
		st.Remove([]byte("7"))
		tx := db.Begin()
		tx.Del(src, []byte("7"))
		tx.Changed(src, se, int64(st.MemSize()-before), "srem")
		ds := NewSet()
		ds.Add([]byte("7"))
		de := tx.Create(dst, ds)
		tx.Put(dst, []byte("7"), nil)
		tx.Changed(dst, de, 0, "sadd")
		tx.Commit()
	})
	require.Equal(t, changes+1, s.StatsRef().Changes.Load(), "one durable append")
	require.Equal(t, []string{"src:srem", "dst:sadd"}, events)
	require.NoError(t, s.Close())

	s2, err := Open(Options{Dir: dir})
	require.NoError(t, err)
	defer s2.Close()
	withDB(s2, func(db DB) {
		require.Equal(t, 99, db.Lookup(src).Object().Len())
		require.False(t, db.Lookup(src).Object().(*Set).Has([]byte("7")))
		require.True(t, db.Lookup(dst).Object().(*Set).Has([]byte("7")))
	})
}

func TestHashSetTxEmptiedKeyIsDeleted(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	require.NoError(t, err)
	var events []string
	s.SetEventHook(func(ev Event) {
		if ev.Name != "new" && ev.Name != "keymiss" { // notification-only events
			events = append(events, ev.Name)
		}
	})
	k := []byte("h")
	withDB(s, func(db DB) {
		db.SetString(k, []byte("old"), NowMs()+100000, false)
		h := NewHash()
		h.Set([]byte("f"), []byte("v"))
		tx := db.Begin()
		e := tx.Create(k, h)
		tx.Put(k, []byte("f"), []byte("v"))
		tx.Changed(k, e, 0, "hset")
		tx.Commit()
		require.Zero(t, db.Expiry(k), "the replaced value's deadline is gone")
		events = nil
		memBefore := s.UsedMemory()
		before := h.MemSize()
		h.Delete([]byte("f"))
		tx = db.Begin()
		tx.Del(k, []byte("f"))
		tx.Changed(k, e, int64(h.MemSize()-before), "hdel")
		tx.Commit()
		require.Nil(t, db.Lookup(k))
		require.Equal(t, []string{"hdel", "del"}, events)
		require.Less(t, s.UsedMemory(), memBefore)
		// Delete of a missing key is a no-op without events
		events = nil
		tx = db.Begin()
		require.False(t, tx.Delete(k))
		tx.Commit()
		require.Empty(t, events)
	})
	require.NoError(t, s.Close())
	s2, err := Open(Options{Dir: dir})
	require.NoError(t, err)
	defer s2.Close()
	withDB(s2, func(db DB) { require.Nil(t, db.Lookup(k)) })
}

// TestTxEventsInCallOrderOneAppend: a change set reports each change when it
// is made (so "new" comes between the command's other events, as in Redis)
// and appends the records of every key, across databases, once.
func TestTxEventsInCallOrderOneAppend(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	require.NoError(t, err)
	var events []string
	s.SetEventHook(func(ev Event) {
		if ev.Name != "keymiss" {
			events = append(events, fmt.Sprint(ev.DB, ":", string(ev.Key), ":", ev.Name))
		}
	})
	var ls LockSet
	ls.AddDB(0)
	ls.AddDB(1)
	s.Lock(&ls)
	db, db1 := s.DB(0), s.DB(1)
	changes := s.StatsRef().Changes.Load()
	tx := db.Begin()
	tx.SetString([]byte("a"), []byte("1"), 0, false, "set")
	tx.SetString([]byte("b"), []byte("2"), NowMs()+100000, false, "set")
	require.True(t, tx.Rename([]byte("b"), []byte("c")))
	require.True(t, tx.CopyTo([]byte("c"), db1, []byte("c")))
	require.True(t, tx.MoveTo([]byte("a"), db1))
	l := NewList()
	l.PushRight([]byte("x"))
	tx.List(ListChange{Key: []byte("l"), List: l, Event: "rpush"})
	tx.Commit()
	require.Equal(t, changes+1, s.StatsRef().Changes.Load(), "one durable append")
	require.Equal(t, []string{"0:a:new", "0:a:set", "0:b:new", "0:b:set",
		"0:b:rename_from", "0:c:new", "0:c:rename_to", "1:c:new", "1:c:copy_to",
		"0:a:move_from", "1:a:new", "1:a:move_to", "0:l:new", "0:l:rpush"}, events)
	require.Equal(t, 2, db.Size())
	require.Equal(t, 2, db1.Size())
	s.Unlock(&ls)
	require.NoError(t, s.Close())

	s, err = Open(Options{Dir: dir})
	require.NoError(t, err)
	defer s.Close()
	s.Lock(&ls)
	defer s.Unlock(&ls)
	db, db1 = s.DB(0), s.DB(1)
	require.Equal(t, 2, db.Size())
	require.Equal(t, 2, db1.Size())
	require.Nil(t, db.Lookup([]byte("a")))
	require.Nil(t, db.Lookup([]byte("b")))
	require.Equal(t, "2", string(db.Lookup([]byte("c")).Bytes()))
	require.Positive(t, db.Expiry([]byte("c")))
	require.Equal(t, "2", string(db1.Lookup([]byte("c")).Bytes()))
	require.Positive(t, db1.Expiry([]byte("c")))
	require.Equal(t, "1", string(db1.Lookup([]byte("a")).Bytes()))
	require.Equal(t, "x", db.Lookup([]byte("l")).Object().(*List).At(0))
}
