package storage

import (
	"cmp"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
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

func (r *vecRot) query(q []float32) flatQuery {
	y := make([]float64, r.p)
	r.rotate(q, y)
	var m float64
	for _, x := range y {
		m = max(m, math.Abs(x))
	}
	fq := flatQuery{q: make([]int8, r.p), lut: newFastLUT(y)}
	if m == 0 || math.IsInf(m, 0) || math.IsNaN(m) {
		return fq
	}
	for i, x := range y {
		fq.q[i] = int8(math.Round(x / m * 127))
		fq.sumQ += int32(fq.q[i])
	}
	return fq
}

// flatRescore returns the best max(flatExact, 4·k) of ids by the int8
// copies' estimate (mu held for reading).
func (sp *vecSpace) flatRescore(vd *vecData, q []float32, k int, ids []uint32) []uint32 {
	n := max(flatExact, 4*k)
	if len(ids) <= n {
		return ids
	}
	hq := make([]int8, len(q))
	qs := quantize(q, hq)
	type est struct {
		s  float32
		id uint32
	}
	ests := make([]est, len(ids))
	// the copies are random reads: all are asked for first
	for _, id := range ids {
		c := vd.chunks[id>>vd.shift]
		i := int(id & (1<<vd.shift - 1))
		prefetch(&c.q8[i*vd.dims])
		prefetchP(unsafe.Pointer(&c.qs[i]))
	}
	for i, id := range ids {
		v, vs := vd.q8(id)
		ests[i] = est{float32(dot8(hq, v)) * qs * vs, id}
	}
	slices.SortFunc(ests, func(a, b est) int { return cmp.Compare(b.s, a.s) })
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

func newFlatBest(n int) flatBest {
	return flatBest{n: n, thr: float32(math.Inf(-1)), c: make([]flatCand, 0, 2*n)}
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
// of the space's vectors (mu held for reading). The chunks are split
// among up to GOMAXPROCS goroutines.
func (sp *vecSpace) flatSearch(vd *vecData, q []float32, n int, ok func(uint32) bool) []uint32 {
	fq := sp.rot.query(q)
	ids := len(sp.state)
	if ids >= flatFastMin {
		return sp.fastSearch(vd, fq, n, ok)
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
		out, ests := make([]uint32, per), make([]float32, per)
		t := newFlatBest(max(1, 2*n/flatSampleEvery))
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
	best := make([]flatBest, workers)
	// the workers take chunks from a shared counter (a few at a time):
	// one that gets no core for a while delays the search by its current
	// chunks, not by its share
	grab := max(1, 2048/per)
	var next atomic.Int64
	scan := func(w int) {
		t := newFlatBest(n)
		t.thr = thr0
		out, ests := make([]uint32, per), make([]float32, per)
		for ci, end := 0, 0; ; ci++ {
			if ci == end {
				ci = int(next.Add(int64(grab))) - grab
				if ci >= nchunks {
					break
				}
				end = min(ci+grab, nchunks)
			}
			c := vd.chunks[ci]
			base := ci * per
			m := min(per, ids-base)
			// a removed vector's factor is NaN: it never passes; liveness
			// (a deadline) is checked on the few kept
			nc := scan2(c.c2[:m*cb], fq.q, c.cf[:m], -3*fq.sumQ, t.thr, out, ests)
			for j, i := range out[:nc] {
				if ests[j] > t.thr {
					t.add(flatCand{ests[j], uint32(base) + i})
				}
			}
		}
		best[w] = t
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() { defer wg.Done(); scan(w) }()
	}
	scan(0)
	wg.Wait()
	all := best[0].c
	for _, b := range best[1:] {
		all = append(all, b.c...)
	}
	if len(all) > n {
		selectBest(all, n)
		all = all[:n]
	}
	out := make([]uint32, 0, len(all))
	for _, c := range all {
		if ok(c.id) {
			out = append(out, c.id)
		}
	}
	return out
}
