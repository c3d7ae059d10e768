package server

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luxdb/lux-go/storage"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// ---- raw RESP helpers ----

type tStep struct {
	cmd  []string
	want string
}

func tc(args ...string) []string { return args }

func tErr(msg string) string { return "-" + msg + "\r\n" }
func tInt(n int64) string    { return ":" + strconv.FormatInt(n, 10) + "\r\n" }
func tBulk(s string) string  { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

const tOK = "+OK\r\n"

// tArr builds an array reply from encoded elements.
func tArr(elems ...string) string {
	return fmt.Sprintf("*%d\r\n", len(elems)) + strings.Join(elems, "")
}

// tBulks builds an array of bulk strings.
func tBulks(items ...string) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = tBulk(s)
	}
	return tArr(out...)
}

// tRow builds one TQUERY row: the id, then field/value pairs.
func tRow(id int64, pairs ...string) string {
	elems := []string{tInt(id)}
	for _, p := range pairs {
		elems = append(elems, tBulk(p))
	}
	return tArr(elems...)
}

func runTSteps(t *testing.T, r *rawConn, steps []tStep) {
	t.Helper()
	for i, s := range steps {
		require.Equal(t, s.want, r.do(s.cmd...), "step %d: %q", i, s.cmd)
	}
}

func arity(cmd string) string { return tErr("ERR wrong number of arguments for '" + cmd + "' command") }

// chatSchema is the reference chat application's schema, verbatim.
var chatSchema = [][]string{
	{"TCREATE", "users", "username:str:unique", "color:str", "last_seen:int"},
	{"TCREATE", "channels", "name:str:unique", "topic:str"},
	{"TCREATE", "messages", "channel_id:ref(channels)", "user_id:ref(users)", "content:str", "timestamp:int"},
}

func TestTablesCreateAndSchema(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	runTSteps(t, r, []tStep{
		{chatSchema[0], tOK},
		{chatSchema[1], tOK},
		{chatSchema[2], tOK},
		{tc("TCREATE", "users", "x:int"), tErr("ERR table 'users' already exists")},
		{tc("tcreate", "users", "username:str:unique"), tErr("ERR table 'users' already exists")},
		{tc("TCREATE"), arity("tcreate")},
		{tc("TCREATE", "t"), arity("tcreate")},
		{tc("TCREATE", "bad-name", "a:int"), tErr("ERR invalid table name")},
		{tc("TCREATE", "", "a:int"), tErr("ERR invalid table name")},
		{tc("TCREATE", "sp ace", "a:int"), tErr("ERR invalid table name")},
		{tc("TCREATE", "caf\xc3\xa9", "a:int"), tErr("ERR invalid table name")},
		{tc("TCREATE", "t\xff", "a:int"), tErr("ERR invalid table name")},
		{tc("TCREATE", "t", "a"), tErr("ERR invalid field spec 'a', expected field:type")},
		{tc("TCREATE", "t", "a:int:unique:x"), tErr("ERR invalid field spec 'a:int:unique:x', expected field:type")},
		{tc("TCREATE", "t", "a-b:int"), tErr("ERR invalid field name 'a-b'")},
		{tc("TCREATE", "t", ":int"), tErr("ERR invalid field name ''")},
		{tc("TCREATE", "t", "a:integer"), tErr("ERR unknown field type 'integer'")},
		{tc("TCREATE", "t", "a:INT"), tErr("ERR unknown field type 'INT'")},
		{tc("TCREATE", "t", "a:"), tErr("ERR unknown field type ''")},
		{tc("TCREATE", "t", "a:ref(users"), tErr("ERR unknown field type 'ref(users'")},
		{tc("TCREATE", "t", "a:int:UNIQUE"), tErr("ERR unknown field modifier 'UNIQUE'")},
		{tc("TCREATE", "t", "a:int:"), tErr("ERR unknown field modifier ''")},
		{tc("TCREATE", "t", "a:ref(bad-name)"), tErr("ERR invalid referenced table name 'bad-name'")},
		{tc("TCREATE", "t", "a:ref()"), tErr("ERR invalid referenced table name ''")},
		{tc("TCREATE", "t", "a:int", "a:str"), tErr("ERR duplicate field name 'a'")},
		{tc("TCREATE", "t", "a:int", "b:bogus"), tErr("ERR unknown field type 'bogus'")},
		// nothing was written by the failed creates
		{tc("TLIST"), tBulks("channels", "messages", "users")},
		{tc("TLIST", "x"), arity("tlist")},
		{tc("TSCHEMA", "users"), tBulks("username:str:unique", "color:str", "last_seen:int")},
		{tc("TSCHEMA", "messages"), tBulks("channel_id:ref(channels)", "user_id:ref(users)", "content:str", "timestamp:int")},
		{tc("TSCHEMA", "nosuch"), tErr("ERR table 'nosuch' does not exist")},
		{tc("TSCHEMA"), arity("tschema")},
		// every type and modifier; a ref target need not exist; a table may reference itself
		{tc("TCREATE", "all_types", "s:str:unique", "i:int:unique", "f:float:unique", "b:bool:unique", "ts:timestamp:unique", "r:ref(later):unique", "me:ref(all_types)"), tOK},
		{tc("TSCHEMA", "all_types"), tBulks("s:str:unique", "i:int:unique", "f:float:unique", "b:bool:unique", "ts:timestamp:unique", "r:ref(later):unique", "me:ref(all_types)")},
		{tc("TCOUNT", "all_types"), tInt(0)},
		{tc("TCOUNT", "nosuch"), tErr("ERR table 'nosuch' does not exist")},
		{tc("TCOUNT"), arity("tcount")},
		{tc("TLIST"), tBulks("all_types", "channels", "messages", "users")},
	})
}

func TestTablesInsertGetTypes(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	for _, c := range chatSchema {
		require.Equal(t, tOK, r.do(c...))
	}
	runTSteps(t, r, []tStep{
		{tc("TINSERT", "users", "username", "alice", "color", "red", "last_seen", "5"), tInt(1)},
		{tc("TGET", "users", "1"), tBulks("color", "red", "last_seen", "5", "username", "alice")},
		// normalization: +05 is 5
		{tc("TINSERT", "users", "username", "bob", "last_seen", "+05"), tInt(2)},
		{tc("TGET", "users", "2"), tBulks("last_seen", "5", "username", "bob")},
		{tc("TINSERT", "users"), arity("tinsert")},
		{tc("TINSERT", "users", "username"), arity("tinsert")},
		{tc("TINSERT", "users", "username", "a", "color"), arity("tinsert")},
		{tc("TINSERT", "nosuch", "a", "1"), tErr("ERR table 'nosuch' does not exist")},
		{tc("TINSERT", "users", "nick", "x"), tErr("ERR unknown field 'nick'")},
		{tc("TINSERT", "users", "Username", "x"), tErr("ERR unknown field 'Username'")},
		{tc("TINSERT", "users", "last_seen", "abc"), tErr("ERR field 'last_seen' expects int, got 'abc'")},
		{tc("TINSERT", "users", "username", "alice"), tErr("ERR unique constraint violation on field 'username'")},
		// type before unique, whatever the pair order
		{tc("TINSERT", "users", "username", "alice", "last_seen", "x"), tErr("ERR field 'last_seen' expects int, got 'x'")},
		{tc("TINSERT", "messages", "channel_id", "9", "user_id", "1"), tErr("ERR foreign key violation: channel_id=9 not found in table 'channels'")},
		{tc("TINSERT", "messages", "channel_id", "abc"), tErr("ERR field 'channel_id' expects int, got 'abc'")},
		// type before foreign key
		{tc("TINSERT", "messages", "channel_id", "9", "timestamp", "x"), tErr("ERR field 'timestamp' expects int, got 'x'")},
		// the reported value is the normalized one
		{tc("TINSERT", "messages", "user_id", "+007"), tErr("ERR foreign key violation: user_id=7 not found in table 'users'")},
		// failed inserts consumed no id
		{tc("TINSERT", "users", "username", "carol"), tInt(3)},
		{tc("TGET", "users", "abc"), tErr("ERR invalid row id")},
		{tc("TGET", "users", "1.0"), tErr("ERR invalid row id")},
		{tc("TGET", "nosuch", "1"), tErr("ERR table 'nosuch' does not exist")},
		{tc("TGET", "users", "99"), tErr("ERR row 99 not found in table 'users'")},
		{tc("TGET", "users", "0"), tErr("ERR row 0 not found in table 'users'")},
		{tc("TGET", "users", "-4"), tErr("ERR row -4 not found in table 'users'")},
		{tc("TGET", "users", "+2"), tBulks("last_seen", "5", "username", "bob")},
		{tc("TGET", "users"), arity("tget")},
		{tc("TGET", "users", "1", "2"), arity("tget")},
		// foreign key before unique
		{tc("TCREATE", "profiles", "user_id:ref(users):unique", "bio:str"), tOK},
		{tc("TINSERT", "profiles", "user_id", "1", "bio", "hi"), tInt(1)},
		{tc("TINSERT", "profiles", "user_id", "1"), tErr("ERR unique constraint violation on field 'user_id'")},
		{tc("TINSERT", "profiles", "user_id", "01"), tErr("ERR unique constraint violation on field 'user_id'")},
		{tc("TINSERT", "profiles", "user_id", "99"), tErr("ERR foreign key violation: user_id=99 not found in table 'users'")},
		{tc("TINSERT", "profiles", "user_id", "2"), tInt(2)},
		// a repeated field: the last value wins
		{tc("TINSERT", "users", "username", "dave", "color", "a", "color", "b"), tInt(4)},
		{tc("TGET", "users", "4"), tBulks("color", "b", "username", "dave")},
		// all fields optional
		{tc("TINSERT", "users", "color", "none"), tInt(5)},
		{tc("TGET", "users", "5"), tBulks("color", "none")},
	})
}

func TestTablesTypeNormalization(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	typeErr := func(f, want, got string) string {
		return tErr("ERR field '" + f + "' expects " + want + ", got '" + got + "'")
	}
	runTSteps(t, r, []tStep{
		{tc("TCREATE", "v", "i:int", "f:float", "b:bool", "ts:timestamp", "s:str", "r:ref(v)"), tOK},
		{tc("TINSERT", "v", "i", "-0", "f", "1.50", "b", "1", "ts", "+1000", "s", ""), tInt(1)},
		{tc("TGET", "v", "1"), tBulks("b", "true", "f", "1.5", "i", "0", "s", "", "ts", "1000")},
		{tc("TINSERT", "v", "f", "1e3", "b", "0"), tInt(2)},
		{tc("TGET", "v", "2"), tBulks("b", "false", "f", "1000")},
		{tc("TINSERT", "v", "f", "-0.0", "b", "true"), tInt(3)},
		{tc("TGET", "v", "3"), tBulks("b", "true", "f", "0")},
		{tc("TINSERT", "v", "f", "inf"), tInt(4)},
		{tc("TGET", "v", "4"), tBulks("f", "inf")},
		{tc("TINSERT", "v", "f", "-inf"), tInt(5)},
		{tc("TGET", "v", "5"), tBulks("f", "-inf")},
		{tc("TINSERT", "v", "f", "1e21"), tInt(6)},
		{tc("TGET", "v", "6"), tBulks("f", "1e+21")},
		{tc("TINSERT", "v", "f", "0.0000001"), tInt(7)},
		{tc("TGET", "v", "7"), tBulks("f", "1e-07")},
		{tc("TINSERT", "v", "f", ".5", "i", "9223372036854775807"), tInt(8)},
		{tc("TGET", "v", "8"), tBulks("f", "0.5", "i", "9223372036854775807")},
		{tc("TINSERT", "v", "i", "-9223372036854775808", "f", "0.1"), tInt(9)},
		{tc("TGET", "v", "9"), tBulks("f", "0.1", "i", "-9223372036854775808")},
		{tc("TINSERT", "v", "f", "nan"), typeErr("f", "float", "nan")},
		{tc("TINSERT", "v", "f", "NaN"), typeErr("f", "float", "NaN")},
		{tc("TINSERT", "v", "f", "-nan"), typeErr("f", "float", "-nan")},
		{tc("TINSERT", "v", "f", "1e400"), typeErr("f", "float", "1e400")},
		{tc("TINSERT", "v", "f", "0x10"), typeErr("f", "float", "0x10")},
		{tc("TINSERT", "v", "f", "1_000"), typeErr("f", "float", "1_000")},
		{tc("TINSERT", "v", "f", ""), typeErr("f", "float", "")},
		{tc("TINSERT", "v", "f", "1e"), typeErr("f", "float", "1e")},
		{tc("TINSERT", "v", "f", " 1"), typeErr("f", "float", " 1")},
		{tc("TINSERT", "v", "i", "9223372036854775808"), typeErr("i", "int", "9223372036854775808")},
		{tc("TINSERT", "v", "i", "1.5"), typeErr("i", "int", "1.5")},
		{tc("TINSERT", "v", "i", " 5"), typeErr("i", "int", " 5")},
		{tc("TINSERT", "v", "i", ""), typeErr("i", "int", "")},
		{tc("TINSERT", "v", "i", "+"), typeErr("i", "int", "+")},
		{tc("TINSERT", "v", "i", "1_0"), typeErr("i", "int", "1_0")},
		{tc("TINSERT", "v", "i", "99999999999999999999999999999999999999999"), typeErr("i", "int", "99999999999999999999999999999999999999999")},
		{tc("TINSERT", "v", "b", "yes"), typeErr("b", "bool (true/false/1/0)", "yes")},
		{tc("TINSERT", "v", "b", "TRUE"), typeErr("b", "bool (true/false/1/0)", "TRUE")},
		{tc("TINSERT", "v", "ts", "now"), typeErr("ts", "timestamp (epoch ms or *)", "now")},
		{tc("TINSERT", "v", "ts", "**"), typeErr("ts", "timestamp (epoch ms or *)", "**")},
		{tc("TINSERT", "v", "r", "x"), typeErr("r", "int", "x")},
		// an error line never carries CR/LF, and a long value is cut
		{tc("TINSERT", "v", "i", "1\r\n2"), typeErr("i", "int", "1  2")},
		{tc("TINSERT", "v", "i", strings.Repeat("9", 300)), typeErr("i", "int", strings.Repeat("9", 128)+"...")},
		// comparisons are typed: 5 and 05 are one int; true matches 1
		{tc("TQUERY", "v", "WHERE", "b", "=", "true"), tArr(tRow(1, "b", "true", "f", "1.5", "i", "0", "s", "", "ts", "1000"), tRow(3, "b", "true", "f", "0"))},
		{tc("TQUERY", "v", "WHERE", "b", "=", "1", "AND", "i", "=", "-0"), tArr(tRow(1, "b", "true", "f", "1.5", "i", "0", "s", "", "ts", "1000"))},
		{tc("TQUERY", "v", "WHERE", "f", ">", "999.5", "ORDER", "BY", "f"), tArr(tRow(2, "b", "false", "f", "1000"), tRow(6, "f", "1e+21"), tRow(4, "f", "inf"))},
		{tc("TQUERY", "v", "WHERE", "f", ">", "nan"), typeErr("f", "float", "nan")},
		{tc("TQUERY", "v", "WHERE", "f", "=", "-0"), tArr(tRow(3, "b", "true", "f", "0"))},
	})
	// `*` is the server's clock, on insert and on update
	before := time.Now().UnixMilli()
	id := r.do("TINSERT", "v", "ts", "*")
	after := time.Now().UnixMilli()
	require.Equal(t, tInt(10), id)
	got := ts.client(t).Do(context.Background(), "TGET", "v", "10").Val().([]interface{})
	stamp, err := strconv.ParseInt(got[1].(string), 10, 64)
	require.NoError(t, err)
	require.True(t, stamp >= before && stamp <= after, "stamp %d not in [%d,%d]", stamp, before, after)
	require.Equal(t, tOK, r.do("TUPDATE", "v", "10", "ts", "*"))
	got = ts.client(t).Do(context.Background(), "TGET", "v", "10").Val().([]interface{})
	stamp2, err := strconv.ParseInt(got[1].(string), 10, 64)
	require.NoError(t, err)
	require.True(t, stamp2 >= stamp && stamp2 <= time.Now().UnixMilli())
	// and `*` in a WHERE is the clock too
	require.Equal(t, tArr(tRow(1, "b", "true", "f", "1.5", "i", "0", "s", "", "ts", "1000")), r.do("TQUERY", "v", "WHERE", "ts", "<", "*", "AND", "ts", "<", "2000"))
}

func TestTablesUniqueEveryType(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	uniq := func(f string) string { return tErr("ERR unique constraint violation on field '" + f + "'") }
	runTSteps(t, r, []tStep{
		{tc("TCREATE", "target", "x:int"), tOK},
		{tc("TINSERT", "target", "x", "1"), tInt(1)},
		{tc("TINSERT", "target", "x", "2"), tInt(2)},
		{tc("TCREATE", "u", "s:str:unique", "i:int:unique", "f:float:unique", "b:bool:unique", "ts:timestamp:unique", "r:ref(target):unique"), tOK},
		{tc("TINSERT", "u", "s", "x", "i", "5", "f", "0.5", "b", "true", "ts", "10", "r", "1"), tInt(1)},
		{tc("TINSERT", "u", "s", "x"), uniq("s")},
		{tc("TINSERT", "u", "i", "05"), uniq("i")},
		{tc("TINSERT", "u", "f", "0.50"), uniq("f")},
		{tc("TINSERT", "u", "f", "5e-1"), uniq("f")},
		{tc("TINSERT", "u", "b", "1"), uniq("b")},
		{tc("TINSERT", "u", "ts", "+10"), uniq("ts")},
		{tc("TINSERT", "u", "r", "1"), uniq("r")},
		{tc("TINSERT", "u", "s", "X", "i", "6", "f", "-0", "b", "0", "ts", "11", "r", "2"), tInt(2)},
		{tc("TINSERT", "u", "f", "0"), uniq("f")},
		// update: unique fails only when another row holds the value
		{tc("TUPDATE", "u", "1", "s", "x", "i", "5"), tOK},
		{tc("TUPDATE", "u", "1", "s", "X"), uniq("s")},
		{tc("TUPDATE", "u", "1", "r", "2"), uniq("r")},
		// after a delete the value is free again
		{tc("TDEL", "u", "2"), tOK},
		{tc("TUPDATE", "u", "1", "s", "X", "r", "2"), tOK},
		{tc("TINSERT", "u", "s", "x", "r", "1"), tInt(3)},
		{tc("TQUERY", "u", "WHERE", "s", "=", "X"), tArr(tRow(1, "b", "true", "f", "0.5", "i", "5", "r", "2", "s", "X", "ts", "10"))},
		{tc("TQUERY", "u", "WHERE", "s", ">=", "a", "ORDER", "BY", "s", "DESC"), tArr(tRow(3, "r", "1", "s", "x"))},
	})
}

func TestTablesUpdateDeleteDrop(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	for _, c := range chatSchema {
		require.Equal(t, tOK, r.do(c...))
	}
	runTSteps(t, r, []tStep{
		{tc("TINSERT", "users", "username", "alice", "color", "red"), tInt(1)},
		{tc("TINSERT", "users", "username", "bob"), tInt(2)},
		{tc("TINSERT", "channels", "name", "general"), tInt(1)},
		{tc("TINSERT", "messages", "channel_id", "1", "user_id", "1", "content", "hi", "timestamp", "100"), tInt(1)},
		{tc("TUPDATE", "users", "1", "color", "blue"), tOK},
		{tc("TUPDATE", "users", "1", "username", "bob"), tErr("ERR unique constraint violation on field 'username'")},
		{tc("TUPDATE", "users", "1", "username", "alice"), tOK},
		{tc("TUPDATE", "users", "99", "color", "x"), tErr("ERR row 99 not found in table 'users'")},
		{tc("TUPDATE", "users", "x", "color", "x"), tErr("ERR invalid row id")},
		{tc("TUPDATE", "nosuch", "1", "color", "x"), tErr("ERR table 'nosuch' does not exist")},
		{tc("TUPDATE", "users", "1", "nick", "x"), tErr("ERR unknown field 'nick'")},
		{tc("TUPDATE", "users", "1", "last_seen", "x"), tErr("ERR field 'last_seen' expects int, got 'x'")},
		{tc("TUPDATE", "messages", "1", "channel_id", "99"), tErr("ERR foreign key violation: channel_id=99 not found in table 'channels'")},
		{tc("TUPDATE", "users", "1", "color"), arity("tupdate")},
		{tc("TUPDATE", "users", "1"), arity("tupdate")},
		{tc("TUPDATE", "users", "1", "color", "a", "last_seen"), arity("tupdate")},
		// no write unless every pair passes
		{tc("TUPDATE", "users", "1", "color", "green", "last_seen", "bad"), tErr("ERR field 'last_seen' expects int, got 'bad'")},
		{tc("TUPDATE", "users", "2", "color", "green", "username", "alice"), tErr("ERR unique constraint violation on field 'username'")},
		{tc("TGET", "users", "1"), tBulks("color", "blue", "username", "alice")},
		{tc("TGET", "users", "2"), tBulks("username", "bob")},
		{tc("TUPDATE", "messages", "1", "user_id", "2", "timestamp", "200"), tOK},
		{tc("TQUERY", "messages", "WHERE", "user_id", "=", "1"), tArr()},
		{tc("TQUERY", "messages", "WHERE", "user_id", "=", "2"), tArr(tRow(1, "channel_id", "1", "content", "hi", "timestamp", "200", "user_id", "2"))},
		// RESTRICT
		{tc("TDEL", "users", "2"), tErr("ERR cannot delete row 2: referenced by table 'messages'")},
		{tc("TDEL", "channels", "1"), tErr("ERR cannot delete row 1: referenced by table 'messages'")},
		{tc("TDEL", "users", "1"), tOK},
		{tc("TGET", "users", "1"), tErr("ERR row 1 not found in table 'users'")},
		{tc("TDEL", "users", "1"), tErr("ERR row 1 not found in table 'users'")},
		{tc("TDEL", "users", "x"), tErr("ERR invalid row id")},
		{tc("TDEL", "nosuch", "1"), tErr("ERR table 'nosuch' does not exist")},
		{tc("TDEL", "users"), arity("tdel")},
		// ids are never reused
		{tc("TINSERT", "users", "username", "alice"), tInt(3)},
		{tc("TCOUNT", "users"), tInt(2)},
		// self references: a row referencing itself does not block its own delete
		{tc("TCREATE", "nodes", "parent:ref(nodes)", "name:str"), tOK},
		{tc("TINSERT", "nodes", "name", "root"), tInt(1)},
		{tc("TUPDATE", "nodes", "1", "parent", "1"), tOK},
		{tc("TINSERT", "nodes", "parent", "1", "name", "child"), tInt(2)},
		{tc("TINSERT", "nodes", "parent", "3", "name", "self"), tInt(3)},
		{tc("TINSERT", "nodes", "parent", "5", "name", "ahead"), tErr("ERR foreign key violation: parent=5 not found in table 'nodes'")},
		{tc("TDEL", "nodes", "1"), tErr("ERR cannot delete row 1: referenced by table 'nodes'")},
		{tc("TDEL", "nodes", "3"), tOK},
		{tc("TDEL", "nodes", "2"), tOK},
		{tc("TDEL", "nodes", "1"), tOK},
		// TDROP is refused while another table references it (a self reference does not count)
		{tc("TDROP", "users"), tErr("ERR cannot drop table 'users': referenced by table 'messages'")},
		{tc("TDROP", "channels"), tErr("ERR cannot drop table 'channels': referenced by table 'messages'")},
		{tc("TDROP", "nodes"), tOK},
		{tc("TDROP", "nodes"), tErr("ERR table 'nodes' does not exist")},
		{tc("TDROP"), arity("tdrop")},
		{tc("TDROP", "messages"), tOK},
		{tc("TDROP", "users"), tOK},
		{tc("TLIST"), tBulks("channels")},
		// a dropped name can be created again, empty, with its own ids
		{tc("TCREATE", "users", "username:int:unique"), tOK},
		{tc("TCOUNT", "users"), tInt(0)},
		{tc("TINSERT", "users", "username", "7"), tInt(1)},
		{tc("TGET", "users", "1"), tBulks("username", "7")},
		{tc("TLIST"), tBulks("channels", "users")},
	})
}

func TestTablesAlter(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	for _, c := range chatSchema {
		require.Equal(t, tOK, r.do(c...))
	}
	runTSteps(t, r, []tStep{
		{tc("TINSERT", "users", "username", "alice", "color", "red", "last_seen", "1"), tInt(1)},
		{tc("TINSERT", "users", "username", "bob", "color", "blue", "last_seen", "2"), tInt(2)},
		{tc("TINSERT", "channels", "name", "general"), tInt(1)},
		{tc("TINSERT", "messages", "channel_id", "1", "user_id", "1", "timestamp", "5"), tInt(1)},
		{tc("TALTER", "users", "ADD", "email:str:unique"), tOK},
		{tc("TSCHEMA", "users"), tBulks("username:str:unique", "color:str", "last_seen:int", "email:str:unique")},
		{tc("TGET", "users", "1"), tBulks("color", "red", "last_seen", "1", "username", "alice")},
		{tc("TUPDATE", "users", "1", "email", "a@x"), tOK},
		{tc("TUPDATE", "users", "2", "email", "a@x"), tErr("ERR unique constraint violation on field 'email'")},
		{tc("TALTER", "users", "ADD", "email:str"), tErr("ERR field 'email' already exists")},
		{tc("TALTER", "users", "add", "bad"), tErr("ERR invalid field spec 'bad', expected field:type")},
		{tc("TALTER", "users", "ADD", "x:nope"), tErr("ERR unknown field type 'nope'")},
		{tc("TALTER", "users", "DROP", "nosuch"), tErr("ERR field 'nosuch' does not exist")},
		{tc("TALTER", "users", "RENAME", "x"), tErr("ERR unknown TALTER action 'RENAME', expected ADD or DROP")},
		{tc("TALTER", "users", "rename", "x"), tErr("ERR unknown TALTER action 'RENAME', expected ADD or DROP")},
		{tc("TALTER", "nosuch", "ADD", "x:int"), tErr("ERR table 'nosuch' does not exist")},
		{tc("TALTER", "users", "ADD"), arity("talter")},
		{tc("TALTER", "users", "ADD", "a:int", "b:int"), arity("talter")},
		// DROP of an indexed (unique) field: gone from rows and its index
		{tc("TALTER", "users", "drop", "username"), tOK},
		{tc("TSCHEMA", "users"), tBulks("color:str", "last_seen:int", "email:str:unique")},
		{tc("TGET", "users", "1"), tBulks("color", "red", "email", "a@x", "last_seen", "1")},
		{tc("TQUERY", "users", "WHERE", "username", "=", "alice"), tErr("ERR unknown field 'username' in WHERE clause")},
		// the name comes back empty: the old values do not return
		{tc("TALTER", "users", "ADD", "username:str:unique"), tOK},
		{tc("TGET", "users", "1"), tBulks("color", "red", "email", "a@x", "last_seen", "1")},
		{tc("TINSERT", "users", "username", "alice"), tInt(3)},
		{tc("TQUERY", "users", "WHERE", "username", "=", "alice"), tArr(tRow(3, "username", "alice"))},
		// DROP of a ref field (and of the numeric field of its composite index)
		{tc("TALTER", "messages", "DROP", "timestamp"), tOK},
		{tc("TQUERY", "messages", "WHERE", "channel_id", "=", "1"), tArr(tRow(1, "channel_id", "1", "user_id", "1"))},
		{tc("TALTER", "messages", "DROP", "user_id"), tOK},
		{tc("TDEL", "users", "1"), tOK},
		{tc("TDROP", "users"), tOK},
		// ADD of a numeric field to a table with rows: a composite index over
		// the existing rows (which lack the field) serves ORDER BY on it
		{tc("TALTER", "messages", "ADD", "ts:timestamp"), tOK},
		{tc("TINSERT", "messages", "channel_id", "1", "ts", "50"), tInt(2)},
		{tc("TQUERY", "messages", "WHERE", "channel_id", "=", "1", "ORDER", "BY", "ts", "DESC"), tArr(tRow(2, "channel_id", "1", "ts", "50"), tRow(1, "channel_id", "1"))},
		{tc("TQUERY", "messages", "WHERE", "channel_id", "=", "1", "ORDER", "BY", "ts", "ASC", "LIMIT", "1"), tArr(tRow(1, "channel_id", "1"))},
		{tc("TALTER", "messages", "ADD", "owner:ref(channels)"), tOK},
		{tc("TDROP", "channels"), tErr("ERR cannot drop table 'channels': referenced by table 'messages'")},
	})
}

// queryFixture is a small table for query semantics.
func queryFixture(t *testing.T, r *rawConn) {
	t.Helper()
	runTSteps(t, r, []tStep{
		{tc("TCREATE", "teams", "name:str:unique"), tOK},
		{tc("TINSERT", "teams", "name", "red"), tInt(1)},
		{tc("TINSERT", "teams", "name", "blue"), tInt(2)},
		{tc("TCREATE", "people", "name:str", "age:int", "score:float", "active:bool", "team:ref(teams)"), tOK},
		{tc("TINSERT", "people", "name", "ann", "age", "30", "score", "1.5", "active", "1", "team", "1"), tInt(1)},
		{tc("TINSERT", "people", "name", "bob", "age", "25", "active", "false", "team", "2"), tInt(2)},
		{tc("TINSERT", "people", "name", "cy", "age", "30", "score", "-2", "team", "1"), tInt(3)},
		{tc("TINSERT", "people", "name", "dee", "score", "10", "active", "true"), tInt(4)},
		{tc("TINSERT", "people", "name", "Eve", "age", "41", "score", "1.5", "active", "0", "team", "2"), tInt(5)},
	})
}

func TestTablesQuery(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	queryFixture(t, r)
	ann := tRow(1, "active", "true", "age", "30", "name", "ann", "score", "1.5", "team", "1")
	bob := tRow(2, "active", "false", "age", "25", "name", "bob", "team", "2")
	cy := tRow(3, "age", "30", "name", "cy", "score", "-2", "team", "1")
	dee := tRow(4, "active", "true", "name", "dee", "score", "10")
	eve := tRow(5, "active", "false", "age", "41", "name", "Eve", "score", "1.5", "team", "2")
	runTSteps(t, r, []tStep{
		{tc("TQUERY", "people"), tArr(ann, bob, cy, dee, eve)},
		{tc("TQUERY", "people", "WHERE", "age", "=", "30"), tArr(ann, cy)},
		{tc("TQUERY", "people", "WHERE", "age", "!=", "30"), tArr(bob, dee, eve)}, // dee lacks age: matches !=
		{tc("TQUERY", "people", "WHERE", "age", ">", "25"), tArr(ann, cy, eve)},
		{tc("TQUERY", "people", "WHERE", "age", ">=", "25"), tArr(ann, bob, cy, eve)},
		{tc("TQUERY", "people", "WHERE", "age", "<", "30"), tArr(bob)},
		{tc("TQUERY", "people", "WHERE", "age", "<=", "30"), tArr(ann, bob, cy)},
		{tc("TQUERY", "people", "WHERE", "age", ">", "25", "AND", "score", ">", "0"), tArr(ann, eve)},
		{tc("TQUERY", "people", "where", "age", ">", "25", "and", "score", ">", "0", "and", "name", "<", "a"), tArr(eve)}, // byte-wise: 'E' < 'a'
		{tc("TQUERY", "people", "WHERE", "active", "=", "true"), tArr(ann, dee)},
		{tc("TQUERY", "people", "WHERE", "active", "=", "0"), tArr(bob, eve)},
		{tc("TQUERY", "people", "WHERE", "active", ">", "false"), tArr(ann, dee)},
		{tc("TQUERY", "people", "WHERE", "team", "=", "1"), tArr(ann, cy)},
		{tc("TQUERY", "people", "WHERE", "team", ">", "1"), tArr(bob, eve)},
		{tc("TQUERY", "people", "WHERE", "team", "=", "9"), tArr()},
		{tc("TQUERY", "people", "WHERE", "score", ">=", "1.50"), tArr(ann, dee, eve)},
		// ORDER BY: missing values first in ASC, ties by id
		{tc("TQUERY", "people", "ORDER", "BY", "age"), tArr(dee, bob, ann, cy, eve)},
		{tc("TQUERY", "people", "order", "by", "age", "asc"), tArr(dee, bob, ann, cy, eve)},
		{tc("TQUERY", "people", "ORDER", "BY", "age", "DESC"), tArr(eve, ann, cy, bob, dee)},
		{tc("TQUERY", "people", "ORDER", "BY", "score", "DESC"), tArr(dee, ann, eve, cy, bob)},
		{tc("TQUERY", "people", "ORDER", "BY", "name"), tArr(eve, ann, bob, cy, dee)},
		{tc("TQUERY", "people", "ORDER", "BY", "active", "DESC"), tArr(ann, dee, bob, eve, cy)},
		{tc("TQUERY", "people", "ORDER", "BY", "team", "DESC"), tArr(bob, eve, ann, cy, dee)},
		{tc("TQUERY", "people", "WHERE", "team", "=", "2", "ORDER", "BY", "age", "DESC"), tArr(eve, bob)},
		{tc("TQUERY", "people", "WHERE", "team", ">=", "1", "ORDER", "BY", "team", "DESC", "LIMIT", "3"), tArr(bob, eve, ann)},
		{tc("TQUERY", "people", "LIMIT", "2"), tArr(ann, bob)},
		{tc("TQUERY", "people", "LIMIT", "0"), tArr()},
		{tc("TQUERY", "people", "LIMIT", "100"), tArr(ann, bob, cy, dee, eve)},
		// clauses in any order
		{tc("TQUERY", "people", "LIMIT", "1", "ORDER", "BY", "age", "DESC", "WHERE", "team", "=", "1"), tArr(ann)},
		// JOIN
		{tc("TQUERY", "people", "WHERE", "age", "=", "25", "JOIN", "team"), tArr(tRow(2, "active", "false", "age", "25", "name", "bob", "team", "2", "teams.name", "blue"))},
		{tc("TQUERY", "people", "WHERE", "name", "=", "dee", "join", "team"), tArr(dee)},
		{tc("TQUERY", "people", "WHERE", "name", "=", "cy", "JOIN", "team", "JOIN", "team"), tArr(tRow(3, "age", "30", "name", "cy", "score", "-2", "team", "1", "teams.name", "red", "teams.name", "red"))},
		// errors
		{tc("TQUERY"), arity("tquery")},
		{tc("TQUERY", "nosuch"), tErr("ERR table 'nosuch' does not exist")},
		{tc("TQUERY", "people", "WHERE"), tErr("ERR incomplete WHERE clause")},
		{tc("TQUERY", "people", "WHERE", "age", "="), tErr("ERR incomplete WHERE clause")},
		{tc("TQUERY", "people", "WHERE", "age", "=", "1", "AND"), tErr("ERR incomplete WHERE clause")},
		{tc("TQUERY", "people", "WHERE", "age", "=", "1", "AND", "age", ">"), tErr("ERR incomplete WHERE clause")},
		{tc("TQUERY", "people", "WHERE", "age", "~", "1"), tErr("ERR unknown operator '~'")},
		{tc("TQUERY", "people", "WHERE", "age", "==", "1"), tErr("ERR unknown operator '=='")},
		{tc("TQUERY", "people", "WHERE", "nosuch", "=", "1"), tErr("ERR unknown field 'nosuch' in WHERE clause")},
		{tc("TQUERY", "people", "WHERE", "age", "=", "old"), tErr("ERR field 'age' expects int, got 'old'")},
		{tc("TQUERY", "people", "WHERE", "team", "=", "x"), tErr("ERR field 'team' expects int, got 'x'")},
		{tc("TQUERY", "people", "WHERE", "score", "<", "NaN"), tErr("ERR field 'score' expects float, got 'NaN'")},
		{tc("TQUERY", "people", "ORDER"), tErr("ERR expected BY after ORDER")},
		{tc("TQUERY", "people", "ORDER", "age"), tErr("ERR expected BY after ORDER")},
		{tc("TQUERY", "people", "ORDER", "BY"), tErr("ERR ORDER BY requires a field name")},
		{tc("TQUERY", "people", "ORDER", "BY", "nosuch"), tErr("ERR unknown field 'nosuch' in ORDER BY")},
		{tc("TQUERY", "people", "LIMIT"), tErr("ERR LIMIT requires a number")},
		{tc("TQUERY", "people", "LIMIT", "-1"), tErr("ERR LIMIT value must be a positive integer")},
		{tc("TQUERY", "people", "LIMIT", "abc"), tErr("ERR LIMIT value must be a positive integer")},
		{tc("TQUERY", "people", "LIMIT", "1.5"), tErr("ERR LIMIT value must be a positive integer")},
		{tc("TQUERY", "people", "JOIN"), tErr("ERR JOIN requires a field name")},
		{tc("TQUERY", "people", "JOIN", "nosuch"), tErr("ERR unknown field 'nosuch' for JOIN")},
		{tc("TQUERY", "people", "JOIN", "name"), tErr("ERR field 'name' is not a ref() field")},
		{tc("TQUERY", "people", "FOO"), tErr("ERR unexpected keyword 'FOO'")},
		{tc("TQUERY", "people", "WHERE", "age", "=", "1", "OR", "age", "=", "2"), tErr("ERR unexpected keyword 'OR'")},
		{tc("TQUERY", "people", "ORDER", "BY", "age", "SIDEWAYS"), tErr("ERR unexpected keyword 'SIDEWAYS'")},
	})
}

func TestTablesExplain(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	for _, c := range chatSchema {
		require.Equal(t, tOK, r.do(c...))
	}
	c := ts.client(t)
	ctx := context.Background()
	require.NoError(t, c.Do(ctx, "TINSERT", "users", "username", "u").Err())
	require.NoError(t, c.Do(ctx, "TINSERT", "channels", "name", "a").Err())
	require.NoError(t, c.Do(ctx, "TINSERT", "channels", "name", "b").Err())
	p := c.Pipeline()
	for i := 0; i < 3000; i++ {
		// channel 1 gets 2/3 of the messages; some share a timestamp
		ch := "1"
		if i%3 == 2 {
			ch = "2"
		}
		p.Do(ctx, "TINSERT", "messages", "channel_id", ch, "user_id", "1", "content", "m"+strconv.Itoa(i), "timestamp", strconv.Itoa(1000+i/2))
	}
	_, err := p.Exec(ctx)
	require.NoError(t, err)
	explain := func(args ...string) []string {
		v, err := c.Do(ctx, append([]interface{}{"TEXPLAIN"}, toIfaces(args)...)...).StringSlice()
		require.NoError(t, err)
		return v
	}
	// messages i and i+1 (i even) share a timestamp; ties come in id order
	stamp := func(id int64) int64 { return 1000 + (id-1)/2 }
	var want []int64
	for i := 2999; len(want) < 60; i-- {
		if i%3 != 2 {
			want = append(want, int64(i+1))
		}
	}
	sort.SliceStable(want, func(a, b int) bool {
		if stamp(want[a]) != stamp(want[b]) {
			return stamp(want[a]) > stamp(want[b])
		}
		return want[a] < want[b]
	})
	// the chat history query reads LIMIT entries (one more when the 50th
	// row's timestamp continues, to finish its tie group), not the
	// channel's 2000 rows
	examined := 50
	if stamp(want[49]) == stamp(want[50]) {
		examined = 51
	}
	got := explain("messages", "WHERE", "channel_id", "=", "1", "ORDER", "BY", "timestamp", "DESC", "LIMIT", "50")
	require.Equal(t, []string{
		"table: messages (3000 rows)",
		"access: composite index (channel_id, timestamp) (channel_id = 1) DESC",
		"filter: channel_id = 1",
		"order: timestamp DESC (index order)",
		"limit: 50",
		"rows examined: " + strconv.Itoa(examined),
		"rows returned: 50",
	}, got)
	// and returns exactly what a sort of the whole channel would
	rows := c.Do(ctx, "TQUERY", "messages", "WHERE", "channel_id", "=", "1", "ORDER", "BY", "timestamp", "DESC", "LIMIT", "50").Val().([]interface{})
	require.Len(t, rows, 50)
	var ids []int64
	for _, row := range rows {
		ids = append(ids, row.([]interface{})[0].(int64))
	}
	require.Equal(t, want[:50], ids)

	require.Equal(t, []string{
		"table: users (1 rows)",
		"access: unique index username (username = u)",
		"filter: username = u",
		"order: id (scan order)",
		"limit: none",
		"rows examined: 1",
		"rows returned: 1",
	}, explain("users", "WHERE", "username", "=", "u"))
	got = explain("messages", "WHERE", "content", "=", "m7")
	require.Equal(t, "access: full scan in id order", got[1])
	require.Equal(t, "rows examined: 3000", got[5])
	// a ref field a composite index leads with: that index finds the rows
	got = explain("messages", "WHERE", "user_id", "=", "1", "LIMIT", "10", "JOIN", "user_id")
	require.Equal(t, []string{
		"table: messages (3000 rows)",
		"access: composite index (user_id, timestamp) (user_id = 1)",
		"filter: user_id = 1",
		"order: id (sort)",
		"limit: 10",
		"join: user_id -> users",
		"rows examined: 3000",
		"rows returned: 10",
	}, got)
	got = explain("messages", "WHERE", "channel_id", "=", "2", "AND", "timestamp", ">=", "2400", "ORDER", "BY", "timestamp", "LIMIT", "5")
	require.Equal(t, "access: composite index (channel_id, timestamp) (channel_id = 2, timestamp >= 2400) ASC", got[1])
	require.Equal(t, "rows examined: 5", got[5])
	got = explain("messages", "WHERE", "channel_id", ">", "1")
	require.Equal(t, "access: full scan in id order", got[1])
	// single-field indexes: unique fields, and ref fields without a composite
	require.NoError(t, c.Do(ctx, "TCREATE", "tags", "owner:ref(users)", "label:str:unique").Err())
	for i := 0; i < 20; i++ {
		require.NoError(t, c.Do(ctx, "TINSERT", "tags", "owner", "1", "label", fmt.Sprintf("l%02d", i)).Err())
	}
	got = explain("tags", "WHERE", "owner", "=", "1", "LIMIT", "5")
	require.Equal(t, "access: index owner (owner = 1)", got[1])
	require.Equal(t, "order: id (scan order)", got[3])
	require.Equal(t, "rows examined: 5", got[5])
	got = explain("tags", "WHERE", "label", ">", "l05", "AND", "label", "<=", "l10", "ORDER", "BY", "label", "DESC", "LIMIT", "3")
	require.Equal(t, []string{
		"table: tags (20 rows)",
		"access: index label range (label > l05 AND label <= l10) DESC",
		"filter: label > l05 AND label <= l10",
		"order: label DESC (index order)",
		"limit: 3",
		"rows examined: 3",
		"rows returned: 3",
	}, got)
	got = explain("tags", "ORDER", "BY", "label", "LIMIT", "3")
	require.Equal(t, "access: index label in order ASC", got[1])
	require.Equal(t, "rows examined: 3", got[5])
	got = explain("tags", "WHERE", "owner", ">=", "1", "ORDER", "BY", "label")
	require.Equal(t, "access: index owner range (owner >= 1) ASC", got[1])
	require.Equal(t, "order: label ASC (sort)", got[3])
	got = explain("messages", "ORDER", "BY", "timestamp", "LIMIT", "3")
	require.Equal(t, "order: timestamp ASC (sort)", got[3])
	_, err = c.Do(ctx, "TEXPLAIN", "messages", "LIMIT").Result()
	require.EqualError(t, err, "ERR LIMIT requires a number")
}

func toIfaces(args []string) []interface{} {
	out := make([]interface{}, len(args))
	for i, a := range args {
		out[i] = a
	}
	return out
}

// TestTablesChatApp runs the reference chat application's commands,
// verbatim and in its order, through go-redis as the app does.
func TestTablesChatApp(t *testing.T) {
	ts := startServer(t, t.TempDir())
	c := ts.client(t)
	ctx := context.Background()
	createSchema := func() {
		for _, s := range chatSchema {
			err := c.Do(ctx, toIfaces(s)...).Err()
			// the app creates its schema at every start and ignores "already exists"
			if err != nil {
				require.Contains(t, err.Error(), "already exists")
			}
		}
	}
	createSchema()
	for i := 1; i <= 3; i++ {
		id, err := c.Do(ctx, "TINSERT", "channels", "name", "chan"+strconv.Itoa(i), "topic", "t").Int64()
		require.NoError(t, err)
		require.Equal(t, int64(i), id)
	}
	for i := 1; i <= 8; i++ {
		id, err := c.Do(ctx, "TINSERT", "users", "username", "user"+strconv.Itoa(i), "color", "#00f", "last_seen", strconv.Itoa(1732550000000+i)).Int64()
		require.NoError(t, err)
		require.Equal(t, int64(i), id)
	}
	id, err := c.Do(ctx, "TINSERT", "messages", "channel_id", "3", "user_id", "7", "content", "hello", "timestamp", "1732550000000").Int64()
	require.NoError(t, err)
	require.Equal(t, int64(1), id)
	for i := 2; i <= 120; i++ {
		id, err := c.Do(ctx, "TINSERT", "messages", "channel_id", strconv.Itoa(1+i%3), "user_id", strconv.Itoa(1+i%8),
			"content", "msg "+strconv.Itoa(i), "timestamp", strconv.Itoa(1732550000000+i)).Int64()
		require.NoError(t, err)
		require.Equal(t, int64(i), id)
	}
	// a restart in the middle of the app's life: the schema call sees "already exists"
	ts.stop()
	ts = startServer(t, ts.dir)
	c = ts.client(t)
	createSchema()

	res, err := c.Do(ctx, "TQUERY", "messages", "WHERE", "channel_id", "=", "3", "ORDER", "BY", "timestamp", "DESC", "LIMIT", "50").Slice()
	require.NoError(t, err)
	require.Len(t, res, 41) // i%3 == 2 for i in 2..120 (40 rows) plus message 1
	prev := int64(1 << 62)
	users := map[string]bool{}
	for _, row := range res {
		r := row.([]interface{})
		require.Len(t, r, 9)
		f := map[string]string{}
		for j := 1; j < len(r); j += 2 {
			f[r[j].(string)] = r[j+1].(string)
		}
		require.Equal(t, []interface{}{"channel_id", "content", "timestamp", "user_id"}, []interface{}{r[1], r[3], r[5], r[7]})
		require.Equal(t, "3", f["channel_id"])
		ts, _ := strconv.ParseInt(f["timestamp"], 10, 64)
		require.Less(t, ts, prev)
		prev = ts
		users[f["user_id"]] = true
	}
	last := res[len(res)-1].([]interface{})
	require.Equal(t, []interface{}{int64(1), "channel_id", "3", "content", "hello", "timestamp", "1732550000000", "user_id", "7"}, last)
	// the app then fetches each author in one pipeline (here with a missing id among them)
	p := c.Pipeline()
	var ids []string
	for u := range users {
		ids = append(ids, u)
	}
	sort.Strings(ids)
	ids = append(ids, "99")
	cmds := make([]*redis.Cmd, len(ids))
	for i, u := range ids {
		cmds[i] = p.Do(ctx, "TGET", "users", u)
	}
	_, _ = p.Exec(ctx)
	for i, u := range ids {
		v, err := cmds[i].Slice()
		if u == "99" {
			require.EqualError(t, err, "ERR row 99 not found in table 'users'")
			continue
		}
		require.NoError(t, err)
		n, _ := strconv.Atoi(u)
		require.Equal(t, []interface{}{"color", "#00f", "last_seen", strconv.Itoa(1732550000000 + n), "username", "user" + u}, v)
	}
}

func TestTablesMultiExec(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	runTSteps(t, r, []tStep{
		{tc("TCREATE", "a", "x:int:unique"), tOK},
		{tc("MULTI"), tOK},
		{tc("TINSERT", "a", "x", "1"), "+QUEUED\r\n"},
		{tc("TINSERT", "a", "x", "1"), "+QUEUED\r\n"},
		{tc("SET", "k", "v"), "+QUEUED\r\n"},
		{tc("TQUERY", "a"), "+QUEUED\r\n"},
		{tc("TCOUNT", "a"), "+QUEUED\r\n"},
		{tc("EXEC"), tArr(tInt(1), tErr("ERR unique constraint violation on field 'x'"), tOK, tArr(tRow(1, "x", "1")), tInt(1))},
		// an arity error at queue time aborts the transaction
		{tc("MULTI"), tOK},
		{tc("TINSERT", "a", "x"), arity("tinsert")},
		{tc("EXEC"), tErr("EXECABORT Transaction discarded because of previous errors.")},
		{tc("TCOUNT", "a"), tInt(1)},
	})
}

// TestTablesNotKeys: tables are invisible to the keyspace commands, and
// FLUSHALL / FLUSHDB remove them.
func TestTablesNotKeys(t *testing.T) {
	ts := startServer(t, t.TempDir())
	r := ts.raw(t)
	runTSteps(t, r, []tStep{
		{tc("TCREATE", "a", "x:int"), tOK},
		{tc("TINSERT", "a", "x", "1"), tInt(1)},
		{tc("DBSIZE"), tInt(0)},
		{tc("KEYS", "*"), tArr()},
		{tc("EXISTS", "a"), tInt(0)},
		{tc("TYPE", "a"), "+none\r\n"},
		{tc("DEL", "a"), tInt(0)},
		{tc("SCAN", "0"), tArr(tBulk("0"), tArr())},
		{tc("TCOUNT", "a"), tInt(1)},
		{tc("FLUSHDB"), tOK},
		{tc("TLIST"), tArr()},
		{tc("TCREATE", "a", "x:int"), tOK},
		{tc("TINSERT", "a", "x", "1"), tInt(1)},
		{tc("FLUSHALL"), tOK},
		{tc("TLIST"), tArr()},
		{tc("TCREATE", "b", "y:str"), tOK},
		{tc("TINSERT", "b", "y", "z"), tInt(1)},
	})
	ts.stop()
	ts = startServer(t, ts.dir)
	runTSteps(t, ts.raw(t), []tStep{
		{tc("TLIST"), tBulks("b")},
		{tc("TGET", "b", "1"), tBulks("y", "z")},
	})
}

// TestTablesBadInput: hostile input is refused or stored, never a crash.
func TestTablesBadInput(t *testing.T) {
	ts := startServer(t, t.TempDir())
	r := ts.raw(t)
	// thousands of fields
	specs := []string{"TCREATE", "wide"}
	ins := []string{"TINSERT", "wide"}
	for i := 0; i < 3000; i++ {
		typ := []string{"int", "str", "float", "bool", "timestamp", "ref(wide)", "int:unique"}[i%7]
		specs = append(specs, fmt.Sprintf("f%d:%s", i, typ))
		val := map[int]string{0: "1", 1: "s", 2: "1.5", 3: "true", 4: "5", 5: "1", 6: strconv.Itoa(i)}[i%7]
		ins = append(ins, fmt.Sprintf("f%d", i), val)
	}
	require.Equal(t, tOK, r.do(specs...))
	require.Equal(t, tInt(1), r.do(ins...)) // self references to id 1: the row itself
	got := r.do("TGET", "wide", "1")
	require.True(t, strings.HasPrefix(got, "*6000\r\n"), got[:20])
	require.Equal(t, tErr("ERR unique constraint violation on field 'f6'"), r.do(ins...))
	require.Equal(t, tOK, r.do("TALTER", "wide", "DROP", "f5"))
	require.Equal(t, tOK, r.do("TUPDATE", "wide", "1", "f0", "2", "f2997", "x"))
	// long values
	long := strings.Repeat("x", 1<<20)
	require.Equal(t, tOK, r.do("TCREATE", "big", "v:str:unique", "n:int"))
	require.Equal(t, tInt(1), r.do("TINSERT", "big", "v", long))
	require.Equal(t, tArr(tBulk("v"), tBulk(long)), r.do("TGET", "big", "1"))
	require.Equal(t, tErr("ERR unique constraint violation on field 'v'"), r.do("TINSERT", "big", "v", long))
	require.Equal(t, tErr("ERR field 'n' expects int, got '"+strings.Repeat("x", 128)+"...'"), r.do("TINSERT", "big", "n", long))
	require.Equal(t, tErr("ERR unknown field '"+strings.Repeat("x", 128)+"...'"), r.do("TINSERT", "big", long, "1"))
	// binary values, binary and non-UTF-8 names
	bin := "\x00\xff\r\n\x00"
	require.Equal(t, tInt(2), r.do("TINSERT", "big", "v", bin))
	require.Equal(t, tArr(tRow(2, "v", bin)), r.do("TQUERY", "big", "WHERE", "v", "=", bin))
	require.Equal(t, tErr("ERR invalid field name 'a\xff'"), r.do("TCREATE", "t", "a\xff:int"))
	require.Equal(t, tErr("ERR table 'caf\xc3\xa9' does not exist"), r.do("TGET", "caf\xc3\xa9", "1"))
	require.Equal(t, tErr("ERR unknown field 'a  b'"), r.do("TINSERT", "big", "a\r\nb", "1"))
	// numbers at the edges
	require.Equal(t, tErr("ERR invalid row id"), r.do("TGET", "big", "99999999999999999999"))
	require.Equal(t, tErr("ERR row 9223372036854775807 not found in table 'big'"), r.do("TGET", "big", "9223372036854775807"))
	require.Equal(t, tErr("ERR row -9223372036854775808 not found in table 'big'"), r.do("TDEL", "big", "-9223372036854775808"))
	require.Equal(t, tErr("ERR LIMIT value must be a positive integer"), r.do("TQUERY", "big", "LIMIT", "99999999999999999999"))
	require.Equal(t, tArr(tRow(1, "v", long), tRow(2, "v", bin)), r.do("TQUERY", "big", "LIMIT", "9223372036854775807"))
	require.Equal(t, tOK, r.do("TCREATE", "nums", "f:float:unique", "i:int", "o:ref(nums)"))
	for _, v := range []string{"1e308", "-1e308", "5e-324", "inf", "-inf", "1.7976931348623157e308"} {
		require.True(t, strings.HasPrefix(r.do("TINSERT", "nums", "f", v), ":"), v)
	}
	require.Equal(t, tErr("ERR field 'f' expects float, got '1e309'"), r.do("TINSERT", "nums", "f", "1e309"))
	require.Equal(t, tErr("ERR foreign key violation: o=-9223372036854775808 not found in table 'nums'"), r.do("TINSERT", "nums", "o", "-9223372036854775808"))
	require.Equal(t, tArr(tRow(4, "f", "inf")), r.do("TQUERY", "nums", "WHERE", "f", ">", "1.7976931348623157e308"))
	require.Equal(t, tArr(tRow(5, "f", "-inf")), r.do("TQUERY", "nums", "WHERE", "f", "<", "-1e308"))
	// deep JOINs on missing rows
	require.Equal(t, tOK, r.do("TUPDATE", "nums", "1", "o", "1"))
	require.Equal(t, tOK, r.do("TDEL", "nums", "1"))
	require.Equal(t, tArr(), r.do("TQUERY", "nums", "WHERE", "o", "=", "1", "JOIN", "o", "JOIN", "o"))
	many := []string{"TQUERY", "nums"}
	for i := 0; i < 1000; i++ {
		many = append(many, "JOIN", "o")
	}
	require.True(t, strings.HasPrefix(r.do(many...), "*5\r\n"))
	// TDROP then TCREATE of the same name, across a restart
	require.Equal(t, tOK, r.do("TDROP", "big"))
	require.Equal(t, tOK, r.do("TCREATE", "big", "v:int:unique"))
	require.Equal(t, tInt(1), r.do("TINSERT", "big", "v", "3"))
	ts.stop()
	ts = startServer(t, ts.dir)
	r = ts.raw(t)
	require.Equal(t, tArr(tRow(1, "v", "3")), r.do("TQUERY", "big"))
	require.Equal(t, tArr(tRow(1, "v", "3")), r.do("TQUERY", "big", "WHERE", "v", "=", "3"))
	require.Equal(t, tErr("ERR unique constraint violation on field 'v'"), r.do("TINSERT", "big", "v", "3"))
	got = r.do("TGET", "wide", "1")
	require.True(t, strings.HasPrefix(got, "*5998\r\n"), got[:20]) // f5 dropped
	require.Contains(t, got, tBulk("f2997")+tBulk("x"))
	require.Contains(t, got, tBulk("f0")+tBulk("2"))
	require.Equal(t, tInt(2), r.do("TINSERT", "wide", "f1", "again"))
	require.Equal(t, tInt(7), r.do("TINSERT", "nums", "i", "1"))
}

// TestTablesConcurrentIntegrity: concurrent clients can never break
// uniqueness or leave a dangling reference.
func TestTablesConcurrentIntegrity(t *testing.T) {
	ts := startServer(t, "")
	c := ts.client(t)
	ctx := context.Background()
	require.NoError(t, c.Do(ctx, "TCREATE", "p", "name:str:unique").Err())
	require.NoError(t, c.Do(ctx, "TCREATE", "ch", "parent:ref(p)", "n:int").Err())
	const workers = 8
	var wg sync.WaitGroup
	var wins atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			cl := redis.NewClient(&redis.Options{Addr: ts.addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
			defer cl.Close()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; i < 300; i++ {
				name := "n" + strconv.Itoa(rng.IntN(40))
				switch rng.IntN(4) {
				case 0, 1:
					if cl.Do(ctx, "TINSERT", "p", "name", name).Err() == nil {
						wins.Add(1)
					}
				case 2:
					_ = cl.Do(ctx, "TINSERT", "ch", "parent", strconv.Itoa(1+rng.IntN(60)), "n", "1").Err()
				case 3:
					_ = cl.Do(ctx, "TDEL", "p", strconv.Itoa(1+rng.IntN(60))).Err()
				}
			}
		}(w)
	}
	wg.Wait()
	ps := c.Do(ctx, "TQUERY", "p").Val().([]interface{})
	names := map[string]bool{}
	live := map[int64]bool{}
	for _, row := range ps {
		r := row.([]interface{})
		require.False(t, names[r[2].(string)], "duplicate %v", r[2])
		names[r[2].(string)] = true
		live[r[0].(int64)] = true
	}
	for _, row := range c.Do(ctx, "TQUERY", "ch").Val().([]interface{}) {
		r := row.([]interface{})
		parent, _ := strconv.ParseInt(r[4].(string), 10, 64)
		require.True(t, live[parent], "dangling ref %d", parent)
	}
	require.True(t, wins.Load() >= int64(len(ps)))
}

func TestTablesPersistence(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	for _, c := range chatSchema {
		require.Equal(t, tOK, r.do(c...))
	}
	runTSteps(t, r, []tStep{
		{tc("TINSERT", "users", "username", "a"), tInt(1)},
		{tc("TINSERT", "users", "username", "b"), tInt(2)},
		{tc("TINSERT", "users", "username", "c"), tInt(3)},
		{tc("TDEL", "users", "3"), tOK},
		{tc("TINSERT", "channels", "name", "g"), tInt(1)},
		{tc("TINSERT", "messages", "channel_id", "1", "user_id", "2", "timestamp", "10", "content", "x"), tInt(1)},
		{tc("TUPDATE", "users", "2", "color", "red"), tOK},
		{tc("TALTER", "users", "ADD", "age:int"), tOK},
	})
	ts.stop()
	ts = startServer(t, dir)
	r = ts.raw(t)
	runTSteps(t, r, []tStep{
		{tc("TLIST"), tBulks("channels", "messages", "users")},
		{tc("TSCHEMA", "users"), tBulks("username:str:unique", "color:str", "last_seen:int", "age:int")},
		{tc("TGET", "users", "2"), tBulks("color", "red", "username", "b")},
		{tc("TGET", "users", "3"), tErr("ERR row 3 not found in table 'users'")},
		{tc("TINSERT", "users", "username", "a"), tErr("ERR unique constraint violation on field 'username'")},
		{tc("TINSERT", "users", "username", "c"), tInt(4)}, // the sequence survived the restart
		{tc("TDEL", "users", "2"), tErr("ERR cannot delete row 2: referenced by table 'messages'")},
		{tc("TQUERY", "messages", "WHERE", "channel_id", "=", "1", "ORDER", "BY", "timestamp", "DESC", "LIMIT", "5"), tArr(tRow(1, "channel_id", "1", "content", "x", "timestamp", "10", "user_id", "2"))},
		{tc("TCOUNT", "users"), tInt(3)},
	})
}

// TestTablesMemoryAndLoading: table rows and indexes count in used_memory;
// after a restart nothing of them is in memory, rows and index entries are
// read on access only, a damaged row is the error of the command that
// reads it; a load that fails (a damaged schema) makes every table command
// answer with its error until a flush.
func TestTablesMemoryAndLoading(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	for _, c := range chatSchema {
		require.Equal(t, tOK, r.do(c...))
	}
	require.Equal(t, tInt(1), r.do("TINSERT", "channels", "name", "general"))
	require.Equal(t, tInt(1), r.do("TINSERT", "users", "username", "ann"))
	for i := 1; i <= 2000; i++ {
		require.Equal(t, tInt(int64(i)), r.do("TINSERT", "messages", "channel_id", "1", "user_id", "1",
			"content", strings.Repeat("x", 100), "timestamp", strconv.Itoa(i)))
	}
	mem := func() map[string]string {
		_, f := infoFields(t, r.do("INFO", "memory"))
		return f
	}
	num := func(f map[string]string, k string) int64 {
		n, err := strconv.ParseInt(f[k], 10, 64)
		require.NoError(t, err, k)
		return n
	}
	f := mem()
	// 2000 rows of ~110 bytes, 2 composite entries each
	require.Greater(t, num(f, "lux_tables_memory"), int64(2000*(110+2*compEntBytesForTest)))
	require.GreaterOrEqual(t, num(f, "used_memory"), num(f, "lux_tables_memory"))
	require.Greater(t, num(f, "lux_tables_rows_memory"), int64(2000*110))
	ts.stop()

	ts = startServer(t, dir)
	r = ts.raw(t)
	require.Equal(t, "+PONG\r\n", r.do("PING"))
	require.Equal(t, tInt(2000), r.do("TCOUNT", "messages"))
	f = mem()
	require.Zero(t, num(f, "lux_tables_rows_memory"), "no row is loaded at start")
	require.Zero(t, num(f, "lux_tables_memory"), "nor any index entry")
	require.Equal(t, tBulks("channel_id", "1", "content", strings.Repeat("x", 100), "timestamp", "1500", "user_id", "1"),
		r.do("TGET", "messages", "1500"))
	f = mem()
	require.Positive(t, num(f, "lux_tables_rows_memory"))
	require.Equal(t, "1", f["lux_tables_rows_read"])

	// damage: a stored row that does not decode
	ts.store.TableWrite(func(w storage.TableWriter) {
		w.Set([]byte("T\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x07"), []byte("\x01\x01\xff"))
	})
	ts.stop()
	ts = startServer(t, dir)
	r = ts.raw(t)
	require.Equal(t, "+PONG\r\n", r.do("PING"))
	// loading reads no row: the damage is the error of what reads the row
	require.Equal(t, tBulks("username", "ann"), r.do("TGET", "users", "1"))
	got := r.do("TGET", "messages", "7")
	require.True(t, strings.HasPrefix(got, "-ERR reading row 7 of table 'messages' from the data directory failed"), got)
	require.Equal(t, got, r.do("TQUERY", "messages", "WHERE", "content", "=", "x"))
	require.Equal(t, tInt(2000), r.do("TCOUNT", "messages"))
	// damage that fails loading: a schema that does not decode
	ts.store.TableWrite(func(w storage.TableWriter) {
		w.Set([]byte("T\x00\x00\x00\x03\x01"), []byte("\x09"))
	})
	ts.stop()
	ts = startServer(t, dir)
	r = ts.raw(t)
	got = r.do("TGET", "users", "1")
	require.True(t, strings.HasPrefix(got, "-ERR tables failed to load: tables: table id 3"), got)
	require.Equal(t, got, r.do("TLIST"))
	require.Equal(t, tOK, r.do("FLUSHALL"))
	require.Equal(t, tArr(), r.do("TLIST"))
	require.Equal(t, tOK, r.do(chatSchema[0]...))
}

// compEntBytesForTest is a lower bound of what a composite index entry is
// counted for (tables.compEntBytes).
const compEntBytesForTest = 24

// ---- randomized model test ----

// mField and mTable are the model's schema and rows: the simplest possible
// implementation of the contract, against which the server is checked.
type mField struct {
	name, typ, ref string
	unique         bool
}

type mTable struct {
	name   string
	fields []mField
	rows   map[int64]map[string]string // canonical values
	seq    int64
}

type tablesModel struct {
	tables map[string]*mTable
}

func (m *tablesModel) field(t *mTable, name string) *mField {
	for i := range t.fields {
		if t.fields[i].name == name {
			return &t.fields[i]
		}
	}
	return nil
}

func (f *mField) spec() string {
	t := f.typ
	if t == "ref" {
		t = "ref(" + f.ref + ")"
	}
	if f.unique {
		t += ":unique"
	}
	return f.name + ":" + t
}

// canon normalizes a value for its type; ok is false with the type error text.
func (f *mField) canon(v string) (string, string) {
	terr := func(want string) string { return "ERR field '" + f.name + "' expects " + want + ", got '" + v + "'" }
	switch f.typ {
	case "str":
		return v, ""
	case "int", "ref", "timestamp":
		want := "int"
		if f.typ == "timestamp" {
			want = "timestamp (epoch ms or *)"
		}
		if v == "" || strings.ContainsAny(v, " _.xe") {
			return "", terr(want)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", terr(want)
		}
		return strconv.FormatInt(n, 10), ""
	case "float":
		switch v {
		case "nan", "abc", "":
			return "", terr("float")
		case "inf", "-inf":
			return v, ""
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return "", terr("float")
		}
		if x == 0 {
			return "0", ""
		}
		return strconv.FormatFloat(x, 'f', -1, 64), ""
	case "bool":
		switch v {
		case "true", "1":
			return "true", ""
		case "false", "0":
			return "false", ""
		}
		return "", terr("bool (true/false/1/0)")
	}
	panic("type " + f.typ)
}

// cmp compares canonical values of f's type.
func (f *mField) cmp(a, b string) int {
	switch f.typ {
	case "str":
		return strings.Compare(a, b)
	case "bool":
		return strings.Compare(a, b) // "false" < "true"
	case "float":
		pf := func(s string) float64 {
			x, _ := strconv.ParseFloat(s, 64)
			return x
		}
		x, y := pf(a), pf(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

var modelDomains = map[string][]string{
	"str":       {"a", "b", "c", "dd", "", "B"},
	"int":       {"0", "1", "2", "3", "-1", "05", "+2", "-0", "x"},
	"float":     {"1.5", "1.50", "-0", "0", "2e0", "0.25", "-3.75", "inf", "-inf", "nan"},
	"bool":      {"true", "false", "1", "0", "yes"},
	"timestamp": {"1000", "2000", "3000", "05", "-7", "now"},
	"ref":       {"1", "2", "3", "4", "5", "6", "0", "02", "x"},
}

func (m *tablesModel) names() []string {
	var out []string
	for n := range m.tables {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (m *tablesModel) rowReply(t *mTable, id int64, joins []string) []interface{} {
	row := []interface{}{id}
	row = append(row, pairsSorted(t.rows[id])...)
	for _, j := range joins {
		f := m.field(t, j)
		v, ok := t.rows[id][j]
		if !ok {
			continue
		}
		target := m.tables[f.ref]
		if target == nil {
			continue
		}
		rid, _ := strconv.ParseInt(v, 10, 64)
		tr, ok := target.rows[rid]
		if !ok {
			continue
		}
		for _, p := range sortedKeys(tr) {
			row = append(row, target.name+"."+p, tr[p])
		}
	}
	return row
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func pairsSorted(m map[string]string) []interface{} {
	out := []interface{}{}
	for _, k := range sortedKeys(m) {
		out = append(out, k, m[k])
	}
	return out
}

// write applies TINSERT (id == 0) or TUPDATE and returns the expected reply.
func (m *tablesModel) write(tname string, id int64, pairs []string) interface{} {
	t := m.tables[tname]
	if t == nil {
		return errors.New("ERR table '" + tname + "' does not exist")
	}
	if id != 0 {
		if _, ok := t.rows[id]; !ok {
			return errors.New("ERR row " + strconv.FormatInt(id, 10) + " not found in table '" + tname + "'")
		}
	}
	type pv struct {
		f *mField
		v string
	}
	var vals []pv
	for i := 0; i < len(pairs); i += 2 {
		f := m.field(t, pairs[i])
		if f == nil {
			return errors.New("ERR unknown field '" + pairs[i] + "'")
		}
		c, e := f.canon(pairs[i+1])
		if e != "" {
			return errors.New(e)
		}
		dup := false
		for j := range vals {
			if vals[j].f == f {
				vals[j].v, dup = c, true
			}
		}
		if !dup {
			vals = append(vals, pv{f, c})
		}
	}
	self := id
	if id == 0 {
		self = t.seq + 1
	}
	for _, v := range vals {
		if v.f.typ != "ref" {
			continue
		}
		rid, _ := strconv.ParseInt(v.v, 10, 64)
		target := m.tables[v.f.ref]
		ok := target != nil && (target == t && rid == self)
		if !ok && target != nil {
			_, ok = target.rows[rid]
		}
		if !ok {
			return errors.New("ERR foreign key violation: " + v.f.name + "=" + v.v + " not found in table '" + v.f.ref + "'")
		}
	}
	for _, v := range vals {
		if !v.f.unique {
			continue
		}
		for rid, row := range t.rows {
			if x, ok := row[v.f.name]; ok && rid != id && v.f.cmp(x, v.v) == 0 {
				return errors.New("ERR unique constraint violation on field '" + v.f.name + "'")
			}
		}
	}
	insert := id == 0
	if insert {
		t.seq++
		id = t.seq
		t.rows[id] = map[string]string{}
	}
	for _, v := range vals {
		t.rows[id][v.f.name] = v.v
	}
	if insert {
		return id
	}
	return "OK"
}

func (m *tablesModel) del(tname string, id int64) interface{} {
	t := m.tables[tname]
	if t == nil {
		return errors.New("ERR table '" + tname + "' does not exist")
	}
	if _, ok := t.rows[id]; !ok {
		return errors.New("ERR row " + strconv.FormatInt(id, 10) + " not found in table '" + tname + "'")
	}
	for _, un := range m.names() {
		u := m.tables[un]
		for _, f := range u.fields {
			if f.typ != "ref" || f.ref != tname {
				continue
			}
			for rid, row := range u.rows {
				if u == t && rid == id {
					continue
				}
				if v, ok := row[f.name]; ok && v == strconv.FormatInt(id, 10) {
					return errors.New("ERR cannot delete row " + strconv.FormatInt(id, 10) + ": referenced by table '" + un + "'")
				}
			}
		}
	}
	delete(t.rows, id)
	return "OK"
}

type mPred struct {
	f, op, v string
}

func (m *tablesModel) query(tname string, preds []mPred, order string, desc bool, limit int64, joins []string) interface{} {
	t := m.tables[tname]
	if t == nil {
		return errors.New("ERR table '" + tname + "' does not exist")
	}
	type cp struct {
		f  *mField
		op string
		v  string
	}
	var cps []cp
	for _, p := range preds {
		switch p.op {
		case "=", "!=", ">", "<", ">=", "<=":
		default:
			return errors.New("ERR unknown operator '" + p.op + "'")
		}
		f := m.field(t, p.f)
		if f == nil {
			return errors.New("ERR unknown field '" + p.f + "' in WHERE clause")
		}
		c, e := f.canon(p.v)
		if e != "" {
			return errors.New(e)
		}
		cps = append(cps, cp{f, p.op, c})
	}
	var of *mField
	if order != "" {
		if of = m.field(t, order); of == nil {
			return errors.New("ERR unknown field '" + order + "' in ORDER BY")
		}
	}
	for _, j := range joins {
		f := m.field(t, j)
		if f == nil {
			return errors.New("ERR unknown field '" + j + "' for JOIN")
		}
		if f.typ != "ref" {
			return errors.New("ERR field '" + j + "' is not a ref() field")
		}
	}
	var ids []int64
	for id, row := range t.rows {
		ok := true
		for _, p := range cps {
			v, has := row[p.f.name]
			if !has {
				ok = ok && p.op == "!="
				continue
			}
			c := p.f.cmp(v, p.v)
			switch p.op {
			case "=":
				ok = ok && c == 0
			case "!=":
				ok = ok && c != 0
			case ">":
				ok = ok && c > 0
			case "<":
				ok = ok && c < 0
			case ">=":
				ok = ok && c >= 0
			case "<=":
				ok = ok && c <= 0
			}
		}
		if ok {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(a, b int) bool {
		if of != nil {
			va, ha := t.rows[ids[a]][of.name]
			vb, hb := t.rows[ids[b]][of.name]
			c := 0
			switch {
			case ha != hb:
				c = -1
				if ha {
					c = 1
				}
			case ha:
				c = of.cmp(va, vb)
			}
			if desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return ids[a] < ids[b]
	})
	if limit >= 0 && int64(len(ids)) > limit {
		ids = ids[:limit]
	}
	out := []interface{}{}
	for _, id := range ids {
		out = append(out, m.rowReply(t, id, joins))
	}
	return out
}

// TestTablesModel runs thousands of random table commands against the
// server and the model, comparing every reply, with restarts in between
// (each restart also compares the full state).
func TestTablesModel(t *testing.T) { testTablesModel(t, "") }

// TestTablesModelMaxmemory: the model again with a memory limit far below
// what the rows take, so that most rows answer from the store (the
// server makes room before each command, and rows leave memory as soon as
// their writes are committed).
func TestTablesModelMaxmemory(t *testing.T) { testTablesModel(t, "100kb") }

func testTablesModel(t *testing.T, maxmemory string) {
	seed := uint64(time.Now().UnixNano())
	if s := testSeed(); s != 0 {
		seed = s
	}
	t.Logf("seed %d (rerun with LUX_TABLES_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 99))
	dir := t.TempDir()
	ctx := context.Background()
	ts := startServer(t, dir)
	c := ts.client(t)
	limit := func() {
		if maxmemory != "" {
			require.NoError(t, c.ConfigSet(ctx, "maxmemory", maxmemory).Err())
		}
	}
	limit()
	var reads int64 // rows read back from the store
	m := &tablesModel{tables: map[string]*mTable{}}
	create := func(name string, specs ...string) {
		var fs []mField
		for _, s := range specs {
			p := strings.Split(s, ":")
			f := mField{name: p[0], typ: p[1], unique: len(p) == 3}
			if strings.HasPrefix(f.typ, "ref(") {
				f.ref, f.typ = f.typ[4:len(f.typ)-1], "ref"
			}
			fs = append(fs, f)
		}
		m.tables[name] = &mTable{name: name, fields: fs, rows: map[int64]map[string]string{}}
		args := append([]interface{}{"TCREATE", name}, toIfaces(specs)...)
		require.NoError(t, c.Do(ctx, args...).Err())
	}
	create("a", "name:str:unique", "n:int", "f:float:unique", "b:bool")
	create("b", "a:ref(a)", "n:int", "ts:timestamp", "tag:str", "u:int:unique", "f:float")
	create("c", "b:ref(b):unique", "self:ref(c)", "x:float", "t:timestamp")
	extraTypes := []string{"int", "str", "float", "bool"}

	var nOK, nErr, nRows, restarts int
	check := func(step int, desc string, want, got interface{}, err error) {
		if err != nil && !errors.Is(err, redis.Nil) {
			got = errors.New(err.Error())
		}
		if rows, ok := want.([]interface{}); ok {
			nRows += len(rows)
		}
		if we, ok := want.(error); ok {
			nErr++
			ge, ok := got.(error)
			require.True(t, ok, "step %d %s: want error %q, got %#v", step, desc, we, got)
			require.Equal(t, we.Error(), ge.Error(), "step %d %s", step, desc)
			return
		}
		nOK++
		require.Equal(t, want, got, "step %d %s", step, desc)
	}
	do := func(args ...string) (interface{}, error) { return c.Do(ctx, toIfaces(args)...).Result() }
	tableNames := []string{"a", "b", "c"}
	pickField := func(mt *mTable) *mField {
		if len(mt.fields) == 0 || rng.IntN(20) == 0 {
			return &mField{name: "nosuch", typ: "str"}
		}
		return &mt.fields[rng.IntN(len(mt.fields))]
	}
	pickValue := func(f *mField) string {
		d := modelDomains[f.typ]
		return d[rng.IntN(len(d))]
	}
	fullCheck := func(step int) {
		for _, tn := range tableNames {
			mt := m.tables[tn]
			got, err := do("TQUERY", tn)
			check(step, "full "+tn, m.query(tn, nil, "", false, -1, nil), got, err)
			n, err := do("TCOUNT", tn)
			check(step, "count "+tn, int64(len(mt.rows)), n, err)
			var specs []interface{}
			for _, f := range mt.fields {
				specs = append(specs, f.spec())
			}
			if specs == nil {
				specs = []interface{}{}
			}
			got, err = do("TSCHEMA", tn)
			check(step, "schema "+tn, specs, got, err)
		}
	}
	const steps = 4000
	for step := 0; step < steps; step++ {
		tn := tableNames[rng.IntN(3)]
		mt := m.tables[tn]
		switch op := rng.IntN(100); {
		case op < 35: // insert
			var pairs []string
			for n := 1 + rng.IntN(3); n > 0; n-- {
				f := pickField(mt)
				pairs = append(pairs, f.name, pickValue(f))
			}
			want := m.write(tn, 0, pairs)
			got, err := do(append([]string{"TINSERT", tn}, pairs...)...)
			check(step, fmt.Sprint("TINSERT ", tn, pairs), want, got, err)
		case op < 50: // update
			id := 1 + rng.Int64N(mt.seq+2)
			var pairs []string
			for n := 1 + rng.IntN(2); n > 0; n-- {
				f := pickField(mt)
				pairs = append(pairs, f.name, pickValue(f))
			}
			want := m.write(tn, id, pairs)
			got, err := do(append([]string{"TUPDATE", tn, strconv.FormatInt(id, 10)}, pairs...)...)
			check(step, fmt.Sprint("TUPDATE ", tn, id, pairs), want, got, err)
		case op < 60: // delete
			id := 1 + rng.Int64N(mt.seq+2)
			want := m.del(tn, id)
			got, err := do("TDEL", tn, strconv.FormatInt(id, 10))
			check(step, fmt.Sprint("TDEL ", tn, id), want, got, err)
		case op < 70: // get
			id := 1 + rng.Int64N(mt.seq+2)
			var want interface{}
			if row, ok := mt.rows[id]; ok {
				want = pairsSorted(row)
			} else {
				want = errors.New("ERR row " + strconv.FormatInt(id, 10) + " not found in table '" + tn + "'")
			}
			got, err := do("TGET", tn, strconv.FormatInt(id, 10))
			check(step, fmt.Sprint("TGET ", tn, id), want, got, err)
		case op < 97: // query
			args := []string{"TQUERY", tn}
			var preds []mPred
			if rng.IntN(4) > 0 {
				args = append(args, "WHERE")
				for n := 1 + rng.IntN(2); n > 0; n-- {
					f := pickField(mt)
					p := mPred{f: f.name, op: []string{"=", "=", "!=", ">", "<", ">=", "<=", "=", "~"}[rng.IntN(9)], v: pickValue(f)}
					if p.op == "~" && rng.IntN(3) > 0 {
						p.op = "="
					}
					if len(preds) > 0 {
						args = append(args, "AND")
					}
					args = append(args, p.f, p.op, p.v)
					preds = append(preds, p)
				}
			}
			order, desc := "", false
			if rng.IntN(2) == 0 {
				order = pickField(mt).name
				desc = rng.IntN(2) == 0
				args = append(args, "ORDER", "BY", order)
				if desc {
					args = append(args, "DESC")
				} else if rng.IntN(2) == 0 {
					args = append(args, "ASC")
				}
			}
			limit := int64(-1)
			if rng.IntN(2) == 0 {
				limit = rng.Int64N(6)
				args = append(args, "LIMIT", strconv.FormatInt(limit, 10))
			}
			var joins []string
			if rng.IntN(3) == 0 {
				j := pickField(mt).name
				joins = append(joins, j)
				args = append(args, "JOIN", j)
			}
			// the error the first bad clause gives, in argument order
			want := m.query(tn, preds, order, desc, limit, joins)
			got, err := do(args...)
			check(step, fmt.Sprint(args), want, got, err)
			if _, isErr := want.(error); !isErr && rng.IntN(4) == 0 {
				args[0] = "TEXPLAIN"
				lines, err := c.Do(ctx, toIfaces(args)...).StringSlice()
				require.NoError(t, err)
				require.Equal(t, "rows returned: "+strconv.Itoa(len(want.([]interface{}))), lines[len(lines)-1])
			}
		case op < 99: // alter
			var extras []string
			for _, f := range mt.fields {
				if strings.HasPrefix(f.name, "x") && f.name != "x" {
					extras = append(extras, f.name)
				}
			}
			if len(extras) > 0 && rng.IntN(2) == 0 {
				name := extras[rng.IntN(len(extras))]
				got, err := do("TALTER", tn, "DROP", name)
				check(step, "TALTER DROP "+name, "OK", got, err)
				for i, f := range mt.fields {
					if f.name == name {
						mt.fields = append(mt.fields[:i], mt.fields[i+1:]...)
						break
					}
				}
				for _, row := range mt.rows {
					delete(row, name)
				}
			} else {
				f := mField{name: "x" + strconv.Itoa(rng.IntN(3)), typ: extraTypes[rng.IntN(len(extraTypes))], unique: rng.IntN(3) == 0}
				var want interface{} = "OK"
				if m.field(mt, f.name) != nil {
					want = errors.New("ERR field '" + f.name + "' already exists")
				} else {
					mt.fields = append(mt.fields, f)
				}
				got, err := do("TALTER", tn, "ADD", f.spec())
				check(step, "TALTER ADD "+f.spec(), want, got, err)
			}
		default: // restart
			restarts++
			fullCheck(step)
			reads += ts.srv.tables().RowsRead()
			ts.stop()
			ts = startServer(t, dir)
			c = ts.client(t)
			limit()
			fullCheck(step)
		}
		if step%500 == 499 {
			restarts++
			fullCheck(step)
			reads += ts.srv.tables().RowsRead()
			ts.stop()
			ts = startServer(t, dir)
			c = ts.client(t)
			limit()
			fullCheck(step)
		}
	}
	// the random mix must exercise both outcomes, or the test proves little
	t.Logf("%d replies ok, %d errors, %d rows compared, %d restarts", nOK, nErr, nRows, restarts)
	if maxmemory != "" {
		reads += ts.srv.tables().RowsRead()
		t.Logf("%d rows read back from the store", reads)
		require.Greater(t, reads, int64(steps))
	}
	require.Greater(t, nErr, steps/10)
	require.Greater(t, nOK, steps/2)
	require.Greater(t, nRows, steps)
}

func testSeed() uint64 {
	s, _ := strconv.ParseUint(os.Getenv("LUX_TABLES_SEED"), 10, 64)
	return s
}
