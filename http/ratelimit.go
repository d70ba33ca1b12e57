package http

import (
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

// authenticate returns the key of the request's bearer secret, through
// the admission's Authenticate: a failed authentication spends one of the
// client address's failure budget, spent before a secret this process has
// not seen (not cached) is looked up and given back when it is a valid key
// (see auth.FailureGuard), and an address with none left gets a 429 (with
// its headers) without its secret being looked up, unless the secret's
// key is cached, so that a valid key behind the same address as someone
// guessing goes on working. A request with more than one Authorization
// header is refused (400) before any key is looked up.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*pihu.Key, error) {
	// The name is canonical: one map lookup, no canonicalising.
	k, err := s.adm.Authenticate(r.Context(), r.Header["Authorization"], clientIP(r))
	if err != nil && failureHeaders(w, err) {
		// The address's failures, not a key, are refused.
		w.Header().Set("WWW-Authenticate", err.(*auth.TooManyFailures).Challenge())
	}
	return k, err
}

// failureHeaders sets the headers of err if it is an address out of
// failed authentications (*auth.TooManyFailures), and reports whether it
// is.
func failureHeaders(w http.ResponseWriter, err error) bool {
	e, ok := err.(*auth.TooManyFailures)
	if ok {
		var buf [3]pihu.Header
		setHeaders(w.Header(), e.AppendHeaders(buf[:0]))
	}
	return ok
}

// limitLeakReport spends one of the leaked-key report budget of r's client
// address. Returns ERateLimited, with Retry-After set, if it has none left.
func (s *Server) limitLeakReport(w http.ResponseWriter, r *http.Request) error {
	res, err := s.limiter.Allow(r.Context(), "leaks:"+auth.AddressGroup(clientIP(r)), s.leaksLimit)
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

// rateLimitHeaders sets the rate-limit headers of a response to a request
// that spent one of policy's limit l, with the result res (see
// ratelimit.AppendHeaders).
func rateLimitHeaders(h http.Header, policy string, l ratelimit.Limit, res ratelimit.Result) {
	var buf [5]pihu.Header
	setHeaders(h, ratelimit.AppendHeaders(buf[:0], policy, l, res))
}

// retryAfter sets the Retry-After header of a refused request, in whole
// seconds rounded up and at least 1, and returns it.
func retryAfter(w http.ResponseWriter, res ratelimit.Result) int {
	secs := res.RetryAfterSeconds()
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return secs
}

func seconds(n int) string { return ratelimit.Seconds(n) }

// ceilSeconds is d in whole seconds, rounded up, and 0 for d ≤ 0.
func ceilSeconds(d time.Duration) int { return ratelimit.CeilSeconds(d) }

func (s *Server) limiterFailed(r *http.Request, err error) {
	s.logger.Error("rate limiter failed; request let through",
		"request_id", requestID(r.Context()), "err", err)
}
