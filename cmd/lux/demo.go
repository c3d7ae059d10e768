package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/luxdb/lux-go/demo"
	"github.com/redis/go-redis/v9"
)

// defaultDemoAddr is where `lux` serves the chat demo unless --demo or
// LUX_DEMO says otherwise (empty: no demo).
const defaultDemoAddr = "127.0.0.1:8080"

// demoShutdownTimeout bounds closing the demo's sockets at exit.
const demoShutdownTimeout = 5 * time.Second

// startDemo starts the bundled demo as a client of the server that just
// bound dbAddr. A demo on the default address that cannot bind (another lux
// already serves one there) is a warning; an address the user asked for
// must work.
func startDemo(o *options, dbAddr string) (*demo.Server, error) {
	if o.demo == "" {
		return nil, nil
	}
	host, port, err := net.SplitHostPort(dbAddr)
	if err != nil {
		return nil, fmt.Errorf("demo: database address %q: %v", dbAddr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	d, err := demo.New(demo.Config{
		Addr: o.demo,
		DB:   &redis.Options{Addr: net.JoinHostPort(host, port), Password: o.password},
	})
	if err != nil {
		return nil, err
	}
	if err := d.Start(); err != nil {
		d.Shutdown(context.Background())
		if !o.demoSet {
			fmt.Fprintf(os.Stderr, "lux: WARNING: chat demo not started: %v (set --demo ADDR or LUX_DEMO to another address, or empty to disable it)\n", err)
			return nil, nil
		}
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "lux: chat demo on %s\n", d.URL())
	return d, nil
}

// stopDemo closes the demo's sockets (1001) before the server and the
// store go away.
func stopDemo(d *demo.Server) {
	if d == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), demoShutdownTimeout)
	defer cancel()
	if err := d.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "lux: demo shutdown:", err)
	}
}

// runDemoCommand is `lux demo --db URL`: only the web tier, as a client of
// a database elsewhere, so several demo processes can share one database.
func runDemoCommand(args []string) error {
	fs := flag.NewFlagSet("lux demo", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: lux demo [--db URL] [--addr ADDR]\n\nServe only the chat demo, as a client of the database at URL.\n\n")
		fs.PrintDefaults()
	}
	dbURL := fs.String("db", envOr("LUX_DEMO_DB", "lux://127.0.0.1:6379"), "database: lux://[:password@]host:port (redis:// and rediss:// too) (env LUX_DEMO_DB)")
	addr := fs.String("addr", envOr("LUX_DEMO", defaultDemoAddr), "HTTP address to serve the demo on (env LUX_DEMO)")
	origins := fs.String("allow-origin", envOr("LUX_DEMO_ALLOW_ORIGIN", ""), "comma-separated extra origin host patterns allowed to open the WebSocket, e.g. chat.example.com (env LUX_DEMO_ALLOW_ORIGIN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("demo: unexpected argument %q", fs.Arg(0))
	}
	if *addr == "" {
		return errors.New("demo: --addr must not be empty")
	}
	opts, err := demo.ParseDBURL(*dbURL)
	if err != nil {
		return err
	}
	cfg := demo.Config{Addr: *addr, DB: opts}
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.AllowedOrigins = append(cfg.AllowedOrigins, o)
		}
	}
	d, err := demo.New(cfg)
	if err != nil {
		return err
	}
	if err := d.Listen(); err != nil {
		d.Shutdown(context.Background())
		return err
	}
	fmt.Fprintf(os.Stderr, "lux demo: serving %s for the database at %s\n", d.URL(), redactURL(*dbURL))
	errc := make(chan error, 1)
	go func() { errc <- d.Serve() }()
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		fmt.Fprintf(os.Stderr, "lux demo: received %s, shutting down\n", s)
	case err := <-errc:
		if err != nil {
			return err
		}
	}
	stopDemo(d)
	fmt.Fprintln(os.Stderr, "lux demo: bye")
	return nil
}

// redactURL hides a password in a connection string for logs.
func redactURL(s string) string {
	at := strings.LastIndex(s, "@")
	i := strings.Index(s, "://")
	if at < 0 || i < 0 || at < i {
		return s
	}
	user := s[i+3 : at]
	if c := strings.IndexByte(user, ':'); c >= 0 {
		user = user[:c+1] + "***"
	} else {
		user = "***"
	}
	return s[:i+3] + user + s[at:]
}
