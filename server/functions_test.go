package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

const counterLib = `#!lua name=mylib
local counter = 0
redis.register_function('incr_counter', function(keys, args) counter = counter + 1; return counter end)
redis.register_function{function_name='setget', description='sets then gets', flags={'allow-oom'},
  callback=function(keys, args) redis.call('set', keys[1], args[1]); return redis.call('get', keys[1]) end}
redis.register_function{function_name='getro', flags={'no-writes'},
  callback=function(keys, args) return redis.call('get', keys[1]) end}`

func TestFunctionsBasics(t *testing.T) {
	ts := startServer(t, "")
	defer ts.stop()
	rc := ts.client(t)
	ctx := context.Background()

	name, err := rc.FunctionLoad(ctx, counterLib).Result()
	require.NoError(t, err)
	require.Equal(t, "mylib", name)

	// a library's locals outlive a call, as in Redis's single interpreter
	require.Equal(t, int64(1), rc.FCall(ctx, "incr_counter", nil).Val())
	require.Equal(t, int64(2), rc.FCall(ctx, "incr_counter", nil).Val())
	require.Equal(t, "v", rc.FCall(ctx, "setget", []string{"k"}, "v").Val())
	require.Equal(t, "v", rc.FCallRO(ctx, "getro", []string{"k"}).Val())
	require.EqualError(t, rc.FCallRO(ctx, "setget", []string{"k"}, "w").Err(), msgROScriptWrite)
	require.EqualError(t, rc.FCall(ctx, "nosuch", nil).Err(), "ERR Function not found")
	require.EqualError(t, rc.Do(ctx, "fcall", "getro", "x").Err(), "ERR Bad number of keys provided")
	require.EqualError(t, rc.Do(ctx, "fcall", "getro", "2", "a").Err(), msgNumKeysGreater)
	require.EqualError(t, rc.Do(ctx, "fcall", "getro", "-1").Err(), msgNumKeysNegative)

	libs, err := rc.FunctionList(ctx, redis.FunctionListQuery{WithCode: true}).Result()
	require.NoError(t, err)
	require.Len(t, libs, 1)
	require.Equal(t, "mylib", libs[0].Name)
	require.Equal(t, "LUA", libs[0].Engine)
	require.Equal(t, counterLib, libs[0].Code)
	require.Len(t, libs[0].Functions, 3)
	require.Equal(t, "setget", libs[0].Functions[1].Name)
	require.Equal(t, "sets then gets", libs[0].Functions[1].Description)
	require.Equal(t, []string{"allow-oom"}, libs[0].Functions[1].Flags)
	require.Equal(t, []string{"no-writes"}, libs[0].Functions[2].Flags)
	require.Empty(t, rc.FunctionList(ctx, redis.FunctionListQuery{LibraryNamePattern: "other*"}).Val())

	for _, tc := range []struct{ code, err string }{
		{counterLib, "ERR Library 'mylib' already exists"},
		{"return 1", "ERR Missing library metadata"},
		{"#!lua name=a", "ERR Invalid library metadata"},
		{"#!lua\nreturn 1", "ERR Library name was not given"},
		{"#!lua name=a foo=bar\nreturn 1", "ERR Invalid metadata value given: foo=bar"},
		{"#!lua name=a name=b\nreturn 1", "ERR Invalid metadata value, name argument was given multiple times"},
		{"#!lua name=a-b\nreturn 1", "ERR " + msgBadLibName},
		{"#!js name=a\nreturn 1", "ERR Engine 'js' not found"},
		{"#!lua name=a\nreturn 1", "ERR No functions registered"},
		{"#!lua name=a\nredis.register_function('incr_counter', function() return 1 end)", "ERR Function incr_counter already exists"},
		{"#!lua name=a\nredis.register_function('f', function() return 1 end)\nredis.register_function('f', function() return 1 end)",
			"ERR Error registering functions: ERR Function already exists in the library"},
		{"#!lua name=a\nredis.register_function('f')", "*only applicable to Lua table*"},
		{"#!lua name=a\nredis.register_function{function_name='f'}", "*must get a callback argument*"},
		{"#!lua name=a\nredis.register_function{callback=function() end, flags={'bogus'}}", "*unknown flag given*"},
		{"#!lua name=a\nreturn math.random()", "*nonexistent global variable 'math'*"},
		{"#!lua name=a\nreturn redis.call('ping')", "*nonexistent global variable 'call'*"},
		{"#!lua name=a\nx = 1", "*Attempt to modify a readonly table*"},
		{"#!lua name=a\nlocal a = 1 while true do a = a + 1 end", "ERR Error registering functions: FUNCTION LOAD timeout"},
		{"#!lua name=a\nthis is not lua", "ERR Error compiling function:*"},
	} {
		err := rc.FunctionLoad(ctx, tc.code).Err()
		require.Error(t, err, tc.code)
		if strings.Contains(tc.err, "*") {
			require.True(t, globMatchTest(tc.err, err.Error()), "%q: %v", tc.code, err)
		} else {
			require.EqualError(t, err, tc.err, tc.code)
		}
	}
	// a failed load changed nothing
	require.Equal(t, int64(3), rc.FCall(ctx, "incr_counter", nil).Val())

	// REPLACE swaps the library, functions and state
	_, err = rc.FunctionLoadReplace(ctx, "#!lua name=mylib\nredis.register_function('incr_counter', function() return 100 end)").Result()
	require.NoError(t, err)
	require.Equal(t, int64(100), rc.FCall(ctx, "incr_counter", nil).Val())
	require.EqualError(t, rc.FCall(ctx, "setget", []string{"k"}, "v").Err(), "ERR Function not found")

	// register_function outside a load
	_, err = rc.FunctionLoad(ctx, "#!lua name=lib2\nlocal r = redis\nr.register_function('f2', function() r.register_function('f3', function() end) end)").Result()
	require.NoError(t, err)
	require.ErrorContains(t, rc.FCall(ctx, "f2", nil).Err(), "can only be called on FUNCTION LOAD command")

	stats, err := rc.FunctionStats(ctx).Result()
	require.NoError(t, err)
	require.Equal(t, int64(2), stats.Engines[0].LibrariesCount)
	require.Equal(t, int64(2), stats.Engines[0].FunctionsCount)
	require.False(t, stats.Running())

	require.EqualError(t, rc.FunctionDelete(ctx, "nolib").Err(), "ERR Library not found")
	require.NoError(t, rc.FunctionDelete(ctx, "lib2").Err())
	require.EqualError(t, rc.FCall(ctx, "f2", nil).Err(), "ERR Function not found")
	require.NoError(t, rc.FunctionFlush(ctx).Err())
	require.Empty(t, rc.FunctionList(ctx, redis.FunctionListQuery{}).Val())
	require.EqualError(t, rc.Do(ctx, "function", "flush", "later").Err(), msgFunctionFlushOpt)
}

// globMatchTest matches a pattern with * wildcards only.
func globMatchTest(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(s, p)
		}
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return true
}

func TestFunctionsDumpRestore(t *testing.T) {
	ts := startServer(t, "")
	defer ts.stop()
	rc := ts.client(t)
	ctx := context.Background()

	require.NoError(t, rc.FunctionLoad(ctx, counterLib).Err())
	require.NoError(t, rc.FunctionLoad(ctx, "#!lua name=other\nredis.register_function('o', function() return 'o' end)").Err())
	dump, err := rc.FunctionDump(ctx).Result()
	require.NoError(t, err)

	require.EqualError(t, rc.FunctionRestore(ctx, dump).Err(), "ERR Library mylib already exists")
	require.NoError(t, rc.Do(ctx, "function", "restore", dump, "replace").Err())
	require.EqualError(t, rc.Do(ctx, "function", "restore", dump, "merge").Err(), msgRestorePolicy)
	bad := []byte(dump)
	bad[len(bad)-1] ^= 1
	require.EqualError(t, rc.FunctionRestore(ctx, string(bad)).Err(), "ERR DUMP payload version or checksum are wrong")

	require.NoError(t, rc.FunctionFlush(ctx).Err())
	require.NoError(t, rc.FunctionRestore(ctx, dump).Err())
	require.Equal(t, "o", rc.FCall(ctx, "o", nil).Val())
	require.Len(t, rc.FunctionList(ctx, redis.FunctionListQuery{}).Val(), 2)

	// FLUSH replaces everything; a colliding function name refuses APPEND
	require.NoError(t, rc.FunctionLoadReplace(ctx, "#!lua name=other\nredis.register_function('o2', function() return 2 end)").Err())
	require.NoError(t, rc.FunctionLoad(ctx, "#!lua name=third\nredis.register_function('o', function() return 3 end)").Err())
	require.NoError(t, rc.FunctionDelete(ctx, "mylib").Err())
	require.EqualError(t, rc.Do(ctx, "function", "restore", dump, "replace").Err(), "ERR Function o already exists")
	require.NoError(t, rc.Do(ctx, "function", "restore", dump, "flush").Err())
	require.Equal(t, "o", rc.FCall(ctx, "o", nil).Val())
	require.EqualError(t, rc.FCall(ctx, "o2", nil).Err(), "ERR Function not found")
}

func TestFunctionsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	rc := ts.client(t)
	ctx := context.Background()
	require.NoError(t, rc.FunctionLoad(ctx, counterLib).Err())
	require.NoError(t, rc.FunctionLoad(ctx, "#!lua name=gone\nredis.register_function('g', function() return 1 end)").Err())
	require.NoError(t, rc.FunctionDelete(ctx, "gone").Err())
	require.NoError(t, rc.FlushAll(ctx).Err()) // keys only
	ts.stop()

	ts = startServer(t, dir)
	defer ts.stop()
	rc = ts.client(t)
	require.Equal(t, int64(1), rc.FCall(ctx, "incr_counter", nil).Val())
	require.Equal(t, "v", rc.FCall(ctx, "setget", []string{"k"}, "v").Val())
	require.EqualError(t, rc.FCall(ctx, "g", nil).Err(), "ERR Function not found")
	libs := rc.FunctionList(ctx, redis.FunctionListQuery{WithCode: true}).Val()
	require.Len(t, libs, 1)
	require.Equal(t, counterLib, libs[0].Code)
}

func TestFunctionKill(t *testing.T) {
	ts := startServer(t, "")
	defer ts.stop()
	rc := ts.client(t)
	ctx := context.Background()
	require.NoError(t, rc.ConfigSet(ctx, "busy-reply-threshold", "100").Err())
	require.NoError(t, rc.FunctionLoad(ctx, "#!lua name=loop\nredis.register_function{function_name='spin', flags={'no-writes'}, callback=function() local a = 1 while true do a = a + 1 end end}").Err())

	strip := func(s string) string { return strings.TrimRight(s, "\r\n") }
	looper := ts.raw(t)
	looper.send("fcall", "spin", "0")
	other := ts.raw(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := strip(other.do("ping"))
		if strings.HasPrefix(r, "-BUSY") {
			require.Equal(t, "-"+msgBusyFunction, r)
			break
		}
		require.True(t, time.Now().Before(deadline), "never BUSY: %q", r)
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, "-"+msgBusyFunction, strip(other.do("script", "kill")))
	st := other.do("function", "stats")
	require.Contains(t, st, "spin")
	require.Equal(t, "+OK", strip(other.do("function", "kill")))
	require.True(t, strings.HasPrefix(looper.reply(), "-ERR Script killed by user"))
	require.Equal(t, "+PONG", strip(other.do("ping")))
	require.Equal(t, "-"+msgNotBusy, strip(other.do("function", "kill")))
}
