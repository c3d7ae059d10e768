package server

import (
	"bytes"
	"encoding/binary"
	"math"

	lua "github.com/yuin/gopher-lua"
)

// struct: Roberto Ierusalimschy's lua_struct 0.2 as Redis ships it
// (deps/lua/src/lua_struct.c) on x86-64: native little endian, long and
// size_t of 8 bytes, int of 4, maximum alignment 8.

const (
	structMaxIntSize = 32
	structMaxAlign   = 8
)

type structHeader struct {
	big   bool
	align int
}

type structFmt struct {
	L *lua.LState
	f string
	p int
}

func (s *structFmt) more() bool { return s.p < len(s.f) }
func (s *structFmt) next() byte { c := s.f[s.p]; s.p++; return c }

// num is getnum: an optional decimal count, df when absent.
func (s *structFmt) num(df int) int {
	if s.p >= len(s.f) || s.f[s.p] < '0' || s.f[s.p] > '9' {
		return df
	}
	a := 0
	for s.p < len(s.f) && s.f[s.p] >= '0' && s.f[s.p] <= '9' {
		d := int(s.f[s.p] - '0')
		if a > (math.MaxInt32/10) || a*10 > math.MaxInt32-d {
			s.L.RaiseError("integral size overflow")
		}
		a = a*10 + d
		s.p++
	}
	return a
}

// size is optsize.
func (s *structFmt) size(opt byte) int {
	switch opt {
	case 'B', 'b':
		return 1
	case 'H', 'h':
		return 2
	case 'L', 'l', 'T', 'd':
		return 8
	case 'f':
		return 4
	case 'x':
		return 1
	case 'c':
		return s.num(1)
	case 'i', 'I':
		sz := s.num(4)
		if sz > structMaxIntSize {
			s.L.RaiseError("integral size %d is larger than limit of %d", sz, structMaxIntSize)
		}
		return sz
	}
	return 0
}

func structToAlign(pos int, h *structHeader, opt byte, size int) int {
	if size == 0 || opt == 'c' {
		return 0
	}
	if size > h.align {
		size = h.align
	}
	return (size - (pos & (size - 1))) & (size - 1)
}

// control is controloptions.
func (s *structFmt) control(opt byte, h *structHeader) {
	switch opt {
	case ' ':
	case '>':
		h.big = true
	case '<':
		h.big = false
	case '!':
		a := s.num(structMaxAlign)
		if a <= 0 || a&(a-1) != 0 {
			s.L.RaiseError("alignment %d is not a power of 2", a)
		}
		h.align = a
	default:
		s.L.ArgError(1, "invalid format option '"+string(opt)+"'")
	}
}

func newStructLib(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	t.RawSetString("pack", L.NewFunction(structPack))
	t.RawSetString("unpack", L.NewFunction(structUnpack))
	t.RawSetString("size", L.NewFunction(structSize))
	return t
}

func structPack(L *lua.LState) int {
	f := &structFmt{L: L, f: L.CheckString(1)}
	h := structHeader{align: 1}
	arg := 2
	var b []byte
	for f.more() {
		opt := f.next()
		size := f.size(opt)
		for n := structToAlign(len(b), &h, opt, size); n > 0; n-- {
			b = append(b, 0)
		}
		switch opt {
		case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
			n := float64(L.CheckNumber(arg))
			arg++
			var v uint64
			if n < 0 {
				v = uint64(int64(n))
			} else {
				v = uint64(n)
			}
			buf := make([]byte, size)
			for i := 0; i < size; i++ {
				j := i
				if h.big {
					j = size - 1 - i
				}
				buf[j] = byte(v)
				v >>= 8
			}
			b = append(b, buf...)
		case 'x':
			b = append(b, 0)
		case 'f':
			v := math.Float32bits(float32(L.CheckNumber(arg)))
			arg++
			if h.big {
				b = binary.BigEndian.AppendUint32(b, v)
			} else {
				b = binary.LittleEndian.AppendUint32(b, v)
			}
		case 'd':
			v := math.Float64bits(float64(L.CheckNumber(arg)))
			arg++
			if h.big {
				b = binary.BigEndian.AppendUint64(b, v)
			} else {
				b = binary.LittleEndian.AppendUint64(b, v)
			}
		case 'c', 's':
			str := L.CheckString(arg)
			arg++
			if size == 0 {
				size = len(str)
			}
			if len(str) < size {
				L.ArgError(arg, "string too short")
			}
			b = append(b, str[:size]...)
			if opt == 's' {
				b = append(b, 0)
			}
		default:
			f.control(opt, &h)
		}
	}
	L.Push(lua.LString(b))
	return 1
}

func structUnpack(L *lua.LState) int {
	f := &structFmt{L: L, f: L.CheckString(1)}
	data := L.CheckString(2)
	pos := L.OptInt(3, 1)
	if pos <= 0 {
		L.ArgError(3, "offset must be 1 or greater")
	}
	pos--
	h := structHeader{align: 1}
	var out []lua.LValue
	ld := len(data)
	for f.more() {
		opt := f.next()
		size := f.size(opt)
		pos += structToAlign(pos, &h, opt, size)
		if !(size <= ld && pos <= ld-size) {
			L.ArgError(2, "data string too short")
		}
		switch opt {
		case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
			var l uint64
			for i := 0; i < size; i++ {
				j := i
				if !h.big {
					j = size - 1 - i
				}
				l = l<<8 | uint64(data[pos+j])
			}
			if opt >= 'a' && opt <= 'z' { // signed
				if shift := uint(size*8 - 1); shift < 64 {
					if mask := ^uint64(0) << shift; l&mask != 0 {
						l |= mask
					}
				}
				out = append(out, lua.LNumber(float64(int64(l))))
			} else {
				out = append(out, lua.LNumber(float64(l)))
			}
		case 'x':
		case 'f':
			var v uint32
			if h.big {
				v = binary.BigEndian.Uint32([]byte(data[pos : pos+4]))
			} else {
				v = binary.LittleEndian.Uint32([]byte(data[pos : pos+4]))
			}
			out = append(out, lua.LNumber(math.Float32frombits(v)))
		case 'd':
			var v uint64
			if h.big {
				v = binary.BigEndian.Uint64([]byte(data[pos : pos+8]))
			} else {
				v = binary.LittleEndian.Uint64([]byte(data[pos : pos+8]))
			}
			out = append(out, lua.LNumber(math.Float64frombits(v)))
		case 'c':
			if size == 0 {
				var prev lua.LNumber
				ok := false
				if len(out) > 0 {
					prev, ok = out[len(out)-1].(lua.LNumber)
				}
				if !ok {
					L.RaiseError("format 'c0' needs a previous size")
				}
				size = int(prev)
				out = out[:len(out)-1]
				if !(size >= 0 && size <= ld && pos <= ld-size) {
					L.ArgError(2, "data string too short")
				}
			}
			out = append(out, lua.LString(data[pos:pos+size]))
		case 's':
			e := bytes.IndexByte([]byte(data[pos:]), 0)
			if e < 0 {
				L.RaiseError("unfinished string in data")
			}
			size = e + 1
			out = append(out, lua.LString(data[pos:pos+e]))
		default:
			f.control(opt, &h)
		}
		pos += size
	}
	for _, v := range out {
		L.Push(v)
	}
	L.Push(lua.LNumber(pos + 1))
	return len(out) + 1
}

func structSize(L *lua.LState) int {
	f := &structFmt{L: L, f: L.CheckString(1)}
	h := structHeader{align: 1}
	pos := 0
	for f.more() {
		opt := f.next()
		size := f.size(opt)
		pos += structToAlign(pos, &h, opt, size)
		if opt == 's' {
			L.ArgError(1, "option 's' has no fixed size")
		} else if opt == 'c' && size == 0 {
			L.ArgError(1, "option 'c0' has no fixed size")
		}
		if !(opt >= 'a' && opt <= 'z' || opt >= 'A' && opt <= 'Z' || opt >= '0' && opt <= '9') {
			f.control(opt, &h)
		}
		pos += size
	}
	L.Push(lua.LNumber(pos))
	return 1
}
