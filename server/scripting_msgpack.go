package server

import (
	"encoding/binary"
	"math"

	lua "github.com/yuin/gopher-lua"
)

// cmsgpack: lua-cmsgpack 0.4 as Redis ships it (deps/lua/src/lua_cmsgpack.c):
// pack(...), unpack(s), unpack_one(s, [offset]), unpack_limit(s, limit,
// [offset]).

const (
	msgpackMaxNesting = 16   // LUACMSGPACK_MAX_NESTING: deeper tables pack as nil
	msgpackMaxDecode  = 1000 // nesting refused on unpack (the C code's Lua stack limit)
)

func newCmsgpackLib(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	t.RawSetString("pack", L.NewFunction(mpPack))
	t.RawSetString("unpack", L.NewFunction(func(L *lua.LState) int { return mpUnpackFull(L, 0, 0) }))
	t.RawSetString("unpack_one", L.NewFunction(func(L *lua.LState) int {
		return mpUnpackFull(L, 1, L.OptInt(2, 0))
	}))
	t.RawSetString("unpack_limit", L.NewFunction(func(L *lua.LState) int {
		return mpUnpackFull(L, L.CheckInt(2), L.OptInt(3, 0))
	}))
	t.RawSetString("_NAME", lua.LString("cmsgpack"))
	t.RawSetString("_VERSION", lua.LString("lua-cmsgpack 0.4.0"))
	t.RawSetString("_COPYRIGHT", lua.LString("Copyright (C) 2012, Salvatore Sanfilippo"))
	t.RawSetString("_DESCRIPTION", lua.LString("MessagePack C implementation for Lua"))
	return t
}

func mpPack(L *lua.LState) int {
	n := L.GetTop()
	if n == 0 {
		L.ArgError(0, "MessagePack pack needs input.")
	}
	var b []byte
	for i := 1; i <= n; i++ {
		b = mpEncode(b, L.Get(i), 0)
	}
	L.Push(lua.LString(b))
	return 1
}

// isInt64Equivalent is IS_INT64_EQUIVALENT.
func isInt64Equivalent(f float64) bool {
	return !math.IsInf(f, 0) && !math.IsNaN(f) && f >= -9223372036854775808 && f < 9223372036854775808 &&
		float64(int64(f)) == f
}

func mpEncode(b []byte, v lua.LValue, level int) []byte {
	if _, ok := v.(*lua.LTable); ok && level == msgpackMaxNesting {
		v = lua.LNil
	}
	switch v := v.(type) {
	case lua.LBool:
		if v {
			return append(b, 0xc3)
		}
		return append(b, 0xc2)
	case lua.LNumber:
		f := float64(v)
		if isInt64Equivalent(f) {
			return mpEncodeInt(b, int64(f))
		}
		if f32 := float32(f); float64(f32) == f {
			b = append(b, 0xca)
			return binary.BigEndian.AppendUint32(b, math.Float32bits(f32))
		}
		b = append(b, 0xcb)
		return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
	case lua.LString:
		n := len(v)
		switch {
		case n < 32:
			b = append(b, 0xa0|byte(n))
		case n <= 0xff:
			b = append(b, 0xd9, byte(n))
		case n <= 0xffff:
			b = append(b, 0xda)
			b = binary.BigEndian.AppendUint16(b, uint16(n))
		default:
			b = append(b, 0xdb)
			b = binary.BigEndian.AppendUint32(b, uint32(n))
		}
		return append(b, v...)
	case *lua.LTable:
		if n, ok := mpArrayLen(v); ok {
			switch {
			case n <= 15:
				b = append(b, 0x90|byte(n))
			case n <= 0xffff:
				b = append(b, 0xdc)
				b = binary.BigEndian.AppendUint16(b, uint16(n))
			default:
				b = append(b, 0xdd)
				b = binary.BigEndian.AppendUint32(b, uint32(n))
			}
			for i := 1; i <= n; i++ {
				b = mpEncode(b, v.RawGetInt(i), level+1)
			}
			return b
		}
		n := 0
		luaEach(v, func(_, _ lua.LValue) { n++ })
		switch {
		case n <= 15:
			b = append(b, 0x80|byte(n))
		case n <= 0xffff:
			b = append(b, 0xde)
			b = binary.BigEndian.AppendUint16(b, uint16(n))
		default:
			b = append(b, 0xdf)
			b = binary.BigEndian.AppendUint32(b, uint32(n))
		}
		luaEach(v, func(k, val lua.LValue) {
			b = mpEncode(b, k, level+1)
			b = mpEncode(b, val, level+1)
		})
		return b
	}
	return append(b, 0xc0) // nil, functions, userdata...
}

// mpArrayLen is table_is_an_array: every key a positive integer and no hole.
func mpArrayLen(t *lua.LTable) (int, bool) {
	count, max, ok := 0, 0, true
	luaEach(t, func(k, _ lua.LValue) {
		n, isNum := k.(lua.LNumber)
		if !isNum || n <= 0 || float64(n) != math.Trunc(float64(n)) || n > math.MaxInt32 {
			ok = false
			return
		}
		if int(n) > max {
			max = int(n)
		}
		count++
	})
	return max, ok && max == count
}

func mpEncodeInt(b []byte, n int64) []byte {
	if n >= 0 {
		switch {
		case n <= 127:
			return append(b, byte(n))
		case n <= 0xff:
			return append(b, 0xcc, byte(n))
		case n <= 0xffff:
			return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(n))
		case n <= 0xffffffff:
			return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(n))
		default:
			return binary.BigEndian.AppendUint64(append(b, 0xcf), uint64(n))
		}
	}
	switch {
	case n >= -32:
		return append(b, byte(n))
	case n >= -128:
		return append(b, 0xd0, byte(n))
	case n >= -32768:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(n))
	case n >= -2147483648:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(n))
	}
}

// mpUnpackFull is mp_unpack_full: decode up to limit objects (all when
// limit and offset are 0) from offset; with a limit or offset the next
// offset (-1 at the end) comes first.
func mpUnpackFull(L *lua.LState, limit, offset int) int {
	s := L.CheckString(1)
	if offset < 0 || limit < 0 {
		L.RaiseError("Invalid request to unpack with offset of %d and limit of %d.", offset, len(s))
	}
	if offset > len(s) {
		L.RaiseError("Start offset %d greater than input length %d.", offset, len(s))
	}
	all := limit == 0 && offset == 0
	d := &mpDecoder{L: L, b: []byte(s), p: offset}
	var out []lua.LValue
	for cnt := 0; d.p < len(d.b) && (cnt < limit || all); cnt++ {
		out = append(out, d.decode(0))
	}
	if !all {
		next := d.p
		if d.p == len(d.b) {
			next = -1
		}
		L.Push(lua.LNumber(next))
	}
	for _, v := range out {
		L.Push(v)
	}
	if !all {
		return len(out) + 1
	}
	return len(out)
}

type mpDecoder struct {
	L *lua.LState
	b []byte
	p int
}

func (d *mpDecoder) take(n int) []byte {
	if n < 0 || len(d.b)-d.p < n {
		d.L.RaiseError("Missing bytes in input.")
	}
	v := d.b[d.p : d.p+n]
	d.p += n
	return v
}

func (d *mpDecoder) decode(depth int) lua.LValue {
	if depth > msgpackMaxDecode {
		d.L.RaiseError("Bad data format in input.")
	}
	c := d.take(1)[0]
	switch {
	case c <= 0x7f:
		return lua.LNumber(c)
	case c >= 0xe0:
		return lua.LNumber(int8(c))
	case c&0xe0 == 0xa0:
		return lua.LString(d.take(int(c & 0x1f)))
	case c&0xf0 == 0x90:
		return d.array(int(c&0x0f), depth)
	case c&0xf0 == 0x80:
		return d.mapOf(int(c&0x0f), depth)
	}
	be16 := func() int { return int(binary.BigEndian.Uint16(d.take(2))) }
	be32 := func() int { return int(binary.BigEndian.Uint32(d.take(4))) }
	switch c {
	case 0xc0:
		return lua.LNil
	case 0xc2:
		return lua.LFalse
	case 0xc3:
		return lua.LTrue
	case 0xcc:
		return lua.LNumber(d.take(1)[0])
	case 0xcd:
		return lua.LNumber(be16())
	case 0xce:
		return lua.LNumber(uint32(be32()))
	case 0xcf:
		return lua.LNumber(binary.BigEndian.Uint64(d.take(8)))
	case 0xd0:
		return lua.LNumber(int8(d.take(1)[0]))
	case 0xd1:
		return lua.LNumber(int16(be16()))
	case 0xd2:
		return lua.LNumber(int32(uint32(be32())))
	case 0xd3:
		return lua.LNumber(int64(binary.BigEndian.Uint64(d.take(8))))
	case 0xca:
		return lua.LNumber(math.Float32frombits(binary.BigEndian.Uint32(d.take(4))))
	case 0xcb:
		return lua.LNumber(math.Float64frombits(binary.BigEndian.Uint64(d.take(8))))
	case 0xc4, 0xd9: // bin 8, str 8
		return lua.LString(d.take(int(d.take(1)[0])))
	case 0xc5, 0xda:
		return lua.LString(d.take(be16()))
	case 0xc6, 0xdb:
		return lua.LString(d.take(be32()))
	case 0xdc:
		return d.array(be16(), depth)
	case 0xdd:
		return d.array(be32(), depth)
	case 0xde:
		return d.mapOf(be16(), depth)
	case 0xdf:
		return d.mapOf(be32(), depth)
	}
	d.L.RaiseError("Bad data format in input.")
	return lua.LNil
}

func (d *mpDecoder) array(n, depth int) lua.LValue {
	if n > len(d.b)-d.p { // every element takes a byte at least
		d.L.RaiseError("Missing bytes in input.")
	}
	t := d.L.CreateTable(n, 0)
	for i := 1; i <= n; i++ {
		t.RawSetInt(i, d.decode(depth+1))
	}
	return t
}

func (d *mpDecoder) mapOf(n, depth int) lua.LValue {
	if n > (len(d.b)-d.p)/2 {
		d.L.RaiseError("Missing bytes in input.")
	}
	t := d.L.CreateTable(0, n)
	for i := 0; i < n; i++ {
		k := d.decode(depth + 1)
		v := d.decode(depth + 1)
		if k == lua.LNil {
			continue // lua_settable refuses a nil key
		}
		t.RawSet(k, v)
	}
	return t
}

// luaEach calls fn for every pair of t in lua_next's order (gopher-lua's
// ForEach walks the string keys in Go's random map order).
func luaEach(t *lua.LTable, fn func(k, v lua.LValue)) {
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		fn(k, v)
	}
}
