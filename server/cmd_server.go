package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/luxdb/lux-go/storage"
)

// Server administration: keyspace-wide commands (DBSIZE, FLUSHDB, FLUSHALL),
// INFO, persistence (SAVE, BGSAVE, LASTSAVE, SHUTDOWN), CONFIG, DEBUG and the
// compatibility no-ops client libraries and the Redis test suite expect
// (FUNCTION FLUSH, SCRIPT FLUSH, WAIT, ROLE).

func init() {
	const admin = FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagNoLock
	register(
		&Command{Name: "dbsize", Arity: 1, Flags: FlagReadOnly | FlagFast | FlagNoLock, Handler: cmdDBSize, Group: "server", Summary: "Returns the number of keys in the database."},
		&Command{Name: "flushdb", Arity: -1, Flags: FlagWrite | FlagLockDB, Handler: cmdFlushDB, Group: "server", Summary: "Removes all keys from the current database."},
		&Command{Name: "flushall", Arity: -1, Flags: FlagWrite | FlagLockAll, Handler: cmdFlushAll, Group: "server", Summary: "Removes all keys from all databases."},
		&Command{Name: "swapdb", Arity: 3, Flags: FlagWrite | FlagFast | FlagLockAll, Handler: cmdSwapDB, Group: "server", Summary: "Swaps two Redis databases."},
		// INFO locks everything for a consistent keyspace section; it is rare
		// enough that the pause does not matter.
		&Command{Name: "info", Arity: -1, Flags: FlagLoading | FlagStale | FlagLockAll, Handler: cmdInfo, Group: "server", Summary: "Returns information and statistics about the server."},
		&Command{Name: "time", Arity: 1, Flags: FlagLoading | FlagStale | FlagFast | FlagNoLock, Handler: cmdTime, Group: "server", Summary: "Returns the server time."},
		&Command{Name: "lastsave", Arity: 1, Flags: FlagLoading | FlagStale | FlagFast | FlagNoLock, Handler: cmdLastSave, Group: "server", Summary: "Returns the Unix timestamp of the last successful save to disk."},
		&Command{Name: "save", Arity: 1, Flags: FlagAdmin | FlagNoScript | FlagNoLock, Handler: cmdSave, Group: "server", Summary: "Synchronously saves the database(s) to disk."},
		&Command{Name: "bgsave", Arity: -1, Flags: FlagAdmin | FlagNoScript | FlagNoLock, Handler: cmdBgSave, Group: "server", Summary: "Asynchronously saves the database(s) to disk."},
		&Command{Name: "bgrewriteaof", Arity: 1, Flags: FlagAdmin | FlagNoScript | FlagNoLock, Handler: cmdBgRewriteAOF, Group: "server", Summary: "Asynchronously rewrites the append-only file to disk."},
		&Command{Name: "shutdown", Arity: -1, Flags: admin, Handler: cmdShutdown, Group: "server", Summary: "Synchronously saves the database(s) to disk and shuts down the Redis server."},
		&Command{Name: "config", Arity: -2, Flags: FlagNoLock, Handler: cmdConfig, Group: "server", Summary: "A container for server configuration commands."},
		&Command{Name: "debug", Arity: -2, Flags: admin &^ FlagNoLock, Keys: debugKeys, Handler: cmdDebug, Group: "server", Summary: "A container for debugging commands."},
		&Command{Name: "memory", Arity: -2, Keys: memoryKeys, Handler: cmdMemory, Group: "server", Summary: "A container for memory diagnostics commands."},
		&Command{Name: "script", Arity: -2, Flags: FlagNoLock, Handler: cmdScript, Group: "scripting", Summary: "A container for Lua scripts management commands."},
		&Command{Name: "role", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagNoLock, Handler: cmdRole, Group: "server", Summary: "Returns the replication role."},
		&Command{Name: "wait", Arity: 3, Flags: FlagNoScript | FlagNoLock, Handler: cmdWait, Group: "generic", Summary: "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed."},
	)
	const cfg = FlagAdmin | FlagNoScript | FlagLoading | FlagStale
	registerSubcommands("config",
		&subCommand{Name: "get", Arity: -3, Flags: cfg, Handler: configGet, Summary: "Returns the effective values of configuration parameters."},
		&subCommand{Name: "set", Arity: -4, Flags: cfg, Handler: configSet, Summary: "Sets configuration parameters in-flight."},
		&subCommand{Name: "resetstat", Arity: 2, Flags: cfg, Handler: configResetStat, Summary: "Resets the server's statistics."},
		&subCommand{Name: "rewrite", Arity: 2, Flags: cfg, Handler: configRewrite, Summary: "Persists the effective configuration to file."},
		&subCommand{Name: "help", Arity: 2, Flags: FlagLoading | FlagStale, Handler: configHelp, Summary: "Returns helpful text about the different subcommands."},
	)
	registerSubcommands("memory",
		&subCommand{Name: "usage", Arity: -3, Flags: FlagReadOnly, FirstKey: 2, LastKey: 2, Handler: memoryUsage, Summary: "Estimates the memory usage of a key."},
		&subCommand{Name: "doctor", Arity: 2, Handler: memoryDoctor, Summary: "Outputs a memory problems report."},
		&subCommand{Name: "stats", Arity: 2, Handler: memoryStats, Summary: "Returns details about memory usage."},
		&subCommand{Name: "purge", Arity: 2, Handler: memoryPurge, Summary: "Asks the allocator to release memory."},
		&subCommand{Name: "help", Arity: 2, Flags: FlagLoading | FlagStale, Handler: memoryHelp, Summary: "Returns helpful text about the different subcommands."},
	)
	registerSubcommands("script",
		&subCommand{Name: "flush", Arity: -2, Flags: FlagNoScript, Handler: scriptFlush, Summary: "Removes all server-side Lua scripts from the script cache."},
		&subCommand{Name: "help", Arity: 2, Flags: FlagLoading | FlagStale, Handler: scriptHelp, Summary: "Returns helpful text about the different subcommands."},
	)
}

// Redis's texts for this file's errors.
const (
	msgNoConfigFile     = "ERR The server is running without a config file"
	msgShutdownFailed   = "ERR Errors trying to SHUTDOWN. Check logs."
	msgNoShutdown       = "ERR No shutdown in progress."
	msgShutdownDeny     = "ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client"
	msgBgsaveStarted    = "Background saving started"
	msgAOFRewriteStart  = "Background append only file rewriting started"
	msgWaitTimeout      = "ERR timeout is not an integer or out of range"
	msgSaveFailed       = "ERR"
	msgFunctionFlushOpt = "ERR FUNCTION FLUSH only supports SYNC|ASYNC option"
	msgScriptFlushOpt   = "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
	msgDebugProtocol    = "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"
	msgPackedThreshold  = "ERR argument must be a memory value bigger than 1 and smaller than 4gb"
)

// ---- per-server administrative state ----

// adminState (Server.admin) is what INFO and DEBUG keep beyond Server's
// counters: identity, save history and the instantaneous-rate sampler.
type adminState struct {
	runID   string
	replID  atomic.Pointer[string]
	saves   atomic.Int64
	saveErr atomic.Bool
	peakMem atomic.Int64

	samplerOnce  sync.Once
	mu           sync.Mutex
	ops, in, out rateSampler
}

// init gives a new server its identity.
func (a *adminState) init() {
	a.runID = randomHex40()
	id := randomHex40()
	a.replID.Store(&id)
}

func randomHex40() string {
	var b [20]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// rateSampler turns a monotonically growing counter into an instantaneous
// per-second rate the way Redis does: a sample every 100 ms, the rate being
// the mean of the last 16 samples.
type rateSampler struct {
	lastAt  time.Time
	lastVal int64
	samples [16]float64
	idx     int
}

func (r *rateSampler) add(now time.Time, v int64) {
	if !r.lastAt.IsZero() {
		if dt := now.Sub(r.lastAt).Seconds(); dt > 0 {
			r.samples[r.idx] = float64(v-r.lastVal) / dt
			r.idx = (r.idx + 1) % len(r.samples)
		}
	}
	r.lastAt, r.lastVal = now, v
}

func (r *rateSampler) rate() float64 {
	sum := 0.0
	for _, v := range r.samples {
		sum += v
	}
	return sum / float64(len(r.samples))
}

// startSampler runs the rate sampler from the first INFO on until the server
// closes, so a server nobody asks for statistics pays nothing.
func (s *Server) startSampler(a *adminState) {
	a.samplerOnce.Do(func() {
		a.sample(s)
		if !s.track() {
			return
		}
		go func() {
			defer s.wg.Done()
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-s.quit:
					return
				case <-t.C:
					a.sample(s)
				}
			}
		}()
	})
}

func (a *adminState) sample(s *Server) {
	defer s.useStore()()
	now := time.Now()
	a.mu.Lock()
	a.ops.add(now, s.stats.commands.Load())
	a.in.add(now, s.stats.netIn.Load())
	a.out.add(now, s.stats.netOut.Load())
	a.mu.Unlock()
	a.notePeak(s.store.UsedMemory())
}

func (a *adminState) notePeak(used int64) {
	for {
		p := a.peakMem.Load()
		if used <= p || a.peakMem.CompareAndSwap(p, used) {
			return
		}
	}
}

// ---- keyspace-wide commands ----

func cmdDBSize(c *Client, args [][]byte) { c.WriteInt(c.DB().Size()) }

// flushArgOK validates FLUSHDB/FLUSHALL's optional ASYNC|SYNC. Both flush
// synchronously: memory is dropped at once and the disk side is one range
// deletion either way.
func flushArgOK(c *Client, args [][]byte) bool {
	if len(args) > 2 || (len(args) == 2 && !eqFold(args[1], "async") && !eqFold(args[1], "sync")) {
		c.WriteError(msgSyntax)
		return false
	}
	return true
}

func cmdFlushDB(c *Client, args [][]byte) {
	if !flushArgOK(c, args) {
		return
	}
	if err := c.DB().Flush(); err != nil {
		c.WriteError(misconfMsg(err))
		return
	}
	c.srv.flushTables(c)      // tables are not per database: FLUSHDB removes them too (contract)
	c.srv.trackFlush()        // also forgets remembered keys of clients that stopped tracking
	c.srv.wakeBlockedDB(c.db) // XREADGROUP waiters learn their stream is gone
	c.WriteOK()
}

func cmdFlushAll(c *Client, args [][]byte) {
	if !flushArgOK(c, args) {
		return
	}
	for i := 0; i < storage.NumDBs; i++ {
		if err := c.srv.store.DB(i).Flush(); err != nil {
			c.WriteError(misconfMsg(err))
			return
		}
		c.srv.wakeBlockedDB(i) // XREADGROUP waiters learn their stream is gone
	}
	c.srv.flushTables(c)
	c.srv.trackFlush() // also forgets remembered keys of clients that stopped tracking
	c.WriteOK()
}

// cmdSwapDB exchanges two databases (storage.SwapDBs). Clients blocked on
// a key of either database are woken: the key may exist there now.
func cmdSwapDB(c *Client, args [][]byte) {
	a, ok := parseInt(args[1])
	if !ok || a != int64(int32(a)) {
		c.WriteError("ERR invalid first DB index")
		return
	}
	b, ok := parseInt(args[2])
	if !ok || b != int64(int32(b)) {
		c.WriteError("ERR invalid second DB index")
		return
	}
	if a < 0 || a >= storage.NumDBs || b < 0 || b >= storage.NumDBs {
		c.WriteError("ERR DB index is out of range")
		return
	}
	s := c.srv
	if err := s.store.SwapDBs(int(a), int(b)); err != nil {
		if errors.Is(err, storage.ErrSwapLoading) {
			c.WriteError(err.Error())
		} else {
			c.WriteError(misconfMsg(err))
		}
		return
	}
	if a != b {
		s.wakeBlockedDB(int(a))
		s.wakeBlockedDB(int(b))
	}
	c.WriteOK()
}

// ---- time and persistence ----

func cmdTime(c *Client, args [][]byte) {
	now := time.Now()
	c.WriteArray(2)
	c.WriteBulkString(strconv.FormatInt(now.Unix(), 10))
	c.WriteBulkString(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

func cmdLastSave(c *Client, args [][]byte) { c.WriteInt64(c.srv.store.StatsRef().LastSave.Load()) }

// checkpoint makes every acknowledged write durable (commit and fsync) and
// records the outcome for INFO persistence.
func (s *Server) checkpoint() error {
	a := &s.admin
	err := s.store.Checkpoint()
	a.saveErr.Store(err != nil)
	if err != nil {
		logf("checkpoint failed: %v", err)
		return err
	}
	a.saves.Add(1)
	return nil
}

func cmdSave(c *Client, args [][]byte) {
	if c.srv.checkpoint() != nil {
		c.WriteError(msgSaveFailed)
		return
	}
	c.WriteOK()
}

// cmdBgSave checkpoints before replying: a checkpoint is one commit and
// fsync, short enough that running it in the background would only make
// "saved" ambiguous.
func cmdBgSave(c *Client, args [][]byte) {
	if len(args) > 2 || (len(args) == 2 && !eqFold(args[1], "schedule")) {
		c.WriteError(msgSyntax)
		return
	}
	if c.srv.checkpoint() != nil {
		c.WriteError(msgSaveFailed)
		return
	}
	c.WriteString(msgBgsaveStarted)
}

// cmdBgRewriteAOF stands in for Redis's log rewrite: Pebble compacts its own
// log, so the durable equivalent is a checkpoint.
func cmdBgRewriteAOF(c *Client, args [][]byte) {
	if c.srv.checkpoint() != nil {
		c.WriteError(msgSaveFailed)
		return
	}
	c.WriteString(msgAOFRewriteStart)
}

func cmdShutdown(c *Client, args [][]byte) {
	var nosave, save, now, force, abort bool
	for _, a := range args[1:] {
		switch {
		case eqFold(a, "nosave"):
			nosave = true
		case eqFold(a, "save"):
			save = true
		case eqFold(a, "now"):
			now = true
		case eqFold(a, "force"):
			force = true
		case eqFold(a, "abort"):
			abort = true
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	if (abort && (nosave || save || now || force)) || (nosave && save) {
		c.WriteError(msgSyntax)
		return
	}
	if abort {
		c.WriteError(msgNoShutdown)
		return
	}
	if c.inExec && !now {
		c.WriteError(msgShutdownDeny)
		return
	}
	s := c.srv
	if !nosave && s.store.Persistent() {
		if err := s.checkpoint(); err != nil && !force {
			c.WriteError(msgShutdownFailed)
			return
		}
	}
	logf("User requested shutdown...")
	// like Redis, the client gets no reply: its connection just closes
	c.quit = true
	s.requestShutdown()
}

// ---- CONFIG ----

func cmdConfig(c *Client, args [][]byte) { runSubcommand(c, args, "config") }

func configGet(c *Client, args [][]byte) {
	patterns := make([]string, 0, len(args)-2)
	for _, a := range args[2:] {
		patterns = append(patterns, string(a))
	}
	kv := c.srv.conf.get(patterns) // name, value, name, value…
	c.WriteMap(len(kv) / 2)
	for _, s := range kv {
		c.WriteBulkString(s)
	}
}

func configSet(c *Client, args [][]byte) {
	if len(args)%2 != 0 {
		c.WriteError(msgSyntax)
		return
	}
	if msg := c.srv.conf.set(args[2:]); msg != "" {
		c.WriteError(msg)
		return
	}
	// lowering maxmemory evicts at once, as Redis does, not at the next
	// write; inside EXEC the transaction holds shard locks eviction needs,
	// so it runs as soon as EXEC releases them
	if c.srv.store.OverLimit() {
		if c.inExec {
			go c.srv.store.EnsureMemory()
		} else {
			_ = c.srv.store.EnsureMemory() // noeviction refuses later writes instead
		}
	}
	c.WriteOK()
}

func configResetStat(c *Client, args [][]byte) {
	c.srv.resetStats()
	c.WriteOK()
}

// resetStats zeroes what CONFIG RESETSTAT resets in Redis: command, network,
// connection and keyspace counters (not the save history).
func (s *Server) resetStats() {
	for i := range s.cmdStats {
		s.cmdStats[i].reset()
	}
	for _, subs := range s.subStats {
		for _, st := range subs {
			st.reset()
		}
	}
	s.stats.commands.Store(0)
	s.stats.connections.Store(0)
	s.stats.rejectedConns.Store(0)
	s.stats.netIn.Store(0)
	s.stats.netOut.Store(0)
	s.stats.pubsubMsgs.Store(0)
	s.errors.reset()
	st := s.store.StatsRef()
	st.ExpiredKeys.Store(0)
	st.EvictedKeys.Store(0)
	st.KeyspaceHits.Store(0)
	st.KeyspaceMiss.Store(0)
	st.DiskLoads.Store(0)
	a := &s.admin
	a.peakMem.Store(s.store.UsedMemory())
	a.mu.Lock()
	a.ops, a.in, a.out = rateSampler{}, rateSampler{}, rateSampler{}
	a.mu.Unlock()
}

func configRewrite(c *Client, args [][]byte) { c.WriteError(msgNoConfigFile) }

func configHelp(c *Client, args [][]byte) {
	writeHelp(c, args[0],
		"GET <pattern>",
		"    Return parameters matching the glob-like <pattern> and their values.",
		"SET <directive> <value>",
		"    Set the configuration <directive> to <value>.",
		"RESETSTAT",
		"    Reset statistics reported by the INFO command.",
		"REWRITE",
		"    Rewrite the configuration file.")
}

// ---- DEBUG ----

// debugKeys locks the key DEBUG OBJECT inspects; other subcommands touch no key.
func debugKeys(args [][]byte) [][]byte {
	switch {
	case len(args) == 3 && eqFold(args[1], "object"):
		return args[2:3]
	case len(args) >= 2 && eqFold(args[1], "digest-value"):
		return args[2:]
	}
	return nil
}

func cmdDebug(c *Client, args [][]byte) {
	s := c.srv
	n := len(args)
	switch sub := args[1]; {
	case eqFold(sub, "help") && n == 2:
		writeHelp(c, args[0],
			"CHANGE-REPL-ID",
			"    Change the replication IDs of the instance.",
			"DIGEST",
			"    Output a hex signature representing the current DB content.",
			"DIGEST-VALUE <key> [<key> ...]",
			"    Output a hex signature of the values of all the specified keys.",
			"ERROR <string>",
			"    Return a Redis protocol error with <string> as message.",
			"LOG <message>",
			"    Write <message> to the server log.",
			"OBJECT <key>",
			"    Show low level info about `key` and associated value.",
			"PROTOCOL <type>",
			"    Reply with a test value of the specified type.",
			"RELOAD [option ...]",
			"    Make every write durable (a checkpoint); the dataset is already in memory.",
			"LOADAOF",
			"    Same as RELOAD.",
			"SET-ACTIVE-EXPIRE <0|1>",
			"    Setting it to 0 disables expiring keys in background when they are not",
			"    accessed. Setting it to 1 reenables back the default.",
			"QUICKLIST-PACKED-THRESHOLD <size>",
			"    Accepted for compatibility.",
			"SLEEP <seconds>",
			"    Stop the connection for <seconds>. Decimals allowed.")
	case eqFold(sub, "sleep") && n == 3:
		// strtod semantics: an unparsable argument sleeps 0
		secs, _ := strconv.ParseFloat(string(args[2]), 64)
		if secs > 0 {
			// Close cuts it short: the connection is closed by then
			t := time.NewTimer(time.Duration(secs * float64(time.Second)))
			select {
			case <-t.C:
			case <-s.quit:
				t.Stop()
			}
		}
		c.WriteOK()
	case eqFold(sub, "digest") && n == 2:
		debugDigest(c)
	case eqFold(sub, "digest-value"):
		debugDigestValue(c, args[2:])
	case eqFold(sub, "set-active-expire") && n == 3:
		v, _ := strconv.Atoi(string(args[2]))
		s.store.SetActiveExpire(v != 0)
		c.WriteOK()
	case eqFold(sub, "object") && n == 3:
		debugObject(c, args[2])
	case eqFold(sub, "reload") || (eqFold(sub, "loadaof") && n == 2):
		for _, opt := range args[2:] {
			if !eqFold(opt, "merge") && !eqFold(opt, "noflush") && !eqFold(opt, "nosave") {
				c.WriteError("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
				return
			}
		}
		if s.checkpoint() != nil {
			c.WriteError(msgSaveFailed)
			return
		}
		c.WriteOK()
	case eqFold(sub, "change-repl-id") && n == 2:
		id := randomHex40()
		s.admin.replID.Store(&id)
		c.WriteOK()
	case eqFold(sub, "quicklist-packed-threshold") && n == 3:
		if v, ok := parseMemory(string(args[2])); !ok || v > 4<<30 {
			c.WriteError(msgPackedThreshold)
			return
		}
		c.WriteOK()
	case eqFold(sub, "set-disable-deny-scripts") && n == 3:
		v, _ := parseInt(args[2]) // atoi: anything else is 0
		c.srv.scriptDenyOff.Store(v != 0)
		c.WriteOK()
	case (eqFold(sub, "set-skip-checksum-validation") || eqFold(sub, "pause-cron") ||
		eqFold(sub, "aof-flush-sleep")) && n == 3:
		c.WriteOK()
	case eqFold(sub, "log") && n == 3:
		logf("DEBUG LOG: %s", args[2])
		c.WriteOK()
	case eqFold(sub, "error") && n == 3:
		c.WriteRaw([]byte("-" + sanitizeErr(string(args[2])) + "\r\n"))
	case eqFold(sub, "protocol") && n == 3:
		debugProtocol(c, args[2])
	default:
		c.WriteError(subSyntaxMsg(args))
	}
}

// debugObject writes Redis's DEBUG OBJECT line. The address, refcount and
// serialized length are placeholders in Redis's format; encoding, LRU clock
// and idle time are real.
func debugObject(c *Client, key []byte) {
	e := c.DB().Peek(key)
	if e == nil {
		c.WriteError(msgNoSuchKey)
		return
	}
	idle := e.Idle()
	lru := (time.Now().Unix() - idle) & (1<<24 - 1)
	var enc string
	var serLen int
	if e.Object() != nil {
		enc, serLen = e.Object().Encoding(), e.Object().MemSize()
	} else {
		enc, serLen = stringEncoding(e), rdbStringLen(e.Bytes())
	}
	c.WriteString(fmt.Sprintf("Value at:%p refcount:1 encoding:%s serializedlength:%d lru:%d lru_seconds_idle:%d",
		e, enc, serLen, lru, idle))
}

// rdbStringLen is the length of a string in Redis's RDB format: small
// integers are stored in 1, 2 or 4 bytes after a type byte.
func rdbStringLen(b []byte) int {
	if len(b) <= 11 {
		if n, ok := parseInt(b); ok {
			switch {
			case n >= -1<<7 && n < 1<<7:
				return 2
			case n >= -1<<15 && n < 1<<15:
				return 3
			case n >= -1<<31 && n < 1<<31:
				return 5
			}
		}
	}
	switch {
	case len(b) < 1<<6:
		return len(b) + 1
	case len(b) < 1<<14:
		return len(b) + 2
	default:
		return len(b) + 5
	}
}

// debugProtocol answers DEBUG PROTOCOL with each type as Redis 7.0 writes
// it in the connection's protocol.
func debugProtocol(c *Client, typ []byte) {
	switch strings.ToLower(string(typ)) {
	case "string":
		c.WriteBulkString("Hello World")
	case "integer":
		c.WriteInt(12345)
	case "double":
		c.WriteDouble(3.141)
	case "bignum":
		if c.resp == 3 {
			c.WriteRaw([]byte("(1234567999999999999999999999999999999\r\n"))
		} else {
			c.WriteBulkString("1234567999999999999999999999999999999")
		}
	case "null":
		c.WriteNull()
	case "array":
		c.WriteArray(3)
		for j := 0; j < 3; j++ {
			c.WriteInt(j)
		}
	case "set":
		c.WriteSet(3)
		for j := 0; j < 3; j++ {
			c.WriteInt(j)
		}
	case "map":
		c.WriteMap(3)
		for j := 0; j < 3; j++ {
			c.WriteInt(j)
			c.WriteBool(j == 1)
		}
	case "attrib":
		if c.resp == 3 {
			c.WriteRaw([]byte("|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n"))
		}
		c.WriteBulkString("Some real reply following the attribute")
	case "push":
		if c.resp != 3 {
			c.WriteError("ERR RESP2 is not supported by this command")
			return
		}
		c.WritePush(2)
		c.WriteBulkString("server-cpu-usage")
		c.WriteInt(42)
		c.WriteBulkString("Some real reply following the push reply")
	case "true":
		c.WriteBool(true)
	case "false":
		c.WriteBool(false)
	case "verbatim":
		c.WriteVerbatim([]byte("This is a verbatim\nstring"))
	default:
		c.WriteError(msgDebugProtocol)
	}
}

// ---- MEMORY ----

// memoryKeys locks the key MEMORY USAGE measures.
func memoryKeys(args [][]byte) [][]byte {
	if len(args) >= 3 && eqFold(args[1], "usage") {
		return args[2:3]
	}
	return nil
}

func cmdMemory(c *Client, args [][]byte) { runSubcommand(c, args, "memory") }

func memoryUsage(c *Client, args [][]byte) {
	for j := 3; j < len(args); j++ {
		if !eqFold(args[j], "samples") || j+1 >= len(args) {
			c.WriteError(msgSyntax)
			return
		}
		n, ok := parseInt(args[j+1])
		if !ok {
			c.WriteError(msgNotInt)
			return
		}
		if n < 0 {
			c.WriteError(msgSyntax)
			return
		}
		j++
	}
	e := c.DB().Peek(args[2])
	if e == nil {
		c.WriteNull()
		return
	}
	c.WriteInt64(e.MemUsage())
}

func memoryDoctor(c *Client, args [][]byte) {
	s := c.srv
	used, max := s.store.UsedMemory(), s.store.MaxMemory()
	var msg string
	switch {
	case used < 5<<20:
		msg = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n"
	case max > 0 && used > max:
		msg = "Sam, the hot tier is over maxmemory: cold keys are being evicted to disk (or writes refused under noeviction). Consider raising maxmemory.\n"
	default:
		msg = "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
	}
	c.WriteVerbatim([]byte(msg))
}

func memoryStats(c *Client, args [][]byte) {
	s := c.srv
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mi := s.store.Memory()
	used := mi.Total()
	a := &s.admin
	a.notePeak(used)
	c.WriteMap(6)
	c.WriteBulkString("peak.allocated")
	c.WriteInt64(a.peakMem.Load())
	c.WriteBulkString("total.allocated")
	c.WriteInt64(used)
	c.WriteBulkString("dataset.bytes")
	c.WriteInt64(used)
	c.WriteBulkString("allocator.allocated")
	c.WriteInt64(int64(ms.HeapAlloc))
	c.WriteBulkString("allocator.resident")
	c.WriteInt64(int64(ms.Sys - ms.HeapReleased))
	c.WriteBulkString("lux.gc-cycles")
	c.WriteInt64(int64(ms.NumGC))
}

func memoryPurge(c *Client, args [][]byte) {
	// hands freed heap back to the OS, the Go analogue of jemalloc's purge
	go runtime.GC()
	c.WriteOK()
}

func memoryHelp(c *Client, args [][]byte) {
	writeHelp(c, args[0],
		"DOCTOR",
		"    Return memory problems reports.",
		"MALLOC-STATS",
		"    Return internal statistics report from the memory allocator.",
		"PURGE",
		"    Attempt to purge dirty pages for reclamation by the allocator.",
		"STATS",
		"    Return information about the memory usage of the server.",
		"USAGE <key> [SAMPLES <count>]",
		"    Return memory in bytes used by <key> and its value. Nested values are",
		"    sampled up to <count> times (default: 5, 0 means sample all).")
}

// ---- SCRIPT ----

func cmdScript(c *Client, args [][]byte) { runSubcommand(c, args, "script") }

func scriptFlush(c *Client, args [][]byte) {
	if len(args) > 3 {
		c.WriteError(subSyntaxMsg(args))
		return
	}
	if len(args) == 3 && !eqFold(args[2], "async") && !eqFold(args[2], "sync") {
		c.WriteError(msgScriptFlushOpt)
		return
	}
	c.srv.lua.flush()
	c.WriteOK()
}

func scriptHelp(c *Client, args [][]byte) {
	writeHelp(c, args[0],
		"DEBUG (YES|SYNC|NO)",
		"    Set the debug mode for subsequent scripts executed.",
		"EXISTS <sha1> [<sha1> ...]",
		"    Return information about the existence of the scripts in the script cache.",
		"FLUSH [ASYNC|SYNC]",
		"    Flush the Lua scripts cache. Very dangerous on replicas.",
		"    When called without the optional mode argument, the behavior is determined by the",
		"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
		"    * ASYNC: Asynchronously flush the scripts cache.",
		"    * SYNC: Synchronously flush the scripts cache.",
		"KILL",
		"    Kill the currently executing Lua script.",
		"LOAD <script>",
		"    Load a script into the scripts cache without executing it.")
}

// ---- replication stand-ins: a lone master ----

func cmdRole(c *Client, args [][]byte) {
	c.WriteArray(3)
	c.WriteBulkString("master")
	c.WriteInt(0)
	c.WriteArray(0)
}

// cmdWait answers at once: there are no replicas to wait for.
func cmdWait(c *Client, args [][]byte) {
	if _, ok := parseInt(args[1]); !ok {
		c.WriteError(msgNotInt)
		return
	}
	t, ok := parseInt(args[2])
	if !ok {
		c.WriteError(msgWaitTimeout)
		return
	}
	if t < 0 {
		c.WriteError(msgTimeoutNeg)
		return
	}
	c.WriteInt(0)
}

// ---- INFO ----

// infoSections lists INFO's sections in Redis's order; def marks those the
// bare INFO (and "default") includes.
var infoSections = []struct {
	name string
	def  bool
	gen  func(s *Server, b *infoBuilder)
}{
	{"server", true, infoServer},
	{"clients", true, infoClients},
	{"memory", true, infoMemory},
	{"persistence", true, infoPersistence},
	{"stats", true, infoStats},
	{"replication", true, infoReplication},
	{"cpu", true, infoCPU},
	{"modules", true, func(*Server, *infoBuilder) {}},
	{"commandstats", false, infoCommandStats},
	{"errorstats", true, func(s *Server, b *infoBuilder) {
		for _, l := range s.errors.lines() {
			b.WriteString(l)
			b.WriteString("\r\n")
		}
	}},
	{"latencystats", false, infoLatencyStats},
	{"cluster", true, func(s *Server, b *infoBuilder) { b.field("cluster_enabled", "0") }},
	{"keyspace", true, infoKeyspace},
}

var infoTitles = map[string]string{
	"server": "Server", "clients": "Clients", "memory": "Memory", "persistence": "Persistence",
	"stats": "Stats", "replication": "Replication", "cpu": "CPU", "modules": "Modules",
	"commandstats": "Commandstats", "errorstats": "Errorstats", "latencystats": "Latencystats",
	"cluster": "Cluster", "keyspace": "Keyspace",
}

type infoBuilder struct{ strings.Builder }

func (b *infoBuilder) field(name, value string) {
	b.WriteString(name)
	b.WriteByte(':')
	b.WriteString(value)
	b.WriteString("\r\n")
}

func (b *infoBuilder) num(name string, v int64) { b.field(name, strconv.FormatInt(v, 10)) }

func cmdInfo(c *Client, args [][]byte) {
	c.WriteVerbatim([]byte(c.srv.infoString(args[1:])))
}

// infoString renders INFO for the requested section names with Redis's
// semantics: none = default sections, "all" = all but modules' own,
// "everything" = all; names are case-insensitive, unknown ones are ignored.
func (s *Server) infoString(req [][]byte) string {
	want := map[string]bool{}
	all := false
	if len(req) == 0 {
		want["default"] = true
	}
	for _, r := range req {
		n := strings.ToLower(string(r))
		switch n {
		case "all", "everything":
			all = true
		case "module_list":
			want["modules"] = true
		default:
			want[n] = true
		}
	}
	a := &s.admin
	s.startSampler(a)
	var b infoBuilder
	first := true
	for _, sec := range infoSections {
		if !all && !want[sec.name] && !(want["default"] && sec.def) {
			continue
		}
		if !first {
			b.WriteString("\r\n")
		}
		first = false
		b.WriteString("# " + infoTitles[sec.name] + "\r\n")
		sec.gen(s, &b)
	}
	return b.String()
}

// CommandsProcessed is INFO's total_commands_processed: the process's GC
// tuner watches it to tell when the server goes quiet.
func (s *Server) CommandsProcessed() int64 { return s.stats.commands.Load() }

func infoServer(s *Server, b *infoBuilder) {
	a := &s.admin
	now := time.Now()
	uptime := int64(now.Sub(s.start).Seconds())
	exe, _ := os.Executable()
	b.field("redis_version", Version)
	b.field("redis_git_sha1", "00000000")
	b.field("redis_git_dirty", "0")
	b.field("redis_build_id", "0")
	b.field("redis_mode", "standalone")
	b.field("os", runtime.GOOS+" "+runtime.GOARCH)
	b.field("arch_bits", strconv.Itoa(strconv.IntSize))
	b.field("monotonic_clock", "Go runtime monotonic clock")
	b.field("multiplexing_api", "goroutines")
	b.field("atomicvar_api", "sync/atomic")
	b.field("gcc_version", "0.0.0")
	b.num("process_id", int64(os.Getpid()))
	b.field("process_supervised", "no")
	b.field("run_id", a.runID)
	b.num("tcp_port", int64(s.listenPort()))
	b.num("server_time_usec", now.UnixMicro())
	b.num("uptime_in_seconds", uptime)
	b.num("uptime_in_days", uptime/86400)
	// the expiry cycle runs every 100 ms whatever CONFIG SET hz says
	b.field("hz", "10")
	b.field("configured_hz", s.conf.passiveValue("hz"))
	b.num("lru_clock", now.Unix()&(1<<24-1))
	b.field("executable", exe)
	b.field("config_file", "")
	b.field("io_threads_active", "0")
	b.field("lux_version", LuxVersion)
	b.field("lux_go_version", runtime.Version())
	b.num("lux_gomaxprocs", int64(runtime.GOMAXPROCS(0)))
	b.num("lux_shards", storage.NumDBs*storage.ShardsPerDB)
}

// listenPort is the actual port (the configured one may be 0 in tests).
func (s *Server) listenPort() int {
	if s.ln != nil {
		if a, ok := s.ln.Addr().(*net.TCPAddr); ok {
			return a.Port
		}
	}
	return s.cfg.Port
}

func infoClients(s *Server, b *infoBuilder) {
	s.clientsMu.Lock()
	n := 0
	for _, cl := range s.clients {
		if !cl.killed.Load() { // (as CLIENT LIST)
			n++
		}
	}
	s.clientsMu.Unlock()
	blocked := s.blockedClients() + int(s.pause.waiting.Load())
	b.num("connected_clients", int64(n))
	b.field("cluster_connections", "0")
	b.num("maxclients", s.maxClients.Load())
	// the largest input buffer (with its free room) and queued output of
	// any connection, from the state each published after its last batch
	var maxIn, maxOut int64
	for _, cl := range s.snapshotClients() {
		v := cl.publishedView()
		maxIn = max(maxIn, v.qbuf+v.qbufFree)
		maxOut = max(maxOut, cl.outQueued(v))
	}
	b.num("client_recent_max_input_buffer", maxIn)
	b.num("client_recent_max_output_buffer", maxOut)
	b.num("blocked_clients", int64(blocked))
	b.num("tracking_clients", s.trk.clients.Load())
	b.num("clients_in_timeout_table", s.blocking.ntimed.Load())
}

// bytesToHuman formats a byte count like Redis's INFO *_human fields.
func bytesToHuman(n int64) string {
	d := float64(n)
	switch {
	case n < 1024:
		return strconv.FormatInt(n, 10) + "B"
	case n < 1<<20:
		return fmt.Sprintf("%.2fK", d/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.2fM", d/(1<<20))
	case n < 1<<40:
		return fmt.Sprintf("%.2fG", d/(1<<30))
	case n < 1<<50:
		return fmt.Sprintf("%.2fT", d/(1<<40))
	default:
		return fmt.Sprintf("%.2fP", d/(1<<50))
	}
}

func infoMemory(s *Server, b *infoBuilder) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mi := s.store.Memory()
	used := mi.Total()
	a := &s.admin
	a.notePeak(used)
	peak := a.peakMem.Load()
	rss := int64(ms.Sys - ms.HeapReleased)
	max := s.store.MaxMemory()
	peakPerc := 100.0
	if peak > 0 {
		peakPerc = float64(used) * 100 / float64(peak)
	}
	frag := 0.0
	if used > 0 {
		frag = float64(rss) / float64(used)
	}
	b.num("used_memory", used)
	b.field("used_memory_human", bytesToHuman(used))
	b.num("used_memory_rss", rss)
	b.field("used_memory_rss_human", bytesToHuman(rss))
	b.num("used_memory_peak", peak)
	b.field("used_memory_peak_human", bytesToHuman(peak))
	b.field("used_memory_peak_perc", fmt.Sprintf("%.2f%%", peakPerc))
	b.num("used_memory_dataset", used)
	luaMem, scriptsMem, nScripts := s.scriptInfo()
	fnVM, fnMem, nFuncs, nLibs := s.functionsInfo()
	b.num("used_memory_lua", luaMem)
	b.num("used_memory_vm_eval", luaMem)
	b.field("used_memory_lua_human", bytesToHuman(luaMem))
	b.num("used_memory_scripts_eval", scriptsMem)
	b.num("number_of_cached_scripts", int64(nScripts))
	b.num("number_of_functions", int64(nFuncs))
	b.num("number_of_libraries", int64(nLibs))
	b.num("used_memory_vm_functions", fnVM)
	b.num("used_memory_vm_total", luaMem+fnVM)
	b.field("used_memory_vm_total_human", bytesToHuman(luaMem+fnVM))
	b.num("used_memory_functions", fnMem)
	b.num("used_memory_scripts", scriptsMem+fnMem)
	b.field("used_memory_scripts_human", bytesToHuman(scriptsMem+fnMem))
	b.num("maxmemory", max)
	b.field("maxmemory_human", bytesToHuman(max))
	b.field("maxmemory_policy", s.maxmemoryPolicy())
	b.field("mem_fragmentation_ratio", fmt.Sprintf("%.2f", frag))
	b.field("mem_allocator", "go")
	// Redis leaves replication and AOF buffers out of the eviction check;
	// lux has neither: all of used_memory counts against maxmemory
	b.field("mem_not_counted_for_evict", "0")
	b.field("lazyfree_pending_objects", "0")
	b.num("lux_hot_memory", mi.Hot)
	b.num("lux_key_index_memory", mi.Index)
	b.num("lux_tables_memory", s.store.TableMemory())
	b.num("lux_tables_rows_memory", s.tables().RowBytes())
	b.num("lux_tables_rows_read", s.tables().RowsRead())
	b.num("lux_vector_index_memory", s.store.VecMemory())
	b.num("lux_vector_graph_pending", s.store.VecPending())
	b.num("lux_pending_writes_memory", mi.Pending)
	b.num("lux_pebble_cache_memory", mi.PebbleCache)
	b.num("lux_pebble_memtables_memory", mi.PebbleTables)
	b.num("lux_heap_alloc", int64(ms.HeapAlloc))
	b.num("lux_heap_sys", int64(ms.HeapSys))
	b.num("lux_gc_cycles", int64(ms.NumGC))
	b.num("lux_goroutines", int64(runtime.NumGoroutine()))
}

func (s *Server) maxmemoryPolicy() string { return s.store.Policy().String() }

func infoPersistence(s *Server, b *infoBuilder) {
	st := s.store.StatsRef()
	p := s.store.Persistence()
	a := &s.admin
	status := "ok"
	if a.saveErr.Load() {
		status = "err"
	}
	writeStatus := "ok"
	if p.Errors > 0 {
		writeStatus = "err"
	}
	aof := "0"
	if p.Enabled {
		aof = "1"
	}
	b.field("loading", "0")
	b.field("async_loading", "0")
	b.num("rdb_changes_since_last_save", st.Changes.Load())
	b.field("rdb_bgsave_in_progress", "0")
	b.num("rdb_last_save_time", st.LastSave.Load())
	b.field("rdb_last_bgsave_status", status)
	b.field("rdb_last_bgsave_time_sec", "0")
	b.field("rdb_current_bgsave_time_sec", "-1")
	b.num("rdb_saves", a.saves.Load())
	b.field("aof_enabled", aof)
	b.field("aof_rewrite_in_progress", "0")
	b.field("aof_rewrite_scheduled", "0")
	b.field("aof_last_bgrewrite_status", "ok")
	b.field("aof_last_write_status", writeStatus)
	b.field("module_fork_in_progress", "0")
	persist := "off"
	if p.Enabled {
		persist = "on"
	}
	b.field("lux_persistence", persist)
	b.field("lux_appendfsync", p.Mode)
	b.field("lux_data_dir", s.store.Dir())
	b.num("lux_last_fsync_time", p.LastSync)
	b.num("lux_commits", p.Commits)
	b.num("lux_fsyncs", p.Fsyncs)
	b.num("lux_sync_errors", p.Errors)
	b.num("lux_disk_bytes", int64(p.DiskSize))
	b.num("lux_pending_bytes", int64(p.PendingBytes))
}

func infoStats(s *Server, b *infoBuilder) {
	st := s.store.StatsRef()
	a := &s.admin
	a.mu.Lock()
	ops, in, out := a.ops.rate(), a.in.rate(), a.out.rate()
	a.mu.Unlock()
	b.num("total_connections_received", s.stats.connections.Load())
	b.num("total_commands_processed", s.stats.commands.Load())
	b.num("instantaneous_ops_per_sec", int64(ops))
	b.num("total_net_input_bytes", s.stats.netIn.Load())
	b.num("total_net_output_bytes", s.stats.netOut.Load())
	b.field("total_net_repl_input_bytes", "0")
	b.field("total_net_repl_output_bytes", "0")
	b.field("instantaneous_input_kbps", fmt.Sprintf("%.2f", in/1024))
	b.field("instantaneous_output_kbps", fmt.Sprintf("%.2f", out/1024))
	b.num("rejected_connections", s.stats.rejectedConns.Load())
	b.num("total_error_replies", s.errors.total.Load())
	b.field("sync_full", "0")
	b.field("sync_partial_ok", "0")
	b.field("sync_partial_err", "0")
	b.num("expired_keys", st.ExpiredKeys.Load())
	b.field("expired_stale_perc", "0.00")
	b.num("expired_time_cap_reached_count", st.ExpireCapReached.Load())
	b.num("evicted_keys", st.EvictedKeys.Load())
	b.field("evicted_clients", "0")
	b.num("keyspace_hits", st.KeyspaceHits.Load())
	b.num("keyspace_misses", st.KeyspaceMiss.Load())
	b.num("pubsub_channels", int64(len(s.hub.Channels(nil))))
	b.num("pubsub_patterns", int64(s.hub.NumPat()))
	b.num("pubsubshard_channels", int64(len(s.hub.ShardChannels(nil))))
	b.field("latest_fork_usec", "0")
	b.field("total_forks", "0")
	b.field("migrate_cached_sockets", "0")
	keys, items, prefixes := s.trk.totals()
	b.num("tracking_total_keys", keys)
	b.num("tracking_total_items", items)
	b.num("tracking_total_prefixes", prefixes)
	b.num("lux_pubsub_messages", s.stats.pubsubMsgs.Load())
	b.num("lux_disk_loads", st.DiskLoads.Load())
	b.num("lux_disk_misses", st.DiskMisses.Load())
	hits := st.KeyspaceHits.Load()
	ratio := 1.0
	if hits > 0 {
		ratio = float64(hits-min(hits, st.DiskLoads.Load())) / float64(hits)
	}
	b.field("lux_cache_hit_ratio", fmt.Sprintf("%.4f", ratio))
	hot, all := 0, 0
	for i := 0; i < storage.NumDBs; i++ {
		db := s.store.DB(i)
		hot += db.Resident()
		all += db.Size()
	}
	b.num("lux_hot_keys", int64(hot))
	b.num("lux_cold_keys", int64(max(0, all-hot)))
	hotRows, rows := s.tables().RowCounts()
	b.num("lux_tables_rows", rows)
	b.num("lux_tables_rows_hot", hotRows)
	b.num("lux_tables_rows_cold", max(0, rows-hotRows))
	mi := s.store.Memory()
	b.num("lux_key_index_shards_ready", int64(mi.IndexShards))
	b.num("lux_key_index_shards", int64(storage.NumDBs*storage.ShardsPerDB))
	b.num("lux_key_index_build_ms", mi.IndexBuildMs)
}

func infoReplication(s *Server, b *infoBuilder) {
	b.field("role", "master")
	b.field("connected_slaves", "0")
	b.field("master_failover_state", "no-failover")
	b.field("master_replid", *s.admin.replID.Load())
	b.field("master_replid2", strings.Repeat("0", 40))
	b.field("master_repl_offset", "0")
	b.field("second_repl_offset", "-1")
	b.field("repl_backlog_active", "0")
	b.field("repl_backlog_size", "1048576")
	b.field("repl_backlog_first_byte_offset", "0")
	b.field("repl_backlog_histlen", "0")
}

func infoCPU(s *Server, b *infoBuilder) {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	tv := func(t syscall.Timeval) string { return fmt.Sprintf("%d.%06d", t.Sec, t.Usec) }
	b.field("used_cpu_sys", tv(self.Stime))
	b.field("used_cpu_user", tv(self.Utime))
	b.field("used_cpu_sys_children", tv(children.Stime))
	b.field("used_cpu_user_children", tv(children.Utime))
}

func infoCommandStats(s *Server, b *infoBuilder) {
	for _, r := range s.statRows() {
		st := r.st
		calls, usec := st.calls.Load(), st.usec.Load()
		rejected, failed := st.rejected.Load(), st.failed.Load()
		if calls == 0 && rejected == 0 && failed == 0 {
			continue
		}
		per := 0.0
		if calls > 0 {
			per = float64(usec) / float64(calls)
		}
		b.field("cmdstat_"+r.name, fmt.Sprintf("calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d",
			calls, usec, per, rejected, failed))
	}
}

// infoKeyspace needs every shard locked (INFO is FlagLockAll).
func infoKeyspace(s *Server, b *infoBuilder) {
	for i := 0; i < storage.NumDBs; i++ {
		db := s.store.DB(i)
		keys, expires := db.Size(), db.ExpiresCount()
		if keys == 0 && expires == 0 {
			continue
		}
		b.field("db"+strconv.Itoa(i), "keys="+strconv.Itoa(keys)+",expires="+strconv.Itoa(expires)+",avg_ttl=0")
	}
}
