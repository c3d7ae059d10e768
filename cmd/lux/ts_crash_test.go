package main

// Crash test for time series: the real lux binary, concurrent writers
// sending TSADD (explicit and `*` timestamps, in and out of order) and
// TSMADD, a SIGKILL, a restart, and a check that every acknowledged sample
// is there with its value (in everysec mode: every sample acknowledged more
// than everysecMargin before the kill), that `*` samples are stored at the
// timestamp that was replied, that nothing appears that was not written,
// and that labels, retention and the label index survived.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

type tsAck struct {
	key string
	ts  int64
	val string
	at  time.Time
}

// tsCrashWriter writes to its own series until the server dies; sent holds
// every sample sent (acknowledged or not) per key and timestamp.
type tsCrashWriter struct {
	id      int
	acks    []tsAck
	sent    map[string]map[int64]map[string]bool
	problem string
}

func (w *tsCrashWriter) key(i int) string { return fmt.Sprintf("tsc:%d:%d", w.id, i) }

func (w *tsCrashWriter) noteSent(key string, ts int64, val string) {
	if w.sent[key] == nil {
		w.sent[key] = map[int64]map[string]bool{}
	}
	if w.sent[key][ts] == nil {
		w.sent[key][ts] = map[string]bool{}
	}
	w.sent[key][ts][val] = true
}

const tsCrashKeys = 3

func (w *tsCrashWriter) run(ctx context.Context, c *redis.Client, rng *rand.Rand, slow func() bool) {
	for n := 0; ; n++ {
		if slow() {
			time.Sleep(50 * time.Millisecond)
		}
		pipe := c.Pipeline()
		type pend struct {
			cmd  redis.Cmder
			keys []string
			tss  []int64 // -1: `*`
			vals []string
		}
		var ps []pend
		for j := rng.IntN(4) + 1; j > 0; j-- {
			val := strconv.Itoa(n*100 + j*10)
			ts := func() int64 {
				switch rng.IntN(5) {
				case 0:
					return -1
				case 1:
					return 1_000_000_000 - int64(n*8+j)*2 - 1 // out of order, odd
				}
				return 1_000_000_000 + int64(n*8+j)*2 // in order, even
			}
			if rng.IntN(3) == 0 {
				args := []any{"TSMADD"}
				p := pend{}
				for k := rng.IntN(3) + 1; k > 0; k-- {
					key := w.key(rng.IntN(tsCrashKeys))
					t := ts()
					if t == -1 {
						t = 5_000_000_000 + int64(n*8+j)*4 + int64(k) // no `*` in TSMADD here
					}
					v := strconv.Itoa(n*100 + j*10 + k)
					args = append(args, key, t, v)
					p.keys, p.tss, p.vals = append(p.keys, key), append(p.tss, t), append(p.vals, v)
					w.noteSent(key, t, v)
				}
				p.cmd = pipe.Do(ctx, args...)
				ps = append(ps, p)
				continue
			}
			key := w.key(rng.IntN(tsCrashKeys))
			t := ts()
			arg := any(t)
			if t == -1 {
				arg = "*"
				key = w.key(tsCrashKeys) // `*` samples go to their own series
			} else {
				w.noteSent(key, t, val)
			}
			ps = append(ps, pend{cmd: pipe.Do(ctx, "TSADD", key, arg, val), keys: []string{key}, tss: []int64{t}, vals: []string{val}})
		}
		_, _ = pipe.Exec(ctx)
		now := time.Now()
		for _, p := range ps {
			if err := p.cmd.Err(); err != nil {
				if isServerReply(err) {
					w.problem = fmt.Sprintf("%v: %v", p.cmd.Args(), err)
				}
				return
			}
			if len(p.tss) > 1 || p.cmd.Args()[0] == "TSMADD" {
				res, _ := p.cmd.(*redis.Cmd).Slice()
				for i, r := range res {
					if got, ok := r.(int64); !ok || got != p.tss[i] {
						w.problem = fmt.Sprintf("%v: entry %d is %v", p.cmd.Args(), i, r)
						return
					}
					w.acks = append(w.acks, tsAck{p.keys[i], p.tss[i], p.vals[i], now})
				}
				continue
			}
			got, err := p.cmd.(*redis.Cmd).Int64()
			if err != nil || (p.tss[0] != -1 && got != p.tss[0]) {
				w.problem = fmt.Sprintf("%v: reply %v %v", p.cmd.Args(), got, err)
				return
			}
			if p.tss[0] == -1 {
				w.noteSent(p.keys[0], got, p.vals[0])
			}
			w.acks = append(w.acks, tsAck{p.keys[0], got, p.vals[0], now})
		}
	}
}

func TestCrashTimeSeries(t *testing.T) {
	for _, mode := range []string{"always", "everysec"} {
		t.Run(mode, func(t *testing.T) { crashTimeSeries(t, mode) })
	}
}

func crashTimeSeries(t *testing.T, mode string) {
	p := startLux(t, "--appendfsync", mode)
	ctx := context.Background()
	const writers = 4
	setup := crashClient(t, p.Addr, 0)
	labels := func(w, i int) []any {
		return []any{"zone", fmt.Sprint("z", i), "writer", fmt.Sprint(w), "a", "1"}
	}
	ws := make([]*tsCrashWriter, writers)
	for w := range ws {
		ws[w] = &tsCrashWriter{id: w, sent: map[string]map[int64]map[string]bool{}}
		for i := 0; i <= tsCrashKeys; i++ {
			args := append([]any{"TSADD", ws[w].key(i), 1, "0", "RETENTION", int64(1) << 50, "LABELS"}, labels(w, i)...)
			if err := setup.Do(ctx, args...).Err(); err != nil {
				t.Fatal(err)
			}
			ws[w].noteSent(ws[w].key(i), 1, "0")
		}
	}
	var wg sync.WaitGroup
	var trickle atomic.Bool
	began := time.Now()
	for w := range ws {
		c := crashClient(t, p.Addr, 0)
		rng := rand.New(rand.NewPCG(rand.Uint64(), uint64(w)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws[w].run(ctx, c, rng, trickle.Load)
		}()
	}
	// a burst, then a trickle of small pipelines (only the once-a-second
	// sync saves those in everysec mode), then the kill
	time.Sleep(time.Second)
	trickle.Store(true)
	time.Sleep(time.Until(began.Add(2700*time.Millisecond + time.Duration(rand.IntN(700))*time.Millisecond)))
	killAt := time.Now()
	p.Kill9()
	wg.Wait()
	cutoff := killAt
	if mode == "everysec" {
		cutoff = killAt.Add(-everysecMargin)
	}
	p.Restart()
	c := crashClient(t, p.Addr, 0)
	must, lost := 0, 0
	for _, w := range ws {
		if w.problem != "" {
			t.Fatalf("writer %d: %s", w.id, w.problem)
		}
		stored := map[string]map[int64]string{}
		for i := 0; i <= tsCrashKeys; i++ {
			key := w.key(i)
			rows, err := c.Do(ctx, "TSRANGE", key, "-", "+").Slice()
			if err != nil {
				t.Fatalf("TSRANGE %s: %v", key, err)
			}
			stored[key] = map[int64]string{}
			for _, r := range rows {
				row := r.([]any)
				ts, v := row[0].(int64), row[1].(string)
				stored[key][ts] = v
				if !w.sent[key][ts][v] {
					t.Errorf("%s holds %d=%s, which was never written", key, ts, v)
				}
			}
			info, err := c.Do(ctx, "TSINFO", key).Slice()
			if err != nil {
				t.Fatal(err)
			}
			wantLabels := fmt.Sprint([]any{[]any{"zone", fmt.Sprint("z", i)}, []any{"writer", fmt.Sprint(w.id)}, []any{"a", "1"}})
			if info[7] != int64(1)<<50 || fmt.Sprint(info[9]) != wantLabels {
				t.Errorf("%s: retention %v labels %v after recovery", key, info[7], info[9])
			}
		}
		for _, a := range w.acks {
			if !a.at.Before(cutoff) {
				continue
			}
			must++
			if v, ok := stored[a.key][a.ts]; !ok {
				lost++
				if lost < 10 {
					t.Errorf("%s sample %d acknowledged %v before the kill is missing", a.key, a.ts, killAt.Sub(a.at))
				}
			} else if v != a.val && !w.sent[a.key][a.ts][v] {
				t.Errorf("%s sample %d is %s, acknowledged %s", a.key, a.ts, v, a.val)
			}
		}
		// the label index after the restart
		got, err := c.Do(ctx, "TSMRANGE", "0", "0", "FILTER", "writer="+fmt.Sprint(w.id), "a=1").Slice()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tsCrashKeys+1 {
			t.Errorf("TSMRANGE FILTER writer=%d found %d series, want %d", w.id, len(got), tsCrashKeys+1)
		}
	}
	if must < 100 {
		t.Fatalf("only %d samples acknowledged before the cutoff; the test checked too little", must)
	}
	t.Logf("%s: %d acknowledged samples checked, %d lost", mode, must, lost)
}
