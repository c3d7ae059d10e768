package storage

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestVectorRecall checks the contract's recall figure: recall@10 ≥ 0.95
// against exact search on 100,000 random 128-dim vectors (components
// uniform in [−1, 1]), 1,000 random queries, for the index a space of that
// size uses (the flat one) and for the HNSW graph that larger spaces use.
// VEC_RECALL_N overrides the count for quick runs.
func TestVectorRecall(t *testing.T) {
	if raceEnabled && os.Getenv("VEC_RECALL_N") == "" {
		// the race detector makes the 100k build take many minutes: the
		// figure is checked by the same test built without it
		cmd := exec.Command("go", "test", "-count=1", "-run", "^TestVectorRecall$", "-v", ".")
		cmd.Env = append(os.Environ(), "VEC_RECALL_N=100000")
		out, err := cmd.CombinedOutput()
		t.Logf("%s", out)
		if err != nil {
			t.Fatalf("recall test without -race: %v", err)
		}
		return
	}
	n := 100_000
	if v := os.Getenv("VEC_RECALL_N"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	envInt := func(name string, p *int) {
		if v := os.Getenv(name); v != "" {
			*p, _ = strconv.Atoi(v)
		}
	}
	envInt("VEC_M", &hnswM)
	envInt("VEC_M0", &hnswM0)
	envInt("VEC_EFC", &hnswEfC)
	envInt("VEC_EF", &hnswEf)
	uniform := func(rng *rand.Rand, v []float32) {
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
	}
	t.Run("flat", func(t *testing.T) { vecRecall(t, n, 128, uniform, false) })
	t.Run("fast", func(t *testing.T) {
		// the 1-bit first pass that spaces of 128k+ vectors start with,
		// at this size
		defer func(b int) { flatFastMin = b }(flatFastMin)
		flatFastMin = 0
		vecRecall(t, n, 128, uniform, false)
	})
	t.Run("graph", func(t *testing.T) { vecRecall(t, n, 128, uniform, true) })
}

// TestVectorRecallEmbeddingLike: the flat index on data shaped like real
// embeddings — clusters, a few dimensions much larger than the rest, a dims
// that is not a power of two (384, padded to 512 for the rotation).
func TestVectorRecallEmbeddingLike(t *testing.T) {
	t.Run("flat", func(t *testing.T) { vecRecallEmbeddingLike(t) })
	t.Run("fast", func(t *testing.T) {
		// through the 1-bit first pass, keeping a tenth of the vectors
		defer func(a, b int) { flatFirst, flatFastMin = a, b }(flatFirst, flatFastMin)
		flatFirst, flatFastMin = 2000, 0
		vecRecallEmbeddingLike(t)
	})
}

func vecRecallEmbeddingLike(t *testing.T) {
	crng := rand.New(rand.NewPCG(5, 6))
	const dims = 384
	centers := make([][]float32, 200)
	for i := range centers {
		centers[i] = make([]float32, dims)
		for j := range centers[i] {
			centers[i][j] = float32(crng.NormFloat64())
		}
	}
	vecRecall(t, 20_000, dims, func(rng *rand.Rand, v []float32) {
		c := centers[rng.IntN(len(centers))]
		for j := range v {
			v[j] = c[j]*0.5 + float32(rng.NormFloat64())*0.5
			if j < 8 {
				v[j] = v[j]*6 + 3
			}
		}
	}, false)
}

// vecRecall loads n vectors made by gen into a space (its graph built when
// graph is set) and checks recall@10 of 1,000 queries made by gen.
func vecRecall(t *testing.T, n, dims int, gen func(*rand.Rand, []float32), graph bool) {
	const queries, k = 1000, 10
	if graph {
		defer func(b int64) { vecFlatBytes = b }(vecFlatBytes)
		vecFlatBytes = 0
	}
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.DB(0)
	rng := rand.New(rand.NewPCG(1, 2))
	randVec := func() []float32 {
		v := make([]float32, dims)
		gen(rng, v)
		return v
	}
	start := time.Now()
	setVectors(db, n, randVec)
	sp := s.vec.dbs[0].spaces[dims]
	waitGraph(t, sp)
	build := time.Since(start)
	if (sp.g != nil) != graph {
		t.Fatalf("graph built: %v, want %v", sp.g != nil, graph)
	}
	qs := make([][]float32, queries)
	want := make([]map[string]bool, queries)
	var exactDur time.Duration
	for qi := range qs {
		qs[qi] = randVec()
		t0 := time.Now()
		want[qi] = map[string]bool{}
		for _, h := range sp.exact(qs[qi], k) {
			want[qi][h.Key] = true
		}
		exactDur += time.Since(t0)
	}
	efs := []int{hnswEf}
	if v := os.Getenv("VEC_EFS"); v != "" && graph {
		efs = nil
		for _, f := range strings.Split(v, ",") {
			n, _ := strconv.Atoi(f)
			efs = append(efs, n)
		}
	}
	var recall float64
	for _, ef := range efs {
		hnswEf = ef
		var hit int
		var annDur time.Duration
		for qi, q := range qs {
			t0 := time.Now()
			got := db.VSearch(q, k, nil)
			annDur += time.Since(t0)
			for _, h := range got {
				if want[qi][h.Key] {
					hit++
				}
			}
		}
		recall = float64(hit) / float64(queries*k)
		index := "flat"
		if graph {
			index = fmt.Sprintf("graph M=%d M0=%d efC=%d ef=%d", hnswM, hnswM0, hnswEfC, hnswEf)
		}
		fmt.Printf("vector recall: %s dims=%d n=%d build=%v recall@10=%.4f ann=%v/query exact=%v/query\n", index, dims, n, build, recall, annDur/queries, exactDur/queries)
	}
	if recall < 0.95 {
		t.Fatalf("recall@10 = %.4f, want ≥ 0.95", recall)
	}
}

// waitGraph waits until the space's worker has put every vector in the graph.
func waitGraph(t testing.TB, sp *vecSpace) {
	t.Helper()
	for {
		sp.mu.RLock()
		done := !sp.working
		sp.mu.RUnlock()
		if done {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// setVectors stores n vectors made by randVec as keys v0…v<n-1> of db.
func setVectors(db DB, n int, randVec func() []float32) {
	for i := 0; i < n; i++ {
		key := []byte("v" + strconv.Itoa(i))
		sh := db.shard(key)
		sh.mu.Lock()
		db.SetVector(key, &Vector{Comps: randVec()}, 0)
		sh.mu.Unlock()
	}
}

// exact is the brute-force answer (the reference for recall).
func (sp *vecSpace) exact(q []float32, k int) []VecHit { return sp.searchMode(q, k, nil, true) }

// BenchmarkVecSearchFlat: VSEARCH K 10 through the flat index over
// VEC_BENCH_N (default 100,000) vectors of 128 dims (vecBenchGen);
// VEC_FAST_MIN overrides flatFastMin.
func BenchmarkVecSearchFlat(b *testing.B) {
	n := 100_000
	if v := os.Getenv("VEC_BENCH_N"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	s, err := Open(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	db := s.DB(0)
	rng := rand.New(rand.NewPCG(1, 2))
	if v := os.Getenv("VEC_FAST_MIN"); v != "" {
		// e.g. 1e9: the 2-bit scan of every code, as before the 1-bit pass
		defer func(b int) { flatFastMin = b }(flatFastMin)
		flatFastMin, _ = strconv.Atoi(v)
	}
	gen := vecBenchGen(128)
	randVec := func() []float32 {
		v := make([]float32, 128)
		gen(rng, v)
		return v
	}
	setVectors(db, n, randVec)
	qs := make([][]float32, 64)
	for i := range qs {
		qs[i] = randVec()
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		db.VSearch(qs[i%len(qs)], 10, nil)
		i++
	}
}

// TestSelectBest: selectBest keeps the n largest estimates, with ties and
// NaN-free random input of every size up to 60.
func TestSelectBest(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for size := 0; size <= 60; size++ {
		for n := 0; n <= size; n++ {
			c := make([]flatCand, size)
			for i := range c {
				c[i] = flatCand{float32(rng.IntN(8)), uint32(i)} // many ties
			}
			want := slices.Clone(c)
			slices.SortFunc(want, func(a, b flatCand) int { return cmp.Compare(b.est, a.est) })
			selectBest(c, n)
			got := slices.Clone(c[:n])
			slices.SortFunc(got, func(a, b flatCand) int { return cmp.Compare(b.est, a.est) })
			for i := range got {
				if got[i].est != want[i].est {
					t.Fatalf("size %d n %d: %v, want %v", size, n, got, want[:n])
				}
			}
		}
	}
}

// vecBenchGen makes vectors of dims components: uniform in [−1, 1], or
// with VEC_DATA=clustered around 1,000 centers, the first 8 dimensions
// six times larger and offset (embedding-like).
func vecBenchGen(dims int) func(*rand.Rand, []float32) {
	if os.Getenv("VEC_DATA") != "clustered" {
		return func(rng *rand.Rand, v []float32) {
			for i := range v {
				v[i] = rng.Float32()*2 - 1
			}
		}
	}
	crng := rand.New(rand.NewPCG(5, 6))
	centers := make([][]float32, 1000)
	for i := range centers {
		centers[i] = make([]float32, dims)
		for j := range centers[i] {
			centers[i][j] = float32(crng.NormFloat64())
		}
	}
	return func(rng *rand.Rand, v []float32) {
		c := centers[rng.IntN(len(centers))]
		for j := range v {
			v[j] = c[j]*0.5 + float32(rng.NormFloat64())*0.5
			if j < 8 {
				v[j] = v[j]*6 + 3
			}
		}
	}
}

// TestVectorFastSweep (set VEC_SWEEP to a list of first-pass candidate
// counts, e.g. 4000,8000,16000) reports recall@10 and time per query of the
// flat search through the 1-bit pass for each count, on VEC_RECALL_N
// (default 1,000,000) vectors of 128 dims: uniform (VEC_DATA unset) or
// clustered ("clustered": 1,000 centers, a few large dimensions).
func TestVectorFastSweep(t *testing.T) {
	sweep := os.Getenv("VEC_SWEEP")
	if sweep == "" {
		t.Skip("VEC_SWEEP not set")
	}
	n := 1_000_000
	if v := os.Getenv("VEC_RECALL_N"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	const dims, queries, k = 128, 300, 10
	gen := vecBenchGen(dims)
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.DB(0)
	rng := rand.New(rand.NewPCG(1, 2))
	randVec := func() []float32 {
		v := make([]float32, dims)
		gen(rng, v)
		return v
	}
	setVectors(db, n, randVec)
	sp := s.vec.dbs[0].spaces[dims]
	qs := make([][]float32, queries)
	want := make([]map[string]bool, queries)
	for qi := range qs {
		qs[qi] = randVec()
		want[qi] = map[string]bool{}
		for _, h := range sp.exact(qs[qi], k) {
			want[qi][h.Key] = true
		}
	}
	defer func(a, b int) { flatFirst, flatFastMin = a, b }(flatFirst, flatFastMin)
	for _, f := range strings.Split(sweep, ",") {
		flatFirst, _ = strconv.Atoi(f)
		if flatFirst == 0 {
			flatFastMin = n + 1 // the 2-bit scan of every code
		} else {
			flatFastMin = 0
		}
		var hit int
		t0 := time.Now()
		for qi, q := range qs {
			for _, h := range db.VSearch(q, k, nil) {
				if want[qi][h.Key] {
					hit++
				}
			}
		}
		fmt.Printf("sweep: data=%q n=%d first=%d recall@10=%.4f time=%v/query\n", os.Getenv("VEC_DATA"), n, flatFirst, float64(hit)/float64(queries*k), time.Since(t0)/queries)
	}
}

// TestFlatRun: every run of a search is done exactly once and its results
// reach the caller, with more workers than runs, workers that start after
// the search is over, and searches running at once that share the pools
// (run with -race: a late worker must not touch a finished search).
func TestFlatRun(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := new(flatBuf)
			for i := range 300 {
				nruns := []int{0, 1, 2, 3, 7, 64}[(g+i)%6]
				workers := 1 + (g+i)%5
				var started atomic.Int64
				start := func(sc *flatScratch) {
					started.Add(1)
					sc.init(100, float32(math.Inf(-1)), 32)
				}
				run := func(sc *flatScratch, r int) {
					if r%4 == 1 {
						time.Sleep(20 * time.Microsecond) // the other workers take runs
					}
					sc.t.add(flatCand{float32(r), uint32(r)})
				}
				ids := b.keep(flatRun(workers, nruns, start, run, nil), 1000, func(uint32) bool { return true })
				slices.Sort(ids)
				for r, id := range ids {
					if id != uint32(r) {
						t.Errorf("%d runs on %d workers: ids %v", nruns, workers, ids)
						return
					}
				}
				if len(ids) != nruns || started.Load() > int64(min(workers, nruns)) {
					t.Errorf("%d runs on %d workers: %d ids, %d workers started", nruns, workers, len(ids), started.Load())
					return
				}
			}
		}()
	}
	wg.Wait()
}
