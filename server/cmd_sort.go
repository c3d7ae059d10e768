package server

import (
	"bytes"
	"math"
	"slices"

	"github.com/luxdb/lux-go/storage"
)

// SORT and SORT_RO, as Redis 7.0's sort.c: the elements of a list, set or
// sorted set, sorted as numbers or (ALPHA) as strings, by themselves or by
// the values of other keys (BY pattern, with "->field" for a hash field),
// limited (LIMIT), mapped to other keys' values (GET pattern, "#" for the
// element), returned or stored as a list (STORE). A BY or GET pattern names
// keys only known while running, so such a call locks the whole database
// (sortLocksDB), as Redis's single thread does.

func init() {
	const g = "generic"
	register(
		&Command{Name: "sort", Arity: -2, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Step: 1, Keys: sortKeys, LockDB: sortLocksDB, Handler: cmdSort, Group: g, Summary: "Sorts the elements in a list, a set, or a sorted set, optionally storing the result."},
		&Command{Name: "sort_ro", Arity: -2, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Step: 1, LockDB: sortLocksDB, Handler: cmdSortRO, Group: g, Summary: "Returns the sorted elements of a list, a set, or a sorted set."},
	)
}

// sortKeys is SORT's key spec: the sorted key and the STORE destination.
func sortKeys(args [][]byte) [][]byte {
	if len(args) < 2 {
		return nil
	}
	keys := [][]byte{args[1]}
	if i := sortStoreArg(args); i > 0 {
		keys = append(keys, args[i])
	}
	return keys
}

// sortStoreArg is the position of SORT's STORE destination (the last STORE
// wins), 0 without one, found as Redis's sortGetKeys does: LIMIT's two
// arguments and a GET or BY pattern are skipped, not taken for keys.
func sortStoreArg(args [][]byte) int {
	store := 0
	for i := 2; i < len(args); i++ {
		switch {
		case eqFold(args[i], "limit"):
			i += 2
		case eqFold(args[i], "get"), eqFold(args[i], "by"):
			i++
		case eqFold(args[i], "store") && i+1 < len(args):
			store = i + 1
		}
	}
	return store
}

// sortLocksDB reports whether a SORT reads keys its patterns name: a BY
// pattern with '*' or a GET pattern other than "#".
func sortLocksDB(args [][]byte) bool {
	for i := 2; i+1 < len(args); i++ {
		switch {
		case eqFold(args[i], "limit"):
			i += 2
		case eqFold(args[i], "by"):
			if bytes.IndexByte(args[i+1], '*') >= 0 {
				return true
			}
			i++
		case eqFold(args[i], "get"):
			if !bytes.Equal(args[i+1], []byte("#")) {
				return true
			}
			i++
		case eqFold(args[i], "store"):
			i++
		}
	}
	return false
}

func cmdSort(c *Client, args [][]byte)   { sortGeneric(c, args, false) }
func cmdSortRO(c *Client, args [][]byte) { sortGeneric(c, args, true) }

// sortItem is one element to sort: its value and, once computed, the
// number or the string it sorts by.
type sortItem struct {
	obj   []byte
	score float64
	cmp   []byte // ALPHA with BY: the pattern's value (nil when missing)
}

func sortGeneric(c *Client, args [][]byte, readonly bool) {
	var (
		desc, alpha, dontsort bool
		limitStart, limitCnt  int64 = 0, -1
		sortby, storekey      []byte
		gets                  [][]byte
	)
	// BY and GET patterns name keys no ACL check saw: they need a user
	// that may read every key (ACLUserCheckCmdWithUnrestrictedKeyAccess)
	fullKeyAccess := c.fullKeyRead(args)
	for j := 2; j < len(args); j++ {
		left := len(args) - j - 1
		a := args[j]
		switch {
		case eqFold(a, "asc"):
			desc = false
		case eqFold(a, "desc"):
			desc = true
		case eqFold(a, "alpha"):
			alpha = true
		case eqFold(a, "limit") && left >= 2:
			var ok bool
			if limitStart, ok = parseInt(args[j+1]); !ok {
				c.WriteError(msgNotInt)
				return
			}
			if limitCnt, ok = parseInt(args[j+2]); !ok {
				c.WriteError(msgNotInt)
				return
			}
			j += 2
		case !readonly && eqFold(a, "store") && left >= 1:
			storekey = args[j+1]
			j++
		case eqFold(a, "by") && left >= 1:
			sortby = args[j+1]
			// a constant BY pattern: nothing to sort, no key to read
			dontsort = bytes.IndexByte(sortby, '*') < 0
			if !dontsort && !fullKeyAccess {
				c.WriteError("ERR BY option of SORT denied due to insufficient ACL permissions.")
				return
			}
			j++
		case eqFold(a, "get") && left >= 1:
			if !fullKeyAccess {
				c.WriteError("ERR GET option of SORT denied due to insufficient ACL permissions.")
				return
			}
			gets = append(gets, args[j+1])
			j++
		default:
			c.WriteError(msgSyntax)
			return
		}
	}

	e := c.DB().Lookup(args[1])
	if e != nil && e.Type != storage.TypeSet && e.Type != storage.TypeList && e.Type != storage.TypeZSet {
		c.WriteError(msgWrongType)
		return
	}
	// A set has no order of its own: stored or read by a script it is
	// sorted as strings so that the result is the same everywhere.
	if dontsort && e != nil && e.Type == storage.TypeSet && (storekey != nil || c.scriptKeys != nil) {
		dontsort, alpha, sortby = false, true, nil
	}
	vectorlen := 0
	if e != nil {
		vectorlen = e.Object().Len()
	}
	// LIMIT, bounded by the length as Redis does
	start := min(max(limitStart, 0), int64(vectorlen))
	limitCnt = min(max(limitCnt, -1), int64(vectorlen))
	end := start + limitCnt - 1
	if limitCnt < 0 {
		end = int64(vectorlen) - 1
	}
	if start >= int64(vectorlen) {
		start, end = int64(vectorlen)-1, int64(vectorlen)-2
	}
	end = min(end, int64(vectorlen)-1)

	var vec []sortItem
	ordered := e != nil && (e.Type == storage.TypeList || e.Type == storage.TypeZSet)
	switch {
	case e == nil:
	case ordered && dontsort:
		// the key's own order (reversed by DESC), only the LIMIT range
		if end >= start {
			n := int(end - start + 1)
			vec = make([]sortItem, 0, n)
			switch o := e.Object().(type) {
			case *storage.List:
				add := func(_ int, v string) bool { vec = append(vec, sortItem{obj: []byte(v)}); return true }
				if desc {
					o.RangeReverse(vectorlen-int(start)-n, vectorlen-int(start), add)
				} else {
					o.Range(int(start), int(start)+n, add)
				}
			case *storage.ZSet:
				o.Range(int(start), int(start)+n, desc, func(m []byte, _ float64) bool {
					vec = append(vec, sortItem{obj: bytes.Clone(m)})
					return true
				})
			}
			end -= start
			start = 0
		}
	default:
		vec = make([]sortItem, 0, vectorlen)
		switch o := e.Object().(type) {
		case *storage.List:
			o.Range(0, vectorlen, func(_ int, v string) bool { vec = append(vec, sortItem{obj: []byte(v)}); return true })
		case *storage.Set:
			o.ForEach(func(m []byte) bool { vec = append(vec, sortItem{obj: bytes.Clone(m)}); return true })
		case *storage.ZSet:
			o.ForEach(func(m []byte, _ float64) bool { vec = append(vec, sortItem{obj: bytes.Clone(m)}); return true })
		}
	}

	convErr := false
	if !dontsort {
		for i := range vec {
			by := vec[i].obj
			if sortby != nil {
				v, ok := sortLookup(c, sortby, vec[i].obj)
				if !ok {
					continue
				}
				by = v
			}
			if alpha {
				if sortby != nil {
					vec[i].cmp = by
				}
				continue
			}
			// strtod over the whole value; an empty value is 0
			f, n, erange := cStrtod(by)
			if (n != len(by) && by[n] != 0) || erange || math.IsNaN(f) {
				convErr = true
			}
			vec[i].score = f
		}
		cmp := func(a, b sortItem) int {
			x := sortCompare(&a, &b, alpha, sortby != nil)
			if desc {
				x = -x
			}
			return x
		}
		if sortby == nil {
			// a total order (ties only between equal elements): pdqsort
			slices.SortFunc(vec, cmp)
		} else {
			// elements with equal BY values keep their order
			slices.SortStableFunc(vec, cmp)
		}
	}

	var out []sortItem // the LIMIT range
	if end >= start {
		out = vec[start : end+1]
	}
	n := len(out)
	outputlen := n
	if len(gets) > 0 {
		outputlen = len(gets) * n
	}
	switch {
	case convErr:
		c.WriteError("ERR One or more scores can't be converted into double")
	case storekey == nil:
		c.WriteArray(outputlen)
		for _, it := range out {
			if len(gets) == 0 {
				c.WriteBulk(it.obj)
			}
			for _, p := range gets {
				if v, ok := sortLookup(c, p, it.obj); ok {
					c.WriteBulk(v)
				} else {
					c.WriteNull()
				}
			}
		}
	default:
		tx := c.DB().Begin()
		defer tx.Commit()
		if outputlen == 0 {
			tx.Delete(storekey)
			c.WriteInt(0)
			return
		}
		l := storage.NewList()
		for _, it := range out {
			if len(gets) == 0 {
				l.PushRight(it.obj)
			}
			for _, p := range gets {
				v, _ := sortLookup(c, p, it.obj)
				l.PushRight(v)
			}
		}
		tx.Store(storekey, l, "sortstore")
		c.WriteInt(outputlen)
	}
}

// sortCompare orders two elements as Redis's sortCompare (before DESC):
// by number, ties broken by the elements' bytes; ALPHA by the BY values
// (a missing one first) or by the elements.
func sortCompare(a, b *sortItem, alpha, byPattern bool) int {
	if !alpha {
		switch {
		case a.score > b.score:
			return 1
		case a.score < b.score:
			return -1
		}
		return bytes.Compare(a.obj, b.obj)
	}
	if !byPattern {
		return bytes.Compare(a.obj, b.obj)
	}
	switch {
	case a.cmp == nil && b.cmp == nil:
		return 0
	case a.cmp == nil:
		return -1
	case b.cmp == nil:
		return 1
	}
	return bytes.Compare(a.cmp, b.cmp)
}

// sortLookup is Redis's lookupKeyByPattern: "#" is the element itself; the
// first '*' is replaced by the element; "key->field" (the arrow after the
// '*', with a field after it) reads a hash field, otherwise a string. A
// pattern without '*', a missing key or one of another type gives false.
func sortLookup(c *Client, pattern, subst []byte) ([]byte, bool) {
	if len(pattern) == 1 && pattern[0] == '#' {
		return subst, true
	}
	star := bytes.IndexByte(pattern, '*')
	if star < 0 {
		return nil, false
	}
	var field []byte
	rest := pattern[star+1:]
	if f := bytes.Index(rest, []byte("->")); f >= 0 && f+2 < len(rest) {
		field = rest[f+2:]
		rest = rest[:f]
	}
	key := make([]byte, 0, star+len(subst)+len(rest))
	key = append(append(append(key, pattern[:star]...), subst...), rest...)
	e := c.DB().Lookup(key)
	if e == nil {
		return nil, false
	}
	if field != nil {
		h, ok := e.Object().(*storage.Hash)
		if e.Type != storage.TypeHash || !ok {
			return nil, false
		}
		return h.Get(field)
	}
	if e.Type != storage.TypeString {
		return nil, false
	}
	return e.Bytes(), true
}
