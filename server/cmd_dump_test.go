package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luxdb/lux-go/storage"
	"github.com/stretchr/testify/require"
)

func TestCRC64Jones(t *testing.T) {
	// crc64.c's test vector
	require.Equal(t, uint64(0xe9c6d914c4b8d9ca), crc64Jones(0, []byte("123456789")))
}

func TestLZFRoundTrip(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 5, 21, 33, 100, 264, 300, 1000, 8191, 70000} {
		for _, kind := range []string{"same", "text", "random"} {
			in := make([]byte, n)
			for i := range in {
				switch kind {
				case "same":
					in[i] = 'a'
				case "text":
					in[i] = "lorem ipsum dolor sit amet "[i%27] + byte(i/997)
				default:
					in[i] = byte(rnd.Uint32())
				}
			}
			c := lzfCompress(in, n+n/16+64)
			require.NotNil(t, c, "%s %d", kind, n)
			out, ok := lzfDecompress(c, uint64(n))
			require.True(t, ok, "%s %d", kind, n)
			require.Equal(t, in, out, "%s %d", kind, n)
			_, ok = lzfDecompress(c, uint64(n+1))
			require.False(t, ok, "a wrong length is refused")
			if kind == "same" && n > 20 {
				require.NotNil(t, lzfCompress(in, n-4), "compressible within len-4")
			}
			if kind == "random" && n > 20 {
				require.Nil(t, lzfCompress(in, n-4), "random data does not shrink by 4")
			}
		}
	}
	// forged headers: back reference before the start, truncated input
	_, ok := lzfDecompress([]byte{0x20, 0x00}, 3)
	require.False(t, ok)
	_, ok = lzfDecompress([]byte{0x05, 'a'}, 6)
	require.False(t, ok)
	_, ok = lzfDecompress([]byte{0x00, 'a'}, 1<<40)
	require.False(t, ok, "an impossible expansion is refused before allocating")
}

// payload wraps an object's bytes with the version and CRC footer.
func payload(body ...byte) string { return string(finishDumpPayload(body)) }

// rdbStr is a length-prefixed RDB string.
func rdbStr(s string) []byte {
	w := &rdbWriter{}
	w.length(uint64(len(s)))
	return append(w.b, s...)
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestRestoreErrors(t *testing.T) {
	good := payload(cat([]byte{rdbTypeString}, rdbStr("v"))...)
	badCRC := []byte(good)
	badCRC[len(badCRC)-1] ^= 1
	v11 := []byte(good)
	v11[len(v11)-10] = 11
	runKeysSteps(t, []keysStep{
		{kc("RESTORE", "k", "0"), "-ERR wrong number of arguments for 'restore' command\r\n"},
		{kc("DUMP", "nokey"), rNil},
		{kc("RESTORE", "k", "0", good), rOK},
		{kc("GET", "k"), "$1\r\nv\r\n"},
		{kc("RESTORE", "k", "0", good), "-BUSYKEY Target key name already exists.\r\n"},
		// options are checked first, then the key, then the TTL, then the payload
		{kc("RESTORE", "k", "0", good, "bogus"), "-ERR syntax error\r\n"},
		{kc("RESTORE", "k", "0", good, "IDLETIME"), "-ERR syntax error\r\n"},
		{kc("RESTORE", "k", "0", good, "IDLETIME", "x"), "-ERR value is not an integer or out of range\r\n"},
		{kc("RESTORE", "k", "0", good, "IDLETIME", "-1"), "-ERR Invalid IDLETIME value, must be >= 0\r\n"},
		{kc("RESTORE", "k", "0", good, "FREQ", "256"), "-ERR Invalid FREQ value, must be >= 0 and <= 255\r\n"},
		{kc("RESTORE", "k", "0", good, "FREQ", "-1"), "-ERR Invalid FREQ value, must be >= 0 and <= 255\r\n"},
		{kc("RESTORE", "k", "0", good, "IDLETIME", "1", "FREQ", "1"), "-ERR syntax error\r\n"},
		{kc("RESTORE", "k", "0", good, "FREQ", "1", "IDLETIME", "1"), "-ERR syntax error\r\n"},
		{kc("RESTORE", "k", "x", good), "-BUSYKEY Target key name already exists.\r\n"},
		{kc("RESTORE", "k2", "x", good), "-ERR value is not an integer or out of range\r\n"},
		{kc("RESTORE", "k2", "-1", good), "-ERR Invalid TTL value, must be >= 0\r\n"},
		{kc("RESTORE", "k2", "0", "short"), "-ERR DUMP payload version or checksum are wrong\r\n"},
		{kc("RESTORE", "k2", "0", string(badCRC)), "-ERR DUMP payload version or checksum are wrong\r\n"},
		{kc("RESTORE", "k2", "0", string(v11)), "-ERR DUMP payload version or checksum are wrong\r\n"},
		{kc("RESTORE", "k2", "0", payload(15, 0)), "-ERR Bad data format\r\n"},
		{kc("RESTORE", "k2", "0", payload(rdbTypeList, 0)), "-ERR Bad data format\r\n"},
		// a string may run into the footer, as Redis reads it, but not past it
		{kc("RESTORE", "k2", "0", payload(rdbTypeString, 0x05, 'a')), rOK},
		{kc("DEL", "k2"), rOne},
		{kc("RESTORE", "k2", "0", payload(rdbTypeString, 0x3f, 'a')), "-ERR Bad data format\r\n"},
		{kc("RESTORE", "k2", "0", payload(cat([]byte{rdbTypeSet, 2}, rdbStr("a"), rdbStr("a"))...)), "-ERR Bad data format\r\n"},
		{kc("RESTORE", "k2", "0", payload(cat([]byte{rdbTypeZSet, 1}, rdbStr("a"), []byte{253})...)), "-ERR Bad data format\r\n"},
		{kc("RESTORE", "k2", "0", payload(cat([]byte{rdbTypeHash, 2}, rdbStr("a"), rdbStr("1"), rdbStr("a"), rdbStr("2"))...)), "-ERR Bad data format\r\n"},
		{kc("EXISTS", "k2"), rZero},
		{kc("RESTORE", "k", "0", good, "REPLACE", "ABSTTL", "IDLETIME", "5"), rOK},
		// a payload may carry an older RDB version
		{kc("RESTORE", "k3", "0", string(func() []byte { b := []byte(good); b[len(b)-10] = 7; return finishDumpPayload(b[:len(b)-10]) }())), rOK},
	})
}

// restoreRaw is a raw RESTORE of payload p under key.
func restoreRaw(r *rawConn, key string, p string, opts ...string) string {
	return r.do(append([]string{"RESTORE", key, "0", p}, opts...)...)
}

func TestRestoreTTLAndAccess(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, rOK, r.do("SET", "src", "value"))
	p := r.do("DUMP", "src")
	p = p[strings.Index(p, "\r\n")+2 : len(p)-2]

	require.Equal(t, rOK, r.do("RESTORE", "a", "3000", p))
	pttl, _ := strconv.Atoi(strings.Trim(r.do("PTTL", "a"), ":\r\n"))
	require.True(t, pttl > 2000 && pttl <= 3000, "pttl %d", pttl)

	require.Equal(t, rOK, r.do("RESTORE", "b", "2569591501000", p))
	pttl, _ = strconv.Atoi(strings.Trim(r.do("PTTL", "b"), ":\r\n"))
	require.True(t, pttl > 2569591501000-3000 && pttl <= 2569591501000, "pttl %d", pttl)

	at := time.Now().UnixMilli() + 5000
	require.Equal(t, rOK, r.do("RESTORE", "c", strconv.FormatInt(at, 10), p, "ABSTTL"))
	require.Equal(t, fmt.Sprintf(":%d\r\n", at), r.do("PEXPIRETIME", "c"))

	// an absolute deadline already past: nothing is created, and with
	// REPLACE the old value is deleted
	require.Equal(t, rOK, r.do("RESTORE", "d", "1000", p, "ABSTTL"))
	require.Equal(t, rZero, r.do("EXISTS", "d"))
	require.Equal(t, rOK, r.do("SET", "e", "old"))
	require.Equal(t, rOK, r.do("RESTORE", "e", "1000", p, "ABSTTL", "REPLACE"))
	require.Equal(t, rZero, r.do("EXISTS", "e"))

	// REPLACE over another type, and the deadline goes with the old value
	require.Equal(t, ":3\r\n", r.do("RPUSH", "f", "1", "2", "3"))
	require.Equal(t, rOne, r.do("EXPIRE", "f", "100"))
	require.Equal(t, rOK, r.do("RESTORE", "f", "0", p, "REPLACE"))
	require.Equal(t, "$5\r\nvalue\r\n", r.do("GET", "f"))
	require.Equal(t, ":-1\r\n", r.do("TTL", "f"))

	require.Equal(t, rOK, r.do("RESTORE", "g", "0", p, "IDLETIME", "1000"))
	idle, _ := strconv.Atoi(strings.Trim(r.do("OBJECT", "IDLETIME", "g"), ":\r\n"))
	require.True(t, idle >= 1000 && idle < 1010, "idle %d", idle)

	require.Equal(t, rOK, r.do("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"))
	defer r.do("CONFIG", "SET", "maxmemory-policy", "noeviction")
	require.Equal(t, rOK, r.do("RESTORE", "h", "0", p, "FREQ", "100"))
	require.Equal(t, ":100\r\n", r.do("OBJECT", "FREQ", "h"))
}

func TestRestoreNotifications(t *testing.T) {
	_, r, sub := notifyServer(t, "KEA")
	require.Equal(t, rOK, r.do("SET", "src", "v"))
	for range 2 {
		sub.reply()
	}
	p := r.do("DUMP", "src")
	p = p[strings.Index(p, "\r\n")+2 : len(p)-2]
	require.Equal(t, rOK, r.do("RESTORE", "k", "0", p))
	require.Equal(t, both("0", "k", "restore"), []string{sub.reply(), sub.reply()})
	// REPLACE: only "restore", as Redis (its dbDelete notifies nothing)
	require.Equal(t, rOK, r.do("RESTORE", "k", "0", p, "REPLACE"))
	require.Equal(t, both("0", "k", "restore"), []string{sub.reply(), sub.reply()})
	// an expired ABSTTL with REPLACE deletes: "del"
	require.Equal(t, rOK, r.do("RESTORE", "k", "1", p, "REPLACE", "ABSTTL"))
	require.Equal(t, both("0", "k", "del"), []string{sub.reply(), sub.reply()})
	// without a key to delete, nothing
	require.Equal(t, rOK, r.do("RESTORE", "k", "1", p, "ABSTTL"))
	requireNoMoreFrames(t, r, sub, keyspaceFrame("0", "__marker", "set"))
}

// contents renders a key's value for comparisons.
func contents(t *testing.T, ts *testServer, key string) string {
	t.Helper()
	ctx := context.Background()
	c := ts.client(t)
	typ := c.Type(ctx, key).Val()
	enc := c.ObjectEncoding(ctx, key).Val()
	var parts []string
	switch typ {
	case "string":
		parts = []string{c.Get(ctx, key).Val()}
	case "list":
		parts = c.LRange(ctx, key, 0, -1).Val()
	case "set":
		parts = c.SMembers(ctx, key).Val()
		sort.Strings(parts)
	case "zset":
		for _, z := range c.ZRangeWithScores(ctx, key, 0, -1).Val() {
			parts = append(parts, fmt.Sprintf("%v=%s", z.Member, strconv.FormatFloat(z.Score, 'g', -1, 64)))
		}
	case "hash":
		for f, v := range c.HGetAll(ctx, key).Val() {
			parts = append(parts, f+"="+v)
		}
		sort.Strings(parts)
	}
	return fmt.Sprintf("%s/%s/%d:%q", typ, enc, len(parts), parts)
}

func TestDumpRestoreRoundTrip(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	var big []string
	for i := 0; i < 3000; i++ {
		big = append(big, fmt.Sprintf("element-%d", i))
	}
	var ints []string
	for i := -300; i < 300; i++ {
		ints = append(ints, strconv.Itoa(i*1000))
	}
	var zbig, hbig []string
	for i := 0; i < 300; i++ {
		zbig = append(zbig, strconv.FormatFloat(float64(i)*1.5-100, 'g', -1, 64), fmt.Sprintf("m%d", i))
		hbig = append(hbig, fmt.Sprintf("f%d", i), strings.Repeat("v", i%80))
	}
	cases := map[string][]string{
		"empty":      {"SET", "k", ""},
		"short":      {"SET", "k", "abc"},
		"int8":       {"SET", "k", "-128"},
		"int8+":      {"SET", "k", "127"},
		"int16":      {"SET", "k", "-32768"},
		"int16+":     {"SET", "k", "32767"},
		"int32":      {"SET", "k", "-2147483648"},
		"int32+":     {"SET", "k", "2147483647"},
		"int64":      {"SET", "k", "2147483648"},
		"notint":     {"SET", "k", "0123"},
		"lzf":        {"SET", "k", strings.Repeat("a", 21)},
		"big":        {"SET", "k", strings.Repeat("0123456789abcdef", 100000)},
		"binary":     {"SET", "k", "\x00\xff\r\n"},
		"list":       {"RPUSH", "k", "a", "1", "-1", "", "9223372036854775807", strings.Repeat("x", 5000)},
		"list big":   append([]string{"RPUSH", "k"}, big...),
		"set intset": {"SADD", "k", "1", "2", "-3", "9223372036854775807"},
		"set ht":     {"SADD", "k", "a", "b", "1"},
		"set big":    append([]string{"SADD", "k"}, ints...),
		"zset":       {"ZADD", "k", "1", "a", "-2.5", "b", "inf", "c", "-inf", "d", "0", "e"},
		"zset big":   append([]string{"ZADD", "k"}, zbig...),
		"zset -0":    append(append([]string{"ZADD", "k"}, zbig...), "-0", "neg"),
		"hash":       {"HSET", "k", "a", "1", "b", "", "", "x"},
		"hash big":   append([]string{"HSET", "k"}, hbig...),
		"hash long":  {"HSET", "k", "a", strings.Repeat("z", 100)},
	}
	for name, cmd := range cases {
		t.Run(name, func(t *testing.T) {
			r.do("DEL", "k", "k2")
			require.NotContains(t, r.do(cmd...), "-ERR")
			want := contents(t, ts, "k")
			p := r.do("DUMP", "k")
			p = p[strings.Index(p, "\r\n")+2 : len(p)-2]
			require.Equal(t, rOK, r.do("RESTORE", "k2", "0", p))
			require.Equal(t, want, contents(t, ts, "k2"))
			// the payload decodes to itself again
			p2 := r.do("DUMP", "k2")
			require.Equal(t, p, p2[strings.Index(p2, "\r\n")+2:len(p2)-2])
		})
	}
}

// ---- legacy encodings, written by hand ----

// ziplist builds a ziplist of entries (integers in their int encodings).
func ziplist(entries ...string) []byte {
	zl := make([]byte, 10)
	prev, last := 0, 10
	for _, e := range entries {
		start := len(zl)
		if prev < 254 {
			zl = append(zl, byte(prev))
		} else {
			zl = append(zl, 254)
			zl = binary.LittleEndian.AppendUint32(zl, uint32(prev))
		}
		if v, err := strconv.ParseInt(e, 10, 64); err == nil && strconv.FormatInt(v, 10) == e {
			switch {
			case v >= 0 && v <= 12:
				zl = append(zl, 0xf1+byte(v))
			case v >= math.MinInt8 && v <= math.MaxInt8:
				zl = append(zl, 0xfe, byte(v))
			case v >= math.MinInt16 && v <= math.MaxInt16:
				zl = binary.LittleEndian.AppendUint16(append(zl, 0xc0), uint16(v))
			case v >= -(1<<23) && v < 1<<23:
				zl = append(zl, 0xf0, byte(v), byte(v>>8), byte(v>>16))
			case v >= math.MinInt32 && v <= math.MaxInt32:
				zl = binary.LittleEndian.AppendUint32(append(zl, 0xd0), uint32(v))
			default:
				zl = binary.LittleEndian.AppendUint64(append(zl, 0xe0), uint64(v))
			}
		} else {
			switch n := len(e); {
			case n < 64:
				zl = append(zl, byte(n))
			case n < 16384:
				zl = append(zl, 0x40|byte(n>>8), byte(n))
			default:
				zl = binary.BigEndian.AppendUint32(append(zl, 0x80), uint32(n))
			}
			zl = append(zl, e...)
		}
		prev, last = len(zl)-start, start
	}
	zl = append(zl, 0xff)
	binary.LittleEndian.PutUint32(zl, uint32(len(zl)))
	binary.LittleEndian.PutUint32(zl[4:], uint32(last))
	binary.LittleEndian.PutUint16(zl[8:], uint16(len(entries)))
	return zl
}

func zipmap(pairs ...string) []byte {
	zm := []byte{byte(len(pairs) / 2)}
	for i := 0; i < len(pairs); i += 2 {
		zm = append(zm, byte(len(pairs[i])))
		zm = append(zm, pairs[i]...)
		zm = append(zm, byte(len(pairs[i+1])), 2) // 2 free bytes
		zm = append(zm, pairs[i+1]...)
		zm = append(zm, 0, 0)
	}
	return append(zm, 0xff)
}

func lpOf(entries ...string) []byte {
	lp := newListpack()
	for _, e := range entries {
		lp.appendString([]byte(e), nil)
	}
	return lp.b
}

func TestRestoreLegacyEncodings(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	longStr := strings.Repeat("L", 300)
	elems := []string{"a", "0", "12", "13", "-1", "127", "-128", "1000", "-40000", "8000000", "-2147483648",
		"9223372036854775807", "", longStr, strings.Repeat("B", 20000)}
	blob := func(b []byte) []byte { return rdbStr(string(b)) }
	lzf := func(b []byte) []byte {
		c := lzfCompress(b, len(b))
		require.NotNil(t, c)
		w := &rdbWriter{b: []byte{0xc3}}
		w.length(uint64(len(c)))
		w.length(uint64(len(b)))
		return append(w.b, c...)
	}
	listWant := fmt.Sprintf("list/quicklist/%d:%q", len(elems), elems)
	var oldList []byte
	for _, e := range elems {
		oldList = append(oldList, rdbStr(e)...)
	}
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"list", cat([]byte{rdbTypeList, byte(len(elems))}, oldList), listWant},
		{"list ziplist", cat([]byte{rdbTypeListZiplist}, blob(ziplist(elems...))), listWant},
		{"quicklist", cat([]byte{rdbTypeListQuicklist, 3}, blob(ziplist(elems[:5]...)), blob(ziplist()), lzf(ziplist(elems[5:]...))), listWant},
		{"quicklist2", cat([]byte{rdbTypeListQuicklist2, 3, 2}, blob(lpOf(elems[:5]...)), []byte{1}, rdbStr(elems[5]), []byte{2}, lzf(lpOf(elems[6:]...))), listWant},
		{"set", cat([]byte{rdbTypeSet, 3}, rdbStr("x"), rdbStr("1"), []byte{0xc0, 0xfe}), `set/hashtable/3:["-2" "1" "x"]`},
		{"set ints", cat([]byte{rdbTypeSet, 2}, rdbStr("5"), []byte{0xc1, 0x00, 0x80}), `set/intset/2:["-32768" "5"]`},
		{"intset", cat([]byte{rdbTypeSetIntset}, blob([]byte{4, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0})), `set/intset/2:["-1" "1"]`},
		{"zset text", cat([]byte{rdbTypeZSet, 3}, rdbStr("a"), []byte{3}, []byte("1.5"), rdbStr("b"), []byte{254}, rdbStr("c"), []byte{255}), `zset/listpack/3:["c=-Inf" "a=1.5" "b=+Inf"]`},
		{"zset2", cat([]byte{rdbTypeZSet2, 1}, rdbStr("a"), binary.LittleEndian.AppendUint64(nil, math.Float64bits(2.25))), `zset/listpack/1:["a=2.25"]`},
		{"zset ziplist", cat([]byte{rdbTypeZSetZiplist}, blob(ziplist("a", "1", "b", "2.5"))), `zset/listpack/2:["a=1" "b=2.5"]`},
		{"zset listpack", cat([]byte{rdbTypeZSetListpack}, blob(lpOf("a", "-3", "b", "0.5"))), `zset/listpack/2:["a=-3" "b=0.5"]`},
		{"hash", cat([]byte{rdbTypeHash, 2}, rdbStr("f"), rdbStr("v"), rdbStr("g"), []byte{0xc0, 7}), `hash/listpack/2:["f=v" "g=7"]`},
		{"hash zipmap", cat([]byte{rdbTypeHashZipmap}, blob(zipmap("f", "v", "name", "lux"))), `hash/listpack/2:["f=v" "name=lux"]`},
		{"hash ziplist", cat([]byte{rdbTypeHashZiplist}, blob(ziplist("f", "1", "g", "x"))), `hash/listpack/2:["f=1" "g=x"]`},
		{"hash listpack", cat([]byte{rdbTypeHashListpack}, lzf(lpOf("f", "1", "g", strings.Repeat("y", 40)))), `hash/listpack/2:["f=1" "g=` + strings.Repeat("y", 40) + `"]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, rOK, restoreRaw(r, "k", payload(tc.body...), "REPLACE"))
			require.Equal(t, tc.want, contents(t, ts, "k"))
		})
	}
}

func TestRestoreMalformed(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	good := [][]byte{
		cat([]byte{rdbTypeListZiplist}, rdbStr(string(ziplist("a", "1", "b")))),
		cat([]byte{rdbTypeHashListpack}, rdbStr(string(lpOf("f", "1", "g", "2")))),
		cat([]byte{rdbTypeSetIntset}, rdbStr(string([]byte{2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0}))),
		cat([]byte{rdbTypeHashZipmap}, rdbStr(string(zipmap("f", "v")))),
	}
	for i, g := range good {
		require.Equal(t, rOK, restoreRaw(r, "k", payload(g...), "REPLACE"), "case %d", i)
		// every truncation and every single-byte change is refused or
		// accepted, never a crash
		for cut := 1; cut < len(g); cut++ {
			rep := restoreRaw(r, "k", payload(g[:cut]...), "REPLACE")
			require.True(t, rep == rOK || rep == "-ERR Bad data format\r\n", "case %d cut %d: %q", i, cut, rep)
		}
		for pos := 0; pos < len(g); pos++ {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				b := append([]byte(nil), g...)
				b[pos] ^= x
				rep := restoreRaw(r, "k", payload(b...), "REPLACE")
				require.True(t, rep == rOK || strings.HasPrefix(rep, "-ERR Bad data format"), "case %d pos %d: %q", i, pos, rep)
			}
		}
	}
	for name, body := range map[string][]byte{
		"dup intset":      cat([]byte{rdbTypeSetIntset}, rdbStr(string([]byte{2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 1, 0}))),
		"dup hash lp":     cat([]byte{rdbTypeHashListpack}, rdbStr(string(lpOf("f", "1", "f", "2")))),
		"odd hash lp":     cat([]byte{rdbTypeHashListpack}, rdbStr(string(lpOf("f", "1", "g")))),
		"empty lp":        cat([]byte{rdbTypeHashListpack}, rdbStr(string(lpOf()))),
		"nan zset lp":     cat([]byte{rdbTypeZSetListpack}, rdbStr(string(lpOf("a", "nan")))),
		"dup zset":        cat([]byte{rdbTypeZSet2, 2}, rdbStr("a"), make([]byte, 8), rdbStr("a"), make([]byte, 8)),
		"bad container":   cat([]byte{rdbTypeListQuicklist2, 1, 3}, rdbStr("x")),
		"empty quicklist": cat([]byte{rdbTypeListQuicklist2, 1, 2}, rdbStr(string(lpOf()))),
		"huge count":      {rdbTypeList, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"huge string":     {rdbTypeString, 0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"huge lzf":        {rdbTypeString, 0xc3, 0x01, 0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00},
		"bad length byte": {rdbTypeString, 0x82},
		"bad string enc":  {rdbTypeString, 0xc4},
		"stream":          {15, 0},
		"module":          {7, 0},
		"unknown":         {200},
	} {
		require.Equal(t, "-ERR Bad data format\r\n", restoreRaw(r, "x", payload(body...)), name)
	}
	require.Equal(t, rZero, r.do("EXISTS", "x"))
}

func TestDumpPrivateTypes(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, ":1700000000000\r\n", r.do("TSADD", "ts", "1700000000000", "1"))
	require.Equal(t, "-"+msgDumpUnsupported+"\r\n", r.do("DUMP", "ts"))
}

// FuzzRestorePayload feeds arbitrary bytes to the payload decoder and the
// value builder: no panic, and memory bounded by the input (lengths are
// checked against what is left before anything is allocated).
func FuzzRestorePayload(f *testing.F) {
	seeds := [][]byte{
		{rdbTypeString, 0x01, 'a'},
		cat([]byte{rdbTypeListZiplist}, rdbStr(string(ziplist("a", "1", "-70000", strings.Repeat("z", 70))))),
		cat([]byte{rdbTypeListQuicklist2, 1, 2}, rdbStr(string(lpOf("a", "1", "-70000", "x")))),
		cat([]byte{rdbTypeHashZipmap}, rdbStr(string(zipmap("f", "v")))),
		cat([]byte{rdbTypeSetIntset}, rdbStr(string([]byte{2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0}))),
		cat([]byte{rdbTypeZSet, 1}, rdbStr("a"), []byte{3}, []byte("1.5")),
		cat([]byte{rdbTypeZSetListpack}, rdbStr(string(lpOf("a", "1")))),
		{rdbTypeString, 0xc3, 0x03, 0x06, 0x01, 'a', 'b', 0x20, 0x01},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeDumpPayload(b)
		if err != nil {
			return
		}
		if _, err := v.object(); err != nil {
			return
		}
		// an accepted value encodes again and decodes to the same elements
		obj, _ := v.object()
		e := storage.NewEntry([]byte("k"), v.str, obj)
		p, ok := encodeDumpPayload(e)
		if !ok || !verifyDumpPayload(p) {
			t.Fatalf("re-encoding failed")
		}
		v2, err := decodeDumpPayload(p)
		if err != nil {
			t.Fatalf("re-encoded payload refused: %v", err)
		}
		if len(v2.elems) != len(v.elems) || string(v2.str) != string(v.str) {
			t.Fatalf("round trip changed the value")
		}
	})
}

func TestMigrate(t *testing.T) {
	src, dst := startServer(t, ""), startServer(t, "")
	r, d := src.raw(t), dst.raw(t)
	host, port, _ := strings.Cut(dst.addr, ":")
	mig := func(args ...string) string {
		return r.do(append([]string{"MIGRATE", host, port}, args...)...)
	}
	require.Equal(t, "+NOKEY\r\n", mig("nokey", "0", "1000"))
	require.Equal(t, rOK, r.do("SET", "a", "1"))
	require.Equal(t, "-ERR syntax error\r\n", mig("a", "0", "1000", "bogus"))
	require.Equal(t, "-ERR syntax error\r\n", mig("a", "0", "1000", "AUTH"))
	require.Equal(t, "-ERR syntax error\r\n", mig("a", "0", "1000", "AUTH2", "u"))
	require.Equal(t, "-ERR When using MIGRATE KEYS option, the key argument must be set to the empty string\r\n", mig("a", "0", "1000", "KEYS", "a"))
	require.Equal(t, "-ERR value is not an integer or out of range\r\n", mig("a", "0", "x"))
	require.Equal(t, "-ERR value is not an integer or out of range\r\n", mig("a", "x", "1000"))

	// a move: gone here, there in db 3 with its TTL
	require.Equal(t, rOne, r.do("EXPIRE", "a", "100"))
	require.Equal(t, rOK, mig("a", "3", "1000"))
	require.Equal(t, rZero, r.do("EXISTS", "a"))
	require.Equal(t, rOK, d.do("SELECT", "3"))
	require.Equal(t, "$1\r\n1\r\n", d.do("GET", "a"))
	ttl, _ := strconv.Atoi(strings.Trim(d.do("TTL", "a"), ":\r\n"))
	require.True(t, ttl > 90 && ttl <= 100, "ttl %d", ttl)

	// an existing target key: BUSYKEY forwarded, nothing deleted; REPLACE
	require.Equal(t, ":3\r\n", r.do("RPUSH", "a", "x", "y", "z"))
	require.Equal(t, "-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n", mig("a", "3", "1000"))
	require.Equal(t, rOne, r.do("EXISTS", "a"))
	require.Equal(t, rOK, mig("a", "3", "1000", "REPLACE", "COPY"))
	require.Equal(t, rOne, r.do("EXISTS", "a"), "COPY keeps the key")
	require.Equal(t, "*3\r\n$1\r\nx\r\n$1\r\ny\r\n$1\r\nz\r\n", d.do("LRANGE", "a", "0", "-1"))

	// several keys, the missing ones skipped
	require.Equal(t, rOK, r.do("MSET", "k1", "v1", "k2", "v2"))
	require.Equal(t, rOK, mig("", "3", "1000", "KEYS", "k1", "nokey", "k2"))
	require.Equal(t, rZero, r.do("EXISTS", "k1", "k2"))
	require.Equal(t, "*2\r\n$2\r\nv1\r\n$2\r\nv2\r\n", d.do("MGET", "k1", "k2"))

	// AUTH: the target's error is forwarded
	require.Equal(t, rOK, d.do("CONFIG", "SET", "requirepass", "secret"))
	defer func() {
		d2 := dst.raw(t)
		d2.do("AUTH", "secret")
		d2.do("CONFIG", "SET", "requirepass", "")
	}()
	require.Equal(t, rOK, r.do("SET", "b", "2"))
	require.Contains(t, mig("b", "0", "1000", "AUTH", "wrong"), "-ERR Target instance replied with error: WRONGPASS")
	require.Equal(t, rOK, mig("b", "0", "1000", "AUTH", "secret"))
	require.Equal(t, rOK, r.do("SET", "b", "2"))
	require.Equal(t, rOK, mig("b", "0", "1000", "AUTH2", "default", "secret", "REPLACE"))

	// nothing listening: Redis's connect does not wait for the refusal, so
	// the error is its first write's (recorded from redis-server 7.0.15;
	// go-redis's "should Migrate" spec expects it). The port is read as
	// atoi reads it: "abc" is port 0. Only a host that does not resolve
	// fails while connecting.
	require.Equal(t, rOK, r.do("SET", "c", "3"))
	require.Equal(t, "-IOERR error or timeout writing to target instance\r\n", r.do("MIGRATE", "127.0.0.1", "1", "c", "0", "1000"))
	require.Equal(t, "-IOERR error or timeout writing to target instance\r\n", r.do("MIGRATE", "localhost", "1", "c", "0", "1000"))
	require.Equal(t, "-IOERR error or timeout writing to target instance\r\n", r.do("MIGRATE", "127.0.0.1", "abc", "c", "0", "1000"))
	require.Equal(t, "-IOERR error or timeout connecting to the client\r\n", r.do("MIGRATE", "nonexistent.invalid", "1", "c", "0", "1000"))
	require.Equal(t, rOne, r.do("EXISTS", "c"))
}
