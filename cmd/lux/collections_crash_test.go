package main

// Crash tests for the collection types (list, hash, set, sorted set): the
// real lux binary under --appendfsync always, a SIGKILL while clients mutate
// collections element by element, a restart on the same --data-dir, and a
// check that every acknowledged element-level change survived, that moves
// between keys are atomic, and that elements handed to blocked clients are
// not resurrected.

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

// collKinds are the collection types the writers mutate, one key prefix each.
var collKinds = []string{"list", "hash", "set", "zset"}

// collState is the model of one collection key. Only the field matching the
// key's kind is used; an empty collection is the same as an absent key.
type collState struct {
	list []string
	hash map[string]string
	set  map[string]bool
	zset map[string]float64
}

func (s collState) clone() collState {
	n := collState{list: append([]string(nil), s.list...)}
	if s.hash != nil {
		n.hash = make(map[string]string, len(s.hash))
		for k, v := range s.hash {
			n.hash[k] = v
		}
	}
	if s.set != nil {
		n.set = make(map[string]bool, len(s.set))
		for k := range s.set {
			n.set[k] = true
		}
	}
	if s.zset != nil {
		n.zset = make(map[string]float64, len(s.zset))
		for k, v := range s.zset {
			n.zset[k] = v
		}
	}
	return n
}

// canon renders s in the same form as readCanon renders the server's view of
// a key of the given kind, so the two can be compared as strings.
func (s collState) canon(kind string) string {
	var parts []string
	switch kind {
	case "list":
		parts = append(parts, s.list...)
	case "hash":
		for f, v := range s.hash {
			parts = append(parts, f+"="+v)
		}
		sort.Strings(parts)
	case "set":
		for m := range s.set {
			parts = append(parts, m)
		}
		sort.Strings(parts)
	case "zset":
		for m, sc := range s.zset {
			parts = append(parts, m+":"+strconv.FormatFloat(sc, 'g', -1, 64))
		}
		sort.Strings(parts)
	}
	return strings.Join(parts, ",")
}

// killWhileWriting runs write for writers 0..n-1 at once, each with a
// client of its own whose acknowledged commands are counted, until minAcked
// commands were acknowledged (20 s at most) and then a random moment up to
// jitter more; it kills lux with SIGKILL there and returns once every
// writer has stopped.
func killWhileWriting(t *testing.T, p *luxProc, n int, minAcked int64, jitter time.Duration, write func(i int, c *redis.Client, rng *rand.Rand)) {
	t.Helper()
	var acked atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		c := crashClient(t, p.Addr, 0)
		c.AddHook(ackCounter{&acked})
		rng := rand.New(rand.NewPCG(rand.Uint64(), uint64(i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			write(i, c, rng)
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for acked.Load() < minAcked && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(time.Duration(rand.Int64N(int64(jitter))))
	p.Kill9()
	wg.Wait()
}

// readCanon reads a key of the given kind from the server in canonical form.
func readCanon(ctx context.Context, c *redis.Client, kind, key string) (string, error) {
	var parts []string
	switch kind {
	case "list":
		v, err := c.LRange(ctx, key, 0, -1).Result()
		if err != nil {
			return "", err
		}
		parts = v
	case "hash":
		v, err := c.HGetAll(ctx, key).Result()
		if err != nil {
			return "", err
		}
		for f, x := range v {
			parts = append(parts, f+"="+x)
		}
		sort.Strings(parts)
	case "set":
		v, err := c.SMembers(ctx, key).Result()
		if err != nil {
			return "", err
		}
		parts = v
		sort.Strings(parts)
	case "zset":
		v, err := c.ZRangeWithScores(ctx, key, 0, -1).Result()
		if err != nil {
			return "", err
		}
		for _, z := range v {
			parts = append(parts, z.Member.(string)+":"+strconv.FormatFloat(z.Score, 'g', -1, 64))
		}
		sort.Strings(parts)
	}
	return strings.Join(parts, ","), nil
}

// collWriter mutates its own keys one command at a time (no pipelining, so at
// most one command is in flight when the server dies) and keeps the model of
// every key after all acknowledged commands.
type collWriter struct {
	id    int
	keys  map[string]string    // key -> kind
	state map[string]collState // after every acknowledged command
	acked int
	// inflightKey/inflight: the command whose reply never arrived and the
	// state its key would have had it been applied.
	inflightKey string
	inflight    collState
	problem     string // a wrong reply, if any
}

func newCollWriter(w int) *collWriter {
	cw := &collWriter{id: w, keys: map[string]string{}, state: map[string]collState{}}
	for _, kind := range collKinds {
		for i := 0; i < 3; i++ {
			k := fmt.Sprintf("cc:%d:%s%d", w, kind, i)
			cw.keys[k] = kind
			cw.state[k] = collState{}
		}
	}
	return cw
}

// run issues random element-level writes until one gets no reply.
func (cw *collWriter) run(ctx context.Context, c *redis.Client, rng *rand.Rand) {
	keys := make([]string, 0, len(cw.keys))
	for k := range cw.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for n := 0; ; n++ {
		key := keys[rng.IntN(len(keys))]
		kind := cw.keys[key]
		cur := cw.state[key]
		next := cur.clone()
		elem := fmt.Sprintf("e%d", rng.IntN(12)) // small domain: removals hit
		val := fmt.Sprintf("v%d.%d", cw.id, n)
		grow := rng.IntN(3) > 0 // grow twice as often as shrink
		var cmd redis.Cmder
		var want string
		switch kind {
		case "list":
			if grow {
				next.list = append(next.list, val)
				cmd = c.RPush(ctx, key, val)
				want = strconv.Itoa(len(next.list))
			} else {
				if len(next.list) > 0 {
					want = next.list[0]
					next.list = next.list[1:]
				} else {
					want = "(nil)"
				}
				cmd = c.LPop(ctx, key)
			}
		case "hash":
			if next.hash == nil {
				next.hash = map[string]string{}
			}
			_, had := next.hash[elem]
			if grow {
				next.hash[elem] = val
				cmd = c.HSet(ctx, key, elem, val)
				want = strconv.Itoa(map[bool]int{true: 0, false: 1}[had])
			} else {
				delete(next.hash, elem)
				cmd = c.HDel(ctx, key, elem)
				want = strconv.Itoa(map[bool]int{true: 1, false: 0}[had])
			}
		case "set":
			if next.set == nil {
				next.set = map[string]bool{}
			}
			had := next.set[elem]
			if grow {
				next.set[elem] = true
				cmd = c.SAdd(ctx, key, elem)
				want = strconv.Itoa(map[bool]int{true: 0, false: 1}[had])
			} else {
				delete(next.set, elem)
				cmd = c.SRem(ctx, key, elem)
				want = strconv.Itoa(map[bool]int{true: 1, false: 0}[had])
			}
		case "zset":
			if next.zset == nil {
				next.zset = map[string]float64{}
			}
			_, had := next.zset[elem]
			if grow {
				sc := float64(n) + 0.5
				next.zset[elem] = sc
				cmd = c.ZAdd(ctx, key, redis.Z{Score: sc, Member: elem})
				want = strconv.Itoa(map[bool]int{true: 0, false: 1}[had])
			} else {
				delete(next.zset, elem)
				cmd = c.ZRem(ctx, key, elem)
				want = strconv.Itoa(map[bool]int{true: 1, false: 0}[had])
			}
		}
		err := cmd.Err()
		if err == redis.Nil {
			err = nil
		}
		if err != nil {
			if isServerReply(err) {
				cw.problem = fmt.Sprintf("%s: %v", cmd.String(), err)
				return
			}
			// No reply: the command may or may not have been applied.
			cw.inflightKey, cw.inflight = key, next
			return
		}
		var got string
		switch r := cmd.(type) {
		case *redis.IntCmd:
			got = strconv.FormatInt(r.Val(), 10)
		case *redis.StringCmd:
			if r.Err() == redis.Nil {
				got = "(nil)"
			} else {
				got = r.Val()
			}
		}
		if got != want {
			cw.problem = fmt.Sprintf("%s: reply %s, want %s", cmd.String(), got, want)
			return
		}
		cw.state[key] = next
		cw.acked++
	}
}

// TestCrashCollectionsAlways kills lux (appendfsync always) while writers
// push/pop, add/remove fields, members and scored members, and checks that
// every collection recovers to the state after all acknowledged commands
// (or, for the one key of a command without a reply, after that command).
func TestCrashCollectionsAlways(t *testing.T) {
	p := startLux(t, "--appendfsync", "always")
	const writers = 6
	ws := make([]*collWriter, writers)
	ctx := context.Background()
	for w := range ws {
		ws[w] = newCollWriter(w)
	}
	killWhileWriting(t, p, writers, 500, 400*time.Millisecond, func(w int, c *redis.Client, rng *rand.Rand) {
		ws[w].run(ctx, c, rng)
	})
	total := 0
	for _, cw := range ws {
		if cw.problem != "" {
			t.Fatalf("writer %d: %s", cw.id, cw.problem)
		}
		total += cw.acked
	}
	if total == 0 {
		t.Fatal("no write was acknowledged before the kill; the test checked nothing")
	}
	t.Logf("%d acknowledged collection writes before kill -9", total)

	p.Restart()
	c := crashClient(t, p.Addr, 0)
	for _, cw := range ws {
		for key, kind := range cw.keys {
			got, err := readCanon(ctx, c, kind, key)
			if err != nil {
				t.Fatalf("reading %s: %v", key, err)
			}
			want := cw.state[key].canon(kind)
			if got == want {
				continue
			}
			if key == cw.inflightKey && got == cw.inflight.canon(kind) {
				continue // the unanswered command was applied: allowed
			}
			alt := ""
			if key == cw.inflightKey {
				alt = fmt.Sprintf(" (or, with the unanswered command, [%s])", cw.inflight.canon(kind))
			}
			t.Errorf("%s %s after recovery: [%s], want [%s]%s", kind, key, got, want, alt)
		}
	}
}

// TestCrashMovesAreAtomic kills lux while clients shuttle a fixed population
// of elements between two lists (LMOVE) and between two sets (SMOVE), and
// checks that after recovery every element is in exactly one of the two keys:
// a move is never half applied.
func TestCrashMovesAreAtomic(t *testing.T) {
	p := startLux(t, "--appendfsync", "always")
	ctx := context.Background()
	const population = 200
	setup := crashClient(t, p.Addr, 0)
	elems := make([]interface{}, population)
	for i := range elems {
		elems[i] = fmt.Sprintf("m%03d", i)
	}
	// Start with the population split between the two keys of each pair.
	if err := setup.RPush(ctx, "mv:la", elems[:population/2]...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := setup.RPush(ctx, "mv:lb", elems[population/2:]...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := setup.SAdd(ctx, "mv:sa", elems[:population/2]...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := setup.SAdd(ctx, "mv:sb", elems[population/2:]...).Err(); err != nil {
		t.Fatal(err)
	}

	var moves atomic.Int64
	var wg sync.WaitGroup
	problems := make([]string, 4)
	mover := func(i int, move func(c *redis.Client, rng *rand.Rand) error) {
		c := crashClient(t, p.Addr, 0)
		rng := rand.New(rand.NewPCG(rand.Uint64(), uint64(i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				err := move(c, rng)
				if err == redis.Nil {
					err = nil // source list momentarily empty
				}
				if err != nil {
					if isServerReply(err) {
						problems[i] = err.Error()
					}
					return
				}
				moves.Add(1)
			}
		}()
	}
	sides := []string{"LEFT", "RIGHT"}
	mover(0, func(c *redis.Client, rng *rand.Rand) error {
		return c.LMove(ctx, "mv:la", "mv:lb", sides[rng.IntN(2)], sides[rng.IntN(2)]).Err()
	})
	mover(1, func(c *redis.Client, rng *rand.Rand) error {
		return c.LMove(ctx, "mv:lb", "mv:la", sides[rng.IntN(2)], sides[rng.IntN(2)]).Err()
	})
	mover(2, func(c *redis.Client, rng *rand.Rand) error {
		return c.SMove(ctx, "mv:sa", "mv:sb", elems[rng.IntN(population)]).Err()
	})
	mover(3, func(c *redis.Client, rng *rand.Rand) error {
		return c.SMove(ctx, "mv:sb", "mv:sa", elems[rng.IntN(population)]).Err()
	})
	deadline := time.Now().Add(20 * time.Second)
	for moves.Load() < 1000 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(time.Duration(rand.IntN(400)) * time.Millisecond)
	p.Kill9()
	wg.Wait()
	for i, pr := range problems {
		if pr != "" {
			t.Fatalf("mover %d: %s", i, pr)
		}
	}
	t.Logf("%d moves before kill -9", moves.Load())

	p.Restart()
	c := crashClient(t, p.Addr, 0)
	check := func(what string, a, b []string) {
		t.Helper()
		count := map[string]int{}
		for _, e := range append(a, b...) {
			count[e]++
		}
		for _, e := range elems {
			if n := count[e.(string)]; n != 1 {
				t.Errorf("%s: element %s present %d times after recovery, want exactly once", what, e, n)
			}
			delete(count, e.(string))
		}
		for e := range count {
			t.Errorf("%s: unexpected element %q after recovery", what, e)
		}
	}
	la, err := c.LRange(ctx, "mv:la", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	lb, err := c.LRange(ctx, "mv:lb", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	check("lists", la, lb)
	sa, err := c.SMembers(ctx, "mv:sa").Result()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.SMembers(ctx, "mv:sb").Result()
	if err != nil {
		t.Fatal(err)
	}
	check("sets", sa, sb)
}

// TestCrashBlockedPopServed serves a client blocked in BLMOVE and one blocked
// in BLPOP, kills lux after both received their element, and checks that the
// served elements stay consumed after recovery: gone from the source, and
// (for BLMOVE) present in the destination.
func TestCrashBlockedPopServed(t *testing.T) {
	p := startLux(t, "--appendfsync", "always")
	ctx := context.Background()
	c := crashClient(t, p.Addr, 0)

	mover := dialRESP(t, p.Addr)
	popper := dialRESP(t, p.Addr)
	mover.Send("BLMOVE", "bp:src", "bp:dst", "LEFT", "RIGHT", "0")
	popper.Send("BLPOP", "bp:q", "0")
	// Push only once both are blocked, so they are served by the push
	// (the blocked path) rather than finding the element already there.
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := c.Info(ctx, "clients").Result()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(info, "blocked_clients:2\r\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("clients did not block within 20s:\n%s", info)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// src gets exactly the one element BLMOVE takes (so the key must be gone
	// after recovery); q gets two, of which BLPOP takes the first.
	if err := c.RPush(ctx, "bp:src", "x1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.RPush(ctx, "bp:q", "y1", "y2").Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := mover.Reply(), "$2\r\nx1\r\n"; got != want {
		t.Fatalf("BLMOVE reply %q, want %q", got, want)
	}
	if got, want := popper.Reply(), "*2\r\n$4\r\nbp:q\r\n$2\r\ny1\r\n"; got != want {
		t.Fatalf("BLPOP reply %q, want %q", got, want)
	}
	p.Kill9()

	p.Restart()
	c = crashClient(t, p.Addr, 0)
	if n, err := c.Exists(ctx, "bp:src").Result(); err != nil || n != 0 {
		src, _ := c.LRange(ctx, "bp:src", 0, -1).Result()
		t.Errorf("bp:src after recovery: exists=%d err=%v contents %q; want absent (its only element was moved)", n, err, src)
	}
	if dst, err := c.LRange(ctx, "bp:dst", 0, -1).Result(); err != nil || strings.Join(dst, ",") != "x1" {
		t.Errorf("bp:dst after recovery: %q (err %v), want [x1]", dst, err)
	}
	if q, err := c.LRange(ctx, "bp:q", 0, -1).Result(); err != nil || strings.Join(q, ",") != "y2" {
		t.Errorf("bp:q after recovery: %q (err %v), want [y2] (y1 was popped)", q, err)
	}
}
