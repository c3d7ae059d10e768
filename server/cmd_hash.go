package server

import (
	"math"
	"math/big"
	"strconv"

	"github.com/luxdb/lux-go/pubsub"
	"github.com/luxdb/lux-go/storage"
)

func init() {
	const (
		w    = FlagWrite | FlagDenyOOM | FlagFast
		r    = FlagReadOnly | FlagFast
		hash = "hash"
	)
	register(
		&Command{Name: "hset", Arity: -4, Flags: w, FirstKey: 1, LastKey: 1, Handler: cmdHSet, Group: hash, Summary: "Creates or modifies the value of a field in a hash."},
		&Command{Name: "hmset", Arity: -4, Flags: w, FirstKey: 1, LastKey: 1, Handler: cmdHSet, Group: hash, Summary: "Sets the values of multiple fields."},
		&Command{Name: "hsetnx", Arity: 4, Flags: w, FirstKey: 1, LastKey: 1, Handler: cmdHSetNX, Group: hash, Summary: "Sets the value of a field in a hash only when the field doesn't exist."},
		&Command{Name: "hget", Arity: 3, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdHGet, Group: hash, Summary: "Returns the value of a field in a hash."},
		&Command{Name: "hmget", Arity: -3, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdHMGet, Group: hash, Summary: "Returns the values of all fields in a hash."},
		&Command{Name: "hdel", Arity: -3, Flags: FlagWrite | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdHDel, Group: hash, Summary: "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."},
		&Command{Name: "hlen", Arity: 2, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdHLen, Group: hash, Summary: "Returns the number of fields in a hash."},
		&Command{Name: "hstrlen", Arity: 3, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdHStrLen, Group: hash, Summary: "Returns the length of the value of a field."},
		&Command{Name: "hexists", Arity: 3, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdHExists, Group: hash, Summary: "Determines whether a field exists in a hash."},
		&Command{Name: "hkeys", Arity: 2, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Handler: cmdHKeys, Group: hash, Summary: "Returns all fields in a hash."},
		&Command{Name: "hvals", Arity: 2, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Handler: cmdHVals, Group: hash, Summary: "Returns all values in a hash."},
		&Command{Name: "hgetall", Arity: 2, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Handler: cmdHGetAll, Group: hash, Summary: "Returns all fields and values in a hash."},
		&Command{Name: "hincrby", Arity: 4, Flags: w, FirstKey: 1, LastKey: 1, Handler: cmdHIncrBy, Group: hash, Summary: "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."},
		&Command{Name: "hincrbyfloat", Arity: 4, Flags: w, FirstKey: 1, LastKey: 1, Handler: cmdHIncrByFloat, Group: hash, Summary: "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."},
		&Command{Name: "hrandfield", Arity: -2, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Handler: cmdHRandField, Group: hash, Summary: "Returns one or more random fields from a hash."},
		&Command{Name: "hscan", Arity: -3, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Handler: cmdHScan, Group: hash, Summary: "Iterates over fields and values of a hash."},
	)
}

// Error texts of the hash and set commands (Redis 7.0, byte for byte).
const (
	msgHashNotInt        = "ERR hash value is not an integer"
	msgHashNotFloat      = "ERR hash value is not a float"
	msgHashIncrNaNInf    = "ERR value is NaN or Infinity"
	msgHSValueRange      = "ERR value is out of range"
	msgSetPopPositive    = "ERR value is out of range, must be positive"
	msgHSLongRange       = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
	msgSetNumKeys        = "ERR numkeys should be greater than 0"
	msgSetNumKeysTooMany = "ERR Number of keys can't be greater than number of args"
	msgSetLimitNeg       = "ERR LIMIT can't be negative"
	msgHSReplyTooLarge   = "ERR reply too large"
)

// hsMaxRandomReply bounds the elements of one HRANDFIELD/SRANDMEMBER reply with
// a negative count. Redis would try to build any size (and run out of memory);
// a reply this large is a client bug, refused instead of crashing the server.
const hsMaxRandomReply = 1 << 27

// lookupHash returns key's hash, nil if missing; ok is false (error written)
// when the key holds another type.
func lookupHash(c *Client, key []byte, write bool) (e *storage.Entry, h *storage.Hash, ok bool) {
	if write {
		e = c.DB().LookupWrite(key)
	} else {
		e = c.DB().Lookup(key)
	}
	if e == nil {
		return nil, nil, true
	}
	h, isHash := e.Object().(*storage.Hash)
	if e.Type != storage.TypeHash || !isHash {
		c.WriteError(msgWrongType)
		return nil, nil, false
	}
	return e, h, true
}

// hashForWrite returns key's hash or, when missing, a new empty one that is
// not in the keyspace yet (e == nil): the caller adds it with Tx.Create
// once it holds an element, so a failed command never leaves an empty key.
func hashForWrite(c *Client, key []byte) (e *storage.Entry, h *storage.Hash, ok bool) {
	e, h, ok = lookupHash(c, key, true)
	if ok && h == nil {
		h = storage.NewHash()
	}
	return e, h, ok
}

func cmdHSet(c *Client, args [][]byte) {
	if len(args)%2 != 0 {
		c.WriteError(wrongArgsMsg(c.cmd.Name))
		return
	}
	key := args[1]
	e, h, ok := hashForWrite(c, key)
	if !ok {
		return
	}
	before := h.MemSize()
	created := 0
	for i := 2; i < len(args); i += 2 {
		if h.Set(args[i], args[i+1]) {
			created++
		}
	}
	tx := c.DB().Begin()
	if e == nil {
		e = tx.Create(key, h)
		before = h.MemSize()
	}
	for i := 2; i < len(args); i += 2 {
		tx.Put(key, args[i], args[i+1])
	}
	tx.Changed(key, e, int64(h.MemSize()-before), "hset")
	tx.Commit()
	if c.cmd.Name == "hmset" {
		c.WriteOK()
	} else {
		c.WriteInt(created)
	}
}

func cmdHSetNX(c *Client, args [][]byte) {
	key, field := args[1], args[2]
	e, h, ok := hashForWrite(c, key)
	if !ok {
		return
	}
	if h.Has(field) {
		c.WriteInt(0)
		return
	}
	hsSetHashField(c, key, e, h, field, args[3], "hset")
	c.WriteInt(1)
}

func cmdHGet(c *Client, args [][]byte) {
	_, h, ok := lookupHash(c, args[1], false)
	if !ok {
		return
	}
	if h == nil {
		c.WriteNull()
		return
	}
	if v, found := h.Get(args[2]); found {
		c.WriteBulk(v)
	} else {
		c.WriteNull()
	}
}

func cmdHMGet(c *Client, args [][]byte) {
	_, h, ok := lookupHash(c, args[1], false)
	if !ok {
		return
	}
	c.WriteArray(len(args) - 2)
	for _, f := range args[2:] {
		if h == nil {
			c.WriteNull()
			continue
		}
		if v, found := h.Get(f); found {
			c.WriteBulk(v)
		} else {
			c.WriteNull()
		}
	}
}

func cmdHDel(c *Client, args [][]byte) {
	key := args[1]
	e, h, ok := lookupHash(c, key, true)
	if !ok {
		return
	}
	if h == nil {
		c.WriteInt(0)
		return
	}
	var tx *storage.Tx
	before := h.MemSize()
	n := 0
	for _, f := range args[2:] {
		if h.Delete(f) {
			if tx == nil {
				tx = c.DB().Begin()
			}
			n++
			tx.Del(key, f)
			if h.Len() == 0 {
				break
			}
		}
	}
	if tx != nil {
		tx.Changed(key, e, int64(h.MemSize()-before), "hdel")
		tx.Commit()
	}
	c.WriteInt(n)
}

func cmdHLen(c *Client, args [][]byte) {
	_, h, ok := lookupHash(c, args[1], false)
	if !ok {
		return
	}
	if h == nil {
		c.WriteInt(0)
		return
	}
	c.WriteInt(h.Len())
}

func cmdHStrLen(c *Client, args [][]byte) {
	_, h, ok := lookupHash(c, args[1], false)
	if !ok {
		return
	}
	if h == nil {
		c.WriteInt(0)
		return
	}
	v, _ := h.Get(args[2])
	c.WriteInt(len(v))
}

func cmdHExists(c *Client, args [][]byte) {
	_, h, ok := lookupHash(c, args[1], false)
	if !ok {
		return
	}
	if h != nil && h.Has(args[2]) {
		c.WriteInt(1)
	} else {
		c.WriteInt(0)
	}
}

// hsHashWhat selects what HKEYS/HVALS/HGETALL reply with.
type hsHashWhat int

const (
	hsFields hsHashWhat = 1 << iota
	hsValues
)

func hsWriteHash(c *Client, key []byte, what hsHashWhat) {
	_, h, ok := lookupHash(c, key, false)
	if !ok {
		return
	}
	n := 0
	if h != nil {
		n = h.Len()
	}
	if what == hsFields|hsValues {
		c.WriteMap(n) // HGETALL: a map in RESP3, also when empty
	} else {
		c.WriteArray(n)
	}
	if h == nil {
		return
	}
	h.ForEach(func(f, v []byte) bool {
		if what&hsFields != 0 {
			c.WriteBulk(f)
		}
		if what&hsValues != 0 {
			c.WriteBulk(v)
		}
		return true
	})
}

func cmdHKeys(c *Client, args [][]byte)   { hsWriteHash(c, args[1], hsFields) }
func cmdHVals(c *Client, args [][]byte)   { hsWriteHash(c, args[1], hsValues) }
func cmdHGetAll(c *Client, args [][]byte) { hsWriteHash(c, args[1], hsFields|hsValues) }

func cmdHIncrBy(c *Client, args [][]byte) {
	incr, ok := parseInt(args[3])
	if !ok {
		c.WriteError(msgNotInt)
		return
	}
	key, field := args[1], args[2]
	e, h, ok := hashForWrite(c, key)
	if !ok {
		return
	}
	var cur int64
	if v, found := h.Get(field); found {
		if cur, ok = parseInt(v); !ok {
			c.WriteError(msgHashNotInt)
			return
		}
	}
	if (incr < 0 && cur < 0 && incr < math.MinInt64-cur) || (incr > 0 && cur > 0 && incr > math.MaxInt64-cur) {
		c.WriteError(msgOverflow)
		return
	}
	var buf [24]byte
	nv := strconv.AppendInt(buf[:0], cur+incr, 10)
	hsSetHashField(c, key, e, h, field, nv, "hincrby")
	c.WriteInt64(cur + incr)
}

// hsSetHashField stores one field, creating the hash if needed, and reports
// the change (HSETNX, HINCRBY, HINCRBYFLOAT).
func hsSetHashField(c *Client, key []byte, e *storage.Entry, h *storage.Hash, field, val []byte, event string) {
	before := h.MemSize()
	h.Set(field, val)
	tx := c.DB().Begin()
	if e == nil {
		e = tx.Create(key, h)
		before = h.MemSize()
	}
	tx.Put(key, field, val)
	tx.Changed(key, e, int64(h.MemSize()-before), event)
	tx.Commit()
}

func cmdHIncrByFloat(c *Client, args [][]byte) {
	incr, ok := parseLongDouble(args[3])
	if !ok {
		c.WriteError(msgNotFloat)
		return
	}
	if incr.f.IsInf() {
		c.WriteError(msgHashIncrNaNInf)
		return
	}
	key, field := args[1], args[2]
	e, h, ok := hashForWrite(c, key)
	if !ok {
		return
	}
	cur := hsLDZero()
	if v, found := h.Get(field); found {
		if cur, ok = parseLongDouble(v); !ok {
			c.WriteError(msgHashNotFloat)
			return
		}
	}
	sum, ok := cur.add(incr)
	if !ok {
		c.WriteError(msgNaNInf)
		return
	}
	nv := []byte(sum.humanString())
	hsSetHashField(c, key, e, h, field, nv, "hincrbyfloat")
	c.WriteBulk(nv)
}

// hsLDZero is a long double zero, the value of a missing field.
func hsLDZero() longDouble { return longDouble{new(big.Float).SetPrec(ldPrec)} }

// hsRandCount parses HRANDFIELD/SRANDMEMBER's count: a long in
// [-LONG_MAX, LONG_MAX] (Redis's getRangeLongFromObjectOrReply).
func hsRandCount(b []byte) (int64, string) {
	n, ok := parseInt(b)
	if !ok {
		return 0, msgNotInt
	}
	if n == math.MinInt64 {
		return 0, msgHSLongRange
	}
	return n, ""
}

func cmdHRandField(c *Client, args [][]byte) {
	if len(args) == 2 {
		_, h, ok := lookupHash(c, args[1], false)
		if !ok {
			return
		}
		if h == nil {
			c.WriteNull()
			return
		}
		f, _ := h.Random()
		c.WriteBulk(f)
		return
	}
	l, msg := hsRandCount(args[2])
	if msg != "" {
		c.WriteError(msg)
		return
	}
	withValues := false
	if len(args) > 4 || (len(args) == 4 && !eqFold(args[3], "withvalues")) {
		c.WriteError(msgSyntax)
		return
	} else if len(args) == 4 {
		withValues = true
		if l < -math.MaxInt64/2 || l > math.MaxInt64/2 {
			c.WriteError(msgHSValueRange)
			return
		}
	}
	_, h, ok := lookupHash(c, args[1], false)
	if !ok {
		return
	}
	if h == nil || l == 0 {
		c.WriteArray(0)
		return
	}
	// WITHVALUES: [f, v, f, v…] in RESP2, [[f, v]…] in RESP3
	header := func(n int) {
		if withValues {
			c.WritePairs(n)
		} else {
			c.WriteArray(n)
		}
	}
	write := func(f, v []byte) {
		if withValues {
			c.WritePair()
		}
		c.WriteBulk(f)
		if withValues {
			c.WriteBulk(v)
		}
	}
	if l < 0 || l == 1 {
		// repetitions allowed: every pick is independent
		count := -l
		if l == 1 {
			count = 1
		}
		if count > hsMaxRandomReply {
			c.WriteError(msgHSReplyTooLarge)
			return
		}
		header(int(count))
		for i := int64(0); i < count; i++ {
			write(h.Random())
		}
		return
	}
	n := min(int(min(l, math.MaxInt32)), h.Len())
	header(n)
	h.RandomDistinct(n, write)
}

// hsScanArgs are the parsed options of HSCAN/SSCAN.
type hsScanArgs struct {
	cursor  uint64
	count   int
	pattern []byte // nil = match everything
}

// hsParseCursor parses a SCAN cursor like Redis's strtoul-based
// parseScanCursorOrReply: decimal, optional sign (a negative value wraps),
// no leading space, no trailing garbage, no overflow.
func hsParseCursor(b []byte) (uint64, bool) {
	i := 0
	neg := false
	if len(b) > 0 && isSpace(b[0]) {
		return 0, false
	}
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	var v uint64
	digits := 0
	for ; i < len(b); i++ {
		d := b[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		if v > (math.MaxUint64-uint64(d-'0'))/10 {
			return 0, false
		}
		v = v*10 + uint64(d-'0')
		digits++
	}
	if digits == 0 && len(b) > 0 {
		return 0, false // a bare sign: strtoul parses nothing and stops at it
	}
	if neg {
		v = -v
	}
	return v, true
}

// hsParseScanOpts parses [MATCH pattern] [COUNT count] (scanGenericCommand).
func hsParseScanOpts(args [][]byte) (hsScanArgs, string) {
	o := hsScanArgs{count: 10}
	for i := 0; i < len(args); i += 2 {
		more := len(args) - i
		switch {
		case eqFold(args[i], "count") && more >= 2:
			n, ok := parseInt(args[i+1])
			if !ok {
				return o, msgNotInt
			}
			if n < 1 {
				return o, msgSyntax
			}
			o.count = int(min(n, math.MaxInt32))
		case eqFold(args[i], "match") && more >= 2:
			p := args[i+1]
			if len(p) == 1 && p[0] == '*' {
				o.pattern = nil
			} else {
				o.pattern = p
			}
		default:
			return o, msgSyntax
		}
	}
	return o, ""
}

// hsWriteScan writes [cursor, items] for a SCAN-family step.
func hsWriteScan(c *Client, cursor uint64, items [][]byte) {
	c.WriteArray(2)
	c.WriteBulk(strconv.AppendUint(nil, cursor, 10))
	c.WriteArray(len(items))
	for _, it := range items {
		c.WriteBulk(it)
	}
}

func cmdHScan(c *Client, args [][]byte) {
	cursor, ok := hsParseCursor(args[2])
	if !ok {
		c.WriteError(msgInvalidCursor)
		return
	}
	_, h, ok := lookupHash(c, args[1], false)
	if !ok {
		return
	}
	if h == nil {
		hsWriteScan(c, 0, nil)
		return
	}
	o, msg := hsParseScanOpts(args[3:])
	if msg != "" {
		c.WriteError(msg)
		return
	}
	var items [][]byte
	next := h.Scan(cursor, o.count, func(f, v []byte) {
		if o.pattern != nil && !pubsub.Match(o.pattern, f, false) {
			return
		}
		// items outlive nothing: the reply is written before the lock is released
		items = append(items, f, v)
	})
	hsWriteScan(c, next, items)
}
