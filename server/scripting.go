package server

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Lua scripting as Redis 7.0's eval.c, script.c and script_lua.c: EVAL,
// EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD/EXISTS/FLUSH/KILL/HELP on
// gopher-lua (Lua 5.1).
//
// Atomicity: a script locks every shard of the caller's database (Redis
// lets a script touch keys it did not declare), or of every database when
// its body names SELECT; redis.call runs the command's handler directly under
// those locks, as EXEC runs its queue (c.inExec), with the reply captured
// into a buffer and converted to Lua. A SELECT the body does not name
// literally (a name built at run time) is refused, since the other
// databases are not locked.
//
// Each call runs in a fresh environment table (KEYS, ARGV) over a read-only
// global table: nothing a script does to globals or to the library tables
// outlives it. Interpreters are pooled; compiled scripts are shared.

func init() {
	const g = "scripting"
	const fl = FlagNoScript | FlagStale
	register(
		&Command{Name: "eval", Arity: -3, Flags: fl | FlagMayReplicate, Keys: evalKeys, LockDB: evalLocksDB, LockAll: evalLocksAll, CallFlags: evalCallFlags, Handler: cmdEval, Group: g, Summary: "Executes a server-side Lua script."},
		&Command{Name: "evalsha", Arity: -3, Flags: fl | FlagMayReplicate, Keys: evalKeys, LockDB: evalLocksDB, LockAll: evalLocksAll, CallFlags: evalCallFlags, Handler: cmdEvalSha, Group: g, Summary: "Executes a server-side Lua script by SHA1 digest."},
		&Command{Name: "eval_ro", Arity: -3, Flags: fl | FlagReadOnly, Keys: evalKeys, LockDB: evalLocksDB, LockAll: evalLocksAll, Handler: cmdEvalRO, Group: g, Summary: "Executes a read-only server-side Lua script."},
		&Command{Name: "evalsha_ro", Arity: -3, Flags: fl | FlagReadOnly, Keys: evalKeys, LockDB: evalLocksDB, LockAll: evalLocksAll, Handler: cmdEvalShaRO, Group: g, Summary: "Executes a read-only server-side Lua script by SHA1 digest."},
	)
}

// Redis's texts.
const (
	msgNoScript         = "NOSCRIPT No matching script. Please use EVAL."
	msgNumKeysGreater   = "ERR Number of keys can't be greater than number of args"
	msgNumKeysNegative  = "ERR Number of keys can't be negative"
	msgBusyScript       = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
	msgNotBusy          = "NOTBUSY No scripts in execution right now."
	msgUnkillable       = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
	msgScriptKilled     = "Script killed by user with SCRIPT KILL..."
	msgROScriptWrite    = "ERR Can not execute a script with write flag using *_ro command."
	msgScriptOOM        = "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'"
	msgScriptStackLimit = "ERR reached lua stack limit"
)

// script shebang flags (#!lua flags=...)
const (
	scriptFlagNoWrites = 1 << iota
	scriptFlagAllowOOM
	scriptFlagAllowStale
	scriptFlagNoCluster
	scriptFlagAllowCrossSlot
	scriptFlagCompat // no shebang: EVAL compatibility mode
)

var scriptFlagNames = map[string]int{"no-writes": scriptFlagNoWrites, "allow-oom": scriptFlagAllowOOM,
	"allow-stale": scriptFlagAllowStale, "no-cluster": scriptFlagNoCluster, "allow-cross-slot-keys": scriptFlagAllowCrossSlot}

// luaScript is one cached script.
type luaScript struct {
	sha     string
	body    string
	proto   *lua.FunctionProto
	flags   int
	selects bool // the body names SELECT: runs lock every database
}

// scriptEngine is a server's script cache, interpreter pool and the
// registry of running scripts (for BUSY and SCRIPT KILL).
type scriptEngine struct {
	mu      sync.RWMutex
	scripts map[string]*luaScript
	bodyMem int64
	gen     atomic.Uint64 // bumped by SCRIPT FLUSH: pooled interpreters drop their functions

	poolOnce sync.Once
	pool     chan *luaVM

	runMu sync.Mutex
	runs  map[*scriptRun]struct{}
	busy  atomic.Int32 // running scripts past busy-reply-threshold

	// memLimit bounds how much the live heap may grow while a script runs
	// (lux-script-memory-limit; 0: no bound); guardOnce starts the
	// goroutine that watches it
	memLimit  atomic.Int64
	guardOnce sync.Once
}

// defaultScriptMemLimit is lux-script-memory-limit's default.
const defaultScriptMemLimit = 512 << 20

const msgScriptMemory = "ERR Script used more memory than lux-script-memory-limit allows"

// guard kills a running script when the live heap has grown by more than
// memLimit since it started: gopher-lua has no allocator hook, and a script
// that allocates without bound would otherwise take the server down. It
// samples the heap every 10 ms while scripts run. A killed script ends
// with an error, as one that raised an error: the writes it made stay.
func (e *scriptEngine) guard(quit <-chan struct{}) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	for {
		select {
		case <-quit:
			return
		case <-t.C:
		}
		e.runMu.Lock()
		n := len(e.runs)
		e.runMu.Unlock()
		if n == 0 {
			continue
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		live := int64(sample[0].Value.Uint64())
		limit := e.memLimit.Load()
		e.runMu.Lock()
		for r := range e.runs {
			switch {
			case r.heap0 == 0:
				r.heap0 = live
			case limit > 0 && live-r.heap0 > limit && !r.killed.Load():
				r.memKilled.Store(true)
				r.killed.Store(true)
				r.vm.ctx.kill()
			}
		}
		e.runMu.Unlock()
	}
}

func (e *scriptEngine) lookup(sha string) *luaScript {
	e.mu.RLock()
	sc := e.scripts[sha]
	e.mu.RUnlock()
	return sc
}

func sha1hexStr(b []byte) string {
	h := sha1.Sum(b)
	return hex.EncodeToString(h[:])
}

// create compiles and caches body (or returns the cached script); on error
// it returns Redis's error text.
func (e *scriptEngine) create(body []byte) (*luaScript, string) {
	sha := sha1hexStr(body)
	if sc := e.lookup(sha); sc != nil {
		return sc, ""
	}
	flags, shebangLen, msg := extractShebang(body)
	if msg != "" {
		return nil, msg
	}
	src := string(body[shebangLen:])
	chunk, err := parse.Parse(strings.NewReader(src), "user_script")
	if err != nil {
		return nil, "ERR Error compiling script (new function): " + compileErrText(err)
	}
	proto, err := lua.Compile(chunk, "user_script")
	if err != nil {
		return nil, "ERR Error compiling script (new function): " + sanitizeErr(err.Error())
	}
	// gopher-lua gives a main chunk Lua 5.0's hidden "arg" table (a new
	// table per call that no name reaches); Lua 5.1 gives it none
	proto.IsVarArg &^= lua.VarArgNeedsArg
	sc := &luaScript{sha: sha, body: string(body), proto: proto, flags: flags,
		selects: bytes.Contains(bytes.ToLower(body), []byte("select")) || bytes.Contains(bytes.ToLower(body), []byte("swapdb"))}
	e.mu.Lock()
	if e.scripts == nil {
		e.scripts = map[string]*luaScript{}
	}
	if old := e.scripts[sha]; old != nil {
		sc = old
	} else {
		e.scripts[sha] = sc
		e.bodyMem += int64(len(body)) + 40
	}
	e.mu.Unlock()
	return sc, ""
}

// compileErrText renders a gopher-lua parse error as Lua 5.1 does
// ("user_script:1: ... near 'x'").
func compileErrText(err error) string {
	var pe *parse.Error
	if errors.As(err, &pe) {
		if pe.Pos.Line == parse.EOF {
			return "user_script: " + sanitizeErr(pe.Message) + " near '<eof>'"
		}
		return "user_script:" + strconv.Itoa(pe.Pos.Line) + ": " + sanitizeErr(pe.Message) + " near '" + sanitizeErr(pe.Token) + "'"
	}
	return sanitizeErr(strings.TrimSpace(err.Error()))
}

// extractShebang is evalExtractShebangFlags: the flags of a "#!lua" first
// line and its length (the newline stays, keeping line numbers).
func extractShebang(body []byte) (flags, n int, msg string) {
	if !bytes.HasPrefix(body, []byte("#!")) {
		return scriptFlagCompat, 0, ""
	}
	end := bytes.IndexByte(body, '\n')
	if end < 0 {
		return 0, 0, "ERR Invalid script shebang"
	}
	parts, ok := splitArgs(string(body[:end]))
	if !ok || len(parts) == 0 {
		return 0, 0, "ERR Invalid engine in script shebang"
	}
	if parts[0] != "#!lua" {
		return 0, 0, "ERR Unexpected engine in script shebang: " + parts[0]
	}
	for _, p := range parts[1:] {
		if !strings.HasPrefix(p, "flags=") {
			return 0, 0, "ERR Unknown lua shebang option: " + p
		}
		if p == "flags=" {
			continue // sdssplitlen of "" is no flag
		}
		for _, f := range strings.Split(p[6:], ",") {
			v, ok := scriptFlagNames[f]
			if !ok {
				return 0, 0, "ERR Unexpected flag in script shebang: " + f
			}
			flags |= v
		}
	}
	return flags, end, ""
}

// evalCallFlags is evalGetCommandFlags: a script with a shebang declares
// whether it writes (scriptFlagsToCmdFlags: write unless no-writes, and
// never may-replicate); one without (or not cached, for EVALSHA) keeps
// EVAL's flags.
func evalCallFlags(s *Server, args [][]byte) Flag {
	cmd := lookupCommand(args[0])
	var flags int
	if eqFold(args[0], "evalsha") {
		sc := s.lua.lookup(strings.ToLower(string(args[1])))
		if sc == nil {
			return cmd.Flags
		}
		flags = sc.flags
	} else {
		flags, _, _ = extractShebang(args[1])
	}
	if flags&scriptFlagCompat != 0 {
		return cmd.Flags
	}
	f := cmd.Flags &^ (FlagWrite | FlagMayReplicate | FlagDenyOOM)
	if flags&scriptFlagNoWrites == 0 {
		f |= FlagWrite
		if flags&scriptFlagAllowOOM == 0 {
			f |= FlagDenyOOM
		}
	}
	return f
}

// ---- key spec and locking ----

func evalNumKeys(args [][]byte) (int, bool) {
	if len(args) < 3 {
		return 0, false
	}
	n, ok := parseInt(args[2])
	if !ok || n < 0 || n > int64(len(args)-3) {
		return 0, false
	}
	return int(n), true
}

func evalKeys(args [][]byte) [][]byte {
	n, ok := evalNumKeys(args)
	if !ok {
		return nil
	}
	return args[3 : 3+n]
}

// evalLocksDB: every script locks the whole database (it may touch keys it
// did not declare).
func evalLocksDB(args [][]byte) bool { return true }

// evalLocksAll: a script whose body names SELECT locks every database.
func evalLocksAll(s *Server, args [][]byte) bool {
	if len(args) < 2 {
		return false
	}
	if len(args[0]) >= 7 { // evalsha, evalsha_ro
		if len(args[1]) != 40 {
			return false
		}
		sc := s.lua.lookup(strings.ToLower(string(args[1])))
		return sc != nil && sc.selects
	}
	body := bytes.ToLower(args[1])
	return bytes.Contains(body, []byte("select")) || bytes.Contains(body, []byte("swapdb"))
}

// ---- interpreters ----

// luaVM is one pooled interpreter.
type luaVM struct {
	L      *lua.LState
	gen    uint64
	fns    map[string]*lua.LFunction
	envMT  *lua.LTable // metatable of the per-call environments
	gProxy *lua.LTable
	ctx    *killCtx
	run    *scriptRun // the script running on it
	errh   *lua.LFunction
	broken bool // a Go panic went through it: not reused
	// redisLib is the redis table itself (globals see a read-only proxy)
	redisLib *lua.LTable
	env      *lua.LTable // EVAL's environment, reused across calls
	cw       captureWriter
	w        *redcon.Writer // writes into cw
	cjson    cjsonCfg
}

// killCtx is the interpreter's context: SCRIPT KILL closes it, and
// gopher-lua raises its error at the next instruction (every instruction
// after, so pcall cannot swallow it).
type killCtx struct {
	done chan struct{}
	once sync.Once
}

var errScriptKilled = errors.New(msgScriptKilled)

func newKillCtx() *killCtx                     { return &killCtx{done: make(chan struct{})} }
func (k *killCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (k *killCtx) Done() <-chan struct{}       { return k.done }
func (k *killCtx) Value(any) any               { return nil }
func (k *killCtx) kill()                       { k.once.Do(func() { close(k.done) }) }
func (k *killCtx) Err() error {
	select {
	case <-k.done:
		return errScriptKilled
	default:
		return nil
	}
}

const luaPoolSize = 16

func (e *scriptEngine) getVM(s *Server) *luaVM {
	e.poolOnce.Do(func() { e.pool = make(chan *luaVM, luaPoolSize) })
	{
		select {
		case vm := <-e.pool:
			if g := e.gen.Load(); vm.gen != g {
				vm.fns = map[string]*lua.LFunction{}
				vm.gen = g
			}
			return vm
		default:
		}
	}
	return newLuaVM(s)
}

func (e *scriptEngine) putVM(vm *luaVM) {
	vm.run = nil
	if vm.broken {
		vm.L.Close()
		return
	}
	if vm.ctx.Err() != nil {
		vm.ctx = newKillCtx()
		vm.L.SetContext(vm.ctx)
	}
	select {
	case e.pool <- vm:
	default:
		vm.L.Close()
	}
}

func readonlyErr(L *lua.LState) int {
	L.RaiseError("Attempt to modify a readonly table")
	return 0
}

func nonexistentGlobal(L *lua.LState) int {
	L.RaiseError("Script attempted to access nonexistent global variable '%s'", L.ToString(2))
	return 0
}

// readonlyProxy returns an empty table reading through to t and refusing
// writes.
func readonlyProxy(L *lua.LState, t *lua.LTable, protected map[*lua.LTable]bool) *lua.LTable {
	p := L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", t)
	mt.RawSetString("__newindex", L.NewFunction(readonlyErr))
	mt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(p, mt)
	protected[p] = true
	return p
}

func newLuaVM(s *Server) *luaVM {
	// a fixed call stack: MinimizeStackMemory would grow it, zeroed, on
	// every call
	L := lua.NewState(lua.Options{SkipOpenLibs: true, CallStackSize: 256, RegistrySize: 1024 * 8,
		RegistryMaxSize: 1024 * 1024})
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath}, {lua.CoroutineLibName, lua.OpenCoroutine}} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	G := L.G.Global
	for _, name := range []string{"dofile", "loadfile", "print", "_printregs", "module", "require",
		"_GOPHER_LUA_VERSION", "package", "channel", "os", "io", "debug"} {
		G.RawSetString(name, lua.LNil)
	}
	vm := &luaVM{L: L, fns: map[string]*lua.LFunction{}, gen: s.lua.gen.Load(), ctx: newKillCtx()}
	vm.w = redcon.NewWriter(&vm.cw)
	protected := map[*lua.LTable]bool{}
	if m, ok := G.RawGetString("math").(*lua.LTable); ok {
		m.RawSetString("random", L.NewFunction(func(L *lua.LState) int { return scriptMathRandom(L, vm) }))
		m.RawSetString("randomseed", L.NewFunction(func(L *lua.LState) int { return scriptMathRandomseed(L, vm) }))
	}
	vm.redisLib = newRedisLib(L, vm)
	G.RawSetString("redis", vm.redisLib)
	G.RawSetString("bit", newBitLib(L))
	G.RawSetString("cjson", newCjsonLib(L, &vm.cjson))
	G.RawSetString("cmsgpack", newCmsgpackLib(L))
	G.RawSetString("struct", newStructLib(L))
	G.RawSetString("pcall", L.NewFunction(func(L *lua.LState) int { return scriptPcall(L, vm) }))
	isProtected := func(v lua.LValue) bool {
		t, ok := v.(*lua.LTable)
		return ok && (protected[t] || t == G)
	}
	origSetMT := G.RawGetString("setmetatable").(*lua.LFunction)
	G.RawSetString("setmetatable", L.NewFunction(func(L *lua.LState) int {
		if isProtected(L.Get(1)) {
			L.Error(lua.LString("Attempt to modify a readonly table"), 0)
		}
		L.Insert(origSetMT, 1)
		L.Call(L.GetTop()-1, 1)
		return 1
	}))
	// string.rep builds its result at once: a result past the memory
	// limit is refused before it is allocated (Lua: "not enough memory")
	if st, ok := G.RawGetString("string").(*lua.LTable); ok {
		origRep := st.RawGetString("rep").(*lua.LFunction)
		st.RawSetString("rep", L.NewFunction(func(L *lua.LState) int {
			str, n := L.CheckString(1), L.CheckInt(2)
			if limit := s.lua.memLimit.Load(); n > 0 && limit > 0 && int64(len(str))*int64(n) > limit {
				L.RaiseError("not enough memory")
			}
			L.Insert(origRep, 1)
			L.Call(L.GetTop()-1, 1)
			return 1
		}))
	}
	origToString := G.RawGetString("tostring").(*lua.LFunction)
	G.RawSetString("tostring", L.NewFunction(func(L *lua.LState) int {
		// Lua 5.1 prints numbers with "%.14g" (gopher-lua with every digit)
		if n, ok := L.Get(1).(lua.LNumber); ok && L.GetTop() == 1 {
			L.Push(lua.LString(luaNumberString(float64(n))))
			return 1
		}
		L.Insert(origToString, 1)
		L.Call(L.GetTop()-1, 1)
		return 1
	}))
	origUnpack := G.RawGetString("unpack").(*lua.LFunction)
	G.RawSetString("unpack", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		i, e := int64(1), int64(t.Len())
		if L.GetTop() >= 2 && L.Get(2) != lua.LNil {
			i = int64(L.CheckNumber(2))
		}
		if L.GetTop() >= 3 && L.Get(3) != lua.LNil {
			e = int64(L.CheckNumber(3))
		}
		if i <= e && e-i >= 8000 { // LUAI_MAXCSTACK
			L.RaiseError("too many results to unpack")
		}
		L.Insert(origUnpack, 1)
		L.Call(L.GetTop()-1, lua.MultRet)
		return L.GetTop()
	}))
	origRawSet := G.RawGetString("rawset").(*lua.LFunction)
	G.RawSetString("rawset", L.NewFunction(func(L *lua.LState) int {
		if isProtected(L.Get(1)) {
			L.Error(lua.LString("Attempt to modify a readonly table"), 0)
		}
		L.Insert(origRawSet, 1)
		L.Call(L.GetTop()-1, 1)
		return 1
	}))
	for _, lib := range []string{"string", "math", "table", "coroutine", "redis", "bit", "cjson", "cmsgpack", "struct"} {
		if t, ok := G.RawGetString(lib).(*lua.LTable); ok {
			G.RawSetString(lib, readonlyProxy(L, t, protected))
		}
	}
	gmt := L.NewTable()
	gmt.RawSetString("__index", L.NewFunction(nonexistentGlobal))
	gmt.RawSetString("__newindex", L.NewFunction(readonlyErr))
	gmt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(G, gmt)
	vm.gProxy = readonlyProxy(L, G, protected)
	G.RawSetString("_G", vm.gProxy)
	L.Env = vm.gProxy
	vm.envMT = L.NewTable()
	vm.envMT.RawSetString("__index", G)
	vm.envMT.RawSetString("__newindex", L.NewFunction(readonlyErr))
	vm.envMT.RawSetString("__metatable", lua.LFalse)
	vm.errh = L.NewFunction(scriptErrHandler)
	L.SetContext(vm.ctx)
	return vm
}

// scriptPcall is Redis's pcall: an error raised as a {err=...} table
// (redis.call's) is returned as its message.
func scriptPcall(L *lua.LState, vm *luaVM) int {
	if L.GetTop() == 0 {
		L.ArgError(1, "value expected")
	}
	err := L.PCall(L.GetTop()-1, lua.MultRet, nil)
	if err != nil {
		obj := lua.LValue(lua.LString(err.Error()))
		if ae, ok := err.(*lua.ApiError); ok {
			obj = ae.Object
			if ae.Type == lua.ApiErrorPanic {
				vm.broken = true
			}
		}
		if t, ok := obj.(*lua.LTable); ok {
			if m, ok := t.RawGetString("err").(lua.LString); ok {
				obj = m
			}
		}
		L.SetTop(0)
		L.Push(lua.LFalse)
		L.Push(obj)
		return 2
	}
	L.Insert(lua.LTrue, 1)
	return L.GetTop()
}

// ---- running a script ----

// scriptRun is one running script.
type scriptRun struct {
	s         *Server
	c         *Client
	vm        *luaVM
	sc        *luaScript     // EVAL's script; nil for FCALL
	fn        *lua.LFunction // FCALL's function, called with (keys, args)
	name      string         // the sha, or the function's name, in error replies
	argv      [][]byte       // FCALL's command, for FUNCTION STATS
	isFunc    bool
	start     time.Time
	readOnly  bool
	allowOOM  bool
	oom       bool // over maxmemory when the script started
	lockAll   bool
	dirty     atomic.Bool
	resp      int
	db        int
	cw        *captureWriter // the interpreter's: replies of the commands it calls
	w         *redcon.Writer
	timer     *time.Timer
	busy      bool // counted in scriptEngine.busy (under runMu)
	killed    atomic.Bool
	memKilled atomic.Bool // by the memory guard
	heap0     int64       // the live heap when the guard first saw it (under runMu)
	inCall    bool
	// tablesUnlock releases the tables lock a table command made the
	// script take (nil: none taken)
	tablesUnlock func()
}

type captureWriter struct{ buf []byte }

func (w *captureWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	return len(b), nil
}

func cmdEval(c *Client, args [][]byte)      { c.srv.evalGeneric(c, args, false, false) }
func cmdEvalSha(c *Client, args [][]byte)   { c.srv.evalGeneric(c, args, true, false) }
func cmdEvalRO(c *Client, args [][]byte)    { c.srv.evalGeneric(c, args, false, true) }
func cmdEvalShaRO(c *Client, args [][]byte) { c.srv.evalGeneric(c, args, true, true) }

func (s *Server) evalGeneric(c *Client, args [][]byte, evalsha, ro bool) {
	if s.mon.n.Load() != 0 {
		// before the script runs, so that its commands follow it (Redis's
		// EVAL family is skip_monitor and feeds itself)
		s.feedMonitors(c, args)
	}
	numkeys, ok := parseInt(args[2])
	if !ok {
		c.WriteError(msgNotInt)
		return
	}
	if numkeys > int64(len(args)-3) {
		c.WriteError(msgNumKeysGreater)
		return
	}
	if numkeys < 0 {
		c.WriteError(msgNumKeysNegative)
		return
	}
	var sc *luaScript
	if evalsha {
		if len(args[1]) != 40 {
			c.WriteError(msgNoScript)
			return
		}
		if sc = s.lua.lookup(strings.ToLower(string(args[1]))); sc == nil {
			c.WriteError(msgNoScript)
			return
		}
	} else {
		var msg string
		if sc, msg = s.lua.create(args[1]); sc == nil {
			c.WriteError(msg)
			return
		}
	}
	run := &scriptRun{s: s, c: c, sc: sc, name: sc.sha, start: time.Now(), resp: 2, db: c.db}
	if !s.prepareScript(run, sc.flags, ro) {
		return
	}
	run.lockAll = sc.selects
	s.runScript(run, args[3:3+numkeys], args[3+numkeys:])
}

// prepareScript is scriptPrepareForRun's checks of a script's declared
// flags (none in EVAL's compatibility mode); false: refused, the error is
// written.
func (s *Server) prepareScript(run *scriptRun, flags int, ro bool) bool {
	c := run.c
	run.oom = s.store.MaxMemory() > 0 && s.store.OverLimit()
	if flags&scriptFlagCompat == 0 {
		if flags&scriptFlagNoWrites == 0 {
			if err := s.store.Err(); err != nil {
				c.WriteError(misconfMsg(err))
				return false
			}
			if ro {
				c.WriteError(msgROScriptWrite)
				return false
			}
		}
		if run.oom && flags&(scriptFlagAllowOOM|scriptFlagNoWrites) == 0 {
			c.WriteError(msgScriptOOM)
			return false
		}
		run.allowOOM = flags&scriptFlagAllowOOM != 0
	}
	run.readOnly = ro || (flags&scriptFlagCompat == 0 && flags&scriptFlagNoWrites != 0)
	return true
}

func (s *Server) busyThreshold() time.Duration {
	v := s.conf.passiveValue("busy-reply-threshold")
	if l := s.conf.passiveValue("lua-time-limit"); l != "5000" {
		v = l
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Millisecond
}

// noScriptKeys marks a running script that declared no key.
var noScriptKeys = [][]byte{}

func (s *Server) runScript(run *scriptRun, keys, argv [][]byte) {
	e := &s.lua
	var vm *luaVM
	if run.isFunc {
		vm = s.fn.vm // the caller holds s.fn.stateMu
	} else {
		vm = e.getVM(s)
	}
	run.vm = vm
	vm.run = run
	L := vm.L

	e.guardOnce.Do(func() { go e.guard(s.quit) })
	e.runMu.Lock()
	if e.runs == nil {
		e.runs = map[*scriptRun]struct{}{}
	}
	e.runs[run] = struct{}{}
	s.scriptsRunning.Add(1) // the event loop hands commands over meanwhile (ioloop.go)
	e.runMu.Unlock()
	// a read-only command the script runs makes a tracking client track
	// the script's declared keys (Redis's trackingRememberKeys(caller))
	run.c.scriptKeys = keys
	if keys == nil {
		run.c.scriptKeys = noScriptKeys
	}
	defer func() { run.c.scriptKeys = nil }()
	if d := s.busyThreshold(); d > 0 {
		run.timer = time.AfterFunc(d, func() {
			e.runMu.Lock()
			if _, ok := e.runs[run]; ok && !run.busy {
				run.busy = true
				e.busy.Add(1)
			}
			e.runMu.Unlock()
		})
	}

	var fn *lua.LFunction
	nargs := 0
	L.SetTop(0)
	if run.isFunc {
		// a function gets its keys and arguments as parameters and runs in
		// its library's environment
		fn = run.fn
		L.Push(fn)
		L.Push(luaArray(L, keys))
		L.Push(luaArray(L, argv))
		nargs = 2
	} else {
		fn = vm.fns[run.sc.sha]
		if fn == nil {
			fn = L.NewFunctionFromProto(run.sc.proto)
			vm.fns[run.sc.sha] = fn
		}
		// one environment per interpreter, reused while a script leaves
		// nothing in it (rawset can reach it through getfenv)
		env := vm.env
		if env == nil {
			env = L.NewTable()
			L.SetMetatable(env, vm.envMT)
			vm.env = env
		}
		env.RawSetString("KEYS", luaArray(L, keys))
		env.RawSetString("ARGV", luaArray(L, argv))
		fn.Env = env
		L.Push(fn)
	}

	run.cw, run.w = &vm.cw, vm.w
	vm.cjson.reset()
	err := vm.pcall(nargs)
	c := run.c
	if err != nil {
		s.replyScriptError(run, err)
	} else {
		ret := L.Get(-1)
		writeLuaReply(c, run.resp, ret, 0)
	}
	L.SetTop(0)
	if !run.isFunc {
		fn.Env = nil
		if env := vm.env; env != nil {
			env.RawSetString("KEYS", lua.LNil)
			env.RawSetString("ARGV", lua.LNil)
			if k, _ := env.Next(lua.LNil); k != lua.LNil {
				vm.env = nil // the script put something there: a fresh one next time
			}
		}
	}

	if run.timer != nil {
		run.timer.Stop()
	}
	if run.tablesUnlock != nil {
		run.c.tablesHeld = false
		run.tablesUnlock()
	}
	e.runMu.Lock()
	delete(e.runs, run)
	s.scriptsRunning.Add(-1)
	if run.busy {
		run.busy = false
		e.busy.Add(-1)
	}
	e.runMu.Unlock()
	if run.isFunc {
		s.fn.afterCall(s, vm)
	} else {
		e.putVM(vm)
	}
}

func luaArray(L *lua.LState, items [][]byte) *lua.LTable {
	t := L.CreateTable(len(items), 0)
	for i, it := range items {
		t.RawSetInt(i+1, lua.LString(it))
	}
	return t
}

// pcall runs the function on the stack. gopher-lua can panic out of PCall
// itself (a registry overflow while it pushes the error handler): that
// becomes an error reply and the interpreter is dropped.
func (vm *luaVM) pcall(nargs int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			vm.broken = true
			msg := "execution failure"
			if e, ok := r.(error); ok {
				msg = e.Error()
			}
			if i := strings.IndexByte(msg, '\n'); i >= 0 {
				msg = msg[:i]
			}
			err = errors.New(msg)
		}
	}()
	return vm.L.PCall(nargs, 1, vm.errh)
}

// scriptErrHandler is Redis's __redis__err__handler: the error becomes a
// table {err=, source=, line=} naming the script line that failed (the
// caller of a Go function such as redis.call).
func scriptErrHandler(L *lua.LState) int {
	errv := L.Get(1)
	t, ok := errv.(*lua.LTable)
	if !ok {
		t = L.NewTable()
		t.RawSetString("err", lua.LString("ERR "+lua.LVAsString(L.ToStringMeta(errv))))
	}
	for level := 1; level < 8; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil {
			break
		}
		if dbg.What == "G" || dbg.CurrentLine <= 0 {
			continue
		}
		t.RawSetString("source", lua.LString("@"+strings.TrimPrefix(dbg.Source, "@")))
		t.RawSetString("line", lua.LNumber(dbg.CurrentLine))
		break
	}
	L.Push(t)
	return 1
}

func (s *Server) replyScriptError(run *scriptRun, err error) {
	c := run.c
	if run.memKilled.Load() {
		c.WriteError(msgScriptMemory)
		return
	}
	ae, ok := err.(*lua.ApiError)
	if !ok {
		c.WriteError("ERR Error running script " + run.name + ", " + truncate(sanitizeErr(err.Error()), 100))
		return
	}
	if ae.Type == lua.ApiErrorPanic {
		run.vm.broken = true
	}
	t, ok := ae.Object.(*lua.LTable)
	if !ok {
		msg := "execution failure"
		if str, ok := ae.Object.(lua.LString); ok {
			msg = string(str)
		}
		c.WriteError("ERR Error running script " + run.name + ", " + truncate(sanitizeErr(msg), 100))
		return
	}
	msg := lua.LVAsString(t.RawGetString("err"))
	if run.memKilled.Load() {
		msg = msgScriptMemory
	} else if run.killed.Load() || run.vm.ctx.Err() != nil {
		msg = "ERR " + msgScriptKilled
	}
	if src, ok := t.RawGetString("source").(lua.LString); ok {
		if line := t.RawGetString("line"); line != lua.LNil {
			msg += " script: " + run.name + ", on " + string(src) + ":" + lua.LVAsString(line) + "."
		}
	}
	c.WriteError(sanitizeErr(strings.TrimPrefix(msg, "-")))
}

// ---- Lua -> RESP ----

const luaReplyMaxDepth = 2000

// writeLuaReply is luaReplyToRedisReply.
func writeLuaReply(c *Client, scriptResp int, v lua.LValue, depth int) {
	if depth > luaReplyMaxDepth {
		c.WriteError(msgScriptStackLimit)
		return
	}
	switch v := v.(type) {
	case lua.LString:
		c.WriteBulkString(string(v))
	case lua.LBool:
		if scriptResp == 2 {
			if v {
				c.WriteInt(1)
			} else {
				c.WriteNull()
			}
		} else {
			c.WriteBool(bool(v))
		}
	case lua.LNumber:
		c.WriteInt64(luaNumberToInt(float64(v)))
	case *lua.LTable:
		if e, ok := v.RawGetString("err").(lua.LString); ok {
			c.WriteError(sanitizeErr(strings.TrimPrefix(string(e), "-")))
			return
		}
		if s, ok := v.RawGetString("ok").(lua.LString); ok {
			c.WriteString(strings.NewReplacer("\r", " ", "\n", " ").Replace(string(s)))
			return
		}
		if d, ok := v.RawGetString("double").(lua.LNumber); ok {
			c.WriteDouble(float64(d))
			return
		}
		if b, ok := v.RawGetString("big_number").(lua.LString); ok {
			s := strings.NewReplacer("\r", " ", "\n", " ").Replace(string(b))
			if c.resp == 3 {
				c.WriteRaw([]byte("(" + s + "\r\n"))
			} else {
				c.WriteBulkString(s)
			}
			return
		}
		if vt, ok := v.RawGetString("verbatim_string").(*lua.LTable); ok {
			f, ok1 := vt.RawGetString("format").(lua.LString)
			s, ok2 := vt.RawGetString("string").(lua.LString)
			if ok1 && ok2 {
				if c.resp == 3 {
					ff := string(f)
					for len(ff) < 3 {
						ff += " "
					}
					c.writeLen('=', len(s)+4)
					c.WriteRaw([]byte(ff[:3] + ":" + string(s) + "\r\n"))
				} else {
					c.WriteBulkString(string(s))
				}
				return
			}
		}
		if m, ok := v.RawGetString("map").(*lua.LTable); ok {
			var kv []lua.LValue
			m.ForEach(func(k, val lua.LValue) { kv = append(kv, k, val) })
			c.WriteMap(len(kv) / 2)
			for _, x := range kv {
				writeLuaReply(c, scriptResp, x, depth+1)
			}
			return
		}
		if st, ok := v.RawGetString("set").(*lua.LTable); ok {
			var ks []lua.LValue
			st.ForEach(func(k, _ lua.LValue) { ks = append(ks, k) })
			c.WriteSet(len(ks))
			for _, x := range ks {
				writeLuaReply(c, scriptResp, x, depth+1)
			}
			return
		}
		n := 0
		for v.RawGetInt(n+1) != lua.LNil {
			n++
		}
		c.WriteArray(n)
		for i := 1; i <= n; i++ {
			writeLuaReply(c, scriptResp, v.RawGetInt(i), depth+1)
		}
	default:
		c.WriteNull()
	}
}

// luaNumberToInt is C's (long long) cast of a double, saturating instead of
// undefined behaviour.
func luaNumberToInt(f float64) int64 {
	switch {
	case f != f:
		return -1 << 63
	case f >= 9.2233720368547758e18:
		return -1 << 63
	case f <= -9.2233720368547758e18:
		return -1 << 63
	}
	return int64(f)
}

// ---- redis.call ----

func luaPushError(L *lua.LState, msg string) *lua.LTable {
	t := L.NewTable()
	t.RawSetString("err", lua.LString(errTableMsg(msg)))
	return t
}

// errTableMsg is luaPushErrorBuff's message: "-CODE msg" keeps its code,
// anything else gets ERR.
func errTableMsg(msg string) string {
	code := "ERR"
	if strings.HasPrefix(msg, "-") {
		if i := strings.IndexByte(msg, ' '); i < 0 {
			msg = msg[1:]
		} else {
			code, msg = msg[1:i], msg[i+1:]
		}
	}
	return code + " " + strings.TrimRight(msg, "\r\n")
}

func (vm *luaVM) redisCall(L *lua.LState, raise bool) int {
	run := vm.run
	if run == nil {
		L.Error(luaPushError(L, "redis.call/pcall can only be called inside a script invocation"), 0)
		return 0
	}
	fail := func(msg string) int {
		t := luaPushError(L, msg)
		t.RawSetString("ignore_error_stats_update", lua.LTrue)
		if raise {
			L.Error(t, 0)
		}
		L.Push(t)
		return 1
	}
	argc := L.GetTop()
	if argc == 0 {
		t := luaPushError(L, "Please specify at least one argument for this redis lib call")
		if raise {
			L.Error(t, 0)
		}
		L.Push(t)
		return 1
	}
	args := make([][]byte, argc)
	for i := 1; i <= argc; i++ {
		switch v := L.Get(i).(type) {
		case lua.LNumber:
			args[i-1] = strconv.AppendFloat(nil, float64(v), 'g', 17, 64)
		case lua.LString:
			args[i-1] = []byte(v)
		default:
			L.SetTop(0)
			t := luaPushError(L, "Lua redis lib command arguments must be strings or integers")
			if raise {
				L.Error(t, 0)
			}
			L.Push(t)
			return 1
		}
	}
	L.SetTop(0)
	if run.inCall {
		return fail("luaRedisGenericCommand() recursive call detected. Are you doing funny stuff with Lua debug hooks?")
	}
	s, c := run.s, run.c
	cmd := lookupCommand(args[0])
	if cmd == nil {
		return fail("Unknown Redis command called from script")
	}
	if !cmd.arityOK(len(args)) {
		return fail("Wrong number of args calling Redis command from script")
	}
	spec := scriptCmdSpec(cmd, args)
	noScript, write, mayRepl, denyOOM := cmd.Flags&FlagNoScript != 0, cmd.Flags&FlagWrite != 0, cmd.Flags&FlagMayReplicate != 0, cmd.Flags&FlagDenyOOM != 0
	if spec != nil {
		// may_replicate is hidden from COMMAND INFO: the command's own flag
		noScript, write, denyOOM = spec.hasFlag("noscript"), spec.hasFlag("write"), spec.hasFlag("denyoom")
	}
	if noScript && !s.scriptDenyOff.Load() {
		return fail("This Redis command is not allowed from script")
	}
	if u := c.user.Load(); u != nil && !u.p().unrestricted {
		if ac, ok := aclResolve(cmd, args); ok {
			if r, _ := u.p().checkAll(ac, args); r != aclOK {
				return fail("The user executing the script " + aclScriptErr(r))
			}
		}
	}
	if run.readOnly && (write || mayRepl) {
		return fail("Write commands are not allowed from read-only scripts.")
	}
	if write && !run.dirty.Load() {
		if err := s.store.Err(); err != nil {
			return fail("-" + misconfMsg(err))
		}
	}
	if !run.allowOOM && s.store.MaxMemory() > 0 && !run.dirty.Load() && run.oom && denyOOM {
		return fail("-" + msgOOM)
	}
	if cmd.Name == "select" && !run.lockAll {
		return fail("SELECT is not allowed from this script: lux locks only the script's database unless the script names 'select' literally")
	}
	if cmd.Name == "swapdb" && !run.lockAll {
		return fail("SWAPDB is not allowed from this script: lux locks only the script's database unless the script names 'swapdb' literally")
	}
	if write {
		run.dirty.Store(true)
	}
	if cmd.Flags&FlagTables != 0 && !c.tablesHeld {
		// table commands take the engine's lock per command; in a script
		// the script holds it (after its shard locks, the order EXEC and
		// FLUSHDB use) until it ends, so its table reads and writes are
		// one atomic unit with its key commands
		run.tablesUnlock = s.tablesWriteLock()
		c.tablesHeld = true
	}

	// run the handler under the script's locks, its reply captured
	saved := struct {
		w             *redcon.Writer
		db, resp      int
		inExec, multi bool
		cmd           *Command
		cmdName       string
	}{c.Writer, c.db, c.resp, c.inExec, c.multi, c.cmd, c.cmdName}
	run.cw.buf = run.cw.buf[:0]
	run.w.SetBuffer(nil)
	c.Writer, c.db, c.resp, c.inExec, c.multi = run.w, run.db, run.resp, true, false
	run.inCall = true
	c.scriptCall = true
	func() {
		defer func() {
			run.inCall = false
			c.scriptCall = false
			run.db = c.db
			c.Writer, c.db, c.resp, c.inExec, c.multi, c.cmd, c.cmdName = saved.w, saved.db, saved.resp, saved.inExec, saved.multi, saved.cmd, saved.cmdName
		}()
		s.call(c, cmd, args)
	}()
	reply := append(run.cw.buf, run.w.Buffer()...)
	run.cw.buf = reply[:0]
	v, _, isErr := respToLua(L, reply, 0, 0)
	if isErr && raise {
		L.Error(v, 0)
	}
	L.Push(v)
	return 1
}

// scriptCmdSpec is the Redis table row of a call (its subcommand's for a
// container).
func scriptCmdSpec(cmd *Command, args [][]byte) *cmdSpec {
	if len(args) > 1 {
		if sp := specOf(cmd.Name + "|" + strings.ToLower(string(args[1]))); sp != nil {
			return sp
		}
	}
	return specOf(cmd.Name)
}

func aclScriptErr(r int) string {
	switch r {
	case aclDenyKey:
		return "has no permissions to access one of the keys used as arguments"
	case aclDenyChannel:
		return "has no permissions to access one of the channels used as arguments"
	default:
		return "has no permissions to run the command"
	}
}

// respToLua converts one RESP reply at b[i:] (redisProtocolToLuaType); it
// reports whether it was an error.
func respToLua(L *lua.LState, b []byte, i, depth int) (lua.LValue, int, bool) {
	if i >= len(b) {
		return lua.LFalse, i, false
	}
	line := func(j int) (string, int) {
		e := bytes.Index(b[j:], []byte("\r\n"))
		if e < 0 {
			return string(b[j:]), len(b)
		}
		return string(b[j : j+e]), j + e + 2
	}
	t := b[i]
	s, next := line(i + 1)
	switch t {
	case '+':
		tb := L.NewTable()
		tb.RawSetString("ok", lua.LString(s))
		return tb, next, false
	case '-':
		tb := luaPushError(L, "-"+s)
		tb.RawSetString("ignore_error_stats_update", lua.LTrue)
		return tb, next, true
	case ':':
		n, _ := strconv.ParseInt(s, 10, 64)
		return lua.LNumber(n), next, false
	case '$', '=':
		n, _ := strconv.Atoi(s)
		if n < 0 {
			return lua.LFalse, next, false
		}
		if next+n > len(b) {
			return lua.LFalse, len(b), false
		}
		data := b[next : next+n]
		if t == '=' {
			vt := L.NewTable()
			if len(data) >= 4 {
				vt.RawSetString("format", lua.LString(data[:3]))
				vt.RawSetString("string", lua.LString(data[4:]))
			}
			tb := L.NewTable()
			tb.RawSetString("verbatim_string", vt)
			return tb, next + n + 2, false
		}
		return lua.LString(data), next + n + 2, false
	case '*', '~', '%', '>', '|':
		n, _ := strconv.Atoi(s)
		if n < 0 {
			return lua.LFalse, next, false
		}
		switch t {
		case '%':
			m := L.NewTable()
			for k := 0; k < n; k++ {
				var kv, vv lua.LValue
				kv, next, _ = respToLua(L, b, next, depth+1)
				vv, next, _ = respToLua(L, b, next, depth+1)
				if kv != lua.LNil {
					m.RawSet(kv, vv)
				}
			}
			tb := L.NewTable()
			tb.RawSetString("map", m)
			return tb, next, false
		case '~':
			m := L.NewTable()
			for k := 0; k < n; k++ {
				var kv lua.LValue
				kv, next, _ = respToLua(L, b, next, depth+1)
				if kv != lua.LNil {
					m.RawSet(kv, lua.LTrue)
				}
			}
			tb := L.NewTable()
			tb.RawSetString("set", m)
			return tb, next, false
		case '|':
			for k := 0; k < 2*n; k++ {
				_, next, _ = respToLua(L, b, next, depth+1)
			}
			return respToLua(L, b, next, depth)
		}
		arr := L.CreateTable(n, 0)
		for k := 0; k < n; k++ {
			var v lua.LValue
			v, next, _ = respToLua(L, b, next, depth+1)
			arr.RawSetInt(k+1, v)
		}
		return arr, next, false
	case '_':
		return lua.LNil, next, false
	case '#':
		return lua.LBool(s == "t"), next, false
	case ',':
		f, _ := strconv.ParseFloat(strings.TrimSpace(s), 64)
		switch s {
		case "inf":
			f = posInf
		case "-inf":
			f = -posInf
		}
		tb := L.NewTable()
		tb.RawSetString("double", lua.LNumber(f))
		return tb, next, false
	case '(':
		tb := L.NewTable()
		tb.RawSetString("big_number", lua.LString(s))
		return tb, next, false
	}
	return lua.LFalse, len(b), false
}

var posInf = func() float64 { f, _ := strconv.ParseFloat("inf", 64); return f }()

// ---- the redis library ----

func newRedisLib(L *lua.LState, vm *luaVM) *lua.LTable {
	r := L.NewTable()
	set := func(name string, fn lua.LGFunction) { r.RawSetString(name, L.NewFunction(fn)) }
	set("call", func(L *lua.LState) int { return vm.redisCall(L, true) })
	set("pcall", func(L *lua.LState) int { return vm.redisCall(L, false) })
	set("sha1hex", func(L *lua.LState) int {
		if L.GetTop() != 1 {
			L.Error(luaPushError(L, "wrong number of arguments"), 0)
		}
		L.Push(lua.LString(sha1hexStr([]byte(L.ToString(1)))))
		return 1
	})
	set("error_reply", func(L *lua.LState) int {
		s, ok := L.Get(1).(lua.LString)
		if L.GetTop() != 1 || !ok {
			L.Push(luaPushError(L, "wrong number or type of arguments"))
			return 1
		}
		msg := string(s)
		if !strings.HasPrefix(msg, "-") {
			msg = "-" + msg
		}
		L.Push(luaPushError(L, msg))
		return 1
	})
	set("status_reply", func(L *lua.LState) int {
		s, ok := L.Get(1).(lua.LString)
		if L.GetTop() != 1 || !ok {
			L.Push(luaPushError(L, "wrong number or type of arguments"))
			return 1
		}
		t := L.NewTable()
		t.RawSetString("ok", s)
		L.Push(t)
		return 1
	})
	set("log", func(L *lua.LState) int {
		argc := L.GetTop()
		if argc < 2 {
			L.Error(luaPushError(L, "redis.log() requires two arguments or more."), 0)
		}
		lv, ok := L.Get(1).(lua.LNumber)
		if !ok {
			if n, err := strconv.ParseFloat(L.ToString(1), 64); err == nil && L.Get(1).Type() == lua.LTString {
				lv, ok = lua.LNumber(n), true
			}
		}
		if !ok {
			L.Error(luaPushError(L, "First argument must be a number (log level)."), 0)
		}
		if lv < 0 || lv > 3 {
			L.Error(luaPushError(L, "Invalid debug level."), 0)
		}
		if lv < 2 { // below the default verbosity (notice)
			return 0
		}
		var parts []string
		for i := 2; i <= argc; i++ {
			switch v := L.Get(i).(type) {
			case lua.LString, lua.LNumber:
				parts = append(parts, v.String())
			}
		}
		logf("%s", strings.Join(parts, " "))
		return 0
	})
	for name, v := range map[string]int{"LOG_DEBUG": 0, "LOG_VERBOSE": 1, "LOG_NOTICE": 2, "LOG_WARNING": 3,
		"REPL_NONE": 0, "REPL_AOF": 1, "REPL_SLAVE": 2, "REPL_REPLICA": 2, "REPL_ALL": 3} {
		r.RawSetString(name, lua.LNumber(v))
	}
	set("setresp", func(L *lua.LState) int {
		if vm.run == nil {
			L.Error(luaPushError(L, "redis.setresp can only be called inside a script invocation"), 0)
		}
		if L.GetTop() != 1 {
			L.Error(luaPushError(L, "redis.setresp() requires one argument."), 0)
		}
		n := int(lua.LVAsNumber(L.Get(1)))
		if n != 2 && n != 3 {
			L.Error(luaPushError(L, "RESP version must be 2 or 3."), 0)
		}
		vm.run.resp = n
		return 0
	})
	set("set_repl", func(L *lua.LState) int {
		if vm.run == nil {
			L.Error(luaPushError(L, "redis.set_repl can only be called inside a script invocation"), 0)
		}
		if L.GetTop() != 1 {
			L.Error(luaPushError(L, "redis.set_repl() requires two arguments."), 0)
		}
		if f := int(lua.LVAsNumber(L.Get(1))); f&^3 != 0 {
			L.Error(luaPushError(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."), 0)
		}
		return 0
	})
	set("replicate_commands", func(L *lua.LState) int { L.Push(lua.LTrue); return 1 })
	set("breakpoint", func(L *lua.LState) int { L.Push(lua.LFalse); return 1 })
	set("debug", func(L *lua.LState) int { return 0 })
	set("acl_check_cmd", func(L *lua.LState) int {
		if vm.run == nil {
			L.Error(luaPushError(L, "redis.acl_check_cmd can only be called inside a script invocation"), 0)
		}
		argc := L.GetTop()
		if argc == 0 {
			L.Error(luaPushError(L, "Please specify at least one argument for this redis lib call"), 0)
		}
		args := make([][]byte, argc)
		for i := 1; i <= argc; i++ {
			switch v := L.Get(i).(type) {
			case lua.LNumber:
				args[i-1] = strconv.AppendFloat(nil, float64(v), 'g', 17, 64)
			case lua.LString:
				args[i-1] = []byte(v)
			default:
				L.Error(luaPushError(L, "Lua redis lib command arguments must be strings or integers"), 0)
			}
		}
		cmd := lookupCommand(args[0])
		if cmd == nil {
			L.Error(luaPushError(L, "Invalid command passed to redis.acl_check_cmd()"), 0)
		}
		ok := true
		if u := vm.run.c.user.Load(); u != nil && !u.p().unrestricted {
			if ac, found := aclResolve(cmd, args); found {
				r, _ := u.p().checkAll(ac, args)
				ok = r == aclOK
			}
		}
		L.Push(lua.LBool(ok))
		return 1
	})
	r.RawSetString("REDIS_VERSION", lua.LString("7.0.15"))
	r.RawSetString("REDIS_VERSION_NUM", lua.LNumber(0x07000f))
	return r
}

// ---- SCRIPT ----

func init() {
	registerSubcommands("script",
		&subCommand{Name: "load", Arity: 3, Flags: FlagNoScript | FlagStale, Handler: scriptLoad, Summary: "Loads a server-side Lua script to the script cache."},
		&subCommand{Name: "exists", Arity: -3, Flags: FlagNoScript, Handler: scriptExists, Summary: "Determines whether server-side Lua scripts exist in the script cache."},
		&subCommand{Name: "kill", Arity: 2, Flags: FlagNoScript, Handler: scriptKill, Summary: "Terminates a server-side Lua script during execution."},
	)
}

func scriptLoad(c *Client, args [][]byte) {
	sc, msg := c.srv.lua.create(args[2])
	if sc == nil {
		c.WriteError(msg)
		return
	}
	c.WriteBulkString(sc.sha)
}

func scriptExists(c *Client, args [][]byte) {
	c.WriteArray(len(args) - 2)
	for _, a := range args[2:] {
		if c.srv.lua.lookup(strings.ToLower(string(a))) != nil {
			c.WriteInt(1)
		} else {
			c.WriteInt(0)
		}
	}
}

// flushScripts empties the script cache (SCRIPT FLUSH).
func (e *scriptEngine) flush() {
	e.mu.Lock()
	e.scripts = nil
	e.bodyMem = 0
	e.mu.Unlock()
	e.gen.Add(1)
}

// killAll stops every running script, written or not: the server is
// shutting down (Close), and a script that never ends must not keep its
// connection, and so the shutdown, waiting.
func (e *scriptEngine) killAll() {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	for r := range e.runs {
		r.killed.Store(true)
		if r.vm != nil {
			r.vm.ctx.kill()
		}
	}
}

func scriptKill(c *Client, args [][]byte) { c.srv.lua.kill(c, false) }

// oldestRun is the longest-running script other than one of skip's (nil
// skips none); hold runMu.
func (e *scriptEngine) oldestRun(skip *Client) *scriptRun {
	var oldest *scriptRun
	for r := range e.runs {
		if (skip == nil || r.c != skip) && (oldest == nil || r.start.Before(oldest.start)) {
			oldest = r
		}
	}
	return oldest
}

// kill is scriptKill(c, is_eval): SCRIPT KILL stops an EVAL, FUNCTION KILL
// a function, neither one that has written.
func (e *scriptEngine) kill(c *Client, function bool) {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	target := e.oldestRun(c)
	switch {
	case target == nil:
		c.WriteError(msgNotBusy)
	case target.dirty.Load():
		c.WriteError(msgUnkillable)
	case target.isFunc && !function:
		c.WriteError(msgBusyFunction) // FUNCTION KILL stops a function
	case !target.isFunc && function:
		c.WriteError(msgBusyScript) // SCRIPT KILL stops an EVAL
	default:
		target.killed.Store(true)
		target.vm.ctx.kill()
		c.WriteOK()
	}
}

// scriptBusy reports whether a script has run past busy-reply-threshold;
// the caller's command is then refused with BUSY unless Redis allows it
// during a busy script.
func (s *Server) scriptBusyReject(c *Client, cmd *Command, args [][]byte) bool {
	if s.lua.busy.Load() == 0 {
		return false
	}
	switch cmd.Name {
	case "auth", "hello", "discard", "multi", "quit", "reset", "unwatch", "watch", "shutdown":
		return false
	case "script", "function":
		if len(args) > 1 && (eqFold(args[1], "kill") || eqFold(args[1], "stats")) {
			return false
		}
	}
	msg := msgBusyScript
	if s.lua.runningFunction() {
		msg = msgBusyFunction
	}
	s.reject(c, cmd, msg)
	return true
}

// runningFunction reports whether the oldest running script is a function
// (FCALL): BUSY replies then name FUNCTION KILL.
func (e *scriptEngine) runningFunction() bool {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	oldest := e.oldestRun(nil)
	return oldest != nil && oldest.isFunc
}

// scriptInfo is the INFO memory section's scripting fields.
func (s *Server) scriptInfo() (luaMem, scriptsMem int64, n int) {
	e := &s.lua
	e.mu.RLock()
	defer e.mu.RUnlock()
	return 31744, e.bodyMem, len(e.scripts)
}
