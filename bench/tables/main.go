// Command tables benchmarks Lux's relational tables against PostgreSQL 15 on
// the reference chat application's workload, both servers started by this
// program on loopback in the same run:
//
//   - insert N messages over 100 channels and 1,000 users with C concurrent
//     clients (go-redis TINSERT vs pgx INSERT ... RETURNING id), lux
//     everysec vs Postgres synchronous_commit=off, and lux always vs
//     Postgres defaults;
//   - the history query (WHERE channel_id = X ORDER BY timestamp DESC
//     LIMIT 50) for random channels, at N/10 rows and at N rows;
//   - 50 users fetched in one round trip (a pipeline of 50 TGETs vs a pgx
//     batch of 50 SELECTs, and one SELECT ... WHERE id = ANY($1)).
//
// Run from the module root: go run ./bench/tables [-n 1000000] (see -help).
// As root it runs initdb and the postmaster as the postgres user.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/luxdb/lux-go/bench/internal/proc"
	"github.com/redis/go-redis/v9"
)

type config struct {
	n, nAlways, histAt          int
	channels, users, conc       int
	queries, tgets              int
	modes, systems              []string
	port                        int
	luxBin, pgBin, workDir, out string
	luxArgs                     []string
	keep                        bool
}

func main() {
	var cfg config
	var modes, systems string
	flag.IntVar(&cfg.n, "n", 1_000_000, "messages to insert")
	flag.IntVar(&cfg.nAlways, "n-always", 0, "messages to insert in always mode (0: same as -n)")
	flag.IntVar(&cfg.histAt, "hist-at", 0, "also measure the history query after this many messages (0: n/10)")
	flag.IntVar(&cfg.channels, "channels", 100, "channels")
	flag.IntVar(&cfg.users, "users", 1000, "users")
	flag.IntVar(&cfg.conc, "c", 16, "concurrent clients (inserts and the concurrent query runs)")
	flag.IntVar(&cfg.queries, "queries", 2000, "history queries per measurement")
	flag.IntVar(&cfg.tgets, "tgets", 1000, "round trips of 50 user lookups")
	flag.StringVar(&modes, "modes", "everysec,always", "durability pairings: everysec (lux everysec vs pg synchronous_commit=off), always (lux always vs pg defaults)")
	flag.StringVar(&systems, "systems", "lux,pg", "systems to run")
	flag.IntVar(&cfg.port, "port", 7901, "lux port; postgres listens on port+1")
	flag.StringVar(&cfg.luxBin, "lux", "", "lux binary (default: go build github.com/luxdb/lux-go/cmd/lux)")
	flag.StringVar(&cfg.pgBin, "pg-bin", "/usr/lib/postgresql/15/bin", "directory with initdb, pg_ctl, postgres")
	flag.StringVar(&cfg.workDir, "workdir", "", "directory for data (default: a new temp dir, removed at the end)")
	flag.StringVar(&cfg.out, "out", "", "also append the markdown results to this file")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the data directories")
	luxArgs := flag.String("lux-args", "", "extra lux arguments, space-separated (e.g. \"--pprof 127.0.0.1:7909\")")
	flag.Parse()
	cfg.modes = strings.Split(modes, ",")
	cfg.systems = strings.Split(systems, ",")
	cfg.luxArgs = strings.Fields(*luxArgs)
	if err := run(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench/tables:", err)
		os.Exit(1)
	}
}

// result is one system's figures in one mode.
type result struct {
	system, setting          string
	n                        int
	insertSecs               float64
	histSmall, histFull      lat // single client
	histConc                 lat // conc clients at n rows
	histConcQPS              float64
	tget, pgAny              lat
	rssMB, diskMB            float64
	histRowsSmall, histRowsN int
	cpuInsertUS              float64 // server CPU per insert
	cpuClientUS              float64 // the benchmark's own CPU per insert (its client library, 16 connections)
	cpuHistUS                float64 // server CPU per history query (concurrent run)
	raw                      lat     // lux: history from a minimal RESP client
	floor                    lat     // lux: go-redis PING, the round trip with no server work
}

type lat struct{ p50, p99, mean time.Duration }

func summarize(d []time.Duration) lat {
	if len(d) == 0 {
		return lat{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return lat{p50: d[len(d)/2], p99: d[min(len(d)-1, len(d)*99/100)], mean: sum / time.Duration(len(d))}
}

func run(cfg *config) error {
	work := cfg.workDir
	if work == "" {
		d, err := os.MkdirTemp("", "lux-bench-tables-")
		if err != nil {
			return err
		}
		work = d
		if !cfg.keep {
			defer os.RemoveAll(work)
		}
	}
	if cfg.luxBin == "" {
		cfg.luxBin = filepath.Join(work, "lux")
		log("building lux")
		cmd := exec.Command("go", "build", "-o", cfg.luxBin, "github.com/luxdb/lux-go/cmd/lux")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	var results []result
	for _, mode := range cfg.modes {
		n := cfg.n
		if mode == "always" && cfg.nAlways > 0 {
			n = cfg.nAlways
		}
		for _, sys := range cfg.systems {
			var r result
			var err error
			switch sys {
			case "lux":
				r, err = benchLux(cfg, work, mode, n)
			case "pg":
				r, err = benchPG(cfg, work, mode, n)
			default:
				err = fmt.Errorf("unknown system %q", sys)
			}
			if err != nil {
				return fmt.Errorf("%s %s: %w", sys, mode, err)
			}
			results = append(results, r)
		}
	}
	md := report(cfg, results)
	fmt.Print(md)
	if cfg.out != "" {
		f, err := os.OpenFile(cfg.out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := f.WriteString(md); err != nil {
			return err
		}
	}
	return nil
}

func log(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// ---- the workload, independent of the system ----

// store is what the workload needs from a system; each worker gets its own.
type store interface {
	insertMessage(ctx context.Context, ch, user int, content string, ts int64) error
	history(ctx context.Context, ch int) (int, error)    // returns rows read
	users50(ctx context.Context, ids []int) (int, error) // returns users read
	close()
}

type system interface {
	connect(ctx context.Context) (store, error)
	setup(ctx context.Context, cfg *config) error
	afterLoad(ctx context.Context) error // e.g. ANALYZE
	name() string
	setting() string
	rssMB() float64
	diskMB() float64
	cpuSeconds() float64 // server CPU time used so far (user + system)
	stop()
}

const tsBase = 1_732_550_000_000

// insertPhase inserts messages [from, to) with cfg.conc clients.
func insertPhase(ctx context.Context, cfg *config, sys system, from, to int) (time.Duration, error) {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	errc := make(chan error, cfg.conc)
	start := time.Now()
	for w := 0; w < cfg.conc; w++ {
		st, err := sys.connect(ctx)
		if err != nil {
			return 0, err
		}
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			defer st.close()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(from)))
			for {
				i := next.Add(1) - 1
				if i >= int64(to) {
					return
				}
				ch, u := 1+rng.IntN(cfg.channels), 1+rng.IntN(cfg.users)
				content := fmt.Sprintf("message %d from user %d: the quick brown fox jumps over the lazy dog", i, u)
				if err := st.insertMessage(ctx, ch, u, content, tsBase+i*10); err != nil {
					errc <- fmt.Errorf("insert %d: %w", i, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	select {
	case err := <-errc:
		return 0, err
	default:
	}
	return time.Since(start), nil
}

// histLatency runs the history query q times from one client.
func histLatency(ctx context.Context, cfg *config, sys system, q int) (lat, int, error) {
	st, err := sys.connect(ctx)
	if err != nil {
		return lat{}, 0, err
	}
	defer st.close()
	rng := rand.New(rand.NewPCG(42, uint64(q)))
	for i := 0; i < 50; i++ { // warm-up
		if _, err := st.history(ctx, 1+rng.IntN(cfg.channels)); err != nil {
			return lat{}, 0, err
		}
	}
	d := make([]time.Duration, 0, q)
	rows := 0
	for i := 0; i < q; i++ {
		t0 := time.Now()
		n, err := st.history(ctx, 1+rng.IntN(cfg.channels))
		if err != nil {
			return lat{}, 0, err
		}
		d = append(d, time.Since(t0))
		rows += n
	}
	return summarize(d), rows / q, nil
}

// histConcurrent runs the history query from cfg.conc clients at once.
func histConcurrent(ctx context.Context, cfg *config, sys system, q int) (lat, float64, error) {
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	errc := make(chan error, cfg.conc)
	per := max(1, q/cfg.conc)
	start := time.Now()
	for w := 0; w < cfg.conc; w++ {
		st, err := sys.connect(ctx)
		if err != nil {
			return lat{}, 0, err
		}
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			defer st.close()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			d := make([]time.Duration, 0, per)
			for i := 0; i < per; i++ {
				t0 := time.Now()
				if _, err := st.history(ctx, 1+rng.IntN(cfg.channels)); err != nil {
					errc <- err
					return
				}
				d = append(d, time.Since(t0))
			}
			mu.Lock()
			all = append(all, d...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	el := time.Since(start)
	select {
	case err := <-errc:
		return lat{}, 0, err
	default:
	}
	return summarize(all), float64(len(all)) / el.Seconds(), nil
}

func usersLatency(ctx context.Context, cfg *config, st store, q int) (lat, error) {
	rng := rand.New(rand.NewPCG(7, 7))
	ids := make([]int, 50)
	d := make([]time.Duration, 0, q)
	for i := 0; i < q+50; i++ {
		for j := range ids {
			ids[j] = 1 + rng.IntN(cfg.users)
		}
		t0 := time.Now()
		n, err := st.users50(ctx, ids)
		if err != nil {
			return lat{}, err
		}
		if n != 50 {
			return lat{}, fmt.Errorf("%d users read, want 50", n)
		}
		if i >= 50 { // the first 50 warm up
			d = append(d, time.Since(t0))
		}
	}
	return summarize(d), nil
}

func benchSystem(cfg *config, sys system, n int) (result, error) {
	ctx := context.Background()
	defer sys.stop()
	r := result{system: sys.name(), setting: sys.setting(), n: n}
	if err := sys.setup(ctx, cfg); err != nil {
		return r, err
	}
	histAt := cfg.histAt
	if histAt <= 0 {
		histAt = n / 10
	}
	histAt = min(histAt, n)
	log("%s (%s): inserting %d messages with %d clients", r.system, r.setting, histAt, cfg.conc)
	cpu0, self0 := sys.cpuSeconds(), selfCPU()
	d1, err := insertPhase(ctx, cfg, sys, 0, histAt)
	if err != nil {
		return r, err
	}
	cpuIns, selfIns := sys.cpuSeconds()-cpu0, selfCPU()-self0
	if err := sys.afterLoad(ctx); err != nil {
		return r, err
	}
	if r.histSmall, r.histRowsSmall, err = histLatency(ctx, cfg, sys, cfg.queries); err != nil {
		return r, err
	}
	log("%s: history at %d rows p50 %v p99 %v; inserting up to %d", r.system, histAt, r.histSmall.p50, r.histSmall.p99, n)
	cpu0, self0 = sys.cpuSeconds(), selfCPU()
	d2, err := insertPhase(ctx, cfg, sys, histAt, n)
	if err != nil {
		return r, err
	}
	cpuIns += sys.cpuSeconds() - cpu0
	selfIns += selfCPU() - self0
	r.cpuInsertUS = cpuIns / float64(n) * 1e6
	r.cpuClientUS = selfIns / float64(n) * 1e6
	r.insertSecs = (d1 + d2).Seconds()
	log("%s: %d inserts in %.1fs (%.0f/s)", r.system, n, r.insertSecs, float64(n)/r.insertSecs)
	if err := sys.afterLoad(ctx); err != nil {
		return r, err
	}
	if r.histFull, r.histRowsN, err = histLatency(ctx, cfg, sys, cfg.queries); err != nil {
		return r, err
	}
	cpu0 = sys.cpuSeconds()
	if r.histConc, r.histConcQPS, err = histConcurrent(ctx, cfg, sys, cfg.queries*4); err != nil {
		return r, err
	}
	r.cpuHistUS = (sys.cpuSeconds() - cpu0) / float64(max(1, cfg.queries*4/cfg.conc*cfg.conc)) * 1e6
	if l, ok := sys.(*luxSystem); ok {
		if r.raw, err = rawHistory(l.addr, cfg); err != nil {
			return r, err
		}
		if r.floor, err = pingLatency(ctx, l.addr, cfg); err != nil {
			return r, err
		}
	}
	st, err := sys.connect(ctx)
	if err != nil {
		return r, err
	}
	if r.tget, err = usersLatency(ctx, cfg, st, cfg.tgets); err != nil {
		return r, err
	}
	if p, ok := st.(*pgStore); ok {
		p.useAny = true
		if r.pgAny, err = usersLatency(ctx, cfg, st, cfg.tgets); err != nil {
			return r, err
		}
	}
	st.close()
	r.rssMB, r.diskMB = sys.rssMB(), sys.diskMB()
	log("%s: history at %d rows p50 %v p99 %v; 50 users p50 %v", r.system, n, r.histFull.p50, r.histFull.p99, r.tget.p50)
	return r, nil
}

// ---- lux ----

type luxSystem struct {
	cmd  *exec.Cmd
	addr string
	dir  string
	mode string
}

func benchLux(cfg *config, work, mode string, n int) (result, error) {
	dir := filepath.Join(work, "lux-"+mode)
	os.RemoveAll(dir)
	s := &luxSystem{addr: "127.0.0.1:" + strconv.Itoa(cfg.port), dir: dir, mode: mode}
	s.cmd = exec.Command(cfg.luxBin, append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(cfg.port), "--data-dir", dir, "--appendfsync", mode}, cfg.luxArgs...)...)
	logf, err := os.Create(filepath.Join(work, "lux-"+mode+".log"))
	if err != nil {
		return result{}, err
	}
	defer logf.Close()
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return result{}, err
	}
	if err := proc.WaitTCP(s.addr, 30*time.Second); err != nil {
		s.stop()
		return result{}, err
	}
	return benchSystem(cfg, s, n)
}

func (s *luxSystem) name() string    { return "lux" }
func (s *luxSystem) setting() string { return "appendfsync " + s.mode }

func (s *luxSystem) stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		s.cmd.Wait()
	}
}

func (s *luxSystem) rssMB() float64      { return float64(proc.RSS(s.cmd.Process.Pid)) / (1 << 20) }
func (s *luxSystem) cpuSeconds() float64 { return procCPU(s.cmd.Process.Pid, false) }
func (s *luxSystem) diskMB() float64 {
	return dirMB(s.dir)
}

func (s *luxSystem) connect(ctx context.Context) (store, error) {
	c := redis.NewClient(&redis.Options{Addr: s.addr, Protocol: 2, PoolSize: 1, DisableIdentity: true})
	return &luxStore{c: c}, c.Ping(ctx).Err()
}

func (s *luxSystem) setup(ctx context.Context, cfg *config) error {
	st, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	c := st.(*luxStore).c
	for _, cmd := range [][]any{
		{"TCREATE", "users", "username:str:unique", "color:str", "last_seen:int"},
		{"TCREATE", "channels", "name:str:unique", "topic:str"},
		{"TCREATE", "messages", "channel_id:ref(channels)", "user_id:ref(users)", "content:str", "timestamp:int"},
	} {
		if err := c.Do(ctx, cmd...).Err(); err != nil {
			return err
		}
	}
	p := c.Pipeline()
	for i := 1; i <= cfg.users; i++ {
		p.Do(ctx, "TINSERT", "users", "username", "user"+strconv.Itoa(i), "color", "#3366ff", "last_seen", tsBase)
	}
	for i := 1; i <= cfg.channels; i++ {
		p.Do(ctx, "TINSERT", "channels", "name", "channel"+strconv.Itoa(i), "topic", "topic")
	}
	_, err = p.Exec(ctx)
	return err
}

func (s *luxSystem) afterLoad(ctx context.Context) error { return nil }

type luxStore struct{ c *redis.Client }

func (l *luxStore) close() { l.c.Close() }

func (l *luxStore) insertMessage(ctx context.Context, ch, user int, content string, ts int64) error {
	return l.c.Do(ctx, "TINSERT", "messages", "channel_id", ch, "user_id", user, "content", content, "timestamp", ts).Err()
}

func (l *luxStore) history(ctx context.Context, ch int) (int, error) {
	rows, err := l.c.Do(ctx, "TQUERY", "messages", "WHERE", "channel_id", "=", ch, "ORDER", "BY", "timestamp", "DESC", "LIMIT", 50).Slice()
	if err != nil {
		return 0, err
	}
	for _, r := range rows {
		if f, ok := r.([]any); !ok || len(f) != 9 {
			return 0, fmt.Errorf("bad row %v", r)
		}
	}
	return len(rows), nil
}

func (l *luxStore) users50(ctx context.Context, ids []int) (int, error) {
	p := l.c.Pipeline()
	cmds := make([]*redis.Cmd, len(ids))
	for i, id := range ids {
		cmds[i] = p.Do(ctx, "TGET", "users", id)
	}
	if _, err := p.Exec(ctx); err != nil {
		return 0, err
	}
	n := 0
	for _, c := range cmds {
		if v, err := c.Slice(); err == nil && len(v) == 6 {
			n++
		}
	}
	return n, nil
}

// rawHistory measures the history query from a minimal RESP client that
// reads the reply without building Go values (what the server and the
// network cost, without go-redis's decoding).
func rawHistory(addr string, cfg *config) (lat, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return lat{}, err
	}
	defer nc.Close()
	rd := bufio.NewReaderSize(nc, 64<<10)
	rng := rand.New(rand.NewPCG(5, 5))
	d := make([]time.Duration, 0, cfg.queries)
	for i := 0; i < cfg.queries+50; i++ {
		ch := strconv.Itoa(1 + rng.IntN(cfg.channels))
		req := "*12\r\n$6\r\nTQUERY\r\n$8\r\nmessages\r\n$5\r\nWHERE\r\n$10\r\nchannel_id\r\n$1\r\n=\r\n$" +
			strconv.Itoa(len(ch)) + "\r\n" + ch + "\r\n$5\r\nORDER\r\n$2\r\nBY\r\n$9\r\ntimestamp\r\n$4\r\nDESC\r\n$5\r\nLIMIT\r\n$2\r\n50\r\n"
		t0 := time.Now()
		if _, err := nc.Write([]byte(req)); err != nil {
			return lat{}, err
		}
		rows, err := skipReply(rd)
		if err != nil {
			return lat{}, err
		}
		if rows != 50 {
			return lat{}, fmt.Errorf("raw history: %d rows", rows)
		}
		if i >= 50 {
			d = append(d, time.Since(t0))
		}
	}
	return summarize(d), nil
}

// pingLatency times go-redis's PING to lux from one connection: the round
// trip between two processes on this machine with no server work, which no
// query answered by a server process can beat.
func pingLatency(ctx context.Context, addr string, cfg *config) (lat, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, PoolSize: 1, DisableIdentity: true})
	defer c.Close()
	d := make([]time.Duration, 0, cfg.queries)
	for i := 0; i < cfg.queries+50; i++ {
		t0 := time.Now()
		if err := c.Ping(ctx).Err(); err != nil {
			return lat{}, err
		}
		if i >= 50 {
			d = append(d, time.Since(t0))
		}
	}
	return summarize(d), nil
}

// selfCPU is this process's user+system time in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// skipReply reads one RESP reply and returns its element count (arrays).
func skipReply(rd *bufio.Reader) (int, error) {
	line, err := rd.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 3 {
		return 0, errors.New("short line")
	}
	n, _ := strconv.Atoi(string(line[1 : len(line)-2]))
	switch line[0] {
	case '*':
		for i := 0; i < n; i++ {
			if _, err := skipReply(rd); err != nil {
				return 0, err
			}
		}
	case '$':
		if n >= 0 {
			if _, err := rd.Discard(n + 2); err != nil {
				return 0, err
			}
		}
	case '-':
		return 0, errors.New(string(line))
	}
	return n, nil
}

// ---- postgres ----

type pgSystem struct {
	bin, dir, sock, logFile string
	port                    int
	mode                    string
	asUser                  *user.User // run the server as this user (when we are root)
	pid                     int
}

func benchPG(cfg *config, work, mode string, n int) (result, error) {
	s := &pgSystem{bin: cfg.pgBin, dir: filepath.Join(work, "pg-"+mode), sock: filepath.Join(work, "pgsock-"+mode),
		logFile: filepath.Join(work, "pg-"+mode+".log"), port: cfg.port + 1, mode: mode}
	if err := s.start(); err != nil {
		return result{}, err
	}
	return benchSystem(cfg, s, n)
}

// sh runs a command line, as the postgres user when we are root (initdb and
// the postmaster refuse to run as root).
func (s *pgSystem) sh(line string) error {
	var cmd *exec.Cmd
	if s.asUser != nil {
		cmd = exec.Command("su", s.asUser.Username, "-s", "/bin/sh", "-c", line)
	} else {
		cmd = exec.Command("/bin/sh", "-c", line)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", line, err, out)
	}
	return nil
}

func (s *pgSystem) start() error {
	if _, err := os.Stat(filepath.Join(s.bin, "initdb")); err != nil {
		return fmt.Errorf("PostgreSQL 15 not found in %s (Debian: apt-get install -y postgresql): %w", s.bin, err)
	}
	os.RemoveAll(s.dir)
	os.RemoveAll(s.sock)
	if err := os.MkdirAll(s.sock, 0o755); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root needs a postgres user: %w", err)
		}
		s.asUser = u
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, d := range []string{filepath.Dir(s.dir), s.sock} {
			os.Chmod(d, 0o755)
		}
		if err := os.Chown(s.sock, uid, gid); err != nil {
			return err
		}
		f, err := os.Create(s.logFile)
		if err != nil {
			return err
		}
		f.Close()
		os.Chown(s.logFile, uid, gid)
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return err
		}
		if err := os.Chown(s.dir, uid, gid); err != nil {
			return err
		}
	}
	if err := s.sh(fmt.Sprintf("%s -D %s -U postgres --auth=trust -E UTF8 --locale=C >/dev/null", filepath.Join(s.bin, "initdb"), s.dir)); err != nil {
		return err
	}
	opts := fmt.Sprintf("-c port=%d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s", s.port, s.sock)
	if s.mode != "always" {
		opts += " -c synchronous_commit=off"
	}
	if err := s.sh(fmt.Sprintf("%s -D %s -l %s -w -t 60 -o '%s' start >/dev/null", filepath.Join(s.bin, "pg_ctl"), s.dir, s.logFile, opts)); err != nil {
		return err
	}
	if b, err := os.ReadFile(filepath.Join(s.dir, "postmaster.pid")); err == nil {
		s.pid, _ = strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	}
	return nil
}

func (s *pgSystem) stop() {
	if err := s.sh(fmt.Sprintf("%s -D %s -m fast -w stop >/dev/null", filepath.Join(s.bin, "pg_ctl"), s.dir)); err != nil {
		log("pg_ctl stop: %v", err)
	}
}

func (s *pgSystem) name() string { return "postgres" }
func (s *pgSystem) setting() string {
	if s.mode == "always" {
		return "defaults (synchronous_commit=on)"
	}
	return "synchronous_commit=off"
}

// rssMB sums the resident memory of the postmaster and its children.
func (s *pgSystem) rssMB() float64 {
	total := float64(proc.RSS(s.pid)) / (1 << 20)
	for _, pid := range childPIDs(s.pid) {
		total += float64(proc.RSS(pid)) / (1 << 20)
	}
	return total
}

// procStat returns the fields of /proc/pid/stat after the command name
// (index 0 is the state, field 3 of proc(5)).
func procStat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	rest := string(b)
	i := strings.LastIndexByte(rest, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(rest[i+1:])
}

func childPIDs(parent int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == parent {
			continue
		}
		if f := procStat(pid); len(f) > 1 && f[1] == strconv.Itoa(parent) {
			out = append(out, pid)
		}
	}
	return out
}

// procCPU returns a process's user + system CPU seconds (with children:
// plus those of its reaped children).
func procCPU(pid int, children bool) float64 {
	f := procStat(pid)
	if len(f) < 15 {
		return 0
	}
	// utime, stime, cutime, cstime are fields 14-17 of proc(5): 11-14 here
	n := 2
	if children {
		n = 4
	}
	ticks := 0.0
	for i := 11; i < 11+n; i++ {
		v, _ := strconv.ParseFloat(f[i], 64)
		ticks += v
	}
	return ticks / 100 // USER_HZ
}

func (s *pgSystem) diskMB() float64 { return dirMB(s.dir) }

// cpuSeconds sums the postmaster's CPU time, its exited children's (which
// the kernel adds to the postmaster when it reaps them) and its live
// children's.
func (s *pgSystem) cpuSeconds() float64 {
	time.Sleep(200 * time.Millisecond) // let closed backends exit and be reaped
	total := procCPU(s.pid, true)
	for _, pid := range childPIDs(s.pid) {
		total += procCPU(pid, false)
	}
	return total
}

func (s *pgSystem) connect(ctx context.Context) (store, error) {
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port))
	if err != nil {
		return nil, err
	}
	return &pgStore{c: c}, nil
}

func (s *pgSystem) setup(ctx context.Context, cfg *config) error {
	st, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	c := st.(*pgStore).c
	for _, q := range []string{
		`CREATE TABLE users (id bigserial PRIMARY KEY, username text UNIQUE, color text, last_seen bigint)`,
		`CREATE TABLE channels (id bigserial PRIMARY KEY, name text UNIQUE, topic text)`,
		`CREATE TABLE messages (id bigserial PRIMARY KEY, channel_id bigint REFERENCES channels(id),
			user_id bigint REFERENCES users(id), content text, timestamp bigint)`,
		`CREATE INDEX messages_channel_ts ON messages (channel_id, timestamp)`,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	b := &pgx.Batch{}
	for i := 1; i <= cfg.users; i++ {
		b.Queue(`INSERT INTO users (username, color, last_seen) VALUES ($1, $2, $3)`, "user"+strconv.Itoa(i), "#3366ff", int64(tsBase))
	}
	for i := 1; i <= cfg.channels; i++ {
		b.Queue(`INSERT INTO channels (name, topic) VALUES ($1, $2)`, "channel"+strconv.Itoa(i), "topic")
	}
	return c.SendBatch(ctx, b).Close()
}

func (s *pgSystem) afterLoad(ctx context.Context) error {
	st, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	_, err = st.(*pgStore).c.Exec(ctx, "ANALYZE")
	return err
}

type pgStore struct {
	c      *pgx.Conn
	useAny bool
}

func (p *pgStore) close() { p.c.Close(context.Background()) }

func (p *pgStore) insertMessage(ctx context.Context, ch, user int, content string, ts int64) error {
	var id int64
	return p.c.QueryRow(ctx, `INSERT INTO messages (channel_id, user_id, content, timestamp) VALUES ($1, $2, $3, $4) RETURNING id`,
		ch, user, content, ts).Scan(&id)
}

func (p *pgStore) history(ctx context.Context, ch int) (int, error) {
	rows, err := p.c.Query(ctx, `SELECT id, channel_id, user_id, content, timestamp FROM messages
		WHERE channel_id = $1 ORDER BY timestamp DESC LIMIT 50`, ch)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, c, u, ts int64
		var content string
		if err := rows.Scan(&id, &c, &u, &content, &ts); err != nil {
			return 0, err
		}
		n++
	}
	return n, rows.Err()
}

func (p *pgStore) users50(ctx context.Context, ids []int) (int, error) {
	n := 0
	if p.useAny {
		rows, err := p.c.Query(ctx, `SELECT id, username, color, last_seen FROM users WHERE id = ANY($1)`, ids)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		seen := map[int64]bool{}
		for rows.Next() {
			var id, ls int64
			var name, color string
			if err := rows.Scan(&id, &name, &color, &ls); err != nil {
				return 0, err
			}
			seen[id] = true
		}
		// ANY returns each distinct user once; count the ids asked for
		for _, id := range ids {
			if seen[int64(id)] {
				n++
			}
		}
		return n, rows.Err()
	}
	b := &pgx.Batch{}
	for _, id := range ids {
		b.Queue(`SELECT username, color, last_seen FROM users WHERE id = $1`, id)
	}
	br := p.c.SendBatch(ctx, b)
	for range ids {
		var name, color string
		var ls int64
		if err := br.QueryRow().Scan(&name, &color, &ls); err != nil {
			br.Close()
			return 0, err
		}
		n++
	}
	return n, br.Close()
}

// ---- helpers ----

func dirMB(dir string) float64 {
	var total int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			total += info.Size()
		}
		return nil
	})
	return float64(total) / (1 << 20)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d.Microseconds())/1000) }

func report(cfg *config, rs []result) string {
	var b strings.Builder
	host, _ := os.Hostname()
	load, _ := os.ReadFile("/proc/loadavg")
	rev := "unknown"
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		rev = strings.TrimSpace(string(out))
		if out, err := exec.Command("git", "status", "--porcelain").Output(); err == nil && len(out) > 0 {
			rev += " plus uncommitted changes"
		}
	}
	fmt.Fprintf(&b, "\nRun %s on %s (%d cores, %s/%s, %s), lux at %s; load average at the end: %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), rev,
		strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
	fmt.Fprintf(&b, "Settings: %d channels, %d users, %d concurrent clients, %d history queries per measurement (one client), %d x 4 (all clients), %d round trips of 50 users.\n\n",
		cfg.channels, cfg.users, cfg.conc, cfg.queries, cfg.queries, cfg.tgets)
	b.WriteString("| system | setting | messages | inserts/s | server CPU µs per insert | client CPU µs per insert | history p50 / p99 ms at n/10 rows | history p50 / p99 ms at n rows | history, all clients: p50 / p99 ms, queries/s, server CPU µs per query | 50 users in one round trip p50 / p99 ms | RSS MB | disk MB |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		users := ms(r.tget.p50) + " / " + ms(r.tget.p99)
		if r.system == "lux" {
			users += " (50 pipelined TGET)"
		} else {
			users += " (batch of 50 SELECT); " + ms(r.pgAny.p50) + " / " + ms(r.pgAny.p99) + " (one SELECT ... = ANY)"
		}
		hist := ms(r.histFull.p50) + " / " + ms(r.histFull.p99)
		if r.system == "lux" {
			hist += " (go-redis); " + ms(r.raw.p50) + " / " + ms(r.raw.p99) + " (raw RESP client); " +
				ms(r.floor.p50) + " / " + ms(r.floor.p99) + " (go-redis PING)"
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.0f | %.0f | %.0f | %s / %s | %s | %s / %s, %.0f, %.0f | %s | %.0f | %.0f |\n",
			r.system, r.setting, r.n, float64(r.n)/r.insertSecs, r.cpuInsertUS, r.cpuClientUS,
			ms(r.histSmall.p50), ms(r.histSmall.p99), hist,
			ms(r.histConc.p50), ms(r.histConc.p99), r.histConcQPS, r.cpuHistUS, users, r.rssMB, r.diskMB)
	}
	// ratios per mode
	b.WriteString("\n")
	for i := 0; i+1 < len(rs); i++ {
		l, p := rs[i], rs[i+1]
		if l.system != "lux" || p.system != "postgres" {
			continue
		}
		fmt.Fprintf(&b, "- lux %s vs postgres %s: inserts %.2fx postgres's throughput, %.2fx its server CPU per insert; history p50 %.2fx postgres's at n rows (%.2fx with the raw RESP client; go-redis's PING to lux alone: %.2fx), p99 %s ms; lux history p50 at n/10 vs n rows: %s vs %s ms; server CPU per history query %.2fx postgres's; 50 users p50 %.2fx postgres's batch.\n",
			l.setting, p.setting, (float64(l.n)/l.insertSecs)/(float64(p.n)/p.insertSecs), l.cpuInsertUS/p.cpuInsertUS,
			float64(l.histFull.p50)/float64(p.histFull.p50), float64(l.raw.p50)/float64(p.histFull.p50), float64(l.floor.p50)/float64(p.histFull.p50), ms(l.histFull.p99), ms(l.histSmall.p50), ms(l.histFull.p50),
			l.cpuHistUS/p.cpuHistUS, float64(l.tget.p50)/float64(p.tget.p50))
	}
	return b.String()
}
