package pubsub

import (
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type matchCase struct {
	pattern, str string
	nocase       bool
	want         bool
}

var matchCases = []matchCase{
	// Empty inputs. Redis 7 quirk: no non-empty pattern matches "" (its main
	// loop requires both lengths to be non-zero), not even "*".
	{"", "", false, true},
	{"", "a", false, false},
	{"a", "", false, false},
	{"*", "", false, false},
	{"**", "", false, false},
	{"?", "", false, false},
	{"[a]", "", false, false},

	// Literals.
	{"hello", "hello", false, true},
	{"hello", "hell", false, false},
	{"hell", "hello", false, false},
	{"hello", "Hello", false, false},

	// '*'.
	{"*", "anything", false, true},
	{"**", "x", false, true},
	{"h*llo", "hllo", false, true},
	{"h*llo", "heeeello", false, true},
	{"h*llo", "hello!", false, false},
	{"*llo", "hello", false, true},
	{"he*", "he", false, true},
	{"he**", "he", false, true},
	{"he*?", "he", false, false},
	{"he*?", "hex", false, true},
	{"*a*b*", "xaybz", false, true},
	{"*a*b*", "xbyaz", false, false},
	{"a*b*c", "abc", false, true},
	{"a*b*c", "aXbXcXc", false, true},
	{"a*b*c", "aXbXcX", false, false},
	{"news.*", "news.tech", false, true},
	{"news.*", "news", false, false},
	{"*.*", "a.b.c", false, true},

	// '?'.
	{"h?llo", "hello", false, true},
	{"h?llo", "hallo", false, true},
	{"h?llo", "hllo", false, false},
	{"??", "ab", false, true},
	{"??", "abc", false, false},

	// Classes.
	{"h[ae]llo", "hello", false, true},
	{"h[ae]llo", "hallo", false, true},
	{"h[ae]llo", "hillo", false, false},
	{"h[^e]llo", "hallo", false, true},
	{"h[^e]llo", "hello", false, false},
	{"h[a-b]llo", "hbllo", false, true},
	{"h[a-b]llo", "hcllo", false, false},
	{"h[b-a]llo", "hallo", false, true}, // reversed range is swapped
	{"h[b-a]llo", "hcllo", false, false},
	{"[a-cx-z]", "y", false, true},
	{"[a-cx-z]", "m", false, false},
	{"[^a-c]", "d", false, true},
	{"[^a-c]", "b", false, false},
	{"[0-9][0-9]", "42", false, true},
	{"[0-9][0-9]", "4x", false, false},
	{"[abc", "b", false, true}, // unterminated: class runs to end of pattern
	{"[abc", "d", false, false},
	{"[a", "a", false, true},
	{"[", "a", false, false}, // empty unterminated class matches nothing
	{"[^", "x", false, true}, // negated empty unterminated class: any byte
	{"[^", "", false, false},
	{"[^a", "a", false, false},
	{"[^a", "b", false, true},
	{"[a-", "a", false, true}, // too short for a range: literal 'a' and '-'
	{"[a-", "-", false, true},
	{"[a-", "b", false, false},
	{"[]", "]", false, false}, // empty class matches nothing
	{"[]a]", "]", false, false},
	{"[^]", "x", false, true},
	{"[a-]", "_", false, true}, // range 'a'..']' swapped to ']'..'a'
	{"[a-]", "a", false, true},
	{"[a-]", "-", false, false},
	{"[a-]x", "ax", false, false}, // ']' was the range end: class never closed
	{"x[ab]y[cd]z", "xbycz", false, true},
	{"x[ab]y[cd]z", "xbyez", false, false},

	// Escapes inside classes.
	{`[\]]`, "]", false, true},
	{`[\]]`, `\`, false, false},
	{`[\-]`, "-", false, true},
	{`[\^a]`, "^", false, true},
	{`[\^a]`, "a", false, true},
	{`[\-z]`, "z", false, true}, // escaped '-' does not form a range
	{`[\-z]`, "m", false, false},
	{`[a\`, `\`, false, true}, // trailing '\' in a class is literal
	{`[\`, `\`, false, true},

	// Escapes outside classes.
	{`h\*llo`, "h*llo", false, true},
	{`h\*llo`, "hello", false, false},
	{`h\?llo`, "h?llo", false, true},
	{`h\?llo`, "hallo", false, false},
	{`\[a]`, "[a]", false, true},
	{`\[a]`, "a", false, false},
	{`\\`, `\`, false, true},
	{`\`, `\`, false, true}, // lone trailing backslash is literal
	{`a\`, `a\`, false, true},
	{`a\`, "a", false, false},
	{`*\*`, "abc*", false, true},
	{`*\*`, "abc", false, false},
	{`\a`, "a", false, true},

	// Case folding.
	{"HELLO", "hello", true, true},
	{"HELLO", "hello", false, false},
	{"h*O", "HELLO", true, true},
	{"h[A-Z]llo", "hello", true, true},
	{"h[a-z]llo", "hELLO", true, true},
	{"h[A-Z]llo", "hello", false, false},
	{"[E]", "e", true, true},
	{"[^E]", "e", true, false},
	{`[\E]`, "e", true, false}, // Redis: escaped class bytes ignore nocase
	{`[\E]`, "E", true, true},
	{`\E`, "e", true, true}, // ...but escapes outside a class honour it
	{"[Z-a]", "_", true, false},

	// Bytes are compared unsigned.
	{"[\x00-\xff]", "\x80", false, true},
	{"[\x80-\xff]", "a", false, false},
	{"\xff*", "\xff\x00\x01", false, true},
	{"a\x00b", "a\x00b", false, true},
	{"a?b", "a\x00b", false, true},
}

func TestMatch(t *testing.T) {
	for _, tc := range matchCases {
		got := Match([]byte(tc.pattern), []byte(tc.str), tc.nocase)
		assert.Equal(t, tc.want, got, "Match(%q, %q, nocase=%v)", tc.pattern, tc.str, tc.nocase)
		if !tc.nocase {
			assert.Equal(t, tc.want, MatchString(tc.pattern, tc.str), "MatchString(%q, %q)", tc.pattern, tc.str)
		}
	}
}

func TestMatchNilEqualsEmpty(t *testing.T) {
	assert.True(t, Match(nil, nil, false))
	assert.False(t, Match(nil, []byte("a"), false))
	assert.False(t, Match([]byte("a"), nil, false))
}

// TestMatchPathological checks the skipLongerMatches optimisation: without it
// these patterns take exponential time (minutes to forever).
func TestMatchPathological(t *testing.T) {
	cases := []struct{ pattern, str string }{
		{strings.Repeat("a*", 40) + "b", strings.Repeat("a", 200)},
		{strings.Repeat("*a", 40) + "b", strings.Repeat("a", 200)},
		{strings.Repeat("a*", 200) + "b", strings.Repeat("a", 5000)},
		{strings.Repeat("?*", 100) + "x", strings.Repeat("y", 1000)},
		{strings.Repeat("*[a-z]", 100) + "!", strings.Repeat("q", 1000)},
	}
	start := time.Now()
	for _, c := range cases {
		assert.False(t, MatchString(c.pattern, c.str), "pattern %.20q...", c.pattern)
		assert.False(t, Match([]byte(c.pattern), []byte(c.str), true), "pattern %.20q...", c.pattern)
	}
	// The positive variant must still match.
	assert.True(t, MatchString(strings.Repeat("a*", 40)+"b", strings.Repeat("a", 200)+"b"))
	assert.Less(t, time.Since(start), 2*time.Second)
}

// TestMatchNestingLimit checks Redis's recursion guard: every '*' group
// followed by more pattern adds a nesting level, and past 1000 Redis gives
// up and reports no match even though the pattern would otherwise match.
func TestMatchNestingLimit(t *testing.T) {
	str := strings.Repeat("a", 1100)

	ok := strings.Repeat("*a", 1000)
	assert.True(t, MatchString(ok, str))

	tooDeep := strings.Repeat("*a", 1002)
	assert.False(t, MatchString(tooDeep, str))

	// Runs of '*' collapse and do not count as nesting.
	assert.True(t, MatchString(strings.Repeat("*", 5000)+"a", "a"))
}

// naiveMatch is the Redis algorithm without the skipLongerMatches shortcut
// (and without the nesting limit, irrelevant for short inputs). It is
// exponential but exact on small inputs, so comparing against it checks that
// the shortcut never changes a result. Single elements are delegated to
// matchImpl, which consumes exactly one element against a one-byte string.
func naiveMatch(pattern, str []byte, nocase bool) bool {
	var rec func(p, s int) bool
	rec = func(p, s int) bool {
		for p < len(pattern) && s < len(str) {
			if pattern[p] == '*' {
				for p < len(pattern) && at(pattern, p+1) == '*' {
					p++
				}
				if len(pattern)-p == 1 {
					return true
				}
				for ; s < len(str); s++ {
					if rec(p+1, s) {
						return true
					}
				}
				return false
			}
			end := elementEnd(pattern, p)
			skip := false
			if !matchImpl(pattern[p:end], 0, str[s:s+1], 0, nocase, &skip, 0) {
				return false
			}
			p, s = end, s+1
			if s == len(str) {
				for at(pattern, p) == '*' {
					p++
				}
				break
			}
		}
		return p == len(pattern) && s == len(str)
	}
	return rec(0, 0)
}

// elementEnd returns the index just past the pattern element starting at i
// (a literal, '?', escape or class), following Redis's class parsing.
func elementEnd(pattern []byte, i int) int {
	switch pattern[i] {
	case '\\':
		if len(pattern)-i >= 2 {
			return i + 2
		}
		return i + 1
	case '[':
		p := i + 1
		if at(pattern, p) == '^' {
			p++
		}
		for {
			if at(pattern, p) == '\\' && len(pattern)-p >= 2 {
				p++
			} else if at(pattern, p) == ']' {
				break
			} else if p == len(pattern) {
				p--
				break
			} else if len(pattern)-p >= 3 && pattern[p+1] == '-' {
				p += 2
			}
			p++
		}
		return p + 1
	default:
		return i + 1
	}
}

func TestMatchAgreesWithNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte("ab*?[]^-\\")
	gen := func(n int) []byte {
		b := make([]byte, rng.Intn(n+1))
		for i := range b {
			b[i] = alphabet[rng.Intn(len(alphabet))]
		}
		return b
	}
	for range 200000 {
		pat, str := gen(8), gen(8)
		nocase := rng.Intn(2) == 0
		require.Equal(t, naiveMatch(pat, str, nocase), Match(pat, str, nocase),
			"pattern %q str %q nocase %v", pat, str, nocase)
	}
}

func BenchmarkMatchString(b *testing.B) {
	for b.Loop() {
		MatchString("news.*.[a-z]*", "news.sport.football")
	}
}

func FuzzMatch(f *testing.F) {
	for _, tc := range matchCases {
		f.Add([]byte(tc.pattern), []byte(tc.str), tc.nocase)
	}
	f.Add([]byte(strings.Repeat("a*", 50)+"b"), []byte(strings.Repeat("a", 100)), false)
	f.Fuzz(func(t *testing.T, pattern, str []byte, nocase bool) {
		got := Match(pattern, str, nocase)
		if !nocase && got != MatchString(string(pattern), string(str)) {
			t.Fatalf("Match and MatchString disagree on %q %q", pattern, str)
		}
	})
}
