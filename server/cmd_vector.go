package server

import (
	"strconv"

	"github.com/luxdb/lux-go/storage"
)

// Vectors: VSET, VGET, VSEARCH, VCARD (docs/LUX-EXTENSIONS.md, "Vectors").
// A vector is an ordinary key; the search index lives in storage
// (storage/vecindex.go), which keeps it exact on every change of a key.

func init() {
	const vector = "vector"
	register(
		&Command{Name: "vset", Arity: -4, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Handler: cmdVSet, Group: vector, Summary: "Stores a vector with optional metadata and expiry."},
		&Command{Name: "vget", Arity: 2, Flags: FlagReadOnly | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdVGet, Group: vector, Summary: "Returns a vector's dimension count, components and metadata."},
		&Command{Name: "vsearch", Arity: -4, Flags: FlagReadOnly | FlagNoLock, Handler: cmdVSearch, Group: vector, Summary: "Returns the k vectors most similar to a query by cosine similarity."},
		&Command{Name: "vcard", Arity: 1, Flags: FlagReadOnly | FlagNoLock | FlagFast, Handler: cmdVCard, Group: vector, Summary: "Returns the number of vector keys in the database."},
	)
}

// Error texts of the vector commands (the contract's, byte for byte).
const (
	msgVecDims        = "ERR invalid dimension count"
	msgVecNotEnough   = "ERR not enough float values for specified dimensions"
	msgVecMetaTooBig  = "ERR metadata too large"
	msgVecMissingK    = "ERR missing K parameter"
	msgVecMissingKVal = "ERR missing K value"
	msgVecInvalidK    = "ERR invalid K value"
	msgVecFilterArgs  = "ERR FILTER requires key and value arguments"
	msgVecZeroQuery   = "ERR query vector must not be all zeros"
)

// vsearchMaxK bounds VSEARCH's K.
const vsearchMaxK = 10000

// parseVecDims reads a dimension count, 1 … storage.MaxVectorDims. Like
// every integer of these commands (dims, K, EX, PX) it is an optional sign
// and decimal digits within int64: `+3` and `003` are 3.
func parseVecDims(b []byte) (int, bool) {
	n, ok := tsParseInt(b)
	if !ok || n < 1 || n > storage.MaxVectorDims {
		return 0, false
	}
	return int(n), true
}

// parseVecComp reads a component: a finite decimal (or exponent) float
// within float32 range, rounded to the nearest float32. NaN, infinities,
// hexadecimal and out-of-range values are refused.
func parseVecComp(b []byte) (float32, bool) {
	f, ok := parseFiniteFloat(b, 32)
	return float32(f), ok
}

// readVector parses "dims v1 … vdims" at the start of args (VSET, VSEARCH)
// with the contract's errors in their order; ok is false when one was
// written.
func readVector(c *Client, args [][]byte) (comps []float32, ok bool) {
	dims, ok := parseVecDims(args[0])
	if !ok {
		c.WriteError(msgVecDims)
		return nil, false
	}
	if len(args) < 1+dims {
		c.WriteError(msgVecNotEnough)
		return nil, false
	}
	if comps, ok = parseVecComps(args[1:1+dims], dims); !ok {
		c.WriteError(msgNotFloat)
		return nil, false
	}
	return comps, true
}

// parseVecComps reads dims components from args (len(args) >= dims).
func parseVecComps(args [][]byte, dims int) ([]float32, bool) {
	v := make([]float32, dims)
	for i := range v {
		f, ok := parseVecComp(args[i])
		if !ok {
			return nil, false
		}
		v[i] = f
	}
	return v, true
}

func formatVecFloat(f float32) string { return strconv.FormatFloat(float64(f), 'f', -1, 32) }

// cmdVSet implements VSET key dims v1 … vdims [META text] [EX seconds | PX ms].
func cmdVSet(c *Client, args [][]byte) {
	key := args[1]
	comps, ok := readVector(c, args[2:])
	if !ok {
		return
	}
	dims := len(comps)
	v := &storage.Vector{Comps: comps}
	var exp int64
	expSet := false
	for i := 3 + dims; i < len(args); i++ {
		more := i+1 < len(args)
		switch {
		case eqFold(args[i], "meta") && more:
			if len(args[i+1]) > storage.MaxVectorMeta {
				c.WriteError(msgVecMetaTooBig)
				return
			}
			v.Meta, v.HasMeta = append([]byte(nil), args[i+1]...), true
			i++
		case (eqFold(args[i], "ex") || eqFold(args[i], "px")) && more && !expSet:
			flag := optPX
			if eqFold(args[i], "ex") {
				flag = optEX
			}
			n, ok := tsParseInt(args[i+1])
			if !ok {
				c.WriteError(msgNotInt)
				return
			}
			var msg string
			if exp, msg = expireAtValue(flag, n, "vset"); msg != "" {
				c.WriteError(msg)
				return
			}
			expSet = true
			i++
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	c.DB().SetVector(key, v, exp)
	c.WriteOK()
}

// cmdVGet implements VGET key → [dims, v1, …, vdims, metadata or nil].
func cmdVGet(c *Client, args [][]byte) {
	e := c.DB().Lookup(args[1])
	if e == nil {
		c.WriteNull()
		return
	}
	v, ok := e.Object().(*storage.Vector)
	if e.Type != storage.TypeVector || !ok {
		c.WriteError(msgWrongType)
		return
	}
	c.WriteArray(len(v.Comps) + 2)
	c.WriteInt(len(v.Comps))
	for _, f := range v.Comps {
		c.WriteBulkString(formatVecFloat(f))
	}
	if v.HasMeta {
		c.WriteBulk(v.Meta)
	} else {
		c.WriteNull()
	}
}

// cmdVSearch implements VSEARCH dims q1 … qdims K k [FILTER field value …] [META].
func cmdVSearch(c *Client, args [][]byte) {
	q, ok := readVector(c, args[1:])
	if !ok {
		return
	}
	dims := len(q)
	i := 2 + dims
	if i >= len(args) || !eqFold(args[i], "k") {
		c.WriteError(msgVecMissingK)
		return
	}
	if i+1 >= len(args) {
		c.WriteError(msgVecMissingKVal)
		return
	}
	k, ok := tsParseInt(args[i+1])
	if !ok || k < 1 || k > vsearchMaxK {
		c.WriteError(msgVecInvalidK)
		return
	}
	var filters []storage.VecFilter
	withMeta := false
	for i += 2; i < len(args); i++ {
		switch {
		case eqFold(args[i], "filter"):
			if i+2 >= len(args) {
				c.WriteError(msgVecFilterArgs)
				return
			}
			filters = append(filters, storage.VecFilter{Field: string(args[i+1]), Value: string(args[i+2])})
			i += 2
		case eqFold(args[i], "meta"):
			withMeta = true
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	zero := true
	for _, f := range q {
		if f != 0 {
			zero = false
			break
		}
	}
	if zero {
		c.WriteError(msgVecZeroQuery)
		return
	}
	hits := c.DB().VSearch(q, int(k), filters)
	c.WriteArray(len(hits))
	for _, h := range hits {
		if withMeta {
			c.WriteArray(3)
		} else {
			c.WriteArray(2)
		}
		c.WriteBulkString(h.Key)
		c.WriteBulkString(formatVecFloat(h.Score))
		if withMeta {
			if h.HasMeta {
				c.WriteBulk(h.Meta)
			} else {
				c.WriteNull()
			}
		}
	}
}

// cmdVCard implements VCARD: the live vector keys of the database.
func cmdVCard(c *Client, args [][]byte) {
	c.WriteInt64(c.DB().VCard())
}
