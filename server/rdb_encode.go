package server

import (
	"encoding/binary"
	"math"
	"strconv"

	"github.com/luxdb/lux-go/storage"
)

// DUMP's side of the payload format (see rdb_codec.go): the value written
// with the encodings Redis 7.0's rdbSaveObject picks for the same value, so
// small values come out byte for byte as Redis writes them:
//
//   - strings: an integer encoding for canonical integers in int32 range,
//     LZF for strings over 20 bytes when that saves at least 4, else raw;
//   - lists: RDB_TYPE_LIST_QUICKLIST_2, the elements cut into listpack nodes
//     as RPUSH fills a quicklist with list-max-listpack-size -2 (8 KiB), each
//     node written as a string (so LZF-compressed when that pays off);
//   - sets: RDB_TYPE_SET_INTSET (narrowest width) while intset-encoded, else
//     RDB_TYPE_SET;
//   - sorted sets: RDB_TYPE_ZSET_LISTPACK while listpack-encoded, else
//     RDB_TYPE_ZSET_2 from the highest score down;
//   - hashes: RDB_TYPE_HASH_LISTPACK while listpack-encoded, else
//     RDB_TYPE_HASH.
//
// A set or hash in hashtable encoding is written in this server's iteration
// order, which differs from Redis's dict order (the payloads are equivalent).

type rdbWriter struct{ b []byte }

// length is rdbSaveLen.
func (w *rdbWriter) length(n uint64) {
	switch {
	case n < 1<<6:
		w.b = append(w.b, byte(n))
	case n < 1<<14:
		w.b = append(w.b, byte(n>>8)|0x40, byte(n))
	case n <= math.MaxUint32:
		w.b = append(w.b, 0x80)
		w.b = binary.BigEndian.AppendUint32(w.b, uint32(n))
	default:
		w.b = append(w.b, 0x81)
		w.b = binary.BigEndian.AppendUint64(w.b, n)
	}
}

// rawString is rdbSaveRawString: integer encoding for a canonical integer
// of at most 11 bytes in int32 range, LZF for more than 20 bytes when it
// saves at least 4 bytes, the bytes verbatim otherwise.
func (w *rdbWriter) rawString(s []byte) {
	if len(s) <= 11 {
		if v, ok := parseInt(s); ok {
			switch {
			case v >= math.MinInt8 && v <= math.MaxInt8:
				w.b = append(w.b, 0xc0|rdbEncInt8, byte(v))
				return
			case v >= math.MinInt16 && v <= math.MaxInt16:
				w.b = append(w.b, 0xc0|rdbEncInt16)
				w.b = binary.LittleEndian.AppendUint16(w.b, uint16(v))
				return
			case v >= math.MinInt32 && v <= math.MaxInt32:
				w.b = append(w.b, 0xc0|rdbEncInt32)
				w.b = binary.LittleEndian.AppendUint32(w.b, uint32(v))
				return
			}
		}
	}
	if len(s) > 20 {
		if c := lzfCompress(s, len(s)-4); c != nil {
			w.b = append(w.b, 0xc0|rdbEncLZF)
			w.length(uint64(len(c)))
			w.length(uint64(len(s)))
			w.b = append(w.b, c...)
			return
		}
	}
	w.length(uint64(len(s)))
	w.b = append(w.b, s...)
}

// ---- listpack writer ----

// listpack builds a listpack as lpAppend does: strings that are canonical
// integers take the integer encodings.
type listpack struct {
	b []byte
	n int
}

func newListpack() *listpack {
	return &listpack{b: []byte{7, 0, 0, 0, 0, 0, 0xff}}
}

func (lp *listpack) appendEntry(enc []byte) {
	var bl [5]byte
	n := lpEncodeBacklen(bl[:], uint64(len(enc)))
	lp.b = lp.b[:len(lp.b)-1]
	lp.b = append(lp.b, enc...)
	lp.b = append(lp.b, bl[:n]...)
	lp.b = append(lp.b, 0xff)
	lp.n++
	binary.LittleEndian.PutUint32(lp.b, uint32(len(lp.b)))
	cnt := lp.n
	if cnt >= 0xffff {
		cnt = 0xffff
	}
	binary.LittleEndian.PutUint16(lp.b[4:], uint16(cnt))
}

// lpEncodeInt is lpEncodeIntegerGetType.
func lpEncodeInt(dst []byte, v int64) []byte {
	switch {
	case v >= 0 && v <= 127:
		return append(dst, byte(v))
	case v >= -4096 && v <= 4095:
		if v < 0 {
			v += 1 << 13
		}
		return append(dst, byte(v>>8)|0xc0, byte(v))
	case v >= -32768 && v <= 32767:
		return binary.LittleEndian.AppendUint16(append(dst, 0xf1), uint16(v))
	case v >= -8388608 && v <= 8388607:
		u := uint32(v)
		return append(dst, 0xf2, byte(u), byte(u>>8), byte(u>>16))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return binary.LittleEndian.AppendUint32(append(dst, 0xf3), uint32(v))
	}
	return binary.LittleEndian.AppendUint64(append(dst, 0xf4), uint64(v))
}

// lpEncodeString is an entry for s: an integer encoding when s is a
// canonical int64 (lpStringToInt64), else the 6-bit, 12-bit or 32-bit string
// encodings.
func lpEncodeString(dst, s []byte) []byte {
	if v, ok := parseInt(s); ok {
		return lpEncodeInt(dst, v)
	}
	n := len(s)
	switch {
	case n < 64:
		dst = append(dst, 0x80|byte(n))
	case n < 4096:
		dst = append(dst, 0xe0|byte(n>>8), byte(n))
	default:
		dst = binary.LittleEndian.AppendUint32(append(dst, 0xf0), uint32(n))
	}
	return append(dst, s...)
}

func (lp *listpack) appendString(s []byte, scratch []byte) []byte {
	scratch = lpEncodeString(scratch[:0], s)
	lp.appendEntry(scratch)
	return scratch
}

// appendScore appends a sorted set score as zzlInsertAt does: an integer
// entry when double2ll converts it exactly, else d2string's text.
func (lp *listpack) appendScore(score float64, scratch []byte) []byte {
	if score >= -(math.MaxInt64/2) && score <= math.MaxInt64/2 {
		if l := int64(score); float64(l) == score {
			scratch = lpEncodeInt(scratch[:0], l)
			lp.appendEntry(scratch)
			return scratch
		}
	}
	var txt []byte
	switch {
	case math.IsInf(score, 1):
		txt = []byte("inf")
	case math.IsInf(score, -1):
		txt = []byte("-inf")
	default:
		txt = strconv.AppendFloat(nil, score, 'g', 17, 64)
	}
	return lp.appendString(txt, scratch)
}

// ---- objects ----

// quicklistNodeLimit is list-max-listpack-size -2: a node's listpack stays
// within 8 KiB (_quicklistNodeAllowInsert's estimate).
const quicklistNodeLimit = 8192

// encodeDumpPayload serializes e as DUMP does; ok is false for the types
// Redis has no RDB encoding for (time series, vectors).
func encodeDumpPayload(e *storage.Entry) ([]byte, bool) {
	w := &rdbWriter{}
	if e.Object() == nil {
		w.b = append(w.b, rdbTypeString)
		w.rawString(e.Bytes())
		return finishDumpPayload(w.b), true
	}
	var scratch []byte
	switch o := e.Object().(type) {
	case *storage.List:
		var nodes [][]byte
		var lp *listpack
		o.Range(0, o.Len(), func(_ int, v string) bool {
			if lp == nil || len(lp.b)+len(v)+8 > quicklistNodeLimit {
				if lp != nil {
					nodes = append(nodes, lp.b)
				}
				lp = newListpack()
			}
			scratch = lp.appendString([]byte(v), scratch)
			return true
		})
		if lp != nil {
			nodes = append(nodes, lp.b)
		}
		w.b = append(w.b, rdbTypeListQuicklist2)
		w.length(uint64(len(nodes)))
		for _, n := range nodes {
			w.length(quicklistContainerPacked)
			w.rawString(n)
		}
	case *storage.Set:
		if o.Encoding() == "intset" {
			var ints []int64
			width := 2
			o.ForEach(func(m []byte) bool {
				v, _ := strconv.ParseInt(string(m), 10, 64)
				ints = append(ints, v)
				switch {
				case v < math.MinInt32 || v > math.MaxInt32:
					width = 8
				case (v < math.MinInt16 || v > math.MaxInt16) && width < 4:
					width = 4
				}
				return true
			})
			is := binary.LittleEndian.AppendUint32(nil, uint32(width))
			is = binary.LittleEndian.AppendUint32(is, uint32(len(ints)))
			for _, v := range ints {
				switch width {
				case 2:
					is = binary.LittleEndian.AppendUint16(is, uint16(v))
				case 4:
					is = binary.LittleEndian.AppendUint32(is, uint32(v))
				default:
					is = binary.LittleEndian.AppendUint64(is, uint64(v))
				}
			}
			w.b = append(w.b, rdbTypeSetIntset)
			w.rawString(is)
			break
		}
		w.b = append(w.b, rdbTypeSet)
		w.length(uint64(o.Len()))
		o.ForEach(func(m []byte) bool {
			w.rawString(m)
			return true
		})
	case *storage.ZSet:
		if o.Encoding() == "listpack" {
			lp := newListpack()
			o.ForEach(func(m []byte, score float64) bool {
				scratch = lp.appendString(m, scratch)
				scratch = lp.appendScore(score, scratch)
				return true
			})
			w.b = append(w.b, rdbTypeZSetListpack)
			w.rawString(lp.b)
			break
		}
		w.b = append(w.b, rdbTypeZSet2)
		w.length(uint64(o.Len()))
		o.Range(0, o.Len(), true, func(m []byte, score float64) bool {
			w.rawString(m)
			w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(score))
			return true
		})
	case *storage.Hash:
		if o.Encoding() == "listpack" {
			lp := newListpack()
			o.ForEach(func(f, v []byte) bool {
				scratch = lp.appendString(f, scratch)
				scratch = lp.appendString(v, scratch)
				return true
			})
			w.b = append(w.b, rdbTypeHashListpack)
			w.rawString(lp.b)
			break
		}
		w.b = append(w.b, rdbTypeHash)
		w.length(uint64(o.Len()))
		o.ForEach(func(f, v []byte) bool {
			w.rawString(f)
			w.rawString(v)
			return true
		})
	case *storage.Stream:
		encodeStream(w, o)
	default:
		return nil, false
	}
	return finishDumpPayload(w.b), true
}

// finishDumpPayload appends the RDB version and the CRC64.
func finishDumpPayload(b []byte) []byte {
	b = append(b, rdbVersion&0xff, rdbVersion>>8)
	return binary.LittleEndian.AppendUint64(b, crc64Jones(0, b))
}
