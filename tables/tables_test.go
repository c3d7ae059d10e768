package tables

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/luxdb/lux-go/storage"
	"github.com/stretchr/testify/require"
)

// replyRec records a reply as text, for assertions.
type replyRec struct{ b strings.Builder }

func (r *replyRec) WriteArray(n int)         { fmt.Fprintf(&r.b, "[%d]", n) }
func (r *replyRec) WriteInt64(n int64)       { fmt.Fprintf(&r.b, ":%d", n) }
func (r *replyRec) WriteBulkString(s string) { fmt.Fprintf(&r.b, " %q", s) }

func bs(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func TestParseStrictNumbers(t *testing.T) {
	for _, c := range []struct {
		in string
		v  int64
		ok bool
	}{{"5", 5, true}, {"+05", 5, true}, {"-0", 0, true}, {"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false}, {"", 0, false}, {"-", 0, false}, {"1_0", 0, false}, {"0x1", 0, false},
		{" 1", 0, false}, {"1 ", 0, false}, {"1.0", 0, false}, {"١", 0, false}} {
		v, ok := parseStrictInt([]byte(c.in))
		require.Equal(t, c.ok, ok, c.in)
		require.Equal(t, c.v, v, c.in)
	}
	for _, c := range []struct {
		in, out string
		ok      bool
	}{{"1.5", "1.5", true}, {"1.50", "1.5", true}, {"-0", "0", true}, {"1e3", "1000", true}, {".5", "0.5", true},
		{"5.", "5", true}, {"inf", "inf", true}, {"-Infinity", "-inf", true}, {"+INF", "inf", true},
		{"1e21", "1e+21", true}, {"1e-7", "1e-07", true}, {"123456789012345678", "123456789012345680", true},
		{"nan", "", false}, {"NaN", "", false}, {"1e400", "", false}, {"0x1p3", "", false}, {"1_0", "", false},
		{"", "", false}, {".", "", false}, {"e5", "", false}, {"1e", "", false}, {"1e+", "", false}, {"--1", "", false}} {
		v, ok := parseStrictFloat([]byte(c.in))
		require.Equal(t, c.ok, ok, c.in)
		if ok {
			require.Equal(t, c.out, formatFloat(v), c.in)
		}
	}
}

func TestFloatFormatRoundTripAndOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var vals []float64
	for i := 0; i < 20000; i++ {
		var f float64
		switch i % 3 {
		case 0:
			f = math.Float64frombits(rng.Uint64())
		case 1:
			f = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20))
		default:
			f = float64(rng.IntN(1000)-500) / 8
		}
		if math.IsNaN(f) {
			continue
		}
		if f == 0 {
			f = 0
		}
		s := formatFloat(f)
		back, ok := parseStrictFloat([]byte(s))
		require.True(t, ok, s)
		require.Equal(t, f, back, s)
		k, ok := canonKey(TypeFloat, s)
		require.True(t, ok)
		require.Equal(t, floatKey(f), k.n)
		vals = append(vals, f)
	}
	vals = append(vals, math.Inf(1), math.Inf(-1), 0, math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64)
	for i := 0; i+1 < len(vals); i++ {
		a, b := vals[i], vals[i+1]
		require.Equal(t, a < b, floatKey(a) < floatKey(b), "%v %v", a, b)
		require.Equal(t, a == b, floatKey(a) == floatKey(b), "%v %v", a, b)
	}
	for i := 0; i < 10000; i++ {
		a, b := int64(rng.Uint64()), int64(rng.Uint64())
		require.Equal(t, a < b, intKey(a) < intKey(b))
		require.Equal(t, a, keyInt(intKey(a)))
	}
}

func TestRowEncoding(t *testing.T) {
	ents := []rowEnt{{1, "a"}, {2, ""}, {300, strings.Repeat("x", 300)}, {1 << 31, "\x00\xff"}}
	data := string(encodeRow(nil, ents))
	got, ok := decodeRow(data, nil)
	require.True(t, ok)
	require.Equal(t, ents, got)
	for _, e := range ents {
		v, ok := rowValue(data, e.fid)
		require.True(t, ok)
		require.Equal(t, e.val, v)
	}
	_, ok = rowValue(data, 3)
	require.False(t, ok)
	// corrupt rows are refused, never a panic
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20000; i++ {
		b := []byte(data)
		switch i % 3 {
		case 0:
			b = b[:rng.IntN(len(b))]
		case 1:
			b[rng.IntN(len(b))] = byte(rng.Uint32())
		default:
			b = make([]byte, rng.IntN(20))
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
		}
		decodeRow(string(b), nil)
		_, _ = rowValue(string(b), uint32(rng.IntN(4)))
	}
}

func TestIndexKeyEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	strs := []string{"", "\x00", "\x00\x00", "\x00\x01", "\x00\xff", "a", "a\x00", "a\x00b", "ab", "b", "\xff"}
	for i := 0; i < 200; i++ {
		b := make([]byte, rng.IntN(4))
		for j := range b {
			b[j] = []byte{0, 1, 'a', 0xff}[rng.IntN(4)]
		}
		strs = append(strs, string(b))
	}
	type ent struct {
		k  tv
		id int64
	}
	var ents []ent
	for _, s := range strs {
		ents = append(ents, ent{tv{s: s}, rng.Int64N(5)})
	}
	for _, e := range ents {
		enc := appendSingleEntry(nil, TypeStr, e.k, e.id)
		k, id, ok := decodeSingleEntry(TypeStr, enc)
		require.True(t, ok)
		require.Equal(t, e.k, k)
		require.Equal(t, e.id, id)
	}
	// the stored order is the in-memory order (value, then id)
	sort.Slice(ents, func(i, j int) bool {
		if ents[i].k.s != ents[j].k.s {
			return ents[i].k.s < ents[j].k.s
		}
		return ents[i].id < ents[j].id
	})
	for i := 0; i+1 < len(ents); i++ {
		a := appendSingleEntry(nil, TypeStr, ents[i].k, ents[i].id)
		b := appendSingleEntry(nil, TypeStr, ents[i+1].k, ents[i+1].id)
		require.LessOrEqual(t, bytes.Compare(a, b), 0, "%q %q", ents[i].k.s, ents[i+1].k.s)
	}
	k, id, ok := decodeSingleEntry(TypeInt, appendSingleEntry(nil, TypeInt, tv{n: intKey(-5)}, 9))
	require.True(t, ok)
	require.Equal(t, int64(-5), keyInt(k.n))
	require.Equal(t, int64(9), id)
	for _, e := range []compEnt{compEntry(1, tv{}, false, 7), compEntry(math.MaxUint64, tv{n: 3}, true, 1<<40)} {
		got, ok := decodeCompEntry(appendCompEntry(nil, e))
		require.True(t, ok)
		require.Equal(t, e, got)
	}
	for _, bad := range [][]byte{nil, {1}, make([]byte, 16), append(make([]byte, 8), 2, 0, 0, 0, 0, 0, 0, 0, 0)} {
		_, ok := decodeCompEntry(bad)
		require.False(t, ok)
		decodeSingleEntry(TypeStr, bad)
		decodeSingleEntry(TypeInt, bad)
	}
}

// TestIndexScans compares index range scans with a brute-force filter.
func TestIndexScans(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, typ := range []Type{TypeInt, TypeStr} {
		idx := newMemIndex(typ)
		type e struct {
			k  tv
			id int64
		}
		var all []e
		mk := func(v int) tv {
			if typ == TypeStr {
				return tv{s: string(rune('a' + v))}
			}
			return tv{n: intKey(int64(v - 5))}
		}
		for id := int64(1); id <= 300; id++ {
			k := mk(rng.IntN(10))
			idx.add(k, id)
			all = append(all, e{k, id})
		}
		for i := 0; i < 50; i++ {
			idx.del(all[i].k, all[i].id)
		}
		all = all[50:]
		require.Equal(t, len(all), idx.len())
		for trial := 0; trial < 300; trial++ {
			var r krange
			if rng.IntN(3) > 0 {
				r.lo = bound{k: mk(rng.IntN(12) - 1), set: true, incl: rng.IntN(2) == 0}
			}
			if rng.IntN(3) > 0 {
				r.hi = bound{k: mk(rng.IntN(12) - 1), set: true, incl: rng.IntN(2) == 0}
			}
			desc := rng.IntN(2) == 0
			var want []e
			for _, x := range all {
				if !r.below(typ, x.k) && !r.above(typ, x.k) {
					want = append(want, x)
				}
			}
			sort.Slice(want, func(i, j int) bool {
				c := cmpTV(typ, want[i].k, want[j].k)
				if c == 0 {
					c = int(want[i].id - want[j].id)
				}
				if desc {
					return c > 0
				}
				return c < 0
			})
			var got []e
			idx.scan(r, desc, func(k tv, id int64) bool { got = append(got, e{k, id}); return true })
			require.Equal(t, fmt.Sprint(want), fmt.Sprint(got), "range %+v desc %v", r, desc)
		}
	}
	// composite: rows without the numeric value sort first and match no range
	r, n := &field{fid: 1, typ: TypeRef}, &field{fid: 2, typ: TypeInt}
	c := newCompIndex(nil, nil, r, n)
	type ce struct {
		a       uint64
		b       int64
		present bool
		id      int64
	}
	var all []ce
	for id := int64(1); id <= 400; id++ {
		x := ce{a: uint64(rng.IntN(3)), b: int64(rng.IntN(8) - 4), present: rng.IntN(5) > 0, id: id}
		if !x.present {
			x.b = 0
		}
		c.add(compEntry(x.a, tv{n: intKey(x.b)}, x.present, id))
		all = append(all, x)
	}
	for trial := 0; trial < 300; trial++ {
		a := uint64(rng.IntN(3))
		var rg krange
		if rng.IntN(2) == 0 {
			rg.lo = bound{k: tv{n: intKey(int64(rng.IntN(10) - 5))}, set: true, incl: rng.IntN(2) == 0}
		}
		if rng.IntN(2) == 0 {
			rg.hi = bound{k: tv{n: intKey(int64(rng.IntN(10) - 5))}, set: true, incl: rng.IntN(2) == 0}
		}
		desc := rng.IntN(2) == 0
		var want []ce
		for _, x := range all {
			if x.a != a {
				continue
			}
			if !x.present {
				if !rg.bounded() {
					want = append(want, x)
				}
				continue
			}
			if !rg.below(TypeInt, tv{n: intKey(x.b)}) && !rg.above(TypeInt, tv{n: intKey(x.b)}) {
				want = append(want, x)
			}
		}
		sort.Slice(want, func(i, j int) bool {
			less := func(x, y ce) bool {
				if x.present != y.present {
					return !x.present
				}
				if x.present && x.b != y.b {
					return x.b < y.b
				}
				return x.id < y.id
			}
			if desc {
				return less(want[j], want[i])
			}
			return less(want[i], want[j])
		})
		var got []ce
		c.scan(a, rg, desc, func(b tv, present bool, id int64) bool {
			x := ce{a: a, present: present, id: id}
			if present {
				x.b = keyInt(b.n)
			}
			got = append(got, x)
			return true
		})
		require.Equal(t, fmt.Sprint(want), fmt.Sprint(got), "a %d range %+v desc %v", a, rg, desc)
	}
}

func TestSchemaEncoding(t *testing.T) {
	db, err := Open(nil)
	require.NoError(t, err)
	require.NoError(t, db.Create([]byte("t"), bs("a:int:unique", "b:ref(t)", "c:float", "d:str", "e:bool:unique", "f:timestamp")))
	require.NoError(t, db.Alter([]byte("t"), []byte("drop"), []byte("c")))
	tb := db.tables["t"]
	got, err := decodeSchema(nil, tb.tid, string(encodeSchema(nil, tb)))
	require.NoError(t, err)
	require.Equal(t, tb.nextFid, got.nextFid)
	require.Equal(t, len(tb.fields), len(got.fields))
	for i, f := range tb.fields {
		g := got.fields[i]
		require.Equal(t, []any{f.fid, f.name, f.typ, f.ref, f.unique, f.rank}, []any{g.fid, g.name, g.typ, g.ref, g.unique, g.rank})
	}
	require.Len(t, got.comps, 2) // (b, a), (b, f)
	enc := encodeSchema(nil, tb)
	for i := range enc {
		_, _ = decodeSchema(nil, 1, string(enc[:i])) // truncations never panic
	}
}

func openStore(t *testing.T, dir string) *storage.Store {
	t.Helper()
	s, err := storage.Open(storage.Options{Dir: dir, Sync: storage.SyncEverySec})
	require.NoError(t, err)
	return s
}

func runQuery(t *testing.T, db *DB, args ...string) string {
	t.Helper()
	var r replyRec
	require.NoError(t, db.Query(bs(args...), &r))
	return r.b.String()
}

// TestLoadReadsNoRowNorIndex: opening reads schemas, sequences and counts
// only — no row, no index entry, nothing held in memory for them — and
// serves every row and the exact counts at once; a stray key of a table
// without a schema is removed. Damage inside an index is not looked for at
// start-up: Check finds it.
func TestLoadReadsNoRowNorIndex(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	db, err := Open(st)
	require.NoError(t, err)
	require.NoError(t, db.Create([]byte("c"), bs("name:str:unique")))
	require.NoError(t, db.Create([]byte("m"), bs("c:ref(c)", "ts:int", "body:str")))
	_, err = db.Insert([]byte("c"), bs("name", "x"))
	require.NoError(t, err)
	for i := 0; i < 2000; i++ {
		_, err := db.Insert([]byte("m"), bs("c", "1", "ts", strconv.Itoa(i), "body", "b"+strconv.Itoa(i)))
		require.NoError(t, err)
	}
	require.NoError(t, db.Delete([]byte("m"), []byte("7")))
	want := runQuery(t, db, "m", "WHERE", "c", "=", "1", "ORDER", "BY", "ts", "DESC", "LIMIT", "7")
	mt := db.tables["m"]
	e, _ := rowCompEntry(mt.comps[0], mt.rows[3].data, 3)
	st.TableWrite(func(w storage.TableWriter) {
		w.Set(append(tablePrefix(nil, 999), kRow, 0, 0, 0, 0, 0, 0, 0, 1), []byte{rowFormat})
	})
	require.NoError(t, st.Close())

	st = openStore(t, dir)
	db2, err := Open(st)
	require.NoError(t, err)
	require.Len(t, db2.Repairs(), 1, "%q", db2.Repairs())
	require.Zero(t, db2.RowsRead())
	require.Zero(t, db2.MemoryBytes(), "no row, no index entry in memory")
	n, err := db2.Count([]byte("m"))
	require.NoError(t, err)
	require.Equal(t, int64(1999), n)
	require.Zero(t, db2.RowsRead(), "TCOUNT reads no row")
	require.Equal(t, want, runQuery(t, db2, "m", "WHERE", "c", "=", "1", "ORDER", "BY", "ts", "DESC", "LIMIT", "7"))
	require.Equal(t, int64(7), db2.RowsRead(), "the query read its 7 rows")
	require.NoError(t, db2.Check())
	// damage: one composite entry lost
	st.TableWrite(func(w storage.TableWriter) {
		w.Delete(appendCompEntry(compPrefix(nil, mt.tid, mt.comps[0].r.fid, mt.comps[0].n.fid), e))
	})
	require.NoError(t, st.TableWaitCommitted(st.LastSeq()))
	require.ErrorContains(t, db2.Check(), "index (c, ts) does not match the rows")
	require.NoError(t, st.Close())

	// the stray key was removed for good
	st = openStore(t, dir)
	defer st.Close()
	db3, err := Open(st)
	require.NoError(t, err)
	require.Empty(t, db3.Repairs())
}
