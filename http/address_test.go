package http

import (
	"net/http/httptest"
	"testing"
)

func TestClientAddress(t *testing.T) {
	for _, tc := range []struct {
		name, remote, header string
		values               []string // lines of the header
		want                 string
	}{
		{"Peer", "192.0.2.1:5000", "", nil, "192.0.2.1"},
		{"PeerIPv6", "[2001:db8::1]:5000", "", nil, "2001:db8::1"},
		{"PeerMapped", "[::ffff:192.0.2.1]:5000", "", nil, "192.0.2.1"},
		{"HeaderIgnoredWhenNotTrusted", "192.0.2.1:5000", "", []string{"203.0.113.7"}, "192.0.2.1"},
		{"RightMost", "10.0.0.1:5000", "X-Forwarded-For", []string{"198.51.100.1, 203.0.113.7"}, "203.0.113.7"},
		{"LastLine", "10.0.0.1:5000", "X-Forwarded-For", []string{"198.51.100.1", "203.0.113.8"}, "203.0.113.8"},
		{"Spaces", "10.0.0.1:5000", "X-Forwarded-For", []string{"198.51.100.1 ,  203.0.113.7  "}, "203.0.113.7"},
		{"WithPort", "10.0.0.1:5000", "X-Forwarded-For", []string{"203.0.113.7:4711"}, "203.0.113.7"},
		{"IPv6WithPort", "10.0.0.1:5000", "X-Forwarded-For", []string{"[2001:db8::7]:4711"}, "2001:db8::7"},
		{"Zone", "10.0.0.1:5000", "X-Real-IP", []string{"fe80::1%eth0"}, "fe80::1"},
		{"Mapped", "10.0.0.1:5000", "X-Real-IP", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"AbsentFallsBackToPeer", "10.0.0.1:5000", "X-Forwarded-For", nil, "10.0.0.1"},
		{"GarbageFallsBackToPeer", "10.0.0.1:5000", "X-Forwarded-For", []string{"203.0.113.7, unknown"}, "10.0.0.1"},
		{"EmptyEntryFallsBackToPeer", "10.0.0.1:5000", "X-Forwarded-For", []string{"203.0.113.7,"}, "10.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.values {
				h := tc.header
				if h == "" {
					h = "X-Forwarded-For"
				}
				r.Header.Add(h, v)
			}
			if got := clientAddress(r, tc.header); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAddressGroup(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":             "192.0.2.1",
		"2001:db8:0:1::1":       "2001:db8:0:1::/64",
		"2001:db8:0:1:ffff::ff": "2001:db8:0:1::/64",
		"2001:db8:0:2::1":       "2001:db8:0:2::/64",
		"pipe":                  "pipe",
	} {
		if got := addressGroup(in); got != want {
			t.Errorf("addressGroup(%q): got %q, want %q", in, got, want)
		}
	}
}
