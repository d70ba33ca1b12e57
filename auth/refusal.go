package auth

import (
	"strconv"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/ratelimit"
)

// The words of a refusal: every door that refuses a request with an HTTP
// status (the API, the forward-auth endpoint, Envoy's Check) turns a
// Decision into the same error and headers here.

// HeaderCreditsRefill is the header of a 403 usage_exceeded that says when
// the key's credits are next refilled (RFC 3339), for a client to wait for
// it without parsing the message; absent for a key without a refill.
const HeaderCreditsRefill = "Pihu-Credits-Refill"

// HeaderUndefinedLimits names, comma-separated, the named limits a
// request asked to spend that its key and the key's identity do not
// define: nothing was spent of them, and they did not refuse it.
const HeaderUndefinedLimits = "Pihu-Ratelimit-Undefined"

// Err is the error a door answers for d, refused, with the address the
// request came from (clientIP) and the time (now) in its words; nil if d
// admitted the request.
func (d Decision) Err(clientIP string, now time.Time) error {
	if d.Outcome == RefusedCredits && d.IdentityCredits {
		id := d.Key.Identity.ID
		if d.Spend.NextRefill == nil {
			return pihu.Errorf(pihu.EUsageExceeded,
				"This API key's identity %s has used all the credits its keys share, and has no refill. Add credits with PATCH /v1/identities/%s, or use a key of another identity.", id, id)
		}
		return pihu.Errorf(pihu.EUsageExceeded,
			"This API key's identity %s has used all the credits its keys share; they are refilled at %s (in %s). Add credits with PATCH /v1/identities/%s, or use a key of another identity.",
			id, pihu.Timestamp(*d.Spend.NextRefill).Format(time.RFC3339), d.Spend.NextRefill.Sub(now).Round(time.Second), id)
	}
	switch d.Outcome {
	case RefusedAddress:
		return pihu.Errorf(pihu.EIPNotAllowed,
			"This API key may not be used from %s. Use it from an address in its allowed_ips, or use another key.", clientIP)
	case RefusedRateLimit:
		if r := d.refusedLimit(); r != nil {
			if r.Cost > r.Limit.BurstSize() {
				return pihu.Errorf(pihu.ERateLimited,
					"This request costs %d of this API key's %q rate limit, more than its limit of %s ever allows at once. Spend less of it per request, or raise the limit.",
					r.Cost, r.Name, r.Limit)
			}
			return pihu.Errorf(pihu.ERateLimited,
				"This API key has spent its %q rate limit: its limit is %s, %d left, and this request costs %d. Retry in %s.",
				r.Name, r.Limit, r.Rate.Remaining, r.Cost, ratelimit.Seconds(r.Rate.RetryAfterSeconds()))
		}
		return pihu.Errorf(pihu.ERateLimited,
			"This API key has made too many requests: its limit is %s. Retry in %s.", d.Limit, ratelimit.Seconds(d.Rate.RetryAfterSeconds()))
	case RefusedEnvironment:
		return pihu.Errorf(pihu.EInsufficientPermissions,
			"This request needs a %s key; this one is a %s key. Use a key of the %s environment.", d.Environment, d.Key.Environment, d.Environment)
	case RefusedPermission:
		return &pihu.Error{
			Code:     pihu.EInsufficientPermissions,
			Required: string(d.Missing),
			Message:  "This API key does not have the \"" + string(d.Missing) + "\" permission that this request needs.",
		}
	case RefusedCredits:
		id := d.Key.ID
		if d.Spend.NextRefill == nil {
			return pihu.Errorf(pihu.EUsageExceeded,
				"This API key has used all its credits, and has no refill. Add credits with PATCH /v1/auth/api-keys/%s, or use another key.", id)
		}
		return pihu.Errorf(pihu.EUsageExceeded,
			"This API key has used all its credits; they are refilled at %s (in %s). Add credits with PATCH /v1/auth/api-keys/%s, or use another key.",
			pihu.Timestamp(*d.Spend.NextRefill).Format(time.RFC3339), d.Spend.NextRefill.Sub(now).Round(time.Second), id)
	}
	return nil
}

// AppendHeaders appends to dst the headers of d's answer: the RateLimit
// headers of the key's limit once it was reached (see
// ratelimit.AppendHeaders), and for a refusal that ends in time,
// Retry-After (and for credits, HeaderCreditsRefill).
func (d Decision) AppendHeaders(dst []pihu.Header, now time.Time) []pihu.Header {
	if d.RateDecided {
		dst = ratelimit.AppendHeaders(dst, "default", d.Limit, d.Rate)
	}
	undefined := ""
	for i := range d.Limits {
		switch r := &d.Limits[i]; {
		case !r.Defined:
			if undefined != "" {
				undefined += ", "
			}
			undefined += r.Name
		case r.Decided:
			dst = ratelimit.AppendPolicy(dst, r.Name, r.Limit, r.Rate)
		}
	}
	if undefined != "" {
		dst = append(dst, pihu.Header{Name: HeaderUndefinedLimits, Value: undefined})
	}
	switch {
	case d.Outcome == RefusedRateLimit && d.RefusedBy != "":
		if r := d.refusedLimit(); r != nil {
			dst = append(dst, pihu.Header{Name: "Retry-After", Value: strconv.Itoa(r.Rate.RetryAfterSeconds())})
		}
	case d.Outcome == RefusedRateLimit:
		dst = append(dst, pihu.Header{Name: "Retry-After", Value: strconv.Itoa(d.Rate.RetryAfterSeconds())})
	case d.Outcome == RefusedCredits && d.Spend.NextRefill != nil:
		next := *d.Spend.NextRefill
		dst = append(dst,
			pihu.Header{Name: HeaderCreditsRefill, Value: pihu.Timestamp(next).Format(time.RFC3339)},
			pihu.Header{Name: "Retry-After", Value: strconv.Itoa(max(1, ratelimit.CeilSeconds(next.Sub(now))))})
	}
	return dst
}

// refusedLimit is the named limit that refused d, nil if none did.
func (d *Decision) refusedLimit() *LimitResult {
	if d.RefusedBy == "" {
		return nil
	}
	for i := range d.Limits {
		if d.Limits[i].Name == d.RefusedBy {
			return &d.Limits[i]
		}
	}
	return nil
}
