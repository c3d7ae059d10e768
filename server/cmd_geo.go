package server

import (
	"bytes"
	"math"
	"slices"
	"strconv"

	"github.com/luxdb/lux-go/storage"
)

// GEO commands: a port of Redis 7.0.15's geo.c. Points live in an ordinary
// sorted set whose scores are the 52-bit interleaved geohashes (geohash.go),
// so GEOADD is a ZADD and a set written by either server reads the same on
// the other. Searches visit the same neighbour boxes, in the same order, as
// Redis, and sort with the same algorithms (glibc's merge sort, Redis's
// pqsort), so even ties come back in Redis's order.

func init() {
	const (
		w   = FlagWrite
		r   = FlagReadOnly
		oom = FlagDenyOOM
		g   = "geo"
	)
	register(
		&Command{Name: "geoadd", Arity: -5, Flags: w | oom, FirstKey: 1, LastKey: 1, Handler: cmdGeoadd, Group: g, Summary: "Adds one or more members to a geospatial index. The key is created if it doesn't exist."},
		&Command{Name: "geodist", Arity: -4, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdGeodist, Group: g, Summary: "Returns the distance between two members of a geospatial index."},
		&Command{Name: "geohash", Arity: -2, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdGeohash, Group: g, Summary: "Returns members from a geospatial index as geohash strings."},
		&Command{Name: "geopos", Arity: -2, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdGeopos, Group: g, Summary: "Returns the longitude and latitude of members from a geospatial index."},
		&Command{Name: "georadius", Arity: -6, Flags: w | oom, FirstKey: 1, LastKey: 1, Keys: georadiusKeys(6), Handler: cmdGeoradius, Group: g, Summary: "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result."},
		&Command{Name: "georadiusbymember", Arity: -5, Flags: w | oom, FirstKey: 1, LastKey: 1, Keys: georadiusKeys(5), Handler: cmdGeoradiusbymember, Group: g, Summary: "Queries a geospatial index for members within a distance from a member, optionally stores the result."},
		&Command{Name: "georadius_ro", Arity: -6, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdGeoradiusRO, Group: g, Summary: "Returns members from a geospatial index that are within a distance from a coordinate."},
		&Command{Name: "georadiusbymember_ro", Arity: -5, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdGeoradiusbymemberRO, Group: g, Summary: "Returns members from a geospatial index that are within a distance from a member."},
		&Command{Name: "geosearch", Arity: -7, Flags: r, FirstKey: 1, LastKey: 1, Handler: cmdGeosearch, Group: g, Summary: "Queries a geospatial index for members inside an area of a box or a circle."},
		&Command{Name: "geosearchstore", Arity: -8, Flags: w | oom, FirstKey: 1, LastKey: 2, Handler: cmdGeosearchstore, Group: g, Summary: "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result."},
	)
}

const (
	msgGeoUnit        = "ERR unsupported unit provided. please use M, KM, FT, MI"
	msgGeoRadius      = "ERR need numeric radius"
	msgGeoRadiusNeg   = "ERR radius cannot be negative"
	msgGeoWidth       = "ERR need numeric width"
	msgGeoHeight      = "ERR need numeric height"
	msgGeoBoxNeg      = "ERR height or width cannot be negative"
	msgGeoMember      = "ERR could not decode requested zset member"
	msgGeoCount       = "ERR COUNT must be > 0"
	msgGeoAnyNeedsCnt = "ERR the ANY argument requires COUNT argument"
)

// georadiusKeys lists GEORADIUS[BYMEMBER]'s keys as COMMAND GETKEYS does in
// Redis 7.0 (its key specs: the source, then the argument after the first
// STORE and after the first STOREDIST, searched from the first option),
// plus the destination the command itself uses when that is another
// argument (the last STORE or STOREDIST, georadiusGetKeys), so every key
// the command writes is locked.
// start is the key specs' "startfrom": 6 for GEORADIUS, 5 BYMEMBER.
func georadiusKeys(start int) func(args [][]byte) [][]byte {
	return func(args [][]byte) [][]byte { return georadiusKeyArgs(args, start) }
}

func georadiusKeyArgs(args [][]byte, start int) [][]byte {
	out := [][]byte{args[1]}
	var pos []int
	for _, kw := range []string{"store", "storedist"} {
		for i := start; i < len(args)-1; i++ {
			if cEqFold(args[i], kw) {
				pos = append(pos, i+1)
				break
			}
		}
	}
	stored := -1
	for i := 5; i < len(args); i++ {
		if (cEqFold(args[i], "store") || cEqFold(args[i], "storedist")) && i+1 < len(args) {
			stored = i + 1
			i++
		}
	}
	if stored >= 0 && !slices.Contains(pos, stored) {
		pos = append(pos, stored)
	}
	for _, p := range pos {
		out = append(out, args[p])
	}
	return out
}

// cEqFold is strcasecmp(arg, lower) == 0 on Redis's C string: the argument
// ends at its first NUL byte.
func cEqFold(b []byte, lower string) bool {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return eqFold(b, lower)
}

// writeHumanDouble is addReplyHumanLongDouble: ld2string's LD_STR_HUMAN
// text ("%.17Lf" without trailing zeros) as a bulk string (RESP2) or a
// double (RESP3).
func (c *Client) writeHumanDouble(f float64) {
	s := geoHumanDouble(f)
	if c.resp == 3 {
		c.WriteRaw([]byte("," + s + "\r\n"))
		return
	}
	c.WriteBulkString(s)
}

func geoHumanDouble(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	b := strconv.AppendFloat(nil, f, 'f', 17, 64)
	if bytes.IndexByte(b, '.') >= 0 {
		b = bytes.TrimRight(b, "0")
		b = bytes.TrimSuffix(b, []byte("."))
	}
	if string(b) == "-0" {
		return "0"
	}
	return string(b)
}

// geoDistance is fixedpoint_d2string(d, 4): llrint(d*10^4) printed with 4
// decimals (NaN and overflow print LLONG_MIN's digits, as x86 llrint gives).
func geoDistance(d float64) string {
	if d == 0 {
		return "0.0000"
	}
	x := math.RoundToEven(d * 10000)
	var sv int64
	if x != x || x >= 9223372036854775808.0 || x < -9223372036854775808.0 {
		sv = math.MinInt64
	} else {
		sv = int64(x)
	}
	neg := sv < 0
	var v uint64
	if neg {
		v = uint64(-(sv + 1)) + 1
	} else {
		v = uint64(sv)
	}
	digits := strconv.FormatUint(v, 10)
	for len(digits) < 5 {
		digits = "0" + digits
	}
	s := digits[:len(digits)-4] + "." + digits[len(digits)-4:]
	if neg {
		s = "-" + s
	}
	return s
}

// cFormatF is C's printf("%f") for the error texts.
func cFormatF(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'f', 6, 64)
}

// geoParseDouble is getDoubleFromObjectOrReply (msg "" = the generic one).
func geoParseDouble(c *Client, b []byte, msg string) (float64, bool) {
	v, ok := zParseScore(b)
	if !ok {
		if msg == "" {
			msg = msgNotFloat
		}
		c.WriteError(msg)
		return 0, false
	}
	return v, true
}

// extractLongLat is extractLongLatOrReply.
func extractLongLat(c *Client, args [][]byte, xy *[2]float64) bool {
	for i := 0; i < 2; i++ {
		v, ok := geoParseDouble(c, args[i], "")
		if !ok {
			return false
		}
		xy[i] = v
	}
	if xy[0] < geoLongMin || xy[0] > geoLongMax || xy[1] < geoLatMin || xy[1] > geoLatMax {
		c.WriteError("ERR invalid longitude,latitude pair " + cFormatF(xy[0]) + "," + cFormatF(xy[1]))
		return false
	}
	return true
}

// extractUnit is extractUnitOrReply: meters per unit, or -1 after an error.
func extractUnit(c *Client, u []byte) float64 {
	switch {
	case cEqFold(u, "m"):
		return 1
	case cEqFold(u, "km"):
		return 1000
	case cEqFold(u, "ft"):
		return 0.3048
	case cEqFold(u, "mi"):
		return 1609.34
	}
	c.WriteError(msgGeoUnit)
	return -1
}

func extractDistance(c *Client, args [][]byte, shape *geoShape) bool {
	d, ok := geoParseDouble(c, args[0], msgGeoRadius)
	if !ok {
		return false
	}
	if d < 0 {
		c.WriteError(msgGeoRadiusNeg)
		return false
	}
	shape.radius = d
	conv := extractUnit(c, args[1])
	if conv < 0 {
		return false
	}
	shape.conversion = conv
	return true
}

func extractBox(c *Client, args [][]byte, shape *geoShape) bool {
	w, ok := geoParseDouble(c, args[0], msgGeoWidth)
	if !ok {
		return false
	}
	h, ok := geoParseDouble(c, args[1], msgGeoHeight)
	if !ok {
		return false
	}
	if h < 0 || w < 0 {
		c.WriteError(msgGeoBoxNeg)
		return false
	}
	shape.width, shape.height = w, h
	conv := extractUnit(c, args[2])
	if conv < 0 {
		return false
	}
	shape.conversion = conv
	return true
}

// longLatFromMember is longLatFromMember: the member's decoded position.
func longLatFromMember(z *storage.ZSet, m []byte, xy *[2]float64) bool {
	score, ok := z.Score(m)
	if !ok {
		return false
	}
	return decodeGeohash(score, xy)
}

// geoPoint is one search result.
type geoPoint struct {
	longitude, latitude float64
	dist                float64
	score               float64
	member              []byte
}

// geoWithinShape reports whether the point of score lies in shape, with
// its position and distance from the centre.
func geoWithinShape(shape *geoShape, score float64, xy *[2]float64, distance *float64) bool {
	if !decodeGeohash(score, xy) {
		return false
	}
	if !shape.box {
		limit := shape.radius * shape.conversion
		if clearlyOver(geohashGetDistanceFast(shape.xy[0], shape.xy[1], xy[0], xy[1]), limit) {
			return false
		}
		*distance = geohashGetDistance(shape.xy[0], shape.xy[1], xy[0], xy[1])
		return !(*distance > limit)
	}
	return geohashGetDistanceIfInRectangle(shape.width*shape.conversion, shape.height*shape.conversion,
		shape.xy[0], shape.xy[1], xy[0], xy[1], distance)
}

// geoGetPointsInRange appends the members with min <= score < max that lie
// in shape, stopping at limit results in all (0 = no limit).
func geoGetPointsInRange(z *storage.ZSet, min, max float64, shape *geoShape, ga *[]geoPoint, limit uint64) {
	lo := z.SearchScore(func(s float64) bool { return s >= min })
	if lo >= z.Len() {
		return
	}
	z.Range(lo, z.Len(), false, func(m []byte, score float64) bool {
		if !(score < max) {
			return false
		}
		var xy [2]float64
		var dist float64
		if geoWithinShape(shape, score, &xy, &dist) {
			*ga = append(*ga, geoPoint{longitude: xy[0], latitude: xy[1], dist: dist, score: score, member: append([]byte(nil), m...)})
		}
		return !(len(*ga) > 0 && limit > 0 && uint64(len(*ga)) >= limit)
	})
}

// membersOfAllNeighbors searches the centre box and its neighbours, in
// Redis's order, skipping a box equal to the one searched just before.
func membersOfAllNeighbors(z *storage.ZSet, n *geoHashRadius, shape *geoShape, ga *[]geoPoint, limit uint64) {
	nb := [9]geoHashBits{n.hash, n.neighbors.north, n.neighbors.south, n.neighbors.east, n.neighbors.west,
		n.neighbors.northEast, n.neighbors.northWest, n.neighbors.southEast, n.neighbors.southWest}
	last := 0
	for i := range nb {
		if nb[i].isZero() {
			continue
		}
		if last != 0 && nb[i] == nb[last] {
			continue
		}
		if len(*ga) > 0 && limit > 0 && uint64(len(*ga)) >= limit {
			break
		}
		min := geohashAlign52Bits(nb[i])
		h := nb[i]
		h.bits++
		max := geohashAlign52Bits(h)
		geoGetPointsInRange(z, float64(min), float64(max), shape, ga, limit)
		last = i
	}
}

// geoCmpAsc is sort_gp_asc.
func geoCmpAsc(a, b *geoPoint) int {
	if a.dist > b.dist {
		return 1
	} else if a.dist == b.dist {
		return 0
	}
	return -1
}

func geoCmpDesc(a, b *geoPoint) int { return -geoCmpAsc(a, b) }

// geoMsort is glibc's qsort (a stable top-down merge sort: msort_with_tmp).
func geoMsort(a []geoPoint, cmp func(a, b *geoPoint) int) {
	tmp := make([]geoPoint, len(a))
	var rec func(b []geoPoint)
	rec = func(b []geoPoint) {
		n := len(b)
		if n <= 1 {
			return
		}
		n1 := n / 2
		b1, b2 := b[:n1], b[n1:]
		rec(b1)
		rec(b2)
		t := tmp[:0]
		i, j := 0, 0
		for i < len(b1) && j < len(b2) {
			if cmp(&b1[i], &b2[j]) <= 0 {
				t = append(t, b1[i])
				i++
			} else {
				t = append(t, b2[j])
				j++
			}
		}
		t = append(t, b1[i:]...)
		// what remains of b2 is already in place
		copy(b, t)
	}
	rec(a)
}

// geoPqsort is Redis's pqsort (pqsort.c): a Bentley-McIlroy quicksort that
// only sorts the parts overlapping the ranks [lrange, rrange].
func geoPqsort(a []geoPoint, cmp func(a, b *geoPoint) int, lrange, rrange int) {
	pqsortRec(a, 0, len(a), cmp, lrange, rrange)
}

func pqsortMed3(a []geoPoint, x, y, z int, cmp func(a, b *geoPoint) int) int {
	if cmp(&a[x], &a[y]) < 0 {
		if cmp(&a[y], &a[z]) < 0 {
			return y
		}
		if cmp(&a[x], &a[z]) < 0 {
			return z
		}
		return x
	}
	if cmp(&a[y], &a[z]) > 0 {
		return y
	}
	if cmp(&a[x], &a[z]) < 0 {
		return x
	}
	return z
}

func pqsortRec(a []geoPoint, base, n int, cmp func(a, b *geoPoint) int, L, R int) {
	swap := func(i, j int) { a[i], a[j] = a[j], a[i] }
	vecswap := func(i, j, k int) {
		for ; k > 0; k-- {
			swap(i, j)
			i++
			j++
		}
	}
	outside := func(s, k int) bool { return (L < s && R < s) || (L >= s+k && R >= s+k) }
	for {
		if n < 7 {
			for pm := base + 1; pm < base+n; pm++ {
				for pl := pm; pl > base && cmp(&a[pl-1], &a[pl]) > 0; pl-- {
					swap(pl, pl-1)
				}
			}
			return
		}
		pm := base + n/2
		if n > 7 {
			pl := base
			pn := base + n - 1
			if n > 40 {
				d := n / 8
				pl = pqsortMed3(a, pl, pl+d, pl+2*d, cmp)
				pm = pqsortMed3(a, pm-d, pm, pm+d, cmp)
				pn = pqsortMed3(a, pn-2*d, pn-d, pn, cmp)
			}
			pm = pqsortMed3(a, pl, pm, pn, cmp)
		}
		swap(base, pm)
		pa, pb := base+1, base+1
		pc, pd := base+n-1, base+n-1
		for {
			for pb <= pc {
				r := cmp(&a[pb], &a[base])
				if r > 0 {
					break
				}
				if r == 0 {
					swap(pa, pb)
					pa++
				}
				pb++
			}
			for pb <= pc {
				r := cmp(&a[pc], &a[base])
				if r < 0 {
					break
				}
				if r == 0 {
					swap(pc, pd)
					pd--
				}
				pc--
			}
			if pb > pc {
				break
			}
			swap(pb, pc)
			pb++
			pc--
		}
		pn := base + n
		r := min(pa-base, pb-pa)
		vecswap(base, pb-r, r)
		r = min(pd-pc, pn-pd-1)
		vecswap(pb, pn-r, r)
		if r = pb - pa; r > 1 && !outside(base, r) {
			pqsortRec(a, base, r, cmp, L, R)
		}
		if r = pd - pc; r > 1 {
			base = pn - r
			n = r
			if !outside(base, n) {
				continue
			}
		}
		return
	}
}

// ---- GEOADD ----

func cmdGeoadd(c *Client, args [][]byte) {
	xx, nx := false, false
	longidx := 2
	for longidx < len(args) {
		opt := args[longidx]
		if cEqFold(opt, "nx") {
			nx = true
		} else if cEqFold(opt, "xx") {
			xx = true
		} else if cEqFold(opt, "ch") {
		} else {
			break
		}
		longidx++
	}
	if (len(args)-longidx)%3 != 0 || (xx && nx) {
		c.WriteError(msgSyntax)
		return
	}
	elements := (len(args) - longidx) / 3
	zargs := make([][]byte, 0, longidx+elements*2)
	zargs = append(zargs, []byte("zadd"))
	zargs = append(zargs, args[1:longidx]...)
	for i := 0; i < elements; i++ {
		var xy [2]float64
		if !extractLongLat(c, args[longidx+i*3:], &xy) {
			return
		}
		var hash geoHashBits
		geohashEncodeWGS84(xy[0], xy[1], geoStepMax, &hash)
		bits := geohashAlign52Bits(hash)
		zargs = append(zargs, strconv.AppendUint(nil, bits, 10), args[longidx+i*3+2])
	}
	zaddGeneric(c, zargs, 0)
}

// ---- GEORADIUS, GEOSEARCH and friends ----

const (
	geoSortNone = iota
	geoSortAsc
	geoSortDesc
)

const (
	radiusCoords   = 1 << iota // search around coordinates
	radiusMember               // search around a member
	radiusNoStore              // no STORE/STOREDIST
	geoSearch                  // GEOSEARCH's arguments
	geoSearchStore             // GEOSEARCHSTORE: STOREDIST only
)

func cmdGeoradius(c *Client, args [][]byte)         { georadiusGeneric(c, args, 1, radiusCoords) }
func cmdGeoradiusbymember(c *Client, args [][]byte) { georadiusGeneric(c, args, 1, radiusMember) }
func cmdGeoradiusRO(c *Client, args [][]byte) {
	georadiusGeneric(c, args, 1, radiusCoords|radiusNoStore)
}
func cmdGeoradiusbymemberRO(c *Client, args [][]byte) {
	georadiusGeneric(c, args, 1, radiusMember|radiusNoStore)
}
func cmdGeosearch(c *Client, args [][]byte) { georadiusGeneric(c, args, 1, geoSearch) }
func cmdGeosearchstore(c *Client, args [][]byte) {
	georadiusGeneric(c, args, 2, geoSearch|geoSearchStore)
}

func georadiusGeneric(c *Client, args [][]byte, srcKeyIndex int, flags int) {
	var storekey []byte
	storedist := false

	_, z, ok := lookupZSet(c, args[srcKeyIndex], false)
	if !ok {
		return
	}

	var baseArgs int
	var shape geoShape
	switch {
	case flags&radiusCoords != 0:
		baseArgs = 6
		if !extractLongLat(c, args[2:], &shape.xy) {
			return
		}
		if !extractDistance(c, args[baseArgs-2:], &shape) {
			return
		}
	case flags&radiusMember != 0 && z == nil:
		baseArgs = 5
	case flags&radiusMember != 0:
		baseArgs = 5
		if !longLatFromMember(z, args[2], &shape.xy) {
			c.WriteError(msgGeoMember)
			return
		}
		if !extractDistance(c, args[baseArgs-2:], &shape) {
			return
		}
	case flags&geoSearch != 0:
		baseArgs = 2
		if flags&geoSearchStore != 0 {
			baseArgs = 3
			storekey = args[1]
		}
	}

	withdist, withhash, withcoords := false, false, false
	frommember, fromloc, byradius, bybox := false, false, false, false
	sort := geoSortNone
	anyFlag := false
	var count int64
	if len(args) > baseArgs {
		remaining := len(args) - baseArgs
		for i := 0; i < remaining; i++ {
			arg := args[baseArgs+i]
			switch {
			case cEqFold(arg, "withdist"):
				withdist = true
			case cEqFold(arg, "withhash"):
				withhash = true
			case cEqFold(arg, "withcoord"):
				withcoords = true
			case cEqFold(arg, "any"):
				anyFlag = true
			case cEqFold(arg, "asc"):
				sort = geoSortAsc
			case cEqFold(arg, "desc"):
				sort = geoSortDesc
			case cEqFold(arg, "count") && i+1 < remaining:
				n, ok := parseInt(args[baseArgs+i+1])
				if !ok {
					c.WriteError(msgNotInt)
					return
				}
				if n <= 0 {
					c.WriteError(msgGeoCount)
					return
				}
				count = n
				i++
			case cEqFold(arg, "store") && i+1 < remaining && flags&radiusNoStore == 0 && flags&geoSearch == 0:
				storekey = args[baseArgs+i+1]
				storedist = false
				i++
			case cEqFold(arg, "storedist") && i+1 < remaining && flags&radiusNoStore == 0 && flags&geoSearch == 0:
				storekey = args[baseArgs+i+1]
				storedist = true
				i++
			case cEqFold(arg, "storedist") && flags&geoSearch != 0 && flags&geoSearchStore != 0:
				storedist = true
			case cEqFold(arg, "frommember") && i+1 < remaining && flags&geoSearch != 0 && !fromloc:
				if z == nil {
					frommember = true
					i++
					continue
				}
				if !longLatFromMember(z, args[baseArgs+i+1], &shape.xy) {
					c.WriteError(msgGeoMember)
					return
				}
				frommember = true
				i++
			case cEqFold(arg, "fromlonlat") && i+2 < remaining && flags&geoSearch != 0 && !frommember:
				if !extractLongLat(c, args[baseArgs+i+1:], &shape.xy) {
					return
				}
				fromloc = true
				i += 2
			case cEqFold(arg, "byradius") && i+2 < remaining && flags&geoSearch != 0 && !bybox:
				if !extractDistance(c, args[baseArgs+i+1:], &shape) {
					return
				}
				shape.box = false
				byradius = true
				i += 2
			case cEqFold(arg, "bybox") && i+3 < remaining && flags&geoSearch != 0 && !byradius:
				if !extractBox(c, args[baseArgs+i+1:], &shape) {
					return
				}
				shape.box = true
				bybox = true
				i += 3
			default:
				c.WriteError(msgSyntax)
				return
			}
		}
	}

	if storekey != nil && (withdist || withhash || withcoords) {
		what := "STORE option in GEORADIUS"
		if flags&geoSearchStore != 0 {
			what = "GEOSEARCHSTORE"
		}
		c.WriteError("ERR " + what + " is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
		return
	}
	if flags&geoSearch != 0 && !(frommember || fromloc) {
		c.WriteError("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for " + cString(args[0]))
		return
	}
	if flags&geoSearch != 0 && !(byradius || bybox) {
		c.WriteError("ERR exactly one of BYRADIUS and BYBOX can be specified for " + cString(args[0]))
		return
	}
	if anyFlag && count == 0 {
		c.WriteError(msgGeoAnyNeedsCnt)
		return
	}

	db := c.DB()
	if z == nil {
		if storekey != nil {
			db.Delete(storekey)
			c.WriteInt(0)
		} else {
			c.WriteArray(0)
		}
		return
	}

	if count != 0 && sort == geoSortNone && !anyFlag {
		sort = geoSortAsc
	}

	radius := geohashCalculateAreasByShape(&shape)
	var ga []geoPoint
	var limit uint64
	if anyFlag {
		limit = uint64(count)
	}
	membersOfAllNeighbors(z, &radius, &shape, &ga, limit)

	if len(ga) == 0 && storekey == nil {
		c.WriteArray(0)
		return
	}

	resultLength := len(ga)
	returned := resultLength
	if count != 0 && int64(resultLength) > count {
		returned = int(count)
	}

	if sort != geoSortNone {
		cmp := geoCmpAsc
		if sort == geoSortDesc {
			cmp = geoCmpDesc
		}
		if returned == resultLength {
			geoMsort(ga, cmp)
		} else {
			geoPqsort(ga, cmp, 0, returned-1)
		}
	}

	if storekey == nil {
		optionLength := 0
		if withdist {
			optionLength++
		}
		if withcoords {
			optionLength++
		}
		if withhash {
			optionLength++
		}
		c.WriteArray(returned)
		for i := 0; i < returned; i++ {
			gp := &ga[i]
			gp.dist /= shape.conversion
			if optionLength > 0 {
				c.WriteArray(optionLength + 1)
			}
			c.WriteBulk(gp.member)
			if withdist {
				c.WriteBulkString(geoDistance(gp.dist))
			}
			if withhash {
				c.WriteInt64(cvttsd2si(gp.score))
			}
			if withcoords {
				c.WriteArray(2)
				c.writeHumanDouble(gp.longitude)
				c.writeHumanDouble(gp.latitude)
			}
		}
		return
	}

	if returned == 0 {
		db.Delete(storekey)
		c.WriteInt(0)
		return
	}
	b := storage.NewZSetBuilder(returned)
	// Redis asserts members are unique; they are unless a huge search visits
	// one box twice (not consecutively), which would crash Redis: keep the first.
	seen := make(map[string]struct{}, returned)
	for i := 0; i < returned; i++ {
		gp := &ga[i]
		gp.dist /= shape.conversion
		score := gp.score
		if storedist {
			score = gp.dist
		}
		if _, dup := seen[string(gp.member)]; dup {
			continue
		}
		seen[string(gp.member)] = struct{}{}
		b.Add(gp.member, score)
	}
	event := "georadiusstore"
	if flags&geoSearch != 0 {
		event = "geosearchstore"
	}
	zStore(db, storekey, b.Finish(), event)
	c.WriteInt(returned)
}

// cString is an argument as C's %s prints it (up to its first NUL byte).
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// ---- GEOHASH, GEOPOS, GEODIST ----

const geoAlphabet = "0123456789bcdefghjkmnpqrstuvwxyz"

func cmdGeohash(c *Client, args [][]byte) {
	_, z, ok := lookupZSet(c, args[1], false)
	if !ok {
		return
	}
	c.WriteArray(len(args) - 2)
	for _, m := range args[2:] {
		if z == nil {
			c.WriteNull()
			continue
		}
		score, found := z.Score(m)
		if !found {
			c.WriteNull()
			continue
		}
		var xy [2]float64
		if !decodeGeohash(score, &xy) {
			c.WriteNull()
			continue
		}
		var hash geoHashBits
		geohashEncode(geoHashRange{-180, 180}, geoHashRange{-90, 90}, xy[0], xy[1], 26, &hash)
		var buf [11]byte
		for i := 0; i < 11; i++ {
			idx := 0
			if i != 10 {
				idx = int((hash.bits >> (52 - (i+1)*5)) & 0x1f)
			}
			buf[i] = geoAlphabet[idx]
		}
		c.WriteBulk(buf[:])
	}
}

func cmdGeopos(c *Client, args [][]byte) {
	_, z, ok := lookupZSet(c, args[1], false)
	if !ok {
		return
	}
	c.WriteArray(len(args) - 2)
	for _, m := range args[2:] {
		if z == nil {
			c.WriteNullArray()
			continue
		}
		score, found := z.Score(m)
		var xy [2]float64
		if !found || !decodeGeohash(score, &xy) {
			c.WriteNullArray()
			continue
		}
		c.WriteArray(2)
		c.writeHumanDouble(xy[0])
		c.writeHumanDouble(xy[1])
	}
}

func cmdGeodist(c *Client, args [][]byte) {
	toMeter := 1.0
	if len(args) == 5 {
		toMeter = extractUnit(c, args[4])
		if toMeter < 0 {
			return
		}
	} else if len(args) > 5 {
		c.WriteError(msgSyntax)
		return
	}
	_, z, ok := lookupZSet(c, args[1], false)
	if !ok {
		return
	}
	if z == nil {
		c.WriteNull()
		return
	}
	s1, ok1 := z.Score(args[2])
	s2, ok2 := z.Score(args[3])
	if !ok1 || !ok2 {
		c.WriteNull()
		return
	}
	var a, b [2]float64
	if !decodeGeohash(s1, &a) || !decodeGeohash(s2, &b) {
		c.WriteNull()
		return
	}
	c.WriteBulkString(geoDistance(geohashGetDistance(a[0], a[1], b[0], b[1]) / toMeter))
}
