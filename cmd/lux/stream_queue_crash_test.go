package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A job queue on a stream and a consumer group, worked by several go-redis
// workers while lux is killed with kill -9 and restarted in always mode.
// Each job is done by one script (XACK, then record the result if the entry
// was pending), and a worker
// claims what a crashed delivery left pending with XAUTOCLAIM, so every job
// the producer got an ID for must end up done exactly once: the group's
// pending entries, the acks and the results all survive the kills.
// ackAndRecord acknowledges an entry and records its result in one atomic
// step, only if the entry was still pending (a worker slower than the
// claim timeout may find its job claimed and done by another).
var ackAndRecord = redis.NewScript(`if redis.call('xack', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('hincrby', KEYS[2], ARGV[3], 1)
end
return 1`)

func TestCrashStreamJobQueue(t *testing.T) {
	p := startLux(t, "--appendfsync", "always")
	ctx := context.Background()
	const (
		jobs    = 800
		workers = 3
	)
	setup := crashClient(t, p.Addr, 0)
	if err := setup.XGroupCreateMkStream(ctx, "jobs", "workers", "0").Err(); err != nil {
		t.Fatal(err)
	}
	var (
		stop     atomic.Bool
		produced sync.Map // job number -> stream ID
		nprod    atomic.Int64
		done     atomic.Int64
	)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the producer: one XADD per job, retried until acknowledged
		defer wg.Done()
		c := crashClient(t, p.Addr, 0)
		for n := 0; n < jobs && !stop.Load(); {
			id, err := c.XAdd(ctx, &redis.XAddArgs{Stream: "jobs", Values: []any{"n", n}}).Result()
			if err != nil {
				// not acknowledged: it may or may not be there; a retry could
				// add the job twice, so the job counts as produced only
				// through its acknowledged ID
				time.Sleep(20 * time.Millisecond)
				continue
			}
			produced.Store(n, id)
			nprod.Add(1)
			n++
		}
	}()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := crashClient(t, p.Addr, 0)
			name := fmt.Sprint("w", w)
			work := func(msgs []redis.XMessage) {
				for _, m := range msgs {
					err := ackAndRecord.Run(ctx, c, []string{"jobs", "done"}, "workers", m.ID,
						fmt.Sprint(m.Values["n"], "@", m.ID)).Err()
					if err == nil {
						done.Add(1)
					}
				}
			}
			for !stop.Load() {
				// what a delivery before a crash left pending
				msgs, _, err := c.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: "jobs", Group: "workers",
					Consumer: name, MinIdle: 300 * time.Millisecond, Start: "0-0", Count: 20}).Result()
				if err == nil {
					work(msgs)
				}
				streams, err := c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "workers", Consumer: name,
					Streams: []string{"jobs", ">"}, Count: 20, Block: 100 * time.Millisecond}).Result()
				if err != nil {
					if !errors.Is(err, redis.Nil) {
						time.Sleep(20 * time.Millisecond)
					}
					continue
				}
				for _, s := range streams {
					work(s.Messages)
				}
			}
		}()
	}
	for cycle := 0; cycle < 3; cycle++ {
		time.Sleep(700 * time.Millisecond)
		p.Kill9()
		time.Sleep(50 * time.Millisecond)
		p.Restart()
	}
	// let the queue drain
	c := crashClient(t, p.Addr, 0)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		pend, err := c.XPending(ctx, "jobs", "workers").Result()
		if err == nil && nprod.Load() == jobs && pend.Count == 0 {
			if n, err := c.HLen(ctx, "done").Result(); err == nil && n >= jobs {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()

	results, err := c.HGetAll(ctx, "done").Result()
	if err != nil {
		t.Fatal(err)
	}
	byJob := map[string]int{}
	for field, v := range results {
		cnt, _ := strconv.Atoi(v)
		if cnt != 1 {
			t.Errorf("entry %s done %d times", field, cnt)
		}
		var n int
		var id string
		if _, err := fmt.Sscanf(field, "%d@%s", &n, &id); err != nil {
			t.Fatalf("bad result field %q", field)
		}
		byJob[fmt.Sprint(n)] += cnt
	}
	missing := 0
	produced.Range(func(k, v any) bool {
		field := fmt.Sprint(k, "@", v)
		if _, ok := results[field]; !ok {
			missing++
			if missing < 10 {
				t.Errorf("job %v (entry %v, acknowledged by XADD) was never done", k, v)
			}
		}
		return true
	})
	pend, err := c.XPending(ctx, "jobs", "workers").Result()
	if err != nil {
		t.Fatal(err)
	}
	if pend.Count != 0 {
		t.Errorf("%d entries still pending", pend.Count)
	}
	t.Logf("%d jobs produced, %d results, %d entries in the stream, %d missing, 3 kill -9 cycles",
		nprod.Load(), len(results), c.XLen(ctx, "jobs").Val(), missing)
}
