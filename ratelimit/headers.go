package ratelimit

import (
	"strconv"
	"time"

	"github.com/pihu-ai/pihu"
)

// AppendHeaders appends to dst the rate-limit headers of a response to a
// request that spent one of policy's limit l, with the result res; every
// door that answers for a limit (the API, the forward-auth endpoint,
// Envoy's Check) writes these:
//
//   - RateLimit-Policy and RateLimit of draft-ietf-httpapi-ratelimit-headers
//     (`"default";q=100;w=60` and `"default";r=99;t=1`): the quota, its
//     window in seconds, what is left and the seconds until it is whole
//     again, so that a client can tell 5/m from 5/s. The policy is
//     "default" for an API key's own limit, "failed-auth" and "leaked-keys"
//     for the limits of a client address.
//   - RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset, the
//     draft's older form, kept so that the clients that read them go on
//     working: for a key's limit only, since they name no policy and a
//     client reads them as its key's state.
//
// The names are in canonical form (pihu.Header). The values are written
// into one buffer and share one string: one allocation for the five.
func AppendHeaders(dst []pihu.Header, policy string, l Limit, res Result) []pihu.Header {
	var buf [160]byte
	b := buf[:0]
	policyAt := len(b)
	b = append(b, '"')
	b = append(b, policy...)
	b = append(b, `";q=`...)
	b = strconv.AppendInt(b, int64(l.Rate), 10)
	b = append(b, ";w="...)
	b = strconv.AppendInt(b, int64(l.Period/time.Second), 10)
	stateAt := len(b)
	b = append(b, '"')
	b = append(b, policy...)
	b = append(b, `";r=`...)
	remainingAt := len(b)
	b = strconv.AppendInt(b, int64(res.Remaining), 10)
	remainingEnd := len(b)
	b = append(b, ";t="...)
	resetAt := len(b)
	b = strconv.AppendInt(b, int64(CeilSeconds(res.ResetAfter)), 10)
	limitAt := len(b)
	b = strconv.AppendInt(b, int64(res.Limit), 10)
	s := string(b)
	dst = append(dst,
		pihu.Header{Name: "Ratelimit-Policy", Value: s[policyAt:stateAt]},
		pihu.Header{Name: "Ratelimit", Value: s[stateAt:limitAt]})
	if policy != "default" {
		return dst
	}
	return append(dst,
		pihu.Header{Name: "Ratelimit-Limit", Value: s[limitAt:]},
		pihu.Header{Name: "Ratelimit-Remaining", Value: s[remainingAt:remainingEnd]},
		pihu.Header{Name: "Ratelimit-Reset", Value: s[resetAt:limitAt]})
}

// AppendPolicy adds to the RateLimit-Policy and RateLimit headers of dst
// (as AppendHeaders wrote them) the policy of a named limit l, with the
// result res: one more member of each header's list, in the draft's
// syntax (`"default";q=100;w=60, "tokens";q=50000;w=86400`), since a
// response carries each header once. A named limit has no headers of the
// older form.
func AppendPolicy(dst []pihu.Header, name string, l Limit, res Result) []pihu.Header {
	policy := `"` + name + `";q=` + strconv.Itoa(l.Rate) + ";w=" + strconv.FormatInt(int64(l.Period/time.Second), 10)
	state := `"` + name + `";r=` + strconv.Itoa(res.Remaining) + ";t=" + strconv.Itoa(CeilSeconds(res.ResetAfter))
	havePolicy, haveState := false, false
	for i := range dst {
		switch dst[i].Name {
		case "Ratelimit-Policy":
			dst[i].Value += ", " + policy
			havePolicy = true
		case "Ratelimit":
			dst[i].Value += ", " + state
			haveState = true
		}
	}
	if !havePolicy {
		dst = append(dst, pihu.Header{Name: "Ratelimit-Policy", Value: policy})
	}
	if !haveState {
		dst = append(dst, pihu.Header{Name: "Ratelimit", Value: state})
	}
	return dst
}

// RetryAfterSeconds is the Retry-After of a request res refused: its
// RetryAfter in whole seconds, rounded up, and at least 1.
func (res Result) RetryAfterSeconds() int { return max(1, CeilSeconds(res.RetryAfter)) }

// CeilSeconds is d in whole seconds, rounded up, and 0 for d ≤ 0.
func CeilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// Seconds words n seconds for a message: "1 second", "30 seconds".
func Seconds(n int) string {
	if n == 1 {
		return "1 second"
	}
	return strconv.Itoa(n) + " seconds"
}
