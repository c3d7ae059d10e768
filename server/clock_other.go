//go:build !amd64

package server

import "time"

var monoBase = time.Now()

// cputicks is the monotonic clock in nanoseconds where there is no RDTSC.
func cputicks() int64 { return int64(time.Since(monoBase)) }
