package tables

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/luxdb/lux-go/storage"
)

type nopWriter struct{ n int }

func (w *nopWriter) WriteArray(n int)         { w.n += n }
func (w *nopWriter) WriteInt64(n int64)       { w.n++ }
func (w *nopWriter) WriteBulkString(s string) { w.n += len(s) }

// chatDB loads n chat messages (persistence per dir: "" = off).
func chatDB(b *testing.B, dir string, n int) *DB {
	b.Helper()
	var st *storage.Store
	if dir != "" {
		var err error
		st, err = storage.Open(storage.Options{Dir: dir, Sync: storage.SyncEverySec})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
	}
	db, err := Open(st)
	if err != nil {
		b.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(db.Create([]byte("users"), bs("username:str:unique", "color:str", "last_seen:int")))
	must(db.Create([]byte("channels"), bs("name:str:unique", "topic:str")))
	must(db.Create([]byte("messages"), bs("channel_id:ref(channels)", "user_id:ref(users)", "content:str", "timestamp:int")))
	for i := 1; i <= 1000; i++ {
		_, err := db.Insert([]byte("users"), bs("username", "u"+strconv.Itoa(i), "color", "#fff", "last_seen", "1"))
		must(err)
	}
	for i := 1; i <= 100; i++ {
		_, err := db.Insert([]byte("channels"), bs("name", "c"+strconv.Itoa(i)))
		must(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < n; i++ {
		_, err := db.Insert([]byte("messages"), bs("channel_id", strconv.Itoa(1+rng.IntN(100)), "user_id", strconv.Itoa(1+rng.IntN(1000)),
			"content", "message "+strconv.Itoa(i)+" the quick brown fox jumps over the lazy dog", "timestamp", strconv.Itoa(1732550000000+i*10)))
		must(err)
	}
	return db
}

func BenchmarkInsertMessage(b *testing.B) {
	for _, durable := range []bool{false, true} {
		name := "memory"
		if durable {
			name = "durable"
		}
		b.Run(name, func(b *testing.B) {
			dir := ""
			if durable {
				dir = b.TempDir()
			}
			db := chatDB(b, dir, 0)
			rng := rand.New(rand.NewPCG(1, 1))
			args := bs("channel_id", "1", "user_id", "1", "content", "message the quick brown fox jumps over the lazy dog", "timestamp", "0")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				args[1] = []byte(strconv.Itoa(1 + rng.IntN(100)))
				args[3] = []byte(strconv.Itoa(1 + rng.IntN(1000)))
				args[7] = []byte(strconv.Itoa(1732550000000 + i))
				if _, err := db.Insert([]byte("messages"), args); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkHistoryQuery(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchHistory(b, chatDB(b, "", 200000)) })
	b.Run("durable", func(b *testing.B) {
		// the index read from Pebble, the rows resident (the hot set)
		db := chatDB(b, b.TempDir(), 200000)
		if err := db.store.TableWaitCommitted(db.store.LastSeq()); err != nil {
			b.Fatal(err)
		}
		db.Lock()
		db.prune() // the overlays are empty: every entry comes from Pebble
		db.Unlock()
		benchHistory(b, db)
	})
}

func benchHistory(b *testing.B, db *DB) {
	var w nopWriter
	rng := rand.New(rand.NewPCG(2, 2))
	args := bs("messages", "WHERE", "channel_id", "=", "1", "ORDER", "BY", "timestamp", "DESC", "LIMIT", "50")
	b.ResetTimer()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		args[4] = []byte(strconv.Itoa(1 + rng.IntN(100)))
		if err := db.Query(args, &w); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	db := chatDB(b, "", 0)
	var w nopWriter
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := db.Get([]byte("users"), []byte(strconv.Itoa(1+i%1000)), &w); err != nil {
			b.Fatal(err)
		}
	}
}
