package server

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/luxdb/lux-go/storage"
)

// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
// [AUTH password] [AUTH2 username password] [KEYS key ...], as Redis 7.0's
// migrateCommand outside a cluster: the keys are sent as RESTORE commands
// (RESTORE-ASKING is Redis's choice only in cluster mode) with their
// remaining TTL, after AUTH and SELECT, in one write; each key the target
// acknowledges is deleted here ("del" event) unless COPY. Unlike Redis no
// connection is cached between calls (INFO's migrate_cached_sockets stays
// 0): every MIGRATE dials, and so always sends SELECT. The command holds
// its keys' shards while it waits for the target, as Redis holds its whole
// event loop.

func init() {
	register(&Command{Name: "migrate", Arity: -6, Flags: FlagWrite, Keys: migrateKeys, Handler: cmdMigrate, Group: "generic", Summary: "Atomically transfers a key from one Redis instance to another."})
}

// migrateKeys is migrateGetKeys: the key argument, or the keys after KEYS
// when the key argument is empty.
func migrateKeys(args [][]byte) [][]byte {
	if len(args) < 6 {
		return nil
	}
	for i := 6; i < len(args); i++ {
		switch {
		case eqFold(args[i], "auth"):
			i++
		case eqFold(args[i], "auth2"):
			i += 2
		case eqFold(args[i], "keys"):
			if len(args[3]) == 0 {
				return args[i+1:]
			}
			return args[3:4]
		}
	}
	return args[3:4]
}

func cmdMigrate(c *Client, args [][]byte) {
	var copyKeys, replace bool
	var username, password []byte
	hasPassword := false
	keys := args[3:4]
	for j := 6; j < len(args); j++ {
		more := len(args) - 1 - j
		switch {
		case eqFold(args[j], "copy"):
			copyKeys = true
		case eqFold(args[j], "replace"):
			replace = true
		case eqFold(args[j], "auth"):
			if more == 0 {
				c.WriteError(msgSyntax)
				return
			}
			j++
			password, hasPassword = args[j], true
		case eqFold(args[j], "auth2"):
			if more < 2 {
				c.WriteError(msgSyntax)
				return
			}
			username, password, hasPassword = args[j+1], args[j+2], true
			j += 2
		case eqFold(args[j], "keys"):
			if len(args[3]) != 0 {
				c.WriteError("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string")
				return
			}
			keys = args[j+1:]
			j = len(args)
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	timeout, ok := parseInt(args[5])
	if !ok {
		c.WriteError(msgNotInt)
		return
	}
	dbid, ok := parseInt(args[4])
	if !ok {
		c.WriteError(msgNotInt)
		return
	}
	if timeout <= 0 {
		timeout = 1000
	}
	db := c.DB()
	type item struct {
		key []byte
		e   *storage.Entry
	}
	var items []item
	for _, k := range keys {
		if e := db.Lookup(k); e != nil {
			items = append(items, item{k, e})
		}
	}
	if len(items) == 0 {
		c.WriteRaw([]byte("+NOKEY\r\n"))
		return
	}
	// the commands for the target, built before connecting
	var cmd bytes.Buffer
	if hasPassword {
		if username != nil {
			writeCommand(&cmd, []byte("AUTH"), username, password)
		} else {
			writeCommand(&cmd, []byte("AUTH"), password)
		}
	}
	writeCommand(&cmd, []byte("SELECT"), strconv.AppendInt(nil, dbid, 10))
	sent := items[:0]
	for _, it := range items {
		ttl := int64(0)
		if exp := db.Expiry(it.key); exp != 0 {
			ttl = exp - storage.NowMs()
			if ttl < 0 {
				continue
			}
			if ttl < 1 {
				ttl = 1
			}
		}
		p, ok := encodeDumpPayload(it.e)
		if !ok {
			c.WriteError(msgDumpUnsupported)
			return
		}
		parts := [][]byte{[]byte("RESTORE"), it.key, strconv.AppendInt(nil, ttl, 10), p}
		if replace {
			parts = append(parts, []byte("REPLACE"))
		}
		writeCommand(&cmd, parts...)
		sent = append(sent, it)
	}
	d := time.Duration(timeout) * time.Millisecond
	// the port as Redis reads it (atoi): "abc" is port 0, which refuses
	addr := net.JoinHostPort(string(args[1]), strconv.Itoa(int(int32(cAtoi(args[2])))))
	var (
		lines    []string
		ioErr    string
		mayRetry = true
	)
	for {
		lines, ioErr = migrateExchange(addr, cmd.Bytes(), 1+len(sent)+b2i(hasPassword), d)
		// a retry only when nothing was answered and it was not a timeout
		if ioErr != "" && mayRetry && len(lines) == 0 && ioErr != "write timeout" && ioErr != "read timeout" {
			mayRetry = false
			continue
		}
		break
	}
	if ioErr == "connect" {
		c.WriteError("IOERR error or timeout connecting to the client")
		return
	}
	// replies: [AUTH] SELECT RESTORE...
	head := 1 + b2i(hasPassword)
	if len(lines) < head {
		c.WriteError(ioErrMsg(ioErr))
		return
	}
	var targetErr string
	for _, l := range lines[:head] {
		if targetErr == "" && len(l) > 0 && l[0] == '-' {
			targetErr = l[1:]
		}
	}
	var tx *storage.Tx
	for i, l := range lines[head:] {
		if targetErr != "" || (len(l) > 0 && l[0] == '-') {
			if targetErr == "" {
				targetErr = l[1:]
			}
			continue
		}
		if !copyKeys {
			if tx == nil {
				tx = db.Begin()
			}
			tx.Delete(sent[i].key)
		}
	}
	if tx != nil {
		tx.Commit()
	}
	switch {
	case targetErr != "":
		c.WriteError("ERR Target instance replied with error: " + targetErr)
	case len(lines) < head+len(sent):
		c.WriteError(ioErrMsg(ioErr))
	default:
		c.WriteOK()
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func ioErrMsg(kind string) string {
	if kind == "writing" || kind == "write timeout" {
		return "IOERR error or timeout writing to target instance"
	}
	return "IOERR error or timeout reading to target instance"
}

// writeCommand appends a RESP multibulk command.
func writeCommand(b *bytes.Buffer, parts ...[]byte) {
	b.WriteByte('*')
	b.WriteString(strconv.Itoa(len(parts)))
	b.WriteString("\r\n")
	for _, p := range parts {
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteString("\r\n")
		b.Write(p)
		b.WriteString("\r\n")
	}
}

// migrateExchange connects to addr, writes req and reads up to n reply
// lines, each within timeout d. It returns the lines read and, on failure,
// what failed: "connect", "writing", "reading", "write timeout" or "read
// timeout" (a deadline, after which Redis does not retry).
//
// Only a host that does not resolve fails as "connect": Redis connects
// without blocking (connBlockingConnect returns success for a connection
// still in progress, and one refused or timed out), so a refused or
// unreachable port, or a connection that does not complete in time, fails
// at its first write: "writing", or "write timeout".
func migrateExchange(addr string, req []byte, n int, d time.Duration) ([]string, string) {
	nc, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		var dnsErr *net.DNSError
		var ne net.Error
		switch {
		case errors.As(err, &dnsErr):
			return nil, "connect"
		case errors.As(err, &ne) && ne.Timeout():
			return nil, "write timeout"
		}
		return nil, "writing"
	}
	defer nc.Close()
	for pos := 0; pos < len(req); {
		end := min(pos+64<<10, len(req))
		nc.SetWriteDeadline(time.Now().Add(d))
		w, err := nc.Write(req[pos:end])
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, "write timeout"
			}
			return nil, "writing"
		}
		pos += w
	}
	rd := bufio.NewReader(nc)
	var lines []string
	for len(lines) < n {
		nc.SetReadDeadline(time.Now().Add(d))
		l, err := rd.ReadString('\n')
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && len(lines) == 0 {
				return lines, "read timeout"
			}
			return lines, "reading"
		}
		if len(l) >= 2 && l[len(l)-2] == '\r' {
			l = l[:len(l)-2]
		} else {
			l = l[:len(l)-1]
		}
		lines = append(lines, l)
	}
	return lines, ""
}
