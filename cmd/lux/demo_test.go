package main

// Black-box tests of the bundled chat demo as the binary serves it: next to
// the database (--demo ADDR), and as `lux demo --db URL` processes sharing
// one database.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// waitHTTP polls url until it answers 200.
func waitHTTP(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within %s", url, startTimeout)
}

// startWithDemo starts lux with the chat demo on a free port; it returns
// the server and the demo's base URL.
func startWithDemo(t testing.TB, args ...string) (*luxProc, string) {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	p := startLux(t, append([]string{"--demo", addr}, args...)...)
	base := "http://" + addr
	waitHTTP(t, base+"/healthz")
	return p, base
}

// demoProc is a `lux demo --db URL` process.
type demoProc struct {
	proc
	URL string
}

// startDemoProc runs only the web tier against the database at dbURL.
func startDemoProc(t testing.TB, dbURL string) *demoProc {
	t.Helper()
	port := freePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	d := &demoProc{proc: proc{t: t, name: "lux demo", bin: buildLux(t)}, URL: "http://" + addr}
	d.out = &lockedBuffer{}
	cmd := exec.Command(d.bin, "demo", "--db", dbURL, "--addr", addr)
	cmd.Stdout, cmd.Stderr = d.out, d.out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.Cmd = cmd
	waited := make(chan struct{})
	d.waited = waited
	go func() { d.werr = cmd.Wait(); close(waited) }()
	t.Cleanup(func() {
		if !isClosed(waited) {
			cmd.Process.Kill()
			<-waited
		}
		if t.Failed() {
			t.Logf("--- lux demo output ---\n%s", d.out.String())
		}
	})
	waitHTTP(t, d.URL+"/healthz")
	return d
}

// chatClient speaks the demo's WebSocket protocol; a goroutine reads
// frames into a channel (a Read whose context ends closes the socket).
type chatClient struct {
	t      testing.TB
	c      *websocket.Conn
	frames chan map[string]any
	err    error
	userID float64
}

func dialChat(t testing.TB, base string) *chatClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws",
		&websocket.DialOptions{Subprotocols: []string{"lux-chat.v1"}})
	if err != nil {
		t.Fatalf("dial %s: %v", base, err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	cc := &chatClient{t: t, c: c, frames: make(chan map[string]any, 256)}
	go func() {
		defer close(cc.frames)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				cc.err = err
				return
			}
			var f map[string]any
			if json.Unmarshal(b, &f) == nil {
				cc.frames <- f
			}
		}
	}()
	cc.expect("hello", nil)
	return cc
}

func (c *chatClient) send(v map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.c.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// expect waits for a frame of type typ that ok accepts (nil: any);
// it returns nil and the reader's error if the socket closes first.
func (c *chatClient) expect(typ string, ok func(map[string]any) bool) map[string]any {
	c.t.Helper()
	f, err := c.tryExpect(typ, ok, 15*time.Second)
	if err != nil {
		c.t.Fatalf("waiting for %q: %v", typ, err)
	}
	return f
}

func (c *chatClient) tryExpect(typ string, ok func(map[string]any) bool, d time.Duration) (map[string]any, error) {
	timeout := time.After(d)
	for {
		select {
		case f, open := <-c.frames:
			if !open {
				return nil, c.err
			}
			if f["type"] == typ && (ok == nil || ok(f)) {
				return f, nil
			}
		case <-timeout:
			return nil, fmt.Errorf("no such frame within %s", d)
		}
	}
}

// loginAndJoin logs in and joins #general; returns its id.
func (c *chatClient) loginAndJoin(name string) float64 {
	c.t.Helper()
	c.send(map[string]any{"type": "login", "name": name, "color": "#6d5dfc"})
	u := c.expect("login_ok", nil)["user"].(map[string]any)
	c.userID = u["id"].(float64)
	var general float64
	for _, ch := range c.expect("channels", nil)["channels"].([]any) {
		if m := ch.(map[string]any); m["name"] == "general" {
			general = m["id"].(float64)
		}
	}
	if general == 0 {
		c.t.Fatal("no #general")
	}
	c.send(map[string]any{"type": "join", "channel": general})
	c.expect("history", nil)
	return general
}

func textIs(s string) func(map[string]any) bool {
	return func(f map[string]any) bool {
		m, _ := f["message"].(map[string]any)
		return m != nil && m["text"] == s
	}
}

func TestDemoServedWithServer(t *testing.T) {
	pprofAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	p, base := startWithDemo(t, "--pprof", pprofAddr)
	if !strings.Contains(p.Output(), "chat demo on "+base) {
		t.Fatalf("start-up does not print the demo URL %s:\n%s", base, p.Output())
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "lux chat") {
		t.Fatalf("GET /: %d", resp.StatusCode)
	}
	// pprof is on its own address only
	if resp, err := http.Get(base + "/debug/pprof/"); err != nil || resp.StatusCode != 404 {
		t.Fatalf("pprof on the demo port: %v %v", resp, err)
	}
	waitHTTP(t, "http://"+pprofAddr+"/debug/pprof/")

	a := dialChat(t, base)
	ch := a.loginAndJoin("alice")
	b := dialChat(t, base)
	b.loginAndJoin("bob")
	a.send(map[string]any{"type": "send", "channel": ch, "text": "hi bob", "nonce": "1"})
	b.expect("message", textIs("hi bob"))

	// SIGTERM: the sockets are closed with 1001 before the database stops
	p.Cmd.Process.Signal(syscall.SIGTERM)
	if _, err := a.tryExpect("never", nil, 15*time.Second); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("socket closed with %v, want 1001", err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.Output())
	}
}

// Two web tiers on one database deliver each other's messages, typing
// and presence; the database needs a password, given in the URL.
func TestDemoTwoProcessesOneDatabase(t *testing.T) {
	db := startLux(t, "--requirepass", "s3cret")
	one := startDemoProc(t, "lux://:s3cret@"+db.Addr)
	two := startDemoProc(t, "redis://default:s3cret@"+db.Addr+"/0")

	a := dialChat(t, one.URL)
	ch := a.loginAndJoin("alice")
	b := dialChat(t, two.URL)
	b.loginAndJoin("bob")
	a.expect("presence", func(f map[string]any) bool {
		return f["online"] == true && f["user"].(map[string]any)["name"] == "bob"
	})
	a.send(map[string]any{"type": "send", "channel": ch, "text": "across processes", "nonce": "x"})
	b.expect("message", textIs("across processes"))
	b.send(map[string]any{"type": "send", "channel": ch, "text": "and back", "nonce": "y"})
	a.expect("message", textIs("and back"))
	b.send(map[string]any{"type": "typing", "channel": ch})
	a.expect("typing", nil)

	// a new channel made on one appears on the other
	a.send(map[string]any{"type": "create_channel", "name": "ops", "topic": "on call"})
	b.expect("channel", func(f map[string]any) bool { return f["channel"].(map[string]any)["name"] == "ops" })

	// bob's process stops: his socket gets 1001 and alice sees him leave
	two.Cmd.Process.Signal(syscall.SIGTERM)
	if _, err := b.tryExpect("never", nil, 15*time.Second); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("bob's socket closed with %v, want 1001", err)
	}
	a.expect("presence", func(f map[string]any) bool {
		return f["online"] == false && f["user"].(map[string]any)["name"] == "bob"
	})
	select {
	case <-two.waited:
	case <-time.After(startTimeout):
		t.Fatal("lux demo did not exit on SIGTERM")
	}
	if two.werr != nil {
		t.Fatalf("lux demo exit: %v\n%s", two.werr, two.Output())
	}
}

// A demo address the user asked for must work; the server refuses to start
// rather than run without it.
func TestDemoExplicitAddressBusy(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cmd := exec.Command(buildLux(t), "--bind", "127.0.0.1", "--port", strconv.Itoa(freePort(t)),
		"--persistence=false", "--demo", l.Addr().String())
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "demo") {
		t.Fatalf("lux started with a busy --demo address: %v\n%s", err, out)
	}
}
