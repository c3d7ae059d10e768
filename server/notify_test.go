package server

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Replies and event streams checked here were recorded from redis-server
// 7.0.15 (redis-cli PSUBSCRIBE '__key*__:*' while running the commands).

// notifyOffAtCleanup turns notifications off before ts stops: the setting
// is process-wide today and must not leak into other tests.
func notifyOffAtCleanup(t *testing.T, ts *testServer) {
	t.Cleanup(func() {
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			return
		}
		defer nc.Close()
		r := &rawConn{t: t, c: nc, rd: bufio.NewReader(nc)}
		r.do("CONFIG", "SET", "notify-keyspace-events", "")
	})
}

// notifyServer starts a server with notify-keyspace-events set to flags
// and a raw connection subscribed to every key event.
func notifyServer(t *testing.T, flags string) (*testServer, *rawConn, *rawConn) {
	t.Helper()
	ts := startServer(t, "")
	notifyOffAtCleanup(t, ts)
	r, sub := ts.raw(t), ts.raw(t)
	require.Equal(t, rOK, r.do("CONFIG", "SET", "notify-keyspace-events", flags))
	require.Equal(t, subFrame("psubscribe", "__key*__:*", 1), sub.do("PSUBSCRIBE", "__key*__:*"))
	return ts, r, sub
}

func keyspaceFrame(db, key, event string) string {
	return pmsgFrame("__key*__:*", "__keyspace@"+db+"__:"+key, event)
}

func keyeventFrame(db, event, key string) string {
	return pmsgFrame("__key*__:*", "__keyevent@"+db+"__:"+event, key)
}

// both is the pair of frames of one event with K and E enabled.
func both(db, key, event string) []string {
	return []string{keyspaceFrame(db, key, event), keyeventFrame(db, event, key)}
}

// requireNoMoreFrames checks nothing else was published: a marker event
// must be the next frame.
func requireNoMoreFrames(t *testing.T, r, sub *rawConn, marker string) {
	t.Helper()
	require.Equal(t, rOK, r.do("SET", "__marker", "1"))
	require.Equal(t, marker, sub.reply())
}

func TestNotifyConfigGetSetFormatting(t *testing.T) {
	ts := startServer(t, "")
	notifyOffAtCleanup(t, ts)
	r := ts.raw(t)
	get := func() string { return r.do("CONFIG", "GET", "notify-keyspace-events") }
	require.Equal(t, rArr("notify-keyspace-events", ""), get())
	for _, tc := range []struct{ set, get string }{
		{"KEA", "AKE"},
		{"Kg$", "g$K"},
		{"E$", "$E"},
		{"Kgx", "gxK"},
		{"$gKE", "g$KE"},
		{"KEl", "lKE"},
		{"KEgAA", "AKE"},
		{"Kglshzxe$", "g$lshzxeK"},
		{"", ""},
	} {
		require.Equal(t, rOK, r.do("CONFIG", "SET", "notify-keyspace-events", tc.set), tc.set)
		require.Equal(t, rArr("notify-keyspace-events", tc.get), get(), tc.set)
	}
	require.Equal(t, rOK, r.do("CONFIG", "SET", "notify-keyspace-events", "KEA"))
	require.Equal(t, "-", r.do("CONFIG", "SET", "notify-keyspace-events", "Q")[:1])
	require.Equal(t, rArr("notify-keyspace-events", "AKE"), get(), "a refused value changes nothing")
}

// Redis stores the classes even without K or E (nothing is delivered then),
// includes 'd' (module) in A, and prints n inside the class list and m after
// K and E (keyspaceEventsFlagsToString).
func TestNotifyConfigFormattingLikeRedis(t *testing.T) {
	ts := startServer(t, "")
	notifyOffAtCleanup(t, ts)
	r := ts.raw(t)
	for _, tc := range []struct{ set, get string }{
		{"g$", "g$"},
		{"A", "A"},
		{"Em", "Em"},
		{"KEAmn", "AKEm"},
		{"KEg$lshzxetmn", "g$lshzxetnKEm"},
		{"Kglshzxe$t", "g$lshzxetK"},
		{"KEAd", "AKE"},
		{"KEgm", "gKEm"},
	} {
		require.Equal(t, rOK, r.do("CONFIG", "SET", "notify-keyspace-events", tc.set), tc.set)
		require.Equal(t, rArr("notify-keyspace-events", tc.get), r.do("CONFIG", "GET", "notify-keyspace-events"), tc.set)
	}
	require.Equal(t, "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n",
		r.do("CONFIG", "SET", "notify-keyspace-events", "Q"))
}

func TestNotifyEventsKEA(t *testing.T) {
	ts, r, sub := notifyServer(t, "KEA")
	steps := []struct {
		cmd  []string
		want []string
	}{
		{kc("SET", "k", "v"), both("0", "k", "set")},
		{kc("SET", "k", "v2", "EX", "100"), append(both("0", "k", "set"), both("0", "k", "expire")...)},
		{kc("EXPIRE", "k", "200"), both("0", "k", "expire")},
		{kc("PERSIST", "k"), both("0", "k", "persist")},
		{kc("PERSIST", "k"), nil},
		{kc("APPEND", "k", "x"), both("0", "k", "append")},
		{kc("INCR", "n"), both("0", "n", "incrby")},
		{kc("INCRBYFLOAT", "n", "1.5"), both("0", "n", "incrbyfloat")},
		{kc("SETRANGE", "k", "0", "z"), both("0", "k", "setrange")},
		{kc("DEL", "k", "n", "nosuch"), append(both("0", "k", "del"), both("0", "n", "del")...)},
		{kc("SET", "a", "1"), both("0", "a", "set")},
		{kc("RENAME", "a", "b"), append(both("0", "a", "rename_from"), both("0", "b", "rename_to")...)},
		{kc("LPUSH", "l", "a", "b"), both("0", "l", "lpush")},
		{kc("RPOP", "l"), both("0", "l", "rpop")},
		{kc("HSET", "h", "f", "v"), both("0", "h", "hset")},
		{kc("SADD", "s", "m"), both("0", "s", "sadd")},
		{kc("ZADD", "z", "1", "m"), both("0", "z", "zadd")},
		{kc("GETDEL", "b"), both("0", "b", "del")},
		{kc("MSET", "m1", "1", "m2", "2"), append(both("0", "m1", "set"), both("0", "m2", "set")...)},
		{kc("EXPIRE", "m1", "0"), both("0", "m1", "del")},
		{kc("MOVE", "m2", "3"), append(both("0", "m2", "move_from"), both("3", "m2", "move_to")...)},
		{kc("SELECT", "3"), nil},
		{kc("SET", "x", "1"), both("3", "x", "set")},
		{kc("SELECT", "0"), nil},
		{kc("GET", "x"), nil},
	}
	for i, s := range steps {
		r.do(s.cmd...)
		for _, w := range s.want {
			require.Equal(t, w, sub.reply(), "step %d: %q", i, s.cmd)
		}
	}
	requireNoMoreFrames(t, r, sub, keyspaceFrame("0", "__marker", "set"))
	_ = ts
}

func TestNotifyExpiredEvent(t *testing.T) {
	_, r, sub := notifyServer(t, "KEA")
	require.Equal(t, rOK, r.do("SET", "e", "v", "PX", "50"))
	require.Equal(t, both("0", "e", "set"), sub.replies(2))
	require.Equal(t, both("0", "e", "expire"), sub.replies(2))
	// reclaimed by active expiry, without any read
	require.Equal(t, both("0", "e", "expired"), sub.replies(2))
	require.Equal(t, rZero, r.do("EXISTS", "e"))
}

func TestNotifyLazyExpiredEvent(t *testing.T) {
	ts, r, sub := notifyServer(t, "Ex")
	ts.store.SetActiveExpire(false)
	require.Equal(t, rOK, r.do("SET", "e", "v", "PX", "20"))
	time.Sleep(60 * time.Millisecond)
	require.Equal(t, rNil, r.do("GET", "e"))
	require.Equal(t, keyeventFrame("0", "expired", "e"), sub.reply())
}

func TestNotifyClassFilters(t *testing.T) {
	for _, tc := range []struct {
		flags string
		want  []string
	}{
		// keyspace only, generic and string classes: no list event
		{"Kg$", []string{keyspaceFrame("0", "k", "set"), keyspaceFrame("0", "k", "del")}},
		// keyevent only, list class
		{"El", []string{keyeventFrame("0", "lpush", "l")}},
		{"Kh", []string{keyspaceFrame("0", "h", "hset")}},
		{"Ez", []string{keyeventFrame("0", "zadd", "z")}},
		{"Ks", []string{keyspaceFrame("0", "s", "sadd")}},
	} {
		t.Run(tc.flags, func(t *testing.T) {
			_, r, sub := notifyServer(t, tc.flags)
			for _, cmd := range [][]string{
				{"SET", "k", "v"}, {"LPUSH", "l", "a"}, {"HSET", "h", "f", "v"}, {"ZADD", "z", "1", "m"},
				{"SADD", "s", "m"}, {"DEL", "k"},
			} {
				r.do(cmd...)
			}
			for _, w := range tc.want {
				require.Equal(t, w, sub.reply())
			}
			// nothing else: turn everything on and look at the next frame
			require.Equal(t, rOK, r.do("CONFIG", "SET", "notify-keyspace-events", "KEA"))
			requireNoMoreFrames(t, r, sub, keyspaceFrame("0", "__marker", "set"))
		})
	}
}

func TestNotifyOffDeliversNothing(t *testing.T) {
	_, r, sub := notifyServer(t, "")
	require.Equal(t, rOK, r.do("SET", "k", "v"))
	require.Equal(t, rOK, r.do("CONFIG", "SET", "notify-keyspace-events", "g$"))
	require.Equal(t, rOK, r.do("SET", "k", "v"), "classes without K or E deliver nothing")
	require.Equal(t, rOK, r.do("CONFIG", "SET", "notify-keyspace-events", "KEA"))
	requireNoMoreFrames(t, r, sub, keyspaceFrame("0", "__marker", "set"))
}

// 'm' publishes keymiss for reads of missing keys (Redis 7.0).
func TestNotifyKeyMiss(t *testing.T) {
	_, r, sub := notifyServer(t, "KEm")
	require.Equal(t, rNil, r.do("GET", "nosuch"))
	require.Equal(t, both("0", "nosuch", "keymiss"), sub.replies(2))
}

// 'n' publishes new when a key is created (Redis 7.0).
func TestNotifyNewKey(t *testing.T) {
	_, r, sub := notifyServer(t, "KEn")
	require.Equal(t, rOK, r.do("SET", "a", "1"))
	require.Equal(t, rOK, r.do("SET", "a", "2"))
	require.Equal(t, rInt(1), r.do("LPUSH", "l", "x"))
	require.Equal(t, append(both("0", "a", "new"), both("0", "l", "new")...), sub.replies(4))
}

// notify-keyspace-events is per server: CONFIG SET on one server must not
// change another server in the same process (embedding, tests).
func TestNotifyConfigIsPerServer(t *testing.T) {
	a, b := startServer(t, ""), startServer(t, "")
	notifyOffAtCleanup(t, a)
	notifyOffAtCleanup(t, b)
	require.Equal(t, rOK, a.raw(t).do("CONFIG", "SET", "notify-keyspace-events", "KEA"))
	require.Equal(t, rArr("notify-keyspace-events", ""), b.raw(t).do("CONFIG", "GET", "notify-keyspace-events"))
}
