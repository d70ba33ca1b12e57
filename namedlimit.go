package pihu

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// Named rate limits: besides its rate limit (rate_limit, the limit of the
// requests it makes), a key or an identity may hold several limits of its
// own, each with a name ("tokens": "50000/d"), that a door spends by name
// with a cost (verify's ratelimits, forward auth's ratelimit query or
// route). A limit of an identity is shared by all its keys. A name a key
// and its identity do not define is not spent, and the answer says so: a
// door never refuses a key for a limit it does not have.

// RequestsLimit is the name of a key's rate limit (rate_limit, or the
// server's default) among named limits: every request to the API spends
// one of it, and a door may spend it with another cost by this name. It
// is not one of a key's named limits: rate_limit sets it.
const RequestsLimit = "requests"

// MaxNamedLimits is how many named limits a key, or an identity, may hold.
const MaxNamedLimits = 10

// MaxLimitName is the longest name of a named limit, in bytes.
const MaxLimitName = 32

// MaxLimitCost is the largest cost a door may spend of a named limit at
// once.
const MaxLimitCost = MaxRate

// NamedLimit is one named rate limit: Limit requests (or tokens, or any
// unit the caller counts in) per period, under Name.
type NamedLimit struct {
	Name  string
	Limit RateLimit
}

// NamedLimits are the named limits of a key or an identity, sorted by
// name, each name once; nil: none. A value: copies share nothing that
// changes. They are parsed once, when a request gives them
// (ParseNamedLimits) or a store reads them (StoredNamedLimits).
type NamedLimits []NamedLimit

// ValidLimitName reports whether s may name a limit: 1 to MaxLimitName
// lowercase letters, digits and underscores, starting with a letter, and
// neither "requests" (rate_limit) nor "default" (the policy name of the
// RateLimit headers for rate_limit).
func ValidLimitName(s string) bool {
	if s == "" || len(s) > MaxLimitName || s[0] < 'a' || s[0] > 'z' || s == RequestsLimit || s == "default" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// CheckLimitName returns EParameterInvalid on param if name may not name
// a limit that a door spends: a name ValidLimitName refuses, but
// "requests", which a door may spend.
func CheckLimitName(name, param string) error {
	if name == RequestsLimit || ValidLimitName(name) {
		return nil
	}
	return ParamErrorf(EParameterInvalid, param,
		"%q is not the name of a rate limit: use 1 to %d lowercase letters, digits or underscores, starting with a letter, such as \"tokens\".", name, MaxLimitName)
}

// ParseNamedLimits reads named limits given as a map of names to limits
// ({"tokens": "50000/d"}): each name as ValidLimitName says, each limit
// "N/s", "N/m", "N/h" or "N/d", at most MaxNamedLimits. An empty map is
// none (nil). Returns EParameterInvalid with param (or param.name for one
// limit) otherwise.
func ParseNamedLimits(m map[string]string, param string) (NamedLimits, error) {
	if len(m) > MaxNamedLimits {
		return nil, ParamErrorf(EParameterInvalid, param, "%q holds %d limits; a key or identity may hold at most %d.", param, len(m), MaxNamedLimits)
	}
	if len(m) == 0 {
		return nil, nil
	}
	out := make(NamedLimits, 0, len(m))
	for name, s := range m {
		if !ValidLimitName(name) {
			msg := fmt.Sprintf("%q is not a name for a limit of %q: use 1 to %d lowercase letters, digits or underscores, starting with a letter, such as \"tokens\".", name, param, MaxLimitName)
			if name == RequestsLimit || name == "default" {
				msg = fmt.Sprintf("%q cannot name a limit of %q: the limit of the requests a key makes is its \"rate_limit\".", name, param)
			}
			return nil, &Error{Code: EParameterInvalid, Param: param, Message: msg}
		}
		l, ok := parseNamedRate(s)
		if !ok {
			return nil, ParamErrorf(EParameterInvalid, param+"."+name,
				"%q is not a rate limit: use a whole number from 1 to %d, then /s, /m, /h or /d (per second, minute, hour or day), such as \"50000/d\".", s, MaxRate)
		}
		out = append(out, NamedLimit{Name: name, Limit: l})
	}
	slices.SortFunc(out, func(a, b NamedLimit) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// parseNamedRate reads a named limit's rate: as parseRateLimit, or "N/d".
func parseNamedRate(s string) (RateLimit, bool) {
	if n, ok := strings.CutSuffix(s, "/d"); ok {
		l, ok := parseRateLimit(n + "/h")
		if !ok {
			return RateLimit{}, false
		}
		l.Period = 24 * time.Hour
		return l, true
	}
	return parseRateLimit(s)
}

// StoredNamedLimits reads named limits as a store keeps them
// (NamedLimits.Stored): "" is none. A limit that does not parse (only
// one written around the API has one) is kept as it is, and reported by
// Err.
func StoredNamedLimits(s string) NamedLimits {
	if s == "" {
		return nil
	}
	var out NamedLimits
	for part := range strings.SplitSeq(s, ",") {
		name, rate, _ := strings.Cut(part, "=")
		l, ok := parseNamedRate(rate)
		if !ok {
			l = RateLimit{stored: &rate}
		}
		out = append(out, NamedLimit{Name: name, Limit: l})
	}
	return out
}

// Stored is n as a store keeps it: "name=limit" pairs, comma-separated,
// in order ("images=10/m,tokens=50000/d"); "" for none.
func (n NamedLimits) Stored() string {
	var b strings.Builder
	for i, l := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.Name)
		b.WriteByte('=')
		b.WriteString(l.Limit.String())
	}
	return b.String()
}

// String is n as a person reads and writes it (the dashboard, the CLI):
// "images=10/m, tokens=50000/d"; "" for none.
func (n NamedLimits) String() string { return strings.ReplaceAll(n.Stored(), ",", ", ") }

// ParseNamedLimitsText reads named limits as String writes them: NAME=LIMIT
// pairs separated by commas or new lines; "" is none. Returns
// EParameterInvalid on param, as ParseNamedLimits does, and for a pair
// that is not NAME=LIMIT or a name given twice.
func ParseNamedLimitsText(s, param string) (NamedLimits, error) {
	m := map[string]string{}
	for part := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, limit, ok := strings.Cut(part, "=")
		name, limit = strings.TrimSpace(name), strings.TrimSpace(limit)
		if _, dup := m[name]; !ok || dup {
			return nil, ParamErrorf(EParameterInvalid, param, "%q is not NAME=LIMIT, each name once, such as tokens=50000/d.", part)
		}
		m[name] = limit
	}
	return ParseNamedLimits(m, param)
}

// Map is n as the API shows it: names to limits ({"tokens": "50000/d"}),
// an empty map for none.
func (n NamedLimits) Map() map[string]string {
	m := make(map[string]string, len(n))
	for _, l := range n {
		m[l.Name] = l.Limit.String()
	}
	return m
}

// Get returns the limit named name, and whether n has it.
func (n NamedLimits) Get(name string) (RateLimit, bool) {
	for _, l := range n {
		if l.Name == name {
			return l.Limit, true
		}
	}
	return RateLimit{}, false
}

// Err is why a limit of n, as stored, does not parse; nil if all do.
func (n NamedLimits) Err() error {
	for _, l := range n {
		if l.Limit.stored != nil {
			return fmt.Errorf("the named rate limit %s=%s does not parse", l.Name, *l.Limit.stored)
		}
	}
	return nil
}

// Equal reports whether n and m hold the same limits.
func (n NamedLimits) Equal(m NamedLimits) bool { return n.Stored() == m.Stored() }

// Within reports whether next allows no more than n: every limit of n is
// in next, at most as high (see RateLimit.Within); next may add limits.
// It is the rule for a key (or a key of an identity) that changes its own
// named limits: it may narrow them, never raise or remove them.
func (n NamedLimits) Within(next NamedLimits) (string, bool) {
	for _, cur := range n {
		l, ok := next.Get(cur.Name)
		if !ok || (l != cur.Limit && !l.Within(cur.Limit)) {
			return cur.Name, false
		}
	}
	return "", true
}

// withinRate is RateLimit.Within's comparison of rates, in exact
// arithmetic: with a day's period the products no longer fit in an int64.
func withinRate(l, cur RateLimit) bool {
	a := new(big.Int).Mul(big.NewInt(int64(l.Rate)), big.NewInt(int64(cur.Period)))
	b := new(big.Int).Mul(big.NewInt(int64(cur.Rate)), big.NewInt(int64(l.Period)))
	return a.Cmp(b) <= 0
}
