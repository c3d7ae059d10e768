package server

// Streams: a port of Redis 7.0's t_stream.c command layer. The data model
// and its durable records are storage's (storage/stream.go); every command
// records exactly the entries, groups, consumers and pending entries it
// changed, plus the stream's small meta record.

import (
	"math"
	"strconv"
	"time"

	"github.com/luxdb/lux-go/storage"
)

func init() {
	const (
		w    = FlagWrite
		r    = FlagReadOnly
		oom  = FlagDenyOOM
		fast = FlagFast
		blk  = FlagBlocking
		g    = "stream"
	)
	register(
		&Command{Name: "xadd", Arity: -5, Flags: w | oom | fast, FirstKey: 1, LastKey: 1, Handler: cmdXadd, Group: g, Summary: "Appends a new entry to a stream"},
		&Command{Name: "xrange", Arity: -4, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdXrange, Group: g, Summary: "Returns the messages from a stream within a range of IDs."},
		&Command{Name: "xrevrange", Arity: -4, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdXrevrange, Group: g, Summary: "Returns the messages from a stream within a range of IDs in reverse order."},
		&Command{Name: "xlen", Arity: 2, Flags: r | fast, FirstKey: 1, LastKey: 1, Handler: cmdXlen, Group: g, Summary: "Return the number of messages in a stream."},
		&Command{Name: "xdel", Arity: -3, Flags: w | fast, FirstKey: 1, LastKey: 1, Handler: cmdXdel, Group: g, Summary: "Returns the number of messages after removing them from a stream."},
		&Command{Name: "xtrim", Arity: -4, Flags: w, FirstKey: 1, LastKey: 1, Handler: cmdXtrim, Group: g, Summary: "Deletes messages from the beginning of a stream."},
		&Command{Name: "xsetid", Arity: -3, Flags: w | oom | fast, FirstKey: 1, LastKey: 1, Handler: cmdXsetid, Group: g, Summary: "An internal command for replicating stream values."},
		&Command{Name: "xread", Arity: -4, Flags: r | blk, Keys: xreadKeys, Handler: cmdXread, Group: g, Summary: "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise."},
		&Command{Name: "xreadgroup", Arity: -7, Flags: w | blk, Keys: xreadKeys, Handler: cmdXread, Group: g, Summary: "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise."},
		&Command{Name: "xack", Arity: -4, Flags: w | fast, FirstKey: 1, LastKey: 1, Handler: cmdXack, Group: g, Summary: "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream."},
		&Command{Name: "xpending", Arity: -3, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdXpending, Group: g, Summary: "Returns the information and entries from a stream consumer group's pending entries list."},
		&Command{Name: "xclaim", Arity: -6, Flags: w | fast, FirstKey: 1, LastKey: 1, Handler: cmdXclaim, Group: g, Summary: "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member."},
		&Command{Name: "xautoclaim", Arity: -6, Flags: w | fast, FirstKey: 1, LastKey: 1, Handler: cmdXautoclaim, Group: g, Summary: "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member."},
		&Command{Name: "xgroup", Arity: -2, Flags: w, FirstKey: 2, LastKey: 2, Handler: cmdXgroup, Group: g, Summary: "A container for consumer groups commands."},
		&Command{Name: "xinfo", Arity: -2, Flags: r, FirstKey: 2, LastKey: 2, Handler: cmdXinfo, Group: g, Summary: "A container for stream introspection commands."},
	)
	registerSubcommands("xgroup",
		&subCommand{Name: "create", Arity: -5, Flags: w | oom, FirstKey: 2, LastKey: 2, Summary: "Creates a consumer group."},
		&subCommand{Name: "createconsumer", Arity: 5, Flags: w | oom, FirstKey: 2, LastKey: 2, Summary: "Creates a consumer in a consumer group."},
		&subCommand{Name: "delconsumer", Arity: 5, Flags: w, FirstKey: 2, LastKey: 2, Summary: "Deletes a consumer from a consumer group."},
		&subCommand{Name: "destroy", Arity: 4, Flags: w, FirstKey: 2, LastKey: 2, Summary: "Destroys a consumer group."},
		&subCommand{Name: "setid", Arity: -5, Flags: w, FirstKey: 2, LastKey: 2, Summary: "Sets the last-delivered ID of a consumer group."},
		&subCommand{Name: "help", Arity: 2, Flags: FlagLoading | FlagStale, Summary: "Returns helpful text about the different subcommands."},
	)
	registerSubcommands("xinfo",
		&subCommand{Name: "consumers", Arity: 4, Flags: r, FirstKey: 2, LastKey: 2, Summary: "Returns a list of the consumers in a consumer group."},
		&subCommand{Name: "groups", Arity: 3, Flags: r, FirstKey: 2, LastKey: 2, Summary: "Returns a list of the consumer groups of a stream."},
		&subCommand{Name: "stream", Arity: -3, Flags: r, FirstKey: 2, LastKey: 2, Summary: "Returns information about a stream."},
		&subCommand{Name: "help", Arity: 2, Flags: FlagLoading | FlagStale, Summary: "Returns helpful text about the different subcommands."},
	)
}

// Redis's texts for this file's errors.
const (
	msgStreamID          = "ERR Invalid stream ID specified as stream command argument"
	msgXaddZero          = "ERR The ID specified in XADD must be greater than 0-0"
	msgXaddSmaller       = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
	msgXaddExhausted     = "ERR The stream has exhausted the last possible ID, unable to add more items"
	msgXaddTooLarge      = "ERR Elements are too large to be stored"
	msgTrimBoth          = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
	msgMaxlenNeg         = "ERR The MAXLEN argument must be >= 0."
	msgLimitNeg          = "ERR The LIMIT argument must be >= 0."
	msgLimitNoStrategy   = "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
	msgXtrimNoStrategy   = "ERR syntax error, XTRIM must be called with a trimming strategy"
	msgLimitNoApprox     = "ERR syntax error, LIMIT cannot be used without the special ~ option"
	msgStartInterval     = "ERR invalid start ID for the interval"
	msgEndInterval       = "ERR invalid end ID for the interval"
	msgXreadUnbalanced   = "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
	msgXreadGroupOpt     = "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."
	msgXreadNoackOpt     = "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."
	msgXreadMissingGroup = "ERR Missing GROUP option for XREADGROUP"
	msgXreadGroupDollar  = "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."
	msgXreadGt           = "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."
	msgEntriesRead       = "ERR value for ENTRIESREAD must be positive or -1"
	msgXgroupNoKey       = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."
	msgBusyGroup         = "BUSYGROUP Consumer Group name already exists"
	msgEntriesAdded      = "ERR entries_added must be positive"
	msgXsetidMaxDel      = "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
	msgXsetidSmaller     = "ERR The ID specified in XSETID is smaller than the target stream top item"
	msgXsetidAdded       = "ERR The entries_added specified in XSETID is smaller than the target stream length"
	msgXTimeoutNotInt    = "ERR timeout is not an integer or out of range"
	msgXTimeoutRange     = "ERR timeout is out of range"
	msgXautoclaimCount   = "ERR COUNT must be > 0"
	msgUnblockedNoKey    = "UNBLOCKED the stream key no longer exists"
	msgNoGroupBlocked    = "NOGROUP the consumer group this client was blocked on no longer exists"
)

// streamListpackMaxSize is STREAM_LISTPACK_MAX_SIZE.
const streamListpackMaxSize = 1 << 30

func nowMs() int64 { return time.Now().UnixMilli() }

// string2ull is Redis's string2ull: string2ll for a non-negative value,
// else strtoull's laxer syntax (leading spaces, a plus sign).
func string2ull(b []byte) (uint64, bool) {
	if v, ok := parseInt(b); ok {
		if v < 0 {
			return 0, false
		}
		return uint64(v), true
	}
	i := 0
	for i < len(b) && (b[i] == ' ' || (b[i] >= '\t' && b[i] <= '\r')) {
		i++
	}
	if i < len(b) && b[i] == '+' {
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
	return v, true
}

// parseStreamID is streamGenericParseIDOrReply without the reply: missing
// is the sequence of an ID given as milliseconds alone; strict refuses "-"
// and "+"; seqStar accepts "<ms>-*" (then seqGiven is false).
func parseStreamID(b []byte, missing uint64, strict, seqStar bool) (id storage.StreamID, seqGiven bool, ok bool) {
	if len(b) > 127 {
		return id, false, false
	}
	seqGiven = true
	if len(b) == 1 && (b[0] == '-' || b[0] == '+') {
		if strict {
			return id, false, false
		}
		if b[0] == '-' {
			return storage.StreamID{}, true, true
		}
		return storage.MaxStreamID, true, true
	}
	// C strings end at a NUL byte
	for i, ch := range b {
		if ch == 0 {
			b = b[:i]
			break
		}
	}
	dash := -1
	for i, ch := range b {
		if ch == '-' {
			dash = i
			break
		}
	}
	msPart := b
	if dash >= 0 {
		msPart = b[:dash]
	}
	ms, ok := string2ull(msPart)
	if !ok {
		return id, false, false
	}
	seq := missing
	if dash >= 0 {
		rest := b[dash+1:]
		if seqStar && len(rest) == 1 && rest[0] == '*' {
			seq, seqGiven = 0, false
		} else if seq, ok = string2ull(rest); !ok {
			return id, false, false
		}
	}
	return storage.StreamID{Ms: ms, Seq: seq}, seqGiven, true
}

// parseIntervalID is streamParseIntervalIDOrReply: a "(" prefix makes the
// bound exclusive (and strict).
func parseIntervalID(b []byte, missing uint64) (id storage.StreamID, exclusive, ok bool) {
	if len(b) > 1 && b[0] == '(' {
		id, _, ok = parseStreamID(b[1:], missing, true, false)
		return id, true, ok
	}
	id, _, ok = parseStreamID(b, missing, false, false)
	return id, false, ok
}

func writeStreamID(c *Client, id storage.StreamID) {
	var buf [48]byte
	c.WriteBulk(id.AppendTo(buf[:0]))
}

// writeStreamEntry writes [id, [field, value, ...]].
func writeStreamEntry(c *Client, e *storage.StreamEntry) {
	c.WriteArray(2)
	writeStreamID(c, e.ID)
	c.WriteArray(len(e.Fields))
	for _, f := range e.Fields {
		c.WriteBulkString(f)
	}
}

// lookupStream returns key's stream (nil if missing); ok is false after a
// WRONGTYPE reply.
func lookupStream(c *Client, key []byte, write bool) (*storage.Entry, *storage.Stream, bool) {
	db := c.DB()
	var e *storage.Entry
	if write {
		e = db.LookupWrite(key)
	} else {
		e = db.Lookup(key)
	}
	if e == nil {
		return nil, nil, true
	}
	s, isStream := e.Object().(*storage.Stream)
	if e.Type != storage.TypeStream || !isStream {
		c.WriteError(msgWrongType)
		return nil, nil, false
	}
	return e, s, true
}

// ---- XADD / XTRIM ----

type addTrimArgs struct {
	trim       storage.TrimArgs
	id         storage.StreamID
	idGiven    bool
	seqGiven   bool
	noMkstream bool
}

// parseAddTrimArgs is streamParseAddOrTrimArgsOrReply: it returns the
// position of the ID (XADD), or -1 after an error reply.
func parseAddTrimArgs(c *Client, args [][]byte, xadd bool) (addTrimArgs, int) {
	var a addTrimArgs
	limitGiven := false
	i := 2
	for ; i < len(args); i++ {
		more := len(args) - 1 - i
		opt := args[i]
		switch {
		case xadd && len(opt) == 1 && opt[0] == '*':
			goto done
		case eqFold(opt, "maxlen") && more > 0, eqFold(opt, "minid") && more > 0:
			if a.trim.Strategy != storage.TrimNone {
				c.WriteError(msgTrimBoth)
				return a, -1
			}
			a.trim.Approx = false
			next := args[i+1]
			if more >= 2 && len(next) == 1 && next[0] == '~' {
				a.trim.Approx = true
				i++
			} else if more >= 2 && len(next) == 1 && next[0] == '=' {
				i++
			}
			if eqFold(opt, "maxlen") {
				v, ok := parseInt(args[i+1])
				if !ok {
					c.WriteError(msgNotInt)
					return a, -1
				}
				if v < 0 {
					c.WriteError(msgMaxlenNeg)
					return a, -1
				}
				a.trim.MaxLen = v
				a.trim.Strategy = storage.TrimMaxLen
			} else {
				id, _, ok := parseStreamID(args[i+1], 0, true, false)
				if !ok {
					c.WriteError(msgStreamID)
					return a, -1
				}
				a.trim.MinID = id
				a.trim.Strategy = storage.TrimMinID
			}
			i++
		case eqFold(opt, "limit") && more > 0:
			v, ok := parseInt(args[i+1])
			if !ok {
				c.WriteError(msgNotInt)
				return a, -1
			}
			if v < 0 {
				c.WriteError(msgLimitNeg)
				return a, -1
			}
			a.trim.Limit = v
			limitGiven = true
			i++
		case xadd && eqFold(opt, "nomkstream"):
			a.noMkstream = true
		case xadd:
			id, seqGiven, ok := parseStreamID(opt, 0, true, true)
			if !ok {
				c.WriteError(msgStreamID)
				return a, -1
			}
			a.id, a.seqGiven, a.idGiven = id, seqGiven, true
			goto done
		default:
			c.WriteError(msgSyntax)
			return a, -1
		}
	}
done:
	if a.trim.Limit != 0 && a.trim.Strategy == storage.TrimNone {
		c.WriteError(msgLimitNoStrategy)
		return a, -1
	}
	if !xadd && a.trim.Strategy == storage.TrimNone {
		c.WriteError(msgXtrimNoStrategy)
		return a, -1
	}
	if limitGiven {
		if !a.trim.Approx {
			c.WriteError(msgLimitNoApprox)
			return a, -1
		}
	} else if a.trim.Approx {
		l := 100 * storage.StreamNodeMaxEntries.Load()
		if l <= 0 {
			l = 10000
		}
		if l > 1000000 {
			l = 1000000
		}
		a.trim.Limit = l
	} else {
		a.trim.Limit = 0
	}
	return a, i
}

func cmdXadd(c *Client, args [][]byte) {
	a, idpos := parseAddTrimArgs(c, args, true)
	if idpos < 0 {
		return
	}
	fieldPos := idpos + 1
	if n := len(args) - fieldPos; n < 2 || n%2 == 1 {
		c.WriteError(wrongArgsMsg("xadd"))
		return
	}
	if a.idGiven && a.seqGiven && a.id.IsZero() {
		c.WriteError(msgXaddZero)
		return
	}
	key := args[1]
	e, s, ok := lookupStream(c, key, true)
	if !ok {
		return
	}
	if s == nil && a.noMkstream {
		c.WriteNull()
		return
	}
	last := storage.StreamID{}
	if s != nil {
		last = s.LastID
	}
	if last == storage.MaxStreamID {
		c.WriteError(msgXaddExhausted)
		return
	}
	// the new ID (streamAppendItem)
	var id storage.StreamID
	switch {
	case a.idGiven && a.seqGiven:
		id = a.id
	case a.idGiven:
		if last.Ms == a.id.Ms {
			if last.Seq == math.MaxUint64 {
				c.WriteError(msgXaddSmaller)
				return
			}
			id = storage.StreamID{Ms: last.Ms, Seq: last.Seq + 1}
		} else {
			id = a.id
		}
	default:
		if ms := uint64(nowMs()); ms > last.Ms {
			id = storage.StreamID{Ms: ms}
		} else {
			id, _ = last.Incr()
		}
	}
	if id.Cmp(last) <= 0 {
		c.WriteError(msgXaddSmaller)
		return
	}
	tot := 0
	for _, f := range args[fieldPos:] {
		tot += len(f)
	}
	if tot > streamListpackMaxSize {
		c.WriteError(msgXaddTooLarge)
		return
	}
	tx := c.DB().Begin()
	if s == nil {
		e, s = tx.CreateStream(key)
	}
	ent := s.Append(id, args[fieldPos:])
	tx.StreamPutEntry(key, ent)
	writeStreamID(c, id)
	tx.StreamChanged(key, e, s, true, "xadd")
	if a.trim.Strategy != storage.TrimNone {
		if s.Trim(a.trim, func(x *storage.StreamEntry) { tx.StreamDelEntry(key, x.ID) }) > 0 {
			tx.StreamChanged(key, e, s, true, "xtrim")
		}
	}
	tx.Commit()
}

func cmdXtrim(c *Client, args [][]byte) {
	a, idpos := parseAddTrimArgs(c, args, false)
	if idpos < 0 {
		return
	}
	key := args[1]
	e, s, ok := lookupStream(c, key, true)
	if !ok {
		return
	}
	if s == nil {
		c.WriteInt(0)
		return
	}
	tx := c.DB().Begin()
	n := s.Trim(a.trim, func(x *storage.StreamEntry) { tx.StreamDelEntry(key, x.ID) })
	if n > 0 {
		tx.StreamChanged(key, e, s, true, "xtrim")
	}
	tx.Commit()
	c.WriteInt64(n)
}

// ---- XRANGE / XREVRANGE / XLEN ----

func cmdXrange(c *Client, args [][]byte)    { xrangeGeneric(c, args, false) }
func cmdXrevrange(c *Client, args [][]byte) { xrangeGeneric(c, args, true) }

func xrangeGeneric(c *Client, args [][]byte, rev bool) {
	startArg, endArg := args[2], args[3]
	if rev {
		startArg, endArg = endArg, startArg
	}
	start, startEx, ok := parseIntervalID(startArg, 0)
	if !ok {
		c.WriteError(msgStreamID)
		return
	}
	if startEx {
		if start, ok = start.Incr(); !ok {
			c.WriteError(msgStartInterval)
			return
		}
	}
	end, endEx, ok := parseIntervalID(endArg, math.MaxUint64)
	if !ok {
		c.WriteError(msgStreamID)
		return
	}
	if endEx {
		if end, ok = end.Decr(); !ok {
			c.WriteError(msgEndInterval)
			return
		}
	}
	count := int64(-1)
	for j := 4; j < len(args); j++ {
		if eqFold(args[j], "count") && j+1 < len(args) {
			v, ok := parseInt(args[j+1])
			if !ok {
				c.WriteError(msgNotInt)
				return
			}
			if v < 0 {
				v = 0
			}
			count = v
			j++
		} else {
			c.WriteError(msgSyntax)
			return
		}
	}
	_, s, ok := lookupStream(c, args[1], false)
	if !ok {
		return
	}
	if s == nil {
		c.WriteArray(0)
		return
	}
	if count == 0 {
		c.WriteNullArray()
		return
	}
	if count < 0 {
		count = 0
	}
	replyRange(c, s, start, end, count, rev)
}

// streamRange returns the entries with start <= ID <= end, at most count
// (0: all), newest first when rev.
func streamRange(s *storage.Stream, start, end storage.StreamID, count int64, rev bool) []*storage.StreamEntry {
	ents := s.Entries()
	if start.Cmp(end) > 0 {
		return nil
	}
	lo := s.Seek(start)
	hi := s.Seek(end)
	if hi < len(ents) && ents[hi].ID == end {
		hi++
	}
	if lo >= hi {
		return nil
	}
	n := int64(hi - lo)
	if count > 0 && count < n {
		n = count
	}
	if !rev {
		return ents[lo : lo+int(n)]
	}
	out := make([]*storage.StreamEntry, 0, n)
	for i := hi - 1; i >= lo && int64(len(out)) < n; i-- {
		out = append(out, ents[i])
	}
	return out
}

func replyRange(c *Client, s *storage.Stream, start, end storage.StreamID, count int64, rev bool) int {
	r := streamRange(s, start, end, count, rev)
	c.WriteArray(len(r))
	for _, e := range r {
		writeStreamEntry(c, e)
	}
	return len(r)
}

func cmdXlen(c *Client, args [][]byte) {
	_, s, ok := lookupStream(c, args[1], false)
	if !ok {
		return
	}
	if s == nil {
		c.WriteInt(0)
		return
	}
	c.WriteInt(s.Length())
}

// ---- XDEL / XSETID ----

func cmdXdel(c *Client, args [][]byte) {
	key := args[1]
	e, s, ok := lookupStream(c, key, true)
	if !ok {
		return
	}
	if s == nil {
		c.WriteInt(0)
		return
	}
	ids := make([]storage.StreamID, 0, len(args)-2)
	for _, a := range args[2:] {
		id, _, ok := parseStreamID(a, 0, true, false)
		if !ok {
			c.WriteError(msgStreamID)
			return
		}
		ids = append(ids, id)
	}
	deleted, first := 0, false
	tx := c.DB().Begin()
	for _, id := range ids {
		if s.Delete(id) {
			tx.StreamDelEntry(key, id)
			if id == s.FirstID {
				first = true
			}
			if id.Cmp(s.MaxDeletedID) > 0 {
				s.MaxDeletedID = id
			}
			deleted++
		}
	}
	if deleted > 0 {
		if s.Length() == 0 {
			s.FirstID = storage.StreamID{}
		} else if first {
			s.UpdateFirstID()
		}
		tx.StreamChanged(key, e, s, true, "xdel")
	}
	tx.Commit()
	c.WriteInt(deleted)
}

func cmdXsetid(c *Client, args [][]byte) {
	id, _, ok := parseStreamID(args[2], 0, true, false)
	if !ok {
		c.WriteError(msgStreamID)
		return
	}
	var maxDel storage.StreamID
	added := int64(-1)
	for i := 3; i < len(args); {
		more := len(args) - 1 - i
		switch {
		case eqFold(args[i], "entriesadded") && more > 0:
			v, ok := parseInt(args[i+1])
			if !ok {
				c.WriteError(msgNotInt)
				return
			}
			if v < 0 {
				c.WriteError(msgEntriesAdded)
				return
			}
			added = v
			i += 2
		case eqFold(args[i], "maxdeletedid") && more > 0:
			v, _, ok := parseStreamID(args[i+1], 0, true, false)
			if !ok {
				c.WriteError(msgStreamID)
				return
			}
			if id.Cmp(v) < 0 {
				c.WriteError(msgXsetidMaxDel)
				return
			}
			maxDel = v
			i += 2
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	key := args[1]
	e, s, ok := lookupStream(c, key, true)
	if !ok {
		return
	}
	if s == nil {
		c.WriteError(msgNoSuchKey)
		return
	}
	if s.Length() > 0 {
		if id.Cmp(s.LastValidID()) < 0 {
			c.WriteError(msgXsetidSmaller)
			return
		}
		if added != -1 && int64(s.Length()) > added {
			c.WriteError(msgXsetidAdded)
			return
		}
	}
	s.LastID = id
	if added != -1 {
		s.EntriesAdded = uint64(added)
	}
	if !maxDel.IsZero() {
		s.MaxDeletedID = maxDel
	}
	tx := c.DB().Begin()
	tx.StreamNotified(key, e, s, true, "xsetid")
	tx.Commit()
	c.WriteOK()
}

// ---- XREAD / XREADGROUP ----

// xreadKeys is the lock set of XREAD/XREADGROUP: as Redis's key spec
// (keyword STREAMS, the first half of what follows it; an odd count is
// rounded down: the command refuses it before it reads a key).
func xreadKeys(args [][]byte) [][]byte {
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case eqFold(a, "block"), eqFold(a, "count"):
			i++
		case eqFold(a, "group"):
			i += 2
		case eqFold(a, "noack"):
		case eqFold(a, "streams"):
			n := (len(args) - i - 1) / 2
			return args[i+1 : i+1+n]
		default:
			return nil
		}
	}
	return nil
}

// xreadBlocked is what a blocked XREAD remembers across re-runs: the IDs
// it waits after ("$" resolved when it blocked).
type xreadBlocked struct{ ids []storage.StreamID }

func cmdXread(c *Client, args [][]byte) {
	xreadgroup := len(args[0]) == 10
	timeout := int64(-1)
	var count int64
	streamsArg, nstreams := 0, 0
	noack := false
	var groupName, consumerName []byte
	for i := 1; i < len(args); i++ {
		more := len(args) - i - 1
		o := args[i]
		switch {
		case eqFold(o, "block") && more > 0:
			if c.scriptKeys != nil {
				c.WriteError("ERR " + string(args[0]) + " command is not allowed with BLOCK option from scripts")
				return
			}
			i++
			v, ok := parseInt(args[i])
			if !ok {
				c.WriteError(msgXTimeoutNotInt)
				return
			}
			if v < 0 {
				c.WriteError(msgTimeoutNeg)
				return
			}
			if v > 0 && v > math.MaxInt64-nowMs() {
				c.WriteError(msgXTimeoutRange)
				return
			}
			timeout = v
		case eqFold(o, "count") && more > 0:
			i++
			v, ok := parseInt(args[i])
			if !ok {
				c.WriteError(msgNotInt)
				return
			}
			if v < 0 {
				v = 0
			}
			count = v
		case eqFold(o, "streams") && more > 0:
			streamsArg = i + 1
			nstreams = len(args) - streamsArg
			if nstreams%2 != 0 {
				c.WriteError(msgXreadUnbalanced)
				return
			}
			nstreams /= 2
			i = len(args)
		case eqFold(o, "group") && more >= 2:
			if !xreadgroup {
				c.WriteError(msgXreadGroupOpt)
				return
			}
			groupName, consumerName = args[i+1], args[i+2]
			i += 2
		case eqFold(o, "noack"):
			if !xreadgroup {
				c.WriteError(msgXreadNoackOpt)
				return
			}
			noack = true
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	if streamsArg == 0 {
		c.WriteError(msgSyntax)
		return
	}
	if xreadgroup && groupName == nil {
		c.WriteError(msgXreadMissingGroup)
		return
	}
	keys := args[streamsArg : streamsArg+nstreams]
	retry := c.blockRetry()
	var saved *xreadBlocked
	if retry {
		saved, _ = c.block.ctx.(*xreadBlocked)
	}
	ids := make([]storage.StreamID, nstreams)
	groups := make([]*storage.StreamGroup, nstreams)
	for i := 0; i < nstreams; i++ {
		key := keys[i]
		idArg := args[streamsArg+nstreams+i]
		e := c.DB().Lookup(key)
		var s *storage.Stream
		if e != nil {
			if s2, isStream := e.Object().(*storage.Stream); e.Type == storage.TypeStream && isStream {
				s = s2
			} else {
				if retry {
					if groupName != nil {
						c.WriteError(msgUnblockedNoKey)
						return
					}
					continue // Redis 7.0 keeps waiting
				}
				c.WriteError(msgWrongType)
				return
			}
		}
		if groupName != nil {
			var g *storage.StreamGroup
			if s != nil {
				g = s.Group(groupName)
			}
			if g == nil {
				switch {
				case retry && s == nil:
					c.WriteError(msgUnblockedNoKey)
				case retry:
					c.WriteError(msgNoGroupBlocked)
				default:
					c.WriteError("NOGROUP No such key '" + string(key) + "' or consumer group '" + string(groupName) + "' in XREADGROUP with GROUP option")
				}
				return
			}
			groups[i] = g
		}
		if len(idArg) == 1 && idArg[0] == '$' {
			if xreadgroup {
				c.WriteError(msgXreadGroupDollar)
				return
			}
			if saved != nil {
				ids[i] = saved.ids[i]
			} else if s != nil {
				ids[i] = s.LastID
			}
			continue
		}
		if len(idArg) == 1 && idArg[0] == '>' {
			if !xreadgroup {
				c.WriteError(msgXreadGt)
				return
			}
			ids[i] = storage.MaxStreamID
			continue
		}
		id, _, ok := parseStreamID(idArg, 0, true, false)
		if !ok {
			c.WriteError(msgStreamID)
			return
		}
		ids[i] = id
	}
	if retry && count == 0 {
		count = 1000 // XREAD_BLOCKED_DEFAULT_COUNT
	}

	// serve synchronously what can be served
	type serve struct {
		i       int
		e       *storage.Entry
		s       *storage.Stream
		gt      storage.StreamID
		history bool
	}
	var served []serve
	for i := 0; i < nstreams; i++ {
		e := c.DB().Lookup(keys[i])
		if e == nil {
			continue
		}
		s, isStream := e.Object().(*storage.Stream)
		if !isStream {
			continue
		}
		gt := ids[i]
		if groups[i] != nil {
			if gt != storage.MaxStreamID {
				if retry {
					continue
				}
				served = append(served, serve{i, e, s, gt, true})
			} else if s.Length() > 0 && s.LastValidID().Cmp(groups[i].LastID) > 0 {
				served = append(served, serve{i, e, s, groups[i].LastID, false})
			}
		} else if s.Length() > 0 && s.LastValidID().Cmp(gt) > 0 {
			served = append(served, serve{i, e, s, gt, false})
		}
		if retry && len(served) > 0 {
			break // a woken client is served the one stream that got data
		}
	}
	if len(served) > 0 {
		if c.resp == 2 {
			c.WriteArray(len(served))
		} else {
			c.WriteMap(len(served))
		}
		var tx *storage.Tx
		if groupName != nil {
			tx = c.DB().Begin()
		}
		for _, sv := range served {
			if c.resp == 2 {
				c.WriteArray(2)
			}
			key := keys[sv.i]
			c.WriteBulk(key)
			start, _ := sv.gt.Incr()
			if groups[sv.i] == nil {
				replyRange(c, sv.s, start, storage.MaxStreamID, count, false)
				continue
			}
			g := groups[sv.i]
			now := nowMs()
			cons := g.Consumer(consumerName)
			ev := ""
			if cons == nil {
				cons = g.CreateConsumer(consumerName, now)
				ev = "xgroup-createconsumer"
			} else {
				cons.SeenTime = now
			}
			tx.StreamPutConsumer(key, g, cons)
			if sv.history {
				replyConsumerPEL(c, tx, key, sv.s, g, cons, start, count)
			} else {
				replyGroupRange(c, tx, key, sv.s, g, cons, start, count, noack)
			}
			tx.StreamNotified(key, sv.e, sv.s, false, ev)
		}
		if tx != nil {
			tx.Commit()
		}
		return
	}
	if timeout != -1 {
		if saved == nil {
			saved = &xreadBlocked{ids: ids}
		}
		c.blockOnCtx(keys, timeout, (*Client).WriteNullArray, saved, groupName != nil)
		return
	}
	c.WriteNullArray()
}

// replyGroupRange serves new entries after start to consumer cons of group
// g, creating or reassigning their pending entries (streamReplyWithRange
// with a group).
func replyGroupRange(c *Client, tx *storage.Tx, key []byte, s *storage.Stream, g *storage.StreamGroup, cons *storage.StreamConsumer, start storage.StreamID, count int64, noack bool) {
	r := streamRange(s, start, storage.MaxStreamID, count, false)
	c.WriteArray(len(r))
	now := nowMs()
	moved := false
	for _, e := range r {
		if e.ID.Cmp(g.LastID) > 0 {
			if g.EntriesRead != -1 && !rangeHasTombstones(s, e.ID, storage.MaxStreamID) {
				g.EntriesRead++
			} else if s.EntriesAdded != 0 {
				g.EntriesRead = estimateDistance(s, e.ID)
			}
			g.LastID = e.ID
			moved = true
		}
		writeStreamEntry(c, e)
		if !noack {
			n, created := s.AddNACK(g, e.ID, cons, now)
			if !created {
				g.SetOwner(n, cons)
				n.DeliveryTime = now
				n.DeliveryCount = 1
			}
			tx.StreamPutNACK(key, g, n)
		}
	}
	if moved {
		tx.StreamPutGroup(key, g)
	}
}

// replyConsumerPEL serves the consumer's own pending entries from start
// (streamReplyWithRangeFromConsumerPEL).
func replyConsumerPEL(c *Client, tx *storage.Tx, key []byte, s *storage.Stream, g *storage.StreamGroup, cons *storage.StreamConsumer, start storage.StreamID, count int64) {
	var nacks []*storage.StreamNACK
	cons.PEL.Ascend(start, func(n *storage.StreamNACK) bool {
		nacks = append(nacks, n)
		return count <= 0 || int64(len(nacks)) < count
	})
	c.WriteArray(len(nacks))
	now := nowMs()
	for _, nack := range nacks {
		if e := s.Get(nack.ID); e != nil {
			writeStreamEntry(c, e)
			nack.DeliveryTime = now
			nack.DeliveryCount++
			tx.StreamPutNACK(key, g, nack)
		} else {
			c.WriteArray(2)
			writeStreamID(c, nack.ID)
			c.WriteNullArray()
		}
	}
}

// rangeHasTombstones is streamRangeHasTombstones.
func rangeHasTombstones(s *storage.Stream, start, end storage.StreamID) bool {
	if s.Length() == 0 || s.MaxDeletedID.IsZero() {
		return false
	}
	if s.FirstID.Cmp(s.MaxDeletedID) > 0 {
		return false
	}
	return start.Cmp(s.MaxDeletedID) <= 0 && s.MaxDeletedID.Cmp(end) <= 0
}

// estimateDistance is streamEstimateDistanceFromFirstEverEntry (-1: unknown).
func estimateDistance(s *storage.Stream, id storage.StreamID) int64 {
	if s.EntriesAdded == 0 {
		return 0
	}
	if s.Length() == 0 && id.Cmp(s.LastID) < 1 {
		return int64(s.EntriesAdded)
	}
	cmpLast := id.Cmp(s.LastID)
	if cmpLast == 0 {
		return int64(s.EntriesAdded)
	} else if cmpLast > 0 {
		return -1
	}
	cmpFirst := id.Cmp(s.FirstID)
	if s.MaxDeletedID.IsZero() || s.MaxDeletedID.Cmp(s.FirstID) < 0 {
		if cmpFirst < 0 {
			return int64(s.EntriesAdded) - int64(s.Length())
		} else if cmpFirst == 0 {
			return int64(s.EntriesAdded) - int64(s.Length()) + 1
		}
	}
	return -1
}

// writeGroupLag is streamReplyWithCGLag.
func writeGroupLag(c *Client, s *storage.Stream, g *storage.StreamGroup) {
	switch {
	case s.EntriesAdded == 0:
		c.WriteInt(0)
	case g.EntriesRead != -1 && !rangeHasTombstones(s, g.LastID, storage.MaxStreamID):
		c.WriteInt64(int64(s.EntriesAdded) - g.EntriesRead)
	default:
		if er := estimateDistance(s, g.LastID); er != -1 {
			c.WriteInt64(int64(s.EntriesAdded) - er)
		} else {
			c.WriteNull()
		}
	}
}

// ---- XGROUP ----

var xgroupHelp = []string{
	"CREATE <key> <groupname> <id|$> [option]",
	"    Create a new consumer group. Options are:",
	"    * MKSTREAM",
	"      Create the empty stream if it does not exist.",
	"    * ENTRIESREAD entries_read",
	"      Set the group's entries_read counter (internal use).",
	"CREATECONSUMER <key> <groupname> <consumer>",
	"    Create a new consumer in the specified group.",
	"DELCONSUMER <key> <groupname> <consumer>",
	"    Remove the specified consumer.",
	"DESTROY <key> <groupname>",
	"    Remove the specified group.",
	"SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
	"    Set the current group ID and entries_read counter.",
}

func cmdXgroup(c *Client, args [][]byte) {
	opt := args[1]
	if resolveSubcommand(c, args, "xgroup") == nil {
		return
	}
	mkstream := false
	entriesRead := int64(-1)
	var e *storage.Entry
	var s *storage.Stream
	var g *storage.StreamGroup
	var grp []byte
	key := []byte(nil)
	create, setid := eqFold(opt, "create"), eqFold(opt, "setid")
	if len(args) >= 4 {
		for i := 5; i < len(args); {
			switch {
			case create && eqFold(args[i], "mkstream"):
				mkstream = true
				i++
			case (create || setid) && eqFold(args[i], "entriesread") && i+1 < len(args):
				v, ok := parseInt(args[i+1])
				if !ok {
					c.WriteError(msgNotInt)
					return
				}
				if v < 0 && v != -1 {
					c.WriteError(msgEntriesRead)
					return
				}
				entriesRead = v
				i += 2
			default:
				c.WriteError(subSyntaxMsg(args))
				return
			}
		}
		key = args[2]
		var ok bool
		if e, s, ok = lookupStream(c, key, true); !ok {
			return
		}
		grp = args[3]
	}
	if len(args) >= 4 && !mkstream {
		if s == nil {
			c.WriteError(msgXgroupNoKey)
			return
		}
		if g = s.Group(grp); g == nil && (setid || eqFold(opt, "createconsumer") || eqFold(opt, "delconsumer")) {
			c.WriteError("NOGROUP No such consumer group '" + string(grp) + "' for key name '" + string(key) + "'")
			return
		}
	}
	switch {
	case len(args) == 2 && eqFold(opt, "help"):
		writeHelp(c, args[0], xgroupHelp...)
	case create && len(args) >= 5 && len(args) <= 8:
		var id storage.StreamID
		if len(args[4]) == 1 && args[4][0] == '$' {
			if s != nil {
				id = s.LastID
			}
		} else {
			var ok bool
			if id, _, ok = parseStreamID(args[4], 0, true, false); !ok {
				c.WriteError(msgStreamID)
				return
			}
		}
		tx := c.DB().Begin()
		created := s == nil
		if created {
			e, s = tx.CreateStream(key)
		}
		ng := s.CreateGroup(grp, id, entriesRead)
		if ng == nil {
			tx.Commit()
			c.WriteError(msgBusyGroup)
			return
		}
		tx.StreamPutGroup(key, ng)
		if created {
			// MKSTREAM: signalModifiedKey, then the event
			tx.StreamChanged(key, e, s, false, "xgroup-create")
		} else {
			tx.StreamNotified(key, e, s, false, "xgroup-create")
		}
		tx.Commit()
		c.WriteOK()
	case setid && (len(args) == 5 || len(args) == 7):
		var id storage.StreamID
		if len(args[4]) == 1 && args[4][0] == '$' {
			id = s.LastID
		} else {
			var ok bool
			if id, _, ok = parseStreamID(args[4], 0, false, false); !ok {
				c.WriteError(msgStreamID)
				return
			}
		}
		g.LastID = id
		g.EntriesRead = entriesRead
		tx := c.DB().Begin()
		tx.StreamPutGroup(key, g)
		tx.StreamNotified(key, e, s, false, "xgroup-setid")
		tx.Commit()
		c.WriteOK()
	case eqFold(opt, "destroy") && len(args) == 4:
		if g == nil {
			c.WriteInt(0)
			return
		}
		tx := c.DB().Begin()
		tx.StreamDelGroup(key, g)
		s.DestroyGroup(g)
		tx.StreamNotified(key, e, s, false, "xgroup-destroy")
		tx.Commit()
		c.WriteInt(1)
	case eqFold(opt, "createconsumer") && len(args) == 5:
		cons := g.CreateConsumer(args[4], nowMs())
		if cons == nil {
			c.WriteInt(0)
			return
		}
		tx := c.DB().Begin()
		tx.StreamPutConsumer(key, g, cons)
		tx.StreamNotified(key, e, s, false, "xgroup-createconsumer")
		tx.Commit()
		c.WriteInt(1)
	case eqFold(opt, "delconsumer") && len(args) == 5:
		cons := g.Consumer(args[4])
		if cons == nil {
			c.WriteInt(0)
			return
		}
		tx := c.DB().Begin()
		ids := s.DeleteConsumer(g, cons)
		for _, id := range ids {
			tx.StreamDelNACK(key, g, id)
		}
		tx.StreamDelConsumer(key, g, cons)
		tx.StreamNotified(key, e, s, false, "xgroup-delconsumer")
		tx.Commit()
		c.WriteInt(len(ids))
	default:
		c.WriteError(subSyntaxMsg(args))
	}
}

// ---- XACK / XPENDING ----

func cmdXack(c *Client, args [][]byte) {
	key := args[1]
	e, s, ok := lookupStream(c, key, true)
	if !ok {
		return
	}
	var g *storage.StreamGroup
	if s != nil {
		g = s.Group(args[2])
	}
	if g == nil {
		c.WriteInt(0)
		return
	}
	ids := make([]storage.StreamID, 0, len(args)-3)
	for _, a := range args[3:] {
		id, _, ok := parseStreamID(a, 0, true, false)
		if !ok {
			c.WriteError(msgStreamID)
			return
		}
		ids = append(ids, id)
	}
	acked := 0
	tx := c.DB().Begin()
	for _, id := range ids {
		if s.Ack(g, id) {
			tx.StreamDelNACK(key, g, id)
			acked++
		}
	}
	if acked > 0 {
		tx.StreamNotified(key, e, s, false, "")
	}
	tx.Commit()
	c.WriteInt(acked)
}

func cmdXpending(c *Client, args [][]byte) {
	justInfo := len(args) == 3
	key, groupName := args[1], args[2]
	if len(args) != 3 && (len(args) < 6 || len(args) > 9) {
		c.WriteError(msgSyntax)
		return
	}
	var start, end storage.StreamID
	var count, minIdle int64
	var consumerName []byte
	if len(args) >= 6 {
		si := 3
		if eqFold(args[3], "idle") {
			v, ok := parseInt(args[4])
			if !ok {
				c.WriteError(msgNotInt)
				return
			}
			minIdle = v
			if len(args) < 8 {
				c.WriteError(msgSyntax)
				return
			}
			si += 2
		}
		v, ok := parseInt(args[si+2])
		if !ok {
			c.WriteError(msgNotInt)
			return
		}
		if v < 0 {
			v = 0
		}
		count = v
		var ex bool
		if start, ex, ok = parseIntervalID(args[si], 0); !ok {
			c.WriteError(msgStreamID)
			return
		}
		if ex {
			if start, ok = start.Incr(); !ok {
				c.WriteError(msgStartInterval)
				return
			}
		}
		if end, ex, ok = parseIntervalID(args[si+1], math.MaxUint64); !ok {
			c.WriteError(msgStreamID)
			return
		}
		if ex {
			if end, ok = end.Decr(); !ok {
				c.WriteError(msgEndInterval)
				return
			}
		}
		if si+3 < len(args) {
			consumerName = args[si+3]
		}
	}
	_, s, ok := lookupStream(c, key, false)
	if !ok {
		return
	}
	var g *storage.StreamGroup
	if s != nil {
		g = s.Group(groupName)
	}
	if g == nil {
		c.WriteError("NOGROUP No such key '" + string(key) + "' or consumer group '" + string(groupName) + "'")
		return
	}
	if justInfo {
		c.WriteArray(4)
		c.WriteInt(g.PEL.Len())
		if g.PEL.Len() == 0 {
			c.WriteNull()
			c.WriteNull()
			c.WriteNullArray()
			return
		}
		writeStreamID(c, g.PEL.First().ID)
		writeStreamID(c, g.PEL.Last().ID)
		var withPending []*storage.StreamConsumer
		for _, cons := range g.Consumers() {
			if cons.PEL.Len() > 0 {
				withPending = append(withPending, cons)
			}
		}
		c.WriteArray(len(withPending))
		for _, cons := range withPending {
			c.WriteArray(2)
			c.WriteBulkString(cons.Name)
			c.WriteBulkString(strconv.Itoa(cons.PEL.Len()))
		}
		return
	}
	pel := &g.PEL
	if consumerName != nil {
		cons := g.Consumer(consumerName)
		if cons == nil {
			c.WriteArray(0)
			return
		}
		pel = &cons.PEL
	}
	now := nowMs()
	var out []*storage.StreamNACK
	if count > 0 {
		pel.Ascend(start, func(n *storage.StreamNACK) bool {
			if n.ID.Cmp(end) > 0 {
				return false
			}
			if minIdle != 0 && now-n.DeliveryTime < minIdle {
				return true
			}
			out = append(out, n)
			count--
			return count > 0
		})
	}
	c.WriteArray(len(out))
	for _, n := range out {
		c.WriteArray(4)
		writeStreamID(c, n.ID)
		name := ""
		if n.Consumer != nil {
			name = n.Consumer.Name
		}
		c.WriteBulkString(name)
		elapsed := now - n.DeliveryTime
		if elapsed < 0 {
			elapsed = 0
		}
		c.WriteInt64(elapsed)
		c.WriteInt64(int64(n.DeliveryCount))
	}
}

// ---- XCLAIM / XAUTOCLAIM ----

func cmdXclaim(c *Client, args [][]byte) {
	key := args[1]
	e, s, ok := lookupStream(c, key, true)
	if !ok {
		return
	}
	var g *storage.StreamGroup
	if s != nil {
		g = s.Group(args[2])
	}
	if g == nil {
		c.WriteError("NOGROUP No such key '" + string(key) + "' or consumer group '" + string(args[2]) + "'")
		return
	}
	minIdle, ok := parseInt(args[4])
	if !ok {
		c.WriteError("ERR Invalid min-idle-time argument for XCLAIM")
		return
	}
	if minIdle < 0 {
		minIdle = 0
	}
	var ids []storage.StreamID
	j := 5
	for ; j < len(args); j++ {
		id, _, ok := parseStreamID(args[j], 0, true, false)
		if !ok {
			break
		}
		ids = append(ids, id)
	}
	now := nowMs()
	var lastID storage.StreamID
	force, justid := false, false
	deliveryTime, retryCount := int64(-1), int64(-1)
	for ; j < len(args); j++ {
		more := len(args) - 1 - j
		o := args[j]
		switch {
		case eqFold(o, "force"):
			force = true
		case eqFold(o, "justid"):
			justid = true
		case eqFold(o, "idle") && more > 0:
			j++
			v, ok := parseInt(args[j])
			if !ok {
				c.WriteError("ERR Invalid IDLE option argument for XCLAIM")
				return
			}
			deliveryTime = now - v
		case eqFold(o, "time") && more > 0:
			j++
			v, ok := parseInt(args[j])
			if !ok {
				c.WriteError("ERR Invalid TIME option argument for XCLAIM")
				return
			}
			deliveryTime = v
		case eqFold(o, "retrycount") && more > 0:
			j++
			v, ok := parseInt(args[j])
			if !ok {
				c.WriteError("ERR Invalid RETRYCOUNT option argument for XCLAIM")
				return
			}
			retryCount = v
		case eqFold(o, "lastid") && more > 0:
			j++
			id, _, ok := parseStreamID(args[j], 0, true, false)
			if !ok {
				c.WriteError(msgStreamID)
				return
			}
			lastID = id
		default:
			c.WriteError("ERR Unrecognized XCLAIM option '" + string(o) + "'")
			return
		}
	}
	tx := c.DB().Begin()
	if lastID.Cmp(g.LastID) > 0 {
		g.LastID = lastID
		tx.StreamPutGroup(key, g)
	}
	if deliveryTime != -1 {
		if deliveryTime < 0 || deliveryTime > now {
			deliveryTime = now
		}
	} else {
		deliveryTime = now
	}
	var cons *storage.StreamConsumer
	ev := ""
	type claimed struct {
		id storage.StreamID
		e  *storage.StreamEntry
	}
	var out []claimed
	for _, id := range ids {
		n := g.PEL.Get(id)
		ent := s.Get(id)
		if ent == nil {
			if n != nil {
				s.Ack(g, id)
				tx.StreamDelNACK(key, g, id)
			}
			continue
		}
		if force && n == nil {
			n, _ = s.AddNACK(g, id, nil, now)
		}
		if n == nil {
			continue
		}
		if n.Consumer != nil && minIdle != 0 && now-n.DeliveryTime < minIdle {
			continue
		}
		if cons == nil {
			if cons = g.Consumer(args[3]); cons == nil {
				cons = g.CreateConsumer(args[3], now)
				ev = "xgroup-createconsumer"
			} else {
				cons.SeenTime = now
			}
			tx.StreamPutConsumer(key, g, cons)
		}
		n.DeliveryTime = deliveryTime
		if retryCount >= 0 {
			n.DeliveryCount = uint64(retryCount)
		} else if !justid {
			n.DeliveryCount++
		}
		g.SetOwner(n, cons)
		tx.StreamPutNACK(key, g, n)
		out = append(out, claimed{id, ent})
	}
	tx.StreamNotified(key, e, s, false, ev)
	tx.Commit()
	c.WriteArray(len(out))
	for _, x := range out {
		if justid {
			writeStreamID(c, x.id)
		} else {
			writeStreamEntry(c, x.e)
		}
	}
}

func cmdXautoclaim(c *Client, args [][]byte) {
	key := args[1]
	minIdle, ok := parseInt(args[4])
	if !ok {
		c.WriteError("ERR Invalid min-idle-time argument for XAUTOCLAIM")
		return
	}
	if minIdle < 0 {
		minIdle = 0
	}
	start, ex, ok := parseIntervalID(args[5], 0)
	if !ok {
		c.WriteError(msgStreamID)
		return
	}
	if ex {
		if start, ok = start.Incr(); !ok {
			c.WriteError(msgStartInterval)
			return
		}
	}
	count := int64(100)
	justid := false
	const attemptsFactor = 10
	for j := 6; j < len(args); j++ {
		more := len(args) - 1 - j
		switch {
		case eqFold(args[j], "count") && more > 0:
			v, ok := parseInt(args[j+1])
			if !ok {
				c.WriteError(msgNotInt)
				return
			}
			if v < 1 || v > math.MaxInt64/16 {
				c.WriteError(msgXautoclaimCount)
				return
			}
			count = v
			j++
		case eqFold(args[j], "justid"):
			justid = true
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	e, s, ok := lookupStream(c, key, true)
	if !ok {
		return
	}
	var g *storage.StreamGroup
	if s != nil {
		g = s.Group(args[2])
	}
	if g == nil {
		c.WriteError("NOGROUP No such key '" + string(key) + "' or consumer group '" + string(args[2]) + "'")
		return
	}
	if count > 1<<26 {
		// Redis allocates count IDs up front; refuse what it cannot allocate
		// no sooner than it would (its limit is memory, this one a bound)
		count = 1 << 26
	}
	attempts := count * attemptsFactor
	now := nowMs()
	tx := c.DB().Begin()
	var cons *storage.StreamConsumer
	ev := ""
	var deleted []storage.StreamID
	type claimed struct {
		id storage.StreamID
		e  *storage.StreamEntry
	}
	var out []claimed
	// cursor: the next PEL entry to look at (nil: the end)
	n := g.PEL.Next(start)
	advance := func(id storage.StreamID) *storage.StreamNACK {
		if nx, ok := id.Incr(); ok {
			return g.PEL.Next(nx)
		}
		return nil
	}
	for attempts > 0 && count > 0 && n != nil {
		attempts--
		cur := n
		n = advance(cur.ID)
		ent := s.Get(cur.ID)
		if ent == nil {
			s.Ack(g, cur.ID)
			tx.StreamDelNACK(key, g, cur.ID)
			deleted = append(deleted, cur.ID)
			count--
			continue
		}
		if minIdle != 0 && now-cur.DeliveryTime < minIdle {
			continue
		}
		if cons == nil {
			if cons = g.Consumer(args[3]); cons == nil {
				cons = g.CreateConsumer(args[3], now)
				ev = "xgroup-createconsumer"
			} else {
				cons.SeenTime = now
			}
			tx.StreamPutConsumer(key, g, cons)
		}
		g.SetOwner(cur, cons)
		cur.DeliveryTime = now
		if !justid {
			cur.DeliveryCount++
		}
		tx.StreamPutNACK(key, g, cur)
		out = append(out, claimed{cur.ID, ent})
		count--
	}
	var next storage.StreamID
	if n != nil {
		next = n.ID
	}
	tx.StreamNotified(key, e, s, false, ev)
	tx.Commit()
	c.WriteArray(3)
	writeStreamID(c, next)
	c.WriteArray(len(out))
	for _, x := range out {
		if justid {
			writeStreamID(c, x.id)
		} else {
			writeStreamEntry(c, x.e)
		}
	}
	c.WriteArray(len(deleted))
	for _, id := range deleted {
		writeStreamID(c, id)
	}
}

// ---- XINFO ----

var xinfoHelp = []string{
	"CONSUMERS <key> <groupname>",
	"    Show consumers of <groupname>.",
	"GROUPS <key>",
	"    Show the stream consumer groups.",
	"STREAM <key> [FULL [COUNT <count>]",
	"    Show information about the stream.",
}

func cmdXinfo(c *Client, args [][]byte) {
	if resolveSubcommand(c, args, "xinfo") == nil {
		return
	}
	opt := args[1]
	if eqFold(opt, "help") {
		writeHelp(c, args[0], xinfoHelp...)
		return
	}
	key := args[2]
	_, s, ok := lookupStream(c, key, false)
	if !ok {
		return
	}
	if s == nil {
		c.WriteError(msgNoSuchKey)
		return
	}
	switch {
	case eqFold(opt, "consumers") && len(args) == 4:
		g := s.Group(args[3])
		if g == nil {
			c.WriteError("NOGROUP No such consumer group '" + string(args[3]) + "' for key name '" + string(key) + "'")
			return
		}
		cs := g.Consumers()
		c.WriteArray(len(cs))
		now := nowMs()
		for _, cons := range cs {
			idle := now - cons.SeenTime
			if idle < 0 {
				idle = 0
			}
			c.WriteMap(3)
			c.WriteBulkString("name")
			c.WriteBulkString(cons.Name)
			c.WriteBulkString("pending")
			c.WriteInt(cons.PEL.Len())
			c.WriteBulkString("idle")
			c.WriteInt64(idle)
		}
	case eqFold(opt, "groups") && len(args) == 3:
		gs := s.Groups()
		c.WriteArray(len(gs))
		for _, g := range gs {
			c.WriteMap(6)
			c.WriteBulkString("name")
			c.WriteBulkString(g.Name)
			c.WriteBulkString("consumers")
			c.WriteInt(g.NumConsumers())
			c.WriteBulkString("pending")
			c.WriteInt(g.PEL.Len())
			c.WriteBulkString("last-delivered-id")
			writeStreamID(c, g.LastID)
			c.WriteBulkString("entries-read")
			if g.EntriesRead != -1 {
				c.WriteInt64(g.EntriesRead)
			} else {
				c.WriteNull()
			}
			c.WriteBulkString("lag")
			writeGroupLag(c, s, g)
		}
	case eqFold(opt, "stream"):
		xinfoStream(c, args, s)
	default:
		c.WriteError(subSyntaxMsg(args))
	}
}

func xinfoStream(c *Client, args [][]byte, s *storage.Stream) {
	full := true
	count := int64(10)
	opts := args[3:]
	if len(opts) == 0 {
		full = false
	} else {
		if (len(opts) != 1 && len(opts) != 3) || !eqFold(opts[0], "full") {
			c.WriteError(subSyntaxMsg(args))
			return
		}
		if len(opts) == 3 {
			if !eqFold(opts[1], "count") {
				c.WriteError(subSyntaxMsg(args))
				return
			}
			v, ok := parseInt(opts[2])
			if !ok {
				c.WriteError(msgNotInt)
				return
			}
			if v < 0 {
				v = 10
			}
			count = v
		}
	}
	if full {
		c.WriteMap(9)
	} else {
		c.WriteMap(10)
	}
	c.WriteBulkString("length")
	c.WriteInt(s.Length())
	c.WriteBulkString("radix-tree-keys")
	c.WriteInt(s.Nodes())
	c.WriteBulkString("radix-tree-nodes")
	c.WriteInt(radixNodes(s))
	c.WriteBulkString("last-generated-id")
	writeStreamID(c, s.LastID)
	c.WriteBulkString("max-deleted-entry-id")
	writeStreamID(c, s.MaxDeletedID)
	c.WriteBulkString("entries-added")
	c.WriteInt64(int64(s.EntriesAdded))
	c.WriteBulkString("recorded-first-entry-id")
	writeStreamID(c, s.FirstID)
	if !full {
		c.WriteBulkString("groups")
		c.WriteInt(s.NumGroups())
		ents := s.Entries()
		c.WriteBulkString("first-entry")
		if len(ents) > 0 {
			writeStreamEntry(c, ents[0])
		} else {
			c.WriteNull()
		}
		c.WriteBulkString("last-entry")
		if len(ents) > 0 {
			writeStreamEntry(c, ents[len(ents)-1])
		} else {
			c.WriteNull()
		}
		return
	}
	c.WriteBulkString("entries")
	replyRange(c, s, storage.StreamID{}, storage.MaxStreamID, count, false)
	c.WriteBulkString("groups")
	gs := s.Groups()
	c.WriteArray(len(gs))
	for _, g := range gs {
		c.WriteMap(7)
		c.WriteBulkString("name")
		c.WriteBulkString(g.Name)
		c.WriteBulkString("last-delivered-id")
		writeStreamID(c, g.LastID)
		c.WriteBulkString("entries-read")
		if g.EntriesRead != -1 {
			c.WriteInt64(g.EntriesRead)
		} else {
			c.WriteNull()
		}
		c.WriteBulkString("lag")
		writeGroupLag(c, s, g)
		c.WriteBulkString("pel-count")
		c.WriteInt(g.PEL.Len())
		c.WriteBulkString("pending")
		nacks := firstNACKs(&g.PEL, count)
		c.WriteArray(len(nacks))
		for _, nack := range nacks {
			c.WriteArray(4)
			writeStreamID(c, nack.ID)
			name := ""
			if nack.Consumer != nil {
				name = nack.Consumer.Name
			}
			c.WriteBulkString(name)
			c.WriteInt64(nack.DeliveryTime)
			c.WriteInt64(int64(nack.DeliveryCount))
		}
		cs := g.Consumers()
		c.WriteBulkString("consumers")
		c.WriteArray(len(cs))
		for _, cons := range cs {
			c.WriteMap(4)
			c.WriteBulkString("name")
			c.WriteBulkString(cons.Name)
			c.WriteBulkString("seen-time")
			c.WriteInt64(cons.SeenTime)
			c.WriteBulkString("pel-count")
			c.WriteInt(cons.PEL.Len())
			c.WriteBulkString("pending")
			cn := firstNACKs(&cons.PEL, count)
			c.WriteArray(len(cn))
			for _, nack := range cn {
				c.WriteArray(3)
				writeStreamID(c, nack.ID)
				c.WriteInt64(nack.DeliveryTime)
				c.WriteInt64(int64(nack.DeliveryCount))
			}
		}
	}
}

// firstNACKs returns the first count NACKs of p (0: all).
func firstNACKs(p *storage.PEL, count int64) []*storage.StreamNACK {
	var out []*storage.StreamNACK
	p.Ascend(storage.StreamID{}, func(n *storage.StreamNACK) bool {
		out = append(out, n)
		return count == 0 || int64(len(out)) < count
	})
	return out
}

// radixNodes approximates rax->numnodes for radix-tree-nodes: Redis's radix
// tree over 16-byte big-endian keys has about one node per key plus the
// shared-prefix nodes.
func radixNodes(s *storage.Stream) int {
	n := s.Nodes()
	if n == 0 {
		return 1
	}
	return n + 1
}
