package http

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
)

// Access tokens: minting (POST /v1/auth/tokens with a key, or OAuth 2.0
// client credentials at POST /v1/oauth/token), and the public keys and
// metadata that let other services verify them offline. Using a token is
// authentication's business (auth.Authenticator).

// TokenCreated is the response of POST /v1/auth/tokens.
type TokenCreated struct {
	AccessToken string   `json:"access_token"`
	TokenType   string   `json:"token_type"` // "Bearer"
	ExpiresIn   int      `json:"expires_in"` // seconds
	Expires     string   `json:"expires"`
	Permissions []string `json:"permissions"`
}

type createTokenRequest struct {
	Permissions *[]pihu.Permission `json:"permissions"`
	ExpiresIn   *string            `json:"expires_in"`
	Audience    *string            `json:"audience"`
}

// tokens is the server's Tokens, or nil if it takes API keys only.
func (s *Server) tokens() *auth.Tokens { return s.auth.Tokens() }

var errNoTokens = pihu.Errorf(pihu.ENotFound, "This server does not issue access tokens.")

// mint makes, records and signs a token for caller (a key, or a key
// restricted by the token it authenticated with) asking for req. The audit
// event (token.created) is written before the token is signed, and only
// if caller is still active in the store: a key revoked while it mints
// gets no token.
func (s *Server) mint(ctx context.Context, r *http.Request, caller *pihu.Key, req pihu.TokenRequest) (*pihu.AccessToken, string, error) {
	tokens := s.tokens()
	if req.Permissions != nil {
		defined, err := s.defined(ctx, caller.AccountID)
		if err != nil {
			return nil, "", err
		}
		req.Defined = defined
	}
	at, err := pihu.NewAccessToken(caller, req, tokens.Issuer(), s.now())
	if err != nil {
		return nil, "", err
	}
	ev := pihu.NewAuditEvent(pihu.ActionTokenCreated, caller.ID, clientIP(r), caller, at.Issued)
	if err := s.store.RecordToken(ctx, ev); err != nil {
		return nil, "", err
	}
	signed, err := tokens.Sign(ctx, at)
	if err != nil {
		return nil, "", err
	}
	return at, signed, nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	if s.tokens() == nil {
		s.writeError(w, r, errNoTokens)
		return
	}
	var body createTokenRequest
	if err := decode(w, r, &body, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	req := pihu.TokenRequest{ExpiresIn: deref(body.ExpiresIn), Audience: deref(body.Audience)}
	if body.Permissions != nil {
		req.Permissions = pihu.Permissions(*body.Permissions)
		if req.Permissions == nil {
			req.Permissions = pihu.Permissions{} // [] is not null: it is refused as empty
		}
	}
	if body.ExpiresIn != nil && *body.ExpiresIn == "" {
		s.writeError(w, r, pihu.ParamErrorf(pihu.EParameterInvalid, "expires_in",
			"\"expires_in\" is empty: leave it out for 15 minutes, or give a lifetime such as \"30m\" (at most \"1h\")."))
		return
	}
	if body.Audience != nil && *body.Audience == "" {
		s.writeError(w, r, pihu.ParamErrorf(pihu.EParameterInvalid, "audience",
			"\"audience\" is empty: leave it out for a token for this API, or name the service the token is for."))
		return
	}
	at, signed, err := s.mint(r.Context(), r, caller, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, TokenCreated{
		AccessToken: signed, TokenType: "Bearer", ExpiresIn: int(at.Expires.Sub(at.Issued) / time.Second),
		Expires: timestamp(at.Expires), Permissions: at.Permissions.Strings(),
	})
}

// OAuthToken is the successful response of POST /v1/oauth/token (RFC 6749
// §5.1).
type OAuthToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"` // "Bearer"
	ExpiresIn   int    `json:"expires_in"` // seconds
	Scope       string `json:"scope"`      // the permissions, space-separated
}

// OAuthError is the error response of POST /v1/oauth/token (RFC 6749
// §5.2).
type OAuthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// oauthError is an RFC 6749 §5.2 error with its status. A 401 carries
// the challenge of HTTP Basic, the authentication the endpoint takes.
type oauthError struct {
	status      int
	code        string
	description string
	retryAfter  string
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

func oauthErr(status int, code, description string) *oauthError {
	return &oauthError{status: status, code: code, description: description}
}

// writeOAuth writes v with status and the headers RFC 6749 §5.1 requires.
func writeOAuth(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, status, v) // sets Cache-Control: no-store
}

func (s *Server) writeOAuthError(w http.ResponseWriter, e *oauthError) {
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="pihu", charset="UTF-8"`)
	}
	if e.retryAfter != "" {
		w.Header().Set("Retry-After", e.retryAfter)
	}
	writeOAuth(w, e.status, OAuthError{Error: e.code, ErrorDescription: pihu.MaskSecrets(e.description)})
}

// oauthForm reads the application/x-www-form-urlencoded body of a token
// request, and gives r a body that reads the same bytes again (for
// Idempotency-Key). Parameters given twice are refused (RFC 6749 §3.2);
// unknown ones are ignored, as RFC 6749 §3.1 requires.
func oauthForm(r *http.Request) (url.Values, *oauthError) {
	if r.URL.RawQuery != "" {
		return nil, oauthErr(400, "invalid_request", "The token endpoint takes its parameters in the body, not in the URL.")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, oauthErr(400, "invalid_request", "Send the parameters as Content-Type: application/x-www-form-urlencoded.")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil || len(body) > MaxBodyBytes {
		return nil, oauthErr(400, "invalid_request", "The request body is over 64 KiB or could not be read.")
	}
	r.Body = readCloser{strings.NewReader(string(body)), r.Body}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, oauthErr(400, "invalid_request", "The body is not valid application/x-www-form-urlencoded.")
	}
	for name, v := range form {
		if len(v) > 1 {
			return nil, oauthErr(400, "invalid_request", "The parameter "+pihu.MaskSecrets(name)+" is given more than once.")
		}
	}
	return form, nil
}

// clientCredentials returns the client id and secret of a token request:
// from HTTP Basic (RFC 6749 §2.3.1, each form-urlencoded) or from the
// body, never both.
func clientCredentials(r *http.Request, form url.Values) (id, secret string, e *oauthError) {
	header := r.Header.Values("Authorization")
	if len(header) > 1 {
		return "", "", oauthErr(400, "invalid_request", "Send one Authorization header.")
	}
	if len(header) == 1 {
		scheme, payload, _ := strings.Cut(header[0], " ")
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
		u, p, ok := strings.Cut(string(raw), ":")
		if !strings.EqualFold(scheme, "Basic") || err != nil || !ok {
			return "", "", oauthErr(401, "invalid_client", "Authenticate with HTTP Basic: the key id as user name, the secret key as password.")
		}
		id, err1 := url.QueryUnescape(u)
		secret, err2 := url.QueryUnescape(p)
		if err1 != nil || err2 != nil {
			return "", "", oauthErr(401, "invalid_client", "The client id and secret of HTTP Basic must be form-urlencoded (RFC 6749 §2.3.1).")
		}
		if form.Has("client_id") || form.Has("client_secret") {
			return "", "", oauthErr(400, "invalid_request", "Send the client credentials once: in HTTP Basic or in the body, not both.")
		}
		return id, secret, nil
	}
	if !form.Has("client_id") || !form.Has("client_secret") {
		return "", "", oauthErr(401, "invalid_client",
			"Authenticate the client: the key id as client_id and the secret key as client_secret, in HTTP Basic or in the body.")
	}
	return form.Get("client_id"), form.Get("client_secret"), nil
}

// oauthToken serves the OAuth 2.0 client credentials grant (RFC 6749
// §4.4): the client is an API key (client_id its id, client_secret its
// secret), and the token is the one POST /v1/auth/tokens mints, with the
// permissions of scope (default all of the key's) and the default
// lifetime. Every rule of an authenticated request applies to the key:
// a wrong secret counts as a failed authentication of the address, and
// allowed_ips, the key's rate limit and token:write are checked. Answers
// are in RFC 6749's format (§5.1, §5.2), with Cache-Control: no-store.
func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request) {
	if s.tokens() == nil {
		s.writeError(w, r, errNoTokens)
		return
	}
	d, form, err := s.oauthClient(w, r)
	k := d.Key
	var oe *oauthError
	if errors.As(err, &oe) {
		s.writeOAuthError(w, oe)
		return
	} else if err != nil {
		s.writeError(w, r, err)
		return
	}
	if rw, ok := w.(*responseWriter); ok {
		rw.key = k
	}
	r = withKey(r, k, s.now())
	s.idempotent(w, r, k, func(run bool) bool { return s.oauthAdmit(w, r, &d, run) }, func(w http.ResponseWriter, r *http.Request) {
		req := pihu.TokenRequest{Permissions: pihu.Permissions{}}
		for p := range strings.FieldsSeq(form.Get("scope")) {
			req.Permissions = append(req.Permissions, pihu.Permission(p))
		}
		if len(req.Permissions) == 0 {
			req.Permissions = nil // no scope: all of the key's
		}
		at, signed, err := s.mint(r.Context(), r, k, req)
		switch code := pihu.ErrorCode(err); {
		case err == nil:
		case code == pihu.EInsufficientPermissions, code == pihu.EParameterInvalid && errorParam(err) == "permissions":
			s.writeOAuthError(w, oauthErr(400, "invalid_scope", pihu.ErrorMessage(err)))
			return
		case code == pihu.ERevokedAPIKey, code == pihu.EExpiredAPIKey, code == pihu.EDisabledAPIKey:
			s.writeOAuthError(w, oauthErr(401, "invalid_client", pihu.ErrorMessage(err)))
			return
		default:
			s.writeError(w, r, err)
			return
		}
		writeOAuth(w, http.StatusOK, OAuthToken{
			AccessToken: signed, TokenType: "Bearer", ExpiresIn: int(at.Expires.Sub(at.Issued) / time.Second),
			Scope: strings.Join(at.Permissions.Strings(), " "),
		})
	})
}

// errorParam is the Param of err if it is a *pihu.Error.
func errorParam(err error) string {
	var e *pihu.Error
	if errors.As(err, &e) {
		return e.Param
	}
	return ""
}

// oauthClient reads a token request and authenticates its client, as
// require does for a bearer key. Its errors are *oauthError, except for
// failures of the store.
func (s *Server) oauthClient(w http.ResponseWriter, r *http.Request) (auth.Decision, url.Values, error) {
	var none auth.Decision
	form, e := oauthForm(r)
	if e != nil {
		return none, nil, e
	}
	id, secret, e := clientCredentials(r, form)
	if e == nil {
		switch gt := form.Get("grant_type"); {
		case !form.Has("grant_type"):
			e = oauthErr(400, "invalid_request", "Give grant_type=client_credentials.")
		case gt != "client_credentials":
			e = oauthErr(400, "unsupported_grant_type", "This server supports grant_type=client_credentials only.")
		}
	}
	if e != nil {
		if e.code == "invalid_client" {
			e = s.oauthFailure(w, r, e)
		}
		return none, nil, e
	}
	invalid := func(msg string) *oauthError {
		return s.oauthFailure(w, r, oauthErr(401, "invalid_client", msg))
	}
	if _, ok := pihu.ParseSecret(secret); !ok {
		return none, nil, invalid("client_secret is not a secret API key (ph_live_… or ph_test_…).")
	}
	// The address's failure budget is spent before the secret is looked
	// up, and given back once it names its client_id (see
	// auth.FailureGuard).
	g := s.adm.FailureGuard(r.Context(), clientIP(r))
	k, err := s.auth.AuthenticateGuarded(r.Context(), secret, g.Reserve)
	switch code := pihu.ErrorCode(err); {
	case err == nil:
	case code == pihu.ERateLimited:
		failureHeaders(w, err)
		return none, nil, rateLimited(w, err)
	case code == pihu.EInvalidAPIKey, code == pihu.ERevokedAPIKey, code == pihu.EExpiredAPIKey, code == pihu.EDisabledAPIKey:
		s.observeInactive(err)
		return none, nil, oauthFailure(w, g, oauthErr(401, "invalid_client", pihu.ErrorMessage(err)))
	default:
		g.Refund()
		return none, nil, err
	}
	// The secret authenticates one key; client_id must name that key.
	if subtle.ConstantTimeCompare([]byte(id), []byte(k.ID)) != 1 {
		return none, nil, oauthFailure(w, g, oauthErr(401, "invalid_client", "client_secret is not the secret of the key client_id."))
	}
	g.Refund()
	// The admission's checks, as for a bearer key, counted the same way.
	ip := clientIP(r)
	d, err := s.adm.Check(r.Context(), k, auth.Need{ClientIP: ip, Permissions: tokenWrite, Cost: 1})
	if err != nil {
		return d, nil, err
	}
	err = s.refusal(w, r, d)
	switch d.Outcome {
	case auth.RefusedAddress:
		return d, nil, oauthErr(400, "unauthorized_client", "This API key may not be used from "+ip+". Use it from an address in its allowed_ips.")
	case auth.RefusedRateLimit:
		return d, nil, rateLimited(w, err)
	case auth.RefusedPermission:
		return d, nil, oauthErr(400, "unauthorized_client", "This API key does not have the \"token:write\" permission that minting a token needs.")
	}
	return d, form, nil
}

// tokenWrite is what minting a token needs.
var tokenWrite = []pihu.Permission{"token:write"}

// oauthAdmit is admit for the token endpoint: a token minted here spends
// a credit of the key and counts in its usage, as one minted by POST
// /v1/auth/tokens does; a key out of credits is an "unauthorized_client"
// carrying Retry-After and Pihu-Credits-Refill.
func (s *Server) oauthAdmit(w http.ResponseWriter, r *http.Request, d *auth.Decision, run bool) bool {
	err := s.adm.Charge(r.Context(), d, 1, run)
	if err == nil && !d.Allowed() {
		// Only a refusal of the credits is new: an admitted request's
		// headers were set by check.
		err = s.refusal(w, r, *d)
	}
	switch {
	case err == nil:
		return true
	case pihu.ErrorCode(err) == pihu.EUsageExceeded:
		e := oauthErr(http.StatusBadRequest, "unauthorized_client", pihu.ErrorMessage(err))
		e.retryAfter = w.Header().Get("Retry-After")
		s.writeOAuthError(w, e)
	default:
		s.writeError(w, r, err)
	}
	return false
}

// oauthFailure counts a failed client authentication against the
// client's address, as a failed bearer key is: e, or a 429 once the
// address has no budget left.
func (s *Server) oauthFailure(w http.ResponseWriter, r *http.Request, e *oauthError) *oauthError {
	return oauthFailure(w, s.adm.FailureGuard(r.Context(), clientIP(r)), e)
}

// oauthFailure is Server.oauthFailure for a client authentication whose
// failure g may have counted already.
func oauthFailure(w http.ResponseWriter, g *auth.FailureGuard, e *oauthError) *oauthError {
	err := g.Fail(pihu.Errorf(pihu.EInvalidAPIKey, "%s", e.description))
	if pihu.ErrorCode(err) == pihu.ERateLimited {
		failureHeaders(w, err)
		return rateLimited(w, err)
	}
	return e
}

// rateLimited is a 429 in RFC 6749's format, with the Retry-After the
// limiter set: "temporarily_unavailable", the closest error RFC 6749
// defines.
func rateLimited(w http.ResponseWriter, err error) *oauthError {
	e := oauthErr(http.StatusTooManyRequests, "temporarily_unavailable", pihu.ErrorMessage(err))
	e.retryAfter = w.Header().Get("Retry-After")
	return e
}

// AuthorizationServerMetadata is the document of GET
// /.well-known/oauth-authorization-server (RFC 8414): what the OAuth 2.0
// server pihu is supports, and nothing it does not. It issues access
// tokens for client credentials only, at the token endpoint: it has no
// authorization endpoint, so no response type. RFC 8414 requires
// response_types_supported; it lists none, and authorization_endpoint,
// required only with a grant type that uses it, is left out.
type AuthorizationServerMetadata struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
}

// OpenIDConfiguration is the document of GET
// /.well-known/openid-configuration, for the libraries and gateways that
// find a JWT issuer's keys by OpenID Connect Discovery only: the metadata
// of RFC 8414, with the two fields OpenID Connect Discovery requires
// besides them that are true of pihu's tokens. pihu is not an OpenID
// provider (no ID tokens, no user login), so the document is partial: no
// authorization_endpoint, which pihu does not have, and no response type.
type OpenIDConfiguration struct {
	AuthorizationServerMetadata
	// SubjectTypesSupported is "public": a token's sub is its key's id,
	// the same for every audience.
	SubjectTypesSupported []string `json:"subject_types_supported"`
	// IDTokenSigningAlgValuesSupported is EdDSA, the only algorithm pihu
	// signs with. There are no ID tokens, but OpenID Connect Discovery
	// requires the field, and libraries (such as go-oidc) take the
	// algorithms they accept from it.
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
}

// metadata is the RFC 8414 metadata of tokens' issuer.
func metadata(tokens *auth.Tokens) AuthorizationServerMetadata {
	iss := strings.TrimSuffix(tokens.Issuer(), "/")
	scopes := make([]string, len(pihu.Catalogue))
	for i, p := range pihu.Catalogue {
		scopes[i] = string(p)
	}
	return AuthorizationServerMetadata{
		Issuer: tokens.Issuer(), JWKSURI: iss + "/.well-known/jwks.json", TokenEndpoint: iss + "/v1/oauth/token",
		GrantTypesSupported:               []string{"client_credentials"},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
		ResponseTypesSupported:            []string{},
		ScopesSupported:                   scopes,
	}
}

// The public documents (the keys, the two discovery documents) answer GET
// and HEAD, and ignore the query string, as the caches and libraries that
// fetch them expect: a document is the same whatever is appended to its
// URL.

func (s *Server) authorizationServerMetadata(w http.ResponseWriter, r *http.Request) {
	tokens := s.tokens()
	if tokens == nil {
		s.writeError(w, r, errNoTokens)
		return
	}
	writePublicJSON(w, metadata(tokens))
}

func (s *Server) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	tokens := s.tokens()
	if tokens == nil {
		s.writeError(w, r, errNoTokens)
		return
	}
	writePublicJSON(w, OpenIDConfiguration{
		AuthorizationServerMetadata:      metadata(tokens),
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: []string{pihu.SigningAlgorithm},
	})
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	tokens := s.tokens()
	if tokens == nil {
		s.writeError(w, r, errNoTokens)
		return
	}
	doc, err := tokens.JWKS(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	w.Write(append(doc, '\n'))
}

// writePublicJSON writes v as a 200 that caches may keep for 5 minutes.
func writePublicJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"type":"api_error","code":"internal","message":"Internal error."}}`, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	w.Write(append(b, '\n'))
}
