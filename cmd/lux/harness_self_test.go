package main

import "testing"

// TestHarness checks the harness itself: start, PING, restart after a crash
// and after a graceful stop, for lux and for real Redis.
func TestHarness(t *testing.T) {
	requireTool(t, "redis-server")
	l := startLux(t, "--persistence=false")
	c := dialRESP(t, l.Addr)
	if got := c.Do("PING"); got != "+PONG\r\n" {
		t.Fatalf("lux PING = %q", got)
	}
	l.Kill9()
	if l.Alive() {
		t.Fatal("lux alive after Kill9")
	}
	l.Restart()
	if got := dialRESP(t, l.Addr).Do("ECHO", "hi"); got != "$2\r\nhi\r\n" {
		t.Fatalf("lux ECHO after restart = %q", got)
	}
	if err := l.Stop(); err != nil {
		t.Fatalf("lux graceful stop: %v\n%s", err, l.Output())
	}
	r := startRedis(t)
	if got := dialRESP(t, r.Addr).Do("PING"); got != "+PONG\r\n" {
		t.Fatalf("redis PING = %q", got)
	}
}
