package server

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

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
	rd   *redcon.Reader
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

	multi    bool
	multiErr bool
	inExec   bool
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

	closed  atomic.Bool
	noEvict bool
	noTouch bool
}

func newClient(s *Server, nc net.Conn) *Client {
	c := &Client{srv: s, id: s.nextID.Add(1), conn: nc, created: time.Now(),
		Writer: redcon.NewWriter(&countingWriter{w: nc, n: &s.stats.netOut})}
	c.user.Store(s.acl.def)
	c.authed = s.defaultLoginOK()
	c.lastCmdAt = c.created
	c.resp = 2
	c.respA.Store(2)
	return c
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
		c.conn.Close()
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
	c.conn.Close()
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

type countingWriter struct {
	w interface{ Write([]byte) (int, error) }
	n *atomic.Int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// clientInfo renders one CLIENT LIST / CLIENT INFO line.
func (c *Client) clientInfo() string {
	now := time.Now()
	flags := "N"
	if c.multi {
		flags = "x"
	}
	if c.sub != nil && c.sub.Subscribed() {
		flags = "P"
	}
	sub, psub, ssub := 0, 0, 0
	if c.sub != nil {
		sub, psub, ssub = len(c.sub.Channels()), len(c.sub.Patterns()), len(c.sub.ShardChannels())
	}
	multi := -1
	if c.multi {
		multi = len(c.queue)
	}
	cmd := "NULL"
	if c.cmd != nil {
		cmd = c.cmdName
	}
	return "id=" + strconv.FormatInt(c.id, 10) +
		" addr=" + c.conn.RemoteAddr().String() +
		" laddr=" + c.conn.LocalAddr().String() +
		" fd=8 name=" + c.name +
		" age=" + strconv.FormatInt(int64(now.Sub(c.created).Seconds()), 10) +
		" idle=" + strconv.FormatInt(int64(now.Sub(c.lastCmdAt).Seconds()), 10) +
		" flags=" + flags +
		" db=" + strconv.Itoa(c.db) +
		" sub=" + strconv.Itoa(sub) + " psub=" + strconv.Itoa(psub) + " ssub=" + strconv.Itoa(ssub) +
		" multi=" + strconv.Itoa(multi) +
		" qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r" +
		" cmd=" + cmd + " user=" + c.userName() + " redir=-1 resp=" + strconv.Itoa(c.resp) +
		" lib-name=" + c.libName + " lib-ver=" + c.libVer
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
