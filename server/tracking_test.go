package server

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func invalidate(keys ...string) string {
	s := ">2\r\n$10\r\ninvalidate\r\n*" + strconv.Itoa(len(keys)) + "\r\n"
	for _, k := range keys {
		s += rBulk(k)
	}
	return s
}

// CLIENT TRACKING default mode in RESP3: a key read by a tracking client is
// invalidated once when another client (or expiry) changes it; a change by
// the client itself is sent after the reply unless NOLOOP; FLUSHALL sends a
// null.
func TestTrackingDefaultMode(t *testing.T) {
	ts := startServer(t, "")
	r, w := ts.raw(t), ts.raw(t)
	r.do("HELLO", "3")
	require.Equal(t, rOK, r.do("CLIENT", "TRACKING", "on"))
	w.do("SET", "k", "1")
	require.Equal(t, rBulk("1"), r.do("GET", "k"))
	require.Equal(t, rBulk("x"), r.do("ECHO", "x"), "nothing before a change")
	w.do("SET", "k", "2")
	require.Equal(t, invalidate("k"), r.reply())
	w.do("SET", "k", "3") // no longer tracked: no second message
	require.Equal(t, rBulk("3"), r.do("GET", "k"))
	// the client's own change: after its reply
	r.send("SET", "k", "4")
	require.Equal(t, rOK, r.reply())
	require.Equal(t, invalidate("k"), r.reply())
	// NOLOOP: not at all
	require.Equal(t, rOK, r.do("CLIENT", "TRACKING", "on", "NOLOOP"))
	require.Equal(t, rBulk("4"), r.do("GET", "k"))
	require.Equal(t, rOK, r.do("SET", "k", "5"))
	require.Equal(t, rBulk("5"), r.do("GET", "k"))
	w.do("FLUSHALL")
	require.Equal(t, ">2\r\n$10\r\ninvalidate\r\n_\r\n", r.reply(), "FLUSHALL: a null, everything")
	// expiry is a change too, also under NOLOOP
	r.do("SET", "e", "v", "PX", "30")
	r.do("GET", "e")
	for {
		got := r.do("PING")
		if got == invalidate("e") {
			require.Equal(t, "+PONG\r\n", r.reply())
			break
		}
		require.Equal(t, "+PONG\r\n", got)
	}
}

// BCAST with prefixes: one message per prefix and command, with every
// changed key under it; OPTIN only remembers reads after CLIENT CACHING yes.
func TestTrackingBcastAndOptin(t *testing.T) {
	ts := startServer(t, "")
	r, w := ts.raw(t), ts.raw(t)
	r.do("HELLO", "3")
	require.Equal(t, "-ERR PREFIX option requires BCAST mode to be enabled\r\n", r.do("CLIENT", "TRACKING", "on", "PREFIX", "a:"))
	require.Equal(t, "-ERR Prefix 'a:' overlaps with another provided prefix 'a:b'. Prefixes for a single client must not overlap.\r\n",
		r.do("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a:", "PREFIX", "a:b"))
	require.Equal(t, rOK, r.do("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a:"))
	w.do("MSET", "a:1", "x", "b:1", "y", "a:2", "z")
	got := r.reply()
	require.True(t, got == invalidate("a:1", "a:2") || got == invalidate("a:2", "a:1"), got)
	require.Equal(t, "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\nbcast\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*1\r\n$2\r\na:\r\n",
		r.do("CLIENT", "TRACKINGINFO"))
	require.Equal(t, rOK, r.do("CLIENT", "TRACKING", "off"))

	require.Equal(t, rOK, r.do("CLIENT", "TRACKING", "on", "OPTIN"))
	r.do("GET", "a:1") // not remembered
	require.Equal(t, rOK, r.do("CLIENT", "CACHING", "yes"))
	r.do("GET", "b:1") // remembered
	w.do("SET", "a:1", "new")
	w.do("SET", "b:1", "new")
	require.Equal(t, invalidate("b:1"), r.reply())
	require.Equal(t, "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n", r.do("CLIENT", "CACHING", "no"))
}

// RESP2 tracking redirects to a connection subscribed to
// __redis__:invalidate; when that connection is gone, a RESP3 tracking
// client is told so.
func TestTrackingRedirect(t *testing.T) {
	ts := startServer(t, "")
	r, w, sub := ts.raw(t), ts.raw(t), ts.raw(t)
	id := strings.TrimSuffix(strings.TrimPrefix(sub.do("CLIENT", "ID"), ":"), "\r\n")
	sub.do("SUBSCRIBE", "__redis__:invalidate")
	require.Equal(t, "-ERR The client ID you want redirect to does not exist\r\n", r.do("CLIENT", "TRACKING", "on", "REDIRECT", "999999"))
	require.Equal(t, rOK, r.do("CLIENT", "TRACKING", "on", "REDIRECT", id))
	require.Equal(t, ":"+id+"\r\n", r.do("CLIENT", "GETREDIR"))
	r.do("GET", "k")
	w.do("SET", "k", "1")
	require.Equal(t, "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n", sub.reply())

	r.do("HELLO", "3")
	r.do("GET", "k")
	require.Equal(t, rOK, sub.do("QUIT"))
	w.do("SET", "k", "2")
	require.Equal(t, ">2\r\n$21\r\ntracking-redir-broken\r\n:"+id+"\r\n", r.reply())
	require.Contains(t, r.do("CLIENT", "TRACKINGINFO"), "broken_redirect")
}

// TestTrackingEvictionBeforeReply: without persistence a command run while
// over maxmemory evicts first (a read too, as Redis), and the invalidation
// of an evicted tracked key reaches the client before that command's reply.
func TestTrackingEvictionBeforeReply(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.do("HELLO", "3")
	require.Equal(t, rOK, r.do("CLIENT", "TRACKING", "on"))
	info := r.do("INFO", "memory")
	require.Contains(t, info, "mem_not_counted_for_evict:0\r\n")
	used := 0
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
			used, _ = strconv.Atoi(v)
		}
	}
	require.Equal(t, rOK, r.do("CONFIG", "SET", "maxmemory", strconv.Itoa(used+100*1024)))
	require.Equal(t, rOK, r.do("CONFIG", "SET", "maxmemory-policy", "volatile-random"))
	require.Equal(t, rOK, r.do("SETEX", "volatile-key", "10000", "x"))
	require.Equal(t, rBulk("x"), r.do("GET", "volatile-key"))
	require.Equal(t, ":0\r\n", r.do("SETBIT", "big-key", "1600000", "0")) // about 200 KB
	require.Equal(t, invalidate("volatile-key"), r.do("GETBIT", "big-key", "0"))
	require.Equal(t, ":0\r\n", r.reply())
	require.Equal(t, ":0\r\n", r.do("EXISTS", "volatile-key"))
}

// A redirect target's first command after its tracking queue exists hands
// it from the event loop to a goroutine; an invalidation delivered while the
// loop let go of the socket must neither be lost nor stop the deliveries
// (its write saw no socket: the delivery goroutine gave up, and the target,
// as in the Redis suite's "redirect invalidation with client reply off",
// waited for ever).
func TestTrackingRedirectDuringHandover(t *testing.T) {
	ts := startServer(t, "", func(c *Config) { c.EventLoop = true })
	w := ts.raw(t)
	for i := 0; i < 200; i++ {
		a, tr := ts.raw(t), ts.raw(t)
		a.do("HELLO", "3")
		id := strings.TrimSuffix(strings.TrimPrefix(a.do("CLIENT", "ID"), ":"), "\r\n")
		require.Equal(t, rOK, tr.do("CLIENT", "TRACKING", "on", "REDIRECT", id))
		tr.do("GET", "k")
		done := make(chan struct{})
		go func() {
			defer close(done)
			w.do("SET", "k", strconv.Itoa(i))
		}()
		a.send("PING")
		got := []string{a.reply(), a.reply()}
		<-done
		require.ElementsMatch(t, []string{"+PONG\r\n", invalidate("k")}, got, "round %d", i)
		// deliveries go on after the hand-over
		tr.do("GET", "k")
		w.do("SET", "k", "x")
		require.Equal(t, invalidate("k"), a.reply(), "round %d", i)
		a.c.Close()
		tr.c.Close()
	}
}
