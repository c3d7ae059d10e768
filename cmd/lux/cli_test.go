package main

// redis-cli against lux: the real Debian redis-cli is run with the same
// arguments against Redis and lux, and its output (stdout, stderr, exit code)
// must be identical. This covers the formats users see (raw when piped,
// --no-raw, --csv), stdin modes (-x, commands on stdin), --pipe mass
// insertion and the SCAN-based --scan.

import (
	"bytes"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cliResult is what one redis-cli run produced.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs redis-cli against port with args, feeding stdin.
func runCLI(t testing.TB, port int, stdin string, args ...string) cliResult {
	t.Helper()
	bin := requireTool(t, "redis-cli")
	full := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)
	cmd := exec.Command(bin, full...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-cli: %v", err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("redis-cli %q did not finish within 60s; output so far %q", args, out.String())
	}
	return cliResult{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode()}
}

// cliCase is one redis-cli invocation; sorted compares stdout as a set of
// lines (for --scan, whose order is the server's).
type cliCase struct {
	stdin  string
	args   []string
	sorted bool
}

func cliCases() []cliCase {
	a := func(args ...string) cliCase { return cliCase{args: args} }
	return []cliCase{
		a("PING"),
		a("ECHO", "hello world"),
		a("SET", "k", "v"),
		a("GET", "k"),
		a("GET", "nope"),
		a("INCR", "n"),
		a("INCRBY", "n", "41"),
		a("INCRBYFLOAT", "f", "1.5"),
		a("MGET", "k", "nope", "n"),
		a("SET", "spaced", "a b\nc"),
		a("GET", "spaced"),
		a("STRLEN", "spaced"),
		a("SET", "k", "v", "NX"),
		a("SET", "t", "v", "EX", "100"),
		a("TTL", "t"),
		a("INCR", "k"),
		a("BOGUS", "x"),
		a("GET"),
		a("--no-raw", "GET", "k"),
		a("--no-raw", "GET", "nope"),
		a("--no-raw", "INCR", "n"),
		a("--no-raw", "MGET", "k", "nope", "n"),
		a("--no-raw", "SET", "k2", "v2"),
		a("--no-raw", "INCR", "k"),
		a("--no-raw", "BOGUS"),
		a("--no-raw", "GET", "spaced"),
		a("--no-raw", "KEYS", "nomatch*"),
		a("--no-raw", "EXISTS", "k", "k2", "nope"),
		a("--no-raw", "PING"),
		a("--raw", "MGET", "k", "nope"),
		a("--csv", "MGET", "k", "nope", "n"),
		a("--csv", "INCR", "n"),
		a("-e", "INCR", "k"),
		a("-e", "GET", "k"),
		a("-n", "3", "SET", "db3", "yes"),
		a("-n", "3", "GET", "db3"),
		a("GET", "db3"),
		a("-n", "16", "PING"),
		a("-r", "5", "INCR", "rep"),
		a("-r", "3", "--no-raw", "INCR", "rep"),
		{stdin: "from stdin\n", args: []string{"-x", "SET", "xkey"}},
		a("GET", "xkey"),
		{stdin: "SET s1 1\nINCR s1\nGET s1\nBOGUS\nMGET s1 nope\n\"ECHO\" \"quoted arg\"\n", args: nil},
		{stdin: "SET s2 2\nGET s2\nGET nope\nINCR s\n", args: []string{"--no-raw"}},
		a("MSET", "scan:1", "a", "scan:2", "b", "other", "c"),
		{args: []string{"--scan"}, sorted: true},
		{args: []string{"--scan", "--pattern", "scan:*"}, sorted: true},
		a("DBSIZE"),
	}
}

// TestRedisCLIMatchesRedis runs the cases against both servers.
func TestRedisCLIMatchesRedis(t *testing.T) {
	requireTool(t, "redis-cli")
	red := startRedis(t)
	lux := startLux(t, "--persistence=false")
	for i, tc := range cliCases() {
		want := runCLI(t, red.Port, tc.stdin, tc.args...)
		got := runCLI(t, lux.Port, tc.stdin, tc.args...)
		if tc.sorted {
			want.stdout, got.stdout = sortLines(want.stdout), sortLines(got.stdout)
		}
		if got != want {
			t.Errorf("case %d: redis-cli %q (stdin %q)\n  redis: %+v\n  lux:   %+v", i, tc.args, tc.stdin, want, got)
		}
	}
	if !lux.Alive() {
		t.Fatalf("lux died:\n%s", lux.Output())
	}
}

func sortLines(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// pipeInput is a --pipe stream (raw RESP) of n commands: SETs, INCRs and,
// when withErrors, a few commands that fail.
func pipeInput(n int, withErrors bool) (string, int) {
	var b bytes.Buffer
	errs := 0
	for i := 0; i < n; i++ {
		switch {
		case withErrors && i%500 == 250:
			b.Write(encodeCommand("INCR", "key:0")) // key:0 holds "value:0"
			errs++
		case i%10 == 9:
			b.Write(encodeCommand("INCR", "counter"))
		default:
			b.Write(encodeCommand("SET", fmt.Sprintf("key:%d", i), fmt.Sprintf("value:%d", i)))
		}
	}
	return b.String(), errs
}

// TestRedisCLIPipe mass-inserts a few thousand commands with --pipe and
// checks redis-cli's summary (same as against Redis) and the data.
func TestRedisCLIPipe(t *testing.T) {
	requireTool(t, "redis-cli")
	red := startRedis(t)
	lux := startLux(t, "--persistence=false")
	const n = 5000
	for _, withErrors := range []bool{false, true} {
		in, errs := pipeInput(n, withErrors)
		runCLI(t, red.Port, "", "FLUSHALL")
		runCLI(t, lux.Port, "", "FLUSHALL")
		want := runCLI(t, red.Port, in, "--pipe")
		got := runCLI(t, lux.Port, in, "--pipe")
		summary := fmt.Sprintf("errors: %d, replies: %d", errs, n)
		if !strings.Contains(want.stdout, summary) {
			t.Fatalf("test bug: redis --pipe output %q lacks %q", want.stdout, summary)
		}
		// The error lines quote replies; the rest of the output is fixed text.
		if got != want {
			t.Errorf("--pipe (errors=%v):\n  redis: %+v\n  lux:   %+v", withErrors, want, got)
		}
		for _, args := range [][]string{{"DBSIZE"}, {"GET", "key:0"}, {"GET", "key:4998"}, {"GET", "counter"}, {"GET", "key:9"}} {
			w, g := runCLI(t, red.Port, "", args...), runCLI(t, lux.Port, "", args...)
			if g != w {
				t.Errorf("after --pipe: %q: redis %+v, lux %+v", args, w, g)
			}
		}
	}
	if !lux.Alive() {
		t.Fatalf("lux died:\n%s", lux.Output())
	}
}

// TestRedisCLIAuth checks -a against a password-protected lux, and the
// NOAUTH error without it.
func TestRedisCLIAuth(t *testing.T) {
	requireTool(t, "redis-cli")
	red := startRedis(t, "--requirepass", "pw")
	lux := startLux(t, "--persistence=false", "--requirepass", "pw")
	for _, args := range [][]string{
		{"GET", "x"},
		{"--no-raw", "SET", "x", "1"},
		{"-a", "pw", "--no-auth-warning", "SET", "x", "1"},
		{"-a", "pw", "--no-auth-warning", "GET", "x"},
		{"-a", "wrong", "--no-auth-warning", "GET", "x"},
		{"--user", "default", "--pass", "pw", "--no-auth-warning", "PING"},
	} {
		w, g := runCLI(t, red.Port, "", args...), runCLI(t, lux.Port, "", args...)
		if g != w {
			t.Errorf("redis-cli %q:\n  redis: %+v\n  lux:   %+v", args, w, g)
		}
	}
}
