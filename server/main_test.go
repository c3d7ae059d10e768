package server

import (
	"flag"
	"os"
	"testing"
)

// TestMain runs the package's tests with argument scribbling on: a command
// that keeps a view of its arguments past its run sees garbage
// (reqreader.go). Benchmarks run without it, as the server does.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		scribbleArgs = true
	}
	os.Exit(m.Run())
}
