package pihu

import (
	"net/netip"
	"strings"
)

// MaxAllowedIPs is the most entries a key's allowed_ips may hold.
const MaxAllowedIPs = 100

// AllowedIPs are the addresses and CIDR ranges a key may be used from (its
// allowed_ips), parsed once, when a request gives them (ParseAllowedIPs)
// or a store reads a key (Key.SetStoredRestrictions), so that the checks
// of a request never parse them. The zero AllowedIPs is no restriction:
// the key works from anywhere. It is a value: copies share a list that
// nothing changes.
type AllowedIPs struct {
	// l is the list, which nothing changes once made; nil means anywhere.
	// A pointer, so that every key, copied on each request, carries one
	// word for it.
	l *allowedList
}

// allowedList is the list of an AllowedIPs.
type allowedList struct {
	// prefixes are the entries, a single address as a range of one; an
	// empty list allows nowhere. A stored entry that does not parse is
	// the invalid Prefix, which contains nothing.
	prefixes []netip.Prefix
	// stored is the list as stored when it is not in the normal form
	// (only a key written around the API has such a list): it is shown
	// and stored again as it is. nil otherwise.
	stored []string
}

// prefixes are a's entries; nil for anywhere.
func (a AllowedIPs) prefixes() []netip.Prefix {
	if a.l == nil {
		return nil
	}
	return a.l.prefixes
}

// ParseAllowedIPs checks a key's allowed_ips, 1 to MaxAllowedIPs addresses
// ("203.0.113.7", "2001:db8::1") or CIDR ranges ("10.0.0.0/8"), and
// returns them normalised, so that the same rule is always stored and shown
// the same way: a range has its host bits cleared ("10.1.2.3/8" is
// "10.0.0.0/8"), an IPv4 address written as IPv6 ("::ffff:10.0.0.1") is
// IPv4, IPv6 is in its short form, and duplicates are dropped. A nil list
// is no restriction (the key works from anywhere). Returns
// EParameterInvalid on "allowed_ips" otherwise.
func ParseAllowedIPs(ips []string) (AllowedIPs, error) {
	if ips == nil {
		return AllowedIPs{}, nil
	}
	if len(ips) == 0 {
		return AllowedIPs{}, ParamErrorf(EParameterInvalid, "allowed_ips",
			"\"allowed_ips\" is empty, so the key could be used from nowhere; leave it out for a key usable from anywhere, or list addresses such as \"203.0.113.7\" or ranges such as \"10.0.0.0/8\".")
	}
	if len(ips) > MaxAllowedIPs {
		return AllowedIPs{}, ParamErrorf(EParameterInvalid, "allowed_ips",
			"\"allowed_ips\" has %d entries; at most %d are allowed. Use CIDR ranges to cover several addresses.", len(ips), MaxAllowedIPs)
	}
	out := make([]netip.Prefix, 0, len(ips))
	seen := make(map[netip.Prefix]bool, len(ips))
	for _, s := range ips {
		p, ok := parsePrefix(s)
		if !ok {
			return AllowedIPs{}, ParamErrorf(EParameterInvalid, "allowed_ips",
				"%q in \"allowed_ips\" is not an IP address or CIDR range; write addresses as \"203.0.113.7\" or \"2001:db8::1\" and ranges as \"10.0.0.0/8\" or \"2001:db8::/32\".", s)
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return AllowedIPs{&allowedList{prefixes: out}}, nil
}

// StoredAllowedIPs is the allowed_ips stored as ips: nil is no
// restriction. A list not in the normal form of ParseAllowedIPs (only a
// key written around the API has one) is kept as it is, to be shown and
// stored again unchanged; an entry of it that does not parse allows
// nothing.
func StoredAllowedIPs(ips []string) AllowedIPs {
	if ips == nil {
		return AllowedIPs{}
	}
	l := &allowedList{prefixes: make([]netip.Prefix, len(ips))}
	normal := true
	for i, s := range ips {
		p, ok := parsePrefix(s)
		if ok {
			l.prefixes[i] = p
		}
		normal = normal && ok && formatPrefix(p) == s
	}
	if !normal {
		l.stored = append([]string{}, ips...)
	}
	return AllowedIPs{l}
}

// Anywhere reports whether a is no restriction.
func (a AllowedIPs) Anywhere() bool { return a.l == nil }

// Len is the number of entries.
func (a AllowedIPs) Len() int { return len(a.prefixes()) }

// Strings is the list as the API shows and stores it; nil for anywhere.
func (a AllowedIPs) Strings() []string {
	if a.l == nil {
		return nil
	}
	if a.l.stored != nil {
		return append([]string{}, a.l.stored...)
	}
	out := make([]string, len(a.l.prefixes))
	for i, p := range a.l.prefixes {
		out[i] = formatPrefix(p)
	}
	return out
}

// String is the list as a sentence shows it: its entries separated by
// commas.
func (a AllowedIPs) String() string { return strings.Join(a.Strings(), ", ") }

// entry is the text of entry i, as shown.
func (a AllowedIPs) entry(i int) string {
	if a.l.stored != nil {
		return a.l.stored[i]
	}
	return formatPrefix(a.l.prefixes[i])
}

// Allows reports whether a key with the allowed_ips a may be used from the
// client address addr. Anywhere allows every address; an address that
// does not parse is allowed by no list.
func (a AllowedIPs) Allows(addr string) bool {
	if a.l == nil {
		return true
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range a.l.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Within reports whether every address a allows, outer allows too: a is
// no wider than outer. Anywhere is within anywhere only.
func (a AllowedIPs) Within(outer AllowedIPs) bool {
	if outer.l == nil {
		return true
	}
	if a.l == nil {
		return false
	}
	for _, p := range a.l.prefixes {
		if !prefixWithin(p, outer.l.prefixes) {
			return false
		}
	}
	return true
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

// checkAllowedIPs applies to allowed_ips the rule that a key never widens
// what its creator may do: if the creator is limited to some addresses, a
// key it makes with no list of its own gets the creator's list, and a list
// given must lie within the creator's (else EInsufficientPermissions on
// "allowed_ips"). It returns the list the new key gets.
func checkAllowedIPs(creator *Key, ips AllowedIPs) (AllowedIPs, error) {
	if creator == nil || creator.AllowedIPs.Anywhere() {
		return ips, nil
	}
	if ips.Anywhere() {
		return creator.AllowedIPs, nil
	}
	for i, p := range ips.l.prefixes {
		if !prefixWithin(p, creator.AllowedIPs.l.prefixes) {
			return AllowedIPs{}, &Error{
				Code:    EInsufficientPermissions,
				Param:   "allowed_ips",
				Message: "This key may only be used from " + creator.AllowedIPs.String() + ", so it cannot make a key usable from " + ips.entry(i) + "; give \"allowed_ips\" within its own, or leave it out to copy them.",
			}
		}
	}
	return ips, nil
}

// prefixWithin reports whether every address of p is in one of the ranges
// of allowed.
func prefixWithin(p netip.Prefix, allowed []netip.Prefix) bool {
	if !p.IsValid() {
		return false
	}
	for _, q := range allowed {
		if q.IsValid() && q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
			return true
		}
	}
	return false
}
