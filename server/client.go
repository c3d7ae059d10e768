package server

import (
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/luxdb/lux-go/pubsub"
	"github.com/luxdb/lux-go/storage"
	"github.com/tidwall/redcon"
)

type queued struct {
	cmd  *Command
	args [][]byte
}

type watchedKey struct {
	db  int
	key string
}

// Client is one connection's state. Its fields are owned by the connection's
// goroutine; w is shared with the pub/sub delivery goroutine under wmu.
type Client struct {
	*redcon.Writer
	srv  *Server
	id   int64
	conn net.Conn
	rd   *reqReader
	pr   *protoReader    // under rd: with rd, what CLIENT LIST reports as the query buffer
	cw   *countingWriter // under Writer: sizes of the reply batches written
	wmu  sync.Mutex

	db      int
	authed  bool
	user    atomic.Pointer[aclUser] // the authenticated user (the default user until AUTH)
	name    string
	libName string
	libVer  string
	created time.Time

	lastCmdAt time.Time
	cmd       *Command
	cmdName   string // cmd with its subcommand, for CLIENT LIST

	// the last command name looked up, as sent, and its command (lookup)
	lastName    [15]byte
	lastNameLen uint8
	lastLookup  *Command

	subsInFlight bool // counted in Server.subscribesInFlight

	// the event loop (ioloop.go): whether the loop owns the socket (fd) and
	// which loop, replies it could not write, the closing handshake
	inLoop     atomic.Bool
	loop       atomic.Pointer[ioLoop]
	outPending []byte
	// unflushed: the loop ran a batch of c's and writes its replies at
	// the end of the round (flushRound)
	unflushed bool
	goBatches int // batches a handed-over c ran on its goroutine (giveBack)
	fdMu      sync.Mutex
	killed    atomic.Bool
	// io is the connection reads and writes go through outside the loop:
	// conn itself, or (after the loop handed c over) a new one on the
	// socket; conn then only gives the addresses. file is the socket while
	// the loop owns it (out of Go's netpoller). Both change under fdMu.
	io         net.Conn
	file       *os.File
	started    chan struct{} // closed when a handed-over batch has run
	pubYielded bool          // a PUBLISH of this batch yielded (awaitSubscribes)

	multi    bool
	multiErr bool
	inExec   bool
	// tablesHeld: the client's EXEC or script holds the tables engine's
	// write lock, so table commands take no lock of their own
	tablesHeld bool
	// execHolds: the running EXEC holds the committer for its whole queue
	execHolds bool
	queue     []queued
	watch     storage.Watch
	watched   []watchedKey

	sub        *pubsub.Subscriber
	subscribed atomic.Bool // in subscribe mode; read by other clients' CLIENT LIST/KILL
	// keySubscriber: the connection ran KSUB, so in always mode the frames
	// it delivers wait for keyBarrier (cmd_ksub.go)
	keySubscriber atomic.Bool
	keyEvents     []keyEventEntry // changes of the running command, for KSUB
	keyEventArena []byte

	block *blockRequest // set while parked in a blocking command (blocking.go)
	// scriptKeys: the keys a running script declared, which its read-only
	// commands make a tracking client track (scripting.go); nil otherwise
	scriptKeys [][]byte

	locks   storage.LockSet
	held    storage.LockSet // shards kept locked between commands of a batch
	holding bool
	keys    [][]byte
	wrote   bool
	quit    bool

	errs  int          // error replies written, to detect failed calls
	resp  int          // the protocol, 2 or 3 (HELLO)
	respA atomic.Int32 // resp, for other goroutines (invalidations)
	// CLIENT TRACKING (tracking.go): settings (changed under the server's
	// trk.mu), the queue of invalidations sent to this connection, and
	// whether the redirect target was found gone
	track       trackState
	trackQ      atomic.Pointer[pubsub.Subscriber]
	trackBroken atomic.Bool
	leaving     atomic.Bool // QUIT or disconnect: gone for other clients
	replyMode   int
	realWriter  *redcon.Writer // the connection's writer while replies are off

	closed atomic.Bool
	// monitor: in MONITOR mode (monitor.go); monitorA is its copy for
	// other goroutines. scriptCall: a script's redis.call is running, so the
	// monitor shows the call as "lua"
	monitor    bool
	monitorA   atomic.Bool
	scriptCall bool
	noEvict    bool
	noTouch    bool

	// CLIENT LIST's memory fields: the bytes of the batch of requests being
	// run (qbuf), the arguments of the running command (argv-mem) and of the
	// queued transaction (multi-mem); batchDone: the bytes of the batch's
	// commands up to the running one
	batchBytes, batchDone, argvMem, multiMem int

	fd     int        // the socket's descriptor (-1 unknown), for CLIENT LIST
	viewMu sync.Mutex // guards view
	view   clientView // what other connections' CLIENT LIST shows (publishView)
}

// clientView is the part of a connection's state other connections read:
// published by the connection's goroutine after each batch and when it
// blocks, so CLIENT LIST never waits for a busy or blocked connection.
type clientView struct {
	// qbuf: request bytes received and not yet run; qbufFree: room left in
	// the input buffer; argvMem, multiMem: arguments of the running command
	// and of the queued transaction; obl: replies of this batch not yet
	// written (0 in a published view: it is written right after); rbs: the
	// size the reply buffer has grown to; rbp: the largest reply batch
	qbuf, qbufFree, argvMem, multiMem, obl, rbs, rbp int64
	name, cmd, flags                                 string
	libName, libVer                                  string
	db, multi                                        int
	redir                                            int64
	lastCmdAt                                        time.Time
	sub                                              *pubsub.Subscriber // its methods are safe from any goroutine
}

func newClient(s *Server, nc net.Conn) *Client {
	cw := &countingWriter{n: &s.stats.netOut}
	c := &Client{srv: s, id: s.nextID.Add(1), conn: nc, created: time.Now(),
		Writer: redcon.NewWriter(cw), cw: cw}
	cw.w = &connWriter{c: c}
	c.io = nc
	c.user.Store(s.acl.def)
	c.authed = s.defaultLoginOK()
	c.lastCmdAt = c.created
	c.resp = 2
	c.respA.Store(2)
	c.fd = connFD(nc)
	c.publishView()
	return c
}

// connFD returns a connection's file descriptor, -1 if it has none.
func connFD(nc net.Conn) int {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	rc.Control(func(f uintptr) { fd = int(f) })
	return fd
}

// liveView is the connection's state now (its own goroutine only).
func (c *Client) liveView() clientView {
	v := clientView{name: c.name, db: c.db, multi: -1, lastCmdAt: c.lastCmdAt, cmd: "NULL",
		libName: c.libName, libVer: c.libVer, redir: -1, sub: c.sub}
	if c.track.on {
		v.redir = c.track.redirect
	}
	if c.multi {
		v.multi = len(c.queue)
	}
	if c.cmd != nil {
		v.cmd = c.cmdName
	}
	v.qbuf, v.argvMem, v.multiMem = int64(c.batchBytes), int64(c.argvMem), int64(c.multiMem)
	if c.block != nil {
		// Redis trims the query buffer when a client blocks: what is left
		// is the requests pipelined after the blocking command
		v.qbuf = int64(c.batchBytes - c.batchDone)
	}
	if c.pr != nil {
		v.qbuf += int64(c.pr.buffered() + c.rd.buffered())
		v.qbufFree = int64(c.pr.free())
	}

	// Redis's letters, in its order
	var buf [8]byte
	f := buf[:0]
	if c.monitor {
		f = append(f, 'O')
	}
	if c.subscribed.Load() {
		f = append(f, 'P')
	}
	if c.multi {
		f = append(f, 'x')
	}
	if c.block != nil {
		f = append(f, 'b')
	}
	if c.track.on {
		f = append(f, 't')
		if c.trackBroken.Load() {
			f = append(f, 'R')
		}
		if c.track.bcast {
			f = append(f, 'B')
		}
	}
	if c.noEvict {
		f = append(f, 'e')
	}
	if c.noTouch {
		f = append(f, 'T')
	}
	v.flags = "N"
	if len(f) > 0 {
		v.flags = string(f)
	}
	return v
}

// publishView makes the connection's current state what other
// connections' CLIENT LIST reports (its own goroutine only).
func (c *Client) publishView() {
	v := c.liveView()
	c.viewMu.Lock()
	c.view = v
	c.viewMu.Unlock()
}

// publishedView is the state publishView last made visible.
func (c *Client) publishedView() clientView {
	c.viewMu.Lock()
	defer c.viewMu.Unlock()
	return c.view
}

func (c *Client) authRequired() bool { return !c.authed && c.srv.authNeeded() }

// DB returns the client's selected database; its changes report the client
// as their origin (KSUB names them after the client's running command).
func (c *Client) DB() storage.DB { return c.srv.store.DB(c.db).WithOrigin(c) }

// WriteOK writes +OK.
func (c *Client) WriteOK() { c.WriteRaw([]byte("+OK\r\n")) }

// The reply types whose RESP2 and RESP3 forms differ, as Redis 7.0's
// addReply* functions write them: handlers say what a reply is (a map, a
// set, a double, a null…) and the connection's protocol (HELLO) picks the
// bytes. Arrays, bulk and simple strings, integers and errors are the same
// in both (redcon's writers).

// WriteNull writes a null: $-1 (RESP2) or _ (RESP3).
func (c *Client) WriteNull() {
	if c.resp == 3 {
		c.WriteRaw([]byte("_\r\n"))
		return
	}
	c.WriteRaw([]byte("$-1\r\n"))
}

// WriteNullArray writes a null array: *-1 (RESP2) or _ (RESP3, which has
// one null).
func (c *Client) WriteNullArray() {
	if c.resp == 3 {
		c.WriteRaw([]byte("_\r\n"))
		return
	}
	c.WriteRaw([]byte("*-1\r\n"))
}

// writeLen writes a RESP length header: prefix, n, CRLF.
func (c *Client) writeLen(prefix byte, n int) {
	var b [24]byte
	c.WriteRaw(append(strconv.AppendInt(append(b[:0], prefix), int64(n), 10), '\r', '\n'))
}

// WriteMap starts a map of n pairs (the caller writes 2n elements, key
// then value): an array of 2n in RESP2, %n in RESP3.
func (c *Client) WriteMap(n int) {
	if c.resp == 3 {
		c.writeLen('%', n)
		return
	}
	c.WriteArray(2 * n)
}

// WriteSet starts a set of n elements: an array in RESP2, ~n in RESP3.
func (c *Client) WriteSet(n int) {
	if c.resp == 3 {
		c.writeLen('~', n)
		return
	}
	c.WriteArray(n)
}

// WritePush starts an out-of-band message of n elements (pub/sub): an
// array in RESP2, >n in RESP3.
func (c *Client) WritePush(n int) {
	if c.resp == 3 {
		c.writeLen('>', n)
		return
	}
	c.WriteArray(n)
}

// WriteDouble writes a double as Redis's addReplyDouble does: a bulk
// string in RESP2, ",<%.17g>" in RESP3.
func (c *Client) WriteDouble(f float64) {
	if c.resp == 3 {
		b := append([]byte{','}, formatFloat(f)...)
		c.WriteRaw(append(b, '\r', '\n'))
		return
	}
	c.WriteBulk(formatFloat(f))
}

// WriteBool writes a boolean: :1/:0 (RESP2) or #t/#f (RESP3).
func (c *Client) WriteBool(v bool) {
	switch {
	case c.resp == 3 && v:
		c.WriteRaw([]byte("#t\r\n"))
	case c.resp == 3:
		c.WriteRaw([]byte("#f\r\n"))
	case v:
		c.WriteInt(1)
	default:
		c.WriteInt(0)
	}
}

// WriteVerbatim writes text (INFO, MEMORY DOCTOR…): a bulk string in
// RESP2, a verbatim string of format "txt" in RESP3.
func (c *Client) WriteVerbatim(text []byte) {
	if c.resp == 3 {
		c.writeLen('=', len(text)+4)
		c.WriteRaw([]byte("txt:"))
		c.WriteRaw(text)
		c.WriteRaw([]byte("\r\n"))
		return
	}
	c.WriteBulk(text)
}

// WritePairs starts n (member, score)-like pairs as Redis's WITHSCORES
// replies do: a flat array of 2n in RESP2, an array of n two-element arrays
// in RESP3 (the caller calls WritePair before each pair).
func (c *Client) WritePairs(n int) {
	if c.resp == 3 {
		c.WriteArray(n)
		return
	}
	c.WriteArray(2 * n)
}

// WritePair starts one pair of WritePairs (nothing in RESP2).
func (c *Client) WritePair() {
	if c.resp == 3 {
		c.WriteArray(2)
	}
}

// WriteBulkStrings writes an array of bulk strings.
func (c *Client) WriteBulkStrings(items []string) {
	c.WriteArray(len(items))
	for _, it := range items {
		c.WriteBulkString(it)
	}
}

// WriteFrames implements pubsub.Sink: the delivery goroutine's writes.
func (c *Client) WriteFrames(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.WriteFramesLocked(b)
}

// keyBarrier makes a key subscriber's frames wait until the writes they
// report are durable (always mode; cmd_ksub.go).
func (c *Client) keyBarrier() error {
	if !c.keySubscriber.Load() {
		return nil
	}
	return c.srv.keyBarrier()
}

// LockWrites implements pubsub.LockedSink.
func (c *Client) LockWrites() { c.wmu.Lock() }

// UnlockWrites implements pubsub.LockedSink.
func (c *Client) UnlockWrites() { c.wmu.Unlock() }

// WriteFramesLocked implements pubsub.LockedSink (wmu is held).
func (c *Client) WriteFramesLocked(b []byte) error {
	if c.closed.Load() {
		return net.ErrClosed
	}
	if err := c.keyBarrier(); err != nil {
		// not durable: the subscriber is not told, and not left thinking
		// nothing happened either
		c.closeConn()
		return err
	}
	w := c.pushWriter()
	w.WriteRaw(b)
	return w.Flush()
}

// Overflow implements pubsub.Sink: a subscriber too slow to drain its
// messages is disconnected, like Redis's client-output-buffer-limit.
func (c *Client) Overflow() {
	logf("Client id=%d closed for overcoming of output buffer limits.", c.id)
	c.closeConn()
}

func (c *Client) unwatchAll() {
	if len(c.watched) == 0 {
		return
	}
	s := c.srv
	// inside EXEC the watched keys' shards are already held by the transaction
	var ls storage.LockSet
	if !c.inExec {
		for _, w := range c.watched {
			ls.Add(s.store.ShardOf(w.db, []byte(w.key)))
		}
		s.store.Lock(&ls)
	}
	for _, w := range c.watched {
		s.store.DB(w.db).Unwatch([]byte(w.key), &c.watch)
	}
	if !c.inExec {
		s.store.Unlock(&ls)
	}
	c.watched = c.watched[:0]
	c.watch.Reset()
}

// countingWriter counts the bytes written to a connection (INFO's
// total_net_output_bytes) and keeps the largest single write: a batch of
// replies, which the reply buffer grew to hold (CLIENT LIST's rbs/rbp).
type countingWriter struct {
	w    interface{ Write([]byte) (int, error) }
	n    *atomic.Int64
	peak atomic.Int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	if int64(len(b)) > c.peak.Load() {
		c.peak.Store(int64(len(b))) // writes are serialized by the client's wmu
	}
	return n, err
}

// redconMaxBufferCap is the reply buffer size above which redcon's Writer
// drops its buffer after a flush instead of keeping it.
const redconMaxBufferCap = 256 << 10

// replyChunk is the size of one node of Redis's reply list: CLIENT LIST's
// oll counts the queued out-of-band bytes in such nodes.
const replyChunk = 16 << 10

// clientStructSize is the fixed part of a connection's memory (tot-mem).
var clientStructSize = int64(unsafe.Sizeof(Client{}))

// clientInfo renders the connection's own CLIENT INFO / CLIENT LIST line,
// with the replies of its batch still unwritten (obl).
func (c *Client) clientInfo() string {
	v := c.liveView()
	v.obl = int64(len(c.Writer.Buffer()))
	return c.infoLine(v)
}

// outQueued is the bytes queued for the connection outside its replies:
// pub/sub messages, invalidations, monitor lines (safe from any goroutine).
func (c *Client) outQueued(v clientView) int64 {
	var n int
	if q := v.sub; q != nil {
		n += q.Pending()
	}
	if q := c.trackQ.Load(); q != nil {
		n += q.Pending()
	}
	return int64(n)
}

// infoLine renders one CLIENT LIST / CLIENT INFO line from a view; the
// subscription counts, the protocol and the queued output are read from
// their own synchronized sources.
func (c *Client) infoLine(v clientView) string {
	now := time.Now()
	sub, psub, ssub := 0, 0, 0
	if q := v.sub; q != nil {
		sub, psub, ssub = len(q.Channels()), len(q.Patterns()), len(q.ShardChannels())
	}
	v.rbp = c.cw.peak.Load()
	v.rbs = min(v.rbp, redconMaxBufferCap)
	omem := c.outQueued(v)
	oll := (omem + replyChunk - 1) / replyChunk
	totMem := clientStructSize + v.qbuf + v.qbufFree + v.argvMem + v.multiMem + v.rbs + v.obl + omem
	return "id=" + strconv.FormatInt(c.id, 10) +
		" addr=" + c.conn.RemoteAddr().String() +
		" laddr=" + c.conn.LocalAddr().String() +
		" fd=" + strconv.Itoa(c.fd) + " name=" + v.name +
		" age=" + strconv.FormatInt(int64(now.Sub(c.created).Seconds()), 10) +
		" idle=" + strconv.FormatInt(int64(now.Sub(v.lastCmdAt).Seconds()), 10) +
		" flags=" + v.flags +
		" db=" + strconv.Itoa(v.db) +
		" sub=" + strconv.Itoa(sub) + " psub=" + strconv.Itoa(psub) + " ssub=" + strconv.Itoa(ssub) +
		" multi=" + strconv.Itoa(v.multi) +
		" qbuf=" + itoa(v.qbuf) + " qbuf-free=" + itoa(v.qbufFree) + " argv-mem=" + itoa(v.argvMem) +
		" multi-mem=" + itoa(v.multiMem) + " rbs=" + itoa(v.rbs) + " rbp=" + itoa(v.rbp) +
		" obl=" + itoa(v.obl) + " oll=" + itoa(oll) + " omem=" + itoa(omem) + " tot-mem=" + itoa(totMem) + " events=r" +
		" cmd=" + v.cmd + " user=" + c.userName() + " redir=" + strconv.FormatInt(v.redir, 10) +
		" resp=" + strconv.Itoa(int(c.respA.Load())) +
		" lib-name=" + v.libName + " lib-ver=" + v.libVer
}

// writePending writes the frames waiting in q (nil: none) now, ahead of
// the replies still to come; the connection's write lock is held.
func (c *Client) writePending(q *pubsub.Subscriber) {
	if q == nil {
		return
	}
	if b := q.TakePending(); b != nil {
		c.pushWriter().WriteRaw(b)
	}
}

// pushWriter is where pub/sub pushes go: Redis sends subscribe confirmations
// and messages even while CLIENT REPLY OFF/SKIP silences replies.
func (c *Client) pushWriter() *redcon.Writer {
	if c.realWriter != nil {
		return c.realWriter
	}
	return c.Writer
}

// dropKeyViews forgets the key arguments the batch's last command locked
// (c.keys, kept as scratch): they view the request buffer, which must not
// outlive its batch through them (a huge request's buffer would stay
// reachable); a large scratch slice goes too.
func (c *Client) dropKeyViews() {
	if cap(c.keys) > 256 {
		c.keys = nil
		return
	}
	clear(c.keys[:cap(c.keys)])
	c.keys = c.keys[:0]
}
