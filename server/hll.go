package server

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// HyperLogLog representation, a port of Redis 7.0's hyperloglog.c: a value
// written by Redis counts identically here and the other way round, and the
// same PFADDs produce the same bytes.
//
// A value is a string: the 16-byte header "HYLL", the encoding byte (0 dense,
// 1 sparse), 3 unused bytes and the cached cardinality (8 bytes, little
// endian; the top bit of the last byte set means "not valid"), then the
// registers. Dense: 16384 registers of 6 bits, least significant bits first.
// Sparse: run-length opcodes ZERO (00xxxxxx: 1-64 zero registers), XZERO
// (01xxxxxx yyyyyyyy: 1-16384 zero registers) and VAL (1vvvvvxx: 1-4
// registers of value 1-32).
//
// Every function here works on a value that may be corrupted (it comes from
// a client's SET): indexes are checked, and where Redis's C reads the byte
// past the end of an sds (its terminating zero) these read 0. The decoders
// reject any opcode running past the last register, as Redis 7.0.15 with the
// CVE-2025-32023 fix (Debian's package, later upstream releases) does; the
// unpatched 7.0.15 only checked VAL opcodes.

const (
	hllP           = 14
	hllQ           = 64 - hllP
	hllRegisters   = 1 << hllP
	hllPMask       = hllRegisters - 1
	hllBits        = 6
	hllRegisterMax = 1<<hllBits - 1
	hllHdrSize     = 16
	hllDenseSize   = hllHdrSize + (hllRegisters*hllBits+7)/8
	hllDense       = 0
	hllSparse      = 1
	hllRaw         = 255 // PFCOUNT's internal one byte per register, never stored
	hllMaxEncoding = 1

	hllSparseValMaxValue = 32
	hllSparseValMaxLen   = 4
	hllSparseZeroMaxLen  = 64
	hllSparseXZeroMaxLen = 16384

	hllAlphaInf = 0.721347520444481703680 // 0.5/ln(2)

	// hllDefaultSparseMaxBytes is hll-sparse-max-bytes' default.
	hllDefaultSparseMaxBytes = 3000
)

// murmurHash64A is Austin Appleby's MurmurHash64A as Redis uses it
// (little-endian reads).
func murmurHash64A(key []byte, seed uint64) uint64 {
	const m = 0xc6a4a7935bd1e995
	const r = 47
	h := seed ^ (uint64(len(key)) * m)
	n := len(key) &^ 7
	for i := 0; i < n; i += 8 {
		k := binary.LittleEndian.Uint64(key[i:])
		k *= m
		k ^= k >> r
		k *= m
		h ^= k
		h *= m
	}
	tail := key[n:]
	switch len(tail) {
	case 7:
		h ^= uint64(tail[6]) << 48
		fallthrough
	case 6:
		h ^= uint64(tail[5]) << 40
		fallthrough
	case 5:
		h ^= uint64(tail[4]) << 32
		fallthrough
	case 4:
		h ^= uint64(tail[3]) << 24
		fallthrough
	case 3:
		h ^= uint64(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint64(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint64(tail[0])
		h *= m
	}
	h ^= h >> r
	h *= m
	h ^= h >> r
	return h
}

// hllPatLen returns the register an element goes to and the length of the
// "000..1" pattern of its hash (1..Q+1).
func hllPatLen(ele []byte) (index int, count uint8) {
	hash := murmurHash64A(ele, 0xadc83b19)
	index = int(hash & hllPMask)
	hash >>= hllP
	hash |= 1 << hllQ // the loop ends, count <= Q+1
	return index, uint8(bits.TrailingZeros64(hash) + 1)
}

// hllDenseGet reads register i of dense registers regs.
func hllDenseGet(regs []byte, i int) uint8 {
	b := i * hllBits / 8
	fb := uint(i * hllBits & 7)
	b0 := uint(regs[b])
	var b1 uint
	if b+1 < len(regs) {
		b1 = uint(regs[b+1])
	}
	return uint8((b0>>fb | b1<<(8-fb)) & hllRegisterMax)
}

// hllDenseSetReg writes register i of dense registers regs.
func hllDenseSetReg(regs []byte, i int, val uint8) {
	b := i * hllBits / 8
	fb := uint(i * hllBits & 7)
	fb8 := 8 - fb
	v := uint(val)
	regs[b] &^= byte(hllRegisterMax << fb)
	regs[b] |= byte(v << fb)
	if b+1 < len(regs) {
		regs[b+1] &^= byte(hllRegisterMax >> fb8)
		regs[b+1] |= byte(v >> fb8)
	}
}

// hllDenseSet raises register index to count; it reports whether it changed.
func hllDenseSet(regs []byte, index int, count uint8) bool {
	if count > hllDenseGet(regs, index) {
		hllDenseSetReg(regs, index, count)
		return true
	}
	return false
}

func hllDenseRegHisto(regs []byte, histo *[64]int) {
	for j := 0; j < hllRegisters; j++ {
		histo[hllDenseGet(regs, j)]++
	}
}

// Sparse opcode helpers. at reads p[i] as C does past the end: 0.
func at(p []byte, i int) byte {
	if i < len(p) {
		return p[i]
	}
	return 0
}

func sparseIsZero(b byte) bool  { return b&0xc0 == 0 }
func sparseIsXZero(b byte) bool { return b&0xc0 == 0x40 }
func sparseIsVal(b byte) bool   { return b&0x80 != 0 }
func sparseZeroLen(b byte) int  { return int(b&0x3f) + 1 }
func sparseXZeroLen(p []byte, i int) int {
	return (int(p[i]&0x3f)<<8 | int(at(p, i+1))) + 1
}
func sparseValValue(b byte) int { return int(b>>2&0x1f) + 1 }
func sparseValLen(b byte) int   { return int(b&0x3) + 1 }
func sparseVal(val, n int) byte { return byte((val-1)<<2|(n-1)) | 0x80 }
func sparseZero(n int) byte     { return byte(n - 1) }
func sparseXZero(n int) (byte, byte) {
	l := n - 1
	return byte(l>>8) | 0x40, byte(l)
}

// hllNew returns a new empty HLL: sparse, XZERO opcodes covering every
// register, cache 0 (valid).
func hllNew() []byte {
	n := (hllRegisters + hllSparseXZeroMaxLen - 1) / hllSparseXZeroMaxLen
	s := make([]byte, hllHdrSize, hllHdrSize+2*n+8)
	copy(s, "HYLL")
	s[4] = hllSparse
	for aux := hllRegisters; aux > 0; {
		x := min(aux, hllSparseXZeroMaxLen)
		a, b := sparseXZero(x)
		s = append(s, a, b)
		aux -= x
	}
	return s
}

// hllValid is Redis's isHLLObjectOrReply test for a string value.
func hllValid(s []byte) bool {
	if len(s) < hllHdrSize || string(s[:4]) != "HYLL" || s[4] > hllMaxEncoding {
		return false
	}
	return s[4] != hllDense || len(s) == hllDenseSize
}

func hllInvalidateCache(s []byte) { s[15] |= 1 << 7 }
func hllValidCache(s []byte) bool { return s[15]&(1<<7) == 0 }

// hllSparseToDense returns the dense form of sparse HLL s (header copied,
// encoding changed); ok is false when the opcodes do not cover exactly
// every register. A dense s is returned as it is.
func hllSparseToDense(s []byte) ([]byte, bool) {
	if s[4] == hllDense {
		return s, true
	}
	d := make([]byte, hllDenseSize)
	copy(d, s[:hllHdrSize])
	d[4] = hllDense
	regs := d[hllHdrSize:]
	idx := 0
	for p := hllHdrSize; p < len(s); {
		b := s[p]
		var runlen int
		switch {
		case sparseIsZero(b):
			runlen = sparseZeroLen(b)
		case sparseIsXZero(b):
			runlen = sparseXZeroLen(s, p)
		default:
			runlen = sparseValLen(b)
		}
		if runlen+idx > hllRegisters {
			return nil, false // overflow
		}
		switch {
		case sparseIsZero(b):
			p++
		case sparseIsXZero(b):
			p += 2
		default:
			val := uint8(sparseValValue(b))
			for k := 0; k < runlen; k++ {
				hllDenseSetReg(regs, idx+k, val)
			}
			p++
		}
		idx += runlen
	}
	if idx != hllRegisters {
		return nil, false
	}
	return d, true
}

// hllSparseSet raises register index of sparse HLL *o to count, as Redis's
// hllSparseSet: 1 when changed, 0 when not, -1 when the value is corrupted.
// *o may be promoted to dense (over maxBytes, or a count over 32).
func hllSparseSet(o *[]byte, index int, count uint8, maxBytes int64) int {
	if count > hllSparseValMaxValue {
		return hllPromote(o, index, count)
	}
	s := *o
	end := len(s)
	// step 1: find the opcode covering index
	first, span := 0, 0
	p, prev := hllHdrSize, -1
	for p < end {
		oplen := 1
		b := s[p]
		switch {
		case sparseIsZero(b):
			span = sparseZeroLen(b)
		case sparseIsVal(b):
			span = sparseValLen(b)
		default:
			span = sparseXZeroLen(s, p)
			oplen = 2
		}
		if index <= first+span-1 {
			break
		}
		prev = p
		p += oplen
		first += span
	}
	if span == 0 || p >= end {
		return -1
	}
	b := s[p]
	next := p + 1
	if sparseIsXZero(b) {
		next = p + 2
	}
	if next >= end {
		next = -1
	}
	isZero, isXZero, isVal := false, false, false
	var runlen int
	switch {
	case sparseIsZero(b):
		isZero, runlen = true, sparseZeroLen(b)
	case sparseIsXZero(b):
		isXZero, runlen = true, sparseXZeroLen(s, p)
	default:
		isVal, runlen = true, sparseValLen(b)
	}
	// step 2: the trivial cases
	switch {
	case isVal && sparseValValue(b) >= int(count):
		return 0
	case isVal && runlen == 1, isZero && runlen == 1:
		s[p] = sparseVal(int(count), 1)
	default:
		// split the opcode into up to ZERO/XZERO-VAL-ZERO/XZERO
		var seq [5]byte
		n := 0
		last := first + span - 1
		if isZero || isXZero {
			zeros := func(l int) {
				if l > hllSparseZeroMaxLen {
					seq[n], seq[n+1] = sparseXZero(l)
					n += 2
				} else {
					seq[n] = sparseZero(l)
					n++
				}
			}
			if index != first {
				zeros(index - first)
			}
			seq[n] = sparseVal(int(count), 1)
			n++
			if index != last {
				zeros(last - index)
			}
		} else {
			cur := sparseValValue(b)
			if index != first {
				seq[n] = sparseVal(cur, index-first)
				n++
			}
			seq[n] = sparseVal(int(count), 1)
			n++
			if index != last {
				seq[n] = sparseVal(cur, last-index)
				n++
			}
		}
		// step 3: put the sequence in place of the opcode
		oldlen := 1
		if isXZero {
			oldlen = 2
		}
		delta := n - oldlen
		if delta > 0 && int64(len(s)+delta) > maxBytes {
			return hllPromote(o, index, count)
		}
		newLen := len(s) + delta
		var tail []byte
		if next >= 0 {
			tail = s[next:]
		}
		ns := make([]byte, 0, newLen+p+n+len(tail)+8)
		ns = append(ns, s[:p]...)
		ns = append(ns, seq[:n]...)
		ns = append(ns, tail...)
		if len(ns) > newLen {
			ns = ns[:newLen] // an XZERO cut by the end of a corrupted value
		}
		for len(ns) < newLen {
			ns = append(ns, 0)
		}
		s = ns
		end = len(s)
	}
	// step 4: merge adjacent VAL opcodes of the same value
	p = hllHdrSize
	if prev >= 0 {
		p = prev
	}
	for scan := 5; p < end && scan > 0; scan-- {
		b := s[p]
		if sparseIsXZero(b) {
			p += 2
			continue
		} else if sparseIsZero(b) {
			p++
			continue
		}
		if p+1 < end && sparseIsVal(s[p+1]) {
			v1, v2 := sparseValValue(b), sparseValValue(s[p+1])
			if v1 == v2 {
				if l := sparseValLen(b) + sparseValLen(s[p+1]); l <= hllSparseValMaxLen {
					s[p+1] = sparseVal(v1, l)
					copy(s[p:], s[p+1:end])
					end--
					s = s[:end]
					continue
				}
			}
		}
		p++
	}
	hllInvalidateCache(s)
	*o = s
	return 1
}

// hllPromote converts sparse *o to dense and sets the register there.
func hllPromote(o *[]byte, index int, count uint8) int {
	d, ok := hllSparseToDense(*o)
	if !ok {
		return -1
	}
	*o = d
	hllDenseSet(d[hllHdrSize:], index, count)
	return 1
}

// hllAdd adds ele to HLL *o (dense or sparse): 1 when a register changed,
// 0 when not, -1 when the value is corrupted.
func hllAdd(o *[]byte, ele []byte, maxBytes int64) int {
	index, count := hllPatLen(ele)
	switch (*o)[4] {
	case hllDense:
		if hllDenseSet((*o)[hllHdrSize:], index, count) {
			return 1
		}
		return 0
	case hllSparse:
		return hllSparseSet(o, index, count, maxBytes)
	}
	return -1
}

// hllSparseRegHisto counts the sparse opcodes' register values; valid is
// false when they do not cover exactly every register.
func hllSparseRegHisto(s []byte, histo *[64]int) (valid bool) {
	idx := 0
	for p := hllHdrSize; p < len(s); {
		b := s[p]
		var n int
		switch {
		case sparseIsZero(b):
			n = sparseZeroLen(b)
		case sparseIsXZero(b):
			n = sparseXZeroLen(s, p)
		default:
			n = sparseValLen(b)
		}
		if n+idx > hllRegisters {
			return false // overflow
		}
		idx += n
		switch {
		case sparseIsZero(b):
			histo[0] += n
			p++
		case sparseIsXZero(b):
			histo[0] += n
			p += 2
		default:
			histo[sparseValValue(b)] += n
			p++
		}
	}
	return idx == hllRegisters
}

// hllSigma and hllTau are the helper functions of Otmar Ertl's estimator
// ("New cardinality estimation algorithms for HyperLogLog sketches",
// arXiv:1702.01284). The float64() conversions keep Go from fusing a
// multiply and an add: the results must be C's, bit for bit.
func hllSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		zPrime := z
		z += float64(x * y)
		y += y
		if zPrime == z {
			return z
		}
	}
}

func hllTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		zPrime := z
		y *= 0.5
		d := 1 - x
		z -= float64(float64(d*d) * y)
		if zPrime == z {
			return z / 3
		}
	}
}

// hllCountHisto estimates the cardinality from a register histogram.
func hllCountHisto(histo *[64]int) uint64 {
	const m = float64(hllRegisters)
	z := float64(m * hllTau((m-float64(histo[hllQ+1]))/m))
	for j := hllQ; j >= 1; j-- {
		z += float64(histo[j])
		z *= 0.5
	}
	z += float64(m * hllSigma(float64(histo[0])/m))
	e := float64(hllAlphaInf*m*m) / z
	// llroundl of a value out of long long's range (z 0: registers above
	// Q+1 only) gives LLONG_MIN on x86, which Redis then casts to uint64
	if math.IsNaN(e) || e >= 9.223372036854775807e18 {
		return 1 << 63
	}
	return uint64(int64(math.Round(e)))
}

// hllCount estimates the cardinality of an HLL value (dense or sparse);
// valid is false for a corrupted sparse one.
func hllCount(s []byte) (card uint64, valid bool) {
	var histo [64]int
	valid = true
	switch s[4] {
	case hllDense:
		hllDenseRegHisto(s[hllHdrSize:], &histo)
	case hllSparse:
		valid = hllSparseRegHisto(s, &histo)
	}
	return hllCountHisto(&histo), valid
}

// hllCountRaw estimates the cardinality of one-byte-per-register registers
// (the HLL_RAW encoding of a multi-key PFCOUNT).
func hllCountRaw(regs *[hllRegisters]uint8) uint64 {
	var histo [64]int
	for _, r := range regs {
		histo[r&63]++
	}
	return hllCountHisto(&histo)
}

// hllMerge raises max[i] to the registers of HLL s; false when a sparse s
// is corrupted.
func hllMerge(max *[hllRegisters]uint8, s []byte) bool {
	if s[4] == hllDense {
		regs := s[hllHdrSize:]
		for i := range max {
			if v := hllDenseGet(regs, i); v > max[i] {
				max[i] = v
			}
		}
		return true
	}
	i := 0
	for p := hllHdrSize; p < len(s); {
		b := s[p]
		var runlen int
		switch {
		case sparseIsZero(b):
			runlen = sparseZeroLen(b)
		case sparseIsXZero(b):
			runlen = sparseXZeroLen(s, p)
		default:
			runlen = sparseValLen(b)
		}
		if runlen+i > hllRegisters {
			return false // overflow
		}
		switch {
		case sparseIsZero(b):
			p++
		case sparseIsXZero(b):
			p += 2
		default:
			val := uint8(sparseValValue(b))
			for k := i; k < i+runlen; k++ {
				if val > max[k] {
					max[k] = val
				}
			}
			p++
		}
		i += runlen
	}
	return i == hllRegisters
}

// hllCard reads the cached cardinality.
func hllCard(s []byte) uint64 { return binary.LittleEndian.Uint64(s[8:16]) }

// hllSetCard stores the cached cardinality.
func hllSetCard(s []byte, card uint64) { binary.LittleEndian.PutUint64(s[8:16], card) }
