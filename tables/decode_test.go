package tables

import (
	"testing"

	"github.com/luxdb/lux-go/storage"
	"github.com/stretchr/testify/require"
)

// TestDecodeSchemaHugeFieldID: a stored schema naming a field with a huge id
// (any uint32 is valid) must not make the table allocate a slot per id below
// it. It did: byFid grew to fid+1 pointers, 32 GiB for fid 2^32-2.
func TestDecodeSchemaHugeFieldID(t *testing.T) {
	const fid = 1 << 22 // 2^32-2 would have needed 32 GiB; this one 32 MiB
	tb := newTable(7, "t")
	tb.nextFid = fid + 1
	tb.attachField(&field{fid: fid, name: "a", typ: TypeInt})
	tb.attachField(&field{fid: 1, name: "b", typ: TypeStr})
	enc := encodeSchema(nil, tb)
	require.Less(t, len(enc), 40)

	got, err := decodeSchema(7, string(enc))
	require.NoError(t, err)
	require.Less(t, len(got.byFid), 1<<12, "slots for field ids")
	require.Equal(t, "a", got.fieldOf(fid).name)
	require.Equal(t, "b", got.fieldOf(1).name)
	require.Nil(t, got.fieldOf(fid-1))
	require.Nil(t, got.fieldOf(fid+1))
	require.Equal(t, enc, encodeSchema(nil, got))
}

// TestLoadRowBeyondSequence: a row key whose id is past the table's stored
// id sequence cannot come from TINSERT (the sequence is written in the same
// atomic batch as the row), so it is damage, and loading must refuse it
// rather than size the table's dense row array by it. It did not: one
// corrupt row key made start-up allocate a slot per id up to it (2^48 ids
// passed the old check, 4 PiB of slots).
func TestLoadRowBeyondSequence(t *testing.T) {
	for _, c := range []struct {
		name string
		id   int64
		seq  []byte // stored sequence value written over the real one; nil: keep
	}{
		{name: "row past the sequence", id: 1 << 20},
		{name: "row past a damaged sequence", id: 3, seq: []byte{0, 0, 0, 2}},
		{name: "sequence past the id limit", id: 3, seq: []byte{0, 2, 0, 0, 0, 0, 0, 0}},
		{name: "negative sequence", id: 3, seq: []byte{0x80, 0, 0, 0, 0, 0, 0, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			st := openStore(t, dir)
			db, err := Open(st)
			require.NoError(t, err)
			require.NoError(t, db.Create([]byte("t"), bs("a:int")))
			for i := 0; i < 2; i++ {
				_, err = db.Insert([]byte("t"), bs("a", "1"))
				require.NoError(t, err)
			}
			tb := db.tables["t"]
			st.TableWrite(func(w storage.TableWriter) {
				w.Set(rowKey(nil, tb.tid, c.id), []byte(tb.rows[1]))
				if c.seq != nil {
					w.Set(seqKey(nil, tb.tid), c.seq)
				}
			})
			require.NoError(t, st.Close())

			st = openStore(t, dir)
			defer st.Close()
			db2, err := Open(st)
			require.Error(t, err)
			require.Contains(t, err.Error(), `table "t"`)
			if t2 := db2.tables["t"]; t2 != nil {
				require.Less(t, len(t2.rows), 16, "row slots allocated")
			}
		})
	}
}
