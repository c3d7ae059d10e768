package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// Replies checked here were recorded from redis-server 7.0.15.

const (
	rQueued  = "+QUEUED\r\n"
	rNullArr = "*-1\r\n"
	rPong    = "+PONG\r\n"
)

func TestTxMultiExecDiscardReplies(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	steps := []keysStep{
		{kc("MULTI"), rOK},
		{kc("MULTI"), rErr(msgMultiNested)},
		// the nested MULTI does not doom the transaction
		{kc("EXEC"), "*0\r\n"},
		{kc("EXEC"), rErr(msgExecNoMulti)},
		{kc("DISCARD"), rErr(msgDiscardNoMulti)},
		{kc("MULTI"), rOK},
		{kc("SET", "a", "1"), rQueued},
		{kc("GET", "a"), rQueued},
		{kc("PING"), rQueued},
		{kc("EXEC"), "*3\r\n+OK\r\n$1\r\n1\r\n+PONG\r\n"},
		{kc("MULTI"), rOK},
		{kc("DEL", "a"), rQueued},
		{kc("DISCARD"), rOK},
		{kc("DISCARD"), rErr(msgDiscardNoMulti)},
		{kc("GET", "a"), rBulk("1")},
		// WATCH inside MULTI is refused but does not abort the transaction
		{kc("MULTI"), rOK},
		{kc("WATCH", "x"), rErr(msgWatchInMulti)},
		{kc("EXEC"), "*0\r\n"},
		{kc("UNWATCH"), rOK},
	}
	for i, s := range steps {
		require.Equal(t, s.want, r.do(s.cmd...), "step %d: %q", i, s.cmd)
	}
}

// A command refused while queueing (unknown, wrong arity) dooms the
// transaction: EXEC answers EXECABORT and nothing of it runs.
func TestTxExecAbortAfterQueueingError(t *testing.T) {
	for _, bad := range [][]string{
		{"NOSUCH", "x", "y"},
		{"SET", "a"},
		{"GET"},
	} {
		t.Run(bad[0], func(t *testing.T) {
			ts := startServer(t, "")
			r := ts.raw(t)
			require.Equal(t, rOK, r.do("MULTI"))
			require.Equal(t, rQueued, r.do("SET", "foo1", "bar1"))
			require.Equal(t, "-", r.do(bad...)[:1])
			require.Equal(t, rQueued, r.do("SET", "foo2", "bar2"))
			require.Equal(t, rErr(msgExecAbort), r.do("EXEC"))
			require.Equal(t, rZero, r.do("EXISTS", "foo1", "foo2"))
			// the client left MULTI state
			require.Equal(t, rPong, r.do("PING"))
			require.Equal(t, rErr(msgExecNoMulti), r.do("EXEC"))
		})
	}
}

func TestTxExecAbortExactTexts(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, rOK, r.do("MULTI"))
	require.Equal(t, "-ERR unknown command 'nosuch', with args beginning with: 'x' 'y' \r\n", r.do("nosuch", "x", "y"))
	require.Equal(t, "-ERR wrong number of arguments for 'set' command\r\n", r.do("set", "a"))
	require.Equal(t, "-EXECABORT Transaction discarded because of previous errors.\r\n", r.do("EXEC"))
}

// Errors raised while EXEC runs are elements of the reply; the other
// commands of the transaction still run.
func TestTxExecErrorsArePerCommand(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, rOK, r.do("MULTI"))
	require.Equal(t, rQueued, r.do("SET", "a", "1"))
	require.Equal(t, rQueued, r.do("LPUSH", "a", "x"))
	require.Equal(t, rQueued, r.do("INCR", "a"))
	require.Equal(t, rQueued, r.do("SELECT", "99"))
	require.Equal(t, rQueued, r.do("SELECT", "x"))
	require.Equal(t, "*5\r\n+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:2\r\n"+
		"-ERR DB index is out of range\r\n-ERR value is not an integer or out of range\r\n", r.do("EXEC"))
	require.Equal(t, rBulk("2"), r.do("GET", "a"))
}

// SELECT inside MULTI moves the later queued commands to the new database,
// and the connection stays there after EXEC.
func TestTxSelectInsideMulti(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, rOK, r.do("MULTI"))
	require.Equal(t, rQueued, r.do("SELECT", "1"))
	require.Equal(t, rQueued, r.do("SET", "k", "db1"))
	require.Equal(t, rQueued, r.do("SELECT", "2"))
	require.Equal(t, rQueued, r.do("SET", "k", "db2"))
	require.Equal(t, rQueued, r.do("GET", "k"))
	require.Equal(t, "*5\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n$3\r\ndb2\r\n", r.do("EXEC"))
	require.Equal(t, rBulk("db2"), r.do("GET", "k"), "the connection stays on the database selected last")
	require.Equal(t, rOK, r.do("SELECT", "1"))
	require.Equal(t, rBulk("db1"), r.do("GET", "k"))
	require.Equal(t, rOK, r.do("SELECT", "0"))
	require.Equal(t, rNil, r.do("GET", "k"))
}

// watchCase: a connection WATCHes x after setup, then invalidate runs (on
// another connection, or just time passing); EXEC must answer want.
type watchCase struct {
	name       string
	setup      [][]string // on the watching connection, before WATCH
	invalidate func(t *testing.T, ts *testServer, other *rawConn)
	aborted    bool
}

func otherDo(args ...string) func(t *testing.T, ts *testServer, other *rawConn) {
	return func(t *testing.T, ts *testServer, other *rawConn) {
		reply := other.do(args...)
		require.NotEqual(t, "-", reply[:1], "%q: %q", args, reply)
	}
}

func TestTxWatchInvalidation(t *testing.T) {
	cases := []watchCase{
		{name: "untouched", setup: [][]string{{"SET", "x", "1"}},
			invalidate: otherDo("SET", "y", "1"), aborted: false},
		{name: "SET by another connection", setup: [][]string{{"SET", "x", "1"}},
			invalidate: otherDo("SET", "x", "2"), aborted: true},
		{name: "SET of a missing key", invalidate: otherDo("SET", "x", "2"), aborted: true},
		{name: "DEL", setup: [][]string{{"SET", "x", "1"}},
			invalidate: otherDo("DEL", "x"), aborted: true},
		{name: "DEL of a missing key", invalidate: otherDo("DEL", "x"), aborted: false},
		{name: "EXPIRE", setup: [][]string{{"SET", "x", "1"}},
			invalidate: otherDo("EXPIRE", "x", "100"), aborted: true},
		{name: "PERSIST without a TTL", setup: [][]string{{"SET", "x", "1"}},
			invalidate: otherDo("PERSIST", "x"), aborted: false},
		{name: "SET NX that does nothing", setup: [][]string{{"SET", "x", "1"}},
			invalidate: otherDo("SET", "x", "1", "NX"), aborted: false},
		{name: "SET XX", setup: [][]string{{"SET", "x", "1"}},
			invalidate: otherDo("SET", "x", "1", "XX"), aborted: true},
		{name: "read only", setup: [][]string{{"SET", "x", "1"}},
			invalidate: otherDo("GET", "x"), aborted: false},
		{name: "same key in another db", setup: [][]string{{"SET", "x", "1"}},
			invalidate: func(t *testing.T, ts *testServer, other *rawConn) {
				require.Equal(t, rOK, other.do("SELECT", "1"))
				require.Equal(t, rOK, other.do("SET", "x", "10"))
			}, aborted: false},
		{name: "key expires after WATCH", setup: [][]string{{"SET", "x", "1", "PX", "50"}},
			invalidate: func(t *testing.T, ts *testServer, other *rawConn) { time.Sleep(120 * time.Millisecond) },
			aborted:    true},
		{name: "key expires after WATCH, active expiry off", setup: [][]string{{"SET", "x", "1", "PX", "50"}},
			invalidate: func(t *testing.T, ts *testServer, other *rawConn) {
				ts.store.SetActiveExpire(false)
				time.Sleep(120 * time.Millisecond)
			}, aborted: true},
		{name: "FLUSHALL with the key", setup: [][]string{{"SET", "x", "1"}},
			invalidate: otherDo("FLUSHALL"), aborted: true},
		{name: "FLUSHDB with the key", setup: [][]string{{"SET", "x", "1"}},
			invalidate: otherDo("FLUSHDB"), aborted: true},
		{name: "FLUSHALL without the key", setup: [][]string{{"SET", "y", "1"}},
			invalidate: otherDo("FLUSHALL"), aborted: false},
		{name: "FLUSHDB without the key", invalidate: otherDo("FLUSHDB"), aborted: false},
		{name: "own SET", setup: [][]string{{"SET", "x", "1"}},
			invalidate: nil, aborted: true}, // the watching connection writes x itself, below
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, "")
			a, b := ts.raw(t), ts.raw(t)
			for _, s := range tc.setup {
				require.Equal(t, rOK, a.do(s...))
			}
			require.Equal(t, rOK, a.do("WATCH", "x"))
			if tc.invalidate == nil {
				require.Equal(t, rOK, a.do("SET", "x", "2"))
			} else {
				tc.invalidate(t, ts, b)
			}
			require.Equal(t, rOK, a.do("MULTI"))
			require.Equal(t, rQueued, a.do("PING"))
			want := "*1\r\n+PONG\r\n"
			if tc.aborted {
				want = rNullArr
			}
			require.Equal(t, want, a.do("EXEC"))
			// EXEC always unwatches: the next transaction runs
			require.Equal(t, rOK, b.do("SET", "x", "3"))
			require.Equal(t, rOK, a.do("MULTI"))
			require.Equal(t, rQueued, a.do("PING"))
			require.Equal(t, "*1\r\n+PONG\r\n", a.do("EXEC"))
		})
	}
}

// A key already expired (but not yet reclaimed) when WATCHed is logically
// absent: its deletion, lazy or by FLUSHDB, is no change (Redis 7).
func TestTxWatchStaleKey(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cmd     []string
		want    string
		aborted bool
	}{
		{"lazy expiry by EXISTS", []string{"EXISTS", "x"}, rZero, false},
		{"lazy expiry by GET", []string{"GET", "x"}, rNil, false},
		{"DEL", []string{"DEL", "x"}, rZero, false},
		{"FLUSHDB", []string{"FLUSHDB"}, rOK, false},
		{"FLUSHALL", []string{"FLUSHALL"}, rOK, false},
		{"SET over the stale key", []string{"SET", "x", "bar"}, rOK, true},
		{"nothing", []string{"PING"}, rPong, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, "")
			ts.store.SetActiveExpire(false)
			a, b := ts.raw(t), ts.raw(t)
			require.Equal(t, rOK, a.do("SET", "x", "foo", "PX", "1"))
			time.Sleep(10 * time.Millisecond)
			require.Equal(t, rOK, a.do("WATCH", "x"))
			require.Equal(t, tc.want, b.do(tc.cmd...))
			require.Equal(t, rOK, a.do("MULTI"))
			require.Equal(t, rQueued, a.do("PING"))
			want := "*1\r\n+PONG\r\n"
			if tc.aborted {
				want = rNullArr
			}
			require.Equal(t, want, a.do("EXEC"))
		})
	}
}

func TestTxUnwatchAndDiscardClearWatches(t *testing.T) {
	ts := startServer(t, "")
	a, b := ts.raw(t), ts.raw(t)
	require.Equal(t, rOK, a.do("UNWATCH"), "UNWATCH with nothing watched")

	require.Equal(t, rOK, a.do("SET", "x", "30"))
	require.Equal(t, rOK, a.do("WATCH", "x"))
	require.Equal(t, rOK, b.do("SET", "x", "40"))
	require.Equal(t, rOK, a.do("UNWATCH"))
	require.Equal(t, rOK, a.do("MULTI"))
	require.Equal(t, rQueued, a.do("PING"))
	require.Equal(t, "*1\r\n+PONG\r\n", a.do("EXEC"))

	// DISCARD clears the dirty flag and unwatches
	require.Equal(t, rOK, a.do("WATCH", "x"))
	require.Equal(t, rOK, b.do("SET", "x", "10"))
	require.Equal(t, rOK, a.do("MULTI"))
	require.Equal(t, rOK, a.do("DISCARD"))
	require.Equal(t, rOK, b.do("SET", "x", "10"))
	require.Equal(t, rOK, a.do("MULTI"))
	require.Equal(t, rQueued, a.do("INCR", "x"))
	require.Equal(t, "*1\r\n:11\r\n", a.do("EXEC"))

	// the same key watched several times is one watch
	require.Equal(t, rOK, a.do("WATCH", "x", "x", "y", "x"))
	require.Equal(t, rOK, a.do("UNWATCH"))
	require.Equal(t, rOK, b.do("SET", "x", "1"))
	require.Equal(t, rOK, a.do("MULTI"))
	require.Equal(t, rQueued, a.do("PING"))
	require.Equal(t, "*1\r\n+PONG\r\n", a.do("EXEC"))

	// a failed EXEC unwatches too
	require.Equal(t, rOK, a.do("WATCH", "x"))
	require.Equal(t, rOK, b.do("SET", "x", "2"))
	require.Equal(t, rOK, a.do("MULTI"))
	require.Equal(t, rQueued, a.do("PING"))
	require.Equal(t, rNullArr, a.do("EXEC"))
	require.Equal(t, rOK, b.do("SET", "x", "3"))
	require.Equal(t, rOK, a.do("MULTI"))
	require.Equal(t, rQueued, a.do("PING"))
	require.Equal(t, "*1\r\n+PONG\r\n", a.do("EXEC"))
}

// A watching connection that disconnects must not leave registrations that
// keep later writes busy or crash them.
func TestTxWatchThenDisconnect(t *testing.T) {
	ts := startServer(t, "")
	for i := 0; i < 20; i++ {
		a := ts.raw(t)
		require.Equal(t, rOK, a.do("WATCH", "x", fmt.Sprint("k", i)))
		a.c.Close()
	}
	b := ts.raw(t)
	require.Equal(t, rOK, b.do("SET", "x", "1"))
	require.Equal(t, rOK, b.do("WATCH", "x"))
	require.Equal(t, rOK, b.do("MULTI"))
	require.Equal(t, rQueued, b.do("GET", "x"))
	require.Equal(t, "*1\r\n$1\r\n1\r\n", b.do("EXEC"))
}

// EXEC is atomic: a reader's MULTI GET x GET y EXEC never observes a state
// between the two INCRs of another connection's transaction.
func TestTxExecAtomicity(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	const writers, iters = 4, 300
	var wg sync.WaitGroup
	var stop atomic.Bool
	errs := make(chan error, writers+1)
	for w := 0; w < writers; w++ {
		c := ts.client(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < iters; i++ {
				_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Incr(ctx, "x")
					p.Incr(ctx, "y")
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	reader := ts.client(t)
	reads := 0
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		for !stop.Load() {
			var gx, gy *redis.StringCmd
			_, err := reader.TxPipelined(ctx, func(p redis.Pipeliner) error {
				gx = p.Get(ctx, "x")
				gy = p.Get(ctx, "y")
				return nil
			})
			if err != nil && err != redis.Nil {
				errs <- err
				return
			}
			if gx.Val() != gy.Val() {
				errs <- fmt.Errorf("torn read: x=%q y=%q", gx.Val(), gy.Val())
				return
			}
			reads++
		}
	}()
	wg.Wait()
	stop.Store(true)
	rwg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	r := ts.raw(t)
	want := rBulk(fmt.Sprint(writers * iters))
	require.Equal(t, want, r.do("GET", "x"))
	require.Equal(t, want, r.do("GET", "y"))
	require.Positive(t, reads)
}

// txOOM puts the server over maxmemory under noeviction; the returned
// function lifts the limit again.
func txOOM(t *testing.T, admin *rawConn) func() {
	t.Helper()
	require.Equal(t, rOK, admin.do("CONFIG", "SET", "maxmemory-policy", "noeviction"))
	require.Equal(t, rOK, admin.do("CONFIG", "SET", "maxmemory", "1"))
	return func() { require.Equal(t, rOK, admin.do("CONFIG", "SET", "maxmemory", "0")) }
}

// A denyoom command queued while over maxmemory is refused with the OOM
// error, which dooms the transaction.
func TestTxOOMWhileQueueing(t *testing.T) {
	ts := startServer(t, "")
	a, admin := ts.raw(t), ts.raw(t)
	require.Equal(t, rOK, a.do("SET", "pre", "x"))
	require.Equal(t, rOK, a.do("MULTI"))
	require.Equal(t, rQueued, a.do("SET", "a", "1"))
	lift := txOOM(t, admin)
	require.Equal(t, rErr(msgOOM), a.do("SET", "b", "2"))
	lift()
	require.Equal(t, rQueued, a.do("SET", "c", "3"))
	require.Equal(t, rErr(msgExecAbort), a.do("EXEC"))
	require.Equal(t, rZero, a.do("EXISTS", "a", "b", "c"))
}

// Redis refuses every command queued inside MULTI while over maxmemory,
// not only denyoom ones: queueing itself consumes memory (processCommand's
// reject_cmd_on_oom for CLIENT_MULTI).
func TestTxOOMRefusesAnyQueuedCommand(t *testing.T) {
	ts := startServer(t, "")
	a, admin := ts.raw(t), ts.raw(t)
	require.Equal(t, rOK, a.do("SET", "pre", "x"))
	lift := txOOM(t, admin)
	defer lift()
	require.Equal(t, rOK, a.do("MULTI"))
	require.Equal(t, rErr(msgOOM), a.do("GET", "pre"))
	require.Equal(t, rErr(msgOOM), a.do("DEL", "pre"))
	require.Equal(t, rErr(msgExecAbort), a.do("EXEC"))
}

// EXEC of a transaction holding denyoom commands, reached while over
// maxmemory, is rejected the way Redis's execCommandAbort words it.
func TestTxExecOverMaxmemoryAbortText(t *testing.T) {
	ts := startServer(t, "")
	a, admin := ts.raw(t), ts.raw(t)
	require.Equal(t, rOK, a.do("SET", "pre", "x"))
	require.Equal(t, rOK, a.do("MULTI"))
	require.Equal(t, rQueued, a.do("SET", "x", "1"))
	lift := txOOM(t, admin)
	defer lift()
	require.Equal(t, "-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n",
		a.do("EXEC"))
	require.Equal(t, rZero, a.do("EXISTS", "x"))
	require.Equal(t, rErr(msgExecNoMulti), a.do("EXEC"), "the transaction is discarded")
}

// Only denyoom commands make EXEC subject to maxmemory: a transaction that
// frees memory (DEL) still runs while over the limit, as in Redis.
func TestTxExecOverMaxmemoryRunsNonDenyOOMWrites(t *testing.T) {
	ts := startServer(t, "")
	a, admin := ts.raw(t), ts.raw(t)
	require.Equal(t, rOK, a.do("SET", "pre", "x"))
	require.Equal(t, rOK, a.do("MULTI"))
	require.Equal(t, rQueued, a.do("DEL", "pre"))
	lift := txOOM(t, admin)
	defer lift()
	require.Equal(t, "*1\r\n:1\r\n", a.do("EXEC"))
}
