package main

// Crash tests for relational tables: the real lux binary, kill -9 while
// several clients run TINSERT / TUPDATE / TDEL (some pipelined), a restart
// on the same data directory, then a check that
//   - the recovered rows are exactly the state after some prefix of each
//     client's commands (a command is never half applied), a prefix that
//     covers every acknowledged command (always) or every command
//     acknowledged more than the loss window before the kill (everysec);
//   - every row is found through each of its indexes (unique, ref, the
//     (ref, timestamp) composite) and through a full scan alike;
//   - acknowledged ids are kept and never handed out again;
//   - the constraints still hold (unique, RESTRICT).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// tcOp is one table command of a crash worker.
type tcOp struct {
	kind    byte // 'i' TINSERT, 'u' TUPDATE, 'd' TDEL
	row     int  // the op index of the TINSERT that created the target row
	content string
	ts      int64
	acked   bool
	at      time.Time
	id      int64 // acknowledged TINSERT: the id returned
}

type tcRow struct {
	content string
	ts      int64
}

// tcWorker writes rows of its own channel and user only, so each row's
// history is one client's sequence of commands.
type tcWorker struct {
	w       int
	ops     []tcOp
	alive   []int         // rows (insert op indexes) acknowledged and not targeted by a TDEL
	ids     map[int]int64 // insert op index -> acknowledged id
	problem string
}

const tcSeqBase = 10_000_000

func tcSeq(w, j int) int64 { return int64(w*tcSeqBase + j) }

func (wk *tcWorker) run(ctx context.Context, c *redis.Client, pipeline int, stop *atomic.Bool, acked *atomic.Int64) {
	rng := rand.New(rand.NewPCG(uint64(wk.w), 11))
	ch, user := strconv.Itoa(wk.w+1), strconv.Itoa(wk.w+1)
	for !stop.Load() {
		pipe := c.Pipeline()
		first := len(wk.ops)
		var cmds []*redis.Cmd
		targeted := map[int]bool{}
		for k := 0; k < pipeline; k++ {
			j := len(wk.ops)
			op := tcOp{content: fmt.Sprintf("w%d-op%d", wk.w, j), ts: 1_700_000_000_000 + int64(j/3)}
			var cands []int
			for _, r := range wk.alive {
				if !targeted[r] {
					cands = append(cands, r)
				}
			}
			switch r := rng.IntN(100); {
			case r < 55 || len(cands) == 0:
				op.kind, op.row = 'i', j
				cmds = append(cmds, pipe.Do(ctx, "TINSERT", "messages", "channel_id", ch, "user_id", user,
					"content", op.content, "timestamp", op.ts, "seq", tcSeq(wk.w, j)))
			case r < 80:
				op.kind, op.row = 'u', cands[rng.IntN(len(cands))]
				targeted[op.row] = true
				cmds = append(cmds, pipe.Do(ctx, "TUPDATE", "messages", wk.ids[op.row], "content", op.content, "timestamp", op.ts))
			default:
				op.kind, op.row = 'd', cands[rng.IntN(len(cands))]
				targeted[op.row] = true
				for i, r := range wk.alive {
					if r == op.row {
						wk.alive = append(wk.alive[:i], wk.alive[i+1:]...)
						break
					}
				}
				cmds = append(cmds, pipe.Do(ctx, "TDEL", "messages", wk.ids[op.row]))
			}
			wk.ops = append(wk.ops, op)
		}
		_, _ = pipe.Exec(ctx)
		now := time.Now()
		failed := false
		for i, cmd := range cmds {
			op := &wk.ops[first+i]
			err := cmd.Err()
			if err != nil && isServerReply(err) {
				wk.problem = fmt.Sprintf("%v: %v", cmd.Args(), err)
				return
			}
			if err != nil || failed {
				failed = true // no reply: this and every later command may or may not be applied
				continue
			}
			op.acked, op.at = true, now
			acked.Add(1)
			if op.kind == 'i' {
				id, ok := cmd.Val().(int64)
				if !ok {
					wk.problem = fmt.Sprintf("%v: reply %v", cmd.Args(), cmd.Val())
					return
				}
				op.id = id
				wk.ids[op.row] = id
				wk.alive = append(wk.alive, op.row)
			} else if cmd.Val() != "OK" {
				wk.problem = fmt.Sprintf("%v: reply %v", cmd.Args(), cmd.Val())
				return
			}
		}
		if failed {
			return
		}
	}
}

// prefixes returns every n such that applying the worker's first n commands
// gives exactly got (rows by insert op index).
func (wk *tcWorker) prefixes(got map[int]tcRow) []int {
	state := map[int]tcRow{}
	equal := func() bool {
		if len(state) != len(got) {
			return false
		}
		for k, v := range state {
			if got[k] != v {
				return false
			}
		}
		return true
	}
	var out []int
	for n := 0; ; n++ {
		if equal() {
			out = append(out, n)
		}
		if n == len(wk.ops) {
			return out
		}
		op := wk.ops[n]
		switch op.kind {
		case 'i':
			state[op.row] = tcRow{op.content, op.ts}
		case 'u':
			if _, ok := state[op.row]; ok {
				state[op.row] = tcRow{op.content, op.ts}
			}
		case 'd':
			delete(state, op.row)
		}
	}
}

// tcRowReply decodes one TQUERY row.
func tcRowReply(t *testing.T, v interface{}) (int64, map[string]string) {
	t.Helper()
	r, ok := v.([]interface{})
	if !ok || len(r) == 0 || len(r)%2 != 1 {
		t.Fatalf("bad row %#v", v)
	}
	f := map[string]string{}
	for i := 1; i+1 < len(r); i += 2 {
		f[r[i].(string)] = r[i+1].(string)
	}
	return r[0].(int64), f
}

func tcQueryIDs(t *testing.T, c *redis.Client, args ...interface{}) []int64 {
	t.Helper()
	rows, err := c.Do(context.Background(), append([]interface{}{"TQUERY", "messages"}, args...)...).Slice()
	if err != nil {
		t.Fatalf("TQUERY %v: %v", args, err)
	}
	ids := []int64{}
	for _, r := range rows {
		id, _ := tcRowReply(t, r)
		ids = append(ids, id)
	}
	return ids
}

// runTablesCrash runs the workload, kills lux, restarts it and checks the
// recovered tables. minPrefix gives, per worker, how many of its commands
// must have survived. extra are more lux arguments.
func runTablesCrash(t *testing.T, mode string, minPrefix func(wk *tcWorker, killAt time.Time) int, extra ...string) {
	p := startLux(t, append([]string{"--appendfsync", mode}, extra...)...)
	ctx := context.Background()
	const workers = 6
	setup := crashClient(t, p.Addr, 0)
	for _, cmd := range [][]interface{}{
		{"TCREATE", "users", "username:str:unique"},
		{"TCREATE", "channels", "name:str:unique"},
		{"TCREATE", "messages", "channel_id:ref(channels)", "user_id:ref(users)", "content:str", "timestamp:int", "seq:int:unique"},
	} {
		if err := setup.Do(ctx, cmd...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for w := 1; w <= workers; w++ {
		if err := setup.Do(ctx, "TINSERT", "users", "username", "u"+strconv.Itoa(w)).Err(); err != nil {
			t.Fatal(err)
		}
		if err := setup.Do(ctx, "TINSERT", "channels", "name", "c"+strconv.Itoa(w)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	wks := make([]*tcWorker, workers)
	var stop atomic.Bool
	var acked atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wks[w] = &tcWorker{w: w, ids: map[int]int64{}}
		pipeline := 1
		if w%2 == 1 {
			pipeline = 8
		}
		c := crashClient(t, p.Addr, 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			wks[w].run(ctx, c, pipeline, &stop, &acked)
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for acked.Load() < 1500 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if mode == "everysec" {
		// keep writing past the loss window so the check below has
		// commands old enough to be guaranteed
		time.Sleep(1600 * time.Millisecond)
	}
	if len(extra) > 0 {
		// the limit must have made the workload read rows back
		info, err := setup.Info(ctx, "memory").Result()
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := strings.Cut(info, "lux_tables_rows_read:")
		reads, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0]))
		t.Logf("rows read back from the store during the workload: %d", reads)
		if reads < 100 {
			t.Fatalf("the workload read %d rows back: the memory limit did not make rows leave memory", reads)
		}
	}
	time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
	killAt := time.Now()
	p.Kill9()
	stop.Store(true)
	wg.Wait()
	total := 0
	for _, wk := range wks {
		if wk.problem != "" {
			t.Fatalf("worker %d: %s", wk.w, wk.problem)
		}
		for _, op := range wk.ops {
			if op.acked {
				total++
			}
		}
	}
	if total == 0 {
		t.Fatal("no command was acknowledged before the kill; the test checked nothing")
	}

	p.Restart()
	c := crashClient(t, p.Addr, 0)
	checkTablesRecovered(t, c, wks, func(wk *tcWorker) int { return minPrefix(wk, killAt) })
	// loading verifies every index against the rows and rebuilds one that
	// differs: after a crash nothing may need that (writes are crash-atomic)
	if out := p.Output(); strings.Contains(out, "tables:") {
		t.Errorf("recovery had to repair the tables:\n%s", out)
	}
	t.Logf("%s: %d acknowledged table commands before kill -9, recovered state checked", mode, total)

	// a clean restart loads the same state again (repairs, if any, were written)
	p.Restart()
	c = crashClient(t, p.Addr, 0)
	checkTablesRecovered(t, c, wks, func(wk *tcWorker) int { return minPrefix(wk, killAt) })
}

func checkTablesRecovered(t *testing.T, c *redis.Client, wks []*tcWorker, minPrefix func(*tcWorker) int) {
	t.Helper()
	ctx := context.Background()
	all, err := c.Do(ctx, "TQUERY", "messages").Slice()
	if err != nil {
		t.Fatalf("TQUERY messages: %v", err)
	}
	if n, err := c.Do(ctx, "TCOUNT", "messages").Int64(); err != nil || n != int64(len(all)) {
		t.Fatalf("TCOUNT %d, %v; full scan has %d rows", n, err, len(all))
	}
	type rec struct {
		id     int64
		fields map[string]string
	}
	recovered := make([]map[int]tcRow, len(wks))
	for i := range recovered {
		recovered[i] = map[int]tcRow{}
	}
	var rows []rec
	maxID := int64(0)
	for _, v := range all {
		id, f := tcRowReply(t, v)
		rows = append(rows, rec{id, f})
		maxID = max(maxID, id)
		seq, err := strconv.ParseInt(f["seq"], 10, 64)
		if err != nil {
			t.Fatalf("row %d without seq: %v", id, f)
		}
		w, j := int(seq/tcSeqBase), int(seq%tcSeqBase)
		if w < 0 || w >= len(wks) || j >= len(wks[w].ops) || wks[w].ops[j].kind != 'i' {
			t.Fatalf("row %d %v was never inserted", id, f)
		}
		wk := wks[w]
		if f["channel_id"] != strconv.Itoa(w+1) || f["user_id"] != strconv.Itoa(w+1) {
			t.Errorf("row %d %v: refs changed", id, f)
		}
		if wk.ops[j].acked && wk.ops[j].id != id {
			t.Errorf("row inserted with id %d came back as id %d", wk.ops[j].id, id)
		}
		ts, _ := strconv.ParseInt(f["timestamp"], 10, 64)
		recovered[w][j] = tcRow{f["content"], ts}
	}
	// each worker's rows are the state after a prefix of its commands
	for w, wk := range wks {
		need := minPrefix(wk)
		ps := wk.prefixes(recovered[w])
		ok := false
		for _, n := range ps {
			ok = ok || n >= need
		}
		if !ok {
			t.Errorf("worker %d: recovered %d rows match command prefixes %v, want one >= %d of %d", w, len(recovered[w]), ps, need, len(wk.ops))
		}
	}
	// indexes agree with the full scan
	for w := range wks {
		ch := strconv.Itoa(w + 1)
		var want []rec
		for _, r := range rows {
			if r.fields["channel_id"] == ch {
				want = append(want, r)
			}
		}
		byID := make([]int64, len(want))
		for i, r := range want {
			byID[i] = r.id
		}
		if got := tcQueryIDs(t, c, "WHERE", "user_id", "=", ch); fmt.Sprint(got) != fmt.Sprint(byID) {
			t.Errorf("worker %d: index user_id = %s gives %v, full scan %v", w, ch, got, byID)
		}
		sort.SliceStable(want, func(a, b int) bool {
			ta, _ := strconv.ParseInt(want[a].fields["timestamp"], 10, 64)
			tb, _ := strconv.ParseInt(want[b].fields["timestamp"], 10, 64)
			if ta != tb {
				return ta > tb
			}
			return want[a].id < want[b].id
		})
		hist := make([]int64, len(want))
		for i, r := range want {
			hist[i] = r.id
		}
		if got := tcQueryIDs(t, c, "WHERE", "channel_id", "=", ch, "ORDER", "BY", "timestamp", "DESC"); fmt.Sprint(got) != fmt.Sprint(hist) {
			t.Errorf("worker %d: history via the composite index %v, full scan %v", w, got, hist)
		}
		if got := tcQueryIDs(t, c, "WHERE", "channel_id", "=", ch, "ORDER", "BY", "timestamp", "DESC", "LIMIT", 50); fmt.Sprint(got) != fmt.Sprint(hist[:min(50, len(hist))]) {
			t.Errorf("worker %d: history LIMIT 50 %v, full scan %v", w, got, hist[:min(50, len(hist))])
		}
		plan, err := c.Do(ctx, "TEXPLAIN", "messages", "WHERE", "channel_id", "=", ch, "ORDER", "BY", "timestamp", "DESC", "LIMIT", 50).StringSlice()
		if err != nil || len(plan) < 2 || plan[1] != "access: composite index (channel_id, timestamp) (channel_id = "+ch+") DESC" {
			t.Errorf("history plan %q, %v", plan, err)
		}
		if len(want) > 0 {
			// RESTRICT still sees the references
			if err := c.Do(ctx, "TDEL", "users", ch).Err(); err == nil || err.Error() != "ERR cannot delete row "+ch+": referenced by table 'messages'" {
				t.Errorf("TDEL users %s: %v", ch, err)
			}
		}
	}
	// every row through its unique index, a sample through a full-scan predicate
	pipe := c.Pipeline()
	bySeq := make([]*redis.Cmd, len(rows))
	for i, r := range rows {
		bySeq[i] = pipe.Do(ctx, "TQUERY", "messages", "WHERE", "seq", "=", r.fields["seq"])
	}
	byContent := map[int]*redis.Cmd{}
	for i := 0; i < len(rows); i += max(1, len(rows)/100) {
		byContent[i] = pipe.Do(ctx, "TQUERY", "messages", "WHERE", "content", "=", rows[i].fields["content"], "AND", "timestamp", ">", 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("index lookups: %v", err)
	}
	for i, r := range rows {
		got, _ := bySeq[i].Slice()
		if len(got) != 1 {
			t.Errorf("seq %s: %d rows via the unique index", r.fields["seq"], len(got))
			continue
		}
		if id, _ := tcRowReply(t, got[0]); id != r.id {
			t.Errorf("seq %s: row %d via the unique index, %d in the full scan", r.fields["seq"], id, r.id)
		}
		if cmd, ok := byContent[i]; ok {
			got, _ := cmd.Slice()
			if len(got) != 1 {
				t.Errorf("content %s: %d rows", r.fields["content"], len(got))
			} else if id, _ := tcRowReply(t, got[0]); id != r.id {
				t.Errorf("content %s: row %d, want %d", r.fields["content"], id, r.id)
			}
		}
	}
	if len(rows) > 0 {
		err := c.Do(ctx, "TINSERT", "messages", "seq", rows[0].fields["seq"]).Err()
		if err == nil || err.Error() != "ERR unique constraint violation on field 'seq'" {
			t.Errorf("duplicate seq after recovery: %v", err)
		}
	}
	// ids are never reused: a new row gets an id above every acknowledged one
	// (and every one that survived)
	for _, wk := range wks {
		need := minPrefix(wk)
		for n, op := range wk.ops {
			if op.kind == 'i' && op.acked && n < need {
				maxID = max(maxID, op.id)
			}
		}
	}
	id, err := c.Do(ctx, "TINSERT", "messages", "content", "after").Int64()
	if err != nil || id <= maxID {
		t.Errorf("TINSERT after recovery: id %d, %v; want above %d", id, err, maxID)
	}
	if err := c.Do(ctx, "TDEL", "messages", id).Err(); err != nil {
		t.Errorf("TDEL %d: %v", id, err)
	}
}

// TestTablesCrashAlways: with appendfsync always every acknowledged table
// command survives kill -9.
func TestTablesCrashAlways(t *testing.T) {
	runTablesCrash(t, "always", func(wk *tcWorker, _ time.Time) int {
		n := 0
		for i, op := range wk.ops {
			if op.acked {
				n = i + 1
			}
		}
		return n
	})
}

// tablesEverysecMargin is how long before the kill a command must have been
// acknowledged to be guaranteed in everysec mode (the ~1 s loss window plus
// the fsync's duration and scheduling delays on a loaded 2-core machine).
const tablesEverysecMargin = 1500 * time.Millisecond

// TestTablesCrashEverysec: with appendfsync everysec what survives is a
// consistent prefix that includes everything acknowledged before the loss
// window.
func TestTablesCrashEverysec(t *testing.T) {
	runTablesCrash(t, "everysec", everysecPrefix)
}

func everysecPrefix(wk *tcWorker, killAt time.Time) int {
	n := 0
	for i, op := range wk.ops {
		if op.acked && op.at.Before(killAt.Add(-tablesEverysecMargin)) {
			n = i + 1
		}
	}
	return n
}

// TestTablesCrashEverysecMaxmemory: the same with a memory limit the
// indexes alone exceed, so that rows leave memory as soon as their writes
// are committed and TUPDATE and TDEL mostly read their rows back from the
// store.
func TestTablesCrashEverysecMaxmemory(t *testing.T) {
	runTablesCrash(t, "everysec", everysecPrefix, "--maxmemory", "2mb")
}
