package main

// An in-test model of the keyspace (every value type, deadlines, 16
// databases) and of two tables, and a generator of random commands that
// applies each command to the model as it generates it, together with the
// reply the command must get. TestModelMaxmemory runs one long stream of
// these against a memory-bounded server; TestCrashLoopModel runs several
// streams at once and kills the server under them.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// mval is the model of one key's value. A collection is never empty: a
// command that removes the last element removes the key.
type mval struct {
	typ  string // string, list, hash, set, zset
	str  string
	list []string
	hash map[string]string
	set  map[string]bool
	zset map[string]float64
	// exp is the deadline in unix ms as the client estimated it when it
	// generated the command (the server fixes it a little later); 0: none.
	exp int64
}

func (v *mval) clone() *mval {
	if v == nil {
		return nil
	}
	n := *v
	n.list = slices.Clone(v.list)
	n.hash = maps.Clone(v.hash)
	n.set = maps.Clone(v.set)
	n.zset = maps.Clone(v.zset)
	return &n
}

func (v *mval) empty() bool {
	switch v.typ {
	case "list":
		return len(v.list) == 0
	case "hash":
		return len(v.hash) == 0
	case "set":
		return len(v.set) == 0
	case "zset":
		return len(v.zset) == 0
	}
	return false
}

// body renders the value without its deadline in the form canonBody renders
// what the server returned, so the two compare as strings.
func (v *mval) body() string {
	if v == nil {
		return "none"
	}
	var parts []string
	switch v.typ {
	case "string":
		parts = []string{v.str}
	case "list":
		parts = v.list
	case "hash":
		for f, x := range v.hash {
			parts = append(parts, f+"="+x)
		}
		sort.Strings(parts)
	case "set":
		for m := range v.set {
			parts = append(parts, m)
		}
		sort.Strings(parts)
	case "zset":
		for m, s := range v.zset {
			parts = append(parts, m+"="+strconv.FormatFloat(s, 'g', -1, 64))
		}
		sort.Strings(parts)
	}
	return canonJoin(v.typ, parts)
}

// canon is body plus whether the key has a deadline.
func (v *mval) canon() string {
	if v != nil && v.exp != 0 {
		return v.body() + "+ttl"
	}
	return v.body()
}

func canonJoin(typ string, parts []string) string {
	var b strings.Builder
	b.WriteString(typ)
	for _, p := range parts {
		b.WriteString("|")
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteString(":")
		b.WriteString(p)
	}
	return b.String()
}

// mspace is the model of the 16 databases.
type mspace struct{ dbs [16]map[string]*mval }

func newMspace() *mspace {
	s := &mspace{}
	for i := range s.dbs {
		s.dbs[i] = map[string]*mval{}
	}
	return s
}

func (s *mspace) get(db int, key string) *mval { return s.dbs[db][key] }

// bytes is the size of every key and value (elements, fields, members).
func (s *mspace) bytes() int64 {
	n := 0
	for _, db := range s.dbs {
		for k, v := range db {
			n += len(k) + len(v.str)
			for _, e := range v.list {
				n += len(e)
			}
			for f, x := range v.hash {
				n += len(f) + len(x)
			}
			for m := range v.set {
				n += len(m)
			}
			for m := range v.zset {
				n += len(m) + 8
			}
		}
	}
	return int64(n)
}

// put stores v (nil or an empty collection deletes the key).
func (s *mspace) put(db int, key string, v *mval) {
	if v == nil || v.empty() {
		delete(s.dbs[db], key)
		return
	}
	s.dbs[db][key] = v
}

// tmodel is the model of two tables: users (name unique, score) and posts
// (author ref(users), ts, body, tag). The (author, ts) composite index and
// the unique index on name are what the queries check.
type tmodel struct {
	usersCreated bool // TCREATE users generated since the last reset
	postsCreated bool
	users        map[int64]*tuser
	posts        map[int64]*tpost
	nextUser     int64
	nextPost     int64
	names        map[string]int64
	refs         map[int64]int // user id -> posts referencing it
	nameSeq      int
}

type tuser struct {
	name  string
	score int64
}

type tpost struct {
	author, ts int64
	body, tag  string
}

func newTmodel() *tmodel {
	return &tmodel{users: map[int64]*tuser{}, posts: map[int64]*tpost{}, names: map[string]int64{}, refs: map[int64]int{}}
}

// reset is FLUSHDB/FLUSHALL: every table is gone; new ones start at id 1.
func (m *tmodel) reset() {
	nameSeq := m.nameSeq
	*m = *newTmodel()
	m.nameSeq = nameSeq
}

func (u *tuser) row(id int64) []string {
	return []string{strconv.FormatInt(id, 10), "name", u.name, "score", strconv.FormatInt(u.score, 10)}
}

func (p *tpost) row(id int64) []string {
	return []string{strconv.FormatInt(id, 10), "author", strconv.FormatInt(p.author, 10), "body", p.body,
		"tag", p.tag, "ts", strconv.FormatInt(p.ts, 10)}
}

// authorHistory is TQUERY posts WHERE author = a ORDER BY ts DESC LIMIT n.
func (m *tmodel) authorHistory(a int64, n int) [][]string {
	var ids []int64
	for id, p := range m.posts {
		if p.author == a {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		pi, pj := m.posts[ids[i]], m.posts[ids[j]]
		if pi.ts != pj.ts {
			return pi.ts > pj.ts
		}
		return ids[i] < ids[j]
	})
	var rows [][]string
	for _, id := range ids[:min(n, len(ids))] {
		rows = append(rows, m.posts[id].row(id))
	}
	return rows
}

func sortedIDs[T any](m map[int64]T) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// checkFn checks one reply (go-redis's value and error for it).
type checkFn func(v any, err error) error

// dbkey names a key of a database.
type dbkey struct {
	db  int
	key string
}

// mop is one generated command (or a MULTI/EXEC transaction) and the reply
// it must get.
type mop struct {
	n     int     // sequence number in its stream
	db    int     // the database it runs in; -1: any (table commands)
	args  []any   // the command, or nil for a transaction
	tx    [][]any // MULTI ... EXEC
	check checkFn
	write bool
	bytes int // payload bytes written

	// With mgen.record: the state of every key the command changed, after it.
	effects []meffect

	cmd   *redis.Cmd // the reply, after the batch ran
	acked bool
	at    time.Time
}

type meffect struct {
	k dbkey
	v *mval // nil: absent
}

func (op *mop) String() string {
	show := func(args []any) string {
		var parts []string
		for _, a := range args {
			s := fmt.Sprint(a)
			if len(s) > 40 {
				s = fmt.Sprintf("%s...(%d bytes)", s[:32], len(s))
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, " ")
	}
	db := ""
	if op.db >= 0 {
		db = fmt.Sprintf("[db %d] ", op.db)
	}
	if op.tx != nil {
		var cmds []string
		for _, c := range op.tx {
			cmds = append(cmds, show(c))
		}
		return fmt.Sprintf("#%d %sMULTI; %s; EXEC", op.n, db, strings.Join(cmds, "; "))
	}
	return fmt.Sprintf("#%d %s%s", op.n, db, show(op.args))
}

// msizes sets the size of generated values.
type msizes struct {
	strMin, strMax   int // SET values
	appendMax        int
	strCap           int // APPEND/SETRANGE past this length become a SET
	elemMin, elemMax int // list elements, hash values
	listCap          int // LTRIM beyond
	hashFields       int // field domain f0..
	memberDomain     int // set and zset member domain
	postsCap         int // at most this many posts (deletes instead)
}

// mgen generates random commands over a model and applies them to it.
type mgen struct {
	rng *rand.Rand
	ks  *mspace
	tm  *tmodel // nil: no table commands
	// pick chooses the key of the next command; pickIn a second key in db
	// (RENAME/COPY/SMOVE/DEL targets); otherDB the target of MOVE and of a
	// cross-database COPY (ok=false: none).
	pickFn   func() (int, string)
	pickInFn func(db int) string
	otherDB  func(db int) (int, bool)
	// pending holds the keys that SET ... PXAT <past> left behind: absent
	// for every command, but (as in Redis 7.0) counted by DBSIZE until
	// expiry reclaims them or a command touches them.
	pending map[dbkey]bool
	types   []string // what a command on an absent key creates
	sz      msizes
	// percentages: reads, generic key commands, table commands
	readPct, genericPct, tablePct int
	// whether SET/EXPIRE with a deadline in the past (deleting the key) and
	// commands that fail on purpose (WRONGTYPE, out of range) are generated
	oddities bool
	record   bool
	tag      string // makes values unique across generators
	n        int
	touched  []dbkey
}

const payloadAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// payloadPool is random text that values are cut from, so that generating
// hundreds of megabytes of values costs no random numbers per byte and the
// model shares the memory.
var payloadPool = func() string {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = payloadAlphabet[r.IntN(len(payloadAlphabet))]
	}
	return string(b)
}()

// payload returns a value of length n (at least len(prefix)) starting with
// prefix; it is never an integer.
func (g *mgen) payload(prefix string, n int) string {
	if n <= len(prefix) {
		return prefix
	}
	n -= len(prefix)
	off := g.rng.IntN(len(payloadPool) - n)
	return prefix + payloadPool[off:off+n]
}

func (g *mgen) between(lo, hi int) int { return lo + g.rng.IntN(hi-lo+1) }

func (g *mgen) value(lo, hi int) string {
	return g.payload(fmt.Sprintf("v%s.%d.", g.tag, g.n), g.between(lo, hi))
}

// member returns member i of the set/zset domain: the same bytes every time.
func (g *mgen) member(i int) string {
	n := 4 + (i*37)%120
	off := (i * 7919) % (len(payloadPool) - n)
	return "m" + strconv.Itoa(i) + ":" + payloadPool[off:off+n]
}

func (g *mgen) randMember() string { return g.member(g.rng.IntN(g.sz.memberDomain)) }

func (g *mgen) field() string { return "f" + strconv.Itoa(g.rng.IntN(g.sz.hashFields)) }

func (g *mgen) nfield() string { return "n" + strconv.Itoa(g.rng.IntN(6)) }

// longTTL is a deadline that never passes during a test (seconds).
func (g *mgen) longTTL() int64 { return int64(g.between(1000, 100000)) }

func nowMs() int64 { return time.Now().UnixMilli() }

func (g *mgen) pick() (int, string) {
	db, key := g.pickFn()
	delete(g.pending, dbkey{db, key})
	return db, key
}

func (g *mgen) pickIn(db int) string {
	key := g.pickInFn(db)
	delete(g.pending, dbkey{db, key})
	return key
}

func (g *mgen) touch(db int, key string) { g.touched = append(g.touched, dbkey{db, key}) }

// next generates one command, applies it to the model and returns it.
func (g *mgen) next() *mop {
	g.n++
	g.touched = g.touched[:0]
	var op *mop
	if g.tm != nil && g.rng.IntN(100) < g.tablePct {
		op = g.tableOp()
	} else {
		db, key := g.pick()
		v := g.ks.get(db, key)
		switch r := g.rng.IntN(100); {
		case r < g.readPct:
			op = g.readOp(db, key, v)
		case v == nil:
			op = g.createOp(db, key)
		case r < g.readPct+g.genericPct:
			op = g.genericOp(db, key, v)
		default:
			op = g.typeOp(db, key, v)
		}
	}
	op.n = g.n
	if g.record {
		for _, k := range g.touched {
			op.effects = append(op.effects, meffect{k, g.ks.get(k.db, k.key).clone()})
		}
	}
	return op
}

func wr(db int, args []any, check checkFn, bytes int) *mop {
	return &mop{db: db, args: args, check: check, write: true, bytes: bytes}
}

func rd(db int, args []any, check checkFn) *mop {
	return &mop{db: db, args: args, check: check}
}

// --- writes on an absent key (create a value of one of g.types) ---

func (g *mgen) createOp(db int, key string) *mop {
	switch g.types[g.rng.IntN(len(g.types))] {
	case "string":
		switch r := g.rng.IntN(100); {
		case r < 10:
			return g.opAppend(db, key, nil)
		case r < 15:
			return g.opSetrange(db, key, nil)
		case r < 22:
			return g.opIncr(db, key, nil)
		}
		return g.opSet(db, key)
	case "list":
		return g.opPush(db, key, nil)
	case "hash":
		return g.opHset(db, key, nil)
	case "set":
		return g.opSadd(db, key, nil)
	default:
		return g.opZadd(db, key, nil)
	}
}

// --- type-specific writes on an existing key ---

func (g *mgen) typeOp(db int, key string, v *mval) *mop {
	r := g.rng.IntN(100)
	switch v.typ {
	case "string":
		switch {
		case r < 30:
			return g.opSet(db, key)
		case r < 50:
			return g.opAppend(db, key, v)
		case r < 70:
			return g.opSetrange(db, key, v)
		default:
			return g.opIncr(db, key, v)
		}
	case "list":
		switch {
		case len(v.list) > g.sz.listCap || r < 12:
			return g.opLtrim(db, key, v)
		case r < 55:
			return g.opPush(db, key, v)
		case r < 75:
			return g.opLpop(db, key, v)
		default:
			return g.opLset(db, key, v)
		}
	case "hash":
		switch {
		case r < 50:
			return g.opHset(db, key, v)
		case r < 75:
			return g.opHdel(db, key, v)
		default:
			return g.opHincrby(db, key, v)
		}
	case "set":
		switch {
		case r < 45:
			return g.opSadd(db, key, v)
		case r < 70:
			return g.opSrem(db, key, v)
		default:
			return g.opSmove(db, key, v)
		}
	default:
		switch {
		case r < 45:
			return g.opZadd(db, key, v)
		case r < 75:
			return g.opZincrby(db, key, v)
		default:
			return g.opZrem(db, key, v)
		}
	}
}

func (g *mgen) opSet(db int, key string) *mop {
	var val string
	if g.rng.IntN(100) < 12 {
		val = strconv.Itoa(g.between(-1000, 1000)) // INCR can work on it
	} else {
		val = g.value(g.sz.strMin, g.sz.strMax)
	}
	args := []any{"SET", key, val}
	nv := &mval{typ: "string", str: val}
	if g.rng.IntN(100) < 20 {
		ttl := g.longTTL()
		args = append(args, "EX", ttl)
		nv.exp = nowMs() + ttl*1000
	}
	g.ks.put(db, key, nv)
	g.touch(db, key)
	return wr(db, args, expStatus("OK"), len(val))
}

func (g *mgen) opAppend(db int, key string, v *mval) *mop {
	if v != nil && len(v.str) > g.sz.strCap {
		return g.opSet(db, key)
	}
	s := g.value(1, g.sz.appendMax)
	if v == nil {
		v = &mval{typ: "string"}
		g.ks.put(db, key, v)
	}
	v.str += s
	g.touch(db, key)
	return wr(db, []any{"APPEND", key, s}, expInt(int64(len(v.str))), len(s))
}

func (g *mgen) opSetrange(db int, key string, v *mval) *mop {
	cur := ""
	if v != nil {
		cur = v.str
	}
	if len(cur) > g.sz.strCap {
		return g.opSet(db, key)
	}
	off := g.rng.IntN(len(cur) + 64)
	s := g.value(1, 256)
	b := []byte(cur)
	for len(b) < off {
		b = append(b, 0)
	}
	if end := off + len(s); end > len(b) {
		b = append(b[:off], s...)
	} else {
		copy(b[off:], s)
	}
	if v == nil {
		v = &mval{typ: "string"}
		g.ks.put(db, key, v)
	}
	v.str = string(b)
	g.touch(db, key)
	return wr(db, []any{"SETRANGE", key, off, s}, expInt(int64(len(v.str))), len(s))
}

// isRedisInt reports whether s is an integer INCR accepts.
func isRedisInt(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && strconv.FormatInt(n, 10) == s
}

func (g *mgen) opIncr(db int, key string, v *mval) *mop {
	if v == nil {
		g.ks.put(db, key, &mval{typ: "string", str: "1"})
		g.touch(db, key)
		return wr(db, []any{"INCR", key}, expInt(1), 0)
	}
	n, ok := isRedisInt(v.str)
	if !ok {
		if g.oddities && g.rng.IntN(100) < 15 {
			return wr(db, []any{"INCR", key}, expErr("ERR value is not an integer or out of range"), 0)
		}
		return g.opSet(db, key)
	}
	v.str = strconv.FormatInt(n+1, 10)
	g.touch(db, key)
	return wr(db, []any{"INCR", key}, expInt(n+1), 0)
}

func (g *mgen) elems() []string {
	es := make([]string, g.between(1, 6))
	for i := range es {
		es[i] = g.value(g.sz.elemMin, g.sz.elemMax)
	}
	return es
}

func (g *mgen) opPush(db int, key string, v *mval) *mop {
	es := g.elems()
	if v == nil {
		v = &mval{typ: "list"}
	}
	name, bytes := "RPUSH", 0
	for _, e := range es {
		bytes += len(e)
	}
	if g.rng.IntN(2) == 0 {
		name = "LPUSH"
		for _, e := range es {
			v.list = append([]string{e}, v.list...)
		}
	} else {
		v.list = append(v.list, es...)
	}
	g.ks.put(db, key, v)
	g.touch(db, key)
	return wr(db, append([]any{name, key}, strsToAny(es)...), expInt(int64(len(v.list))), bytes)
}

func (g *mgen) opLpop(db int, key string, v *mval) *mop {
	g.touch(db, key)
	if g.rng.IntN(3) == 0 {
		n := g.between(1, 4)
		got := slices.Clone(v.list[:min(n, len(v.list))])
		v.list = v.list[len(got):]
		g.ks.put(db, key, v)
		return wr(db, []any{"LPOP", key, n}, expList(got), 0)
	}
	e := v.list[0]
	v.list = v.list[1:]
	g.ks.put(db, key, v)
	return wr(db, []any{"LPOP", key}, expStr(e), 0)
}

func (g *mgen) opLset(db int, key string, v *mval) *mop {
	n := len(v.list)
	idx := g.between(-n-2, n+1)
	if !g.oddities {
		idx = g.rng.IntN(n)
	}
	i := idx
	if i < 0 {
		i += n
	}
	e := g.value(g.sz.elemMin, g.sz.elemMax)
	if i < 0 || i >= n {
		return wr(db, []any{"LSET", key, idx, e}, expErr("ERR index out of range"), 0)
	}
	v.list[i] = e
	g.touch(db, key)
	return wr(db, []any{"LSET", key, idx, e}, expStatus("OK"), len(e))
}

func (g *mgen) opLtrim(db int, key string, v *mval) *mop {
	n := len(v.list)
	start, stop := g.between(-n-1, n), g.between(-n-1, n+1)
	if n > g.sz.listCap {
		start, stop = g.rng.IntN(n/4+1), -1-g.rng.IntN(n/4+1)
	}
	s, e := start, stop
	if s < 0 {
		s += n
	}
	if e < 0 {
		e += n
	}
	if s < 0 {
		s = 0
	}
	if s > e || s >= n {
		v.list = nil
	} else {
		if e >= n {
			e = n - 1
		}
		v.list = slices.Clone(v.list[s : e+1])
	}
	g.ks.put(db, key, v)
	g.touch(db, key)
	return wr(db, []any{"LTRIM", key, start, stop}, expStatus("OK"), 0)
}

func (g *mgen) opHset(db int, key string, v *mval) *mop {
	if v == nil {
		v = &mval{typ: "hash", hash: map[string]string{}}
	}
	args := []any{"HSET", key}
	added, bytes := 0, 0
	for i := g.between(1, 5); i > 0; i-- {
		f, x := g.field(), g.value(g.sz.elemMin, g.sz.elemMax)
		if _, ok := v.hash[f]; !ok {
			added++
		}
		v.hash[f] = x
		args = append(args, f, x)
		bytes += len(x)
	}
	g.ks.put(db, key, v)
	g.touch(db, key)
	return wr(db, args, expInt(int64(added)), bytes)
}

func (g *mgen) opHdel(db int, key string, v *mval) *mop {
	args := []any{"HDEL", key}
	removed := 0
	for i := g.between(1, 3); i > 0; i-- {
		f := g.field()
		if g.rng.IntN(4) == 0 {
			f = g.nfield()
		}
		if _, ok := v.hash[f]; ok {
			removed++
			delete(v.hash, f)
		}
		args = append(args, f)
	}
	g.ks.put(db, key, v)
	g.touch(db, key)
	return wr(db, args, expInt(int64(removed)), 0)
}

func (g *mgen) opHincrby(db int, key string, v *mval) *mop {
	f, by := g.nfield(), int64(g.between(-100, 100))
	n, _ := strconv.ParseInt(v.hash[f], 10, 64)
	v.hash[f] = strconv.FormatInt(n+by, 10)
	g.touch(db, key)
	return wr(db, []any{"HINCRBY", key, f, by}, expInt(n+by), 0)
}

func (g *mgen) opSadd(db int, key string, v *mval) *mop {
	if v == nil {
		v = &mval{typ: "set", set: map[string]bool{}}
	}
	args := []any{"SADD", key}
	added, bytes := 0, 0
	for i := g.between(1, 6); i > 0; i-- {
		m := g.randMember()
		if !v.set[m] {
			added++
			v.set[m] = true
		}
		args = append(args, m)
		bytes += len(m)
	}
	g.ks.put(db, key, v)
	g.touch(db, key)
	return wr(db, args, expInt(int64(added)), bytes)
}

func (g *mgen) opSrem(db int, key string, v *mval) *mop {
	args := []any{"SREM", key}
	removed := 0
	for i := g.between(1, 4); i > 0; i-- {
		m := g.randMember()
		if g.rng.IntN(2) == 0 { // a member that is there
			m = g.anyKey(v.set)
		}
		if v.set[m] {
			removed++
			delete(v.set, m)
		}
		args = append(args, m)
	}
	g.ks.put(db, key, v)
	g.touch(db, key)
	return wr(db, args, expInt(int64(removed)), 0)
}

// opSmove follows Redis's order of checks: missing source 0, wrong types,
// same key, missing member.
func (g *mgen) opSmove(db int, key string, v *mval) *mop {
	dst := g.pickIn(db)
	dv := g.ks.get(db, dst)
	m := g.randMember()
	if g.rng.IntN(2) == 0 {
		m = g.anyKey(v.set)
	}
	args := []any{"SMOVE", key, dst, m}
	if dv != nil && dv.typ != "set" {
		if !g.oddities {
			return g.opSadd(db, key, v)
		}
		return wr(db, args, expErr(wrongType), 0)
	}
	if dst == key {
		return wr(db, args, expInt(b2i(v.set[m])), 0)
	}
	if !v.set[m] {
		return wr(db, args, expInt(0), 0)
	}
	delete(v.set, m)
	g.ks.put(db, key, v)
	if dv == nil {
		dv = &mval{typ: "set", set: map[string]bool{}}
	}
	dv.set[m] = true
	g.ks.put(db, dst, dv)
	g.touch(db, key)
	g.touch(db, dst)
	return wr(db, args, expInt(1), 0)
}

// anyKey picks a random member of s, deterministically for the seed (map
// order is not).
func (g *mgen) anyKey(s map[string]bool) string { return anyKeyOf(g, s) }

func anyKeyOf[V any](g *mgen, m map[string]V) string {
	if len(m) == 0 {
		return g.randMember()
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys[g.rng.IntN(len(keys))]
}

func (g *mgen) score() float64 { return float64(g.between(-2000, 2000)) / 2 }

func (g *mgen) opZadd(db int, key string, v *mval) *mop {
	if v == nil {
		v = &mval{typ: "zset", zset: map[string]float64{}}
	}
	args := []any{"ZADD", key}
	added, bytes := 0, 0
	for i := g.between(1, 5); i > 0; i-- {
		m, s := g.randMember(), g.score()
		if _, ok := v.zset[m]; !ok {
			added++
		}
		v.zset[m] = s
		args = append(args, strconv.FormatFloat(s, 'g', -1, 64), m)
		bytes += len(m) + 8
	}
	g.ks.put(db, key, v)
	g.touch(db, key)
	return wr(db, args, expInt(int64(added)), bytes)
}

func (g *mgen) opZincrby(db int, key string, v *mval) *mop {
	m := g.randMember()
	inc := []float64{1, -3, 0.5, 0.25, 10}[g.rng.IntN(5)]
	v.zset[m] += inc
	g.touch(db, key)
	return wr(db, []any{"ZINCRBY", key, strconv.FormatFloat(inc, 'g', -1, 64), m}, expFloat(v.zset[m]), len(m))
}

func (g *mgen) opZrem(db int, key string, v *mval) *mop {
	args := []any{"ZREM", key}
	removed := 0
	for i := g.between(1, 4); i > 0; i-- {
		m := g.randMember()
		if g.rng.IntN(2) == 0 {
			m = anyKeyOf(g, v.zset)
		}
		if _, ok := v.zset[m]; ok {
			removed++
			delete(v.zset, m)
		}
		args = append(args, m)
	}
	g.ks.put(db, key, v)
	g.touch(db, key)
	return wr(db, args, expInt(int64(removed)), 0)
}

// --- commands on keys of any type ---

func (g *mgen) genericOp(db int, key string, v *mval) *mop {
	r := g.rng.IntN(100)
	if g.oddities && r < 6 {
		return g.opExpireNow(db, key, v)
	}
	switch {
	case r < 25:
		args := []any{"DEL", key}
		n := int64(0)
		for _, k := range append([]string{key}, g.multiKeys(db)...) {
			if k != key {
				args = append(args, k)
			}
			if g.ks.get(db, k) != nil {
				n++
				g.ks.put(db, k, nil)
			}
			g.touch(db, k)
		}
		return wr(db, args, expInt(n), 0)
	case r < 40:
		ttl := g.longTTL()
		v.exp = nowMs() + ttl*1000
		g.touch(db, key)
		return wr(db, []any{"EXPIRE", key, ttl}, expInt(1), 0)
	case r < 50:
		had := v.exp != 0
		v.exp = 0
		g.touch(db, key)
		return wr(db, []any{"PERSIST", key}, expInt(b2i(had)), 0)
	case r < 63:
		dst := g.pickIn(db)
		g.ks.put(db, key, nil)
		g.ks.put(db, dst, v)
		g.touch(db, key)
		g.touch(db, dst)
		return wr(db, []any{"RENAME", key, dst}, expStatus("OK"), 0)
	case r < 76:
		ddb := db
		args := []any{"COPY", key, ""}
		if o, ok := g.otherDB(db); ok && g.rng.IntN(3) == 0 {
			ddb = o
			args = append(args, "DB", o)
		}
		dst := g.pickIn(ddb)
		args[2] = dst
		if ddb == db && dst == key {
			return g.typeOp(db, key, v)
		}
		replace := g.rng.IntN(2) == 0
		if replace {
			args = append(args, "REPLACE")
		}
		if g.ks.get(ddb, dst) != nil && !replace {
			return wr(db, args, expInt(0), 0)
		}
		g.ks.put(ddb, dst, v.clone())
		g.touch(ddb, dst)
		return wr(db, args, expInt(1), 0)
	case r < 88:
		o, ok := g.otherDB(db)
		if !ok {
			return g.typeOp(db, key, v)
		}
		delete(g.pending, dbkey{o, key})
		if g.ks.get(o, key) != nil {
			return wr(db, []any{"MOVE", key, o}, expInt(0), 0)
		}
		g.ks.put(db, key, nil)
		g.ks.put(o, key, v)
		g.touch(db, key)
		g.touch(o, key)
		return wr(db, []any{"MOVE", key, o}, expInt(1), 0)
	default:
		return g.opSet(db, key) // SET over any type
	}
}

func (g *mgen) multiKeys(db int) []string {
	ks := make([]string, g.rng.IntN(3))
	for i := range ks {
		ks[i] = g.pickIn(db)
	}
	return ks
}

// opExpireNow gives the key a deadline in the past: the key is deleted at
// once (EXPIRE with a negative TTL, PEXPIREAT in the past, SET ... PXAT in
// the past).
func (g *mgen) opExpireNow(db int, key string, v *mval) *mop {
	g.touch(db, key)
	past := nowMs() - int64(g.between(1, 100000))
	switch g.rng.IntN(3) {
	case 0:
		g.ks.put(db, key, nil)
		return wr(db, []any{"EXPIRE", key, -g.between(1, 100)}, expInt(b2i(v != nil)), 0)
	case 1:
		g.ks.put(db, key, nil)
		return wr(db, []any{"PEXPIREAT", key, past}, expInt(b2i(v != nil)), 0)
	default:
		val := g.value(1, 100)
		g.ks.put(db, key, nil)
		if g.pending == nil {
			g.pending = map[dbkey]bool{}
		}
		g.pending[dbkey{db, key}] = true
		return wr(db, []any{"SET", key, val, "PXAT", past}, expStatus("OK"), len(val))
	}
}

// --- reads ---

const wrongType = "WRONGTYPE Operation against a key holding the wrong kind of value"

func (g *mgen) readOp(db int, key string, v *mval) *mop {
	r := g.rng.IntN(100)
	if v == nil {
		switch {
		case r < 30:
			return rd(db, []any{"GET", key}, expNil())
		case r < 50:
			return rd(db, []any{"EXISTS", key}, expInt(0))
		case r < 70:
			return rd(db, []any{"TYPE", key}, expStatus("none"))
		case r < 85:
			return rd(db, []any{"TTL", key}, expInt(-2))
		default:
			return rd(db, []any{"LRANGE", key, 0, -1}, expList(nil))
		}
	}
	switch {
	case r < 10:
		return rd(db, []any{"TYPE", key}, expStatus(v.typ))
	case r < 18:
		return rd(db, []any{"EXISTS", key, key}, expInt(2))
	case r < 25:
		if v.exp == 0 {
			return rd(db, []any{"TTL", key}, expInt(-1))
		}
		return rd(db, []any{"TTL", key}, func(x any, err error) error {
			if n, ok := x.(int64); err != nil || !ok || n <= 0 || n > 100000 {
				return fmt.Errorf("TTL %v, %v; want 1..100000", x, err)
			}
			return nil
		})
	case r < 32 && g.oddities:
		if v.typ == "string" {
			return rd(db, []any{"LLEN", key}, expErr(wrongType))
		}
		return rd(db, []any{"GET", key}, expErr(wrongType))
	}
	switch v.typ {
	case "string":
		if r < 80 {
			return rd(db, []any{"GET", key}, expStr(v.str))
		}
		a, b := g.rng.IntN(len(v.str)+5), g.rng.IntN(len(v.str)+5)
		want := ""
		if a <= b && a < len(v.str) {
			want = v.str[a:min(b+1, len(v.str))]
		}
		return rd(db, []any{"GETRANGE", key, a, b}, expStr(want))
	case "list":
		if r < 80 {
			return rd(db, []any{"LRANGE", key, 0, -1}, expList(slices.Clone(v.list)))
		}
		i := g.rng.IntN(len(v.list))
		return rd(db, []any{"LINDEX", key, i}, expStr(v.list[i]))
	case "hash":
		if r < 80 {
			return rd(db, []any{"HGETALL", key}, expHash(maps.Clone(v.hash)))
		}
		f := g.field()
		if x, ok := v.hash[f]; ok {
			return rd(db, []any{"HGET", key, f}, expStr(x))
		}
		return rd(db, []any{"HGET", key, f}, expNil())
	case "set":
		if r < 80 {
			return rd(db, []any{"SMEMBERS", key}, expUnordered(setMembers(v.set)))
		}
		m := g.randMember()
		return rd(db, []any{"SISMEMBER", key, m}, expInt(b2i(v.set[m])))
	default:
		if r < 80 {
			return rd(db, []any{"ZRANGE", key, 0, -1, "WITHSCORES"}, expZrange(maps.Clone(v.zset)))
		}
		m := g.randMember()
		if s, ok := v.zset[m]; ok {
			return rd(db, []any{"ZSCORE", key, m}, expFloat(s))
		}
		return rd(db, []any{"ZSCORE", key, m}, expNil())
	}
}

// --- tables ---

func (g *mgen) tableOp() *mop {
	tm := g.tm
	tw := func(args []any, check checkFn, bytes int) *mop {
		return &mop{db: -1, args: args, check: check, write: true, bytes: bytes}
	}
	if !tm.usersCreated {
		tm.usersCreated = true
		return tw([]any{"TCREATE", "users", "name:str:unique", "score:int"}, expStatus("OK"), 0)
	}
	if !tm.postsCreated {
		tm.postsCreated = true
		return tw([]any{"TCREATE", "posts", "author:ref(users)", "ts:int", "body:str", "tag:str"}, expStatus("OK"), 0)
	}
	userIDs := sortedIDs(tm.users)
	postIDs := sortedIDs(tm.posts)
	r := g.rng.IntN(100)
	switch {
	case r < 5 && len(userIDs) > 0:
		id := userIDs[g.rng.IntN(len(userIDs))]
		return &mop{db: -1, args: []any{"TGET", "users", id}, check: expList(tm.users[id].row(id)[1:])}
	case r < 10 && len(userIDs) > 0:
		a := userIDs[g.rng.IntN(len(userIDs))]
		return &mop{db: -1, args: []any{"TQUERY", "posts", "WHERE", "author", "=", a, "ORDER", "BY", "ts", "DESC", "LIMIT", 5},
			check: expRows(tm.authorHistory(a, 5))}
	case r < 22 || len(userIDs) == 0:
		if len(userIDs) > 0 && g.oddities && g.rng.IntN(10) == 0 {
			u := tm.users[userIDs[g.rng.IntN(len(userIDs))]]
			return tw([]any{"TINSERT", "users", "name", u.name, "score", 1},
				expErr("ERR unique constraint violation on field 'name'"), 0)
		}
		tm.nameSeq++
		name := fmt.Sprintf("user%s-%d", g.tag, tm.nameSeq)
		score := int64(g.between(0, 1000))
		tm.nextUser++
		tm.users[tm.nextUser] = &tuser{name, score}
		tm.names[name] = tm.nextUser
		return tw([]any{"TINSERT", "users", "name", name, "score", score}, expInt(tm.nextUser), len(name))
	case r < 60 && len(postIDs) < g.sz.postsCap:
		if g.oddities && g.rng.IntN(30) == 0 {
			return tw([]any{"TINSERT", "posts", "author", 999999, "ts", 1},
				expErr("ERR foreign key violation: author=999999 not found in table 'users'"), 0)
		}
		p := &tpost{author: userIDs[g.rng.IntN(len(userIDs))], ts: int64(g.between(1, 5000)),
			body: g.value(10, 300), tag: "t" + strconv.Itoa(g.rng.IntN(10))}
		tm.nextPost++
		id := tm.nextPost
		tm.posts[id] = p
		tm.refs[p.author]++
		return tw([]any{"TINSERT", "posts", "author", p.author, "ts", p.ts, "body", p.body, "tag", p.tag}, expInt(id), len(p.body))
	case r < 75 && len(postIDs) > 0:
		id := postIDs[g.rng.IntN(len(postIDs))]
		p := tm.posts[id]
		p.ts = int64(g.between(1, 5000))
		p.body = g.value(10, 300)
		return tw([]any{"TUPDATE", "posts", id, "ts", p.ts, "body", p.body}, expStatus("OK"), len(p.body))
	case r < 80:
		id := userIDs[g.rng.IntN(len(userIDs))]
		tm.users[id].score = int64(g.between(0, 1000))
		return tw([]any{"TUPDATE", "users", id, "score", tm.users[id].score}, expStatus("OK"), 0)
	case r < 83 && g.oddities:
		id := tm.nextPost + 1000
		return tw([]any{"TUPDATE", "posts", id, "ts", 1}, expErr(fmt.Sprintf("ERR row %d not found in table 'posts'", id)), 0)
	case r < 92 && len(userIDs) > 1:
		id := userIDs[g.rng.IntN(len(userIDs))]
		if tm.refs[id] > 0 {
			return tw([]any{"TDEL", "users", id}, expErr(fmt.Sprintf("ERR cannot delete row %d: referenced by table 'posts'", id)), 0)
		}
		delete(tm.names, tm.users[id].name)
		delete(tm.users, id)
		return tw([]any{"TDEL", "users", id}, expStatus("OK"), 0)
	default:
		if len(postIDs) == 0 {
			return &mop{db: -1, args: []any{"TCOUNT", "posts"}, check: expInt(0)}
		}
		id := postIDs[g.rng.IntN(len(postIDs))]
		tm.refs[tm.posts[id].author]--
		delete(tm.posts, id)
		return tw([]any{"TDEL", "posts", id}, expStatus("OK"), 0)
	}
}

// --- reply checks ---

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func strsToAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

func setMembers(s map[string]bool) []string {
	out := make([]string, 0, len(s))
	for m := range s {
		out = append(out, m)
	}
	return out
}

func short(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%q...(%d bytes)", s[:64], len(s))
	}
	return fmt.Sprintf("%q", s)
}

func shortAny(v any) string {
	s := fmt.Sprintf("%v", v)
	if len(s) > 200 {
		return s[:180] + fmt.Sprintf("...(%d chars)", len(s))
	}
	return s
}

func replyErr(err error) error {
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	return nil
}

func expStatus(s string) checkFn { return expStr(s) }

func expStr(s string) checkFn {
	return func(v any, err error) error {
		if err := replyErr(err); err != nil {
			return fmt.Errorf("error %v, want %s", err, short(s))
		}
		if got, ok := v.(string); !ok || got != s {
			return fmt.Errorf("reply %s, want %s", shortAny(v), short(s))
		}
		return nil
	}
}

func expInt(n int64) checkFn {
	return func(v any, err error) error {
		if got, ok := v.(int64); err != nil || !ok || got != n {
			return fmt.Errorf("reply %v (err %v), want %d", shortAny(v), err, n)
		}
		return nil
	}
}

func expNil() checkFn {
	return func(v any, err error) error {
		if !errors.Is(err, redis.Nil) {
			return fmt.Errorf("reply %v (err %v), want nil", shortAny(v), err)
		}
		return nil
	}
}

func expErr(msg string) checkFn {
	return func(v any, err error) error {
		if err == nil || err.Error() != msg {
			return fmt.Errorf("reply %v (err %v), want error %q", shortAny(v), err, msg)
		}
		return nil
	}
}

func expFloat(f float64) checkFn {
	return func(v any, err error) error {
		s, _ := v.(string)
		got, perr := strconv.ParseFloat(s, 64)
		if err != nil || perr != nil || got != f {
			return fmt.Errorf("reply %v (err %v), want %v", shortAny(v), err, f)
		}
		return nil
	}
}

func anyStrings(v any) ([]string, bool) {
	arr, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(arr))
	for i, x := range arr {
		if out[i], ok = x.(string); !ok {
			return nil, false
		}
	}
	return out, true
}

// expList wants exactly these strings in this order (an empty list also
// accepts a nil reply, as LPOP with a count gives on a missing key).
func expList(want []string) checkFn {
	return func(v any, err error) error {
		if len(want) == 0 && errors.Is(err, redis.Nil) {
			return nil
		}
		got, ok := anyStrings(v)
		if err != nil || !ok || !slices.Equal(got, want) {
			return fmt.Errorf("reply %s (err %v), want %s", shortAny(v), err, shortAny(want))
		}
		return nil
	}
}

func expUnordered(want []string) checkFn {
	want = slices.Clone(want)
	slices.Sort(want)
	return func(v any, err error) error {
		got, ok := anyStrings(v)
		slices.Sort(got)
		if err != nil || !ok || !slices.Equal(got, want) {
			return fmt.Errorf("reply %s (err %v), want (any order) %s", shortAny(v), err, shortAny(want))
		}
		return nil
	}
}

func expHash(want map[string]string) checkFn {
	return func(v any, err error) error {
		got, ok := anyStrings(v)
		if err != nil || !ok || len(got)%2 != 0 {
			return fmt.Errorf("reply %s (err %v), want a hash of %d fields", shortAny(v), err, len(want))
		}
		m := map[string]string{}
		for i := 0; i < len(got); i += 2 {
			m[got[i]] = got[i+1]
		}
		if len(m) != len(got)/2 || !maps.Equal(m, want) {
			return fmt.Errorf("reply %s, want %s", shortAny(m), shortAny(want))
		}
		return nil
	}
}

// zsetOrder returns the members in ZRANGE order: by score, then bytewise.
func zsetOrder(z map[string]float64) []string {
	ms := make([]string, 0, len(z))
	for m := range z {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool {
		if z[ms[i]] != z[ms[j]] {
			return z[ms[i]] < z[ms[j]]
		}
		return ms[i] < ms[j]
	})
	return ms
}

func expZrange(want map[string]float64) checkFn {
	order := zsetOrder(want)
	return func(v any, err error) error {
		got, ok := anyStrings(v)
		bad := err != nil || !ok || len(got) != 2*len(order)
		for i := 0; !bad && i < len(order); i++ {
			s, perr := strconv.ParseFloat(got[2*i+1], 64)
			bad = got[2*i] != order[i] || perr != nil || s != want[order[i]]
		}
		if bad {
			return fmt.Errorf("reply %s (err %v), want %d members in order %s", shortAny(v), err, len(order), shortAny(order))
		}
		return nil
	}
}

// renderRows turns TQUERY rows ([id, field, value, ...]) into strings.
func renderRows(v any) ([][]string, bool) {
	arr, ok := v.([]any)
	if !ok {
		return nil, false
	}
	rows := make([][]string, len(arr))
	for i, r := range arr {
		ra, ok := r.([]any)
		if !ok || len(ra) == 0 {
			return nil, false
		}
		id, ok := ra[0].(int64)
		if !ok {
			return nil, false
		}
		rest, ok := anyStrings(ra[1:])
		if !ok {
			return nil, false
		}
		rows[i] = append([]string{strconv.FormatInt(id, 10)}, rest...)
	}
	return rows, true
}

func expRows(want [][]string) checkFn {
	return func(v any, err error) error {
		got, ok := renderRows(v)
		if err != nil || !ok || fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("rows %s (err %v), want %s", shortAny(v), err, shortAny(want))
		}
		return nil
	}
}

// --- running commands ---

// runBatch sends ops as one pipeline on conn (a single connection, so they
// run in order), selecting each op's database first when it differs from
// *cur. It fills op.cmd. Replies are not checked here.
func runBatch(ctx context.Context, conn *redis.Conn, cur *int, ops []*mop) {
	pipe := conn.Pipeline()
	for _, op := range ops {
		if op.db >= 0 && op.db != *cur {
			pipe.Do(ctx, "SELECT", op.db)
			*cur = op.db
		}
		op.cmd = queueOp(ctx, pipe, op)
	}
	_, _ = pipe.Exec(ctx)
}

// queueOp queues op on pipe and returns the command whose reply answers it
// (EXEC's for a transaction).
func queueOp(ctx context.Context, pipe redis.Pipeliner, op *mop) *redis.Cmd {
	if op.tx == nil {
		return pipe.Do(ctx, op.args...)
	}
	pipe.Do(ctx, "MULTI")
	for _, c := range op.tx {
		pipe.Do(ctx, c...)
	}
	return pipe.Do(ctx, "EXEC")
}

// readCanonKeys reads keys of one database and returns, per key, its canon
// form (the same as mval.canon) and its PTTL. Two round trips: TYPE and
// PTTL, then the contents by the type found.
func readCanonKeys(ctx context.Context, c *redis.Client, keys []string) (canon []string, pttl []time.Duration, err error) {
	canon = make([]string, len(keys))
	pttl = make([]time.Duration, len(keys))
	for start := 0; start < len(keys); start += 256 {
		chunk := keys[start:min(start+256, len(keys))]
		pipe := c.Pipeline()
		types := make([]*redis.StatusCmd, len(chunk))
		ttls := make([]*redis.DurationCmd, len(chunk))
		for i, k := range chunk {
			types[i] = pipe.Type(ctx, k)
			ttls[i] = pipe.PTTL(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, nil, err
		}
		pipe = c.Pipeline()
		reads := make([]*redis.Cmd, len(chunk))
		for i, k := range chunk {
			switch types[i].Val() {
			case "string":
				reads[i] = pipe.Do(ctx, "GET", k)
			case "list":
				reads[i] = pipe.Do(ctx, "LRANGE", k, 0, -1)
			case "hash":
				reads[i] = pipe.Do(ctx, "HGETALL", k)
			case "set":
				reads[i] = pipe.Do(ctx, "SMEMBERS", k)
			case "zset":
				reads[i] = pipe.Do(ctx, "ZRANGE", k, 0, -1, "WITHSCORES")
			}
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, nil, err
		}
		for i := range chunk {
			typ := types[i].Val()
			pttl[start+i] = ttls[i].Val()
			if reads[i] == nil {
				canon[start+i] = typ
				continue
			}
			if reads[i].Err() != nil {
				// gone between TYPE and the read (expired): report as such
				canon[start+i] = fmt.Sprintf("%s(read: %v)", typ, reads[i].Err())
				continue
			}
			v := reads[i].Val()
			var parts []string
			switch typ {
			case "string":
				s, _ := v.(string)
				parts = []string{s}
			case "list":
				parts, _ = anyStrings(v)
			case "hash", "zset":
				flat, _ := anyStrings(v)
				for j := 0; j+1 < len(flat); j += 2 {
					val := flat[j+1]
					if typ == "zset" {
						f, _ := strconv.ParseFloat(val, 64)
						val = strconv.FormatFloat(f, 'g', -1, 64)
					}
					parts = append(parts, flat[j]+"="+val)
				}
				sort.Strings(parts)
			case "set":
				parts, _ = anyStrings(v)
				sort.Strings(parts)
			}
			canon[start+i] = canonJoin(typ, parts)
			if pttl[start+i] > 0 {
				canon[start+i] += "+ttl"
			}
		}
	}
	return canon, pttl, nil
}

// scanAll iterates SCAN to the end and returns the keys (and how many were
// returned more than once, which SCAN allows).
func scanAll(ctx context.Context, c *redis.Client, count int64) (map[string]bool, int, error) {
	got := map[string]bool{}
	dups := 0
	var cursor uint64
	for {
		ks, next, err := c.Scan(ctx, cursor, "", count).Result()
		if err != nil {
			return nil, 0, err
		}
		for _, k := range ks {
			if got[k] {
				dups++
			}
			got[k] = true
		}
		if next == 0 {
			return got, dups, nil
		}
		cursor = next
	}
}

// diffKeys describes how got differs from want (keys in maybe may be in got
// or not).
func diffKeys(got, want, maybe map[string]bool) string {
	var missing, extra []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] && !maybe[k] {
			extra = append(extra, k)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return fmt.Sprintf("%d missing %v, %d unexpected %v", len(missing), missing[:min(10, len(missing))],
		len(extra), extra[:min(10, len(extra))])
}
