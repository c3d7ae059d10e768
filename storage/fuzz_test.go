package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// Fuzz targets for the on-disk decoders: a key's meta record (decodeMeta)
// and each collection type's Loader, fed by fuzzElems, an ElemIter over
// element records decoded from the fuzz input. Whatever the bytes, a decoder
// must not panic and must either fail or build an object that keeps the
// Object contract (a collection has at least one element), holds exactly
// the records it was given, and survives a second trip through its own
// encoding (MetaPayload, ForEachElem) unchanged.

// fuzzElems decodes element records from b: a length byte, the sub-key, a
// length byte, the value, again and again (a truncated record ends the
// list). Like a Pebble iterator over one key's element prefix it yields them
// in sub-key order, each sub-key once (the first record of a sub-key wins).
func fuzzElems(b []byte) []elemRec {
	var recs []elemRec
	for len(b) > 0 {
		n := int(b[0])
		if len(b) < 1+n+1 {
			break
		}
		sub := b[1 : 1+n]
		b = b[1+n:]
		m := int(b[0])
		if len(b) < 1+m {
			break
		}
		recs = append(recs, elemRec{sub: sub, val: b[1 : 1+m]})
		b = b[1+m:]
	}
	slices.SortStableFunc(recs, func(x, y elemRec) int { return bytes.Compare(x.sub, y.sub) })
	return slices.CompactFunc(recs, func(x, y elemRec) bool { return bytes.Equal(x.sub, y.sub) })
}

// appendElem is fuzzElems' encoding of one record (for seeds).
func appendElem(dst, sub, val []byte) []byte {
	dst = append(dst, byte(len(sub)))
	dst = append(dst, sub...)
	dst = append(dst, byte(len(val)))
	return append(dst, val...)
}

func fuzzMeta(t Type, exp int64, payload []byte) []byte {
	m := make([]byte, metaHeader, metaHeader+len(payload))
	putMetaHeader(m, t, exp)
	return append(m, payload...)
}

// objElems is what ForEachElem writes for o, copied.
func objElems(o Object) []elemRec {
	var out []elemRec
	o.ForEachElem(func(sub, val []byte) {
		out = append(out, elemRec{sub: slices.Clone(sub), val: slices.Clone(val)})
	})
	return out
}

// fuzzLoad runs typ's loader on a meta record and element records and
// checks what it built; it returns the object, or nil if loading failed.
func fuzzLoad(t *testing.T, typ Type, meta, elems []byte) Object {
	gotT, exp, payload, err := decodeMeta(meta)
	if err != nil {
		require.ErrorIs(t, err, errCorrupt)
		require.Less(t, len(meta), metaHeader)
		return nil
	}
	require.Equal(t, Type(meta[0]), gotT)
	require.Equal(t, int64(binary.BigEndian.Uint64(meta[1:])), exp)
	require.Equal(t, meta[metaHeader:], payload)

	loadersMu.RLock()
	load := loaders[typ]
	loadersMu.RUnlock()
	require.NotNil(t, load, "no loader for %v", typ)
	recs := fuzzElems(elems)
	obj, err := load(payload, &sliceIter{recs: recs, i: -1})
	if err != nil {
		require.Nil(t, obj)
		return nil
	}
	require.Equal(t, typ, obj.Type())
	require.Positive(t, obj.Len(), "a loaded collection must have elements (empty ones are deleted)")
	require.Positive(t, obj.MemSize())
	out := objElems(obj)
	if typ != TypeTimeSeries && typ != TypeList { // a series' or a list's run record holds many elements
		require.LessOrEqual(t, obj.Len(), len(recs))
		require.Len(t, out, obj.Len())
	}
	_ = obj.Encoding()

	// Its own encoding loads back to the same thing.
	again, err := load(obj.MetaPayload(), &sliceIter{recs: slices.Clone(out), i: -1})
	require.NoError(t, err)
	require.Equal(t, obj.Len(), again.Len())
	require.Equal(t, obj.MetaPayload(), again.MetaPayload())
	require.Equal(t, obj.Encoding(), again.Encoding())
	require.Equal(t, out, objElems(again))
	return obj
}

// fuzzSeedElems are element records shaped like each type's (seeds).
func fuzzSeedElems() [][]byte {
	pos := func(p uint64) []byte { return binary.BigEndian.AppendUint64(nil, p) }
	score := func(f float64) []byte { return encodeZScore(nil, f) }
	var list, hash, set, zset []byte
	for i, v := range []string{"a", "", "ccc", "\x00\xff"} {
		list = appendElem(list, pos(listOrigin+uint64(i)), []byte(v))
		hash = appendElem(hash, []byte("f"+v), []byte(v))
		set = appendElem(set, []byte(v), nil)
		zset = appendElem(zset, []byte("m"+v), score(float64(i)-1.5))
	}
	zset = appendElem(zset, []byte("nan"), score(math.NaN()))
	zset = appendElem(zset, []byte("negzero"), score(math.Copysign(0, -1)))
	zset = appendElem(zset, []byte("inf"), score(math.Inf(-1)))
	zset = appendElem(zset, []byte("short"), []byte{1, 2, 3})
	set = appendElem(set, []byte("-12"), nil)
	// a list of point, run and trim records (listdisk.go)
	run := func(lo uint64, mark byte) []byte { return append(pos(lo), mark) }
	runVal := func(vs ...string) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
		return b
	}
	trim := func(lo, hi uint64) []byte { return append(pos(lo), pos(hi)...) }
	var runs []byte
	runs = appendElem(runs, pos(listOrigin), []byte("p0"))
	runs = appendElem(runs, run(listOrigin+1, listRunMark), runVal("r1", "r2", "r3"))
	runs = appendElem(runs, run(listOrigin+4, listRunMark), runVal("x", "s5", "s6", "y"))
	runs = appendElem(runs, run(listOrigin+4, listTrimMark), trim(listOrigin+5, listOrigin+6))
	runs = appendElem(runs, pos(listOrigin+7), []byte("p7"))
	trimmedFirst := appendElem(nil, run(listOrigin, listRunMark), runVal("a", "b", "c"))
	trimmedFirst = appendElem(trimmedFirst, run(listOrigin, listTrimMark), trim(listOrigin+1, listOrigin+2))
	seeds := [][]byte{list, runs, trimmedFirst, hash, set, zset, nil, {0}, {3, 'a'}, {255, 1, 2}}
	// past the small forms: indexed dicts, hashtable/skiplist encodings
	for _, n := range []int{20, 150} {
		var l, h, st, z []byte
		for i := 0; i < n; i++ {
			v := []byte(strconv.Itoa(i * 7))
			l = appendElem(l, pos(listOrigin-5+uint64(i)), v)
			h = appendElem(h, v, v)
			st = appendElem(st, v, nil)
			z = appendElem(z, v, score(float64(i%9)))
		}
		seeds = append(seeds, l, h, st, z)
	}
	return seeds
}

func fuzzLoaderSeeds(f *testing.F, typ Type) {
	head := func(h, tl uint64) []byte {
		return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, h), tl)
	}
	metas := [][]byte{
		fuzzMeta(typ, 0, nil),
		fuzzMeta(typ, 1700000000000, head(listOrigin, listOrigin+3)),
		fuzzMeta(typ, -1, head(listOrigin+1, listOrigin+2)),
		fuzzMeta(typ, 0, head(math.MaxUint64, 0)),
		fuzzMeta(typ, 0, head(0, math.MaxUint64)),
		fuzzMeta(typ, 0, []byte{1, 2, 3}),
		{byte(typ), 0, 0},
		nil,
	}
	for _, m := range metas {
		for _, e := range fuzzSeedElems() {
			f.Add(m, e)
		}
	}
}

// FuzzLoadList: loadList over any meta payload and element records.
func FuzzLoadList(f *testing.F) {
	fuzzLoaderSeeds(f, TypeList)
	f.Fuzz(func(t *testing.T, meta, elems []byte) {
		obj := fuzzLoad(t, TypeList, meta, elems)
		if obj == nil {
			return
		}
		l := obj.(*List)
		// the elements are the records in [head, tail] (format 1), or all
		// of them (an empty payload: they load only at consecutive
		// positions), in position order
		_, _, payload, _ := decodeMeta(meta)
		head, tail := uint64(0), uint64(math.MaxUint64)
		if len(payload) > 0 {
			head, tail = binary.BigEndian.Uint64(payload), binary.BigEndian.Uint64(payload[8:])
		}
		var want []string
		next, first := uint64(0), true
		add := func(p uint64, v string) {
			if len(payload) == 0 {
				require.True(t, first || p == next, "a list with a gap in its positions loaded")
				first, next = false, p+1
			}
			want = append(want, v)
		}
		// a run record's elements wait for the trim record that may follow
		var run []string
		var runLo uint64
		haveRun := false
		flush := func(tlo, thi uint64) {
			for i, v := range run {
				if p := runLo + uint64(i); p >= tlo && p <= thi {
					add(p, v)
				}
			}
			haveRun = false
		}
		for _, r := range fuzzElems(elems) {
			if len(payload) == 0 && len(r.sub) == 9 {
				lo := binary.BigEndian.Uint64(r.sub)
				switch r.sub[8] {
				case listTrimMark:
					require.True(t, haveRun && lo == runLo && len(r.val) == 16, "a trim record without its run loaded")
					flush(binary.BigEndian.Uint64(r.val), binary.BigEndian.Uint64(r.val[8:]))
				case listRunMark:
					if haveRun {
						flush(0, math.MaxUint64)
					}
					run, runLo, haveRun = nil, lo, true
					for v := r.val; len(v) > 0; {
						n, w := binary.Uvarint(v)
						require.True(t, w > 0 && n <= uint64(len(v)-w), "a bad run record loaded")
						run = append(run, string(v[w:w+int(n)]))
						v = v[w+int(n):]
					}
				}
				continue
			}
			if haveRun {
				flush(0, math.MaxUint64)
			}
			if len(r.sub) == 8 {
				if p := binary.BigEndian.Uint64(r.sub); p >= head && p <= tail {
					add(p, string(r.val))
				}
			}
		}
		if haveRun {
			flush(0, math.MaxUint64)
		}
		var got []string
		l.Range(0, l.Len(), func(_ int, v string) bool { got = append(got, v); return true })
		require.Equal(t, want, got)
		require.LessOrEqual(t, len(l.ring), 2*l.Len()+4)
		checkList(t, l, want, diskOf(l))
	})
}

// diskOf is the element records l would write, as checkList's disk model.
func diskOf(l *List) map[uint64]string {
	disk := map[uint64]string{}
	l.ForEachElem(func(sub, val []byte) { disk[binary.BigEndian.Uint64(sub)] = string(val) })
	return disk
}

// FuzzLoadHash: loadHash over any element records.
func FuzzLoadHash(f *testing.F) {
	fuzzLoaderSeeds(f, TypeHash)
	f.Fuzz(func(t *testing.T, meta, elems []byte) {
		obj := fuzzLoad(t, TypeHash, meta, elems)
		if obj == nil {
			return
		}
		h := obj.(*Hash)
		model := map[string]string{}
		for _, r := range fuzzElems(elems) {
			model[string(r.sub)] = string(r.val)
			v, ok := h.Get(r.sub)
			require.True(t, ok, "field %q", r.sub)
			require.Equal(t, r.val, v)
		}
		checkDict(t, &h.d, model)
	})
}

// FuzzLoadSet: loadSet over any element records.
func FuzzLoadSet(f *testing.F) {
	fuzzLoaderSeeds(f, TypeSet)
	f.Fuzz(func(t *testing.T, meta, elems []byte) {
		obj := fuzzLoad(t, TypeSet, meta, elems)
		if obj == nil {
			return
		}
		s := obj.(*Set)
		model := map[string]string{}
		for _, r := range fuzzElems(elems) {
			model[string(r.sub)] = ""
			require.True(t, s.Has(r.sub), "member %q", r.sub)
		}
		checkDict(t, &s.d, model)
	})
}

// FuzzLoadZSet: loadZSet over any element records (scores that are not 8
// bytes or are NaN are skipped).
func FuzzLoadZSet(f *testing.F) {
	fuzzLoaderSeeds(f, TypeZSet)
	f.Fuzz(func(t *testing.T, meta, elems []byte) {
		obj := fuzzLoad(t, TypeZSet, meta, elems)
		if obj == nil {
			return
		}
		z := obj.(*ZSet)
		ref := &zref{scores: map[string]float64{}}
		for _, r := range fuzzElems(elems) {
			if len(r.val) != 8 {
				continue
			}
			s := math.Float64frombits(binary.BigEndian.Uint64(r.val))
			if math.IsNaN(s) {
				continue
			}
			ref.scores[string(r.sub)] = s
		}
		checkZSet(t, z, ref)
	})
}

// TestLoadEmptyCollectionIsCorrupt: a meta record whose element records are
// all missing (or, for a list, all outside [head, tail]) is corrupt. Loading
// it as an empty collection broke the invariant every command relies on
// (collections with no elements do not exist): LPOP on such a list indexed
// an empty ring and crashed the server.
func TestLoadEmptyCollectionIsCorrupt(t *testing.T) {
	ht := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, listOrigin), listOrigin)
	outside := appendElem(nil, binary.BigEndian.AppendUint64(nil, listOrigin+1), []byte("x"))
	for _, c := range []struct {
		typ     Type
		payload []byte
		elems   []byte
	}{
		{TypeList, ht, nil},
		{TypeList, ht, outside},
		{TypeHash, nil, nil},
		{TypeSet, nil, nil},
		{TypeZSet, nil, nil},
		{TypeZSet, nil, appendElem(nil, []byte("m"), encodeZScore(nil, math.NaN()))},
	} {
		loadersMu.RLock()
		load := loaders[c.typ]
		loadersMu.RUnlock()
		obj, err := load(c.payload, &sliceIter{recs: fuzzElems(c.elems), i: -1})
		require.Error(t, err, "%v %q", c.typ, c.elems)
		require.True(t, errors.Is(err, errCorrupt), "%v: %v", c.typ, err)
		require.Nil(t, obj)
	}
}
