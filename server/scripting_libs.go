package server

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
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

// cjsonCfg is lua-cjson's configuration (encode_max_depth and the
// like). A script's changes last until it ends: each call starts from the
// defaults (reset), so no script sees another's settings.
type cjsonCfg struct {
	encodeMaxDepth, decodeMaxDepth int
	encodeInvalid                  int // 0 off, 1 on (nan/inf), 2 null
	decodeInvalid                  bool
	keepBuffer                     bool
	precision                      int
	sparseConvert                  bool
	sparseRatio, sparseSafe        int
}

func (c *cjsonCfg) reset() {
	*c = cjsonCfg{encodeMaxDepth: 1000, decodeMaxDepth: 1000, decodeInvalid: true, keepBuffer: true,
		precision: 14, sparseRatio: 2, sparseSafe: 10}
}

// cjsonIntOpt is lua-cjson's json_integer_option: an optional integer in
// [min, max] sets *v; the current value is returned.
func cjsonIntOpt(L *lua.LState, name string, v *int, min, max int) int {
	if L.GetTop() >= 1 && L.Get(1) != lua.LNil {
		n, ok := L.Get(1).(lua.LNumber)
		if !ok || float64(n) != math.Trunc(float64(n)) || int(n) < min || int(n) > max {
			L.RaiseError("bad argument #1 to '%s' (expected integer between %d and %d)", name, min, max)
		}
		*v = int(n)
	}
	L.Push(lua.LNumber(*v))
	return 1
}

// cjsonBoolOpt is json_enum_option over off/on (booleans or strings).
func cjsonBoolOpt(L *lua.LState, name string, v *bool) int {
	if L.GetTop() >= 1 && L.Get(1) != lua.LNil {
		switch x := L.Get(1).(type) {
		case lua.LBool:
			*v = bool(x)
		case lua.LString:
			switch x {
			case "on":
				*v = true
			case "off":
				*v = false
			default:
				L.RaiseError("bad argument #1 to '%s' (invalid option '%s')", name, string(x))
			}
		default:
			L.RaiseError("bad argument #1 to '%s' (invalid option)", name)
		}
	}
	L.Push(lua.LBool(*v))
	return 1
}

func newCjsonLib(L *lua.LState, cfg *cjsonCfg) *lua.LTable {
	cfg.reset()
	t := L.NewTable()
	t.RawSetString("encode", L.NewFunction(func(L *lua.LState) int { return cjsonEncode(L, cfg) }))
	t.RawSetString("decode", L.NewFunction(func(L *lua.LState) int { return cjsonDecode(L, cfg) }))
	t.RawSetString("null", &lua.LUserData{})
	nullUD = t.RawGetString("null")
	fn := func(name string, f lua.LGFunction) { t.RawSetString(name, L.NewFunction(f)) }
	fn("encode_max_depth", func(L *lua.LState) int {
		return cjsonIntOpt(L, "encode_max_depth", &cfg.encodeMaxDepth, 1, math.MaxInt32)
	})
	fn("decode_max_depth", func(L *lua.LState) int {
		return cjsonIntOpt(L, "decode_max_depth", &cfg.decodeMaxDepth, 1, math.MaxInt32)
	})
	fn("encode_number_precision", func(L *lua.LState) int {
		return cjsonIntOpt(L, "encode_number_precision", &cfg.precision, 1, 14)
	})
	fn("encode_keep_buffer", func(L *lua.LState) int { return cjsonBoolOpt(L, "encode_keep_buffer", &cfg.keepBuffer) })
	fn("decode_invalid_numbers", func(L *lua.LState) int {
		return cjsonBoolOpt(L, "decode_invalid_numbers", &cfg.decodeInvalid)
	})
	fn("encode_invalid_numbers", func(L *lua.LState) int {
		if L.GetTop() >= 1 && L.Get(1) != lua.LNil {
			switch x := L.Get(1).(type) {
			case lua.LBool:
				cfg.encodeInvalid = 0
				if x {
					cfg.encodeInvalid = 1
				}
			case lua.LString:
				switch x {
				case "off":
					cfg.encodeInvalid = 0
				case "on":
					cfg.encodeInvalid = 1
				case "null":
					cfg.encodeInvalid = 2
				default:
					L.RaiseError("bad argument #1 to 'encode_invalid_numbers' (invalid option '%s')", string(x))
				}
			default:
				L.RaiseError("bad argument #1 to 'encode_invalid_numbers' (invalid option)")
			}
		}
		switch cfg.encodeInvalid {
		case 1:
			L.Push(lua.LTrue)
		case 2:
			L.Push(lua.LString("null"))
		default:
			L.Push(lua.LFalse)
		}
		return 1
	})
	fn("encode_sparse_array", func(L *lua.LState) int {
		if L.GetTop() >= 1 && L.Get(1) != lua.LNil {
			b, ok := L.Get(1).(lua.LBool)
			if !ok {
				L.RaiseError("bad argument #1 to 'encode_sparse_array' (invalid option)")
			}
			cfg.sparseConvert = bool(b)
		}
		for i, p := range []*int{&cfg.sparseRatio, &cfg.sparseSafe} {
			if L.GetTop() >= i+2 && L.Get(i+2) != lua.LNil {
				n, ok := L.Get(i + 2).(lua.LNumber)
				if !ok || n < 0 || float64(n) != math.Trunc(float64(n)) {
					L.RaiseError("bad argument #%d to 'encode_sparse_array' (expected integer between 0 and 2147483647)", i+2)
				}
				*p = int(n)
			}
		}
		L.Push(lua.LBool(cfg.sparseConvert))
		L.Push(lua.LNumber(cfg.sparseRatio))
		L.Push(lua.LNumber(cfg.sparseSafe))
		return 3
	})
	t.RawSetString("_NAME", lua.LString("cjson"))
	t.RawSetString("_VERSION", lua.LString("2.1.0"))
	return t
}

// nullUD is cjson.null (one light userdata for every interpreter would be
// Redis's; a shared sentinel is close enough).
var nullUD lua.LValue

func cjsonEncode(L *lua.LState, cfg *cjsonCfg) int {
	if L.GetTop() != 1 {
		L.RaiseError("bad argument #1 to '?' (expected 1 argument)")
	}
	var b strings.Builder
	cjsonEncodeValue(L, &b, L.Get(1), 0, cfg)
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

func cjsonEncodeValue(L *lua.LState, b *strings.Builder, v lua.LValue, depth int, cfg *cjsonCfg) {
	switch v := v.(type) {
	case lua.LString:
		cjsonEncodeString(b, string(v))
	case lua.LNumber:
		f := float64(v)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			switch cfg.encodeInvalid {
			case 0:
				L.RaiseError("Cannot serialise number: must not be NaN or Inf")
			case 2:
				b.WriteString("null")
			default:
				switch {
				case math.IsNaN(f):
					b.WriteString("nan")
				case f > 0:
					b.WriteString("inf")
				default:
					b.WriteString("-inf")
				}
			}
			return
		}
		b.WriteString(cjsonNumber(f))
	case lua.LBool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case *lua.LNilType:
		b.WriteString("null")
	case *lua.LTable:
		if depth+1 > cfg.encodeMaxDepth {
			L.RaiseError("Cannot serialise, excessive nesting (%d)", depth+1)
		}
		// an array when every key is a positive integer (sparse arrays of
		// up to 10 holes are arrays too, padded with null)
		maxN, n, isArr := 0, 0, true
		luaEach(v, func(k, _ lua.LValue) {
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
				cjsonEncodeValue(L, b, v.RawGetInt(i), depth+1, cfg)
			}
			b.WriteByte(']')
			return
		}
		if isArr {
			L.RaiseError("Cannot serialise table: excessively sparse array")
		}
		b.WriteByte('{')
		first := true
		luaEach(v, func(k, val lua.LValue) {
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
			cjsonEncodeValue(L, b, val, depth+1, cfg)
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

func cjsonDecode(L *lua.LState, cfg *cjsonCfg) int {
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
	L.Push(cjsonToLua(L, v, 0, cfg))
	return 1
}

func cjsonToLua(L *lua.LState, v any, depth int, cfg *cjsonCfg) lua.LValue {
	switch v.(type) {
	case []any, map[string]any:
		if depth+1 > cfg.decodeMaxDepth {
			L.RaiseError("Found too many nested data structures (%d) at character 1", depth+1)
		}
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
			t.RawSetInt(i+1, cjsonToLua(L, x, depth+1, cfg))
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
			t.RawSetString(k, cjsonToLua(L, v[k], depth+1, cfg))
		}
		return t
	}
	return lua.LNil
}

// scriptRand is Redis's script PRNG (rand.c: drand48's generator, one for
// the server, seeded by math.randomseed), so a seeded script draws the same
// numbers as on Redis.
var scriptRand = struct {
	sync.Mutex
	x uint64
}{x: 0x1234ABCD330E}

const lrand48Max = math.MaxInt32 // REDIS_LRAND48_MAX

func lrand48() int32 {
	scriptRand.Lock()
	defer scriptRand.Unlock()
	scriptRand.x = (0x5DEECE66D*scriptRand.x + 0xB) & (1<<48 - 1)
	return int32(scriptRand.x >> 17)
}

// luaCheckInt is luaL_checkint: a number or a numeric string, truncated.
func luaCheckInt(L *lua.LState, i int) int {
	switch v := L.Get(i).(type) {
	case lua.LNumber:
		return int(int32(v))
	case lua.LString:
		if f, err := strconv.ParseFloat(strings.TrimSpace(string(v)), 64); err == nil {
			return int(int32(f))
		}
	}
	L.ArgError(i, "number expected, got "+L.Get(i).Type().String())
	return 0
}

func scriptMathRandom(L *lua.LState, vm *luaVM) int {
	if vm.run == nil {
		L.RaiseError("math.random can only be called inside a script invocation")
	}
	r := float64(lrand48()%lrand48Max) / float64(lrand48Max)
	switch L.GetTop() {
	case 0:
		L.Push(lua.LNumber(r))
	case 1:
		u := luaCheckInt(L, 1)
		if u < 1 {
			L.ArgError(1, "interval is empty")
		}
		L.Push(lua.LNumber(math.Floor(r*float64(u)) + 1))
	case 2:
		l, u := luaCheckInt(L, 1), luaCheckInt(L, 2)
		if l > u {
			L.ArgError(2, "interval is empty")
		}
		L.Push(lua.LNumber(math.Floor(r*float64(u-l+1)) + float64(l)))
	default:
		L.RaiseError("wrong number of arguments")
	}
	return 1
}

func scriptMathRandomseed(L *lua.LState, vm *luaVM) int {
	if vm.run == nil {
		L.RaiseError("math.randomseed can only be called inside a script invocation")
	}
	seed := luaCheckInt(L, 1)
	scriptRand.Lock()
	scriptRand.x = uint64(uint32(int32(seed)))<<16 | 0x330E
	scriptRand.Unlock()
	return 0
}

// luaNumberString is Lua 5.1's tostring of a number (LUAI_NUMFFORMAT "%.14g").
func luaNumberString(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', 14, 64)
}
