package main

// Differential test: the same commands go to a real redis-server and to lux,
// and the raw reply bytes must be identical.
//
// Scripts live in testdata/diff/*.txt. Format, one command per line:
//
//	# comment (whole line; blank lines are ignored too)
//	SET key "value with spaces"      exact: reply bytes must be identical
//	~ PTTL key                       shape: see below
//	! CONFIG SET hz 10               sent to both, replies not compared
//
// Arguments are split like redis-cli does (sdssplitargs): "double quotes"
// take the escapes \" \\ \n \r \t \b \a and \xHH, 'single quotes' are
// literal except \', and a closing quote must be followed by a space or the
// end of the line. A line that does not split is a test failure.
//
// Shape comparison (~): both replies are parsed, then
//   - a positive integer only has to be positive on the other side too (TTLs,
//     idle times, ids depend on timing), while zero and negative integers must
//     be equal (so TTL's -1 "no expiry" and -2 "no key" are still checked);
//   - the elements of every array are compared as a multiset (sorted after
//     this normalisation, recursively), for replies whose order Redis does not
//     define (KEYS, SMEMBERS, PUBSUB CHANNELS);
//   - everything else (simple strings, errors, bulk strings, nulls, array
//     lengths) must match exactly.
// Exact TTL values are checked through EXPIRETIME with absolute times; a
// plain TTL right after EXPIRE k 100 is 99 instead of 100 when more than
// 500 ms pass in between, so positive TTL reads use ~.
//
// A comment line "# requires: ZADD LPUSH" names commands the script needs
// beyond the string and key commands: when lux answers "unknown command" to
// any of them, the file is skipped with a message saying which, so a script
// for a command group that has not landed yet waits instead of failing.
//
// Each file runs on fresh connections (so SELECT, MULTI, WATCH and
// subscriptions never leak from one file into the next) after FLUSHALL on
// both servers; a file that changes CONFIG must change it back. Commands that
// answer with several replies ((P)SUBSCRIBE, (P)UNSUBSCRIBE) are handled: the
// number of replies is taken from what Redis sent. After the last line a PING
// is compared too, which catches a lux reply stream that got ahead or behind.
//
// Two environment switches help when writing scripts: DIFF_TRACE=1 logs
// every command with Redis's reply, and DIFF_SELF=1 runs the scripts against
// a second redis-server instead of lux, which proves a script deterministic
// (anything that differs there needs ~ or !).
//
// Every script runs twice, on RESP2 connections and on RESP3 ones (HELLO 3
// sent to both first): the same commands must give the same bytes in both
// protocols (maps, sets, doubles, nulls, push frames).

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
)

// diffLine is one command of a script.
type diffLine struct {
	file   string
	lineNo int
	mode   byte // 0 exact, '~' shape, '!' unchecked
	args   []string
	text   string
}

func (l diffLine) String() string { return fmt.Sprintf("%s:%d: %s", l.file, l.lineNo, l.text) }

// parseDiffScript reads a script file into lines.
func parseDiffScript(path string, data []byte) ([]diffLine, error) {
	var out []diffLine
	name := filepath.Base(path)
	for i, raw := range strings.Split(string(data), "\n") {
		text := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if text == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(text, "# requires:"); ok {
			out = append(out, diffLine{file: name, lineNo: i + 1, text: text, mode: 'R', args: strings.Fields(rest)})
			continue
		}
		if text[0] == '#' {
			continue
		}
		l := diffLine{file: name, lineNo: i + 1, text: text}
		if text[0] == '~' || text[0] == '!' {
			l.mode = text[0]
			text = strings.TrimSpace(text[1:])
		}
		args, err := splitArgs(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, i+1, err)
		}
		if len(args) == 0 {
			return nil, fmt.Errorf("%s:%d: no command", name, i+1)
		}
		l.args = args
		out = append(out, l)
	}
	return out, nil
}

// splitArgs splits a line the way redis-cli's sdssplitargs does.
func splitArgs(line string) ([]string, error) {
	var args []string
	i := 0
	isHex := func(c byte) bool {
		return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
	}
	for {
		for i < len(line) && unicode.IsSpace(rune(line[i])) {
			i++
		}
		if i >= len(line) {
			return args, nil
		}
		var cur []byte
		inDQ, inSQ := false, false
		for done := false; !done; {
			switch {
			case inDQ:
				if i >= len(line) {
					return nil, errors.New("unbalanced double quote")
				}
				c := line[i]
				if c == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]) {
					v, _ := strconv.ParseUint(line[i+2:i+4], 16, 8)
					cur = append(cur, byte(v))
					i += 3
				} else if c == '\\' && i+1 < len(line) {
					i++
					switch line[i] {
					case 'n':
						cur = append(cur, '\n')
					case 'r':
						cur = append(cur, '\r')
					case 't':
						cur = append(cur, '\t')
					case 'b':
						cur = append(cur, '\b')
					case 'a':
						cur = append(cur, '\a')
					default:
						cur = append(cur, line[i])
					}
				} else if c == '"' {
					if i+1 < len(line) && !unicode.IsSpace(rune(line[i+1])) {
						return nil, errors.New("closing quote must be followed by a space")
					}
					done = true
				} else {
					cur = append(cur, c)
				}
			case inSQ:
				if i >= len(line) {
					return nil, errors.New("unbalanced single quote")
				}
				c := line[i]
				if c == '\\' && i+1 < len(line) && line[i+1] == '\'' {
					i++
					cur = append(cur, '\'')
				} else if c == '\'' {
					if i+1 < len(line) && !unicode.IsSpace(rune(line[i+1])) {
						return nil, errors.New("closing quote must be followed by a space")
					}
					done = true
				} else {
					cur = append(cur, c)
				}
			default:
				if i >= len(line) {
					done = true
					break
				}
				switch c := line[i]; {
				case c == ' ' || c == '\n' || c == '\r' || c == '\t':
					done = true
				case c == '"':
					inDQ = true
				case c == '\'':
					inSQ = true
				default:
					cur = append(cur, c)
				}
			}
			if !done || inDQ || inSQ {
				i++
			}
		}
		args = append(args, string(cur))
	}
}

// respValue is a parsed reply, for shape comparison.
type respValue struct {
	kind  byte   // the RESP type byte
	str   string // simple string, error, bulk contents, integer text
	null  bool
	elems []respValue
}

// parseReply parses one complete raw reply (as returned by readReply).
func parseReply(b []byte) (respValue, []byte, error) {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 1 {
		return respValue{}, nil, errProtocol
	}
	v := respValue{kind: b[0], str: string(b[1:i])}
	rest := b[i+2:]
	switch v.kind {
	case '$', '=', '!':
		n, err := strconv.Atoi(v.str)
		if err != nil {
			return v, nil, errProtocol
		}
		if n < 0 {
			v.null, v.str = true, ""
			return v, rest, nil
		}
		if len(rest) < n+2 || rest[n] != '\r' || rest[n+1] != '\n' {
			return v, nil, errProtocol
		}
		v.str, rest = string(rest[:n]), rest[n+2:]
	case '*', '~', '>', '%':
		n, err := strconv.Atoi(v.str)
		if err != nil {
			return v, nil, errProtocol
		}
		if n < 0 {
			v.null, v.str = true, ""
			return v, rest, nil
		}
		if v.kind == '%' {
			n *= 2
		}
		v.str = ""
		for j := 0; j < n; j++ {
			var e respValue
			e, rest, err = parseReply(rest)
			if err != nil {
				return v, nil, err
			}
			v.elems = append(v.elems, e)
		}
	case ':':
		if _, err := strconv.ParseInt(v.str, 10, 64); err != nil {
			return v, nil, errProtocol
		}
	case '+', '-', '_', ',', '#', '(':
	default:
		return v, nil, errProtocol
	}
	return v, rest, nil
}

// shapeOf renders a reply for shape comparison: integers lose their value
// and array elements are sorted.
func shapeOf(v respValue) string {
	switch {
	case v.null:
		return string(v.kind) + "null"
	case v.kind == ':':
		if n, err := strconv.ParseInt(v.str, 10, 64); err == nil && n > 0 {
			return ":<positive>"
		}
		return ":" + v.str
	case v.kind == '*' || v.kind == '~' || v.kind == '>' || v.kind == '%':
		parts := make([]string, len(v.elems))
		for i, e := range v.elems {
			parts[i] = shapeOf(e)
		}
		sort.Strings(parts)
		return fmt.Sprintf("%c%d[%s]", v.kind, len(parts), strings.Join(parts, ", "))
	default:
		return string(v.kind) + strconv.Quote(v.str)
	}
}

// shapeOfRaw is shapeOf for a raw reply (the raw text if it does not parse).
func shapeOfRaw(r string) string {
	v, _, err := parseReply([]byte(r))
	if err != nil {
		return strconv.Quote(r)
	}
	return shapeOf(v)
}

// sameShape reports whether two raw replies match under ~ rules.
func sameShape(a, b string) bool {
	va, _, errA := parseReply([]byte(a))
	vb, _, errB := parseReply([]byte(b))
	if errA != nil || errB != nil {
		return a == b
	}
	return shapeOf(va) == shapeOf(vb)
}

// subState tracks a connection's subscriptions from Redis's replies, to know
// how many replies an argument-less (P)UNSUBSCRIBE produces.
type subState struct{ channels, patterns map[string]bool }

// replyCount returns how many replies Redis sends for args, given the
// connection's subscriptions.
func (s *subState) replyCount(args []string) int {
	switch strings.ToLower(args[0]) {
	case "subscribe", "psubscribe", "ssubscribe":
		if len(args) > 1 {
			return len(args) - 1
		}
	case "unsubscribe", "sunsubscribe":
		if len(args) > 1 {
			return len(args) - 1
		}
		return max(1, len(s.channels))
	case "punsubscribe":
		if len(args) > 1 {
			return len(args) - 1
		}
		return max(1, len(s.patterns))
	}
	return 1
}

// track updates the subscription sets from one Redis reply.
func (s *subState) track(reply string) {
	v, _, err := parseReply([]byte(reply))
	if err != nil || (v.kind != '*' && v.kind != '>') || len(v.elems) != 3 {
		return
	}
	name := v.elems[1].str
	switch v.elems[0].str {
	case "subscribe":
		s.channels[name] = true
	case "unsubscribe":
		delete(s.channels, name)
	case "psubscribe":
		s.patterns[name] = true
	case "punsubscribe":
		delete(s.patterns, name)
	}
}

// TestDiff runs every testdata/diff/*.txt script against Redis and lux.
func TestDiff(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "diff", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no diff scripts found: %v", err)
	}
	sort.Strings(files)
	red := startRedis(t)
	otherAddr, alive := "", func() bool { return true }
	if os.Getenv("DIFF_SELF") == "1" {
		otherAddr = startRedis(t).Addr
	} else {
		lux := startLux(t, "--persistence=false")
		otherAddr, alive = lux.Addr, lux.Alive
		defer func() {
			if !lux.Alive() {
				t.Errorf("lux died during the diff scripts:\n%s", lux.Output())
			}
		}()
	}
	for _, f := range files {
		for _, proto := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s/resp%d", strings.TrimSuffix(filepath.Base(f), ".txt"), proto), func(t *testing.T) {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				lines, err := parseDiffScript(f, data)
				if err != nil {
					t.Fatal(err)
				}
				if !alive() {
					t.Fatalf("lux is not running (crashed in an earlier script?)")
				}
				runDiffScript(t, red.Addr, otherAddr, lines, proto)
			})
		}
	}
}

// runDiffScript runs one script on fresh connections to both servers
// speaking protocol proto (2 or 3).
func runDiffScript(t *testing.T, redisAddr, luxAddr string, lines []diffLine, proto int) {
	rc, lc := dialRESP(t, redisAddr), dialRESP(t, luxAddr)
	defer rc.Close()
	defer lc.Close()
	lc.Timeout = 5 * time.Second
	for _, c := range []*respConn{rc, lc} {
		if got := c.Do("FLUSHALL"); got != "+OK\r\n" {
			t.Fatalf("FLUSHALL = %q", got)
		}
		if proto == 3 {
			if got := c.Do("HELLO", "3"); !strings.HasPrefix(got, "%7\r\n") {
				t.Fatalf("HELLO 3 = %q", got)
			}
		}
	}
	var missing []string
	for _, l := range lines {
		if l.mode != 'R' {
			continue
		}
		for _, name := range l.args {
			// Without arguments an existing command fails its arity check
			// and runs nothing.
			if strings.HasPrefix(lc.Do(name), "-ERR unknown command") {
				missing = append(missing, name)
			}
		}
	}
	if len(missing) > 0 {
		t.Skipf("lux lacks %s, which %s requires", strings.Join(missing, ", "), lines[0].file)
	}
	subs := &subState{channels: map[string]bool{}, patterns: map[string]bool{}}
	mismatches := 0
	trace := os.Getenv("DIFF_TRACE") == "1"
	for _, l := range lines {
		if l.mode == 'R' {
			continue
		}
		n := subs.replyCount(l.args)
		rc.Send(l.args...)
		lc.Send(l.args...)
		var wants, gots []string
		for k := 0; k < n; k++ {
			want := rc.Reply()
			if k == 0 && n > 1 && (want == "+QUEUED\r\n" || strings.HasPrefix(want, "-")) {
				n = 1 // queued in MULTI, or refused: a single reply
			}
			subs.track(want)
			if trace {
				t.Logf("%s -> %q", l, want)
			}
			got, err := lc.TryReply()
			if err != nil {
				t.Fatalf("%s\n  lux: no reply (%v); redis: %q", l, err, want)
			}
			wants, gots = append(wants, want), append(gots, got)
		}
		if len(wants) > 1 && len(l.args) == 1 {
			// An argument-less (P)UNSUBSCRIBE walks Redis's hash table, so
			// the channel order is undefined; the counts still go down one by one.
			wants, gots = unsubscribeAllShape(wants), unsubscribeAllShape(gots)
		}
		for k := range wants {
			ok := gots[k] == wants[k]
			switch l.mode {
			case '~':
				ok = sameShape(gots[k], wants[k])
			case '!':
				ok = true
			}
			if !ok {
				mismatches++
				t.Errorf("%s\n  redis: %q\n  lux:   %q", l, wants[k], gots[k])
			}
		}
	}
	// A final PING catches replies lux sent too many (or too few) of.
	want, got := rc.Do("PING"), ""
	lc.Send("PING")
	got, err := lc.TryReply()
	if err != nil || got != want {
		t.Errorf("end of script: PING: redis %q, lux %q (%v): lux's reply stream is out of step", want, got, err)
	}
	if mismatches > 0 {
		t.Logf("%d mismatching replies in %s", mismatches, lines[0].file)
	}
}

// unsubscribeAllShape rewrites the replies of an argument-less
// (P)UNSUBSCRIBE into an order-free form: each reply with its channel name
// blanked (kind and remaining count stay in sequence), plus one entry holding
// the sorted names.
func unsubscribeAllShape(replies []string) []string {
	out := make([]string, 0, len(replies)+1)
	var names []string
	for _, r := range replies {
		v, _, err := parseReply([]byte(r))
		if err != nil || (v.kind != '*' && v.kind != '>') || len(v.elems) != 3 {
			out = append(out, r)
			continue
		}
		names = append(names, v.elems[1].str)
		out = append(out, fmt.Sprintf("%s <channel> %s", v.elems[0].str, v.elems[2].str))
	}
	sort.Strings(names)
	return append(out, "channels: "+strings.Join(names, " "))
}

// TestSplitArgs pins the script quoting rules.
func TestSplitArgs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: `SET a b`, want: []string{"SET", "a", "b"}},
		{in: `  SET   "a b"  'c d' `, want: []string{"SET", "a b", "c d"}},
		{in: `ECHO "x\x41\n\"\\"`, want: []string{"ECHO", "xA\n\"\\"}},
		{in: `ECHO 'it\'s' ""`, want: []string{"ECHO", "it's", ""}},
		{in: `ECHO "abc`, bad: true},
		{in: `ECHO 'abc`, bad: true},
		{in: `ECHO "a"b`, bad: true},
	} {
		got, err := splitArgs(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("splitArgs(%q) = %q, want error", tc.in, got)
			}
			continue
		}
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestShapeCompare pins what ~ ignores and what it does not.
func TestShapeCompare(t *testing.T) {
	same := [][2]string{
		{":1\r\n", ":99\r\n"},
		{"*2\r\n$1\r\na\r\n$1\r\nb\r\n", "*2\r\n$1\r\nb\r\n$1\r\na\r\n"},
		{"*2\r\n:1\r\n$1\r\nx\r\n", "*2\r\n$1\r\nx\r\n:5\r\n"},
		{":-2\r\n", ":-2\r\n"},
	}
	differ := [][2]string{
		{":1\r\n", "$1\r\n1\r\n"},
		{"*1\r\n$1\r\na\r\n", "*2\r\n$1\r\na\r\n$1\r\na\r\n"},
		{"$1\r\na\r\n", "$1\r\nb\r\n"},
		{"-ERR x\r\n", "-ERR y\r\n"},
		{"$-1\r\n", "*-1\r\n"},
		{":-1\r\n", ":-2\r\n"},
		{":0\r\n", ":1\r\n"},
		{":-1\r\n", ":100\r\n"},
	}
	for _, p := range same {
		if !sameShape(p[0], p[1]) {
			t.Errorf("%q and %q should have the same shape", p[0], p[1])
		}
	}
	for _, p := range differ {
		if sameShape(p[0], p[1]) {
			t.Errorf("%q and %q should differ", p[0], p[1])
		}
	}
}

// TestHello checks the handshake: HELLO 3 answers a RESP3 map with proto 3
// (the diff scripts compare its bytes with Redis's in every RESP3 run), and
// HELLO 2 a flat map with the fields clients read.
func TestHello(t *testing.T) {
	lux := startLux(t, "--persistence=false")
	c := dialRESP(t, lux.Addr)
	got := c.Do("HELLO", "3")
	v3, _, err := parseReply([]byte(got))
	if err != nil || v3.kind != '%' || len(v3.elems) != 14 || v3.elems[4].str != "proto" || v3.elems[5].str != "3" {
		t.Fatalf("HELLO 3 = %q, want a RESP3 map of 7 fields with proto 3", got)
	}
	if p := c.Do("GET", "nokey"); p != "_\r\n" {
		t.Errorf("GET of a missing key in RESP3 = %q, want _", p)
	}
	got = c.Do("HELLO", "2")
	v, _, err := parseReply([]byte(got))
	if err != nil || v.kind != '*' || len(v.elems)%2 != 0 {
		t.Fatalf("HELLO 2 = %q, want a flat map (array of pairs)", got)
	}
	fields := map[string]respValue{}
	for i := 0; i < len(v.elems); i += 2 {
		fields[v.elems[i].str] = v.elems[i+1]
	}
	for _, k := range []string{"server", "version", "proto", "id", "mode", "role", "modules"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("HELLO 2 lacks field %q: %q", k, got)
		}
	}
	if p := fields["proto"]; p.kind != ':' || p.str != "2" {
		t.Errorf("HELLO 2 proto = %+v, want :2", p)
	}
}
