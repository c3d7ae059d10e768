package server

import (
	"io"
	"os"
	"slices"
	"sync/atomic"
	"time"
)

// reqReader frames the requests a connection sends, in place.
//
// It reads the canonical multibulk bytes protoReader yields (`*N\r\n`, 1 <= N
// <= protoMaxArgs, then N × `$L\r\n<L bytes>\r\n`, numbers without sign or
// leading zeros; protoReader has already refused, with Redis's error, every
// request Redis would refuse) into one buffer, and returns each request's
// arguments as views into that buffer: no copy and no allocation per request.
// A request split across reads keeps its parse state (the arguments framed so
// far and where the next one starts), so a request of a million arguments
// costs one pass over its bytes however it arrives; the buffer grows to hold
// the request whole, and goes back to its first size once it is used.
//
// Lifetime: the commands, their argument slices and the bytes they view are
// valid until the next ReadCommands call; a command that keeps an argument
// past its own run (MULTI's queue, a stored value, a published message)
// copies it. The server's tests scribble over every batch when it is done
// (scribbleArgs) so a view kept by mistake shows up as garbage.
type reqReader struct {
	src io.Reader
	buf []byte
	r   int // start of the unframed bytes buf[r:w]; buf[:r] is the last batch's
	w   int

	// the request being framed at buf[r:], when it is incomplete
	argc  int   // its declared argument count; 0 when its `*N` line is not read yet
	next  int   // offset from r of the next `$L` line to frame
	marks []int // offsets from r of each argument framed so far: start, end

	cmds []reqCommand
	args [][]byte // every command's argument slices, in one slab
}

// reqCommand is one framed request: Raw is its bytes, Args its arguments.
type reqCommand struct {
	Raw  []byte
	Args [][]byte
}

// reqBufSize is a connection's first (and usual) frame buffer: a little more
// than one protoReader read, so a full read and a split request's head fit.
const reqBufSize = 2 * protoBufSize

// reqBufKeep is the largest buffer kept once a batch has been used: a request
// that needed more gets its buffer, which goes when it is done.
const reqBufKeep = 4 * reqBufSize

// reqGrowAhead bounds how far the buffer grows past its doubling for a value
// whose length line promised more.
const reqGrowAhead = 16 << 20

// reqArgsKeep is the most argument slices kept for the next batch.
const reqArgsKeep = 4096

// scribbleArgs makes every reader overwrite a batch's bytes and argument
// slices when the batch is done (the package's tests set it, and
// LUX_DEBUG_SCRIBBLE_ARGS=1 does for a server, as CI's Redis suite runs: a
// command that keeps an argument view past its run reads garbage instead of
// passing by luck).
var scribbleArgs = os.Getenv("LUX_DEBUG_SCRIBBLE_ARGS") == "1"

// A large request turns into many times its bytes of short-lived memory
// (argument slices, the change's records and batch, new keys) while it is
// framed and run; with the collector's usual headroom (cmd/lux's tuner: 32
// MB) one MSET of a million arguments was collected 23 times, each time
// marking the whole heap, and the collector took most of its CPU. The
// tuner widens its headroom for a while after a request buffer grew large
// (BigRequest).
var bigReq struct {
	size atomic.Int64
	at   atomic.Int64 // unix nanoseconds of the growth
}

func noteBigRequest(size int) {
	now := time.Now().UnixNano()
	if bigReq.size.Load() < int64(size) || now-bigReq.at.Load() > int64(bigRequestWindow) {
		bigReq.size.Store(int64(size))
	}
	bigReq.at.Store(now)
}

// bigRequestWindow is how long a large request's buffer counts.
const bigRequestWindow = 5 * time.Second

// BigRequest returns the bytes of the largest request buffer grown past
// its usual size in the last few seconds (0 when there was none).
func BigRequest() int64 {
	if time.Now().UnixNano()-bigReq.at.Load() > int64(bigRequestWindow) {
		return 0
	}
	return bigReq.size.Load()
}

func newReqReader(src io.Reader) *reqReader {
	return &reqReader{src: src}
}

// buffered is the bytes read and not yet framed into a returned command.
func (q *reqReader) buffered() int { return q.w - q.r }

// free is the room left in the buffer.
func (q *reqReader) free() int { return len(q.buf) - q.w }

// ReadCommands returns the next batch of requests: every complete request
// already read, or, when there is none, those of the next read(s). The
// previous batch's commands are invalid from this call on.
func (q *reqReader) ReadCommands() ([]reqCommand, error) {
	q.release()
	for {
		cmds, err := q.frame()
		if len(cmds) > 0 {
			return cmds, nil // an error comes again with the next call
		}
		if err != nil {
			return nil, err
		}
		if err := q.fill(); err != nil {
			return nil, err
		}
	}
}

// release gives the last batch's bytes and slices back.
func (q *reqReader) release() {
	if scribbleArgs {
		for i := range q.buf[:q.r] {
			q.buf[i] = '#'
		}
		for i := range q.args {
			q.args[i] = []byte("#scribbled#")
		}
		for i := range q.cmds {
			q.cmds[i] = reqCommand{}
		}
	}
	q.cmds = q.cmds[:0]
	q.args = q.args[:0]
	if cap(q.args) > reqArgsKeep {
		q.args = nil // a huge request's slices go with it
	}
	if cap(q.marks) > 2*reqArgsKeep && q.argc == 0 {
		q.marks = nil
	}
	if q.r == q.w {
		// nothing pending: start over at the front, in a buffer of the
		// usual size
		q.r, q.w = 0, 0
		if len(q.buf) > reqBufKeep {
			q.buf = nil
		}
	}
}

// fill reads more input into the buffer, making room first: a pending
// request moves to the front, and the buffer grows when it is full.
func (q *reqReader) fill() error {
	if q.buf == nil {
		q.buf = make([]byte, reqBufSize)
	}
	if q.w == len(q.buf) {
		n := q.w - q.r
		if q.r > 0 && n <= len(q.buf)/2 {
			copy(q.buf, q.buf[q.r:q.w])
		} else {
			size := 2 * len(q.buf)
			if need := q.need(); need > size {
				// room for a large value in few steps, but never far
				// ahead of the bytes that came: a header alone does not
				// get its 512 MB
				size = min(need, size+reqGrowAhead)
			}
			nb := make([]byte, size)
			copy(nb, q.buf[q.r:q.w])
			q.buf = nb
			if size > reqBufKeep {
				noteBigRequest(size)
			}
		}
		q.r, q.w = 0, n
	}
	for empty := 0; ; empty++ {
		k, err := q.src.Read(q.buf[q.w:])
		if k < 0 || k > len(q.buf)-q.w {
			return errProtoBadRead
		}
		q.w += k
		if k > 0 {
			return nil // an error comes again with the next read
		}
		if err != nil {
			return err
		}
		if empty >= protoMaxEmptyReads {
			return io.ErrNoProgress
		}
	}
}

// need is the bytes the pending request needs from r to finish its next
// argument, when its length line has been read (0 otherwise): a large value
// gets its room in one step.
func (q *reqReader) need() int {
	if q.argc == 0 {
		return 0
	}
	in := q.buf[q.r:q.w]
	i := q.next
	if i+1 >= len(in) || in[i] != '$' {
		return 0
	}
	l, j := reqNum(in, i+1)
	if j < 0 {
		return 0
	}
	return j + l + 2
}

// frame returns the complete requests in buf[r:w] and advances r past them,
// keeping the state of an incomplete last one.
func (q *reqReader) frame() ([]reqCommand, error) {
	for q.r < q.w {
		in := q.buf[q.r:q.w]
		if q.argc == 0 {
			if n := q.frameWhole(in); n > 0 {
				q.r += n
				continue
			}
			if in[0] != '*' {
				return q.cmds, &ProtocolError{Msg: msgProtoInvalidMbulk}
			}
			n, j := reqNum(in, 1)
			if j < 0 {
				break // the count line is not complete
			}
			if n <= 0 || n > protoMaxArgs {
				return q.cmds, &ProtocolError{Msg: msgProtoInvalidMbulk}
			}
			q.argc, q.next = n, j
			q.marks = q.marks[:0]
		}
		i := q.next
		for len(q.marks) < 2*q.argc {
			if len(in)-i < 4 {
				break
			}
			if in[i] != '$' {
				return q.cmds, protoExpectedDollar(in[i])
			}
			l, j := reqNum(in, i+1)
			if j < 0 {
				break
			}
			if l < 0 || len(in)-j < l+2 {
				if l < 0 {
					return q.cmds, &ProtocolError{Msg: msgProtoInvalidBulk}
				}
				break
			}
			q.marks = append(q.marks, j, j+l)
			i = j + l + 2
		}
		q.next = i
		if len(q.marks) < 2*q.argc {
			break // the request is not complete
		}
		base := len(q.args)
		q.args = slices.Grow(q.args, q.argc) // once for a request of many
		for k := 0; k < len(q.marks); k += 2 {
			q.args = append(q.args, in[q.marks[k]:q.marks[k+1]:q.marks[k+1]])
		}
		q.cmds = append(q.cmds, reqCommand{Raw: in[:i:i], Args: q.args[base:len(q.args):len(q.args)]})
		q.r += i
		q.argc, q.next = 0, 0
	}
	return q.cmds, nil
}

// frameWhole frames the request at the start of in in one pass when it is
// complete there (the usual case: a pipeline's reads end at request
// boundaries), appending its command and arguments; it returns the request's
// length, or 0 when it is incomplete or has more than 99 arguments, and then
// frame's general path, which keeps the state of a partial request, takes
// it. protoReader has checked the form, so only lengths are read here.
func (q *reqReader) frameWhole(in []byte) int {
	if len(in) < 4 || in[0] != '*' {
		return 0
	}
	argc := int(in[1] - '0')
	i := 2
	if d := in[2] - '0'; d <= 9 {
		argc, i = argc*10+int(d), 3
	}
	if argc > 99 || argc < 1 || len(in)-i < 2 || in[i] != '\r' {
		return 0
	}
	i += 2 // "\r\n"
	base := len(q.args)
	for ; argc > 0; argc-- {
		if len(in)-i < 4 || in[i] != '$' || in[i+1]-'0' > 9 {
			q.args = q.args[:base]
			return 0
		}
		l, j := int(in[i+1]-'0'), i+2
		for ; j < len(in) && j < i+12; j++ { // "$<digit>\r" needs one look
			d := in[j] - '0'
			if d > 9 {
				break
			}
			l = l*10 + int(d)
		}
		// j is at the line's "\r": the value starts after "\r\n"
		if j >= i+12 || len(in)-j < l+4 {
			q.args = q.args[:base]
			return 0
		}
		j += 2
		q.args = append(q.args, in[j:j+l:j+l])
		i = j + l + 2
	}
	q.cmds = append(q.cmds, reqCommand{Raw: in[:i:i], Args: q.args[base:len(q.args):len(q.args)]})
	return i
}

// reqNum parses the decimal number of a header line starting at in[i] up to
// its "\r\n"; it returns the number and the index after the line, or j = -1
// when the line is not complete. A malformed line gives n = -1.
func reqNum(in []byte, i int) (n, j int) {
	for k := i; k < len(in); k++ {
		c := in[k]
		if c == '\r' {
			if k+1 >= len(in) {
				return 0, -1
			}
			if k == i || in[k+1] != '\n' {
				return -1, k + 2
			}
			return n, k + 2
		}
		if c < '0' || c > '9' || n > (1<<62)/10 {
			return -1, k + 1
		}
		n = n*10 + int(c-'0')
	}
	return 0, -1
}
