package main

// TestCrashLoopModel: kill -9 a memory-bounded server (--maxmemory 4mb) at
// random moments, 20 times in a row, while writers of every value type, a
// writer of MULTI/EXEC transactions and two table writers run, and check
// after each restart that each writer's keys (and rows) are exactly the
// state after some prefix of the commands it sent: the prefix holds every
// acknowledged command (always) or every command acknowledged more than
// everysecMargin before the kill (everysec), and nothing of the commands
// after it. A prefix cannot hold half a command, so this also proves that
// multi-key commands, transactions and table commands are crash-atomic,
// that deletes do not come back and that no increment is applied twice.
// The state found becomes the writers' model for the next cycle, so
// damage done by one crash and found only later is caught too.
//
// To chase a failure: LUX_TEST_CYCLES=n runs n cycles per mode,
// LUX_TEST_WRITERS=list,multi,... keeps only the writers named (string,
// list, hash, set, zset, mixed, multi, table), LUX_TEST_DUMP=dir writes a
// failing writer's commands, effects and the state found to a file there.

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clWriter is one writer of the crash loop: one connection, commands of its
// own keys (or rows), in pipelines of `pipeline` commands.
type clWriter struct {
	id       int
	name     string
	pipeline int
	next     func() *mop   // generates one command and applies it to the model
	onAck    func(op *mop) // after a command's reply arrived (tables: learn ids)
	// keys is every key the writer has touched (rows of a table writer are
	// keys of database -1, named by seq); base is their state confirmed by
	// the last check (nil: absent).
	keys map[dbkey]bool
	base map[dbkey]*mval
	ops  []*mop // sent since the last check, in order, with their effects
	// problem is a wrong reply (a bug found during the run).
	problem string
}

func (w *clWriter) run(ctx context.Context, c *redis.Client, stop *atomic.Bool, acked *atomic.Int64) {
	conn := c.Conn() // one connection: SELECT holds
	defer conn.Close()
	cur := 0
	for !stop.Load() {
		batch := make([]*mop, w.pipeline)
		for i := range batch {
			batch[i] = w.next()
			for _, e := range batch[i].effects {
				w.keys[e.k] = true
			}
		}
		w.ops = append(w.ops, batch...)
		runBatch(ctx, conn, &cur, batch)
		now := time.Now()
		for _, op := range batch {
			err := op.cmd.Err()
			if err != nil && !isServerReply(err) {
				// no reply: this command and every later one may or may
				// not have been applied
				return
			}
			if e := op.check(op.cmd.Val(), err); e != nil {
				w.problem = fmt.Sprintf("%s: %v", op, e)
				return
			}
			op.acked, op.at = true, now
			acked.Add(1)
			if w.onAck != nil {
				w.onAck(op)
			}
		}
	}
}

// need returns how many leading commands must have survived the kill.
func (w *clWriter) need(mode string, killAt time.Time) int {
	n := 0
	for i, op := range w.ops {
		if op.acked && (mode == "always" || op.at.Before(killAt.Add(-everysecMargin))) {
			n = i + 1
		}
	}
	return n
}

// recoverState compares what the server holds (obs, canon form per key;
// keys not in obs are absent) with the states after every prefix of the
// commands sent since the last check. It returns the longest matching
// prefix of at least need commands, or -1 and a description.
func (w *clWriter) recoverState(obs map[dbkey]string, need int) (int, []dbkey, string) {
	cur := map[dbkey]string{}
	mism := 0
	for k := range w.keys {
		cur[k] = w.base[k].canon()
		if cur[k] != obsOf(obs, k) {
			mism++
		}
	}
	for k := range obs {
		if !w.keys[k] {
			return -1, []dbkey{k}, fmt.Sprintf("key %v = %s was never written", k, short(obs[k]))
		}
	}
	best, first := -1, -1
	closest, closestMism := -1, 0
	for n := 0; ; n++ {
		if mism == 0 {
			if first < 0 {
				first = n
			}
			if n >= need {
				best = n
			}
		}
		if n >= need && (closest < 0 || mism < closestMism) {
			closest, closestMism = n, mism
		}
		if n == len(w.ops) {
			break
		}
		for _, e := range w.ops[n].effects {
			c := e.v.canon()
			o := obsOf(obs, e.k)
			if cur[e.k] == o {
				mism++
			}
			if c == o {
				mism--
			}
			cur[e.k] = c
		}
	}
	if best >= 0 {
		return best, nil, ""
	}
	// describe the difference from the closest state that holds the
	// commands that must survive
	state := maps.Clone(w.base)
	for _, op := range w.ops[:closest] {
		for _, e := range op.effects {
			state[e.k] = e.v
		}
	}
	var diffs []string
	var bad []dbkey
	for k := range w.keys {
		if want, got := state[k].canon(), obsOf(obs, k); want != got {
			bad = append(bad, k)
			var hist []string
			for i, op := range w.ops {
				effect := "no change"
				for _, e := range op.effects {
					if e.k == k {
						effect = short(e.v.canon())
					}
				}
				// also the commands that name the key in another database
				// or were meant to leave it alone
				if effect != "no change" || slices.Contains(op.args, any(k.key)) {
					hist = append(hist, fmt.Sprintf("[%d] %s (acked %v) -> %s", i, op, op.acked, effect))
				}
			}
			if len(hist) > 6 {
				hist = append([]string{"..."}, hist[len(hist)-6:]...)
			}
			diffs = append(diffs, fmt.Sprintf("key %v: recovered %s, want %s; its commands since the last check:\n\t\t%s",
				k, short(got), short(want), strings.Join(hist, "\n\t\t")))
		}
	}
	sort.Strings(diffs)
	if len(diffs) != closestMism {
		diffs = append(diffs, fmt.Sprintf("(checker inconsistency: %d keys counted as different)", closestMism))
	}
	desc := fmt.Sprintf("no prefix of its %d commands since the last check that holds the %d that must survive matches "+
		"(first matching prefix: %d); closest: the first %d commands ([0] to [%d]), %d keys differ:\n\t%s",
		len(w.ops), need, first, closest, closest-1, len(diffs), strings.Join(diffs[:min(8, len(diffs))], "\n\t"))
	return -1, bad, desc
}

// dump writes the writer's base, commands and the state found to a file in
// dir (debugging aid, LUX_TEST_DUMP=dir).
func (w *clWriter) dump(t *testing.T, dir string, cycle int, obs map[dbkey]string, need int) {
	var b strings.Builder
	fmt.Fprintf(&b, "writer %d (%s), cycle %d, need %d\n", w.id, w.name, cycle, need)
	keys := slices.SortedFunc(maps.Keys(w.keys), func(a, b dbkey) int {
		return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "base %v = %s\nfound %v = %s\n", k, w.base[k].canon(), k, obsOf(obs, k))
	}
	for i, op := range w.ops {
		fmt.Fprintf(&b, "op %d: %s acked=%v at=%s\n", i, op, op.acked, op.at.Format(time.RFC3339Nano))
		for _, e := range op.effects {
			fmt.Fprintf(&b, "\t%v -> %s\n", e.k, e.v.canon())
		}
	}
	name := fmt.Sprintf("%s/crashloop-w%d-c%d-%d.txt", dir, w.id, cycle, time.Now().UnixNano())
	if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
		t.Logf("dump: %v", err)
		return
	}
	t.Logf("writer %d's commands and state written to %s", w.id, name)
}

func obsOf(obs map[dbkey]string, k dbkey) string {
	if s, ok := obs[k]; ok {
		return s
	}
	return "none"
}

// commit makes the state after the first n commands the writer's base and
// returns it.
func (w *clWriter) commit(n int) map[dbkey]*mval {
	for _, op := range w.ops[:n] {
		for _, e := range op.effects {
			w.base[e.k] = e.v
		}
	}
	w.ops = nil
	return w.base
}

// newKVWriter returns a writer of random commands (model_gen_test.go) on
// nkeys keys of its own, of the given types.
func newKVWriter(id int, name string, seed uint64, types []string, dbs []int, nkeys int) (*clWriter, *mgen) {
	rng := rand.New(rand.NewPCG(seed, uint64(id)))
	ks := newMspace()
	prefix := fmt.Sprintf("cl%d:", id)
	g := &mgen{
		rng: rng, ks: ks,
		pickFn: func() (int, string) {
			return dbs[rng.IntN(len(dbs))], prefix + strconv.Itoa(rng.IntN(nkeys))
		},
		pickInFn: func(int) string { return prefix + strconv.Itoa(rng.IntN(nkeys)) },
		otherDB: func(db int) (int, bool) {
			if len(dbs) < 2 {
				return 0, false
			}
			return 1 - db, true
		},
		types: types,
		sz: msizes{strMin: 16, strMax: 8 << 10, appendMax: 512, strCap: 16 << 10, elemMin: 16, elemMax: 512,
			listCap: 30, hashFields: 24, memberDomain: 60},
		genericPct: 15, oddities: true, record: true, tag: strconv.Itoa(id),
	}
	w := &clWriter{id: id, name: name, pipeline: 1, next: g.next, keys: map[dbkey]bool{}, base: map[dbkey]*mval{}}
	return w, g
}

// reset makes the writer's model the given state (after a check).
func (g *mgen) reset(state map[dbkey]*mval) {
	for i := range g.ks.dbs {
		clear(g.ks.dbs[i])
	}
	for k, v := range state {
		g.ks.put(k.db, k.key, v.clone())
	}
	clear(g.pending)
}

// txGroups is how many counter groups the MULTI/EXEC writer has.
const txGroups = 4

// newTxWriter returns a writer of MULTI/EXEC transactions that advance a
// counter group in step: INCR a, HINCRBY h n 1, ZINCRBY z 1 m, RPUSH l n
// (trimmed), INCR b. In every state after a prefix, a = b = h.n = z.m = the
// last element of l.
func newTxWriter(id int, seed uint64) (*clWriter, *mspace) {
	rng := rand.New(rand.NewPCG(seed, uint64(id)))
	ks := newMspace()
	w := &clWriter{id: id, name: "multi", pipeline: 4, keys: map[dbkey]bool{}, base: map[dbkey]*mval{}}
	n := 0
	w.next = func() *mop {
		n++
		i := rng.IntN(txGroups)
		key := func(s string) string { return fmt.Sprintf("cltx:%s%d", s, i) }
		a, b, h, z, l := key("a"), key("b"), key("h"), key("z"), key("l")
		cur := int64(0)
		if v := ks.get(0, a); v != nil {
			cur, _ = strconv.ParseInt(v.str, 10, 64)
		}
		c := cur + 1
		cs := strconv.FormatInt(c, 10)
		ks.put(0, a, &mval{typ: "string", str: cs})
		ks.put(0, b, &mval{typ: "string", str: cs})
		ks.put(0, h, &mval{typ: "hash", hash: map[string]string{"n": cs}})
		ks.put(0, z, &mval{typ: "zset", zset: map[string]float64{"m": float64(c)}})
		lv := ks.get(0, l)
		var list []string
		if lv != nil {
			list = slices.Clone(lv.list)
		}
		list = append(list, cs)
		pushed := len(list)
		if len(list) > 20 {
			list = list[len(list)-20:]
		}
		ks.put(0, l, &mval{typ: "list", list: list})
		op := &mop{n: n, db: 0, write: true, tx: [][]any{
			{"INCR", a}, {"HINCRBY", h, "n", 1}, {"ZINCRBY", z, 1, "m"}, {"RPUSH", l, cs}, {"LTRIM", l, -20, -1}, {"INCR", b},
		}}
		op.check = expExec(expInt(c), expInt(c), expFloat(float64(c)), expInt(int64(pushed)), expStatus("OK"), expInt(c))
		for _, k := range []string{a, h, z, l, b} {
			op.effects = append(op.effects, meffect{dbkey{0, k}, ks.get(0, k).clone()})
		}
		return op
	}
	return w, ks
}

// expExec checks EXEC's reply, one check per queued command.
func expExec(checks ...checkFn) checkFn {
	return func(v any, err error) error {
		arr, ok := v.([]any)
		if err != nil || !ok || len(arr) != len(checks) {
			return fmt.Errorf("EXEC reply %s (err %v), want %d replies", shortAny(v), err, len(checks))
		}
		for i, c := range checks {
			var e error
			if re, ok := arr[i].(error); ok {
				e = re
			}
			if err := c(arr[i], e); err != nil {
				return fmt.Errorf("EXEC reply %d: %v", i, err)
			}
		}
		return nil
	}
}

// clTable is a table writer's model: its rows by seq, after every command
// sent, and the highest row id acknowledged or found (ids only grow).
type clTable struct {
	rows   map[int64]*clRow
	lastID int64
}

// clRow is a row of the messages table as a table writer models it.
type clRow struct {
	id      int64 // 0 until known (the TINSERT's reply, or recovery)
	content string
	ts      int64
}

// newTableWriter returns a writer of TINSERT / TUPDATE / TDEL on the
// messages table of tables_crash_test.go (channel_id and user_id refs, a
// (ref, timestamp) composite index, a unique seq), rows of channel and
// user id+1 only, seq tcSeq(id, j) for its j-th TINSERT. Its model keys are
// the rows: dbkey{-1, seq}.
func newTableWriter(id int, seed uint64) (*clWriter, *clTable) {
	rng := rand.New(rand.NewPCG(seed, uint64(id)))
	tb := &clTable{rows: map[int64]*clRow{}}
	rows := tb.rows
	w := &clWriter{id: id, name: "table", pipeline: 1 + 7*(id%2), keys: map[dbkey]bool{}, base: map[dbkey]*mval{}}
	rowKey := func(seq int64) dbkey { return dbkey{-1, strconv.FormatInt(seq, 10)} }
	rowVal := func(r *clRow) *mval {
		if r == nil {
			return nil
		}
		return &mval{typ: "row", str: r.content + "|" + strconv.FormatInt(r.ts, 10)}
	}
	ids := map[int64]int64{} // seq -> id for rows whose id is known
	pending := map[*mop]int64{}
	j := 0
	ch := strconv.Itoa(id + 1)
	n := 0
	w.next = func() *mop {
		n++
		// rows whose id is known and that no command in flight targets
		var known []int64
		for seq, r := range rows {
			if id, ok := ids[seq]; ok && r.id == 0 {
				r.id = id
			}
			if r.id != 0 {
				known = append(known, seq)
			}
		}
		slices.Sort(known)
		r := rng.IntN(100)
		var op *mop
		switch {
		case len(known) == 0 || (r < 50 && len(rows) < 300):
			j++
			seq := tcSeq(id, j)
			row := &clRow{content: fmt.Sprintf("w%d-op%d", id, n), ts: 1_700_000_000_000 + int64(rng.IntN(1000))}
			rows[seq] = row
			op = &mop{n: n, db: -1, write: true,
				args: []any{"TINSERT", "messages", "channel_id", ch, "user_id", ch, "content", row.content, "timestamp", row.ts, "seq", seq},
				check: func(v any, err error) error {
					if n, ok := v.(int64); err != nil || !ok || n <= tb.lastID {
						return fmt.Errorf("reply %v (err %v), want a new id above %d", shortAny(v), err, tb.lastID)
					}
					return nil
				}}
			pending[op] = seq
			op.effects = []meffect{{rowKey(seq), rowVal(row)}}
		case r < 75:
			seq := known[rng.IntN(len(known))]
			row := rows[seq]
			row.content = fmt.Sprintf("w%d-op%d", id, n)
			row.ts = 1_700_000_000_000 + int64(rng.IntN(1000))
			op = &mop{n: n, db: -1, write: true,
				args:  []any{"TUPDATE", "messages", row.id, "content", row.content, "timestamp", row.ts},
				check: expStatus("OK")}
			op.effects = []meffect{{rowKey(seq), rowVal(row)}}
		default:
			seq := known[rng.IntN(len(known))]
			op = &mop{n: n, db: -1, write: true, args: []any{"TDEL", "messages", rows[seq].id}, check: expStatus("OK")}
			delete(rows, seq)
			op.effects = []meffect{{rowKey(seq), nil}}
		}
		return op
	}
	w.onAck = func(op *mop) {
		if seq, ok := pending[op]; ok {
			ids[seq] = op.cmd.Val().(int64)
			tb.lastID = ids[seq]
			delete(pending, op)
		}
	}
	return w, tb
}

// TestCrashLoopModel runs the crash loop in both durable fsync modes.
func TestCrashLoopModel(t *testing.T) {
	seed := modelSeed(t)
	for i, mode := range []string{"always", "everysec"} {
		t.Run(mode, func(t *testing.T) { runCrashLoop(t, mode, seed+uint64(i)) })
	}
}

func runCrashLoop(t *testing.T, mode string, seed uint64) {
	cycles := 20
	if testing.Short() {
		cycles = 6
	}
	p := startLux(t, "--maxmemory", "4mb", "--appendfsync", mode)
	ctx := context.Background()
	setup := crashClient(t, p.Addr, 0)
	const tableWriters = 2
	for _, cmd := range [][]any{
		{"TCREATE", "users", "username:str:unique"},
		{"TCREATE", "channels", "name:str:unique"},
		{"TCREATE", "messages", "channel_id:ref(channels)", "user_id:ref(users)", "content:str", "timestamp:int", "seq:int:unique"},
	} {
		if err := setup.Do(ctx, cmd...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for w := 1; w <= tableWriters; w++ {
		if err := setup.Do(ctx, "TINSERT", "users", "username", "u"+strconv.Itoa(w)).Err(); err != nil {
			t.Fatal(err)
		}
		if err := setup.Do(ctx, "TINSERT", "channels", "name", "c"+strconv.Itoa(w)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	setup.Close()

	// writers: one per value type, one of every type with key moves between
	// databases 0 and 1, one of transactions, two of table rows; odd ids
	// pipeline
	var ws []*clWriter
	gens := map[*clWriter]*mgen{}
	add := func(w *clWriter, g *mgen) {
		if w.id%2 == 1 {
			w.pipeline = 8
		}
		ws = append(ws, w)
		if g != nil {
			gens[w] = g
		}
	}
	kinds := []string{"string", "list", "hash", "set", "zset"}
	for _, kind := range kinds {
		add(newKVWriter(len(ws)+tableWriters, kind, seed, []string{kind}, []int{0}, 100))
	}
	add(newKVWriter(len(ws)+tableWriters, "mixed", seed, kinds, []int{0, 1}, 200))
	tx, txks := newTxWriter(len(ws)+tableWriters, seed)
	add(tx, nil)
	tables := map[*clWriter]*clTable{}
	for i := 0; i < tableWriters; i++ {
		w, tb := newTableWriter(i, seed)
		ws = append(ws, w)
		tables[w] = tb
	}

	if only := os.Getenv("LUX_TEST_WRITERS"); only != "" {
		// to minimise a failure: only the writers named (string, list,
		// hash, set, zset, mixed, multi, table)
		names := strings.Split(only, ",")
		ws = slices.DeleteFunc(ws, func(w *clWriter) bool {
			if slices.Contains(names, w.name) {
				return false
			}
			delete(tables, w)
			return true
		})
	}
	if n, err := strconv.Atoi(os.Getenv("LUX_TEST_CYCLES")); err == nil {
		cycles = n
	}

	totalAcked, diskLoads, evicted := 0, int64(0), int64(0)
	start := time.Now()
	for cycle := 1; cycle <= cycles; cycle++ {
		var stop atomic.Bool
		var acked atomic.Int64
		var wg sync.WaitGroup
		var clients []*redis.Client
		for _, w := range ws {
			c := crashClient(t, p.Addr, 0)
			clients = append(clients, c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(ctx, c, &stop, &acked)
			}()
		}
		// Crash at a random moment once the writers are going. In everysec
		// mode some cycles last past the loss window so that there are
		// commands that must survive.
		deadline := time.Now().Add(20 * time.Second)
		for acked.Load() < 200 && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		wait := time.Duration(rand.IntN(800)) * time.Millisecond
		if mode == "everysec" {
			wait = time.Duration(rand.IntN(2500)) * time.Millisecond
		}
		time.Sleep(wait)
		ic := crashClient(t, p.Addr, 0)
		if info, err := ic.Info(ctx, "stats").Result(); err == nil {
			diskLoads += infoInt(info, "lux_disk_loads")
			evicted += infoInt(info, "evicted_keys")
		}
		ic.Close()
		killAt := time.Now()
		p.Kill9()
		stop.Store(true)
		wg.Wait()
		for _, c := range clients {
			c.Close()
		}
		cycleAcked := 0
		for _, w := range ws {
			if w.problem != "" {
				t.Fatalf("cycle %d: writer %d (%s): %s", cycle, w.id, w.name, w.problem)
			}
			for _, op := range w.ops {
				if op.acked {
					cycleAcked++
				}
			}
		}
		if cycleAcked == 0 {
			t.Fatalf("cycle %d: no command acknowledged before the kill", cycle)
		}
		totalAcked += cycleAcked

		p.Restart()
		st := checkCrashLoop(t, p, mode, cycle, killAt, ws, gens, txks, tables)
		t.Logf("cycle %d: kill -9 %v after the writers reached 200 acknowledged commands: %d sent, %d acknowledged, "+
			"%d had to survive, %d found", cycle, wait.Round(time.Millisecond), st.sent, cycleAcked, st.need, st.kept)
	}
	t.Logf("%s: %d cycles, %d acknowledged commands, %d keys loaded from disk and %d evicted by the writers, in %v",
		mode, cycles, totalAcked, diskLoads, evicted, time.Since(start).Round(time.Millisecond))
	if evicted == 0 {
		t.Errorf("no key left memory: the writers' keys fit in --maxmemory and the test checked no cold keys")
	}
}

func infoInt(info, field string) int64 {
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// checkCrashLoop reads everything the writers wrote from the restarted
// server, checks it against each writer's prefixes and makes it the
// writers' new model.
func checkCrashLoop(t *testing.T, p *luxProc, mode string, cycle int, killAt time.Time, ws []*clWriter,
	gens map[*clWriter]*mgen, txks *mspace, tables map[*clWriter]*clTable) (st clStats) {
	t.Helper()
	ctx := context.Background()
	c0, c1 := crashClient(t, p.Addr, 0), crashClient(t, p.Addr, 1)
	defer c0.Close()
	defer c1.Close()
	clients := []*redis.Client{c0, c1}

	// every key of every key-value writer, read from the server
	obs := map[dbkey]string{}
	present := [2]map[string]bool{{}, {}}
	for db := 0; db < 2; db++ {
		var keys []string
		for _, w := range ws {
			if _, ok := tables[w]; ok {
				continue
			}
			for k := range w.keys {
				if k.db == db {
					keys = append(keys, k.key)
				}
			}
		}
		canon, _, err := readCanonKeys(ctx, clients[db], keys)
		if err != nil {
			t.Fatalf("cycle %d: reading db %d: %v", cycle, db, err)
		}
		for i, k := range keys {
			if canon[i] != "none" {
				obs[dbkey{db, k}] = canon[i]
				present[db][k] = true
			}
		}
	}
	// every row of the messages table
	all, err := c0.Do(ctx, "TQUERY", "messages").Slice()
	if err != nil {
		t.Fatalf("cycle %d: TQUERY messages: %v", cycle, err)
	}
	rowObs := map[int]map[dbkey]string{}
	rowIDs := map[int]map[int64]int64{} // writer -> seq -> id
	maxID := int64(0)
	for _, v := range all {
		id, f := tcRowReply(t, v)
		maxID = max(maxID, id)
		seq, _ := strconv.ParseInt(f["seq"], 10, 64)
		w := int(seq / tcSeqBase)
		if rowObs[w] == nil {
			rowObs[w] = map[dbkey]string{}
			rowIDs[w] = map[int64]int64{}
		}
		rowObs[w][dbkey{-1, f["seq"]}] = (&mval{typ: "row", str: f["content"] + "|" + f["timestamp"]}).canon()
		rowIDs[w][seq] = id
	}

	// keys SET ... PXAT <past> left behind count until expiry reclaims them
	var slack [2]int
	for _, g := range gens {
		for k := range g.pending {
			if k.db < 2 {
				slack[k.db]++
			}
		}
	}
	failed := false
	var badKeys []dbkey
	for _, w := range ws {
		need := w.need(mode, killAt)
		st.sent += len(w.ops)
		st.need += need
		wobs := map[dbkey]string{}
		tb, isTable := tables[w]
		if isTable {
			wobs = rowObs[w.id]
		} else {
			for k := range w.keys {
				if s, ok := obs[k]; ok {
					wobs[k] = s
				}
			}
		}
		n, bad, desc := w.recoverState(wobs, need)
		if n < 0 && os.Getenv("LUX_TEST_DUMP") != "" {
			w.dump(t, os.Getenv("LUX_TEST_DUMP"), cycle, wobs, need)
		}
		if n < 0 {
			t.Errorf("cycle %d (%s): writer %d (%s): %s", cycle, mode, w.id, w.name, desc)
			failed = true
			for _, k := range bad {
				if k.db >= 0 {
					badKeys = append(badKeys, k)
				}
			}
			continue
		}
		if isTable {
			// ids only grow over what survived: the rows found and the
			// inserts that must have survived (a lost insert's id may be
			// handed out again)
			tb.lastID = maxID
			for _, op := range w.ops[:n] {
				if id, ok := op.cmd.Val().(int64); ok && op.acked && op.args[0] == "TINSERT" {
					tb.lastID = max(tb.lastID, id)
				}
			}
		}
		st.kept += n
		base := w.commit(n)
		switch {
		case isTable:
			clear(tb.rows)
			for k, v := range base {
				if v == nil {
					continue
				}
				seq, _ := strconv.ParseInt(k.key, 10, 64)
				content, ts, _ := strings.Cut(v.str, "|")
				tsn, _ := strconv.ParseInt(ts, 10, 64)
				tb.rows[seq] = &clRow{id: rowIDs[w.id][seq], content: content, ts: tsn}
			}
		case gens[w] != nil:
			gens[w].reset(base)
		default: // the transaction writer
			for i := range txks.dbs {
				clear(txks.dbs[i])
			}
			for k, v := range base {
				txks.put(k.db, k.key, v.clone())
			}
		}
	}
	if failed {
		// tell a stale view of the restarted server from data lost on disk
		p.Restart()
		var lines []string
		for _, k := range badKeys[:min(10, len(badKeys))] {
			c := crashClient(t, p.Addr, k.db)
			canon, _, err := readCanonKeys(ctx, c, []string{k.key})
			// KEYS reads the meta records in Pebble directly, past the
			// key index and the cache
			keys, kerr := c.Keys(ctx, k.key).Result()
			if err == nil {
				lines = append(lines, fmt.Sprintf("%v = %s (KEYS %q: %v %v)", k, short(canon[0]), k.key, keys, kerr))
			}
			c.Close()
		}
		t.Logf("after one more (clean) restart: %s", strings.Join(lines, "; "))
		t.FailNow()
	}

	// transactions: every counter group in step
	for i := 0; i < txGroups; i++ {
		k := func(s string) string { return fmt.Sprintf("cltx:%s%d", s, i) }
		pipe := c0.Pipeline()
		a, b := pipe.Get(ctx, k("a")), pipe.Get(ctx, k("b"))
		h, z := pipe.HGet(ctx, k("h"), "n"), pipe.ZScore(ctx, k("z"), "m")
		l := pipe.LIndex(ctx, k("l"), -1)
		_, _ = pipe.Exec(ctx)
		av, bv, hv, lv := a.Val(), b.Val(), h.Val(), l.Val()
		zv := ""
		if z.Err() == nil {
			zv = strconv.FormatFloat(z.Val(), 'g', -1, 64)
		}
		if av != bv || av != hv || av != zv || av != lv {
			t.Errorf("cycle %d: transaction group %d half applied: a=%q b=%q h.n=%q z.m=%q last(l)=%q", cycle, i, av, bv, hv, zv, lv)
		}
	}

	// key counts and SCAN agree with the keys found
	for db := 0; db < 2; db++ {
		n, err := clients[db].DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n < int64(len(present[db])) || n > int64(len(present[db])+slack[db]) {
			t.Errorf("cycle %d: db %d DBSIZE %d after the crash; the writers' keys found: %d (+ up to %d set with a past deadline)",
				cycle, db, n, len(present[db]), slack[db])
		}
		scanned, _, err := scanAll(ctx, clients[db], 100)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffKeys(scanned, present[db], nil); d != "" {
			t.Errorf("cycle %d: db %d SCAN after the crash differs from the keys found: %s", cycle, db, d)
		}
	}

	// the table's indexes and constraints agree with its rows: checked by
	// tables_crash_test.go's checker on workers that inserted exactly the
	// rows found
	var wks []*tcWorker
	for i := 0; i < len(tables); i++ { // table writers have ids 0, 1
		wk := &tcWorker{w: i, ids: map[int]int64{}}
		for seq, id := range rowIDs[i] {
			j := int(seq % tcSeqBase)
			for len(wk.ops) <= j {
				wk.ops = append(wk.ops, tcOp{kind: 'n'})
			}
			wk.ops[j] = tcOp{kind: 'i', row: j, acked: true, id: id}
		}
		wks = append(wks, wk)
	}
	fillTcContent(wks, all, t)
	checkTablesRecovered(t, c0, wks, func(wk *tcWorker) int { return len(wk.ops) })
	if out := p.Output(); strings.Contains(out, "tables:") {
		t.Fatalf("cycle %d: recovery had to repair the tables:\n%s", cycle, out)
	}
	if t.Failed() {
		t.FailNow()
	}
	return st
}

// clStats counts one cycle's commands: sent, that had to survive, found.
type clStats struct{ sent, need, kept int }

// fillTcContent gives the synthetic inserts the content and timestamp of
// the rows found, so that the state after all of them is exactly those rows.
func fillTcContent(wks []*tcWorker, all []any, t *testing.T) {
	for _, v := range all {
		_, f := tcRowReply(t, v)
		seq, _ := strconv.ParseInt(f["seq"], 10, 64)
		w, j := int(seq/tcSeqBase), int(seq%tcSeqBase)
		ts, _ := strconv.ParseInt(f["timestamp"], 10, 64)
		wks[w].ops[j].content = f["content"]
		wks[w].ops[j].ts = ts
	}
}
