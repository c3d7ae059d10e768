package server

import (
	"github.com/luxdb/lux-go/storage"
)

func init() {
	register(
		&Command{Name: "get", Arity: 2, Flags: FlagReadOnly | FlagFast, FirstKey: 1, LastKey: 1, Handler: cmdGet, Group: "string", Summary: "Returns the string value of a key."},
		&Command{Name: "set", Arity: -3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Handler: cmdSet, Group: "string", Summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."},
	)
}

// getString returns a string key's value; ok is false (and the reply written)
// when the key holds another type.
func getString(c *Client, key []byte) (e *storage.Entry, ok bool) {
	e = c.DB().Lookup(key)
	if e != nil && e.Type != storage.TypeString {
		c.WriteError(msgWrongType)
		return nil, false
	}
	return e, true
}

func cmdGet(c *Client, args [][]byte) {
	e, ok := getString(c, args[1])
	if !ok {
		return
	}
	if e == nil {
		c.WriteNull()
		return
	}
	c.WriteBulk(e.Str)
}

// setOpts are SET's options (also used by GETEX's expiry part).
type setOpts struct {
	nx, xx, get, keepTTL bool
	exp                  int64 // absolute unix ms, 0 = none
}

// parseExpiry parses EX/PX/EXAT/PXAT value into an absolute unix-ms deadline.
func parseExpiry(opt, val []byte, cmd string) (int64, string) {
	n, ok := parseInt(val)
	if !ok {
		return 0, msgNotInt
	}
	if n <= 0 {
		return 0, invalidExpireMsg(cmd)
	}
	now := storage.NowMs()
	var exp int64
	switch {
	case eqFold(opt, "ex"):
		if n > storage.MaxDeadline/1000 {
			return 0, invalidExpireMsg(cmd)
		}
		exp = now + n*1000
	case eqFold(opt, "px"):
		exp = now + n
	case eqFold(opt, "exat"):
		if n > storage.MaxDeadline/1000 {
			return 0, invalidExpireMsg(cmd)
		}
		exp = n * 1000
	default: // pxat
		exp = n
	}
	if exp > storage.MaxDeadline || exp <= 0 {
		return 0, invalidExpireMsg(cmd)
	}
	return exp, ""
}

func parseSetOpts(args [][]byte) (setOpts, string) {
	var o setOpts
	hasExp := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case eqFold(a, "nx") && !o.xx:
			o.nx = true
		case eqFold(a, "xx") && !o.nx:
			o.xx = true
		case eqFold(a, "get"):
			o.get = true
		case eqFold(a, "keepttl") && !hasExp:
			o.keepTTL = true
		case (eqFold(a, "ex") || eqFold(a, "px") || eqFold(a, "exat") || eqFold(a, "pxat")) && !hasExp && !o.keepTTL && i+1 < len(args):
			exp, msg := parseExpiry(a, args[i+1], "set")
			if msg != "" {
				return o, msg
			}
			o.exp, hasExp = exp, true
			i++
		default:
			return o, msgSyntax
		}
	}
	return o, ""
}

func cmdSet(c *Client, args [][]byte) {
	o, msg := parseSetOpts(args[3:])
	if msg != "" {
		c.WriteError(msg)
		return
	}
	db := c.DB()
	key := args[1]
	e := db.LookupWrite(key)
	if o.get && e != nil && e.Type != storage.TypeString {
		c.WriteError(msgWrongType)
		return
	}
	if (o.nx && e != nil) || (o.xx && e == nil) {
		if o.get {
			writeOldValue(c, e)
		} else {
			c.WriteNull()
		}
		return
	}
	if o.get {
		writeOldValue(c, e) // written before the value is replaced
	}
	db.SetString(key, args[2], o.exp, o.keepTTL)
	if !o.get {
		c.WriteOK()
	}
}

func writeOldValue(c *Client, e *storage.Entry) {
	if e == nil {
		c.WriteNull()
	} else {
		c.WriteBulk(e.Str)
	}
}
