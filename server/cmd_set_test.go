package server

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSetReplies(t *testing.T) {
	runHSSteps(t, []hsStep{
		{hc("SADD", "s", "3", "1", "2"), hsInt(3)},
		{hc("SADD", "s", "2", "5", "5"), hsOne},
		// intsets reply in numeric order
		{hc("SMEMBERS", "s"), hsArr("1", "2", "3", "5")},
		{hc("OBJECT", "ENCODING", "s"), hsBulk("intset")},
		{hc("SADD", "s", "a"), hsOne},
		{hc("OBJECT", "ENCODING", "s"), hsBulk("hashtable")},
		{hc("SREM", "s", "a"), hsOne},
		{hc("OBJECT", "ENCODING", "s"), hsBulk("hashtable")},
		{hc("SADD", "i", "10", "-5", "9223372036854775807", "-9223372036854775808"), hsInt(4)},
		{hc("SMEMBERS", "i"), hsArr("-9223372036854775808", "-5", "10", "9223372036854775807")},
		{hc("SADD", "i2", "9223372036854775808"), hsOne},
		{hc("OBJECT", "ENCODING", "i2"), hsBulk("hashtable")},
		{hc("SADD", "i3", "01"), hsOne},
		{hc("OBJECT", "ENCODING", "i3"), hsBulk("hashtable")},
		{hc("SCARD", "s"), hsInt(4)},
		{hc("SCARD", "nokey"), hsZero},
		{hc("SISMEMBER", "s", "1"), hsOne},
		{hc("SISMEMBER", "s", "zz"), hsZero},
		{hc("SISMEMBER", "nokey", "a"), hsZero},
		{hc("SMISMEMBER", "s", "1", "zz", "2"), "*3\r\n" + hsOne + hsZero + hsOne},
		{hc("SMISMEMBER", "nokey", "a", "b"), "*2\r\n" + hsZero + hsZero},
		{hc("SMEMBERS", "nokey"), "*0\r\n"},
		{hc("SREM", "s", "1", "zz"), hsOne},
		{hc("SREM", "nokey", "a"), hsZero},
		{hc("SREM", "s", "2", "3", "5", "a", "b"), hsInt(3)},
		{hc("EXISTS", "s"), hsZero},
		{hc("SADD", "s"), hsErr(wrongArgsMsg("sadd"))},
		{hc("SADD", "e", ""), hsOne},
		{hc("SMEMBERS", "e"), hsArr("")},
		{hc("SISMEMBER", "e", ""), hsOne},
	})
}

func TestSetWrongType(t *testing.T) {
	steps := []hsStep{{hc("SET", "str", "x"), hsOK}, {hc("SADD", "a", "1"), hsOne}}
	for _, cmd := range [][]string{
		hc("SADD", "str", "a"), hc("SREM", "str", "a"), hc("SCARD", "str"), hc("SMEMBERS", "str"),
		hc("SISMEMBER", "str", "a"), hc("SMISMEMBER", "str", "a"), hc("SPOP", "str"), hc("SPOP", "str", "1"),
		hc("SRANDMEMBER", "str"), hc("SRANDMEMBER", "str", "1"), hc("SSCAN", "str", "0"),
		hc("SMOVE", "str", "a", "1"), hc("SMOVE", "a", "str", "1"),
		hc("SINTER", "a", "str"), hc("SINTER", "nokey", "str"), hc("SUNION", "a", "str"),
		hc("SDIFF", "a", "str"), hc("SDIFF", "str", "a"), hc("SINTERCARD", "2", "a", "str"),
		hc("SINTERSTORE", "d", "a", "str"), hc("SUNIONSTORE", "d", "str"), hc("SDIFFSTORE", "d", "a", "str"),
	} {
		steps = append(steps, hsStep{cmd, hsWT})
	}
	steps = append(steps,
		// a missing source answers 0 before the destination's type is checked
		hsStep{hc("SMOVE", "nokey", "str", "1"), hsZero},
		hsStep{hc("EXISTS", "d"), hsZero},
		hsStep{hc("SMEMBERS", "a"), hsArr("1")},
	)
	runHSSteps(t, steps)
}

func TestSetAlgebra(t *testing.T) {
	runHSSteps(t, []hsStep{
		{hc("SADD", "a", "1", "2", "3", "4"), hsInt(4)},
		{hc("SADD", "b", "3", "4", "5", "6"), hsInt(4)},
		{hc("SADD", "c", "4", "5", "6", "7"), hsInt(4)},
		{hc("SINTER", "a", "b"), hsArr("3", "4")},
		{hc("SINTER", "a", "b", "c"), hsArr("4")},
		{hc("SINTER", "a", "nokey"), "*0\r\n"},
		{hc("SINTER", "a", "a", "a"), hsArr("1", "2", "3", "4")},
		{hc("SUNION", "a", "b", "nokey"), hsArr("1", "2", "3", "4", "5", "6")},
		{hc("SUNION", "nokey"), "*0\r\n"},
		{hc("SDIFF", "a", "b"), hsArr("1", "2")},
		{hc("SDIFF", "a", "b", "c"), hsArr("1", "2")},
		{hc("SDIFF", "a", "a"), "*0\r\n"},
		{hc("SDIFF", "nokey", "a"), "*0\r\n"},
		{hc("SDIFF", "a", "nokey"), hsArr("1", "2", "3", "4")},
		{hc("SINTERSTORE", "d", "a", "b"), hsInt(2)},
		{hc("SMEMBERS", "d"), hsArr("3", "4")},
		{hc("SINTERSTORE", "d", "a", "nokey"), hsZero},
		{hc("EXISTS", "d"), hsZero},
		{hc("SUNIONSTORE", "d", "a", "b"), hsInt(6)},
		{hc("SMEMBERS", "d"), hsArr("1", "2", "3", "4", "5", "6")},
		{hc("SDIFFSTORE", "d", "a", "b"), hsInt(2)},
		{hc("SMEMBERS", "d"), hsArr("1", "2")},
		{hc("SDIFFSTORE", "d", "a", "a"), hsZero},
		{hc("EXISTS", "d"), hsZero},
		// the destination may be a source and may hold another type
		{hc("SUNIONSTORE", "a", "a", "c"), hsInt(7)},
		{hc("SMEMBERS", "a"), hsArr("1", "2", "3", "4", "5", "6", "7")},
		{hc("SET", "str", "x"), hsOK},
		{hc("SINTERSTORE", "str", "a", "b"), hsInt(4)},
		{hc("TYPE", "str"), "+set\r\n"},
		{hc("SINTERCARD", "2", "a", "b"), hsInt(4)},
		{hc("SINTERCARD", "2", "a", "b", "LIMIT", "2"), hsInt(2)},
		{hc("SINTERCARD", "2", "a", "b", "limit", "0"), hsInt(4)},
		{hc("SINTERCARD", "3", "a", "b", "c"), hsInt(3)},
		{hc("SINTERCARD", "1", "nokey"), hsZero},
		{hc("SINTERCARD", "1", "a", "LIMIT", "100"), hsInt(7)},
		{hc("SINTERCARD", "2", "a", "b", "LIMIT", "-1"), hsErr(msgSetLimitNeg)},
		{hc("SINTERCARD", "2", "a", "b", "LIMIT", "abc"), hsErr(msgSetLimitNeg)},
		{hc("SINTERCARD", "2", "a", "b", "LIMIT"), hsErr(msgSyntax)},
		{hc("SINTERCARD", "2", "a", "b", "foo"), hsErr(msgSyntax)},
		{hc("SINTERCARD", "0", "a", "b"), hsErr(msgSetNumKeys)},
		{hc("SINTERCARD", "-1", "a"), hsErr(msgSetNumKeys)},
		{hc("SINTERCARD", "abc", "a"), hsErr(msgSetNumKeys)},
		{hc("SINTERCARD", "3", "a", "b"), hsErr(msgSetNumKeysTooMany)},
		{hc("SADD", "w1", "a", "b", "c"), hsInt(3)},
		{hc("SADD", "w2", "b", "c", "d"), hsInt(3)},
		{hc("SINTER", "w1", "w2"), hsArr("b", "c")},
		{hc("SDIFF", "w1", "w2"), hsArr("a")},
	})
}

func TestSetPopMoveRandErrors(t *testing.T) {
	runHSSteps(t, []hsStep{
		{hc("SPOP", "nokey"), hsNil},
		{hc("SPOP", "nokey", "5"), "*0\r\n"},
		{hc("SADD", "a", "1", "2", "3"), hsInt(3)},
		{hc("SPOP", "a", "0"), "*0\r\n"},
		{hc("SPOP", "a", "-1"), hsErr(msgSetPopPositive)},
		{hc("SPOP", "a", "abc"), hsErr(msgSetPopPositive)},
		{hc("SPOP", "a", "1", "2"), hsErr(msgSyntax)},
		{hc("SRANDMEMBER", "nokey"), hsNil},
		{hc("SRANDMEMBER", "nokey", "5"), "*0\r\n"},
		{hc("SRANDMEMBER", "nokey", "-5"), "*0\r\n"},
		{hc("SRANDMEMBER", "a", "0"), "*0\r\n"},
		{hc("SRANDMEMBER", "a", "abc"), hsErr(msgNotInt)},
		{hc("SRANDMEMBER", "a", "-9223372036854775808"), hsErr(msgHSLongRange)},
		{hc("SRANDMEMBER", "a", "1", "2"), hsErr(msgSyntax)},
		{hc("SRANDMEMBER", "a", "100"), hsArr("1", "2", "3")},
		{hc("SADD", "r", "30", "10", "20"), hsInt(3)},
		{hc("SRANDMEMBER", "r", "3"), hsArr("10", "20", "30")},
		{hc("SMOVE", "a", "b", "1"), hsOne},
		{hc("SMOVE", "a", "b", "1"), hsZero},
		{hc("SMOVE", "a", "b", "zz"), hsZero},
		{hc("SMOVE", "nokey", "b", "1"), hsZero},
		{hc("SMEMBERS", "a"), hsArr("2", "3")},
		{hc("SMEMBERS", "b"), hsArr("1")},
		{hc("SMOVE", "a", "a", "2"), hsOne},
		{hc("SMOVE", "a", "a", "zz"), hsZero},
		{hc("SMOVE", "b", "a", "1"), hsOne},
		{hc("EXISTS", "b"), hsZero},
		{hc("SADD", "b", "1"), hsOne},
		{hc("SMOVE", "a", "b", "1"), hsOne},
		{hc("SCARD", "b"), hsOne},
		// popping at least the whole set returns it and deletes the key
		{hc("SPOP", "a", "10"), hsArr("2", "3")},
		{hc("EXISTS", "a"), hsZero},
		{hc("SPOP", "b"), hsBulk("1")},
		{hc("EXISTS", "b"), hsZero},
		{hc("SSCAN", "nokey", "0"), hsEmptyScan},
		{hc("SADD", "c", "x", "y", "z"), hsInt(3)},
		{hc("SSCAN", "c", "0", "COUNT", "0"), hsErr(msgSyntax)},
		{hc("SSCAN", "c", "x"), hsErr(msgInvalidCursor)},
		{hc("SADD", "n", "3", "1", "2"), hsInt(3)},
		{hc("SSCAN", "n", "0", "MATCH", "[12]"), "*2\r\n" + hsBulk("0") + hsArr("1", "2")},
	})
}

func TestSetPopAndRandShapes(t *testing.T) {
	ts := startServer(t, "")
	rc := ts.client(t)
	ctx := context.Background()
	var members []any
	all := map[string]bool{}
	for i := 0; i < 1000; i++ {
		m := fmt.Sprint("m", i)
		members = append(members, m)
		all[m] = true
	}
	require.NoError(t, rc.SAdd(ctx, "s", members...).Err())
	for _, n := range []int64{1, 10, 300, 400, 999, 1000, 5000} {
		got, err := rc.SRandMemberN(ctx, "s", n).Result()
		require.NoError(t, err)
		require.Len(t, got, int(min(n, 1000)))
		seen := map[string]bool{}
		for _, m := range got {
			require.True(t, all[m])
			require.False(t, seen[m], "distinct members for a positive count")
			seen[m] = true
		}
	}
	got, err := rc.SRandMemberN(ctx, "s", -3000).Result()
	require.NoError(t, err)
	require.Len(t, got, 3000)

	left := 1000
	for _, n := range []int64{1, 7, 100, 500} {
		popped, err := rc.SPopN(ctx, "s", n).Result()
		require.NoError(t, err)
		require.Len(t, popped, int(n))
		for _, m := range popped {
			require.True(t, all[m], "popped %q twice or never added", m)
			delete(all, m)
		}
		left -= int(n)
		card, err := rc.SCard(ctx, "s").Result()
		require.NoError(t, err)
		require.EqualValues(t, left, card)
	}
	rest, err := rc.SMembers(ctx, "s").Result()
	require.NoError(t, err)
	require.Len(t, rest, left)
	for _, m := range rest {
		require.True(t, all[m])
	}
}

func TestSetScanWalksBigSet(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	args := []string{"SADD", "s"}
	for i := 0; i < 3000; i++ {
		args = append(args, fmt.Sprint("member:", i))
	}
	require.Equal(t, hsInt(3000), r.do(args...))
	got, calls := hscanAll(t, r, "SSCAN", "s", "COUNT", "20")
	require.Len(t, got, 3000)
	require.Greater(t, calls, 50)
	got, _ = hscanAll(t, r, "SSCAN", "s", "MATCH", "*:2??")
	require.Len(t, got, 100)
	// an intset is returned whole with cursor 0, sorted
	require.Equal(t, hsInt(3), r.do("SADD", "ints", "30", "10", "20"))
	require.Equal(t, "*2\r\n"+hsBulk("0")+hsArr("10", "20", "30"), r.do("SSCAN", "ints", "0", "COUNT", "1"))
}

func TestSetPersistence(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	args := []string{"SADD", "big"}
	for i := 0; i < 1000; i++ {
		args = append(args, fmt.Sprint(i))
	}
	require.Equal(t, hsInt(1000), r.do(args...))
	require.Equal(t, hsInt(2), r.do("SREM", "big", "0", "1"))
	require.Equal(t, hsOne, r.do("SMOVE", "big", "other", "2"))
	require.Equal(t, hsInt(3), r.do("SADD", "x", "a", "b", "c"))
	require.Equal(t, hsInt(3), r.do("SADD", "y", "b", "c", "d"))
	require.Equal(t, hsInt(2), r.do("SINTERSTORE", "inter", "x", "y"))
	require.Equal(t, hsInt(4), r.do("SUNIONSTORE", "x", "x", "y"))
	require.Equal(t, hsZero, r.do("SDIFFSTORE", "y", "y", "x"))
	require.Equal(t, hsInt(3), r.do("SADD", "popme", "p", "q", "r"))
	popped := r.do("SPOP", "popme")
	require.Equal(t, "*2\r\n", r.do("SPOP", "popme", "5")[:4])
	ts.stop()

	ts2 := startServer(t, dir)
	rc := ts2.client(t)
	ctx := context.Background()
	card, err := rc.SCard(ctx, "big").Result()
	require.NoError(t, err)
	require.EqualValues(t, 997, card)
	for _, m := range []string{"0", "1", "2"} {
		ok, err := rc.SIsMember(ctx, "big", m).Result()
		require.NoError(t, err)
		require.False(t, ok, m)
	}
	got, err := rc.SMembers(ctx, "other").Result()
	require.NoError(t, err)
	require.Equal(t, []string{"2"}, got)
	got, err = rc.SMembers(ctx, "inter").Result()
	require.NoError(t, err)
	sort.Strings(got)
	require.Equal(t, []string{"b", "c"}, got)
	got, err = rc.SMembers(ctx, "x").Result()
	require.NoError(t, err)
	sort.Strings(got)
	require.Equal(t, []string{"a", "b", "c", "d"}, got)
	n, err := rc.Exists(ctx, "y", "popme").Result()
	require.NoError(t, err)
	require.Zero(t, n, "emptied sets stay deleted: popped %q", popped)
	enc, err := rc.ObjectEncoding(ctx, "big").Result()
	require.NoError(t, err)
	require.Equal(t, "hashtable", enc)
}

func TestSetInterCardLocksItsKeysInMulti(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, hsInt(2), r.do("SADD", "k1", "a", "b"))
	require.Equal(t, hsInt(2), r.do("SADD", "k2", "b", "c"))
	require.Equal(t, hsOK, r.do("MULTI"))
	require.Equal(t, "+QUEUED\r\n", r.do("SINTERCARD", "2", "k1", "k2"))
	require.Equal(t, "+QUEUED\r\n", r.do("SINTERCARD", "9", "k1"))
	require.Equal(t, "*2\r\n"+hsOne+hsErr(msgSetNumKeysTooMany), r.do("EXEC"))
	require.Equal(t, [][]byte{[]byte("k1"), []byte("k2")}, sinterCardKeys([][]byte{[]byte("sintercard"), []byte("2"), []byte("k1"), []byte("k2"), []byte("LIMIT"), []byte("1")}))
	require.Nil(t, sinterCardKeys([][]byte{[]byte("sintercard"), []byte("x"), []byte("k1")}))
}

func TestSetConcurrentMoves(t *testing.T) {
	// SMOVE between two sets from several connections never loses or
	// duplicates a member (both keys are locked together)
	ts := startServer(t, "")
	r := ts.raw(t)
	args := []string{"SADD", "left"}
	for i := 0; i < 200; i++ {
		args = append(args, fmt.Sprint(i))
	}
	r.do(args...)
	done := make(chan struct{})
	for w := 0; w < 4; w++ {
		c := ts.raw(t)
		go func(w int) {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 300; i++ {
				m := fmt.Sprint((i*7 + w) % 200)
				if (i+w)%2 == 0 {
					c.send("SMOVE", "left", "right", m)
				} else {
					c.send("SMOVE", "right", "left", m)
				}
				c.reply()
			}
		}(w)
	}
	for w := 0; w < 4; w++ {
		<-done
	}
	require.Equal(t, hsZero, r.do("SINTERCARD", "2", "left", "right"))
	l := r.do("SCARD", "left")
	rr := r.do("SCARD", "right")
	var ln, rn int
	fmt.Sscanf(l, ":%d", &ln)
	fmt.Sscanf(rr, ":%d", &rn)
	require.Equal(t, 200, ln+rn)
}
