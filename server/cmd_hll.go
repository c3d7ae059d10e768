package server

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/luxdb/lux-go/storage"
)

// HyperLogLog commands, as Redis 7.0's hyperloglog.c (the representation
// is in hll.go). An HLL is an ordinary string value, so it is durable,
// tiered, renamed and copied like any string; a change rewrites the whole
// value (at most 12304 bytes).
//
// Key events: PFADD and PFMERGE report "pfadd" (Redis's NOTIFY_STRING
// event for both). PFCOUNT storing a recomputed cache and PFDEBUG's
// conversions to dense change the value without a keyspace notification,
// as in Redis; they report the store events "pfcount" and "pfdebug", which
// eventClass keeps out of notifications (WATCH and tracking still see them,
// as Redis's signalModifiedKey for PFCOUNT; Redis does not signal PFDEBUG's
// conversion at all).

func init() {
	const g = "hyperloglog"
	register(
		&Command{Name: "pfadd", Arity: -2, Flags: FlagWrite | FlagDenyOOM | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdPfadd, Group: g, Summary: "Adds the specified elements to the specified HyperLogLog."},
		&Command{Name: "pfcount", Arity: -2, Flags: FlagReadOnly | FlagMayReplicate, FirstKey: 1, LastKey: -1, Handler: cmdPfcount, Group: g, Summary: "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s)."},
		&Command{Name: "pfmerge", Arity: -2, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: -1, Handler: cmdPfmerge, Group: g, Summary: "Merge N different HyperLogLogs into a single one."},
		&Command{Name: "pfdebug", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagAdmin, FirstKey: 2, LastKey: 2, Handler: cmdPfdebug, Group: g, Summary: "Internal commands for debugging HyperLogLog values"},
		&Command{Name: "pfselftest", Arity: 1, Flags: FlagAdmin, Handler: cmdPfselftest, Group: g, Summary: "An internal command for testing HyperLogLog values"},
	)
}

const (
	msgHLLNotValid = "WRONGTYPE Key is not a valid HyperLogLog string value."
	msgHLLInvalid  = "INVALIDOBJ Corrupted HLL object detected"
)

// hllSparseMaxBytes is the live hll-sparse-max-bytes.
func (s *Server) hllSparseMaxBytes() int64 { return s.hllMaxBytes.Load() }

// hllCheck is isHLLObjectOrReply: false (the reply written) for a value
// of another type or a string that is not an HLL.
func hllCheck(c *Client, e *storage.Entry) bool {
	if e.Type != storage.TypeString {
		c.WriteError(msgWrongType)
		return false
	}
	if !hllValid(e.Bytes()) {
		c.WriteError(msgHLLNotValid)
		return false
	}
	return true
}

func cloneBytes(b []byte) []byte { return append(make([]byte, 0, len(b)+8), b...) }

func cmdPfadd(c *Client, args [][]byte) {
	db := c.DB()
	key := args[1]
	e := db.LookupWrite(key)
	var o []byte
	updated := 0
	if e == nil {
		o = hllNew()
		updated++
	} else {
		if !hllCheck(c, e) {
			return
		}
		o = cloneBytes(e.Bytes())
	}
	maxBytes := c.srv.hllSparseMaxBytes()
	for _, ele := range args[2:] {
		switch hllAdd(&o, ele, maxBytes) {
		case 1:
			updated++
		case -1:
			if updated > 0 {
				// Redis changed the value in place up to the corruption,
				// without a notification
				db.SetStringEvent(key, o, 0, true, "pfcount")
			}
			c.WriteError(msgHLLInvalid)
			return
		}
	}
	if updated > 0 {
		hllInvalidateCache(o)
		db.SetStringEvent(key, o, 0, true, "pfadd")
		c.WriteInt(1)
		return
	}
	c.WriteInt(0)
}

func cmdPfcount(c *Client, args [][]byte) {
	db := c.DB()
	if len(args) > 2 {
		// the cardinality of the union, in one-byte registers; nothing written
		var max [hllRegisters]uint8
		for _, k := range args[1:] {
			e := db.Lookup(k)
			if e == nil {
				continue
			}
			if !hllCheck(c, e) {
				return
			}
			if !hllMerge(&max, e.Bytes()) {
				c.WriteError(msgHLLInvalid)
				return
			}
		}
		c.WriteInt64(int64(hllCountRaw(&max)))
		return
	}
	e := db.Lookup(args[1])
	if e == nil {
		c.WriteInt(0)
		return
	}
	if !hllCheck(c, e) {
		return
	}
	if hllValidCache(e.Bytes()) {
		c.WriteInt64(int64(hllCard(e.Bytes())))
		return
	}
	card, valid := hllCount(e.Bytes())
	if !valid {
		c.WriteError(msgHLLInvalid)
		return
	}
	o := cloneBytes(e.Bytes())
	hllSetCard(o, card)
	db.SetStringEvent(args[1], o, 0, true, "pfcount")
	c.WriteInt64(int64(card))
}

func cmdPfmerge(c *Client, args [][]byte) {
	db := c.DB()
	var max [hllRegisters]uint8
	useDense := false
	for _, k := range args[1:] {
		e := db.Lookup(k)
		if e == nil {
			continue
		}
		if !hllCheck(c, e) {
			return
		}
		if e.Bytes()[4] == hllDense {
			useDense = true
		}
		if !hllMerge(&max, e.Bytes()) {
			c.WriteError(msgHLLInvalid)
			return
		}
	}
	key := args[1]
	var o []byte
	if e := db.LookupWrite(key); e == nil {
		o = hllNew()
	} else {
		o = cloneBytes(e.Bytes()) // checked above
	}
	if useDense {
		d, ok := hllSparseToDense(o)
		if !ok {
			c.WriteError(msgHLLInvalid)
			return
		}
		o = d
	}
	maxBytes := c.srv.hllSparseMaxBytes()
	for j, v := range max {
		if v == 0 {
			continue
		}
		switch o[4] {
		case hllDense:
			hllDenseSet(o[hllHdrSize:], j, v)
		case hllSparse:
			hllSparseSet(&o, j, v, maxBytes)
		}
	}
	hllInvalidateCache(o)
	db.SetStringEvent(key, o, 0, true, "pfadd")
	c.WriteOK()
}

func cmdPfdebug(c *Client, args [][]byte) {
	db := c.DB()
	key := args[2]
	e := db.LookupWrite(key)
	if e == nil {
		c.WriteError("ERR The specified key does not exist")
		return
	}
	if !hllCheck(c, e) {
		return
	}
	s := e.Bytes()
	sub := string(args[1])
	switch strings.ToLower(sub) {
	case "getreg":
		if s[4] == hllSparse {
			d, ok := hllSparseToDense(s)
			if !ok {
				c.WriteError(msgHLLInvalid)
				return
			}
			db.SetStringEvent(key, d, 0, true, "pfdebug")
			s = d
		}
		regs := s[hllHdrSize:]
		c.WriteArray(hllRegisters)
		for j := 0; j < hllRegisters; j++ {
			c.WriteInt(int(hllDenseGet(regs, j)))
		}
	case "decode":
		if s[4] != hllSparse {
			c.WriteError("ERR HLL encoding is not sparse")
			return
		}
		c.WriteBulk(hllDecode(s))
	case "encoding":
		if s[4] == hllDense {
			c.WriteString("dense")
		} else {
			c.WriteString("sparse")
		}
	case "todense":
		if s[4] != hllSparse {
			c.WriteInt(0)
			return
		}
		d, ok := hllSparseToDense(s)
		if !ok {
			c.WriteError(msgHLLInvalid)
			return
		}
		db.SetStringEvent(key, d, 0, true, "pfdebug")
		c.WriteInt(1)
	default:
		c.WriteError(fmt.Sprintf("ERR Unknown PFDEBUG subcommand '%s'", sub))
	}
}

// hllDecode renders a sparse HLL's opcodes as PFDEBUG DECODE does.
func hllDecode(s []byte) []byte {
	var out []byte
	for p := hllHdrSize; p < len(s); {
		b := s[p]
		switch {
		case sparseIsZero(b):
			out = append(out, "z:"...)
			out = strconv.AppendInt(out, int64(sparseZeroLen(b)), 10)
			p++
		case sparseIsXZero(b):
			out = append(out, "Z:"...)
			out = strconv.AppendInt(out, int64(sparseXZeroLen(s, p)), 10)
			p += 2
		default:
			out = append(out, "v:"...)
			out = strconv.AppendInt(out, int64(sparseValValue(b)), 10)
			out = append(out, ',')
			out = strconv.AppendInt(out, int64(sparseValLen(b)), 10)
			p++
		}
		out = append(out, ' ')
	}
	if len(out) > 0 {
		out = out[:len(out)-1]
	}
	if out == nil {
		out = []byte{}
	}
	return out
}

func cmdPfselftest(c *Client, args [][]byte) {
	if msg := hllSelfTest(c.srv.hllSparseMaxBytes()); msg != "" {
		c.WriteError(msg)
		return
	}
	c.WriteOK()
}

// hllSelfTest is PFSELFTEST: "" when it passes, else the error to reply.
func hllSelfTest(maxBytes int64) string {
	const cycles = 1000
	dense := make([]byte, hllDenseSize)
	copy(dense, "HYLL")
	regs := dense[hllHdrSize:]
	var bytecounters [hllRegisters]uint8

	// test 1: registers keep their values without touching their neighbours
	for j := 0; j < cycles; j++ {
		for i := range bytecounters {
			r := uint8(rand.Uint32() & hllRegisterMax)
			bytecounters[i] = r
			hllDenseSetReg(regs, i, r)
		}
		for i := range bytecounters {
			if v := hllDenseGet(regs, i); v != bytecounters[i] {
				return fmt.Sprintf("ERR TESTFAILED Register %d should be %d but is %d", i, bytecounters[i], v)
			}
		}
	}

	// test 2: the estimate stays within bounds, dense and sparse agree
	clear(regs)
	o := hllNew()
	relerr := 1.04 / math.Sqrt(hllRegisters)
	checkpoint := int64(1)
	seed := rand.Uint64()
	var ele [8]byte
	for j := int64(1); j <= 10000000; j++ {
		v := uint64(j) ^ seed
		for k := range ele {
			ele[k] = byte(v >> (8 * k))
		}
		idx, cnt := hllPatLen(ele[:])
		hllDenseSet(regs, idx, cnt)
		hllAdd(&o, ele[:], maxBytes)
		if j != checkpoint {
			continue
		}
		if j < maxBytes/2 && o[4] != hllSparse {
			return "ERR TESTFAILED sparse encoding not used"
		}
		dc, _ := hllCount(dense)
		if sc, _ := hllCount(o); dc != sc {
			return "ERR TESTFAILED dense/sparse disagree"
		}
		abserr := checkpoint - int64(dc)
		maxerr := uint64(math.Ceil(relerr * 6 * float64(checkpoint)))
		if j == 10 {
			maxerr = 1
		}
		if abserr < 0 {
			abserr = -abserr
		}
		if abserr > int64(maxerr) {
			return fmt.Sprintf("ERR TESTFAILED Too big error. card:%d abserr:%d", checkpoint, abserr)
		}
		checkpoint *= 10
	}
	return ""
}
