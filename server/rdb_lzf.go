package server

import "sync"

// LZF as Redis 7.0 bundles it (lzf_c.c and lzf_d.c, liblzf 3.6 with
// HLOG 16, VERY_FAST, offsets in the hash table): RDB and DUMP payloads
// compress strings longer than 20 bytes with it. lzfCompress is a port of
// lzf_compress with a zeroed hash table, so it produces the bytes Redis does
// (Redis leaves its table uninitialized on the stack; a stale slot can, in
// rare cases, let Redis find a match a clean table does not).

const (
	lzfHLog   = 16
	lzfHSize  = 1 << lzfHLog
	lzfMaxLit = 1 << 5
	lzfMaxOff = 1 << 13
	lzfMaxRef = (1 << 8) + (1 << 3)
)

var lzfTables = sync.Pool{New: func() any { return new([lzfHSize]uint32) }}

func lzfIdx(h uint32) uint32 { return ((h >> (3*8 - lzfHLog)) - h*5) & (lzfHSize - 1) }

// lzfCompress compresses in into at most outLen bytes, or returns nil when
// the result would not fit (lzf_compress returning 0).
func lzfCompress(in []byte, outLen int) []byte {
	inLen := len(in)
	if inLen == 0 || outLen == 0 {
		return nil
	}
	htab := lzfTables.Get().(*[lzfHSize]uint32)
	defer func() {
		clear(htab[:])
		lzfTables.Put(htab)
	}()
	// a few bytes of slack: the exact checks below are those of lzf_c.c, the
	// slack only keeps Go's bounds checks out of the way of its final writes
	out := make([]byte, outLen+4)
	ip, op, lit := 0, 0, 0
	op++ // start run
	var hval uint32
	if inLen >= 2 {
		hval = uint32(in[0])<<8 | uint32(in[1])
	}
	for ip < inLen-2 {
		hval = hval<<8 | uint32(in[ip+2])
		slot := lzfIdx(hval)
		refOff := int(htab[slot])
		htab[slot] = uint32(ip)
		off := ip - refOff - 1
		if refOff > 0 && off < lzfMaxOff && off >= 0 &&
			in[refOff+2] == in[ip+2] && in[refOff] == in[ip] && in[refOff+1] == in[ip+1] {
			l := 2
			maxlen := inLen - ip - l
			if maxlen > lzfMaxRef {
				maxlen = lzfMaxRef
			}
			if op+3+1 >= outLen {
				nl := 0
				if lit == 0 {
					nl = 1
				}
				if op-nl+3+1 >= outLen {
					return nil
				}
			}
			out[op-lit-1] = byte(lit - 1) // stop run
			if lit == 0 {
				op-- // undo run if length is zero
			}
			done := false
			if maxlen > 16 {
				for k := 0; k < 16; k++ {
					l++
					if in[refOff+l] != in[ip+l] {
						done = true
						break
					}
				}
			}
			if !done {
				for {
					l++
					if !(l < maxlen && in[refOff+l] == in[ip+l]) {
						break
					}
				}
			}
			l -= 2 // l is now #octets - 1
			ip++
			if l < 7 {
				out[op] = byte(off>>8 + l<<5)
				op++
			} else {
				out[op] = byte(off>>8 + 7<<5)
				out[op+1] = byte(l - 7)
				op += 2
			}
			out[op] = byte(off)
			op++
			lit = 0
			op++ // start run
			ip += l + 1
			if ip >= inLen-2 {
				break
			}
			ip -= 2
			hval = uint32(in[ip])<<8 | uint32(in[ip+1])
			hval = hval<<8 | uint32(in[ip+2])
			htab[lzfIdx(hval)] = uint32(ip)
			ip++
			hval = hval<<8 | uint32(in[ip+2])
			htab[lzfIdx(hval)] = uint32(ip)
			ip++
		} else {
			if op >= outLen {
				return nil
			}
			lit++
			out[op] = in[ip]
			op++
			ip++
			if lit == lzfMaxLit {
				out[op-lit-1] = byte(lit - 1)
				lit = 0
				op++
			}
		}
	}
	if op+3 > outLen {
		return nil
	}
	for ip < inLen {
		lit++
		out[op] = in[ip]
		op++
		ip++
		if lit == lzfMaxLit {
			out[op-lit-1] = byte(lit - 1)
			lit = 0
			op++
		}
	}
	out[op-lit-1] = byte(lit - 1)
	if lit == 0 {
		op--
	}
	return out[:op]
}

// lzfDecompress expands in, which must yield exactly outLen bytes. The
// output grows with what is actually decoded, so a forged outLen costs no
// memory. It reports false where lzf_decompress fails or yields another
// length; like Redis, an outLen of 0 always succeeds (lzf_decompress
// returns 0 on error, which then equals the expected length).
func lzfDecompress(in []byte, outLen uint64) ([]byte, bool) {
	if outLen == 0 {
		return []byte{}, true
	}
	if len(in) == 0 {
		return nil, false
	}
	// each input byte yields at most 88 output bytes (a 3-byte back reference
	// copies up to 264)
	if outLen > uint64(len(in))*88 {
		return nil, false
	}
	capHint := outLen
	if capHint > 1<<16 {
		capHint = 1 << 16
	}
	out := make([]byte, 0, capHint)
	ip := 0
	for ip < len(in) {
		ctrl := int(in[ip])
		ip++
		if ctrl < 1<<5 { // literal run
			ctrl++
			if uint64(len(out)+ctrl) > outLen || ip+ctrl > len(in) {
				return nil, false
			}
			out = append(out, in[ip:ip+ctrl]...)
			ip += ctrl
			continue
		}
		l := ctrl >> 5
		ref := len(out) - (ctrl&0x1f)<<8 - 1
		if ip >= len(in) {
			return nil, false
		}
		if l == 7 {
			l += int(in[ip])
			ip++
			if ip >= len(in) {
				return nil, false
			}
		}
		ref -= int(in[ip])
		ip++
		if uint64(len(out)+l+2) > outLen || ref < 0 {
			return nil, false
		}
		for k := 0; k < l+2; k++ {
			out = append(out, out[ref+k])
		}
	}
	if uint64(len(out)) != outLen {
		return nil, false
	}
	return out, true
}
