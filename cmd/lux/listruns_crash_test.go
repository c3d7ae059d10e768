package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// listPipeWriter sends pipelines of random list commands to its own two
// keys and keeps the model of both after every acknowledged command.
type listPipeWriter struct {
	id    int
	keys  [2]string
	state [2][]string // after every acknowledged command
	// states the keys may have after a kill: the model after each prefix
	// of the pipeline whose replies did not all arrive
	maybe [][2][]string
	// every earlier state (kept when acknowledged writes may be lost:
	// everysec), oldest first
	history [][2][]string
	keepAll bool
	n       int
	acked   int
	err     string
}

func (w *listPipeWriter) val() string {
	w.n++
	return fmt.Sprintf("w%d.%d", w.id, w.n)
}

// next queues one random command on p and returns the model after it.
func (w *listPipeWriter) next(ctx context.Context, p redis.Pipeliner, rng *rand.Rand, cur [2][]string) [2][]string {
	ki := rng.IntN(2)
	k := w.keys[ki]
	m := slices.Clone(cur[ki])
	out := [2][]string{slices.Clone(cur[0]), slices.Clone(cur[1])}
	switch op := rng.IntN(14); {
	case op < 4: // LPUSH, a run of pushes
		vals := make([]any, 1+rng.IntN(8))
		for i := range vals {
			v := w.val()
			vals[i] = v
			m = append([]string{v}, m...)
		}
		p.LPush(ctx, k, vals...)
	case op < 7: // RPUSH
		vals := make([]any, 1+rng.IntN(8))
		for i := range vals {
			v := w.val()
			vals[i] = v
			m = append(m, v)
		}
		p.RPush(ctx, k, vals...)
	case op < 9: // LPOP count
		n := 1 + rng.IntN(3)
		p.LPopCount(ctx, k, n)
		m = m[min(n, len(m)):]
	case op < 11: // RPOP count
		n := 1 + rng.IntN(3)
		p.RPopCount(ctx, k, n)
		m = m[:len(m)-min(n, len(m))]
	case op == 11 && len(m) > 0: // LSET
		i, v := rng.IntN(len(m)), w.val()
		p.LSet(ctx, k, int64(i), v)
		m[i] = v
	case op == 12 && len(m) > 0: // LINSERT before a (unique) element
		i, v := rng.IntN(len(m)), w.val()
		p.LInsertBefore(ctx, k, m[i], v)
		m = slices.Insert(m, i, v)
	case op == 13 && len(m) > 0: // LMOVE within the key (rotate) or to the other
		to := rng.IntN(2)
		src, dst := "LEFT", "RIGHT"
		if rng.IntN(2) == 0 {
			src, dst = dst, src
		}
		p.LMove(ctx, k, w.keys[to], src, dst)
		var v string
		if src == "LEFT" {
			v, m = m[0], m[1:]
		} else {
			v, m = m[len(m)-1], m[:len(m)-1]
		}
		out[ki] = m
		d := out[to]
		if dst == "LEFT" {
			d = append([]string{v}, d...)
		} else {
			d = append(d, v)
		}
		out[to] = d
		return out
	default:
		p.LLen(ctx, k)
	}
	out[ki] = m
	return out
}

// run sends pipelines until one is not answered in full.
func (w *listPipeWriter) run(ctx context.Context, c *redis.Client, rng *rand.Rand) {
	for {
		p := c.Pipeline()
		states := [][2][]string{w.state}
		for range 1 + rng.IntN(48) {
			states = append(states, w.next(ctx, p, rng, states[len(states)-1]))
		}
		cmds, _ := p.Exec(ctx)
		for i, cmd := range cmds {
			if err := cmd.Err(); err != nil && err != redis.Nil {
				if !strings.Contains(err.Error(), "connection") && !strings.Contains(err.Error(), "EOF") &&
					!strings.Contains(err.Error(), "broken pipe") && !strings.Contains(err.Error(), "reset") {
					w.err = fmt.Sprintf("%v: %v", cmd.Args(), err)
				}
				w.maybe = states[i:]
				return
			}
			if w.keepAll {
				w.history = append(w.history, w.state)
			}
			w.state = states[i+1]
			w.acked++
		}
	}
}

// TestCrashListRunsPipelined kills lux (appendfsync always) while clients
// pipeline pushes, pops, LSET, LINSERT and LMOVE at their lists, so that one
// commit group holds many pushes to one end of a list (one run record) and
// many pops from a run (one trim record): after the restart every list is
// as every acknowledged command left it, with a prefix of the unanswered
// pipeline applied on top. With everysec, whose windows hold many more
// commands, the lists may lose the last second of acknowledged commands but
// must be as some prefix of each client's commands left them.
func TestCrashListRunsPipelined(t *testing.T) {
	for _, mode := range []string{"always", "everysec"} {
		t.Run(mode, func(t *testing.T) { crashListRuns(t, mode) })
	}
}

func crashListRuns(t *testing.T, mode string) {
	p := startLux(t, "--appendfsync", mode)
	const writers = 4
	ws := make([]*listPipeWriter, writers)
	ctx := context.Background()
	for i := range ws {
		ws[i] = &listPipeWriter{id: i, keys: [2]string{fmt.Sprintf("lr:%d:a", i), fmt.Sprintf("lr:%d:b", i)},
			keepAll: mode != "always"}
	}
	killWhileWriting(t, p, writers, 3000, 300*time.Millisecond, func(i int, c *redis.Client, rng *rand.Rand) {
		ws[i].run(ctx, c, rng)
	})
	total := 0
	for _, w := range ws {
		if w.err != "" {
			t.Fatalf("writer %d: %s", w.id, w.err)
		}
		total += w.acked
	}
	if total < 100 {
		t.Fatalf("%d commands acknowledged before the kill; the test checked too little", total)
	}
	t.Logf("%d acknowledged list commands before kill -9", total)

	p.Restart()
	c := crashClient(t, p.Addr, 0)
	for _, w := range ws {
		var got [2][]string
		for i, k := range w.keys {
			v, err := c.LRange(ctx, k, 0, -1).Result()
			if err != nil {
				t.Fatalf("reading %s: %v", k, err)
			}
			got[i] = v
		}
		ok := false
		for _, s := range append(append(w.history, w.state), w.maybe...) {
			if slices.Equal(s[0], got[0]) && slices.Equal(s[1], got[1]) {
				ok = true
				break
			}
		}
		if !ok {
			t.Errorf("writer %d after recovery: %v, want %v (or a prefix of the unanswered pipeline applied: %d states; earlier states: %d)",
				w.id, got, w.state, len(w.maybe), len(w.history))
		}
	}
}
