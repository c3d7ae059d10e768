package storage

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// hnsw is a Hierarchical Navigable Small World graph (Malkov & Yashunin)
// over the vectors of one vecSpace, by cosine distance 1 − cos. Nodes are
// the space's vector ids; distances use the int8 copies of the unit vectors
// the space keeps in chunks (vecData, a quarter of the components' memory
// traffic; results are rescored exactly), and level-0 neighbours are flat
// (m0 uint32 slots and their distances a node), so a search touches a few
// arrays and no pointer per node. Deleted vectors stay as nodes that
// searches traverse but never return; the space rebuilds the graph when they
// outnumber the live ones. Callers hold the space's graph lock: for writing
// to insert, for reading to search.
type hnsw struct {
	dims     int
	m, m0    int // neighbours per node above level 0, at level 0
	efC      int
	ml       float64
	entry    uint32
	hasEntry bool
	maxLevel int
	level    []uint8
	l0       []uint32  // node·m0 … : level-0 neighbours
	l0d      []float32 // their distances to the node
	n0       []uint8   // level-0 neighbour counts
	up       map[uint32][][]uint32
	upMem    int64 // bytes of up's lists (allocated capacity)
	rng      *rand.Rand
}

var (
	hnswM   = 32
	hnswM0  = 64
	hnswEfC = 100
	// hnswEf is the least candidate list a search keeps (k when larger).
	hnswEf = 768
)

func newHNSW(dims int) *hnsw {
	return &hnsw{dims: dims, m: hnswM, m0: hnswM0, efC: hnswEfC, ml: 1 / math.Log(float64(hnswM)),
		up: map[uint32][][]uint32{}, rng: rand.New(rand.NewPCG(uint64(dims), 0x9e3779b97f4a7c15))}
}

// memSize is the graph's bytes.
func (g *hnsw) memSize() int64 {
	return int64(cap(g.level)) + int64(cap(g.l0))*8 + int64(cap(g.n0)) + int64(len(g.up))*64 + g.upMem
}

func (g *hnsw) grow(id uint32) {
	if int(id) < len(g.level) {
		return
	}
	n := max(int(id)+1, 2*len(g.level), 1024)
	g.level = append(g.level, make([]uint8, n-len(g.level))...)
	g.n0 = append(g.n0, make([]uint8, n-len(g.n0))...)
	g.l0 = append(g.l0, make([]uint32, n*g.m0-len(g.l0))...)
	g.l0d = append(g.l0d, make([]float32, n*g.m0-len(g.l0d))...)
}

func (g *hnsw) neighbours(id uint32, l int) []uint32 {
	if l == 0 {
		return g.l0[int(id)*g.m0 : int(id)*g.m0+int(g.n0[id])]
	}
	return g.up[id][l-1]
}

func (g *hnsw) setNeighbours(id uint32, l int, ns []uint32) {
	if l == 0 {
		copy(g.l0[int(id)*g.m0:], ns)
		g.n0[id] = uint8(len(ns))
		return
	}
	g.up[id][l-1] = append(g.up[id][l-1][:0], ns...)
}

// dist is the approximate cosine distance between two stored vectors, from
// their int8 copies (a quarter of the memory traffic of the components;
// results are rescored exactly).
func (g *hnsw) dist(vd *vecData, a, b uint32) float32 {
	qa, sa := vd.q8(a)
	qb, sb := vd.q8(b)
	return 1 - float32(dot8(qa, qb))*sa*sb
}

// hnswQuery is a query quantized like the stored vectors.
type hnswQuery struct {
	v []int8
	s float32
}

// distQ is the approximate cosine distance between q and a stored vector.
func (g *hnsw) distQ(vd *vecData, q hnswQuery, b uint32) float32 {
	qb, sb := vd.q8(b)
	return 1 - float32(dot8(q.v, qb))*q.s*sb
}

// insert adds vector id (stored in vd) to the graph.
func (g *hnsw) insert(vd *vecData, id uint32) {
	g.grow(id)
	lvl := int(math.Floor(-math.Log(1-g.rng.Float64()) * g.ml))
	if lvl > 32 {
		lvl = 32
	}
	g.level[id] = uint8(lvl)
	g.n0[id] = 0
	if lvl > 0 {
		g.up[id] = make([][]uint32, lvl)
		for l := range g.up[id] {
			g.up[id][l] = make([]uint32, 0, g.m)
		}
		g.upMem += int64(lvl) * int64(24+4*g.m)
	} else {
		delete(g.up, id)
	}
	if !g.hasEntry {
		g.entry, g.hasEntry, g.maxLevel = id, true, lvl
		return
	}
	var q hnswQuery
	q.v, q.s = vd.q8(id)
	ep := g.entry
	epd := g.distQ(vd, q, ep)
	for l := g.maxLevel; l > lvl; l-- {
		ep, epd = g.greedy(vd, q, ep, epd, l)
	}
	vis := getVisited(len(g.level))
	defer putVisited(vis)
	var h searchHeaps
	eps := []hnswCand{{epd, ep}}
	for l := min(lvl, g.maxLevel); l >= 0; l-- {
		w := g.searchLayer(vd, q, eps, g.efC, l, vis, &h, nil)
		mmax := g.m
		if l == 0 {
			mmax = g.m0
		}
		sel := g.selectHeuristic(vd, w, g.m)
		ns := make([]uint32, len(sel))
		for i, c := range sel {
			ns[i] = c.id
		}
		g.setNeighbours(id, l, ns)
		if l == 0 {
			for i, c := range sel {
				g.l0d[int(id)*g.m0+i] = c.d
			}
		}
		for _, c := range sel {
			g.link(vd, c.id, id, c.d, l, mmax)
		}
		eps = append(eps[:0], w...)
	}
	if lvl > g.maxLevel {
		g.entry, g.maxLevel = id, lvl
	}
}

// link adds id, at distance d, to n's neighbours at level l. A full level-0
// list drops its farthest neighbour if id is nearer (the distances are
// kept: no distance is computed); above level 0 the heuristic prunes.
func (g *hnsw) link(vd *vecData, n, id uint32, d float32, l, mmax int) {
	cur := g.neighbours(n, l)
	if l == 0 {
		base := int(n) * g.m0
		if len(cur) < mmax {
			g.l0[base+len(cur)] = id
			g.l0d[base+len(cur)] = d
			g.n0[n]++
			return
		}
		far := 0
		for i := 1; i < len(cur); i++ {
			if g.l0d[base+i] > g.l0d[base+far] {
				far = i
			}
		}
		if d < g.l0d[base+far] {
			g.l0[base+far], g.l0d[base+far] = id, d
		}
		return
	}
	if len(cur) < mmax {
		g.up[n][l-1] = append(g.up[n][l-1], id)
		return
	}
	cands := make([]hnswCand, 0, len(cur)+1)
	for _, x := range cur {
		cands = append(cands, hnswCand{g.dist(vd, n, x), x})
	}
	cands = append(cands, hnswCand{g.dist(vd, n, id), id})
	slices.SortFunc(cands, cmpCand)
	sel := g.selectHeuristic(vd, cands, mmax)
	ns := make([]uint32, len(sel))
	for i, c := range sel {
		ns[i] = c.id
	}
	g.setNeighbours(n, l, ns)
}

// selectHeuristic keeps, of candidates sorted by distance, those closer to
// the base than to every one kept before (diverse directions), at most m,
// then fills up with the nearest of the others.
func (g *hnsw) selectHeuristic(vd *vecData, cands []hnswCand, m int) []hnswCand {
	if len(cands) <= m {
		return cands
	}
	out := make([]hnswCand, 0, m)
	var pruned []hnswCand
	for _, c := range cands {
		good := true
		for _, r := range out {
			if g.dist(vd, c.id, r.id) < c.d {
				good = false
				break
			}
		}
		if good {
			out = append(out, c)
			if len(out) == m {
				return out
			}
		} else {
			pruned = append(pruned, c)
		}
	}
	// keep the nearest pruned ones too: near-duplicate vectors would
	// otherwise lose every in-link and become unreachable
	for _, c := range pruned {
		if len(out) == m {
			break
		}
		out = append(out, c)
	}
	return out
}

func (g *hnsw) greedy(vd *vecData, q hnswQuery, ep uint32, epd float32, l int) (uint32, float32) {
	for changed := true; changed; {
		changed = false
		for _, n := range g.neighbours(ep, l) {
			if d := g.distQ(vd, q, n); d < epd {
				ep, epd, changed = n, d, true
			}
		}
	}
	return ep, epd
}

// search returns up to ef accepted nodes nearest to q, nearest first.
func (g *hnsw) search(vd *vecData, q hnswQuery, ef int, accept func(uint32) bool) []hnswCand {
	if !g.hasEntry {
		return nil
	}
	ep := g.entry
	epd := g.distQ(vd, q, ep)
	for l := g.maxLevel; l > 0; l-- {
		ep, epd = g.greedy(vd, q, ep, epd, l)
	}
	vis := getVisited(len(g.level))
	defer putVisited(vis)
	var h searchHeaps
	return g.searchLayer(vd, q, []hnswCand{{epd, ep}}, ef, 0, vis, &h, accept)
}

// searchLayer is the beam search of one level: it returns up to ef nodes
// (accepted ones only, when accept is set) nearest first. Rejected nodes
// are still traversed.
func (g *hnsw) searchLayer(vd *vecData, q hnswQuery, eps []hnswCand, ef, l int, vis *visited, h *searchHeaps, accept func(uint32) bool) []hnswCand {
	vis.reset(len(g.level))
	h.cand = h.cand[:0]
	h.res = h.res[:0]
	for _, e := range eps {
		vis.mark(e.id)
		h.pushCand(e)
		if accept == nil || accept(e.id) {
			h.pushRes(e, ef)
		}
	}
	for len(h.cand) > 0 {
		c := h.popCand()
		if len(h.res) >= ef && c.d > h.res[0].d {
			break
		}
		// first the unseen neighbours, their vectors prefetched, then their
		// distances: the memory latencies overlap
		h.next = h.next[:0]
		for _, n := range g.neighbours(c.id, l) {
			if vis.seen(n) {
				continue
			}
			vis.mark(n)
			h.next = append(h.next, n)
			qn, _ := vd.q8(n)
			prefetch(&qn[0])
		}
		for _, n := range h.next {
			d := g.distQ(vd, q, n)
			if len(h.res) < ef || d < h.res[0].d {
				h.pushCand(hnswCand{d, n})
				if accept == nil || accept(n) {
					h.pushRes(hnswCand{d, n}, ef)
				}
			}
		}
	}
	out := make([]hnswCand, len(h.res))
	copy(out, h.res)
	slices.SortFunc(out, cmpCand)
	return out
}

type hnswCand struct {
	d  float32
	id uint32
}

func cmpCand(a, b hnswCand) int {
	switch {
	case a.d < b.d:
		return -1
	case a.d > b.d:
		return 1
	}
	return int(a.id) - int(b.id)
}

// searchHeaps are a search's candidate min-heap and result max-heap.
type searchHeaps struct {
	cand []hnswCand
	res  []hnswCand
	next []uint32
}

func (h *searchHeaps) pushCand(c hnswCand) {
	h.cand = append(h.cand, c)
	i := len(h.cand) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h.cand[p].d <= h.cand[i].d {
			break
		}
		h.cand[p], h.cand[i] = h.cand[i], h.cand[p]
		i = p
	}
}

func (h *searchHeaps) popCand() hnswCand {
	top := h.cand[0]
	n := len(h.cand) - 1
	h.cand[0] = h.cand[n]
	h.cand = h.cand[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h.cand[l].d < h.cand[m].d {
			m = l
		}
		if r < n && h.cand[r].d < h.cand[m].d {
			m = r
		}
		if m == i {
			break
		}
		h.cand[m], h.cand[i] = h.cand[i], h.cand[m]
		i = m
	}
	return top
}

// pushRes adds c to the max-heap of results, dropping the farthest beyond ef.
func (h *searchHeaps) pushRes(c hnswCand, ef int) {
	if len(h.res) >= ef {
		if c.d >= h.res[0].d {
			return
		}
		h.res[0] = c
		h.downRes(0)
		return
	}
	h.res = append(h.res, c)
	i := len(h.res) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h.res[p].d >= h.res[i].d {
			break
		}
		h.res[p], h.res[i] = h.res[i], h.res[p]
		i = p
	}
}

func (h *searchHeaps) downRes(i int) {
	n := len(h.res)
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h.res[l].d > h.res[m].d {
			m = l
		}
		if r < n && h.res[r].d > h.res[m].d {
			m = r
		}
		if m == i {
			return
		}
		h.res[m], h.res[i] = h.res[i], h.res[m]
		i = m
	}
}

// visited marks the nodes one search has seen (generation counters: no
// clearing between searches).
type visited struct {
	marks []uint16
	gen   uint16
}

var visitedPool = sync.Pool{New: func() any { return new(visited) }}

func getVisited(n int) *visited { v := visitedPool.Get().(*visited); v.reset(n); return v }

func putVisited(v *visited) { visitedPool.Put(v) }

func (v *visited) reset(n int) {
	if len(v.marks) < n {
		v.marks = make([]uint16, n+n/4)
		v.gen = 0
	}
	v.gen++
	if v.gen == 0 {
		clear(v.marks)
		v.gen = 1
	}
}

func (v *visited) mark(id uint32)      { v.marks[id] = v.gen }
func (v *visited) seen(id uint32) bool { return v.marks[id] == v.gen }

// dot32Go is the portable float32 dot product.
func dot32Go(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

// dot64Go is the portable dot product accumulated in float64.
func dot64Go(a, b []float32) float64 {
	b = b[:len(a)]
	var s0, s1 float64
	i := 0
	for ; i+2 <= len(a); i += 2 {
		s0 += float64(a[i]) * float64(b[i])
		s1 += float64(a[i+1]) * float64(b[i+1])
	}
	if i < len(a) {
		s0 += float64(a[i]) * float64(b[i])
	}
	return s0 + s1
}

// dot8Go is the portable int8 dot product.
func dot8Go(a, b []int8) int32 {
	b = b[:len(a)]
	var s int32
	for i := range a {
		s += int32(a[i]) * int32(b[i])
	}
	return s
}

// quantize writes v scaled to unit length as int8 components (the largest
// one ±127) into dst and returns the scale: v/|v| ≈ scale·dst.
func quantize(v []float32, dst []int8) float32 {
	var norm, m float64
	for _, x := range v {
		norm += float64(x) * float64(x)
		m = max(m, math.Abs(float64(x)))
	}
	if norm == 0 || m == 0 {
		clear(dst)
		return 0
	}
	for i, x := range v {
		dst[i] = int8(math.Round(float64(x) / m * 127))
	}
	return float32(m / 127 / math.Sqrt(norm))
}
