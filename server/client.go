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

	errs       int // error replies written, to detect failed calls
	replyMode  int
	realWriter *redcon.Writer // the connection's writer while replies are off

	closed  atomic.Bool
	noEvict bool
	noTouch bool
}

func newClient(s *Server, nc net.Conn) *Client {
	c := &Client{srv: s, id: s.nextID.Add(1), conn: nc, created: time.Now(),
		Writer: redcon.NewWriter(&countingWriter{w: nc, n: &s.stats.netOut})}
	c.authed = *s.password.Load() == ""
	c.lastCmdAt = c.created
	return c
}

func (c *Client) authRequired() bool { return !c.authed }

// DB returns the client's selected database; its changes report the client
// as their origin (KSUB names them after the client's running command).
func (c *Client) DB() storage.DB { return c.srv.store.DB(c.db).WithOrigin(c) }

// WriteOK writes +OK.
func (c *Client) WriteOK() { c.WriteRaw([]byte("+OK\r\n")) }

// WriteNullArray writes a RESP2 null array (*-1).
func (c *Client) WriteNullArray() { c.WriteRaw([]byte("*-1\r\n")) }

// WriteBulkStrings writes an array of bulk strings.
func (c *Client) WriteBulkStrings(items []string) {
	c.WriteArray(len(items))
	for _, it := range items {
		c.WriteBulkString(it)
	}
}

// WriteFloat writes a float as a bulk string, formatted like Redis.
func (c *Client) WriteFloat(f float64) { c.WriteBulk(formatFloat(f)) }

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
	if c.sub != nil && c.sub.Count() > 0 {
		flags = "P"
	}
	sub, psub := 0, 0
	if c.sub != nil {
		sub, psub = len(c.sub.Channels()), len(c.sub.Patterns())
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
		" sub=" + strconv.Itoa(sub) + " psub=" + strconv.Itoa(psub) + " ssub=0" +
		" multi=" + strconv.Itoa(multi) +
		" qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r" +
		" cmd=" + cmd + " user=default redir=-1 resp=2" +
		" lib-name=" + c.libName + " lib-ver=" + c.libVer
}

// pushWriter is where pub/sub pushes go: Redis sends subscribe confirmations
// and messages even while CLIENT REPLY OFF/SKIP silences replies.
func (c *Client) pushWriter() *redcon.Writer {
	if c.realWriter != nil {
		return c.realWriter
	}
	return c.Writer
}
