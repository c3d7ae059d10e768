// Command ioloop measures connection-handling models for the request path
// (issue 11's event-loop decision): the same tiny RESP server (PING, SET, GET
// on one map; replies to a batch in one write) served by
//
//	goroutine: one goroutine per connection over the net package, as lux
//	           serves today (Go's netpoller wakes the goroutine);
//	epoll:     one event loop on its own epoll instance (golang.org/x/sys/unix),
//	           reading, executing and replying in socket-readiness order, as
//	           redis-server does;
//	epollN:    N such loops, connections dealt round robin (-loops N).
//
// bench/ioloop.sh runs redis-benchmark against each and against redis-server
// and prints requests/s and server CPU per request. It is an experiment, not
// part of the server: it has no persistence, no limits and three commands.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

var (
	mu  sync.Mutex
	kv  = map[string][]byte{}
	crl = []byte("\r\n")
)

// execBatch parses the complete requests in in, appends their replies to out
// and returns the bytes used.
func execBatch(in, out []byte) (used int, _ []byte) {
	var args [16][]byte
	for {
		n, argv, ok := parse(in[used:], args[:0])
		if !ok {
			return used, out
		}
		used += n
		out = run(argv, out)
	}
}

func parse(in []byte, args [][]byte) (int, [][]byte, bool) {
	if len(in) < 4 || in[0] != '*' {
		return 0, nil, false
	}
	i := bytes.Index(in, crl)
	if i < 0 {
		return 0, nil, false
	}
	cnt, err := strconv.Atoi(string(in[1:i]))
	if err != nil || cnt < 1 || cnt > 16 {
		return 0, nil, false
	}
	i += 2
	for ; cnt > 0; cnt-- {
		if i >= len(in) || in[i] != '$' {
			return 0, nil, false
		}
		j := bytes.Index(in[i:], crl)
		if j < 0 {
			return 0, nil, false
		}
		l, err := strconv.Atoi(string(in[i+1 : i+j]))
		if err != nil {
			return 0, nil, false
		}
		i += j + 2
		if len(in)-i < l+2 {
			return 0, nil, false
		}
		args = append(args, in[i:i+l])
		i += l + 2
	}
	return i, args, true
}

func run(argv [][]byte, out []byte) []byte {
	switch {
	case len(argv) == 1 && bytes.EqualFold(argv[0], []byte("PING")):
		return append(out, "+PONG\r\n"...)
	case len(argv) == 3 && bytes.EqualFold(argv[0], []byte("SET")):
		mu.Lock()
		kv[string(argv[1])] = append([]byte(nil), argv[2]...)
		mu.Unlock()
		return append(out, "+OK\r\n"...)
	case len(argv) == 2 && bytes.EqualFold(argv[0], []byte("GET")):
		mu.Lock()
		v, ok := kv[string(argv[1])]
		if !ok {
			mu.Unlock()
			return append(out, "$-1\r\n"...)
		}
		out = append(out, '$')
		out = strconv.AppendInt(out, int64(len(v)), 10)
		out = append(out, crl...)
		out = append(out, v...)
		mu.Unlock()
		return append(out, crl...)
	case len(argv) > 0 && bytes.EqualFold(argv[0], []byte("CONFIG")):
		return append(out, "*0\r\n"...) // redis-benchmark asks for save/appendonly
	}
	return append(out, "-ERR unknown command\r\n"...)
}

func serveGoroutines(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 16<<10)
			var out []byte
			w := 0
			for {
				n, err := c.Read(buf[w:])
				if n <= 0 || err != nil {
					return
				}
				w += n
				var used int
				used, out = execBatch(buf[:w], out[:0])
				w = copy(buf, buf[used:w])
				if len(out) > 0 {
					if _, err := c.Write(out); err != nil {
						return
					}
				}
			}
		}()
	}
}

type loop struct {
	ep    int
	conns map[int32]*lconn
	add   chan int
}

type lconn struct {
	buf []byte
	w   int
}

func serveEpoll(addr string, loops int) error {
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return err
	}
	unix.SetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return err
	}
	sa := &unix.SockaddrInet4{Port: tcp.Port}
	copy(sa.Addr[:], tcp.IP.To4())
	if err := unix.Bind(lfd, sa); err != nil {
		return err
	}
	if err := unix.Listen(lfd, 1024); err != nil {
		return err
	}
	ls := make([]*loop, loops)
	for i := range ls {
		ep, err := unix.EpollCreate1(0)
		if err != nil {
			return err
		}
		ls[i] = &loop{ep: ep, conns: map[int32]*lconn{}}
	}
	for i := range ls {
		go ls[i].run()
	}
	for n := 0; ; n++ {
		fd, _, err := unix.Accept(lfd) // blocking accept in its own thread
		if err != nil {
			return err
		}
		unix.SetNonblock(fd, true)
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		l := ls[n%loops]
		mu.Lock()
		l.conns[int32(fd)] = &lconn{buf: make([]byte, 16<<10)}
		mu.Unlock()
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return err
		}
	}
}

func (l *loop) run() {
	runtime.LockOSThread()
	events := make([]unix.EpollEvent, 256)
	var out []byte
	for {
		n, err := unix.EpollWait(l.ep, events, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			panic(err)
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			mu.Lock()
			c := l.conns[ev.Fd]
			mu.Unlock()
			if c == nil {
				continue // closed earlier in this batch of events
			}
			k, err := unix.Read(fd, c.buf[c.w:])
			if k <= 0 {
				if err == unix.EAGAIN {
					continue
				}
				unix.EpollCtl(l.ep, unix.EPOLL_CTL_DEL, fd, nil)
				unix.Close(fd)
				mu.Lock()
				delete(l.conns, ev.Fd)
				mu.Unlock()
				continue
			}
			c.w += k
			var used int
			used, out = execBatch(c.buf[:c.w], out[:0])
			c.w = copy(c.buf, c.buf[used:c.w])
			for len(out) > 0 {
				m, err := unix.Write(fd, out)
				if err == unix.EAGAIN {
					unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, -1)
					continue
				}
				if err != nil {
					break
				}
				out = out[m:]
			}
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7700", "listen address")
	mode := flag.String("mode", "goroutine", "goroutine | epoll")
	loops := flag.Int("loops", 1, "event loops (epoll mode)")
	flag.Parse()
	var err error
	switch *mode {
	case "goroutine":
		err = serveGoroutines(*addr)
	case "epoll":
		err = serveEpoll(*addr, *loops)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
