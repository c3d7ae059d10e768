package main

// Cross-compatibility of DUMP and RESTORE with the real Redis 7.0: values of
// every type and size class are built on both servers with the same
// commands; Redis's payload is restored into lux and lux's into Redis, and
// the restored contents (and encodings) must equal the originals. Where lux
// writes the same encodings as Redis, the DUMP replies must be identical.

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
)

type dumpCase struct {
	name      string
	identical bool       // DUMP replies must be byte-identical
	cmds      [][]string // build key "k"
}

func dumpCases() []dumpCase {
	var cs []dumpCase
	add := func(name string, identical bool, cmds ...[]string) {
		cs = append(cs, dumpCase{name, identical, cmds})
	}
	for _, v := range []string{"", "hello", "0", "1", "-1", "127", "-128", "128", "-129", "32767",
		"-32768", "32768", "-32769", "2147483647", "-2147483648", "2147483648", "-2147483649",
		"9223372036854775807", "-9223372036854775808", "9223372036854775808", "007", "+5", "-0",
		"12345678901", "1.5", " 1", strings.Repeat("a", 20), strings.Repeat("a", 21),
		"abcdefghijklmnopqrstuvwxyz0123456789", strings.Repeat("abc", 100),
		strings.Repeat("0123456789", 1000), pseudoRandom(5000, 1)} {
		add("string "+strconv.Quote(abbrev(v)), true, []string{"SET", "k", v})
	}
	add("string appended", true, []string{"SET", "k", "12"}, []string{"APPEND", "k", "3"})
	ints := []string{"RPUSH", "k", "0", "127", "128", "-1", "-4096", "4095", "-4097", "4096", "32767",
		"-32768", "32768", "8388607", "-8388608", "8388608", "2147483647", "-2147483649",
		"9223372036854775807", "-9223372036854775808", "00", "-0", "1e3", "x"}
	add("list ints", true, ints)
	add("list small", true, []string{"RPUSH", "k", "a", "", "bb", strings.Repeat("z", 63), strings.Repeat("y", 64),
		strings.Repeat("w", 4095), strings.Repeat("v", 4096)})
	add("list lpush", true, []string{"LPUSH", "k", "a", "b", "c", "1", "2"})
	var many []string
	for i := 0; i < 3000; i++ {
		many = append(many, fmt.Sprintf("element-%06d", i))
	}
	add("list multi-node", true, append([]string{"RPUSH", "k"}, many...))
	add("list big elements", true, []string{"RPUSH", "k", "a", pseudoRandom(10000, 2), "b", strings.Repeat("q", 9000), "c"})
	add("list 70000 small", true, append([]string{"RPUSH", "k"}, repeatN("1", 70000)...))
	add("set intset16", true, []string{"SADD", "k", "3", "1", "2", "-5"})
	add("set intset32", true, []string{"SADD", "k", "3", "100000", "-100000"})
	add("set intset64", true, []string{"SADD", "k", "3", "10000000000"})
	var setInts []string
	for i := 0; i < 400; i++ {
		setInts = append(setInts, strconv.Itoa(i*7))
	}
	add("set intset big", true, append([]string{"SADD", "k"}, setInts...))
	var setMore []string
	for i := 0; i < 600; i++ {
		setMore = append(setMore, strconv.Itoa(i))
	}
	add("set over intset limit", false, append([]string{"SADD", "k"}, setMore...))
	add("set strings", false, []string{"SADD", "k", "a", "b", "1", strings.Repeat("x", 100)})
	add("zset listpack", true, []string{"ZADD", "k", "1", "a", "2.5", "b", "-3", "c", "inf", "d", "-inf", "e",
		"0.1", "f", "1e300", "g", "-0", "h", "4611686018427387904", "i", "123456789012", "j", "1", "100"})
	var zmany []string
	for i := 0; i < 200; i++ {
		zmany = append(zmany, strconv.FormatFloat(float64(i)/3, 'g', -1, 64), fmt.Sprintf("m%d", i))
	}
	add("zset skiplist", true, append([]string{"ZADD", "k"}, zmany...))
	add("zset long member", true, []string{"ZADD", "k", "1", strings.Repeat("m", 65), "2", "b", "-0", "z"})
	add("hash listpack", true, []string{"HSET", "k", "f1", "v1", "2", "20", "f3", "", "", "empty", "big", strings.Repeat("x", 60)})
	add("hash listpack updated", true, []string{"HSET", "k", "a", "1", "b", "2", "c", "3"}, []string{"HSET", "k", "a", "x"}, []string{"HDEL", "k", "b"})
	add("hash long value", false, []string{"HSET", "k", "f", strings.Repeat("v", 65), "g", "1"})
	var hmany []string
	for i := 0; i < 600; i++ { // over Redis's hash-max-listpack-entries 512
		hmany = append(hmany, fmt.Sprintf("f%d", i), strconv.Itoa(i*i))
	}
	add("hash hashtable", false, append([]string{"HSET", "k"}, hmany...))
	return cs
}

func repeatN(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func abbrev(s string) string {
	if len(s) > 24 {
		return fmt.Sprintf("%s...(%d bytes)", s[:12], len(s))
	}
	return s
}

// pseudoRandom is n deterministic bytes that LZF cannot shrink much.
func pseudoRandom(n int, seed uint32) string {
	b := make([]byte, n)
	x := seed*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return string(b)
}

// bulkOf extracts a bulk string reply.
func bulkOf(t *testing.T, raw string) (string, bool) {
	t.Helper()
	v, _, err := parseReply([]byte(raw))
	if err != nil {
		t.Fatalf("bad reply %q", raw)
	}
	if v.kind != '$' {
		t.Fatalf("not a bulk reply: %q", abbrev(raw))
	}
	return v.str, !v.null
}

// contentOf renders key's value (type, elements, encoding) for comparison.
func contentOf(t *testing.T, c *respConn, key string) string {
	t.Helper()
	typ := strings.TrimSpace(strings.TrimPrefix(c.Do("TYPE", key), "+"))
	var parts []string
	collect := func(raw string) []string {
		v, _, err := parseReply([]byte(raw))
		if err != nil {
			t.Fatalf("bad reply %q", raw)
		}
		var out []string
		for _, e := range v.elems {
			out = append(out, e.str)
		}
		return out
	}
	switch typ {
	case "string":
		s, _ := bulkOf(t, c.Do("GET", key))
		parts = []string{s}
	case "list":
		parts = collect(c.Do("LRANGE", key, "0", "-1"))
	case "set":
		parts = collect(c.Do("SMEMBERS", key))
		sort.Strings(parts)
	case "zset":
		parts = collect(c.Do("ZRANGE", key, "0", "-1", "WITHSCORES"))
	case "hash":
		kv := collect(c.Do("HGETALL", key))
		for i := 0; i+1 < len(kv); i += 2 {
			parts = append(parts, kv[i]+"="+kv[i+1])
		}
		sort.Strings(parts)
	}
	enc, _ := bulkOf(t, c.Do("OBJECT", "ENCODING", key))
	return fmt.Sprintf("%s/%s/%d:%q", typ, enc, len(parts), parts)
}

func TestDumpRestoreCompat(t *testing.T) {
	redis := startRedis(t)
	lux := startLux(t, "--persistence=false")
	rc := dialRESP(t, redis.Addr)
	lc := dialRESP(t, lux.Addr)
	for _, tc := range dumpCases() {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range []*respConn{rc, lc} {
				c.Do("FLUSHALL")
				for _, cmd := range tc.cmds {
					if r := c.Do(cmd...); strings.HasPrefix(r, "-") {
						t.Fatalf("%v: %s", cmd[0], r)
					}
				}
			}
			want := contentOf(t, rc, "k")
			if got := contentOf(t, lc, "k"); got != want {
				t.Fatalf("values differ before DUMP:\nredis %s\nlux   %s", abbrev(want), abbrev(got))
			}
			rp, _ := bulkOf(t, rc.Do("DUMP", "k"))
			lp, _ := bulkOf(t, lc.Do("DUMP", "k"))
			if tc.identical && rp != lp {
				t.Errorf("DUMP differs:\nredis %x\nlux   %x", abbrev(rp), abbrev(lp))
			}
			// what Redis makes of its own payload (a string grown by APPEND
			// comes back int-encoded, for one)
			if r := rc.Do("RESTORE", "r2r", "0", rp); r != "+OK\r\n" {
				t.Fatalf("Redis RESTORE of its own payload: %s", r)
			}
			want = contentOf(t, rc, "r2r")
			// Redis's payload into lux, lux's into Redis
			if r := lc.Do("RESTORE", "r2l", "0", rp); r != "+OK\r\n" {
				t.Fatalf("lux RESTORE of Redis's payload: %s", r)
			}
			if r := rc.Do("RESTORE", "l2r", "0", lp); r != "+OK\r\n" {
				t.Fatalf("Redis RESTORE of lux's payload: %s", r)
			}
			if got := contentOf(t, lc, "r2l"); got != want {
				t.Errorf("restored into lux:\nwant %s\ngot  %s", abbrev(want), abbrev(got))
			}
			if got := contentOf(t, rc, "l2r"); got != want {
				t.Errorf("restored into Redis:\nwant %s\ngot  %s", abbrev(want), abbrev(got))
			}
			// and back: lux's DUMP of what it restored still restores on Redis
			lp2, _ := bulkOf(t, lc.Do("DUMP", "r2l"))
			if r := rc.Do("RESTORE", "back", "0", lp2, "REPLACE"); r != "+OK\r\n" {
				t.Fatalf("Redis RESTORE of lux's re-DUMP: %s", r)
			}
			if got := contentOf(t, rc, "back"); got != want {
				t.Errorf("round trip Redis -> lux -> Redis:\nwant %s\ngot  %s", abbrev(want), abbrev(got))
			}
		})
	}
}

// TestDumpRestoreCompressedList restores into lux lists Redis dumped with
// compressed quicklist nodes (list-compress-depth 1) and with plain LZF
// strings inside them.
func TestDumpRestoreCompressedList(t *testing.T) {
	redis := startRedis(t)
	lux := startLux(t, "--persistence=false")
	rc := dialRESP(t, redis.Addr)
	lc := dialRESP(t, lux.Addr)
	rc.Do("CONFIG", "SET", "list-compress-depth", "1")
	var els []string
	for i := 0; i < 4000; i++ {
		els = append(els, fmt.Sprintf("item:%d:%s", i, strings.Repeat("x", i%50)))
	}
	rc.Do(append([]string{"RPUSH", "k"}, els...)...)
	rc.Do("RPUSH", "k", strings.Repeat("ab", 20000))
	want := contentOf(t, rc, "k")
	rp, _ := bulkOf(t, rc.Do("DUMP", "k"))
	if r := lc.Do("RESTORE", "k", "0", rp); r != "+OK\r\n" {
		t.Fatalf("RESTORE: %s", r)
	}
	if got := contentOf(t, lc, "k"); got != want {
		t.Fatalf("restored list differs:\nwant %s\ngot  %s", abbrev(want), abbrev(got))
	}
}

// TestMigrateCompat moves keys lux -> Redis, Redis -> lux (Redis's own
// MIGRATE talking to lux) and lux -> lux.
func TestMigrateCompat(t *testing.T) {
	redis := startRedis(t)
	lux1 := startLux(t, "--persistence=false")
	lux2 := startLux(t, "--persistence=false")
	rc, l1, l2 := dialRESP(t, redis.Addr), dialRESP(t, lux1.Addr), dialRESP(t, lux2.Addr)
	build := func(c *respConn) {
		c.Do("FLUSHALL")
		c.Do("SET", "s", strings.Repeat("value", 10))
		c.Do("RPUSH", "l", "a", "1", "b")
		c.Do("HSET", "h", "f", "v")
		c.Do("ZADD", "z", "1.5", "m")
		c.Do("SADD", "st", "1", "2")
		c.Do("PEXPIRE", "s", "100000")
	}
	keys := []string{"s", "l", "h", "z", "st"}
	for _, tc := range []struct {
		name     string
		src, dst *respConn
		dstProc  *proc
	}{
		{"lux to redis", l1, rc, &redis.proc},
		{"redis to lux", rc, l1, &lux1.proc},
		{"lux to lux", l1, l2, &lux2.proc},
	} {
		t.Run(tc.name, func(t *testing.T) {
			build(tc.src)
			tc.dst.Do("FLUSHALL")
			var want []string
			for _, k := range keys {
				want = append(want, contentOf(t, tc.src, k))
			}
			host, port, _ := strings.Cut(tc.dstProc.Addr, ":")
			args := append([]string{"MIGRATE", host, port, "", "0", "5000", "KEYS"}, keys...)
			if r := tc.src.Do(args...); r != "+OK\r\n" {
				t.Fatalf("MIGRATE: %s", r)
			}
			if r := tc.src.Do("DBSIZE"); r != ":0\r\n" {
				t.Fatalf("source keeps keys: %s", r)
			}
			for i, k := range keys {
				if got := contentOf(t, tc.dst, k); got != want[i] {
					t.Errorf("%s: want %s got %s", k, want[i], got)
				}
			}
			if r := tc.dst.Do("PTTL", "s"); !strings.HasPrefix(r, ":9") && r != ":100000\r\n" {
				t.Errorf("TTL not carried: %s", r)
			}
			// an existing key on the target: its error comes back
			build(tc.src)
			r := tc.src.Do("MIGRATE", host, port, "l", "0", "5000")
			if r != "-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n" {
				t.Errorf("BUSYKEY: %q", r)
			}
			if r := tc.src.Do("MIGRATE", host, port, "l", "0", "5000", "REPLACE", "COPY"); r != "+OK\r\n" {
				t.Errorf("REPLACE COPY: %q", r)
			}
		})
	}
}
