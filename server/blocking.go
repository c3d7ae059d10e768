package server

// Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
// BZPOPMAX, BZMPOP).
//
// API for a blocking handler (see cmdBlpop in cmd_list.go for the model):
//
//	func cmdBzpopmin(c *Client, args [][]byte) {
//		timeoutMs, msg := parseTimeout(args[len(args)-1])
//		if msg != "" { c.WriteError(msg); return }
//		db := c.DB()
//		for _, k := range args[1 : len(args)-1] {
//			e := db.LookupWrite(k)
//			if e == nil { continue }
//			if e.Type != storage.TypeZSet {
//				if c.blockRetry() { continue } // Redis 7.0: keep waiting
//				c.WriteError(msgWrongType); return
//			}
//			... pop, record through storage, write the reply ...
//			return
//		}
//		c.blockOn(args[1:len(args)-1], timeoutMs, (*Client).WriteNullArray)
//	}
//
//   - The handler runs under its shard locks like any other. When it can serve
//     it replies; when it cannot, it calls c.blockOn(keys, timeoutMs, onTimeout)
//     and returns WITHOUT writing anything. timeoutMs 0 waits forever.
//     onTimeout writes the reply sent when the timeout expires: Redis 7.0
//     sends a null array (*-1) for every blocking command, BLMOVE included.
//   - Inside MULTI/EXEC blockOn writes the timeout reply at once, as Redis does
//     (BLMOVE/BRPOPLPUSH answer a null bulk there: they check c.inExec first).
//   - Otherwise call() (command.go), after unlocking, parks the client in
//     serveBlocked. When a blocked key changes the handler is run again with
//     the same arguments, under its locks; c.blockRetry() is true during such a
//     re-run. A re-run that finds nothing to serve calls blockOn again, which
//     keeps the client's place in the queues and its original deadline.
//   - The command must have FlagBlocking and FlagWrite (a served pop is a write:
//     it is recorded through storage like any pop, and in always mode the reply
//     waits for the fsync because call() sets c.wrote).
//
// Wake-ups. Every key mutation reaches the store's event hook (installed by
// initBlocking from New). For a key somebody waits on, the hook only records the
// key as ready (it runs under the shard lock: no blocking, no shard locks).
// Whoever ran the mutating command then, in call() after releasing its locks,
// serves the ready keys: for each key it hands a ticket to the first waiter in
// FIFO order and waits until that waiter has re-run its handler (and, in turn,
// served the keys its own write made ready, for chained BLMOVEs). It goes on
// with the next waiter while the key still exists. So, as in Redis, by the time
// the pushing client gets its reply the blocked clients it can serve have been
// served, and a push inside MULTI/EXEC serves them when EXEC has unlocked.
//
// Disconnects. While parked, a goroutine watches the socket through the
// netpoller with recv(MSG_PEEK): end of stream or an error unregisters the
// waiter, so no element is popped for a dead client. If the client pipelines
// more commands meanwhile, the data is left unread and the watcher falls back
// to polling the TCP state for a close.

import (
	"errors"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/luxdb/lux-go/storage"
	"golang.org/x/sys/unix"
)

// blockKey names a key of one database in the waiter registry.
type blockKey struct {
	db  int
	key string
}

// blockRequest is a client's blocking state, from the first blockOn until it
// is served, times out or disconnects (Client.block).
type blockRequest struct {
	keys      []blockKey
	deadline  time.Time // zero: no timeout
	onTimeout func(*Client)
	w         *waiter // the registry entry
	retry     bool    // the handler is being re-run after a wake-up
	again     bool    // the re-run found nothing and asked to keep waiting
	ns        int64   // time the handler ran so far (its first run, re-runs)
	ctx       any     // the handler's own state across re-runs (blockOnCtx)
}

// ticket is one wake-up: the waiter closes done after its handler re-ran
// (and after it served what its own write made ready).
type ticket struct{ done chan struct{} }

// waiter is a parked client in the registry. registered and busy are guarded
// by blockRegistry.mu.
type waiter struct {
	c          *Client
	keys       []blockKey
	wake       chan *ticket // cap 1; only sent to when busy was nil
	unblock    chan bool    // CLIENT UNBLOCK: true = with error
	registered bool
	timed      bool    // blocked with a timeout
	busy       *ticket // the ticket handed out and not yet finished
	// wakeOnDelete: re-run also when a key is deleted (XREADGROUP answers
	// an error then)
	wakeOnDelete bool
}

// blockRegistry is the server-wide table of blocked clients per key.
type blockRegistry struct {
	mu       sync.Mutex
	queues   map[blockKey][]*waiter // FIFO per key
	byID     map[int64]*waiter
	ready    []blockKey // keys changed while someone waits on them
	readySet map[blockKey]struct{}

	nwaiters atomic.Int64 // registered waiters (INFO blocked_clients)
	ntimed   atomic.Int64 // those with a timeout (INFO clients_in_timeout_table)
	nready   atomic.Int64 // len(ready), read without the mutex on every call
}

// initBlocking creates the registry and installs the store's event hook.
// New calls it once, after the key event listeners are added.
func (s *Server) initBlocking() {
	s.blocking = &blockRegistry{queues: make(map[blockKey][]*waiter),
		byID: make(map[int64]*waiter), readySet: make(map[blockKey]struct{})}
	s.store.SetEventHook(s.onKeyEvent)
}

// addKeyEventListener adds a consumer of every key event (keyspace
// notifications), called after the blocking registry. New calls it before
// initBlocking installs the store's hook; the list is fixed from then on.
// fn runs under the key's shard lock: it must not block or call into the
// store.
func (s *Server) addKeyEventListener(fn func(storage.Event)) {
	s.keyListeners = append(s.keyListeners, fn)
}

// onKeyEvent is the store's event hook.
func (s *Server) onKeyEvent(ev storage.Event) {
	if ev.Name != "keymiss" && ev.Name != "new" {
		s.blocking.keyChanged(ev.DB, ev.Key)
	}
	for _, fn := range s.keyListeners {
		fn(ev)
	}
	if s.hub.KeySubscriptions() != 0 {
		s.keyEvent(ev) // KSUB (cmd_ksub.go); one atomic load while nobody subscribes
	}
	if s.trk.clients.Load() != 0 {
		s.trackingEvent(ev) // CLIENT TRACKING (tracking.go)
	}
}

// keyChanged marks a key ready if a client waits on it. It runs under the
// key's shard lock.
func (r *blockRegistry) keyChanged(db int, key []byte) {
	if r.nwaiters.Load() == 0 {
		return
	}
	r.mu.Lock()
	k := blockKey{db, string(key)}
	if len(r.queues[k]) > 0 {
		if _, ok := r.readySet[k]; !ok {
			r.readySet[k] = struct{}{}
			r.ready = append(r.ready, k)
			r.nready.Add(1)
		}
	}
	r.mu.Unlock()
}

// wakeBlockedDB marks every key someone waits on in database db as ready,
// for changes that replace a whole database without per-key events (SWAPDB).
// It may run under shard locks; the waiters are served when the calling
// command's call() finishes.
func (s *Server) wakeBlockedDB(db int) {
	r := s.blocking
	if r.nwaiters.Load() == 0 {
		return
	}
	r.mu.Lock()
	for k := range r.queues {
		if _, ok := r.readySet[k]; k.db == db && !ok {
			r.readySet[k] = struct{}{}
			r.ready = append(r.ready, k)
			r.nready.Add(1)
		}
	}
	r.mu.Unlock()
}

// blockedClients is the number of clients parked in a blocking command
// (INFO clients: blocked_clients).
func (s *Server) blockedClients() int { return int(s.blocking.nwaiters.Load()) }

// blockRetry reports whether the running handler is a re-run after a wake-up
// (Redis 7.0 keeps waiting on a key that now holds another type, instead of
// replying WRONGTYPE).
func (c *Client) blockRetry() bool { return c.block != nil && c.block.retry }

// blockOn parks the client on keys (of the selected database) until one of
// them changes, for at most timeoutMs (0 = forever). The handler must return
// without writing a reply. onTimeout writes the reply sent on timeout; inside
// MULTI/EXEC it is written at once since a transaction cannot block.
func (c *Client) blockOn(keys [][]byte, timeoutMs int64, onTimeout func(*Client)) {
	c.blockOnCtx(keys, timeoutMs, onTimeout, nil, false)
}

// blockOnCtx is blockOn for a handler that keeps state across its re-runs
// (c.block.ctx during a re-run: XREAD's "$" resolved when it blocked) and
// that is re-run when a key it waits on is deleted (wakeOnDelete).
func (c *Client) blockOnCtx(keys [][]byte, timeoutMs int64, onTimeout func(*Client), ctx any, wakeOnDelete bool) {
	if c.inExec {
		onTimeout(c)
		return
	}
	if c.block != nil {
		// a re-run that found nothing: keep the queue position and deadline
		c.block.again = true
		return
	}
	req := &blockRequest{onTimeout: onTimeout, ctx: ctx}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if !seen[string(k)] {
			seen[string(k)] = true
			req.keys = append(req.keys, blockKey{c.db, string(k)})
		}
	}
	// a timeout too large for time.Duration is as good as forever
	if timeoutMs > 0 && timeoutMs < math.MaxInt64/int64(time.Millisecond) {
		req.deadline = time.Now().Add(time.Duration(timeoutMs) * time.Millisecond)
	}
	// registered now, under the handler's shard locks, so a push that runs
	// right after the locks are released cannot be missed
	req.w = &waiter{c: c, keys: req.keys, wake: make(chan *ticket, 1), unblock: make(chan bool, 1), timed: !req.deadline.IsZero(), wakeOnDelete: wakeOnDelete}
	c.srv.blocking.register(req.w)
	c.block = req
}

func (r *blockRegistry) register(w *waiter) {
	r.mu.Lock()
	for _, k := range w.keys {
		r.queues[k] = append(r.queues[k], w)
	}
	r.byID[w.c.id] = w
	w.registered = true
	r.nwaiters.Add(1)
	if w.timed {
		r.ntimed.Add(1)
	}
	r.mu.Unlock()
}

// unregister removes w from every queue. It returns the ticket w was handed
// and had not finished, if any, which the caller must finish.
func (r *blockRegistry) unregister(w *waiter) *ticket {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !w.registered {
		return nil
	}
	w.registered = false
	r.nwaiters.Add(-1)
	if w.timed {
		r.ntimed.Add(-1)
	}
	delete(r.byID, w.c.id)
	for _, k := range w.keys {
		q := r.queues[k]
		for i, x := range q {
			if x == w {
				q = append(q[:i:i], q[i+1:]...)
				break
			}
		}
		if len(q) == 0 {
			delete(r.queues, k)
		} else {
			r.queues[k] = q
		}
	}
	t := w.busy
	w.busy = nil
	return t
}

// finish ends a ticket: the waiter no longer holds it.
func (r *blockRegistry) finish(w *waiter, t *ticket) {
	r.mu.Lock()
	if w.busy == t {
		w.busy = nil
	}
	r.mu.Unlock()
	close(t.done)
}

// afterCall runs in call() once a command's locks are released: a command
// that decided to block waits here, and any keys made ready (by this command
// or others) are served before the reply goes out.
func (s *Server) afterCall(c *Client, cmd *Command, args [][]byte) {
	if c.block != nil && !c.block.retry {
		s.serveBlocked(c, cmd, args)
	}
	if s.blocking.nready.Load() > 0 {
		s.serveReady()
	}
}

// serveReady serves the clients waiting on the keys marked ready.
func (s *Server) serveReady() {
	r := s.blocking
	for r.nready.Load() > 0 {
		r.mu.Lock()
		keys := r.ready
		r.ready = nil
		for _, k := range keys {
			delete(r.readySet, k)
		}
		r.nready.Store(0)
		r.mu.Unlock()
		for _, k := range keys {
			s.serveKey(k)
		}
	}
}

// serveKey wakes the waiters of k one at a time, oldest first, while the key
// exists (an empty collection is deleted, so existing means there may be data).
func (s *Server) serveKey(k blockKey) {
	r := s.blocking
	r.mu.Lock()
	queue := append([]*waiter(nil), r.queues[k]...)
	r.mu.Unlock()
	for _, w := range queue {
		if !w.wakeOnDelete && !s.keyExists(k) {
			continue
		}
		for {
			r.mu.Lock()
			if !w.registered {
				r.mu.Unlock()
				break
			}
			if t := w.busy; t != nil {
				// woken by another key: let that attempt finish, then retry,
				// so a key with data is never left behind
				r.mu.Unlock()
				<-t.done
				continue
			}
			t := &ticket{done: make(chan struct{})}
			w.busy = t
			w.wake <- t
			r.mu.Unlock()
			<-t.done
			break
		}
	}
}

func (s *Server) keyExists(k blockKey) bool {
	var ls storage.LockSet
	kb := []byte(k.key)
	ls.Add(s.store.ShardOf(k.db, kb))
	s.store.Lock(&ls)
	ok := s.store.DB(k.db).Peek(kb) != nil
	s.store.Unlock(&ls)
	return ok
}

// serveBlocked parks a client whose handler called blockOn until it is
// served, times out, is unblocked, disconnects or the server closes.
func (s *Server) serveBlocked(c *Client, cmd *Command, args [][]byte) {
	req := c.block
	w := req.w
	r := s.blocking
	c.publishView()   // CLIENT LIST shows it blocked, in this command
	c.signalStarted() // queued: the event loop that handed c over goes on
	defer func() {
		// counted once, when the wait ends, with the time its runs took
		s.afterTimed(c, cmd, args, s.statsFor(cmd, args), req.ns)
		c.block = nil
		c.publishView()
	}()

	var timeout <-chan time.Time
	if !req.deadline.IsZero() {
		tm := time.NewTimer(time.Until(req.deadline))
		defer tm.Stop()
		timeout = tm.C
	}
	watch := watchDisconnect(c.io)
	defer watch.stop()

	for {
		select {
		case t := <-w.wake:
			select {
			case <-watch.gone:
				// never pop for a client known to be gone
				r.unregister(w)
				close(t.done)
				return
			default:
			}
			req.retry, req.again = true, false
			c.locks.Reset()
			c.keys = s.addLocks(cmd, c.db, args, &c.locks, c.keys)
			s.store.Lock(&c.locks)
			c.beginKeyEvents()
			t0 := cputicks()
			s.runHeld(c, cmd, args)
			req.ns += ticksNs(cputicks() - t0)
			c.flushKeyEvents(cmd, args)
			s.store.Unlock(&c.locks)
			if req.again {
				r.finish(w, t)
				continue
			}
			// served (or answered with an error): leave the queues first so
			// the chained serving below never hands this client a ticket
			r.unregister(w)
			s.serveReady()
			close(t.done)
			return
		case <-timeout:
			s.leaveBlocked(w)
			req.onTimeout(c)
			return
		case withErr := <-w.unblock:
			s.leaveBlocked(w)
			if withErr {
				c.WriteError("UNBLOCKED client unblocked via CLIENT UNBLOCK")
			} else {
				req.onTimeout(c)
			}
			return
		case <-watch.gone:
			s.leaveBlocked(w)
			return
		case <-s.quit:
			// Close closed the connection; a pipe (tests) has no watch
			s.leaveBlocked(w)
			return
		}
	}
}

// leaveBlocked unregisters a waiter that stops waiting without being served;
// a wake-up it was handed meanwhile is finished unserved, so the server
// moves on to the next waiter.
func (s *Server) leaveBlocked(w *waiter) {
	if t := s.blocking.unregister(w); t != nil {
		// the ticket is in w.wake (sent under the mutex with busy set)
		select {
		case <-w.wake:
		default:
		}
		close(t.done)
	}
}

// unblockClient implements CLIENT UNBLOCK id [TIMEOUT|ERROR]: it reports
// whether the client was blocked.
func (s *Server) unblockClient(id int64, withErr bool) bool {
	r := s.blocking
	r.mu.Lock()
	w := r.byID[id]
	r.mu.Unlock()
	if w == nil {
		return false
	}
	select {
	case w.unblock <- withErr:
	default:
	}
	return true
}

// disconnectWatch observes a parked client's socket for a close.
type disconnectWatch struct {
	conn net.Conn
	gone chan struct{} // closed when the peer went away
	quit chan struct{}
	done chan struct{}
}

// watchDisconnect starts watching conn. Connections that are not sockets
// (tests with net.Pipe) are not watched.
func watchDisconnect(conn net.Conn) *disconnectWatch {
	d := &disconnectWatch{conn: conn, gone: make(chan struct{}), quit: make(chan struct{}), done: make(chan struct{})}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		close(d.done)
		return d
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		close(d.done)
		return d
	}
	go d.run(rc)
	return d
}

func (d *disconnectWatch) run(rc syscall.RawConn) {
	defer close(d.done)
	var buf [1]byte
	closed, pipelined := false, false
	err := rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EINTR:
			return false // nothing yet: wait in the netpoller
		case err != nil || n == 0:
			closed = true
		default:
			pipelined = true // more commands: leave them for after the reply
		}
		return true
	})
	if err != nil {
		// a deadline means stop() asked us to return; anything else is a dead socket
		if errors.Is(err, os.ErrDeadlineExceeded) {
			select {
			case <-d.quit:
				return
			default:
			}
		}
		closed = true
	}
	if pipelined {
		closed = d.pollClose(rc)
	}
	if closed {
		close(d.gone)
	}
}

// pollClose checks the TCP state of a socket with unread data every 100ms
// until the peer closes (true) or the watch is stopped (false).
func (d *disconnectWatch) pollClose(rc syscall.RawConn) bool {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-d.quit:
			return false
		case <-t.C:
		}
		dead := false
		err := rc.Control(func(fd uintptr) {
			info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
			if err != nil {
				return
			}
			switch info.State {
			case unix.BPF_TCP_CLOSE_WAIT, unix.BPF_TCP_CLOSE, unix.BPF_TCP_LAST_ACK, unix.BPF_TCP_TIME_WAIT:
				dead = true
			}
		})
		if err != nil || dead {
			return true
		}
	}
}

// stop ends the watch and restores the connection's read deadline.
func (d *disconnectWatch) stop() {
	close(d.quit)
	select {
	case <-d.done:
	default:
		d.conn.SetReadDeadline(time.Now())
		<-d.done
		d.conn.SetReadDeadline(time.Time{})
	}
}
