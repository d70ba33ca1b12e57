package auth

import (
	"net/netip"
	"strings"
)

// ClientAddress resolves the address of a request's client, for every
// door: peer is the address that connected (to pihu, or to the gateway
// that asks about the request), and forwarded the lines of the header
// that carries the client's address (such as X-Forwarded-For), believed
// only if peer is one of the trusted proxies, as nginx's realip module does
// with set_real_ip_from and real_ip_recursive. Its entries (all its lines,
// in order, each a comma-separated list) are read from the right, the end
// the proxies append to; entries that are themselves trusted proxies are
// skipped, and the first one that is not is the client. Anything to its
// left came from the client and may be forged. If every entry is a
// trusted proxy, the left-most is the client. An entry may carry a port
// ("203.0.113.7:4711", "[2001:db8::1]:4711"). No lines, or an entry that
// is not an address, leaves peer.
//
// From a peer that is not a trusted proxy the header is ignored: the peer
// is the client, and could have written the header itself.
//
// Addresses are in their canonical form, IPv4-mapped IPv6 addresses as
// IPv4, so that one client is always one string. A peer that is not an
// address is returned as it is.
func ClientAddress(peer string, forwarded []string, trusted []netip.Prefix) string {
	p, ok := parseAddr(peer)
	if !ok {
		return peer
	}
	if len(forwarded) == 0 || !inPrefixes(p, trusted) {
		return canonical(peer, p)
	}
	entries := strings.Split(strings.Join(forwarded, ","), ",")
	client := p
	for i := len(entries) - 1; i >= 0; i-- {
		a, ok := parseAddr(strings.TrimSpace(entries[i]))
		if !ok {
			return p.String()
		}
		client = a
		if !inPrefixes(a, trusted) {
			break
		}
	}
	return client.String()
}

// Trusted reports whether addr (with or without a port) is one of the
// trusted proxies.
func Trusted(addr string, trusted []netip.Prefix) bool {
	a, ok := parseAddr(addr)
	return ok && inPrefixes(a, trusted)
}

// canonical is peer as a string: host itself when it already is that
// string (an IPv4 peer, as on most requests), which saves an allocation
// on every request.
func canonical(host string, peer netip.Addr) string {
	if peer.Is4() && len(host) <= len("255.255.255.255") {
		var buf [len("255.255.255.255")]byte
		if string(peer.AppendTo(buf[:0])) == host {
			return host
		}
	}
	return peer.String()
}

func inPrefixes(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddr parses an address, with or without a port, unmapped and
// without a zone.
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}
