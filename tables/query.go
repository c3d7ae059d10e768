package tables

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// TQUERY: parsing, planning and execution.
//
// The planner picks one access path, in this order of preference:
//  1. equality on a unique field: its index, at most one row;
//  2. equality on a ref field with ORDER BY an int/float/timestamp field: the
//     composite (ref, field) index, read in the requested direction and
//     stopped after LIMIT rows (the chat history query);
//  3. equality on a field with a single-field index (unique fields, ref
//     fields no composite covers): that value's entries, in id order;
//  4. equality on a ref field a composite index leads with: that value's
//     entries (then sorted);
//  5. a range (> >= < <=) on a field with a single-field index: that key
//     range;
//  6. ORDER BY a field with a single-field index that every row has: the
//     index in order, stopped after LIMIT rows;
//  7. otherwise every row in id order.
//
// Every predicate is evaluated on every row the path yields (the ones the
// index already guarantees too: it is cheap and keeps one code path), then
// rows are sorted unless the path yields them in the requested order, and
// LIMIT applies. TEXPLAIN reports the path and the rows examined.

type opKind uint8

const (
	opEq opKind = iota
	opNe
	opGt
	opLt
	opGe
	opLe
)

var opNames = [...]string{"=", "!=", ">", "<", ">=", "<="}

func parseOp(b []byte) (opKind, bool) {
	switch string(b) {
	case "=":
		return opEq, true
	case "!=":
		return opNe, true
	case ">":
		return opGt, true
	case "<":
		return opLt, true
	case ">=":
		return opGe, true
	case "<=":
		return opLe, true
	}
	return 0, false
}

type pred struct {
	f     *field
	op    opKind
	k     tv
	canon string
}

type query struct {
	t     *table
	preds []pred
	order *field
	desc  bool
	limit int64 // -1: none
	joins []*field

	// scratch reused by the pooled queries of Query (nil: allocate)
	covered []bool
	hits    []hit
	pb, jb  [16]pair // a reply row's pairs and its joined row's
}

// queryPool recycles TQUERY's parsed query, predicate flags and result
// rows: the history query then allocates next to nothing, and a server
// whose live heap is small collects less often.
var queryPool = sync.Pool{New: func() any { return &query{} }}

// maxPooledHits bounds the result slice a pooled query keeps.
const maxPooledHits = 1024

func putQuery(q *query) {
	clear(q.preds)
	clear(q.joins)
	if cap(q.hits) > maxPooledHits {
		q.hits = nil
	}
	clear(q.hits[:cap(q.hits)]) // row data must not outlive the reply
	clear(q.pb[:])
	clear(q.jb[:])
	*q = query{preds: q.preds[:0], joins: q.joins[:0], covered: q.covered[:0], hits: q.hits[:0]}
	queryPool.Put(q)
}

func isKeyword(b []byte, kw string) bool { return eqFoldASCII(b, strings.ToLower(kw)) }

// parseQuery parses `table [WHERE ...] [ORDER BY ...] [LIMIT n] [JOIN f]...`
// (clauses in any order; WHERE and JOIN may repeat, a later ORDER BY or LIMIT
// replaces an earlier one).
func (db *DB) parseQuery(args [][]byte) (*query, error) {
	return db.parseQueryInto(&query{}, args)
}

// parseQueryInto is parseQuery into q, whose preds, joins and scratch
// buffers it reuses.
func (db *DB) parseQueryInto(q *query, args [][]byte) (*query, error) {
	t, err := db.table(args[0])
	if err != nil {
		return nil, err
	}
	q.t, q.preds, q.order, q.desc, q.limit, q.joins = t, q.preds[:0], nil, false, -1, q.joins[:0]
	now := int64(0)
	for i := 1; i < len(args); {
		tok := args[i]
		switch {
		case isKeyword(tok, "where"):
			i++
			for {
				if i+3 > len(args) {
					return nil, ErrIncompleteWhere
				}
				op, ok := parseOp(args[i+1])
				if !ok {
					return nil, errOperator(args[i+1])
				}
				f := t.byName[string(args[i])]
				if f == nil {
					return nil, errWhereField(args[i])
				}
				if f.typ == TypeTimestamp && now == 0 {
					now = db.Now()
				}
				canon, k, err := parseValue(f, args[i+2], now)
				if err != nil {
					return nil, err
				}
				q.preds = append(q.preds, pred{f: f, op: op, k: k, canon: canon})
				i += 3
				if i < len(args) && isKeyword(args[i], "and") {
					i++
					continue
				}
				break
			}
		case isKeyword(tok, "order"):
			i++
			if i >= len(args) || !isKeyword(args[i], "by") {
				return nil, ErrExpectedBy
			}
			i++
			if i >= len(args) {
				return nil, ErrOrderByField
			}
			f := t.byName[string(args[i])]
			if f == nil {
				return nil, errOrderField(args[i])
			}
			q.order, q.desc = f, false
			i++
			if i < len(args) {
				if isKeyword(args[i], "asc") {
					i++
				} else if isKeyword(args[i], "desc") {
					q.desc = true
					i++
				}
			}
		case isKeyword(tok, "limit"):
			i++
			if i >= len(args) {
				return nil, ErrLimitNumber
			}
			n, ok := parseStrictInt(args[i])
			if !ok || n < 0 {
				return nil, ErrLimitValue
			}
			q.limit = n
			i++
		case isKeyword(tok, "join"):
			i++
			if i >= len(args) {
				return nil, ErrJoinField
			}
			f := t.byName[string(args[i])]
			if f == nil {
				return nil, errJoinUnknown(args[i])
			}
			if f.typ != TypeRef {
				return nil, errNotRef(args[i])
			}
			q.joins = append(q.joins, f)
			i++
		default:
			return nil, errKeyword(tok)
		}
	}
	return q, nil
}

// ---- planning ----

type accessKind uint8

const (
	accFull accessKind = iota
	accUnique
	accComp
	accIndexEq
	accIndexRange
	accIndexOrder
	accCompEq
)

type plan struct {
	kind    accessKind
	f       *field // index field (accUnique, accIndexEq, accIndexRange, accIndexOrder)
	comp    *compIndex
	eq      pred   // the equality used (accUnique, accComp, accIndexEq)
	rng     krange // key range (accIndexRange; accComp: on the numeric field)
	desc    bool   // scan direction
	ordered bool   // the scan yields rows in the requested order
	covered []bool // per predicate: guaranteed by the access path
}

// rangeOf intersects the predicates on f that bound it (=, >, >=, <, <=).
func (q *query) rangeOf(f *field) krange {
	var r krange
	for _, p := range q.preds {
		if p.f != f {
			continue
		}
		lo, hi := p.op == opEq || p.op == opGt || p.op == opGe, p.op == opEq || p.op == opLt || p.op == opLe
		incl := p.op == opEq || p.op == opGe || p.op == opLe
		if lo {
			if c := cmpTV(f.typ, p.k, r.lo.k); !r.lo.set || c > 0 || c == 0 && !incl {
				r.lo = bound{k: p.k, set: true, incl: incl}
			}
		}
		if hi {
			if c := cmpTV(f.typ, p.k, r.hi.k); !r.hi.set || c < 0 || c == 0 && !incl {
				r.hi = bound{k: p.k, set: true, incl: incl}
			}
		}
	}
	return r
}

func (q *query) plan() plan {
	p := q.choosePlan()
	// predicates the access path guarantees need no check per row: the
	// equality it looks up, and the conditions its key range was built from
	if cap(q.covered) >= len(q.preds) {
		p.covered = q.covered[:len(q.preds)]
		clear(p.covered)
	} else {
		p.covered = make([]bool, len(q.preds))
		q.covered = p.covered
	}
	for i, pr := range q.preds {
		switch p.kind {
		case accUnique, accIndexEq:
			p.covered[i] = pr.f == p.f && pr.op == opEq && cmpTV(pr.f.typ, pr.k, p.eq.k) == 0
		case accComp:
			p.covered[i] = pr.f == p.comp.r && pr.op == opEq && pr.k.n == p.eq.k.n || pr.f == p.comp.n && pr.op != opNe
		case accCompEq:
			p.covered[i] = pr.f == p.comp.r && pr.op == opEq && pr.k.n == p.eq.k.n
		case accIndexRange:
			p.covered[i] = pr.f == p.f && pr.op != opNe
		}
	}
	return p
}

func (q *query) choosePlan() plan {
	t := q.t
	for _, p := range q.preds {
		if p.op == opEq && p.f.unique {
			return plan{kind: accUnique, f: p.f, eq: p, ordered: true}
		}
	}
	if q.order != nil && q.order.typ.ordered() {
		for _, p := range q.preds {
			if p.op == opEq && p.f.typ == TypeRef {
				if c := t.compFor(p.f, q.order); c != nil {
					return plan{kind: accComp, comp: c, eq: p, rng: q.rangeOf(q.order), desc: q.desc, ordered: true}
				}
			}
		}
	}
	for _, p := range q.preds {
		if p.op == opEq && p.f.idx != nil {
			// one key value: entries come in id order, which is also the
			// order of ORDER BY that same field (all ties)
			return plan{kind: accIndexEq, f: p.f, eq: p, ordered: q.order == nil || q.order == p.f}
		}
	}
	for _, p := range q.preds {
		if p.op == opEq && p.f.typ == TypeRef {
			if c := t.compOf(p.f); c != nil {
				// the ref value's rows, in the composite's order: sorted after
				return plan{kind: accCompEq, comp: c, eq: p}
			}
		}
	}
	for _, p := range q.preds {
		if p.op != opNe && p.f.idx != nil {
			return plan{kind: accIndexRange, f: p.f, rng: q.rangeOf(p.f), desc: q.order == p.f && q.desc, ordered: q.order == p.f}
		}
	}
	if q.order != nil && q.order.idx != nil && q.order.idx.len() == t.count {
		return plan{kind: accIndexOrder, f: q.order, desc: q.desc, ordered: true}
	}
	return plan{kind: accFull, ordered: q.order == nil}
}

// ---- execution ----

// hit is one matching row; k/has are its ORDER BY value.
type hit struct {
	id   int64
	data string
	k    tv
	has  bool
}

type execStats struct {
	examined int
}

// match evaluates the predicates the access path does not guarantee.
func (q *query) match(data string, covered []bool) bool {
	for i := range q.preds {
		if covered[i] {
			continue
		}
		p := &q.preds[i]
		v, has := rowValue(data, p.f.fid)
		if !has {
			if p.op != opNe {
				return false
			}
			continue
		}
		k, ok := canonKey(p.f.typ, v)
		if !ok {
			return false
		}
		c := cmpTV(p.f.typ, k, p.k)
		var m bool
		switch p.op {
		case opEq:
			m = c == 0
		case opNe:
			m = c != 0
		case opGt:
			m = c > 0
		case opLt:
			m = c < 0
		case opGe:
			m = c >= 0
		case opLe:
			m = c <= 0
		}
		if !m {
			return false
		}
	}
	return true
}

// orderKey returns a row's ORDER BY value.
func (q *query) orderKey(data string) (tv, bool) {
	v, has := rowValue(data, q.order.fid)
	if !has {
		return tv{}, false
	}
	k, ok := canonKey(q.order.typ, v)
	return k, ok
}

// cmpOrder compares two hits by the ORDER BY value (missing first), in the
// requested direction.
func (q *query) cmpOrder(a, b *hit) int {
	c := 0
	switch {
	case a.has != b.has:
		c = -1
		if a.has {
			c = 1
		}
	case a.has:
		c = cmpTV(q.order.typ, a.k, b.k)
	}
	if q.desc {
		c = -c
	}
	return c
}

// run executes the query and returns the matching rows in reply order, or
// the error of reading a row from the store.
func (q *query) run(db *DB, p plan, st *execStats) ([]hit, error) {
	t := q.t
	if q.limit == 0 {
		return nil, nil
	}
	var hits []hit
	if p.ordered && q.limit > 0 && q.limit <= 1000 {
		if int64(cap(q.hits)) >= q.limit {
			hits = q.hits[:0]
		} else {
			hits = make([]hit, 0, q.limit)
		}
	}
	var rerr error
	// visit examines one candidate row; it returns false to stop the scan.
	// Ordered scans stop after LIMIT rows; a descending scan reads on to the
	// end of the last key's tie group, which is then put in id order.
	visit := func(id int64, k tv, has bool) bool {
		if p.ordered && q.limit > 0 && int64(len(hits)) >= q.limit {
			if !p.desc {
				return false
			}
			last := hits[len(hits)-1]
			if last.has != has || cmpTV(q.orderType(), last.k, k) != 0 {
				return false
			}
		}
		data, ok, err := db.row(t, id)
		if err != nil {
			rerr = err
			return false
		}
		if !ok {
			return true
		}
		st.examined++
		if q.match(data, p.covered) {
			hits = append(hits, hit{id: id, data: data, k: k, has: has})
		}
		return true
	}
	var serr error
	switch p.kind {
	case accUnique, accIndexEq:
		serr = p.f.idx.scan(krange{lo: bound{k: p.eq.k, set: true, incl: true}, hi: bound{k: p.eq.k, set: true, incl: true}}, false,
			func(_ tv, id int64) bool { return visit(id, tv{}, false) })
	case accComp:
		serr = p.comp.scan(p.eq.k.n, p.rng, p.desc, func(b tv, present bool, id int64) bool { return visit(id, b, present) })
	case accCompEq:
		serr = p.comp.scan(p.eq.k.n, krange{}, false, func(_ tv, _ bool, id int64) bool { return visit(id, tv{}, false) })
	case accIndexRange:
		serr = p.f.idx.scan(p.rng, p.desc, func(k tv, id int64) bool { return visit(id, k, true) })
	case accIndexOrder:
		serr = p.f.idx.scan(krange{}, p.desc, func(k tv, id int64) bool { return visit(id, k, true) })
	default:
		// every row in id order; cold rows are read in one pass and not
		// kept in memory, and only the matching ones are copied
		rerr = db.scanRows(t, true, func(id int64, data string) bool {
			if p.ordered && q.limit > 0 && int64(len(hits)) >= q.limit {
				return false
			}
			st.examined++
			if q.match(data, p.covered) {
				hits = append(hits, hit{id: id, data: strings.Clone(data)})
			}
			return true
		})
	}
	if rerr != nil {
		return nil, rerr
	}
	if serr != nil {
		return nil, errIndexRead(t, serr)
	}
	switch {
	case p.ordered && p.desc:
		// descending index scans yield ties in descending id order
		for i := 0; i < len(hits); {
			j := i + 1
			for j < len(hits) && hits[j].has == hits[i].has && cmpTV(q.orderType(), hits[j].k, hits[i].k) == 0 {
				j++
			}
			for a, b := i, j-1; a < b; a, b = a+1, b-1 {
				hits[a], hits[b] = hits[b], hits[a]
			}
			i = j
		}
	case p.ordered:
	case q.order == nil:
		sort.Slice(hits, func(i, j int) bool { return hits[i].id < hits[j].id })
	default:
		for i := range hits {
			hits[i].k, hits[i].has = q.orderKey(hits[i].data)
		}
		sort.Slice(hits, func(i, j int) bool {
			if c := q.cmpOrder(&hits[i], &hits[j]); c != 0 {
				return c < 0
			}
			return hits[i].id < hits[j].id
		})
	}
	if q.limit >= 0 && int64(len(hits)) > q.limit {
		hits = hits[:q.limit]
	}
	return hits, nil
}

func (q *query) orderType() Type {
	if q.order == nil {
		return TypeInt
	}
	return q.order.typ
}

// Query is TQUERY; args are the command's arguments after its name.
func (db *DB) Query(args [][]byte, w Writer) error {
	pq := queryPool.Get().(*query)
	q, err := db.parseQueryInto(pq, args)
	if err != nil {
		putQuery(pq)
		return err
	}
	var st execStats
	hits, err := q.run(db, q.plan(), &st)
	if err == nil {
		if cap(hits) > cap(q.hits) {
			q.hits = hits[:0] // reused by the next query
		}
		err = db.writeRows(q, hits, w)
	}
	putQuery(pq)
	return err
}

// joined is the referenced table of a JOIN and its prefixed field names.
type joined struct {
	f     *field
	t     *table
	names []string // by rank: "<table>.<field>"
}

// writeRows writes the reply of a query. The joined rows are all read
// first: reading a cold one may fail, and then the reply is that error.
func (db *DB) writeRows(q *query, hits []hit, w Writer) error {
	js := make([]joined, len(q.joins))
	for i, f := range q.joins {
		js[i] = joined{f: f, t: db.tables[f.ref]}
	}
	// jdata[h*len(js)+i]: the row hit h joins through js[i] ("": none)
	var jdata []string
	if len(js) > 0 {
		jdata = make([]string, len(hits)*len(js))
		for h := range hits {
			for i := range js {
				if js[i].t == nil {
					continue
				}
				v, ok := rowValue(hits[h].data, js[i].f.fid)
				if !ok {
					continue
				}
				id, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					continue
				}
				rd, ok, err := db.row(js[i].t, id)
				if err != nil {
					return err
				}
				if ok {
					jdata[h*len(js)+i] = rd
				}
			}
		}
	}
	w.WriteArray(len(hits))
	pb, jb := q.pb[:0], q.jb[:0]
	for h, hit := range hits {
		ps := q.t.pairs(hit.data, pb)
		n := 1 + 2*len(ps)
		var jp [][]pair
		for i := range js {
			var rp []pair
			if rd := jdata[h*len(js)+i]; rd != "" {
				if len(js) == 1 {
					rp = js[i].t.pairs(rd, jb)
				} else {
					rp = js[i].t.pairs(rd, nil)
				}
			}
			jp = append(jp, rp)
			n += 2 * len(rp)
		}
		w.WriteArray(n)
		w.WriteInt64(hit.id)
		for _, p := range ps {
			w.WriteBulkString(p.f.name)
			w.WriteBulkString(p.val)
		}
		for i, rp := range jp {
			j := &js[i]
			for _, p := range rp {
				if j.names == nil {
					j.names = make([]string, len(j.t.byRank))
				}
				if j.names[p.f.rank] == "" {
					j.names[p.f.rank] = j.t.name + "." + p.f.name
				}
				w.WriteBulkString(j.names[p.f.rank])
				w.WriteBulkString(p.val)
			}
		}
	}
	return nil
}

// Explain is TEXPLAIN: it runs the query like TQUERY and describes how,
// one line per step, ending with the rows examined and returned.
func (db *DB) Explain(args [][]byte) ([]string, error) {
	q, err := db.parseQuery(args)
	if err != nil {
		return nil, err
	}
	p := q.plan()
	var st execStats
	hits, err := q.run(db, p, &st)
	if err != nil {
		return nil, err
	}
	t := q.t
	dir := func(desc bool) string {
		if desc {
			return "DESC"
		}
		return "ASC"
	}
	var out []string
	out = append(out, "table: "+t.name+" ("+strconv.Itoa(t.count)+" rows)")
	switch p.kind {
	case accUnique:
		out = append(out, "access: unique index "+p.f.name+" ("+describePred(p.eq)+")")
	case accComp:
		s := "access: composite index (" + p.comp.r.name + ", " + p.comp.n.name + ") (" + describePred(p.eq)
		if p.rng.bounded() {
			s += ", " + describeRange(p.comp.n, p.rng)
		}
		out = append(out, s+") "+dir(p.desc))
	case accIndexEq:
		out = append(out, "access: index "+p.f.name+" ("+describePred(p.eq)+")")
	case accCompEq:
		out = append(out, "access: composite index ("+p.comp.r.name+", "+p.comp.n.name+") ("+describePred(p.eq)+")")
	case accIndexRange:
		out = append(out, "access: index "+p.f.name+" range ("+describeRange(p.f, p.rng)+") "+dir(p.desc))
	case accIndexOrder:
		out = append(out, "access: index "+p.f.name+" in order "+dir(p.desc))
	default:
		out = append(out, "access: full scan in id order")
	}
	if len(q.preds) == 0 {
		out = append(out, "filter: none")
	} else {
		var ps []string
		for _, pr := range q.preds {
			ps = append(ps, describePred(pr))
		}
		out = append(out, "filter: "+strings.Join(ps, " AND "))
	}
	switch {
	case q.order == nil && p.ordered:
		out = append(out, "order: id (scan order)")
	case q.order == nil:
		out = append(out, "order: id (sort)")
	case p.ordered:
		out = append(out, "order: "+q.order.name+" "+dir(q.desc)+" (index order)")
	default:
		out = append(out, "order: "+q.order.name+" "+dir(q.desc)+" (sort)")
	}
	if q.limit >= 0 {
		out = append(out, "limit: "+strconv.FormatInt(q.limit, 10))
	} else {
		out = append(out, "limit: none")
	}
	for _, j := range q.joins {
		out = append(out, "join: "+j.name+" -> "+j.ref)
	}
	out = append(out, "rows examined: "+strconv.Itoa(st.examined), "rows returned: "+strconv.Itoa(len(hits)))
	return out, nil
}

func describePred(p pred) string {
	return p.f.name + " " + opNames[p.op] + " " + qs(p.canon)
}

func describeRange(f *field, r krange) string {
	var parts []string
	if r.lo.set {
		op := ">"
		if r.lo.incl {
			op = ">="
		}
		parts = append(parts, f.name+" "+op+" "+describeKey(f, r.lo.k))
	}
	if r.hi.set {
		op := "<"
		if r.hi.incl {
			op = "<="
		}
		parts = append(parts, f.name+" "+op+" "+describeKey(f, r.hi.k))
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, " AND ")
}

// describeKey renders an index key back as the value's text.
func describeKey(f *field, k tv) string {
	switch f.typ {
	case TypeStr:
		return qs(k.s)
	case TypeBool:
		if k.n == 1 {
			return "true"
		}
		return "false"
	case TypeFloat:
		b := k.n
		if b&signBit != 0 {
			b &^= signBit
		} else {
			b = ^b
		}
		return formatFloat(math.Float64frombits(b))
	}
	return strconv.FormatInt(keyInt(k.n), 10)
}
