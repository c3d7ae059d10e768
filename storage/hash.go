package storage

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"sync/atomic"
)

// Encoding thresholds with Redis's defaults. They only decide what OBJECT
// ENCODING reports (and, for hashes, whether small-hash field order is kept);
// the in-memory representation is the same compact dict either way. CONFIG
// SET may change them.
var (
	// HashMaxListpackEntries is hash-max-listpack-entries.
	HashMaxListpackEntries atomic.Int64
	// HashMaxListpackValue is hash-max-listpack-value.
	HashMaxListpackValue atomic.Int64
	// SetMaxIntsetEntries is set-max-intset-entries.
	SetMaxIntsetEntries atomic.Int64
)

func init() {
	HashMaxListpackEntries.Store(512)
	HashMaxListpackValue.Store(64)
	SetMaxIntsetEntries.Store(512)
	RegisterLoader(TypeHash, loadHash)
	RegisterLoader(TypeSet, loadSet)
}

// ---- dict: the compact table behind hashes and sets ----
//
// A dict stores byte-string keys (and, for hashes, values) without a single
// Go pointer per element, so a million-field hash costs the garbage collector
// nothing to scan and about a third of a map[string]string's memory:
//
//   - arena holds the records back to back, in insertion order:
//     uvarint(len(key)<<1 | dead) key [uvarint(len(val)) val]. A deleted or
//     replaced record is only flagged dead (the low header bit); the arena is
//     compacted in place when more than half of it is dead.
//   - slots is an open-addressing (linear probing) index over the arena, a
//     power of two long. A slot is 0 when empty, otherwise
//     tag<<offBits | (offset+1), tag being the top 24 bits of the key's hash.
//     A key's home slot is the top log2(len(slots)) bits of its hash, so the
//     table is ordered by hash prefix, which is what makes SCAN cursors stable
//     (see scan). Deletion uses backward shifting, so there are no tombstones.
//   - while a dict has at most linearMax elements it has no slots at all and
//     lookups scan the arena: tiny hashes and sets (the common case of
//     millions of small objects) pay only for their bytes.
type dict struct {
	slots []uint64
	arena []byte
	n     int   // live records
	dead  int   // bytes of dead records in arena
	shift uint8 // 64 - log2(len(slots))
	vals  bool  // records carry a value (hashes)
}

const (
	offBits   = 40
	offMask   = 1<<offBits - 1
	tagBits   = 64 - offBits
	linearMax = 8  // elements kept without an index
	minSlots  = 16 // smallest index
)

// dictSeed is per process: cursors are valid for the life of the process,
// like Redis's (whose hash seed is random at start-up too).
var dictSeed = maphash.MakeSeed()

func hashKey(k []byte) uint64 { return maphash.Bytes(dictSeed, k) }

// rec decodes the record at off (live or dead): its key, value and end.
// The slices alias the arena and are capped so appends cannot clobber it.
func (d *dict) rec(off int) (key, val []byte, end int) {
	hv, n := binary.Uvarint(d.arena[off:])
	p := off + n
	kl := int(hv >> 1)
	key = d.arena[p : p+kl : p+kl]
	p += kl
	if d.vals {
		vl, m := binary.Uvarint(d.arena[p:])
		p += m
		val = d.arena[p : p+int(vl) : p+int(vl)]
		p += int(vl)
	}
	return key, val, p
}

func (d *dict) keyAt(off int) []byte {
	hv, n := binary.Uvarint(d.arena[off:])
	p := off + n
	return d.arena[p : p+int(hv>>1)]
}

func (d *dict) live(off int) bool { return d.arena[off]&1 == 0 }

func slotOff(s uint64) int { return int(s&offMask) - 1 }

// appendRec appends a live record and returns its offset.
func (d *dict) appendRec(key, val []byte) int {
	off := len(d.arena)
	d.arena = binary.AppendUvarint(d.arena, uint64(len(key))<<1)
	d.arena = append(d.arena, key...)
	if d.vals {
		d.arena = binary.AppendUvarint(d.arena, uint64(len(val)))
		d.arena = append(d.arena, val...)
	}
	return off
}

// home returns the home slot of slot value s in a table of the given shift.
func (d *dict) home(s uint64, shift uint8) int {
	k := 64 - shift
	if k <= tagBits {
		return int((s >> offBits) >> (tagBits - k))
	}
	return int(hashKey(d.keyAt(slotOff(s))) >> shift)
}

// find returns the arena offset of key's record (-1 if absent) and, when the
// dict is indexed, its slot (-1 otherwise) and the key's hash (for addHashed).
func (d *dict) find(key []byte) (off, slot int, h uint64) {
	if d.n == 0 {
		return -1, -1, 0
	}
	if d.slots == nil {
		for p := 0; p < len(d.arena); {
			k, _, end := d.rec(p)
			if d.live(p) && bytes.Equal(k, key) {
				return p, -1, 0
			}
			p = end
		}
		return -1, -1, 0
	}
	h = hashKey(key)
	tag := h >> offBits
	mask := len(d.slots) - 1
	for i := int(h >> d.shift); ; i = (i + 1) & mask {
		s := d.slots[i]
		if s == 0 {
			return -1, -1, h
		}
		if s>>offBits == tag && bytes.Equal(d.keyAt(slotOff(s)), key) {
			return slotOff(s), i, h
		}
	}
}

// place stores slot value s in the first free slot from its home.
func (d *dict) place(s uint64) {
	mask := len(d.slots) - 1
	i := d.home(s, d.shift)
	for d.slots[i] != 0 {
		i = (i + 1) & mask
	}
	d.slots[i] = s
}

// reindex rebuilds the index with size slots (0 = drop the index).
func (d *dict) reindex(size int) {
	old := d.slots
	if size == 0 {
		d.slots = nil
		return
	}
	d.slots = make([]uint64, size)
	d.shift = uint8(64 - bits.TrailingZeros(uint(size)))
	if old != nil {
		for _, s := range old {
			if s != 0 {
				d.place(s)
			}
		}
		return
	}
	for p := 0; p < len(d.arena); {
		k, _, end := d.rec(p)
		if d.live(p) {
			d.place(hashKey(k)>>offBits<<offBits | uint64(p+1))
		}
		p = end
	}
}

// sizeFor is the index size for n elements: load at most one half.
func sizeFor(n int) int {
	size := minSlots
	for size < 2*n {
		size <<= 1
	}
	return size
}

// add inserts key (which must be absent) and returns its offset.
func (d *dict) add(key, val []byte) int {
	var h uint64
	if d.slots != nil {
		h = hashKey(key)
	}
	return d.addHashed(key, val, h)
}

// addHashed is add with the key's hash as returned by a find that missed
// (unused while the dict has no index).
func (d *dict) addHashed(key, val []byte, h uint64) int {
	off := d.appendRec(key, val)
	d.n++
	switch {
	case d.slots != nil:
		if d.n*4 > len(d.slots)*3 {
			d.reindex(len(d.slots) * 2)
		}
		d.place(h>>offBits<<offBits | uint64(off+1))
	case d.n > linearMax:
		d.reindex(sizeFor(d.n))
	}
	return off
}

// markDead flags the record at off dead.
func (d *dict) markDead(off int) {
	_, _, end := d.rec(off)
	d.arena[off] |= 1
	d.dead += end - off
}

// remove deletes the record at off, found in slot (or -1 without index).
func (d *dict) remove(off, slot int) {
	d.markDead(off)
	d.n--
	if d.n == 0 {
		*d = dict{vals: d.vals}
		return
	}
	if slot >= 0 {
		d.unslot(slot)
		switch {
		case d.n <= linearMax/2:
			d.slots = nil
		case d.n*8 < len(d.slots) && len(d.slots) > minSlots:
			d.reindex(sizeFor(d.n))
		}
	}
	d.maybeCompact()
}

// unslot empties slot i, shifting later entries of its cluster back (Knuth's
// algorithm R) so lookups never meet a hole inside a cluster.
func (d *dict) unslot(i int) {
	mask := len(d.slots) - 1
	for {
		d.slots[i] = 0
		j := i
		for {
			j = (j + 1) & mask
			s := d.slots[j]
			if s == 0 {
				return
			}
			h := d.home(s, d.shift)
			// s may move to i unless its home lies cyclically in (i, j]
			if (i < j && (h <= i || h > j)) || (i > j && h <= i && h > j) {
				d.slots[i] = s
				i = j
				break
			}
		}
	}
}

// maybeCompact squeezes dead records out once they are the majority.
func (d *dict) maybeCompact() {
	if d.dead < 64 || d.dead*2 < len(d.arena) {
		return
	}
	w := 0
	for r := 0; r < len(d.arena); {
		_, _, end := d.rec(r)
		if d.live(r) {
			if w != r {
				if d.slots != nil {
					i := d.slotOf(r)
					d.slots[i] = d.slots[i]&^offMask | uint64(w+1)
				}
				copy(d.arena[w:], d.arena[r:end])
			}
			w += end - r
		}
		r = end
	}
	d.arena = d.arena[:w]
	d.dead = 0
	if cap(d.arena) > 2*w+64 {
		d.arena = append(make([]byte, 0, w+w/8), d.arena...)
	}
}

// slotOf returns the slot pointing at the live record at off.
func (d *dict) slotOf(off int) int {
	mask := len(d.slots) - 1
	want := uint64(off + 1)
	for i := int(hashKey(d.keyAt(off)) >> d.shift); ; i = (i + 1) & mask {
		if d.slots[i]&offMask == want {
			return i
		}
	}
}

// setVal replaces the value of the live record at off (in slot, or -1).
// keepPos keeps the record's place in insertion order (listpack semantics);
// otherwise a value of another length moves the record to the end.
func (d *dict) setVal(off, slot int, val []byte, keepPos bool) {
	key, old, end := d.rec(off)
	if len(old) == len(val) {
		copy(old[:len(val)], val)
		return
	}
	if !keepPos {
		d.markDead(off)
		noff := d.appendRec(key, val)
		if slot >= 0 {
			d.slots[slot] = d.slots[slot]&^offMask | uint64(noff+1)
		}
		d.maybeCompact()
		return
	}
	// rewrite the record in place and shift the following ones
	nrec := binary.AppendUvarint(nil, uint64(len(key))<<1)
	nrec = append(nrec, key...)
	nrec = binary.AppendUvarint(nrec, uint64(len(val)))
	nrec = append(nrec, val...)
	delta := len(nrec) - (end - off)
	if delta > 0 {
		d.arena = append(d.arena, make([]byte, delta)...)
	}
	copy(d.arena[end+delta:], d.arena[end:len(d.arena)-max(delta, 0)])
	copy(d.arena[off:], nrec)
	if delta < 0 {
		d.arena = d.arena[:len(d.arena)+delta]
	}
	for i, s := range d.slots {
		if s != 0 && slotOff(s) > off {
			d.slots[i] = s + uint64(int64(delta))
		}
	}
}

// forEach visits live records in arena (insertion) order until fn returns false.
func (d *dict) forEach(fn func(key, val []byte) bool) {
	for p := 0; p < len(d.arena); {
		k, v, end := d.rec(p)
		if d.live(p) && !fn(k, v) {
			return
		}
		p = end
	}
}

// liveOffsets returns the offsets of live records (for small dicts).
func (d *dict) liveOffsets(buf []int) []int {
	for p := 0; p < len(d.arena); {
		_, _, end := d.rec(p)
		if d.live(p) {
			buf = append(buf, p)
		}
		p = end
	}
	return buf
}

// randomOff returns the offset of a uniformly random live record (n > 0).
// Every element occupies exactly one slot, so probing random slots until a
// full one is fair; the index is kept at least 1/8 full.
func (d *dict) randomOff() int {
	if d.slots == nil {
		var buf [linearMax]int
		offs := d.liveOffsets(buf[:0])
		return offs[rand.IntN(len(offs))]
	}
	for {
		if s := d.slots[rand.IntN(len(d.slots))]; s != 0 {
			return slotOff(s)
		}
	}
}

// randomDistinct calls fn for count distinct random records (count < n).
func (d *dict) randomDistinct(count int, fn func(key, val []byte)) {
	if count >= d.n {
		d.forEach(func(k, v []byte) bool { fn(k, v); return true })
		return
	}
	if count*3 > d.n || d.slots == nil {
		// close to the whole size: partial Fisher-Yates over all offsets
		offs := d.liveOffsets(make([]int, 0, d.n))
		for i := 0; i < count; i++ {
			j := i + rand.IntN(len(offs)-i)
			offs[i], offs[j] = offs[j], offs[i]
			k, v, _ := d.rec(offs[i])
			fn(k, v)
		}
		return
	}
	seen := make(map[int]struct{}, count)
	for len(seen) < count {
		off := d.randomOff()
		if _, dup := seen[off]; dup {
			continue
		}
		seen[off] = struct{}{}
		k, v, _ := d.rec(off)
		fn(k, v)
	}
}

// scan visits whole home buckets in hash order, from the bucket holding
// hash value cursor, until at least count records were visited, and returns
// the next cursor (0 when the walk is complete).
//
// The cursor is a position in the 64-bit hash space, not a slot number: the
// index can grow or shrink between calls and the position still means
// "every hash below this was visited". An element present for the whole scan
// has a fixed hash, so it is returned at least once; after a shrink the
// bucket holding the cursor is visited again, which may repeat elements (as
// Redis's SCAN may). Elements of a home bucket sit in the probe run that
// starts at that bucket, so visiting bucket b walks the run from slot b.
// Unindexed dicts (at most linearMax elements) return everything at once.
func (d *dict) scan(cursor uint64, count int, fn func(key, val []byte)) uint64 {
	if d.n == 0 {
		return 0
	}
	if d.slots == nil {
		d.forEach(func(k, v []byte) bool { fn(k, v); return true })
		return 0
	}
	size := len(d.slots)
	mask := size - 1
	visited := 0
	b := int(cursor >> d.shift)
	for b < size {
		for i := b; ; i = (i + 1) & mask {
			s := d.slots[i]
			if s == 0 {
				break
			}
			if d.home(s, d.shift) == b {
				k, v, _ := d.rec(slotOff(s))
				fn(k, v)
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
	return uint64(b) << d.shift
}

// clone returns a compacted deep copy.
func (d *dict) clone() dict {
	c := dict{vals: d.vals}
	c.arena = make([]byte, 0, len(d.arena)-d.dead)
	d.forEach(func(k, v []byte) bool {
		c.appendRec(k, v)
		return true
	})
	c.n = d.n
	if d.slots != nil {
		c.reindex(len(d.slots))
	}
	return c
}

// memSize estimates the bytes held.
func (d *dict) memSize() int { return 8*cap(d.slots) + cap(d.arena) + 64 }

// ---- Hash ----

// Hash is a Redis hash: field -> value, in a compact dict. Byte slices it
// returns alias its storage: they are valid until the next mutation.
type Hash struct {
	d dict
	// big is sticky like Redis's listpack -> hashtable conversion: set once
	// the hash exceeded hash-max-listpack-entries or held a long string.
	big bool
}

// NewHash returns an empty hash.
func NewHash() *Hash { return &Hash{d: dict{vals: true}} }

// Type implements Object.
func (h *Hash) Type() Type { return TypeHash }

// Len implements Object.
func (h *Hash) Len() int { return h.d.n }

// MemSize implements Object.
func (h *Hash) MemSize() int { return h.d.memSize() + 8 }

// Encoding implements Object: what Redis 7.0 would use for the same history.
func (h *Hash) Encoding() string {
	if h.big {
		return "hashtable"
	}
	return "listpack"
}

// MetaPayload implements Object: a hash keeps nothing in its meta record.
func (h *Hash) MetaPayload() []byte { return nil }

// Get returns a field's value.
func (h *Hash) Get(field []byte) ([]byte, bool) {
	off, _, _ := h.d.find(field)
	if off < 0 {
		return nil, false
	}
	_, v, _ := h.d.rec(off)
	return v, true
}

// Has reports whether field exists.
func (h *Hash) Has(field []byte) bool {
	off, _, _ := h.d.find(field)
	return off >= 0
}

// Set stores field = val and reports whether the field is new.
func (h *Hash) Set(field, val []byte) bool {
	if !h.big {
		lim := int(HashMaxListpackValue.Load())
		if len(field) > lim || len(val) > lim {
			h.big = true
		}
	}
	off, slot, hv := h.d.find(field)
	if off >= 0 {
		h.d.setVal(off, slot, val, !h.big)
		return false
	}
	h.d.addHashed(field, val, hv)
	if !h.big && int64(h.d.n) > HashMaxListpackEntries.Load() {
		h.big = true
	}
	return true
}

// Delete removes field and reports whether it existed.
func (h *Hash) Delete(field []byte) bool {
	off, slot, _ := h.d.find(field)
	if off < 0 {
		return false
	}
	h.d.remove(off, slot)
	return true
}

// ForEach visits the fields in order until fn returns false: insertion order,
// like a listpack (a small hash's reply order matches Redis's).
func (h *Hash) ForEach(fn func(field, val []byte) bool) { h.d.forEach(fn) }

// Random returns a uniformly random field (the hash must not be empty).
func (h *Hash) Random() (field, val []byte) {
	f, v, _ := h.d.rec(h.d.randomOff())
	return f, v
}

// RandomDistinct calls fn for min(count, Len) distinct random fields.
func (h *Hash) RandomDistinct(count int, fn func(field, val []byte)) {
	h.d.randomDistinct(count, fn)
}

// Scan is HSCAN's step: see dict.scan. A listpack-encoded hash is returned
// whole with cursor 0, as Redis does.
func (h *Hash) Scan(cursor uint64, count int, fn func(field, val []byte)) uint64 {
	if !h.big {
		h.d.forEach(func(k, v []byte) bool { fn(k, v); return true })
		return 0
	}
	return h.d.scan(cursor, count, fn)
}

// Clone implements Object.
func (h *Hash) Clone() Object { return &Hash{d: h.d.clone(), big: h.big} }

// ForEachElem implements Object. field -> value.
func (h *Hash) ForEachElem(fn func(sub, val []byte)) {
	h.d.forEach(func(k, v []byte) bool { fn(k, v); return true })
}

func loadHash(_ []byte, it ElemIter) (Object, error) {
	h := NewHash()
	for it.Next() {
		h.d.add(it.Sub(), it.Value())
	}
	if h.d.n == 0 {
		return nil, errNoElems
	}
	// recompute the encoding from the contents, as Redis does when loading
	lim := int(HashMaxListpackValue.Load())
	h.big = int64(h.d.n) > HashMaxListpackEntries.Load()
	if !h.big {
		h.d.forEach(func(k, v []byte) bool {
			h.big = len(k) > lim || len(v) > lim
			return !h.big
		})
	}
	return h, nil
}
