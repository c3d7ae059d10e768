package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// gcTuner gives the Go heap a garbage headroom of about gcHeadroom bytes.
// Small heaps get a GOGC above 100: with GOGC=100 a server whose live heap
// is a few MB (a store whose data is on disk) collects every few MB
// allocated, several times a second under load, and a request that meets a
// collection waits for its assists and pauses (a restart on 5M chat
// messages, then 13,000 history queries: 33 collections, now 11). Without
// --maxmemory large heaps get a lower GOGC, but never less than
// minGCPercent so the collector does not run constantly: with GOGC=100 a
// heap of live keys may grow to twice its size before a collection, which
// doubles a cache's RSS. With --maxmemory GOGC stays at least 100 and the
// memory limit makes the collector work harder as the heap nears it.
const (
	gcHeadroom   = 32 << 20
	minGCPercent = 15
	maxGCPercent = 1000
)

// gcPercentFor is the GOGC for a live heap; floor is the least it returns.
func gcPercentFor(live uint64, floor int) int {
	if live == 0 {
		return maxGCPercent
	}
	p := int(uint64(gcHeadroom) * 100 / live)
	if p < floor {
		return floor
	}
	if p > maxGCPercent {
		return maxGCPercent
	}
	return p
}

// gcTuner sets GOGC after every collection from the live heap it left, so
// the next collection comes after about gcHeadroom bytes of allocation
// whatever the heap's size. (A once-a-second tuner let a heap that grew
// fast between two ticks run at the small heap's high GOGC.)
func gcTuner(stop <-chan struct{}, floor int) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	done := make(chan struct{}, 1)
	// a sentinel whose finalizer runs once per collection and re-arms itself
	var arm func()
	arm = func() {
		s := new([16]byte)
		runtime.SetFinalizer(s, func(*[16]byte) {
			select {
			case <-stop:
				return
			default:
			}
			select {
			case done <- struct{}{}:
			default:
			}
			arm()
		})
	}
	arm()
	cur := -1
	for {
		select {
		case <-stop:
			return
		case <-done:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		if p := gcPercentFor(sample[0].Value.Uint64(), floor); p != cur {
			debug.SetGCPercent(p)
			cur = p
		}
	}
}
