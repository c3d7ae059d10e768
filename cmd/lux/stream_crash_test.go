package main

// Crash test for streams: the real lux binary, concurrent workers that XADD
// to a shared stream and consume it through a consumer group (XREADGROUP,
// XACK, XCLAIM), a SIGKILL, a restart, and a check that every XADD
// acknowledged before the cutoff is there with its fields, that nothing
// appears that was not written, that an acknowledged XACK's entry is not
// pending, and that an entry delivered and not acknowledged is pending (or
// was acknowledged by a write the kill may have lost).

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

type streamCrashWorker struct {
	id        int
	added     map[string]string    // id -> value, acknowledged XADDs
	addedAt   map[string]time.Time // id -> ack time
	acked     map[string]time.Time // XACKs acknowledged
	delivered map[string]time.Time // XREADGROUP/XCLAIM deliveries acknowledged
	// ackCut: entries of an XACK the kill cut off, which may or may not
	// have happened: neither acknowledged nor surely pending
	ackCut  map[string]bool
	problem string
}

func (w *streamCrashWorker) run(ctx context.Context, c *redis.Client, stop *sync.WaitGroup) {
	defer stop.Done()
	for n := 0; ; n++ {
		val := fmt.Sprintf("w%d-%d", w.id, n)
		id, err := c.XAdd(ctx, &redis.XAddArgs{Stream: "jobs", Values: []string{"v", val}}).Result()
		if err != nil {
			if isServerReply(err) {
				w.problem = fmt.Sprintf("XADD: %v", err)
			}
			return
		}
		now := time.Now()
		w.added[id], w.addedAt[id] = val, now
		res, err := c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: fmt.Sprint("c", w.id), Streams: []string{"jobs", ">"}, Count: 2}).Result()
		if err != nil {
			if isServerReply(err) && err != redis.Nil {
				w.problem = fmt.Sprintf("XREADGROUP: %v", err)
			}
			if err != redis.Nil {
				return
			}
			continue
		}
		now = time.Now()
		var got []string
		for _, m := range res[0].Messages {
			w.delivered[m.ID] = now
			got = append(got, m.ID)
		}
		if n%3 == 0 && len(got) > 0 {
			// leave one pending to be claimed later
			got = got[1:]
		}
		if n%5 == 0 {
			cl, err := c.XClaim(ctx, &redis.XClaimArgs{Stream: "jobs", Group: "g", Consumer: fmt.Sprint("c", w.id), MinIdle: 0, Messages: []string{"0-1"}}).Result()
			if err != nil && isServerReply(err) {
				w.problem = fmt.Sprintf("XCLAIM: %v", err)
				return
			}
			_ = cl
		}
		if len(got) == 0 {
			continue
		}
		if _, err := c.XAck(ctx, "jobs", "g", got...).Result(); err != nil {
			if isServerReply(err) {
				w.problem = fmt.Sprintf("XACK: %v", err)
			}
			for _, id := range got {
				w.ackCut[id] = true
			}
			return
		}
		now = time.Now()
		for _, id := range got {
			w.acked[id] = now
		}
	}
}

func TestCrashStream(t *testing.T) {
	for _, mode := range []string{"always", "everysec"} {
		t.Run(mode, func(t *testing.T) { crashStream(t, mode) })
	}
}

func crashStream(t *testing.T, mode string) {
	p := startLux(t, "--appendfsync", mode)
	ctx := context.Background()
	setup := crashClient(t, p.Addr, 0)
	if err := setup.XGroupCreateMkStream(ctx, "jobs", "g", "0").Err(); err != nil {
		t.Fatal(err)
	}
	const workers = 4
	ws := make([]*streamCrashWorker, workers)
	var wg sync.WaitGroup
	for i := range ws {
		ws[i] = &streamCrashWorker{id: i, added: map[string]string{}, addedAt: map[string]time.Time{},
			acked: map[string]time.Time{}, delivered: map[string]time.Time{}, ackCut: map[string]bool{}}
		c := crashClient(t, p.Addr, 0)
		wg.Add(1)
		go ws[i].run(ctx, c, &wg)
	}
	time.Sleep(3 * time.Second)
	killAt := time.Now()
	p.Kill9()
	wg.Wait()
	cutoff := killAt
	if mode == "everysec" {
		cutoff = killAt.Add(-everysecMargin)
	}
	p.Restart()
	c := crashClient(t, p.Addr, 0)
	msgs, err := c.XRange(ctx, "jobs", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]string{}
	for _, m := range msgs {
		stored[m.ID] = fmt.Sprint(m.Values["v"])
	}
	pend, err := c.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: "jobs", Group: "g", Start: "-", End: "+", Count: 1 << 30}).Result()
	if err != nil {
		t.Fatal(err)
	}
	pending := map[string]bool{}
	for _, p := range pend {
		pending[p.ID] = true
		if _, ok := stored[p.ID]; !ok {
			t.Errorf("pending entry %s is not in the stream", p.ID)
		}
	}
	for _, w := range ws {
		if w.problem != "" {
			t.Fatalf("worker %d: %s", w.id, w.problem)
		}
	}
	must, lost := 0, 0
	for _, w := range ws {
		for id, v := range w.added {
			if !w.addedAt[id].Before(cutoff) {
				continue
			}
			must++
			if got, ok := stored[id]; !ok {
				lost++
				if lost < 10 {
					t.Errorf("entry %s acknowledged %v before the kill is missing", id, killAt.Sub(w.addedAt[id]))
				}
			} else if got != v {
				t.Errorf("entry %s is %q, written as %q", id, got, v)
			}
		}
		for id, at := range w.acked {
			if at.Before(cutoff) && pending[id] {
				t.Errorf("entry %s acknowledged (XACK) %v before the kill is pending again", id, killAt.Sub(at))
			}
		}
		for id, at := range w.delivered {
			if !at.Before(cutoff) || pending[id] {
				continue
			}
			if _, ok := w.acked[id]; ok || w.ackCut[id] {
				continue
			}
			acked := false
			for _, o := range ws {
				if _, ok := o.acked[id]; ok || o.ackCut[id] {
					acked = true
				}
			}
			if !acked {
				t.Errorf("entry %s delivered %v before the kill and never acknowledged is not pending", id, killAt.Sub(at))
			}
		}
	}
	info, err := c.XInfoGroups(ctx, "jobs").Result()
	if err != nil || len(info) != 1 || info[0].Pending != int64(len(pend)) {
		t.Errorf("XINFO GROUPS after recovery: %+v %v (pending %d)", info, err, len(pend))
	}
	if must < 100 {
		t.Fatalf("only %d entries acknowledged before the cutoff; the test checked too little", must)
	}
	t.Logf("%s: %d acknowledged entries checked, %d lost, %d pending", mode, must, lost, len(pend))
}
