package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCrashSwapDBIsAtomic: SWAPDB rewrites both databases' records in one
// batch, so after a kill -9 in the middle of a stream of SWAPDBs each
// database holds wholly one side's keys (counts, strings, collections and
// keys evicted to disk alike), never a mix, and the key counts match.
func TestCrashSwapDBIsAtomic(t *testing.T) {
	p := startLux(t, "--appendfsync", "everysec", "--maxmemory", "1mb")
	ctx := context.Background()
	const na, nb = 400, 250
	setup := crashClient(t, p.Addr, 3)
	for i := 1; i < na; i++ { // a:0 is the hash below
		if err := setup.Set(ctx, fmt.Sprint("a:", i), fmt.Sprintf("%0500d", i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 200; i++ {
		if err := setup.HSet(ctx, "a:0", fmt.Sprint("f", i), i).Err(); err != nil {
			t.Fatal(err)
		}
	}
	setup.Close()
	setup = crashClient(t, p.Addr, 4)
	for i := 0; i < nb; i++ {
		if err := setup.RPush(ctx, fmt.Sprint("b:", i), "x", "y").Err(); err != nil {
			t.Fatal(err)
		}
	}
	setup.Close()
	// side reports which side's keys database db holds: "a" or "b"
	side := func(db int) string {
		c := crashClient(t, p.Addr, db)
		defer c.Close()
		n, err := c.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		ea, _ := c.Exists(ctx, "a:1", fmt.Sprint("a:", na-1)).Result()
		eb, _ := c.Exists(ctx, "b:0", fmt.Sprint("b:", nb-1)).Result()
		switch {
		case n == na && ea == 2 && eb == 0:
			if l, _ := c.LLen(ctx, "b:0").Result(); l != 0 {
				t.Fatalf("db %d: a's keys with b's list", db)
			}
			if v, _ := c.Get(ctx, fmt.Sprint("a:", na-1)).Result(); v != fmt.Sprintf("%0500d", na-1) {
				t.Fatalf("db %d: a:%d = %q", db, na-1, v)
			}
			return "a"
		case n == nb && eb == 2 && ea == 0:
			if l, _ := c.LLen(ctx, fmt.Sprint("b:", nb-1)).Result(); l != 2 {
				t.Fatalf("db %d: list b:%d has %d elements", db, nb-1, l)
			}
			return "b"
		}
		t.Fatalf("db %d: a mix after the crash: %d keys, %d of a's probes, %d of b's", db, n, ea, eb)
		return ""
	}
	swaps := 0
	for cycle := 0; cycle < 4; cycle++ {
		var stop atomic.Bool
		var done atomic.Int64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := crashClient(t, p.Addr, 0)
			defer c.Close()
			for !stop.Load() {
				if c.Do(ctx, "SWAPDB", 3, 4).Err() != nil {
					return
				}
				done.Add(1)
			}
		}()
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		p.Kill9()
		stop.Store(true)
		wg.Wait()
		p.Restart()
		s3, s4 := side(3), side(4)
		if s3 == s4 {
			t.Fatalf("cycle %d: both databases hold %s's keys", cycle, s3)
		}
		c := crashClient(t, p.Addr, 3)
		if s3 == "a" {
			if n, _ := c.HLen(ctx, "a:0").Result(); n != 200 {
				c.Close()
				t.Fatalf("cycle %d: hash a:0 has %d fields", cycle, n)
			}
		}
		c.Close()
		swaps += int(done.Load())
	}
	if swaps == 0 {
		t.Fatal("no SWAPDB was acknowledged")
	}
	t.Logf("%d SWAPDBs acknowledged over 4 kill -9 cycles", swaps)
}
