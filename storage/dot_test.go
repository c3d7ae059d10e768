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
