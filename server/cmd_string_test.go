package server

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luxdb/lux-go/storage"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// strStep is one command and its exact raw RESP reply. A command named
// "@list" creates a non-string key (args[1]) for the wrong-type paths: lux
// has no list commands of its own in this file, real Redis uses RPUSH.
type strStep struct {
	cmd  []string
	want string
}

func sc(args ...string) []string { return args }

const (
	sOK    = "+OK\r\n"
	sNil   = "$-1\r\n"
	sEmpty = "$0\r\n\r\n"
	sZero  = ":0\r\n"
	sOne   = ":1\r\n"
)

func sErr(msg string) string { return "-" + msg + "\r\n" }
func sInt(n int64) string    { return ":" + strconv.FormatInt(n, 10) + "\r\n" }
func sBulk(s string) string  { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

// sArr builds an array reply from already encoded elements.
func sArr(elems ...string) string {
	return fmt.Sprintf("*%d\r\n", len(elems)) + strings.Join(elems, "")
}

// sRange is one LCS IDX match: [a0,a1] [b0,b1] and, when n >= 0, its length.
func sRange(a0, a1, b0, b1, n int64) string {
	parts := []string{sArr(sInt(a0), sInt(a1)), sArr(sInt(b0), sInt(b1))}
	if n >= 0 {
		parts = append(parts, sInt(n))
	}
	return sArr(parts...)
}

// strTestList is a minimal non-string value for the WRONGTYPE paths.
type strTestList struct{}

func (strTestList) Type() storage.Type                { return storage.TypeList }
func (strTestList) Len() int                          { return 1 }
func (strTestList) MemSize() int                      { return 16 }
func (strTestList) Encoding() string                  { return "quicklist" }
func (strTestList) MetaPayload() []byte               { return nil }
func (strTestList) ForEachElem(func(sub, val []byte)) {}
func (strTestList) Clone() storage.Object             { return strTestList{} }

func addStrTestList(ts *testServer, key string) {
	var ls storage.LockSet
	ls.Add(ts.store.ShardOf(0, []byte(key)))
	ts.store.Lock(&ls)
	defer ts.store.Unlock(&ls)
	tx := ts.store.DB(0).Begin()
	tx.Store([]byte(key), strTestList{}, "set")
	tx.Commit()
}

// strRefConn connects to the real redis-server named by LUX_REDIS_REF (e.g.
// 127.0.0.1:7190) so the same reply tables are checked against it; nil when
// unset. The reference server's data is flushed.
func strRefConn(t *testing.T) *rawConn {
	addr := os.Getenv("LUX_REDIS_REF")
	if addr == "" {
		return nil
	}
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	r := &rawConn{t: t, c: nc, rd: bufio.NewReader(nc)}
	require.Equal(t, sOK, r.do("FLUSHALL"))
	return r
}

// runStrSteps runs steps in order on a fresh lux server and, when a
// reference server is configured, on real Redis too.
func runStrSteps(t *testing.T, steps []strStep) {
	t.Helper()
	ts := startServer(t, "")
	type target struct {
		name string
		r    *rawConn
	}
	targets := []target{{"lux", ts.raw(t)}}
	if ref := strRefConn(t); ref != nil {
		targets = append(targets, target{"redis", ref})
	}
	for _, tg := range targets {
		for i, s := range steps {
			if s.cmd[0] == "@list" {
				if tg.name == "lux" {
					addStrTestList(ts, s.cmd[1])
				} else {
					require.Equal(t, sOne, tg.r.do("RPUSH", s.cmd[1], "x"))
				}
				continue
			}
			require.Equal(t, s.want, tg.r.do(s.cmd...), "%s step %d: %q", tg.name, i, s.cmd)
		}
	}
}

func TestStringSetOptions(t *testing.T) {
	invalidSet := sErr("ERR invalid expire time in 'set' command")
	runStrSteps(t, []strStep{
		// expire values are validated after the whole option list parsed
		{sc("SET", "k", "v", "EX", "0"), invalidSet},
		{sc("SET", "k", "v", "EX", "0", "foo"), sErr(msgSyntax)},
		{sc("SET", "k", "v", "EX", "abc", "foo"), sErr(msgSyntax)},
		{sc("SET", "k", "v", "EX", "abc"), sErr(msgNotInt)},
		{sc("SET", "k", "v", "EX", "-1"), invalidSet},
		{sc("SET", "k", "v", "PX", "0"), invalidSet},
		{sc("SET", "k", "v", "PXAT", "0"), invalidSet},
		{sc("SET", "k", "v", "EXAT", "-5"), invalidSet},
		{sc("SET", "k", "v", "EX", "1.5"), sErr(msgNotInt)},
		{sc("SET", "k", "v", "PX", "9223372036854775807"), invalidSet},
		{sc("SET", "k", "v", "EX", "9223372036854775"), invalidSet},
		{sc("SET", "k", "v", "EXAT", "9223372036854776"), invalidSet},
		{sc("EXISTS", "k"), sZero},
		// absolute deadlines are taken as given, however far
		{sc("SET", "k", "v", "PXAT", "9223372036854775807"), sOK},
		{sc("PEXPIRETIME", "k"), sInt(9223372036854775807)},
		{sc("SET", "k", "v", "EXAT", "9223372036854775"), sOK},
		{sc("PEXPIRETIME", "k"), sInt(9223372036854775000)},
		// conflicting options
		{sc("SET", "k", "v", "NX", "XX"), sErr(msgSyntax)},
		{sc("SET", "k", "v", "XX", "NX"), sErr(msgSyntax)},
		{sc("SET", "k", "v", "KEEPTTL", "EX", "10"), sErr(msgSyntax)},
		{sc("SET", "k", "v", "EX", "10", "KEEPTTL"), sErr(msgSyntax)},
		{sc("SET", "k", "v", "EX", "10", "PX", "10"), sErr(msgSyntax)},
		{sc("SET", "k", "v", "EXAT", "10", "PXAT", "10"), sErr(msgSyntax)},
		{sc("SET", "k", "v", "EX"), sErr(msgSyntax)},
		{sc("SET", "k", "v", "PERSIST"), sErr(msgSyntax)},
		{sc("SET", "k", "v", "foo"), sErr(msgSyntax)},
		// repeating the same option is allowed; the last value wins
		{sc("SET", "k", "v", "EXAT", "3000000000", "EXAT", "4000000000"), sOK},
		{sc("EXPIRETIME", "k"), sInt(4000000000)},
		{sc("SET", "k", "v", "nx", "nx"), sNil},
		{sc("SET", "k", "v1", "xx", "xx", "get", "get"), sBulk("v")},
		{sc("EXPIRETIME", "k"), sInt(-1)},
		// KEEPTTL
		{sc("SET", "k", "v", "EXAT", "4000000000"), sOK},
		{sc("SET", "k", "v2", "keepttl", "KEEPTTL"), sOK},
		{sc("EXPIRETIME", "k"), sInt(4000000000)},
		{sc("GET", "k"), sBulk("v2")},
		{sc("SET", "k", "v3"), sOK},
		{sc("EXPIRETIME", "k"), sInt(-1)},
		// GET with NX / XX
		{sc("SET", "k", "v4", "GET", "NX"), sBulk("v3")},
		{sc("SET", "k", "v4", "GET", "XX"), sBulk("v3")},
		{sc("GET", "k"), sBulk("v4")},
		{sc("SET", "new", "v", "GET", "XX"), sNil},
		{sc("EXISTS", "new"), sZero},
		{sc("SET", "new", "v", "GET", "NX"), sNil},
		{sc("SET", "new", "v2", "GET", "NX"), sBulk("v")},
		{sc("GET", "new"), sBulk("v")},
		{sc("SET", "new", "v", "Px", "100000", "nX"), sNil},
		{sc("SET", "k", "v5", "exat", "2000000000", "xx", "get"), sBulk("v4")},
		{sc("EXPIRETIME", "k"), sInt(2000000000)},
		// a deadline in the past stores an already expired key
		{sc("SET", "k", "v", "EXAT", "1"), sOK},
		{sc("GET", "k"), sNil},
		{sc("SET", "k", "v", "PXAT", "1", "GET"), sNil},
		{sc("EXISTS", "k"), sZero},
		// wrong type: SET overwrites, SET GET fails, after expire checks
		{sc("@list", "l"), ""},
		{sc("SET", "l", "v", "GET"), sErr(msgWrongType)},
		{sc("SET", "l", "v", "GET", "EX", "0"), invalidSet},
		{sc("SET", "l", "v", "GET", "NX"), sErr(msgWrongType)},
		{sc("SET", "l", "v", "NX"), sNil},
		{sc("SET", "l", "v"), sOK},
		{sc("GET", "l"), sBulk("v")},
		{sc("SET", "e", ""), sOK},
		{sc("GET", "e"), sEmpty},
		{sc("SET", "k"), sErr(wrongArgsMsg("set"))},
		{sc("GET"), sErr(wrongArgsMsg("get"))},
	})
}

func TestStringSetVariants(t *testing.T) {
	runStrSteps(t, []strStep{
		{sc("SETNX", "k", "v"), sOne},
		{sc("SETNX", "k", "w"), sZero},
		{sc("GET", "k"), sBulk("v")},
		{sc("SETEX", "k", "-1", "v"), sErr(invalidExpireMsg("setex"))},
		{sc("SETEX", "k", "0", "v"), sErr(invalidExpireMsg("setex"))},
		{sc("SETEX", "k", "abc", "v"), sErr(msgNotInt)},
		{sc("SETEX", "k", "1.5", "v"), sErr(msgNotInt)},
		{sc("SETEX", "k", "9223372036854775", "v"), sErr(invalidExpireMsg("setex"))},
		{sc("PSETEX", "k", "0", "v"), sErr(invalidExpireMsg("psetex"))},
		{sc("PSETEX", "k", "-5", "v"), sErr(invalidExpireMsg("psetex"))},
		{sc("PSETEX", "k", "9223372036854775807", "v"), sErr(invalidExpireMsg("psetex"))},
		{sc("GET", "k"), sBulk("v")},
		{sc("SETEX", "k", "100", "v2"), sOK},
		{sc("PSETEX", "k", "100000", "v3"), sOK},
		{sc("GET", "k"), sBulk("v3")},
		{sc("SETNX", "k", "v4"), sZero},
		{sc("SETEX", "k", "1"), sErr(wrongArgsMsg("setex"))},
		{sc("@list", "l"), ""},
		{sc("SETNX", "l", "v"), sZero},
		{sc("SETEX", "l", "100", "v"), sOK},
		{sc("GET", "l"), sBulk("v")},
		// GETSET removes the TTL, answers the old value
		{sc("SET", "g", "old", "EXAT", "4000000000"), sOK},
		{sc("GETSET", "g", "new"), sBulk("old")},
		{sc("EXPIRETIME", "g"), sInt(-1)},
		{sc("GETSET", "missing", "1"), sNil},
		{sc("GET", "missing"), sBulk("1")},
		{sc("@list", "l2"), ""},
		{sc("GETSET", "l2", "1"), sErr(msgWrongType)},
		// GETDEL
		{sc("GETDEL", "g"), sBulk("new")},
		{sc("GETDEL", "g"), sNil},
		{sc("EXISTS", "g"), sZero},
		{sc("GETDEL", "l2"), sErr(msgWrongType)},
		{sc("EXISTS", "l2"), sOne},
	})
}

func TestStringGetex(t *testing.T) {
	invalid := sErr(invalidExpireMsg("getex"))
	runStrSteps(t, []strStep{
		{sc("SET", "k", "v"), sOK},
		{sc("GETEX", "k", "EX", "0"), invalid},
		{sc("GETEX", "k", "EX", "-1"), invalid},
		{sc("GETEX", "k", "EX", "abc"), sErr(msgNotInt)},
		{sc("GETEX", "k", "PX", "9223372036854775807"), invalid},
		{sc("GETEX", "k", "EX", "9223372036854775"), invalid},
		// a missing key answers nil before the expire time is looked at
		{sc("GETEX", "missing", "EX", "0"), sNil},
		{sc("GETEX", "missing", "EX", "abc"), sNil},
		// but syntax comes first
		{sc("GETEX", "missing", "foo"), sErr(msgSyntax)},
		{sc("GETEX", "k", "PERSIST", "EX", "10"), sErr(msgSyntax)},
		{sc("GETEX", "k", "EX", "10", "PERSIST"), sErr(msgSyntax)},
		{sc("GETEX", "k", "EX", "10", "PX", "10"), sErr(msgSyntax)},
		{sc("GETEX", "k", "KEEPTTL"), sErr(msgSyntax)},
		{sc("GETEX", "k", "NX"), sErr(msgSyntax)},
		{sc("GETEX", "k", "XX"), sErr(msgSyntax)},
		{sc("GETEX", "k", "GET"), sErr(msgSyntax)},
		{sc("GETEX", "k", "EX"), sErr(msgSyntax)},
		{sc("GETEX", "k", "PERSIST", "PERSIST"), sBulk("v")},
		{sc("GETEX", "k", "exat", "4000000000"), sBulk("v")},
		{sc("EXPIRETIME", "k"), sInt(4000000000)},
		{sc("GETEX", "k"), sBulk("v")},
		{sc("EXPIRETIME", "k"), sInt(4000000000)},
		{sc("GETEX", "k", "PXAT", "4000000000123"), sBulk("v")},
		{sc("PEXPIRETIME", "k"), sInt(4000000000123)},
		{sc("GETEX", "k", "EXAT", "3000000000", "EXAT", "3500000000"), sBulk("v")},
		{sc("EXPIRETIME", "k"), sInt(3500000000)},
		{sc("GETEX", "k", "PXAT", "9223372036854775807"), sBulk("v")},
		{sc("PEXPIRETIME", "k"), sInt(9223372036854775807)},
		{sc("GETEX", "k", "PERSIST"), sBulk("v")},
		{sc("EXPIRETIME", "k"), sInt(-1)},
		// an absolute deadline in the past deletes the key after the reply
		{sc("GETEX", "k", "EXAT", "1"), sBulk("v")},
		{sc("EXISTS", "k"), sZero},
		{sc("GETEX", "k"), sNil},
		{sc("@list", "l"), ""},
		{sc("GETEX", "l"), sErr(msgWrongType)},
		{sc("GETEX", "l", "EX", "0"), sErr(msgWrongType)},
		{sc("GETEX"), sErr(wrongArgsMsg("getex"))},
	})
}

func TestStringMulti(t *testing.T) {
	runStrSteps(t, []strStep{
		{sc("MSET", "a"), sErr(wrongArgsMsg("mset"))},
		{sc("MSET", "a", "1", "b"), sErr(wrongArgsMsg("mset"))},
		{sc("MSETNX", "a", "1", "b"), sErr(wrongArgsMsg("msetnx"))},
		{sc("MSET", "a", "1", "b", "2"), sOK},
		{sc("MGET", "a", "b", "missing"), sArr(sBulk("1"), sBulk("2"), sNil)},
		{sc("MSETNX", "a", "9", "c", "3"), sZero},
		{sc("EXISTS", "c"), sZero},
		{sc("MSETNX", "c", "3", "d", "4"), sOne},
		// the same key twice: the last value wins
		{sc("MSETNX", "x", "xxx", "y", "yyy", "x", "zzz"), sOne},
		{sc("MGET", "x", "y"), sArr(sBulk("zzz"), sBulk("yyy"))},
		{sc("MSETNX", "x", "1", "x", "2"), sZero},
		// MSET clears TTLs
		{sc("SET", "t", "v", "EXAT", "4000000000"), sOK},
		{sc("MSET", "t", "w"), sOK},
		{sc("EXPIRETIME", "t"), sInt(-1)},
		{sc("@list", "l"), ""},
		{sc("MGET", "l", "a", "l"), sArr(sNil, sBulk("1"), sNil)},
		{sc("MGET"), sErr(wrongArgsMsg("mget"))},
		{sc("MSETNX", "l", "1"), sZero},
		{sc("MSET", "l", "1"), sOK},
		{sc("GET", "l"), sBulk("1")},
	})
}

func TestStringRanges(t *testing.T) {
	tooLong := sErr(msgStringTooLong)
	runStrSteps(t, []strStep{
		{sc("SET", "s", "hello"), sOK},
		{sc("GETRANGE", "s", "0", "-1"), sBulk("hello")},
		{sc("GETRANGE", "s", "-1", "-5"), sEmpty},
		{sc("GETRANGE", "s", "-100", "-1"), sBulk("hello")},
		{sc("GETRANGE", "s", "-100", "-50"), sBulk("h")}, // Redis's clamping quirk
		{sc("GETRANGE", "s", "2", "1"), sEmpty},
		{sc("GETRANGE", "s", "0", "100"), sBulk("hello")},
		{sc("GETRANGE", "s", "-3", "-1"), sBulk("llo")},
		{sc("GETRANGE", "s", "10", "20"), sEmpty},
		{sc("GETRANGE", "s", "4", "4"), sBulk("o")},
		{sc("GETRANGE", "s", "5", "5"), sEmpty},
		{sc("GETRANGE", "s", "0", "9223372036854775807"), sBulk("hello")},
		{sc("GETRANGE", "s", "-9223372036854775808", "-1"), sBulk("hello")},
		{sc("GETRANGE", "s", "9223372036854775807", "-9223372036854775808"), sEmpty},
		{sc("GETRANGE", "s", "abc", "1"), sErr(msgNotInt)},
		{sc("GETRANGE", "missing", "0", "abc"), sErr(msgNotInt)},
		{sc("GETRANGE", "missing", "0", "1"), sEmpty},
		{sc("SUBSTR", "s", "1", "2"), sBulk("el")},
		{sc("SUBSTR", "s", "1"), sErr(wrongArgsMsg("substr"))},
		{sc("SET", "e", ""), sOK},
		{sc("GETRANGE", "e", "0", "-1"), sEmpty},
		{sc("GETRANGE", "e", "0", "0"), sEmpty},
		{sc("STRLEN", "e"), sZero},
		{sc("STRLEN", "s"), sInt(5)},
		{sc("STRLEN", "missing"), sZero},

		// SETRANGE
		{sc("SETRANGE", "m", "0", ""), sZero},
		{sc("EXISTS", "m"), sZero},
		{sc("SETRANGE", "m", "536870912", ""), sZero},
		{sc("SETRANGE", "m", "536870912", "x"), tooLong},
		{sc("SETRANGE", "m", "9223372036854775807", "x"), tooLong},
		{sc("SETRANGE", "m", "-1", "x"), sErr(msgOffsetRange)},
		{sc("SETRANGE", "m", "-1", ""), sErr(msgOffsetRange)},
		{sc("SETRANGE", "m", "abc", "x"), sErr(msgNotInt)},
		{sc("SETRANGE", "m", "2", "ab"), sInt(4)},
		{sc("GET", "m"), sBulk("\x00\x00ab")},
		{sc("SETRANGE", "s", "536870912", ""), sInt(5)},
		{sc("SETRANGE", "s", "536870911", "xy"), tooLong},
		{sc("SETRANGE", "s", "10", "x"), sInt(11)},
		{sc("GET", "s"), sBulk("hello\x00\x00\x00\x00\x00x")},
		{sc("SETRANGE", "s", "1", "ABC"), sInt(11)},
		{sc("SETRANGE", "s", "9", "ZZZZ"), sInt(13)},
		{sc("GET", "s"), sBulk("hABCo\x00\x00\x00\x00ZZZZ")},
		{sc("SET", "t", "abc", "EXAT", "4000000000"), sOK},
		{sc("SETRANGE", "t", "1", "X"), sInt(3)},
		{sc("EXPIRETIME", "t"), sInt(4000000000)},

		// APPEND
		{sc("APPEND", "n", ""), sZero},
		{sc("EXISTS", "n"), sOne},
		{sc("APPEND", "n", "abc"), sInt(3)},
		{sc("APPEND", "n", "def"), sInt(6)},
		{sc("GET", "n"), sBulk("abcdef")},
		{sc("APPEND", "t", "yz"), sInt(5)},
		{sc("GET", "t"), sBulk("aXcyz")},
		{sc("EXPIRETIME", "t"), sInt(4000000000)},

		{sc("@list", "l"), ""},
		{sc("GETRANGE", "l", "0", "1"), sErr(msgWrongType)},
		{sc("GETRANGE", "l", "x", "1"), sErr(msgNotInt)},
		{sc("SETRANGE", "l", "0", "x"), sErr(msgWrongType)},
		{sc("SETRANGE", "l", "0", ""), sErr(msgWrongType)},
		{sc("SETRANGE", "l", "-1", "x"), sErr(msgOffsetRange)},
		{sc("STRLEN", "l"), sErr(msgWrongType)},
		{sc("APPEND", "l", "x"), sErr(msgWrongType)},
	})
}

func TestStringCounters(t *testing.T) {
	runStrSteps(t, []strStep{
		{sc("INCR", "n"), sOne},
		{sc("INCRBY", "n", "9223372036854775806"), sInt(9223372036854775807)},
		{sc("INCR", "n"), sErr(msgOverflow)},
		{sc("INCRBY", "n", "1"), sErr(msgOverflow)},
		{sc("DECRBY", "n", "-9223372036854775808"), sErr(msgDecrOverflow)},
		{sc("DECRBY", "n", "9223372036854775807"), sZero},
		{sc("DECR", "n"), sInt(-1)},
		{sc("SET", "m", "-9223372036854775808"), sOK},
		{sc("DECR", "m"), sErr(msgOverflow)},
		{sc("INCRBY", "m", "-1"), sErr(msgOverflow)},
		{sc("INCRBY", "m", "9223372036854775807"), sInt(-1)},
		{sc("INCRBY", "m", "abc"), sErr(msgNotInt)},
		{sc("INCRBY", "m", "1.5"), sErr(msgNotInt)},
		{sc("INCRBY", "m", "+1"), sErr(msgNotInt)},
		{sc("INCRBY", "m", ""), sErr(msgNotInt)},
		{sc("DECRBY", "m", "-3"), sInt(2)},
		// only canonical integers count as integers
		{sc("SET", "f", " 1"), sOK},
		{sc("INCR", "f"), sErr(msgNotInt)},
		{sc("SET", "f", "1 "), sOK},
		{sc("INCR", "f"), sErr(msgNotInt)},
		{sc("SET", "f", "01"), sOK},
		{sc("INCR", "f"), sErr(msgNotInt)},
		{sc("SET", "f", "1e5"), sOK},
		{sc("INCR", "f"), sErr(msgNotInt)},
		{sc("SET", "f", "-0"), sOK},
		{sc("INCR", "f"), sErr(msgNotInt)},
		{sc("SET", "f", "99999999999999999999"), sOK},
		{sc("INCR", "f"), sErr(msgNotInt)},
		{sc("SET", "f", ""), sOK},
		{sc("INCR", "f"), sErr(msgNotInt)},
		// the TTL survives INCR-family changes
		{sc("SET", "t", "10", "EXAT", "4000000000"), sOK},
		{sc("INCR", "t"), sInt(11)},
		{sc("INCRBYFLOAT", "t", "0.5"), sBulk("11.5")},
		{sc("EXPIRETIME", "t"), sInt(4000000000)},
		{sc("@list", "l"), ""},
		{sc("INCR", "l"), sErr(msgWrongType)},
		{sc("DECRBY", "l", "1"), sErr(msgWrongType)},
		{sc("DECRBY", "l", "abc"), sErr(msgNotInt)}, // the argument is parsed first
		{sc("INCRBYFLOAT", "l", "1"), sErr(msgWrongType)},
		{sc("INCRBY", "n"), sErr(wrongArgsMsg("incrby"))},
	})
}

func TestStringIncrbyfloat(t *testing.T) {
	runStrSteps(t, []strStep{
		{sc("INCRBYFLOAT", "a", "10.5"), sBulk("10.5")},
		{sc("INCRBYFLOAT", "a", "-10.5"), sBulk("0")},
		{sc("INCRBYFLOAT", "a", "-0.0"), sBulk("0")}, // no negative zero
		{sc("INCRBYFLOAT", "b", "3.0e3"), sBulk("3000")},
		// long double precision shows in the 17 fractional digits
		{sc("INCRBYFLOAT", "b", "1.1"), sBulk("3001.10000000000000009")},
		{sc("INCRBYFLOAT", "b", "0.1"), sBulk("3001.20000000000000018")},
		{sc("INCRBYFLOAT", "c", "0x10"), sBulk("16")},
		{sc("INCRBYFLOAT", "c", "0x1.8p1"), sBulk("19")},
		{sc("INCRBYFLOAT", "c", "1e-5"), sBulk("19.00001")},
		{sc("INCRBYFLOAT", "c", ".5"), sBulk("19.50001")},
		{sc("INCRBYFLOAT", "c", "+1.e2"), sBulk("119.50001")},
		{sc("SET", "d", "1e5"), sOK},
		{sc("INCRBYFLOAT", "d", "1"), sBulk("100001")},
		{sc("SET", "big", "1.0e300"), sOK},
		{sc("INCRBYFLOAT", "big", "1"), sBulk("1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144")},
		// strtold's grammar and range, as string2ld applies them
		{sc("INCRBYFLOAT", "x", "abc"), sErr(msgNotFloat)},
		{sc("INCRBYFLOAT", "x", " 1"), sErr(msgNotFloat)},
		{sc("INCRBYFLOAT", "x", "1 "), sErr(msgNotFloat)},
		{sc("INCRBYFLOAT", "x", ""), sErr(msgNotFloat)},
		{sc("INCRBYFLOAT", "x", "1e"), sErr(msgNotFloat)},
		{sc("INCRBYFLOAT", "x", "1_0"), sErr(msgNotFloat)},
		{sc("INCRBYFLOAT", "x", "0x"), sErr(msgNotFloat)},
		{sc("INCRBYFLOAT", "x", "0b1"), sErr(msgNotFloat)},
		{sc("INCRBYFLOAT", "x", "nan"), sErr(msgNotFloat)},
		{sc("INCRBYFLOAT", "x", "1e5000"), sErr(msgNotFloat)},
		{sc("INCRBYFLOAT", "x", "1e-5000"), sErr(msgNotFloat)},
		{sc("INCRBYFLOAT", "x", "1.8e-4951"), sErr(msgNotFloat)},
		{sc("INCRBYFLOAT", "x", "1.83e-4951"), sBulk("0")}, // a denormal is fine
		{sc("INCRBYFLOAT", "y", "1."+strings.Repeat("0", 5117)), sBulk("1")},
		{sc("INCRBYFLOAT", "y", "1."+strings.Repeat("0", 5118)), sErr(msgNotFloat)},
		{sc("INCRBYFLOAT", "y", "inf"), sErr(msgNaNInf)},
		{sc("INCRBYFLOAT", "y", "-Infinity"), sErr(msgNaNInf)},
		{sc("GET", "y"), sBulk("1")},
		{sc("SET", "z", "1e4932"), sOK},
		{sc("INCRBYFLOAT", "z", "1e4932"), sErr(msgNaNInf)}, // the sum overflows
		{sc("SET", "s", "abc"), sOK},
		{sc("INCRBYFLOAT", "s", "1"), sErr(msgNotFloat)},
		{sc("SET", "s", "inf"), sOK},
		{sc("INCRBYFLOAT", "s", "1"), sErr(msgNaNInf)},
	})
}

func TestStringLCS(t *testing.T) {
	runStrSteps(t, []strStep{
		{sc("MSET", "a", "ohmytext", "b", "mynewtext"), sOK},
		{sc("LCS", "a", "b"), sBulk("mytext")},
		{sc("LCS", "a", "b", "LEN"), sInt(6)},
		{sc("LCS", "a", "b", "IDX"), sArr(sBulk("matches"),
			sArr(sRange(4, 7, 5, 8, -1), sRange(2, 3, 0, 1, -1)), sBulk("len"), sInt(6))},
		{sc("LCS", "a", "b", "idx", "minmatchlen", "4", "withmatchlen"), sArr(sBulk("matches"),
			sArr(sRange(4, 7, 5, 8, 4)), sBulk("len"), sInt(6))},
		{sc("LCS", "a", "b", "IDX", "WITHMATCHLEN"), sArr(sBulk("matches"),
			sArr(sRange(4, 7, 5, 8, 4), sRange(2, 3, 0, 1, 2)), sBulk("len"), sInt(6))},
		{sc("LCS", "a", "b", "MINMATCHLEN", "-5", "IDX"), sArr(sBulk("matches"),
			sArr(sRange(4, 7, 5, 8, -1), sRange(2, 3, 0, 1, -1)), sBulk("len"), sInt(6))},
		{sc("LCS", "a", "b", "WITHMATCHLEN"), sBulk("mytext")},
		{sc("LCS", "a", "b", "LEN", "WITHMATCHLEN"), sInt(6)},
		{sc("LCS", "a", "b", "LEN", "IDX"), sErr(msgLCSLenAndIdx)},
		{sc("LCS", "a", "b", "foo"), sErr(msgSyntax)},
		{sc("LCS", "a", "b", "MINMATCHLEN"), sErr(msgSyntax)},
		{sc("LCS", "a", "b", "MINMATCHLEN", "x"), sErr(msgNotInt)},
		{sc("LCS", "a", "missing"), sEmpty},
		{sc("LCS", "m1", "m2", "IDX"), sArr(sBulk("matches"), sArr(), sBulk("len"), sZero)},
		{sc("LCS", "m1", "m2", "LEN"), sZero},
		{sc("LCS", "a", "a", "IDX", "WITHMATCHLEN"), sArr(sBulk("matches"),
			sArr(sRange(0, 7, 0, 7, 8)), sBulk("len"), sInt(8))},
		{sc("MSET", "x", "ABCBDAB", "y", "BDCABA"), sOK},
		{sc("LCS", "x", "y"), sBulk("BDAB")},
		{sc("LCS", "y", "x"), sBulk("BCBA")},
		{sc("LCS", "x", "y", "IDX", "WITHMATCHLEN"), sArr(sBulk("matches"),
			sArr(sRange(5, 6, 3, 4, 2), sRange(3, 4, 0, 1, 2)), sBulk("len"), sInt(4))},
		{sc("@list", "l"), ""},
		{sc("LCS", "a", "l"), sErr(msgLCSNotString)},
		{sc("LCS", "l", "a", "foo"), sErr(msgLCSNotString)},
		{sc("LCS", "a"), sErr(wrongArgsMsg("lcs"))},
	})
}

// TestStringLimits lowers proto-max-bulk-len to its minimum (1 MiB) so the
// size checks of SETRANGE, APPEND and LCS run without huge allocations.
func TestStringLimits(t *testing.T) {
	const limit = 1 << 20
	ts := startServer(t, "", func(c *Config) { c.ProtoMaxBulkLen = limit })
	r := ts.raw(t)
	tooLong := sErr(msgStringTooLong)
	require.Equal(t, sInt(limit), r.do("SETRANGE", "k", strconv.Itoa(limit-1), "x"))
	require.Equal(t, tooLong, r.do("SETRANGE", "k", strconv.Itoa(limit-1), "xy"))
	require.Equal(t, tooLong, r.do("SETRANGE", "k2", strconv.Itoa(limit), "x"))
	require.Equal(t, tooLong, r.do("APPEND", "k", "x"))
	require.Equal(t, sInt(limit), r.do("STRLEN", "k"))
	require.Equal(t, sInt(limit), r.do("APPEND", "k", ""))

	// the table takes (alen+1)*(blen+1)*4 bytes: 512*512*4 is exactly
	// 1 MiB (allowed), 513*513*4 is over, 513*511*4 just under
	a := strings.Repeat("a", 511)
	require.Equal(t, sOK, r.do("MSET", "a", a, "b", a[1:]))
	require.Equal(t, sInt(511), r.do("LCS", "a", "a", "LEN"))
	require.Equal(t, sInt(512), r.do("APPEND", "a", "a"))
	require.Equal(t, sErr(msgLCSMemoryLimit), r.do("LCS", "a", "a"))
	require.Equal(t, sInt(510), r.do("LCS", "a", "b", "LEN"))
}

func TestStringGoRedis(t *testing.T) {
	ts := startServer(t, "")
	c := ts.client(t)
	ctx := context.Background()

	old, err := c.SetArgs(ctx, "k", "v1", redis.SetArgs{Get: true, TTL: 100 * time.Second}).Result()
	require.ErrorIs(t, err, redis.Nil)
	require.Empty(t, old)
	old, err = c.SetArgs(ctx, "k", "v2", redis.SetArgs{Get: true, KeepTTL: true}).Result()
	require.NoError(t, err)
	require.Equal(t, "v1", old)
	ttl, err := c.TTL(ctx, "k").Result()
	require.NoError(t, err)
	require.True(t, ttl > 50*time.Second && ttl <= 100*time.Second, "ttl %v", ttl)

	ok, err := c.SetNX(ctx, "k", "x", 0).Result()
	require.NoError(t, err)
	require.False(t, ok)

	require.NoError(t, c.MSet(ctx, "a", "1", "b", "2").Err())
	vals, err := c.MGet(ctx, "a", "missing", "b").Result()
	require.NoError(t, err)
	require.Equal(t, []any{"1", nil, "2"}, vals)

	n, err := c.IncrBy(ctx, "a", 41).Result()
	require.NoError(t, err)
	require.Equal(t, int64(42), n)
	f, err := c.IncrByFloat(ctx, "a", 0.5).Result()
	require.NoError(t, err)
	require.Equal(t, 42.5, f)
	require.EqualError(t, c.Incr(ctx, "a").Err(), msgNotInt)

	v, err := c.GetEx(ctx, "b", 30*time.Second).Result()
	require.NoError(t, err)
	require.Equal(t, "2", v)
	ttl, err = c.TTL(ctx, "b").Result()
	require.NoError(t, err)
	require.True(t, ttl > 0 && ttl <= 30*time.Second, "ttl %v", ttl)

	require.NoError(t, c.MSet(ctx, "x", "ohmytext", "y", "mynewtext").Err())
	lcs, err := c.LCS(ctx, &redis.LCSQuery{Key1: "x", Key2: "y"}).Result()
	require.NoError(t, err)
	require.Equal(t, "mytext", lcs.MatchString)
	lcs, err = c.LCS(ctx, &redis.LCSQuery{Key1: "x", Key2: "y", Idx: true, WithMatchLen: true, MinMatchLen: 4}).Result()
	require.NoError(t, err)
	require.Equal(t, int64(6), lcs.Len)
	require.Equal(t, []redis.LCSMatchedPosition{{Key1: redis.LCSPosition{Start: 4, End: 7}, Key2: redis.LCSPosition{Start: 5, End: 8}, MatchLen: 4}}, lcs.Matches)

	s, err := c.GetRange(ctx, "x", -4, -1).Result()
	require.NoError(t, err)
	require.Equal(t, "text", s)
	got, err := c.GetDel(ctx, "x").Result()
	require.NoError(t, err)
	require.Equal(t, "ohmytext", got)
	require.ErrorIs(t, c.Get(ctx, "x").Err(), redis.Nil)
}

// TestStringConcurrentCounters runs INCR, INCRBYFLOAT and APPEND from many
// connections on shared keys: every update must land exactly once.
func TestStringConcurrentCounters(t *testing.T) {
	ts := startServer(t, "")
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: ts.addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
			defer c.Close()
			ctx := context.Background()
			for i := 0; i < each; i++ {
				if err := c.Incr(ctx, "n").Err(); err != nil {
					t.Error(err)
					return
				}
				if err := c.IncrByFloat(ctx, "f", 0.5).Err(); err != nil {
					t.Error(err)
					return
				}
				if err := c.Append(ctx, "s", "x").Err(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	r := ts.raw(t)
	require.Equal(t, sBulk(strconv.Itoa(workers*each)), r.do("GET", "n"))
	require.Equal(t, sBulk(strconv.Itoa(workers*each/2)), r.do("GET", "f"))
	require.Equal(t, sInt(workers*each), r.do("STRLEN", "s"))
}

// TestStringDurable checks that in-place style updates (INCR, APPEND,
// SETRANGE, INCRBYFLOAT, GETEX, GETDEL) and their deadlines survive a restart.
func TestStringDurable(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	require.Equal(t, sOK, r.do("SET", "n", "5", "EXAT", "4000000000"))
	require.Equal(t, sInt(6), r.do("INCR", "n"))
	require.Equal(t, sInt(5), r.do("APPEND", "s", "hello"))
	require.Equal(t, sInt(7), r.do("SETRANGE", "s", "5", "!!"))
	require.Equal(t, sBulk("1.5"), r.do("INCRBYFLOAT", "f", "1.5"))
	require.Equal(t, sBulk("hello!!"), r.do("GETEX", "s", "EXAT", "3000000000"))
	require.Equal(t, sOK, r.do("MSET", "d", "1", "p", "v"))
	require.Equal(t, sBulk("1"), r.do("GETDEL", "d"))
	require.Equal(t, sOK, r.do("SETEX", "p", "1000", "v"))
	require.Equal(t, sBulk("v"), r.do("GETEX", "p", "PERSIST"))
	ts.stop()

	ts2 := startServer(t, dir)
	r2 := ts2.raw(t)
	require.Equal(t, sBulk("6"), r2.do("GET", "n"))
	require.Equal(t, sInt(4000000000), r2.do("EXPIRETIME", "n"))
	require.Equal(t, sBulk("hello!!"), r2.do("GET", "s"))
	require.Equal(t, sInt(3000000000), r2.do("EXPIRETIME", "s"))
	require.Equal(t, sBulk("1.5"), r2.do("GET", "f"))
	require.Equal(t, sNil, r2.do("GET", "d"))
	require.Equal(t, sInt(-1), r2.do("EXPIRETIME", "p"))
}

// TestParseLongDoubleExact covers string2ld's grammar directly.
func TestParseLongDoubleExact(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // humanString, or "" for refused
	}{
		{"1", "1"}, {"-1.5", "-1.5"}, {"+.5", "0.5"}, {"5.", "5"}, {"1e3", "1000"}, {"1E+3", "1000"},
		{"0x10", "16"}, {"0X1P4", "16"}, {"0x.8", "0.5"}, {"0xAp-1", "5"}, {"00.5", "0.5"},
		{"0e-99999", "0"}, {"0x1p-16445", "0"},
		{"", ""}, {" 1", ""}, {"1 ", ""}, {"1\x00", ""}, {".", ""}, {"e1", ""}, {"1e", ""}, {"1e+", ""},
		{"0x", ""}, {"0x1p", ""}, {"0b1", ""}, {"0o7", ""}, {"1_0", ""}, {"--1", ""}, {"1..2", ""},
		{"nan", ""}, {"-NaN", ""}, {"nan(1)", ""}, {"1e5000", ""}, {"0x1p16384", ""}, {"1e-5000", ""}, {"0x1p-16446", ""},
	} {
		ld, ok := parseLongDoubleExact([]byte(tc.in))
		if tc.want == "" {
			require.False(t, ok, "%q", tc.in)
			continue
		}
		require.True(t, ok, "%q", tc.in)
		require.Equal(t, tc.want, ld.humanString(), "%q", tc.in)
	}
	inf, ok := parseLongDoubleExact([]byte("-Infinity"))
	require.True(t, ok)
	require.True(t, inf.f.IsInf() && inf.f.Signbit())
}

// INCR updates a resident string in place (storage.DB.SetStringOf): the new
// value, its TTL and the key's memory survive a restart, also for a key that
// was only on disk when INCR ran, and for values that change length.
func TestIncrInPlaceIsDurable(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	require.Equal(t, "+OK\r\n", r.do("SET", "ttl", "9", "EX", "1000"))
	require.Equal(t, ":10\r\n", r.do("INCR", "ttl"))
	require.Equal(t, ":5\r\n", r.do("INCRBY", "fresh", "5"))
	require.Equal(t, ":-995\r\n", r.do("DECRBY", "fresh", "1000"))
	for i := 0; i < 1000; i++ {
		r.send("INCR", "many")
	}
	for i := 0; i < 1000; i++ {
		require.Equal(t, ":"+strconv.Itoa(i+1)+"\r\n", r.reply())
	}
	require.Equal(t, "+OK\r\n", r.do("SET", "str", "abc"))
	require.True(t, strings.HasPrefix(r.do("INCR", "str"), "-ERR value is not an integer"))
	mem := r.do("MEMORY", "USAGE", "many")
	ts.stop()

	ts2 := startServer(t, dir)
	r2 := ts2.raw(t)
	require.Equal(t, bulk("10"), r2.do("GET", "ttl"))
	ttl, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(r2.do("TTL", "ttl"), ":")))
	require.NoError(t, err)
	require.InDelta(t, 1000, ttl, 5, "INCR lost the TTL")
	require.Equal(t, bulk("-995"), r2.do("GET", "fresh"))
	require.Equal(t, ":1001\r\n", r2.do("INCR", "many")) // loaded from disk, then in place
	require.Equal(t, mem, r2.do("MEMORY", "USAGE", "many"))
	require.Equal(t, bulk("abc"), r2.do("GET", "str"))
	ts2.stop()

	ts3 := startServer(t, dir)
	require.Equal(t, bulk("1001"), ts3.raw(t).do("GET", "many"))
}
