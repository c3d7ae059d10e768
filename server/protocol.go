package server

// Request-side RESP validation and normalization.
//
// redcon's Reader parses whatever it is given, has no request limits, and its
// error texts and edge cases differ from Redis's. protoReader sits between the
// connection and redcon.NewReader and reproduces Redis 7.0's
// processInputBuffer / processMultibulkBuffer / processInlineBuffer
// (networking.c) and sdssplitargs (sds.c): the bytes it yields are only
// canonical RESP multibulk requests (`*N\r\n` then N × `$len\r\narg\r\n`),
// which redcon parses without error, and every request Redis would refuse
// ends the stream with a *ProtocolError carrying Redis's exact message.
//
// It streams: it keeps a fixed input buffer plus a small state machine
// (state, args left, payload bytes left, one header line's digits), never the
// whole of a payload, so a 512 MB argument goes through in buffer-sized pieces.
// Inline requests (at most 64 KiB by definition) are the only ones held whole,
// because they must be re-encoded as multibulk.
//
// Where Redis depends on how the bytes happened to arrive, this reader takes
// the deterministic strict reading: a header or inline line is refused as "too
// big" as soon as PROTO_INLINE_MAX_SIZE+1 bytes have arrived without its
// terminator (Redis may accept a slightly longer line if its terminator came
// in the same 16 KiB read).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strconv"
	"sync/atomic"
)

const (
	// protoDefaultMaxBulkLen is Redis's default proto-max-bulk-len.
	protoDefaultMaxBulkLen = 512 << 20
	// protoInlineMaxSize is PROTO_INLINE_MAX_SIZE: the most bytes an inline
	// request, a multibulk count line or a bulk length line may hold before
	// its terminator. (Redis 7.0 uses this one limit for all three; the
	// 1024*1024 limit for count lines is from Redis 2.x.)
	protoInlineMaxSize = 64 << 10
	// protoUnauthMaxArgs and protoUnauthMaxBulk are the limits Redis applies
	// while authRequired(c) (networking.c).
	protoUnauthMaxArgs = 10
	protoUnauthMaxBulk = 16384
	// protoBufSize is the input buffer: one read(2) of the connection
	// (PROTO_IOBUF_LEN).
	protoBufSize = 16 << 10
	// protoMaxNumLen is LONG_STR_SIZE-1: string2ll refuses anything longer.
	protoMaxNumLen = 20
	// protoMaxEmptyReads bounds successive (0, nil) reads of the underlying
	// reader, as bufio does.
	protoMaxEmptyReads = 100
)

// Redis's protocol error texts (networking.c), byte for byte.
const (
	msgProtoTooBigMbulk  = "Protocol error: too big mbulk count string"
	msgProtoInvalidMbulk = "Protocol error: invalid multibulk length"
	// protoMaxArgs caps a request's argument count. Redis 7 allows up to
	// INT_MAX, but redcon's parser walks the declared count on every partial
	// read, so a huge count would let one client burn CPU; 1M arguments is far
	// beyond any real command (documented difference).
	protoMaxArgs           = 1024 * 1024
	msgProtoUnauthMbulk    = "Protocol error: unauthenticated multibulk length"
	msgProtoTooBigBulk     = "Protocol error: too big bulk count string"
	msgProtoInvalidBulk    = "Protocol error: invalid bulk length"
	msgProtoUnauthBulk     = "Protocol error: unauthenticated bulk length"
	msgProtoTooBigInline   = "Protocol error: too big inline request"
	msgProtoUnbalancedQuot = "Protocol error: unbalanced quotes in request"
)

// ProtoLimits are the request limits; fields are read atomically per check so
// CONFIG SET can change them at runtime. A protoReader snapshots them once per
// Read call (every request parsed in that call sees the same values).
type ProtoLimits struct {
	// MaxBulkLen is proto-max-bulk-len. Zero or negative (the zero value)
	// means the default, 512 MiB: Redis refuses values below 1 MiB anyway.
	MaxBulkLen atomic.Int64
}

func (l *ProtoLimits) maxBulkLen() int64 {
	if l == nil {
		return protoDefaultMaxBulkLen
	}
	if v := l.MaxBulkLen.Load(); v > 0 {
		return v
	}
	return protoDefaultMaxBulkLen
}

// ProtocolError is returned (after all complete requests before it have been
// returned as bytes) when the client violates the protocol; its Error() is the
// exact Redis message, e.g. "Protocol error: invalid multibulk length". The
// server writes "-ERR " + msg + "\r\n" and closes.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return e.Msg }

// protoExpectedDollar is Redis's addReplyErrorFormat("Protocol error: expected
// '$', got '%c'"): the byte as is, except that addReplyErrorFormat turns CR and
// LF into spaces.
func protoExpectedDollar(c byte) *ProtocolError {
	if c == '\r' || c == '\n' {
		c = ' '
	}
	return &ProtocolError{Msg: "Protocol error: expected '$', got '" + string([]byte{c}) + "'"}
}

// Parser states.
const (
	psIdle    uint8 = iota // at a request boundary
	psCount                // in a `*<count>` line
	psBulkHdr              // in a `$<len>` line
	psPayload              // passing through a bulk payload
	psTrailer              // skipping the 2 bytes after a payload
	psInline               // in an inline request line
)

// protoReader wraps a connection and yields only well-formed RESP multibulk
// requests.
//
// Auth limits: Redis checks authRequired(c) when it parses a header, after it
// has executed every command before it. To keep that, a Read call asks
// authRequired once, and while it is true the call stops at the first request
// boundary after it has returned any byte: a server that executes the commands
// redcon returns before reading again then sees AUTH take effect for the very
// next request, as in Redis. With no auth required, requests are batched.
type protoReader struct {
	rd           io.Reader
	lim          *ProtoLimits
	authRequired func() bool

	buf  []byte // input, unread part buf[r:w]
	r, w int
	rerr error // the underlying reader's error, returned once input is used up
	perr *ProtocolError
	nop  int // successive (0, nil) reads

	out    []byte // generated output that did not fit in the caller's buffer
	outPos int

	// Snapshot for the current Read call.
	maxBulk int64
	authReq bool

	// Request state.
	st    uint8
	args  int64 // arguments still to come in the current multibulk
	rem   int64 // payload bytes still to pass through
	trail int   // trailer bytes still to skip (2, 1)

	// Current header or inline line.
	hLen   int  // bytes of the line seen, terminator excluded
	hCR    bool // the '\r' was seen; the next byte (any) ends the line
	hNul   bool // a NUL was seen: Redis's strchr can never find the terminator
	hFirst byte // first byte of a bulk header line (should be '$')
	numLen int  // bytes after the type byte; only the first len(num) are kept
	num    [protoMaxNumLen]byte

	line    []byte // inline line
	argBuf  []byte // inline arguments, concatenated
	argEnds []int  // end offset of each inline argument in argBuf
	tmp     []byte // inline request re-encoded as multibulk
}

func newProtoReader(r io.Reader, lim *ProtoLimits, authRequired func() bool) *protoReader {
	return &protoReader{rd: r, lim: lim, authRequired: authRequired}
}

// Read fills b with validated, canonical multibulk request bytes. It returns
// as soon as it has anything to return; it reads the underlying reader only
// when it has nothing.
func (p *protoReader) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n := 0
	if p.outPos < len(p.out) {
		n = copy(b, p.out[p.outPos:])
		p.outPos += n
		if p.outPos == len(p.out) {
			p.resetOut()
		}
		if n == len(b) {
			return n, nil
		}
	}
	if p.perr != nil {
		if n > 0 {
			return n, nil
		}
		return 0, p.perr
	}
	p.maxBulk = p.lim.maxBulkLen()
	p.authReq = p.authRequired != nil && p.authRequired()
	for {
		if p.r < p.w {
			n = p.process(b, n)
			if n > 0 {
				return n, nil
			}
			if p.perr != nil {
				return 0, p.perr
			}
		}
		if n > 0 {
			return n, nil
		}
		if p.rerr != nil {
			return 0, p.rerr
		}
		if p.buf == nil {
			p.buf = make([]byte, protoBufSize)
		}
		var k int
		var err error
		if p.st == psPayload && p.rem >= int64(len(p.buf)) && len(b) >= len(p.buf) {
			// A large payload: read it straight into the caller's buffer.
			m := len(b)
			if int64(m) > p.rem {
				m = int(p.rem)
			}
			k, err = p.rd.Read(b[:m])
			if k < 0 || k > m {
				k, err = 0, errProtoBadRead
			}
			p.rem -= int64(k)
			if p.rem == 0 {
				p.st, p.trail = psTrailer, 2
			}
			n = k
		} else {
			k, err = p.rd.Read(p.buf)
			if k < 0 || k > len(p.buf) {
				k, err = 0, errProtoBadRead
			}
			p.r, p.w = 0, k
		}
		if err == errWouldBlock {
			// the event loop's reader has nothing more for now: not an
			// end of input, and not to be kept
			if k == 0 {
				if n > 0 {
					return n, nil
				}
				return 0, err
			}
			err = nil
		}
		if err != nil {
			p.rerr = err
		}
		if k == 0 && err == nil {
			if p.nop++; p.nop >= protoMaxEmptyReads {
				return 0, io.ErrNoProgress
			}
		} else {
			p.nop = 0
		}
		if n > 0 {
			return n, nil
		}
	}
}

// buffered is the request bytes read from the connection and not yet
// handed to the command parser; free is the room left in the input buffer.
// The connection's own goroutine only.
func (p *protoReader) buffered() int { return p.w - p.r + len(p.out) - p.outPos }
func (p *protoReader) free() int     { return len(p.buf) - (p.w - p.r) }

// pending reports whether a Read would return something without reading
// the connection: buffered bytes, or an error to report.
func (p *protoReader) pending() bool { return p.buffered() > 0 || p.perr != nil || p.rerr != nil }

var errProtoBadRead = errors.New("server: connection reader returned an invalid count")

func (p *protoReader) resetOut() {
	p.outPos = 0
	if cap(p.out) > 2*protoBufSize {
		p.out = nil // don't keep a large inline request's buffer
	} else {
		p.out = p.out[:0]
	}
}

// emit writes s to b[n:], keeping what does not fit for the next Read. It is
// only called while p.out is empty or b is already full, so order is kept.
func (p *protoReader) emit(b []byte, n int, s []byte) int {
	k := copy(b[n:], s)
	if k < len(s) {
		p.out = append(p.out, s[k:]...)
	}
	return n + k
}

func (p *protoReader) fail(msg string) {
	p.perr = &ProtocolError{Msg: msg}
}

// process turns buffered input into output in b[n:]. It stops when b is full,
// the input is used up, a protocol error is found, or (auth required) at a
// request boundary once something has been returned.
func (p *protoReader) process(b []byte, n int) int {
	for p.r < p.w && n < len(b) {
		if p.st == psIdle {
			if p.authReq {
				if n > 0 {
					return n
				}
			} else {
				k, noRoom := protoScanFast(p.buf[p.r:p.w], len(b)-n, p.maxBulk)
				if k > 0 {
					n += copy(b[n:], p.buf[p.r:p.r+k])
					p.r += k
				}
				if p.r == p.w || n == len(b) || noRoom && n > 0 {
					return n
				}
			}
		}
		n = p.slow(b, n)
		if p.perr != nil {
			return n
		}
	}
	return n
}

const protoCRLF = 0x0a0d // "\r\n" read as a little-endian uint16

// protoScanFast returns the length of the longest prefix of in made of
// complete requests in canonical form (`*N\r\n`, 0 < N <= INT_MAX, then
// `$L\r\n<L bytes>\r\n` with L <= maxBulk, numbers without sign or leading
// zeros) that fits in room bytes, and whether it stopped for lack of room (the
// next request is complete and canonical but does not fit). Such requests are
// exactly what the state machine would pass through unchanged when no auth is
// required, so they are copied in one go; anything else is left to it.
func protoScanFast(in []byte, room int, maxBulk int64) (int, bool) {
	i := 0
	for {
		start := i
		if len(in)-i < 4 {
			return start, false
		}
		var cnt int64
		if w := binary.LittleEndian.Uint32(in[i:]); w&0xffff00ff == protoCRLF<<16|'*' && byte(w>>8)-'1' <= 8 {
			cnt = int64(byte(w>>8) - '0') // the usual "*<digit>\r\n"
			i += 4
		} else if cnt, i = protoScanCount(in, i); cnt == 0 {
			return start, false
		}
		for ; cnt > 0; cnt-- {
			// The shortest argument is "$0\r\n\r\n".
			if len(in)-i < 6 {
				return start, false
			}
			var l int64
			if w := binary.LittleEndian.Uint32(in[i:]); w&0xffff00ff == protoCRLF<<16|'$' && byte(w>>8)-'0' <= 9 {
				l = int64(byte(w>>8) - '0') // the usual "$<digit>\r\n"
				i += 4
			} else if l, i = protoScanBulkLen(in, i, maxBulk); l < 0 {
				return start, false
			}
			if l > maxBulk || int64(len(in)-i) < l+2 {
				return start, false
			}
			i += int(l)
			if binary.LittleEndian.Uint16(in[i:]) != protoCRLF {
				return start, false
			}
			i += 2
		}
		if i > room {
			return start, true
		}
	}
}

// protoScanCount parses a canonical "*N\r\n" line at in[i:]; it returns N
// and the index after the line, or N = 0.
func protoScanCount(in []byte, i int) (int64, int) {
	if len(in)-i < 4 || in[i] != '*' {
		return 0, i
	}
	d := in[i+1] - '1'
	if d > 8 {
		return 0, i
	}
	cnt := int64(d) + 1
	for i += 2; ; i++ {
		if i >= len(in) {
			return 0, i
		}
		d = in[i] - '0'
		if d > 9 {
			break
		}
		if cnt = cnt*10 + int64(d); cnt > protoMaxArgs {
			return 0, i
		}
	}
	if len(in)-i < 2 || binary.LittleEndian.Uint16(in[i:]) != protoCRLF {
		return 0, i
	}
	return cnt, i + 2
}

// protoScanBulkLen parses a canonical "$L\r\n" line at in[i:] with L <=
// maxBulk; it returns L and the index after the line, or L = -1.
func protoScanBulkLen(in []byte, i int, maxBulk int64) (int64, int) {
	if len(in)-i < 4 || in[i] != '$' {
		return -1, i
	}
	d := in[i+1] - '0'
	if d > 9 {
		return -1, i
	}
	l := int64(d)
	i += 2
	if l != 0 {
		for ; ; i++ {
			if i >= len(in) {
				return -1, i
			}
			d = in[i] - '0'
			if d > 9 {
				break
			}
			if l > maxBulk/10 || l >= 1e17 {
				return -1, i // the slow path says why
			}
			l = l*10 + int64(d)
		}
	}
	if len(in)-i < 2 || binary.LittleEndian.Uint16(in[i:]) != protoCRLF || l > maxBulk {
		return -1, i
	}
	return l, i + 2
}

// slow runs the byte-level state machine: from a request boundary it starts
// the next request, and it returns when that request is done (back at a
// boundary), the input is used up, b is full, or on a protocol error.
func (p *protoReader) slow(b []byte, n int) int {
	if p.st == psIdle {
		if p.buf[p.r] == '*' {
			p.r++
			p.st = psCount
			p.startLine(1)
		} else {
			p.st = psInline
			p.startLine(0)
			p.line = p.line[:0]
		}
	}
	for p.r < p.w && p.perr == nil {
		switch p.st {
		case psIdle:
			return n
		case psCount, psBulkHdr:
			n = p.header(b, n)
		case psPayload:
			if n == len(b) {
				return n
			}
			k := min(p.w-p.r, len(b)-n)
			if int64(k) > p.rem {
				k = int(p.rem)
			}
			n += copy(b[n:], p.buf[p.r:p.r+k])
			p.r += k
			p.rem -= int64(k)
			if p.rem == 0 {
				p.st, p.trail = psTrailer, 2
			}
		case psTrailer:
			// Redis skips the two bytes after a payload whatever they
			// are; redcon wants CRLF, so CRLF is what goes out.
			if n == len(b) {
				return n
			}
			p.r++
			if p.trail == 2 {
				b[n] = '\r'
				p.trail = 1
			} else {
				b[n] = '\n'
				p.trail = 0
				p.args--
				if p.args == 0 {
					p.st = psIdle
				} else {
					p.st = psBulkHdr
					p.startLine(0)
				}
			}
			n++
		case psInline:
			n = p.inline(b, n)
		}
	}
	return n
}

func (p *protoReader) startLine(hLen int) {
	p.hLen = hLen
	p.hCR = false
	p.hNul = false
	p.hFirst = 0
	p.numLen = 0
}

// header consumes a count or bulk length line. Like Redis it looks for the
// first '\r' (strchr: never past a NUL), needs one more byte of any value after
// it, and refuses a line that reaches protoInlineMaxSize+1 bytes without it.
func (p *protoReader) header(b []byte, n int) int {
	for p.r < p.w {
		c := p.buf[p.r]
		p.r++
		if p.hCR {
			return p.endHeader(b, n)
		}
		if c == '\r' && !p.hNul {
			p.hCR = true
			continue
		}
		if p.st == psBulkHdr && p.hLen == 0 {
			p.hFirst = c
		} else {
			if p.numLen < len(p.num) {
				p.num[p.numLen] = c
			}
			p.numLen++
		}
		if c == 0 {
			p.hNul = true
		}
		p.hLen++
		if p.hLen > protoInlineMaxSize {
			if p.st == psCount {
				p.fail(msgProtoTooBigMbulk)
			} else {
				p.fail(msgProtoTooBigBulk)
			}
			return n
		}
	}
	return n
}

// endHeader acts on a complete header line, as processMultibulkBuffer does.
func (p *protoReader) endHeader(b []byte, n int) int {
	var v int64
	ok := p.numLen <= len(p.num)
	if ok {
		v, ok = protoString2ll(p.num[:p.numLen])
	}
	if p.st == psCount {
		if !ok || v > protoMaxArgs {
			p.fail(msgProtoInvalidMbulk)
			return n
		}
		if v > protoUnauthMaxArgs && p.authReq {
			p.fail(msgProtoUnauthMbulk)
			return n
		}
		if v <= 0 {
			p.st = psIdle // an empty request: Redis just resets the client
			return n
		}
		p.args = v
		n = p.emitHeader(b, n, '*')
		p.st = psBulkHdr
		p.startLine(0)
		return n
	}
	if p.hLen == 0 {
		// The line began with its '\r'.
		p.perr = protoExpectedDollar('\r')
		return n
	}
	if p.hFirst != '$' {
		p.perr = protoExpectedDollar(p.hFirst)
		return n
	}
	if !ok || v < 0 || v > p.maxBulk {
		p.fail(msgProtoInvalidBulk)
		return n
	}
	if v > protoUnauthMaxBulk && p.authReq {
		p.fail(msgProtoUnauthBulk)
		return n
	}
	n = p.emitHeader(b, n, '$')
	if v == 0 {
		p.st, p.trail = psTrailer, 2
	} else {
		p.st, p.rem = psPayload, v
	}
	return n
}

// emitHeader writes the header just parsed in canonical form. A number
// string2ll accepts and that is not negative is already canonical, so its
// digits go out as they came.
func (p *protoReader) emitHeader(b []byte, n int, typ byte) int {
	var h [protoMaxNumLen + 3]byte
	h[0] = typ
	k := 1 + copy(h[1:], p.num[:p.numLen])
	h[k], h[k+1] = '\r', '\n'
	return p.emit(b, n, h[:k+2])
}

// inline consumes an inline request line (processInlineBuffer): up to the
// first '\n' (strchr: never past a NUL), one trailing '\r' stripped, split
// with sdssplitargs, and re-encoded as multibulk.
func (p *protoReader) inline(b []byte, n int) int {
	in := p.buf[p.r:p.w]
	seg, term := in, -1
	if !p.hNul {
		if i := bytes.IndexByte(in, '\n'); i >= 0 {
			seg, term = in[:i], i
		}
		if bytes.IndexByte(seg, 0) >= 0 {
			p.hNul = true
			seg, term = in, -1
		}
	}
	if p.hLen+len(seg) > protoInlineMaxSize {
		p.fail(msgProtoTooBigInline)
		return n
	}
	p.hLen += len(seg)
	if term < 0 {
		if !p.hNul {
			p.line = append(p.line, seg...)
		}
		p.r = p.w
		return n
	}
	p.r += term + 1
	p.st = psIdle
	line := seg
	if len(p.line) > 0 {
		p.line = append(p.line, seg...)
		line = p.line
	}
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	var ok bool
	p.argBuf, p.argEnds, ok = protoSplitArgs(line, p.argBuf[:0], p.argEnds[:0])
	if !ok {
		p.fail(msgProtoUnbalancedQuot)
		return n
	}
	if len(p.argEnds) > 0 {
		t := p.tmp[:0]
		t = append(t, '*')
		t = strconv.AppendInt(t, int64(len(p.argEnds)), 10)
		t = append(t, '\r', '\n')
		prev := 0
		for _, end := range p.argEnds {
			t = append(t, '$')
			t = strconv.AppendInt(t, int64(end-prev), 10)
			t = append(t, '\r', '\n')
			t = append(t, p.argBuf[prev:end]...)
			t = append(t, '\r', '\n')
			prev = end
		}
		n = p.emit(b, n, t)
		p.tmp = t
	}
	if cap(p.tmp) > 2*protoBufSize {
		p.tmp, p.argBuf, p.argEnds = nil, nil, nil
	}
	if cap(p.line) > protoBufSize {
		p.line = nil
	} else {
		p.line = p.line[:0]
	}
	return n
}

// protoString2ll is Redis's string2ll (util.c): an optional '-', then "0" or
// a digit 1-9 and more digits, at most 20 bytes, in range of int64.
func protoString2ll(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > protoMaxNumLen {
		return 0, false
	}
	if len(s) == 1 && s[0] == '0' {
		return 0, true
	}
	i, neg := 0, false
	if s[0] == '-' {
		neg = true
		i++
		if i == len(s) {
			return 0, false
		}
	}
	if s[i] < '1' || s[i] > '9' {
		return 0, false
	}
	v := uint64(s[i] - '0')
	for i++; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > math.MaxUint64/10 {
			return 0, false
		}
		v *= 10
		if v > math.MaxUint64-uint64(c-'0') {
			return 0, false
		}
		v += uint64(c - '0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true // -(1<<63) wraps to math.MinInt64, as wanted
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// protoIsSpace is C's isspace in the "C" locale.
func protoIsSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func protoIsHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func protoHexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// protoSplitArgs is sdssplitargs (sds.c) over line, whose end plays the part
// of the C string's NUL (line never holds a NUL: the reader stops looking for
// the end of a line at one). The arguments are appended to args, the end
// offset of each to ends; ok is false on unbalanced quotes.
func protoSplitArgs(line, args []byte, ends []int) (_ []byte, _ []int, ok bool) {
	at := func(i int) byte {
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	p := 0
	for {
		for p < len(line) && protoIsSpace(line[p]) {
			p++
		}
		if p >= len(line) {
			return args, ends, true
		}
		inq, insq, done := false, false, false
		for !done {
			c := at(p)
			switch {
			case inq:
				if c == '\\' && at(p+1) == 'x' && protoIsHex(at(p+2)) && protoIsHex(at(p+3)) {
					args = append(args, protoHexVal(at(p+2))<<4|protoHexVal(at(p+3)))
					p += 3
				} else if c == '\\' && at(p+1) != 0 {
					p++
					switch e := at(p); e {
					case 'n':
						args = append(args, '\n')
					case 'r':
						args = append(args, '\r')
					case 't':
						args = append(args, '\t')
					case 'b':
						args = append(args, '\b')
					case 'a':
						args = append(args, '\a')
					default:
						args = append(args, e)
					}
				} else if c == '"' {
					// A closing quote must be followed by a space or
					// nothing at all.
					if n := at(p + 1); n != 0 && !protoIsSpace(n) {
						return args, ends, false
					}
					done = true
				} else if c == 0 {
					return args, ends, false // unterminated quotes
				} else {
					args = append(args, c)
				}
			case insq:
				if c == '\\' && at(p+1) == '\'' {
					p++
					args = append(args, '\'')
				} else if c == '\'' {
					if n := at(p + 1); n != 0 && !protoIsSpace(n) {
						return args, ends, false
					}
					done = true
				} else if c == 0 {
					return args, ends, false
				} else {
					args = append(args, c)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					args = append(args, c)
				}
			}
			if at(p) != 0 {
				p++
			}
		}
		ends = append(ends, len(args))
	}
}
