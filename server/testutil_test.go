package server

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/luxdb/lux-go/storage"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// testServer is an in-process server on a random loopback port.
type testServer struct {
	srv   *Server
	store *storage.Store
	addr  string
	dir   string
}

// startServer starts a server; dir "" means persistence off.
func startServer(t testing.TB, dir string, mutate ...func(*Config)) *testServer {
	t.Helper()
	store, err := storage.Open(storage.Options{Dir: dir, Sync: storage.SyncEverySec})
	require.NoError(t, err)
	cfg := DefaultConfig()
	cfg.Port = 0
	for _, m := range mutate {
		m(&cfg)
	}
	s := New(cfg, store)
	require.NoError(t, s.Listen())
	go s.Serve()
	ts := &testServer{srv: s, store: store, addr: s.Addr().String(), dir: dir}
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) stop() {
	ts.srv.Close()
	ts.store.Close()
}

// client returns a go-redis client for the server.
func (ts *testServer) client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: ts.addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Ping(context.Background()).Err())
	return c
}

// rawConn is a raw RESP connection for exact-byte assertions.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	rd *bufio.Reader
}

func (ts *testServer) raw(t testing.TB) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, rd: bufio.NewReader(c)}
}

// send writes a command as a RESP multibulk.
func (r *rawConn) send(args ...string) {
	b := fmt.Sprintf("*%d\r\n", len(args))
	for _, a := range args {
		b += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
	}
	r.write(b)
}

func (r *rawConn) write(s string) {
	_, err := r.c.Write([]byte(s))
	require.NoError(r.t, err)
}

// reply reads one complete RESP reply and returns its raw bytes.
func (r *rawConn) reply() string {
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	out, err := readRESP(r.rd)
	require.NoError(r.t, err)
	return out
}

// do sends a command and returns the raw reply.
func (r *rawConn) do(args ...string) string {
	r.send(args...)
	return r.reply()
}

func readRESP(rd *bufio.Reader) (string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	switch line[0] {
	case '+', '-', ':', '_', ',', '#', '(':
		return line, nil
	case '$', '=', '!':
		var n int
		fmt.Sscanf(line[1:], "%d", &n)
		if n < 0 {
			return line, nil
		}
		buf := make([]byte, n+2)
		if _, err := io_ReadFull(rd, buf); err != nil {
			return "", err
		}
		return line + string(buf), nil
	case '*', '~', '>', '%', '|':
		var n int
		fmt.Sscanf(line[1:], "%d", &n)
		if line[0] == '%' || line[0] == '|' {
			n *= 2 // a map's (or attribute's) pairs
		}
		out := line
		for i := 0; i < n; i++ {
			s, err := readRESP(rd)
			if err != nil {
				return "", err
			}
			out += s
		}
		return out, nil
	}
	return line, fmt.Errorf("bad reply line %q", line)
}

func io_ReadFull(rd *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := rd.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// resident counts db 0's keys in memory under its locks (the server may be
// evicting meanwhile).
func (ts *testServer) resident() int {
	var ls storage.LockSet
	ls.AddDB(0)
	ts.store.Lock(&ls)
	defer ts.store.Unlock(&ls)
	return ts.store.DB(0).Resident()
}
