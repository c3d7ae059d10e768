package tables

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/luxdb/lux-go/storage"
	"github.com/stretchr/testify/require"
)

// Fuzz targets: the command parsers (TCREATE and TALTER specs, TINSERT and
// TUPDATE values, TQUERY and TEXPLAIN clauses) never panic and fail only
// with the package's RESP error lines; and the decoders of stored data
// (rows, schemas, index entries, whole stored key sets through load) never
// panic or size anything by a number they read, and fail with an error.

// fuzzArgs splits s into command arguments: at NUL bytes if s has any (so
// an argument can hold spaces, CR, LF...), otherwise at white space.
func fuzzArgs(s string) [][]byte {
	var parts []string
	if strings.IndexByte(s, 0) >= 0 {
		parts = strings.Split(s, "\x00")
	} else {
		parts = strings.Fields(s)
	}
	return bs(parts...)
}

// checkErr fails unless err is nil or one of the package's errors: a single
// RESP error line "ERR ...", of bounded length whatever the input.
func checkErr(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e Error
	require.True(t, errors.As(err, &e), "not a tables.Error: %T %v", err, err)
	s := string(e)
	require.True(t, strings.HasPrefix(s, "ERR "), "%q", s)
	require.False(t, strings.ContainsAny(s, "\r\n"), "%q", s)
	require.LessOrEqual(t, len(s), 4*maxEcho+200, "%q", s)
}

// run executes one command line (as the server would after the command
// name's lookup) and checks its error.
func run(t testing.TB, db *DB, args [][]byte) error {
	t.Helper()
	if len(args) == 0 {
		return nil
	}
	var err error
	rest := args[1:]
	arg := func(i int) []byte {
		if i < len(rest) {
			return rest[i]
		}
		return nil
	}
	var r replyRec
	switch strings.ToLower(string(args[0])) {
	case "tcreate":
		err = db.Create(arg(0), rest[min(1, len(rest)):])
	case "tinsert":
		_, err = db.Insert(arg(0), rest[min(1, len(rest)):])
	case "tupdate":
		err = db.Update(arg(0), arg(1), rest[min(2, len(rest)):])
	case "tdel":
		err = db.Delete(arg(0), arg(1))
	case "tget":
		err = db.Get(arg(0), arg(1), &r)
	case "talter":
		err = db.Alter(arg(0), arg(1), arg(2))
	case "tdrop":
		err = db.Drop(arg(0))
	case "tquery":
		if len(rest) > 0 {
			err = db.Query(rest, &r)
		}
	case "texplain":
		if len(rest) > 0 {
			_, err = db.Explain(rest)
		}
	}
	checkErr(t, err)
	return err
}

// runScript runs one command per line (see fuzzArgs for the arguments),
// checking the engine's invariants after each.
func runScript(t *testing.T, db *DB, script string) {
	for _, line := range strings.Split(script, "\n") {
		run(t, db, fuzzArgs(line))
		checkDB(t, db, true)
	}
}

// checkDB verifies every table: rows decode, the count, the indexes hold
// exactly the rows' values (as load verifies them), names and field ids
// agree. canonical: stored values are also in canonical form (true for
// anything commands wrote; loading accepts any text that parses).
func checkDB(t *testing.T, db *DB, canonical bool) {
	t.Helper()
	require.Len(t, db.names, len(db.tables))
	for _, name := range db.names {
		tb := db.tables[name]
		require.NotNil(t, tb, name)
		require.Equal(t, name, tb.name)
		require.LessOrEqual(t, len(tb.byFid), denseFids)
		require.Len(t, tb.byName, len(tb.fields))
		require.Len(t, tb.byRank, len(tb.fields))
		for _, f := range tb.fields {
			require.Same(t, f, tb.byName[f.name])
			require.Same(t, f, tb.fieldOf(f.fid))
			require.Less(t, f.fid, tb.nextFid)
			require.Equal(t, singleWanted(f, tb.wantedComps()), f.idx != nil, "index of %s", f.name)
		}
		require.LessOrEqual(t, len(tb.comps), maxComps)
		count := 0
		withField := map[uint32]int{}
		for _, r := range rowList(t, db, tb) {
			id, data := r.id, r.data
			require.NotZero(t, id)
			count++
			ents, ok := decodeRow(data, nil)
			require.True(t, ok, "row %d %q", id, data)
			for i, e := range ents {
				if i > 0 {
					require.Less(t, ents[i-1].fid, e.fid, "row %d fids", id)
				}
				f := tb.fieldOf(e.fid)
				require.NotNil(t, f, "row %d holds fid %d", id, e.fid)
				withField[e.fid]++
				k, ok := canonKey(f.typ, e.val)
				require.True(t, ok, "row %d %s=%q", id, f.name, e.val)
				if canonical && f.typ != TypeStr {
					canon, k2, err := parseValue(f, []byte(e.val), 0)
					require.NoError(t, err)
					require.Equal(t, e.val, canon)
					require.Equal(t, k, k2)
				}
				if f.idx != nil {
					other, held, err := f.idx.other(k, 0)
					require.NoError(t, err)
					require.True(t, held, "row %d %s=%q not in its index", id, f.name, e.val)
					if f.unique && canonical {
						require.Equal(t, int64(id), other, "unique %s=%q", f.name, e.val)
					}
				}
			}
			for _, c := range tb.comps {
				if e, ok := rowCompEntry(c, data, int64(id)); ok {
					has := false
					require.NoError(t, c.all(func(g compEnt) bool { has = g == e; return !has }))
					require.True(t, has, "row %d not in (%s, %s)", id, c.r.name, c.n.name)
				}
			}
		}
		require.Equal(t, count, tb.count)
		for _, f := range tb.fields {
			if f.idx != nil {
				require.Equal(t, withField[f.fid], f.idx.len(), "index %s", f.name)
			}
		}
		for _, c := range tb.comps {
			n := 0
			require.NoError(t, c.all(func(compEnt) bool { n++; return true }))
			require.Equal(t, withField[c.r.fid], n, "index (%s, %s)", c.r.name, c.n.name)
		}
		require.NoError(t, db.Check())
	}
}

// idRow is one row of a table.
type idRow struct {
	id   int64
	data string
}

// rowList is every row of tb in id order, read through db (from memory or
// from the store).
// (t nil: a read error panics).
func rowList(t testing.TB, db *DB, tb *table) []idRow {
	var out []idRow
	err := db.forEachRow(tb, func(id int64, data string) bool {
		out = append(out, idRow{id, data})
		return true
	})
	if t == nil && err != nil {
		panic(err)
	}
	if t != nil {
		t.Helper()
		require.NoError(t, err)
	}
	return out
}

// sameDB requires b to hold a's tables exactly.
func sameDB(t *testing.T, a, b *DB) {
	t.Helper()
	require.True(t, slices.Equal(a.names, b.names), "%q %q", a.names, b.names)
	require.Equal(t, a.nextTid, b.nextTid)
	for _, name := range a.names {
		ta, tb := a.tables[name], b.tables[name]
		require.Equal(t, encodeSchema(nil, ta), encodeSchema(nil, tb), name)
		require.Equal(t, ta.tid, tb.tid)
		require.Equal(t, ta.seq, tb.seq)
		require.Equal(t, ta.count, tb.count)
		rowsOf := func(d *DB, tt *table) map[int64]string {
			m := map[int64]string{}
			for _, r := range rowList(t, d, tt) {
				m[r.id] = r.data
			}
			return m
		}
		require.Equal(t, rowsOf(a, ta), rowsOf(b, tb), name)
	}
}

// fuzzSchemaSetup is the schema the write and query targets start from:
// every type, unique fields, refs to another table and to itself
// (composite indexes).
var fuzzSchemaSetup = []string{
	"tcreate u name:str:unique age:int score:float ok:bool at:timestamp",
	"tcreate m u:ref(u) ts:timestamp body:str n:int:unique f:float p:ref(m)",
	"tinsert u name ann age 30 score 1.5 ok true at 1000",
	"tinsert u name bob age -4 score -inf ok 0",
	"tinsert m u 1 ts 5 body hi n 1 f 0.5 p 1",
	"tinsert m u 2 ts 6 body yo n 2 p 1",
	"tinsert m u 1 ts 5 body x",
}

func fuzzDB(t testing.TB) *DB {
	db, _ := Open(nil)
	db.Now = func() int64 { return 1700000000000 }
	for _, line := range fuzzSchemaSetup {
		require.NoError(t, run(t, db, fuzzArgs(line)), line)
	}
	return db
}

// ---- command parsers ----

// FuzzQuery: no argument list makes TQUERY or TEXPLAIN panic or fail with
// anything but an ERR line, the two agree, and LIMIT holds.
func FuzzQuery(f *testing.F) {
	f.Add("WHERE a = 1 AND b > x ORDER BY a DESC LIMIT 3 JOIN r")
	f.Add("WHERE f < nan")
	f.Add("ORDER BY")
	f.Add("LIMIT 99999999999999999999 JOIN")
	f.Add("WHERE r = 1 ORDER BY n DESC LIMIT 0")
	f.Add("where b != true and s >= \x00")
	f.Add("WHERE r = 1 AND n >= 0 AND n < 1 ORDER BY n ASC LIMIT 2")
	f.Add("WHERE a >= 2 ORDER BY a DESC")
	f.Add("WHERE s\x00=\x00x\r\ny\x00ORDER\x00BY\x00f")
	f.Add("WHERE n = * AND f > -inf ORDER BY s LIMIT 1 JOIN r JOIN r")
	f.Add("WHERE f > 1e400")
	f.Add("WHERE\x00" + strings.Repeat("x", 300) + "\x00=\x001")
	f.Add("LIMIT -1")
	f.Fuzz(func(t *testing.T, q string) {
		db, _ := Open(nil)
		db.Now = func() int64 { return 1 }
		if db.Create([]byte("t"), bs("a:int:unique", "b:bool", "s:str", "f:float", "n:timestamp", "r:ref(t)")) != nil {
			t.Fatal("create")
		}
		for i := 0; i < 5; i++ {
			_, err := db.Insert([]byte("t"), bs("a", strconv.Itoa(i), "b", "1", "s", "x", "f", "1.5", "n", strconv.Itoa(i%2), "r", "1"))
			require.NoError(t, err)
		}
		args := append(bs("t"), fuzzArgs(q)...)
		var r replyRec
		qerr := db.Query(args, &r)
		checkErr(t, qerr)
		lines, eerr := db.Explain(args)
		require.Equal(t, qerr, eerr)
		if qerr != nil {
			return
		}
		reply := r.b.String()
		n, err := strconv.Atoi(reply[1:strings.IndexByte(reply, ']')])
		require.NoError(t, err, reply)
		require.Equal(t, "rows returned: "+strconv.Itoa(n), lines[len(lines)-1])
		q2, _ := db.parseQuery(args)
		if q2.limit >= 0 {
			require.LessOrEqual(t, int64(n), q2.limit)
		}
		require.LessOrEqual(t, n, 5)
	})
}

// FuzzCreate: TCREATE with any name and specs, then TALTER actions, fails
// with an ERR line or makes a table whose schema survives its stored
// encoding and TSCHEMA's specs (which TCREATE accepts back unchanged).
func FuzzCreate(f *testing.F) {
	f.Add("t", "a:int b:str:unique c:ref(t) d:float e:bool f:timestamp", "add g:int drop c add c:ref(t):unique")
	f.Add("t", "a:int a:str", "")
	f.Add("t", "a:ref() b:ref(x y) c:ref(ok):unique:x", "")
	f.Add("t", "a:int", "drop a drop a add a:bool")
	f.Add("Tbl_9", "x:ref(Tbl_9):unique y:int z:float", "add w:timestamp ADD v:ref(Tbl_9) Drop x")
	f.Add("bad name", "a:int", "")
	f.Add("t", "a:int:unique:extra :int a: a:: a:str:UNIQUE", "remove a")
	f.Add("t", "a\x00b:ref(t)\x00c:int", "add\x00d:int\x00drop\x00a\r\n")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, name, specs, alters string) {
		db, _ := Open(nil)
		err := db.Create([]byte(name), fuzzArgs(specs))
		checkErr(t, err)
		if err != nil {
			require.Nil(t, db.tables[name])
			return
		}
		checkSchema(t, db, name)
		checkErr(t, db.Create([]byte(name), nil))
		// a row, so that TALTER builds indexes from something
		_, err = db.Insert([]byte(name), nil)
		require.NoError(t, err)
		as := fuzzArgs(alters)
		for i := 0; i+1 < len(as); i += 2 {
			checkErr(t, db.Alter([]byte(name), as[i], as[i+1]))
			checkSchema(t, db, name)
			checkDB(t, db, true)
		}
	})
}

// checkSchema: table name's schema round-trips through its stored encoding
// and through TSCHEMA + TCREATE.
func checkSchema(t *testing.T, db *DB, name string) {
	t.Helper()
	tb := db.tables[name]
	require.NotNil(t, tb)
	enc := encodeSchema(nil, tb)
	back, err := decodeSchema(nil, tb.tid, string(enc))
	require.NoError(t, err)
	require.Equal(t, enc, encodeSchema(nil, back))
	require.Equal(t, len(tb.comps), len(back.comps))
	specs, err := db.Schema([]byte(name))
	require.NoError(t, err)
	backSpecs := make([]string, len(back.fields))
	for i, f := range back.fields {
		backSpecs[i] = f.spec()
	}
	require.Equal(t, specs, backSpecs)
	db2, _ := Open(nil)
	require.NoError(t, db2.Create([]byte(name), bs(specs...)))
	specs2, err := db2.Schema([]byte(name))
	require.NoError(t, err)
	require.Equal(t, specs, specs2)
}

// FuzzWrite: TINSERT, TUPDATE, TDEL, TALTER and TQUERY lines in any order
// with any values keep every invariant, and the stored form of the result
// loads back to the same tables, with nothing to repair.
func FuzzWrite(f *testing.F) {
	f.Add("tinsert u name cid age 7 score 2 ok false at *\ntget u 3")
	f.Add("tinsert u name ann\ntinsert u name x age 1.5\ntinsert u age 99999999999999999999")
	f.Add("tupdate u 1 name bob\ntupdate u 1 name ann age +07 score 1e3 ok 1 at -0\ntupdate u 9 age 1")
	f.Add("tinsert m u 3 ts 1\ntinsert m u 2 p 4 n 3\ntinsert m u 1 p 9")
	f.Add("tdel u 1\ntdel u 2\ntdel m 2\ntdel m 1\ntdel u 1\ntdel m x")
	f.Add("talter m drop ts\ntalter m add ts:float\ntupdate m 1 ts 2.5\ntquery m WHERE u = 1 ORDER BY ts DESC")
	f.Add("talter u add r:ref(m)\ntupdate u 1 r 1\ntdel m 1\ntdrop m\ntdrop u")
	f.Add("tinsert u\x00name\x00a b\r\nc\x00score\x00 1\ntinsert m\x00body\x00\x00")
	f.Add("tupdate m 3 n 1\ntupdate m 3 n 3 n 2\ntupdate m 1 f nan f -0 f 1E-7")
	f.Add("tinsert u name " + strings.Repeat("z", 200) + " age 9223372036854775807 at -9223372036854775808")
	f.Fuzz(func(t *testing.T, script string) {
		db := fuzzDB(t)
		runScript(t, db, script)
		back, err := loadKVs(t, dump(db))
		require.NoError(t, err)
		require.Empty(t, back.Repairs())
		sameDB(t, db, back)
		checkDB(t, back, true)
	})
}

// TestDumpIsWhatIsStored: dump (which the fuzz targets use for the stored
// form) matches what a persistent store holds after the same commands.
func TestDumpIsWhatIsStored(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	db, err := Open(st)
	require.NoError(t, err)
	db.Now = func() int64 { return 1700000000000 }
	for _, line := range append(fuzzSchemaSetup,
		"tupdate m 3 ts 9 n 7", "tdel m 2", "tinsert u name cy at *", "talter u add r:ref(m)", "tupdate u 3 r 1", "tdel u 2") {
		require.NoError(t, run(t, db, fuzzArgs(line)), line)
	}
	var stored []kv
	require.NoError(t, st.TableScan(nil, func(k, v []byte) bool {
		stored = append(stored, kv{slices.Clone(k), slices.Clone(v)})
		return true
	}))
	require.Equal(t, stored, dump(db))
}

// TestLoadOldStateKeys: a directory written before the state key (keys.go)
// kept the last id at 0x02 and the counts at 0x05, or the last id alone
// (before counts were). It loads to the same tables, and its stored form
// becomes the current one: the state key, no old keys.
func TestLoadOldStateKeys(t *testing.T) {
	for _, withCounts := range []bool{true, false} {
		t.Run(fmt.Sprintf("counts=%v", withCounts), func(t *testing.T) {
			dir := t.TempDir()
			st := openStore(t, dir)
			db, err := Open(st)
			require.NoError(t, err)
			db.Now = func() int64 { return 1700000000000 }
			for _, line := range append(fuzzSchemaSetup, "tdel m 2", "tdel u 2") {
				require.NoError(t, run(t, db, fuzzArgs(line)), line)
			}
			want := dump(db)
			st.TableWrite(func(w storage.TableWriter) {
				for _, name := range db.names {
					tb := db.tables[name]
					w.Delete(stateKey(nil, tb.tid))
					w.Set(seqKey(nil, tb.tid), binary.BigEndian.AppendUint64(nil, uint64(tb.seq)))
					if withCounts {
						w.Set(countKey(nil, tb.tid), tb.appendCounts(nil))
					}
				}
			})
			require.NoError(t, st.Close())

			st = openStore(t, dir)
			defer st.Close()
			db2, err := Open(st)
			require.NoError(t, err)
			defer db2.Close()
			require.Equal(t, want, dump(db2))
			require.NoError(t, db2.Check())
			require.NoError(t, st.TableWaitCommitted(st.LastSeq()))
			var stored []kv
			require.NoError(t, st.TableScan(nil, func(k, v []byte) bool {
				stored = append(stored, kv{slices.Clone(k), slices.Clone(v)})
				return true
			}))
			require.Equal(t, want, stored)
			id, err := db2.Insert([]byte("m"), bs("u", "1", "ts", "7", "body", "z"))
			require.NoError(t, err)
			require.Equal(t, int64(4), id, "ids go on after the loaded last id")
		})
	}
}

// ---- stored data ----

// FuzzLoad: any stored key set loads without panicking, with the sequence
// bounded by maxRowID, or fails with an error. What loads serves queries
// and reads (damaged rows and entries are error replies, never panics);
// what also passes Check keeps every invariant, and its own stored form
// loads back to the same tables.
func FuzzLoad(f *testing.F) {
	defer func(v int64) { maxRowID = v }(maxRowID)
	maxRowID = 1 << 12 // the 2^48 of real stores would take the machine's memory
	db := fuzzDB(f)
	for _, line := range []string{"tupdate m 3 ts 9 n 7", "tdel m 2", "talter u add r:ref(m)", "tupdate u 2 r 1"} {
		require.NoError(f, run(f, db, fuzzArgs(line)))
	}
	good := dump(db)
	f.Add(encodeKVs(good))
	for i := range good {
		// each key dropped, each value cut
		f.Add(encodeKVs(slices.Delete(slices.Clone(good), i, i+1)))
		short := slices.Clone(good)
		short[i].v = short[i].v[:len(short[i].v)/2]
		f.Add(encodeKVs(short))
	}
	f.Add(encodeKVs(append(slices.Clone(good), kv{rowKey(nil, 1, 1<<40), []byte{rowFormat}})))
	f.Add(encodeKVs([]kv{{[]byte("N"), []byte{0, 0, 0, 0, 255, 255, 255, 255}}, {[]byte("T\xff\xff\xff\xff\x01"), nil}, {[]byte("x"), nil}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		defer func(v int64) { maxRowID = v }(maxRowID)
		maxRowID = 1 << 12
		kvs := decodeKVs(data)
		db, err := loadKVs(t, kvs)
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "tables: "), "%v", err)
			for _, tb := range db.tables {
				require.LessOrEqual(t, len(tb.byFid), denseFids)
			}
			return
		}
		for _, name := range db.names {
			tb := db.tables[name]
			require.LessOrEqual(t, tb.seq, maxRowID)
			var r replyRec
			checkErr(t, db.Query(bs(name), &r))
			for id := int64(0); id <= min(tb.seq+1, 64); id++ {
				checkErr(t, db.Get([]byte(name), []byte(strconv.FormatInt(id, 10)), &r))
			}
		}
		if db.Check() != nil {
			return
		}
		checkDB(t, db, false)
		back, err := loadKVs(t, dump(db))
		require.NoError(t, err)
		require.Empty(t, back.Repairs())
		sameDB(t, db, back)
	})
}

// FuzzDecodeRow: decodeRow never panics, what it accepts re-encodes to a
// row that decodes the same, and rowValue agrees with it.
func FuzzDecodeRow(f *testing.F) {
	f.Add(string(encodeRow(nil, []rowEnt{{1, "a"}, {2, ""}, {300, "x\x00y"}})))
	f.Add(string(encodeRow(nil, nil)))
	f.Add("")
	f.Add("\x01\x80")
	f.Add("\x01\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")
	f.Add("\x01\xff\xff\xff\xff\x10\x00")
	f.Add("\x01\x02\x00\x01\x01")
	f.Add("\x02\x01\x00")
	f.Fuzz(func(t *testing.T, data string) {
		ents, ok := decodeRow(data, nil)
		for fid := uint32(0); fid < 4; fid++ {
			rowValue(data, fid) // any bytes: no panic
		}
		if !ok {
			return
		}
		require.LessOrEqual(t, 2*len(ents), len(data))
		enc := encodeRow(nil, ents)
		back, ok := decodeRow(string(enc), nil)
		require.True(t, ok)
		require.Equal(t, ents, back)
		for i, e := range ents {
			if i > 0 {
				require.Less(t, ents[i-1].fid, e.fid)
			}
			v, has := rowValue(data, e.fid)
			require.True(t, has)
			require.Equal(t, e.val, v)
		}
	})
}

// FuzzDecodeSchema: decodeSchema never panics or sizes anything by a field
// id; what it accepts is a consistent table whose encoding is stable.
func FuzzDecodeSchema(f *testing.F) {
	db, _ := Open(nil)
	for _, line := range fuzzSchemaSetup[:2] {
		require.NoError(f, run(f, db, fuzzArgs(line)))
	}
	for _, name := range db.names {
		f.Add(string(encodeSchema(nil, db.tables[name])))
	}
	tb := newTable(1, "t")
	tb.nextFid = math.MaxUint32
	tb.attachField(&field{fid: math.MaxUint32 - 1, name: "a", typ: TypeRef, ref: "t"})
	f.Add(string(encodeSchema(nil, tb)))
	f.Add("")
	f.Add("\x01\x01t\x05\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")
	f.Add("\x01\x01t\x03\x02\x01\x01a\x02\x00\x00\x01\x01a\x02\x00\x00")
	f.Fuzz(func(t *testing.T, data string) {
		tb, err := decodeSchema(nil, 9, data)
		if err != nil {
			require.ErrorIs(t, err, errCorrupt)
			return
		}
		require.LessOrEqual(t, len(tb.byFid), denseFids)
		require.LessOrEqual(t, len(tb.fields), len(data))
		require.True(t, validName([]byte(tb.name)))
		for _, f := range tb.fields {
			require.Same(t, f, tb.fieldOf(f.fid))
			require.Same(t, f, tb.byName[f.name])
			require.NotZero(t, f.fid)
			require.Less(t, f.fid, tb.nextFid)
		}
		require.LessOrEqual(t, len(tb.comps), maxComps)
		enc := encodeSchema(nil, tb)
		back, err := decodeSchema(nil, 9, string(enc))
		require.NoError(t, err)
		require.Equal(t, enc, encodeSchema(nil, back))
	})
}

// FuzzDecodeIndexEntry: the index entry decoders never panic, and what they
// accept re-encodes to an entry that decodes the same.
func FuzzDecodeIndexEntry(f *testing.F) {
	for _, typ := range []Type{TypeStr, TypeInt, TypeFloat, TypeBool, TypeTimestamp, TypeRef} {
		f.Add(uint8(typ), appendSingleEntry(nil, typ, tv{n: 42, s: "a\x00b\x00"}, 7))
	}
	f.Add(uint8(0), appendCompEntry(nil, compEntry(intKey(3), tv{n: 9}, true, 5)))
	f.Add(uint8(0), appendCompEntry(nil, compEntry(intKey(3), tv{}, false, 5)))
	f.Add(uint8(TypeStr), []byte("\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01"))
	f.Add(uint8(TypeStr), []byte("\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01"))
	f.Add(uint8(TypeStr), []byte("\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, typ uint8, data []byte) {
		ty := Type(typ % 8)
		if k, id, ok := decodeSingleEntry(ty, data); ok {
			enc := appendSingleEntry(nil, ty, k, id)
			k2, id2, ok := decodeSingleEntry(ty, enc)
			require.True(t, ok)
			require.Equal(t, k, k2)
			require.Equal(t, id, id2)
			if ty == TypeStr {
				require.Equal(t, data, enc) // the escaping is one-to-one
			}
		}
		if e, ok := decodeCompEntry(data); ok {
			e2, ok := decodeCompEntry(appendCompEntry(nil, e))
			require.True(t, ok)
			require.Equal(t, e, e2)
		}
	})
}
