package pihu

import (
	"strconv"
	"strings"
	"time"
)

// MaxRate is the largest number of requests a rate limit may allow per
// period: beyond it a limit is no limit.
const MaxRate = 1_000_000

// RateLimit is a key's own rate limit, Rate requests per Period (a
// second, a minute or an hour), written "N/s", "N/m" or "N/h". The zero
// RateLimit is none: the server's default applies. It is parsed once,
// when a request gives it (ParseRateLimit) or a store reads a key
// (Key.SetStoredRestrictions), so that the checks of a request never parse
// it. It is a value: copies share nothing that changes.
type RateLimit struct {
	Rate   int
	Period time.Duration
	// stored is the text of a stored limit that does not parse: only a
	// key written around the API has one, and Err reports it. A pointer,
	// so that every key, copied on each request, carries one word for it.
	stored *string
}

// ParseRateLimit reads a limit written "N/s", "N/m" or "N/h": N requests a
// second, minute or hour, N a whole number from 1 to MaxRate without sign
// or leading zero. Returns EParameterInvalid with param (the name of the
// field or flag it came from) otherwise.
func ParseRateLimit(s, param string) (RateLimit, error) {
	if l, ok := parseRateLimit(s); ok {
		return l, nil
	}
	return RateLimit{}, ParamErrorf(EParameterInvalid, param,
		"%q is not a rate limit: use a whole number of requests from 1 to %d, then /s, /m or /h (per second, minute or hour), such as \"100/m\".",
		s, MaxRate)
}

// parseRateLimit is ParseRateLimit without the error.
func parseRateLimit(s string) (RateLimit, bool) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return RateLimit{}, false
	}
	n, unit := s[:i], s[i+1:]
	if len(n) == 0 || len(n) > 7 || n[0] < '1' || n[0] > '9' {
		return RateLimit{}, false
	}
	rate := 0
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return RateLimit{}, false
		}
		rate = rate*10 + int(n[i]-'0')
	}
	if rate > MaxRate {
		return RateLimit{}, false
	}
	switch unit {
	case "s":
		return RateLimit{Rate: rate, Period: time.Second}, true
	case "m":
		return RateLimit{Rate: rate, Period: time.Minute}, true
	case "h":
		return RateLimit{Rate: rate, Period: time.Hour}, true
	}
	return RateLimit{}, false
}

// StoredRateLimit is the rate limit stored as s: "" is none, and a text
// that does not parse (only a key written around the API has one) is kept
// as it is, shown as it is, and reported by Err, so that the key's
// requests fail rather than run under another limit.
func StoredRateLimit(s string) RateLimit {
	if s == "" {
		return RateLimit{}
	}
	if l, ok := parseRateLimit(s); ok {
		return l
	}
	return RateLimit{stored: &s}
}

// IsZero reports whether l is none: the server's default applies.
func (l RateLimit) IsZero() bool { return l == RateLimit{} }

// Err is why l, as stored, does not parse; nil for a limit that does, and
// for none.
func (l RateLimit) Err() error {
	if l.stored == nil {
		return nil
	}
	_, err := ParseRateLimit(*l.stored, "rate_limit")
	return err
}

// String is l as the API shows and stores it: "100/m", "" for none, and
// the stored text of a limit that does not parse.
func (l RateLimit) String() string {
	if l.stored != nil {
		return *l.stored
	}
	if l.Rate == 0 {
		return ""
	}
	switch l.Period {
	case time.Second:
		return strconv.Itoa(l.Rate) + "/s"
	case time.Minute:
		return strconv.Itoa(l.Rate) + "/m"
	case time.Hour:
		return strconv.Itoa(l.Rate) + "/h"
	case 24 * time.Hour:
		return strconv.Itoa(l.Rate) + "/d"
	}
	return strconv.Itoa(l.Rate) + " per " + l.Period.String()
}

// Within reports whether l allows no more than cur: no more requests at
// once, and none more over time. A limit that does not parse is within
// nothing, and has nothing within it.
func (l RateLimit) Within(cur RateLimit) bool {
	if l.Rate < 1 || cur.Rate < 1 || l.stored != nil || cur.stored != nil {
		return false
	}
	// l.Rate/l.Period <= cur.Rate/cur.Period, in exact arithmetic: a
	// named limit's period may be a day.
	return l.Rate <= cur.Rate && withinRate(l, cur)
}
