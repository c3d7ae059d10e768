package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// RESP3 (HELLO 3) reply shapes the differential scripts cannot pin because
// their content is random (SPOP and ZPOPMIN counts, HRANDFIELD), or because
// Redis 7.0 has no such command (KSUB): the type headers must be Redis 7.0's
// for the same command.
func TestResp3Shapes(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.True(t, strings.HasPrefix(r.do("HELLO", "3"), "%7\r\n"))

	r.do("SADD", "s", "a", "b", "c")
	require.True(t, strings.HasPrefix(r.do("SPOP", "s", "2"), "~2\r\n"), "SPOP with a count is a set")
	require.Equal(t, "~0\r\n", r.do("SPOP", "nokey", "2"))
	r.do("SADD", "s", "x", "y", "z")
	require.True(t, strings.HasPrefix(r.do("SRANDMEMBER", "s", "2"), "*2\r\n"), "SRANDMEMBER stays an array")

	r.do("ZADD", "z", "1", "a", "2", "b", "3", "c")
	require.Equal(t, "*2\r\n$1\r\na\r\n,1\r\n", r.do("ZPOPMIN", "z"), "no count: flat")
	require.Equal(t, "*1\r\n*2\r\n$1\r\nb\r\n,2\r\n", r.do("ZPOPMIN", "z", "1"), "a count: pairs")
	require.Equal(t, "*1\r\n*2\r\n$1\r\nc\r\n,3\r\n", r.do("ZRANDMEMBER", "z", "-1", "WITHSCORES"))
	require.Equal(t, "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nc\r\n,3\r\n", r.do("ZMPOP", "1", "z", "MIN"))

	r.do("HSET", "h", "f", "v")
	require.Equal(t, "*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n", r.do("HRANDFIELD", "h", "-1", "WITHVALUES"))
	require.Equal(t, "%1\r\n$1\r\nf\r\n$1\r\nv\r\n", r.do("HGETALL", "h"))

	info := r.do("CLIENT", "INFO")
	require.True(t, strings.HasPrefix(info, "="), "CLIENT INFO is a verbatim string: %q", info)
	require.Contains(t, info, "txt:id=")
	require.Contains(t, info, " resp=3 ")
	require.True(t, strings.HasPrefix(r.do("INFO", "server"), "="), "INFO is a verbatim string")
}

// In RESP3 a subscribed connection runs any command; confirmations and
// messages (channel, pattern and key events) are push frames, and a
// message to the publisher itself comes before PUBLISH's reply.
func TestResp3PubSubPushes(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.do("HELLO", "3")
	require.Equal(t, ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n", r.do("SUBSCRIBE", "ch"))
	require.Equal(t, ">3\r\n$4\r\nksub\r\n$2\r\nk*\r\n:2\r\n", r.do("KSUB", "k*"))
	require.Equal(t, "_\r\n", r.do("GET", "x"), "any command while subscribed")
	require.Equal(t, "+PONG\r\n", r.do("PING"))
	r.send("PUBLISH", "ch", "hi")
	require.Equal(t, ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", r.reply())
	require.Equal(t, ":1\r\n", r.reply())
	r.send("SET", "k1", "v")
	replies := []string{r.reply(), r.reply()}
	require.Contains(t, replies, "+OK\r\n")
	require.Contains(t, replies, ">4\r\n$8\r\nkmessage\r\n$2\r\nk*\r\n$2\r\nk1\r\n$3\r\nset\r\n")

	// another connection's publish reaches this one as a push; HELLO 2
	// turns later messages back into arrays
	p := ts.raw(t)
	require.Equal(t, ":1\r\n", p.do("PUBLISH", "ch", "a"))
	require.Equal(t, ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\na\r\n", r.reply())
	require.True(t, strings.HasPrefix(r.do("HELLO", "2"), "*14\r\n"))
	require.Equal(t, ":1\r\n", p.do("PUBLISH", "ch", "b"))
	require.Equal(t, "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nb\r\n", r.reply())
	require.Equal(t, "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n", r.do("GET", "x"))
}
