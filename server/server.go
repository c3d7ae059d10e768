// Package server speaks RESP to clients: connections (read with redcon's
// parser behind protoReader's limits), the command table, per-connection
// state (MULTI, WATCH, subscriptions, auth, name) and one file per command
// group.
package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luxdb/lux-go/pubsub"
	"github.com/luxdb/lux-go/storage"
)

// Version is the server version reported by INFO and HELLO.
const Version = "7.0.15"

// LuxVersion is this implementation's own version.
const LuxVersion = "0.1.0"

// Config is the server configuration.
type Config struct {
	Bind     string
	Port     int
	Password string
	// ACLFile is the ACL file (aclfile): loaded by LoadACLFile, written by ACL SAVE.
	ACLFile string
	// AllowUnprotected permits a non-loopback bind without a password.
	AllowUnprotected bool
	MaxClients       int
	ProtoMaxBulkLen  int64
	// PubSubLimit is the per-subscriber pending output limit in bytes.
	PubSubLimit int
	// EventLoop serves connections from one epoll event loop where it can
	// (ioloop.go); false: a goroutine per connection. On by default
	// (BENCHMARKS.md, "Request path"); LUX_EVENT_LOOP=0 turns it off, also
	// for the tests.
	EventLoop bool
}

// DefaultConfig returns the defaults, matching Redis where Redis has one.
func DefaultConfig() Config {
	return Config{Bind: "127.0.0.1", Port: 6379, MaxClients: 10000,
		ProtoMaxBulkLen: 512 << 20, PubSubLimit: 32 << 20,
		EventLoop: os.Getenv("LUX_EVENT_LOOP") != "0"}
}

// Server is a RESP server over a Store.
type Server struct {
	cfg   Config
	store *storage.Store
	hub   *pubsub.Hub
	ln    net.Listener

	limits     ProtoLimits
	maxClients atomic.Int64
	errors     errorStats
	password   atomic.Pointer[string]
	acl        aclState     // users and the ACL log (acl.go)
	lua        scriptEngine // Lua scripts (scripting.go)
	fn         funcEngine   // function libraries (functions.go)
	// scriptDenyOff: DEBUG SET-DISABLE-DENY-SCRIPTS 1 lets scripts run
	// noscript commands (Redis's script_disable_deny_script, for tests)
	scriptDenyOff atomic.Bool
	// notifyFlags is the live notify-keyspace-events setting (notify.go).
	notifyFlags atomic.Int64
	// hllMaxBytes is hll-sparse-max-bytes (cmd_hll.go).
	hllMaxBytes atomic.Int64

	clientsMu sync.Mutex
	clients   map[int64]*Client
	nextID    atomic.Int64

	conf *configTable

	blocking *blockRegistry // clients parked in blocking commands (blocking.go)
	ksubSync syncRounds     // KSUB's coalesced durability barriers (cmd_ksub.go)
	// keyListeners consume every key event after the blocking registry
	// (addKeyEventListener); set in New, read-only afterwards.
	keyListeners []func(storage.Event)
	trk          tracking // CLIENT TRACKING (tracking.go)

	tablesH  tablesHandle   // the table engine, opened once (cmd_tables.go)
	admin    adminState     // INFO/DEBUG identity, saves, rate sampler (cmd_server.go)
	cmdStats []commandStats // INFO commandstats, by Command.idx (command.go)
	// subcommands' statistics by Command.idx and name, nil for a plain
	// command (latency.go)
	subStats []map[string]*commandStats
	slow     slowLog        // SLOWLOG (latency.go)
	latency  latencyMonitor // LATENCY LATEST/HISTORY (latency.go)
	// slowlog-log-slower-than (µs, <0 off), slowlog-max-len,
	// latency-monitor-threshold (ms, 0 off), latency-tracking
	slowThr, slowMax, latThreshold atomic.Int64
	latTracking                    atomic.Bool
	pause                          pauseState // CLIENT PAUSE (pause.go)
	mon                            monitorSet // MONITOR (monitor.go)

	start    time.Time
	shutdown chan struct{} // closed when a client ran SHUTDOWN
	shutOnce sync.Once
	// Close sets closing and closes quit under clientsMu; from then on no
	// connection is admitted and no goroutine is added to wg.
	closing atomic.Bool
	// the event loop (ioloop.go), nil when connections get goroutines
	loop           *ioLoop
	scriptsRunning atomic.Int32
	// connections holding a read batch with a subscribe command not yet
	// run (cmd_pubsub.go, awaitSubscribes)
	subscribesInFlight atomic.Int32
	quit               chan struct{} // closed by Close: parked and sleeping handlers return
	closeOnce          sync.Once
	// wg counts every goroutine that may use the store: connections (with
	// the commands they run, blocked clients included), pub/sub delivery
	// being retired, the INFO sampler. Close waits for it.
	wg sync.WaitGroup

	// test holds hooks tests set before Serve; all nil in production.
	test struct {
		// storeUse is called whenever the server starts using the store on
		// a client's or its own behalf (a batch of commands, a disconnecting
		// client's cleanup, the INFO sampler); the function it returns is
		// called when that use ends.
		storeUse func() (end func())
		// accepted is called in Serve for each accepted connection, before
		// the connection is admitted.
		accepted func()
	}

	stats struct {
		commands      atomic.Int64
		connections   atomic.Int64
		rejectedConns atomic.Int64
		netIn         atomic.Int64
		netOut        atomic.Int64
		pubsubMsgs    atomic.Int64
	}
}

// New creates a server; call Listen then Serve.
func New(cfg Config, store *storage.Store) *Server {
	s := &Server{cfg: cfg, store: store, hub: pubsub.NewHub(),
		clients: make(map[int64]*Client), start: time.Now(), shutdown: make(chan struct{}),
		quit: make(chan struct{})}
	s.limits.MaxBulkLen.Store(cfg.ProtoMaxBulkLen)
	s.maxClients.Store(int64(cfg.MaxClients))
	s.hllMaxBytes.Store(hllDefaultSparseMaxBytes)
	pw := cfg.Password
	s.password.Store(&pw)
	s.initACL(pw, cfg.ACLFile)
	s.admin.init()
	s.cmdStats = make([]commandStats, len(commands))
	s.initSubStats()
	s.slowThr.Store(10000)
	s.slowMax.Store(128)
	s.latTracking.Store(true)
	s.conf = newConfigTable(s)
	s.addKeyEventListener(s.notifyKeyspaceEvent)
	// while key patterns exist, unread keys expire (and notify) on time
	s.hub.SetKeyActivity(store.SetExpireScan)
	store.SetExpireCycleHook(s.expireCycleLatency)
	s.trk.init()
	s.initBlocking()
	s.tables() // load the tables at start-up, not on the first table command
	s.lua.memLimit.Store(defaultScriptMemLimit)
	s.loadFunctionsAtStart()
	return s
}

// Store returns the server's store.
func (s *Server) Store() *storage.Store { return s.store }

// isLoopback reports whether a bind address only accepts local connections.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Listen opens the listening socket, refusing an unprotected public bind.
func (s *Server) Listen() error {
	if !isLoopback(s.cfg.Bind) && s.cfg.Password == "" && !s.cfg.AllowUnprotected {
		return fmt.Errorf("refusing to listen on %s without a password (protected mode): set --requirepass/LUX_PASSWORD, or pass --protected-mode no to allow it", s.cfg.Bind)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.Bind, strconv.Itoa(s.cfg.Port)))
	if err != nil {
		return err
	}
	s.ln = ln
	return nil
}

// Addr returns the listening address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections until Close.
func (s *Server) Serve() error {
	refineTicks()
	if s.cfg.EventLoop {
		markLoopUnsafe()
		l := newIOLoop(s)
		s.clientsMu.Lock() // Close reads it under clientsMu (a server may close before it serves)
		s.loop = l
		s.clientsMu.Unlock()
	}
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if s.test.accepted != nil {
			s.test.accepted()
		}
		s.stats.connections.Add(1)
		c, full := s.admit(nc)
		if c == nil {
			if full {
				s.stats.rejectedConns.Add(1)
				nc.Write([]byte("-ERR max number of clients reached\r\n"))
			}
			nc.Close()
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
			tc.SetKeepAlive(true)
			tc.SetKeepAlivePeriod(300 * time.Second)
		}
		if s.loop == nil || !s.loop.add(c) {
			go s.serveConn(c)
		}
	}
}

// admit registers a new connection's client and counts its goroutine in wg,
// or refuses the connection (nil): the server is closing, or full. Close sets
// closing under the same mutex, so a connection is either admitted before
// Close looks at the clients (and Close closes it and waits for it) or never
// served.
func (s *Server) admit(nc net.Conn) (c *Client, full bool) {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	if s.closing.Load() {
		return nil, false
	}
	if int64(len(s.clients)) >= s.maxClients.Load() {
		return nil, true
	}
	c = newClient(s, nc)
	s.clients[c.id] = c
	s.store.AddClientMemory(clientMemEstimate)
	s.wg.Add(1)
	return c, false
}

// clientMemEstimate is a connection's fixed memory, counted in used_memory
// as Redis counts its clients: the request reader's two 4 KiB buffers, the
// reply writer's, the goroutine's stack and the client's state.
const clientMemEstimate = 16 << 10

// track counts a goroutine about to start in wg, unless the server is
// closing (false: do not start it). Its caller calls wg.Done when it ends.
func (s *Server) track() bool {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.wg.Add(1)
	return true
}

// ShutdownRequested is closed when a client ran SHUTDOWN.
func (s *Server) ShutdownRequested() <-chan struct{} { return s.shutdown }

func (s *Server) requestShutdown() { s.shutOnce.Do(func() { close(s.shutdown) }) }

// Close shuts the server down: it stops accepting, closes every client
// connection, and waits until every goroutine that may use the store has
// finished (connections and the commands they are running, blocked clients,
// pub/sub delivery, the INFO sampler). Only after Close returns may the store
// be closed. Commands a client pipelined that had not started are dropped
// with its connection; a blocked client or a DEBUG SLEEP returns at once.
// Close may be called more than once; each call waits.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.ln != nil {
			s.ln.Close()
		}
		s.clientsMu.Lock()
		s.closing.Store(true)
		close(s.quit)
		if s.loop != nil {
			s.loop.poke()
		}
		s.lua.killAll() // a script that never ends would hold its connection
		for _, c := range s.clients {
			c.closeConn()
		}
		s.clientsMu.Unlock()
	})
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		// never give up: closing the store under a running command loses
		// or corrupts data; say what we are waiting for instead
		s.clientsMu.Lock()
		n := len(s.clients)
		s.clientsMu.Unlock()
		logf("shutdown: still waiting for %d client connection(s) to finish", n)
		<-done
	}
	s.tables().Close() // a table load still running stops
	return nil
}

// serveConn is one connection's loop: read a batch of pipelined requests,
// run them, make them durable if the mode asks, flush the replies once.
// Serve admitted c (registered, counted in wg).
func (s *Server) serveConn(c *Client) { s.serveConnFrom(c, nil, nil) }

// serveConnFrom is serveConn for a connection the event loop hands over
// (ioloop.go): it first writes the replies the loop could not, then runs
// pending (the rest of the batch the loop stopped at), and closes started
// once that batch has run or its command blocks.
func (s *Server) serveConnFrom(c *Client, pending []reqCommand, started chan struct{}) {
	returned := false
	defer func() {
		if returned {
			return // the loop owns c now, and its count in wg
		}
		c.signalStarted()
		s.dropClient(c)
		s.wg.Done()
	}()
	c.started = started

	if c.rd == nil {
		s.initReaders(c)
	}
	if len(c.outPending) > 0 {
		if c.io == nil {
			return // the loop could not give the socket back
		}
		c.wmu.Lock()
		_, err := c.io.Write(c.outPending)
		c.outPending = nil
		c.wmu.Unlock()
		if err != nil {
			return
		}
	}
	for {
		cmds := pending
		pending = nil
		if cmds == nil {
			var err error
			cmds, err = c.rd.ReadCommands()
			if err != nil {
				s.protocolError(c, err)
				return
			}
		}
		_, ok := s.runBatch(c, cmds, false)
		c.signalStarted()
		if !ok {
			return
		}
		if s.giveBack(c) {
			returned = true
			return
		}
	}
}

// initReaders sets up c's request readers over its connection.
func (s *Server) initReaders(c *Client) {
	cr := &countingReader{r: &connReader{c: c}, n: &s.stats.netIn}
	c.pr = newProtoReader(cr, &s.limits, c.authRequired)
	c.rd = newReqReader(c.pr)
}

// protocolError answers a request Redis refuses with its protocol error (the
// connection then closes); other read errors end the connection quietly.
func (s *Server) protocolError(c *Client, err error) {
	var pe *ProtocolError
	if errors.As(err, &pe) {
		c.wmu.Lock()
		c.WriteError("ERR " + pe.Msg)
		c.Flush()
		c.wmu.Unlock()
	}
}

// runBatch runs a batch of requests and flushes their replies; ok is false
// when the connection must close. In the event loop (loop) it stops before a
// command that may wait and returns the batch's rest, which the loop hands
// to a goroutine.
func (s *Server) runBatch(c *Client, cmds []reqCommand, loop bool) (rest []reqCommand, ok bool) {
	s.noteSubscribes(c, cmds) // a PUBLISH elsewhere waits for them (cmd_pubsub.go)
	c.pubYielded = false
	endUse := s.useStore()
	defer endUse()
	c.wmu.Lock()
	c.writePending(c.sub) // messages published before these commands were read go first
	c.lastCmdAt = time.Now()
	c.batchBytes, c.batchDone = 0, 0
	for i := range cmds {
		c.batchBytes += len(cmds[i].Raw)
	}
	for i := range cmds {
		if len(cmds[i].Args) == 0 {
			c.batchDone += len(cmds[i].Raw)
			continue
		}
		if loop && !s.inlineOK(c, cmds[i].Args) {
			rest = cmds[i:]
			break
		}
		c.batchDone += len(cmds[i].Raw)
		if s.closing.Load() {
			// Close closed the connection: no reply can reach the
			// client, and Close is waiting for us
			c.quit = true
			break
		}
		s.dispatch(c, cmds[i].Args)
		if c.subsInFlight && isSubscribeName(cmds[i].Args[0]) {
			s.doneSubscribes(c) // subscribed: a PUBLISH need not wait longer
		}
		if c.quit {
			break
		}
	}
	s.releaseHeld(c)
	s.doneSubscribes(c)
	c.dropKeyViews()
	c.batchBytes, c.batchDone, c.argvMem = 0, 0, 0 // the batch has run
	c.publishView()
	wrote := c.wrote
	c.wrote = false
	if !loop && s.store.SyncMode() == storage.SyncAlways {
		// Every reply waits for the fsync of the writes before it, also
		// a read's: a client must not see a value a crash could undo.
		// It returns at once when nothing is pending.
		// A key subscriber's frames taken above wait for the writes
		// they report (keyBarrier covers LastSeq too).
		// (The event loop serves no connection in always mode.)
		err := s.keyBarrierOr(c)
		if err != nil && wrote {
			// the writes were not made durable: acknowledge nothing
			c.wmu.Unlock()
			return nil, false
		}
		// After a failure a batch that wrote nothing is answered: its
		// writes were refused (-MISCONF), its reads go on (they may
		// show a write the failure lost, never acknowledged).
	}
	if c.realWriter != nil && c.realWriter != c.Writer {
		// replies written before CLIENT REPLY OFF/SKIP in this batch
		c.realWriter.Flush()
	}
	if loop && rest == nil && !c.quit {
		// the event loop writes the replies of its round's batches
		// together once they have all run (flushRound), as Redis does
		c.unflushed = true
		c.wmu.Unlock()
		return nil, true
	}
	err := c.Flush()
	c.wmu.Unlock()
	if err != nil || c.quit {
		return nil, false
	}
	return rest, true
}

func (s *Server) dropClient(c *Client) {
	c.leaving.Store(true)
	c.closed.Store(true)
	c.closeIO()
	endUse := s.useStore()
	c.unwatchAll()
	endUse()
	if c.sub != nil {
		s.closeSubscriber(c.sub)
	}
	s.disableTracking(c)
	s.stopMonitor(c)
	if q := c.trackQ.Load(); q != nil {
		s.closeSubscriber(q)
	}
	s.clientsMu.Lock()
	if _, ok := s.clients[c.id]; ok {
		delete(s.clients, c.id)
		s.store.AddClientMemory(-clientMemEstimate)
	}
	s.clientsMu.Unlock()
}

// closeSubscriber stops a client's pub/sub delivery. The delivery goroutine
// may still be finishing a write to the connection: Close waits for it too.
// It runs on the client's connection goroutine (counted in wg).
func (s *Server) closeSubscriber(sub *pubsub.Subscriber) {
	sub.Close()
	select {
	case <-sub.Done():
		return
	default:
	}
	s.wg.Add(1) // the caller's own count keeps wg above zero
	go func() {
		defer s.wg.Done()
		<-sub.Done()
	}()
}

// useStore marks the start of a use of the store for test.storeUse; call the
// result when it ends.
func (s *Server) useStore() (end func()) {
	if s.test.storeUse == nil {
		return noop
	}
	return s.test.storeUse()
}

func noop() {}

// countingReader counts bytes read for INFO's total_net_input_bytes.
type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n *atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// logf writes a server log line to stderr.
func logf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "%s # %s\n", time.Now().Format("02 Jan 2006 15:04:05.000"), fmt.Sprintf(format, args...))
}
