package server

import (
	"bytes"
	"io"
	"strconv"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(b []byte) (int, error) {
	if len(b) > c.n {
		b = b[:c.n]
	}
	return c.r.Read(b)
}

// TestReqReaderHugeRequests: a request of many arguments and one of a large
// value arrive in small pieces and frame whole; the buffer and the slice slab
// go back to their usual size once the next batch is read.
func TestReqReaderHugeRequests(t *testing.T) {
	var in bytes.Buffer
	const nargs = 200001
	in.WriteString("*" + strconv.Itoa(nargs) + "\r\n$4\r\nMSET\r\n")
	for i := 1; i < nargs; i++ {
		a := "a" + strconv.Itoa(i)
		in.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16+1)
	in.WriteString("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + strconv.Itoa(len(big)) + "\r\n")
	in.Write(big)
	in.WriteString("\r\n*1\r\n$4\r\nPING\r\n")

	rd := newReqReader(newProtoReader(&chunkReader{r: &in, n: 1000}, nil, nil))
	var got []string
	for len(got) < 3 {
		cmds, err := rd.ReadCommands()
		require.NoError(t, err)
		for _, c := range cmds {
			switch string(c.Args[0]) {
			case "MSET":
				require.Len(t, c.Args, nargs)
				for i := 1; i < nargs; i++ {
					if string(c.Args[i]) != "a"+strconv.Itoa(i) {
						t.Fatalf("argument %d is %q", i, c.Args[i])
					}
				}
			case "SET":
				require.Len(t, c.Args, 3)
				require.True(t, bytes.Equal(big, c.Args[2]), "the large value")
			}
			got = append(got, string(c.Args[0]))
		}
	}
	assert.Equal(t, []string{"MSET", "SET", "PING"}, got)
	_, err := rd.ReadCommands()
	require.ErrorIs(t, err, io.EOF)
	assert.LessOrEqual(t, len(rd.buf), reqBufKeep, "the buffer shrinks after the large requests")
	assert.LessOrEqual(t, cap(rd.args), reqArgsKeep, "so does the slab of argument slices")
}

// TestReqReaderGrowsAheadOfInput: a length line alone does not make the
// buffer grow to the length it promises.
func TestReqReaderGrowsAheadOfInput(t *testing.T) {
	in := "*2\r\n$3\r\nGET\r\n$500000000\r\n" + string(bytes.Repeat([]byte{'x'}, 100000))
	rd := newReqReader(newProtoReader(iotest.HalfReader(bytes.NewReader([]byte(in))), nil, nil))
	_, err := rd.ReadCommands()
	require.ErrorIs(t, err, io.EOF)
	assert.Less(t, len(rd.buf), 64<<20, "buffer %d bytes for 100 kB of input", len(rd.buf))
}

// TestReqReaderViewsEndWithTheBatch: with scribbling on, the previous batch's
// argument views read as garbage once the next batch is read (what the
// package's tests rely on to catch a command that keeps a view).
func TestReqReaderViewsEndWithTheBatch(t *testing.T) {
	require.True(t, scribbleArgs, "TestMain turns scribbling on")
	rd := newReqReader(bytes.NewReader([]byte("*2\r\n$3\r\nGET\r\n$3\r\nabc\r\n")))
	cmds, err := rd.ReadCommands()
	require.NoError(t, err)
	require.Len(t, cmds, 1)
	kept := cmds[0].Args[1]
	assert.Equal(t, "abc", string(kept))
	_, err = rd.ReadCommands()
	require.ErrorIs(t, err, io.EOF)
	assert.NotEqual(t, "abc", string(kept))
}
