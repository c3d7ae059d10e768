package storage

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"sort"
	"sync/atomic"
)

// Encoding thresholds of sorted sets with Redis's defaults
// (zset-max-listpack-entries, zset-max-listpack-value). They only decide
// what OBJECT ENCODING reports and whether ZSCAN returns everything at once
// (as Redis does for a listpack); the representation is the same either way.
var (
	// ZsetMaxListpackEntries is zset-max-listpack-entries.
	ZsetMaxListpackEntries atomic.Int64
	// ZsetMaxListpackValue is zset-max-listpack-value.
	ZsetMaxListpackValue atomic.Int64
)

func init() {
	ZsetMaxListpackEntries.Store(128)
	ZsetMaxListpackValue.Store(64)
	RegisterLoader(TypeZSet, loadZSet)
}

// ZSet is a Redis sorted set, in one of two forms.
//
// Small sets (up to zSmallMax members and zSmallBytes of records, the common
// case of many small keys) are a listpack-like byte slice: records
// uvarint(len(member)<<1) member score, the score as 8 little-endian IEEE 754
// bytes, kept in (score, member) order. Every operation is a linear walk, as
// on Redis's listpack, and the set costs little more than its bytes.
//
// Larger sets move, once, to a ztree: the same records in an arena without Go
// pointers, indexed twice:
//
//   - arena holds the records in insertion order. A removed member's record
//     is only flagged dead (the low header bit); the arena is rebuilt once
//     more than half of it is dead.
//   - slots is an open-addressing (linear probing) hash index member ->
//     record, laid out like the hash/set dict (tag<<zOffBits | offset+1, home
//     slot = top bits of the hash) so that ZSCAN cursors are stable positions
//     in hash order.
//   - an order-statistic B+tree of (score, record offset) entries ordered by
//     (score, member bytes) gives O(log n) rank, select and range search.
//     Inner nodes keep the entry count and the smallest entry of each child.
//
// So a member of a big set costs its bytes plus about 10 (arena), 8-16 (index
// slot) and 16-32 (tree entry) bytes, and a big sorted set is a handful of
// pointers for the garbage collector. The form is independent of the encoding
// OBJECT ENCODING reports (big). Byte slices a ZSet returns alias its
// storage: they are valid until the next mutation.
type ZSet struct {
	lp []byte // small form: records in order (nil once t is set)
	n  int    // members of the small form
	// big is sticky like Redis's listpack -> skiplist conversion: set once
	// the set exceeded zset-max-listpack-entries or held a long member.
	big bool
	t   *ztree // large form
}

// ztree is the large form of a sorted set.
type ztree struct {
	arena      []byte
	slots      []uint64
	n          int
	dead       int   // bytes of dead records in arena
	shift      uint8 // 64 - log2(len(slots))
	root       *znode
	head, tail *znode // first and last leaf
}

// zent is one tree entry: a score and the offset of its record.
type zent struct {
	score float64
	off   int
}

// znode is a B+tree node: a leaf has ents, an inner node kids.
type znode struct {
	ents       []zent   // leaf: entries in order
	kids       []*znode // inner: children in order
	firsts     []zent   // inner: smallest entry under each child
	cnts       []int    // inner: number of entries under each child
	prev, next *znode   // leaf chain
}

const (
	zOffBits   = 40
	zOffMask   = 1<<zOffBits - 1
	zTagBits   = 64 - zOffBits
	zLinearMax = 8  // members kept without a hash index
	zMinSlots  = 16 // smallest hash index
	zLeafMax   = 64 // entries per leaf
	zLeafMin   = zLeafMax / 4
	zInnerMax  = 64 // children per inner node
	zInnerMin  = zInnerMax / 4
	zLoadFill  = zLeafMax * 7 / 8 // leaf fill when building in bulk
	// zSmallMax and zSmallBytes bound the small form (see ZSet); like
	// Redis's listpack limits, but fixed: they only trade speed for memory.
	zSmallMax   = 128
	zSmallBytes = 8 << 10
)

// zsetSeed is per process, like dictSeed: ZSCAN cursors are valid for the
// life of the process.
var zsetSeed = maphash.MakeSeed()

func zhash(m []byte) uint64 { return maphash.Bytes(zsetSeed, m) }

// NewZSet returns an empty sorted set.
func NewZSet() *ZSet { return &ZSet{} }

// Type implements Object.
func (z *ZSet) Type() Type { return TypeZSet }

// Len implements Object.
func (z *ZSet) Len() int {
	if z.t != nil {
		return z.t.n
	}
	return z.n
}

// MemSize implements Object. The tree is estimated from the member count
// (entries of 16 bytes at about two thirds fill) so that the figure is O(1)
// and a function of the contents only.
func (z *ZSet) MemSize() int {
	if t := z.t; t != nil {
		return cap(t.arena) + 8*cap(t.slots) + 24*t.n + 160
	}
	return cap(z.lp) + 48
}

// Encoding implements Object: what Redis 7.0 would report for the same history.
func (z *ZSet) Encoding() string {
	if z.big {
		return "skiplist"
	}
	return "listpack"
}

// MetaPayload implements Object: a sorted set keeps nothing in its meta record.
func (z *ZSet) MetaPayload() []byte { return nil }

// ---- arena records ----

// rec decodes the record at off (see zrecAt).
func (z *ztree) rec(off int) (m []byte, score float64, end int) { return zrecAt(z.arena, off) }

func (z *ztree) memberAt(off int) []byte {
	hv, n := binary.Uvarint(z.arena[off:])
	p := off + n
	l := int(hv >> 1)
	return z.arena[p : p+l : p+l]
}

func (z *ztree) scorePos(off int) int {
	hv, n := binary.Uvarint(z.arena[off:])
	return off + n + int(hv>>1)
}

func (z *ztree) live(off int) bool { return z.arena[off]&1 == 0 }

func (z *ztree) appendRec(m []byte, score float64) int {
	off := len(z.arena)
	z.arena = zappendRec(z.arena, m, score)
	return off
}

// ---- hash index (see dict in hash.go for the layout and its reasons) ----

func zslotOff(s uint64) int { return int(s&zOffMask) - 1 }

func (z *ztree) home(s uint64, shift uint8) int {
	k := 64 - shift
	if k <= zTagBits {
		return int((s >> zOffBits) >> (zTagBits - k))
	}
	return int(zhash(z.memberAt(zslotOff(s))) >> shift)
}

// find returns the offset of m's record (-1 if absent) and its slot (-1
// without an index).
func (z *ztree) find(m []byte) (off, slot int) {
	if z.n == 0 {
		return -1, -1
	}
	if z.slots == nil {
		for p := 0; p < len(z.arena); {
			k, _, end := z.rec(p)
			if z.live(p) && bytes.Equal(k, m) {
				return p, -1
			}
			p = end
		}
		return -1, -1
	}
	h := zhash(m)
	tag := h >> zOffBits
	mask := len(z.slots) - 1
	for i := int(h >> z.shift); ; i = (i + 1) & mask {
		s := z.slots[i]
		if s == 0 {
			return -1, -1
		}
		if s>>zOffBits == tag && bytes.Equal(z.memberAt(zslotOff(s)), m) {
			return zslotOff(s), i
		}
	}
}

func (z *ztree) place(s uint64) {
	mask := len(z.slots) - 1
	i := z.home(s, z.shift)
	for z.slots[i] != 0 {
		i = (i + 1) & mask
	}
	z.slots[i] = s
}

// reindex rebuilds the index from the live records with size slots (0 = none).
func (z *ztree) reindex(size int) {
	if size == 0 {
		z.slots = nil
		return
	}
	z.slots = make([]uint64, size)
	z.shift = uint8(64 - bits.TrailingZeros(uint(size)))
	for p := 0; p < len(z.arena); {
		k, _, end := z.rec(p)
		if z.live(p) {
			z.place(zhash(k)>>zOffBits<<zOffBits | uint64(p+1))
		}
		p = end
	}
}

func zslotsFor(n int) int {
	size := zMinSlots
	for size < 2*n {
		size <<= 1
	}
	return size
}

// grow doubles the index, moving the slot values without rehashing members.
func (z *ztree) grow() {
	old := z.slots
	z.slots = make([]uint64, 2*len(old))
	z.shift--
	for _, s := range old {
		if s != 0 {
			z.place(s)
		}
	}
}

// unslot empties slot i with backward shifting (Knuth's algorithm R).
func (z *ztree) unslot(i int) {
	mask := len(z.slots) - 1
	for {
		z.slots[i] = 0
		j := i
		for {
			j = (j + 1) & mask
			s := z.slots[j]
			if s == 0 {
				return
			}
			h := z.home(s, z.shift)
			if (i < j && (h <= i || h > j)) || (i > j && h <= i && h > j) {
				z.slots[i] = s
				i = j
				break
			}
		}
	}
}

// ---- B+tree ----

// cmp orders entry e against (score, m): by score, then member bytes.
func (z *ztree) cmp(e zent, score float64, m []byte) int {
	switch {
	case e.score < score:
		return -1
	case e.score > score:
		return 1
	}
	return bytes.Compare(z.memberAt(e.off), m)
}

func (n *znode) leaf() bool { return n.kids == nil }

func (n *znode) first() zent {
	if n.kids == nil {
		return n.ents[0]
	}
	return n.firsts[0]
}

// width is the node's fill: entries of a leaf, children of an inner node.
func (n *znode) width() int {
	if n.kids == nil {
		return len(n.ents)
	}
	return len(n.kids)
}

func (n *znode) count() int {
	if n.kids == nil {
		return len(n.ents)
	}
	t := 0
	for _, c := range n.cnts {
		t += c
	}
	return t
}

// route returns the child of inner node n whose range holds (score, m).
func (z *ztree) route(n *znode, score float64, m []byte) int {
	j := sort.Search(len(n.firsts), func(k int) bool { return z.cmp(n.firsts[k], score, m) > 0 })
	if j == 0 {
		return 0
	}
	return j - 1
}

// leafInsert inserts e at i, growing the slice geometrically up to zLeafMax.
func leafInsert(ents []zent, i int, e zent) []zent {
	if len(ents) == cap(ents) {
		nc := min(max(2*cap(ents), 4), zLeafMax)
		ne := make([]zent, len(ents), nc)
		copy(ne, ents)
		ents = ne
	}
	return slices.Insert(ents, i, e)
}

// treeInsert adds entry e (member m) to the tree.
func (z *ztree) treeInsert(e zent, m []byte) {
	if z.root == nil {
		l := &znode{ents: make([]zent, 0, 2)}
		l.ents = append(l.ents, e)
		z.root, z.head, z.tail = l, l, l
		return
	}
	if right := z.insertRec(z.root, e, m); right != nil {
		old := z.root
		z.root = &znode{
			kids:   []*znode{old, right},
			firsts: []zent{old.first(), right.first()},
			cnts:   []int{old.count(), right.count()},
		}
	}
}

// insertRec inserts into the subtree n and returns a new right sibling when
// n had to split.
func (z *ztree) insertRec(n *znode, e zent, m []byte) *znode {
	if n.leaf() {
		i := sort.Search(len(n.ents), func(k int) bool { return z.cmp(n.ents[k], e.score, m) > 0 })
		if len(n.ents) < zLeafMax {
			n.ents = leafInsert(n.ents, i, e)
			return nil
		}
		right := z.splitLeaf(n, i)
		if i < len(n.ents) || (i == len(n.ents) && len(n.ents) < zLeafMax) {
			n.ents = leafInsert(n.ents, i, e)
		} else {
			right.ents = leafInsert(right.ents, i-len(n.ents), e)
		}
		return right
	}
	i := z.route(n, e.score, m)
	kid := n.kids[i]
	right := z.insertRec(kid, e, m)
	n.cnts[i]++
	n.firsts[i] = kid.first()
	if right == nil {
		return nil
	}
	rc := right.count()
	n.cnts[i] -= rc
	n.kids = slices.Insert(n.kids, i+1, right)
	n.firsts = slices.Insert(n.firsts, i+1, right.first())
	n.cnts = slices.Insert(n.cnts, i+1, rc)
	if len(n.kids) <= zInnerMax {
		return nil
	}
	h := len(n.kids) / 2
	r := &znode{
		kids:   append(make([]*znode, 0, zInnerMax+1), n.kids[h:]...),
		firsts: append(make([]zent, 0, zInnerMax+1), n.firsts[h:]...),
		cnts:   append(make([]int, 0, zInnerMax+1), n.cnts[h:]...),
	}
	clear(n.kids[h:])
	n.kids, n.firsts, n.cnts = n.kids[:h], n.firsts[:h], n.cnts[:h]
	return r
}

// splitLeaf splits a full leaf before inserting at position i. Appending at
// the end of the last leaf (or prepending to the first) keeps the old leaf
// full, so ascending or descending inserts leave leaves packed, not half
// empty.
func (z *ztree) splitLeaf(n *znode, i int) *znode {
	h := zLeafMax / 2
	switch {
	case i == len(n.ents) && n.next == nil:
		h = len(n.ents)
	case i == 0 && n.prev == nil:
		h = 0
	}
	r := &znode{ents: make([]zent, len(n.ents)-h, zLeafMax)}
	copy(r.ents, n.ents[h:])
	n.ents = n.ents[:h]
	r.prev, r.next = n, n.next
	if n.next != nil {
		n.next.prev = r
	} else {
		z.tail = r
	}
	n.next = r
	return r
}

// treeDelete removes the entry (score, m); it reports whether it was found.
func (z *ztree) treeDelete(score float64, m []byte) bool {
	if z.root == nil || !z.deleteRec(z.root, score, m) {
		return false
	}
	for z.root.kids != nil && len(z.root.kids) == 1 {
		z.root = z.root.kids[0]
	}
	if z.root.leaf() && len(z.root.ents) == 0 {
		z.root, z.head, z.tail = nil, nil, nil
	}
	return true
}

func (z *ztree) deleteRec(n *znode, score float64, m []byte) bool {
	if n.leaf() {
		i := sort.Search(len(n.ents), func(k int) bool { return z.cmp(n.ents[k], score, m) >= 0 })
		if i == len(n.ents) || z.cmp(n.ents[i], score, m) != 0 {
			return false
		}
		n.ents = slices.Delete(n.ents, i, i+1)
		return true
	}
	i := z.route(n, score, m)
	kid := n.kids[i]
	if !z.deleteRec(kid, score, m) {
		return false
	}
	n.cnts[i]--
	minW := zLeafMin
	if !kid.leaf() {
		minW = zInnerMin
	}
	if kid.width() < minW && len(n.kids) > 1 {
		z.rebalance(n, i)
	} else if kid.width() > 0 {
		n.firsts[i] = kid.first()
	}
	return true
}

// rebalance fixes child i of n after it fell under its minimum fill: it is
// merged with a sibling when both fit in one node, otherwise the two share
// their entries evenly.
func (z *ztree) rebalance(n *znode, i int) {
	l := i
	if i+1 == len(n.kids) {
		l = i - 1
	}
	r := l + 1
	L, R := n.kids[l], n.kids[r]
	maxW := zLeafMax
	if !L.leaf() {
		maxW = zInnerMax
	}
	if L.width()+R.width() <= maxW {
		if L.leaf() {
			if cap(L.ents) < len(L.ents)+len(R.ents) {
				ne := make([]zent, len(L.ents), zLeafMax)
				copy(ne, L.ents)
				L.ents = ne
			}
			L.ents = append(L.ents, R.ents...)
			L.next = R.next
			if R.next != nil {
				R.next.prev = L
			} else {
				z.tail = L
			}
		} else {
			L.kids = append(L.kids, R.kids...)
			L.firsts = append(L.firsts, R.firsts...)
			L.cnts = append(L.cnts, R.cnts...)
		}
		n.cnts[l] += n.cnts[r]
		n.kids = slices.Delete(n.kids, r, r+1)
		n.firsts = slices.Delete(n.firsts, r, r+1)
		n.cnts = slices.Delete(n.cnts, r, r+1)
		if L.width() > 0 {
			n.firsts[l] = L.first()
		}
		return
	}
	want := (L.width() + R.width()) / 2
	if L.leaf() {
		if k := want - len(L.ents); k > 0 {
			if cap(L.ents) < want {
				ne := make([]zent, len(L.ents), zLeafMax)
				copy(ne, L.ents)
				L.ents = ne
			}
			L.ents = append(L.ents, R.ents[:k]...)
			R.ents = slices.Delete(R.ents, 0, k)
		} else if k < 0 {
			k = -k
			if cap(R.ents) < len(R.ents)+k {
				ne := make([]zent, len(R.ents), zLeafMax)
				copy(ne, R.ents)
				R.ents = ne
			}
			R.ents = slices.Insert(R.ents, 0, L.ents[len(L.ents)-k:]...)
			L.ents = L.ents[:len(L.ents)-k]
		}
		total := n.cnts[l] + n.cnts[r]
		n.cnts[l] = len(L.ents)
		n.cnts[r] = total - n.cnts[l]
	} else {
		if k := want - len(L.kids); k > 0 {
			moved := 0
			for _, c := range R.cnts[:k] {
				moved += c
			}
			L.kids = append(L.kids, R.kids[:k]...)
			L.firsts = append(L.firsts, R.firsts[:k]...)
			L.cnts = append(L.cnts, R.cnts[:k]...)
			R.kids = slices.Delete(R.kids, 0, k)
			R.firsts = slices.Delete(R.firsts, 0, k)
			R.cnts = slices.Delete(R.cnts, 0, k)
			n.cnts[l] += moved
			n.cnts[r] -= moved
		} else if k < 0 {
			k = -k
			s := len(L.kids) - k
			moved := 0
			for _, c := range L.cnts[s:] {
				moved += c
			}
			R.kids = slices.Insert(R.kids, 0, L.kids[s:]...)
			R.firsts = slices.Insert(R.firsts, 0, L.firsts[s:]...)
			R.cnts = slices.Insert(R.cnts, 0, L.cnts[s:]...)
			clear(L.kids[s:])
			L.kids, L.firsts, L.cnts = L.kids[:s], L.firsts[:s], L.cnts[:s]
			n.cnts[l] -= moved
			n.cnts[r] += moved
		}
	}
	n.firsts[l] = L.first()
	n.firsts[r] = R.first()
}

// rankOf returns the 0-based rank of the entry (score, m), which must exist.
func (z *ztree) rankOf(score float64, m []byte) int {
	r := 0
	n := z.root
	for !n.leaf() {
		i := z.route(n, score, m)
		for _, c := range n.cnts[:i] {
			r += c
		}
		n = n.kids[i]
	}
	return r + sort.Search(len(n.ents), func(k int) bool { return z.cmp(n.ents[k], score, m) >= 0 })
}

// seek returns the leaf and index of the entry at rank r (0 <= r < n).
func (z *ztree) seek(r int) (*znode, int) {
	n := z.root
	for !n.leaf() {
		i := 0
		for i < len(n.cnts)-1 && r >= n.cnts[i] {
			r -= n.cnts[i]
			i++
		}
		n = n.kids[i]
	}
	return n, r
}

// search returns the rank of the first entry for which pred holds; pred
// must be false for a prefix of the order and true for the rest.
func (z *ztree) search(pred func(e zent) bool) int {
	if z.root == nil {
		return 0
	}
	r := 0
	n := z.root
	for !n.leaf() {
		j := sort.Search(len(n.firsts), func(k int) bool { return pred(n.firsts[k]) })
		if j == 0 {
			return r
		}
		for _, c := range n.cnts[:j-1] {
			r += c
		}
		n = n.kids[j-1]
	}
	return r + sort.Search(len(n.ents), func(k int) bool { return pred(n.ents[k]) })
}

// ---- records (both forms) ----

// zrecAt decodes the record at off of buf: member (capped so appends cannot
// clobber buf), score and the record's end.
func zrecAt(buf []byte, off int) (m []byte, score float64, end int) {
	hv, n := binary.Uvarint(buf[off:])
	p := off + n
	l := int(hv >> 1)
	m = buf[p : p+l : p+l]
	p += l
	score = math.Float64frombits(binary.LittleEndian.Uint64(buf[p:]))
	return m, score, p + 8
}

func zappendRec(buf, m []byte, score float64) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(m))<<1)
	buf = append(buf, m...)
	return binary.LittleEndian.AppendUint64(buf, math.Float64bits(score))
}

// zless orders (s1, m1) before (s2, m2): by score, then member bytes.
func zless(s1 float64, m1 []byte, s2 float64, m2 []byte) bool {
	if s1 != s2 {
		return s1 < s2
	}
	return bytes.Compare(m1, m2) < 0
}

// ---- small form ----

// lpFind returns the record of m: its offset, end and score.
func (z *ZSet) lpFind(m []byte) (off, end int, score float64, ok bool) {
	for p := 0; p < len(z.lp); {
		k, s, e := zrecAt(z.lp, p)
		if bytes.Equal(k, m) {
			return p, e, s, true
		}
		p = e
	}
	return 0, 0, 0, false
}

// lpInsert adds a record for m (absent) at its place in the order.
func (z *ZSet) lpInsert(m []byte, score float64) {
	at := len(z.lp)
	for p := 0; p < len(z.lp); {
		k, s, e := zrecAt(z.lp, p)
		if zless(score, m, s, k) {
			at = p
			break
		}
		p = e
	}
	var hdr [binary.MaxVarintLen64]byte
	h := binary.PutUvarint(hdr[:], uint64(len(m))<<1)
	size := h + len(m) + 8
	old := len(z.lp)
	if cap(z.lp) < old+size {
		// grow by a quarter at least: a small set is rewritten in place
		nb := make([]byte, old, max(old+size, old+old/4+16))
		copy(nb, z.lp)
		z.lp = nb
	}
	z.lp = z.lp[:old+size]
	copy(z.lp[at+size:], z.lp[at:old])
	copy(z.lp[at:], hdr[:h])
	copy(z.lp[at+h:], m)
	binary.LittleEndian.PutUint64(z.lp[at+h+len(m):], math.Float64bits(score))
}

// lpDelete removes the record [off, end).
func (z *ZSet) lpDelete(off, end int) {
	z.lp = append(z.lp[:off], z.lp[end:]...)
	if cap(z.lp) > 2*len(z.lp)+64 {
		z.lp = append([]byte(nil), z.lp...)
	}
}

// lpOffsets returns the record offsets of the small form in order.
func (z *ZSet) lpOffsets(buf []int) []int {
	for p := 0; p < len(z.lp); {
		buf = append(buf, p)
		_, _, p = zrecAt(z.lp, p)
	}
	return buf
}

// toTree moves a small set to the large form.
func (z *ZSet) toTree() {
	t := &ztree{arena: z.lp, n: z.n}
	ents := make([]zent, 0, z.n)
	for p := 0; p < len(t.arena); {
		_, s, e := zrecAt(t.arena, p)
		ents = append(ents, zent{s, p})
		p = e
	}
	t.build(ents)
	z.t, z.lp, z.n = t, nil, 0
}

// ---- public API ----

// Score returns m's score.
func (z *ZSet) Score(m []byte) (float64, bool) {
	if z.t == nil {
		_, _, s, ok := z.lpFind(m)
		return s, ok
	}
	return z.t.score(m)
}

// Set stores m with score (never NaN) and reports whether m is new. An
// existing member with another score moves to its new place.
//
// While the set is listpack-encoded a score of -0 is stored as 0: Redis
// keeps listpack scores that are integers as integers, which loses the sign
// of zero, so ZSCORE answers "0" there (but "-0" in a skiplist).
func (z *ZSet) Set(m []byte, score float64) bool {
	var old float64
	var exists bool
	off, end := 0, 0
	if z.t == nil {
		off, end, old, exists = z.lpFind(m)
	} else {
		old, exists = z.t.score(m)
	}
	// the encoding conversion happens before the insertion, as in Redis
	if !exists && !z.big && (int64(z.Len()+1) > ZsetMaxListpackEntries.Load() || int64(len(m)) > ZsetMaxListpackValue.Load()) {
		z.big = true
	}
	if score == 0 && !z.big {
		score = 0
	}
	if exists && old == score {
		// as in Redis, 0 and -0 are the same score: nothing changes
		return false
	}
	if z.t == nil {
		if exists {
			z.lpDelete(off, end)
			z.lpInsert(m, score)
			return false
		}
		if z.n < zSmallMax && len(z.lp)+len(m)+18 <= zSmallBytes {
			z.lpInsert(m, score)
			z.n++
			return true
		}
		z.toTree()
	}
	if exists {
		z.t.update(m, old, score)
		return false
	}
	z.t.add(m, score)
	return true
}

// Remove deletes m and reports whether it was a member.
func (z *ZSet) Remove(m []byte) bool {
	if z.t == nil {
		off, end, _, ok := z.lpFind(m)
		if ok {
			z.lpDelete(off, end)
			z.n--
		}
		return ok
	}
	if !z.t.remove(m) {
		return false
	}
	if z.t.n == 0 {
		z.t = nil
	}
	return true
}

// Rank returns m's 0-based rank in ascending order.
func (z *ZSet) Rank(m []byte) (int, bool) {
	if z.t == nil {
		r := 0
		for p := 0; p < len(z.lp); r++ {
			k, _, e := zrecAt(z.lp, p)
			if bytes.Equal(k, m) {
				return r, true
			}
			p = e
		}
		return 0, false
	}
	off, _ := z.t.find(m)
	if off < 0 {
		return 0, false
	}
	k, s, _ := z.t.rec(off)
	return z.t.rankOf(s, k), true
}

// At returns the member and score at rank r (0 <= r < Len).
func (z *ZSet) At(r int) ([]byte, float64) {
	if z.t == nil {
		p := 0
		for ; r > 0; r-- {
			_, _, p = zrecAt(z.lp, p)
		}
		m, s, _ := zrecAt(z.lp, p)
		return m, s
	}
	l, i := z.t.seek(r)
	e := l.ents[i]
	return z.t.memberAt(e.off), e.score
}

// Range visits ranks [start, stop) in ascending order, or when rev is set
// the ranks counted from the highest score (rank 0 = highest), until fn
// returns false. fn must not modify the set.
func (z *ZSet) Range(start, stop int, rev bool, fn func(m []byte, score float64) bool) {
	n := z.Len()
	start, stop = max(start, 0), min(stop, n)
	if start >= stop {
		return
	}
	if z.t != nil {
		z.t.rangeRanks(start, stop, rev, fn)
		return
	}
	if !rev {
		p := 0
		for r := 0; r < stop; r++ {
			m, s, e := zrecAt(z.lp, p)
			if r >= start && !fn(m, s) {
				return
			}
			p = e
		}
		return
	}
	var buf [zSmallMax]int
	offs := z.lpOffsets(buf[:0])
	for r := start; r < stop; r++ {
		m, s, _ := zrecAt(z.lp, offs[n-1-r])
		if !fn(m, s) {
			return
		}
	}
}

// ForEach visits all members in ascending order until fn returns false.
func (z *ZSet) ForEach(fn func(m []byte, score float64) bool) { z.Range(0, z.Len(), false, fn) }

// SearchScore returns the rank of the first member whose score satisfies
// pred, which must be false for low scores and true from some score on.
func (z *ZSet) SearchScore(pred func(score float64) bool) int {
	if z.t == nil {
		r := 0
		for p := 0; p < len(z.lp); r++ {
			_, s, e := zrecAt(z.lp, p)
			if pred(s) {
				break
			}
			p = e
		}
		return r
	}
	return z.t.search(func(e zent) bool { return pred(e.score) })
}

// SearchLex returns the rank of the first member satisfying pred, which must
// be false for a prefix of the order (members are in byte order when all
// scores are equal, the case lexicographic ranges are defined for).
func (z *ZSet) SearchLex(pred func(m []byte) bool) int {
	if z.t == nil {
		r := 0
		for p := 0; p < len(z.lp); r++ {
			m, _, e := zrecAt(z.lp, p)
			if pred(m) {
				break
			}
			p = e
		}
		return r
	}
	t := z.t
	return t.search(func(e zent) bool { return pred(t.memberAt(e.off)) })
}

// Scan is ZSCAN's step: whole hash buckets in hash order from cursor until
// at least count members were visited; it returns the next cursor (0 at the
// end). A listpack-encoded or small set is returned whole with cursor 0, as
// Redis does for a listpack. See dict.scan for the cursor's meaning.
func (z *ZSet) Scan(cursor uint64, count int, fn func(m []byte, score float64)) uint64 {
	if !z.big || z.t == nil || z.t.slots == nil {
		z.ForEach(func(m []byte, s float64) bool { fn(m, s); return true })
		return 0
	}
	return z.t.scan(cursor, count, fn)
}

// FitEncoding picks the encoding from the contents, as Redis does for a
// freshly computed destination (ZUNIONSTORE, ZRANGESTORE...) or on load; a
// set that becomes listpack-encoded loses the sign of its zero scores (see Set).
func (z *ZSet) FitEncoding() {
	z.big = int64(z.Len()) > ZsetMaxListpackEntries.Load()
	if !z.big {
		lim := int(ZsetMaxListpackValue.Load())
		z.ForEach(func(m []byte, _ float64) bool {
			z.big = len(m) > lim
			return !z.big
		})
	}
	if z.big {
		return
	}
	if z.t == nil {
		for p := 0; p < len(z.lp); {
			_, s, e := zrecAt(z.lp, p)
			if s == 0 && math.Signbit(s) {
				binary.LittleEndian.PutUint64(z.lp[e-8:], 0)
			}
			p = e
		}
		return
	}
	z.t.clearNegZeros()
}

// Clone implements Object.
func (z *ZSet) Clone() Object {
	c := &ZSet{big: z.big, n: z.n}
	if z.t == nil {
		c.lp = append([]byte(nil), z.lp...)
		return c
	}
	t := &ztree{n: z.t.n, arena: make([]byte, 0, len(z.t.arena)-z.t.dead)}
	ents := make([]zent, 0, t.n)
	z.ForEach(func(m []byte, s float64) bool {
		off := len(t.arena)
		t.arena = zappendRec(t.arena, m, s)
		ents = append(ents, zent{s, off})
		return true
	})
	t.build(ents)
	c.t = t
	return c
}

// ForEachElem implements Object. member -> 8-byte big-endian score.
func (z *ZSet) ForEachElem(fn func(sub, val []byte)) {
	var buf [8]byte
	z.ForEach(func(m []byte, s float64) bool {
		fn(m, encodeZScore(buf[:0], s))
		return true
	})
}

// ---- large form operations ----

func (z *ztree) score(m []byte) (float64, bool) {
	off, _ := z.find(m)
	if off < 0 {
		return 0, false
	}
	_, s, _ := z.rec(off)
	return s, true
}

// update moves the existing member m from score old to score.
func (z *ztree) update(m []byte, old, score float64) {
	off, _ := z.find(m)
	z.treeDelete(old, m)
	binary.LittleEndian.PutUint64(z.arena[z.scorePos(off):], math.Float64bits(score))
	z.treeInsert(zent{score, off}, m)
}

// add inserts the absent member m.
func (z *ztree) add(m []byte, score float64) {
	off := z.appendRec(m, score)
	z.n++
	switch {
	case z.slots != nil:
		if z.n*4 > len(z.slots)*3 {
			z.grow()
		}
		z.place(zhash(m)>>zOffBits<<zOffBits | uint64(off+1))
	case z.n > zLinearMax:
		z.reindex(zslotsFor(z.n))
	}
	z.treeInsert(zent{score, off}, z.memberAt(off))
}

// remove deletes m and reports whether it was a member.
func (z *ztree) remove(m []byte) bool {
	off, slot := z.find(m)
	if off < 0 {
		return false
	}
	_, score, end := z.rec(off)
	z.treeDelete(score, m)
	z.arena[off] |= 1
	z.dead += end - off
	z.n--
	if z.n == 0 {
		*z = ztree{}
		return true
	}
	if slot >= 0 {
		z.unslot(slot)
		switch {
		case z.n <= zLinearMax/2:
			z.slots = nil
		case z.n*8 < len(z.slots) && len(z.slots) > zMinSlots:
			z.reindex(zslotsFor(z.n))
		}
	}
	z.maybeCompact()
	return true
}

// maybeCompact rebuilds the arena without its dead records once they are
// the majority, rewriting the offsets held by the tree and the index.
func (z *ztree) maybeCompact() {
	if z.dead < 64 || z.dead*2 < len(z.arena) {
		return
	}
	old := z.arena
	z.arena = make([]byte, 0, len(old)-z.dead+len(old)/16)
	for l := z.head; l != nil; l = l.next {
		for i := range l.ents {
			e := &l.ents[i]
			hv, n := binary.Uvarint(old[e.off:])
			end := e.off + n + int(hv>>1) + 8
			no := len(z.arena)
			z.arena = append(z.arena, old[e.off:end]...)
			e.off = no
		}
	}
	z.dead = 0
	z.fixFirsts(z.root)
	if z.slots != nil {
		z.reindex(len(z.slots))
	}
}

// fixFirsts recomputes the routing entries of inner nodes (after offsets changed).
func (z *ztree) fixFirsts(n *znode) {
	if n == nil || n.leaf() {
		return
	}
	for i, k := range n.kids {
		z.fixFirsts(k)
		n.firsts[i] = k.first()
	}
}

// rangeRanks is Range for the large form (0 <= start < stop <= n).
func (z *ztree) rangeRanks(start, stop int, rev bool, fn func(m []byte, score float64) bool) {
	cnt := stop - start
	if !rev {
		l, i := z.seek(start)
		for ; cnt > 0; cnt-- {
			e := l.ents[i]
			if !fn(z.memberAt(e.off), e.score) {
				return
			}
			if i++; i == len(l.ents) {
				l, i = l.next, 0
			}
		}
		return
	}
	l, i := z.seek(z.n - 1 - start)
	for ; cnt > 0; cnt-- {
		e := l.ents[i]
		if !fn(z.memberAt(e.off), e.score) {
			return
		}
		if i--; i < 0 {
			l = l.prev
			if l != nil {
				i = len(l.ents) - 1
			}
		}
	}
}

// scan is ZSCAN's step over the hash index (see dict.scan).
func (z *ztree) scan(cursor uint64, count int, fn func(m []byte, score float64)) uint64 {
	size := len(z.slots)
	mask := size - 1
	visited := 0
	b := int(cursor >> z.shift)
	for b < size {
		for i := b; ; i = (i + 1) & mask {
			s := z.slots[i]
			if s == 0 {
				break
			}
			if z.home(s, z.shift) == b {
				m, sc, _ := z.rec(zslotOff(s))
				fn(m, sc)
				visited++
			}
		}
		b++
		if visited >= count {
			break
		}
	}
	if b >= size {
		return 0
	}
	return uint64(b) << z.shift
}

// clearNegZeros turns scores of -0 into 0 (same place in the order).
func (z *ztree) clearNegZeros() {
	for l := z.head; l != nil; l = l.next {
		for i := range l.ents {
			if e := &l.ents[i]; e.score == 0 && math.Signbit(e.score) {
				e.score = 0
				binary.LittleEndian.PutUint64(z.arena[z.scorePos(e.off):], 0)
			}
		}
	}
	z.fixFirsts(z.root)
}

// encodeZScore appends the on-disk form of a score (the element value):
// 8 bytes, big-endian IEEE 754.
func encodeZScore(dst []byte, score float64) []byte {
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(score))
}

// build makes the tree (and index) for entries of records already in the
// arena; ents must be sorted by (score, member) and z.n set.
func (z *ztree) build(ents []zent) {
	z.root, z.head, z.tail = nil, nil, nil
	if z.n > zLinearMax {
		z.reindex(zslotsFor(z.n))
	} else {
		z.slots = nil
	}
	if len(ents) == 0 {
		return
	}
	// leaves: evenly filled to about zLoadFill
	nl := (len(ents) + zLoadFill - 1) / zLoadFill
	level := make([]*znode, 0, nl)
	for k := 0; k < nl; k++ {
		lo, hi := k*len(ents)/nl, (k+1)*len(ents)/nl
		c := zLeafMax
		if nl == 1 {
			c = hi - lo
		}
		l := &znode{ents: make([]zent, hi-lo, c)}
		copy(l.ents, ents[lo:hi])
		if k > 0 {
			l.prev = level[k-1]
			level[k-1].next = l
		}
		level = append(level, l)
	}
	z.head, z.tail = level[0], level[len(level)-1]
	fill := zInnerMax * 7 / 8
	for len(level) > 1 {
		np := (len(level) + fill - 1) / fill
		up := make([]*znode, 0, np)
		for k := 0; k < np; k++ {
			lo, hi := k*len(level)/np, (k+1)*len(level)/np
			p := &znode{
				kids:   make([]*znode, 0, zInnerMax+1),
				firsts: make([]zent, 0, zInnerMax+1),
				cnts:   make([]int, 0, zInnerMax+1),
			}
			for _, kid := range level[lo:hi] {
				p.kids = append(p.kids, kid)
				p.firsts = append(p.firsts, kid.first())
				p.cnts = append(p.cnts, kid.count())
			}
			up = append(up, p)
		}
		level = up
	}
	z.root = level[0]
}

// sortEnts sorts entries by (score, member).
func (z *ztree) sortEnts(ents []zent) {
	slices.SortFunc(ents, func(a, b zent) int {
		switch {
		case a.score < b.score:
			return -1
		case a.score > b.score:
			return 1
		}
		return bytes.Compare(z.memberAt(a.off), z.memberAt(b.off))
	})
}

// ZSetBuilder fills a new sorted set with distinct members faster than Set:
// one sort and a bulk build at the end.
type ZSetBuilder struct {
	t    *ztree
	ents []zent
}

// NewZSetBuilder starts a builder; sizeHint may be 0.
func NewZSetBuilder(sizeHint int) *ZSetBuilder {
	return &ZSetBuilder{t: &ztree{}, ents: make([]zent, 0, sizeHint)}
}

// Add appends member m with score; members must be distinct.
func (b *ZSetBuilder) Add(m []byte, score float64) {
	b.ents = append(b.ents, zent{score, b.t.appendRec(m, score)})
}

// Finish returns the set, skiplist-encoded like the temporary set Redis
// computes; call FitEncoding before storing it.
func (b *ZSetBuilder) Finish() *ZSet {
	t := b.t
	t.n = len(b.ents)
	t.sortEnts(b.ents)
	b.t = nil
	z := &ZSet{big: true}
	if t.n == 0 {
		return z
	}
	if t.n <= zSmallMax && len(t.arena) <= zSmallBytes {
		z.lp = make([]byte, 0, len(t.arena))
		for _, e := range b.ents {
			_, _, end := t.rec(e.off)
			z.lp = append(z.lp, t.arena[e.off:end]...)
		}
		z.n = t.n
		return z
	}
	t.build(b.ents)
	z.t = t
	return z
}

// loadZSet rebuilds a sorted set from its elements (member -> score).
func loadZSet(_ []byte, it ElemIter) (Object, error) {
	b := NewZSetBuilder(0)
	for it.Next() {
		v := it.Value()
		if len(v) != 8 {
			continue
		}
		s := math.Float64frombits(binary.BigEndian.Uint64(v))
		if math.IsNaN(s) {
			continue
		}
		b.Add(it.Sub(), s)
	}
	if len(b.ents) == 0 {
		return nil, errNoElems
	}
	z := b.Finish()
	z.FitEncoding()
	return z, nil
}
