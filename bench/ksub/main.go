// Command ksub measures key-change subscriptions (KSUB, docs/LUX-EXTENSIONS.md)
// side by side in one run; see bench/ksub.sh, which builds the binaries.
//
//	set      SET throughput (-c connections sending pipelines of -p SETs of
//	         random keys, -n per run) against, in alternating order each
//	         round: the build before KSUB (-base), this build with no key
//	         subscription anywhere, this build with -subs idle subscribers
//	         (literal patterns no SET touches, then globs watch:<i>:*),
//	         this build with one
//	         subscriber of "*" (every SET delivered), and redis-server
//	         (-redis) for the ratio. Median of -rounds runs.
//	latency  -subs subscriber connections; a writer SETs keys and every
//	         subscriber records the time from just before the SET was sent
//	         to the arrival of its event, p50/p99/max. "fan-out": all
//	         subscribers hold lat:* and one SET every -interval reaches all
//	         of them; "per-key": subscriber i holds lat:i and the writer
//	         SETs lat:0, lat:1, ... every -key-interval, one delivery each.
//	         redis-server gets the same load through keyspace notifications
//	         (PSUBSCRIBE __keyspace@0__:lat:* / SUBSCRIBE
//	         __keyspace@0__:lat:i), its nearest equivalent. Per persistence
//	         mode (-modes): memory, everysec, always (lux waits for the fsync
//	         before it delivers in always mode; Redis's notifications do not).
package main

import (
	"bufio"
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
	"time"

	"github.com/luxdb/lux-go/bench/internal/rawresp"
)

var (
	luxBin    = flag.String("lux", "", "lux binary (this build)")
	baseBin   = flag.String("base", "", "lux binary built before KSUB (empty: not measured)")
	redisBin  = flag.String("redis", "/usr/bin/redis-server", "redis-server binary (empty: not measured)")
	sections  = flag.String("sections", "set,latency", "sections to run")
	n         = flag.Int("n", 1_000_000, "SETs per throughput run")
	conns     = flag.Int("c", 16, "connections of the SET load")
	pipe      = flag.Int("p", 32, "pipeline depth of the SET load")
	keyspace  = flag.Int("keys", 100_000, "distinct keys of the SET load")
	rounds    = flag.Int("rounds", 5, "throughput rounds (each runs every variant once)")
	setModes  = flag.String("set-modes", "memory,everysec", "persistence modes of the set section")
	subs      = flag.Int("subs", 1000, "subscribers")
	writes    = flag.Int("writes", 200, "fan-out writes per latency run")
	interval  = flag.Duration("interval", 50*time.Millisecond, "time between fan-out writes")
	keyWrites = flag.Int("key-writes", 3000, "per-key writes per latency run")
	keyIvl    = flag.Duration("key-interval", time.Millisecond, "time between per-key writes")
	modes     = flag.String("modes", "memory,everysec,always", "persistence modes of the latency section")
	work      = flag.String("workdir", "", "data directory root (default: a temp dir)")
	portBase  = flag.Int("port", 7640, "first port")
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "ksub bench:", err)
		os.Exit(1)
	}
}

type server struct {
	name string
	cmd  *exec.Cmd
	addr string
}

var nextPort int

// start starts kind ("lux", "base" or "redis") in persistence mode mode.
func start(kind, mode string) *server {
	nextPort++
	port := strconv.Itoa(*portBase + nextPort)
	dir, err := os.MkdirTemp(*work, kind+"-"+mode+"-")
	must(err)
	var cmd *exec.Cmd
	switch kind {
	case "redis":
		a := []string{"--port", port, "--save", "", "--dir", dir}
		if mode == "memory" {
			a = append(a, "--appendonly", "no")
		} else {
			a = append(a, "--appendonly", "yes", "--appendfsync", mode)
		}
		cmd = exec.Command(*redisBin, a...)
	default:
		bin := *luxBin
		if kind == "base" {
			bin = *baseBin
		}
		a := []string{"--port", port, "--demo", ""}
		if mode == "memory" {
			a = append(a, "--persistence=false")
		} else {
			a = append(a, "--data-dir", dir, "--appendfsync", mode)
		}
		cmd = exec.Command(bin, a...)
	}
	cmd.Stdout, _ = os.Create(dir + ".log")
	cmd.Stderr = cmd.Stdout
	must(cmd.Start())
	s := &server{name: kind, cmd: cmd, addr: "127.0.0.1:" + port}
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", s.addr); err == nil {
			r := bufio.NewReader(c)
			c.Write(rawresp.Append(nil, "PING"))
			_, err = rawresp.Read(r, nil)
			c.Close()
			if err == nil {
				return s
			}
		}
		if i > 500 {
			must(fmt.Errorf("%s did not start", kind))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) stop() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// conn is a raw RESP connection.
type conn struct {
	c net.Conn
	r *bufio.Reader
}

func dial(addr string) *conn {
	c, err := net.Dial("tcp", addr)
	must(err)
	return &conn{c: c, r: bufio.NewReaderSize(c, 64<<10)}
}

// do sends one command and reads its reply.
func (c *conn) do(args ...string) {
	_, err := c.c.Write(rawresp.Append(nil, args...))
	must(err)
	_, err = rawresp.Read(c.r, nil)
	must(err)
}

// setLoad runs the SET load and returns SETs per second.
func setLoad(addr string) float64 {
	var wg sync.WaitGroup
	per := *n / *conns
	start := time.Now()
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			c := dial(addr)
			defer c.c.Close()
			rng := rand.New(rand.NewPCG(seed, 7))
			buf := make([]byte, 0, 64*(*pipe))
			for done := 0; done < per; done += *pipe {
				buf = buf[:0]
				for j := 0; j < *pipe; j++ {
					buf = rawresp.Append(buf, "SET", "key:"+strconv.Itoa(rng.IntN(*keyspace)), "value-0123456789")
				}
				_, err := c.c.Write(buf)
				must(err)
				for j := 0; j < *pipe; j++ {
					_, err := rawresp.Read(c.r, nil)
					must(err)
				}
			}
		}(uint64(i))
	}
	wg.Wait()
	return float64(per**conns) / time.Since(start).Seconds()
}

// subscribers holds connections with KSUB patterns that drain their events.
type subscribers struct {
	cs       []*conn
	received atomic.Int64
	wg       sync.WaitGroup
}

// subscribe opens k connections to addr; connection i sends the command
// patternOf(i) and then reads (and counts) frames until closed.
func subscribe(addr string, k int, patternOf func(i int) []string) *subscribers {
	s := &subscribers{}
	for i := 0; i < k; i++ {
		c := dial(addr)
		args := patternOf(i)
		c.do(args...)
		s.cs = append(s.cs, c)
	}
	for _, c := range s.cs {
		s.wg.Add(1)
		go func(c *conn) {
			defer s.wg.Done()
			for {
				if _, err := rawresp.Read(c.r, nil); err != nil {
					return
				}
				s.received.Add(1)
			}
		}(c)
	}
	return s
}

func (s *subscribers) close() {
	for _, c := range s.cs {
		c.c.Close()
	}
	s.wg.Wait()
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

func setSection(mode string) {
	fmt.Printf("\n### SET throughput, %s (-c %d -P %d, %d SETs of %d keys per run, median of %d rounds)\n\n",
		mode, *conns, *pipe, *n, *keyspace, *rounds)
	type variant struct {
		name string
		srv  *server
		pre  func() func() // sets up subscribers, returns the teardown
	}
	lux := start("lux", mode)
	defer lux.stop()
	var vs []variant
	if *baseBin != "" {
		base := start("base", mode)
		defer base.stop()
		vs = append(vs, variant{name: "lux before KSUB", srv: base})
	}
	vs = append(vs, variant{name: "lux, no KSUB anywhere", srv: lux})
	vs = append(vs, variant{name: fmt.Sprintf("lux, %d idle KSUB subscribers", *subs), srv: lux, pre: func() func() {
		s := subscribe(lux.addr, *subs, func(i int) []string { return []string{"KSUB", "watch:" + strconv.Itoa(i)} })
		return s.close
	}})
	vs = append(vs, variant{name: fmt.Sprintf("lux, %d idle KSUB subscribers of globs", *subs), srv: lux, pre: func() func() {
		s := subscribe(lux.addr, *subs, func(i int) []string { return []string{"KSUB", "watch:" + strconv.Itoa(i) + ":*"} })
		return s.close
	}})
	vs = append(vs, variant{name: "lux, 1 KSUB * subscriber (every SET delivered)", srv: lux, pre: func() func() {
		s := subscribe(lux.addr, 1, func(int) []string { return []string{"KSUB", "*"} })
		return func() {
			time.Sleep(100 * time.Millisecond)
			fmt.Fprintf(os.Stderr, "  (the * subscriber received %d events)\n", s.received.Load())
			s.close()
		}
	}})
	if *redisBin != "" {
		r := start("redis", mode)
		defer r.stop()
		vs = append(vs, variant{name: "redis-server 7.0.15", srv: r})
	}
	res := make([][]float64, len(vs))
	for round := 0; round < *rounds; round++ {
		// alternate: each round starts at another variant
		for k := range vs {
			i := (k + round) % len(vs)
			v := vs[i]
			var teardown func()
			if v.pre != nil {
				teardown = v.pre()
			}
			ops := setLoad(v.srv.addr)
			if teardown != nil {
				teardown()
			}
			res[i] = append(res[i], ops)
			fmt.Fprintf(os.Stderr, "  %s %s round %d: %.0f SET/s\n", mode, v.name, round+1, ops)
		}
	}
	ref := 0 // the build before KSUB when measured, else this build without subscribers
	redisIdx := -1
	if *redisBin != "" {
		redisIdx = len(vs) - 1
	}
	fmt.Println("| variant | SET/s (median) | min … max | vs " + vs[ref].name + " | vs redis |")
	fmt.Println("|---|---|---|---|---|")
	for i, v := range vs {
		vsRedis := "-"
		if redisIdx >= 0 {
			vsRedis = fmt.Sprintf("%.2f", median(res[i])/median(res[redisIdx]))
		}
		fmt.Printf("| %s | %.0f | %.0f … %.0f | %.3f | %s |\n", v.name, median(res[i]), slices.Min(res[i]), slices.Max(res[i]),
			median(res[i])/median(res[ref]), vsRedis)
	}
}

// latencyRun measures delivery latency to *subs subscribers of srv.
func latencyRun(srv *server, redis, fanout bool) (p50, p99, pmax time.Duration, got, want int) {
	nKeys := *writes
	if !fanout {
		nKeys = *subs
	}
	sent := make([]atomic.Int64, nKeys)
	var mu sync.Mutex
	var lat []time.Duration
	cs := make([]*conn, *subs)
	for i := range cs {
		c := dial(srv.addr)
		var args []string
		switch {
		case redis && fanout:
			args = []string{"PSUBSCRIBE", "__keyspace@0__:lat:*"}
		case redis:
			args = []string{"SUBSCRIBE", "__keyspace@0__:lat:" + strconv.Itoa(i)}
		case fanout:
			args = []string{"KSUB", "lat:*"}
		default:
			args = []string{"KSUB", "lat:" + strconv.Itoa(i)}
		}
		c.do(args...)
		cs[i] = c
	}
	var wg sync.WaitGroup
	var count atomic.Int64
	for _, c := range cs {
		wg.Add(1)
		go func(c *conn) {
			defer wg.Done()
			var mine []time.Duration
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
			for {
				idx := -1
				_, err := rawresp.Read(c.r, func(b []byte) {
					// the key (lat:i) or the channel (__keyspace@0__:lat:i)
					if j := strings.LastIndex(string(b), "lat:"); j >= 0 {
						if v, err := strconv.Atoi(string(b[j+4:])); err == nil {
							idx = v
						}
					}
				})
				if err != nil {
					return
				}
				if idx >= 0 && idx < nKeys {
					mine = append(mine, time.Duration(time.Now().UnixNano()-sent[idx].Load()))
					count.Add(1)
				}
			}
		}(c)
	}
	w := dial(srv.addr)
	total := *writes
	ivl := *interval
	if !fanout {
		total, ivl = *keyWrites, *keyIvl
	}
	t0 := time.Now()
	for i := 0; i < total; i++ {
		if d := time.Until(t0.Add(time.Duration(i) * ivl)); d > 0 {
			time.Sleep(d)
		}
		k := i % nKeys
		sent[k].Store(time.Now().UnixNano())
		w.do("SET", "lat:"+strconv.Itoa(k), "v")
	}
	want = total
	if fanout {
		want = total * *subs
	}
	deadline := time.Now().Add(10 * time.Second)
	for count.Load() < int64(want) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range cs {
		c.c.Close()
	}
	w.c.Close()
	wg.Wait()
	slices.Sort(lat)
	if len(lat) == 0 {
		return 0, 0, 0, 0, want
	}
	return lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1], len(lat), want
}

func latencySection() {
	fmt.Printf("\n### Delivery latency, %d subscribers (from just before the SET is sent to the event's arrival)\n\n", *subs)
	fmt.Printf("fan-out: %d SETs, one every %v, each delivered to all %d subscribers; per-key: %d SETs, one every %v, each to one subscriber.\n\n",
		*writes, *interval, *subs, *keyWrites, *keyIvl)
	fmt.Println("| mode | load | server | p50 | p99 | max | delivered |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, mode := range strings.Split(*modes, ",") {
		for _, fanout := range []bool{true, false} {
			load := "per-key"
			if fanout {
				load = "fan-out"
			}
			kinds := []string{"lux"}
			if *redisBin != "" {
				kinds = append(kinds, "redis")
			}
			for _, kind := range kinds {
				srv := start(kind, mode)
				name := "lux KSUB"
				if kind == "redis" {
					name = "redis 7.0.15 keyspace notifications"
					c := dial(srv.addr)
					c.do("CONFIG", "SET", "notify-keyspace-events", "K$")
					c.c.Close()
				}
				p50, p99, pmax, got, want := latencyRun(srv, kind == "redis", fanout)
				srv.stop()
				fmt.Printf("| %s | %s | %s | %s | %s | %s | %d/%d |\n", mode, load, name, ms(p50), ms(p99), ms(pmax), got, want)
			}
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }

func main() {
	flag.Parse()
	if *luxBin == "" {
		must(fmt.Errorf("-lux is required (bench/ksub.sh builds it)"))
	}
	if *work == "" {
		d, err := os.MkdirTemp("", "ksub-bench-")
		must(err)
		defer os.RemoveAll(d)
		*work = d
	}
	*work, _ = filepath.Abs(*work)
	for _, sec := range strings.Split(*sections, ",") {
		switch sec {
		case "set":
			for _, mode := range strings.Split(*setModes, ",") {
				setSection(mode)
			}
		case "latency":
			latencySection()
		default:
			must(fmt.Errorf("unknown section %q", sec))
		}
	}
}
