package storage

import (
	"encoding/binary"
	"hash/maphash"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"unsafe"
)

// The compact hot-tier layout. A resident string key costs one 24-byte
// Entry, one buffer holding the key's bytes followed by the value, and one
// 8-byte slot plus a tag byte in its shard's entryTable. The key is stored
// nowhere else: the table compares and iterates keys through the entries,
// so there is no map slot holding a string header and no separate key
// allocation.
//
// A string's buffer: the key's bytes, then (only for keys of 255 bytes or
// more) the key's length as 4 little-endian bytes, then the value; Entry.p
// points at the value's first byte, n and c are the value's length and
// capacity (the buffer's size class less the key, so a value grows in place
// into that slack), so the key is the klen bytes (or the stored length)
// before p. The value's capacity is at least 1, so p never points past the
// buffer. Key bytes are never written after the buffer is made: a string
// obtained from key() stays valid (it keeps the buffer alive) however the
// value changes later.
//
// A collection's Entry points at an entryBox (flagObj) holding the Object
// and the key; a string of 4 GiB or more (n and c are 32-bit) at a bigBox
// (flagBig).

// longKey marks an entry whose key length is stored in its buffer.
const longKey = 255

// Entry flags.
const (
	flagRaw = 1 << iota // Redis's "raw" encoding (APPEND, SETRANGE, HyperLogLogs)
	flagObj             // p is an *entryBox
	flagBig             // p is a *bigBox
	flagBox = flagObj | flagBig
)

// entryBox is a collection entry's Object and key.
type entryBox struct {
	obj Object
	key string
}

// bigBox is a string entry too long for the inline layout.
type bigBox struct {
	str []byte
	key string
}

func (e *Entry) box() *entryBox { return (*entryBox)(e.p) }

// Bytes returns a string entry's value (nil for a collection). The caller
// holds the key's shard, reads it only, and does not retain it past the lock.
func (e *Entry) Bytes() []byte {
	if e.flags&flagBox == 0 {
		return unsafe.Slice((*byte)(e.p), e.c)[:e.n]
	}
	if e.flags&flagBig != 0 {
		return (*bigBox)(e.p).str
	}
	return nil
}

// Object returns a collection entry's value (nil for a string).
func (e *Entry) Object() Object {
	if e.flags&flagObj != 0 {
		return e.box().obj
	}
	return nil
}

// Raw reports whether a string was modified in place (APPEND, SETRANGE) or
// is a HyperLogLog: Redis's "raw" encoding whatever its content.
func (e *Entry) Raw() bool { return e.flags&flagRaw != 0 }

func (e *Entry) setRaw(raw bool) {
	if raw {
		e.flags |= flagRaw
	} else {
		e.flags &^= flagRaw
	}
}

// newEntryBuf returns a buffer laid out for key with room for at least n
// value bytes (at least 1), and the offset of the value in it.
func newEntryBuf(key []byte, n int) ([]byte, int) {
	off := len(key)
	if off >= longKey {
		off += 4
	}
	if n < 1 {
		n = 1
	}
	// slices.Grow rounds the capacity up to the allocation's size class:
	// that slack is the value's room to grow in place
	buf := slices.Grow([]byte(nil), off+n)
	buf = buf[:cap(buf)]
	copy(buf, key)
	if len(key) >= longKey {
		binary.LittleEndian.PutUint32(buf[len(key):], uint32(len(key)))
	}
	return buf, off
}

// maxInline bounds a string's buffer in the inline layout (n and c are
// 32-bit); a variable so tests can exercise bigBox.
var maxInline uint64 = math.MaxUint32

// setValue makes e the string val of key in a new buffer with room for
// at least room bytes (the old buffer, or box, is dropped).
func (e *Entry) setValue(key, val []byte, room int) {
	if room < len(val) {
		room = len(val)
	}
	e.flags &^= flagBox
	if uint64(room)+uint64(len(key))+4 > maxInline || uint64(room) >= maxInline/2 {
		b := &bigBox{str: make([]byte, len(val), room), key: string(key)}
		copy(b.str, val)
		e.p, e.n, e.c, e.klen = unsafe.Pointer(b), 0, 0, 0
		e.flags |= flagBig
		return
	}
	buf, off := newEntryBuf(key, room)
	copy(buf[off:], val)
	e.p = unsafe.Pointer(&buf[off])
	e.n, e.c = uint32(len(val)), uint32(len(buf)-off)
	if len(key) >= longKey {
		e.klen = longKey
	} else {
		e.klen = uint8(len(key))
	}
}

// setBytes makes e's string value val, in place when it fits the buffer
// and the buffer is not more than about twice too large.
func (e *Entry) setBytes(key, val []byte) {
	if e.flags&flagBox == 0 && int(e.c) >= len(val) && int(e.c) <= 2*len(val)+16 {
		copy(unsafe.Slice((*byte)(e.p), e.c), val) // val may be the value itself
		e.n = uint32(len(val))
		return
	}
	if e.flags&flagBig != 0 {
		if b := (*bigBox)(e.p); cap(b.str) >= len(val) && cap(b.str) <= 2*len(val)+16 {
			b.str = append(b.str[:0], val...)
			return
		}
	}
	e.setValue(key, val, len(val))
}

// valueCap is the bytes a string's value may grow to in place.
func (e *Entry) valueCap() int {
	if e.flags&flagBox == 0 {
		return int(e.c)
	}
	if e.flags&flagBig != 0 {
		return cap((*bigBox)(e.p).str)
	}
	return 0
}

// setObject makes e the collection obj of key.
func (e *Entry) setObject(key []byte, obj Object) {
	e.p = unsafe.Pointer(&entryBox{obj: obj, key: string(key)})
	e.n, e.c, e.klen = 0, 0, 0
	e.flags = e.flags&^flagBox | flagObj
	e.Type = obj.Type()
}

// newStringEntry returns a string entry of key holding a copy of val.
func newStringEntry(key, val []byte) *Entry {
	e := &Entry{Type: TypeString}
	e.setValue(key, val, len(val))
	return e
}

// newObjEntry returns the entry of key holding the collection obj.
func newObjEntry(key []byte, obj Object) *Entry {
	e := &Entry{}
	e.setObject(key, obj)
	return e
}

// key returns the entry's key, a view of its buffer or its box's string.
func (e *Entry) key() string {
	if e.flags&flagBox != 0 {
		if e.flags&flagBig != 0 {
			return (*bigBox)(e.p).key
		}
		return e.box().key
	}
	p := e.p
	n := int(e.klen)
	if n == longKey {
		p = unsafe.Add(p, -4)
		n = int(binary.LittleEndian.Uint32(unsafe.Slice((*byte)(p), 4)))
	}
	if n == 0 {
		return ""
	}
	return unsafe.String((*byte)(unsafe.Add(p, -n)), n)
}

// rekey gives e another key (RENAME): a string's value is copied into a
// buffer for the new key.
func (e *Entry) rekey(key []byte) {
	if e.key() == string(key) {
		return
	}
	switch {
	case e.flags&flagObj != 0:
		e.p = unsafe.Pointer(&entryBox{obj: e.box().obj, key: string(key)})
	case e.flags&flagBig != 0:
		b := (*bigBox)(e.p)
		e.p = unsafe.Pointer(&bigBox{str: b.str, key: string(key)})
	default:
		e.setValue(key, e.Bytes(), int(e.c))
	}
}

// bstr views b as a string that must not be retained (a lookup key).
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

var tableSeed = maphash.MakeSeed()

// entryTable is a shard's resident keys: open addressing with linear
// probing over entry pointers and one tag byte per slot (0 empty, 1 a
// deleted slot, else 7 bits of the key's hash), in groups of 8 tags and 8
// pointers (72 bytes) so a probe's tag and pointer share a cache line, any
// capacity (a slot is chosen by multiply-shift, not a mask; whole groups),
// grown or rebuilt to about 60% full when live and deleted slots reach 85%.
// So a key costs about 9/0.7 bytes of table instead of a Go map's 24-byte
// slot at its load (56 bytes a key at a million keys over 32 shards, just
// after the map's tables split). A rebuild rehashes every key under the
// shard lock in one go (1.6 ms for 31,250 keys, BenchmarkEntryTableRebuild).
// The functions all and sample yield to must not add keys; deleting is
// allowed.
type entryTable struct {
	groups []tableGroup
	live   int
	used   int // live + deleted slots
}

type tableGroup struct {
	tags  [8]uint8
	slots [8]*Entry
}

const (
	tagEmpty   = 0
	tagDeleted = 1
	tableMin   = 8
)

func tableHash(k string) uint64 { return maphash.String(tableSeed, k) }

func tagOf(h uint64) uint8 { return uint8(h>>57) | 0x80 }

func (t *entryTable) len() int { return t.live }

// size is the number of slots.
func (t *entryTable) size() int { return len(t.groups) * 8 }

func (t *entryTable) tag(i int) uint8       { return t.groups[i>>3].tags[i&7] }
func (t *entryTable) slot(i int) *Entry     { return t.groups[i>>3].slots[i&7] }
func (t *entryTable) setTag(i int, g uint8) { t.groups[i>>3].tags[i&7] = g }
func (t *entryTable) set(i int, g uint8, e *Entry) {
	grp := &t.groups[i>>3]
	grp.tags[i&7], grp.slots[i&7] = g, e
}

func (t *entryTable) home(h uint64) int {
	return int((h & 0xffffffff) * uint64(t.size()) >> 32)
}

// get returns key's entry or nil.
func (t *entryTable) get(key string) *Entry {
	if t.live == 0 {
		return nil
	}
	h := tableHash(key)
	tag := tagOf(h)
	n := t.size()
	for i := t.home(h); ; {
		grp := &t.groups[i>>3]
		switch g := grp.tags[i&7]; g {
		case tagEmpty:
			return nil
		case tag:
			if e := grp.slots[i&7]; e.key() == key {
				return e
			}
		}
		if i++; i == n {
			i = 0
		}
	}
}

// has reports whether key is resident.
func (t *entryTable) has(key string) bool { return t.get(key) != nil }

// put makes e the entry of its key, replacing any entry of that key.
func (t *entryTable) put(e *Entry) {
	if (t.used+1)*20 > t.size()*17 {
		t.rebuild(t.live + 1)
	}
	key := e.key()
	h := tableHash(key)
	tag := tagOf(h)
	n := t.size()
	free := -1
	for i := t.home(h); ; {
		switch g := t.tag(i); g {
		case tagEmpty:
			if free < 0 {
				free = i
				t.used++
			}
			t.set(free, tag, e)
			t.live++
			return
		case tagDeleted:
			if free < 0 {
				free = i
			}
		case tag:
			if t.slot(i).key() == key {
				t.set(i, tag, e)
				return
			}
		}
		if i++; i == n {
			i = 0
		}
	}
}

// del removes key's entry and returns it (nil if it was not resident).
func (t *entryTable) del(key string) *Entry {
	if t.live == 0 {
		return nil
	}
	h := tableHash(key)
	tag := tagOf(h)
	n := t.size()
	for i := t.home(h); ; {
		switch g := t.tag(i); g {
		case tagEmpty:
			return nil
		case tag:
			if e := t.slot(i); e.key() == key {
				t.set(i, tagDeleted, nil)
				t.live--
				next := i + 1
				if next == n {
					next = 0
				}
				if t.tag(next) == tagEmpty {
					// the end of a probe run: the slot (and deleted ones
					// before it) can be empty again
					t.setTag(i, tagEmpty)
					t.used--
					for {
						if i--; i < 0 {
							i = n - 1
						}
						if t.tag(i) != tagDeleted {
							break
						}
						t.setTag(i, tagEmpty)
						t.used--
					}
				}
				if t.live == 0 && n > 4*tableMin {
					*t = entryTable{}
				}
				return e
			}
		}
		if i++; i == n {
			i = 0
		}
	}
}

// rebuild reallocates the table for about need live keys at 60% and
// reinserts every entry (dropping deleted slots).
func (t *entryTable) rebuild(need int) {
	size := need * 5 / 3
	if size < tableMin {
		size = tableMin
	}
	old := t.groups
	t.groups = make([]tableGroup, (size+7)/8)
	t.live, t.used = 0, 0
	for gi := range old {
		for _, e := range old[gi].slots {
			if e != nil {
				t.insertNew(e)
			}
		}
	}
}

// insertNew adds an entry whose key is not in the table, which has room.
func (t *entryTable) insertNew(e *Entry) {
	h := tableHash(e.key())
	n := t.size()
	i := t.home(h)
	for t.tag(i) != tagEmpty {
		if i++; i == n {
			i = 0
		}
	}
	t.set(i, tagOf(h), e)
	t.live++
	t.used++
}

// all yields every resident key with its entry, in slot order.
func (t *entryTable) all() iter.Seq2[string, *Entry] { return t.from(0) }

// sample yields the entries from a random slot on (eviction's sample, as a
// Go map's range starts at a random place).
func (t *entryTable) sample() iter.Seq2[string, *Entry] {
	if t.size() == 0 {
		return t.from(0)
	}
	return t.from(rand.IntN(t.size()))
}

func (t *entryTable) from(start int) iter.Seq2[string, *Entry] {
	return func(yield func(string, *Entry) bool) {
		n := t.size()
		for j := 0; j < n; j++ {
			i := start + j
			if i >= n {
				i -= n
			}
			if i >= t.size() {
				return // rebuilt under the caller: fn added keys
			}
			if e := t.slot(i); e != nil {
				if !yield(e.key(), e) {
					return
				}
			}
		}
	}
}

// memSize is the table's own bytes.
func (t *entryTable) memSize() int { return t.size() * 9 }

// NewEntry returns an entry outside any store (a value to encode, in
// tests): the collection obj, or a copy of the string str when obj is nil.
func NewEntry(key, str []byte, obj Object) *Entry {
	if obj != nil {
		return newObjEntry(key, obj)
	}
	return newStringEntry(key, str)
}
