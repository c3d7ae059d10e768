package storage

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// The vector search index: per database, one vecSpace per dimension count
// holding every live vector key of that database and dims — resident or
// cold — with its components, deadline and metadata. Storage keeps it exact
// at the points where a key's value changes with its type known: Tx.install
// (VSET, RENAME/MOVE/COPY destinations, any value stored over a vector),
// Tx.remove (DEL, lazy and active expiry of resident keys, RENAME/MOVE
// sources, deletion by eviction without persistence), Tx.expireCold (expiry
// of cold keys), Tx.SetString over a vector, SetExpiry/Persist (the deadline
// it filters on), DB.Flush, and the start-up read of the vectors on disk.
// Eviction to the cold tier does not touch it: cold vectors are still found.
// Its memory counts in used_memory (INFO lux_vector_index_memory).
//
// Locks: a VSET or DEL takes the database's mutex, then the space's mu for
// an append or a removal; the graph insertion is done later by the space's
// worker goroutine under the space's gmu (until then the vector is
// "pending" and searched exactly), so writes never wait for the graph.
// Searches read under mu (and gmu first when they use the graph).

// VecExactLimit is how many vectors of one dims are always searched
// exactly; beyond it the flat index (vecflat.go) answers while the space's
// codes fit vecFlatBytes, and the HNSW graph beyond that.
const VecExactLimit = 1000

type vecIndex struct {
	dbs [NumDBs]vecDB
	mem atomic.Int64
}

type vecRef struct {
	sp *vecSpace
	id uint32
}

type vecDB struct {
	mu     sync.Mutex
	keys   map[string]vecRef
	spaces map[int]*vecSpace
	keyMem int64
	// start-up: loaded is closed once the vectors on disk are read; until
	// then touched names the keys a write decided (the reader skips them)
	loaded   chan struct{}
	loading  bool
	stopLoad bool // FLUSHDB during the read: what it has not reached is gone
	touched  map[string]struct{}
}

func (ix *vecIndex) init(loading bool) {
	for i := range ix.dbs {
		d := &ix.dbs[i]
		d.keys = map[string]vecRef{}
		d.spaces = map[int]*vecSpace{}
		d.loaded = make(chan struct{})
		if loading {
			d.loading = true
			d.touched = map[string]struct{}{}
		} else {
			close(d.loaded)
		}
	}
}

const vecKeyOverhead = 64 // map slot, vecRef, string header

func (db DB) vdb() *vecDB { return &db.s.vec.dbs[db.idx] }

func (s *Store) addVecMem(delta int64) {
	if delta != 0 {
		s.vec.mem.Add(delta)
		s.mem.Add(delta)
	}
}

// vecPut indexes key's vector (the caller holds key's shard).
func (db DB) vecPut(key []byte, v *Vector, exp int64) {
	d := db.vdb()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.loading {
		d.touched[string(key)] = struct{}{}
	}
	db.vecPutLocked(d, key, v, exp)
}

func (db DB) vecPutLocked(d *vecDB, key []byte, v *Vector, exp int64) {
	k := string(key)
	if ref, ok := d.keys[k]; ok {
		db.s.addVecMem(ref.sp.remove(ref.id))
	} else {
		d.keyMem += int64(len(k) + vecKeyOverhead)
		db.s.addVecMem(int64(len(k) + vecKeyOverhead))
	}
	sp := d.spaces[len(v.Comps)]
	if sp == nil {
		sp = newVecSpace(db.s, len(v.Comps))
		d.spaces[len(v.Comps)] = sp
	}
	id, delta := sp.add(k, v, exp)
	db.s.addVecMem(delta)
	d.keys[k] = vecRef{sp, id}
}

// vecDel drops key from the index, if it is there.
func (db DB) vecDel(key []byte) {
	d := db.vdb()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.loading {
		d.touched[string(key)] = struct{}{}
	}
	ref, ok := d.keys[string(key)]
	if !ok {
		return
	}
	delete(d.keys, string(key))
	d.keyMem -= int64(len(key) + vecKeyOverhead)
	db.s.addVecMem(ref.sp.remove(ref.id) - int64(len(key)+vecKeyOverhead))
}

// vecExpiry records key's new deadline (0: none); e is its entry.
func (db DB) vecExpiry(key []byte, e *Entry, exp int64) {
	v, ok := e.Object().(*Vector)
	if !ok {
		return
	}
	d := db.vdb()
	d.mu.Lock()
	defer d.mu.Unlock()
	ref, ok := d.keys[string(key)]
	if !ok {
		// not read yet at start-up: index it now, with its new deadline
		if d.loading {
			d.touched[string(key)] = struct{}{}
		}
		db.vecPutLocked(d, key, v, exp)
		return
	}
	ref.sp.mu.Lock()
	ref.sp.setExp(ref.id, exp)
	ref.sp.mu.Unlock()
}

// vecFlush empties the database's index (FLUSHDB; every shard is held).
func (db DB) vecFlush() {
	d := db.vdb()
	d.mu.Lock()
	defer d.mu.Unlock()
	var freed int64
	for _, sp := range d.spaces {
		freed += sp.close()
	}
	freed += d.keyMem
	d.keyMem = 0
	d.keys = map[string]vecRef{}
	d.spaces = map[int]*vecSpace{}
	if d.loading {
		d.stopLoad = true
	}
	db.s.addVecMem(-freed)
}

// VectorsLoaded is closed once the vectors of the database on disk are in
// the index (at once without persistence or data).
func (db DB) VectorsLoaded() <-chan struct{} { return db.vdb().loaded }

// VCard is the number of live vector keys of the database, all dims.
func (db DB) VCard() int64 {
	d := db.vdb()
	<-d.loaded
	d.mu.Lock()
	spaces := make([]*vecSpace, 0, len(d.spaces))
	for _, sp := range d.spaces {
		spaces = append(spaces, sp)
	}
	d.mu.Unlock()
	now := NowMs()
	var n int64
	for _, sp := range spaces {
		sp.mu.RLock()
		n += int64(sp.live)
		if sp.nexp > 0 {
			for id, st := range sp.state {
				if st&stLive != 0 && sp.exp[id] != 0 && sp.exp[id] <= now {
					n--
				}
			}
		}
		sp.mu.RUnlock()
	}
	return n
}

// VecFilter is one FILTER field value condition.
type VecFilter struct{ Field, Value string }

// VecHit is one VSEARCH result. Meta is shared with the index: read it
// before the reply is sent, never change it.
type VecHit struct {
	Key     string
	Score   float32
	Meta    []byte
	HasMeta bool
}

// VSearch returns the top k live vectors of the database with len(q)
// components by cosine similarity to q (not all zeros), score descending,
// ties by key ascending. With filters, or at most VecExactLimit vectors of
// that dims, the answer is exact; otherwise the HNSW graph answers (and
// the vectors not in it yet are scanned exactly). Scores are always exact.
// It waits only for the start-up read of the database's vectors.
func (db DB) VSearch(q []float32, k int, filters []VecFilter) []VecHit {
	d := db.vdb()
	<-d.loaded
	d.mu.Lock()
	sp := d.spaces[len(q)]
	d.mu.Unlock()
	if sp == nil {
		return nil
	}
	return sp.search(q, k, filters)
}

// VecMemory is the bytes the vector index holds (part of used_memory).
func (s *Store) VecMemory() int64 { return s.vec.mem.Load() }

// ---- one dims ----

// vector id states
const (
	stLive   uint8 = 1  // a live key's vector
	stInG    uint8 = 2  // a node of the current graph
	stInNext uint8 = 4  // a node of the graph being rebuilt
	stQueued uint8 = 8  // listed in pending (once)
	stAdding uint8 = 16 // being inserted into the graph by the worker
)

type vecSpace struct {
	s    *Store
	dims int

	// gmu guards the graph's structure (the worker inserts under it, a
	// graph search reads under it); mu guards everything else. Order: gmu
	// before mu. VSET and DEL take only mu, so they never wait for an
	// insertion into the graph.
	gmu sync.RWMutex
	mu  sync.RWMutex
	// data holds the components and their int8 copies in fixed chunks that
	// never move: the worker reads the vectors of the ids it was handed
	// without mu while VSET appends
	data  atomic.Pointer[vecData]
	rot   *vecRot   // the flat index's rotation and code size
	fast  vecFast   // the flat index's 1-bit codes (vecfast.go)
	ybuf  []float64 // encode's buffer (mu held)
	norm  []float64 // |v|
	keys  []string
	exp   []int64
	meta  [][]byte
	hasM  []bool
	state []uint8
	free  []uint32
	live  int
	nexp  int // live ids with a deadline
	// pending lists ids that may be live and not in the graph (stale
	// entries are skipped), while the space has or wants a graph: searched
	// exactly, inserted by the worker
	pending []uint32
	filt    map[string]map[string]map[uint32]struct{}
	filtMem int64
	dataMem int64 // keys and metadata bytes
	g       *hnsw
	gMem    int64 // g's bytes, as of the worker's last update
	gNodes  int   // ids inserted in g
	gDead   int   // of which deleted since
	adding  int   // ids the worker is inserting
	mem     int64 // accounted bytes
	working bool
	closed  atomic.Bool
}

// vecData is a space's components, unit int8 copies and scales (the
// graph's), 2-bit codes and factors (the flat index's), in chunks
// of 1<<shift vectors. A chunk never moves; a new one comes with a new
// vecData (copy of the chunk list), published atomically.
type vecData struct {
	dims, shift int
	chunks      []*vecChunk
}

type vecChunk struct {
	vecs []float32
	q8   []int8
	qs   []float32
	c2   []byte
	cf   []float32
}

func (vd *vecData) vec(id uint32) []float32 {
	c := vd.chunks[id>>vd.shift]
	o := int(id&(1<<vd.shift-1)) * vd.dims
	return c.vecs[o : o+vd.dims]
}

func (vd *vecData) q8(id uint32) ([]int8, float32) {
	c := vd.chunks[id>>vd.shift]
	i := int(id & (1<<vd.shift - 1))
	return c.q8[i*vd.dims : (i+1)*vd.dims], c.qs[i]
}

// memSize is the chunks' bytes.
func (vd *vecData) memSize() int64 {
	var cb int
	if len(vd.chunks) > 0 {
		cb = len(vd.chunks[0].c2) >> vd.shift
	}
	return int64(len(vd.chunks)) * int64(1<<vd.shift) * int64(vd.dims*5+4+8+cb+4)
}

// vecChunkShift sizes chunks to about 64 KiB of components.
func vecChunkShift(dims int) int {
	shift := 0
	for (2<<shift)*dims*4 <= 64<<10 && shift < 10 {
		shift++
	}
	return shift
}

func newVecSpace(s *Store, dims int) *vecSpace {
	sp := &vecSpace{s: s, dims: dims, filt: map[string]map[string]map[uint32]struct{}{}, rot: newVecRot(dims)}
	sp.fast = newVecFast(sp.rot.p)
	sp.ybuf = make([]float64, sp.rot.p)
	sp.data.Store(&vecData{dims: dims, shift: vecChunkShift(dims)})
	return sp
}

// memSize recomputes the space's bytes (lock held).
func (sp *vecSpace) memSize() int64 {
	n := int64(256) + sp.data.Load().memSize() + int64(len(sp.data.Load().chunks))*8 + int64(cap(sp.norm))*8 +
		int64(cap(sp.keys))*16 + int64(cap(sp.exp))*8 + int64(cap(sp.meta))*24 + int64(cap(sp.hasM)) +
		int64(cap(sp.state)) + int64(cap(sp.free))*4 + int64(cap(sp.pending))*4 + sp.filtMem + sp.dataMem +
		sp.fast.memSize()
	if sp.g != nil {
		n += sp.gMem
	}
	return n
}

// reaccount returns the change of the space's bytes since the last call.
func (sp *vecSpace) reaccount() int64 {
	if sp.closed.Load() {
		return 0 // FLUSHDB took its bytes off already
	}
	m := sp.memSize()
	d := m - sp.mem
	sp.mem = m
	return d
}

func (sp *vecSpace) add(key string, v *Vector, exp int64) (uint32, int64) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	var id uint32
	if n := len(sp.free); n > 0 {
		id = sp.free[n-1]
		sp.free = sp.free[:n-1]
	} else {
		id = uint32(len(sp.state))
		if vd := sp.data.Load(); int(id>>vd.shift) >= len(vd.chunks) {
			per := 1 << vd.shift
			c := &vecChunk{vecs: make([]float32, per*sp.dims), q8: make([]int8, per*sp.dims), qs: make([]float32, per)}
			cb := per * sp.rot.codeBytes()
			if n := len(vd.chunks); n%flatSlabChunks(cb) != 0 {
				// the codes continue the previous chunk's slab: a scan
				// reads them as one stream
				p := vd.chunks[n-1]
				c.c2, c.cf = p.c2[len(p.c2):len(p.c2)+cb], p.cf[len(p.cf):len(p.cf)+per]
			} else {
				c.c2, c.cf = make([]byte, cb, cb*flatSlabChunks(cb)), make([]float32, per, per*flatSlabChunks(cb))
			}
			nd := &vecData{dims: vd.dims, shift: vd.shift, chunks: append(slices.Clip(vd.chunks), c)}
			sp.data.Store(nd)
		}
		sp.norm = append(sp.norm, 0)
		sp.keys = append(sp.keys, "")
		sp.exp = append(sp.exp, 0)
		sp.meta = append(sp.meta, nil)
		sp.hasM = append(sp.hasM, false)
		sp.state = append(sp.state, 0)
	}
	vd := sp.data.Load()
	copy(vd.vec(id), v.Comps)
	c := vd.chunks[id>>vd.shift]
	i := int(id & (1<<vd.shift - 1))
	c.qs[i] = quantize(v.Comps, c.q8[i*sp.dims:(i+1)*sp.dims])
	cb := sp.rot.codeBytes()
	c.cf[i] = sp.rot.encode(v.Comps, c.c2[i*cb:(i+1)*cb], sp.ybuf)
	sp.fast.set(id, sp.ybuf) // encode left the rotated vector in ybuf
	sp.norm[id] = math.Sqrt(dot64(v.Comps, v.Comps))
	sp.keys[id] = key
	sp.meta[id], sp.hasM[id] = v.Meta, v.HasMeta
	sp.dataMem += int64(len(key) + len(v.Meta))
	sp.state[id] = stLive | sp.state[id]&stQueued
	sp.live++
	sp.exp[id] = 0
	sp.setExp(id, exp)
	for _, fv := range metaStrings(v.Meta) {
		sp.filterAdd(fv.Field, fv.Value, id)
	}
	switch {
	case sp.g != nil || sp.working:
		sp.queue(id)
	case sp.overFlat():
		// the space outgrew the flat index: every vector goes to the graph
		for id, st := range sp.state {
			if st&stLive != 0 {
				sp.queue(uint32(id))
			}
		}
	}
	sp.kick()
	return id, sp.reaccount()
}

// queue lists id for the graph worker (mu held).
func (sp *vecSpace) queue(id uint32) {
	if sp.state[id]&(stQueued|stInG) == 0 {
		sp.state[id] |= stQueued
		sp.pending = append(sp.pending, id)
	}
}

// overFlat tells whether the space's codes exceed the flat index's limit
// (mu held): then it wants a graph.
func (sp *vecSpace) overFlat() bool {
	return int64(sp.live)*int64(sp.rot.codeBytes()) > vecFlatBytes && sp.live > VecExactLimit
}

// pendingLive counts the live vectors not in the graph (mu held).
func (sp *vecSpace) pendingLive() int {
	n := sp.adding
	for _, id := range sp.pending {
		if sp.state[id]&(stLive|stInG) == stLive {
			n++
		}
	}
	return n
}

func (sp *vecSpace) setExp(id uint32, exp int64) {
	if sp.exp[id] != 0 {
		sp.nexp--
	}
	sp.exp[id] = exp
	if exp != 0 {
		sp.nexp++
	}
}

// remove drops vector id; it returns the change of bytes.
func (sp *vecSpace) remove(id uint32) int64 {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for _, fv := range metaStrings(sp.meta[id]) {
		sp.filterDel(fv.Field, fv.Value, id)
	}
	sp.dataMem -= int64(len(sp.keys[id]) + len(sp.meta[id]))
	sp.setExp(id, 0)
	sp.keys[id], sp.meta[id], sp.hasM[id] = "", nil, false
	vd := sp.data.Load()
	vd.chunks[id>>vd.shift].cf[id&(1<<vd.shift-1)] = float32(math.NaN()) // the flat scan never picks it
	sp.fast.kill(id)
	sp.state[id] &^= stLive
	sp.live--
	if sp.state[id]&^stQueued == 0 {
		sp.free = append(sp.free, id)
	} else if sp.state[id]&stInG != 0 {
		sp.gDead++
		sp.kick()
	}
	return sp.reaccount()
}

// close frees the space (FLUSHDB): its worker stops. It returns its bytes.
func (sp *vecSpace) close() int64 {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.closed.Store(true)
	return sp.mem
}

func (sp *vecSpace) filterAdd(f, v string, id uint32) {
	m := sp.filt[f]
	if m == nil {
		m = map[string]map[uint32]struct{}{}
		sp.filt[f] = m
		sp.filtMem += int64(len(f) + 64)
	}
	set := m[v]
	if set == nil {
		set = map[uint32]struct{}{}
		m[v] = set
		sp.filtMem += int64(len(v) + 64)
	}
	set[id] = struct{}{}
	sp.filtMem += 16
}

func (sp *vecSpace) filterDel(f, v string, id uint32) {
	m := sp.filt[f]
	set := m[v]
	if _, ok := set[id]; !ok {
		return
	}
	delete(set, id)
	sp.filtMem -= 16
	if len(set) == 0 {
		delete(m, v)
		sp.filtMem -= int64(len(v) + 64)
		if len(m) == 0 {
			delete(sp.filt, f)
			sp.filtMem -= int64(len(f) + 64)
		}
	}
}

// metaStrings returns the top-level string fields of metadata that is a
// JSON object (nil for anything else): the FILTER conditions it meets.
func metaStrings(meta []byte) []VecFilter {
	t := bytes.TrimLeft(meta, " \t\r\n")
	// JSON text is UTF-8 (RFC 8259): encoding/json would turn invalid bytes
	// into U+FFFD, so a FILTER on "\uFFFD" would match metadata holding
	// other bytes
	if len(t) == 0 || t[0] != '{' || !utf8.Valid(meta) {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(meta, &obj) != nil {
		return nil
	}
	var out []VecFilter
	for f, raw := range obj {
		if len(raw) == 0 || raw[0] != '"' {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out = append(out, VecFilter{f, s})
		}
	}
	return out
}

// ---- search ----

// better orders hits: score descending, then key ascending.
func better(a, b *VecHit) bool {
	return a.Score > b.Score || (a.Score == b.Score && a.Key < b.Key)
}

// topK keeps the k best hits (a heap whose root is the worst kept).
type topK struct {
	k int
	h []VecHit
}

func (t *topK) offer(hit VecHit) {
	if len(t.h) == t.k {
		if !better(&hit, &t.h[0]) {
			return
		}
		t.h[0] = hit
		t.down(0)
		return
	}
	t.h = append(t.h, hit)
	for i := len(t.h) - 1; i > 0; {
		p := (i - 1) / 2
		if !better(&t.h[p], &t.h[i]) {
			break
		}
		t.h[p], t.h[i] = t.h[i], t.h[p]
		i = p
	}
}

func (t *topK) down(i int) {
	n := len(t.h)
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && better(&t.h[m], &t.h[l]) {
			m = l
		}
		if r < n && better(&t.h[m], &t.h[r]) {
			m = r
		}
		if m == i {
			return
		}
		t.h[m], t.h[i] = t.h[i], t.h[m]
		i = m
	}
}

func (t *topK) sorted() []VecHit {
	slices.SortFunc(t.h, func(a, b VecHit) int {
		if better(&a, &b) {
			return -1
		}
		if better(&b, &a) {
			return 1
		}
		return 0
	})
	return t.h
}

func (sp *vecSpace) search(q []float32, k int, filters []VecFilter) []VecHit {
	return sp.searchMode(q, k, filters, false)
}

// searchMode is search; exact forces the brute-force scan (tests, benchmarks).
func (sp *vecSpace) searchMode(q []float32, k int, filters []VecFilter, exact bool) []VecHit {
	qn := math.Sqrt(dot64(q, q))
	sp.mu.RLock()
	graph := !exact && len(filters) == 0 && sp.g != nil && sp.overFlat()
	if graph {
		// the graph lock comes first
		sp.mu.RUnlock()
		sp.gmu.RLock()
		defer sp.gmu.RUnlock()
		sp.mu.RLock()
		// while the graph misses many vectors (being built) the flat scan
		// costs less than scoring those exactly
		graph = sp.g != nil && sp.overFlat() && sp.pendingLive() <= graphPendingMax
	}
	defer sp.mu.RUnlock()
	cands := max(flatCandidates, 10*k)
	vd := sp.data.Load()
	now := NowMs()
	top := topK{k: k}
	ok := func(id uint32) bool {
		return sp.state[id]&stLive != 0 && (sp.exp[id] == 0 || sp.exp[id] > now)
	}
	score := func(id uint32) {
		var s float64
		if sp.norm[id] > 0 {
			s = dot64(q, vd.vec(id)) / (qn * sp.norm[id])
			s = max(-1, min(1, s))
		}
		f := float32(s)
		if f == 0 {
			f = 0 // no "-0" for a score that rounds to zero
		}
		if len(top.h) == top.k && f < top.h[0].Score {
			return // worse than every kept hit: its key is not read
		}
		top.offer(VecHit{Key: sp.keys[id], Score: f, Meta: sp.meta[id], HasMeta: sp.hasM[id]})
	}
	switch {
	case len(filters) > 0:
		sets := make([]map[uint32]struct{}, len(filters))
		for i, f := range filters {
			sets[i] = sp.filt[f.Field][f.Value]
			if len(sets[i]) == 0 {
				return nil
			}
		}
		slices.SortFunc(sets, func(a, b map[uint32]struct{}) int { return len(a) - len(b) })
	next:
		for id := range sets[0] {
			for _, o := range sets[1:] {
				if _, in := o[id]; !in {
					continue next
				}
			}
			if ok(id) {
				score(id)
			}
		}
	case exact || sp.live <= max(VecExactLimit, cands):
		for id, st := range sp.state {
			if st&stLive != 0 && ok(uint32(id)) {
				score(uint32(id))
			}
		}
	case !graph:
		b := flatPool.Get().(*flatBuf)
		for _, id := range sp.flatRescore(vd, q, k, sp.flatSearch(vd, q, cands, ok, b), b) {
			score(id)
		}
		flatPool.Put(b)
	default:
		hq := hnswQuery{v: make([]int8, len(q))}
		hq.s = quantize(q, hq.v)
		for _, c := range sp.g.search(vd, hq, max(k, hnswEf), func(id uint32) bool {
			return sp.state[id]&stInG != 0 && ok(id)
		}) {
			score(c.id)
		}
		// what the graph does not hold yet is scanned
		for _, id := range sp.pending {
			if sp.state[id]&stInG == 0 && ok(id) {
				score(id)
			}
		}
	}
	return top.sorted()
}

// ---- the graph worker ----

// graphPendingMax is the most live vectors missing from the graph with
// which a search uses it (scoring those exactly); with more, the graph is
// being built and the flat index answers.
const graphPendingMax = 4096

// kick starts the space's worker if there is graph work (mu held).
func (sp *vecSpace) kick() {
	if sp.working || sp.closed.Load() || sp.g == nil && !sp.overFlat() {
		return
	}
	sp.working = true
	go sp.work()
}

// work inserts pending vectors into the graph, one per hold of the graph
// lock so searches interleave (VSET never waits for it: it takes only mu),
// and rebuilds the graph when deleted nodes outnumber live ones.
func (sp *vecSpace) work() {
	const batch = 4
	ids := make([]uint32, 0, batch)
	for {
		sp.mu.Lock()
		if sp.closed.Load() || sp.s.closed.Load() {
			sp.working = false
			sp.mu.Unlock()
			return
		}
		if sp.gDead > VecExactLimit && sp.gDead > sp.gNodes-sp.gDead {
			sp.mu.Unlock()
			sp.rebuild()
			continue
		}
		if sp.g == nil {
			sp.g = newHNSW(sp.dims)
		}
		g := sp.g
		ids = ids[:0]
		i := 0
		for ; i < len(sp.pending) && len(ids) < batch; i++ {
			id := sp.pending[i]
			sp.state[id] &^= stQueued
			if sp.state[id]&stLive == 0 || sp.state[id]&stInG != 0 {
				continue
			}
			sp.state[id] |= stAdding // its slot is not reused meanwhile
			ids = append(ids, id)
		}
		sp.pending = sp.pending[i:]
		if len(sp.pending) == 0 {
			sp.pending = nil
		}
		if len(ids) == 0 {
			sp.working = false
			delta := sp.reaccount()
			sp.mu.Unlock()
			sp.s.addVecMem(delta)
			return
		}
		sp.adding = len(ids)
		vd := sp.data.Load()
		sp.mu.Unlock()

		for _, id := range ids {
			sp.gmu.Lock()
			g.insert(vd, id)
			sp.gmu.Unlock()
		}
		gmem := g.memSize()

		sp.mu.Lock()
		for _, id := range ids {
			sp.state[id] = sp.state[id]&^stAdding | stInG
			sp.gNodes++
			if sp.state[id]&stLive == 0 {
				sp.gDead++ // deleted while it was inserted
			}
		}
		sp.gMem, sp.adding = gmem, 0
		delta := sp.reaccount()
		sp.mu.Unlock()
		sp.s.addVecMem(delta)
	}
}

// rebuild builds a new graph of the live vectors without any lock (the
// vectors of the ids it holds cannot change: stInNext keeps their slots),
// while searches go on with the old graph and new vectors wait in pending,
// scanned exactly; then it swaps the new graph in.
func (sp *vecSpace) rebuild() {
	sp.mu.Lock()
	var ids []uint32
	for id, st := range sp.state {
		if st&stLive != 0 {
			ids = append(ids, uint32(id))
			sp.state[id] |= stInNext
		}
	}
	vd := sp.data.Load()
	sp.mu.Unlock()
	ng := newHNSW(sp.dims)
	for i, id := range ids {
		if i%256 == 0 && sp.closed.Load() {
			return
		}
		ng.insert(vd, id)
	}
	gmem := ng.memSize()
	sp.gmu.Lock()
	sp.mu.Lock()
	sp.pending = sp.pending[:0]
	sp.gNodes, sp.gDead = len(ids), 0
	for id, st := range sp.state {
		was := st &^ stQueued
		st &^= stInG | stQueued
		if st&stInNext != 0 {
			st = st&^stInNext | stInG
			if st&stLive == 0 {
				sp.gDead++
			}
		}
		sp.state[id] = st
		if st == 0 && was != 0 {
			sp.free = append(sp.free, uint32(id))
		}
		if st == stLive {
			sp.pending = append(sp.pending, uint32(id))
			sp.state[id] |= stQueued
		}
	}
	sp.g, sp.gMem = ng, gmem
	delta := sp.reaccount()
	sp.mu.Unlock()
	sp.gmu.Unlock()
	sp.s.addVecMem(delta)
}

// VecPending is the number of vectors not in their space's graph yet (the
// start-up build's or a bulk load's progress; 0 once the graphs are
// complete; spaces the flat index serves have no graph).
func (s *Store) VecPending() int64 {
	var n int64
	for i := range s.vec.dbs {
		d := &s.vec.dbs[i]
		d.mu.Lock()
		spaces := make([]*vecSpace, 0, len(d.spaces))
		for _, sp := range d.spaces {
			spaces = append(spaces, sp)
		}
		d.mu.Unlock()
		for _, sp := range spaces {
			sp.mu.RLock()
			if sp.g != nil || sp.overFlat() {
				n += int64(sp.pendingLive())
			}
			sp.mu.RUnlock()
		}
	}
	return n
}
