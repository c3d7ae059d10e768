package server

import (
	"github.com/luxdb/lux-go/storage"
)

func init() {
	register(
		&Command{Name: "multi", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagNoMulti | FlagNoLock, Handler: cmdMulti, Group: "transactions", Summary: "Starts a transaction."},
		&Command{Name: "exec", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagNoMulti | FlagNoLock, Handler: cmdExec, Group: "transactions", Summary: "Executes all commands in a transaction."},
		&Command{Name: "discard", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagNoMulti | FlagNoLock, Handler: cmdDiscard, Group: "transactions", Summary: "Discards a transaction."},
		&Command{Name: "watch", Arity: -2, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagNoMulti, FirstKey: 1, LastKey: -1, Handler: cmdWatch, Group: "transactions", Summary: "Monitors changes to keys to determine the execution of a transaction."},
		&Command{Name: "unwatch", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagNoLock, Handler: cmdUnwatch, Group: "transactions", Summary: "Forgets about watched keys of a transaction."},
	)
}

func cmdMulti(c *Client, args [][]byte) {
	if c.multi {
		c.WriteError(msgMultiNested)
		return
	}
	c.multi, c.multiErr = true, false
	c.queue = c.queue[:0]
	c.WriteOK()
}

func (c *Client) resetMulti() {
	c.multi, c.multiErr = false, false
	c.multiMem = 0
	for i := range c.queue {
		c.queue[i] = queued{}
	}
	c.queue = c.queue[:0]
}

func cmdDiscard(c *Client, args [][]byte) {
	if !c.multi {
		c.WriteError(msgDiscardNoMulti)
		return
	}
	c.resetMulti()
	c.unwatchAll()
	c.WriteOK()
}

// cmdExec runs the queued commands atomically: the shards of every key they
// name (and of every watched key) are locked once for the whole transaction,
// so no other client's command interleaves.
func cmdExec(c *Client, args [][]byte) {
	s := c.srv
	if !c.multi {
		c.WriteError(msgExecNoMulti)
		return
	}
	if c.multiErr {
		c.resetMulti()
		c.unwatchAll()
		c.WriteError(msgExecAbort)
		return
	}
	queue := c.queue
	var ls storage.LockSet
	db := c.db
	var scratch [][]byte
	denyOOM := false
	for _, q := range queue {
		scratch = s.addLocks(q.cmd, db, q.args, &ls, scratch)
		if q.cmd.Name == "select" {
			// a SELECT inside the transaction moves the later commands' keys
			if n, ok := parseInt(q.args[1]); ok && n >= 0 && n < storage.NumDBs {
				db = int(n)
			}
		}
		if q.cmd.Flags&FlagDenyOOM != 0 {
			denyOOM = true
		}
	}
	for _, w := range c.watched {
		ls.Add(s.store.ShardOf(w.db, []byte(w.key)))
	}
	if denyOOM {
		if err := s.store.EnsureMemory(); err != nil {
			c.resetMulti()
			c.unwatchAll()
			c.WriteError("EXECABORT Transaction discarded because of: " + msgOOM)
			return
		}
	}
	s.store.Lock(&ls)
	// table commands in the queue: the tables lock is taken after the shard
	// locks (the order FLUSHDB uses too) and held for the whole transaction
	unlockTables := func() {}
	if queueHasTables(c) {
		unlock := s.tablesWriteLock()
		c.tablesHeld = true
		unlockTables = func() { c.tablesHeld = false; unlock() }
	}
	if c.watchAborted() {
		unlockTables()
		s.store.Unlock(&ls)
		c.resetMulti()
		c.unwatchAll()
		c.WriteNullArray()
		return
	}
	c.multi = false
	c.inExec = true
	// the queue's writes reach the disk as one batch: a crash leaves all of
	// the transaction or none of it. Not when a queued command waits for the
	// durable store itself (whole-keyspace commands, tables, admin).
	c.execHolds = queueCanHoldCommits(queue)
	if c.execHolds {
		s.store.Hold()
	}
	c.WriteArray(len(queue))
	for _, q := range queue {
		// the rules may have changed since the command was queued
		if u := c.user.Load(); u == nil || !u.p().unrestricted {
			if !s.aclCheckCall(c, q.cmd, q.args, true) {
				continue
			}
		}
		s.call(c, q.cmd, q.args)
	}
	if c.execHolds {
		c.execHolds = false
		s.store.Release()
	}
	c.inExec = false
	unlockTables()
	s.store.Unlock(&ls)
	c.resetMulti()
	c.unwatchAll()
}

// queueCanHoldCommits reports whether no queued command may wait for the
// durable store (which Store.Hold would deadlock).
func queueCanHoldCommits(queue []queued) bool {
	for _, q := range queue {
		if q.cmd.Flags&noHoldFlags != 0 {
			return false
		}
	}
	return true
}

// watchAborted reports whether EXEC must fail: a watched key was modified, or
// expired after it was watched (the caller holds the watched keys' shards).
func (c *Client) watchAborted() bool {
	if c.watch.Dirty() {
		return true
	}
	for _, w := range c.watched {
		if c.srv.store.DB(w.db).WatchExpired([]byte(w.key), &c.watch) {
			return true
		}
	}
	return false
}

func cmdWatch(c *Client, args [][]byte) {
	if c.multi {
		c.WriteError(msgWatchInMulti)
		return
	}
	db := c.DB()
	for _, k := range args[1:] {
		dup := false
		for _, w := range c.watched {
			if w.db == c.db && w.key == string(k) {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		db.Watch(k, &c.watch)
		c.watched = append(c.watched, watchedKey{db: c.db, key: string(k)})
	}
	c.WriteOK()
}

func cmdUnwatch(c *Client, args [][]byte) {
	c.unwatchAll()
	c.WriteOK()
}
