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

// FailureGuard spends the failed-authentication budget of one request's
// client address before the work it guards (looking up a secret the cache
// does not hold, verifying a token's signature), not after: a budget only
// looked at first and spent after the lookup failed lets every one of many
// concurrent guesses through, since none of them is counted before all
// have looked. Reserve is the guard the authenticator calls; once the
// authentication is decided, Refund gives the failure back if the secret
// was valid, and Fail counts a failure that Reserve did not. Every door
// that takes a bearer credential or a client secret (the API, verify,
// import, the OAuth token endpoint, forward auth, Envoy's Check) goes
// through one.
type FailureGuard struct {
	a     *Admission
	ctx   context.Context
	ip    string
	spent bool
}

// FailureGuard returns the guard of one request from the client address
// ip.
func (a *Admission) FailureGuard(ctx context.Context, ip string) *FailureGuard {
	return &FailureGuard{a: a, ctx: ctx, ip: ip}
}

// Reserve spends one failure of the address's budget (once a request,
// however many times it is called), and returns a *TooManyFailures if
// none is left. A limiter that fails lets the request through.
func (g *FailureGuard) Reserve() error {
	if g.spent {
		return nil
	}
	res, err := g.a.limiter.Allow(g.ctx, failureKey(g.ip), g.a.failedAuth)
	switch {
	case err != nil:
		g.a.limiterFailed(g.ctx, err)
		return nil
	case !res.Allowed:
		return tooManyFailures(g.a.failedAuth, res)
	}
	g.spent = true
	return nil
}

// Refund gives back the failure Reserve spent: the secret was valid.
func (g *FailureGuard) Refund() {
	if !g.spent {
		return
	}
	g.spent = false
	if err := g.a.limiter.Refund(context.WithoutCancel(g.ctx), failureKey(g.ip), g.a.failedAuth); err != nil {
		g.a.limiterFailed(g.ctx, err)
	}
}

// Fail counts the authentication error authErr as a failure of the
// address, unless Reserve counted it already, and returns authErr, or a
// *TooManyFailures if the address had none left.
func (g *FailureGuard) Fail(authErr error) error {
	if g.spent {
		return authErr
	}
	return g.a.CountFailure(g.ctx, g.ip, authErr)
}

// CountFailure spends one of the failed authentications of the client
// address ip for the authentication error authErr, known without a look
// up (a malformed credential), and returns authErr, or a
// *TooManyFailures if the address had none left.
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
// key or an access token), for the checks that follow:
// authorization is the request's Authorization header values, and ip the
// address of its original client, whose failed authentications are
// counted. It returns EParameterInvalid on "Authorization" for more than
// one header (which one counts would be for each proxy on the way to
// decide, and they need not agree) or a malformed one (see BearerToken);
// EMissingAPIKey, EInvalidAPIKey, EExpiredAPIKey or ERevokedAPIKey, each a
// failure of ip; a *TooManyFailures once ip has none left; and the
// store's errors. A secret this process has not seen (not cached) is
// looked up only after one failure of ip's budget is spent, and that one
// is given back when the secret is a valid key (see FailureGuard): so an
// address with no budget left gets a 429 without its secret being looked
// up, unless its key is cached, and a valid key behind the same address
// as someone guessing goes on working.
func (a *Admission) Authenticate(ctx context.Context, authorization []string, ip string) (*pihu.Key, error) {
	if len(authorization) > 1 {
		return nil, pihu.ParamErrorf(pihu.EParameterInvalid, "Authorization",
			"The request has %d Authorization headers; send exactly one, \"Authorization: Bearer YOUR_API_KEY\".", len(authorization))
	}
	var header string
	if len(authorization) == 1 {
		header = authorization[0]
	}
	secret, err := BearerToken(header)
	g := a.FailureGuard(ctx, ip)
	if err == nil {
		var k *pihu.Key
		k, err = a.auth.AuthenticateGuarded(ctx, secret, g.Reserve)
		if err == nil {
			g.Refund()
			return k, nil
		}
	}
	if status, _ := pihu.ErrorStatus(pihu.ErrorCode(err)); status == 401 {
		return nil, g.Fail(err)
	}
	// The store's error: the secret was not found valid, so a failure
	// reserved for it stays spent.
	return nil, err
}

func (a *Admission) limiterFailed(ctx context.Context, err error) {
	if a.limiterError != nil {
		a.limiterError(ctx, err)
	}
}
