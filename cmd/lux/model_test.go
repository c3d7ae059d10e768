package main

// TestModelMaxmemory: a memory-bounded server (--maxmemory 16mb, everysec)
// gets about ten times its memory limit in writes of every value type,
// deadlines, key moves, a FLUSHDB and table commands, one random command
// stream on one connection mirrored in an in-test model (model_gen_test.go).
// The key space holds a few times what fits in memory, so commands and the
// checks read keys that are only on disk. Every reply is checked as it
// arrives; at each checkpoint everything the server holds is read back and
// compared with the model: the values, deadlines, types, DBSIZE, SCAN, KEYS,
// RANDOMKEY and the tables. The server is restarted in the middle and at the
// end (SIGTERM) and once killed with SIGKILL after SAVE; each restart must
// give exactly the same data. Keys with short deadlines must disappear on
// time without being read, and the process's peak RSS must stay within the
// memory limit plus a fixed overhead.
//
// To minimise a failure: LUX_TEST_SEED replays a run's commands (deadlines
// aside, the stream depends on the seed only), LUX_TEST_TRACE=text logs
// every command whose text contains text with its reply, LUX_TEST_DBSIZE=1
// sends one command at a time and compares DBSIZE with the model after each.

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// modelSeed returns the seed of a randomized test: LUX_TEST_SEED if set
// (to replay a failure), otherwise a random one. It is logged either way.
func modelSeed(t *testing.T) uint64 {
	t.Helper()
	seed := rand.Uint64()
	if s := os.Getenv("LUX_TEST_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("LUX_TEST_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (replay with LUX_TEST_SEED=%d)", seed, seed)
	return seed
}

// vmHWM returns the peak resident set size of process pid in bytes
// (VmHWM in /proc/PID/status; Linux only).
func vmHWM(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// infoField returns one numeric field of INFO.
func infoField(t *testing.T, c *redis.Client, section, field string) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatalf("INFO %s: %v", section, err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO %s: %q", field, line)
			}
			return n
		}
	}
	t.Fatalf("INFO %s has no %s", section, field)
	return 0
}

// volKey is a key with a short deadline, outside the model's key space: it
// is never read before its deadline, and must be gone after it.
type volKey struct {
	lo, hi int64 // the server's deadline is in [lo, hi] (unix ms)
}

type modelRun struct {
	t      *testing.T
	p      *luxProc
	seed   uint64
	g      *mgen
	ks     *mspace
	tm     *tmodel
	ctx    context.Context
	conn   *redis.Conn
	cur    int // database selected on conn
	maxLag time.Duration
	// written counts payload bytes written; ops and reads count commands.
	written    int64
	ops, reads int
	vol        map[dbkey]volKey
	peakRSS    int64
	diskLoads  int64
	clients    [16]*redis.Client
}

// dbClient returns a client for database db of the current server process.
func (r *modelRun) dbClient(db int) *redis.Client {
	if r.clients[db] == nil {
		r.clients[db] = crashClient(r.t, r.p.Addr, db)
	}
	return r.clients[db]
}

func (r *modelRun) connect() {
	for i, c := range r.clients {
		if c != nil {
			c.Close()
			r.clients[i] = nil
		}
	}
	c := crashClient(r.t, r.p.Addr, 0)
	r.conn = c.Conn()
	r.t.Cleanup(func() { r.conn.Close() })
	r.cur = 0
}

// exec runs a batch and checks every reply.
func (r *modelRun) exec(ops []*mop, genStart time.Time) {
	r.t.Helper()
	runBatch(r.ctx, r.conn, &r.cur, ops)
	if lag := time.Since(genStart); lag > r.maxLag {
		r.maxLag = lag
	}
	trace := os.Getenv("LUX_TEST_TRACE")
	for _, op := range ops {
		if trace != "" && strings.Contains(op.String(), trace) {
			r.t.Logf("%s -> %v %v", op, shortAny(op.cmd.Val()), op.cmd.Err())
		}
		if err := op.check(op.cmd.Val(), op.cmd.Err()); err != nil {
			r.t.Fatalf("seed %d: %s: %v", r.seed, op, err)
		}
		r.written += int64(op.bytes)
		if op.write {
			r.ops++
		} else {
			r.reads++
		}
	}
}

// writePhase runs random commands until bytes more payload bytes were
// written; at is called between batches with the fraction done.
func (r *modelRun) writePhase(bytes int64, at func(done float64)) {
	r.t.Helper()
	start := r.written
	for r.written-start < bytes {
		genStart := time.Now()
		var batch []*mop
		size := 0
		for len(batch) < r.batchLen() && size < 256<<10 {
			op := r.g.next()
			batch = append(batch, op)
			size += op.bytes
		}
		r.exec(batch, genStart)
		if os.Getenv("LUX_TEST_DBSIZE") != "" {
			r.checkDBSize(batch)
		}
		if at != nil {
			at(float64(r.written-start) / float64(bytes))
		}
	}
}

func (r *modelRun) batchLen() int {
	if os.Getenv("LUX_TEST_DBSIZE") != "" {
		return 1
	}
	return 128
}

// checkDBSize (debugging aid, LUX_TEST_DBSIZE=1) compares DBSIZE with the
// model after every batch.
func (r *modelRun) checkDBSize(batch []*mop) {
	r.t.Helper()
	for db := 0; db < 3; db++ {
		n, err := r.dbClient(db).DBSize(r.ctx).Result()
		if err != nil || n < int64(len(r.ks.dbs[db])) || n > int64(len(r.ks.dbs[db])+len(r.g.pending)) {
			r.t.Fatalf("after %s: db %d DBSIZE %d, %v; model %d", batch[len(batch)-1], db, n, err, len(r.ks.dbs[db]))
		}
	}
}

// flushDB2 runs FLUSHDB in database 2, which removes every table too.
func (r *modelRun) flushDB2() {
	r.t.Helper()
	clear(r.ks.dbs[2])
	r.tm.reset()
	r.exec([]*mop{{n: -1, db: 2, args: []any{"FLUSHDB"}, check: expStatus("OK"), write: true}}, time.Now())
}

// createVol writes n keys of every type with a deadline ttl from now.
func (r *modelRun) createVol(group string, n int, ttl time.Duration) {
	r.t.Helper()
	var ops []*mop
	keys := make([]dbkey, n)
	ms := ttl.Milliseconds()
	for i := range keys {
		k := dbkey{i % 2, fmt.Sprintf("vol:%s:%d", group, i)}
		keys[i] = k
		val := r.g.value(16, 2048)
		switch i % 5 {
		case 0:
			ops = append(ops, wr(k.db, []any{"SET", k.key, val, "PX", ms}, expStatus("OK"), len(val)))
			continue
		case 1:
			ops = append(ops, wr(k.db, []any{"RPUSH", k.key, val, "x"}, expInt(2), len(val)))
		case 2:
			ops = append(ops, wr(k.db, []any{"HSET", k.key, "f", val}, expInt(1), len(val)))
		case 3:
			ops = append(ops, wr(k.db, []any{"SADD", k.key, val, "x"}, expInt(2), len(val)))
		case 4:
			ops = append(ops, wr(k.db, []any{"ZADD", k.key, 1, val}, expInt(1), len(val)))
		}
		ops = append(ops, wr(k.db, []any{"PEXPIRE", k.key, ms}, expInt(1), 0))
	}
	t0 := time.Now()
	r.exec(ops, t0)
	t1 := time.Now()
	for _, k := range keys {
		r.vol[k] = volKey{t0.UnixMilli() + ms, t1.UnixMilli() + ms}
	}
}

// lastVolDeadline returns the latest possible deadline of the volatile
// keys (unix ms) and how many there are.
func (r *modelRun) lastVolDeadline() (int64, int) {
	last := int64(0)
	for _, v := range r.vol {
		last = max(last, v.hi)
	}
	return last, len(r.vol)
}

// awaitExpiry waits until every volatile key's deadline has passed and
// checks that they disappear without being read: DBSIZE drops to the
// model's count within a bound of the last deadline (keys SET ... PXAT
// left behind may still count, see settleCounts), and INFO expired_keys
// counts them. Only then are they read (EXISTS must be 0).
func (r *modelRun) awaitExpiry(label string, c *redis.Client, expiredBefore int64) {
	r.t.Helper()
	ctx := r.ctx
	last, n := r.lastVolDeadline()
	if n == 0 {
		return
	}
	var want, slack, got [4]int64
	for db := range want {
		want[db] = int64(len(r.ks.dbs[db]))
	}
	for k := range r.g.pending {
		if k.db < len(slack) {
			slack[k.db]++
		}
	}
	countsWithin := func(extra [4]int64) bool {
		ok := true
		for db := range got {
			var err error
			got[db], err = r.dbClient(db).DBSize(ctx).Result()
			if err != nil {
				r.t.Fatal(err)
			}
			ok = ok && got[db] >= want[db]+extra[db] && got[db] <= want[db]+extra[db]+slack[db]
		}
		return ok
	}
	first := last
	var vols [4]int64
	for k, v := range r.vol {
		first = min(first, v.lo)
		vols[k.db]++
	}
	before := "deadlines passed before the first check"
	if time.Now().UnixMilli() < first-50 {
		// not yet expired: counted
		if !countsWithin(vols) {
			r.t.Fatalf("seed %d: %s: DBSIZE per db %v before the deadlines; want %v + %v keys with deadlines (+ %v keys SET with a past deadline)",
				r.seed, label, got, want, vols, slack)
		}
		before = fmt.Sprintf("DBSIZE %v before", got)
	}
	time.Sleep(time.Until(time.UnixMilli(last)))
	// Active expiry runs every 100 ms and reclaims up to 500 keys per
	// database per run from the on-disk deadline index; 3 s is a failure
	// bound for a loaded machine, not the expected latency.
	const bound = 3 * time.Second
	deadline := time.UnixMilli(last).Add(bound)
	for {
		if countsWithin([4]int64{}) {
			break
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("seed %d: %s: DBSIZE per db %v %v after the last of %d deadlines; want %v (+ %v keys SET with a past deadline)",
				r.seed, label, got, time.Since(time.UnixMilli(last)).Round(time.Millisecond), n, want, slack)
		}
		time.Sleep(20 * time.Millisecond)
	}
	latency := time.Since(time.UnixMilli(last))
	expired := infoField(r.t, c, "stats", "expired_keys") - expiredBefore
	if expired < int64(n) {
		r.t.Errorf("seed %d: %s: INFO expired_keys grew by %d; want at least the %d keys whose deadline passed", r.seed, label, expired, n)
	}
	r.t.Logf("%s: %d keys with deadlines gone without being read: %s, DBSIZE %v within %v of the last deadline; expired_keys +%d",
		label, n, before, got, latency.Round(time.Millisecond), expired)
	// now they may be read
	for k := range r.vol {
		if n, err := r.dbClient(k.db).Exists(ctx, k.key).Result(); err != nil || n != 0 {
			r.t.Errorf("seed %d: %s: db %d %s EXISTS %d, %v after its deadline", r.seed, label, k.db, k.key, n, err)
		}
	}
	clear(r.vol)
}

// notePeak records the server process's peak RSS (call before it stops).
func (r *modelRun) notePeak() {
	if r.p.Cmd == nil || r.p.exited() {
		return
	}
	if hwm, err := vmHWM(r.p.Cmd.Process.Pid); err == nil {
		r.peakRSS = max(r.peakRSS, hwm)
	}
}

// verify reads everything back and compares it with the model.
func (r *modelRun) verify(label string) {
	r.t.Helper()
	t, ctx := r.t, r.ctx
	start := time.Now()
	admin := r.dbClient(0)
	loads0 := infoField(t, admin, "stats", "lux_disk_loads")
	hot := infoField(t, admin, "stats", "lux_hot_keys")
	r.settleCounts(label)
	total := 0
	for db := 0; db < 4; db++ {
		c := r.dbClient(db)
		want := map[string]bool{}
		for k := range r.ks.dbs[db] {
			want[k] = true
		}
		maybe := map[string]bool{}
		for k := range r.vol {
			if k.db == db {
				maybe[k.key] = true
			}
		}
		total += len(want)
		n, err := c.DBSize(ctx).Result()
		if err != nil || n < int64(len(want)) || n > int64(len(want)+len(maybe)) {
			if keys, err := c.Keys(ctx, "*").Result(); err == nil {
				got := map[string]bool{}
				for _, k := range keys {
					got[k] = true
				}
				t.Logf("KEYS * has %d keys: %s", len(keys), diffKeys(got, want, maybe))
			}
			t.Fatalf("seed %d: %s: db %d DBSIZE %d, %v; want %d (+ up to %d keys past their deadline)", r.seed, label, db, n, err, len(want), len(maybe))
		}
		if ks := infoKeyspace(t, admin, db); ks != n {
			t.Errorf("seed %d: %s: db %d INFO keyspace keys=%d, DBSIZE %d", r.seed, label, db, ks, n)
		}
		keys, err := c.Keys(ctx, "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, k := range keys {
			got[k] = true
		}
		if len(got) != len(keys) {
			t.Errorf("seed %d: %s: db %d KEYS * returned %d keys, %d distinct", r.seed, label, db, len(keys), len(got))
		}
		if d := diffKeys(got, want, maybe); d != "" {
			t.Fatalf("seed %d: %s: db %d KEYS *: %s", r.seed, label, db, d)
		}
		scanned, _, err := scanAll(ctx, c, int64(50+rand.IntN(500)))
		if err != nil {
			t.Fatal(err)
		}
		if d := diffKeys(scanned, want, maybe); d != "" {
			t.Fatalf("seed %d: %s: db %d SCAN: %s", r.seed, label, db, d)
		}
		for i := 0; i < 10; i++ {
			k, err := c.RandomKey(ctx).Result()
			if len(want)+len(maybe) == 0 {
				if err != redis.Nil {
					t.Errorf("seed %d: %s: db %d RANDOMKEY on an empty db = %q, %v", r.seed, label, db, k, err)
				}
				break
			}
			if err != nil || !(want[k] || maybe[k]) {
				t.Errorf("seed %d: %s: db %d RANDOMKEY = %q, %v; not a key", r.seed, label, db, k, err)
			}
		}
		r.verifyValues(label, c, db)
	}
	// keys of the key space that the model says are absent
	for db := 0; db < 3; db++ {
		c := r.dbClient(db)
		var absent []string
		for i := 0; i < 400 && len(absent) < 50; i++ {
			if k := r.g.pickIn(db); r.ks.get(db, k) == nil {
				absent = append(absent, k)
			}
		}
		if len(absent) > 0 {
			if n, err := c.Exists(ctx, absent...).Result(); err != nil || n != 0 {
				t.Errorf("seed %d: %s: db %d EXISTS of %d absent keys = %d, %v", r.seed, label, db, len(absent), n, err)
			}
		}
	}
	r.verifyTables(label)
	loads := infoField(t, admin, "stats", "lux_disk_loads") - loads0
	r.diskLoads += loads
	t.Logf("%s: %d keys (%.0f MB, %d in memory before the checks) and %d users, %d posts match the model (%d keys loaded from disk) in %v",
		label, total, float64(r.ks.bytes())/(1<<20), hot, len(r.tm.users), len(r.tm.posts), loads, time.Since(start).Round(time.Millisecond))
}

// settleCounts waits until expiry has reclaimed the keys SET ... PXAT left
// with a deadline in the past (DBSIZE counts them until then, as Redis 7.0
// does): DBSIZE must come down to the model's count (plus volatile keys
// whose deadline may not have passed) within a bound.
func (r *modelRun) settleCounts(label string) {
	r.t.Helper()
	if len(r.g.pending) == 0 {
		return
	}
	const bound = 2 * time.Second
	start := time.Now()
	for db := 0; db < 4; db++ {
		want := int64(len(r.ks.dbs[db]))
		maybe := int64(0)
		for k := range r.vol {
			if k.db == db {
				maybe++
			}
		}
		for {
			n, err := r.dbClient(db).DBSize(r.ctx).Result()
			if err != nil {
				r.t.Fatal(err)
			}
			if n >= want && n <= want+maybe {
				break
			}
			if time.Since(start) > bound {
				r.t.Fatalf("seed %d: %s: db %d DBSIZE %d %v after the checks began; want %d (+ up to %d volatile keys): "+
					"%d keys set with a past deadline were not reclaimed", r.seed, label, db, n, bound, want, maybe, len(r.g.pending))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	r.t.Logf("%s: %d keys set with a past deadline reclaimed within %v", label, len(r.g.pending), time.Since(start).Round(time.Millisecond))
	clear(r.g.pending)
}

func infoKeyspace(t *testing.T, c *redis.Client, db int) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "keyspace").Result()
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("db%d:keys=", db)
	for _, line := range strings.Split(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
			return n
		}
	}
	return 0
}

// verifyValues compares every key of db with the model: type, contents and
// deadline.
func (r *modelRun) verifyValues(label string, c *redis.Client, db int) {
	r.t.Helper()
	keys := make([]string, 0, len(r.ks.dbs[db]))
	for k := range r.ks.dbs[db] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	bad := 0
	for start := 0; start < len(keys); start += 512 {
		chunk := keys[start:min(start+512, len(keys))]
		t0 := time.Now()
		canon, pttl, err := readCanonKeys(r.ctx, c, chunk)
		t1 := time.Now()
		if err != nil {
			r.t.Fatalf("%s: reading db %d: %v", label, db, err)
		}
		for i, k := range chunk {
			v := r.ks.get(db, k)
			if want := v.canon(); canon[i] != want {
				bad++
				r.t.Errorf("seed %d: %s: db %d key %s = %s; model %s", r.seed, label, db, k, short(canon[i]), short(want))
			} else if v.exp != 0 {
				// the server's deadline is in [exp, exp+maxLag]; it read
				// PTTL at some moment in [t0, t1]
				lo, hi := v.exp-5, v.exp+r.maxLag.Milliseconds()+5
				d0, d1 := t0.UnixMilli()+pttl[i].Milliseconds(), t1.UnixMilli()+pttl[i].Milliseconds()
				if d1 < lo || d0 > hi {
					bad++
					r.t.Errorf("seed %d: %s: db %d key %s PTTL %v: deadline in [%d, %d], model [%d, %d]",
						r.seed, label, db, k, pttl[i], d0, d1, lo, hi)
				}
			}
			if bad >= 10 {
				r.t.Fatalf("seed %d: %s: too many wrong keys", r.seed, label)
			}
		}
	}
	if bad > 0 {
		r.t.FailNow()
	}
}

// verifyTables compares both tables with the model: counts, every row by a
// full scan, the history of a sample of authors through the composite
// index, users through the unique index, posts by id.
func (r *modelRun) verifyTables(label string) {
	r.t.Helper()
	t, ctx, tm := r.t, r.ctx, r.tm
	c := r.dbClient(0)
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("seed %d: %s: %s: %v", r.seed, label, what, err)
		}
	}
	do := func(args ...any) (any, error) { return c.Do(ctx, args...).Result() }
	if !tm.usersCreated {
		_, err := do("TCOUNT", "users")
		check("TCOUNT users after FLUSHDB", expErr("ERR table 'users' does not exist")(nil, err))
		return
	}
	v, err := do("TCOUNT", "users")
	check("TCOUNT users", expInt(int64(len(tm.users)))(v, err))
	var users [][]string
	for _, id := range sortedIDs(tm.users) {
		users = append(users, tm.users[id].row(id))
	}
	v, err = do("TQUERY", "users")
	check("TQUERY users", expRows(users)(v, err))
	if !tm.postsCreated {
		return
	}
	v, err = do("TCOUNT", "posts")
	check("TCOUNT posts", expInt(int64(len(tm.posts)))(v, err))
	var posts [][]string
	for _, id := range sortedIDs(tm.posts) {
		posts = append(posts, tm.posts[id].row(id))
	}
	v, err = do("TQUERY", "posts")
	check("TQUERY posts", expRows(posts)(v, err))
	pipe := c.Pipeline()
	var cmds []*redis.Cmd
	var checks []checkFn
	var whats []string
	for i, id := range sortedIDs(tm.users) {
		if i >= 200 {
			break
		}
		u := tm.users[id]
		cmds = append(cmds, pipe.Do(ctx, "TQUERY", "posts", "WHERE", "author", "=", id, "ORDER", "BY", "ts", "DESC", "LIMIT", 10))
		checks = append(checks, expRows(tm.authorHistory(id, 10)))
		whats = append(whats, fmt.Sprintf("history of user %d", id))
		cmds = append(cmds, pipe.Do(ctx, "TQUERY", "users", "WHERE", "name", "=", u.name))
		checks = append(checks, expRows([][]string{u.row(id)}))
		whats = append(whats, fmt.Sprintf("user %s by name", u.name))
	}
	for i, id := range sortedIDs(tm.posts) {
		if i%20 == 0 {
			cmds = append(cmds, pipe.Do(ctx, "TGET", "posts", id))
			checks = append(checks, expList(tm.posts[id].row(id)[1:]))
			whats = append(whats, fmt.Sprintf("TGET posts %d", id))
		}
	}
	_, _ = pipe.Exec(ctx)
	for i, cmd := range cmds {
		check(whats[i], checks[i](cmd.Val(), cmd.Err()))
	}
}

func TestModelMaxmemory(t *testing.T) {
	seed := modelSeed(t)
	const maxmemory = 16 << 20
	volume, keysPerDB := int64(160<<20), 8000
	if testing.Short() {
		volume, keysPerDB = 40<<20, 2500
	}
	p := startLux(t, "--maxmemory", "16mb", "--appendfsync", "everysec")
	rng := rand.New(rand.NewPCG(seed, 0x6d6f64656c))
	r := &modelRun{t: t, p: p, seed: seed, ks: newMspace(), tm: newTmodel(), ctx: context.Background(), vol: map[dbkey]volKey{}}
	keyName := func(db, i int) string {
		if db == 2 {
			return "d2:" + strconv.Itoa(i)
		}
		return "k" + strconv.Itoa(i)
	}
	r.g = &mgen{
		rng: rng, ks: r.ks, tm: r.tm,
		pickFn: func() (int, string) {
			db := []int{0, 0, 0, 0, 0, 1, 1, 1, 1, 2}[rng.IntN(10)]
			n := keysPerDB
			if db == 2 {
				n /= 8
			}
			return db, keyName(db, rng.IntN(n))
		},
		pickInFn: func(db int) string {
			n := keysPerDB
			if db == 2 {
				n /= 8
			}
			return keyName(db, rng.IntN(n))
		},
		otherDB: func(db int) (int, bool) { return 1 - db, db < 2 },
		types:   []string{"string", "string", "list", "hash", "set", "zset"},
		sz: msizes{strMin: 64, strMax: 12 << 10, appendMax: 2048, strCap: 48 << 10, elemMin: 16, elemMax: 1024,
			listCap: 60, hashFields: 40, memberDomain: 300, postsCap: 3000},
		readPct: 12, genericPct: 15, tablePct: 4,
		oddities: true,
	}
	r.connect()

	phaseStart := time.Now()
	flushed := false
	r.writePhase(volume/2, func(done float64) {
		if done > 0.6 && !flushed {
			flushed = true
			r.flushDB2()
		}
	})
	t.Logf("phase 1: %d MB in %d writes and %d reads in %v", r.written>>20, r.ops, r.reads, time.Since(phaseStart).Round(time.Millisecond))
	r.verify("phase 1")

	// Keys whose deadline passes while the server is down.
	r.createVol("a", 300, 1200*time.Millisecond)
	r.notePeak()
	if err := p.Stop(); err != nil {
		t.Fatalf("SIGTERM exit: %v\n%s", err, p.Output())
	}
	p.Restart()
	r.connect()
	r.awaitExpiry("restart after SIGTERM", r.dbClient(0), 0)
	r.verify("restart after SIGTERM")

	// Keys whose deadline passes while the writes go on (they leave memory).
	phaseStart = time.Now()
	ops0 := r.ops
	r.createVol("b", 500, 2*time.Second)
	admin := r.dbClient(0)
	expired0 := infoField(t, admin, "stats", "expired_keys")
	r.writePhase(volume/2, func(float64) {
		// as soon as the deadlines have passed, with the writes going on
		if last, n := r.lastVolDeadline(); n > 0 && time.Now().UnixMilli() > last {
			r.awaitExpiry("phase 2", admin, expired0)
		}
	})
	t.Logf("phase 2: %d MB in total, %d writes in %v", r.written>>20, r.ops-ops0, time.Since(phaseStart).Round(time.Millisecond))
	r.awaitExpiry("phase 2", admin, expired0) // if the writes ended first
	r.verify("phase 2")

	// A checkpoint, then a crash: everything is there. The volatile keys
	// created just before are all on disk only after the restart.
	r.createVol("c", 500, 2500*time.Millisecond)
	if err := admin.Save(r.ctx).Err(); err != nil {
		t.Fatalf("SAVE: %v", err)
	}
	r.notePeak()
	p.Kill9()
	p.Restart()
	r.connect()
	admin = r.dbClient(0)
	r.verify("restart after SAVE and kill -9")
	r.awaitExpiry("restart after SAVE and kill -9", admin, 0)

	r.notePeak()
	if err := p.Stop(); err != nil {
		t.Fatalf("SIGTERM exit: %v\n%s", err, p.Output())
	}
	p.Restart()
	r.connect()
	r.verify("final restart")
	r.notePeak()

	limit := int64(maxmemory*12/10 + 64<<20)
	t.Logf("%d MB written in %d writes, %d reads; %d keys loaded from disk by the checks; peak RSS %.1f MB (limit %.1f MB)",
		r.written>>20, r.ops, r.reads, r.diskLoads, float64(r.peakRSS)/(1<<20), float64(limit)/(1<<20))
	if r.peakRSS == 0 {
		t.Log("peak RSS not measured (no /proc)")
	} else if r.peakRSS > limit {
		t.Errorf("seed %d: peak RSS of lux %.1f MB, over maxmemory x 1.2 + 64 MB = %.1f MB", seed, float64(r.peakRSS)/(1<<20), float64(limit)/(1<<20))
	}
	if r.diskLoads == 0 {
		t.Errorf("no key was loaded from disk: the key space fits in memory and the test checked no cold reads")
	}
}
