package storage

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The vector distances use AVX2 and FMA when the CPU has them (8 float32
// lanes: the graph's distances are most of a search's and an insertion's
// time); dot_other.go is the portable code.

//go:noescape
func dot32AVX2(a, b *float32, n int) float32

//go:noescape
func dot64AVX2(a, b *float32, n int) float64

//go:noescape
func dot8AVX2(a, b *int8, n int) int32

//go:noescape
func scan2AVX2(codes *byte, q *int8, blocks, n int, cf *float32, bias int32, thr float32, out *uint32, ests *float32) int

//go:noescape
func scan1AVX2(codes *byte, lut *byte, rows, blocks int, f *float32, c, thr float32, out *uint32, ests *float32) int

// prefetch asks for the two cache lines at p (a graph node's int8 vector)
// before its distance is computed.
//
//go:noescape
func prefetch(p *int8)

//go:noescape
func scan2ListAVX2(codes *byte, q *int8, blocks int, cf *float32, idx *uint32, n int, bias int32, thr float32, out *uint32, ests *float32) int

//go:noescape
func prefetchListAsm(codes *byte, stride int, cf *float32, idx *uint32, n int)

// prefetchP asks for the cache line at p (a 2-bit code or factor).
//
//go:noescape
func prefetchP(p unsafe.Pointer)

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

// scan2 writes into out and ests the indexes i of the code vectors whose
// estimate cf[i]·float32(2·dot + bias) exceeds thr, and the estimates, and
// returns their count (len(cf) vectors; out and ests as long; the layout
// of codePos).
func scan2(codes []byte, q []int8, cf []float32, bias int32, thr float32, out []uint32, ests []float32) int {
	if len(cf) == 0 {
		return 0
	}
	stride := len(q) / 4
	_ = codes[len(cf)*stride-1]
	_ = out[len(cf)-1]
	_ = ests[len(cf)-1]
	if hasAVX2 {
		return scan2AVX2(&codes[0], &q[0], stride/32, len(cf), &cf[0], bias, thr, &out[0], &ests[0])
	}
	return scan2Go(codes, q, cf, bias, thr, out, ests)
}

// scan1 writes into out and ests the indexes i of the 1-bit code vectors
// (len(f), a multiple of 32: whole blocks of rows·32 bytes) whose estimate
// f[i]·(S + c) exceeds thr (vecfast.go), and the estimates, and returns
// their count (out and ests as long as f).
func scan1(codes []byte, lut []byte, rows int, f []float32, c, thr float32, out []uint32, ests []float32) int {
	if len(f) < 32 {
		return 0
	}
	blocks := len(f) / 32
	_ = codes[blocks*32*rows-1]
	_ = lut[rows*64-1]
	_ = out[len(f)-1]
	_ = ests[len(f)-1]
	if hasAVX2 && rows%2 == 0 {
		return scan1AVX2(&codes[0], &lut[0], rows, blocks, &f[0], c, thr, &out[0], &ests[0])
	}
	return scan1Go(codes, lut, rows, f, c, thr, out, ests)
}

// listFits tells whether every index of idx has a code of stride bytes in
// codes and a factor in cf (the kernels below index them unchecked).
func listFits(codes []byte, stride int, cf []float32, idx []uint32) bool {
	var m uint32
	for _, i := range idx {
		m = max(m, i)
	}
	return int(m) < len(cf) && (int(m)+1)*stride <= len(codes)
}

// scan2List is scan2 for the code vectors idx of codes: it writes the
// indexes (of idx's values) whose estimate exceeds thr into out and their
// estimates into ests (both as long as idx) and returns their count.
func scan2List(codes []byte, q []int8, cf []float32, idx []uint32, bias int32, thr float32, out []uint32, ests []float32) int {
	stride := len(q) / 4
	if len(idx) == 0 || !listFits(codes, stride, cf, idx) {
		return scan2ListGo(codes, q, cf, idx, bias, thr, out, ests)
	}
	_ = out[len(idx)-1]
	_ = ests[len(idx)-1]
	if hasAVX2 {
		return scan2ListAVX2(&codes[0], &q[0], stride/32, &cf[0], &idx[0], len(idx), bias, thr, &out[0], &ests[0])
	}
	return scan2ListGo(codes, q, cf, idx, bias, thr, out, ests)
}

// prefetchList asks for the codes and factors of the vectors idx.
func prefetchList(codes []byte, stride int, cf []float32, idx []uint32) {
	if len(idx) > 0 && listFits(codes, stride, cf, idx) {
		prefetchListAsm(&codes[0], stride, &cf[0], &idx[0], len(idx))
	}
}
