package demo

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// hub knows this process's sockets, which channels each one joined, and
// which users are logged in; it routes what the subscriber connection
// receives to them. Publishing goes through the database, so sockets of
// other demo processes on the same database get every frame too.
type hub struct {
	s *Server

	mu        sync.Mutex
	presence  [][]byte // presence frames waiting for the next flush
	clients   map[*client]struct{}
	byChannel map[int64]map[*client]struct{}
	userConns map[int64]int // logged-in sockets per user id
}

func newHub(s *Server) *hub {
	return &hub{s: s, clients: map[*client]struct{}{}, byChannel: map[int64]map[*client]struct{}{},
		userConns: map[int64]int{}}
}

// add registers a socket; false once the server is shutting down.
func (h *hub) add(c *client) {
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
}

// remove forgets a socket and reports whether it was its user's last one
// in this process.
func (h *hub) remove(c *client) (lastOfUser bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, c)
	for ch := range c.joined {
		h.leaveLocked(c, ch)
	}
	if u := c.user; u != nil {
		h.userConns[u.ID]--
		if h.userConns[u.ID] <= 0 {
			delete(h.userConns, u.ID)
			return true
		}
	}
	return false
}

func (h *hub) login(c *client, u User) {
	h.mu.Lock()
	c.user = &u
	h.userConns[u.ID]++
	h.mu.Unlock()
}

func (h *hub) join(c *client, ch int64) {
	h.mu.Lock()
	set := h.byChannel[ch]
	if set == nil {
		set = map[*client]struct{}{}
		h.byChannel[ch] = set
	}
	set[c] = struct{}{}
	c.joined[ch] = true
	h.mu.Unlock()
}

func (h *hub) leave(c *client, ch int64) {
	h.mu.Lock()
	h.leaveLocked(c, ch)
	h.mu.Unlock()
}

func (h *hub) leaveLocked(c *client, ch int64) {
	delete(c.joined, ch)
	if set := h.byChannel[ch]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.byChannel, ch)
		}
	}
}

// toChannel queues frame on every socket that joined ch.
func (h *hub) toChannel(ch int64, frame []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.byChannel[ch] {
		c.enqueue(frame)
	}
}

// toLoggedIn queues frame on every logged-in socket.
func (h *hub) toLoggedIn(frame []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		if c.user != nil {
			c.enqueue(frame)
		}
	}
}

// snapshot returns the sockets, for shutdown.
func (h *hub) snapshot() []*client {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		out = append(out, c)
	}
	return out
}

// onlineUsers lists the users logged in here, for the presence heartbeat.
func (h *hub) onlineUsers() []User {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[int64]bool{}
	var out []User
	for c := range h.clients {
		if u := c.user; u != nil && !seen[u.ID] {
			seen[u.ID] = true
			out = append(out, *u)
		}
	}
	return out
}

// route delivers one published frame.
func (h *hub) route(channel string, payload []byte) {
	switch {
	case strings.HasPrefix(channel, pubMsgPrefix):
		if id, err := strconv.ParseInt(channel[len(pubMsgPrefix):], 10, 64); err == nil {
			h.toChannel(id, payload)
		}
	case strings.HasPrefix(channel, pubTypingPrefix):
		if id, err := strconv.ParseInt(channel[len(pubTypingPrefix):], 10, 64); err == nil {
			h.toChannel(id, payload)
		}
	case channel == pubPresence:
		h.mu.Lock()
		h.presence = append(h.presence, payload)
		h.mu.Unlock()
	case channel == pubChannels:
		h.toLoggedIn(payload)
	}
}

// maxPresenceBurst is how many presence changes a flush forwards one by
// one; beyond it the sockets get one "online_changed" frame and ask for
// the list themselves (answered from a short cache), so a login storm of
// n users costs n frames per flush instead of n² frames.
const maxPresenceBurst = 20

// flushPresence forwards the presence changes gathered since the last
// flush (every presenceEvery).
func (h *hub) flushPresence() {
	h.mu.Lock()
	frames := h.presence
	h.presence = nil
	h.mu.Unlock()
	if len(frames) == 0 {
		return
	}
	if len(frames) > maxPresenceBurst {
		h.toLoggedIn(encode(struct {
			Type string `json:"type"`
		}{"online_changed"}))
		return
	}
	for _, f := range frames {
		h.toLoggedIn(f)
	}
}

// subscribe runs the subscriber connection until ctx ends: PSUBSCRIBE
// chat:* on one connection. go-redis reconnects and subscribes again after
// a lost connection; messages published in between are lost, so every
// socket is then told to resync (the page asks for what it missed).
func (h *hub) subscribe(ctx context.Context, rdb *redis.Client) {
	ps := rdb.PSubscribe(ctx, pubPrefix+"*")
	// go-redis does not abort a blocked read when ctx ends; closing does
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()
	defer ps.Close()
	subscribed := false
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, 30*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// idle: make sure the connection is still there
				if err := ps.Ping(ctx); err == nil {
					continue
				}
			}
			h.s.logf("subscriber: %v (reconnecting)", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if subscribed {
				h.toLoggedIn(encode(resyncFrame{Type: "resync"}))
			}
			subscribed = true
		case *redis.Message:
			h.route(m.Channel, []byte(m.Payload))
		}
	}
}

// presenceEvery is how often presence changes are forwarded to sockets.
const presenceEvery = 250 * time.Millisecond

// heartbeat forwards presence changes (flushPresence) and refreshes the
// presence keys of every user logged in here,
// in one pipeline, well within their 60 s expiry.
func (h *hub) heartbeat(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	flush := time.NewTicker(presenceEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C:
			h.flushPresence()
			continue
		case <-t.C:
		}
		users := h.onlineUsers()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := h.s.be.setOnline(cctx, users, false); err != nil && ctx.Err() == nil {
			h.s.logf("presence heartbeat: %v", err)
		}
		cancel()
	}
}
