package auth

import (
	"context"
	"net/netip"
	"strconv"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/ratelimit"
)

// Failed authentications are limited per client address (SPEC §5): every
// failed authentication spends one of its address's budget, and an address
// with none left is refused (429) for every request that does not carry a
// key this process has already seen, without the key being looked up, so
// that guessing keys is slow while valid keys from other addresses go on
// working. Every door that takes a bearer credential counts them here,
// against the address of the original client (never a gateway's), in one
// budget per address whatever the door.

// TooManyFailures is the error of a request refused because its client
// address has no failed authentications left: an ERateLimited, with the
// state of the address's budget for the door's headers.
type TooManyFailures struct {
	Limit  ratelimit.Limit
	Result ratelimit.Result
	err    *pihu.Error
}

func (e *TooManyFailures) Error() string { return e.err.Error() }

// Unwrap returns the *pihu.Error of the refusal (code ERateLimited).
func (e *TooManyFailures) Unwrap() error { return e.err }

// AppendHeaders appends the headers of the refusal: the RateLimit headers
// of the "failed-auth" policy and Retry-After.
func (e *TooManyFailures) AppendHeaders(dst []pihu.Header) []pihu.Header {
	dst = ratelimit.AppendHeaders(dst, "failed-auth", e.Limit, e.Result)
	return append(dst, pihu.Header{Name: "Retry-After", Value: strconv.Itoa(e.Result.RetryAfterSeconds())})
}

// Challenge is the WWW-Authenticate of the refusal at a door that takes
// bearer credentials: the address's failures, not a token, are refused, so
// the challenge tells the client how to authenticate, with no error code.
func (e *TooManyFailures) Challenge() string {
	return pihu.ChallengeRealm + `, error_description=` + pihu.ChallengeParam(e.err.Message)
}

func tooManyFailures(l ratelimit.Limit, res ratelimit.Result) *TooManyFailures {
	return &TooManyFailures{Limit: l, Result: res, err: pihu.Errorf(pihu.ERateLimited,
		"Too many failed authentications from your address. Check your API key, and retry in %s.", ratelimit.Seconds(res.RetryAfterSeconds()))}
}

// AddressGroup is the unit failed authentications are counted by: an IPv4
// address, or the /64 network of an IPv6 address, since one IPv6 client
// usually holds a whole /64 and could otherwise take a fresh address for
// every guess.
func AddressGroup(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is6() {
		return addr
	}
	p, _ := a.Prefix(64)
	return p.String()
}

func failureKey(ip string) string { return "authfail:" + AddressGroup(ip) }

// PeekFailures returns a *TooManyFailures if the client address ip has no
// failed authentications left, nil otherwise (and when the limiter
// fails).
func (a *Admission) PeekFailures(ctx context.Context, ip string) error {
	res, err := a.limiter.Peek(ctx, failureKey(ip), a.failedAuth)
	switch {
	case err != nil:
		a.limiterFailed(ctx, err)
	case !res.Allowed:
		return tooManyFailures(a.failedAuth, res)
	}
	return nil
}

// CountFailure spends one of the failed authentications of the client
// address ip for the authentication error authErr, and returns authErr, or
// a *TooManyFailures if the address had none left.
func (a *Admission) CountFailure(ctx context.Context, ip string, authErr error) error {
	res, err := a.limiter.Allow(ctx, failureKey(ip), a.failedAuth)
	switch {
	case err != nil:
		a.limiterFailed(ctx, err)
	case !res.Allowed:
		return tooManyFailures(a.failedAuth, res)
	}
	return authErr
}

// Authenticate returns the key of a request's bearer credential (an API
// key or an access token), with its rules, for the checks that follow:
// authorization is the request's Authorization header values, and ip the
// address of its original client, whose failed authentications are
// counted. It returns EParameterInvalid on "Authorization" for more than
// one header (which one counts would be for each proxy on the way to
// decide, and they need not agree) or a malformed one (see BearerToken);
// EMissingAPIKey, EInvalidAPIKey, EExpiredAPIKey or ERevokedAPIKey, each a
// failure of ip; a *TooManyFailures once ip has none left; and the
// store's errors.
func (a *Admission) Authenticate(ctx context.Context, authorization []string, ip string) (*pihu.Key, *Rules, error) {
	if len(authorization) > 1 {
		return nil, nil, pihu.ParamErrorf(pihu.EParameterInvalid, "Authorization",
			"The request has %d Authorization headers; send exactly one, \"Authorization: Bearer YOUR_API_KEY\".", len(authorization))
	}
	var header string
	if len(authorization) == 1 {
		header = authorization[0]
	}
	secret, err := BearerToken(header)
	if err == nil {
		var k *pihu.Key
		var rules *Rules
		k, rules, err = a.auth.AuthenticateRequest(ctx, secret, func() error { return a.PeekFailures(ctx, ip) })
		if err == nil {
			return k, rules, nil
		}
	}
	if status, _ := pihu.ErrorStatus(pihu.ErrorCode(err)); status == 401 {
		err = a.CountFailure(ctx, ip, err)
	}
	return nil, nil, err
}

func (a *Admission) limiterFailed(ctx context.Context, err error) {
	if a.limiterError != nil {
		a.limiterError(ctx, err)
	}
}
