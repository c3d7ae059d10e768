package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestCrashMultiKeyCommandsAreAtomic: commands that change several keys in
// different shards (DEL and UNLINK of 40 keys, SMOVE, LMOVE) and
// transactions mixing a table command with a key write must be all there
// after a kill -9 or not at all, whether or not they were acknowledged. Each group of keys is written
// in a state where any half-applied command is visible: the group's keys
// are created together (MSET / one MULTI) and changed by one multi-key
// command, so after the crash each group must be wholly in its "before" or
// wholly in its "after" state. Before every write command's appends were
// held into one batch, DEL of several keys was split across commits and a
// crash left some of its keys deleted (found by the crash loop).
func TestCrashMultiKeyCommandsAreAtomic(t *testing.T) {
	for _, mode := range []string{"always", "everysec"} {
		t.Run(mode, func(t *testing.T) { crashMultiKey(t, mode) })
	}
}

func crashMultiKey(t *testing.T, mode string) {
	p := startLux(t, "--appendfsync", mode)
	ctx := context.Background()
	setup := crashClient(t, p.Addr, 0)
	if err := setup.Do(ctx, "TCREATE", "txrows", "name:str:unique").Err(); err != nil {
		t.Fatal(err)
	}
	setup.Close()
	cycles := 8
	if testing.Short() {
		cycles = 3
	}
	base := 0
	for cycle := 0; cycle < cycles; cycle++ {
		var stop atomic.Bool
		var wg sync.WaitGroup
		var sent [4]atomic.Int64 // groups whose "before" state was acknowledged, per writer
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := crashClient(t, p.Addr, 0)
				defer c.Close()
				for i := 0; !stop.Load(); i++ {
					g := fmt.Sprintf("g%d:%d:%d", cycle, w, i)
					// before: k0{g}..k39{g} strings, s1{g}={x} s2{g}={y}, l1{g}=[x] l2{g}=[y]
					pipe := c.TxPipeline()
					pipe.MSet(ctx, groupKV(g)...)
					pipe.SAdd(ctx, "s1"+g, "x")
					pipe.SAdd(ctx, "s2"+g, "y")
					pipe.RPush(ctx, "l1"+g, "x")
					pipe.RPush(ctx, "l2"+g, "y")
					if _, err := pipe.Exec(ctx); err != nil {
						return
					}
					sent[w].Store(int64(i + 1))
					// after: the multi-key commands, pipelined
					p2 := c.Pipeline()
					if w%2 == 0 {
						p2.Del(ctx, groupKeys(g)...)
					} else {
						p2.Unlink(ctx, groupKeys(g)...)
					}
					p2.SMove(ctx, "s1"+g, "s2"+g, "x")
					p2.LMove(ctx, "l1"+g, "l2"+g, "LEFT", "RIGHT")
					if _, err := p2.Exec(ctx); err != nil {
						return
					}
				}
			}()
		}
		wait := time.Duration(200+rand.IntN(600)) * time.Millisecond
		if mode == "everysec" {
			// past at least one fsync: the cut it syncs is where a
			// command split across batches would show
			wait += time.Second
		}
		// a writer of transactions mixing a table row and a key (of
		// database 2): after the crash there are as many rows as keys
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := crashClient(t, p.Addr, 2)
			defer c.Close()
			for i := 0; !stop.Load(); i++ {
				g := fmt.Sprintf("tx%d:%d", cycle, i)
				pipe := c.TxPipeline()
				pipe.Do(ctx, "TINSERT", "txrows", "name", g)
				pipe.Set(ctx, g, "1", 0)
				if _, err := pipe.Exec(ctx); err != nil {
					return
				}
			}
		}()
		time.Sleep(wait)
		p.Kill9()
		stop.Store(true)
		wg.Wait()
		p.Restart()

		c := crashClient(t, p.Addr, 0)
		rows, err := c.Do(ctx, "TCOUNT", "txrows").Int64()
		if err != nil {
			t.Fatal(err)
		}
		c2 := crashClient(t, p.Addr, 2)
		keys, err := c2.DBSize(ctx).Result()
		c2.Close()
		if err != nil {
			t.Fatal(err)
		}
		if rows != keys {
			t.Fatalf("cycle %d: MULTI/EXEC of TINSERT and SET half applied: %d rows, %d keys", cycle, rows, keys)
		}
		checked := 0
		for w := 0; w < 4; w++ {
			n := int(sent[w].Load())
			for i := 0; i < n; i++ {
				g := fmt.Sprintf("g%d:%d:%d", cycle, w, i)
				checkGroup(t, ctx, c, cycle, g)
				checked++
			}
		}
		c.Close()
		if checked == 0 {
			t.Fatalf("cycle %d: no group was written before the kill", cycle)
		}
		base += checked
	}
	t.Logf("%d groups checked over %d kill -9 cycles", base, cycles)
}

// groupSize is how many keys one DEL removes: enough that the committer's
// cuts often fall inside one (each key is its own append).
const groupSize = 40

func groupKeys(g string) []string {
	ks := make([]string, groupSize)
	for i := range ks {
		ks[i] = fmt.Sprintf("k%d%s", i, g)
	}
	return ks
}

func groupKV(g string) []any {
	var kv []any
	for _, k := range groupKeys(g) {
		kv = append(kv, k, "1")
	}
	return kv
}

// checkGroup fails unless each multi-key command of group g is wholly
// applied or wholly not.
func checkGroup(t *testing.T, ctx context.Context, c *redis.Client, cycle int, g string) {
	t.Helper()
	n, err := c.Exists(ctx, groupKeys(g)...).Result()
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Exists(ctx, "s1"+g, "s2"+g, "l1"+g, "l2"+g).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 && m == 0 {
		return // the group's MULTI was lost whole (everysec)
	}
	if n != 0 && n != groupSize {
		t.Fatalf("cycle %d: group %s: DEL/UNLINK of %d keys half applied: %d keys left", cycle, g, groupSize, n)
	}
	s1, _ := c.SMembers(ctx, "s1"+g).Result()
	s2, _ := c.SMembers(ctx, "s2"+g).Result()
	if !(len(s1) == 1 && len(s2) == 1) && !(len(s1) == 0 && len(s2) == 2) {
		t.Fatalf("cycle %d: group %s: SMOVE half applied: s1=%v s2=%v", cycle, g, s1, s2)
	}
	l1, _ := c.LRange(ctx, "l1"+g, 0, -1).Result()
	l2, _ := c.LRange(ctx, "l2"+g, 0, -1).Result()
	if !(len(l1) == 1 && len(l2) == 1) && !(len(l1) == 0 && fmt.Sprint(l2) == "[y x]") {
		t.Fatalf("cycle %d: group %s: LMOVE half applied: l1=%v l2=%v", cycle, g, l1, l2)
	}
}
