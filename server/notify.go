package server

import (
	"strconv"
	"strings"

	"github.com/luxdb/lux-go/storage"
)

// Keyspace notifications (Redis's notify-keyspace-events): every key event
// from the store is published to __keyspace@<db>__:<key> (message: the event
// name) and/or __keyevent@<db>__:<event> (message: the key), filtered by the
// configured classes.

// Notification classes, as Redis's flag letters.
const (
	notifyKeyspace = 1 << iota // K
	notifyKeyevent             // E
	notifyGeneric              // g
	notifyString               // $
	notifyList                 // l
	notifySet                  // s
	notifyHash                 // h
	notifyZSet                 // z
	notifyExpired              // x
	notifyEvicted              // e
	notifyStream               // t
	notifyKeyMiss              // m
	notifyNew                  // n
	notifyModule               // d: accepted for compatibility, no module events exist
)

// notifyAll is 'A': Redis 7.0's NOTIFY_ALL, which includes d but not m and n.
const notifyAll = notifyGeneric | notifyString | notifyList | notifySet | notifyHash | notifyZSet | notifyExpired | notifyEvicted | notifyStream | notifyModule

var notifyLetters = []struct {
	ch   byte
	flag int
}{
	{'g', notifyGeneric}, {'$', notifyString}, {'l', notifyList}, {'s', notifySet},
	{'h', notifyHash}, {'z', notifyZSet}, {'x', notifyExpired}, {'e', notifyEvicted},
	{'t', notifyStream}, {'d', notifyModule}, {'n', notifyNew}, {'K', notifyKeyspace}, {'E', notifyKeyevent},
	{'m', notifyKeyMiss},
}

// parseNotifyFlags parses a notify-keyspace-events value; ok is false on an
// unknown letter.
func parseNotifyFlags(s string) (int, bool) {
	f := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 'A' {
			f |= notifyAll
			continue
		}
		found := false
		for _, l := range notifyLetters {
			if l.ch == s[i] {
				f |= l.flag
				found = true
				break
			}
		}
		if !found {
			return 0, false
		}
	}
	return f, true
}

// formatNotifyFlags renders flags the way CONFIG GET shows them.
func formatNotifyFlags(f int) string {
	var b strings.Builder
	if f&notifyAll == notifyAll {
		b.WriteByte('A')
	} else {
		for _, l := range notifyLetters[:11] {
			if f&l.flag != 0 {
				b.WriteByte(l.ch)
			}
		}
	}
	for _, l := range notifyLetters[11:] {
		if f&l.flag != 0 {
			b.WriteByte(l.ch)
		}
	}
	return b.String()
}

// eventClass maps a store event name to its notification class.
func eventClass(name string) int {
	switch name {
	case "expired":
		return notifyExpired
	case "evicted":
		return notifyEvicted
	case "set", "setrange", "incrby", "incrbyfloat", "append", "pfadd":
		return notifyString
	case "pfcount", "pfdebug":
		return 0 // HLL changes Redis does not notify (cmd_hll.go)
	case "new":
		return notifyNew
	case "keymiss":
		return notifyKeyMiss
	case "del", "expire", "persist", "rename_from", "rename_to", "copy_to", "move_from", "move_to", "restore":
		return notifyGeneric
	}
	switch name[0] {
	case 'l', 'r', 'b':
		return notifyList
	case 'h':
		return notifyHash
	case 's':
		return notifySet
	case 'z':
		return notifyZSet
	case 'x':
		return notifyStream
	}
	return notifyGeneric
}

// notifyKeyspaceEvent publishes a key event per notify-keyspace-events (a key
// event listener New adds). It runs
// under the key's shard lock; publishing never blocks (bounded queues).
func (s *Server) notifyKeyspaceEvent(ev storage.Event) {
	f := int(s.notifyFlags.Load())
	if f&(notifyKeyspace|notifyKeyevent) == 0 || f&eventClass(ev.Name) == 0 {
		return
	}
	db := strconv.Itoa(ev.DB)
	if f&notifyKeyspace != 0 {
		s.hub.Publish("__keyspace@"+db+"__:"+string(ev.Key), []byte(ev.Name))
	}
	if f&notifyKeyevent != 0 {
		s.hub.Publish("__keyevent@"+db+"__:"+ev.Name, ev.Key)
	}
}

// notifyConfigParam is the CONFIG parameter notify-keyspace-events.
func notifyConfigParam(s *Server) *configParam {
	return &configParam{
		get: func() string { return formatNotifyFlags(int(s.notifyFlags.Load())) },
		set: func(v string) string {
			f, ok := parseNotifyFlags(v)
			if !ok {
				return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
			}
			s.notifyFlags.Store(int64(f))
			return ""
		},
	}
}
