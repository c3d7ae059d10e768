package storage

import (
	"math"
	"math/rand/v2"
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
}
