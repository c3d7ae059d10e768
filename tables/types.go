package tables

import (
	"math"
	"strconv"
)

// Type is a field's declared type.
type Type uint8

// Field types, as TCREATE spells them.
const (
	TypeStr Type = iota + 1
	TypeInt
	TypeFloat
	TypeBool
	TypeTimestamp
	TypeRef
)

// String returns the type's name as TCREATE and TSCHEMA spell it (refs
// without their target, which lives on the field).
func (t Type) String() string {
	switch t {
	case TypeStr:
		return "str"
	case TypeInt:
		return "int"
	case TypeFloat:
		return "float"
	case TypeBool:
		return "bool"
	case TypeTimestamp:
		return "timestamp"
	case TypeRef:
		return "ref"
	}
	return "?"
}

// ordered reports whether the type is one of the numeric types that get a
// composite (ref, field) index: int, float and timestamp.
func (t Type) ordered() bool { return t == TypeInt || t == TypeFloat || t == TypeTimestamp }

// tv is a typed value in comparable form: n holds an order-preserving
// unsigned encoding of every non-string type (so comparing n compares the
// values), s holds a str value.
type tv struct {
	n uint64
	s string
}

// cmpTV compares two values of the same type.
func cmpTV(t Type, a, b tv) int {
	if t == TypeStr {
		switch {
		case a.s < b.s:
			return -1
		case a.s > b.s:
			return 1
		}
		return 0
	}
	switch {
	case a.n < b.n:
		return -1
	case a.n > b.n:
		return 1
	}
	return 0
}

const signBit = 1 << 63

// intKey maps an int64 to a uint64 with the same order.
func intKey(v int64) uint64 { return uint64(v) ^ signBit }

// keyInt is intKey's inverse.
func keyInt(k uint64) int64 { return int64(k ^ signBit) }

// floatKey maps a non-NaN float64 to a uint64 with the same order
// (-0 must already be normalized to 0).
func floatKey(f float64) uint64 {
	b := math.Float64bits(f)
	if b&signBit != 0 {
		return ^b
	}
	return b | signBit
}

// parseStrictInt parses an optional sign and decimal digits that fit in an
// int64 (no spaces, no underscores, no base prefixes).
func parseStrictInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 32 {
		return 0, false
	}
	i := 0
	if b[0] == '+' || b[0] == '-' {
		i = 1
	}
	if i == len(b) {
		return 0, false
	}
	for _, c := range b[i:] {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

// parseStrictFloat accepts decimal or exponent notation and inf/infinity
// (any case, optional sign). NaN, hex floats, underscores and values out of
// float64's range are refused.
func parseStrictFloat(b []byte) (float64, bool) {
	if len(b) == 0 || len(b) > 400 {
		return 0, false
	}
	s := b
	if s[0] == '+' || s[0] == '-' {
		s = s[1:]
	}
	if isInfWord(s) {
		if b[0] == '-' {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	// digits [. digits] | . digits, then an optional exponent
	i, digits := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	if f == 0 {
		f = 0 // -0 is 0: one value, one unique key
	}
	return f, true
}

func isInfWord(s []byte) bool {
	return eqFoldASCII(s, "inf") || eqFoldASCII(s, "infinity")
}

func eqFoldASCII(b []byte, word string) bool {
	if len(b) != len(word) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != word[i] {
			return false
		}
	}
	return true
}

// formatFloat renders a float as the shortest decimal that parses back to the
// same value: plain notation between 1e-6 and 1e21 (as JavaScript prints
// numbers), exponent notation outside, "inf" and "-inf" for infinities.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case f == 0:
		return "0"
	}
	a := math.Abs(f)
	if a >= 1e-6 && a < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'e', -1, 64)
}

// parseValue checks raw against field f's type and returns the canonical
// text stored and returned, and the comparable value. now resolves `*` on
// timestamp fields.
func parseValue(f *field, raw []byte, now int64) (string, tv, error) {
	switch f.typ {
	case TypeStr:
		s := string(raw)
		return s, tv{s: s}, nil
	case TypeInt, TypeRef:
		v, ok := parseStrictInt(raw)
		if !ok {
			return "", tv{}, errType(f.name, "int", raw)
		}
		return strconv.FormatInt(v, 10), tv{n: intKey(v)}, nil
	case TypeTimestamp:
		if len(raw) == 1 && raw[0] == '*' {
			return strconv.FormatInt(now, 10), tv{n: intKey(now)}, nil
		}
		v, ok := parseStrictInt(raw)
		if !ok {
			return "", tv{}, errType(f.name, "timestamp (epoch ms or *)", raw)
		}
		return strconv.FormatInt(v, 10), tv{n: intKey(v)}, nil
	case TypeFloat:
		v, ok := parseStrictFloat(raw)
		if !ok {
			return "", tv{}, errType(f.name, "float", raw)
		}
		return formatFloat(v), tv{n: floatKey(v)}, nil
	case TypeBool:
		switch string(raw) {
		case "true", "1":
			return "true", tv{n: 1}, nil
		case "false", "0":
			return "false", tv{n: 0}, nil
		}
		return "", tv{}, errType(f.name, "bool (true/false/1/0)", raw)
	}
	return "", tv{}, errType(f.name, f.typ.String(), raw)
}

// canonKey returns the comparable value of a stored canonical text. Stored
// texts were produced by parseValue, so they always parse; ok is false only
// for corrupt data.
func canonKey(t Type, s string) (tv, bool) {
	switch t {
	case TypeStr:
		return tv{s: s}, true
	case TypeInt, TypeRef, TypeTimestamp:
		v, err := strconv.ParseInt(s, 10, 64)
		return tv{n: intKey(v)}, err == nil
	case TypeFloat:
		switch s {
		case "inf":
			return tv{n: floatKey(math.Inf(1))}, true
		case "-inf":
			return tv{n: floatKey(math.Inf(-1))}, true
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) {
			return tv{}, false
		}
		if v == 0 {
			v = 0
		}
		return tv{n: floatKey(v)}, true
	case TypeBool:
		switch s {
		case "true":
			return tv{n: 1}, true
		case "false":
			return tv{n: 0}, true
		}
	}
	return tv{}, false
}

// validName reports whether b is a valid table or field name: non-empty,
// ASCII letters, digits and '_' only.
func validName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
