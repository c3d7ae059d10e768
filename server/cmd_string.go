package server

import (
	"math"
	"math/big"
	"strconv"

	"github.com/luxdb/lux-go/storage"
)

// Error texts only the string commands use (errors.go holds the shared ones).
const (
	msgDecrOverflow    = "ERR decrement would overflow"
	msgLCSNotString    = "ERR The specified keys must contain string values"
	msgLCSLenAndIdx    = "ERR If you want both the length and indexes, please just use IDX."
	msgLCSTooLong      = "ERR String too long for LCS"
	msgLCSMemoryLimit  = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
	msgLCSMemoryFailed = "ERR Insufficient memory, failed allocating transient memory for LCS"
)

func init() {
	register(
		&Command{Name: "get", Arity: 2, Flags: FlagReadOnly | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdGet, Group: "string", Summary: "Returns the string value of a key."},
		&Command{Name: "set", Arity: -3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Handler: cmdSet, Group: "string", Summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."},
		&Command{Name: "setnx", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdSetnx, Group: "string", Summary: "Set the string value of a key only when the key doesn't exist."},
		&Command{Name: "setex", Arity: 4, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Handler: cmdSetex, Group: "string", Summary: "Sets the string value and expiration time of a key. Creates the key if it doesn't exist."},
		&Command{Name: "psetex", Arity: 4, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Handler: cmdPsetex, Group: "string", Summary: "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist."},
		&Command{Name: "mget", Arity: -2, Flags: FlagReadOnly | FlagFast, FirstKey: 1, LastKey: -1, Handler: cmdMget, Group: "string", Summary: "Atomically returns the string values of one or more keys."},
		&Command{Name: "mset", Arity: -3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: -1, Step: 2, Handler: cmdMset, Group: "string", Summary: "Atomically creates or modifies the string values of one or more keys."},
		&Command{Name: "msetnx", Arity: -3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: -1, Step: 2, Handler: cmdMsetnx, Group: "string", Summary: "Atomically modifies the string values of one or more keys only when all keys don't exist."},
		&Command{Name: "getset", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdGetset, Group: "string", Summary: "Returns the previous string value of a key after setting it to a new value."},
		&Command{Name: "getdel", Arity: 2, Flags: FlagWrite | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdGetdel, Group: "string", Summary: "Returns the string value of a key after deleting the key."},
		&Command{Name: "getex", Arity: -2, Flags: FlagWrite | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdGetex, Group: "string", Summary: "Returns the string value of a key after setting its expiration time."},
		&Command{Name: "append", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdAppend, Group: "string", Summary: "Appends a string to the value of a key. Creates the key if it doesn't exist."},
		&Command{Name: "strlen", Arity: 2, Flags: FlagReadOnly | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdStrlen, Group: "string", Summary: "Returns the length of a string value."},
		&Command{Name: "getrange", Arity: 4, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Handler: cmdGetrange, Group: "string", Summary: "Returns a substring of the string stored at a key."},
		&Command{Name: "substr", Arity: 4, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Handler: cmdGetrange, Group: "string", Summary: "Returns a substring from a string value."},
		&Command{Name: "setrange", Arity: 4, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Handler: cmdSetrange, Group: "string", Summary: "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."},
		&Command{Name: "incr", Arity: 2, Flags: FlagWrite | FlagDenyOOM | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdIncr, Group: "string", Summary: "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."},
		&Command{Name: "decr", Arity: 2, Flags: FlagWrite | FlagDenyOOM | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdDecr, Group: "string", Summary: "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."},
		&Command{Name: "incrby", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdIncrby, Group: "string", Summary: "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."},
		&Command{Name: "decrby", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdDecrby, Group: "string", Summary: "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."},
		&Command{Name: "incrbyfloat", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdIncrbyfloat, Group: "string", Summary: "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."},
		&Command{Name: "lcs", Arity: -3, Flags: FlagReadOnly, FirstKey: 1, LastKey: 2, Handler: cmdLcs, Group: "string", Summary: "Finds the longest common substring."},
	)
}

// getString returns a string key's value; ok is false (and the reply written)
// when the key holds another type.
func getString(c *Client, key []byte) (e *storage.Entry, ok bool) {
	e = c.DB().Lookup(key)
	if e != nil && e.Type != storage.TypeString {
		c.WriteError(msgWrongType)
		return nil, false
	}
	return e, true
}

func cmdGet(c *Client, args [][]byte) {
	e, ok := getString(c, args[1])
	if !ok {
		return
	}
	if e == nil {
		c.WriteNull()
		return
	}
	c.WriteBulk(e.Bytes())
}

// Option flags of SET and GETEX, as Redis's OBJ_* flags in t_string.c.
const (
	optNX = 1 << iota
	optXX
	optGet
	optKeepTTL
	optPersist
	optEX
	optPX
	optEXAT
	optPXAT

	optExpire = optEX | optPX | optEXAT | optPXAT
)

// strOpts are the parsed options of SET (NX XX GET KEEPTTL EX PX EXAT PXAT)
// or GETEX (PERSIST EX PX EXAT PXAT).
type strOpts struct {
	flags  int
	expire []byte // the unparsed EX/PX/EXAT/PXAT argument, nil if none
}

// parseStrOpts mirrors Redis's parseExtendedStringArgumentsOrReply: an
// option is refused (syntax error) when it conflicts with one already seen,
// but repeating the same option is allowed ("EX 1 EX 2" keeps the last).
// The expire value is only validated later, so a syntax error anywhere wins
// over a bad expire time.
func parseStrOpts(args [][]byte, forSet bool) (strOpts, bool) {
	var o strOpts
	for i := 0; i < len(args); i++ {
		a := args[i]
		hasNext := i+1 < len(args)
		f := o.flags
		var set int
		switch {
		case forSet && eqFold(a, "nx") && f&optXX == 0:
			set = optNX
		case forSet && eqFold(a, "xx") && f&optNX == 0:
			set = optXX
		case forSet && eqFold(a, "get"):
			set = optGet
		case forSet && eqFold(a, "keepttl") && f&(optPersist|optExpire) == 0:
			set = optKeepTTL
		case !forSet && eqFold(a, "persist") && f&(optExpire|optKeepTTL) == 0:
			set = optPersist
		case hasNext && eqFold(a, "ex") && f&(optKeepTTL|optPersist|optExpire&^optEX) == 0:
			set = optEX
		case hasNext && eqFold(a, "px") && f&(optKeepTTL|optPersist|optExpire&^optPX) == 0:
			set = optPX
		case hasNext && eqFold(a, "exat") && f&(optKeepTTL|optPersist|optExpire&^optEXAT) == 0:
			set = optEXAT
		case hasNext && eqFold(a, "pxat") && f&(optKeepTTL|optPersist|optExpire&^optPXAT) == 0:
			set = optPXAT
		default:
			return o, false
		}
		o.flags |= set
		if set&optExpire != 0 {
			i++
			o.expire = args[i]
		}
	}
	return o, true
}

// expireAt converts an EX/PX/EXAT/PXAT argument into an absolute unix-ms
// deadline with Redis's checks (getExpireMillisecondsOrReply): non-positive
// values and overflows are "invalid expire time in '<cmd>' command".
func expireAt(flags int, val []byte, cmd string) (int64, string) {
	ms, ok := parseInt(val)
	if !ok {
		return 0, msgNotInt
	}
	return expireAtValue(flags, ms, cmd)
}

// expireAtValue is expireAt for an already parsed amount.
func expireAtValue(flags int, ms int64, cmd string) (int64, string) {
	seconds := flags&(optEX|optEXAT) != 0
	if ms <= 0 || (seconds && ms > math.MaxInt64/1000) {
		return 0, invalidExpireMsg(cmd)
	}
	if seconds {
		ms *= 1000
	}
	if flags&(optEX|optPX) != 0 {
		ms += storage.NowMs() // wraps negative on overflow, caught below as in Redis
	}
	if ms <= 0 {
		return 0, invalidExpireMsg(cmd)
	}
	return ms, ""
}

// setGeneric implements SET, SETNX, SETEX and PSETEX (Redis's
// setGenericCommand). intReply selects SETNX's :1/:0 replies instead of
// +OK/nil.
func setGeneric(c *Client, o strOpts, key, val []byte, cmd string, intReply bool) {
	var exp int64
	if o.expire != nil {
		var msg string
		if exp, msg = expireAt(o.flags, o.expire, cmd); msg != "" {
			c.WriteError(msg)
			return
		}
	}
	get := o.flags&optGet != 0
	if get {
		e, ok := getString(c, key)
		if !ok {
			return
		}
		writeOldValue(c, e) // the reply is copied out before the value changes
	}
	// a plain SET does not need the old value (a cold one is not read)
	found := false
	if o.flags&(optNX|optXX) != 0 {
		found = c.DB().LookupWrite(key) != nil
	}
	if (o.flags&optNX != 0 && found) || (o.flags&optXX != 0 && !found) {
		switch {
		case get:
		case intReply:
			c.WriteInt(0)
		default:
			c.WriteNull()
		}
		return
	}
	c.DB().SetString(key, val, exp, o.flags&optKeepTTL != 0)
	if o.expire != nil {
		c.DB().Signal(key, "expire") // Redis reports "set" then "expire"
	}
	switch {
	case get:
	case intReply:
		c.WriteInt(1)
	default:
		c.WriteOK()
	}
}

func writeOldValue(c *Client, e *storage.Entry) {
	if e == nil {
		c.WriteNull()
	} else {
		c.WriteBulk(e.Bytes())
	}
}

func cmdSet(c *Client, args [][]byte) {
	o, ok := parseStrOpts(args[3:], true)
	if !ok {
		c.WriteError(msgSyntax)
		return
	}
	setGeneric(c, o, args[1], args[2], "set", false)
}

func cmdSetnx(c *Client, args [][]byte) {
	setGeneric(c, strOpts{flags: optNX}, args[1], args[2], "setnx", true)
}

func cmdSetex(c *Client, args [][]byte) {
	setGeneric(c, strOpts{flags: optEX, expire: args[2]}, args[1], args[3], "setex", false)
}

func cmdPsetex(c *Client, args [][]byte) {
	setGeneric(c, strOpts{flags: optPX, expire: args[2]}, args[1], args[3], "psetex", false)
}

func cmdGetex(c *Client, args [][]byte) {
	o, ok := parseStrOpts(args[2:], false)
	if !ok {
		c.WriteError(msgSyntax)
		return
	}
	key := args[1]
	e, ok := getString(c, key)
	if !ok {
		return
	}
	if e == nil {
		// Redis looks the key up before validating the expire time, so a
		// missing key answers nil even for "EX 0".
		c.WriteNull()
		return
	}
	var exp int64
	if o.expire != nil {
		var msg string
		if exp, msg = expireAt(o.flags, o.expire, "getex"); msg != "" {
			c.WriteError(msg)
			return
		}
	}
	c.WriteBulk(e.Bytes())
	switch {
	case o.expire != nil:
		c.DB().SetExpiry(key, exp) // an EXAT/PXAT in the past deletes the key
	case o.flags&optPersist != 0:
		c.DB().Persist(key)
	}
}

func cmdGetdel(c *Client, args [][]byte) {
	e, ok := getString(c, args[1])
	if !ok {
		return
	}
	if e == nil {
		c.WriteNull()
		return
	}
	c.WriteBulk(e.Bytes())
	c.DB().Delete(args[1])
}

func cmdGetset(c *Client, args [][]byte) {
	e, ok := getString(c, args[1])
	if !ok {
		return
	}
	writeOldValue(c, e)
	c.DB().SetString(args[1], args[2], 0, false)
}

func cmdMget(c *Client, args [][]byte) {
	db := c.DB()
	c.WriteArray(len(args) - 1)
	for _, k := range args[1:] {
		// MGET answers nil for keys of another type instead of failing.
		if e := db.Lookup(k); e != nil && e.Type == storage.TypeString {
			c.WriteBulk(e.Bytes())
		} else {
			c.WriteNull()
		}
	}
}

func cmdMset(c *Client, args [][]byte)   { msetGeneric(c, args, "mset", false) }
func cmdMsetnx(c *Client, args [][]byte) { msetGeneric(c, args, "msetnx", true) }

func msetGeneric(c *Client, args [][]byte, name string, nx bool) {
	if len(args)%2 == 0 {
		c.WriteError(wrongArgsMsg(name))
		return
	}
	db := c.DB()
	if nx {
		for j := 1; j < len(args); j += 2 {
			if db.LookupWrite(args[j]) != nil {
				c.WriteInt(0)
				return
			}
		}
	}
	// one change set: after a crash or a disk failure the command is all
	// there or not at all
	tx := db.Begin()
	if len(args) > 64 {
		tx.Grow(len(args)/2, argsLen(args[1:]))
	}
	for j := 1; j < len(args); j += 2 {
		tx.SetString(args[j], args[j+1], 0, false, "set")
	}
	tx.Commit()
	if nx {
		c.WriteInt(1)
	} else {
		c.WriteOK()
	}
}

// lookupStringWrite looks key up for a modification; ok is false (and the
// reply written) when the key holds another type.
func lookupStringWrite(c *Client, key []byte) (e *storage.Entry, ok bool) {
	e = c.DB().LookupWrite(key)
	if e != nil && e.Type != storage.TypeString {
		c.WriteError(msgWrongType)
		return nil, false
	}
	return e, true
}

// stringFits applies Redis's checkStringLength: a string grown to
// size+add bytes must not exceed proto-max-bulk-len.
func stringFits(c *Client, size, add int64) bool {
	limit := c.srv.limits.maxBulkLen()
	if size > limit || add > limit-size {
		c.WriteError(msgStringTooLong)
		return false
	}
	return true
}

func cmdAppend(c *Client, args [][]byte) {
	key, suffix := args[1], args[2]
	e, ok := lookupStringWrite(c, key)
	if !ok {
		return
	}
	if e == nil {
		c.DB().SetStringEvent(key, suffix, 0, false, "append")
		c.WriteInt(len(suffix))
		return
	}
	if !stringFits(c, int64(len(e.Bytes())), int64(len(suffix))) {
		return
	}
	// The full-slice expression forces a fresh buffer so the new value
	// never aliases the entry's own buffer while SetString copies it.
	nv := append(e.Bytes()[:len(e.Bytes()):len(e.Bytes())], suffix...)
	c.DB().SetStringEvent(key, nv, 0, true, "append")
	c.WriteInt(len(nv))
}

func cmdStrlen(c *Client, args [][]byte) {
	e, ok := getString(c, args[1])
	if !ok {
		return
	}
	if e == nil {
		c.WriteInt(0)
		return
	}
	c.WriteInt(len(e.Bytes()))
}

func cmdGetrange(c *Client, args [][]byte) {
	start, ok1 := parseInt(args[2])
	end, ok2 := parseInt(args[3])
	if !ok1 || !ok2 {
		c.WriteError(msgNotInt)
		return
	}
	e, ok := getString(c, args[1])
	if !ok {
		return
	}
	if e == nil {
		c.WriteBulk(nil)
		return
	}
	// Redis's getrangeCommand clamping, step for step, quirks included: a
	// range entirely left of the string yields its first byte
	// ("GETRANGE hello -100 -50" is "h").
	n := int64(len(e.Bytes()))
	if start < 0 && end < 0 && start > end {
		c.WriteBulk(nil)
		return
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start = max(start, 0)
	end = max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		c.WriteBulk(nil)
		return
	}
	c.WriteBulk(e.Bytes()[start : end+1])
}

func cmdSetrange(c *Client, args [][]byte) {
	key, val := args[1], args[3]
	offset, ok := parseInt(args[2])
	if !ok {
		c.WriteError(msgNotInt)
		return
	}
	if offset < 0 {
		c.WriteError(msgOffsetRange)
		return
	}
	e, ok := lookupStringWrite(c, key)
	if !ok {
		return
	}
	var old []byte
	if e != nil {
		old = e.Bytes()
	}
	// Setting nothing answers the current length, even for a huge offset.
	if len(val) == 0 {
		c.WriteInt(len(old))
		return
	}
	if !stringFits(c, offset, int64(len(val))) {
		return
	}
	nv := make([]byte, max(int64(len(old)), offset+int64(len(val))))
	copy(nv, old)
	copy(nv[offset:], val)
	c.DB().SetStringEvent(key, nv, 0, e != nil, "setrange")
	c.WriteInt(len(nv))
}

func cmdIncr(c *Client, args [][]byte) { incrDecr(c, args[1], 1) }
func cmdDecr(c *Client, args [][]byte) { incrDecr(c, args[1], -1) }

func cmdIncrby(c *Client, args [][]byte) {
	incr, ok := parseInt(args[2])
	if !ok {
		c.WriteError(msgNotInt)
		return
	}
	incrDecr(c, args[1], incr)
}

func cmdDecrby(c *Client, args [][]byte) {
	incr, ok := parseInt(args[2])
	if !ok {
		c.WriteError(msgNotInt)
		return
	}
	if incr == math.MinInt64 {
		c.WriteError(msgDecrOverflow)
		return
	}
	incrDecr(c, args[1], -incr)
}

// incrDecr adds incr to the integer stored at key (0 if missing), keeping
// the key's TTL, as Redis's incrDecrCommand.
func incrDecr(c *Client, key []byte, incr int64) {
	e, ok := lookupStringWrite(c, key)
	if !ok {
		return
	}
	var buf [24]byte
	if e != nil && incr == 1 {
		// INCR of a counter: one added to its digits, no parse or format
		if reply := incrDecimal(&buf, e.Bytes()); reply != nil {
			c.DB().SetStringOf(e, key, reply[1:len(reply)-2], "incrby")
			c.WriteRaw(reply)
			return
		}
	}
	var v int64
	if e != nil {
		if v, ok = parseInt(e.Bytes()); !ok {
			c.WriteError(msgNotInt)
			return
		}
	}
	if (incr < 0 && v < 0 && incr < math.MinInt64-v) || (incr > 0 && v > 0 && incr > math.MaxInt64-v) {
		c.WriteError(msgOverflow)
		return
	}
	v += incr
	buf[0] = ':'
	digits := strconv.AppendInt(buf[:1], v, 10)
	if e != nil {
		c.DB().SetStringOf(e, key, digits[1:], "incrby")
	} else {
		c.DB().SetStringEvent(key, digits[1:], 0, true, "incrby")
	}
	c.WriteRaw(append(digits, '\r', '\n')) // the integer reply
}

// incrDecimal adds one to b when it is a canonical non-negative integer of
// at most 18 digits (so the sum is below 2^63), working on the digits; it
// returns the integer reply (":<sum>\r\n") in buf, or nil for any other b.
func incrDecimal(buf *[24]byte, b []byte) []byte {
	n := len(b)
	if n == 0 || n > 18 || b[0] == '0' && n > 1 {
		return nil
	}
	for _, ch := range b {
		if ch-'0' > 9 {
			return nil
		}
	}
	d := buf[2 : 2+n]
	copy(d, b)
	i := n - 1
	for ; i >= 0 && d[i] == '9'; i-- {
		d[i] = '0' // carry
	}
	start := 1 // where ':' goes
	if i < 0 {
		buf[1] = '1' // 999 + 1: one digit more
		start = 0
	} else {
		d[i]++
	}
	buf[start] = ':'
	buf[2+n], buf[3+n] = '\r', '\n'
	return buf[start : 4+n]
}

func cmdIncrbyfloat(c *Client, args [][]byte) {
	key := args[1]
	e, ok := lookupStringWrite(c, key)
	if !ok {
		return
	}
	cur := longDouble{new(big.Float).SetPrec(ldPrec)}
	if e != nil {
		if cur, ok = parseLongDoubleExact(e.Bytes()); !ok {
			c.WriteError(msgNotFloat)
			return
		}
	}
	incr, ok := parseLongDoubleExact(args[2])
	if !ok {
		c.WriteError(msgNotFloat)
		return
	}
	sum, ok := cur.add(incr)
	if !ok {
		c.WriteError(msgNaNInf)
		return
	}
	s := sum.humanString()
	c.DB().SetStringEvent(key, []byte(s), 0, true, "incrbyfloat")
	c.WriteBulkString(s)
}

// lcsMatch is one IDX range: [aStart, aEnd] in the first string matching
// [bStart, bEnd] in the second.
type lcsMatch struct{ aStart, aEnd, bStart, bEnd, n int64 }

// cmdLcs is Redis's lcsCommand: the classic dynamic-programming table,
// walked back from the end with the same tie-breaking so IDX reports the
// same ranges in the same order.
func cmdLcs(c *Client, args [][]byte) {
	db := c.DB()
	ea, eb := db.Lookup(args[1]), db.Lookup(args[2])
	if (ea != nil && ea.Type != storage.TypeString) || (eb != nil && eb.Type != storage.TypeString) {
		c.WriteError(msgLCSNotString)
		return
	}
	var a, b []byte
	if ea != nil {
		a = ea.Bytes()
	}
	if eb != nil {
		b = eb.Bytes()
	}
	var getLen, getIdx, withMatchLen bool
	var minMatchLen int64
	for j := 3; j < len(args); j++ {
		opt := args[j]
		switch {
		case eqFold(opt, "idx"):
			getIdx = true
		case eqFold(opt, "len"):
			getLen = true
		case eqFold(opt, "withmatchlen"):
			withMatchLen = true
		case eqFold(opt, "minmatchlen") && j+1 < len(args):
			n, ok := parseInt(args[j+1])
			if !ok {
				c.WriteError(msgNotInt)
				return
			}
			minMatchLen = max(n, 0)
			j++
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	if getLen && getIdx {
		c.WriteError(msgLCSLenAndIdx)
		return
	}
	if int64(len(a)) >= math.MaxUint32-1 || int64(len(b)) >= math.MaxUint32-1 {
		c.WriteError(msgLCSTooLong)
		return
	}
	alen, blen := len(a), len(b)
	cells := uint64(alen+1) * uint64(blen+1) // < 2^64: both lengths are below 2^32
	if cells > math.MaxUint64/4 || cells*4 > uint64(c.srv.limits.maxBulkLen()) {
		c.WriteError(msgLCSMemoryLimit)
		return
	}
	if cells > math.MaxInt/4 {
		// Redis's allocation failure path; only reachable when
		// proto-max-bulk-len is configured huge.
		c.WriteError(msgLCSMemoryFailed)
		return
	}
	lcs := make([]uint32, cells)
	w := blen + 1
	for i := 1; i <= alen; i++ {
		row, prev := lcs[i*w:(i+1)*w], lcs[(i-1)*w:i*w]
		for j := 1; j <= blen; j++ {
			if a[i-1] == b[j-1] {
				row[j] = prev[j-1] + 1
			} else {
				row[j] = max(prev[j], row[j-1])
			}
		}
	}
	total := lcs[alen*w+blen]
	if getLen {
		c.WriteInt64(int64(total))
		return
	}

	// Walk back from the end, rebuilding the LCS string and the ranges.
	result := make([]byte, total)
	idx := int(total)
	var matches []lcsMatch
	aStart, aEnd, bStart, bEnd := alen, 0, 0, 0 // aStart == alen: no open range
	i, j := alen, blen
	for i > 0 && j > 0 {
		emit := false
		if a[i-1] == b[j-1] {
			result[idx-1] = a[i-1]
			if aStart == alen {
				aStart, aEnd, bStart, bEnd = i-1, i-1, j-1, j-1
			} else if aStart == i && bStart == j {
				aStart--
				bStart--
			} else {
				emit = true
			}
			if aStart == 0 || bStart == 0 {
				emit = true
			}
			idx--
			i--
			j--
		} else {
			if lcs[(i-1)*w+j] > lcs[i*w+j-1] {
				i--
			} else {
				j--
			}
			if aStart != alen {
				emit = true
			}
		}
		if emit {
			n := int64(aEnd - aStart + 1)
			if getIdx && (minMatchLen == 0 || n >= minMatchLen) {
				matches = append(matches, lcsMatch{int64(aStart), int64(aEnd), int64(bStart), int64(bEnd), n})
			}
			aStart = alen
		}
	}
	if !getIdx {
		c.WriteBulk(result)
		return
	}
	c.WriteMap(2)
	c.WriteBulkString("matches")
	c.WriteArray(len(matches))
	for _, m := range matches {
		if withMatchLen {
			c.WriteArray(3)
		} else {
			c.WriteArray(2)
		}
		c.WriteArray(2)
		c.WriteInt64(m.aStart)
		c.WriteInt64(m.aEnd)
		c.WriteArray(2)
		c.WriteInt64(m.bStart)
		c.WriteInt64(m.bEnd)
		if withMatchLen {
			c.WriteInt64(m.n)
		}
	}
	c.WriteBulkString("len")
	c.WriteInt64(int64(total))
}
