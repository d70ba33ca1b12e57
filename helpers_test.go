package pihu_test

import (
	"errors"
	"testing"

	"github.com/pihu-ai/pihu"
)

// refAlphabet is the base62 alphabet of SPEC §3, written out again here so
// that the tests do not trust the package's own copy.
const refAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// refCRC32 is CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) computed
// bit by bit: an oracle independent of both the package and hash/crc32.
func refCRC32(data string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(data); i++ {
		crc ^= uint32(data[i])
		for range 8 {
			if crc&1 == 1 {
				crc = crc>>1 ^ 0xEDB88320
			} else {
				crc >>= 1
			}
		}
	}
	return ^crc
}

// refChecksum is the key checksum of SPEC §3: CRC32 (IEEE) of s in base62,
// left-padded with '0' to 6 characters.
func refChecksum(s string) string {
	n := refCRC32(s)
	out := []byte("000000")
	for i := len(out) - 1; i >= 0 && n > 0; i-- {
		out[i] = refAlphabet[n%62]
		n /= 62
	}
	return string(out)
}

// isBase62 reports whether s is made only of [0-9A-Za-z].
func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// withChecksum returns body followed by its reference checksum: a string
// whose checksum is right whatever else is wrong with it, so that a test
// rejecting it proves some other check did the work.
func withChecksum(body string) string {
	return body + refChecksum(body)
}

// assertError fails tb unless err is, or wraps, a *pihu.Error with the given
// code and param, and returns it.
func assertError(tb testing.TB, err error, code, param string) *pihu.Error {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got nil error, want %s on %q", code, param)
	}
	var e *pihu.Error
	if !errors.As(err, &e) {
		tb.Fatalf("got %T (%v), want *pihu.Error", err, err)
	}
	if got := pihu.ErrorCode(err); got != code {
		tb.Errorf("code: got %v, want %v (%v)", got, code, err)
	}
	if e.Param != param {
		tb.Errorf("param: got %q, want %q (%v)", e.Param, param, err)
	}
	if e.Message == "" {
		tb.Errorf("message: got empty, want a sentence")
	}
	return e
}

// assertNoError fails tb now if err is not nil.
func assertNoError(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("got error %v, want nil", err)
	}
}

func TestRefChecksum(t *testing.T) {
	// The check value of CRC-32/ISO-HDLC, the CRC that hash/crc32 calls
	// IEEE: it pins the oracle the other tests rely on.
	if got, want := refCRC32("123456789"), uint32(0xCBF43926); got != want {
		t.Fatalf("refCRC32: got %#x, want %#x", got, want)
	}
	if got, want := refCRC32(""), uint32(0); got != want {
		t.Fatalf("refCRC32(\"\"): got %#x, want %#x", got, want)
	}
	// 0xCBF43926 = 3421780262 = 3·62⁵ + 45·62⁴ + 35·62³ + 27·62² + 22·62 + 14.
	if got, want := refChecksum("123456789"), "3jZRME"; got != want {
		t.Fatalf("refChecksum: got %v, want %v", got, want)
	}
	if got, want := refChecksum(""), "000000"; got != want {
		t.Fatalf("refChecksum(\"\"): got %v, want %v", got, want)
	}
}
