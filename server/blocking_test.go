package server

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// waitBlocked waits until exactly n clients are parked in blocking commands.
func waitBlocked(t *testing.T, ts *testServer, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for ts.srv.blockedClients() != n {
		if time.Now().After(deadline) {
			t.Fatalf("blocked clients: got %d, want %d", ts.srv.blockedClients(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func bulkPair(a, b string) string {
	return fmt.Sprintf("*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(a), a, len(b), b)
}

func bulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

func TestBlockFIFOOrderOfThreeWaiters(t *testing.T) {
	ts := startServer(t, "")
	var waiters []*rawConn
	for i := 0; i < 3; i++ {
		w := ts.raw(t)
		w.send("BLPOP", "k", "0")
		waitBlocked(t, ts, i+1)
		waiters = append(waiters, w)
	}
	r := ts.raw(t)
	require.Equal(t, ":3\r\n", r.do("RPUSH", "k", "a", "b", "c"))
	// as in Redis, the pusher's reply comes after the waiters were served
	require.Equal(t, ":0\r\n", r.do("EXISTS", "k"))
	for i, w := range waiters {
		require.Equal(t, bulkPair("k", string(rune('a'+i))), w.reply(), "waiter %d", i)
	}
	waitBlocked(t, ts, 0)
}

func TestBlockServedByVariadicPushKeepsRest(t *testing.T) {
	ts := startServer(t, "")
	w := ts.raw(t)
	w.send("BLPOP", "blist", "0")
	waitBlocked(t, ts, 1)
	r := ts.raw(t)
	require.Equal(t, ":2\r\n", r.do("LPUSH", "blist", "foo", "bar"))
	require.Equal(t, bulkPair("blist", "bar"), w.reply())
	require.Equal(t, "*1\r\n"+bulk("foo"), r.do("LRANGE", "blist", "0", "-1"))
}

func TestBlockTimeouts(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	for _, cmd := range [][]string{
		{"BLPOP", "k", "0.05"},
		{"BRPOP", "k", "k2", "0.01"},
		{"BLMPOP", "0.02", "2", "k", "k2", "LEFT"},
		{"BLMOVE", "k", "d", "LEFT", "RIGHT", "0.03"},
		{"BRPOPLPUSH", "k", "d", "0.001"},
	} {
		require.Equal(t, "*-1\r\n", r.do(cmd...), "%v", cmd)
		require.Equal(t, 0, ts.srv.blockedClients())
	}
	// the connection is usable afterwards and nothing was created
	require.Equal(t, "+PONG\r\n", r.do("PING"))
	require.Equal(t, ":0\r\n", r.do("EXISTS", "d"))
}

func TestBlockTimeoutErrors(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, "-"+msgTimeoutNeg+"\r\n", r.do("BLPOP", "k", "-0.5"))
	require.Equal(t, "-"+msgTimeoutNotFloat+"\r\n", r.do("BLPOP", "k", "1x"))
	require.Equal(t, "-"+msgTimeoutNotFloat+"\r\n", r.do("BLMOVE", "k", "d", "LEFT", "LEFT", "inf"))
	require.Equal(t, 0, ts.srv.blockedClients())
}

func TestBlockWakeFromMultiExec(t *testing.T) {
	ts := startServer(t, "")
	w := ts.raw(t)
	w.send("BLPOP", "blist", "0")
	waitBlocked(t, ts, 1)
	r := ts.raw(t)
	r.do("MULTI")
	r.do("LPUSH", "blist", "a")
	r.do("LPUSH", "blist", "b")
	r.do("LPUSH", "blist", "c")
	require.Equal(t, "*3\r\n:1\r\n:2\r\n:3\r\n", r.do("EXEC"))
	// the waiter saw the transaction as a whole
	require.Equal(t, bulkPair("blist", "c"), w.reply())
	require.Equal(t, ":2\r\n", r.do("LLEN", "blist"))
}

func TestBlockPushAndDeleteInMultiDoesNotWake(t *testing.T) {
	ts := startServer(t, "")
	w := ts.raw(t)
	w.send("BLPOP", "list", "0")
	waitBlocked(t, ts, 1)
	r := ts.raw(t)
	r.do("MULTI")
	r.do("LPUSH", "list", "a")
	r.do("DEL", "list")
	r.do("EXEC")
	require.Equal(t, 1, ts.srv.blockedClients())
	r.do("LPUSH", "list", "b")
	require.Equal(t, bulkPair("list", "b"), w.reply())
}

func TestBlockInsideMultiRepliesAtOnce(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.do("RPUSH", "x", "1")
	r.do("MULTI")
	for _, cmd := range [][]string{
		{"BLPOP", "x", "0"}, {"BLPOP", "x", "0"}, {"BLMPOP", "0", "1", "x", "LEFT"},
		{"BLMOVE", "x", "y", "LEFT", "LEFT", "0"}, {"BRPOPLPUSH", "x", "y", "0"},
	} {
		require.Equal(t, "+QUEUED\r\n", r.do(cmd...))
	}
	require.Equal(t, "*5\r\n"+bulkPair("x", "1")+"*-1\r\n*-1\r\n$-1\r\n$-1\r\n", r.do("EXEC"))
	require.Equal(t, 0, ts.srv.blockedClients())
}

func TestBlockFirstNonEmptyKeyInArgumentOrder(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.do("RPUSH", "k2", "two")
	r.do("RPUSH", "k3", "three")
	require.Equal(t, bulkPair("k2", "two"), r.do("BLPOP", "k1", "k2", "k3", "0"))

	w := ts.raw(t)
	w.send("BRPOP", "a", "b", "b", "a", "0")
	waitBlocked(t, ts, 1)
	r.do("RPUSH", "b", "x")
	require.Equal(t, bulkPair("b", "x"), w.reply())
}

func TestBlockDisconnectDoesNotLoseElement(t *testing.T) {
	ts := startServer(t, "")
	gone := ts.raw(t)
	gone.send("BLPOP", "k", "0")
	waitBlocked(t, ts, 1)
	second := ts.raw(t)
	second.send("BLPOP", "k", "0")
	waitBlocked(t, ts, 2)
	require.NoError(t, gone.c.Close())
	waitBlocked(t, ts, 1)

	r := ts.raw(t)
	r.do("RPUSH", "k", "x", "y")
	require.Equal(t, bulkPair("k", "x"), second.reply())
	require.Equal(t, "*1\r\n"+bulk("y"), r.do("LRANGE", "k", "0", "-1"))

	// a client with pipelined commands queued behind its BLPOP is noticed too
	piped := ts.raw(t)
	piped.write("*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n")
	waitBlocked(t, ts, 1)
	require.NoError(t, piped.c.Close())
	waitBlocked(t, ts, 0)
	r.do("RPUSH", "q", "kept")
	require.Equal(t, ":1\r\n", r.do("LLEN", "q"))
}

func TestBlockPipelinedCommandsRunAfterServe(t *testing.T) {
	ts := startServer(t, "")
	w := ts.raw(t)
	w.write("*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n*2\r\n$4\r\nLLEN\r\n$1\r\nq\r\n")
	waitBlocked(t, ts, 1)
	r := ts.raw(t)
	r.do("RPUSH", "q", "a", "b")
	require.Equal(t, bulkPair("q", "a"), w.reply())
	require.Equal(t, ":1\r\n", w.reply())
}

func TestBlockLinkedBlmoves(t *testing.T) {
	for _, from := range []string{"LEFT", "RIGHT"} {
		for _, to := range []string{"LEFT", "RIGHT"} {
			ts := startServer(t, "")
			rd1, rd2 := ts.raw(t), ts.raw(t)
			rd1.send("BLMOVE", "list1", "list2", from, to, "0")
			waitBlocked(t, ts, 1)
			rd2.send("BLMOVE", "list2", "list3", from, to, "0")
			waitBlocked(t, ts, 2)
			r := ts.raw(t)
			r.do("RPUSH", "list1", "foo")
			// both moves happened before the push was acknowledged
			require.Equal(t, "*0\r\n", r.do("LRANGE", "list1", "0", "-1"))
			require.Equal(t, "*0\r\n", r.do("LRANGE", "list2", "0", "-1"))
			require.Equal(t, "*1\r\n"+bulk("foo"), r.do("LRANGE", "list3", "0", "-1"))
			require.Equal(t, bulk("foo"), rd1.reply())
			require.Equal(t, bulk("foo"), rd2.reply())
			ts.stop()
		}
	}
}

func TestBlockBlmoveToBlpopClient(t *testing.T) {
	ts := startServer(t, "")
	rd, rd2 := ts.raw(t), ts.raw(t)
	rd.send("BLMOVE", "blist", "target", "RIGHT", "LEFT", "0")
	waitBlocked(t, ts, 1)
	rd2.send("BLPOP", "target", "0")
	waitBlocked(t, ts, 2)
	r := ts.raw(t)
	r.do("RPUSH", "blist", "foo")
	require.Equal(t, bulk("foo"), rd.reply())
	require.Equal(t, bulkPair("target", "foo"), rd2.reply())
	require.Equal(t, ":0\r\n", r.do("EXISTS", "target"))
}

func TestBlockBlmoveSameSourceAndDestination(t *testing.T) {
	ts := startServer(t, "")
	w := ts.raw(t)
	w.send("BLMOVE", "k", "k", "RIGHT", "LEFT", "0")
	waitBlocked(t, ts, 1)
	r := ts.raw(t)
	r.do("RPUSH", "k", "a", "b")
	require.Equal(t, bulk("b"), w.reply())
	require.Equal(t, "*2\r\n"+bulk("b")+bulk("a"), r.do("LRANGE", "k", "0", "-1"))
}

func TestBlockWrongTypeDestination(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.do("SET", "target", "nolist")
	rd1, rd2 := ts.raw(t), ts.raw(t)
	rd1.send("BRPOPLPUSH", "blist", "target", "0")
	waitBlocked(t, ts, 1)
	rd2.send("BRPOPLPUSH", "blist", "target2", "0")
	waitBlocked(t, ts, 2)
	r.do("LPUSH", "blist", "foo")
	require.Equal(t, "-"+msgWrongType+"\r\n", rd1.reply())
	require.Equal(t, bulk("foo"), rd2.reply())
	require.Equal(t, "*1\r\n"+bulk("foo"), r.do("LRANGE", "target2", "0", "-1"))

	// alone, the element stays where it was
	rd3 := ts.raw(t)
	rd3.send("BRPOPLPUSH", "blist", "target", "0")
	waitBlocked(t, ts, 1)
	r.do("RPUSH", "blist", "bar")
	require.Equal(t, "-"+msgWrongType+"\r\n", rd3.reply())
	require.Equal(t, "*1\r\n"+bulk("bar"), r.do("LRANGE", "blist", "0", "-1"))
}

func TestBlockKeyOfOtherTypeKeepsWaiting(t *testing.T) {
	ts := startServer(t, "")
	w := ts.raw(t)
	w.send("BLPOP", "k", "0")
	waitBlocked(t, ts, 1)
	r := ts.raw(t)
	r.do("SET", "k", "str")
	require.Equal(t, 1, ts.srv.blockedClients())
	r.do("DEL", "k")
	r.do("RPUSH", "k", "v")
	require.Equal(t, bulkPair("k", "v"), w.reply())
}

func TestBlockRenameIntoPlaceWakes(t *testing.T) {
	ts := startServer(t, "")
	w := ts.raw(t)
	w.send("BLMPOP", "0", "1", "foo", "LEFT", "COUNT", "2")
	waitBlocked(t, ts, 1)
	r := ts.raw(t)
	r.do("LPUSH", "bob", "abc", "def", "hij")
	r.do("RENAME", "bob", "foo")
	require.Equal(t, "*2\r\n"+bulk("foo")+"*2\r\n"+bulk("hij")+bulk("def"), w.reply())
}

func TestBlockUnblockClient(t *testing.T) {
	ts := startServer(t, "")
	w := ts.raw(t)
	idReply := w.do("CLIENT", "ID")
	id, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(idReply, ":")), 10, 64)
	require.NoError(t, err)
	require.False(t, ts.srv.unblockClient(id, false))
	w.send("BLPOP", "k", "0")
	waitBlocked(t, ts, 1)
	require.True(t, ts.srv.unblockClient(id, false))
	require.Equal(t, "*-1\r\n", w.reply())
	w.send("BLMOVE", "k", "d", "LEFT", "LEFT", "0")
	waitBlocked(t, ts, 1)
	require.True(t, ts.srv.unblockClient(id, true))
	require.Equal(t, "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n", w.reply())
	waitBlocked(t, ts, 0)
}

func TestBlockServedPopIsDurable(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	mv, pop := ts.raw(t), ts.raw(t)
	mv.send("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
	waitBlocked(t, ts, 1)
	pop.send("BLPOP", "q", "0")
	waitBlocked(t, ts, 2)
	r := ts.raw(t)
	r.do("RPUSH", "dst", "old")
	r.do("RPUSH", "src", "a", "b")
	r.do("RPUSH", "q", "1", "2")
	require.Equal(t, bulk("a"), mv.reply())
	require.Equal(t, bulkPair("q", "1"), pop.reply())
	ts.stop()

	ts2 := startServer(t, dir)
	r2 := ts2.raw(t)
	require.Equal(t, "*1\r\n"+bulk("b"), r2.do("LRANGE", "src", "0", "-1"))
	require.Equal(t, "*2\r\n"+bulk("old")+bulk("a"), r2.do("LRANGE", "dst", "0", "-1"))
	require.Equal(t, "*1\r\n"+bulk("2"), r2.do("LRANGE", "q", "0", "-1"))
}

// TestBlockConcurrentProducersConsumers checks, under the race detector,
// that every pushed element is delivered exactly once.
func TestBlockConcurrentProducersConsumers(t *testing.T) {
	ts := startServer(t, "")
	const consumers, producers, perProducer = 4, 3, 100
	total := producers * perProducer
	got := make(chan string, total)
	var wg sync.WaitGroup
	for i := 0; i < consumers; i++ {
		c := ts.raw(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c.send("BRPOP", "q1", "q2", "1")
				rep := c.reply()
				if rep == "*-1\r\n" {
					return
				}
				got <- rep[strings.LastIndex(rep[:len(rep)-2], "\n")+1 : len(rep)-2]
			}
		}()
	}
	var pw sync.WaitGroup
	for p := 0; p < producers; p++ {
		c := ts.raw(t)
		pw.Add(1)
		go func(p int) {
			defer pw.Done()
			for i := 0; i < perProducer; i++ {
				key := "q1"
				if i%2 == 1 {
					key = "q2"
				}
				c.do("LPUSH", key, fmt.Sprintf("%d-%d", p, i))
			}
		}(p)
	}
	pw.Wait()
	wg.Wait()
	close(got)
	seen := map[string]bool{}
	for v := range got {
		require.False(t, seen[v], "element %s delivered twice", v)
		seen[v] = true
	}
	require.Len(t, seen, total)
}
