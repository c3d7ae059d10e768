package pubsub

import (
	"slices"
	"strings"
	"sync/atomic"
)

// Key-pattern subscriptions (Lux's KSUB): a subscriber holds glob patterns
// of keys, each in the database its connection had selected, and receives
// ["kmessage", pattern, key, operation] for every change of a matching key.
// The frames go through the same bounded pending buffer as pub/sub messages,
// so a slow subscriber is disconnected at its limit and a publisher never
// waits.

// keySub is one key pattern of a subscriber: its database and subscription
// order.
type keySub struct {
	db  int
	seq uint64
}

// keyPatterns are the key patterns of one database (the registry, guarded
// by the Hub's lock).
type keyPatterns struct {
	exact map[string]subSet // patterns without glob characters: the key equals them
	globs map[string]subSet
}

// keySnap is an immutable copy of the registry that publishers read without
// a lock: a key event writes no shared memory to find its subscribers.
type keySnap struct {
	dbs []*keyDB // by database number; nil: no pattern
}

func (k *keySnap) db(i int) *keyDB {
	if i < 0 || i >= len(k.dbs) {
		return nil
	}
	return k.dbs[i]
}

// keyDB is one database's patterns in a keySnap. A glob can only match keys
// that start with its literal prefix (the bytes before its first special
// character), so globs are grouped by prefix: a key is tried against the
// globs whose prefix it starts with, not against all of them (a thousand
// subscribers of "user:<id>:*" cost a few map lookups per event).
type keyDB struct {
	exact      map[string][]*Subscriber
	anyGlob    []keyGlob            // globs that start with a special character
	byPrefix   map[string][]keyGlob // the others, by literal prefix
	prefixLens []int                // the distinct prefix lengths, ascending
}

// forMatches calls fn for every pattern that matches key, with its
// subscribers.
func (kd *keyDB) forMatches(key []byte, fn func(pattern string, subs []*Subscriber)) {
	if subs := kd.exact[string(key)]; len(subs) > 0 {
		fn(string(key), subs)
	}
	for _, g := range kd.anyGlob {
		if matchStringBytes(g.pattern, key) {
			fn(g.pattern, g.subs)
		}
	}
	for _, l := range kd.prefixLens {
		if l > len(key) {
			break
		}
		for _, g := range kd.byPrefix[string(key[:l])] {
			if matchStringBytes(g.pattern, key) {
				fn(g.pattern, g.subs)
			}
		}
	}
}

// literalPrefix is the part of a glob before its first special character.
func literalPrefix(p string) string {
	if i := strings.IndexAny(p, "*?[\\"); i >= 0 {
		return p[:i]
	}
	return p
}

type keyGlob struct {
	pattern string
	subs    []*Subscriber
}

// keyHub is the Hub's key-pattern registry. Changes are made under the
// Hub's lock and published as a new snapshot (copy on write: a change
// copies one database's patterns).
type keyHub struct {
	reg  map[int]*keyPatterns
	snap atomic.Pointer[keySnap]
	// n counts key-pattern subscriptions of all subscribers: the one load a
	// key event costs while nobody subscribes.
	n atomic.Int64
	// onActive is called (under the Hub's lock) when n goes from 0 to 1
	// (true) and back to 0 (false).
	onActive func(active bool)
}

// republish replaces database db's part of the snapshot (Hub lock held).
func (k *keyHub) republish(db int) {
	next := &keySnap{}
	if old := k.snap.Load(); old != nil {
		next.dbs = append(next.dbs, old.dbs...)
	}
	for len(next.dbs) <= db {
		next.dbs = append(next.dbs, nil)
	}
	next.dbs[db] = nil
	if kp := k.reg[db]; kp != nil {
		kd := &keyDB{exact: make(map[string][]*Subscriber, len(kp.exact)), byPrefix: make(map[string][]keyGlob)}
		for p, set := range kp.exact {
			kd.exact[p] = members(set)
		}
		for p, set := range kp.globs {
			g := keyGlob{pattern: p, subs: members(set)}
			pre := literalPrefix(p)
			if pre == "" {
				kd.anyGlob = append(kd.anyGlob, g)
				continue
			}
			if _, ok := kd.byPrefix[pre]; !ok && !slices.Contains(kd.prefixLens, len(pre)) {
				kd.prefixLens = append(kd.prefixLens, len(pre))
			}
			kd.byPrefix[pre] = append(kd.byPrefix[pre], g)
		}
		slices.Sort(kd.prefixLens)
		next.dbs[db] = kd
	}
	k.snap.Store(next)
}

func members(set subSet) []*Subscriber {
	out := make([]*Subscriber, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	return out
}

// SetKeyActivity installs fn, called with true when the first key-pattern
// subscription is made and with false when the last one goes. It runs
// under the Hub's lock: it must not call the Hub. Install it before any
// subscription.
func (h *Hub) SetKeyActivity(fn func(active bool)) { h.keys.onActive = fn }

// KeySubscriptions returns the number of key-pattern subscriptions of all
// subscribers (one atomic load).
func (h *Hub) KeySubscriptions() int64 { return h.keys.n.Load() }

// isGlob reports whether a pattern has characters the matcher treats
// specially.
func isGlob(p string) bool { return strings.ContainsAny(p, "*?[\\") }

// KSubscribe subscribes s to the keys of database db that match pattern (see
// Match) and returns s's total number of subscriptions (channels, patterns
// and key patterns) afterwards. A pattern s already holds is not added again
// (it keeps its database). A closed subscriber is not subscribed.
func (h *Hub) KSubscribe(s *Subscriber, db int, pattern string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checkOwner(s)
	if !s.closed {
		if _, ok := s.keyPats[pattern]; !ok {
			s.seq++
			s.keyPats[pattern] = keySub{db: db, seq: s.seq}
			k := &h.keys
			if k.reg == nil {
				k.reg = make(map[int]*keyPatterns)
			}
			kp := k.reg[db]
			if kp == nil {
				kp = &keyPatterns{exact: make(map[string]subSet), globs: make(map[string]subSet)}
				k.reg[db] = kp
			}
			if isGlob(pattern) {
				addSub(kp.globs, pattern, s)
			} else {
				addSub(kp.exact, pattern, s)
			}
			k.republish(db)
			if k.n.Add(1) == 1 && k.onActive != nil {
				k.onActive(true)
			}
		}
	}
	return s.countLocked()
}

// KUnsubscribe removes s's key pattern (compared literally) and returns s's
// total number of subscriptions afterwards. Other subscribers of the same
// pattern keep theirs.
func (h *Hub) KUnsubscribe(s *Subscriber, pattern string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checkOwner(s)
	if ks, ok := s.keyPats[pattern]; ok {
		delete(s.keyPats, pattern)
		h.removeKeyPattern(s, ks.db, pattern)
	}
	return s.countLocked()
}

// removeKeyPattern drops s from one key pattern (h.mu held).
func (h *Hub) removeKeyPattern(s *Subscriber, db int, pattern string) {
	k := &h.keys
	if kp := k.reg[db]; kp != nil {
		if isGlob(pattern) {
			removeSub(kp.globs, pattern, s)
		} else {
			removeSub(kp.exact, pattern, s)
		}
		if len(kp.globs) == 0 && len(kp.exact) == 0 {
			delete(k.reg, db)
		}
	}
	k.republish(db)
	if k.n.Add(-1) == 0 && k.onActive != nil {
		k.onActive(false)
	}
}

// removeKeyPatterns drops every key pattern of s (h.mu held; Close).
func (h *Hub) removeKeyPatterns(s *Subscriber) {
	for p, ks := range s.keyPats {
		h.removeKeyPattern(s, ks.db, p)
	}
	clear(s.keyPats)
}

// KeyPatterns returns the key patterns s holds, in subscription order.
func (s *Subscriber) KeyPatterns() []string {
	s.hub.mu.RLock()
	defer s.hub.mu.RUnlock()
	m := make(map[string]uint64, len(s.keyPats))
	for p, ks := range s.keyPats {
		m[p] = ks.seq
	}
	return inOrder(m)
}

// KeyCount returns the number of key patterns s holds.
func (s *Subscriber) KeyCount() int {
	s.hub.mu.RLock()
	defer s.hub.mu.RUnlock()
	return len(s.keyPats)
}

// KeyMatch reports whether some key pattern of database db matches key.
func (h *Hub) KeyMatch(db int, key []byte) bool {
	snap := h.keys.snap.Load()
	if snap == nil {
		return false
	}
	kd := snap.db(db)
	if kd == nil {
		return false
	}
	if len(kd.exact[string(key)]) > 0 {
		return true
	}
	found := false
	kd.forMatches(key, func(string, []*Subscriber) { found = true })
	return found
}

// PublishKey delivers ["kmessage", pattern, key, op] to every subscriber of
// every key pattern of database db that matches key (db < 0: of every
// database), and returns the number of deliveries. Like Publish it never
// blocks on a subscriber, and it takes no lock: it reads the registry's
// current snapshot. The caller orders the events of one key (the server
// publishes under the key's shard lock).
func (h *Hub) PublishKey(db int, key []byte, op string) int {
	snap := h.keys.snap.Load()
	if snap == nil {
		return 0
	}
	if db >= 0 {
		return publishKeyIn(snap.db(db), key, op)
	}
	n := 0
	for _, kd := range snap.dbs {
		n += publishKeyIn(kd, key, op)
	}
	return n
}

func publishKeyIn(kd *keyDB, key []byte, op string) int {
	if kd == nil {
		return 0
	}
	n := 0
	var bp *[]byte
	deliver := func(pattern string, subs []*Subscriber) {
		if bp == nil {
			bp = framePool.Get().(*[]byte)
		}
		frame := appendKMessage((*bp)[:0], pattern, key, op)
		for _, s := range subs {
			s.Enqueue(frame)
		}
		*bp = frame[:0]
		n += len(subs)
	}
	kd.forMatches(key, deliver)
	if bp != nil && cap(*bp) <= maxSpareBuf {
		framePool.Put(bp)
	}
	return n
}

// matchStringBytes matches a string pattern against a []byte key
// case-sensitively without converting either side.
func matchStringBytes(pattern string, key []byte) bool {
	skipLongerMatches := false
	return matchImpl(pattern, 0, key, 0, false, &skipLongerMatches, 0)
}

// appendKMessage encodes the RESP2 "kmessage" push of a key subscriber.
func appendKMessage(b []byte, pattern string, key []byte, op string) []byte {
	b = append(b, "*4\r\n$8\r\nkmessage\r\n"...)
	b = appendBulk(b, pattern)
	b = appendBulk(b, key)
	return appendBulk(b, op)
}
