package server

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestSortReplies(t *testing.T) {
	runHSSteps(t, []hsStep{
		{hc("RPUSH", "l", "3", "1", "10", "2"), hsInt(4)},
		{hc("SORT", "l"), hsArr("1", "2", "3", "10")},
		{hc("SORT", "l", "DESC"), hsArr("10", "3", "2", "1")},
		{hc("SORT", "l", "ALPHA"), hsArr("1", "10", "2", "3")},
		{hc("SORT", "l", "LIMIT", "1", "2"), hsArr("2", "3")},
		{hc("SORT", "l", "LIMIT", "-5", "2"), hsArr("1", "2")},
		{hc("SORT", "l", "LIMIT", "10", "2"), "*0\r\n"},
		{hc("SORT", "l", "LIMIT", "1", "-1"), hsArr("2", "3", "10")},
		{hc("SORT", "l", "BY", "nosort"), hsArr("3", "1", "10", "2")},
		{hc("SORT", "l", "BY", "nosort", "DESC", "LIMIT", "0", "2"), hsArr("2", "10")},
		// BY a key pattern and GET
		{hc("MSET", "w_3", "1", "w_1", "30", "w_10", "20", "o_1", "one", "o_3", "three"), "+OK\r\n"},
		{hc("SORT", "l", "BY", "w_*"), hsArr("2", "3", "10", "1")}, // 2 has no weight: 0
		{hc("SORT", "l", "BY", "w_*", "GET", "o_*", "GET", "#"),
			"*8\r\n" + hsNil + hsBulk("2") + hsBulk("three") + hsBulk("3") + hsNil + hsBulk("10") + hsBulk("one") + hsBulk("1")},
		// hash fields
		{hc("HSET", "h_1", "f", "b"), hsOne},
		{hc("HSET", "h_2", "f", "a"), hsOne},
		// a missing BY value sorts first
		{hc("SORT", "l", "BY", "h_*->f", "ALPHA", "GET", "#", "GET", "h_*->f"),
			"*8\r\n" + hsBulk("3") + hsNil + hsBulk("10") + hsNil + hsBulk("2") + hsBulk("a") + hsBulk("1") + hsBulk("b")},
		// errors
		{hc("SORT", "l", "LIMIT", "x", "1"), hsErr(msgNotInt)},
		{hc("SORT", "l", "LIMIT", "1"), hsErr(msgSyntax)},
		{hc("SORT", "l", "FOO"), hsErr(msgSyntax)},
		{hc("SORT_RO", "l", "STORE", "x"), hsErr(msgSyntax)},
		{hc("SET", "str", "x"), "+OK\r\n"},
		{hc("SORT", "str"), hsErr(msgWrongType)},
		{hc("RPUSH", "bad", "1", "x"), hsInt(2)},
		{hc("SORT", "bad"), hsErr("ERR One or more scores can't be converted into double")},
		{hc("SORT", "bad", "ALPHA"), hsArr("1", "x")},
		{hc("SORT", "nokey"), "*0\r\n"},
		// STORE: a list, replacing the destination; an empty result deletes it
		{hc("SORT", "l", "STORE", "dst"), hsInt(4)},
		{hc("LRANGE", "dst", "0", "-1"), hsArr("1", "2", "3", "10")},
		{hc("SORT", "l", "GET", "o_*", "STORE", "dst"), hsInt(4)},
		{hc("LRANGE", "dst", "0", "-1"), hsArr("one", "", "three", "")},
		{hc("SORT", "nokey", "STORE", "dst"), hsZero},
		{hc("EXISTS", "dst"), hsZero},
	})
}

// TestSortTypes: a missing GET key is a null in the reply, an empty
// string in a STORE; sets and sorted sets sort by their members' values.
func TestSortTypes(t *testing.T) {
	ts := startServer(t, "")
	c := ts.client(t)
	ctx := context.Background()
	require.NoError(t, c.SAdd(ctx, "s", "5", "-1", "3.5", "1e2").Err())
	got, err := c.Do(ctx, "SORT", "s").StringSlice()
	require.NoError(t, err)
	require.Equal(t, []string{"-1", "3.5", "5", "1e2"}, got)
	require.NoError(t, c.ZAdd(ctx, "z", redis.Z{Score: 1, Member: "c"}, redis.Z{Score: 2, Member: "a"}, redis.Z{Score: 3, Member: "b"}).Err())
	got, err = c.Do(ctx, "SORT", "z", "ALPHA").StringSlice()
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c"}, got)
	got, err = c.Do(ctx, "SORT", "z", "BY", "nosort", "DESC").StringSlice()
	require.NoError(t, err)
	require.Equal(t, []string{"b", "a", "c"}, got)
	// a set stored BY a constant is sorted as strings (deterministic)
	require.NoError(t, c.Do(ctx, "SORT", "s", "BY", "nosort", "STORE", "d").Err())
	got, err = c.LRange(ctx, "d", 0, -1).Result()
	require.NoError(t, err)
	require.Equal(t, []string{"-1", "1e2", "3.5", "5"}, got)
	res, err := c.Do(ctx, "SORT", "s", "GET", "nokey_*").Slice()
	require.NoError(t, err)
	require.Equal(t, []any{nil, nil, nil, nil}, res)
	// the destination loses its TTL and type
	require.NoError(t, c.Set(ctx, "d", "x", 0).Err())
	require.NoError(t, c.Expire(ctx, "d", 100e9).Err())
	require.NoError(t, c.Do(ctx, "SORT", "s", "STORE", "d").Err())
	ttl, err := c.TTL(ctx, "d").Result()
	require.NoError(t, err)
	require.Equal(t, int64(-1), int64(ttl))
}

// TestSortKeys: COMMAND GETKEYS names the sorted key and the STORE
// destination; a BY or GET pattern locks the whole database.
func TestSortKeys(t *testing.T) {
	require.Equal(t, [][]byte{[]byte("k")}, sortKeys(bs("sort", "k", "BY", "w_*", "GET", "#")))
	require.Equal(t, [][]byte{[]byte("k"), []byte("d")}, sortKeys(bs("sort", "k", "STORE", "x", "LIMIT", "0", "1", "STORE", "d")))
	require.Equal(t, [][]byte{[]byte("k")}, sortKeys(bs("sort", "k", "GET", "store")))
	require.False(t, sortLocksDB(bs("sort", "k", "BY", "nosort", "GET", "#", "LIMIT", "0", "1")))
	require.True(t, sortLocksDB(bs("sort", "k", "BY", "w_*")))
	require.True(t, sortLocksDB(bs("sort", "k", "GET", "o_*")))
	require.False(t, sortLocksDB(bs("sort", "k", "STORE", "by", "ALPHA")))
}

func bs(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, x := range s {
		out[i] = []byte(x)
	}
	return out
}
