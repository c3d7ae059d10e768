// Package demo is the bundled chat application: a web page and a WebSocket
// endpoint served by the lux binary (or by `lux demo --db URL` on its own).
// Its backend is an ordinary client of the database — a go-redis command
// pool and one subscriber connection — and never reaches into the server's
// packages, so it works the same against a lux on another host and several
// demo processes can share one database. docs/DEMO.md describes the
// protocol and the design.
package demo

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"
)

//go:embed web
var webFS embed.FS

// Config configures a demo server.
type Config struct {
	// Addr is the HTTP listen address, e.g. "127.0.0.1:8080".
	Addr string
	// DB says how to reach the database (see ParseDBURL).
	DB *redis.Options
	// AllowedOrigins are extra origin host patterns allowed to open the
	// WebSocket (coder/websocket's OriginPatterns); the page's own origin
	// is always allowed, every other one is refused.
	AllowedOrigins []string
	// Logf prints the demo's messages; nil prints to stderr.
	Logf func(format string, args ...any)
	// HeartbeatEvery is how often presence keys are refreshed (default
	// 20 s; their expiry is 60 s).
	HeartbeatEvery time.Duration
}

// Server is a running demo: HTTP server, hub, database clients.
type Server struct {
	cfg  Config
	rdb  *redis.Client
	be   *backend
	hub  *hub
	http *http.Server
	ln   net.Listener

	ctx    context.Context // background loops and sockets
	cancel context.CancelFunc
	loops  sync.WaitGroup

	mu      sync.Mutex
	closing bool
	conns   sync.WaitGroup // WebSocket handlers
}

// ParseDBURL turns a connection string into go-redis options:
// lux://[user:password@]host:port[/db] (redis:// and rediss:// work too;
// lux:// is redis://). A missing port is 6379.
func ParseDBURL(s string) (*redis.Options, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("database URL %q: %v", s, err)
	}
	switch u.Scheme {
	case "lux":
		u.Scheme = "redis"
	case "redis", "rediss":
	default:
		return nil, fmt.Errorf("database URL %q: scheme must be lux://, redis:// or rediss://", s)
	}
	if u.Port() == "" && u.Host != "" {
		u.Host = net.JoinHostPort(u.Hostname(), "6379")
	}
	o, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("database URL %q: %v", s, err)
	}
	return o, nil
}

// New creates a demo server and starts its background work (the
// subscriber connection and the presence heartbeat); nothing listens until
// Listen or Start. The database is not written to until a user logs in.
func New(cfg Config) (*Server, error) {
	if cfg.DB == nil {
		return nil, errors.New("demo: Config.DB is required")
	}
	if cfg.HeartbeatEvery <= 0 {
		cfg.HeartbeatEvery = 20 * time.Second
	}
	if cfg.Logf == nil {
		cfg.Logf = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "lux demo: "+format+"\n", args...)
		}
	}
	opts := *cfg.DB
	// lux speaks RESP2 and needs no client-library identification; saying
	// so saves go-redis's HELLO 3 and CLIENT SETINFO round trips.
	opts.Protocol = 2
	opts.DisableIdentity = true
	if opts.ClientName == "" {
		opts.ClientName = "lux-demo"
	}
	s := &Server{cfg: cfg, rdb: redis.NewClient(&opts)}
	s.be = newBackend(s.rdb)
	s.hub = newHub(s)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	s.loops.Add(2)
	go func() { defer s.loops.Done(); s.hub.subscribe(s.ctx, s.rdb) }()
	go func() { defer s.loops.Done(); s.hub.heartbeat(s.ctx, cfg.HeartbeatEvery) }()
	return s, nil
}

func (s *Server) logf(format string, args ...any) { s.cfg.Logf(format, args...) }

// Handler is the demo's own mux: the page, its assets, /ws and /healthz.
// Nothing else (in particular not net/http/pprof, which registers itself on
// http.DefaultServeMux) is reachable through it.
func (s *Server) Handler() http.Handler {
	static, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(static, "index.html")
		if err != nil {
			http.Error(w, "missing page", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(b)
	})
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /ws", s.serveWS)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.rdb.Ping(ctx).Err(); err != nil {
			http.Error(w, "database: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	return securityHeaders(mux)
}

// securityHeaders: the page runs only its own script and connects only to
// its own origin, so even a message that got rendered as markup could not
// run code.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; "+
			"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	s.conns.Add(1)
	s.mu.Unlock()
	defer s.conns.Done()

	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:   []string{Subprotocol},
		OriginPatterns: s.cfg.AllowedOrigins,
	})
	if err != nil {
		return // Accept answered (403 for a foreign origin)
	}
	if conn.Subprotocol() != Subprotocol {
		conn.Close(websocket.StatusProtocolError, "use the WebSocket subprotocol "+Subprotocol)
		return
	}
	conn.SetReadLimit(MaxFrame)
	c := &client{s: s, conn: conn, out: make(chan []byte, queueLen), done: make(chan struct{}),
		joined: map[int64]bool{}, lastTyping: map[int64]time.Time{}}
	s.hub.add(c)
	ctx, cancel := context.WithCancel(s.ctx)
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { defer bg.Done(); c.writer(ctx) }()
	go func() { defer bg.Done(); c.pinger(ctx) }()
	c.send(helloFrame{Type: "hello", Protocol: ProtocolVersion, Limits: limits{
		MaxFrame: MaxFrame, MaxText: MaxText, RateLimit: RateLimit, RateWindow: RateWindowSeconds}})

	c.readLoop(ctx)

	c.kill(websocket.StatusNormalClosure, "")
	if s.hub.remove(c) && c.user != nil {
		// the database is still up: the server closes the demo first
		octx, ocancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.be.setOffline(octx, *c.user); err != nil {
			s.logf("presence: %v", err)
		}
		ocancel()
	}
	cancel()
	bg.Wait()
	conn.CloseNow()
}

// Listen binds the HTTP address.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	s.ln = ln
	return nil
}

// Addr is the bound address (after Listen).
func (s *Server) Addr() string {
	if s.ln == nil {
		return s.cfg.Addr
	}
	return s.ln.Addr().String()
}

// URL is where a browser on this machine finds the page.
func (s *Server) URL() string {
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil {
		return "http://" + s.Addr()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Serve serves HTTP on the listener until Shutdown; it returns nil then.
func (s *Server) Serve() error {
	if s.ln == nil {
		return errors.New("demo: Serve before Listen")
	}
	err := s.http.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Start is Listen, then Serve in the background (errors are logged).
func (s *Server) Start() error {
	if err := s.Listen(); err != nil {
		return err
	}
	go func() {
		if err := s.Serve(); err != nil {
			s.logf("http: %v", err)
		}
	}()
	return nil
}

// Shutdown stops accepting, closes every socket with 1001 (going away),
// waits for them until ctx ends (then drops the rest), stops the
// background work and closes the database clients. Call it before the
// database goes away: sockets leaving still clear their presence.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	s.mu.Unlock()

	herr := make(chan error, 1)
	go func() { herr <- s.http.Shutdown(ctx) }()
	for _, c := range s.hub.snapshot() {
		c.kill(websocket.StatusGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		for _, c := range s.hub.snapshot() {
			c.conn.CloseNow()
		}
		<-done
	}
	err := <-herr
	s.cancel()
	s.loops.Wait()
	s.rdb.Close()
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = nil // the sockets were dropped above; the listener is closed
	}
	return err
}
