// Command lux is a Redis-protocol database server with relational tables, a
// durable Pebble-backed keyspace and a bundled chat demo.
package main

import (
	"flag"
	"fmt"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/luxdb/lux-go/server"
	"github.com/luxdb/lux-go/storage"
)

// options are the command-line settings; each has an environment equivalent.
type options struct {
	bind, password, dataDir, appendfsync, maxmemory, policy, protectedMode string
	aclFile                                                                string
	port                                                                   int
	persistence                                                            bool
	eventLoop                                                              bool
	pprof                                                                  string
	// demo is the chat demo's HTTP address (empty: none); demoSet says
	// the user chose it (flag or LUX_DEMO) rather than the default.
	demo    string
	demoSet bool
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("lux", flag.ContinueOnError)
	port, err := strconv.Atoi(envOr("LUX_PORT", "6379"))
	if err != nil {
		return nil, fmt.Errorf("LUX_PORT: %v", err)
	}
	persist, err := strconv.ParseBool(envOr("LUX_PERSISTENCE", "true"))
	if err != nil {
		return nil, fmt.Errorf("LUX_PERSISTENCE: %v", err)
	}
	fs.StringVar(&o.bind, "bind", envOr("LUX_BIND_HOST", "127.0.0.1"), "address to listen on (env LUX_BIND_HOST)")
	fs.IntVar(&o.port, "port", port, "TCP port (env LUX_PORT)")
	fs.StringVar(&o.password, "requirepass", envOr("LUX_PASSWORD", ""), "password clients must AUTH with (env LUX_PASSWORD)")
	fs.StringVar(&o.aclFile, "aclfile", envOr("LUX_ACLFILE", ""), "ACL file of users, loaded at start-up, by ACL LOAD and written by ACL SAVE; empty = none (env LUX_ACLFILE)")
	fs.StringVar(&o.dataDir, "data-dir", envOr("LUX_DATA_DIR", "./data"), "Pebble data directory; empty disables persistence (env LUX_DATA_DIR)")
	fs.BoolVar(&o.persistence, "persistence", persist, "persist to --data-dir; false = pure in-memory (env LUX_PERSISTENCE)")
	fs.BoolVar(&o.eventLoop, "event-loop", os.Getenv("LUX_EVENT_LOOP") != "0", "serve connections from one epoll event loop in socket-readiness order (Redis's order across connections); false = a goroutine per connection (env LUX_EVENT_LOOP=0)")
	fs.StringVar(&o.appendfsync, "appendfsync", envOr("LUX_APPENDFSYNC", "everysec"), "fsync policy: always, everysec or no (env LUX_APPENDFSYNC)")
	fs.StringVar(&o.maxmemory, "maxmemory", envOr("LUX_MAXMEMORY", "0"), "hot-tier memory limit, e.g. 512mb; 0 = unlimited (env LUX_MAXMEMORY)")
	fs.StringVar(&o.policy, "maxmemory-policy", envOr("LUX_MAXMEMORY_POLICY", ""), "over --maxmemory: allkeys-lru (drop cold keys from memory; with persistence they stay on disk) or noeviction (refuse writes); default allkeys-lru with persistence, noeviction without, as Redis (env LUX_MAXMEMORY_POLICY)")
	fs.StringVar(&o.protectedMode, "protected-mode", envOr("LUX_PROTECTED_MODE", "yes"), "no = allow a non-loopback bind without a password (env LUX_PROTECTED_MODE)")
	fs.StringVar(&o.pprof, "pprof", envOr("LUX_PPROF", ""), "serve Go's net/http/pprof profiles on this address, e.g. 127.0.0.1:6060; empty = off (env LUX_PPROF)")
	fs.StringVar(&o.demo, "demo", envOr("LUX_DEMO", defaultDemoAddr), "serve the chat demo on this HTTP address; empty = off (env LUX_DEMO)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (subcommand: lux demo --db URL)", fs.Arg(0))
	}
	_, o.demoSet = os.LookupEnv("LUX_DEMO")
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "demo" {
			o.demoSet = true
		}
	})
	return o, nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "demo" {
		if err := runDemoCommand(os.Args[2:]); err != nil {
			if err == flag.ErrHelp {
				os.Exit(0)
			}
			fmt.Fprintln(os.Stderr, "lux:", err)
			os.Exit(1)
		}
		return
	}
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "lux:", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "lux:", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	mode, err := storage.ParseSyncMode(o.appendfsync)
	if err != nil {
		return err
	}
	maxmem, err := parseMemory(o.maxmemory)
	if err != nil {
		return err
	}
	dir := o.dataDir
	if !o.persistence {
		dir = ""
	}
	policy := storage.PolicyNoEviction
	if dir != "" {
		policy = storage.PolicyAllKeysLRU
	}
	if o.policy != "" {
		p, ok := storage.ParsePolicy(o.policy)
		if !ok {
			return fmt.Errorf("maxmemory-policy %q: want one of volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction", o.policy)
		}
		policy = p
	}
	if o.pprof != "" {
		go func() {
			if err := http.ListenAndServe(o.pprof, nil); err != nil {
				fmt.Fprintln(os.Stderr, "lux: pprof:", err)
			}
		}()
	}
	start := time.Now()
	store, err := storage.Open(storage.Options{Dir: dir, Sync: mode, MaxMemory: maxmem, Policy: policy,
		Logger: stderrLogger{}})
	if err != nil {
		return fmt.Errorf("opening data directory %q: %w", dir, err)
	}
	stopGC := make(chan struct{})
	defer close(stopGC)
	if maxmem > 0 {
		// the collector works harder as the heap nears the limit instead
		// of letting garbage double the process's memory
		// (Pebble's cache and memtables live outside the Go heap): the
		// process stays within maxmemory × 1.2 + 64 MB
		goLimit := maxmem + maxmem/5 + 44<<20
		if dir != "" {
			goLimit -= storage.PebbleMemory(maxmem)
		}
		debug.SetMemoryLimit(goLimit)
	}
	gcFloor := minGCPercent
	if maxmem > 0 {
		gcFloor = 100
	}
	cfg := server.DefaultConfig()
	cfg.Bind, cfg.Port, cfg.Password = o.bind, o.port, o.password
	cfg.AllowUnprotected = strings.EqualFold(o.protectedMode, "no")
	cfg.EventLoop = o.eventLoop
	cfg.ACLFile = o.aclFile
	srv := server.New(cfg, store)
	go gcTuner(stopGC, gcFloor, srv.CommandsProcessed, server.BigRequest)
	if err := srv.LoadACLFile(); err != nil {
		srv.Close()
		store.Close()
		return fmt.Errorf("aborting startup because of ACL errors: %v", err)
	}
	if err := srv.Listen(); err != nil {
		srv.Close() // stops the table load, which reads the store
		store.Close()
		return err
	}
	persist := "off (in-memory only)"
	if dir != "" {
		persist = fmt.Sprintf("%s, appendfsync %s", dir, mode)
	}
	keys := 0
	for i := 0; i < storage.NumDBs; i++ {
		keys += store.DB(i).Size()
	}
	fmt.Fprintf(os.Stderr, "lux %s ready on %s (persistence: %s; %d keys, opened in %s)\n",
		server.LuxVersion, srv.Addr(), persist, keys, time.Since(start).Round(time.Millisecond))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	web, err := startDemo(o, srv.Addr().String())
	if err != nil {
		srv.Close()
		store.Close()
		return err
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		fmt.Fprintf(os.Stderr, "lux: received %s, shutting down\n", s)
	case <-srv.ShutdownRequested():
		fmt.Fprintln(os.Stderr, "lux: SHUTDOWN requested")
	case err := <-errc:
		if err != nil {
			fmt.Fprintln(os.Stderr, "lux: serve:", err)
		}
	}
	// The demo is a client of the server: its sockets close (1001) and
	// clear their presence while the server still answers.
	stopDemo(web)
	// Close returns once no connection, blocked client or background task
	// of the server can touch the store any more; only then is it closed.
	srv.Close()
	if err := store.Close(); err != nil {
		return fmt.Errorf("closing store: %w", err)
	}
	fmt.Fprintln(os.Stderr, "lux: data synced, bye")
	return nil
}

// stderrLogger prints the storage engine's errors and notable events.
type stderrLogger struct{}

func (stderrLogger) Infof(format string, args ...interface{}) {
	if strings.HasPrefix(format, "upgraded to format version") {
		return // a new data directory steps through every format: routine, a dozen lines
	}
	fmt.Fprintf(os.Stderr, "lux: pebble: "+format+"\n", args...)
}

func (stderrLogger) Errorf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "lux: pebble: ERROR: "+format+"\n", args...)
}

// Fatalf must not return (the storage engine's contract).
func (stderrLogger) Fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "lux: pebble: FATAL: "+format+"\n", args...)
	os.Exit(1)
}

// parseMemory parses sizes like 1048576, 100mb, 2gb.
func parseMemory(v string) (int64, error) {
	l := strings.ToLower(strings.TrimSpace(v))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}} {
		if strings.HasSuffix(l, u.suf) {
			l, mult = strings.TrimSuffix(l, u.suf), u.m
			break
		}
	}
	n, err := strconv.ParseInt(l, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid memory size %q", v)
	}
	return n * mult, nil
}
