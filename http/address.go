package http

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddress resolves the address of r's client. With no header it is
// the TCP peer. With a trusted proxy header (such as X-Forwarded-For) it is
// the right-most entry of the header's last line: the one the proxy in
// front of the server added, since anything to its left came from the
// client and may be forged. An entry may carry a port ("203.0.113.7:4711",
// "[2001:db8::1]:4711"). A header that is absent or holds no address
// leaves the TCP peer: a request that did not come through the proxy.
//
// Addresses are in their canonical form, IPv4-mapped IPv6 addresses as
// IPv4, so that one client is always one string.
func clientAddress(r *http.Request, header string) string {
	if header != "" {
		if vs := r.Header.Values(header); len(vs) > 0 {
			v := vs[len(vs)-1]
			if i := strings.LastIndexByte(v, ','); i >= 0 {
				v = v[i+1:]
			}
			if a, ok := parseAddress(strings.TrimSpace(v)); ok {
				return a
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if a, ok := parseAddress(host); ok {
		return a
	}
	return host
}

func parseAddress(s string) (string, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return "", false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone("").String(), true
}

// addressGroup is the unit failed authentications are counted by: an IPv4
// address, or the /64 network of an IPv6 address, since one IPv6 client
// usually holds a whole /64 and could otherwise take a fresh address for
// every guess.
func addressGroup(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is6() {
		return addr
	}
	p, _ := a.Prefix(64)
	return p.String()
}
