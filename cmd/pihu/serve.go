package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/extauthz"
	"github.com/pihu-ai/pihu/gateway"
	"github.com/pihu-ai/pihu/guard"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/internal/gcheadroom"
	"github.com/pihu-ai/pihu/logbuf"
	"github.com/pihu-ai/pihu/metrics"
	"github.com/pihu-ai/pihu/ratelimit"
	"github.com/pihu-ai/pihu/redisbus"
	"github.com/pihu-ai/pihu/sqlite"
	"github.com/pihu-ai/pihu/web"
	"github.com/pihu-ai/pihu/webhook"
	"github.com/redis/go-redis/v9"
	"golang.org/x/term"
)

// flushInterval is how often key uses are written to the database: the
// API promises `last_used` within 5 s of a use.
const flushInterval = time.Second

// gcHeadroom is how much the heap may grow between two garbage
// collections at the least (see package gcheadroom): a tenth of the
// cycles that a live heap of 3 MB would have, for at most 32 MB of memory.
const gcHeadroom = 32 << 20

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	var c Config
	fs := newFlagSet("serve", stderr)
	fs.StringVar(&c.Addr, "addr", env("PIHU_ADDR", "127.0.0.1:8080"), "address to listen on (PIHU_ADDR)")
	c.databaseFlag(fs)
	fs.StringVar(&c.Redis, "redis", env("PIHU_REDIS_URL", ""), "Redis URL for shared rate limits and revocations; empty keeps them in process (PIHU_REDIS_URL)")
	if err := boolFlag(fs, &c.ExactLimits, "exact-limits", "PIHU_EXACT_LIMITS", "with --redis, decide every rate limit in Redis on every request instead of from the leases each instance takes (PIHU_EXACT_LIMITS)"); err != nil {
		return err
	}
	if err := boolFlag(fs, &c.ExactCredits, "exact-credits", "PIHU_EXACT_CREDITS", "with --redis, spend every request's credits in the database instead of from the leases each instance takes (PIHU_EXACT_CREDITS)"); err != nil {
		return err
	}
	if err := durationFlag(fs, &c.CreditLeaseTTL, "credit-lease-ttl", "PIHU_CREDIT_LEASE_TTL", auth.DefaultCreditLeaseTTL,
		"how long a lease of credits lives unless renewed: what an instance that died held comes back after it (PIHU_CREDIT_LEASE_TTL)"); err != nil {
		return err
	}
	fs.StringVar(&c.RateLimit, "rate-limit", env("PIHU_RATE_LIMIT", "1000/m"), "default per-key rate limit: N/s, N/m or N/h (PIHU_RATE_LIMIT)")
	fs.StringVar(&c.FailedAuthLimit, "failed-auth-limit", env("PIHU_FAILED_AUTH_LIMIT", "30/m"), "failed authentications allowed per client address: N/s, N/m or N/h (PIHU_FAILED_AUTH_LIMIT)")
	fs.StringVar(&c.TrustedProxyHeader, "trusted-proxy-header", env("PIHU_TRUSTED_PROXY_HEADER", ""), "header holding the client address, set by your proxy, e.g. X-Forwarded-For; believed only from --trusted-proxies; empty uses the TCP peer (PIHU_TRUSTED_PROXY_HEADER)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", env("PIHU_TRUSTED_PROXIES", ""), "comma-separated addresses and CIDR ranges of your proxies, e.g. 10.0.0.0/8; only requests from them may set --trusted-proxy-header (PIHU_TRUSTED_PROXIES)")
	fs.StringVar(&c.CORSOrigins, "cors-origins", env("PIHU_CORS_ORIGINS", ""), "comma-separated origins whose web pages may call the API from a browser with an access token, e.g. https://app.example.com; empty: none (PIHU_CORS_ORIGINS)")
	fs.StringVar(&c.GatewayRoutes, "gateway-routes", env("PIHU_GATEWAY_ROUTES", ""), "JSON file of the routes behind your gateways and what each requires of a key (see docs/gateways.md); a request matching none is refused (PIHU_GATEWAY_ROUTES)")
	fs.StringVar(&c.ExtAuthzAddr, "ext-authz-addr", env("PIHU_EXT_AUTHZ_ADDR", ""), "address to answer Envoy's ext_authz Check on, over gRPC, e.g. 127.0.0.1:9191; empty: off (PIHU_EXT_AUTHZ_ADDR)")
	fs.StringVar(&c.Issuer, "issuer", env("PIHU_ISSUER", ""), "the public URL of this server, the \"iss\" of its access tokens, e.g. https://auth.example.com; empty: http:// and the address it listens on (PIHU_ISSUER)")
	fs.StringVar(&c.LogFormat, "log-format", env("PIHU_LOG_FORMAT", "text"), "log format: text or json (PIHU_LOG_FORMAT)")
	if err := c.operationsFlags(fs); err != nil {
		return err
	}
	if err := c.outageFlags(fs); err != nil {
		return err
	}
	if err := c.requestLogFlags(fs); err != nil {
		return err
	}
	fs.StringVar(&c.Webhooks, "webhooks", env("PIHU_WEBHOOKS", "on"), "on: send the webhook outbox from this instance; off: record events only, for other instances to send (PIHU_WEBHOOKS)")
	if err := durationFlag(fs, &c.WebhookRetry, "webhook-retry", "PIHU_WEBHOOK_RETRY", 30*time.Second, "the wait before a failed webhook delivery's first retry, doubling up to 6h (PIHU_WEBHOOK_RETRY)"); err != nil {
		return err
	}
	fs.StringVar(&c.DashboardOrigin, "dashboard-origin", env("PIHU_DASHBOARD_ORIGIN", ""), "the dashboard's origin as browsers see it, such as https://pihu.example.com, which passkeys are bound to; set it behind a proxy that ends TLS (default: each request's own) (PIHU_DASHBOARD_ORIGIN)")
	fs.StringVar(&c.SSOProviders, "sso-providers", env("PIHU_SSO_PROVIDERS", ""), "JSON file of the OpenID Connect providers people may sign in to the dashboard through (see docs/dashboard.md); empty: none (PIHU_SSO_PROVIDERS)")
	fs.StringVar(&c.WebhookLoopback, "webhook-loopback", env("PIHU_WEBHOOK_LOOPBACK", "deny"), "allow: webhook endpoints may be http://localhost, 127.0.0.1 or [::1] URLs, for development; deny: they may not, and deliveries never connect there (PIHU_WEBHOOK_LOOPBACK)")
	fs.StringVar(&c.GitHubKeysURL, "github-keys-url", env("PIHU_GITHUB_KEYS_URL", pihuhttp.GitHubKeysURL), "where GitHub's secret scanning public keys are read from, on the first report to /v1/secret-scanning/github; empty (and no --github-keys-file) turns that endpoint off (PIHU_GITHUB_KEYS_URL)")
	fs.StringVar(&c.GitHubKeysFile, "github-keys-file", env("PIHU_GITHUB_KEYS_FILE", ""), "a copy of GitHub's secret scanning key document, used instead of --github-keys-url, for servers without internet access (PIHU_GITHUB_KEYS_FILE)")
	fs.StringVar(&c.AccessLog, "access-log", env("PIHU_ACCESS_LOG", ""), "the line logged for each request: off, text or json; empty: as --log-format (PIHU_ACCESS_LOG)")
	fs.StringVar(&c.Pprof, "pprof", env("PIHU_PPROF", ""), "address to serve net/http/pprof on, e.g. 127.0.0.1:6060, for profiling in place; empty: off (PIHU_PPROF)")
	cacheSize := env("PIHU_KEY_CACHE_SIZE", strconv.Itoa(auth.DefaultCacheSize))
	fs.StringVar(&cacheSize, "key-cache-size", cacheSize, "how many verified keys to keep in memory, about 200 bytes each; 0 reads every key from the database (PIHU_KEY_CACHE_SIZE)")
	if err := parse(fs, args); err != nil {
		return err
	}
	n, err := strconv.Atoi(cacheSize)
	if err != nil || n < 0 {
		return usageError{fmt.Sprintf("--key-cache-size %q: give a whole number of keys, 0 or more", cacheSize)}
	}
	c.KeyCacheSize = n
	if c.CreditLeaseTTL < time.Second {
		return usageError{fmt.Sprintf("--credit-lease-ttl %s: give at least 1s", c.CreditLeaseTTL)}
	}
	if err := c.checkOutageFlags(); err != nil {
		return err
	}
	if err := c.checkRequestLogFlags(); err != nil {
		return err
	}
	if c.Webhooks != "on" && c.Webhooks != "off" {
		return usageError{fmt.Sprintf("--webhooks %q: use on or off", c.Webhooks)}
	}
	if c.WebhookLoopback != "allow" && c.WebhookLoopback != "deny" {
		return usageError{fmt.Sprintf("--webhook-loopback %q: use allow or deny", c.WebhookLoopback)}
	}
	if c.WebhookRetry < time.Second {
		return usageError{fmt.Sprintf("--webhook-retry %s: give at least 1s", c.WebhookRetry)}
	}
	// The log is written in batches, every 100 ms, on an error, and on
	// exit: a line per request costs no write(2) of its own.
	logs := logbuf.New(stderr, 100*time.Millisecond)
	defer logs.Close()
	logger, err := newLogger(c.LogFormat, logs)
	if err != nil {
		return err
	}
	access := c.AccessLog
	if access == "" {
		access = c.LogFormat
	}
	// The request lines are formatted by hand (logbuf.RequestLog), the
	// same lines as the slog handler of their format would write.
	var requests *logbuf.RequestLog
	switch access {
	case "off":
	case "text", "json":
		requests = logbuf.NewRequestLog(logs, access == "json")
	default:
		return usageError{fmt.Sprintf("--access-log %q: use off, text or json", c.AccessLog)}
	}
	return Serve(ctx, c, logger, requests, stderr)
}

// newLogger returns a logger of format writing to w, flushing w at once
// on an error.
func newLogger(format string, w *logbuf.Writer) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(logbuf.Handler(slog.NewTextHandler(w, nil), w)), nil
	case "json":
		return slog.New(logbuf.Handler(slog.NewJSONHandler(w, nil), w)), nil
	}
	return nil, usageError{fmt.Sprintf("--log-format %q: use text or json", format)}
}

// Serve runs the API until ctx is done, then stops taking requests, lets
// those in flight finish, and writes the key uses not yet written. The
// line of each request goes to requests (none if nil), everything else to
// logger.
func Serve(ctx context.Context, c Config, logger *slog.Logger, requests *logbuf.RequestLog, stderr io.Writer) error {
	a, err := newApp(ctx, c, logger, requests, stderr)
	if err != nil {
		return err
	}
	return a.run(ctx)
}

// closers are cleanups run by close in the reverse of the order they were
// added, as defers are: what was opened last is closed first.
type closers []func()

func (cs *closers) add(f func()) { *cs = append(*cs, f) }

func (cs *closers) close() {
	for i := len(*cs) - 1; i >= 0; i-- {
		(*cs)[i]()
	}
	*cs = nil
}

// app is `pihu serve` built from its Config by newApp: the shared state
// in Redis, the listener, the guarded store, the authenticator and the
// dashboard, each of which registered its cleanup in closers when it was
// opened. run serves with them, then closes them.
type app struct {
	c        Config
	logger   *slog.Logger
	requests *logbuf.RequestLog
	stderr   io.Writer

	// From the configuration, checked before anything is opened.
	limits  limits
	origins []string
	routes  *gateway.Routes
	sso     []web.SSOProvider
	cert    *certificate

	shared    *sharedState
	fresh     string       // the SQLite file this start creates, if any (newDatabaseFile)
	ln        net.Listener // wrapped in TLS by newServer with a certificate
	url       string       // the dashboard's address
	issuer    string
	guard     *guard.Store
	metrics   *metrics.Metrics
	store     pihu.Store
	credits   auth.CreditSpender
	leases    *auth.CreditLeases // with Redis, unless --exact-credits
	authn     *auth.Authenticator
	dashboard *web.Handler

	// Made by start.
	notifier *webhook.Notifier
	api      *pihuhttp.Server
	srv      *http.Server
	guarding chan error // what the guard's Run returns, an error that stops the server

	// closers close what newApp opened, once run is over or on an error
	// before it.
	closers closers
}

// newApp checks c and opens what serve needs, in this order: the shared
// state in Redis, the certificate, the listener, the store through its
// guard, the authenticator, the dashboard and --pprof. On an error it
// closes what it had opened.
func newApp(ctx context.Context, c Config, logger *slog.Logger, requests *logbuf.RequestLog, stderr io.Writer) (*app, error) {
	a := &app{c: c, logger: logger, requests: requests, stderr: stderr}
	if err := a.checkConfig(); err != nil {
		return nil, err
	}
	if err := a.open(ctx); err != nil {
		a.closers.close()
		return nil, err
	}
	return a, nil
}

// checkConfig parses the settings that need no connection; a bad one is
// a usage error.
func (a *app) checkConfig() error {
	var err error
	if a.limits, err = a.c.rateLimits(); err != nil {
		return err
	}
	if err := checkIssuer(a.c.Issuer); err != nil {
		return err
	}
	if a.origins, err = pihuhttp.ParseCORSOrigins(a.c.CORSOrigins); err != nil {
		return usageError{"--cors-origins: " + err.Error()}
	}
	if a.c.GatewayRoutes != "" {
		if a.routes, err = gateway.LoadRoutes(a.c.GatewayRoutes); err != nil {
			return usageError{"--gateway-routes: " + err.Error()}
		}
	}
	if a.c.SSOProviders != "" {
		if a.sso, err = web.LoadSSOProviders(a.c.SSOProviders, os.Getenv); err != nil {
			return usageError{"--sso-providers: " + err.Error()}
		}
	}
	return nil
}

// checkSSOAccounts checks that each SSO provider's account exists. A
// store that cannot tell now (it is starting, or down) is no reason to
// stop: that is logged, and the providers are kept.
func (a *app) checkSSOAccounts(ctx context.Context) error {
	for _, p := range a.sso {
		_, err := a.store.Account(ctx, p.Account)
		switch {
		case pihu.ErrorCode(err) == pihu.ENotFound:
			return usageError{fmt.Sprintf("--sso-providers: provider %q: no account has the id %q; \"pihu accounts list\" shows them", p.ID, p.Account)}
		case err != nil:
			a.logger.Warn("could not check the SSO providers' accounts", "provider", p.ID, "err", err)
		}
	}
	return nil
}

// open opens what newApp says, registering each part's cleanup.
func (a *app) open(ctx context.Context) error {
	if err := a.listen(ctx); err != nil {
		return err
	}
	if err := a.openStore(ctx); err != nil {
		return err
	}
	a.newAuth()
	if err := a.checkSSOAccounts(ctx); err != nil {
		return err
	}
	var err error
	a.dashboard, err = web.New(web.Options{
		Store: a.store, Usage: a.authn, Auth: a.authn, Limiter: a.limiter(), ClientIP: pihuhttp.ClientIP, Logger: a.logger,
		WebhookLoopback: a.c.WebhookLoopback == "allow", Origin: a.c.DashboardOrigin, SSOProviders: a.sso,
	})
	if err != nil || a.c.Pprof == "" {
		return err
	}
	stopPprof, err := servePprof(a.c.Pprof, a.logger)
	if err != nil {
		return err
	}
	a.closers.add(stopPprof)
	return nil
}

// listen connects to Redis, loads the certificate and listens on
// --addr; without --database it stops at the usage error that says why.
func (a *app) listen(ctx context.Context) error {
	shared, err := connectRedis(ctx, a.c.Redis, a.c.ExactLimits, a.logger)
	if err != nil {
		return err
	}
	a.shared = shared
	a.closers.add(shared.close)
	a.fresh = newDatabaseFile(a.c.Database)
	if err := a.c.checkTLS(); err != nil {
		return err
	}
	if a.c.TLSCert != "" {
		if a.cert, err = loadCertificate(a.c.TLSCert, a.c.TLSKey); err != nil {
			return err
		}
	}
	if a.c.Database == "" {
		_, err := openStore(ctx, a.c.Database) // the usage error that says why
		return err
	}
	ln, err := net.Listen("tcp", a.c.Addr)
	if err != nil {
		return err
	}
	// Once served, the server closes ln; closing it again does nothing.
	a.closers.add(func() { ln.Close() })
	a.ln = ln
	a.url = "http://" + ln.Addr().String() + "/"
	if a.cert != nil {
		a.url = "https://" + ln.Addr().String() + "/"
	}
	return nil
}

// openStore makes the guard, through which every call to the store goes
// (its breaker, its check of the primary, and the store itself when it
// was not there at start), and makes the first attempt to connect it.
// The first start's account is made when the store is first up.
func (a *app) openStore(ctx context.Context) error {
	first := firstStart{
		Dashboard: a.url, KeyFile: ownerKeyFile(a.c.Database), SetupFile: setupLinkFile(a.c.Database),
		Terminal: isTerminal(a.stderr), Stderr: a.stderr, Logger: a.logger,
	}
	g := guard.New(guard.Options{Logger: a.logger, Fleet: a.shared.fleet(a.c.Database),
		Prepare: func(ctx context.Context, st pihu.Store) error {
			warnNewDatabase(a.stderr, a.fresh)
			return first.run(ctx, st)
		}})
	a.guard = g
	a.closers.add(func() { g.Close() })
	if err := connectStore(ctx, a.c, g); err != nil {
		return err
	}
	m := metrics.New()
	m.StoreState(storeStates(), func() string { st, _ := g.State(); return st.String() }, g.FailedFast)
	a.metrics = m
	a.store = m.Store(g)
	// With Redis, several instances spend credits from leases, renewed
	// while it runs and given back here once the requests have drained,
	// before the store closes.
	a.credits = a.store
	if a.shared.bus != nil && !a.c.ExactCredits {
		leases := auth.NewCreditLeases(a.store, auth.CreditLeaseOptions{Logger: a.logger, TTL: a.c.CreditLeaseTTL})
		a.closers.add(func() { leases.Close() })
		a.shared.forget = append(a.shared.forget, leases.Forget)
		a.credits = leases
		a.leases = leases
	}
	return nil
}

// newAuth makes the authenticator of keys and access tokens, with its
// cache of verified keys.
func (a *app) newAuth() {
	a.issuer = a.c.Issuer
	if a.issuer == "" {
		a.issuer = strings.TrimSuffix(a.url, "/")
	}
	tokens := auth.NewTokens(a.store, auth.TokenOptions{Issuer: a.issuer, Logger: a.logger})
	cacheSize := a.c.KeyCacheSize
	if cacheSize == 0 {
		cacheSize = -1 // no cache
	}
	opts := auth.Options{Logger: a.logger, Tokens: tokens, MaxEntries: cacheSize,
		TTL: a.c.KeyCacheTTL, StaleIfError: a.c.StaleIfError,
		Invalidations: a.shared.invalidations(), Observer: a.metrics}
	a.c.requestLogOptions(&opts)
	a.authn = auth.New(a.store, opts)
	a.metrics.CacheSize(a.authn.CacheLen)
}

// limiter is the one limiter of the API and the dashboard (in Redis with
// --redis): an address guessing keys and passwords spends one budget of
// each kind, wherever it guesses.
func (a *app) limiter() ratelimit.Limiter { return a.shared.limiter }

// run starts the background work and the other listeners, serves until
// ctx is done (or the server or the database fails), then shuts down in
// this order: the API drains (see drain), ext_authz stops, the webhook
// dispatcher records the attempts under way, the metrics listener
// closes, the key uses not yet written are written, "stopped" is logged,
// and what newApp opened closes, last opened first.
func (a *app) run(ctx context.Context) error {
	defer a.closers.close()
	var workers closers
	if err := a.start(&workers); err != nil {
		workers.close()
		return err
	}
	stopReload := reloadOnSIGHUP(a.cert, a.logger)
	defer stopReload()
	err := a.serve(ctx)
	workers.close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	a.logger.Info("stopped")
	return err
}

// start starts the background work, builds the API's server, and starts
// --metrics-addr, --ext-authz-addr and the webhook dispatcher, adding to
// w how to stop each.
func (a *app) start(w *closers) error {
	a.startBackground(w)
	a.newServer()
	metricsSrv, err := serveMetrics(a.c.MetricsAddr, a.metrics, a.logger)
	if err != nil {
		return err
	}
	if metricsSrv != nil {
		w.add(func() { metricsSrv.Close() })
	}
	var accessLog *slog.Logger
	if a.requests != nil {
		accessLog = a.logger
	}
	stopCheck, err := serveExtAuthz(a.c.ExtAuthzAddr, extauthz.Options{
		Admission: a.api.Admission(), Routes: a.routes, TrustedProxies: a.limits.proxies,
		Logger: a.logger, AccessLog: accessLog, Metrics: a.metrics,
	})
	if err != nil {
		return err
	}
	a.startDispatcher(w)
	// Added last, ext_authz stops first, as it did before the dispatcher
	// started.
	w.add(stopCheck)
	return nil
}

// startBackground starts what runs until the key uses are written at the
// end: the authenticator's flush of key uses and its subscription to
// invalidations, the guard, and the GC headroom.
func (a *app) startBackground(w *closers) {
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	w.add(func() { stop(); wg.Wait() })
	wg.Go(func() { a.authn.Run(ctx, flushInterval) })
	wg.Go(func() { a.authn.Listen(ctx) })
	wg.Go(func() {
		pruneRequestLog(ctx, a.store, a.c.RequestLogRetention, a.c.RequestLogMax, requestLogPruneInterval, a.logger)
	})
	// Every instance, leasing or not, gives back what the expired leases
	// of credits hold (those of instances that died).
	wg.Go(func() { auth.SweepCreditLeases(ctx, a.store, a.c.CreditLeaseTTL/3, a.logger) })
	if a.leases != nil {
		wg.Go(func() { a.leases.Run(ctx) })
	}
	// The guard connects, probes and checks the store until the end; an
	// error it returns (a migration that fails once the database is back)
	// stops the server.
	a.guarding = make(chan error, 1)
	wg.Go(func() { a.guarding <- a.guard.Run(ctx, a.c.storeOpener(a.guard)) })
	if os.Getenv("GOGC") == "" {
		// The live heap is a few megabytes (the key cache is outside it):
		// without headroom the collector would run every few hundred
		// requests. GOGC, when set, is the operator's choice.
		wg.Go(func() { gcheadroom.Run(ctx, gcHeadroom, time.Second) })
	}
	// Changes are published only while subscribed: give the subscription
	// a moment, so that the first requests' changes reach the others.
	for deadline := time.Now().Add(2 * time.Second); !a.authn.Subscribed() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

// newServer builds the API and its HTTP server, over TLS with a
// certificate.
func (a *app) newServer() {
	a.notifier = &webhook.Notifier{Store: a.store, Logger: a.logger}
	var metricsHandler http.Handler
	if a.c.MetricsAddr == "" {
		metricsHandler = a.metrics.Handler()
	}
	a.api = pihuhttp.New(pihuhttp.Options{
		Store: a.store, Credits: a.credits, Auth: a.authn, Logger: a.logger, AccessLog: slog.New(slog.DiscardHandler), RequestLog: a.requests, Limiter: a.limiter(), RedisStatus: a.shared.status(),
		DatabaseState: databaseState(a.guard),
		DefaultLimit:  a.limits.key, FailedAuthLimit: a.limits.failedAuth,
		TrustedProxyHeader: a.c.TrustedProxyHeader, TrustedProxies: a.limits.proxies,
		WebhookLoopback: a.c.WebhookLoopback == "allow", CORSOrigins: a.origins,
		Dashboard: a.dashboard, Metrics: a.metrics, MetricsHandler: metricsHandler, KeyEvents: a.notifier,
		GitHubKeys: a.c.githubKeys(), GatewayRoutes: a.routes,
	})
	a.srv = &http.Server{
		Handler:           withHSTS(a.api),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
	if a.cert != nil {
		a.srv.TLSConfig = a.cert.tlsConfig()
		a.ln = tls.NewListener(a.ln, a.srv.TLSConfig)
	}
}

// startDispatcher starts the webhook dispatcher, unless --webhooks off.
// It stops after the requests have drained, and records the attempts it
// has under way before serve returns; then the notifications of key
// events in flight are waited for.
func (a *app) startDispatcher(w *closers) {
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	w.add(func() { stop(); wg.Wait(); a.notifier.Wait() })
	if a.c.Webhooks == "off" {
		return
	}
	retry := a.c.WebhookRetry
	if retry == 0 {
		retry = 30 * time.Second
	}
	d := &webhook.Dispatcher{Store: a.store, Logger: a.logger, Metrics: a.metrics, Notifier: a.notifier, Backoff: webhook.Exponential(retry),
		AllowLoopback: a.c.WebhookLoopback == "allow"}
	wg.Go(func() { d.Run(ctx) })
}

// serve serves the API until it fails, ctx is done (then it drains) or
// the guard returns an error.
func (a *app) serve(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- a.srv.Serve(a.ln) }()
	a.logger.Info("listening", "addr", a.ln.Addr().String(), "url", a.url, "issuer", a.issuer, "version", buildVersion())
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
		return drain(a.api, a.srv, served, a.c, a.logger)
	case err := <-a.guarding:
		a.logger.Error("the database cannot be used", "err", err)
		a.srv.Close()
		return err
	}
}

// sharedState is what several instances share through Redis (--redis):
// the rate limiter and the invalidations of cached keys. Without --redis
// the limiter is in process and there are no invalidations to share.
type sharedState struct {
	// limiter keeps every rate limit of the server: per key, failed
	// authentications, leak reports (and the dashboard's sign-ins).
	limiter ratelimit.Limiter
	client  *redis.Client
	rl      *ratelimit.Leased
	bus     *redisbus.Bus
	// forget is called with every key invalidated, by any instance: it
	// gives back this instance's leases of the key's limit and credits.
	forget []func(keyID string)
}

// connectRedis sets up the shared state on the Redis of url, if any: the
// limits decided from leases of Redis's budgets, or in Redis on every
// request if exact. An unreachable Redis does not stop the server: it is
// logged, limits are kept in process and cache entries live a second
// until Redis answers.
func connectRedis(ctx context.Context, url string, exact bool, logger *slog.Logger) (*sharedState, error) {
	if url == "" {
		return &sharedState{limiter: ratelimit.NewMemory(ratelimit.MemoryOptions{})}, nil
	}
	client, err := ratelimit.DialRedis(url)
	if err != nil {
		// The URL may hold a password: name the flag, not the value.
		return nil, usageError{"--redis: not a Redis URL (redis://[user:password@]host:port/db or rediss://…): " + pihu.MaskSecrets(err.Error())}
	}
	// go-redis logs every failed dial; the limiter and the bus log once
	// when Redis goes and once when it is back, so its lines are debug.
	redis.SetLogger(redisLogger{logger})
	s := &sharedState{
		client: client,
		rl:     ratelimit.NewLeased(client, ratelimit.LeasedOptions{Exact: exact, Redis: ratelimit.RedisOptions{Logger: logger}}),
		bus:    redisbus.New(client, redisbus.Options{Logger: logger}),
	}
	s.limiter = s.rl
	s.forget = []func(string){s.rl.Forget}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		logger.Error("Redis does not answer; starting anyway, with rate limits in this process until it does", "redis_addr", client.Options().Addr, "err", err)
	} else {
		mode := "leased"
		if exact {
			mode = "exact"
		}
		logger.Info("rate limits and key revocations are shared through Redis", "redis_addr", client.Options().Addr, "limits", mode)
	}
	return s, nil
}

// invalidations is what carries key changes to the other instances: nil
// without Redis. Every key it says changed (revoked, rotated, its limit
// or credits changed), wherever the change was made, also gives back this
// instance's leases of the key's rate limit and credits (s.forget, as it
// is when the subscription starts).
func (s *sharedState) invalidations() auth.Invalidations {
	if s.bus == nil {
		return nil
	}
	return forgetting{Invalidations: s.bus, s: s}
}

// forgetting is Invalidations that also calls s.forget with each key id
// heard, once the cache has dropped it (none of them waits).
type forgetting struct {
	auth.Invalidations
	s *sharedState
}

func (f forgetting) Subscribe(ctx context.Context, invalidated func(keyID string), connected func(up bool)) {
	forget := f.s.forget
	f.Invalidations.Subscribe(ctx, func(id string) {
		invalidated(id)
		// An identity changed: its shared limit's and credits' leases
		// are the identity id's.
		id = strings.TrimPrefix(id, auth.IdentityMessage)
		for _, g := range forget {
			g(id)
		}
	}, connected)
}

// status reports Redis for /readyz: "ok", or "degraded" while either the
// limiter or the subscription to invalidations cannot reach it; nil
// without Redis.
func (s *sharedState) status() func() string {
	if s.client == nil {
		return nil
	}
	return func() string {
		if s.rl.Degraded() || !s.bus.Connected() {
			return "degraded"
		}
		return "ok"
	}
}

func (s *sharedState) close() {
	if s.client != nil {
		s.rl.Close()
		s.client.Close()
	}
}

// redisLogger sends go-redis's own log lines to the server's log at debug
// level.
type redisLogger struct{ logger *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.logger.DebugContext(ctx, "redis: "+pihu.MaskSecrets(fmt.Sprintf(format, v...)))
}

// firstStart creates the account "Default", its owner key and its owner
// user on an empty database, and hands the key and the user's setup link
// (where the owner sets an email and a password for the dashboard, once,
// within 24 hours) to the operator without either landing in a log: on a
// terminal it prints them once, each on a line of its own; otherwise
// (stderr captured by systemd, Docker, a CI job…) it writes each to a new
// file only its owner can read, and logs the files' paths.
type firstStart struct {
	// Dashboard is the address the first start tells the operator to open.
	Dashboard string
	// KeyFile is where the key goes when stderr is not a terminal.
	KeyFile string
	// SetupFile is where the setup link goes when stderr is not a
	// terminal.
	SetupFile string
	// Terminal is whether stderr is a terminal, where a person reads it.
	Terminal bool
	// Stderr is where the key is printed on a terminal.
	Stderr io.Writer
	// Logger logs the key file's path, never the key.
	Logger *slog.Logger
}

// run creates the account if the database holds none. Of several servers
// starting at once on an empty database exactly one creates it
// (CreateFirstAccount checks and creates in one transaction); the others
// print and write nothing.
func (f *firstStart) run(ctx context.Context, store pihu.Store) error {
	n, err := store.CountAccounts(ctx)
	if err != nil || n > 0 {
		return err
	}
	now := time.Now()
	a, k, secret, ev, err := newAccount("Default", now)
	if err != nil {
		return err
	}
	owner, link, token := newSetupLink(a, now)
	setupURL := strings.TrimSuffix(f.Dashboard, "/") + web.SetupPath(token)
	if f.Terminal {
		created, err := store.CreateFirstAccount(ctx, a, k, ev)
		if err != nil || !created {
			return err
		}
		if err := createOwner(ctx, store, owner, link); err != nil {
			return err
		}
		fmt.Fprintf(f.Stderr, "\nCreated the account %q (%s) and its owner API key, shown only this once:\n\n%s\n\nKeep it secret. Dashboard: %s\n", a.Name, a.ID, secret, f.Dashboard)
		fmt.Fprintf(f.Stderr, "\nSet the dashboard owner's email and password at this link, which works once, for 24 hours:\n\n%s\n\n", setupURL)
		return nil
	}

	// The key and the link are on disk before the account is committed,
	// so that they cannot be lost between the two; they are removed if
	// this server did not create the account.
	tmp, err := writeKeyFile(f.KeyFile, secret)
	if err != nil {
		return fmt.Errorf("writing the owner API key beside the database: %w", err)
	}
	linkTmp, err := writeKeyFile(f.SetupFile, setupURL)
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing the setup link beside the database: %w", err)
	}
	created, err := store.CreateFirstAccount(ctx, a, k, ev)
	if err != nil || !created {
		os.Remove(tmp)
		os.Remove(linkTmp)
		return err
	}
	path := placeFile(tmp, f.KeyFile)
	if err := createOwner(ctx, store, owner, link); err != nil {
		os.Remove(linkTmp)
		return err
	}
	linkPath := placeFile(linkTmp, f.SetupFile)
	f.Logger.Warn(fmt.Sprintf("created the account %q; its owner API key is in owner_key_file and the dashboard's setup link in setup_link_file, readable only by this user: read them, keep them secret, then delete the files", a.Name),
		"account", a.ID, "owner_key_file", path, "setup_link_file", linkPath, "dashboard", f.Dashboard)
	return nil
}

// placeFile gives the file tmp its final name, path, if that name is free,
// and returns the file's absolute name. A hard link gives the name only if
// it is free: a file already there (a stale key, or anything an attacker
// put there) is never replaced nor written through; the file then keeps
// its temporary name.
func placeFile(tmp, path string) string {
	name := tmp
	if os.Link(tmp, path) == nil {
		os.Remove(tmp)
		name = path
	}
	// The log names the file wherever the server was started from.
	if abs, err := filepath.Abs(name); err == nil {
		name = abs
	}
	return name
}

// newSetupLink builds the owner user of the first start's account a, with
// no email nor password yet, and its setup link, valid for
// web.LinkLifetime; it returns the link's token, which is not stored.
func newSetupLink(a *pihu.Account, now time.Time) (*pihu.User, *pihu.Link, string) {
	now = pihu.Timestamp(now)
	u := &pihu.User{ID: pihu.NewID(pihu.PrefixUser), AccountID: a.ID, Role: pihu.RoleOwner, Created: now}
	token, digest := web.NewLinkToken(u)
	return u, &pihu.Link{Digest: digest, UserID: u.ID, AccountID: a.ID, Purpose: pihu.LinkSetup, Created: now, Expires: now.Add(web.LinkLifetime)}, token
}

// createOwner stores the first start's owner user and its setup link, an
// event by the operator recording it.
func createOwner(ctx context.Context, store pihu.Store, u *pihu.User, link *pihu.Link) error {
	ev := pihu.NewUserEvent(pihu.ActionUserInvited, pihu.ActorOperator, "", u, u.Created)
	if err := store.CreateUser(ctx, u, link, ev); err != nil {
		return fmt.Errorf("creating the dashboard's owner user: %w", err)
	}
	return nil
}

// writeKeyFile writes secret to a new file beside path, created with
// O_EXCL and mode 0600, synced to disk, and returns its name.
func writeKeyFile(path, secret string) (string, error) {
	if path == "" {
		// An empty name would put a credential in the working folder
		// under a name nobody looks for (".-123…").
		return "", errors.New("no file name for a credential")
	}
	file, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+"-*")
	if err != nil {
		return "", err
	}
	name := file.Name()
	_, err = file.WriteString(secret + "\n")
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// ownerKeyFile is the file the first start writes the owner key to when
// stderr is not a terminal: beside the SQLite database, as pihu.db.owner-key
// beside pihu.db; for PostgreSQL, pihu.owner-key in the working directory.
func ownerKeyFile(databaseURL string) string {
	if path, ok := sqlite.ParseURL(databaseURL); ok {
		return path + ".owner-key"
	}
	return "pihu.owner-key"
}

// setupLinkFile is the file the first start writes the dashboard's setup
// link to when stderr is not a terminal: pihu.db.setup-link beside
// pihu.db.
func setupLinkFile(databaseURL string) string {
	if path, ok := sqlite.ParseURL(databaseURL); ok {
		return path + ".setup-link"
	}
	return "pihu.setup-link"
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// limits are the rate limits of the configuration and the proxies that
// decide the client address they count by, parsed.
type limits struct {
	key, failedAuth ratelimit.Limit
	proxies         []netip.Prefix
}

// rateLimits parses and checks the rate-limit and proxy settings; a bad
// one is a usage error.
func (c *Config) rateLimits() (limits, error) {
	var l limits
	var err error
	if l.key, err = ratelimit.ParseLimit(c.RateLimit, "rate-limit"); err != nil {
		return l, usageError{"--rate-limit: " + pihu.ErrorMessage(err)}
	}
	if l.failedAuth, err = ratelimit.ParseLimit(c.FailedAuthLimit, "failed-auth-limit"); err != nil {
		return l, usageError{"--failed-auth-limit: " + pihu.ErrorMessage(err)}
	}
	if !validHeaderName(c.TrustedProxyHeader) {
		return l, usageError{fmt.Sprintf("--trusted-proxy-header %q: give a header name such as X-Forwarded-For, or nothing", c.TrustedProxyHeader)}
	}
	if l.proxies, err = pihuhttp.ParseTrustedProxies(c.TrustedProxies); err != nil {
		return l, usageError{"--trusted-proxies: " + err.Error()}
	}
	// A header believed from anyone lets every client forge its address
	// past allowed_ips and the per-address limits; one believed from no
	// one does nothing. Both are mistakes worth stopping for.
	switch {
	case c.TrustedProxyHeader != "" && l.proxies == nil:
		return l, usageError{"--trusted-proxy-header needs --trusted-proxies: the addresses of the proxies allowed to set it (such as 10.0.0.0/8); from any other client the header could be forged"}
	case c.TrustedProxyHeader == "" && l.proxies != nil:
		return l, usageError{"--trusted-proxies needs --trusted-proxy-header: the header those proxies write the client address in (such as X-Forwarded-For)"}
	}
	return l, nil
}

// validHeaderName reports whether s is empty or an HTTP header name (a
// token of RFC 9110).
func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// checkIssuer checks --issuer: empty, or an absolute http or https URL
// with a host and no query or fragment (RFC 8414 §2), since verifiers
// compare it exactly and build the discovery URLs from it.
func checkIssuer(issuer string) error {
	if issuer == "" {
		return nil
	}
	u, err := neturl.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return usageError{fmt.Sprintf("--issuer %q: give the server's public URL, such as https://auth.example.com (http or https, no query or fragment)", issuer)}
	}
	return nil
}

// servePprof serves net/http/pprof on addr, for profiling the server in
// place (go tool pprof http://ADDR/debug/pprof/profile), until the
// function it returns is called. The profiles show the server's internals:
// keep addr private, such as on 127.0.0.1.
func servePprof(addr string, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	logger.Warn("serving pprof: keep this address private", "pprof_addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}

// githubKeys are the keys of GitHub's secret scanning reports as c names
// them: the file if given, else the URL; nil (the endpoint off) if
// neither. Nothing is read yet.
func (c *Config) githubKeys() *pihuhttp.GitHubKeys {
	o := pihuhttp.GitHubKeysOptions{URL: c.GitHubKeysURL}
	if c.GitHubKeysFile != "" {
		o = pihuhttp.GitHubKeysOptions{File: c.GitHubKeysFile}
	}
	if o.URL == "" && o.File == "" {
		return nil
	}
	g, _ := pihuhttp.NewGitHubKeys(o) // one of URL and file: no error
	return g
}
