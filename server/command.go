package server

import (
	"strings"
	"sync/atomic"

	"github.com/luxdb/lux-go/storage"
)

// Flag describes a command for generic code: MULTI queueing, write detection
// for durability and the memory limit, subscribe mode, COMMAND INFO.
type Flag uint32

// Command flags (names as COMMAND INFO reports them).
const (
	FlagWrite          Flag = 1 << iota // modifies the keyspace
	FlagReadOnly                        // reads the keyspace
	FlagDenyOOM                         // may grow memory: refused/evicts over maxmemory
	FlagAdmin                           // server administration
	FlagPubSub                          // pub/sub command
	FlagNoScript                        // not allowed in scripts
	FlagBlocking                        // may block the client
	FlagLoading                         // allowed while loading
	FlagStale                           // allowed on a stale replica
	FlagNoAuth                          // allowed before AUTH
	FlagFast                            // O(1) or O(log N)
	FlagNoMulti                         // executed immediately even inside MULTI (EXEC, DISCARD, ...)
	FlagSubscribeOK                     // allowed in subscribe mode
	FlagLockDB                          // locks every shard of the current database
	FlagLockAll                         // locks every shard of every database
	FlagNoLock                          // touches no keyspace shard
	FlagLockDBInMemory                  // locks every shard of the current database without persistence (with it, the command reads Pebble)
	FlagTables                          // a table command: EXEC holds the tables write lock around the transaction
	FlagWaitsCommit                     // waits for the durable store while it runs (TALTER): never run under Store.Hold
	FlagNoTransaction                   // refused inside MULTI, which it dooms (KSUB, KUNSUB)
	FlagMayReplicate                    // not a write, but Redis would replicate it (PUBLISH, PFCOUNT): CLIENT PAUSE WRITE holds it
)

var flagNames = []struct {
	f    Flag
	name string
}{
	{FlagWrite, "write"}, {FlagReadOnly, "readonly"}, {FlagDenyOOM, "denyoom"},
	{FlagAdmin, "admin"}, {FlagPubSub, "pubsub"}, {FlagNoScript, "noscript"},
	{FlagBlocking, "blocking"}, {FlagLoading, "loading"}, {FlagStale, "stale"},
	{FlagNoAuth, "no_auth"}, {FlagFast, "fast"}, {FlagMayReplicate, "may_replicate"}, {FlagNoTransaction, "no_multi"},
}

// Handler executes a command. args[0] is the command name. It writes exactly
// one reply to c. Keys named by the command's key spec are locked.
type Handler func(c *Client, args [][]byte)

// Command is one row of the command table.
type Command struct {
	Name     string // lowercase
	Arity    int    // Redis convention: >0 exact, <0 at least -Arity
	Flags    Flag
	FirstKey int // 0 = no keys
	LastKey  int // negative counts from the end
	Step     int
	// Keys overrides the positional key spec (commands with numkeys arguments).
	Keys func(args [][]byte) [][]byte
	// LockDB, when it reports true for a call, locks every shard of the
	// current database instead of the keys' (SORT with BY/GET patterns,
	// which name keys only known while running).
	LockDB func(args [][]byte) bool
	// LockAll, when it reports true for a call, locks every shard of every
	// database (a script that may SELECT).
	LockAll func(s *Server, args [][]byte) bool
	// CallFlags, when set, gives the flags of one call where they depend on
	// its arguments (a script's shebang), as Redis's getCommandFlags: what
	// CLIENT PAUSE WRITE decides with.
	CallFlags func(s *Server, args [][]byte) Flag
	Handler   Handler
	Group     string // documentation group, for COMMAND DOCS
	Summary   string

	idx int // position in every Server's cmdStats, set by register
	// mayWait: the event loop hands the command to a goroutine (ioloop.go)
	mayWait bool
}

// commandStats are one command's INFO commandstats counters; each Server
// keeps its own (Server.cmdStats, indexed by Command.idx).
type commandStats struct {
	calls    atomic.Int64
	usec     atomic.Int64
	rejected atomic.Int64
	failed   atomic.Int64
	hist     [latBuckets]atomic.Int64 // durations (latency.go)
}

func (st *commandStats) reset() {
	st.calls.Store(0)
	st.usec.Store(0)
	st.rejected.Store(0)
	st.failed.Store(0)
	for i := range st.hist {
		st.hist[i].Store(0)
	}
}

// statsOf returns the server's counters for cmd.
func (s *Server) statsOf(cmd *Command) *commandStats { return &s.cmdStats[cmd.idx] }

// commands is the command table, filled by init functions and read-only
// afterwards.
var commands = map[string]*Command{}

// register adds commands to the table; each cmd_*.go file calls it from init.
func register(cmds ...*Command) {
	for _, c := range cmds {
		if c.Step == 0 && c.FirstKey > 0 {
			c.Step = 1
		}
		if commands[c.Name] != nil {
			panic("server: command " + c.Name + " registered twice")
		}
		c.idx = len(commands)
		commands[c.Name] = c
	}
}

// lookupCommand finds a command by name case-insensitively without allocating.
func lookupCommand(name []byte) *Command {
	var buf [32]byte
	if len(name) > len(buf) {
		return commands[strings.ToLower(string(name))]
	}
	for i, ch := range name {
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		buf[i] = ch
	}
	return commands[string(buf[:len(name)])]
}

// lookup is lookupCommand with a one-entry cache of the connection's last
// command name as sent: a pipeline mostly repeats one command, and comparing
// a few bytes costs less than lowering and hashing them.
func (c *Client) lookup(name []byte) *Command {
	if c.lastLookup != nil && string(name) == string(c.lastName[:c.lastNameLen]) {
		return c.lastLookup
	}
	cmd := lookupCommand(name)
	if cmd != nil && len(name) <= len(c.lastName) {
		c.lastNameLen = uint8(copy(c.lastName[:], name))
		c.lastLookup = cmd
	}
	return cmd
}

// keyArgs returns the key arguments of a call, per the command's key spec.
func (cmd *Command) keyArgs(args [][]byte, dst [][]byte) [][]byte {
	if cmd.Keys != nil {
		return append(dst, cmd.Keys(args)...)
	}
	if cmd.FirstKey <= 0 || cmd.FirstKey >= len(args) {
		return dst
	}
	last := cmd.LastKey
	if last < 0 {
		last = len(args) + last
	}
	if last >= len(args) {
		last = len(args) - 1
	}
	for i := cmd.FirstKey; i <= last; i += cmd.Step {
		dst = append(dst, args[i])
	}
	return dst
}

// addLocks adds the shards a call needs to ls.
func (s *Server) addLocks(cmd *Command, db int, args [][]byte, ls *storage.LockSet, scratch [][]byte) [][]byte {
	switch {
	case cmd.Flags&FlagNoLock != 0:
	case cmd.Flags&FlagLockAll != 0:
		ls.AddAll()
	case cmd.Flags&FlagLockDB != 0:
		ls.AddDB(db)
	case cmd.Flags&FlagLockDBInMemory != 0:
		if !s.store.Persistent() {
			ls.AddDB(db)
		}
	case cmd.LockAll != nil && cmd.LockAll(s, args):
		ls.AddAll()
	case cmd.LockDB != nil && cmd.LockDB(args):
		ls.AddDB(db)
	default:
		scratch = cmd.keyArgs(args, scratch[:0])
		for _, k := range scratch {
			ls.Add(s.store.ShardOf(db, k))
		}
	}
	return scratch
}

func (cmd *Command) arityOK(n int) bool {
	if cmd.Arity >= 0 {
		return n == cmd.Arity
	}
	return n >= -cmd.Arity
}

// unknownCommandMsg reproduces Redis's unknown-command error.
func unknownCommandMsg(args [][]byte) string {
	var b strings.Builder
	b.WriteString("ERR unknown command '")
	b.WriteString(truncate(string(args[0]), 128))
	b.WriteString("', with args beginning with: ")
	n := 0
	for _, a := range args[1:] {
		if n >= 128 {
			break
		}
		s := truncate(string(a), 128-n)
		part := "'" + s + "' "
		b.WriteString(part)
		n += len(part)
	}
	return sanitizeErr(b.String())
}

// sanitizeErr replaces newlines so an error stays one RESP line.
func sanitizeErr(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	}
	return s
}

// dispatch runs one request: lookup, arity, auth, subscribe-mode and MULTI
// rules, memory limit, then the handler under its shard locks.
func (s *Server) dispatch(c *Client, args [][]byte) {
	if c.replyMode != replyOn {
		// CLIENT REPLY SKIP silences exactly the next command
		switch c.replyMode {
		case replySkipNext:
			c.replyMode = replySkipThis
		case replySkipThis:
			c.setReplyMode(replyOn)
		}
	}
	if s.trk.clients.Load() != 0 {
		s.trackLimit() // tracking-table-max-keys, also before a command is queued (tracking.go)
	}
	// invalidations sent to this connection so far (by its own earlier
	// commands too) go before this command's reply, as in Redis
	c.writePending(c.trackQ.Load())
	c.argvMem = argsLen(args)
	cmd := c.lookup(args[0])
	s.stats.commands.Add(1)
	if cmd == nil {
		s.reject(c, nil, unknownCommandMsg(args))
		return
	}
	if !cmd.arityOK(len(args)) {
		s.reject(c, cmd, wrongArgsMsg(cmd.Name))
		return
	}
	if !c.authed && cmd.Flags&FlagNoAuth == 0 && s.authNeeded() {
		s.reject(c, cmd, msgNoAuth)
		return
	}
	if c.multi && cmd.Flags&FlagNoTransaction != 0 {
		s.reject(c, cmd, noTransactionMsg(cmd.Name))
		return
	}
	// ACL: a user allowed everything (the default user) costs one load
	if u := c.user.Load(); u == nil || !u.p().unrestricted {
		if !s.aclCheckCall(c, cmd, args, false) {
			return
		}
	}
	// a script past busy-reply-threshold: only a few commands are served
	if s.lua.busy.Load() != 0 && s.scriptBusyReject(c, cmd, args) {
		return
	}
	// RESP3 connections may run any command while subscribed (Redis 7.0)
	if c.resp == 2 && c.sub != nil && c.sub.Subscribed() && cmd.Flags&FlagSubscribeOK == 0 {
		c.WriteError(subscribeContextMsg(fullName(cmd, args)))
		s.statsOf(cmd).rejected.Add(1)
		return
	}
	// a failed data directory refuses writes and keeps serving reads
	if cmd.Flags&FlagWrite != 0 {
		if err := s.store.Err(); err != nil {
			s.reject(c, cmd, misconfMsg(err))
			return
		}
	}
	// a key whose record could not be read is served as absent by the
	// store: its reads answer the error instead
	if s.store.HasReadErrors() {
		for _, k := range cmd.keyArgs(args, nil) {
			if err := s.store.ReadError(k); err != nil {
				s.reject(c, cmd, "ERR "+sanitizeErr(err.Error()))
				return
			}
		}
	}
	// the memory check comes before queueing: Redis refuses a growing
	// command inside MULTI at queue time, which dooms the transaction
	// inside MULTI Redis refuses any queued command while over the limit
	if cmd.Flags&(FlagDenyOOM|FlagNoLock) == 0 && s.store.OverLimit() {
		// reads load cold keys: they make room as writes do (a miss never
		// waits for a timer or the next write); without persistence Redis
		// evicts before every command too. A command that touches no key
		// does not: eviction waits for shard locks, and SCRIPT KILL must
		// reach a script that holds them.
		s.releaseHeld(c)
		s.store.EnsureMemory()
		// invalidations of the keys just evicted go before this reply
		c.writePending(c.trackQ.Load())
	}
	if cmd.Flags&FlagDenyOOM != 0 || (c.multi && cmd.Flags&FlagNoMulti == 0) {
		if c.holding && s.store.MaxMemory() > 0 {
			s.releaseHeld(c) // eviction locks shards itself
		}
		if err := s.store.EnsureMemory(); err != nil {
			s.reject(c, cmd, msgOOM)
			return
		}
		c.writePending(c.trackQ.Load())
	}
	// a monitor is a replica to Redis: it may not touch the keyspace
	if c.monitor && cmd.Flags&(FlagWrite|FlagReadOnly|FlagMayReplicate) != 0 {
		s.reject(c, cmd, "ERR Replica can't interact with the keyspace")
		return
	}
	if c.multi && cmd.Flags&FlagNoMulti == 0 {
		c.multiMem += argsLen(args)
		c.queue = append(c.queue, queued{cmd: cmd, args: copyArgs(args)})
		c.WriteString("QUEUED")
		return
	}
	if s.pause.on.Load() && !c.monitor {
		s.waitPause(c, cmd, args) // CLIENT PAUSE; Redis never pauses a monitor (a replica)
	}
	s.call(c, cmd, args)
}

// reject answers a command that could not be queued or run; inside MULTI it
// also dooms the transaction, as Redis does.
func (s *Server) reject(c *Client, cmd *Command, msg string) {
	if cmd != nil {
		s.statsOf(cmd).rejected.Add(1)
		if cmd.Name == "exec" {
			// Redis answers a rejected EXEC as an aborted transaction,
			// even outside MULTI, and discards the transaction
			c.resetMulti()
			c.unwatchAll()
			c.WriteError("EXECABORT Transaction discarded because of: " + strings.TrimPrefix(msg, "ERR "))
			if s.mon.n.Load() != 0 {
				s.feedMonitors(c, [][]byte{[]byte("exec")}) // closes the MULTI monitors saw
			}
			return
		}
	}
	if c.multi {
		c.multiErr = true
	}
	c.WriteError(msg)
}

// call runs a handler under its locks and keeps the per-command statistics.
func (s *Server) call(c *Client, cmd *Command, args [][]byte) {
	c.cmd = cmd
	c.beginKeyEvents()
	var st *commandStats
	if s.subStats[cmd.idx] == nil { // no subcommands: no lookups by name
		c.cmdName, st = cmd.Name, &s.cmdStats[cmd.idx]
	} else {
		c.cmdName, st = fullName(cmd, args), s.statsFor(cmd, args)
	}
	st.calls.Add(1)
	var ns int64
	errs := c.errs
	if c.inExec {
		t0 := cputicks()
		if !c.execHolds && holdsCommits(cmd) {
			s.store.Hold()
			cmd.Handler(c, args)
			s.store.Release()
		} else {
			cmd.Handler(c, args)
		}
		ns = ticksNs(cputicks() - t0)
		if s.mon.n.Load() != 0 && !s.monitorSkips(cmd, args) {
			s.feedMonitors(c, args)
		}
		c.flushKeyEvents(cmd, args)
		if c.track.on {
			s.trackAfterCommand(c, cmd, args)
		}
	} else {
		c.locks.Reset()
		c.keys = s.addLocks(cmd, c.db, args, &c.locks, c.keys)
		// Consecutive commands of a pipeline on the same shards keep them
		// locked (a pipeline of 64 INCRs locks once, not 64 times: under
		// contention each handover costs microseconds). The held shards are
		// released when the next command needs others, before anything that
		// waits, and at the end of the batch.
		if !(c.holding && c.held.Equal(&c.locks)) {
			s.releaseHeld(c)
			s.store.Lock(&c.locks)
		}
		t0 := cputicks()
		s.runHeld(c, cmd, args)
		ns = ticksNs(cputicks() - t0)
		if s.mon.n.Load() != 0 && !s.monitorSkips(cmd, args) {
			s.feedMonitors(c, args) // a blocking command shows when it blocks, as in Redis 7.0
		}
		if c.block != nil {
			// blocked: recorded when the wait ends (serveBlocked)
			c.block.ns, ns = ns, -1
		}
		c.flushKeyEvents(cmd, args)
		if c.track.on {
			s.trackAfterCommand(c, cmd, args) // the shards are still locked
		}
		if c.block == nil && s.blocking.nready.Load() == 0 && c.locks.Len() > 0 && c.locks.Len() <= 4 {
			c.held.CopyFrom(&c.locks)
			c.holding = true
		} else {
			c.holding = false
			s.store.Unlock(&c.locks)
			s.afterCall(c, cmd, args) // blocking commands park here; ready keys are served
		}
	}
	if !c.inExec && s.trk.npending.Load() != 0 {
		s.trackSendBcast() // BCAST invalidations of this command (or EXEC)
	}
	if cmd.Flags&FlagWrite != 0 {
		c.wrote = true
	}
	if c.errs != errs {
		st.failed.Add(1)
	}
	if ns >= 0 {
		s.afterTimed(c, cmd, args, st, ns)
	}
}

// noHoldFlags mark the commands that may wait for the durable store while
// they run (whole-keyspace and admin commands, TALTER): holding the
// committer around them would deadlock.
const noHoldFlags = FlagWaitsCommit | FlagLockDB | FlagLockAll | FlagLockDBInMemory | FlagAdmin

// holdsCommits reports whether cmd's durable writes are held into one batch
// (Store.Hold) while it runs: every write command but noHoldFlags ones and
// table commands, which write one batch each already.
func holdsCommits(cmd *Command) bool {
	return cmd.Flags&FlagWrite != 0 && cmd.Flags&(noHoldFlags|FlagTables) == 0
}

// runHeld runs a handler outside EXEC (its locks taken); a write command's
// durable writes reach the disk in one batch, so a command that changes
// several keys (DEL a b, SMOVE, LMOVE, ...) is crash-atomic as a whole.
func (s *Server) runHeld(c *Client, cmd *Command, args [][]byte) {
	if !holdsCommits(cmd) {
		cmd.Handler(c, args)
		return
	}
	s.store.Hold()
	cmd.Handler(c, args)
	s.store.Release()
}

// releaseHeld unlocks the shards a pipeline kept locked from its previous command.
func (s *Server) releaseHeld(c *Client) {
	if c.holding {
		c.holding = false
		s.store.Unlock(&c.held)
	}
}

// argsLen is the bytes of a command's arguments (Redis's argv_len_sum).
func argsLen(args [][]byte) int {
	n := 0
	for _, a := range args {
		n += len(a)
	}
	return n
}

func copyArgs(args [][]byte) [][]byte {
	n := 0
	for _, a := range args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(args))
	for i, a := range args {
		buf = append(buf, a...)
		out[i] = buf[len(buf)-len(a):]
	}
	return out
}
