package tables

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/luxdb/lux-go/storage"
	"github.com/stretchr/testify/require"
)

func openLimited(t *testing.T, dir string, maxMemory int64, fs vfs.FS) *storage.Store {
	t.Helper()
	st, err := storage.Open(storage.Options{Dir: dir, Sync: storage.SyncEverySec, MaxMemory: maxMemory, FS: fs})
	require.NoError(t, err)
	return st
}

func getRow(t *testing.T, db *DB, table string, id int64) (string, error) {
	t.Helper()
	var r replyRec
	err := db.Get([]byte(table), []byte(strconv.FormatInt(id, 10)), &r)
	return r.b.String(), err
}

// TestRowCacheBounded: rows inserted at full speed into a store with a
// small memory limit, many times the limit in all, leave memory as their
// writes are committed: the store's used memory (rows, slots, indexes)
// stays within its hot-tier limit plus a row, and every row reads back
// exactly, before and after a restart.
func TestRowCacheBounded(t *testing.T) {
	const maxMem = 512 << 10
	dir := t.TempDir()
	st := openLimited(t, dir, maxMem, nil)
	db, err := Open(st)
	require.NoError(t, err)
	limit := st.HotLimit()
	require.Greater(t, limit, int64(0))
	require.NoError(t, db.Create([]byte("docs"), bs("body:str", "n:int")))

	body := func(i int) string {
		return fmt.Sprintf("%06d:%s", i, strings.Repeat(string(rune('a'+i%26)), 900+i%200))
	}
	const n = 6000 // ~6 MB of rows: over 40 times the hot-tier limit
	peak := int64(0)
	for i := 1; i <= n; i++ {
		// what the server does before every write command
		require.NoError(t, st.EnsureMemory())
		id, err := db.Insert([]byte("docs"), bs("body", body(i), "n", strconv.Itoa(i)))
		require.NoError(t, err)
		require.Equal(t, int64(i), id)
		peak = max(peak, st.UsedMemory())
	}
	t.Logf("hot limit %d, peak used %d, table memory %d (rows %d)", limit, peak, st.TableMemory(), db.CachedBytes())
	require.LessOrEqual(t, peak, limit+rowBytes(body(n))+64<<10)
	require.LessOrEqual(t, db.CachedBytes(), limit+rowBytes(body(n)))

	check := func(db *DB, st *storage.Store) {
		t.Helper()
		for i := 1; i <= n; i++ {
			require.NoError(t, st.EnsureMemory()) // reads load rows: the server makes room before each
			got, err := getRow(t, db, "docs", int64(i))
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("[4] %q %q %q %q", "body", body(i), "n", strconv.Itoa(i)), got)
			require.LessOrEqual(t, st.UsedMemory(), limit+rowBytes(body(n))+64<<10)
		}
		var r replyRec
		require.NoError(t, db.Query(bs("docs", "WHERE", "n", ">", "5990"), &r))
		require.Equal(t, 10, strings.Count(r.b.String(), `"body"`))
		c, err := db.Count([]byte("docs"))
		require.NoError(t, err)
		require.Equal(t, int64(n), c)
	}
	check(db, st)
	require.NoError(t, st.Close())

	st = openLimited(t, dir, maxMem, nil)
	defer st.Close()
	db, err = Open(st)
	require.NoError(t, err)
	require.Empty(t, db.Repairs())
	require.Zero(t, db.CachedBytes(), "no row is loaded at start")
	require.Equal(t, db.MemoryBytes(), st.TableMemory())
	check(db, st)
	require.Equal(t, recount(db), db.MemoryBytes())
	require.NoError(t, db.Drop([]byte("docs")))
	require.Zero(t, db.MemoryBytes(), "a dropped table leaves nothing counted")
	require.Equal(t, db.MemoryBytes(), st.TableMemory())
}

// recount is the memory db should be counted for, added up from scratch:
// the accounting must not drift.
func recount(db *DB) int64 {
	n := int64(0)
	for _, t := range db.tables {
		for _, b := range t.rows {
			if !b.dead {
				n += rowBytes(b.data)
			}
		}
		n += t.ovMem // overlays and tombstones
		for _, f := range t.fields {
			if f.idx != nil {
				n += f.idx.bytes()
			}
		}
		for _, c := range t.comps {
			n += int64(c.len()) * compEntBytes
		}
	}
	return n
}

// coldPair runs the same table commands on an engine whose store has a
// tiny memory limit (rows mostly cold, read back from Pebble) and on one
// without a limit, and requires the same replies.
type coldPair struct {
	t         *testing.T
	cold, hot *DB
	cst, hst  *storage.Store
	now       int64
	steps     int
	errs      int
	bytes     int
}

func (p *coldPair) do(args ...string) string {
	p.t.Helper()
	p.steps++
	a := p.run(p.cold, p.cst, args)
	b := p.run(p.hot, p.hst, args)
	require.Equal(p.t, b, a, "step %d: %q", p.steps, args)
	if strings.HasPrefix(a, "error: ") {
		p.errs++
	}
	p.bytes += len(a)
	return a
}

// run is one command as the server runs it, its reply or error as text.
func (p *coldPair) run(db *DB, st *storage.Store, args []string) string {
	p.t.Helper()
	require.NoError(p.t, st.EnsureMemory())
	db.Now = func() int64 { return p.now }
	var r replyRec
	a := bs(args...)
	var err error
	switch strings.ToLower(args[0]) {
	case "tinsert":
		var id int64
		if id, err = db.Insert(a[1], a[2:]); err == nil {
			r.WriteInt64(id)
		}
	case "tupdate":
		err = db.Update(a[1], a[2], a[3:])
	case "tdel":
		err = db.Delete(a[1], a[2])
	case "tget":
		err = db.Get(a[1], a[2], &r)
	case "tquery":
		err = db.Query(a[1:], &r)
	case "texplain":
		var lines []string
		if lines, err = db.Explain(a[1:]); err == nil {
			r.b.WriteString(strings.Join(lines, "|"))
		}
	case "tcount":
		var n int64
		if n, err = db.Count(a[1]); err == nil {
			r.WriteInt64(n)
		}
	case "talter":
		err = db.Alter(a[1], a[2], a[3])
	case "tdrop":
		err = db.Drop(a[1])
	default:
		p.t.Fatalf("unknown command %q", args[0])
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return r.b.String()
}

// chill makes every committed row of the cold engine leave memory.
func (p *coldPair) chill() {
	require.NoError(p.t, p.cst.Checkpoint())
	p.cold.Evict(1 << 50)
	p.cold.Evict(1 << 50) // rows read since the last pass had a second chance
	require.Zero(p.t, p.cold.CachedBytes())
}

// TestColdRowsSameAnswers: TGET, TQUERY (every access path, ORDER BY,
// LIMIT, JOIN), TUPDATE, TDEL and their ref and unique checks, TCOUNT and
// TALTER answer the same whether the rows they touch are in memory or
// must be read back from the store, also after a restart.
func TestColdRowsSameAnswers(t *testing.T) {
	cdir, hdir := t.TempDir(), t.TempDir()
	p := &coldPair{t: t, now: 1700000000000}
	open := func() {
		p.cst = openLimited(t, cdir, 64<<10, nil)
		p.hst = openLimited(t, hdir, 0, nil)
		var err error
		p.cold, err = Open(p.cst)
		require.NoError(t, err)
		p.hot, err = Open(p.hst)
		require.NoError(t, err)
	}
	closeBoth := func() {
		require.NoError(t, p.cst.Close())
		require.NoError(t, p.hst.Close())
	}
	open()
	defer func() { closeBoth() }()
	for _, s := range [][]string{
		{"TCREATE", "users", "username:str:unique", "color:str", "last_seen:int"},
		{"TCREATE", "channels", "name:str:unique", "topic:str"},
		{"TCREATE", "messages", "channel_id:ref(channels)", "user_id:ref(users)", "content:str", "timestamp:int", "score:float"},
		{"TCREATE", "nodes", "parent:ref(nodes)", "label:str", "weight:int:unique"},
	} {
		require.NoError(t, p.cold.Create([]byte(s[1]), bs(s[2:]...)))
		require.NoError(t, p.hot.Create([]byte(s[1]), bs(s[2:]...)))
	}
	rng := rand.New(rand.NewPCG(7, 70))
	ids := map[string]int64{}
	for i := 1; i <= 40; i++ {
		p.do("TINSERT", "users", "username", "u"+strconv.Itoa(i), "color", []string{"red", "blue", "green"}[i%3], "last_seen", strconv.Itoa(i*10))
	}
	for i := 1; i <= 8; i++ {
		p.do("TINSERT", "channels", "name", "c"+strconv.Itoa(i), "topic", "t"+strconv.Itoa(i))
	}
	ids["users"], ids["channels"] = 40, 8
	p.chill()
	pick := func(table string) string { return strconv.FormatInt(1+rng.Int64N(ids[table]+3), 10) }
	for step := 0; step < 3000; step++ {
		p.now += int64(rng.IntN(3))
		switch op := rng.IntN(100); {
		case op < 30:
			args := []string{"TINSERT", "messages", "channel_id", pick("channels"), "user_id", pick("users"),
				"content", strings.Repeat("m", rng.IntN(200)) + strconv.Itoa(step), "timestamp", strconv.Itoa(rng.IntN(500))}
			if rng.IntN(3) == 0 {
				args = append(args, "score", strconv.Itoa(rng.IntN(20)-10)+".5")
			}
			if r := p.do(args...); !strings.HasPrefix(r, "error") {
				ids["messages"]++
			}
		case op < 36:
			args := []string{"TINSERT", "nodes", "label", "n" + strconv.Itoa(step), "weight", strconv.Itoa(rng.IntN(300))}
			if ids["nodes"] > 0 || rng.IntN(2) == 0 {
				args = append(args, "parent", pick("nodes"))
			}
			if r := p.do(args...); !strings.HasPrefix(r, "error") {
				ids["nodes"]++
			}
		case op < 40:
			p.do("TINSERT", "users", "username", "u"+strconv.Itoa(rng.IntN(60)), "color", "pink")
			ids["users"]++ // an id may be skipped: picks go past the end anyway
		case op < 52:
			table := []string{"messages", "users", "nodes"}[rng.IntN(3)]
			args := []string{"TUPDATE", table, pick(table)}
			switch table {
			case "messages":
				args = append(args, "timestamp", strconv.Itoa(rng.IntN(500)), "channel_id", pick("channels"))
			case "users":
				args = append(args, "username", "u"+strconv.Itoa(rng.IntN(60)), "last_seen", "*")
			default:
				args = append(args, "weight", strconv.Itoa(rng.IntN(300)), "parent", pick("nodes"))
			}
			p.do(args...)
		case op < 60:
			table := []string{"messages", "users", "nodes", "channels"}[rng.IntN(4)]
			p.do("TDEL", table, pick(table))
		case op < 72:
			table := []string{"messages", "users", "nodes", "channels"}[rng.IntN(4)]
			p.do("TGET", table, pick(table))
		case op < 97:
			q := []string{"TQUERY", "messages"}
			switch rng.IntN(7) {
			case 0:
				q = append(q, "WHERE", "channel_id", "=", pick("channels"), "ORDER", "BY", "timestamp", "DESC", "LIMIT", strconv.Itoa(rng.IntN(12)))
			case 1:
				q = append(q, "WHERE", "user_id", "=", pick("users"), "AND", "timestamp", ">", strconv.Itoa(rng.IntN(500)))
			case 2:
				q = append(q, "WHERE", "score", "<", "0", "ORDER", "BY", "content")
			case 3:
				q = []string{"TQUERY", "users", "WHERE", "username", "=", "u" + strconv.Itoa(rng.IntN(60))}
			case 4:
				q = []string{"TQUERY", "nodes", "WHERE", "weight", ">=", strconv.Itoa(rng.IntN(300)), "ORDER", "BY", "weight", "LIMIT", "5", "JOIN", "parent"}
			case 5:
				q = append(q, "ORDER", "BY", "timestamp", "LIMIT", "20")
			default:
				q = []string{"TQUERY", "users", "WHERE", "color", "!=", "red", "LIMIT", strconv.Itoa(rng.IntN(30))}
			}
			if rng.IntN(3) == 0 && q[1] == "messages" {
				q = append(q, "JOIN", "user_id", "JOIN", "channel_id")
			}
			if rng.IntN(5) == 0 {
				q[0] = "TEXPLAIN"
			}
			p.do(q...)
		case op < 99:
			table := []string{"messages", "users", "nodes", "channels"}[rng.IntN(4)]
			p.do("TCOUNT", table)
		default:
			if rng.IntN(2) == 0 {
				p.do("TALTER", "messages", "ADD", "x"+strconv.Itoa(step)+":int")
			} else {
				p.do("TALTER", "users", "DROP", "color")
				p.do("TALTER", "users", "ADD", "color:str")
			}
		}
		if rng.IntN(50) == 0 {
			p.chill()
		}
		if step%1000 == 999 {
			closeBoth()
			open()
			require.Empty(t, p.cold.Repairs())
		}
	}
	sameDB(t, p.hot, p.cold)
	checkDB(t, p.cold, true)
	for _, db := range []*DB{p.hot, p.cold} {
		require.Equal(t, recount(db), db.MemoryBytes())
	}
	require.Equal(t, p.cold.MemoryBytes(), p.cst.TableMemory())
	require.Equal(t, p.hot.MemoryBytes(), p.hst.TableMemory())
	t.Logf("%d commands, %d errors, %d bytes of replies; cold store's table memory %d (rows %d)",
		p.steps, p.errs, p.bytes, p.cst.TableMemory(), p.cold.CachedBytes())
	require.Greater(t, p.errs, p.steps/20)
	require.Less(t, p.errs, p.steps/2)
}

// flakyFS fails reads of Pebble's tables while fail is set.
type flakyFS struct {
	vfs.FS
	fail atomic.Bool
}

type flakyFile struct {
	vfs.File
	fs *flakyFS
}

func (f *flakyFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	file, err := f.FS.Open(name, opts...)
	if err != nil || !strings.HasSuffix(name, ".sst") {
		return file, err
	}
	return &flakyFile{File: file, fs: f}, nil
}

func (f *flakyFile) ReadAt(b []byte, off int64) (int, error) {
	if f.fs.fail.Load() {
		return 0, errors.New("injected read error")
	}
	return f.File.ReadAt(b, off)
}

// TestColdRowReadError: a cold row that cannot be read from the store is an
// error reply of the command that needed it, never a missing row or a
// wrong answer, and nothing is written; once reads work again, so do the
// commands.
func TestColdRowReadError(t *testing.T) {
	dir := t.TempDir()
	fs := &flakyFS{FS: vfs.Default}
	st := openLimited(t, dir, 256<<10, fs)
	db, err := Open(st)
	require.NoError(t, err)
	require.NoError(t, db.Create([]byte("users"), bs("name:str:unique")))
	require.NoError(t, db.Create([]byte("msgs"), bs("user:ref(users)", "body:str", "ts:int")))
	for i := 1; i <= 3000; i++ {
		_, err := db.Insert([]byte("users"), bs("name", fmt.Sprintf("user%05d", i)))
		require.NoError(t, err)
		_, err = db.Insert([]byte("msgs"), bs("user", strconv.Itoa(i), "body", strings.Repeat("b", 500), "ts", strconv.Itoa(i)))
		require.NoError(t, err)
	}
	require.NoError(t, st.Close())
	st = openLimited(t, dir, 256<<10, fs)
	defer st.Close()
	db, err = Open(st)
	require.NoError(t, err)
	fs.fail.Store(true)
	isReadErr := func(err error) {
		t.Helper()
		require.Error(t, err)
		require.Contains(t, err.Error(), "from the data directory failed")
		require.True(t, strings.HasPrefix(err.Error(), "ERR "))
	}
	_, err = getRow(t, db, "users", 1)
	isReadErr(err)
	var r replyRec
	isReadErr(db.Query(bs("msgs", "WHERE", "user", "=", "2", "ORDER", "BY", "ts", "DESC", "LIMIT", "1"), &r))
	isReadErr(db.Query(bs("msgs", "WHERE", "body", "=", "x"), &r))
	isReadErr(db.Update([]byte("msgs"), []byte("3"), bs("ts", "7")))
	isReadErr(db.Delete([]byte("msgs"), []byte("4")))
	isReadErr(db.Alter([]byte("msgs"), []byte("add"), []byte("n:int")))
	_, err = db.Insert([]byte("msgs"), bs("user", "5", "ts", "9"))
	isReadErr(err) // the ref check reads the cold row
	fs.fail.Store(false)
	_, err = db.Insert([]byte("msgs"), bs("user", "5", "ts", "9"))
	require.NoError(t, err)

	got, err := getRow(t, db, "users", 1)
	require.NoError(t, err)
	require.Equal(t, `[2] "name" "user00001"`, got)
	require.NoError(t, db.Query(bs("msgs", "WHERE", "user", "=", "3"), &r))
	require.Contains(t, r.b.String(), `"ts" "3"`, "the failed TUPDATE wrote nothing")
	require.NoError(t, db.Delete([]byte("msgs"), []byte("4")))
	specs, err := db.Schema([]byte("msgs"))
	require.NoError(t, err)
	require.Equal(t, []string{"user:ref(users)", "body:str", "ts:int"}, specs, "the failed TALTER changed nothing")
	checkDB(t, db, true)
}

// TestRowCacheConcurrent: readers loading cold rows into the cache, a
// writer, and the store's eviction from other goroutines run at once (run
// with -race); every read sees a row as one of its writes left it.
func TestRowCacheConcurrent(t *testing.T) {
	st := openLimited(t, t.TempDir(), 128<<10, nil)
	defer st.Close()
	db, err := Open(st)
	require.NoError(t, err)
	require.NoError(t, db.Create([]byte("u"), bs("name:str:unique")))
	require.NoError(t, db.Create([]byte("m"), bs("u:ref(u)", "body:str", "v:int")))
	for i := 1; i <= 50; i++ {
		_, err := db.Insert([]byte("u"), bs("name", "n"+strconv.Itoa(i)))
		require.NoError(t, err)
	}
	body := func(id int64) string { return strings.Repeat(strconv.FormatInt(id, 10), 40) }
	var stop atomic.Bool
	var n atomic.Int64 // rows inserted
	errc := make(chan error, 8)
	done := make(chan struct{})
	var readers, evictors atomic.Int32
	for r := 0; r < 3; r++ {
		readers.Add(1)
		go func(r int) {
			defer readers.Add(-1)
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for !stop.Load() {
				max := n.Load()
				if max == 0 {
					continue
				}
				id := 1 + rng.Int64N(max)
				db.RLock()
				var rr replyRec
				err := db.Get([]byte("m"), []byte(strconv.FormatInt(id, 10)), &rr)
				var qr replyRec
				qerr := db.Query(bs("m", "WHERE", "u", "=", strconv.Itoa(1+int(id%50)), "ORDER", "BY", "v", "DESC", "LIMIT", "3", "JOIN", "u"), &qr)
				db.RUnlock()
				if err == nil && !strings.Contains(rr.b.String(), fmt.Sprintf("%q", body(id))) {
					err = fmt.Errorf("row %d: %s", id, rr.b.String())
				}
				if err == nil {
					err = qerr
				}
				if err != nil {
					errc <- err
					return
				}
			}
		}(r)
	}
	for e := 0; e < 2; e++ {
		evictors.Add(1)
		go func() {
			defer evictors.Add(-1)
			for !stop.Load() {
				if err := st.EnsureMemory(); err != nil {
					errc <- err
					return
				}
				db.Evict(1 << 12)
			}
		}()
	}
	go func() {
		defer close(done)
		rng := rand.New(rand.NewPCG(9, 9))
		for i := int64(1); i <= 3000; i++ {
			db.Lock()
			_, err := db.Insert([]byte("m"), bs("u", strconv.Itoa(1+int(i%50)), "body", body(i), "v", strconv.FormatInt(i, 10)))
			if err == nil && i%3 == 0 {
				id := 1 + rng.Int64N(i)
				err = db.Update([]byte("m"), []byte(strconv.FormatInt(id, 10)), bs("v", strconv.FormatInt(-id, 10)))
			}
			db.Unlock()
			if err != nil {
				errc <- err
				return
			}
			n.Store(i)
		}
	}()
	select {
	case <-done:
	case err := <-errc:
		stop.Store(true)
		t.Fatal(err)
	}
	stop.Store(true)
	for readers.Load() > 0 || evictors.Load() > 0 {
		select {
		case err := <-errc:
			t.Fatal(err)
		case <-time.After(time.Millisecond):
		}
	}
	require.Positive(t, db.RowsRead())
	require.Equal(t, recount(db), db.MemoryBytes())
	checkDB(t, db, true)
}
