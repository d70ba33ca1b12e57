package http

import (
	"net/http/httptest"
	"net/netip"
	"slices"
	"testing"
)

func TestClientAddress(t *testing.T) {
	proxies, err := ParseTrustedProxies("10.0.0.0/8, 192.0.2.10, 2001:db8:ffff::/48")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, remote, header string
		values               []string // lines of the header
		want                 string
	}{
		{"Peer", "192.0.2.1:5000", "", nil, "192.0.2.1"},
		{"PeerIPv6", "[2001:db8::1]:5000", "", nil, "2001:db8::1"},
		{"PeerMapped", "[::ffff:192.0.2.1]:5000", "", nil, "192.0.2.1"},
		{"HeaderIgnoredWhenNotTrusted", "192.0.2.1:5000", "", []string{"203.0.113.7"}, "192.0.2.1"},

		// From a peer that is not a trusted proxy, the header is the
		// client's own writing, and ignored.
		{"UntrustedPeerForges", "198.51.100.9:5000", "X-Forwarded-For", []string{"203.0.113.7"}, "198.51.100.9"},
		{"UntrustedPeerForgesProxyChain", "198.51.100.9:5000", "X-Forwarded-For", []string{"203.0.113.7, 10.0.0.2"}, "198.51.100.9"},
		{"UntrustedPeerNextToTrusted", "192.0.2.11:5000", "X-Real-IP", []string{"203.0.113.7"}, "192.0.2.11"},
		{"UntrustedPeerIPv6", "[2001:db8:fffe::1]:5000", "X-Real-IP", []string{"203.0.113.7"}, "2001:db8:fffe::1"},

		{"RightMost", "10.0.0.1:5000", "X-Forwarded-For", []string{"198.51.100.1, 203.0.113.7"}, "203.0.113.7"},
		{"TrustedSingleAddress", "192.0.2.10:5000", "X-Forwarded-For", []string{"203.0.113.7"}, "203.0.113.7"},
		{"TrustedIPv6Peer", "[2001:db8:ffff:1::1]:5000", "X-Forwarded-For", []string{"203.0.113.7"}, "203.0.113.7"},
		{"TrustedMappedPeer", "[::ffff:10.1.2.3]:5000", "X-Forwarded-For", []string{"203.0.113.7"}, "203.0.113.7"},
		{"LastLine", "10.0.0.1:5000", "X-Forwarded-For", []string{"198.51.100.1", "203.0.113.8"}, "203.0.113.8"},
		{"Spaces", "10.0.0.1:5000", "X-Forwarded-For", []string{"198.51.100.1 ,  203.0.113.7  "}, "203.0.113.7"},
		{"WithPort", "10.0.0.1:5000", "X-Forwarded-For", []string{"203.0.113.7:4711"}, "203.0.113.7"},
		{"IPv6WithPort", "10.0.0.1:5000", "X-Forwarded-For", []string{"[2001:db8::7]:4711"}, "2001:db8::7"},
		{"Zone", "10.0.0.1:5000", "X-Real-IP", []string{"fe80::1%eth0"}, "fe80::1"},
		{"Mapped", "10.0.0.1:5000", "X-Real-IP", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},

		// A chain of trusted proxies is walked from the right, to the
		// first address that is not one of them (real_ip_recursive).
		{"ChainSkipsTrusted", "10.0.0.1:5000", "X-Forwarded-For", []string{"198.51.100.1, 203.0.113.7, 10.0.0.3, 192.0.2.10"}, "203.0.113.7"},
		{"ChainOverLines", "10.0.0.1:5000", "X-Forwarded-For", []string{"198.51.100.1, 203.0.113.7", "10.0.0.3"}, "203.0.113.7"},
		{"ChainForgedLeftIgnored", "10.0.0.1:5000", "X-Forwarded-For", []string{"10.9.9.9, 203.0.113.7, 10.0.0.3"}, "203.0.113.7"},
		{"AllTrustedIsLeftMost", "10.0.0.1:5000", "X-Forwarded-For", []string{"10.0.0.5, 10.0.0.3"}, "10.0.0.5"},
		{"GarbageLeftOfClientIgnored", "10.0.0.1:5000", "X-Forwarded-For", []string{"unknown, 203.0.113.7"}, "203.0.113.7"},

		{"AbsentFallsBackToPeer", "10.0.0.1:5000", "X-Forwarded-For", nil, "10.0.0.1"},
		{"GarbageFallsBackToPeer", "10.0.0.1:5000", "X-Forwarded-For", []string{"203.0.113.7, unknown"}, "10.0.0.1"},
		{"GarbageInChainFallsBackToPeer", "10.0.0.1:5000", "X-Forwarded-For", []string{"203.0.113.7, unknown, 10.0.0.3"}, "10.0.0.1"},
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
			if got := clientAddress(r, tc.header, proxies); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []netip.Prefix // nil with ok false: an error
		ok   bool
	}{
		{"", nil, true},
		{"  ", nil, true},
		{"10.0.0.1", []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}, true},
		{"10.1.2.3/8, 2001:DB8::/32", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}, true},
		{"::ffff:10.0.0.0/104", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, true},
		{"::1", []netip.Prefix{netip.MustParsePrefix("::1/128")}, true},
		{"10.0.0.1,", nil, false},
		{",10.0.0.1", nil, false},
		{"10.0.0.0/33", nil, false},
		{"localhost", nil, false},
		{"fe80::1%eth0", nil, false},
		{"::ffff:0.0.0.0/64", nil, false},
		{"10.0.0.1 10.0.0.2", nil, false},
	} {
		got, err := ParseTrustedProxies(tc.in)
		if (err == nil) != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("ParseTrustedProxies(%q): got %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
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
