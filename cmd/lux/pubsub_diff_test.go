package main

// Multi-connection pub/sub differential test: the same scenario (several
// subscriber connections with channels and glob patterns, one publisher) runs
// against Redis and lux, each producing a transcript of every reply and every
// message frame; the transcripts must be identical.
//
// Frame order: Redis delivers one PUBLISH to a connection as the channel
// message first, then one pmessage per matching pattern in hash-table order,
// so the frames of one PUBLISH on one connection are compared sorted. Across
// PUBLISHes order must be preserved. After each PUBLISH every subscriber is
// sent PING; its "pong" reply marks the end of the frames that PUBLISH
// produced on that connection (Redis has queued them before PUBLISH returns,
// so they must arrive before the pong).

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// pubsubPatterns exercise Redis's stringmatch: ?, *, classes with ranges,
// reversed ranges, negation, escapes inside and outside classes, and
// malformed patterns (unclosed class, trailing backslash).
var pubsubPatterns = []string{
	"news.*", "h?llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "h[b-a]llo", `h\?llo`, `h\*`,
	`a[\]]b`, "[", "x[", "x[a-", `\\`, `*\`, "n[0-9]*", "\xc3\xa9*", "?", "??", "h*o*",
	"*a*a*a*", "[!a]bc", `[\-]`, "news.[^a-s]*", "", "h[a-]llo",
}

// pubsubChannels are published to, each to see which subscriptions match.
var pubsubChannels = []string{
	"news.tech", "news.art", "news.", "news", "hello", "hallo", "hbllo", "hxllo", "hllo",
	"heello", "h?llo", "h*", "hx", "a]b", "ab", "[", "x[", "x[a-", `\`, "n5", "n55", "n",
	"\xc3\xa9", "\xc3\xa9t\xc3\xa9", "", "a b", "aaa", "abc", "!bc", "xbc", "-", "h-llo",
	"channel\x00nul", strings.Repeat("long", 100), "news.zoo",
}

// pubsubScenario runs the scenario against addr and returns its transcript.
func pubsubScenario(t *testing.T, addr string) []string {
	var out []string
	totalFrames, lateFrames := 0, 0
	logf := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	pub := dialRESP(t, addr)
	subs := []*respConn{dialRESP(t, addr), dialRESP(t, addr), dialRESP(t, addr)}
	for _, c := range append([]*respConn{pub}, subs...) {
		c.Timeout = 5 * time.Second
	}
	// cmd sends a command on conn i (-1 = publisher) and records n replies.
	cmd := func(i, n int, args ...string) []string {
		c := pub
		if i >= 0 {
			c = subs[i]
		}
		c.Send(args...)
		var replies []string
		for k := 0; k < n; k++ {
			r, err := c.TryReply()
			if err != nil {
				logf("conn %d %q: reply %d: %v", i, args, k, err)
				t.Errorf("%s: conn %d %q: %v", addr, i, args, err)
				return replies
			}
			replies = append(replies, r)
		}
		logf("conn %d %q -> %q", i, args, replies)
		return replies
	}
	// drain collects, per subscriber, the frames one PUBLISH produced; want
	// is that PUBLISH's receiver count. Each subscriber is read up to its
	// pong; frames still missing after that (lux may put the pong ahead of a
	// message queued earlier, Redis never does) are waited for, bounded, and
	// counted in lateFrames.
	drain := func(label, countReply string) {
		want := 0
		fmt.Sscanf(countReply, ":%d", &want)
		frames := make([][]string, len(subs))
		total := 0
		for i, c := range subs {
			c.Send("PING")
			for {
				r, err := c.TryReply()
				if err != nil {
					logf("sub %d after %s: %v", i, label, err)
					t.Errorf("%s: sub %d after %s: %v", addr, i, label, err)
					return
				}
				if r == "*2\r\n$4\r\npong\r\n$0\r\n\r\n" {
					break
				}
				frames[i] = append(frames[i], r)
				total++
				if len(frames[i]) > 1000 {
					t.Fatalf("%s: sub %d: no pong after 1000 frames", addr, i)
				}
			}
		}
		for deadline := time.Now().Add(5 * time.Second); total < want && time.Now().Before(deadline); {
			for i, c := range subs {
				if c.pending(20 * time.Millisecond) {
					r, err := c.TryReply()
					if err != nil {
						t.Errorf("%s: sub %d after %s: %v", addr, i, label, err)
						return
					}
					frames[i] = append(frames[i], r)
					total++
					lateFrames++
				}
			}
		}
		for i := range subs {
			sort.Strings(frames[i])
			totalFrames += len(frames[i])
			logf("sub %d after %s: %d frames %q", i, label, len(frames[i]), frames[i])
		}
	}
	publishAll := func(round string) {
		for j, ch := range pubsubChannels {
			msg := fmt.Sprintf("%s-%d", round, j)
			if j%5 == 0 {
				msg = "" // empty and binary payloads too
			} else if j%7 == 0 {
				msg = "bin\x00\r\n\xff"
			}
			r := cmd(-1, 1, "PUBLISH", ch, msg)
			drain(fmt.Sprintf("PUBLISH %q", ch), strings.Join(r, ""))
		}
	}
	pubsubState := func() {
		cmd(-1, 1, "PUBSUB", "NUMPAT")
		cmd(-1, 1, append([]string{"PUBSUB", "NUMSUB"}, "news.tech", "news.art", "hello", "h?llo", "nope", "")...)
		for _, pat := range []string{"", "*", "news.*", "h[ae]llo", `h\?llo`, "nomatch"} {
			args := []string{"PUBSUB", "CHANNELS"}
			if pat != "" {
				args = append(args, pat)
			}
			// The order of PUBSUB CHANNELS is Redis's hash order: compare sorted.
			pub.Send(args...)
			r, err := pub.TryReply()
			if err != nil {
				t.Errorf("%s: %q: %v", addr, args, err)
				continue
			}
			logf("conn -1 %q -> %s", args, shapeOfRaw(r))
		}
	}

	// sub 0: plain channels, one twice, one with glob characters in its name.
	cmd(0, 5, "SUBSCRIBE", "news.tech", "news.art", "hello", "h?llo", "hello")
	cmd(0, 2, "SUBSCRIBE", "", "channel\x00nul")
	// sub 1: patterns only.
	cmd(1, len(pubsubPatterns), append([]string{"PSUBSCRIBE"}, pubsubPatterns...)...)
	cmd(1, 1, "PSUBSCRIBE", "h?llo")
	// sub 2: a channel and patterns matching it, so one PUBLISH gives it several frames.
	cmd(2, 3, "PSUBSCRIBE", "*", "news.*", "news.tech")
	cmd(2, 1, "SUBSCRIBE", "news.tech")
	pubsubState()
	publishAll("r1")

	// Partial unsubscribes change the counts.
	cmd(0, 2, "UNSUBSCRIBE", "news.art", "not-subscribed")
	cmd(1, 3, "PUNSUBSCRIBE", "h?llo", "*a*a*a*", "never")
	cmd(2, 1, "PUNSUBSCRIBE", "*")
	pubsubState()
	publishAll("r2")

	// A subscriber that disconnects stops counting; Redis notices the close
	// asynchronously, so wait (bounded) until NUMPAT drops before publishing.
	subs[2].Close()
	subs = subs[:2]
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := pub.Do("PUBSUB", "NUMPAT")
		if n == fmt.Sprintf(":%d\r\n", len(pubsubPatterns)-2) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	pubsubState()
	publishAll("r3")

	// Unsubscribing from everything leaves subscribe mode; the connection
	// then answers normal commands again.
	subs[0].Send("UNSUBSCRIBE")
	var all []string
	for {
		r, err := subs[0].TryReply()
		if err != nil {
			t.Errorf("%s: UNSUBSCRIBE: %v", addr, err)
			break
		}
		all = append(all, r)
		if strings.HasSuffix(r, ":0\r\n") {
			break
		}
	}
	logf("conn 0 UNSUBSCRIBE -> %q", unsubscribeAllShape(all))
	cmd(0, 1, "PING")
	subs = subs[1:]
	r := cmd(-1, 1, "PUBLISH", "hello", "after")
	drain("final PUBLISH", strings.Join(r, ""))
	pubsubState()
	// Guard against a vacuous scenario (say, subscriptions that silently failed).
	if totalFrames < 200 {
		t.Errorf("%s: only %d message frames in the whole scenario", addr, totalFrames)
	}
	t.Logf("%s: %d transcript lines, %d message frames", addr, len(out), totalFrames)
	if lateFrames > 0 {
		// Not an error (delivery is complete and in order per channel), but
		// unlike Redis: a reply to a later command overtook a queued message.
		t.Logf("%s: %d message frames arrived after the subscriber's reply to a later PING", addr, lateFrames)
	}
	return out
}

// TestPubSubDiff compares the pub/sub scenario on Redis and lux.
func TestPubSubDiff(t *testing.T) {
	red := startRedis(t)
	lux := startLux(t, "--persistence=false")
	want := pubsubScenario(t, red.Addr)
	got := pubsubScenario(t, lux.Addr)
	n := max(len(want), len(got))
	bad := 0
	for i := 0; i < n; i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			bad++
			if bad <= 20 {
				t.Errorf("transcript line %d:\n  redis: %s\n  lux:   %s", i, w, g)
			}
		}
	}
	if bad > 20 {
		t.Errorf("... %d differing transcript lines in all (of %d)", bad, n)
	}
	if !lux.Alive() {
		t.Fatalf("lux died")
	}
}

// shardScenario: shard channels (SSUBSCRIBE, SPUBLISH, SUNSUBSCRIBE, PUBSUB
// SHARDCHANNELS/SHARDNUMSUB) are a namespace of their own, in RESP2 and
// RESP3, and count apart from channels and patterns. Returns the transcript.
func shardScenario(t *testing.T, addr string) []string {
	var out []string
	pub, sub, sub3 := dialRESP(t, addr), dialRESP(t, addr), dialRESP(t, addr)
	for _, c := range []*respConn{pub, sub, sub3} {
		c.Timeout = 5 * time.Second
	}
	// do sends args (none: only reads) and records n replies
	do := func(c *respConn, name string, n int, args ...string) {
		if len(args) > 0 {
			c.Send(args...)
		}
		var replies []string
		for k := 0; k < n; k++ {
			r, err := c.TryReply()
			if err != nil {
				t.Errorf("%s: %s %q: %v", addr, name, args, err)
				return
			}
			replies = append(replies, r)
		}
		out = append(out, fmt.Sprintf("%s %q -> %q", name, args, replies))
	}
	do(sub3, "sub3", 1, "HELLO", "3")
	out = out[:0] // HELLO's map carries the server's name and version
	do(sub, "sub", 2, "SSUBSCRIBE", "s1", "s2")
	do(sub, "sub", 1, "SSUBSCRIBE", "s1")
	do(sub, "sub", 2, "SUBSCRIBE", "s1", "c1")
	do(sub, "sub", 1, "PSUBSCRIBE", "s*")
	do(sub3, "sub3", 1, "SSUBSCRIBE", "s2")
	do(pub, "pub", 1, "SPUBLISH", "s1", "hello")
	do(sub, "sub", 1) // the smessage only: PUBLISH subscribers do not get it
	do(pub, "pub", 1, "SPUBLISH", "s2", "world")
	do(sub, "sub", 1)
	do(sub3, "sub3", 1)
	do(pub, "pub", 1, "PUBLISH", "s1", "plain")
	do(sub, "sub", 2) // message and pmessage, no smessage
	do(pub, "pub", 1, "SPUBLISH", "nobody", "x")
	do(pub, "pub", 1, "PUBSUB", "SHARDCHANNELS", "s1")
	do(pub, "pub", 1, "PUBSUB", "SHARDCHANNELS", "z*")
	do(pub, "pub", 1, "PUBSUB", "SHARDNUMSUB", "s1", "s2", "nobody")
	do(pub, "pub", 1, "PUBSUB", "NUMSUB", "s1", "s2")
	do(pub, "pub", 1, "PUBSUB", "CHANNELS", "c*")
	do(sub, "sub", 1, "GET", "k") // subscribed mode refuses it
	do(sub3, "sub3", 1, "GET", "k")
	do(sub, "sub", 1, "SUNSUBSCRIBE", "s1")
	do(sub, "sub", 1, "SUNSUBSCRIBE")
	do(sub, "sub", 1, "SUNSUBSCRIBE")
	do(sub, "sub", 2, "UNSUBSCRIBE", "s1", "c1")
	do(sub, "sub", 1, "PUNSUBSCRIBE")
	do(sub, "sub", 1, "GET", "k") // out of subscribed mode
	do(sub3, "sub3", 2, "SUNSUBSCRIBE", "s2", "s9")
	do(pub, "pub", 1, "PUBSUB", "SHARDCHANNELS")
	do(pub, "pub", 1, "SPUBLISH", "s2", "gone")
	do(pub, "pub", 1, "PUBSUB", "SHARDNUMSUB", "s1", "s2")
	do(pub, "pub", 1, "MULTI")
	do(pub, "pub", 1, "SSUBSCRIBE", "m")
	do(pub, "pub", 1, "EXEC")
	do(pub, "pub", 1, "SSUBSCRIBE")
	do(pub, "pub", 1, "SPUBLISH", "a")
	return out
}

// TestPubSubShardDiff compares the shard channel scenario on Redis and lux.
func TestPubSubShardDiff(t *testing.T) {
	red := startRedis(t)
	lux := startLux(t, "--persistence=false")
	want := shardScenario(t, red.Addr)
	got := shardScenario(t, lux.Addr)
	require.Equal(t, want, got)
}
