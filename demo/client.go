package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Per-socket limits (docs/DEMO.md).
const (
	// queueLen frames may wait for a socket; a socket whose queue is
	// full is closed with 1008, so a slow reader never slows the others.
	queueLen     = 256
	writeTimeout = 10 * time.Second
	pingEvery    = 20 * time.Second
	pongTimeout  = 10 * time.Second
	// requestTimeout bounds the database work of one request.
	requestTimeout = 5 * time.Second
	// Inbound frames: floodRate per second with bursts of floodBurst; a
	// frame over that gets a "flood" error, floodKill of them in a row
	// close the socket with 1008.
	floodRate  = 20
	floodBurst = 40
	floodKill  = 100
	// typingEvery is how often a socket's typing events for one channel
	// are published at most.
	typingEvery = 2 * time.Second
)

// client is one WebSocket. Its read loop handles requests one at a time;
// frames go out through one writer goroutine and a bounded queue.
type client struct {
	s    *Server
	conn *websocket.Conn
	out  chan []byte
	done chan struct{} // closed when the socket is being closed

	closeOnce sync.Once
	// finalCode/finalReason: the close the writer sends after the frames
	// queued before it (closeAfterQueue)
	finalCode   websocket.StatusCode
	finalReason string
	draining    bool // read loop: discard input until the close

	// set under the hub's lock, read by the read loop and the hub
	user   *User
	joined map[int64]bool

	// read loop only
	tokens     float64
	lastFrame  time.Time
	strikes    int
	lastTyping map[int64]time.Time
}

// enqueue queues a frame without waiting; a full queue closes the socket.
func (c *client) enqueue(frame []byte) {
	select {
	case <-c.done:
		return
	default:
	}
	select {
	case c.out <- frame:
	default:
		c.kill(websocket.StatusPolicyViolation, "too slow: send queue full")
	}
}

// kill starts closing the socket with a status code; safe from any
// goroutine, returns at once.
func (c *client) kill(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		close(c.done)
		go c.conn.Close(code, reason)
	})
}

// closeAfterQueue closes the socket after the frames already queued (an
// error frame explaining why), from the read loop.
func (c *client) closeAfterQueue(code websocket.StatusCode, reason string) {
	c.finalCode, c.finalReason = code, reason
	c.draining = true
	select {
	case c.out <- nil:
	default:
		c.kill(code, reason)
	}
}

func (c *client) writer(ctx context.Context) {
	for {
		select {
		case <-c.done:
			return
		case <-ctx.Done():
			return
		case f := <-c.out:
			if f == nil {
				c.kill(c.finalCode, c.finalReason)
				return
			}
			wctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := c.conn.Write(wctx, websocket.MessageText, f)
			cancel()
			if err != nil {
				// a timed-out write has closed the connection already
				c.kill(websocket.StatusPolicyViolation, "write timeout")
				return
			}
		}
	}
}

func (c *client) pinger(ctx context.Context) {
	t := time.NewTicker(pingEvery)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, pongTimeout)
			err := c.conn.Ping(pctx)
			cancel()
			if err != nil {
				c.kill(websocket.StatusPolicyViolation, "no pong")
				return
			}
		}
	}
}

// allowFrame is the inbound token bucket.
func (c *client) allowFrame(now time.Time) bool {
	if c.lastFrame.IsZero() {
		c.tokens = floodBurst
	} else {
		c.tokens += now.Sub(c.lastFrame).Seconds() * floodRate
		if c.tokens > floodBurst {
			c.tokens = floodBurst
		}
	}
	c.lastFrame = now
	if c.tokens >= 1 {
		c.tokens--
		c.strikes = 0
		return true
	}
	return false
}

func (c *client) readLoop(ctx context.Context) {
	for {
		typ, data, err := c.conn.Read(ctx)
		if err != nil {
			return
		}
		if c.draining {
			continue
		}
		if !c.allowFrame(time.Now()) {
			c.strikes++
			if c.strikes >= floodKill {
				c.closeAfterQueue(websocket.StatusPolicyViolation, "flooding")
				continue
			}
			if c.strikes == 1 {
				c.sendError(errFlood, "slow down: too many frames", "", "", 0)
			}
			continue
		}
		if typ != websocket.MessageText {
			c.sendError(errBadRequest, "frames are JSON text", "", "", 0)
			continue
		}
		var req request
		if err := json.Unmarshal(data, &req); err != nil {
			c.sendError(errBadJSON, "malformed JSON frame", "", "", 0)
			continue
		}
		c.handle(ctx, &req)
	}
}

func (c *client) send(v any) { c.enqueue(encode(v)) }

func (c *client) sendError(code, msg, ref, nonce string, channel int64) {
	c.send(errorFrame{Type: "error", Code: code, Message: msg, Ref: ref, Nonce: nonce, Channel: channel})
}

// fail answers a request that failed: a user error as itself, anything else
// as "unavailable" (and logged), so database errors never reach a page.
func (c *client) fail(req *request, err error) {
	var ue *errUser
	if errors.As(err, &ue) {
		c.sendError(ue.code, ue.msg, req.Type, req.Nonce, req.Channel)
		return
	}
	c.s.logf("%s: %v", req.Type, err)
	c.sendError(errUnavailable, "the database did not answer; try again", req.Type, req.Nonce, req.Channel)
}

func (c *client) handle(ctx context.Context, req *request) {
	if len(req.Nonce) > MaxNonce {
		c.sendError(errBadRequest, fmt.Sprintf("a nonce is at most %d bytes", MaxNonce), req.Type, "", 0)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	be := c.s.be
	switch req.Type {
	case "ping":
		c.send(struct {
			Type string `json:"type"`
		}{"pong"})
		return
	case "login":
		if c.user != nil {
			c.sendError(errAlreadyLoggedIn, "already logged in", req.Type, "", 0)
			return
		}
		u, token, err := be.login(ctx, req.Name, req.Color, req.Token)
		if err != nil {
			c.fail(req, err)
			return
		}
		c.s.hub.login(c, u)
		c.send(loginOKFrame{Type: "login_ok", User: u, Token: token})
		if chs, err := be.channels(ctx); err != nil {
			c.fail(req, err)
		} else {
			c.send(channelsFrame{Type: "channels", Channels: chs})
		}
		if err := be.setOnline(ctx, []User{u}, true); err != nil {
			c.fail(req, err)
		}
		c.sendOnline(ctx, req)
		return
	}
	if c.user == nil {
		if !knownType(req.Type) {
			c.sendError(errUnknownType, fmt.Sprintf("unknown frame type %.32q", req.Type), "", "", 0)
			return
		}
		c.sendError(errNotLoggedIn, "log in first", req.Type, req.Nonce, 0)
		return
	}
	u := *c.user
	switch req.Type {
	case "channels":
		chs, err := be.channels(ctx)
		if err != nil {
			c.fail(req, err)
			return
		}
		c.send(channelsFrame{Type: "channels", Channels: chs})
	case "create_channel":
		ch, err := be.createChannel(ctx, req.Name, req.Topic)
		if err != nil {
			c.fail(req, err)
			return
		}
		c.send(channelFrame{Type: "channel_created", Channel: ch})
	case "join":
		if req.Channel <= 0 {
			c.sendError(errNoSuchChannel, "no such channel", req.Type, "", req.Channel)
			return
		}
		if !c.joined[req.Channel] && len(c.joined) >= MaxJoined {
			c.sendError(errTooManyJoined, fmt.Sprintf("at most %d channels at once", MaxJoined), req.Type, "", req.Channel)
			return
		}
		// joined before the query: a message published meanwhile comes
		// twice rather than never (the page de-duplicates by id)
		c.s.hub.join(c, req.Channel)
		msgs, more, err := be.history(ctx, req.Channel, 0, req.After)
		if err != nil {
			c.fail(req, err)
			return
		}
		c.send(historyFrame{Type: "history", Channel: req.Channel, Messages: msgs, More: more,
			After: req.After, Reset: req.After > 0 && more})
	case "leave":
		c.s.hub.leave(c, req.Channel)
	case "history":
		if req.Channel <= 0 || req.Before <= 0 {
			c.sendError(errBadRequest, "history needs channel and before", req.Type, "", req.Channel)
			return
		}
		msgs, more, err := be.history(ctx, req.Channel, req.Before, 0)
		if err != nil {
			c.fail(req, err)
			return
		}
		c.send(historyFrame{Type: "history", Channel: req.Channel, Messages: msgs, More: more, Older: true})
	case "send":
		m, err := be.send(ctx, u, req.Channel, req.Text, req.Nonce)
		if err != nil {
			c.fail(req, err)
			return
		}
		c.send(ackFrame{Type: "ack", Nonce: req.Nonce, Message: m})
	case "typing":
		if req.Channel <= 0 {
			return
		}
		now := time.Now()
		if now.Sub(c.lastTyping[req.Channel]) < typingEvery {
			return
		}
		if len(c.lastTyping) > MaxJoined {
			clear(c.lastTyping)
		}
		c.lastTyping[req.Channel] = now
		if err := be.publishTyping(ctx, u, req.Channel); err != nil {
			c.fail(req, err)
		}
	case "who":
		c.sendOnline(ctx, req)
	default:
		c.sendError(errUnknownType, fmt.Sprintf("unknown frame type %.32q", req.Type), "", "", 0)
	}
}

func knownType(t string) bool {
	switch t {
	case "ping", "login", "channels", "create_channel", "join", "leave", "history", "send", "typing", "who":
		return true
	}
	return false
}

func (c *client) sendOnline(ctx context.Context, req *request) {
	users, err := c.s.be.online(ctx)
	if err != nil {
		c.fail(req, err)
		return
	}
	c.send(onlineFrame{Type: "online", Users: users})
}
