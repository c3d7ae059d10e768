package storage

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"slices"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// Pending is the group of writes waiting for the next commit to Pebble. It
// offers the subset of pebble.Batch's API the storage code uses, and
// coalesces point writes: when a key is written again before the commit, the
// earlier write is dropped, so a hot key (a counter, a rate limit, a
// benchmark's single key) costs Pebble one write per commit window instead of
// one per command. Dropping an earlier point write is correct even across a
// range deletion, because the key's final state is decided by its last point
// write or a later range deletion, which is kept in order.
//
// The slices in a returned DeferredBatchOp must be filled before the next call.
type Pending struct {
	arena []byte
	ops   []pendingOp
	// slotOf finds a key's slot by a hash of the key (no allocation a key,
	// nothing for the collector to scan: a group of one MSET of 524,288
	// keys indexed them by string and spent a third of the server's CPU
	// in the collector); keys whose hash an earlier key of the group has
	// go by name in collided
	slotOf   hashSlots
	collided map[string]int32
	slots    []int32 // slot -> index of the key's latest op
	last     int32   // latest point op, indexed on the next call
	scratch  pebble.DeferredBatchOp
	live     int

	// key-count changes per database since the last commit; zero marks a
	// FLUSHDB/FLUSHALL in this group (the count restarts from 0 there)
	count   [NumDBs]int64
	zero    [NumDBs]bool
	counted bool

	held *atomic.Int64 // bytes of buffers held by every Pending of the store

	// a time series' appended samples, one run a series: see AppendSample
	runs    []sampleRun
	runOf   map[string]int32 // element prefix -> index in runs, while open
	runData int              // bytes of the runs' samples and of the lists' runs

	// lists' runs of pushed elements, one record each: see ListPush
	lruns []pushRun
	lbuf  []byte // a run record's value while fill encodes it

	// gen identifies the group: a List extends a push it made only in the
	// group of the same generation (a group gets a new one when reset)
	gen uint64
}

// pendingGen numbers the groups' generations (0 is none).
var pendingGen atomic.Uint64

// pushRun is the elements pushed to one end of a list one after another,
// written as one run record (list.go) where its opListRun op stands: the
// elements are reverse(left) followed by right, at positions lo onward.
type pushRun struct {
	prefix      []byte // the list's element prefix
	lo          uint64
	left, right []pushSpan
	data        []byte
	acct        int64 // bytes of its buffers counted in Pending.held
}

// account counts r's buffers in held.
func (r *pushRun) account(held *atomic.Int64) {
	n := int64(cap(r.data) + (cap(r.left)+cap(r.right))*8)
	if n != r.acct && held != nil {
		held.Add(n - r.acct)
	}
	r.acct = n
}

// pushSpan is one element of a pushRun: data[off:off+n].
type pushSpan struct{ off, n uint32 }

func (r *pushRun) count() int { return len(r.left) + len(r.right) }

// elem returns element i (0 <= i < count()).
func (r *pushRun) elem(i int) []byte {
	var s pushSpan
	if i < len(r.left) {
		s = r.left[len(r.left)-1-i]
	} else {
		s = r.right[i-len(r.left)]
	}
	return r.data[s.off : s.off+s.n]
}

// sampleRun is the samples appended to one series since its run opened, in
// timestamp order, written as one record where its opRun op stands.
type sampleRun struct {
	prefix []byte // the series' element prefix
	data   []byte // (ts, value) pairs of sampleSize bytes
}

// pendingOpSize approximates the bytes of one op with its index entries.
const pendingOpSize = 64

// size is the bytes p's buffers hold.
func (p *Pending) size() int64 { return int64(cap(p.arena) + cap(p.ops)*pendingOpSize) }

type pendingOp struct {
	kind           uint8
	k0, k1, v0, v1 int
}

const (
	opDead uint8 = iota
	opSet
	opDelete
	opRangeDelete
	opRun     // runs[k0]: one record of a series' appended samples
	opListRun // lruns[k0]: one run record of a list's pushed elements
)

func newPending() *Pending {
	return &Pending{runOf: make(map[string]int32), last: -1, gen: pendingGen.Add(1)}
}

// Len is the number of bytes held.
func (p *Pending) Len() int { return len(p.arena) + p.runData }

// Empty reports whether nothing is pending.
func (p *Pending) Empty() bool { return len(p.ops) == 0 }

// Grow makes room for n more ops of size bytes in all (keys and values), so
// one change of many records (MSET of half a million keys) is copied in
// without regrowing the buffers again and again.
func (p *Pending) Grow(n, size int) {
	if n < 1024 {
		return
	}
	before := p.size()
	p.ops = slices.Grow(p.ops, n)
	if len(p.arena)+size > cap(p.arena) {
		grown := make([]byte, len(p.arena), len(p.arena)+size)
		copy(grown, p.arena)
		p.arena = grown
	}
	if after := p.size(); after != before && p.held != nil {
		p.held.Add(after - before)
	}
}

func (p *Pending) alloc(kind uint8, kl, vl int) (k, v []byte) {
	p.indexLast()
	k0 := len(p.arena)
	n := k0 + kl + vl
	before := p.size()
	if n > cap(p.arena) {
		grown := make([]byte, k0, 2*cap(p.arena)+kl+vl+4096)
		copy(grown, p.arena)
		p.arena = grown
	}
	p.arena = p.arena[:n]
	p.ops = append(p.ops, pendingOp{kind: kind, k0: k0, k1: k0 + kl, v0: k0 + kl, v1: n})
	if after := p.size(); after != before && p.held != nil {
		p.held.Add(after - before)
	}
	p.live++
	return p.arena[k0 : k0+kl], p.arena[k0+kl : n]
}

// indexLast records the previous point op's key, killing the key's older op.
func (p *Pending) indexLast() {
	if p.last < 0 {
		return
	}
	i := p.last
	p.last = -1
	op := p.ops[i]
	key := p.arena[op.k0:op.k1]
	h := pendingHash(key)
	slot, ok := p.slotOf.get(h)
	if ok {
		if prev := p.ops[p.slots[slot]]; string(p.arena[prev.k0:prev.k1]) != string(key) {
			// another key has this hash
			if slot, ok = p.collided[string(key)]; !ok {
				if p.collided == nil {
					p.collided = make(map[string]int32)
				}
				p.collided[string(key)] = int32(len(p.slots))
				p.slots = append(p.slots, i)
				return
			}
		}
		prev := p.slots[slot]
		if p.ops[prev].kind != opDead {
			p.ops[prev].kind = opDead
			p.live--
		}
		p.slots[slot] = i
		return
	}
	p.slotOf.put(h, int32(len(p.slots)))
	p.slots = append(p.slots, i)
}

// hashSlots maps a key hash to its slot: open addressing with linear
// probing over a power-of-two table, filled within a commit group and
// emptied at its end (no deletions). A Go map did the same at twice the
// cost: in pipelined LPUSH with everysec (a new element record a push) its
// inserts were 10% of the server's CPU. The hash is stored with its top bit
// set (0 marks an empty slot), so two hashes that differ only there share
// an entry: indexLast compares the keys and sends the second one to
// collided, as for any collision.
type hashSlots struct {
	hs []uint64
	vs []int32
	n  int
}

func (t *hashSlots) get(h uint64) (int32, bool) {
	if t.n == 0 {
		return 0, false
	}
	h |= 1 << 63
	mask := uint64(len(t.hs) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch t.hs[i] {
		case h:
			return t.vs[i], true
		case 0:
			return 0, false
		}
	}
}

// put sets h's slot (h is not in t, or its entry is overwritten).
func (t *hashSlots) put(h uint64, v int32) {
	if (t.n+1)*4 > len(t.hs)*3 {
		t.grow()
	}
	h |= 1 << 63
	mask := uint64(len(t.hs) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch t.hs[i] {
		case h:
			t.vs[i] = v
			return
		case 0:
			t.hs[i], t.vs[i] = h, v
			t.n++
			return
		}
	}
}

func (t *hashSlots) grow() {
	size := max(2*len(t.hs), 256)
	hs, vs := t.hs, t.vs
	t.hs, t.vs, t.n = make([]uint64, size), make([]int32, size), 0
	for i, h := range hs {
		if h != 0 {
			t.put(h, vs[i])
		}
	}
}

// reset empties t, keeping its table unless the group used little of it
// (a group after one huge MSET would clear megabytes every commit window).
func (t *hashSlots) reset() {
	if t.n == 0 {
		return
	}
	if len(t.hs) > 4096 && t.n*8 < len(t.hs) {
		*t = hashSlots{}
		return
	}
	clear(t.hs)
	t.n = 0
}

// pendingHash hashes a key for Pending's key index (a variable: a test
// makes every key collide).
var pendingHash = func(key []byte) uint64 { return maphash.Bytes(pendingSeed, key) }

var pendingSeed = maphash.MakeSeed()

// SetDeferred reserves a set of a keyLen-byte key to a valueLen-byte value.
func (p *Pending) SetDeferred(keyLen, valueLen int) *pebble.DeferredBatchOp {
	op := p.SetUnindexed(keyLen, valueLen)
	p.last = int32(len(p.ops) - 1) // indexed at the next call
	return op
}

// SetUnindexed is SetDeferred for a key no earlier op of the group is
// likely to have written (a pushed list element's new position): the key
// is not indexed, so a later write of it does not drop this one, and this
// one drops no earlier write. Both stay, in order, and the later wins in
// Pebble as it would have after the drop. Indexing each pushed element was
// about 6% of pipelined LPUSH's CPU with everysec, for nothing: a
// position is pushed once, and a pop in between is a range deletion, which
// is never dropped.
func (p *Pending) SetUnindexed(keyLen, valueLen int) *pebble.DeferredBatchOp {
	k, v := p.alloc(opSet, keyLen, valueLen)
	p.scratch = pebble.DeferredBatchOp{Key: k, Value: v}
	return &p.scratch
}

// DeleteDeferred reserves a deletion of a keyLen-byte key.
func (p *Pending) DeleteDeferred(keyLen int) *pebble.DeferredBatchOp {
	k, _ := p.alloc(opDelete, keyLen, 0)
	p.last = int32(len(p.ops) - 1)
	p.scratch = pebble.DeferredBatchOp{Key: k}
	return &p.scratch
}

// Set records key = val.
func (p *Pending) Set(key, val []byte) {
	op := p.SetDeferred(len(key), len(val))
	copy(op.Key, key)
	copy(op.Value, val)
}

// Delete records the deletion of key.
func (p *Pending) Delete(key []byte) {
	op := p.DeleteDeferred(len(key))
	copy(op.Key, key)
}

// AppendSample adds the sample (ts, val), newer than every sample the
// series under element prefix had, to the series' open run: the samples a
// series gains by appends within one commit window become one record
// (sub-key: the run's last timestamp and tsRunMark; value: the pairs), so an
// ingest costs Pebble one record per series and window instead of one per
// sample. The record stands in the batch where the run opened; a range
// deletion closes every run (a series deleted and created again in one window
// starts a new run after the deletion), and nothing else can reorder with it:
// a sample's other records (an overwrite, an out-of-order insert) are point
// records that win over a run's copy on load.
func (p *Pending) AppendSample(prefix []byte, ts int64, val float64) {
	i, ok := p.runOf[string(prefix)]
	if !ok {
		p.indexLast()
		i = int32(len(p.runs))
		if len(p.runs) < cap(p.runs) {
			p.runs = p.runs[:i+1]
			r := &p.runs[i]
			r.prefix = append(r.prefix[:0], prefix...)
			r.data = r.data[:0]
		} else {
			p.runs = append(p.runs, sampleRun{prefix: append([]byte(nil), prefix...)})
		}
		p.runOf[string(prefix)] = i
		p.ops = append(p.ops, pendingOp{kind: opRun, k0: int(i)})
		p.live++
	}
	r := &p.runs[i]
	before := cap(r.data)
	r.data = binary.BigEndian.AppendUint64(r.data, uint64(ts))
	r.data = binary.BigEndian.AppendUint64(r.data, math.Float64bits(val))
	p.runData += sampleSize
	if grown := cap(r.data) - before; grown != 0 && p.held != nil {
		p.held.Add(int64(grown))
	}
}

// ListPush records val pushed at position pos of the list under element
// prefix and returns the op that holds it. With open < 0 it is a point
// record of its own (unindexed: see SetUnindexed). Otherwise open is the op
// an earlier ListPush of this group returned for the element or run at the
// same end of the same list, next to pos, with no other write of that list
// since (the List keeps track): val joins it, and the op becomes (or stays)
// a run record of all of them. So a window's pushes to one end of a list
// cost Pebble one record, not one per element. ListPop takes elements back.
func (p *Pending) ListPush(prefix []byte, pos uint64, val []byte, open int32, left bool) int32 {
	if open < 0 {
		op := p.SetUnindexed(len(prefix)+8, len(val))
		copy(op.Key, prefix)
		binary.BigEndian.PutUint64(op.Key[len(prefix):], pos)
		copy(op.Value, val)
		return int32(len(p.ops) - 1)
	}
	o := &p.ops[open]
	if o.kind == opSet {
		// the single element so far becomes the run's first
		k, v := p.arena[o.k0:o.k1], p.arena[o.v0:o.v1]
		i := int32(len(p.lruns))
		if len(p.lruns) < cap(p.lruns) {
			p.lruns = p.lruns[:i+1]
		} else {
			p.lruns = append(p.lruns, pushRun{})
		}
		r := &p.lruns[i]
		r.prefix = append(r.prefix[:0], k[:len(k)-8]...)
		r.lo = binary.BigEndian.Uint64(k[len(k)-8:])
		r.left, r.right, r.data = r.left[:0], r.right[:0], r.data[:0]
		p.runPut(r, v, false)
		o.kind, o.k0 = opListRun, int(i)
	}
	r := &p.lruns[o.k0]
	p.runPut(r, val, left)
	if left {
		r.lo--
	}
	return open
}

func (p *Pending) runPut(r *pushRun, val []byte, left bool) {
	s := pushSpan{off: uint32(len(r.data)), n: uint32(len(val))}
	r.data = append(r.data, val...)
	if left {
		r.left = append(r.left, s)
	} else {
		r.right = append(r.right, s)
	}
	p.runData += len(val) + 8
	r.account(p.held)
}

// ListOpen returns the positions of the first and last element of op,
// which ListPush returned, and whether it is a run (more than a point
// record).
func (p *Pending) ListOpen(open int32) (lo, hi uint64, run bool) {
	o := &p.ops[open]
	if o.kind == opListRun {
		r := &p.lruns[o.k0]
		return r.lo, r.lo + uint64(r.count()) - 1, true
	}
	pos := binary.BigEndian.Uint64(p.arena[o.k1-8 : o.k1])
	return pos, pos, false
}

// ListPop takes back the element at the left or right end of op, which
// ListPush returned, and reports whether none is left (the op is then
// dead: nothing is written).
func (p *Pending) ListPop(open int32, left bool) (empty bool) {
	o := &p.ops[open]
	if o.kind == opSet {
		o.kind = opDead
		p.live--
		return true
	}
	r := &p.lruns[o.k0]
	if left {
		r.lo++
		if n := len(r.left); n > 0 {
			r.left = r.left[:n-1]
		} else {
			r.right = r.right[1:]
		}
	} else if n := len(r.right); n > 0 {
		r.right = r.right[:n-1]
	} else {
		r.left = r.left[1:]
	}
	if r.count() == 0 {
		o.kind = opDead
		p.live--
		return true
	}
	return false
}

// DeleteRange records the deletion of every key in [start, end).
func (p *Pending) DeleteRange(start, end []byte, _ *pebble.WriteOptions) error {
	clear(p.runOf)
	k, v := p.alloc(opRangeDelete, len(start), len(end))
	copy(k, start)
	copy(v, end)
	return nil
}

// DeletePos records the deletion of the record prefix+pos, where every
// record under prefix has an 8-byte big-endian position after it (a list's
// elements). Deletions of adjacent positions in a row (LPOP after LPOP,
// LTRIM) become one range deletion: Pebble then holds one tombstone for the
// run instead of one per element, which its compactions would write and
// merge down level after level (popping a long list with everysec spent
// half of the server's CPU in compactions). Only the group's last op is
// extended, so every op keeps its place in the order.
func (p *Pending) DeletePos(prefix []byte, pos uint64) {
	if p.extendPosRun(prefix, pos) {
		return
	}
	op := p.DeleteDeferred(len(prefix) + 8)
	copy(op.Key, prefix)
	binary.BigEndian.PutUint64(op.Key[len(prefix):], pos)
}

// extendPosRun makes the group's last op, a deletion of positions next to
// pos under prefix, delete pos as well; false if it is not one.
func (p *Pending) extendPosRun(prefix []byte, pos uint64) bool {
	n := len(p.ops)
	if n == 0 || pos == math.MaxUint64 {
		return false
	}
	op := &p.ops[n-1]
	point := op.kind == opDelete && p.last == int32(n-1) // (a point op is indexed at the next call)
	if !point && op.kind != opRangeDelete {
		return false
	}
	k, v := p.arena[op.k0:op.k1], p.arena[op.v0:op.v1]
	if point {
		v = k
	}
	if len(k) != len(prefix)+8 || len(v) != len(k) ||
		string(k[:len(prefix)]) != string(prefix) || string(v[:len(prefix)]) != string(prefix) {
		return false
	}
	lo := binary.BigEndian.Uint64(k[len(prefix):])
	end := binary.BigEndian.Uint64(v[len(prefix):]) // exclusive; for a point, its position
	if point {
		if end == math.MaxUint64 {
			return false
		}
		end++
	}
	switch {
	case pos == end:
		end++
	case pos+1 == lo:
		lo = pos
	default:
		return false
	}
	if point {
		// the point deletion becomes the run's range deletion, in its
		// place (it is the last op); the key's earlier point write, which
		// the point deletion would have dropped, stays and the range after
		// it deletes it
		k0 := op.k0
		p.ops = p.ops[:n-1]
		p.arena = p.arena[:k0]
		p.last = -1
		p.live--
		start := binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), lo)
		p.DeleteRange(start, binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), end), nil)
		return true
	}
	binary.BigEndian.PutUint64(k[len(prefix):], lo)
	binary.BigEndian.PutUint64(v[len(prefix):], end)
	return true
}

// fill copies the live ops into a Pebble batch, in order.
func (p *Pending) fill(b *pebble.Batch) {
	p.indexLast()
	for _, op := range p.ops {
		if op.kind == opListRun {
			r := &p.lruns[op.k0]
			key := binary.BigEndian.AppendUint64(r.prefix, r.lo)
			key = append(key, listRunMark)
			p.lbuf = p.lbuf[:0]
			for i := range r.count() {
				p.lbuf = appendRunElem(p.lbuf, r.elem(i))
			}
			b.Set(key, p.lbuf, nil)
			r.prefix = key[:len(r.prefix)]
			continue
		}
		if op.kind == opRun {
			r := &p.runs[op.k0]
			key := append(r.prefix, r.data[len(r.data)-sampleSize:len(r.data)-sampleSize+8]...)
			key = append(key, tsRunMark)
			b.Set(key, r.data, nil)
			r.prefix = key[:len(r.prefix)]
			continue
		}
		k, v := p.arena[op.k0:op.k1], p.arena[op.v0:op.v1]
		switch op.kind {
		case opSet:
			b.Set(k, v, nil)
		case opDelete:
			b.Delete(k, nil)
		case opRangeDelete:
			b.DeleteRange(k, v, nil)
		}
	}
}

// reset empties the group, keeping its buffers when they are not huge.
func (p *Pending) reset() {
	before := p.size()
	if cap(p.arena) > 8<<20 {
		p.arena = nil
	}
	if cap(p.ops) > 64<<10 {
		p.ops = nil
	}
	if p.held != nil {
		p.held.Add(p.size() - before)
	}
	p.arena = p.arena[:0]
	p.ops = p.ops[:0]
	if len(p.runs) > 1024 || p.runData > 8<<20 {
		if p.held != nil {
			for _, r := range p.runs[:cap(p.runs)] {
				p.held.Add(-int64(cap(r.data)))
			}
		}
		p.runs = nil
	}
	p.runs = p.runs[:0]
	clear(p.runOf)
	if len(p.lruns) > 1024 || p.runData > 8<<20 || cap(p.lbuf) > 1<<20 {
		if p.held != nil {
			for _, r := range p.lruns[:cap(p.lruns)] {
				p.held.Add(-r.acct)
			}
		}
		p.lruns, p.lbuf = nil, nil
	}
	p.lruns = p.lruns[:0]
	p.runData = 0
	p.gen = pendingGen.Add(1)
	p.slots = p.slots[:0]
	p.slotOf.reset()
	p.collided = nil
	p.last = -1
	p.live = 0
	p.count, p.zero, p.counted = [NumDBs]int64{}, [NumDBs]bool{}, false
}

// release drops the buffers of an empty group, which reset keeps for the
// next commit window: the committer calls it when nothing was written for a
// while, so a quiet server does not hold the buffers of its last burst
// (up to 8 MiB of arena and 4 MiB of ops per group, and the index maps).
func (p *Pending) release() {
	if !p.Empty() {
		return
	}
	if p.held != nil {
		n := p.size()
		for _, r := range p.runs[:cap(p.runs)] {
			n += int64(cap(r.data))
		}
		for _, r := range p.lruns[:cap(p.lruns)] {
			n += r.acct
		}
		p.held.Add(-n)
	}
	p.arena, p.ops, p.slots, p.runs, p.lruns, p.lbuf = nil, nil, nil, nil, nil, nil
	p.scratch = pebble.DeferredBatchOp{} // its slices pointed into the arena
	p.slotOf, p.runOf = hashSlots{}, make(map[string]int32)
	p.runData = 0
}

// ZeroCount records that database db was emptied in this group: its key
// count restarts from zero at this point.
func (p *Pending) ZeroCount(db int) {
	p.count[db], p.zero[db], p.counted = 0, true, true
}
