// Command tracking measures GET throughput with CLIENT TRACKING off and on
// (client-side caching, RESP3 invalidation pushes) on lux and on
// redis-server 7.0.15, in the same run, both without persistence.
//
// Each measurement: -keys keys are set; -c reader connections (HELLO 3,
// then CLIENT TRACKING on when tracking) send pipelines of -p GETs of
// random keys for -d; one writer connection SETs a random key every -w
// meanwhile, so tracked keys are invalidated. It prints GETs/s, the server's
// CPU per GET (user+system from /proc) and the invalidations the readers
// received, per server and mode, with lux/redis ratios.
//
//	go run ./bench/tracking [-lux /tmp/lux] [-d 5s] [-c 8] [-p 32]
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
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luxdb/lux-go/bench/internal/proc"
	"github.com/luxdb/lux-go/bench/internal/rawresp"
)

var (
	luxBin    = flag.String("lux", "", "lux binary (default: go build ./cmd/lux)")
	redisBin  = flag.String("redis", "/usr/bin/redis-server", "redis-server binary")
	port      = flag.Int("port", 7650, "redis port; lux uses port+1")
	nkeys     = flag.Int("keys", 10000, "keys")
	conns     = flag.Int("c", 8, "reader connections")
	pipe      = flag.Int("p", 32, "GETs a pipeline")
	dur       = flag.Duration("d", 5*time.Second, "time per measurement")
	writeEach = flag.Duration("w", time.Millisecond, "the writer's pause between SETs")
)

type result struct {
	gets, pushes int64
	cpu          float64 // server CPU seconds
	secs         float64
}

func main() {
	flag.Parse()
	work, err := os.MkdirTemp("", "lux-bench-tracking-")
	must(err)
	defer os.RemoveAll(work)
	if *luxBin == "" {
		*luxBin = filepath.Join(work, "lux")
		out, err := exec.Command("go", "build", "-o", *luxBin, "./cmd/lux").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
			os.Exit(1)
		}
	}
	servers := []struct {
		name string
		cmd  *exec.Cmd
		addr string
	}{
		{"redis", exec.Command(*redisBin, "--port", strconv.Itoa(*port), "--bind", "127.0.0.1", "--save", "",
			"--appendonly", "no", "--dir", work), "127.0.0.1:" + strconv.Itoa(*port)},
		{"lux", exec.Command(*luxBin, "--port", strconv.Itoa(*port+1), "--bind", "127.0.0.1",
			"--persistence=false", "--demo="), "127.0.0.1:" + strconv.Itoa(*port+1)},
	}
	res := map[string]result{}
	for _, s := range servers {
		must(s.cmd.Start())
		must(proc.WaitTCP(s.addr, 30*time.Second))
		load(s.addr)
		for _, tracking := range []bool{false, true} {
			r := measure(s.addr, s.cmd.Process.Pid, tracking)
			res[fmt.Sprint(s.name, tracking)] = r
		}
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
	fmt.Printf("\n%d keys, %d reader connections (RESP3), pipelines of %d GETs, one writer SETting a random key every %v; %v per measurement\n\n",
		*nkeys, *conns, *pipe, *writeEach, *dur)
	fmt.Println("| tracking | redis GETs/s | lux GETs/s | lux/redis | redis CPU µs/GET | lux CPU µs/GET | invalidations received: redis / lux |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---|")
	for _, tr := range []bool{false, true} {
		r, l := res[fmt.Sprint("redis", tr)], res[fmt.Sprint("lux", tr)]
		rr, lr := float64(r.gets)/r.secs, float64(l.gets)/l.secs
		name := "off"
		if tr {
			name = "on"
		}
		fmt.Printf("| %s | %.0f | %.0f | %.2f | %.2f | %.2f | %d / %d |\n", name, rr, lr, lr/rr,
			r.cpu*1e6/float64(r.gets), l.cpu*1e6/float64(l.gets), r.pushes, l.pushes)
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/tracking:", err)
		os.Exit(1)
	}
}

func key(i int) string { return "key:" + strconv.Itoa(i) }

func load(addr string) {
	c, err := net.Dial("tcp", addr)
	must(err)
	defer c.Close()
	rd := bufio.NewReader(c)
	var buf []byte
	for i := 0; i < *nkeys; i++ {
		buf = rawresp.Append(buf, "SET", key(i), "value-"+strconv.Itoa(i))
	}
	_, err = c.Write(buf)
	must(err)
	for i := 0; i < *nkeys; i++ {
		_, err := rawresp.Read(rd, nil)
		must(err)
	}
}

func measure(addr string, pid int, tracking bool) result {
	var gets, pushes atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < *conns; w++ {
		c, err := net.Dial("tcp", addr)
		must(err)
		rd := bufio.NewReaderSize(c, 1<<16)
		setup := rawresp.Append(nil, "HELLO", "3")
		if tracking {
			setup = rawresp.Append(setup, "CLIENT", "TRACKING", "on")
		}
		_, err = c.Write(setup)
		must(err)
		n := 1
		if tracking {
			n = 2
		}
		for i := 0; i < n; i++ {
			_, err := rawresp.Read(rd, nil)
			must(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var buf []byte
			for {
				select {
				case <-stop:
					return
				default:
				}
				buf = buf[:0]
				for i := 0; i < *pipe; i++ {
					buf = rawresp.Append(buf, "GET", key(rng.IntN(*nkeys)))
				}
				if _, err := c.Write(buf); err != nil {
					return
				}
				for got := 0; got < *pipe; {
					// an invalidation push may come between replies
					if b, _ := rd.Peek(1); len(b) == 1 && b[0] == '>' {
						if _, err := rawresp.Read(rd, nil); err != nil {
							return
						}
						pushes.Add(1)
						continue
					}
					if _, err := rawresp.Read(rd, nil); err != nil {
						return
					}
					got++
				}
				gets.Add(int64(*pipe))
			}
		}()
	}
	wg.Add(1)
	go func() { // the writer
		defer wg.Done()
		c, err := net.Dial("tcp", addr)
		must(err)
		defer c.Close()
		rd := bufio.NewReader(c)
		rng := rand.New(rand.NewPCG(99, 1))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Write(rawresp.Append(nil, "SET", key(rng.IntN(*nkeys)), "new")); err != nil {
				return
			}
			if _, err := rawresp.Read(rd, nil); err != nil {
				return
			}
			time.Sleep(*writeEach)
		}
	}()
	cpu0, t0 := proc.CPU(pid), time.Now()
	time.Sleep(*dur)
	g, p := gets.Load(), pushes.Load()
	cpu, secs := proc.CPU(pid)-cpu0, time.Since(t0).Seconds()
	close(stop)
	wg.Wait()
	return result{gets: g, pushes: p, cpu: cpu, secs: secs}
}
