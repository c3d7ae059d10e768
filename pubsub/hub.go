package pubsub

import (
	"cmp"
	"slices"
	"sort"
	"strconv"
	"sync"
)

// Sink is where a subscriber's encoded RESP frames go. WriteFrames is called
// only from the subscriber's own delivery goroutine; the server implements it
// by taking the connection's write lock, writing and flushing. b is only valid
// for the duration of the call (the buffer is reused), so WriteFrames must not
// retain it. Overflow is called at most once, when the subscriber's pending
// output exceeds its limit; the server then closes the connection.
type Sink interface {
	WriteFrames(b []byte) error
	Overflow()
}

// maxSpareBuf caps the delivery buffer kept for reuse between writes. A burst
// can grow a buffer up to the subscriber's limit (tens of MiB); keeping that
// around forever for an idle subscriber would waste memory, so larger
// buffers are dropped and reallocated on demand.
const maxSpareBuf = 64 << 10

// subSet is the set of subscribers of one channel or pattern.
type subSet map[*Subscriber]struct{}

// Hub routes published messages to channel and pattern subscribers.
//
// Publishers take mu in read mode so publishes, even to the same channel,
// run in parallel; subscription changes take it in write mode. Delivery to a
// subscriber only appends to that subscriber's buffer under its own mutex,
// so a publisher never waits on a slow client.
type Hub struct {
	mu       sync.RWMutex
	channels map[string]subSet // only channels with ≥1 subscriber
	patterns map[string]subSet // only patterns with ≥1 subscriber
	shards   map[string]subSet // shard channels (SSUBSCRIBE) with ≥1 subscriber

	keys keyHub // key-pattern subscriptions (KSUB, keys.go)
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{
		channels: make(map[string]subSet),
		patterns: make(map[string]subSet),
		shards:   make(map[string]subSet),
	}
}

// Subscriber is one client's set of subscriptions plus its outgoing frame
// queue, drained by a dedicated delivery goroutine into its Sink.
type Subscriber struct {
	hub   *Hub
	sink  Sink
	limit int

	// Subscription state, guarded by hub.mu. Values are insertion sequence
	// numbers so Channels/Patterns can report subscription order while
	// subscribe and unsubscribe stay O(1).
	channels map[string]uint64
	patterns map[string]uint64
	shards   map[string]uint64 // shard channels, a namespace of their own
	keyPats  map[string]keySub // key patterns (keys.go)
	seq      uint64
	closed   bool

	// Delivery state, guarded by mu.
	mu         sync.Mutex
	buf        []byte // frames not yet handed to the sink
	spare      []byte // reusable empty buffer from the previous write
	inflight   int    // bytes currently inside sink.WriteFrames
	overflowed bool
	stopped    bool // closed, or the sink failed; nothing more is delivered
	// push: the connection speaks RESP3, where messages are push frames
	// (>n, not *n); the hub encodes every frame once, as a RESP2 array
	push bool

	wake      chan struct{} // cap 1: "buf may be non-empty"
	quit      chan struct{} // closed by Close
	done      chan struct{} // closed when the delivery goroutine exits
	closeOnce sync.Once
}

// NewSubscriber creates a subscriber that delivers to sink and starts its
// delivery goroutine. limit is the maximum number of bytes that may be
// pending (queued plus being written) before the subscriber is declared
// overflowed, e.g. 32 MiB; limit <= 0 means unlimited. The caller must
// eventually call Close to release the goroutine.
func (h *Hub) NewSubscriber(sink Sink, limit int) *Subscriber {
	s := &Subscriber{
		hub:      h,
		sink:     sink,
		limit:    limit,
		channels: make(map[string]uint64),
		patterns: make(map[string]uint64),
		shards:   make(map[string]uint64),
		keyPats:  make(map[string]keySub),
		wake:     make(chan struct{}, 1),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go s.run()
	return s
}

// Subscribe subscribes s to channel and returns s's number of
// subscriptions (channels, patterns and key patterns; not shard channels)
// afterwards, the count Redis puts in the subscribe reply. Subscribing twice is a no-op. A closed subscriber is
// not subscribed and 0 is returned.
func (h *Hub) Subscribe(s *Subscriber, channel string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checkOwner(s)
	if !s.closed {
		if _, ok := s.channels[channel]; !ok {
			s.seq++
			s.channels[channel] = s.seq
			addSub(h.channels, channel, s)
		}
	}
	return s.countLocked()
}

// Unsubscribe removes s from channel and returns s's total number of
// subscriptions afterwards. Unsubscribing from a channel s is not subscribed
// to is allowed and changes nothing.
func (h *Hub) Unsubscribe(s *Subscriber, channel string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checkOwner(s)
	if _, ok := s.channels[channel]; ok {
		delete(s.channels, channel)
		removeSub(h.channels, channel, s)
	}
	return s.countLocked()
}

// PSubscribe subscribes s to the glob pattern (see Match) and returns s's
// total number of subscriptions afterwards. Subscribing twice is a no-op.
func (h *Hub) PSubscribe(s *Subscriber, pattern string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checkOwner(s)
	if !s.closed {
		if _, ok := s.patterns[pattern]; !ok {
			s.seq++
			s.patterns[pattern] = s.seq
			addSub(h.patterns, pattern, s)
		}
	}
	return s.countLocked()
}

// PUnsubscribe removes s's subscription to pattern (compared literally, not
// matched) and returns s's total number of subscriptions afterwards.
func (h *Hub) PUnsubscribe(s *Subscriber, pattern string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checkOwner(s)
	if _, ok := s.patterns[pattern]; ok {
		delete(s.patterns, pattern)
		removeSub(h.patterns, pattern, s)
	}
	return s.countLocked()
}

// SSubscribe subscribes s to the shard channel (SSUBSCRIBE: a namespace of
// its own, which only SPUBLISH reaches) and returns s's number of shard
// channels afterwards, the count Redis puts in the ssubscribe reply.
func (h *Hub) SSubscribe(s *Subscriber, channel string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checkOwner(s)
	if !s.closed {
		if _, ok := s.shards[channel]; !ok {
			s.seq++
			s.shards[channel] = s.seq
			addSub(h.shards, channel, s)
		}
	}
	return len(s.shards)
}

// SUnsubscribe removes s from the shard channel and returns s's number of
// shard channels afterwards.
func (h *Hub) SUnsubscribe(s *Subscriber, channel string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checkOwner(s)
	if _, ok := s.shards[channel]; ok {
		delete(s.shards, channel)
		removeSub(h.shards, channel, s)
	}
	return len(s.shards)
}

// SPublish delivers msg to the subscribers of the shard channel as
// "smessage" frames (patterns do not apply) and returns how many.
func (h *Hub) SPublish(channel string, msg []byte) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	subs := h.shards[channel]
	if len(subs) == 0 {
		return 0
	}
	bp := framePool.Get().(*[]byte)
	frame := append((*bp)[:0], "*3\r\n$8\r\nsmessage\r\n"...)
	frame = appendBulk(frame, channel)
	frame = appendBulk(frame, msg)
	for s := range subs {
		s.Enqueue(frame)
	}
	if cap(frame) <= maxSpareBuf {
		*bp = frame[:0]
		framePool.Put(bp)
	}
	return len(subs)
}

// Publish delivers msg to every subscriber of channel and of every pattern
// matching channel, and returns the number of deliveries: one per matching
// channel subscription plus one per matching pattern subscription, so a
// client subscribed to the channel and to two matching patterns counts 3 and
// receives 3 frames, as in Redis. Subscribers that have overflowed or whose
// sink failed still count (Redis also counts clients that are about to be
// disconnected). Publish never blocks on a subscriber.
func (h *Hub) Publish(channel string, msg []byte) int {
	h.mu.RLock()
	defer h.mu.RUnlock()

	n := 0
	bp := framePool.Get().(*[]byte)
	frame := (*bp)[:0]

	if subs := h.channels[channel]; len(subs) > 0 {
		frame = appendMessage(frame, channel, msg)
		for s := range subs {
			s.Enqueue(frame)
		}
		n += len(subs)
	}
	for pattern, subs := range h.patterns {
		if !MatchString(pattern, channel) {
			continue
		}
		frame = appendPMessage(frame[:0], pattern, channel, msg)
		for s := range subs {
			s.Enqueue(frame)
		}
		n += len(subs)
	}

	// Enqueue copies the frame, so the buffer can be reused by the next
	// publish; oversized ones are not pooled to keep idle memory bounded.
	if cap(frame) <= maxSpareBuf {
		*bp = frame[:0]
		framePool.Put(bp)
	}
	return n
}

// framePool recycles frame-encoding buffers so a publish does not allocate.
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Channels returns the active channels (those with at least one subscriber)
// in sorted order. If pattern is non-nil only channels matching it (see
// Match, case-sensitive) are returned, as PUBSUB CHANNELS does.
func (h *Hub) Channels(pattern []byte) []string { return h.channelList(h.channels, pattern) }

// ShardChannels is Channels for shard channels (PUBSUB SHARDCHANNELS).
func (h *Hub) ShardChannels(pattern []byte) []string { return h.channelList(h.shards, pattern) }

func (h *Hub) channelList(m map[string]subSet, pattern []byte) []string {
	h.mu.RLock()
	out := make([]string, 0, len(m))
	for ch := range m {
		if pattern == nil || matchBytesString(pattern, ch) {
			out = append(out, ch)
		}
	}
	h.mu.RUnlock()
	sort.Strings(out)
	return out
}

// NumSub returns the number of subscribers of channel (PUBSUB NUMSUB). It
// does not include pattern subscribers.
func (h *Hub) NumSub(channel string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.channels[channel])
}

// ShardNumSub returns the number of subscribers of a shard channel.
func (h *Hub) ShardNumSub(channel string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.shards[channel])
}

// NumPat returns the number of distinct patterns with at least one
// subscriber, which is what PUBSUB NUMPAT reports since Redis 7 (earlier
// versions counted pattern subscriptions).
func (h *Hub) NumPat() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.patterns)
}

// checkOwner panics if s was created by another hub: its subscriptions would
// be recorded in the wrong maps and never cleaned up by Close.
func (h *Hub) checkOwner(s *Subscriber) {
	if s.hub != h {
		panic("pubsub: subscriber belongs to a different Hub")
	}
}

func addSub(m map[string]subSet, key string, s *Subscriber) {
	set := m[key]
	if set == nil {
		set = make(subSet)
		m[key] = set
	}
	set[s] = struct{}{}
}

// removeSub drops s from m[key], deleting the entry once it is empty so that
// map keys are exactly the active channels/patterns.
func removeSub(m map[string]subSet, key string, s *Subscriber) {
	set := m[key]
	delete(set, s)
	if len(set) == 0 {
		delete(m, key)
	}
}

// appendMessage encodes the RESP2 "message" push for a channel subscriber.
func appendMessage(b []byte, channel string, msg []byte) []byte {
	b = append(b, "*3\r\n$7\r\nmessage\r\n"...)
	b = appendBulk(b, channel)
	return appendBulk(b, msg)
}

// appendPMessage encodes the RESP2 "pmessage" push for a pattern subscriber.
func appendPMessage(b []byte, pattern, channel string, msg []byte) []byte {
	b = append(b, "*4\r\n$8\r\npmessage\r\n"...)
	b = appendBulk(b, pattern)
	b = appendBulk(b, channel)
	return appendBulk(b, msg)
}

func appendBulk[T ~string | ~[]byte](b []byte, v T) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, '\r', '\n')
	b = append(b, v...)
	return append(b, '\r', '\n')
}

// Channels returns the channels s is subscribed to, in subscription order.
func (s *Subscriber) Channels() []string {
	s.hub.mu.RLock()
	defer s.hub.mu.RUnlock()
	return inOrder(s.channels)
}

// ShardChannels returns the shard channels s is subscribed to, in
// subscription order.
func (s *Subscriber) ShardChannels() []string {
	s.hub.mu.RLock()
	defer s.hub.mu.RUnlock()
	return inOrder(s.shards)
}

// Patterns returns the patterns s is subscribed to, in subscription order.
func (s *Subscriber) Patterns() []string {
	s.hub.mu.RLock()
	defer s.hub.mu.RUnlock()
	return inOrder(s.patterns)
}

// Count returns s's number of subscriptions (channels, patterns and key
// patterns), the count of (P)UNSUBSCRIBE's replies.
func (s *Subscriber) Count() int {
	s.hub.mu.RLock()
	defer s.hub.mu.RUnlock()
	return s.countLocked()
}

// Subscribed reports whether s has any subscription, shard channels
// included: the server's subscribed mode.
func (s *Subscriber) Subscribed() bool {
	s.hub.mu.RLock()
	defer s.hub.mu.RUnlock()
	return s.countLocked()+len(s.shards) > 0
}

func (s *Subscriber) countLocked() int {
	return len(s.channels) + len(s.patterns) + len(s.keyPats)
}

func inOrder(m map[string]uint64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Compare(m[a], m[b]) })
	return out
}

// Close unsubscribes s from everything, discards undelivered frames and
// stops the delivery goroutine. It does not wait for the goroutine: if the
// sink is blocked in WriteFrames the goroutine exits once that call returns
// (the server unblocks it by closing the connection). Use Done to wait.
// Close is idempotent.
func (s *Subscriber) Close() {
	h := s.hub
	h.mu.Lock()
	if !s.closed {
		s.closed = true
		for ch := range s.channels {
			removeSub(h.channels, ch, s)
		}
		for p := range s.patterns {
			removeSub(h.patterns, p, s)
		}
		for ch := range s.shards {
			removeSub(h.shards, ch, s)
		}
		h.removeKeyPatterns(s)
		clear(s.channels)
		clear(s.patterns)
		clear(s.shards)
	}
	h.mu.Unlock()

	s.mu.Lock()
	s.stopped = true
	s.buf, s.spare = nil, nil
	s.mu.Unlock()

	s.closeOnce.Do(func() { close(s.quit) })
}

// Done returns a channel that is closed when the delivery goroutine has
// exited, i.e. after Close once any in-progress WriteFrames has returned.
func (s *Subscriber) Done() <-chan struct{} {
	return s.done
}

// Enqueue appends raw, already-encoded bytes to s's outgoing queue. It never
// blocks on the sink. If the pending output (queued plus in-flight) would
// exceed the limit, the frame is dropped, everything still queued is
// discarded, s is marked overflowed and sink.Overflow is called once in a new
// goroutine; from then on nothing more is delivered. Frames enqueued after
// Close or after a sink error are silently dropped.
func (s *Subscriber) Enqueue(frame []byte) {
	s.mu.Lock()
	if s.stopped || s.overflowed {
		s.mu.Unlock()
		return
	}
	if s.limit > 0 && s.inflight+len(s.buf)+len(frame) > s.limit {
		s.overflowed = true
		// The connection is about to be closed; free the backlog now
		// rather than letting a slow client pin up to limit bytes.
		s.buf, s.spare = nil, nil
		s.mu.Unlock()
		// A new goroutine because the server's Overflow closes the
		// connection, which can block and may call Close (taking hub.mu,
		// which a publisher calling us holds in read mode).
		go s.sink.Overflow()
		return
	}
	start := len(s.buf)
	s.buf = append(s.buf, frame...)
	if s.push && len(frame) > 0 && frame[0] == '*' {
		s.buf[start] = '>'
	}
	s.mu.Unlock()

	// Non-blocking: a pending signal already guarantees the delivery
	// goroutine will look at buf again.
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Pending returns the bytes queued for delivery or being written (what
// CLIENT LIST reports as the connection's output buffer memory).
func (s *Subscriber) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buf) + s.inflight
}

// SetPush makes the frames enqueued from now on RESP3 push frames (>n), or
// RESP2 arrays again. Frames already queued keep their encoding: they were
// published before the switch, and are written before the reply of the
// command that switched (TakePending), as Redis writes them into the
// output buffer at publish time.
func (s *Subscriber) SetPush(on bool) {
	s.mu.Lock()
	s.push = on
	s.mu.Unlock()
}

// run is the delivery goroutine: it waits for a wake-up and drains buf into
// the sink, until Close or a sink error.
func (s *Subscriber) run() {
	defer close(s.done)
	for {
		select {
		case <-s.quit:
			return
		case <-s.wake:
		}
		if !s.drain() {
			return
		}
	}
}

// drain writes queued frames until the queue is empty. It swaps the buffer
// out under mu and writes outside it, so publishers keep appending to a fresh
// buffer while a slow write is in progress. It reports false when delivery
// must stop.
// LockedSink is a Sink whose connection also writes replies of its own. The
// delivery goroutine then takes the connection's write lock BEFORE taking the
// pending frames, and the connection, holding that lock, takes them with
// TakePending before writing a reply: so a message published before a
// command was read is always written before that command's reply, as in Redis.
type LockedSink interface {
	Sink
	LockWrites()
	UnlockWrites()
	// WriteFramesLocked writes and flushes b; the write lock is held.
	WriteFramesLocked(b []byte) error
}

// TakePending removes and returns the frames waiting for delivery (nil if
// none). The caller must hold the LockedSink's write lock and write them
// before anything else.
func (s *Subscriber) TakePending() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || len(s.buf) == 0 {
		return nil
	}
	b := s.buf
	s.buf = nil
	return b
}

func (s *Subscriber) drain() bool {
	ls, ok := s.sink.(LockedSink)
	if !ok {
		ls = unlockedSink{s.sink}
	}
	return s.drainLocked(ls)
}

// unlockedSink adapts a plain Sink, which locks inside WriteFrames, to the
// LockedSink protocol.
type unlockedSink struct{ Sink }

func (unlockedSink) LockWrites()                        {}
func (unlockedSink) UnlockWrites()                      {}
func (u unlockedSink) WriteFramesLocked(b []byte) error { return u.WriteFrames(b) }

// drainLocked writes pending frames until none are left; with a real
// LockedSink they are taken only while the connection's write lock is held.
// It returns false once the subscriber is stopped or a write failed.
func (s *Subscriber) drainLocked(ls LockedSink) bool {
	for {
		ls.LockWrites()
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			ls.UnlockWrites()
			return false
		}
		b := s.buf
		if len(b) == 0 {
			s.mu.Unlock()
			ls.UnlockWrites()
			return true
		}
		s.buf, s.spare = s.spare, nil
		s.inflight = len(b)
		s.mu.Unlock()

		err := ls.WriteFramesLocked(b)
		ls.UnlockWrites()

		s.mu.Lock()
		s.inflight = 0
		if err != nil {
			s.stopped = true
			s.buf, s.spare = nil, nil
			s.mu.Unlock()
			return false
		}
		if cap(b) <= maxSpareBuf && !s.stopped && !s.overflowed {
			s.spare = b[:0]
		}
		s.mu.Unlock()
	}
}
