package storage

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The flat index: every vector of a space also has a 2-bit code, and a
// search (without FILTER, over more than VecExactLimit vectors, while the
// space's codes fit vecFlatBytes) scans all codes, keeps the best
// flatCandidates estimates and rescores those exactly in float64. A scan
// reads 32 bytes per 128 dimensions — 32 MB for a million vectors of 128
// dims, about 2 ms per core with AVX2 (dot2AVX2) — and its recall does not
// depend on the data having structure, where a graph's does: on uniformly
// random vectors the HNSW graph found 0.61 of the true top 10 at a million
// vectors with ef 768, the flat scan 0.99 (BENCHMARKS.md, "Vectors").
// Larger spaces use the graph (vecindex.go).
//
// The codes are made as in RaBitQ-style scalar quantization: the unit
// vector, zero-padded to P = max(128, next power of two) dimensions, is
// rotated by a fixed random orthogonal transform (two rounds of random
// signs and a Walsh–Hadamard transform, O(P log P)), which spreads any
// dominant dimensions of real embeddings over all of them; each rotated
// component y is then coded on four levels (y/step rounded down, plus 2,
// clamped to 0..3, step ≈ the rms component, the optimal uniform 2-bit
// quantizer for Gaussian components). A vector's estimate is
// f·(2·Σq·c − 3·Σq) for the int8 rotated query q, with f the vector's
// correction <y,ŷ>/|ŷ|²·step/2/|v| (the projection of y on its code ŷ):
// only the ranking of the estimates matters, the scores are exact.

// vecFlatBytes is the most code bytes a space scans (the flat index's
// limit: 64 MiB, two million vectors of 128 dims or 131k of 1,536); a
// larger space is searched through its graph. A variable for tests.
var vecFlatBytes int64 = 64 << 20

// flatCandidates is the least number of estimates a flat search rescores
// exactly (10·k when larger): measured on a million uniformly random unit
// vectors of 128 dims, 1,000 candidates gave recall@10 0.994 and 200 gave 0.96.
const flatCandidates = 1000

// flatExact is the least number of the flat index's candidates whose
// scores are computed exactly (4·k when larger): the candidates are first
// ranked by their int8 copies (128 bytes a vector of 128 dims, not 512, and
// within 1% of the exact score), whose best flatExact are rescored.
const flatExact = 100

// flatStep is the code step in units of the rms rotated component.
const flatStep = 0.996

// vecRot is the rotation and code layout of one dims.
type vecRot struct {
	dims, p int
	s1, s2  []float64 // random signs
}

func newVecRot(dims int) *vecRot {
	p := 128
	for p < dims {
		p <<= 1
	}
	r := &vecRot{dims: dims, p: p, s1: make([]float64, p), s2: make([]float64, p)}
	rng := rand.New(rand.NewPCG(uint64(p), 0x6c7578)) // fixed: codes are rebuilt at start
	for i := range r.s1 {
		r.s1[i] = float64(rng.IntN(2)*2 - 1)
		r.s2[i] = float64(rng.IntN(2)*2 - 1)
	}
	return r
}

// codeBytes is the size of one vector's code.
func (r *vecRot) codeBytes() int { return r.p / 4 }

// rotate writes the rotated v (zero-padded) into y (len p).
func (r *vecRot) rotate(v []float32, y []float64) {
	for i := range y {
		var x float64
		if i < len(v) {
			x = float64(v[i])
		}
		y[i] = x * r.s1[i]
	}
	fwht(y)
	for i := range y {
		y[i] *= r.s2[i]
	}
	fwht(y)
}

// fwht is the unnormalized Walsh–Hadamard transform (len a power of two).
func fwht(a []float64) {
	for h := 1; h < len(a); h <<= 1 {
		for i := 0; i < len(a); i += h << 1 {
			for j := i; j < i+h; j++ {
				x, y := a[j], a[j+h]
				a[j], a[j+h] = x+y, x-y
			}
		}
	}
}

// codePos is where dimension d's 2 bits go: in block d/128, byte d%32,
// bits 2·((d%128)/32): the AVX2 kernel unpacks a block's 32 bytes into four
// runs of 32 consecutive dimensions with a shift and a mask each.
func codePos(d int) (int, uint) {
	return d/128*32 + d%32, uint(d%128/32) * 2
}

// encode writes v's code into dst (codeBytes long) and returns its factor.
func (r *vecRot) encode(v []float32, dst []byte, y []float64) float32 {
	clear(dst)
	r.rotate(v, y)
	var ss float64
	for _, x := range y {
		ss += x * x
	}
	if ss == 0 || math.IsInf(ss, 0) || math.IsNaN(ss) {
		return 0
	}
	step := flatStep * math.Sqrt(ss/float64(len(y)))
	var yh, hh float64
	for d, x := range y {
		c := math.Floor(x/step + 2)
		c = max(0, min(3, c))
		h := (c - 1.5) * step
		yh += x * h
		hh += h * h
		i, sh := codePos(d)
		dst[i] |= byte(c) << sh
	}
	// |v| is |y|/p (two unnormalized transforms); any constant factor is
	// harmless, so the cosine's 1/|v| is 1/|y| here
	return float32(yh / hh * step / 2 / math.Sqrt(ss))
}

// flatQuery is a rotated, int8-quantized query.
type flatQuery struct {
	q    []int8
	sumQ int32
	lut  fastLUT // the 1-bit first pass's tables
}

// flatBuf is one flat search's buffers, pooled (flatPool): a search at a
// million vectors otherwise allocated about 40 KB of garbage, and a server
// whose live heap is large runs with a low GOGC (cmd/lux/gctune.go): about
// every 5,000 searches met a collection, and the searches during its mark
// phase (hundreds of milliseconds on a heap of a million keys) were slowed
// by its workers and assists. The slices it hands out are valid until it is
// put back.
type flatBuf struct {
	y         []float64
	q, hq     []int8
	lut       []byte
	samp, all []flatCand
	ests      []flatCand
	sOut      []uint32 // the sample's
	sEsts     []float32
	xs, res   []uint32
}

var flatPool = sync.Pool{New: func() any { return new(flatBuf) }}

// grow returns s resliced to n, or a new slice when s is too short (its
// contents are not kept).
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/4)
	}
	return s[:n]
}

// query rotates and quantizes q into b's buffers.
func (r *vecRot) query(q []float32, b *flatBuf) flatQuery {
	b.y = grow(b.y, r.p)
	y := b.y
	r.rotate(q, y)
	var m float64
	for _, x := range y {
		m = max(m, math.Abs(x))
	}
	b.q = grow(b.q, r.p)
	fq := flatQuery{q: b.q, lut: newFastLUT(y, b)}
	clear(fq.q)
	if m == 0 || math.IsInf(m, 0) || math.IsNaN(m) {
		return fq
	}
	for i, x := range y {
		fq.q[i] = int8(math.Round(x / m * 127))
		fq.sumQ += int32(fq.q[i])
	}
	return fq
}

// flatRescore returns the best max(flatExact, 4·k) of ids, in no order, by
// the int8 copies' estimate (mu held for reading).
func (sp *vecSpace) flatRescore(vd *vecData, q []float32, k int, ids []uint32, b *flatBuf) []uint32 {
	n := max(flatExact, 4*k)
	if len(ids) <= n {
		return ids
	}
	b.hq = grow(b.hq, len(q))
	hq := b.hq
	qs := quantize(q, hq)
	b.ests = grow(b.ests, len(ids))
	ests := b.ests
	// the copies are random reads: all are asked for first
	for _, id := range ids {
		c := vd.chunks[id>>vd.shift]
		i := int(id & (1<<vd.shift - 1))
		prefetch(&c.q8[i*vd.dims])
		prefetchP(unsafe.Pointer(&c.qs[i]))
	}
	for i, id := range ids {
		v, vs := vd.q8(id)
		ests[i] = flatCand{float32(dot8(hq, v)) * qs * vs, id}
	}
	// the exact scores order them: only the best n are needed
	selectBest(ests, n)
	for i := range n {
		ids[i] = ests[i].id
	}
	return ids[:n]
}

// dot2Go is the dot product of q with one 2-bit code vector (the layout
// of codePos).
func dot2Go(c []byte, q []int8) int32 {
	var s int32
	for b := 0; b < len(c); b += 32 {
		qb := q[b*4 : b*4+128]
		for j, x := range c[b : b+32] {
			s += int32(qb[j])*int32(x&3) + int32(qb[32+j])*int32(x>>2&3) +
				int32(qb[64+j])*int32(x>>4&3) + int32(qb[96+j])*int32(x>>6)
		}
	}
	return s
}

// scan2Go is the portable scan2.
func scan2Go(codes []byte, q []int8, cf []float32, bias int32, thr float32, out []uint32, ests []float32) int {
	stride := len(q) / 4
	n := 0
	for i := range cf {
		if est := cf[i] * float32(2*dot2Go(codes[i*stride:(i+1)*stride], q)+bias); est > thr {
			out[n], ests[n] = uint32(i), est
			n++
		}
	}
	return n
}

// scan2ListGo is the portable scan2List (an index past codes or cf
// never passes).
func scan2ListGo(codes []byte, q []int8, cf []float32, idx []uint32, bias int32, thr float32, out []uint32, ests []float32) int {
	stride := len(q) / 4
	n := 0
	for _, i := range idx {
		if int(i) >= len(cf) || (int(i)+1)*stride > len(codes) {
			continue
		}
		if est := cf[i] * float32(2*dot2Go(codes[int(i)*stride:(int(i)+1)*stride], q)+bias); est > thr {
			out[n], ests[n] = i, est
			n++
		}
	}
	return n
}

// flatCand is an estimate.
type flatCand struct {
	est float32
	id  uint32
}

// flatBest keeps at least the n best estimates offered: they are
// appended while better than thr, and when 2n are held the best n are
// selected (quickselect) and thr becomes the worst of them — amortized
// O(1) an offer, where a heap's sift cost ~65 ns (a quarter of a search).
type flatBest struct {
	n   int
	thr float32
	c   []flatCand
}

func (b *flatBest) add(c flatCand) {
	b.c = append(b.c, c)
	if len(b.c) == 2*b.n {
		b.trim()
	}
}

// trim keeps the best n (in no order) and raises thr to the worst of them.
func (b *flatBest) trim() {
	if len(b.c) <= b.n {
		return
	}
	selectBest(b.c, b.n)
	b.c = b.c[:b.n]
	t := b.c[0].est
	for _, c := range b.c[1:] {
		t = min(t, c.est)
	}
	b.thr = t
}

// selectBest reorders c so that its first n hold the n largest estimates
// (a quickselect with a three-way partition: equal estimates cost nothing).
func selectBest(c []flatCand, n int) {
	lo, hi := 0, len(c) // the n-th largest is within c[lo:hi]
	for hi-lo > 1 {
		// median of three as the pivot
		a, m, z := c[lo].est, c[lo+(hi-lo)/2].est, c[hi-1].est
		p := max(min(a, m), min(max(a, m), z))
		// c[lo:gt] > p, c[gt:i] == p, c[lt:hi] < p
		gt, i, lt := lo, lo, hi
		for i < lt {
			switch e := c[i].est; {
			case e > p:
				c[gt], c[i] = c[i], c[gt]
				gt++
				i++
			case e < p:
				lt--
				c[lt], c[i] = c[i], c[lt]
			default:
				i++
			}
		}
		switch {
		case n <= gt:
			hi = gt
		case n <= lt:
			return
		default:
			lo = lt
		}
	}
}

// flatSlabChunks is how many consecutive chunks share one allocation of
// codes (about 256 KiB; cb is a chunk's code bytes), so that a scan reads
// long runs of memory rather than a page here and there.
func flatSlabChunks(cb int) int { return max(1, (256<<10)/cb) }

// flatSampleEvery: a flat search first samples one chunk in this many.
const flatSampleEvery = 32

// flatScanMin is the fewest vectors a scan worker is given: below it one
// goroutine scans them all.
const flatScanMin = 32 << 10

// flatSearch returns the ids that ok accepts among the n best estimates
// of the space's vectors (mu held for reading), in b's buffers. The chunks
// are split among up to GOMAXPROCS goroutines.
func (sp *vecSpace) flatSearch(vd *vecData, q []float32, n int, ok func(uint32) bool, b *flatBuf) []uint32 {
	fq := sp.rot.query(q, b)
	ids := len(sp.state)
	if ids >= flatFastMin {
		return sp.fastSearch(vd, fq, n, ok, b)
	}
	per := 1 << vd.shift
	nchunks := (ids + per - 1) / per
	workers := max(1, min(runtime.GOMAXPROCS(0), ids/flatScanMin))
	// a first threshold from every flatSampleEvery-th chunk: the estimate
	// ranked 2n·(sample/all) there is about the 2n-th best overall, so the
	// scan's selection handles about 2n offers, not n·ln(all/n)
	thr0 := float32(math.Inf(-1))
	cb := sp.rot.codeBytes()
	if nchunks >= 4*flatSampleEvery {
		b.sOut, b.sEsts = grow(b.sOut, per), grow(b.sEsts, per)
		out, ests := b.sOut, b.sEsts
		sn := max(1, 2*n/flatSampleEvery)
		b.samp = grow(b.samp, 2*sn)
		t := flatBest{n: sn, thr: float32(math.Inf(-1)), c: b.samp[:0]}
		for ci := 0; ci < nchunks-1; ci += flatSampleEvery {
			c := vd.chunks[ci]
			nc := scan2(c.c2[:per*cb], fq.q, c.cf[:per], -3*fq.sumQ, t.thr, out, ests)
			for j := range nc {
				if ests[j] > t.thr {
					t.add(flatCand{ests[j], 0})
				}
			}
		}
		if t.trim(); len(t.c) == t.n {
			thr0 = t.thr
		}
	}
	// the workers take chunks from a shared counter, a few at a time
	// (flatRun)
	grab := max(1, 2048/per)
	start := func(sc *flatScratch) { sc.init(n, thr0, per) }
	run := func(sc *flatScratch, r int) {
		for ci := r * grab; ci < min((r+1)*grab, nchunks); ci++ {
			c := vd.chunks[ci]
			base := ci * per
			m := min(per, ids-base)
			// a removed vector's factor is NaN: it never passes; liveness
			// (a deadline) is checked on the few kept
			t := &sc.t
			nc := scan2(c.c2[:m*cb], fq.q, c.cf[:m], -3*fq.sumQ, t.thr, sc.out, sc.ests)
			for j, i := range sc.out[:nc] {
				if sc.ests[j] > t.thr {
					t.add(flatCand{sc.ests[j], uint32(base) + i})
				}
			}
		}
	}
	return b.keep(flatRun(workers, (nchunks+grab-1)/grab, start, run, nil), n, ok)
}

// flatScratch is a scan worker's buffers, pooled (flatBuf's reason).
type flatScratch struct {
	t               flatBest // the best estimates it was offered
	best            []flatCand
	out, out2, prev []uint32
	ests, ests2     []float32
	pb, pm          int // the blocks of prev's candidates (fastSearch)
}

var scratchPool = sync.Pool{New: func() any { return new(flatScratch) }}

// init readies sc for a search keeping n estimates above thr, with
// buffers for runs of up to per vectors.
func (sc *flatScratch) init(n int, thr float32, per int) {
	if cap(sc.best) < 2*n {
		sc.best = make([]flatCand, 0, 2*n)
	}
	sc.t = flatBest{n: n, thr: thr, c: sc.best[:0]}
	if len(sc.out) < per {
		sc.out, sc.out2 = make([]uint32, per), make([]uint32, per)
		sc.ests, sc.ests2 = make([]float32, per), make([]float32, per)
		sc.prev = make([]uint32, 0, per)
	}
}

// flatJob is one search's worker coordination (flatRun).
type flatJob struct {
	next, done atomic.Int64
	wake       chan struct{}
	scr        []*flatScratch // of the workers that took runs
}

// flatRun has up to workers goroutines, the caller's among them, take
// the runs [0, nruns) from a shared counter and call run for each, with
// their own scratch (readied by start for its first run; end, when not
// nil, after its last), and returns the scratches of the workers that
// took runs (they go back to scratchPool with flatBuf.keep). The search
// waits for its runs, not for its goroutines: a worker that gets no core
// until the others have taken every run (the machine is shared, or the
// collector's worker holds the other P) delays the search by nothing —
// it finds no run and returns without touching the search's data — and
// one that loses its core delays it by one run, not by its share.
func flatRun(workers, nruns int, start func(*flatScratch), run func(*flatScratch, int), end func(*flatScratch)) []*flatScratch {
	j := &flatJob{wake: make(chan struct{}, 1), scr: make([]*flatScratch, workers)}
	work := func(w int) {
		var sc *flatScratch
		var runs int64
		for {
			r := int(j.next.Add(1) - 1)
			if r >= nruns {
				break
			}
			if sc == nil {
				sc = scratchPool.Get().(*flatScratch)
				start(sc)
			}
			run(sc, r)
			runs++
		}
		if sc == nil {
			return // the search may be over: nothing of it is touched
		}
		if end != nil {
			end(sc)
		}
		j.scr[w] = sc
		if j.done.Add(runs) == int64(nruns) && w > 0 {
			j.wake <- struct{}{} // the last run's worker wakes the caller
		}
	}
	for w := 1; w < workers; w++ {
		go work(w)
	}
	work(0)
	if j.done.Load() != int64(nruns) {
		<-j.wake
	}
	return j.scr
}

// keep returns, in b.res, the ids that ok accepts among the n best of the
// workers' estimates, and puts the workers' scratches back.
func (b *flatBuf) keep(scr []*flatScratch, n int, ok func(uint32) bool) []uint32 {
	all := b.all[:0]
	for i, sc := range scr {
		if sc != nil {
			all = append(all, sc.t.c...)
			sc.best, sc.t.c = sc.t.c[:0], nil // its backing, unless it grew
			scratchPool.Put(sc)
			scr[i] = nil
		}
	}
	b.all = all
	if len(all) > n {
		selectBest(all, n)
		all = all[:n]
	}
	res := b.res[:0]
	for _, c := range all {
		if ok(c.id) {
			res = append(res, c.id)
		}
	}
	b.res = res
	return res
}
