package storage

// The type indexes — the time series label index (tsindex.go) and the vector
// search index (vecindex.go) — follow the keys' values through these two
// calls, made by Tx wherever a value is replaced or removed with its type
// known (install, remove, expireCold, SetString over another type), and by
// DB.Flush. Going to the cold tier is neither: cold values stay indexed.

// valueGone is told that key's value, of type t, was deleted or replaced
// (the caller holds key's shard).
func (db DB) valueGone(sh *shard, key []byte, t Type) {
	switch t {
	case TypeTimeSeries:
		db.tsIndexDel(sh, key)
	case TypeVector:
		db.vecDel(key)
	}
}

// valueInstalled is told that e became key's value with deadline exp (the
// caller holds key's shard).
func (db DB) valueInstalled(sh *shard, key []byte, e *Entry, exp int64) {
	switch o := e.Object().(type) {
	case *TimeSeries:
		db.tsIndexPut(sh, key, o)
	case *Vector:
		db.vecPut(key, o, exp)
	}
}
