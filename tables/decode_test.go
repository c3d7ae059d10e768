package tables

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
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

	got, err := decodeSchema(nil, 7, string(enc))
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
				w.Set(rowKey(nil, tb.tid, c.id), []byte(tb.rows[1].data))
				if c.seq != nil {
					w.Set(stateKey(nil, tb.tid), tb.appendCounts(slices.Clone(c.seq)))
				}
			})
			require.NoError(t, st.Close())

			st = openStore(t, dir)
			defer st.Close()
			db2, err := Open(st)
			defer db2.Close()
			if c.seq == nil {
				require.NoError(t, err)
				_, err := getRow(t, db2, "t", c.id)
				require.Equal(t, errRowNotFound(c.id, "t"), err)
				require.NoError(t, db2.Check())
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), `table "t"`)
		})
	}
}

// TestLoadTableIDOutOfRange: a stored key of table id 2^32-1 made the next
// table id wrap to 0 (and a next-table-id record near 2^32 let it wrap at
// the next TCREATEs), so new tables would be given the ids, and share the
// stored keys, of existing ones. Table ids come one per TCREATE: the loaded
// ones are bounded far below the wrap, and anything larger is damage.
func TestLoadTableIDOutOfRange(t *testing.T) {
	db, _ := Open(nil)
	require.NoError(t, db.Create([]byte("a"), bs("x:int:unique")))
	require.NoError(t, db.Create([]byte("b"), bs("r:ref(a)", "y:float")))
	_, err := db.Insert([]byte("a"), bs("x", "1"))
	require.NoError(t, err)
	_, err = db.Insert([]byte("b"), bs("r", "1", "y", "2"))
	require.NoError(t, err)
	good := dump(db)
	_, err = loadKVs(t, good)
	require.NoError(t, err)
	for _, extra := range []kv{
		{[]byte("T\xff\xff\xff\xff0"), nil},
		{[]byte("T\x80\x00\x00\x00\x01"), encodeSchema(nil, newTable(1<<31, "z"))},
		{[]byte("N"), []byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}},
		{[]byte("N"), []byte{0, 0, 0, 1, 0, 0, 0, 5}},
	} {
		kvs := slices.DeleteFunc(slices.Clone(good), func(e kv) bool { return bytes.Equal(e.k, extra.k) })
		_, err := loadKVs(t, sortKVs(append(kvs, extra)))
		require.Error(t, err, "%q", extra.k)
	}
	// TCREATE stops where loading would
	big := newTable(1<<31-2, "z")
	db2, err := loadKVs(t, sortKVs(append(slices.Clone(good), kv{schemaKey(nil, big.tid), encodeSchema(nil, big)})))
	require.NoError(t, err)
	require.NoError(t, db2.Create([]byte("y"), nil))
	require.Equal(t, uint32(1<<31-1), db2.tables["y"].tid)
	require.Equal(t, ErrTableIDs, db2.Create([]byte("x"), nil))
}

// TestDecodeRowFieldOrder: rows are written with strictly ascending field
// ids (rowValue stops at the first larger one, TUPDATE binary-searches
// them); a stored row out of order or with a field twice loaded as is, and
// its values then disagreed with its index entries, or got duplicated by
// the next TUPDATE. It is corrupt: reading it is an error.
func TestDecodeRowFieldOrder(t *testing.T) {
	for _, data := range []string{"\x01\x02\x01a\x01\x01b", "\x01\x01\x01a\x01\x01b"} {
		_, ok := decodeRow(data, nil)
		require.False(t, ok, "%q", data)
	}
	ents, ok := decodeRow("\x01\x01\x01a\x02\x01b", nil)
	require.True(t, ok)
	require.Equal(t, []rowEnt{{1, "a"}, {2, "b"}}, ents)

	db, _ := Open(nil)
	require.NoError(t, db.Create([]byte("a"), bs("x:int:unique", "y:int")))
	_, err := db.Insert([]byte("a"), bs("x", "1", "y", "2"))
	require.NoError(t, err)
	kvs := dump(db)
	for i := range kvs {
		if bytes.Equal(kvs[i].k, rowKey(nil, 1, 1)) {
			kvs[i].v = []byte("\x01\x02\x012\x01\x011")
		}
	}
	db2, err := loadKVs(t, kvs)
	require.NoError(t, err, "loading reads no row")
	_, err = getRow(t, db2, "a", 1)
	require.ErrorContains(t, err, "reading row 1 of table 'a'")
	require.ErrorContains(t, db2.Check(), "row 1")
}

// ---- stored form (also used by the fuzz targets) ----

type kv struct{ k, v []byte }

// dump is the stored key set of db's in-memory state, in key order: what
// the store holds after the commands that made it (TestDumpIsWhatIsStored).
func dump(db *DB) []kv {
	var out []kv
	set := func(k, v []byte) { out = append(out, kv{k, v}) }
	set([]byte{kNextTable}, binary.BigEndian.AppendUint64(nil, uint64(db.nextTid)))
	for _, name := range db.names {
		tb := db.tables[name]
		set(schemaKey(nil, tb.tid), encodeSchema(nil, tb))
		set(stateKey(nil, tb.tid), tb.appendCounts(binary.BigEndian.AppendUint64(nil, uint64(tb.seq))))
		for _, r := range rowList(nil, db, tb) {
			id, data := r.id, r.data
			set(rowKey(nil, tb.tid, int64(id)), []byte(data))
			for _, f := range tb.fields {
				if v, ok := rowValue(data, f.fid); ok && f.idx != nil {
					k, _ := canonKey(f.typ, v)
					set(appendSingleEntry(singlePrefix(nil, tb.tid, f.fid), f.typ, k, int64(id)), []byte{})
				}
			}
			for _, c := range tb.comps {
				if e, ok := rowCompEntry(c, data, int64(id)); ok {
					set(appendCompEntry(compPrefix(nil, tb.tid, c.r.fid, c.n.fid), e), []byte{})
				}
			}
		}
	}
	sortKVs(out)
	return out
}

// sortKVs sorts by key and keeps the first of equal keys, as a store would
// hold them.
func sortKVs(kvs []kv) []kv {
	slices.SortStableFunc(kvs, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
	return slices.CompactFunc(kvs, func(a, b kv) bool { return bytes.Equal(a.k, b.k) })
}

// loadKVs stores kvs in a new in-memory store and opens an engine on it
// (both closed when tb ends). Loading reads no row: the error is about
// schemas, sequences and counts only (db.Check reads the rest).
func loadKVs(tb testing.TB, kvs []kv) (*DB, error) {
	st, err := storage.Open(storage.Options{Dir: "/kvs", Sync: storage.SyncEverySec, FS: vfs.NewMem()})
	require.NoError(tb, err)
	st.TableWrite(func(w storage.TableWriter) {
		for _, e := range kvs {
			w.Set(e.k, e.v)
		}
	})
	db, err := Open(st)
	tb.Cleanup(func() {
		db.Close()
		st.Close()
	})
	return db, err
}

// encodeKVs is the fuzz input form of a key set: uvarint(len) key
// uvarint(len) value, again and again.
func encodeKVs(kvs []kv) []byte {
	var b []byte
	for _, e := range kvs {
		b = binary.AppendUvarint(b, uint64(len(e.k)))
		b = append(b, e.k...)
		b = binary.AppendUvarint(b, uint64(len(e.v)))
		b = append(b, e.v...)
	}
	return b
}

// decodeKVs is encodeKVs' inverse (a truncated record ends the set), sorted
// and without duplicate keys like a store's scan.
func decodeKVs(b []byte) []kv {
	var kvs []kv
	for {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			break
		}
		k := b[w : w+int(n)]
		b = b[w+int(n):]
		n, w = binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			break
		}
		kvs = append(kvs, kv{k, b[w : w+int(n)]})
		b = b[w+int(n):]
	}
	return sortKVs(kvs)
}
