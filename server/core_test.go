package server

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSetGetRoundTrip(t *testing.T) {
	ts := startServer(t, t.TempDir())
	c := ts.client(t)
	ctx := context.Background()
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	v, err := c.Get(ctx, "k").Result()
	require.NoError(t, err)
	require.Equal(t, "v", v)
	r := ts.raw(t)
	require.Equal(t, "$-1\r\n", r.do("GET", "missing"))
	require.Equal(t, "-ERR unknown command 'NOPE', with args beginning with: 'a' \r\n", r.do("NOPE", "a"))
}

func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	require.Equal(t, "+OK\r\n", r.do("SET", "a", "1"))
	require.Equal(t, "+OK\r\n", r.do("SET", "b", "2", "PX", "100000"))
	ts.stop()
	ts2 := startServer(t, dir)
	r2 := ts2.raw(t)
	require.Equal(t, "$1\r\n1\r\n", r2.do("GET", "a"))
	require.Equal(t, "$1\r\n2\r\n", r2.do("GET", "b"))
}
