package pubsub

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func kmsg(pattern, key, op string) string {
	return string(appendKMessage(nil, pattern, []byte(key), op))
}

func TestKeySubscriptionsCountAndActivity(t *testing.T) {
	h := NewHub()
	var active []bool
	h.SetKeyActivity(func(on bool) { active = append(active, on) })
	s := h.NewSubscriber(newTestSink(), 0)
	defer s.Close()
	assert.Equal(t, 1, h.Subscribe(s, "ch"))
	assert.Equal(t, 2, h.KSubscribe(s, 0, "user:*"))
	assert.Equal(t, 2, h.KSubscribe(s, 0, "user:*"), "a pattern held is not added twice")
	assert.Equal(t, 3, h.KSubscribe(s, 0, "exact"))
	assert.Equal(t, int64(2), h.KeySubscriptions())
	assert.Equal(t, []string{"user:*", "exact"}, s.KeyPatterns())
	assert.Equal(t, 3, s.Count())
	assert.Equal(t, 2, h.Unsubscribe(s, "ch"))
	assert.Equal(t, 2, h.KUnsubscribe(s, "nope"))
	assert.Equal(t, 1, h.KUnsubscribe(s, "user:*"))
	assert.Equal(t, 0, h.KUnsubscribe(s, "exact"))
	assert.Equal(t, int64(0), h.KeySubscriptions())
	assert.Equal(t, []bool{true, false}, active)
	assert.Empty(t, h.keys.reg, "empty databases are dropped")
	for _, kd := range h.keys.snap.Load().dbs {
		assert.Nil(t, kd)
	}
}

func TestPublishKeyMatchesPerDatabase(t *testing.T) {
	h := NewHub()
	a, b := newTestSink(), newTestSink()
	sa := h.NewSubscriber(a, 0)
	sb := h.NewSubscriber(b, 0)
	defer sa.Close()
	defer sb.Close()
	h.KSubscribe(sa, 0, "user:*")
	h.KSubscribe(sa, 0, "user:1")
	h.KSubscribe(sb, 1, "user:?")
	h.KSubscribe(sb, 1, `a\*b`)

	assert.True(t, h.KeyMatch(0, []byte("user:1")))
	assert.True(t, h.KeyMatch(1, []byte("a*b")))
	assert.False(t, h.KeyMatch(1, []byte("user:1x")))
	assert.False(t, h.KeyMatch(5, []byte("user:1")))
	assert.Equal(t, 2, h.PublishKey(0, []byte("user:1"), "set"))
	assert.Equal(t, 1, h.PublishKey(1, []byte("user:2"), "del"))
	assert.Equal(t, 0, h.PublishKey(1, []byte("user:22"), "del"))
	assert.Equal(t, 0, h.PublishKey(1, []byte("axb"), "set"))
	assert.Equal(t, 1, h.PublishKey(1, []byte("a*b"), "set"))
	assert.Equal(t, 0, h.PublishKey(2, []byte("user:1"), "set"))
	assert.Equal(t, 2, h.PublishKey(-1, []byte("user:3"), "tinsert"), "db < 0 reaches every database")

	wantA := kmsg("user:1", "user:1", "set")
	wantA2 := kmsg("user:*", "user:1", "set")
	got := string(a.waitBytes(t, len(wantA)+len(wantA2)+len(kmsg("user:*", "user:3", "tinsert"))))
	// the two patterns of one event may come in either order
	assert.Contains(t, got, wantA)
	assert.Contains(t, got, wantA2)
	assert.Contains(t, got, kmsg("user:*", "user:3", "tinsert"))
	wantB := kmsg("user:?", "user:2", "del") + kmsg(`a\*b`, "a*b", "set") + kmsg("user:?", "user:3", "tinsert")
	assert.Equal(t, wantB, string(b.waitBytes(t, len(wantB))))
}

func TestKeySubscriberCloseUnsubscribes(t *testing.T) {
	h := NewHub()
	s1 := h.NewSubscriber(newTestSink(), 0)
	s2 := h.NewSubscriber(newTestSink(), 0)
	h.KSubscribe(s1, 0, "k")
	h.KSubscribe(s2, 0, "k")
	s1.Close()
	assert.Equal(t, int64(1), h.KeySubscriptions())
	assert.Equal(t, 1, h.PublishKey(0, []byte("k"), "set"), "the other subscriber keeps its pattern")
	assert.Equal(t, 1, h.KSubscribe(s2, 0, "k"))
	assert.Equal(t, 0, h.KSubscribe(s1, 0, "x"), "a closed subscriber is not subscribed")
	s2.Close()
	assert.Equal(t, int64(0), h.KeySubscriptions())
}

func TestPublishKeyOverflowDisconnects(t *testing.T) {
	h := NewHub()
	slow := newTestSink()
	slow.gate = make(chan struct{})
	s := h.NewSubscriber(slow, 4096)
	h.KSubscribe(s, 0, "*")
	for i := 0; i < 1000; i++ {
		h.PublishKey(0, []byte("key"), "set") // never blocks
	}
	<-slow.overflow
	require.Equal(t, int32(1), slow.overflows.Load())
	close(slow.gate)
	s.Close()
}

func TestPublishKeyDoesNotAllocate(t *testing.T) {
	h := NewHub()
	s := h.NewSubscriber(newTestSink(), 0)
	defer s.Close()
	h.KSubscribe(s, 0, "other:*")
	key := []byte("user:1")
	allocs := testing.AllocsPerRun(100, func() { h.PublishKey(0, key, "set") })
	assert.Zero(t, allocs)
}

func TestKeyGlobsByPrefix(t *testing.T) {
	h := NewHub()
	s := h.NewSubscriber(newTestSink(), 0)
	defer s.Close()
	for _, p := range []string{"user:1:*", "user:12:*", "user:?", "u*", "*:x", `a\[b*`, "[ab]c", "user:"} {
		h.KSubscribe(s, 0, p)
	}
	for key, want := range map[string]int{
		"user:1:a":  2, // user:1:*, u*
		"user:12:b": 2, // user:12:*, u*
		"user:3":    2, // user:?, u*
		"user:":     2, // the literal pattern, u*
		"us":        1, // u*
		"q:x":       1, // *:x
		"user:1:x":  3, // user:1:*, u*, *:x
		"a[bc":      1,
		"bc":        1,
		"":          0,
	} {
		assert.Equal(t, want, h.PublishKey(0, []byte(key), "set"), key)
		assert.Equal(t, want > 0, h.KeyMatch(0, []byte(key)), key)
	}
}
