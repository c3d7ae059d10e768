package server

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// MONITOR, as Redis 7.0: every command a client runs is shown to the
// connections in monitor mode, one line per command,
//
//	+<unix seconds>.<microseconds> [<db> <peer>] "cmd" "arg" ...
//
// written after the command ran (so "[1 ...]" for SELECT 1, and a blocking
// command when it blocks), with the arguments quoted as Redis's sdscatrepr
// and passwords redacted as in the slow log. Commands a script runs show
// "[<db> lua]" and come after the EVAL that ran them; the commands of a
// transaction come between MULTI and EXEC, as EXEC runs them. Admin commands
// (CONFIG, CLIENT KILL, DEBUG, ...) are never shown, as in Redis.
//
// The lines reach a monitor through its out-of-band queue (pushQueue), the
// one invalidations use: a feeding connection never waits for a monitor, and
// a monitor's own replies and the lines queued before them keep their order.

// monitorSet is the server's list of connections in monitor mode.
type monitorSet struct {
	n    atomic.Int32 // len(list): the fast path of every command
	mu   sync.Mutex
	list []*Client
	// skip caches, by full command name, whether a command is kept out of
	// the monitor stream (admin or skip_monitor in Redis's table)
	skip sync.Map
}

func init() {
	register(&Command{Name: "monitor", Arity: 1, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagNoLock,
		Handler: cmdMonitor, Group: "server", Summary: "Listens for all requests received by the server in real-time."})
}

func cmdMonitor(c *Client, args [][]byte) {
	if c.inExec {
		// Redis: a client that expects one reply per command (EXEC)
		c.WriteError("ERR MONITOR isn't allowed for DENY BLOCKING client")
		return
	}
	if c.monitor {
		return // Redis ignores a second MONITOR, without a reply
	}
	s := c.srv
	c.pushQueue() // created before the first line can be fed
	s.mon.mu.Lock()
	s.mon.list = append(s.mon.list, c)
	s.mon.n.Store(int32(len(s.mon.list)))
	s.mon.mu.Unlock()
	c.monitor = true
	c.monitorA.Store(true)
	c.WriteOK()
}

// stopMonitor takes c out of monitor mode (RESET, disconnect).
func (s *Server) stopMonitor(c *Client) {
	if !c.monitorA.Load() {
		return
	}
	s.mon.mu.Lock()
	if i := slices.Index(s.mon.list, c); i >= 0 {
		s.mon.list = slices.Delete(s.mon.list, i, i+1)
	}
	s.mon.n.Store(int32(len(s.mon.list)))
	s.mon.mu.Unlock()
	c.monitor = false
	c.monitorA.Store(false)
}

// monitorSkips reports whether a call of cmd is kept out of the monitor
// stream: Redis's admin and skip_monitor flags of the command (of its
// subcommand for a container; an unknown subcommand is an error Redis never
// runs), lux's admin flag for a command Redis does not have.
func (s *Server) monitorSkips(cmd *Command, args [][]byte) bool {
	name := fullName(cmd, args)
	if v, ok := s.mon.skip.Load(name); ok {
		return v.(bool)
	}
	skip := false
	if subcommands[cmd.Name] != nil && name == cmd.Name && len(args) > 1 {
		skip = true
	} else if spec := specOf(name); spec != nil {
		skip = spec.hasFlag("admin") || spec.hasFlag("skip_monitor")
	} else {
		skip = cmd.Flags&FlagAdmin != 0
	}
	s.mon.skip.Store(name, skip)
	return skip
}

// feedMonitors shows one call to every monitor. The caller checked
// s.mon.n != 0.
func (s *Server) feedMonitors(c *Client, args [][]byte) {
	line := appendMonitorLine(nil, time.Now(), c.db, c.scriptCall, c.conn.RemoteAddr().String(), redactArgs(args))
	s.mon.mu.Lock()
	list := s.mon.list
	for _, m := range list {
		m.pushQueue().Enqueue(line)
	}
	s.mon.mu.Unlock()
}

// appendMonitorLine renders Redis's replicationFeedMonitors line.
func appendMonitorLine(b []byte, now time.Time, db int, lua bool, peer string, args [][]byte) []byte {
	b = append(b, '+')
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, '.')
	us := now.Nanosecond() / 1000
	for d := 100000; d > 1 && us < d; d /= 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, int64(us), 10)
	b = append(b, " ["...)
	b = strconv.AppendInt(b, int64(db), 10)
	if lua {
		b = append(b, " lua] "...)
	} else {
		b = append(b, ' ')
		b = append(b, peer...)
		b = append(b, "] "...)
	}
	for j, a := range args {
		if j > 0 {
			b = append(b, ' ')
		}
		b = appendRepr(b, a)
	}
	return append(b, "\r\n"...)
}

// appendRepr quotes s as Redis's sdscatrepr: printable ASCII as is, \\ and
// \" escaped, \n \r \t \a \b by name, any other byte as \xHH.
func appendRepr(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, ch := range s {
		switch ch {
		case '\\', '"':
			b = append(b, '\\', ch)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\a':
			b = append(b, '\\', 'a')
		case '\b':
			b = append(b, '\\', 'b')
		default:
			if ch >= 0x20 && ch <= 0x7e {
				b = append(b, ch)
			} else {
				b = append(b, '\\', 'x', hex[ch>>4], hex[ch&15])
			}
		}
	}
	return append(b, '"')
}
