package tables

import (
	"bytes"
	"errors"
	"sort"
	"sync/atomic"
)

// field is one column of a table.
type field struct {
	fid    uint32 // never reused within the table: stored rows name fields by fid
	name   string
	typ    Type
	ref    string // target table of a ref field
	unique bool
	rank   int         // position in name order (replies list fields sorted by name)
	idx    singleIndex // unique and ref fields; nil otherwise

	mark uint64 // scratch for DB.parsePairs (under the write lock)
	slot int
}

// spec renders the field as TSCHEMA lists it.
func (f *field) spec() string {
	t := f.typ.String()
	if f.typ == TypeRef {
		t = "ref(" + f.ref + ")"
	}
	s := f.name + ":" + t
	if f.unique {
		s += ":unique"
	}
	return s
}

// singleWanted reports whether f gets a single-field index: unique fields
// do, and ref fields that no composite index leads with (a composite (r, n)
// holds every row that has r, so it answers r = X and the RESTRICT checks
// too, and one index less is one Pebble write less per insert).
func singleWanted(f *field, comps [][2]*field) bool {
	if f.unique {
		return true
	}
	if f.typ != TypeRef {
		return false
	}
	for _, c := range comps {
		if c[0] == f {
			return false
		}
	}
	return true
}

// compOf returns a composite index leading with ref field f, if any.
func (t *table) compOf(f *field) *compIndex {
	for _, c := range t.comps {
		if c.r == f {
			return c
		}
	}
	return nil
}

// initIndexes creates the (empty) indexes of a new or loaded schema.
// db (nil: in memory) decides whether they are stored or in memory.
func (t *table) initIndexes(db *DB) {
	want := t.wantedComps()
	for _, rn := range want {
		t.comps = append(t.comps, newCompIndex(db, t, rn[0], rn[1]))
	}
	for _, f := range t.fields {
		if singleWanted(f, want) {
			f.idx = newSingleIndex(db, t, f)
		}
	}
}

// maxRowID bounds a table's id sequence as loaded from disk: 2^48 inserts
// are out of reach, a larger stored sequence is damage.
// (A variable so that tests can load with a small limit.)
var maxRowID int64 = 1 << 48

// maxTableID bounds internal table ids, one per TCREATE and never reused:
// far below the uint32 wrap, after which new tables would share the stored
// keys of old ones. Loading refuses larger ids as damage.
const maxTableID = 1 << 31

// table is one table: schema, resident rows, indexes.
type table struct {
	tid     uint32 // internal id, the prefix of every stored key of the table
	name    string
	fields  []*field // declaration order
	byName  map[string]*field
	byFid   []*field          // indexed by fid (fids below denseFids); nil for dropped fids
	farFid  map[uint32]*field // fields numbered denseFids and up
	byRank  []*field          // name order
	nextFid uint32
	seq     int64 // last id handed out
	// rows are the resident rows by id and, with persistence, tombstones
	// of deletions not committed yet (cache.go), under DB.cmu. Without
	// persistence every row is resident.
	rows    map[int64]*rowBody
	evicted int // rows evicted since rows was last copied (under DB.cmu)
	count   int
	comps   []*compIndex // one per (ref field, int/float/timestamp field)

	pinned  int64        // bytes counted for in-memory indexes (write lock)
	ovMem   int64        // bytes counted for the overlays of stored indexes (write lock)
	cached  atomic.Int64 // bytes counted for the resident rows and tombstones
	dropped bool         // removed by TDROP or a flush (under DB.cmu and the write lock)
}

func newTable(tid uint32, name string) *table {
	return &table{tid: tid, name: name, byName: map[string]*field{}, nextFid: 1, rows: map[int64]*rowBody{}}
}

// addField appends f to the schema (it gets the next fid); indexes are the
// caller's business (initIndexes, DB.reconcileIndexes), and so is calling
// rerank once all fields are in.
func (t *table) addField(f *field) {
	f.fid = t.nextFid
	t.nextFid++
	t.attachField(f)
}

// denseFids bounds byFid: a field id is any uint32 (TALTER ADD hands out a
// new one each time, and a damaged stored schema may hold any value), and a
// slice indexed by it must not grow to 2^32 pointers for one such field.
const denseFids = 1024

// attachField adds an already numbered field (loading a schema).
func (t *table) attachField(f *field) {
	t.fields = append(t.fields, f)
	t.byName[f.name] = f
	if f.fid >= denseFids {
		if t.farFid == nil {
			t.farFid = map[uint32]*field{}
		}
		t.farFid[f.fid] = f
		return
	}
	for uint32(len(t.byFid)) <= f.fid {
		t.byFid = append(t.byFid, nil)
	}
	t.byFid[f.fid] = f
}

// fieldOf returns the live field numbered fid, or nil.
func (t *table) fieldOf(fid uint32) *field {
	if fid < uint32(len(t.byFid)) {
		return t.byFid[fid]
	}
	return t.farFid[fid]
}

func (t *table) removeField(f *field) {
	for i, g := range t.fields {
		if g == f {
			t.fields = append(t.fields[:i:i], t.fields[i+1:]...)
			break
		}
	}
	delete(t.byName, f.name)
	if f.fid < uint32(len(t.byFid)) {
		t.byFid[f.fid] = nil
	} else {
		delete(t.farFid, f.fid)
	}
	f.idx = nil
}

func (t *table) rerank() {
	t.byRank = append(t.byRank[:0], t.fields...)
	sort.Slice(t.byRank, func(i, j int) bool { return t.byRank[i].name < t.byRank[j].name })
	for i, f := range t.byRank {
		f.rank = i
	}
}

// compFor returns the composite index over (r, n), if any.
func (t *table) compFor(r, n *field) *compIndex {
	for _, c := range t.comps {
		if c.r == r && c.n == n {
			return c
		}
	}
	return nil
}

// maxComps caps the composite indexes of one table: a schema of a thousand
// ref fields and a thousand int fields must not make every insert write a
// million index entries.
const maxComps = 32

// wantedComps lists the composite indexes the schema calls for: (ref field,
// int/float/timestamp field) pairs in declaration order, at most maxComps.
func (t *table) wantedComps() [][2]*field { return wantedComps(t.fields) }

// wantedComps is the composite indexes of a schema of these fields.
func wantedComps(fields []*field) [][2]*field {
	var out [][2]*field
	for _, r := range fields {
		if r.typ != TypeRef {
			continue
		}
		for _, n := range fields {
			if n.typ.ordered() {
				if len(out) == maxComps {
					return out
				}
				out = append(out, [2]*field{r, n})
			}
		}
	}
	return out
}

// parseSpec parses a field spec `name:type` or `name:type:unique`.
func parseSpec(spec []byte) (*field, error) {
	parts := bytes.Split(spec, []byte{':'})
	if len(parts) < 2 || len(parts) > 3 {
		return nil, errSpec(spec)
	}
	if !validName(parts[0]) {
		return nil, errFieldName(parts[0])
	}
	f := &field{name: string(parts[0])}
	ts := parts[1]
	switch string(ts) {
	case "str":
		f.typ = TypeStr
	case "int":
		f.typ = TypeInt
	case "float":
		f.typ = TypeFloat
	case "bool":
		f.typ = TypeBool
	case "timestamp":
		f.typ = TypeTimestamp
	default:
		if !bytes.HasPrefix(ts, []byte("ref(")) || !bytes.HasSuffix(ts, []byte(")")) || len(ts) < 5 {
			return nil, errFieldType(ts)
		}
		target := ts[4 : len(ts)-1]
		if !validName(target) {
			return nil, errRefTable(target)
		}
		f.typ, f.ref = TypeRef, string(target)
	}
	if len(parts) == 3 {
		if string(parts[2]) != "unique" {
			return nil, errModifier(parts[2])
		}
		f.unique = true
	}
	return f, nil
}

// ---- stored schema ----

const schemaFormat = 1

var errCorrupt = errors.New("tables: corrupt stored data")

func appendStr(dst []byte, s string) []byte {
	dst = appendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// encodeSchema is the stored form of a table's definition.
func encodeSchema(dst []byte, t *table) []byte {
	dst = append(dst, schemaFormat)
	dst = appendStr(dst, t.name)
	dst = appendUvarint(dst, uint64(t.nextFid))
	dst = appendUvarint(dst, uint64(len(t.fields)))
	for _, f := range t.fields {
		dst = appendUvarint(dst, uint64(f.fid))
		dst = appendStr(dst, f.name)
		dst = append(dst, byte(f.typ))
		u := byte(0)
		if f.unique {
			u = 1
		}
		dst = append(dst, u)
		dst = appendStr(dst, f.ref)
	}
	return dst
}

type schemaReader struct {
	s   string
	i   int
	bad bool
}

func (r *schemaReader) uvarint() uint64 {
	v, next, ok := readUvarint(r.s, r.i)
	if !ok {
		r.bad = true
		return 0
	}
	r.i = next
	return v
}

func (r *schemaReader) str() string {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.s)-r.i) {
		r.bad = true
		return ""
	}
	s := r.s[r.i : r.i+int(n)]
	r.i += int(n)
	return s
}

func (r *schemaReader) byte() byte {
	if r.i >= len(r.s) {
		r.bad = true
		return 0
	}
	b := r.s[r.i]
	r.i++
	return b
}

// decodeSchema decodes a stored schema; db (nil: in memory) decides whether
// its indexes are stored or in memory.
func decodeSchema(db *DB, tid uint32, v string) (*table, error) {
	r := &schemaReader{s: v}
	if r.byte() != schemaFormat {
		return nil, errCorrupt
	}
	t := newTable(tid, r.str())
	t.nextFid = uint32(r.uvarint())
	n := r.uvarint()
	if r.bad || n > uint64(len(v)) {
		return nil, errCorrupt
	}
	for i := uint64(0); i < n && !r.bad; i++ {
		f := &field{fid: uint32(r.uvarint()), name: r.str()}
		f.typ = Type(r.byte())
		f.unique = r.byte() == 1
		f.ref = r.str()
		if r.bad || f.typ < TypeStr || f.typ > TypeRef || f.fid == 0 || f.fid >= t.nextFid || t.fieldOf(f.fid) != nil || t.byName[f.name] != nil {
			return nil, errCorrupt
		}
		t.attachField(f)
	}
	if r.bad || !validName([]byte(t.name)) {
		return nil, errCorrupt
	}
	t.rerank()
	t.initIndexes(db)
	return t, nil
}
