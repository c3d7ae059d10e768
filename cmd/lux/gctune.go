package main

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// gcTuner keeps the Go heap's garbage headroom proportionate. With the
// default GOGC=100 a heap of live keys may grow to twice its size before a
// collection, which doubles a cache's RSS. Small heaps keep GOGC=100 (cheap
// collections); large ones get a fixed headroom of about gcHeadroom bytes,
// but never less than minGCPercent so the collector does not run constantly.
const (
	gcHeadroom   = 32 << 20
	minGCPercent = 15
	maxGCPercent = 100
)

func gcPercentFor(live uint64) int {
	if live == 0 {
		return maxGCPercent
	}
	p := int(uint64(gcHeadroom) * 100 / live)
	if p < minGCPercent {
		return minGCPercent
	}
	if p > maxGCPercent {
		return maxGCPercent
	}
	return p
}

func gcTuner(stop <-chan struct{}) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	cur := -1
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		if p := gcPercentFor(sample[0].Value.Uint64()); p != cur {
			debug.SetGCPercent(p)
			cur = p
		}
	}
}
