package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
)

func init() { RegisterLoader(TypeTimeSeries, loadTimeSeries) }

// TimeSeries is a Lux time series: samples (timestamp ms, float64 value), at
// most one per timestamp, in timestamp order, a retention in ms (0 = keep
// all) and an ordered label list. It is never empty.
//
// On disk a series is its meta record (retention, labels) and element
// records of two kinds, so that appending a sample never rewrites the series:
//   - a run (sub-key: its last timestamp as 8 big-endian bytes, then
//     tsRunMark; value: its (ts, float64 bits) pairs of 16 bytes, in order):
//     the samples one series gained by appends (a timestamp newer than the
//     series' newest) within one commit window (Pending.AppendSample), or a
//     chunk of a series written whole (RENAME, COPY, a retention increase).
//     Runs are disjoint and ascending;
//   - a single sample (sub-key: the timestamp as 8 big-endian bytes; value:
//     the float64's 8 bits): an out-of-order insert or an overwrite, which
//     wins over a run's copy of the same timestamp.
//
// Retention trims memory at once and the disk lazily (a range deletion of the
// records wholly before the cutoff every tsTrimBatch trimmed samples); load
// applies the retention again to what is left (a run that straddles the
// cutoff), which is exact because the retention only grows with a rewrite.
//
// In memory the samples sit in chunks of at most tsChunkMax, each a sorted
// slice of 16-byte (ts, value) pairs, the chunks sorted and disjoint: an
// append goes to the end of the last chunk (a new chunk once it is full), an
// out-of-order sample into the chunk that covers it (split in two when full),
// so a sample costs 16 bytes plus the spare room of partly filled chunks and
// nothing per sample for the garbage collector to scan.
type TimeSeries struct {
	chunks    []*tsChunk
	n         int
	retention int64
	labels    []Label
	chunkMem  int // bytes of the chunks' arrays, kept up to date (MemSize is O(1))
	trimmed   int // samples trimmed from memory since the last deletion on disk
}

// Label is one label of a series.
type Label struct{ Name, Value string }

// Sample is one (timestamp, value) pair.
type Sample struct {
	TS  int64
	Val float64
}

type tsChunk struct{ s []Sample }

// tsChunkMax is the most samples a chunk holds: 8 KiB, one allocation
// size class, small enough that an out-of-order insert moves little.
const tsChunkMax = 512

const sampleSize = 16

// tsRunMark ends a run record's sub-key (a single sample's has none).
const tsRunMark = 0x01

// tsTrimBatch is how many samples retention trims from memory before their
// records are deleted from disk (one range deletion), so a sliding window
// does not write a deletion per sample.
const tsTrimBatch = 1024

// MaxLabels is the most labels a series may have.
const MaxLabels = 64

// ErrTSTooOld is TSADD's refusal of a sample the retention would remove at once.
var ErrTSTooOld = errors.New("ERR timestamp is older than retention")

// NewTimeSeries returns an empty series (it must get a sample before it is stored).
func NewTimeSeries() *TimeSeries { return &TimeSeries{} }

// Type implements Object.
func (t *TimeSeries) Type() Type { return TypeTimeSeries }

// Len implements Object: the number of samples.
func (t *TimeSeries) Len() int { return t.n }

// Encoding implements Object.
func (t *TimeSeries) Encoding() string { return "timeseries" }

// MemSize implements Object: the chunks' arrays, the chunk headers and the labels.
func (t *TimeSeries) MemSize() int {
	n := 64 + t.chunkMem + cap(t.chunks)*8 + len(t.chunks)*(24+16)
	for _, l := range t.labels {
		n += 32 + len(l.Name) + len(l.Value)
	}
	return n
}

// Retention returns the retention in ms (0: keep all).
func (t *TimeSeries) Retention() int64 { return t.retention }

// Labels returns the labels in stored order; the caller must not modify them.
func (t *TimeSeries) Labels() []Label { return t.labels }

// First returns the oldest sample (the series must not be empty).
func (t *TimeSeries) First() Sample { return t.chunks[0].s[0] }

// Last returns the newest sample (the series must not be empty).
func (t *TimeSeries) Last() Sample {
	c := t.chunks[len(t.chunks)-1]
	return c.s[len(c.s)-1]
}

// Range calls fn for every sample with from <= ts <= to in timestamp order
// until fn returns false.
func (t *TimeSeries) Range(from, to int64, fn func(Sample) bool) {
	if t.n == 0 || from > to {
		return
	}
	ci := sort.Search(len(t.chunks), func(i int) bool {
		s := t.chunks[i].s
		return s[len(s)-1].TS >= from
	})
	for ; ci < len(t.chunks); ci++ {
		s := t.chunks[ci].s
		i := 0
		if s[0].TS < from {
			i = sort.Search(len(s), func(j int) bool { return s[j].TS >= from })
		}
		for ; i < len(s); i++ {
			if s[i].TS > to {
				return
			}
			if !fn(s[i]) {
				return
			}
		}
	}
}

// appendTo appends x to c, growing its array by doubling (up to tsChunkMax).
func (t *TimeSeries) appendTo(c *tsChunk, x Sample) {
	if len(c.s) == cap(c.s) {
		nc := max(4, 2*cap(c.s))
		if nc > tsChunkMax {
			nc = tsChunkMax
		}
		ns := make([]Sample, len(c.s), nc)
		copy(ns, c.s)
		t.chunkMem += (nc - cap(c.s)) * sampleSize
		c.s = ns
	}
	c.s = append(c.s, x)
}

// insert adds or overwrites the sample at x.TS; it reports whether a sample
// was added (false: overwritten).
func (t *TimeSeries) insert(x Sample) bool {
	if t.n == 0 {
		c := &tsChunk{}
		t.appendTo(c, x)
		t.chunks = append(t.chunks, c)
		t.n = 1
		return true
	}
	last := t.chunks[len(t.chunks)-1]
	if lt := last.s[len(last.s)-1].TS; x.TS > lt {
		if len(last.s) >= tsChunkMax {
			last = &tsChunk{}
			t.chunks = append(t.chunks, last)
		}
		t.appendTo(last, x)
		t.n++
		return true
	}
	// the first chunk whose newest sample is >= x.TS covers it
	ci := sort.Search(len(t.chunks), func(i int) bool {
		s := t.chunks[i].s
		return s[len(s)-1].TS >= x.TS
	})
	c := t.chunks[ci]
	i := sort.Search(len(c.s), func(j int) bool { return c.s[j].TS >= x.TS })
	if i < len(c.s) && c.s[i].TS == x.TS {
		c.s[i].Val = x.Val
		return false
	}
	if len(c.s) >= tsChunkMax {
		// split: the upper half moves to a new chunk after c
		half := len(c.s) / 2
		nc := &tsChunk{s: make([]Sample, len(c.s)-half, tsChunkMax)}
		copy(nc.s, c.s[half:])
		t.chunkMem += tsChunkMax * sampleSize
		c.s = c.s[:half]
		t.chunks = append(t.chunks, nil)
		copy(t.chunks[ci+2:], t.chunks[ci+1:])
		t.chunks[ci+1] = nc
		if i > half {
			c, i = nc, i-half
		}
	}
	t.appendTo(c, Sample{})
	copy(c.s[i+1:], c.s[i:])
	c.s[i] = x
	t.n++
	return true
}

// trimBefore removes every sample with ts < cutoff and returns how many went
// and the smallest and largest removed timestamps.
func (t *TimeSeries) trimBefore(cutoff int64) (removed int, lo, hi int64) {
	drop := 0
	for drop < len(t.chunks) {
		s := t.chunks[drop].s
		if s[len(s)-1].TS >= cutoff {
			break
		}
		if removed == 0 {
			lo = s[0].TS
		}
		hi = s[len(s)-1].TS
		removed += len(s)
		t.chunkMem -= cap(s) * sampleSize
		drop++
	}
	if drop > 0 {
		n := copy(t.chunks, t.chunks[drop:])
		clear(t.chunks[n:])
		t.chunks = t.chunks[:n]
	}
	if len(t.chunks) > 0 {
		c := t.chunks[0]
		k := sort.Search(len(c.s), func(j int) bool { return c.s[j].TS >= cutoff })
		if k > 0 {
			if removed == 0 {
				lo = c.s[0].TS
			}
			hi = c.s[k-1].TS
			removed += k
			n := copy(c.s, c.s[k:])
			c.s = c.s[:n]
		}
	}
	t.n -= removed
	return removed, lo, hi
}

// ForEachElem implements Object: one run record per chunk.
func (t *TimeSeries) ForEachElem(fn func(sub, val []byte)) {
	var sub [9]byte
	sub[8] = tsRunMark
	buf := make([]byte, 0, tsChunkMax*sampleSize)
	for _, c := range t.chunks {
		buf = appendSamples(buf[:0], c.s)
		binary.BigEndian.PutUint64(sub[:], uint64(c.s[len(c.s)-1].TS))
		fn(sub[:], buf)
	}
}

func appendSamples(b []byte, s []Sample) []byte {
	for _, x := range s {
		b = binary.BigEndian.AppendUint64(b, uint64(x.TS))
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(x.Val))
	}
	return b
}

// Clone implements Object.
func (t *TimeSeries) Clone() Object {
	c := &TimeSeries{n: t.n, retention: t.retention, labels: append([]Label(nil), t.labels...)}
	c.chunks = make([]*tsChunk, len(t.chunks))
	for i, ch := range t.chunks {
		s := make([]Sample, len(ch.s), max(len(ch.s), 4))
		copy(s, ch.s)
		c.chunks[i] = &tsChunk{s: s}
		c.chunkMem += cap(s) * sampleSize
	}
	return c
}

// tsPayloadVersion leads the meta payload so the layout can change.
const tsPayloadVersion = 1

// MetaPayload implements Object: version(1) uvarint(retention)
// uvarint(labels) then uvarint(len) name uvarint(len) value per label.
func (t *TimeSeries) MetaPayload() []byte {
	b := make([]byte, 0, 16)
	b = append(b, tsPayloadVersion)
	b = binary.AppendUvarint(b, uint64(t.retention))
	b = binary.AppendUvarint(b, uint64(len(t.labels)))
	for _, l := range t.labels {
		b = binary.AppendUvarint(b, uint64(len(l.Name)))
		b = append(b, l.Name...)
		b = binary.AppendUvarint(b, uint64(len(l.Value)))
		b = append(b, l.Value...)
	}
	return b
}

var errTSMeta = fmt.Errorf("%w: time series meta payload", errCorrupt)

// decodeTSMeta decodes a series' meta payload.
func decodeTSMeta(p []byte) (retention int64, labels []Label, err error) {
	if len(p) < 1 || p[0] != tsPayloadVersion {
		return 0, nil, errTSMeta
	}
	p = p[1:]
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, false
		}
		p = p[n:]
		return v, true
	}
	str := func() (string, bool) {
		l, ok := uv()
		if !ok || l > uint64(len(p)) {
			return "", false
		}
		s := string(p[:l])
		p = p[l:]
		return s, true
	}
	r, ok := uv()
	if !ok || r > math.MaxInt64 {
		return 0, nil, errTSMeta
	}
	n, ok := uv()
	if !ok || n > MaxLabels {
		return 0, nil, errTSMeta
	}
	for i := uint64(0); i < n; i++ {
		name, ok1 := str()
		val, ok2 := str()
		if !ok1 || !ok2 {
			return 0, nil, errTSMeta
		}
		labels = append(labels, Label{name, val})
	}
	if len(p) != 0 {
		return 0, nil, errTSMeta
	}
	return int64(r), labels, nil
}

func loadTimeSeries(meta []byte, it ElemIter) (Object, error) {
	r, labels, err := decodeTSMeta(meta)
	if err != nil {
		return nil, err
	}
	t := &TimeSeries{retention: r, labels: labels}
	var runs, singles []Sample
	prevRun, prevSingle := int64(-1), int64(-1)
	for it.Next() {
		sub, val := it.Sub(), it.Value()
		switch {
		case len(sub) == 8 && len(val) == 8:
			ts := int64(binary.BigEndian.Uint64(sub))
			if ts < 0 || ts <= prevSingle {
				return nil, fmt.Errorf("%w: time series timestamp %d", errCorrupt, ts)
			}
			prevSingle = ts
			singles = append(singles, Sample{ts, math.Float64frombits(binary.BigEndian.Uint64(val))})
		case len(sub) == 9 && sub[8] == tsRunMark && len(val) > 0 && len(val)%sampleSize == 0:
			last := int64(binary.BigEndian.Uint64(sub))
			for k := 0; k < len(val); k += sampleSize {
				ts := int64(binary.BigEndian.Uint64(val[k:]))
				if ts < 0 || ts <= prevRun || ts > last {
					return nil, fmt.Errorf("%w: time series run with timestamp %d", errCorrupt, ts)
				}
				prevRun = ts
				runs = append(runs, Sample{ts, math.Float64frombits(binary.BigEndian.Uint64(val[k+8:]))})
			}
			if prevRun != last {
				return nil, fmt.Errorf("%w: time series run ends at %d, not %d", errCorrupt, prevRun, last)
			}
		default:
			return nil, fmt.Errorf("%w: time series element of %d+%d bytes", errCorrupt, len(sub), len(val))
		}
	}
	all := mergeSamples(runs, singles)
	if r > 0 && len(all) > 0 {
		cutoff := all[len(all)-1].TS - r
		k := sort.Search(len(all), func(i int) bool { return all[i].TS >= cutoff })
		all = all[k:]
	}
	if len(all) == 0 {
		return nil, errNoElems
	}
	for len(all) > 0 {
		n, c := min(len(all), tsChunkMax), tsChunkMax
		if n == len(all) { // the last chunk keeps a little spare room
			c = min(tsChunkMax, n+n/8+4)
		}
		ch := &tsChunk{s: make([]Sample, n, c)}
		copy(ch.s, all[:n])
		all = all[n:]
		t.chunks = append(t.chunks, ch)
		t.chunkMem += c * sampleSize
		t.n += n
	}
	return t, nil
}

// mergeSamples merges two ascending sample lists; b's sample wins a tie.
func mergeSamples(a, b []Sample) []Sample {
	if len(b) == 0 {
		return a
	}
	out := make([]Sample, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i].TS < b[j].TS:
			out = append(out, a[i])
			i++
		case a[i].TS > b[j].TS:
			out = append(out, b[j])
			j++
		default:
			out = append(out, b[j])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// ---- writes ----

// TSAdd is one TSADD: a sample and the options that replace the series'
// retention and labels.
type TSAdd struct {
	TS           int64
	Val          float64
	Retention    int64
	SetRetention bool
	Labels       []Label
	SetLabels    bool
}

// TSAdd applies a (TSADD, or one TSMADD triple) to key's series t, which is
// e's value, or a new series when e is nil; it reports event. It returns
// ErrTSTooOld, changing nothing, when the retention would remove the sample
// at once. The existing deadline is kept.
func (tx *Tx) TSAdd(key []byte, e *Entry, t *TimeSeries, a TSAdd, event string) (*Entry, error) {
	ret := t.retention
	if a.SetRetention {
		ret = a.Retention
	}
	newest := a.TS
	if t.n > 0 {
		newest = max(newest, t.Last().TS)
	}
	if ret > 0 && a.TS < newest-ret {
		return e, ErrTSTooOld
	}
	db := tx.db
	sh := db.shard(key)
	if e == nil {
		t.retention = ret
		if a.SetLabels {
			t.labels = append([]Label(nil), a.Labels...)
		}
		t.insert(Sample{a.TS, a.Val})
		e = tx.Create(key, t) // meta record, label index, memory
		tx.recSample(key, a, true)
		tx.Changed(key, e, 0, event)
		return e, nil
	}
	before := t.MemSize()
	tx.recSample(key, a, a.TS > t.Last().TS)
	t.insert(Sample{a.TS, a.Val})
	metaChanged, rewrite := false, false
	if a.SetRetention && ret != t.retention {
		// a longer retention keeps samples the disk may still hold past
		// the old one (trims are lazy there): the series is written anew
		rewrite = t.retention > 0 && (ret == 0 || ret > t.retention)
		t.retention = ret
		metaChanged = true
	}
	if a.SetLabels && !labelsEqual(a.Labels, t.labels) {
		db.tsIndexDel(sh, key)
		t.labels = append([]Label(nil), a.Labels...)
		db.tsIndexPut(sh, key, t)
		metaChanged = true
	}
	if ret > 0 {
		if n, _, _ := t.trimBefore(newest - ret); n > 0 {
			t.trimmed += n
			if t.trimmed >= tsTrimBatch && !rewrite {
				tx.delSamplesBefore(key, newest-ret)
				t.trimmed = 0
			}
		}
	}
	if metaChanged {
		tx.rec(txMeta, db, sh, key, nil, t.MetaPayload(), TypeTimeSeries, sh.expires[string(key)])
	}
	if rewrite {
		tx.rec(txDropElems, db, sh, key, nil, nil, 0, 0)
		tx.recElems(db, sh, key, t)
		t.trimmed = 0
	}
	tx.Changed(key, e, int64(t.MemSize()-before), event)
	return e, nil
}

// recSample records sample a of key's series: appended to the series' run
// of this commit window when it is newer than every sample the series had,
// else as a single-sample record.
func (tx *Tx) recSample(key []byte, a TSAdd, appended bool) {
	var sub, val [8]byte
	binary.BigEndian.PutUint64(sub[:], uint64(a.TS))
	binary.BigEndian.PutUint64(val[:], math.Float64bits(a.Val))
	kind := txPut
	if appended {
		kind = txSample
	}
	tx.rec(kind, tx.db, tx.db.shard(key), key, sub[:], val[:], 0, 0)
}

// delSamplesBefore records the deletion of every record of key's series
// that holds only samples older than cutoff (a run that straddles it stays:
// load trims it).
func (tx *Tx) delSamplesBefore(key []byte, cutoff int64) {
	var a, b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(cutoff))
	tx.rec(txDelRange, tx.db, tx.db.shard(key), key, a[:], b[:], 0, 0)
}

func labelsEqual(a, b []Label) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
