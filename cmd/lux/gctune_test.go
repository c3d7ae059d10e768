package main

import "testing"

func TestIdleRelease(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		ran            int64
		busy           bool
		retained, live uint64
		want           bool
	}{
		{0, true, 240 * mb, 200 * mb, true},       // quiet after a burst, 40 MB over the live heap
		{0, false, 240 * mb, 200 * mb, false},     // already released since the last burst
		{2 * mb, true, 240 * mb, 200 * mb, false}, // still allocating
		{0, true, 210 * mb, 200 * mb, false},      // within live/16
		{0, true, 20 * mb, 2 * mb, true},          // a small heap: over idleMin
		{0, true, 10 * mb, 2 * mb, false},         // a small heap: under idleMin
		{0, true, 100 * mb, 200 * mb, false},      // metrics from different moments
	} {
		if got := idleRelease(c.ran, c.busy, c.retained, c.live); got != c.want {
			t.Errorf("idleRelease(%d, %v, %d, %d) = %v, want %v", c.ran, c.busy, c.retained, c.live, got, c.want)
		}
	}
}
