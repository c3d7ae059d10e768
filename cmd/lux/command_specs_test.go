package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Intended differences of COMMAND INFO and COMMAND DOCS from redis-server
// 7.0.15, for commands both servers have.

// commandSubsetDiffs are containers whose subcommands differ from Redis's:
// lux lists the subcommands it implements. Each entry gives the subcommands
// only Redis has and those only lux has ("client|no-touch" and
// "client|setinfo" are Redis 7.2's).
var commandSubsetDiffs = map[string][2][]string{
	"client": {nil, {"client|no-touch", "client|setinfo"}},
	"memory": {{"memory|malloc-stats"}, nil},
	"script": {{"script|debug"}, nil},
}

// encodeResp writes v back as RESP (respValue keeps the type byte and, for
// maps, both halves of every pair), so a parsed reply can be compared after
// a canonical reordering.
func encodeResp(b *bytes.Buffer, v respValue) {
	switch {
	case v.null:
		if v.kind == '_' {
			b.WriteString("_\r\n")
		} else {
			fmt.Fprintf(b, "%c-1\r\n", v.kind)
		}
	case v.kind == '$' || v.kind == '=' || v.kind == '!':
		fmt.Fprintf(b, "%c%d\r\n%s\r\n", v.kind, len(v.str), v.str)
	case v.kind == '*' || v.kind == '~' || v.kind == '>' || v.kind == '%':
		n := len(v.elems)
		if v.kind == '%' {
			n /= 2
		}
		fmt.Fprintf(b, "%c%d\r\n", v.kind, n)
		for _, e := range v.elems {
			encodeResp(b, e)
		}
	default:
		fmt.Fprintf(b, "%c%s\r\n", v.kind, v.str)
	}
}

func respString(v respValue) string {
	var b bytes.Buffer
	encodeResp(&b, v)
	return b.String()
}

// canonInfoRow drops and sorts a COMMAND INFO row's subcommands (Redis lists
// them in its hash table's order, seeded at random), keeping only the ones
// keep accepts.
func canonInfoRow(row respValue, keep func(string) bool) respValue {
	if len(row.elems) != 10 {
		return row
	}
	out := row
	out.elems = append([]respValue(nil), row.elems...)
	subs := out.elems[9]
	var kept []respValue
	for _, s := range subs.elems {
		if len(s.elems) == 10 && keep(s.elems[0].str) {
			kept = append(kept, canonInfoRow(s, keep))
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].elems[0].str < kept[j].elems[0].str })
	subs.elems = kept
	out.elems[9] = subs
	return out
}

// canonDocs sorts (and filters with keep) the "subcommands" map of one
// COMMAND DOCS entry.
func canonDocs(doc respValue, keep func(string) bool) respValue {
	out := doc
	out.elems = append([]respValue(nil), doc.elems...)
	for i := 0; i+1 < len(out.elems); i += 2 {
		if out.elems[i].str != "subcommands" {
			continue
		}
		m := out.elems[i+1]
		type pair struct{ k, v respValue }
		var pairs []pair
		for j := 0; j+1 < len(m.elems); j += 2 {
			if keep(m.elems[j].str) {
				pairs = append(pairs, pair{m.elems[j], canonDocs(m.elems[j+1], keep)})
			}
		}
		sort.Slice(pairs, func(a, b int) bool { return pairs[a].k.str < pairs[b].k.str })
		m.elems = nil
		for _, p := range pairs {
			m.elems = append(m.elems, p.k, p.v)
		}
		out.elems[i+1] = m
	}
	return out
}

func mustParse(t *testing.T, raw string) respValue {
	t.Helper()
	v, rest, err := parseReply([]byte(raw))
	if err != nil || len(rest) != 0 {
		t.Fatalf("unparsable reply %q: %v", raw, err)
	}
	return v
}

// subNames lists the subcommand names of a COMMAND INFO row.
func subNames(row respValue) map[string]bool {
	out := map[string]bool{}
	if len(row.elems) == 10 {
		for _, s := range row.elems[9].elems {
			if len(s.elems) > 0 {
				out[s.elems[0].str] = true
			}
		}
	}
	return out
}

// TestCommandSpecsDiff compares COMMAND INFO, COMMAND DOCS, COMMAND GETKEYS
// and COMMAND GETKEYSANDFLAGS of lux and redis-server 7.0.15 for every
// command and subcommand both have, in RESP2 and RESP3: byte for byte, except
// for the subcommand order of containers (random in Redis) and the
// differences listed above.
func TestCommandSpecsDiff(t *testing.T) {
	requireTool(t, "redis-server")
	red := startRedis(t)
	lux := startLux(t, "--persistence=false")
	cases := readGetKeysCases(t)
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("resp%d", proto), func(t *testing.T) {
			rc, lc := dialRESP(t, red.Addr), dialRESP(t, lux.Addr)
			if proto == 3 {
				rc.Do("HELLO", "3")
				lc.Do("HELLO", "3")
			}
			names := func(c *respConn) map[string]bool {
				out := map[string]bool{}
				for _, e := range mustParse(t, c.Do("COMMAND", "LIST")).elems {
					out[e.str] = true
				}
				return out
			}
			rNames, lNames := names(rc), names(lc)
			var both []string
			for n := range lNames {
				if rNames[n] {
					both = append(both, n)
				}
			}
			sort.Strings(both)
			if len(both) < 250 {
				t.Fatalf("only %d commands in common", len(both))
			}
			keep := func(n string) bool { return rNames[n] && lNames[n] }
			exact, canon, docsExact := 0, 0, 0
			for _, n := range both {
				// COMMAND INFO
				want, got := rc.Do("COMMAND", "INFO", n), lc.Do("COMMAND", "INFO", n)
				if want == got {
					exact++
				} else {
					wv, gv := mustParse(t, want), mustParse(t, got)
					if len(wv.elems) != 1 || len(gv.elems) != 1 {
						t.Errorf("COMMAND INFO %s:\n redis %q\n lux   %q", n, want, got)
						continue
					}
					wRow, gRow := wv.elems[0], gv.elems[0]
					checkSubsets(t, n, subNames(wRow), subNames(gRow))
					w := respString(canonInfoRow(wRow, keep))
					g := respString(canonInfoRow(gRow, keep))
					if w != g {
						t.Errorf("COMMAND INFO %s:\n redis %q\n lux   %q", n, want, got)
						continue
					}
					canon++
				}
				// COMMAND DOCS
				want, got = rc.Do("COMMAND", "DOCS", n), lc.Do("COMMAND", "DOCS", n)
				if want == got {
					docsExact++
				} else {
					wv, gv := mustParse(t, want), mustParse(t, got)
					if len(wv.elems) != 2 || len(gv.elems) != 2 ||
						respString(canonDocs(wv.elems[1], keep)) != respString(canonDocs(gv.elems[1], keep)) {
						t.Errorf("COMMAND DOCS %s:\n redis %q\n lux   %q", n, want, got)
					}
				}
			}
			t.Logf("COMMAND INFO and DOCS: %d commands and subcommands compared; INFO identical for %d, identical up to the listed differences for %d; DOCS identical for %d, the rest up to subcommand order and sets",
				len(both), exact, canon, docsExact)

			// COMMAND, COMMAND INFO and COMMAND DOCS without names: the same
			// rows (in hash table order in Redis)
			for _, args := range [][]string{{"COMMAND"}, {"COMMAND", "INFO"}, {"COMMAND", "DOCS"}} {
				rows := func(c *respConn) map[string]string {
					v := mustParse(t, c.Do(args...))
					out := map[string]string{}
					if len(args) == 2 && args[1] == "DOCS" {
						for i := 0; i+1 < len(v.elems); i += 2 {
							out[v.elems[i].str] = respString(canonDocs(v.elems[i+1], keep))
						}
						return out
					}
					for _, row := range v.elems {
						name := row.elems[0].str
						out[name] = respString(canonInfoRow(row, keep))
					}
					return out
				}
				rRows, lRows := rows(rc), rows(lc)
				same := 0
				for n, w := range rRows {
					if g, ok := lRows[n]; ok {
						if g != w {
							t.Errorf("%s: row %s differs:\n redis %q\n lux   %q", strings.Join(args, " "), n, w, g)
						}
						same++
					}
				}
				if same < 150 {
					t.Errorf("%s: only %d rows in common", strings.Join(args, " "), same)
				}
			}

			// COMMAND GETKEYS / GETKEYSANDFLAGS: the listed cases, and for every
			// common command its name followed by 1 to |arity|+2 plain arguments
			var calls [][]string
			covered := map[string]bool{}
			for _, c := range cases {
				calls = append(calls, c)
				covered[strings.ToLower(c[0])] = true
				if len(c) > 1 {
					covered[strings.ToLower(c[0]+"|"+c[1])] = true
				}
			}
			for _, n := range both {
				cmd := strings.Split(n, "|")
				arity := mustParse(t, rc.Do("COMMAND", "INFO", n)).elems[0].elems[1].str
				a, _ := strconv.Atoi(arity)
				if a < 0 {
					a = -a
				}
				for extra := len(cmd); extra <= a+2; extra++ {
					call := append([]string(nil), cmd...)
					for i := len(cmd); i < extra; i++ {
						call = append(call, fmt.Sprintf("a%d", i))
					}
					calls = append(calls, call)
				}
				// every command with key specs needs a listed case
				if row := mustParse(t, rc.Do("COMMAND", "INFO", n)).elems[0]; len(row.elems[8].elems) > 0 && !covered[n] {
					t.Errorf("%s has keys but no case in server/testdata/getkeys_cases.txt", n)
				}
			}
			mismatches := 0
			for _, call := range calls {
				for _, sub := range []string{"GETKEYS", "GETKEYSANDFLAGS"} {
					args := append([]string{"COMMAND", sub}, call...)
					want, got := rc.Do(args...), lc.Do(args...)
					if want != got {
						if strings.HasPrefix(want, "-") && strings.HasPrefix(got, "-ERR Invalid command specified") && !lNames[strings.ToLower(call[0])] {
							continue // a command lux does not have
						}
						mismatches++
						t.Errorf("COMMAND %s %s:\n redis %q\n lux   %q", sub, strings.Join(call, " "), want, got)
					}
				}
			}
			t.Logf("COMMAND GETKEYS and GETKEYSANDFLAGS: %d argument lists compared, %d mismatches", len(calls), mismatches)
		})
	}
}

// checkSubsets checks that a container's subcommands differ from Redis's
// exactly as commandSubsetDiffs says.
func checkSubsets(t *testing.T, name string, redis, lux map[string]bool) {
	t.Helper()
	var onlyRedis, onlyLux []string
	for n := range redis {
		if !lux[n] {
			onlyRedis = append(onlyRedis, n)
		}
	}
	for n := range lux {
		if !redis[n] {
			onlyLux = append(onlyLux, n)
		}
	}
	sort.Strings(onlyRedis)
	sort.Strings(onlyLux)
	exp := commandSubsetDiffs[name]
	if strings.Join(onlyRedis, " ") != strings.Join(exp[0], " ") || strings.Join(onlyLux, " ") != strings.Join(exp[1], " ") {
		t.Errorf("%s: subcommands only in Redis %v, only in lux %v; commandSubsetDiffs says %v and %v",
			name, onlyRedis, onlyLux, exp[0], exp[1])
	}
}

// readGetKeysCases reads server/testdata/getkeys_cases.txt.
func readGetKeysCases(t *testing.T) [][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "server", "testdata", "getkeys_cases.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		args, err := splitArgs(line)
		if err != nil {
			t.Fatalf("getkeys_cases.txt:%d: %v", i+1, err)
		}
		out = append(out, args)
	}
	return out
}
