package server

import (
	"sync"
	"time"

	"github.com/luxdb/lux-go/tables"
)

// Relational table commands (docs/TABLES.md). Tables are not keys: the
// commands lock no keyspace shard (FlagNoLock) but the table engine's own
// RWMutex for the whole command (reads share it, writes hold it alone), so a
// unique or foreign-key check and the write it guards never interleave with
// another client's command. Inside EXEC the transaction holds the engine's
// write lock (FlagTables; see tablesWriteLock), so handlers take no lock.

const (
	tablesWrite  = FlagNoLock | FlagWrite | FlagDenyOOM | FlagTables
	tablesShrink = FlagNoLock | FlagWrite | FlagTables // deletions: allowed over maxmemory
	tablesRead   = FlagNoLock | FlagReadOnly | FlagTables
)

func init() {
	register(
		&Command{Name: "tcreate", Arity: -3, Flags: tablesWrite, Handler: cmdTcreate, Group: "tables", Summary: "Creates a table with typed fields."},
		&Command{Name: "tinsert", Arity: -4, Flags: tablesWrite, Handler: cmdTinsert, Group: "tables", Summary: "Inserts a row and returns its id."},
		&Command{Name: "tget", Arity: 3, Flags: tablesRead | FlagFast, Handler: cmdTget, Group: "tables", Summary: "Returns a row's field/value pairs."},
		&Command{Name: "tquery", Arity: -2, Flags: tablesRead, Handler: cmdTquery, Group: "tables", Summary: "Returns the rows matching WHERE, sorted, limited and joined."},
		&Command{Name: "texplain", Arity: -2, Flags: tablesRead, Handler: cmdTexplain, Group: "tables", Summary: "Runs a TQUERY and describes its plan and the rows it examined."},
		&Command{Name: "tupdate", Arity: -5, Flags: tablesWrite, Handler: cmdTupdate, Group: "tables", Summary: "Sets fields of a row."},
		&Command{Name: "tdel", Arity: 3, Flags: tablesShrink, Handler: cmdTdel, Group: "tables", Summary: "Deletes a row no other row references."},
		&Command{Name: "tdrop", Arity: 2, Flags: tablesShrink, Handler: cmdTdrop, Group: "tables", Summary: "Deletes a table no other table references."},
		&Command{Name: "tcount", Arity: 2, Flags: tablesRead | FlagFast, Handler: cmdTcount, Group: "tables", Summary: "Returns the number of rows of a table."},
		&Command{Name: "tschema", Arity: 2, Flags: tablesRead, Handler: cmdTschema, Group: "tables", Summary: "Returns a table's field specs."},
		&Command{Name: "tlist", Arity: 1, Flags: tablesRead, Handler: cmdTlist, Group: "tables", Summary: "Returns the table names."},
		&Command{Name: "talter", Arity: 4, Flags: tablesWrite | FlagWaitsCommit, Handler: cmdTalter, Group: "tables", Summary: "Adds or drops a field of a table."},
	)
}

// tablesHandle is a server's table engine (Server.tablesH), opened on first
// use.
type tablesHandle struct {
	once sync.Once
	db   *tables.DB
}

func (s *Server) tablesHandle() *tablesHandle {
	h := &s.tablesH
	h.once.Do(func() {
		// loading runs in the background holding the engine's lock: the
		// server answers at once, table commands wait for the load
		start := time.Now()
		h.db = tables.OpenBackground(s.store, func(db *tables.DB, err error) {
			if err == nil && s.store.Persistent() {
				// (not "tables: ...", the prefix of what loading repaired)
				logf("loaded the tables in %s: %s", time.Since(start).Round(time.Millisecond), db)
			}
			for _, r := range db.Repairs() {
				logf("tables: %s", r)
			}
			if err != nil {
				logf("tables: loading failed, table commands will answer with the error: %v", err)
			}
		})
	})
	return h
}

// tables returns the server's table engine, opened on first use
// (server.New calls it so loading starts at start-up).
func (s *Server) tables() *tables.DB { return s.tablesHandle().db }

// tablesWriteLock takes the engine's write lock for a whole EXEC whose queue
// holds a FlagTables command; the queued table commands then take no lock.
func (s *Server) tablesWriteLock() (unlock func()) {
	db := s.tables()
	db.Lock()
	return db.Unlock
}

// flushTables removes every table (FLUSHDB, FLUSHALL). Inside an EXEC that
// holds the tables lock (its queue has a FlagTables command) it must not
// lock again.
func (s *Server) flushTables(c *Client) {
	h := s.tablesHandle()
	if !(c != nil && c.tablesHeld) {
		h.db.Lock()
		defer h.db.Unlock()
	}
	h.db.Flush() // whatever failed to load is gone from disk too
}

func queueHasTables(c *Client) bool {
	for _, q := range c.queue {
		if q.cmd.Flags&FlagTables != 0 {
			return true
		}
	}
	return false
}

// lockTables returns the engine with its lock taken for the command (none
// inside EXEC), or nil after writing the load error. The lock waits for a
// load still running.
func lockTables(c *Client, write bool) *tables.DB {
	db := c.srv.tablesHandle().db
	if !c.tablesHeld {
		if write {
			db.Lock()
		} else {
			db.RLock()
		}
	}
	if err := db.Err(); err != nil {
		unlockTables(c, db, write)
		c.WriteError("ERR tables failed to load: " + sanitizeErr(err.Error()))
		return nil
	}
	return db
}

func unlockTables(c *Client, db *tables.DB, write bool) {
	if c.tablesHeld {
		return
	}
	if write {
		db.Unlock()
	} else {
		db.RUnlock()
	}
}

// writeTablesResult writes err, or OK.
func writeTablesResult(c *Client, err error) {
	if err != nil {
		c.WriteError(err.Error())
		return
	}
	c.WriteOK()
}

func cmdTcreate(c *Client, args [][]byte) {
	db := lockTables(c, true)
	if db == nil {
		return
	}
	err := db.Create(args[1], args[2:])
	if err == nil {
		c.tableEvent(args[1])
	}
	unlockTables(c, db, true)
	writeTablesResult(c, err)
}

func cmdTinsert(c *Client, args [][]byte) {
	if len(args)%2 != 0 {
		c.WriteError(wrongArgsMsg("tinsert"))
		return
	}
	db := lockTables(c, true)
	if db == nil {
		return
	}
	id, err := db.Insert(args[1], args[2:])
	if err == nil {
		c.tableEvent(args[1])
	}
	unlockTables(c, db, true)
	if err != nil {
		c.WriteError(err.Error())
		return
	}
	c.WriteInt64(id)
}

func cmdTget(c *Client, args [][]byte) {
	db := lockTables(c, false)
	if db == nil {
		return
	}
	err := db.Get(args[1], args[2], c)
	unlockTables(c, db, false)
	if err != nil {
		c.WriteError(err.Error())
	}
}

func cmdTquery(c *Client, args [][]byte) {
	db := lockTables(c, false)
	if db == nil {
		return
	}
	err := db.Query(args[1:], c)
	unlockTables(c, db, false)
	if err != nil {
		c.WriteError(err.Error())
	}
}

func cmdTexplain(c *Client, args [][]byte) {
	db := lockTables(c, false)
	if db == nil {
		return
	}
	lines, err := db.Explain(args[1:])
	unlockTables(c, db, false)
	if err != nil {
		c.WriteError(err.Error())
		return
	}
	c.WriteBulkStrings(lines)
}

func cmdTupdate(c *Client, args [][]byte) {
	if len(args)%2 == 0 {
		c.WriteError(wrongArgsMsg("tupdate"))
		return
	}
	db := lockTables(c, true)
	if db == nil {
		return
	}
	err := db.Update(args[1], args[2], args[3:])
	if err == nil {
		c.tableEvent(args[1])
	}
	unlockTables(c, db, true)
	writeTablesResult(c, err)
}

func cmdTdel(c *Client, args [][]byte) {
	db := lockTables(c, true)
	if db == nil {
		return
	}
	err := db.Delete(args[1], args[2])
	if err == nil {
		c.tableEvent(args[1])
	}
	unlockTables(c, db, true)
	writeTablesResult(c, err)
}

func cmdTdrop(c *Client, args [][]byte) {
	db := lockTables(c, true)
	if db == nil {
		return
	}
	err := db.Drop(args[1])
	if err == nil {
		c.tableEvent(args[1])
	}
	unlockTables(c, db, true)
	writeTablesResult(c, err)
}

func cmdTcount(c *Client, args [][]byte) {
	db := lockTables(c, false)
	if db == nil {
		return
	}
	n, err := db.Count(args[1])
	unlockTables(c, db, false)
	if err != nil {
		c.WriteError(err.Error())
		return
	}
	c.WriteInt64(n)
}

func cmdTschema(c *Client, args [][]byte) {
	db := lockTables(c, false)
	if db == nil {
		return
	}
	specs, err := db.Schema(args[1])
	unlockTables(c, db, false)
	if err != nil {
		c.WriteError(err.Error())
		return
	}
	c.WriteBulkStrings(specs)
}

func cmdTlist(c *Client, args [][]byte) {
	db := lockTables(c, false)
	if db == nil {
		return
	}
	names := db.List()
	unlockTables(c, db, false)
	c.WriteBulkStrings(names)
}

func cmdTalter(c *Client, args [][]byte) {
	db := lockTables(c, true)
	if db == nil {
		return
	}
	err := db.Alter(args[1], args[2], args[3])
	if err == nil {
		c.tableEvent(args[1])
	}
	unlockTables(c, db, true)
	writeTablesResult(c, err)
}
