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

func TestGCPercentFor(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		live  uint64
		floor int
		big   int64
		want  int
	}{
		{0, 15, 0, maxGCPercent},
		{4 * mb, 15, 0, 800},          // 32 MB over a 4 MB heap
		{2 * mb, 15, 0, maxGCPercent}, // capped
		{320 * mb, 15, 0, 15},         // 10% would be below the floor
		{100 * mb, 15, 0, 32},
		{100 * mb, 15, 1 * mb, 32},  // a small "big" request: the usual headroom
		{200 * mb, 15, 16 * mb, 64}, // a 16 MB request: 128 MB of headroom
		{20 * mb, 15, 16 * mb, 640},
	} {
		if got := gcPercentFor(c.live, c.floor, c.big); got != c.want {
			t.Errorf("gcPercentFor(%d MB, %d, %d MB) = %d, want %d", c.live/mb, c.floor, c.big/mb, got, c.want)
		}
	}
}
