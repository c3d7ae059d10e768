// Package pubsub implements Redis-compatible publish/subscribe: glob pattern
// matching identical to Redis's and a hub that fans published messages out to
// channel and pattern subscribers without ever blocking the publisher.
package pubsub

// maxMatchNesting bounds the recursion depth of the matcher. Redis 7 added the
// same limit (CVE-2022-36021) so that a pattern made of thousands of '*'
// groups cannot exhaust the stack; patterns deeper than this simply do not
// match, exactly as in Redis.
const maxMatchNesting = 1000

// Match reports whether str matches the glob-style pattern, with the exact
// semantics of Redis 7's stringmatchlen (src/util.c), which is what KEYS,
// SCAN MATCH, PSUBSCRIBE and PUBSUB CHANNELS use:
//
//   - '*' matches any sequence of bytes, '?' any single byte;
//   - '[...]' matches one byte from a class; '^' right after '[' negates it,
//     'a-z' is an inclusive range (a reversed range like 'z-a' is swapped),
//     '\' escapes the next byte, and an unterminated class ends at the end
//     of the pattern;
//   - '\' outside a class makes the next byte literal; a trailing '\' is a
//     literal backslash;
//   - with nocase, ASCII letters compare case-insensitively, except a byte
//     escaped inside a class, which Redis compares case-sensitively.
//
// Redis quirks are reproduced on purpose so results agree with a real server:
// in particular a non-empty pattern never matches the empty string (Redis 7
// returns 0 for stringmatchlen("*", "")), and patterns nested deeper than
// 1000 '*' groups never match.
//
// The one intentional difference is that bytes are compared as unsigned
// values. Redis uses plain C char, which is signed on x86-64 and unsigned on
// arm64, so ranges with bytes >= 0x80 behave differently across Redis builds;
// we follow the unsigned (arm64) behaviour, the only one that is sane.
//
// Matching is not exponential: like Redis, once the rest of a pattern after a
// '*' has failed at every position of the string, earlier '*'s stop trying
// longer expansions (the "skipLongerMatches" optimisation).
func Match(pattern, str []byte, nocase bool) bool {
	skipLongerMatches := false
	return matchImpl(pattern, 0, str, 0, nocase, &skipLongerMatches, 0)
}

// MatchString is the case-sensitive Match for strings. It avoids converting
// to []byte so matching on the publish path does not allocate.
func MatchString(pattern, s string) bool {
	skipLongerMatches := false
	return matchImpl(pattern, 0, s, 0, false, &skipLongerMatches, 0)
}

// matchBytesString matches a []byte pattern against a string channel name
// case-sensitively without converting either side.
func matchBytesString(pattern []byte, s string) bool {
	skipLongerMatches := false
	return matchImpl(pattern, 0, s, 0, false, &skipLongerMatches, 0)
}

// text is any byte sequence the matcher can read; making the matcher generic
// lets strings and byte slices share one implementation without copying.
type text interface {
	~string | ~[]byte
}

// at returns b[i], or 0 when i is one past the end. Redis's matcher reads the
// byte just after the pattern in several places and relies on it being the
// NUL terminator of the sds string; returning 0 reproduces that exactly.
func at[T text](b T, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

// lower is C's tolower in the "C" locale: only ASCII letters change.
func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// matchImpl is a line-by-line port of stringmatchlen_impl. Indices p and s
// stand in for the C pointers (patternLen is len(pattern)-p and stringLen is
// len(str)-s), so the control flow can be compared against the C source.
func matchImpl[P, S text](pattern P, p int, str S, s int, nocase bool, skipLongerMatches *bool, nesting int) bool {
	if nesting > maxMatchNesting {
		return false
	}

	for p < len(pattern) && s < len(str) {
		switch pattern[p] {
		case '*':
			// Collapse runs of '*': they are equivalent to one and each
			// would otherwise add a level of recursion.
			for p < len(pattern) && at(pattern, p+1) == '*' {
				p++
			}
			if len(pattern)-p == 1 {
				return true // trailing '*' matches the rest
			}
			for s < len(str) {
				if matchImpl(pattern, p+1, str, s, nocase, skipLongerMatches, nesting+1) {
					return true
				}
				if *skipLongerMatches {
					return false
				}
				s++
			}
			// The rest of the pattern matched nowhere in the remaining
			// string. Any earlier '*' trying a longer expansion would only
			// start the rest later in the string, which we just showed
			// cannot match, so tell all callers to give up. This is what
			// keeps patterns like "a*a*a*a*b" linear-ish instead of
			// exponential.
			*skipLongerMatches = true
			return false
		case '?':
			s++
		case '[':
			p++
			not := at(pattern, p) == '^'
			if not {
				p++
			}
			matched := false
			for {
				if at(pattern, p) == '\\' && len(pattern)-p >= 2 {
					p++
					// Redis compares escaped class bytes case-sensitively
					// even with nocase; kept for compatibility.
					if pattern[p] == str[s] {
						matched = true
					}
				} else if at(pattern, p) == ']' {
					break
				} else if p == len(pattern) {
					// Unterminated class: step back so the common p++
					// below lands exactly on the end of the pattern.
					p--
					break
				} else if len(pattern)-p >= 3 && pattern[p+1] == '-' {
					start, end, c := pattern[p], pattern[p+2], str[s]
					if start > end {
						start, end = end, start
					}
					if nocase {
						start, end, c = lower(start), lower(end), lower(c)
					}
					p += 2
					if c >= start && c <= end {
						matched = true
					}
				} else if !nocase {
					if pattern[p] == str[s] {
						matched = true
					}
				} else if lower(pattern[p]) == lower(str[s]) {
					matched = true
				}
				p++
			}
			if not {
				matched = !matched
			}
			if !matched {
				return false
			}
			s++
		case '\\':
			if len(pattern)-p >= 2 {
				p++
			}
			// A lone trailing backslash is matched literally.
			if !equalByte(pattern[p], str[s], nocase) {
				return false
			}
			s++
		default:
			if !equalByte(pattern[p], str[s], nocase) {
				return false
			}
			s++
		}
		p++
		if s == len(str) {
			// Trailing '*'s match the empty remainder.
			for at(pattern, p) == '*' {
				p++
			}
			break
		}
	}
	return p == len(pattern) && s == len(str)
}

// equalByte compares two bytes, folding ASCII case when nocase is set.
func equalByte(a, b byte, nocase bool) bool {
	if nocase {
		return lower(a) == lower(b)
	}
	return a == b
}
