package server

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"unsafe"
)

// parseInt parses an integer exactly like Redis's string2ll: optional '-',
// no '+', no leading zeros, no spaces, within int64.
func parseInt(b []byte) (int64, bool) {
	n := len(b)
	if n == 0 || n >= 21 {
		return 0, false
	}
	if n == 1 && b[0] == '0' {
		return 0, true
	}
	i, neg := 0, false
	if b[0] == '-' {
		neg = true
		i++
		if i == n {
			return 0, false
		}
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, false
	}
	var v uint64
	if n-i <= 19 { // at most 19 digits: below 10^19, no uint64 overflow
		for ; i < n; i++ {
			d := b[i] - '0'
			if d > 9 {
				return 0, false
			}
			v = v*10 + uint64(d)
		}
	}
	for ; i < n; i++ {
		d := b[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		if v > (math.MaxUint64-uint64(d-'0'))/10 {
			return 0, false
		}
		v = v*10 + uint64(d-'0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// parseFloat parses a double like Redis's string2d: no leading space, no NaN,
// "inf"/"-inf"/"+inf" accepted.
func parseFloat(b []byte) (float64, bool) {
	if len(b) == 0 || isSpace(b[0]) || isSpace(b[len(b)-1]) {
		return 0, false
	}
	s := string(b)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// strtod accepts overflow as ±HUGE_VAL with ERANGE, which Redis rejects;
		// it also accepts hex floats, which ParseFloat takes with a 0x prefix.
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, false
		}
		return 0, false
	}
	if math.IsNaN(f) {
		return 0, false
	}
	ls := strings.ToLower(strings.TrimLeft(s, "+-"))
	if (ls == "infinity" || ls == "inf") || !math.IsInf(f, 0) {
		return f, true
	}
	return f, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// formatFloat formats a double reply as Redis 7.0 does (d2string: integers
// without exponent, otherwise %.17g).
func formatFloat(f float64) []byte {
	switch {
	case math.IsNaN(f):
		return []byte("nan")
	case math.IsInf(f, 1):
		return []byte("inf")
	case math.IsInf(f, -1):
		return []byte("-inf")
	case f == 0:
		if math.Signbit(f) {
			return []byte("-0")
		}
		return []byte("0")
	}
	if f > -4503599627370495 && f < 4503599627370496 && f == math.Trunc(f) {
		return strconv.AppendInt(nil, int64(f), 10)
	}
	return strconv.AppendFloat(nil, f, 'g', 17, 64)
}

// longDouble emulates the x87 80-bit long double Redis uses for INCRBYFLOAT
// and HINCRBYFLOAT, so results are formatted byte for byte as Redis does.
type longDouble struct{ f *big.Float }

const ldPrec = 64

// parseLongDouble parses like Redis's string2ld (strtold, no spaces, no NaN,
// Redis's length and range limits); see args_longdouble.go.
func parseLongDouble(b []byte) (longDouble, bool) { return parseLongDoubleExact(b) }

// ldOverflow reports whether f is outside long double's finite range.
func ldOverflow(f *big.Float) bool { return f.IsInf() || f.MantExp(nil) > 16384 }

func (a longDouble) add(b longDouble) (longDouble, bool) {
	if a.f.IsInf() || b.f.IsInf() {
		return longDouble{}, false
	}
	r := new(big.Float).SetPrec(ldPrec).SetMode(big.ToNearestEven).Add(a.f, b.f)
	if ldOverflow(r) {
		return longDouble{}, false
	}
	return longDouble{r}, true
}

// humanString formats like Redis's ld2string(LD_STR_HUMAN): "%.17Lf" with
// trailing zeros (and a trailing dot) removed.
func (a longDouble) humanString() string {
	s := a.f.Text('f', 17)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// parseTimeout parses a blocking timeout in seconds (fractional allowed)
// into milliseconds, with Redis's errors.
func parseTimeout(b []byte) (int64, string) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || len(b) == 0 || isSpace(b[0]) {
		return 0, msgTimeoutNotFloat
	}
	if f < 0 {
		return 0, msgTimeoutNeg
	}
	ms := f * 1000
	if ms > math.MaxInt64/2 {
		return 0, msgTimeoutNotFloat
	}
	return int64(math.Ceil(ms)), ""
}

// eqFold compares an argument with a lowercase keyword case-insensitively.
func eqFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// normIndex converts Redis's negative-capable [start, end] range over n items
// into a half-open [lo, hi) range; ok is false when the range is empty.
func normIndex(start, end, n int64) (lo, hi int64, ok bool) {
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	if start < 0 {
		start = 0
	}
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		return 0, 0, false
	}
	return start, end + 1, true
}

// parseFiniteFloat parses a finite float in decimal or exponent notation,
// rounded to bitSize (32 or 64) bits: no hex, no NaN or infinities, nothing
// that overflows the size (the Lux extensions' floats: time series values,
// vector components).
func parseFiniteFloat(b []byte, bitSize int) (float64, bool) {
	i, n := 0, len(b)
	if i < n && (b[i] == '+' || b[i] == '-') {
		i++
	}
	digits := 0
	for i < n && b[i] >= '0' && b[i] <= '9' {
		i++
		digits++
	}
	if i < n && b[i] == '.' {
		i++
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		ed := 0
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
			ed++
		}
		if ed == 0 {
			return 0, false
		}
	}
	if i != n {
		return 0, false
	}
	// no copy of the argument: the error (which would keep it) is dropped;
	// an overflow is ±Inf, an underflow rounds to 0 or a subnormal
	v, _ := strconv.ParseFloat(unsafe.String(&b[0], len(b)), bitSize)
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}
