// Package rawresp is the benchmarks' minimal RESP client side: encoding a
// command and reading a reply without building Go values, so that what a
// benchmark times is the server's latency, not a client library's decoding.
package rawresp

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// Append appends args encoded as one RESP command to dst.
func Append(dst []byte, args ...string) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, "\r\n"...)
	for _, a := range args {
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a)), 10)
		dst = append(dst, "\r\n"...)
		dst = append(append(dst, a...), "\r\n"...)
	}
	return dst
}

// Read reads one reply, calling bulk (if not nil) with the value of every
// bulk string in it in order (the slice is valid only during the call). It
// returns the element count of an array reply (0 for other replies); an
// error reply is returned as an error. RESP3 aggregates (maps, sets,
// pushes) are read like arrays, a map's count being its pairs'.
func Read(r *bufio.Reader, bulk func(b []byte)) (int, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 3 {
		return 0, fmt.Errorf("rawresp: short line %q", line)
	}
	n, _ := strconv.Atoi(string(line[1 : len(line)-2]))
	switch line[0] {
	case '*', '~', '>', '%', '|': // arrays, and RESP3's sets, pushes, maps, attributes
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for i := 0; i < n; i++ {
			if _, err := Read(r, bulk); err != nil {
				return 0, err
			}
		}
		return n, nil
	case '$':
		if n < 0 {
			return 0, nil
		}
		var b []byte
		if n+2 <= r.Size() {
			if b, err = r.Peek(n + 2); err != nil {
				return 0, err
			}
		} else {
			b = make([]byte, n+2)
			if _, err := io.ReadFull(r, b); err != nil {
				return 0, err
			}
		}
		if bulk != nil {
			bulk(b[:n])
		}
		if n+2 <= r.Size() {
			r.Discard(n + 2)
		}
	case '-':
		return 0, fmt.Errorf("%s", line[:len(line)-2])
	}
	return 0, nil
}

// Following returns a bulk callback that adds to set every bulk string
// that follows one equal to name: the values of field name in TQUERY and
// TGET replies (field, value, field, value, ...).
func Following(name string, set map[string]bool) func(b []byte) {
	prev := false
	return func(b []byte) {
		if prev {
			set[string(b)] = true
		}
		prev = string(b) == name
	}
}
