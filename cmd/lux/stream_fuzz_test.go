package main

// Random stream commands, hostile arguments included, sent to redis-server
// and to lux from the same state: every reply must be the same bytes (times
// of delivery and idle times normalized).

import (
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"
)

func TestStreamRandomDiff(t *testing.T) {
	red := startRedis(t)
	lux := startLux(t, "--persistence=false")
	rc, lc := dialRESP(t, red.Addr), dialRESP(t, lux.Addr)
	reset := func() {
		for _, c := range []*respConn{rc, lc} {
			c.Do("FLUSHALL")
			for i := 1; i < 12; i++ {
				c.Do("XADD", "s", strconv.Itoa(i)+"-0", "a", strconv.Itoa(i), "b", "x")
			}
			c.Do("XGROUP", "CREATE", "s", "g", "0")
			c.Do("XGROUP", "CREATE", "s", "h", "5")
			c.Do("XREADGROUP", "GROUP", "g", "c", "COUNT", "4", "STREAMS", "s", ">")
			c.Do("XREADGROUP", "GROUP", "g", "d", "COUNT", "3", "STREAMS", "s", ">")
			c.Do("SET", "str", "v")
		}
	}
	reset()
	words := []string{"s", "str", "nokey", "g", "h", "c", "d", "e", "$", ">", "-", "+", "(", "(3-0", "(0-0", "0-0", "1-0",
		"2-0", "3-0", "5-0", "7", "12-0", "1-*", "-1", "0", "1", "2", "10", "100",
		"18446744073709551615-18446744073709551615", "9223372036854775807", "-9223372036854775808", "MAXLEN", "MINID",
		"~", "=", "LIMIT", "NOMKSTREAM", "COUNT", "STREAMS", "GROUP", "NOACK", "IDLE", "RETRYCOUNT", "FORCE", "JUSTID",
		"LASTID", "ENTRIESADDED", "MAXDELETEDID", "MKSTREAM", "ENTRIESREAD", "FULL", "CREATE", "SETID", "DESTROY",
		"CREATECONSUMER", "DELCONSUMER", "STREAM", "GROUPS", "HELP", "", "x", "TIME"}
	cmds := []string{"XADD", "XRANGE", "XREVRANGE", "XLEN", "XDEL", "XTRIM", "XSETID", "XREAD", "XREADGROUP", "XACK",
		"XPENDING", "XCLAIM", "XAUTOCLAIM", "XGROUP", "XINFO"}
	times := regexp.MustCompile(`:1\d{12}\r\n`)
	idle := regexp.MustCompile(`:\d\r\n:`)
	rng := rand.New(rand.NewPCG(11, 13))
	bad := 0
	for i := 0; i < 10000; i++ {
		c := cmds[rng.IntN(len(cmds))]
		args := []string{c}
		for n := rng.IntN(9); n > 0; n-- {
			args = append(args, words[rng.IntN(len(words))])
		}
		if c == "XINFO" && len(args) > 1 && args[1] == "CONSUMERS" {
			continue // idle times
		}
		want, got := rc.Do(args...), lc.Do(args...)
		if c == "XPENDING" || c == "XINFO" || c == "XCLAIM" || c == "XAUTOCLAIM" {
			want, got = times.ReplaceAllString(want, ":T\r\n"), times.ReplaceAllString(got, ":T\r\n")
			if c == "XPENDING" {
				want, got = idle.ReplaceAllString(want, ":I\r\n:"), idle.ReplaceAllString(got, ":I\r\n:")
			}
		}
		if want != got {
			bad++
			if bad <= 10 {
				t.Errorf("%q:\n redis %q\n lux   %q", args, want, got)
			}
			reset()
		}
		if i%1000 == 999 {
			reset()
		}
	}
}
