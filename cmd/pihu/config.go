package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/sqlite"
)

// Config is the configuration of every command. Each field is a flag with
// an environment variable; the flag wins.
type Config struct {
	// Addr is the address serve listens on: --addr, PIHU_ADDR,
	// default 127.0.0.1:8080.
	Addr string
	// Database selects the store: "sqlite:PATH" (embedded, the default
	// sqlite:pihu.db) or "postgres://…". --database, PIHU_DATABASE_URL.
	Database string
	// Redis, if set, shares rate limits and revocations between
	// instances: --redis, PIHU_REDIS_URL. Empty keeps them in process.
	Redis string
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
	// Issuer is the "iss" of the access tokens serve mints, and the base
	// of the URLs its discovery document gives: the server's public URL,
	// as clients and verifiers reach it (https://auth.example.com).
	// --issuer, PIHU_ISSUER, default http:// and the address serve
	// listens on.
	Issuer string
	// LogFormat is "text" or "json": --log-format, PIHU_LOG_FORMAT,
	// default text.
	LogFormat string
	// AccessLog is the line logged for each request: "off", "text" or
	// "json"; empty is as LogFormat. --access-log, PIHU_ACCESS_LOG.
	AccessLog string
	// Pprof, if set, is an address serve serves net/http/pprof on, for
	// profiling in place: --pprof, PIHU_PPROF, default empty (off).
	Pprof string
	// KeyCacheSize is how many verified keys serve keeps in memory,
	// about 200 bytes each; 0 reads every key from the database:
	// --key-cache-size, PIHU_KEY_CACHE_SIZE, default
	// auth.DefaultCacheSize (1,000,000).
	KeyCacheSize int
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
	fs.StringVar(&c.Database, "database", env("PIHU_DATABASE_URL", "sqlite:pihu.db"), "database URL: sqlite:PATH or postgres://… (PIHU_DATABASE_URL)")
}

// openStore opens the store the database URL names and applies its
// migrations.
func openStore(ctx context.Context, url string) (pihu.Store, error) {
	if path, ok := sqlite.ParseURL(url); ok {
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", url, err)
		}
		return db, nil
	}
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		return nil, usageError{"PostgreSQL is not supported by this build yet; use sqlite:PATH"}
	}
	return nil, usageError{fmt.Sprintf("--database %q: use sqlite:PATH or postgres://…", url)}
}
