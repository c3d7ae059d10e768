package server

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luxdb/lux-go/storage"
	"github.com/stretchr/testify/require"
)

// Replies checked here were recorded from redis-server 7.0.15 unless a
// comment says the behaviour is Lux's own.

const msgHelloNoAuth = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"

// connID returns the server-side id of a raw connection.
func connID(t *testing.T, r *rawConn) int64 {
	t.Helper()
	reply := r.do("CLIENT", "ID")
	require.True(t, strings.HasPrefix(reply, ":"), reply)
	id, err := strconv.ParseInt(strings.TrimSpace(reply[1:]), 10, 64)
	require.NoError(t, err)
	return id
}

// requireClosed asserts that the server closed the connection: reading ends
// with EOF or a reset, not a timeout. Replies still in flight are skipped.
func requireClosed(t *testing.T, r *rawConn) {
	t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for {
		_, err := r.rd.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "connection still open: %v", err)
		return
	}
}

// helloReply is HELLO's RESP2 map for connection id.
func helloReply(id int64) string {
	return "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:2\r\n" +
		"$2\r\nid\r\n" + rInt(id) + "$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
}

// hello3Reply is HELLO 3's reply: the same fields as a RESP3 map.
func hello3Reply(id int64) string {
	return "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n" +
		"$2\r\nid\r\n" + rInt(id) + "$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
}

func withPassword(pw string) func(*Config) { return func(c *Config) { c.Password = pw } }

func TestConnAuthFlow(t *testing.T) {
	ts := startServer(t, "", withPassword("pw"))
	r := ts.raw(t)
	// Before authentication only AUTH, HELLO, PING, QUIT and RESET work
	// (Redis 7.0 refuses PING too: a documented difference, for health checks).
	for _, cmd := range [][]string{{"GET", "a"}, {"SET", "a", "b"}, {"ECHO", "x"}, {"SELECT", "1"}, {"CLIENT", "ID"}} {
		require.Equal(t, rErr(msgNoAuth), r.do(cmd...), "%v", cmd)
	}
	require.Equal(t, rPong, r.do("PING"))
	// unknown commands and arity errors come before the auth check
	require.Equal(t, "-ERR unknown command 'nosuch', with args beginning with: \r\n", r.do("nosuch"))
	require.Equal(t, "-ERR wrong number of arguments for 'get' command\r\n", r.do("GET"))
	require.Equal(t, rErr(msgWrongPass), r.do("AUTH", "wrong"))
	require.Equal(t, rErr(msgWrongPass), r.do("AUTH", "default", "wrong"))
	require.Equal(t, rErr(msgWrongPass), r.do("AUTH", "nouser", "pw"))
	require.Equal(t, rErr(msgSyntax), r.do("AUTH", "a", "b", "c"))
	require.Equal(t, rErr(msgNoAuth), r.do("GET", "a"))
	require.Equal(t, rOK, r.do("AUTH", "pw"))
	require.Equal(t, rNil, r.do("GET", "a"))
	require.Equal(t, rPong, r.do("PING"))

	// two-argument form
	r2 := ts.raw(t)
	require.Equal(t, rOK, r2.do("AUTH", "default", "pw"))
	require.Equal(t, rOK, r2.do("SET", "a", "1"))

	// RESET logs the connection out again
	require.Equal(t, "+RESET\r\n", r2.do("RESET"))
	require.Equal(t, rErr(msgNoAuth), r2.do("GET", "a"))

	// QUIT is allowed before AUTH and closes the connection
	r3 := ts.raw(t)
	require.Equal(t, rOK, r3.do("QUIT"))
	requireClosed(t, r3)
}

func TestConnHelloWithAuth(t *testing.T) {
	ts := startServer(t, "", withPassword("pw"))
	r := ts.raw(t)
	require.Equal(t, rErr(msgWrongPass), r.do("HELLO", "2", "AUTH", "default", "wrong"))
	require.Equal(t, rErr(msgNoAuth), r.do("GET", "a"))
	require.Equal(t, "-ERR Syntax error in HELLO option 'auth'\r\n", r.do("HELLO", "2", "auth"))
	require.Equal(t, "-ERR Syntax error in HELLO option 'AUTH'\r\n", r.do("HELLO", "2", "AUTH", "default"))
	require.Equal(t, rErr(msgNoProto), r.do("HELLO", "4"))
	require.Equal(t, "-ERR Protocol version is not an integer or out of range\r\n", r.do("HELLO", "x"))
	reply := r.do("HELLO", "2", "AUTH", "default", "pw", "SETNAME", "x")
	require.Equal(t, rBulk("x"), r.do("CLIENT", "GETNAME"))
	require.Equal(t, helloReply(connID(t, r)), reply)
	require.Equal(t, rNil, r.do("GET", "a"))
}

// Redis 7.0.15's text does not name <proto> (it reads "HELLO AUTH <user>
// <pass>").
func TestConnHelloNoAuthText(t *testing.T) {
	ts := startServer(t, "", withPassword("pw"))
	r := ts.raw(t)
	require.Equal(t, rErr(msgHelloNoAuth), r.do("HELLO"))
	require.Equal(t, rErr(msgHelloNoAuth), r.do("HELLO", "2"))
	require.Equal(t, rErr(msgHelloNoAuth), r.do("HELLO", "2", "SETNAME", "x"))
}

func TestConnAuthWithoutPassword(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, rErr(msgNoPassSet), r.do("AUTH", "pw"))
	require.Equal(t, "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
		r.do("AUTH", "x"))
	// the default user has nopass: any password is accepted
	require.Equal(t, rOK, r.do("AUTH", "default", "pw"))
	require.Equal(t, rOK, r.do("AUTH", "default", ""))
	require.Equal(t, rErr(msgWrongPass), r.do("AUTH", "foo", "bar"))
}

func TestConnHello(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	id := connID(t, r)
	require.Equal(t, helloReply(id), r.do("HELLO"))
	require.Equal(t, helloReply(id), r.do("HELLO", "2"))
	require.Equal(t, helloReply(id), r.do("HELLO", "2", "AUTH", "default", "anything"))
	for _, v := range []string{"0", "1", "-1", "4"} {
		require.Equal(t, rErr(msgNoProto), r.do("HELLO", v))
	}
	require.Equal(t, rErr(msgWrongPass), r.do("HELLO", "2", "AUTH", "foo", "x"))
	require.Equal(t, rErr(msgClientName), r.do("HELLO", "2", "SETNAME", "a b"))
	require.Equal(t, "-ERR Syntax error in HELLO option 'foo'\r\n", r.do("HELLO", "2", "foo"))
	require.Equal(t, helloReply(id), r.do("HELLO", "2", "SETNAME", "ab"))
	require.Equal(t, rBulk("ab"), r.do("CLIENT", "GETNAME"))
	// still RESP2 after the refused HELLO 4
	require.Equal(t, rNil, r.do("GET", "nokey"))
	// HELLO 3: RESP3 from its own reply on; HELLO 2 (or RESET) goes back
	require.Equal(t, hello3Reply(id), r.do("HELLO", "3"))
	require.Equal(t, "_\r\n", r.do("GET", "nokey"))
	require.Equal(t, hello3Reply(id), r.do("HELLO"))
	require.Equal(t, helloReply(id), r.do("HELLO", "2"))
	require.Equal(t, rNil, r.do("GET", "nokey"))
	require.Equal(t, hello3Reply(id), r.do("HELLO", "3"))
	require.Equal(t, "+RESET\r\n", r.do("RESET"))
	require.Equal(t, rNil, r.do("GET", "nokey"))
}

// Listening on a public address without a password is refused (Redis's
// protected mode) unless explicitly allowed. Lux's own behaviour.
func TestConnProtectedMode(t *testing.T) {
	store, err := storage.Open(storage.Options{})
	require.NoError(t, err)
	defer store.Close()
	for _, tc := range []struct {
		bind, pw string
		allow    bool
		ok       bool
	}{
		{"0.0.0.0", "", false, false},
		{"::", "", false, false},
		{"0.0.0.0", "", true, true},
		{"0.0.0.0", "pw", false, true},
		{"127.0.0.1", "", false, true},
		{"localhost", "", false, true},
	} {
		cfg := DefaultConfig()
		cfg.Bind, cfg.Port, cfg.Password, cfg.AllowUnprotected = tc.bind, 0, tc.pw, tc.allow
		s := New(cfg, store)
		err := s.Listen()
		if tc.ok {
			require.NoError(t, err, "%+v", tc)
			s.Close()
		} else {
			require.Error(t, err, "%+v", tc)
			require.Contains(t, err.Error(), "protected mode")
		}
	}
}

func TestConnSelect(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	steps := []keysStep{
		{kc("SELECT", "-1"), rErr(msgDBIndex)},
		{kc("SELECT", "16"), rErr(msgDBIndex)},
		{kc("SELECT", "x"), rErr(msgNotInt)},
		{kc("SELECT", "1.5"), rErr(msgNotInt)},
		{kc("SELECT"), "-ERR wrong number of arguments for 'select' command\r\n"},
		{kc("SELECT", "15"), rOK},
		{kc("SET", "k", "15"), rOK},
		{kc("SELECT", "0"), rOK},
		{kc("GET", "k"), rNil},
		{kc("SELECT", "15"), rOK},
		{kc("GET", "k"), rBulk("15")},
	}
	for i, s := range steps {
		require.Equal(t, s.want, r.do(s.cmd...), "step %d: %q", i, s.cmd)
	}
}

func TestConnEchoPingUnknown(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	steps := []keysStep{
		{kc("ECHO", "hello"), rBulk("hello")},
		{kc("ECHO", ""), rBulk("")},
		{kc("ECHO"), "-ERR wrong number of arguments for 'echo' command\r\n"},
		{kc("ECHO", "a", "b"), "-ERR wrong number of arguments for 'echo' command\r\n"},
		{kc("PING"), rPong},
		{kc("PING", "hi"), rBulk("hi")},
		{kc("PING", "a", "b"), "-ERR wrong number of arguments for 'ping' command\r\n"},
		{kc("foo"), "-ERR unknown command 'foo', with args beginning with: \r\n"},
		{kc("foo", "bar", "baz"), "-ERR unknown command 'foo', with args beginning with: 'bar' 'baz' \r\n"},
		{kc("FOO"), "-ERR unknown command 'FOO', with args beginning with: \r\n"},
	}
	for i, s := range steps {
		require.Equal(t, s.want, r.do(s.cmd...), "step %d: %q", i, s.cmd)
	}
}

func TestConnReset(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, rOK, r.do("CLIENT", "SETNAME", "me"))
	require.Equal(t, rOK, r.do("SELECT", "3"))
	require.Equal(t, rOK, r.do("SET", "k", "db3"))
	require.Equal(t, rOK, r.do("MULTI"))
	require.Equal(t, rQueued, r.do("SET", "k", "changed"))
	// RESET runs even inside MULTI and discards the transaction
	require.Equal(t, "+RESET\r\n", r.do("RESET"))
	require.Equal(t, rErr(msgExecNoMulti), r.do("EXEC"))
	require.Equal(t, rNil, r.do("CLIENT", "GETNAME"))
	require.Equal(t, rNil, r.do("GET", "k"), "back on db 0")
	require.Equal(t, rOK, r.do("SELECT", "3"))
	require.Equal(t, rBulk("db3"), r.do("GET", "k"))

	// RESET unwatches
	b := ts.raw(t)
	require.Equal(t, rOK, r.do("WATCH", "k"))
	require.Equal(t, "+RESET\r\n", r.do("RESET"))
	require.Equal(t, rOK, r.do("SELECT", "3"))
	require.Equal(t, rOK, b.do("SELECT", "3"))
	require.Equal(t, rOK, b.do("SET", "k", "other"))
	require.Equal(t, rOK, r.do("MULTI"))
	require.Equal(t, rQueued, r.do("GET", "k"))
	require.Equal(t, "*1\r\n$5\r\nother\r\n", r.do("EXEC"))

	// RESET leaves subscribe mode
	require.Equal(t, "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n", r.do("SUBSCRIBE", "ch"))
	require.Equal(t, "+RESET\r\n", r.do("RESET"))
	require.Equal(t, rNil, r.do("GET", "k"))
	require.Equal(t, rInt(0), b.do("PUBLISH", "ch", "m"))
}

// RESET also turns CLIENT REPLY back on (Redis clears CLIENT_REPLY_OFF
// before replying +RESET).
func TestConnResetTurnsRepliesOn(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.send("CLIENT", "REPLY", "OFF")
	r.send("RESET")
	require.Equal(t, "+RESET\r\n", r.reply())
	require.Equal(t, rPong, r.do("PING"))
}

func TestConnQuit(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, rOK, r.do("QUIT"))
	requireClosed(t, r)

	// pipelined: nothing after QUIT runs
	r = ts.raw(t)
	r.write("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$1\r\n1\r\n")
	require.Equal(t, rPong, r.reply())
	require.Equal(t, rOK, r.reply())
	requireClosed(t, r)
	require.Equal(t, rZero, ts.raw(t).do("EXISTS", "q"))

	// inside MULTI QUIT is not queued
	r = ts.raw(t)
	require.Equal(t, rOK, r.do("MULTI"))
	require.Equal(t, rOK, r.do("QUIT"))
	requireClosed(t, r)
}

// A protocol error answers once and closes only that connection.
func TestConnProtocolErrorClosesOnlyThatConnection(t *testing.T) {
	ts := startServer(t, "")
	other := ts.raw(t)
	require.Equal(t, rOK, other.do("SET", "k", "v"))
	r := ts.raw(t)
	r.write("*1\r\n$4\r\nPING\r\n*-x\r\n")
	require.Equal(t, rPong, r.reply())
	require.Equal(t, "-ERR Protocol error: invalid multibulk length\r\n", r.reply())
	requireClosed(t, r)
	require.Equal(t, rBulk("v"), other.do("GET", "k"))
	require.Equal(t, rBulk("v"), ts.raw(t).do("GET", "k"))
}

func TestConnClientNameIDInfoList(t *testing.T) {
	ts := startServer(t, "")
	a, b := ts.raw(t), ts.raw(t)
	ida, idb := connID(t, a), connID(t, b)
	require.NotEqual(t, ida, idb)
	require.Equal(t, rNil, a.do("CLIENT", "GETNAME"))
	require.Equal(t, rErr(msgClientName), a.do("CLIENT", "SETNAME", "a b"))
	require.Equal(t, rErr(msgClientName), a.do("CLIENT", "SETNAME", "a\nb"))
	require.Equal(t, rOK, a.do("CLIENT", "SETNAME", "alpha"))
	require.Equal(t, rBulk("alpha"), a.do("CLIENT", "GETNAME"))
	require.Equal(t, rOK, a.do("CLIENT", "SETNAME", ""))
	require.Equal(t, rNil, a.do("CLIENT", "GETNAME"), "an empty name clears it")
	require.Equal(t, rOK, a.do("CLIENT", "SETNAME", "alpha"))
	require.Equal(t, rOK, a.do("SELECT", "4"))

	info := bulkBody(t, a.do("CLIENT", "INFO"))
	require.True(t, strings.HasSuffix(info, "\n"))
	require.Equal(t, 1, strings.Count(info, "\n"))
	f := clientFields(info)
	require.Equal(t, strconv.FormatInt(ida, 10), f["id"])
	require.Equal(t, "alpha", f["name"])
	require.Equal(t, "4", f["db"])
	require.Equal(t, a.c.LocalAddr().String(), f["addr"])
	require.Equal(t, "N", f["flags"])

	list := bulkBody(t, b.do("CLIENT", "LIST"))
	lines := strings.Split(strings.TrimSuffix(list, "\n"), "\n")
	require.Len(t, lines, 2)
	require.Equal(t, "alpha", clientFields(lines[0])["name"])
	require.Equal(t, strconv.FormatInt(idb, 10), clientFields(lines[1])["id"])

	only := bulkBody(t, b.do("CLIENT", "LIST", "ID", strconv.FormatInt(ida, 10)))
	require.Equal(t, 1, strings.Count(only, "\n"))
	require.Equal(t, strconv.FormatInt(ida, 10), clientFields(only)["id"])
	require.Equal(t, rBulk(""), b.do("CLIENT", "LIST", "ID", "99999"))
	require.Equal(t, "-ERR Unknown client type 'foo'\r\n", b.do("CLIENT", "LIST", "TYPE", "foo"))
	require.Equal(t, "-ERR Invalid client ID\r\n", b.do("CLIENT", "LIST", "ID", "x"))
	require.Equal(t, rErr(msgSyntax), b.do("CLIENT", "LIST", "foo"))

	// TYPE pubsub lists subscribers only
	require.Equal(t, "*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n", a.do("SUBSCRIBE", "c"))
	pub := bulkBody(t, b.do("CLIENT", "LIST", "TYPE", "pubsub"))
	require.Equal(t, 1, strings.Count(pub, "\n"))
	pf := clientFields(pub)
	require.Equal(t, strconv.FormatInt(ida, 10), pf["id"])
	require.Equal(t, "P", pf["flags"])
	require.Equal(t, "1", pf["sub"])
	normal := bulkBody(t, b.do("CLIENT", "LIST", "TYPE", "normal"))
	require.Equal(t, strconv.FormatInt(idb, 10), clientFields(normal)["id"])
}

// Redis 7 shows the last command with its subcommand: cmd=client|info.
func TestConnClientInfoNamesSubcommand(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, "client|info", clientFields(bulkBody(t, r.do("CLIENT", "INFO")))["cmd"])
}

// CLIENT LIST ID parses ids with string2ll only: 0 and negative ids simply
// match nothing (Redis replies an empty string).
func TestConnClientListIDZero(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, rBulk(""), r.do("CLIENT", "LIST", "ID", "0"))
	require.Equal(t, rBulk(""), r.do("CLIENT", "LIST", "ID", "-5"))
}

func bulkBody(t *testing.T, reply string) string {
	t.Helper()
	require.True(t, strings.HasPrefix(reply, "$"), reply)
	i := strings.Index(reply, "\r\n")
	return strings.TrimSuffix(reply[i+2:], "\r\n")
}

// clientFields splits one CLIENT LIST line into its fields.
func clientFields(line string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Fields(line) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}

func TestConnClientKill(t *testing.T) {
	ts := startServer(t, "")
	admin := ts.raw(t)
	self := connID(t, admin)

	// by ID
	v := ts.raw(t)
	require.Equal(t, rOne, admin.do("CLIENT", "KILL", "ID", strconv.FormatInt(connID(t, v), 10)))
	requireClosed(t, v)
	require.Equal(t, rZero, admin.do("CLIENT", "KILL", "ID", "99999"))

	// by ADDR, new and old form
	v = ts.raw(t)
	require.Equal(t, rPong, v.do("PING"))
	require.Equal(t, rOne, admin.do("CLIENT", "KILL", "ADDR", v.c.LocalAddr().String()))
	requireClosed(t, v)
	v = ts.raw(t)
	require.Equal(t, rPong, v.do("PING"))
	require.Equal(t, rOK, admin.do("CLIENT", "KILL", v.c.LocalAddr().String()))
	requireClosed(t, v)
	require.Equal(t, "-ERR No such client\r\n", admin.do("CLIENT", "KILL", "1.2.3.4:5"))
	require.Equal(t, rZero, admin.do("CLIENT", "KILL", "ADDR", "1.2.3.4:5"))

	// errors
	require.Equal(t, "-ERR client-id should be greater than 0\r\n", admin.do("CLIENT", "KILL", "ID", "0"))
	require.Equal(t, "-ERR client-id should be greater than 0\r\n", admin.do("CLIENT", "KILL", "ID", "x"))
	require.Equal(t, rErr(msgSyntax), admin.do("CLIENT", "KILL", "foo", "bar"))
	require.Equal(t, rErr(msgSyntax), admin.do("CLIENT", "KILL", "SKIPME", "maybe"))
	require.Equal(t, "-ERR No such client\r\n", admin.do("CLIENT", "KILL", "ID"))

	// SKIPME: killing oneself takes SKIPME no, and happens after the reply
	require.Equal(t, rZero, admin.do("CLIENT", "KILL", "ID", strconv.FormatInt(self, 10)))
	require.Equal(t, rPong, admin.do("PING"))
	require.Equal(t, rOne, admin.do("CLIENT", "KILL", "ID", strconv.FormatInt(self, 10), "SKIPME", "no"))
	requireClosed(t, admin)
}

// CLIENT KILL without a filter is an arity error in Redis 7.0; it must not
// kill every other connection.
func TestConnClientKillWithoutFilter(t *testing.T) {
	ts := startServer(t, "")
	victim, admin := ts.raw(t), ts.raw(t)
	require.Equal(t, rPong, victim.do("PING"))
	require.Equal(t, "-ERR wrong number of arguments for 'client|kill' command\r\n", admin.do("CLIENT", "KILL"))
	require.Equal(t, rPong, victim.do("PING"))
}

// Wrong arities of CLIENT subcommands get Redis 7's "client|sub" error.
func TestConnClientSubcommandArity(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	for _, tc := range []struct {
		args []string
		sub  string
	}{
		{[]string{"CLIENT", "ID", "x"}, "id"},
		{[]string{"CLIENT", "GETNAME", "x"}, "getname"},
		{[]string{"CLIENT", "SETNAME"}, "setname"},
		{[]string{"CLIENT", "SETNAME", "a", "b"}, "setname"},
		{[]string{"CLIENT", "INFO", "x"}, "info"},
		{[]string{"CLIENT", "REPLY"}, "reply"},
		{[]string{"CLIENT", "UNBLOCK"}, "unblock"},
		{[]string{"CLIENT", "NO-EVICT"}, "no-evict"},
		{[]string{"CLIENT", "HELP", "x"}, "help"},
	} {
		require.Equal(t, "-ERR wrong number of arguments for 'client|"+tc.sub+"' command\r\n", r.do(tc.args...), "%v", tc.args)
	}
	require.Equal(t, "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n", r.do("CLIENT", "foo"))
	require.Equal(t, "-ERR wrong number of arguments for 'client' command\r\n", r.do("CLIENT"))
}

func TestConnClientFlagsAndSetinfo(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	steps := []keysStep{
		{kc("CLIENT", "NO-EVICT", "on"), rOK},
		{kc("CLIENT", "NO-EVICT", "OFF"), rOK},
		{kc("CLIENT", "NO-EVICT", "maybe"), rErr(msgSyntax)},
		// Lux accepts Redis 7.2's NO-TOUCH and SETINFO (go-redis sends SETINFO)
		{kc("CLIENT", "NO-TOUCH", "on"), rOK},
		{kc("CLIENT", "NO-TOUCH", "off"), rOK},
		{kc("CLIENT", "SETINFO", "lib-name", "mylib"), rOK},
		{kc("CLIENT", "SETINFO", "LIB-VER", "1.2"), rOK},
		{kc("CLIENT", "SETINFO", "lib-name", "a b"), "-ERR LIB-NAME cannot contain spaces, newlines or special characters.\r\n"},
		{kc("CLIENT", "SETINFO", "foo", "bar"), "-ERR Unrecognized option 'foo'\r\n"},
		{kc("CLIENT", "REPLY", "foo"), rErr(msgSyntax)},
		{kc("CLIENT", "UNBLOCK", "99999"), rZero},
		{kc("CLIENT", "UNBLOCK", "99999", "ERROR"), rZero},
		{kc("CLIENT", "UNBLOCK", "99999", "foo"), "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"},
		{kc("CLIENT", "UNBLOCK", "x"), rErr(msgNotInt)},
	}
	for i, s := range steps {
		require.Equal(t, s.want, r.do(s.cmd...), "step %d: %q", i, s.cmd)
	}
	f := clientFields(bulkBody(t, r.do("CLIENT", "INFO")))
	require.Equal(t, "mylib", f["lib-name"])
	require.Equal(t, "1.2", f["lib-ver"])
}

func TestConnClientUnblock(t *testing.T) {
	ts := startServer(t, "")
	admin := ts.raw(t)
	for _, tc := range []struct {
		reason []string
		want   string
	}{
		{nil, rNullArr},
		{[]string{"TIMEOUT"}, rNullArr},
		{[]string{"ERROR"}, "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"},
	} {
		w := ts.raw(t)
		id := connID(t, w)
		w.send("BLPOP", "nolist", "0")
		waitBlocked(t, ts, 1)
		// a client that is not blocked is not unblocked
		require.Equal(t, rZero, admin.do("CLIENT", "UNBLOCK", strconv.FormatInt(connID(t, admin), 10)))
		require.Equal(t, rOne, admin.do(append([]string{"CLIENT", "UNBLOCK", strconv.FormatInt(id, 10)}, tc.reason...)...))
		require.Equal(t, tc.want, w.reply())
		waitBlocked(t, ts, 0)
		require.Equal(t, rPong, w.do("PING"))
		require.Equal(t, rZero, admin.do("CLIENT", "UNBLOCK", strconv.FormatInt(id, 10)))
	}
}

func TestConnClientReply(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	// OFF: no reply for itself nor later commands, until ON (+OK)
	r.send("CLIENT", "REPLY", "OFF")
	r.send("SET", "a", "1")
	r.send("PING", "ignored")
	require.Equal(t, rOK, r.do("CLIENT", "REPLY", "ON"))
	require.Equal(t, rBulk("1"), r.do("GET", "a"))
	// SKIP: no reply for itself and for the next command only
	r.send("CLIENT", "REPLY", "SKIP")
	r.send("SET", "b", "2")
	require.Equal(t, rBulk("2"), r.do("GET", "b"))
	require.Equal(t, rPong, r.do("PING"))
	// ON while on
	require.Equal(t, rOK, r.do("CLIENT", "REPLY", "ON"))
}

// Replies written before CLIENT REPLY OFF in the same pipelined batch must
// still be sent (Redis sends +PONG here).
func TestConnClientReplyOffKeepsEarlierReplies(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.write("*1\r\n$4\r\nPING\r\n*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n")
	require.Equal(t, rPong, r.reply())
}

// CLIENT LIST and CLIENT KILL read other connections' subscription state
// while those connections change it: must be race-free (run with -race).
func TestConnClientListWhileOthersSubscribe(t *testing.T) {
	ts := startServer(t, "")
	const n = 200
	var wg sync.WaitGroup
	for g := 0; g < 2; g++ {
		s := ts.raw(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				s.send("SUBSCRIBE", "ch")
				s.send("RESET")
				if _, err := readRESP(s.rd); err != nil {
					return
				}
				if _, err := readRESP(s.rd); err != nil {
					return
				}
			}
		}()
	}
	admin := ts.raw(t)
	for i := 0; i < n; i++ {
		require.Equal(t, "$", admin.do("CLIENT", "LIST")[:1])
		require.Equal(t, rZero, admin.do("CLIENT", "KILL", "TYPE", "pubsub", "ID", "99999"))
	}
	wg.Wait()
}

func TestConnManyClientsHaveDistinctIDs(t *testing.T) {
	ts := startServer(t, "")
	seen := map[int64]bool{}
	for i := 0; i < 10; i++ {
		id := connID(t, ts.raw(t))
		require.False(t, seen[id], fmt.Sprint("duplicate id ", id))
		seen[id] = true
	}
}

// TestClientListBlockedClient: CLIENT LIST answers at once while another
// connection is blocked, and shows it blocked (flags=b) in its command, in
// its database, with its name and its real file descriptor.
func TestClientListBlockedClient(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	b := ts.raw(t)
	require.Equal(t, "+OK\r\n", b.do("CLIENT", "SETNAME", "waiter"))
	require.Equal(t, "+OK\r\n", b.do("SELECT", "3"))
	b.send("BLPOP", "nokey", "0")
	var line string
	require.Eventually(t, func() bool {
		out := r.do("CLIENT", "LIST")
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "name=waiter") {
				line = l
			}
		}
		return strings.Contains(line, "flags=b")
	}, 5*time.Second, 10*time.Millisecond)
	start := time.Now()
	r.do("CLIENT", "LIST")
	require.Less(t, time.Since(start), 100*time.Millisecond, "CLIENT LIST waited for the blocked client")
	require.Contains(t, line, " db=3 ")
	require.Contains(t, line, " cmd=blpop ")
	require.NotContains(t, line, " fd=-1 ")
	require.Regexp(t, ` fd=\d+ `, line)
	require.Equal(t, "+OK\r\n", r.do("SELECT", "3"))
	require.Equal(t, ":1\r\n", r.do("LPUSH", "nokey", "x"))
	require.Equal(t, hsArr("nokey", "x"), b.reply())
	require.Eventually(t, func() bool {
		out := r.do("CLIENT", "LIST")
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "name=waiter") {
				return strings.Contains(l, "flags=N")
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond)
}

// TestClientListBuffers: CLIENT LIST/INFO report the real query buffer
// (the batch being run), the running command's arguments, the queued
// transaction's, and the replies of the batch not yet written; INFO's
// client fields are computed from them.
func TestClientListBuffers(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	f := clientFields(bulkBody(t, r.do("CLIENT", "INFO")))
	require.Equal(t, "26", f["qbuf"]) // *2 $6 client $4 info, as Redis's test expects
	require.Equal(t, "10", f["argv-mem"])
	require.Equal(t, "0", f["multi-mem"])
	require.Equal(t, "0", f["obl"])
	require.Equal(t, "0", f["oll"])
	require.Equal(t, "0", f["omem"])
	qfree, _ := strconv.Atoi(f["qbuf-free"])
	require.Greater(t, qfree, 0)
	tot, _ := strconv.Atoi(f["tot-mem"])
	require.Greater(t, tot, 26+qfree)

	// a pipeline: the whole batch is in the query buffer, PING's reply waits
	r.write("*1\r\n$4\r\nPING\r\n*2\r\n$6\r\nclient\r\n$4\r\ninfo\r\n")
	require.Equal(t, rPong, r.reply())
	f = clientFields(bulkBody(t, r.reply()))
	require.Equal(t, "40", f["qbuf"])
	require.Equal(t, "7", f["obl"]) // +PONG\r\n
	rbp, _ := strconv.Atoi(f["rbp"])
	require.GreaterOrEqual(t, rbp, 26) // the first CLIENT INFO's reply

	// another connection's queued transaction
	m := ts.raw(t)
	require.Equal(t, rOK, m.do("CLIENT", "SETNAME", "tx"))
	require.Equal(t, rOK, m.do("MULTI"))
	require.Equal(t, "+QUEUED\r\n", m.do("SET", "a", "bb"))
	var line string
	for _, l := range strings.Split(r.do("CLIENT", "LIST"), "\n") {
		if strings.Contains(l, "name=tx") {
			line = l
		}
	}
	f = clientFields(line)
	require.Equal(t, "6", f["multi-mem"]) // set a bb
	require.Equal(t, "1", f["multi"])
	require.Equal(t, "0", f["qbuf"]) // between batches
	require.Equal(t, "0", f["argv-mem"])

	info := r.do("INFO", "clients")
	require.Regexp(t, `client_recent_max_input_buffer:[1-9]\d*\r\n`, info)
	require.Contains(t, info, "client_recent_max_output_buffer:0\r\n")
	require.Contains(t, info, "clients_in_timeout_table:0\r\n")
	b := ts.raw(t)
	b.send("BLPOP", "nolist", "100")
	require.Eventually(t, func() bool {
		return strings.Contains(r.do("INFO", "clients"), "clients_in_timeout_table:1\r\n")
	}, 5*time.Second, 10*time.Millisecond)
	// a blocked client keeps its arguments; its query buffer is trimmed
	for _, l := range strings.Split(r.do("CLIENT", "LIST"), "\n") {
		if strings.Contains(l, "cmd=blpop") {
			f = clientFields(l)
		}
	}
	require.Equal(t, "b", f["flags"])
	require.Equal(t, "0", f["qbuf"])
	require.Equal(t, "14", f["argv-mem"]) // blpop nolist 100, as Redis shows
	require.Equal(t, ":1\r\n", r.do("LPUSH", "nolist", "x"))
	require.Equal(t, hsArr("nolist", "x"), b.reply())
	require.Contains(t, r.do("INFO", "clients"), "clients_in_timeout_table:0\r\n")
}
