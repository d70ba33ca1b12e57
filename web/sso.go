package web

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/pihu-ai/pihu"
)

// Single sign-on with OpenID Connect (github.com/coreos/go-oidc and
// golang.org/x/oauth2). The operator names providers in a file (serve
// --sso-providers); the sign-in page shows a "Sign in with <name>" button
// for each. The button starts the authorization-code flow with PKCE, a
// state and a nonce; the provider sends the browser back to
// /login/sso/{id}/callback, where the code is exchanged, the ID token
// verified against the provider's discovery document and keys (JWKS), and
// its verified email signs its person in to the provider's account, or
// makes a new person from an allowed domain a member of it.
//
// The state, nonce and PKCE verifier wait in a cookie, encrypted and
// authenticated (AES-GCM) with a key derived from the provider's client
// secret, which every instance of a fleet has: the callback may land on
// any of them. The cookie lives ssoStateLifetime, and is cleared by the
// callback whatever its outcome.

// SSOProvider is an OpenID Connect provider as the operator configures it.
type SSOProvider struct {
	// ID names the provider in its URLs (/login/sso/{id}): lower-case
	// letters, digits and dashes.
	ID string `json:"id"`
	// Name is what the button says: "Sign in with <Name>".
	Name string `json:"name"`
	// Issuer is the provider's issuer URL; its discovery document is at
	// Issuer + "/.well-known/openid-configuration".
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
	// ClientSecretFile and ClientSecretEnv say where the client secret
	// is: a file (its content, trimmed) or an environment variable; one
	// of the two. The file never holds the secret itself.
	ClientSecretFile string `json:"client_secret_file,omitempty"`
	ClientSecretEnv  string `json:"client_secret_env,omitempty"`
	// Domains are the email domains the provider vouches for: only a
	// verified email in one of them signs in.
	Domains []string `json:"domains"`
	// Account is the id of the account the provider signs people in to.
	Account string `json:"account"`
	// Role is the role of a person who becomes a member on their first
	// sign-in: "admin" or "viewer" (default "viewer").
	Role pihu.Role `json:"role,omitempty"`

	// clientSecret is read from ClientSecretFile or ClientSecretEnv.
	clientSecret string
}

// ssoProvidersFile is the providers file's shape.
type ssoProvidersFile struct {
	Providers []SSOProvider `json:"providers"`
}

var ssoIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// oauthErrorCode is the shape of an OAuth 2.0 error code (RFC 6749
// §4.1.2.1: access_denied, server_error…).
var oauthErrorCode = regexp.MustCompile(`^[a-z_]{1,40}$`)

// LoadSSOProviders reads and checks the providers file at path (JSON, see
// docs/dashboard.md): every field known, every provider complete, its
// client secret readable (getenv reads the environment). Its errors name
// the provider and field at fault. Whether each account exists is the
// caller's to check (serve does, at start-up); whether each issuer is
// reachable is not checked here: a provider that is down must not stop
// the dashboard, and its button then answers with a page that says so.
func LoadSSOProviders(path string, getenv func(string) string) ([]SSOProvider, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("SSO providers file: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var f ssoProvidersFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("SSO providers file %s: %w", path, err)
	}
	if len(f.Providers) == 0 {
		return nil, fmt.Errorf("SSO providers file %s names no provider", path)
	}
	seen := map[string]bool{}
	for i := range f.Providers {
		p := &f.Providers[i]
		if err := p.check(getenv); err != nil {
			return nil, fmt.Errorf("SSO providers file %s: provider %d (%q): %w", path, i+1, p.ID, err)
		}
		if seen[p.ID] {
			return nil, fmt.Errorf("SSO providers file %s: two providers have the id %q", path, p.ID)
		}
		seen[p.ID] = true
	}
	return f.Providers, nil
}

// check validates p and reads its client secret.
func (p *SSOProvider) check(getenv func(string) string) error {
	if !ssoIDPattern.MatchString(p.ID) {
		return errors.New(`"id" must be 1 to 40 lower-case letters, digits and dashes, such as "okta"`)
	}
	if strings.TrimSpace(p.Name) == "" || len(p.Name) > 60 {
		return errors.New(`"name" must be given, at most 60 characters: the button says "Sign in with <name>"`)
	}
	if !strings.HasPrefix(p.Issuer, "https://") && !strings.HasPrefix(p.Issuer, "http://") {
		return errors.New(`"issuer" must be the provider's issuer URL, such as https://example.okta.com`)
	}
	if p.ClientID == "" {
		return errors.New(`"client_id" is required`)
	}
	switch {
	case (p.ClientSecretFile == "") == (p.ClientSecretEnv == ""):
		return errors.New(`give one of "client_secret_file" and "client_secret_env"`)
	case p.ClientSecretFile != "":
		b, err := os.ReadFile(p.ClientSecretFile)
		if err != nil {
			return fmt.Errorf(`"client_secret_file": %w`, err)
		}
		p.clientSecret = strings.TrimSpace(string(b))
	default:
		p.clientSecret = getenv(p.ClientSecretEnv)
	}
	if p.clientSecret == "" {
		return errors.New("the client secret is empty")
	}
	if len(p.Domains) == 0 {
		return errors.New(`"domains" must name the email domains the provider vouches for`)
	}
	for i, d := range p.Domains {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" || strings.ContainsAny(d, "@ /") || !strings.Contains(d, ".") {
			return fmt.Errorf(`"domains": %q is not a domain such as example.com`, p.Domains[i])
		}
		p.Domains[i] = d
	}
	if p.Account == "" {
		return errors.New(`"account" must be the id of the account it signs people in to`)
	}
	if p.Role == "" {
		p.Role = pihu.RoleViewer
	}
	if !p.Role.Invitable() {
		return errors.New(`"role" must be "admin" or "viewer"`)
	}
	return nil
}

// ssoStateLifetime is how long a sign-in started may take at the provider.
const ssoStateLifetime = 10 * time.Minute

// ssoCookieName holds the sign-in started: state, nonce, PKCE verifier.
const ssoCookieName = "pihu_sso"

// ssoTimeout bounds each call to a provider (discovery, token, keys).
const ssoTimeout = 10 * time.Second

// ssoRetry is how long a provider whose discovery failed is left alone
// before it is asked again.
const ssoRetry = 5 * time.Second

// ssoProvider is a configured provider and what was discovered of it.
type ssoProvider struct {
	SSOProvider
	key    []byte
	client *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
	failed   time.Time
}

// ssoButton is a provider as the sign-in page shows it.
type ssoButton struct{ ID, Name string }

func newSSOProvider(p SSOProvider, client *http.Client) *ssoProvider {
	k := sha256.Sum256([]byte("pihu sso state v1\x00" + p.ID + "\x00" + p.clientSecret))
	if client == nil {
		client = &http.Client{Timeout: ssoTimeout}
	}
	return &ssoProvider{SSOProvider: p, key: k[:], client: client}
}

// discover returns the provider's discovery, fetching it on first use and
// again after a failure (at most every ssoRetry).
func (p *ssoProvider) discover(ctx context.Context, now time.Time) (*oidc.Provider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return p.provider, nil
	}
	if !p.failed.IsZero() && now.Sub(p.failed) < ssoRetry {
		return nil, errors.New("discovery failed moments ago")
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, p.client), ssoTimeout)
	defer cancel()
	op, err := oidc.NewProvider(ctx, p.Issuer)
	if err != nil {
		p.failed = now
		return nil, err
	}
	p.provider = op
	return op, nil
}

// config is the OAuth 2.0 client of the provider, returning to the
// dashboard at origin.
func (p *ssoProvider) config(op *oidc.Provider, origin string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: p.ClientID, ClientSecret: p.clientSecret, Endpoint: op.Endpoint(),
		RedirectURL: origin + "/login/sso/" + p.ID + "/callback",
		Scopes:      []string{oidc.ScopeOpenID, "email", "profile"},
	}
}

// ssoState is the sign-in started, as its cookie carries it.
type ssoState struct {
	Provider string `json:"p"`
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Expires  int64  `json:"e"`
}

// seal encrypts and authenticates st with the provider's key.
func (p *ssoProvider) seal(st ssoState) string {
	plain, _ := json.Marshal(st)
	block, _ := aes.NewCipher(p.key)
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, []byte(p.ID)))
}

// open reads a cookie seal made, for this provider, unexpired at now.
func (p *ssoProvider) open(value string, now time.Time) (ssoState, bool) {
	var st ssoState
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return st, false
	}
	block, _ := aes.NewCipher(p.key)
	aead, _ := cipher.NewGCM(block)
	if len(raw) < aead.NonceSize() {
		return st, false
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(p.ID))
	if err != nil || json.Unmarshal(plain, &st) != nil {
		return st, false
	}
	return st, st.Provider == p.ID && now.Unix() < st.Expires
}

// allows reports whether email's domain is one the provider vouches for.
func (p *ssoProvider) allows(email string) bool {
	_, domain, _ := strings.Cut(email, "@")
	return slices.Contains(p.Domains, domain)
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ssoOrigin is the dashboard's origin, as the provider sends browsers
// back to it.
func (h *Handler) ssoOrigin(r *http.Request) string {
	if h.origin != "" {
		return h.origin
	}
	return origin(r)
}

// ssoUnavailable answers a provider that could not be reached or answered
// wrongly: 502, a page that says password sign-in still works.
func (h *Handler) ssoUnavailable(w http.ResponseWriter, r *http.Request, p *ssoProvider, err error) {
	h.logger.Warn("dashboard: SSO provider unavailable", "provider", p.ID, "err", err)
	h.ssoFail(r, p, "", "provider")
	h.errorPage(w, r, nil, http.StatusBadGateway, p.Name+" is unavailable",
		"Signing in with "+p.Name+" did not work: the provider could not be reached, or its answer could not be verified. Try again in a moment, or sign in with your email and password if your account allows it.")
}

// ssoFail records a refused SSO sign-in in the provider's account, naming
// why (never the values). A store that fails is logged: the page the
// person sees does not change.
func (h *Handler) ssoFail(r *http.Request, p *ssoProvider, userID string, why ...string) {
	actor := pihu.ActorAnonymous
	if userID != "" {
		actor = userID
	}
	ev := &pihu.AuditEvent{
		ID: pihu.NewID(pihu.PrefixEvent), AccountID: p.Account, Action: pihu.ActionUserSSOFailed,
		Actor: actor, Target: userID, IP: h.clientIP(r), Created: pihu.Timestamp(h.now()), Changes: why,
	}
	if err := h.store.RecordUserEvents(context.WithoutCancel(r.Context()), ev); err != nil {
		h.logger.Error("dashboard: recording a failed SSO sign-in", "err", err)
	}
}

// ssoStart sends the browser to the provider, with a new state, nonce and
// PKCE verifier kept in the sign-in's cookie.
func (h *Handler) ssoStart(w http.ResponseWriter, r *http.Request) {
	p, ok := h.sso[r.PathValue("id")]
	if !ok {
		h.notFound(w, r)
		return
	}
	op, err := p.discover(r.Context(), h.now())
	if err != nil {
		h.ssoUnavailable(w, r, p, err)
		return
	}
	st := ssoState{
		Provider: p.ID, State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Expires: h.now().Add(ssoStateLifetime).Unix(),
	}
	http.SetCookie(w, &http.Cookie{
		Name: ssoCookieName, Value: p.seal(st), Path: "/login/sso/", MaxAge: int(ssoStateLifetime / time.Second),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
	url := p.config(op, h.ssoOrigin(r)).AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier))
	http.Redirect(w, r, url, http.StatusSeeOther)
}

// ssoCallback ends a sign-in through a provider: the state must be the
// cookie's, the code is exchanged with the PKCE verifier, the ID token is
// verified (signature by the provider's keys, issuer, audience, expiry)
// and must carry the cookie's nonce and a verified email in an allowed
// domain. That email signs its person in to the provider's account; a
// person no one has yet becomes a member with the provider's role. Every
// refusal is a page saying what to do, and an audit event.
func (h *Handler) ssoCallback(w http.ResponseWriter, r *http.Request) {
	p, ok := h.sso[r.PathValue("id")]
	if !ok {
		h.notFound(w, r)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: ssoCookieName, Value: "", Path: "/login/sso/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		// Only the error's code is shown: anyone can put words in a
		// callback URL, and the page must not say them for the provider.
		if !oauthErrorCode.MatchString(e) {
			e = "an error"
		}
		h.ssoFail(r, p, "", "provider")
		h.errorPage(w, r, nil, http.StatusBadRequest, "Sign-in refused",
			p.Name+" did not sign you in ("+e+"). Try again, or ask your administrator.")
		return
	}
	c, err := r.Cookie(ssoCookieName)
	var st ssoState
	if err == nil {
		st, ok = p.open(c.Value, h.now())
	}
	if err != nil || !ok || subtle.ConstantTimeCompare([]byte(st.State), []byte(q.Get("state"))) != 1 {
		h.ssoFail(r, p, "", "state")
		h.errorPage(w, r, nil, http.StatusBadRequest, "Sign-in expired",
			"This sign-in does not match one started in this browser in the last 10 minutes, so it was refused. Start again from the sign-in page.")
		return
	}
	op, err := p.discover(r.Context(), h.now())
	if err != nil {
		h.ssoUnavailable(w, r, p, err)
		return
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(r.Context(), p.client), ssoTimeout)
	defer cancel()
	tok, err := p.config(op, h.ssoOrigin(r)).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			h.ssoFail(r, p, "", "code")
			h.errorPage(w, r, nil, http.StatusBadRequest, "Sign-in refused",
				p.Name+" did not accept this sign-in's code: it may have been used already, or have expired. Start again from the sign-in page.")
			return
		}
		h.ssoUnavailable(w, r, p, err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		h.ssoUnavailable(w, r, p, errors.New("the token response has no id_token"))
		return
	}
	idt, err := op.Verifier(&oidc.Config{ClientID: p.ClientID, Now: h.now}).Verify(ctx, raw)
	if err != nil {
		h.ssoUnavailable(w, r, p, err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		h.ssoFail(r, p, "", "nonce")
		h.errorPage(w, r, nil, http.StatusBadRequest, "Sign-in refused",
			"The provider's answer was not for the sign-in started in this browser, so it was refused. Start again from the sign-in page.")
		return
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified any    `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil {
		h.ssoUnavailable(w, r, p, err)
		return
	}
	email, err := pihu.NormalizeEmail(claims.Email)
	// Some providers send email_verified as the string "true".
	verified := claims.EmailVerified == true || claims.EmailVerified == "true"
	if err != nil || !verified {
		h.ssoFail(r, p, "", "email_verified")
		h.errorPage(w, r, nil, http.StatusForbidden, "Email not verified",
			p.Name+" did not say that your email address is verified, and only a verified email signs in. Verify it with "+p.Name+", or ask your administrator.")
		return
	}
	if !p.allows(email) {
		h.ssoFail(r, p, "", "domain")
		h.errorPage(w, r, nil, http.StatusForbidden, "Email domain not allowed",
			"Signing in with "+p.Name+" is open to addresses at "+strings.Join(p.Domains, ", ")+" only. Sign in with an address there, or ask your administrator.")
		return
	}
	h.ssoSignIn(w, r, p, email)
}

// ssoSignIn signs in the person with the verified email, to the
// provider's account: a member as they are, a person no one has yet as a
// new member with the provider's role.
func (h *Handler) ssoSignIn(w http.ResponseWriter, r *http.Request, p *ssoProvider, email string) {
	ctx := r.Context()
	now := pihu.Timestamp(h.now())
	ip := h.clientIP(r)
	var events []*pihu.AuditEvent
	person, err := h.store.UserByEmail(ctx, email)
	switch {
	case pihu.ErrorCode(err) == pihu.ENotFound:
		u := &pihu.User{ID: pihu.NewID(pihu.PrefixUser), AccountID: p.Account, Email: email, Role: p.Role, Created: now}
		err := h.store.CreateUser(ctx, u, nil, pihu.NewUserEvent(pihu.ActionUserSSOLinked, u.ID, ip, u, now))
		switch {
		case pihu.ErrorCode(err) == pihu.EParameterInvalid:
			// The email became a person's meanwhile: sign that one in.
			if person, err = h.store.UserByEmail(ctx, email); err != nil {
				h.internalError(w, r, err)
				return
			}
		case err != nil:
			h.internalError(w, r, err)
			return
		default:
			person = u
		}
	case err != nil:
		h.internalError(w, r, err)
		return
	}
	member, err := h.store.User(ctx, p.Account, person.ID)
	if pihu.ErrorCode(err) == pihu.ENotFound {
		h.ssoFail(r, p, person.ID, "member")
		h.errorPage(w, r, nil, http.StatusForbidden, "Not a member",
			"You have a sign-in of your own already, and are not a member of the account "+p.Name+" signs people in to. Ask one of its owners to invite you, then sign in with "+p.Name+" again.")
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	events = append(events,
		pihu.NewUserEvent(pihu.ActionUserLogin, member.ID, ip, member, now),
		pihu.NewUserEvent(pihu.ActionUserSSOLogin, member.ID, ip, member, now))
	if err := h.signIn(w, r, member, events...); err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/keys", http.StatusSeeOther)
}

// servesAccount reports whether a configured provider signs people in to
// account id.
func (h *Handler) servesAccount(id string) bool {
	for _, p := range h.sso {
		if p.Account == id {
			return true
		}
	}
	return false
}

// setSSORequired sets whether the account's members sign in through
// single sign-on only (an owner's choice). It is turned on only while a
// configured provider signs people in to the account, so that its members
// keep a way in.
func (h *Handler) setSSORequired(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	var required bool
	switch r.PostForm.Get("sso_required") {
	case "on":
		required = true
	case "off":
	default:
		f := newForm(nil)
		f.Errors["sso_required"] = "Choose SSO only, or every way of signing in."
		h.renderAccount(w, r, s, http.StatusBadRequest, f)
		return
	}
	if required && !h.servesAccount(s.account.ID) {
		f := newForm(nil)
		f.Errors["sso_required"] = "No single sign-on provider signs people in to this account, so no one could sign in: the operator configures one first (pihu serve --sso-providers)."
		h.renderAccount(w, r, s, http.StatusBadRequest, f)
		return
	}
	if s.account.SSORequired != required {
		ev := pihu.NewAccountEvent(s.user.ID, h.clientIP(r), s.account, []string{"sso_required"}, h.now())
		if _, err := h.store.SetSSORequired(r.Context(), s.account.ID, required, ev); err != nil {
			h.internalError(w, r, err)
			return
		}
	}
	http.Redirect(w, r, "/account?sso=1#sso-required", http.StatusSeeOther)
}
