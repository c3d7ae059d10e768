package server

import (
	"bytes"
	"math"
	"strconv"

	"github.com/luxdb/lux-go/storage"
)

// Time series commands (docs/LUX-EXTENSIONS.md, "Time series"): a series is
// an ordinary key of type timeseries (storage.TimeSeries); TSMRANGE reads
// the database's label index (storage/tsindex.go).
func init() {
	const (
		w  = FlagWrite | FlagDenyOOM | FlagFast
		r  = FlagReadOnly | FlagFast
		ts = "timeseries"
	)
	register(
		&Command{Name: "tsadd", Arity: -4, Flags: w, FirstKey: 1, LastKey: 1, Handler: cmdTSAdd, Group: ts, Summary: "Appends a sample to a time series, creating it if needed."},
		&Command{Name: "tsmadd", Arity: -4, Flags: w, FirstKey: 1, LastKey: -3, Step: 3, Handler: cmdTSMAdd, Group: ts, Summary: "Appends samples to one or more time series."},
		&Command{Name: "tsget", Arity: 2, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdTSGet, Group: ts, Summary: "Returns the newest sample of a time series."},
		&Command{Name: "tsrange", Arity: -4, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Handler: cmdTSRange, Group: ts, Summary: "Returns the samples of a time series in a time range, optionally aggregated."},
		&Command{Name: "tsmrange", Arity: -3, Flags: FlagReadOnly | FlagLockDB, Handler: cmdTSMRange, Group: ts, Summary: "Returns the samples of every time series matching label filters in a time range."},
		&Command{Name: "tsinfo", Arity: 2, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdTSInfo, Group: ts, Summary: "Returns the sample count, time span, retention and labels of a time series."},
	)
}

// Error texts of the time series commands (the contract's, byte for byte).
const (
	msgTSInvalidTS        = "ERR invalid timestamp"
	msgTSInvalidRetention = "ERR invalid retention"
	msgTSTooManyLabels    = "ERR too many labels (max 64)"
	msgTSTooOld           = "ERR timestamp is older than retention"
	msgTSInvalidBucket    = "ERR invalid bucket size"
	msgTSInvalidCount     = "ERR invalid count"
	msgTSNoKey            = "ERR TSDB: the key does not exist"
)

func tsInvalidLabelMsg(name []byte) string {
	return sanitizeErr("ERR invalid label name '" + string(name) + "'")
}

func tsDuplicateLabelMsg(name []byte) string {
	return sanitizeErr("ERR duplicate label '" + string(name) + "'")
}

func tsUnknownAggMsg(fn []byte) string {
	return sanitizeErr("ERR unknown aggregation function '" + string(fn) + "'")
}

func tsInvalidFilterMsg(tok []byte) string {
	return sanitizeErr("ERR invalid filter '" + string(tok) + "', expected label=value")
}

// ---- argument parsing ----

// tsParseInt parses an integer as the contract defines it: an optional
// sign and decimal digits, within int64.
func tsParseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 32 {
		return 0, false
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	return v, err == nil
}

// tsParseTS parses a sample timestamp: `*` (now) or an integer >= 0.
func tsParseTS(b []byte) (int64, bool) {
	if len(b) == 1 && b[0] == '*' {
		return storage.NowMs(), true
	}
	v, ok := tsParseInt(b)
	return v, ok && v >= 0
}

// tsParseBound parses a TSRANGE bound: `-`, `+` or an integer >= 0.
func tsParseBound(b []byte) (int64, bool) {
	if len(b) == 1 {
		switch b[0] {
		case '-':
			return 0, true
		case '+':
			return math.MaxInt64, true
		}
	}
	v, ok := tsParseInt(b)
	return v, ok && v >= 0
}

// parseTSAdd parses TSADD's arguments; it returns an error text or "".
func parseTSAdd(args [][]byte) (storage.TSAdd, string) {
	var a storage.TSAdd
	var ok bool
	if a.TS, ok = tsParseTS(args[2]); !ok {
		return a, msgTSInvalidTS
	}
	if a.Val, ok = parseFiniteFloat(args[3], 64); !ok {
		return a, msgNotFloat
	}
	for i := 4; i < len(args); {
		switch {
		case eqFold(args[i], "retention"):
			if i+1 >= len(args) {
				return a, msgSyntax
			}
			r, ok := tsParseInt(args[i+1])
			if !ok || r < 0 {
				return a, msgTSInvalidRetention
			}
			a.Retention, a.SetRetention = r, true
			i += 2
		case eqFold(args[i], "labels"):
			i++
			a.SetLabels, a.Labels = true, nil
			for i < len(args) && !eqFold(args[i], "retention") {
				if i+1 >= len(args) {
					return a, msgSyntax
				}
				name := args[i]
				if len(name) == 0 || bytes.IndexByte(name, '=') >= 0 {
					return a, tsInvalidLabelMsg(name)
				}
				for _, l := range a.Labels {
					if l.Name == string(name) {
						return a, tsDuplicateLabelMsg(name)
					}
				}
				if len(a.Labels) == storage.MaxLabels {
					return a, msgTSTooManyLabels
				}
				a.Labels = append(a.Labels, storage.Label{Name: string(name), Value: string(args[i+1])})
				i += 2
			}
		default:
			return a, msgSyntax
		}
	}
	return a, ""
}

// lookupSeries returns key's series (nil if missing); ok is false (error
// written) when the key holds another type.
func lookupSeries(c *Client, db storage.DB, key []byte, write bool) (e *storage.Entry, t *storage.TimeSeries, ok bool) {
	if write {
		e = db.LookupWrite(key)
	} else {
		e = db.Lookup(key)
	}
	if e == nil {
		return nil, nil, true
	}
	t, isTS := e.Object().(*storage.TimeSeries)
	if e.Type != storage.TypeTimeSeries || !isTS {
		if c != nil {
			c.WriteError(msgWrongType)
		}
		return nil, nil, false
	}
	return e, t, true
}

func cmdTSAdd(c *Client, args [][]byte) {
	a, msg := parseTSAdd(args)
	if msg != "" {
		c.WriteError(msg)
		return
	}
	key := args[1]
	e, t, ok := lookupSeries(c, c.DB(), key, true)
	if !ok {
		return
	}
	if t == nil {
		t = storage.NewTimeSeries()
	}
	tx := c.DB().Begin()
	_, err := tx.TSAdd(key, e, t, a, "tsadd")
	tx.Commit()
	if err != nil {
		c.WriteError(msgTSTooOld)
		return
	}
	c.WriteInt64(a.TS)
}

// cmdTSMAdd applies each triple like a TSADD without options; a triple's
// error is its own reply entry. One change set: the whole command reaches
// the disk in one batch, and its keys are locked throughout.
func cmdTSMAdd(c *Client, args [][]byte) {
	if (len(args)-1)%3 != 0 {
		c.WriteError(wrongArgsMsg(c.cmd.Name))
		return
	}
	n := (len(args) - 1) / 3
	db := c.DB()
	tx := db.Begin()
	c.WriteArray(n)
	for i := 1; i < len(args); i += 3 {
		var a storage.TSAdd
		var ok bool
		if a.TS, ok = tsParseTS(args[i+1]); !ok {
			c.WriteError(msgTSInvalidTS)
			continue
		}
		if a.Val, ok = parseFiniteFloat(args[i+2], 64); !ok {
			c.WriteError(msgNotFloat)
			continue
		}
		key := args[i]
		e, t, ok := lookupSeries(c, db, key, true)
		if !ok {
			continue
		}
		if t == nil {
			t = storage.NewTimeSeries()
		}
		if _, err := tx.TSAdd(key, e, t, a, "tsmadd"); err != nil {
			c.WriteError(msgTSTooOld)
			continue
		}
		c.WriteInt64(a.TS)
	}
	tx.Commit()
}

// writeSample writes [(integer) ts, value].
func writeSample(c *Client, buf []byte, ts int64, v float64) []byte {
	c.WriteArray(2)
	c.WriteInt64(ts)
	buf = strconv.AppendFloat(buf[:0], v, 'f', -1, 64)
	c.WriteBulk(buf)
	return buf
}

func cmdTSGet(c *Client, args [][]byte) {
	_, t, ok := lookupSeries(c, c.DB(), args[1], false)
	if !ok {
		return
	}
	if t == nil {
		c.WriteNullArray()
		return
	}
	last := t.Last()
	writeSample(c, nil, last.TS, last.Val)
}

func cmdTSInfo(c *Client, args [][]byte) {
	_, t, ok := lookupSeries(c, c.DB(), args[1], false)
	if !ok {
		return
	}
	if t == nil {
		c.WriteError(msgTSNoKey)
		return
	}
	c.WriteArray(10)
	c.WriteBulkString("totalSamples")
	c.WriteInt(t.Len())
	c.WriteBulkString("firstTimestamp")
	c.WriteInt64(t.First().TS)
	c.WriteBulkString("lastTimestamp")
	c.WriteInt64(t.Last().TS)
	c.WriteBulkString("retentionTime")
	c.WriteInt64(t.Retention())
	c.WriteBulkString("labels")
	writeLabels(c, t.Labels())
}

func writeLabels(c *Client, labels []storage.Label) {
	c.WriteArray(len(labels))
	for _, l := range labels {
		c.WriteArray(2)
		c.WriteBulkString(l.Name)
		c.WriteBulkString(l.Value)
	}
}

// ---- ranges and aggregation ----

// tsAgg is an aggregation function.
type tsAgg uint8

const (
	aggNone tsAgg = iota
	aggAvg
	aggSum
	aggMin
	aggMax
	aggCount
	aggFirst
	aggLast
	aggRange
	aggStdP
	aggStdS
	aggVarP
	aggVarS
)

var tsAggNames = []struct {
	name string
	agg  tsAgg
}{
	{"avg", aggAvg}, {"sum", aggSum}, {"min", aggMin}, {"max", aggMax}, {"count", aggCount},
	{"first", aggFirst}, {"last", aggLast}, {"range", aggRange}, {"std.p", aggStdP},
	{"std.s", aggStdS}, {"var.p", aggVarP}, {"var.s", aggVarS},
}

// tsRangeOpts are the range options shared by TSRANGE and TSMRANGE.
type tsRangeOpts struct {
	from, to int64
	agg      tsAgg
	bucket   int64
	count    int64 // -1: no COUNT
	filters  []storage.Label
}

// parseTSRange parses `from to` and the options from args[i:]; multi allows
// TSMRANGE's FILTER and WITHLABELS. It returns an error text or "".
func parseTSRange(args [][]byte, i int, multi bool) (tsRangeOpts, string) {
	o := tsRangeOpts{count: -1}
	var ok bool
	if o.from, ok = tsParseBound(args[i]); !ok {
		return o, msgTSInvalidTS
	}
	if o.to, ok = tsParseBound(args[i+1]); !ok {
		return o, msgTSInvalidTS
	}
	for i += 2; i < len(args); {
		switch {
		case eqFold(args[i], "aggregation"):
			if i+2 >= len(args) {
				return o, msgSyntax
			}
			o.agg = aggNone
			for _, a := range tsAggNames {
				if eqFold(args[i+1], a.name) {
					o.agg = a.agg
				}
			}
			if o.agg == aggNone {
				return o, tsUnknownAggMsg(args[i+1])
			}
			b, ok := tsParseInt(args[i+2])
			if !ok || b <= 0 {
				return o, msgTSInvalidBucket
			}
			o.bucket = b
			i += 3
		case eqFold(args[i], "count"):
			if i+1 >= len(args) {
				return o, msgSyntax
			}
			n, ok := tsParseInt(args[i+1])
			if !ok || n < 0 {
				return o, msgTSInvalidCount
			}
			o.count = n
			i += 2
		case multi && eqFold(args[i], "withlabels"):
			i++
		case multi && eqFold(args[i], "filter"):
			i++
			start := i
			for ; i < len(args) && !tsKeyword(args[i]); i++ {
				eq := bytes.IndexByte(args[i], '=')
				if eq <= 0 {
					return o, tsInvalidFilterMsg(args[i])
				}
				o.filters = append(o.filters, storage.Label{Name: string(args[i][:eq]), Value: string(args[i][eq+1:])})
			}
			if i == start {
				return o, msgSyntax
			}
		default:
			return o, msgSyntax
		}
	}
	return o, ""
}

func tsKeyword(b []byte) bool {
	return eqFold(b, "filter") || eqFold(b, "aggregation") || eqFold(b, "count") || eqFold(b, "withlabels")
}

// tsRange computes the reply entries of one series: the raw samples or the
// non-empty buckets, at most o.count of them.
func tsRange(t *storage.TimeSeries, o *tsRangeOpts, out []storage.Sample, scratch []float64) ([]storage.Sample, []float64) {
	limit := o.count
	if limit == 0 {
		return out, scratch
	}
	if o.agg == aggNone {
		t.Range(o.from, o.to, func(x storage.Sample) bool {
			out = append(out, x)
			return limit < 0 || int64(len(out)) < limit
		})
		return out, scratch
	}
	bucket := int64(-1)
	vals := scratch[:0]
	full := false
	flush := func() {
		if len(vals) > 0 {
			out = append(out, storage.Sample{TS: bucket * o.bucket, Val: aggregate(o.agg, vals)})
			vals = vals[:0]
			full = limit >= 0 && int64(len(out)) >= limit
		}
	}
	t.Range(o.from, o.to, func(x storage.Sample) bool {
		if k := x.TS / o.bucket; k != bucket {
			flush()
			if full {
				return false
			}
			bucket = k
		}
		vals = append(vals, x.Val)
		return true
	})
	if !full {
		flush()
	}
	return out, vals
}

// aggregate reduces one bucket's values (in timestamp order, n >= 1).
func aggregate(a tsAgg, x []float64) float64 {
	n := float64(len(x))
	switch a {
	case aggCount:
		return n
	case aggFirst:
		return x[0]
	case aggLast:
		return x[len(x)-1]
	case aggMin, aggMax, aggRange:
		lo, hi := x[0], x[0]
		for _, v := range x[1:] {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		switch a {
		case aggMin:
			return lo
		case aggMax:
			return hi
		}
		return hi - lo
	}
	sum := 0.0
	for _, v := range x {
		sum += v
	}
	switch a {
	case aggSum:
		return sum
	case aggAvg:
		return sum / n
	}
	mean := sum / n
	ss := 0.0
	for _, v := range x {
		d := v - mean
		ss += d * d
	}
	var v float64
	switch a {
	case aggVarP, aggStdP:
		v = ss / n
	default: // sample variance; 0 for one value
		if len(x) > 1 {
			v = ss / (n - 1)
		}
	}
	if a == aggStdP || a == aggStdS {
		return math.Sqrt(v)
	}
	return v
}

func writeSamples(c *Client, s []storage.Sample) {
	c.WriteArray(len(s))
	var buf []byte
	for _, x := range s {
		buf = writeSample(c, buf, x.TS, x.Val)
	}
}

func cmdTSRange(c *Client, args [][]byte) {
	o, msg := parseTSRange(args, 2, false)
	if msg != "" {
		c.WriteError(msg)
		return
	}
	_, t, ok := lookupSeries(c, c.DB(), args[1], false)
	if !ok {
		return
	}
	if t == nil {
		c.WriteArray(0)
		return
	}
	out, _ := tsRange(t, &o, nil, nil)
	writeSamples(c, out)
}

// cmdTSMRange answers from the label index of the selected database, whose
// shards are all locked (FlagLockDB): the matching series, read through
// the ordinary lookup (cold ones are loaded, expired ones removed).
func cmdTSMRange(c *Client, args [][]byte) {
	o, msg := parseTSRange(args, 1, true)
	if msg != "" {
		c.WriteError(msg)
		return
	}
	db := c.DB()
	type match struct {
		key string
		t   *storage.TimeSeries
	}
	var found []match
	for _, k := range db.SeriesKeys(o.filters) {
		if _, t, ok := lookupSeries(nil, db, []byte(k), false); ok && t != nil {
			found = append(found, match{k, t})
		}
	}
	c.WriteArray(len(found))
	var out []storage.Sample
	var scratch []float64
	for _, m := range found {
		c.WriteArray(3)
		c.WriteBulkString(m.key)
		writeLabels(c, m.t.Labels())
		out, scratch = tsRange(m.t, &o, out[:0], scratch)
		writeSamples(c, out)
	}
}
