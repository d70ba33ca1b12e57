package http

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/pihu-ai/pihu/auth"
)

// clientAddress resolves the address of r's client (see
// auth.ClientAddress): the TCP peer, unless header is set and the peer is
// one of the trusted proxies: then it is read from the header (such as
// X-Forwarded-For).
func clientAddress(r *http.Request, header string, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	var forwarded []string
	if header != "" {
		forwarded = r.Header.Values(header)
	}
	return auth.ClientAddress(host, forwarded, trusted)
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
