package server

import (
	"math/big"
	"strings"
)

// maxLongDoubleChars is Redis's MAX_LONG_DOUBLE_CHARS: string2ld refuses
// inputs of this length or longer.
const maxLongDoubleChars = 5 * 1024

// ldHalfDenormExp is the binary exponent, in big.Float's MantExp convention
// (mantissa in [0.5, 1)), of half the smallest x87 long double denormal:
// 2^-16446 = 0.5 * 2^-16445.
const ldHalfDenormExp = -16445

// parseLongDoubleExact parses like Redis's string2ld byte for byte: the
// strtold grammar (decimal or hexadecimal, "inf"/"infinity", no spaces, no
// '_' separators, no "0b"/"0o" prefixes), NaN refused, and ERANGE results
// refused when they overflow or underflow to zero (denormals are accepted).
// parseLongDouble in args.go is looser on those edges ("0x10" without a 'p'
// exponent, "1_0", "1e-5000", inputs of 5001-5119 characters); this
// function is meant to replace its body.
func parseLongDoubleExact(b []byte) (longDouble, bool) {
	if len(b) == 0 || len(b) >= maxLongDoubleChars {
		return longDouble{}, false
	}
	s := string(b)
	body := s
	if body[0] == '+' || body[0] == '-' {
		body = body[1:]
	}
	switch strings.ToLower(body) {
	case "inf", "infinity":
		return longDouble{new(big.Float).SetPrec(ldPrec).SetInf(s[0] == '-')}, true
	}
	base := 10
	if hex := len(body) > 1 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X'); hex {
		if !strtoldNumber(body[2:], isHexDigit, 'p') {
			return longDouble{}, false
		}
		base = 0 // big.ParseFloat reads the 0x prefix and an optional p exponent
	} else if !strtoldNumber(body, isDecDigit, 'e') {
		return longDouble{}, false // NaN, spaces and junk land here too
	}
	f, _, err := big.ParseFloat(s, base, ldPrec, big.ToNearestEven)
	if err != nil || ldOverflow(f) {
		return longDouble{}, false
	}
	if f.Sign() != 0 {
		// A nonzero literal below half the smallest denormal rounds to
		// zero with ERANGE, which string2ld refuses (exactly half rounds to
		// the even zero too).
		mant := new(big.Float)
		exp := f.MantExp(mant)
		if exp < ldHalfDenormExp || (exp == ldHalfDenormExp && mant.Abs(mant).Cmp(big.NewFloat(0.5)) == 0) {
			return longDouble{}, false
		}
	}
	return longDouble{f}, true
}

// strtoldNumber checks the unsigned mantissa-and-exponent part strtold
// consumes entirely: digits, an optional '.', at least one digit overall,
// then optionally the exponent letter, a sign and at least one decimal digit.
func strtoldNumber(s string, digit func(byte) bool, expLetter byte) bool {
	i, digits := 0, 0
	for i < len(s) && digit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && digit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i]|0x20) == expLetter {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && isDecDigit(s[i]) {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}

func isDecDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHexDigit(c byte) bool {
	return isDecDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f')
}
