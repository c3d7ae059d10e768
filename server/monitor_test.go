package server

import (
	"testing"
	"time"
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
