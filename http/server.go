// Package http serves the Pihu.ai API over HTTP: routing, authentication,
// the error model and the JSON of SPEC §5. Import it as pihuhttp.
package http

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/gateway"
	"github.com/pihu-ai/pihu/logbuf"
	"github.com/pihu-ai/pihu/metrics"
	"github.com/pihu-ai/pihu/ratelimit"
)

// Server is the API's http.Handler. Create it with New.
type Server struct {
	store     pihu.Store
	auth      *auth.Authenticator
	logger    *slog.Logger
	accessLog *slog.Logger
	// requestLog, if set, writes the request lines instead of accessLog.
	requestLog *logbuf.RequestLog
	now        func() time.Time
	mux        *http.ServeMux

	limiter         ratelimit.Limiter
	defaultLimit    ratelimit.Limit
	failedAuthLimit ratelimit.Limit
	proxyHeader     string
	trustedProxies  []netip.Prefix
	// proxyWarned is set once the server warned of a request that came
	// through a proxy while no proxy is trusted (see warnProxy).
	proxyWarned   atomic.Bool
	leaksLimit    ratelimit.Limit
	dashboard     http.Handler
	redisStatus   func() string
	databaseState func() (string, string)
	metrics       *metrics.Metrics
	draining      draining
	keyEvents     KeyEvents
	// adm is the admission path every door takes (see auth.Admission).
	adm             *auth.Admission
	webhookLoopback bool
	// corsOrigins are the origins whose pages may call the API (see
	// cors.go); nil: none.
	corsOrigins map[string]bool
	githubKeys  *GitHubKeys
	// gatewayRoutes is the route table of the forward-auth endpoint; nil
	// if none.
	gatewayRoutes *gateway.Routes
}

// KeyEvents is told of the key events the HTTP layer sees that no store
// change records: a key refused for its rate limit, or out of credits.
// The webhook package's Notifier implements it. Both are called on every
// such refusal (a 429, a 403 usage_exceeded, or verify's answer) and must
// return at once.
type KeyEvents interface {
	RateLimited(k *pihu.Key)
	UsageExceeded(k *pihu.Key)
}

// Options are what a Server needs; Store and Auth are required.
type Options struct {
	Store pihu.Store
	Auth  *auth.Authenticator
	// Credits spends the credits of the keys that have some, for every
	// door (default Store: each spend in the store; serve gives
	// auth.CreditLeases with Redis).
	Credits auth.CreditSpender
	// Logger receives the server's errors, and one line a request unless
	// AccessLog is set (default slog.Default()).
	Logger *slog.Logger
	// AccessLog, if set, receives the one line a request instead of
	// Logger. A logger not enabled at Info, such as
	// slog.New(slog.DiscardHandler), turns the lines off, at no cost.
	AccessLog *slog.Logger
	// RequestLog, if set, writes the one line a request instead of
	// AccessLog and Logger: the same line as a slog text or JSON
	// handler's, formatted without slog's generic machinery (see
	// logbuf.RequestLog). serve uses it; AccessLog remains for a logger of
	// the caller's choosing.
	RequestLog *logbuf.RequestLog
	// Now is the clock (default time.Now).
	Now func() time.Time

	// Limiter keeps the rate limits: per API key, and the failed
	// authentications per client address (default an in-process
	// ratelimit.Memory on Now).
	Limiter ratelimit.Limiter
	// DefaultLimit is the limit of keys that have none of their own
	// (default 1000/m).
	DefaultLimit ratelimit.Limit
	// FailedAuthLimit is how many failed authentications a client address
	// may make before its requests without a valid key get 429 (default
	// 30/m).
	FailedAuthLimit ratelimit.Limit
	// TrustedProxyHeader, if set, is the header the client address is read
	// from (e.g. X-Forwarded-For) instead of the TCP peer, on requests
	// whose TCP peer is in TrustedProxies: the right-most entry that is
	// not itself a trusted proxy. From any other peer it is ignored, since
	// a client could write it. It needs TrustedProxies.
	TrustedProxyHeader string
	// TrustedProxies are the addresses of the proxies in front of the
	// server (see ParseTrustedProxies), like nginx's set_real_ip_from;
	// only they may set TrustedProxyHeader.
	TrustedProxies []netip.Prefix
	// LeakedKeysLimit is how many reports of leaked keys a client address
	// may send (default 10/m); they need no key, so no key's limit applies.
	LeakedKeysLimit ratelimit.Limit
	// Dashboard, if set, answers every path outside the API (/v1/…,
	// /.well-known/…, /healthz, /readyz, /metrics): the dashboard at /. Its
	// requests get a request id and a log line like the API's, and
	// ClientIP works for them. Unknown paths of the API still get its
	// JSON 404.
	Dashboard http.Handler
	// RedisStatus, if set, reports the state of the Redis that instances
	// share, for /readyz: "ok", or "degraded" while it cannot be reached
	// and the server gets by without it. Nil: "unused".
	RedisStatus func() string
	// DatabaseState, if set, tells /readyz why the store's Ping failed:
	// "connecting" (not reached since the server started),
	// "unreachable", or "refused" (a primary this instance may not write
	// to: see package guard), and a sentence saying why. Nil: a failed
	// Ping is "unreachable".
	DatabaseState func() (state, reason string)
	// Metrics, if not nil, records every request, authentication and
	// rate-limit decision (see package metrics).
	Metrics *metrics.Metrics
	// MetricsHandler, if not nil, is served at GET /metrics, without
	// authentication: the metrics on the API's own address.
	MetricsHandler http.Handler
	// KeyEvents, if not nil, is told of every key refused for its rate
	// limit (the api_key.rate_limited webhook event).
	KeyEvents KeyEvents
	// WebhookLoopback lets webhook endpoints name a loopback host
	// (localhost, 127.0.0.0/8, [::1]): for development and tests, where
	// the receiver runs beside pihu (serve --webhook-loopback allow).
	// Off, creating or changing an endpoint to such a URL is a 400 on
	// "url", and the dispatcher refuses to connect there anyway.
	WebhookLoopback bool
	// CORSOrigins are the origins whose web pages may call the API from a
	// browser (CORS), as ParseCORSOrigins returns them, such as
	// "https://app.example.com": their requests get
	// Access-Control-Allow-Origin, and their preflights an answer; never
	// Access-Control-Allow-Credentials. Nil: no page of another origin
	// may read an answer.
	CORSOrigins []string
	// GitHubKeys, if not nil, are the keys that sign GitHub's secret
	// scanning reports, which POST /v1/secret-scanning/github takes
	// (see NewGitHubKeys). Nil: that endpoint answers 404.
	GitHubKeys *GitHubKeys
	// GatewayRoutes, if not nil, is the operator's route table (serve
	// --gateway-routes): what each route behind a gateway requires of the
	// key of a request the forward-auth endpoint is asked about. With it,
	// a request that matches no route is refused.
	GatewayRoutes *gateway.Routes
}

// New returns a Server answering every route of the API. It panics if a
// limit of opts is set but invalid (see ratelimit.Limit.Validate), if
// TrustedProxyHeader is set without TrustedProxies, or if a CORSOrigins
// entry is not an origin as ParseCORSOrigins returns it: check them when
// reading the configuration.
func New(opts Options) *Server {
	s := &Server{store: opts.Store, auth: opts.Auth, logger: opts.Logger, now: opts.Now, mux: http.NewServeMux(), dashboard: opts.Dashboard}
	s.redisStatus = opts.RedisStatus
	s.databaseState = opts.DatabaseState
	s.keyEvents = opts.KeyEvents
	s.webhookLoopback = opts.WebhookLoopback
	s.githubKeys = opts.GitHubKeys
	if s.logger == nil {
		s.logger = slog.Default()
	}
	s.accessLog = opts.AccessLog
	s.requestLog = opts.RequestLog
	if s.accessLog == nil {
		s.accessLog = s.logger
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.initRateLimits(opts)
	s.initCORS(opts.CORSOrigins)
	s.initMetrics(opts)
	credits := opts.Credits
	if credits == nil {
		credits = s.store
	}
	s.adm = auth.NewAdmission(s.auth, auth.AdmissionOptions{
		Limiter: s.limiter, DefaultLimit: s.defaultLimit, FailedAuthLimit: s.failedAuthLimit, Credits: credits, Now: s.now,
		Events: s.keyEvents, Observe: s.observeDecision,
		LimiterError: func(ctx context.Context, err error) {
			s.logger.Error("rate limiter failed; request let through", "request_id", requestID(ctx), "err", err)
		},
	})
	s.routes()
	s.initGateway(opts)
	return s
}

// routes registers every endpoint: the method, the path, the permission it
// needs and its handler, one line each.
func (s *Server) routes() {
	s.handle("GET /healthz", http.HandlerFunc(s.healthz))
	s.handle("GET /readyz", http.HandlerFunc(s.readyz))

	s.handle("POST /v1/auth/api-keys", s.require("api_key:write", s.createKey))
	s.handle("GET /v1/auth/api-keys", s.require("api_key:read", s.listKeys))
	s.handle("GET /v1/auth/api-keys/{id}", s.require("api_key:read", s.getKey))
	s.handle("DELETE /v1/auth/api-keys/{id}", s.requireOrSelf("api_key:write", s.revokeKey))
	s.handle("POST /v1/auth/api-keys/{id}/rotate", s.require("api_key:write", s.rotateKey))
	s.handle("PATCH /v1/auth/api-keys/{id}", s.require("api_key:write", s.updateKey))
	s.handle(importPattern, s.require("api_key:write", s.importKeys))
	for _, p := range shadows {
		s.mux.HandleFunc(p, s.notFound)
	}
	s.handle("GET /v1/auth/api-keys/{id}/usage", s.require("api_key:read", s.keyUsage))
	s.handle("GET /v1/auth/api-keys/{id}/requests", s.require("api_key:read", s.keyRequests))
	s.handle("GET /v1/auth/requests", s.require("api_key:read", s.listRequests))
	s.handle("POST /v1/auth/leaked-keys", http.HandlerFunc(s.reportLeakedKeys))
	s.handle(secretScanningPattern, http.HandlerFunc(s.githubSecretScanning))
	s.handle("GET /v1/auth/account", s.require("api_key:read", s.getAccount))
	s.handle("PATCH /v1/auth/account", s.require(pihu.Wildcard, s.updateAccount))
	s.handle("GET /v1/auth/account/sign-in", s.require(pihu.AccountRead, s.getAccountSignIn))
	s.handle("GET /v1/auth/account/members", s.require(pihu.MemberRead, s.listMembers))
	s.handle("GET /v1/auth/audit-events", s.require("api_key:read", s.listAuditEvents))
	s.handle("GET /v1/auth/whoami", s.require("", s.whoami))
	s.handle("POST /v1/auth/verify", s.require("api_key:verify", s.verify))
	s.handle("POST /v1/auth/tokens", s.require("token:write", s.createToken))
	s.handle("POST /v1/oauth/token", http.HandlerFunc(s.oauthToken))
	for _, method := range []string{"GET", "HEAD"} {
		s.handle(method+" /.well-known/jwks.json", http.HandlerFunc(s.jwks))
		s.handle(method+" /.well-known/oauth-authorization-server", http.HandlerFunc(s.authorizationServerMetadata))
		s.handle(method+" /.well-known/openid-configuration", http.HandlerFunc(s.openIDConfiguration))
	}

	s.handle("POST /v1/candidates", s.require("candidate:write", s.createCandidate))
	s.handle("GET /v1/candidates", s.require("candidate:read", s.listCandidates))
	s.handle("GET /v1/candidates/{id}", s.require("candidate:read", s.getCandidate))
	s.handle("DELETE /v1/candidates/{id}", s.require("candidate:write", s.deleteCandidate))
	s.handle("POST /v1/interviews", s.require("interview:write", s.createInterview))
	s.handle("GET /v1/interviews", s.require("interview:read", s.listInterviews))
	s.handle("GET /v1/interviews/{id}", s.require("interview:read", s.getInterview))
	s.handle("DELETE /v1/interviews/{id}", s.require("interview:write", s.deleteInterview))
	s.handle("POST /v1/webhook-endpoints", s.require("webhook:write", s.createWebhookEndpoint))
	s.handle("GET /v1/webhook-endpoints", s.require("webhook:read", s.listWebhookEndpoints))
	s.handle("GET /v1/webhook-endpoints/{id}", s.require("webhook:read", s.getWebhookEndpoint))
	s.handle("PATCH /v1/webhook-endpoints/{id}", s.require("webhook:write", s.updateWebhookEndpoint))
	s.handle("DELETE /v1/webhook-endpoints/{id}", s.require("webhook:write", s.deleteWebhookEndpoint))
	s.handle("GET /v1/webhook-endpoints/{id}/deliveries", s.require("webhook:read", s.listDeliveries))
	s.handle("POST /v1/webhook-endpoints/{id}/test", s.require("webhook:write", s.testWebhookEndpoint))
	s.handle("POST /v1/webhook-endpoints/{id}/deliveries/{delivery_id}/resend", s.require("webhook:write", s.resendDelivery))
	s.handle("POST /v1/webhook-endpoints/{id}/roll-secret", s.require("webhook:write", s.rollWebhookSecret))
	s.handle("POST /v1/permissions", s.require("permission:write", s.createPermission))
	s.handle("GET /v1/permissions", s.require("permission:read", s.listPermissions))
	s.handle("DELETE /v1/permissions/{name}", s.require("permission:write", s.deletePermission))
	s.handle("POST /v1/roles", s.require(pihu.RoleWrite, s.createRole))
	s.handle("GET /v1/roles", s.require(pihu.RoleRead, s.listRoles))
	s.handle("GET /v1/roles/{id}", s.require(pihu.RoleRead, s.getRole))
	s.handle("PATCH /v1/roles/{id}", s.require(pihu.RoleWrite, s.updateRole))
	s.handle("DELETE /v1/roles/{id}", s.require(pihu.RoleWrite, s.deleteRole))
	s.handle("POST /v1/identities", s.require(pihu.IdentityWrite, s.createIdentity))
	s.handle("GET /v1/identities", s.require(pihu.IdentityRead, s.listIdentities))
	s.handle("GET /v1/identities/{id}", s.require(pihu.IdentityRead, s.getIdentity))
	s.handle("PATCH /v1/identities/{id}", s.require(pihu.IdentityWrite, s.updateIdentity))
	s.handle("DELETE /v1/identities/{id}", s.require(pihu.IdentityWrite, s.deleteIdentity))
	s.handle("GET /v1/identities/{id}/usage", s.require(pihu.IdentityRead, s.identityUsage))
	s.handle("GET /v1/openapi.json", http.HandlerFunc(s.openAPI))

	if s.dashboard == nil {
		s.mux.HandleFunc("/", s.notFound)
		return
	}
	for _, p := range fallbacks {
		if p != "/" {
			s.mux.HandleFunc(p, s.notFound)
		}
	}
	s.handle("/", s.dashboard)
}

// handle registers h for pattern on the mux.
func (s *Server) handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// fallbacks are the patterns that answer what no route of the API took:
// the API's own paths, and / (the dashboard, or a 404).
var fallbacks = []string{"/", "/v1/", "/.well-known/", "/healthz", "/readyz", "/metrics"}

// shadows are the methods of /v1/auth/api-keys/import that would
// otherwise reach the routes of a key ({id} = "import"): they get 405, as
// on every path where a method is not served.
var shadows = []string{"GET /v1/auth/api-keys/import", "PATCH /v1/auth/api-keys/import", "DELETE /v1/auth/api-keys/import"}

// ServeHTTP gives every request an id, logs it in one line when it ends,
// turns a panic into a 500, and routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if len(s.trustedProxies) == 0 && !s.proxyWarned.Load() {
		s.warnProxy(r)
	}
	// One allocation holds what the request carries (its id and the id's
	// bytes, its client address, the response writer and the Request-Id
	// header's value), and is the request's context.
	info := &requestInfo{Context: r.Context(), ip: clientAddress(r, s.proxyHeader, s.trustedProxies)}
	// The id's bytes are written once, here, and never again: a string
	// over them is as immutable as any.
	id := unsafe.String(&info.idBytes[0], len(pihu.AppendRequestID(info.idBytes[:0])))
	info.id = id
	info.rw = responseWriter{ResponseWriter: w, status: http.StatusOK}
	info.header[0] = id
	r = r.WithContext(info)
	rw := &info.rw
	// The name is in canonical form: no canonicalising on every request.
	rw.Header()["Request-Id"] = info.header[:]
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger.Error("panic", "request_id", id, "panic", pihu.MaskSecrets(fmt.Sprint(v)))
			if !rw.wrote {
				s.writeError(rw, r, pihu.Errorf(pihu.EInternal, "panic"))
			}
		}
		end := time.Now()
		s.metrics.Request(r.Pattern, r.Method, rw.status, end.Sub(start))
		if rw.key != nil && !rw.logged {
			s.logToRequestLog(r, info, rw)
		}
		if s.requestLog != nil {
			s.logRequest(r, rw, id, start, end)
			return
		}
		if !s.accessLog.Enabled(r.Context(), slog.LevelInfo) {
			return
		}
		// Every part of the request that is logged is masked: a key can
		// be pasted into a path, and even a method is any token.
		var buf [9]slog.Attr // on the stack: the line allocates nothing of its own
		attrs := append(buf[:0],
			slog.String("request_id", id),
			slog.String("method", pihu.MaskSecrets(r.Method)),
			slog.String("path", pihu.MaskSecrets(r.URL.Path)),
			slog.Int("status", rw.status),
			slog.Duration("duration", end.Sub(start)),
			slog.String("ip", clientIP(r)),
		)
		// The key require recognised, refused or not; else one a caller's
		// context carried in.
		k := rw.key
		if k == nil {
			k = pihu.KeyFromContext(r.Context())
		}
		if k != nil {
			attrs = append(attrs, slog.String("key_id", k.ID), slog.String("account_id", k.AccountID))
			if k.Token != nil {
				attrs = append(attrs, slog.String("token_id", k.Token.ID))
			}
		}
		s.accessLog.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	}()
	s.route(rw, r)
}

// proxyHeaders are the headers a proxy adds to what it forwards: their
// canonical keys, and their names as people write them.
var proxyHeaders = [...]struct{ key, name string }{
	{"X-Forwarded-For", "X-Forwarded-For"}, {"Forwarded", "Forwarded"}, {"X-Real-Ip", "X-Real-IP"},
}

// warnProxy logs a warning, the first time a request carries a header
// that a proxy adds while no proxy is trusted: the server then takes the
// proxy for the client, so every client behind it shares one address, and
// with it one budget of failed authentications (and of leaked-key
// reports), and allowed_ips see the proxy only. Once per Server, so once
// per process for serve.
func (s *Server) warnProxy(r *http.Request) {
	for _, h := range proxyHeaders {
		if _, ok := r.Header[h.key]; ok && s.proxyWarned.CompareAndSwap(false, true) {
			s.logger.Warn("a request came through a proxy (it carries "+h.name+"), but no proxy is trusted: every client behind "+
				"that proxy has the proxy's address, and they all share one failed-authentication budget and pass or fail allowed_ips together; "+
				"set --trusted-proxies to the proxy's addresses and --trusted-proxy-header to the header it sets",
				"header", h.name, "peer", clientAddress(r, "", nil))
			return
		}
	}
}

// errorCodes are the error codes, indexed by requestInfo.code ("" at 0),
// and codeIndex their indexes.
var errorCodes, codeIndex = func() ([]string, map[string]uint8) {
	codes := append([]string{""}, pihu.ErrorCodes()...)
	if len(codes) > 256 {
		panic("http: more error codes than requestInfo.code holds")
	}
	index := make(map[string]uint8, len(codes))
	for i, c := range codes {
		index[c] = uint8(i)
	}
	return codes, index
}()

// logToRequestLog records the request of info, made with a key, in the
// request log (auth.Authenticator.LogRequest), unless its handler did
// (forward auth). The entry is
// built on the stack: the log's buffer copies it.
func (s *Server) logToRequestLog(r *http.Request, info *requestInfo, rw *responseWriter) {
	k := rw.key
	e := pihu.RequestLogEntry{
		RequestID: info.id, AccountID: k.AccountID, KeyID: k.ID, // Time: the authenticator's clock's now
		Door: pihu.DoorAPI, Method: r.Method, Path: r.URL.Path, Status: rw.status, IP: info.ip, Code: errorCodes[info.code],
	}
	if k.Token != nil {
		e.TokenID = k.Token.ID
	}
	s.auth.LogRequest(&e)
}

// logRequest writes the line of a request through Options.RequestLog:
// the same fields as the slog line, masked the same way.
func (s *Server) logRequest(r *http.Request, rw *responseWriter, id string, start, end time.Time) {
	line := logbuf.Request{
		Time: end, ID: id, Method: pihu.MaskSecrets(r.Method), Path: pihu.MaskSecrets(r.URL.Path),
		Status: rw.status, Duration: end.Sub(start), IP: clientIP(r),
	}
	if k := rw.key; k != nil {
		line.KeyID, line.AccountID = k.ID, k.AccountID
		if k.Token != nil {
			line.TokenID = k.Token.ID
		}
	}
	if err := s.requestLog.Log(&line); err != nil {
		s.logger.Error("request log", "err", err)
	}
}

// route hands r to its handler. The API answers HEAD only where a route
// says so (the public documents under /.well-known/): elsewhere a HEAD of
// an API path is a 405 (404 for an unknown path) like any method the path
// lacks, so that what is served is what the OpenAPI document lists; a
// HEAD of the dashboard's pages is the dashboard's.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if s.corsOrigins != nil && corsPath(r.URL.Path) && s.cors(w, r) {
		return
	}
	if r.Method == http.MethodHead {
		if _, pattern := s.mux.Handler(r); !isHead(pattern) && (pattern != "/" || s.dashboard == nil) {
			s.notFound(w, r)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// responseWriter remembers the status and the authenticated key for the
// request log line.
type responseWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	// logged is set by a handler that recorded the request in the request
	// log itself (forward auth: the original request).
	logged bool
	key    *pihu.Key
}

func (w *responseWriter) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestInfo is what ServeHTTP gives each request. It is the request's
// context too: the request's own, with itself as the value of
// requestInfoKey (one allocation fewer than context.WithValue).
type requestInfo struct {
	context.Context
	id, ip  string
	idBytes [len(pihu.PrefixRequest) + pihu.IDLength]byte
	// code is the error code of the answer, if it is an error, for the
	// request log: an index of errorCodes (0: none), a byte that fits in
	// the padding after idBytes, so that the struct keeps its size class.
	code   uint8
	rw     responseWriter
	header [1]string
	// key is the request's key once require let it through: the value of
	// pihu.KeyContextKey, without a context.WithValue and a copy of the
	// request for it; actor, the value of pihu.ActorContextKey, is the
	// actor of the writes it makes (see withKey).
	key   *pihu.Key
	actor pihu.Actor
}

type requestInfoKey struct{}

func (info *requestInfo) Value(key any) any {
	switch key.(type) {
	case requestInfoKey:
		return info
	case pihu.KeyContextKey:
		if info.key != nil {
			return info.key
		}
	case pihu.ActorContextKey:
		if info.key != nil {
			return info.actor
		}
	}
	return info.Context.Value(key)
}

// withKey returns r with k, authenticated at now, as its key
// (pihu.KeyFromContext), and as the actor of every store write made with
// its context (pihu.ActorFromContext): k's own id, which for an access
// token is its parent key's. The store re-checks the actor inside each
// write's transaction, so a key revoked while its request runs writes
// nothing after the revocation, whatever the handler. It is r itself when
// ServeHTTP made r's context, which carries both in fields; a copy with a
// new context otherwise.
func withKey(r *http.Request, k *pihu.Key, now time.Time) *http.Request {
	actor := pihu.Actor{AccountID: k.AccountID, KeyID: k.ID, At: now}
	if info, ok := r.Context().(*requestInfo); ok {
		info.key, info.actor = k, actor
		return r
	}
	ctx := pihu.NewContextWithActor(pihu.NewContextWithKey(r.Context(), k), actor)
	return r.WithContext(ctx)
}

func requestID(ctx context.Context) string {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return info.id
	}
	return ""
}

// ClientIP is the address r came from, as the API resolved it (see
// Options.TrustedProxyHeader), for a handler the Server calls, such as the
// dashboard; for any other request it is the TCP peer.
func ClientIP(r *http.Request) string { return clientIP(r) }

// clientIP is the address the request came from: the TCP peer, or for a
// request from a trusted proxy its header's (see
// Options.TrustedProxyHeader), as ServeHTTP resolved it once.
func clientIP(r *http.Request) string {
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		return info.ip
	}
	return clientAddress(r, "", nil)
}

// require authenticates the request's bearer key, checks that it may be
// used from the client's address, spends one request of its rate limit,
// and checks that it holds perm ("" for any valid key) before calling h
// with the key in the context, once per Idempotency-Key (see idempotent).
// A request with an active key counts in the key's usage: refused if one
// of those checks refuses it, allowed otherwise.
func (s *Server) require(perm pihu.Permission, h http.HandlerFunc) http.Handler {
	return s.requireRoute(perm, false, h)
}

// requireOrSelf is require for a route on the key of the path's {id} that
// a key may always take on itself: revoking it (a key may always revoke
// itself; holding its secret is the right to, as for a leaked key). A
// request whose {id} is the very key that authenticates it, with its own
// secret (not an access token minted from it, see pihu.Key.IsSelf), needs
// no perm, and is let through from any address and whatever its credits
// (it spends none); it is authenticated, rate limited and counted in the
// key's usage like any other.
func (s *Server) requireOrSelf(perm pihu.Permission, h http.HandlerFunc) http.Handler {
	return s.requireRoute(perm, true, h)
}

// requireRoute is require, and requireOrSelf if self.
func (s *Server) requireRoute(perm pihu.Permission, self bool, h http.HandlerFunc) http.Handler {
	var perms []pihu.Permission // made once, not per request
	if perm != "" {
		perms = []pihu.Permission{perm}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, err := s.authenticate(w, r)
		if err != nil {
			s.observeAuthFailure(err)
			if !s.replayToEndedKey(w, r, perm, err) {
				s.writeError(w, r, err)
			}
			return
		}
		if rw, ok := w.(*responseWriter); ok {
			rw.key = k
		}
		// A key acting on itself (see requireOrSelf) is admitted from any
		// address and needs no permission; it spends no credits.
		onItself := self && k.IsSelf(r.PathValue("id"))
		need := auth.Need{ClientIP: clientIP(r), Permissions: perms, Cost: 1}
		if onItself {
			need = auth.Need{Self: true}
		}
		d, err := s.check(w, r, k, need)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		r = withKey(r, k, s.now())
		if r.Method != http.MethodPost {
			// As idempotent would: Idempotency-Key is for POST only.
			if s.admit(w, r, &d, !onItself) {
				h(w, r)
			}
			return
		}
		s.idempotent(w, r, k, func(run bool) bool { return s.admit(w, r, &d, run) }, h)
	})
}

// check runs the admission's checks before the work (auth.Admission.Check)
// for a request made with k, sets the RateLimit headers, and returns the
// error to answer for a refusal: every door of the HTTP API words its
// refusals here, the same way.
func (s *Server) check(w http.ResponseWriter, r *http.Request, k *pihu.Key, need auth.Need) (auth.Decision, error) {
	d, err := s.adm.Check(r.Context(), k, need)
	if err != nil {
		return d, err
	}
	return d, s.refusal(w, r, d)
}

// refusal sets the headers of d (RateLimit, and Retry-After for a refusal
// that has one) and returns the error of its refusal, nil if admitted.
func (s *Server) refusal(w http.ResponseWriter, r *http.Request, d auth.Decision) error {
	var buf [7]pihu.Header
	setHeaders(w.Header(), d.AppendHeaders(buf[:0], s.now()))
	return d.Err(clientIP(r), s.now())
}

// admit ends the admission of a request that check admitted
// (auth.Admission.Charge: if run, its credits are spent), and reports
// whether it may run; if not, the error is written.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, d *auth.Decision, run bool) bool {
	err := s.adm.Charge(r.Context(), d, 1, run)
	if err == nil && !d.Allowed() {
		// Only a refusal of the credits is new: an admitted request's
		// headers were set by check.
		err = s.refusal(w, r, *d)
	}
	if err != nil {
		s.writeError(w, r, err)
		return false
	}
	return true
}

// BearerToken returns the token of an Authorization header of the Bearer
// scheme (RFC 6750 §2.1; the scheme is case-insensitive).
//
// A header without credentials of that scheme is EMissingAPIKey, which
// gets a plain challenge (RFC 6750 §3.1: no error code for a request
// without authentication information): an empty header, "Bearer" with
// nothing after it, or another scheme ("Basic …"), or a key without the
// scheme. A Bearer header that is malformed is EParameterInvalid on
// "Authorization", a 400 whose challenge says error="invalid_request":
// two credentials joined by a comma (as a proxy may join two headers),
// anything after the token, or a token that is not a b64token.
func BearerToken(header string) (string, error) { return auth.BearerToken(header) }

// methods are tried, in this order, to tell a wrong method from a wrong
// path. HEAD counts only where a route names it (see route): a GET route
// of the mux takes HEAD too, which the API does not serve.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// isHead reports whether the mux pattern is a route of HEAD itself.
func isHead(pattern string) bool { return strings.HasPrefix(pattern, "HEAD ") }

// notFound answers a request no route took: 405 with Allow if the path
// exists under another method, else 404.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range methods {
		probe := r.Clone(r.Context())
		probe.Method = m
		_, pattern := s.mux.Handler(probe)
		if pattern != "" && !slices.Contains(fallbacks, pattern) && !slices.Contains(shadows, pattern) && (m != http.MethodHead || isHead(pattern)) {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.writeError(w, r, pihu.Errorf(pihu.EMethodNotAllowed, "%s is not allowed on %s; use %s.",
			pihu.MaskSecrets(r.Method), pihu.MaskSecrets(r.URL.Path), strings.Join(allow, " or ")))
		return
	}
	s.writeError(w, r, pihu.Errorf(pihu.ENotFound, "There is nothing at %s %s. See the API reference for the paths it serves.", pihu.MaskSecrets(r.Method), pihu.MaskSecrets(r.URL.Path)))
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if err := noParameters(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
