package main

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"
)

// geoFlat returns the strings and doubles of a flat or nested reply in order.
func geoFlat(reply string) []string {
	var out []string
	for _, l := range strings.Split(reply, "\r\n") {
		if l == "" || l[0] == '*' || l[0] == '$' {
			continue
		}
		out = append(out, strings.TrimPrefix(l, ","))
	}
	return out
}

// TestGeoRandomDiff compares GEO commands on random points, centres, radii
// and boxes against the real redis-server 7.0, byte for byte, in RESP2 and
// RESP3: search results with WITHDIST, WITHCOORD and WITHHASH, sorted and
// unsorted, COUNT and ANY, stores, positions, hashes and distances.
// GEO_SEED picks another seed.
func TestGeoRandomDiff(t *testing.T) {
	seed := int64(20260)
	if s := os.Getenv("GEO_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	red := startRedis(t)
	lux := startLux(t, "--persistence=false")
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("resp%d", proto), func(t *testing.T) {
			rnd := rand.New(rand.NewSource(seed + int64(proto)))
			rc, lc := dialRESP(t, red.Addr), dialRESP(t, lux.Addr)
			defer rc.Close()
			defer lc.Close()
			mismatches, distCompared, distOff := 0, 0, 0
			do := func(args ...string) {
				t.Helper()
				want, got := rc.Do(args...), lc.Do(args...)
				if want != got {
					mismatches++
					if mismatches <= 10 {
						t.Errorf("%q\n redis: %q\n lux:   %q", args, want, got)
					}
				}
			}
			for _, c := range []*respConn{rc, lc} {
				c.Do("FLUSHALL")
				if proto == 3 {
					c.Do("HELLO", "3")
				}
			}
			f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
			lon := func() float64 { return rnd.Float64()*360 - 180 }
			lat := func() float64 { return rnd.Float64()*170.1 - 85.05 }
			// a world-wide scatter, dense clusters, and points near the poles and the antimeridian
			var members []string
			add := func(x, y float64) {
				m := "m" + strconv.Itoa(len(members))
				members = append(members, m)
				do("GEOADD", "pts", f(x), f(y), m)
			}
			for i := 0; i < 300; i++ {
				add(lon(), lat())
			}
			for c := 0; c < 6; c++ {
				cx, cy := lon(), rnd.Float64()*160-80
				for i := 0; i < 80; i++ {
					x, y := cx+rnd.NormFloat64()*0.5, cy+rnd.NormFloat64()*0.5
					if x >= -180 && x <= 180 && y >= -85.05 && y <= 85.05 {
						add(x, y)
					}
				}
			}
			for i := 0; i < 40; i++ {
				add(179.5+rnd.Float64()*0.5, lat())
				add(-180+rnd.Float64()*0.5, lat())
				add(lon(), 84+rnd.Float64())
			}
			do("ZRANGE", "pts", "0", "-1", "WITHSCORES")
			units := []string{"m", "km", "ft", "mi"}
			scale := map[string]float64{"m": 1000, "km": 1, "ft": 3280.84, "mi": 0.621371}
			for i := 0; i < 400; i++ {
				u := units[rnd.Intn(len(units))]
				km := []float64{1, 10, 50, 200, 1000, 5000, 15000}[rnd.Intn(7)] * rnd.Float64()
				var from []string
				if rnd.Intn(3) == 0 {
					from = []string{"FROMMEMBER", members[rnd.Intn(len(members))]}
				} else {
					from = []string{"FROMLONLAT", f(lon()), f(lat())}
				}
				var by []string
				if rnd.Intn(2) == 0 {
					by = []string{"BYRADIUS", f(km * scale[u]), u}
				} else {
					by = []string{"BYBOX", f(km * scale[u] * 2), f(km * scale[u] * (0.5 + rnd.Float64()*2)), u}
				}
				args := append(append([]string{"GEOSEARCH", "pts"}, from...), by...)
				switch rnd.Intn(4) {
				case 0:
					args = append(args, "ASC")
				case 1:
					args = append(args, "DESC")
				}
				if rnd.Intn(3) == 0 {
					args = append(args, "COUNT", strconv.Itoa(1+rnd.Intn(20)))
					if rnd.Intn(3) == 0 {
						args = append(args, "ANY")
					}
				}
				store := append([]string{"GEOSEARCHSTORE", "dst", "pts"}, args[2:]...)
				args = append(args, "WITHDIST", "WITHHASH", "WITHCOORD")
				do(args...)
				if i%10 == 0 {
					do(store...)
					do("ZRANGE", "dst", "0", "-1", "WITHSCORES")
				}
				if i%2 == 0 {
					// STOREDIST scores are raw distances: equal to Redis's but
					// for the rare last-ulp difference between glibc's libm and
					// correctly rounded sin/cos/asin (see server/geomath.go)
					sd := append(append([]string(nil), store...), "STOREDIST")
					do(sd...)
					want, got := geoFlat(rc.Do("ZRANGE", "dst", "0", "-1", "WITHSCORES")), geoFlat(lc.Do("ZRANGE", "dst", "0", "-1", "WITHSCORES"))
					if len(want) != len(got) {
						t.Errorf("%q: redis %q, lux %q", sd, want, got)
						continue
					}
					for j := 0; j+1 < len(want); j += 2 {
						wv, _ := strconv.ParseFloat(want[j+1], 64)
						gv, _ := strconv.ParseFloat(got[j+1], 64)
						distCompared++
						if want[j+1] != got[j+1] {
							distOff++
						}
						if want[j] != got[j] || math.Abs(wv-gv) > 4*math.Abs(math.Nextafter(wv, math.Inf(1))-wv) {
							t.Errorf("%q: redis %q %q, lux %q %q", sd, want[j], want[j+1], got[j], got[j+1])
						}
					}
				}
				if i%5 == 0 {
					// the GEORADIUS spelling of a circle search
					if by[0] == "BYRADIUS" && from[0] == "FROMLONLAT" {
						do("GEORADIUS", "pts", from[1], from[2], by[1], by[2], "WITHDIST", "WITHCOORD", "WITHHASH", "ASC")
					}
					a, b := members[rnd.Intn(len(members))], members[rnd.Intn(len(members))]
					do("GEODIST", "pts", a, b, u)
					do("GEOPOS", "pts", a, b, "nosuch")
					do("GEOHASH", "pts", a, b, "nosuch")
				}
			}
			t.Logf("STOREDIST: %d of %d distances differ from Redis's in their last bits", distOff, distCompared)
			if mismatches > 0 {
				t.Errorf("%d mismatching replies (seed %d)", mismatches, seed)
			}
		})
	}
}
