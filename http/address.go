package http

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/pihu-ai/pihu/auth"
)

// clientAddress resolves the address of r's client. It is the TCP peer,
// unless header is set and the peer is one of the trusted proxies: then it
// is read from the header (such as X-Forwarded-For), as nginx's realip
// module does with set_real_ip_from and real_ip_recursive. The header's
// entries (all its lines, in order, each a comma-separated list) are read
// from the right, the end the proxies append to; entries that are
// themselves trusted proxies are skipped, and the first one that is not is
// the client. Anything to its left came from the client and may be forged.
// If every entry is a trusted proxy, the left-most is the client. An entry
// may carry a port ("203.0.113.7:4711", "[2001:db8::1]:4711"). A header
// that is absent, or an entry that is not an address, leaves the TCP peer.
//
// From a peer that is not a trusted proxy the header is ignored: the peer
// is the client, and could have written the header itself.
//
// Addresses are in their canonical form, IPv4-mapped IPv6 addresses as
// IPv4, so that one client is always one string.
func clientAddress(r *http.Request, header string, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, ok := parseAddr(host)
	if !ok {
		return host
	}
	if header == "" || !inPrefixes(peer, trusted) {
		return canonical(host, peer)
	}
	vs := r.Header.Values(header)
	if len(vs) == 0 {
		return peer.String()
	}
	entries := strings.Split(strings.Join(vs, ","), ",")
	client := peer
	for i := len(entries) - 1; i >= 0; i-- {
		a, ok := parseAddr(strings.TrimSpace(entries[i]))
		if !ok {
			return peer.String()
		}
		client = a
		if !inPrefixes(a, trusted) {
			break
		}
	}
	return client.String()
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

// ParseTrustedProxies parses a comma-separated list of the addresses
// ("10.0.0.1", "2001:db8::1") and CIDR ranges ("10.0.0.0/8") of the proxies
// whose TrustedProxyHeader is believed (see Options.TrustedProxies). An
// empty list is nil.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var out []netip.Prefix
	for entry := range strings.SplitSeq(list, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("%q has an empty entry; separate addresses and ranges with single commas", list)
		}
		var p netip.Prefix
		var err error
		if strings.Contains(entry, "/") {
			p, err = netip.ParsePrefix(entry)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(entry); err == nil && a.Zone() == "" {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || !p.IsValid() {
			return nil, fmt.Errorf("%q is not an IP address or CIDR range; write addresses as 10.0.0.1 and ranges as 10.0.0.0/8 or 2001:db8::/32", entry)
		}
		if a := p.Addr(); a.Is4In6() {
			if p.Bits() < 96 {
				return nil, fmt.Errorf("%q is not an IPv4 range; write it as an IPv4 CIDR range such as 10.0.0.0/8", entry)
			}
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// addressGroup is the unit failed authentications are counted by (see
// auth.AddressGroup).
func addressGroup(addr string) string { return auth.AddressGroup(addr) }
