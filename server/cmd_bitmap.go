package server

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strings"

	"github.com/luxdb/lux-go/storage"
)

// Bitmaps: bit operations on string values, as Redis 7.0's bitops.c (bit 0
// is the most significant bit of the first byte). A write replaces the
// string value through the usual change set, so bitmaps are durable,
// tiered and notified like any string; a write rewrites the whole value
// (a SETBIT on a large bitmap costs its length, where Redis's costs O(1)).

func init() {
	const g = "bitmap"
	register(
		&Command{Name: "setbit", Arity: 4, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Handler: cmdSetbit, Group: g, Summary: "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist."},
		&Command{Name: "getbit", Arity: 3, Flags: FlagReadOnly | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdGetbit, Group: g, Summary: "Returns a bit value by offset."},
		&Command{Name: "bitcount", Arity: -2, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Handler: cmdBitcount, Group: g, Summary: "Counts the number of set bits (population counting) in a string."},
		&Command{Name: "bitpos", Arity: -3, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Handler: cmdBitpos, Group: g, Summary: "Finds the first set (1) or clear (0) bit in a string."},
		&Command{Name: "bitop", Arity: -4, Flags: FlagWrite | FlagDenyOOM, FirstKey: 2, LastKey: -1, Step: 1, Handler: cmdBitop, Group: g, Summary: "Performs bitwise operations on multiple strings, and stores the result."},
		&Command{Name: "bitfield", Arity: -2, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Handler: cmdBitfield, Group: g, Summary: "Performs arbitrary bitfield integer operations on strings."},
		&Command{Name: "bitfield_ro", Arity: -2, Flags: FlagReadOnly | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdBitfieldRO, Group: g, Summary: "Performs arbitrary read-only bitfield integer operations on strings."},
	)
}

const (
	msgBitOffset    = "ERR bit offset is not an integer or out of range"
	msgBitValue     = "ERR bit is not an integer or out of range"
	msgBitArg       = "ERR The bit argument must be 1 or 0."
	msgBitopNot     = "ERR BITOP NOT must be called with a single source key."
	msgBitfieldType = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
	msgBitOverflow  = "ERR Invalid OVERFLOW type specified"
	msgBitfieldRO   = "ERR BITFIELD_RO only supports the GET subcommand"
)

// bitOffset parses a bit offset like Redis's getBitOffsetFromArgument: an
// integer (with hash set, "#n" means n·width), not negative, addressing a
// byte below proto-max-bulk-len.
func bitOffset(c *Client, b []byte, hash bool, width int) (uint64, bool) {
	useHash := hash && width > 0 && len(b) > 0 && b[0] == '#'
	if useHash {
		b = b[1:]
	}
	v, ok := parseInt(b)
	if ok && useHash {
		if v > math.MaxInt64/int64(width) || v < math.MinInt64/int64(width) {
			ok = false // C's overflow wraps; either way it is out of range
		} else {
			v *= int64(width)
		}
	}
	if !ok || v < 0 || v>>3 >= c.srv.limits.maxBulkLen() {
		c.WriteError(msgBitOffset)
		return 0, false
	}
	return uint64(v), true
}

// bitString returns key's string for a read (nil when missing); false
// after a WRONGTYPE reply.
func bitString(c *Client, key []byte) ([]byte, bool, bool) {
	e, ok := getString(c, key)
	if !ok {
		return nil, false, false
	}
	if e == nil {
		return nil, false, true
	}
	return e.Bytes(), true, true
}

func cmdSetbit(c *Client, args [][]byte) {
	off, ok := bitOffset(c, args[2], false, 0)
	if !ok {
		return
	}
	on, ok := parseInt(args[3])
	if !ok || on&^1 != 0 {
		c.WriteError(msgBitValue)
		return
	}
	e, ok := lookupStringWrite(c, args[1])
	if !ok {
		return
	}
	var old []byte
	if e != nil {
		old = e.Bytes()
	}
	byteIdx, mask := off>>3, byte(1)<<(7-off&7)
	var was bool
	if byteIdx < uint64(len(old)) {
		was = old[byteIdx]&mask != 0
	}
	grow := byteIdx >= uint64(len(old))
	if e == nil || grow || was != (on == 1) {
		nv := make([]byte, max(uint64(len(old)), byteIdx+1))
		copy(nv, old)
		if on == 1 {
			nv[byteIdx] |= mask
		} else {
			nv[byteIdx] &^= mask
		}
		c.DB().SetStringEvent(args[1], nv, 0, e != nil, "setbit")
	}
	if was {
		c.WriteInt(1)
	} else {
		c.WriteInt(0)
	}
}

func cmdGetbit(c *Client, args [][]byte) {
	off, ok := bitOffset(c, args[2], false, 0)
	if !ok {
		return
	}
	s, _, ok := bitString(c, args[1])
	if !ok {
		return
	}
	if b := off >> 3; b < uint64(len(s)) && s[b]&(1<<(7-off&7)) != 0 {
		c.WriteInt(1)
		return
	}
	c.WriteInt(0)
}

// popcount counts the set bits of p.
func popcount(p []byte) int64 {
	var n int
	for len(p) >= 8 {
		n += bits.OnesCount64(uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24 |
			uint64(p[4])<<32 | uint64(p[5])<<40 | uint64(p[6])<<48 | uint64(p[7])<<56)
		p = p[8:]
	}
	for _, b := range p {
		n += bits.OnesCount8(b)
	}
	return int64(n)
}

// bitRange resolves BITCOUNT's and BITPOS's start/end (bytes, or bits when
// isBit) against a string of n bytes as Redis does: negative indexes from
// the end, clamped; with bits, the edge masks of the first and last byte
// (the bits outside the range). start > end means an empty range.
func bitRange(start, end, n int64, isBit bool) (s, e int64, firstMask, lastMask byte) {
	tot := n
	if isBit {
		tot <<= 3
	}
	if start < 0 {
		start += tot
	}
	if end < 0 {
		end += tot
	}
	start, end = max(start, 0), max(end, 0)
	if end >= tot {
		end = tot - 1
	}
	if isBit && start <= end {
		firstMask = ^byte((1 << (8 - start&7)) - 1)
		lastMask = byte((1 << (7 - end&7)) - 1)
		start >>= 3
		end >>= 3
	}
	return start, end, firstMask, lastMask
}

// parseBitUnit parses BYTE or BIT.
func parseBitUnit(c *Client, b []byte) (isBit, ok bool) {
	switch {
	case eqFold(b, "bit"):
		return true, true
	case eqFold(b, "byte"):
		return false, true
	}
	c.WriteError(msgSyntax)
	return false, false
}

func cmdBitcount(c *Client, args [][]byte) {
	s, found, ok := bitString(c, args[1])
	if !ok {
		return
	}
	if !found {
		c.WriteInt(0)
		return
	}
	var start, end int64
	var firstMask, lastMask byte
	switch len(args) {
	case 2:
		start, end = 0, int64(len(s))-1
	case 4, 5:
		var ok1, ok2 bool
		if start, ok1 = parseInt(args[2]); !ok1 {
			c.WriteError(msgNotInt)
			return
		}
		if end, ok2 = parseInt(args[3]); !ok2 {
			c.WriteError(msgNotInt)
			return
		}
		if start < 0 && end < 0 && start > end {
			c.WriteInt(0)
			return
		}
		isBit := false
		if len(args) == 5 {
			if isBit, ok = parseBitUnit(c, args[4]); !ok {
				return
			}
		}
		start, end, firstMask, lastMask = bitRange(start, end, int64(len(s)), isBit)
	default:
		c.WriteError(msgSyntax)
		return
	}
	if start > end {
		c.WriteInt(0)
		return
	}
	n := popcount(s[start : end+1])
	n -= int64(bits.OnesCount8(s[start]&firstMask) + bits.OnesCount8(s[end]&lastMask))
	c.WriteInt64(n)
}

// bitpos is Redis's redisBitpos: the position of the first bit equal to
// bit in p, or, looking for a clear bit and finding none, len(p)·8 (the
// bits right of the string count as clear); -1 looking for a set bit in
// all zeros.
func bitpos(p []byte, bit bool) int64 {
	for i, b := range p {
		if bit && b != 0 {
			return int64(i)*8 + int64(bits.LeadingZeros8(b))
		}
		if !bit && b != 0xff {
			return int64(i)*8 + int64(bits.LeadingZeros8(^b))
		}
	}
	if bit {
		return -1
	}
	return int64(len(p)) * 8
}

func cmdBitpos(c *Client, args [][]byte) {
	bv, ok := parseInt(args[2])
	if !ok {
		c.WriteError(msgNotInt)
		return
	}
	if bv != 0 && bv != 1 {
		c.WriteError(msgBitArg)
		return
	}
	bit := bv == 1
	s, found, ok := bitString(c, args[1])
	if !ok {
		return
	}
	if !found {
		if bit {
			c.WriteInt(-1)
		} else {
			c.WriteInt(0)
		}
		return
	}
	var start, end int64
	var firstMask, lastMask byte
	endGiven := false
	n := int64(len(s))
	switch len(args) {
	case 3:
		start, end = 0, n-1
	case 4, 5, 6:
		if start, ok = parseInt(args[3]); !ok {
			c.WriteError(msgNotInt)
			return
		}
		isBit := false
		if len(args) == 6 {
			if isBit, ok = parseBitUnit(c, args[5]); !ok {
				return
			}
		}
		if len(args) >= 5 {
			if end, ok = parseInt(args[4]); !ok {
				c.WriteError(msgNotInt)
				return
			}
			endGiven = true
		} else if isBit {
			end = n<<3 + 7
		} else {
			end = n - 1
		}
		start, end, firstMask, lastMask = bitRange(start, end, n, isBit)
	default:
		c.WriteError(msgSyntax)
		return
	}
	if start > end {
		c.WriteInt(-1)
		return
	}
	// Redis's bitposCommand, step for step: the masked first byte, the
	// whole bytes, the masked last byte
	nbytes := end - start + 1
	var pos int64
	edge := func(b byte) int64 { return bitpos([]byte{b}, bit) }
	done := false
	if firstMask != 0 {
		t := s[start]
		if bit {
			t &^= firstMask
		} else {
			t |= firstMask
		}
		if lastMask != 0 && nbytes == 1 {
			if bit {
				t &^= lastMask
			} else {
				t |= lastMask
			}
		}
		pos = edge(t)
		if nbytes == 1 || (pos != -1 && pos != 8) {
			done = true
		} else {
			start++
			nbytes--
		}
	}
	if !done {
		cur := nbytes
		if lastMask != 0 {
			cur--
		}
		if cur > 0 {
			pos = bitpos(s[start:start+cur], bit)
			if nbytes == cur || (pos != -1 && pos != cur<<3) {
				done = true
			} else {
				start += cur
				nbytes -= cur
			}
		}
	}
	if !done {
		t := s[end]
		if bit {
			t &^= lastMask
		} else {
			t |= lastMask
		}
		pos = edge(t)
	}
	// looking for a clear bit in an explicit range: the bits right of the
	// range are not zero padding
	if endGiven && !bit && pos == nbytes<<3 {
		c.WriteInt(-1)
		return
	}
	if pos != -1 {
		pos += start << 3
	}
	c.WriteInt64(pos)
}

func cmdBitop(c *Client, args [][]byte) {
	op := strings.ToLower(string(args[1]))
	switch op {
	case "and", "or", "xor", "not":
	default:
		c.WriteError(msgSyntax)
		return
	}
	if op == "not" && len(args) != 4 {
		c.WriteError(msgBitopNot)
		return
	}
	db := c.DB()
	srcs := make([][]byte, 0, len(args)-3)
	maxLen := 0
	for _, k := range args[3:] {
		e := db.Lookup(k)
		if e != nil && e.Type != storage.TypeString {
			c.WriteError(msgWrongType)
			return
		}
		var s []byte
		if e != nil {
			s = e.Bytes()
		}
		srcs = append(srcs, s)
		maxLen = max(maxLen, len(s))
	}
	dst := args[2]
	if maxLen == 0 {
		db.Delete(dst)
		c.WriteInt(0)
		return
	}
	res := make([]byte, maxLen)
	copy(res, srcs[0])
	if op == "not" {
		bitopWords(res, nil, op)
	}
	for _, s := range srcs[1:] {
		// bytes past a source's end count as zeros
		switch op {
		case "and":
			bitopWords(res[:len(s)], s, op)
			clear(res[len(s):])
		default:
			bitopWords(res[:len(s)], s, op)
		}
	}
	db.SetStringEvent(dst, res, 0, false, "set")
	c.WriteInt(maxLen)
}

// bitopWords applies op to dst with src (same length; NOT: src nil),
// eight bytes at a time, one loop per operation.
func bitopWords(dst, src []byte, op string) {
	n := len(dst) &^ 7
	le := binary.LittleEndian
	switch op {
	case "and":
		for i := 0; i < n; i += 8 {
			le.PutUint64(dst[i:], le.Uint64(dst[i:])&le.Uint64(src[i:]))
		}
		for i := n; i < len(dst); i++ {
			dst[i] &= src[i]
		}
	case "or":
		for i := 0; i < n; i += 8 {
			le.PutUint64(dst[i:], le.Uint64(dst[i:])|le.Uint64(src[i:]))
		}
		for i := n; i < len(dst); i++ {
			dst[i] |= src[i]
		}
	case "xor":
		for i := 0; i < n; i += 8 {
			le.PutUint64(dst[i:], le.Uint64(dst[i:])^le.Uint64(src[i:]))
		}
		for i := n; i < len(dst); i++ {
			dst[i] ^= src[i]
		}
	case "not":
		for i := 0; i < n; i += 8 {
			le.PutUint64(dst[i:], ^le.Uint64(dst[i:]))
		}
		for i := n; i < len(dst); i++ {
			dst[i] = ^dst[i]
		}
	}
}

// ---- BITFIELD ----

const (
	bfWrap = iota
	bfSat
	bfFail
)

const (
	bfGet = iota
	bfSet
	bfIncrby
)

type bitfieldOp struct {
	offset uint64
	i64    int64
	opcode int
	ow     int
	bits   int
	signed bool
}

func getUnsignedBits(p []byte, offset, n uint64) uint64 {
	var v uint64
	for j := uint64(0); j < n; j++ {
		b := (offset + j) >> 3
		var bit uint64
		if b < uint64(len(p)) {
			bit = uint64(p[b]>>(7-(offset+j)&7)) & 1
		}
		v = v<<1 | bit
	}
	return v
}

func getSignedBits(p []byte, offset, n uint64) int64 {
	v := int64(getUnsignedBits(p, offset, n))
	if n < 64 && v&(1<<(n-1)) != 0 {
		v |= -1 << n
	}
	return v
}

func setUnsignedBits(p []byte, offset, n, v uint64) {
	for j := uint64(0); j < n; j++ {
		bit := byte(v>>(n-1-j)) & 1
		b, sh := (offset+j)>>3, 7-(offset+j)&7
		p[b] = p[b]&^(1<<sh) | bit<<sh
	}
}

// checkUnsignedOverflow is Redis's checkUnsignedBitfieldOverflow: 1 on
// overflow, -1 on underflow, 0 when value+incr fits in n bits; limit is
// the result under WRAP or SAT.
func checkUnsignedOverflow(value uint64, incr int64, n uint64, ow int) (int, uint64) {
	maxV := uint64(1)<<n - 1
	if n == 64 {
		maxV = math.MaxUint64
	}
	maxIncr := int64(maxV - value)
	minIncr := -int64(value)
	wrap := func() uint64 { return (value + uint64(incr)) &^ (math.MaxUint64 << n) }
	if value > maxV || (incr > 0 && incr > maxIncr) {
		switch ow {
		case bfWrap:
			return 1, wrap()
		case bfSat:
			return 1, maxV
		}
		return 1, 0
	} else if incr < 0 && incr < minIncr {
		switch ow {
		case bfWrap:
			return -1, wrap()
		case bfSat:
			return -1, 0
		}
		return -1, 0
	}
	return 0, 0
}

// checkSignedOverflow is Redis's checkSignedBitfieldOverflow.
func checkSignedOverflow(value, incr int64, n uint64, ow int) (int, int64) {
	maxV := int64(1)<<(n-1) - 1
	if n == 64 {
		maxV = math.MaxInt64
	}
	minV := -maxV - 1
	maxIncr := int64(uint64(maxV) - uint64(value))
	minIncr := minV - value
	wrap := func() int64 {
		c := uint64(value) + uint64(incr)
		if n < 64 {
			mask := uint64(math.MaxUint64) << n
			if c&(1<<(n-1)) != 0 {
				c |= mask
			} else {
				c &^= mask
			}
		}
		return int64(c)
	}
	if value > maxV || (n != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr) {
		switch ow {
		case bfWrap:
			return 1, wrap()
		case bfSat:
			return 1, maxV
		}
		return 1, 0
	} else if value < minV || (n != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr) {
		switch ow {
		case bfWrap:
			return -1, wrap()
		case bfSat:
			return -1, minV
		}
		return -1, 0
	}
	return 0, 0
}

func cmdBitfield(c *Client, args [][]byte)   { bitfieldGeneric(c, args, false) }
func cmdBitfieldRO(c *Client, args [][]byte) { bitfieldGeneric(c, args, true) }

func bitfieldGeneric(c *Client, args [][]byte, ro bool) {
	var ops []bitfieldOp
	ow := bfWrap
	readonly := true
	var highest uint64
	for j := 2; j < len(args); j++ {
		rem := len(args) - j - 1
		var op bitfieldOp
		switch sub := args[j]; {
		case eqFold(sub, "get") && rem >= 2:
			op.opcode = bfGet
		case eqFold(sub, "set") && rem >= 3:
			op.opcode = bfSet
		case eqFold(sub, "incrby") && rem >= 3:
			op.opcode = bfIncrby
		case eqFold(sub, "overflow") && rem >= 1:
			j++
			switch t := args[j]; {
			case eqFold(t, "wrap"):
				ow = bfWrap
			case eqFold(t, "sat"):
				ow = bfSat
			case eqFold(t, "fail"):
				ow = bfFail
			default:
				c.WriteError(msgBitOverflow)
				return
			}
			continue
		default:
			c.WriteError(msgSyntax)
			return
		}
		// the type: i1..i64 or u1..u63 (strtoll-like: up to a NUL byte)
		t := args[j+1]
		if i := strings.IndexByte(string(t), 0); i >= 0 {
			t = t[:i]
		}
		if len(t) == 0 || (t[0] != 'i' && t[0] != 'u') {
			c.WriteError(msgBitfieldType)
			return
		}
		op.signed = t[0] == 'i'
		w, ok := parseInt(t[1:])
		if !ok || w < 1 || (op.signed && w > 64) || (!op.signed && w > 63) {
			c.WriteError(msgBitfieldType)
			return
		}
		op.bits = int(w)
		if op.offset, ok = bitOffset(c, args[j+2], true, op.bits); !ok {
			return
		}
		if op.opcode != bfGet {
			readonly = false
			highest = max(highest, op.offset+uint64(op.bits)-1)
			if op.i64, ok = parseInt(args[j+3]); !ok {
				c.WriteError(msgNotInt)
				return
			}
		}
		op.ow = ow
		ops = append(ops, op)
		if op.opcode == bfGet {
			j += 2
		} else {
			j += 3
		}
	}
	var s []byte
	var e *storage.Entry
	dirty := false
	if readonly {
		var ok bool
		if s, _, ok = bitString(c, args[1]); !ok {
			return
		}
	} else {
		if ro {
			c.WriteError(msgBitfieldRO)
			return
		}
		var ok bool
		if e, ok = lookupStringWrite(c, args[1]); !ok {
			return
		}
		var old []byte
		if e != nil {
			old = e.Bytes()
		}
		n := max(uint64(len(old)), highest>>3+1)
		dirty = e == nil || n != uint64(len(old))
		s = make([]byte, n) // the new value: written once, after the ops
		copy(s, old)
	}
	c.WriteArray(len(ops))
	changes := 0
	for _, op := range ops {
		n := uint64(op.bits)
		switch {
		case op.opcode == bfGet && op.signed:
			c.WriteInt64(getSignedBits(s, op.offset, n))
		case op.opcode == bfGet:
			c.WriteInt64(int64(getUnsignedBits(s, op.offset, n)))
		case op.signed:
			old := getSignedBits(s, op.offset, n)
			var nv, ret int64
			var of int
			var lim int64
			if op.opcode == bfIncrby {
				of, lim = checkSignedOverflow(old, op.i64, n, op.ow)
				nv = old + op.i64
				if of != 0 {
					nv = lim
				}
				ret = nv
			} else {
				nv = op.i64
				if of, lim = checkSignedOverflow(nv, 0, n, op.ow); of != 0 {
					nv = lim
				}
				ret = old
			}
			if of != 0 && op.ow == bfFail {
				c.WriteNull()
				continue
			}
			c.WriteInt64(ret)
			setUnsignedBits(s, op.offset, n, uint64(nv))
			if dirty || old != nv {
				changes++
			}
		default:
			old := getUnsignedBits(s, op.offset, n)
			var nv, ret, lim uint64
			var of int
			if op.opcode == bfIncrby {
				nv = old + uint64(op.i64)
				if of, lim = checkUnsignedOverflow(old, op.i64, n, op.ow); of != 0 {
					nv = lim
				}
				ret = nv
			} else {
				nv = uint64(op.i64)
				if of, lim = checkUnsignedOverflow(nv, 0, n, op.ow); of != 0 {
					nv = lim
				}
				ret = old
			}
			if of != 0 && op.ow == bfFail {
				c.WriteNull()
				continue
			}
			c.WriteInt64(int64(ret))
			setUnsignedBits(s, op.offset, n, nv)
			if dirty || old != nv {
				changes++
			}
		}
	}
	// Redis creates or zero-pads the string before the ops run, also when
	// every op then fails; it notifies only when something changed
	if !readonly && (changes > 0 || dirty) {
		c.DB().SetStringEvent(args[1], s, 0, e != nil, "setbit")
	}
}
