package server

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/luxdb/lux-go/storage"
	"github.com/tidwall/redcon"
)

// loopConn replays a fixed request buffer forever and discards replies, so
// the benchmark measures parsing, dispatch and the keyspace without sockets.
type loopConn struct {
	net.Conn
	req []byte
	off int
}

func (l *loopConn) Read(b []byte) (int, error) {
	n := copy(b, l.req[l.off:])
	l.off = (l.off + n) % len(l.req)
	return n, nil
}

func benchPipeline(b *testing.B, dir string, cmd string) {
	benchPipelineOf(b, dir, func(int) string { return cmd })
}

// benchPipelineOf replays batches of 64 commands, the i-th made by cmd(i).
func benchPipelineOf(b *testing.B, dir string, cmd func(i int) string) {
	store, err := storage.Open(storage.Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	s := New(DefaultConfig(), store)
	var req bytes.Buffer
	const perBatch = 64
	for i := 0; i < perBatch; i++ {
		req.WriteString(cmd(i))
	}
	lc := &loopConn{req: req.Bytes()}
	c := &Client{srv: s, Writer: redcon.NewWriter(io.Discard), authed: true}
	c.user.Store(s.acl.def) // as newClient: the default user, allowed everything
	c.rd = newReqReader(newProtoReader(lc, &s.limits, c.authRequired))
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		cmds, err := c.rd.ReadCommands()
		if err != nil {
			b.Fatal(err)
		}
		for i := range cmds {
			s.dispatch(c, cmds[i].Args)
		}
		s.releaseHeld(c) // as serveConn after a batch: Close needs the shards
		c.Flush()
		n += len(cmds)
	}
}

func resp(args ...string) string {
	var sb strings.Builder
	sb.WriteString("*" + itoa(int64(len(args))) + "\r\n")
	for _, a := range args {
		sb.WriteString("$" + itoa(int64(len(a))) + "\r\n" + a + "\r\n")
	}
	return sb.String()
}

func BenchmarkPipelineGET(b *testing.B) { benchPipeline(b, "", resp("GET", "key:__rand_int__")) }
func BenchmarkPipelineSETMem(b *testing.B) {
	benchPipeline(b, "", resp("SET", "key:__rand_int__", "xxx"))
}
func BenchmarkPipelineSETDisk(b *testing.B) {
	benchPipeline(b, b.TempDir(), resp("SET", "key:__rand_int__", "xxx"))
}
func BenchmarkPipelineINCR(b *testing.B) { benchPipeline(b, "", resp("INCR", "counter:__rand_int__")) }

// Collection writes that change something every time: a growing list, a
// field rewritten, members added and removed, scores incremented.
func BenchmarkPipelineLPUSH(b *testing.B) { benchPipeline(b, "", resp("LPUSH", "list", "xxx")) }
func BenchmarkPipelineHSET(b *testing.B) {
	benchPipelineOf(b, "", func(i int) string { return resp("HSET", "h", "f"+itoa(int64(i)), "xxx") })
}
func BenchmarkPipelineSADDSREM(b *testing.B) {
	benchPipelineOf(b, "", func(i int) string {
		if i%2 == 0 {
			return resp("SADD", "s", "m"+itoa(int64(i/2)))
		}
		return resp("SREM", "s", "m"+itoa(int64(i/2)))
	})
}
func BenchmarkPipelineZINCR(b *testing.B) {
	benchPipelineOf(b, "", func(i int) string { return resp("ZADD", "z", "INCR", "1", "m"+itoa(int64(i))) })
}
func BenchmarkPipelineLPUSHDisk(b *testing.B) {
	benchPipeline(b, b.TempDir(), resp("LPUSH", "list", "xxx"))
}
func BenchmarkPipelineZINCRDisk(b *testing.B) {
	benchPipelineOf(b, b.TempDir(), func(i int) string { return resp("ZADD", "z", "INCR", "1", "m"+itoa(int64(i))) })
}
