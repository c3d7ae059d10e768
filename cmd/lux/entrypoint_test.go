package main

// The container's entry point (docker/entrypoint.sh) without a container
// engine: the script runs with a stand-in binary that reports the
// environment and arguments it was given, and once with the real lux.

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const entrypoint = "../../docker/entrypoint.sh"

// runEntrypoint runs the script with env (nothing inherited but PATH) and
// a stand-in lux that prints its LUX_ variables and arguments.
func runEntrypoint(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	sh := requireTool(t, "sh")
	fake := filepath.Join(t.TempDir(), "lux")
	script := "#!/bin/sh\nenv | grep '^LUX_' | grep -v '^LUX_BIN=' | sort\necho \"args:$*\"\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sh, append([]string{entrypoint}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LUX_BIN=" + fake}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestEntrypointDefaults(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	out, err := runEntrypoint(t, []string{"LUX_DATA_DIR=" + data})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"LUX_BIND_HOST=0.0.0.0\n", "LUX_PORT=6379\n", "LUX_DEMO=0.0.0.0:8080\n",
		"LUX_PROTECTED_MODE=no\n", "LUX_DATA_DIR=" + data + "\n", "WARNING: lux runs WITHOUT A PASSWORD", "args:\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if st, err := os.Stat(data); err != nil || !st.IsDir() {
		t.Errorf("data directory not created: %v", err)
	}
}

func TestEntrypointEnv(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name      string
		env, args []string
		want      []string
		not       []string
		fails     bool
	}{
		{name: "password: protected mode stays on, no warning",
			env:  []string{"LUX_PASSWORD=s3cret", "LUX_DATA_DIR=" + dir},
			want: []string{"LUX_PASSWORD=s3cret\n"}, not: []string{"WARNING", "LUX_PROTECTED_MODE"}},
		{name: "explicit protected mode is kept",
			env:  []string{"LUX_PROTECTED_MODE=yes", "LUX_DATA_DIR=" + dir},
			want: []string{"LUX_PROTECTED_MODE=yes\n"}, not: []string{"WARNING"}},
		{name: "an empty LUX_DEMO turns the demo off",
			env:  []string{"LUX_DEMO=", "LUX_DATA_DIR=" + dir},
			want: []string{"LUX_DEMO=\n"}},
		{name: "given values win",
			env:  []string{"LUX_BIND_HOST=127.0.0.1", "LUX_PORT=7000", "LUX_DEMO=127.0.0.1:9000", "LUX_DATA_DIR=" + dir},
			want: []string{"LUX_BIND_HOST=127.0.0.1\n", "LUX_PORT=7000\n", "LUX_DEMO=127.0.0.1:9000\n"}},
		{name: "flags go to lux",
			env: []string{"LUX_DATA_DIR=" + dir}, args: []string{"--maxmemory", "1gb"},
			want: []string{"args:--maxmemory 1gb\n"}},
		{name: "lux by name",
			env: []string{"LUX_DATA_DIR=" + dir}, args: []string{"lux", "--appendfsync", "always"},
			want: []string{"args:--appendfsync always\n"}},
		{name: "the demo subcommand needs no data directory nor warning",
			env: []string{"LUX_DATA_DIR=/nonexistent/x"}, args: []string{"demo", "--db", "lux://db:6379"},
			want: []string{"args:demo --db lux://db:6379\n"}, not: []string{"WARNING"}},
		{name: "another command runs as is",
			args: []string{"echo", "hi"}, want: []string{"hi\n"}, not: []string{"args:"}},
		{name: "a data directory that cannot be made is an error",
			env:   []string{"LUX_DATA_DIR=" + filepath.Join(entrypoint, "sub")},
			want:  []string{"cannot create the data directory"},
			fails: true},
		{name: "no data directory needed without persistence",
			env:  []string{"LUX_PERSISTENCE=false", "LUX_DATA_DIR=" + filepath.Join(entrypoint, "sub")},
			want: []string{"args:\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runEntrypoint(t, tc.env, tc.args...)
			if (err != nil) != tc.fails {
				t.Fatalf("err = %v\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("missing %q in:\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("unexpected %q in:\n%s", n, out)
				}
			}
		})
	}
}

// The real binary through the entry point with nothing set but ports and
// the data directory: it starts on all interfaces without a password
// (the image's out-of-the-box behaviour), warns, and serves the demo.
func TestEntrypointRunsLux(t *testing.T) {
	sh := requireTool(t, "sh")
	port, web := freePort(t), freePort(t)
	cmd := exec.Command(sh, entrypoint)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttr()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LUX_BIN=" + buildLux(t), "LUX_PORT=" + strconv.Itoa(port),
		"LUX_DEMO=0.0.0.0:" + strconv.Itoa(web), "LUX_DATA_DIR=" + t.TempDir()}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-done
	}()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(startTimeout)
	for pingOnce(addr) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("no PING reply through the entry point:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitHTTP(t, "http://127.0.0.1:"+strconv.Itoa(web)+"/healthz")
	if s := out.String(); !strings.Contains(s, "WARNING: lux runs WITHOUT A PASSWORD") || !strings.Contains(s, "ready on [::]:"+strconv.Itoa(port)) && !strings.Contains(s, "ready on 0.0.0.0:"+strconv.Itoa(port)) {
		t.Fatalf("output:\n%s", s)
	}
}
