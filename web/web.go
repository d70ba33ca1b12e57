// Package web is the dashboard of SPEC §6: people sign up, sign in, and
// manage their account's API keys, team and audit log in a browser.
//
// Pages are rendered on the server with html/template from templates
// embedded in the binary and parsed once, at New; forms are plain HTML
// forms that work without JavaScript, and the little script there is (a
// copy button, confirmations) is served from /static, so that every page
// can send a Content-Security-Policy without 'unsafe-inline'.
//
// The dashboard follows the API's rules on every path: keys are built with
// pihu.NewKey and validated as the API validates them, revoked and rotated
// through the same store methods, and every key changed is dropped from the
// API's cache (auth.Authenticator.Invalidate) at once, so that a key revoked
// here is refused by the API on its very next request.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/ratelimit"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Options are what a Handler needs; Store and Auth are required.
type Options struct {
	// Store keeps accounts, keys, users, sessions and the audit log.
	Store pihu.Store
	// Usage reads the usage counts the key page draws: serve passes the
	// Authenticator, which adds the requests counted since its last flush
	// to the store's. nil shows "no usage data yet".
	Usage UsageReader
	// Auth is the API's authenticator: every key the dashboard changes
	// is invalidated in its cache.
	Auth *auth.Authenticator
	// Limiter keeps the sign-in and invite limits: share the API's, so that one
	// budget holds per address however the guesses arrive (default an
	// in-process ratelimit.Memory on Now).
	Limiter ratelimit.Limiter
	// SignInLimit is how many failed sign-ins a client address, and an
	// email, may make (default 10/m).
	SignInLimit ratelimit.Limit
	// InviteLimit is how many invites an account may send (default
	// 20/h).
	InviteLimit ratelimit.Limit
	// ClientIP returns the address a request comes from (default the
	// TCP peer). Serve passes the API's, which believes a trusted proxy's
	// header.
	ClientIP func(*http.Request) string
	// Logger receives internal errors (default slog.Default()). Nothing
	// a form holds is ever logged.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Password are the argon2id costs of new password hashes (default
	// DefaultPasswordParams).
	Password PasswordParams
	// PasswordHashes is how many password hashes (sign-in, sign-up,
	// password change, setup, invites) may run at once (default
	// GOMAXPROCS): each takes Password.Memory while it runs. Eight times
	// as many may wait up to a second for one to end; beyond that a form
	// is answered 503 with Retry-After at once.
	PasswordHashes int
	// IdleTimeout ends a session unused for that long (default 12 h).
	IdleTimeout time.Duration
	// SessionLifetime ends a session that long after sign-in, however
	// active (default 7 days).
	SessionLifetime time.Duration
	// WebhookLoopback lets webhook endpoints name a loopback host
	// (localhost, 127.0.0.0/8, [::1]): for development and tests, where
	// the receiver runs beside pihu (serve --webhook-loopback allow).
	// Off, creating an endpoint with such a URL is refused on the URL
	// field, and the dispatcher refuses to connect there anyway.
	WebhookLoopback bool
	// Origin is the dashboard's origin as browsers see it
	// ("https://pihu.example.com"), which passkeys are bound to: its host
	// name is their relying party's id. Default the request's own (https
	// when it came over TLS, and its Host header); set it behind a proxy
	// that ends TLS.
	Origin string
	// SSOProviders are the OpenID Connect providers people may sign in
	// through (LoadSSOProviders reads them from serve's --sso-providers
	// file); the sign-in page shows a button for each.
	SSOProviders []SSOProvider
	// SSOClient is the HTTP client that talks to the providers (default
	// one with a 10 s timeout).
	SSOClient *http.Client
}

// UsageReader reads a key's hourly usage counts, as pihu.UsageStore.Usage
// and auth.Authenticator.Usage do.
type UsageReader interface {
	Usage(ctx context.Context, accountID, keyID string, from, to time.Time) ([]pihu.UsageCount, error)
}

// Handler is the dashboard's http.Handler. Create it with New.
type Handler struct {
	store       pihu.Store
	usage       UsageReader
	auth        *auth.Authenticator
	limiter     ratelimit.Limiter
	signInLimit ratelimit.Limit
	inviteLimit ratelimit.Limit
	clientIP    func(*http.Request) string
	logger      *slog.Logger
	now         func() time.Time
	password    PasswordParams
	passwords   *passwords
	idle        time.Duration
	lifetime    time.Duration
	loopback    bool
	// dummyHash is checked against when a sign-in names no known user,
	// so that it takes as long as one that does.
	dummyHash string

	// once holds the secrets waiting for the one page that shows them.
	once *onceViews
	// origin is Options.Origin.
	origin string
	// sso are the OpenID Connect providers by id, ssoButtons in the
	// order the sign-in page shows them.
	sso        map[string]*ssoProvider
	ssoButtons []ssoButton

	pages   map[string]*template.Template
	mux     *http.ServeMux
	handler http.Handler
}

// pageNames are the templates/*.html files that are pages; each defines
// "title" and "content" and is rendered inside layout.html. New checks
// that every one exists and parses.
var pageNames = []string{
	"login", "signup", "setup", "invite", "password_reset",
	"keys", "key_new", "key_created", "key", "key_edit", "key_revoke", "key_rotate",
	"audit", "requests", "team", "account", "error",
	"webhooks", "webhook", "webhook_created", "webhook_delete", "webhook_roll", "delivery", "permissions", "roles", "role", "identities",
	"shown_once", "two_factor", "recovery_codes", "login_two_factor",
}

// New returns the dashboard. It parses every template once, and returns an
// error if one is missing or does not parse.
func New(opts Options) (*Handler, error) {
	if opts.Store == nil || opts.Auth == nil {
		return nil, errors.New("web.New: Options.Store and Options.Auth are required")
	}
	h := &Handler{
		store: opts.Store, usage: opts.Usage, auth: opts.Auth, limiter: opts.Limiter,
		signInLimit: opts.SignInLimit, inviteLimit: opts.InviteLimit, clientIP: opts.ClientIP, logger: opts.Logger, now: opts.Now,
		password: opts.Password, idle: opts.IdleTimeout, lifetime: opts.SessionLifetime,
		loopback: opts.WebhookLoopback, origin: opts.Origin,
	}
	var err error
	if h.logger == nil {
		h.logger = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.limiter == nil {
		h.limiter = ratelimit.NewMemory(ratelimit.MemoryOptions{Now: h.now})
	}
	if h.signInLimit == (ratelimit.Limit{}) {
		h.signInLimit = ratelimit.PerMinute(10)
	}
	if err := h.signInLimit.Validate(); err != nil {
		return nil, fmt.Errorf("web.New: Options.SignInLimit: %w", err)
	}
	if h.inviteLimit == (ratelimit.Limit{}) {
		h.inviteLimit = ratelimit.PerHour(20)
	}
	if err := h.inviteLimit.Validate(); err != nil {
		return nil, fmt.Errorf("web.New: Options.InviteLimit: %w", err)
	}
	if h.origin != "" {
		if h.origin, err = dashboardOrigin(h.origin); err != nil {
			return nil, err
		}
	}
	if h.clientIP == nil {
		h.clientIP = peerAddress
	}
	if h.password == (PasswordParams{}) {
		h.password = DefaultPasswordParams
	}
	if h.idle == 0 {
		h.idle = 12 * time.Hour
	}
	if h.lifetime == 0 {
		h.lifetime = 7 * 24 * time.Hour
	}
	if opts.PasswordHashes <= 0 {
		opts.PasswordHashes = runtime.GOMAXPROCS(0)
	}
	h.passwords = newPasswords(h.password, opts.PasswordHashes)
	h.once = newOnceViews(h.now)
	h.sso = make(map[string]*ssoProvider, len(opts.SSOProviders))
	for _, p := range opts.SSOProviders {
		if p.clientSecret == "" {
			return nil, fmt.Errorf("web.New: SSO provider %q: read providers with LoadSSOProviders", p.ID)
		}
		h.sso[p.ID] = newSSOProvider(p, opts.SSOClient)
		h.ssoButtons = append(h.ssoButtons, ssoButton{ID: p.ID, Name: p.Name})
	}
	h.dummyHash = HashPassword(pihu.NewID("dummy_"), h.password)
	if h.pages, err = parsePages(templateFiles); err != nil {
		return nil, err
	}
	h.routes()
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(h.crossOrigin))
	h.handler = securityHeaders(cop.Handler(h.mux))
	return h, nil
}

// dashboardOrigin checks origin, the dashboard's as browsers see it
// (Options.Origin), and returns it without a trailing slash.
func dashboardOrigin(origin string) (string, error) {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", fmt.Errorf("web.New: Options.Origin %q: give the dashboard's origin, such as https://pihu.example.com", origin)
	}
	return strings.TrimSuffix(origin, "/"), nil
}

// parsePages parses layout.html with each page of pageNames.
func parsePages(files fs.FS) (map[string]*template.Template, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: parsing the layout: %w", err)
	}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.Must(layout.Clone()).ParseFS(files, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parsing page %s: %w", name, err)
		}
		for _, part := range []string{"title", "content"} {
			if t.Lookup(part) == nil {
				return nil, fmt.Errorf("web: page %s defines no %q", name, part)
			}
		}
		pages[name] = t
	}
	return pages, nil
}

// routes registers every page: the method, the path, who may use it and
// its handler, one line each.
func (h *Handler) routes() {
	h.mux = http.NewServeMux()
	static, _ := fs.Sub(staticFiles, "static")
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(http.FileServerFS(static))))

	h.mux.HandleFunc("GET /{$}", h.home)
	h.mux.HandleFunc("GET /login", h.loginPage)
	h.mux.HandleFunc("POST /login", h.login)
	h.mux.HandleFunc("GET /signup", h.signupPage)
	h.mux.HandleFunc("POST /signup", h.signup)
	h.mux.HandleFunc("GET /setup", h.setupPage)
	h.mux.HandleFunc("POST /setup", h.setup)
	h.mux.HandleFunc("GET /invite", h.invitePage)
	h.mux.HandleFunc("POST /invite", h.acceptInvite)
	h.mux.HandleFunc("GET /password-reset", h.resetPage)
	h.mux.HandleFunc("POST /password-reset", h.resetPassword)
	h.mux.HandleFunc("GET /login/two-factor", h.twoFactorLoginPage)
	h.mux.HandleFunc("POST /login/two-factor", h.twoFactorLogin)
	h.mux.HandleFunc("POST /login/passkey/options", h.passkeyRequestOptions)
	h.mux.HandleFunc("POST /login/passkey", h.passkeyLogin)
	h.mux.HandleFunc("GET /login/sso/{id}", h.ssoStart)
	h.mux.HandleFunc("GET /login/sso/{id}/callback", h.ssoCallback)
	h.mux.Handle("POST /logout", h.enrolling(h.logout))

	h.mux.Handle("GET /keys", h.signedIn(anyone, h.keysPage))
	h.mux.Handle("GET /keys/new", h.signedIn(keyManagers, h.newKeyPage))
	h.mux.Handle("POST /keys", h.signedIn(keyManagers, h.createKey))
	h.mux.Handle("GET /keys/{id}", h.signedIn(anyone, h.keyPage))
	h.mux.Handle("GET /keys/{id}/secret/{view}", h.signedIn(keyManagers, h.keySecretPage))
	h.mux.Handle("GET /keys/{id}/revoke", h.signedIn(keyManagers, h.revokePage))
	h.mux.Handle("POST /keys/{id}/revoke", h.signedIn(keyManagers, h.revokeKey))
	h.mux.Handle("GET /keys/{id}/rotate", h.signedIn(keyManagers, h.rotatePage))
	h.mux.Handle("POST /keys/{id}/rotate", h.signedIn(keyManagers, h.rotateKey))
	h.mux.Handle("POST /keys/{id}/enabled", h.signedIn(keyManagers, h.toggleKey))
	h.mux.Handle("GET /keys/{id}/edit", h.signedIn(keyManagers, h.editKeyPage))
	h.mux.Handle("POST /keys/{id}/edit", h.signedIn(keyManagers, h.editKey))
	h.mux.Handle("GET /webhooks", h.signedIn(anyone, h.webhooksPage))
	h.mux.Handle("POST /webhooks", h.signedIn(keyManagers, h.createWebhook))
	h.mux.Handle("GET /webhooks/{id}", h.signedIn(anyone, h.webhookPage))
	h.mux.Handle("GET /webhooks/{id}/secret/{view}", h.signedIn(keyManagers, h.webhookSecretPage))
	h.mux.Handle("POST /webhooks/{id}/enabled", h.signedIn(keyManagers, h.toggleWebhook))
	h.mux.Handle("POST /webhooks/{id}/edit", h.signedIn(keyManagers, h.editWebhook))
	h.mux.Handle("POST /webhooks/{id}/test", h.signedIn(keyManagers, h.testWebhook))
	h.mux.Handle("GET /webhooks/{id}/roll", h.signedIn(keyManagers, h.rollWebhookPage))
	h.mux.Handle("POST /webhooks/{id}/roll", h.signedIn(keyManagers, h.rollWebhook))
	h.mux.Handle("GET /webhooks/{id}/deliveries/{delivery}", h.signedIn(anyone, h.deliveryPage))
	h.mux.Handle("POST /webhooks/{id}/deliveries/{delivery}/resend", h.signedIn(keyManagers, h.resendDelivery))
	h.mux.Handle("GET /webhooks/{id}/delete", h.signedIn(keyManagers, h.deleteWebhookPage))
	h.mux.Handle("POST /webhooks/{id}/delete", h.signedIn(keyManagers, h.deleteWebhook))
	h.mux.Handle("GET /permissions", h.signedIn(anyone, h.permissionsPage))
	h.mux.Handle("POST /permissions", h.signedIn(keyManagers, h.definePermission))
	h.mux.Handle("POST /permissions/{name}/delete", h.signedIn(keyManagers, h.deletePermission))
	h.mux.Handle("GET /roles", h.signedIn(anyone, h.rolesPage))
	h.mux.Handle("POST /roles", h.signedIn(keyManagers, h.createRole))
	h.mux.Handle("GET /roles/{id}", h.signedIn(anyone, h.rolePage))
	h.mux.Handle("POST /roles/{id}", h.signedIn(keyManagers, h.updateRole))
	h.mux.Handle("POST /roles/{id}/delete", h.signedIn(keyManagers, h.deleteRole))
	h.mux.Handle("GET /identities", h.signedIn(anyone, h.identitiesPage))
	h.mux.Handle("POST /identities", h.signedIn(keyManagers, h.createIdentity))
	h.mux.Handle("POST /identities/{id}/delete", h.signedIn(keyManagers, h.deleteIdentity))
	h.mux.Handle("POST /identities/{id}/credits", h.signedIn(keyManagers, h.updateIdentityCredits))
	h.mux.Handle("POST /identities/{id}/ratelimits", h.signedIn(keyManagers, h.updateIdentityLimits))
	h.mux.Handle("GET /audit", h.signedIn(anyone, h.auditPage))
	h.mux.Handle("GET /requests", h.signedIn(anyone, h.requestsPage))
	h.mux.Handle("GET /audit.csv", h.signedIn(anyone, h.auditCSV))
	h.mux.Handle("GET /team", h.signedIn(anyone, h.teamPage))
	h.mux.Handle("POST /team", h.signedIn(teamManagers, h.invite))
	h.mux.Handle("GET /team/invites/{id}/link/{view}", h.signedIn(teamManagers, h.inviteLinkPage))
	h.mux.Handle("POST /team/invites/{id}/cancel", h.signedIn(teamManagers, h.cancelInvite))
	h.mux.Handle("POST /team/invites/{id}/regenerate", h.signedIn(teamManagers, h.regenerateInvite))
	h.mux.Handle("POST /team/members/{id}/remove", h.signedIn(teamManagers, h.removeMember))
	h.mux.Handle("POST /team/members/{id}/role", h.signedIn(memberManagers, h.changeRole))
	h.mux.Handle("POST /team/members/{id}/reset", h.signedIn(memberManagers, h.issueReset))
	h.mux.Handle("GET /team/members/{id}/reset/{view}", h.signedIn(memberManagers, h.resetLinkPage))
	h.mux.Handle("GET /account", h.signedIn(anyone, h.accountPage))
	h.mux.Handle("POST /account/password", h.signedIn(anyone, h.changePassword))
	h.mux.Handle("POST /account/switch", h.enrolling(h.switchAccount))
	h.mux.Handle("GET /account/two-factor", h.enrolling(h.twoFactorPage))
	h.mux.Handle("POST /account/two-factor", h.enrolling(h.enrolTwoFactor))
	h.mux.Handle("GET /account/two-factor/recovery-codes/{view}", h.enrolling(h.recoveryCodesPage))
	h.mux.Handle("POST /account/two-factor/disable", h.signedIn(anyone, h.disableTwoFactor))
	h.mux.Handle("POST /account/passkeys/options", h.enrolling(h.passkeyCreationOptions))
	h.mux.Handle("POST /account/passkeys", h.enrolling(h.createPasskey))
	h.mux.Handle("POST /account/passkeys/{id}/rename", h.signedIn(anyone, h.renamePasskey))
	h.mux.Handle("POST /account/passkeys/{id}/remove", h.signedIn(anyone, h.removePasskey))
	h.mux.Handle("POST /account/leak-policy", h.signedIn(teamManagers, h.setLeakPolicy))
	h.mux.Handle("POST /account/two-factor-required", h.signedIn(keyManagers, h.setTwoFactorRequired))
	h.mux.Handle("POST /account/sso-required", h.signedIn(teamManagers, h.setSSORequired))
	h.mux.Handle("POST /account/sessions/{id}/revoke", h.signedIn(anyone, h.revokeSession))
	h.mux.Handle("POST /account/sessions/revoke-others", h.signedIn(anyone, h.revokeOtherSessions))

	h.mux.HandleFunc("/", h.notFound)
}

// ServeHTTP serves the dashboard.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.handler.ServeHTTP(w, r)
}

// contentSecurityPolicy allows the page's own scripts, styles and images
// and nothing else: no inline script, no framing, forms posting only here.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// securityHeaders sets the headers every response of the dashboard
// carries. Pages (not static files) are never cached: they hold account
// data, and some a secret shown once.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Content-Type-Options", "nosniff")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// staticHandler lets browsers keep static files for an hour.
func staticHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// peerAddress is the TCP peer's address, without its port.
func peerAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// view is what every page's template gets.
type view struct {
	Title string
	// Me is the signed-in user (nil on the sign-in pages).
	Me      *pihu.User
	Account *pihu.Account
	// Nav is the section of the navigation to highlight.
	Nav string
	// Env is the environment the page shows, if it shows one: the
	// navigation's links to keys and webhooks keep it, so that the
	// Test switch holds across sections.
	Env pihu.Environment
	// Data is the page's own.
	Data any
	// Setup, on the sign-in and sign-up pages, says that the first
	// start's setup link has not been used yet; nil once it has.
	Setup *setupNotice
	// SSO are the sign-in page's "Sign in with <name>" buttons.
	SSO []ssoButton
	// SSOAccount says, on the Account page, that a provider signs people
	// in to the account shown, so that it may require SSO.
	SSOAccount bool
}

// setupNotice is the first start's setup link, not used yet.
type setupNotice struct {
	Expires time.Time
	Expired bool
}

// render writes page with status. A template that fails (a bug) is logged
// and answered 500.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t, ok := h.pages[page]
	if !ok {
		h.internalError(w, r, fmt.Errorf("no page %q", page))
		return
	}
	if page == "login" {
		v.SSO = h.ssoButtons
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout.html", v); err != nil {
		h.internalError(w, r, fmt.Errorf("rendering %s: %w", page, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, b.String())
}

// errorData is what the error page shows.
type errorData struct {
	Status  int
	Heading string
	Message string
}

// errorPage answers status with a page saying message.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, s *session, status int, heading, message string) {
	v := view{Title: heading, Data: errorData{Status: status, Heading: heading, Message: message}}
	if s != nil {
		v.Me, v.Account = s.user, s.account
	}
	h.render(w, r, status, "error", v)
}

// internalError logs err and answers 500 without its detail.
func (h *Handler) internalError(w http.ResponseWriter, r *http.Request, err error) {
	h.logger.Error("dashboard: internal error", "method", r.Method, "path", pihu.MaskSecrets(r.URL.Path), "err", err)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprint(w, `<!doctype html><title>Internal error</title><p>Something went wrong on our side. Try again in a moment.</p>`)
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	s, _ := h.session(w, r)
	h.errorPage(w, r, s, http.StatusNotFound, "Page not found", "There is nothing at this address.")
}

func (h *Handler) crossOrigin(w http.ResponseWriter, r *http.Request) {
	h.errorPage(w, r, nil, http.StatusForbidden, "Cross-site request refused",
		"This form was sent from another site, so it was refused: a page elsewhere cannot act in your account. Open the dashboard and try again from there.")
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	if s, _ := h.session(w, r); s != nil {
		http.Redirect(w, r, "/keys", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// form is a submitted form as a page shows it again: its values and a
// message per field at fault.
type form struct {
	Values url.Values
	Errors map[string]string
	// Message is a message about the whole form.
	Message string
}

// newForm is the form r posted, to show again: a copy of its values,
// without any password, which is never sent back to the browser.
func newForm(r *http.Request) *form {
	f := &form{Values: url.Values{}, Errors: map[string]string{}}
	if r != nil {
		for k, vs := range r.PostForm {
			if !strings.Contains(k, "password") {
				f.Values[k] = slices.Clone(vs)
			}
		}
	}
	return f
}

// Get is the submitted value of field name.
func (f *form) Get(name string) string { return f.Values.Get(name) }

// Has reports whether value is among the submitted values of name.
func (f *form) Has(name, value string) bool { return slices.Contains(f.Values[name], value) }

// Fail records err on the form: a domain error with a Param goes next to
// that field (params names the form's fields, by the API's name), any
// other pihu error to the form. It returns false for an error that is no
// *pihu.Error (an internal one, which the caller answers 500).
func (f *form) Fail(err error, fields ...string) bool {
	var e *pihu.Error
	if !errors.As(err, &e) {
		return false
	}
	if e.Param != "" && slices.Contains(fields, e.Param) {
		f.Errors[e.Param] = e.Message
	} else {
		f.Message = e.Message
	}
	return true
}

// parseForm reads a posted form of at most 64 KiB.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	return r.ParseForm()
}

// utc is t (a time.Time or *time.Time) as text in UTC, to the minute; ""
// for a nil time.
func utc(t any) string {
	switch t := t.(type) {
	case time.Time:
		return t.UTC().Format("2006-01-02 15:04 UTC")
	case *time.Time:
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	}
	return ""
}

var funcs = template.FuncMap{
	"status": statusText,
	// date is a time as a <time> element: UTC in its text and title,
	// which app.js rewrites to the viewer's own time zone (the title
	// keeps UTC, shown on hover); nothing for a nil time.
	"date": func(t any) template.HTML {
		u := utc(t)
		if u == "" {
			return ""
		}
		iso := template.HTMLEscapeString(deref(t).UTC().Format(time.RFC3339))
		return template.HTML(`<time datetime="` + iso + `" title="` + u + `" data-local="date">` + u + `</time>`)
	},
	// utc is a time as text, in UTC, for an attribute.
	"utc": utc,
	// presets are the presets of a form's permission boxes.
	"presets": permissionPresets,
	// ms is a duration in whole milliseconds, as people read it ("20
	// ms"); under one, "<1 ms".
	"ms": func(d time.Duration) string {
		if d > 0 && d < time.Millisecond/2 {
			return "<1 ms"
		}
		return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + " ms"
	},
	"iso":   func(t any) string { return deref(t).UTC().Format(time.RFC3339) },
	"day":   func(t any) string { return deref(t).UTC().Format("2006-01-02") },
	"clock": func(t any) string { return deref(t).UTC().Format("15:04 UTC") },
	// dict builds a map from key, value pairs, to hand a partial template
	// several values.
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, errors.New("dict: odd number of arguments")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, errors.New("dict: a key is not a string")
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
}

// deref is the time t or *t is (zero for nil), for the templates.
func deref(t any) time.Time {
	switch t := t.(type) {
	case time.Time:
		return t
	case *time.Time:
		if t != nil {
			return *t
		}
	}
	return time.Time{}
}
