package storage

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// A vector's meta payload reads back bit-exact (−0, subnormals, the float32
// extremes) with its metadata byte for byte, present-but-empty included.
func TestVectorPayloadRoundTrip(t *testing.T) {
	for _, v := range []*Vector{
		{Comps: []float32{1}},
		{Comps: []float32{float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32, 0.1}, Meta: []byte("m\x00\xff"), HasMeta: true},
		{Comps: make([]float32, MaxVectorDims), Meta: []byte{}, HasMeta: true},
	} {
		got, err := decodeVector(v.MetaPayload())
		require.NoError(t, err)
		require.Equal(t, len(v.Comps), len(got.Comps))
		for i := range v.Comps {
			require.Equal(t, math.Float32bits(v.Comps[i]), math.Float32bits(got.Comps[i]))
		}
		require.Equal(t, v.HasMeta, got.HasMeta)
		require.Equal(t, string(v.Meta), string(got.Meta))
		c := v.Clone().(*Vector)
		require.Equal(t, v.MetaPayload(), c.MetaPayload())
	}
	for _, bad := range [][]byte{nil, {0}, {1}, {2, 0, 1, 2, 3, 4}, {1, 0, 1, 2, 3, 4, 5}} {
		_, err := decodeVector(bad)
		require.Error(t, err, "%v", bad)
	}
}

// FuzzDecodeVector: any payload decodes or is refused, never panics, and a
// decoded vector encodes back to a payload that decodes to the same vector.
func FuzzDecodeVector(f *testing.F) {
	f.Add((&Vector{Comps: []float32{1, 2}, Meta: []byte("x"), HasMeta: true}).MetaPayload())
	f.Add([]byte{0x80, 0x80, 0x02, 0})
	f.Fuzz(func(t *testing.T, p []byte) {
		v, err := decodeVector(p)
		if err != nil {
			return
		}
		w, err := decodeVector(v.MetaPayload())
		require.NoError(t, err)
		require.Equal(t, v.MetaPayload(), w.MetaPayload())
	})
}
