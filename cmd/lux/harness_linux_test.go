//go:build linux

package main

import "syscall"

// childAttr makes the kernel kill a server child if the test binary dies
// (for example on a go test -timeout panic), so no stray servers keep ports.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
