package storage

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"
)

// locked runs fn holding the shards of keys in database dbs[i] (as the
// server's dispatch does).
func locked(s *Store, keys map[int][]string, fn func()) {
	var ls LockSet
	ls.Reset()
	for db, ks := range keys {
		for _, k := range ks {
			ls.Add(s.ShardOf(db, []byte(k)))
		}
	}
	s.Lock(&ls)
	defer s.Unlock(&ls)
	fn()
}

type vecModel map[int]map[string][]float32 // db → key → components

// check compares the index of every database with the model: VCARD, and
// for each dims a search for everything (exact up to VecExactLimit).
func (m vecModel) check(t *testing.T, s *Store, rng *rand.Rand) {
	t.Helper()
	for db := 0; db < 2; db++ {
		want := m[db]
		if got := s.DB(db).VCard(); got != int64(len(want)) {
			t.Fatalf("db %d VCARD %d, want %d", db, got, len(want))
		}
		checkFastLayout(t, s, db)
		for _, dims := range []int{3, 4} {
			q := make([]float32, dims)
			for i := range q {
				q[i] = rng.Float32()*2 - 1
			}
			type ks struct {
				k string
				s float32
			}
			var exp []ks
			for k, v := range want {
				if len(v) == dims {
					exp = append(exp, ks{k, float32(cos64(q, v))})
				}
			}
			sort.Slice(exp, func(i, j int) bool {
				return exp[i].s > exp[j].s || exp[i].s == exp[j].s && exp[i].k < exp[j].k
			})
			hits := s.DB(db).VSearch(q, 10000, nil)
			for _, h := range s.DB(db).VSearch(q, 10, nil) { // the graph's or flat index's answer
				if v, ok := want[h.Key]; !ok || len(v) != dims || math.Abs(float64(h.Score)-cos64(q, v)) > 1e-6 {
					t.Fatalf("approximate search: %q (live %v)", h.Key, ok)
				}
			}
			seen := map[string]bool{}
			for _, h := range hits {
				v, ok := want[h.Key]
				if !ok || len(v) != dims || seen[h.Key] {
					t.Fatalf("db %d dims %d: %q returned (live %v, twice %v)", db, dims, h.Key, ok, seen[h.Key])
				}
				seen[h.Key] = true
				if math.Abs(float64(h.Score)-cos64(q, v)) > 1e-6 {
					t.Fatalf("score %v, want %v", h.Score, cos64(q, v))
				}
			}
			if len(exp) <= VecExactLimit {
				if len(hits) != len(exp) {
					t.Fatalf("db %d dims %d: %d hits, want %d", db, dims, len(hits), len(exp))
				}
				for i := range exp {
					if hits[i].Key != exp[i].k {
						t.Fatalf("db %d dims %d hit %d: %q, want %q", db, dims, i, hits[i].Key, exp[i].k)
					}
				}
			}
		}
	}
}

// checkFastLayout checks the 1-bit blocks of every space of database db
// against codes made afresh from the stored vectors: a live id's slot holds
// its vector's code and factor, every other slot (removed, free, or past the
// last id) a NaN factor.
func checkFastLayout(t *testing.T, s *Store, db int) {
	t.Helper()
	d := &s.vec.dbs[db]
	d.mu.Lock()
	defer d.mu.Unlock()
	for dims, sp := range d.spaces {
		sp.mu.RLock()
		F := &sp.fast
		ref := newVecFast(sp.rot.p)
		y := make([]float64, sp.rot.p)
		vd := sp.data.Load()
		slots := 0
		for si := range F.f {
			slots += len(F.f[si])
			if len(F.codes[si]) != len(F.f[si])*F.rows || len(F.f[si])%32 != 0 {
				t.Fatalf("dims %d slab %d: %d code bytes for %d slots", dims, si, len(F.codes[si]), len(F.f[si]))
			}
		}
		if slots < len(sp.state) || slots >= len(sp.state)+32 {
			t.Fatalf("dims %d: %d slots for %d ids", dims, slots, len(sp.state))
		}
		for id := 0; id < slots; id++ {
			s, i := id/F.slabV, id%F.slabV
			f := F.f[s][i]
			if id >= len(sp.state) || sp.state[id]&stLive == 0 {
				if !math.IsNaN(float64(f)) {
					t.Fatalf("dims %d: dead id %d has factor %v", dims, id, f)
				}
				continue
			}
			sp.rot.rotate(vd.vec(uint32(id)), y)
			ref.set(0, y)
			if f != ref.f[0][0] {
				t.Fatalf("dims %d id %d: factor %v, want %v", dims, id, f, ref.f[0][0])
			}
			blk := F.codes[s][i/32*32*F.rows:]
			for j := range F.rows {
				if blk[j*32+i%32] != ref.codes[0][j*32] {
					t.Fatalf("dims %d id %d row %d: code %#x, want %#x", dims, id, j, blk[j*32+i%32], ref.codes[0][j*32])
				}
			}
		}
		sp.mu.RUnlock()
	}
}

func cos64(q, v []float32) float64 {
	var d, a, b float64
	for i := range q {
		d += float64(q[i]) * float64(v[i])
		a += float64(q[i]) * float64(q[i])
		b += float64(v[i]) * float64(v[i])
	}
	if b == 0 {
		return 0
	}
	return d / math.Sqrt(a*b)
}

// TestVecIndexModel runs random key operations against a model and checks
// that the index holds exactly the live vector keys after each batch, and
// after a restart; enough vectors of one dims to use the graph and rebuild it.
func TestVecIndexModel(t *testing.T) {
	for _, c := range []struct{ persist, graph, fast bool }{{false, false, false}, {true, false, false}, {false, true, false}, {true, true, false}, {false, false, true}} {
		persist := c.persist
		t.Run(fmt.Sprint("persist=", persist, ",graph=", c.graph, ",fast=", c.fast), func(t *testing.T) {
			if c.fast {
				// the flat search starts with the 1-bit pass at any size,
				// keeping few candidates
				defer func(a, b int) { flatFirst, flatFastMin = a, b }(flatFirst, flatFastMin)
				flatFirst, flatFastMin = 50, 0
			}
			if c.graph {
				// the graph answers beyond VecExactLimit vectors of a dims,
				// not the flat index
				defer func(b int64) { vecFlatBytes = b }(vecFlatBytes)
				vecFlatBytes = 0
			}
			dir := ""
			if persist {
				dir = t.TempDir()
			}
			s, err := Open(Options{Dir: dir, Sync: SyncNo})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { s.Close() }()
			rng := rand.New(rand.NewPCG(7, 8))
			m := vecModel{0: {}, 1: {}}
			defer func(ef int) { hnswEf = ef }(hnswEf)
			hnswEf = 16
			key := func() string { return fmt.Sprint("k", rng.IntN(2500)) }
			for round := 0; round < 12; round++ {
				for op := 0; op < 600; op++ {
					db := rng.IntN(2)
					k := key()
					d := s.DB(db)
					switch r := rng.IntN(100); {
					case r < 55:
						dims := 3 + rng.IntN(2)
						if rng.IntN(3) > 0 {
							dims = 4
						}
						v := make([]float32, dims)
						for i := range v {
							v[i] = float32(rng.IntN(21)-10) / 4
						}
						locked(s, map[int][]string{db: {k}}, func() { d.SetVector([]byte(k), &Vector{Comps: v}, 0) })
						m[db][k] = v
					case r < 70:
						locked(s, map[int][]string{db: {k}}, func() { d.Delete([]byte(k)) })
						delete(m[db], k)
					case r < 75:
						locked(s, map[int][]string{db: {k}}, func() { d.SetString([]byte(k), []byte("s"), 0, false) })
						delete(m[db], k)
					case r < 80:
						k2 := key()
						if k2 == k {
							continue
						}
						locked(s, map[int][]string{db: {k, k2}}, func() {
							if d.Rename([]byte(k), []byte(k2)) {
								if v, ok := m[db][k]; ok {
									m[db][k2] = v
								} else {
									delete(m[db], k2)
								}
								delete(m[db], k)
							}
						})
					case r < 85:
						k2 := key()
						if k2 == k {
							continue
						}
						locked(s, map[int][]string{db: {k, k2}}, func() {
							if d.CopyTo([]byte(k), d, []byte(k2)) {
								if v, ok := m[db][k]; ok {
									m[db][k2] = v
								} else {
									delete(m[db], k2)
								}
							}
						})
					case r < 90:
						to := 1 - db
						locked(s, map[int][]string{db: {k}, to: {k}}, func() {
							if d.MoveTo([]byte(k), s.DB(to)) {
								if v, ok := m[db][k]; ok {
									m[to][k] = v
								} else {
									delete(m[to], k)
								}
								delete(m[db], k)
							}
						})
					case r < 95:
						locked(s, map[int][]string{db: {k}}, func() {
							if d.Lookup([]byte(k)) != nil {
								d.SetExpiry([]byte(k), NowMs()-1)
							}
						})
						delete(m[db], k)
					default:
						if rng.IntN(20) == 0 {
							var ls LockSet
							ls.AddDB(db)
							s.Lock(&ls)
							if err := d.Flush(); err != nil {
								t.Fatal(err)
							}
							s.Unlock(&ls)
							m[db] = map[string][]float32{}
						}
					}
				}
				m.check(t, s, rng)
				if persist && round%4 == 3 {
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					if s, err = Open(Options{Dir: dir, Sync: SyncNo}); err != nil {
						t.Fatal(err)
					}
					m.check(t, s, rng)
				}
			}
			if mem := s.VecMemory(); mem <= 0 {
				t.Fatalf("vector index memory %d", mem)
			}
		})
	}
}

// Concurrent writers and searchers (run with -race): the graph worker, the
// writers and the searches share the space's locks; at the end every live
// key is found and no deleted one.
func TestVecIndexConcurrent(t *testing.T) {
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.DB(0)
	var wg sync.WaitGroup
	const writers, per = 4, 1500
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; i < per; i++ {
				k := fmt.Sprintf("w%d-%d", w, i)
				v := []float32{rng.Float32(), rng.Float32(), rng.Float32(), rng.Float32()}
				locked(s, map[int][]string{0: {k}}, func() {
					db.SetVector([]byte(k), &Vector{Comps: v, Meta: []byte(`{"w":"` + fmt.Sprint(w) + `"}`), HasMeta: true}, 0)
				})
				if i%3 == 0 {
					locked(s, map[int][]string{0: {k}}, func() { db.Delete([]byte(k)) })
				}
			}
		}(w)
	}
	stop := make(chan struct{})
	var sw sync.WaitGroup
	sw.Add(1)
	go func() {
		defer sw.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			db.VSearch([]float32{1, 0, 0, 0}, 10, nil)
			db.VSearch([]float32{0, 1, 0, 0}, 5, []VecFilter{{"w", "1"}})
			db.VCard()
		}
	}()
	wg.Wait()
	close(stop)
	sw.Wait()
	want := int64(writers * (per - (per+2)/3))
	if got := db.VCard(); got != want {
		t.Fatalf("VCARD %d, want %d", got, want)
	}
	hits := db.VSearch([]float32{1, 1, 1, 1}, 10000, nil)
	seen := map[string]bool{}
	for _, h := range hits {
		var w, i int
		fmt.Sscanf(h.Key, "w%d-%d", &w, &i)
		if i%3 == 0 || seen[h.Key] {
			t.Fatalf("deleted or repeated key %s", h.Key)
		}
		seen[h.Key] = true
	}
	// filtered search is exact: every live vector of writer 2
	hits = db.VSearch([]float32{1, 1, 1, 1}, 10000, []VecFilter{{"w", "2"}})
	if len(hits) != per-(per+2)/3 {
		t.Fatalf("filter found %d, want %d", len(hits), per-(per+2)/3)
	}
	if !slices.IsSortedFunc(hits, func(a, b VecHit) int {
		if better(&a, &b) {
			return -1
		}
		return 1
	}) {
		t.Fatal("hits not sorted")
	}
}

// A write during the start-up read of the vectors wins over what the read
// finds on disk; searches wait only for the read, not for the graph.
func TestVecLoadRace(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Sync: SyncNo})
	if err != nil {
		t.Fatal(err)
	}
	db := s.DB(0)
	const n = 3000
	for i := 0; i < n; i++ {
		k := fmt.Sprint("v", i)
		locked(s, map[int][]string{0: {k}}, func() {
			db.SetVector([]byte(k), &Vector{Comps: []float32{float32(i), 1}}, 0)
		})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Options{Dir: dir, Sync: SyncNo})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db = s.DB(0)
	// writes right after the start, racing the read
	for i := 0; i < n; i += 2 {
		k := fmt.Sprint("v", i)
		locked(s, map[int][]string{0: {k}}, func() {
			if i%4 == 0 {
				db.Delete([]byte(k))
			} else {
				db.SetVector([]byte(k), &Vector{Comps: []float32{-1, 0}}, 0)
			}
		})
	}
	start := time.Now()
	if got := db.VCard(); got != n-n/4 {
		t.Fatalf("VCARD %d, want %d", got, n-n/4)
	}
	hits := db.VSearch([]float32{-1, 0}, n, nil)
	if len(hits) != n-n/4 {
		t.Fatalf("%d hits, want %d", len(hits), n-n/4)
	}
	for i, h := range hits {
		var j int
		fmt.Sscanf(h.Key, "v%d", &j)
		if i < n/4 && (j%4 != 2 || h.Score != 1) {
			t.Fatalf("hit %d: %s %v", i, h.Key, h.Score)
		}
		if j%4 == 0 {
			t.Fatalf("deleted %s found", h.Key)
		}
	}
	t.Logf("searched %v after the start", time.Since(start))
}

// FLUSHDB while the graph worker is busy: the accounted index memory goes
// back to zero and stays there.
func TestVecFlushMemory(t *testing.T) {
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.DB(0)
	rng := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 3000; i++ {
		k := fmt.Sprint("k", i)
		v := make([]float32, 32)
		for j := range v {
			v[j] = rng.Float32()
		}
		locked(s, map[int][]string{0: {k}}, func() { db.SetVector([]byte(k), &Vector{Comps: v}, 0) })
	}
	before := s.UsedMemory()
	var ls LockSet
	ls.AddDB(0)
	s.Lock(&ls)
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	s.Unlock(&ls)
	time.Sleep(300 * time.Millisecond) // the worker notices the flush
	if m := s.VecMemory(); m != 0 {
		t.Fatalf("index memory after FLUSHDB %d (before %d)", m, before)
	}
	if got := db.VCard(); got != 0 {
		t.Fatalf("VCARD %d", got)
	}
}

// TestVecFastLayout: random VSET (new keys and overwrites), DEL, RENAME,
// EXPIRE and FLUSHDB on one space of 16 dims; after each batch the 1-bit
// blocks match codes made afresh (checkFastLayout), and a flat search whose
// first pass keeps at least every vector returns the best 100 2-bit
// estimates of the live vectors, and its hits are live with exact scores.
func TestVecFastLayout(t *testing.T) {
	// 16 dims: a run's 2-bit codes are one slice (estimated by one call);
	// 4,096: runs cross the codes' slabs (estimated one by one)
	for _, dims := range []int{16, 4096} {
		t.Run(fmt.Sprint("dims=", dims), func(t *testing.T) { testVecFastLayout(t, dims) })
	}
}

func testVecFastLayout(t *testing.T, dims int) {
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer func(a, b int) { flatFirst, flatFastMin = a, b }(flatFirst, flatFastMin)
	rng := rand.New(rand.NewPCG(3, 3))
	d := s.DB(0)
	m := map[string][]float32{}
	key := func() string { return fmt.Sprint("f", rng.IntN(3000)) }
	for round := 0; round < 10; round++ {
		for op := 0; op < 1500; op++ {
			k := key()
			switch r := rng.IntN(100); {
			case r < 60:
				v := make([]float32, dims)
				for i := range v {
					v[i] = rng.Float32()*2 - 1
				}
				locked(s, map[int][]string{0: {k}}, func() { d.SetVector([]byte(k), &Vector{Comps: v}, 0) })
				m[k] = v
			case r < 75:
				locked(s, map[int][]string{0: {k}}, func() { d.Delete([]byte(k)) })
				delete(m, k)
			case r < 85:
				k2 := key()
				if k2 == k {
					continue
				}
				locked(s, map[int][]string{0: {k, k2}}, func() {
					if d.Rename([]byte(k), []byte(k2)) {
						if v, ok := m[k]; ok {
							m[k2] = v
						} else {
							delete(m, k2)
						}
						delete(m, k)
					}
				})
			case r < 99:
				locked(s, map[int][]string{0: {k}}, func() {
					if d.Lookup([]byte(k)) != nil {
						d.SetExpiry([]byte(k), NowMs()-1)
						d.Lookup([]byte(k)) // expires it
					}
				})
				delete(m, k)
			default:
				if round%3 == 2 && rng.IntN(10) == 0 {
					var ls LockSet
					ls.AddDB(0)
					s.Lock(&ls)
					if err := d.Flush(); err != nil {
						t.Fatal(err)
					}
					s.Unlock(&ls)
					m = map[string][]float32{}
				}
			}
		}
		checkFastLayout(t, s, 0)
		sp := s.vec.dbs[0].spaces[dims]
		if sp == nil {
			continue
		}
		q := make([]float32, dims)
		for i := range q {
			q[i] = rng.Float32()*2 - 1
		}
		sp.mu.RLock()
		vd := sp.data.Load()
		all := func(uint32) bool { return true }
		flatFirst, flatFastMin = len(sp.state), 0
		got := sp.flatSearch(vd, q, 100, all, new(flatBuf))
		// the reference: the best 100 2-bit estimates of the live vectors
		fq := sp.rot.query(q, new(flatBuf))
		cb := sp.rot.codeBytes()
		var ref []flatCand
		for id, st := range sp.state {
			if st&stLive == 0 {
				continue
			}
			c := vd.chunks[id>>vd.shift]
			j := id & (1<<vd.shift - 1)
			var o [1]uint32
			var e [1]float32
			if scan2(c.c2[j*cb:(j+1)*cb], fq.q, c.cf[j:j+1], -3*fq.sumQ, float32(math.Inf(-1)), o[:], e[:]) == 1 {
				ref = append(ref, flatCand{e[0], uint32(id)})
			}
		}
		sp.mu.RUnlock()
		slices.SortFunc(ref, func(a, b flatCand) int { return cmp.Compare(b.est, a.est) })
		var want []uint32
		for _, c := range ref[:min(100, len(ref))] {
			want = append(want, c.id)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: fast candidates %v, want %v", round, got, want)
		}
		for _, id := range got {
			if sp.state[id]&stLive == 0 {
				t.Fatalf("round %d: removed id %d returned", round, id)
			}
		}
		flatFirst = 50 // the 1-bit pass does choose
		hits := d.VSearch(q, 10, nil)
		for _, h := range hits {
			if v, ok := m[h.Key]; !ok || math.Abs(float64(h.Score)-cos64(q, v)) > 1e-6 {
				t.Fatalf("round %d: hit %q (live %v)", round, h.Key, ok)
			}
		}
	}
}
