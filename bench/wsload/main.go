// Command wsload is a load generator for the chat demo's WebSocket
// protocol (docs/DEMO.md). Clients log in, join channels and send at a
// fixed total rate; every message carries its send time, and every other
// client in the channel measures send-to-receipt latency when it arrives.
// The server (lux with its demo) and the clients run on the same machine;
// the CPU time of each is reported, and for the idle scenario the server's
// RSS per connected client.
//
//	go build -o /tmp/lux ./cmd/lux
//	go run ./bench/wsload -lux /tmp/lux -scenario fanout100   # 1,000 clients, 100 channels, 500 sends/s
//	go run ./bench/wsload -lux /tmp/lux -scenario fanout10    # 1,000 clients, 10 channels, 300 sends/s
//	go run ./bench/wsload -lux /tmp/lux -scenario idle        # 10,000 idle clients: RSS per client
//	go run ./bench/wsload -url http://127.0.0.1:8080 -pid $(pidof lux) -clients 50 -channels 5 -rate 20 -duration 5s
//
// Each user may send 5 messages per 10 s (the demo's rate limit), so a
// scenario's rate must stay within clients/2 per second; rejected sends are
// counted and reported.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/luxdb/lux-go/bench/internal/proc"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

type scenario struct {
	clients, channels int
	rate              float64 // sends per second, all clients together
	idle              bool
}

var scenarios = map[string]scenario{
	"fanout100": {clients: 1000, channels: 100, rate: 500},
	"fanout10":  {clients: 1000, channels: 10, rate: 300},
	"idle":      {clients: 10000, channels: 10, idle: true},
}

func main() {
	luxBin := flag.String("lux", "", "start this lux binary (temp data dir, free ports) and measure it")
	base := flag.String("url", "", "use the demo at this URL instead of starting lux")
	pid := flag.Int("pid", 0, "with -url: the server's pid, for its CPU and RSS")
	name := flag.String("scenario", "", "fanout100, fanout10 or idle (sets the next four)")
	clients := flag.Int("clients", 100, "connected clients")
	channels := flag.Int("channels", 10, "channels (client i joins channel i mod channels)")
	rate := flag.Float64("rate", 50, "sends per second, all clients together")
	idle := flag.Bool("idle", false, "send nothing; report RSS per connected client")
	duration := flag.Duration("duration", 30*time.Second, "measured time")
	warmup := flag.Duration("warmup", 3*time.Second, "sending before the measurement starts")
	parallel := flag.Int("connect-parallel", 64, "clients connecting and logging in at once")
	flag.Parse()

	sc := scenario{clients: *clients, channels: *channels, rate: *rate, idle: *idle}
	if *name != "" {
		var ok bool
		if sc, ok = scenarios[*name]; !ok {
			fail("unknown scenario %q", *name)
		}
	}
	if !sc.idle && sc.rate > float64(sc.clients)/2 {
		fail("rate %.0f/s exceeds the rate limit of %d clients (5 per 10 s each)", sc.rate, sc.clients)
	}
	if *luxBin != "" {
		u, p, stop := startLux(*luxBin)
		defer stop()
		*base, *pid = u, p
	}
	if *base == "" {
		fail("give -lux BIN or -url URL")
	}
	r := &run{base: strings.TrimRight(*base, "/"), pid: *pid, sc: sc, id: strconv.FormatInt(time.Now().Unix()%100000, 36) + strconv.Itoa(rand.IntN(1000))}
	r.main(*duration, *warmup, *parallel)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "wsload: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "wsload: "+format+"\n", args...)
}

// startLux runs lux in memory-less durable mode on free ports with the demo.
func startLux(bin string) (url string, pid int, stop func()) {
	dir, err := os.MkdirTemp("", "wsload-")
	if err != nil {
		fail("%v", err)
	}
	port, web := freePort(), freePort()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--data-dir", filepath.Join(dir, "data"), "--demo", "127.0.0.1:"+strconv.Itoa(web))
	logFile, _ := os.Create(filepath.Join(dir, "lux.log"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		fail("starting %s: %v", bin, err)
	}
	url = "http://127.0.0.1:" + strconv.Itoa(web)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			fail("lux did not serve the demo; log in %s", dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
	logf("lux pid %d, demo %s, data and log in %s", cmd.Process.Pid, url, dir)
	return url, cmd.Process.Pid, func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		os.RemoveAll(dir)
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("%v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type run struct {
	base string
	pid  int
	sc   scenario
	id   string

	measuring atomic.Bool
	sent      atomic.Int64
	limited   atomic.Int64
	otherErrs atomic.Int64
}

type client struct {
	r       *run
	i       int
	c       *websocket.Conn
	userID  float64
	channel float64
	frames  chan map[string]any // frames other than measured messages
	mu      sync.Mutex
	lat     []time.Duration // send-to-receipt of other clients' messages
}

const textPrefix = "lt "

func (r *run) dial(ctx context.Context, i int) (*client, error) {
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.base, "http")+"/ws",
		&websocket.DialOptions{Subprotocols: []string{"lux-chat.v1"}})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	cl := &client{r: r, i: i, c: c, frames: make(chan map[string]any, 64)}
	go cl.read()
	return cl, nil
}

// read decodes frames; message frames of others are measured here, the
// rest goes to frames (dropped when nobody waits for them).
func (cl *client) read() {
	defer close(cl.frames)
	for {
		_, b, err := cl.c.Read(context.Background())
		if err != nil {
			return
		}
		now := time.Now()
		if i := strings.Index(string(b), `"text":"`+textPrefix); i >= 0 {
			var f struct {
				Message struct {
					Text string `json:"text"`
					User struct {
						ID float64 `json:"id"`
					} `json:"user"`
				} `json:"message"`
				Type string `json:"type"`
			}
			if json.Unmarshal(b, &f) == nil && f.Type == "message" {
				if f.Message.User.ID != cl.userID && cl.r.measuring.Load() {
					if ns, err := strconv.ParseInt(strings.Fields(strings.TrimPrefix(f.Message.Text, textPrefix))[0], 10, 64); err == nil {
						cl.mu.Lock()
						cl.lat = append(cl.lat, now.Sub(time.Unix(0, ns)))
						cl.mu.Unlock()
					}
				}
				continue
			}
		}
		var f map[string]any
		if json.Unmarshal(b, &f) != nil {
			continue
		}
		if f["type"] == "error" {
			if f["code"] == "rate_limited" {
				cl.r.limited.Add(1)
			} else {
				cl.r.otherErrs.Add(1)
			}
		}
		select {
		case cl.frames <- f:
		default:
		}
	}
}

func (cl *client) send(v any) error {
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return cl.c.Write(ctx, websocket.MessageText, b)
}

func (cl *client) expect(typ string) (map[string]any, error) {
	timeout := time.After(60 * time.Second)
	for {
		select {
		case f, ok := <-cl.frames:
			if !ok {
				return nil, errors.New("socket closed")
			}
			if f["type"] == typ {
				return f, nil
			}
			if f["type"] == "error" && (f["ref"] != nil || f["code"] == "flood") {
				return nil, fmt.Errorf("error frame: %v", f)
			}
		case <-timeout:
			return nil, fmt.Errorf("no %s frame within 60s", typ)
		}
	}
}

func (cl *client) login() error {
	if err := cl.send(map[string]any{"type": "login", "name": fmt.Sprintf("w%s_%d", cl.r.id, cl.i), "color": "#1c7ed6"}); err != nil {
		return err
	}
	f, err := cl.expect("login_ok")
	if err != nil {
		return err
	}
	cl.userID = f["user"].(map[string]any)["id"].(float64)
	_, err = cl.expect("channels")
	return err
}

func (cl *client) join(ch float64) error {
	cl.channel = ch
	if err := cl.send(map[string]any{"type": "join", "channel": ch}); err != nil {
		return err
	}
	_, err := cl.expect("history")
	return err
}

func (r *run) main(duration, warmup time.Duration, parallel int) {
	ctx := context.Background()
	rssBefore := proc.RSS(r.pid) >> 10
	logf("%d clients, %d channels, %.0f sends/s, idle=%v (run %s)", r.sc.clients, r.sc.channels, r.sc.rate, r.sc.idle, r.id)

	// channels, made by a first client
	first, err := r.dial(ctx, -1)
	if err != nil {
		fail("dial: %v", err)
	}
	if err := first.login(); err != nil {
		fail("login: %v", err)
	}
	chans := make([]float64, r.sc.channels)
	for k := range chans {
		time.Sleep(60 * time.Millisecond) // within the per-socket frame limit (20/s)
		first.send(map[string]any{"type": "create_channel", "name": fmt.Sprintf("wl-%s-%d", r.id, k)})
		f, err := first.expect("channel_created")
		if err != nil {
			fail("create channel: %v", err)
		}
		chans[k] = f["channel"].(map[string]any)["id"].(float64)
	}
	first.c.Close(websocket.StatusNormalClosure, "")

	start := time.Now()
	clients := make([]*client, r.sc.clients)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var connErr atomic.Value
	for i := range clients {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			cl, err := r.dial(ctx, i)
			if err == nil {
				err = cl.login()
			}
			if err == nil {
				err = cl.join(chans[i%len(chans)])
			}
			if err != nil {
				connErr.Store(fmt.Errorf("client %d: %w", i, err))
				return
			}
			clients[i] = cl
		}()
	}
	wg.Wait()
	if e := connErr.Load(); e != nil {
		fail("%v", e)
	}
	logf("connected, logged in and joined in %s (%.0f clients/s)", time.Since(start).Round(time.Millisecond),
		float64(len(clients))/time.Since(start).Seconds())

	if r.sc.idle {
		time.Sleep(5 * time.Second) // let presence and queues settle
		rssAfter := proc.RSS(r.pid) >> 10
		fmt.Printf("| idle clients | server RSS before | after | per client | generator RSS |\n|---|---|---|---|---|\n")
		fmt.Printf("| %d | %.1f MB | %.1f MB | %.1f KB | %.1f MB |\n", len(clients), float64(rssBefore)/1024,
			float64(rssAfter)/1024, float64(rssAfter-rssBefore)/float64(len(clients)), float64(proc.RSS(os.Getpid()))/(1<<20))
		return
	}

	// each client sends every clients/rate seconds, phases spread evenly
	interval := time.Duration(float64(time.Second) * float64(len(clients)) / r.sc.rate)
	stop := make(chan struct{})
	var senders sync.WaitGroup
	for i, cl := range clients {
		senders.Add(1)
		go func() {
			defer senders.Done()
			select {
			case <-time.After(interval * time.Duration(i) / time.Duration(len(clients))):
			case <-stop:
				return
			}
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				now := time.Now()
				if err := cl.send(map[string]any{"type": "send", "channel": cl.channel,
					"text": fmt.Sprintf("%s%d from %d", textPrefix, now.UnixNano(), cl.i)}); err != nil {
					r.otherErrs.Add(1)
					return
				}
				if r.measuring.Load() {
					r.sent.Add(1)
				}
				select {
				case <-t.C:
				case <-stop:
					return
				}
			}
		}()
	}
	time.Sleep(warmup)
	cpu0, self0 := cpuTicks(r.pid), cpuTicks(os.Getpid())
	t0 := time.Now()
	r.measuring.Store(true)
	time.Sleep(duration)
	r.measuring.Store(false)
	elapsed := time.Since(t0)
	cpu1, self1 := cpuTicks(r.pid), cpuTicks(os.Getpid())
	close(stop)
	senders.Wait()
	time.Sleep(500 * time.Millisecond)

	var all []time.Duration
	for _, cl := range clients {
		cl.mu.Lock()
		all = append(all, cl.lat...)
		cl.mu.Unlock()
	}
	slices.Sort(all)
	pct := func(p float64) string {
		if len(all) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f ms", float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds())/1000)
	}
	secs := elapsed.Seconds()
	fmt.Printf("| clients | channels | sends/s | deliveries/s | p50 | p99 | p99.9 | max | rate-limited | other errors | server CPU | generator CPU |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %d | %d | %.0f | %.0f | %s | %s | %s | %s | %d | %d | %.0f%% | %.0f%% |\n",
		len(clients), r.sc.channels, float64(r.sent.Load())/secs, float64(len(all))/secs,
		pct(0.50), pct(0.99), pct(0.999), pct(1), r.limited.Load(), r.otherErrs.Load(),
		100*float64(cpu1-cpu0)/100/secs, 100*float64(self1-self0)/100/secs)
	for _, cl := range clients {
		cl.c.Close(websocket.StatusNormalClosure, "")
	}
}

// cpuTicks is utime+stime of a process in clock ticks (100 per second on
// Linux), from /proc/<pid>/stat; 0 when unknown.
func cpuTicks(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}
