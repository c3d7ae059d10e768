package tables

// RowCounts returns how many rows the tables hold in all and how many of
// them are resident in memory (INFO's lux_tables_rows and
// lux_tables_rows_hot). It takes the engine's read lock and walks the
// resident rows, which the memory limit bounds.
func (db *DB) RowCounts() (hot, all int64) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	db.cmu.Lock()
	defer db.cmu.Unlock()
	for _, t := range db.all {
		if t.dropped {
			continue
		}
		all += int64(t.count)
		for _, b := range t.rows {
			if !b.dead {
				hot++
			}
		}
	}
	return hot, all
}
