package server

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// RESP builders for the time series replies.
func tsBulk(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }
func tsInt(n int64) string   { return ":" + strconv.FormatInt(n, 10) + "\r\n" }
func tsErr(s string) string  { return "-" + s + "\r\n" }
func tsArr(items ...string) string {
	return "*" + strconv.Itoa(len(items)) + "\r\n" + strings.Join(items, "")
}

// tsS is one sample [ts, "value"].
func tsS(ts int64, v string) string { return tsArr(tsInt(ts), tsBulk(v)) }

// tsL is one label [name, value].
func tsL(name, v string) string { return tsArr(tsBulk(name), tsBulk(v)) }

func tsRun(t *testing.T, r *rawConn, steps []zStep) {
	t.Helper()
	for _, s := range steps {
		require.Equal(t, s.want, r.do(s.cmd...), "%v", s.cmd)
	}
}

func TestTSAddReplyAndErrors(t *testing.T) {
	ts := startServer(t, "")
	wrong := "WRONGTYPE Operation against a key holding the wrong kind of value"
	tsRun(t, ts.raw(t), []zStep{
		{zc("TSADD", "s", "10", "1.5"), tsInt(10)},
		{zc("tsadd", "s", "+20", "2"), tsInt(20)},
		{zc("TSADD", "s", "010", "3"), tsInt(10)}, // overwrite (leading zeros are digits)
		{zc("TSRANGE", "s", "-", "+"), tsArr(tsS(10, "3"), tsS(20, "2"))},
		{zc("TSADD", "s", "5", "0.0000001"), tsInt(5)},
		{zc("TSADD", "s", "6", "1e3"), tsInt(6)},
		{zc("TSADD", "s", "7", "-72.50"), tsInt(7)},
		{zc("TSRANGE", "s", "5", "7"), tsArr(tsS(5, "0.0000001"), tsS(6, "1000"), tsS(7, "-72.5"))},
		// timestamps
		{zc("TSADD", "s", "-1", "1"), tsErr("ERR invalid timestamp")},
		{zc("TSADD", "s", "x", "1"), tsErr("ERR invalid timestamp")},
		{zc("TSADD", "s", "1.5", "1"), tsErr("ERR invalid timestamp")},
		{zc("TSADD", "s", "9223372036854775808", "1"), tsErr("ERR invalid timestamp")},
		{zc("TSADD", "s", "", "1"), tsErr("ERR invalid timestamp")},
		{zc("TSADD", "s", " 1", "1"), tsErr("ERR invalid timestamp")},
		{zc("TSADD", "s", "9223372036854775807", "1"), tsInt(math.MaxInt64)},
		// values
		{zc("TSADD", "s", "1", "nan"), tsErr("ERR value is not a valid float")},
		{zc("TSADD", "s", "1", "inf"), tsErr("ERR value is not a valid float")},
		{zc("TSADD", "s", "1", "-Infinity"), tsErr("ERR value is not a valid float")},
		{zc("TSADD", "s", "1", "1e400"), tsErr("ERR value is not a valid float")},
		{zc("TSADD", "s", "1", "0x10"), tsErr("ERR value is not a valid float")},
		{zc("TSADD", "s", "1", "abc"), tsErr("ERR value is not a valid float")},
		{zc("TSADD", "s", "1", ""), tsErr("ERR value is not a valid float")},
		{zc("TSADD", "s", "1", "1e"), tsErr("ERR value is not a valid float")},
		{zc("TSADD", "s", "1", "."), tsErr("ERR value is not a valid float")},
		{zc("TSADD", "s", "1", "1_0"), tsErr("ERR value is not a valid float")},
		// options
		{zc("TSADD", "s", "1", "1", "RETENTION"), tsErr("ERR syntax error")},
		{zc("TSADD", "s", "1", "1", "RETENTION", "-1"), tsErr("ERR invalid retention")},
		{zc("TSADD", "s", "1", "1", "RETENTION", "x"), tsErr("ERR invalid retention")},
		{zc("TSADD", "s", "1", "1", "RETENTION", "1.5"), tsErr("ERR invalid retention")},
		{zc("TSADD", "s", "1", "1", "BOGUS"), tsErr("ERR syntax error")},
		{zc("TSADD", "s", "1", "1", "LABELS", "a"), tsErr("ERR syntax error")},
		{zc("TSADD", "s", "1", "1", "LABELS", "a", "1", "b"), tsErr("ERR syntax error")},
		{zc("TSADD", "s", "1", "1", "LABELS", "", "1"), tsErr("ERR invalid label name ''")},
		{zc("TSADD", "s", "1", "1", "LABELS", "a=b", "1"), tsErr("ERR invalid label name 'a=b'")},
		{zc("TSADD", "s", "1", "1", "LABELS", "a", "1", "a", "2"), tsErr("ERR duplicate label 'a'")},
		{zc("TSADD", "s", "1", "1", "LABELS", "a", "1", "RETENTION"), tsErr("ERR syntax error")},
		{zc("TSADD", "s", "1", "1", "LABELS", "a", "1", "RETENTION", "-3"), tsErr("ERR invalid retention")},
		{zc("TSADD", "s"), tsErr("ERR wrong number of arguments for 'tsadd' command")},
		{zc("TSADD", "s", "1"), tsErr("ERR wrong number of arguments for 'tsadd' command")},
		// nothing was written by any error
		{zc("TSINFO", "s"), tsArr(tsBulk("totalSamples"), tsInt(6), tsBulk("firstTimestamp"), tsInt(5),
			tsBulk("lastTimestamp"), tsInt(math.MaxInt64), tsBulk("retentionTime"), tsInt(0), tsBulk("labels"), tsArr())},
		// other types
		{zc("SET", "str", "x"), zOK},
		{zc("TSADD", "str", "1", "1"), tsErr(wrong)},
		{zc("TSADD", "str", "x", "1"), tsErr("ERR invalid timestamp")},
		{zc("TSGET", "str"), tsErr(wrong)},
		{zc("TSINFO", "str"), tsErr(wrong)},
		{zc("TSRANGE", "str", "-", "+"), tsErr(wrong)},
		{zc("TSRANGE", "str", "x", "+"), tsErr("ERR invalid timestamp")},
		{zc("GET", "str"), tsBulk("x")},
	})
}

func TestTSAddLabelsAndRetention(t *testing.T) {
	ts := startServer(t, "")
	info := func(n, first, last, ret int64, labels ...string) string {
		return tsArr(tsBulk("totalSamples"), tsInt(n), tsBulk("firstTimestamp"), tsInt(first),
			tsBulk("lastTimestamp"), tsInt(last), tsBulk("retentionTime"), tsInt(ret), tsBulk("labels"), tsArr(labels...))
	}
	tooMany := []string{"TSADD", "m", "1", "1", "LABELS"}
	for i := 0; i < 65; i++ {
		tooMany = append(tooMany, fmt.Sprintf("l%d", i), "v")
	}
	exactly := append([]string(nil), tooMany[:5+128]...)
	tsRun(t, ts.raw(t), []zStep{
		{zc("TSADD", "s", "100", "1", "LABELS", "z", "1", "a", "2", "RETENTION", "50"), tsInt(100)},
		{zc("TSINFO", "s"), info(1, 100, 100, 50, tsL("z", "1"), tsL("a", "2"))},
		// a value "RETENTION" is a value; a name RETENTION ends the pairs
		{zc("TSADD", "s", "101", "1", "LABELS", "k", "RETENTION"), tsInt(101)},
		{zc("TSINFO", "s"), info(2, 100, 101, 50, tsL("k", "RETENTION"))},
		{zc("TSADD", "s", "102", "1", "retention", "60", "labels", "LABELS", "x"), tsInt(102)},
		{zc("TSINFO", "s"), info(3, 100, 102, 60, tsL("LABELS", "x"))},
		// LABELS with no pairs removes all
		{zc("TSADD", "s", "103", "1", "LABELS"), tsInt(103)},
		{zc("TSINFO", "s"), info(4, 100, 103, 60)},
		{zc("TSADD", "s", "104", "1", "LABELS", "RETENTION", "0"), tsInt(104)},
		{zc("TSINFO", "s"), info(5, 100, 104, 0)},
		// an add without options keeps retention and labels
		{zc("TSADD", "s", "105", "1", "RETENTION", "10", "LABELS", "a", "b"), tsInt(105)},
		{zc("TSINFO", "s"), info(6, 100, 105, 10, tsL("a", "b"))},
		// retention: cutoff = newest - retention; a sample exactly at it stays
		{zc("TSADD", "r", "100", "1", "RETENTION", "10"), tsInt(100)},
		{zc("TSADD", "r", "90", "2"), tsInt(90)},
		{zc("TSADD", "r", "89", "3"), tsErr("ERR timestamp is older than retention")},
		{zc("TSADD", "r", "95", "3"), tsInt(95)},
		{zc("TSADD", "r", "105", "4"), tsInt(105)},
		{zc("TSRANGE", "r", "-", "+"), tsArr(tsS(95, "3"), tsS(100, "1"), tsS(105, "4"))},
		// the cutoff comes from the newest sample, not the inserted one
		{zc("TSADD", "r", "97", "5"), tsInt(97)},
		{zc("TSRANGE", "r", "-", "+"), tsArr(tsS(95, "3"), tsS(97, "5"), tsS(100, "1"), tsS(105, "4"))},
		// a refused add changes nothing, options included
		{zc("TSADD", "r", "1", "1", "RETENTION", "20", "LABELS", "x", "y"), tsErr("ERR timestamp is older than retention")},
		{zc("TSINFO", "r"), info(4, 95, 105, 10)},
		// lowering the retention trims at once; raising it keeps what is left
		{zc("TSADD", "r", "106", "6", "RETENTION", "3"), tsInt(106)},
		{zc("TSRANGE", "r", "-", "+"), tsArr(tsS(105, "4"), tsS(106, "6"))},
		{zc("TSADD", "r", "200", "7", "RETENTION", "0"), tsInt(200)},
		{zc("TSADD", "r", "0", "8"), tsInt(0)},
		{zc("TSINFO", "r"), info(4, 0, 200, 0)},
		{tooMany, tsErr("ERR too many labels (max 64)")},
		{exactly, tsInt(1)},
		{zc("EXISTS", "m"), zInt(1)},
	})
}

func TestTSAddStarAndTTL(t *testing.T) {
	ts := startServer(t, "")
	c := ts.client(t)
	ctx := context.Background()
	before := time.Now().UnixMilli()
	got, err := c.Do(ctx, "TSADD", "s", "*", "1").Int64()
	require.NoError(t, err)
	require.GreaterOrEqual(t, got, before)
	require.LessOrEqual(t, got, time.Now().UnixMilli())
	last, err := c.Do(ctx, "TSGET", "s").Slice()
	require.NoError(t, err)
	require.Equal(t, []any{got, "1"}, last)
	// an existing TTL is kept by TSADD and TSMADD
	require.NoError(t, c.Expire(ctx, "s", time.Hour).Err())
	require.NoError(t, c.Do(ctx, "TSADD", "s", "1", "2", "RETENTION", "0", "LABELS", "a", "b").Err())
	require.NoError(t, c.Do(ctx, "TSMADD", "s", "2", "3").Err())
	ttl, _ := c.TTL(ctx, "s").Result()
	require.Greater(t, ttl, 59*time.Minute)
}

func TestTSMAdd(t *testing.T) {
	ts := startServer(t, "")
	wrong := "WRONGTYPE Operation against a key holding the wrong kind of value"
	tsRun(t, ts.raw(t), []zStep{
		{zc("TSADD", "old", "100", "1", "RETENTION", "10", "LABELS", "a", "1"), tsInt(100)},
		{zc("SET", "str", "x"), zOK},
		{zc("TSMADD", "a", "1", "1.5", "b", "x", "1", "a", "2", "y", "str", "1", "1", "old", "50", "1", "old", "95", "2", "a", "1", "9", "new", "-4", "1"),
			tsArr(tsInt(1), tsErr("ERR invalid timestamp"), tsErr("ERR value is not a valid float"), tsErr(wrong),
				tsErr("ERR timestamp is older than retention"), tsInt(95), tsInt(1), tsErr("ERR invalid timestamp"))},
		{zc("TSRANGE", "a", "-", "+"), tsArr(tsS(1, "9"))},
		{zc("EXISTS", "b", "new"), zInt(0)},
		{zc("TSRANGE", "old", "-", "+"), tsArr(tsS(95, "2"), tsS(100, "1"))},
		{zc("TSINFO", "a"), tsArr(tsBulk("totalSamples"), tsInt(1), tsBulk("firstTimestamp"), tsInt(1),
			tsBulk("lastTimestamp"), tsInt(1), tsBulk("retentionTime"), tsInt(0), tsBulk("labels"), tsArr())},
		{zc("TSMADD", "a", "1"), tsErr("ERR wrong number of arguments for 'tsmadd' command")},
		{zc("TSMADD", "a", "1", "2", "b"), tsErr("ERR wrong number of arguments for 'tsmadd' command")},
		{zc("TSMADD", "a", "1", "2", "b", "1"), tsErr("ERR wrong number of arguments for 'tsmadd' command")},
		{zc("TSMADD"), tsErr("ERR wrong number of arguments for 'tsmadd' command")},
	})
}

func TestTSGetInfoMissing(t *testing.T) {
	ts := startServer(t, "")
	tsRun(t, ts.raw(t), []zStep{
		{zc("TSGET", "nope"), "*-1\r\n"},
		{zc("TSINFO", "nope"), tsErr("ERR TSDB: the key does not exist")},
		{zc("TSRANGE", "nope", "-", "+"), "*0\r\n"},
		{zc("TSRANGE", "nope", "-", "+", "AGGREGATION", "bogus", "1"), tsErr("ERR unknown aggregation function 'bogus'")},
		{zc("TSGET"), tsErr("ERR wrong number of arguments for 'tsget' command")},
		{zc("TSGET", "a", "b"), tsErr("ERR wrong number of arguments for 'tsget' command")},
		{zc("TSINFO"), tsErr("ERR wrong number of arguments for 'tsinfo' command")},
		{zc("TSRANGE", "a", "1"), tsErr("ERR wrong number of arguments for 'tsrange' command")},
		{zc("TSMRANGE", "1"), tsErr("ERR wrong number of arguments for 'tsmrange' command")},
		{zc("TSADD", "s", "30", "5"), tsInt(30)},
		{zc("TSADD", "s", "10", "7"), tsInt(10)},
		{zc("TSGET", "s"), tsArr(tsInt(30), tsBulk("5"))},
	})
}

func TestTSRangeAggregation(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	// samples: bucket 0: 1,2,4 (ts 0,3,9); bucket 10: 10 (ts 10); bucket 20: -1,5 (ts 25,29)
	for _, s := range [][2]string{{"0", "1"}, {"3", "2"}, {"9", "4"}, {"10", "10"}, {"25", "-1"}, {"29", "5"}} {
		r.do("TSADD", "s", s[0], s[1])
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	b0 := []float64{1, 2, 4}
	agg := func(fn string, want ...string) zStep {
		return zStep{zc("TSRANGE", "s", "-", "+", "AGGREGATION", fn, "10"), tsArr(want...)}
	}
	tsRun(t, r, []zStep{
		{zc("TSRANGE", "s", "-", "+"), tsArr(tsS(0, "1"), tsS(3, "2"), tsS(9, "4"), tsS(10, "10"), tsS(25, "-1"), tsS(29, "5"))},
		{zc("TSRANGE", "s", "3", "25"), tsArr(tsS(3, "2"), tsS(9, "4"), tsS(10, "10"), tsS(25, "-1"))},
		{zc("TSRANGE", "s", "26", "4"), "*0\r\n"},
		{zc("TSRANGE", "s", "4", "4"), "*0\r\n"},
		{zc("TSRANGE", "s", "-", "+", "COUNT", "2"), tsArr(tsS(0, "1"), tsS(3, "2"))},
		{zc("TSRANGE", "s", "-", "+", "COUNT", "0"), "*0\r\n"},
		agg("avg", tsS(0, strconv.FormatFloat(7.0/3, 'f', -1, 64)), tsS(10, "10"), tsS(20, "2")),
		agg("AVG", tsS(0, strconv.FormatFloat(7.0/3, 'f', -1, 64)), tsS(10, "10"), tsS(20, "2")),
		agg("sum", tsS(0, "7"), tsS(10, "10"), tsS(20, "4")),
		agg("min", tsS(0, "1"), tsS(10, "10"), tsS(20, "-1")),
		agg("max", tsS(0, "4"), tsS(10, "10"), tsS(20, "5")),
		agg("count", tsS(0, "3"), tsS(10, "1"), tsS(20, "2")),
		agg("first", tsS(0, "1"), tsS(10, "10"), tsS(20, "-1")),
		agg("last", tsS(0, "4"), tsS(10, "10"), tsS(20, "5")),
		agg("range", tsS(0, "3"), tsS(10, "0"), tsS(20, "6")),
		agg("var.p", tsS(0, f(modelAgg("var.p", b0))), tsS(10, "0"), tsS(20, "9")),
		agg("var.s", tsS(0, f(modelAgg("var.s", b0))), tsS(10, "0"), tsS(20, "18")),
		agg("std.p", tsS(0, f(modelAgg("std.p", b0))), tsS(10, "0"), tsS(20, "3")),
		agg("Std.S", tsS(0, f(modelAgg("std.s", b0))), tsS(10, "0"), tsS(20, strconv.FormatFloat(math.Sqrt(18), 'f', -1, 64))),
		// buckets are aligned to the epoch, not to from; COUNT after aggregation; options in either order
		{zc("TSRANGE", "s", "5", "+", "COUNT", "2", "aggregation", "sum", "10"), tsArr(tsS(0, "4"), tsS(10, "10"))},
		{zc("TSRANGE", "s", "-", "+", "AGGREGATION", "count", "1000"), tsArr(tsS(0, "6"))},
		{zc("TSRANGE", "s", "-", "+", "AGGREGATION", "sum", "7"), tsArr(tsS(0, "3"), tsS(7, "14"), tsS(21, "-1"), tsS(28, "5"))},
		// errors
		{zc("TSRANGE", "s", "x", "+"), tsErr("ERR invalid timestamp")},
		{zc("TSRANGE", "s", "-", "1.5"), tsErr("ERR invalid timestamp")},
		{zc("TSRANGE", "s", "-1", "+"), tsErr("ERR invalid timestamp")},
		{zc("TSRANGE", "s", "-", "+", "AGGREGATION", "median", "10"), tsErr("ERR unknown aggregation function 'median'")},
		{zc("TSRANGE", "s", "-", "+", "AGGREGATION", "avg", "0"), tsErr("ERR invalid bucket size")},
		{zc("TSRANGE", "s", "-", "+", "AGGREGATION", "avg", "-5"), tsErr("ERR invalid bucket size")},
		{zc("TSRANGE", "s", "-", "+", "AGGREGATION", "avg", "x"), tsErr("ERR invalid bucket size")},
		{zc("TSRANGE", "s", "-", "+", "AGGREGATION", "avg"), tsErr("ERR syntax error")},
		{zc("TSRANGE", "s", "-", "+", "COUNT"), tsErr("ERR syntax error")},
		{zc("TSRANGE", "s", "-", "+", "COUNT", "-1"), tsErr("ERR invalid count")},
		{zc("TSRANGE", "s", "-", "+", "COUNT", "x"), tsErr("ERR invalid count")},
		{zc("TSRANGE", "s", "-", "+", "BOGUS"), tsErr("ERR syntax error")},
		{zc("TSRANGE", "s", "-", "+", "FILTER", "a=b"), tsErr("ERR syntax error")},
		{zc("TSRANGE", "s", "-", "+", "WITHLABELS"), tsErr("ERR syntax error")},
	})
}

func TestTSMRange(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	tsRun(t, r, []zStep{
		{zc("TSADD", "cpu:2", "10", "2", "LABELS", "type", "cpu", "host", "b"), tsInt(10)},
		{zc("TSADD", "cpu:1", "10", "1", "LABELS", "host", "a", "type", "cpu"), tsInt(10)},
		{zc("TSADD", "cpu:1", "20", "3"), tsInt(20)},
		{zc("TSADD", "mem:1", "15", "7", "LABELS", "type", "mem", "host", "a", "eq", "x=y"), tsInt(15)},
		{zc("TSADD", "bare", "1", "1"), tsInt(1)},
		{zc("HSET", "h", "type", "cpu"), zInt(1)},
	})
	cpu1 := func(samples ...string) string {
		return tsArr(tsBulk("cpu:1"), tsArr(tsL("host", "a"), tsL("type", "cpu")), tsArr(samples...))
	}
	cpu2 := func(samples ...string) string {
		return tsArr(tsBulk("cpu:2"), tsArr(tsL("type", "cpu"), tsL("host", "b")), tsArr(samples...))
	}
	mem1 := func(samples ...string) string {
		return tsArr(tsBulk("mem:1"), tsArr(tsL("type", "mem"), tsL("host", "a"), tsL("eq", "x=y")), tsArr(samples...))
	}
	bare := tsArr(tsBulk("bare"), tsArr(), tsArr(tsS(1, "1")))
	tsRun(t, r, []zStep{
		{zc("TSMRANGE", "-", "+"), tsArr(bare, cpu1(tsS(10, "1"), tsS(20, "3")), cpu2(tsS(10, "2")), mem1(tsS(15, "7")))},
		{zc("TSMRANGE", "-", "+", "FILTER", "type=cpu"), tsArr(cpu1(tsS(10, "1"), tsS(20, "3")), cpu2(tsS(10, "2")))},
		{zc("TSMRANGE", "-", "+", "FILTER", "type=cpu", "host=a"), tsArr(cpu1(tsS(10, "1"), tsS(20, "3")))},
		{zc("TSMRANGE", "-", "+", "filter", "type=cpu", "FILTER", "host=a"), tsArr(cpu1(tsS(10, "1"), tsS(20, "3")))},
		{zc("TSMRANGE", "-", "+", "FILTER", "host=a", "WITHLABELS"), tsArr(cpu1(tsS(10, "1"), tsS(20, "3")), mem1(tsS(15, "7")))},
		{zc("TSMRANGE", "-", "+", "FILTER", "eq=x=y"), tsArr(mem1(tsS(15, "7")))},
		{zc("TSMRANGE", "-", "+", "FILTER", "type=disk"), "*0\r\n"},
		{zc("TSMRANGE", "-", "+", "FILTER", "nolabel=x"), "*0\r\n"},
		{zc("TSMRANGE", "-", "+", "FILTER", "host="), "*0\r\n"},
		// a match without samples in range is listed empty; COUNT per series
		{zc("TSMRANGE", "12", "30", "FILTER", "host=a"), tsArr(cpu1(tsS(20, "3")), mem1(tsS(15, "7")))},
		{zc("TSMRANGE", "0", "5", "FILTER", "type=cpu"), tsArr(cpu1(), cpu2())},
		{zc("TSMRANGE", "-", "+", "COUNT", "1", "FILTER", "type=cpu"), tsArr(cpu1(tsS(10, "1")), cpu2(tsS(10, "2")))},
		{zc("TSMRANGE", "-", "+", "FILTER", "type=cpu", "AGGREGATION", "sum", "100"), tsArr(cpu1(tsS(0, "4")), cpu2(tsS(0, "2")))},
		// errors
		{zc("TSMRANGE", "-", "+", "FILTER"), tsErr("ERR syntax error")},
		{zc("TSMRANGE", "-", "+", "FILTER", "COUNT", "1"), tsErr("ERR syntax error")},
		{zc("TSMRANGE", "-", "+", "FILTER", "type"), tsErr("ERR invalid filter 'type', expected label=value")},
		{zc("TSMRANGE", "-", "+", "FILTER", "=cpu"), tsErr("ERR invalid filter '=cpu', expected label=value")},
		{zc("TSMRANGE", "x", "+"), tsErr("ERR invalid timestamp")},
		{zc("TSMRANGE", "-", "+", "AGGREGATION", "nope", "1"), tsErr("ERR unknown aggregation function 'nope'")},
		{zc("TSMRANGE", "-", "+", "AGGREGATION", "avg", "0"), tsErr("ERR invalid bucket size")},
		{zc("TSMRANGE", "-", "+", "COUNT", "-2"), tsErr("ERR invalid count")},
		{zc("TSMRANGE", "-", "+", "BOGUS"), tsErr("ERR syntax error")},
		// relabeling moves a series between filters
		{zc("TSADD", "cpu:2", "11", "5", "LABELS", "type", "gpu"), tsInt(11)},
		{zc("TSMRANGE", "-", "+", "FILTER", "type=cpu"), tsArr(cpu1(tsS(10, "1"), tsS(20, "3")))},
		{zc("DEL", "cpu:1"), zInt(1)},
		{zc("TSMRANGE", "-", "+", "FILTER", "type=cpu"), "*0\r\n"},
	})
}

// TestTSTypeIntegration: a series is an ordinary key for the generic commands.
func TestTSTypeIntegration(t *testing.T) {
	for _, dir := range []string{"", "persist"} {
		t.Run(fmt.Sprint(dir != ""), func(t *testing.T) {
			d := ""
			if dir != "" {
				d = t.TempDir()
			}
			ts := startServer(t, d)
			wrong := tsErr("WRONGTYPE Operation against a key holding the wrong kind of value")
			only := func(key string, samples ...string) string {
				return tsArr(tsArr(tsBulk(key), tsArr(tsL("k", "v")), tsArr(samples...)))
			}
			tsRun(t, ts.raw(t), []zStep{
				{zc("TSADD", "s", "1", "1", "LABELS", "k", "v", "RETENTION", "100"), tsInt(1)},
				{zc("TYPE", "s"), "+timeseries\r\n"},
				{zc("OBJECT", "ENCODING", "s"), tsBulk("timeseries")},
				{zc("EXISTS", "s"), zInt(1)},
				{zc("SCAN", "0", "TYPE", "timeseries"), tsArr(tsBulk("0"), tsArr(tsBulk("s")))},
				{zc("SCAN", "0", "TYPE", "string"), tsArr(tsBulk("0"), tsArr())},
				{zc("GET", "s"), wrong},
				{zc("INCR", "s"), wrong},
				{zc("APPEND", "s", "x"), wrong},
				{zc("LPUSH", "s", "x"), wrong},
				{zc("HSET", "s", "a", "b"), wrong},
				{zc("SADD", "s", "a"), wrong},
				{zc("ZADD", "s", "1", "a"), wrong},
				{zc("EXPIRE", "s", "100"), zInt(1)},
				{zc("RENAME", "s", "t"), zOK},
				{zc("TYPE", "s"), "+none\r\n"},
				{zc("TSMRANGE", "-", "+", "FILTER", "k=v"), only("t", tsS(1, "1"))},
				{zc("COPY", "t", "u"), zInt(1)},
				{zc("TSADD", "u", "2", "2"), tsInt(2)},
				{zc("TSINFO", "u"), tsArr(tsBulk("totalSamples"), tsInt(2), tsBulk("firstTimestamp"), tsInt(1),
					tsBulk("lastTimestamp"), tsInt(2), tsBulk("retentionTime"), tsInt(100), tsBulk("labels"), tsArr(tsL("k", "v")))},
				{zc("TSRANGE", "t", "-", "+"), tsArr(tsS(1, "1"))},
				{zc("DEL", "t"), zInt(1)},
				{zc("TSMRANGE", "-", "+", "FILTER", "k=v"), only("u", tsS(1, "1"), tsS(2, "2"))},
				{zc("MOVE", "u", "1"), zInt(1)},
				{zc("TSMRANGE", "-", "+"), "*0\r\n"},
				{zc("SELECT", "1"), zOK},
				{zc("TSMRANGE", "-", "+"), only("u", tsS(1, "1"), tsS(2, "2"))},
				{zc("TSINFO", "u"), tsArr(tsBulk("totalSamples"), tsInt(2), tsBulk("firstTimestamp"), tsInt(1),
					tsBulk("lastTimestamp"), tsInt(2), tsBulk("retentionTime"), tsInt(100), tsBulk("labels"), tsArr(tsL("k", "v")))},
				{zc("SET", "u", "x"), zOK},
				{zc("TSMRANGE", "-", "+"), "*0\r\n"},
				{zc("TSADD", "v", "1", "1", "LABELS", "k", "v"), tsInt(1)},
				{zc("TSADD", "w", "1", "1", "LABELS", "k", "v"), tsInt(1)},
				{zc("PEXPIRE", "v", "1"), zInt(1)},
				{zc("DEBUG", "SLEEP", "0.01"), zOK},
				{zc("TSMRANGE", "-", "+"), only("w", tsS(1, "1"))},
				{zc("FLUSHDB"), zOK},
				{zc("TSMRANGE", "-", "+"), "*0\r\n"},
				{zc("TSADD", "x", "1", "1", "LABELS", "k", "v"), tsInt(1)},
				{zc("FLUSHALL"), zOK},
				{zc("TSMRANGE", "-", "+"), "*0\r\n"},
				{zc("DBSIZE"), zInt(0)},
			})
		})
	}
}

func TestTSMultiWatchNotify(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	c := ts.client(t)
	r := ts.raw(t)
	tsRun(t, r, []zStep{
		{zc("MULTI"), zOK},
		{zc("TSADD", "s", "1", "1"), "+QUEUED\r\n"},
		{zc("TSMADD", "s", "2", "2", "s", "x", "1"), "+QUEUED\r\n"},
		{zc("TSGET", "s"), "+QUEUED\r\n"},
		{zc("TSRANGE", "s", "-", "+"), "+QUEUED\r\n"},
		{zc("TSMRANGE", "-", "+"), "+QUEUED\r\n"},
		{zc("TSINFO", "s"), "+QUEUED\r\n"},
		{zc("EXEC"), tsArr(tsInt(1), tsArr(tsInt(2), tsErr("ERR invalid timestamp")), tsArr(tsInt(2), tsBulk("2")),
			tsArr(tsS(1, "1"), tsS(2, "2")), tsArr(tsArr(tsBulk("s"), tsArr(), tsArr(tsS(1, "1"), tsS(2, "2")))),
			tsArr(tsBulk("totalSamples"), tsInt(2), tsBulk("firstTimestamp"), tsInt(1), tsBulk("lastTimestamp"), tsInt(2),
				tsBulk("retentionTime"), tsInt(0), tsBulk("labels"), tsArr()))},
	})
	for _, write := range [][]any{{"TSADD", "s", "3", "3"}, {"TSMADD", "s", "4", "4"}} {
		require.Equal(t, "+OK\r\n", r.do("WATCH", "s"))
		require.NoError(t, c.Do(ctx, write...).Err())
		require.Equal(t, "+OK\r\n", r.do("MULTI"))
		require.Equal(t, "+QUEUED\r\n", r.do("GET", "x"))
		require.Equal(t, "*-1\r\n", r.do("EXEC"), "%v", write)
	}
	// a failed write does not abort a WATCHing EXEC
	require.Equal(t, "+OK\r\n", r.do("WATCH", "s"))
	require.Error(t, c.Do(ctx, "TSADD", "s", "x", "1").Err())
	require.Equal(t, "+OK\r\n", r.do("MULTI"))
	require.Equal(t, "+QUEUED\r\n", r.do("GET", "x"))
	require.Equal(t, "*1\r\n$-1\r\n", r.do("EXEC"))

	// keyspace notifications: class g
	require.NoError(t, c.ConfigSet(ctx, "notify-keyspace-events", "Eg").Err())
	sub := c.PSubscribe(ctx, "__keyevent@0__:*")
	defer sub.Close()
	_, err := sub.Receive(ctx)
	require.NoError(t, err)
	require.NoError(t, c.Do(ctx, "TSADD", "s", "9", "1").Err())
	require.Error(t, c.Do(ctx, "TSADD", "s", "x", "1").Err())
	require.NoError(t, c.Do(ctx, "TSMADD", "s", "10", "1", "s", "bad", "1", "t", "1", "1").Err())
	var got []string
	for len(got) < 3 {
		m, err := sub.ReceiveMessage(ctx)
		require.NoError(t, err)
		got = append(got, m.Channel[len("__keyevent@0__:"):]+" "+m.Payload)
	}
	require.Equal(t, []string{"tsadd s", "tsmadd s", "tsmadd t"}, got)
	require.NoError(t, c.ConfigSet(ctx, "notify-keyspace-events", "El").Err())
}

// TestTSRestart: samples, labels (in order), retention and the TTL deadline
// survive a restart; the label index is rebuilt from disk.
func TestTSRestart(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	c := ts.client(t)
	ctx := context.Background()
	require.NoError(t, c.Do(ctx, "TSADD", "a", "5", "1.25", "LABELS", "z", "1", "a", "2", "RETENTION", "100000").Err())
	for i := 0; i < 2000; i++ { // several chunks, out of order
		require.NoError(t, c.Do(ctx, "TSADD", "a", strconv.Itoa((i*7919)%2000+10), strconv.Itoa(i)).Err())
	}
	require.NoError(t, c.Do(ctx, "TSMADD", "b", "1", "1", "c", "2", "2").Err())
	require.NoError(t, c.Do(ctx, "TSADD", "gone", "1", "1", "LABELS", "z", "1").Err())
	require.NoError(t, c.Del(ctx, "gone").Err())
	require.NoError(t, c.Do(ctx, "TSADD", "ren", "1", "1", "LABELS", "z", "1").Err())
	require.NoError(t, c.Rename(ctx, "ren", "renamed").Err())
	deadline := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	require.NoError(t, c.PExpireAt(ctx, "a", deadline).Err())
	wantA, err := c.Do(ctx, "TSRANGE", "a", "-", "+").Slice()
	require.NoError(t, err)
	wantInfo, err := c.Do(ctx, "TSINFO", "a").Slice()
	require.NoError(t, err)
	ts.stop()

	ts2 := startServer(t, dir)
	c2 := ts2.client(t)
	gotA, err := c2.Do(ctx, "TSRANGE", "a", "-", "+").Slice()
	require.NoError(t, err)
	require.Equal(t, wantA, gotA)
	gotInfo, err := c2.Do(ctx, "TSINFO", "a").Slice()
	require.NoError(t, err)
	require.Equal(t, wantInfo, gotInfo)
	exp, err := c2.Do(ctx, "PEXPIRETIME", "a").Int64()
	if err == nil {
		require.Equal(t, deadline.UnixMilli(), exp)
	}
	keys, err := c2.Do(ctx, "TSMRANGE", "0", "0", "FILTER", "z=1").Slice()
	require.NoError(t, err)
	var names []string
	for _, k := range keys {
		names = append(names, k.([]any)[0].(string))
	}
	require.Equal(t, []string{"a", "renamed"}, names)
	all, err := c2.Do(ctx, "TSMRANGE", "-", "+").Slice()
	require.NoError(t, err)
	require.Len(t, all, 4)
}

// TestTSTiering: under a small memory limit series go cold and come back,
// and TSMRANGE still finds every cold one.
func TestTSTiering(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	c := ts.client(t)
	ctx := context.Background()
	const n = 300
	for i := 0; i < n; i++ {
		args := []any{"TSMADD"}
		for j := 0; j < 50; j++ {
			args = append(args, fmt.Sprintf("series:%03d", i), j*10, i*1000+j)
		}
		require.NoError(t, c.Do(ctx, args...).Err())
		require.NoError(t, c.Do(ctx, "TSADD", fmt.Sprintf("series:%03d", i), 1000, i, "LABELS", "grp", strconv.Itoa(i%3)).Err())
	}
	require.NoError(t, c.ConfigSet(ctx, "maxmemory", "4mb").Err())
	filler := strings.Repeat("x", 10000)
	for i := 0; i < 2000; i++ {
		require.NoError(t, c.Set(ctx, fmt.Sprintf("fill:%d", i), filler, 0).Err())
	}
	require.Less(t, ts.resident(), n+2000, "nothing went cold")
	res, err := c.Do(ctx, "TSMRANGE", "-", "+", "FILTER", "grp=1", "AGGREGATION", "count", "100000").Slice()
	require.NoError(t, err)
	require.Len(t, res, n/3)
	for i, x := range res {
		row := x.([]any)
		require.Equal(t, fmt.Sprintf("series:%03d", 3*i+1), row[0])
		require.Equal(t, []any{[]any{int64(0), "51"}}, row[2])
	}
	for i := 0; i < n; i += 37 {
		got, err := c.Do(ctx, "TSRANGE", fmt.Sprintf("series:%03d", i), "490", "+").Slice()
		require.NoError(t, err)
		require.Equal(t, []any{[]any{int64(490), strconv.Itoa(i*1000 + 49)}, []any{int64(1000), strconv.Itoa(i)}}, got)
	}
	// series that expire while cold leave TSMRANGE (read or removed by active expiry)
	for i := 1; i < n; i += 3 {
		require.NoError(t, c.PExpire(ctx, fmt.Sprintf("series:%03d", i), 300*time.Millisecond).Err())
	}
	for i := 0; i < 2000; i++ {
		require.NoError(t, c.Set(ctx, fmt.Sprintf("fill:%d", i), filler, 0).Err())
	}
	time.Sleep(600 * time.Millisecond)
	res, err = c.Do(ctx, "TSMRANGE", "-", "+", "FILTER", "grp=1").Slice()
	require.NoError(t, err)
	require.Empty(t, res)
	res, err = c.Do(ctx, "TSMRANGE", "0", "0").Slice()
	require.NoError(t, err)
	require.Len(t, res, n-n/3)
}

// TestTSModel runs random adds (in and out of order, overwrites,
// retention) and random ranges with random aggregations against a plain
// sorted-map model.
func TestTSModel(t *testing.T) {
	for _, persist := range []bool{false, true} {
		t.Run(fmt.Sprint(persist), func(t *testing.T) {
			dir := ""
			if persist {
				dir = t.TempDir()
			}
			ts := startServer(t, dir)
			c := ts.client(t)
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(7, uint64(len(dir))))
			models := map[string]*tsModel{}
			keys := []string{"m0", "m1", "m2"}
			add := func(key string, tsv int64, v float64, ret int64, setRet bool) error {
				m := models[key]
				if m == nil {
					m = &tsModel{s: map[int64]float64{}}
				}
				r := m.ret
				if setRet {
					r = ret
				}
				newest := tsv
				for k := range m.s {
					newest = max(newest, k)
				}
				if r > 0 && tsv < newest-r {
					return fmt.Errorf("ERR timestamp is older than retention")
				}
				models[key] = m
				m.ret = r
				m.s[tsv] = v
				if r > 0 {
					for k := range m.s {
						if k < newest-r {
							delete(m.s, k)
						}
					}
				}
				return nil
			}
			fns := []string{"avg", "sum", "min", "max", "count", "first", "last", "range", "std.p", "std.s", "var.p", "var.s"}
			for step := 0; step < 3000; step++ {
				key := keys[rng.IntN(len(keys))]
				switch op := rng.IntN(10); {
				case op < 4:
					tsv := int64(rng.IntN(5000))
					v := math.Round(rng.NormFloat64()*1000) / 8
					setRet := rng.IntN(40) == 0
					ret := int64(rng.IntN(3)) * int64(rng.IntN(3000))
					args := []any{"TSADD", key, tsv, strconv.FormatFloat(v, 'f', -1, 64)}
					if setRet {
						args = append(args, "RETENTION", ret)
					}
					want := add(key, tsv, v, ret, setRet)
					err := c.Do(ctx, args...).Err()
					if want != nil {
						require.EqualError(t, err, want.Error())
					} else {
						require.NoError(t, err)
					}
				case op < 6:
					args := []any{"TSMADD"}
					var wants []error
					for j := rng.IntN(4) + 1; j > 0; j-- {
						k := keys[rng.IntN(len(keys))]
						tsv := int64(rng.IntN(5000))
						v := float64(rng.IntN(100))
						args = append(args, k, tsv, v)
						wants = append(wants, add(k, tsv, v, 0, false))
					}
					res, err := c.Do(ctx, args...).Slice()
					require.NoError(t, err)
					for j, w := range wants {
						if w != nil {
							require.EqualError(t, res[j].(error), w.Error())
						} else {
							require.Equal(t, args[1+3*j+1], res[j])
						}
					}
				default:
					m := models[key]
					from, to := int64(rng.IntN(5500)), int64(rng.IntN(5500))
					if rng.IntN(4) == 0 {
						from = 0
					}
					args := []any{"TSRANGE", key, from, to}
					fn, bucket := "", int64(0)
					if rng.IntN(3) > 0 {
						fn, bucket = fns[rng.IntN(len(fns))], int64(rng.IntN(700)+1)
						args = append(args, "AGGREGATION", fn, bucket)
					}
					count := -1
					if rng.IntN(3) == 0 {
						count = rng.IntN(10)
						args = append(args, "COUNT", count)
					}
					got, err := c.Do(ctx, args...).Slice()
					require.NoError(t, err)
					want := modelRange(m, from, to, fn, bucket, count)
					require.Len(t, got, len(want), "%v", args)
					for i, w := range want {
						row := got[i].([]any)
						require.Equal(t, w[0], float64(row[0].(int64)), "%v", args)
						v, err := strconv.ParseFloat(row[1].(string), 64)
						require.NoError(t, err)
						require.InDelta(t, w[1], v, 1e-6*math.Max(1, math.Abs(w[1])), "%v", args)
					}
				}
			}
		})
	}
}

// tsModel is a series as a plain map.
type tsModel struct {
	s   map[int64]float64
	ret int64
}

// modelRange is TSRANGE over the model (m may be nil): [ts, value] rows.
func modelRange(m *tsModel, from, to int64, fn string, bucket int64, count int) [][2]float64 {
	if m == nil || count == 0 {
		return nil
	}
	var tss []int64
	for k := range m.s {
		if k >= from && k <= to {
			tss = append(tss, k)
		}
	}
	sort.Slice(tss, func(i, j int) bool { return tss[i] < tss[j] })
	var out [][2]float64
	if fn == "" {
		for _, k := range tss {
			out = append(out, [2]float64{float64(k), m.s[k]})
		}
	} else {
		for i := 0; i < len(tss); {
			b := tss[i] / bucket
			var xs []float64
			for ; i < len(tss) && tss[i]/bucket == b; i++ {
				xs = append(xs, m.s[tss[i]])
			}
			out = append(out, [2]float64{float64(b * bucket), modelAgg(fn, xs)})
		}
	}
	if count > 0 && len(out) > count {
		out = out[:count]
	}
	return out
}

func modelAgg(fn string, xs []float64) float64 {
	n := float64(len(xs))
	sum, lo, hi := 0.0, xs[0], xs[0]
	for _, x := range xs {
		sum += x
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	mean := sum / n
	ss := 0.0
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	vs := 0.0
	if len(xs) > 1 {
		vs = ss / (n - 1)
	}
	switch fn {
	case "avg":
		return mean
	case "sum":
		return sum
	case "min":
		return lo
	case "max":
		return hi
	case "count":
		return n
	case "first":
		return xs[0]
	case "last":
		return xs[len(xs)-1]
	case "range":
		return hi - lo
	case "var.p":
		return ss / n
	case "std.p":
		return math.Sqrt(ss / n)
	case "var.s":
		return vs
	case "std.s":
		return math.Sqrt(vs)
	}
	panic(fn)
}
