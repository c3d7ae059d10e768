package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSwapDB: SWAPDB exchanges two databases' keys, values, TTLs and
// counts, without persistence and with it (also keys evicted to disk, and
// after a restart).
func TestSwapDB(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		name := "memory"
		if dir != "" {
			name = "persistent"
		}
		t.Run(name, func(t *testing.T) {
			ts := startServer(t, dir)
			r := ts.raw(t)
			r.do("SELECT", "1")
			r.do("SET", "a", "one")
			r.do("RPUSH", "l", "x", "y")
			r.do("SET", "e", "v", "PX", "100000")
			r.do("SADD", "s", "m1", "m2")
			for i := 0; i < 300; i++ {
				r.do("SET", fmt.Sprint("k", i), strings.Repeat("v", 1000))
			}
			r.do("SELECT", "2")
			r.do("SET", "b", "two")
			r.do("HSET", "h", "f", "v")
			if dir != "" {
				// most of db 1 leaves memory: the swap moves records on disk too
				require.Equal(t, rOK, r.do("CONFIG", "SET", "maxmemory", "100kb"))
				r.do("SELECT", "1")
				r.do("GET", "k0")
				r.do("SELECT", "2")
			}
			require.Equal(t, rOK, r.do("SWAPDB", "1", "2"))
			check := func(r *rawConn) {
				r.do("SELECT", "2")
				require.Equal(t, ":304\r\n", r.do("DBSIZE"))
				require.Equal(t, rBulk("one"), r.do("GET", "a"))
				require.Equal(t, "*2\r\n$1\r\nx\r\n$1\r\ny\r\n", r.do("LRANGE", "l", "0", "-1"))
				require.Equal(t, ":2\r\n", r.do("SCARD", "s"))
				require.Equal(t, rBulk(strings.Repeat("v", 1000)), r.do("GET", "k299"))
				require.Equal(t, ":0\r\n", r.do("EXISTS", "b"))
				ttl := r.do("PTTL", "e")
				require.Regexp(t, `^:\d{4,6}\r\n$`, ttl)
				r.do("SELECT", "1")
				require.Equal(t, ":2\r\n", r.do("DBSIZE"))
				require.Equal(t, rBulk("two"), r.do("GET", "b"))
				require.Equal(t, rBulk("v"), r.do("HGET", "h", "f"))
				require.Equal(t, ":0\r\n", r.do("EXISTS", "a"))
			}
			check(r)
			if dir == "" {
				return
			}
			ts.stop()
			ts2 := startServer(t, dir)
			check(ts2.raw(t))
		})
	}
}

func TestSwapDBErrors(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, "-ERR invalid first DB index\r\n", r.do("SWAPDB", "x", "1"))
	require.Equal(t, "-ERR invalid second DB index\r\n", r.do("SWAPDB", "1", "1.5"))
	require.Equal(t, "-ERR invalid first DB index\r\n", r.do("SWAPDB", "4294967296", "1"))
	require.Equal(t, "-ERR DB index is out of range\r\n", r.do("SWAPDB", "0", "16"))
	require.Equal(t, "-ERR DB index is out of range\r\n", r.do("SWAPDB", "-1", "0"))
	require.Equal(t, "-ERR wrong number of arguments for 'swapdb' command\r\n", r.do("SWAPDB", "0"))
	r.do("SET", "k", "v")
	require.Equal(t, rOK, r.do("SWAPDB", "0", "0"))
	require.Equal(t, rBulk("v"), r.do("GET", "k"))
	// from a script only when it names swapdb (it then locks every database)
	require.Equal(t, rOK, r.do("EVAL", "return redis.call('swapdb', 0, 3)", "0"))
	require.Equal(t, ":0\r\n", r.do("EXISTS", "k"))
}

// TestSwapDBWatch: a WATCH stays on its database; SWAPDB dirties it when the
// key exists on either side, as Redis.
func TestSwapDBWatch(t *testing.T) {
	ts := startServer(t, "")
	r, o := ts.raw(t), ts.raw(t)
	o.do("SELECT", "1")
	o.do("SET", "x", "1")
	for _, c := range []struct {
		watchDB, key string
		aborted      bool
	}{
		{"0", "x", true},       // missing in 0, exists in 1
		{"1", "x", true},       // exists in 1
		{"0", "nosuch", false}, // in neither
	} {
		r.do("SELECT", c.watchDB)
		require.Equal(t, rOK, r.do("WATCH", c.key))
		require.Equal(t, rOK, o.do("SWAPDB", "0", "1"))
		require.Equal(t, rOK, r.do("MULTI"))
		require.Equal(t, "+QUEUED\r\n", r.do("PING"))
		if c.aborted {
			require.Equal(t, "*-1\r\n", r.do("EXEC"), "%+v", c)
		} else {
			require.Equal(t, "*1\r\n+PONG\r\n", r.do("EXEC"), "%+v", c)
		}
	}
}

// TestSwapDBWakesBlocked: a client blocked on a key of db 9 is served when
// SWAPDB brings a list of that name into db 9.
func TestSwapDBWakesBlocked(t *testing.T) {
	ts := startServer(t, "")
	r, b := ts.raw(t), ts.raw(t)
	r.do("SELECT", "1")
	r.do("RPUSH", "k", "hello")
	b.do("SELECT", "9")
	b.send("BRPOP", "k", "5")
	require.Eventually(t, func() bool {
		return strings.Contains(r.do("INFO", "clients"), "blocked_clients:1\r\n")
	}, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, rOK, r.do("SWAPDB", "1", "9"))
	require.Equal(t, "*2\r\n$1\r\nk\r\n$5\r\nhello\r\n", b.reply())
}
