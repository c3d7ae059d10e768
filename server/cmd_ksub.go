package server

import (
	"sync"

	"github.com/luxdb/lux-go/pubsub"
	"github.com/luxdb/lux-go/storage"
)

// Key-change subscriptions (KSUB, KUNSUB; docs/LUX-EXTENSIONS.md).
//
// Events come from the store's single event hook (onKeyEvent), which costs
// one atomic load while nobody holds a key pattern. An event's operation is
// the lowercase name of the command that caused it: storage reports the
// change with the Origin of the DB it was made through, and a client's DB
// carries the client (Client.DB), whose running command — each queued one
// while EXEC runs, the blocking one when it is served — names it. Storage's
// own deletions have no origin and keep their names ("expired", "evicted").
// A command reports each key once per operation (an SMOVE emits its source
// then its destination, an LMOVE on one list emits once).
//
// A command's events are published when its handler returns, still under
// its shard locks (so the events of one key are in write order), in the
// order of its key arguments; storage's own at once. Frames go into the
// subscribers' pub/sub buffers, so a writer never waits (a subscriber past
// its output limit is disconnected). In appendfsync always mode a
// subscriber's connection does not write the frames it took before
// everything appended up to then is fsynced (keyBarrier): the command that
// reported them had appended its write by then, or held the committer,
// whose cut the barrier takes.

func init() {
	const ks = FlagPubSub | FlagNoLock | FlagLoading | FlagStale | FlagNoScript | FlagSubscribeOK | FlagNoTransaction
	register(
		&Command{Name: "ksub", Arity: -2, Flags: ks, Handler: cmdKsub, Group: "pubsub", Summary: "Listens for changes of the keys that match one or more patterns."},
		&Command{Name: "kunsub", Arity: -1, Flags: ks, Handler: cmdKunsub, Group: "pubsub", Summary: "Stops listening for changes of keys matching patterns."},
	)
}

// noTransactionMsg is the error for a FlagNoTransaction command inside MULTI.
func noTransactionMsg(name string) string {
	return "ERR Command '" + name + "' not allowed inside a transaction"
}

func cmdKsub(c *Client, args [][]byte) {
	sub := c.subscriber()
	c.keySubscriber.Store(true)
	for _, p := range args[1:] {
		writeSubReply(c, "ksub", p, c.srv.hub.KSubscribe(sub, c.db, string(p)))
	}
}

func cmdKunsub(c *Client, args [][]byte) {
	unsubscribeAll(c, args, "kunsub", (*pubsub.Subscriber).KeyPatterns, c.srv.hub.KUnsubscribe)
}

// keyEvent handles a store event for the key subscribers (onKeyEvent calls
// it only while key patterns exist). It runs under the key's shard lock. A
// change a client's command made is kept until the command's handler
// returns (flushKeyEvents); storage's own are published at once.
func (s *Server) keyEvent(ev storage.Event) {
	op := ev.Name
	if op == "new" || op == "keymiss" {
		return // not changes
	}
	c, _ := ev.Origin.(*Client)
	if c == nil {
		s.hub.PublishKey(ev.DB, ev.Key, op)
		return
	}
	if !s.hub.KeyMatch(ev.DB, ev.Key) {
		return // nobody watches this key: nothing to keep
	}
	if op != "expired" && op != "evicted" && c.cmd != nil {
		op = c.cmd.Name
	}
	c.addKeyEvent(ev.DB, ev.Key, op)
}

// tableEvent publishes the change of table name by the running command (only
// on success). Tables belong to no database: every database's key patterns
// see it. The caller holds the table engine's write lock, which orders the
// events of one table.
func (c *Client) tableEvent(name []byte) {
	if c.srv.hub.KeySubscriptions() == 0 || c.cmd == nil {
		return
	}
	c.srv.hub.PublishKey(-1, name, c.cmd.Name)
}

// keyEventEntry is a change the running command reported: (database, key,
// operation), the key a span of Client.keyEventArena.
type keyEventEntry struct {
	db     int
	op     string
	k0, k1 int
	pos    int // the key's position among the command's key arguments
}

// addKeyEvent records a change of the running command, once per (database,
// key, operation). Commands change few keys: a linear search.
func (c *Client) addKeyEvent(db int, key []byte, op string) {
	for _, e := range c.keyEvents {
		if e.db == db && e.op == op && string(c.keyEventArena[e.k0:e.k1]) == string(key) {
			return
		}
	}
	k0 := len(c.keyEventArena)
	c.keyEventArena = append(c.keyEventArena, key...)
	c.keyEvents = append(c.keyEvents, keyEventEntry{db: db, op: op, k0: k0, k1: len(c.keyEventArena)})
}

// beginKeyEvents starts a command's events (call, and a served blocking
// command's re-run): nothing reported yet.
func (c *Client) beginKeyEvents() {
	if len(c.keyEvents) > 0 {
		c.keyEvents = c.keyEvents[:0]
		c.keyEventArena = c.keyEventArena[:0]
	}
}

// flushKeyEvents publishes the changes the command's handler made, still
// under its shard locks (so the events of one key are in write order), in
// the order of the command's key arguments — a move's source before its
// destination, whatever order storage reported them in (Redis notifies
// LMOVE's push before its pop) — and, for one key, in the order made.
func (c *Client) flushKeyEvents(cmd *Command, args [][]byte) {
	if len(c.keyEvents) == 0 {
		return
	}
	evs := c.keyEvents
	if len(evs) > 1 {
		keys := cmd.keyArgs(args, nil)
		for i := range evs {
			evs[i].pos = len(keys)
			k := c.keyEventArena[evs[i].k0:evs[i].k1]
			for j, a := range keys {
				if string(a) == string(k) {
					evs[i].pos = j
					break
				}
			}
		}
		// stable insertion sort: a handful of events
		for i := 1; i < len(evs); i++ {
			for j := i; j > 0 && evs[j].pos < evs[j-1].pos; j-- {
				evs[j], evs[j-1] = evs[j-1], evs[j]
			}
		}
	}
	for _, e := range evs {
		c.srv.hub.PublishKey(e.db, c.keyEventArena[e.k0:e.k1], e.op)
	}
	c.beginKeyEvents()
}

// keyBarrier returns once every write appended so far is fsynced (always
// mode; at once otherwise). Concurrent callers share rounds: a caller waits
// for the first round that starts after its call, so a thousand subscribers
// woken by one write take the committer's cut once or twice, not a thousand
// times.
func (s *Server) keyBarrier() error {
	if !s.store.Persistent() || s.store.SyncMode() != storage.SyncAlways {
		return nil
	}
	return s.ksubSync.wait(s.store.SyncBarrier)
}

// syncRounds coalesces concurrent barrier calls into rounds.
type syncRounds struct {
	mu      sync.Mutex
	cond    sync.Cond
	started uint64 // rounds started
	done    uint64 // rounds finished
	running bool
	err     error // of the last finished round
}

// wait returns after a round of run that started after the call has
// finished, running it itself when no round is running.
func (r *syncRounds) wait(run func() error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cond.L == nil {
		r.cond.L = &r.mu
	}
	// the round running now may have started before our frames were
	// taken: the next one is the first that surely covers them
	target := r.started + 1
	for r.done < target {
		if r.running {
			r.cond.Wait()
			continue
		}
		r.running = true
		r.started++
		round := r.started
		r.mu.Unlock()
		err := run()
		r.mu.Lock()
		r.running = false
		r.done = round
		r.err = err
		r.cond.Broadcast()
	}
	return r.err
}

// keyBarrierOr is serveConn's durability wait in always mode: a key
// subscriber (which may have written frames taken from its pending buffer)
// waits for keyBarrier, other connections for the writes appended so far.
func (s *Server) keyBarrierOr(c *Client) error {
	if c.keySubscriber.Load() {
		err := s.keyBarrier()
		if err != nil {
			c.closeConn() // its frames must not go out
		}
		return err
	}
	return s.store.WaitDurable(s.store.LastSeq())
}
