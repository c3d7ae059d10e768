package server

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/luxdb/lux-go/pubsub"
	"github.com/luxdb/lux-go/storage"
)

// Client-side caching (CLIENT TRACKING), as Redis 7.0's tracking.c: a
// tracking client is told when a key it may have cached changes.
//
//   - Default mode: the keys of every read-only command a tracking client
//     runs (subject to OPTIN/OPTOUT and CLIENT CACHING) go into a table
//     key → client ids, remembered while the command still holds its shard
//     locks, so no write of the key can slip between the read and the
//     registration. A change of the key (any write path: commands, expiry,
//     eviction — the store's event hook) sends each of those clients one
//     invalidation and forgets the key.
//   - BCAST: every change of a key under one of the client's prefixes is
//     sent, nothing is remembered.
//   - NOLOOP: changes made by the client itself are not sent to it.
//   - FLUSHDB/FLUSHALL send every tracking client a null ("everything").
//
// Keys are not per database, as in Redis. An invalidation is a RESP3 push
// (["invalidate", [key]]) on the client's own connection, or on the
// REDIRECT connection: a push there in RESP3, a message on channel
// __redis__:invalidate in RESP2 if it is subscribed to anything; a RESP2
// client without redirection gets nothing. Messages go through a pub/sub
// queue of the receiving connection (Client.pushQueue), so they never block
// the writer and reach the client after the reply of the command it is
// running. Table writes are not keys and invalidate nothing.

// trackingChannel is where RESP2 redirect targets receive invalidations.
const trackingChannel = "__redis__:invalidate"

type tracking struct {
	clients atomic.Int64 // clients with tracking on: a write pays one load when 0
	// the default mode's table key → client ids, in shards by key hash, so
	// that tracking readers do not queue on one mutex
	shards [trackShards]trackShard
	nkeys  atomic.Int64 // keys in the table
	// mu guards the settings of every client (Client.track), BCAST and pending
	mu     sync.Mutex
	bcast  map[string]map[*Client]struct{}
	nbcast atomic.Int64 // len(bcast): a write skips mu while no BCAST prefix exists
	// pending: BCAST keys changed by the running commands, per prefix,
	// with the client that changed each last (NOLOOP); sent at the end of
	// the command (EXEC: of the whole transaction), one message per prefix,
	// as Redis sends them once per event loop iteration
	pending  map[string]map[string]*Client
	npending atomic.Int64
	maxKeys  atomic.Int64 // tracking-table-max-keys (0: no limit)
}

const trackShards = 32

type trackShard struct {
	mu   sync.Mutex
	keys map[string]map[int64]struct{}
}

func (t *tracking) shard(key []byte) *trackShard {
	h := uint32(2166136261) // FNV-1a
	for _, b := range key {
		h = (h ^ uint32(b)) * 16777619
	}
	return &t.shards[h%trackShards]
}

func (t *tracking) init() {
	for i := range t.shards {
		t.shards[i].keys = map[string]map[int64]struct{}{}
	}
	t.bcast = map[string]map[*Client]struct{}{}
	t.pending = map[string]map[string]*Client{}
	t.maxKeys.Store(1_000_000)
}

// totals are INFO's tracking_total_keys, _items (key, client pairs) and
// _prefixes.
func (t *tracking) totals() (keys, items, prefixes int64) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		keys += int64(len(sh.keys))
		for _, ids := range sh.keys {
			items += int64(len(ids))
		}
		sh.mu.Unlock()
	}
	return keys, items, t.nbcast.Load()
}

// trackLimit keeps the default mode's table within tracking-table-max-keys
// (before each command while tracking is on, as Redis): keys over the limit
// are forgotten, and their clients told they changed, so they never hold a
// value they would not hear about.
func (s *Server) trackLimit() {
	max := s.trk.maxKeys.Load()
	if max <= 0 {
		return
	}
	if s.trk.nkeys.Load() <= max {
		return
	}
	start := rand.IntN(trackShards) // shards from a random one, keys in map order
	for i := 0; i < trackShards && s.trk.nkeys.Load() > max; i++ {
		sh := &s.trk.shards[(start+i)%trackShards]
		sh.mu.Lock()
		var out []string
		var ids []map[int64]struct{}
		for k, v := range sh.keys {
			if s.trk.nkeys.Load() <= max {
				break
			}
			delete(sh.keys, k)
			s.trk.nkeys.Add(-1)
			out, ids = append(out, k), append(ids, v)
		}
		sh.mu.Unlock()
		for j, k := range out {
			s.invalidateIDs([]byte(k), ids[j], nil)
		}
	}
}

// invalidateIDs sends the invalidation of key to the tracking clients ids
// (default mode), but not to origin with NOLOOP.
func (s *Server) invalidateIDs(key []byte, ids map[int64]struct{}, origin *Client) {
	var targets []trackTarget
	s.trk.mu.Lock() // the settings are read under it
	s.clientsMu.Lock()
	for id := range ids {
		// a client that switched to BCAST meanwhile gets nothing for the
		// keys it read before
		if t := s.clients[id]; t != nil && t.track.on && !t.track.bcast {
			targets = append(targets, trackTarget{t, t.track})
		}
	}
	s.clientsMu.Unlock()
	s.trk.mu.Unlock()
	frame := keyList(key)
	for _, t := range targets {
		if t.tr.noloop && t.c == origin {
			continue
		}
		s.sendInvalidation(t.c, t.tr, frame)
	}
}

// trackState is a client's tracking settings (CLIENT TRACKING).
type trackState struct {
	on, bcast, optin, optout, noloop bool
	caching                          bool // CLIENT CACHING yes/no for the next command
	redirect                         int64
	prefixes                         []string
}

// trackTarget is a client to send an invalidation to, with a copy of its
// settings taken under trk.mu (they change under it).
type trackTarget struct {
	c  *Client
	tr trackState
}

// pushQueue returns the queue for out-of-band frames to c (invalidations),
// created on first use by whichever goroutine sends first.
func (c *Client) pushQueue() *pubsub.Subscriber {
	if q := c.trackQ.Load(); q != nil {
		return q
	}
	q := c.srv.hub.NewSubscriber(c, c.srv.cfg.PubSubLimit)
	if !c.trackQ.CompareAndSwap(nil, q) {
		q.Close()
		return c.trackQ.Load()
	}
	if c.closed.Load() { // dropClient may have missed it
		c.srv.closeSubscriber(q)
	}
	return q
}

func (s *Server) clientByID(id int64) *Client {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	return s.clients[id]
}

// clientTracking runs CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST]
// [PREFIX p]... [OPTIN] [OPTOUT] [NOLOOP].
func clientTracking(c *Client, args [][]byte) {
	var o trackState
	for j := 3; j < len(args); j++ {
		more := len(args) - 1 - j
		switch a := args[j]; {
		case eqFold(a, "redirect") && more > 0:
			j++
			if o.redirect != 0 {
				c.WriteError("ERR A client can only redirect to a single other client")
				return
			}
			id, ok := parseInt(args[j])
			if !ok {
				c.WriteError(msgNotInt)
				return
			}
			if c.srv.clientByID(id) == nil {
				c.WriteError("ERR The client ID you want redirect to does not exist")
				return
			}
			o.redirect = id
		case eqFold(a, "bcast"):
			o.bcast = true
		case eqFold(a, "optin"):
			o.optin = true
		case eqFold(a, "optout"):
			o.optout = true
		case eqFold(a, "noloop"):
			o.noloop = true
		case eqFold(a, "prefix") && more > 0:
			j++
			o.prefixes = append(o.prefixes, string(args[j]))
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	s := c.srv
	switch {
	case eqFold(args[2], "on"):
		cur := &c.track
		switch {
		case !o.bcast && len(o.prefixes) > 0:
			c.WriteError("ERR PREFIX option requires BCAST mode to be enabled")
			return
		case cur.on && cur.bcast != o.bcast:
			c.WriteError("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
			return
		case o.bcast && (o.optin || o.optout):
			c.WriteError("ERR OPTIN and OPTOUT are not compatible with BCAST")
			return
		case o.optin && o.optout:
			c.WriteError("ERR You can't specify both OPTIN mode and OPTOUT mode")
			return
		case (o.optin && cur.optout) || (o.optout && cur.optin):
			c.WriteError("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
			return
		}
		if o.bcast {
			if msg := prefixCollision(cur.prefixes, o.prefixes); msg != "" {
				c.WriteError(msg)
				return
			}
		}
		c.pushQueue() // created here, by the client's own goroutine
		s.trk.mu.Lock()
		if !cur.on {
			s.trk.clients.Add(1)
		}
		cur.on, cur.bcast, cur.optin, cur.optout, cur.noloop = true, o.bcast, o.optin, o.optout, o.noloop
		cur.redirect = o.redirect
		c.trackBroken.Store(false)
		if o.bcast {
			if len(o.prefixes) == 0 && len(cur.prefixes) == 0 {
				o.prefixes = []string{""}
			}
			for _, p := range o.prefixes {
				m := s.trk.bcast[p]
				if m == nil {
					m = map[*Client]struct{}{}
					s.trk.bcast[p] = m
					s.trk.nbcast.Add(1)
				}
				if _, dup := m[c]; !dup {
					m[c] = struct{}{}
					cur.prefixes = append(cur.prefixes, p)
				}
			}
		}
		s.trk.mu.Unlock()
	case eqFold(args[2], "off"):
		s.disableTracking(c)
	default:
		c.WriteError(msgSyntax)
		return
	}
	c.WriteOK()
}

// prefixCollision is Redis's checkPrefixCollisionsOrReply: two prefixes
// collide when one starts the other.
func prefixCollision(have, add []string) string {
	overlap := func(a, b string) bool { return strings.HasPrefix(a, b) || strings.HasPrefix(b, a) }
	for i, p := range add {
		for _, h := range have {
			if overlap(p, h) {
				return "ERR Prefix '" + p + "' overlaps with an existing prefix '" + h + "'. Prefixes for a single client must not overlap."
			}
		}
		for _, q := range add[i+1:] {
			if overlap(p, q) {
				return "ERR Prefix '" + p + "' overlaps with another provided prefix '" + q + "'. Prefixes for a single client must not overlap."
			}
		}
	}
	return ""
}

// disableTracking turns c's tracking off (CLIENT TRACKING OFF, RESET,
// disconnect); its remembered keys are dropped lazily, as in Redis.
func (s *Server) disableTracking(c *Client) {
	s.trk.mu.Lock()
	defer s.trk.mu.Unlock()
	if !c.track.on {
		return
	}
	for _, p := range c.track.prefixes {
		if m := s.trk.bcast[p]; m != nil {
			delete(m, c)
			if len(m) == 0 {
				delete(s.trk.bcast, p)
				s.trk.nbcast.Add(-1)
			}
		}
	}
	c.track = trackState{}
	s.trk.clients.Add(-1)
}

// clientCaching runs CLIENT CACHING YES|NO.
func clientCaching(c *Client, args [][]byte) {
	t := &c.track
	if !t.on {
		c.WriteError("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
		return
	}
	switch {
	case eqFold(args[2], "yes"):
		if !t.optin {
			c.WriteError("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
			return
		}
	case eqFold(args[2], "no"):
		if !t.optout {
			c.WriteError("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
			return
		}
	default:
		c.WriteError(msgSyntax)
		return
	}
	c.srv.trk.mu.Lock()
	t.caching = true
	c.srv.trk.mu.Unlock()
	c.WriteOK()
}

// clientTrackingInfo runs CLIENT TRACKINGINFO.
func clientTrackingInfo(c *Client) {
	t := &c.track
	flags := []string{"off"}
	if t.on {
		flags[0] = "on"
	}
	if t.bcast {
		flags = append(flags, "bcast")
	}
	if t.optin {
		flags = append(flags, "optin")
		if t.caching {
			flags = append(flags, "caching-yes")
		}
	}
	if t.optout {
		flags = append(flags, "optout")
		if t.caching {
			flags = append(flags, "caching-no")
		}
	}
	if t.noloop {
		flags = append(flags, "noloop")
	}
	if c.trackBroken.Load() {
		flags = append(flags, "broken_redirect")
	}
	c.WriteMap(3)
	c.WriteBulkString("flags")
	c.WriteSet(len(flags))
	for _, f := range flags {
		c.WriteBulkString(f)
	}
	c.WriteBulkString("redirect")
	if t.on {
		c.WriteInt64(t.redirect)
	} else {
		c.WriteInt(-1)
	}
	c.WriteBulkString("prefixes")
	c.WriteArray(len(t.prefixes))
	for _, p := range t.prefixes {
		c.WriteBulkString(p)
	}
}

// trackAfterCommand remembers the keys a tracking client's read-only
// command read (shard locks still held), and ends a CLIENT CACHING
// allowance after the command it was for.
func (s *Server) trackAfterCommand(c *Client, cmd *Command, args [][]byte) {
	t := &c.track
	// a read-only script is not tracked itself: the read-only commands it
	// runs are, with the keys it declared (Redis's call())
	readOnly := cmd.Flags&FlagReadOnly != 0 && cmd.Name != "eval_ro" && cmd.Name != "evalsha_ro"
	if readOnly && !t.bcast && (t.optin == t.caching || !t.optin) && !(t.optout && t.caching) &&
		cmd.Flags&FlagPubSub == 0 {
		keys := c.keys // the command's keys, found for its locks
		switch {
		case c.scriptKeys != nil:
			keys = c.scriptKeys
		case c.inExec:
			keys = cmd.keyArgs(args, nil)
		}
		for _, k := range keys {
			sh := s.trk.shard(k)
			sh.mu.Lock()
			ids := sh.keys[string(k)]
			if ids == nil {
				ids = map[int64]struct{}{}
				sh.keys[string(k)] = ids
				s.trk.nkeys.Add(1)
			}
			ids[c.id] = struct{}{}
			sh.mu.Unlock()
		}
	}
	if t.caching && !c.multi && !c.inExec && cmd.Name != "client" {
		s.trk.mu.Lock()
		t.caching = false
		s.trk.mu.Unlock()
	}
}

// trackKeyChanged sends the invalidation of key (changed by origin, nil for
// the store's own expiry and eviction) to the clients that track it. It
// runs in the store's event hook, under the key's shard lock.
func (s *Server) trackKeyChanged(key []byte, origin *Client) {
	sh := s.trk.shard(key)
	sh.mu.Lock()
	ids := sh.keys[string(key)]
	if ids != nil {
		delete(sh.keys, string(key))
		s.trk.nkeys.Add(-1)
	}
	sh.mu.Unlock()
	if s.trk.nbcast.Load() != 0 {
		s.trk.mu.Lock()
		for p := range s.trk.bcast {
			if strings.HasPrefix(string(key), p) {
				ks := s.trk.pending[p]
				if ks == nil {
					ks = map[string]*Client{}
					s.trk.pending[p] = ks
				}
				ks[string(key)] = origin
				s.trk.npending.Store(1)
			}
		}
		s.trk.mu.Unlock()
		if origin == nil {
			s.trackSendBcast() // the store's own expiry or eviction: no command to wait for
		}
	}
	if ids != nil {
		s.invalidateIDs(key, ids, origin)
	}
}

// trackSendBcast sends the pending BCAST invalidations: for each prefix,
// one message with its changed keys to each client of the prefix (without
// the keys it changed itself, with NOLOOP).
func (s *Server) trackSendBcast() {
	type msg struct {
		c    *Client
		tr   trackState
		keys []byte
	}
	var out []msg
	s.trk.mu.Lock()
	for p, ks := range s.trk.pending {
		for c := range s.trk.bcast[p] {
			var b []byte
			n := 0
			for k, by := range ks {
				if c.track.noloop && by == c {
					continue
				}
				b = append(append(append(b, '$'), strconv.Itoa(len(k))...), '\r', '\n')
				b = append(append(b, k...), '\r', '\n')
				n++
			}
			if n > 0 {
				head := append(append([]byte{'*'}, strconv.Itoa(n)...), '\r', '\n')
				out = append(out, msg{c, c.track, append(head, b...)})
			}
		}
	}
	clear(s.trk.pending)
	s.trk.npending.Store(0)
	s.trk.mu.Unlock()
	for _, m := range out {
		s.sendInvalidation(m.c, m.tr, m.keys)
	}
}

// trackFlush tells every tracking client that every key changed
// (FLUSHDB, FLUSHALL) and forgets the remembered keys.
func (s *Server) trackFlush() {
	for i := range s.trk.shards {
		sh := &s.trk.shards[i]
		sh.mu.Lock()
		s.trk.nkeys.Add(-int64(len(sh.keys)))
		clear(sh.keys)
		sh.mu.Unlock()
	}
	var targets []trackTarget
	s.trk.mu.Lock()
	s.clientsMu.Lock()
	for _, t := range s.clients {
		if t.track.on {
			targets = append(targets, trackTarget{t, t.track})
		}
	}
	s.clientsMu.Unlock()
	s.trk.mu.Unlock()
	for _, t := range targets {
		s.sendInvalidation(t.c, t.tr, nil)
	}
}

// keyList encodes the one-key array of an invalidation.
func keyList(key []byte) []byte {
	b := append([]byte("*1\r\n$"), strconv.Itoa(len(key))...)
	b = append(b, '\r', '\n')
	b = append(b, key...)
	return append(b, '\r', '\n')
}

// sendInvalidation sends keys (an encoded array; nil: a null, everything)
// to tracking client t, or to its redirect target, as Redis's
// sendTrackingMessage.
func (s *Server) sendInvalidation(t *Client, tr trackState, keys []byte) {
	to := t
	if tr.redirect != 0 {
		to = s.clientByID(tr.redirect)
		if to == nil || to.leaving.Load() {
			// the connection is gone: t is told once per change, in RESP3
			if t.respA.Load() == 3 {
				f := append([]byte(">2\r\n$21\r\ntracking-redir-broken\r\n:"), strconv.FormatInt(tr.redirect, 10)...)
				t.pushQueue().Enqueue(append(f, '\r', '\n'))
			}
			t.trackBroken.Store(true)
			return
		}
	}
	var f []byte
	switch {
	case to.respA.Load() == 3:
		f = []byte(">2\r\n$10\r\ninvalidate\r\n")
		if keys == nil {
			keys = []byte("_\r\n")
		}
	case tr.redirect != 0 && to.subscribed.Load():
		f = []byte("*3\r\n$7\r\nmessage\r\n$20\r\n" + trackingChannel + "\r\n")
		if keys == nil {
			keys = []byte("$-1\r\n")
		}
	default:
		return // RESP2 without a subscribed redirect target: nowhere to send
	}
	to.pushQueue().Enqueue(append(f, keys...))
}

// trackingEvent is the store event hook's part for tracking.
func (s *Server) trackingEvent(ev storage.Event) {
	if ev.Name == "keymiss" || ev.Name == "new" {
		return
	}
	origin, _ := ev.Origin.(*Client)
	if ev.Name == "expired" || ev.Name == "evicted" {
		// the store's doing, even when a client's read found the key past
		// its deadline: NOLOOP does not hide it (Redis passes no client)
		origin = nil
	}
	s.trackKeyChanged(ev.Key, origin)
}
