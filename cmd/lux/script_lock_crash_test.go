package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A distributed lock built on EVALSHA (the single-instance Redlock pattern
// lock libraries ship), used by several workers while lux is killed with
// kill -9 and restarted in always mode. go-redis's Script runs EVALSHA and
// falls back to EVAL after a restart emptied the script cache.
var (
	lockAcquire = redis.NewScript(`if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`)
	// enter checks that the caller holds the lock and nobody else is inside,
	// marks the caller inside until the lock's own deadline, and hands out
	// a fencing token
	lockEnter = redis.NewScript(`if redis.call('get', KEYS[1]) ~= ARGV[1] then return redis.error_reply('NOTHOLDER') end
local o = redis.call('get', KEYS[2])
if o then return redis.error_reply('OCCUPIED by ' .. o) end
redis.call('set', KEYS[2], ARGV[1], 'PXAT', redis.call('pexpiretime', KEYS[1]))
return redis.call('incr', KEYS[3])`)
	lockRelease = redis.NewScript(`if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('del', KEYS[2])
  return redis.call('del', KEYS[1])
end
return 0`)
)

func TestCrashScriptLock(t *testing.T) {
	p := startLux(t, "--appendfsync", "always")
	ctx := context.Background()
	const workers = 4
	var (
		stop     atomic.Bool
		mu       sync.Mutex
		fences   = map[int64]string{} // fencing token -> holder
		maxFence int64
		twice    []string
		sections atomic.Int64
	)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := crashClient(t, p.Addr, 0)
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			keys := []string{"lock", "lock:inside", "lock:fence"}
			for seq := 0; !stop.Load(); seq++ {
				token := fmt.Sprintf("w%d-%d", w, seq)
				got, err := lockAcquire.Run(ctx, c, keys[:1], token, 500).Int()
				if err != nil || got == 0 {
					time.Sleep(time.Duration(1+rng.IntN(5)) * time.Millisecond)
					continue
				}
				fence, err := lockEnter.Run(ctx, c, keys, token).Int64()
				switch {
				case err != nil && strings.HasPrefix(err.Error(), "OCCUPIED"):
					mu.Lock()
					twice = append(twice, token+" found "+err.Error())
					mu.Unlock()
					continue
				case err != nil: // the server went away, or the lock expired meanwhile
					continue
				}
				mu.Lock()
				if prev, dup := fences[fence]; dup {
					twice = append(twice, fmt.Sprintf("fencing token %d given to %s and %s", fence, prev, token))
				}
				fences[fence] = token
				maxFence = max(maxFence, fence)
				mu.Unlock()
				sections.Add(1)
				time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
				lockRelease.Run(ctx, c, keys[:2], token)
			}
		}()
	}
	const cycles = 3
	var perCycle []int64
	for cycle := 0; cycle < cycles; cycle++ {
		before := sections.Load()
		time.Sleep(time.Duration(1200+rand.IntN(600)) * time.Millisecond)
		p.Kill9()
		perCycle = append(perCycle, sections.Load()-before)
		time.Sleep(50 * time.Millisecond)
		p.Restart()
	}
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	for _, s := range twice {
		t.Errorf("lock held twice: %s", s)
	}
	for i, n := range perCycle {
		if n < 10 {
			t.Errorf("cycle %d: only %d critical sections (the workers made no progress)", i, n)
		}
	}
	c := crashClient(t, p.Addr, 0)
	got, err := c.Get(ctx, "lock:fence").Int64()
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got < maxFence {
		t.Errorf("fencing counter %d after the last restart, but token %d was handed out: an acknowledged INCR was lost", got, maxFence)
	}
	t.Logf("%d critical sections over %d kill -9 cycles (per cycle %v), fencing counter %d", len(fences), cycles, perCycle, got)
}
