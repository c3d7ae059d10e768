package storage

import (
	"fmt"
	"testing"
)

// benchKeys are n distinct keys shaped like redis-benchmark's.
func benchKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key:%012d", i)
	}
	return keys
}

// BenchmarkStoreSetDistinct writes b.N distinct keys (100-byte values) into
// a store without persistence: the resident-key table's inserts and growth.
func BenchmarkStoreSetDistinct(b *testing.B) {
	keys := benchKeys(b.N)
	val := make([]byte, 100)
	s, err := Open(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	db := s.DB(0)
	b.ReportAllocs()
	b.ResetTimer()
	var ls LockSet
	for i := 0; i < b.N; i++ {
		ls.Reset()
		ls.Add(s.ShardOf(0, keys[i]))
		s.Lock(&ls)
		db.SetString(keys[i], val, 0, false)
		s.Unlock(&ls)
	}
}

// BenchmarkStoreGetDistinct reads 1M resident keys at random.
func BenchmarkStoreGetDistinct(b *testing.B) {
	const n = 1 << 20
	keys := benchKeys(n)
	val := make([]byte, 100)
	s, err := Open(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	db := s.DB(0)
	var ls LockSet
	for _, k := range keys {
		ls.Reset()
		ls.Add(s.ShardOf(0, k))
		s.Lock(&ls)
		db.SetString(k, val, 0, false)
		s.Unlock(&ls)
	}
	b.ReportAllocs()
	b.ResetTimer()
	x := uint32(1)
	for i := 0; i < b.N; i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		k := keys[x&(n-1)]
		ls.Reset()
		ls.Add(s.ShardOf(0, k))
		s.Lock(&ls)
		if db.Lookup(k) == nil {
			b.Fatal("missing")
		}
		s.Unlock(&ls)
	}
}

// BenchmarkEntryTableRebuild rebuilds a shard's table of 31,250 keys (a
// million keys over 32 shards): the pause a growing shard takes.
func BenchmarkEntryTableRebuild(b *testing.B) {
	var t entryTable
	for _, k := range benchKeys(31250) {
		t.put(newStringEntry(k, make([]byte, 100)))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t.rebuild(t.live + 1)
	}
}

// BenchmarkStoreGetValueDistinct is GET's access: a random lookup among
// 1M resident keys that reads the value's first and last bytes.
func BenchmarkStoreGetValueDistinct(b *testing.B) {
	const n = 1 << 20
	keys := benchKeys(n)
	val := make([]byte, 100)
	s, err := Open(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	db := s.DB(0)
	var ls LockSet
	for _, k := range keys {
		ls.Reset()
		ls.Add(s.ShardOf(0, k))
		s.Lock(&ls)
		db.SetString(k, val, 0, false)
		s.Unlock(&ls)
	}
	b.ResetTimer()
	x, sum := uint32(1), 0
	for i := 0; i < b.N; i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		k := keys[x&(n-1)]
		ls.Reset()
		ls.Add(s.ShardOf(0, k))
		s.Lock(&ls)
		v := db.Lookup(k).Bytes()
		sum += int(v[0]) + int(v[len(v)-1])
		s.Unlock(&ls)
	}
	if sum < 0 {
		b.Fatal(sum)
	}
}
