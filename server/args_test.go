package server

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// parseIntRef is Redis's string2ll by its rules: strconv's parse of the
// canonical form only (no '+', no leading zeros, no "-0").
func parseIntRef(s string) (int64, bool) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || strconv.FormatInt(v, 10) != s {
		return 0, false
	}
	return v, true
}

// randDigits returns 1 to most bytes drawn from digits.
func randDigits(rng *rand.Rand, most int, digits string) []byte {
	b := make([]byte, 1+rng.IntN(most))
	for i := range b {
		b[i] = digits[rng.IntN(len(digits))]
	}
	return b
}

func TestParseIntMatchesString2ll(t *testing.T) {
	cases := []string{
		"", "0", "-0", "00", "01", "-", "+1", "1", "-1", " 1", "1 ", "12a", "a",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"18446744073709551615", "18446744073709551616", "99999999999999999999", "-99999999999999999999",
		"1000000000000000000", "9999999999999999999", "10000000000000000000", "123456789012345678901",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := randDigits(rng, 21, "0123456789")
		switch rng.IntN(4) {
		case 0:
			b[0] = '-'
		case 1:
			b[rng.IntN(len(b))] = "-+ x/:"[rng.IntN(6)]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		want, wok := parseIntRef(s)
		got, ok := parseInt([]byte(s))
		require.Equal(t, wok, ok, "%q", s)
		require.Equal(t, want, got, "%q", s)
	}
}

// incrDecimal gives INCR's reply for every canonical counter it takes, and
// declines the rest (parseInt's path answers those).
func TestIncrDecimalMatchesParseAndFormat(t *testing.T) {
	cases := []string{"0", "1", "9", "10", "99", "199", "999999999999999999", "899999999999999999",
		"99999999999999999", "1999", "", "00", "01", "-1", "-0", "9999999999999999999", "12a", " 1", "+1"}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		b := randDigits(rng, 20, "0123456789999") // more nines: more carries
		if rng.IntN(8) == 0 {
			b[rng.IntN(len(b))] = "-+ x/:"[rng.IntN(6)]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		var buf [24]byte
		got := incrDecimal(&buf, []byte(s))
		v, ok := parseInt([]byte(s))
		if !ok || v < 0 || len(s) > 18 {
			require.Nil(t, got, "%q", s)
			continue
		}
		require.Equal(t, ":"+strconv.FormatInt(v+1, 10)+"\r\n", string(got), "%q", s)
	}
}
