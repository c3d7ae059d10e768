package server

import (
	"sort"
	"strings"
	"sync"

	"github.com/luxdb/lux-go/pubsub"
)

// COMMAND and its subcommands, all generated from the command table, plus the
// subcommand registry container commands (CONFIG, DEBUG, MEMORY, ...) use for
// dispatch and for COMMAND INFO/DOCS/LIST.

func init() {
	register(&Command{Name: "command", Arity: -1, Flags: FlagNoLock | FlagLoading | FlagStale, Handler: cmdCommand,
		Group: "server", Summary: "Returns detailed information about all commands."})
	registerSubcommands("command",
		&subCommand{Name: "count", Arity: 2, Flags: FlagLoading | FlagStale, Summary: "Returns a count of commands."},
		&subCommand{Name: "list", Arity: -2, Flags: FlagLoading | FlagStale, Summary: "Returns a list of command names."},
		&subCommand{Name: "info", Arity: -2, Flags: FlagLoading | FlagStale, Summary: "Returns information about one, multiple or all commands."},
		&subCommand{Name: "docs", Arity: -2, Flags: FlagLoading | FlagStale, Summary: "Returns documentary information about one, multiple or all commands."},
		&subCommand{Name: "getkeys", Arity: -4, Flags: FlagLoading | FlagStale, Summary: "Extracts the key names from an arbitrary command."},
		&subCommand{Name: "getkeysandflags", Arity: -4, Flags: FlagLoading | FlagStale, Summary: "Extracts the key names and access flags for an arbitrary command."},
		&subCommand{Name: "help", Arity: 2, Flags: FlagLoading | FlagStale, Summary: "Returns helpful text about the different subcommands."},
	)
}

// subCommand is one subcommand of a container command (CONFIG GET, MEMORY
// USAGE). Redis 7 reports these as commands of their own ("config|get"), so
// they carry their own arity and flags for COMMAND INFO.
type subCommand struct {
	Name  string // lowercase, without the container name: "get"
	Arity int    // Redis convention, counting the container name: CONFIG GET is -3
	Flags Flag
	// FirstKey, LastKey, Step: the subcommand's key positions in the full
	// argument list (MEMORY USAGE key: 2, 2, 1). The container's Keys function
	// is what the dispatcher locks with; these only feed COMMAND INFO.
	FirstKey, LastKey, Step int
	// Handler runs the subcommand for runSubcommand; containers that switch
	// on the name themselves (after resolveSubcommand) leave it nil.
	Handler Handler
	Summary string
}

var (
	subMu       sync.RWMutex
	subcommands = map[string]map[string]*subCommand{}
)

// registerSubcommands records the subcommands of container command parent.
func registerSubcommands(parent string, subs ...*subCommand) {
	subMu.Lock()
	defer subMu.Unlock()
	m := subcommands[parent]
	if m == nil {
		m = map[string]*subCommand{}
		subcommands[parent] = m
	}
	for _, s := range subs {
		if s.Step == 0 && s.FirstKey > 0 {
			s.Step = 1
		}
		m[s.Name] = s
	}
}

// subcommandsOf returns parent's registered subcommands sorted by name.
func subcommandsOf(parent string) []*subCommand {
	subMu.RLock()
	defer subMu.RUnlock()
	m := subcommands[parent]
	out := make([]*subCommand, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func lookupSubcommand(parent string, name []byte) *subCommand {
	subMu.RLock()
	defer subMu.RUnlock()
	return subcommands[parent][strings.ToLower(string(name))]
}

// resolveSubcommand validates args[1] as a subcommand of the container in
// args[0] the way Redis's dispatcher does: an unknown name and a wrong number
// of arguments get Redis's errors (written to c, nil returned).
func resolveSubcommand(c *Client, args [][]byte, parent string) *subCommand {
	sub := lookupSubcommand(parent, args[1])
	if sub == nil {
		c.WriteError(unknownSubcommandMsg(string(args[1]), strings.ToUpper(string(args[0]))))
		return nil
	}
	n := len(args)
	if (sub.Arity > 0 && n != sub.Arity) || (sub.Arity < 0 && n < -sub.Arity) {
		c.WriteError(wrongArgsMsg(parent + "|" + sub.Name))
		return nil
	}
	return sub
}

// runSubcommand resolves args[1] and runs its handler.
func runSubcommand(c *Client, args [][]byte, parent string) {
	if sub := resolveSubcommand(c, args, parent); sub != nil && sub.Handler != nil {
		sub.Handler(c, args)
	}
}

// writeHelp writes a Redis HELP reply: status lines framed by the standard
// header and footer, the header naming the container as the client typed it.
func writeHelp(c *Client, name []byte, lines ...string) {
	c.WriteArray(len(lines) + 3)
	c.WriteString(strings.ToUpper(string(name)) + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		c.WriteString(l)
	}
	c.WriteString("HELP")
	c.WriteString("    Prints this help.")
}

// subSyntaxMsg is Redis's addReplySubcommandSyntaxError text.
func subSyntaxMsg(args [][]byte) string {
	return "ERR unknown subcommand or wrong number of arguments for '" + truncate(string(args[1]), 128) +
		"'. Try " + strings.ToUpper(string(args[0])) + " HELP."
}

// ---- COMMAND ----

func cmdCommand(c *Client, args [][]byte) {
	if len(args) == 1 {
		cmds := sortedCommands()
		c.WriteArray(len(cmds))
		for _, cmd := range cmds {
			writeCommandInfo(c, cmd)
		}
		return
	}
	sub := resolveSubcommand(c, args, "command")
	if sub == nil {
		return
	}
	switch sub.Name {
	case "count":
		c.WriteInt(len(commands))
	case "list":
		commandList(c, args)
	case "info":
		commandInfo(c, args)
	case "docs":
		commandDocs(c, args)
	case "getkeys", "getkeysandflags":
		commandGetKeys(c, args, sub.Name == "getkeysandflags")
	case "help":
		writeHelp(c, args[0],
			"(no subcommand)",
			"    Return details about all Redis commands.",
			"COUNT",
			"    Return the total number of commands in this Redis server.",
			"LIST",
			"    Return a list of all commands in this Redis server.",
			"INFO [<command-name> ...]",
			"    Return details about multiple Redis commands.",
			"    If no command names are given, documentation details for all",
			"    commands are returned.",
			"DOCS [<command-name> ...]",
			"    Return documentation details about multiple Redis commands.",
			"    If no command names are given, documentation details for all",
			"    commands are returned.",
			"GETKEYS <full-command>",
			"    Return the keys from a full Redis command.",
			"GETKEYSANDFLAGS <full-command>",
			"    Return the keys and the access flags from a full Redis command.")
	}
}

func sortedCommands() []*Command {
	out := make([]*Command, 0, len(commands))
	for _, cmd := range commands {
		out = append(out, cmd)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// commandRow is what COMMAND INFO and DOCS describe: a command or a
// subcommand ("config|get").
type commandRow struct {
	name                    string
	arity                   int
	flags                   Flag
	firstKey, lastKey, step int
	movable                 bool
	container               bool // has registered subcommands (and no ACL category of its own)
	group, summary          string
	parent                  *Command
}

func rowOf(cmd *Command) commandRow {
	return commandRow{name: cmd.Name, arity: cmd.Arity, flags: cmd.Flags, firstKey: cmd.FirstKey,
		lastKey: cmd.LastKey, step: cmd.Step, movable: cmd.Keys != nil && len(subcommandsOf(cmd.Name)) == 0,
		container: len(subcommandsOf(cmd.Name)) > 0, group: cmd.Group, summary: cmd.Summary}
}

func subRowOf(parent *Command, s *subCommand) commandRow {
	return commandRow{name: parent.Name + "|" + s.Name, arity: s.Arity, flags: s.Flags, firstKey: s.FirstKey,
		lastKey: s.LastKey, step: s.Step, group: parent.Group, summary: s.Summary, parent: parent}
}

// lookupRow finds "name" or "container|sub" case-insensitively.
func lookupRow(name []byte) (commandRow, bool) {
	n := strings.ToLower(string(name))
	if i := strings.IndexByte(n, '|'); i >= 0 {
		parent := commands[n[:i]]
		if parent == nil {
			return commandRow{}, false
		}
		s := lookupSubcommand(parent.Name, []byte(n[i+1:]))
		if s == nil {
			return commandRow{}, false
		}
		return subRowOf(parent, s), true
	}
	cmd := commands[n]
	if cmd == nil {
		return commandRow{}, false
	}
	return rowOf(cmd), true
}

// commandFlagOrder is the order Redis lists command flags in.
var commandFlagOrder = []Flag{FlagWrite, FlagReadOnly, FlagDenyOOM, FlagAdmin, FlagPubSub, FlagNoScript,
	FlagBlocking, FlagLoading, FlagStale, FlagFast, FlagNoAuth, FlagNoTransaction}

func flagName(f Flag) string {
	for _, fn := range flagNames {
		if fn.f == f {
			return fn.name
		}
	}
	return ""
}

func (r commandRow) flagList() []string {
	var out []string
	for _, f := range commandFlagOrder {
		if r.flags&f != 0 {
			if n := flagName(f); n != "" {
				out = append(out, n)
			}
		}
	}
	if r.movable {
		out = append(out, "movablekeys")
	}
	return out
}

// groupCategory maps a documentation group to its ACL category.
var groupCategory = map[string]string{
	"generic": "@keyspace", "string": "@string", "list": "@list", "set": "@set", "sorted-set": "@sortedset",
	"hash": "@hash", "pubsub": "@pubsub", "transactions": "@transaction", "connection": "@connection",
	"scripting": "@scripting", "hyperloglog": "@hyperloglog", "geo": "@geo", "stream": "@stream", "bitmap": "@bitmap",
	// lux's own families, under the nearest Redis category (ACL CAT lists
	// exactly Redis's categories): tables hold field/value rows, time
	// series are ordered by time, vectors are values under a key
	"tables": "@hash", "timeseries": "@sortedset", "vector": "@string",
}

// aclExtra holds the ACL categories Redis declares explicitly for commands
// whose flags and group do not imply them; an entry replaces the group's
// category.
var aclExtra = map[string][]string{
	"dbsize": {"@keyspace"}, "flushdb": {"@keyspace", "@dangerous"}, "flushall": {"@keyspace", "@dangerous"},
	"info": {"@dangerous"}, "lastsave": {"@admin", "@dangerous"}, "role": {"@admin", "@dangerous"},
	"wait": {"@connection"}, "command": {"@connection"}, "command|count": {"@connection"},
	"command|docs": {"@connection"}, "command|getkeys": {"@connection"}, "command|getkeysandflags": {"@connection"},
	"command|help": {"@connection"}, "command|info": {"@connection"}, "command|list": {"@connection"},
	"function|flush": {"@scripting"}, "function|list": {"@scripting"}, "function|help": {"@scripting"},
	"script|flush": {"@scripting"}, "script|help": {"@scripting"},
	"sort": {"@set", "@sortedset", "@list", "@dangerous"}, "sort_ro": {"@set", "@sortedset", "@list", "@dangerous"},
}

// aclCategoryOrder is the order Redis lists ACL categories in.
var aclCategoryOrder = []string{"@keyspace", "@read", "@write", "@set", "@sortedset", "@list", "@hash", "@string",
	"@bitmap", "@hyperloglog", "@geo", "@stream", "@pubsub", "@admin", "@fast", "@slow", "@blocking", "@dangerous",
	"@connection", "@transaction", "@scripting"}

// categories derives ACL categories from flags and group; the command table
// has no ACL data of its own.
func (r commandRow) categories() []string {
	// Redis's own commands have Redis's categories (acl_keyspecs.go)
	if cats, ok := redisCategories[r.name]; ok {
		return cats
	}
	has := map[string]bool{}
	// a container's categories are its subcommands' business
	if extra, ok := aclExtra[r.name]; ok {
		for _, cat := range extra {
			has[cat] = true
		}
	} else if g := groupCategory[r.group]; g != "" && !r.container {
		has[g] = true
	}
	if r.flags&FlagReadOnly != 0 {
		has["@read"] = true
	}
	if r.flags&FlagWrite != 0 {
		has["@write"] = true
	}
	if r.flags&FlagPubSub != 0 {
		has["@pubsub"] = true
	}
	if r.flags&FlagAdmin != 0 {
		has["@admin"] = true
		has["@dangerous"] = true
	}
	if r.flags&FlagFast != 0 {
		has["@fast"] = true
	} else {
		has["@slow"] = true
	}
	if r.flags&FlagBlocking != 0 {
		has["@blocking"] = true
	}
	var out []string
	for _, cat := range aclCategoryOrder {
		if has[cat] {
			out = append(out, cat)
		}
	}
	return out
}

// keyFlags are the key-spec access flags, derived from read/write.
func (r commandRow) keyFlags() []string {
	if r.flags&FlagWrite != 0 {
		return []string{"RW", "update"}
	}
	return []string{"RO", "access"}
}

func (r commandRow) hasKeys() bool { return r.firstKey > 0 || r.movable }

// legacyRange is COMMAND INFO's first key, last key, step triple.
func (r commandRow) legacyRange() (int, int, int) {
	if r.firstKey <= 0 {
		return 0, 0, 0
	}
	return r.firstKey, r.lastKey, r.step
}

func writeCommandInfo(c *Client, cmd *Command) { writeRowInfo(c, rowOf(cmd), cmd) }

// writeRowInfo writes one COMMAND INFO entry in Redis 7's shape: name,
// arity, flags, first key, last key, step, ACL categories, tips, key specs,
// subcommands (RESP3: flags, categories, tips and key specs are sets, a key
// spec a map, no subcommands an empty set).
func writeRowInfo(c *Client, r commandRow, cmd *Command) {
	c.WriteArray(10)
	c.WriteBulkString(r.name)
	c.WriteInt(r.arity)
	writeStatusSet(c, r.flagList())
	first, last, step := r.legacyRange()
	c.WriteInt(first)
	c.WriteInt(last)
	c.WriteInt(step)
	writeStatusSet(c, r.categories())
	writeBulkSet(c, commandTips[r.name])
	writeKeySpecs(c, r)
	if cmd == nil || !r.container {
		c.WriteSet(0)
		return
	}
	subs := subcommandsOf(cmd.Name)
	c.WriteArray(len(subs))
	for _, s := range subs {
		writeRowInfo(c, subRowOf(cmd, s), nil)
	}
}

// commandTips are Redis's command tips for this server's commands (COMMAND
// INFO's eighth element): hints for proxies and cluster clients.
var commandTips = map[string][]string{
	"dbsize":           {"request_policy:all_shards", "response_policy:agg_sum"},
	"flushdb":          {"request_policy:all_shards", "response_policy:all_succeeded"},
	"flushall":         {"request_policy:all_shards", "response_policy:all_succeeded"},
	"info":             {"nondeterministic_output", "request_policy:all_shards", "response_policy:special"},
	"time":             {"nondeterministic_output"},
	"lastsave":         {"nondeterministic_output"},
	"wait":             {"request_policy:all_shards", "response_policy:agg_min"},
	"memory|doctor":    {"nondeterministic_output", "request_policy:all_shards", "response_policy:special"},
	"memory|stats":     {"nondeterministic_output", "request_policy:all_shards", "response_policy:special"},
	"memory|purge":     {"request_policy:all_shards", "response_policy:all_succeeded"},
	"memory|usage":     {},
	"function|flush":   {"request_policy:all_shards", "response_policy:all_succeeded"},
	"function|list":    {"nondeterministic_output_order"},
	"script|flush":     {"request_policy:all_nodes", "response_policy:all_succeeded"},
	"command":          {"nondeterministic_output_order"},
	"command|docs":     {"nondeterministic_output_order"},
	"command|info":     {"nondeterministic_output_order"},
	"command|list":     {"nondeterministic_output_order"},
	"config|get":       {},
	"config|set":       {"request_policy:all_nodes", "response_policy:all_succeeded"},
	"config|resetstat": {"request_policy:all_nodes", "response_policy:all_succeeded"},
	"config|rewrite":   {"request_policy:all_nodes", "response_policy:all_succeeded"},
}

// writeBulkSet and writeStatusSet write a list Redis replies as a set
// (arrays in RESP2): tips, flags, ACL categories.
func writeBulkSet(c *Client, items []string) {
	c.WriteSet(len(items))
	for _, it := range items {
		c.WriteBulkString(it)
	}
}

func writeStatusSet(c *Client, items []string) {
	c.WriteSet(len(items))
	for _, it := range items {
		c.WriteString(it)
	}
}

func writeKeySpecs(c *Client, r commandRow) {
	if !r.hasKeys() {
		c.WriteSet(0)
		return
	}
	c.WriteSet(1)
	c.WriteMap(3)
	c.WriteBulkString("flags")
	writeStatusSet(c, r.keyFlags())
	if r.movable || r.firstKey <= 0 {
		// positions depend on the arguments (numkeys and the like)
		c.WriteBulkString("begin_search")
		c.WriteMap(2)
		c.WriteBulkString("type")
		c.WriteBulkString("unknown")
		c.WriteBulkString("spec")
		c.WriteMap(0)
		c.WriteBulkString("find_keys")
		c.WriteMap(2)
		c.WriteBulkString("type")
		c.WriteBulkString("unknown")
		c.WriteBulkString("spec")
		c.WriteMap(0)
		return
	}
	c.WriteBulkString("begin_search")
	c.WriteMap(2)
	c.WriteBulkString("type")
	c.WriteBulkString("index")
	c.WriteBulkString("spec")
	c.WriteMap(1)
	c.WriteBulkString("index")
	c.WriteInt(r.firstKey)
	last := r.lastKey
	if last >= 0 {
		last -= r.firstKey
	}
	c.WriteBulkString("find_keys")
	c.WriteMap(2)
	c.WriteBulkString("type")
	c.WriteBulkString("range")
	c.WriteBulkString("spec")
	c.WriteMap(3)
	c.WriteBulkString("lastkey")
	c.WriteInt(last)
	c.WriteBulkString("keystep")
	c.WriteInt(r.step)
	c.WriteBulkString("limit")
	c.WriteInt(0)
}

func commandInfo(c *Client, args [][]byte) {
	if len(args) == 2 {
		cmds := sortedCommands()
		c.WriteArray(len(cmds))
		for _, cmd := range cmds {
			writeCommandInfo(c, cmd)
		}
		return
	}
	c.WriteArray(len(args) - 2)
	for _, name := range args[2:] {
		r, ok := lookupRow(name)
		if !ok {
			c.WriteNull()
			continue
		}
		writeRowInfo(c, r, r.parentOrSelf())
	}
}

// parentOrSelf returns the table entry of a top-level row (nil for a subcommand).
func (r commandRow) parentOrSelf() *Command {
	if r.parent != nil {
		return nil
	}
	return commands[r.name]
}

func commandList(c *Client, args [][]byte) {
	var filter func(r commandRow) bool
	for i := 2; i < len(args); i++ {
		if !eqFold(args[i], "filterby") || len(args)-1-i != 2 {
			c.WriteError(msgSyntax)
			return
		}
		arg := args[i+2]
		switch {
		case eqFold(args[i+1], "module"):
			filter = func(commandRow) bool { return false } // no modules
		case eqFold(args[i+1], "aclcat"):
			cat := "@" + strings.ToLower(string(arg))
			filter = func(r commandRow) bool {
				for _, x := range r.categories() {
					if x == cat {
						return true
					}
				}
				return false
			}
		case eqFold(args[i+1], "pattern"):
			filter = func(r commandRow) bool { return pubsub.Match(arg, []byte(r.name), true) }
		default:
			c.WriteError(msgSyntax)
			return
		}
		i += 2
	}
	var names []string
	for _, cmd := range sortedCommands() {
		r := rowOf(cmd)
		if filter == nil || filter(r) {
			names = append(names, r.name)
		}
		for _, s := range subcommandsOf(cmd.Name) {
			sr := subRowOf(cmd, s)
			if filter == nil || filter(sr) {
				names = append(names, sr.name)
			}
		}
	}
	c.WriteBulkStrings(names)
}

func commandGetKeys(c *Client, args [][]byte, withFlags bool) {
	cmdArgs := args[2:]
	cmd := lookupCommand(cmdArgs[0])
	if cmd == nil {
		c.WriteError("ERR Invalid command specified")
		return
	}
	r := rowOf(cmd)
	if subs := subcommandsOf(cmd.Name); len(subs) > 0 && len(cmdArgs) > 1 {
		s := lookupSubcommand(cmd.Name, cmdArgs[1])
		if s == nil {
			c.WriteError("ERR Invalid command specified")
			return
		}
		r = subRowOf(cmd, s)
	}
	if !r.hasKeys() && cmd.Keys == nil {
		c.WriteError("ERR The command has no key arguments")
		return
	}
	if (r.arity > 0 && r.arity != len(cmdArgs)) || len(cmdArgs) < -r.arity {
		c.WriteError("ERR Invalid number of arguments specified for command")
		return
	}
	keys, ok := safeKeyArgs(cmd, cmdArgs)
	if !ok {
		c.WriteError("ERR Invalid arguments specified for command")
		return
	}
	if len(keys) == 0 {
		if !r.hasKeys() {
			c.WriteError("ERR The command has no key arguments")
		} else {
			c.WriteError("ERR Invalid arguments specified for command")
		}
		return
	}
	c.WriteArray(len(keys))
	for _, k := range keys {
		if withFlags {
			c.WriteArray(2)
			c.WriteBulk(k)
			writeStatusSet(c, r.keyFlags())
		} else {
			c.WriteBulk(k)
		}
	}
}

// safeKeyArgs extracts a command's keys for GETKEYS. Key functions are only
// ever called with arguments the command's own arity allows, but GETKEYS
// hands them arbitrary client input, so a failure is contained here.
func safeKeyArgs(cmd *Command, args [][]byte) (keys [][]byte, ok bool) {
	defer func() {
		if recover() != nil {
			keys, ok = nil, false
		}
	}()
	return cmd.keyArgs(args, nil), true
}

// ---- COMMAND DOCS ----

// commandDoc is the per-command documentation Redis 7.0 ships in help.h:
// the argument synopsis and the version that introduced the command.
type commandDoc struct {
	params string
	since  string
}

var (
	docOnce  sync.Once
	docTable map[string]commandDoc // "set", "config get"
	docSubs  map[string][]string   // "config" -> ["get", "set", ...]
)

func loadDocs() {
	docOnce.Do(func() {
		docTable = map[string]commandDoc{}
		docSubs = map[string][]string{}
		for _, line := range strings.Split(redisCommandHelp, "\n") {
			f := strings.Split(line, "\t")
			if len(f) != 3 {
				continue
			}
			docTable[f[0]] = commandDoc{params: f[1], since: f[2]}
			if i := strings.IndexByte(f[0], ' '); i > 0 {
				docSubs[f[0][:i]] = append(docSubs[f[0][:i]], f[0][i+1:])
			}
		}
	})
}

func commandDocs(c *Client, args [][]byte) {
	loadDocs()
	var rows []commandRow
	if len(args) == 2 {
		for _, cmd := range sortedCommands() {
			rows = append(rows, rowOf(cmd))
		}
	} else {
		for _, name := range args[2:] {
			if r, ok := lookupRow(name); ok {
				rows = append(rows, r)
			}
		}
	}
	c.WriteMap(len(rows))
	for _, r := range rows {
		c.WriteBulkString(r.name)
		writeRowDocs(c, r)
	}
}

// writeRowDocs writes one COMMAND DOCS map (RESP2: a flat array of pairs):
// summary, since, group, arguments and subcommands, the fields redis-cli
// builds its help and hints from. Arguments come from Redis's synopsis, one
// entry per top-level word, so redis-cli re-assembles the synopsis exactly.
func writeRowDocs(c *Client, r commandRow) {
	docName := strings.Replace(r.name, "|", " ", 1)
	doc, known := docTable[docName]
	var argList []docArg
	if known {
		argList = docArgs(doc.params)
	}
	var subNames []string
	if r.parent == nil {
		if subs := subcommandsOf(r.name); len(subs) > 0 {
			for _, s := range subs {
				subNames = append(subNames, s.Name)
			}
		} else {
			subNames = docSubs[r.name]
		}
	}
	n := 1 // group
	if r.summary != "" {
		n++
	}
	if known {
		n++
	}
	if len(argList) > 0 {
		n++
	}
	if len(subNames) > 0 {
		n++
	}
	c.WriteMap(n)
	if r.summary != "" {
		c.WriteBulkString("summary")
		c.WriteBulkString(r.summary)
	}
	if known {
		c.WriteBulkString("since")
		c.WriteBulkString(doc.since)
	}
	c.WriteBulkString("group")
	group := r.group
	if group == "" {
		group = "server"
	}
	c.WriteBulkString(group)
	if len(argList) > 0 {
		c.WriteBulkString("arguments")
		c.WriteArray(len(argList))
		for _, a := range argList {
			m := 2
			if len(a.flags) > 0 {
				m++
			}
			c.WriteMap(m)
			c.WriteBulkString("name")
			c.WriteBulkString(a.name)
			c.WriteBulkString("type")
			c.WriteBulkString("string")
			if len(a.flags) > 0 {
				c.WriteBulkString("flags")
				writeStatusSet(c, a.flags)
			}
		}
	}
	if len(subNames) > 0 {
		c.WriteBulkString("subcommands")
		c.WriteMap(len(subNames))
		cmd := commands[r.name]
		for _, sn := range subNames {
			sr := commandRow{name: r.name + "|" + sn, group: r.group, parent: cmd}
			if s := lookupSubcommand(r.name, []byte(sn)); s != nil {
				sr = subRowOf(cmd, s)
			}
			c.WriteBulkString(sr.name)
			writeRowDocs(c, sr)
		}
	}
}

// docArg is one argument entry of COMMAND DOCS.
type docArg struct {
	name  string
	flags []string
}

// docArgs splits a synopsis into top-level words ("key", "[NX|XX]"). An
// optional word loses its brackets and gets the optional flag; "x [x ...]"
// becomes one multiple argument; redis-cli renders both back as written.
func docArgs(params string) []docArg {
	var words []string
	depth, start := 0, 0
	for i := 0; i < len(params); i++ {
		switch params[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ' ':
			if depth == 0 {
				if i > start {
					words = append(words, params[start:i])
				}
				start = i + 1
			}
		}
	}
	if start < len(params) {
		words = append(words, params[start:])
	}
	var out []docArg
	for _, w := range words {
		if len(w) >= 2 && w[0] == '[' && w[len(w)-1] == ']' && balanced(w[1:len(w)-1]) {
			inner := w[1 : len(w)-1]
			if n := len(out); n > 0 && len(out[n-1].flags) == 0 && inner == out[n-1].name+" ..." {
				out[n-1].flags = []string{"multiple"}
				continue
			}
			out = append(out, docArg{name: inner, flags: []string{"optional"}})
			continue
		}
		out = append(out, docArg{name: w})
	}
	return out
}

// balanced reports whether s's brackets pair up, so "[a] [b]" is not taken
// for one optional word.
func balanced(s string) bool {
	d := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			d++
		case ']':
			d--
			if d < 0 {
				return false
			}
		}
	}
	return d == 0
}

// redisCommandHelp is Redis 7.0.15's src/help.h (generated by Redis from its
// command JSON files), reduced to "name<TAB>arguments<TAB>since" per command
// and subcommand. COMMAND DOCS serves it for the commands this server has.
const redisCommandHelp = `acl		6.0.0
acl cat	[categoryname]	6.0.0
acl deluser	username [username ...]	6.0.0
acl dryrun	username command [arg [arg ...]]	7.0.0
acl genpass	[bits]	6.0.0
acl getuser	username	6.0.0
acl help		6.0.0
acl list		6.0.0
acl load		6.0.0
acl log	[count|RESET]	6.0.0
acl save		6.0.0
acl setuser	username [rule [rule ...]]	6.0.0
acl users		6.0.0
acl whoami		6.0.0
append	key value	2.0.0
asking		3.0.0
auth	[username] password	1.0.0
bgrewriteaof		1.0.0
bgsave	[SCHEDULE]	1.0.0
bitcount	key [start end [BYTE|BIT]]	2.6.0
bitfield	key GET encoding offset|[OVERFLOW WRAP|SAT|FAIL] SET encoding offset value|INCRBY encoding offset increment [GET encoding offset|[OVERFLOW WRAP|SAT|FAIL] SET encoding offset value|INCRBY encoding offset increment ...]	3.2.0
bitfield_ro	key GET encoding offset [GET encoding offset ...]	6.0.0
bitop	operation destkey key [key ...]	2.6.0
bitpos	key bit [start [end [BYTE|BIT]]]	2.8.7
blmove	source destination LEFT|RIGHT LEFT|RIGHT timeout	6.2.0
blmpop	timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]	7.0.0
blpop	key [key ...] timeout	2.0.0
brpop	key [key ...] timeout	2.0.0
brpoplpush	source destination timeout	2.2.0
bzmpop	timeout numkeys key [key ...] MIN|MAX [COUNT count]	7.0.0
bzpopmax	key [key ...] timeout	5.0.0
bzpopmin	key [key ...] timeout	5.0.0
client		2.4.0
client caching	YES|NO	6.0.0
client getname		2.6.9
client getredir		6.0.0
client help		5.0.0
client id		5.0.0
client info		6.2.0
client kill	ip:port|[ID client-id]|[TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB]|[USER username]|[ADDR ip:port]|[LADDR ip:port]|[SKIPME yes/no] [[ID client-id]|[TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB]|[USER username]|[ADDR ip:port]|[LADDR ip:port]|[SKIPME yes/no] ...]	2.4.0
client list	[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id [client-id ...]]	2.4.0
client no-evict	ON|OFF	7.0.0
client pause	timeout [WRITE|ALL]	2.9.50
client reply	ON|OFF|SKIP	3.2.0
client setname	connection-name	2.6.9
client tracking	ON|OFF [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]	6.0.0
client trackinginfo		6.2.0
client unblock	client-id [TIMEOUT|ERROR]	5.0.0
client unpause		6.2.0
cluster		3.0.0
cluster addslots	slot [slot ...]	3.0.0
cluster addslotsrange	start-slot end-slot [start-slot end-slot ...]	7.0.0
cluster bumpepoch		3.0.0
cluster count-failure-reports	node-id	3.0.0
cluster countkeysinslot	slot	3.0.0
cluster delslots	slot [slot ...]	3.0.0
cluster delslotsrange	start-slot end-slot [start-slot end-slot ...]	7.0.0
cluster failover	[FORCE|TAKEOVER]	3.0.0
cluster flushslots		3.0.0
cluster forget	node-id	3.0.0
cluster getkeysinslot	slot count	3.0.0
cluster help		5.0.0
cluster info		3.0.0
cluster keyslot	key	3.0.0
cluster links		7.0.0
cluster meet	ip port [cluster_bus_port]	3.0.0
cluster myid		3.0.0
cluster nodes		3.0.0
cluster replicas	node-id	5.0.0
cluster replicate	node-id	3.0.0
cluster reset	[HARD|SOFT]	3.0.0
cluster saveconfig		3.0.0
cluster set-config-epoch	config-epoch	3.0.0
cluster setslot	slot IMPORTING node-id|MIGRATING node-id|NODE node-id|STABLE	3.0.0
cluster shards		7.0.0
cluster slaves	node-id	3.0.0
cluster slots		3.0.0
command		2.8.13
command count		2.8.13
command docs	[command-name [command-name ...]]	7.0.0
command getkeys		2.8.13
command getkeysandflags		7.0.0
command help		5.0.0
command info	[command-name [command-name ...]]	2.8.13
command list	[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]	7.0.0
config		2.0.0
config get	parameter [parameter ...]	2.0.0
config help		5.0.0
config resetstat		2.0.0
config rewrite		2.8.0
config set	parameter value [parameter value ...]	2.0.0
copy	source destination [DB destination-db] [REPLACE]	6.2.0
dbsize		1.0.0
debug		1.0.0
decr	key	1.0.0
decrby	key decrement	1.0.0
del	key [key ...]	1.0.0
discard		2.0.0
dump	key	2.6.0
echo	message	1.0.0
eval	script numkeys [key [key ...]] [arg [arg ...]]	2.6.0
evalsha	sha1 numkeys [key [key ...]] [arg [arg ...]]	2.6.0
evalsha_ro	sha1 numkeys [key [key ...]] [arg [arg ...]]	7.0.0
eval_ro	script numkeys [key [key ...]] [arg [arg ...]]	7.0.0
exec		1.2.0
exists	key [key ...]	1.0.0
expire	key seconds [NX|XX|GT|LT]	1.0.0
expireat	key unix-time-seconds [NX|XX|GT|LT]	1.2.0
expiretime	key	7.0.0
failover	[TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]	6.2.0
fcall	function numkeys [key [key ...]] [arg [arg ...]]	7.0.0
fcall_ro	function numkeys [key [key ...]] [arg [arg ...]]	7.0.0
flushall	[ASYNC|SYNC]	1.0.0
flushdb	[ASYNC|SYNC]	1.0.0
function		7.0.0
function delete	library-name	7.0.0
function dump		7.0.0
function flush	[ASYNC|SYNC]	7.0.0
function help		7.0.0
function kill		7.0.0
function list	[LIBRARYNAME library-name-pattern] [WITHCODE]	7.0.0
function load	[REPLACE] function-code	7.0.0
function restore	serialized-value [FLUSH|APPEND|REPLACE]	7.0.0
function stats		7.0.0
geoadd	key [NX|XX] [CH] longitude latitude member [longitude latitude member ...]	3.2.0
geodist	key member1 member2 [M|KM|FT|MI]	3.2.0
geohash	key member [member ...]	3.2.0
geopos	key member [member ...]	3.2.0
georadius	key longitude latitude radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC] [STORE key] [STOREDIST key]	3.2.0
georadiusbymember	key member radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC] [STORE key] [STOREDIST key]	3.2.0
georadiusbymember_ro	key member radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC]	3.2.10
georadius_ro	key longitude latitude radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC]	3.2.10
geosearch	key FROMMEMBER member|FROMLONLAT longitude latitude BYRADIUS radius M|KM|FT|MI|BYBOX width height M|KM|FT|MI [ASC|DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]	6.2.0
geosearchstore	destination source FROMMEMBER member|FROMLONLAT longitude latitude BYRADIUS radius M|KM|FT|MI|BYBOX width height M|KM|FT|MI [ASC|DESC] [COUNT count [ANY]] [STOREDIST]	6.2.0
get	key	1.0.0
getbit	key offset	2.2.0
getdel	key	6.2.0
getex	key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]	6.2.0
getrange	key start end	2.4.0
getset	key value	1.0.0
hdel	key field [field ...]	2.0.0
hello	[protover [AUTH username password] [SETNAME clientname]]	6.0.0
hexists	key field	2.0.0
hget	key field	2.0.0
hgetall	key	2.0.0
hincrby	key field increment	2.0.0
hincrbyfloat	key field increment	2.6.0
hkeys	key	2.0.0
hlen	key	2.0.0
hmget	key field [field ...]	2.0.0
hmset	key field value [field value ...]	2.0.0
hrandfield	key [count [WITHVALUES]]	6.2.0
hscan	key cursor [MATCH pattern] [COUNT count]	2.8.0
hset	key field value [field value ...]	2.0.0
hsetnx	key field value	2.0.0
hstrlen	key field	3.2.0
hvals	key	2.0.0
incr	key	1.0.0
incrby	key increment	1.0.0
incrbyfloat	key increment	2.6.0
info	[section [section ...]]	1.0.0
keys	pattern	1.0.0
lastsave		1.0.0
latency		2.8.13
latency doctor		2.8.13
latency graph	event	2.8.13
latency help		2.8.13
latency histogram	[command [command ...]]	7.0.0
latency history	event	2.8.13
latency latest		2.8.13
latency reset	[event [event ...]]	2.8.13
lcs	key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]	7.0.0
lindex	key index	1.0.0
linsert	key BEFORE|AFTER pivot element	2.2.0
llen	key	1.0.0
lmove	source destination LEFT|RIGHT LEFT|RIGHT	6.2.0
lmpop	numkeys key [key ...] LEFT|RIGHT [COUNT count]	7.0.0
lolwut	[VERSION version]	5.0.0
lpop	key [count]	1.0.0
lpos	key element [RANK rank] [COUNT num-matches] [MAXLEN len]	6.0.6
lpush	key element [element ...]	1.0.0
lpushx	key element [element ...]	2.2.0
lrange	key start stop	1.0.0
lrem	key count element	1.0.0
lset	key index element	1.0.0
ltrim	key start stop	1.0.0
memory		4.0.0
memory doctor		4.0.0
memory help		4.0.0
memory malloc-stats		4.0.0
memory purge		4.0.0
memory stats		4.0.0
memory usage	key [SAMPLES count]	4.0.0
mget	key [key ...]	1.0.0
migrate	host port key| destination-db timeout [COPY] [REPLACE] [[AUTH password]|[AUTH2 username password]] [KEYS key [key ...]]	2.6.0
module		4.0.0
module help		5.0.0
module list		4.0.0
module load	path [arg [arg ...]]	4.0.0
module loadex	path [CONFIG name value [CONFIG name value ...]] [ARGS arg [arg ...]]	7.0.0
module unload	name	4.0.0
monitor		1.0.0
move	key db	1.0.0
mset	key value [key value ...]	1.0.1
msetnx	key value [key value ...]	1.0.1
multi		1.2.0
object		2.2.3
object encoding	key	2.2.3
object freq	key	4.0.0
object help		6.2.0
object idletime	key	2.2.3
object refcount	key	2.2.3
persist	key	2.2.0
pexpire	key milliseconds [NX|XX|GT|LT]	2.6.0
pexpireat	key unix-time-milliseconds [NX|XX|GT|LT]	2.6.0
pexpiretime	key	7.0.0
pfadd	key [element [element ...]]	2.8.9
pfcount	key [key ...]	2.8.9
pfdebug	subcommand key	2.8.9
pfmerge	destkey sourcekey [sourcekey ...]	2.8.9
pfselftest		2.8.9
ping	[message]	1.0.0
psetex	key milliseconds value	2.6.0
psubscribe	pattern [pattern ...]	2.0.0
psync	replicationid offset	2.8.0
pttl	key	2.6.0
publish	channel message	2.0.0
pubsub		2.8.0
pubsub channels	[pattern]	2.8.0
pubsub help		6.2.0
pubsub numpat		2.8.0
pubsub numsub	[channel [channel ...]]	2.8.0
pubsub shardchannels	[pattern]	7.0.0
pubsub shardnumsub	[shardchannel [shardchannel ...]]	7.0.0
punsubscribe	[pattern [pattern ...]]	2.0.0
quit		1.0.0
randomkey		1.0.0
readonly		3.0.0
readwrite		3.0.0
rename	key newkey	1.0.0
renamenx	key newkey	1.0.0
replconf		3.0.0
replicaof	host port	5.0.0
reset		6.2.0
restore	key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]	2.6.0
restore-asking	key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]	3.0.0
role		2.8.12
rpop	key [count]	1.0.0
rpoplpush	source destination	1.2.0
rpush	key element [element ...]	1.0.0
rpushx	key element [element ...]	2.2.0
sadd	key member [member ...]	1.0.0
save		1.0.0
scan	cursor [MATCH pattern] [COUNT count] [TYPE type]	2.8.0
scard	key	1.0.0
script		2.6.0
script debug	YES|SYNC|NO	3.2.0
script exists	sha1 [sha1 ...]	2.6.0
script flush	[ASYNC|SYNC]	2.6.0
script help		5.0.0
script kill		2.6.0
script load	script	2.6.0
sdiff	key [key ...]	1.0.0
sdiffstore	destination key [key ...]	1.0.0
select	index	1.0.0
set	key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]	1.0.0
setbit	key offset value	2.2.0
setex	key seconds value	2.0.0
setnx	key value	1.0.0
setrange	key offset value	2.2.0
shutdown	[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]	1.0.0
sinter	key [key ...]	1.0.0
sintercard	numkeys key [key ...] [LIMIT limit]	7.0.0
sinterstore	destination key [key ...]	1.0.0
sismember	key member	1.0.0
slaveof	host port	1.0.0
slowlog		2.2.12
slowlog get	[count]	2.2.12
slowlog help		6.2.0
slowlog len		2.2.12
slowlog reset		2.2.12
smembers	key	1.0.0
smismember	key member [member ...]	6.2.0
smove	source destination member	1.0.0
sort	key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA] [STORE destination]	1.0.0
sort_ro	key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA]	7.0.0
spop	key [count]	1.0.0
spublish	shardchannel message	7.0.0
srandmember	key [count]	1.0.0
srem	key member [member ...]	1.0.0
sscan	key cursor [MATCH pattern] [COUNT count]	2.8.0
ssubscribe	shardchannel [shardchannel ...]	7.0.0
strlen	key	2.2.0
subscribe	channel [channel ...]	2.0.0
substr	key start end	1.0.0
sunion	key [key ...]	1.0.0
sunionstore	destination key [key ...]	1.0.0
sunsubscribe	[shardchannel [shardchannel ...]]	7.0.0
swapdb	index1 index2	4.0.0
sync		1.0.0
time		2.6.0
touch	key [key ...]	3.2.1
ttl	key	1.0.0
type	key	1.0.0
unlink	key [key ...]	4.0.0
unsubscribe	[channel [channel ...]]	2.0.0
unwatch		2.2.0
wait	numreplicas timeout	3.0.0
watch	key [key ...]	2.2.0
xack	key group id [id ...]	5.0.0
xadd	key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]	5.0.0
xautoclaim	key group consumer min-idle-time start [COUNT count] [JUSTID]	6.2.0
xclaim	key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID id]	5.0.0
xdel	key id [id ...]	5.0.0
xgroup		5.0.0
xgroup create	key groupname id|$ [MKSTREAM] [ENTRIESREAD entries_read]	5.0.0
xgroup createconsumer	key groupname consumername	6.2.0
xgroup delconsumer	key groupname consumername	5.0.0
xgroup destroy	key groupname	5.0.0
xgroup help		5.0.0
xgroup setid	key groupname id|$ [ENTRIESREAD entries_read]	5.0.0
xinfo		5.0.0
xinfo consumers	key groupname	5.0.0
xinfo groups	key	5.0.0
xinfo help		5.0.0
xinfo stream	key [FULL [COUNT count]]	5.0.0
xlen	key	5.0.0
xpending	key group [[IDLE min-idle-time] start end count [consumer]]	5.0.0
xrange	key start end [COUNT count]	5.0.0
xread	[COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]	5.0.0
xreadgroup	GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]	5.0.0
xrevrange	key end start [COUNT count]	5.0.0
xsetid	key last-id [ENTRIESADDED entries_added] [MAXDELETEDID max_deleted_entry_id]	5.0.0
xtrim	key MAXLEN|MINID [=|~] threshold [LIMIT count]	5.0.0
zadd	key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]	1.2.0
zcard	key	1.2.0
zcount	key min max	2.0.0
zdiff	numkeys key [key ...] [WITHSCORES]	6.2.0
zdiffstore	destination numkeys key [key ...]	6.2.0
zincrby	key increment member	1.2.0
zinter	numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]	6.2.0
zintercard	numkeys key [key ...] [LIMIT limit]	7.0.0
zinterstore	destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]	2.0.0
zlexcount	key min max	2.8.9
zmpop	numkeys key [key ...] MIN|MAX [COUNT count]	7.0.0
zmscore	key member [member ...]	6.2.0
zpopmax	key [count]	5.0.0
zpopmin	key [count]	5.0.0
zrandmember	key [count [WITHSCORES]]	6.2.0
zrange	key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]	1.2.0
zrangebylex	key min max [LIMIT offset count]	2.8.9
zrangebyscore	key min max [WITHSCORES] [LIMIT offset count]	1.0.5
zrangestore	dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]	6.2.0
zrank	key member	2.0.0
zrem	key member [member ...]	1.2.0
zremrangebylex	key min max	2.8.9
zremrangebyrank	key start stop	2.0.0
zremrangebyscore	key min max	1.2.0
zrevrange	key start stop [WITHSCORES]	1.2.0
zrevrangebylex	key max min [LIMIT offset count]	2.8.9
zrevrangebyscore	key max min [WITHSCORES] [LIMIT offset count]	2.2.0
zrevrank	key member	2.0.0
zscan	key cursor [MATCH pattern] [COUNT count]	2.8.0
zscore	key member	1.2.0
zunion	numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]	6.2.0
zunionstore	destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]	2.0.0
`
