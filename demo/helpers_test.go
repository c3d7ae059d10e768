package demo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/luxdb/lux-go/server"
	"github.com/luxdb/lux-go/storage"
	"github.com/redis/go-redis/v9"
)

// startDB runs a real lux server in this process (in memory unless dir is
// given) on a free loopback port; the demo reaches it over TCP like any
// client. It is closed when the test ends.
func startDB(t testing.TB, dir string) string {
	t.Helper()
	policy := storage.PolicyNoEviction
	if dir != "" {
		policy = storage.PolicyAllKeysLRU
	}
	store, err := storage.Open(storage.Options{Dir: dir, Sync: storage.SyncEverySec, Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.Bind, cfg.Port = "127.0.0.1", 0
	srv := server.New(cfg, store)
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() {
		srv.Close()
		store.Close()
	})
	return srv.Addr().String()
}

// startDemo serves a demo for the database at dbAddr on an httptest server.
func startDemo(t testing.TB, dbAddr string) (*Server, *httptest.Server) {
	t.Helper()
	d, err := New(Config{DB: &redis.Options{Addr: dbAddr}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(d.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.Shutdown(ctx)
		hs.Close()
	})
	return d, hs
}

// wsClient is a test client of the protocol. A goroutine reads frames
// into a channel: a Read whose context ends closes a coder/websocket
// connection, so waits with timeouts happen on the channel instead.
type wsClient struct {
	t      testing.TB
	c      *websocket.Conn
	user   User
	frames chan []byte
	err    error // why the reader stopped; valid once frames is closed
}

func dialWS(t testing.TB, base string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(base, "http") + "/ws"
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	w := &wsClient{t: t, c: c, frames: make(chan []byte, 64)}
	go func() {
		defer close(w.frames)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				w.err = err
				return
			}
			w.frames <- b
		}
	}()
	w.expect("hello")
	return w
}

func (w *wsClient) sendRaw(s string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

func (w *wsClient) send(v any) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	w.sendRaw(string(b))
}

// frame is a decoded server frame.
type frame map[string]any

func (f frame) str(k string) string { s, _ := f[k].(string); return s }

// next reads one frame.
func (w *wsClient) next(d time.Duration) (frame, error) {
	var b []byte
	select {
	case m, ok := <-w.frames:
		if !ok {
			return nil, w.err
		}
		b = m
	case <-time.After(d):
		return nil, errTimeout
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		w.t.Fatalf("server sent bad JSON %q: %v", b, err)
	}
	return f, nil
}

// expect reads frames until one of type typ (others are skipped).
func (w *wsClient) expect(typ string) frame {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f, err := w.next(time.Until(deadline))
		if err != nil {
			w.t.Fatalf("waiting for a %q frame: %v", typ, err)
		}
		if f.str("type") == typ {
			return f
		}
	}
	w.t.Fatalf("no %q frame within 10s", typ)
	return nil
}

// expectMatch reads frames until one of type typ for which ok is true.
func (w *wsClient) expectMatch(typ string, ok func(frame) bool) frame {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f, err := w.next(time.Until(deadline))
		if err != nil {
			w.t.Fatalf("waiting for a matching %q frame: %v", typ, err)
		}
		if f.str("type") == typ && ok(f) {
			return f
		}
	}
	w.t.Fatalf("no matching %q frame within 10s", typ)
	return nil
}

// quiet reports that no frame of type typ arrives within d.
func (w *wsClient) quiet(typ string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		f, err := w.next(time.Until(deadline))
		if err != nil {
			return true
		}
		if f.str("type") == typ {
			return false
		}
	}
	return true
}

// login logs in with a fresh token and returns the token.
func (w *wsClient) login(name, color string) string {
	w.t.Helper()
	w.send(map[string]any{"type": "login", "name": name, "color": color})
	f := w.expect("login_ok")
	u := f["user"].(map[string]any)
	w.user = User{ID: int64(u["id"].(float64)), Name: u["name"].(string), Color: u["color"].(string)}
	return f.str("token")
}

// general logs in, finds #general and joins it; returns its id.
func (w *wsClient) joinGeneral() int64 {
	w.t.Helper()
	f := w.expect("channels")
	for _, c := range f["channels"].([]any) {
		c := c.(map[string]any)
		if c["name"] == "general" {
			id := int64(c["id"].(float64))
			w.send(map[string]any{"type": "join", "channel": id})
			w.expectMatch("history", func(f frame) bool { return int64(f["channel"].(float64)) == id })
			return id
		}
	}
	w.t.Fatal("no #general")
	return 0
}

func closeStatus(err error) websocket.StatusCode { return websocket.CloseStatus(err) }

var errTimeout = errors.New("no frame in time")

var _ = http.StatusOK
