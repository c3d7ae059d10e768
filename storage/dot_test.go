package storage

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDot checks the assembly dot products against the portable ones for
// every length up to 70 (all loop tails).
func TestDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 0; n <= 70; n++ {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i] = rng.Float32()*2-1, rng.Float32()*2-1
		}
		if g, w := dot32(a, b), dot32Go(a, b); math.Abs(float64(g-w)) > 1e-4 {
			t.Fatalf("dot32 n=%d: %v, want %v", n, g, w)
		}
		if g, w := dot64(a, b), dot64Go(a, b); math.Abs(g-w) > 1e-12 {
			t.Fatalf("dot64 n=%d: %v, want %v", n, g, w)
		}
		a8, b8 := make([]int8, n), make([]int8, n)
		for i := range a8 {
			a8[i], b8[i] = int8(rng.IntN(256)-128), int8(rng.IntN(256)-128)
		}
		if g, w := dot8(a8, b8), dot8Go(a8, b8); g != w {
			t.Fatalf("dot8 n=%d: %v, want %v", n, g, w)
		}
	}
	// the flat index's scan: 1 to 3 blocks of 128 dimensions, 0 to 9 vectors
	for blocks := 1; blocks <= 3; blocks++ {
		q := make([]int8, blocks*128)
		for i := range q {
			q[i] = int8(rng.IntN(255) - 127)
		}
		for n := 0; n <= 9; n++ {
			codes := make([]byte, n*blocks*32)
			for i := range codes {
				codes[i] = byte(rng.IntN(256))
			}
			cf := make([]float32, n)
			for i := range cf {
				cf[i] = rng.Float32() - 0.25
			}
			for _, thr := range []float32{float32(math.Inf(-1)), 0, 100} {
				go1, ge1 := make([]uint32, n), make([]float32, n)
				go2, ge2 := make([]uint32, n), make([]float32, n)
				c1 := scan2(codes, q, cf, -7, thr, go1, ge1)
				c2 := scan2Go(codes, q, cf, -7, thr, go2, ge2)
				if !slices.Equal(go1[:c1], go2[:c2]) || !slices.Equal(ge1[:c1], ge2[:c2]) {
					t.Fatalf("scan2 blocks=%d n=%d thr=%v: %v %v, want %v %v", blocks, n, thr, go1[:c1], ge1[:c1], go2[:c2], ge2[:c2])
				}
			}
			// the layout: dimension d's code at codePos(d)
			for i := 0; i < n; i++ {
				var s int32
				for d := range q {
					b, sh := codePos(d)
					s += int32(q[d]) * int32(codes[i*blocks*32+b]>>sh&3)
				}
				if g := dot2Go(codes[i*blocks*32:(i+1)*blocks*32], q); g != s {
					t.Fatalf("dot2Go blocks=%d vector %d: %d, want %d", blocks, i, g, s)
				}
			}
		}
	}
}

// TestScan1 checks the 1-bit kernel against the portable one: random codes
// and tables, 1 to 5 blocks, 2 to 8 rows, factors with NaN (removed
// vectors, the empty slots of a partial block) and zeros, thresholds that
// pass none, some and all.
func TestScan1(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for rows := 2; rows <= 8; rows += 2 {
		for blocks := 1; blocks <= 5; blocks++ {
			n := blocks * 32
			codes := make([]byte, n*rows)
			for i := range codes {
				codes[i] = byte(rng.IntN(256))
			}
			lut := make([]byte, rows*64) // each table twice (one per lane)
			for i := range lut {
				if i%32 < 16 {
					lut[i] = byte(rng.IntN(fastLevels + 1))
				} else {
					lut[i] = lut[i-16]
				}
			}
			f := make([]float32, n)
			for i := range f {
				switch rng.IntN(8) {
				case 0:
					f[i] = float32(math.NaN())
				case 1:
					f[i] = 0
				default:
					f[i] = rng.Float32()*2 - 0.5
				}
			}
			// a partial last block: its empty slots are NaN
			for i := n - rng.IntN(32); i < n; i++ {
				f[i] = float32(math.NaN())
			}
			c := float32(rng.IntN(200)) - 100.5
			for _, thr := range []float32{float32(math.Inf(-1)), 0, 50, 1e9} {
				o1, e1 := make([]uint32, n), make([]float32, n)
				o2, e2 := make([]uint32, n), make([]float32, n)
				c1 := scan1(codes, lut, rows, f, c, thr, o1, e1)
				c2 := scan1Go(codes, lut, rows, f, c, thr, o2, e2)
				if !slices.Equal(o1[:c1], o2[:c2]) || !slices.Equal(e1[:c1], e2[:c2]) {
					t.Fatalf("scan1 rows=%d blocks=%d thr=%v: %v %v, want %v %v", rows, blocks, thr, o1[:c1], e1[:c1], o2[:c2], e2[:c2])
				}
			}
		}
	}
	// the table's sums reach the uint16 limit with the most rows a
	// dims can have (MaxVectorDims: P/8 rows)
	rows := MaxVectorDims / 8
	y := make([]float64, MaxVectorDims)
	for i := range y {
		y[i] = float64(i%3) - 1
	}
	lt := newFastLUT(y, new(flatBuf))
	codes := make([]byte, 32*rows)
	for i := range codes {
		codes[i] = byte(rng.IntN(256))
	}
	f := make([]float32, 32)
	for i := range f {
		f[i] = 1
	}
	o1, e1 := make([]uint32, 32), make([]float32, 32)
	o2, e2 := make([]uint32, 32), make([]float32, 32)
	c1 := scan1(codes, lt.t, rows, f, lt.c, float32(math.Inf(-1)), o1, e1)
	c2 := scan1Go(codes, lt.t, rows, f, lt.c, float32(math.Inf(-1)), o2, e2)
	if !slices.Equal(o1[:c1], o2[:c2]) || !slices.Equal(e1[:c1], e2[:c2]) {
		t.Fatalf("scan1 at %d rows: %v, want %v", rows, e1[:c1], e2[:c2])
	}
}

// TestScan2List checks the listed 2-bit estimate against the portable one
// and against scan2 of each vector: random codes, indexes in any order and
// repeated, factors with NaN; an index past the codes falls back to the
// portable code, which skips it.
func TestScan2List(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for blocks := 1; blocks <= 3; blocks++ {
		q := make([]int8, blocks*128)
		for i := range q {
			q[i] = int8(rng.IntN(255) - 127)
		}
		const n = 70
		codes := make([]byte, n*blocks*32)
		for i := range codes {
			codes[i] = byte(rng.IntN(256))
		}
		cf := make([]float32, n)
		for i := range cf {
			cf[i] = rng.Float32() - 0.25
			if rng.IntN(8) == 0 {
				cf[i] = float32(math.NaN())
			}
		}
		for _, bad := range []bool{false, true} {
			idx := make([]uint32, rng.IntN(40))
			for i := range idx {
				idx[i] = uint32(rng.IntN(n))
			}
			if bad {
				idx = append(idx, n)
			}
			for _, thr := range []float32{float32(math.Inf(-1)), 0, 100} {
				o1, e1 := make([]uint32, len(idx)), make([]float32, len(idx))
				o2, e2 := make([]uint32, len(idx)), make([]float32, len(idx))
				c1 := scan2List(codes, q, cf, idx, -7, thr, o1, e1)
				c2 := scan2ListGo(codes, q, cf, idx, -7, thr, o2, e2)
				if !slices.Equal(o1[:c1], o2[:c2]) || !slices.Equal(e1[:c1], e2[:c2]) {
					t.Fatalf("scan2List blocks=%d: %v %v, want %v %v", blocks, o1[:c1], e1[:c1], o2[:c2], e2[:c2])
				}
				var w []float32
				for _, i := range idx {
					if int(i) >= n {
						continue
					}
					var o [1]uint32
					var e [1]float32
					if scan2(codes[int(i)*blocks*32:(int(i)+1)*blocks*32], q, cf[i:i+1], -7, thr, o[:], e[:]) == 1 {
						w = append(w, e[0])
					}
				}
				if !slices.Equal(e1[:c1], w) {
					t.Fatalf("scan2List blocks=%d: %v, want scan2's %v", blocks, e1[:c1], w)
				}
				prefetchList(codes, blocks*32, cf, idx) // no fault, even with a bad index
			}
		}
	}
}

// TestFastEstimate: the 1-bit estimate f·(S + c), times the constant the
// ranking drops, is Σ sign(y)·q·|y|/Σ|y| up to the tables' rounding.
func TestFastEstimate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, p := range []int{128, 512} {
		fv := newVecFast(p)
		y, q := make([]float64, p), make([]float64, p)
		for i := range q {
			q[i] = rng.NormFloat64()
		}
		lt := newFastLUT(q, new(flatBuf))
		var maxRange float64
		for g := range p / 4 {
			var r float64
			for _, x := range q[4*g : 4*g+4] {
				r += math.Abs(x)
			}
			maxRange = max(maxRange, r)
		}
		delta := maxRange / fastLevels
		for id := range 40 {
			var sa, ss, dot float64
			for i := range y {
				y[i] = rng.NormFloat64()
				sa += math.Abs(y[i])
				ss += y[i] * y[i]
				if y[i] > 0 {
					dot += q[i]
				} else {
					dot -= q[i]
				}
			}
			fv.set(uint32(id), y)
			want := dot * math.Sqrt(ss) / sa
			out, ests := make([]uint32, 64), make([]float32, 64)
			nc := scan1(fv.codes[0], lt.t, fv.rows, fv.f[0], lt.c, float32(math.Inf(-1)), out, ests)
			var got float64
			for j := range nc {
				if out[j] == uint32(id) {
					got = float64(ests[j]) * 2 * delta
				}
			}
			// rounding: at most delta/2 an entry, p/4 entries
			if tol := float64(p/4) * delta / 2 * math.Sqrt(ss) / sa * 2; math.Abs(got-want) > tol {
				t.Fatalf("p=%d id=%d: estimate %v, want %v ± %v", p, id, got, want, tol)
			}
		}
	}
}

// BenchmarkScan1 and BenchmarkScan2: the two flat kernels over 2,048
// vectors of 128 dims, no candidate passing.
func BenchmarkScan1(b *testing.B) {
	codes, f := make([]byte, 2048*16), make([]float32, 2048)
	lut := make([]byte, 16*64)
	out, ests := make([]uint32, 2048), make([]float32, 2048)
	for b.Loop() {
		scan1(codes, lut, 16, f, 0, 1, out, ests)
	}
}

func BenchmarkScan2(b *testing.B) {
	codes, cf, q := make([]byte, 2048*32), make([]float32, 2048), make([]int8, 128)
	out, ests := make([]uint32, 2048), make([]float32, 2048)
	for b.Loop() {
		scan2(codes, q, cf, 0, 1, out, ests)
	}
}
