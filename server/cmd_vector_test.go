package server

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// flat renders one RESP reply compactly: arrays as [a b], bulk strings as
// their text, null as nil, integers as (integer) n and errors as !text.
func flat(resp string) string {
	out, _ := flatRead(bufio.NewReader(strings.NewReader(resp)))
	return out
}

func flatRead(rd *bufio.Reader) (string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return "!" + line[1:], nil
	case ':':
		return "(integer) " + line[1:], nil
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "nil", nil
		}
		buf := make([]byte, n+2)
		if _, err := io_ReadFull(rd, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "nil", nil
		}
		parts := make([]string, n)
		for i := range parts {
			if parts[i], err = flatRead(rd); err != nil {
				return "", err
			}
		}
		return "[" + strings.Join(parts, " ") + "]", nil
	}
	return line, nil
}

// vstep is one command and its expected reply (flat form).
type vstep struct {
	cmd  []string
	want string
}

func v(want string, cmd ...string) vstep { return vstep{cmd, want} }

func runSteps(t *testing.T, r *rawConn, name string, steps []vstep) {
	t.Helper()
	for i, s := range steps {
		got := flat(r.do(s.cmd...))
		require.Equal(t, s.want, got, "%s step %d: %q", name, i, s.cmd)
	}
}

const (
	wantOK       = "OK"
	wantWrongTyp = "!" + msgWrongType
)

func TestVectorCommandsContract(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	big := strings.Repeat("x", 1<<20)
	cases := []struct {
		name  string
		steps []vstep
	}{
		{"arity", []vstep{
			v("!ERR wrong number of arguments for 'vset' command", "VSET", "k", "1"),
			v("!ERR wrong number of arguments for 'vsearch' command", "VSEARCH", "1", "1"),
			v("!ERR wrong number of arguments for 'vget' command", "VGET"),
			v("!ERR wrong number of arguments for 'vget' command", "VGET", "a", "b"),
			v("!ERR wrong number of arguments for 'vcard' command", "VCARD", "x"),
		}},
		{"vset errors in parse order", []vstep{
			v("!"+msgVecDims, "VSET", "k", "0", "1"),
			v("!"+msgVecDims, "VSET", "k", "32769", "1"),
			v("!"+msgVecDims, "VSET", "k", "abc", "1"),
			v("!"+msgVecDims, "VSET", "k", "-1", "1"),
			v("!"+msgVecNotEnough, "VSET", "k", "3", "1", "2"),
			v("!"+msgVecNotEnough, "VSET", "k", "3", "x", "2"),
			v("!"+msgNotFloat, "VSET", "k", "2", "1", "nan"),
			v("!"+msgNotFloat, "VSET", "k", "2", "1", "inf"),
			v("!"+msgNotFloat, "VSET", "k", "2", "-inf", "1"),
			v("!"+msgNotFloat, "VSET", "k", "2", "1", "1e39"),
			v("!"+msgNotFloat, "VSET", "k", "2", "1", "0x10"),
			v("!"+msgNotFloat, "VSET", "k", "2", "1", "abc"),
			v("!"+msgNotFloat, "VSET", "k", "2", "1", ""),
			v("!"+msgNotFloat, "VSET", "k", "2", "1", " 1"),
			v("!"+msgSyntax, "VSET", "k", "2", "1", "2", "3"),
			v("!"+msgSyntax, "VSET", "k", "2", "1", "2", "META"),
			v("!"+msgSyntax, "VSET", "k", "2", "1", "2", "EX"),
			v("!"+msgSyntax, "VSET", "k", "2", "1", "2", "EX", "10", "PX", "100"),
			v("!"+msgSyntax, "VSET", "k", "2", "1", "2", "ENCRYPTED"),
			v("!"+msgNotInt, "VSET", "k", "2", "1", "2", "EX", "abc"),
			v("!"+msgNotInt, "VSET", "k", "2", "1", "2", "PX", "1.5"),
			v("!ERR invalid expire time in 'vset' command", "VSET", "k", "2", "1", "2", "EX", "0"),
			v("!ERR invalid expire time in 'vset' command", "VSET", "k", "2", "1", "2", "PX", "-5"),
			v("!"+msgVecMetaTooBig, "VSET", "k", "2", "1", "2", "META", big+"y"),
			v("(integer) 0", "EXISTS", "k"), // nothing written on any error
			v(wantOK, "VSET", "k", "2", "1", "2", "META", big),
			v("(integer) 1", "EXISTS", "k"),
			v(wantOK, "VSET", "k", "1", "3.4028235e38"),
			v("[(integer) 1 340282350000000000000000000000000000000 nil]", "VGET", "k"),
		}},
		{"vget shape and floats", []vstep{
			v(wantOK, "VSET", "k", "5", "72.5", "15", "1e-7", "-0.1", "16777217", "META", `{"a":"b"}`),
			v(`[(integer) 5 72.5 15 0.0000001 -0.1 16777216 {"a":"b"}]`, "VGET", "k"),
			v(wantOK, "vset", "k", "2", "0.1", "+2E1"),
			v("[(integer) 2 0.1 20 nil]", "VGET", "k"),
			v(wantOK, "VSET", "k", "1", "1", "meta", ""),
			v("[(integer) 1 1 ]", "VGET", "k"),
			v("nil", "VGET", "missing"),
			v(wantOK, "SET", "s", "x"),
			v(wantWrongTyp, "VGET", "s"),
		}},
		{"integers take a sign and leading zeros", []vstep{
			v(wantOK, "VSET", "k", "+2", "1", "2", "EX", "+100"),
			v("[(integer) 2 1 2 nil]", "VGET", "k"),
			v("(integer) 100", "TTL", "k"),
			v(wantOK, "VSET", "k", "002", "1", "2", "PX", "0100000"),
			v("[[k 1]]", "VSEARCH", "+2", "1", "2", "K", "+1"),
			v("[[k 1]]", "VSEARCH", "02", "1", "2", "K", "01"),
			v("!"+msgVecDims, "VSET", "k", "+0", "1"),
			v("!"+msgVecDims, "VSET", "k", "2.0", "1", "2"),
			v("!"+msgVecInvalidK, "VSEARCH", "2", "1", "2", "K", "-0"),
			v("!"+msgVecInvalidK, "VSEARCH", "2", "1", "2", "K", "9223372036854775808"),
			v("!"+msgNotInt, "VSET", "k", "2", "1", "2", "EX", "9223372036854775808"),
			v("!ERR invalid expire time in 'vset' command", "VSET", "k", "2", "1", "2", "EX", "-0"),
		}},
		{"vsearch errors in parse order", []vstep{
			v("!"+msgVecDims, "VSEARCH", "0", "1", "K", "1"),
			v("!"+msgVecDims, "VSEARCH", "40000", "1", "K", "1"),
			v("!"+msgVecNotEnough, "VSEARCH", "3", "1", "2"),
			v("!"+msgNotFloat, "VSEARCH", "2", "1", "nan", "K", "1"),
			v("!"+msgVecMissingK, "VSEARCH", "2", "1", "2"),
			v("!"+msgVecMissingK, "VSEARCH", "2", "1", "2", "X", "1"),
			v("!"+msgVecMissingK, "VSEARCH", "2", "1", "2", "3", "K", "1"),
			v("!"+msgVecMissingKVal, "VSEARCH", "2", "1", "2", "K"),
			v("!"+msgVecInvalidK, "VSEARCH", "2", "1", "2", "K", "0"),
			v("!"+msgVecInvalidK, "VSEARCH", "2", "1", "2", "k", "10001"),
			v("!"+msgVecInvalidK, "VSEARCH", "2", "1", "2", "K", "abc"),
			v("!"+msgVecFilterArgs, "VSEARCH", "2", "1", "2", "K", "1", "FILTER"),
			v("!"+msgVecFilterArgs, "VSEARCH", "2", "1", "2", "K", "1", "FILTER", "a"),
			v("!"+msgSyntax, "VSEARCH", "2", "1", "2", "K", "1", "BOGUS"),
			v("!"+msgSyntax, "VSEARCH", "2", "0", "0", "K", "1", "BOGUS"),
			v("!"+msgVecZeroQuery, "VSEARCH", "2", "0", "-0", "K", "1"),
			v("!"+msgVecZeroQuery, "VSEARCH", "2", "0", "0", "K", "1", "FILTER", "a", "b", "META"),
			v("[]", "VSEARCH", "2", "1", "2", "K", "10000", "filter", "a", "b", "meta"),
		}},
		{"vsearch ranking", []vstep{
			v(wantOK, "VSET", "a", "2", "1", "0", "META", `{"c":"x"}`),
			v(wantOK, "VSET", "b", "2", "0", "1"),
			v(wantOK, "VSET", "c", "2", "-1", "0", "META", "plain"),
			v(wantOK, "VSET", "d", "2", "2", "0"), // same direction as a: a tie, broken by key
			v(wantOK, "VSET", "z", "2", "0", "0"), // all zeros scores 0
			v(wantOK, "VSET", "t", "3", "1", "0", "0"),
			v("[[a 1] [d 1] [b 0] [z 0] [c -1]]", "VSEARCH", "2", "3", "0", "K", "10"),
			v("[[a 1] [d 1]]", "VSEARCH", "2", "3", "0", "K", "2"),
			v(`[[a 1 {"c":"x"}] [d 1 nil] [b 0 nil] [z 0 nil] [c -1 plain]]`, "VSEARCH", "2", "1", "0", "K", "5", "META"),
			v("[[t 1]]", "VSEARCH", "3", "1", "0", "0", "K", "5"),
			v("[[a 0.70710677] [b 0.70710677] [d 0.70710677]]", "VSEARCH", "2", "1", "1", "K", "3"),
			v("(integer) 6", "VCARD"),
			v(wantOK, "VSET", "a", "2", "0", "1"), // overwrite: no key twice
			v("[[a 1] [b 1]]", "VSEARCH", "2", "0", "1", "K", "2"),
			v("(integer) 6", "VCARD"),
		}},
		{"filter", []vstep{
			v(wantOK, "VSET", "a", "2", "1", "0", "META", `{"cat":"x","n":"1"}`),
			v(wantOK, "VSET", "b", "2", "1", "0.1", "META", `{"cat":"x","n":"2"}`),
			v(wantOK, "VSET", "c", "2", "1", "0.2", "META", `{"cat":"y"}`),
			v(wantOK, "VSET", "d", "2", "1", "0.3", "META", `{"cat":1}`),
			v(wantOK, "VSET", "e", "2", "1", "0.4", "META", `{"cat":{"x":"x"}}`),
			v(wantOK, "VSET", "f", "2", "1", "0.5", "META", `cat x`),
			v(wantOK, "VSET", "g", "2", "1", "0.6", "META", `["cat","x"]`),
			v(wantOK, "VSET", "h", "2", "1", "0.7", "META", `{"cat":"X"}`),
			v(wantOK, "VSET", "i", "2", "1", "0.8", "META", `{"cat":true,"n":"1"}`),
			v(wantOK, "VSET", "j", "2", "1", "0.9", "META", `{"cat":"x"`),
			v(wantOK, "VSET", "k", "2", "1", "1", "META", `{"c\u0061t":"\u0078"}`),
			v("[[a 1] [b 0.9950372] [k 0.70710677]]", "VSEARCH", "2", "1", "0", "K", "10", "FILTER", "cat", "x"),
			v("[[a 1]]", "VSEARCH", "2", "1", "0", "K", "10", "FILTER", "cat", "x", "FILTER", "n", "1"),
			v("[[a 1]]", "VSEARCH", "2", "1", "0", "K", "10", "FILTER", "n", "1", "FILTER", "cat", "x"),
			v("[]", "VSEARCH", "2", "1", "0", "K", "10", "FILTER", "cat", "x", "FILTER", "n", "3"),
			v("[]", "VSEARCH", "2", "1", "0", "K", "10", "FILTER", "cat", "1"),
			v("[[h 0.8192319]]", "VSEARCH", "2", "1", "0", "K", "10", "FILTER", "cat", "X"),
			v("[[a 1]]", "VSEARCH", "2", "1", "0", "K", "1", "FILTER", "cat", "x"),
			// metadata that is not UTF-8 is not JSON: it never matches
			v(wantOK, "VSET", "l", "2", "1", "0", "META", "{\"cat\":\"\xff\"}"),
			v(wantOK, "VSET", "m", "2", "1", "0", "META", "{\"cat\":\"\uFFFD\"}"),
			v("[[m 1]]", "VSEARCH", "2", "1", "0", "K", "10", "FILTER", "cat", "\uFFFD"),
			v("[]", "VSEARCH", "2", "1", "0", "K", "10", "FILTER", "cat", "\xff"),
		}},
		{"ordinary key", []vstep{
			v(wantOK, "VSET", "k", "2", "1", "2"),
			v("vector", "TYPE", "k"),
			v("vector", "OBJECT", "ENCODING", "k"),
			v("[0 [k]]", "SCAN", "0", "TYPE", "vector"),
			v("[0 []]", "SCAN", "0", "TYPE", "string"),
			v("(integer) 1", "EXISTS", "k"),
			v("(integer) 1", "DBSIZE"),
			v(wantWrongTyp, "GET", "k"),
			v(wantWrongTyp, "LPUSH", "k", "a"),
			v(wantWrongTyp, "INCR", "k"),
			v(wantWrongTyp, "HSET", "k", "a", "b"),
			v(wantWrongTyp, "APPEND", "k", "a"),
			v(wantOK, "SET", "k", "s"),
			v("string", "TYPE", "k"),
			v("(integer) 0", "VCARD"),
			v("[]", "VSEARCH", "2", "1", "2", "K", "1"),
			v(wantOK, "VSET", "k", "2", "1", "2"),
			v("(integer) 1", "DEL", "k"),
			v("(integer) 0", "VCARD"),
			v("[]", "VSEARCH", "2", "1", "2", "K", "1"),
		}},
		{"ttl", []vstep{
			v(wantOK, "VSET", "k", "2", "1", "2", "EX", "100"),
			v("(integer) 100", "TTL", "k"),
			v(wantOK, "VSET", "k", "2", "1", "2"),
			v("(integer) -1", "TTL", "k"), // no TTL afterwards, as with SET
			v("(integer) 1", "EXPIRE", "k", "50"),
			v("(integer) 50", "TTL", "k"),
			v("(integer) 1", "PERSIST", "k"),
			v("(integer) -1", "TTL", "k"),
			v(wantOK, "VSET", "k", "2", "1", "2", "PX", "100000"),
			v(wantOK, "RENAME", "k", "r"),
			v("(integer) 100", "TTL", "r"),
			v("[[r 1]]", "VSEARCH", "2", "1", "2", "K", "5"),
			v("(integer) 1", "RENAMENX", "r", "k"),
			v("[[k 1]]", "VSEARCH", "2", "1", "2", "K", "5"),
			v("(integer) 1", "COPY", "k", "c"),
			v("(integer) 100", "TTL", "c"),
			v("[[c 1] [k 1]]", "VSEARCH", "2", "1", "2", "K", "5"),
			v("(integer) 2", "VCARD"),
			v("(integer) 1", "MOVE", "c", "1"),
			v("[[k 1]]", "VSEARCH", "2", "1", "2", "K", "5"),
			v(wantOK, "SELECT", "1"),
			v("[[c 1]]", "VSEARCH", "2", "1", "2", "K", "5"),
			v("(integer) 100", "TTL", "c"),
			v("[(integer) 2 1 2 nil]", "VGET", "c"),
			v("(integer) 1", "VCARD"),
			v(wantOK, "FLUSHDB"),
			v("(integer) 0", "VCARD"),
			v("[]", "VSEARCH", "2", "1", "2", "K", "5"),
			v(wantOK, "SELECT", "0"),
			v("(integer) 1", "VCARD"),
			v("(integer) 1", "EXPIRE", "k", "-1"),
			v("(integer) 0", "VCARD"),
			v("[]", "VSEARCH", "2", "1", "2", "K", "5"),
		}},
		{"multi", []vstep{
			v(wantOK, "MULTI"),
			v("QUEUED", "VSET", "k", "2", "1", "2", "META", "m"),
			v("QUEUED", "VGET", "k"),
			v("QUEUED", "VSEARCH", "2", "1", "2", "K", "1", "META"),
			v("QUEUED", "VCARD"),
			v("[OK [(integer) 2 1 2 m] [[k 1 m]] (integer) 1]", "EXEC"),
		}},
	}
	for _, tc := range cases {
		require.Equal(t, "OK", flat(r.do("FLUSHALL")))
		require.Equal(t, "OK", flat(r.do("SELECT", "0")))
		runSteps(t, r, tc.name, tc.steps)
	}
}

// A VSET aborts a WATCHing EXEC and publishes "vset" in class g.
func TestVectorWatchAndNotify(t *testing.T) {
	ts := startServer(t, "")
	a, b := ts.raw(t), ts.raw(t)
	runSteps(t, a, "watch", []vstep{
		v(wantOK, "WATCH", "k"),
		v(wantOK, "MULTI"),
		v("QUEUED", "VCARD"),
	})
	require.Equal(t, "OK", flat(b.do("VSET", "k", "1", "1")))
	require.Equal(t, "nil", flat(a.do("EXEC")))

	sub := ts.raw(t)
	require.Equal(t, "OK", flat(b.do("CONFIG", "SET", "notify-keyspace-events", "Eg")))
	require.Equal(t, "[subscribe __keyevent@0__:vset (integer) 1]", flat(sub.do("SUBSCRIBE", "__keyevent@0__:vset")))
	require.Equal(t, "OK", flat(b.do("VSET", "k", "1", "1")))
	require.Equal(t, "[message __keyevent@0__:vset k]", flat(sub.reply()))
	require.Equal(t, "OK", flat(b.do("CONFIG", "SET", "notify-keyspace-events", "E$")))
	require.Equal(t, "OK", flat(b.do("VSET", "k2", "1", "1")))
	require.Equal(t, "OK", flat(b.do("CONFIG", "SET", "notify-keyspace-events", "Eg")))
	require.Equal(t, "OK", flat(b.do("VSET", "k3", "1", "1")))
	require.Equal(t, "[message __keyevent@0__:vset k3]", flat(sub.reply())) // k2 was not published
}

// Lazy and active expiry drop vectors from VSEARCH and VCARD.
func TestVectorExpiry(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		ts := startServer(t, dir)
		r := ts.raw(t)
		require.Equal(t, "OK", flat(r.do("VSET", "a", "2", "1", "0", "PX", "50")))
		require.Equal(t, "OK", flat(r.do("VSET", "b", "2", "0", "1")))
		require.Equal(t, "(integer) 2", flat(r.do("VCARD")))
		time.Sleep(80 * time.Millisecond)
		// past its deadline: gone at once, whether reclaimed yet or not
		require.Equal(t, "(integer) 1", flat(r.do("VCARD")))
		require.Equal(t, "[[b 0]]", flat(r.do("VSEARCH", "2", "1", "0", "K", "5")))
		require.Eventually(t, func() bool { return flat(r.do("DBSIZE")) == "(integer) 1" }, 5*time.Second, 20*time.Millisecond)
		require.Equal(t, "[[b 0]]", flat(r.do("VSEARCH", "2", "1", "0", "K", "5")))
	}
}

// The index follows the keys across a restart: vectors are read back in
// the background, bit-exact, and a write during that read wins.
func TestVectorRestart(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	require.Equal(t, "OK", flat(r.do("VSET", "a", "3", "0.1", "-2.5e-8", "3.4028235e38", "META", "m\x00\xff")))
	require.Equal(t, "OK", flat(r.do("VSET", "b", "3", "0", "1", "0", "EX", "1000")))
	require.Equal(t, "OK", flat(r.do("VSET", "gone", "3", "1", "1", "1")))
	require.Equal(t, "(integer) 1", flat(r.do("DEL", "gone")))
	before := flat(r.do("VGET", "a"))
	require.Equal(t, "OK", flat(r.do("SELECT", "3")))
	require.Equal(t, "OK", flat(r.do("VSET", "x", "1", "5")))
	ts.stop()

	ts = startServer(t, dir)
	r = ts.raw(t)
	require.Equal(t, before, flat(r.do("VGET", "a")))
	require.Equal(t, "(integer) 2", flat(r.do("VCARD")))
	require.Equal(t, "[[b 1] [a 0]]", flat(r.do("VSEARCH", "3", "0", "1", "0", "K", "5")))
	ttl := flat(r.do("TTL", "b"))
	require.True(t, ttl == "(integer) 1000" || ttl == "(integer) 999", ttl)
	require.Equal(t, "OK", flat(r.do("SELECT", "3")))
	require.Equal(t, "[[x 1]]", flat(r.do("VSEARCH", "1", "1", "K", "5")))
}

// Under a memory limit vectors go cold like any key and are never lost:
// VSEARCH and VCARD still see every one, and VGET reads them back.
func TestVectorTiering(t *testing.T) {
	ts := startServer(t, t.TempDir())
	c := ts.client(t)
	ctx := context.Background()
	const n = 900
	meta := strings.Repeat("m", 5000)
	for i := 0; i < n; i++ {
		args := []any{"VSET", fmt.Sprint("v", i), 4, i, 100, 0, 0, "META", meta}
		require.NoError(t, c.Do(ctx, args...).Err())
	}
	require.NoError(t, c.ConfigSet(ctx, "maxmemory", "2000000").Err())
	require.NoError(t, c.Set(ctx, "trigger", "x", 0).Err())
	require.Less(t, ts.resident(), n/2, "vectors went cold")
	card, err := c.Do(ctx, "VCARD").Int64()
	require.NoError(t, err)
	require.Equal(t, int64(n), card)
	res, err := c.Do(ctx, "VSEARCH", 4, 1, 0, 0, 0, "K", 3).Slice()
	require.NoError(t, err)
	require.Len(t, res, 3)
	require.Equal(t, "v899", res[0].([]any)[0])
	got, err := c.Do(ctx, "VGET", "v0").Slice()
	require.NoError(t, err)
	require.Equal(t, meta, got[5])
	info, err := c.Info(ctx, "memory").Result()
	require.NoError(t, err)
	require.Contains(t, info, "lux_vector_index_memory:")
}

// Beyond VecExactLimit vectors the graph answers; the index stays exact with
// respect to the live keys through deletes and overwrites, FILTER stays
// exact, and a rebuild after many deletions keeps every live vector.
func TestVectorIndexLarge(t *testing.T) {
	ts := startServer(t, "")
	c := ts.client(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	const n, dims = 6000, 8
	vecs := map[string][]float64{}
	set := func(key string) {
		vec := make([]float64, dims)
		args := []any{"VSET", key, dims}
		for i := range vec {
			vec[i] = float64(float32(rng.Float64()*2 - 1))
			args = append(args, vec[i])
		}
		cat := "odd"
		if len(vecs)%2 == 0 {
			cat = "even"
		}
		args = append(args, "META", `{"cat":"`+cat+`"}`)
		require.NoError(t, c.Do(ctx, args...).Err())
		vecs[key] = vec
	}
	for i := 0; i < n; i++ {
		set(fmt.Sprint("k", i))
	}
	// delete most (a graph rebuild) and overwrite some
	for i := 0; i < n; i++ {
		if i%5 != 0 {
			require.NoError(t, c.Del(ctx, fmt.Sprint("k", i)).Err())
			delete(vecs, fmt.Sprint("k", i))
		} else if i%3 == 0 {
			set(fmt.Sprint("k", i))
		}
	}
	card, _ := c.Do(ctx, "VCARD").Int64()
	require.Equal(t, int64(len(vecs)), card)
	filterCat := map[string]string{}
	for i := 0; i < 30; i++ {
		q := make([]any, dims)
		for j := range q {
			q[j] = rng.Float64()*2 - 1
		}
		args := append([]any{"VSEARCH", dims}, q...)
		res, err := c.Do(ctx, append(args, "K", 20, "META")...).Slice()
		require.NoError(t, err)
		require.Len(t, res, 20)
		seen := map[string]bool{}
		prev := math.Inf(1)
		for _, h := range res {
			hit := h.([]any)
			key := hit[0].(string)
			require.False(t, seen[key], "key twice")
			seen[key] = true
			vec, live := vecs[key]
			require.True(t, live, "deleted key %s returned", key)
			score, _ := strconv.ParseFloat(hit[1].(string), 64)
			require.InDelta(t, cosine(q, vec), score, 1e-6)
			require.LessOrEqual(t, score, prev)
			prev = score
			filterCat[key] = hit[2].(string)
		}
		// FILTER: exact top k of the matches
		res, err = c.Do(ctx, append(args, "K", 7, "FILTER", "cat", "even")...).Slice()
		require.NoError(t, err)
		type ks struct {
			k string
			s float32
		}
		var want []ks
		for key, vec := range vecs {
			want = append(want, ks{key, float32(cosine(q, vec))})
		}
		sort.Slice(want, func(i, j int) bool {
			return want[i].s > want[j].s || want[i].s == want[j].s && want[i].k < want[j].k
		})
		got := []string{}
		for _, h := range res {
			got = append(got, h.([]any)[0].(string))
		}
		evenTop := []string{}
		for _, w := range want {
			m, _ := c.Do(ctx, "VGET", w.k).Slice()
			if m[len(m)-1] == `{"cat":"even"}` {
				evenTop = append(evenTop, w.k)
			}
			if len(evenTop) == 7 {
				break
			}
		}
		require.Equal(t, evenTop, got)
	}
}

func cosine(q []any, v []float64) float64 {
	var dot, nq, nv float64
	for i := range v {
		x := float64(float32(q[i].(float64)))
		dot += x * v[i]
		nq += x * x
		nv += v[i] * v[i]
	}
	return dot / math.Sqrt(nq*nv)
}
