package server

import (
	"math"
	"math/big"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Expected replies were recorded from redis-server 7.0.15.

// gArr is an array of already encoded RESP items.
func gArr(items ...string) string {
	return "*" + strconv.Itoa(len(items)) + "\r\n" + strings.Join(items, "")
}

func gDouble3(s string) string { return "," + s + "\r\n" }

const (
	palermoScore = "3479099956230698"
	cataniaScore = "3479447370796909"
	palermoLon   = "13.36138933897018433"
	palermoLat   = "38.11555639549629859"
	cataniaLon   = "15.08726745843887329"
	cataniaLat   = "37.50266842333162032"
)

func geoSicily(t *testing.T, r *rawConn) {
	t.Helper()
	require.Equal(t, zInt(2), r.do("GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"))
}

func TestGeoAddScoresAndOptions(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	geoSicily(t, r)
	zRun(t, r, []zStep{
		{zc("ZSCORE", "Sicily", "Palermo"), zBulk(palermoScore)},
		{zc("ZSCORE", "Sicily", "Catania"), zBulk(cataniaScore)},
		{zc("TYPE", "Sicily"), "+zset\r\n"},
		// NX adds only new members, XX only updates, CH counts updates
		{zc("GEOADD", "Sicily", "NX", "13.4", "38.1", "Palermo", "15.5", "37", "Siracusa"), zInt(1)},
		{zc("ZSCORE", "Sicily", "Palermo"), zBulk(palermoScore)},
		{zc("GEOADD", "Sicily", "XX", "13.4", "38.1", "Palermo", "1", "1", "nosuch"), zInt(0)},
		{zc("ZSCORE", "Sicily", "nosuch"), zNull},
		{zc("GEOADD", "Sicily", "XX", "CH", "13.361389", "38.115556", "Palermo"), zInt(1)},
		{zc("GEOADD", "Sicily", "CH", "13.361389", "38.115556", "Palermo", "2", "2", "new"), zInt(1)},
		{zc("GEOADD", "Sicily", "ch", "nx", "2", "2", "new"), zInt(0)},
		{zc("ZSCORE", "Sicily", "Palermo"), zBulk(palermoScore)},
		// the corners of the Mercator range, and zero
		{zc("GEOADD", "edge", "180", "85.05112878", "ne", "-180", "-85.05112878", "sw", "0", "0", "zero"), zInt(3)},
		{zc("ZRANGE", "edge", "0", "-1", "WITHSCORES"), zArr("sw", "0", "zero", "3377699720527872", "ne", "13510798882111488")},
		{zc("GEOPOS", "edge", "ne", "sw", "zero"), gArr(gArr(zBulk("180"), zBulk("85.0511287799999991")), gArr(zBulk("-179.99999731779098511"), zBulk("-85.05112751263942528")), gArr(zBulk("0.00000268220901489"), zBulk("0.00000126736058093")))},
	})
}

func TestGeoAddErrors(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	zRun(t, r, []zStep{
		{zc("GEOADD", "k", "1", "2"), zErr("ERR wrong number of arguments for 'geoadd' command")},
		{zc("GEOADD", "k", "1", "2", "a", "3"), zErr(msgSyntax)},
		{zc("GEOADD", "k", "NX", "XX", "1", "2", "a"), zErr(msgSyntax)},
		{zc("GEOADD", "k", "ch", "ch", "ch"), zErr(msgSyntax)},
		{zc("GEOADD", "k", "GT", "1", "2", "a"), zErr(msgSyntax)},
		{zc("GEOADD", "k", "181", "0", "a"), zErr("ERR invalid longitude,latitude pair 181.000000,0.000000")},
		{zc("GEOADD", "k", "0", "-85.06", "a"), zErr("ERR invalid longitude,latitude pair 0.000000,-85.060000")},
		{zc("GEOADD", "k", "inf", "-inf", "a"), zErr("ERR invalid longitude,latitude pair inf,-inf")},
		{zc("GEOADD", "k", "1e30", "0", "a"), zErr("ERR invalid longitude,latitude pair 1000000000000000019884624838656.000000,0.000000")},
		{zc("GEOADD", "k", "abc", "0", "a"), zErr(msgNotFloat)},
		{zc("GEOADD", "k", "0", "nan", "a"), zErr(msgNotFloat)},
		{zc("GEOADD", "k", " 1", "0", "a"), zErr(msgNotFloat)},
		// a later invalid pair fails the whole command
		{zc("GEOADD", "k", "1", "1", "a", "200", "200", "b"), zErr("ERR invalid longitude,latitude pair 200.000000,200.000000")},
		{zc("EXISTS", "k"), zInt(0)},
		{zc("SET", "str", "x"), zOK},
		{zc("GEOADD", "str", "1", "1", "a"), zErr(msgWrongType)},
		// coordinates are checked before the type
		{zc("GEOADD", "str", "1", "100", "a"), zErr("ERR invalid longitude,latitude pair 1.000000,100.000000")},
	})
}

func TestGeoPosHashDist(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	geoSicily(t, r)
	r.do("SET", "str", "x")
	zRun(t, r, []zStep{
		{zc("GEOPOS", "Sicily", "Palermo", "nosuch", "Catania"), gArr(gArr(zBulk(palermoLon), zBulk(palermoLat)), zNullArray, gArr(zBulk(cataniaLon), zBulk(cataniaLat)))},
		{zc("GEOPOS", "Sicily"), zEmpty},
		{zc("GEOPOS", "nokey", "a", "b"), gArr(zNullArray, zNullArray)},
		{zc("GEOPOS", "str", "a"), zErr(msgWrongType)},
		{zc("GEOHASH", "Sicily", "Palermo", "Catania", "nosuch"), gArr(zBulk("sqc8b49rny0"), zBulk("sqdtr74hyu0"), zNull)},
		{zc("GEOHASH", "nokey", "a"), gArr(zNull)},
		{zc("GEOHASH", "str", "a"), zErr(msgWrongType)},
		{zc("GEODIST", "Sicily", "Palermo", "Catania"), zBulk("166274.1516")},
		{zc("GEODIST", "Sicily", "Palermo", "Catania", "m"), zBulk("166274.1516")},
		{zc("GEODIST", "Sicily", "Palermo", "Catania", "KM"), zBulk("166.2742")},
		{zc("GEODIST", "Sicily", "Palermo", "Catania", "ft"), zBulk("545518.8700")},
		{zc("GEODIST", "Sicily", "Palermo", "Catania", "mi"), zBulk("103.3182")},
		{zc("GEODIST", "Sicily", "Palermo", "Palermo"), zBulk("0.0000")},
		{zc("GEODIST", "Sicily", "Palermo", "nosuch"), zNull},
		{zc("GEODIST", "nokey", "a", "b"), zNull},
		{zc("GEODIST", "nokey", "a", "b", "yards"), zErr(msgGeoUnit)},
		{zc("GEODIST", "Sicily", "Palermo", "Catania", "km", "x"), zErr(msgSyntax)},
		{zc("GEODIST", "str", "a", "b"), zErr(msgWrongType)},
		{zc("GEODIST", "Sicily", "Palermo"), zErr("ERR wrong number of arguments for 'geodist' command")},
	})
	// RESP3: coordinates are doubles, nulls are _
	require.Contains(t, r.do("HELLO", "3"), "proto")
	zRun(t, r, []zStep{
		{zc("GEOPOS", "Sicily", "Palermo", "nosuch"), gArr(gArr(gDouble3(palermoLon), gDouble3(palermoLat)), "_\r\n")},
		{zc("GEODIST", "Sicily", "Palermo", "Catania", "km"), zBulk("166.2742")},
		{zc("GEODIST", "Sicily", "Palermo", "x"), "_\r\n"},
	})
}

func TestGeoSearchReplies(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	geoSicily(t, r)
	palermo := func(opts ...string) string {
		var items []string
		items = append(items, zBulk("Palermo"))
		for _, o := range opts {
			switch o {
			case "dist":
				items = append(items, zBulk("190.4424"))
			case "hash":
				items = append(items, ":"+palermoScore+"\r\n")
			case "coord":
				items = append(items, gArr(zBulk(palermoLon), zBulk(palermoLat)))
			}
		}
		return gArr(items...)
	}
	catania := func(opts ...string) string {
		var items []string
		items = append(items, zBulk("Catania"))
		for _, o := range opts {
			switch o {
			case "dist":
				items = append(items, zBulk("56.4413"))
			case "hash":
				items = append(items, ":"+cataniaScore+"\r\n")
			case "coord":
				items = append(items, gArr(zBulk(cataniaLon), zBulk(cataniaLat)))
			}
		}
		return gArr(items...)
	}
	zRun(t, r, []zStep{
		{zc("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC"), zArr("Catania", "Palermo")},
		{zc("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "DESC"), zArr("Palermo", "Catania")},
		{zc("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "100", "km"), zArr("Catania")},
		{zc("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC", "WITHDIST"), gArr(catania("dist"), palermo("dist"))},
		// the fields come as dist, hash, coord whatever the order asked
		{zc("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC", "WITHCOORD", "WITHHASH", "WITHDIST"), gArr(catania("dist", "hash", "coord"), palermo("dist", "hash", "coord"))},
		{zc("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "ASC", "WITHCOORD"), gArr(catania("coord"), palermo("coord"))},
		{zc("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "100", "km", "ASC"), zEmpty},
		{zc("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "200", "km", "WITHDIST", "ASC"), gArr(gArr(zBulk("Palermo"), zBulk("0.0000")), gArr(zBulk("Catania"), zBulk("166.2742")))},
		// COUNT implies ASC unless ANY
		{zc("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "1"), zArr("Catania")},
		{zc("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "1", "DESC"), zArr("Palermo")},
		{zc("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "1", "ANY"), zArr("Palermo")},
		{zc("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "9223372036854775807"), zArr("Catania", "Palermo")},
		{zc("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "inf", "km", "COUNT", "1"), zArr("Catania")},
		{zc("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m"), zEmpty},
		{zc("GEOSEARCH", "nokey", "FROMMEMBER", "x", "BYRADIUS", "1", "m"), zEmpty},
		{zc("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH", "ASC"), gArr(catania("dist", "hash", "coord"), palermo("dist", "hash", "coord"))},
		{zc("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "DESC"), zArr("Palermo", "Catania")},
		{zc("GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "ASC"), zArr("Palermo", "Catania")},
		{zc("GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "100", "km"), zArr("Palermo")},
	})
	require.Contains(t, r.do("HELLO", "3"), "proto")
	zRun(t, r, []zStep{
		{zc("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "100", "km", "WITHCOORD", "WITHDIST"),
			gArr(gArr(zBulk("Catania"), zBulk("56.4413"), gArr(gDouble3(cataniaLon), gDouble3(cataniaLat))))},
		{zc("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m"), zEmpty},
	})
}

func TestGeoSearchErrors(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	geoSicily(t, r)
	r.do("SET", "str", "x")
	const from = "FROMMEMBER"
	zRun(t, r, []zStep{
		{zc("GEOSEARCH", "Sicily", from, "Palermo", "BYRADIUS", "1", "yards"), zErr(msgGeoUnit)},
		{zc("GEOSEARCH", "Sicily", from, "Palermo", "BYRADIUS", "x", "km"), zErr("ERR need numeric radius")},
		{zc("GEOSEARCH", "Sicily", from, "Palermo", "BYRADIUS", "-1", "km"), zErr("ERR radius cannot be negative")},
		{zc("GEOSEARCH", "Sicily", from, "Palermo", "BYBOX", "x", "1", "km"), zErr("ERR need numeric width")},
		{zc("GEOSEARCH", "Sicily", from, "Palermo", "BYBOX", "1", "x", "km"), zErr("ERR need numeric height")},
		{zc("GEOSEARCH", "Sicily", from, "Palermo", "BYBOX", "1", "-1", "km"), zErr("ERR height or width cannot be negative")},
		{zc("GEOSEARCH", "Sicily", from, "Palermo", "BYBOX", "1", "1"), zErr(msgSyntax)},
		{zc("GEOSEARCH", "Sicily", from, "nosuch", "BYRADIUS", "1", "km"), zErr("ERR could not decode requested zset member")},
		{zc("GEOSEARCH", "Sicily", from, "Palermo", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"), zErr(msgSyntax)},
		{zc("GEOSEARCH", "Sicily", from, "Palermo", "BYRADIUS", "1", "km", "BYBOX", "1", "1", "km"), zErr(msgSyntax)},
		{zc("GEOSEARCH", "Sicily", "FROMLONLAT", "200", "0", "BYRADIUS", "1", "km"), zErr("ERR invalid longitude,latitude pair 200.000000,0.000000")},
		{zc("GEOSEARCH", "Sicily", from, "Palermo", "BYRADIUS", "1", "km", "COUNT", "0"), zErr("ERR COUNT must be > 0")},
		{zc("GEOSEARCH", "Sicily", from, "Palermo", "BYRADIUS", "1", "km", "COUNT", "-5"), zErr("ERR COUNT must be > 0")},
		{zc("GEOSEARCH", "Sicily", from, "Palermo", "BYRADIUS", "1", "km", "COUNT", "x"), zErr(msgNotInt)},
		{zc("GEOSEARCH", "Sicily", from, "Palermo", "BYRADIUS", "1", "km", "COUNT"), zErr(msgSyntax)},
		{zc("GEOSEARCH", "Sicily", from, "Palermo", "BYRADIUS", "1", "km", "ANY"), zErr("ERR the ANY argument requires COUNT argument")},
		{zc("GEOSEARCH", "Sicily", from, "Palermo", "BYRADIUS", "1", "km", "STORE", "x"), zErr(msgSyntax)},
		{zc("GEOSEARCH", "Sicily", from, "Palermo", "WITHDIST", "ASC", "DESC"), zErr("ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH")},
		{zc("GEOSEARCH", "Sicily", "BYRADIUS", "1", "km", "ASC", "DESC"), zErr("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH")},
		{zc("geosearch", "Sicily", "BYRADIUS", "1", "km", "ASC", "DESC"), zErr("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for geosearch")},
		{zc("GEOSEARCH", "str", from, "Palermo", "BYRADIUS", "1", "km"), zErr(msgWrongType)},
		// a missing key skips the member and its radius
		{zc("GEORADIUSBYMEMBER", "nokey", "x", "-1", "yards"), zEmpty},
		{zc("GEORADIUSBYMEMBER", "Sicily", "nosuch", "1", "km"), zErr("ERR could not decode requested zset member")},
		{zc("GEORADIUS", "Sicily", "15", "37", "-1", "km"), zErr("ERR radius cannot be negative")},
		{zc("GEORADIUS", "Sicily", "15", "37", "1", "km", "STORE", "d", "WITHDIST"), zErr("ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options")},
		{zc("GEOSEARCHSTORE", "d", "Sicily", from, "Palermo", "BYRADIUS", "1", "km", "WITHHASH"), zErr("ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options")},
		{zc("GEORADIUS_RO", "Sicily", "15", "37", "1", "km", "STORE", "d"), zErr(msgSyntax)},
		{zc("GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "1", "km", "STOREDIST", "d"), zErr(msgSyntax)},
		{zc("GEORADIUS", "Sicily", "15", "37", "1", "km", "FROMMEMBER", "Palermo"), zErr(msgSyntax)},
	})
}

func TestGeoStore(t *testing.T) {
	ts, r, sub := notifyServer(t, "KEA")
	geoSicily(t, r)
	for _, f := range both("0", "Sicily", "zadd") {
		require.Equal(t, f, sub.reply())
	}
	zRun(t, r, []zStep{
		{zc("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"), zInt(2)},
		{zc("ZRANGE", "dst", "0", "-1", "WITHSCORES"), zArr("Palermo", palermoScore, "Catania", cataniaScore)},
		{zc("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST", "COUNT", "1"), zInt(1)},
		{zc("ZRANGE", "dst", "0", "-1", "WITHSCORES"), zArr("Catania", "56.441257870158204")},
		{zc("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d2"), zInt(2)},
		{zc("GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "d3"), zInt(2)},
		{zc("ZRANGE", "d3", "0", "-1", "WITHSCORES"), zArr("Catania", "56.441257870158204", "Palermo", "190.44242984775784")},
		// no result deletes the destination
		{zc("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m"), zInt(0)},
		{zc("EXISTS", "dst"), zInt(0)},
		{zc("GEORADIUS", "nokey", "15", "37", "200", "km", "STORE", "d2"), zInt(0)},
		{zc("EXISTS", "d2"), zInt(0)},
		// the destination may hold another type
		{zc("SET", "s", "x"), zOK},
		{zc("GEORADIUSBYMEMBER", "Sicily", "Palermo", "1", "km", "STORE", "s"), zInt(1)},
		{zc("TYPE", "s"), "+zset\r\n"},
	})
	var frames []string
	for _, e := range [][2]string{{"dst", "geosearchstore"}, {"dst", "geosearchstore"}, {"d2", "georadiusstore"}, {"d3", "georadiusstore"}, {"dst", "del"}, {"d2", "del"}} {
		frames = append(frames, both("0", e[0], e[1])...)
	}
	// SET s, then the store over it
	frames = append(frames, both("0", "s", "set")...)
	frames = append(frames, both("0", "s", "georadiusstore")...)
	for _, f := range frames {
		require.Equal(t, f, sub.reply())
	}
	_ = ts
}

func TestGeoCommandKeys(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	zRun(t, r, []zStep{
		{zc("COMMAND", "GETKEYS", "GEORADIUS", "k", "1", "2", "3", "m", "STORE", "a", "STOREDIST", "b"), zArr("k", "a", "b")},
		{zc("COMMAND", "GETKEYS", "GEORADIUS", "k", "1", "2", "3", "m"), zArr("k")},
		{zc("COMMAND", "GETKEYS", "GEORADIUSBYMEMBER", "k", "m", "3", "m", "STORE", "a"), zArr("k", "a")},
		{zc("COMMAND", "GETKEYS", "GEOSEARCHSTORE", "d", "s", "FROMMEMBER", "m", "BYRADIUS", "1", "m"), zArr("d", "s")},
	})
	// the key the command really writes is locked even where the key specs miss it
	keys := georadiusKeyArgs([][]byte{[]byte("georadius"), []byte("k"), []byte("1"), []byte("2"), []byte("3"), []byte("m"),
		[]byte("STORE"), []byte("a"), []byte("STORE"), []byte("b")}, 6)
	require.Equal(t, []string{"k", "a", "b"}, bytesToStrings(keys))
}

func bytesToStrings(b [][]byte) []string {
	out := make([]string, len(b))
	for i := range b {
		out[i] = string(b[i])
	}
	return out
}

// Sorted sets whose scores are not geohashes decode as C's conversions do
// (recorded from Redis), and nothing panics.
func TestGeoNonGeoScores(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, zInt(5), r.do("ZADD", "z", "-1", "neg", "1e20", "big", "inf", "inf", "-inf", "ninf", "3.5", "frac"))
	for _, m := range []string{"neg", "big", "inf", "ninf", "frac"} {
		require.NotContains(t, r.do("GEOPOS", "z", m), "-ERR")
		require.NotContains(t, r.do("GEOHASH", "z", m), "-ERR")
		require.NotContains(t, r.do("GEOSEARCH", "z", "FROMMEMBER", m, "BYRADIUS", "100", "km", "WITHDIST", "WITHHASH", "WITHCOORD"), "-ERR")
	}
	require.Equal(t, gArr(gArr(zBulk("180"), zBulk("85.0511287799999991"))), r.do("GEOPOS", "z", "neg"))
	require.Equal(t, gArr(gArr(zBulk("-179.99999731779098511"), zBulk("-85.05112751263942528"))), r.do("GEOPOS", "z", "inf"))
}

func TestGeoDistanceFormat(t *testing.T) {
	for _, tc := range []struct {
		d    float64
		want string
	}{
		{0, "0.0000"}, {math.Copysign(0, -1), "0.0000"}, {0.0001, "0.0001"}, {6.0642951598391699e-05, "0.0001"},
		{0.01, "0.0100"}, {-0.01, "-0.0100"}, {1.5, "1.5000"}, {12345.67891, "12345.6789"}, {0.00005, "0.0000"},
		{0.00015, "0.0001"}, {0.00025, "0.0002"}, {math.NaN(), "-922337203685477.5808"}, {1e300, "-922337203685477.5808"},
	} {
		require.Equal(t, tc.want, geoDistance(tc.d), "%v", tc.d)
	}
	require.Equal(t, "13.36138933897018433", geoHumanDouble(13.361389338970184))
	require.Equal(t, "180", geoHumanDouble(180))
	require.Equal(t, "0", geoHumanDouble(math.Copysign(0, -1)))
}

// pqsort must order the first ranks like a full sort would.
func TestGeoSorts(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	for n := 0; n < 300; n += 1 + n/10 {
		pts := make([]geoPoint, n)
		for i := range pts {
			pts[i] = geoPoint{dist: float64(rnd.Intn(n/3 + 1)), member: []byte(strconv.Itoa(i))}
		}
		full := append([]geoPoint(nil), pts...)
		geoMsort(full, geoCmpAsc)
		ref := append([]geoPoint(nil), pts...)
		sort.SliceStable(ref, func(i, j int) bool { return ref[i].dist < ref[j].dist })
		require.Equal(t, ref, full, "msort must be stable, n=%d", n)
		for k := 1; k <= n; k += 1 + k/3 {
			part := append([]geoPoint(nil), pts...)
			geoPqsort(part, geoCmpDesc, 0, k-1)
			for i := 0; i < k; i++ {
				require.Equal(t, ref[n-1-i].dist, part[i].dist, "n=%d k=%d i=%d", n, k, i)
			}
		}
	}
}

// The double-double sin, cos and asin round correctly.
func TestGeoMathCorrectlyRounded(t *testing.T) {
	rnd := rand.New(rand.NewSource(2))
	const prec = 200
	bigSin := func(x float64) float64 {
		bx := new(big.Float).SetPrec(prec).SetFloat64(x)
		sum := new(big.Float).SetPrec(prec).Set(bx)
		term := new(big.Float).SetPrec(prec).Set(bx)
		x2 := new(big.Float).SetPrec(prec).Mul(bx, bx)
		for k := 1; k < 40; k++ {
			term.Mul(term, x2)
			term.Quo(term, new(big.Float).SetInt64(int64(-(2*k)*(2*k+1))))
			sum.Add(sum, term)
		}
		f, _ := sum.Float64()
		return f
	}
	for i := 0; i < 2000; i++ {
		x := (rnd.Float64()*2 - 1) * 0.78
		require.Equal(t, bigSin(x), geoSin(x), "sin(%v)", x)
		// asin is checked through sin: sin(asin(y)) brackets y
		y := rnd.Float64()
		a := geoAsin(y)
		lo, hi := bigSin(math.Nextafter(a, 0)), bigSin(math.Nextafter(a, 2))
		require.True(t, lo <= y && y <= hi, "asin(%v)=%v", y, a)
	}
	require.Equal(t, 0.0, geoSin(0))
	require.Equal(t, 1.0, geoCos(0))
	require.True(t, math.IsNaN(geoAsin(1.0000000000000002)))
	require.True(t, math.IsNaN(geoCos(math.Inf(1))))
}

// GEOADD and the stores are durable like any sorted set write.
func TestGeoPersist(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	r := ts.raw(t)
	geoSicily(t, r)
	require.Equal(t, zInt(1), r.do("GEOADD", "Sicily", "CH", "13.583333", "37.316667", "Agrigento"))
	require.Equal(t, zInt(3), r.do("GEOSEARCHSTORE", "dst", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "300", "km", "STOREDIST"))
	require.Equal(t, zInt(2), r.do("GEORADIUS", "Sicily", "15", "37", "150", "km", "STORE", "d2"))
	ts.stop()

	r2 := startServer(t, dir).raw(t)
	require.Equal(t, gArr(gArr(zBulk(palermoLon), zBulk(palermoLat))), r2.do("GEOPOS", "Sicily", "Palermo"))
	require.Equal(t, zBulk("166.2742"), r2.do("GEODIST", "Sicily", "Palermo", "Catania", "km"))
	require.Equal(t, zArr("Palermo", "0", "Agrigento", "90.977753537996037", "Catania", "166.27415156960032"), r2.do("ZRANGE", "dst", "0", "-1", "WITHSCORES"))
	require.Equal(t, zInt(2), r2.do("ZCARD", "d2"))
}

// Hostile arguments never panic: huge counts, infinite sizes, empty keys
// and members, sets of one point at every corner.
func TestGeoHostileArguments(t *testing.T) {
	ts := startServer(t, "")
	r := ts.raw(t)
	require.Equal(t, zInt(6), r.do("GEOADD", "", "0", "0", "", "180", "85.05112878", "a", "-180", "-85.05112878", "b", "180", "-85.05112878", "c", "-180", "85.05112878", "d", "0.000001", "0", "e"))
	for _, by := range [][]string{{"BYRADIUS", "inf", "km"}, {"BYRADIUS", "0", "m"}, {"BYRADIUS", "1e308", "mi"}, {"BYRADIUS", "5e-324", "m"},
		{"BYBOX", "inf", "inf", "km"}, {"BYBOX", "inf", "0", "m"}, {"BYBOX", "0", "inf", "ft"}, {"BYBOX", "1e308", "1e308", "km"}} {
		for _, from := range [][]string{{"FROMMEMBER", ""}, {"FROMLONLAT", "180", "85.05112878"}, {"FROMLONLAT", "-180", "-85.05112878"}, {"FROMLONLAT", "-0", "0"}} {
			args := append(append([]string{"GEOSEARCH", ""}, from...), by...)
			for _, tail := range [][]string{{"WITHDIST", "WITHHASH", "WITHCOORD"}, {"COUNT", "9223372036854775807", "ANY"}, {"COUNT", "3", "DESC"}} {
				rep := r.do(append(append([]string(nil), args...), tail...)...)
				require.True(t, strings.HasPrefix(rep, "*"), "%v %v: %q", args, tail, rep)
			}
			st := append([]string{"GEOSEARCHSTORE", "dst", ""}, args[2:]...)
			require.True(t, strings.HasPrefix(r.do(st...), ":"), "%v", st)
		}
	}
	require.Equal(t, zArr("", "e"), r.do("GEOSEARCH", "", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km", "ASC"))
	require.Equal(t, zErr(msgNotInt), r.do("GEOSEARCH", "", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km", "COUNT", "99999999999999999999"))
}

// TestGeoFastRejectIsExact: the cheap distance only rejects points that the
// exact distance rejects too, also for radii equal to a point's exact
// distance and one ulp either side of it.
func TestGeoFastRejectIsExact(t *testing.T) {
	rng := rand.New(rand.NewSource(56))
	for i := 0; i < 200000; i++ {
		lon1, lat1 := rng.Float64()*360-180, rng.Float64()*170-85
		lon2, lat2 := lon1+(rng.Float64()-0.5)*rng.Float64()*2, lat1+(rng.Float64()-0.5)*rng.Float64()*2
		exact := geohashGetDistance(lon1, lat1, lon2, lat2)
		fast := geohashGetDistanceFast(lon1, lat1, lon2, lat2)
		for _, limit := range []float64{exact, math.Nextafter(exact, 0), math.Nextafter(exact, math.Inf(1)), exact * (1 + 1e-13), exact * (1 - 1e-13)} {
			if clearlyOver(fast, limit) && !(exact > limit) {
				t.Fatalf("(%v,%v)-(%v,%v): fast %v rejects at %v, exact %v accepts", lon1, lat1, lon2, lat2, fast, limit, exact)
			}
		}
	}
}
