// Package proc has the process helpers the benchmark programs share: waiting
// for a server's port, reading a process's resident memory and CPU time.
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

// CPU is process pid's user + system CPU seconds, 0 when unknown.
func CPU(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return 0
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0
	}
	// utime and stime are fields 14 and 15 of proc(5): 11 and 12 here
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / 100 // USER_HZ
}

// Settle waits until process pid uses less than 5% of a CPU over a second
// (background work such as compactions after a load has finished), at most
// max; it returns how long it waited.
func Settle(pid int, max time.Duration) time.Duration {
	t0 := time.Now()
	for time.Since(t0) < max {
		c0 := CPU(pid)
		time.Sleep(time.Second)
		if CPU(pid)-c0 < 0.05 {
			break
		}
	}
	return time.Since(t0)
}
