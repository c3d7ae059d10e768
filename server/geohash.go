package server

import "math"

// Geohash arithmetic: a port of Redis 7.0.15's geohash.c and
// geohash_helper.c, operation for operation, so that the 52-bit scores,
// the decoded coordinates, the neighbour boxes a search visits and the
// distances are bit for bit Redis's (both are IEEE doubles without FMA on
// x86-64; see geoSin and friends for the libm functions).

const (
	geoStepMax = 26 // 26*2 = 52 bits
	geoLatMin  = -85.05112878
	geoLatMax  = 85.05112878
	geoLongMin = -180.0
	geoLongMax = 180.0

	geoEarthRadius = 6372797.560856 // EARTH_RADIUS_IN_METERS
	geoMercatorMax = 20037726.37
)

// geoDR is D_R, M_PI/180.0 as a double division (not Go's exact constant).
var geoDR = func() float64 { pi := math.Pi; return pi / 180.0 }()

type geoHashBits struct {
	bits uint64
	step uint8
}

func (h geoHashBits) isZero() bool { return h.bits == 0 && h.step == 0 }

type geoHashRange struct{ min, max float64 }

type geoHashArea struct {
	hash      geoHashBits
	longitude geoHashRange
	latitude  geoHashRange
}

type geoHashNeighbors struct {
	north, east, west, south                   geoHashBits
	northEast, southEast, northWest, southWest geoHashBits
}

type geoHashRadius struct {
	hash      geoHashBits
	area      geoHashArea
	neighbors geoHashNeighbors
}

// geoShape is GeoShape: a circle (radius) or a box (width, height) around
// xy, sizes in the unit whose meters are conversion.
type geoShape struct {
	box           bool
	xy            [2]float64
	conversion    float64
	radius        float64
	width, height float64
	bounds        [4]float64
}

func interleave64(xlo, ylo uint32) uint64 {
	B := [...]uint64{0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F, 0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF}
	S := [...]uint{1, 2, 4, 8, 16}
	x, y := uint64(xlo), uint64(ylo)
	for i := 4; i >= 0; i-- {
		x = (x | (x << S[i])) & B[i]
		y = (y | (y << S[i])) & B[i]
	}
	return x | (y << 1)
}

func deinterleave64(interleaved uint64) uint64 {
	B := [...]uint64{0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F, 0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF, 0x00000000FFFFFFFF}
	S := [...]uint{0, 1, 2, 4, 8, 16}
	x := interleaved
	y := interleaved >> 1
	for i := 0; i < 6; i++ {
		x = (x | (x >> S[i])) & B[i]
		y = (y | (y >> S[i])) & B[i]
	}
	return x | (y << 32)
}

func geoCoordRange() (lon, lat geoHashRange) {
	return geoHashRange{geoLongMin, geoLongMax}, geoHashRange{geoLatMin, geoLatMax}
}

func (r geoHashRange) isZero() bool { return r.max == 0 && r.min == 0 }

// geohashEncode is geohashEncode; ok false where C returns 0 (hash then
// holds what C's would: zero, or the caller's value when step is invalid).
func geohashEncode(lonR, latR geoHashRange, longitude, latitude float64, step uint8, hash *geoHashBits) bool {
	if step > 32 || step == 0 || latR.isZero() || lonR.isZero() {
		return false
	}
	if longitude > geoLongMax || longitude < geoLongMin || latitude > geoLatMax || latitude < geoLatMin {
		return false
	}
	hash.bits = 0
	hash.step = step
	if latitude < latR.min || latitude > latR.max || longitude < lonR.min || longitude > lonR.max {
		return false
	}
	latOffset := (latitude - latR.min) / (latR.max - latR.min)
	longOffset := (longitude - lonR.min) / (lonR.max - lonR.min)
	scale := float64(uint64(1) << step)
	latOffset *= scale
	longOffset *= scale
	hash.bits = interleave64(cDoubleToUint32(latOffset), cDoubleToUint32(longOffset))
	return true
}

// cDoubleToUint32 is C's (uint32_t) conversion of a double on x86-64
// (truncation through a 64-bit signed conversion).
func cDoubleToUint32(f float64) uint32 { return uint32(cvttsd2si(f)) }

// cvttsd2si is x86-64's truncating double to int64 conversion: NaN and
// out-of-range values give the "integer indefinite" MinInt64.
func cvttsd2si(f float64) int64 {
	if f != f || f >= 9223372036854775808.0 || f < -9223372036854775808.0 {
		return math.MinInt64
	}
	return int64(f)
}

// cDoubleToUint64 is gcc's (uint64_t) conversion of a double on x86-64.
func cDoubleToUint64(f float64) uint64 {
	if f >= 9223372036854775808.0 {
		return uint64(cvttsd2si(f-9223372036854775808.0)) ^ (1 << 63)
	}
	return uint64(cvttsd2si(f))
}

func geohashEncodeWGS84(longitude, latitude float64, step uint8, hash *geoHashBits) bool {
	lon, lat := geoCoordRange()
	return geohashEncode(lon, lat, longitude, latitude, step, hash)
}

func geohashDecode(lonR, latR geoHashRange, hash geoHashBits, area *geoHashArea) bool {
	if hash.isZero() || latR.isZero() || lonR.isZero() {
		return false
	}
	area.hash = hash
	step := hash.step
	sep := deinterleave64(hash.bits)
	latScale := latR.max - latR.min
	longScale := lonR.max - lonR.min
	ilato := uint32(sep)
	ilono := uint32(sep >> 32)
	div := float64(uint64(1) << step)
	area.latitude.min = latR.min + (float64(ilato)*1.0/div)*latScale
	area.latitude.max = latR.min + (float64(ilato+1)*1.0/div)*latScale
	area.longitude.min = lonR.min + (float64(ilono)*1.0/div)*longScale
	area.longitude.max = lonR.min + (float64(ilono+1)*1.0/div)*longScale
	return true
}

func geohashDecodeToLongLat(hash geoHashBits, xy *[2]float64) bool {
	var area geoHashArea
	lon, lat := geoCoordRange()
	if !geohashDecode(lon, lat, hash, &area) {
		return false
	}
	xy[0] = (area.longitude.min + area.longitude.max) / 2
	if xy[0] > geoLongMax {
		xy[0] = geoLongMax
	}
	if xy[0] < geoLongMin {
		xy[0] = geoLongMin
	}
	xy[1] = (area.latitude.min + area.latitude.max) / 2
	if xy[1] > geoLatMax {
		xy[1] = geoLatMax
	}
	if xy[1] < geoLatMin {
		xy[1] = geoLatMin
	}
	return true
}

// decodeGeohash is geo.c's decodeGeohash: a sorted set score as a 52-bit
// hash (C's conversion of the double, whatever the score).
func decodeGeohash(score float64, xy *[2]float64) bool {
	return geohashDecodeToLongLat(geoHashBits{bits: cDoubleToUint64(score), step: geoStepMax}, xy)
}

// geoShift is C's 64-bit shift on x86-64 (the count taken modulo 64).
func geoShiftR(v uint64, n int) uint64 { return v >> (uint(n) & 63) }

func geohashMoveX(hash *geoHashBits, d int) {
	if d == 0 {
		return
	}
	x := hash.bits & 0xaaaaaaaaaaaaaaaa
	y := hash.bits & 0x5555555555555555
	zz := geoShiftR(0x5555555555555555, 64-int(hash.step)*2)
	if d > 0 {
		x = x + (zz + 1)
	} else {
		x = x | zz
		x = x - (zz + 1)
	}
	x &= geoShiftR(0xaaaaaaaaaaaaaaaa, 64-int(hash.step)*2)
	hash.bits = x | y
}

func geohashMoveY(hash *geoHashBits, d int) {
	if d == 0 {
		return
	}
	x := hash.bits & 0xaaaaaaaaaaaaaaaa
	y := hash.bits & 0x5555555555555555
	zz := geoShiftR(0xaaaaaaaaaaaaaaaa, 64-int(hash.step)*2)
	if d > 0 {
		y = y + (zz + 1)
	} else {
		y = y | zz
		y = y - (zz + 1)
	}
	y &= geoShiftR(0x5555555555555555, 64-int(hash.step)*2)
	hash.bits = x | y
}

func geohashNeighborsOf(hash geoHashBits) geoHashNeighbors {
	n := geoHashNeighbors{hash, hash, hash, hash, hash, hash, hash, hash}
	geohashMoveX(&n.east, 1)
	geohashMoveX(&n.west, -1)
	geohashMoveY(&n.south, -1)
	geohashMoveY(&n.north, 1)
	geohashMoveX(&n.northWest, -1)
	geohashMoveY(&n.northWest, 1)
	geohashMoveX(&n.northEast, 1)
	geohashMoveY(&n.northEast, 1)
	geohashMoveX(&n.southEast, 1)
	geohashMoveY(&n.southEast, -1)
	geohashMoveX(&n.southWest, -1)
	geohashMoveY(&n.southWest, -1)
	return n
}

func geoDegRad(ang float64) float64 { return ang * geoDR }
func geoRadDeg(ang float64) float64 { return ang / geoDR }

func geohashEstimateStepsByRadius(rangeMeters, lat float64) uint8 {
	if rangeMeters == 0 {
		return 26
	}
	step := 1
	for rangeMeters < geoMercatorMax {
		rangeMeters *= 2
		step++
	}
	step -= 2
	if lat > 66 || lat < -66 {
		step--
		if lat > 80 || lat < -80 {
			step--
		}
	}
	if step < 1 {
		step = 1
	}
	if step > 26 {
		step = 26
	}
	return uint8(step)
}

func geohashBoundingBox(shape *geoShape) {
	longitude, latitude := shape.xy[0], shape.xy[1]
	var height, width float64
	if shape.box {
		height = shape.conversion * (shape.height / 2)
		width = shape.conversion * (shape.width / 2)
	} else {
		height = shape.conversion * shape.radius
		width = shape.conversion * shape.radius
	}
	latDelta := geoRadDeg(height / geoEarthRadius)
	longDeltaTop := geoRadDeg(width / geoEarthRadius / geoCos(geoDegRad(latitude+latDelta)))
	longDeltaBottom := geoRadDeg(width / geoEarthRadius / geoCos(geoDegRad(latitude-latDelta)))
	if latitude < 0 {
		shape.bounds[0] = longitude - longDeltaBottom
		shape.bounds[2] = longitude + longDeltaBottom
	} else {
		shape.bounds[0] = longitude - longDeltaTop
		shape.bounds[2] = longitude + longDeltaTop
	}
	shape.bounds[1] = latitude - latDelta
	shape.bounds[3] = latitude + latDelta
}

func geohashCalculateAreasByShape(shape *geoShape) geoHashRadius {
	geohashBoundingBox(shape)
	minLon, minLat, maxLon, maxLat := shape.bounds[0], shape.bounds[1], shape.bounds[2], shape.bounds[3]
	longitude, latitude := shape.xy[0], shape.xy[1]
	var radiusMeters float64
	if shape.box {
		radiusMeters = math.Sqrt(float64((shape.width/2)*(shape.width/2)) + float64((shape.height/2)*(shape.height/2)))
	} else {
		radiusMeters = shape.radius
	}
	radiusMeters *= shape.conversion

	steps := geohashEstimateStepsByRadius(radiusMeters, latitude)
	lonR, latR := geoCoordRange()
	var hash geoHashBits
	var area geoHashArea
	geohashEncode(lonR, latR, longitude, latitude, steps, &hash)
	neighbors := geohashNeighborsOf(hash)
	geohashDecode(lonR, latR, hash, &area)

	decrease := false
	{
		var north, south, east, west geoHashArea
		geohashDecode(lonR, latR, neighbors.north, &north)
		geohashDecode(lonR, latR, neighbors.south, &south)
		geohashDecode(lonR, latR, neighbors.east, &east)
		geohashDecode(lonR, latR, neighbors.west, &west)
		if north.latitude.max < maxLat {
			decrease = true
		}
		if south.latitude.min > minLat {
			decrease = true
		}
		if east.longitude.max < maxLon {
			decrease = true
		}
		if west.longitude.min > minLon {
			decrease = true
		}
	}
	if steps > 1 && decrease {
		steps--
		geohashEncode(lonR, latR, longitude, latitude, steps, &hash)
		neighbors = geohashNeighborsOf(hash)
		geohashDecode(lonR, latR, hash, &area)
	}
	if steps >= 2 {
		if area.latitude.min < minLat {
			neighbors.south, neighbors.southWest, neighbors.southEast = geoHashBits{}, geoHashBits{}, geoHashBits{}
		}
		if area.latitude.max > maxLat {
			neighbors.north, neighbors.northEast, neighbors.northWest = geoHashBits{}, geoHashBits{}, geoHashBits{}
		}
		if area.longitude.min < minLon {
			neighbors.west, neighbors.southWest, neighbors.northWest = geoHashBits{}, geoHashBits{}, geoHashBits{}
		}
		if area.longitude.max > maxLon {
			neighbors.east, neighbors.southEast, neighbors.northEast = geoHashBits{}, geoHashBits{}, geoHashBits{}
		}
	}
	return geoHashRadius{hash: hash, area: area, neighbors: neighbors}
}

func geohashAlign52Bits(hash geoHashBits) uint64 {
	return hash.bits << (uint(52-int(hash.step)*2) & 63)
}

func geohashGetLatDistance(lat1d, lat2d float64) float64 {
	return geoEarthRadius * math.Abs(geoDegRad(lat2d)-geoDegRad(lat1d))
}

// geohashGetDistance is Redis's haversine distance in meters, with the
// correctly rounded sin, cos and asin (geomath.go), so it equals glibc's.
func geohashGetDistance(lon1d, lat1d, lon2d, lat2d float64) float64 {
	return haversine(geoSin, geoCos, geoAsin, lon1d, lat1d, lon2d, lat2d)
}

// geohashGetDistanceFast is geohashGetDistance with Go's math.Sin, Cos and
// Asin: within a few ulps of it, and about 20 times cheaper. Searches use it
// to reject the points that are clearly outside a shape; a point near the
// edge or inside gets the exact distance, which decides and is what the
// reply shows.
func geohashGetDistanceFast(lon1d, lat1d, lon2d, lat2d float64) float64 {
	return haversine(math.Sin, math.Cos, math.Asin, lon1d, lat1d, lon2d, lat2d)
}

func haversine(sin, cos, asin func(float64) float64, lon1d, lat1d, lon2d, lat2d float64) float64 {
	lon1r := geoDegRad(lon1d)
	lon2r := geoDegRad(lon2d)
	v := sin((lon2r - lon1r) / 2)
	if v == 0.0 {
		return geohashGetLatDistance(lat1d, lat2d)
	}
	lat1r := geoDegRad(lat1d)
	lat2r := geoDegRad(lat2d)
	u := sin((lat2r - lat1r) / 2)
	a := float64(u*u) + float64(float64(float64(cos(lat1r)*cos(lat2r))*v)*v)
	return 2.0 * geoEarthRadius * asin(math.Sqrt(a))
}

// clearlyOver reports whether a fast distance is over limit by more than its
// possible error (a relative 1e-12, far above a few ulps).
func clearlyOver(fast, limit float64) bool { return fast > limit+math.Abs(limit)*1e-12+1e-9 }

func geohashGetDistanceIfInRectangle(widthM, heightM, x1, y1, x2, y2 float64, distance *float64) bool {
	latDistance := geohashGetLatDistance(y2, y1)
	if latDistance > heightM/2 {
		return false
	}
	if clearlyOver(geohashGetDistanceFast(x2, y2, x1, y2), widthM/2) {
		return false
	}
	lonDistance := geohashGetDistance(x2, y2, x1, y2)
	if lonDistance > widthM/2 {
		return false
	}
	*distance = geohashGetDistance(x1, y1, x2, y2)
	return true
}
