package server

import (
	"encoding/binary"

	"github.com/luxdb/lux-go/storage"
)

// Streams in DUMP/RESTORE payloads: RDB_TYPE_STREAM_LISTPACKS_2 (Redis 7.0,
// written and read) and RDB_TYPE_STREAM_LISTPACKS (Redis 5 to 6.2, read).
// Each node of the stream model is written as Redis writes a radix tree
// node: its master ID as a 16-byte big-endian key and a listpack of a
// master entry and the node's live entries (deleted entries are not kept,
// so a node's deleted counter is 0); then the counters, the consumer groups
// with their pending entries lists and consumers.

const (
	rdbTypeStreamListpacks  = 15
	rdbTypeStreamListpacks2 = 19

	streamItemDeleted    = 1 << 0
	streamItemSameFields = 1 << 1
)

// encodeStream appends o's RDB_TYPE_STREAM_LISTPACKS_2 serialization.
func encodeStream(w *rdbWriter, s *storage.Stream) {
	w.b = append(w.b, rdbTypeStreamListpacks2)
	ents := s.Entries()
	type node struct {
		master storage.StreamID
		ents   []*storage.StreamEntry
	}
	var nodes []node
	for _, e := range ents {
		m := s.NodeMaster(e)
		if len(nodes) == 0 || nodes[len(nodes)-1].master != m {
			nodes = append(nodes, node{master: m})
		}
		nodes[len(nodes)-1].ents = append(nodes[len(nodes)-1].ents, e)
	}
	w.length(uint64(len(nodes)))
	var scratch []byte
	for _, n := range nodes {
		var key [16]byte
		binary.BigEndian.PutUint64(key[:], n.master.Ms)
		binary.BigEndian.PutUint64(key[8:], n.master.Seq)
		w.length(16)
		w.b = append(w.b, key[:]...)
		lp := newListpack()
		first := n.ents[0]
		nf := len(first.Fields) / 2
		int1 := func(v int64) {
			scratch = lpEncodeInt(scratch[:0], v)
			lp.appendEntry(scratch)
		}
		int1(int64(len(n.ents)))
		int1(0)
		int1(int64(nf))
		for i := 0; i < len(first.Fields); i += 2 {
			scratch = lp.appendString([]byte(first.Fields[i]), scratch)
		}
		int1(0)
		for _, e := range n.ents {
			same := len(e.Fields) == len(first.Fields)
			for i := 0; same && i < len(e.Fields); i += 2 {
				same = e.Fields[i] == first.Fields[i]
			}
			flags := int64(0)
			if same {
				flags = streamItemSameFields
			}
			int1(flags)
			int1(int64(e.ID.Ms - n.master.Ms))
			int1(int64(e.ID.Seq - n.master.Seq))
			if same {
				for i := 1; i < len(e.Fields); i += 2 {
					scratch = lp.appendString([]byte(e.Fields[i]), scratch)
				}
				int1(int64(len(e.Fields)/2 + 3))
			} else {
				int1(int64(len(e.Fields) / 2))
				for _, f := range e.Fields {
					scratch = lp.appendString([]byte(f), scratch)
				}
				int1(int64(len(e.Fields) + 4))
			}
		}
		w.rawString(lp.b)
	}
	w.length(uint64(s.Length()))
	w.length(s.LastID.Ms)
	w.length(s.LastID.Seq)
	w.length(s.FirstID.Ms)
	w.length(s.FirstID.Seq)
	w.length(s.MaxDeletedID.Ms)
	w.length(s.MaxDeletedID.Seq)
	w.length(s.EntriesAdded)
	groups := s.Groups()
	w.length(uint64(len(groups)))
	rawID := func(id storage.StreamID) {
		w.b = binary.BigEndian.AppendUint64(w.b, id.Ms)
		w.b = binary.BigEndian.AppendUint64(w.b, id.Seq)
	}
	for _, g := range groups {
		w.rawString([]byte(g.Name))
		w.length(g.LastID.Ms)
		w.length(g.LastID.Seq)
		w.length(uint64(g.EntriesRead))
		w.length(uint64(g.PEL.Len()))
		g.PEL.Ascend(storage.StreamID{}, func(n *storage.StreamNACK) bool {
			rawID(n.ID)
			w.b = binary.LittleEndian.AppendUint64(w.b, uint64(n.DeliveryTime))
			w.length(n.DeliveryCount)
			return true
		})
		cs := g.Consumers()
		w.length(uint64(len(cs)))
		for _, c := range cs {
			w.rawString([]byte(c.Name))
			w.b = binary.LittleEndian.AppendUint64(w.b, uint64(c.SeenTime))
			w.length(uint64(c.PEL.Len()))
			for _, id := range c.PEL.IDs() {
				rawID(id)
			}
		}
	}
}

// decodeStream reads a stream payload after its type byte t.
func decodeStream(r *rdbReader, t byte) (*storage.Stream, error) {
	s := storage.NewStream()
	nodes, err := r.count()
	if err != nil {
		return nil, err
	}
	num := func(b []byte) (int64, bool) { return parseInt(b) }
	var prev storage.StreamID
	started := false
	for ; nodes > 0; nodes-- {
		key, err := r.str()
		if err != nil || len(key) != 16 {
			return nil, errBadData
		}
		master := storage.StreamID{Ms: binary.BigEndian.Uint64(key), Seq: binary.BigEndian.Uint64(key[8:])}
		lp, err := r.str()
		if err != nil {
			return nil, err
		}
		items, err := listpackEntries(lp, nil)
		if err != nil || len(items) == 0 {
			return nil, errBadData
		}
		p := 0
		next := func() ([]byte, bool) {
			if p >= len(items) {
				return nil, false
			}
			p++
			return items[p-1], true
		}
		nextInt := func() (int64, bool) {
			b, ok := next()
			if !ok {
				return 0, false
			}
			return num(b)
		}
		count, ok1 := nextInt()
		deleted, ok2 := nextInt()
		mf, ok3 := nextInt()
		if !ok1 || !ok2 || !ok3 || count < 0 || deleted < 0 || mf < 0 || mf > int64(len(items)) {
			return nil, errBadData
		}
		masterFields := make([][]byte, mf)
		for i := range masterFields {
			if masterFields[i], ok1 = next(); !ok1 {
				return nil, errBadData
			}
		}
		if z, ok := nextInt(); !ok || z != 0 {
			return nil, errBadData
		}
		if count == 0 && deleted == 0 {
			return nil, errBadData
		}
		type live struct {
			id storage.StreamID
			fv [][]byte
		}
		var lives []live
		var lastInNode storage.StreamID
		for k := count + deleted; k > 0; k-- {
			flags, ok1 := nextInt()
			msd, ok2 := nextInt()
			seqd, ok3 := nextInt()
			if !ok1 || !ok2 || !ok3 {
				return nil, errBadData
			}
			var fv [][]byte
			extra := int64(3)
			if flags&streamItemSameFields != 0 {
				for _, f := range masterFields {
					v, ok := next()
					if !ok {
						return nil, errBadData
					}
					fv = append(fv, f, v)
				}
				extra += mf
			} else {
				nf, ok := nextInt()
				if !ok || nf < 0 || nf > int64(len(items)) {
					return nil, errBadData
				}
				for i := int64(0); i < 2*nf; i++ {
					v, ok := next()
					if !ok {
						return nil, errBadData
					}
					fv = append(fv, v)
				}
				extra += 2*nf + 1
			}
			if lc, ok := nextInt(); !ok || lc != extra {
				return nil, errBadData
			}
			id := storage.StreamID{Ms: master.Ms + uint64(msd), Seq: master.Seq + uint64(seqd)}
			if started && id.Cmp(prev) <= 0 {
				return nil, errBadData
			}
			prev, started = id, true
			lastInNode = id
			if flags&streamItemDeleted == 0 {
				lives = append(lives, live{id, fv})
			}
		}
		if p != len(items) || int64(len(lives)) != count {
			return nil, errBadData
		}
		// the node as Redis had it: its deleted entries count toward when
		// it is full, its listpack's bytes toward its size
		s.PushNode(master, lastInNode, int(count+deleted), len(lp), masterFields)
		for _, l := range lives {
			s.PushEntry(l.id, l.fv)
		}
	}
	length, err := r.count()
	if err != nil || length != uint64(s.Length()) {
		return nil, errBadData
	}
	u := func() uint64 {
		if err != nil {
			return 0
		}
		var v uint64
		v, err = r.count()
		return v
	}
	last := storage.StreamID{Ms: u(), Seq: u()}
	first, maxDel := storage.StreamID{}, storage.StreamID{}
	added := uint64(s.Length())
	if t >= rdbTypeStreamListpacks2 {
		first = storage.StreamID{Ms: u(), Seq: u()}
		maxDel = storage.StreamID{Ms: u(), Seq: u()}
		added = u()
	} else if s.Length() > 0 {
		first = s.Entries()[0].ID
	}
	if err != nil {
		return nil, errBadData
	}
	if s.Length() > 0 && last.Cmp(s.LastValidID()) < 0 {
		return nil, errBadData
	}
	s.LastID, s.FirstID, s.MaxDeletedID, s.EntriesAdded = last, first, maxDel, added
	ngroups := u()
	if err != nil {
		return nil, errBadData
	}
	rawID := func() (storage.StreamID, bool) {
		b, err := r.take(16)
		if err != nil {
			return storage.StreamID{}, false
		}
		return storage.StreamID{Ms: binary.BigEndian.Uint64(b), Seq: binary.BigEndian.Uint64(b[8:])}, true
	}
	ms8 := func() (int64, bool) {
		b, err := r.take(8)
		if err != nil {
			return 0, false
		}
		return int64(binary.LittleEndian.Uint64(b)), true
	}
	for ; ngroups > 0; ngroups-- {
		name, e := r.str()
		if e != nil {
			return nil, errBadData
		}
		gl := storage.StreamID{Ms: u(), Seq: u()}
		er := int64(-1)
		if t >= rdbTypeStreamListpacks2 {
			er = int64(u())
		} else {
			er = estimateDistance(s, gl)
		}
		if err != nil {
			return nil, errBadData
		}
		g := s.CreateGroup(name, gl, er)
		if g == nil {
			return nil, errBadData
		}
		npel := u()
		if err != nil {
			return nil, errBadData
		}
		type nack struct {
			id  storage.StreamID
			t   int64
			cnt uint64
		}
		nacks := map[storage.StreamID]nack{}
		var order []storage.StreamID
		for ; npel > 0; npel-- {
			id, ok := rawID()
			tm, ok2 := ms8()
			cnt := u()
			if !ok || !ok2 || err != nil {
				return nil, errBadData
			}
			if _, dup := nacks[id]; dup {
				return nil, errBadData
			}
			nacks[id] = nack{id, tm, cnt}
			order = append(order, id)
		}
		ncons := u()
		if err != nil {
			return nil, errBadData
		}
		owned := map[storage.StreamID]bool{}
		for ; ncons > 0; ncons-- {
			cname, e := r.str()
			seen, ok := ms8()
			if e != nil || !ok {
				return nil, errBadData
			}
			cons := g.CreateConsumer(cname, seen)
			if cons == nil {
				return nil, errBadData
			}
			n := u()
			if err != nil {
				return nil, errBadData
			}
			for ; n > 0; n-- {
				id, ok := rawID()
				if !ok {
					return nil, errBadData
				}
				x, found := nacks[id]
				if !found || owned[id] {
					return nil, errBadData
				}
				owned[id] = true
				nn, _ := s.AddNACK(g, id, cons, x.t)
				nn.DeliveryCount = x.cnt
			}
		}
		// a pending entry without a consumer is corrupt (deep sanitization)
		for _, id := range order {
			if !owned[id] {
				return nil, errBadData
			}
		}
	}
	s.Settle()
	return s, nil
}
