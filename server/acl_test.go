package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Replies checked here were recorded from redis-server 7.0.15.

func TestACLUsersAndRules(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, bulk("default"), r.do("ACL", "WHOAMI"))
	require.Equal(t, "*1\r\n"+bulk("user default on nopass ~* &* +@all"), r.do("ACL", "LIST"))
	require.Equal(t, "+OK\r\n", r.do("ACL", "SETUSER", "u1"))
	require.Contains(t, r.do("ACL", "LIST"), bulk("user u1 off resetchannels -@all"))
	require.Equal(t, "+OK\r\n", r.do("ACL", "SETUSER", "u2", "on", ">p1", "~a*", "%R~b*", "&ch", "-@all", "+@hash", "(+set ~x*)"))
	list := r.do("ACL", "LIST")
	require.Contains(t, list, "user u2 on #"+hashPassword("p1")+" ~a* %R~b* resetchannels &ch -@all +@hash (~x* resetchannels -@all +set)")
	require.Equal(t, "*3\r\n"+bulk("default")+bulk("u1")+bulk("u2"), r.do("ACL", "USERS"))

	for _, c := range []struct{ op, err string }{
		{"bad", "-ERR Error in ACL SETUSER modifier 'bad': Syntax error\r\n"},
		{"+nonexist", "-ERR Error in ACL SETUSER modifier '+nonexist': Unknown command or category name in ACL\r\n"},
		{"(+get", "-ERR Unmatched parenthesis in acl selector starting at '(+get'.\r\n"},
		{"+config|get|x", "-ERR Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand is not supported\r\n"},
		{"#abc", "-ERR Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters\r\n"},
		{"<xx", "-ERR Error in ACL SETUSER modifier '<xx': The password you are trying to remove from the user does not exist\r\n"},
		{"%X~a", "-ERR Error in ACL SETUSER modifier '%X~a': Syntax error\r\n"},
		{"%~a", "-ERR Error in ACL SETUSER modifier '%~a': Syntax error\r\n"},
	} {
		require.Equal(t, c.err, r.do("ACL", "SETUSER", "u3", c.op), c.op)
	}
	require.Equal(t, "-ERR Error in ACL SETUSER modifier '~a': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns\r\n",
		r.do("ACL", "SETUSER", "u3", "~*", "~a"))
	require.Equal(t, "-ERR Usernames can't contain spaces or null characters\r\n", r.do("ACL", "SETUSER", "a b"))
	require.Equal(t, "-ERR The 'default' user cannot be removed\r\n", r.do("ACL", "DELUSER", "default"))
	require.Equal(t, ":1\r\n", r.do("ACL", "DELUSER", "u1", "nope"))
	require.Equal(t, "$-1\r\n", r.do("ACL", "GETUSER", "u1"))

	// GETUSER's map, and the command description's +@all/-@all forms
	r.do("ACL", "SETUSER", "u5", "+@all", "-get", "(+set ~x*)")
	require.Equal(t, "*12\r\n"+bulk("flags")+"*1\r\n"+bulk("off")+bulk("passwords")+"*0\r\n"+
		bulk("commands")+bulk("+@all -get")+bulk("keys")+bulk("")+bulk("channels")+bulk("")+
		bulk("selectors")+"*1\r\n*6\r\n"+bulk("commands")+bulk("-@all +set")+bulk("keys")+bulk("~x*")+bulk("channels")+bulk(""),
		r.do("ACL", "GETUSER", "u5"))
	r.do("ACL", "SETUSER", "u5", "reset")
	require.Contains(t, r.do("ACL", "LIST"), "user u5 off sanitize-payload resetchannels -@all")
	require.Equal(t, "-ERR unknown subcommand 'FOO'. Try ACL HELP.\r\n", r.do("ACL", "FOO"))
	require.Equal(t, "-ERR Unknown category 'nope'\r\n", r.do("ACL", "CAT", "nope"))
	require.Equal(t, "*21\r\n", strings.SplitN(r.do("ACL", "CAT"), "\r\n", 2)[0]+"\r\n")
	gp := r.do("ACL", "GENPASS")
	require.True(t, strings.HasPrefix(gp, "$64\r\n"), gp)
	require.True(t, strings.HasPrefix(r.do("ACL", "GENPASS", "5"), "$2\r\n"))
	require.Equal(t, "-ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096\r\n", r.do("ACL", "GENPASS", "0"))
}

func TestACLPermissions(t *testing.T) {
	ts := startServer(t, "")
	admin := ts.raw(t)
	require.Equal(t, "+OK\r\n", admin.do("ACL", "SETUSER", "alice", "on", ">pw", "~k*", "%R~r*", "%W~w*", "resetchannels", "&ch*",
		"-@all", "+get", "+set", "+lpush", "+publish", "+subscribe", "+config|get", "+multi", "+exec", "+acl|whoami"))
	r := ts.raw(t)
	require.Equal(t, "-WRONGPASS invalid username-password pair or user is disabled.\r\n", r.do("AUTH", "alice", "bad"))
	require.Equal(t, "+OK\r\n", r.do("AUTH", "alice", "pw"))
	require.Equal(t, bulk("alice"), r.do("ACL", "WHOAMI"))
	require.Equal(t, "+OK\r\n", r.do("SET", "k1", "v"))
	require.Equal(t, bulk("v"), r.do("GET", "k1"))
	const noKeys = "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
	require.Equal(t, noKeys, r.do("GET", "x"))
	require.Equal(t, noKeys, r.do("SET", "r1", "v"))
	require.Equal(t, noKeys, r.do("GET", "w1"))
	require.Equal(t, ":1\r\n", r.do("LPUSH", "w1", "a"))
	require.Equal(t, noKeys, r.do("SET", "w2", "v", "GET"))
	require.Equal(t, "+OK\r\n", r.do("SET", "w2", "v"))
	require.Equal(t, "-NOPERM this user has no permissions to run the 'incr' command\r\n", r.do("INCR", "k1"))
	require.Equal(t, "-NOPERM this user has no permissions to run the 'config|set' command\r\n", r.do("CONFIG", "SET", "maxmemory", "0"))
	require.True(t, strings.HasPrefix(r.do("CONFIG", "GET", "maxmemory"), "*2\r\n"))
	require.Equal(t, ":0\r\n", r.do("PUBLISH", "ch1", "m"))
	require.Equal(t, "-NOPERM this user has no permissions to access one of the channels used as arguments\r\n", r.do("PUBLISH", "x", "m"))
	// inside MULTI a refused command dooms the transaction
	require.Equal(t, "+OK\r\n", r.do("MULTI"))
	require.Equal(t, "-NOPERM this user has no permissions to run the 'incr' command\r\n", r.do("INCR", "k1"))
	require.Equal(t, "-EXECABORT Transaction discarded because of previous errors.\r\n", r.do("EXEC"))
	// rules changed between queueing and EXEC
	require.Equal(t, "+OK\r\n", r.do("MULTI"))
	require.Equal(t, "+QUEUED\r\n", r.do("GET", "k1"))
	admin.do("ACL", "SETUSER", "alice", "-get")
	require.Equal(t, "*1\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand\r\n", r.do("EXEC"))

	// the log, newest first
	log := admin.do("ACL", "LOG", "1")
	require.Contains(t, log, bulk("reason")+bulk("command")+bulk("context")+bulk("multi")+bulk("object")+bulk("get")+bulk("username")+bulk("alice"))
	require.Contains(t, log, "cmd=get user=alice")
	log = admin.do("ACL", "LOG")
	require.Contains(t, log, bulk("reason")+bulk("auth")+bulk("context")+bulk("toplevel")+bulk("object")+bulk("AUTH")+bulk("username")+bulk("alice"))
	require.Contains(t, log, bulk("reason")+bulk("channel")+bulk("context")+bulk("toplevel")+bulk("object")+bulk("x"))
	require.Equal(t, "*0\r\n", admin.do("ACL", "LOG", "0"))
	require.Equal(t, "+OK\r\n", admin.do("ACL", "LOG", "RESET"))
	require.Equal(t, "*0\r\n", admin.do("ACL", "LOG"))

	// deleting the user disconnects its clients
	require.Equal(t, ":1\r\n", admin.do("ACL", "DELUSER", "alice"))
	requireClosed(t, r)
}

func TestACLSelectorsAndDryrun(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.do("ACL", "SETUSER", "sel", "on", "nopass", "+mget", "~key", "(+mget ~key ~otherkey)")
	require.Equal(t, "+OK\r\n", r.do("ACL", "DRYRUN", "sel", "mget", "key", "otherkey"))
	require.Equal(t, bulk("This user has no permissions to access the 'nothere' key"), r.do("ACL", "DRYRUN", "sel", "mget", "key", "nothere"))
	require.Equal(t, bulk("This user has no permissions to run the 'get' command"), r.do("ACL", "DRYRUN", "sel", "get", "key"))
	r.do("ACL", "SETUSER", "rw", "+@all", "%R~read*", "%W~write*", "%RW~rw*", "resetchannels", "&channel")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"copy", "read", "write"}, "+OK\r\n"},
		{[]string{"copy", "write", "read"}, bulk("This user has no permissions to access the 'write' key")},
		{[]string{"exists", "write"}, "+OK\r\n"},
		{[]string{"hexists", "read", "f"}, "+OK\r\n"},
		{[]string{"sintercard", "2", "read", "write"}, bulk("This user has no permissions to access the 'write' key")},
		{[]string{"sort", "read", "STORE", "write"}, "+OK\r\n"},
		{[]string{"sort", "read", "STORE", "read"}, bulk("This user has no permissions to access the 'read' key")},
		{[]string{"georadius", "read", "0", "0", "1", "m", "STOREDIST", "write"}, "+OK\r\n"},
		{[]string{"georadius", "read1", "0", "0", "1", "m", "STORE", "read2"}, bulk("This user has no permissions to access the 'read2' key")},
		{[]string{"bitfield", "read", "get", "u4", "0"}, "+OK\r\n"},
		{[]string{"bitfield", "read", "set", "u4", "0", "1"}, bulk("This user has no permissions to access the 'read' key")},
		{[]string{"spublish", "channel", "m"}, "+OK\r\n"},
		{[]string{"ssubscribe", "other"}, bulk("This user has no permissions to access the 'other' channel")},
		{[]string{"sunsubscribe", "other"}, "+OK\r\n"},
		{[]string{"set", "rw"}, "-ERR wrong number of arguments for 'set' command\r\n"},
		{[]string{"nosuch"}, "-ERR Command 'nosuch' not found\r\n"},
	} {
		require.Equal(t, c.want, r.do(append([]string{"ACL", "DRYRUN", "rw"}, c.args...)...), c.args)
	}
	require.Equal(t, "-ERR User 'nobody' not found\r\n", r.do("ACL", "DRYRUN", "nobody", "get", "x"))

	// SORT's BY and GET need read access to every key
	r.do("ACL", "SETUSER", "sorter", "on", "nopass", "(+sort ~mylist)")
	r.do("RPUSH", "mylist", "1")
	s := ts.raw(t)
	require.Equal(t, "+OK\r\n", s.do("AUTH", "sorter", "x"))
	require.Equal(t, "-ERR BY option of SORT denied due to insufficient ACL permissions.\r\n", s.do("SORT", "mylist", "BY", "v*"))
	require.Equal(t, "-ERR GET option of SORT denied due to insufficient ACL permissions.\r\n", s.do("SORT", "mylist", "GET", "v*"))
	r.do("ACL", "SETUSER", "sorter", "(+sort ~mylist %R~*)")
	require.Equal(t, "*1\r\n"+bulk("1"), s.do("SORT", "mylist", "BY", "v*"))
}

func TestACLAuthAndRequirepass(t *testing.T) {
	ts := startServer(t, "", func(c *Config) { c.Password = "foobar" })
	r := ts.raw(t)
	require.Equal(t, "-NOAUTH Authentication required.\r\n", r.do("GET", "x"))
	require.Equal(t, "-WRONGPASS invalid username-password pair or user is disabled.\r\n", r.do("AUTH", "wrong"))
	require.Equal(t, "-"+msgHelloNoAuth+"\r\n", r.do("HELLO", "2"))
	require.Equal(t, "+OK\r\n", r.do("AUTH", "foobar"))
	require.Contains(t, r.do("ACL", "LIST"), "user default on #"+hashPassword("foobar")+" ~* &* +@all")
	r.do("CONFIG", "SET", "requirepass", "")
	require.Contains(t, r.do("ACL", "LIST"), "user default on nopass ~* &* +@all")
	fresh := ts.raw(t)
	require.Equal(t, "$-1\r\n", fresh.do("GET", "x"))
	require.Equal(t, "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n", fresh.do("AUTH", "x"))

	// HELLO AUTH logs in as another user; a disabled default user refuses everyone else
	r.do("ACL", "SETUSER", "bob", "on", ">pw", "+@all", "~*")
	h := ts.raw(t)
	require.Contains(t, h.do("HELLO", "3", "AUTH", "bob", "pw"), "proto")
	require.Equal(t, bulk("bob"), h.do("ACL", "WHOAMI"))
	r.do("ACL", "SETUSER", "default", "off")
	n := ts.raw(t)
	require.Equal(t, "-NOAUTH Authentication required.\r\n", n.do("GET", "x"))
	require.Equal(t, "-WRONGPASS invalid username-password pair or user is disabled.\r\n", n.do("AUTH", "default", ""))
	require.Equal(t, "+OK\r\n", n.do("AUTH", "bob", "pw"))
	require.Equal(t, "+RESET\r\n", n.do("RESET"))
	require.Equal(t, "-NOAUTH Authentication required.\r\n", n.do("GET", "x"))
	r.do("ACL", "SETUSER", "default", "on")
}

func TestACLPubsubRevoked(t *testing.T) {
	ts := startServer(t, "")
	admin := ts.raw(t)
	admin.do("ACL", "SETUSER", "psuser", "on", "nopass", "+@all", "~*", "resetchannels", "&foo:1", "&bar:*")
	sub := ts.raw(t)
	require.Equal(t, "+OK\r\n", sub.do("AUTH", "psuser", "x"))
	require.Contains(t, sub.do("SUBSCRIBE", "foo:1"), "subscribe")
	// keeping the channel keeps the subscriber
	admin.do("ACL", "SETUSER", "psuser", "&baz")
	require.Equal(t, ":1\r\n", admin.do("PUBLISH", "foo:1", "m"))
	require.Contains(t, sub.reply(), "message")
	admin.do("ACL", "SETUSER", "psuser", "resetchannels", "&bar:*")
	requireClosed(t, sub)
}

func TestACLFileSaveLoad(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users.acl")
	require.NoError(t, os.WriteFile(file, []byte("user alice on >alice ~* &* +@all\nuser bob on nopass -@all +set %W~w* (+get %R~r*)\n"), 0o644))
	ts := startServer(t, "", func(c *Config) { c.ACLFile = file })
	require.NoError(t, ts.srv.LoadACLFile())
	r := ts.raw(t)
	require.Equal(t, "*3\r\n"+bulk("alice")+bulk("bob")+bulk("default"), r.do("ACL", "USERS"))
	require.Contains(t, r.do("ACL", "GETUSER", "bob"), bulk("commands")+bulk("-@all +get")+bulk("keys")+bulk("%R~r*"))
	require.Equal(t, "*2\r\n"+bulk("aclfile")+bulk(file), r.do("CONFIG", "GET", "aclfile"))
	r.do("ACL", "SETUSER", "carol", "on", ">c", "~c*")
	require.Equal(t, "+OK\r\n", r.do("ACL", "SAVE"))
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Contains(t, string(data), "user carol on #"+hashPassword("c")+" ~c* resetchannels -@all\n")
	require.Contains(t, string(data), "user default on nopass ~* &* +@all\n")

	// a client of a reloaded user is disconnected
	a := ts.raw(t)
	require.Equal(t, "+OK\r\n", a.do("AUTH", "alice", "alice"))
	require.NoError(t, os.WriteFile(file, []byte("user alice on >alice ~* &* +@all\n"), 0o644))
	require.Equal(t, "+OK\r\n", r.do("ACL", "LOAD"))
	require.Equal(t, "*2\r\n"+bulk("alice")+bulk("default"), r.do("ACL", "USERS"))
	requireClosed(t, a)

	// a bad file changes nothing
	require.NoError(t, os.WriteFile(file, []byte("user x on +nosuch\nnotuser\n"), 0o644))
	require.Equal(t, "-ERR "+file+":1: Error in applying operation '+nosuch': Unknown command or category name in ACL. "+file+":2 should start with user keyword followed by the username. WARNING: ACL errors detected, no change to the previously active ACL rules was performed\r\n",
		r.do("ACL", "LOAD"))
	require.Equal(t, "*2\r\n"+bulk("alice")+bulk("default"), r.do("ACL", "USERS"))

	// without a file
	ts2 := startServer(t, "")
	r2 := ts2.raw(t)
	require.True(t, strings.HasPrefix(r2.do("ACL", "SAVE"), "-ERR This Redis instance is not configured to use an ACL file."))
}

// FuzzACLSetUser: no rule, however malformed, panics.
func FuzzACLSetUser(f *testing.F) {
	for _, s := range []string{"on", ">x", "~a*", "%RW~x", "(+get ~x)", "+config|get", "+@all", "-@hash", "&c", "#", "!", "<", "%", "(", ")", "+", "-", "+@", "+a|b|c", "(+set"} {
		f.Add(s, "get x")
	}
	f.Fuzz(func(t *testing.T, rule, call string) {
		p := &aclPerms{flags: userOff, selectors: []*aclSelector{newSelector(true, false)}}
		_ = p.set(rule, false)
		p.finish()
		args := strings.Fields(call)
		if len(args) == 0 {
			return
		}
		if cmd := lookupCommand([]byte(args[0])); cmd != nil {
			bargs := make([][]byte, len(args))
			for i, a := range args {
				bargs[i] = []byte(a)
			}
			if ac, ok := aclResolve(cmd, bargs); ok {
				p.checkAll(ac, bargs)
			}
		}
	})
}
