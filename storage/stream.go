package storage

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"sync/atomic"

	"github.com/google/btree"
)

// Streams (Redis 7.0's t_stream.c data model).
//
// In memory a stream is its live entries in ID order (a slice with a moving
// head, so trimming the oldest entries is cheap), a model of Redis's radix
// tree nodes (each node: how many live and deleted entries it holds and an
// estimate of its listpack bytes, so approximate trimming with `~` removes
// exactly the entries Redis removes), the stream's counters and its consumer
// groups (each: last delivered ID, entries-read counter, the pending entries
// list (PEL) and the consumers with their own PELs).
//
// On disk a stream is its meta record (counters) and element records, one
// per entry, group, consumer and pending entry, so every command writes only
// what it changed: XADD appends one entry record and rewrites the small meta
// record; XACK deletes one PEL record. Sub-keys:
//
//	0x01 id(16)                          entry: its field/value pairs
//	0x02 group                           group: last id, entries-read
//	0x03 uvarint(len group) group name   consumer: seen time
//	0x04 uvarint(len group) group id(16) pending entry: delivery time, count, consumer
//	0x05 master id(16)                   node: last id, entries (live and deleted), bytes, master fields
//
// The node records keep the node model exact across evictions, restarts,
// RENAME and COPY: approximate trimming removes the same entries before and
// after.
type Stream struct {
	ents []*StreamEntry // live entries, ents[head:] in ID order
	head int
	// nodes model Redis's listpack nodes, in ID order
	nodes []*streamNode

	LastID       StreamID
	FirstID      StreamID // recorded-first-entry-id
	MaxDeletedID StreamID
	EntriesAdded uint64

	groups map[string]*StreamGroup

	bytes     int        // sum of the entries' field and value bytes
	pelCount  int        // NACKs over all groups
	dropped   []StreamID // masters of nodes removed since the last StreamChanged
	accounted int        // MemSize when the store last accounted it
}

// StreamID is an entry ID: milliseconds and sequence.
type StreamID struct{ Ms, Seq uint64 }

// MaxStreamID is the largest ID.
var MaxStreamID = StreamID{math.MaxUint64, math.MaxUint64}

// Cmp compares two IDs.
func (a StreamID) Cmp(b StreamID) int {
	switch {
	case a.Ms < b.Ms:
		return -1
	case a.Ms > b.Ms:
		return 1
	case a.Seq < b.Seq:
		return -1
	case a.Seq > b.Seq:
		return 1
	}
	return 0
}

// IsZero reports whether a is 0-0.
func (a StreamID) IsZero() bool { return a.Ms == 0 && a.Seq == 0 }

// Incr returns the successor of a; ok is false for the largest ID (which wraps to 0-0).
func (a StreamID) Incr() (StreamID, bool) {
	if a.Seq == math.MaxUint64 {
		if a.Ms == math.MaxUint64 {
			return StreamID{}, false
		}
		return StreamID{a.Ms + 1, 0}, true
	}
	return StreamID{a.Ms, a.Seq + 1}, true
}

// Decr returns the predecessor of a; ok is false for 0-0 (which wraps to the largest).
func (a StreamID) Decr() (StreamID, bool) {
	if a.Seq == 0 {
		if a.Ms == 0 {
			return MaxStreamID, false
		}
		return StreamID{a.Ms - 1, math.MaxUint64}, true
	}
	return StreamID{a.Ms, a.Seq - 1}, true
}

// String formats a as "ms-seq".
func (a StreamID) String() string { return fmt.Sprintf("%d-%d", a.Ms, a.Seq) }

// AppendTo appends "ms-seq" to b.
func (a StreamID) AppendTo(b []byte) []byte {
	b = appendUint(b, a.Ms)
	b = append(b, '-')
	return appendUint(b, a.Seq)
}

func appendUint(b []byte, v uint64) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, buf[i:]...)
}

func (a StreamID) encode(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, a.Ms)
	return binary.BigEndian.AppendUint64(b, a.Seq)
}

func decodeStreamID(b []byte) StreamID {
	return StreamID{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}
}

// StreamEntry is one entry: its ID and field/value pairs (alternating).
type StreamEntry struct {
	ID     StreamID
	Fields []string
	node   *streamNode
}

type streamNode struct {
	master StreamID // first ID ever in the node
	last   StreamID // last ID ever added to the node (deleted or not)
	live   int
	total  int // live + deleted
	bytes  int // estimated listpack size
	fields []string
}

// StreamGroup is a consumer group.
type StreamGroup struct {
	Name        string
	LastID      StreamID
	EntriesRead int64 // -1: invalid
	PEL         PEL
	consumers   map[string]*StreamConsumer
}

// StreamConsumer is a consumer of a group.
type StreamConsumer struct {
	Name     string
	SeenTime int64
	PEL      PEL
}

// StreamNACK is a pending entry: delivered, not yet acknowledged.
type StreamNACK struct {
	ID            StreamID
	Consumer      *StreamConsumer
	DeliveryTime  int64
	DeliveryCount uint64
}

// PEL is a pending entries list ordered by ID: a B-tree (inserts and
// removals anywhere in O(log n): acknowledging the oldest of a million
// pending entries moves nothing) and a map for lookups.
type PEL struct {
	t *btree.BTreeG[*StreamNACK]
	m map[StreamID]*StreamNACK
}

func nackLess(a, b *StreamNACK) bool { return a.ID.Cmp(b.ID) < 0 }

// Len is the number of pending entries.
func (p *PEL) Len() int { return len(p.m) }

// Get returns the NACK of id.
func (p *PEL) Get(id StreamID) *StreamNACK { return p.m[id] }

// Ascend calls fn for the NACKs with ID >= from in ID order until fn
// returns false. fn must not change the PEL.
func (p *PEL) Ascend(from StreamID, fn func(*StreamNACK) bool) {
	if p.t == nil {
		return
	}
	p.t.AscendGreaterOrEqual(&StreamNACK{ID: from}, fn)
}

// Next returns the first NACK with ID >= from (nil: none).
func (p *PEL) Next(from StreamID) *StreamNACK {
	var out *StreamNACK
	p.Ascend(from, func(n *StreamNACK) bool { out = n; return false })
	return out
}

// First and Last return the NACKs of the lowest and highest IDs (nil when empty).
func (p *PEL) First() *StreamNACK {
	if p.t == nil {
		return nil
	}
	n, _ := p.t.Min()
	return n
}

// Last returns the NACK of the highest ID (nil when empty).
func (p *PEL) Last() *StreamNACK {
	if p.t == nil {
		return nil
	}
	n, _ := p.t.Max()
	return n
}

// IDs returns every pending ID in order.
func (p *PEL) IDs() []StreamID {
	out := make([]StreamID, 0, p.Len())
	p.Ascend(StreamID{}, func(n *StreamNACK) bool { out = append(out, n.ID); return true })
	return out
}

func (p *PEL) insert(n *StreamNACK) bool {
	if p.m == nil {
		p.m = map[StreamID]*StreamNACK{}
		p.t = btree.NewG(16, nackLess)
	}
	if _, ok := p.m[n.ID]; ok {
		return false
	}
	p.m[n.ID] = n
	p.t.ReplaceOrInsert(n)
	return true
}

func (p *PEL) remove(id StreamID) bool {
	n, ok := p.m[id]
	if !ok {
		return false
	}
	delete(p.m, id)
	p.t.Delete(n)
	return true
}

// StreamNodeMaxEntries and StreamNodeMaxBytes are stream-node-max-entries
// and stream-node-max-bytes.
var StreamNodeMaxEntries, StreamNodeMaxBytes atomic.Int64

func init() {
	StreamNodeMaxEntries.Store(100)
	StreamNodeMaxBytes.Store(4096)
	RegisterLoader(TypeStream, loadStream)
}

// NewStream returns an empty stream.
func NewStream() *Stream { return &Stream{} }

// Type implements Object.
func (s *Stream) Type() Type { return TypeStream }

// Len implements Object. A stream exists while empty, so it reports one
// more than its length: the store never deletes it for being empty.
func (s *Stream) Len() int { return s.Length() + 1 }

// Length is the number of entries.
func (s *Stream) Length() int { return len(s.ents) - s.head }

// Encoding implements Object.
func (s *Stream) Encoding() string { return "stream" }

// MemSize implements Object.
func (s *Stream) MemSize() int {
	return 128 + s.bytes + s.Length()*80 + len(s.nodes)*96 + s.pelCount*120 + len(s.groups)*160
}

// Nodes is the number of modelled listpack nodes (radix-tree-keys).
func (s *Stream) Nodes() int { return len(s.nodes) }

// Entries returns the live entries in ID order; the caller must not modify them.
func (s *Stream) Entries() []*StreamEntry { return s.ents[s.head:] }

// Seek returns the index in Entries() of the first entry with ID >= id.
func (s *Stream) Seek(id StreamID) int {
	e := s.Entries()
	return sort.Search(len(e), func(i int) bool { return e[i].ID.Cmp(id) >= 0 })
}

// Get returns the entry with ID id.
func (s *Stream) Get(id StreamID) *StreamEntry {
	e := s.Entries()
	i := s.Seek(id)
	if i < len(e) && e[i].ID == id {
		return e[i]
	}
	return nil
}

// LastValidID is the ID of the newest live entry (0-0 when empty).
func (s *Stream) LastValidID() StreamID {
	if s.Length() == 0 {
		return StreamID{}
	}
	return s.ents[len(s.ents)-1].ID
}

func lpStrSize(n int) int {
	h := 1
	switch {
	case n >= 4096:
		h = 5
	case n >= 64:
		h = 2
	}
	t := h + n
	if t < 128 {
		return t + 1
	}
	return t + 2
}

func fieldsEqual(a []string, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Append adds an entry with ID id (greater than LastID) and the pairs fv.
func (s *Stream) Append(id StreamID, fv [][]byte) *StreamEntry {
	fields := make([]string, len(fv))
	tot := 0
	for i, f := range fv {
		fields[i] = string(f)
		tot += len(f)
	}
	var n *streamNode
	if k := len(s.nodes); k > 0 {
		n = s.nodes[k-1]
		maxBytes := int(StreamNodeMaxBytes.Load())
		if maxBytes <= 0 || maxBytes > math.MaxUint32 {
			maxBytes = math.MaxUint32
		}
		maxEnt := int(StreamNodeMaxEntries.Load())
		if n.bytes+tot >= maxBytes || (maxEnt > 0 && n.total >= maxEnt) {
			n = nil
		}
	}
	names := make([]string, 0, len(fields)/2)
	for i := 0; i < len(fields); i += 2 {
		names = append(names, fields[i])
	}
	if n == nil {
		n = &streamNode{master: id, fields: names}
		// header, end, count, deleted, num fields, master fields, terminator
		n.bytes = 7 + 2 + 2 + 2 + 2
		for _, f := range names {
			n.bytes += lpStrSize(len(f))
		}
		s.nodes = append(s.nodes, n)
	}
	sz := 2 + 2 + 2 + 2 // flags, ms delta, seq delta, lp-count
	if !fieldsEqual(names, n.fields) {
		sz += 2
		for _, f := range names {
			sz += lpStrSize(len(f))
		}
	}
	for i := 1; i < len(fields); i += 2 {
		sz += lpStrSize(len(fields[i]))
	}
	n.bytes += sz
	n.live++
	n.total++
	n.last = id
	e := &StreamEntry{ID: id, Fields: fields, node: n}
	s.ents = append(s.ents, e)
	s.bytes += tot
	if s.Length() == 1 {
		s.FirstID = id
	}
	s.LastID = id
	s.EntriesAdded++
	return e
}

// pushEntry adds an entry to node n (load and RESTORE: the node's counters
// are already its own).
func (s *Stream) pushEntry(id StreamID, fv [][]byte, n *streamNode) {
	fields := make([]string, len(fv))
	for i, f := range fv {
		fields[i] = string(f)
		s.bytes += len(f)
	}
	n.live++
	s.ents = append(s.ents, &StreamEntry{ID: id, Fields: fields, node: n})
}

// PushNode adds a node as RESTORE reads one from a payload: master ID,
// last ID (deleted entries included), entries ever in it and listpack
// bytes; PushEntry then adds its live entries.
func (s *Stream) PushNode(master, last StreamID, total, bytes int, fields [][]byte) {
	n := &streamNode{master: master, last: last, total: total, bytes: bytes}
	for _, f := range fields {
		n.fields = append(n.fields, string(f))
	}
	s.nodes = append(s.nodes, n)
}

// PushEntry adds a live entry to the node PushNode added last.
func (s *Stream) PushEntry(id StreamID, fv [][]byte) {
	s.pushEntry(id, fv, s.nodes[len(s.nodes)-1])
}

// dropFront removes the k oldest live entries.
func (s *Stream) dropFront(k int, removed func(*StreamEntry)) {
	for i := s.head; i < s.head+k; i++ {
		e := s.ents[i]
		s.bytes -= entryBytes(e)
		if removed != nil {
			removed(e)
		}
		s.ents[i] = nil
	}
	s.head += k
	s.compact()
}

// compact moves the live entries to the front of the slice once the
// removed head is most of it.
func (s *Stream) compact() {
	if s.head > 64 && s.head*2 > len(s.ents) {
		n := copy(s.ents, s.ents[s.head:])
		clear(s.ents[n:])
		s.ents = s.ents[:n]
		s.head = 0
	}
}

func entryBytes(e *StreamEntry) int {
	n := 0
	for _, f := range e.Fields {
		n += len(f)
	}
	return n
}

func (s *Stream) removeNode(n *streamNode) {
	for i, x := range s.nodes {
		if x == n {
			s.nodes = append(s.nodes[:i], s.nodes[i+1:]...)
			s.dropped = append(s.dropped, n.master)
			return
		}
	}
}

// Delete removes the entry with ID id; it reports whether it existed.
func (s *Stream) Delete(id StreamID) bool {
	e := s.Entries()
	i := s.Seek(id)
	if i >= len(e) || e[i].ID != id {
		return false
	}
	x := e[i]
	s.bytes -= entryBytes(x)
	if i == 0 {
		// the oldest entry (a queue's usual XDEL): move the head
		s.ents[s.head] = nil
		s.head++
		s.compact()
	} else {
		j := s.head + i
		copy(s.ents[j:], s.ents[j+1:])
		s.ents[len(s.ents)-1] = nil
		s.ents = s.ents[:len(s.ents)-1]
	}
	x.node.live--
	if x.node.live == 0 {
		s.removeNode(x.node)
	}
	return true
}

// UpdateFirstID recomputes FirstID after deletions.
func (s *Stream) UpdateFirstID() {
	if s.Length() == 0 {
		s.FirstID = StreamID{}
	} else {
		s.FirstID = s.ents[s.head].ID
	}
}

// Trim strategies.
const (
	TrimNone = iota
	TrimMaxLen
	TrimMinID
)

// TrimArgs are XADD's and XTRIM's trimming options.
type TrimArgs struct {
	Strategy int
	Approx   bool
	Limit    int64
	MaxLen   int64
	MinID    StreamID
}

// Trim applies a (streamTrim); removed is called for every removed entry.
// It returns how many were removed.
func (s *Stream) Trim(a TrimArgs, removed func(*StreamEntry)) int64 {
	if a.Strategy == TrimNone {
		return 0
	}
	var deleted int64
	for len(s.nodes) > 0 {
		if a.Strategy == TrimMaxLen && int64(s.Length()) <= a.MaxLen {
			break
		}
		n := s.nodes[0]
		entries := int64(n.live)
		if a.Limit != 0 && deleted+entries > a.Limit {
			break
		}
		var remove bool
		if a.Strategy == TrimMaxLen {
			remove = int64(s.Length())-entries >= a.MaxLen
		} else {
			remove = n.last.Cmp(a.MinID) < 0
		}
		if remove {
			s.dropFront(n.live, removed)
			s.nodes = s.nodes[1:]
			s.dropped = append(s.dropped, n.master)
			deleted += entries
			continue
		}
		if a.Approx {
			break
		}
		// trim inside the node: its entries are the oldest live ones
		k := 0
		for k < n.live {
			if a.Strategy == TrimMaxLen {
				if int64(s.Length()-k) <= a.MaxLen {
					break
				}
			} else if s.ents[s.head+k].ID.Cmp(a.MinID) >= 0 {
				break
			}
			k++
		}
		s.dropFront(k, removed)
		n.live -= k
		deleted += int64(k)
		break
	}
	if deleted > 0 {
		s.UpdateFirstID()
	} else if s.Length() == 0 {
		s.FirstID = StreamID{}
	}
	return deleted
}

// ---- consumer groups ----

// Group returns the group named name.
func (s *Stream) Group(name []byte) *StreamGroup { return s.groups[string(name)] }

// Groups returns the groups sorted by name.
func (s *Stream) Groups() []*StreamGroup {
	out := make([]*StreamGroup, 0, len(s.groups))
	for _, g := range s.groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// NumGroups is the number of groups.
func (s *Stream) NumGroups() int { return len(s.groups) }

// CreateGroup adds a group; nil if it exists.
func (s *Stream) CreateGroup(name []byte, id StreamID, entriesRead int64) *StreamGroup {
	if s.groups == nil {
		s.groups = map[string]*StreamGroup{}
	}
	if s.groups[string(name)] != nil {
		return nil
	}
	g := &StreamGroup{Name: string(name), LastID: id, EntriesRead: entriesRead, consumers: map[string]*StreamConsumer{}}
	s.groups[g.Name] = g
	return g
}

// DestroyGroup removes group g.
func (s *Stream) DestroyGroup(g *StreamGroup) {
	s.pelCount -= g.PEL.Len()
	delete(s.groups, g.Name)
}

// Consumer returns the consumer named name of g.
func (g *StreamGroup) Consumer(name []byte) *StreamConsumer { return g.consumers[string(name)] }

// NumConsumers is the number of consumers of g.
func (g *StreamGroup) NumConsumers() int { return len(g.consumers) }

// Consumers returns g's consumers sorted by name.
func (g *StreamGroup) Consumers() []*StreamConsumer {
	out := make([]*StreamConsumer, 0, len(g.consumers))
	for _, c := range g.consumers {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CreateConsumer adds a consumer; nil if it exists.
func (g *StreamGroup) CreateConsumer(name []byte, now int64) *StreamConsumer {
	if g.consumers[string(name)] != nil {
		return nil
	}
	c := &StreamConsumer{Name: string(name), SeenTime: now}
	g.consumers[c.Name] = c
	return c
}

// DeleteConsumer removes c and its pending entries from g; it returns the
// IDs of the pending entries removed.
func (s *Stream) DeleteConsumer(g *StreamGroup, c *StreamConsumer) []StreamID {
	ids := c.PEL.IDs()
	for _, id := range ids {
		g.PEL.remove(id)
		s.pelCount--
	}
	delete(g.consumers, c.Name)
	return ids
}

// AddNACK adds a pending entry of id owned by c (nil: unowned, XCLAIM FORCE).
// It returns the new NACK, or the existing one and false.
func (s *Stream) AddNACK(g *StreamGroup, id StreamID, c *StreamConsumer, now int64) (*StreamNACK, bool) {
	if n := g.PEL.Get(id); n != nil {
		return n, false
	}
	n := &StreamNACK{ID: id, Consumer: c, DeliveryTime: now, DeliveryCount: 1}
	g.PEL.insert(n)
	if c != nil {
		c.PEL.insert(n)
	}
	s.pelCount++
	return n, true
}

// SetOwner moves n to consumer c.
func (g *StreamGroup) SetOwner(n *StreamNACK, c *StreamConsumer) {
	if n.Consumer == c {
		return
	}
	if n.Consumer != nil {
		n.Consumer.PEL.remove(n.ID)
	}
	n.Consumer = c
	c.PEL.insert(n)
}

// Ack removes the pending entry of id; it reports whether there was one.
func (s *Stream) Ack(g *StreamGroup, id StreamID) bool {
	n := g.PEL.Get(id)
	if n == nil {
		return false
	}
	g.PEL.remove(id)
	if n.Consumer != nil {
		n.Consumer.PEL.remove(id)
	}
	s.pelCount--
	return true
}

// ---- persistence ----

const (
	streamSubEntry    = 0x01
	streamSubGroup    = 0x02
	streamSubConsumer = 0x03
	streamSubNACK     = 0x04
	streamSubNode     = 0x05

	streamPayloadVersion = 1
)

// MetaPayload implements Object: version, last id, first id, max deleted
// id, entries added.
func (s *Stream) MetaPayload() []byte {
	b := make([]byte, 0, 1+48+10)
	b = append(b, streamPayloadVersion)
	b = s.LastID.encode(b)
	b = s.FirstID.encode(b)
	b = s.MaxDeletedID.encode(b)
	return binary.AppendUvarint(b, s.EntriesAdded)
}

func entrySub(b []byte, id StreamID) []byte {
	return id.encode(append(b, streamSubEntry))
}

func encodeEntry(b []byte, e *StreamEntry) []byte {
	b = binary.AppendUvarint(b, uint64(len(e.Fields)))
	for _, f := range e.Fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

func groupSub(b []byte, g *StreamGroup) []byte {
	return append(append(b, streamSubGroup), g.Name...)
}

func encodeGroup(b []byte, g *StreamGroup) []byte {
	b = g.LastID.encode(b)
	return binary.AppendVarint(b, g.EntriesRead)
}

func groupPrefix(b []byte, kind byte, g string) []byte {
	b = append(b, kind)
	b = binary.AppendUvarint(b, uint64(len(g)))
	return append(b, g...)
}

func consumerSub(b []byte, g *StreamGroup, c *StreamConsumer) []byte {
	return append(groupPrefix(b, streamSubConsumer, g.Name), c.Name...)
}

func encodeConsumer(b []byte, c *StreamConsumer) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(c.SeenTime))
}

func nackSub(b []byte, g *StreamGroup, id StreamID) []byte {
	return id.encode(groupPrefix(b, streamSubNACK, g.Name))
}

func encodeNACK(b []byte, n *StreamNACK) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(n.DeliveryTime))
	b = binary.AppendUvarint(b, n.DeliveryCount)
	if n.Consumer != nil {
		b = append(b, n.Consumer.Name...)
	}
	return b
}

func nodeSub(b []byte, master StreamID) []byte {
	return master.encode(append(b, streamSubNode))
}

func encodeNode(b []byte, n *streamNode) []byte {
	b = n.last.encode(b)
	b = binary.AppendUvarint(b, uint64(n.total))
	b = binary.AppendUvarint(b, uint64(n.bytes))
	b = binary.AppendUvarint(b, uint64(len(n.fields)))
	for _, f := range n.fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// ForEachElem implements Object.
func (s *Stream) ForEachElem(fn func(sub, val []byte)) {
	var sub, val []byte
	for _, e := range s.Entries() {
		sub = entrySub(sub[:0], e.ID)
		val = encodeEntry(val[:0], e)
		fn(sub, val)
	}
	for _, n := range s.nodes {
		fn(nodeSub(sub[:0], n.master), encodeNode(val[:0], n))
	}
	for _, g := range s.Groups() {
		fn(groupSub(sub[:0], g), encodeGroup(val[:0], g))
		for _, c := range g.Consumers() {
			fn(consumerSub(sub[:0], g, c), encodeConsumer(val[:0], c))
		}
		g.PEL.Ascend(StreamID{}, func(n *StreamNACK) bool {
			fn(nackSub(sub[:0], g, n.ID), encodeNACK(val[:0], n))
			return true
		})
	}
}

// Clone implements Object: the same entries, nodes, counters and groups.
func (s *Stream) Clone() Object {
	c := &Stream{LastID: s.LastID, FirstID: s.FirstID, MaxDeletedID: s.MaxDeletedID, EntriesAdded: s.EntriesAdded, bytes: s.bytes}
	nodes := make(map[*streamNode]*streamNode, len(s.nodes))
	for _, n := range s.nodes {
		nn := *n
		nn.fields = append([]string(nil), n.fields...)
		nodes[n] = &nn
		c.nodes = append(c.nodes, &nn)
	}
	for _, e := range s.Entries() {
		c.ents = append(c.ents, &StreamEntry{ID: e.ID, Fields: append([]string(nil), e.Fields...), node: nodes[e.node]})
	}
	for _, g := range s.Groups() {
		ng := c.CreateGroup([]byte(g.Name), g.LastID, g.EntriesRead)
		for _, cons := range g.Consumers() {
			ng.CreateConsumer([]byte(cons.Name), cons.SeenTime)
		}
		g.PEL.Ascend(StreamID{}, func(n *StreamNACK) bool {
			var owner *StreamConsumer
			if n.Consumer != nil {
				owner = ng.consumers[n.Consumer.Name]
			}
			nn, _ := c.AddNACK(ng, n.ID, owner, n.DeliveryTime)
			nn.DeliveryCount = n.DeliveryCount
			return true
		})
	}
	c.accounted = c.MemSize()
	return c
}

var errStreamRec = fmt.Errorf("%w: stream record", errCorrupt)

func loadStream(meta []byte, it ElemIter) (Object, error) {
	if len(meta) < 49 || meta[0] != streamPayloadVersion {
		return nil, errStreamRec
	}
	s := &Stream{}
	last := decodeStreamID(meta[1:])
	first := decodeStreamID(meta[17:])
	maxDel := decodeStreamID(meta[33:])
	added, n := binary.Uvarint(meta[49:])
	if n <= 0 {
		return nil, errStreamRec
	}
	type nackRec struct {
		g    string
		id   StreamID
		cons string
		t    int64
		cnt  uint64
	}
	var nacks []nackRec
	cons := map[string][]*StreamConsumer{}
	type entryRec struct {
		id StreamID
		fv [][]byte
	}
	var ents []entryRec
	var nodes []*streamNode
	for it.Next() {
		sub, val := it.Sub(), it.Value()
		if len(sub) == 0 {
			return nil, errStreamRec
		}
		switch sub[0] {
		case streamSubEntry:
			if len(sub) != 17 {
				return nil, errStreamRec
			}
			cnt, k := binary.Uvarint(val)
			if k <= 0 || cnt > uint64(len(val)) {
				return nil, errStreamRec
			}
			val = val[k:]
			// copied: the iterator reuses its buffers
			fv := make([][]byte, 0, cnt)
			for i := uint64(0); i < cnt; i++ {
				l, k := binary.Uvarint(val)
				if k <= 0 || l > uint64(len(val)-k) {
					return nil, errStreamRec
				}
				fv = append(fv, append([]byte(nil), val[k:k+int(l)]...))
				val = val[k+int(l):]
			}
			ents = append(ents, entryRec{decodeStreamID(sub[1:]), fv})
		case streamSubNode:
			if len(sub) != 17 || len(val) < 16 {
				return nil, errStreamRec
			}
			n := &streamNode{master: decodeStreamID(sub[1:]), last: decodeStreamID(val)}
			p := val[16:]
			var vals [3]uint64
			for i := range vals {
				v, k := binary.Uvarint(p)
				if k <= 0 {
					return nil, errStreamRec
				}
				vals[i], p = v, p[k:]
			}
			if vals[0] > math.MaxInt32 || vals[1] > math.MaxInt32 || vals[2] > uint64(len(p)) {
				return nil, errStreamRec
			}
			n.total, n.bytes = int(vals[0]), int(vals[1])
			for i := uint64(0); i < vals[2]; i++ {
				l, k := binary.Uvarint(p)
				if k <= 0 || l > uint64(len(p)-k) {
					return nil, errStreamRec
				}
				n.fields = append(n.fields, string(p[k:k+int(l)]))
				p = p[k+int(l):]
			}
			nodes = append(nodes, n)
		case streamSubGroup:
			if len(val) < 17 {
				return nil, errStreamRec
			}
			er, k := binary.Varint(val[16:])
			if k <= 0 {
				return nil, errStreamRec
			}
			s.CreateGroup(sub[1:], decodeStreamID(val), er)
		case streamSubConsumer, streamSubNACK:
			l, k := binary.Uvarint(sub[1:])
			if k <= 0 || l > uint64(len(sub)-1-k) {
				return nil, errStreamRec
			}
			g := string(sub[1+k : 1+k+int(l)])
			rest := sub[1+k+int(l):]
			if sub[0] == streamSubConsumer {
				if len(val) != 8 {
					return nil, errStreamRec
				}
				cons[g] = append(cons[g], &StreamConsumer{Name: string(rest), SeenTime: int64(binary.BigEndian.Uint64(val))})
				continue
			}
			if len(rest) != 16 || len(val) < 9 {
				return nil, errStreamRec
			}
			cnt, k2 := binary.Uvarint(val[8:])
			if k2 <= 0 {
				return nil, errStreamRec
			}
			nacks = append(nacks, nackRec{g, decodeStreamID(rest), string(val[8+k2:]), int64(binary.BigEndian.Uint64(val)), cnt})
		default:
			return nil, errStreamRec
		}
	}
	if len(nodes) == 0 {
		// no node records: the model is rebuilt as appends would have
		for _, e := range ents {
			s.Append(e.id, e.fv)
		}
	} else {
		s.nodes = nodes
		j := 0
		for _, e := range ents {
			for j+1 < len(nodes) && nodes[j+1].master.Cmp(e.id) <= 0 {
				j++
			}
			if e.id.Cmp(nodes[j].master) < 0 {
				return nil, errStreamRec
			}
			s.pushEntry(e.id, e.fv, nodes[j])
		}
	}
	s.LastID, s.FirstID, s.MaxDeletedID, s.EntriesAdded = last, first, maxDel, added
	for gname, cs := range cons {
		g := s.groups[gname]
		if g == nil {
			continue // records of a destroyed group that outlived it cannot exist; skip
		}
		for _, c := range cs {
			g.consumers[c.Name] = c
		}
	}
	for _, r := range nacks {
		g := s.groups[r.g]
		if g == nil {
			continue
		}
		c := g.consumers[r.cons]
		if c == nil && r.cons != "" {
			c = &StreamConsumer{Name: r.cons}
			g.consumers[c.Name] = c
		}
		n, _ := s.AddNACK(g, r.id, c, r.t)
		n.DeliveryCount = r.cnt
	}
	s.accounted = s.MemSize()
	return s, nil
}

// ---- recording changes ----

// StreamPutEntry records entry e of key's stream.
func (tx *Tx) StreamPutEntry(key []byte, e *StreamEntry) {
	if !tx.dur {
		return
	}
	var sb [17]byte
	sh := tx.db.shard(key)
	tx.rec(txPut, tx.db, sh, key, entrySub(sb[:0], e.ID), encodeEntry(nil, e), 0, 0)
	tx.rec(txPut, tx.db, sh, key, nodeSub(sb[:0], e.node.master), encodeNode(nil, e.node), 0, 0)
}

// StreamDelEntry records the removal of entry id of key's stream.
func (tx *Tx) StreamDelEntry(key []byte, id StreamID) {
	if !tx.dur {
		return
	}
	var sb [17]byte
	tx.rec(txDel, tx.db, tx.db.shard(key), key, entrySub(sb[:0], id), nil, 0, 0)
}

// StreamPutGroup records group g of key's stream.
func (tx *Tx) StreamPutGroup(key []byte, g *StreamGroup) {
	if !tx.dur {
		return
	}
	tx.rec(txPut, tx.db, tx.db.shard(key), key, groupSub(nil, g), encodeGroup(nil, g), 0, 0)
}

// StreamDelGroup records the removal of group g with its consumers and
// pending entries.
func (tx *Tx) StreamDelGroup(key []byte, g *StreamGroup) {
	if !tx.dur {
		return
	}
	sh := tx.db.shard(key)
	tx.rec(txDel, tx.db, sh, key, groupSub(nil, g), nil, 0, 0)
	for _, c := range g.consumers {
		tx.rec(txDel, tx.db, sh, key, consumerSub(nil, g, c), nil, 0, 0)
	}
	g.PEL.Ascend(StreamID{}, func(n *StreamNACK) bool {
		tx.rec(txDel, tx.db, sh, key, nackSub(nil, g, n.ID), nil, 0, 0)
		return true
	})
}

// StreamPutConsumer records consumer c of group g.
func (tx *Tx) StreamPutConsumer(key []byte, g *StreamGroup, c *StreamConsumer) {
	if !tx.dur {
		return
	}
	tx.rec(txPut, tx.db, tx.db.shard(key), key, consumerSub(nil, g, c), encodeConsumer(nil, c), 0, 0)
}

// StreamDelConsumer records the removal of consumer c of group g.
func (tx *Tx) StreamDelConsumer(key []byte, g *StreamGroup, c *StreamConsumer) {
	if !tx.dur {
		return
	}
	tx.rec(txDel, tx.db, tx.db.shard(key), key, consumerSub(nil, g, c), nil, 0, 0)
}

// StreamPutNACK records pending entry n of group g.
func (tx *Tx) StreamPutNACK(key []byte, g *StreamGroup, n *StreamNACK) {
	if !tx.dur {
		return
	}
	tx.rec(txPut, tx.db, tx.db.shard(key), key, nackSub(nil, g, n.ID), encodeNACK(nil, n), 0, 0)
}

// StreamDelNACK records the removal of the pending entry id of group g.
func (tx *Tx) StreamDelNACK(key []byte, g *StreamGroup, id StreamID) {
	if !tx.dur {
		return
	}
	tx.rec(txDel, tx.db, tx.db.shard(key), key, nackSub(nil, g, id), nil, 0, 0)
}

// StreamChanged ends the changes to key's stream s (entry e): it records
// the meta record when meta is set, accounts the memory and reports event
// (none when empty) as a change of the key (WATCH sees it: Redis's
// signalModifiedKey, which XADD, XDEL and XTRIM call).
func (tx *Tx) StreamChanged(key []byte, e *Entry, s *Stream, meta bool, event string) {
	tx.streamChanged(key, s, meta, event, true)
}

// StreamNotified is StreamChanged for the changes Redis only notifies
// (XGROUP, XSETID, consumers XREADGROUP/XCLAIM create): the event reaches
// keyspace notifications, key subscriptions and blocked clients, but WATCH
// does not count it as a change of the key.
func (tx *Tx) StreamNotified(key []byte, e *Entry, s *Stream, meta bool, event string) {
	tx.streamChanged(key, s, meta, event, false)
}

func (tx *Tx) streamChanged(key []byte, s *Stream, meta bool, event string, modified bool) {
	db := tx.db
	sh := db.shard(key)
	var sb [17]byte
	for _, m := range s.dropped {
		tx.rec(txDel, db, sh, key, nodeSub(sb[:0], m), nil, 0, 0)
	}
	s.dropped = s.dropped[:0]
	if meta {
		tx.rec(txMeta, db, sh, key, nil, s.MetaPayload(), TypeStream, sh.expires[string(key)])
	}
	m := s.MemSize()
	db.account(sh, int64(m-s.accounted))
	s.accounted = m
	switch {
	case event != "" && modified:
		tx.touch(db, sh, key, event)
	case event != "":
		tx.touched = true
		tx.streamDirty(sh, key)
		if h := db.s.hook.Load(); h != nil {
			(*h)(Event{DB: db.idx, Key: key, Name: event, Origin: tx.db.origin})
		}
	default:
		tx.streamDirty(sh, key)
	}
}

// CreateStream stores a new empty stream under key (replacing nothing: the
// key must not exist) and returns it.
func (tx *Tx) CreateStream(key []byte) (*Entry, *Stream) {
	s := NewStream()
	e := tx.Create(key, s)
	s.accounted = s.MemSize()
	return e, s
}

// StreamDirty marks key's entry as changed without reporting an event.
func (tx *Tx) streamDirty(sh *shard, key []byte) {
	if tx.db.s.dur != nil {
		if e := sh.m.get(bstr(key)); e != nil {
			sh.dirty[e] = dirtySeq
		}
	}
}

// NodeMaster is the master ID of the node holding e (DUMP writes one
// radix tree key per node).
func (s *Stream) NodeMaster(e *StreamEntry) StreamID { return e.node.master }

// Settle makes the stream's current size the one the store accounts when it
// is installed (a stream built outside the store, by RESTORE).
func (s *Stream) Settle() { s.accounted = s.MemSize() }
