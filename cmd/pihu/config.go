package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/postgres"
	"github.com/pihu-ai/pihu/sqlite"
)

// Config is the configuration of every command. Each field is a flag with
// an environment variable; the flag wins.
type Config struct {
	// Addr is the address serve listens on: --addr, PIHU_ADDR,
	// default 127.0.0.1:8080.
	Addr string
	// Database selects the store: "sqlite:PATH" (embedded, the default
	// sqlite:pihu.db, a path relative to the current folder) or
	// "postgres://…" (several instances share it; a search_path=SCHEMA
	// parameter keeps the tables in that schema). --database,
	// PIHU_DATABASE_URL, or PIHU_DATABASE (the name the other flags'
	// variables would give it); if both are set they must agree.
	Database string
	// Redis, if set, shares rate limits and revocations between
	// instances: --redis, PIHU_REDIS_URL. Empty keeps them in process.
	Redis string
	// ExactLimits, with Redis, decides every rate limit in Redis on every
	// request, as one shared limiter would, instead of from the leases
	// each instance takes of it (see docs/rate-limits.md): --exact-limits,
	// PIHU_EXACT_LIMITS, default false.
	ExactLimits bool
	// ExactCredits, with Redis, spends every request's credits in the
	// database, instead of from the leases each instance takes of a
	// key's balance (see docs/keys.md): --exact-credits,
	// PIHU_EXACT_CREDITS, default false. Without Redis, credits are
	// always spent in the database.
	ExactCredits bool
	// CreditLeaseTTL is how long a lease of credits lives in the database
	// unless its instance renews it (every third of it): an instance that
	// dies without stopping has what its leases hold given back, less at
	// most a tenth of each, once they expire (see docs/keys.md):
	// --credit-lease-ttl, PIHU_CREDIT_LEASE_TTL, default 30s, at least 1s.
	CreditLeaseTTL time.Duration
	// RequestLogRetention is how long the request log keeps an entry, 0
	// for no log: --request-log-retention, PIHU_REQUEST_LOG_RETENTION,
	// default 168h. RequestLogMax is the most entries it keeps per
	// account: --request-log-max, PIHU_REQUEST_LOG_MAX, default 10000.
	// RequestLogRate and RequestLogBurst are each account's budget of
	// entries per second and instance, and at once:
	// --request-log-rate, --request-log-burst, PIHU_REQUEST_LOG_RATE,
	// PIHU_REQUEST_LOG_BURST, default 10 and 100.
	RequestLogRetention time.Duration
	RequestLogMax       int
	RequestLogRate      int
	RequestLogBurst     int
	// RateLimit is the default per-key limit, "N/s", "N/m" or "N/h":
	// --rate-limit, PIHU_RATE_LIMIT, default 1000/m.
	RateLimit string
	// FailedAuthLimit is how many failed authentications a client address
	// may make ("N/s", "N/m" or "N/h") before its requests without a
	// valid key get 429: --failed-auth-limit, PIHU_FAILED_AUTH_LIMIT,
	// default 30/m.
	FailedAuthLimit string
	// TrustedProxyHeader, if set, is the header the client address is
	// read from (e.g. X-Forwarded-For) instead of the TCP peer, on
	// requests from TrustedProxies only: --trusted-proxy-header,
	// PIHU_TRUSTED_PROXY_HEADER, default empty.
	TrustedProxyHeader string
	// TrustedProxies is a comma-separated list of the addresses and CIDR
	// ranges of the proxies in front of the server, whose
	// TrustedProxyHeader is believed; it is needed with the header, and
	// only with it: --trusted-proxies, PIHU_TRUSTED_PROXIES, default
	// empty.
	TrustedProxies string
	// CORSOrigins is a comma-separated list of the origins whose web pages
	// may call the API from a browser (CORS), such as
	// https://app.example.com: --cors-origins, PIHU_CORS_ORIGINS, default
	// empty (none).
	CORSOrigins string
	// GatewayRoutes, if set, is the file of the operator's route table
	// for the gateways (see package gateway): what each route behind a
	// gateway requires of the key of a request the forward-auth endpoint
	// or Check is asked about; a request that matches none is refused.
	// Checked at start-up. --gateway-routes, PIHU_GATEWAY_ROUTES, default
	// empty (the gateways' configs say what each location requires).
	GatewayRoutes string
	// ExtAuthzAddr, if set, is the address serve answers Envoy's external
	// authorization Check on, over gRPC (plain HTTP/2, for a private
	// network): --ext-authz-addr, PIHU_EXT_AUTHZ_ADDR, default empty
	// (off).
	ExtAuthzAddr string
	// Issuer is the "iss" of the access tokens serve mints, and the base
	// of the URLs its discovery document gives: the server's public URL,
	// as clients and verifiers reach it (https://auth.example.com).
	// --issuer, PIHU_ISSUER, default http:// and the address serve
	// listens on.
	Issuer string
	// LogFormat is "text" or "json": --log-format, PIHU_LOG_FORMAT,
	// default text.
	LogFormat string
	// MetricsAddr, if set, is where /metrics is served, on a listener of
	// its own (plain HTTP, for a scraper on a private network), instead
	// of on Addr: --metrics-addr, PIHU_METRICS_ADDR, default empty.
	MetricsAddr string
	// TLSCert and TLSKey are the PEM files of serve's certificate and
	// private key; with both, serve answers HTTPS only (TLS 1.2 or later)
	// and reloads them on SIGHUP: --tls-cert, PIHU_TLS_CERT, --tls-key,
	// PIHU_TLS_KEY, default empty (plain HTTP).
	TLSCert, TLSKey string
	// DrainDelay is how long serve, once told to stop, goes on taking
	// new requests while /readyz answers 503, so that load balancers stop
	// sending it traffic first: --drain-delay, PIHU_DRAIN_DELAY, default
	// 0s.
	DrainDelay time.Duration
	// DrainTimeout bounds how long serve waits for the requests in flight
	// to finish once it stops taking new ones; connections still open
	// then are closed: --drain-timeout, PIHU_DRAIN_TIMEOUT, default 30s
	// (also when zero).
	DrainTimeout time.Duration
	// AccessLog is the line logged for each request: "off", "text" or
	// "json"; empty is as LogFormat. --access-log, PIHU_ACCESS_LOG.
	AccessLog string
	// Pprof, if set, is an address serve serves net/http/pprof on, for
	// profiling in place: --pprof, PIHU_PPROF, default empty (off).
	Pprof string
	// Webhooks is "on" (the default) to send the webhook outbox from this
	// instance, or "off" to leave it to others (events are still
	// recorded): --webhooks, PIHU_WEBHOOKS.
	Webhooks string
	// WebhookRetry is the wait before a failed delivery's first retry,
	// doubling after each further failure up to 6 hours:
	// --webhook-retry, PIHU_WEBHOOK_RETRY, default 30s.
	WebhookRetry time.Duration
	// WebhookLoopback is "deny" (the default) or "allow": whether webhook
	// endpoints may name, and deliveries connect to, this machine's
	// loopback (for development, with the receiver beside pihu):
	// --webhook-loopback, PIHU_WEBHOOK_LOOPBACK.
	WebhookLoopback string
	// DashboardOrigin is the dashboard's origin as browsers see it
	// ("https://pihu.example.com"), which passkeys are bound to:
	// --dashboard-origin, PIHU_DASHBOARD_ORIGIN, default each request's
	// own (https over TLS, and its Host).
	DashboardOrigin string
	// SSOProviders is a JSON file naming the OpenID Connect providers
	// people may sign in to the dashboard through (see
	// docs/dashboard.md): --sso-providers, PIHU_SSO_PROVIDERS, default
	// none. It is read and checked at start-up.
	SSOProviders string
	// GitHubKeysURL is where GitHub's secret scanning public keys are
	// read from, to check the reports POST /v1/secret-scanning/github
	// takes; loaded on the first report, not at start-up:
	// --github-keys-url, PIHU_GITHUB_KEYS_URL, default GitHub's
	// (pihuhttp.GitHubKeysURL). Empty, with no GitHubKeysFile, turns the
	// endpoint off (404).
	GitHubKeysURL string
	// GitHubKeysFile, if set, is a copy of that key document on disk,
	// used instead of GitHubKeysURL (for servers without internet
	// access): --github-keys-file, PIHU_GITHUB_KEYS_FILE, default empty.
	GitHubKeysFile string
	// KeyCacheSize is how many verified keys serve keeps in memory,
	// about 200 bytes each; 0 reads every key from the database:
	// --key-cache-size, PIHU_KEY_CACHE_SIZE, default
	// auth.DefaultCacheSize (1,000,000).
	KeyCacheSize int
	// KeyCacheTTL is how long a verified key is trusted from the cache
	// before it is read again: --key-cache-ttl, PIHU_KEY_CACHE_TTL,
	// default 30s.
	KeyCacheTTL time.Duration
	// StaleIfError is how long past KeyCacheTTL a cached key keeps
	// working while the database is unreachable; 0 turns it off:
	// --stale-if-error, PIHU_STALE_IF_ERROR, default 15m.
	StaleIfError time.Duration
	// DatabaseTimeout is the deadline of each call to PostgreSQL (and,
	// a little under it, statement_timeout and lock_timeout, unless the
	// URL sets them): --database-timeout, PIHU_DATABASE_TIMEOUT, default
	// 800ms.
	DatabaseTimeout time.Duration
	// RequireDatabaseAtStart makes serve exit when its database cannot
	// be reached at start, instead of starting without it (not ready)
	// and connecting in the background: --require-database-at-start,
	// PIHU_REQUIRE_DATABASE_AT_START, default false.
	RequireDatabaseAtStart bool
	// APIURL is the API the keys commands call: --api-url,
	// PIHU_API_URL, default http://127.0.0.1:8080.
	APIURL string
	// APIKey is the key the keys commands send: PIHU_API_KEY only, with
	// no flag, so that it stays out of shell history and process lists.
	APIKey string
}

// env returns the environment variable name if set, else def.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// durationFlag defines a duration flag whose default is the environment
// variable envName if set, else def. A bad value in the environment is a
// usage error.
func durationFlag(fs *flag.FlagSet, p *time.Duration, flagName, envName string, def time.Duration, usage string) error {
	if v, ok := os.LookupEnv(envName); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return usageError{fmt.Sprintf("%s=%q: give a duration such as 5s or 1m", envName, v)}
		}
		def = d
	}
	fs.DurationVar(p, flagName, def, usage)
	return nil
}

// boolFlag defines a boolean flag whose default is the environment
// variable envName if set (true, false, 1 or 0, as strconv.ParseBool
// reads them), else false. A bad value in the environment is a usage
// error.
func boolFlag(fs *flag.FlagSet, p *bool, flagName, envName, usage string) error {
	def := false
	if v, ok := os.LookupEnv(envName); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return usageError{fmt.Sprintf("%s=%q: give true or false", envName, v)}
		}
		def = b
	}
	fs.BoolVar(p, flagName, def, usage)
	return nil
}

// newFlagSet returns a flag set for one command that reports errors as
// usage errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("pihu "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args, turning a bad flag into a usage error, and refuses
// positional arguments the command does not take.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

func (c *Config) databaseFlag(fs *flag.FlagSet) {
	url, alias := os.Getenv("PIHU_DATABASE_URL"), os.Getenv("PIHU_DATABASE")
	def := cmp.Or(url, alias, "sqlite:pihu.db")
	if url != "" && alias != "" && url != alias {
		// Neither is taken over the other: the command refuses to run
		// (see openStore) unless --database settles it.
		def = ""
	}
	fs.StringVar(&c.Database, "database", def, "database URL: sqlite:PATH or postgres://…; a relative PATH is from the current folder (PIHU_DATABASE_URL or PIHU_DATABASE)")
}

// newDatabaseFile returns the absolute path of the SQLite file url names
// if it does not exist yet (opening it will create it), else "".
func newDatabaseFile(url string) string {
	path, ok := sqlite.ParseURL(url)
	if !ok {
		return ""
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// warnNewDatabase tells the operator that a command created a new,
// empty database at path (from newDatabaseFile, "" for none): run from
// another folder, a relative --database names another file, and the
// accounts and keys of the usual one seem gone.
func warnNewDatabase(w io.Writer, path string) {
	if path == "" {
		return
	}
	fmt.Fprintf(w, "pihu: created a new, empty database at %s. If you meant an existing one, give its path with --database sqlite:/path/to/pihu.db or PIHU_DATABASE_URL (a relative path is from the current folder).\n", path)
}

// openStore opens the store the database URL names and applies its
// migrations.
func openStore(ctx context.Context, url string) (pihu.Store, error) {
	return openStoreWith(ctx, url, postgres.Options{})
}

// openStoreWith is openStore with the options of a PostgreSQL store.
func openStoreWith(ctx context.Context, url string, opts postgres.Options) (pihu.Store, error) {
	if url == "" {
		if os.Getenv("PIHU_DATABASE_URL") != "" && os.Getenv("PIHU_DATABASE") != "" {
			return nil, usageError{"no database: PIHU_DATABASE_URL and PIHU_DATABASE are both set, to different databases; unset one, or give --database"}
		}
		return nil, usageError{"no database: --database is empty; use sqlite:PATH or postgres://…"}
	}
	if path, ok := sqlite.ParseURL(url); ok {
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", url, err)
		}
		return db, nil
	}
	if postgres.IsURL(url) {
		db, err := postgres.OpenWith(ctx, url, opts)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", redactURL(url), err)
		}
		return db, nil
	}
	return nil, usageError{fmt.Sprintf("--database %q: use sqlite:PATH or postgres://…", redactURL(url))}
}

// redactURL is a database URL fit for a message or a log: its password, if
// any, replaced by "xxxxx".
func redactURL(s string) string {
	u, err := neturl.Parse(s)
	if err != nil || u.User == nil {
		if strings.Contains(s, "@") {
			return "the database URL" // unparsable, and may hold a password
		}
		return s
	}
	return u.Redacted()
}
