package server

import (
	"slices"

	"github.com/luxdb/lux-go/pubsub"
	"github.com/luxdb/lux-go/storage"
)

func init() {
	const set = "set"
	register(
		&Command{Name: "sadd", Arity: -3, Flags: FlagWrite | FlagDenyOOM | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdSAdd, Group: set, Summary: "Adds one or more members to a set. Creates the key if it doesn't exist."},
		&Command{Name: "srem", Arity: -3, Flags: FlagWrite | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdSRem, Group: set, Summary: "Removes one or more members from a set. Deletes the set if the last member was removed."},
		&Command{Name: "scard", Arity: 2, Flags: FlagReadOnly | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdSCard, Group: set, Summary: "Returns the number of members in a set."},
		&Command{Name: "sismember", Arity: 3, Flags: FlagReadOnly | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdSIsMember, Group: set, Summary: "Determines whether a member belongs to a set."},
		&Command{Name: "smismember", Arity: -3, Flags: FlagReadOnly | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdSMIsMember, Group: set, Summary: "Determines whether multiple members belong to a set."},
		&Command{Name: "smembers", Arity: 2, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Handler: cmdSMembers, Group: set, Summary: "Returns all members of a set."},
		&Command{Name: "spop", Arity: -2, Flags: FlagWrite | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdSPop, Group: set, Summary: "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."},
		&Command{Name: "srandmember", Arity: -2, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Handler: cmdSRandMember, Group: set, Summary: "Get one or multiple random members from a set."},
		&Command{Name: "smove", Arity: 4, Flags: FlagWrite | FlagFast, FirstKey: 1, LastKey: 2, Handler: cmdSMove, Group: set, Summary: "Moves a member from one set to another."},
		&Command{Name: "sinter", Arity: -2, Flags: FlagReadOnly, FirstKey: 1, LastKey: -1, Handler: cmdSInter, Group: set, Summary: "Returns the intersect of multiple sets."},
		&Command{Name: "sintercard", Arity: -3, Flags: FlagReadOnly, Keys: sinterCardKeys, Handler: cmdSInterCard, Group: set, Summary: "Returns the number of members of the intersect of multiple sets."},
		&Command{Name: "sinterstore", Arity: -3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: -1, Handler: cmdSInterStore, Group: set, Summary: "Stores the intersect of multiple sets in a key."},
		&Command{Name: "sunion", Arity: -2, Flags: FlagReadOnly, FirstKey: 1, LastKey: -1, Handler: cmdSUnion, Group: set, Summary: "Returns the union of multiple sets."},
		&Command{Name: "sunionstore", Arity: -3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: -1, Handler: cmdSUnionStore, Group: set, Summary: "Stores the union of multiple sets in a key."},
		&Command{Name: "sdiff", Arity: -2, Flags: FlagReadOnly, FirstKey: 1, LastKey: -1, Handler: cmdSDiff, Group: set, Summary: "Returns the difference of multiple sets."},
		&Command{Name: "sdiffstore", Arity: -3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: -1, Handler: cmdSDiffStore, Group: set, Summary: "Stores the difference of multiple sets in a key."},
		&Command{Name: "sscan", Arity: -3, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Handler: cmdSScan, Group: set, Summary: "Iterates over members of a set."},
	)
}

// asSet returns e's set; wrong is true when e holds another type.
func asSet(e *storage.Entry) (s *storage.Set, wrong bool) {
	if e == nil {
		return nil, false
	}
	s, ok := e.Object().(*storage.Set)
	if e.Type != storage.TypeSet || !ok {
		return nil, true
	}
	return s, false
}

// lookupSet returns key's set, nil if missing; ok is false (error written)
// when the key holds another type.
func lookupSet(c *Client, key []byte, write bool) (e *storage.Entry, s *storage.Set, ok bool) {
	if write {
		e = c.DB().LookupWrite(key)
	} else {
		e = c.DB().Lookup(key)
	}
	s, wrong := asSet(e)
	if wrong {
		c.WriteError(msgWrongType)
		return nil, nil, false
	}
	return e, s, true
}

func cmdSAdd(c *Client, args [][]byte) {
	key := args[1]
	e, s, ok := lookupSet(c, key, true)
	if !ok {
		return
	}
	if s == nil {
		s = storage.NewSet()
	}
	before := s.MemSize()
	var small [8]int
	added := small[:0]
	for i, m := range args[2:] {
		if s.Add(m) {
			added = append(added, i+2)
		}
	}
	if len(added) > 0 {
		tx := c.DB().Begin()
		if e == nil {
			e = tx.Create(key, s)
			before = s.MemSize()
		}
		for _, i := range added {
			tx.Put(key, args[i], nil)
		}
		tx.Changed(key, e, int64(s.MemSize()-before), "sadd")
		tx.Commit()
	}
	c.WriteInt(len(added))
}

func cmdSRem(c *Client, args [][]byte) {
	key := args[1]
	e, s, ok := lookupSet(c, key, true)
	if !ok {
		return
	}
	if s == nil {
		c.WriteInt(0)
		return
	}
	var tx *storage.Tx
	before := s.MemSize()
	n := 0
	for _, m := range args[2:] {
		if s.Remove(m) {
			if tx == nil {
				tx = c.DB().Begin()
			}
			n++
			tx.Del(key, m)
			if s.Len() == 0 {
				break
			}
		}
	}
	if tx != nil {
		tx.Changed(key, e, int64(s.MemSize()-before), "srem")
		tx.Commit()
	}
	c.WriteInt(n)
}

func cmdSCard(c *Client, args [][]byte) {
	_, s, ok := lookupSet(c, args[1], false)
	if !ok {
		return
	}
	if s == nil {
		c.WriteInt(0)
		return
	}
	c.WriteInt(s.Len())
}

func cmdSIsMember(c *Client, args [][]byte) {
	_, s, ok := lookupSet(c, args[1], false)
	if !ok {
		return
	}
	if s != nil && s.Has(args[2]) {
		c.WriteInt(1)
	} else {
		c.WriteInt(0)
	}
}

func cmdSMIsMember(c *Client, args [][]byte) {
	_, s, ok := lookupSet(c, args[1], false)
	if !ok {
		return
	}
	c.WriteArray(len(args) - 2)
	for _, m := range args[2:] {
		if s != nil && s.Has(m) {
			c.WriteInt(1)
		} else {
			c.WriteInt(0)
		}
	}
}

// hsWriteSet replies with every member of s (nil = empty), a set in RESP3.
func hsWriteSet(c *Client, s *storage.Set) {
	if s == nil {
		c.WriteSet(0)
		return
	}
	c.WriteSet(s.Len())
	s.ForEach(func(m []byte) bool {
		c.WriteBulk(m)
		return true
	})
}

func cmdSMembers(c *Client, args [][]byte) {
	_, s, ok := lookupSet(c, args[1], false)
	if !ok {
		return
	}
	hsWriteSet(c, s)
}

func cmdSPop(c *Client, args [][]byte) {
	if len(args) > 3 {
		c.WriteError(msgSyntax)
		return
	}
	key := args[1]
	if len(args) == 2 {
		e, s, ok := lookupSet(c, key, true)
		if !ok {
			return
		}
		if s == nil {
			c.WriteNull()
			return
		}
		m := append([]byte(nil), s.Random()...)
		before := s.MemSize()
		s.Remove(m)
		tx := c.DB().Begin()
		tx.Del(key, m)
		tx.Changed(key, e, int64(s.MemSize()-before), "spop")
		tx.Commit()
		c.WriteBulk(m)
		return
	}
	n, ok := parseInt(args[2])
	if !ok || n < 0 {
		// getPositiveLongFromObjectOrReply: one message for both cases
		c.WriteError(msgSetPopPositive)
		return
	}
	e, s, ok := lookupSet(c, key, true)
	if !ok {
		return
	}
	if s == nil || n == 0 {
		c.WriteSet(0)
		return
	}
	tx := c.DB().Begin()
	defer tx.Commit()
	if n >= int64(s.Len()) {
		// the whole set: reply with it and drop the key (Redis: "spop" then "del")
		hsWriteSet(c, s)
		tx.Signal(key, "spop")
		tx.Delete(key)
		return
	}
	popped := make([][]byte, 0, n)
	s.RandomDistinct(int(n), func(m []byte) {
		popped = append(popped, append([]byte(nil), m...))
	})
	c.WriteSet(len(popped))
	before := s.MemSize()
	for _, m := range popped {
		c.WriteBulk(m)
		s.Remove(m)
		tx.Del(key, m)
	}
	tx.Changed(key, e, int64(s.MemSize()-before), "spop")
}

func cmdSRandMember(c *Client, args [][]byte) {
	if len(args) > 3 {
		c.WriteError(msgSyntax)
		return
	}
	if len(args) == 2 {
		_, s, ok := lookupSet(c, args[1], false)
		if !ok {
			return
		}
		if s == nil {
			c.WriteNull()
			return
		}
		c.WriteBulk(s.Random())
		return
	}
	l, msg := hsRandCount(args[2])
	if msg != "" {
		c.WriteError(msg)
		return
	}
	_, s, ok := lookupSet(c, args[1], false)
	if !ok {
		return
	}
	if s == nil || l == 0 {
		c.WriteArray(0)
		return
	}
	if l < 0 || l == 1 {
		count := -l
		if l == 1 {
			count = 1
		}
		if count > hsMaxRandomReply {
			c.WriteError(msgHSReplyTooLarge)
			return
		}
		c.WriteArray(int(count))
		for i := int64(0); i < count; i++ {
			c.WriteBulk(s.Random())
		}
		return
	}
	if l >= int64(s.Len()) {
		// the whole set, in SMEMBERS order as Redis replies (an array in
		// RESP3 too)
		c.WriteArray(s.Len())
		s.ForEach(func(m []byte) bool {
			c.WriteBulk(m)
			return true
		})
		return
	}
	c.WriteArray(int(l))
	s.RandomDistinct(int(l), func(m []byte) { c.WriteBulk(m) })
}

func cmdSMove(c *Client, args [][]byte) {
	src, dst, m := args[1], args[2], args[3]
	db := c.DB()
	se := db.LookupWrite(src)
	de := db.LookupWrite(dst)
	if se == nil {
		c.WriteInt(0)
		return
	}
	ss, wrongSrc := asSet(se)
	ds, wrongDst := asSet(de)
	if wrongSrc || wrongDst {
		c.WriteError(msgWrongType)
		return
	}
	if se == de {
		if ss.Has(m) {
			c.WriteInt(1)
		} else {
			c.WriteInt(0)
		}
		return
	}
	before := ss.MemSize()
	if !ss.Remove(m) {
		c.WriteInt(0)
		return
	}
	// one durable write for both keys: a crash cannot lose the member
	tx := db.Begin()
	tx.Del(src, m)
	tx.Changed(src, se, int64(ss.MemSize()-before), "srem")
	if ds == nil {
		ds = storage.NewSet()
		ds.Add(m)
		de = tx.Create(dst, ds)
		tx.Put(dst, m, nil)
		tx.Changed(dst, de, 0, "sadd")
	} else {
		before = ds.MemSize()
		if ds.Add(m) {
			tx.Put(dst, m, nil)
			tx.Changed(dst, de, int64(ds.MemSize()-before), "sadd")
		}
	}
	tx.Commit()
	c.WriteInt(1)
}

// sinterCardKeys is SINTERCARD's key spec: numkeys keys after numkeys.
func sinterCardKeys(args [][]byte) [][]byte {
	if len(args) < 3 {
		return nil
	}
	n, ok := parseInt(args[1])
	if !ok || n < 1 || n > int64(len(args)-2) {
		return nil
	}
	return args[2 : 2+n]
}

// lookupSets fetches the sets named by keys (nil for a missing key); ok is
// false (error written) if any key holds another type.
func lookupSets(c *Client, keys [][]byte) (sets []*storage.Set, ok bool) {
	db := c.DB()
	sets = make([]*storage.Set, len(keys))
	wrong := false
	for i, k := range keys {
		s, w := asSet(db.Lookup(k))
		sets[i] = s
		wrong = wrong || w
	}
	if wrong {
		c.WriteError(msgWrongType)
		return nil, false
	}
	return sets, true
}

// hsInterSets calls fn for each member of the intersection, smallest set's
// order, stopping when fn returns false. Any missing set makes it empty.
func hsInterSets(sets []*storage.Set, fn func(m []byte) bool) {
	for _, s := range sets {
		if s == nil {
			return
		}
	}
	sorted := slices.Clone(sets)
	slices.SortStableFunc(sorted, func(a, b *storage.Set) int { return a.Len() - b.Len() })
	first := sorted[0]
	first.ForEach(func(m []byte) bool {
		for _, o := range sorted[1:] {
			if o != first && !o.Has(m) {
				return true
			}
		}
		return fn(m)
	})
}

// hsUnionSets builds the union of sets (nil = empty) as a new set.
func hsUnionSets(sets []*storage.Set) *storage.Set {
	res := storage.NewSet()
	for _, s := range sets {
		if s == nil {
			continue
		}
		s.ForEach(func(m []byte) bool {
			res.Add(m)
			return true
		})
	}
	return res
}

// hsDiffSets builds sets[0] minus the others as a new set.
func hsDiffSets(sets []*storage.Set) *storage.Set {
	res := storage.NewSet()
	first := sets[0]
	if first == nil {
		return res
	}
	for _, o := range sets[1:] {
		if o == first {
			return res // the same key twice: nothing survives
		}
	}
	first.ForEach(func(m []byte) bool {
		for _, o := range sets[1:] {
			if o != nil && o.Has(m) {
				return true
			}
		}
		res.Add(m)
		return true
	})
	return res
}

// hsStoreSet replaces dst with res (deleting dst when res is empty) and
// replies with the cardinality (SINTERSTORE, SUNIONSTORE, SDIFFSTORE), in
// one durable write.
func hsStoreSet(c *Client, dst []byte, res *storage.Set, event string) {
	tx := c.DB().Begin()
	defer tx.Commit()
	if res.Len() == 0 {
		tx.Delete(dst)
		c.WriteInt(0)
		return
	}
	e := tx.Create(dst, res)
	res.ForEachElem(func(sub, _ []byte) { tx.Put(dst, sub, nil) })
	tx.Changed(dst, e, 0, event)
	c.WriteInt(res.Len())
}

func cmdSInter(c *Client, args [][]byte) {
	sets, ok := lookupSets(c, args[1:])
	if !ok {
		return
	}
	var out [][]byte
	hsInterSets(sets, func(m []byte) bool {
		out = append(out, m)
		return true
	})
	c.WriteSet(len(out))
	for _, m := range out {
		c.WriteBulk(m)
	}
}

func cmdSInterCard(c *Client, args [][]byte) {
	numkeys, ok := parseInt(args[1])
	if !ok || numkeys < 1 {
		c.WriteError(msgSetNumKeys)
		return
	}
	if numkeys > int64(len(args)-2) {
		c.WriteError(msgSetNumKeysTooMany)
		return
	}
	var limit int64
	for j := 2 + int(numkeys); j < len(args); j++ {
		if eqFold(args[j], "limit") && j+1 < len(args) {
			j++
			if limit, ok = parseInt(args[j]); !ok || limit < 0 {
				c.WriteError(msgSetLimitNeg)
				return
			}
		} else {
			c.WriteError(msgSyntax)
			return
		}
	}
	sets, ok := lookupSets(c, args[2:2+numkeys])
	if !ok {
		return
	}
	var n int64
	hsInterSets(sets, func([]byte) bool {
		n++
		return limit == 0 || n < limit
	})
	c.WriteInt64(n)
}

func cmdSInterStore(c *Client, args [][]byte) {
	sets, ok := lookupSets(c, args[2:])
	if !ok {
		return
	}
	res := storage.NewSet()
	hsInterSets(sets, func(m []byte) bool {
		res.Add(m)
		return true
	})
	hsStoreSet(c, args[1], res, "sinterstore")
}

func cmdSUnion(c *Client, args [][]byte) {
	sets, ok := lookupSets(c, args[1:])
	if !ok {
		return
	}
	hsWriteSet(c, hsUnionSets(sets))
}

func cmdSUnionStore(c *Client, args [][]byte) {
	sets, ok := lookupSets(c, args[2:])
	if !ok {
		return
	}
	hsStoreSet(c, args[1], hsUnionSets(sets), "sunionstore")
}

func cmdSDiff(c *Client, args [][]byte) {
	sets, ok := lookupSets(c, args[1:])
	if !ok {
		return
	}
	hsWriteSet(c, hsDiffSets(sets))
}

func cmdSDiffStore(c *Client, args [][]byte) {
	sets, ok := lookupSets(c, args[2:])
	if !ok {
		return
	}
	hsStoreSet(c, args[1], hsDiffSets(sets), "sdiffstore")
}

func cmdSScan(c *Client, args [][]byte) {
	cursor, ok := hsParseCursor(args[2])
	if !ok {
		c.WriteError(msgInvalidCursor)
		return
	}
	_, s, ok := lookupSet(c, args[1], false)
	if !ok {
		return
	}
	if s == nil {
		hsWriteScan(c, 0, nil)
		return
	}
	o, msg := hsParseScanOpts(args[3:])
	if msg != "" {
		c.WriteError(msg)
		return
	}
	var items [][]byte
	next := s.Scan(cursor, o.count, func(m []byte) {
		if o.pattern == nil || pubsub.Match(o.pattern, m, false) {
			items = append(items, m)
		}
	})
	hsWriteScan(c, next, items)
}
