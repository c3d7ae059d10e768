package storage

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func policyStore(t *testing.T, p Policy) *Store {
	t.Helper()
	s, err := Open(Options{Policy: p})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func polSet(s *Store, key string, exp int64) {
	withLocked(s, []string{key}, func(db DB) { db.SetString([]byte(key), make([]byte, 200), exp, false) })
}

func polExists(s *Store, key string) bool {
	ok := false
	withLocked(s, []string{key}, func(db DB) { ok = db.Peek([]byte(key)) != nil })
	return ok
}

// Without persistence the eight maxmemory policies behave as Redis's: the
// volatile ones only delete keys with a deadline (and refuse writes with
// Redis's OOM error when none is left), volatile-ttl prefers the nearest
// deadline, LRU/LFU keep what is used, noeviction refuses.
func TestPoliciesWithoutPersistence(t *testing.T) {
	for _, name := range []string{"allkeys-lru", "volatile-lru", "allkeys-random", "volatile-random",
		"volatile-ttl", "allkeys-lfu", "volatile-lfu", "noeviction"} {
		t.Run(name, func(t *testing.T) {
			p, ok := ParsePolicy(name)
			require.True(t, ok)
			require.Equal(t, name, p.String())
			s := policyStore(t, p)
			far := NowMs() + 3_600_000
			for i := 0; i < 100; i++ {
				polSet(s, fmt.Sprint("plain", i), 0)
				polSet(s, fmt.Sprint("ttl", i), far+int64(i)*1000)
			}
			used := s.UsedMemory()
			s.SetMaxMemory(used * 3 / 4)
			err := s.EnsureMemory()
			if p == PolicyNoEviction {
				require.True(t, errors.Is(err, ErrOOM))
				require.Equal(t, "OOM command not allowed when used memory > 'maxmemory'.", err.Error())
				return
			}
			require.NoError(t, err)
			require.LessOrEqual(t, s.UsedMemory(), used*3/4)
			plain, ttl := 0, 0
			for i := 0; i < 100; i++ {
				if polExists(s, fmt.Sprint("plain", i)) {
					plain++
				}
				if polExists(s, fmt.Sprint("ttl", i)) {
					ttl++
				}
			}
			if p.volatile() {
				require.Equal(t, 100, plain, "a volatile policy deleted a key without a deadline")
				require.Less(t, ttl, 100)
				// nothing volatile left: refused
				s.SetMaxMemory(1)
				require.True(t, errors.Is(s.EnsureMemory(), ErrOOM))
				require.Equal(t, 100, s.DB(0).Size()-ttlLeft(s))
			} else {
				require.Less(t, plain+ttl, 200)
			}
			if p == PolicyVolatileTTL {
				// the nearest deadlines went first (sampled, so mostly)
				require.False(t, polExists(s, "ttl0") && polExists(s, "ttl1") && polExists(s, "ttl2"))
			}
		})
	}
}

func ttlLeft(s *Store) int {
	n := 0
	for i := 0; i < 100; i++ {
		if polExists(s, fmt.Sprint("ttl", i)) {
			n++
		}
	}
	return n
}

// LFU keeps the keys that are read often: with allkeys-lfu, keys read many
// times survive an eviction that removes a quarter of the keys.
func TestPolicyLFUKeepsFrequentKeys(t *testing.T) {
	s := policyStore(t, PolicyAllKeysLFU)
	for i := 0; i < 200; i++ {
		polSet(s, fmt.Sprint("k", i), 0)
	}
	for r := 0; r < 200; r++ {
		for i := 0; i < 20; i++ {
			withLocked(s, []string{fmt.Sprint("k", i)}, func(db DB) { db.Lookup([]byte(fmt.Sprint("k", i))) })
		}
	}
	s.SetMaxMemory(s.UsedMemory() * 3 / 4)
	require.NoError(t, s.EnsureMemory())
	hot := 0
	for i := 0; i < 20; i++ {
		if polExists(s, fmt.Sprint("k", i)) {
			hot++
		}
	}
	// sampling is per shard (5 keys), so a shard left with only hot keys
	// gives one up now and then
	require.GreaterOrEqual(t, hot, 16, "frequently read keys were evicted under LFU")
	cold := 0
	for i := 20; i < 200; i++ {
		if polExists(s, fmt.Sprint("k", i)) {
			cold++
		}
	}
	require.Less(t, float64(cold)/180, float64(hot)/20-0.1, "LFU kept cold keys as well as hot ones")
}
