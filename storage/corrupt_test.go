package storage

// A corrupt or truncated data directory found at start: Open fails with a
// message naming the problem, or the damage is reported (Store.Err, which
// turns writes off) as soon as the store reads it; a key is never served
// with another value, nor as missing while the store reports nothing.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/stretchr/testify/require"
)

// corruptFixture writes a data directory in three runs (so that it holds
// tables, manifest edits and compactions, not only a log) and returns it
// with the string values it holds. Database 0 also holds a hash "h".
func corruptFixture(t *testing.T) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	want := map[string]string{}
	for run := 0; run < 3; run++ {
		s, err := Open(Options{Dir: dir})
		require.NoError(t, err)
		withDB(s, func(db DB) {
			for i := 0; i < 2000; i++ {
				k := fmt.Sprintf("r%dk%d", run, i)
				v := fmt.Sprintf("%s=%s", k, strings.Repeat("v", 100))
				db.SetString([]byte(k), []byte(v), 0, false)
				want[k] = v
			}
			if run == 0 {
				h := NewHash()
				tx := db.Begin()
				e := tx.Create([]byte("h"), h)
				for i := 0; i < 50; i++ {
					f, v := []byte(fmt.Sprint("f", i)), []byte(fmt.Sprint("v", i))
					h.Set(f, v)
					tx.Put([]byte("h"), f, v)
				}
				tx.Changed([]byte("h"), e, 0, "hset")
				tx.Commit()
			}
		})
		require.NoError(t, s.Close())
	}
	return dir, want
}

// servedCorrectly checks every key of want on an opened store: its value,
// or, when the key cannot be read, a reported error. It waits for the key
// index build, which reads every meta record in the background after Open.
func servedCorrectly(t *testing.T, s *Store, want map[string]string) (missing int) {
	t.Helper()
	<-s.indexDone
	withDB(s, func(db DB) {
		for k, v := range want {
			e := db.Lookup([]byte(k))
			if e == nil {
				missing++
				continue
			}
			require.Equal(t, v, string(e.Bytes()), "key %s is served with another value", k)
		}
		if h := db.Lookup([]byte("h")); h != nil {
			require.Equal(t, 50, h.Object().Len())
		} else {
			missing++
		}
	})
	if missing > 0 {
		require.Error(t, s.Err(), "%d keys are missing and the store reports nothing", missing)
	}
	return missing
}

// openDamaged opens dir; on success it checks what the store serves and
// returns what it reported once the key index was built (before any read).
func openDamaged(t *testing.T, dir string, want map[string]string) (atStart, openErr error) {
	t.Helper()
	lg := &faultLog{}
	s, err := Open(Options{Dir: dir, Logger: lg})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	<-s.indexDone
	atStart = s.Err()
	if servedCorrectly(t, s, want) > 0 {
		require.NotEmpty(t, lg.lines(), "the damage is logged")
	}
	return atStart, nil
}

func lastManifest(t *testing.T, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
	require.NoError(t, err)
	require.NotEmpty(t, m)
	return m[len(m)-1]
}

func tables(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	require.NoError(t, err)
	require.NotEmpty(t, m, "the fixture has tables")
	return m
}

func truncateFile(t *testing.T, path string, frac float64) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(path, int64(float64(fi.Size())*frac)))
}

// flipBytes inverts one byte every step bytes of path in [from, to) (as
// fractions of its size).
func flipBytes(t *testing.T, path string, from, to float64, step int) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	for i := int(float64(len(b)) * from); i < int(float64(len(b))*to); i += step {
		b[i] ^= 0xff
	}
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

// TestCorruptManifest: a MANIFEST cut short, emptied, overwritten in the
// middle, or missing. Pebble reads a MANIFEST up to its first bad record
// (a crash can leave a torn last record) and so may open an older state of
// the store: that must then be refused (here: tables it lists are gone) or
// hold every key, never serve a store with keys missing.
func TestCorruptManifest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, m string)
	}{
		{"truncated-90%", func(t *testing.T, m string) { truncateFile(t, m, 0.9) }},
		{"truncated-50%", func(t *testing.T, m string) { truncateFile(t, m, 0.5) }},
		{"truncated-10%", func(t *testing.T, m string) { truncateFile(t, m, 0.1) }},
		{"empty", func(t *testing.T, m string) { truncateFile(t, m, 0) }},
		{"overwritten", func(t *testing.T, m string) { flipBytes(t, m, 0.3, 0.7, 7) }},
		{"missing", func(t *testing.T, m string) { require.NoError(t, os.Remove(m)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, want := corruptFixture(t)
			tc.damage(t, lastManifest(t, dir))
			_, err := openDamaged(t, dir, want)
			t.Logf("Open: %v", err)
			if err != nil {
				require.Regexp(t, "manifest|MANIFEST|file does not exist|unknown to the objstorage provider", err.Error())
			}
		})
	}
}

// TestCorruptTable: a table file cut short, overwritten in the middle (its
// size unchanged: only the block checksums tell), or missing.
func TestCorruptTable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, sst string)
		want   string // in Open's error ("" = Open may succeed)
	}{
		{"truncated", func(t *testing.T, sst string) { truncateFile(t, sst, 0.5) }, "object size mismatch"},
		{"truncated-footer", func(t *testing.T, sst string) { truncateFile(t, sst, 0.999) }, "object size mismatch"},
		{"overwritten", func(t *testing.T, sst string) { flipBytes(t, sst, 0.4, 0.41, 1<<30) }, ""},
		{"missing", func(t *testing.T, sst string) { require.NoError(t, os.Remove(sst)) }, "file does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, want := corruptFixture(t)
			for _, sst := range tables(t, dir) {
				tc.damage(t, sst)
			}
			atStart, err := openDamaged(t, dir, want)
			t.Logf("Open: %v; reported after the index build: %v", err, atStart)
			if tc.want != "" {
				require.ErrorContains(t, err, tc.want)
			} else if err == nil {
				// the index build reads every meta record: a damaged
				// block of them is reported at start, not at the first read
				require.ErrorContains(t, atStart, "from the data directory")
			}
		})
	}
}

// writeRaw writes records straight into a closed store's Pebble directory.
func writeRaw(t *testing.T, dir string, fn func(b *pebble.Batch)) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{FormatMajorVersion: pebble.FormatNewest, Logger: &faultLog{}})
	require.NoError(t, err)
	b := db.NewBatch()
	fn(b)
	require.NoError(t, b.Commit(pebble.Sync))
	require.NoError(t, db.Close())
}

// TestCorruptRecord: records of lux's own encoding with bad contents. The
// version and key count records are checked by Open; a key's meta record is
// checked when it is read: by the key index build, in the background right
// after Open, and by the first read of the key.
func TestCorruptRecord(t *testing.T) {
	count := func(v []byte) func(b *pebble.Batch) {
		return func(b *pebble.Batch) { b.Set([]byte{nsCount, 0}, v, nil) }
	}
	meta := func(key string, v []byte) func(b *pebble.Batch) {
		return func(b *pebble.Batch) { b.Set(metaKey(nil, 0, []byte(key)), v, nil) }
	}
	for _, tc := range []struct {
		name    string
		write   func(b *pebble.Batch)
		openErr string // Open must fail with it ("": Open succeeds, the damage is reported)
		key     string // the damaged key
	}{
		{"count-short", count([]byte{1, 2, 3}), "data directory is corrupt: key count record of db 0 has 3 bytes", ""},
		{"count-negative", count([]byte{0xff, 0, 0, 0, 0, 0, 0, 1}), "data directory is corrupt: db 0 has a negative key count", ""},
		{"version-other", func(b *pebble.Batch) { b.Set([]byte{nsVersion}, []byte("lux-go storage 1"), nil) },
			`data directory holds storage format "lux-go storage 1"`, ""},
		{"version-newer", func(b *pebble.Batch) { b.Set([]byte{nsVersion}, []byte("lux-go storage 4"), nil) },
			`data directory holds storage format "lux-go storage 4", this build reads "lux-go storage 3"`, ""},
		{"meta-short", meta("r1k7", []byte{byte(TypeString), 0, 0}), "", "r1k7"},
		{"meta-empty", meta("r1k8", nil), "", "r1k8"},
		{"meta-unknown-type", meta("r1k9", []byte{9, 0, 0, 0, 0, 0, 0, 0, 0, 'x'}), "", "r1k9"},
		{"hash-meta-short", meta("h", []byte{byte(TypeHash), 0}), "", "h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, want := corruptFixture(t)
			writeRaw(t, dir, tc.write)
			lg := &faultLog{}
			s, err := Open(Options{Dir: dir, Logger: lg})
			if tc.openErr != "" {
				if err == nil {
					s.Close()
				}
				require.ErrorContains(t, err, tc.openErr)
				return
			}
			require.NoError(t, err)
			defer s.Close()
			// the index build reads every meta record right after Open
			<-s.indexDone
			require.ErrorContains(t, s.Err(), fmt.Sprintf("reading key %q from the data directory", tc.key),
				"a damaged meta record is reported at start")
			require.Equal(t, 1, servedCorrectly(t, s, want), "only the damaged key is unreadable")
			require.NotEmpty(t, lg.lines())
		})
	}
}
