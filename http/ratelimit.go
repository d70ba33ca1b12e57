package http

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/ratelimit"
)

// Rate limits of SPEC §5: every authenticated request spends one request
// of its key's limit (the key's own, or the server's default); every
// failed authentication spends one of its client address's failure
// budget, and an address with none left gets 429 for every request that
// does not carry a key this process has already seen, without the key
// being looked up.
//
// A limiter that fails lets requests through and logs the failure: a rate
// limit protects capacity, and refusing every request while it is down
// would be the outage it is there to prevent. (ratelimit.Redis does not
// fail when Redis is unreachable: it decides in process meanwhile.)

// initRateLimits takes the rate-limit options, filling in the defaults.
func (s *Server) initRateLimits(opts Options) {
	s.limiter, s.defaultLimit, s.failedAuthLimit = opts.Limiter, opts.DefaultLimit, opts.FailedAuthLimit
	s.proxyHeader, s.trustedProxies = opts.TrustedProxyHeader, opts.TrustedProxies
	if s.proxyHeader != "" && len(s.trustedProxies) == 0 {
		panic("pihuhttp.New: Options.TrustedProxyHeader needs Options.TrustedProxies: a header believed from every client lets each forge its address")
	}
	if s.limiter == nil {
		s.limiter = ratelimit.NewMemory(ratelimit.MemoryOptions{Now: s.now})
	}
	if s.defaultLimit == (ratelimit.Limit{}) {
		s.defaultLimit = ratelimit.PerMinute(1000)
	}
	if s.failedAuthLimit == (ratelimit.Limit{}) {
		s.failedAuthLimit = ratelimit.PerMinute(30)
	}
	s.leaksLimit = opts.LeakedKeysLimit
	if s.leaksLimit == (ratelimit.Limit{}) {
		s.leaksLimit = ratelimit.PerMinute(10)
	}
	for name, l := range map[string]ratelimit.Limit{"DefaultLimit": s.defaultLimit, "FailedAuthLimit": s.failedAuthLimit, "LeakedKeysLimit": s.leaksLimit} {
		if err := l.Validate(); err != nil {
			panic(fmt.Sprintf("pihuhttp.New: Options.%s: %v", name, err))
		}
	}
}

// authenticate returns the key of the request's bearer secret. A failure
// that is a 401 spends one of the client address's failure budget, and
// becomes a 429 when that budget is spent. A secret this process has not
// seen (not cached) is looked up only after one failure of its address's
// budget is spent, and that one is given back when the secret is a valid
// key: so an address with no budget left gets a 429 without its secret
// being looked up, unless the secret's key is cached, and a valid key
// behind the same address as someone guessing goes on working; and
// concurrent guesses cannot all pass a look at the budget taken before
// any of them was counted (see failureGuard).
//
// A request with more than one Authorization header is refused (400)
// before any key is looked up: which one counts would be for each proxy
// and server on the way to decide, and they need not agree.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*pihu.Key, *auth.Rules, error) {
	// The name is canonical: one map lookup, no canonicalising.
	values := r.Header["Authorization"]
	if len(values) > 1 {
		return nil, nil, pihu.ParamErrorf(pihu.EParameterInvalid, "Authorization",
			"The request has %d Authorization headers; send exactly one, \"Authorization: Bearer YOUR_API_KEY\".", len(values))
	}
	var header string
	if len(values) == 1 {
		header = values[0]
	}
	secret, err := BearerToken(header)
	var k *pihu.Key
	var rules *auth.Rules
	g := failureGuard{s: s, w: w, r: r}
	if err == nil {
		k, rules, err = s.auth.AuthenticateRequest(r.Context(), secret, g.reserve)
	}
	if err == nil {
		g.refund()
		return k, rules, nil
	}
	if codes[pihu.ErrorCode(err)].status == http.StatusUnauthorized {
		err = g.fail(err)
	}
	if pihu.ErrorCode(err) == pihu.ERateLimited {
		// The address's failures, not a key, are refused: the challenge
		// tells the client how to authenticate, with no error code, as
		// no token was judged.
		w.Header().Set("WWW-Authenticate", `Bearer realm="pihu", error_description=`+authParam(pihu.ErrorMessage(err)))
	}
	return nil, nil, err
}

// failureGuard spends the failed-authentication budget of a request's
// client address before the work it guards (looking up a secret the cache
// does not hold, verifying a token's signature), not after: a budget only
// looked at first and spent after the lookup failed lets every one of
// many concurrent guesses through, since none of them is counted before
// all have looked. reserve is the guard the authenticator calls; once the
// authentication is decided, refund gives the failure back if the secret
// was valid, and fail counts a failure that reserve did not.
type failureGuard struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	spent bool
}

// reserve spends one failure of the address's budget (once a request,
// however many times it is called), and returns a rate-limit error if none
// is left.
func (g *failureGuard) reserve() error {
	if g.spent {
		return nil
	}
	res, err := g.s.limiter.Allow(g.r.Context(), failureKey(g.r), g.s.failedAuthLimit)
	if err != nil {
		g.s.limiterFailed(g.r, err)
		return nil
	}
	if !res.Allowed {
		return g.s.tooManyFailures(g.w, res)
	}
	g.spent = true
	return nil
}

// refund gives back the failure reserve spent: the secret was valid.
func (g *failureGuard) refund() {
	if !g.spent {
		return
	}
	g.spent = false
	if err := g.s.limiter.Refund(context.WithoutCancel(g.r.Context()), failureKey(g.r), g.s.failedAuthLimit); err != nil {
		g.s.limiterFailed(g.r, err)
	}
}

// fail counts the authentication error authErr as a failure of the
// address, unless reserve counted it already, and returns authErr, or a
// rate-limit error if the budget was spent already.
func (g *failureGuard) fail(authErr error) error {
	if g.spent {
		return authErr
	}
	return g.s.countFailure(g.w, g.r, authErr)
}

// failureKey is the limiter key of the failures of r's client.
func failureKey(r *http.Request) string {
	return "authfail:" + addressGroup(clientIP(r))
}

// limitLeakReport spends one of the leaked-key report budget of r's client
// address. Returns ERateLimited, with Retry-After set, if it has none left.
func (s *Server) limitLeakReport(w http.ResponseWriter, r *http.Request) error {
	res, err := s.limiter.Allow(r.Context(), "leaks:"+addressGroup(clientIP(r)), s.leaksLimit)
	if err != nil {
		s.limiterFailed(r, err)
		return nil
	}
	rateLimitHeaders(w.Header(), "leaked-keys", s.leaksLimit, res)
	if res.Allowed {
		return nil
	}
	secs := retryAfter(w, res)
	return pihu.Errorf(pihu.ERateLimited,
		"Too many reports of leaked keys from this address; retry in %s and send the rest in one report of up to %d keys.",
		seconds(secs), pihu.MaxLeakedKeys)
}

// countFailure spends one of the failure budget of r's client address for
// the authentication error authErr, and returns authErr, or a rate-limit
// error if the budget was already spent.
func (s *Server) countFailure(w http.ResponseWriter, r *http.Request, authErr error) error {
	res, err := s.limiter.Allow(r.Context(), failureKey(r), s.failedAuthLimit)
	if err != nil {
		s.limiterFailed(r, err)
		return authErr
	}
	if res.Allowed {
		return authErr
	}
	return s.tooManyFailures(w, res)
}

func (s *Server) tooManyFailures(w http.ResponseWriter, res ratelimit.Result) error {
	rateLimitHeaders(w.Header(), "failed-auth", s.failedAuthLimit, res)
	secs := retryAfter(w, res)
	return pihu.Errorf(pihu.ERateLimited,
		"Too many failed authentications from your address. Check your API key, and retry in %s.", seconds(secs))
}

// rateLimitHeaders sets the rate-limit headers of a response to a request
// that spent one of policy's limit l, with the result res:
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
// The names are written in their canonical form straight into the map.
func rateLimitHeaders(h http.Header, policy string, l ratelimit.Limit, res ratelimit.Result) {
	remaining := strconv.Itoa(res.Remaining)
	reset := strconv.Itoa(ceilSeconds(res.ResetAfter))
	h["Ratelimit-Policy"] = []string{`"` + policy + `";q=` + strconv.Itoa(l.Rate) + ";w=" + strconv.FormatInt(int64(l.Period/time.Second), 10)}
	h["Ratelimit"] = []string{`"` + policy + `";r=` + remaining + ";t=" + reset}
	if policy != "default" {
		return
	}
	h["Ratelimit-Limit"] = []string{strconv.Itoa(res.Limit)}
	h["Ratelimit-Remaining"] = []string{remaining}
	h["Ratelimit-Reset"] = []string{reset}
}

// retryAfter sets the Retry-After header of a refused request, in whole
// seconds rounded up and at least 1, and returns it.
func retryAfter(w http.ResponseWriter, res ratelimit.Result) int {
	secs := max(1, ceilSeconds(res.RetryAfter))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return secs
}

func seconds(n int) string {
	if n == 1 {
		return "1 second"
	}
	return strconv.Itoa(n) + " seconds"
}

// ceilSeconds is d in whole seconds, rounded up, and 0 for d ≤ 0.
func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

func (s *Server) limiterFailed(r *http.Request, err error) {
	s.logger.Error("rate limiter failed; request let through",
		"request_id", requestID(r.Context()), "err", err)
}
