package storage

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
)

// TestMemPerKey reports the live heap bytes per key after loading
// LUX_MEMKEYS (default: skipped) keys "key:%012d" with 100-byte values into
// a store without persistence.
func TestMemPerKey(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LUX_MEMKEYS"))
	if n == 0 {
		t.Skip("set LUX_MEMKEYS")
	}
	dir := ""
	if os.Getenv("LUX_MEMDUR") != "" {
		dir = t.TempDir()
	}
	val := make([]byte, 100)
	for i := range val {
		val[i] = 'x'
	}
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.DB(0)
	var ls LockSet
	key := make([]byte, 0, 32)
	for i := 0; i < n; i++ {
		key = fmt.Appendf(key[:0], "key:%012d", i)
		ls.Reset()
		ls.Add(s.ShardOf(0, key))
		s.Lock(&ls)
		db.SetString(key, val, 0, false)
		s.Unlock(&ls)
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	t.Logf("keys %d: heap alloc %.1f B/key, heap inuse %.1f B/key, used_memory %d (%.1f B/key)",
		n, float64(ms1.HeapAlloc-ms0.HeapAlloc)/float64(n), float64(ms1.HeapInuse-ms0.HeapInuse)/float64(n),
		s.UsedMemory(), float64(s.UsedMemory())/float64(n))
	if path := os.Getenv("LUX_MEMPROF"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	runtime.KeepAlive(s)
}
