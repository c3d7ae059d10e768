package tables

import "sort"

// A row is kept in memory, and stored on disk, as one string: a format byte,
// then for each field present, in ascending field-id order, uvarint(fid),
// uvarint(len) and the value's canonical text. One allocation per row, and
// replies copy values straight out of it. Field ids are never reused within a
// table, so a value left behind by a dropped field is simply skipped.

const rowFormat = 1

// rowEnt is one decoded field of a row.
type rowEnt struct {
	fid uint32
	val string
}

func appendUvarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// readUvarint decodes a uvarint at s[i:]; ok is false on truncated or
// overlong input.
func readUvarint(s string, i int) (v uint64, next int, ok bool) {
	if i < len(s) && s[i] < 0x80 {
		return uint64(s[i]), i + 1, true // the common case: one byte
	}
	var shift uint
	for n := 0; n < 10; n++ {
		if i >= len(s) {
			return 0, 0, false
		}
		c := s[i]
		i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, i, true
		}
		shift += 7
	}
	return 0, 0, false
}

// decodeRow appends the row's fields to buf; ok is false for corrupt data
// (including field ids out of order or repeated: encodeRow's callers sort
// them, and rowValue and TUPDATE rely on it).
func decodeRow(data string, buf []rowEnt) ([]rowEnt, bool) {
	if len(data) == 0 || data[0] != rowFormat {
		return buf, false
	}
	i := 1
	prev := -1
	for i < len(data) {
		fid, j, ok := readUvarint(data, i)
		if !ok || fid > 1<<32-1 || int64(fid) <= int64(prev) {
			return buf, false
		}
		prev = int(fid)
		n, k, ok := readUvarint(data, j)
		if !ok || n > uint64(len(data)-k) {
			return buf, false
		}
		buf = append(buf, rowEnt{fid: uint32(fid), val: data[k : k+int(n)]})
		i = k + int(n)
	}
	return buf, true
}

// rowValue returns the value of field fid in a (valid) row.
func rowValue(data string, fid uint32) (string, bool) {
	i := 1
	for i < len(data) {
		f, j, ok := readUvarint(data, i)
		if !ok {
			return "", false
		}
		n, k, ok := readUvarint(data, j)
		if !ok || n > uint64(len(data)-k) {
			return "", false
		}
		if uint32(f) == fid {
			return data[k : k+int(n)], true
		}
		if uint32(f) > fid {
			return "", false
		}
		i = k + int(n)
	}
	return "", false
}

// encodeRow appends the encoding of ents (sorted by fid) to dst.
func encodeRow(dst []byte, ents []rowEnt) []byte {
	dst = append(dst, rowFormat)
	for _, e := range ents {
		dst = appendUvarint(dst, uint64(e.fid))
		dst = appendUvarint(dst, uint64(len(e.val)))
		dst = append(dst, e.val...)
	}
	return dst
}

// sortByFid sorts a row's entries by field id (insertion sort for the usual
// handful of fields).
func sortByFid(ents []rowEnt) {
	if len(ents) > 12 {
		sort.Slice(ents, func(i, j int) bool { return ents[i].fid < ents[j].fid })
		return
	}
	for i := 1; i < len(ents); i++ {
		for j := i; j > 0 && ents[j].fid < ents[j-1].fid; j-- {
			ents[j], ents[j-1] = ents[j-1], ents[j]
		}
	}
}
