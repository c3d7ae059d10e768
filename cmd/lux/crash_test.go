package main

// Durability crash tests: the real lux binary, a real SIGKILL in the middle of
// concurrent writes, a restart on the same --data-dir, and a check of every
// write whose reply the client received against the documented contract of
// the fsync mode.
//
// What a SIGKILL can and cannot show: the kernel's page cache survives the
// death of the process, so these tests prove that an acknowledged write had
// left lux's own buffers (its pending batch and Pebble's user-space WAL
// buffer) by the time it was acknowledged (always) or within the loss window
// (everysec). They do not simulate power loss; that an fsync really happens
// is covered by the storage package's own fsync accounting.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// crashClient returns a go-redis client for p that never retries: a retried
// write after a crash would blur which attempt was acknowledged.
func crashClient(t testing.TB, addr string, db int) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:          addr,
		DB:            db,
		Protocol:      2,
		MaxRetries:    -1,
		PoolSize:      1,
		DialTimeout:   5 * time.Second,
		DialerRetries: 1,
		ReadTimeout:   10 * time.Second,
		WriteTimeout:  10 * time.Second,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// waitExited waits (without sending any signal) until the server process has
// exited by itself, as it must after SHUTDOWN, and returns its exit error.
func waitExited(t testing.TB, p *luxProc, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.waited:
		return p.werr
	case <-time.After(timeout):
		t.Fatalf("lux did not exit within %s\n%s", timeout, p.Output())
		return nil
	}
}

// isServerReply reports whether err is a reply from the server (the command
// was answered, with an error) rather than a failure to get an answer.
func isServerReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, io.EOF)
}

// keyState is one possible state of a key after recovery.
type keyState struct {
	present bool
	val     string
	ttl     bool // has an expiry (all expiries used here are far in the future)
}

func (s keyState) String() string {
	if !s.present {
		return "absent"
	}
	if s.ttl {
		return fmt.Sprintf("%q with TTL", s.val)
	}
	return fmt.Sprintf("%q without TTL", s.val)
}

// crashModel records, for every key a writer touched, the states it may be in
// after recovery: exactly the state after the last acknowledged write, plus
// the states after each later write whose reply never arrived (those may or
// may not have been applied).
type crashModel struct {
	allowed map[string][]keyState
	cur     map[string]keyState // the state if every issued write was applied
	acked   int
}

func newCrashModel() *crashModel {
	return &crashModel{allowed: map[string][]keyState{}, cur: map[string]keyState{}}
}

func (m *crashModel) apply(key string, next keyState, acked bool) {
	if _, ok := m.allowed[key]; !ok {
		m.allowed[key] = []keyState{{}} // never written: absent
	}
	if acked {
		m.allowed[key] = []keyState{next}
		m.acked++
	} else {
		m.allowed[key] = append(m.allowed[key], next)
	}
	m.cur[key] = next
}

// crashOp is one write of the workload together with the state it leads to.
type crashOp struct {
	cmd  redis.Cmder
	key  string
	next keyState
	want int64 // expected integer reply (DEL, EXPIRE, INCR)
}

// crashWriter issues rounds of SET / SET+EXPIRE / SET+DEL / INCR on keys of
// its own until a write fails, recording the outcome of every write. With
// pipeline > 1 it sends that many rounds per pipeline, so that group commit
// of a pipelined batch is covered too. It returns a description of a wrong
// reply, or "" when it stopped because the server went away.
func crashWriter(ctx context.Context, c *redis.Client, w, pipeline int, m *crashModel) string {
	ctr := fmt.Sprintf("crash:%d:ctr", w)
	var n int64
	for round := 0; ; round++ {
		var ops []crashOp
		pipe := c.Pipeline()
		for i := 0; i < pipeline; i++ {
			r := round*pipeline + i
			v := fmt.Sprintf("v%d.%d", w, r)
			a, b, d := fmt.Sprintf("crash:%d:a%d", w, r), fmt.Sprintf("crash:%d:b%d", w, r), fmt.Sprintf("crash:%d:c%d", w, r)
			set := keyState{present: true, val: v}
			withTTL := keyState{present: true, val: v, ttl: true}
			n++
			ops = append(ops,
				crashOp{cmd: pipe.Set(ctx, a, v, 0), key: a, next: set},
				crashOp{cmd: pipe.Set(ctx, b, v, 0), key: b, next: set},
				crashOp{cmd: pipe.Expire(ctx, b, 1000*time.Second), key: b, next: withTTL, want: 1},
				crashOp{cmd: pipe.Set(ctx, d, v, 0), key: d, next: set},
				crashOp{cmd: pipe.Del(ctx, d), key: d, next: keyState{}, want: 1},
				crashOp{cmd: pipe.Incr(ctx, ctr), key: ctr, next: keyState{present: true, val: strconv.FormatInt(n, 10)}, want: n},
			)
		}
		_, _ = pipe.Exec(ctx)
		failed := false
		for _, op := range ops {
			err := op.cmd.Err()
			if err == nil && !failed {
				if ic, ok := op.cmd.(*redis.IntCmd); ok && ic.Val() != op.want {
					return fmt.Sprintf("%s: reply %d, want %d", op.cmd.String(), ic.Val(), op.want)
				}
				m.apply(op.key, op.next, true)
				continue
			}
			if err != nil && isServerReply(err) {
				return fmt.Sprintf("%s: %v", op.cmd.String(), err)
			}
			// No reply: this write and every later one may or may not be applied.
			failed = true
			m.apply(op.key, op.next, false)
		}
		if failed {
			return ""
		}
	}
}

// checkModel reads every key of m from the recovered server and compares it
// with the allowed states.
func checkModel(t *testing.T, c *redis.Client, m *crashModel) {
	t.Helper()
	ctx := context.Background()
	keys := make([]string, 0, len(m.allowed))
	for k := range m.allowed {
		keys = append(keys, k)
	}
	bad := 0
	for start := 0; start < len(keys); start += 500 {
		chunk := keys[start:min(start+500, len(keys))]
		pipe := c.Pipeline()
		gets := make([]*redis.StringCmd, len(chunk))
		ttls := make([]*redis.DurationCmd, len(chunk))
		for i, k := range chunk {
			gets[i] = pipe.Get(ctx, k)
			ttls[i] = pipe.PTTL(ctx, k)
		}
		_, err := pipe.Exec(ctx)
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("reading back: %v", err)
		}
		for i, k := range chunk {
			got := keyState{}
			if v, err := gets[i].Result(); err == nil {
				got = keyState{present: true, val: v, ttl: ttls[i].Val() > 0}
			}
			ok := false
			for _, s := range m.allowed[k] {
				if s == got {
					ok = true
					break
				}
			}
			if !ok {
				bad++
				if bad <= 20 {
					t.Errorf("key %s after recovery: %v (PTTL %v), allowed %v", k, got, ttls[i].Val(), m.allowed[k])
				}
			}
		}
	}
	if bad > 20 {
		t.Errorf("... %d keys wrong in total", bad)
	}
}

// TestCrashAlwaysKeepsAcknowledgedWrites kills lux (appendfsync always) at a
// random moment while several writers are writing and checks that every write
// whose reply arrived survived, deleted keys stay deleted, and writes without
// a reply are either fully there or not at all.
func TestCrashAlwaysKeepsAcknowledgedWrites(t *testing.T) {
	p := startLux(t, "--appendfsync", "always")
	const writers = 6
	models := make([]*crashModel, writers)
	problems := make([]string, writers)
	var acked atomic.Int64
	var wg sync.WaitGroup
	ctx := context.Background()
	for w := 0; w < writers; w++ {
		models[w] = newCrashModel()
		pipeline := 1
		if w%2 == 1 {
			pipeline = 8 // half the writers pipeline 48 commands at a time
		}
		c := crashClient(t, p.Addr, 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Count progress without touching the model from another goroutine.
			c.AddHook(ackCounter{&acked})
			problems[w] = crashWriter(ctx, c, w, pipeline, models[w])
		}()
	}
	// Let the writers get going, then crash at a random moment.
	deadline := time.Now().Add(20 * time.Second)
	for acked.Load() < 300 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(time.Duration(rand.IntN(400)) * time.Millisecond)
	p.Kill9()
	wg.Wait()
	total := 0
	for w := 0; w < writers; w++ {
		if problems[w] != "" {
			t.Fatalf("writer %d: %s", w, problems[w])
		}
		total += models[w].acked
	}
	if total == 0 {
		t.Fatal("no write was acknowledged before the kill; the test checked nothing")
	}
	t.Logf("%d acknowledged writes before kill -9", total)

	p.Restart()
	c := crashClient(t, p.Addr, 0)
	for w := 0; w < writers; w++ {
		checkModel(t, c, models[w])
	}
}

// ackCounter is a go-redis hook that counts replies, so the test can wait for
// progress without reading the writers' models concurrently.
type ackCounter struct{ n *atomic.Int64 }

func (h ackCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h ackCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err == nil {
			h.n.Add(1)
		}
		return err
	}
}

func (h ackCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err == nil {
			h.n.Add(int64(len(cmds)))
		}
		return err
	}
}

// everysecMargin is how long before a crash a write must have been
// acknowledged to be guaranteed in everysec mode. The documented loss window
// is about one second: lux hands writes to Pebble every few milliseconds and
// fsyncs the WAL once a second. The extra 0.5 s covers the duration of that
// fsync and scheduling delays of the sync ticker on a loaded 2-core machine.
const everysecMargin = 1500 * time.Millisecond

// TestCrashEverysecLossWindow kills lux (appendfsync everysec) while writers
// are writing and checks that every write acknowledged more than
// everysecMargin before the kill survived, and that whatever survived of the
// later writes has the value that was written.
func TestCrashEverysecLossWindow(t *testing.T) {
	p := startLux(t, "--appendfsync", "everysec")
	const writers = 4
	type ack struct {
		key, val string
		at       time.Time
	}
	acks := make([][]ack, writers)
	var wg sync.WaitGroup
	var stop atomic.Bool
	ctx := context.Background()
	// Writers first write as fast as they can for burst, then trickle one SET
	// every trickle each. A fast stream fills Pebble's 32 KiB WAL blocks, which
	// reach the kernel without any sync, so only the trickle (about 80 small
	// writes a second, a few KiB) shows whether the everysec sync really runs.
	const burst, trickle = time.Second, 50 * time.Millisecond
	began := time.Now()
	for w := 0; w < writers; w++ {
		c := crashClient(t, p.Addr, 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := 1 + w*5 // 1, 6, 11, 16 SETs per round trip
			for i := 0; !stop.Load(); i += batch {
				if time.Since(began) > burst {
					// The trickle phase: too few bytes to fill a WAL block,
					// so only the once-a-second sync can save these writes.
					batch = 1
					time.Sleep(trickle)
				}
				pipe := c.Pipeline()
				cmds := make([]*redis.StatusCmd, batch)
				for j := range cmds {
					cmds[j] = pipe.Set(ctx, fmt.Sprintf("es:%d:%d", w, i+j), fmt.Sprintf("v%d.%d", w, i+j), 0)
				}
				_, _ = pipe.Exec(ctx)
				now := time.Now()
				for j, cmd := range cmds {
					if cmd.Err() != nil {
						return
					}
					acks[w] = append(acks[w], ack{fmt.Sprintf("es:%d:%d", w, i+j), fmt.Sprintf("v%d.%d", w, i+j), now})
				}
			}
		}()
	}
	// Crash at a random moment 2.7 to 3.4 s after the start: the last ~1 s of
	// the trickle is then older than the margin.
	time.Sleep(time.Until(began.Add(2700*time.Millisecond + time.Duration(rand.IntN(700))*time.Millisecond)))
	killAt := time.Now()
	p.Kill9()
	stop.Store(true)
	wg.Wait()

	p.Restart()
	c := crashClient(t, p.Addr, 0)
	cutoff := killAt.Add(-everysecMargin)
	must, mustTrickle, lost, later, laterKept := 0, 0, 0, 0, 0
	for w := 0; w < writers; w++ {
		for start := 0; start < len(acks[w]); start += 500 {
			chunk := acks[w][start:min(start+500, len(acks[w]))]
			pipe := c.Pipeline()
			gets := make([]*redis.StringCmd, len(chunk))
			for i, a := range chunk {
				gets[i] = pipe.Get(ctx, a.key)
			}
			if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
				t.Fatalf("reading back: %v", err)
			}
			for i, a := range chunk {
				v, err := gets[i].Result()
				if err == nil && v != a.val {
					t.Errorf("key %s recovered with value %q, written %q", a.key, v, a.val)
				}
				if a.at.Before(cutoff) {
					must++
					if a.at.Sub(began) > burst+trickle {
						mustTrickle++
					}
					if err != nil {
						lost++
						if lost <= 10 {
							t.Errorf("key %s acknowledged %v before the kill is missing after restart (%v)",
								a.key, killAt.Sub(a.at).Round(time.Millisecond), err)
						}
					}
				} else {
					later++
					if err == nil {
						laterKept++
					}
				}
			}
		}
	}
	if mustTrickle == 0 {
		t.Fatalf("no trickle write was acknowledged more than %s before the kill; the test checked nothing", everysecMargin)
	}
	if lost > 0 {
		t.Errorf("%d of %d writes older than %s lost", lost, must, everysecMargin)
	}
	t.Logf("%d writes (%d of the trickle) older than %s checked; %d of %d later writes survived",
		must, mustTrickle, everysecMargin, laterKept, later)
}

// TestCrashTTLIsAbsolute checks that expiry deadlines survive a crash as
// absolute times: a key whose deadline passed while lux was down is gone, a
// key whose deadline passes after the restart expires on time, and a long TTL
// continues to count down from where it was instead of starting over.
func TestCrashTTLIsAbsolute(t *testing.T) {
	p := startLux(t, "--appendfsync", "always")
	c := crashClient(t, p.Addr, 0)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Deadlines are measured from the moment each reply arrived, which is
	// after the server computed them.
	must(c.Set(ctx, "ttl:short", "s", 1500*time.Millisecond).Err())
	shortDeadline := time.Now().Add(1500 * time.Millisecond)
	must(c.Set(ctx, "ttl:mid", "m", 3000*time.Millisecond).Err())
	midDeadline := time.Now().Add(3000 * time.Millisecond)
	must(c.Set(ctx, "ttl:long", "l", 1000*time.Second).Err())
	must(c.Set(ctx, "ttl:expire", "e", 0).Err())
	must(c.Expire(ctx, "ttl:expire", 2000*time.Second).Err())
	must(c.Set(ctx, "ttl:persist", "p", 1000*time.Second).Err())
	must(c.Persist(ctx, "ttl:persist").Err())
	must(c.Set(ctx, "ttl:keepttl", "k1", 1000*time.Second).Err())
	must(c.Set(ctx, "ttl:keepttl", "k2", 0).Err()) // a plain SET clears the TTL
	tb0 := time.Now()
	before, err := c.PTTL(ctx, "ttl:long").Result()
	tb1 := time.Now()
	must(err)

	p.Kill9()
	// Stay down until ttl:short's deadline has passed.
	time.Sleep(time.Until(shortDeadline.Add(100 * time.Millisecond)))
	p.Restart()
	c = crashClient(t, p.Addr, 0)

	n, err := c.Exists(ctx, "ttl:short").Result()
	must(err)
	if n != 0 {
		t.Errorf("ttl:short (PX 1500) exists after its deadline passed during the downtime")
	}
	if _, err := c.Get(ctx, "ttl:short").Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET ttl:short after its deadline: %v, want nil", err)
	}

	ta0 := time.Now()
	after, err := c.PTTL(ctx, "ttl:long").Result()
	ta1 := time.Now()
	must(err)
	// The deadline D is in [tb0+before, tb1+before]; PTTL after the restart is
	// D minus the server's clock at some moment in [ta0, ta1].
	lo := tb0.Add(before).Sub(ta1) - 5*time.Millisecond
	hi := tb1.Add(before).Sub(ta0) + 5*time.Millisecond
	if after < lo || after > hi {
		t.Errorf("ttl:long PTTL %v before the crash, %v after (%v later); want %v..%v (same absolute deadline)",
			before, after, ta0.Sub(tb1).Round(time.Millisecond), lo, hi)
	}
	if d, err := c.PTTL(ctx, "ttl:expire").Result(); err != nil || d <= 1000*time.Second || d > 2000*time.Second {
		t.Errorf("ttl:expire PTTL after restart = %v, %v; want about 2000s", d, err)
	}
	if d, err := c.PTTL(ctx, "ttl:persist").Result(); err != nil || d != -1 {
		t.Errorf("ttl:persist PTTL after restart = %v, %v; want -1 (PERSIST before the crash)", d, err)
	}
	if v, err := c.Get(ctx, "ttl:keepttl").Result(); err != nil || v != "k2" {
		t.Errorf("ttl:keepttl = %q, %v; want k2", v, err)
	}
	if d, err := c.PTTL(ctx, "ttl:keepttl").Result(); err != nil || d != -1 {
		t.Errorf("ttl:keepttl PTTL after restart = %v, %v; want -1 (plain SET cleared the TTL)", d, err)
	}

	// ttl:mid's deadline is after the restart: it must expire on schedule.
	time.Sleep(time.Until(midDeadline.Add(50 * time.Millisecond)))
	if n, err := c.Exists(ctx, "ttl:mid").Result(); err != nil || n != 0 {
		t.Errorf("ttl:mid (PX 3000) EXISTS after its deadline = %d, %v; want 0", n, err)
	}
	if _, err := c.Get(ctx, "ttl:mid").Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET ttl:mid after its deadline: %v, want nil", err)
	}
}

// TestCrashNoResurrection checks that deletions survive a crash: keys deleted
// with DEL, overwritten values and everything removed by FLUSHALL stay gone
// after kill -9 and restart, also when the deleted data came from an earlier
// run (and so lives in Pebble's tables rather than only in the last WAL).
func TestCrashNoResurrection(t *testing.T) {
	p := startLux(t, "--appendfsync", "always")
	ctx := context.Background()
	const n = 300
	fill := func(db int, prefix string, count int) {
		t.Helper()
		c := crashClient(t, p.Addr, db)
		pipe := c.Pipeline()
		for i := 0; i < count; i++ {
			pipe.Set(ctx, fmt.Sprintf("%s%d", prefix, i), "old", 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	fill(0, "g1:", n)
	fill(1, "g1:", n)
	if err := p.Stop(); err != nil {
		t.Fatalf("SIGTERM exit: %v\n%s", err, p.Output())
	}
	p.Restart()

	// Second run: delete and overwrite data written by the first run, then crash.
	c := crashClient(t, p.Addr, 0)
	pipe := c.Pipeline()
	for i := 0; i < n; i += 2 {
		pipe.Del(ctx, fmt.Sprintf("g1:%d", i))
	}
	for i := 1; i < n; i += 4 {
		pipe.Set(ctx, fmt.Sprintf("g1:%d", i), "new", 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	p.Kill9()
	p.Restart()

	c = crashClient(t, p.Addr, 0)
	for i := 0; i < n; i++ {
		v, err := c.Get(ctx, fmt.Sprintf("g1:%d", i)).Result()
		switch {
		case i%2 == 0:
			if !errors.Is(err, redis.Nil) {
				t.Errorf("g1:%d deleted before the crash is back: %q %v", i, v, err)
			}
		case i%4 == 1:
			if err != nil || v != "new" {
				t.Errorf("g1:%d overwritten before the crash = %q, %v; want new", i, v, err)
			}
		default:
			if err != nil || v != "old" {
				t.Errorf("g1:%d = %q, %v; want old", i, v, err)
			}
		}
	}
	if sz, err := c.DBSize(ctx).Result(); err != nil || sz != n/2 {
		t.Errorf("DBSIZE db 0 after crash = %d, %v; want %d", sz, err, n/2)
	}

	// Third run: FLUSHALL, a few new keys, crash; only the new keys may exist.
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	fill(0, "g3:", 10)
	fill(2, "g3:", 5)
	p.Kill9()
	for run := 0; run < 2; run++ { // a second restart must not bring anything back either
		p.Restart()
		for db, want := range map[int]int64{0: 10, 1: 0, 2: 5} {
			c := crashClient(t, p.Addr, db)
			if sz, err := c.DBSize(ctx).Result(); err != nil || sz != want {
				t.Errorf("restart %d: DBSIZE db %d = %d, %v; want %d (FLUSHALL before the crash)", run+1, db, sz, err, want)
			}
			if v, err := c.Get(ctx, "g1:1").Result(); !errors.Is(err, redis.Nil) {
				t.Errorf("restart %d: db %d g1:1 = %q, %v after FLUSHALL; want nil", run+1, db, v, err)
			}
			if db != 1 {
				if v, err := c.Get(ctx, "g3:3").Result(); err != nil || v != "old" {
					t.Errorf("restart %d: db %d g3:3 = %q, %v; want old", run+1, db, v, err)
				}
			}
		}
		p.Kill9()
	}
}

// TestCleanShutdownKeepsEverything stops lux right after a burst of writes,
// with SIGTERM and with the SHUTDOWN command, in every fsync mode, and checks
// that everything is there after the restart.
func TestCleanShutdownKeepsEverything(t *testing.T) {
	for _, mode := range []string{"always", "everysec", "no"} {
		for _, how := range []string{"SIGTERM", "SHUTDOWN"} {
			t.Run(mode+"/"+how, func(t *testing.T) {
				p := startLux(t, "--appendfsync", mode)
				ctx := context.Background()
				c := crashClient(t, p.Addr, 0)
				c3 := crashClient(t, p.Addr, 3)
				const n = 2000
				pipe := c.Pipeline()
				for i := 0; i < n; i++ {
					pipe.Set(ctx, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i), 0)
				}
				for i := 0; i < 100; i++ {
					pipe.Incr(ctx, "ctr")
					pipe.Del(ctx, fmt.Sprintf("k%d", i))
					pipe.Expire(ctx, fmt.Sprintf("k%d", 100+i), 1000*time.Second)
				}
				if _, err := pipe.Exec(ctx); err != nil {
					t.Fatal(err)
				}
				if err := c3.Set(ctx, "other-db", "x", 0).Err(); err != nil {
					t.Fatal(err)
				}

				switch how {
				case "SIGTERM":
					if err := p.Stop(); err != nil {
						t.Fatalf("exit after SIGTERM: %v\n%s", err, p.Output())
					}
				case "SHUTDOWN":
					r := dialRESP(t, p.Addr)
					r.Send("SHUTDOWN")
					if reply, err := r.TryReply(); err == nil {
						t.Fatalf("SHUTDOWN replied %q; want the connection closed", reply)
					}
					if err := waitExited(t, p, startTimeout); err != nil {
						t.Fatalf("exit after SHUTDOWN: %v\n%s", err, p.Output())
					}
				}
				p.Restart()

				c = crashClient(t, p.Addr, 0)
				pipe = c.Pipeline()
				gets := make([]*redis.StringCmd, n)
				for i := range gets {
					gets[i] = pipe.Get(ctx, fmt.Sprintf("k%d", i))
				}
				ttl := pipe.PTTL(ctx, "k150")
				noTTL := pipe.PTTL(ctx, "k250")
				ctr := pipe.Get(ctx, "ctr")
				if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
					t.Fatal(err)
				}
				bad := 0
				for i, g := range gets {
					v, err := g.Result()
					want := fmt.Sprintf("v%d", i)
					if i < 100 {
						if !errors.Is(err, redis.Nil) {
							bad++
							t.Errorf("k%d deleted before shutdown = %q, %v; want nil", i, v, err)
						}
					} else if err != nil || v != want {
						bad++
						t.Errorf("k%d = %q, %v; want %q", i, v, err, want)
					}
					if bad > 10 {
						t.Fatal("too many wrong keys")
					}
				}
				if d := ttl.Val(); d <= 900*time.Second || d > 1000*time.Second {
					t.Errorf("k150 PTTL after restart = %v; want about 1000s", d)
				}
				if d := noTTL.Val(); d != -1 {
					t.Errorf("k250 PTTL after restart = %v; want -1", d)
				}
				if v, err := ctr.Result(); err != nil || v != "100" {
					t.Errorf("ctr = %q, %v; want 100", v, err)
				}
				if v, err := crashClient(t, p.Addr, 3).Get(ctx, "other-db").Result(); err != nil || v != "x" {
					t.Errorf("db 3 other-db = %q, %v; want x", v, err)
				}
			})
		}
	}
}
