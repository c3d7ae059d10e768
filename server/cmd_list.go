package server

// List commands (Redis t_list.c), including the blocking pops and moves.

import (
	"github.com/luxdb/lux-go/storage"
)

// List error texts (Redis builds these inline in t_list.c).
const (
	msgListIndexRange  = "ERR index out of range"
	msgListPositive    = "ERR value is out of range, must be positive"
	msgListRankZero    = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
	msgListCountNeg    = "ERR COUNT can't be negative"
	msgListMaxlenNeg   = "ERR MAXLEN can't be negative"
	msgNumkeysPositive = "ERR numkeys should be greater than 0"
	msgMpopCount       = "ERR count should be greater than 0"
)

func init() {
	const (
		w    = FlagWrite
		r    = FlagReadOnly
		oom  = FlagDenyOOM
		fast = FlagFast
		blk  = FlagBlocking
	)
	register(
		&Command{Name: "lpush", Arity: -3, Flags: w | oom | fast, FirstKey: 1, LastKey: 1, Handler: cmdLpush, Group: "list", Summary: "Prepends one or more elements to a list. Creates the key if it doesn't exist."},
		&Command{Name: "rpush", Arity: -3, Flags: w | oom | fast, FirstKey: 1, LastKey: 1, Handler: cmdRpush, Group: "list", Summary: "Appends one or more elements to a list. Creates the key if it doesn't exist."},
		&Command{Name: "lpushx", Arity: -3, Flags: w | oom | fast, FirstKey: 1, LastKey: 1, Handler: cmdLpushx, Group: "list", Summary: "Prepends one or more elements to a list only when the list exists."},
		&Command{Name: "rpushx", Arity: -3, Flags: w | oom | fast, FirstKey: 1, LastKey: 1, Handler: cmdRpushx, Group: "list", Summary: "Appends an element to a list only when the list exists."},
		&Command{Name: "lpop", Arity: -2, Flags: w | fast, FirstKey: 1, LastKey: 1, Handler: cmdLpop, Group: "list", Summary: "Returns the first elements in a list after removing it. Deletes the list if the last element was popped."},
		&Command{Name: "rpop", Arity: -2, Flags: w | fast, FirstKey: 1, LastKey: 1, Handler: cmdRpop, Group: "list", Summary: "Returns and removes the last elements of a list. Deletes the list if the last element was popped."},
		&Command{Name: "llen", Arity: 2, Flags: r | fast, FirstKey: 1, LastKey: 1, Handler: cmdLlen, Group: "list", Summary: "Returns the length of a list."},
		&Command{Name: "lrange", Arity: 4, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdLrange, Group: "list", Summary: "Returns a range of elements from a list."},
		&Command{Name: "lindex", Arity: 3, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdLindex, Group: "list", Summary: "Returns an element from a list by its index."},
		&Command{Name: "lset", Arity: 4, Flags: w | oom, FirstKey: 1, LastKey: 1, Handler: cmdLset, Group: "list", Summary: "Sets the value of an element in a list by its index."},
		&Command{Name: "linsert", Arity: 5, Flags: w | oom, FirstKey: 1, LastKey: 1, Handler: cmdLinsert, Group: "list", Summary: "Inserts an element before or after another element in a list."},
		&Command{Name: "lrem", Arity: 4, Flags: w, FirstKey: 1, LastKey: 1, Handler: cmdLrem, Group: "list", Summary: "Removes elements from a list. Deletes the list if the last element was removed."},
		&Command{Name: "ltrim", Arity: 4, Flags: w, FirstKey: 1, LastKey: 1, Handler: cmdLtrim, Group: "list", Summary: "Removes elements from both ends a list. Deletes the list if all elements were trimmed."},
		&Command{Name: "lpos", Arity: -3, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdLpos, Group: "list", Summary: "Returns the index of matching elements in a list."},
		&Command{Name: "lmove", Arity: 5, Flags: w | oom, FirstKey: 1, LastKey: 2, Handler: cmdLmove, Group: "list", Summary: "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved."},
		&Command{Name: "rpoplpush", Arity: 3, Flags: w | oom, FirstKey: 1, LastKey: 2, Handler: cmdRpoplpush, Group: "list", Summary: "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped."},
		&Command{Name: "lmpop", Arity: -4, Flags: w, Keys: mpopKeys(1), Handler: cmdLmpop, Group: "list", Summary: "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped."},
		&Command{Name: "blpop", Arity: -3, Flags: w | blk, FirstKey: 1, LastKey: -2, Handler: cmdBlpop, Group: "list", Summary: "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."},
		&Command{Name: "brpop", Arity: -3, Flags: w | blk, FirstKey: 1, LastKey: -2, Handler: cmdBrpop, Group: "list", Summary: "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."},
		&Command{Name: "blmove", Arity: 6, Flags: w | oom | blk, FirstKey: 1, LastKey: 2, Handler: cmdBlmove, Group: "list", Summary: "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved."},
		&Command{Name: "brpoplpush", Arity: 4, Flags: w | oom | blk, FirstKey: 1, LastKey: 2, Handler: cmdBrpoplpush, Group: "list", Summary: "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped."},
		&Command{Name: "blmpop", Arity: -5, Flags: w | blk, Keys: mpopKeys(2), Handler: cmdBlmpop, Group: "list", Summary: "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped."},
	)
}

// mpopKeys returns the key spec of a command whose numkeys argument is at
// index i, followed by the keys (LMPOP, BLMPOP; ZMPOP and BZMPOP too). An
// invalid numkeys yields no keys: the handler rejects it before touching any.
func mpopKeys(i int) func(args [][]byte) [][]byte {
	return func(args [][]byte) [][]byte {
		if len(args) <= i {
			return nil
		}
		n, ok := parseInt(args[i])
		if !ok || n <= 0 || n > int64(len(args)-i-1) {
			return nil
		}
		return args[i+1 : i+1+int(n)]
	}
}

// lookupList returns key's list for writing. A missing key gives (nil, nil,
// true); a key of another type writes WRONGTYPE and gives ok false.
func lookupList(c *Client, key []byte, write bool) (*storage.Entry, *storage.List, bool) {
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
	l, ok := e.Object().(*storage.List)
	if e.Type != storage.TypeList || !ok {
		c.WriteError(msgWrongType)
		return nil, nil, false
	}
	return e, l, true
}

// commitList records a command's change of one list (Tx.List).
func commitList(db storage.DB, ch storage.ListChange) {
	tx := db.Begin()
	tx.List(ch)
	tx.Commit()
}

// parseWhere parses LEFT|RIGHT; true means left (the head).
func parseWhere(b []byte) (left bool, ok bool) {
	switch {
	case eqFold(b, "left"):
		return true, true
	case eqFold(b, "right"):
		return false, true
	}
	return false, false
}

func pushEvent(left bool) string {
	if left {
		return "lpush"
	}
	return "rpush"
}

func popEvent(left bool) string {
	if left {
		return "lpop"
	}
	return "rpop"
}

func cmdLpush(c *Client, args [][]byte)  { pushGeneric(c, args, true, false) }
func cmdRpush(c *Client, args [][]byte)  { pushGeneric(c, args, false, false) }
func cmdLpushx(c *Client, args [][]byte) { pushGeneric(c, args, true, true) }
func cmdRpushx(c *Client, args [][]byte) { pushGeneric(c, args, false, true) }

func pushGeneric(c *Client, args [][]byte, left, onlyExisting bool) {
	e, l, ok := lookupList(c, args[1], true)
	if !ok {
		return
	}
	if e == nil {
		if onlyExisting {
			c.WriteInt(0)
			return
		}
		l = storage.NewList()
	}
	for _, v := range args[2:] {
		l.Push(v, left)
	}
	commitList(c.DB(), storage.ListChange{Key: args[1], Entry: e, List: l, Event: pushEvent(left)})
	c.WriteInt(l.Len())
}

func cmdLpop(c *Client, args [][]byte) { popGeneric(c, args, true) }
func cmdRpop(c *Client, args [][]byte) { popGeneric(c, args, false) }

func popGeneric(c *Client, args [][]byte, left bool) {
	if len(args) > 3 {
		c.WriteError(wrongArgsMsg(c.cmd.Name))
		return
	}
	count := int64(-1)
	if len(args) == 3 {
		n, ok := parseInt(args[2])
		if !ok || n < 0 {
			c.WriteError(msgListPositive)
			return
		}
		count = n
	}
	e, l, ok := lookupList(c, args[1], true)
	if !ok {
		return
	}
	if e == nil {
		if count >= 0 {
			c.WriteNullArray()
		} else {
			c.WriteNull()
		}
		return
	}
	if count == 0 {
		c.WriteArray(0)
		return
	}
	if count < 0 {
		v := l.Pop(left)
		commitList(c.DB(), storage.ListChange{Key: args[1], Entry: e, List: l, Event: popEvent(left)})
		c.WriteBulkString(v)
		return
	}
	popCountReply(c, args[1], e, l, left, count)
}

// popCountReply pops up to count elements and replies with them as an array.
func popCountReply(c *Client, key []byte, e *storage.Entry, l *storage.List, left bool, count int64) {
	n := int64(l.Len())
	if count > n {
		count = n
	}
	c.WriteArray(int(count))
	for i := int64(0); i < count; i++ {
		c.WriteBulkString(l.Pop(left))
	}
	commitList(c.DB(), storage.ListChange{Key: key, Entry: e, List: l, Event: popEvent(left)})
}

func cmdLlen(c *Client, args [][]byte) {
	e, l, ok := lookupList(c, args[1], false)
	if !ok {
		return
	}
	if e == nil {
		c.WriteInt(0)
		return
	}
	c.WriteInt(l.Len())
}

func cmdLrange(c *Client, args [][]byte) {
	start, ok1 := parseInt(args[2])
	end, ok2 := parseInt(args[3])
	if !ok1 || !ok2 {
		c.WriteError(msgNotInt)
		return
	}
	e, l, ok := lookupList(c, args[1], false)
	if !ok {
		return
	}
	if e == nil {
		c.WriteArray(0)
		return
	}
	lo, hi, ok := normIndex(start, end, int64(l.Len()))
	if !ok {
		c.WriteArray(0)
		return
	}
	c.WriteArray(int(hi - lo))
	l.Range(int(lo), int(hi), func(_ int, v string) bool {
		c.WriteBulkString(v)
		return true
	})
}

func cmdLindex(c *Client, args [][]byte) {
	e, l, ok := lookupList(c, args[1], false)
	if !ok {
		return
	}
	if e == nil {
		c.WriteNull()
		return
	}
	idx, ok := parseInt(args[2])
	if !ok {
		c.WriteError(msgNotInt)
		return
	}
	n := int64(l.Len())
	if idx < 0 {
		idx += n
	}
	if idx < 0 || idx >= n {
		c.WriteNull()
		return
	}
	c.WriteBulkString(l.At(int(idx)))
}

func cmdLset(c *Client, args [][]byte) {
	e, l, ok := lookupList(c, args[1], true)
	if !ok {
		return
	}
	if e == nil {
		c.WriteError(msgNoSuchKey)
		return
	}
	idx, ok := parseInt(args[2])
	if !ok {
		c.WriteError(msgNotInt)
		return
	}
	n := int64(l.Len())
	if idx < 0 {
		idx += n
	}
	if idx < 0 || idx >= n {
		c.WriteError(msgListIndexRange)
		return
	}
	l.Set(int(idx), args[3])
	commitList(c.DB(), storage.ListChange{Key: args[1], Entry: e, List: l, Event: "lset"})
	c.WriteOK()
}

func cmdLinsert(c *Client, args [][]byte) {
	var after bool
	switch {
	case eqFold(args[2], "after"):
		after = true
	case eqFold(args[2], "before"):
	default:
		c.WriteError(msgSyntax)
		return
	}
	e, l, ok := lookupList(c, args[1], true)
	if !ok {
		return
	}
	if e == nil {
		c.WriteInt(0)
		return
	}
	pivot := string(args[3])
	at := -1
	l.Range(0, l.Len(), func(i int, v string) bool {
		if v == pivot {
			at = i
			return false
		}
		return true
	})
	if at < 0 {
		c.WriteInt(-1)
		return
	}
	if after {
		at++
	}
	l.Insert(at, args[4])
	commitList(c.DB(), storage.ListChange{Key: args[1], Entry: e, List: l, Event: "linsert"})
	c.WriteInt(l.Len())
}

func cmdLrem(c *Client, args [][]byte) {
	count, ok := parseInt(args[2])
	if !ok {
		c.WriteError(msgNotInt)
		return
	}
	e, l, ok := lookupList(c, args[1], true)
	if !ok {
		return
	}
	if e == nil {
		c.WriteInt(0)
		return
	}
	elem := string(args[3])
	drop := make(map[int]bool)
	switch {
	case count >= 0:
		l.Range(0, l.Len(), func(i int, v string) bool {
			if v == elem {
				drop[i] = true
				if count > 0 && int64(len(drop)) == count {
					return false
				}
			}
			return true
		})
	default:
		l.RangeReverse(0, l.Len(), func(i int, v string) bool {
			if v == elem {
				drop[i] = true
				if int64(len(drop)) == -count {
					return false
				}
			}
			return true
		})
	}
	if len(drop) == 0 {
		c.WriteInt(0)
		return
	}
	removed := l.RemoveWhere(func(i int, _ string) bool { return drop[i] })
	commitList(c.DB(), storage.ListChange{Key: args[1], Entry: e, List: l, Event: "lrem"})
	c.WriteInt(removed)
}

func cmdLtrim(c *Client, args [][]byte) {
	start, ok1 := parseInt(args[2])
	end, ok2 := parseInt(args[3])
	if !ok1 || !ok2 {
		c.WriteError(msgNotInt)
		return
	}
	e, l, ok := lookupList(c, args[1], true)
	if !ok {
		return
	}
	if e == nil {
		c.WriteOK()
		return
	}
	n := int64(l.Len())
	lo, hi, keep := normIndex(start, end, n)
	if !keep {
		lo, hi = 0, 0
	}
	db := c.DB()
	if lo == 0 && hi == n {
		db.Signal(args[1], "ltrim") // nothing removed: no durable write
	} else {
		l.Trim(int(lo), int(hi))
		commitList(db, storage.ListChange{Key: args[1], Entry: e, List: l, Event: "ltrim"})
	}
	c.WriteOK()
}

func cmdLpos(c *Client, args [][]byte) {
	rank, count, maxlen := int64(1), int64(-1), int64(0)
	for j := 3; j < len(args); j++ {
		more := j+1 < len(args)
		switch {
		case eqFold(args[j], "rank") && more:
			j++
			v, ok := parseInt(args[j])
			if !ok {
				c.WriteError(msgNotInt)
				return
			}
			if v == 0 {
				c.WriteError(msgListRankZero)
				return
			}
			if v == -1<<63 {
				// Redis negates it into itself: every match qualifies, from the tail
				v = -1
			}
			rank = v
		case eqFold(args[j], "count") && more:
			j++
			v, ok := parseInt(args[j])
			if !ok || v < 0 {
				c.WriteError(msgListCountNeg)
				return
			}
			count = v
		case eqFold(args[j], "maxlen") && more:
			j++
			v, ok := parseInt(args[j])
			if !ok || v < 0 {
				c.WriteError(msgListMaxlenNeg)
				return
			}
			maxlen = v
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	e, l, ok := lookupList(c, args[1], false)
	if !ok {
		return
	}
	if e == nil {
		if count != -1 {
			c.WriteArray(0)
		} else {
			c.WriteNull()
		}
		return
	}
	fromTail := rank < 0
	if fromTail {
		rank = -rank
	}
	elem := string(args[2])
	var found []int
	matches := int64(0)
	scanned := int64(0)
	visit := func(i int, v string) bool {
		if maxlen != 0 && scanned >= maxlen {
			return false
		}
		scanned++
		if v != elem {
			return true
		}
		matches++
		if matches < rank {
			return true
		}
		found = append(found, i)
		if count == -1 {
			return false
		}
		return count == 0 || int64(len(found)) < count
	}
	if fromTail {
		l.RangeReverse(0, l.Len(), visit)
	} else {
		l.Range(0, l.Len(), visit)
	}
	if count == -1 {
		if len(found) == 0 {
			c.WriteNull()
		} else {
			c.WriteInt(found[0])
		}
		return
	}
	c.WriteArray(len(found))
	for _, i := range found {
		c.WriteInt(i)
	}
}

func cmdLmove(c *Client, args [][]byte) {
	from, ok1 := parseWhere(args[3])
	to, ok2 := parseWhere(args[4])
	if !ok1 || !ok2 {
		c.WriteError(msgSyntax)
		return
	}
	lmoveGeneric(c, args[1], args[2], from, to)
}

func cmdRpoplpush(c *Client, args [][]byte) { lmoveGeneric(c, args[1], args[2], false, true) }

// lmoveGeneric moves one element from src to dst and replies with it; a
// missing source gives a null bulk. It reports whether an element moved.
func lmoveGeneric(c *Client, src, dst []byte, from, to bool) bool {
	se, sl, ok := lookupList(c, src, true)
	if !ok {
		return false
	}
	if se == nil {
		c.WriteNull()
		return false
	}
	return moveFrom(c, src, se, sl, dst, from, to)
}

// moveFrom moves an element of the existing list src to dst (created if
// missing) in one atomic durable write.
func moveFrom(c *Client, src []byte, se *storage.Entry, sl *storage.List, dst []byte, from, to bool) bool {
	same := string(src) == string(dst)
	de, dl := se, sl
	if !same {
		var ok bool
		de, dl, ok = lookupList(c, dst, true)
		if !ok {
			return false
		}
		if de == nil {
			dl = storage.NewList()
		}
	}
	v := sl.Pop(from)
	dl.Push([]byte(v), to)
	tx := c.DB().Begin()
	tx.List(storage.ListChange{Key: dst, Entry: de, List: dl, Event: pushEvent(to)})
	tx.List(storage.ListChange{Key: src, Entry: se, List: sl, Event: popEvent(from)})
	tx.Commit()
	c.WriteBulkString(v)
	return true
}

func cmdLmpop(c *Client, args [][]byte) {
	keys, left, count, ok := parseMpop(c, args, 1)
	if !ok {
		return
	}
	if !mpopFirst(c, keys, left, count, false) {
		c.WriteNullArray()
	}
}

// parseMpop parses "numkeys key... LEFT|RIGHT [COUNT n]" starting at index i.
func parseMpop(c *Client, args [][]byte, i int) (keys [][]byte, left bool, count int64, ok bool) {
	n, valid := parseInt(args[i])
	if !valid || n <= 0 {
		c.WriteError(msgNumkeysPositive)
		return nil, false, 0, false
	}
	// compare before adding: a huge numkeys must not overflow the index
	if n >= int64(len(args)-i-1) {
		c.WriteError(msgSyntax)
		return nil, false, 0, false
	}
	whereIdx := int64(i) + n + 1
	if whereIdx >= int64(len(args)) {
		c.WriteError(msgSyntax)
		return nil, false, 0, false
	}
	left, valid = parseWhere(args[whereIdx])
	if !valid {
		c.WriteError(msgSyntax)
		return nil, false, 0, false
	}
	count = -1
	for j := int(whereIdx) + 1; j < len(args); j++ {
		if count == -1 && eqFold(args[j], "count") && j+1 < len(args) {
			j++
			v, valid := parseInt(args[j])
			if !valid || v <= 0 {
				c.WriteError(msgMpopCount)
				return nil, false, 0, false
			}
			count = v
			continue
		}
		c.WriteError(msgSyntax)
		return nil, false, 0, false
	}
	if count == -1 {
		count = 1
	}
	return args[i+1 : whereIdx], left, count, true
}

// mpopFirst pops from the first non-empty list of keys and replies with
// [key, [elements]] (count >= 1) or, for BLPOP/BRPOP (count -1), [key,
// element]. It reports whether it replied (served or WRONGTYPE). On a
// blocked client's re-run, keys of another type are skipped, as Redis 7.0
// keeps such a client blocked.
func mpopFirst(c *Client, keys [][]byte, left bool, count int64, retry bool) bool {
	db := c.DB()
	for _, k := range keys {
		e := db.LookupWrite(k)
		if e == nil {
			continue
		}
		l, ok := e.Object().(*storage.List)
		if e.Type != storage.TypeList || !ok {
			if retry {
				continue
			}
			c.WriteError(msgWrongType)
			return true
		}
		c.WriteArray(2)
		c.WriteBulk(k)
		if count < 0 {
			v := l.Pop(left)
			commitList(db, storage.ListChange{Key: k, Entry: e, List: l, Event: popEvent(left)})
			c.WriteBulkString(v)
		} else {
			popCountReply(c, k, e, l, left, count)
		}
		return true
	}
	return false
}

func cmdBlpop(c *Client, args [][]byte) { blockingPop(c, args, true) }
func cmdBrpop(c *Client, args [][]byte) { blockingPop(c, args, false) }

func blockingPop(c *Client, args [][]byte, left bool) {
	timeout, msg := parseTimeout(args[len(args)-1])
	if msg != "" {
		c.WriteError(msg)
		return
	}
	keys := args[1 : len(args)-1]
	if mpopFirst(c, keys, left, -1, c.blockRetry()) {
		return
	}
	c.blockOn(keys, timeout, (*Client).WriteNullArray)
}

func cmdBlmpop(c *Client, args [][]byte) {
	keys, left, count, ok := parseMpop(c, args, 2)
	if !ok {
		return
	}
	timeout, msg := parseTimeout(args[1])
	if msg != "" {
		c.WriteError(msg)
		return
	}
	if mpopFirst(c, keys, left, count, c.blockRetry()) {
		return
	}
	c.blockOn(keys, timeout, (*Client).WriteNullArray)
}

func cmdBlmove(c *Client, args [][]byte) {
	from, ok1 := parseWhere(args[3])
	if !ok1 {
		c.WriteError(msgSyntax)
		return
	}
	to, ok2 := parseWhere(args[4])
	if !ok2 {
		c.WriteError(msgSyntax)
		return
	}
	blmoveGeneric(c, args[1], args[2], from, to, args[5])
}

func cmdBrpoplpush(c *Client, args [][]byte) {
	blmoveGeneric(c, args[1], args[2], false, true, args[3])
}

func blmoveGeneric(c *Client, src, dst []byte, from, to bool, timeoutArg []byte) {
	timeout, msg := parseTimeout(timeoutArg)
	if msg != "" {
		c.WriteError(msg)
		return
	}
	e := c.DB().LookupWrite(src)
	if e != nil {
		if l, ok := e.Object().(*storage.List); ok && e.Type == storage.TypeList {
			moveFrom(c, src, e, l, dst, from, to)
			return
		}
		if !c.blockRetry() {
			c.WriteError(msgWrongType)
			return
		}
	}
	if c.inExec {
		// a transaction cannot block: Redis answers a null bulk here, but a
		// null array when a real block times out
		c.WriteNull()
		return
	}
	c.blockOn([][]byte{src}, timeout, (*Client).WriteNullArray)
}
