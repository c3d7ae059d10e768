package server

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// Command timing. Every command is timed (INFO commandstats, LATENCY
// HISTOGRAM, SLOWLOG, the latency monitor), so the clock must be cheap:
// on amd64 the time-stamp counter (RDTSC, about 16 ns here, where
// time.Now costs 355 ns on this virtual machine and runtime.nanotime 38 ns),
// converted to nanoseconds with a rate measured against the monotonic
// clock; elsewhere the monotonic clock itself.

var (
	clockBase  = time.Now()
	tickBase   = cputicks()
	nsPerTickQ atomic.Uint64 // nanoseconds per tick, 32.32 fixed point; 0 until calibrated
)

// ticksNs converts a tick interval to nanoseconds.
func ticksNs(d int64) int64 {
	if d <= 0 {
		return 0
	}
	q := nsPerTickQ.Load()
	if q == 0 {
		q = calibrateTicks()
	}
	hi, lo := bits.Mul64(uint64(d), q)
	return int64(hi<<32 | lo>>32)
}

var refineOnce sync.Once

// refineTicks recalibrates after 1 s and after 1 min of uptime, when the
// interval measured makes the rate exact to a few parts per million.
func refineTicks() {
	refineOnce.Do(func() {
		go func() {
			for _, at := range []time.Duration{time.Second, time.Minute} {
				time.Sleep(at - time.Since(clockBase))
				calibrateTicks()
			}
		}()
	})
}

// calibrateTicks measures the tick rate over the time since start (at least
// 2 ms, waiting for it the first time) and returns it; later calls refine
// it over the longer interval, which the caller may do now and then.
func calibrateTicks() uint64 {
	el := time.Since(clockBase)
	if el < 2*time.Millisecond {
		time.Sleep(2*time.Millisecond - el)
		el = time.Since(clockBase)
	}
	t := cputicks() - tickBase
	if t <= 0 {
		nsPerTickQ.Store(1 << 32)
		return 1 << 32
	}
	q := uint64(float64(el.Nanoseconds()) / float64(t) * (1 << 32))
	if q == 0 {
		q = 1
	}
	nsPerTickQ.Store(q)
	return q
}
