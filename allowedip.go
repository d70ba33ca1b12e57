package pihu

import (
	"net/netip"
	"strings"
)

// MaxAllowedIPs is the most entries a key's allowed_ips may hold.
const MaxAllowedIPs = 100

// ParseAllowedIPs checks a key's allowed_ips, 1 to MaxAllowedIPs addresses
// ("203.0.113.7", "2001:db8::1") or CIDR ranges ("10.0.0.0/8"), and
// returns them normalised, so that the same rule is always stored and shown
// the same way: a range has its host bits cleared ("10.1.2.3/8" is
// "10.0.0.0/8"), an IPv4 address written as IPv6 ("::ffff:10.0.0.1") is
// IPv4, IPv6 is in its short form, and duplicates are dropped. A nil list
// is nil (the key works from anywhere). Returns EParameterInvalid on
// "allowed_ips" otherwise.
func ParseAllowedIPs(ips []string) ([]string, error) {
	if ips == nil {
		return nil, nil
	}
	if len(ips) == 0 {
		return nil, ParamErrorf(EParameterInvalid, "allowed_ips",
			"\"allowed_ips\" is empty, so the key could be used from nowhere; leave it out for a key usable from anywhere, or list addresses such as \"203.0.113.7\" or ranges such as \"10.0.0.0/8\".")
	}
	if len(ips) > MaxAllowedIPs {
		return nil, ParamErrorf(EParameterInvalid, "allowed_ips",
			"\"allowed_ips\" has %d entries; at most %d are allowed. Use CIDR ranges to cover several addresses.", len(ips), MaxAllowedIPs)
	}
	out := make([]string, 0, len(ips))
	seen := make(map[netip.Prefix]bool, len(ips))
	for _, s := range ips {
		p, ok := parsePrefix(s)
		if !ok {
			return nil, ParamErrorf(EParameterInvalid, "allowed_ips",
				"%q in \"allowed_ips\" is not an IP address or CIDR range; write addresses as \"203.0.113.7\" or \"2001:db8::1\" and ranges as \"10.0.0.0/8\" or \"2001:db8::/32\".", s)
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, formatPrefix(p))
	}
	return out, nil
}

// parsePrefix parses an address (as a single-address range) or a CIDR
// range, IPv4-mapped IPv6 unmapped, host bits cleared. Zones ("fe80::1%eth0")
// are refused: they name an interface of one machine, not a client.
func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		addr, bits := p.Addr(), p.Bits()
		if addr.Is4In6() {
			if bits < 96 {
				return netip.Prefix{}, false
			}
			addr, bits = addr.Unmap(), bits-96
		}
		return netip.PrefixFrom(addr, bits).Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// formatPrefix writes a single-address range as the address alone.
func formatPrefix(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// IPAllowed reports whether a key with the allowed_ips list allowed may be
// used from the client address addr. A nil list allows every address; an
// address that does not parse is allowed by no list.
func IPAllowed(allowed []string, addr string) bool {
	if allowed == nil {
		return true
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, s := range allowed {
		if p, ok := parsePrefix(s); ok && p.Contains(a) {
			return true
		}
	}
	return false
}

// checkAllowedIPs applies to allowed_ips the rule that a key never widens
// what its creator may do: if the creator is limited to some addresses, a
// key it makes with no list of its own gets the creator's list, and a list
// given must lie within the creator's (else EInsufficientPermissions on
// "allowed_ips"). It returns the list the new key gets.
func checkAllowedIPs(creator *Key, ips []string) ([]string, error) {
	if creator == nil || creator.AllowedIPs == nil {
		return ips, nil
	}
	if ips == nil {
		return append([]string(nil), creator.AllowedIPs...), nil
	}
	for _, s := range ips {
		p, _ := parsePrefix(s)
		if !prefixWithin(p, creator.AllowedIPs) {
			return nil, &Error{
				Code:    EInsufficientPermissions,
				Param:   "allowed_ips",
				Message: "This key may only be used from " + strings.Join(creator.AllowedIPs, ", ") + ", so it cannot make a key usable from " + s + "; give \"allowed_ips\" within its own, or leave it out to copy them.",
			}
		}
	}
	return ips, nil
}

// prefixWithin reports whether every address of p is in one of the ranges
// of allowed.
func prefixWithin(p netip.Prefix, allowed []string) bool {
	if !p.IsValid() {
		return false
	}
	for _, s := range allowed {
		q, ok := parsePrefix(s)
		if ok && q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
			return true
		}
	}
	return false
}
