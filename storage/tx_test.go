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
		st := se.Obj.(*Set)
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
		require.Equal(t, 99, db.Lookup(src).Obj.Len())
		require.False(t, db.Lookup(src).Obj.(*Set).Has([]byte("7")))
		require.True(t, db.Lookup(dst).Obj.(*Set).Has([]byte("7")))
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
