package server

import (
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// specCases reads testdata/getkeys_cases.txt (whitespace-separated
// arguments, "" for an empty one).
func specCases(t *testing.T) [][][]byte {
	t.Helper()
	data, err := os.ReadFile("testdata/getkeys_cases.txt")
	require.NoError(t, err)
	var out [][][]byte
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var args [][]byte
		for _, f := range strings.Fields(line) {
			if f == `""` {
				f = ""
			}
			args = append(args, []byte(f))
		}
		out = append(out, args)
	}
	return out
}

// specRowFor resolves a call to the row GETKEYS describes ("object
// encoding k" -> "object|encoding").
func specRowFor(args [][]byte) (*Command, string) {
	cmd := lookupCommand(args[0])
	if cmd == nil {
		return nil, ""
	}
	name := cmd.Name
	if len(args) > 1 && len(subcommandsOf(cmd.Name)) > 0 {
		s := lookupSubcommand(cmd.Name, args[1])
		if s == nil {
			return nil, ""
		}
		name += "|" + s.Name
	}
	return cmd, name
}

// TestSpecsCoverCommands checks that every command and subcommand lux shares
// with Redis has Redis's arity, so the table's answers fit lux's dispatcher.
func TestSpecsCoverCommands(t *testing.T) {
	shared := 0
	for _, cmd := range sortedCommands() {
		rows := []commandRow{rowOf(cmd)}
		for _, s := range subcommandsOf(cmd.Name) {
			rows = append(rows, subRowOf(cmd, s))
		}
		for _, r := range rows {
			spec := specOf(r.name)
			if spec == nil {
				continue
			}
			shared++
			require.Equal(t, spec.Arity, r.arity, "arity of %s", r.name)
		}
	}
	require.Greater(t, shared, 250)
}

// specLockExceptions are calls whose Redis keys lux does not lock one by
// one, with the reason.
// one, with the reason. In each the command fails before it reads a key
// (checked against redis-server: same error in both), so nothing is left
// unlocked: only the key search of GETKEYS is more lenient than the command.
var specLockExceptions = map[string]string{
	// db.c's getkeys falls back to atoi when the numkeys spec fails; the
	// command parses numkeys strictly: "numkeys should be greater than 0"
	"blmpop 0 01 a left": "numkeys 01 is refused by BLMPOP",
	// the first key spec takes the empty key argument; KEYS with no key
	// names migrates nothing: +NOKEY
	"migrate h 1  0 0 replace keys": "KEYS without keys: +NOKEY, no key read",
	// the keynum spec truncates numkeys to a C int (1); ZUNIONSTORE sees
	// 4294967297 keys and replies "syntax error"
	"zunionstore d 4294967297 a b": "numkeys beyond int: syntax error",
}

// TestSpecKeysLocked checks, for every case of testdata/getkeys_cases.txt,
// that the keys Redis's key specs find (what COMMAND GETKEYS answers) are
// among the keys lux's dispatcher locks for the call (Command.Keys or the
// positional key range), or that the call locks the whole database.
func TestSpecKeysLocked(t *testing.T) {
	checked := 0
	var extra []string
	calls := specCases(t)
	// and every shared command with 0 to |arity|+2 plain arguments
	for _, cmd := range sortedCommands() {
		prefixes := [][]string{{cmd.Name}}
		for _, s := range subcommandsOf(cmd.Name) {
			prefixes = append(prefixes, []string{cmd.Name, s.Name})
		}
		for _, p := range prefixes {
			spec := specOf(strings.Join(p, "|"))
			if spec == nil {
				continue
			}
			n := spec.Arity
			if n < 0 {
				n = -n
			}
			for l := len(p); l <= n+2; l++ {
				var call [][]byte
				for i := 0; i < l; i++ {
					if i < len(p) {
						call = append(call, []byte(p[i]))
					} else {
						call = append(call, []byte("a"+strconv.Itoa(i)))
					}
				}
				calls = append(calls, call)
			}
		}
	}
	for _, args := range calls {
		cmd, name := specRowFor(args)
		if cmd == nil {
			continue
		}
		spec := specOf(name)
		if spec == nil || !spec.hasKeys() {
			continue
		}
		if (spec.Arity > 0 && spec.Arity != len(args)) || len(args) < -spec.Arity {
			continue // GETKEYS refuses it; so does the dispatcher
		}
		line := string(joinArgs(args))
		if why, ok := specLockExceptions[line]; ok {
			t.Logf("%s: not compared: %s", line, why)
			continue
		}
		if cmd.Flags&(FlagLockDB|FlagLockAll|FlagLockDBInMemory) != 0 || (cmd.LockDB != nil && cmd.LockDB(args)) {
			continue // the whole database is locked
		}
		locked := map[string]int{}
		for _, k := range cmd.keyArgs(args, nil) {
			locked[string(k)]++
		}
		var redisKeys []string
		for _, k := range spec.keys(args) {
			redisKeys = append(redisKeys, string(args[k.pos]))
			if locked[string(args[k.pos])] == 0 && cmd.Flags&FlagNoLock == 0 {
				t.Errorf("%s: Redis's key %q (argument %d) is not locked by lux (locks %v)", line, args[k.pos], k.pos, keysOf(locked))
			}
		}
		checked++
		sort.Strings(redisKeys)
		if lk := keysOf(locked); strings.Join(lk, " ") != strings.Join(dedup(redisKeys), " ") {
			extra = append(extra, line+": Redis "+strings.Join(redisKeys, ",")+" lux locks "+strings.Join(lk, ","))
		}
	}
	require.Greater(t, checked, 200)
	for _, e := range extra {
		t.Logf("lux locks more (or fewer, with no Redis keys) than GETKEYS names: %s", e)
	}
}

func keysOf(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func dedup(s []string) []string {
	var out []string
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func joinArgs(args [][]byte) []byte {
	var b []byte
	for i, a := range args {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, a...)
	}
	return b
}

// TestSpecGetKeysFunctions pins the Go ports of db.c's getkeys functions on
// the cases the introspection suite and Redis's comments name.
func TestSpecGetKeysFunctions(t *testing.T) {
	pos := func(refs []keyRef) []int {
		out := []int{}
		for _, r := range refs {
			out = append(out, r.pos)
		}
		return out
	}
	a := func(s string) [][]byte {
		var out [][]byte
		for _, f := range strings.Fields(s) {
			out = append(out, []byte(f))
		}
		return out
	}
	require.Equal(t, []int{3, 4, 1}, pos(zunionInterDiffStoreGetKeys(a("zunionstore d 2 a b"))))
	require.Equal(t, []int{}, pos(zunionInterDiffStoreGetKeys(a("zunionstore d 3 a b"))))
	require.Equal(t, []int{3}, pos(evalGetKeys(a("eval s 1 key"))))
	require.Equal(t, []int{}, pos(evalGetKeys(a("eval s 0"))))
	require.Equal(t, []int{1, 3}, pos(sortGetKeys(a("sort k store d"))))
	require.Equal(t, []int{1}, pos(sortGetKeys(a("sort k get store"))))
	require.Equal(t, []int{1, 5}, pos(sortGetKeys(a("sort k store d store e"))))
	require.Equal(t, []int{1, 7}, pos(georadiusGetKeys(a("georadius k 1 2 3 m store d"))))
	require.Equal(t, []int{4, 5}, pos(xreadGetKeys(a("xread count 1 streams a b 0 0"))))
	require.Equal(t, []int{}, pos(xreadGetKeys(a("xread streams a b 0"))))
	require.Equal(t, []int{5}, pos(xreadGetKeys(a("xreadgroup group g c streams k 0"))))
	require.Equal(t, []string{"RW", "access", "update"}, keySpecFlagList(setGetKeys(a("set k v get"))[0].flags))
	require.Equal(t, []string{"OW", "update"}, keySpecFlagList(setGetKeys(a("set k v"))[0].flags))
	require.Equal(t, []string{"RO", "access"}, keySpecFlagList(bitfieldGetKeys(a("bitfield k get u8 0"))[0].flags))
	require.Equal(t, []string{"RW", "access", "update"}, keySpecFlagList(bitfieldGetKeys(a("bitfield k get u8"))[0].flags))
	mig := [][]byte{[]byte("migrate"), []byte("h"), []byte("1"), {}, []byte("0"), []byte("0"), []byte("keys"), []byte("a"), []byte("b")}
	require.Equal(t, []int{7, 8}, pos(migrateGetKeys(mig)))
	require.Equal(t, 3, cAtoi([]byte(" 3x")))
	require.Equal(t, -1, cAtoi([]byte("99999999999999999999")))
	require.Equal(t, 1, cAtoi([]byte("4294967297")))
	require.True(t, canonicalInt([]byte("0")))
	require.False(t, canonicalInt([]byte("01")))
	require.False(t, canonicalInt([]byte("-0")))
	require.False(t, canonicalInt([]byte("+1")))
}
