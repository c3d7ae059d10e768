package main

// A damaged data directory at start: lux refuses to serve it (exit status 1
// and a message naming the problem), or, for a damaged key, starts with
// writes refused (-MISCONF naming the key) and the other keys readable.

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/luxdb/lux-go/storage"
)

// luxDataDir starts lux on a new data directory, writes keys k0..k499, stops
// it cleanly and returns the directory.
func luxDataDir(t *testing.T) string {
	t.Helper()
	p := startLux(t)
	c := dialRESP(t, p.Addr)
	for i := 0; i < 500; i++ {
		c.Send("SET", fmt.Sprint("k", i), fmt.Sprint("value-", i))
	}
	for i := 0; i < 500; i++ {
		if r := c.Reply(); r != "+OK\r\n" {
			t.Fatalf("SET: %q", r)
		}
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("lux stop: %v\n%s", err, p.Output())
	}
	return p.Dir
}

// runLuxExpectExit runs lux on dir and returns its exit code and output; it
// fails the test if lux is still running after startTimeout (it served a
// directory it should have refused).
func runLuxExpectExit(t *testing.T, dir string) (int, string) {
	t.Helper()
	cmd := exec.Command(buildLux(t), "--bind", "127.0.0.1", "--port", strconv.Itoa(freePort(t)), "--data-dir", dir)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode(), out.String()
	case <-time.After(startTimeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("lux served a damaged data directory instead of exiting:\n%s", out.String())
		return 0, ""
	}
}

// rawPebble writes records straight into a stopped lux's data directory.
func rawPebble(t *testing.T, dir string, fn func(b *pebble.Batch)) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{FormatMajorVersion: pebble.FormatNewest})
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	fn(b)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// metaKey is the meta record key of key in database 0 (storage's encoding:
// 'k', db, KeyHash big-endian, key).
func metaKey(key string) []byte {
	k := []byte{'k', 0}
	k = binary.BigEndian.AppendUint64(k, storage.KeyHash([]byte(key)))
	return append(k, key...)
}

// TestCorruptDataDirRefused: lux exits with status 1 and a message naming
// the damage instead of serving the directory.
func TestCorruptDataDirRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string
	}{
		{"table-truncated", func(t *testing.T, dir string) {
			ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
			if len(ssts) == 0 {
				t.Fatal("no table file")
			}
			fi, err := os.Stat(ssts[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(ssts[0], fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}, "object size mismatch"},
		{"manifest-missing", func(t *testing.T, dir string) {
			ms, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
			for _, m := range ms {
				os.Remove(m)
			}
		}, "could not open manifest file"},
		{"key-count-record", func(t *testing.T, dir string) {
			rawPebble(t, dir, func(b *pebble.Batch) { b.Set([]byte{'c', 0}, []byte{1, 2, 3}, nil) })
		}, "data directory is corrupt: key count record of db 0 has 3 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := luxDataDir(t)
			tc.damage(t, dir)
			code, out := runLuxExpectExit(t, dir)
			if code != 1 {
				t.Fatalf("exit status %d, want 1\n%s", code, out)
			}
			want := fmt.Sprintf("lux: opening data directory %q: ", dir)
			if !strings.Contains(out, want) || !strings.Contains(out, tc.want) {
				t.Fatalf("output does not say %q ... %q:\n%s", want, tc.want, out)
			}
			t.Logf("lux said:\n%s", out)
			if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
				t.Fatalf("lux crashed instead of exiting with a message:\n%s", out)
			}
		})
	}
}

// TestCorruptKeyRecordRefusesWrites: one key's meta record is cut short. lux
// starts (the rest of the data is fine), finds the record while it builds
// its key index, logs it, refuses writes with -MISCONF naming the key,
// answers reads of that key with the error, and still serves the others.
func TestCorruptKeyRecordRefusesWrites(t *testing.T) {
	dir := luxDataDir(t)
	rawPebble(t, dir, func(b *pebble.Batch) { b.Set(metaKey("k7"), []byte{1, 0, 0}, nil) })
	p := startLux(t, "--data-dir", dir)
	c := dialRESP(t, p.Addr)
	var rep string
	deadline := time.Now().Add(startTimeout)
	for {
		rep = c.Do("SET", "other", "x")
		if strings.HasPrefix(rep, "-MISCONF") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := `-MISCONF Errors writing to the data directory, writes are refused until the server is restarted: reading key "k7" from the data directory: storage: corrupt record`
	if !strings.HasPrefix(rep, want) {
		t.Fatalf("SET after start: %q, want %q...", rep, want)
	}
	if r := c.Do("GET", "k7"); !strings.HasPrefix(r, `-ERR reading key "k7" from the data directory: storage: corrupt record`) {
		t.Fatalf("GET of the damaged key: %q", r)
	}
	if r := c.Do("GET", "k8"); r != "$7\r\nvalue-8\r\n" {
		t.Fatalf("GET k8: %q", r)
	}
	if !strings.Contains(p.Output(), `reading key "k7" from the data directory`) {
		t.Fatalf("the damaged key is not in the log:\n%s", p.Output())
	}
}
