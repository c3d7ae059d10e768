package server

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// listCases is one session against a fresh server; the expected replies were
// recorded from Debian's redis-server 7.0.15 with the same commands.
var listCases = []struct {
	args []string
	want string
}{
	{[]string{"RPUSH", "l", "a", "b", "c", "d", "e"}, ":5\r\n"},
	{[]string{"LPUSH", "l", "z", "y"}, ":7\r\n"},
	{[]string{"LRANGE", "l", "0", "-1"}, "*7\r\n$1\r\ny\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"},
	{[]string{"LRANGE", "l", "-3", "-1"}, "*3\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"},
	{[]string{"LRANGE", "l", "5", "100"}, "*2\r\n$1\r\nd\r\n$1\r\ne\r\n"},
	{[]string{"LRANGE", "l", "10", "20"}, "*0\r\n"},
	{[]string{"LRANGE", "l", "3", "1"}, "*0\r\n"},
	{[]string{"LRANGE", "l", "-100", "1"}, "*2\r\n$1\r\ny\r\n$1\r\nz\r\n"},
	{[]string{"LRANGE", "l", "a", "1"}, "-ERR value is not an integer or out of range\r\n"},
	{[]string{"LRANGE", "missing", "0", "-1"}, "*0\r\n"},
	{[]string{"LLEN", "l"}, ":7\r\n"},
	{[]string{"LLEN", "missing"}, ":0\r\n"},
	{[]string{"LPUSHX", "missing", "a"}, ":0\r\n"},
	{[]string{"RPUSHX", "missing", "a"}, ":0\r\n"},
	{[]string{"EXISTS", "missing"}, ":0\r\n"},
	{[]string{"LPUSHX", "l", "x1", "x2"}, ":9\r\n"},
	{[]string{"RPUSHX", "l", "w"}, ":10\r\n"},
	{[]string{"LLEN", "l"}, ":10\r\n"},
	{[]string{"SET", "s", "str"}, "+OK\r\n"},
	{[]string{"LPUSH", "s", "a"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"RPUSHX", "s", "a"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"LLEN", "s"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"LRANGE", "s", "0", "1"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"LINDEX", "s", "0"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"LPOP", "s"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"LPOP", "s", "0"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"LINDEX", "l", "0"}, "$2\r\nx2\r\n"},
	{[]string{"LINDEX", "l", "-1"}, "$1\r\nw\r\n"},
	{[]string{"LINDEX", "l", "100"}, "$-1\r\n"},
	{[]string{"LINDEX", "l", "-100"}, "$-1\r\n"},
	{[]string{"LINDEX", "l", "abc"}, "-ERR value is not an integer or out of range\r\n"},
	{[]string{"LINDEX", "missing", "abc"}, "$-1\r\n"},
	{[]string{"LSET", "l", "0", "first"}, "+OK\r\n"},
	{[]string{"LSET", "l", "-1", "last"}, "+OK\r\n"},
	{[]string{"LSET", "l", "100", "x"}, "-ERR index out of range\r\n"},
	{[]string{"LSET", "l", "-100", "x"}, "-ERR index out of range\r\n"},
	{[]string{"LSET", "missing", "0", "x"}, "-ERR no such key\r\n"},
	{[]string{"LSET", "l", "abc", "x"}, "-ERR value is not an integer or out of range\r\n"},
	{[]string{"LSET", "s", "0", "x"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"LRANGE", "l", "0", "-1"}, "*10\r\n$5\r\nfirst\r\n$2\r\nx1\r\n$1\r\ny\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$4\r\nlast\r\n"},
	{[]string{"DEL", "p"}, ":0\r\n"},
	{[]string{"RPUSH", "p", "1", "2", "3", "4", "5"}, ":5\r\n"},
	{[]string{"LPOP", "p"}, "$1\r\n1\r\n"},
	{[]string{"RPOP", "p"}, "$1\r\n5\r\n"},
	{[]string{"LPOP", "p", "2"}, "*2\r\n$1\r\n2\r\n$1\r\n3\r\n"},
	{[]string{"RPOP", "p", "0"}, "*0\r\n"},
	{[]string{"RPOP", "p", "10"}, "*1\r\n$1\r\n4\r\n"},
	{[]string{"EXISTS", "p"}, ":0\r\n"},
	{[]string{"LPOP", "p"}, "$-1\r\n"},
	{[]string{"LPOP", "p", "1"}, "*-1\r\n"},
	{[]string{"RPOP", "p", "-1"}, "-ERR value is out of range, must be positive\r\n"},
	{[]string{"RPOP", "p", "abc"}, "-ERR value is out of range, must be positive\r\n"},
	{[]string{"LPOP", "p", "1", "2"}, "-ERR wrong number of arguments for 'lpop' command\r\n"},
	{[]string{"RPUSH", "p", "only"}, ":1\r\n"},
	{[]string{"RPOP", "p", "5"}, "*1\r\n$4\r\nonly\r\n"},
	{[]string{"EXISTS", "p"}, ":0\r\n"},
	{[]string{"DEL", "i"}, ":0\r\n"},
	{[]string{"RPUSH", "i", "a", "b", "c"}, ":3\r\n"},
	{[]string{"LINSERT", "i", "BEFORE", "b", "x"}, ":4\r\n"},
	{[]string{"LINSERT", "i", "after", "c", "y"}, ":5\r\n"},
	{[]string{"LINSERT", "i", "before", "a", "first"}, ":6\r\n"},
	{[]string{"LINSERT", "i", "after", "nope", "z"}, ":-1\r\n"},
	{[]string{"LINSERT", "i", "middle", "a", "z"}, "-ERR syntax error\r\n"},
	{[]string{"LINSERT", "missing", "before", "a", "b"}, ":0\r\n"},
	{[]string{"LINSERT", "s", "before", "a", "b"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"LRANGE", "i", "0", "-1"}, "*6\r\n$5\r\nfirst\r\n$1\r\na\r\n$1\r\nx\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\ny\r\n"},
	{[]string{"DEL", "r"}, ":0\r\n"},
	{[]string{"RPUSH", "r", "a", "b", "a", "c", "a", "d", "a"}, ":7\r\n"},
	{[]string{"LREM", "r", "2", "a"}, ":2\r\n"},
	{[]string{"LRANGE", "r", "0", "-1"}, "*5\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\na\r\n"},
	{[]string{"LREM", "r", "-1", "a"}, ":1\r\n"},
	{[]string{"LRANGE", "r", "0", "-1"}, "*4\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nd\r\n"},
	{[]string{"LREM", "r", "0", "a"}, ":1\r\n"},
	{[]string{"LRANGE", "r", "0", "-1"}, "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"},
	{[]string{"LREM", "r", "0", "nope"}, ":0\r\n"},
	{[]string{"LREM", "missing", "0", "a"}, ":0\r\n"},
	{[]string{"LREM", "r", "abc", "a"}, "-ERR value is not an integer or out of range\r\n"},
	{[]string{"LREM", "s", "0", "a"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"LREM", "r", "0", "b"}, ":1\r\n"},
	{[]string{"LREM", "r", "0", "c"}, ":1\r\n"},
	{[]string{"LREM", "r", "0", "d"}, ":1\r\n"},
	{[]string{"EXISTS", "r"}, ":0\r\n"},
	{[]string{"DEL", "t"}, ":0\r\n"},
	{[]string{"RPUSH", "t", "1", "2", "3", "4", "5", "6"}, ":6\r\n"},
	{[]string{"LTRIM", "t", "1", "-2"}, "+OK\r\n"},
	{[]string{"LRANGE", "t", "0", "-1"}, "*4\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n"},
	{[]string{"LTRIM", "t", "0", "100"}, "+OK\r\n"},
	{[]string{"LRANGE", "t", "0", "-1"}, "*4\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n"},
	{[]string{"LTRIM", "t", "-2", "-1"}, "+OK\r\n"},
	{[]string{"LRANGE", "t", "0", "-1"}, "*2\r\n$1\r\n4\r\n$1\r\n5\r\n"},
	{[]string{"LTRIM", "t", "5", "1"}, "+OK\r\n"},
	{[]string{"EXISTS", "t"}, ":0\r\n"},
	{[]string{"LTRIM", "missing", "0", "1"}, "+OK\r\n"},
	{[]string{"LTRIM", "t", "a", "1"}, "-ERR value is not an integer or out of range\r\n"},
	{[]string{"LTRIM", "s", "0", "1"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"DEL", "q"}, ":0\r\n"},
	{[]string{"RPUSH", "q", "a", "b", "c", "1", "2", "3", "c", "c"}, ":8\r\n"},
	{[]string{"LPOS", "q", "c"}, ":2\r\n"},
	{[]string{"LPOS", "q", "c", "RANK", "2"}, ":6\r\n"},
	{[]string{"LPOS", "q", "c", "RANK", "-1"}, ":7\r\n"},
	{[]string{"LPOS", "q", "c", "RANK", "-2"}, ":6\r\n"},
	{[]string{"LPOS", "q", "c", "COUNT", "0"}, "*3\r\n:2\r\n:6\r\n:7\r\n"},
	{[]string{"LPOS", "q", "c", "COUNT", "2"}, "*2\r\n:2\r\n:6\r\n"},
	{[]string{"LPOS", "q", "c", "COUNT", "0", "RANK", "-1"}, "*3\r\n:7\r\n:6\r\n:2\r\n"},
	{[]string{"LPOS", "q", "c", "COUNT", "0", "MAXLEN", "3"}, "*1\r\n:2\r\n"},
	{[]string{"LPOS", "q", "c", "MAXLEN", "2"}, "$-1\r\n"},
	{[]string{"LPOS", "q", "c", "RANK", "10"}, "$-1\r\n"},
	{[]string{"LPOS", "q", "c", "RANK", "10", "COUNT", "0"}, "*0\r\n"},
	{[]string{"LPOS", "q", "x"}, "$-1\r\n"},
	{[]string{"LPOS", "q", "x", "COUNT", "0"}, "*0\r\n"},
	{[]string{"LPOS", "missing", "a"}, "$-1\r\n"},
	{[]string{"LPOS", "missing", "a", "COUNT", "1"}, "*0\r\n"},
	{[]string{"LPOS", "q", "c", "RANK", "0"}, "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"},
	{[]string{"LPOS", "q", "c", "RANK", "abc"}, "-ERR value is not an integer or out of range\r\n"},
	{[]string{"LPOS", "q", "c", "COUNT", "-1"}, "-ERR COUNT can't be negative\r\n"},
	{[]string{"LPOS", "q", "c", "MAXLEN", "-1"}, "-ERR MAXLEN can't be negative\r\n"},
	{[]string{"LPOS", "q", "c", "BOGUS", "1"}, "-ERR syntax error\r\n"},
	{[]string{"LPOS", "q", "c", "RANK"}, "-ERR syntax error\r\n"},
	{[]string{"LPOS", "s", "a"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"LPOS", "q", "c", "RANK", "-9223372036854775808"}, ":7\r\n"},
	{[]string{"LPOS", "missing", "a", "RANK", "0"}, "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"},
	{[]string{"DEL", "m1", "m2"}, ":0\r\n"},
	{[]string{"RPUSH", "m1", "a", "b", "c"}, ":3\r\n"},
	{[]string{"LMOVE", "m1", "m2", "LEFT", "RIGHT"}, "$1\r\na\r\n"},
	{[]string{"LMOVE", "m1", "m2", "right", "left"}, "$1\r\nc\r\n"},
	{[]string{"LRANGE", "m1", "0", "-1"}, "*1\r\n$1\r\nb\r\n"},
	{[]string{"LRANGE", "m2", "0", "-1"}, "*2\r\n$1\r\nc\r\n$1\r\na\r\n"},
	{[]string{"RPOPLPUSH", "m1", "m2"}, "$1\r\nb\r\n"},
	{[]string{"EXISTS", "m1"}, ":0\r\n"},
	{[]string{"LRANGE", "m2", "0", "-1"}, "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"},
	{[]string{"RPOPLPUSH", "m1", "m2"}, "$-1\r\n"},
	{[]string{"LMOVE", "m2", "m2", "LEFT", "RIGHT"}, "$1\r\nb\r\n"},
	{[]string{"LRANGE", "m2", "0", "-1"}, "*3\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n"},
	{[]string{"LMOVE", "m2", "m2", "RIGHT", "LEFT"}, "$1\r\nb\r\n"},
	{[]string{"LRANGE", "m2", "0", "-1"}, "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"},
	{[]string{"LMOVE", "m2", "s", "LEFT", "LEFT"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"LRANGE", "m2", "0", "-1"}, "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"},
	{[]string{"LMOVE", "s", "m2", "LEFT", "LEFT"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"LMOVE", "m2", "m3", "UP", "LEFT"}, "-ERR syntax error\r\n"},
	{[]string{"LMOVE", "missing", "s", "LEFT", "LEFT"}, "$-1\r\n"},
	{[]string{"RPOPLPUSH", "missing", "s"}, "$-1\r\n"},
	{[]string{"DEL", "a1", "a2"}, ":0\r\n"},
	{[]string{"RPUSH", "a2", "1", "2", "3", "4"}, ":4\r\n"},
	{[]string{"LMPOP", "2", "a1", "a2", "LEFT"}, "*2\r\n$2\r\na2\r\n*1\r\n$1\r\n1\r\n"},
	{[]string{"LMPOP", "2", "a1", "a2", "RIGHT", "COUNT", "2"}, "*2\r\n$2\r\na2\r\n*2\r\n$1\r\n4\r\n$1\r\n3\r\n"},
	{[]string{"LMPOP", "2", "a1", "a2", "LEFT", "COUNT", "10"}, "*2\r\n$2\r\na2\r\n*1\r\n$1\r\n2\r\n"},
	{[]string{"LMPOP", "2", "a1", "a2", "LEFT"}, "*-1\r\n"},
	{[]string{"LMPOP", "0", "a1", "LEFT"}, "-ERR numkeys should be greater than 0\r\n"},
	{[]string{"LMPOP", "-1", "a1", "LEFT"}, "-ERR numkeys should be greater than 0\r\n"},
	{[]string{"LMPOP", "abc", "a1", "LEFT"}, "-ERR numkeys should be greater than 0\r\n"},
	{[]string{"LMPOP", "3", "a1", "a2", "LEFT"}, "-ERR syntax error\r\n"},
	{[]string{"LMPOP", "1", "a1", "MIDDLE"}, "-ERR syntax error\r\n"},
	{[]string{"LMPOP", "1", "a1", "LEFT", "COUNT", "0"}, "-ERR count should be greater than 0\r\n"},
	{[]string{"LMPOP", "1", "a1", "LEFT", "COUNT", "-1"}, "-ERR count should be greater than 0\r\n"},
	{[]string{"LMPOP", "1", "a1", "LEFT", "COUNT"}, "-ERR syntax error\r\n"},
	{[]string{"LMPOP", "1", "a1", "LEFT", "COUNT", "1", "COUNT", "1"}, "-ERR syntax error\r\n"},
	{[]string{"LMPOP", "1", "a1", "LEFT", "FOO"}, "-ERR syntax error\r\n"},
	{[]string{"LMPOP", "2", "a1", "s", "LEFT"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"LMPOP", "1", "a1"}, "-ERR wrong number of arguments for 'lmpop' command\r\n"},
	{[]string{"DEL", "b1", "b2"}, ":0\r\n"},
	{[]string{"RPUSH", "b2", "x", "y"}, ":2\r\n"},
	{[]string{"BLPOP", "b1", "b2", "0"}, "*2\r\n$2\r\nb2\r\n$1\r\nx\r\n"},
	{[]string{"BRPOP", "b1", "b2", "0"}, "*2\r\n$2\r\nb2\r\n$1\r\ny\r\n"},
	{[]string{"BLPOP", "b1", "-1"}, "-ERR timeout is negative\r\n"},
	{[]string{"BLPOP", "b1", "abc"}, "-ERR timeout is not a float or out of range\r\n"},
	{[]string{"BLPOP", "b1", "s", "0"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"BLPOP", "s", "0"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"BLMPOP", "0", "1", "b1", "LEFT", "COUNT", "0"}, "-ERR count should be greater than 0\r\n"},
	{[]string{"BLMPOP", "-1", "1", "b1", "LEFT"}, "-ERR timeout is negative\r\n"},
	{[]string{"BLMPOP", "0", "0", "b1", "LEFT"}, "-ERR numkeys should be greater than 0\r\n"},
	{[]string{"BRPOPLPUSH", "b1", "b2", "-1"}, "-ERR timeout is negative\r\n"},
	{[]string{"BLMOVE", "b1", "b2", "LEFT", "UP", "0"}, "-ERR syntax error\r\n"},
	{[]string{"RPUSH", "b1", "v"}, ":1\r\n"},
	{[]string{"BRPOPLPUSH", "b1", "s", "0"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{[]string{"LRANGE", "b1", "0", "-1"}, "*1\r\n$1\r\nv\r\n"},
	{[]string{"BLMOVE", "b1", "b2", "LEFT", "LEFT", "0"}, "$1\r\nv\r\n"},
	{[]string{"LRANGE", "b2", "0", "-1"}, "*1\r\n$1\r\nv\r\n"},
	{[]string{"BLMPOP", "0", "2", "b1", "b2", "RIGHT", "COUNT", "5"}, "*2\r\n$2\r\nb2\r\n*1\r\n$1\r\nv\r\n"},
	{[]string{"BLPOP", "b1", "0.01"}, "*-1\r\n"},
	{[]string{"BLMPOP", "0.01", "1", "b1", "LEFT"}, "*-1\r\n"},
	{[]string{"BRPOPLPUSH", "b1", "b2", "0.01"}, "*-1\r\n"},
	{[]string{"BLMOVE", "b1", "b2", "LEFT", "LEFT", "0.01"}, "*-1\r\n"},
	{[]string{"MULTI"}, "+OK\r\n"},
	{[]string{"BLPOP", "b1", "0"}, "+QUEUED\r\n"},
	{[]string{"BLMPOP", "0", "1", "b1", "LEFT"}, "+QUEUED\r\n"},
	{[]string{"BRPOPLPUSH", "b1", "b2", "0"}, "+QUEUED\r\n"},
	{[]string{"BLMOVE", "b1", "b2", "LEFT", "LEFT", "0"}, "+QUEUED\r\n"},
	{[]string{"EXEC"}, "*4\r\n*-1\r\n*-1\r\n$-1\r\n$-1\r\n"},
	{[]string{"OBJECT", "ENCODING", "l"}, "$9\r\nquicklist\r\n"},
	{[]string{"TYPE", "l"}, "+list\r\n"},
	{[]string{"BLPOP"}, "-ERR wrong number of arguments for 'blpop' command\r\n"},
	{[]string{"LPUSH"}, "-ERR wrong number of arguments for 'lpush' command\r\n"},
	{[]string{"LMOVE", "a", "b"}, "-ERR wrong number of arguments for 'lmove' command\r\n"},
	{[]string{"blpop", "b1", "0.001"}, "*-1\r\n"},
}

func TestListCommandsMatchRedis(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	for i, tc := range listCases {
		require.Equal(t, tc.want, r.do(tc.args...), "case %d: %v", i, tc.args)
	}
}

func TestListRestartPersistence(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	want := map[string]string{}
	r.do("RPUSH", "a", "1", "2", "3", "4", "5", "6", "7", "8")
	r.do("LPUSH", "a", "0", "-1")
	r.do("LINSERT", "a", "BEFORE", "3", "2.5")
	r.do("LINSERT", "a", "AFTER", "7", "7.5")
	r.do("LREM", "a", "0", "5")
	r.do("LSET", "a", "1", "zero")
	r.do("LTRIM", "a", "1", "-2")
	r.do("RPUSH", "b", "x", "y", "z")
	r.do("LMOVE", "b", "c", "LEFT", "RIGHT")
	r.do("RPOPLPUSH", "b", "c")
	r.do("RPUSH", "gone", "1")
	r.do("LPOP", "gone")
	r.do("RPUSH", "ttl", "v")
	r.do("EXPIRE", "ttl", "1000")
	r.do("RPUSH", "big", "v")
	for i := 0; i < 300; i++ {
		r.do("LPUSH", "big", fmt.Sprint(i))
		r.do("RPUSH", "big", fmt.Sprint(i))
	}
	r.do("LREM", "big", "-3", "7")
	for _, k := range []string{"a", "b", "c", "gone", "big", "ttl"} {
		want[k] = r.do("LRANGE", k, "0", "-1")
	}
	ts.stop()

	ts2 := startServer(t, dir)
	r2 := ts2.raw(t)
	for k, v := range want {
		require.Equal(t, v, r2.do("LRANGE", k, "0", "-1"), "key %s after restart", k)
	}
	require.Equal(t, "*0\r\n", r2.do("LRANGE", "gone", "0", "-1"))
	require.Equal(t, ":0\r\n", r2.do("EXISTS", "gone"))
	require.NotEqual(t, ":-1\r\n", r2.do("TTL", "ttl"))
	// the list keeps working after reload: both ends and the middle
	require.Equal(t, ":3\r\n", r2.do("RPUSH", "c", "tail"))
	require.Equal(t, ":4\r\n", r2.do("LPUSH", "c", "head"))
	require.Equal(t, "*4\r\n$4\r\nhead\r\n$1\r\nz\r\n$1\r\nx\r\n$4\r\ntail\r\n", r2.do("LRANGE", "c", "0", "-1"))
}

func TestListGoRedisClient(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	c := ts.client(t)
	require.NoError(t, c.RPush(ctx, "l", "a", "b", "c").Err())
	v, err := c.LRange(ctx, "l", 0, -1).Result()
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c"}, v)
	pos, err := c.LPos(ctx, "l", "b", redisLPosArgs()).Result()
	require.NoError(t, err)
	require.Equal(t, int64(1), pos)
	k, vals, err := c.LMPop(ctx, "right", 2, "nokey", "l").Result()
	require.NoError(t, err)
	require.Equal(t, "l", k)
	require.Equal(t, []string{"c", "b"}, vals)
}

func redisLPosArgs() redis.LPosArgs { return redis.LPosArgs{} }

// Pops at both ends, pipelined, and LTRIM delete runs of adjacent element
// records, which the commit group writes as range deletions
// (storage.Pending.DeletePos): after a restart every list holds exactly
// what it held before, and pushes after the pops land where they should.
func TestListPopsAreDurableAsRanges(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	lists := []string{"a", "b", "c"}
	for _, k := range lists {
		for i := 0; i < 300; i++ {
			r.send("RPUSH", k, strconv.Itoa(i))
		}
		for i := 0; i < 300; i++ {
			r.reply()
		}
	}
	// a: LPOPs in a row, then RPOPs; b: alternating ends with pushes between;
	// c: LTRIM from both sides, then LPOP with a count
	for i := 0; i < 100; i++ {
		r.send("LPOP", "a")
	}
	for i := 0; i < 50; i++ {
		r.send("RPOP", "a")
	}
	for i := 0; i < 150; i++ {
		r.reply()
	}
	for i := 0; i < 60; i++ {
		r.send("LPOP", "b")
		r.send("RPOP", "b")
		if i%7 == 0 {
			r.send("LPUSH", "b", "L"+strconv.Itoa(i))
			r.send("RPUSH", "b", "R"+strconv.Itoa(i))
		}
	}
	for i := 0; i < 120+2*9; i++ {
		r.reply()
	}
	require.Equal(t, "+OK\r\n", r.do("LTRIM", "c", "40", "-41"))
	r.do("LPOP", "c", "25")
	before := map[string]string{}
	for _, k := range lists {
		before[k] = r.do("LRANGE", k, "0", "-1")
	}
	ts.stop()

	ts2 := startServer(t, dir)
	r2 := ts2.raw(t)
	for _, k := range lists {
		require.Equal(t, before[k], r2.do("LRANGE", k, "0", "-1"), "list %s", k)
	}
	require.Equal(t, ":151\r\n", r2.do("LPUSH", "a", "new"))
	require.Equal(t, bulk("new"), r2.do("LINDEX", "a", "0"))
	require.Equal(t, bulk("100"), r2.do("LINDEX", "a", "1"))
}
