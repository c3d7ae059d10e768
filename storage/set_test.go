package storage

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSetIsIntString(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "1": true, "-1": true, "9223372036854775807": true, "-9223372036854775808": true,
		"9223372036854775808": false, "-9223372036854775809": false, "01": false, "-0": false,
		"+1": false, "": false, "-": false, " 1": false, "1a": false, "99999999999999999999": false,
	} {
		require.Equal(t, want, isIntString([]byte(s)), s)
	}
}

func TestSetEncodingAndOrder(t *testing.T) {
	s := NewSet()
	for _, m := range []string{"10", "-5", "3", "100"} {
		require.True(t, s.Add([]byte(m)))
	}
	require.False(t, s.Add([]byte("3")))
	require.Equal(t, "intset", s.Encoding())
	var got []string
	s.ForEach(func(m []byte) bool { got = append(got, string(m)); return true })
	// intsets reply in numeric order, as Redis's do
	require.Equal(t, []string{"-5", "3", "10", "100"}, got)

	s.Add([]byte("x"))
	require.Equal(t, "hashtable", s.Encoding())
	s.Remove([]byte("x"))
	require.Equal(t, "hashtable", s.Encoding(), "conversion is sticky")

	big := NewSet()
	for i := 0; i < 513; i++ {
		big.Add([]byte(fmt.Sprint(i)))
	}
	require.Equal(t, "hashtable", big.Encoding())
}

func TestSetForEachSlicesStayValid(t *testing.T) {
	s := NewSet()
	for i := 0; i < 100; i++ {
		s.Add([]byte(fmt.Sprint(i)))
	}
	var kept [][]byte
	s.ForEach(func(m []byte) bool { kept = append(kept, m); return true })
	for i, m := range kept {
		require.Equal(t, fmt.Sprint(i), string(m))
	}
}

func TestSetScanAllMembers(t *testing.T) {
	s := NewSet()
	for i := 0; i < 2000; i++ {
		s.Add([]byte(fmt.Sprintf("m%d", i)))
	}
	got := map[string]bool{}
	cursor := uint64(0)
	calls := 0
	for {
		cursor = s.Scan(cursor, 10, func(m []byte) { got[string(m)] = true })
		calls++
		if cursor == 0 {
			break
		}
	}
	require.Len(t, got, 2000)
	require.Greater(t, calls, 50, "a hashtable set is walked in steps")
}

func TestSetPersistAndReload(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	require.NoError(t, err)
	withDB(s, func(db DB) {
		st := NewSet()
		for _, m := range []string{"a", "b", "c"} {
			st.Add([]byte(m))
		}
		tx := db.Begin()
		e := tx.Create([]byte("s"), st)
		st.ForEachElem(func(sub, val []byte) { tx.Put([]byte("s"), sub, val) })
		tx.Changed([]byte("s"), e, 0, "sadd")
		tx.Commit()
		before := st.MemSize()
		st.Remove([]byte("b"))
		tx = db.Begin()
		tx.Del([]byte("s"), []byte("b"))
		tx.Changed([]byte("s"), e, int64(st.MemSize()-before), "srem")
		tx.Commit()

		ints := NewSet()
		ints.Add([]byte("7"))
		tx = db.Begin()
		tx.Store([]byte("i"), ints, "sadd")
		tx.Commit()
	})
	require.NoError(t, s.Close())
	s2, err := Open(Options{Dir: dir})
	require.NoError(t, err)
	defer s2.Close()
	withDB(s2, func(db DB) {
		st := db.Lookup([]byte("s")).Object().(*Set)
		require.Equal(t, 2, st.Len())
		require.True(t, st.Has([]byte("a")))
		require.False(t, st.Has([]byte("b")))
		require.True(t, st.Has([]byte("c")))
		require.Equal(t, "hashtable", st.Encoding())
		require.Equal(t, "intset", db.Lookup([]byte("i")).Object().Encoding())
	})
}
