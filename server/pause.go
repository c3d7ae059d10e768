package server

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CLIENT PAUSE and CLIENT UNPAUSE, as Redis 7.0: until the deadline or
// UNPAUSE, commands of every client wait before they run — all of them
// (ALL, the default), or those that write or that Redis would replicate
// (WRITE: write commands, PUBLISH, SPUBLISH, PFCOUNT, and an EXEC of any of
// those). A command already queued in MULTI runs with its EXEC, so a pause
// started inside a transaction begins after it. While paused, expired keys
// read as missing but are not deleted (no expiry runs).

const (
	pauseNone = iota
	pauseWrite
	pauseAll
)

type pauseState struct {
	on      atomic.Bool // a pause is in effect (the dispatcher's fast check)
	waiting atomic.Int64
	mu      sync.Mutex
	kind    int
	end     time.Time
	done    chan struct{} // closed when the current pause ends
	timer   *time.Timer
}

// pauseClients starts (or replaces) a pause of kind until end.
func (s *Server) pauseClients(kind int, end time.Time) {
	p := &s.pause
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		p.done = make(chan struct{})
	}
	p.kind, p.end = kind, end
	if p.timer != nil {
		p.timer.Stop()
	}
	p.timer = time.AfterFunc(time.Until(end), func() {
		p.mu.Lock()
		expired := !p.end.After(time.Now())
		p.mu.Unlock()
		if expired {
			s.unpauseClients()
		}
	})
	p.on.Store(true)
	s.store.SetExpirePaused(true)
}

// unpauseClients ends the pause and wakes every waiting command.
func (s *Server) unpauseClients() {
	p := &s.pause
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return
	}
	close(p.done)
	p.done, p.kind = nil, pauseNone
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.on.Store(false)
	s.store.SetExpirePaused(false)
}

// pausedFor reports whether cmd must wait under a pause of kind.
func pausedFor(c *Client, cmd *Command, args [][]byte, kind int) bool {
	switch kind {
	case pauseAll:
		return true
	case pauseWrite:
		if c.srv.callFlags(cmd, args)&(FlagWrite|FlagMayReplicate) != 0 {
			return true
		}
		if cmd.Name == "exec" {
			for _, q := range c.queue {
				if c.srv.callFlags(q.cmd, q.args)&(FlagWrite|FlagMayReplicate) != 0 {
					return true
				}
			}
		}
	}
	return false
}

// callFlags are the flags of one call of cmd (Command.CallFlags).
func (s *Server) callFlags(cmd *Command, args [][]byte) Flag {
	if cmd.CallFlags != nil {
		return cmd.CallFlags(s, args)
	}
	return cmd.Flags
}

// waitPause holds cmd while a pause applies to it (no lock held), counted
// in INFO's blocked_clients.
func (s *Server) waitPause(c *Client, cmd *Command, args [][]byte) {
	p := &s.pause
	counted := false
	defer func() {
		if counted {
			p.waiting.Add(-1)
		}
	}()
	for {
		p.mu.Lock()
		kind, done := p.kind, p.done
		p.mu.Unlock()
		if done == nil || !pausedFor(c, cmd, args, kind) {
			return
		}
		if !counted {
			s.releaseHeld(c)
			p.waiting.Add(1)
			counted = true
		}
		select {
		case <-done:
		case <-s.quit:
			return
		}
	}
}

// clientPause is CLIENT PAUSE timeout [WRITE|ALL].
func clientPause(c *Client, args [][]byte) {
	ms, ok := parseInt(args[2])
	if !ok || ms < 0 {
		c.WriteError("ERR timeout is not an integer or out of range")
		return
	}
	kind := pauseAll
	if len(args) == 4 {
		switch strings.ToLower(string(args[3])) {
		case "write":
			kind = pauseWrite
		case "all":
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	c.srv.pauseClients(kind, time.Now().Add(time.Duration(ms)*time.Millisecond))
	c.WriteOK()
}
