// Command timeseries benchmarks Lux's time series against the usual way to
// keep a series in plain Redis, a sorted set scored by timestamp (ZADD key ts
// "ts:value", ZRANGEBYSCORE), with redis-server 7.0.15 and lux started by
// this program on loopback in the same run and driven by the same client
// code (a minimal RESP client, pipelined):
//
//  1. ingest of N samples over S series by C connections: TSADD key ts v
//     vs ZADD key ts "ts:v", one sample a command, P commands a pipeline;
//     then the same number again in batches of B samples a command (TSMADD
//     with B triples of one series vs ZADD with B score/member pairs);
//  2. memory per sample after the first ingest: INFO used_memory and the
//     process RSS, each minus its value before the ingest, over N;
//  3. an hourly average over each whole series: TSRANGE key - + AGGREGATION
//     avg 3600000 vs ZRANGEBYSCORE key -inf +inf with the buckets computed
//     by the client, and over every series at once (one TSMRANGE vs a
//     pipeline of S ZRANGEBYSCOREs).
//
// lux runs with persistence (its default appendfsync everysec); Redis with
// --save "" --appendonly no (nothing written to disk), and for the like-for-
// like durable figure once more with --appendonly yes --appendfsync everysec
// (-redis-aof); lux with --persistence=false for reference (-lux-mem). Run from the module
// root: go run ./bench/timeseries [-n 10000000] (see -help).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"github.com/luxdb/lux-go/bench/internal/proc"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/luxdb/lux-go/bench/internal/rawresp"
)

type config struct {
	n, series, conns, pipeline, batch, rounds int
	redisBin, luxBin, work, out               string
	port                                      int
	luxArgs                                   []string
	only                                      string
	luxMem, redisAOF                          bool
}

const (
	baseTS   = 1_700_000_000_000 // ms
	stepMS   = 1000              // one sample a second
	bucketMS = 3_600_000         // hourly buckets
)

func main() {
	var cfg config
	flag.IntVar(&cfg.n, "n", 10_000_000, "samples per ingest phase")
	flag.IntVar(&cfg.series, "series", 10, "series (keys)")
	flag.IntVar(&cfg.conns, "c", 4, "client connections")
	flag.IntVar(&cfg.pipeline, "p", 256, "commands per pipeline")
	flag.IntVar(&cfg.batch, "batch", 100, "samples per command in the batched phase (0: skip it)")
	flag.IntVar(&cfg.rounds, "rounds", 3, "range query rounds over every series")
	flag.StringVar(&cfg.redisBin, "redis", "/usr/bin/redis-server", "redis-server binary")
	flag.StringVar(&cfg.luxBin, "lux", "", "lux binary (default: go build ./cmd/lux)")
	flag.StringVar(&cfg.work, "workdir", "", "directory for data (default: a temp dir, removed)")
	flag.StringVar(&cfg.out, "out", "", "also append the markdown results to this file")
	flag.IntVar(&cfg.port, "port", 7930, "redis port; lux uses port+1, lux without persistence port+2")
	flag.BoolVar(&cfg.luxMem, "lux-mem", true, "also run lux --persistence=false, for reference")
	flag.BoolVar(&cfg.redisAOF, "redis-aof", true, "also run redis with --appendonly yes --appendfsync everysec (port+3)")
	only := flag.String("only", "", "run only this system (redis or lux; the report needs both)")
	luxArgs := flag.String("lux-args", "", "extra lux arguments, space-separated (e.g. \"--pprof 127.0.0.1:7939\")")
	flag.Parse()
	cfg.luxArgs = strings.Fields(*luxArgs)
	cfg.only = *only
	if err := run(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench/timeseries:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

// system is one server under test and how it spells the workload.
type system struct {
	name string
	addr string
	cmd  *exec.Cmd
	// add appends the command storing samples ts[i], v[i] of key.
	add func(dst []byte, key string, ts []int64, v []string) []byte
	// rangeCmd is the command reading one whole series.
	rangeCmd func(key string) []string
	lux      bool
}

type result struct {
	name                  string
	ingest, ingestBatch   float64 // samples/s
	usedBytes, rssBytes   float64 // per sample
	usedBefore, usedAfter int64
	rssBefore, rssAfter   int64
	rangeP50, rangeMean   time.Duration
	allP50                time.Duration
	buckets, bucketsAll   int
	checksum, checksumAll float64
	cpuIngest, cpuIngestB float64 // server CPU seconds
}

func run(cfg *config) error {
	work := cfg.work
	if work == "" {
		d, err := os.MkdirTemp("", "lux-bench-ts-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		work = d
	}
	if cfg.luxBin == "" {
		cfg.luxBin = filepath.Join(work, "lux")
		logf("building lux")
		if out, err := exec.Command("go", "build", "-o", cfg.luxBin, "./cmd/lux").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	redis := &system{name: "redis", addr: "127.0.0.1:" + strconv.Itoa(cfg.port),
		add: func(dst []byte, key string, ts []int64, v []string) []byte {
			args := []string{"ZADD", key}
			for i := range ts {
				t := strconv.FormatInt(ts[i], 10)
				args = append(args, t, t+":"+v[i])
			}
			return rawresp.Append(dst, args...)
		},
		rangeCmd: func(key string) []string { return []string{"ZRANGEBYSCORE", key, "-inf", "+inf"} },
	}
	rdir := filepath.Join(work, "redis")
	os.MkdirAll(rdir, 0o755)
	redis.cmd = exec.Command(cfg.redisBin, "--port", strconv.Itoa(cfg.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", rdir)
	lux := &system{name: "lux", addr: "127.0.0.1:" + strconv.Itoa(cfg.port+1), lux: true,
		add: func(dst []byte, key string, ts []int64, v []string) []byte {
			if len(ts) == 1 {
				return rawresp.Append(dst, "TSADD", key, strconv.FormatInt(ts[0], 10), v[0])
			}
			args := []string{"TSMADD"}
			for i := range ts {
				args = append(args, key, strconv.FormatInt(ts[i], 10), v[i])
			}
			return rawresp.Append(dst, args...)
		},
		rangeCmd: func(key string) []string {
			return []string{"TSRANGE", key, "-", "+", "AGGREGATION", "avg", strconv.Itoa(bucketMS)}
		},
	}
	os.RemoveAll(filepath.Join(work, "lux-data"))
	lux.cmd = exec.Command(cfg.luxBin, append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(cfg.port + 1),
		"--data-dir", filepath.Join(work, "lux-data"), "--appendfsync", "everysec", "--demo", ""}, cfg.luxArgs...)...)
	var results []result
	// for reference: lux without persistence (what the durable store costs)
	luxMem := &system{name: "lux-mem", addr: "127.0.0.1:" + strconv.Itoa(cfg.port+2), lux: true, add: lux.add, rangeCmd: lux.rangeCmd}
	luxMem.cmd = exec.Command(cfg.luxBin, append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(cfg.port + 2),
		"--persistence=false", "--demo", ""}, cfg.luxArgs...)...)
	// the durable peer: Redis writing its AOF, fsynced every second as lux is
	redisAOF := &system{name: "redis-aof", addr: "127.0.0.1:" + strconv.Itoa(cfg.port+3), add: redis.add, rangeCmd: redis.rangeCmd}
	adir := filepath.Join(work, "redis-aof")
	os.MkdirAll(adir, 0o755)
	redisAOF.cmd = exec.Command(cfg.redisBin, "--port", strconv.Itoa(cfg.port+3), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--dir", adir)
	systems := []*system{redis, lux}
	if cfg.luxMem {
		systems = append(systems, luxMem)
	}
	if cfg.redisAOF {
		systems = append(systems, redisAOF)
	}
	for _, s := range systems {
		if cfg.only != "" && cfg.only != s.name {
			continue
		}
		logf("starting %s", s.name)
		logFile, _ := os.Create(filepath.Join(work, s.name+".log"))
		s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
		if err := s.cmd.Start(); err != nil {
			return err
		}
		if err := proc.WaitTCP(s.addr, 30*time.Second); err != nil {
			return err
		}
		r, err := benchSystem(cfg, s)
		s.cmd.Process.Signal(syscall.SIGTERM)
		s.cmd.Wait()
		logFile.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		results = append(results, r)
	}
	if len(results) < 2 {
		return nil
	}
	md := report(cfg, results)
	fmt.Print(md)
	if cfg.out != "" {
		f, err := os.OpenFile(cfg.out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		f.WriteString(md)
	}
	return nil
}

func seriesKey(prefix string, i int) string { return fmt.Sprintf("%s:sensor:%03d", prefix, i) }

// value is sample j's value: two decimals, as a sensor would report.
func value(j int) string {
	x := (j*7919)%100000 - 30000
	return strconv.FormatFloat(float64(x)/100, 'f', -1, 64)
}

func benchSystem(cfg *config, s *system) (result, error) {
	r := result{name: s.name}
	c, err := dial(s.addr)
	if err != nil {
		return r, err
	}
	defer c.close()
	pid := s.cmd.Process.Pid
	r.usedBefore = usedMemory(c)
	r.rssBefore = proc.RSS(pid)

	cpu0 := proc.CPU(pid)
	d, err := ingest(cfg, s, "a", 1)
	if err != nil {
		return r, err
	}
	r.ingest = float64(cfg.n) / d.Seconds()
	r.cpuIngest = proc.CPU(pid) - cpu0
	logf("%s: ingest %d samples in %v: %.0f samples/s", s.name, cfg.n, d.Round(time.Millisecond), r.ingest)
	time.Sleep(2 * time.Second) // lux: the write buffers reach Pebble
	r.usedAfter = usedMemory(c)
	r.rssAfter = proc.RSS(pid)
	r.usedBytes = float64(r.usedAfter-r.usedBefore) / float64(cfg.n)
	r.rssBytes = float64(r.rssAfter-r.rssBefore) / float64(cfg.n)
	logf("%s: used_memory %+.1f B/sample, RSS %+.1f B/sample", s.name, r.usedBytes, r.rssBytes)
	if s.lux {
		// label the series (the last sample is written again, unchanged)
		// so that TSMRANGE selects them through the label index
		for i := 0; i < cfg.series; i++ {
			j := cfg.n/cfg.series - 1
			if _, err := c.do("TSADD", seriesKey("a", i), strconv.FormatInt(baseTS+int64(j)*stepMS, 10), value(j), "LABELS", "kind", "a"); err != nil {
				return r, err
			}
		}
	}

	// range queries with hourly averages, per series and over all
	var lats []time.Duration
	for round := 0; round < cfg.rounds; round++ {
		for i := 0; i < cfg.series; i++ {
			start := time.Now()
			n, sum, err := rangeAvg(c, s, seriesKey("a", i))
			if err != nil {
				return r, err
			}
			lats = append(lats, time.Since(start))
			r.buckets, r.checksum = n, sum
		}
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	var total time.Duration
	for _, l := range lats {
		total += l
	}
	r.rangeP50, r.rangeMean = lats[len(lats)/2], total/time.Duration(len(lats))
	var alls []time.Duration
	for round := 0; round < cfg.rounds; round++ {
		start := time.Now()
		n, sum, err := rangeAll(c, cfg, s)
		if err != nil {
			return r, err
		}
		alls = append(alls, time.Since(start))
		r.bucketsAll, r.checksumAll = n, sum
	}
	sort.Slice(alls, func(i, j int) bool { return alls[i] < alls[j] })
	r.allP50 = alls[len(alls)/2]
	logf("%s: hourly avg of one series p50 %v (%d buckets), of all series %v", s.name, r.rangeP50, r.buckets, r.allP50)

	if cfg.batch > 0 {
		cpu0 := proc.CPU(pid)
		d, err := ingest(cfg, s, "b", cfg.batch)
		if err != nil {
			return r, err
		}
		r.ingestBatch = float64(cfg.n) / d.Seconds()
		r.cpuIngestB = proc.CPU(pid) - cpu0
		logf("%s: batched ingest (%d a command) %.0f samples/s", s.name, cfg.batch, r.ingestBatch)
	}
	return r, nil
}

// ingest writes cfg.n samples over cfg.series keys from cfg.conns
// connections, batch samples of one series a command.
func ingest(cfg *config, s *system, prefix string, batch int) (time.Duration, error) {
	perSeries := cfg.n / cfg.series
	var wg sync.WaitGroup
	errs := make([]error, cfg.conns)
	start := time.Now()
	for w := 0; w < cfg.conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dial(s.addr)
			if err != nil {
				errs[w] = err
				return
			}
			defer c.close()
			var mine []int
			for i := w; i < cfg.series; i += cfg.conns {
				mine = append(mine, i)
			}
			if len(mine) == 0 {
				return
			}
			keys := make([]string, len(mine))
			for k, i := range mine {
				keys[k] = seriesKey(prefix, i)
			}
			ts := make([]int64, batch)
			vs := make([]string, batch)
			var buf []byte
			pending := 0
			// samples j of every series of this connection, interleaved
			for j := 0; j < perSeries; j += batch {
				m := min(batch, perSeries-j)
				for k := range keys {
					for x := 0; x < m; x++ {
						ts[x] = baseTS + int64(j+x)*stepMS
						vs[x] = value(j + x)
					}
					buf = s.add(buf, keys[k], ts[:m], vs[:m])
					pending++
					if pending == cfg.pipeline {
						if err := c.roundTrip(buf, pending); err != nil {
							errs[w] = err
							return
						}
						buf, pending = buf[:0], 0
					}
				}
			}
			if pending > 0 {
				errs[w] = c.roundTrip(buf, pending)
			}
		}()
	}
	wg.Wait()
	return time.Since(start), errors.Join(errs...)
}

// rangeAvg reads one whole series as hourly averages: lux aggregates, the
// client does it for Redis. It returns the bucket count and the sum of the
// averages (compared between the systems).
func rangeAvg(c *conn, s *system, key string) (int, float64, error) {
	c.w = rawresp.Append(c.w[:0], s.rangeCmd(key)...)
	if _, err := c.nc.Write(c.w); err != nil {
		return 0, 0, err
	}
	return readRange(c, s)
}

func readRange(c *conn, s *system) (int, float64, error) {
	if s.lux {
		n, sum := 0, 0.0
		var err error
		_, rerr := rawresp.Read(c.rd, func(b []byte) {
			v, e := strconv.ParseFloat(string(b), 64)
			if e != nil {
				err = e
			}
			sum += v
			n++
		})
		return n, sum, errors.Join(rerr, err)
	}
	var agg bucketAgg
	var err error
	_, rerr := rawresp.Read(c.rd, func(b []byte) {
		i := bytes.IndexByte(b, ':')
		if i < 0 {
			err = fmt.Errorf("bad member %q", b)
			return
		}
		ts, e1 := strconv.ParseInt(string(b[:i]), 10, 64)
		v, e2 := strconv.ParseFloat(string(b[i+1:]), 64)
		if e1 != nil || e2 != nil {
			err = fmt.Errorf("bad member %q", b)
			return
		}
		agg.add(ts, v)
	})
	n, sum := agg.finish()
	return n, sum, errors.Join(rerr, err)
}

// rangeAll reads every series as hourly averages: one TSMRANGE on lux, a
// pipeline of ZRANGEBYSCOREs on Redis.
func rangeAll(c *conn, cfg *config, s *system) (int, float64, error) {
	if s.lux {
		c.w = rawresp.Append(c.w[:0], "TSMRANGE", "-", "+", "FILTER", "kind=a", "AGGREGATION", "avg", strconv.Itoa(bucketMS))
		if _, err := c.nc.Write(c.w); err != nil {
			return 0, 0, err
		}
		// [key, [[kind, a]], samples] per series: the other bulk
		// strings are the bucket averages
		n, sum := 0, 0.0
		_, err := rawresp.Read(c.rd, func(b []byte) {
			if bytes.HasPrefix(b, []byte("a:sensor:")) || string(b) == "kind" || string(b) == "a" {
				return
			}
			if v, e := strconv.ParseFloat(string(b), 64); e == nil {
				sum += v
				n++
			}
		})
		return n, sum, err
	}
	c.w = c.w[:0]
	for i := 0; i < cfg.series; i++ {
		c.w = rawresp.Append(c.w, s.rangeCmd(seriesKey("a", i))...)
	}
	if _, err := c.nc.Write(c.w); err != nil {
		return 0, 0, err
	}
	n, sum := 0, 0.0
	for i := 0; i < cfg.series; i++ {
		k, x, err := readRange(c, s)
		if err != nil {
			return 0, 0, err
		}
		n, sum = n+k, sum+x
	}
	return n, sum, nil
}

// bucketAgg averages samples arriving in timestamp order per epoch-aligned bucket.
type bucketAgg struct {
	cur     int64
	sum     float64
	cnt     int
	n       int
	total   float64
	started bool
}

func (a *bucketAgg) add(ts int64, v float64) {
	k := ts / bucketMS
	if a.started && k != a.cur {
		a.flush()
	}
	a.cur, a.started = k, true
	a.sum += v
	a.cnt++
}

func (a *bucketAgg) flush() {
	if a.cnt > 0 {
		a.total += a.sum / float64(a.cnt)
		a.n++
	}
	a.sum, a.cnt = 0, 0
}

func (a *bucketAgg) finish() (int, float64) {
	a.flush()
	return a.n, a.total
}

// ---- a minimal pipelined RESP connection ----

type conn struct {
	nc net.Conn
	rd *bufio.Reader
	w  []byte
}

func dial(addr string) (*conn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &conn{nc: nc, rd: bufio.NewReaderSize(nc, 1<<16)}, nil
}

func (c *conn) close() { c.nc.Close() }

// roundTrip sends buf (n commands) and reads n replies, failing on an error reply.
func (c *conn) roundTrip(buf []byte, n int) error {
	if _, err := c.nc.Write(buf); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if _, err := rawresp.Read(c.rd, nil); err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) do(args ...string) (string, error) {
	c.w = rawresp.Append(c.w[:0], args...)
	if _, err := c.nc.Write(c.w); err != nil {
		return "", err
	}
	var out strings.Builder
	_, err := rawresp.Read(c.rd, func(b []byte) { out.Write(b) })
	return out.String(), err
}

func usedMemory(c *conn) int64 {
	info, err := c.do("INFO", "memory")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

func report(cfg *config, rs []result) string {
	var b strings.Builder
	load, _ := os.ReadFile("/proc/loadavg")
	rev := "unknown"
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		rev = strings.TrimSpace(string(out))
	}
	fmt.Fprintf(&b, "\nRun %s, lux at %s, %d cores; load average at the end: %s", time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		rev, runtime.NumCPU(), strings.TrimSpace(string(load)))
	fmt.Fprintf(&b, "\n%d samples over %d series (one a second each), %d connections, %d commands a pipeline\n\n",
		cfg.n, cfg.series, cfg.conns, cfg.pipeline)
	red, lux := rs[0], rs[1]
	ratio := func(a, b float64) string { return fmt.Sprintf("%.2f", a/b) }
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	fmt.Fprintf(&b, "| measure | redis (zset) | lux (timeseries) | lux/redis | goal |\n|---|---:|---:|---:|---|\n")
	fmt.Fprintf(&b, "| ingest, 1 sample a command (samples/s) | %.0f | %.0f | %s | ≥ 2: %s |\n", red.ingest, lux.ingest, ratio(lux.ingest, red.ingest), met(lux.ingest >= 2*red.ingest))
	fmt.Fprintf(&b, "| server CPU for it (µs/sample) | %.2f | %.2f | %s | |\n", red.cpuIngest*1e6/float64(cfg.n), lux.cpuIngest*1e6/float64(cfg.n), ratio(lux.cpuIngest, red.cpuIngest))
	if cfg.batch > 0 {
		fmt.Fprintf(&b, "| ingest, %d samples a command (samples/s) | %.0f | %.0f | %s | |\n", cfg.batch, red.ingestBatch, lux.ingestBatch, ratio(lux.ingestBatch, red.ingestBatch))
		fmt.Fprintf(&b, "| server CPU for it (µs/sample) | %.2f | %.2f | %s | |\n", red.cpuIngestB*1e6/float64(cfg.n), lux.cpuIngestB*1e6/float64(cfg.n), ratio(lux.cpuIngestB, red.cpuIngestB))
	}
	fmt.Fprintf(&b, "| used_memory per sample (bytes) | %.1f | %.1f | %s | ≤ 0.2: %s |\n", red.usedBytes, lux.usedBytes, ratio(lux.usedBytes, red.usedBytes), met(lux.usedBytes <= 0.2*red.usedBytes))
	fmt.Fprintf(&b, "| RSS per sample (bytes) | %.1f | %.1f | %s | ≤ 0.2: %s |\n", red.rssBytes, lux.rssBytes, ratio(lux.rssBytes, red.rssBytes), met(lux.rssBytes <= 0.2*red.rssBytes))
	fmt.Fprintf(&b, "| hourly avg of one series of %d samples, p50 (ms) | %.1f | %.1f | %s | |\n", cfg.n/cfg.series, ms(red.rangeP50), ms(lux.rangeP50), ratio(ms(lux.rangeP50), ms(red.rangeP50)))
	fmt.Fprintf(&b, "| same, mean (ms) | %.1f | %.1f | %s | |\n", ms(red.rangeMean), ms(lux.rangeMean), ratio(ms(lux.rangeMean), ms(red.rangeMean)))
	fmt.Fprintf(&b, "| hourly avg of all %d samples, p50 (ms) | %.1f | %.1f | %s | |\n", cfg.n, ms(red.allP50), ms(lux.allP50), ratio(ms(lux.allP50), ms(red.allP50)))
	for _, a := range rs[2:] {
		if a.name != "redis-aof" {
			continue
		}
		fmt.Fprintf(&b, "\nLike for like, durable: redis with --appendonly yes --appendfsync everysec in the same run: %.0f samples/s (%.2f µs server CPU a sample) one a command, lux/redis %.2f; %.0f samples/s (%.2f µs) %d a command, lux/redis %.2f.\n",
			a.ingest, a.cpuIngest*1e6/float64(cfg.n), lux.ingest/a.ingest, a.ingestBatch, a.cpuIngestB*1e6/float64(cfg.n), cfg.batch, lux.ingestBatch/a.ingestBatch)
	}
	for _, m := range rs[2:] {
		if m.name != "lux-mem" {
			continue
		}
		fmt.Fprintf(&b, "\nFor reference, lux with --persistence=false in the same run: %.0f samples/s (%.2f µs server CPU a sample) one a command, %.0f samples/s (%.2f µs) %d a command; used_memory %.1f B/sample, RSS %.1f B/sample; hourly avg of one series p50 %.1f ms.\n",
			m.ingest, m.cpuIngest*1e6/float64(cfg.n), m.ingestBatch, m.cpuIngestB*1e6/float64(cfg.n), cfg.batch, m.usedBytes, m.rssBytes, ms(m.rangeP50))
	}
	fmt.Fprintf(&b, "\nBuckets of one series: redis %d, lux %d; sum of the averages: redis %.6g, lux %.6g (they must agree).\n",
		red.buckets, lux.buckets, red.checksum, lux.checksum)
	fmt.Fprintf(&b, "All series: redis %d buckets (sum %.6g), lux %d (sum %.6g).\n", red.bucketsAll, red.checksumAll, lux.bucketsAll, lux.checksumAll)
	fmt.Fprintf(&b, "used_memory before/after: redis %d/%d, lux %d/%d; RSS before/after: redis %d/%d, lux %d/%d bytes.\n",
		red.usedBefore, red.usedAfter, lux.usedBefore, lux.usedAfter, red.rssBefore, red.rssAfter, lux.rssBefore, lux.rssAfter)
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
