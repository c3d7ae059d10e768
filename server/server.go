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
	"github.com/tidwall/redcon"
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
	// AllowUnprotected permits a non-loopback bind without a password.
	AllowUnprotected bool
	MaxClients       int
	ProtoMaxBulkLen  int64
	// PubSubLimit is the per-subscriber pending output limit in bytes.
	PubSubLimit int
}

// DefaultConfig returns the defaults, matching Redis where Redis has one.
func DefaultConfig() Config {
	return Config{Bind: "127.0.0.1", Port: 6379, MaxClients: 10000,
		ProtoMaxBulkLen: 512 << 20, PubSubLimit: 32 << 20}
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
	// notifyFlags is the live notify-keyspace-events setting (notify.go).
	notifyFlags atomic.Int64

	clientsMu sync.Mutex
	clients   map[int64]*Client
	nextID    atomic.Int64

	conf *configTable

	blocking *blockRegistry // clients parked in blocking commands (blocking.go)
	// keyListeners consume every key event after the blocking registry
	// (addKeyEventListener); set in New, read-only afterwards.
	keyListeners []func(storage.Event)

	tablesH  tablesHandle   // the table engine, opened once (cmd_tables.go)
	admin    adminState     // INFO/DEBUG identity, saves, rate sampler (cmd_server.go)
	cmdStats []commandStats // INFO commandstats, by Command.idx (command.go)

	start    time.Time
	shutdown chan struct{}
	shutOnce sync.Once
	closing  atomic.Bool
	wg       sync.WaitGroup

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
		clients: make(map[int64]*Client), start: time.Now(), shutdown: make(chan struct{})}
	s.limits.MaxBulkLen.Store(cfg.ProtoMaxBulkLen)
	s.maxClients.Store(int64(cfg.MaxClients))
	pw := cfg.Password
	s.password.Store(&pw)
	s.admin.init()
	s.cmdStats = make([]commandStats, len(commands))
	s.conf = newConfigTable(s)
	s.addKeyEventListener(s.notifyKeyspaceEvent)
	s.initBlocking()
	s.tables() // load the tables at start-up, not on the first table command
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
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		s.stats.connections.Add(1)
		s.clientsMu.Lock()
		full := int64(len(s.clients)) >= s.maxClients.Load()
		s.clientsMu.Unlock()
		if full {
			s.stats.rejectedConns.Add(1)
			nc.Write([]byte("-ERR max number of clients reached\r\n"))
			nc.Close()
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
			tc.SetKeepAlive(true)
			tc.SetKeepAlivePeriod(300 * time.Second)
		}
		s.wg.Add(1)
		go s.serveConn(nc)
	}
}

// ShutdownRequested is closed when a client ran SHUTDOWN.
func (s *Server) ShutdownRequested() <-chan struct{} { return s.shutdown }

func (s *Server) requestShutdown() { s.shutOnce.Do(func() { close(s.shutdown) }) }

// Close stops accepting, disconnects every client and waits for their goroutines.
func (s *Server) Close() error {
	s.closing.Store(true)
	if s.ln != nil {
		s.ln.Close()
	}
	s.clientsMu.Lock()
	for _, c := range s.clients {
		c.conn.Close()
	}
	s.clientsMu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	return nil
}

// serveConn is one connection's loop: read a batch of pipelined requests,
// run them, make them durable if the mode asks, flush the replies once.
func (s *Server) serveConn(nc net.Conn) {
	defer s.wg.Done()
	c := newClient(s, nc)
	s.clientsMu.Lock()
	s.clients[c.id] = c
	s.clientsMu.Unlock()
	defer s.dropClient(c)

	cr := &countingReader{r: nc, n: &s.stats.netIn}
	c.rd = redcon.NewReader(newProtoReader(cr, &s.limits, c.authRequired))
	for {
		cmds, err := c.rd.ReadCommands()
		if err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) {
				c.wmu.Lock()
				c.WriteError("ERR " + pe.Msg)
				c.Flush()
				c.wmu.Unlock()
			}
			return
		}
		c.wmu.Lock()
		if c.sub != nil {
			// messages published before these commands were read go first
			if b := c.sub.TakePending(); b != nil {
				c.WriteRaw(b)
			}
		}
		c.lastCmdAt = time.Now()
		for i := range cmds {
			if len(cmds[i].Args) == 0 {
				continue
			}
			s.dispatch(c, cmds[i].Args)
			if c.quit {
				break
			}
		}
		s.releaseHeld(c)
		c.wrote = false
		if s.store.SyncMode() == storage.SyncAlways {
			// Every reply waits for the fsync of the writes before it, also
			// a read's: a client must not see a value a crash could undo.
			// It returns at once when nothing is pending.
			s.store.WaitDurable(s.store.LastSeq())
		}
		if c.realWriter != nil && c.realWriter != c.Writer {
			// replies written before CLIENT REPLY OFF/SKIP in this batch
			c.realWriter.Flush()
		}
		err = c.Flush()
		c.wmu.Unlock()
		if err != nil || c.quit {
			return
		}
	}
}

func (s *Server) dropClient(c *Client) {
	c.closed.Store(true)
	c.conn.Close()
	c.unwatchAll()
	if c.sub != nil {
		c.sub.Close()
	}
	s.clientsMu.Lock()
	delete(s.clients, c.id)
	s.clientsMu.Unlock()
}

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
