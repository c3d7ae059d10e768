package storage

import (
	"fmt"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// streamRecIter is an ElemIter over records sorted by sub-key, as Pebble returns them.
type streamRecIter struct {
	subs, vals [][]byte
	i          int
}

func (s *streamRecIter) Next() bool    { s.i++; return s.i <= len(s.subs) }
func (s *streamRecIter) Sub() []byte   { return s.subs[s.i-1] }
func (s *streamRecIter) Value() []byte { return s.vals[s.i-1] }

func streamRecords(s *Stream) *streamRecIter {
	type rec struct{ sub, val []byte }
	var recs []rec
	s.ForEachElem(func(sub, val []byte) {
		recs = append(recs, rec{append([]byte(nil), sub...), append([]byte(nil), val...)})
	})
	sort.Slice(recs, func(i, j int) bool { return string(recs[i].sub) < string(recs[j].sub) })
	it := &streamRecIter{}
	for _, r := range recs {
		it.subs, it.vals = append(it.subs, r.sub), append(it.vals, r.val)
	}
	return it
}

func fv(kv ...string) [][]byte {
	out := make([][]byte, len(kv))
	for i, s := range kv {
		out[i] = []byte(s)
	}
	return out
}

// streamState is everything a stream's records must keep.
func streamState(s *Stream) string {
	out := fmt.Sprintf("len=%d last=%v first=%v maxdel=%v added=%d\n", s.Length(), s.LastID, s.FirstID, s.MaxDeletedID, s.EntriesAdded)
	for _, e := range s.Entries() {
		out += fmt.Sprintf("%v %q\n", e.ID, e.Fields)
	}
	for _, g := range s.Groups() {
		out += fmt.Sprintf("group %s %v %d\n", g.Name, g.LastID, g.EntriesRead)
		g.PEL.Ascend(StreamID{}, func(n *StreamNACK) bool {
			owner := ""
			if n.Consumer != nil {
				owner = n.Consumer.Name
			}
			out += fmt.Sprintf(" nack %v %s %d %d\n", n.ID, owner, n.DeliveryTime, n.DeliveryCount)
			return true
		})
		for _, c := range g.Consumers() {
			out += fmt.Sprintf(" consumer %s %d %v\n", c.Name, c.SeenTime, c.PEL.IDs())
		}
	}
	return out
}

func TestStreamRecordsRoundTrip(t *testing.T) {
	s := NewStream()
	for i := 1; i <= 250; i++ {
		s.Append(StreamID{uint64(i), 0}, fv("f", fmt.Sprint(i), "other", ""))
	}
	s.Delete(StreamID{7, 0})
	s.MaxDeletedID = StreamID{7, 0}
	g := s.CreateGroup([]byte("g"), StreamID{5, 0}, 5)
	a := g.CreateConsumer([]byte("alice"), 1000)
	b := g.CreateConsumer([]byte("bob"), 2000)
	g.CreateConsumer([]byte("idle"), 3000)
	for i := 1; i <= 5; i++ {
		n, _ := s.AddNACK(g, StreamID{uint64(i), 0}, a, int64(100+i))
		n.DeliveryCount = uint64(i)
	}
	g.SetOwner(g.PEL.Get(StreamID{3, 0}), b)
	s.CreateGroup([]byte("empty"), StreamID{}, -1)
	got, err := loadStream(s.MetaPayload(), streamRecords(s))
	require.NoError(t, err)
	require.Equal(t, streamState(s), streamState(got.(*Stream)))
	require.Equal(t, streamState(s), streamState(s.Clone().(*Stream)))
	// an empty stream with groups loads too
	e := NewStream()
	e.LastID = StreamID{9, 9}
	e.CreateGroup([]byte("g"), StreamID{}, 0)
	got, err = loadStream(e.MetaPayload(), streamRecords(e))
	require.NoError(t, err)
	require.Equal(t, streamState(e), streamState(got.(*Stream)))
	require.Equal(t, 1, got.Len(), "an empty stream still exists")
}

// Approximate trimming removes whole nodes only, as Redis's streamTrim.
func TestStreamTrimNodes(t *testing.T) {
	StreamNodeMaxEntries.Store(100)
	s := NewStream()
	for i := 1; i <= 1000; i++ {
		s.Append(StreamID{uint64(i), 0}, fv("xitem", "v"))
	}
	require.Equal(t, 10, s.Nodes())
	require.Equal(t, int64(400), s.Trim(TrimArgs{Strategy: TrimMaxLen, Approx: true, MaxLen: 555}, nil))
	require.Equal(t, 600, s.Length())
	require.Equal(t, StreamID{401, 0}, s.FirstID)
	// LIMIT stops before a node that would exceed it
	require.Equal(t, int64(100), s.Trim(TrimArgs{Strategy: TrimMaxLen, Approx: true, MaxLen: 0, Limit: 150}, nil))
	// exact trimming goes inside a node
	require.Equal(t, int64(1), s.Trim(TrimArgs{Strategy: TrimMaxLen, MaxLen: 499}, nil))
	require.Equal(t, StreamID{502, 0}, s.FirstID)
	// MINID ~ removes a node only when all of it is older
	require.Equal(t, int64(0), s.Trim(TrimArgs{Strategy: TrimMinID, Approx: true, MinID: StreamID{600, 0}}, nil))
	require.Equal(t, int64(99), s.Trim(TrimArgs{Strategy: TrimMinID, Approx: true, MinID: StreamID{601, 0}}, nil))
	require.Equal(t, int64(50), s.Trim(TrimArgs{Strategy: TrimMinID, MinID: StreamID{651, 0}}, nil))
	// deleting a node's last live entry drops the node
	nodes := s.Nodes()
	for i := 651; i <= 700; i++ {
		require.True(t, s.Delete(StreamID{uint64(i), 0}))
	}
	require.Equal(t, nodes-1, s.Nodes())
	s.UpdateFirstID()
	require.Equal(t, StreamID{701, 0}, s.FirstID)
}

// An XADD to a long stream records one entry and the meta record: it never
// rewrites the stream.
func TestStreamAppendRecordsOneEntry(t *testing.T) {
	s := evOpen(t, t.TempDir(), 0, false)
	key := []byte("s")
	for i := 1; i <= 5000; i++ {
		withLocked(s, []string{"s"}, func(db DB) {
			tx := db.Begin()
			var e *Entry
			var st *Stream
			if e = db.LookupWrite(key); e == nil {
				e, st = tx.CreateStream(key)
			} else {
				st = e.Object().(*Stream)
			}
			ent := st.Append(StreamID{uint64(i), 0}, fv("field", "value"))
			tx.StreamPutEntry(key, ent)
			tx.StreamChanged(key, e, st, true, "xadd")
			if i == 5000 {
				require.Equal(t, 3, len(tx.ops), "records of one XADD: entry, node, meta")
				require.Less(t, len(tx.arena), 200, "bytes of one XADD")
			}
			tx.Commit()
		})
	}
	require.NoError(t, s.Close())
	s2 := evOpen(t, s.Dir(), 0, false)
	withLocked(s2, []string{"s"}, func(db DB) {
		e := db.Lookup(key)
		require.NotNil(t, e)
		st := e.Object().(*Stream)
		require.Equal(t, 5000, st.Length())
		require.Equal(t, uint64(5000), st.EntriesAdded)
		require.Equal(t, StreamID{5000, 0}, st.LastID)
	})
}
