package main

// Crash test for vectors: concurrent VSET writers, kill -9, restart on the
// same --data-dir; every acknowledged vector (in everysec mode: every one
// acknowledged more than everysecMargin before the kill) is back with
// bit-exact components and byte-exact metadata, whatever survived is what
// was written, and VSEARCH finds them.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

type vecAck struct {
	key   string
	comps []float32
	meta  string
	at    time.Time
	acked bool
}

func TestCrashVectors(t *testing.T) {
	for _, mode := range []string{"always", "everysec"} {
		t.Run(mode, func(t *testing.T) { crashVectors(t, mode) })
	}
}

func crashVectors(t *testing.T, mode string) {
	p := startLux(t, "--appendfsync", mode)
	const writers, dims = 4, 16
	writes := make([][]*vecAck, writers)
	var acked atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	ctx := context.Background()
	for w := 0; w < writers; w++ {
		c := crashClient(t, p.Addr, 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for i := 0; !stop.Load(); i++ {
				a := &vecAck{key: fmt.Sprintf("vec:%d:%d", w, i), comps: make([]float32, dims)}
				args := []any{"VSET", a.key, dims}
				for j := range a.comps {
					a.comps[j] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-4)))
					args = append(args, strconv.FormatFloat(float64(a.comps[j]), 'g', -1, 32))
				}
				// JSON (FILTER reads it) with escapes, UTF-8 and a newline: stored byte for byte
				a.meta = fmt.Sprintf("{\"id\":\"%s\",\n \"w\":\"%d\", \"r\":\"\\u0000ÿ%d\"}", a.key, w, rng.Uint64())
				args = append(args, "META", a.meta)
				writes[w] = append(writes[w], a)
				err := c.Do(ctx, args...).Err()
				if err != nil {
					if isServerReply(err) {
						t.Errorf("VSET %s: %v", a.key, err)
					}
					return
				}
				a.at, a.acked = time.Now(), true
				acked.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for acked.Load() < 2000 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if mode == "everysec" {
		time.Sleep(2 * everysecMargin) // some writes old enough to be owed
	}
	time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
	killAt := time.Now()
	p.Kill9()
	stop.Store(true)
	wg.Wait()

	p.Restart()
	c := crashClient(t, p.Addr, 0)
	cutoff := killAt
	if mode == "everysec" {
		cutoff = killAt.Add(-everysecMargin)
	}
	must, present, lost := 0, 0, 0
	var owed []*vecAck
	for w := 0; w < writers; w++ {
		for start := 0; start < len(writes[w]); start += 500 {
			chunk := writes[w][start:min(start+500, len(writes[w]))]
			pipe := c.Pipeline()
			gets := make([]*redis.Cmd, len(chunk))
			for i, a := range chunk {
				gets[i] = pipe.Do(ctx, "VGET", a.key)
			}
			if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
				t.Fatalf("reading back: %v", err)
			}
			for i, a := range chunk {
				got, err := gets[i].Slice()
				owedNow := a.acked && a.at.Before(cutoff)
				if owedNow {
					must++
					owed = append(owed, a)
				}
				if errors.Is(err, redis.Nil) {
					if owedNow {
						if lost++; lost <= 10 {
							t.Errorf("%s acknowledged %v before the kill is missing", a.key, killAt.Sub(a.at))
						}
					}
					continue
				}
				if err != nil {
					t.Fatalf("VGET %s: %v", a.key, err)
				}
				present++
				if want := vecReply(a); fmt.Sprint(got) != want {
					t.Errorf("%s recovered as %v, written %s", a.key, got, want)
				}
			}
		}
	}
	if must == 0 {
		t.Fatal("no vector was owed after the kill; the test checked nothing")
	}
	if card, err := c.Do(ctx, "VCARD").Int64(); err != nil || card != int64(present) {
		t.Fatalf("VCARD %d (%v), want %d", card, err, present)
	}
	// VSEARCH finds them: each one is its own exact top hit under a FILTER
	// on its id, and a sample is found by the unfiltered search too.
	rng := rand.New(rand.NewPCG(1, 1))
	found := 0
	const samples = 200
	for n := 0; n < samples; n++ {
		a := owed[rng.IntN(len(owed))]
		args := []any{"VSEARCH", dims}
		for _, f := range a.comps {
			args = append(args, strconv.FormatFloat(float64(f), 'g', -1, 32))
		}
		res, err := c.Do(ctx, append(args, "K", 1, "FILTER", "id", a.key)...).Slice()
		if err != nil || len(res) != 1 || res[0].([]any)[0] != a.key || res[0].([]any)[1] != "1" {
			t.Fatalf("VSEARCH FILTER id %s: %v %v", a.key, res, err)
		}
		res, err = c.Do(ctx, append(args, "K", 1)...).Slice()
		if err != nil || len(res) != 1 {
			t.Fatalf("VSEARCH for %s: %v %v", a.key, res, err)
		}
		if res[0].([]any)[0] == a.key {
			found++
		}
	}
	// exact up to a few thousand vectors; an HNSW answer may miss rarely
	if found < samples*95/100 {
		t.Fatalf("VSEARCH found %d of %d vectors as their own nearest", found, samples)
	}
	t.Logf("%s: %d vectors owed and present, %d present of %d attempted", mode, must-lost, present, len(writes[0])+len(writes[1])+len(writes[2])+len(writes[3]))
}

// vecReply is VGET's reply for a as go-redis renders it.
func vecReply(a *vecAck) string {
	out := []any{int64(len(a.comps))}
	for _, f := range a.comps {
		out = append(out, strconv.FormatFloat(float64(f), 'f', -1, 32))
	}
	return fmt.Sprint(append(out, a.meta))
}
