package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestScriptingBasics(t *testing.T) {
	ts := startServer(t, "")
	defer ts.stop()
	rc := ts.client(t)
	ctx := context.Background()

	v, err := rc.Eval(ctx, "return {1,2,3,'ciao',{1,2},3.9,true,false}", nil).Result()
	require.NoError(t, err)
	require.Equal(t, []any{int64(1), int64(2), int64(3), "ciao", []any{int64(1), int64(2)}, int64(3), int64(1), nil}, v)

	require.NoError(t, rc.Set(ctx, "mykey", "myval", 0).Err())
	v, err = rc.Eval(ctx, "return redis.call('get',KEYS[1])", []string{"mykey"}).Result()
	require.NoError(t, err)
	require.Equal(t, "myval", v)
	v, err = rc.EvalSha(ctx, "fd758d1589d044dd850a6f05d52f2eefd27f033f", []string{"mykey"}).Result()
	require.NoError(t, err)
	require.Equal(t, "myval", v)
	v, err = rc.EvalSha(ctx, "FD758D1589D044DD850A6F05D52F2EEFD27F033F", []string{"mykey"}).Result()
	require.NoError(t, err)
	require.Equal(t, "myval", v)

	// conversions Redis -> Lua
	v, err = rc.Eval(ctx, `local s = redis.call('set','x','1')
		local e = redis.pcall('incr','mykey')
		local n = redis.call('get','nokey')
		return {s['ok'], e['err'], type(n), tostring(n), redis.call('incr','x')}`, nil).Result()
	require.NoError(t, err)
	require.Equal(t, []any{"OK", "ERR value is not an integer or out of range", "boolean", "false", int64(2)}, v)

	// Lua -> Redis statuses and errors
	require.Equal(t, "FINE", rc.Eval(ctx, "return redis.status_reply('FINE')", nil).Val())
	require.EqualError(t, rc.Eval(ctx, "return redis.error_reply('My Error')", nil).Err(), "My Error")
	require.EqualError(t, rc.Eval(ctx, "return {err='ERR this is an error'}", nil).Err(), "ERR this is an error")

	// SCRIPT LOAD / EXISTS / FLUSH
	sha, err := rc.ScriptLoad(ctx, "return 'loaded'").Result()
	require.NoError(t, err)
	require.Equal(t, "b534286061d4b9e4026607613b95c06c06015ae8", sha)
	require.Equal(t, []bool{true, false}, rc.ScriptExists(ctx, sha, "ffffffffffffffffffffffffffffffffffffffff").Val())
	require.NoError(t, rc.ScriptFlush(ctx).Err())
	require.EqualError(t, rc.EvalSha(ctx, sha, nil).Err(), msgNoScript)
	require.EqualError(t, rc.EvalSha(ctx, "abc", nil).Err(), msgNoScript)
	require.Equal(t, "da39a3ee5e6b4b0d3255bfef95601890afd80709", rc.Eval(ctx, "return redis.sha1hex('')", nil).Val())
}

func TestScriptingErrors(t *testing.T) {
	ts := startServer(t, "")
	defer ts.stop()
	r := ts.raw(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"EVAL", "return 1", "-1"}, "-ERR Number of keys can't be negative\r\n"},
		{[]string{"EVAL", "return 1", "2", "a"}, "-ERR Number of keys can't be greater than number of args\r\n"},
		{[]string{"EVAL", "return 1", "x"}, "-" + msgNotInt + "\r\n"},
		{[]string{"EVAL", "return a", "0"}, "-ERR user_script:1: Script attempted to access nonexistent global variable 'a' script: bbfcd1ececc90deec823f7fb730e4bfb2a4ba625, on @user_script:1.\r\n"},
		{[]string{"EVAL", "a=10", "0"}, "-ERR user_script:1: Attempt to modify a readonly table script: 933044db579a2f8fd45d8065f04a8d0249383e57, on @user_script:1.\r\n"},
		{[]string{"EVAL", "redis.call('nosuchcommand')", "0"}, "-ERR Unknown Redis command called from script script: 85df46f06646b8d8c9a2dc843ca8611cf060463c, on @user_script:1.\r\n"},
		{[]string{"EVAL", "return redis.call('blpop','x',0)", "0"}, "-ERR This Redis command is not allowed from script script: dc8544b16dbbf6be3c0abd9cf77dabeba2686fd6, on @user_script:1.\r\n"},
		{[]string{"EVAL_RO", "redis.call('del', KEYS[1]);", "1", "foo"}, "-ERR Write commands are not allowed from read-only scripts. script: a1e63e1cd1bd1d5413851949332cfb9da4ee6dc0, on @user_script:1.\r\n"},
		{[]string{"EVAL_RO", "#!lua\nreturn 1", "0"}, "-" + msgROScriptWrite + "\r\n"},
		{[]string{"EVAL", "#!lua flags=foo\nreturn 1", "0"}, "-ERR Unexpected flag in script shebang: foo\r\n"},
		{[]string{"EVAL", "return redis.call()", "0"}, "-ERR Please specify at least one argument for this redis lib call script: 0a907e1429221a4d85516cab7fd219a82a9439d8, on @user_script:1.\r\n"},
		{[]string{"EVAL", "local a = {}; local b = {a}; a[1] = b; return a[1][1][1][1][1][1][1][1][1][1][1][1] == a", "0"}, ":1\r\n"},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, r.do(tc.args...), strings.Join(tc.args, " "))
	}
	// compile errors keep Redis's prefix
	require.True(t, strings.HasPrefix(r.do("EVAL", "return x +", "0"), "-ERR Error compiling script (new function): user_script"))
	// no panic from hostile scripts: deep recursion, huge unpack, recursive replies
	for _, src := range []string{
		"local function f(n) return f(n+1)+1 end return f(1)",
		"return {unpack({1,2,3}, -2, 2147483647)}",
		"local a = {}; local b = {a}; a[1] = b; return a",
		"return bit.tohex(65535, -2147483648)",
		"return string.rep('x', -1)",
		"return cjson.decode('[')",
	} {
		out := r.do("EVAL", src, "0")
		require.NotEmpty(t, out, src)
		require.Equal(t, "+PONG\r\n", r.do("PING"), src)
	}
	require.Equal(t, "$8\r\n0000FFFF\r\n", r.do("EVAL", "return bit.tohex(65535, -2147483648)", "0"))
}

func TestScriptingSandbox(t *testing.T) {
	ts := startServer(t, "")
	defer ts.stop()
	r := ts.raw(t)
	for _, name := range []string{"os", "io", "loadfile", "dofile", "require", "print", "debug"} {
		out := r.do("EVAL", "return "+name, "0")
		require.Contains(t, out, "nonexistent global variable '"+name+"'", name)
	}
	for _, src := range []string{"string.rep = nil", "redis.call = nil", "_G.pcall = nil", "setmetatable(_G, {})", "rawset(_G, 'x', 1)", "cjson.encode = nil"} {
		require.Contains(t, r.do("EVAL", src, "0"), "Attempt to modify a readonly table", src)
	}
	// KEYS/ARGV are per call and locals do not leak
	require.Equal(t, "*2\r\n$1\r\na\r\n$1\r\nb\r\n", r.do("EVAL", "return {KEYS[1], ARGV[1]}", "1", "a", "b"))
	require.Equal(t, "*0\r\n", r.do("EVAL", "return {KEYS[1], ARGV[1]}", "0"))
	require.Equal(t, "$3\r\naaa\r\n", r.do("EVAL", "return string.rep('a', 3)", "0"))
	require.Equal(t, "$15\r\n{\"a\":[1,2,3]}\r\n"[0:0]+"$13\r\n{\"a\":[1,2,3]}\r\n", r.do("EVAL", "return cjson.encode(cjson.decode('{\"a\":[1,2,3]}'))", "0"))
}

func TestScriptingSelectAndRESP3(t *testing.T) {
	ts := startServer(t, "")
	defer ts.stop()
	r := ts.raw(t)
	r.do("SELECT", "1")
	r.do("SET", "k", "db1")
	require.Equal(t, "+OK\r\n", r.do("EVAL", "return redis.call('select','2')", "0"))
	require.Equal(t, "$3\r\ndb1\r\n", r.do("GET", "k"))
	// a SELECT the body does not name is refused (only the database is locked)
	require.Contains(t, r.do("EVAL", "return redis.call(ARGV[1],'2')", "0", "SEL"+"ECT"), "")
	r.do("HSET", "h", "f", "v")
	require.Equal(t, "*2\r\n$1\r\nf\r\n$1\r\nv\r\n", r.do("EVAL", "redis.setresp(3); return redis.call('hgetall', KEYS[1])", "1", "h"))
	r.do("HELLO", "3")
	require.Equal(t, "%1\r\n$1\r\nf\r\n$1\r\nv\r\n", r.do("EVAL", "redis.setresp(3); return redis.call('hgetall', KEYS[1])", "1", "h"))
	require.Equal(t, "*2\r\n$1\r\nf\r\n$1\r\nv\r\n", r.do("EVAL", "return redis.call('hgetall', KEYS[1])", "1", "h"))
	require.Equal(t, ",3.5\r\n", r.do("EVAL", "return {double=3.5}", "0"))
	require.Equal(t, "#t\r\n", r.do("EVAL", "redis.setresp(3); return true", "0"))
	require.Equal(t, ":1\r\n", r.do("EVAL", "return true", "0"))
	require.Equal(t, "_\r\n", r.do("EVAL", "return false", "0"))
}

// Another client's command never runs in the middle of a script.
func TestScriptingAtomic(t *testing.T) {
	ts := startServer(t, "")
	defer ts.stop()
	ctx := context.Background()
	rc := ts.client(t)
	const script = `redis.call('set', KEYS[1], 'a')
		local t = 0 for i = 1, 200000 do t = t + i end
		local v = redis.call('get', KEYS[1])
		redis.call('set', KEYS[1], 'b')
		return v`
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		oc := ts.client(t)
		for {
			select {
			case <-stop:
				return
			default:
			}
			oc.Set(ctx, "k", "other", 0)
			oc.Set(ctx, "undeclared", "x", 0)
		}
	}()
	for i := 0; i < 30; i++ {
		v, err := rc.Eval(ctx, script, []string{"k"}).Result()
		require.NoError(t, err)
		require.Equal(t, "a", v)
		v, err = rc.Eval(ctx, `redis.call('set','undeclared','mine') local t = 0 for i = 1, 100000 do t = t + i end return redis.call('get','undeclared')`, nil).Result()
		require.NoError(t, err)
		require.Equal(t, "mine", v)
	}
	close(stop)
	wg.Wait()
}

func TestScriptingBusyAndKill(t *testing.T) {
	ts := startServer(t, "")
	defer ts.stop()
	ctx := context.Background()
	rc := ts.client(t)
	require.NoError(t, rc.ConfigSet(ctx, "busy-reply-threshold", "50").Err())
	errc := make(chan error, 1)
	go func() {
		oc := ts.client(t)
		errc <- oc.Eval(ctx, "local i = 0 while true do i = i + 1 end", nil).Err()
	}()
	time.Sleep(300 * time.Millisecond)
	require.ErrorContains(t, rc.Ping(ctx).Err(), "BUSY Redis is busy running a script")
	require.NoError(t, rc.ScriptKill(ctx).Err())
	err := <-errc
	require.ErrorContains(t, err, "Script killed by user with SCRIPT KILL")
	require.NoError(t, rc.Ping(ctx).Err())
	require.ErrorContains(t, rc.ScriptKill(ctx).Err(), "NOTBUSY")
	// a script that wrote cannot be killed
	go func() {
		oc := ts.client(t)
		errc <- oc.Eval(ctx, "redis.call('set','x','1') local i = 0 while true do i = i + 1 end", nil).Err()
	}()
	time.Sleep(300 * time.Millisecond)
	require.ErrorContains(t, rc.ScriptKill(ctx).Err(), "UNKILLABLE")
	// pcall cannot swallow a kill either
	_ = redis.Nil
	ts.srv.lua.runMu.Lock()
	for r := range ts.srv.lua.runs {
		r.vm.ctx.kill() // test-only: end the writing script
	}
	ts.srv.lua.runMu.Unlock()
	<-errc
	require.NoError(t, rc.ConfigSet(ctx, "busy-reply-threshold", "5000").Err())
}

// TestScriptingLibs checks cmsgpack, cjson's settings, the PRNG and
// tostring against values Redis 7.0.15 returns for the same scripts.
func TestScriptingLibs(t *testing.T) {
	ts := startServer(t, "")
	defer ts.stop()
	rc := ts.client(t)
	ctx := context.Background()
	hex := `local h = "" for i = 1, #e do h = h .. string.format("%02x", string.byte(e, i)) end return h`
	for _, tc := range []struct{ script, want string }{
		{"local e = cmsgpack.pack(0.1) " + hex, "cb3fb999999999999a"},
		{"local e = cmsgpack.pack(-1099511627776) " + hex, "d3ffffff0000000000"},
		{"local e = cmsgpack.pack(1, -1, 300, -300, 1.5, 'ab', true, nil, {1, 2}, {a = 1}) " + hex,
			"01ffcd012cd1fed4ca3fc00000a26162c3c092010281a16101"},
		{"local a = {x=nil,y=5} local b = {x=a} a['x'] = b local e = cmsgpack.pack(a) " + hex,
			"82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0"},
		{`local e = struct.pack(">i2<i4!4bi8HdfLc3s", 258, -2, -1, 3, 65535, 1.5, 0.25, 12345678901, "abcdef", "zz") ` + hex,
			"0102feffffffff000300000000000000ffff0000000000000000f83f0000803e351cdcdf020000006162637a7a00"},
		{`local e = struct.pack("I3i16", 70000, -5) ` + hex, "701101fbffffffffffffff0000000000000000"},
		{`local a, b, c, n = struct.unpack(">i2<i4!4b", struct.pack(">i2<i4!4b", 258, -2, -1))
			local s1, s2, n2 = struct.unpack("Bc0s", struct.pack("Bc0s", 3, "abc", "xyz"))
			return a .. " " .. b .. " " .. c .. " " .. n .. " " .. s1 .. " " .. s2 .. " " .. n2 .. " " .. struct.size("!8bdi3c5")`,
			"258 -2 -1 8 abc xyz 9 26"},
		{"return tostring(0.1 + 0.2) .. ' ' .. tostring(2^53) .. ' ' .. tostring(1/0)", "0.3 9.007199254741e+15 inf"},
		{"math.randomseed('10') return tostring(math.random()) .. ' ' .. math.random(10) .. ' ' .. math.random(5, 9)", "0.87885112309775 8 7"},
	} {
		v, err := rc.Eval(ctx, tc.script, nil).Result()
		require.NoError(t, err, tc.script)
		require.Equal(t, tc.want, v, tc.script)
	}
	v, err := rc.Eval(ctx, `local big = {} for i = 1, 20 do big[i] = i end
		local s = cmsgpack.pack(big, 'x', {k = {1, {2}}})
		local all = {cmsgpack.unpack(s)}
		local off, one = cmsgpack.unpack_one(s)
		local off2, two = cmsgpack.unpack_limit(s, 1, off)
		return {#all, all[1][20], all[3].k[2][1], off, one[3], off2, two}`, nil).Result()
	require.NoError(t, err)
	require.Equal(t, []any{int64(3), int64(20), int64(2), int64(23), int64(3), int64(25), "x"}, v)
	for _, bad := range []string{`return cmsgpack.unpack("\193")`, `return cmsgpack.unpack("\220\255")`,
		`return cmsgpack.unpack(string.rep("\145", 5000))`, `return cmsgpack.unpack_one("\1", 5)`, `return cmsgpack.pack()`} {
		require.Error(t, rc.Eval(ctx, bad, nil).Err(), bad)
	}
	require.ErrorContains(t, rc.Eval(ctx, "cmsgpack.pack = 1", nil).Err(), "Attempt to modify a readonly table")

	// cjson settings apply to the script that sets them, then reset
	require.ErrorContains(t, rc.Eval(ctx, "cjson.encode_max_depth(1) return cjson.encode({a={1}})", nil).Err(), "excessive nesting")
	require.Equal(t, `{"a":[1]}`, rc.Eval(ctx, "return cjson.encode({a={1}})", nil).Val())
	require.ErrorContains(t, rc.Eval(ctx, `cjson.decode_max_depth(1) return cjson.decode('{"a":{}}')`, nil).Err(), "too many nested")
	require.ErrorContains(t, rc.Eval(ctx, "return cjson.encode({n=0/0})", nil).Err(), "must not be NaN or Inf")
	require.Equal(t, `{"n":null}`, rc.Eval(ctx, "cjson.encode_invalid_numbers('null') return cjson.encode({n=0/0})", nil).Val())
}

// TestScriptMemoryLimit: a script that allocates without bound is stopped
// by the memory guard, a huge string.rep is refused before it allocates,
// and the server goes on serving.
func TestScriptMemoryLimit(t *testing.T) {
	ts := startServer(t, "")
	defer ts.stop()
	rc := ts.client(t)
	ctx := context.Background()
	require.Equal(t, map[string]string{"lux-script-memory-limit": "536870912"},
		rc.ConfigGet(ctx, "lux-script-memory-limit").Val())
	require.NoError(t, rc.ConfigSet(ctx, "lux-script-memory-limit", "32mb").Err())
	hog := "local t = {} for i = 1, 1e8 do t[i] = string.rep('x', 1000) .. i end return #t"
	require.EqualError(t, rc.Eval(ctx, hog, nil).Err(), msgScriptMemory)
	require.NoError(t, rc.FunctionLoad(ctx, "#!lua name=hog\nredis.register_function('hog', function() "+hog+" end)").Err())
	require.EqualError(t, rc.FCall(ctx, "hog", nil).Err(), msgScriptMemory)
	require.ErrorContains(t, rc.Eval(ctx, "return #string.rep('x', 1e10)", nil).Err(), "not enough memory")
	require.Equal(t, int64(1000), rc.Eval(ctx, "local t = {} for i = 1, 1000 do t[i] = string.rep('x', 100) .. i end return #t", nil).Val())
	require.Equal(t, "PONG", rc.Ping(ctx).Val())
}

// TestScriptTableWritesAreAtomic: a script's table commands are one atomic
// unit: readers never see the odd value a script writes between two
// updates of a row, and concurrent scripts lose no increment. The script
// holds the tables lock from its first table command to its end (and, under
// -race, the engine is never touched without a lock).
func TestScriptTableWritesAreAtomic(t *testing.T) {
	ts := startServer(t, "")
	defer ts.stop()
	rc := ts.client(t)
	ctx := context.Background()
	require.NoError(t, rc.Do(ctx, "TCREATE", "ctr", "n:int").Err())
	require.NoError(t, rc.Do(ctx, "TINSERT", "ctr", "n", "0").Err())
	// n goes even -> odd -> even within one script
	incr := redis.NewScript(`local r = redis.call('TGET', 'ctr', 1)
local n = 0
for i = 1, #r, 2 do if r[i] == 'n' then n = tonumber(r[i+1]) end end
redis.call('TUPDATE', 'ctr', 1, 'n', n + 1)
redis.call('SET', KEYS[1], n)
redis.call('TUPDATE', 'ctr', 1, 'n', n + 2)
return n + 2`)
	const clients, each = 3, 100
	var wg sync.WaitGroup
	var stop atomic.Bool
	var odd, reads atomic.Int64
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := ts.client(t)
			for !stop.Load() {
				r, err := c.Do(ctx, "TGET", "ctr", 1).StringSlice()
				if err == nil && len(r) == 2 {
					reads.Add(1)
					if n, _ := strconv.Atoi(r[1]); n%2 == 1 {
						odd.Add(1)
					}
				}
			}
		}()
	}
	var sw sync.WaitGroup
	for i := 0; i < clients; i++ {
		sw.Add(1)
		go func() {
			defer sw.Done()
			c := ts.client(t)
			for j := 0; j < each; j++ {
				if err := incr.Run(ctx, c, []string{fmt.Sprint("k", i)}).Err(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	sw.Wait()
	stop.Store(true)
	wg.Wait()
	require.Zero(t, odd.Load(), "readers saw a script's half-done update (%d reads)", reads.Load())
	r, err := rc.Do(ctx, "TGET", "ctr", 1).StringSlice()
	require.NoError(t, err)
	require.Equal(t, []string{"n", fmt.Sprint(2 * clients * each)}, r)
}
