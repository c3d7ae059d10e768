package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestCrashFunctionLoad: FUNCTION LOAD and DELETE while other clients write,
// then kill -9, in always mode: every acknowledged library (and none of the
// acknowledged deletions) is there after the restart, and runs; so are the
// acknowledged writes.
func TestCrashFunctionLoad(t *testing.T) {
	p := startLux(t, "--appendfsync", "always")
	ctx := context.Background()
	var (
		stop    atomic.Bool
		mu      sync.Mutex
		loaded  = map[int]bool{} // acknowledged LOADs, minus acknowledged DELETEs
		deleted = map[int]bool{}
		written = map[string]string{}
	)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := crashClient(t, p.Addr, 0)
		for i := 0; !stop.Load(); i++ {
			code := fmt.Sprintf("#!lua name=lib%d\nredis.register_function('f%d', function() return %d end)", i, i, i)
			if c.FunctionLoad(ctx, code).Err() != nil {
				return // the server is gone
			}
			mu.Lock()
			loaded[i] = true
			mu.Unlock()
			if i%3 == 2 {
				err := c.FunctionDelete(ctx, fmt.Sprint("lib", i-2)).Err()
				mu.Lock()
				// a DELETE the kill cut off may or may not have happened:
				// the library is then neither acknowledged loaded nor deleted
				delete(loaded, i-2)
				if err == nil {
					deleted[i-2] = true
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}
	}()
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := crashClient(t, p.Addr, 0)
			for i := 0; !stop.Load(); i++ {
				k, v := fmt.Sprintf("k:%d:%d", w, i), fmt.Sprint(i)
				if c.Set(ctx, k, v, 0).Err() != nil {
					return
				}
				mu.Lock()
				written[k] = v
				mu.Unlock()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	p.Kill9()
	stop.Store(true)
	wg.Wait()
	p.Restart()

	c := crashClient(t, p.Addr, 0)
	libs, err := c.FunctionList(ctx, redis.FunctionListQuery{}).Result()
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, l := range libs {
		present[l.Name] = true
	}
	for i := range loaded {
		if v, err := c.FCall(ctx, fmt.Sprint("f", i), nil).Int(); err != nil || v != i {
			t.Errorf("lib%d, loaded and acknowledged, after the restart: FCALL f%d = %v, %v", i, i, v, err)
		}
	}
	for i := range deleted {
		if present[fmt.Sprint("lib", i)] {
			t.Errorf("lib%d came back after its acknowledged DELETE", i)
		}
	}
	lost := 0
	for k, v := range written {
		if got, err := c.Get(ctx, k).Result(); err != nil || got != v {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged SETs lost", lost, len(written))
	}
	if len(loaded) < 10 {
		t.Errorf("only %d libraries loaded before the kill", len(loaded))
	}
	t.Logf("%d libraries loaded (%d deleted), %d in FUNCTION LIST, %d writes, all there", len(loaded), len(deleted), len(libs), len(written))
}
