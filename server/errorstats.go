package server

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// errorStats counts error replies by their prefix (the first word, "ERR",
// "WRONGTYPE", ...) for INFO errorstats and total_error_replies.
type errorStats struct {
	total atomic.Int64
	mu    sync.Mutex
	byPfx map[string]int64
}

func (e *errorStats) add(msg string) {
	e.total.Add(1)
	pfx := msg
	if i := strings.IndexByte(msg, ' '); i >= 0 {
		pfx = msg[:i]
	}
	e.mu.Lock()
	if e.byPfx == nil {
		e.byPfx = map[string]int64{}
	}
	// Redis caps the table at 128 kinds, folding the rest into no new rows
	if _, ok := e.byPfx[pfx]; ok || len(e.byPfx) < 128 {
		e.byPfx[pfx]++
	}
	e.mu.Unlock()
}

func (e *errorStats) reset() {
	e.total.Store(0)
	e.mu.Lock()
	e.byPfx = nil
	e.mu.Unlock()
}

// lines renders "errorstat_ERR:count=N" rows, sorted.
func (e *errorStats) lines() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, 0, len(e.byPfx))
	for p, n := range e.byPfx {
		out = append(out, "errorstat_"+p+":count="+itoa(n))
	}
	sort.Strings(out)
	return out
}

// WriteError writes an error reply and counts it; a handler that replies
// with an error counts as a failed call of its command.
func (c *Client) WriteError(msg string) {
	c.srv.errors.add(msg)
	c.errs++
	c.Writer.WriteError(msg)
}
