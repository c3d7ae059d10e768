package tables

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/luxdb/lux-go/storage"
)

// load reads what every stored table needs in memory: its schema and its
// state (last id, counts of rows and of each single-field index's entries) —
// two keys per table, found with seeks, whatever the number of rows.
// Rows and index entries stay in the store and are read on access
// (cache.go, stored.go).
//
// Indexes are not checked against the rows: every command's rows, index
// entries and counts are written in one crash-atomic batch, so they agree
// after any crash; damage (a row or an entry that does not decode) is the
// error reply of the command that reads it. A table stored before counts
// were (an older data directory) is counted once here and its counts
// written.
func (db *DB) load() error {
	if err := db.store.TableWaitCommitted(db.store.LastSeq()); err != nil {
		return err
	}
	it, err := db.store.TableIter([]byte{kNextTable}, []byte{kTable + 1})
	if err != nil {
		return err
	}
	defer it.Close()
	if it.SeekGE([]byte{kNextTable}) {
		if k := it.Key(); len(k) == 1 && k[0] == kNextTable {
			v := it.Value()
			if len(v) == 8 {
				n := binary.BigEndian.Uint64(v)
				if n > maxTableID {
					return fmt.Errorf("tables: next table id %d out of range", n)
				}
				if uint32(n) > db.nextTid {
					db.nextTid = uint32(n)
				}
			}
		}
	}
	var recount []*table
	ok := it.SeekGE([]byte{kTable})
	for n := 0; ok; n++ {
		if n&255 == 255 && db.stop.Load() {
			return errors.New("tables: loading stopped")
		}
		k := it.Key()
		if len(k) < 6 {
			db.delPrefix(append([]byte(nil), k...))
			db.repairs = append(db.repairs, fmt.Sprintf("removed a stored key no table owns (%q)", k))
			ok = it.Next()
			continue
		}
		tid := binary.BigEndian.Uint32(k[1:5])
		if tid >= maxTableID {
			return fmt.Errorf("tables: table id %d out of range", tid)
		}
		if tid >= db.nextTid {
			db.nextTid = tid + 1
		}
		if k[5] != kSchema {
			// keys of a table without a schema: leftovers
			db.delPrefix(tablePrefix(nil, tid))
			db.repairs = append(db.repairs, fmt.Sprintf("removed the stored keys of table id %d, which has no schema", tid))
			ok = it.SeekGE(tablePrefix(nil, tid+1))
			continue
		}
		t, err := decodeSchema(db, tid, string(it.Value()))
		if err != nil {
			return fmt.Errorf("tables: table id %d: %w", tid, err)
		}
		if db.tables[t.name] != nil {
			return fmt.Errorf("tables: table %q stored twice", t.name)
		}
		db.tables[t.name] = t
		db.register(t)
		sk := stateKey(nil, tid)
		if it.SeekGE(sk) && string(it.Key()) == string(sk) {
			v := it.Value()
			if len(v) < 8 {
				return fmt.Errorf("tables: table %q: corrupt id sequence", t.name)
			}
			if err := t.setSeq(binary.BigEndian.Uint64(v)); err != nil {
				return err
			}
			if !t.decodeCounts(v[8:]) {
				return fmt.Errorf("tables: table %q: corrupt counts", t.name)
			}
		} else if err := it.Err(); err != nil {
			return err
		} else if err := db.loadOldState(it, t, &recount); err != nil {
			return err
		}
		ok = it.SeekGE(tablePrefix(nil, tid+1))
	}
	if err := it.Err(); err != nil {
		return err
	}
	for _, t := range recount {
		if err := db.recount(t); err != nil {
			return err
		}
		db.repairs = append(db.repairs, fmt.Sprintf("counted the rows of table %s (%d), stored before row counts were", t.name, t.count))
	}
	db.commit()
	return nil
}

// setSeq sets t's last id from its stored value.
func (t *table) setSeq(v uint64) error {
	if v > uint64(maxRowID) {
		return fmt.Errorf("tables: table %q: corrupt id sequence", t.name)
	}
	t.seq = int64(v)
	return nil
}

// loadOldState reads the last id and the counts of a table stored before
// the state key (keys.go): the last id at 0x02, the counts at 0x05 (or
// none: the table is added to recount). Both move to the state key, in the
// batch load commits.
func (db *DB) loadOldState(it *storage.TableIterator, t *table, recount *[]*table) error {
	sk := seqKey(nil, t.tid)
	if it.SeekGE(sk) && string(it.Key()) == string(sk) {
		v := it.Value()
		if len(v) != 8 {
			return fmt.Errorf("tables: table %q: corrupt id sequence", t.name)
		}
		if err := t.setSeq(binary.BigEndian.Uint64(v)); err != nil {
			return err
		}
		db.delKey(sk)
	} else if err := it.Err(); err != nil {
		return err
	}
	ck := countKey(nil, t.tid)
	if it.SeekGE(ck) && string(it.Key()) == string(ck) {
		if !t.decodeCounts(it.Value()) {
			return fmt.Errorf("tables: table %q: corrupt counts", t.name)
		}
		db.delKey(ck)
		db.putState(t)
		return nil
	} else if err := it.Err(); err != nil {
		return err
	}
	*recount = append(*recount, t) // recount writes the state
	return nil
}

// appendCounts appends t's count record to dst.
func (t *table) appendCounts(dst []byte) []byte {
	dst = appendUvarint(dst, uint64(t.count))
	for _, f := range t.fields {
		if f.idx != nil {
			dst = appendUvarint(dst, uint64(f.fid))
			dst = appendUvarint(dst, uint64(f.idx.len()))
		}
	}
	return dst
}

// decodeCounts sets t's counts from their stored record.
func (t *table) decodeCounts(v []byte) bool {
	s := unsafeString(v)
	n, i, ok := readUvarint(s, 0)
	if !ok || n > uint64(maxRowID) {
		return false
	}
	t.count = int(n)
	for i < len(s) {
		fid, j, ok := readUvarint(s, i)
		if !ok {
			return false
		}
		c, j, ok := readUvarint(s, j)
		if !ok || c > uint64(maxRowID) {
			return false
		}
		i = j
		if f := t.fieldOf(uint32(fid)); f != nil {
			if x, ok := f.idx.(*storedSingle); ok {
				x.n = int(c)
			}
		}
	}
	return true
}

// recount counts t's rows and single-field index entries from the store
// (their keys: nothing is decoded) and records them (a table stored before
// counts were).
func (db *DB) recount(t *table) error {
	n, err := db.countKeys(rowKey(nil, t.tid, 1), rowKey(nil, t.tid, t.seq+1))
	if err != nil {
		return err
	}
	t.count = n
	for _, f := range t.fields {
		if x, ok := f.idx.(*storedSingle); ok {
			if x.n, err = db.countKeys(x.prefix, prefixEnd(x.prefix)); err != nil {
				return err
			}
		}
	}
	db.putState(t)
	return nil
}

// countKeys counts the stored table keys in [lower, upper).
func (db *DB) countKeys(lower, upper []byte) (int, error) {
	it, err := db.store.TableIter(lower, upper)
	if err != nil {
		return 0, err
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n, it.Close()
}
