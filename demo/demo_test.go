package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	_ "net/http/pprof" // registers on http.DefaultServeMux: the demo's mux must not serve it
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"
)

func TestDemoChatFlow(t *testing.T) {
	db := startDB(t, "")
	_, hs := startDemo(t, db)

	alice := dialWS(t, hs.URL)
	alice.login("alice", "#e8485a")
	general := alice.joinGeneral()
	bob := dialWS(t, hs.URL)
	bob.login("bob", "#1c7ed6")
	bob.joinGeneral()
	// alice sees bob come online
	alice.expectMatch("presence", func(f frame) bool {
		return f["online"] == true && f["user"].(map[string]any)["name"] == "bob"
	})

	alice.send(map[string]any{"type": "send", "channel": general, "text": "hello bob", "nonce": "n1"})
	ack := alice.expect("ack")
	if ack.str("nonce") != "n1" {
		t.Fatalf("ack %v", ack)
	}
	m := bob.expect("message")["message"].(map[string]any)
	if m["text"] != "hello bob" || m["user"].(map[string]any)["name"] != "alice" || m["user"].(map[string]any)["color"] != "#e8485a" {
		t.Fatalf("bob got %v", m)
	}

	// typing reaches the others, throttled to one per 2 s per channel
	bob.send(map[string]any{"type": "typing", "channel": general})
	bob.send(map[string]any{"type": "typing", "channel": general})
	alice.expectMatch("typing", func(f frame) bool { return f["user"].(map[string]any)["name"] == "bob" })
	if !alice.quiet("typing", 500*time.Millisecond) {
		t.Fatal("a second typing event within 2 s was published")
	}

	// a newcomer gets the history with authors (two round trips)
	carol := dialWS(t, hs.URL)
	carol.login("carol", "#2f9e44")
	carol.expect("channels")
	carol.send(map[string]any{"type": "join", "channel": general})
	h := carol.expect("history")
	msgs := h["messages"].([]any)
	if len(msgs) != 1 || msgs[0].(map[string]any)["user"].(map[string]any)["name"] != "alice" || h["more"] != false {
		t.Fatalf("history %v", h)
	}

	// bob leaves: alice sees him go
	bob.c.Close(websocket.StatusNormalClosure, "")
	alice.expectMatch("presence", func(f frame) bool {
		return f["online"] == false && f["user"].(map[string]any)["name"] == "bob"
	})
	rdb := redis.NewClient(&redis.Options{Addr: db, Protocol: 2})
	defer rdb.Close()
	if n, _ := rdb.Exists(context.Background(), fmt.Sprintf("presence:%d", alice.user.ID)).Result(); n != 1 {
		t.Fatal("alice has no presence key")
	}
	if ttl, _ := rdb.TTL(context.Background(), fmt.Sprintf("presence:%d", alice.user.ID)).Result(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("presence TTL %v", ttl)
	}
}

func TestDemoRateLimit(t *testing.T) {
	db := startDB(t, "")
	_, hs := startDemo(t, db)
	a := dialWS(t, hs.URL)
	a.login("speedy", "#6d5dfc")
	ch := a.joinGeneral()
	for i := 1; i <= 6; i++ {
		a.send(map[string]any{"type": "send", "channel": ch, "text": fmt.Sprint("msg ", i), "nonce": fmt.Sprint(i)})
	}
	for i := 1; i <= 5; i++ {
		a.expectMatch("ack", func(f frame) bool { return f.str("nonce") == fmt.Sprint(i) })
	}
	e := a.expect("error")
	if e.str("code") != "rate_limited" || e.str("message") != "slow down" || e.str("nonce") != "6" {
		t.Fatalf("6th message: %v", e)
	}
	rdb := redis.NewClient(&redis.Options{Addr: db, Protocol: 2})
	defer rdb.Close()
	ttl, err := rdb.TTL(context.Background(), fmt.Sprintf("ratelimit:msg:%d", a.user.ID)).Result()
	if err != nil || ttl <= 0 || ttl > 10*time.Second {
		t.Fatalf("rate limit key TTL %v %v", ttl, err)
	}
	rows, err := rdb.Do(context.Background(), "TQUERY", "messages").Slice()
	if err != nil || len(rows) != 5 {
		t.Fatalf("stored %d messages (%v), want 5", len(rows), err)
	}
}

func TestDemoBadInput(t *testing.T) {
	db := startDB(t, "")
	d, hs := startDemo(t, db)
	a := dialWS(t, hs.URL)

	expectErr := func(code string) {
		t.Helper()
		if e := a.expect("error"); e.str("code") != code {
			t.Fatalf("want error %s, got %v", code, e)
		}
	}
	a.sendRaw("{not json")
	expectErr("bad_json")
	a.sendRaw(`{"type":"send","channel":"abc"}`)
	expectErr("bad_json")
	a.sendRaw(`[1,2,3]`)
	expectErr("bad_json")
	a.sendRaw(`{"type":"<script>"}`)
	expectErr("unknown_type")
	a.sendRaw(`{"type":"send","channel":1,"text":"x"}`)
	expectErr("not_logged_in")
	a.send(map[string]any{"type": "login", "name": "<b>x</b>", "color": "#123456"})
	expectErr("invalid_name")
	a.send(map[string]any{"type": "login", "name": "ok", "color": "red;}"})
	expectErr("invalid_color")
	a.login("tester", "#123456")
	ch := a.joinGeneral()
	a.send(map[string]any{"type": "login", "name": "again", "color": "#123456"})
	expectErr("already_logged_in")
	a.send(map[string]any{"type": "send", "channel": ch, "text": "  \n\t "})
	expectErr("empty")
	a.send(map[string]any{"type": "send", "channel": ch, "text": strings.Repeat("é", MaxText+1)})
	expectErr("too_long")
	a.send(map[string]any{"type": "send", "channel": 99999, "text": "to nowhere"})
	expectErr("no_such_channel")
	a.send(map[string]any{"type": "send", "channel": ch, "text": "x", "nonce": strings.Repeat("n", 100)})
	expectErr("bad_request")
	a.send(map[string]any{"type": "history", "channel": ch})
	expectErr("bad_request")
	a.send(map[string]any{"type": "create_channel", "name": "Bad Name!", "topic": ""})
	expectErr("bad_request")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	a.c.Write(ctx, websocket.MessageBinary, []byte{0, 1, 2})
	cancel()
	expectErr("bad_request")

	// script injection is stored and sent back as the text it is
	evil := `<script>alert(1)</script><img src=x onerror="alert(2)">` + "\x00\x07\u2028ok"
	a.send(map[string]any{"type": "send", "channel": ch, "text": evil, "nonce": "e"})
	m := a.expect("ack")["message"].(map[string]any)
	if m["text"] != `<script>alert(1)</script><img src=x onerror="alert(2)">ok` {
		t.Fatalf("stored %q", m["text"])
	}

	// the socket still works after all that
	a.send(map[string]any{"type": "ping"})
	a.expect("pong")

	// an oversized frame closes the socket with 1009
	a.sendRaw(`{"type":"send","text":"` + strings.Repeat("a", MaxFrame) + `"}`)
	_, err := a.next(5 * time.Second)
	for err == nil {
		_, err = a.next(5 * time.Second)
	}
	if closeStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("oversized frame: %v", err)
	}

	// nothing corrupt was stored: every row is a whole message
	rdb := redis.NewClient(&redis.Options{Addr: db, Protocol: 2})
	defer rdb.Close()
	rows, err := rdb.Do(context.Background(), "TQUERY", "messages").Slice()
	if err != nil || len(rows) != 1 {
		t.Fatalf("stored %d rows (%v), want 1", len(rows), err)
	}
	_ = d
}

func TestDemoFloodClosed(t *testing.T) {
	db := startDB(t, "")
	_, hs := startDemo(t, db)
	a := dialWS(t, hs.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	for i := 0; i < 2000 && err == nil; i++ {
		err = a.c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`))
	}
	sawFlood := false
	for {
		f, err := a.next(5 * time.Second)
		if err != nil {
			if closeStatus(err) != websocket.StatusPolicyViolation {
				t.Fatalf("flood: closed with %v, want 1008", err)
			}
			break
		}
		if f.str("code") == "flood" {
			sawFlood = true
		}
	}
	if !sawFlood {
		t.Fatal("no flood error before the close")
	}
}

func TestDemoNameTaken(t *testing.T) {
	db := startDB(t, "")
	_, hs := startDemo(t, db)
	a := dialWS(t, hs.URL)
	token := a.login("alice", "#e8485a")
	b := dialWS(t, hs.URL)
	b.send(map[string]any{"type": "login", "name": "alice", "color": "#1c7ed6"})
	if e := b.expect("error"); e.str("code") != "name_taken" {
		t.Fatalf("second alice: %v", e)
	}
	// the owner's token logs in again (a reload, another tab)
	c := dialWS(t, hs.URL)
	c.send(map[string]any{"type": "login", "name": "alice", "color": "#2f9e44", "token": token})
	if f := c.expect("login_ok"); f["user"].(map[string]any)["id"].(float64) != float64(a.user.ID) {
		t.Fatalf("relogin %v", f)
	}
}

func TestDemoHistoryPagingAndResync(t *testing.T) {
	db := startDB(t, "")
	_, hs := startDemo(t, db)
	a := dialWS(t, hs.URL)
	a.login("pager", "#123456")
	ch := a.joinGeneral()
	rdb := redis.NewClient(&redis.Options{Addr: db, Protocol: 2})
	defer rdb.Close()
	ctx := context.Background()
	base := time.Now().UnixMilli() - 1_000_000
	for i := 0; i < 120; i++ {
		if err := rdb.Do(ctx, "TINSERT", "messages", "channel_id", ch, "user_id", a.user.ID,
			"content", fmt.Sprint("m", i), "timestamp", base+int64(i)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	texts := func(f frame) []string {
		var out []string
		for _, m := range f["messages"].([]any) {
			out = append(out, m.(map[string]any)["text"].(string))
		}
		return out
	}
	a.send(map[string]any{"type": "join", "channel": ch})
	h := a.expect("history")
	got := texts(h)
	if len(got) != 50 || got[0] != "m70" || got[49] != "m119" || h["more"] != true {
		t.Fatalf("first page: %v more=%v", got, h["more"])
	}
	a.send(map[string]any{"type": "history", "channel": ch, "before": base + 70})
	h = a.expect("history")
	if got = texts(h); len(got) != 50 || got[0] != "m20" || h["older"] != true || h["more"] != true {
		t.Fatalf("second page: %v", got)
	}
	a.send(map[string]any{"type": "history", "channel": ch, "before": base + 20})
	h = a.expect("history")
	if got = texts(h); len(got) != 20 || got[0] != "m0" || h["more"] != false {
		t.Fatalf("last page: %v", got)
	}
	// resync after a reconnect: what came since the newest known message
	a.send(map[string]any{"type": "join", "channel": ch, "after": base + 117})
	h = a.expect("history")
	if got = texts(h); len(got) != 3 || got[0] != "m117" || h["reset"] == true {
		t.Fatalf("resync: %v", h)
	}
	// a gap bigger than a page: the page is told to replace its list
	a.send(map[string]any{"type": "join", "channel": ch, "after": base})
	if h = a.expect("history"); h["reset"] != true {
		t.Fatalf("big resync not reset: %v", h["reset"])
	}
}

func TestDemoChannels(t *testing.T) {
	db := startDB(t, "")
	_, hs := startDemo(t, db)
	a := dialWS(t, hs.URL)
	a.login("maker", "#123456")
	a.expect("channels")
	b := dialWS(t, hs.URL)
	b.login("viewer", "#654321")
	b.expect("channels")
	a.send(map[string]any{"type": "create_channel", "name": "#Random", "topic": "<i>anything</i>"})
	cr := a.expect("channel_created")["channel"].(map[string]any)
	if cr["name"] != "random" || cr["topic"] != "<i>anything</i>" {
		t.Fatalf("created %v", cr)
	}
	b.expectMatch("channel", func(f frame) bool { return f["channel"].(map[string]any)["name"] == "random" })
	a.send(map[string]any{"type": "create_channel", "name": "random"})
	if e := a.expect("error"); e.str("code") != "channel_exists" {
		t.Fatalf("duplicate channel: %v", e)
	}
}

func TestDemoOriginAndSubprotocol(t *testing.T) {
	db := startDB(t, "")
	_, hs := startDemo(t, db)
	u := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{Subprotocol},
		HTTPHeader: http.Header{"Origin": {"http://evil.example"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err=%v resp=%v", err, resp)
	}
	c, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	_, _, err = c.Read(ctx)
	if closeStatus(err) != websocket.StatusProtocolError {
		t.Fatalf("no subprotocol: %v", err)
	}
}

func TestDemoHTTP(t *testing.T) {
	db := startDB(t, "")
	_, hs := startDemo(t, db)
	get := func(path string) (int, string, http.Header) {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	code, body, hd := get("/")
	if code != 200 || !strings.Contains(body, `role="log"`) || !strings.Contains(hd.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("/: %d %.80q %v", code, body, hd)
	}
	if code, body, _ := get("/static/app.js"); code != 200 || !strings.Contains(body, Subprotocol) {
		t.Fatalf("app.js: %d", code)
	}
	if code, _, _ := get("/static/app.css"); code != 200 {
		t.Fatalf("app.css: %d", code)
	}
	if code, body, _ := get("/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/goroutine", "/nope"} {
		if code, _, _ := get(p); code != http.StatusNotFound {
			t.Fatalf("%s: %d, want 404", p, code)
		}
	}
}

func TestDemoShutdownClosesWith1001(t *testing.T) {
	db := startDB(t, "")
	d, hs := startDemo(t, db)
	a := dialWS(t, hs.URL)
	a.login("leaver", "#123456")
	a.expect("channels")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Shutdown(ctx) }()
	var err error
	for err == nil {
		_, err = a.next(5 * time.Second)
	}
	if closeStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("closed with %v, want 1001", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// presence was cleared on the way out
	rdb := redis.NewClient(&redis.Options{Addr: db, Protocol: 2})
	defer rdb.Close()
	if n, _ := rdb.Exists(context.Background(), fmt.Sprintf("presence:%d", a.user.ID)).Result(); n != 0 {
		t.Fatal("presence key left after shutdown")
	}
}

// A socket that does not read is closed (1008) once its queue is full;
// the others in the channel keep getting every frame.
func TestDemoSlowClientDropped(t *testing.T) {
	db := startDB(t, "")
	d, hs := startDemo(t, db)
	slow := dialWS(t, hs.URL)
	slow.login("slow", "#123456")
	ch := slow.joinGeneral()
	fast := dialWS(t, hs.URL)
	fast.login("fast", "#654321")
	fast.joinGeneral()

	// the slow client's test reader stops taking frames: its channel
	// (64) fills, then the socket's buffers, then the server's queue
	slowConn := clientOf(d, "slow")
	big := []byte(`{"type":"typing","pad":"` + strings.Repeat("x", 64<<10) + `"}`)
	for round := 0; round < 40; round++ {
		for i := 0; i < 50; i++ {
			d.hub.toChannel(ch, big)
		}
		for i := 0; i < 50; { // the fast one keeps up with every frame
			f, err := fast.next(10 * time.Second)
			if err != nil {
				t.Fatalf("fast client, round %d frame %d: %v", round, i, err)
			}
			if f.str("type") == "typing" {
				i++
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		d.hub.mu.Lock()
		_, still := d.hub.clients[slowConn]
		d.hub.mu.Unlock()
		if !still {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("slow client still connected")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clientOf finds the socket of a logged-in user (nil when gone).
func clientOf(d *Server, name string) *client {
	d.hub.mu.Lock()
	defer d.hub.mu.Unlock()
	for c := range d.hub.clients {
		if c.user != nil && c.user.Name == name {
			return c
		}
	}
	return nil
}

func TestDemoCensor(t *testing.T) {
	b := newBackend(nil)
	for in, want := range map[string]string{
		"you are an ass":            "you are an ***",
		"assistant class bass":      "assistant class bass",
		"SHIT happens":              "**** happens",
		"İstanbul ǅ ß fuck":         "İstanbul ǅ ß ****",
		"<script>fuck</script>":     "<script>****</script>",
		"plain text, nothing to do": "plain text, nothing to do",
	} {
		if got := b.censor(in); got != want {
			t.Errorf("censor(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseDBURL(t *testing.T) {
	for _, tc := range []struct{ in, addr, pass string }{
		{"lux://127.0.0.1:6379", "127.0.0.1:6379", ""},
		{"lux://db.example", "db.example:6379", ""},
		{"redis://:secret@10.0.0.1:7000", "10.0.0.1:7000", "secret"},
		{"lux://default:pw@host:1/0", "host:1", "pw"},
	} {
		o, err := ParseDBURL(tc.in)
		if err != nil || o.Addr != tc.addr || o.Password != tc.pass {
			t.Errorf("ParseDBURL(%q) = %+v, %v", tc.in, o, err)
		}
	}
	for _, bad := range []string{"http://x:1", "127.0.0.1:6379", "lux://[::1"} {
		if _, err := ParseDBURL(bad); err == nil {
			t.Errorf("ParseDBURL(%q) accepted", bad)
		}
	}
}
