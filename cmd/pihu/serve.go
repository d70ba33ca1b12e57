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
	fs.StringVar(&c.Webhooks, "webhooks", env("PIHU_WEBHOOKS", "on"), "on: send the webhook outbox from this instance; off: record events only, for other instances to send (PIHU_WEBHOOKS)")
	if err := durationFlag(fs, &c.WebhookRetry, "webhook-retry", "PIHU_WEBHOOK_RETRY", 30*time.Second, "the wait before a failed webhook delivery's first retry, doubling up to 6h (PIHU_WEBHOOK_RETRY)"); err != nil {
		return err
	}
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
	limits, err := c.rateLimits()
	if err != nil {
		return err
	}
	if err := checkIssuer(c.Issuer); err != nil {
		return err
	}
	origins, err := pihuhttp.ParseCORSOrigins(c.CORSOrigins)
	if err != nil {
		return usageError{"--cors-origins: " + err.Error()}
	}
	var routes *gateway.Routes
	if c.GatewayRoutes != "" {
		if routes, err = gateway.LoadRoutes(c.GatewayRoutes); err != nil {
			return usageError{"--gateway-routes: " + err.Error()}
		}
	}
	shared, err := connectRedis(ctx, c.Redis, c.ExactLimits, logger)
	if err != nil {
		return err
	}
	defer shared.close()
	fresh := newDatabaseFile(c.Database)
	if err := c.checkTLS(); err != nil {
		return err
	}
	var cert *certificate
	if c.TLSCert != "" {
		if cert, err = loadCertificate(c.TLSCert, c.TLSKey); err != nil {
			return err
		}
	}
	if c.Database == "" {
		_, err := openStore(ctx, c.Database) // the usage error that says why
		return err
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String() + "/"
	if cert != nil {
		url = "https://" + ln.Addr().String() + "/"
	}
	first := firstStart{
		Dashboard: url, KeyFile: ownerKeyFile(c.Database), SetupFile: setupLinkFile(c.Database),
		Terminal: isTerminal(stderr), Stderr: stderr, Logger: logger,
	}
	// Every call to the store goes through the guard: its breaker, its
	// check of the primary, and the store itself when it was not there at
	// start. The first start's account is made when the store is first
	// up.
	g := guard.New(guard.Options{Logger: logger, Fleet: shared.fleet(c.Database),
		Prepare: func(ctx context.Context, st pihu.Store) error {
			warnNewDatabase(stderr, fresh)
			return first.run(ctx, st)
		}})
	defer g.Close()
	if err := connectStore(ctx, c, g); err != nil {
		ln.Close()
		return err
	}
	m := metrics.New()
	m.StoreState(storeStates(), func() string { st, _ := g.State(); return st.String() }, g.FailedFast)
	store := m.Store(g)
	// With Redis, several instances spend credits from leases, renewed
	// while it runs and given back here once the requests have drained,
	// before the store closes.
	var credits auth.CreditSpender = store
	var leases *auth.CreditLeases
	if shared.bus != nil && !c.ExactCredits {
		leases = auth.NewCreditLeases(store, auth.CreditLeaseOptions{Logger: logger, TTL: c.CreditLeaseTTL})
		defer leases.Close()
		shared.forget = append(shared.forget, leases.Forget)
		credits = leases
	}

	issuer := c.Issuer
	if issuer == "" {
		issuer = strings.TrimSuffix(url, "/")
	}
	tokens := auth.NewTokens(store, auth.TokenOptions{Issuer: issuer, Logger: logger})
	cacheSize := c.KeyCacheSize
	if cacheSize == 0 {
		cacheSize = -1 // no cache
	}
	authn := auth.New(store, auth.Options{Logger: logger, Tokens: tokens, MaxEntries: cacheSize,
		TTL: c.KeyCacheTTL, StaleIfError: c.StaleIfError,
		Invalidations: shared.invalidations(), Observer: m})
	m.CacheSize(authn.CacheLen)
	// One limiter for the API and the dashboard (in Redis with --redis):
	// an address guessing keys and passwords spends one budget of each
	// kind, wherever it guesses.
	limiter := shared.limiter
	dashboard, err := web.New(web.Options{
		Store: store, Usage: authn, Auth: authn, Limiter: limiter, ClientIP: pihuhttp.ClientIP, Logger: logger,
		WebhookLoopback: c.WebhookLoopback == "allow",
	})
	if err != nil {
		ln.Close()
		return err
	}
	if c.Pprof != "" {
		stopPprof, err := servePprof(c.Pprof, logger)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopPprof()
	}
	flushCtx, stopFlush := context.WithCancel(context.Background())
	var flushing sync.WaitGroup
	flushing.Go(func() { authn.Run(flushCtx, flushInterval) })
	flushing.Go(func() { authn.Listen(flushCtx) })
	// Every instance, leasing or not, gives back what the expired leases
	// of credits hold (those of instances that died).
	flushing.Go(func() { auth.SweepCreditLeases(flushCtx, store, c.CreditLeaseTTL/3, logger) })
	if leases != nil {
		flushing.Go(func() { leases.Run(flushCtx) })
	}
	// The guard connects, probes and checks the store until the end; an
	// error it returns (a migration that fails once the database is back)
	// stops the server.
	guarding := make(chan error, 1)
	flushing.Go(func() { guarding <- g.Run(flushCtx, c.storeOpener(g)) })
	if os.Getenv("GOGC") == "" {
		// The live heap is a few megabytes (the key cache is outside it):
		// without headroom the collector would run every few hundred
		// requests. GOGC, when set, is the operator's choice.
		flushing.Go(func() { gcheadroom.Run(flushCtx, gcHeadroom, time.Second) })
	}
	// Changes are published only while subscribed: give the subscription
	// a moment, so that the first requests' changes reach the others.
	for deadline := time.Now().Add(2 * time.Second); !authn.Subscribed() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}

	notifier := &webhook.Notifier{Store: store, Logger: logger}
	githubKeys := c.githubKeys()

	stopCheck := func() {}
	var metricsHandler http.Handler
	if c.MetricsAddr == "" {
		metricsHandler = m.Handler()
	}
	api := pihuhttp.New(pihuhttp.Options{
		Store: store, Credits: credits, Auth: authn, Logger: logger, AccessLog: slog.New(slog.DiscardHandler), RequestLog: requests, Limiter: limiter, RedisStatus: shared.status(),
		DatabaseState: databaseState(g),
		DefaultLimit:  limits.key, FailedAuthLimit: limits.failedAuth,
		TrustedProxyHeader: c.TrustedProxyHeader, TrustedProxies: limits.proxies,
		WebhookLoopback: c.WebhookLoopback == "allow", CORSOrigins: origins,
		Dashboard: dashboard, Metrics: m, MetricsHandler: metricsHandler, KeyEvents: notifier,
		GitHubKeys: githubKeys, GatewayRoutes: routes,
	})
	srv := &http.Server{
		Handler:           withHSTS(api),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if cert != nil {
		srv.TLSConfig = cert.tlsConfig()
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	metricsSrv, err := serveMetrics(c.MetricsAddr, m, logger)
	if err == nil {
		var accessLog *slog.Logger
		if requests != nil {
			accessLog = logger
		}
		stopCheck, err = serveExtAuthz(c.ExtAuthzAddr, extauthz.Options{
			Admission: api.Admission(), Routes: routes, TrustedProxies: limits.proxies,
			Logger: logger, AccessLog: accessLog, Metrics: m,
		})
		if err != nil && metricsSrv != nil {
			metricsSrv.Close()
		}
	}
	if err != nil {
		ln.Close()
		stopFlush()
		flushing.Wait()
		return err
	}
	// The webhook dispatcher stops after the requests have drained, and
	// records the attempts it has under way before serve returns.
	dispatchCtx, stopDispatch := context.WithCancel(context.Background())
	var dispatching sync.WaitGroup
	if c.Webhooks != "off" {
		retry := c.WebhookRetry
		if retry == 0 {
			retry = 30 * time.Second
		}
		d := &webhook.Dispatcher{Store: store, Logger: logger, Metrics: m, Notifier: notifier, Backoff: webhook.Exponential(retry),
			AllowLoopback: c.WebhookLoopback == "allow"}
		dispatching.Go(func() { d.Run(dispatchCtx) })
	}
	stopReload := reloadOnSIGHUP(cert, logger)
	defer stopReload()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String(), "url", url, "issuer", issuer, "version", buildVersion())

	select {
	case err = <-served:
	case <-ctx.Done():
		err = drain(api, srv, served, c, logger)
	case err = <-guarding:
		logger.Error("the database cannot be used", "err", err)
		srv.Close()
	}
	stopCheck()
	stopDispatch()
	dispatching.Wait()
	notifier.Wait()
	if metricsSrv != nil {
		metricsSrv.Close()
	}
	stopFlush()
	flushing.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	logger.Info("stopped")
	return err
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
