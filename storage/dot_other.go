//go:build !amd64

package storage

import "unsafe"

func dot32(a, b []float32) float32 { return dot32Go(a, b) }

func dot64(a, b []float32) float64 { return dot64Go(a, b) }

func dot8(a, b []int8) int32 { return dot8Go(a, b) }

func prefetch(*int8) {}

func prefetchP(unsafe.Pointer) {}

func scan2(codes []byte, q []int8, cf []float32, bias int32, thr float32, out []uint32, ests []float32) int {
	return scan2Go(codes, q, cf, bias, thr, out, ests)
}

func scan1(codes []byte, lut []byte, rows int, f []float32, c, thr float32, out []uint32, ests []float32) int {
	return scan1Go(codes, lut, rows, f, c, thr, out, ests)
}

func scan2List(codes []byte, q []int8, cf []float32, idx []uint32, bias int32, thr float32, out []uint32, ests []float32) int {
	return scan2ListGo(codes, q, cf, idx, bias, thr, out, ests)
}

func prefetchList([]byte, int, []float32, []uint32) {}
