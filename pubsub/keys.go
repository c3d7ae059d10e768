package pubsub

import (
	"strings"
	"sync"
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

// keyPatterns are the key patterns of one database.
type keyPatterns struct {
	exact map[string]subSet // patterns without glob characters: the key equals them
	globs map[string]subSet
}

// keyHub is the Hub's key-pattern registry. Publishers take mu in read mode;
// it is separate from the Hub's channel lock so key events and PUBLISH do
// not contend.
type keyHub struct {
	mu  sync.RWMutex
	dbs map[int]*keyPatterns
	// n counts key-pattern subscriptions of all subscribers: the one load a
	// key event costs while nobody subscribes.
	n atomic.Int64
	// onActive is called (under the Hub's lock) when n goes from 0 to 1
	// (true) and back to 0 (false).
	onActive func(active bool)
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
			k.mu.Lock()
			if k.dbs == nil {
				k.dbs = make(map[int]*keyPatterns)
			}
			kp := k.dbs[db]
			if kp == nil {
				kp = &keyPatterns{exact: make(map[string]subSet), globs: make(map[string]subSet)}
				k.dbs[db] = kp
			}
			if isGlob(pattern) {
				addSub(kp.globs, pattern, s)
			} else {
				addSub(kp.exact, pattern, s)
			}
			k.mu.Unlock()
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
	k.mu.Lock()
	if kp := k.dbs[db]; kp != nil {
		if isGlob(pattern) {
			removeSub(kp.globs, pattern, s)
		} else {
			removeSub(kp.exact, pattern, s)
		}
		if len(kp.globs) == 0 && len(kp.exact) == 0 {
			delete(k.dbs, db)
		}
	}
	k.mu.Unlock()
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

// PublishKey delivers ["kmessage", pattern, key, op] to every subscriber of
// every key pattern of database db that matches key (db < 0: of every
// database), and returns the number of deliveries. Like Publish it never
// blocks on a subscriber; the caller orders the events of one key (the
// server publishes under the key's shard lock).
func (h *Hub) PublishKey(db int, key []byte, op string) int {
	k := &h.keys
	k.mu.RLock()
	defer k.mu.RUnlock()
	if db >= 0 {
		return publishKeyIn(k.dbs[db], key, op)
	}
	n := 0
	for _, kp := range k.dbs {
		n += publishKeyIn(kp, key, op)
	}
	return n
}

func publishKeyIn(kp *keyPatterns, key []byte, op string) int {
	if kp == nil {
		return 0
	}
	n := 0
	var bp *[]byte
	var frame []byte
	deliver := func(pattern string, subs subSet) {
		if bp == nil {
			bp = framePool.Get().(*[]byte)
		}
		frame = appendKMessage((*bp)[:0], pattern, key, op)
		for s := range subs {
			s.Enqueue(frame)
		}
		*bp = frame[:0]
		n += len(subs)
	}
	if subs := kp.exact[string(key)]; len(subs) > 0 {
		deliver(string(key), subs)
	}
	for pattern, subs := range kp.globs {
		if matchStringBytes(pattern, key) {
			deliver(pattern, subs)
		}
	}
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
