package server

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/luxdb/lux-go/pubsub"
	"github.com/luxdb/lux-go/storage"
)

// Sorted set commands (Redis 7.0's t_zset.c). The structure lives in
// storage/zset.go; here are the option parsing, Redis's reply shapes and the
// durable recording of each change (one element record per changed member).

func init() {
	const (
		w    = FlagWrite
		r    = FlagReadOnly
		oom  = FlagDenyOOM
		fast = FlagFast
		blk  = FlagBlocking
		g    = "sorted-set"
	)
	register(
		&Command{Name: "zadd", Arity: -4, Flags: w | oom | fast, FirstKey: 1, LastKey: 1, Handler: cmdZadd, Group: g, Summary: "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist."},
		&Command{Name: "zincrby", Arity: 4, Flags: w | oom | fast, FirstKey: 1, LastKey: 1, Handler: cmdZincrby, Group: g, Summary: "Increments the score of a member in a sorted set."},
		&Command{Name: "zrem", Arity: -3, Flags: w | fast, FirstKey: 1, LastKey: 1, Handler: cmdZrem, Group: g, Summary: "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed."},
		&Command{Name: "zcard", Arity: 2, Flags: r | fast, FirstKey: 1, LastKey: 1, Handler: cmdZcard, Group: g, Summary: "Returns the number of members in a sorted set."},
		&Command{Name: "zscore", Arity: 3, Flags: r | fast, FirstKey: 1, LastKey: 1, Handler: cmdZscore, Group: g, Summary: "Returns the score of a member in a sorted set."},
		&Command{Name: "zmscore", Arity: -3, Flags: r | fast, FirstKey: 1, LastKey: 1, Handler: cmdZmscore, Group: g, Summary: "Returns the score of one or more members in a sorted set."},
		&Command{Name: "zrank", Arity: 3, Flags: r | fast, FirstKey: 1, LastKey: 1, Handler: cmdZrank, Group: g, Summary: "Returns the index of a member in a sorted set ordered by ascending scores."},
		&Command{Name: "zrevrank", Arity: 3, Flags: r | fast, FirstKey: 1, LastKey: 1, Handler: cmdZrevrank, Group: g, Summary: "Returns the index of a member in a sorted set ordered by descending scores."},
		&Command{Name: "zcount", Arity: 4, Flags: r | fast, FirstKey: 1, LastKey: 1, Handler: cmdZcount, Group: g, Summary: "Returns the count of members in a sorted set that have scores within a range."},
		&Command{Name: "zlexcount", Arity: 4, Flags: r | fast, FirstKey: 1, LastKey: 1, Handler: cmdZlexcount, Group: g, Summary: "Returns the number of members in a sorted set within a lexicographical range."},
		&Command{Name: "zrange", Arity: -4, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdZrange, Group: g, Summary: "Returns members in a sorted set within a range of indexes."},
		&Command{Name: "zrangestore", Arity: -5, Flags: w | oom, FirstKey: 1, LastKey: 2, Handler: cmdZrangestore, Group: g, Summary: "Stores a range of members from sorted set in a key."},
		&Command{Name: "zrangebyscore", Arity: -4, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdZrangebyscore, Group: g, Summary: "Returns members in a sorted set within a range of scores."},
		&Command{Name: "zrevrangebyscore", Arity: -4, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdZrevrangebyscore, Group: g, Summary: "Returns members in a sorted set within a range of scores in reverse order."},
		&Command{Name: "zrangebylex", Arity: -4, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdZrangebylex, Group: g, Summary: "Returns members in a sorted set within a lexicographical range."},
		&Command{Name: "zrevrangebylex", Arity: -4, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdZrevrangebylex, Group: g, Summary: "Returns members in a sorted set within a lexicographical range in reverse order."},
		&Command{Name: "zrevrange", Arity: -4, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdZrevrange, Group: g, Summary: "Returns members in a sorted set within a range of indexes in reverse order."},
		&Command{Name: "zpopmin", Arity: -2, Flags: w | fast, FirstKey: 1, LastKey: 1, Handler: cmdZpopmin, Group: g, Summary: "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."},
		&Command{Name: "zpopmax", Arity: -2, Flags: w | fast, FirstKey: 1, LastKey: 1, Handler: cmdZpopmax, Group: g, Summary: "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."},
		&Command{Name: "zmpop", Arity: -4, Flags: w, Keys: zNumKeys(1, false), Handler: cmdZmpop, Group: g, Summary: "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped."},
		&Command{Name: "bzpopmin", Arity: -3, Flags: w | FlagNoScript | blk | fast, FirstKey: 1, LastKey: -2, Handler: cmdBzpopmin, Group: g, Summary: "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."},
		&Command{Name: "bzpopmax", Arity: -3, Flags: w | FlagNoScript | blk | fast, FirstKey: 1, LastKey: -2, Handler: cmdBzpopmax, Group: g, Summary: "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped."},
		&Command{Name: "bzmpop", Arity: -5, Flags: w | blk, Keys: zNumKeys(2, false), Handler: cmdBzmpop, Group: g, Summary: "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."},
		&Command{Name: "zremrangebyrank", Arity: 4, Flags: w, FirstKey: 1, LastKey: 1, Handler: cmdZremrangebyrank, Group: g, Summary: "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed."},
		&Command{Name: "zremrangebyscore", Arity: 4, Flags: w, FirstKey: 1, LastKey: 1, Handler: cmdZremrangebyscore, Group: g, Summary: "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed."},
		&Command{Name: "zremrangebylex", Arity: 4, Flags: w, FirstKey: 1, LastKey: 1, Handler: cmdZremrangebylex, Group: g, Summary: "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed."},
		&Command{Name: "zunion", Arity: -3, Flags: r, Keys: zNumKeys(1, false), Handler: cmdZunion, Group: g, Summary: "Returns the union of multiple sorted sets."},
		&Command{Name: "zinter", Arity: -3, Flags: r, Keys: zNumKeys(1, false), Handler: cmdZinter, Group: g, Summary: "Returns the intersect of multiple sorted sets."},
		&Command{Name: "zdiff", Arity: -3, Flags: r, Keys: zNumKeys(1, false), Handler: cmdZdiff, Group: g, Summary: "Returns the difference between multiple sorted sets."},
		&Command{Name: "zintercard", Arity: -3, Flags: r, Keys: zNumKeys(1, false), Handler: cmdZintercard, Group: g, Summary: "Returns the number of members of the intersect of multiple sorted sets."},
		&Command{Name: "zunionstore", Arity: -4, Flags: w | oom, FirstKey: 1, LastKey: 1, Keys: zNumKeys(2, true), Handler: cmdZunionstore, Group: g, Summary: "Stores the union of multiple sorted sets in a key."},
		&Command{Name: "zinterstore", Arity: -4, Flags: w | oom, FirstKey: 1, LastKey: 1, Keys: zNumKeys(2, true), Handler: cmdZinterstore, Group: g, Summary: "Stores the intersect of multiple sorted sets in a key."},
		&Command{Name: "zdiffstore", Arity: -4, Flags: w | oom, FirstKey: 1, LastKey: 1, Keys: zNumKeys(2, true), Handler: cmdZdiffstore, Group: g, Summary: "Stores the difference of multiple sorted sets in a key."},
		&Command{Name: "zrandmember", Arity: -2, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdZrandmember, Group: g, Summary: "Returns one or more random members from a sorted set."},
		&Command{Name: "zscan", Arity: -3, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdZscan, Group: g, Summary: "Iterates over members and scores of a sorted set."},
	)
}

// Error texts of the sorted set commands (Redis 7.0, byte for byte).
const (
	msgZXXNX          = "ERR XX and NX options at the same time are not compatible"
	msgZGTLTNX        = "ERR GT, LT, and/or NX options at the same time are not compatible"
	msgZIncrPair      = "ERR INCR option supports a single increment-element pair"
	msgZNaN           = "ERR resulting score is not a number (NaN)"
	msgZMinMaxFloat   = "ERR min or max is not a float"
	msgZMinMaxLex     = "ERR min or max not valid string range item"
	msgZLimitRank     = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
	msgZScoresLex     = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
	msgZWeightFloat   = "ERR weight value is not a float"
	msgZLimitNeg      = "ERR LIMIT can't be negative"
	msgZPositive      = "ERR value is out of range, must be positive"
	msgZNumKeys       = "ERR numkeys should be greater than 0"
	msgZCount         = "ERR count should be greater than 0"
	msgZRange         = "ERR value is out of range"
	msgZLongRange     = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
	msgZReplyTooLarge = "ERR reply too large"
)

// zMaxRandomReply bounds ZRANDMEMBER with a negative count: Redis would try
// to send any number of elements (and drop the client at its output limit);
// a reply this large is a client bug and is refused instead.
const zMaxRandomReply = 1 << 27

func zAtLeastOneKeyMsg(cmd string) string {
	return "ERR at least 1 input key is needed for '" + cmd + "' command"
}

// zNumKeys is the key spec of commands with a numkeys argument at index i
// (ZUNION, ZMPOP, BZMPOP, ...): the numkeys keys after it, preceded by the
// destination args[1] when dst is set. An invalid numkeys gives only the
// destination; the handler then replies with an error without touching keys.
func zNumKeys(i int, dst bool) func(args [][]byte) [][]byte {
	return func(args [][]byte) [][]byte {
		var out [][]byte
		if dst {
			out = append(out, args[1])
		}
		if len(args) <= i {
			return out
		}
		n, ok := parseInt(args[i])
		if !ok || n < 1 || n > int64(len(args)-i-1) {
			return out
		}
		return append(out, args[i+1:i+1+int(n)]...)
	}
}

// lookupZSet returns key's sorted set (nil if missing); ok is false (error
// written) when the key holds another type.
func lookupZSet(c *Client, key []byte, write bool) (e *storage.Entry, z *storage.ZSet, ok bool) {
	if write {
		e = c.DB().LookupWrite(key)
	} else {
		e = c.DB().Lookup(key)
	}
	if e == nil {
		return nil, nil, true
	}
	z, isZ := e.Object().(*storage.ZSet)
	if e.Type != storage.TypeZSet || !isZ {
		c.WriteError(msgWrongType)
		return nil, nil, false
	}
	return e, z, true
}

// zRemoved records the removal of members from key's set z (already removed
// in memory) and finishes the command's change: memory delta, WATCH, the
// keyspace event and, for a set left empty, the key's deletion with Redis's
// extra "del" event. A set left empty records no element deletions: the
// key's deletion removes every element in the same batch as its meta record.
func zRemoved(db storage.DB, key []byte, e *storage.Entry, z *storage.ZSet, before int, members [][]byte, event string) {
	tx := db.Begin()
	if z.Len() > 0 {
		for _, m := range members {
			tx.Del(key, m)
		}
	}
	tx.Changed(key, e, int64(z.MemSize()-before), event)
	tx.Commit()
}

// zStore replaces dst with res (non-empty), its encoding chosen from its
// contents, in one change: the *STORE commands.
func zStore(db storage.DB, dst []byte, res *storage.ZSet, event string) {
	res.FitEncoding()
	tx := db.Begin()
	tx.Store(dst, res, event)
	tx.Commit()
}

// zWriteHeader starts a reply of n members, with their scores when
// withScores is set (RESP3: n [member, score] pairs).
func zWriteHeader(c *Client, n int, withScores bool) {
	if withScores {
		c.WritePairs(n)
		return
	}
	c.WriteArray(n)
}

// zWriteMember writes a member, and its score when withScores is set.
func zWriteMember(c *Client, m []byte, score float64, withScores bool) {
	if withScores {
		c.WritePair()
	}
	c.WriteBulk(m)
	if withScores {
		c.WriteDouble(score)
	}
}

// ---- number parsing ----

// cStrtod parses a double like C's strtod: leading white space, a sign,
// decimal or hexadecimal (without the binary exponent too) notation,
// inf/infinity, nan. It returns the value, the bytes consumed (0 when
// nothing parses, like strtod's endptr at the start) and erange when the
// value overflowed or underflowed to zero.
func cStrtod(b []byte) (v float64, n int, erange bool) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	start := i
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	lower := func(j int) byte {
		if j < len(b) && b[j] >= 'A' && b[j] <= 'Z' {
			return b[j] + 'a' - 'A'
		}
		if j < len(b) {
			return b[j]
		}
		return 0
	}
	hasWord := func(j int, w string) bool {
		for k := 0; k < len(w); k++ {
			if lower(j+k) != w[k] {
				return false
			}
		}
		return true
	}
	neg := start < len(b) && b[start] == '-'
	switch {
	case hasWord(i, "infinity"):
		return math.Inf(zSign(neg)), i + 8, false
	case hasWord(i, "inf"):
		return math.Inf(zSign(neg)), i + 3, false
	case hasWord(i, "nan"):
		j := i + 3
		if j < len(b) && b[j] == '(' {
			k := j + 1
			for k < len(b) && (zIsAlnum(b[k]) || b[k] == '_') {
				k++
			}
			if k < len(b) && b[k] == ')' {
				j = k + 1
			}
		}
		return math.NaN(), j, false
	}
	if lower(i) == '0' && lower(i+1) == 'x' {
		j := i + 2
		digits, nonzero := 0, false
		for j < len(b) && zIsHex(b[j]) {
			nonzero = nonzero || b[j] != '0'
			j++
			digits++
		}
		if j < len(b) && b[j] == '.' {
			j++
			for j < len(b) && zIsHex(b[j]) {
				nonzero = nonzero || b[j] != '0'
				j++
				digits++
			}
		}
		if digits == 0 {
			// only "0" parses; the 'x' stops it
			return math.Copysign(0, float64(zSign(neg))), i + 1, false
		}
		mant := string(b[start:j])
		hasExp := false
		if lower(j) == 'p' {
			k := j + 1
			if k < len(b) && (b[k] == '+' || b[k] == '-') {
				k++
			}
			if k < len(b) && b[k] >= '0' && b[k] <= '9' {
				for k < len(b) && b[k] >= '0' && b[k] <= '9' {
					k++
				}
				mant, j, hasExp = string(b[start:k]), k, true
			}
		}
		if !hasExp {
			// Go needs the binary exponent C makes optional
			mant += "p0"
		}
		f, err := strconv.ParseFloat(mant, 64)
		return f, j, zRangeErr(err, f, nonzero)
	}
	j := i
	digits, nonzero := 0, false
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		nonzero = nonzero || b[j] != '0'
		j++
		digits++
	}
	if j < len(b) && b[j] == '.' {
		j++
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			nonzero = nonzero || b[j] != '0'
			j++
			digits++
		}
	}
	if digits == 0 {
		return 0, 0, false
	}
	if lower(j) == 'e' {
		k := j + 1
		if k < len(b) && (b[k] == '+' || b[k] == '-') {
			k++
		}
		if k < len(b) && b[k] >= '0' && b[k] <= '9' {
			for k < len(b) && b[k] >= '0' && b[k] <= '9' {
				k++
			}
			j = k
		}
	}
	f, err := strconv.ParseFloat(string(b[start:j]), 64)
	return f, j, zRangeErr(err, f, nonzero)
}

// zRangeErr reports strtod's ERANGE: overflow, or a non-zero input that
// underflowed to zero. (The scanner only hands ParseFloat well-formed
// numbers, so its only possible error is ErrRange.)
func zRangeErr(err error, f float64, nonzero bool) bool {
	if err != nil {
		return true
	}
	return f == 0 && nonzero
}

func zSign(neg bool) int {
	if neg {
		return -1
	}
	return 1
}

func zIsHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func zIsAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// zParseScore parses a score or weight like Redis's getDoubleFromObject:
// the whole argument, no leading space, no NaN, no overflow.
func zParseScore(b []byte) (float64, bool) {
	if len(b) == 0 || isSpace(b[0]) {
		return 0, false
	}
	v, n, erange := cStrtod(b)
	if n != len(b) || math.IsNaN(v) || (erange && (math.IsInf(v, 0) || v == 0)) {
		return 0, false
	}
	return v, true
}

// zScoreBound is one end of a score range ('(' = exclusive).
type zScoreBound struct {
	v  float64
	ex bool
}

// zParseScoreBound parses like zslParseRange: strtod on the argument (after
// '('), which must be consumed up to its end (or a NUL byte, since Redis
// looks at a C string); NaN is refused, overflow is accepted as infinity.
func zParseScoreBound(b []byte) (zScoreBound, bool) {
	var r zScoreBound
	if len(b) > 0 && b[0] == '(' {
		r.ex = true
		b = b[1:]
	}
	v, n, _ := cStrtod(b)
	if (n != len(b) && b[n] != 0) || math.IsNaN(v) {
		return r, false
	}
	r.v = v
	return r, true
}

// zLexBound is one end of a lexicographical range.
type zLexBound struct {
	v   []byte
	ex  bool
	inf int // -1 for "-", +1 for "+"
}

func zParseLexBound(b []byte) (zLexBound, bool) {
	if len(b) == 0 {
		return zLexBound{}, false
	}
	switch b[0] {
	case '+':
		return zLexBound{inf: 1, ex: true}, len(b) == 1
	case '-':
		return zLexBound{inf: -1, ex: true}, len(b) == 1
	case '(':
		return zLexBound{v: b[1:], ex: true}, true
	case '[':
		return zLexBound{v: b[1:]}, true
	}
	return zLexBound{}, false
}

// zScoreSpan returns the ranks [lo, hi) of the members with scores in [min, max].
func zScoreSpan(z *storage.ZSet, min, max zScoreBound) (lo, hi int) {
	lo = z.SearchScore(func(s float64) bool {
		if min.ex {
			return s > min.v
		}
		return s >= min.v
	})
	hi = z.SearchScore(func(s float64) bool {
		if max.ex {
			return s >= max.v
		}
		return s > max.v
	})
	return lo, max2(lo, hi)
}

// zLexSpan returns the ranks [lo, hi) of the members in the lex range.
func zLexSpan(z *storage.ZSet, min, max zLexBound) (lo, hi int) {
	// above reports whether m lies above bound b (strictly, or also on it)
	above := func(m []byte, b zLexBound, orEqual bool) bool {
		switch b.inf {
		case -1:
			return true
		case 1:
			return false
		}
		c := bytes.Compare(m, b.v)
		return c > 0 || (orEqual && c == 0)
	}
	lo = z.SearchLex(func(m []byte) bool { return above(m, min, !min.ex) })
	hi = z.SearchLex(func(m []byte) bool { return above(m, max, max.ex) })
	return lo, max2(lo, hi)
}

func max2(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// ---- ZADD, ZINCRBY, ZREM ----

const (
	zaddNX = 1 << iota
	zaddXX
	zaddGT
	zaddLT
	zaddIncr
	zaddCH
)

func cmdZadd(c *Client, args [][]byte)    { zaddGeneric(c, args, 0) }
func cmdZincrby(c *Client, args [][]byte) { zaddGeneric(c, args, zaddIncr) }

// zaddGeneric implements ZADD and ZINCRBY (which shares its option parsing in
// Redis, hence "ZINCRBY key nx 1" is a syntax error there too).
func zaddGeneric(c *Client, args [][]byte, flags int) {
	key := args[1]
	si := 2
	for ; si < len(args); si++ {
		a := args[si]
		switch {
		case eqFold(a, "nx"):
			flags |= zaddNX
		case eqFold(a, "xx"):
			flags |= zaddXX
		case eqFold(a, "ch"):
			flags |= zaddCH
		case eqFold(a, "incr"):
			flags |= zaddIncr
		case eqFold(a, "gt"):
			flags |= zaddGT
		case eqFold(a, "lt"):
			flags |= zaddLT
		default:
			goto parsed
		}
	}
parsed:
	elems := len(args) - si
	if elems == 0 || elems%2 != 0 {
		c.WriteError(msgSyntax)
		return
	}
	elems /= 2
	nx, xx, gt, lt, incr := flags&zaddNX != 0, flags&zaddXX != 0, flags&zaddGT != 0, flags&zaddLT != 0, flags&zaddIncr != 0
	if nx && xx {
		c.WriteError(msgZXXNX)
		return
	}
	if (gt && nx) || (lt && nx) || (gt && lt) {
		c.WriteError(msgZGTLTNX)
		return
	}
	if incr && elems > 1 {
		c.WriteError(msgZIncrPair)
		return
	}
	var small [8]float64
	scores := small[:0]
	for j := 0; j < elems; j++ {
		f, ok := zParseScore(args[si+2*j])
		if !ok {
			c.WriteError(msgNotFloat)
			return
		}
		scores = append(scores, f)
	}
	e, z, ok := lookupZSet(c, key, true)
	if !ok {
		return
	}
	db := c.DB()
	if z == nil {
		if xx {
			if incr {
				c.WriteNull()
			} else {
				c.WriteInt(0)
			}
			return
		}
		z = storage.NewZSet()
	}
	before := z.MemSize()
	added, updated, processed := 0, 0, 0
	var score float64
	var changed [8]int
	touched := changed[:0] // element indexes whose score changed
	nanErr := false
	for j := 0; j < elems; j++ {
		m := args[si+2*j+1]
		score = scores[j]
		cur, exists := z.Score(m)
		if exists {
			if nx {
				continue
			}
			if incr {
				score += cur
				if math.IsNaN(score) {
					nanErr = true
					break
				}
			}
			if (lt && score >= cur) || (gt && score <= cur) {
				continue
			}
			processed++
			if score != cur {
				z.Set(m, score)
				updated++
				touched = append(touched, j)
			}
		} else if !xx {
			z.Set(m, score)
			added++
			processed++
			touched = append(touched, j)
		}
	}
	if added+updated > 0 {
		ev := "zadd"
		if incr {
			ev = "zincr"
		}
		tx := db.Begin()
		if e == nil {
			tx.Store(key, z, ev)
		} else {
			for _, j := range touched {
				tx.PutMember(key, z, args[si+2*j+1])
			}
			tx.Changed(key, e, int64(z.MemSize()-before), ev)
		}
		tx.Commit()
	}
	switch {
	case nanErr:
		c.WriteError(msgZNaN)
	case incr && processed > 0:
		c.WriteDouble(score)
	case incr:
		c.WriteNull()
	case flags&zaddCH != 0:
		c.WriteInt(added + updated)
	default:
		c.WriteInt(added)
	}
}

func cmdZrem(c *Client, args [][]byte) {
	key := args[1]
	e, z, ok := lookupZSet(c, key, true)
	if !ok {
		return
	}
	if z == nil {
		c.WriteInt(0)
		return
	}
	db := c.DB()
	before := z.MemSize()
	var removed [][]byte
	for _, m := range args[2:] {
		if z.Remove(m) {
			removed = append(removed, m)
			if z.Len() == 0 {
				break
			}
		}
	}
	if len(removed) > 0 {
		zRemoved(db, key, e, z, before, removed, "zrem")
	}
	c.WriteInt(len(removed))
}

// ---- reads of single members ----

func cmdZcard(c *Client, args [][]byte) {
	_, z, ok := lookupZSet(c, args[1], false)
	if !ok {
		return
	}
	if z == nil {
		c.WriteInt(0)
		return
	}
	c.WriteInt(z.Len())
}

func cmdZscore(c *Client, args [][]byte) {
	_, z, ok := lookupZSet(c, args[1], false)
	if !ok {
		return
	}
	if z == nil {
		c.WriteNull()
		return
	}
	if s, found := z.Score(args[2]); found {
		c.WriteDouble(s)
	} else {
		c.WriteNull()
	}
}

func cmdZmscore(c *Client, args [][]byte) {
	_, z, ok := lookupZSet(c, args[1], false)
	if !ok {
		return
	}
	c.WriteArray(len(args) - 2)
	for _, m := range args[2:] {
		if z == nil {
			c.WriteNull()
			continue
		}
		if s, found := z.Score(m); found {
			c.WriteDouble(s)
		} else {
			c.WriteNull()
		}
	}
}

func cmdZrank(c *Client, args [][]byte)    { zrankGeneric(c, args, false) }
func cmdZrevrank(c *Client, args [][]byte) { zrankGeneric(c, args, true) }

func zrankGeneric(c *Client, args [][]byte, rev bool) {
	_, z, ok := lookupZSet(c, args[1], false)
	if !ok {
		return
	}
	if z == nil {
		c.WriteNull()
		return
	}
	r, found := z.Rank(args[2])
	if !found {
		c.WriteNull()
		return
	}
	if rev {
		r = z.Len() - 1 - r
	}
	c.WriteInt(r)
}

func cmdZcount(c *Client, args [][]byte) {
	min, ok1 := zParseScoreBound(args[2])
	max, ok2 := zParseScoreBound(args[3])
	if !ok1 || !ok2 {
		c.WriteError(msgZMinMaxFloat)
		return
	}
	_, z, ok := lookupZSet(c, args[1], false)
	if !ok {
		return
	}
	if z == nil {
		c.WriteInt(0)
		return
	}
	lo, hi := zScoreSpan(z, min, max)
	c.WriteInt(hi - lo)
}

func cmdZlexcount(c *Client, args [][]byte) {
	min, ok1 := zParseLexBound(args[2])
	max, ok2 := zParseLexBound(args[3])
	if !ok1 || !ok2 {
		c.WriteError(msgZMinMaxLex)
		return
	}
	_, z, ok := lookupZSet(c, args[1], false)
	if !ok {
		return
	}
	if z == nil {
		c.WriteInt(0)
		return
	}
	lo, hi := zLexSpan(z, min, max)
	c.WriteInt(hi - lo)
}

// ---- ZRANGE family ----

type zRangeType int

const (
	zRangeAuto zRangeType = iota
	zRangeRank
	zRangeScore
	zRangeLex
)

type zDirection int

const (
	zDirAuto zDirection = iota
	zDirForward
	zDirReverse
)

func cmdZrange(c *Client, args [][]byte) { zrangeGeneric(c, args, 1, false, zRangeAuto, zDirAuto) }
func cmdZrevrange(c *Client, args [][]byte) {
	zrangeGeneric(c, args, 1, false, zRangeRank, zDirReverse)
}
func cmdZrangebyscore(c *Client, args [][]byte) {
	zrangeGeneric(c, args, 1, false, zRangeScore, zDirForward)
}
func cmdZrevrangebyscore(c *Client, args [][]byte) {
	zrangeGeneric(c, args, 1, false, zRangeScore, zDirReverse)
}
func cmdZrangebylex(c *Client, args [][]byte) {
	zrangeGeneric(c, args, 1, false, zRangeLex, zDirForward)
}
func cmdZrevrangebylex(c *Client, args [][]byte) {
	zrangeGeneric(c, args, 1, false, zRangeLex, zDirReverse)
}
func cmdZrangestore(c *Client, args [][]byte) {
	zrangeGeneric(c, args, 2, true, zRangeAuto, zDirAuto)
}

// zrangeGeneric is Redis's zrangeGenericCommand: args[at] is the source key,
// followed by min, max and the options; store makes it ZRANGESTORE (the
// destination is args[1]).
func zrangeGeneric(c *Client, args [][]byte, at int, store bool, rt zRangeType, dir zDirection) {
	key := args[at]
	minIdx, maxIdx := at+1, at+2
	withScores := false
	var offset, limit int64 = 0, -1
	for j := at + 3; j < len(args); j++ {
		left := len(args) - j - 1
		a := args[j]
		switch {
		case !store && eqFold(a, "withscores"):
			withScores = true
		case eqFold(a, "limit") && left >= 2:
			var ok1, ok2 bool
			offset, ok1 = parseInt(args[j+1])
			if ok1 {
				limit, ok2 = parseInt(args[j+2])
			}
			if !ok1 || !ok2 {
				c.WriteError(msgNotInt)
				return
			}
			j += 2
		case dir == zDirAuto && eqFold(a, "rev"):
			dir = zDirReverse
		case rt == zRangeAuto && eqFold(a, "bylex"):
			rt = zRangeLex
		case rt == zRangeAuto && eqFold(a, "byscore"):
			rt = zRangeScore
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	if dir == zDirAuto {
		dir = zDirForward
	}
	if rt == zRangeAuto {
		rt = zRangeRank
	}
	// Redis tests the value, so "LIMIT 0 -1" passes with a rank range
	if limit != -1 && rt == zRangeRank {
		c.WriteError(msgZLimitRank)
		return
	}
	if withScores && rt == zRangeLex {
		c.WriteError(msgZScoresLex)
		return
	}
	rev := dir == zDirReverse
	if rev && rt != zRangeRank {
		minIdx, maxIdx = maxIdx, minIdx
	}
	var start, end int64
	var smin, smax zScoreBound
	var lmin, lmax zLexBound
	switch rt {
	case zRangeRank:
		var ok1, ok2 bool
		start, ok1 = parseInt(args[minIdx])
		if ok1 {
			end, ok2 = parseInt(args[maxIdx])
		}
		if !ok1 || !ok2 {
			c.WriteError(msgNotInt)
			return
		}
	case zRangeScore:
		var ok1, ok2 bool
		smin, ok1 = zParseScoreBound(args[minIdx])
		smax, ok2 = zParseScoreBound(args[maxIdx])
		if !ok1 || !ok2 {
			c.WriteError(msgZMinMaxFloat)
			return
		}
	case zRangeLex:
		var ok1, ok2 bool
		lmin, ok1 = zParseLexBound(args[minIdx])
		lmax, ok2 = zParseLexBound(args[maxIdx])
		if !ok1 || !ok2 {
			c.WriteError(msgZMinMaxLex)
			return
		}
	}
	_, z, ok := lookupZSet(c, key, false)
	if !ok {
		return
	}
	// the ranks [lo, hi) selected in ascending order, before offset/limit
	lo, hi := 0, 0
	if z != nil {
		switch rt {
		case zRangeRank:
			l, h, nonEmpty := normIndex(start, end, int64(z.Len()))
			if nonEmpty {
				lo, hi = int(l), int(h)
				if rev {
					// ranks counted from the top, as ascending ranks
					lo, hi = z.Len()-hi, z.Len()-lo
				}
			}
		case zRangeScore:
			lo, hi = zScoreSpan(z, smin, smax)
		case zRangeLex:
			lo, hi = zLexSpan(z, lmin, lmax)
		}
		if rt != zRangeRank {
			// offset skips elements in the direction of the walk; a negative
			// offset walks off the end in Redis and yields nothing
			if offset < 0 || offset >= int64(hi-lo) {
				lo, hi = 0, 0
			} else {
				n := int64(hi-lo) - offset
				if limit >= 0 && limit < n {
					n = limit
				}
				if rev {
					hi -= int(offset)
					lo = hi - int(n)
				} else {
					lo += int(offset)
					hi = lo + int(n)
				}
			}
		}
	}
	count := hi - lo
	if store {
		dst := args[1]
		db := c.DB()
		if count == 0 {
			db.Delete(dst)
			c.WriteInt(0)
			return
		}
		b := storage.NewZSetBuilder(count)
		z.Range(lo, hi, false, func(m []byte, s float64) bool {
			b.Add(m, s)
			return true
		})
		zStore(db, dst, b.Finish(), "zrangestore")
		c.WriteInt(count)
		return
	}
	zWriteHeader(c, count, withScores)
	if count == 0 {
		return
	}
	if rev {
		// reverse ranks: rank r from the top is ascending rank Len-1-r
		n := z.Len()
		z.Range(n-hi, n-lo, true, func(m []byte, s float64) bool {
			zWriteMember(c, m, s, withScores)
			return true
		})
		return
	}
	z.Range(lo, hi, false, func(m []byte, s float64) bool {
		zWriteMember(c, m, s, withScores)
		return true
	})
}

// ---- ZREMRANGEBY* ----

func cmdZremrangebyrank(c *Client, args [][]byte) {
	start, ok1 := parseInt(args[2])
	end, ok2 := int64(0), false
	if ok1 {
		end, ok2 = parseInt(args[3])
	}
	if !ok1 || !ok2 {
		c.WriteError(msgNotInt)
		return
	}
	e, z, ok := lookupZSet(c, args[1], true)
	if !ok {
		return
	}
	if z == nil {
		c.WriteInt(0)
		return
	}
	lo, hi, nonEmpty := normIndex(start, end, int64(z.Len()))
	if !nonEmpty {
		c.WriteInt(0)
		return
	}
	zRemoveRanks(c, args[1], e, z, int(lo), int(hi), "zremrangebyrank")
}

func cmdZremrangebyscore(c *Client, args [][]byte) {
	min, ok1 := zParseScoreBound(args[2])
	max, ok2 := zParseScoreBound(args[3])
	if !ok1 || !ok2 {
		c.WriteError(msgZMinMaxFloat)
		return
	}
	e, z, ok := lookupZSet(c, args[1], true)
	if !ok {
		return
	}
	if z == nil {
		c.WriteInt(0)
		return
	}
	lo, hi := zScoreSpan(z, min, max)
	zRemoveRanks(c, args[1], e, z, lo, hi, "zremrangebyscore")
}

func cmdZremrangebylex(c *Client, args [][]byte) {
	min, ok1 := zParseLexBound(args[2])
	max, ok2 := zParseLexBound(args[3])
	if !ok1 || !ok2 {
		c.WriteError(msgZMinMaxLex)
		return
	}
	e, z, ok := lookupZSet(c, args[1], true)
	if !ok {
		return
	}
	if z == nil {
		c.WriteInt(0)
		return
	}
	lo, hi := zLexSpan(z, min, max)
	zRemoveRanks(c, args[1], e, z, lo, hi, "zremrangebylex")
}

// zRemoveRanks removes the members of ranks [lo, hi) and replies with their number.
func zRemoveRanks(c *Client, key []byte, e *storage.Entry, z *storage.ZSet, lo, hi int, event string) {
	if hi <= lo {
		c.WriteInt(0)
		return
	}
	db := c.DB()
	before := z.MemSize()
	victims := zCopyMembers(z, lo, hi)
	for _, m := range victims {
		z.Remove(m)
	}
	zRemoved(db, key, e, z, before, victims, event)
	c.WriteInt(len(victims))
}

// zCopyMembers copies the members of ranks [lo, hi) out of the set (its
// slices are invalidated by removals) into one buffer.
func zCopyMembers(z *storage.ZSet, lo, hi int) [][]byte {
	out := make([][]byte, 0, hi-lo)
	var buf []byte
	z.Range(lo, hi, false, func(m []byte, _ float64) bool {
		// earlier slices keep pointing into the old array when buf grows,
		// which still holds their bytes
		buf = append(buf, m...)
		out = append(out, buf[len(buf)-len(m):len(buf):len(buf)])
		return true
	})
	return out
}

// ---- pops ----

// zpopReply selects a pop reply shape.
type zpopReply int

const (
	zpopFlat   zpopReply = iota // ZPOPMIN/ZPOPMAX: [m, s, m, s...]
	zpopPairs                   // ZPOPMIN/ZPOPMAX with a count in RESP3: [[m, s]...]
	zpopKeyed                   // BZPOPMIN/BZPOPMAX: [key, m, s]
	zpopNested                  // ZMPOP/BZMPOP: [key, [[m, s]...]]
)

// zpopFrom pops up to count members (lowest or highest) from key's set z,
// replying in shape.
func zpopFrom(c *Client, key []byte, e *storage.Entry, z *storage.ZSet, max bool, count int64, shape zpopReply) {
	n := int(min(count, int64(z.Len())))
	switch shape {
	case zpopFlat:
		c.WriteArray(2 * n)
	case zpopPairs:
		c.WriteArray(n)
	case zpopKeyed:
		c.WriteArray(2*n + 1)
		c.WriteBulk(key)
	case zpopNested:
		c.WriteArray(2)
		c.WriteBulk(key)
		c.WriteArray(n)
	}
	db := c.DB()
	before := z.MemSize()
	popped := make([][]byte, 0, n)
	var buf []byte
	for i := 0; i < n; i++ {
		r := 0
		if max {
			r = z.Len() - 1
		}
		m, s := z.At(r)
		// slices of buf stay valid when it grows (the old array keeps them)
		buf = append(buf, m...)
		m = buf[len(buf)-len(m) : len(buf) : len(buf)]
		popped = append(popped, m)
		if shape == zpopNested || shape == zpopPairs {
			c.WriteArray(2)
		}
		c.WriteBulk(m)
		c.WriteDouble(s)
		z.Remove(m)
	}
	ev := "zpopmin"
	if max {
		ev = "zpopmax"
	}
	zRemoved(db, key, e, z, before, popped, ev)
}

func cmdZpopmin(c *Client, args [][]byte) { zpopMinMax(c, args, false) }
func cmdZpopmax(c *Client, args [][]byte) { zpopMinMax(c, args, true) }

func zpopMinMax(c *Client, args [][]byte, max bool) {
	if len(args) > 3 {
		c.WriteError(msgSyntax)
		return
	}
	count := int64(1)
	if len(args) == 3 {
		// getPositiveLongFromObjectOrReply: one message for both failures
		n, ok := parseInt(args[2])
		if !ok || n < 0 {
			c.WriteError(msgZPositive)
			return
		}
		count = n
	}
	e, z, ok := lookupZSet(c, args[1], true)
	if !ok {
		return
	}
	if z == nil || count == 0 {
		c.WriteArray(0)
		return
	}
	shape := zpopFlat
	if len(args) == 3 && c.resp == 3 {
		shape = zpopPairs // Redis 7.0: nested when a count is given
	}
	zpopFrom(c, args[1], e, z, max, count, shape)
}

// zpopFirst pops from the first existing key of keys. It reports whether it
// replied (served, or WRONGTYPE). On a blocked client's re-run keys of
// another type are passed over: Redis 7.0 keeps such a client blocked.
func zpopFirst(c *Client, keys [][]byte, max bool, count int64, shape zpopReply) bool {
	retry := c.blockRetry()
	for _, k := range keys {
		e := c.DB().LookupWrite(k)
		if e == nil {
			continue
		}
		z, isZ := e.Object().(*storage.ZSet)
		if e.Type != storage.TypeZSet || !isZ {
			if retry {
				continue
			}
			c.WriteError(msgWrongType)
			return true
		}
		if z.Len() == 0 {
			continue
		}
		zpopFrom(c, k, e, z, max, count, shape)
		return true
	}
	return false
}

// zParseMpop parses [B]ZMPOP's numkeys key... MIN|MAX [COUNT count] with
// numkeys at args[i]; ok is false when an error was written.
func zParseMpop(c *Client, args [][]byte, i int) (keys [][]byte, max bool, count int64, ok bool) {
	n, valid := parseInt(args[i])
	if !valid || n < 1 {
		c.WriteError(msgZNumKeys)
		return nil, false, 0, false
	}
	// compared before adding, so a huge numkeys cannot overflow
	if n >= int64(len(args)-i-1) {
		c.WriteError(msgSyntax)
		return nil, false, 0, false
	}
	where := int64(i) + n + 1
	if where >= int64(len(args)) {
		c.WriteError(msgSyntax)
		return nil, false, 0, false
	}
	switch {
	case eqFold(args[where], "min"):
	case eqFold(args[where], "max"):
		max = true
	default:
		c.WriteError(msgSyntax)
		return nil, false, 0, false
	}
	count = -1
	for j := int(where) + 1; j < len(args); j++ {
		if count == -1 && eqFold(args[j], "count") && j+1 < len(args) {
			j++
			v, valid := parseInt(args[j])
			if !valid || v < 1 {
				c.WriteError(msgZCount)
				return nil, false, 0, false
			}
			count = v
			continue
		}
		c.WriteError(msgSyntax)
		return nil, false, 0, false
	}
	if count == -1 {
		count = 1
	}
	return args[i+1 : i+1+int(n)], max, count, true
}

func cmdZmpop(c *Client, args [][]byte) {
	keys, max, count, ok := zParseMpop(c, args, 1)
	if !ok {
		return
	}
	if !zpopFirst(c, keys, max, count, zpopNested) {
		c.WriteNullArray()
	}
}

func cmdBzpopmin(c *Client, args [][]byte) { bzpopGeneric(c, args, false) }
func cmdBzpopmax(c *Client, args [][]byte) { bzpopGeneric(c, args, true) }

func bzpopGeneric(c *Client, args [][]byte, max bool) {
	timeout, msg := parseTimeout(args[len(args)-1])
	if msg != "" {
		c.WriteError(msg)
		return
	}
	keys := args[1 : len(args)-1]
	if zpopFirst(c, keys, max, 1, zpopKeyed) {
		return
	}
	c.blockOn(keys, timeout, (*Client).WriteNullArray)
}

func cmdBzmpop(c *Client, args [][]byte) {
	keys, max, count, ok := zParseMpop(c, args, 2)
	if !ok {
		return
	}
	timeout, msg := parseTimeout(args[1])
	if msg != "" {
		c.WriteError(msg)
		return
	}
	if zpopFirst(c, keys, max, count, zpopNested) {
		return
	}
	c.blockOn(keys, timeout, (*Client).WriteNullArray)
}

// ---- ZUNION, ZINTER, ZDIFF and their STORE forms ----

// zsrc is one input of a set operation: a sorted set, or a plain set whose
// members all score 1.
type zsrc struct {
	z      *storage.ZSet
	s      *storage.Set
	weight float64
}

func (s *zsrc) len() int {
	switch {
	case s.z != nil:
		return s.z.Len()
	case s.s != nil:
		return s.s.Len()
	}
	return 0
}

func (s *zsrc) each(fn func(m []byte, score float64) bool) {
	switch {
	case s.z != nil:
		s.z.ForEach(fn)
	case s.s != nil:
		s.s.ForEach(func(m []byte) bool { return fn(m, 1) })
	}
}

func (s *zsrc) find(m []byte) (float64, bool) {
	switch {
	case s.z != nil:
		return s.z.Score(m)
	case s.s != nil && s.s.Has(m):
		return 1, true
	}
	return 0, false
}

const (
	zAggSum = iota
	zAggMin
	zAggMax
)

// zAggregate combines v into *t as Redis's zunionInterAggregate does (a sum
// of +inf and -inf is 0, not NaN).
func zAggregate(t *float64, v float64, agg int) {
	switch agg {
	case zAggSum:
		*t += v
		if math.IsNaN(*t) {
			*t = 0
		}
	case zAggMin:
		if v < *t {
			*t = v
		}
	case zAggMax:
		if v > *t {
			*t = v
		}
	}
}

type zsetOp int

const (
	zOpUnion zsetOp = iota
	zOpInter
	zOpDiff
)

func cmdZunion(c *Client, args [][]byte) { zsetOpGeneric(c, args, false, zOpUnion, false) }
func cmdZinter(c *Client, args [][]byte) { zsetOpGeneric(c, args, false, zOpInter, false) }
func cmdZdiff(c *Client, args [][]byte)  { zsetOpGeneric(c, args, false, zOpDiff, false) }
func cmdZintercard(c *Client, args [][]byte) {
	zsetOpGeneric(c, args, false, zOpInter, true)
}
func cmdZunionstore(c *Client, args [][]byte) { zsetOpGeneric(c, args, true, zOpUnion, false) }
func cmdZinterstore(c *Client, args [][]byte) { zsetOpGeneric(c, args, true, zOpInter, false) }
func cmdZdiffstore(c *Client, args [][]byte)  { zsetOpGeneric(c, args, true, zOpDiff, false) }

// zsetOpGeneric is Redis's zunionInterDiffGenericCommand.
func zsetOpGeneric(c *Client, args [][]byte, store bool, op zsetOp, cardOnly bool) {
	ni := 1
	if store {
		ni = 2
	}
	setnum, ok := parseInt(args[ni])
	if !ok {
		c.WriteError(msgNotInt)
		return
	}
	if setnum < 1 {
		c.WriteError(zAtLeastOneKeyMsg(string(bytes.ToLower(args[0]))))
		return
	}
	if setnum > int64(len(args)-ni-1) {
		c.WriteError(msgSyntax)
		return
	}
	db := c.DB()
	srcs := make([]zsrc, setnum)
	j := ni + 1
	for i := range srcs {
		srcs[i].weight = 1
		e := db.Lookup(args[j])
		j++
		if e == nil {
			continue
		}
		switch o := e.Object().(type) {
		case *storage.ZSet:
			if e.Type == storage.TypeZSet {
				srcs[i].z = o
				continue
			}
		case *storage.Set:
			if e.Type == storage.TypeSet {
				srcs[i].s = o
				continue
			}
		}
		c.WriteError(msgWrongType)
		return
	}
	agg := zAggSum
	withScores := false
	var limit int64
	for j < len(args) {
		rem := len(args) - j
		a := args[j]
		switch {
		case op != zOpDiff && !cardOnly && rem >= int(setnum)+1 && eqFold(a, "weights"):
			j++
			for i := range srcs {
				w, ok := zParseScore(args[j])
				if !ok {
					c.WriteError(msgZWeightFloat)
					return
				}
				srcs[i].weight = w
				j++
			}
		case op != zOpDiff && !cardOnly && rem >= 2 && eqFold(a, "aggregate"):
			switch v := args[j+1]; {
			case eqFold(v, "sum"):
				agg = zAggSum
			case eqFold(v, "min"):
				agg = zAggMin
			case eqFold(v, "max"):
				agg = zAggMax
			default:
				c.WriteError(msgSyntax)
				return
			}
			j += 2
		case !store && !cardOnly && eqFold(a, "withscores"):
			withScores = true
			j++
		case cardOnly && rem >= 2 && eqFold(a, "limit"):
			v, ok := parseInt(args[j+1])
			if !ok || v < 0 {
				c.WriteError(msgZLimitNeg)
				return
			}
			limit = v
			j += 2
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	if op != zOpDiff {
		// smallest inputs first, as Redis sorts them (stable, so equal sizes
		// keep their order and sums are added in argument order)
		slices.SortStableFunc(srcs, func(a, b zsrc) int { return a.len() - b.len() })
	}

	var b *storage.ZSetBuilder
	var card int64
	switch op {
	case zOpInter:
		if srcs[0].len() == 0 {
			break
		}
		if !cardOnly {
			b = storage.NewZSetBuilder(srcs[0].len())
		}
		srcs[0].each(func(m []byte, sc float64) bool {
			score := srcs[0].weight * sc
			if math.IsNaN(score) {
				score = 0
			}
			for k := 1; k < len(srcs); k++ {
				v, found := srcs[k].find(m)
				if !found {
					return true
				}
				zAggregate(&score, v*srcs[k].weight, agg)
			}
			if cardOnly {
				card++
				return limit == 0 || card < limit
			}
			b.Add(m, score)
			return true
		})
	case zOpUnion:
		acc := make(map[string]float64, srcs[len(srcs)-1].len())
		var order []string // first-seen order, so the build is deterministic
		for i := range srcs {
			s := &srcs[i]
			s.each(func(m []byte, sc float64) bool {
				score := s.weight * sc
				if math.IsNaN(score) {
					score = 0
				}
				if t, found := acc[string(m)]; found {
					zAggregate(&t, score, agg)
					acc[string(m)] = t
				} else {
					k := string(m)
					acc[k] = score
					order = append(order, k)
				}
				return true
			})
		}
		b = storage.NewZSetBuilder(len(order))
		for _, k := range order {
			b.Add([]byte(k), acc[k])
		}
	case zOpDiff:
		if srcs[0].len() == 0 {
			break
		}
		b = storage.NewZSetBuilder(0)
		srcs[0].each(func(m []byte, sc float64) bool {
			for k := 1; k < len(srcs); k++ {
				if _, found := srcs[k].find(m); found {
					return true
				}
			}
			b.Add(m, sc)
			return true
		})
	}
	if cardOnly {
		c.WriteInt64(card)
		return
	}
	res := storage.NewZSet()
	if b != nil {
		res = b.Finish()
	}
	if store {
		dst := args[1]
		if res.Len() == 0 {
			db.Delete(dst)
			c.WriteInt(0)
			return
		}
		ev := [...]string{zOpUnion: "zunionstore", zOpInter: "zinterstore", zOpDiff: "zdiffstore"}[op]
		n := res.Len()
		zStore(db, dst, res, ev)
		c.WriteInt(n)
		return
	}
	zWriteHeader(c, res.Len(), withScores)
	res.ForEach(func(m []byte, s float64) bool {
		zWriteMember(c, m, s, withScores)
		return true
	})
}

// ---- ZRANDMEMBER, ZSCAN ----

func cmdZrandmember(c *Client, args [][]byte) {
	if len(args) == 2 {
		_, z, ok := lookupZSet(c, args[1], false)
		if !ok {
			return
		}
		if z == nil {
			c.WriteNull()
			return
		}
		m, _ := z.At(rand.IntN(z.Len()))
		c.WriteBulk(m)
		return
	}
	l, ok := parseInt(args[2])
	if !ok {
		c.WriteError(msgNotInt)
		return
	}
	if l == math.MinInt64 {
		c.WriteError(msgZLongRange)
		return
	}
	withScores := false
	if len(args) > 4 || (len(args) == 4 && !eqFold(args[3], "withscores")) {
		c.WriteError(msgSyntax)
		return
	}
	if len(args) == 4 {
		withScores = true
		if l < -math.MaxInt64/2 || l > math.MaxInt64/2 {
			c.WriteError(msgZRange)
			return
		}
	}
	_, z, ok := lookupZSet(c, args[1], false)
	if !ok {
		return
	}
	if z == nil || l == 0 {
		c.WriteArray(0)
		return
	}
	size := z.Len()
	reply := func(r int) {
		m, s := z.At(r)
		zWriteMember(c, m, s, withScores)
	}
	// CASE 1: negative count (repetitions allowed) or a single member
	if l < 0 || l == 1 {
		count := -l
		if l == 1 {
			count = 1
		}
		if count > zMaxRandomReply {
			c.WriteError(msgZReplyTooLarge)
			return
		}
		zWriteHeader(c, int(count), withScores)
		for i := int64(0); i < count; i++ {
			reply(rand.IntN(size))
		}
		return
	}
	// CASE 2: the whole set, highest score first (Redis's set-operation
	// iterator walks from the tail)
	if l >= int64(size) {
		zWriteHeader(c, size, withScores)
		for r := size - 1; r >= 0; r-- {
			reply(r)
		}
		return
	}
	count := int(l)
	zWriteHeader(c, count, withScores)
	if count*3 > size {
		// CASE 3: close to the whole set: a partial shuffle of all ranks
		ranks := make([]int, size)
		for i := range ranks {
			ranks[i] = i
		}
		for i := 0; i < count; i++ {
			k := i + rand.IntN(size-i)
			ranks[i], ranks[k] = ranks[k], ranks[i]
			reply(ranks[i])
		}
		return
	}
	// CASE 4: few out of many: random ranks, skipping repeats
	seen := make(map[int]struct{}, count)
	for len(seen) < count {
		r := rand.IntN(size)
		if _, dup := seen[r]; dup {
			continue
		}
		seen[r] = struct{}{}
		reply(r)
	}
}

func cmdZscan(c *Client, args [][]byte) {
	cursor, ok := hsParseCursor(args[2])
	if !ok {
		c.WriteError(msgInvalidCursor)
		return
	}
	_, z, ok := lookupZSet(c, args[1], false)
	if !ok {
		return
	}
	if z == nil {
		hsWriteScan(c, 0, nil)
		return
	}
	o, msg := hsParseScanOpts(args[3:])
	if msg != "" {
		c.WriteError(msg)
		return
	}
	var items [][]byte
	next := z.Scan(cursor, o.count, func(m []byte, s float64) {
		if o.pattern == nil || pubsub.Match(o.pattern, m, false) {
			items = append(items, m, formatFloat(s))
		}
	})
	hsWriteScan(c, next, items)
}
