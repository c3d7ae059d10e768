package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// srvBulk renders s as a RESP bulk string, for building expected replies.
func srvBulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

func TestServerConfigGetSet(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	for _, tc := range []struct{ args, want string }{
		{"CONFIG GET maxmemory", "*2\r\n" + srvBulk("maxmemory") + srvBulk("0")},
		// a name without glob characters is echoed as typed
		{"CONFIG GET MAXMEMORY", "*2\r\n" + srvBulk("MAXMEMORY") + srvBulk("0")},
		{"CONFIG GET maxmemory maxmemory", "*2\r\n" + srvBulk("maxmemory") + srvBulk("0")},
		{"CONFIG GET nosuch", "*0\r\n"},
		{"CONFIG SET maxmemory 10mb", "+OK\r\n"},
		{"CONFIG GET maxmemory", "*2\r\n" + srvBulk("maxmemory") + srvBulk("10485760")},
		{"CONFIG SET maxmemory abc", "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n"},
		{"CONFIG SET foo bar", "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n"},
		{"CONFIG SET maxmemory 1 maxmemory 2", "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter\r\n"},
		{"CONFIG SET bind 10.1.2.3", "-ERR CONFIG SET failed (possibly related to argument 'bind') - lux cannot change its bind address at run time\r\n"},
		{"CONFIG SET maxmemory-policy foo", "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction\r\n"},
		// the second value fails: the first one is rolled back
		{"CONFIG SET maxmemory 5mb hz abc", "-ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer\r\n"},
		{"CONFIG GET maxmemory", "*2\r\n" + srvBulk("maxmemory") + srvBulk("10485760")},
		{"CONFIG SET maxmemory 0 hz 11", "+OK\r\n"},
		{"CONFIG GET hz", "*2\r\n" + srvBulk("hz") + srvBulk("11")},
		{"CONFIG SET appendonly maybe", "-ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'\r\n"},
		{"CONFIG SET save", "-ERR wrong number of arguments for 'config|set' command\r\n"},
		{"CONFIG SET hz 5 hz", "-ERR syntax error\r\n"},
		{"CONFIG GET", "-ERR wrong number of arguments for 'config|get' command\r\n"},
		{"CONFIG", "-ERR wrong number of arguments for 'config' command\r\n"},
		{"CONFIG foo", "-ERR unknown subcommand 'foo'. Try CONFIG HELP.\r\n"},
		{"config foo", "-ERR unknown subcommand 'foo'. Try CONFIG HELP.\r\n"},
		{"CONFIG REWRITE", "-ERR The server is running without a config file\r\n"},
		{"CONFIG RESETSTAT", "+OK\r\n"},
	} {
		require.Equal(t, tc.want, r.do(strings.Fields(tc.args)...), tc.args)
	}
	require.Equal(t, "+OK\r\n", r.do("CONFIG", "SET", "save", ""))
	require.Equal(t, "*2\r\n"+srvBulk("save")+srvBulk(""), r.do("CONFIG", "GET", "save"))

	// a pattern matches case-insensitively and lists each parameter once
	got := r.do("CONFIG", "GET", "MAXMEM*", "maxmemory")
	require.Contains(t, got, srvBulk("maxmemory-policy")+srvBulk("allkeys-lru"))
	require.Equal(t, 1, strings.Count(got, srvBulk("maxmemory")))

	help := r.do("CONFIG", "HELP")
	require.True(t, strings.HasPrefix(help, "*11\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+GET <pattern>\r\n"), help)
	require.True(t, strings.HasSuffix(help, "+HELP\r\n+    Prints this help.\r\n"), help)
}

func TestServerDBSizeFlush(t *testing.T) {
	ts := startServer(t, t.TempDir())
	r := ts.raw(t)
	require.Equal(t, ":0\r\n", r.do("DBSIZE"))
	r.do("SET", "a", "1")
	r.do("SET", "b", "2")
	require.Equal(t, ":2\r\n", r.do("DBSIZE"))
	require.Equal(t, "+OK\r\n", r.do("SELECT", "1"))
	r.do("SET", "c", "3")
	require.Equal(t, ":1\r\n", r.do("DBSIZE"))
	require.Equal(t, "-ERR wrong number of arguments for 'dbsize' command\r\n", r.do("DBSIZE", "x"))
	require.Equal(t, "-ERR syntax error\r\n", r.do("FLUSHDB", "foo"))
	require.Equal(t, "-ERR syntax error\r\n", r.do("FLUSHDB", "async", "x"))
	require.Equal(t, "-ERR syntax error\r\n", r.do("FLUSHALL", "x"))

	// FLUSHDB empties only the selected database
	require.Equal(t, "+OK\r\n", r.do("FLUSHDB", "SYNC"))
	require.Equal(t, ":0\r\n", r.do("DBSIZE"))
	r.do("SELECT", "0")
	require.Equal(t, ":2\r\n", r.do("DBSIZE"))

	r.do("SELECT", "2")
	r.do("SET", "d", "4")
	require.Equal(t, "+OK\r\n", r.do("FLUSHALL", "ASYNC"))
	for db := 0; db < 3; db++ {
		r.do("SELECT", strconv.Itoa(db))
		require.Equal(t, ":0\r\n", r.do("DBSIZE"), "db %d", db)
	}

	// the flush is durable: nothing comes back after a restart
	r.do("SELECT", "0")
	r.do("SET", "kept", "1")
	ts.stop()
	ts2 := startServer(t, ts.dir)
	r2 := ts2.raw(t)
	require.Equal(t, ":1\r\n", r2.do("DBSIZE"))
	require.Equal(t, "$-1\r\n", r2.do("GET", "a"))
}

func TestServerFlushInsideMulti(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.do("SET", "a", "1")
	require.Equal(t, "+OK\r\n", r.do("MULTI"))
	require.Equal(t, "+QUEUED\r\n", r.do("SET", "b", "2"))
	require.Equal(t, "+QUEUED\r\n", r.do("FLUSHALL"))
	require.Equal(t, "+QUEUED\r\n", r.do("DBSIZE"))
	require.Equal(t, "+QUEUED\r\n", r.do("INFO", "keyspace"))
	require.Equal(t, "*4\r\n+OK\r\n+OK\r\n:0\r\n"+srvBulk("# Keyspace\r\n"), r.do("EXEC"))
}

// infoFields parses an INFO reply into its sections' field maps.
func infoFields(t *testing.T, raw string) (sections []string, fields map[string]string) {
	t.Helper()
	require.True(t, strings.HasPrefix(raw, "$"), raw)
	body := raw[strings.Index(raw, "\r\n")+2 : len(raw)-2]
	fields = map[string]string{}
	for _, line := range strings.Split(body, "\r\n") {
		switch {
		case line == "":
		case strings.HasPrefix(line, "# "):
			sections = append(sections, line[2:])
		default:
			k, v, ok := strings.Cut(line, ":")
			require.True(t, ok, "bad INFO line %q", line)
			fields[k] = v
		}
	}
	return sections, fields
}

func TestServerInfo(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.do("SET", "a", "1")
	r.do("SET", "b", "2", "EX", "100")
	r.do("GET", "a")
	r.do("GET", "missing")
	r.do("SELECT", "3")
	r.do("SET", "c", "3")

	raw := r.do("INFO")
	require.True(t, strings.HasPrefix(raw[strings.Index(raw, "\r\n")+2:], "# Server\r\nredis_version:7.0.15\r\n"), raw)
	require.Contains(t, raw, "\r\n\r\n# Clients\r\n")
	sections, f := infoFields(t, raw)
	require.Equal(t, []string{"Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU",
		"Modules", "Errorstats", "Cluster", "Keyspace"}, sections)
	require.Contains(t, raw, "\r\n# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n")
	for _, k := range []string{"lux_version", "used_memory", "maxmemory", "evicted_keys", "expired_keys",
		"keyspace_hits", "keyspace_misses", "total_commands_processed", "instantaneous_ops_per_sec",
		"total_connections_received", "connected_clients", "rejected_connections", "total_net_input_bytes",
		"total_net_output_bytes", "rdb_last_save_time", "aof_enabled", "lux_persistence", "used_cpu_user",
		"uptime_in_seconds", "run_id", "tcp_port"} {
		require.Contains(t, f, k)
	}
	require.Equal(t, "master", f["role"])
	require.Equal(t, "0", f["connected_slaves"])
	require.Equal(t, "0", f["aof_enabled"])
	require.Equal(t, "off", f["lux_persistence"])
	require.Equal(t, "1", f["connected_clients"])
	require.Equal(t, "1", f["keyspace_hits"])
	require.Equal(t, "1", f["keyspace_misses"])
	require.Equal(t, strings.Split(ts.addr, ":")[1], f["tcp_port"])
	used, err := strconv.ParseInt(f["used_memory"], 10, 64)
	require.NoError(t, err)
	require.Equal(t, ts.store.Memory().Total(), used) // data, and without persistence the connections
	require.NotContains(t, f, "cmdstat_set")          // commandstats is not a default section

	// one section; case-insensitive names
	_, f = infoFields(t, r.do("INFO", "CPU"))
	require.Contains(t, f, "used_cpu_sys")
	require.NotContains(t, f, "used_memory")
	raw = r.do("info", "commandSTATS")
	require.Regexp(t, regexp.MustCompile(`cmdstat_set:calls=\d+,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=0\r\n`), raw)
	require.NotContains(t, raw, "used_memory")

	// several sections, each once, in Redis's order whatever the request order
	sections, _ = infoFields(t, r.do("INFO", "keyspace", "cpu", "cpu"))
	require.Equal(t, []string{"CPU", "Keyspace"}, sections)
	sections, _ = infoFields(t, r.do("INFO", "cpu", "default"))
	require.Equal(t, 11, len(sections))
	for _, arg := range []string{"all", "everything"} {
		raw = r.do("INFO", arg)
		require.Contains(t, raw, "rejected_calls", arg)
		require.Contains(t, raw, "# Commandstats\r\n", arg)
		require.Equal(t, 1, strings.Count(raw, "used_cpu_user_children"))
	}
	require.Equal(t, "$0\r\n\r\n", r.do("INFO", "nosuch", "other"))

	// a rejected call shows up in commandstats
	r.do("GET")
	require.Regexp(t, `cmdstat_get:calls=\d+,usec=\d+,usec_per_call=[0-9.]+,rejected_calls=[1-9]`, r.do("INFO", "commandstats"))
}

func TestServerInfoPersistent(t *testing.T) {
	ts := startServer(t, t.TempDir())
	r := ts.raw(t)
	r.do("SET", "a", "1")
	_, f := infoFields(t, r.do("INFO", "persistence"))
	require.Equal(t, "1", f["aof_enabled"])
	require.Equal(t, "on", f["lux_persistence"])
	require.Equal(t, "everysec", f["lux_appendfsync"])
	require.Equal(t, "0", f["rdb_saves"])
	require.Equal(t, "+OK\r\n", r.do("SAVE"))
	_, f = infoFields(t, r.do("INFO", "persistence"))
	require.Equal(t, "1", f["rdb_saves"])
	require.Equal(t, "0", f["rdb_changes_since_last_save"])
	require.Equal(t, "ok", f["rdb_last_bgsave_status"])
}

func TestServerCommandCount(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, ":"+strconv.Itoa(len(commands))+"\r\n", r.do("COMMAND", "COUNT"))
	require.Equal(t, "-ERR wrong number of arguments for 'command|count' command\r\n", r.do("COMMAND", "COUNT", "x"))
	require.Equal(t, "-ERR unknown subcommand 'foo'. Try COMMAND HELP.\r\n", r.do("COMMAND", "foo"))

	// every command appears in COMMAND, with the 10-element Redis 7 row
	all := r.do("COMMAND")
	require.True(t, strings.HasPrefix(all, "*"+strconv.Itoa(len(commands))+"\r\n*10\r\n"))
	c := ts.client(t)
	infos, err := c.Command(context.Background()).Result()
	require.NoError(t, err)
	require.Len(t, infos, len(commands))
	require.True(t, infos["get"].ReadOnly)
	require.Equal(t, int8(-3), infos["set"].Arity)
}

func TestServerCommandInfo(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	// byte for byte what Redis 7.0.15 replies
	get := "*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n" +
		"*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n" +
		"*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n" +
		"$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"
	require.Equal(t, "*2\r\n$-1\r\n"+get, r.do("COMMAND", "INFO", "nosuch", "GET"))
	require.Equal(t, "*0\r\n", r.do("COMMAND", "DOCS", "nosuch"))

	// a container lists its subcommands as rows of their own
	cfg := r.do("COMMAND", "INFO", "config")
	require.True(t, strings.HasPrefix(cfg, "*1\r\n*10\r\n$6\r\nconfig\r\n:-2\r\n*0\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*0\r\n*0\r\n*5\r\n"), cfg)
	require.Contains(t, cfg, "*10\r\n$10\r\nconfig|get\r\n:-3\r\n*4\r\n+admin\r\n+noscript\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*3\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n*0\r\n*0\r\n*0\r\n")
	require.True(t, strings.HasPrefix(r.do("COMMAND", "INFO", "CONFIG|GET"), "*1\r\n*10\r\n$10\r\nconfig|get\r\n:-3\r\n"))

	require.Equal(t, "*1\r\n$1\r\na\r\n", r.do("COMMAND", "GETKEYS", "SET", "a", "b"))
	// Redis's key spec flags (as in its unit/introspection-2)
	require.Equal(t, "*1\r\n*2\r\n$1\r\na\r\n*2\r\n+OW\r\n+update\r\n", r.do("COMMAND", "GETKEYSANDFLAGS", "set", "a", "b"))
	require.Equal(t, "*1\r\n*2\r\n$1\r\na\r\n*3\r\n+RW\r\n+access\r\n+update\r\n", r.do("COMMAND", "GETKEYSANDFLAGS", "set", "a", "b", "get"))
	require.Equal(t, "*2\r\n*2\r\n$2\r\nk1\r\n*3\r\n+RW\r\n+access\r\n+delete\r\n*2\r\n$2\r\nk2\r\n*2\r\n+RW\r\n+insert\r\n",
		r.do("COMMAND", "GETKEYSANDFLAGS", "LMOVE", "k1", "k2", "left", "right"))
	require.Equal(t, "*2\r\n*2\r\n$2\r\nk1\r\n*2\r\n+RO\r\n+access\r\n*2\r\n$2\r\nk2\r\n*2\r\n+OW\r\n+update\r\n",
		r.do("COMMAND", "GETKEYSANDFLAGS", "sort", "k1", "store", "k2"))
	require.Equal(t, "*3\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\nb\r\n", r.do("COMMAND", "GETKEYS", "zunionstore", "d", "2", "a", "b"))
	require.Equal(t, "-ERR Invalid command specified\r\n", r.do("COMMAND", "GETKEYS", "nosuch", "a"))
	require.Equal(t, "-ERR The command has no key arguments\r\n", r.do("COMMAND", "GETKEYS", "ping", "x"))
	require.Equal(t, "-ERR Invalid number of arguments specified for command\r\n", r.do("COMMAND", "GETKEYS", "get", "a", "b"))
	require.Equal(t, "-ERR wrong number of arguments for 'command|getkeys' command\r\n", r.do("COMMAND", "GETKEYS", "get"))
	require.Equal(t, "*1\r\n$1\r\nk\r\n", r.do("COMMAND", "GETKEYS", "memory", "usage", "k"))

	list := r.do("COMMAND", "LIST")
	require.Contains(t, list, srvBulk("config|get"))
	require.Contains(t, list, srvBulk("get"))
	require.Equal(t, "*2\r\n"+srvBulk("config|get")+srvBulk("config|set"), r.do("COMMAND", "LIST", "FILTERBY", "PATTERN", "CONFIG|?et"))
	require.Equal(t, "*0\r\n", r.do("COMMAND", "LIST", "FILTERBY", "aclcat", "nosuch"))
	require.Contains(t, r.do("COMMAND", "LIST", "FILTERBY", "aclcat", "read"), srvBulk("get"))
	require.Equal(t, "-ERR syntax error\r\n", r.do("COMMAND", "LIST", "foo"))
	require.True(t, strings.HasPrefix(r.do("COMMAND", "HELP"), "*21\r\n+COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+(no subcommand)\r\n"))
}

func TestServerCommandDocs(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	// Redis's documentation for Redis's commands (cmd_specs.go)
	require.Equal(t, "*2\r\n$3\r\nget\r\n*10\r\n"+srvBulk("summary")+srvBulk("Get the value of a key")+srvBulk("since")+srvBulk("1.0.0")+
		srvBulk("group")+srvBulk("string")+srvBulk("complexity")+srvBulk("O(1)")+srvBulk("arguments")+
		"*1\r\n*6\r\n"+srvBulk("name")+srvBulk("key")+srvBulk("type")+srvBulk("key")+srvBulk("key_spec_index")+":0\r\n",
		r.do("COMMAND", "DOCS", "get"))
	cfg := r.do("COMMAND", "DOCS", "config")
	require.Contains(t, cfg, srvBulk("subcommands"))
	require.Contains(t, cfg, srvBulk("config|get"))
	// lux's own commands: summary and group
	require.Equal(t, "*2\r\n"+srvBulk("tget")+"*4\r\n"+srvBulk("summary")+srvBulk(commands["tget"].Summary)+srvBulk("group")+srvBulk(commands["tget"].Group),
		r.do("COMMAND", "DOCS", "tget"))

	// the whole table is a map of every command
	all := r.do("COMMAND", "DOCS")
	require.True(t, strings.HasPrefix(all, "*"+strconv.Itoa(2*len(commands))+"\r\n"))
}

func TestServerSaveRestart(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	before := time.Now().Unix()
	require.Equal(t, "+OK\r\n", r.do("SET", "k", "v"))
	require.Equal(t, "+OK\r\n", r.do("SAVE"))
	require.Equal(t, "+Background saving started\r\n", r.do("BGSAVE"))
	require.Equal(t, "+Background saving started\r\n", r.do("BGSAVE", "SCHEDULE"))
	require.Equal(t, "-ERR syntax error\r\n", r.do("BGSAVE", "foo"))
	require.Equal(t, "-ERR wrong number of arguments for 'save' command\r\n", r.do("SAVE", "x"))
	last, err := strconv.ParseInt(strings.TrimSpace(r.do("LASTSAVE")[1:]), 10, 64)
	require.NoError(t, err)
	require.GreaterOrEqual(t, last, before)
	ts.stop()

	ts2 := startServer(t, dir)
	require.Equal(t, "$1\r\nv\r\n", ts2.raw(t).do("GET", "k"))
}

func TestServerShutdown(t *testing.T) {
	ts := startServer(t, t.TempDir())
	r := ts.raw(t)
	require.Equal(t, "-ERR syntax error\r\n", r.do("SHUTDOWN", "foo"))
	require.Equal(t, "-ERR syntax error\r\n", r.do("SHUTDOWN", "NOSAVE", "SAVE"))
	require.Equal(t, "-ERR syntax error\r\n", r.do("SHUTDOWN", "ABORT", "NOW"))
	require.Equal(t, "-ERR No shutdown in progress.\r\n", r.do("SHUTDOWN", "ABORT"))
	select {
	case <-ts.srv.ShutdownRequested():
		t.Fatal("shutdown requested too early")
	default:
	}
	r.do("SET", "k", "v")
	r.send("SHUTDOWN")
	// no reply: the connection is closed
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := r.rd.ReadByte()
	require.ErrorIs(t, err, io.EOF)
	select {
	case <-ts.srv.ShutdownRequested():
	case <-time.After(5 * time.Second):
		t.Fatal("SHUTDOWN did not request a shutdown")
	}
}

func TestServerMisc(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	tm := r.do("TIME")
	m := regexp.MustCompile(`^\*2\r\n\$\d+\r\n(\d+)\r\n\$\d+\r\n(\d+)\r\n$`).FindStringSubmatch(tm)
	require.NotNil(t, m, tm)
	sec, _ := strconv.ParseInt(m[1], 10, 64)
	require.InDelta(t, time.Now().Unix(), sec, 5)
	usec, _ := strconv.Atoi(m[2])
	require.Less(t, usec, 1000000)
	require.Equal(t, "-ERR wrong number of arguments for 'time' command\r\n", r.do("TIME", "x"))

	r.do("SET", "str", "bar")
	r.do("SET", "n", "12345")
	for _, tc := range []struct{ args, want string }{
		{"ROLE", "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"},
		{"WAIT 0 0", ":0\r\n"},
		{"WAIT x 0", "-ERR value is not an integer or out of range\r\n"},
		{"WAIT 1 x", "-ERR timeout is not an integer or out of range\r\n"},
		{"WAIT 0 -1", "-ERR timeout is negative\r\n"},
		{"FUNCTION FLUSH", "+OK\r\n"},
		{"FUNCTION FLUSH ASYNC", "+OK\r\n"},
		{"FUNCTION FLUSH foo", "-ERR FUNCTION FLUSH only supports SYNC|ASYNC option\r\n"},
		{"FUNCTION FLUSH a b", "-ERR unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION HELP.\r\n"},
		{"FUNCTION LIST", "*0\r\n"},
		{"FUNCTION LIST foo", "-ERR Unknown argument foo\r\n"},
		{"FUNCTION foo", "-ERR unknown subcommand 'foo'. Try FUNCTION HELP.\r\n"},
		{"FUNCTION", "-ERR wrong number of arguments for 'function' command\r\n"},
		{"SCRIPT FLUSH", "+OK\r\n"},
		{"SCRIPT FLUSH SYNC", "+OK\r\n"},
		{"SCRIPT FLUSH foo", "-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n"},
		{"SCRIPT foo", "-ERR unknown subcommand 'foo'. Try SCRIPT HELP.\r\n"},
		{"MEMORY USAGE nokey", "$-1\r\n"},
		{"MEMORY USAGE str foo", "-ERR syntax error\r\n"},
		{"MEMORY USAGE str SAMPLES x", "-ERR value is not an integer or out of range\r\n"},
		{"MEMORY USAGE", "-ERR wrong number of arguments for 'memory|usage' command\r\n"},
		{"MEMORY foo", "-ERR unknown subcommand 'foo'. Try MEMORY HELP.\r\n"},
		{"MEMORY DOCTOR x", "-ERR wrong number of arguments for 'memory|doctor' command\r\n"},
		{"DEBUG SLEEP 0", "+OK\r\n"},
		{"DEBUG SLEEP abc", "+OK\r\n"},
		{"DEBUG SET-ACTIVE-EXPIRE 0", "+OK\r\n"},
		{"DEBUG SET-ACTIVE-EXPIRE 1", "+OK\r\n"},
		{"DEBUG set-active-expire", "-ERR unknown subcommand or wrong number of arguments for 'set-active-expire'. Try DEBUG HELP.\r\n"},
		{"DEBUG JMAP", "-ERR unknown subcommand or wrong number of arguments for 'JMAP'. Try DEBUG HELP.\r\n"},
		{"DEBUG CHANGE-REPL-ID", "+OK\r\n"},
		{"DEBUG QUICKLIST-PACKED-THRESHOLD 100", "+OK\r\n"},
		{"DEBUG RELOAD", "+OK\r\n"},
		{"DEBUG OBJECT nokey", "-ERR no such key\r\n"},
		{"DEBUG OBJECT", "-ERR unknown subcommand or wrong number of arguments for 'OBJECT'. Try DEBUG HELP.\r\n"},
		{"DEBUG", "-ERR wrong number of arguments for 'debug' command\r\n"},
		{"DEBUG PROTOCOL integer", ":12345\r\n"},
		{"DEBUG PROTOCOL map", "*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n"},
		{"DEBUG ERROR FOO", "-FOO\r\n"},
	} {
		require.Equal(t, tc.want, r.do(strings.Fields(tc.args)...), tc.args)
	}
	require.Regexp(t, `^:\d+\r\n$`, r.do("MEMORY", "USAGE", "str", "SAMPLES", "0"))
	require.Regexp(t, `^\+Value at:0x[0-9a-f]+ refcount:1 encoding:embstr serializedlength:\d+ lru:\d+ lru_seconds_idle:\d+\r\n$`,
		r.do("DEBUG", "OBJECT", "str"))
	require.Contains(t, r.do("DEBUG", "OBJECT", "n"), "encoding:int ")
	require.True(t, strings.HasPrefix(r.do("MEMORY", "DOCTOR"), "$"))
	require.True(t, strings.HasPrefix(r.do("MEMORY", "HELP"), "*14\r\n+MEMORY <subcommand>"))

	// CHANGE-REPL-ID gives a new replication id
	_, f1 := infoFields(t, r.do("INFO", "replication"))
	r.do("DEBUG", "CHANGE-REPL-ID")
	_, f2 := infoFields(t, r.do("INFO", "replication"))
	require.Len(t, f1["master_replid"], 40)
	require.NotEqual(t, f1["master_replid"], f2["master_replid"])

	// SET-ACTIVE-EXPIRE reaches the store
	r.do("DEBUG", "SET-ACTIVE-EXPIRE", "0")
	require.False(t, ts.store.ActiveExpire())
	r.do("DEBUG", "SET-ACTIVE-EXPIRE", "1")
	require.True(t, ts.store.ActiveExpire())
}

func TestServerConfigResetStat(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	r.do("SET", "a", "1")
	r.do("GET", "a")
	require.Equal(t, "+OK\r\n", r.do("CONFIG", "RESETSTAT"))
	_, f := infoFields(t, r.do("INFO", "stats"))
	require.Equal(t, "0", f["keyspace_hits"])
	// the INFO call itself is the one command counted since the reset
	require.Equal(t, "1", f["total_commands_processed"])
}

// TestServerInfoRowCounts: INFO stats counts every row, and after a restart
// with persistence none is resident until read.
func TestServerInfoRowCounts(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	r.do("TCREATE", "users", "name:str")
	for _, n := range []string{"a", "b", "c"} {
		require.Equal(t, ":", r.do("TINSERT", "users", "name", n)[:1])
	}
	r.do("SET", "k", "v")
	_, f := infoFields(t, r.do("INFO", "stats"))
	require.Equal(t, "3", f["lux_tables_rows"])
	require.Equal(t, "3", f["lux_tables_rows_hot"])
	require.Equal(t, "0", f["lux_tables_rows_cold"])
	ts.stop()

	ts = startServer(t, dir)
	r = ts.raw(t)
	_, f = infoFields(t, r.do("INFO", "stats"))
	require.Equal(t, "3", f["lux_tables_rows"])
	require.Equal(t, "0", f["lux_tables_rows_hot"])
	require.Equal(t, "3", f["lux_tables_rows_cold"])
	require.Equal(t, "0", f["lux_hot_keys"])
	require.Equal(t, "1", f["lux_cold_keys"])
	require.Contains(t, r.do("TGET", "users", "2"), "b")
	r.do("GET", "k")
	_, f = infoFields(t, r.do("INFO", "stats"))
	require.Equal(t, "1", f["lux_tables_rows_hot"])
	require.Equal(t, "2", f["lux_tables_rows_cold"])
	require.Equal(t, "1", f["lux_hot_keys"])
}

// TestServerConfigSetSameValue: every parameter CONFIG GET * lists can be
// set to its own value (unit/introspection's "CONFIG sanity"), except
// Redis's immutable ones; the start-up-only port, bind and appendfsync
// refuse another value, a taken port with Redis's message.
func TestServerConfigSetSameValue(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	all := r.do("CONFIG", "GET", "*")
	lines := strings.Split(all, "\r\n")
	var names, values []string
	for i := 1; i+3 < len(lines); i += 4 {
		names, values = append(names, lines[i+1]), append(values, lines[i+3])
	}
	require.Greater(t, len(names), 50)
	for i, n := range names {
		require.NotEqual(t, "key-load-delay", n, "hidden from patterns")
		got := r.do("CONFIG", "SET", n, values[i])
		if isImmutableDefault(n) || passiveImmutable[n] || n == "aclfile" {
			require.Contains(t, got, "immutable", n)
			continue
		}
		require.Equal(t, rOK, got, "CONFIG SET %s %q", n, values[i])
	}
	require.Contains(t, r.do("CONFIG", "GET", "key-load-delay"), "key-load-delay")
	// appendfsync is settable at run time, with Redis's error for a bad value
	require.Equal(t, rOK, r.do("CONFIG", "SET", "appendfsync", "always"))
	require.Contains(t, r.do("CONFIG", "SET", "appendfsync", "sometimes"), "must be one of the following: everysec, always, no")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	taken := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	require.Equal(t, rOK, r.do("CONFIG", "SET", "maxmemory", "10000002"))
	require.Equal(t, "-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n",
		r.do("CONFIG", "SET", "maxmemory", "10000001", "port", taken))
	require.Equal(t, "*2\r\n$9\r\nmaxmemory\r\n$8\r\n10000002\r\n", r.do("CONFIG", "GET", "maxmemory"))
	require.Equal(t, rOK, r.do("CONFIG", "SET", "maxmemory", "0"))
	require.Equal(t, "-ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config\r\n",
		r.do("CONFIG", "SET", "daemonize", "yes"))
}

// TestServerInfoHz: configured_hz follows CONFIG SET hz; hz is the expiry
// cycle's fixed rate.
func TestServerInfoHz(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, rOK, r.do("CONFIG", "SET", "hz", "50"))
	info := r.do("INFO", "server")
	require.Contains(t, info, "\r\nhz:10\r\n")
	require.Contains(t, info, "\r\nconfigured_hz:50\r\n")
	require.Regexp(t, `expired_time_cap_reached_count:\d+\r\n`, r.do("INFO", "stats"))
}
