package server

// Redis 7.0 functions: FUNCTION LOAD/DELETE/LIST/DUMP/RESTORE/FLUSH/STATS/
// KILL and FCALL/FCALL_RO, ported from Redis 7.0.15's functions.c and
// function_lua.c.
//
// As in Redis, every library lives in one interpreter: a library's local
// variables are shared by its functions and outlive a call. FCALLs and
// loads take turns on it (stateMu); FCALL locks keys as EVAL does (the
// whole database), so the interpreter is never what makes an FCALL wait
// longer than Redis would. The libraries are one record in the store, saved
// whole on every change and loaded again at start.

import (
	"bytes"
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/luxdb/lux-go/pubsub"
	"github.com/luxdb/lux-go/storage"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

func init() {
	const g = "scripting"
	register(
		&Command{Name: "fcall", Arity: -3, Flags: FlagNoScript | FlagStale | FlagMayReplicate, Keys: evalKeys, LockDB: evalLocksDB, LockAll: fcallLocksAll, CallFlags: fcallCallFlags, Handler: cmdFcall, Group: g, Summary: "Invokes a function."},
		&Command{Name: "fcall_ro", Arity: -3, Flags: FlagNoScript | FlagStale | FlagReadOnly, Keys: evalKeys, LockDB: evalLocksDB, LockAll: fcallLocksAll, Handler: cmdFcallRO, Group: g, Summary: "Invokes a read-only function."},
		&Command{Name: "function", Arity: -2, Flags: FlagNoLock, Handler: cmdFunction, Group: g, Summary: "A container for function commands."},
	)
	registerSubcommands("function",
		&subCommand{Name: "load", Arity: -3, Flags: FlagNoScript | FlagWrite | FlagDenyOOM, Handler: functionLoad, Summary: "Creates a library."},
		&subCommand{Name: "delete", Arity: 3, Flags: FlagNoScript | FlagWrite, Handler: functionDelete, Summary: "Deletes a library and its functions."},
		&subCommand{Name: "list", Arity: -2, Flags: FlagNoScript, Handler: functionList, Summary: "Returns information about all libraries."},
		&subCommand{Name: "dump", Arity: 2, Flags: FlagNoScript, Handler: functionDump, Summary: "Dumps all libraries into a serialized binary payload."},
		&subCommand{Name: "restore", Arity: -3, Flags: FlagNoScript | FlagWrite | FlagDenyOOM, Handler: functionRestore, Summary: "Restores all libraries from a payload."},
		&subCommand{Name: "flush", Arity: -2, Flags: FlagNoScript | FlagWrite, Handler: functionFlush, Summary: "Deletes all libraries and functions."},
		&subCommand{Name: "stats", Arity: 2, Flags: FlagNoScript, Handler: functionStats, Summary: "Returns information about a function during execution."},
		&subCommand{Name: "kill", Arity: 2, Flags: FlagNoScript, Handler: functionKill, Summary: "Terminates a function during execution."},
		&subCommand{Name: "help", Arity: 2, Flags: FlagLoading | FlagStale, Handler: functionHelp, Summary: "Returns helpful text about the different subcommands."},
	)
}

// Redis's texts.
const (
	msgBusyFunction  = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
	msgBadLibName    = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"
	msgFuncLoadTime  = "FUNCTION LOAD timeout"
	funcLoadTimeout  = 500 * time.Millisecond // LOAD_TIMEOUT_MS
	funcEngineName   = "LUA"
	msgRestorePolicy = "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
)

// funcInfo is one registered function.
type funcInfo struct {
	name  string
	desc  *string
	flags int
	fn    *lua.LFunction
	lib   *funcLib
}

// funcLib is one library: its code (shebang included, as given) and its
// functions in registration order.
type funcLib struct {
	name    string
	code    string
	fns     []*funcInfo
	selects bool // the code names SELECT: calls lock every database
}

// funcEngine is the server's function libraries and their interpreter.
type funcEngine struct {
	mu   sync.RWMutex // libs, fns
	libs map[string]*funcLib
	fns  map[string]*funcInfo // by lowercased name: function names ignore case, as in Redis

	stateMu sync.Mutex // the interpreter, its env, loading
	vm      *luaVM
	envMT   *lua.LTable // metatable of the libraries' globals
	env     *lua.LTable
	loadAPI *lua.LTable // what a library sees while it loads
	loading *funcLib    // register_function's target during a load

	saveMu sync.Mutex // orders the saves of the libraries
}

// ensureVM builds the interpreter on first use; hold stateMu.
func (fe *funcEngine) ensureVM(s *Server) {
	if fe.vm != nil {
		return
	}
	vm := newLuaVM(s)
	L := vm.L
	errMT := L.NewTable()
	errMT.RawSetString("__index", L.NewFunction(nonexistentGlobal))
	errMT.RawSetString("__newindex", L.NewFunction(readonlyErr))
	errMT.RawSetString("__metatable", lua.LFalse)

	// the load-time API: redis.register_function, log and the version,
	// nothing else (luaEngineInitEngine)
	lr := L.NewTable()
	lr.RawSetString("register_function", L.NewFunction(fe.registerFunction))
	for _, k := range []string{"log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING",
		"REDIS_VERSION", "REDIS_VERSION_NUM"} {
		lr.RawSetString(k, vm.redisLib.RawGetString(k))
	}
	L.SetMetatable(lr, errMT)
	protected := map[*lua.LTable]bool{}
	api := L.NewTable()
	api.RawSetString("redis", readonlyProxy(L, lr, protected))
	L.SetMetatable(api, errMT)
	fe.loadAPI = api

	fe.envMT = L.NewTable()
	fe.envMT.RawSetString("__index", L.G.Global)
	fe.envMT.RawSetString("__newindex", L.NewFunction(readonlyErr))
	fe.envMT.RawSetString("__metatable", lua.LFalse)
	fe.env = L.NewTable()
	L.SetMetatable(fe.env, fe.envMT)
	fe.vm = vm
}

// afterCall returns the interpreter after an FCALL: a killed call leaves a
// fresh kill context; an interpreter a Go panic went through is rebuilt
// with every library loaded again.
func (fe *funcEngine) afterCall(s *Server, vm *luaVM) {
	vm.run = nil
	if vm.broken {
		vm.L.Close()
		fe.vm = nil
		fe.reloadAll(s)
		return
	}
	if vm.ctx.Err() != nil {
		vm.ctx = newKillCtx()
		vm.L.SetContext(vm.ctx)
	}
}

// reloadAll loads every library into a new interpreter; hold stateMu.
func (fe *funcEngine) reloadAll(s *Server) {
	fe.mu.RLock()
	libs := make([]*funcLib, 0, len(fe.libs))
	for _, l := range fe.libs {
		libs = append(libs, l)
	}
	fe.mu.RUnlock()
	fe.ensureVM(s)
	fresh := map[string]*funcLib{}
	for _, l := range libs {
		nl, msg := fe.compileLib(s, l.code, l.name)
		if nl == nil {
			logf("function library %s failed to load again: %s", l.name, msg)
			continue
		}
		fresh[nl.name] = nl
	}
	fe.mu.Lock()
	fe.libs, fe.fns = nil, nil
	for _, l := range fresh {
		fe.linkLocked(l)
	}
	fe.mu.Unlock()
}

// libMeta is functionExtractLibMetaData: the shebang's engine and name,
// and the code after it (its first byte the shebang's newline, so line
// numbers stay the user's).
func libMeta(payload string) (engine, name, code, msg string) {
	if !strings.HasPrefix(payload, "#!") {
		return "", "", "", "Missing library metadata"
	}
	nl := strings.IndexByte(payload, '\n')
	if nl < 0 {
		return "", "", "", "Invalid library metadata"
	}
	parts, ok := splitArgs(payload[:nl])
	if !ok || len(parts) == 0 {
		return "", "", "", "Invalid library metadata"
	}
	engine = string(parts[0][2:])
	seen := false
	for _, p := range parts[1:] {
		if len(p) >= 5 && strings.EqualFold(string(p[:5]), "name=") {
			if seen {
				return "", "", "", "Invalid metadata value, name argument was given multiple times"
			}
			name, seen = string(p[5:]), true
			continue
		}
		return "", "", "", "Invalid metadata value given: " + string(p)
	}
	if !seen {
		return "", "", "", "Library name was not given"
	}
	return engine, name, payload[nl:], ""
}

// validFuncName is functionsVerifyName.
func validFuncName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// loadTimeoutCtx stops a library's top-level code after the load timeout,
// with Redis's message.
type loadTimeoutCtx struct{ context.Context }

var errFuncLoadTimeout = errors.New(msgFuncLoadTime)

func (c loadTimeoutCtx) Err() error {
	if c.Context.Err() != nil {
		return errFuncLoadTimeout
	}
	return nil
}

// compileLib checks a library's metadata, runs its code to collect the
// functions it registers and returns it (not linked), or Redis's error
// text without the ERR code. Hold stateMu with the interpreter built.
func (fe *funcEngine) compileLib(s *Server, payload, wantName string) (*funcLib, string) {
	engine, name, code, msg := libMeta(payload)
	if msg != "" {
		return nil, msg
	}
	if !validFuncName(name) {
		return nil, msgBadLibName
	}
	if !strings.EqualFold(engine, funcEngineName) {
		return nil, "Engine '" + engine + "' not found"
	}
	if wantName != "" && name != wantName {
		return nil, "library name changed"
	}
	chunk, err := parse.Parse(strings.NewReader(code), "user_function")
	if err != nil {
		return nil, "Error compiling function: " + compileErrText(err)
	}
	proto, err := lua.Compile(chunk, "user_function")
	if err != nil {
		return nil, "Error compiling function: " + sanitizeErr(err.Error())
	}
	lib := &funcLib{name: name, code: payload, selects: bytes.Contains(bytes.ToLower([]byte(code)), []byte("select"))}
	vm := fe.vm
	L := vm.L
	fn := L.NewFunctionFromProto(proto)
	fn.Env = fe.env
	fe.envMT.RawSetString("__index", fe.loadAPI)
	fe.loading = lib
	ctx, cancel := context.WithTimeout(context.Background(), funcLoadTimeout)
	L.SetContext(loadTimeoutCtx{ctx})
	L.SetTop(0)
	L.Push(fn)
	err = func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				vm.broken = true
				err = errors.New("execution failure")
			}
		}()
		return L.PCall(0, 0, nil)
	}()
	cancel()
	L.SetTop(0)
	fe.loading = nil
	fe.envMT.RawSetString("__index", L.G.Global)
	L.SetContext(vm.ctx)
	if vm.broken {
		L.Close()
		fe.vm = nil
		fe.ensureVM(s)
	}
	if err != nil {
		return nil, "Error registering functions: " + loadErrText(err)
	}
	if len(lib.fns) == 0 {
		return nil, "No functions registered"
	}
	return lib, ""
}

// loadErrText is the message of an error a library's code raised: an
// error table's err field (register_function's errors, redis.log's), or
// the Lua error's text.
func loadErrText(err error) string {
	if errors.Is(err, errFuncLoadTimeout) {
		return msgFuncLoadTime
	}
	if ae, ok := err.(*lua.ApiError); ok {
		if t, ok := ae.Object.(*lua.LTable); ok {
			if m, ok := t.RawGetString("err").(lua.LString); ok {
				return string(m)
			}
		}
		if s, ok := ae.Object.(lua.LString); ok {
			if strings.Contains(string(s), msgFuncLoadTime) || strings.Contains(string(s), "context deadline exceeded") {
				return msgFuncLoadTime
			}
			return sanitizeErr(string(s))
		}
	}
	return sanitizeErr(err.Error())
}

// registerFunction is redis.register_function (luaRegisterFunction).
func (fe *funcEngine) registerFunction(L *lua.LState) int {
	lib := fe.loading
	fail := func(msg string) int {
		L.Error(luaPushError(L, msg), 0)
		return 0
	}
	if lib == nil {
		return fail("redis.register_function can only be called on FUNCTION LOAD command")
	}
	argc := L.GetTop()
	if argc < 1 || argc > 2 {
		return fail("wrong number of arguments to redis.register_function")
	}
	var name string
	var desc *string
	var flags int
	var cb *lua.LFunction
	if argc == 1 {
		t, ok := L.Get(1).(*lua.LTable)
		if !ok {
			return fail("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
		}
		var msg string
		hasName := false
		t.ForEach(func(k, v lua.LValue) {
			if msg != "" {
				return
			}
			ks, ok := luaStringish(k)
			if !ok {
				msg = "named argument key given to redis.register_function is not a string"
				return
			}
			switch strings.ToLower(ks) {
			case "function_name":
				s, ok := luaStringish(v)
				if !ok {
					msg = "function_name argument given to redis.register_function must be a string"
					return
				}
				name, hasName = s, true
			case "description":
				s, ok := luaStringish(v)
				if !ok {
					msg = "description argument given to redis.register_function must be a string"
					return
				}
				desc = &s
			case "callback":
				f, ok := v.(*lua.LFunction)
				if !ok {
					msg = "callback argument given to redis.register_function must be a function"
					return
				}
				cb = f
			case "flags":
				ft, ok := v.(*lua.LTable)
				if !ok {
					msg = "flags argument to redis.register_function must be a table representing function flags"
					return
				}
				for i := 1; ; i++ {
					e := ft.RawGetInt(i)
					if e == lua.LNil {
						break
					}
					fs, ok := luaStringish(e)
					f, known := scriptFlagNames[strings.ToLower(fs)]
					if !ok || !known {
						msg = "unknown flag given"
						return
					}
					flags |= f
				}
			default:
				msg = "unknown argument given to redis.register_function"
			}
		})
		if msg != "" {
			return fail(msg)
		}
		if !hasName {
			return fail("redis.register_function must get a function name argument")
		}
		if cb == nil {
			return fail("redis.register_function must get a callback argument")
		}
	} else {
		s, ok := luaStringish(L.Get(1))
		if !ok {
			return fail("first argument to redis.register_function must be a string")
		}
		f, ok := L.Get(2).(*lua.LFunction)
		if !ok {
			return fail("second argument to redis.register_function must be a function")
		}
		name, cb = s, f
	}
	if !validFuncName(name) {
		return fail(msgBadLibName)
	}
	for _, f := range lib.fns {
		if f.name == name {
			return fail("Function already exists in the library")
		}
	}
	lib.fns = append(lib.fns, &funcInfo{name: name, desc: desc, flags: flags, fn: cb, lib: lib})
	return 0
}

// luaStringish is lua_isstring + lua_tostring: strings and numbers.
func luaStringish(v lua.LValue) (string, bool) {
	switch v := v.(type) {
	case lua.LString:
		return string(v), true
	case lua.LNumber:
		return v.String(), true
	}
	return "", false
}

// linkLocked adds a compiled library and its functions; hold mu.
func (fe *funcEngine) linkLocked(l *funcLib) {
	if fe.libs == nil {
		fe.libs, fe.fns = map[string]*funcLib{}, map[string]*funcInfo{}
	}
	fe.libs[l.name] = l
	for _, f := range l.fns {
		fe.fns[strings.ToLower(f.name)] = f
	}
}

// unlinkLocked removes a library and its functions; hold mu.
func (fe *funcEngine) unlinkLocked(l *funcLib) {
	delete(fe.libs, l.name)
	for _, f := range l.fns {
		delete(fe.fns, strings.ToLower(f.name))
	}
}

// join adds libraries as libraryJoin: with replace, a library of the same
// name is replaced; a function name another library has fails the whole
// join. Hold mu.
func (fe *funcEngine) joinLocked(libs []*funcLib, replace bool) string {
	for _, l := range libs {
		if fe.libs[l.name] != nil && !replace {
			return "Library " + l.name + " already exists"
		}
	}
	for _, l := range libs {
		for _, f := range l.fns {
			if of := fe.fns[strings.ToLower(f.name)]; of != nil && !(replace && fe.libs[l.name] == of.lib) {
				return "Function " + f.name + " already exists"
			}
		}
	}
	for _, l := range libs {
		if old := fe.libs[l.name]; old != nil {
			fe.unlinkLocked(old)
		}
		fe.linkLocked(l)
	}
	return ""
}

// sortedLibs returns the libraries by name; hold mu.
func (fe *funcEngine) sortedLibsLocked() []*funcLib {
	out := make([]*funcLib, 0, len(fe.libs))
	for _, l := range fe.libs {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// dumpPayload is rdbSaveFunctions in a DUMP payload: one
// RDB_OPCODE_FUNCTION2 and the code per library, then version and CRC.
func (fe *funcEngine) dumpPayload() []byte {
	fe.mu.RLock()
	defer fe.mu.RUnlock()
	var w rdbWriter
	for _, l := range fe.sortedLibsLocked() {
		w.b = append(w.b, rdbOpcodeFunction2)
		w.rawString([]byte(l.code))
	}
	return finishDumpPayload(w.b)
}

const (
	rdbOpcodeFunction  = 246 // 7.0 release candidates' format
	rdbOpcodeFunction2 = 245
)

// parseFunctionsPayload reads a DUMP payload of libraries into their codes.
func parseFunctionsPayload(p []byte) ([]string, string) {
	if !verifyDumpPayload(p) {
		return nil, "DUMP payload version or checksum are wrong"
	}
	r := &rdbReader{b: p}
	var codes []string
	for r.left() > 10 {
		t, err := r.byte1()
		if err != nil {
			return nil, "can not read data type"
		}
		switch t {
		case rdbOpcodeFunction2:
			code, err := r.str()
			if err != nil {
				return nil, "Failed loading library payload"
			}
			codes = append(codes, string(code))
		case rdbOpcodeFunction:
			name, err := r.str()
			if err != nil {
				return nil, "Failed loading library name"
			}
			eng, err := r.str()
			if err != nil {
				return nil, "Failed loading engine name"
			}
			hasDesc, _, err := r.length()
			if err != nil {
				return nil, "Failed loading library description indicator"
			}
			if hasDesc != 0 {
				if _, err := r.str(); err != nil {
					return nil, "Failed loading library description"
				}
			}
			blob, err := r.str()
			if err != nil {
				return nil, "Failed loading library blob"
			}
			codes = append(codes, "#!"+string(eng)+" name="+string(name)+"\n"+string(blob))
		default:
			return nil, "given type is not a function"
		}
	}
	return codes, ""
}

// save records the libraries in the store (whole), and in always mode
// waits until that is durable.
func (s *Server) saveFunctions() {
	fe := &s.fn
	fe.saveMu.Lock()
	defer fe.saveMu.Unlock()
	fe.mu.RLock()
	empty := len(fe.libs) == 0
	fe.mu.RUnlock()
	var p []byte
	if !empty {
		p = fe.dumpPayload()
	}
	seq := s.store.SaveFunctions(p)
	if seq != 0 && s.store.SyncMode() == storage.SyncAlways {
		_ = s.store.WaitDurable(seq)
	}
}

// loadFunctionsAtStart loads the libraries the store holds.
func (s *Server) loadFunctionsAtStart() {
	p, err := s.store.LoadFunctions()
	if err != nil {
		logf("reading the function libraries: %v", err)
		return
	}
	if len(p) == 0 {
		return
	}
	codes, msg := parseFunctionsPayload(p)
	if msg != "" {
		logf("the stored function libraries are unreadable: %s", msg)
		return
	}
	fe := &s.fn
	fe.stateMu.Lock()
	defer fe.stateMu.Unlock()
	fe.ensureVM(s)
	var libs []*funcLib
	for _, code := range codes {
		l, msg := fe.compileLib(s, code, "")
		if l == nil {
			logf("function library failed to load: %s", msg)
			continue
		}
		libs = append(libs, l)
	}
	fe.mu.Lock()
	if msg := fe.joinLocked(libs, true); msg != "" {
		logf("function libraries: %s", msg)
	}
	fe.mu.Unlock()
}

// ---- commands ----

func cmdFunction(c *Client, args [][]byte) { runSubcommand(c, args, "function") }

func functionLoad(c *Client, args [][]byte) {
	replace := false
	i := 2
	for ; i < len(args)-1; i++ {
		if eqFold(args[i], "replace") {
			replace = true
			continue
		}
		c.WriteError("ERR Unknown option given: " + string(args[i]))
		return
	}
	if i >= len(args) {
		c.WriteError("ERR Function code is missing")
		return
	}
	s := c.srv
	if !s.functionsMemoryOK(c) {
		return
	}
	fe := &s.fn
	fe.stateMu.Lock()
	fe.ensureVM(s)
	lib, msg := fe.compileLib(s, string(args[i]), "")
	fe.stateMu.Unlock()
	if lib != nil {
		fe.mu.Lock()
		if old := fe.libs[lib.name]; old != nil && !replace {
			msg = "Library '" + lib.name + "' already exists"
		} else {
			msg = fe.joinLocked([]*funcLib{lib}, true)
		}
		fe.mu.Unlock()
	}
	if msg != "" {
		c.WriteError("ERR " + msg)
		return
	}
	s.saveFunctions()
	c.WriteBulkString(lib.name)
}

func functionDelete(c *Client, args [][]byte) {
	fe := &c.srv.fn
	fe.mu.Lock()
	l := fe.libs[string(args[2])]
	if l != nil {
		fe.unlinkLocked(l)
	}
	fe.mu.Unlock()
	if l == nil {
		c.WriteError("ERR Library not found")
		return
	}
	c.srv.saveFunctions()
	c.WriteOK()
}

func functionFlush(c *Client, args [][]byte) {
	if len(args) > 3 {
		c.WriteError(subSyntaxMsg(args))
		return
	}
	if len(args) == 3 && !eqFold(args[2], "sync") && !eqFold(args[2], "async") {
		c.WriteError(msgFunctionFlushOpt)
		return
	}
	fe := &c.srv.fn
	fe.mu.Lock()
	fe.libs, fe.fns = nil, nil
	fe.mu.Unlock()
	c.srv.saveFunctions()
	c.WriteOK()
}

func functionList(c *Client, args [][]byte) {
	withCode := false
	var pattern []byte
	havePattern := false
	for i := 2; i < len(args); i++ {
		if !withCode && eqFold(args[i], "withcode") {
			withCode = true
			continue
		}
		if !havePattern && eqFold(args[i], "libraryname") {
			if i >= len(args)-1 {
				c.WriteError("ERR library name argument was not given")
				return
			}
			i++
			pattern, havePattern = args[i], true
			continue
		}
		c.WriteError("ERR Unknown argument " + string(args[i]))
		return
	}
	fe := &c.srv.fn
	fe.mu.RLock()
	libs := fe.sortedLibsLocked()
	fe.mu.RUnlock()
	if havePattern {
		kept := libs[:0]
		for _, l := range libs {
			if pubsub.Match(pattern, []byte(l.name), false) {
				kept = append(kept, l)
			}
		}
		libs = kept
	}
	c.WriteArray(len(libs))
	for _, l := range libs {
		n := 3
		if withCode {
			n = 4
		}
		c.WriteMap(n)
		c.WriteBulkString("library_name")
		c.WriteBulkString(l.name)
		c.WriteBulkString("engine")
		c.WriteBulkString(funcEngineName)
		c.WriteBulkString("functions")
		c.WriteArray(len(l.fns))
		for _, f := range l.fns {
			c.WriteMap(3)
			c.WriteBulkString("name")
			c.WriteBulkString(f.name)
			c.WriteBulkString("description")
			if f.desc != nil {
				c.WriteBulkString(*f.desc)
			} else {
				c.WriteNull()
			}
			c.WriteBulkString("flags")
			writeScriptFlags(c, f.flags)
		}
		if withCode {
			c.WriteBulkString("library_code")
			c.WriteBulkString(l.code)
		}
	}
}

// scriptFlagOrder is scripts_flags_def's order.
var scriptFlagOrder = []string{"no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"}

func writeScriptFlags(c *Client, flags int) {
	var names []string
	for _, n := range scriptFlagOrder {
		if flags&scriptFlagNames[n] != 0 {
			names = append(names, n)
		}
	}
	c.WriteSet(len(names))
	for _, n := range names {
		c.WriteString(n)
	}
}

func functionDump(c *Client, args [][]byte) {
	c.WriteBulkString(string(c.srv.fn.dumpPayload()))
}

func functionRestore(c *Client, args [][]byte) {
	if len(args) > 4 {
		c.WriteError(subSyntaxMsg(args))
		return
	}
	policy := "append"
	if len(args) == 4 {
		switch {
		case eqFold(args[3], "append"):
		case eqFold(args[3], "replace"):
			policy = "replace"
		case eqFold(args[3], "flush"):
			policy = "flush"
		default:
			c.WriteError(msgRestorePolicy)
			return
		}
	}
	s := c.srv
	if !s.functionsMemoryOK(c) {
		return
	}
	codes, msg := parseFunctionsPayload(args[2])
	if msg != "" {
		c.WriteError("ERR " + msg)
		return
	}
	fe := &s.fn
	fe.stateMu.Lock()
	fe.ensureVM(s)
	var libs []*funcLib
	names := map[string]bool{}
	fnames := map[string]bool{}
	for _, code := range codes {
		l, m := fe.compileLib(s, code, "")
		if l == nil {
			msg = m
			break
		}
		// the payload's libraries among themselves (functionsCreateWithLibraryCtx
		// into one new context)
		if names[l.name] {
			msg = "Library '" + l.name + "' already exists"
			break
		}
		for _, f := range l.fns {
			k := strings.ToLower(f.name)
			if fnames[k] {
				msg = "Function " + f.name + " already exists"
			}
			fnames[k] = true
		}
		if msg != "" {
			break
		}
		names[l.name] = true
		libs = append(libs, l)
	}
	fe.stateMu.Unlock()
	if msg == "" {
		fe.mu.Lock()
		if policy == "flush" {
			fe.libs, fe.fns = nil, nil
		}
		msg = fe.joinLocked(libs, policy == "replace")
		fe.mu.Unlock()
	}
	if msg != "" {
		c.WriteError("ERR " + msg)
		return
	}
	s.saveFunctions()
	c.WriteOK()
}

func functionStats(c *Client, args [][]byte) {
	s := c.srv
	e := &s.lua
	e.runMu.Lock()
	cur := e.oldestRun(nil)
	var (
		name string
		argv [][]byte
		dur  int64
	)
	if cur != nil {
		name, argv, dur = cur.name, cur.argv, time.Since(cur.start).Milliseconds()
	}
	isEval := cur != nil && !cur.isFunc
	e.runMu.Unlock()
	if isEval {
		c.WriteError(msgBusyScript)
		return
	}
	fe := &s.fn
	fe.mu.RLock()
	nlib, nfn := len(fe.libs), len(fe.fns)
	fe.mu.RUnlock()
	c.WriteMap(2)
	c.WriteBulkString("running_script")
	if cur == nil {
		c.WriteNull()
	} else {
		c.WriteMap(3)
		c.WriteBulkString("name")
		c.WriteBulkString(name)
		c.WriteBulkString("command")
		c.WriteArray(len(argv))
		for _, a := range argv {
			c.WriteBulkString(string(a))
		}
		c.WriteBulkString("duration_ms")
		c.WriteInt(int(dur))
	}
	c.WriteBulkString("engines")
	c.WriteMap(1)
	c.WriteBulkString(funcEngineName)
	c.WriteMap(2)
	c.WriteBulkString("libraries_count")
	c.WriteInt(nlib)
	c.WriteBulkString("functions_count")
	c.WriteInt(nfn)
}

func functionKill(c *Client, args [][]byte) { c.srv.lua.kill(c, true) }

func functionHelp(c *Client, args [][]byte) {
	writeHelp(c, args[0],
		"LOAD [REPLACE] <FUNCTION CODE>",
		"    Create a new library with the given library name and code.",
		"DELETE <LIBRARY NAME>",
		"    Delete the given library.",
		"LIST [LIBRARYNAME PATTERN] [WITHCODE]",
		"    Return general information on all the libraries:",
		"    * Library name",
		"    * The engine used to run the Library",
		"    * Library description",
		"    * Functions list",
		"    * Library code (if WITHCODE is given)",
		"    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
		"STATS",
		"    Return information about the current function running:",
		"    * Function name",
		"    * Command used to run the function",
		"    * Duration in MS that the function is running",
		"    If no function is running, return nil",
		"    In addition, returns a list of available engines.",
		"KILL",
		"    Kill the current running function.",
		"FLUSH [ASYNC|SYNC]",
		"    Delete all the libraries.",
		"    When called without the optional mode argument, the behavior is determined by the",
		"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
		"    * ASYNC: Asynchronously flush the libraries.",
		"    * SYNC: Synchronously flush the libraries.",
		"DUMP",
		"    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
		"RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
		"    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
		"    control how to handle existing libraries (default APPEND):",
		"    * FLUSH: delete all existing libraries.",
		"    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
		"    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
		"      libraries with the new libraries (notice that even on this option there is a chance of failure",
		"      in case of functions name collision with another library).")
}

// ---- FCALL ----

func cmdFcall(c *Client, args [][]byte)   { c.srv.fcallGeneric(c, args, false) }
func cmdFcallRO(c *Client, args [][]byte) { c.srv.fcallGeneric(c, args, true) }

func (s *Server) lookupFunction(name []byte) *funcInfo {
	fe := &s.fn
	fe.mu.RLock()
	defer fe.mu.RUnlock()
	return fe.fns[strings.ToLower(string(name))]
}

// fcallCallFlags is fcallGetCommandFlags: the function's declared flags
// decide whether the call writes.
func fcallCallFlags(s *Server, args [][]byte) Flag {
	cmd := lookupCommand(args[0])
	fi := s.lookupFunction(args[1])
	if fi == nil {
		return cmd.Flags
	}
	f := cmd.Flags &^ (FlagWrite | FlagMayReplicate | FlagDenyOOM)
	if fi.flags&scriptFlagNoWrites == 0 {
		f |= FlagWrite
		if fi.flags&scriptFlagAllowOOM == 0 {
			f |= FlagDenyOOM
		}
	}
	return f
}

// fcallLocksAll: a function whose library names SELECT locks every database.
func fcallLocksAll(s *Server, args [][]byte) bool {
	if len(args) < 2 {
		return false
	}
	fi := s.lookupFunction(args[1])
	return fi != nil && fi.lib.selects
}

func (s *Server) fcallGeneric(c *Client, args [][]byte, ro bool) {
	if s.mon.n.Load() != 0 {
		// before the function runs, so that its commands follow it (Redis's
		// FCALL family is skip_monitor and feeds itself)
		s.feedMonitors(c, args)
	}
	fi := s.lookupFunction(args[1])
	if fi == nil {
		c.WriteError("ERR Function not found")
		return
	}
	numkeys, ok := parseInt(args[2])
	if !ok {
		c.WriteError("ERR Bad number of keys provided")
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
	run := &scriptRun{s: s, c: c, fn: fi.fn, name: fi.name, isFunc: true, start: time.Now(), resp: 2, db: c.db, argv: args}
	if !s.prepareScript(run, fi.flags, ro) {
		return
	}
	run.lockAll = fi.lib.selects
	fe := &s.fn
	fe.stateMu.Lock()
	defer fe.stateMu.Unlock()
	fe.ensureVM(s)
	// a FUNCTION LOAD REPLACE may have replaced the function meanwhile
	if cur := s.lookupFunction(args[1]); cur != fi {
		if cur == nil {
			c.WriteError("ERR Function not found")
			return
		}
		run.fn = cur.fn
	}
	s.runScript(run, args[3:3+numkeys], args[3+numkeys:])
}

// functionsInfo is INFO memory's functions fields: the interpreter's base
// (as used_memory_vm_eval), the libraries' code, and the counts.
func (s *Server) functionsInfo() (vm, mem int64, nfn, nlib int) {
	fe := &s.fn
	fe.mu.RLock()
	defer fe.mu.RUnlock()
	for _, l := range fe.libs {
		mem += int64(len(l.code))
	}
	if len(fe.libs) > 0 {
		vm = 31744
	}
	return vm, mem, len(fe.fns), len(fe.libs)
}

// functionsMemoryOK is the denyoom check of FUNCTION LOAD and RESTORE (the
// FUNCTION container itself takes no key lock, so the dispatcher does not
// make room for it): over maxmemory with nothing to evict, -OOM.
func (s *Server) functionsMemoryOK(c *Client) bool {
	if s.store.MaxMemory() <= 0 {
		return true
	}
	if err := s.store.EnsureMemory(); err != nil {
		c.WriteError(msgOOM)
		return false
	}
	return true
}
