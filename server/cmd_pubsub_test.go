package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Replies checked here were recorded from redis-server 7.0.15.

// subFrame is a (p)(un)subscribe confirmation: kind, name (nil name when
// name is "<nil>") and the connection's subscription count.
func subFrame(kind, name string, count int) string {
	n := "$-1\r\n"
	if name != "<nil>" {
		n = rBulk(name)
	}
	return "*3\r\n" + rBulk(kind) + n + rInt(int64(count))
}

func msgFrame(channel, msg string) string {
	return "*3\r\n$7\r\nmessage\r\n" + rBulk(channel) + rBulk(msg)
}

func pmsgFrame(pattern, channel, msg string) string {
	return "*4\r\n$8\r\npmessage\r\n" + rBulk(pattern) + rBulk(channel) + rBulk(msg)
}

// replies reads n replies from r.
func (r *rawConn) replies(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = r.reply()
	}
	return out
}

func TestPubSubSubscribeFrames(t *testing.T) {
	ts := startServer(t, "")
	s := ts.raw(t)
	// with no subscriptions: one frame with a nil name and count 0
	require.Equal(t, subFrame("unsubscribe", "<nil>", 0), s.do("UNSUBSCRIBE"))
	require.Equal(t, subFrame("punsubscribe", "<nil>", 0), s.do("PUNSUBSCRIBE"))
	// naming channels one is not subscribed to: one frame each
	s.send("UNSUBSCRIBE", "a", "b")
	require.Equal(t, []string{subFrame("unsubscribe", "a", 0), subFrame("unsubscribe", "b", 0)}, s.replies(2))
	// those did not enter subscribe mode
	require.Equal(t, rNil, s.do("GET", "x"))

	s.send("SUBSCRIBE", "ch1", "ch2", "ch1")
	require.Equal(t, []string{subFrame("subscribe", "ch1", 1), subFrame("subscribe", "ch2", 2), subFrame("subscribe", "ch1", 2)}, s.replies(3))
	s.send("PSUBSCRIBE", "p.*", "h[ae]llo")
	require.Equal(t, []string{subFrame("psubscribe", "p.*", 3), subFrame("psubscribe", "h[ae]llo", 4)}, s.replies(2))
	s.send("UNSUBSCRIBE", "ch1", "nope")
	require.Equal(t, []string{subFrame("unsubscribe", "ch1", 3), subFrame("unsubscribe", "nope", 3)}, s.replies(2))
	require.Equal(t, subFrame("unsubscribe", "ch2", 2), s.do("UNSUBSCRIBE"))
	require.Equal(t, subFrame("punsubscribe", "p.*", 1), s.do("PUNSUBSCRIBE", "p.*"))
	require.Equal(t, subFrame("punsubscribe", "h[ae]llo", 0), s.do("PUNSUBSCRIBE"))
	// out of subscribe mode again
	require.Equal(t, rNil, s.do("GET", "x"))
	require.Equal(t, "-ERR wrong number of arguments for 'subscribe' command\r\n", s.do("SUBSCRIBE"))
	require.Equal(t, "-ERR wrong number of arguments for 'psubscribe' command\r\n", s.do("PSUBSCRIBE"))
	require.Equal(t, "-ERR wrong number of arguments for 'publish' command\r\n", s.do("PUBLISH", "a"))
}

func TestPubSubUnsubscribeAllReportsEveryName(t *testing.T) {
	ts := startServer(t, "")
	s := ts.raw(t)
	s.send("SUBSCRIBE", "a", "b", "c")
	s.replies(3)
	s.send("UNSUBSCRIBE")
	got := s.replies(3)
	// Redis reports them in dict order; the counts always go down 2, 1, 0
	names := []string{}
	for i, f := range got {
		require.True(t, strings.HasPrefix(f, "*3\r\n$11\r\nunsubscribe\r\n"), f)
		require.True(t, strings.HasSuffix(f, rInt(int64(2-i))), f)
		names = append(names, strings.Split(f, "\r\n")[4])
	}
	sort.Strings(names)
	require.Equal(t, []string{"a", "b", "c"}, names)
}

func TestPubSubSubscribeModeRestrictions(t *testing.T) {
	ts := startServer(t, "")
	s := ts.raw(t)
	require.Equal(t, subFrame("subscribe", "ch", 1), s.do("SUBSCRIBE", "ch"))
	for _, cmd := range []string{"get", "set", "select", "multi", "echo", "publish"} {
		args := map[string][]string{"get": {"get", "x"}, "set": {"set", "x", "1"}, "select": {"select", "1"},
			"multi": {"multi"}, "echo": {"echo", "a"}, "publish": {"publish", "a", "b"}}[cmd]
		require.Equal(t, "-ERR Can't execute '"+cmd+"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
			s.do(args...))
	}
	// arity and unknown-command errors come first
	require.Equal(t, "-ERR unknown command 'nosuch', with args beginning with: \r\n", s.do("nosuch"))
	require.Equal(t, "-ERR wrong number of arguments for 'get' command\r\n", s.do("GET"))
	// PING answers as a push
	require.Equal(t, "*2\r\n$4\r\npong\r\n$0\r\n\r\n", s.do("PING"))
	require.Equal(t, "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n", s.do("PING", "hi"))
	// still subscribed: messages arrive
	require.Equal(t, rOne, ts.raw(t).do("PUBLISH", "ch", "m"))
	require.Equal(t, msgFrame("ch", "m"), s.reply())
	require.Equal(t, rOK, s.do("QUIT"))
	requireClosed(t, s)
}

// Redis 7 names container commands with their subcommand in this error.
func TestPubSubSubscribeModeSubcommandName(t *testing.T) {
	ts := startServer(t, "")
	s := ts.raw(t)
	require.Equal(t, subFrame("subscribe", "ch", 1), s.do("SUBSCRIBE", "ch"))
	require.Equal(t, "-ERR Can't execute 'client|id': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
		s.do("CLIENT", "ID"))
}

func TestPubSubPublishCountsAndPatterns(t *testing.T) {
	ts := startServer(t, "")
	s, p := ts.raw(t), ts.raw(t)
	s.send("SUBSCRIBE", "news.tech")
	s.send("PSUBSCRIBE", "news.*", "*.tech", `h[ae]llo`, `a\*b`, "[^x]yz")
	s.replies(6)

	// the channel plus two matching patterns: three deliveries, three frames
	require.Equal(t, rInt(3), p.do("PUBLISH", "news.tech", "m1"))
	got := s.replies(3)
	require.Equal(t, msgFrame("news.tech", "m1"), got[0], "the channel message comes first")
	require.ElementsMatch(t, []string{pmsgFrame("news.*", "news.tech", "m1"), pmsgFrame("*.tech", "news.tech", "m1")}, got[1:])

	for _, tc := range []struct {
		channel, pattern string
	}{
		{"hello", `h[ae]llo`},
		{"hallo", `h[ae]llo`},
		{"a*b", `a\*b`},
		{"ayz", "[^x]yz"},
	} {
		require.Equal(t, rOne, p.do("PUBLISH", tc.channel, "m"), tc.channel)
		require.Equal(t, pmsgFrame(tc.pattern, tc.channel, "m"), s.reply())
	}
	for _, ch := range []string{"hillo", "axb", "xyz", "news", "other"} {
		require.Equal(t, rZero, p.do("PUBLISH", ch, "m"), ch)
	}
	// nothing was delivered for the zero counts: the next frame is this one
	require.Equal(t, rOne, p.do("PUBLISH", "hello", "last"))
	require.Equal(t, pmsgFrame(`h[ae]llo`, "hello", "last"), s.reply())

	// two connections subscribed to the channel count twice
	s2 := ts.raw(t)
	require.Equal(t, subFrame("subscribe", "news.tech", 1), s2.do("SUBSCRIBE", "news.tech"))
	require.Equal(t, rInt(4), p.do("PUBLISH", "news.tech", "m2"))
	require.Equal(t, msgFrame("news.tech", "m2"), s2.reply())
	// binary-safe payloads
	require.Equal(t, rOne, p.do("PUBLISH", "hallo", "a\r\nb\x00"))
	s.replies(3)
	require.Equal(t, pmsgFrame(`h[ae]llo`, "hallo", "a\r\nb\x00"), s.reply())
}

func TestPubSubIntrospection(t *testing.T) {
	ts := startServer(t, "")
	p := ts.raw(t)
	require.Equal(t, "*0\r\n", p.do("PUBSUB", "CHANNELS"))
	require.Equal(t, rZero, p.do("PUBSUB", "NUMPAT"))
	require.Equal(t, "*0\r\n", p.do("PUBSUB", "NUMSUB"))

	a, b := ts.raw(t), ts.raw(t)
	a.send("SUBSCRIBE", "ch1", "ch2")
	a.replies(2)
	a.send("PSUBSCRIBE", "p.*", "h?llo")
	a.replies(2)
	b.send("SUBSCRIBE", "ch1")
	b.reply()
	b.send("PSUBSCRIBE", "p.*", "q*")
	b.replies(2)

	// Redis lists channels in dict order; compare as sets
	require.ElementsMatch(t, []string{"ch1", "ch2"}, arrayItems(t, p.do("PUBSUB", "CHANNELS")))
	require.ElementsMatch(t, []string{"ch1", "ch2"}, arrayItems(t, p.do("PUBSUB", "CHANNELS", "ch*")))
	require.Equal(t, rArr("ch1"), p.do("PUBSUB", "CHANNELS", "ch[1]"))
	require.Equal(t, "*0\r\n", p.do("PUBSUB", "CHANNELS", "p.*"), "patterns are not channels")
	require.Equal(t, "*6\r\n$3\r\nch1\r\n:2\r\n$3\r\nch2\r\n:1\r\n$4\r\nnope\r\n:0\r\n", p.do("PUBSUB", "NUMSUB", "ch1", "ch2", "nope"))
	// Redis 7: distinct patterns, not pattern subscriptions
	require.Equal(t, rInt(3), p.do("PUBSUB", "NUMPAT"))
	require.Equal(t, "-ERR unknown subcommand 'foo'. Try PUBSUB HELP.\r\n", p.do("PUBSUB", "foo"))
	require.Equal(t, "-ERR wrong number of arguments for 'pubsub' command\r\n", p.do("PUBSUB"))

	// a disconnected subscriber is forgotten
	a.c.Close()
	require.Eventually(t, func() bool { return p.do("PUBSUB", "NUMPAT") == rInt(2) }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, rArr("ch1"), p.do("PUBSUB", "CHANNELS"))
	require.Equal(t, "*2\r\n$3\r\nch1\r\n:1\r\n", p.do("PUBSUB", "NUMSUB", "ch1"))
}

// arrayItems returns the bulk strings of a flat RESP array reply.
func arrayItems(t *testing.T, reply string) []string {
	t.Helper()
	parts := strings.Split(reply, "\r\n")
	require.True(t, strings.HasPrefix(parts[0], "*"), reply)
	var out []string
	for i := 2; i < len(parts); i += 2 {
		out = append(out, parts[i])
	}
	return out
}

// The subscribe confirmation always precedes messages of that channel, even
// while a publisher is publishing to it non-stop.
func TestPubSubSubscribeReplyPrecedesMessages(t *testing.T) {
	ts := startServer(t, "")
	pub := ts.client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			pub.Publish(ctx, "hot", "m")
		}
	}()
	for i := 0; i < 30; i++ {
		s := ts.raw(t)
		s.send("SUBSCRIBE", "cold", "hot")
		require.Equal(t, subFrame("subscribe", "cold", 1), s.reply())
		require.Equal(t, subFrame("subscribe", "hot", 2), s.reply())
		require.Equal(t, msgFrame("hot", "m"), s.reply())
		s.c.Close()
	}
	cancel()
	<-done
}

// A subscriber that never reads is disconnected once more than the output
// limit (32 MiB) is pending; publishing never blocks on it, and the other
// subscribers keep receiving.
func TestPubSubSlowSubscriberIsDisconnected(t *testing.T) {
	ts := startServer(t, "")
	slow := ts.raw(t)
	require.Equal(t, subFrame("subscribe", "ch", 1), slow.do("SUBSCRIBE", "ch"))
	// shrink the slow side's receive buffer so the backlog builds up in the server
	if tc, ok := slow.c.(*net.TCPConn); ok {
		tc.SetReadBuffer(64 << 10)
	}
	good := ts.raw(t)
	require.Equal(t, subFrame("subscribe", "ch", 1), good.do("SUBSCRIBE", "ch"))

	pub := ts.raw(t)
	payload := strings.Repeat("x", 64<<10)
	frame := msgFrame("ch", payload)
	const maxMsgs = 3000 // 190 MiB: far past the limit plus socket buffers
	deadline := time.Now().Add(2 * time.Minute)
	published, dropped := 0, false
	for ; published < maxMsgs && time.Now().Before(deadline); published++ {
		n := pub.do("PUBLISH", "ch", payload)
		require.Contains(t, []string{rInt(2), rInt(1)}, n)
		// the good subscriber receives every message, in order
		require.Equal(t, frame, good.reply(), "message %d", published)
		if n == rInt(1) && pub.do("PUBSUB", "NUMSUB", "ch") == "*2\r\n$2\r\nch\r\n:1\r\n" {
			dropped = true
			published++
			break
		}
	}
	require.True(t, dropped, "the slow subscriber was never disconnected after %d messages of 64 KiB", published)
	require.Greater(t, published*len(payload), 32<<20, "disconnected before the limit was reached")

	// the slow connection ends (after whatever was already in flight)
	total := 0
	buf := make([]byte, 1<<20)
	slow.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var err error
	for {
		var n int
		n, err = slow.rd.Read(buf)
		total += n
		if err != nil {
			break
		}
	}
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "slow subscriber still connected: %v", err)
	require.Less(t, total, published*len(frame), "the slow subscriber received everything")

	// publishing and the good subscriber still work
	require.Equal(t, rOne, pub.do("PUBLISH", "ch", "after"))
	require.Equal(t, msgFrame("ch", "after"), good.reply())
}

// Many publishers to many subscribers: every message is delivered exactly
// once per subscription and PUBLISH counts agree.
func TestPubSubConcurrentPublishers(t *testing.T) {
	ts := startServer(t, "")
	const subs, pubs, perPub = 3, 4, 200
	var conns []*rawConn
	for i := 0; i < subs; i++ {
		s := ts.raw(t)
		require.Equal(t, subFrame("subscribe", "c", 1), s.do("SUBSCRIBE", "c"))
		conns = append(conns, s)
	}
	var total atomic.Int64
	errs := make(chan error, pubs)
	for p := 0; p < pubs; p++ {
		c := ts.client(t)
		go func(p int) {
			for i := 0; i < perPub; i++ {
				n, err := c.Publish(context.Background(), "c", fmt.Sprintf("%d-%d", p, i)).Result()
				if err != nil {
					errs <- err
					return
				}
				total.Add(n)
			}
			errs <- nil
		}(p)
	}
	for p := 0; p < pubs; p++ {
		require.NoError(t, <-errs)
	}
	require.Equal(t, int64(subs*pubs*perPub), total.Load())
	for _, s := range conns {
		next := make([]int, pubs)
		for i := 0; i < pubs*perPub; i++ {
			f := s.reply()
			var p, n int
			parts := strings.Split(f, "\r\n")
			_, err := fmt.Sscanf(parts[6], "%d-%d", &p, &n)
			require.NoError(t, err, f)
			require.Equal(t, next[p], n, "per-publisher order")
			next[p]++
		}
	}
}

// Redis 7 sends subscribe confirmations and published messages as pushes,
// which CLIENT REPLY OFF and SKIP do not silence (the Tcl suite's keyspace
// notification tests subscribe that way).
func TestPubSubPushesIgnoreClientReplyOff(t *testing.T) {
	ts := startServer(t, "")
	p := ts.raw(t)

	off := ts.raw(t)
	off.send("CLIENT", "REPLY", "OFF")
	off.send("PSUBSCRIBE", "*")
	require.Equal(t, subFrame("psubscribe", "*", 1), off.reply())
	require.Eventually(t, func() bool { return p.do("PUBSUB", "NUMPAT") == rOne }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, rOne, p.do("PUBLISH", "foo", "bar"))
	require.Equal(t, pmsgFrame("*", "foo", "bar"), off.reply())

	skip := ts.raw(t)
	skip.send("CLIENT", "REPLY", "SKIP")
	skip.send("SUBSCRIBE", "a")
	require.Equal(t, subFrame("subscribe", "a", 1), skip.reply())
	require.Equal(t, "*2\r\n$4\r\npong\r\n$0\r\n\r\n", skip.do("PING"))
	require.Equal(t, rInt(2), p.do("PUBLISH", "a", "m"))
	require.Equal(t, msgFrame("a", "m"), skip.reply())
}
