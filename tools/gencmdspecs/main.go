// Command gencmdspecs generates server/cmd_specs.go, the table of Redis
// 7.0's command metadata (key specs, command and doc flags, tips, history,
// arguments) that COMMAND INFO, COMMAND DOCS and COMMAND GETKEYS serve for
// the commands lux shares with Redis. It reads the command JSON files of a
// Redis source tree (src/commands/*.json, not part of this repository) and
// computes what Redis derives from them at startup exactly as Redis 7.0.15's
// utils/generate-command-code.py and server.c do (argument names lowercased,
// tokens uppercased, the legacy first/last/step triple and the movablekeys
// flag from populateCommandLegacyRangeSpec).
//
//	go run ./tools/gencmdspecs -o server/cmd_specs.go /path/to/redis-7.0.15/src/commands
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"log"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type keySpecJSON struct {
	Notes       string   `json:"notes"`
	Flags       []string `json:"flags"`
	BeginSearch struct {
		Index *struct {
			Pos int `json:"pos"`
		} `json:"index"`
		Keyword *struct {
			Keyword   string `json:"keyword"`
			StartFrom int    `json:"startfrom"`
		} `json:"keyword"`
		Unknown presence `json:"unknown"`
	} `json:"begin_search"`
	FindKeys struct {
		Range *struct {
			LastKey int `json:"lastkey"`
			Step    int `json:"step"`
			Limit   int `json:"limit"`
		} `json:"range"`
		KeyNum *struct {
			KeyNumIdx int `json:"keynumidx"`
			FirstKey  int `json:"firstkey"`
			Step      int `json:"step"`
		} `json:"keynum"`
		Unknown presence `json:"unknown"`
	} `json:"find_keys"`
}

// presence records that a field was given, even as null ("unknown": null).
type presence bool

func (p *presence) UnmarshalJSON([]byte) error {
	*p = true
	return nil
}

type argJSON struct {
	Name            string    `json:"name"`
	Type            string    `json:"type"`
	KeySpecIndex    *int      `json:"key_spec_index"`
	Token           string    `json:"token"`
	Summary         string    `json:"summary"`
	Since           string    `json:"since"`
	DeprecatedSince string    `json:"deprecated_since"`
	Optional        bool      `json:"optional"`
	Multiple        bool      `json:"multiple"`
	MultipleToken   bool      `json:"multiple_token"`
	Arguments       []argJSON `json:"arguments"`
}

type cmdJSON struct {
	Summary         string        `json:"summary"`
	Complexity      string        `json:"complexity"`
	Group           string        `json:"group"`
	Since           string        `json:"since"`
	Arity           int           `json:"arity"`
	Container       string        `json:"container"`
	Function        string        `json:"function"`
	ACLCategories   []string      `json:"acl_categories"`
	GetKeysFunction string        `json:"get_keys_function"`
	History         [][2]string   `json:"history"`
	CommandFlags    []string      `json:"command_flags"`
	DocFlags        []string      `json:"doc_flags"`
	DeprecatedSince string        `json:"deprecated_since"`
	ReplacedBy      string        `json:"replaced_by"`
	Tips            []string      `json:"command_tips"`
	KeySpecs        []keySpecJSON `json:"key_specs"`
	Arguments       []argJSON     `json:"arguments"`
}

// replyFlagOrder is addReplyFlagsForCommand's table: the flags COMMAND INFO
// shows, in its order (MAY_REPLICATE, SENTINEL, ONLY_SENTINEL, PROTECTED and
// TOUCHES_ARBITRARY_KEYS are hidden on purpose).
var replyFlagOrder = []string{"WRITE", "READONLY", "DENYOOM", "MODULE", "ADMIN", "PUBSUB", "NOSCRIPT",
	"BLOCKING", "LOADING", "STALE", "SKIP_MONITOR", "SKIP_SLOWLOG", "ASKING", "FAST", "NO_AUTH",
	"NO_MANDATORY_KEYS", "NO_ASYNC_LOADING", "NO_MULTI", "MOVABLE_KEYS", "ALLOW_BUSY"}

var knownFlags = map[string]bool{"MAY_REPLICATE": true, "SENTINEL": true, "ONLY_SENTINEL": true,
	"PROTECTED": true, "TOUCHES_ARBITRARY_KEYS": true}

// keySpecFlag names the Go constants of server/cmd_specs_reply.go.
var keySpecFlag = map[string]string{"RO": "ksRO", "RW": "ksRW", "OW": "ksOW", "RM": "ksRM",
	"ACCESS": "ksAccess", "UPDATE": "ksUpdate", "INSERT": "ksInsert", "DELETE": "ksDelete",
	"NOT_KEY": "ksNotKey", "INCOMPLETE": "ksIncomplete", "VARIABLE_FLAGS": "ksVariableFlags"}

var argTypes = map[string]bool{"string": true, "integer": true, "double": true, "key": true, "pattern": true,
	"unix-time": true, "pure-token": true, "oneof": true, "block": true}

var groups = map[string]string{"generic": "generic", "string": "string", "list": "list", "set": "set",
	"sorted_set": "sorted-set", "hash": "hash", "pubsub": "pubsub", "transactions": "transactions",
	"connection": "connection", "server": "server", "scripting": "scripting", "hyperloglog": "hyperloglog",
	"cluster": "cluster", "sentinel": "sentinel", "geo": "geo", "stream": "stream", "bitmap": "bitmap"}

var getKeysFuncs = map[string]bool{"bitfieldGetKeys": true, "blmpopGetKeys": true, "evalGetKeys": true,
	"functionGetKeys": true, "georadiusGetKeys": true, "lmpopGetKeys": true, "migrateGetKeys": true,
	"setGetKeys": true, "sintercardGetKeys": true, "sortGetKeys": true, "sortROGetKeys": true,
	"xreadGetKeys": true, "zmpopGetKeys": true, "zunionInterDiffGetKeys": true,
	"zunionInterDiffStoreGetKeys": true, "bzmpopGetKeys": true}

func main() {
	out := flag.String("o", "", "output file (default: standard output)")
	flag.Parse()
	if flag.NArg() != 1 {
		log.Fatal("usage: gencmdspecs [-o file] REDIS_SRC/src/commands")
	}
	src := generate(flag.Arg(0))
	if *out == "" {
		os.Stdout.Write(src)
		return
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

// generate returns cmd_specs.go for the command JSON files in dir.
func generate(dir string) []byte {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		log.Fatalf("no command JSON files in %s: %v", dir, err)
	}
	cmds := map[string]*cmdJSON{} // fullname ("config|get") -> desc
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			log.Fatal(err)
		}
		var m map[string]*cmdJSON
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			log.Fatalf("%s: %v", f, err)
		}
		for name, d := range m {
			full := strings.ToLower(name)
			if d.Container != "" {
				full = strings.ToLower(d.Container) + "|" + full
			}
			if cmds[full] != nil {
				log.Fatalf("%s defined twice", full)
			}
			cmds[full] = d
		}
	}
	// subcommands take their container's group
	for full, d := range cmds {
		if i := strings.IndexByte(full, '|'); i > 0 {
			parent := cmds[full[:i]]
			if parent == nil {
				log.Fatalf("%s: no container %s", full, full[:i])
			}
			if d.Group != "" && d.Group != parent.Group {
				log.Fatalf("%s: group %s differs from its container's", full, d.Group)
			}
			d.Group = parent.Group
		}
	}
	names := make([]string, 0, len(cmds))
	for full, d := range cmds {
		if has(d.CommandFlags, "ONLY_SENTINEL") {
			continue // exists only in sentinel mode
		}
		if i := strings.IndexByte(full, '|'); i > 0 && has(cmds[full[:i]].CommandFlags, "ONLY_SENTINEL") {
			continue
		}
		names = append(names, full)
	}
	sort.Strings(names)

	var b bytes.Buffer
	b.WriteString("// Code generated by tools/gencmdspecs from Redis 7.0.15's src/commands/*.json; DO NOT EDIT.\n\n")
	b.WriteString("package server\n\n")
	b.WriteString("// redisSpecs is Redis 7.0.15's command table as COMMAND INFO, COMMAND DOCS\n")
	b.WriteString("// and COMMAND GETKEYS see it, by full name (\"set\", \"config|get\").\n")
	b.WriteString("var redisSpecs = map[string]*cmdSpec{\n")
	for _, full := range names {
		writeCommand(&b, full, cmds[full])
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		log.Fatalf("formatting the output: %v", err)
	}
	return src
}

// cString is what C makes of generate-command-code.py's output for a JSON
// string: the text pasted between double quotes and read as a C string
// literal, so "\"\"" becomes two adjacent empty literals, the empty string.
func cString(v string) string {
	src := "\"" + v + "\""
	var out strings.Builder
	in := false
	for i := 0; i < len(src); i++ {
		ch := src[i]
		switch {
		case !in && ch == '"':
			in = true
		case !in && (ch == ' ' || ch == '\t'):
		case !in:
			log.Fatalf("string %q is not a C string literal", v)
		case ch == '"':
			in = false
		case ch == '\\' && i+1 < len(src):
			i++
			switch src[i] {
			case 'n':
				out.WriteByte('\n')
			case 't':
				out.WriteByte('\t')
			default:
				out.WriteByte(src[i])
			}
		default:
			out.WriteByte(ch)
		}
	}
	if in {
		log.Fatalf("string %q is not a C string literal", v)
	}
	return out.String()
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func writeCommand(b *bytes.Buffer, full string, d *cmdJSON) {
	for _, f := range d.CommandFlags {
		if !has(replyFlagOrder, f) && !knownFlags[f] {
			log.Fatalf("%s: unknown command flag %s", full, f)
		}
	}
	flags := append([]string(nil), d.CommandFlags...)
	first, last, step, movable := legacyRange(full, d.KeySpecs)
	if movable {
		flags = append(flags, "MOVABLE_KEYS")
	}
	var shown []string
	for _, f := range replyFlagOrder {
		if has(flags, f) {
			name := strings.ToLower(f)
			if f == "MOVABLE_KEYS" {
				name = "movablekeys"
			}
			shown = append(shown, name)
		}
	}
	group, ok := groups[d.Group]
	if !ok {
		log.Fatalf("%s: unknown group %q", full, d.Group)
	}
	fmt.Fprintf(b, "%q: {\n", full)
	fmt.Fprintf(b, "Arity: %d,\n", d.Arity)
	if len(shown) > 0 {
		fmt.Fprintf(b, "Flags: %s,\n", strList(shown))
	}
	if first != 0 {
		fmt.Fprintf(b, "FirstKey: %d, LastKey: %d, KeyStep: %d,\n", first, last, step)
	}
	if len(d.Tips) > 0 {
		tips := make([]string, len(d.Tips))
		for i, t := range d.Tips {
			tips[i] = strings.ToLower(t)
		}
		fmt.Fprintf(b, "Tips: %s,\n", strList(tips))
	}
	if len(d.KeySpecs) > 0 {
		b.WriteString("KeySpecs: []keySpec{\n")
		for _, ks := range d.KeySpecs {
			writeKeySpec(b, full, ks)
		}
		b.WriteString("},\n")
	}
	if d.GetKeysFunction != "" {
		if !getKeysFuncs[d.GetKeysFunction] {
			log.Fatalf("%s: no Go port of %s", full, d.GetKeysFunction)
		}
		fmt.Fprintf(b, "GetKeys: %s,\n", d.GetKeysFunction)
	}
	optStr(b, "Summary", d.Summary)
	optStr(b, "Since", d.Since)
	fmt.Fprintf(b, "Group: %q,\n", group)
	optStr(b, "Complexity", d.Complexity)
	var docFlags []string
	for _, f := range []string{"DEPRECATED", "SYSCMD"} {
		if has(d.DocFlags, f) {
			docFlags = append(docFlags, strings.ToLower(f))
		}
	}
	for _, f := range d.DocFlags {
		if f != "DEPRECATED" && f != "SYSCMD" {
			log.Fatalf("%s: unknown doc flag %s", full, f)
		}
	}
	if len(docFlags) > 0 {
		fmt.Fprintf(b, "DocFlags: %s,\n", strList(docFlags))
	}
	optStr(b, "DeprecatedSince", d.DeprecatedSince)
	optStr(b, "ReplacedBy", d.ReplacedBy)
	if len(d.History) > 0 {
		b.WriteString("History: [][2]string{\n")
		for _, h := range d.History {
			fmt.Fprintf(b, "{%q, %q},\n", cString(h[0]), cString(h[1]))
		}
		b.WriteString("},\n")
	}
	if len(d.Arguments) > 0 {
		b.WriteString("Args: ")
		writeArgs(b, full, d.Arguments, len(d.KeySpecs))
		b.WriteString(",\n")
	}
	b.WriteString("},\n")
}

func optStr(b *bytes.Buffer, field, v string) {
	if v != "" { // generate-command-code.py writes NULL for a missing or empty string
		fmt.Fprintf(b, "%s: %q,\n", field, cString(v))
	}
}

func strList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[]string{" + strings.Join(q, ", ") + "}"
}

func writeKeySpec(b *bytes.Buffer, full string, ks keySpecJSON) {
	var fl []string
	for _, f := range ks.Flags {
		c, ok := keySpecFlag[f]
		if !ok {
			log.Fatalf("%s: unknown key spec flag %s", full, f)
		}
		fl = append(fl, c)
	}
	flags := "0"
	if len(fl) > 0 {
		flags = strings.Join(fl, " | ")
	}
	b.WriteString("{")
	if ks.Notes != "" {
		fmt.Fprintf(b, "Notes: %q, ", cString(ks.Notes))
	}
	fmt.Fprintf(b, "Flags: %s, ", flags)
	bs := ks.BeginSearch
	switch {
	case bs.Index != nil:
		fmt.Fprintf(b, "BS: bsIndex, Index: %d, ", bs.Index.Pos)
	case bs.Keyword != nil:
		fmt.Fprintf(b, "BS: bsKeyword, Keyword: %q, StartFrom: %d, ", bs.Keyword.Keyword, bs.Keyword.StartFrom)
	case bool(bs.Unknown):
		b.WriteString("BS: bsUnknown, ")
	default:
		log.Fatalf("%s: invalid begin_search", full)
	}
	fk := ks.FindKeys
	switch {
	case fk.Range != nil:
		fmt.Fprintf(b, "FK: fkRange, LastKey: %d, KeyStep: %d, Limit: %d", fk.Range.LastKey, fk.Range.Step, fk.Range.Limit)
	case fk.KeyNum != nil:
		fmt.Fprintf(b, "FK: fkKeyNum, KeyNumIdx: %d, FirstKey: %d, KeyStep: %d", fk.KeyNum.KeyNumIdx, fk.KeyNum.FirstKey, fk.KeyNum.Step)
	case bool(fk.Unknown):
		b.WriteString("FK: fkUnknown")
	default:
		log.Fatalf("%s: invalid find_keys", full)
	}
	b.WriteString("},\n")
}

func writeArgs(b *bytes.Buffer, full string, args []argJSON, nspecs int) {
	b.WriteString("[]specArg{\n")
	for _, a := range args {
		if !argTypes[a.Type] {
			log.Fatalf("%s: argument %s: unknown type %s", full, a.Name, a.Type)
		}
		fmt.Fprintf(b, "{Name: %q, Type: %q", strings.ToLower(a.Name), a.Type)
		ksi := -1
		if a.KeySpecIndex != nil {
			ksi = *a.KeySpecIndex
			if ksi < 0 || ksi >= nspecs {
				log.Fatalf("%s: argument %s: key_spec_index %d out of range", full, a.Name, ksi)
			}
		}
		fmt.Fprintf(b, ", KeySpecIndex: %d", ksi)
		if a.Token != "" {
			// a token that is a C literal of nothing (MIGRATE's "\"\"") is
			// still given, as an empty string
			if tok := cString(strings.ToUpper(a.Token)); tok != "" {
				fmt.Fprintf(b, ", Token: %q", tok)
			} else {
				b.WriteString(", EmptyToken: true")
			}
		}
		if a.Summary != "" {
			fmt.Fprintf(b, ", Summary: %q", cString(a.Summary))
		}
		if a.Since != "" {
			fmt.Fprintf(b, ", Since: %q", cString(a.Since))
		}
		if a.DeprecatedSince != "" {
			fmt.Fprintf(b, ", DeprecatedSince: %q", cString(a.DeprecatedSince))
		}
		var fl []string
		if a.Optional {
			fl = append(fl, "argOptional")
		}
		if a.Multiple {
			fl = append(fl, "argMultiple")
		}
		if a.MultipleToken {
			if !a.Multiple {
				log.Fatalf("%s: argument %s: multiple_token without multiple", full, a.Name)
			}
			fl = append(fl, "argMultipleToken")
		}
		if len(fl) > 0 {
			fmt.Fprintf(b, ", Flags: %s", strings.Join(fl, " | "))
		}
		if a.Type == "oneof" || a.Type == "block" {
			b.WriteString(", Args: ")
			writeArgs(b, full, a.Arguments, nspecs)
		} else if len(a.Arguments) > 0 {
			log.Fatalf("%s: argument %s of type %s has arguments", full, a.Name, a.Type)
		}
		b.WriteString("},\n")
	}
	b.WriteString("}")
}

// legacyRange is server.c's populateCommandLegacyRangeSpec: COMMAND INFO's
// first key, last key and step, and whether the command gets the
// movablekeys flag.
func legacyRange(full string, specs []keySpecJSON) (first, last, step int, movable bool) {
	if len(specs) == 0 {
		return 0, 0, 0, false
	}
	isIndexRange := func(ks keySpecJSON) bool { return ks.BeginSearch.Index != nil && ks.FindKeys.Range != nil }
	if len(specs) == 1 && isIndexRange(specs[0]) {
		ks := specs[0]
		first, last, step = ks.BeginSearch.Index.Pos, ks.FindKeys.Range.LastKey, ks.FindKeys.Range.Step
		if last >= 0 {
			last += first
		}
		return first, last, step, has(ks.Flags, "INCOMPLETE")
	}
	firstKey, lastKey, prevLast := math.MaxInt32, int32(0), int32(0)
	for _, ks := range specs {
		if !isIndexRange(ks) {
			movable = true
			continue
		}
		pos := ks.BeginSearch.Index.Pos
		if ks.FindKeys.Range.Step != 1 || (prevLast != 0 && int(prevLast) != pos-1) {
			movable = true
			continue
		}
		if has(ks.Flags, "INCOMPLETE") {
			movable = true
		}
		firstKey = min(firstKey, pos)
		abs := int32(ks.FindKeys.Range.LastKey)
		if abs >= 0 {
			abs += int32(pos)
		}
		// unsigned comparison, so a negative (relative to the end) last key wins
		if uint32(abs) > uint32(lastKey) {
			lastKey = abs
		}
		prevLast = lastKey
	}
	if firstKey == math.MaxInt32 {
		return 0, 0, 0, true
	}
	if firstKey == 0 || lastKey == 0 {
		log.Fatalf("%s: bad legacy key range", full)
	}
	// COMMAND INFO adds first back to a non-negative relative last key, so
	// the triple holds absolute positions
	return firstKey, int(lastKey), 1, movable
}
