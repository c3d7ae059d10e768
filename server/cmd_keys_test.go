package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luxdb/lux-go/storage"
	"github.com/stretchr/testify/require"
)

// keysStep is one command and its exact raw RESP reply.
type keysStep struct {
	cmd  []string
	want string
}

func kc(args ...string) []string { return args }

// keysRefAddr names a real redis-server to run the reply tables against too
// (differential check), e.g. LUX_REDIS_REF=127.0.0.1:7290. Its data is flushed.
func keysRefAddr() string { return os.Getenv("LUX_REDIS_REF") }

// runKeysSteps runs steps in order on a fresh lux server and, when a
// reference server is configured, on real Redis as well.
func runKeysSteps(t *testing.T, steps []keysStep) {
	t.Helper()
	ts := startServer(t, "")
	conns := map[string]*rawConn{"lux": ts.raw(t)}
	if addr := keysRefAddr(); addr != "" {
		nc, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { nc.Close() })
		r := &rawConn{t: t, c: nc, rd: bufio.NewReader(nc)}
		require.Equal(t, "+OK\r\n", r.do("FLUSHALL"))
		conns["redis"] = r
	}
	for name, r := range conns {
		for i, s := range steps {
			require.Equal(t, s.want, r.do(s.cmd...), "%s step %d: %q", name, i, s.cmd)
		}
	}
}

const (
	rOK   = "+OK\r\n"
	rNil  = "$-1\r\n"
	rZero = ":0\r\n"
	rOne  = ":1\r\n"
)

func rErr(msg string) string { return "-" + msg + "\r\n" }
func rInt(n int64) string    { return ":" + strconv.FormatInt(n, 10) + "\r\n" }
func rBulk(s string) string  { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }
func rArr(items ...string) string {
	out := fmt.Sprintf("*%d\r\n", len(items))
	for _, it := range items {
		out += rBulk(it)
	}
	return out
}

func TestKeysReplies(t *testing.T) {
	steps := []keysStep{
		// DEL / UNLINK / EXISTS / TOUCH / TYPE
		{kc("SET", "a", "1"), rOK},
		{kc("SET", "b", "hello"), rOK},
		{kc("EXISTS", "a", "a", "a", "nokey"), rInt(3)},
		{kc("EXISTS", "nokey"), rZero},
		{kc("TOUCH", "a", "b", "nokey", "b"), rInt(3)},
		{kc("TYPE", "a"), "+string\r\n"},
		{kc("TYPE", "nokey"), "+none\r\n"},
		{kc("DEL", "a", "a", "nokey"), rOne},
		{kc("UNLINK", "b", "nokey"), rOne},
		{kc("DEL"), rErr("ERR wrong number of arguments for 'del' command")},
		{kc("UNLINK"), rErr("ERR wrong number of arguments for 'unlink' command")},
		{kc("EXISTS"), rErr("ERR wrong number of arguments for 'exists' command")},
		{kc("TOUCH"), rErr("ERR wrong number of arguments for 'touch' command")},
		{kc("TYPE"), rErr("ERR wrong number of arguments for 'type' command")},
		{kc("TYPE", "a", "b"), rErr("ERR wrong number of arguments for 'type' command")},
		{kc("KEYS"), rErr("ERR wrong number of arguments for 'keys' command")},
		{kc("RANDOMKEY", "x"), rErr("ERR wrong number of arguments for 'randomkey' command")},
		{kc("RANDOMKEY"), rNil},
		{kc("KEYS", "*"), "*0\r\n"},
		{kc("SET", "", "empty"), rOK},
		{kc("KEYS", "*"), rArr("")},
		{kc("KEYS", "?*"), "*0\r\n"},
		{kc("RANDOMKEY"), rBulk("")},
		{kc("DEL", ""), rOne},
		{kc("SET", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "1"), rOK},
		{kc("KEYS", "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b"), "*0\r\n"},
		{kc("KEYS", "a[a]*"), rArr("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")},
		{kc("DEL", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), rOne},

		// RENAME / RENAMENX
		{kc("SET", "a", "1"), rOK},
		{kc("RENAME", "nokey", "b"), rErr("ERR no such key")},
		{kc("RENAMENX", "nokey", "b"), rErr("ERR no such key")},
		{kc("RENAME", "nokey", "nokey"), rErr("ERR no such key")},
		{kc("RENAME", "a", "a"), rOK},
		{kc("RENAMENX", "a", "a"), rZero},
		{kc("RENAME", "a", "b"), rOK},
		{kc("EXISTS", "a"), rZero},
		{kc("GET", "b"), rBulk("1")},
		{kc("SET", "c", "3"), rOK},
		{kc("RENAMENX", "b", "c"), rZero},
		{kc("RENAMENX", "b", "d"), rOne},
		{kc("RENAME", "d", "c"), rOK},
		{kc("GET", "c"), rBulk("1")},
		{kc("RENAME", "c"), rErr("ERR wrong number of arguments for 'rename' command")},

		// COPY
		{kc("COPY", "c", "b", "DB", "99"), rErr("ERR DB index is out of range")},
		{kc("COPY", "c", "b", "DB", "-1"), rErr("ERR DB index is out of range")},
		{kc("COPY", "c", "b", "DB", "x"), rErr("ERR value is not an integer or out of range")},
		{kc("COPY", "c", "b", "DB", "2147483648"), rErr("ERR value is out of range, value must between -2147483648 and 2147483647")},
		{kc("COPY", "c", "c"), rErr("ERR source and destination objects are the same")},
		{kc("COPY", "c", "c", "DB", "0"), rErr("ERR source and destination objects are the same")},
		{kc("COPY", "nokey", "nokey"), rErr("ERR source and destination objects are the same")},
		{kc("COPY", "c", "b", "foo"), rErr("ERR syntax error")},
		{kc("COPY", "c", "b", "DB"), rErr("ERR syntax error")},
		{kc("COPY", "c"), rErr("ERR wrong number of arguments for 'copy' command")},
		{kc("COPY", "nokey", "b"), rZero},
		{kc("COPY", "c", "b"), rOne},
		{kc("GET", "b"), rBulk("1")},
		{kc("SET", "c", "2"), rOK},
		{kc("GET", "b"), rBulk("1")},
		{kc("COPY", "c", "b"), rZero},
		{kc("COPY", "c", "b", "replace", "REPLACE"), rOne},
		{kc("GET", "b"), rBulk("2")},
		{kc("COPY", "c", "c", "DB", "3"), rOne},
		{kc("COPY", "c", "c", "DB", "3"), rZero},
		{kc("SELECT", "3"), rOK},
		{kc("GET", "c"), rBulk("2")},
		{kc("DEL", "c"), rOne},
		{kc("SELECT", "0"), rOK},

		// MOVE
		{kc("MOVE", "c", "x"), rErr("ERR value is not an integer or out of range")},
		{kc("MOVE", "c", "99"), rErr("ERR DB index is out of range")},
		{kc("MOVE", "c", "-1"), rErr("ERR DB index is out of range")},
		{kc("MOVE", "c", "2147483648"), rErr("ERR value is out of range, value must between -2147483648 and 2147483647")},
		{kc("MOVE", "c", "0"), rErr("ERR source and destination objects are the same")},
		{kc("MOVE", "nokey", "0"), rErr("ERR source and destination objects are the same")},
		{kc("MOVE", "nokey", "3"), rZero},
		{kc("MOVE", "c", "3"), rOne},
		{kc("EXISTS", "c"), rZero},
		{kc("SET", "c", "again"), rOK},
		{kc("MOVE", "c", "3"), rZero},
		{kc("SELECT", "3"), rOK},
		{kc("GET", "c"), rBulk("2")},
		{kc("DEL", "c"), rOne},
		{kc("SELECT", "0"), rOK},
		{kc("MOVE", "c"), rErr("ERR wrong number of arguments for 'move' command")},
		{kc("DEL", "b", "c"), rInt(2)},

		// EXPIRE family: option and range errors
		{kc("SET", "a", "1"), rOK},
		{kc("EXPIRE", "a", "10", "ab"), rErr("ERR Unsupported option ab")},
		{kc("EXPIRE", "a", "10", "XX", "AB"), rErr("ERR Unsupported option AB")},
		{kc("EXPIRE", "a", "10", "nx", "xx"), rErr("ERR NX and XX, GT or LT options at the same time are not compatible")},
		{kc("EXPIRE", "a", "10", "nx", "gt"), rErr("ERR NX and XX, GT or LT options at the same time are not compatible")},
		{kc("EXPIRE", "a", "10", "LT", "NX"), rErr("ERR NX and XX, GT or LT options at the same time are not compatible")},
		{kc("EXPIRE", "a", "10", "gt", "lt"), rErr("ERR GT and LT options at the same time are not compatible")},
		{kc("EXPIRE", "nokey", "x", "nx", "xx"), rErr("ERR NX and XX, GT or LT options at the same time are not compatible")},
		{kc("EXPIRE", "a", "x"), rErr("ERR value is not an integer or out of range")},
		{kc("EXPIRE", "a", ""), rErr("ERR value is not an integer or out of range")},
		{kc("EXPIRE", "a", "9223370399119966"), rErr("ERR invalid expire time in 'expire' command")},
		{kc("EXPIRE", "a", "9223372036854776"), rErr("ERR invalid expire time in 'expire' command")},
		{kc("EXPIRE", "a", "-9223372036854776"), rErr("ERR invalid expire time in 'expire' command")},
		{kc("EXPIREAT", "a", "9223372036854776"), rErr("ERR invalid expire time in 'expireat' command")},
		{kc("PEXPIRE", "a", "9223372036854770000"), rErr("ERR invalid expire time in 'pexpire' command")},
		{kc("EXPIRE", "a"), rErr("ERR wrong number of arguments for 'expire' command")},
		{kc("TTL", "a"), rInt(-1)},
		{kc("EXPIRE", "nokey", "100"), rZero},
		{kc("EXPIRE", "nokey", "100", "NX"), rZero},
		{kc("EXPIRE", "nokey", "100", "XX"), rZero},
		{kc("EXPIRE", "nokey", "100", "GT"), rZero},
		{kc("EXPIRE", "nokey", "100", "LT"), rZero},

		// EXPIRE family: NX / XX / GT / LT semantics
		{kc("EXPIRE", "a", "100", "xx"), rZero},
		{kc("EXPIRE", "a", "100", "gt"), rZero},
		{kc("EXPIRE", "a", "100", "nx"), rOne},
		{kc("EXPIRE", "a", "100", "nx"), rZero},
		{kc("EXPIRE", "a", "100", "NX", "NX"), rZero},
		{kc("EXPIRE", "a", "50", "gt"), rZero},
		{kc("EXPIRE", "a", "150", "gt"), rOne},
		{kc("TTL", "a"), rInt(150)},
		{kc("EXPIRE", "a", "200", "lt"), rZero},
		{kc("EXPIRE", "a", "50", "lt", "xx"), rOne},
		{kc("TTL", "a"), rInt(50)},
		{kc("PERSIST", "a"), rOne},
		{kc("PERSIST", "a"), rZero},
		{kc("PERSIST", "nokey"), rZero},
		{kc("EXPIRE", "a", "100", "lt"), rOne},
		{kc("TTL", "a"), rInt(100)},
		{kc("EXPIRE", "a", "-1", "gt"), rZero},
		{kc("EXISTS", "a"), rOne},
		{kc("EXPIRE", "a", "-10", "LT"), rOne},
		{kc("TTL", "a"), rInt(-2)},
		{kc("SET", "a", "1"), rOK},
		{kc("EXPIRE", "a", "0"), rOne},
		{kc("EXISTS", "a"), rZero},

		// absolute deadlines and the TTL family
		{kc("SET", "a", "1"), rOK},
		{kc("TTL", "nokey"), rInt(-2)},
		{kc("PTTL", "nokey"), rInt(-2)},
		{kc("EXPIRETIME", "nokey"), rInt(-2)},
		{kc("PEXPIRETIME", "nokey"), rInt(-2)},
		{kc("TTL", "a"), rInt(-1)},
		{kc("PTTL", "a"), rInt(-1)},
		{kc("EXPIRETIME", "a"), rInt(-1)},
		{kc("PEXPIRETIME", "a"), rInt(-1)},
		{kc("EXPIREAT", "a", "4102444800"), rOne},
		{kc("EXPIRETIME", "a"), rInt(4102444800)},
		{kc("PEXPIRETIME", "a"), rInt(4102444800000)},
		{kc("PEXPIREAT", "a", "4102444800499"), rOne},
		{kc("EXPIRETIME", "a"), rInt(4102444800)},
		{kc("PEXPIREAT", "a", "4102444800500"), rOne},
		{kc("EXPIRETIME", "a"), rInt(4102444801)},
		{kc("PEXPIREAT", "a", "9223372036854775807"), rOne},
		{kc("PEXPIRETIME", "a"), rInt(9223372036854775807)},
		{kc("EXPIRETIME", "a"), rInt(9223372036854776)},
		{kc("EXPIREAT", "a", "9223372036854775"), rOne},
		{kc("EXPIRETIME", "a"), rInt(9223372036854775)},
		{kc("PEXPIREAT", "a", "-9223372036854770000"), rOne},
		{kc("TTL", "a"), rInt(-2)},
		{kc("TTL"), rErr("ERR wrong number of arguments for 'ttl' command")},
		{kc("PERSIST"), rErr("ERR wrong number of arguments for 'persist' command")},

		// SCAN argument errors
		{kc("SCAN", "x"), rErr("ERR invalid cursor")},
		{kc("SCAN", " 0"), rErr("ERR invalid cursor")},
		{kc("SCAN", "0x1"), rErr("ERR invalid cursor")},
		{kc("SCAN", "18446744073709551616"), rErr("ERR invalid cursor")},
		{kc("SCAN", "x", "COUNT", "0"), rErr("ERR invalid cursor")},
		{kc("SCAN", "0", "count", "0"), rErr("ERR syntax error")},
		{kc("SCAN", "0", "COUNT", "-1"), rErr("ERR syntax error")},
		{kc("SCAN", "0", "count", "x"), rErr("ERR value is not an integer or out of range")},
		{kc("SCAN", "1", "count", "9223372036854775808"), rErr("ERR value is not an integer or out of range")},
		{kc("SCAN", "0", "foo"), rErr("ERR syntax error")},
		{kc("SCAN", "0", "type"), rErr("ERR syntax error")},
		{kc("SCAN", "0", "match"), rErr("ERR syntax error")},
		{kc("SCAN"), rErr("ERR wrong number of arguments for 'scan' command")},
		{kc("SCAN", "0"), "*2\r\n$1\r\n0\r\n*0\r\n"},
		{kc("SCAN", "-1"), "*2\r\n$1\r\n0\r\n*0\r\n"},
		{kc("SET", "k", "v"), rOK},
		{kc("SCAN", "0", "COUNT", "1000"), "*2\r\n$1\r\n0\r\n" + rArr("k")},
		{kc("SCAN", "", "COUNT", "1000"), "*2\r\n$1\r\n0\r\n" + rArr("k")},
		{kc("SCAN", "+0", "COUNT", "1000", "MATCH", "k", "TYPE", "STRING"), "*2\r\n$1\r\n0\r\n" + rArr("k")},
		{kc("SCAN", "0", "COUNT", "1000", "MATCH", "x*"), "*2\r\n$1\r\n0\r\n*0\r\n"},
		{kc("SCAN", "0", "COUNT", "1000", "TYPE", "hash"), "*2\r\n$1\r\n0\r\n*0\r\n"},
		{kc("DEL", "k"), rOne},

		// OBJECT
		{kc("OBJECT"), rErr("ERR wrong number of arguments for 'object' command")},
		{kc("OBJECT", "encoding"), rErr("ERR wrong number of arguments for 'object|encoding' command")},
		{kc("OBJECT", "ENCODING", "a", "b"), rErr("ERR wrong number of arguments for 'object|encoding' command")},
		{kc("OBJECT", "help", "x"), rErr("ERR wrong number of arguments for 'object|help' command")},
		{kc("OBJECT", "Foo", "a"), rErr("ERR unknown subcommand 'Foo'. Try OBJECT HELP.")},
		{kc("OBJECT", "encoding", "nokey"), rNil},
		{kc("OBJECT", "refcount", "nokey"), rNil},
		{kc("OBJECT", "idletime", "nokey"), rNil},
		{kc("OBJECT", "freq", "nokey"), rNil},
		{kc("SET", "i", "123"), rOK},
		{kc("OBJECT", "freq", "i"), rErr("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")},
		{kc("OBJECT", "encoding", "i"), rBulk("int")},
		{kc("OBJECT", "refcount", "i"), rInt(2147483647)},
		{kc("SET", "i", "10000"), rOK},
		{kc("OBJECT", "idletime", "i"), rZero}, // 0..9999 are shared objects in Redis with an old LRU
		{kc("OBJECT", "refcount", "i"), rOne},
		{kc("SET", "i", "-1"), rOK},
		{kc("OBJECT", "encoding", "i"), rBulk("int")},
		{kc("OBJECT", "refcount", "i"), rOne},
		{kc("SET", "i", "9223372036854775807"), rOK},
		{kc("OBJECT", "encoding", "i"), rBulk("int")},
		{kc("SET", "i", "9223372036854775808"), rOK},
		{kc("OBJECT", "encoding", "i"), rBulk("embstr")},
		{kc("SET", "i", "0123"), rOK},
		{kc("OBJECT", "encoding", "i"), rBulk("embstr")},
		{kc("SET", "i", strings.Repeat("x", 44)), rOK},
		{kc("OBJECT", "encoding", "i"), rBulk("embstr")},
		{kc("SET", "i", strings.Repeat("x", 45)), rOK},
		{kc("OBJECT", "encoding", "i"), rBulk("raw")},
		{kc("OBJECT", "refcount", "i"), rOne},
		{kc("OBJECT", "HELP"), "*15\r\n" + "+" + strings.Join(objectHelp, "\r\n+") + "\r\n"},
	}
	runKeysSteps(t, steps)
}

// TestKeysExpiry checks that short deadlines really expire keys for every
// reader, and that TTLs stay within their bounds.
func TestKeysExpiry(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, rOK, r.do("SET", "long", "v"))
	require.Equal(t, rOne, r.do("PEXPIRE", "long", "100000"))
	pttl, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(r.do("PTTL", "long"), ":")))
	require.NoError(t, err)
	require.True(t, pttl > 0 && pttl <= 100000, "pttl %d", pttl)
	require.Equal(t, rOne, r.do("DEL", "long"))

	require.Equal(t, rOK, r.do("SET", "p", "v"))
	require.Equal(t, rOne, r.do("PEXPIRE", "p", "50"))

	require.Equal(t, rOK, r.do("SET", "e", "v"))
	require.Equal(t, rOne, r.do("PEXPIREAT", "e", strconv.FormatInt(time.Now().UnixMilli()+50, 10)))
	require.Equal(t, rOK, r.do("SET", "s", "v"))
	require.Equal(t, rOne, r.do("PEXPIREAT", "s", "4102444800000"))
	time.Sleep(120 * time.Millisecond)
	for _, k := range []string{"p", "e"} {
		require.Equal(t, rZero, r.do("EXISTS", k), k)
		require.Equal(t, rInt(-2), r.do("TTL", k), k)
		require.Equal(t, "+none\r\n", r.do("TYPE", k), k)
		require.Equal(t, rZero, r.do("DEL", k), k)
		require.Equal(t, rZero, r.do("PERSIST", k), k)
		require.Equal(t, rZero, r.do("EXPIRE", k, "10"), k)
	}
	require.Equal(t, rArr("s"), r.do("KEYS", "*"))
	require.Equal(t, rBulk("s"), r.do("RANDOMKEY"))
	require.Equal(t, rInt(4102444800), r.do("EXPIRETIME", "s"))
	require.Equal(t, rErr(msgNoSuchKey), r.do("RENAME", "p", "q"))
}

// TestKeysScan iterates 1000 keys with a small COUNT: every key comes back
// exactly once, MATCH and TYPE filter, and the cursor ends at 0.
func TestKeysScan(t *testing.T) {
	ts := startServer(t, "")
	c := ts.client(t)
	ctx := context.Background()
	want := map[string]bool{}
	pipe := c.Pipeline()
	for i := 0; i < 1000; i++ {
		k := fmt.Sprintf("key:%d", i)
		want[k] = true
		pipe.Set(ctx, k, i, 0)
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
	fake := map[string]bool{}
	for i := 0; i < 20; i++ {
		k := fmt.Sprintf("fake:%d", i)
		fake[k] = true
		addFake(t, ts, 0, k, map[string]string{"f": "v"})
	}

	scanAll := func(args ...interface{}) (map[string]int, int) {
		got := map[string]int{}
		cursor := uint64(0)
		calls := 0
		for {
			cmd := append([]interface{}{"SCAN", cursor}, args...)
			res, err := c.Do(ctx, cmd...).Slice()
			require.NoError(t, err)
			require.Len(t, res, 2)
			cursor, err = strconv.ParseUint(res[0].(string), 10, 64)
			require.NoError(t, err)
			for _, k := range res[1].([]interface{}) {
				got[k.(string)]++
			}
			calls++
			require.Less(t, calls, 2000, "SCAN does not terminate")
			if cursor == 0 {
				return got, calls
			}
		}
	}

	got, calls := scanAll("COUNT", 7)
	require.Len(t, got, 1020)
	for k, n := range got {
		require.Equal(t, 1, n, "key %s returned %d times", k, n)
		require.True(t, want[k] || fake[k], k)
	}
	require.Greater(t, calls, 1, "small COUNT should take several calls")

	got, _ = scanAll("COUNT", 3, "MATCH", "key:1*")
	n := 0
	for k := range want {
		if strings.HasPrefix(k, "key:1") {
			n++
			require.Equal(t, 1, got[k], k)
		}
	}
	require.Len(t, got, n)

	got, _ = scanAll("TYPE", "string", "COUNT", 50)
	require.Len(t, got, 1000)
	got, _ = scanAll("TYPE", "NONE", "MATCH", "fake:1*")
	require.Len(t, got, 11) // fake:1, fake:10..fake:19: the fake type reports "none"

	got, calls = scanAll("COUNT", 100000)
	require.Len(t, got, 1020)
	require.Equal(t, 1, calls)

	keys, err := c.Keys(ctx, "key:99?").Result()
	require.NoError(t, err)
	sort.Strings(keys)
	require.Equal(t, []string{"key:990", "key:991", "key:992", "key:993", "key:994", "key:995", "key:996", "key:997", "key:998", "key:999"}, keys)
}

// TestKeysRenameTTL checks that RENAME, COPY and MOVE carry the deadline of
// the source and never the destination's.
func TestKeysRenameTTL(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	// absolute deadlines keep the assertions exact however slow the machine
	const d1, d2, d3 = "4102444800001", "4102444800002", "4102444800003"
	steps := []keysStep{
		{kc("SET", "src", "v", "PXAT", d1), rOK},
		{kc("SET", "dst", "old", "PXAT", d2), rOK},
		{kc("RENAME", "src", "dst"), rOK},
		{kc("PEXPIRETIME", "dst"), ":" + d1 + "\r\n"},
		{kc("GET", "dst"), rBulk("v")},
		{kc("SET", "plain", "p"), rOK},
		{kc("RENAME", "plain", "dst"), rOK},
		{kc("TTL", "dst"), rInt(-1)},
		{kc("SET", "t", "x", "PXAT", d3), rOK},
		{kc("RENAMENX", "t", "u"), rOne},
		{kc("PEXPIRETIME", "u"), ":" + d3 + "\r\n"},
		{kc("TTL", "t"), rInt(-2)},
		{kc("COPY", "u", "w"), rOne},
		{kc("PEXPIRETIME", "w"), ":" + d3 + "\r\n"},
		{kc("PEXPIRETIME", "u"), ":" + d3 + "\r\n"},
		{kc("COPY", "dst", "w", "REPLACE"), rOne},
		{kc("TTL", "w"), rInt(-1)},
		{kc("MOVE", "u", "5"), rOne},
		{kc("SELECT", "5"), rOK},
		{kc("PEXPIRETIME", "u"), ":" + d3 + "\r\n"},
		{kc("COPY", "u", "u", "DB", "6"), rOne},
		{kc("SELECT", "6"), rOK},
		{kc("PEXPIRETIME", "u"), ":" + d3 + "\r\n"},
		{kc("GET", "u"), rBulk("x")},
	}
	for i, s := range steps {
		require.Equal(t, s.want, r.do(s.cmd...), "step %d: %q", i, s.cmd)
	}
}

// TestKeysWatch checks that the mutations of this group invalidate WATCH.
func TestKeysWatch(t *testing.T) {
	ts := startServer(t, "")
	r, other := ts.raw(t), ts.raw(t)
	for _, cmd := range [][]string{
		{"DEL", "w"}, {"RENAME", "w", "z"}, {"RENAME", "z", "w"}, {"EXPIRE", "w", "100"},
		{"PERSIST", "w"}, {"MOVE", "w", "2"}, {"COPY", "z", "w", "REPLACE"},
	} {
		require.Equal(t, rOK, other.do("SET", "w", "1", "EX", "50"))
		require.Equal(t, rOK, other.do("SET", "z", "2"))
		require.Equal(t, rOK, r.do("WATCH", "w"))
		require.Equal(t, rOK, r.do("MULTI"))
		require.Equal(t, "+QUEUED\r\n", r.do("GET", "w"))
		if cmd[0] == "MOVE" {
			require.Equal(t, rOK, other.do("SELECT", "2"))
			other.do("DEL", "w")
			require.Equal(t, rOK, other.do("SELECT", "0"))
		}
		other.do(cmd...)
		require.Equal(t, "*-1\r\n", r.do("EXEC"), "%q did not abort EXEC", cmd)
	}
	// read-only commands do not
	require.Equal(t, rOK, other.do("SET", "w", "1"))
	require.Equal(t, rOK, r.do("WATCH", "w"))
	require.Equal(t, rOK, r.do("MULTI"))
	require.Equal(t, "+QUEUED\r\n", r.do("GET", "w"))
	for _, cmd := range [][]string{{"EXISTS", "w"}, {"TTL", "w"}, {"TOUCH", "w"}, {"TYPE", "w"}, {"OBJECT", "ENCODING", "w"}, {"SCAN", "0"}, {"KEYS", "*"}, {"PERSIST", "w"}} {
		other.do(cmd...)
	}
	require.Equal(t, "*1\r\n"+rBulk("1"), r.do("EXEC"))
}

// TestKeysInMulti runs the whole-database and cross-database commands inside
// MULTI/EXEC, where EXEC takes the locks for the queue.
func TestKeysInMulti(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, rOK, r.do("SET", "a", "1"))
	require.Equal(t, rOK, r.do("MULTI"))
	for _, cmd := range [][]string{{"COPY", "a", "b", "DB", "1"}, {"MOVE", "a", "2"}, {"KEYS", "*"}, {"SCAN", "0"}, {"RANDOMKEY"}, {"SELECT", "2"}, {"RENAME", "a", "c"}, {"KEYS", "*"}} {
		require.Equal(t, "+QUEUED\r\n", r.do(cmd...))
	}
	require.Equal(t, "*8\r\n"+rOne+rOne+"*0\r\n"+"*2\r\n$1\r\n0\r\n*0\r\n"+rNil+rOK+rOK+rArr("c"), r.do("EXEC"))
}

// TestKeysConcurrent runs renames, copies, moves and scans from many clients
// at once; it is meant for -race and to catch lock-order deadlocks.
func TestKeysConcurrent(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 6; w++ {
		c := ts.client(t)
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				a, b := fmt.Sprintf("k%d", i%17), fmt.Sprintf("k%d", (i*7+w)%17)
				var err error
				switch (i + w) % 7 {
				case 0:
					err = c.Set(ctx, a, i, time.Minute).Err()
				case 1:
					err = c.Rename(ctx, a, b).Err()
					if err != nil && err.Error() == msgNoSuchKey {
						err = nil
					}
				case 2:
					err = c.Copy(ctx, a, b, w%3, true).Err()
					if err != nil && err.Error() == msgSameObject {
						err = nil
					}
				case 3:
					err = c.Move(ctx, a, 1+w%3).Err()
				case 4:
					_, _, err = c.Scan(ctx, 0, "*", 5).Result()
				case 5:
					err = c.Keys(ctx, "k1*").Err()
				default:
					err = c.Expire(ctx, b, time.Hour).Err()
				}
				if err != nil && !errors.Is(err, context.Canceled) {
					errs <- fmt.Errorf("worker %d op %d: %w", w, i, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// ---- a fake collection type, to test RENAME/COPY/MOVE of collections ----

const fakeType storage.Type = 99

// fakeObj is a minimal collection: a map of elements persisted one record
// per element.
type fakeObj struct {
	t storage.Type
	m map[string]string
}

func (f *fakeObj) Type() storage.Type  { return f.t }
func (f *fakeObj) Len() int            { return len(f.m) }
func (f *fakeObj) Encoding() string    { return "fake" }
func (f *fakeObj) MetaPayload() []byte { return []byte(strconv.Itoa(len(f.m))) }
func (f *fakeObj) ForEachElem(fn func(sub, val []byte)) {
	for k, v := range f.m {
		fn([]byte(k), []byte(v))
	}
}

func (f *fakeObj) Clone() storage.Object {
	m := make(map[string]string, len(f.m))
	for k, v := range f.m {
		m[k] = v
	}
	return &fakeObj{t: f.t, m: m}
}

func (f *fakeObj) MemSize() int {
	n := 0
	for k, v := range f.m {
		n += len(k) + len(v)
	}
	return n
}

func init() {
	load := func(t storage.Type) storage.Loader {
		return func(meta []byte, it storage.ElemIter) (storage.Object, error) {
			m := map[string]string{}
			for it.Next() {
				m[string(it.Sub())] = string(it.Value())
			}
			if strconv.Itoa(len(m)) != string(meta) {
				return nil, fmt.Errorf("fake: meta says %s elements, found %d", meta, len(m))
			}
			return &fakeObj{t: t, m: m}, nil
		}
	}
	storage.RegisterLoader(fakeType, load(fakeType))
}

// withKey runs fn holding the shard lock of key in database dbi.
func withKey(ts *testServer, dbi int, key string, fn func(db storage.DB)) {
	var ls storage.LockSet
	ls.Add(ts.store.ShardOf(dbi, []byte(key)))
	ts.store.Lock(&ls)
	defer ts.store.Unlock(&ls)
	fn(ts.store.DB(dbi))
}

// addFake creates a fakeType collection key with its elements persisted.
func addFake(t testing.TB, ts *testServer, dbi int, key string, elems map[string]string) {
	addFakeOf(t, ts, fakeType, dbi, key, elems)
}

func addFakeOf(t testing.TB, ts *testServer, typ storage.Type, dbi int, key string, elems map[string]string) {
	t.Helper()
	m := map[string]string{}
	for k, v := range elems {
		m[k] = v
	}
	var obj storage.Object = &fakeObj{t: typ, m: m}
	withKey(ts, dbi, key, func(db storage.DB) {
		tx := db.Begin()
		tx.Store([]byte(key), obj, "set")
		tx.Commit()
	})
}

// fakeElems returns the elements of a fake collection key (nil if missing).
func fakeElems(ts *testServer, dbi int, key string) map[string]string {
	var out map[string]string
	withKey(ts, dbi, key, func(db storage.DB) {
		e := db.Peek([]byte(key))
		if e == nil {
			return
		}
		f, ok := e.Object().(*fakeObj)
		if !ok {
			return
		}
		out = map[string]string{}
		for k, v := range f.m {
			out[k] = v
		}
	})
	return out
}

// TestKeysCollections renames, copies and moves collection values, with and
// and checks that every
// element survives a restart under its new key.
func TestKeysCollections(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	elems := map[string]string{"a": "1", "b": "2", "c": "3"}
	for _, typ := range []storage.Type{fakeType} {
		p := fmt.Sprintf("t%d:", typ)
		addFakeOf(t, ts, typ, 0, p+"src", elems)
		addFakeOf(t, ts, typ, 0, p+"victim", map[string]string{"zzz": "gone"})
		require.Equal(t, rOK, r.do("SET", p+"str", "s"))
		require.Equal(t, rOne, r.do("PEXPIREAT", p+"src", "4102444800000"))
		require.Equal(t, rOK, r.do("RENAME", p+"src", p+"renamed"))
		require.Equal(t, rOne, r.do("COPY", p+"renamed", p+"copy"))
		require.Equal(t, rOne, r.do("COPY", p+"renamed", p+"victim", "REPLACE"))
		require.Equal(t, rOne, r.do("COPY", p+"renamed", p+"other", "DB", "4"))
		require.Equal(t, rOne, r.do("COPY", p+"renamed", p+"moved"))
		require.Equal(t, rOne, r.do("MOVE", p+"moved", "5"))
		require.Equal(t, rOK, r.do("RENAME", p+"str", p+"copy2"))
		require.Equal(t, rOne, r.do("COPY", p+"copy", p+"copy2", "REPLACE"))
		require.Equal(t, rBulk("fake"), r.do("OBJECT", "ENCODING", p+"copy"))
		require.Equal(t, rOne, r.do("OBJECT", "REFCOUNT", p+"copy"))

		// the copy is independent of its source
		withKey(ts, 0, p+"copy", func(db storage.DB) {
			e := db.Peek([]byte(p + "copy"))
			e.Object().(*fakeObj).m["a"] = "changed"
		})
		require.Equal(t, elems, fakeElems(ts, 0, p+"renamed"))
		require.Equal(t, rZero, r.do("EXISTS", p+"src"))
	}
	ts.stop()

	ts2 := startServer(t, dir)
	r2 := ts2.raw(t)
	for _, typ := range []storage.Type{fakeType} {
		p := fmt.Sprintf("t%d:", typ)
		require.Equal(t, rZero, r2.do("EXISTS", p+"src"), p)
		for _, k := range []string{"renamed", "copy", "victim", "copy2"} {
			require.Equal(t, elems, fakeElems(ts2, 0, p+k), p+k)
		}
		require.Equal(t, elems, fakeElems(ts2, 4, p+"other"), p)
		require.Equal(t, elems, fakeElems(ts2, 5, p+"moved"), p)
		require.Nil(t, fakeElems(ts2, 0, p+"moved"), p)
		require.Equal(t, rInt(4102444800000), r2.do("PEXPIRETIME", p+"renamed"))
		require.Equal(t, rInt(4102444800000), r2.do("PEXPIRETIME", p+"victim"))
		require.Equal(t, rInt(-2), r2.do("TTL", p+"str"))
	}
}

// TestKeysPersistence checks that deadlines, renames, copies and moves
// survive a restart.
func TestKeysPersistence(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	for _, s := range []keysStep{
		{kc("SET", "ttl", "v"), rOK},
		{kc("EXPIREAT", "ttl", "4102444800"), rOne},
		{kc("SET", "gone", "v"), rOK},
		{kc("PEXPIRE", "gone", "1"), rOne},
		{kc("SET", "persisted", "v", "EX", "100"), rOK},
		{kc("PERSIST", "persisted"), rOne},
		{kc("SET", "r1", "rv", "PXAT", "4102444800300"), rOK},
		{kc("RENAME", "r1", "r2"), rOK},
		{kc("COPY", "r2", "c1", "DB", "7"), rOne},
		{kc("SET", "m", "mv", "PXAT", "4102444800400"), rOK},
		{kc("MOVE", "m", "9"), rOne},
		{kc("SET", "d", "x"), rOK},
		{kc("DEL", "d"), rOne},
		{kc("SET", "neg", "x"), rOK},
		{kc("EXPIRE", "neg", "-1"), rOne},
	} {
		require.Equal(t, s.want, r.do(s.cmd...), "%q", s.cmd)
	}
	time.Sleep(5 * time.Millisecond)
	ts.stop()

	ts2 := startServer(t, dir)
	r2 := ts2.raw(t)
	for _, s := range []keysStep{
		{kc("EXPIRETIME", "ttl"), rInt(4102444800)},
		{kc("EXISTS", "gone"), rZero},
		{kc("TTL", "persisted"), rInt(-1)},
		{kc("EXISTS", "r1"), rZero},
		{kc("GET", "r2"), rBulk("rv")},
		{kc("PEXPIRETIME", "r2"), rInt(4102444800300)},
		{kc("EXISTS", "m"), rZero},
		{kc("EXISTS", "d", "neg"), rZero},
		{kc("SELECT", "7"), rOK},
		{kc("PEXPIRETIME", "c1"), rInt(4102444800300)},
		{kc("GET", "c1"), rBulk("rv")},
		{kc("SELECT", "9"), rOK},
		{kc("PEXPIRETIME", "m"), rInt(4102444800400)},
		{kc("GET", "m"), rBulk("mv")},
	} {
		require.Equal(t, s.want, r2.do(s.cmd...), "%q", s.cmd)
	}
}

// TestKeysRealCollections renames, copies and moves the collection types
// that are registered (lists, hashes, sets) and checks them after a restart.
func TestKeysRealCollections(t *testing.T) {
	for _, name := range []string{"rpush", "lrange", "hset", "hgetall", "sadd", "smembers"} {
		if commands[name] == nil {
			t.Skipf("%s is not registered yet", name)
		}
	}
	dir := t.TempDir()
	ts := startServer(t, dir)
	c := ts.client(t)
	ctx := context.Background()
	require.NoError(t, c.RPush(ctx, "l", "a", "b", "c").Err())
	require.NoError(t, c.HSet(ctx, "h", "f1", "v1", "f2", "v2").Err())
	require.NoError(t, c.SAdd(ctx, "s", "x", "y", "1").Err())
	require.NoError(t, c.Expire(ctx, "l", time.Hour).Err())
	require.NoError(t, c.Rename(ctx, "l", "l2").Err())
	require.Equal(t, int64(1), c.Copy(ctx, "l2", "l3", 0, false).Val())
	require.NoError(t, c.RPush(ctx, "l3", "d").Err()) // the copy is independent
	require.Equal(t, int64(1), c.Copy(ctx, "h", "h2", 0, false).Val())
	require.Equal(t, int64(1), c.Copy(ctx, "s", "s2", 3, false).Val())
	require.True(t, c.Move(ctx, "h", 4).Val())
	ts.stop()

	ts2 := startServer(t, dir)
	c2 := ts2.client(t)
	require.Equal(t, []string{"a", "b", "c"}, c2.LRange(ctx, "l2", 0, -1).Val())
	require.Equal(t, []string{"a", "b", "c", "d"}, c2.LRange(ctx, "l3", 0, -1).Val())
	require.Greater(t, c2.TTL(ctx, "l2").Val(), 50*time.Minute)
	require.Equal(t, map[string]string{"f1": "v1", "f2": "v2"}, c2.HGetAll(ctx, "h2").Val())
	require.Equal(t, int64(0), c2.Exists(ctx, "l", "h").Val())
	s := c2.SMembers(ctx, "s").Val()
	sort.Strings(s)
	require.Equal(t, []string{"1", "x", "y"}, s)
	r := ts2.raw(t)
	require.Equal(t, rOK, r.do("SELECT", "3"))
	require.Equal(t, "*3\r\n", r.do("SMEMBERS", "s2")[:4])
	require.Equal(t, rOK, r.do("SELECT", "4"))
	require.Equal(t, rInt(2), r.do("HLEN", "h"))
}
