package server

// Review tests: each demonstrates a defect found in review and fails until
// it is fixed (see the report for the proposed fixes). The ones named
// ...Race only fail under `go test -race`.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/luxdb/lux-go/storage"
	"github.com/stretchr/testify/require"
)

// A table command queued in MULTI runs inside EXEC with no table lock:
// lockTables skips locking when c.inExec, expecting EXEC to hold the
// engine's write lock (tablesWriteLock), but cmdExec never takes it. Two
// clients inserting concurrently, one of them through MULTI/EXEC, race on
// the engine (the race detector reports it; ids may also collide).
func TestReviewExecTableCommandsRace(t *testing.T) {
	ts := startServer(t, "")
	a, b := ts.raw(t), ts.raw(t)
	require.Equal(t, "+OK\r\n", a.do("TCREATE", "t", "n:int"))
	const n = 300
	ids := make(chan string, 2*n)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			a.send("MULTI")
			a.send("TINSERT", "t", "n", strconv.Itoa(i))
			a.send("EXEC")
			a.reply()
			a.reply()
			r := a.reply() // *1\r\n:<id>\r\n
			ids <- strings.TrimPrefix(r, "*1\r\n")
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			ids <- b.do("TINSERT", "t", "n", strconv.Itoa(i))
		}
	}()
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		require.False(t, seen[id], "row id %q handed out twice", id)
		seen[id] = true
	}
	require.Equal(t, ":"+strconv.Itoa(2*n)+"\r\n", a.do("TCOUNT", "t"))
}

// CLIENT LIST and CLIENT KILL read other clients' c.sub without their write
// lock while those clients set it (SUBSCRIBE creates it, RESET clears it).
func TestReviewClientListSubRace(t *testing.T) {
	ts := startServer(t, "")
	sub, lister := ts.raw(t), ts.raw(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 300; i++ {
			sub.do("SUBSCRIBE", "ch")
			sub.do("RESET")
		}
	}()
	for i := 0; i < 300; i++ {
		lister.do("CLIENT", "LIST")
		lister.do("CLIENT", "KILL", "TYPE", "master")
	}
	<-done
}

// Redis 7.0 refuses to queue any command inside MULTI while over maxmemory
// (processCommand: reject_cmd_on_oom for CLIENT_MULTI), which dooms the
// transaction; Lux only checks FlagDenyOOM commands, queues DEL, then
// fails EXEC with a bare OOM error.
func TestReviewMultiQueueOverMaxMemory(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, "+OK\r\n", r.do("SET", "k", "v"))
	ts.store.SetPolicy(storage.PolicyNoEviction)
	ts.store.SetMaxMemory(1)
	defer ts.store.SetMaxMemory(0)
	require.Equal(t, "+OK\r\n", r.do("MULTI"))
	require.Equal(t, "-OOM command not allowed when used memory > 'maxmemory'.\r\n", r.do("DEL", "k"))
	require.Equal(t, "-EXECABORT Transaction discarded because of previous errors.\r\n", r.do("EXEC"))
}

// When memory runs out between queueing and EXEC, Redis 7.0 aborts with
// EXECABORT naming the cause (rejectCommand -> execCommandAbort).
func TestReviewExecOverMaxMemoryReply(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, "+OK\r\n", r.do("SET", "k", "v"))
	require.Equal(t, "+OK\r\n", r.do("MULTI"))
	require.Equal(t, "+QUEUED\r\n", r.do("SET", "k2", "v"))
	ts.store.SetPolicy(storage.PolicyNoEviction)
	ts.store.SetMaxMemory(1)
	defer ts.store.SetMaxMemory(0)
	require.Equal(t, "-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n", r.do("EXEC"))
	// the transaction is gone
	require.Equal(t, "-ERR EXEC without MULTI\r\n", r.do("EXEC"))
}

// RENAME over an existing destination: Redis deletes the destination
// silently (dbDelete) and reports rename_from + rename_to only. putEntry
// fires an extra "del" for the destination.
func TestReviewRenameOverwriteEvents(t *testing.T) {
	ts := startServer(t, "")
	r, sub := ts.raw(t), ts.raw(t)
	require.Equal(t, "+OK\r\n", r.do("CONFIG", "SET", "notify-keyspace-events", "KEA"))
	defer r.do("CONFIG", "SET", "notify-keyspace-events", "")
	require.Equal(t, "+OK\r\n", r.do("SET", "a", "1"))
	require.Equal(t, "+OK\r\n", r.do("SET", "b", "2"))
	sub.do("SUBSCRIBE", "__keyspace@0__:b")
	require.Equal(t, "+OK\r\n", r.do("RENAME", "a", "b"))
	require.Equal(t, "+OK\r\n", r.do("SET", "b", "3"))
	var events []string
	for {
		m := sub.reply()
		parts := strings.Split(m, "\r\n")
		ev := parts[len(parts)-2]
		events = append(events, ev)
		if ev == "set" {
			break
		}
	}
	require.Equal(t, []string{"rename_to", "set"}, events)
}

// usedMemoryRecount sums what the store should account for every key.
func usedMemoryRecount(ts *testServer) int64 {
	var ls storage.LockSet
	ls.AddAll()
	ts.store.Lock(&ls)
	defer ts.store.Unlock(&ls)
	var sum int64
	for d := 0; d < storage.NumDBs; d++ {
		db := ts.store.DB(d)
		for i := 0; i < storage.ShardsPerDB; i++ {
			// ForEach skips expired keys, which are still accounted: none here
			db.ForEach(i, func(k string, e *storage.Entry) bool {
				sum += e.MemUsage()
				return true
			})
		}
	}
	return sum
}

// Random commands over every type keep used_memory equal to the sum of the
// entries' sizes (a drift check of the memDelta every handler reports).
func TestReviewMemoryAccountingCommands(t *testing.T) {
	ts := startServer(t, "")
	c := ts.client(t)
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(7, 9))
	keys := []string{"a", "b", "c", "d"}
	val := func() string { return strings.Repeat("x", rnd.IntN(80)) }
	mem := func() string { return fmt.Sprint("m", rnd.IntN(40)) }
	for step := 0; step < 6000; step++ {
		k, k2 := keys[rnd.IntN(len(keys))], keys[rnd.IntN(len(keys))]
		var args []any
		switch rnd.IntN(24) {
		case 0:
			args = []any{"SET", k, val()}
		case 1:
			args = []any{"APPEND", k, val()}
		case 2:
			args = []any{"DEL", k}
		case 3:
			args = []any{"HSET", k, mem(), val()}
		case 4:
			args = []any{"HDEL", k, mem()}
		case 5:
			args = []any{"RPUSH", k, val(), val()}
		case 6:
			args = []any{"LPOP", k, rnd.IntN(3)}
		case 7:
			args = []any{"LSET", k, rnd.IntN(4) - 2, val()}
		case 8:
			args = []any{"LTRIM", k, rnd.IntN(4), -1 - rnd.IntN(3)}
		case 9:
			args = []any{"SADD", k, mem(), rnd.IntN(1000)}
		case 10:
			args = []any{"SREM", k, mem()}
		case 11:
			args = []any{"SPOP", k}
		case 12:
			args = []any{"ZADD", k, rnd.IntN(100), mem()}
		case 13:
			args = []any{"ZREM", k, mem()}
		case 14:
			args = []any{"ZREMRANGEBYRANK", k, 0, rnd.IntN(3)}
		case 15:
			args = []any{"RENAME", k, k2}
		case 16:
			args = []any{"COPY", k, k2, "REPLACE"}
		case 17:
			args = []any{"SETRANGE", k, rnd.IntN(50), val()}
		case 18:
			args = []any{"INCR", k}
		case 19:
			args = []any{"HINCRBY", k, mem(), 3}
		case 20:
			args = []any{"LREM", k, 0, val()}
		case 21:
			args = []any{"ZINCRBY", k, 1, mem()}
		case 22:
			args = []any{"SINTERSTORE", k, k2, keys[rnd.IntN(len(keys))]}
		case 23:
			args = []any{"LMOVE", k, k2, "LEFT", "RIGHT"}
		}
		c.Do(ctx, args...) // WRONGTYPE and friends are fine
		if step%500 == 499 {
			require.Equal(t, usedMemoryRecount(ts), ts.store.UsedMemory(), "used_memory drifted after %v", args)
		}
	}
}

// CLIENT REPLY OFF swaps c.Writer for a discarding writer, stranding the
// replies of earlier commands of the same pipelined batch in the real
// writer (Redis sends PONG here). And RESET leaves replies off, while
// Redis's RESET turns them back on (clearClientConnectionState) and
// replies +RESET.
func TestReviewClientReplyOffAndReset(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.write("*1\r\n$4\r\nPING\r\n*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n")
	require.Equal(t, "+PONG\r\n", r.reply())

	r2 := ts.raw(t)
	r2.send("CLIENT", "REPLY", "OFF")
	require.Equal(t, "+RESET\r\n", r2.do("RESET"))
}
