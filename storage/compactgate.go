package storage

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// compactGate is Pebble's compaction scheduler (as its default: up to the
// concurrency the DB allows, granted on request, on completion and every
// 100 ms) with a gate that stays shut while the store opens. Pebble's Open
// waits for running compactions before it returns; a compaction started by
// the flush of the replayed log would otherwise hold the first reply back
// for as long as it runs (~0.4 s seen after a kill -9 with 1M keys).
type compactGate struct {
	open atomic.Bool
	db   pebble.DBForCompaction

	mu       sync.Mutex
	running  int
	granting bool
	closed   bool
	stop     chan struct{}
	poke     chan struct{}
	done     chan struct{}
}

var _ pebble.CompactionScheduler = (*compactGate)(nil)

func newCompactGate() *compactGate {
	return &compactGate{stop: make(chan struct{}), poke: make(chan struct{}, 1), done: make(chan struct{})}
}

func (g *compactGate) Register(_ int, db pebble.DBForCompaction) {
	g.db = db
	go g.loop()
}

func (g *compactGate) Unregister() {
	close(g.stop)
	<-g.done
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// Open lets compactions run.
func (g *compactGate) Open() {
	g.open.Store(true)
	g.UpdateGetAllowedWithoutPermission()
}

func (g *compactGate) TrySchedule() (bool, pebble.CompactionGrantHandle) {
	if !g.open.Load() {
		return false, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || g.db.GetAllowedWithoutPermission() <= g.running {
		return false, nil
	}
	g.running++
	return true, g
}

func (g *compactGate) UpdateGetAllowedWithoutPermission() {
	select {
	case g.poke <- struct{}{}:
	default:
	}
}

func (g *compactGate) loop() {
	defer close(g.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		case <-g.poke:
		}
		g.grant()
	}
}

// grant starts waiting compactions while the DB allows more.
func (g *compactGate) grant() {
	if !g.open.Load() {
		return
	}
	g.mu.Lock()
	if g.closed || g.granting {
		g.mu.Unlock()
		return
	}
	g.granting = true
	g.mu.Unlock()
	for {
		g.mu.Lock()
		ok := g.db.GetAllowedWithoutPermission() > g.running
		g.mu.Unlock()
		if !ok {
			break
		}
		if waiting, _ := g.db.GetWaitingCompaction(); !waiting || !g.db.Schedule(g) {
			break
		}
		g.mu.Lock()
		g.running++
		g.mu.Unlock()
	}
	g.mu.Lock()
	g.granting = false
	g.mu.Unlock()
}

// The grant handle.

func (g *compactGate) Started()                                          {}
func (g *compactGate) MeasureCPU(pebble.CompactionGoroutineKind)         {}
func (g *compactGate) CumulativeStats(pebble.CompactionGrantHandleStats) {}
func (g *compactGate) Done() {
	g.mu.Lock()
	g.running--
	g.mu.Unlock()
	g.UpdateGetAllowedWithoutPermission()
}
