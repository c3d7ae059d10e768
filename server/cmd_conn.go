package server

import (
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/luxdb/lux-go/storage"
	"github.com/tidwall/redcon"
)

func init() {
	const conn = FlagNoLock | FlagFast | FlagLoading | FlagStale
	register(
		// PING works before AUTH (health checks); Redis 7.0 refuses it (docs/COMPATIBILITY.md)
		&Command{Name: "ping", Arity: -1, Flags: conn | FlagSubscribeOK | FlagNoAuth, Handler: cmdPing, Group: "connection", Summary: "Returns the server's liveliness response."},
		&Command{Name: "echo", Arity: 2, Flags: conn, Handler: cmdEcho, Group: "connection", Summary: "Returns the given string."},
		&Command{Name: "quit", Arity: -1, Flags: conn | FlagNoAuth | FlagSubscribeOK | FlagNoMulti, Handler: cmdQuit, Group: "connection", Summary: "Closes the connection."},
		&Command{Name: "reset", Arity: 1, Flags: conn | FlagNoAuth | FlagSubscribeOK | FlagNoMulti | FlagNoScript, Handler: cmdReset, Group: "connection", Summary: "Resets the connection."},
		&Command{Name: "select", Arity: 2, Flags: conn, Handler: cmdSelect, Group: "connection", Summary: "Changes the selected database."},
		&Command{Name: "auth", Arity: -2, Flags: conn | FlagNoAuth | FlagNoScript, Handler: cmdAuth, Group: "connection", Summary: "Authenticates the connection."},
		&Command{Name: "hello", Arity: -1, Flags: conn | FlagNoAuth | FlagNoScript, Handler: cmdHello, Group: "connection", Summary: "Handshakes with the server."},
		&Command{Name: "client", Arity: -2, Flags: FlagNoLock | FlagAdmin | FlagNoScript | FlagLoading | FlagStale, Handler: cmdClient, Group: "connection", Summary: "A container for client connection commands."},
	)
}

func cmdPing(c *Client, args [][]byte) {
	if len(args) > 2 {
		c.WriteError(wrongArgsMsg("ping"))
		return
	}
	if c.resp == 2 && c.sub != nil && c.sub.Subscribed() {
		c.WriteArray(2)
		c.WriteBulkString("pong")
		if len(args) == 2 {
			c.WriteBulk(args[1])
		} else {
			c.WriteBulkString("")
		}
		return
	}
	if len(args) == 2 {
		c.WriteBulk(args[1])
		return
	}
	c.WriteRaw([]byte("+PONG\r\n"))
}

func cmdEcho(c *Client, args [][]byte) { c.WriteBulk(args[1]) }

func cmdQuit(c *Client, args [][]byte) {
	c.WriteOK()
	c.quit = true
	c.leaving.Store(true) // no longer a redirect target for invalidations
	c.srv.disableTracking(c)
}

func cmdReset(c *Client, args [][]byte) {
	c.setReplyMode(replyOn)
	c.resetMulti()
	c.unwatchAll()
	if c.sub != nil {
		c.srv.closeSubscriber(c.sub)
		c.sub = nil
		c.subscribed.Store(false)
	}
	c.db = 0
	c.name = ""
	c.noEvict, c.noTouch = false, false
	c.user.Store(c.srv.acl.def)
	c.authed = c.srv.defaultLoginOK()
	c.setProtocol(2)
	c.srv.disableTracking(c)
	c.srv.stopMonitor(c)
	c.WriteString("RESET")
}

func cmdSelect(c *Client, args [][]byte) {
	n, ok := parseInt(args[1])
	if !ok {
		c.WriteError(msgNotInt)
		return
	}
	if n < 0 || n >= storage.NumDBs {
		c.WriteError(msgDBIndex)
		return
	}
	c.db = int(n)
	c.WriteOK()
}

func cmdAuth(c *Client, args [][]byte) {
	if len(args) > 3 {
		c.WriteError(msgSyntax)
		return
	}
	if len(args) == 2 {
		if c.srv.acl.def.p().flags&userNoPass != 0 {
			c.WriteError(msgNoPassSet)
			return
		}
		if !c.authenticate([]byte("default"), args[1], args[0]) {
			c.WriteError(msgWrongPass)
			return
		}
	} else if !c.authenticate(args[1], args[2], args[0]) {
		c.WriteError(msgWrongPass)
		return
	}
	c.WriteOK()
}

func cmdHello(c *Client, args [][]byte) {
	i, proto := 1, 0
	if len(args) > 1 {
		v, ok := parseInt(args[1])
		if !ok {
			c.WriteError("ERR Protocol version is not an integer or out of range")
			return
		}
		if v != 2 && v != 3 {
			c.WriteError(msgNoProto)
			return
		}
		proto, i = int(v), 2
	}
	var name []byte
	setName := false
	for ; i < len(args); i++ {
		more := len(args) - i - 1
		switch {
		case eqFold(args[i], "auth") && more >= 2:
			if !c.authenticate(args[i+1], args[i+2], args[0]) {
				c.WriteError(msgWrongPass)
				return
			}
			i += 2
		case eqFold(args[i], "setname") && more >= 1:
			name, setName = args[i+1], true
			i++
		default:
			c.WriteError("ERR Syntax error in HELLO option '" + truncate(string(args[i]), 128) + "'")
			return
		}
	}
	if !c.authed {
		c.WriteError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if setName {
		if !validClientName(name) {
			c.WriteError(msgClientName)
			return
		}
		c.name = string(name)
	}
	if proto != 0 {
		c.setProtocol(proto)
	}
	c.WriteMap(7)
	c.WriteBulkString("server")
	c.WriteBulkString("redis")
	c.WriteBulkString("version")
	c.WriteBulkString(Version)
	c.WriteBulkString("proto")
	c.WriteInt(c.resp)
	c.WriteBulkString("id")
	c.WriteInt64(c.id)
	c.WriteBulkString("mode")
	c.WriteBulkString("standalone")
	c.WriteBulkString("role")
	c.WriteBulkString("master")
	c.WriteBulkString("modules")
	c.WriteArray(0)
}

const msgClientName = "ERR Client names cannot contain spaces, newlines or special characters."

func validClientName(b []byte) bool {
	for _, ch := range b {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

func init() {
	registerSubcommands("client",
		&subCommand{Name: "id", Arity: 2}, &subCommand{Name: "getname", Arity: 2},
		&subCommand{Name: "setname", Arity: 3}, &subCommand{Name: "info", Arity: 2},
		&subCommand{Name: "list", Arity: -2}, &subCommand{Name: "kill", Arity: -3},
		&subCommand{Name: "setinfo", Arity: 4}, &subCommand{Name: "no-evict", Arity: 3},
		&subCommand{Name: "no-touch", Arity: 3}, &subCommand{Name: "unblock", Arity: -3},
		&subCommand{Name: "reply", Arity: 3}, &subCommand{Name: "help", Arity: 2},
		&subCommand{Name: "tracking", Arity: -3}, &subCommand{Name: "caching", Arity: 3},
		&subCommand{Name: "getredir", Arity: 2}, &subCommand{Name: "trackinginfo", Arity: 2},
		&subCommand{Name: "pause", Arity: -3}, &subCommand{Name: "unpause", Arity: 2},
	)
}

func cmdClient(c *Client, args [][]byte) {
	if resolveSubcommand(c, args, "client") == nil {
		return
	}
	sub := strings.ToLower(string(args[1]))
	switch {
	case sub == "id" && len(args) == 2:
		c.WriteInt64(c.id)
	case sub == "getname" && len(args) == 2:
		if c.name == "" {
			c.WriteNull()
		} else {
			c.WriteBulkString(c.name)
		}
	case sub == "setname" && len(args) == 3:
		if !validClientName(args[2]) {
			c.WriteError(msgClientName)
			return
		}
		c.name = string(args[2])
		c.WriteOK()
	case sub == "info" && len(args) == 2:
		c.WriteVerbatim([]byte(c.clientInfo() + "\n"))
	case sub == "list":
		clientList(c, args)
	case sub == "tracking":
		clientTracking(c, args)
	case sub == "caching":
		clientCaching(c, args)
	case sub == "getredir":
		if c.track.on {
			c.WriteInt64(c.track.redirect)
		} else {
			c.WriteInt(-1)
		}
	case sub == "trackinginfo":
		clientTrackingInfo(c)
	case sub == "pause" && len(args) <= 4:
		clientPause(c, args)
	case sub == "unpause":
		c.srv.unpauseClients()
		c.WriteOK()
	case sub == "kill":
		clientKill(c, args)
	case sub == "setinfo" && len(args) == 4:
		attr := strings.ToLower(string(args[2]))
		v := string(args[3])
		if strings.ContainsAny(v, " \r\n") {
			c.WriteError("ERR " + strings.ToUpper(attr) + " cannot contain spaces, newlines or special characters.")
			return
		}
		switch attr {
		case "lib-name":
			c.libName = v
		case "lib-ver":
			c.libVer = v
		default:
			c.WriteError("ERR Unrecognized option '" + string(args[2]) + "'")
			return
		}
		c.WriteOK()
	case (sub == "no-evict" || sub == "no-touch") && len(args) == 3:
		on := eqFold(args[2], "on")
		if !on && !eqFold(args[2], "off") {
			c.WriteError(msgSyntax)
			return
		}
		if sub == "no-evict" {
			c.noEvict = on
		} else {
			c.noTouch = on
		}
		c.WriteOK()
	case sub == "unblock" && (len(args) == 3 || len(args) == 4):
		id, ok := parseInt(args[2])
		if !ok {
			c.WriteError(msgNotInt)
			return
		}
		withErr := false
		if len(args) == 4 {
			switch {
			case eqFold(args[3], "error"):
				withErr = true
			case eqFold(args[3], "timeout"):
			default:
				c.WriteError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
				return
			}
		}
		if c.srv.unblockClient(id, withErr) {
			c.WriteInt(1)
		} else {
			c.WriteInt(0)
		}
	case sub == "reply" && len(args) == 3:
		switch {
		case eqFold(args[2], "on"):
			c.setReplyMode(replyOn)
			c.WriteOK()
		case eqFold(args[2], "off"):
			c.setReplyMode(replyOff)
		case eqFold(args[2], "skip"):
			c.setReplyMode(replySkipNext)
		default:
			c.WriteError(msgSyntax)
		}
	case sub == "help" && len(args) == 2:
		c.WriteBulkStrings([]string{
			"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"ID", "    Return the ID of the current connection.",
			"INFO", "    Return information about the current client connection.",
			"GETNAME", "    Return the name of the current connection.",
			"SETNAME <name>", "    Assign the name <name> to the current connection.",
			"SETINFO <LIB-NAME|LIB-VER> <value>", "    Set client library name or version.",
			"KILL <ip:port> | <option> <value> [<option> <value> [...]]", "    Kill connections. Options: ID, ADDR, LADDR, TYPE, USER, SKIPME.",
			"LIST [TYPE (NORMAL|PUBSUB)] [ID <id> [<id> ...]]", "    Return information about client connections.",
			"UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client.",
			"REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
			"NO-EVICT (ON|OFF)", "    Accepted for compatibility.",
			"NO-TOUCH (ON|OFF)", "    Accepted for compatibility.",
			"HELP", "    Print this help.",
		})
	default:
		c.WriteError(unknownSubcommandMsg(string(args[1]), "CLIENT"))
	}
}

func (s *Server) snapshotClients() []*Client {
	s.clientsMu.Lock()
	out := make([]*Client, 0, len(s.clients))
	for _, cl := range s.clients {
		if !cl.killed.Load() { // killed: gone, as in Redis, while its socket closes
			out = append(out, cl)
		}
	}
	s.clientsMu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func clientList(c *Client, args [][]byte) {
	var typ string
	var ids map[int64]bool
	for i := 2; i < len(args); i++ {
		switch {
		case eqFold(args[i], "type") && i+1 < len(args):
			typ = strings.ToLower(string(args[i+1]))
			if typ != "normal" && typ != "pubsub" && typ != "master" && typ != "replica" && typ != "slave" {
				c.WriteError("ERR Unknown client type '" + string(args[i+1]) + "'")
				return
			}
			i++
		case eqFold(args[i], "id") && i+1 < len(args):
			ids = map[int64]bool{}
			for i++; i < len(args); i++ {
				id, ok := parseInt(args[i])
				if !ok {
					c.WriteError("ERR Invalid client ID")
					return
				}
				ids[id] = true
			}
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	var b strings.Builder
	for _, cl := range c.srv.snapshotClients() {
		if ids != nil && !ids[cl.id] {
			continue
		}
		isPub := cl.subscribed.Load()
		if (typ == "pubsub" && !isPub) || (typ == "normal" && isPub) || typ == "master" || typ == "replica" || typ == "slave" {
			continue
		}
		var line string
		if cl == c {
			line = cl.clientInfo()
		} else {
			line = cl.otherInfo()
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	c.WriteVerbatim([]byte(b.String()))
}

func clientKill(c *Client, args [][]byte) {
	s := c.srv
	if len(args) == 3 {
		addr := string(args[2])
		for _, cl := range s.snapshotClients() {
			if cl.conn.RemoteAddr().String() == addr {
				killClient(c, cl)
				c.WriteOK()
				return
			}
		}
		c.WriteError("ERR No such client")
		return
	}
	if len(args)%2 != 0 {
		c.WriteError(msgSyntax)
		return
	}
	var id int64
	var addr, laddr, typ, user string
	skipme := true
	for i := 2; i < len(args); i += 2 {
		v := string(args[i+1])
		switch {
		case eqFold(args[i], "id"):
			n, ok := parseInt(args[i+1])
			if !ok || n <= 0 {
				c.WriteError("ERR client-id should be greater than 0")
				return
			}
			id = n
		case eqFold(args[i], "addr"):
			addr = v
		case eqFold(args[i], "laddr"):
			laddr = v
		case eqFold(args[i], "type"):
			typ = strings.ToLower(v)
			if typ != "normal" && typ != "pubsub" && typ != "master" && typ != "replica" && typ != "slave" {
				c.WriteError("ERR Unknown client type '" + v + "'")
				return
			}
		case eqFold(args[i], "user"):
			s.acl.mu.Lock()
			u := s.acl.users[v]
			s.acl.mu.Unlock()
			if u == nil {
				c.WriteError("ERR No such user '" + v + "'")
				return
			}
			user = v
		case eqFold(args[i], "skipme"):
			switch {
			case eqFold(args[i+1], "yes"):
				skipme = true
			case eqFold(args[i+1], "no"):
				skipme = false
			default:
				c.WriteError(msgSyntax)
				return
			}
		default:
			c.WriteError(msgSyntax)
			return
		}
	}
	n := 0
	for _, cl := range s.snapshotClients() {
		if (id != 0 && cl.id != id) || (addr != "" && cl.conn.RemoteAddr().String() != addr) ||
			(laddr != "" && cl.conn.LocalAddr().String() != laddr) || (user != "" && user != cl.userName()) {
			continue
		}
		isPub := cl.subscribed.Load()
		if (typ == "pubsub" && !isPub) || (typ == "normal" && isPub) || typ == "master" || typ == "replica" || typ == "slave" {
			continue
		}
		if cl == c && skipme {
			continue
		}
		killClient(c, cl)
		n++
	}
	c.WriteInt(n)
}

// killClient closes a connection; killing oneself takes effect after the reply.
func killClient(self, victim *Client) {
	if victim == self {
		self.quit = true
		return
	}
	victim.closeConn()
}

// itoa is strconv.Itoa for int64.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// otherInfo renders another connection's line from the state it last
// published (after its last batch, or when it blocked), without waiting for
// it.
func (c *Client) otherInfo() string { return c.infoLine(c.publishedView()) }

// Reply modes of CLIENT REPLY.
const (
	replyOn = iota
	replyOff
	replySkipNext // skip the reply of the next command
	replySkipThis // skipping the current command's reply
)

// setReplyMode switches CLIENT REPLY modes; while replies are off the
// connection writes into discardWriter, which is never flushed anywhere.
func (c *Client) setReplyMode(m int) {
	if c.realWriter == nil {
		c.realWriter = c.Writer
	}
	c.replyMode = m
	if m == replyOn {
		c.Writer = c.realWriter
	} else {
		c.Writer = redcon.NewWriter(io.Discard)
	}
}
