package server

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/luxdb/lux-go/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/redcon"
)

// subReply renders ["kind", name or nil, n] as RESP.
func subReply(kind, name string, n int) string {
	b := "*3\r\n$" + strconv.Itoa(len(kind)) + "\r\n" + kind + "\r\n"
	if name == "\x00" {
		b += "$-1\r\n"
	} else {
		b += "$" + strconv.Itoa(len(name)) + "\r\n" + name + "\r\n"
	}
	return b + ":" + strconv.Itoa(n) + "\r\n"
}

// kmessage renders one event frame as RESP.
func kmessage(pattern, key, op string) string {
	b := "*4\r\n$8\r\nkmessage\r\n"
	for _, s := range []string{pattern, key, op} {
		b += "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n"
	}
	return b
}

// readStrings reads one reply as a flat list of strings (nil bulk: "\x00").
func readStrings(rd *bufio.Reader) ([]string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch line[0] {
	case '*':
		n, _ := strconv.Atoi(line[1:])
		var out []string
		for i := 0; i < n; i++ {
			s, err := readStrings(rd)
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return []string{"\x00"}, nil
		}
		buf := make([]byte, n+2)
		if _, err := io_ReadFull(rd, buf); err != nil {
			return nil, err
		}
		return []string{string(buf[:n])}, nil
	}
	return []string{line}, nil
}

// events reads kmessage frames until one for key until arrives and returns
// "key op" (with "pattern " before it when withPattern) of those before it.
func (r *rawConn) events(until string, withPattern bool) []string {
	r.t.Helper()
	var out []string
	for {
		r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		f, err := readStrings(r.rd)
		require.NoError(r.t, err)
		require.True(r.t, len(f) == 4 && f[0] == "kmessage", "not a kmessage: %q", f)
		if f[2] == until {
			return out
		}
		if withPattern {
			out = append(out, f[1]+" "+f[2]+" "+f[3])
		} else {
			out = append(out, f[2]+" "+f[3])
		}
	}
}

// silent checks that nothing arrives on r for a moment.
func (r *rawConn) silent() {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	_, err := r.rd.Peek(1)
	require.Error(r.t, err, "unexpected data")
	r.c.SetReadDeadline(time.Time{})
}

func cmdLine(line string) []string { return strings.Fields(line) }

// ksub subscribes r to patterns and reads the replies.
func (r *rawConn) ksub(patterns ...string) {
	r.t.Helper()
	r.send(append([]string{"KSUB"}, patterns...)...)
	for range patterns {
		f, err := readStrings(r.rd)
		require.NoError(r.t, err)
		require.Equal(r.t, "ksub", f[0])
	}
}

func TestKsubRepliesAndSubscribeMode(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	assert.Equal(t, "-ERR wrong number of arguments for 'ksub' command\r\n", r.do("KSUB"))
	r.send("KSUB", "a", "b", "a")
	assert.Equal(t, subReply("ksub", "a", 1), r.reply())
	assert.Equal(t, subReply("ksub", "b", 2), r.reply())
	assert.Equal(t, subReply("ksub", "a", 2), r.reply(), "a pattern already held is not added twice")
	assert.Equal(t, subReply("subscribe", "ch", 3), r.do("SUBSCRIBE", "ch"))
	assert.Equal(t, subReply("psubscribe", "p*", 4), r.do("PSUBSCRIBE", "p*"))
	assert.Equal(t, subReply("unsubscribe", "ch", 3), r.do("UNSUBSCRIBE"))
	assert.Equal(t, subReply("punsubscribe", "p*", 2), r.do("PUNSUBSCRIBE"))
	assert.Equal(t, subReply("unsubscribe", "\x00", 2), r.do("UNSUBSCRIBE"), "key patterns count and keep subscribe mode")
	assert.Equal(t, "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n", r.do("GET", "x"))
	assert.Equal(t, "*2\r\n$4\r\npong\r\n$0\r\n\r\n", r.do("PING"))
	assert.Equal(t, subReply("kunsub", "b", 1), r.do("KUNSUB", "b"))
	assert.Equal(t, subReply("kunsub", "nothere", 1), r.do("KUNSUB", "nothere"), "replies for a pattern not held")
	assert.Equal(t, subReply("kunsub", "a", 0), r.do("KUNSUB"))
	assert.Equal(t, "$-1\r\n", r.do("GET", "x"), "subscribe mode ended at 0")
	assert.Equal(t, subReply("kunsub", "\x00", 0), r.do("KUNSUB"), "no pattern held: one reply with nil")
	r.send("KUNSUB", "x", "y")
	assert.Equal(t, subReply("kunsub", "x", 0), r.reply())
	assert.Equal(t, subReply("kunsub", "y", 0), r.reply())
	assert.Equal(t, subReply("KSUB", "X", 1), strings.Replace(r.do("ksub", "X"), "ksub", "KSUB", 1), "case-insensitive name, case-sensitive pattern")
	assert.Equal(t, subReply("kunsub", "X", 0), r.do("KUNSUB", "X"))
}

func TestKsubRefusedInMulti(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	assert.Equal(t, "+OK\r\n", r.do("MULTI"))
	assert.Equal(t, "-ERR Command 'ksub' not allowed inside a transaction\r\n", r.do("KSUB", "k"))
	assert.Equal(t, "-ERR Command 'kunsub' not allowed inside a transaction\r\n", r.do("KUNSUB"))
	assert.Equal(t, "+QUEUED\r\n", r.do("SET", "k", "v"))
	assert.Equal(t, "-EXECABORT Transaction discarded because of previous errors.\r\n", r.do("EXEC"))
	assert.Equal(t, "$-1\r\n", r.do("GET", "k"))
	// wrong arity inside MULTI is the arity error
	assert.Equal(t, "+OK\r\n", r.do("MULTI"))
	assert.Equal(t, "-ERR wrong number of arguments for 'ksub' command\r\n", r.do("KSUB"))
	assert.Equal(t, "-EXECABORT Transaction discarded because of previous errors.\r\n", r.do("EXEC"))
}

func TestKsubCommandInfo(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	info := r.do("COMMAND", "INFO", "ksub", "kunsub")
	assert.Contains(t, info, "$4\r\nksub\r\n:-2\r\n")
	assert.Contains(t, info, "$6\r\nkunsub\r\n:-1\r\n")
	for _, f := range []string{"pubsub", "noscript", "loading", "stale", "no_multi"} {
		assert.Contains(t, info, "+"+f+"\r\n")
	}
	assert.NotContains(t, info, "+write\r\n")
}

// TestKsubEvents: one event per key a command changed, named after the
// command; nothing for failures and no-ops.
func TestKsubEvents(t *testing.T) {
	for _, dir := range []string{"", "disk"} {
		t.Run(map[string]string{"": "memory", "disk": "persistent"}[dir], func(t *testing.T) {
			d := ""
			if dir != "" {
				d = t.TempDir()
			}
			ts := startServer(t, d)
			sub := ts.raw(t)
			assert.Equal(t, "+OK\r\n", sub.do("SELECT", "9"))
			assert.Equal(t, subReply("ksub", "*", 1), sub.do("KSUB", "*"))
			w := ts.raw(t)
			assert.Equal(t, "+OK\r\n", w.do("SELECT", "9"))
			cases := []struct {
				setup []string // run first, their events are skipped
				cmds  []string
				want  []string
			}{
				{nil, []string{"SET k v"}, []string{"k set"}},
				{[]string{"SET k v"}, []string{"SET k w NX"}, nil},
				{nil, []string{"SET k 1", "INCR k", "INCRBY k 2", "APPEND k x", "SETRANGE k 0 y", "GETDEL k"},
					[]string{"k set", "k incr", "k incrby", "k append", "k setrange", "k getdel"}},
				{nil, []string{"DEL missing", "UNLINK missing", "GET k", "EXISTS k", "STRLEN k"}, nil},
				{[]string{"SET a 1"}, []string{"DEL a b"}, []string{"a del"}},
				{nil, []string{"MSET a 1 b 2 c 3"}, []string{"a mset", "b mset", "c mset"}},
				{[]string{"SET b 1"}, []string{"MSETNX a 1 b 2"}, nil},
				{nil, []string{"MSETNX x 1 y 2"}, []string{"x msetnx", "y msetnx"}},
				{nil, []string{"HSET h f v g w", "HDEL h missing", "HSETNX h f z", "HDEL h f g"},
					[]string{"h hset", "h hdel"}},
				{[]string{"SADD s a"}, []string{"SADD s a", "SREM s missing", "SREM nokey a", "SADD s b"}, []string{"s sadd"}},
				{nil, []string{"LPUSH l a", "LPOP l", "LPOP l"}, []string{"l lpush", "l lpop"}},
				{nil, []string{"ZADD z 1 a", "ZADD z 1 a", "ZADD z XX 2 b", "ZINCRBY z 1 a"}, []string{"z zadd", "z zincrby"}},
				{[]string{"SET a 1 EX 100"}, []string{"RENAME a b"}, []string{"a rename", "b rename"}},
				{[]string{"SET a 1", "SET b 2"}, []string{"RENAMENX a b", "RENAME missing x"}, nil},
				{[]string{"SET a 1"}, []string{"COPY a b", "COPY missing c"}, []string{"b copy"}},
				{[]string{"SADD s1 m x", "SADD s2 y"}, []string{"SMOVE s1 s2 m", "SMOVE s1 s2 nope"}, []string{"s1 smove", "s2 smove"}},
				{[]string{"SADD s1 m", "SADD s2 y"}, []string{"SMOVE s1 s2 m"}, []string{"s1 smove", "s2 smove"}},
				{[]string{"RPUSH l a b"}, []string{"LMOVE l l LEFT RIGHT"}, []string{"l lmove"}},
				{[]string{"RPUSH l a"}, []string{"RPOPLPUSH l m"}, []string{"l rpoplpush", "m rpoplpush"}},
				{[]string{"SADD s1 a b", "SADD s2 b c"}, []string{"SINTERSTORE d s1 s2", "SUNIONSTORE e s1 missing"},
					[]string{"d sinterstore", "e sunionstore"}},
				{[]string{"ZADD z1 1 a", "ZADD z2 2 a"}, []string{"ZUNIONSTORE d 2 z1 z2"}, []string{"d zunionstore"}},
				{[]string{"SET k v"}, []string{"EXPIRE k 100", "PERSIST k", "PERSIST k", "EXPIRE missing 10", "PEXPIRE k 0"},
					[]string{"k expire", "k persist", "k pexpire"}},
				{[]string{"SADD s a b"}, []string{"SPOP s 5"}, []string{"s spop"}},
				{[]string{"SET k v"}, []string{"MOVE k 10"}, []string{"k move"}},
				{[]string{"SET k v"}, []string{"FLUSHDB"}, nil},
				{[]string{"SET k v"}, []string{"SET k v GET XX"}, []string{"k set"}},
				{nil, []string{"INCR notanumber:no", "SET s x", "INCR s", "LPUSH s a"}, []string{"notanumber:no incr", "s set"}},
			}
			for _, tc := range cases {
				w.do("FLUSHDB")
				for _, line := range tc.setup {
					w.do(cmdLine(line)...)
				}
				w.do("SET", "zz:setup", "1")
				sub.events("zz:setup", false)
				for _, line := range tc.cmds {
					w.do(cmdLine(line)...)
				}
				w.do("SET", "zz:end", "1")
				assert.Equal(t, tc.want, sub.events("zz:end", false), "%q", tc.cmds)
			}
		})
	}
}

func TestKsubMultiExec(t *testing.T) {
	ts := startServer(t, "")
	sub := ts.raw(t)
	sub.do("KSUB", "*")
	w := ts.raw(t)
	for _, line := range []string{"MULTI", "SET a 1", "INCR a", "DEL missing", "LPUSH b x", "DEL a", "EXEC"} {
		w.do(cmdLine(line)...)
	}
	w.do("SET", "zz:end", "1")
	assert.Equal(t, []string{"a set", "a incr", "b lpush", "a del"}, sub.events("zz:end", false))

	// nothing for DISCARD, a WATCH-aborted EXEC or an EXECABORT
	for _, line := range []string{"MULTI", "SET a 1", "DISCARD",
		"WATCH w", "MULTI", "SET a 1", "EXEC",
		"MULTI", "SET a 1", "NOSUCHCMD", "EXEC"} {
		w.do(cmdLine(line)...)
		if line == "WATCH w" {
			// another client changes the watched key: the EXEC aborts
			ts.raw(t).do("SET", "w", "changed")
		}
	}
	w.do("SET", "zz:end", "1")
	assert.Equal(t, []string{"w set"}, sub.events("zz:end", false))
}

func TestKsubSeveralSubscribersAndPatterns(t *testing.T) {
	ts := startServer(t, "")
	s1, s2, s3, s4 := ts.raw(t), ts.raw(t), ts.raw(t), ts.raw(t)
	s1.ksub("user:*", "zz:*")
	s2.ksub("user:*", "zz:*")
	r := s3.do("KSUB", "user:[0-9]")
	require.Equal(t, subReply("ksub", "user:[0-9]", 1), r)
	s3.do("KSUB", "zz:*")
	s4.ksub(`a\*`, "a[^b]", "?", "zz:*")
	w := ts.raw(t)
	for _, k := range []string{"user:1", "user:12", "a*", "ab", "ac", "x", "users"} {
		w.do("SET", k, "v")
	}
	w.do("SET", "zz:end", "1")
	assert.Equal(t, []string{"user:* user:1 set", "user:* user:12 set"}, s1.events("zz:end", true))
	assert.Equal(t, []string{"user:* user:1 set", "user:* user:12 set"}, s2.events("zz:end", true))
	assert.Equal(t, []string{"user:[0-9] user:1 set"}, s3.events("zz:end", true))
	assert.Equal(t, []string{"a[^b] a* set", `a\* a* set`, "a[^b] ac set", "? x set"}, sortPerKey(s4.events("zz:end", true)))

	// KUNSUB changes only its own connection
	assert.Equal(t, subReply("kunsub", "user:*", 1), s1.do("KUNSUB", "user:*"))
	w.do("SET", "user:2", "v")
	w.do("SET", "zz:end", "1")
	assert.Empty(t, s1.events("zz:end", true))
	assert.Equal(t, []string{"user:* user:2 set"}, s2.events("zz:end", true))
	assert.Equal(t, []string{"user:[0-9] user:2 set"}, s3.events("zz:end", true))
}

// sortPerKey orders "pattern key op" lines of one key by pattern (the
// patterns of one event come in no particular order).
func sortPerKey(lines []string) []string {
	out := append([]string(nil), lines...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0; j-- {
			ki, kj := strings.Fields(out[j])[1], strings.Fields(out[j-1])[1]
			if ki == kj && out[j] < out[j-1] {
				out[j], out[j-1] = out[j-1], out[j]
			}
		}
	}
	return out
}

func TestKsubDatabaseOfSubscription(t *testing.T) {
	ts := startServer(t, "")
	sub := ts.raw(t)
	sub.do("SELECT", "1")
	sub.do("KSUB", "*")
	w := ts.raw(t)
	w.do("SET", "k0", "v") // db 0: not seen
	w.do("SELECT", "1")
	w.do("SET", "k1", "v")
	w.do("SET", "k1", "v")
	w.do("MOVE", "k1", "0")
	w.do("SELECT", "0")
	w.do("MOVE", "k1", "1") // back into db 1: seen there
	w.do("SELECT", "1")
	w.do("SET", "zz:end", "1")
	assert.Equal(t, []string{"k1 set", "k1 set", "k1 move", "k1 move"}, sub.events("zz:end", false))
}

func TestKsubBlockingPopsEmitSourceFirst(t *testing.T) {
	ts := startServer(t, "")
	sub := ts.raw(t)
	sub.do("KSUB", "*")
	blocked := ts.raw(t)
	blocked.send("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
	blocked2 := ts.raw(t)
	blocked2.send("BLPOP", "l", "0")
	w := ts.raw(t)
	require.Eventually(t, func() bool { return ts.srv.blockedClients() == 2 }, 5*time.Second, 5*time.Millisecond)
	w.do("LPUSH", "src", "x")
	assert.Equal(t, "$1\r\nx\r\n", blocked.reply())
	w.do("RPUSH", "l", "y")
	assert.Equal(t, "*2\r\n$1\r\nl\r\n$1\r\ny\r\n", blocked2.reply())
	w.do("SET", "zz:end", "1")
	assert.Equal(t, []string{"src lpush", "src blmove", "dst blmove", "l rpush", "l blpop"}, sub.events("zz:end", false))
}

// TestKsubExpiredWithoutReads: a key whose TTL is reached emits "expired"
// soon after its deadline though nobody reads it, also among many keys with
// TTLs that random sampling would rarely pick.
func TestKsubExpiredWithoutReads(t *testing.T) {
	for _, dir := range []string{"", "disk"} {
		t.Run(map[string]string{"": "memory", "disk": "persistent"}[dir], func(t *testing.T) {
			d := ""
			if dir != "" {
				d = t.TempDir()
			}
			ts := startServer(t, d)
			w := ts.raw(t)
			for i := 0; i < 5000; i++ {
				w.send("SET", "long:"+strconv.Itoa(i), "v", "EX", "1000")
			}
			for i := 0; i < 5000; i++ {
				w.reply()
			}
			sub := ts.raw(t)
			sub.do("KSUB", "short")
			w.do("SET", "short", "v", "PX", "300")
			start := time.Now()
			sub.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			f, err := readStrings(sub.rd)
			require.NoError(t, err)
			assert.Equal(t, []string{"kmessage", "short", "short", "set"}, f)
			f, err = readStrings(sub.rd)
			require.NoError(t, err)
			assert.Equal(t, []string{"kmessage", "short", "short", "expired"}, f)
			t.Logf("expired event %v after the SET (TTL 300 ms)", time.Since(start))
		})
	}
}

func TestKsubEvictedInCacheMode(t *testing.T) {
	ts := startServer(t, "")
	w := ts.raw(t)
	sub := ts.raw(t)
	sub.do("KSUB", "*")
	require.Equal(t, "+OK\r\n", w.do("CONFIG", "SET", "maxmemory-policy", "allkeys-lru"))
	require.Equal(t, "+OK\r\n", w.do("CONFIG", "SET", "maxmemory", "2mb"))
	val := strings.Repeat("x", 1000)
	for i := 0; i < 5000; i++ {
		w.send("SET", "k:"+strconv.Itoa(i), val)
	}
	for i := 0; i < 5000; i++ {
		w.reply()
	}
	w.do("CONFIG", "SET", "maxmemory", "0")
	w.do("SET", "zz:end", "1")
	evicted := 0
	for _, e := range sub.events("zz:end", false) {
		if strings.HasSuffix(e, " evicted") {
			evicted++
		}
	}
	assert.Greater(t, evicted, 1000)
}

func TestKsubTableEvents(t *testing.T) {
	ts := startServer(t, "")
	sub := ts.raw(t)
	sub.do("SELECT", "3")
	sub.ksub("users", "zz:*")
	w := ts.raw(t)
	w.do("SELECT", "3")
	for _, line := range []string{
		"TCREATE users name:str:unique age:int",
		"TCREATE users name:str", // exists: fails
		"TINSERT users name ann age 3",
		"TINSERT users name ann age 4", // unique violation
		"TINSERT nosuch name x",
		"TUPDATE users 1 age 5",
		"TUPDATE users 99 age 5",
		"TALTER users ADD color:str",
		"TDEL users 1",
		"TDEL users 1",
		"TDROP users",
		"TDROP users",
	} {
		w.do(cmdLine(line)...)
	}
	w.do("SET", "zz:end", "1")
	assert.Equal(t, []string{"users tcreate", "users tinsert", "users tupdate", "users talter", "users tdel", "users tdrop"},
		sub.events("zz:end", false))
}

// TestKsubSlowSubscriberDisconnected: a subscriber that never reads is
// disconnected at the output-buffer limit; the writer goes on.
func TestKsubSlowSubscriberDisconnected(t *testing.T) {
	ts := startServer(t, "", func(c *Config) { c.PubSubLimit = 256 << 10 })
	sub := ts.raw(t)
	sub.do("KSUB", "*")
	other := ts.raw(t)
	other.do("KSUB", "zz:*")
	w := ts.raw(t)
	val := strings.Repeat("v", 100)
	const n = 100000
	for i := 0; i < n; i += 1000 {
		for j := 0; j < 1000; j++ {
			w.send("SET", "key:with:a:long:name:"+strconv.Itoa(i+j), val)
		}
		for j := 0; j < 1000; j++ {
			require.Equal(t, "+OK\r\n", w.reply())
		}
	}
	// the subscriber's connection was closed: reading drains what the
	// socket buffers held, then ends
	sub.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var err error
	for err == nil {
		_, err = sub.rd.Discard(4096)
	}
	assert.NotContains(t, err.Error(), "timeout")
	w.do("SET", "zz:end", "1")
	assert.Empty(t, other.events("zz:end", false), "the other subscriber is unaffected")
	require.Eventually(t, func() bool { return ts.srv.hub.KeySubscriptions() == 1 }, 5*time.Second, 10*time.Millisecond)
}

func TestKsubResetAndDisconnectCleanUp(t *testing.T) {
	ts := startServer(t, "")
	sub := ts.raw(t)
	sub.ksub("a", "b")
	require.Equal(t, int64(2), ts.srv.hub.KeySubscriptions())
	assert.Equal(t, "+RESET\r\n", sub.do("RESET"))
	assert.Equal(t, int64(0), ts.srv.hub.KeySubscriptions())
	w := ts.raw(t)
	w.do("SET", "a", "1")
	assert.Equal(t, "$1\r\n1\r\n", sub.do("GET", "a"), "no longer in subscribe mode, no frame before the reply")
	sub.do("KSUB", "a")
	sub.c.Close()
	require.Eventually(t, func() bool { return ts.srv.hub.KeySubscriptions() == 0 }, 5*time.Second, 10*time.Millisecond)
	w.do("SET", "a", "2") // nobody to deliver to
}

// TestKsubAlwaysDeliversAfterSync: in always mode a subscriber is not told of
// a write before the write is fsynced.
func TestKsubAlwaysDeliversAfterSync(t *testing.T) {
	var block atomic.Bool
	release := make(chan struct{})
	var synced atomic.Int64 // WAL syncs completed while blocking
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if block.Load() && strings.HasSuffix(op.Path, ".log") &&
			(op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData || op.Kind == errorfs.OpFileSyncTo) {
			<-release
			synced.Add(1)
		}
		return nil
	}))
	ts := startServerOn(t, fs, storage.SyncAlways)
	sub := ts.raw(t)
	sub.do("KSUB", "k")
	w := ts.raw(t)
	require.Equal(t, "+OK\r\n", w.do("SET", "warm", "1"))

	before := ts.store.LastSeq()
	block.Store(true)
	w.send("SET", "k", "v")
	// the write is applied and appended (in always mode even a read of it
	// waits for the sync) but not synced: no event yet
	require.Eventually(t, func() bool { return ts.store.LastSeq() > before }, 5*time.Second, time.Millisecond)
	sub.silent()
	assert.Zero(t, synced.Load())
	block.Store(false)
	close(release)
	assert.Equal(t, "+OK\r\n", w.reply())
	sub.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := readStrings(sub.rd)
	require.NoError(t, err)
	assert.Equal(t, []string{"kmessage", "k", "k", "set"}, f)
	assert.Positive(t, synced.Load())
}

func TestKsubCoalescedBarrier(t *testing.T) {
	var r syncRounds
	var runs atomic.Int32
	gate := make(chan struct{})
	done := make(chan struct{})
	go func() {
		r.wait(func() error { runs.Add(1); <-gate; return nil })
		close(done)
	}()
	require.Eventually(t, func() bool { return runs.Load() == 1 }, 5*time.Second, time.Millisecond)
	// 100 callers during a running round share the next one
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		go func() { errs <- r.wait(func() error { runs.Add(1); return nil }) }()
	}
	time.Sleep(50 * time.Millisecond)
	close(gate)
	<-done
	for i := 0; i < 100; i++ {
		require.NoError(t, <-errs)
	}
	assert.LessOrEqual(t, runs.Load(), int32(3), "rounds run")
	assert.Equal(t, fmt.Sprint(r.done), fmt.Sprint(r.started))
}

// TestKsubLazyExpiry: a read or a SET that finds a key past its deadline
// deletes it and reports "expired", not the command's name.
func TestKsubLazyExpiry(t *testing.T) {
	ts := startServer(t, "")
	w := ts.raw(t)
	require.Equal(t, "+OK\r\n", w.do("DEBUG", "SET-ACTIVE-EXPIRE", "0"))
	sub := ts.raw(t)
	sub.do("KSUB", "*")
	w.do("SET", "k", "v", "PX", "20")
	time.Sleep(60 * time.Millisecond)
	assert.Equal(t, "$-1\r\n", w.do("GET", "k"))
	w.do("SET", "k2", "v", "PX", "20")
	time.Sleep(60 * time.Millisecond)
	w.do("SET", "k2", "new") // the expired value goes first ("expired"), as in Redis's lookupKeyWrite
	w.do("SET", "zz:end", "1")
	assert.Equal(t, []string{"k set", "k expired", "k2 set", "k2 expired", "k2 set"}, sub.events("zz:end", false))
}

// TestKsubColdKeyExpires: with persistence a key that went to disk under
// the memory limit still reports "expired" without being read.
func TestKsubColdKeyExpires(t *testing.T) {
	ts := startServer(t, t.TempDir())
	w := ts.raw(t)
	sub := ts.raw(t)
	sub.do("KSUB", "short")
	w.do("SET", "short", "v", "PX", "3000")
	require.Equal(t, "+OK\r\n", w.do("CONFIG", "SET", "maxmemory", "2mb"))
	val := strings.Repeat("x", 1000)
	for i := 0; i < 20000; i += 500 {
		for j := 0; j < 500; j++ {
			w.send("SET", "fill:"+strconv.Itoa(i+j), val)
		}
		for j := 0; j < 500; j++ {
			w.reply()
		}
	}
	info := w.do("INFO", "stats")
	i := strings.Index(info, "lux_cold_keys:")
	require.GreaterOrEqual(t, i, 0)
	assert.NotEqual(t, "lux_cold_keys:0\r", info[i:i+len("lux_cold_keys:0\r")], "keys went to disk")
	sub.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := readStrings(sub.rd)
	require.NoError(t, err)
	assert.Equal(t, []string{"kmessage", "short", "short", "set"}, f)
	f, err = readStrings(sub.rd)
	require.NoError(t, err)
	assert.Equal(t, []string{"kmessage", "short", "short", "expired"}, f)
}

// TestKsubNothingDropped: concurrent pipelined writers, some on one key;
// every change arrives.
func TestKsubNothingDropped(t *testing.T) {
	ts := startServer(t, "")
	sub := ts.raw(t)
	sub.do("KSUB", "k:*", "ctr", "zz:end")
	for i := 0; i < 2; i++ {
		readStrings(sub.rd)
	}
	const writers, per = 4, 2000
	done := make(chan struct{})
	for i := 0; i < writers; i++ {
		go func(i int) {
			defer func() { done <- struct{}{} }()
			w := ts.raw(t)
			for j := 0; j < per; j++ {
				w.send("SET", fmt.Sprintf("k:%d:%d", i, j), "v")
				w.send("APPEND", "ctr", strconv.Itoa(i))
			}
			for j := 0; j < 2*per; j++ {
				w.reply()
			}
		}(i)
	}
	for i := 0; i < writers; i++ {
		<-done
	}
	w := ts.raw(t)
	ctr := w.do("GET", "ctr")
	w.do("SET", "zz:end", "1")
	evs := sub.events("zz:end", false)
	keys, appends := 0, ""
	for _, e := range evs {
		if e == "ctr append" {
			appends += "x"
		} else {
			keys++
		}
	}
	assert.Equal(t, writers*per, keys)
	assert.Equal(t, writers*per, len(appends))
	assert.Equal(t, "$"+strconv.Itoa(writers*per)+"\r\n", strings.SplitAfter(ctr, "\r\n")[0])
}

// nullSink discards frames (benchmark subscribers).
type nullSink struct{}

func (nullSink) WriteFrames([]byte) error { return nil }
func (nullSink) Overflow()                {}

// benchKsubSET replays pipelined SETs of 64 keys with subs subscribers, each
// holding the pattern pattern(i).
func benchKsubSET(b *testing.B, subs int, pattern func(i int) string) {
	store, err := storage.Open(storage.Options{})
	require.NoError(b, err)
	defer store.Close()
	s := New(DefaultConfig(), store)
	for i := 0; i < subs; i++ {
		sub := s.hub.NewSubscriber(nullSink{}, 0)
		defer sub.Close()
		s.hub.KSubscribe(sub, 0, pattern(i))
	}
	var req strings.Builder
	for i := 0; i < 64; i++ {
		req.WriteString(resp("SET", "key:"+strconv.Itoa(i), "xxx"))
	}
	lc := &loopConn{req: []byte(req.String())}
	c := &Client{srv: s, Writer: redcon.NewWriter(io.Discard), authed: true}
	c.rd = newReqReader(newProtoReader(lc, &s.limits, c.authRequired))
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		cmds, err := c.rd.ReadCommands()
		require.NoError(b, err)
		for i := range cmds {
			s.dispatch(c, cmds[i].Args)
		}
		s.releaseHeld(c)
		c.Flush()
		n += len(cmds)
	}
}

func BenchmarkKsubSETNone(b *testing.B) { benchKsubSET(b, 0, nil) }
func BenchmarkKsubSETIdleLiteral(b *testing.B) {
	benchKsubSET(b, 1000, func(i int) string { return "watch:" + strconv.Itoa(i) })
}
func BenchmarkKsubSETIdleGlob(b *testing.B) {
	benchKsubSET(b, 1000, func(i int) string { return "watch:" + strconv.Itoa(i) + ":*" })
}
func BenchmarkKsubSETOneMatching(b *testing.B) {
	benchKsubSET(b, 1, func(int) string { return "*" })
}

// TestKsubTimeSeries: TSADD's key, and each TSMADD triple that succeeded.
func TestKsubTimeSeries(t *testing.T) {
	ts := startServer(t, "")
	sub := ts.raw(t)
	sub.do("KSUB", "*")
	w := ts.raw(t)
	w.do("SET", "str", "x")
	for _, line := range []string{
		"TSADD s1 10 1.5",
		"TSADD s1 bad 1",
		"TSADD str 10 1",
		"TSMADD s1 11 2 s2 5 nan s3 7 3 str 1 1",
		"TSRANGE s1 - +",
	} {
		w.do(cmdLine(line)...)
	}
	w.do("SET", "zz:end", "1")
	assert.Equal(t, []string{"str set", "s1 tsadd", "s1 tsmadd", "s3 tsmadd"}, sub.events("zz:end", false))
}
