//go:build !amd64

package storage

func dot32(a, b []float32) float32 { return dot32Go(a, b) }

func dot64(a, b []float32) float64 { return dot64Go(a, b) }

func dot8(a, b []int8) int32 { return dot8Go(a, b) }

func prefetch(*int8) {}

func scan2(codes []byte, q []int8, cf []float32, bias int32, thr float32, out []uint32, ests []float32) int {
	return scan2Go(codes, q, cf, bias, thr, out, ests)
}
