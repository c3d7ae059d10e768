// Command vectors measures lux's vectors (docs/LUX-EXTENSIONS.md, "Vectors")
// side by side with redis-server in one run. Redis 7.0 has no vector search:
// the peer figure is VSET's write path against the same payload stored with
// SET on redis-server (the components as one space-separated string).
//
// For each size in -sizes (vectors of -dims components, uniform in [−1, 1]):
//
//	load     -c clients with pipelines of -p (encoded before the clock
//	         starts): VSET into lux
//	         (--appendfsync everysec), SET of the same bytes into redis-server
//	         (--appendonly yes --appendfsync everysec): throughput and ratio
//	graph    time until the HNSW graph holds every vector (INFO
//	         lux_vector_graph_pending reaches 0), measured from the load's start
//	search   -queries random queries VSEARCH … K 10 on one connection (raw
//	         RESP, the server's latency): p50/p99 and recall@10 against exact
//	         search computed here; then the same with -sc connections at once
//	memory   used_memory, lux_vector_index_memory, RSS of both servers
//	restart  kill -9, start: time to the first PONG, to the first VSEARCH
//	         reply (it waits for the vectors to be read) and until the graph
//	         is complete again
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/luxdb/lux-go/bench/internal/proc"
	"github.com/luxdb/lux-go/bench/internal/rawresp"
	"github.com/redis/go-redis/v9"
)

var (
	luxBin    = flag.String("lux", "", "lux binary (default: go build ./cmd/lux)")
	redisBin  = flag.String("redis", "/usr/bin/redis-server", "redis-server binary")
	luxPort   = flag.Int("port", 7640, "lux port")
	redisPort = flag.Int("redis-port", 7641, "redis-server port")
	sizes     = flag.String("sizes", "100000,300000", "vector counts, comma-separated (1000000 for the 1M figure)")
	dims      = flag.Int("dims", 128, "components per vector")
	queries   = flag.Int("queries", 1000, "VSEARCH queries per measurement")
	conc      = flag.Int("c", 8, "loading clients")
	pipe      = flag.Int("p", 32, "commands per pipeline while loading")
	searchC   = flag.Int("sc", 2, "connections of the concurrent search run")
	work      = flag.String("workdir", "", "data directory root (default: a temp dir)")
	restart   = flag.Bool("restart", true, "measure the restart after kill -9 (rebuilds the graph: as long as the load)")
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "vectors:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

type server struct {
	cmd  *exec.Cmd
	addr string
	c    *redis.Client
}

func startProc(bin, addr string, args ...string) *server {
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = nil, nil
	must(cmd.Start())
	s := &server{cmd: cmd, addr: addr, c: redis.NewClient(&redis.Options{Addr: addr, PoolSize: *conc + 4, MaxRetries: -1, ReadTimeout: time.Minute})}
	s.waitPing()
	return s
}

func (s *server) waitPing() time.Duration {
	t0 := time.Now()
	for s.c.Ping(context.Background()).Err() != nil {
		if time.Since(t0) > time.Minute {
			must(fmt.Errorf("%s did not answer PING", s.addr))
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(t0)
}

func startLux(dir string) *server {
	return startProc(*luxBin, "127.0.0.1:"+strconv.Itoa(*luxPort), "--bind", "127.0.0.1", "--port", strconv.Itoa(*luxPort),
		"--data-dir", dir, "--appendfsync", "everysec", "--demo=")
}

func startRedis(dir string) *server {
	return startProc(*redisBin, "127.0.0.1:"+strconv.Itoa(*redisPort), "--bind", "127.0.0.1", "--port", strconv.Itoa(*redisPort),
		"--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "everysec")
}

func (s *server) stop(kill bool) {
	if kill {
		s.cmd.Process.Signal(syscall.SIGKILL)
	} else {
		s.cmd.Process.Signal(syscall.SIGTERM)
	}
	s.cmd.Wait()
	s.c.Close()
}

// rss is VmRSS in bytes.
func (s *server) rss() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// info returns one INFO field as an integer.
func (s *server) info(section, field string) int64 {
	txt, err := s.c.Info(context.Background(), section).Result()
	must(err)
	for _, l := range strings.Split(txt, "\r\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

type dataset struct {
	vecs [][]float32
}

// txt is vector i's components as sent (formatted on the fly: 1M vectors'
// strings would take GBs).
func (d *dataset) txt(i int) []string {
	t := make([]string, len(d.vecs[i]))
	for j, x := range d.vecs[i] {
		t[j] = strconv.FormatFloat(float64(x), 'g', -1, 32)
	}
	return t
}

func makeData(n int, seed uint64) *dataset {
	rng := rand.New(rand.NewPCG(seed, 99))
	d := &dataset{vecs: make([][]float32, n)}
	for i := range d.vecs {
		v := make([]float32, *dims)
		for j := range v {
			v[j] = rng.Float32()*2 - 1
		}
		d.vecs[i] = v
	}
	return d
}

// load sends cmd(i) for i in [0, n) from -c connections in pipelines of -p
// and returns the throughput. The commands are encoded before the clock
// starts, so the client's formatting is not measured.
func load(addr string, n int, cmd func(i int) []string) (float64, time.Time) {
	per := (n + *conc - 1) / *conc
	batches := make([][][]byte, *conc) // per connection, per pipeline
	var enc sync.WaitGroup
	for w := 0; w < *conc; w++ {
		enc.Add(1)
		go func() {
			defer enc.Done()
			lo, hi := w*per, min((w+1)*per, n)
			for i := lo; i < hi; i += *pipe {
				var buf []byte
				for j := i; j < min(i+*pipe, hi); j++ {
					buf = rawresp.Append(buf, cmd(j)...)
				}
				batches[w] = append(batches[w], buf)
			}
		}()
	}
	enc.Wait()
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < *conc; w++ {
		lo, hi := w*per, min((w+1)*per, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			must(err)
			defer conn.Close()
			rd := bufio.NewReaderSize(conn, 1<<16)
			for b, i := 0, lo; i < hi; b, i = b+1, i+*pipe {
				_, err := conn.Write(batches[w][b])
				must(err)
				for j := i; j < min(i+*pipe, hi); j++ {
					_, err := rawresp.Read(rd, nil)
					must(err)
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(t0).Seconds(), t0
}

// exactTop returns the keys of the k best vectors by cosine (score
// descending, key ascending on ties), computed in float64.
func exactTop(d *dataset, q []float32, k int) []string {
	type hit struct {
		i int
		s float32
	}
	var qn float64
	for _, x := range q {
		qn += float64(x) * float64(x)
	}
	qn = math.Sqrt(qn)
	top := make([]hit, 0, k+1)
	for i, v := range d.vecs {
		var dot, vn float64
		for j, x := range v {
			dot += float64(x) * float64(q[j])
			vn += float64(x) * float64(x)
		}
		s := float32(dot / (qn * math.Sqrt(vn)))
		if len(top) == k && s < top[k-1].s {
			continue
		}
		top = append(top, hit{i, s})
		slices.SortFunc(top, func(a, b hit) int {
			if a.s != b.s {
				if a.s > b.s {
					return -1
				}
				return 1
			}
			return strings.Compare(key(a.i), key(b.i))
		})
		if len(top) > k {
			top = top[:k]
		}
	}
	out := make([]string, len(top))
	for i, h := range top {
		out[i] = key(h.i)
	}
	return out
}

func key(i int) string { return "vec:" + strconv.Itoa(i) }

func vsearchArgs(q []float32, k int) []string {
	a := []string{"VSEARCH", strconv.Itoa(len(q))}
	for _, x := range q {
		a = append(a, strconv.FormatFloat(float64(x), 'g', -1, 32))
	}
	return append(a, "K", strconv.Itoa(k))
}

// search runs the queries over conns connections and returns the sorted
// latencies and the keys each query returned.
func search(addr string, qs [][]float32, conns int) ([]time.Duration, [][]string) {
	lat := make([]time.Duration, len(qs))
	got := make([][]string, len(qs))
	var wg sync.WaitGroup
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			must(err)
			defer conn.Close()
			rd := bufio.NewReaderSize(conn, 1<<16)
			for i := w; i < len(qs); i += conns {
				buf := rawresp.Append(nil, vsearchArgs(qs[i], 10)...)
				t0 := time.Now()
				_, err := conn.Write(buf)
				must(err)
				var keys []string
				n := 0
				_, err = rawresp.Read(rd, func(b []byte) {
					if n%2 == 0 {
						keys = append(keys, string(b))
					}
					n++
				})
				must(err)
				lat[i] = time.Since(t0)
				got[i] = keys
			}
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	return lat, got
}

func pct(lat []time.Duration, p float64) string {
	d := lat[min(len(lat)-1, int(float64(len(lat))*p))]
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
}

func recall(got, want [][]string) float64 {
	hit, all := 0, 0
	for i := range want {
		in := map[string]bool{}
		for _, k := range want[i] {
			in[k] = true
		}
		for _, k := range got[i] {
			if in[k] {
				hit++
			}
		}
		all += len(want[i])
	}
	return float64(hit) / float64(all)
}

// waitGraph waits until lux's graphs hold every vector; it returns the
// time since t0.
func waitGraph(s *server, t0 time.Time) time.Duration {
	for s.info("memory", "lux_vector_graph_pending") > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(t0)
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func runSize(root string, n int) {
	logf("== %d vectors of %d dims", n, *dims)
	d := makeData(n, uint64(n))
	ldir := filepath.Join(root, fmt.Sprint("lux-", n))
	rdir := filepath.Join(root, fmt.Sprint("redis-", n))
	must(os.MkdirAll(ldir, 0o755))
	must(os.MkdirAll(rdir, 0o755))

	r := startRedis(rdir)
	logf("redis SET load")
	rSet, _ := load(r.addr, n, func(i int) []string { return []string{"SET", key(i), strings.Join(d.txt(i), " ")} })
	rUsed, rRSS := r.info("memory", "used_memory"), r.rss()
	r.stop(false)

	l := startLux(ldir)
	logf("lux VSET load")
	lSet, t0 := load(l.addr, n, func(i int) []string {
		return append(append([]string{"VSET", key(i), strconv.Itoa(*dims)}, d.txt(i)...), "META", `{"n":"`+strconv.Itoa(i%10)+`"}`)
	})
	loadDur := time.Since(t0)
	logf("lux graph build")
	graph := waitGraph(l, t0)

	rng := rand.New(rand.NewPCG(7, uint64(n)))
	qs := make([][]float32, *queries)
	for i := range qs {
		qs[i] = make([]float32, *dims)
		for j := range qs[i] {
			qs[i][j] = rng.Float32()*2 - 1
		}
	}
	logf("exact answers (%d queries)", len(qs))
	want := make([][]string, len(qs))
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(qs); i += runtime.GOMAXPROCS(0) {
				want[i] = exactTop(d, qs[i], 10)
			}
		}()
	}
	wg.Wait()
	// the search figures are for a server at rest: the load's background
	// work (Pebble's compactions of the meta records) would take CPU from
	// the searches on two cores
	settled := proc.Settle(l.cmd.Process.Pid, 3*time.Minute)
	logf("lux VSEARCH (lux idle after %.1f s)", settled.Seconds())
	search(l.addr, qs[:min(50, len(qs))], 1) // warm-up
	lat1, got1 := search(l.addr, qs, 1)
	latC, gotC := search(l.addr, qs, *searchC)
	lUsed, lIdx, lRSS := l.info("memory", "used_memory"), l.info("memory", "lux_vector_index_memory"), l.rss()

	restartRow := "| restart after kill -9 | not measured (-restart=false) | | |"
	if *restart {
		restartRow = measureRestart(l, ldir, n)
	} else {
		l.stop(false)
	}

	fmt.Printf("\n### %d vectors × %d dims\n\n", n, *dims)
	fmt.Println("| measure | lux | redis-server 7.0 | ratio |")
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| writes/s (-c %d, pipelines of %d): VSET vs SET of the same text | %.0f | %.0f | %.2f |\n", *conc, *pipe, lSet, rSet, lSet/rSet)
	fmt.Printf("| load time | %.1f s | | |\n", loadDur.Seconds())
	fmt.Printf("| HNSW graph complete (from the load's start; none while the flat index serves) | %.1f s | | |\n", graph.Seconds())
	fmt.Printf("| background work after the load (lux's CPU above 5%%) | %.1f s | | |\n", settled.Seconds())
	fmt.Printf("| VSEARCH K 10, 1 connection: p50 / p99 | %s / %s | no vector search | |\n", pct(lat1, 0.5), pct(lat1, 0.99))
	fmt.Printf("| VSEARCH K 10, %d connections: p50 / p99 | %s / %s | | |\n", *searchC, pct(latC, 0.5), pct(latC, 0.99))
	fmt.Printf("| recall@10 vs exact (%d queries) | %.4f (%.4f) | | |\n", len(qs), recall(got1, want), recall(gotC, want))
	fmt.Printf("| used_memory | %s (index %s) | %s | %.2f |\n", mb(lUsed), mb(lIdx), mb(rUsed), float64(lUsed)/float64(rUsed))
	fmt.Printf("| RSS | %s | %s | %.2f |\n", mb(lRSS), mb(rRSS), float64(lRSS)/float64(rRSS))
	fmt.Println(restartRow)
}

// measureRestart kills lux, starts it again on its directory and times the
// first PONG, the first VSEARCH reply and the graph's completion.
func measureRestart(l *server, ldir string, n int) string {
	logf("lux restart")
	l.stop(true)
	t1 := time.Now()
	l = startLux(ldir)
	ping := time.Since(t1)
	first := []any{"VSEARCH", *dims, 1}
	for i := 1; i < *dims; i++ {
		first = append(first, 0)
	}
	_, err := l.c.Do(context.Background(), append(first, "K", 1)...).Result()
	must(err)
	firstSearch := time.Since(t1)
	card, err := l.c.Do(context.Background(), "VCARD").Int64()
	must(err)
	if card != int64(n) {
		must(fmt.Errorf("VCARD after restart %d, want %d", card, n))
	}
	graph2 := waitGraph(l, t1)
	l.stop(false)
	return fmt.Sprintf("| restart after kill -9: first PONG / first VSEARCH reply / graph complete | %.0f ms / %.0f ms / %.1f s | | |",
		float64(ping.Microseconds())/1000, float64(firstSearch.Microseconds())/1000, graph2.Seconds())
}

func main() {
	flag.Parse()
	root := *work
	if root == "" {
		var err error
		root, err = os.MkdirTemp("", "lux-vectors")
		must(err)
		defer os.RemoveAll(root)
	}
	if *luxBin == "" {
		*luxBin = filepath.Join(root, "lux")
		cmd := exec.Command("go", "build", "-o", *luxBin, "./cmd/lux")
		cmd.Stderr = os.Stderr
		must(cmd.Run())
	}
	fmt.Printf("machine: %d CPUs (%s), %s; dims %d; lux --appendfsync everysec, redis-server --appendonly yes --appendfsync everysec\n",
		runtime.NumCPU(), runtime.GOARCH, runtime.Version(), *dims)
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		must(err)
		runSize(root, n)
	}
}
