package server

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The event loop's read, write and epoll_wait never block (its sockets and
// epoll instance are non-blocking), so they are made as raw system calls:
// without the runtime's entersyscall/exitsyscall around each one. Besides
// their own cost, entering a system call wakes the runtime's monitor thread
// (sysmon) whenever it sleeps because every P was idle, which at one
// request a round trip (P=1) is after nearly every wait: the wake-up and the
// monitor's 20 µs naps that follow it were the largest difference between
// this server's CPU per request and Redis's (BENCHMARKS.md, "Session 12").

func rawRead(fd int, b []byte) (int, unix.Errno)  { return rawIO(unix.SYS_READ, fd, b) }
func rawWrite(fd int, b []byte) (int, unix.Errno) { return rawIO(unix.SYS_WRITE, fd, b) }

// rawIO is read(2) or write(2) (trap) of b on fd.
func rawIO(trap uintptr, fd int, b []byte) (int, unix.Errno) {
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	n, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(p), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}

// rawEpollPoll is epoll_wait with a timeout of 0.
func rawEpollPoll(ep int, events []unix.EpollEvent) (int, unix.Errno) {
	if len(events) == 0 {
		return 0, 0
	}
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}
