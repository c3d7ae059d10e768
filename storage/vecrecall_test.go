package storage

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestVectorRecall checks the contract's recall figure: recall@10 ≥ 0.95
// against exact search on 100,000 random 128-dim vectors (components
// uniform in [−1, 1]), 1,000 random queries. VEC_RECALL_N overrides the
// count for quick runs.
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
	const dims, queries, k = 128, 1000, 10
	envInt := func(name string, p *int) {
		if v := os.Getenv(name); v != "" {
			*p, _ = strconv.Atoi(v)
		}
	}
	envInt("VEC_M", &hnswM)
	envInt("VEC_M0", &hnswM0)
	envInt("VEC_EFC", &hnswEfC)
	envInt("VEC_EF", &hnswEf)
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.DB(0)
	rng := rand.New(rand.NewPCG(1, 2))
	randVec := func() []float32 {
		v := make([]float32, dims)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		return v
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		key := []byte("v" + strconv.Itoa(i))
		sh := db.shard(key)
		sh.mu.Lock()
		db.SetVector(key, &Vector{Comps: randVec()}, 0)
		sh.mu.Unlock()
	}
	sp := s.vec.dbs[0].spaces[dims]
	waitGraph(t, sp)
	build := time.Since(start)
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
	if v := os.Getenv("VEC_EFS"); v != "" {
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
		fmt.Printf("vector recall: M=%d M0=%d efC=%d ef=%d n=%d build=%v recall@10=%.4f ann=%v/query exact=%v/query\n", hnswM, hnswM0, hnswEfC, hnswEf, n, build, recall, annDur/queries, exactDur/queries)
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

// exact is the brute-force answer (the reference for recall).
func (sp *vecSpace) exact(q []float32, k int) []VecHit { return sp.searchMode(q, k, nil, true) }
