package main

// Black-box test harness: the tests in this package build the real lux binary
// and talk to it over TCP exactly as outside clients do, next to a real
// redis-server for differential checks. Helpers here are shared by every
// *_test.go file of the package (crash tests included).

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to answer PING after start
// (recovery of a large data directory under -race on a loaded 2-core machine
// is slow, so this is generous; it is a failure bound, not a timing assertion).
const startTimeout = 60 * time.Second

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

// TestMain removes the directory holding the binary built by buildLux.
// Servers started by tests are killed by their own cleanups before this runs.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildLux builds ./cmd/lux (this package) once per test binary with
// CGO_ENABLED=0 and returns the path of the executable. LUX_TEST_RACE=1
// builds it with -race instead, to hunt data races in the server under the
// black-box tests.
func buildLux(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "lux-test-bin-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "lux")
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		}
		args, cgo := []string{"build", "-o", buildBin}, "CGO_ENABLED=0"
		if os.Getenv("LUX_TEST_RACE") == "1" {
			// Opt-in: a race-instrumented server (the detector needs cgo).
			// Startup cleanups fail the test on any "DATA RACE" report.
			args, cgo = append(args, "-race"), "CGO_ENABLED=1"
		}
		cmd := exec.Command(goTool, append(args, ".")...)
		cmd.Env = append(os.Environ(), cgo)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/lux: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// requireTool makes sure an external program the test needs is on PATH and
// returns its path. A missing tool fails the test under CI=true (CI must
// install it) and skips it elsewhere, so a developer without Redis installed
// can still run the rest of the suite.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found on PATH (CI=true: .ci/run must install it): %v", name, err)
	}
	t.Skipf("%s not found on PATH; install it (Debian: apt-get install redis-server redis-tools) to run this test", name)
	return ""
}

// freePort asks the kernel for a free loopback TCP port. The port is released
// before the server binds it, so another process could grab it in between;
// start() retries with a new port when that happens.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects a child's output; exec writes it from another goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Bounded so a chatty server cannot eat the test's memory.
	if b.buf.Len() < 1<<20 {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a server child process (lux or redis-server) on a loopback port.
type proc struct {
	t    testing.TB
	name string
	bin  string
	// argv builds the full argument list for a port; kept so Restart can
	// start the same server again on the same port and directory.
	argv func(port int) []string

	// Port and Addr ("127.0.0.1:Port") are where the server listens.
	Port int
	Addr string
	// Dir is the server's data directory (lux --data-dir, redis --dir).
	Dir string
	// Cmd is the running (or last) process.
	Cmd *exec.Cmd

	out    *lockedBuffer
	waited chan struct{} // closed when Cmd has exited
	werr   error         // Cmd.Wait result, valid after waited is closed
}

// luxProc is a lux server started by startLux.
type luxProc struct{ proc }

// redisProc is a real redis-server started by startRedis.
type redisProc struct{ proc }

// startLux starts the built lux binary on a free loopback port with its own
// temporary data directory and waits until it answers PING. Extra args are
// appended after the defaults and so override them (Go's flag package keeps
// the last value; the defaults disable the chat demo, "--demo", addr turns it
// on): pass "--persistence=false" for an in-memory server, or
// "--data-dir", dir to use a directory of your own (Dir reports it). The
// process is killed when the test ends.
func startLux(t testing.TB, args ...string) *luxProc {
	t.Helper()
	bin := buildLux(t)
	dir := t.TempDir()
	for i, a := range args {
		switch {
		case (a == "--data-dir" || a == "-data-dir") && i+1 < len(args):
			dir = args[i+1]
		case strings.HasPrefix(a, "--data-dir="):
			dir = strings.TrimPrefix(a, "--data-dir=")
		case strings.HasPrefix(a, "-data-dir="):
			dir = strings.TrimPrefix(a, "-data-dir=")
		}
	}
	extra := append([]string(nil), args...)
	p := &luxProc{proc{t: t, name: "lux", bin: bin, Dir: dir}}
	p.argv = func(port int) []string {
		// --demo= : no chat demo unless a test asks for one with
		// "--demo", addr (tests run in parallel; 8080 is the user's)
		a := []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--data-dir", dir, "--demo="}
		return append(a, extra...)
	}
	p.start(0)
	return p
}

// startRedis starts the real /usr/bin/redis-server (whatever is on PATH) with
// persistence off, on a free loopback port and a temporary directory, and
// waits until it answers PING. Extra args are redis-server command-line
// options ("--maxmemory", "1mb"). It is killed when the test ends.
func startRedis(t testing.TB, args ...string) *redisProc {
	t.Helper()
	bin := requireTool(t, "redis-server")
	dir := t.TempDir()
	extra := append([]string(nil), args...)
	p := &redisProc{proc{t: t, name: "redis-server", bin: bin, Dir: dir}}
	p.argv = func(port int) []string {
		a := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
			"--appendonly", "no", "--dir", dir, "--daemonize", "no", "--protected-mode", "no",
			"--enable-debug-command", "yes", // DEBUG PROTOCOL in the diff scripts
			"--logfile", ""}
		return append(a, extra...)
	}
	p.start(0)
	return p
}

// start launches the process on port (0 = pick a free one) and waits for
// PING. With a picked port it retries a few times in case another process
// took the port between freePort and the server's bind.
func (p *proc) start(port int) {
	p.t.Helper()
	tries := 1
	if port == 0 {
		tries = 5
	}
	var lastErr error
	for i := 0; i < tries; i++ {
		pt := port
		if pt == 0 {
			pt = freePort(p.t)
		}
		if lastErr = p.launch(pt); lastErr == nil {
			return
		}
		if !p.exited() {
			// Alive but not answering: not a port race, give up now.
			break
		}
	}
	p.t.Fatalf("%s did not start: %v\n--- %s output ---\n%s", p.name, lastErr, p.name, p.Output())
}

// launch starts one process on port and waits until it answers PING.
func (p *proc) launch(port int) error {
	p.Port = port
	p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p.out = &lockedBuffer{}
	cmd := exec.Command(p.bin, p.argv(port)...)
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	p.Cmd = cmd
	waited := make(chan struct{})
	p.waited = waited
	go func() {
		err := cmd.Wait()
		p.werr = err
		close(waited)
	}()
	// Cleanup registered per launch so a restarted process is reaped too.
	p.t.Cleanup(func() {
		if !isClosed(waited) {
			cmd.Process.Kill()
			<-waited
		}
		if strings.Contains(p.out.String(), "WARNING: DATA RACE") {
			p.t.Errorf("%s (port %d) reported a data race", p.name, port)
		}
		if p.t.Failed() {
			p.t.Logf("--- %s (port %d) output ---\n%s", p.name, port, p.out.String())
		}
	})
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		if isClosed(waited) {
			return fmt.Errorf("exited during startup: %v", p.werr)
		}
		if err := pingOnce(p.Addr); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-waited
	return fmt.Errorf("no PING reply within %s", startTimeout)
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// pingOnce reports whether a server at addr answers PING. A NOAUTH error
// counts as answering: the server is up, it just wants a password.
func pingOnce(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line == "+PONG\r\n" || strings.HasPrefix(line, "-NOAUTH") {
		return nil
	}
	return fmt.Errorf("unexpected PING reply %q", line)
}

// exited reports whether the current process has exited.
func (p *proc) exited() bool { return p.waited == nil || isClosed(p.waited) }

// Alive reports whether the server process is still running.
func (p *proc) Alive() bool { return !p.exited() }

// Output returns what the current process wrote to stdout and stderr so far.
func (p *proc) Output() string {
	if p.out == nil {
		return ""
	}
	return p.out.String()
}

// Kill9 kills the process with SIGKILL (a crash: no shutdown code runs) and
// waits for it to be gone.
func (p *proc) Kill9() {
	p.t.Helper()
	if p.exited() {
		return
	}
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.waited
}

// Stop sends SIGTERM and waits for a graceful exit. It returns the process's
// exit error (nil for exit status 0); if the process does not exit within
// startTimeout it is killed and the test fails.
func (p *proc) Stop() error {
	p.t.Helper()
	if p.exited() {
		return p.werr
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.waited:
		return p.werr
	case <-time.After(startTimeout):
		p.Cmd.Process.Kill()
		<-p.waited
		p.t.Fatalf("%s did not exit within %s of SIGTERM\n%s", p.name, startTimeout, p.Output())
		return p.werr
	}
}

// Restart starts the server again with the same arguments, port and data
// directory (after Kill9 or Stop; a still-running process is stopped with
// SIGTERM first) and waits until it answers PING.
func (p *proc) Restart() {
	p.t.Helper()
	if !p.exited() {
		p.Stop()
	}
	p.start(p.Port)
}

// respConn is a raw RESP connection for byte-exact replies.
type respConn struct {
	t  testing.TB
	c  net.Conn
	rd *bufio.Reader
	// Timeout bounds each reply read (default 10s) so a missing reply fails
	// the test instead of hanging it.
	Timeout time.Duration
}

// dialRESP opens a raw connection to addr, closed when the test ends.
func dialRESP(t testing.TB, addr string) *respConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &respConn{t: t, c: c, rd: bufio.NewReaderSize(c, 64<<10), Timeout: 10 * time.Second}
}

// encodeCommand encodes args as a RESP multibulk request.
func encodeCommand(args ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.Bytes()
}

// Send writes one command without reading its reply (for pipelining).
func (r *respConn) Send(args ...string) {
	r.t.Helper()
	r.Write(encodeCommand(args...))
}

// Write writes raw bytes.
func (r *respConn) Write(b []byte) {
	r.t.Helper()
	r.c.SetWriteDeadline(time.Now().Add(r.Timeout))
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// Reply reads one complete reply and returns its raw bytes.
func (r *respConn) Reply() string {
	r.t.Helper()
	s, err := r.TryReply()
	if err != nil {
		r.t.Fatalf("reading reply: %v", err)
	}
	return s
}

// TryReply reads one complete reply, returning an error (io.EOF when the
// server closed the connection) instead of failing the test.
func (r *respConn) TryReply() (string, error) {
	r.c.SetReadDeadline(time.Now().Add(r.Timeout))
	b, err := readReply(r.rd)
	return string(b), err
}

// Do sends a command and returns its raw reply.
func (r *respConn) Do(args ...string) string {
	r.t.Helper()
	r.Send(args...)
	return r.Reply()
}

// pending reports whether reply bytes arrive within d, without consuming
// anything (a timed-out Peek leaves the reader usable).
func (r *respConn) pending(d time.Duration) bool {
	if r.rd.Buffered() > 0 {
		return true
	}
	r.c.SetReadDeadline(time.Now().Add(d))
	_, err := r.rd.Peek(1)
	return err == nil
}

// Close closes the connection.
func (r *respConn) Close() { r.c.Close() }

// errProtocol marks a reply that is not valid RESP.
var errProtocol = errors.New("invalid RESP reply")

// readReply reads one complete RESP2 or RESP3 reply and returns its raw bytes
// exactly as received, so callers can compare servers byte for byte.
func readReply(rd *bufio.Reader) ([]byte, error) {
	var out []byte
	err := readReplyInto(rd, &out, 0)
	return out, err
}

func readReplyInto(rd *bufio.Reader, out *[]byte, depth int) error {
	if depth > 64 {
		return fmt.Errorf("%w: nesting too deep", errProtocol)
	}
	line, err := rd.ReadBytes('\n')
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	*out = append(*out, line...)
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return fmt.Errorf("%w: bad line %q", errProtocol, line)
	}
	head := string(line[1 : len(line)-2])
	switch line[0] {
	case '+', '-', ':', '_', ',', '#', '(':
		return nil
	case '$', '=', '!': // bulk string, verbatim string, blob error
		n, err := strconv.Atoi(head)
		if err != nil {
			return fmt.Errorf("%w: bad length %q", errProtocol, line)
		}
		if n < 0 {
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return err
		}
		*out = append(*out, buf...)
		return nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(head)
		if err != nil {
			return fmt.Errorf("%w: bad count %q", errProtocol, line)
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for i := 0; i < n; i++ {
			if err := readReplyInto(rd, out, depth+1); err != nil {
				return err
			}
		}
		if line[0] == '|' { // an attribute precedes the actual reply
			return readReplyInto(rd, out, depth+1)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown type byte in %q", errProtocol, line)
}
