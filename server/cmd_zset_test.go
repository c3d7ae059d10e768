package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// RESP builders for the expected replies (prefixed: other test files have their own).
func zBulk(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }

func zArr(items ...string) string {
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(items)) + "\r\n")
	for _, it := range items {
		b.WriteString(zBulk(it))
	}
	return b.String()
}

func zInt(n int) string    { return ":" + strconv.Itoa(n) + "\r\n" }
func zErr(s string) string { return "-" + s + "\r\n" }

const (
	zNull      = "$-1\r\n"
	zNullArray = "*-1\r\n"
	zEmpty     = "*0\r\n"
	zOK        = "+OK\r\n"
)

// zStep is one command and its exact expected reply.
type zStep struct {
	cmd  []string
	want string
}

func zRun(t *testing.T, r *rawConn, steps []zStep) {
	t.Helper()
	for _, s := range steps {
		require.Equal(t, s.want, r.do(s.cmd...), "%v", s.cmd)
	}
}

func zc(args ...string) []string { return args }

func TestZSetZADDOptionsAndErrors(t *testing.T) {
	ts := startServer(t, "")
	zRun(t, ts.raw(t), []zStep{
		{zc("ZADD", "z", "1", "a", "2", "b"), zInt(2)},
		{zc("ZADD", "z", "CH", "1", "a", "3", "b", "4", "c"), zInt(2)},
		{zc("ZADD", "z", "NX", "9", "a", "5", "d"), zInt(1)},
		{zc("ZSCORE", "z", "a"), zBulk("1")},
		{zc("ZADD", "z", "XX", "CH", "7", "a", "7", "nosuch"), zInt(1)},
		{zc("ZSCORE", "z", "nosuch"), zNull},
		{zc("ZADD", "z", "GT", "CH", "6", "a", "8", "b"), zInt(1)},
		{zc("ZADD", "z", "LT", "CH", "6", "a", "9", "b"), zInt(1)},
		{zc("ZRANGE", "z", "0", "-1", "WITHSCORES"), zArr("c", "4", "d", "5", "a", "6", "b", "8")},
		{zc("ZADD", "z", "NX", "XX", "1", "a"), zErr("ERR XX and NX options at the same time are not compatible")},
		{zc("ZADD", "z", "NX", "GT", "1", "a"), zErr("ERR GT, LT, and/or NX options at the same time are not compatible")},
		{zc("ZADD", "z", "GT", "LT", "1", "a"), zErr("ERR GT, LT, and/or NX options at the same time are not compatible")},
		{zc("ZADD", "z", "INCR", "1", "a", "2", "b"), zErr("ERR INCR option supports a single increment-element pair")},
		{zc("ZADD", "z", "1", "a", "2"), zErr("ERR syntax error")},
		{zc("ZADD", "z", "x", "a"), zErr("ERR value is not a valid float")},
		{zc("ZADD", "z", "nan", "a"), zErr("ERR value is not a valid float")},
		{zc("ZADD", "z", "1e400", "a"), zErr("ERR value is not a valid float")},
		{zc("ZADD", "z", " 1", "a"), zErr("ERR value is not a valid float")},
		{zc("ZADD", "z", "INCR", "1.5", "a"), zBulk("7.5")},
		{zc("ZADD", "z", "INCR", "GT", "-1", "a"), zNull},
		{zc("ZADD", "z", "INCR", "NX", "1", "a"), zNull},
		{zc("ZADD", "z", "inf", "pinf", "-inf", "ninf"), zInt(2)},
		{zc("ZADD", "z", "INCR", "-inf", "pinf"), zErr("ERR resulting score is not a number (NaN)")},
		{zc("ZINCRBY", "z", "+inf", "ninf"), zErr("ERR resulting score is not a number (NaN)")},
		{zc("ZINCRBY", "z", "1.1", "new"), zBulk("1.1000000000000001")},
		{zc("ZINCRBY", "z", "x", "new"), zErr("ERR value is not a valid float")},
		{zc("ZADD", "nokey", "XX", "1", "a"), zInt(0)},
		{zc("ZADD", "nokey", "XX", "INCR", "1", "a"), zNull},
		{zc("EXISTS", "nokey"), zInt(0)},
		{zc("ZADD", "z", "0x10", "hex"), zInt(1)},
		{zc("ZSCORE", "z", "hex"), zBulk("16")},
		{zc("ZMSCORE", "z", "pinf", "ninf", "zz"), "*3\r\n" + zBulk("inf") + zBulk("-inf") + zNull},
		{zc("ZCARD", "z"), zInt(8)},
		{zc("SET", "s", "v"), zOK},
		{zc("ZADD", "s", "1", "a"), zErr("WRONGTYPE Operation against a key holding the wrong kind of value")},
		{zc("ZADD", "s", "x", "a"), zErr("ERR value is not a valid float")},
	})
}

func TestZSetRanges(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.do("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
	r.do("ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e")
	zRun(t, r, []zStep{
		// rank ranges, negative indexes, empty results
		{zc("ZRANGE", "z", "-2", "-1"), zArr("d", "e")},
		{zc("ZRANGE", "z", "3", "1"), zEmpty},
		{zc("ZRANGE", "z", "0", "0", "REV", "WITHSCORES"), zArr("e", "5")},
		{zc("ZREVRANGE", "z", "1", "2"), zArr("d", "c")},
		{zc("ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"), zErr("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")},
		{zc("ZRANGE", "nokey", "0", "-1"), zEmpty},
		{zc("ZRANK", "z", "c"), zInt(2)},
		{zc("ZREVRANK", "z", "c"), zInt(2)},
		{zc("ZREVRANK", "z", "a"), zInt(4)},
		{zc("ZRANK", "z", "zz"), zNull},
		{zc("ZRANK", "z", "a", "WITHSCORE"), zErr("ERR wrong number of arguments for 'zrank' command")},
		// score ranges: inf, exclusive bounds, LIMIT, REV
		{zc("ZRANGEBYSCORE", "z", "(1", "3"), zArr("b", "c")},
		{zc("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "1", "2"), zArr("b", "c")},
		{zc("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "-1", "2"), zEmpty},
		{zc("ZREVRANGEBYSCORE", "z", "(5", "(1", "WITHSCORES"), zArr("d", "4", "c", "3", "b", "2")},
		{zc("ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2"), zArr("d", "c")},
		{zc("ZRANGEBYSCORE", "z", "x", "1"), zErr("ERR min or max is not a float")},
		{zc("ZCOUNT", "z", "(1", "(5"), zInt(3)},
		{zc("ZCOUNT", "z", "5", "1"), zInt(0)},
		// lex ranges with '-', '+', '(' and '['
		{zc("ZRANGEBYLEX", "lex", "-", "+"), zArr("a", "b", "c", "d", "e")},
		{zc("ZRANGEBYLEX", "lex", "(a", "[c"), zArr("b", "c")},
		{zc("ZREVRANGEBYLEX", "lex", "+", "(c"), zArr("e", "d")},
		{zc("ZRANGE", "lex", "[b", "+", "BYLEX", "LIMIT", "1", "10"), zArr("c", "d", "e")},
		{zc("ZLEXCOUNT", "lex", "[b", "(d"), zInt(2)},
		{zc("ZRANGEBYLEX", "lex", "a", "+"), zErr("ERR min or max not valid string range item")},
		{zc("ZRANGE", "lex", "-", "+", "BYLEX", "WITHSCORES"), zErr("ERR syntax error, WITHSCORES not supported in combination with BYLEX")},
		// ZRANGESTORE
		{zc("ZRANGESTORE", "dst", "z", "0", "1", "REV"), zInt(2)},
		{zc("ZRANGE", "dst", "0", "-1", "WITHSCORES"), zArr("d", "4", "e", "5")},
		{zc("ZRANGESTORE", "dst", "z", "10", "20"), zInt(0)},
		{zc("EXISTS", "dst"), zInt(0)},
		// removals by range
		{zc("ZREMRANGEBYSCORE", "z", "(1", "2"), zInt(1)},
		{zc("ZREMRANGEBYRANK", "z", "-1", "-1"), zInt(1)},
		{zc("ZREMRANGEBYLEX", "lex", "[b", "[c"), zInt(2)},
		{zc("ZRANGE", "z", "0", "-1"), zArr("a", "c", "d")},
		{zc("ZREMRANGEBYRANK", "z", "0", "-1"), zInt(3)},
		{zc("EXISTS", "z"), zInt(0)},
	})
}

func TestZSetPopsAndSetOps(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.do("ZADD", "p", "1", "a", "2", "b", "3", "c")
	r.do("ZADD", "za", "1", "a", "2", "b", "3", "c")
	r.do("ZADD", "zb", "10", "b", "20", "c", "30", "d")
	r.do("SADD", "s", "a", "x")
	zRun(t, r, []zStep{
		{zc("ZPOPMIN", "p"), zArr("a", "1")},
		{zc("ZPOPMAX", "p", "5"), zArr("c", "3", "b", "2")},
		{zc("EXISTS", "p"), zInt(0)},
		{zc("ZPOPMIN", "p"), zEmpty},
		{zc("ZPOPMIN", "p", "-1"), zErr("ERR value is out of range, must be positive")},
		{zc("ZMPOP", "2", "p", "za", "MAX", "COUNT", "2"), "*2\r\n" + zBulk("za") + "*2\r\n" + zArr("c", "3") + zArr("b", "2")},
		{zc("ZMPOP", "1", "p", "MIN"), zNullArray},
		{zc("ZMPOP", "0", "p", "MIN"), zErr("ERR numkeys should be greater than 0")},
		{zc("ZMPOP", "1", "p", "MIN", "COUNT", "0"), zErr("ERR count should be greater than 0")},
		{zc("ZADD", "za", "2", "b", "3", "c"), zInt(2)},
		{zc("ZUNION", "2", "za", "zb", "WITHSCORES"), zArr("a", "1", "b", "12", "c", "23", "d", "30")},
		{zc("ZUNION", "2", "za", "zb", "WEIGHTS", "2", "1", "AGGREGATE", "MAX", "WITHSCORES"), zArr("a", "2", "b", "10", "c", "20", "d", "30")},
		{zc("ZINTER", "2", "za", "zb", "AGGREGATE", "MIN", "WITHSCORES"), zArr("b", "2", "c", "3")},
		{zc("ZINTER", "2", "za", "s", "WITHSCORES"), zArr("a", "2")},
		{zc("ZDIFF", "2", "za", "zb", "WITHSCORES"), zArr("a", "1")},
		{zc("ZINTERCARD", "2", "za", "zb", "LIMIT", "1"), zInt(1)},
		{zc("ZINTERCARD", "2", "za", "zb", "LIMIT", "-1"), zErr("ERR LIMIT can't be negative")},
		{zc("ZUNIONSTORE", "out", "2", "za", "s"), zInt(4)},
		{zc("ZRANGE", "out", "0", "-1", "WITHSCORES"), zArr("x", "1", "a", "2", "b", "2", "c", "3")},
		{zc("ZINTERSTORE", "out", "2", "za", "nokey"), zInt(0)},
		{zc("EXISTS", "out"), zInt(0)},
		{zc("ZUNIONSTORE", "out", "0", "za"), zErr("ERR at least 1 input key is needed for 'zunionstore' command")},
		{zc("ZUNION", "3", "za", "zb"), zErr("ERR syntax error")},
		{zc("ZUNION", "2", "za", "zb", "WEIGHTS", "1", "x"), zErr("ERR weight value is not a float")},
		{zc("ZDIFF", "2", "za", "zb", "WEIGHTS", "1", "1"), zErr("ERR syntax error")},
		{zc("SET", "str", "v"), zOK},
		{zc("ZUNION", "2", "za", "str"), zErr("WRONGTYPE Operation against a key holding the wrong kind of value")},
	})
}

func TestZSetRandMemberAndScan(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.do("ZADD", "z", "1", "a", "2", "b", "3", "c")
	zRun(t, r, []zStep{
		{zc("ZRANDMEMBER", "z", "10", "WITHSCORES"), zArr("c", "3", "b", "2", "a", "1")},
		{zc("ZRANDMEMBER", "z", "0"), zEmpty},
		{zc("ZRANDMEMBER", "nokey"), zNull},
		{zc("ZRANDMEMBER", "nokey", "3"), zEmpty},
		{zc("ZRANDMEMBER", "z", "-9223372036854775808"), zErr("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")},
		{zc("ZRANDMEMBER", "z", "-9223372036854770000", "WITHSCORES"), zErr("ERR value is out of range")},
		{zc("ZSCAN", "z", "0"), "*2\r\n" + zBulk("0") + zArr("a", "1", "b", "2", "c", "3")},
		{zc("ZSCAN", "z", "0", "MATCH", "b*"), "*2\r\n" + zBulk("0") + zArr("b", "2")},
		{zc("ZSCAN", "z", "x"), zErr("ERR invalid cursor")},
	})
	// negative counts repeat members, positive ones never do
	rep := r.do("ZRANDMEMBER", "z", "-20")
	require.True(t, strings.HasPrefix(rep, "*20\r\n"), rep)
	for i := 0; i < 20; i++ {
		rep := r.do("ZRANDMEMBER", "z", "2")
		require.True(t, strings.HasPrefix(rep, "*2\r\n"), rep)
		parts := strings.Split(rep, "\r\n")
		require.NotEqual(t, parts[2], parts[4])
	}
	// a big (skiplist) set is scanned in steps and every member comes back
	c := ts.client(t)
	ctx := context.Background()
	var zs []redis.Z
	for i := 0; i < 1000; i++ {
		zs = append(zs, redis.Z{Score: float64(i), Member: "m" + strconv.Itoa(i)})
	}
	require.NoError(t, c.ZAdd(ctx, "big", zs...).Err())
	require.Equal(t, "skiplist", c.ObjectEncoding(ctx, "big").Val())
	seen := map[string]string{}
	var cursor uint64
	steps := 0
	for {
		items, next, err := c.ZScan(ctx, "big", cursor, "", 20).Result()
		require.NoError(t, err)
		for i := 0; i+1 < len(items); i += 2 {
			seen[items[i]] = items[i+1]
		}
		steps++
		if cursor = next; cursor == 0 {
			break
		}
	}
	require.Len(t, seen, 1000)
	require.Greater(t, steps, 10)
	require.Equal(t, "999", seen["m999"])
}

// TestZSetBigRankAndRange exercises a set deep enough for a multi-level tree.
func TestZSetBigRankAndRange(t *testing.T) {
	ts := startServer(t, "")
	c := ts.client(t)
	ctx := context.Background()
	const n = 20000
	pipe := c.Pipeline()
	for i := 0; i < n; i++ {
		pipe.ZAdd(ctx, "big", redis.Z{Score: float64(i % 100), Member: fmt.Sprintf("m%05d", i)})
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(n), c.ZCard(ctx, "big").Val())
	// score i%100 then member: rank of m00005 (score 5) is 5*200 + 0
	require.Equal(t, int64(1000), c.ZRank(ctx, "big", "m00005").Val())
	require.Equal(t, int64(n-1-1000), c.ZRevRank(ctx, "big", "m00005").Val())
	require.Equal(t, []string{"m00005", "m00105"}, c.ZRange(ctx, "big", 1000, 1001).Val())
	require.Equal(t, int64(200), c.ZCount(ctx, "big", "7", "7").Val())
	require.Equal(t, int64(200), c.ZRemRangeByScore(ctx, "big", "7", "7").Val())
	require.Equal(t, int64(n-200), c.ZCard(ctx, "big").Val())
	require.Equal(t, []string{"m00008"}, c.ZRangeByScore(ctx, "big", &redis.ZRangeBy{Min: "(6", Max: "+inf", Count: 1}).Val())
}

// TestZSetSurvivesRestart writes through every kind of mutation and checks
// the contents after a restart.
func TestZSetSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	r.do("ZADD", "small", "1", "a", "2.5", "b", "-inf", "c", "3", "d")
	r.do("ZINCRBY", "small", "1.1", "a")
	r.do("ZREM", "small", "d")
	big := []string{"ZADD", "big"}
	for i := 0; i < 500; i++ {
		big = append(big, strconv.Itoa(i), "m"+strconv.Itoa(i))
	}
	r.do(big...)
	r.do("ZPOPMIN", "big", "3")
	r.do("ZREMRANGEBYSCORE", "big", "100", "(200")
	r.do("ZADD", "big", "XX", "1000", "m300")
	r.do("ZUNIONSTORE", "u", "2", "small", "big", "WEIGHTS", "2", "1")
	r.do("ZRANGESTORE", "rs", "big", "0", "9")
	r.do("ZADD", "gone", "1", "x")
	r.do("ZPOPMAX", "gone")
	r.do("SET", "replaced", "string")
	r.do("ZUNIONSTORE", "replaced", "1", "small")
	r.do("ZADD", "ttl", "1", "x")
	r.do("EXPIRE", "ttl", "1000")
	// whole-key moves take the elements along (Clone, ForEachElem)
	require.Equal(t, zInt(1), r.do("COPY", "big", "bigcopy"))
	require.Equal(t, zInt(1), r.do("ZADD", "bigcopy", "1", "onlyincopy"))
	r.do("ZADD", "torename", "1", "a", "2", "b")
	require.Equal(t, zOK, r.do("RENAME", "torename", "renamed"))
	r.do("ZADD", "tomove", "3", "c")
	require.Equal(t, zInt(1), r.do("MOVE", "tomove", "2"))
	keys := []string{"small", "big", "u", "rs", "replaced", "ttl", "bigcopy", "renamed"}
	before := map[string]string{}
	for _, k := range keys {
		before[k] = r.do("ZRANGE", k, "0", "-1", "WITHSCORES")
		before[k+" enc"] = r.do("OBJECT", "ENCODING", k)
	}
	require.Equal(t, zArr("c", "-inf", "a", "2.1000000000000001", "b", "2.5"), before["small"])
	ts.stop()

	ts2 := startServer(t, dir)
	r2 := ts2.raw(t)
	for _, k := range keys {
		require.Equal(t, before[k], r2.do("ZRANGE", k, "0", "-1", "WITHSCORES"), k)
		require.Equal(t, before[k+" enc"], r2.do("OBJECT", "ENCODING", k), k)
	}
	require.Equal(t, zInt(0), r2.do("EXISTS", "gone"))
	require.Equal(t, "+zset\r\n", r2.do("TYPE", "replaced"))
	ttl, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(r2.do("TTL", "ttl"), ":")))
	require.NoError(t, err)
	require.Greater(t, ttl, 900)
	require.Equal(t, zBulk("1000"), r2.do("ZSCORE", "big", "m300"))
	require.Equal(t, zInt(397), r2.do("ZCARD", "big"))
	require.Equal(t, zInt(398), r2.do("ZCARD", "bigcopy"))
	require.Equal(t, zInt(0), r2.do("EXISTS", "torename", "tomove"))
	require.Equal(t, zOK, r2.do("SELECT", "2"))
	require.Equal(t, zArr("c", "3"), r2.do("ZRANGE", "tomove", "0", "-1", "WITHSCORES"))
}

// TestZSetOneMemberOneDurableWrite checks element granularity: changing one
// member of a big set appends one durable record group, not the whole set.
func TestZSetOneMemberOneDurableWrite(t *testing.T) {
	ts := startServer(t, t.TempDir())
	r := ts.raw(t)
	args := []string{"ZADD", "big"}
	for i := 0; i < 5000; i++ {
		args = append(args, strconv.Itoa(i), "member:"+strconv.Itoa(i))
	}
	require.Equal(t, zInt(5000), r.do(args...))
	changes := ts.store.StatsRef().Changes.Load()
	require.Equal(t, zInt(1), r.do("ZADD", "big", "7", "new"))
	require.Equal(t, changes+1, ts.store.StatsRef().Changes.Load())
	require.Equal(t, zInt(1), r.do("ZREM", "big", "member:9"))
	require.Equal(t, changes+2, ts.store.StatsRef().Changes.Load())
	// a read-only command writes nothing
	r.do("ZRANGE", "big", "0", "10")
	require.Equal(t, changes+2, ts.store.StatsRef().Changes.Load())
}

func TestZSetBZPOPMINServedByZADDFromAnotherConnection(t *testing.T) {
	ts := startServer(t, t.TempDir())
	waiter, pusher := ts.raw(t), ts.raw(t)
	waiter.send("BZPOPMIN", "nokey", "q", "0")
	zWaitBlocked(t, ts, 1)
	require.Equal(t, zInt(2), pusher.do("ZADD", "q", "2", "b", "1", "a"))
	require.Equal(t, zArr("q", "a", "1"), waiter.reply())
	zWaitBlocked(t, ts, 0)
	require.Equal(t, zArr("b", "2"), pusher.do("ZRANGE", "q", "0", "-1", "WITHSCORES"))

	// BZPOPMAX and BZMPOP, and a push from inside MULTI/EXEC
	waiter.send("BZMPOP", "0", "2", "m1", "m2", "MAX", "COUNT", "5")
	zWaitBlocked(t, ts, 1)
	require.Equal(t, zOK, pusher.do("MULTI"))
	require.Equal(t, "+QUEUED\r\n", pusher.do("ZADD", "m2", "1", "x", "2", "y"))
	require.Equal(t, "*1\r\n"+zInt(2), pusher.do("EXEC"))
	require.Equal(t, "*2\r\n"+zBulk("m2")+"*2\r\n"+zArr("y", "2")+zArr("x", "1"), waiter.reply())
	require.Equal(t, zInt(0), pusher.do("EXISTS", "m2"))

	// a timeout answers a null array; inside MULTI it does not block
	require.Equal(t, zNullArray, waiter.do("BZPOPMAX", "nokey", "0.01"))
	require.Equal(t, zOK, waiter.do("MULTI"))
	waiter.do("BZPOPMIN", "nokey", "0")
	require.Equal(t, "*1\r\n"+zNullArray, waiter.do("EXEC"))

	// WRONGTYPE at once, but a key that changes type while waiting is passed over
	pusher.do("SET", "str", "v")
	require.Equal(t, zErr("WRONGTYPE Operation against a key holding the wrong kind of value"), waiter.do("BZPOPMIN", "str", "0"))
	waiter.send("BZPOPMIN", "w", "0")
	zWaitBlocked(t, ts, 1)
	pusher.do("SET", "w", "string")
	pusher.do("DEL", "w")
	pusher.do("ZADD", "w", "5", "five")
	require.Equal(t, zArr("w", "five", "5"), waiter.reply())

	// the served pop is durable
	pusher.do("ZADD", "d", "1", "one", "2", "two")
	waiter.do("BZPOPMIN", "d", "0")
	ts.stop()
	ts2 := startServer(t, ts.dir)
	require.Equal(t, zArr("two", "2"), ts2.raw(t).do("ZRANGE", "d", "0", "-1", "WITHSCORES"))
}

func zWaitBlocked(t *testing.T, ts *testServer, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for ts.srv.blockedClients() != n {
		if time.Now().After(deadline) {
			t.Fatalf("blocked clients: got %d, want %d", ts.srv.blockedClients(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestZSetWatchAndGoRedis(t *testing.T) {
	ts := startServer(t, "")
	c := ts.client(t)
	ctx := context.Background()
	require.NoError(t, c.ZAdd(ctx, "z", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"}).Err())
	got, err := c.ZRangeWithScores(ctx, "z", 0, -1).Result()
	require.NoError(t, err)
	require.Equal(t, []redis.Z{{Score: 1, Member: "a"}, {Score: 2, Member: "b"}}, got)
	// a ZADD from another client aborts a transaction watching the key
	err = c.Watch(ctx, func(tx *redis.Tx) error {
		require.NoError(t, c.ZAdd(ctx, "z", redis.Z{Score: 3, Member: "c"}).Err())
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZIncrBy(ctx, "z", 1, "a")
			return nil
		})
		return err
	}, "z")
	require.ErrorIs(t, err, redis.TxFailedErr)
	require.Equal(t, float64(1), c.ZScore(ctx, "z", "a").Val())
	// a ZADD that changes nothing does not
	err = c.Watch(ctx, func(tx *redis.Tx) error {
		require.NoError(t, c.ZAdd(ctx, "z", redis.Z{Score: 1, Member: "a"}).Err())
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZIncrBy(ctx, "z", 1, "a")
			return nil
		})
		return err
	}, "z")
	require.NoError(t, err)
	require.Equal(t, float64(2), c.ZScore(ctx, "z", "a").Val())
	require.Equal(t, "zset", c.Type(ctx, "z").Val())
	require.Equal(t, "listpack", c.ObjectEncoding(ctx, "z").Val())
}
