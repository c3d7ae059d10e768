package server

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"

	"github.com/luxdb/lux-go/storage"
)

// DEBUG DIGEST and DEBUG DIGEST-VALUE, as Redis 7.0's debug.c: SHA1 digests
// that ignore the order of unordered elements (xor) and keep the order of
// ordered ones (mix), so two datasets with the same content have the same
// digest. Redis's values give Redis's digests; Lux's own types (time
// series, vectors) get type numbers of their own.

// digest20 is a running 20-byte digest.
type digest20 [20]byte

// xor adds SHA1(b) to d regardless of order (debug.c's xorDigest).
func (d *digest20) xor(b []byte) {
	h := sha1.Sum(b)
	for i := range d {
		d[i] ^= h[i]
	}
}

// mix adds b to d in order: d = SHA1(d xor SHA1(b)) (debug.c's mixDigest).
func (d *digest20) mix(b []byte) {
	d.xor(b)
	*d = sha1.Sum(d[:])
}

// digestType is the object type debug.c mixes in first (OBJ_STRING = 0, ...).
func digestType(t storage.Type) uint32 {
	switch t {
	case storage.TypeString:
		return 0
	case storage.TypeList:
		return 1
	case storage.TypeSet:
		return 2
	case storage.TypeZSet:
		return 3
	case storage.TypeHash:
		return 4
	case storage.TypeStream:
		return 6
	}
	return 100 + uint32(t) // Lux's own types
}

// digestG formats a score as C's "%.17g".
func digestG(f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return []byte("inf")
	case math.IsInf(f, -1):
		return []byte("-inf")
	}
	return strconv.AppendFloat(nil, f, 'g', 17, 64)
}

// digestValue mixes e's value into d (xorObjectDigest): its type, its
// content, and "!!expire!!" when it has a deadline.
func digestValue(d *digest20, e *storage.Entry, expires bool) {
	var aux [4]byte
	binary.BigEndian.PutUint32(aux[:], digestType(e.Type))
	d.mix(aux[:])
	pair := func(a, b []byte) {
		var ed digest20
		ed.mix(a)
		ed.mix(b)
		d.xor(ed[:])
	}
	switch o := e.Object().(type) {
	case nil:
		d.mix(e.Bytes())
	case *storage.List:
		o.Range(0, o.Len(), func(_ int, v string) bool { d.mix([]byte(v)); return true })
	case *storage.Set:
		o.ForEach(func(m []byte) bool { d.xor(m); return true })
	case *storage.ZSet:
		o.ForEach(func(m []byte, score float64) bool { pair(m, digestG(score)); return true })
	case *storage.Hash:
		o.ForEach(func(f, v []byte) bool { pair(f, v); return true })
	case *storage.Stream:
		// entries only (Redis leaves the groups out): "ms.seq", then each field and value
		for _, x := range o.Entries() {
			d.mix([]byte(strconv.FormatUint(x.ID.Ms, 10) + "." + strconv.FormatUint(x.ID.Seq, 10)))
			for _, f := range x.Fields {
				d.mix([]byte(f))
			}
		}
	case *storage.TimeSeries:
		d.mix(o.MetaPayload())
		o.Range(math.MinInt64, math.MaxInt64, func(x storage.Sample) bool {
			d.mix(strconv.AppendInt(nil, x.TS, 10))
			d.mix(digestG(x.Val))
			return true
		})
	default:
		d.mix(o.MetaPayload())
	}
	if expires {
		d.xor([]byte("!!expire!!"))
	}
}

// debugDigestValue is DEBUG DIGEST-VALUE: one digest per key (zeros for a
// missing one); the keys are locked (debugKeys).
func debugDigestValue(c *Client, keys [][]byte) {
	db := c.DB()
	c.WriteArray(len(keys))
	for _, k := range keys {
		var d digest20
		if e := db.Peek(k); e != nil {
			digestValue(&d, e, db.Expiry(k) > 0)
		}
		c.WriteString(hex.EncodeToString(d[:]))
	}
}

// debugDigest is DEBUG DIGEST: per non-empty database its number mixed
// in, then the xor of every key's digest (the key mixed with its value's).
// Each database is read under its own lock.
func debugDigest(c *Client) {
	s := c.srv
	var final digest20
	for i := 0; i < storage.NumDBs; i++ {
		var ls storage.LockSet
		ls.AddDB(i)
		s.store.Lock(&ls)
		db := s.store.DB(i)
		var keys [][]byte
		err := db.Keys(func(k []byte) { keys = append(keys, append([]byte(nil), k...)) })
		if err == nil && len(keys) > 0 {
			var aux [4]byte
			binary.BigEndian.PutUint32(aux[:], uint32(i))
			final.mix(aux[:])
			for _, k := range keys {
				e := db.Peek(k)
				if e == nil {
					continue
				}
				var d digest20
				d.mix(k)
				digestValue(&d, e, db.Expiry(k) > 0)
				final.xor(d[:])
			}
		}
		s.store.Unlock(&ls)
		if err != nil {
			c.WriteError("ERR " + err.Error())
			return
		}
	}
	c.WriteString(hex.EncodeToString(final[:]))
}
