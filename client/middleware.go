package client

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pihu-ai/pihu"
)

// MiddlewareConfig configures Middleware.
type MiddlewareConfig struct {
	// Client verifies API keys with POST /v1/auth/verify: a client whose
	// key has the api_key:verify permission. Required.
	Client *Client
	// Tokens, if set, verifies access tokens (JWTs) offline, with the
	// server's public keys; without it they are sent to POST
	// /v1/auth/verify like keys. Offline, a token is accepted until it
	// expires even if its key was revoked, and its key's allowed_ips are
	// not checked (see TokenVerifier).
	Tokens *TokenVerifier
	// Permissions are required of every request: a key or token without
	// one of them gets 403 insufficient_permissions. Empty: any valid key.
	Permissions []string
	// CacheFor is how long a valid API key is remembered, per key and
	// client address, before it is verified again. A key revoked at pihu
	// is still accepted for up to this long by a service that saw it
	// valid, and requests answered from the cache spend none of the key's
	// rate limit at pihu. Default 5 seconds; at most 1 minute; negative:
	// no cache. Refusals are never cached.
	CacheFor time.Duration
	// CacheSize is the most keys remembered at once (default 10,000). A
	// full cache drops its expired entries; if none are, it remembers no
	// more until some expire.
	CacheSize int
	// ClientIP returns the address of the client that sent r, passed to
	// pihu as `ip` so that keys with allowed_ips work. Default: the host
	// of r.RemoteAddr; behind a proxy, return the address it forwards.
	ClientIP func(r *http.Request) string
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Identity is the verified caller of a request that Middleware let
// through: read it with IdentityFromContext.
type Identity struct {
	// Kind is KindAPIKey or KindAccessToken.
	Kind string
	// KeyID is the API key's id (for a token, the key it was minted
	// with), AccountID its account's.
	KeyID     string
	AccountID string
	// Environment is "live" or "test": a live service should refuse test
	// keys.
	Environment string
	// Permissions are the key's (or the token's).
	Permissions []string
	// Expires is when the key or token expires; nil: never.
	Expires *time.Time
	// TokenID is an access token's id (its jti); "" for an API key.
	TokenID string
	// Customer is the key's identity (your user or organisation, see
	// CustomerIdentity); nil for a key of none.
	Customer *KeyIdentity
}

// Has reports whether the identity holds permission p, with pihu's rules:
// "*" grants everything, "res:*" every action on res, "res:write" also
// "res:read".
func (id *Identity) Has(p string) bool {
	ps := make(pihu.Permissions, len(id.Permissions))
	for i, s := range id.Permissions {
		ps[i] = pihu.Permission(s)
	}
	return ps.Grants(pihu.Permission(p))
}

type identityKey struct{}

// IdentityFromContext returns the identity Middleware verified for the
// request whose context is ctx, or nil if there is none.
func IdentityFromContext(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}

// Middleware returns net/http middleware that lets through only requests
// with a valid API key or access token in "Authorization: Bearer …", and
// puts the verified Identity in their context. A refused request gets the
// status, the WWW-Authenticate challenge and the error body pihu itself
// gives for it ({"error":{"type","code","message",…,"request_id"}}, with
// pihu's request id when pihu was asked): 401 missing_api_key,
// invalid_api_key, expired_api_key, revoked_api_key or disabled_api_key; 400
// parameter_invalid for a malformed Authorization header; 403
// insufficient_permissions or ip_not_allowed; 429 rate_limited with
// Retry-After. When pihu cannot be reached it is a 503 api_error
// (code internal), so that a service fails closed.
//
// It panics if cfg.Client is nil.
func Middleware(cfg MiddlewareConfig) func(http.Handler) http.Handler {
	if cfg.Client == nil {
		panic("client.Middleware: MiddlewareConfig.Client is required")
	}
	m := &middleware{cfg: cfg, cache: map[[32]byte]cached{}}
	if m.cfg.CacheFor == 0 {
		m.cfg.CacheFor = 5 * time.Second
	}
	m.cfg.CacheFor = min(m.cfg.CacheFor, time.Minute)
	if m.cfg.CacheSize <= 0 {
		m.cfg.CacheSize = 10_000
	}
	if m.cfg.ClientIP == nil {
		m.cfg.ClientIP = remoteHost
	}
	if m.cfg.Now == nil {
		m.cfg.Now = time.Now
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, refusal := m.verify(r)
			if refusal != nil {
				refusal.write(w)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
		})
	}
}

type middleware struct {
	cfg   MiddlewareConfig
	mu    sync.Mutex
	cache map[[32]byte]cached // by SHA-256 of the key and the address
}

type cached struct {
	id      *Identity
	expires time.Time
}

// verify returns the identity of r's credentials, or why they are
// refused.
func (m *middleware) verify(r *http.Request) (*Identity, *refusal) {
	if n := len(r.Header.Values("Authorization")); n > 1 {
		return nil, &refusal{status: 400, typ: "invalid_request_error", code: "parameter_invalid", param: "Authorization",
			message: "The request has more than one Authorization header; send exactly one, \"Authorization: Bearer YOUR_API_KEY\"."}
	}
	secret, ref := bearer(r.Header.Get("Authorization"))
	if ref != nil {
		return nil, ref
	}
	if m.cfg.Tokens != nil && strings.Count(secret, ".") == 2 {
		return m.verifyToken(r.Context(), secret)
	}
	ip := m.cfg.ClientIP(r)
	sum := sha256.Sum256([]byte(secret + "\x00" + ip))
	now := m.cfg.Now()
	if m.cfg.CacheFor > 0 {
		m.mu.Lock()
		c, ok := m.cache[sum]
		m.mu.Unlock()
		if ok && now.Before(c.expires) {
			return c.id, nil
		}
	}
	v, err := m.cfg.Client.Verify(r.Context(), VerifyParams{Key: secret, Permissions: m.cfg.Permissions, IP: ip})
	if err != nil {
		return nil, &refusal{status: http.StatusServiceUnavailable, typ: "api_error", code: "internal", retryAfter: 1,
			message: "The API key could not be verified: the authentication service did not answer. Try again."}
	}
	if !v.Valid {
		return nil, m.refuse(v)
	}
	id := &Identity{Kind: v.Kind, KeyID: v.KeyID, AccountID: v.AccountID, Environment: v.Environment, Permissions: v.Permissions, Expires: v.Expires,
		Customer: v.Identity}
	if id.Kind == "" {
		id.Kind = KindAPIKey
	}
	if m.cfg.CacheFor > 0 {
		m.remember(sum, id, now)
	}
	return id, nil
}

// remember caches a valid key's identity, within the cache's bound.
func (m *middleware) remember(sum [32]byte, id *Identity, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cache) >= m.cfg.CacheSize {
		for k, c := range m.cache {
			if !now.Before(c.expires) {
				delete(m.cache, k)
			}
		}
		if len(m.cache) >= m.cfg.CacheSize {
			return
		}
	}
	m.cache[sum] = cached{id: id, expires: now.Add(m.cfg.CacheFor)}
}

// verifyToken checks an access token offline.
func (m *middleware) verifyToken(ctx context.Context, token string) (*Identity, *refusal) {
	claims, err := m.cfg.Tokens.Verify(ctx, token)
	switch {
	case errors.Is(err, ErrExpiredToken):
		return nil, invalid("expired_api_key", "This access token has expired. Mint a new one with POST /v1/auth/tokens.")
	case errors.Is(err, ErrInvalidToken):
		return nil, invalid("invalid_api_key", "The access token is not valid. Send a token as pihu issued it, or an API key.")
	case err != nil:
		return nil, &refusal{status: http.StatusServiceUnavailable, typ: "api_error", code: "internal", retryAfter: 1,
			message: "The access token could not be verified: the authentication service's keys could not be fetched. Try again."}
	}
	id := &Identity{Kind: KindAccessToken, KeyID: claims.KeyID, AccountID: claims.AccountID, Environment: claims.Environment,
		Permissions: claims.Permissions, TokenID: claims.ID}
	exp := claims.Expires
	id.Expires = &exp
	for _, p := range m.cfg.Permissions {
		if !claims.Has(p) {
			return nil, insufficient(p)
		}
	}
	return id, nil
}

// refuse is the refusal of a verification that is not valid, as pihu
// answers a request made with that key.
func (m *middleware) refuse(v *Verification) *refusal {
	var ref *refusal
	switch v.Code {
	case VerifyExpired:
		ref = invalid("expired_api_key", "This API key has expired. Create a new key, or rotate it before it expires.")
	case VerifyRevoked:
		ref = invalid("revoked_api_key", "This API key has been revoked. Create a new key in the dashboard or with POST /v1/auth/api-keys.")
	case VerifyDisabled:
		ref = invalid("disabled_api_key", "This API key is disabled. An admin can enable it again with PATCH /v1/auth/api-keys/"+v.KeyID+" and {\"enabled\": true}, or in the dashboard.")
	case VerifyInsufficientPermissions:
		missing := ""
		for _, p := range m.cfg.Permissions {
			if !(&Identity{Permissions: v.Permissions}).Has(p) {
				missing = p
				break
			}
		}
		ref = insufficient(missing)
	case VerifyUsageExceeded:
		ref = &refusal{status: http.StatusForbidden, typ: "permission_error", code: "usage_exceeded",
			message: "This API key has used all its credits. Wait for its refill, or add credits to it."}
	case VerifyIPNotAllowed:
		ref = &refusal{status: http.StatusForbidden, typ: "permission_error", code: "ip_not_allowed",
			message: "This API key may not be used from this address. Use it from an address in its allowed_ips, or use another key."}
	case VerifyRateLimited:
		ref = &refusal{status: http.StatusTooManyRequests, typ: "rate_limit_error", code: "rate_limited", retryAfter: 1,
			message: "This API key has made too many requests. Retry later."}
		if rl := v.RateLimit; rl != nil && rl.Limit > 0 {
			// A smooth limiter gives one request back every reset/limit
			// seconds when none is left.
			ref.retryAfter = max(1, (rl.Reset+rl.Limit-1)/rl.Limit)
		}
	default: // VerifyNotFound, or a code newer than this client
		ref = invalid("invalid_api_key", "The API key is not valid. Check that you copied the whole key, starting with ph_live_ or ph_test_.")
	}
	ref.requestID = v.RequestID()
	return ref
}

// bearer returns the token of an Authorization header, or the refusal pihu
// gives for it (RFC 6750).
func bearer(header string) (string, *refusal) {
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimLeft(token, " ")
	switch {
	case !strings.EqualFold(scheme, "Bearer") || token == "":
		return "", &refusal{status: http.StatusUnauthorized, typ: "authentication_error", code: "missing_api_key",
			message: "No API key was given. Send it as the header Authorization: Bearer YOUR_API_KEY.", challenge: `Bearer realm="pihu"`}
	case !b64Token(token):
		return "", &refusal{status: http.StatusBadRequest, typ: "invalid_request_error", code: "parameter_invalid", param: "Authorization",
			message: "The Authorization header must read \"Bearer YOUR_API_KEY\", with one key and nothing after it."}
	}
	return token, nil
}

// b64Token reports whether s is an RFC 6750 b64token, as every key and
// token is: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func b64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for _, c := range []byte(body) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return false
		}
	}
	return true
}

func invalid(code, message string) *refusal {
	return &refusal{status: http.StatusUnauthorized, typ: "authentication_error", code: code, message: message}
}

func insufficient(perm string) *refusal {
	return &refusal{status: http.StatusForbidden, typ: "permission_error", code: "insufficient_permissions", required: perm,
		message: "This API key does not have the \"" + perm + "\" permission that this request needs."}
}

// refusal is a request Middleware refuses: pihu's error body and headers.
type refusal struct {
	status                                         int
	typ, code, message, param, required, requestID string
	challenge                                      string // WWW-Authenticate; derived from code if ""
	retryAfter                                     int    // seconds; 0: no Retry-After
}

func (f *refusal) write(w http.ResponseWriter) {
	if f.requestID == "" {
		f.requestID = pihu.NewID(pihu.PrefixRequest)
	}
	h := w.Header()
	desc := strings.NewReplacer(`"`, "'", `\`, "/").Replace(f.message)
	switch {
	case f.challenge != "":
		h.Set("WWW-Authenticate", f.challenge)
	case f.status == http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="pihu", error="invalid_token", error_description="`+desc+`"`)
	case f.status == http.StatusBadRequest:
		h.Set("WWW-Authenticate", `Bearer realm="pihu", error="invalid_request", error_description="`+desc+`"`)
	case f.code == "insufficient_permissions":
		h.Set("WWW-Authenticate", `Bearer realm="pihu", error="insufficient_scope", error_description="`+desc+`", scope="`+f.required+`"`)
	}
	if f.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(f.retryAfter))
	}
	h.Set("Request-Id", f.requestID)
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(f.status)
	json.NewEncoder(w).Encode(map[string]errorObject{"error": {
		Type: f.typ, Code: f.code, Message: f.message, Param: f.param, Required: f.required, RequestID: f.requestID,
	}})
}

type errorObject struct {
	Type      string `json:"type"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	Param     string `json:"param,omitempty"`
	Required  string `json:"required,omitempty"`
	RequestID string `json:"request_id"`
}

// remoteHost is the host of r.RemoteAddr.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
