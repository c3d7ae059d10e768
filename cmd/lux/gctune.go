package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
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

// bigRequestFactor: while a large request is framed and run (its buffer
// grew to B bytes within the last few seconds, server.BigRequest) the
// headroom is at least this many times B. One MSET of a million arguments
// (a 16 MB buffer) allocates about 250 MB while it runs; with 8 × B it is
// collected 8 times instead of 23 (server CPU 3.4 → 1.8 s) for a peak RSS
// of 483 MB instead of 394; 16 × B saved nothing more (1.8 s, 579 MB).
const bigRequestFactor = 8

// gcPercentFor is the GOGC for a live heap; floor is the least it returns.
// big is server.BigRequest().
func gcPercentFor(live uint64, floor int, big int64) int {
	if live == 0 {
		return maxGCPercent
	}
	headroom := uint64(gcHeadroom)
	if b := uint64(big) * bigRequestFactor; big > 0 && b > headroom {
		headroom = b
	}
	p := int(headroom * 100 / live)
	if p < floor {
		return floor
	}
	if p > maxGCPercent {
		return maxGCPercent
	}
	return p
}

// Returning memory when the server goes quiet: after a burst of writes the
// heap holds up to gcHeadroom of garbage that no collection reclaims until
// more is allocated, and the runtime returns freed pages to the OS only
// gradually, so a server that loaded a large keyspace and went quiet kept
// that memory in its RSS (about 15% over the live heap at a million keys).
// When a tick of idleTick ran no command after ticks that did (the server
// just went quiet; Pebble's flushes and compactions may go on) and the heap
// retains more than max(idleMin, live/16) beyond its live bytes, the tuner
// collects and returns every free page (debug.FreeOSMemory): one collection
// per quiet period, at most one per idleGap.
const (
	idleTick = 500 * time.Millisecond
	idleMin  = 16 << 20
	idleGap  = 30 * time.Second
)

// idleRelease decides whether to return memory now: ran is the commands
// run during the last tick, busy whether any ran since the last release,
// retained and live the heap's mapped (not released) and live bytes.
func idleRelease(ran int64, busy bool, retained, live uint64) bool {
	if ran != 0 || !busy || retained <= live {
		return false
	}
	extra := uint64(idleMin)
	if live/16 > extra {
		extra = live / 16
	}
	return retained-live > extra
}

// gcTuner sets GOGC after every collection from the live heap it left, so
// the next collection comes after about gcHeadroom bytes of allocation
// whatever the heap's size. (A once-a-second tuner let a heap that grew
// fast between two ticks run at the small heap's high GOGC.) It also
// returns memory when the server goes quiet (idleRelease).
func gcTuner(stop <-chan struct{}, floor int, commands func() int64, big func() int64) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	idle := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
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
	tick := time.NewTicker(idleTick)
	defer tick.Stop()
	cur := -1
	var lastCommands int64
	var lastRelease time.Time
	busy := false
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			n := commands()
			ran := n - lastCommands
			lastCommands = n
			if ran != 0 {
				busy = true
				continue
			}
			if !busy || time.Since(lastRelease) < idleGap {
				continue
			}
			metrics.Read(idle)
			known := true
			for _, v := range idle {
				known = known && v.Value.Kind() == metrics.KindUint64
			}
			if !known {
				continue
			}
			// mapped heap pages not returned: objects, fragmentation, free
			retained := idle[0].Value.Uint64() + idle[1].Value.Uint64() + idle[2].Value.Uint64()
			if idleRelease(ran, busy, retained, idle[3].Value.Uint64()) {
				debug.FreeOSMemory()
				lastRelease = time.Now()
				busy = false
			}
			continue
		case <-done:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		if p := gcPercentFor(sample[0].Value.Uint64(), floor, big()); p != cur {
			debug.SetGCPercent(p)
			cur = p
		}
	}
}
