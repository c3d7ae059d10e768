package storage

import "golang.org/x/sys/cpu"

// The vector distances use AVX2 and FMA when the CPU has them (8 float32
// lanes: the graph's distances are most of a search's and an insertion's
// time); dot_other.go is the portable code.

//go:noescape
func dot32AVX2(a, b *float32, n int) float32

//go:noescape
func dot64AVX2(a, b *float32, n int) float64

//go:noescape
func dot8AVX2(a, b *int8, n int) int32

// prefetch asks for the two cache lines at p (a graph node's int8 vector)
// before its distance is computed.
//
//go:noescape
func prefetch(p *int8)

var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// dot32 is a float32 dot product (the graph's distances; scores are
// recomputed by dot64).
func dot32(a, b []float32) float32 {
	if len(a) == 0 {
		return 0
	}
	b = b[:len(a)]
	if hasAVX2 {
		return dot32AVX2(&a[0], &b[0], len(a))
	}
	return dot32Go(a, b)
}

// dot64 is the dot product accumulated in float64 (exact scores).
func dot64(a, b []float32) float64 {
	if len(a) == 0 {
		return 0
	}
	b = b[:len(a)]
	if hasAVX2 {
		return dot64AVX2(&a[0], &b[0], len(a))
	}
	return dot64Go(a, b)
}

// dot8 is the int8 dot product of the graph's quantized vectors.
func dot8(a, b []int8) int32 {
	if len(a) == 0 {
		return 0
	}
	b = b[:len(a)]
	if hasAVX2 {
		return dot8AVX2(&a[0], &b[0], len(a))
	}
	return dot8Go(a, b)
}
