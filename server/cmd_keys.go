package server

import (
	"bytes"
	"math"
	"strconv"
	"strings"

	"github.com/luxdb/lux-go/pubsub"
	"github.com/luxdb/lux-go/storage"
)

// Generic key commands (Redis's "generic" group): existence, deletion,
// renaming and copying, expiry, iteration and OBJECT introspection.

func init() {
	const (
		ro = FlagReadOnly
		rw = FlagWrite
	)
	register(
		&Command{Name: "del", Arity: -2, Flags: rw, FirstKey: 1, LastKey: -1, Handler: cmdDel, Group: "generic", Summary: "Deletes one or more keys."},
		&Command{Name: "unlink", Arity: -2, Flags: rw | FlagFast, FirstKey: 1, LastKey: -1, Handler: cmdDel, Group: "generic", Summary: "Asynchronously deletes one or more keys."},
		&Command{Name: "exists", Arity: -2, Flags: ro | FlagFast, FirstKey: 1, LastKey: -1, Handler: cmdExists, Group: "generic", Summary: "Determines whether one or more keys exist."},
		&Command{Name: "type", Arity: 2, Flags: ro | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdType, Group: "generic", Summary: "Determines the type of value stored at a key."},
		&Command{Name: "keys", Arity: 2, Flags: ro | FlagLockDBInMemory, Handler: cmdKeys, Group: "generic", Summary: "Returns all key names that match a pattern."},
		&Command{Name: "scan", Arity: -2, Flags: ro | FlagLockDBInMemory, Handler: cmdScan, Group: "generic", Summary: "Iterates over the key names in the database."},
		&Command{Name: "randomkey", Arity: 1, Flags: ro | FlagLockDBInMemory, Handler: cmdRandomKey, Group: "generic", Summary: "Returns a random key name from the database."},
		&Command{Name: "rename", Arity: 3, Flags: rw, FirstKey: 1, LastKey: 2, Handler: cmdRename, Group: "generic", Summary: "Renames a key and overwrites the destination."},
		&Command{Name: "renamenx", Arity: 3, Flags: rw | FlagFast, FirstKey: 1, LastKey: 2, Handler: cmdRename, Group: "generic", Summary: "Renames a key only when the target key name doesn't exist."},
		// COPY ... DB n and MOVE touch a second database, which the key spec
		// cannot express (it names shards of the current database only), so
		// they lock every shard.
		&Command{Name: "copy", Arity: -3, Flags: rw | FlagDenyOOM | FlagLockAll, FirstKey: 1, LastKey: 2, Handler: cmdCopy, Group: "generic", Summary: "Copies the value of a key to a new key."},
		&Command{Name: "move", Arity: 3, Flags: rw | FlagFast | FlagLockAll, FirstKey: 1, LastKey: 1, Handler: cmdMove, Group: "generic", Summary: "Moves a key to another database."},
		&Command{Name: "touch", Arity: -2, Flags: ro | FlagFast, FirstKey: 1, LastKey: -1, Handler: cmdTouch, Group: "generic", Summary: "Returns the number of existing keys out of those specified after updating the time they were last accessed."},
		&Command{Name: "expire", Arity: -3, Flags: rw | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdExpire, Group: "generic", Summary: "Sets the expiration time of a key in seconds."},
		&Command{Name: "pexpire", Arity: -3, Flags: rw | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdExpire, Group: "generic", Summary: "Sets the expiration time of a key in milliseconds."},
		&Command{Name: "expireat", Arity: -3, Flags: rw | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdExpire, Group: "generic", Summary: "Sets the expiration time of a key to a Unix timestamp."},
		&Command{Name: "pexpireat", Arity: -3, Flags: rw | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdExpire, Group: "generic", Summary: "Sets the expiration time of a key to a Unix milliseconds timestamp."},
		&Command{Name: "ttl", Arity: 2, Flags: ro | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdTTL, Group: "generic", Summary: "Returns the expiration time in seconds of a key."},
		&Command{Name: "pttl", Arity: 2, Flags: ro | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdTTL, Group: "generic", Summary: "Returns the expiration time in milliseconds of a key."},
		&Command{Name: "expiretime", Arity: 2, Flags: ro | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdTTL, Group: "generic", Summary: "Returns the expiration time of a key as a Unix timestamp."},
		&Command{Name: "pexpiretime", Arity: 2, Flags: ro | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdTTL, Group: "generic", Summary: "Returns the expiration time of a key as a Unix milliseconds timestamp."},
		&Command{Name: "persist", Arity: 2, Flags: rw | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdPersist, Group: "generic", Summary: "Removes the expiration time of a key."},
		&Command{Name: "object", Arity: -2, Flags: ro, FirstKey: 2, LastKey: 2, Handler: cmdObject, Group: "generic", Summary: "A container for object introspection commands."},
	)
	// cmdObject dispatches these itself; registered, they are commands of
	// their own for COMMAND INFO/DOCS/LIST and statistics, as in Redis
	registerSubcommands("object",
		&subCommand{Name: "encoding", Arity: 3, Flags: ro, FirstKey: 2, LastKey: 2},
		&subCommand{Name: "freq", Arity: 3, Flags: ro, FirstKey: 2, LastKey: 2},
		&subCommand{Name: "idletime", Arity: 3, Flags: ro, FirstKey: 2, LastKey: 2},
		&subCommand{Name: "refcount", Arity: 3, Flags: ro, FirstKey: 2, LastKey: 2},
		&subCommand{Name: "help", Arity: 2, Flags: FlagLoading | FlagStale},
	)
}

// Error texts of this group not shared with other files.
const (
	msgIntRange32     = "ERR value is out of range, value must between -2147483648 and 2147483647"
	msgExpireNXCompat = "ERR NX and XX, GT or LT options at the same time are not compatible"
	msgExpireGTLT     = "ERR GT and LT options at the same time are not compatible"
	msgFreqNoLFU      = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
)

// lookupNoTouch reads a key without changing its access time but counts a
// keyspace hit or miss, like Redis's lookupKeyReadWithFlags(LOOKUP_NOTOUCH)
// used by EXISTS, TYPE, TTL and OBJECT.
func lookupNoTouch(db storage.DB, key []byte) *storage.Entry {
	e := db.Peek(key)
	st := db.Store().StatsRef()
	if e == nil {
		st.KeyspaceMiss.Add(1)
	} else {
		st.KeyspaceHits.Add(1)
	}
	return e
}

// parseDBIndex parses a database number like Redis's getIntFromObjectOrReply
// followed by selectDb: an int32, then within 0..NumDBs-1.
func parseDBIndex(b []byte) (int, string) {
	n, ok := parseInt(b)
	if !ok {
		return 0, msgNotInt
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, msgIntRange32
	}
	if n < 0 || n >= storage.NumDBs {
		return 0, msgDBIndex
	}
	return int(n), ""
}

// DEL and UNLINK (deletion is never deferred here, so they are the same).
func cmdDel(c *Client, args [][]byte) {
	db := c.DB()
	n := int64(0)
	for _, k := range args[1:] {
		if db.Delete(k) {
			n++
		}
	}
	c.WriteInt64(n)
}

// cmdExists counts every argument naming a live key, duplicates included.
func cmdExists(c *Client, args [][]byte) {
	db := c.DB()
	n := int64(0)
	for _, k := range args[1:] {
		if lookupNoTouch(db, k) != nil {
			n++
		}
	}
	c.WriteInt64(n)
}

func cmdType(c *Client, args [][]byte) {
	e := lookupNoTouch(c.DB(), args[1])
	if e == nil {
		c.WriteString("none")
		return
	}
	c.WriteString(e.Type.String())
}

func cmdTouch(c *Client, args [][]byte) {
	db := c.DB()
	n := int64(0)
	for _, k := range args[1:] {
		if db.Lookup(k) != nil {
			n++
		}
	}
	c.WriteInt64(n)
}

// cmdKeys walks the whole keyspace (with persistence: Pebble, nothing is
// loaded into memory). A bare "*" skips matching, as in Redis, which also
// makes it return the empty key.
func cmdKeys(c *Client, args [][]byte) {
	pat := args[1]
	all := len(pat) == 1 && pat[0] == '*'
	var out []string
	err := c.DB().Keys(func(k []byte) {
		if all || pubsub.Match(pat, k, false) {
			out = append(out, string(k))
		}
	})
	if err != nil {
		c.WriteError("ERR " + err.Error())
		return
	}
	c.WriteBulkStrings(out)
}

// parseScanCursor parses a cursor like Redis's parseScanCursorOrReply, which
// uses strtoul: no leading space, an optional sign (a negative value wraps),
// decimal digits, nothing after them; the empty string is cursor 0.
func parseScanCursor(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, true
	}
	if isSpace(b[0]) {
		return 0, false
	}
	i, neg := 0, false
	if b[0] == '+' || b[0] == '-' {
		neg = b[0] == '-'
		i++
	}
	if i == len(b) {
		return 0, false
	}
	var v uint64
	for ; i < len(b); i++ {
		d := b[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		if v > (math.MaxUint64-uint64(d-'0'))/10 {
			return 0, false
		}
		v = v*10 + uint64(d-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// cmdScan implements SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
//
// With persistence the cursor is a position in the keys' stable hash order
// on disk (storage.KeyHash): each call returns about COUNT keys, covers keys
// that are only on disk and loads nothing into memory. Without persistence
// it is the index of the next shard of the database to walk: Go maps have no
// stable iteration position, so each call walks whole shards until it has
// visited at least COUNT keys (COUNT stays a hint, as in Redis). Either way
// a full iteration returns every key present for its whole duration.
func cmdScan(c *Client, args [][]byte) {
	cursor, ok := parseScanCursor(args[1])
	if !ok {
		c.WriteError(msgInvalidCursor)
		return
	}
	count := int64(10)
	var pat []byte
	var typ string
	useType, usePat := false, false
	for i := 2; i < len(args); i += 2 {
		more := i+1 < len(args)
		switch {
		case eqFold(args[i], "count") && more:
			n, ok := parseInt(args[i+1])
			if !ok {
				c.WriteError(msgNotInt)
				return
			}
			if n < 1 {
				c.WriteError(msgSyntax)
				return
			}
			count = n
		case eqFold(args[i], "match") && more:
			pat = args[i+1]
			usePat = !(len(pat) == 1 && pat[0] == '*')
		case eqFold(args[i], "type") && more:
			typ, useType = string(args[i+1]), true
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	var keys []string
	if count > 1<<30 {
		count = 1 << 30
	}
	next, err := c.DB().Scan(cursor, int(count), func(k []byte, t storage.Type) {
		if usePat && !pubsub.Match(pat, k, false) {
			return
		}
		if useType && !strings.EqualFold(typ, t.String()) {
			return
		}
		keys = append(keys, string(k))
	})
	if err != nil {
		c.WriteError("ERR " + err.Error())
		return
	}
	c.WriteArray(2)
	c.WriteBulkString(strconv.FormatUint(next, 10))
	c.WriteBulkStrings(keys)
}

func cmdRandomKey(c *Client, args [][]byte) {
	k, ok, err := c.DB().RandomKey()
	if err != nil {
		c.WriteError("ERR " + err.Error())
		return
	}
	if !ok {
		c.WriteNull()
		return
	}
	c.WriteBulkString(k)
}

// RENAME and RENAMENX. The value moves with its deadline; a destination's
// own deadline is discarded with its value.
func cmdRename(c *Client, args [][]byte) {
	nx := c.cmd.Name == "renamenx"
	src, dst := args[1], args[2]
	db := c.DB()
	if db.LookupWrite(src) == nil {
		c.WriteError(msgNoSuchKey)
		return
	}
	if bytes.Equal(src, dst) {
		if nx {
			c.WriteInt(0)
		} else {
			c.WriteOK()
		}
		return
	}
	if nx && db.LookupWrite(dst) != nil {
		c.WriteInt(0)
		return
	}
	db.Rename(src, dst)
	if nx {
		c.WriteInt(1)
	} else {
		c.WriteOK()
	}
}

// cmdCopy implements COPY source destination [DB destination-db] [REPLACE].
func cmdCopy(c *Client, args [][]byte) {
	src, dst := args[1], args[2]
	replace := false
	dstIdx := c.db
	for j := 3; j < len(args); j++ {
		switch {
		case eqFold(args[j], "replace"):
			replace = true
		case eqFold(args[j], "db") && j+1 < len(args):
			n, msg := parseDBIndex(args[j+1])
			if msg != "" {
				c.WriteError(msg)
				return
			}
			dstIdx = n
			j++
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	if dstIdx == c.db && bytes.Equal(src, dst) {
		c.WriteError(msgSameObject)
		return
	}
	db := c.DB()
	if db.Lookup(src) == nil {
		c.WriteInt(0)
		return
	}
	to := c.srv.store.DB(dstIdx)
	if !replace && to.LookupWrite(dst) != nil {
		c.WriteInt(0)
		return
	}
	db.CopyTo(src, to, dst)
	c.WriteInt(1)
}

func cmdMove(c *Client, args [][]byte) {
	key := args[1]
	n, msg := parseDBIndex(args[2])
	if msg != "" {
		c.WriteError(msg)
		return
	}
	if n == c.db {
		c.WriteError(msgSameObject)
		return
	}
	db := c.DB()
	if db.LookupWrite(key) == nil {
		c.WriteInt(0)
		return
	}
	to := c.srv.store.DB(n)
	if to.LookupWrite(key) != nil {
		c.WriteInt(0)
		return
	}
	db.MoveTo(key, to)
	c.WriteInt(1)
}

// EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT with NX/XX/GT/LT, following Redis's
// expireGenericCommand: options, then the number, then overflow checks, then
// the key. A deadline already past deletes the key.
func cmdExpire(c *Client, args [][]byte) {
	name := c.cmd.Name
	var nx, xx, gt, lt bool
	for _, o := range args[3:] {
		switch {
		case eqFold(o, "nx"):
			nx = true
		case eqFold(o, "xx"):
			xx = true
		case eqFold(o, "gt"):
			gt = true
		case eqFold(o, "lt"):
			lt = true
		default:
			c.WriteError("ERR Unsupported option " + sanitizeErr(string(o)))
			return
		}
	}
	if nx && (xx || gt || lt) {
		c.WriteError(msgExpireNXCompat)
		return
	}
	if gt && lt {
		c.WriteError(msgExpireGTLT)
		return
	}
	when, ok := parseInt(args[2])
	if !ok {
		c.WriteError(msgNotInt)
		return
	}
	if name == "expire" || name == "expireat" {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			c.WriteError(invalidExpireMsg(name))
			return
		}
		when *= 1000
	}
	if name == "expire" || name == "pexpire" {
		base := storage.NowMs()
		if when > math.MaxInt64-base {
			c.WriteError(invalidExpireMsg(name))
			return
		}
		when += base
	}
	db := c.DB()
	key := args[1]
	if db.LookupWrite(key) == nil {
		c.WriteInt(0)
		return
	}
	if nx || xx || gt || lt {
		cur := db.Expiry(key) // 0 = no deadline
		switch {
		case nx && cur != 0, xx && cur == 0:
			c.WriteInt(0)
			return
		case gt && (cur == 0 || when <= cur):
			// no deadline counts as infinite: GT never beats it
			c.WriteInt(0)
			return
		case lt && cur != 0 && when >= cur:
			c.WriteInt(0)
			return
		}
	}
	db.SetExpiry(key, when) // deletes the key when the deadline is past
	c.WriteInt(1)
}

// TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 for a missing key, -1 without a
// deadline. Seconds are rounded to nearest as Redis does ((ms+500)/1000,
// computed unsigned so the largest deadlines do not overflow).
func cmdTTL(c *Client, args [][]byte) {
	db := c.DB()
	if lookupNoTouch(db, args[1]) == nil {
		c.WriteInt(-2)
		return
	}
	exp := db.Expiry(args[1])
	if exp == 0 {
		c.WriteInt(-1)
		return
	}
	name := c.cmd.Name
	abs := name == "expiretime" || name == "pexpiretime"
	ms := name == "pttl" || name == "pexpiretime"
	v := exp
	if !abs {
		v = exp - storage.NowMs()
	}
	if v < 0 {
		v = 0
	}
	if !ms {
		v = int64((uint64(v) + 500) / 1000)
	}
	c.WriteInt64(v)
}

func cmdPersist(c *Client, args [][]byte) {
	if c.DB().Persist(args[1]) {
		c.WriteInt(1)
	} else {
		c.WriteInt(0)
	}
}

var objectHelp = []string{
	"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"ENCODING <key>",
	"    Return the kind of internal representation used in order to store the value",
	"    associated with a <key>.",
	"FREQ <key>",
	"    Return the access frequency index of the <key>. The returned integer is",
	"    proportional to the logarithm of the recent access frequency of the key.",
	"IDLETIME <key>",
	"    Return the idle time of the <key>, that is the approximated number of",
	"    seconds elapsed since the last access to the key.",
	"REFCOUNT <key>",
	"    Return the number of references of the value associated with the specified",
	"    <key>.",
	"HELP",
	"    Prints this help.",
}

// sharedIntegers is Redis's OBJ_SHARED_INTEGERS: small integer strings are
// shared objects whose REFCOUNT is INT_MAX unless an LRU/LFU policy with a
// memory limit forbids sharing.
const sharedIntegers = 10000

// stringEncoding names a string value's encoding as Redis would pick it; a
// string grown in place by APPEND or SETRANGE is "raw" whatever its content.
func stringEncoding(e *storage.Entry) string {
	if e.Raw() {
		return "raw"
	}
	v := e.Bytes()
	if len(v) <= 20 {
		if _, ok := parseInt(v); ok {
			return "int"
		}
	}
	if len(v) <= 44 {
		return "embstr"
	}
	return "raw"
}

func cmdObject(c *Client, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	switch sub {
	case "help":
		if len(args) != 2 {
			c.WriteError(wrongArgsMsg("object|help"))
			return
		}
		c.WriteArray(len(objectHelp))
		for _, l := range objectHelp {
			c.WriteString(l)
		}
		return
	case "encoding", "freq", "idletime", "refcount":
	default:
		c.WriteError(unknownSubcommandMsg(string(args[1]), "OBJECT"))
		return
	}
	if len(args) != 3 {
		c.WriteError(wrongArgsMsg("object|" + sub))
		return
	}
	e := lookupNoTouch(c.DB(), args[2])
	if e == nil {
		c.WriteNull()
		return
	}
	switch sub {
	case "encoding":
		if e.Object() != nil {
			c.WriteBulkString(e.Object().Encoding())
		} else {
			c.WriteBulkString(stringEncoding(e))
		}
	case "freq":
		if p := c.srv.store.Policy(); p != storage.PolicyAllKeysLFU && p != storage.PolicyVolatileLFU {
			c.WriteError(msgFreqNoLFU)
			return
		}
		c.WriteInt(e.Freq())
	case "idletime":
		c.WriteInt64(e.Idle())
	case "refcount":
		st := c.srv.store
		if e.Object() == nil && (st.MaxMemory() == 0 || st.NoEviction()) {
			if n, ok := parseInt(e.Bytes()); ok && len(e.Bytes()) <= 20 && n >= 0 && n < sharedIntegers {
				c.WriteInt64(math.MaxInt32)
				return
			}
		}
		c.WriteInt(1)
	}
}
