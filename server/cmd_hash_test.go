package server

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// hsStep is one command and its exact raw RESP reply.
type hsStep struct {
	cmd  []string
	want string
}

func hc(args ...string) []string { return args }

func hsErr(msg string) string { return "-" + msg + "\r\n" }
func hsInt(n int64) string    { return ":" + strconv.FormatInt(n, 10) + "\r\n" }
func hsBulk(s string) string  { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

// hsArr is an array of bulk strings.
func hsArr(items ...string) string {
	out := fmt.Sprintf("*%d\r\n", len(items))
	for _, it := range items {
		out += hsBulk(it)
	}
	return out
}

const (
	hsOK   = "+OK\r\n"
	hsNil  = "$-1\r\n"
	hsZero = ":0\r\n"
	hsOne  = ":1\r\n"
	hsWT   = "-" + msgWrongType + "\r\n"
)

// hsEmptyScan is the reply of HSCAN/SSCAN on a missing key.
var hsEmptyScan = "*2\r\n" + hsBulk("0") + "*0\r\n"

// runHSSteps runs steps in order on a fresh lux server and, when
// LUX_REDIS_REF names a real redis-server (e.g. 127.0.0.1:7700), on it too:
// the tables are differential tests. The reference server is flushed.
func runHSSteps(t *testing.T, steps []hsStep) {
	t.Helper()
	ts := startServer(t, "")
	conns := []struct {
		name string
		r    *rawConn
	}{{"lux", ts.raw(t)}}
	if addr := os.Getenv("LUX_REDIS_REF"); addr != "" {
		nc, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { nc.Close() })
		r := &rawConn{t: t, c: nc, rd: bufio.NewReader(nc)}
		require.Equal(t, hsOK, r.do("FLUSHALL"))
		conns = append(conns, struct {
			name string
			r    *rawConn
		}{"redis", r})
	}
	for _, cn := range conns {
		for i, s := range steps {
			require.Equal(t, s.want, cn.r.do(s.cmd...), "%s step %d: %q", cn.name, i, s.cmd)
		}
	}
}

func TestHashReplies(t *testing.T) {
	runHSSteps(t, []hsStep{
		{hc("HSET", "h", "a", "1", "b", "2", "c", "3"), hsInt(3)},
		{hc("HSET", "h", "a", "10", "d", "4"), hsOne},
		{hc("HSET", "h", "a"), hsErr(wrongArgsMsg("hset"))},
		{hc("HSET", "h", "a", "1", "b"), hsErr(wrongArgsMsg("hset"))},
		{hc("HMSET", "h", "a", "1", "b"), hsErr(wrongArgsMsg("hmset"))},
		{hc("HMSET", "h", "x", "1", "y", "2"), hsOK},
		// a small hash keeps insertion order, also across a longer value
		{hc("HSET", "h", "b", "a-longer-value"), hsZero},
		{hc("HGETALL", "h"), hsArr("a", "10", "b", "a-longer-value", "c", "3", "d", "4", "x", "1", "y", "2")},
		{hc("HKEYS", "h"), hsArr("a", "b", "c", "d", "x", "y")},
		{hc("HVALS", "h"), hsArr("10", "a-longer-value", "3", "4", "1", "2")},
		{hc("HGET", "h", "a"), hsBulk("10")},
		{hc("HGET", "h", "zz"), hsNil},
		{hc("HGET", "nokey", "a"), hsNil},
		{hc("HMGET", "h", "a", "zz", "c"), "*3\r\n" + hsBulk("10") + hsNil + hsBulk("3")},
		{hc("HMGET", "nokey", "a", "b"), "*2\r\n" + hsNil + hsNil},
		{hc("HLEN", "h"), hsInt(6)},
		{hc("HLEN", "nokey"), hsZero},
		{hc("HSTRLEN", "h", "b"), hsInt(14)},
		{hc("HSTRLEN", "h", "zz"), hsZero},
		{hc("HSTRLEN", "nokey", "zz"), hsZero},
		{hc("HEXISTS", "h", "a"), hsOne},
		{hc("HEXISTS", "h", "zz"), hsZero},
		{hc("HEXISTS", "nokey", "a"), hsZero},
		{hc("HGETALL", "nokey"), "*0\r\n"},
		{hc("HKEYS", "nokey"), "*0\r\n"},
		{hc("HVALS", "nokey"), "*0\r\n"},
		{hc("HSETNX", "h", "a", "5"), hsZero},
		{hc("HSETNX", "h", "new", "5"), hsOne},
		{hc("HSETNX", "h2", "f", "v"), hsOne},
		{hc("HGETALL", "h2"), hsArr("f", "v")},
		{hc("HDEL", "h", "a", "zz", "a"), hsOne},
		{hc("HDEL", "h", "zz"), hsZero},
		{hc("HDEL", "nokey", "a"), hsZero},
		// deleting the last field deletes the key
		{hc("HDEL", "h2", "f", "g"), hsOne},
		{hc("EXISTS", "h2"), hsZero},
		{hc("TYPE", "h"), "+hash\r\n"},
		{hc("OBJECT", "ENCODING", "h"), hsBulk("listpack")},
		{hc("HSET", "h", "long", strings.Repeat("x", 65)), hsOne},
		{hc("OBJECT", "ENCODING", "h"), hsBulk("hashtable")},
		{hc("HSCAN", "nokey", "0"), hsEmptyScan},
		// a missing key answers before the options are even parsed
		{hc("HSCAN", "nokey", "0", "foo", "bar"), hsEmptyScan},
		{hc("HSCAN", "nokey", "abc"), hsErr(msgInvalidCursor)},
		{hc("HSCAN", "h", "0", "COUNT", "0"), hsErr(msgSyntax)},
		{hc("HSCAN", "h", "0", "COUNT", "abc"), hsErr(msgNotInt)},
		{hc("HSCAN", "h", "0", "foo"), hsErr(msgSyntax)},
		{hc("HSCAN", "h", "0", "MATCH"), hsErr(msgSyntax)},
		{hc("HSCAN", "h", " 1"), hsErr(msgInvalidCursor)},
		{hc("HSCAN", "h", "18446744073709551616"), hsErr(msgInvalidCursor)},
		{hc("HSCAN", "h", "+"), hsErr(msgInvalidCursor)},
		{hc("HSET", "small", "f1", "v1", "f2", "v2", "g", "v3"), hsInt(3)},
		{hc("HSCAN", "small", "0", "MATCH", "f*", "COUNT", "1"), "*2\r\n" + hsBulk("0") + hsArr("f1", "v1", "f2", "v2")},
		{hc("HSCAN", "small", "", "MATCH", "*"), "*2\r\n" + hsBulk("0") + hsArr("f1", "v1", "f2", "v2", "g", "v3")},
		// empty fields and values are ordinary strings
		{hc("HSET", "e", "", ""), hsOne},
		{hc("HGET", "e", ""), hsBulk("")},
		{hc("HSTRLEN", "e", ""), hsZero},
		{hc("HEXISTS", "e", ""), hsOne},
		{hc("HGETALL", "e"), hsArr("", "")},
	})
}

func TestHashSetRenameCopyPersist(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	for i := 0; i < 200; i++ {
		r.do("HSET", "h", fmt.Sprint("f", i), fmt.Sprint("v", i))
		r.do("SADD", "s", fmt.Sprint("m", i))
	}
	require.Equal(t, hsOK, r.do("RENAME", "h", "h2"))
	require.Equal(t, hsOne, r.do("COPY", "s", "s2"))
	require.Equal(t, hsOne, r.do("SREM", "s", "m0"))
	require.Equal(t, hsOne, r.do("HDEL", "h2", "f0"))
	ts.stop()

	ts2 := startServer(t, dir)
	r2 := ts2.raw(t)
	require.Equal(t, hsZero, r2.do("EXISTS", "h"))
	require.Equal(t, hsInt(199), r2.do("HLEN", "h2"))
	require.Equal(t, hsBulk("v199"), r2.do("HGET", "h2", "f199"))
	require.Equal(t, hsInt(199), r2.do("SCARD", "s"))
	require.Equal(t, hsInt(200), r2.do("SCARD", "s2"))
	require.Equal(t, hsOne, r2.do("SISMEMBER", "s2", "m0"))
}

func TestHashIncr(t *testing.T) {
	runHSSteps(t, []hsStep{
		{hc("HINCRBY", "h", "n", "5"), hsInt(5)},
		{hc("HINCRBY", "h", "n", "-100"), hsInt(-95)},
		{hc("HINCRBY", "h", "n", "abc"), hsErr(msgNotInt)},
		{hc("HINCRBY", "h", "n", "99999999999999999999"), hsErr(msgNotInt)},
		{hc("HSET", "h", "s", "hello", "sp", " 1", "inf", "inf"), hsInt(3)},
		{hc("HINCRBY", "h", "s", "1"), hsErr(msgHashNotInt)},
		{hc("HINCRBY", "h", "sp", "1"), hsErr(msgHashNotInt)},
		{hc("HINCRBY", "h", "max", "9223372036854775807"), hsInt(9223372036854775807)},
		{hc("HINCRBY", "h", "max", "1"), hsErr(msgOverflow)},
		{hc("HINCRBY", "h", "min", "-9223372036854775808"), hsInt(-9223372036854775808)},
		{hc("HINCRBY", "h", "min", "-1"), hsErr(msgOverflow)},
		{hc("HGET", "h", "max"), hsBulk("9223372036854775807")},
		{hc("HINCRBY", "fresh", "f", "0"), hsZero},
		{hc("HGETALL", "fresh"), hsArr("f", "0")},
		{hc("HINCRBYFLOAT", "h", "f", "10.50"), hsBulk("10.5")},
		{hc("HINCRBYFLOAT", "h", "f", "0.1"), hsBulk("10.6")},
		{hc("HINCRBYFLOAT", "h", "f", "-10.6"), hsBulk("0")},
		{hc("HINCRBYFLOAT", "h", "g", "5.0e3"), hsBulk("5000")},
		{hc("HINCRBYFLOAT", "h", "g", "-0.0"), hsBulk("5000")},
		{hc("HINCRBYFLOAT", "h", "n", "1.25"), hsBulk("-93.75")},
		{hc("HINCRBYFLOAT", "h", "big", "1e30"), hsBulk("1000000000000000000024696061952")},
		{hc("HINCRBYFLOAT", "h", "x", "3.0000000000000001"), hsBulk("3.0000000000000001")},
		{hc("HINCRBYFLOAT", "h", "f", "inf"), hsErr(msgHashIncrNaNInf)},
		{hc("HINCRBYFLOAT", "h", "f", "abc"), hsErr(msgNotFloat)},
		{hc("HINCRBYFLOAT", "h", "s", "1"), hsErr(msgHashNotFloat)},
		{hc("HINCRBYFLOAT", "h", "sp", "1"), hsErr(msgHashNotFloat)},
		{hc("HINCRBYFLOAT", "h", "inf", "1"), hsErr(msgNaNInf)},
		{hc("HINCRBYFLOAT", "nokey", "f", "abc"), hsErr(msgNotFloat)},
		{hc("EXISTS", "nokey"), hsZero},
		{hc("SET", "str", "x"), hsOK},
		{hc("HINCRBY", "str", "f", "1"), hsWT},
		{hc("HINCRBYFLOAT", "str", "f", "1"), hsWT},
		// argument errors come before the type check
		{hc("HINCRBY", "str", "f", "x"), hsErr(msgNotInt)},
	})
}

func TestHashWrongType(t *testing.T) {
	var steps []hsStep
	steps = append(steps, hsStep{hc("SET", "str", "x"), hsOK})
	for _, cmd := range [][]string{
		hc("HSET", "str", "a", "1"), hc("HMSET", "str", "a", "1"), hc("HSETNX", "str", "a", "1"),
		hc("HGET", "str", "a"), hc("HMGET", "str", "a"), hc("HDEL", "str", "a"), hc("HLEN", "str"),
		hc("HSTRLEN", "str", "a"), hc("HEXISTS", "str", "a"), hc("HKEYS", "str"), hc("HVALS", "str"),
		hc("HGETALL", "str"), hc("HRANDFIELD", "str"), hc("HRANDFIELD", "str", "2"), hc("HSCAN", "str", "0"),
	} {
		steps = append(steps, hsStep{cmd, hsWT})
	}
	steps = append(steps, hsStep{hc("GET", "str"), hsBulk("x")})
	runHSSteps(t, steps)
}

func TestHashRandFieldErrors(t *testing.T) {
	runHSSteps(t, []hsStep{
		{hc("HRANDFIELD", "nokey"), hsNil},
		{hc("HRANDFIELD", "nokey", "5"), "*0\r\n"},
		{hc("HRANDFIELD", "nokey", "-5", "WITHVALUES"), "*0\r\n"},
		{hc("HSET", "h", "a", "1", "b", "2", "c", "3"), hsInt(3)},
		{hc("HRANDFIELD", "h", "0"), "*0\r\n"},
		{hc("HRANDFIELD", "h", "0", "withvalues"), "*0\r\n"},
		{hc("HRANDFIELD", "h", "1", "foo"), hsErr(msgSyntax)},
		{hc("HRANDFIELD", "h", "1", "withvalues", "foo"), hsErr(msgSyntax)},
		{hc("HRANDFIELD", "h", "abc"), hsErr(msgNotInt)},
		{hc("HRANDFIELD", "h", "-9223372036854775808"), hsErr(msgHSLongRange)},
		{hc("HRANDFIELD", "h", "-9223372036854770000", "withvalues"), hsErr(msgHSValueRange)},
		{hc("HRANDFIELD", "h", "9223372036854775807", "withvalues"), hsErr(msgHSValueRange)},
		// a count at least the size returns the whole hash in its order
		{hc("HRANDFIELD", "h", "3"), hsArr("a", "b", "c")},
		{hc("HRANDFIELD", "h", "100", "WITHVALUES"), hsArr("a", "1", "b", "2", "c", "3")},
	})
}

func TestHashRandFieldShapes(t *testing.T) {
	ts := startServer(t, "")
	rc := ts.client(t)
	ctx := context.Background()
	want := map[string]string{}
	for i := 0; i < 300; i++ {
		want[fmt.Sprint("f", i)] = fmt.Sprint("v", i)
	}
	require.NoError(t, rc.HSet(ctx, "h", want).Err())
	for _, n := range []int{1, 5, 50, 150, 299, 300, 1000} {
		fields, err := rc.HRandField(ctx, "h", n).Result()
		require.NoError(t, err)
		require.Len(t, fields, min(n, 300))
		seen := map[string]bool{}
		for _, f := range fields {
			require.Contains(t, want, f)
			require.False(t, seen[f], "positive count returns distinct fields")
			seen[f] = true
		}
		kvs, err := rc.HRandFieldWithValues(ctx, "h", n).Result()
		require.NoError(t, err)
		require.Len(t, kvs, min(n, 300))
		for _, kv := range kvs {
			require.Equal(t, want[kv.Key], kv.Value)
		}
	}
	// a negative count may repeat and returns exactly |count| fields
	res, err := rc.Do(ctx, "HRANDFIELD", "h", "-1000", "WITHVALUES").StringSlice()
	require.NoError(t, err)
	require.Len(t, res, 2000)
	distinct := map[string]bool{}
	for i := 0; i < len(res); i += 2 {
		require.Equal(t, want[res[i]], res[i+1])
		distinct[res[i]] = true
	}
	require.Greater(t, len(distinct), 200, "picks are spread over the hash")
	one, err := rc.Do(ctx, "HRANDFIELD", "h").Text()
	require.NoError(t, err)
	require.Contains(t, want, one)
}

// hscanAll runs a complete HSCAN/SSCAN and returns every item with how often
// it was returned, plus the number of calls.
func hscanAll(t *testing.T, r *rawConn, cmd, key string, opts ...string) (map[string]int, int) {
	t.Helper()
	got := map[string]int{}
	cursor := "0"
	calls := 0
	for {
		args := append([]string{cmd, key, cursor}, opts...)
		r.send(args...)
		reply := r.reply()
		rd := bufio.NewReader(strings.NewReader(reply))
		items := parseRESPStrings(t, rd).([]any)
		require.Len(t, items, 2)
		cursor = items[0].(string)
		for _, it := range items[1].([]any) {
			got[it.(string)]++
		}
		calls++
		if cursor == "0" {
			return got, calls
		}
		require.Less(t, calls, 100000)
	}
}

// parseRESPStrings decodes one reply of nested arrays of bulk strings.
func parseRESPStrings(t *testing.T, rd *bufio.Reader) any {
	line, err := rd.ReadString('\n')
	require.NoError(t, err)
	line = strings.TrimSuffix(line, "\r\n")
	switch line[0] {
	case '$':
		n, _ := strconv.Atoi(line[1:])
		buf := make([]byte, n+2)
		_, err := io_ReadFull(rd, buf)
		require.NoError(t, err)
		return string(buf[:n])
	case '*':
		n, _ := strconv.Atoi(line[1:])
		out := make([]any, n)
		for i := range out {
			out[i] = parseRESPStrings(t, rd)
		}
		return out
	}
	t.Fatalf("unexpected reply line %q", line)
	return nil
}

func TestHashScanWalksBigHash(t *testing.T) {
	ts := startServer(t, "")
	rc := ts.client(t)
	ctx := context.Background()
	fields := map[string]any{}
	for i := 0; i < 2000; i++ {
		fields[fmt.Sprint("field:", i)] = fmt.Sprint(i)
	}
	require.NoError(t, rc.HSet(ctx, "h", fields).Err())
	r := ts.raw(t)
	got, calls := hscanAll(t, r, "HSCAN", "h")
	require.Greater(t, calls, 20, "a hashtable hash is scanned in steps")
	for f, v := range fields {
		require.GreaterOrEqual(t, got[f], 1, f)
		require.GreaterOrEqual(t, got[v.(string)], 1)
	}
	got, _ = hscanAll(t, r, "HSCAN", "h", "MATCH", "field:1??", "COUNT", "100")
	require.Len(t, got, 200) // 100 fields and their 100 values
	for k := range got {
		if strings.HasPrefix(k, "field:") {
			require.Len(t, k, len("field:100"))
		}
	}
}

func TestHashScanUnderWrites(t *testing.T) {
	// fields present for the whole scan are returned although the hash grows
	// and shrinks (its index is rebuilt) between the calls
	ts := startServer(t, "")
	r := ts.raw(t)
	w := ts.raw(t)
	for i := 0; i < 500; i++ {
		require.Equal(t, hsOne, w.do("HSET", "h", fmt.Sprint("stable", i), "v"))
	}
	cursor := "0"
	got := map[string]bool{}
	for round := 0; ; round++ {
		r.send("HSCAN", "h", cursor, "COUNT", "5")
		items := parseRESPStrings(t, bufio.NewReader(strings.NewReader(r.reply()))).([]any)
		cursor = items[0].(string)
		for _, it := range items[1].([]any) {
			got[it.(string)] = true
		}
		if cursor == "0" {
			break
		}
		for j := 0; j < 40; j++ {
			f := fmt.Sprint("tmp", round, "-", j)
			if round < 30 {
				w.do("HSET", "h", f, "v")
			} else {
				w.do("HDEL", "h", fmt.Sprint("tmp", round-30, "-", j))
			}
		}
	}
	for i := 0; i < 500; i++ {
		require.True(t, got[fmt.Sprint("stable", i)], "stable%d missed", i)
	}
}

func TestHashPersistence(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	for i := 0; i < 600; i++ {
		r.do("HSET", "big", fmt.Sprint("f", i), fmt.Sprint("v", i))
	}
	require.Equal(t, hsInt(2), r.do("HDEL", "big", "f0", "f1"))
	require.Equal(t, hsZero, r.do("HSET", "big", "f2", "changed"))
	require.Equal(t, hsInt(7), r.do("HINCRBY", "big", "n", "7"))
	require.Equal(t, hsBulk("1.5"), r.do("HINCRBYFLOAT", "big", "fl", "1.5"))
	require.Equal(t, hsOne, r.do("HSETNX", "small", "a", "1"))
	require.Equal(t, hsOK, r.do("HMSET", "small", "b", "2"))
	require.Equal(t, hsOne, r.do("HSET", "gone", "x", "1"))
	require.Equal(t, hsOne, r.do("HDEL", "gone", "x"))
	// a type change drops the old hash's fields on disk
	require.Equal(t, hsOne, r.do("HSET", "retyped", "x", "1"))
	require.Equal(t, hsOne, r.do("DEL", "retyped"))
	require.Equal(t, hsOne, r.do("SADD", "retyped", "m"))
	ts.stop()

	ts2 := startServer(t, dir)
	r2 := ts2.raw(t)
	require.Equal(t, hsInt(600), r2.do("HLEN", "big"))
	require.Equal(t, hsNil, r2.do("HGET", "big", "f0"))
	require.Equal(t, hsBulk("changed"), r2.do("HGET", "big", "f2"))
	require.Equal(t, hsBulk("v599"), r2.do("HGET", "big", "f599"))
	require.Equal(t, hsInt(8), r2.do("HINCRBY", "big", "n", "1"))
	require.Equal(t, hsBulk("1.5"), r2.do("HGET", "big", "fl"))
	require.Equal(t, hsArr("a", "1", "b", "2"), r2.do("HGETALL", "small"))
	require.Equal(t, hsZero, r2.do("EXISTS", "gone"))
	require.Equal(t, hsArr("m"), r2.do("SMEMBERS", "retyped"))
	require.Equal(t, hsBulk("hashtable"), r2.do("OBJECT", "ENCODING", "big"))
	require.Equal(t, hsBulk("listpack"), r2.do("OBJECT", "ENCODING", "small"))
}

func TestHashInMultiAndWatch(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	other := ts.raw(t)
	require.Equal(t, hsOK, r.do("WATCH", "h"))
	require.Equal(t, hsOne, other.do("HSET", "h", "f", "v"))
	require.Equal(t, hsOK, r.do("MULTI"))
	require.Equal(t, "+QUEUED\r\n", r.do("HSET", "h", "g", "w"))
	require.Equal(t, "*-1\r\n", r.do("EXEC"), "HSET from another client dirties the WATCH")
	require.Equal(t, hsOK, r.do("MULTI"))
	r.do("HSET", "h", "g", "w")
	r.do("HINCRBY", "h", "n", "2")
	r.do("HGETALL", "h")
	require.Equal(t, "*3\r\n"+hsOne+hsInt(2)+hsArr("f", "v", "g", "w", "n", "2"), r.do("EXEC"))
}

func TestHashGoRedisRoundTrip(t *testing.T) {
	ts := startServer(t, "")
	rc := ts.client(t)
	ctx := context.Background()
	want := map[string]string{}
	for i := 0; i < 1000; i++ {
		want[fmt.Sprint("k", i)] = strings.Repeat("v", i%70)
	}
	require.NoError(t, rc.HSet(ctx, "h", want).Err())
	got, err := rc.HGetAll(ctx, "h").Result()
	require.NoError(t, err)
	require.Equal(t, want, got)
	keys, err := rc.HKeys(ctx, "h").Result()
	require.NoError(t, err)
	sort.Strings(keys)
	require.Len(t, keys, 1000)
	for i := 0; i < 1000; i += 2 {
		require.NoError(t, rc.HDel(ctx, "h", fmt.Sprint("k", i)).Err())
	}
	n, err := rc.HLen(ctx, "h").Result()
	require.NoError(t, err)
	require.EqualValues(t, 500, n)
	v, err := rc.HGet(ctx, "h", "k999").Result()
	require.NoError(t, err)
	require.Equal(t, want["k999"], v)
}
