package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// protoResult is what a server sees through protoReader and redcon: the
// commands, then either a clean end of input (err "") or a protocol error.
type protoResult struct {
	Cmds [][]string
	Err  string
}

// protoRunRedcon feeds r through protoReader into the server's framer.
func protoRunRedcon(t testing.TB, r io.Reader, lim *ProtoLimits, auth func() bool) protoResult {
	t.Helper()
	return protoRedcon(t, newProtoReader(r, lim, auth))
}

// protoRedcon reads r (a protoReader's output) with the server's framer.
func protoRedcon(t testing.TB, r io.Reader) protoResult {
	t.Helper()
	rd := newReqReader(r)
	var res protoResult
	for {
		cmds, err := rd.ReadCommands()
		for _, c := range cmds {
			res.Cmds = append(res.Cmds, protoStrings(c.Args))
		}
		if err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) {
				res.Err = pe.Error()
			} else {
				require.ErrorIs(t, err, io.EOF)
			}
			return res
		}
	}
}

func protoStrings(args [][]byte) []string {
	s := make([]string, len(args))
	for i, a := range args {
		s[i] = string(a)
	}
	return s
}

// protoChunkReader returns its data in chunks of random size (1..max).
type protoChunkReader struct {
	data []byte
	rng  *rand.Rand
	max  int
}

func (c *protoChunkReader) Read(b []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(1+c.rng.IntN(c.max), len(b), len(c.data))
	copy(b, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// protoDrain reads pr to its end with buffers of random size, returning all
// the bytes and the final error.
func protoDrain(pr *protoReader, rng *rand.Rand, maxRead int) ([]byte, error) {
	var out []byte
	buf := make([]byte, maxRead)
	for {
		n, err := pr.Read(buf[:1+rng.IntN(maxRead)])
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
}

func protoArgs(n int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "*%d\r\n", n)
	for i := 0; i < n; i++ {
		sb.WriteString("$1\r\na\r\n")
	}
	return sb.String()
}

func protoRep(s string, n int) [][]string {
	var out [][]string
	for i := 0; i < n; i++ {
		out = append(out, strings.Fields(s))
	}
	return out
}

type protoCase struct {
	name    string
	in      string
	want    [][]string
	err     string
	maxBulk int64 // 0: default
	auth    bool  // authRequired() result
}

var protoCases = []protoCase{
	// Well-formed multibulk.
	{name: "set", in: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", want: [][]string{{"SET", "k", "v"}}},
	{name: "pipelined", in: strings.Repeat("*1\r\n$4\r\nPING\r\n", 3), want: protoRep("PING", 3)},
	{name: "empty arg", in: "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", want: [][]string{{"ECHO", ""}}},
	{name: "binary payload", in: "*2\r\n$4\r\nECHO\r\n$6\r\n\x00\r\n*\n$\r\n", want: [][]string{{"ECHO", "\x00\r\n*\n$"}}},
	{name: "incomplete at EOF", in: "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$3\r\nab", want: protoRep("PING", 1)},

	// Empty requests: no-ops.
	{name: "*0", in: "*0\r\n", want: nil},
	{name: "*-1", in: "*-1\r\n", want: nil},
	{name: "*-1 then ping", in: "*-1\r\n*0\r\n*1\r\n$4\r\nPING\r\n", want: protoRep("PING", 1)},
	{name: "*LLONG_MIN", in: "*-9223372036854775808\r\n", want: nil},
	{name: "empty inline", in: "\r\n", want: nil},
	{name: "empty inline lf", in: "\n\n\n", want: nil},
	{name: "blank inline", in: " \t \r\n", want: nil},
	{name: "blank inline vt ff", in: "\v\f\r\r\n*1\r\n$4\r\nPING\r\n", want: protoRep("PING", 1)},

	// What Redis accepts and redcon would not: normalized.
	{name: "count line any byte after CR", in: "*1\rX$4\r\nPING\r\n", want: protoRep("PING", 1)},
	{name: "bulk line any byte after CR", in: "*1\r\n$4\r\rPING\r\n", want: protoRep("PING", 1)},
	{name: "any trailer", in: "*2\r\n$4\r\nECHO\r\n$1\r\naXY*1\r\n$4\r\nPING\n\n", want: [][]string{{"ECHO", "a"}, {"PING"}}},
	{name: "empty arg any trailer", in: "*1\r\n$0\r\n\n\n", want: [][]string{{""}}},

	// Multibulk count errors.
	{name: "count not a number", in: "*abc\r\n", err: msgProtoInvalidMbulk},
	{name: "count colon", in: "*:\r\n" + strings.Repeat("$1\r\na\r\n", 10), err: msgProtoInvalidMbulk},
	{name: "count slash", in: "*/\r\n" + strings.Repeat("$1\r\na\r\n", 10), err: msgProtoInvalidMbulk},
	{name: "count digit colon", in: "*1:\r\n" + strings.Repeat("$1\r\na\r\n", 20), err: msgProtoInvalidMbulk},
	{name: "count empty", in: "*\r\n", err: msgProtoInvalidMbulk},
	{name: "count plus", in: "*+1\r\n$4\r\nPING\r\n", err: msgProtoInvalidMbulk},
	{name: "count leading zero", in: "*01\r\n$4\r\nPING\r\n", err: msgProtoInvalidMbulk},
	{name: "count minus zero", in: "*-0\r\n", err: msgProtoInvalidMbulk},
	{name: "count space", in: "*1 \r\n", err: msgProtoInvalidMbulk},
	{name: "count LF only", in: "*1\n$4\r\nPING\r\n", err: msgProtoInvalidMbulk},
	{name: "count INT_MAX+1", in: "*2147483648\r\n", err: msgProtoInvalidMbulk},
	{name: "count 21 digits", in: "*100000000000000000000\r\n", err: msgProtoInvalidMbulk},
	{name: "count below LLONG_MIN", in: "*-9223372036854775809\r\n", err: msgProtoInvalidMbulk},
	{name: "count line 64K", in: "*" + strings.Repeat("1", protoInlineMaxSize-1) + "\r\n", err: msgProtoInvalidMbulk},
	{name: "count line waits", in: "*" + strings.Repeat("1", protoInlineMaxSize-1)},
	{name: "count line too big", in: "*" + strings.Repeat("1", protoInlineMaxSize) + "\r\n", err: msgProtoTooBigMbulk},
	{name: "count line NUL waits", in: "*1\x00\r\n$4\r\nPING\r\n"},
	{name: "count line NUL too big", in: "*1\x00\r\n" + strings.Repeat("x", protoInlineMaxSize), err: msgProtoTooBigMbulk},
	{name: "error after commands", in: "*1\r\n$4\r\nPING\r\nPING\r\n*x\r\n", want: protoRep("PING", 2), err: msgProtoInvalidMbulk},

	// Bulk header errors.
	{name: "expected $", in: "*1\r\nX4\r\nPING\r\n", err: "Protocol error: expected '$', got 'X'"},
	{name: "expected $ colon", in: "*2\r\n$4\r\nECHO\r\n:1\r\n", err: "Protocol error: expected '$', got ':'"},
	{name: "expected $ got CR", in: "*1\r\n\r\n", err: "Protocol error: expected '$', got ' '"},
	{name: "expected $ got LF", in: "*1\r\n\n$4\r\n", err: "Protocol error: expected '$', got ' '"},
	{name: "expected $ high byte", in: "*1\r\n\xff\r\n", err: "Protocol error: expected '$', got '\xff'"},
	{name: "expected $ waits for CR", in: "*1\r\nX4"},
	{name: "bulk negative", in: "*1\r\n$-1\r\n", err: msgProtoInvalidBulk},
	{name: "bulk not a number", in: "*1\r\n$abc\r\n", err: msgProtoInvalidBulk},
	{name: "bulk colon", in: "*1\r\n$:\r\n0123456789\r\n", err: msgProtoInvalidBulk},
	{name: "bulk slash", in: "*1\r\n$/\r\n0123456789\r\n", err: msgProtoInvalidBulk},
	{name: "bulk digit colon", in: "*1\r\n$1:\r\n" + strings.Repeat("a", 20) + "\r\n", err: msgProtoInvalidBulk},
	{name: "bulk empty", in: "*1\r\n$\r\n", err: msgProtoInvalidBulk},
	{name: "bulk leading zero", in: "*1\r\n$04\r\nPING\r\n", err: msgProtoInvalidBulk},
	{name: "bulk plus", in: "*1\r\n$+4\r\nPING\r\n", err: msgProtoInvalidBulk},
	{name: "bulk LF only", in: "*1\r\n$4\nPING\r\n", err: msgProtoInvalidBulk},
	{name: "bulk over default max", in: "*1\r\n$536870913\r\n", err: msgProtoInvalidBulk},
	{name: "bulk huge", in: "*1\r\n$99999999999999999999\r\n", err: msgProtoInvalidBulk},
	{name: "bulk at default max waits", in: "*1\r\n$536870912\r\n"},
	{name: "bulk line too big", in: "*1\r\n$" + strings.Repeat("1", protoInlineMaxSize), err: msgProtoTooBigBulk},
	{name: "bulk line too big without $", in: "*1\r\nX" + strings.Repeat("1", protoInlineMaxSize), err: msgProtoTooBigBulk},
	{name: "bulk line 64K", in: "*1\r\n$" + strings.Repeat("1", protoInlineMaxSize-1) + "\r\n", err: msgProtoInvalidBulk},
	{name: "bulk line NUL too big", in: "*1\r\n$1\x00\r\na\r\n" + strings.Repeat("x", protoInlineMaxSize), err: msgProtoTooBigBulk},
	{name: "error mid request", in: "PING\r\n*2\r\n$4\r\nECHO\r\n!3\r\nabc\r\n", want: protoRep("PING", 1), err: "Protocol error: expected '$', got '!'"},

	// proto-max-bulk-len.
	{name: "maxbulk ok", in: "*1\r\n$10\r\n0123456789\r\n", maxBulk: 10, want: [][]string{{"0123456789"}}},
	{name: "maxbulk over", in: "*1\r\n$11\r\n0123456789a\r\n", maxBulk: 10, err: msgProtoInvalidBulk},
	{name: "maxbulk over after ok", in: "*1\r\n$1\r\na\r\n*1\r\n$11\r\n", maxBulk: 10, want: [][]string{{"a"}}, err: msgProtoInvalidBulk},

	// Unauthenticated limits.
	{name: "unauth 10 args", in: protoArgs(10), auth: true, want: [][]string{strings.Fields(strings.Repeat("a ", 10))}},
	{name: "unauth 11 args", in: protoArgs(11), auth: true, err: msgProtoUnauthMbulk},
	{name: "auth 11 args", in: protoArgs(11), want: [][]string{strings.Fields(strings.Repeat("a ", 11))}},
	{name: "unauth invalid count first", in: "*2147483648\r\n", auth: true, err: msgProtoInvalidMbulk},
	{name: "unauth empty request", in: "*-20\r\n*1\r\n$4\r\nPING\r\n", auth: true, want: protoRep("PING", 1)},
	{name: "unauth bulk 16384", in: "*1\r\n$16384\r\n" + strings.Repeat("x", 16384) + "\r\n", auth: true, want: [][]string{{strings.Repeat("x", 16384)}}},
	{name: "unauth bulk 16385", in: "*1\r\n$16385\r\n", auth: true, err: msgProtoUnauthBulk},
	{name: "unauth invalid bulk first", in: "*1\r\n$-1\r\n", auth: true, err: msgProtoInvalidBulk},
	{name: "unauth maxbulk first", in: "*1\r\n$20000\r\n", maxBulk: 17000, auth: true, err: msgProtoInvalidBulk},
	{name: "unauth pipelined", in: "PING\r\n*1\r\n$4\r\nPING\r\n*11\r\n", auth: true, want: protoRep("PING", 2), err: msgProtoUnauthMbulk},
	{name: "unauth inline no limit", in: strings.Repeat("a ", 20) + "\r\n", auth: true, want: [][]string{strings.Fields(strings.Repeat("a ", 20))}},

	// Inline requests and sdssplitargs.
	{name: "inline", in: "PING\r\n", want: protoRep("PING", 1)},
	{name: "inline LF", in: "SET a b\nGET a\n", want: [][]string{{"SET", "a", "b"}, {"GET", "a"}}},
	{name: "inline spaces", in: "  SET\t a   b \r\n", want: [][]string{{"SET", "a", "b"}}},
	{name: "inline quotes", in: "set \"a b\" 'c d'\r\n", want: [][]string{{"set", "a b", "c d"}}},
	{name: "inline hex", in: "\"\\x41\"\r\n", want: [][]string{{"A"}}},
	{name: "inline hex bytes", in: "ECHO \"\\x00\\xfF\\x7e\"\r\n", want: [][]string{{"ECHO", "\x00\xff~"}}},
	{name: "inline bad hex", in: "ECHO \"\\x4g\" \"\\x4\"\r\n", want: [][]string{{"ECHO", "x4g", "x4"}}},
	{name: "inline escapes", in: "ECHO \"a\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n", want: [][]string{{"ECHO", "a\n\r\t\b\a\\\"q"}}},
	{name: "inline single quotes", in: "ECHO 'it\\'s' 'a\\nb' 'x\"y'\r\n", want: [][]string{{"ECHO", "it's", "a\\nb", "x\"y"}}},
	{name: "inline empty quotes", in: "SET k \"\" ''\r\n", want: [][]string{{"SET", "k", "", ""}}},
	{name: "inline quote mid token", in: "ECHO a\"b c\"\r\n", want: [][]string{{"ECHO", "ab c"}}},
	{name: "inline quote then vt", in: "ECHO \"a\"\vb\r\n", want: [][]string{{"ECHO", "a", "b"}}},
	{name: "inline vt inside token", in: "ECHO a\vb\r\n", want: [][]string{{"ECHO", "a\vb"}}},
	{name: "inline CR inside", in: "ECHO a\rb\r\r\n", want: [][]string{{"ECHO", "a", "b"}}},
	{name: "inline CR in quotes", in: "ECHO \"a\rb\"\r\n", want: [][]string{{"ECHO", "a\rb"}}},
	{name: "inline only one CR stripped", in: "ECHO \"a\r\r\n", err: msgProtoUnbalancedQuot},
	{name: "inline high bytes", in: "ECHO \xc3\xa9\xff\r\n", want: [][]string{{"ECHO", "\xc3\xa9\xff"}}},
	{name: "inline then multibulk", in: "PING\r\n*1\r\n$4\r\nPING\r\nPING\n", want: protoRep("PING", 3)},
	{name: "unbalanced double", in: "ECHO \"abc\r\n", err: msgProtoUnbalancedQuot},
	{name: "unbalanced single", in: "ECHO 'abc\r\n", err: msgProtoUnbalancedQuot},
	{name: "closing quote then char", in: "ECHO \"a\"b\r\n", err: msgProtoUnbalancedQuot},
	{name: "closing single quote then char", in: "ECHO 'a'b\r\n", err: msgProtoUnbalancedQuot},
	{name: "quote mid token then char", in: "ECHO a\"b\"c\r\n", err: msgProtoUnbalancedQuot},
	{name: "trailing backslash in quotes", in: "ECHO \"abc\\\r\n", err: msgProtoUnbalancedQuot},
	{name: "unbalanced after commands", in: "PING\r\nECHO \"x\r\nPING\r\n", want: protoRep("PING", 1), err: msgProtoUnbalancedQuot},
	{name: "inline 64K", in: strings.Repeat("a", protoInlineMaxSize) + "\n", want: [][]string{{strings.Repeat("a", protoInlineMaxSize)}}},
	{name: "inline 64K CRLF", in: strings.Repeat("a", protoInlineMaxSize-1) + "\r\n", want: [][]string{{strings.Repeat("a", protoInlineMaxSize-1)}}},
	{name: "inline too big", in: strings.Repeat("a", protoInlineMaxSize+1), err: msgProtoTooBigInline},
	{name: "inline too big with LF", in: strings.Repeat("a", protoInlineMaxSize) + "\r\n", err: msgProtoTooBigInline},
	{name: "inline waits", in: strings.Repeat("a", protoInlineMaxSize)},
	{name: "inline NUL waits", in: "PI\x00NG\r\nPING\r\n"},
	{name: "inline NUL first waits", in: "\x00\r\n"},
	{name: "inline NUL too big", in: "PING\r\nPI\x00NG\r\n" + strings.Repeat("\n", protoInlineMaxSize), want: protoRep("PING", 1), err: msgProtoTooBigInline},
	{name: "inline many args", in: strings.TrimSpace(strings.Repeat("a ", 1000)) + "\r\n", want: [][]string{strings.Fields(strings.Repeat("a ", 1000))}},
}

func (c protoCase) limits() *ProtoLimits {
	lim := &ProtoLimits{}
	lim.MaxBulkLen.Store(c.maxBulk)
	return lim
}

func TestProtoReader(t *testing.T) {
	for _, c := range protoCases {
		t.Run(c.name, func(t *testing.T) {
			auth := func() bool { return c.auth }
			want := protoResult{Cmds: c.want, Err: c.err}
			readers := map[string]func() io.Reader{
				"whole":    func() io.Reader { return strings.NewReader(c.in) },
				"one-byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(c.in)) },
				"chunks": func() io.Reader {
					return &protoChunkReader{data: []byte(c.in), rng: rand.New(rand.NewPCG(1, uint64(len(c.in)))), max: 7}
				},
			}
			for name, mk := range readers {
				got := protoRunRedcon(t, mk(), c.limits(), auth)
				assert.Equal(t, want, got, name)
			}
			// The reference model agrees with the expectation.
			ref, refErr := protoRefParse([]byte(c.in), c.limits().maxBulkLen(), c.auth)
			assert.Equal(t, want, protoResult{Cmds: ref, Err: refErr}, "reference")
		})
	}
}

// TestProtoReaderOutput checks the exact bytes handed to redcon.
func TestProtoReaderOutput(t *testing.T) {
	cases := []struct{ in, out string }{
		{"*1\r\n$4\r\nPING\r\n", "*1\r\n$4\r\nPING\r\n"},
		{"*1\rX$4\r\rPINGxy", "*1\r\n$4\r\nPING\r\n"},
		{"*0\r\n*-1\r\n\r\n  \n*1\r\n$0\r\n\r\n", "*1\r\n$0\r\n\r\n"},
		{"set \"a b\" 'c d'\r\n", "*3\r\n$3\r\nset\r\n$3\r\na b\r\n$3\r\nc d\r\n"},
		// Valid as far as it goes, even if redcon would spend a long time on it.
		{"*1048576\r\n$1\r\na\r\n", "*1048576\r\n$1\r\na\r\n"},
	}
	for _, c := range cases {
		for _, rd := range []io.Reader{strings.NewReader(c.in), iotest.OneByteReader(strings.NewReader(c.in))} {
			out, err := io.ReadAll(newProtoReader(rd, nil, nil))
			require.NoError(t, err)
			assert.Equal(t, c.out, string(out), "%q", c.in)
		}
	}
}

// TestProtoReaderErrorAfterOutput: the valid bytes come first, then the
// error, and the error sticks.
func TestProtoReaderErrorAfterOutput(t *testing.T) {
	pr := newProtoReader(strings.NewReader("*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$x\r\n"), nil, nil)
	buf := make([]byte, 100)
	n, err := pr.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n", string(buf[:n]))
	for i := 0; i < 2; i++ {
		n, err = pr.Read(buf)
		assert.Zero(t, n)
		var pe *ProtocolError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, msgProtoInvalidBulk, pe.Msg)
	}
	// Small reads see the same bytes.
	pr = newProtoReader(strings.NewReader("PING\r\nECHO \"x\r\n"), nil, nil)
	out, err := protoDrain(pr, rand.New(rand.NewPCG(3, 4)), 3)
	assert.Equal(t, "*1\r\n$4\r\nPING\r\n", string(out))
	assert.EqualError(t, err, msgProtoUnbalancedQuot)
}

// protoErrReader returns its data, then err.
type protoErrReader struct {
	data []byte
	err  error
}

func (r *protoErrReader) Read(b []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(b, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestProtoReaderUnderlyingError(t *testing.T) {
	boom := errors.New("boom")
	pr := newProtoReader(&protoErrReader{data: []byte("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI"), err: boom}, nil, nil)
	buf := make([]byte, 64)
	n, err := pr.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI", string(buf[:n]))
	for i := 0; i < 2; i++ {
		n, err = pr.Read(buf)
		assert.Zero(t, n)
		assert.Same(t, boom, err)
	}

	// Data and error from the same Read: the data first.
	pr = newProtoReader(iotest.DataErrReader(strings.NewReader("PING\r\n")), nil, nil)
	out, err := io.ReadAll(pr)
	require.NoError(t, err)
	assert.Equal(t, "*1\r\n$4\r\nPING\r\n", string(out))

	// A reader that never makes progress.
	pr = newProtoReader(protoNopReader{}, nil, nil)
	_, err = pr.Read(buf)
	assert.ErrorIs(t, err, io.ErrNoProgress)
}

type protoNopReader struct{}

func (protoNopReader) Read([]byte) (int, error) { return 0, nil }

// TestProtoReaderMaxBulkLenRuntime: CONFIG SET proto-max-bulk-len takes effect
// on the next Read.
func TestProtoReaderMaxBulkLenRuntime(t *testing.T) {
	lim := &ProtoLimits{}
	lim.MaxBulkLen.Store(4)
	var in bytes.Buffer
	pr := newProtoReader(&in, lim, nil)
	buf := make([]byte, 64)
	in.WriteString("*1\r\n$4\r\nPING\r\n")
	n, err := pr.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, 14, n)
	lim.MaxBulkLen.Store(5)
	in.WriteString("*1\r\n$5\r\nHELLO\r\n")
	n, err = pr.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, 15, n)
	in.WriteString("*1\r\n$6\r\nHELLO!\r\n")
	n, err = pr.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "*1\r\n", string(buf[:n]))
	_, err = pr.Read(buf)
	assert.EqualError(t, err, msgProtoInvalidBulk)
}

// TestProtoReaderAuthPipelined: like Redis, the unauthenticated limits apply
// to what is parsed before AUTH has run, and not to what follows it, even in
// one pipeline, provided the server runs each batch of commands before
// reading again.
func TestProtoReaderAuthPipelined(t *testing.T) {
	big := "*1\r\n$20000\r\n" + strings.Repeat("x", 20000) + "\r\n"
	cases := []struct {
		name string
		in   string
		want int // commands
		err  string
	}{
		{"auth first", "AUTH pw\r\n" + protoArgs(11) + big, 3, ""},
		{"auth multibulk first", "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n" + protoArgs(11) + big, 3, ""},
		{"no auth", "PING\r\n" + protoArgs(11), 1, msgProtoUnauthMbulk},
		{"no auth big", "PING\r\n" + big, 1, msgProtoUnauthBulk},
		{"auth after", protoArgs(11) + "AUTH pw\r\n", 0, msgProtoUnauthMbulk},
		{"empty requests then auth", "*0\r\n\r\nAUTH pw\r\n*0\r\n" + protoArgs(11), 2, ""},
	}
	for _, c := range cases {
		for _, mk := range []func() io.Reader{
			func() io.Reader { return strings.NewReader(c.in) },
			func() io.Reader { return iotest.OneByteReader(strings.NewReader(c.in)) },
			func() io.Reader { return iotest.HalfReader(strings.NewReader(c.in)) },
		} {
			authed := false
			rd := newReqReader(newProtoReader(mk(), nil, func() bool { return !authed }))
			got := 0
			var err error
			for err == nil {
				var cmds []reqCommand
				cmds, err = rd.ReadCommands()
				for _, cmd := range cmds {
					got++
					if strings.EqualFold(string(cmd.Args[0]), "AUTH") {
						authed = true
					}
				}
			}
			assert.Equal(t, c.want, got, c.name)
			if c.err == "" {
				assert.ErrorIs(t, err, io.EOF, c.name)
			} else {
				assert.EqualError(t, err, c.err, c.name)
			}
		}
	}
}

// TestProtoReaderBigPayload: a 10 MB argument streams through with the reader
// holding no more than its fixed buffer.
func TestProtoReaderBigPayload(t *testing.T) {
	const size = 10 << 20
	payload := make([]byte, size)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < size; i += 8 {
		binary.LittleEndian.PutUint64(payload[i:], rng.Uint64())
	}
	mk := func() io.Reader {
		return io.MultiReader(
			strings.NewReader("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$"+strconv.Itoa(size)+"\r\n"),
			bytes.NewReader(payload),
			strings.NewReader("\r\n*1\r\n$4\r\nPING\r\n"))
	}
	for name, rd := range map[string]io.Reader{
		"whole":  mk(),
		"chunks": &protoChunkReader{data: must(io.ReadAll(mk())), rng: rng, max: 100000},
	} {
		pr := newProtoReader(rd, nil, func() bool { return false })
		r := newReqReader(pr)
		var args [][]string // copied: a batch's views end with the next call
		for len(args) < 2 {
			c, err := r.ReadCommands()
			require.NoError(t, err, name)
			for _, cmd := range c {
				args = append(args, protoStrings(cmd.Args))
			}
		}
		require.Len(t, args, 2, name)
		assert.Equal(t, "SET", args[0][0], name)
		assert.True(t, string(payload) == args[0][2], name)
		assert.Equal(t, "PING", args[1][0], name)
		assert.LessOrEqual(t, cap(pr.buf), protoBufSize, name)
		assert.LessOrEqual(t, cap(pr.out), 64, name)
	}

	// Read directly with large and small buffers, with a trailer to fix.
	in := append([]byte("*1\r\n$"+strconv.Itoa(size)+"\r\n"), payload...)
	in = append(in, "!!"...)
	want := append([]byte("*1\r\n$"+strconv.Itoa(size)+"\r\n"), payload...)
	want = append(want, "\r\n"...)
	for _, max := range []int{1 << 20, 3000} {
		out, err := protoDrain(newProtoReader(bytes.NewReader(in), nil, nil), rng, max)
		require.ErrorIs(t, err, io.EOF)
		assert.True(t, bytes.Equal(want, out))
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestProtoReaderDifferential runs generated, mostly protocol-shaped inputs
// through protoReader (random chunking, random read sizes) and redcon, and
// compares with protoRefParse, a whole-buffer port of networking.c.
func TestProtoReaderDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		in := protoGen(rng)
		protoCheck(t, in, uint16(rng.Uint32()))
	}
}

// protoGen makes a stream of requests, valid and not, with random mutations.
func protoGen(rng *rand.Rand) []byte {
	var b []byte
	atoms := []string{"*", "$", "\r", "\n", "\r\n", "0", "1", "-", "\"", "'", "\\", "x", " ", "\x00", "\t", "\v", "a", ":", "/", "9"}
	for n := rng.IntN(5); n >= 0; n-- {
		switch rng.IntN(4) {
		case 0, 1:
			args := rng.IntN(13) - 1
			b = fmt.Appendf(b, "*%d\r\n", args)
			for j := 0; j < args; j++ {
				l := rng.IntN(20)
				if rng.IntN(10) == 0 {
					l = 16380 + rng.IntN(10)
				}
				b = fmt.Appendf(b, "$%d\r\n", l)
				for k := 0; k < l; k++ {
					if k == 20 {
						b = append(b, make([]byte, l-k)...)
						break
					}
					b = append(b, "ab\r\n\x00*$"[rng.IntN(7)])
				}
				b = append(b, "\r\n"...)
			}
		case 2:
			for k := rng.IntN(8); k >= 0; k-- {
				b = append(b, []string{"SET", "a", " ", "\"q \\x41\\n\"", "'s\\''", "\t", "\"", "'"}[rng.IntN(8)]...)
			}
			b = append(b, []string{"\r\n", "\n"}[rng.IntN(2)]...)
		default:
			for k := rng.IntN(6); k >= 0; k-- {
				b = append(b, atoms[rng.IntN(len(atoms))]...)
			}
		}
	}
	// Mutate a few bytes.
	for k := rng.IntN(3); k > 0 && len(b) > 0; k-- {
		i := rng.IntN(len(b))
		switch rng.IntN(3) {
		case 0:
			b[i] = byte(rng.Uint32())
		case 1:
			b = append(b[:i], b[i+1:]...)
		default:
			b = append(b[:i], append([]byte(atoms[rng.IntN(len(atoms))]), b[i:]...)...)
		}
	}
	return b
}

var protoFuzzMaxBulk = []int64{0, 1, 3, 16384, 16390, 100}

// protoCheck is the property both the differential test and the fuzz target
// check: protoReader's output is canonical multibulk that the server's framer
// (reqReader) turns into exactly the commands Redis would run, however the
// bytes are split, and it ends with Redis's error.
func protoCheck(t *testing.T, in []byte, opts uint16) {
	t.Helper()
	auth := opts&1 != 0
	lim := &ProtoLimits{}
	lim.MaxBulkLen.Store(protoFuzzMaxBulk[int(opts>>1&7)%len(protoFuzzMaxBulk)])
	rng := rand.New(rand.NewPCG(uint64(opts), uint64(len(in))))

	refCmds, refErr := protoRefParse(in, lim.maxBulkLen(), auth)

	src := &protoChunkReader{data: in, rng: rng, max: 1 + int(opts>>4&63)}
	pr := newProtoReader(src, lim, func() bool { return auth })
	out, err := protoDrain(pr, rng, 1+int(opts>>10&63))
	if refErr == "" {
		require.ErrorIs(t, err, io.EOF, "input %q", in)
	} else {
		require.EqualError(t, err, refErr, "input %q", in)
	}

	cmds, _ := protoParseCanonical(t, out)
	require.Equal(t, refCmds, cmds, "input %q output %q", in, out)

	// the server's framer gets the same commands from the output, in
	// pieces of every size
	for _, src := range []io.Reader{bytes.NewReader(out), iotest.OneByteReader(bytes.NewReader(out))} {
		rd := newReqReader(src)
		var got [][]string
		for {
			cs, err := rd.ReadCommands()
			for _, c := range cs {
				got = append(got, protoStrings(c.Args))
			}
			if err != nil {
				require.ErrorIs(t, err, io.EOF, "framer on %q", out)
				break
			}
		}
		require.Equal(t, refCmds, got, "framer on %q", out)
	}
}

// protoParseCanonical parses out as canonical multibulk, failing the test on
// anything else; a trailing incomplete request is allowed.
func protoParseCanonical(t *testing.T, out []byte) (cmds [][]string, maxCount int64) {
	t.Helper()
	num := func(i int, typ byte) (int64, int, bool) {
		if i >= len(out) {
			return 0, i, false
		}
		require.Equal(t, typ, out[i], "type byte at %d in %q", i, out)
		j := i + 1
		for j < len(out) && out[j] != '\r' {
			j++
		}
		if j+1 >= len(out) {
			return 0, i, false
		}
		require.Equal(t, byte('\n'), out[j+1], "%q", out)
		s := string(out[i+1 : j])
		v, err := strconv.ParseInt(s, 10, 64)
		require.NoError(t, err, "%q", out)
		require.Equal(t, strconv.FormatInt(v, 10), s, "canonical number in %q", out)
		return v, j + 2, true
	}
	i := 0
	for i < len(out) {
		cnt, j, ok := num(i, '*')
		if !ok {
			return cmds, maxCount
		}
		require.Positive(t, cnt)
		require.LessOrEqual(t, cnt, int64(protoMaxArgs))
		maxCount = max(maxCount, cnt)
		var args []string
		for ; cnt > 0; cnt-- {
			var l int64
			l, j, ok = num(j, '$')
			if !ok {
				return cmds, maxCount
			}
			require.GreaterOrEqual(t, l, int64(0))
			if int64(len(out)-j) < l+2 {
				return cmds, maxCount
			}
			args = append(args, string(out[j:j+int(l)]))
			j += int(l)
			require.Equal(t, "\r\n", string(out[j:j+2]), "%q", out)
			j += 2
		}
		cmds = append(cmds, args)
		i = j
	}
	return cmds, maxCount
}

// protoRefParse is processInputBuffer (networking.c, Redis 7.0) over a whole
// buffer, written independently of protoReader: the commands Redis would run,
// and the protocol error it would stop at ("" if it would wait for more).
// Like protoReader it reads the size limits strictly: a line is too big when
// more than PROTO_INLINE_MAX_SIZE bytes precede its terminator.
func protoRefParse(data []byte, maxBulk int64, auth bool) (cmds [][]string, errMsg string) {
	const limit = 64 * 1024
	// strchr(data+from, c), bounded as above; -1 when not found.
	strchr := func(from int, c byte) int {
		for i := from; i < len(data) && i-from <= limit; i++ {
			if data[i] == 0 {
				return -1
			}
			if data[i] == c {
				return i
			}
		}
		return -1
	}
	string2ll := func(b []byte) (int64, bool) {
		v, err := strconv.ParseInt(string(b), 10, 64)
		return v, err == nil && strconv.FormatInt(v, 10) == string(b)
	}
	pos := 0
	for pos < len(data) {
		if data[pos] != '*' {
			nl := strchr(pos, '\n')
			if nl < 0 {
				if len(data)-pos > limit {
					return cmds, "Protocol error: too big inline request"
				}
				return cmds, ""
			}
			end := nl
			if end > pos && data[end-1] == '\r' {
				end--
			}
			argv, ok := protoRefSplitArgs(data[pos:end])
			if !ok {
				return cmds, "Protocol error: unbalanced quotes in request"
			}
			pos = nl + 1
			if len(argv) > 0 {
				cmds = append(cmds, argv)
			}
			continue
		}
		nl := strchr(pos, '\r')
		if nl < 0 {
			if len(data)-pos > limit {
				return cmds, "Protocol error: too big mbulk count string"
			}
			return cmds, ""
		}
		if nl+1 >= len(data) {
			return cmds, ""
		}
		ll, ok := string2ll(data[pos+1 : nl])
		if !ok || ll > protoMaxArgs {
			return cmds, "Protocol error: invalid multibulk length"
		}
		if ll > 10 && auth {
			return cmds, "Protocol error: unauthenticated multibulk length"
		}
		pos = nl + 2
		if ll <= 0 {
			continue
		}
		var argv []string
		for ; ll > 0; ll-- {
			nl := strchr(pos, '\r')
			if nl < 0 {
				if len(data)-pos > limit {
					return cmds, "Protocol error: too big bulk count string"
				}
				return cmds, ""
			}
			if nl+1 >= len(data) {
				return cmds, ""
			}
			if data[pos] != '$' {
				c := data[pos]
				if c == '\r' || c == '\n' {
					c = ' '
				}
				return cmds, "Protocol error: expected '$', got '" + string([]byte{c}) + "'"
			}
			bl, ok := string2ll(data[pos+1 : nl])
			if !ok || bl < 0 || bl > maxBulk {
				return cmds, "Protocol error: invalid bulk length"
			}
			if bl > 16384 && auth {
				return cmds, "Protocol error: unauthenticated bulk length"
			}
			pos = nl + 2
			if int64(len(data)-pos) < bl+2 {
				return cmds, ""
			}
			argv = append(argv, string(data[pos:pos+int(bl)]))
			pos += int(bl) + 2
		}
		cmds = append(cmds, argv)
	}
	return cmds, ""
}

// protoRefSplitArgs is sdssplitargs transcribed over a NUL-terminated copy.
func protoRefSplitArgs(line []byte) ([]string, bool) {
	s := append(append([]byte{}, line...), 0)
	isspace := func(c byte) bool { return c != 0 && strings.IndexByte(" \t\n\v\f\r", c) >= 0 }
	ishex := func(c byte) bool { return c != 0 && strings.IndexByte("0123456789abcdefABCDEF", c) >= 0 }
	hexval := func(c byte) byte {
		return byte(strings.IndexByte("0123456789abcdef", c|0x20))
	}
	argv := []string{}
	p := 0
	for {
		for s[p] != 0 && isspace(s[p]) {
			p++
		}
		if s[p] == 0 {
			return argv, true
		}
		inq, insq, done := false, false, false
		var current []byte
		for !done {
			if inq {
				if s[p] == '\\' && s[p+1] == 'x' && ishex(s[p+2]) && ishex(s[p+3]) {
					current = append(current, hexval(s[p+2])*16+hexval(s[p+3]))
					p += 3
				} else if s[p] == '\\' && s[p+1] != 0 {
					p++
					c := map[byte]byte{'n': '\n', 'r': '\r', 't': '\t', 'b': '\b', 'a': '\a'}[s[p]]
					if c == 0 {
						c = s[p]
					}
					current = append(current, c)
				} else if s[p] == '"' {
					if s[p+1] != 0 && !isspace(s[p+1]) {
						return nil, false
					}
					done = true
				} else if s[p] == 0 {
					return nil, false
				} else {
					current = append(current, s[p])
				}
			} else if insq {
				if s[p] == '\\' && s[p+1] == '\'' {
					p++
					current = append(current, '\'')
				} else if s[p] == '\'' {
					if s[p+1] != 0 && !isspace(s[p+1]) {
						return nil, false
					}
					done = true
				} else if s[p] == 0 {
					return nil, false
				} else {
					current = append(current, s[p])
				}
			} else {
				switch s[p] {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					current = append(current, s[p])
				}
			}
			if s[p] != 0 {
				p++
			}
		}
		argv = append(argv, string(current))
	}
}

// FuzzProtoReader: any byte stream, read with any limits and auth state,
// chunking and read sizes (opts), gives exactly the commands and protocol
// error of the reference model (protoCheck), and the same whether it
// arrives at once or cut at any points (cuts; protoCheckSplit).
func FuzzProtoReader(f *testing.F) {
	cuts := [][]byte{nil, {0}, {2, 0, 9}, {255, 1}}
	for i, c := range protoCases {
		if len(c.in) < 4096 {
			f.Add([]byte(c.in), uint16(0), cuts[i%len(cuts)])
			f.Add([]byte(c.in), uint16(0xffff), cuts[(i+1)%len(cuts)])
		}
	}
	f.Add([]byte("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"), uint16(0x1234), []byte{4, 0, 1})
	f.Add([]byte("PING\r\n*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\nSET \"a b\" 'c'\n*1\r\n$x\r\n"), uint16(0x0101), []byte{0, 0, 0, 5})
	f.Fuzz(func(t *testing.T, in []byte, opts uint16, cuts []byte) {
		protoCheck(t, in, opts)
		protoCheckSplit(t, in, opts, cuts)
	})
}

// protoCutReader serves data in pieces whose sizes come from cuts, in
// turn: a cut of 0 is an empty read (never two in a row), n any other is
// n bytes. It counts the reads made after it has returned EOF.
type protoCutReader struct {
	data     []byte
	cuts     []byte
	i        int
	lastNop  bool
	afterEOF int
}

func (c *protoCutReader) Read(b []byte) (int, error) {
	if len(c.data) == 0 {
		c.afterEOF++
		return 0, io.EOF
	}
	n := len(c.data)
	if len(c.cuts) > 0 {
		n = int(c.cuts[c.i%len(c.cuts)])
		c.i++
		if n == 0 && !c.lastNop {
			c.lastNop = true
			return 0, nil
		}
		n = max(n, 1)
	}
	c.lastNop = false
	n = min(n, len(b), len(c.data))
	copy(b, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// protoProgressReader sits between protoReader and redcon and checks that
// every Read makes progress (bytes or an error: a (0, nil) would have the
// server spin) and that there are no more Reads than bytes out.
type protoProgressReader struct {
	t     testing.TB
	pr    *protoReader
	calls int
	out   int
}

func (p *protoProgressReader) Read(b []byte) (int, error) {
	n, err := p.pr.Read(b)
	p.calls++
	p.out += n
	if len(b) > 0 && n == 0 && err == nil {
		p.t.Fatalf("protoReader.Read made no progress (call %d)", p.calls)
	}
	if n < 0 || n > len(b) {
		p.t.Fatalf("protoReader.Read returned %d for a buffer of %d", n, len(b))
	}
	if p.calls > p.out+2 {
		p.t.Fatalf("%d Reads for %d bytes", p.calls, p.out)
	}
	return n, err
}

// protoCheckSplit runs in through protoReader and redcon, as the server
// does, whole and cut as cuts says, and requires the same commands and the
// same end: EOF, or a protocol error the server can send as one error line.
func protoCheckSplit(t *testing.T, in []byte, opts uint16, cuts []byte) {
	t.Helper()
	auth := opts&1 != 0
	lim := &ProtoLimits{}
	lim.MaxBulkLen.Store(protoFuzzMaxBulk[int(opts>>1&7)%len(protoFuzzMaxBulk)])
	runCut := func(cuts []byte) protoResult {
		src := &protoCutReader{data: in, cuts: cuts}
		pp := &protoProgressReader{t: t, pr: newProtoReader(src, lim, func() bool { return auth })}
		res := protoRedcon(t, pp)
		require.LessOrEqual(t, src.afterEOF, 1, "reads after EOF")
		return res
	}
	whole := runCut(nil)
	split := runCut(cuts)
	require.Equal(t, whole, split, "input %q cut by %v", in, cuts)
	if whole.Err != "" {
		require.True(t, strings.HasPrefix(whole.Err, "Protocol error: "), "%q", whole.Err)
		require.False(t, strings.ContainsAny(whole.Err, "\r\n"), "%q", whole.Err)
	}
}

// protoLoopReader serves its block over and over, like a pipelining client.
type protoLoopReader struct {
	block []byte
	off   int
}

func (l *protoLoopReader) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k := copy(b[n:], l.block[l.off:])
		n += k
		l.off = (l.off + k) % len(l.block)
	}
	return n, nil
}

// BenchmarkProtoReader: one op is one pipelined `SET key value` request.
func BenchmarkProtoReader(b *testing.B) {
	const req = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
	block := []byte(strings.Repeat(req, 1000))
	b.Run("pipelined", func(b *testing.B) {
		pr := newProtoReader(&protoLoopReader{block: block}, nil, func() bool { return false })
		buf := make([]byte, 16<<10)
		b.SetBytes(int64(len(req)))
		b.ReportAllocs()
		b.ResetTimer()
		for got, total := 0, b.N*len(req); got < total; {
			n, err := pr.Read(buf)
			if err != nil {
				b.Fatal(err)
			}
			got += n
		}
	})
	// For scale: the underlying copy alone, and the whole path into redcon.
	b.Run("copy-only", func(b *testing.B) {
		src := &protoLoopReader{block: block}
		buf := make([]byte, 16<<10)
		b.SetBytes(int64(len(req)))
		b.ResetTimer()
		for got, total := 0, b.N*len(req); got < total; {
			n, _ := src.Read(buf)
			got += n
		}
	})
	for _, wrap := range []bool{false, true} {
		b.Run(fmt.Sprintf("frame/proto=%v", wrap), func(b *testing.B) {
			var r io.Reader = &protoLoopReader{block: block}
			if wrap {
				r = newProtoReader(r, nil, func() bool { return false })
			}
			rd := newReqReader(r)
			b.SetBytes(int64(len(req)))
			b.ReportAllocs()
			b.ResetTimer()
			for got := 0; got < b.N; {
				cmds, err := rd.ReadCommands()
				if err != nil {
					b.Fatal(err)
				}
				got += len(cmds)
			}
		})
	}
}
