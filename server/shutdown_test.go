package server

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luxdb/lux-go/storage"
	"github.com/stretchr/testify/require"
)

// storeUseTracker is a Server.test.storeUse hook: it counts the uses of the
// store in progress and those that start or end after Close returned.
type storeUseTracker struct {
	inflight atomic.Int64
	closed   atomic.Bool // set by the test once Close returned
	late     atomic.Int64
}

func (tr *storeUseTracker) use() func() {
	if tr.closed.Load() {
		tr.late.Add(1)
	}
	tr.inflight.Add(1)
	runtime.Gosched() // widen the windows a racing Close could slip through
	return func() {
		if tr.closed.Load() {
			tr.late.Add(1)
		}
		tr.inflight.Add(-1)
	}
}

// startTrackedServer starts a server whose store uses are tracked; the
// caller closes server and store.
func startTrackedServer(t *testing.T, dir string) (*Server, *storage.Store, *storeUseTracker) {
	t.Helper()
	store, err := storage.Open(storage.Options{Dir: dir, Sync: storage.SyncEverySec})
	require.NoError(t, err)
	cfg := DefaultConfig()
	cfg.Port = 0
	s := New(cfg, store)
	tr := &storeUseTracker{}
	s.test.storeUse = tr.use
	// a random pause between Accept and admission widens the window in which
	// a connection is accepted but not yet known to Close
	s.test.accepted = func() { time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond) }
	require.NoError(t, s.Listen())
	go s.Serve()
	return s, store, tr
}

func respCmd(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// shutdownLoad runs clients against addr until stop: writers that reconnect
// all the time (so connections are being accepted while Close runs) and send
// pipelines of keyspace, transaction and table writes; clients parked in
// BLPOP; a keyspace-notification subscriber; an INFO poller (the sampler).
func shutdownLoad(addr string, stop *atomic.Bool) *sync.WaitGroup {
	var wg sync.WaitGroup
	dial := func() (net.Conn, *bufio.Reader) {
		for !stop.Load() {
			nc, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				nc.SetDeadline(time.Now().Add(10 * time.Second))
				return nc, bufio.NewReader(nc)
			}
			time.Sleep(time.Millisecond)
		}
		return nil, nil
	}
	// writers send pipelines until the server closes their connection; a
	// spawner keeps adding writers, so connections are being accepted while
	// Close runs
	writer := func(w int) {
		defer wg.Done()
		var pipe strings.Builder
		for i := 0; i < 4; i++ {
			k := fmt.Sprintf("k%d:%d", w, i)
			pipe.WriteString(respCmd("SET", k, "v"))
			pipe.WriteString(respCmd("INCR", "ctr"))
			pipe.WriteString(respCmd("RPUSH", "l"+k, "x"))
			pipe.WriteString(respCmd("MULTI"))
			pipe.WriteString(respCmd("HSET", "h", k, "v"))
			pipe.WriteString(respCmd("SADD", "s", k))
			pipe.WriteString(respCmd("EXEC"))
			pipe.WriteString(respCmd("TINSERT", "t", "a", "1"))
		}
		const replies = 4 * 8
		nc, rd := dial()
		if nc == nil {
			return
		}
		defer nc.Close()
		for !stop.Load() {
			if _, err := nc.Write([]byte(pipe.String())); err != nil {
				return
			}
			for n := 0; n < replies; n++ {
				if _, err := readRESP(rd); err != nil {
					return
				}
			}
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for w := 0; !stop.Load(); w++ {
			wg.Add(1)
			go writer(w)
			time.Sleep(200 * time.Microsecond)
		}
	}()
	// one-shot clients: connect, send until the server goes away
	oneShot := func(cmds ...string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, rd := dial()
			if nc == nil {
				return
			}
			defer nc.Close()
			for _, c := range cmds {
				if _, err := nc.Write([]byte(c)); err != nil {
					return
				}
			}
			for {
				if _, err := readRESP(rd); err != nil {
					return
				}
			}
		}()
	}
	oneShot(respCmd("BLPOP", "never1", "0"))
	oneShot(respCmd("BLPOP", "never2", "never3", "0"))
	oneShot(respCmd("CONFIG", "SET", "notify-keyspace-events", "KEA"), respCmd("PSUBSCRIBE", "*"))
	wg.Add(1)
	go func() {
		defer wg.Done()
		nc, rd := dial()
		if nc == nil {
			return
		}
		defer nc.Close()
		for !stop.Load() {
			if _, err := nc.Write([]byte(respCmd("INFO"))); err != nil {
				return
			}
			if _, err := readRESP(rd); err != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return &wg
}

// Close (and SHUTDOWN followed by Close, as cmd/lux does) returns only when
// no connection is using the store any more and none can start to, so the
// store can be closed right after: connections accepted while Close runs,
// pipelines in progress, blocked clients, subscribers and the INFO sampler.
func TestCloseWaitsForEveryStoreUse(t *testing.T) {
	rounds := 8
	if testing.Short() {
		rounds = 2
	}
	for round := 0; round < rounds; round++ {
		s, store, tr := startTrackedServer(t, "")
		addr := s.Addr().String()
		setup, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		rd := bufio.NewReader(setup)
		setup.Write([]byte(respCmd("TCREATE", "t", "a:int")))
		require.Equal(t, "+OK\r\n", mustReply(t, rd))

		var stop atomic.Bool
		load := shutdownLoad(addr, &stop)
		time.Sleep(30 * time.Millisecond)
		viaShutdown := round%2 == 1
		if viaShutdown {
			setup.Write([]byte(respCmd("SHUTDOWN", "NOSAVE")))
			select {
			case <-s.ShutdownRequested():
			case <-time.After(10 * time.Second):
				t.Fatal("SHUTDOWN did not request a shutdown")
			}
		}
		start := time.Now()
		s.Close()
		tr.closed.Store(true)
		inflight := tr.inflight.Load()
		took := time.Since(start)
		require.NoError(t, store.Close())

		s.clientsMu.Lock()
		left := len(s.clients)
		s.clientsMu.Unlock()
		stop.Store(true)
		load.Wait()
		setup.Close()
		time.Sleep(20 * time.Millisecond) // let stragglers show themselves
		require.Zero(t, inflight, "round %d (shutdown %v): store in use when Close returned after %v", round, viaShutdown, took)
		require.Zero(t, tr.late.Load(), "round %d (shutdown %v): store used after Close returned", round, viaShutdown)
		require.Zero(t, left, "round %d: clients still registered after Close", round)
		require.Zero(t, s.blockedClients(), "round %d: blocked clients after Close", round)
	}
}

// A handler that takes longer than any grace period (DEBUG SLEEP, with a
// write pipelined behind it) still finishes before Close returns; Close
// interrupts the sleep instead of waiting it out.
func TestCloseWaitsForSlowHandler(t *testing.T) {
	s, store, tr := startTrackedServer(t, "")
	defer store.Close()
	nc, err := net.Dial("tcp", s.Addr().String())
	require.NoError(t, err)
	defer nc.Close()
	nc.Write([]byte(respCmd("DEBUG", "SLEEP", "6") + respCmd("SET", "after", "sleep")))
	deadline := time.Now().Add(10 * time.Second)
	for tr.inflight.Load() == 0 {
		require.True(t, time.Now().Before(deadline), "the batch never started")
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	s.Close()
	tr.closed.Store(true)
	require.Zero(t, tr.inflight.Load(), "store in use when Close returned after %v", time.Since(start))
	require.Less(t, time.Since(start), 3*time.Second, "Close waited the sleep out")
	time.Sleep(20 * time.Millisecond)
	require.Zero(t, tr.late.Load(), "store used after Close returned")
}

func mustReply(t *testing.T, rd *bufio.Reader) string {
	t.Helper()
	r, err := readRESP(rd)
	require.NoError(t, err)
	return r
}
