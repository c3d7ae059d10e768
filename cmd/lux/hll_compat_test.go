package main

// HyperLogLog compatibility with a real redis-server 7.0: the same PFADDs
// and PFMERGEs must leave byte-identical strings on both servers, and a
// value written by one must count identically on the other (an HLL is a
// plain string, so it moves between them with GET and SET, as a DUMP/RESTORE
// or a migration would carry it).

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// hllValue is the bytes of a GET reply (an HLL must be there).
func hllValue(t *testing.T, rep string) []byte {
	t.Helper()
	v, ok := bulkOf(t, rep)
	if !ok {
		t.Fatalf("no value: %q", rep)
	}
	return []byte(v)
}

// hllPair runs the same commands on Redis and lux.
type hllPair struct {
	t        *testing.T
	red, lux *respConn
}

// do sends a command to both servers and requires the same reply.
func (p hllPair) do(args ...string) string {
	p.t.Helper()
	want, got := p.red.Do(args...), p.lux.Do(args...)
	if want != got {
		p.t.Fatalf("%.80q: redis %.200q, lux %.200q", strings.Join(args, " "), want, got)
	}
	return want
}

// same requires key's raw value to be identical on both servers.
func (p hllPair) same(key, what string) []byte {
	p.t.Helper()
	want, got := hllValue(p.t, p.red.Do("GET", key)), hllValue(p.t, p.lux.Do("GET", key))
	if !bytes.Equal(want, got) {
		i := 0
		for i < len(want) && i < len(got) && want[i] == got[i] {
			i++
		}
		p.t.Fatalf("%s: %s differs (redis %d bytes, lux %d bytes, first difference at %d)", what, key, len(want), len(got), i)
	}
	return want
}

func (p hllPair) add(key string, elems []string) {
	p.t.Helper()
	for len(elems) > 0 {
		n := min(len(elems), 200)
		p.do(append([]string{"PFADD", key}, elems[:n]...)...)
		elems = elems[n:]
	}
}

func hllCompatElems(r *rand.Rand, n int) []string {
	out := make([]string, n)
	for i := range out {
		switch r.IntN(3) {
		case 0:
			out[i] = strconv.Itoa(r.IntN(1 << 30))
		case 1:
			out[i] = fmt.Sprintf("user:%d:%x", r.IntN(100000), r.Uint64())
		default:
			b := make([]byte, r.IntN(24))
			for j := range b {
				b[j] = byte(r.Uint32())
			}
			out[i] = string(b)
		}
	}
	return out
}

func TestHLLCompatRedis(t *testing.T) {
	red := startRedis(t)
	lux := startLux(t, "--persistence=false")
	p := hllPair{t: t, red: dialRESP(t, red.Addr), lux: dialRESP(t, lux.Addr)}
	p.do("FLUSHALL")
	rng := rand.New(rand.NewPCG(7, 15))

	sizes := []int{0, 1, 3, 20, 100, 400, 1000, 3000, 20000}
	for _, maxBytes := range []string{"3000", "200"} {
		p.do("CONFIG", "SET", "hll-sparse-max-bytes", maxBytes)
		for _, n := range sizes {
			key := fmt.Sprintf("h:%s:%d", maxBytes, n)
			if n == 0 {
				p.do("PFADD", key)
			}
			p.add(key, hllCompatElems(rng, n))
			p.same(key, "after PFADD")
			p.do("PFDEBUG", "ENCODING", key)
			p.do("PFCOUNT", key)
			p.same(key, "after PFCOUNT (cache)")
			// elements already counted: nothing changes
			p.add(key, hllCompatElems(rand.New(rand.NewPCG(7, 15)), min(n, 50)))
			p.same(key, "after PFADD again")
		}
		// unions: sparse+sparse, sparse+dense, dense+dense, into new and
		// existing destinations
		for i := 0; i+1 < len(sizes); i++ {
			a := fmt.Sprintf("h:%s:%d", maxBytes, sizes[i])
			b := fmt.Sprintf("h:%s:%d", maxBytes, sizes[i+1])
			dst := fmt.Sprintf("m:%s:%d", maxBytes, i)
			p.do("PFMERGE", dst, a, b)
			p.same(dst, "after PFMERGE")
			p.do("PFCOUNT", a, b)
			p.do("PFCOUNT", dst)
			p.do("PFMERGE", a, b, "nosuch")
			p.same(a, "after PFMERGE into an existing key")
			p.do("PFDEBUG", "ENCODING", a)
		}
		p.do("PFDEBUG", "DECODE", fmt.Sprintf("h:%s:100", maxBytes))
		p.do("PFDEBUG", "GETREG", fmt.Sprintf("h:%s:100", maxBytes))
		p.same(fmt.Sprintf("h:%s:100", maxBytes), "after PFDEBUG GETREG")
		p.do("PFDEBUG", "TODENSE", fmt.Sprintf("h:%s:20", maxBytes))
		p.same(fmt.Sprintf("h:%s:20", maxBytes), "after PFDEBUG TODENSE")
	}
	p.do("CONFIG", "SET", "hll-sparse-max-bytes", "3000")

	// a value written by one server counts identically on the other
	for _, n := range sizes {
		key := fmt.Sprintf("x:%d", n)
		p.red.Do("DEL", key)
		if got := p.red.Do("PFADD", key, "seed"); got != ":1\r\n" {
			t.Fatalf("PFADD = %q", got)
		}
		elems := hllCompatElems(rng, n)
		for i := 0; i < len(elems); i += 200 {
			p.red.Do(append([]string{"PFADD", key}, elems[i:min(i+200, len(elems))]...)...)
		}
		v := hllValue(t, p.red.Do("GET", key))
		if got := p.lux.Do("SET", key, string(v)); got != "+OK\r\n" {
			t.Fatalf("SET = %q", got)
		}
		p.do("PFCOUNT", key) // computes and stores the cache on both
		p.same(key, "Redis's value after PFCOUNT")
		more := hllCompatElems(rng, 50)
		p.add(key, more)
		p.same(key, "Redis's value after PFADD")

		// and the reverse
		rkey := "y:" + strconv.Itoa(n)
		p.lux.Do("DEL", rkey)
		p.lux.Do("PFADD", rkey, "seed")
		for i := 0; i < len(elems); i += 200 {
			p.lux.Do(append([]string{"PFADD", rkey}, elems[i:min(i+200, len(elems))]...)...)
		}
		lv := hllValue(t, p.lux.Do("GET", rkey))
		if got := p.red.Do("SET", rkey, string(lv)); got != "+OK\r\n" {
			t.Fatalf("SET = %q", got)
		}
		p.do("PFCOUNT", rkey)
		p.do("PFCOUNT", rkey, key)
	}

	// corrupted values: the same replies and the same bytes afterwards
	crng := rand.New(rand.NewPCG(1, 2))
	for j := 0; j < 400; j++ {
		key := "c"
		p.do("DEL", key)
		p.do("PFADD", key)
		p.add(key, hllCompatElems(crng, crng.IntN(1500)))
		v := p.same(key, "before corruption")
		for i := 0; i < 5; i++ {
			v[crng.IntN(len(v))] = byte(crng.Uint32())
			if crng.IntN(2) == 0 {
				break
			}
		}
		if crng.IntN(4) == 0 {
			v = append(v, byte(crng.Uint32()))
		}
		p.do("SET", key, string(v))
		switch j % 4 {
		case 0:
			p.do("PFCOUNT", key)
		case 1:
			p.do(append([]string{"PFADD", key}, hllCompatElems(crng, 5)...)...)
		case 2:
			p.do("PFCOUNT", key, key)
			p.do("PFMERGE", "cm", key)
		case 3:
			p.do("PFDEBUG", "TODENSE", key)
		}
		if p.red.Do("EXISTS", key) == ":1\r\n" {
			p.same(key, fmt.Sprintf("corrupted value %d", j))
		}
	}
}
