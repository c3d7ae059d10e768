package storage

import (
	"math"
	"runtime"
	"unsafe"
)

// The flat index's first pass (fast scan, in the style of RaBitQ with
// FAISS's fast-scan layout; no training): every vector also has a 1-bit
// code — the sign of each rotated component (vecRot.rotate), 4 dimensions
// a nibble, P/8 bytes a vector (16 for 128 dims) — stored transposed in
// blocks of 32 vectors: row j of a block holds, in byte v, nibbles 2j (low
// bits) and 2j+1 (high bits) of the block's vector v. A query builds, for
// each nibble, the 16 sums Σ q[d] over the dimensions whose bit is set,
// quantized to 0..fastLevels; the AVX2 kernel (scan1AVX2) looks up 32
// vectors' nibbles at once with VPSHUFB and adds them in uint16: about 5
// vector instructions a vector, against 17 for the 2-bit code. A vector's
// estimate is f·(S + c), S the sum of its looked-up entries, c the query's
// constant, f the vector's correction |y|/Σ|y_d| (RaBitQ's estimator
// <x̄,q>/<x̄,y> of the unit rotated vector y, x̄ its code ±1/√P).
//
// The block layout is addressed by vector id: the id's slot (block id/32,
// lane id%32) is written when the id is given to a vector and its factor
// set to NaN when the vector is removed (an estimate with a NaN factor
// never passes the threshold). Ids are reused through the space's free list
// (VSET over a key, RENAME, DEL, expiry all go through remove and add), so
// the blocks hold no more dead slots than the space holds free ids, and no
// compaction is needed: moving a vector would change its id, which the
// graph, the filter sets and the key map hold. FLUSHDB drops the space.

// fastLevels is the largest quantized table entry: 4 entries (two rows,
// two nibbles each) are added in a byte before widening (4·63 ≤ 255). Its
// rounding adds about 1/10 of the 1-bit code's own error.
const fastLevels = 63

// flatFirst is the number of candidates the first pass keeps for the
// 2-bit estimate (in proportion when a search asks for more than
// flatCandidates). A variable for tests.
var flatFirst = 24000

// flatFastMin is the fewest vectors a space has for its flat search to
// start with the 1-bit pass (below, the 2-bit scan reads every code): the
// pass saves about 1.7 ns a vector and its flatFirst candidates cost about
// 25 ns each (profiled at a million vectors), even at about 350k.
var flatFastMin = 384 << 10

// fastRunBlocks is the most blocks one call of the kernel scans.
const fastRunBlocks = 64

// vecFast is a space's 1-bit codes and factors, in slabs of slabV
// vectors (about 256 KiB of codes) so that growing never copies them all.
type vecFast struct {
	rows  int // byte rows a block (P/8)
	slabV int // vectors a slab (a multiple of 32)
	codes [][]byte
	f     [][]float32
}

func newVecFast(p int) vecFast {
	rows := p / 8
	return vecFast{rows: rows, slabV: max(1, (256<<10)/(rows*32)) * 32}
}

// ensure makes room for id's slot (ids are added in order: one more block
// at most). A new block's factors are NaN: its empty slots never pass.
func (f *vecFast) ensure(id uint32) {
	s, i := int(id)/f.slabV, int(id)%f.slabV
	for len(f.codes) <= s {
		c := 0
		if len(f.codes) > 0 {
			c = f.slabV // later slabs fill up: allocated whole
		}
		f.codes = append(f.codes, make([]byte, 0, c*f.rows))
		f.f = append(f.f, make([]float32, 0, c))
	}
	for len(f.f[s]) <= i {
		f.codes[s] = append(f.codes[s], make([]byte, 32*f.rows)...)
		for range 32 {
			f.f[s] = append(f.f[s], float32(math.NaN()))
		}
	}
}

// set writes id's code and factor from its rotated vector y (len P).
func (f *vecFast) set(id uint32, y []float64) {
	f.ensure(id)
	s, i := int(id)/f.slabV, int(id)%f.slabV
	blk := f.codes[s][i/32*32*f.rows : (i/32+1)*32*f.rows]
	lane := i % 32
	var sa, ss float64
	for j := range f.rows {
		var b byte
		for k, x := range y[8*j : 8*j+8] {
			if x > 0 {
				b |= 1 << k
			}
			sa += math.Abs(x)
			ss += x * x
		}
		blk[j*32+lane] = b
	}
	fc := float32(math.Sqrt(ss) / sa)
	if sa == 0 || math.IsInf(sa, 0) || math.IsNaN(sa) || math.IsInf(ss, 0) || math.IsNaN(float64(fc)) {
		fc = 0
	}
	f.f[s][i] = fc
}

// kill marks id's slot dead.
func (f *vecFast) kill(id uint32) {
	s, i := int(id)/f.slabV, int(id)%f.slabV
	if s < len(f.f) && i < len(f.f[s]) {
		f.f[s][i] = float32(math.NaN())
	}
}

// memSize is the codes' and factors' bytes.
func (f *vecFast) memSize() int64 {
	var n int64
	for s := range f.codes {
		n += int64(cap(f.codes[s])) + int64(cap(f.f[s]))*4
	}
	return n + int64(cap(f.codes))*48
}

// fastLUT is a query's tables: for row j, 64 bytes: the 16 entries of
// nibble 2j twice (one per 128-bit lane), then those of nibble 2j+1 twice.
// An estimate is f·(S + c).
type fastLUT struct {
	t []byte
	c float32
}

// newFastLUT builds the tables of the rotated query y (len P) in b.lut.
func newFastLUT(y []float64, b *flatBuf) fastLUT {
	groups := len(y) / 4
	levels := min(fastLevels, 65535/groups) // S fits uint16
	var maxRange, sumMin, sumQ float64
	for g := range groups {
		var r float64
		for _, x := range y[4*g : 4*g+4] {
			r += math.Abs(x)
			sumMin += min(0, x)
			sumQ += x
		}
		maxRange = max(maxRange, r)
	}
	b.lut = grow(b.lut, groups*32)
	lt := fastLUT{t: b.lut}
	if maxRange == 0 || math.IsInf(maxRange, 0) || math.IsNaN(maxRange) {
		clear(lt.t)
		return lt // every estimate 0
	}
	delta := maxRange / float64(levels)
	for g := range groups {
		q := y[4*g : 4*g+4]
		var mn float64
		for _, x := range q {
			mn += min(0, x)
		}
		o := g/2*64 + g%2*32
		for m := range 16 {
			s := -mn
			for i, x := range q {
				if m>>i&1 != 0 {
					s += x
				}
			}
			e := byte(max(0, min(float64(levels), math.Round(s/delta))))
			lt.t[o+m], lt.t[o+16+m] = e, e
		}
	}
	// Σ sign·q = 2·Σ_{bit set} q − Σq ≈ 2·(delta·S + sumMin) − sumQ,
	// divided by 2·delta (the ranking ignores a positive factor)
	lt.c = float32((2*sumMin - sumQ) / (2 * delta))
	return lt
}

// scan1Go is the portable scan1: blocks·32 vectors (len(f)), codes rows·32
// bytes a block.
func scan1Go(codes []byte, lut []byte, rows int, f []float32, c, thr float32, out []uint32, ests []float32) int {
	n := 0
	for b := range len(f) / 32 {
		blk := codes[b*32*rows : (b+1)*32*rows]
		for v := range 32 {
			var s int32
			for j := range rows {
				x := blk[j*32+v]
				s += int32(lut[j*64+int(x&15)]) + int32(lut[j*64+32+int(x>>4)])
			}
			if est := f[b*32+v] * (float32(s) + c); est > thr {
				out[n], ests[n] = uint32(b*32+v), est
				n++
			}
		}
	}
	return n
}

// fastSearch is flatSearch with the 1-bit first pass (mu held for
// reading). A sample of the blocks (one in flatSampleEvery) gives the
// first pass's threshold: the estimate about flatFirst vectors exceed.
// Each vector above it is estimated again from its 2-bit code at once
// (its code is near the ones just read: no second pass, no selection
// among the first pass's candidates), and the best n of those 2-bit
// estimates are returned (when ok).
func (sp *vecSpace) fastSearch(vd *vecData, fq flatQuery, n int, ok func(uint32) bool, b *flatBuf) []uint32 {
	F := &sp.fast
	ids := len(sp.state)
	nblocks := (ids + 31) / 32
	bps := F.slabV / 32
	rowB := 32 * F.rows
	n1 := flatFirst
	if n > flatCandidates {
		n1 = int(int64(flatFirst) * int64(n) / flatCandidates)
	}
	workers := max(1, min(runtime.GOMAXPROCS(0), ids/flatScanMin))
	cb := sp.rot.codeBytes()
	mask := uint32(1)<<vd.shift - 1
	bias := -3 * fq.sumQ
	// span returns the 2-bit codes and factors of the vectors of blocks
	// [b0, b0+m) as one slice each when they are contiguous (a run's
	// chunks share a slab of codes: flatSlabChunks), so that a run's
	// candidates are prefetched and estimated by one call each
	span := func(b0, m int) ([]byte, []float32, bool) {
		f, l := b0*32, min((b0+m)*32, ids)-1
		if m == 0 || l < f {
			return nil, nil, false
		}
		c0, c1 := vd.chunks[f>>vd.shift], vd.chunks[l>>vd.shift]
		d := (l>>vd.shift - f>>vd.shift) << vd.shift // ids from c0's first to c1's
		j0, j1 := f&int(mask), l&int(mask)
		c2, cf := c0.c2[:cap(c0.c2)], c0.cf[:cap(c0.cf)]
		if (d+j1+1)*cb > len(c2) || d+j1+1 > len(cf) || &c2[d*cb] != &c1.c2[0] || &cf[d] != &c1.cf[0] {
			return nil, nil, false
		}
		return c2[j0*cb : (d+j1+1)*cb], cf[j0 : d+j1+1], true
	}
	// fetch asks for the 2-bit codes of the indexes xs of blocks [b0,
	// b0+m); est2 offers their 2-bit estimates to t
	fetch := func(b0, m int, xs []uint32) {
		if c2, cf, ok := span(b0, m); ok {
			prefetchList(c2, cb, cf, xs)
			return
		}
		for _, x := range xs {
			id := uint32(b0*32) + x
			ch := vd.chunks[id>>vd.shift]
			j := int(id & mask)
			prefetchP(unsafe.Pointer(&ch.c2[j*cb]))
			prefetchP(unsafe.Pointer(&ch.cf[j]))
		}
	}
	var out2 [1]uint32 // the sample's estimates, one at a time
	var ests2 [1]float32
	est2 := func(t *flatBest, b0, m int, xs []uint32, out2 []uint32, ests2 []float32) {
		if c2, cf, ok := span(b0, m); ok {
			nc := scan2List(c2, fq.q, cf, xs, bias, t.thr, out2, ests2)
			for j, x := range out2[:nc] {
				if ests2[j] > t.thr {
					t.add(flatCand{ests2[j], uint32(b0*32) + x})
				}
			}
			return
		}
		for _, x := range xs {
			id := uint32(b0*32) + x
			ch := vd.chunks[id>>vd.shift]
			j := int(id & mask)
			if scan2(ch.c2[j*cb:(j+1)*cb], fq.q, ch.cf[j:j+1], bias, t.thr, out2[:1], ests2[:1]) == 1 {
				t.add(flatCand{ests2[0], id})
			}
		}
	}
	// the thresholds from the sampled blocks: the first pass's, the
	// estimate about n1 vectors exceed; the 2-bit one, that about 2n of
	// those exceed (the scan's selection then handles about 2n offers)
	thr1, thr2 := float32(math.Inf(-1)), float32(math.Inf(-1))
	if sampled := (nblocks + flatSampleEvery - 1) / flatSampleEvery * 32; n1 < ids {
		b.sOut, b.sEsts = grow(b.sOut, 32), grow(b.sEsts, 32)
		out, ests := b.sOut, b.sEsts
		sn := max(1, int(int64(n1)*int64(sampled)/int64(ids)))
		b.samp = grow(b.samp, 2*sn)
		t := flatBest{n: sn, thr: float32(math.Inf(-1)), c: b.samp[:0]}
		for bl := 0; bl < nblocks; bl += flatSampleEvery {
			s, i := bl/bps, bl%bps
			nc := scan1(F.codes[s][i*rowB:(i+1)*rowB], fq.lut.t, F.rows, F.f[s][i*32:(i+1)*32], fq.lut.c, t.thr, out, ests)
			for j, e := range ests[:nc] {
				if e > t.thr {
					t.add(flatCand{e, uint32(bl*32) + out[j]})
				}
			}
		}
		if t.trim(); len(t.c) == t.n {
			thr1 = t.thr
			b.xs = grow(b.xs, len(t.c))
			xs := b.xs
			for i, c := range t.c {
				xs[i] = c.id
			}
			// t's buffer, now copied to xs, takes the 2-bit estimates
			t2n := max(1, int(int64(2*n)*int64(sampled)/int64(ids)))
			t2 := flatBest{n: t2n, thr: float32(math.Inf(-1)), c: b.samp[:0]}
			if 2*t2n > cap(t2.c) {
				t2.c = make([]flatCand, 0, 2*t2n)
			}
			fetch(0, 0, xs)
			est2(&t2, 0, 0, xs, out2[:], ests2[:])
			if t2.trim(); len(t2.c) == t2.n {
				thr2 = t2.thr
			}
		}
	}
	// the workers take runs of R blocks (within a slab: R and bps are
	// powers of two) from a shared counter (flatRun); the 2-bit codes of a
	// run's candidates are fetched while the worker scans its next run (a
	// candidate's code is a random read: waiting for each costs more than
	// the first pass)
	R := min(fastRunBlocks, bps)
	nruns := (nblocks + R - 1) / R
	start := func(sc *flatScratch) {
		sc.init(n, thr2, 32*R)
		sc.prev, sc.pb, sc.pm = sc.prev[:0], 0, 0
	}
	run := func(sc *flatScratch, r int) {
		b0 := r * R
		m := min(R, nblocks-b0)
		s, i := b0/bps, b0%bps
		nc := scan1(F.codes[s][i*rowB:(i+m)*rowB], fq.lut.t, F.rows, F.f[s][i*32:(i+m)*32], fq.lut.c, thr1, sc.out, sc.ests)
		fetch(b0, m, sc.out[:nc])
		est2(&sc.t, sc.pb, sc.pm, sc.prev, sc.out2, sc.ests2)
		sc.prev, sc.pb, sc.pm = append(sc.prev[:0], sc.out[:nc]...), b0, m
	}
	end := func(sc *flatScratch) { est2(&sc.t, sc.pb, sc.pm, sc.prev, sc.out2, sc.ests2) }
	return b.keep(flatRun(workers, nruns, start, run, end), n, ok)
}
