// Command tablestier measures tables tiered to disk (docs/TABLES.md,
// "Memory"), side by side in one run; see bench/tables-tiering.sh.
//
//	writes   -n chat messages inserted by -c clients (pipelines of 64) into
//	         lux with --maxmemory -limit and into lux without a limit:
//	         throughput, ratio, refused writes, peak RSS (VmHWM)
//	history  -hist-n messages into lux with --maxmemory -hist-limit, then
//	         TQUERY messages WHERE channel_id = X ORDER BY timestamp DESC
//	         LIMIT 50 (one connection): p50/p99 for cold channels (never
//	         read since a restart) and for -hot channels queried over and
//	         over, first right after the cold ones (while the server still
//	         compacts what the load left), then once the server is idle,
//	         then from -hist-c connections at once; and the app's next
//	         step, one pipeline of TGET users for the page's distinct
//	         authors. Latencies are taken with a raw RESP client that reads
//	         the reply without building Go values (the server's latency);
//	         the first hot row is also given as go-redis measures it
//	         (Do().Slice(): decoding 451 values into interfaces and the
//	         client's own collections included), as earlier runs reported
//	restart  kill -9, start, time to the first PONG and to the first
//	         TQUERY reply; TCOUNT checked against the acknowledged inserts
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/luxdb/lux-go/bench/internal/rawresp"
	"github.com/redis/go-redis/v9"
)

var (
	luxBin    = flag.String("lux", "", "lux binary")
	port      = flag.Int("port", 7620, "port")
	n         = flag.Int("n", 2_000_000, "messages for the writes section")
	limit     = flag.String("limit", "64mb", "maxmemory of the writes section")
	histN     = flag.Int("hist-n", 5_000_000, "messages for the history section")
	histLimit = flag.String("hist-limit", "128mb", "maxmemory of the history section")
	channels  = flag.Int("channels", 1000, "channels")
	users     = flag.Int("users", 1000, "users")
	hot       = flag.Int("hot", 20, "hot channels")
	queries   = flag.Int("queries", 2000, "history queries per measurement")
	conc      = flag.Int("c", 16, "clients inserting")
	histConc  = flag.Int("hist-c", 4, "connections querying hot channels at once (last hot row)")
	sections  = flag.String("sections", "writes,history", "sections to run")
	work      = flag.String("workdir", "", "data directory root (default: a temp dir)")
)

type server struct {
	cmd     *exec.Cmd
	dir     string
	c       *redis.Client
	started time.Time
	// rss is VmRSS in MB, sampled once a second from start to stop
	rssMu   sync.Mutex
	rss     []float64
	rssStop chan struct{}
}

// sampleRSS records VmRSS once a second until stop.
func (s *server) sampleRSS() {
	s.rssStop = make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			s.rssMu.Lock()
			s.rss = append(s.rss, float64(s.vm("VmRSS:"))/(1<<20))
			s.rssMu.Unlock()
			select {
			case <-s.rssStop:
				return
			case <-t.C:
			}
		}
	}()
}

// rssSeries returns the samples so far.
func (s *server) rssSeries() []float64 {
	s.rssMu.Lock()
	defer s.rssMu.Unlock()
	return append([]float64(nil), s.rss...)
}

// rssTable prints RSS over time of several runs side by side, at most about
// 30 rows (every k-th second for long runs).
func rssTable(names []string, series [][]float64) {
	n := 0
	for _, r := range series {
		n = max(n, len(r))
	}
	step := max(1, (n+29)/30)
	fmt.Printf("\nRSS over time (MB, sampled every second; every %d s shown):\n\n| s |", step)
	for _, name := range names {
		fmt.Printf(" %s |", name)
	}
	fmt.Print("\n|---|")
	for range names {
		fmt.Print("---|")
	}
	fmt.Println()
	for i := 0; i < n; i += step {
		fmt.Printf("| %d |", i)
		for _, r := range series {
			if i < len(r) {
				fmt.Printf(" %.1f |", r[i])
			} else {
				fmt.Print(" - |")
			}
		}
		fmt.Println()
	}
}

func start(dir string, args ...string) *server {
	a := append([]string{"--port", strconv.Itoa(*port), "--data-dir", dir, "--appendfsync", "everysec"}, args...)
	cmd := exec.Command(*luxBin, a...)
	cmd.Stderr, _ = os.Create(filepath.Join(filepath.Dir(dir), filepath.Base(dir)+".log"))
	must(cmd.Start())
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(*port), PoolSize: *conc + 4, MaxRetries: -1})
	srv := &server{cmd: cmd, dir: dir, c: c, started: time.Now()}
	srv.sampleRSS()
	return srv
}

// waitReply polls until f succeeds; it returns the time since t0.
func waitReply(t0 time.Time, f func() error) time.Duration {
	for {
		if f() == nil {
			return time.Since(t0)
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *server) stop(kill bool) {
	close(s.rssStop)
	if kill {
		s.cmd.Process.Signal(syscall.SIGKILL)
	} else {
		s.cmd.Process.Signal(syscall.SIGTERM)
	}
	s.cmd.Wait()
	s.c.Close()
}

func (s *server) hwm() int64 { return s.vm("VmHWM:") }

// vm returns a /proc/PID/status memory field in bytes.
func (s *server) vm(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field); ok {
			f := strings.Fields(v)
			kb, _ := strconv.ParseInt(f[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func (s *server) info(field string) string {
	for _, l := range strings.Split(s.c.Info(context.Background(), "memory").Val(), "\r\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return v
		}
	}
	return ""
}

// cpu is the server's user + system time in clock ticks (1/100 s).
func (s *server) cpu() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

// waitIdle waits until the server used under 5% of a core for a second
// (at most two minutes); it returns the time since the server started.
func (s *server) waitIdle() time.Duration {
	for prev := s.cpu(); time.Since(s.started) < 2*time.Minute; {
		time.Sleep(time.Second)
		c := s.cpu()
		if c-prev < 5 {
			break
		}
		prev = c
	}
	return time.Since(s.started) - time.Second
}

// firstReplies polls the restarted server over raw TCP every half
// millisecond (a client library's dial backoff would be in the figure) and
// returns the times since t0 of its first PONG and of its first TQUERY reply
// that is not an error.
func firstReplies(t0 time.Time) (pong, first time.Duration) {
	addr := "127.0.0.1:" + strconv.Itoa(*port)
	try := func(cmd string, ok byte) bool {
		nc, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return false
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Write([]byte(cmd)); err != nil {
			return false
		}
		b, err := bufio.NewReader(nc).ReadByte()
		return err == nil && b == ok
	}
	var q raw
	q.send("TQUERY", "messages", "WHERE", "channel_id", "=", "1", "ORDER", "BY", "timestamp", "DESC", "LIMIT", "50")
	query := string(q.buf)
	for !try("PING\r\n", '+') {
		time.Sleep(500 * time.Microsecond)
	}
	pong = time.Since(t0)
	for !try(query, '*') {
		time.Sleep(500 * time.Microsecond)
	}
	return pong, time.Since(t0)
}

// raw is a connection that sends the history query and reads its reply as
// RESP without building Go values, so what it times is the server's
// latency, not the client's decoding and collections.
type raw struct {
	nc    net.Conn
	r     *bufio.Reader
	users map[string]bool // the last history page's authors
	buf   []byte
}

func dialRaw() *raw {
	nc, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(*port))
	must(err)
	return &raw{nc: nc, r: bufio.NewReaderSize(nc, 1<<16), users: map[string]bool{}}
}

func (c *raw) send(args ...string) { c.buf = rawresp.Append(c.buf, args...) }

func (c *raw) flush() {
	_, err := c.nc.Write(c.buf)
	must(err)
	c.buf = c.buf[:0]
}

// read reads one reply and returns the number of elements of a top-level
// array; the value of each bulk string after a "user_id" one is recorded.
func (c *raw) read() int {
	n, err := rawresp.Read(c.r, rawresp.Following("user_id", c.users))
	must(err)
	return n
}

// history times the history query of channel ch.
func (c *raw) history(ch int) time.Duration {
	clear(c.users)
	t := time.Now()
	c.send("TQUERY", "messages", "WHERE", "channel_id", "=", strconv.Itoa(ch), "ORDER", "BY", "timestamp", "DESC", "LIMIT", "50")
	c.flush()
	n := c.read()
	d := time.Since(t)
	if n != 50 {
		must(fmt.Errorf("history of channel %d: %d rows", ch, n))
	}
	return d
}

// authors times one pipeline of TGET users for the last page's authors.
func (c *raw) authors() time.Duration {
	t := time.Now()
	n := len(c.users)
	for u := range c.users {
		c.send("TGET", "users", u)
	}
	c.flush()
	for range n {
		if c.read() != 6 {
			must(fmt.Errorf("TGET users: not a user"))
		}
	}
	return time.Since(t)
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "tablestier:", err)
		os.Exit(1)
	}
}

// load creates the chat schema and inserts count messages; it returns the
// insert throughput and the number of refused inserts.
func load(s *server, count int) (float64, int64) {
	ctx := context.Background()
	waitReply(time.Now(), func() error { return s.c.Ping(ctx).Err() })
	for _, c := range [][]any{
		{"TCREATE", "users", "username:str:unique", "color:str", "last_seen:int"},
		{"TCREATE", "channels", "name:str:unique", "topic:str"},
		{"TCREATE", "messages", "channel_id:ref(channels)", "user_id:ref(users)", "content:str", "timestamp:int"},
	} {
		must(s.c.Do(ctx, c...).Err())
	}
	p := s.c.Pipeline()
	for i := 1; i <= *users; i++ {
		p.Do(ctx, "TINSERT", "users", "username", fmt.Sprintf("user%d", i), "color", "red", "last_seen", 1)
	}
	for i := 1; i <= *channels; i++ {
		p.Do(ctx, "TINSERT", "channels", "name", fmt.Sprintf("channel%d", i), "topic", "t")
	}
	_, err := p.Exec(ctx)
	must(err)
	var next, refused atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for {
				base := next.Add(64) - 64
				if base >= int64(count) {
					return
				}
				p := s.c.Pipeline()
				for i := base; i < min(base+64, int64(count)); i++ {
					p.Do(ctx, "TINSERT", "messages", "channel_id", 1+rng.IntN(*channels), "user_id", 1+rng.IntN(*users),
						"content", fmt.Sprintf("message %d: the quick brown fox jumps over the lazy dog", i), "timestamp", 1732550000000+i)
				}
				cmds, _ := p.Exec(ctx)
				for _, c := range cmds {
					if c.Err() != nil {
						refused.Add(1)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	return float64(count) / time.Since(t0).Seconds(), refused.Load()
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func limitBytes(s string) int64 {
	s = strings.ToLower(s)
	for suf, m := range map[string]int64{"gb": 1 << 30, "mb": 1 << 20, "kb": 1 << 10} {
		if v, ok := strings.CutSuffix(s, suf); ok {
			x, _ := strconv.ParseInt(v, 10, 64)
			return x * m
		}
	}
	x, _ := strconv.ParseInt(s, 10, 64)
	return x
}

func writes(root string) {
	fmt.Printf("\n### %d TINSERTs (chat messages, %d clients × pipelines of 64), --maxmemory %s vs no limit\n\n", *n, *conc, *limit)
	fmt.Println("| server | inserts/s | refused | peak RSS (VmHWM) | used_memory after | RSS bound (limit × 1.2 + 64 MB) |")
	fmt.Println("|---|---|---|---|---|---|")
	var rates [2]float64
	var rss [][]float64
	for i, args := range [][]string{{"--maxmemory", *limit}, nil} {
		s := start(filepath.Join(root, fmt.Sprintf("writes%d", i)), args...)
		rate, refused := load(s, *n)
		rates[i] = rate
		name, bound := "no limit", "-"
		if args != nil {
			name = "--maxmemory " + *limit
			bound = mb(limitBytes(*limit)*12/10 + 64<<20)
		}
		used, _ := strconv.ParseInt(s.info("used_memory"), 10, 64)
		fmt.Printf("| %s | %.0f | %d | %s | %s | %s |\n", name, rate, refused, mb(s.hwm()), mb(used), bound)
		rss = append(rss, s.rssSeries())
		s.stop(false)
		fmt.Fprintf(os.Stderr, "tablestier: writes %s: %.0f/s\n", name, rate)
	}
	fmt.Printf("\nratio limit / no limit: **%.2f**\n", rates[0]/rates[1])
	rssTable([]string{"--maxmemory " + *limit, "no limit"}, rss)
}

func pct(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

func history(root string) {
	ctx := context.Background()
	dir := filepath.Join(root, "history")
	s := start(dir, "--maxmemory", *histLimit)
	t0 := time.Now()
	rate, refused := load(s, *histN)
	fmt.Fprintf(os.Stderr, "tablestier: loaded %d messages in %s\n", *histN, time.Since(t0).Round(time.Second))
	fmt.Printf("\n### History query on %d messages (%d channels), --maxmemory %s\n\n", *histN, *channels, *histLimit)
	fmt.Printf("Loaded at %.0f inserts/s, %d refused; peak RSS %s.\n", rate, refused, mb(s.hwm()))
	rssTable([]string{"load, --maxmemory " + *histLimit}, [][]float64{s.rssSeries()})
	fmt.Println()
	// restart (kill -9): nothing is resident, every channel is cold
	s.stop(true)
	t0 = time.Now()
	s = start(dir, "--maxmemory", *histLimit)
	pong, first := firstReplies(t0)
	cnt, err := s.c.Do(ctx, "TCOUNT", "messages").Int64()
	must(err)
	rc := dialRaw()
	var cold []time.Duration
	for i := 0; i < *queries && i+*hot+2 <= *channels; i++ {
		cold = append(cold, rc.history(*hot+2+i)) // each cold channel read once
	}
	for i := 0; i < *hot; i++ {
		rc.history(2 + i) // warm up
	}
	var hotBusy, hotGo, hotIdle, hotConc, authors []time.Duration
	cpu0 := s.cpu()
	for i := 0; i < *queries; i++ {
		hotBusy = append(hotBusy, rc.history(2+i%*hot))
	}
	for i := 0; i < *queries; i++ {
		t := time.Now()
		res, err := s.c.Do(ctx, "TQUERY", "messages", "WHERE", "channel_id", "=", 2+i%*hot, "ORDER", "BY", "timestamp", "DESC", "LIMIT", 50).Slice()
		d := time.Since(t)
		must(err)
		if len(res) != 50 {
			must(fmt.Errorf("history of channel %d: %d rows", 2+i%*hot, len(res)))
		}
		hotGo = append(hotGo, d)
	}
	busy := time.Since(t0)
	busyCPU := float64(s.cpu()-cpu0) / 100 / busy.Seconds()
	// the load left compactions to finish: wait until the server is idle
	idle := s.waitIdle()
	for i := 0; i < *hot; i++ {
		rc.history(2 + i)
		rc.authors() // warm up: the users become resident
	}
	for i := 0; i < *queries; i++ {
		hotIdle = append(hotIdle, rc.history(2+i%*hot))
		authors = append(authors, rc.authors())
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := 0; c < *histConc; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			r := dialRaw()
			defer r.nc.Close()
			var d []time.Duration
			for i := 0; i < *queries / *histConc; i++ {
				d = append(d, r.history(2+(i+c*7)%*hot))
			}
			mu.Lock()
			hotConc = append(hotConc, d...)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	rc.nc.Close()
	used, _ := strconv.ParseInt(s.info("used_memory"), 10, 64)
	fmt.Println("| channels | queries | p50 | p99 |")
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| cold (first read since the restart) | %d | %s | %s |\n", len(cold), pct(cold, .5), pct(cold, .99))
	fmt.Printf("| hot (%d channels, read before), right after the cold ones | %d | %s | %s |\n", *hot, len(hotBusy), pct(hotBusy, .5), pct(hotBusy, .99))
	fmt.Printf("| the same, measured by go-redis (`Do().Slice()`) | %d | %s | %s |\n", len(hotGo), pct(hotGo, .5), pct(hotGo, .99))
	fmt.Printf("| hot, once the server is idle | %d | %s | %s |\n", len(hotIdle), pct(hotIdle, .5), pct(hotIdle, .99))
	fmt.Printf("| hot, %d connections at once | %d | %s | %s |\n", *histConc, len(hotConc), pct(hotConc, .5), pct(hotConc, .99))
	fmt.Printf("| then one pipeline of `TGET users` for the page's distinct authors | %d | %s | %s |\n", len(authors), pct(authors, .5), pct(authors, .99))
	fmt.Printf("\nThe cold and the first hot rows ran in the %s after the restart, while the server used %.0f%% of a core (the queries included: the rest is Pebble compacting what the load left); it used under 5%% of a core from %s after the restart.\n",
		busy.Round(time.Millisecond), busyCPU*100, idle.Round(100*time.Millisecond))
	fmt.Printf("\nRestart after kill -9 with %d messages: first PONG after %s, first TQUERY reply after %s; TCOUNT %d (%d inserted, %d refused). After the queries: used_memory %s, peak RSS %s.\n",
		*histN, pong.Round(time.Millisecond), first.Round(time.Millisecond), cnt, *histN, refused, mb(used), mb(s.hwm()))
	s.stop(false)
}

func main() {
	flag.Parse()
	root := *work
	if root == "" {
		var err error
		root, err = os.MkdirTemp("", "lux-tablestier")
		must(err)
		defer os.RemoveAll(root)
	}
	if *luxBin == "" {
		*luxBin = filepath.Join(root, "lux")
		cmd := exec.Command("go", "build", "-o", *luxBin, "./cmd/lux")
		cmd.Stderr = os.Stderr
		must(cmd.Run())
	}
	for _, sec := range strings.Split(*sections, ",") {
		switch sec {
		case "writes":
			writes(root)
		case "history":
			history(root)
		}
	}
}
