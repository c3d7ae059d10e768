package server

import (
	"sort"
	"strconv"
	"strings"
	"sync"

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
	"list-compress-depth": "0", "hash-max-listpack-entries": "128", "hash-max-listpack-value": "64",
	"hash-max-ziplist-entries": "128", "hash-max-ziplist-value": "64", "set-max-intset-entries": "512",
	"set-max-listpack-entries": "128", "set-max-listpack-value": "64",
	"zset-max-listpack-entries": "128", "zset-max-listpack-value": "64", "zset-max-ziplist-entries": "128",
	"zset-max-ziplist-value": "64", "stream-node-max-bytes": "4096", "stream-node-max-entries": "100",
	"activerehashing": "yes", "active-expire-effort": "1", "lua-time-limit": "5000", "busy-reply-threshold": "5000",
	"slowlog-log-slower-than": "10000", "slowlog-max-len": "128", "latency-tracking": "yes",
	"notify-keyspace-events": "", "client-query-buffer-limit": "1073741824",
	"client-output-buffer-limit": "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
	"protected-mode":             "yes", "loglevel": "notice", "io-threads": "1", "appendfilename": "appendonly.aof",
	"replica-read-only": "yes", "slave-read-only": "yes", "repl-diskless-sync": "yes", "min-replicas-to-write": "0",
	"enable-debug-command": "no", "lfu-log-factor": "10", "lfu-decay-time": "1", "tracking-table-max-keys": "1000000",
	"close-on-replica-write": "yes", "lazyfree-lazy-user-flush-async": "no", "activedefrag": "no",
	"latency-tracking-info-percentiles": "50 99 99.9", "appenddirname": "appendonlydir", "dbfilename": "dump.rdb",
	"maxmemory-clients": "0", "oom-score-adj": "no", "list-max-listpack-entries": "128",
}

func newConfigTable(s *Server) *configTable {
	t := &configTable{params: map[string]*configParam{}, passiv: map[string]string{}}
	for k, v := range passiveDefaults {
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
	t.params["port"] = &configParam{get: func() string { return strconv.Itoa(s.cfg.Port) }}
	t.params["bind"] = &configParam{get: func() string { return s.cfg.Bind }}
	t.params["dir"] = &configParam{get: func() string { return s.store.Dir() }}
	t.params["requirepass"] = &configParam{
		get: func() string { return *s.password.Load() },
		set: func(v string) string { s.password.Store(&v); return "" },
	}
	t.params["maxmemory"] = intParam(s.store.MaxMemory, s.store.SetMaxMemory, 0)
	t.params["maxmemory-policy"] = &configParam{
		get: func() string {
			if s.store.NoEviction() {
				return "noeviction"
			}
			return "allkeys-lru"
		},
		set: func(v string) string {
			switch strings.ToLower(v) {
			case "noeviction":
				s.store.SetNoEviction(true)
			case "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl":
				s.store.SetNoEviction(false)
			default:
				return "argument(s) must be one of the following: volatile-lru, allkeys-lru, volatile-lfu, allkeys-lfu, volatile-random, allkeys-random, volatile-ttl, noeviction"
			}
			return ""
		},
	}
	t.params["proto-max-bulk-len"] = intParam(s.limits.MaxBulkLen.Load, s.limits.MaxBulkLen.Store, 1024*1024)
	t.params["maxclients"] = &configParam{
		get: func() string { return strconv.Itoa(s.cfg.MaxClients) },
		set: func(v string) string {
			n, ok := parseInt([]byte(v))
			if !ok || n < 1 {
				return "argument couldn't be parsed into an integer"
			}
			s.cfg.MaxClients = int(n)
			return ""
		},
	}
	t.params["appendfsync"] = &configParam{get: func() string {
		if !s.store.Persistent() {
			return "no"
		}
		return s.store.SyncMode().String()
	}}
	return t
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

// get returns the name/value pairs of every parameter matching one of the patterns.
func (t *configTable) get(patterns []string) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	seen := map[string]bool{}
	var names []string
	add := func(name string) {
		for _, p := range patterns {
			if !seen[name] && pubsub.Match([]byte(strings.ToLower(p)), []byte(name), true) {
				seen[name] = true
				names = append(names, name)
			}
		}
	}
	for n := range t.params {
		add(n)
	}
	for n := range t.passiv {
		add(n)
	}
	sort.Strings(names)
	out := make([]string, 0, 2*len(names))
	for _, n := range names {
		if p, ok := t.params[n]; ok {
			out = append(out, n, p.get())
		} else {
			out = append(out, n, t.passiv[n])
		}
	}
	return out
}

// set applies name/value pairs atomically from the client's point of view:
// all names are validated before any value changes.
func (t *configTable) set(pairs [][]byte) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	seen := map[string]bool{}
	for i := 0; i < len(pairs); i += 2 {
		name := strings.ToLower(string(pairs[i]))
		if seen[name] {
			return "ERR Duplicate parameter - " + string(pairs[i])
		}
		seen[name] = true
		p, ok := t.params[name]
		_, passive := t.passiv[name]
		if (!ok && !passive) || (ok && p.set == nil) {
			if ok {
				return "ERR CONFIG SET failed (possibly related to argument '" + string(pairs[i]) + "') - can't set immutable config"
			}
			return "ERR Unknown option or number of arguments for CONFIG SET - '" + string(pairs[i]) + "'"
		}
	}
	for i := 0; i < len(pairs); i += 2 {
		name := strings.ToLower(string(pairs[i]))
		if p, ok := t.params[name]; ok {
			if msg := p.set(string(pairs[i+1])); msg != "" {
				return "ERR CONFIG SET failed (possibly related to argument '" + string(pairs[i]) + "') - " + msg
			}
			continue
		}
		t.passiv[name] = string(pairs[i+1])
	}
	return ""
}

var _ = storage.NumDBs
