package http

import (
	"net/http"

	"github.com/pihu-ai/pihu"
)

// Codes of POST /v1/auth/verify: why a key is valid or not.
const (
	VerifyValid                   = "VALID"
	VerifyNotFound                = "NOT_FOUND"
	VerifyExpired                 = "EXPIRED"
	VerifyRevoked                 = "REVOKED"
	VerifyInsufficientPermissions = "INSUFFICIENT_PERMISSIONS"
	VerifyRateLimited             = "RATE_LIMITED"
)

// VerifyResult is the response of POST /v1/auth/verify. Every field is
// always present; those that do not apply are null.
type VerifyResult struct {
	Valid       bool             `json:"valid"`
	Code        string           `json:"code"`
	KeyID       *string          `json:"key_id"`
	AccountID   *string          `json:"account_id"`
	Permissions []string         `json:"permissions"`
	Expires     *string          `json:"expires"`
	RateLimit   *VerifyRateLimit `json:"ratelimit"`
}

// VerifyRateLimit is the verified key's rate limit after the request the
// verification spent: as the RateLimit-* headers of a request made with
// the key would say.
type VerifyRateLimit struct {
	Limit     int `json:"limit"`
	Remaining int `json:"remaining"`
	Reset     int `json:"reset"` // seconds until the budget is full again
}

type verifyRequest struct {
	Key         *string            `json:"key"`
	Permissions *[]pihu.Permission `json:"permissions"`
}

// verify tells another service whether a key it was given may be used, as
// if the key had been sent to this API: NOT_FOUND for anything that is not
// a key of the caller's account and environments (malformed, unknown,
// another account's: nothing about it is shown), then EXPIRED or REVOKED,
// then the key's rate limit (one request is spent: RATE_LIMITED when none
// is left), then the permissions asked for. A key that passes the first two
// steps counts as used (last_used).
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	if err := noParameters(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	var body verifyRequest
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if body.Key == nil {
		s.writeError(w, r, pihu.ParamErrorf(pihu.EParameterMissing, "key", "Give \"key\": the API key to verify, such as \"ph_live_…\"."))
		return
	}
	if *body.Key == "" {
		s.writeError(w, r, pihu.ParamErrorf(pihu.EParameterInvalid, "key", "\"key\" is empty; give the API key to verify, such as \"ph_live_…\"."))
		return
	}
	var want pihu.Permissions
	if body.Permissions != nil {
		want = pihu.Permissions(*body.Permissions)
		if err := want.Validate(); err != nil {
			s.writeError(w, r, err)
			return
		}
	}

	out := VerifyResult{Code: VerifyNotFound}
	k, err := s.auth.Lookup(r.Context(), *body.Key)
	if pihu.ErrorCode(err) == pihu.EInvalidAPIKey || err == nil && !visible(caller, k) {
		writeJSON(w, http.StatusOK, out)
		return
	} else if err != nil {
		s.writeError(w, r, err)
		return
	}
	out.KeyID, out.AccountID = &k.ID, &k.AccountID
	out.Permissions, out.Expires = k.Permissions.Strings(), timestampPtr(k.Expires)
	if ok, code := k.Active(s.now()); !ok {
		out.Code = VerifyExpired
		if code == pihu.ERevokedAPIKey {
			out.Code = VerifyRevoked
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	s.auth.RecordUse(k)

	_, res, decided, err := s.spend(r, k)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if decided { // else the limiter failed: let through, as a request is
		out.RateLimit = &VerifyRateLimit{Limit: res.Limit, Remaining: res.Remaining, Reset: ceilSeconds(res.ResetAfter)}
		if !res.Allowed {
			out.Code = VerifyRateLimited
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	for _, p := range want {
		if !k.Permissions.Grants(p) {
			out.Code = VerifyInsufficientPermissions
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	out.Valid, out.Code = true, VerifyValid
	writeJSON(w, http.StatusOK, out)
}
