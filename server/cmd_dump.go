package server

import "github.com/luxdb/lux-go/storage"

// DUMP and RESTORE in Redis 7.0's serialization format (rdb_codec.go,
// rdb_encode.go), and MIGRATE, which moves keys to another instance with
// them (cmd_migrate.go).

func init() {
	register(
		&Command{Name: "dump", Arity: 2, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Handler: cmdDump, Group: "generic", Summary: "Returns a serialized representation of the value stored at a key."},
		&Command{Name: "restore", Arity: -4, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Handler: cmdRestore, Group: "generic", Summary: "Creates a key from the serialized representation of a value."},
	)
}

const (
	msgBusyKey         = "BUSYKEY Target key name already exists."
	msgDumpPayload     = "ERR DUMP payload version or checksum are wrong"
	msgDumpUnsupported = "ERR DUMP is not supported for values of this type"
)

func cmdDump(c *Client, args [][]byte) {
	e := c.DB().Lookup(args[1])
	if e == nil {
		c.WriteNull()
		return
	}
	p, ok := encodeDumpPayload(e)
	if !ok {
		c.WriteError(msgDumpUnsupported)
		return
	}
	c.WriteBulk(p)
}

// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
// [FREQ frequency], with restoreCommand's checks in its order: options, the
// key's existence, the TTL, the payload's footer, the payload.
func cmdRestore(c *Client, args [][]byte) {
	var replace, absttl bool
	idle, freq := int64(-1), int64(-1)
	for j := 4; j < len(args); j++ {
		more := len(args) - j - 1
		switch {
		case eqFold(args[j], "replace"):
			replace = true
		case eqFold(args[j], "absttl"):
			absttl = true
		case eqFold(args[j], "idletime") && more >= 1 && freq == -1:
			v, ok := parseInt(args[j+1])
			if !ok {
				c.WriteError(msgNotInt)
				return
			}
			if v < 0 {
				c.WriteError("ERR Invalid IDLETIME value, must be >= 0")
				return
			}
			idle = v
			j++
		case eqFold(args[j], "freq") && more >= 1 && idle == -1:
			v, ok := parseInt(args[j+1])
			if !ok {
				c.WriteError(msgNotInt)
				return
			}
			if v < 0 || v > 255 {
				c.WriteError("ERR Invalid FREQ value, must be >= 0 and <= 255")
				return
			}
			freq = v
			j++
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	key := args[1]
	db := c.DB()
	if !replace && db.LookupWrite(key) != nil {
		c.WriteError(msgBusyKey)
		return
	}
	ttl, ok := parseInt(args[2])
	if !ok {
		c.WriteError(msgNotInt)
		return
	}
	if ttl < 0 {
		c.WriteError("ERR Invalid TTL value, must be >= 0")
		return
	}
	if !verifyDumpPayload(args[3]) {
		c.WriteError(msgDumpPayload)
		return
	}
	v, err := decodeDumpPayload(args[3])
	if err != nil {
		c.WriteError(errBadData.Error())
		return
	}
	obj, err := v.object()
	if err != nil {
		c.WriteError(errBadData.Error())
		return
	}
	tx := db.Begin()
	defer tx.Commit()
	if ttl != 0 && !absttl {
		ttl += storage.NowMs() // wraps like Redis's long long addition
	}
	if ttl != 0 && ttl <= storage.NowMs() {
		// already expired: the key is only deleted (REPLACE), as Redis does
		if replace {
			tx.Delete(key)
		}
		c.WriteOK()
		return
	}
	e := tx.Restore(key, v.str, obj, ttl, "restore")
	if st := c.srv.store.Policy(); st == storage.PolicyAllKeysLFU || st == storage.PolicyVolatileLFU {
		if freq >= 0 {
			e.SetFreq(uint8(freq))
		}
	} else if idle >= 0 {
		e.SetIdle(idle)
	}
	c.WriteOK()
}

// object builds the storage value of a decoded payload (nil for a string),
// refusing duplicate members or fields. Encodings follow rdbLoadObject: a
// compact payload stays compact unless it has too many entries, others are
// fitted to their contents.
func (v *dumpValue) object() (storage.Object, error) {
	switch v.kind {
	case dumpString:
		return nil, nil
	case dumpList:
		l := storage.NewList()
		for _, el := range v.elems {
			l.PushRight(el)
		}
		return l, nil
	case dumpSet:
		s := storage.NewSet()
		for _, m := range v.elems {
			if !s.Add(m) {
				return nil, errBadData
			}
		}
		return s, nil
	case dumpHash:
		h := storage.NewHash()
		for i := 0; i+1 < len(v.elems); i += 2 {
			if !h.Set(v.elems[i], v.elems[i+1]) {
				return nil, errBadData
			}
		}
		return h, nil
	case dumpZSet:
		z := storage.NewZSet()
		for i, m := range v.elems {
			if _, dup := z.Score(m); dup {
				return nil, errBadData
			}
			z.Set(m, v.scores[i])
		}
		if !v.listpack {
			z.FitEncoding()
		}
		return z, nil
	case dumpStream:
		return v.stream, nil
	}
	return nil, errBadData
}
