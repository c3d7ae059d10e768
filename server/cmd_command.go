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
	spec := specOf(r.name) // Redis's own entry for a command Redis has
	c.WriteArray(10)
	c.WriteBulkString(r.name)
	c.WriteInt(r.arity)
	if spec != nil {
		writeStatusSet(c, spec.Flags)
		c.WriteInt(spec.FirstKey)
		c.WriteInt(spec.LastKey)
		c.WriteInt(spec.KeyStep)
	} else {
		writeStatusSet(c, r.flagList())
		first, last, step := r.legacyRange()
		c.WriteInt(first)
		c.WriteInt(last)
		c.WriteInt(step)
	}
	writeStatusSet(c, r.categories())
	if spec != nil {
		writeBulkSet(c, spec.Tips)
		writeSpecKeySpecs(c, spec)
	} else {
		writeBulkSet(c, nil) // lux's own commands have no tips
		writeKeySpecs(c, r)
	}
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
	if spec := specOf(r.name); spec != nil {
		// Redis's key specs and getkeys functions, as Redis answers
		specGetKeys(c, spec, cmdArgs, withFlags)
		return
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

func commandDocs(c *Client, args [][]byte) {
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

// writeRowDocs writes one COMMAND DOCS map (RESP2: a flat array of pairs).
// A command Redis has gets Redis's documentation (writeSpecDocs); lux's own
// commands get their summary, group and subcommands.
func writeRowDocs(c *Client, r commandRow) {
	if spec := specOf(r.name); spec != nil {
		writeSpecDocs(c, r, spec)
		return
	}
	var subs []*subCommand
	if r.parent == nil {
		subs = subcommandsOf(r.name)
	}
	n := 1 // group
	if r.summary != "" {
		n++
	}
	if len(subs) > 0 {
		n++
	}
	c.WriteMap(n)
	if r.summary != "" {
		c.WriteBulkString("summary")
		c.WriteBulkString(r.summary)
	}
	c.WriteBulkString("group")
	group := r.group
	if group == "" {
		group = "server"
	}
	c.WriteBulkString(group)
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
