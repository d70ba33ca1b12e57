package http

import (
	"encoding/json"
	"net/http"
	"net/netip"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/ratelimit"
)

// Codes of POST /v1/auth/verify: why a key is valid or not.
const (
	VerifyValid    = "VALID"
	VerifyNotFound = "NOT_FOUND"
	VerifyExpired  = "EXPIRED"
	VerifyRevoked  = "REVOKED"
	// VerifyDisabled is a key disabled with PATCH (enabled: false), or
	// an access token minted from one.
	VerifyDisabled                = "DISABLED"
	VerifyInsufficientPermissions = "INSUFFICIENT_PERMISSIONS"
	VerifyIPNotAllowed            = "IP_NOT_ALLOWED"
	VerifyRateLimited             = "RATE_LIMITED"
	VerifyUsageExceeded           = "USAGE_EXCEEDED"
)

// Kinds of credential POST /v1/auth/verify verifies, told apart by shape.
const (
	VerifyKindAPIKey      = "api_key"
	VerifyKindAccessToken = "access_token"
)

// VerifyResult is the response of POST /v1/auth/verify. Every field is
// always present; those that do not apply are null.
type VerifyResult struct {
	Valid bool   `json:"valid"`
	Code  string `json:"code"`
	// Kind is what was verified: an API key, or an access token (whose
	// key_id is its parent key's, and whose permissions and expires are
	// the token's).
	Kind        string           `json:"kind"`
	KeyID       *string          `json:"key_id"`
	AccountID   *string          `json:"account_id"`
	Environment *string          `json:"environment"` // "live" or "test"
	Permissions []string         `json:"permissions"`
	Expires     *string          `json:"expires"`
	RateLimit   *VerifyRateLimit `json:"ratelimit"`
	// RateLimits are the limits the request named (ratelimits), in its
	// order, each as the verification left it; [] when it named none.
	RateLimits []VerifyNamedLimit `json:"ratelimits"`
	// Metadata is the key's metadata (an access token's parent's); null
	// when none, or the key is not found.
	Metadata json.RawMessage `json:"metadata"`
	// Identity is the key's identity (an access token's parent's); null
	// when none, or the key is not found.
	Identity *KeyIdentity `json:"identity"`
	// Remaining is the key's credits left after this verification: null
	// for a key whose use is not counted, and for a verification refused
	// before its credits were looked at (see verify).
	Remaining *int64 `json:"remaining"`
	// NextRefill is when the key's credits next come back, given with
	// remaining; null without a refill.
	NextRefill *string `json:"next_refill"`
	// IdentityRemaining is the credits the key's identity shares, left
	// after this verification: null for a key of no identity, or of one
	// whose use is not counted, and for a verification refused before
	// credits were looked at.
	IdentityRemaining *int64 `json:"identity_remaining"`
	// IdentityNextRefill is when the identity's credits next come back,
	// given with identity_remaining; null without a refill.
	IdentityNextRefill *string `json:"identity_next_refill"`
}

// VerifyRateLimit is the verified key's rate limit after the request the
// verification spent: as the RateLimit-* headers of a request made with
// the key would say.
type VerifyRateLimit struct {
	Limit     int `json:"limit"`
	Remaining int `json:"remaining"`
	Reset     int `json:"reset"` // seconds until the budget is full again
}

// VerifyNamedLimit is one limit a verification spent (or would have):
// limit, remaining and reset are as for ratelimit, and null for a limit
// that is not defined (defined false: nothing was spent, and it refuses
// nothing), or that was not reached (the key was refused before it).
type VerifyNamedLimit struct {
	Name      string `json:"name"`
	Cost      int    `json:"cost"`
	Defined   bool   `json:"defined"`
	Limit     *int   `json:"limit"`
	Remaining *int   `json:"remaining"`
	Reset     *int   `json:"reset"`
}

// verifyLimit is a limit a verification spends: its name, and its cost
// (default 1).
type verifyLimit struct {
	Name *string `json:"name"`
	Cost *int    `json:"cost"`
}

type verifyRequest struct {
	Key         *string            `json:"key"`
	Permissions *[]pihu.Permission `json:"permissions"`
	// IP is the address of the client that sent the key to the verifying
	// service, as that service sees it.
	IP *string `json:"ip"`
	// Cost is how many of the key's credits the verification spends
	// (default 1); 0 checks that some are left without spending any.
	Cost *int64 `json:"cost"`
	// RateLimits are the named limits the verification spends, each with
	// its cost ("requests", the key's rate limit, is spent once unless
	// named here).
	RateLimits *[]verifyLimit `json:"ratelimits"`
}

// verify tells another service whether a key it was given may be used, as
// if the key had been sent to this API, in the API's order: NOT_FOUND for
// anything that is not a key of the caller's account and environments
// (malformed, unknown, another account's: nothing about it is shown), then
// EXPIRED or REVOKED, then DISABLED (counted in the key's usage, refused),
// then IP_NOT_ALLOWED if the key has allowed_ips and
// the client address given as ip is not in them (or none is given), then
// the key's rate limit (one request is spent: RATE_LIMITED when none is
// left), then the permissions asked for, then, for a key with credits,
// its credits (cost of them are spent: USAGE_EXCEEDED when fewer are
// left, and nothing is spent). A key that passes the first two steps
// counts as used (last_used), and counts in its usage: allowed when
// VALID, refused otherwise.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	var body verifyRequest
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	need, err := body.need()
	if err != nil {
		s.writeError(w, r, err)
		return
	}

	out := VerifyResult{Code: VerifyNotFound, Kind: VerifyKindAPIKey, RateLimits: []VerifyNamedLimit{}}
	var k *pihu.Key
	token, err := s.auth.IsToken(r.Context(), *body.Key, nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if token {
		out.Kind = VerifyKindAccessToken
		var done bool
		if k, done = s.verifyToken(w, r, caller, *body.Key, &out); done {
			return
		}
	} else {
		k, err = s.auth.Lookup(r.Context(), *body.Key)
		if pihu.ErrorCode(err) == pihu.EInvalidAPIKey || err == nil && !visible(caller, k) {
			writeJSON(w, http.StatusOK, out)
			return
		} else if err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	env := string(k.Environment)
	out.KeyID, out.AccountID, out.Environment = &k.ID, &k.AccountID, &env
	out.Permissions, out.Expires = k.Rights().Strings(), timestampPtr(k.Expires)
	out.Metadata, out.Identity = k.Metadata, NewKeyIdentity(k)
	if err := s.auth.Active(k); err != nil {
		s.observeInactive(err)
		out.Code = activeCodes[pihu.ErrorCode(err)]
		s.logVerified(r, k, need, pihu.ErrorCode(err))
		writeJSON(w, http.StatusOK, out)
		return
	}
	s.auth.RecordUse(k)
	// The admission's checks, as for a request made with the key.
	d, err := s.adm.Admit(r.Context(), k, need)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if d.RateDecided {
		out.RateLimit = &VerifyRateLimit{Limit: d.Rate.Limit, Remaining: d.Rate.Remaining, Reset: ceilSeconds(d.Rate.ResetAfter)}
	}
	out.RateLimits = verifyLimits(k, need.RateLimits, d)
	if d.Spend != nil {
		out.Remaining, out.NextRefill = &d.Spend.Remaining, timestampPtr(d.Spend.NextRefill)
	}
	if d.IdentitySpend != nil {
		out.IdentityRemaining, out.IdentityNextRefill = &d.IdentitySpend.Remaining, timestampPtr(d.IdentitySpend.NextRefill)
	}
	out.Code = verifyCodes[d.Outcome]
	out.Valid = d.Allowed()
	s.logVerified(r, k, need, d.Outcome.Code())
	writeJSON(w, http.StatusOK, out)
}

// verifyLimits is what d left of each limit spends names, for k.
func verifyLimits(k *pihu.Key, spends []auth.LimitSpend, d auth.Decision) []VerifyNamedLimit {
	out := make([]VerifyNamedLimit, 0, len(spends))
	for _, s := range spends {
		v := VerifyNamedLimit{Name: s.Name, Cost: s.Cost, Defined: auth.Defined(k, s.Name)}
		set := func(res ratelimit.Result) {
			reset := ceilSeconds(res.ResetAfter)
			v.Limit, v.Remaining, v.Reset = &res.Limit, &res.Remaining, &reset
		}
		if s.Name == pihu.RequestsLimit {
			if d.RateDecided {
				set(d.Rate)
			}
		} else {
			for _, r := range d.Limits {
				if r.Name == s.Name && r.Decided {
					set(r.Rate)
				}
			}
		}
		out = append(out, v)
	}
	return out
}

// logVerified records in the request log the verification of key k, in
// k's log: the request the verifying service was sent is not known (no
// method or path), its client's address is the ip given, its status the
// API's for the outcome (code, "" if valid). The verifier's own request is
// in its key's log, as any request to the API.
func (s *Server) logVerified(r *http.Request, k *pihu.Key, need auth.Need, code string) {
	e := pihu.RequestLogEntry{RequestID: requestID(r.Context()), AccountID: k.AccountID, KeyID: k.ID, Time: s.now(),
		Door: pihu.DoorVerify, Status: auth.StatusOf(code), IP: need.ClientIP, Code: code}
	if k.Token != nil {
		e.TokenID = k.Token.ID
	}
	s.auth.LogRequest(&e)
}

// activeCodes are verify's words for the refusals of a key that does not
// work (auth.Authenticator.Active).
var activeCodes = map[string]string{
	pihu.ERevokedAPIKey:  VerifyRevoked,
	pihu.EExpiredAPIKey:  VerifyExpired,
	pihu.EDisabledAPIKey: VerifyDisabled,
}

// verifyCodes are verify's words for the admission's outcomes.
var verifyCodes = map[auth.Outcome]string{
	auth.Admitted:          VerifyValid,
	auth.RefusedAddress:    VerifyIPNotAllowed,
	auth.RefusedRateLimit:  VerifyRateLimited,
	auth.RefusedPermission: VerifyInsufficientPermissions,
	auth.RefusedCredits:    VerifyUsageExceeded,
	// verify asks for no environment, so it never refuses one; a key of
	// the wrong environment would be short of a permission.
	auth.RefusedEnvironment: VerifyInsufficientPermissions,
}

// need checks the request's fields and returns what the verification asks
// of the key.
func (body *verifyRequest) need() (auth.Need, error) {
	need := auth.Need{Cost: 1}
	if body.Key == nil {
		return need, pihu.ParamErrorf(pihu.EParameterMissing, "key", "Give \"key\": the API key to verify, such as \"ph_live_…\".")
	}
	if *body.Key == "" {
		return need, pihu.ParamErrorf(pihu.EParameterInvalid, "key", "\"key\" is empty; give the API key to verify, such as \"ph_live_…\".")
	}
	if body.Permissions != nil {
		need.Permissions = *body.Permissions
		if err := pihu.Permissions(need.Permissions).CheckFormat("permissions"); err != nil {
			return need, err
		}
	}
	if body.IP != nil { // else "": not given, and allowed by no allowed_ips
		a, err := netip.ParseAddr(*body.IP)
		if err != nil || a.Zone() != "" {
			return need, pihu.ParamErrorf(pihu.EParameterInvalid, "ip",
				"\"ip\" must be the IPv4 or IPv6 address of the client that sent the key, such as \"203.0.113.7\" or \"2001:db8::1\".")
		}
		need.ClientIP = a.Unmap().String()
	}
	if body.Cost != nil {
		if *body.Cost < 0 || *body.Cost > pihu.MaxCredits {
			return need, pihu.ParamErrorf(pihu.EParameterInvalid, "cost",
				"\"cost\" must be a whole number from 0 to %d: the credits the verification spends (0 checks without spending).", int64(pihu.MaxCredits))
		}
		need.Cost = *body.Cost
	}
	if body.RateLimits != nil {
		for _, l := range *body.RateLimits {
			if l.Name == nil {
				return need, pihu.ParamErrorf(pihu.EParameterMissing, "ratelimits", "Each of \"ratelimits\" needs a \"name\": the limit to spend, such as {\"name\": \"tokens\", \"cost\": 10}.")
			}
			s := auth.LimitSpend{Name: *l.Name, Cost: 1}
			if l.Cost != nil {
				s.Cost = *l.Cost
			}
			need.RateLimits = append(need.RateLimits, s)
		}
		if err := auth.CheckSpends(need.RateLimits, "ratelimits"); err != nil {
			return need, err
		}
	}
	return need, nil
}

// verifyToken is the first steps of verify for an access token: NOT_FOUND
// for a token that is not valid or not the caller's to see, EXPIRED for an
// expired one; else the key the token authenticates as, its parent
// restricted by it, for the steps that follow (the parent's revocation or
// expiry included). done is true when the answer is written.
func (s *Server) verifyToken(w http.ResponseWriter, r *http.Request, caller *pihu.Key, token string, out *VerifyResult) (k *pihu.Key, done bool) {
	at, parent, err := s.auth.Token(r.Context(), token, nil)
	switch code := pihu.ErrorCode(err); {
	case err == nil:
		if !visible(caller, parent) {
			writeJSON(w, http.StatusOK, out)
			return nil, true
		}
		return at.Restrict(parent), false
	case code == pihu.EExpiredAPIKey && at != nil:
		if at.AccountID == caller.AccountID && caller.Environment.CanUse(at.Environment) {
			env, exp := string(at.Environment), timestamp(at.Expires)
			out.Code, out.KeyID, out.AccountID, out.Environment = VerifyExpired, &at.KeyID, &at.AccountID, &env
			out.Permissions, out.Expires = at.Permissions.Strings(), &exp
		}
		writeJSON(w, http.StatusOK, out)
		return nil, true
	case code == pihu.EInvalidAPIKey, code == pihu.EExpiredAPIKey:
		writeJSON(w, http.StatusOK, out)
		return nil, true
	default:
		s.writeError(w, r, err)
		return nil, true
	}
}
