package server

import (
	"context"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luxdb/lux-go/storage"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func entry(id string, fv ...string) string {
	s := "*2\r\n" + bulk(id) + "*" + strconv.Itoa(len(fv)) + "\r\n"
	for _, f := range fv {
		s += bulk(f)
	}
	return s
}

// bulkValue returns the value of a raw bulk string reply.
func bulkValue(s string) string {
	i := strings.Index(s, "\r\n")
	return strings.TrimSuffix(s[i+2:], "\r\n")
}

func TestStreamXaddIDsAndErrors(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, bulk("1-1"), r.do("XADD", "s", "1-1", "a", "1"))
	require.Equal(t, bulk("1-2"), r.do("XADD", "s", "1-*", "b", "2"))
	require.Equal(t, bulk("5-0"), r.do("XADD", "s", "5", "c", "3"))
	require.Equal(t, "-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n", r.do("XADD", "s", "5-0", "c", "3"))
	require.Equal(t, "-ERR The ID specified in XADD must be greater than 0-0\r\n", r.do("XADD", "s2", "0-0", "c", "3"))
	require.Equal(t, ":0\r\n", r.do("EXISTS", "s2"))
	require.Equal(t, "-ERR Invalid stream ID specified as stream command argument\r\n", r.do("XADD", "s", "abc", "c", "3"))
	require.Equal(t, "-ERR Invalid stream ID specified as stream command argument\r\n", r.do("XADD", "s", "-", "c", "3"))
	require.Equal(t, "-ERR wrong number of arguments for 'xadd' command\r\n", r.do("XADD", "s", "*", "c"))
	require.Equal(t, "-ERR wrong number of arguments for 'xadd' command\r\n", r.do("XADD", "s", "*", "a", "b", "c"))
	require.Equal(t, "$-1\r\n", r.do("XADD", "nokey", "NOMKSTREAM", "*", "a", "b"))
	require.Equal(t, ":0\r\n", r.do("EXISTS", "nokey"))
	require.Equal(t, "-ERR syntax error, MAXLEN and MINID options at the same time are not compatible\r\n", r.do("XADD", "s", "MAXLEN", "1", "MINID", "1", "*", "a", "b"))
	require.Equal(t, "-ERR The MAXLEN argument must be >= 0.\r\n", r.do("XADD", "s", "MAXLEN", "-1", "*", "a", "b"))
	require.Equal(t, "-ERR syntax error, LIMIT cannot be used without the special ~ option\r\n", r.do("XADD", "s", "MAXLEN", "1", "LIMIT", "10", "*", "a", "b"))
	require.Equal(t, "-ERR syntax error, LIMIT cannot be used without specifying a trimming strategy\r\n", r.do("XADD", "s", "LIMIT", "10", "*", "a", "b"))
	require.Equal(t, "-ERR The LIMIT argument must be >= 0.\r\n", r.do("XADD", "s", "MAXLEN", "~", "1", "LIMIT", "-1", "*", "a", "b"))
	require.Equal(t, "-ERR value is not an integer or out of range\r\n", r.do("XADD", "s", "MAXLEN", "x", "*", "a", "b"))
	require.Equal(t, ":3\r\n", r.do("XLEN", "s"))
	require.Equal(t, "+stream\r\n", r.do("TYPE", "s"))
	require.Equal(t, bulk("stream"), r.do("OBJECT", "ENCODING", "s"))
	r.do("SET", "str", "x")
	require.Equal(t, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", r.do("XADD", "str", "*", "a", "b"))
	require.Equal(t, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", r.do("XLEN", "str"))
	// the largest ID exhausts the stream
	require.Equal(t, bulk("18446744073709551615-18446744073709551615"), r.do("XADD", "m", "18446744073709551615-18446744073709551615", "a", "b"))
	require.Equal(t, "-ERR The stream has exhausted the last possible ID, unable to add more items\r\n", r.do("XADD", "m", "*", "a", "b"))
}

func TestStreamRangeAndTrim(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	for i := 1; i <= 5; i++ {
		r.do("XADD", "s", strconv.Itoa(i)+"-0", "f", strconv.Itoa(i))
	}
	require.Equal(t, "*2\r\n"+entry("2-0", "f", "2")+entry("3-0", "f", "3"), r.do("XRANGE", "s", "2", "3"))
	require.Equal(t, "*1\r\n"+entry("3-0", "f", "3"), r.do("XRANGE", "s", "(2-0", "(4-0"))
	require.Equal(t, "*2\r\n"+entry("5-0", "f", "5")+entry("4-0", "f", "4"), r.do("XREVRANGE", "s", "+", "-", "COUNT", "2"))
	require.Equal(t, "*-1\r\n", r.do("XRANGE", "s", "-", "+", "COUNT", "0"))
	require.Equal(t, "*0\r\n", r.do("XRANGE", "nokey", "-", "+"))
	require.Equal(t, "-ERR invalid start ID for the interval\r\n", r.do("XRANGE", "s", "(18446744073709551615-18446744073709551615", "+"))
	require.Equal(t, "-ERR invalid end ID for the interval\r\n", r.do("XRANGE", "s", "-", "(0-0"))
	require.Equal(t, "-ERR syntax error\r\n", r.do("XRANGE", "s", "-", "+", "FOO"))
	require.Equal(t, ":2\r\n", r.do("XDEL", "s", "2-0", "3-0", "9-0"))
	require.Equal(t, "-ERR Invalid stream ID specified as stream command argument\r\n", r.do("XDEL", "s", "x"))
	require.Equal(t, ":1\r\n", r.do("XTRIM", "s", "MAXLEN", "2"))
	require.Equal(t, "*2\r\n"+entry("4-0", "f", "4")+entry("5-0", "f", "5"), r.do("XRANGE", "s", "-", "+"))
	require.Equal(t, ":1\r\n", r.do("XTRIM", "s", "MINID", "5"))
	require.Equal(t, "-ERR syntax error, XTRIM must be called with a trimming strategy\r\n", r.do("XTRIM", "s", "LIMIT", "0"))
	require.Equal(t, ":0\r\n", r.do("XTRIM", "nokey", "MAXLEN", "0"))
	// an emptied stream still exists
	require.Equal(t, ":1\r\n", r.do("XTRIM", "s", "MAXLEN", "0"))
	require.Equal(t, ":1\r\n", r.do("EXISTS", "s"))
	require.Equal(t, ":0\r\n", r.do("XLEN", "s"))
}

func TestStreamApproxTrimByNodes(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.do("CONFIG", "SET", "stream-node-max-entries", "100")
	for i := 0; i < 1000; i++ {
		r.do("XADD", "s", "*", "xitem", "v")
	}
	// whole nodes of 100 entries go: 1000 -> 600 for MAXLEN ~ 555
	require.Equal(t, ":400\r\n", r.do("XTRIM", "s", "MAXLEN", "~", "555"))
	require.Equal(t, ":600\r\n", r.do("XLEN", "s"))
	require.Equal(t, ":100\r\n", r.do("XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "150"))
	require.Equal(t, ":500\r\n", r.do("XLEN", "s"))
}

func TestStreamXsetidAndInfo(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, "-ERR no such key\r\n", r.do("XSETID", "s", "1-1"))
	r.do("XADD", "s", "5-5", "a", "b")
	require.Equal(t, "-ERR The ID specified in XSETID is smaller than the target stream top item\r\n", r.do("XSETID", "s", "1-1"))
	require.Equal(t, "-ERR The entries_added specified in XSETID is smaller than the target stream length\r\n", r.do("XSETID", "s", "6-0", "ENTRIESADDED", "0"))
	require.Equal(t, "-ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id\r\n", r.do("XSETID", "s", "6-0", "MAXDELETEDID", "7-0"))
	require.Equal(t, "+OK\r\n", r.do("XSETID", "s", "10-0", "ENTRIESADDED", "5", "MAXDELETEDID", "3-0"))
	require.Equal(t, "-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n", r.do("XADD", "s", "9-0", "a", "b"))
	info := r.do("XINFO", "STREAM", "s")
	require.Contains(t, info, bulk("last-generated-id")+bulk("10-0"))
	require.Contains(t, info, bulk("entries-added")+":5\r\n")
	require.Contains(t, info, bulk("max-deleted-entry-id")+bulk("3-0"))
	require.True(t, strings.HasPrefix(info, "*20\r\n"))
	require.True(t, strings.HasPrefix(r.do("XINFO", "STREAM", "s", "FULL"), "*18\r\n"))
	require.Equal(t, "-ERR no such key\r\n", r.do("XINFO", "STREAM", "nokey"))
	require.Equal(t, "-ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.\r\n", r.do("XINFO", "STREAM", "s", "FOO"))
	r.do("HELLO", "3")
	require.True(t, strings.HasPrefix(r.do("XINFO", "STREAM", "s"), "%10\r\n"))
}

func TestStreamXreadShapes(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.do("XADD", "a", "1-0", "f", "v")
	r.do("XADD", "b", "2-0", "g", "w")
	want2 := "*2\r\n*2\r\n" + bulk("a") + "*1\r\n" + entry("1-0", "f", "v") + "*2\r\n" + bulk("b") + "*1\r\n" + entry("2-0", "g", "w")
	require.Equal(t, want2, r.do("XREAD", "STREAMS", "a", "b", "0", "0"))
	require.Equal(t, "*-1\r\n", r.do("XREAD", "STREAMS", "a", "$"))
	require.Equal(t, "-ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.\r\n", r.do("XREAD", "STREAMS", "a", "b", "0"))
	require.Equal(t, "-ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.\r\n", r.do("XREAD", "STREAMS", "a", ">"))
	require.Equal(t, "-ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.\r\n", r.do("XREAD", "GROUP", "g", "c", "STREAMS", "a", "0"))
	require.Equal(t, "-ERR timeout is negative\r\n", r.do("XREAD", "BLOCK", "-1", "STREAMS", "a", "0"))
	require.Equal(t, "-ERR timeout is not an integer or out of range\r\n", r.do("XREAD", "BLOCK", "x", "STREAMS", "a", "0"))
	r.do("HELLO", "3")
	require.Equal(t, "%1\r\n"+bulk("a")+"*1\r\n"+entry("1-0", "f", "v"), r.do("XREAD", "STREAMS", "a", "0"))
	require.Equal(t, "_\r\n", r.do("XREAD", "STREAMS", "a", "$"))
}

func TestStreamXreadBlock(t *testing.T) {
	ts := startServer(t, "")
	w := ts.raw(t)
	w.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
	waitBlocked(t, ts, 1)
	r := ts.raw(t)
	// MULTI: XADD then DEL wakes nobody
	r.do("MULTI")
	r.do("XADD", "s", "1-0", "a", "1")
	r.do("DEL", "s")
	r.do("EXEC")
	waitBlocked(t, ts, 1)
	r.do("XADD", "s", "2-0", "b", "2")
	require.Equal(t, "*1\r\n*2\r\n"+bulk("s")+"*1\r\n"+entry("2-0", "b", "2"), w.reply())
	waitBlocked(t, ts, 0)
	// "$" is the last ID when the client blocked, not when it is woken
	w.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
	waitBlocked(t, ts, 1)
	r.do("MULTI")
	r.do("XADD", "s", "3-0", "c", "3")
	r.do("XADD", "s", "4-0", "d", "4")
	r.do("EXEC")
	require.Equal(t, "*1\r\n*2\r\n"+bulk("s")+"*2\r\n"+entry("3-0", "c", "3")+entry("4-0", "d", "4"), w.reply())
	// timeouts, CLIENT UNBLOCK
	require.Equal(t, "*-1\r\n", w.do("XREAD", "BLOCK", "20", "STREAMS", "s", "$"))
	id := strings.TrimSpace(strings.TrimPrefix(w.do("CLIENT", "ID"), ":"))
	w.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
	waitBlocked(t, ts, 1)
	require.Equal(t, ":1\r\n", r.do("CLIENT", "UNBLOCK", id, "ERROR"))
	require.Equal(t, "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n", w.reply())
	// inside MULTI, BLOCK answers at once
	r.do("MULTI")
	r.do("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
	require.Equal(t, "*1\r\n*-1\r\n", r.do("EXEC"))
}

func TestStreamXreadgroupBlockErrors(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.do("XADD", "s", "1-0", "a", "1")
	require.Equal(t, "+OK\r\n", r.do("XGROUP", "CREATE", "s", "g", "$"))
	w := ts.raw(t)
	w.send("XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "s", ">")
	waitBlocked(t, ts, 1)
	r.do("XADD", "s", "2-0", "b", "2")
	require.Equal(t, "*1\r\n*2\r\n"+bulk("s")+"*1\r\n"+entry("2-0", "b", "2"), w.reply())
	w.send("XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "s", ">")
	waitBlocked(t, ts, 1)
	require.Equal(t, ":1\r\n", r.do("XGROUP", "DESTROY", "s", "g"))
	require.Equal(t, "-NOGROUP the consumer group this client was blocked on no longer exists\r\n", w.reply())
	r.do("XGROUP", "CREATE", "s", "g", "$")
	w.send("XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "s", ">")
	waitBlocked(t, ts, 1)
	r.do("DEL", "s")
	require.Equal(t, "-UNBLOCKED the stream key no longer exists\r\n", w.reply())
	r.do("XADD", "s", "1-0", "a", "1")
	r.do("XGROUP", "CREATE", "s", "g", "$")
	w.send("XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "s", ">")
	waitBlocked(t, ts, 1)
	r.do("FLUSHALL")
	require.Equal(t, "-UNBLOCKED the stream key no longer exists\r\n", w.reply())
}

func TestStreamConsumerGroups(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, "-ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.\r\n", r.do("XGROUP", "CREATE", "s", "g", "$"))
	require.Equal(t, "+OK\r\n", r.do("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"))
	require.Equal(t, "-BUSYGROUP Consumer Group name already exists\r\n", r.do("XGROUP", "CREATE", "s", "g", "$"))
	require.Equal(t, "-NOGROUP No such consumer group 'x' for key name 's'\r\n", r.do("XGROUP", "SETID", "s", "x", "0"))
	require.Equal(t, "-ERR value for ENTRIESREAD must be positive or -1\r\n", r.do("XGROUP", "CREATE", "s", "g2", "$", "ENTRIESREAD", "-3"))
	require.Equal(t, "-ERR unknown subcommand 'FOO'. Try XGROUP HELP.\r\n", r.do("XGROUP", "FOO", "s", "g"))
	for i := 1; i <= 4; i++ {
		r.do("XADD", "s", strconv.Itoa(i)+"-0", "f", strconv.Itoa(i))
	}
	require.Equal(t, "*1\r\n*2\r\n"+bulk("s")+"*2\r\n"+entry("1-0", "f", "1")+entry("2-0", "f", "2"),
		r.do("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">"))
	require.Equal(t, "-NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with GROUP option\r\n", r.do("XREADGROUP", "GROUP", "g", "a", "STREAMS", "nokey", ">"))
	require.Equal(t, "-ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.\r\n", r.do("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", "$"))
	// history: the consumer's own pending entries
	require.Equal(t, "*1\r\n*2\r\n"+bulk("s")+"*2\r\n"+entry("1-0", "f", "1")+entry("2-0", "f", "2"),
		r.do("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"))
	require.Equal(t, "*4\r\n:2\r\n"+bulk("1-0")+bulk("2-0")+"*1\r\n*2\r\n"+bulk("alice")+bulk("2"), r.do("XPENDING", "s", "g"))
	p := r.do("XPENDING", "s", "g", "-", "+", "10")
	require.True(t, strings.HasPrefix(p, "*2\r\n*4\r\n"+bulk("1-0")+bulk("alice")), p)
	require.Equal(t, "*0\r\n", r.do("XPENDING", "s", "g", "-", "+", "10", "nobody"))
	require.Equal(t, "*0\r\n", r.do("XPENDING", "s", "g", "IDLE", "100000", "-", "+", "10"))
	require.Equal(t, "-NOGROUP No such key 's' or consumer group 'x'\r\n", r.do("XPENDING", "s", "x"))
	require.Equal(t, "-ERR syntax error\r\n", r.do("XPENDING", "s", "g", "-", "+"))
	// XACK
	require.Equal(t, "-ERR Invalid stream ID specified as stream command argument\r\n", r.do("XACK", "s", "g", "1-0", "bad"))
	require.Equal(t, ":1\r\n", r.do("XACK", "s", "g", "1-0", "9-9"))
	require.Equal(t, ":0\r\n", r.do("XACK", "s", "g", "1-0"))
	// XCLAIM and XAUTOCLAIM
	require.Equal(t, "*1\r\n"+bulk("2-0"), r.do("XCLAIM", "s", "g", "bob", "0", "2-0", "JUSTID"))
	require.Equal(t, "-ERR Unrecognized XCLAIM option 'FOO'\r\n", r.do("XCLAIM", "s", "g", "bob", "0", "2-0", "FOO"))
	require.Equal(t, "-ERR Invalid min-idle-time argument for XCLAIM\r\n", r.do("XCLAIM", "s", "g", "bob", "x", "2-0"))
	require.Equal(t, "-NOGROUP No such key 's' or consumer group 'x'\r\n", r.do("XCLAIM", "s", "x", "bob", "0", "2-0"))
	require.Equal(t, "*3\r\n"+bulk("0-0")+"*1\r\n"+entry("2-0", "f", "2")+"*0\r\n", r.do("XAUTOCLAIM", "s", "g", "carol", "0", "0"))
	require.Equal(t, "-ERR COUNT must be > 0\r\n", r.do("XAUTOCLAIM", "s", "g", "carol", "0", "0", "COUNT", "0"))
	r.do("XDEL", "s", "2-0")
	require.Equal(t, "*3\r\n"+bulk("0-0")+"*0\r\n*1\r\n"+bulk("2-0"), r.do("XAUTOCLAIM", "s", "g", "carol", "0", "0"))
	// XINFO GROUPS/CONSUMERS, CREATECONSUMER, DELCONSUMER
	require.Equal(t, ":1\r\n", r.do("XGROUP", "CREATECONSUMER", "s", "g", "dave"))
	require.Equal(t, ":0\r\n", r.do("XGROUP", "CREATECONSUMER", "s", "g", "dave"))
	r.do("XREADGROUP", "GROUP", "g", "dave", "COUNT", "1", "STREAMS", "s", ">")
	require.Equal(t, ":1\r\n", r.do("XGROUP", "DELCONSUMER", "s", "g", "dave"))
	groups := r.do("XINFO", "GROUPS", "s")
	require.Contains(t, groups, bulk("last-delivered-id")+bulk("3-0"))
	require.Contains(t, groups, bulk("entries-read")+":3\r\n")
	require.Contains(t, groups, bulk("lag")+":1\r\n")
	cons := r.do("XINFO", "CONSUMERS", "s", "g")
	require.True(t, strings.HasPrefix(cons, "*3\r\n"), cons) // alice, bob, carol
	require.Equal(t, "+OK\r\n", r.do("XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "0"))
	require.Equal(t, ":0\r\n", r.do("XGROUP", "DESTROY", "s", "nosuch"))
	require.Equal(t, ":1\r\n", r.do("XGROUP", "DESTROY", "s", "g"))
}

func TestStreamKeyspaceCommands(t *testing.T) {
	ts := startServer(t, "")
	c := ts.client(t)
	ctx := context.Background()
	require.NoError(t, c.XAdd(ctx, &redis.XAddArgs{Stream: "s", ID: "1-0", Values: []string{"a", "1"}}).Err())
	require.NoError(t, c.XGroupCreate(ctx, "s", "g", "0").Err())
	require.NoError(t, c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c", Streams: []string{"s", ">"}}).Err())
	require.NoError(t, c.Copy(ctx, "s", "s2", 0, false).Err())
	require.NoError(t, c.Rename(ctx, "s", "s3").Err())
	for _, k := range []string{"s2", "s3"} {
		p, err := c.XPending(ctx, k, "g").Result()
		require.NoError(t, err)
		require.Equal(t, int64(1), p.Count)
	}
	keys, _, err := c.ScanType(ctx, 0, "*", 100, "stream").Result()
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"s2", "s3"}, keys)
	require.NoError(t, c.Expire(ctx, "s3", time.Hour).Err())
	require.True(t, c.TTL(ctx, "s3").Val() > 0)
	require.NoError(t, c.Move(ctx, "s3", 1).Err())
	require.Equal(t, int64(1), c.Del(ctx, "s2").Val())
}

func TestStreamWatchAndNotifications(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	sub := ts.raw(t)
	r.do("CONFIG", "SET", "notify-keyspace-events", "KEA")
	sub.do("PSUBSCRIBE", "__keyevent@0__:*")
	r.do("XADD", "s", "MAXLEN", "1", "1-0", "a", "1")
	r.do("XADD", "s", "MAXLEN", "1", "2-0", "a", "1")
	r.do("XGROUP", "CREATE", "s", "g", "0")
	var evs []string
	for i := 0; i < 4; i++ {
		evs = append(evs, sub.reply())
	}
	all := strings.Join(evs, "")
	require.Contains(t, evs[0], "xadd")
	require.Contains(t, evs[1], "xadd")
	require.Contains(t, evs[2], "xtrim")
	require.Contains(t, all, "xgroup-create")
	// WATCH sees an XADD
	w := ts.raw(t)
	w.do("WATCH", "s")
	r.do("XADD", "s", "*", "b", "2")
	w.do("MULTI")
	w.do("PING")
	require.Equal(t, "*-1\r\n", w.do("EXEC"))
	// and, as in Redis, not what is only notified: group changes, XSETID,
	// deliveries, acknowledgements
	w.do("WATCH", "s")
	r.do("XGROUP", "CREATECONSUMER", "s", "g", "c")
	r.do("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">")
	r.do("XACK", "s", "g", "2-0")
	r.do("XSETID", "s", "99999999999999-0")
	r.do("XGROUP", "SETID", "s", "g", "0")
	w.do("MULTI")
	w.do("PING")
	require.Equal(t, "*1\r\n+PONG\r\n", w.do("EXEC"))
}

func TestStreamRestart(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	for i := 1; i <= 300; i++ {
		r.do("XADD", "s", "*", "n", "v")
	}
	r.do("XDEL", "s", bulkValue(r.do("XADD", "s", "*", "gone", "1")))
	r.do("XGROUP", "CREATE", "s", "g", "0")
	r.do("XREADGROUP", "GROUP", "g", "alice", "COUNT", "10", "STREAMS", "s", ">")
	r.do("XGROUP", "CREATECONSUMER", "s", "g", "bob")
	infoBefore := r.do("XINFO", "STREAM", "s", "FULL", "COUNT", "0")
	rangeBefore := r.do("XRANGE", "s", "-", "+")
	pendBefore := r.do("XPENDING", "s", "g", "-", "+", "100")
	ts.stop()
	ts2 := startServer(t, dir)
	r2 := ts2.raw(t)
	require.Equal(t, rangeBefore, r2.do("XRANGE", "s", "-", "+"))
	require.Equal(t, ":300\r\n", r2.do("XLEN", "s"))
	require.Equal(t, stripIdle(pendBefore), stripIdle(r2.do("XPENDING", "s", "g", "-", "+", "100")))
	require.Equal(t, infoBefore, r2.do("XINFO", "STREAM", "s", "FULL", "COUNT", "0"))
	// an XACK after the restart survives the next one
	ack := append([]string{"XACK", "s", "g"}, firstIDs(r2.do("XPENDING", "s", "g", "-", "+", "100"))...)
	require.Equal(t, ":10\r\n", r2.do(ack...))
	ts2.stop()
	ts3 := startServer(t, dir)
	require.Equal(t, "*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n", ts3.raw(t).do("XPENDING", "s", "g"))
}

// stripIdle blanks XPENDING's idle times.
func stripIdle(s string) string {
	lines := strings.Split(s, "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ":") && i+2 < len(lines) && strings.HasPrefix(lines[i+1], ":") {
			lines[i] = ":_"
		}
	}
	return strings.Join(lines, "\r\n")
}

// firstIDs returns the IDs of an XPENDING extended reply.
func firstIDs(s string) []string {
	var out []string
	lines := strings.Split(s, "\r\n")
	for i := 0; i+2 < len(lines); i++ {
		if lines[i] == "*4" {
			out = append(out, lines[i+2])
		}
	}
	return out
}

// A payload DUMP wrote on Redis 7.0.15: stream s with 1-0..6-0, 2-0 deleted,
// group g (alice owns 1-0, 3-0, 4-0; bob owns nothing).
const redisStreamDump = "13011000000000000000010000000000000000c3405b407312730000002b00050101010201816602816702002009000020010982763103817802050103201c400e0032800e00022001400e0033c00e0003600e0034c00e0004600e0035800e01000140030d0101856f746865720601010601ff0506000100020006010167040081ffffffffffffffff0300000000000000010000000000000000ee609946a20100000100000000000000030000000000000000ee609946a20100000100000000000000040000000000000000ee609946a2010000010205616c696365ee609946a20100000300000000000000010000000000000000000000000000000300000000000000000000000000000004000000000000000003626f62f1609946a2010000000a009af15a85df677af2"

func TestStreamDumpRestore(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	p, err := hex.DecodeString(redisStreamDump)
	require.NoError(t, err)
	require.Equal(t, "+OK\r\n", r.do("RESTORE", "s", "0", string(p)))
	require.Equal(t, "*5\r\n"+entry("1-0", "f", "v1", "g", "x")+entry("3-0", "f", "v3", "g", "x")+entry("4-0", "f", "v4", "g", "x")+
		entry("5-0", "f", "v5", "g", "x")+entry("6-0", "other", "1"), r.do("XRANGE", "s", "-", "+"))
	info := r.do("XINFO", "STREAM", "s")
	require.Contains(t, info, bulk("max-deleted-entry-id")+bulk("2-0"))
	require.Contains(t, info, bulk("entries-added")+":6\r\n")
	require.Equal(t, "*4\r\n:3\r\n"+bulk("1-0")+bulk("4-0")+"*1\r\n*2\r\n"+bulk("alice")+bulk("3"), r.do("XPENDING", "s", "g"))
	require.Contains(t, r.do("XINFO", "CONSUMERS", "s", "g"), bulk("bob"))
	// lux's own payload restores to the same stream
	d := bulkValue(r.do("DUMP", "s"))
	require.Equal(t, "+OK\r\n", r.do("RESTORE", "s2", "0", d))
	require.Equal(t, r.do("XRANGE", "s", "-", "+"), r.do("XRANGE", "s2", "-", "+"))
	require.Equal(t, r.do("XINFO", "STREAM", "s", "FULL"), r.do("XINFO", "STREAM", "s2", "FULL"))
	// a damaged payload is refused
	bad := []byte(d)
	bad[20] ^= 0xff
	require.Equal(t, "-ERR DUMP payload version or checksum are wrong\r\n", r.do("RESTORE", "s3", "0", string(bad)))
}

// Random stream commands against a persistent server, restarted now and
// then: after every restart XRANGE and XINFO STREAM FULL (all entries,
// groups, pending entries, consumers, counters) are what they were before
// (the node count aside: nodes are rebuilt from the live entries).
func TestStreamRandomRestarts(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	rng := rand.New(rand.NewPCG(7, 11))
	pick := func(n int) string { return strconv.Itoa(rng.IntN(n)) }
	groups := []string{"g1", "g2"}
	cons := []string{"a", "b", "c"}
	snapshot := func(r *rawConn) string {
		out := ""
		for _, k := range []string{"s1", "s2"} {
			out += r.do("XRANGE", k, "-", "+")
			info := r.do("XINFO", "STREAM", k, "FULL", "COUNT", "0")
			lines := strings.Split(info, "\r\n")
			for i := 0; i < len(lines); i++ {
				if lines[i] == "radix-tree-keys" || lines[i] == "radix-tree-nodes" {
					lines[i+1] = ":_"
				}
			}
			out += strings.Join(lines, "\r\n")
		}
		return out
	}
	for step := 0; step < 3000; step++ {
		k := "s" + strconv.Itoa(1+rng.IntN(2))
		g := groups[rng.IntN(2)]
		c := cons[rng.IntN(3)]
		id := pick(400) + "-" + pick(3)
		switch op := rng.IntN(100); {
		case op < 35:
			if rng.IntN(2) == 0 {
				r.do("XADD", k, "*", "f", pick(1000))
			} else {
				r.do("XADD", k, id, "f", pick(1000), "g", "x")
			}
		case op < 42:
			r.do("XDEL", k, id, pick(400)+"-0")
		case op < 45:
			switch rng.IntN(3) {
			case 0:
				r.do("XTRIM", k, "MAXLEN", "~", pick(200))
			case 1:
				r.do("XTRIM", k, "MAXLEN", pick(300))
			default:
				r.do("XTRIM", k, "MINID", id)
			}
		case op < 50:
			r.do("XGROUP", "CREATE", k, g, []string{"0", "$", id}[rng.IntN(3)], "MKSTREAM")
		case op < 51:
			r.do("XGROUP", "DESTROY", k, g)
		case op < 54:
			r.do("XGROUP", "CREATECONSUMER", k, g, c)
		case op < 56:
			r.do("XGROUP", "DELCONSUMER", k, g, c)
		case op < 58:
			r.do("XGROUP", "SETID", k, g, id)
		case op < 75:
			if rng.IntN(4) == 0 {
				r.do("XREADGROUP", "GROUP", g, c, "COUNT", pick(5), "STREAMS", k, "0")
			} else if rng.IntN(5) == 0 {
				r.do("XREADGROUP", "GROUP", g, c, "NOACK", "COUNT", pick(5), "STREAMS", k, ">")
			} else {
				r.do("XREADGROUP", "GROUP", g, c, "COUNT", pick(5), "STREAMS", k, ">")
			}
		case op < 85:
			r.do("XACK", k, g, id, pick(400)+"-0")
		case op < 92:
			r.do("XCLAIM", k, g, c, "0", id, pick(400)+"-0", []string{"JUSTID", "FORCE", "RETRYCOUNT"}[rng.IntN(3)], "3")
		case op < 97:
			r.do("XAUTOCLAIM", k, g, c, "0", "0", "COUNT", pick(10)+"1")
		default:
			r.do("XSETID", k, "999999999999999-0", "ENTRIESADDED", "100000", "MAXDELETEDID", "1-0")
		}
		if step%500 == 499 {
			before := snapshot(r)
			ts.stop()
			ts = startServer(t, dir)
			r = ts.raw(t)
			require.Equal(t, before, snapshot(r), "after step %d", step)
		}
	}
}

// The same random stream commands against a server whose streams are
// evicted to disk all the time (persistence, a small --maxmemory) and one
// without persistence: every reply is the same (explicit IDs only; replies
// with delivery times are not compared).
func TestStreamTieredMatchesInMemory(t *testing.T) {
	store, err := storage.Open(storage.Options{Dir: t.TempDir(), Sync: storage.SyncEverySec, MaxMemory: 2 << 20, Policy: storage.PolicyAllKeysLRU})
	require.NoError(t, err)
	s := New(DefaultConfig(), store)
	s.cfg.Port = 0
	require.NoError(t, s.Listen())
	go s.Serve()
	tiered := &testServer{srv: s, store: store, addr: s.Addr().String()}
	t.Cleanup(tiered.stop)
	mem := startServer(t, "")
	a, b := tiered.raw(t), mem.raw(t)
	rng := rand.New(rand.NewPCG(3, 5))
	pick := func(n int) string { return strconv.Itoa(rng.IntN(n)) }
	big := strings.Repeat("x", 2000)
	next := map[string]int{}
	for step := 0; step < 4000; step++ {
		k := "s" + pick(40)
		g := "g" + pick(2)
		c := "c" + pick(3)
		id := pick(next[k]+2) + "-0"
		var cmd []string
		switch op := rng.IntN(100); {
		case op < 40:
			next[k] += 1 + rng.IntN(3)
			cmd = []string{"XADD", k, strconv.Itoa(next[k]) + "-0", "f", big[:rng.IntN(len(big))]}
		case op < 45:
			cmd = []string{"XDEL", k, id}
		case op < 48:
			cmd = []string{"XTRIM", k, "MAXLEN", "~", pick(50)}
		case op < 53:
			cmd = []string{"XGROUP", "CREATE", k, g, "0", "MKSTREAM"}
		case op < 55:
			cmd = []string{"XGROUP", "DELCONSUMER", k, g, c}
		case op < 70:
			cmd = []string{"XREADGROUP", "GROUP", g, c, "COUNT", pick(4), "STREAMS", k, []string{">", "0"}[rng.IntN(2)]}
		case op < 80:
			cmd = []string{"XACK", k, g, id}
		case op < 85:
			cmd = []string{"XCLAIM", k, g, c, "0", id, "JUSTID"}
		case op < 88:
			cmd = []string{"XAUTOCLAIM", k, g, c, "0", "0", "COUNT", "3", "JUSTID"}
		case op < 92:
			cmd = []string{"XPENDING", k, g}
		case op < 95:
			cmd = []string{"XINFO", "GROUPS", k}
		default:
			cmd = []string{"XRANGE", k, "-", "+"}
		}
		ra, rb := a.do(cmd...), b.do(cmd...)
		require.Equal(t, rb, ra, "step %d: %v", step, cmd)
	}
	require.Greater(t, store.StatsRef().DiskLoads.Load(), int64(100), "streams were read back from disk")
}

// Blocked XREADGROUP consumers are served in the order they blocked, one
// new entry each.
func TestStreamXreadgroupBlockFIFO(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.do("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
	var ws []*rawConn
	for i := 0; i < 3; i++ {
		w := ts.raw(t)
		w.send("XREADGROUP", "GROUP", "g", "c"+strconv.Itoa(i), "BLOCK", "0", "STREAMS", "s", ">")
		waitBlocked(t, ts, i+1)
		ws = append(ws, w)
	}
	for i := 0; i < 3; i++ {
		id := strconv.Itoa(i+1) + "-0"
		r.do("XADD", "s", id, "n", strconv.Itoa(i))
		require.Equal(t, "*1\r\n*2\r\n"+bulk("s")+"*1\r\n"+entry(id, "n", strconv.Itoa(i)), ws[i].reply(), "waiter %d", i)
		waitBlocked(t, ts, 2-i)
	}
	require.Equal(t, "*4\r\n:3\r\n"+bulk("1-0")+bulk("3-0")+"*3\r\n*2\r\n"+bulk("c0")+bulk("1")+"*2\r\n"+bulk("c1")+bulk("1")+"*2\r\n"+bulk("c2")+bulk("1"), r.do("XPENDING", "s", "g"))
}

// Random and hostile arguments never crash the server: every call gets a
// reply and the connection stays usable.
func TestStreamBadInput(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.do("XADD", "s", "1-0", "a", "b")
	r.do("XGROUP", "CREATE", "s", "g", "0")
	r.do("SET", "str", "v")
	rng := rand.New(rand.NewPCG(1, 9))
	words := []string{"s", "str", "nokey", "g", "c", "*", "$", ">", "-", "+", "(", "(0-0", "0-0", "1-0", "1-*", "-1", "0",
		"18446744073709551615-18446744073709551615", "18446744073709551616", "9223372036854775807", "-9223372036854775808",
		"MAXLEN", "MINID", "~", "=", "LIMIT", "NOMKSTREAM", "COUNT", "BLOCK", "STREAMS", "GROUP", "NOACK", "IDLE", "TIME",
		"RETRYCOUNT", "FORCE", "JUSTID", "LASTID", "ENTRIESADDED", "MAXDELETEDID", "MKSTREAM", "ENTRIESREAD", "FULL",
		"CREATE", "SETID", "DESTROY", "CREATECONSUMER", "DELCONSUMER", "STREAM", "GROUPS", "CONSUMERS", "HELP", "", "\x00", "1-",
		"-1-1", "+5", " 5", strings.Repeat("9", 200)}
	cmds := []string{"XADD", "XRANGE", "XREVRANGE", "XLEN", "XDEL", "XTRIM", "XSETID", "XREAD", "XREADGROUP", "XACK",
		"XPENDING", "XCLAIM", "XAUTOCLAIM", "XGROUP", "XINFO"}
	for i := 0; i < 20000; i++ {
		args := []string{cmds[rng.IntN(len(cmds))]}
		for n := rng.IntN(9); n > 0; n-- {
			w := words[rng.IntN(len(words))]
			if w == "BLOCK" {
				w = "COUNT" // no waiting here
			}
			args = append(args, w)
		}
		rep := r.do(args...)
		require.NotEmpty(t, rep, "%q", args)
	}
	require.Equal(t, "+PONG\r\n", r.do("PING"))
}
