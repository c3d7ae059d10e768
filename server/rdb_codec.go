package server

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"

	"github.com/luxdb/lux-go/storage"
)

// The serialized values of DUMP and RESTORE, in Redis 7.0's format: an RDB
// object type byte, the object as rdbSaveObject writes it, the RDB version
// (2 bytes, little endian, 10 for 7.0) and a CRC64 (crc64Jones, little
// endian) of everything before it.
//
// The decoder reads every encoding Redis 7.0's rdbLoadObject accepts for
// strings, lists, sets, sorted sets and hashes, with the checks of its deep
// sanitization (sanitize-dump-payload yes) always on: lengths are checked
// against the bytes left before anything is allocated, listpacks, ziplists,
// zipmaps and intsets are walked entry by entry, duplicates are refused. Any
// failure is errBadData ("ERR Bad data format").

// RDB object types (rdb.h).
const (
	rdbTypeString            = 0
	rdbTypeList              = 1
	rdbTypeSet               = 2
	rdbTypeZSet              = 3
	rdbTypeHash              = 4
	rdbTypeZSet2             = 5
	rdbTypeHashZipmap        = 9
	rdbTypeListZiplist       = 10
	rdbTypeSetIntset         = 11
	rdbTypeZSetZiplist       = 12
	rdbTypeHashZiplist       = 13
	rdbTypeListQuicklist     = 14
	rdbTypeHashListpack      = 16
	rdbTypeZSetListpack      = 17
	rdbTypeListQuicklist2    = 18
	rdbVersion               = 10
	rdbEncInt8               = 0
	rdbEncInt16              = 1
	rdbEncInt32              = 2
	rdbEncLZF                = 3
	quicklistContainerPlain  = 1
	quicklistContainerPacked = 2
)

var errBadData = errors.New("ERR Bad data format")

// dumpKind is the value kind a payload decodes to.
type dumpKind uint8

const (
	dumpString dumpKind = iota
	dumpList
	dumpSet
	dumpZSet
	dumpHash
	dumpStream
)

// dumpValue is a decoded payload: a string, or a collection's elements
// (list items in order, set members, hash field/value pairs flattened, sorted
// set members with scores). listpack reports that the payload used a compact
// encoding (hash/zset listpack or ziplist), which Redis keeps unless it has too
// many entries.
type dumpValue struct {
	kind     dumpKind
	str      []byte
	elems    [][]byte
	scores   []float64
	listpack bool
	stream   *storage.Stream
}

// verifyDumpPayload checks the footer as Redis's verifyDumpPayload: at least
// 10 bytes, an RDB version of at most 10 and a matching CRC64.
func verifyDumpPayload(p []byte) bool {
	if len(p) < 10 {
		return false
	}
	footer := p[len(p)-10:]
	if ver := uint16(footer[0]) | uint16(footer[1])<<8; ver > rdbVersion {
		return false
	}
	return crc64Jones(0, p[:len(p)-8]) == binary.LittleEndian.Uint64(footer[2:])
}

// rdbReader reads an RDB object. Like Redis's rio over the RESTORE argument,
// it reads the whole payload, footer included, and ignores what follows the
// object.
type rdbReader struct {
	b []byte
	p int
}

func (r *rdbReader) left() int { return len(r.b) - r.p }

func (r *rdbReader) take(n uint64) ([]byte, error) {
	if n > uint64(r.left()) {
		return nil, errBadData
	}
	s := r.b[r.p : r.p+int(n)]
	r.p += int(n)
	return s, nil
}

func (r *rdbReader) byte1() (byte, error) {
	if r.p >= len(r.b) {
		return 0, errBadData
	}
	c := r.b[r.p]
	r.p++
	return c, nil
}

// length is rdbLoadLen: the value and whether it is a special string encoding.
func (r *rdbReader) length() (uint64, bool, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, false, err
	}
	switch c >> 6 {
	case 0:
		return uint64(c & 0x3f), false, nil
	case 1:
		c2, err := r.byte1()
		if err != nil {
			return 0, false, err
		}
		return uint64(c&0x3f)<<8 | uint64(c2), false, nil
	case 3:
		return uint64(c & 0x3f), true, nil
	}
	switch c {
	case 0x80:
		b, err := r.take(4)
		if err != nil {
			return 0, false, err
		}
		return uint64(binary.BigEndian.Uint32(b)), false, nil
	case 0x81:
		b, err := r.take(8)
		if err != nil {
			return 0, false, err
		}
		return binary.BigEndian.Uint64(b), false, nil
	}
	return 0, false, errBadData
}

// count is rdbLoadLen(rdb, NULL) for an element count: an encoded length is
// taken as its 6-bit value, as Redis does.
func (r *rdbReader) count() (uint64, error) {
	n, _, err := r.length()
	return n, err
}

// str is rdbGenericLoadStringObject: a length-prefixed string, an integer
// (INT8/16/32) or an LZF-compressed string.
func (r *rdbReader) str() ([]byte, error) {
	n, enc, err := r.length()
	if err != nil {
		return nil, err
	}
	if !enc {
		return r.take(n)
	}
	switch n {
	case rdbEncInt8:
		b, err := r.take(1)
		if err != nil {
			return nil, err
		}
		return strconv.AppendInt(nil, int64(int8(b[0])), 10), nil
	case rdbEncInt16:
		b, err := r.take(2)
		if err != nil {
			return nil, err
		}
		return strconv.AppendInt(nil, int64(int16(binary.LittleEndian.Uint16(b))), 10), nil
	case rdbEncInt32:
		b, err := r.take(4)
		if err != nil {
			return nil, err
		}
		return strconv.AppendInt(nil, int64(int32(binary.LittleEndian.Uint32(b))), 10), nil
	case rdbEncLZF:
		clen, err := r.count()
		if err != nil {
			return nil, err
		}
		ulen, err := r.count()
		if err != nil {
			return nil, err
		}
		c, err := r.take(clen)
		if err != nil {
			return nil, err
		}
		out, ok := lzfDecompress(c, ulen)
		if !ok {
			return nil, errBadData
		}
		return out, nil
	}
	return nil, errBadData
}

// textDouble is rdbLoadDoubleValue (RDB_TYPE_ZSET's scores).
func (r *rdbReader) textDouble() (float64, error) {
	n, err := r.byte1()
	if err != nil {
		return 0, err
	}
	switch n {
	case 253:
		return math.NaN(), nil
	case 254:
		return math.Inf(1), nil
	case 255:
		return math.Inf(-1), nil
	}
	b, err := r.take(uint64(n))
	if err != nil {
		return 0, err
	}
	return parseStrtod(b)
}

// parseStrtod parses a score stored as text (sscanf "%lg", strtod).
func parseStrtod(b []byte) (float64, error) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, nil // strtod saturates to ±inf (or 0) too
		}
		return 0, errBadData
	}
	return f, nil
}

// decodeDumpPayload decodes a RESTORE payload whose footer verifyDumpPayload
// accepted.
func decodeDumpPayload(p []byte) (*dumpValue, error) {
	r := &rdbReader{b: p}
	t, err := r.byte1()
	if err != nil {
		return nil, err
	}
	v := &dumpValue{}
	switch t {
	case rdbTypeString:
		v.kind = dumpString
		if v.str, err = r.str(); err != nil {
			return nil, err
		}
		return v, nil
	case rdbTypeList, rdbTypeSet, rdbTypeHash, rdbTypeZSet, rdbTypeZSet2:
		n, err := r.count()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, errBadData // Redis refuses empty keys
		}
		perElem := uint64(1)
		switch t {
		case rdbTypeList:
			v.kind = dumpList
		case rdbTypeSet:
			v.kind = dumpSet
		case rdbTypeHash:
			v.kind, perElem = dumpHash, 2
		case rdbTypeZSet:
			v.kind, perElem = dumpZSet, 2
		case rdbTypeZSet2:
			v.kind, perElem = dumpZSet, 9
		}
		// every element takes at least one byte: no count can make the
		// loop outlive the payload, and none is preallocated beyond it
		if n > uint64(r.left())/perElem {
			return nil, errBadData
		}
		for i := uint64(0); i < n; i++ {
			s, err := r.str()
			if err != nil {
				return nil, err
			}
			v.elems = append(v.elems, s)
			switch t {
			case rdbTypeHash:
				f, err := r.str()
				if err != nil {
					return nil, err
				}
				v.elems = append(v.elems, f)
			case rdbTypeZSet, rdbTypeZSet2:
				var sc float64
				if t == rdbTypeZSet2 {
					b, err := r.take(8)
					if err != nil {
						return nil, err
					}
					sc = math.Float64frombits(binary.LittleEndian.Uint64(b))
				} else if sc, err = r.textDouble(); err != nil {
					return nil, err
				}
				if math.IsNaN(sc) {
					return nil, errBadData
				}
				v.scores = append(v.scores, sc)
			}
		}
		return v, nil
	case rdbTypeListQuicklist, rdbTypeListQuicklist2:
		v.kind = dumpList
		n, err := r.count()
		if err != nil {
			return nil, err
		}
		if n == 0 || n > uint64(r.left()) {
			return nil, errBadData
		}
		for i := uint64(0); i < n; i++ {
			container := uint64(quicklistContainerPacked)
			if t == rdbTypeListQuicklist2 {
				if container, err = r.count(); err != nil {
					return nil, err
				}
				if container != quicklistContainerPacked && container != quicklistContainerPlain {
					return nil, errBadData
				}
			}
			data, err := r.str()
			if err != nil {
				return nil, err
			}
			if len(data) == 0 {
				return nil, errBadData
			}
			if container == quicklistContainerPlain {
				v.elems = append(v.elems, data)
				continue
			}
			if t == rdbTypeListQuicklist2 {
				v.elems, err = listpackEntries(data, v.elems)
			} else {
				v.elems, err = ziplistEntries(data, v.elems)
			}
			if err != nil {
				return nil, err
			}
		}
		if len(v.elems) == 0 {
			return nil, errBadData
		}
		return v, nil
	case rdbTypeHashZipmap, rdbTypeListZiplist, rdbTypeSetIntset, rdbTypeZSetZiplist,
		rdbTypeZSetListpack, rdbTypeHashZiplist, rdbTypeHashListpack:
		blob, err := r.str()
		if err != nil {
			return nil, err
		}
		switch t {
		case rdbTypeHashZipmap:
			v.kind, v.listpack = dumpHash, true
			v.elems, err = zipmapEntries(blob)
		case rdbTypeListZiplist:
			v.kind = dumpList
			v.elems, err = ziplistEntries(blob, nil)
		case rdbTypeSetIntset:
			v.kind = dumpSet
			v.elems, err = intsetEntries(blob)
		case rdbTypeZSetZiplist, rdbTypeHashZiplist:
			v.elems, err = ziplistEntries(blob, nil)
		case rdbTypeZSetListpack, rdbTypeHashListpack:
			v.elems, err = listpackEntries(blob, nil)
		}
		if err != nil {
			return nil, err
		}
		if len(v.elems) == 0 {
			return nil, errBadData
		}
		switch t {
		case rdbTypeZSetZiplist, rdbTypeZSetListpack:
			v.kind, v.listpack = dumpZSet, true
			if len(v.elems)%2 != 0 {
				return nil, errBadData
			}
			members := v.elems[:0]
			for i := 0; i < len(v.elems); i += 2 {
				sc, err := parseStrtod(v.elems[i+1])
				if err != nil || math.IsNaN(sc) {
					return nil, errBadData
				}
				members = append(members, v.elems[i])
				v.scores = append(v.scores, sc)
			}
			v.elems = members
		case rdbTypeHashZiplist, rdbTypeHashListpack:
			v.kind, v.listpack = dumpHash, true
			if len(v.elems)%2 != 0 {
				return nil, errBadData
			}
		}
		return v, nil
	}
	if t == rdbTypeStreamListpacks || t == rdbTypeStreamListpacks2 {
		st, err := decodeStream(r, t)
		if err != nil {
			return nil, err
		}
		v.kind, v.stream = dumpStream, st
		return v, nil
	}
	// modules and unknown types
	return nil, errBadData
}

// ---- listpack ----

// listpackEntries appends the entries of the listpack lp (integers as their
// decimal strings) to dst, validating it as lpValidateIntegrity with deep
// checks: header, every entry's encoding and back length within bounds, the
// terminator, and the element count.
func listpackEntries(lp []byte, dst [][]byte) ([][]byte, error) {
	if len(lp) < 7 || binary.LittleEndian.Uint32(lp) != uint32(len(lp)) || lp[len(lp)-1] != 0xff {
		return nil, errBadData
	}
	numele := int(binary.LittleEndian.Uint16(lp[4:]))
	end := len(lp) - 1
	p, count := 6, 0
	var bl [5]byte
	for p < end {
		c := lp[p]
		var hdr, dlen int
		var ival int64
		isInt := true
		switch {
		case c&0x80 == 0:
			hdr, ival = 1, int64(c&0x7f)
		case c&0xc0 == 0x80:
			hdr, dlen, isInt = 1, int(c&0x3f), false
		case c&0xe0 == 0xc0:
			if p+2 > end {
				return nil, errBadData
			}
			hdr = 2
			u := int64(c&0x1f)<<8 | int64(lp[p+1])
			if u >= 1<<12 {
				u -= 1 << 13
			}
			ival = u
		case c&0xf0 == 0xe0:
			if p+2 > end {
				return nil, errBadData
			}
			hdr, dlen, isInt = 2, int(c&0x0f)<<8|int(lp[p+1]), false
		case c == 0xf1, c == 0xf2, c == 0xf3, c == 0xf4:
			w := [...]int{2, 3, 4, 8}[c-0xf1]
			if p+1+w > end {
				return nil, errBadData
			}
			hdr = 1 + w
			var u uint64
			for k := w - 1; k >= 0; k-- {
				u = u<<8 | uint64(lp[p+1+k])
			}
			if w < 8 && u >= 1<<(8*w-1) {
				ival = int64(u) - 1<<(8*w)
			} else {
				ival = int64(u)
			}
		case c == 0xf0:
			if p+5 > end {
				return nil, errBadData
			}
			hdr, isInt = 5, false
			n := binary.LittleEndian.Uint32(lp[p+1:])
			if uint64(n) > uint64(end-p) {
				return nil, errBadData
			}
			dlen = int(n)
		default:
			return nil, errBadData
		}
		entry := hdr + dlen
		if entry > end-p {
			return nil, errBadData
		}
		bn := lpEncodeBacklen(bl[:], uint64(entry))
		if p+entry+bn > end || string(lp[p+entry:p+entry+bn]) != string(bl[:bn]) {
			return nil, errBadData
		}
		if isInt {
			dst = append(dst, strconv.AppendInt(nil, ival, 10))
		} else {
			dst = append(dst, append([]byte{}, lp[p+hdr:p+entry]...))
		}
		p += entry + bn
		count++
	}
	if p != end || (numele != 0xffff && numele != count) {
		return nil, errBadData
	}
	return dst, nil
}

// lpEncodeBacklen writes the back length of an entry of l bytes into buf
// (listpack.c) and returns its size.
func lpEncodeBacklen(buf []byte, l uint64) int {
	switch {
	case l <= 127:
		buf[0] = byte(l)
		return 1
	case l < 16383:
		buf[0] = byte(l >> 7)
		buf[1] = byte(l&127) | 128
		return 2
	case l < 2097151:
		buf[0] = byte(l >> 14)
		buf[1] = byte((l>>7)&127) | 128
		buf[2] = byte(l&127) | 128
		return 3
	case l < 268435455:
		buf[0] = byte(l >> 21)
		buf[1] = byte((l>>14)&127) | 128
		buf[2] = byte((l>>7)&127) | 128
		buf[3] = byte(l&127) | 128
		return 4
	}
	buf[0] = byte(l >> 28)
	buf[1] = byte((l>>21)&127) | 128
	buf[2] = byte((l>>14)&127) | 128
	buf[3] = byte((l>>7)&127) | 128
	buf[4] = byte(l&127) | 128
	return 5
}

// ---- ziplist ----

// ziplistEntries appends the entries of the ziplist zl to dst, validating it
// as ziplistValidateIntegrity with deep checks (header, each entry's
// prevlen and encoding, tail offset, count, terminator).
func ziplistEntries(zl []byte, dst [][]byte) ([][]byte, error) {
	const hdr = 10
	if len(zl) < hdr+1 || binary.LittleEndian.Uint32(zl) != uint32(len(zl)) || zl[len(zl)-1] != 0xff {
		return nil, errBadData
	}
	tail := int(binary.LittleEndian.Uint32(zl[4:]))
	zllen := int(binary.LittleEndian.Uint16(zl[8:]))
	end := len(zl) - 1
	p, count, prevLen, last := hdr, 0, 0, hdr
	for p < end {
		start := p
		// prevlen
		var prev int
		if zl[p] < 254 {
			prev = int(zl[p])
			p++
		} else {
			if p+5 > end {
				return nil, errBadData
			}
			prev = int(binary.LittleEndian.Uint32(zl[p+1:]))
			p += 5
		}
		if prev != prevLen {
			return nil, errBadData
		}
		if p >= end {
			return nil, errBadData
		}
		c := zl[p]
		var val []byte
		switch {
		case c>>6 == 0:
			n := int(c & 0x3f)
			if p+1+n > end {
				return nil, errBadData
			}
			val = append([]byte{}, zl[p+1:p+1+n]...)
			p += 1 + n
		case c>>6 == 1:
			if p+2 > end {
				return nil, errBadData
			}
			n := int(c&0x3f)<<8 | int(zl[p+1])
			if p+2+n > end {
				return nil, errBadData
			}
			val = append([]byte{}, zl[p+2:p+2+n]...)
			p += 2 + n
		case c>>6 == 2:
			if c != 0x80 || p+5 > end {
				return nil, errBadData
			}
			n := uint64(binary.BigEndian.Uint32(zl[p+1:]))
			if n > uint64(end-p-5) {
				return nil, errBadData
			}
			val = append([]byte{}, zl[p+5:p+5+int(n)]...)
			p += 5 + int(n)
		default:
			var w int
			switch c {
			case 0xc0:
				w = 2
			case 0xd0:
				w = 4
			case 0xe0:
				w = 8
			case 0xf0:
				w = 3
			case 0xfe:
				w = 1
			default:
				if c >= 0xf1 && c <= 0xfd {
					val = strconv.AppendInt(nil, int64(c&0x0f)-1, 10)
					p++
				} else {
					return nil, errBadData
				}
			}
			if w > 0 {
				if p+1+w > end {
					return nil, errBadData
				}
				var u uint64
				for k := w - 1; k >= 0; k-- {
					u = u<<8 | uint64(zl[p+1+k])
				}
				iv := int64(u)
				if w < 8 && u >= 1<<(8*w-1) {
					iv -= 1 << (8 * w)
				}
				val = strconv.AppendInt(nil, iv, 10)
				p += 1 + w
			}
		}
		dst = append(dst, val)
		prevLen = p - start
		last = start
		count++
	}
	if p != end || (zllen != 0xffff && zllen != count) {
		return nil, errBadData
	}
	if count > 0 && tail != last {
		return nil, errBadData
	}
	return dst, nil
}

// ---- zipmap ----

// zipmapEntries reads a zipmap (Redis 2.4's small hashes) as
// zipmapValidateIntegrity with deep checks, refusing duplicate fields.
func zipmapEntries(zm []byte) ([][]byte, error) {
	if len(zm) < 2 || zm[len(zm)-1] != 0xff {
		return nil, errBadData
	}
	end := len(zm) - 1
	p, count := 1, 0
	var out [][]byte
	seen := map[string]bool{}
	readLen := func() (int, error) {
		if zm[p] < 254 {
			n := int(zm[p])
			p++
			return n, nil
		}
		if p+5 > end {
			return 0, errBadData
		}
		n := binary.LittleEndian.Uint32(zm[p+1:])
		p += 5
		if n < 254 {
			// a short length in the 5-byte form (Redis's CVE-2026-25243 check)
			return 0, errBadData
		}
		if uint64(n) > uint64(end-p) {
			return 0, errBadData
		}
		return int(n), nil
	}
	for zm[p] != 0xff {
		n, err := readLen()
		if err != nil {
			return nil, err
		}
		if p+n > end {
			return nil, errBadData
		}
		field := zm[p : p+n]
		p += n
		if p >= end {
			return nil, errBadData
		}
		n, err = readLen()
		if err != nil {
			return nil, err
		}
		if p >= end {
			return nil, errBadData
		}
		free := int(zm[p])
		p++
		if p+n+free > end {
			return nil, errBadData
		}
		val := zm[p : p+n]
		p += n + free
		if seen[string(field)] {
			return nil, errBadData
		}
		seen[string(field)] = true
		out = append(out, append([]byte{}, field...), append([]byte{}, val...))
		count++
	}
	if count == 0 || (zm[0] != 254 && int(zm[0]) != count) {
		return nil, errBadData
	}
	return out, nil
}

// ---- intset ----

// intsetEntries reads an intset as intsetValidateIntegrity with deep checks:
// a valid width, a size matching the count, at least one member, strictly
// ascending members.
func intsetEntries(is []byte) ([][]byte, error) {
	if len(is) < 8 {
		return nil, errBadData
	}
	w := binary.LittleEndian.Uint32(is)
	if w != 2 && w != 4 && w != 8 {
		return nil, errBadData
	}
	n := uint64(binary.LittleEndian.Uint32(is[4:]))
	if 8+n*uint64(w) != uint64(len(is)) || n == 0 {
		return nil, errBadData
	}
	out := make([][]byte, 0, n)
	var prev int64
	for i := uint64(0); i < n; i++ {
		b := is[8+i*uint64(w):]
		var v int64
		switch w {
		case 2:
			v = int64(int16(binary.LittleEndian.Uint16(b)))
		case 4:
			v = int64(int32(binary.LittleEndian.Uint32(b)))
		default:
			v = int64(binary.LittleEndian.Uint64(b))
		}
		if i > 0 && v <= prev {
			return nil, errBadData
		}
		prev = v
		out = append(out, strconv.AppendInt(nil, v, 10))
	}
	return out, nil
}
