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
// The names are in canonical form (pihu.Header).
func AppendHeaders(dst []pihu.Header, policy string, l Limit, res Result) []pihu.Header {
	remaining := strconv.Itoa(res.Remaining)
	reset := strconv.Itoa(CeilSeconds(res.ResetAfter))
	dst = append(dst,
		pihu.Header{Name: "Ratelimit-Policy", Value: `"` + policy + `";q=` + strconv.Itoa(l.Rate) + ";w=" + strconv.FormatInt(int64(l.Period/time.Second), 10)},
		pihu.Header{Name: "Ratelimit", Value: `"` + policy + `";r=` + remaining + ";t=" + reset})
	if policy != "default" {
		return dst
	}
	return append(dst,
		pihu.Header{Name: "Ratelimit-Limit", Value: strconv.Itoa(res.Limit)},
		pihu.Header{Name: "Ratelimit-Remaining", Value: remaining},
		pihu.Header{Name: "Ratelimit-Reset", Value: reset})
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
