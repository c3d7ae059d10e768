package storage

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Vector limits (docs/LUX-EXTENSIONS.md).
const (
	MaxVectorDims = 32768
	MaxVectorMeta = 1 << 20
)

// Vector is a vector value: float32 components and optional metadata text.
// It is immutable once stored (VSET stores a new one), so the search index
// (vecindex.go) and a reply may read it without copying.
//
// Its meta record payload is uvarint(dims), a flags byte (1: metadata
// present), the components as little-endian IEEE-754 bits (bit-exact after a
// restart), then the metadata bytes. A vector has no element records.
type Vector struct {
	Comps   []float32
	Meta    []byte
	HasMeta bool // META was given (its text may be empty)
}

func init() { RegisterLoader(TypeVector, loadVector) }

// Type implements Object.
func (v *Vector) Type() Type { return TypeVector }

// Len implements Object: the number of components (never 0).
func (v *Vector) Len() int { return len(v.Comps) }

// MemSize implements Object.
func (v *Vector) MemSize() int { return 48 + 4*cap(v.Comps) + cap(v.Meta) }

// Encoding implements Object.
func (v *Vector) Encoding() string { return "vector" }

// MetaPayload implements Object.
func (v *Vector) MetaPayload() []byte {
	b := make([]byte, 0, binary.MaxVarintLen32+1+4*len(v.Comps)+len(v.Meta))
	b = binary.AppendUvarint(b, uint64(len(v.Comps)))
	var flags byte
	if v.HasMeta {
		flags = 1
	}
	b = append(b, flags)
	for _, c := range v.Comps {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(c))
	}
	return append(b, v.Meta...)
}

// ForEachElem implements Object: a vector lives in its meta record alone.
func (v *Vector) ForEachElem(func(sub, val []byte)) {}

// Clone implements Object.
func (v *Vector) Clone() Object {
	return &Vector{Comps: append([]float32(nil), v.Comps...), Meta: append([]byte(nil), v.Meta...), HasMeta: v.HasMeta}
}

var errVectorPayload = fmt.Errorf("%w: bad vector payload", errCorrupt)

// decodeVector parses a vector meta payload (copying what it keeps).
func decodeVector(p []byte) (*Vector, error) {
	dims, n := binary.Uvarint(p)
	if n <= 0 || dims == 0 || dims > MaxVectorDims || len(p) < n+1+4*int(dims) {
		return nil, errVectorPayload
	}
	flags := p[n]
	p = p[n+1:]
	v := &Vector{Comps: make([]float32, dims), HasMeta: flags&1 != 0}
	for i := range v.Comps {
		v.Comps[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
	}
	if rest := p[4*dims:]; v.HasMeta {
		v.Meta = append(make([]byte, 0, len(rest)), rest...)
	} else if len(rest) > 0 {
		return nil, errVectorPayload
	}
	return v, nil
}

func loadVector(meta []byte, _ ElemIter) (Object, error) { return decodeVector(meta) }

// SetVector stores v under key with the absolute unix-ms deadline exp (0:
// none), replacing any value of any type and its deadline as SET does, and
// reports event "vset". The search index learns of it in install.
func (tx *Tx) SetVector(key []byte, v *Vector, exp int64) {
	db := tx.db
	sh := db.shard(key)
	tx.install(db, sh, key, newObjEntry(key, v), exp, false)
	tx.touch(db, sh, key, "vset")
}

// SetVector is Tx.SetVector as a change of its own.
func (db DB) SetVector(key []byte, v *Vector, exp int64) {
	tx := db.Begin()
	tx.SetVector(key, v, exp)
	tx.Commit()
}
