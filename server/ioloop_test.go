package server

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The event loop's own tests: they run with the loop on whatever
// LUX_EVENT_LOOP says (CI runs the whole package both ways as well).

func startLoopServer(t *testing.T) *testServer {
	t.Helper()
	ts := startServer(t, "", func(c *Config) { c.EventLoop = true })
	require.True(t, serverClient(t, ts, ts.raw(t)).inLoop.Load(), "the event loop did not start")
	return ts
}

// serverClient returns the server's Client behind raw connection r.
func serverClient(t *testing.T, ts *testServer, r *rawConn) *Client {
	t.Helper()
	id, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(r.do("CLIENT", "ID"), ":")), 10, 64)
	require.NoError(t, err)
	ts.srv.clientsMu.Lock()
	defer ts.srv.clientsMu.Unlock()
	c := ts.srv.clients[id]
	require.NotNil(t, c)
	return c
}

// A SUBSCRIBE written before another connection's PUBLISH gets the message:
// the loop runs requests in the order their sockets became readable.
func TestLoopSubscribeThenPublishOrder(t *testing.T) {
	ts := startLoopServer(t)
	pub := ts.raw(t)
	for i := 0; i < 200; i++ {
		sub := ts.raw(t)
		require.Equal(t, "+PONG\r\n", sub.do("PING")) // connected, as a client's pool makes sure
		ch := fmt.Sprintf("ch%d", i)
		sub.send("SUBSCRIBE", ch)
		require.Equal(t, ":1\r\n", pub.do("PUBLISH", ch, "m"), "round %d: the PUBLISH ran before the SUBSCRIBE sent first", i)
		require.Equal(t, "*3\r\n$9\r\nsubscribe\r\n$"+strconv.Itoa(len(ch))+"\r\n"+ch+"\r\n:1\r\n", sub.reply())
		require.Equal(t, "*3\r\n$7\r\nmessage\r\n$"+strconv.Itoa(len(ch))+"\r\n"+ch+"\r\n$1\r\nm\r\n", sub.reply())
		sub.c.Close()
	}
}

// A connection handed to a goroutine by a blocking command comes back to
// the loop once it has run giveBackAfter batches of inline commands; one
// that keeps running commands that may wait stays on its goroutine.
func TestLoopHandOverAndGiveBack(t *testing.T) {
	ts := startLoopServer(t)
	r := ts.raw(t)
	c := serverClient(t, ts, r)
	require.True(t, c.inLoop.Load())

	require.Equal(t, "*-1\r\n", r.do("BLPOP", "nolist", "0.01"))
	require.False(t, c.inLoop.Load(), "BLPOP ran in the loop")
	for i := 0; i < giveBackAfter; i++ {
		require.Equal(t, "+OK\r\n", r.do("SET", "k", strconv.Itoa(i)))
	}
	require.Eventually(t, c.inLoop.Load, time.Second, time.Millisecond, "not given back")
	// served by the loop again, with its reader's state intact
	r.write("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPI")
	time.Sleep(10 * time.Millisecond)
	r.write("NG\r\n")
	require.Equal(t, "$2\r\n15\r\n", r.reply())
	require.Equal(t, "+PONG\r\n", r.reply())
	require.True(t, c.inLoop.Load())

	// EVAL after EVAL: each batch ends with a command that may wait
	for i := 0; i < 3*giveBackAfter; i++ {
		require.Equal(t, ":1\r\n", r.do("EVAL", "return 1", "0"))
	}
	require.False(t, c.inLoop.Load(), "a connection running scripts went back to the loop")

	// a subscriber is never given back
	s := ts.raw(t)
	sc := serverClient(t, ts, s)
	s.send("SUBSCRIBE", "x")
	s.reply()
	for i := 0; i < 2*giveBackAfter; i++ {
		require.Equal(t, "*2\r\n$4\r\npong\r\n$0\r\n\r\n", s.do("PING"))
	}
	require.False(t, sc.inLoop.Load())
	require.Equal(t, ":1\r\n", ts.raw(t).do("PUBLISH", "x", "y"))
	require.Equal(t, "*3\r\n$7\r\nmessage\r\n$1\r\nx\r\n$1\r\ny\r\n", s.reply())
}

// The loop writes a round's replies after running its batches: a
// pipeline's replies arrive whole and in order, also when a protocol error
// ends the connection right after them, and when the client reads slowly.
func TestLoopRepliesInOrder(t *testing.T) {
	ts := startLoopServer(t)
	r := ts.raw(t)
	r.write("*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$1\r\na\r\n*1\r\nx\r\n")
	require.Equal(t, "+PONG\r\n", r.reply())
	require.Equal(t, "$1\r\na\r\n", r.reply())
	require.True(t, strings.HasPrefix(r.reply(), "-ERR Protocol error"))

	// a slow reader: 4 MB of replies the socket cannot take at once
	w := ts.raw(t)
	c := serverClient(t, ts, w)
	val := strings.Repeat("v", 64<<10)
	require.Equal(t, "+OK\r\n", w.do("SET", "big", val))
	var b strings.Builder
	const n = 64
	for i := 0; i < n; i++ {
		b.WriteString("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")
	}
	b.WriteString("*2\r\n$4\r\nECHO\r\n$3\r\nend\r\n")
	w.write(b.String())
	time.Sleep(50 * time.Millisecond) // the replies fill the socket
	want := "$" + strconv.Itoa(len(val)) + "\r\n" + val + "\r\n"
	for i := 0; i < n; i++ {
		require.Equal(t, want, w.reply(), "reply %d", i)
	}
	require.Equal(t, "$3\r\nend\r\n", w.reply())
	require.Equal(t, "+PONG\r\n", w.do("PING"))
	// the connection was handed over while its replies waited, and is
	// given back after enough inline batches
	for i := 0; i < giveBackAfter; i++ {
		w.do("PING")
	}
	require.Eventually(t, c.inLoop.Load, time.Second, time.Millisecond)
}

// CLIENT KILL closes a connection the loop owns (the loop closes it), and
// one given back to the loop after a hand-over.
func TestLoopClientKill(t *testing.T) {
	ts := startLoopServer(t)
	admin := ts.raw(t)
	for _, handed := range []bool{false, true} {
		r := ts.raw(t)
		c := serverClient(t, ts, r)
		if handed {
			r.do("BLPOP", "nolist", "0.01")
			for i := 0; i < giveBackAfter; i++ {
				r.do("PING")
			}
			require.Eventually(t, c.inLoop.Load, time.Second, time.Millisecond)
		}
		require.True(t, c.inLoop.Load())
		require.Equal(t, ":1\r\n", admin.do("CLIENT", "KILL", "ID", strconv.FormatInt(c.id, 10)))
		// gone at once for other clients, as in Redis, though the loop
		// closes its socket a moment later
		require.NotContains(t, admin.do("CLIENT", "LIST"), "id="+strconv.FormatInt(c.id, 10)+" ")
		require.Equal(t, ":0\r\n", admin.do("CLIENT", "KILL", "ID", strconv.FormatInt(c.id, 10)))
		r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := r.rd.ReadByte()
		require.Error(t, err, "the killed connection is still open")
		require.Eventually(t, func() bool {
			ts.srv.clientsMu.Lock()
			defer ts.srv.clientsMu.Unlock()
			return ts.srv.clients[c.id] == nil
		}, 5*time.Second, time.Millisecond)
	}
	require.Equal(t, "+PONG\r\n", admin.do("PING"))
}

// A busy script inside EXEC does not hold the loop: queueing EVAL already
// hands the connection over, so while the script runs another connection is
// served (BUSY) and SCRIPT KILL stops it.
func TestLoopExecWithScriptIsHandedOver(t *testing.T) {
	ts := startLoopServer(t)
	r := ts.raw(t)
	c := serverClient(t, ts, r)
	require.Equal(t, "+OK\r\n", ts.raw(t).do("CONFIG", "SET", "busy-reply-threshold", "20"))
	require.Equal(t, "+OK\r\n", r.do("MULTI"))
	require.Equal(t, "+QUEUED\r\n", r.do("SET", "k", "v"))
	require.Equal(t, "*1\r\n+OK\r\n", r.do("EXEC"))
	require.True(t, c.inLoop.Load(), "an EXEC without scripts left the loop")

	require.Equal(t, "+OK\r\n", r.do("MULTI"))
	require.Equal(t, "+QUEUED\r\n", r.do("EVAL", "while true do end", "0"))
	r.send("EXEC")
	other := ts.raw(t)
	require.Eventually(t, func() bool {
		return strings.HasPrefix(other.do("PING"), "-BUSY")
	}, 5*time.Second, 5*time.Millisecond, "the busy script held the loop")
	require.Equal(t, "+OK\r\n", other.do("SCRIPT", "KILL"))
	reply := r.reply()
	require.True(t, strings.HasPrefix(reply, "*1\r\n-ERR"), "EXEC reply %q", reply)
	require.Equal(t, "+PONG\r\n", other.do("PING"))
}
