//go:build !amd64

package storage

func dot32(a, b []float32) float32 { return dot32Go(a, b) }

func dot64(a, b []float32) float64 { return dot64Go(a, b) }

func dot8(a, b []int8) int32 { return dot8Go(a, b) }

func prefetch(*int8) {}
