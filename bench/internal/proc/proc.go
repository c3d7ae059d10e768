// Package proc has the process helpers the benchmark programs share: waiting
// for a server's port and reading a process's resident memory.
package proc

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// WaitTCP waits up to d until something accepts connections at addr.
func WaitTCP(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("no server at " + addr)
}

// RSS is the resident memory of process pid in bytes (VmRSS), 0 when unknown.
func RSS(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
