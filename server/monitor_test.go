package server

import (
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMonitorLine(t *testing.T) {
	at := time.Unix(1700000000, 4200*1000) // 4200 µs: zero-padded to six digits
	got := string(appendMonitorLine(nil, at, 3, false, "127.0.0.1:5000",
		[][]byte{[]byte("set"), []byte("k"), []byte("a\"b\\c\r\n\t\a\bd\x00\x7f\xff ")}))
	want := "+1700000000.004200 [3 127.0.0.1:5000] \"set\" \"k\" \"a\\\"b\\\\c\\r\\n\\t\\a\\bd\\x00\\x7f\\xff \"\r\n"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	got = string(appendMonitorLine(nil, time.Unix(5, 999999000), 0, true, "ignored", [][]byte{[]byte("get"), {}}))
	if want = "+5.999999 [0 lua] \"get\" \"\"\r\n"; got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	got = string(appendMonitorLine(nil, time.Unix(5, 0), 0, false, "[::1]:7", nil))
	if want = "+5.000000 [0 [::1]:7] \r\n"; got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// TestMonitorConcurrent: monitors that come and go (RESET, disconnect)
// while other connections write, under -race: every line is well formed,
// each writer's commands arrive in order, nothing deadlocks.
func TestMonitorConcurrent(t *testing.T) {
	ts := startServer(t, "")
	m := ts.raw(t)
	require.Equal(t, rOK, m.do("MONITOR"))
	gone := ts.raw(t)
	require.Equal(t, rOK, gone.do("MONITOR"))
	var wg sync.WaitGroup
	const writers, n = 4, 200
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := ts.raw(t)
			for i := 0; i < n; i++ {
				r.do("SET", fmt.Sprint("w", w), fmt.Sprint(i))
			}
		}()
	}
	gone.c.Close() // a monitor that disconnects while lines are fed
	last := map[string]int{}
	line := regexp.MustCompile(`^\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "(w\d)" "(\d+)"\r\n$`)
	for got := 0; got < writers*n; got++ {
		l := m.reply()
		sm := line.FindStringSubmatch(l)
		require.NotNil(t, sm, "%q", l)
		i, _ := strconv.Atoi(sm[2])
		if prev, ok := last[sm[1]]; ok {
			require.Equal(t, prev+1, i, "writer %s out of order", sm[1])
		}
		last[sm[1]] = i
	}
	wg.Wait()
	require.Equal(t, "+RESET\r\n", m.do("RESET"))
	require.Equal(t, rPong, m.do("PING"))
	require.NotContains(t, bulkBody(t, m.do("CLIENT", "INFO")), "flags=O")
}
