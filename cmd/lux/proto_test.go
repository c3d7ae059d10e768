package main

// Protocol and bad-input tests against the real binary over raw TCP: a
// malformed request gets Redis's protocol error (byte for byte, compared with
// a real redis-server) and closes only that connection; the server keeps
// serving everyone else and never crashes.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawExchange connects to addr, writes input (concurrently with reading, so
// a server that answers and closes early is still heard), half-closes, and
// returns everything the server sent until it closed the connection. A reset
// after the server closed on unread input counts as the end of the stream.
func rawExchange(t testing.TB, addr string, input []byte) ([]byte, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Errors here mean the server closed first; the reader sees why.
		if _, err := c.Write(input); err == nil {
			c.(*net.TCPConn).CloseWrite()
		}
	}()
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			wg.Wait()
			if err == io.EOF || isReset(err) {
				return out.Bytes(), nil
			}
			return out.Bytes(), err
		}
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// checkAlive fails the test unless the server process runs and a separate,
// long-lived connection still gets PONG.
func checkAlive(t testing.TB, p *luxProc, ctl *respConn, context string) {
	t.Helper()
	if !p.Alive() {
		t.Fatalf("lux died after %s:\n%s", context, p.Output())
	}
	if got := ctl.Do("PING"); got != "+PONG\r\n" {
		t.Fatalf("control connection after %s: PING = %q", context, got)
	}
}

// protoCase is one malformed (or odd but legal) request stream.
type protoCase struct {
	name  string
	input []byte
}

func protoCases() []protoCase {
	big := func(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	s := func(v string) []byte { return []byte(v) }
	return []protoCase{
		{"multibulk 3000000000", s("*3000000000\r\n")},
		{"multibulk over int32", s("*99999999999999999999\r\n")},
		{"multibulk not a number", s("*abc\r\n")},
		{"multibulk empty count", s("*\r\n")},
		{"multibulk negative is ignored", s("*-1\r\nPING\r\n")},
		{"multibulk minus ten is ignored", s("*-10\r\n*1\r\n$4\r\nPING\r\n")},
		{"multibulk zero is ignored", s("*0\r\n*1\r\n$4\r\nPING\r\n")},
		{"bulk negative length", s("*1\r\n$-5\r\n")},
		{"bulk minus one", s("*1\r\n$-1\r\n")},
		{"bulk not a number", s("*1\r\n$abc\r\n")},
		{"bulk empty length", s("*1\r\n$\r\n")},
		{"bulk over proto-max-bulk-len", s("*1\r\n$600000000\r\n")},
		{"bulk 1GB claimed then disconnect", s("*2\r\n$3\r\nSET\r\n$1073741824\r\nabc")},
		{"bulk huge number", s("*1\r\n$99999999999999999999\r\n")},
		{"expected dollar", s("*1\r\nPING\r\n")},
		{"expected dollar got colon", s("*2\r\n$4\r\nECHO\r\n:5\r\n")},
		{"inline unbalanced double quote", s("SET \"a b\r\n")},
		{"inline unbalanced single quote", s("ECHO 'abc\r\n")},
		{"inline quote not followed by space", s("ECHO \"hello\"x\r\n")},
		{"inline quoted escapes", s("ECHO \"a\\x41\\n\\\"\" 'it\\'s'\r\nECHO \"\\xZZ\"\r\n")},
		{"inline empty lines", s("\r\n\r\n\n  \r\nPING\r\n")},
		{"inline LF only", s("PING\nECHO hi\n")},
		{"inline too big", big(70000, 'a')},
		{"inline big but terminated", cat(s("ECHO "), big(60000, 'b'), s("\r\n"))},
		{"multibulk count string too big", cat(s("*"), big(70000, '1'))},
		{"bulk count string too big", cat(s("*1\r\n$"), big(70000, '1'))},
		{"partial command then EOF", s("*2\r\n$4\r\nECHO\r\n$5\r\nhel")},
		{"missing argument then EOF", s("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n")},
		{"pipeline then garbage", s("*1\r\n$4\r\nPING\r\nPING\r\n*1\r\n$-7\r\nPING\r\n")},
		{"nul bytes inline", s("\x00\x00\x00\r\n")},
		{"unknown inline command", s("NOSUCH a b\r\n")},
		{"binary bulk", cat(s("*2\r\n$4\r\nECHO\r\n$4\r\n"), []byte{0, 0xff, '\r', '\n'}, s("\r\n"))},
	}
}

// TestProtocolErrorsMatchRedis sends each malformed stream to Redis and lux:
// the bytes sent back before the connection ends must be identical, and lux
// must go on serving a separate connection.
func TestProtocolErrorsMatchRedis(t *testing.T) {
	red := startRedis(t)
	lux := startLux(t, "--persistence=false")
	ctl := dialRESP(t, lux.Addr)
	for _, tc := range protoCases() {
		t.Run(tc.name, func(t *testing.T) {
			want, err := rawExchange(t, red.Addr, tc.input)
			if err != nil {
				t.Fatalf("redis: %v (got %q)", err, want)
			}
			got, err := rawExchange(t, lux.Addr, tc.input)
			if err != nil {
				t.Errorf("lux: connection did not end cleanly: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("input %q\n  redis: %q\n  lux:   %q", trunc(tc.input), want, got)
			}
			checkAlive(t, lux, ctl, tc.name)
		})
	}
}

// TestProtocolErrorClosesConnection checks the other half of the contract:
// after a protocol error the offending connection is closed even though the
// client keeps it open, and commands pipelined after the bad request are not
// run.
func TestProtocolErrorClosesConnection(t *testing.T) {
	lux := startLux(t, "--persistence=false")
	ctl := dialRESP(t, lux.Addr)
	for _, in := range []string{
		"*3000000000\r\n*3\r\n$3\r\nSET\r\n$4\r\nleak\r\n$1\r\n1\r\n",
		"*1\r\n$-5\r\n*3\r\n$3\r\nSET\r\n$4\r\nleak\r\n$1\r\n1\r\n",
		"*1\r\nPING\r\n*3\r\n$3\r\nSET\r\n$4\r\nleak\r\n$1\r\n1\r\n",
		"SET \"a b\r\n*3\r\n$3\r\nSET\r\n$4\r\nleak\r\n$1\r\n1\r\n",
	} {
		c := dialRESP(t, lux.Addr)
		c.Write([]byte(in))
		r, err := c.TryReply()
		if err != nil || !strings.HasPrefix(r, "-ERR Protocol error: ") {
			t.Errorf("input %q: reply %q, %v; want a protocol error", in, r, err)
		}
		if r, err := c.TryReply(); err == nil {
			t.Errorf("input %q: connection still open, next reply %q", in, r)
		}
		c.Close()
		checkAlive(t, lux, ctl, fmt.Sprintf("%q", in))
	}
	if got := ctl.Do("EXISTS", "leak"); got != ":0\r\n" {
		t.Errorf("a command pipelined after a protocol error ran: EXISTS leak = %q", got)
	}
}

// TestProtocolConnectionEnds covers requests where lux may legitimately
// differ from Redis (lux caps a request at 1M arguments and answers "invalid
// multibulk length" above that, where Redis waits for up to INT_MAX
// arguments): whatever the server answers must be well-formed, and the
// connection must end once the client half-closes, not hang.
func TestProtocolConnectionEnds(t *testing.T) {
	lux := startLux(t, "--persistence=false")
	ctl := dialRESP(t, lux.Addr)
	for _, in := range []string{
		"*2000000000\r\n",
		"*1832236720\r\n*1\r\n$3\r\nGET\r\n",
		"*1048577\r\n$1\r\na\r\n",
		"*1048576\r\n$1\r\na\r\n",
		"*1\r\n$536870912\r\nabc",
		"*2\r\n$3\r\nGET\r\n",
		"*1\r\n$4\r\nPI",
	} {
		out, err := rawExchange(t, lux.Addr, []byte(in))
		if err != nil {
			t.Errorf("input %q: connection did not end after client EOF: %v (got %q)", in, err, out)
		} else if err := validRESP(out); err != nil {
			t.Errorf("input %q: invalid reply %q: %v", in, out, err)
		} else if len(out) > 0 && !strings.HasPrefix(string(out), "-ERR Protocol error: ") {
			t.Errorf("input %q: reply %q, want nothing or a protocol error", in, out)
		}
		checkAlive(t, lux, ctl, fmt.Sprintf("%q", in))
	}
}

// TestUnauthenticatedLimits compares the stricter request limits Redis
// applies before AUTH (multibulk > 10 items, bulk > 16 KiB).
func TestUnauthenticatedLimits(t *testing.T) {
	red := startRedis(t, "--requirepass", "sekret")
	lux := startLux(t, "--persistence=false", "--requirepass", "sekret")
	for _, in := range []string{
		"*11\r\n",
		"*10\r\n$4\r\nPING\r\n",
		"*1\r\n$16385\r\n",
		"*1\r\n$16384\r\n",
		"*2\r\n$4\r\nAUTH\r\n$6\r\nsekret\r\n*20\r\n",
		"*2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\n", // GET, not PING: lux answers PING before AUTH (documented)
	} {
		want, err := rawExchange(t, red.Addr, []byte(in))
		if err != nil {
			t.Fatalf("redis: %v", err)
		}
		got, err := rawExchange(t, lux.Addr, []byte(in))
		if err != nil {
			t.Errorf("lux: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("input %q\n  redis: %q\n  lux:   %q", in, want, got)
		}
	}
	if !lux.Alive() {
		t.Fatalf("lux died:\n%s", lux.Output())
	}
}

// TestClaimedBulkMemory opens several connections that each announce a bulk
// just under the 512 MB limit and send only a little of it: the server must
// not reserve the announced size up front (a few such clients would exhaust
// memory), and dropping the connections must leave it healthy.
func TestClaimedBulkMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	lux := startLux(t, "--persistence=false")
	ctl := dialRESP(t, lux.Addr)
	var conns []net.Conn
	for i := 0; i < 4; i++ {
		c, err := net.Dial("tcp", lux.Addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(append([]byte("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$536870000\r\n"), bytes.Repeat([]byte{'x'}, 1<<20)...)); err != nil {
			t.Fatal(err)
		}
	}
	checkAlive(t, lux, ctl, "four 512 MB bulk announcements")
	rss := rssBytes(t, lux.Cmd.Process.Pid)
	// Generous: the announcements add up to 2 GB; only what was sent (4 MB)
	// plus buffers should be resident.
	if rss > 1<<30 {
		t.Errorf("lux RSS %d MB after 4 announced 512 MB bulks (4 MB sent): preallocating claimed sizes", rss>>20)
	}
	for _, c := range conns {
		c.Close()
	}
	checkAlive(t, lux, ctl, "dropping the half-sent bulks")
	if got := ctl.Do("EXISTS", "big"); got != ":0\r\n" {
		t.Errorf("half-sent SET took effect: EXISTS big = %q", got)
	}
}

func rssBytes(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}

// fuzzTokens are the building blocks of random request streams: pieces of
// valid RESP, inline commands and hostile values. Only harmless commands
// appear, so a fuzz stream cannot shut the server down or flush it.
var fuzzTokens = []string{
	"*1\r\n$4\r\nPING\r\n", "*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
	"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n", "PING\r\n", "ECHO \"x y\"\r\n",
	"*", "$", ":", "+", "-", "\r\n", "\r", "\n", "\"", "'", "\\", "\\x", " ", "0", "1", "-1", "-5",
	"3000000000", "99999999999999999999", "536870912", "1073741824", "2147483648", "abc", "\x00", "\xff",
	"*2\r\n", "*-1\r\n", "$-1\r\n", "$5\r\n", "MULTI\r\n", "EXEC\r\n", "SUBSCRIBE c\r\n", "UNSUBSCRIBE\r\n",
	"*1\r\n$-7\r\n", "*1\r\n$600000000\r\n", "GET\r\n", "SET k\r\n", "*1\r\n$3\r\nGETx\r\n",
}

// fuzzInput builds one random request stream.
func fuzzInput(rng *rand.Rand) []byte {
	var b bytes.Buffer
	for n := rng.Intn(12) + 1; n > 0; n-- {
		switch rng.Intn(5) {
		case 0: // raw random bytes
			raw := make([]byte, rng.Intn(64))
			rng.Read(raw)
			b.Write(raw)
		case 1: // a random number where a length goes
			fmt.Fprintf(&b, "%c%d\r\n", "*$"[rng.Intn(2)], rng.Int63n(1<<40)-1<<39)
		default:
			b.WriteString(fuzzTokens[rng.Intn(len(fuzzTokens))])
		}
	}
	return b.Bytes()
}

// TestProtocolFuzz sends thousands of random streams. Each connection must
// end (the server closes on a protocol error or on our EOF), everything it
// sent must be well-formed RESP, and the server must stay up for a separate
// connection. The seed is logged; FUZZ_SEED reproduces a run, FUZZ_ITER
// changes the count.
func TestProtocolFuzz(t *testing.T) {
	lux := startLux(t, "--persistence=false")
	ctl := dialRESP(t, lux.Addr)
	seed := time.Now().UnixNano()
	if v, err := strconv.ParseInt(os.Getenv("FUZZ_SEED"), 10, 64); err == nil {
		seed = v
	}
	iters := 3000
	if v, err := strconv.Atoi(os.Getenv("FUZZ_ITER")); err == nil {
		iters = v
	}
	if testing.Short() {
		iters = 300
	}
	t.Logf("FUZZ_SEED=%d FUZZ_ITER=%d", seed, iters)
	rng := rand.New(rand.NewSource(seed))
	for i := 0; i < iters; i++ {
		in := fuzzInput(rng)
		out, err := rawExchange(t, lux.Addr, in)
		if err != nil {
			t.Fatalf("iteration %d: input %q: connection did not end: %v (got %q)", i, in, err, out)
		}
		if err := validRESP(out); err != nil {
			t.Fatalf("iteration %d: input %q: invalid reply stream %q: %v", i, in, out, err)
		}
		if i%100 == 99 {
			checkAlive(t, lux, ctl, fmt.Sprintf("fuzz iteration %d", i))
		}
	}
	checkAlive(t, lux, ctl, "fuzzing")
}

// validRESP checks that b is a sequence of complete RESP replies.
func validRESP(b []byte) error {
	for len(b) > 0 {
		_, rest, err := parseReply(b)
		if err != nil {
			return err
		}
		if len(rest) >= len(b) {
			return errors.New("no progress")
		}
		b = rest
	}
	return nil
}

func trunc(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + fmt.Sprintf("...(%d bytes)", len(b))
	}
	return string(b)
}
