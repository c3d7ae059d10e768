package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestGeneratedUpToDate regenerates server/cmd_specs.go from the Redis
// source tree in $REDIS_SRC (a Redis 7.0.15 tree, as .ci/run extracts) and
// checks that the committed file is what the generator makes of it.
func TestGeneratedUpToDate(t *testing.T) {
	src := os.Getenv("REDIS_SRC")
	if src == "" {
		t.Skip("REDIS_SRC not set (a Redis 7.0.15 source tree with src/commands/*.json)")
	}
	want := generate(filepath.Join(src, "src", "commands"))
	got, err := os.ReadFile(filepath.Join("..", "..", "server", "cmd_specs.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, got) {
		t.Fatalf("server/cmd_specs.go is stale: run go generate ./server with REDIS_SRC=%s", src)
	}
}
