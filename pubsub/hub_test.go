package pubsub

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testSink records everything written to it. If gate is non-nil every
// WriteFrames call first waits for a value (or close) on it, simulating a
// client that does not read.
type testSink struct {
	gate chan struct{}
	err  error // returned by WriteFrames when set

	mu     sync.Mutex
	data   bytes.Buffer
	writes int

	entered   chan struct{} // receives (non-blocking) on each WriteFrames entry
	overflows atomic.Int32
	overflow  chan struct{} // closed on first Overflow
	once      sync.Once
}

func newTestSink() *testSink {
	return &testSink{entered: make(chan struct{}, 1), overflow: make(chan struct{})}
}

func (t *testSink) WriteFrames(b []byte) error {
	select {
	case t.entered <- struct{}{}:
	default:
	}
	if t.gate != nil {
		<-t.gate
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.writes++
	if t.err != nil {
		return t.err
	}
	t.data.Write(b)
	return nil
}

func (t *testSink) Overflow() {
	t.overflows.Add(1)
	t.once.Do(func() { close(t.overflow) })
}

func (t *testSink) bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Clone(t.data.Bytes())
}

func (t *testSink) numWrites() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.writes
}

// waitBytes waits until the sink has received exactly n bytes.
func (t *testSink) waitBytes(tb testing.TB, n int) []byte {
	tb.Helper()
	var got []byte
	require.Eventually(tb, func() bool {
		got = t.bytes()
		return len(got) >= n
	}, 5*time.Second, time.Millisecond, "sink received %d bytes, want %d", len(got), n)
	require.Len(tb, got, n)
	return got
}

func msgFrame(channel, msg string) string {
	return fmt.Sprintf("*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(channel), channel, len(msg), msg)
}

func pmsgFrame(pattern, channel, msg string) string {
	return fmt.Sprintf("*4\r\n$8\r\npmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n",
		len(pattern), pattern, len(channel), channel, len(msg), msg)
}

func TestSubscribeCounts(t *testing.T) {
	h := NewHub()
	s := h.NewSubscriber(newTestSink(), 0)
	defer s.Close()

	assert.Equal(t, 1, h.Subscribe(s, "a"))
	assert.Equal(t, 2, h.Subscribe(s, "b"))
	assert.Equal(t, 2, h.Subscribe(s, "a"), "idempotent")
	assert.Equal(t, 3, h.PSubscribe(s, "x*"))
	assert.Equal(t, 3, h.PSubscribe(s, "x*"), "idempotent")
	assert.Equal(t, 4, h.PSubscribe(s, "y?"))
	assert.Equal(t, 4, s.Count())

	assert.Equal(t, 4, h.Unsubscribe(s, "nope"), "unknown channel")
	assert.Equal(t, 4, h.PUnsubscribe(s, "nope*"), "unknown pattern")
	assert.Equal(t, 4, h.Unsubscribe(s, "x*"), "channel named like a pattern is distinct")
	assert.Equal(t, 3, h.Unsubscribe(s, "a"))
	assert.Equal(t, 2, h.PUnsubscribe(s, "x*"))
	assert.Equal(t, 2, s.Count())

	// A name can be both a channel and a pattern subscription.
	assert.Equal(t, 3, h.Subscribe(s, "y?"))
	assert.Equal(t, []string{"b", "y?"}, s.Channels())
	assert.Equal(t, []string{"y?"}, s.Patterns())
}

func TestSubscriptionOrder(t *testing.T) {
	h := NewHub()
	s := h.NewSubscriber(newTestSink(), 0)
	defer s.Close()

	for _, ch := range []string{"z", "a", "m", "b"} {
		h.Subscribe(s, ch)
	}
	assert.Equal(t, []string{"z", "a", "m", "b"}, s.Channels())
	h.Unsubscribe(s, "a")
	h.Subscribe(s, "a") // re-subscribing moves it to the end
	h.Subscribe(s, "z") // already subscribed: keeps its place
	assert.Equal(t, []string{"z", "m", "b", "a"}, s.Channels())

	for _, p := range []string{"q*", "a*", "[xy]"} {
		h.PSubscribe(s, p)
	}
	assert.Equal(t, []string{"q*", "a*", "[xy]"}, s.Patterns())

	empty := h.NewSubscriber(newTestSink(), 0)
	defer empty.Close()
	assert.Empty(t, empty.Channels())
	assert.Empty(t, empty.Patterns())
}

func TestHubIntrospection(t *testing.T) {
	h := NewHub()
	s1 := h.NewSubscriber(newTestSink(), 0)
	s2 := h.NewSubscriber(newTestSink(), 0)
	defer s1.Close()
	defer s2.Close()

	assert.Empty(t, h.Channels(nil))
	assert.Equal(t, 0, h.NumPat())

	h.Subscribe(s1, "news.tech")
	h.Subscribe(s1, "news.art")
	h.Subscribe(s2, "news.tech")
	h.Subscribe(s2, "sport")
	h.PSubscribe(s1, "news.*")
	h.PSubscribe(s2, "news.*")
	h.PSubscribe(s2, "s*")

	assert.Equal(t, []string{"news.art", "news.tech", "sport"}, h.Channels(nil))
	assert.Equal(t, []string{"news.art", "news.tech"}, h.Channels([]byte("news.*")))
	assert.Equal(t, []string{"news.tech"}, h.Channels([]byte("*.[t]ech")))
	assert.Empty(t, h.Channels([]byte("NEWS.*")), "case-sensitive")
	assert.Empty(t, h.Channels([]byte{}), "empty pattern matches only the empty channel")

	assert.Equal(t, 2, h.NumSub("news.tech"))
	assert.Equal(t, 1, h.NumSub("news.art"))
	assert.Equal(t, 0, h.NumSub("news.*"), "patterns are not channels")
	assert.Equal(t, 0, h.NumSub("unknown"))
	assert.Equal(t, 2, h.NumPat(), "distinct patterns, not subscriptions")

	h.Unsubscribe(s1, "news.art")
	assert.Equal(t, []string{"news.tech", "sport"}, h.Channels(nil), "empty channels disappear")
	h.PUnsubscribe(s1, "news.*")
	assert.Equal(t, 2, h.NumPat())
	h.PUnsubscribe(s2, "news.*")
	assert.Equal(t, 1, h.NumPat())

	s2.Close()
	assert.Equal(t, []string{"news.tech"}, h.Channels(nil))
	assert.Equal(t, 1, h.NumSub("news.tech"))
	assert.Equal(t, 0, h.NumPat())
}

func TestPublishExactFrames(t *testing.T) {
	h := NewHub()
	sink := newTestSink()
	s := h.NewSubscriber(sink, 0)
	defer s.Close()

	h.Subscribe(s, "news")
	assert.Equal(t, 1, h.Publish("news", []byte("hello")))
	want := msgFrame("news", "hello")
	assert.Equal(t, "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n", want, "helper sanity")
	assert.Equal(t, want, string(sink.waitBytes(t, len(want))))

	// Binary-safe payloads and empty messages.
	h.Subscribe(s, "b\r\nin")
	assert.Equal(t, 1, h.Publish("b\r\nin", []byte("\x00\r\n")))
	assert.Equal(t, 1, h.Publish("b\r\nin", nil))
	want += "*3\r\n$7\r\nmessage\r\n$5\r\nb\r\nin\r\n$3\r\n\x00\r\n\r\n" +
		"*3\r\n$7\r\nmessage\r\n$5\r\nb\r\nin\r\n$0\r\n\r\n"
	assert.Equal(t, want, string(sink.waitBytes(t, len(want))))

	assert.Equal(t, 0, h.Publish("nobody", []byte("x")))
}

func TestPublishChannelAndPatternDoubleDelivery(t *testing.T) {
	h := NewHub()
	sink := newTestSink()
	s := h.NewSubscriber(sink, 0)
	defer s.Close()
	other := newTestSink()
	o := h.NewSubscriber(other, 0)
	defer o.Close()

	h.Subscribe(s, "news")
	h.PSubscribe(s, "n*")
	h.PSubscribe(s, "*s")
	h.PSubscribe(s, "x*") // does not match
	h.PSubscribe(o, "n*")

	assert.Equal(t, 4, h.Publish("news", []byte("hi")))

	m := msgFrame("news", "hi")
	p1 := pmsgFrame("n*", "news", "hi")
	p2 := pmsgFrame("*s", "news", "hi")
	assert.Equal(t, "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n", p1, "helper sanity")
	got := string(sink.waitBytes(t, len(m)+len(p1)+len(p2)))
	// The channel frame comes first, as in Redis; the order among patterns
	// is unspecified.
	assert.Contains(t, []string{m + p1 + p2, m + p2 + p1}, got)
	assert.Equal(t, p1, string(other.waitBytes(t, len(p1))))

	assert.Equal(t, 2, h.Publish("nope", []byte("x")), "n* of s and of o")
	assert.Equal(t, 0, h.Publish("zzz", []byte("x")))
}

func TestEmptyChannelAndStarPattern(t *testing.T) {
	// Redis quirk carried over from stringmatchlen: "*" does not match "".
	h := NewHub()
	s := h.NewSubscriber(newTestSink(), 0)
	defer s.Close()
	h.PSubscribe(s, "*")
	assert.Equal(t, 0, h.Publish("", []byte("x")))
	assert.Equal(t, 1, h.Publish("a", []byte("x")))
	h.Subscribe(s, "")
	assert.Equal(t, 1, h.Publish("", []byte("x")))
}

func TestOrderPreservedPerSubscriber(t *testing.T) {
	h := NewHub()
	sink := newTestSink()
	s := h.NewSubscriber(sink, 0)
	defer s.Close()
	h.Subscribe(s, "c")
	h.PSubscribe(s, "c*")

	var want bytes.Buffer
	for i := range 5000 {
		msg := strconv.Itoa(i)
		require.Equal(t, 2, h.Publish("c", []byte(msg)))
		want.WriteString(msgFrame("c", msg))
		want.WriteString(pmsgFrame("c*", "c", msg))
		if i%1000 == 0 {
			s.Enqueue([]byte("+raw\r\n")) // interleaved raw pushes keep their place
			want.WriteString("+raw\r\n")
		}
	}
	assert.Equal(t, want.String(), string(sink.waitBytes(t, want.Len())))
}

func TestEnqueueRaw(t *testing.T) {
	h := NewHub()
	sink := newTestSink()
	s := h.NewSubscriber(sink, 0)
	const push = ">2\r\n$4\r\nksub\r\n$1\r\nk\r\n"
	s.Enqueue([]byte(push))
	s.Enqueue(nil)
	assert.Equal(t, push, string(sink.waitBytes(t, len(push))))
	s.Close()
	s.Enqueue([]byte("after close"))
	<-s.Done()
	assert.Equal(t, push, string(sink.bytes()))
}

func TestSlowSinkDoesNotBlockPublishAndOverflowsOnce(t *testing.T) {
	h := NewHub()
	slow := newTestSink()
	slow.gate = make(chan struct{})
	const limit = 4096
	s := h.NewSubscriber(slow, limit)
	h.Subscribe(s, "ch")

	fast := newTestSink()
	f := h.NewSubscriber(fast, 0)
	defer f.Close()
	h.Subscribe(f, "ch")

	msg := bytes.Repeat([]byte("x"), 100)
	frameLen := len(msgFrame("ch", string(msg)))

	// Get the slow sink stuck inside WriteFrames with the first frame.
	require.Equal(t, 2, h.Publish("ch", msg))
	select {
	case <-slow.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("delivery goroutine never called WriteFrames")
	}

	// Far more than the limit: each Publish must still return promptly.
	const n = 1000
	published := make(chan struct{})
	go func() {
		defer close(published)
		for range n {
			// Overflowed subscribers still count, as in Redis.
			if got := h.Publish("ch", msg); got != 2 {
				t.Errorf("Publish returned %d, want 2", got)
				return
			}
		}
	}()
	select {
	case <-published:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a slow subscriber")
	}

	select {
	case <-slow.overflow:
	case <-time.After(5 * time.Second):
		t.Fatal("Overflow was not called")
	}
	// The fast subscriber got everything despite its slow neighbour.
	fast.waitBytes(t, (n+1)*frameLen)

	// Unblock the sink: only the frame already in flight is delivered, the
	// backlog was discarded at overflow and nothing more is queued.
	close(slow.gate)
	require.Eventually(t, func() bool { return slow.numWrites() == 1 }, 5*time.Second, time.Millisecond)
	h.Publish("ch", msg)
	s.Enqueue([]byte("more"))
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, 1, slow.numWrites())
	assert.Len(t, slow.bytes(), frameLen)
	assert.Equal(t, int32(1), slow.overflows.Load(), "Overflow must be called exactly once")

	s.Close()
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("delivery goroutine did not exit")
	}
}

func TestOverflowCountsInflightBytes(t *testing.T) {
	// The limit bounds queued plus in-flight bytes, so memory held for a
	// stuck client never exceeds it.
	h := NewHub()
	sink := newTestSink()
	sink.gate = make(chan struct{})
	defer close(sink.gate)
	s := h.NewSubscriber(sink, 10)
	defer s.Close()

	s.Enqueue([]byte("123456"))
	<-sink.entered // "123456" is now in flight, the queue is empty
	s.Enqueue([]byte("abcd"))
	select {
	case <-sink.overflow:
		t.Fatal("overflowed at exactly the limit")
	case <-time.After(20 * time.Millisecond):
	}
	s.Enqueue([]byte("!"))
	select {
	case <-sink.overflow:
	case <-time.After(5 * time.Second):
		t.Fatal("no overflow above the limit")
	}
}

func TestSingleFrameLargerThanLimitOverflows(t *testing.T) {
	h := NewHub()
	sink := newTestSink()
	s := h.NewSubscriber(sink, 10)
	defer s.Close()
	h.Subscribe(s, "c")
	assert.Equal(t, 1, h.Publish("c", []byte("this is too long")))
	select {
	case <-sink.overflow:
	case <-time.After(5 * time.Second):
		t.Fatal("no overflow")
	}
	assert.Empty(t, sink.bytes())
}

func TestWriteErrorStopsDelivery(t *testing.T) {
	h := NewHub()
	sink := newTestSink()
	sink.err = errors.New("broken pipe")
	s := h.NewSubscriber(sink, 0)
	h.Subscribe(s, "c")

	h.Publish("c", []byte("1"))
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("delivery goroutine kept running after a write error")
	}
	assert.Equal(t, 1, h.Publish("c", []byte("2")), "still subscribed until Close")
	s.Enqueue([]byte("x"))
	assert.Equal(t, 1, sink.numWrites())
	assert.Equal(t, int32(0), sink.overflows.Load())

	s.Close()
	assert.Equal(t, 0, h.Publish("c", []byte("3")))
	assert.Equal(t, 0, h.NumSub("c"))
}

func TestCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()

	h := NewHub()
	var subs []*Subscriber
	for i := range 200 {
		s := h.NewSubscriber(newTestSink(), 1<<20)
		h.Subscribe(s, "c"+strconv.Itoa(i%7))
		h.PSubscribe(s, "c*")
		subs = append(subs, s)
	}
	for i := range 100 {
		h.Publish("c"+strconv.Itoa(i%7), []byte("m"))
	}
	// Loose: goroutines left over from earlier tests may exit meanwhile.
	assert.GreaterOrEqual(t, runtime.NumGoroutine(), 200, "one delivery goroutine per subscriber")

	for _, s := range subs {
		s.Close()
		s.Close() // idempotent
	}
	for _, s := range subs {
		select {
		case <-s.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("delivery goroutine did not exit after Close")
		}
		assert.Equal(t, 0, s.Count())
		assert.Empty(t, s.Channels())
	}
	assert.Empty(t, h.Channels(nil))
	assert.Equal(t, 0, h.NumPat())

	// Done is closed by a deferred close inside the goroutine, so allow the
	// runtime a moment to retire them before counting.
	assert.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+2 },
		5*time.Second, 5*time.Millisecond, "goroutines leaked: before %d now %d", before, runtime.NumGoroutine())
}

func TestCloseWhileWriteBlocked(t *testing.T) {
	h := NewHub()
	sink := newTestSink()
	sink.gate = make(chan struct{})
	s := h.NewSubscriber(sink, 0)
	h.Subscribe(s, "c")
	h.Publish("c", []byte("1"))
	<-sink.entered
	h.Publish("c", []byte("2")) // queued behind the blocked write

	s.Close() // must not wait for the blocked sink
	select {
	case <-s.Done():
		t.Fatal("goroutine exited while WriteFrames was still running")
	default:
	}
	close(sink.gate)
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("delivery goroutine did not exit once the write returned")
	}
	assert.Equal(t, msgFrame("c", "1"), string(sink.bytes()), "queued frame discarded on Close")
}

func TestSubscribeAfterClose(t *testing.T) {
	h := NewHub()
	s := h.NewSubscriber(newTestSink(), 0)
	s.Close()
	assert.Equal(t, 0, h.Subscribe(s, "c"))
	assert.Equal(t, 0, h.PSubscribe(s, "c*"))
	assert.Equal(t, 0, h.Unsubscribe(s, "c"))
	assert.Empty(t, h.Channels(nil))
	assert.Equal(t, 0, h.NumPat())
	assert.Equal(t, 0, h.Publish("c", []byte("x")))
}

func TestForeignSubscriberPanics(t *testing.T) {
	h1, h2 := NewHub(), NewHub()
	s := h1.NewSubscriber(newTestSink(), 0)
	defer s.Close()
	assert.Panics(t, func() { h2.Subscribe(s, "c") })
}

// parseMessages splits a stream of "message" frames into (channel, payload)
// pairs, failing on anything else.
func parseMessages(tb testing.TB, b []byte) [][2]string {
	tb.Helper()
	var out [][2]string
	readBulk := func() string {
		require.Equal(tb, byte('$'), b[0])
		i := bytes.Index(b, []byte("\r\n"))
		n, err := strconv.Atoi(string(b[1:i]))
		require.NoError(tb, err)
		s := string(b[i+2 : i+2+n])
		b = b[i+2+n+2:]
		return s
	}
	for len(b) > 0 {
		require.True(tb, bytes.HasPrefix(b, []byte("*3\r\n")), "bad frame start %q", b[:min(len(b), 20)])
		b = b[4:]
		require.Equal(tb, "message", readBulk())
		ch := readBulk()
		out = append(out, [2]string{ch, readBulk()})
	}
	return out
}

func TestConcurrentPublishSubscribe(t *testing.T) {
	h := NewHub()

	// A stable subscriber on every publisher's channel checks that each
	// publisher's messages arrive complete and in order even while
	// publishers run in parallel.
	const publishers, perPublisher = 8, 2000
	stableSink := newTestSink()
	stable := h.NewSubscriber(stableSink, 0)
	defer stable.Close()
	for p := range publishers {
		h.Subscribe(stable, "chan"+strconv.Itoa(p))
	}

	stop := make(chan struct{})
	var churn sync.WaitGroup
	for c := range 8 {
		churn.Add(1)
		go func() {
			defer churn.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s := h.NewSubscriber(newTestSink(), 1<<10) // small: some overflow
				h.Subscribe(s, "chan"+strconv.Itoa((c+i)%publishers))
				h.PSubscribe(s, "chan[0-"+strconv.Itoa(i%publishers)+"]")
				h.PSubscribe(s, "*")
				_ = s.Channels()
				_ = h.Channels([]byte("chan*"))
				_ = h.NumSub("chan0") + h.NumPat()
				h.Unsubscribe(s, "chan"+strconv.Itoa((c+i)%publishers))
				s.Enqueue([]byte("+x\r\n"))
				if i%2 == 0 {
					h.PUnsubscribe(s, "*")
				}
				s.Close()
			}
		}()
	}

	var pubs sync.WaitGroup
	for p := range publishers {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			ch := "chan" + strconv.Itoa(p)
			for i := range perPublisher {
				if n := h.Publish(ch, []byte(strconv.Itoa(i))); n < 1 {
					t.Errorf("Publish(%s) = %d, want >= 1", ch, n)
					return
				}
			}
		}()
	}
	pubs.Wait()
	close(stop)
	churn.Wait()

	var total int
	for p := range publishers {
		for i := range perPublisher {
			total += len(msgFrame("chan"+strconv.Itoa(p), strconv.Itoa(i)))
		}
	}
	msgs := parseMessages(t, stableSink.waitBytes(t, total))
	next := make(map[string]int)
	for _, m := range msgs {
		require.Equal(t, strconv.Itoa(next[m[0]]), m[1], "out of order on %s", m[0])
		next[m[0]]++
	}
	assert.Len(t, next, publishers)

	stable.Close()
	assert.Empty(t, h.Channels(nil))
	assert.Equal(t, 0, h.NumPat())
}

type discardSink struct{}

func (discardSink) WriteFrames([]byte) error { return nil }
func (discardSink) Overflow()                {}

func BenchmarkPublish(b *testing.B) {
	h := NewHub()
	var sink discardSink
	for range 10 {
		s := h.NewSubscriber(sink, 0)
		defer s.Close()
		h.Subscribe(s, "bench")
	}
	for i := range 50 {
		s := h.NewSubscriber(sink, 0)
		defer s.Close()
		h.PSubscribe(s, "other."+strconv.Itoa(i)+".*")
	}
	msg := []byte("payload")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Publish("bench", msg)
		}
	})
}
