package server

import (
	"strconv"
	"strings"
)

//go:generate go run ../tools/gencmdspecs -o cmd_specs.go $REDIS_SRC/src/commands

// COMMAND INFO, COMMAND DOCS and COMMAND GETKEYS(ANDFLAGS) for the commands
// lux shares with Redis are served from redisSpecs (cmd_specs.go, generated
// from Redis 7.0.15's command JSON files by tools/gencmdspecs), so cluster
// clients and proxies see Redis's key specs, flags, tips and documentation
// byte for byte. Lux's own commands (tables, time series, vectors, KSUB) keep
// the answers cmd_command.go derives from the command table.

// cmdSpec is one command or subcommand of Redis 7.0.15's command table, as
// server.c holds it after startup.
type cmdSpec struct {
	Arity int
	// Flags are the command flags COMMAND INFO shows, in its order, with
	// movablekeys added as populateCommandLegacyRangeSpec does.
	Flags []string
	// FirstKey, LastKey, KeyStep: COMMAND INFO's legacy key range (0 0 0
	// when the key specs do not make one).
	FirstKey, LastKey, KeyStep int
	Tips                       []string
	KeySpecs                   []keySpec
	// GetKeys is the command's getkeys_proc (db.c), which GETKEYS falls back
	// to when the key specs cannot find the keys or do not give their flags.
	GetKeys func(args [][]byte) []keyRef

	Summary, Since, Group, Complexity string
	DocFlags                          []string
	DeprecatedSince, ReplacedBy       string
	History                           [][2]string
	Args                              []specArg
}

// Key spec flags (CMD_KEY_*), in addReplyFlagsForKeyArgs's order.
const (
	ksRO uint16 = 1 << iota
	ksRW
	ksOW
	ksRM
	ksAccess
	ksUpdate
	ksInsert
	ksDelete
	ksNotKey
	ksIncomplete
	ksVariableFlags
)

var keySpecFlagNames = []string{"RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key",
	"incomplete", "variable_flags"}

// keySpecFlagList renders key spec flags as COMMAND INFO and GETKEYSANDFLAGS
// list them.
func keySpecFlagList(f uint16) []string {
	var out []string
	for i, n := range keySpecFlagNames {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// begin_search and find_keys types.
const (
	bsUnknown = iota
	bsIndex
	bsKeyword
)

const (
	fkUnknown = iota
	fkRange
	fkKeyNum
)

// keySpec is one key specification: where the search for keys begins (an
// argument index, or the argument after a keyword searched from StartFrom)
// and how the keys are found from there (a range, or a key count argument).
type keySpec struct {
	Notes     string
	Flags     uint16
	BS        int
	Index     int
	Keyword   string
	StartFrom int
	FK        int
	LastKey   int // range
	KeyStep   int // range and keynum
	Limit     int // range
	KeyNumIdx int // keynum
	FirstKey  int // keynum
}

// Argument flags (CMD_ARG_*).
const (
	argOptional uint8 = 1 << iota
	argMultiple
	argMultipleToken
)

// specArg is one entry of COMMAND DOCS's arguments.
type specArg struct {
	Name, Type                             string
	KeySpecIndex                           int // -1: none
	Token, Summary, Since, DeprecatedSince string
	EmptyToken                             bool // Token is given, as "" (MIGRATE's empty key)
	Flags                                  uint8
	Args                                   []specArg // oneof and block
}

// keyRef is a key GETKEYS found: its argument position and access flags.
type keyRef struct {
	pos   int
	flags uint16
}

// specOf returns Redis's entry for a row lux shares with Redis.
func specOf(name string) *cmdSpec { return redisSpecs[name] }

// writeSpecKeySpecs is addReplyCommandKeySpecs.
func writeSpecKeySpecs(c *Client, spec *cmdSpec) {
	c.WriteSet(len(spec.KeySpecs))
	for _, ks := range spec.KeySpecs {
		n := 3
		if ks.Notes != "" {
			n++
		}
		c.WriteMap(n)
		if ks.Notes != "" {
			c.WriteBulkString("notes")
			c.WriteBulkString(ks.Notes)
		}
		c.WriteBulkString("flags")
		writeStatusSet(c, keySpecFlagList(ks.Flags))
		c.WriteBulkString("begin_search")
		c.WriteMap(2)
		c.WriteBulkString("type")
		switch ks.BS {
		case bsIndex:
			c.WriteBulkString("index")
			c.WriteBulkString("spec")
			c.WriteMap(1)
			c.WriteBulkString("index")
			c.WriteInt(ks.Index)
		case bsKeyword:
			c.WriteBulkString("keyword")
			c.WriteBulkString("spec")
			c.WriteMap(2)
			c.WriteBulkString("keyword")
			c.WriteBulkString(ks.Keyword)
			c.WriteBulkString("startfrom")
			c.WriteInt(ks.StartFrom)
		default:
			c.WriteBulkString("unknown")
			c.WriteBulkString("spec")
			c.WriteMap(0)
		}
		c.WriteBulkString("find_keys")
		c.WriteMap(2)
		c.WriteBulkString("type")
		switch ks.FK {
		case fkRange:
			c.WriteBulkString("range")
			c.WriteBulkString("spec")
			c.WriteMap(3)
			c.WriteBulkString("lastkey")
			c.WriteInt(ks.LastKey)
			c.WriteBulkString("keystep")
			c.WriteInt(ks.KeyStep)
			c.WriteBulkString("limit")
			c.WriteInt(ks.Limit)
		case fkKeyNum:
			c.WriteBulkString("keynum")
			c.WriteBulkString("spec")
			c.WriteMap(3)
			c.WriteBulkString("keynumidx")
			c.WriteInt(ks.KeyNumIdx)
			c.WriteBulkString("firstkey")
			c.WriteInt(ks.FirstKey)
			c.WriteBulkString("keystep")
			c.WriteInt(ks.KeyStep)
		default:
			c.WriteBulkString("unknown")
			c.WriteBulkString("spec")
			c.WriteMap(0)
		}
	}
}

// writeSpecDocs is addReplyCommandDocs for a row lux shares with Redis; the
// subcommands are the ones lux has.
func writeSpecDocs(c *Client, r commandRow, spec *cmdSpec) {
	var subs []*subCommand
	if r.parent == nil {
		subs = subcommandsOf(r.name)
	}
	n := 1 // group
	for _, present := range []bool{spec.Summary != "", spec.Since != "", spec.Complexity != "",
		len(spec.DocFlags) > 0, spec.DeprecatedSince != "", spec.ReplacedBy != "", len(spec.History) > 0,
		len(spec.Args) > 0, len(subs) > 0} {
		if present {
			n++
		}
	}
	c.WriteMap(n)
	if spec.Summary != "" {
		c.WriteBulkString("summary")
		c.WriteBulkString(spec.Summary)
	}
	if spec.Since != "" {
		c.WriteBulkString("since")
		c.WriteBulkString(spec.Since)
	}
	c.WriteBulkString("group")
	c.WriteBulkString(spec.Group)
	if spec.Complexity != "" {
		c.WriteBulkString("complexity")
		c.WriteBulkString(spec.Complexity)
	}
	if len(spec.DocFlags) > 0 {
		c.WriteBulkString("doc_flags")
		writeStatusSet(c, spec.DocFlags)
	}
	if spec.DeprecatedSince != "" {
		c.WriteBulkString("deprecated_since")
		c.WriteBulkString(spec.DeprecatedSince)
	}
	if spec.ReplacedBy != "" {
		c.WriteBulkString("replaced_by")
		c.WriteBulkString(spec.ReplacedBy)
	}
	if len(spec.History) > 0 {
		c.WriteBulkString("history")
		c.WriteSet(len(spec.History))
		for _, h := range spec.History {
			c.WriteArray(2)
			c.WriteBulkString(h[0])
			c.WriteBulkString(h[1])
		}
	}
	if len(spec.Args) > 0 {
		c.WriteBulkString("arguments")
		writeSpecArgs(c, spec.Args)
	}
	if len(subs) > 0 {
		c.WriteBulkString("subcommands")
		c.WriteMap(len(subs))
		cmd := commands[r.name]
		for _, s := range subs {
			sr := subRowOf(cmd, s)
			c.WriteBulkString(sr.name)
			writeRowDocs(c, sr)
		}
	}
}

var argFlagNames = []string{"optional", "multiple", "multiple_token"}

// writeSpecArgs is addReplyCommandArgList.
func writeSpecArgs(c *Client, args []specArg) {
	c.WriteArray(len(args))
	for _, a := range args {
		n := 2
		for _, present := range []bool{a.KeySpecIndex != -1, a.Token != "" || a.EmptyToken, a.Summary != "", a.Since != "",
			a.DeprecatedSince != "", a.Flags != 0, a.Type == "oneof" || a.Type == "block"} {
			if present {
				n++
			}
		}
		c.WriteMap(n)
		c.WriteBulkString("name")
		c.WriteBulkString(a.Name)
		c.WriteBulkString("type")
		c.WriteBulkString(a.Type)
		if a.KeySpecIndex != -1 {
			c.WriteBulkString("key_spec_index")
			c.WriteInt(a.KeySpecIndex)
		}
		if a.Token != "" || a.EmptyToken {
			c.WriteBulkString("token")
			c.WriteBulkString(a.Token)
		}
		if a.Summary != "" {
			c.WriteBulkString("summary")
			c.WriteBulkString(a.Summary)
		}
		if a.Since != "" {
			c.WriteBulkString("since")
			c.WriteBulkString(a.Since)
		}
		if a.DeprecatedSince != "" {
			c.WriteBulkString("deprecated_since")
			c.WriteBulkString(a.DeprecatedSince)
		}
		if a.Flags != 0 {
			c.WriteBulkString("flags")
			var fl []string
			for i, name := range argFlagNames {
				if a.Flags&(1<<i) != 0 {
					fl = append(fl, name)
				}
			}
			writeStatusSet(c, fl)
		}
		if a.Type == "oneof" || a.Type == "block" {
			c.WriteBulkString("arguments")
			writeSpecArgs(c, a.Args)
		}
	}
}

// ---- COMMAND GETKEYS ----

// specGetKeys is getKeysSubcommandImpl for a command lux shares with Redis:
// the keys Redis's key specs (or its getkeys_proc) find in args (args[0] is
// the command name), with their flags for GETKEYSANDFLAGS.
func specGetKeys(c *Client, spec *cmdSpec, args [][]byte, withFlags bool) {
	if !spec.hasKeys() {
		c.WriteError("ERR The command has no key arguments")
		return
	}
	if (spec.Arity > 0 && spec.Arity != len(args)) || len(args) < -spec.Arity {
		c.WriteError("ERR Invalid number of arguments specified for command")
		return
	}
	keys := spec.keys(args)
	if len(keys) == 0 {
		if spec.hasFlag("no_mandatory_keys") {
			c.WriteArray(0)
		} else {
			c.WriteError("ERR Invalid arguments specified for command")
		}
		return
	}
	c.WriteArray(len(keys))
	for _, k := range keys {
		if withFlags {
			c.WriteArray(2)
			c.WriteBulk(args[k.pos])
			writeStatusSet(c, keySpecFlagList(k.flags))
		} else {
			c.WriteBulk(args[k.pos])
		}
	}
}

func (spec *cmdSpec) hasFlag(name string) bool {
	for _, f := range spec.Flags {
		if f == name {
			return true
		}
	}
	return false
}

// allKeySpecFlags is getAllKeySpecsFlags: the flags found in any spec (inv:
// missing in any spec).
func (spec *cmdSpec) allKeySpecFlags(inv bool) uint16 {
	var f uint16
	for _, ks := range spec.KeySpecs {
		if inv {
			f |= ^ks.Flags
		} else {
			f |= ks.Flags
		}
	}
	return f
}

// hasKeys is doesCommandHaveKeys.
func (spec *cmdSpec) hasKeys() bool {
	return spec.GetKeys != nil || spec.allKeySpecFlags(true)&ksNotKey != 0
}

// keys is getKeysFromCommandWithSpecs: the key specs when they all name
// real keys with reliable flags and succeed, the getkeys_proc otherwise.
func (spec *cmdSpec) keys(args [][]byte) []keyRef {
	if spec.allKeySpecFlags(true)&ksNotKey != 0 && spec.allKeySpecFlags(false)&ksVariableFlags == 0 {
		if keys, ok := spec.keysFromSpecs(args); ok {
			return keys
		}
	}
	if spec.GetKeys != nil {
		return spec.GetKeys(args)
	}
	return nil
}

// keysFromSpecs is getKeysUsingKeySpecs (without GET_KEYSPEC_* flags).
func (spec *cmdSpec) keysFromSpecs(args [][]byte) ([]keyRef, bool) {
	argc := len(args)
	var out []keyRef
	for _, ks := range spec.KeySpecs {
		if ks.Flags&ksNotKey != 0 {
			continue
		}
		first := 0
		switch ks.BS {
		case bsIndex:
			first = ks.Index
		case bsKeyword:
			start, end := ks.StartFrom, argc-1
			if ks.StartFrom <= 0 {
				start, end = argc+ks.StartFrom, 1
			}
			for i := start; i != end; {
				if i >= argc || i < 1 {
					break
				}
				if strings.EqualFold(string(args[i]), ks.Keyword) {
					first = i + 1
					break
				}
				if start <= end {
					i++
				} else {
					i--
				}
			}
			if first == 0 {
				continue // keyword not found
			}
		default:
			return nil, false
		}
		var last, step int
		switch ks.FK {
		case fkRange:
			step = ks.KeyStep
			switch {
			case ks.LastKey >= 0:
				last = first + ks.LastKey
			case ks.Limit == 0:
				last = argc + ks.LastKey
			default:
				last = first + ((argc-first)/ks.Limit + ks.LastKey)
			}
		case fkKeyNum:
			step = ks.KeyStep
			if ks.KeyNumIdx >= argc || first+ks.KeyNumIdx >= argc {
				return nil, false
			}
			numkeys, err := strconv.ParseInt(string(args[first+ks.KeyNumIdx]), 10, 64)
			if err != nil || numkeys < 0 || !canonicalInt(args[first+ks.KeyNumIdx]) {
				return nil, false
			}
			first += ks.FirstKey
			last = first + int(int32(numkeys)) - 1
		default:
			return nil, false
		}
		if last >= argc || last < first || first >= argc {
			return nil, false
		}
		for i := first; i <= last; i += step {
			if i >= argc || i < first {
				continue
			}
			out = append(out, keyRef{pos: i, flags: ks.Flags})
		}
		if ks.Flags&ksIncomplete != 0 {
			return nil, false
		}
	}
	return out, true
}

// canonicalInt reports whether b is what string2ll accepts: no sign other
// than a leading minus, no leading zeros, no spaces ("0" itself is fine).
func canonicalInt(b []byte) bool {
	if len(b) == 0 || len(b) > 20 {
		return false
	}
	s := b
	if s[0] == '-' {
		s = s[1:]
		if len(s) == 0 {
			return false
		}
	}
	if s[0] == '0' && len(b) != 1 {
		return false
	}
	for _, ch := range s {
		if ch < '0' || ch > '9' {
			return false
		}
	}
	return true
}

// cAtoi is C's atoi as glibc has it: (int)strtol(s, NULL, 10), strtol
// skipping leading white space, taking a sign and saturating at the long
// range.
func cAtoi(b []byte) int {
	i := 0
	for i < len(b) && (b[i] == ' ' || (b[i] >= '\t' && b[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	var v uint64
	over := false
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if v > (1<<63)/10 {
			over = true
			continue
		}
		v = v*10 + uint64(b[i]-'0')
		if v > 1<<63 {
			over = true
		}
	}
	var l int64
	switch {
	case over && neg:
		l = -1 << 63
	case over:
		l = 1<<63 - 1
	case neg:
		l = -int64(v)
	case v == 1<<63:
		l = 1<<63 - 1
	default:
		l = int64(v)
	}
	return int(int32(l))
}

// genericGetKeys is db.c's genericGetKeys: numkeys at keyCountOfs, keys
// from firstKeyOfs, a destination key at storeKeyOfs (0: none). Its keys
// carry no flags.
func genericGetKeys(storeKeyOfs, keyCountOfs, firstKeyOfs, keyStep int, args [][]byte) []keyRef {
	num := cAtoi(args[keyCountOfs])
	if num < 1 || num > (len(args)-firstKeyOfs)/keyStep {
		return nil
	}
	out := make([]keyRef, 0, num+1)
	for i := 0; i < num; i++ {
		out = append(out, keyRef{pos: firstKeyOfs + i*keyStep})
	}
	if storeKeyOfs != 0 {
		out = append(out, keyRef{pos: storeKeyOfs})
	}
	return out
}

func sintercardGetKeys(args [][]byte) []keyRef { return genericGetKeys(0, 1, 2, 1, args) }
func zunionInterDiffStoreGetKeys(args [][]byte) []keyRef {
	return genericGetKeys(1, 2, 3, 1, args)
}
func zunionInterDiffGetKeys(args [][]byte) []keyRef { return genericGetKeys(0, 1, 2, 1, args) }
func evalGetKeys(args [][]byte) []keyRef            { return genericGetKeys(0, 2, 3, 1, args) }
func functionGetKeys(args [][]byte) []keyRef        { return genericGetKeys(0, 2, 3, 1, args) }
func lmpopGetKeys(args [][]byte) []keyRef           { return genericGetKeys(0, 1, 2, 1, args) }
func blmpopGetKeys(args [][]byte) []keyRef          { return genericGetKeys(0, 2, 3, 1, args) }
func zmpopGetKeys(args [][]byte) []keyRef           { return genericGetKeys(0, 1, 2, 1, args) }
func bzmpopGetKeys(args [][]byte) []keyRef          { return genericGetKeys(0, 2, 3, 1, args) }

// sortROGetKeys: the sorted key is always argument 1.
func sortROGetKeys(args [][]byte) []keyRef {
	return []keyRef{{pos: 1, flags: ksRO | ksAccess}}
}

// sortGetKeys: the sorted key and the last STORE destination, skipping the
// arguments of LIMIT, GET and BY.
func sortGetKeys(args [][]byte) []keyRef {
	out := []keyRef{{pos: 1, flags: ksRO | ksAccess}}
	store := 0
	skips := []struct {
		name string
		skip int
	}{{"limit", 2}, {"get", 1}, {"by", 1}}
	for i := 2; i < len(args); i++ {
		for _, s := range skips {
			if strings.EqualFold(string(args[i]), s.name) {
				i += s.skip
				break
			} else if strings.EqualFold(string(args[i]), "store") && i+1 < len(args) {
				// as db.c: the last STORE wins
				store = i + 1
				break
			}
		}
	}
	if store != 0 {
		out = append(out, keyRef{pos: store, flags: ksOW | ksUpdate})
	}
	return out
}

// migrateGetKeys: argument 3, or with an empty key there the arguments after
// KEYS.
func migrateGetKeys(args [][]byte) []keyRef {
	first, num := 3, 1
	skips := []struct {
		name string
		skip int
	}{{"copy", 0}, {"replace", 0}, {"auth", 1}, {"auth2", 2}}
	if len(args) > 6 {
		for i := 6; i < len(args); i++ {
			if strings.EqualFold(string(args[i]), "keys") {
				if len(args[3]) > 0 {
					num = 0 // a syntax error MIGRATE reports
				} else {
					first, num = i+1, len(args)-(i+1)
				}
				break
			}
			for _, s := range skips {
				if strings.EqualFold(string(args[i]), s.name) {
					i += s.skip
					break
				}
			}
		}
	}
	out := make([]keyRef, 0, num)
	for i := 0; i < num; i++ {
		out = append(out, keyRef{pos: first + i, flags: ksRW | ksAccess | ksDelete})
	}
	return out
}

// georadiusGetKeys: the key and the last STORE or STOREDIST destination.
func georadiusGetKeys(args [][]byte) []keyRef {
	stored := -1
	for i := 5; i < len(args); i++ {
		a := string(args[i])
		if (strings.EqualFold(a, "store") || strings.EqualFold(a, "storedist")) && i+1 < len(args) {
			stored = i + 1
			i++
		}
	}
	out := []keyRef{{pos: 1}}
	if stored != -1 {
		out = append(out, keyRef{pos: stored})
	}
	return out
}

// xreadGetKeys: the first half of the arguments after STREAMS.
func xreadGetKeys(args [][]byte) []keyRef {
	streams := -1
	for i := 1; i < len(args); i++ {
		a := string(args[i])
		switch {
		case strings.EqualFold(a, "block"), strings.EqualFold(a, "count"):
			i++
			continue
		case strings.EqualFold(a, "group"):
			i += 2
			continue
		case strings.EqualFold(a, "noack"):
			continue
		case strings.EqualFold(a, "streams"):
			streams = i
		}
		break
	}
	num := 0
	if streams != -1 {
		num = len(args) - streams - 1
	}
	if streams == -1 || num == 0 || num%2 != 0 {
		return nil
	}
	num /= 2
	out := make([]keyRef, 0, num)
	for i := streams + 1; i < len(args)-num; i++ {
		out = append(out, keyRef{pos: i})
	}
	return out
}

// setGetKeys: the key, read as well when a GET argument follows the value.
func setGetKeys(args [][]byte) []keyRef {
	if len(args) < 2 {
		return nil // no key (an arity error; ACL checks may come first)
	}
	for _, a := range args[min(3, len(args)):] {
		if strings.EqualFold(string(a), "get") {
			return []keyRef{{pos: 1, flags: ksRW | ksAccess | ksUpdate}}
		}
	}
	return []keyRef{{pos: 1, flags: ksOW | ksUpdate}}
}

// bitfieldGetKeys: the key, read-only when only GET and OVERFLOW operations
// follow.
func bitfieldGetKeys(args [][]byte) []keyRef {
	readonly := true
	for i := 2; i < len(args); i++ {
		rem := len(args) - i - 1
		a := string(args[i])
		if strings.EqualFold(a, "get") && rem >= 2 {
			i += 2
		} else if (strings.EqualFold(a, "set") || strings.EqualFold(a, "incrby")) && rem >= 3 {
			readonly = false
			break
		} else if strings.EqualFold(a, "overflow") && rem >= 1 {
			i++
		} else {
			readonly = false // a syntax error: safer to assume a write
			break
		}
	}
	if readonly {
		return []keyRef{{pos: 1, flags: ksRO | ksAccess}}
	}
	return []keyRef{{pos: 1, flags: ksRW | ksAccess | ksUpdate}}
}
