// Command firstreply starts a server and measures the time from its start
// to its first +PONG (a server still loading answers -LOADING or refuses the
// connection), polling every half millisecond over a raw TCP connection so
// that the figure is the server's, not a client's retry backoff or the cost
// of starting redis-cli. The server is left running.
//
//	firstreply PORT BIN ARGS...   prints "MS PID"
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: firstreply PORT BIN ARGS...")
		os.Exit(2)
	}
	addr := "127.0.0.1:" + os.Args[1]
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "firstreply:", err)
		os.Exit(1)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for {
		select {
		case err := <-exited:
			fmt.Fprintln(os.Stderr, "firstreply: server exited:", err)
			os.Exit(1)
		default:
		}
		if pong(addr) {
			fmt.Printf("%d %d\n", time.Since(t0).Milliseconds(), cmd.Process.Pid)
			return
		}
		time.Sleep(500 * time.Microsecond)
	}
}

func pong(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && l == "+PONG\r\n"
}
