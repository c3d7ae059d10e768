package main

// MONITOR differential test: the same commands run on Redis and on lux while
// two connections (one RESP2, one RESP3) monitor; the lines each monitor
// receives must be the same once the timestamp and the client addresses are
// replaced by placeholders.

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

var monitorTS = regexp.MustCompile(`^\+\d+\.\d{6} `)

// monitorScenario runs the scenario against addr and returns the transcript.
func monitorScenario(t *testing.T, addr string) []string {
	var out []string
	cli, cli2 := dialRESP(t, addr), dialRESP(t, addr)
	mon, mon3 := dialRESP(t, addr), dialRESP(t, addr)
	for _, c := range []*respConn{cli, cli2, mon, mon3} {
		c.Timeout = 5 * time.Second
	}
	// peers maps client addresses to names, so that transcripts compare
	peers := map[string]string{}
	for name, c := range map[string]*respConn{"cli": cli, "cli2": cli2, "mon": mon, "mon3": mon3} {
		peers[c.c.LocalAddr().String()] = name
	}
	norm := func(line string) string {
		if !monitorTS.MatchString(line) {
			return line
		}
		line = monitorTS.ReplaceAllString(line, "+TS ")
		for addr, name := range peers {
			line = strings.Replace(line, " "+addr+"] ", " "+name+"] ", 1)
		}
		return line
	}
	do := func(c *respConn, name string, args ...string) string {
		r := c.Do(args...)
		out = append(out, fmt.Sprintf("%s %q -> %q", name, args, norm(r)))
		return r
	}
	// quiet runs a command whose reply differs between servers (ids, lists)
	quiet := func(c *respConn, args ...string) { c.Do(args...) }
	// drain reads each monitor's lines up to the line of `ECHO <mark>`
	n := 0
	drain := func() {
		n++
		mark := fmt.Sprintf("mark%d", n)
		cli.Do("ECHO", mark)
		for i, m := range []*respConn{mon, mon3} {
			name := []string{"mon", "mon3"}[i]
			var lines []string
			for {
				r, err := m.TryReply()
				if err != nil {
					t.Errorf("%s: %s: %v after %q", addr, name, err, lines)
					return
				}
				lines = append(lines, norm(r))
				if strings.Contains(r, `"ECHO" "`+mark+`"`) {
					break
				}
				if len(lines) > 200 {
					t.Fatalf("%s: %s: no mark after %q", addr, name, lines)
				}
			}
			out = append(out, fmt.Sprintf("%s: %q", name, lines))
		}
	}
	do(mon3, "mon3", "HELLO", "3")
	out = out[:0] // HELLO's map names the server
	do(mon, "mon", "MONITOR")
	do(mon3, "mon3", "MONITOR")
	drain()

	do(cli, "cli", "SET", "foo", "bar")
	do(cli, "cli", "GET", "foo")
	do(cli, "cli", "SET", "bin", "a\"b\\c\r\n\t\a\bd\x00\x7f\xff é")
	do(cli, "cli", "SELECT", "3")
	do(cli, "cli", "INCR", "n")
	do(cli, "cli", "SELECT", "0")
	do(cli, "cli", "NOSUCHCOMMAND", "x") // rejected: never shown
	do(cli, "cli", "GET")                // wrong arity: never shown
	do(cli, "cli", "SET", "k", "v", "BADOPT")
	drain()

	// passwords are redacted; admin commands are not shown
	do(cli2, "cli2", "AUTH", "not-real")
	do(cli2, "cli2", "AUTH", "user", "not-a-password")
	do(cli2, "cli2", "HELLO", "2", "AUTH", "user", "pass")
	do(cli2, "cli2", "CONFIG", "GET", "maxmemory")
	quiet(cli2, "CLIENT", "LIST")
	quiet(cli2, "CLIENT", "ID")
	do(cli2, "cli2", "CLIENT", "SETNAME", "x")
	do(cli2, "cli2", "DEBUG", "SLEEP", "0")
	do(cli2, "cli2", "SLOWLOG", "LEN")
	drain()

	// transactions: MULTI, the queued commands as EXEC runs them, EXEC
	do(cli, "cli", "MULTI")
	do(cli, "cli", "SET", "a", "1")
	do(cli, "cli", "INCR", "a")
	do(cli, "cli", "EXEC")
	do(cli, "cli", "MULTI")
	do(cli, "cli", "SYNTAX", "error")
	do(cli, "cli", "EXEC")
	do(cli, "cli", "MULTI")
	do(cli, "cli", "DISCARD")
	do(cli, "cli", "EXEC")
	drain()

	// scripts: EVAL first, then its commands as "lua"
	do(cli, "cli", "EVAL", "redis.call('set',KEYS[1],ARGV[1]) return redis.call('get',KEYS[1])", "1", "foo", "bar")
	do(cli, "cli", "EVAL", "return redis.call('incrby','n',5)", "0")
	do(cli, "cli", "EVAL", "return 1", "x")
	do(cli, "cli", "EVALSHA", "0000000000000000000000000000000000000000", "0")
	do(cli, "cli", "FUNCTION", "LOAD", "REPLACE", "#!lua name=mon\nredis.register_function('f', function(keys, args) return redis.call('set', keys[1], args[1]) end)")
	do(cli, "cli", "FCALL", "f", "1", "fk", "fv")
	do(cli, "cli", "FCALL", "nosuchfunction", "0")
	do(cli, "cli", "FUNCTION", "DELETE", "mon")
	drain()

	// a blocking command shows once, when it blocks
	do(cli, "cli", "BLPOP", "nolist", "0.01")
	drain()

	// the monitor itself: its own commands are shown, the keyspace is
	// refused to it, a second MONITOR is ignored without a reply
	do(mon, "mon", "PING")
	// the PING's own line, before the next reply (connections run in
	// parallel in lux: wait for it before another connection's command)
	out = append(out, "mon: "+norm(mon.Reply()))
	do(mon, "mon", "GET", "foo")
	mon.Send("MONITOR")
	drain()
	mon3.Send("RESET")
	var resetLines []string
	for {
		r := mon3.Reply()
		resetLines = append(resetLines, norm(r))
		if !monitorTS.MatchString(r) {
			break
		}
	}
	out = append(out, fmt.Sprintf("mon3 RESET: %q", resetLines))
	do(cli, "cli", "SET", "after", "reset")
	do(mon3, "mon3", "PING")
	cli.Do("ECHO", "last")
	for {
		r := mon.Reply()
		out = append(out, "mon: "+norm(r))
		if strings.Contains(r, `"last"`) {
			break
		}
	}
	if mon3.pending(100 * time.Millisecond) {
		t.Errorf("%s: a monitor got a line after RESET", addr)
	}
	return out
}

// TestMonitorDiff compares the MONITOR scenario on Redis and lux.
func TestMonitorDiff(t *testing.T) {
	red := startRedis(t)
	lux := startLux(t, "--persistence=false")
	want := monitorScenario(t, red.Addr)
	got := monitorScenario(t, lux.Addr)
	n := max(len(want), len(got))
	for i := 0; i < n; i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Errorf("transcript line %d:\n  redis: %s\n  lux:   %s", i, w, g)
		}
	}
	if !lux.Alive() {
		t.Fatalf("lux died")
	}
}
