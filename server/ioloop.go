package server

// The event loop: one goroutine reads every connection it owns in socket
// readiness order from its own epoll instance and runs their batches inline,
// as Redis's event loop does, instead of a goroutine per connection woken by
// Go's netpoller (which readies the goroutines of sockets that became
// readable together in reverse order, and costs a wake-up per request:
// BENCHMARKS.md, "Request path").
//
// Only what cannot wait runs in the loop. A batch whose next command may
// wait (blocking commands, scripts and functions, subscribers, MONITOR,
// CLIENT TRACKING/REPLY/PAUSE, CONFIG, DEBUG, MIGRATE, WAIT, SHUTDOWN, any
// command while CLIENT PAUSE is on) is handed, from that command on, to a
// goroutine of its own that serves the connection from then on
// (serveConnFrom); the loop goes on once that batch has run or its command
// has blocked (a blocked client is queued in arrival order), at most
// handoffWait later. So is a connection whose replies the socket does not
// take at once (a slow reader), and every connection in appendfsync always
// mode, whose replies wait for an fsync.
//
// Ownership: while the loop owns a connection only the loop reads, writes
// and closes its socket; anyone else closes it through closeConn, which asks
// the loop to. The loop's goroutine and each connection it owns are counted
// in the server's wg.

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/luxdb/lux-go/storage"
)

// handoffWait bounds how long the loop waits for a handed-over batch.
const handoffWait = 5 * time.Millisecond

// errWouldBlock: the event loop's reader has no more input for now.
var errWouldBlock = errors.New("server: no input ready")

type ioLoop struct {
	s    *Server
	ep   int
	epf  *os.File // ep in Go's netpoller: the loop parks as a goroutine, not in epoll_wait
	wake int      // an eventfd: kills and Close wake the loop through it

	mu    sync.Mutex
	conns map[int64]*Client
	kills []*Client

	// flushQ: the connections whose replies this round has not written
	// (flushRound)
	flushQ []*Client
}

// newIOLoop starts the event loop, or returns nil where it cannot run.
func newIOLoop(s *Server) *ioLoop {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		logf("event loop: %v; serving a goroutine per connection", err)
		return nil
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(ep)
		logf("event loop: %v; serving a goroutine per connection", err)
		return nil
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(ep)
		unix.Close(wake)
		logf("event loop: %v; serving a goroutine per connection", err)
		return nil
	}
	// The loop waits for its epoll instance to become readable in Go's
	// netpoller rather than in a blocking epoll_wait: a goroutine blocked in
	// a system call makes the runtime hand its P to another thread and take
	// it back at every wake-up, which cost more than the loop saved.
	if err := unix.SetNonblock(ep, true); err != nil {
		unix.Close(ep)
		unix.Close(wake)
		return nil
	}
	epf := os.NewFile(uintptr(ep), "epoll")
	l := &ioLoop{s: s, ep: ep, epf: epf, wake: wake, conns: map[int64]*Client{}}
	if !s.track() {
		epf.Close()
		unix.Close(wake)
		return nil
	}
	go l.run()
	return l
}

// add makes the loop own an admitted connection, or one a goroutine served
// (handed over before, see giveBack); false: a goroutine serves it.
func (l *ioLoop) add(c *Client) bool {
	if l.s.store.SyncMode() == storage.SyncAlways {
		return false
	}
	fc, ok := c.io.(interface{ File() (*os.File, error) })
	if !ok {
		return false
	}
	// The loop reads a duplicate of the socket, and the connection Go's
	// netpoller watches is closed, so a request wakes the loop only (not
	// also the runtime's poller); the closed conn still gives the addresses.
	f, err := fc.File()
	if err != nil {
		return false
	}
	fd := int(f.Fd())
	if unix.SetNonblock(fd, true) != nil {
		f.Close()
		return false
	}
	c.wmu.Lock() // no writer sees the switch half done (release)
	defer c.wmu.Unlock()
	c.fdMu.Lock()
	defer c.fdMu.Unlock()
	if c.killed.Load() {
		f.Close()
		return false
	}
	c.io.Close()
	c.file, c.fd, c.io = f, fd, nil
	c.inLoop.Store(true)
	if c.rd == nil {
		l.s.initReaders(c)
	}
	l.mu.Lock()
	l.conns[c.id] = c
	l.mu.Unlock()
	c.loop.Store(l)
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setEventID(&ev, c.id)
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.mu.Lock()
		delete(l.conns, c.id)
		l.mu.Unlock()
		c.loop.Store(nil)
		c.inLoop.Store(false)
		c.toGoroutine()
		if c.io == nil {
			c.killed.Store(true) // nothing to serve it with: dropped
		}
		return false
	}
	return true
}

func setEventID(ev *unix.EpollEvent, id int64) {
	ev.Fd = int32(uint32(id))
	ev.Pad = int32(uint32(uint64(id) >> 32))
}

func eventID(ev *unix.EpollEvent) int64 {
	return int64(uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32)
}

// kill asks the loop to close c (closeConn).
func (l *ioLoop) kill(c *Client) {
	l.mu.Lock()
	l.kills = append(l.kills, c)
	l.mu.Unlock()
	l.poke()
}

func (l *ioLoop) poke() {
	var one = [8]byte{1}
	unix.Write(l.wake, one[:])
}

func (l *ioLoop) run() {
	defer l.s.wg.Done()
	events := make([]unix.EpollEvent, 256)
	rc, err := l.epf.SyscallConn()
	if err != nil {
		logf("event loop: %v", err)
		return
	}
	for {
		n := 0
		rerr := rc.Read(func(fd uintptr) bool {
			var err unix.Errno
			n, err = rawEpollPoll(int(fd), events)
			if err == unix.EINTR {
				n, err = 0, 0
			}
			if err != 0 {
				logf("event loop: epoll_wait: %v", err)
				n = 0
				return true
			}
			return n > 0 || l.s.closing.Load()
		})
		if rerr != nil {
			logf("event loop: %v", rerr)
			time.Sleep(10 * time.Millisecond)
		}
		l.handle(events[:n])
		l.flushRound()
		if l.finish() {
			return
		}
	}
}

// handle serves the connections of one epoll_wait, in its order.
func (l *ioLoop) handle(events []unix.EpollEvent) {
	for i := range events {
		id := eventID(&events[i])
		if id == 0 {
			var b [8]byte
			unix.Read(l.wake, b[:])
			continue
		}
		l.mu.Lock()
		c := l.conns[id]
		l.mu.Unlock()
		if c != nil {
			l.serve(c)
		}
	}
}

// finish closes what was killed; when the server closes, every connection,
// and then it reports that the loop ends.
func (l *ioLoop) finish() bool {
	l.reap()
	if !l.s.closing.Load() {
		return false
	}
	// every connection left goes, each cleaned up by a goroutine of its
	// own as without the loop (one after another, a server closing under
	// load would take as many scheduler rounds)
	l.mu.Lock()
	left := make([]*Client, 0, len(l.conns))
	for _, c := range l.conns {
		left = append(left, c)
	}
	l.mu.Unlock()
	for _, c := range left {
		c.killed.Store(true) // closing: no net.Conn to make for it
		l.release(c)
		go func() {
			l.s.dropClient(c)
			l.s.wg.Done()
		}()
	}
	l.mu.Lock()
	empty := len(l.conns) == 0
	l.mu.Unlock()
	if empty {
		l.epf.Close()
		unix.Close(l.wake)
	}
	return empty
}

// reap closes the connections closeConn asked for.
func (l *ioLoop) reap() {
	l.mu.Lock()
	kills := l.kills
	l.kills = nil
	l.mu.Unlock()
	closing := l.s.closing.Load()
	for _, c := range kills {
		if c.loop.Load() == l {
			if closing {
				continue // finish drops every connection left, each on a goroutine of its own
			}
			l.drop(c)
		} else {
			c.closeIO() // handed over meanwhile: its goroutine ends
		}
	}
}

// drop closes a connection the loop owns and forgets it. It is marked
// killed first, so release closes the socket instead of making a net.Conn
// of it for a goroutine that will never run.
func (l *ioLoop) drop(c *Client) {
	c.killed.Store(true)
	l.release(c)
	l.s.dropClient(c)
	l.s.wg.Done()
}

// release takes a connection out of the loop: its socket goes back to Go's
// netpoller as c.io. Replies the round has not written yet go first.
func (l *ioLoop) release(c *Client) {
	if c.unflushed {
		flushClient(c)
	}
	unix.EpollCtl(l.ep, unix.EPOLL_CTL_DEL, c.fd, nil)
	l.mu.Lock()
	delete(l.conns, c.id)
	l.mu.Unlock()
	// Writers hold wmu (the pub/sub and tracking delivery goroutines write
	// pushes at any time): none may see the socket between its owners, with
	// inLoop false and c.io not set yet (the write failed as closed and the
	// delivery stopped for good: a redirect target handed over at that
	// moment never got another invalidation).
	c.wmu.Lock()
	c.fdMu.Lock()
	c.loop.Store(nil)
	c.inLoop.Store(false)
	c.toGoroutine()
	c.fdMu.Unlock()
	c.wmu.Unlock()
}

// toGoroutine gives c a net.Conn on the socket the loop read (fdMu held);
// c.io stays nil if it cannot (its reads then fail and it is dropped).
func (c *Client) toGoroutine() {
	if c.file == nil {
		return
	}
	if c.killed.Load() {
		c.file.Close()
		c.file = nil
		return
	}
	if nc, err := net.FileConn(c.file); err == nil {
		c.io = nc
		c.fd = connFD(nc)
	}
	c.file.Close()
	c.file = nil
}

// closeIO closes c's socket, whoever serves it.
func (c *Client) closeIO() {
	c.fdMu.Lock()
	defer c.fdMu.Unlock()
	if c.file != nil {
		c.file.Close()
		c.file = nil
	}
	if c.io != nil {
		c.io.Close()
	}
}

// serve runs what a readable connection sent.
func (l *ioLoop) serve(c *Client) {
	s := l.s
	for {
		if c.loop.Load() != l {
			return
		}
		if c.killed.Load() {
			l.drop(c)
			return
		}
		if s.store.SyncMode() == storage.SyncAlways {
			l.handOver(c, nil)
			return
		}
		cmds, err := c.rd.ReadCommands()
		if err == errWouldBlock {
			return
		}
		if err != nil {
			s.protocolError(c, err)
			l.drop(c)
			return
		}
		queued := c.unflushed
		rest, ok := s.runBatch(c, cmds, true)
		if c.unflushed && !queued {
			l.flushQ = append(l.flushQ, c)
		}
		if !ok {
			l.drop(c)
			return
		}
		if rest != nil || len(c.outPending) > 0 {
			l.handOver(c, rest)
			return
		}
		if !c.pr.pending() {
			// what the socket has left (if anything) wakes the loop again:
			// reading on until EAGAIN would cost a system call a request
			return
		}
	}
}

// flushRound writes the replies of the round's batches, after all of them
// ran (as Redis writes replies before it sleeps). A connection whose write
// failed is dropped; one whose socket did not take everything goes to a
// goroutine, which writes the rest when it can.
//
// Sharing these writes with a helper goroutine on another core (as Redis's
// I/O threads do) was measured and left out: with 2 cores it bought nothing
// at P=64 and cost 25% of throughput at P=1 (a wake-up and a wait a round).
func (l *ioLoop) flushRound() {
	slow := l.flushQ[:0] // handed over once every reply of the round is out
	for _, c := range l.flushQ {
		if !c.unflushed || c.loop.Load() != l { // (a released one was flushed)
			continue
		}
		switch {
		case !flushClient(c):
			l.drop(c)
		case len(c.outPending) > 0:
			slow = append(slow, c)
		}
	}
	for _, c := range slow {
		l.handOver(c, nil)
	}
	clear(l.flushQ)
	l.flushQ = l.flushQ[:0]
}

// flushClient writes the replies the loop left in c's buffer; false if the
// write failed.
func flushClient(c *Client) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.unflushed = false
	return c.Flush() == nil
}

// handOver gives c to a goroutine of its own, which first runs rest, and
// waits until that has run or blocked (at most handoffWait), so the
// connections served next see its effects as Redis would show them.
func (l *ioLoop) handOver(c *Client, rest []reqCommand) {
	l.release(c)
	started := make(chan struct{})
	go l.s.serveConnFrom(c, rest, started)
	t := time.NewTimer(handoffWait)
	select {
	case <-started:
	case <-t.C:
	}
	t.Stop()
}

// giveBackAfter: a handed-over connection goes back to the loop after this
// many batches in a row that ended with a command the loop runs inline
// (moving a connection costs two system calls, a netpoller registration
// and a wait of the loop: a connection that runs EVAL after EVAL stays).
const giveBackAfter = 16

// giveBack reports whether a handed-over connection's goroutine gave it
// back to the loop after a batch: nothing about it waits any more (blocked,
// subscribed, MONITOR, tracking, CLIENT REPLY, CLIENT PAUSE), its recent
// batches ran no command that may wait, and no request is left in its
// reader. Then commands that came through it run in arrival order again (a
// pool connection that once ran BLPOP or EVAL is not served by a goroutine
// for the rest of its life).
func (s *Server) giveBack(c *Client) bool {
	if s.loop == nil {
		return false
	}
	if c.cmd == nil || c.cmd.mayWait {
		c.goBatches = 0
		return false
	}
	if c.goBatches++; c.goBatches < giveBackAfter {
		return false
	}
	if c.quit || c.closed.Load() || c.killed.Load() || c.block != nil || c.pr.pending() ||
		c.realWriter != nil || len(c.outPending) > 0 || s.pause.on.Load() || c.monitor ||
		c.trackQ.Load() != nil || c.track.on || c.keySubscriber.Load() || (c.sub != nil && c.sub.Subscribed()) {
		return false
	}
	c.goBatches = 0
	return s.loop.add(c)
}

// inlineOK reports whether the loop may run the command: it never waits
// for another client, a timer or the disk's fsync.
func (s *Server) inlineOK(c *Client, args [][]byte) bool {
	if s.pause.on.Load() || s.scriptsRunning.Load() != 0 || c.monitor || c.trackQ.Load() != nil || c.track.on ||
		c.keySubscriber.Load() || (c.sub != nil && c.sub.Subscribed()) {
		return false
	}
	cmd := c.lookup(args[0])
	if cmd == nil {
		return true // an error reply
	}
	if cmd.mayWait {
		return false
	}
	if cmd.Name == "client" && len(args) > 1 {
		if sub := lookupSubcommand("client", args[1]); sub != nil {
			switch sub.Name {
			case "tracking", "reply", "pause", "caching", "unblock", "kill":
				return false
			}
		}
	}
	return true
}

// loopUnsafe names the commands the event loop hands to a goroutine.
var loopUnsafe = []string{
	"blpop", "brpop", "brpoplpush", "blmove", "blmpop", "bzpopmin", "bzpopmax", "bzmpop",
	"xread", "xreadgroup", "wait",
	"subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe",
	"monitor", "ksub", "kunsub",
	"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "function", "script",
	"config", "debug", "migrate", "shutdown", "sync", "psync", "replicaof", "slaveof",
}

var markLoopOnce sync.Once

// markLoopUnsafe flags the commands of loopUnsafe (once, at the first start).
func markLoopUnsafe() {
	markLoopOnce.Do(func() {
		for _, name := range loopUnsafe {
			if cmd := commands[name]; cmd != nil {
				cmd.mayWait = true
			}
		}
	})
}

// closeConn closes c's connection; while the event loop owns it, the loop
// does (no other goroutine may close a socket the loop may be reading).
func (c *Client) closeConn() {
	c.fdMu.Lock()
	c.killed.Store(true)
	l := c.loop.Load()
	c.fdMu.Unlock()
	if l != nil {
		l.kill(c)
		return
	}
	c.closeIO()
}

// signalStarted tells the loop that handed c over that its batch has run
// (or blocked).
func (c *Client) signalStarted() {
	if c.started != nil {
		close(c.started)
		c.started = nil
	}
}

// connReader reads c's connection: without blocking while the loop owns it.
type connReader struct{ c *Client }

func (r *connReader) Read(b []byte) (int, error) {
	c := r.c
	if !c.inLoop.Load() {
		if c.io == nil {
			return 0, net.ErrClosed
		}
		return c.io.Read(b)
	}
	for {
		n, err := rawRead(c.fd, b)
		switch {
		case n > 0:
			return n, nil
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, errWouldBlock
		case err != 0:
			return 0, err
		}
		return 0, io.EOF
	}
}

// connWriter writes c's replies: while the loop owns c, what the socket does
// not take at once waits in outPending for the goroutine the loop then hands
// c to.
type connWriter struct{ c *Client }

func (w *connWriter) Write(b []byte) (int, error) {
	c := w.c
	if !c.inLoop.Load() {
		if c.io == nil {
			return 0, net.ErrClosed
		}
		if len(c.outPending) > 0 {
			// what the loop could not write yet goes first (a push may
			// come before the connection's goroutine writes it)
			p := c.outPending
			c.outPending = nil
			if _, err := c.io.Write(p); err != nil {
				return 0, err
			}
		}
		return c.io.Write(b)
	}
	total := len(b)
	for len(b) > 0 {
		if len(c.outPending) > 0 {
			c.outPending = append(c.outPending, b...)
			return total, nil
		}
		n, err := rawWrite(c.fd, b)
		if n > 0 {
			b = b[n:]
			continue
		}
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			c.outPending = append(c.outPending, b...)
			return total, nil
		case 0:
			return total - len(b), io.ErrShortWrite
		}
		return total - len(b), &net.OpError{Op: "write", Net: "tcp", Err: err}
	}
	return total, nil
}
