package server

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// The bit (LuaBitOp) and cjson libraries Redis loads into its Lua.

func bitArg(L *lua.LState, i int) int32 {
	n := float64(L.CheckNumber(i))
	// LuaBitOp's normalisation: modulo 2^32, as an int32
	return int32(uint32(int64(math.Mod(math.Trunc(n), 4294967296))))
}

func newBitLib(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	set := func(name string, fn lua.LGFunction) { t.RawSetString(name, L.NewFunction(fn)) }
	ret := func(L *lua.LState, v int32) int { L.Push(lua.LNumber(v)); return 1 }
	set("tobit", func(L *lua.LState) int { return ret(L, bitArg(L, 1)) })
	set("bnot", func(L *lua.LState) int { return ret(L, ^bitArg(L, 1)) })
	fold := func(op func(a, b int32) int32) lua.LGFunction {
		return func(L *lua.LState) int {
			v := bitArg(L, 1)
			for i := 2; i <= L.GetTop(); i++ {
				v = op(v, bitArg(L, i))
			}
			return ret(L, v)
		}
	}
	set("band", fold(func(a, b int32) int32 { return a & b }))
	set("bor", fold(func(a, b int32) int32 { return a | b }))
	set("bxor", fold(func(a, b int32) int32 { return a ^ b }))
	set("lshift", func(L *lua.LState) int { return ret(L, int32(uint32(bitArg(L, 1))<<(uint32(bitArg(L, 2))&31))) })
	set("rshift", func(L *lua.LState) int { return ret(L, int32(uint32(bitArg(L, 1))>>(uint32(bitArg(L, 2))&31))) })
	set("arshift", func(L *lua.LState) int { return ret(L, bitArg(L, 1)>>(uint32(bitArg(L, 2))&31)) })
	set("rol", func(L *lua.LState) int {
		x, n := uint32(bitArg(L, 1)), uint32(bitArg(L, 2))&31
		return ret(L, int32(x<<n|x>>((32-n)&31)))
	})
	set("ror", func(L *lua.LState) int {
		x, n := uint32(bitArg(L, 1)), uint32(bitArg(L, 2))&31
		return ret(L, int32(x>>n|x<<((32-n)&31)))
	})
	set("bswap", func(L *lua.LState) int {
		x := uint32(bitArg(L, 1))
		return ret(L, int32(x>>24|(x>>8)&0xff00|(x&0xff00)<<8|x<<24))
	})
	set("tohex", func(L *lua.LState) int {
		x := uint32(bitArg(L, 1))
		n := int64(8)
		if L.GetTop() >= 2 && L.Get(2) != lua.LNil {
			n = int64(bitArg(L, 2))
		}
		if n == math.MinInt32 {
			n = math.MinInt32 + 1
		}
		digits := "0123456789abcdef"
		if n < 0 {
			n = -n
			digits = "0123456789ABCDEF"
		}
		if n > 8 {
			n = 8
		}
		buf := make([]byte, n)
		for i := int(n) - 1; i >= 0; i-- {
			buf[i] = digits[x&15]
			x >>= 4
		}
		L.Push(lua.LString(buf))
		return 1
	})
	return t
}

// ---- cjson ----

func newCjsonLib(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	t.RawSetString("encode", L.NewFunction(cjsonEncode))
	t.RawSetString("decode", L.NewFunction(cjsonDecode))
	t.RawSetString("null", &lua.LUserData{})
	nullUD = t.RawGetString("null")
	for _, n := range []string{"encode_keep_buffer", "encode_max_depth", "decode_max_depth", "encode_number_precision",
		"encode_invalid_numbers", "decode_invalid_numbers", "encode_sparse_array"} {
		t.RawSetString(n, L.NewFunction(func(L *lua.LState) int { return 0 }))
	}
	t.RawSetString("_NAME", lua.LString("cjson"))
	t.RawSetString("_VERSION", lua.LString("2.1.0"))
	return t
}

// nullUD is cjson.null (one light userdata for every interpreter would be
// Redis's; a shared sentinel is close enough).
var nullUD lua.LValue

func cjsonEncode(L *lua.LState) int {
	if L.GetTop() != 1 {
		L.RaiseError("bad argument #1 to '?' (expected 1 argument)")
	}
	var b strings.Builder
	cjsonEncodeValue(L, &b, L.Get(1), 0)
	L.Push(lua.LString(b.String()))
	return 1
}

func cjsonNumber(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return ""
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e14 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', 14, 64)
}

func cjsonEncodeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch ch {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '/':
			b.WriteString(`\/`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if ch < 0x20 || ch == 0x7f {
				b.WriteString(`\u00`)
				b.WriteByte("0123456789abcdef"[ch>>4])
				b.WriteByte("0123456789abcdef"[ch&15])
			} else {
				b.WriteByte(ch)
			}
		}
	}
	b.WriteByte('"')
}

func cjsonEncodeValue(L *lua.LState, b *strings.Builder, v lua.LValue, depth int) {
	if depth > 1000 {
		L.RaiseError("Cannot serialise, excessive nesting (1001)")
	}
	switch v := v.(type) {
	case lua.LString:
		cjsonEncodeString(b, string(v))
	case lua.LNumber:
		s := cjsonNumber(float64(v))
		if s == "" {
			L.RaiseError("Cannot serialise number: must not be NaN or Inf")
		}
		b.WriteString(s)
	case lua.LBool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case *lua.LNilType:
		b.WriteString("null")
	case *lua.LTable:
		// an array when every key is a positive integer (sparse arrays of
		// up to 10 holes are arrays too, padded with null)
		maxN, n, isArr := 0, 0, true
		v.ForEach(func(k, _ lua.LValue) {
			if num, ok := k.(lua.LNumber); ok && float64(num) == math.Trunc(float64(num)) && num >= 1 {
				if int(num) > maxN {
					maxN = int(num)
				}
				n++
				return
			}
			isArr = false
		})
		if isArr && (n > 0 || maxN == 0) && !(maxN > 10 && maxN > n*2) {
			if n == 0 {
				b.WriteString("{}")
				return
			}
			b.WriteByte('[')
			for i := 1; i <= maxN; i++ {
				if i > 1 {
					b.WriteByte(',')
				}
				cjsonEncodeValue(L, b, v.RawGetInt(i), depth+1)
			}
			b.WriteByte(']')
			return
		}
		if isArr {
			L.RaiseError("Cannot serialise table: excessively sparse array")
		}
		b.WriteByte('{')
		first := true
		v.ForEach(func(k, val lua.LValue) {
			if !first {
				b.WriteByte(',')
			}
			first = false
			switch k := k.(type) {
			case lua.LString:
				cjsonEncodeString(b, string(k))
			case lua.LNumber:
				cjsonEncodeString(b, cjsonNumber(float64(k)))
			default:
				L.RaiseError("Cannot serialise %s: table key must be a number or string", k.Type().String())
			}
			b.WriteByte(':')
			cjsonEncodeValue(L, b, val, depth+1)
		})
		b.WriteByte('}')
	default:
		if v == nullUD {
			b.WriteString("null")
			return
		}
		L.RaiseError("Cannot serialise %s: type not supported", v.Type().String())
	}
}

func cjsonDecode(L *lua.LState) int {
	s := L.CheckString(1)
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		L.RaiseError("Expected value but found invalid token at character 1")
	}
	if dec.More() {
		L.RaiseError("Expected the end but found invalid token at character %d", dec.InputOffset()+1)
	}
	L.Push(cjsonToLua(L, v, 0))
	return 1
}

func cjsonToLua(L *lua.LState, v any, depth int) lua.LValue {
	if depth > 1000 {
		L.RaiseError("Found too many nested data structures (1001) at character 1")
	}
	switch v := v.(type) {
	case nil:
		return nullUD
	case bool:
		return lua.LBool(v)
	case json.Number:
		f, _ := strconv.ParseFloat(string(v), 64)
		return lua.LNumber(f)
	case string:
		if !utf8.ValidString(v) {
			return lua.LString(v)
		}
		return lua.LString(v)
	case []any:
		t := L.CreateTable(len(v), 0)
		for i, x := range v {
			t.RawSetInt(i+1, cjsonToLua(L, x, depth+1))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(v))
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.RawSetString(k, cjsonToLua(L, v[k], depth+1))
		}
		return t
	}
	return lua.LNil
}
