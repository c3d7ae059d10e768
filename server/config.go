package server

import (
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/luxdb/lux-go/pubsub"
	"github.com/luxdb/lux-go/storage"
)

// configParam is one CONFIG GET/SET parameter. set is nil for read-only ones.
type configParam struct {
	get func() string
	set func(v string) string // returns an error message, "" on success
}

// configTable holds the parameters CONFIG sees: the live ones wired to the
// server, and Redis tuning knobs accepted for compatibility (stored, no effect;
// listed in docs/COMPATIBILITY.md).
type configTable struct {
	mu     sync.RWMutex
	params map[string]*configParam
	passiv map[string]string
}

// passiveDefaults are Redis parameters clients and test suites set or read that
// have no meaning here (encodings, replication, persistence knobs of Redis).
var passiveDefaults = map[string]string{
	"databases": "16", "timeout": "0", "tcp-keepalive": "300", "hz": "10",
	"save": "", "appendonly": "yes", "maxmemory-samples": "5", "lazyfree-lazy-user-del": "no",
	"lazyfree-lazy-user-flush": "no", "lazyfree-lazy-eviction": "no", "lazyfree-lazy-expire": "no",
	"lazyfree-lazy-server-del": "no", "list-max-listpack-size": "-2", "list-max-ziplist-size": "-2",
	"list-compress-depth": "0", "hash-max-listpack-entries": "512", "hash-max-listpack-value": "64",
	"hash-max-ziplist-entries": "512", "hash-max-ziplist-value": "64", "set-max-intset-entries": "512",
	"zset-max-listpack-entries": "128", "zset-max-listpack-value": "64", "zset-max-ziplist-entries": "128",
	"zset-max-ziplist-value": "64", "stream-node-max-bytes": "4096", "stream-node-max-entries": "100",
	"activerehashing": "yes", "active-expire-effort": "1", "lua-time-limit": "5000", "busy-reply-threshold": "5000",
	"slowlog-log-slower-than": "10000", "slowlog-max-len": "128", "latency-tracking": "yes",
	"client-query-buffer-limit":  "1073741824",
	"client-output-buffer-limit": "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
	"protected-mode":             "yes", "loglevel": "notice", "io-threads": "1", "appendfilename": "appendonly.aof",
	"replica-read-only": "yes", "slave-read-only": "yes", "repl-diskless-sync": "yes", "min-replicas-to-write": "0",
	"enable-debug-command": "no", "lfu-log-factor": "10", "lfu-decay-time": "1",
	"close-on-replica-write": "yes", "lazyfree-lazy-user-flush-async": "no", "activedefrag": "no",
	"latency-tracking-info-percentiles": "50 99 99.9", "appenddirname": "appendonlydir", "dbfilename": "dump.rdb",
	"maxmemory-clients": "0", "oom-score-adj": "no", "list-max-listpack-entries": "128",
	"maxmemory-eviction-tenacity": "10", "rdb-key-save-delay": "0", "key-load-delay": "0",
	"latency-monitor-threshold": "0", "acl-pubsub-default": "resetchannels", "dynamic-hz": "yes",
	"rdbcompression": "yes", "rdbchecksum": "yes", "stop-writes-on-bgsave-error": "yes", "aof-use-rdb-preamble": "yes",
	"active-defrag-threshold-lower": "10", "active-defrag-threshold-upper": "100", "active-defrag-ignore-bytes": "104857600",
	"active-defrag-cycle-min": "1", "active-defrag-cycle-max": "25", "active-defrag-max-scan-fields": "1000",
	"repl-backlog-size": "1048576", "repl-diskless-sync-delay": "5", "repl-diskless-load": "disabled",
	"replica-serve-stale-data": "yes", "oom-score-adj-values": "0 200 800", "masterauth": "",
	"shutdown-on-sigterm": "default", "shutdown-on-sigint": "default", "enable-protected-configs": "no",
	"enable-module-command": "no", "sanitize-dump-payload": "no", "set-proc-title": "yes",
}

// passiveImmutable are passive parameters Redis only takes at start-up.
var passiveImmutable = map[string]bool{"databases": true, "io-threads": true, "appendfilename": true,
	"appenddirname": true}

// immutableDefaults are Redis's start-up-only parameters lux has no use for;
// CONFIG GET shows Redis's defaults and CONFIG SET refuses them as Redis does.
var immutableDefaults = map[string]string{
	"daemonize": "no", "supervised": "no", "pidfile": "", "logfile": "", "syslog-enabled": "no",
	"syslog-ident": "redis", "syslog-facility": "local0", "unixsocket": "", "unixsocketperm": "0",
	"always-show-logo": "no", "cluster-enabled": "no", "tcp-backlog": "511", "disable-thp": "yes",
	"io-threads-do-reads": "no", "replicaof": "", "slaveof": "", "cluster-config-file": "nodes.conf",
	"cluster-port": "0",
}

// hiddenConfigs are left out of CONFIG GET's pattern matches, as Redis's
// HIDDEN_CONFIG ones, and returned only when asked for by name.
var hiddenConfigs = map[string]bool{"key-load-delay": true, "rdb-key-save-delay": true,
	"use-exit-on-panic": true, "watchdog-period": true, "loading-process-events-interval-bytes": true}

// passiveFreeForm are passive parameters whose Redis values go beyond what
// their default suggests (oom-score-adj also takes relative/absolute).
var passiveFreeForm = map[string]bool{"oom-score-adj": true, "enable-debug-command": true,
	"enable-protected-configs": true, "enable-module-command": true, "sanitize-dump-payload": true}

func newConfigTable(s *Server) *configTable {
	t := &configTable{params: map[string]*configParam{}, passiv: map[string]string{}}
	for k, v := range passiveDefaults {
		t.passiv[k] = v
	}
	for k, v := range immutableDefaults {
		t.passiv[k] = v
	}
	intParam := func(get func() int64, set func(int64), min int64) *configParam {
		return &configParam{
			get: func() string { return strconv.FormatInt(get(), 10) },
			set: func(v string) string {
				n, ok := parseMemory(v)
				if !ok || n < min {
					return "argument must be a memory value"
				}
				set(n)
				return ""
			},
		}
	}
	// encoding thresholds: only what OBJECT ENCODING reports depends on them
	for _, e := range []struct {
		names []string
		v     *atomic.Int64
	}{
		{[]string{"hash-max-listpack-entries", "hash-max-ziplist-entries"}, &storage.HashMaxListpackEntries},
		{[]string{"hash-max-listpack-value", "hash-max-ziplist-value"}, &storage.HashMaxListpackValue},
		{[]string{"set-max-intset-entries"}, &storage.SetMaxIntsetEntries},
		{[]string{"zset-max-listpack-entries", "zset-max-ziplist-entries"}, &storage.ZsetMaxListpackEntries},
		{[]string{"zset-max-listpack-value", "zset-max-ziplist-value"}, &storage.ZsetMaxListpackValue},
		// stream nodes: what approximate trimming removes depends on them
		{[]string{"stream-node-max-entries"}, &storage.StreamNodeMaxEntries},
		{[]string{"stream-node-max-bytes"}, &storage.StreamNodeMaxBytes},
	} {
		for _, n := range e.names {
			delete(t.passiv, n)
			t.params[n] = intParam(e.v.Load, e.v.Store, 0)
		}
	}
	t.params["notify-keyspace-events"] = notifyConfigParam(s)
	latencyConfig(s, t)
	// Redis can change these at run time, lux cannot: the current value is
	// accepted (CONFIG SET of every parameter to its own value, as clients
	// and the suite do, succeeds), another one is refused
	t.params["port"] = &configParam{get: func() string { return strconv.Itoa(s.listenPort()) },
		set: func(v string) string {
			n, ok := parseInt([]byte(v))
			if !ok || n < 0 || n > 65535 {
				return "argument must be between 0 and 65535 inclusive"
			}
			if int(n) == s.listenPort() {
				return ""
			}
			// Redis's message when the new port is taken; a free one lux
			// still cannot move to
			ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.Bind, strconv.FormatInt(n, 10)))
			if err != nil {
				return "Unable to listen on this port. Check server logs."
			}
			ln.Close()
			return "lux cannot change its port at run time"
		}}
	t.params["bind"] = &configParam{get: func() string { return s.cfg.Bind },
		set: sameValueOnly(func() string { return s.cfg.Bind }, "lux cannot change its bind address at run time")}
	t.params["dir"] = &configParam{get: func() string { return s.store.Dir() },
		set: sameValueOnly(s.store.Dir, "lux cannot change its data directory at run time")}
	t.params["requirepass"] = &configParam{
		get: func() string { return *s.password.Load() },
		set: func(v string) string { s.password.Store(&v); s.setDefaultPassword(v); return "" },
	}
	// ACL (acl.go)
	delete(t.passiv, "acl-pubsub-default")
	t.params["acl-pubsub-default"] = &configParam{
		get: func() string {
			if s.acl.pubsubAll.Load() {
				return "allchannels"
			}
			return "resetchannels"
		},
		set: func(v string) string {
			switch strings.ToLower(v) {
			case "allchannels":
				s.acl.pubsubAll.Store(true)
			case "resetchannels":
				s.acl.pubsubAll.Store(false)
			default:
				return "argument(s) must be one of the following: allchannels, resetchannels"
			}
			return ""
		},
	}
	t.params["acllog-max-len"] = &configParam{
		get: func() string { return strconv.FormatInt(s.acl.logMax.Load(), 10) },
		set: func(v string) string {
			n, ok := parseInt([]byte(v))
			if !ok || n < 0 {
				return "argument couldn't be parsed into an integer"
			}
			s.acl.logMax.Store(n)
			return ""
		},
	}
	t.params["aclfile"] = &configParam{get: func() string { return s.acl.file }}
	// lowering maxmemory evicts at once (configSet), as Redis does
	t.params["maxmemory"] = intParam(s.store.MaxMemory, s.store.SetMaxMemory, 0)
	t.params["maxmemory-policy"] = &configParam{
		get: func() string { return s.store.Policy().String() },
		set: func(v string) string {
			p, ok := storage.ParsePolicy(v)
			if !ok {
				return "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
			}
			s.store.SetPolicy(p)
			return ""
		},
	}
	// a lower limit applies at once (Redis: on the next command or cron tick)
	t.params["tracking-table-max-keys"] = intParam(s.trk.maxKeys.Load, func(v int64) { s.trk.maxKeys.Store(v); s.trackLimit() }, 0)
	t.params["hll-sparse-max-bytes"] = intParam(s.hllMaxBytes.Load, s.hllMaxBytes.Store, 0)
	// lux's own: how much the heap may grow while one script runs
	t.params["lux-script-memory-limit"] = intParam(s.lua.memLimit.Load, s.lua.memLimit.Store, 0)
	t.params["proto-max-bulk-len"] = intParam(s.limits.MaxBulkLen.Load, s.limits.MaxBulkLen.Store, 1024*1024)
	t.params["maxclients"] = &configParam{
		get: func() string { return strconv.FormatInt(s.maxClients.Load(), 10) },
		set: func(v string) string {
			n, ok := parseInt([]byte(v))
			if !ok || n < 1 {
				return "argument couldn't be parsed into an integer"
			}
			s.maxClients.Store(n)
			return ""
		},
	}
	appendfsync := func() string {
		if !s.store.Persistent() {
			return "no"
		}
		return s.store.SyncMode().String()
	}
	t.params["appendfsync"] = &configParam{get: appendfsync, set: func(v string) string {
		m, err := storage.ParseSyncMode(strings.ToLower(v))
		if err != nil {
			return "argument(s) must be one of the following: everysec, always, no"
		}
		s.store.SetSyncMode(m)
		return ""
	}}
	t.params["maxmemory-clients"] = &configParam{
		get: func() string { return t.passiv["maxmemory-clients"] },
		set: func(v string) string {
			if p, ok := strings.CutSuffix(v, "%"); ok {
				n, ok := parseInt([]byte(p))
				switch {
				case !ok || n < 0:
					return "argument must be a memory or percent value"
				case n > 100:
					return "percentage argument must be less or equal to 100"
				}
			} else if n, ok := parseMemory(v); !ok {
				return "argument must be a memory or percent value"
			} else {
				v = strconv.FormatInt(n, 10)
			}
			t.passiv["maxmemory-clients"] = v // accepted, no effect (docs/COMPATIBILITY.md)
			return ""
		}}
	return t
}

// sameValueOnly is the setter of a parameter lux takes at start-up only:
// its current value is accepted (case-insensitively), any other refused
// with msg.
func sameValueOnly(get func() string, msg string) func(string) string {
	return func(v string) string {
		if strings.EqualFold(v, get()) {
			return ""
		}
		return msg
	}
}

// parseMemory parses a Redis memory value: bytes, or with k/kb/m/mb/g/gb.
func parseMemory(v string) (int64, bool) {
	l := strings.ToLower(v)
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"g", 1e9}, {"m", 1e6}, {"k", 1e3}, {"b", 1}} {
		if strings.HasSuffix(l, u.suf) {
			l, mult = strings.TrimSuffix(l, u.suf), u.m
			break
		}
	}
	n, ok := parseInt([]byte(l))
	if !ok || n < 0 {
		return 0, false
	}
	return n * mult, true
}

// get returns the name/value pairs of every parameter matching one of the
// patterns, as Redis 7 does: a name without glob characters is looked up
// case-insensitively and echoed as given, a pattern matches case-insensitively.
// passiveValue returns a passive parameter's current value.
func (t *configTable) passiveValue(name string) string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.passiv[name]
}

func (t *configTable) get(patterns []string) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	seen := map[string]bool{}
	var out []string
	add := func(shown, name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		if p, ok := t.params[name]; ok {
			out = append(out, shown, p.get())
		} else {
			out = append(out, shown, t.passiv[name])
		}
	}
	for _, pat := range patterns {
		if !strings.ContainsAny(pat, "[*?") {
			name := strings.ToLower(pat)
			if _, ok := t.params[name]; ok {
				add(pat, name)
			} else if _, ok := t.passiv[name]; ok {
				add(pat, name)
			}
			continue
		}
		var names []string
		for n := range t.params {
			names = append(names, n)
		}
		for n := range t.passiv {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if !seen[n] && !hiddenConfigs[n] && pubsub.Match([]byte(pat), []byte(n), true) {
				add(n, n)
			}
		}
	}
	return out
}

// set applies name/value pairs with Redis 7's CONFIG SET semantics: every
// name is validated before any value changes (unknown, immutable, duplicate),
// and if one value is rejected the ones already applied are restored.
func (t *configTable) set(pairs [][]byte) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	seen := map[string]bool{}
	for i := 0; i < len(pairs); i += 2 {
		name := strings.ToLower(string(pairs[i]))
		p, ok := t.params[name]
		_, passive := t.passiv[name]
		switch {
		case !ok && !passive:
			return "ERR Unknown option or number of arguments for CONFIG SET - '" + string(pairs[i]) + "'"
		case (ok && p.set == nil) || passiveImmutable[name] || isImmutableDefault(name):
			return "ERR CONFIG SET failed (possibly related to argument '" + string(pairs[i]) + "') - can't set immutable config"
		case seen[name]:
			return "ERR CONFIG SET failed (possibly related to argument '" + string(pairs[i]) + "') - duplicate parameter"
		}
		seen[name] = true
	}
	type undo struct{ name, old string }
	var done []undo
	for i := 0; i < len(pairs); i += 2 {
		name := strings.ToLower(string(pairs[i]))
		val := string(pairs[i+1])
		var msg, old string
		if p, ok := t.params[name]; ok {
			old = p.get()
			msg = p.set(val)
		} else {
			old = t.passiv[name]
			if passiveFreeForm[name] {
				t.passiv[name] = val
			} else if msg = validatePassive(passiveDefaults[name], val); msg == "" {
				t.passiv[name] = val
			}
		}
		if msg != "" {
			for k := len(done) - 1; k >= 0; k-- {
				if p, ok := t.params[done[k].name]; ok {
					p.set(done[k].old)
				} else {
					t.passiv[done[k].name] = done[k].old
				}
			}
			return "ERR CONFIG SET failed (possibly related to argument '" + name + "') - " + msg
		}
		done = append(done, undo{name, old})
	}
	return ""
}

// validatePassive checks a value for a compatibility-only parameter against
// the kind its default shows (yes/no or integer), so obviously wrong values
// fail as they would in Redis even though the parameter has no effect.
func validatePassive(def, v string) string {
	switch {
	case def == "yes" || def == "no":
		if !strings.EqualFold(v, "yes") && !strings.EqualFold(v, "no") {
			return "argument must be 'yes' or 'no'"
		}
	case def != "" && isIntString(def):
		if _, ok := parseMemory(v); !ok {
			if _, ok := parseInt([]byte(v)); !ok {
				return "argument couldn't be parsed into an integer"
			}
		}
	}
	return ""
}

func isImmutableDefault(name string) bool {
	_, ok := immutableDefaults[name]
	return ok
}

func isIntString(s string) bool {
	_, ok := parseInt([]byte(s))
	return ok
}

var _ = storage.NumDBs
