package server

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Two servers in one process keep separate state: command statistics,
// identity, blocked clients and keyspace notifications are per Server.
func TestServerStateIsPerServer(t *testing.T) {
	a, b := startServer(t, ""), startServer(t, "")
	ra, rb := a.raw(t), b.raw(t)

	require.Equal(t, rOK, ra.do("SET", "k", "v"))
	_, fb := infoFields(t, rb.do("INFO", "commandstats"))
	require.NotContains(t, fb, "cmdstat_set", "B saw A's SET")

	require.Equal(t, rNil, rb.do("GET", "nokey"))
	require.Equal(t, rOK, ra.do("CONFIG", "RESETSTAT"))
	_, fb = infoFields(t, rb.do("INFO", "commandstats"))
	require.Contains(t, fb["cmdstat_get"], "calls=1,", "A's RESETSTAT reset B's counters")
	_, fa := infoFields(t, ra.do("INFO", "commandstats"))
	require.NotContains(t, fa, "cmdstat_get")

	_, fa = infoFields(t, ra.do("INFO", "server"))
	_, fb = infoFields(t, rb.do("INFO", "server"))
	require.Len(t, fa["run_id"], 40)
	require.NotEqual(t, fa["run_id"], fb["run_id"])
	_, fa2 := infoFields(t, ra.do("INFO", "server"))
	require.Equal(t, fa["run_id"], fa2["run_id"], "run_id is stable")

	// a client blocked on A is not counted by B
	blocker := a.raw(t)
	blocker.send("BLPOP", "q", "0")
	waitBlocked(t, a, 1)
	_, fb = infoFields(t, rb.do("INFO", "clients"))
	require.Equal(t, "0", fb["blocked_clients"])
	require.Equal(t, rInt(1), ra.do("RPUSH", "q", "x"))
	require.Equal(t, rArr("q", "x"), blocker.reply())

	// notifications: each server publishes its own events only
	require.Equal(t, rOK, ra.do("CONFIG", "SET", "notify-keyspace-events", "KEA"))
	sb := b.raw(t)
	sb.do("PSUBSCRIBE", "__key*__:*")
	require.Equal(t, rOK, ra.do("SET", "k2", "v"))
	require.Equal(t, rOK, rb.do("CONFIG", "SET", "notify-keyspace-events", "KEA"))
	require.Equal(t, rOK, rb.do("SET", "mine", "v"))
	// the first message B's subscriber gets is about B's key, not A's k2
	require.Contains(t, sb.reply(), "__keyspace@0__:mine")
}
