package storage

// Rename is Tx.Rename as a change of its own.
func (db DB) Rename(src, dst []byte) bool {
	tx := db.Begin()
	ok := tx.Rename(src, dst)
	tx.Commit()
	return ok
}

// MoveTo is Tx.MoveTo as a change of its own.
func (db DB) MoveTo(key []byte, to DB) bool {
	tx := db.Begin()
	ok := tx.MoveTo(key, to)
	tx.Commit()
	return ok
}

// CopyTo is Tx.CopyTo as a change of its own.
func (db DB) CopyTo(src []byte, to DB, dst []byte) bool {
	tx := db.Begin()
	ok := tx.CopyTo(src, to, dst)
	tx.Commit()
	return ok
}
