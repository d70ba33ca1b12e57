package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/ratelimit"
	"github.com/pihu-ai/pihu/sqlite"
	"golang.org/x/term"
)

// flushInterval is how often key uses are written to the database: the
// API promises `last_used` within 5 s of a use.
const flushInterval = time.Second

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	var c Config
	fs := newFlagSet("serve", stderr)
	fs.StringVar(&c.Addr, "addr", env("PIHU_ADDR", "127.0.0.1:8080"), "address to listen on (PIHU_ADDR)")
	c.databaseFlag(fs)
	fs.StringVar(&c.Redis, "redis", env("PIHU_REDIS_URL", ""), "Redis URL for shared rate limits and revocations; empty keeps them in process (PIHU_REDIS_URL)")
	fs.StringVar(&c.RateLimit, "rate-limit", env("PIHU_RATE_LIMIT", "1000/m"), "default per-key rate limit: N/s, N/m or N/h (PIHU_RATE_LIMIT)")
	fs.StringVar(&c.FailedAuthLimit, "failed-auth-limit", env("PIHU_FAILED_AUTH_LIMIT", "30/m"), "failed authentications allowed per client address: N/s, N/m or N/h (PIHU_FAILED_AUTH_LIMIT)")
	fs.StringVar(&c.TrustedProxyHeader, "trusted-proxy-header", env("PIHU_TRUSTED_PROXY_HEADER", ""), "header holding the client address, set by your proxy, e.g. X-Forwarded-For; believed only from --trusted-proxies; empty uses the TCP peer (PIHU_TRUSTED_PROXY_HEADER)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", env("PIHU_TRUSTED_PROXIES", ""), "comma-separated addresses and CIDR ranges of your proxies, e.g. 10.0.0.0/8; only requests from them may set --trusted-proxy-header (PIHU_TRUSTED_PROXIES)")
	fs.StringVar(&c.LogFormat, "log-format", env("PIHU_LOG_FORMAT", "text"), "log format: text or json (PIHU_LOG_FORMAT)")
	if err := parse(fs, args); err != nil {
		return err
	}
	logger, err := newLogger(c.LogFormat, stderr)
	if err != nil {
		return err
	}
	return Serve(ctx, c, logger, stderr)
}

func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, usageError{fmt.Sprintf("--log-format %q: use text or json", format)}
}

// Serve runs the API until ctx is done, then stops taking requests, lets
// those in flight finish, and writes the key uses not yet written.
func Serve(ctx context.Context, c Config, logger *slog.Logger, stderr io.Writer) error {
	limits, err := c.rateLimits()
	if err != nil {
		return err
	}
	store, err := openStore(ctx, c.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	if c.Redis != "" {
		// Accepted so that configurations can name it already; say
		// plainly that this build keeps limits and revocations local.
		logger.Warn("--redis is not used by this build: rate limits and revocations stay in this process")
	}

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String() + "/"
	first := firstStart{
		Dashboard: url, KeyFile: ownerKeyFile(c.Database),
		Terminal: isTerminal(stderr), Stderr: stderr, Logger: logger,
	}
	if err := first.run(ctx, store); err != nil {
		ln.Close()
		return err
	}

	authn := auth.New(store, auth.Options{Logger: logger})
	flushCtx, stopFlush := context.WithCancel(context.Background())
	var flushing sync.WaitGroup
	flushing.Go(func() { authn.Run(flushCtx, flushInterval) })

	srv := &http.Server{
		Handler: pihuhttp.New(pihuhttp.Options{
			Store: store, Auth: authn, Logger: logger,
			DefaultLimit: limits.key, FailedAuthLimit: limits.failedAuth,
			TrustedProxyHeader: c.TrustedProxyHeader, TrustedProxies: limits.proxies,
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String(), "url", url, "version", buildVersion())

	select {
	case err = <-served:
	case <-ctx.Done():
		logger.Info("shutting down: draining requests")
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	}
	stopFlush()
	flushing.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	logger.Info("stopped")
	return err
}

// firstStart creates the account "Default" and its owner key on an empty
// database, and hands the key to the operator without it landing in a log:
// on a terminal it prints the key once, on a line of its own; otherwise
// (stderr captured by systemd, Docker, a CI job…) it writes the key to a
// new file only its owner can read, and logs the file's path.
type firstStart struct {
	// Dashboard is the address the first start tells the operator to open.
	Dashboard string
	// KeyFile is where the key goes when stderr is not a terminal.
	KeyFile string
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
	a, k, secret, ev, err := newAccount("Default", time.Now())
	if err != nil {
		return err
	}
	if f.Terminal {
		created, err := store.CreateFirstAccount(ctx, a, k, ev)
		if err != nil || !created {
			return err
		}
		fmt.Fprintf(f.Stderr, "\nCreated the account %q (%s) and its owner API key, shown only this once:\n\n%s\n\nKeep it secret. Dashboard: %s\n\n", a.Name, a.ID, secret, f.Dashboard)
		return nil
	}

	// The key is on disk before the account is committed, so that it
	// cannot be lost between the two; it is removed if this server did
	// not create the account.
	tmp, err := writeKeyFile(f.KeyFile, secret)
	if err != nil {
		return fmt.Errorf("writing the owner API key beside the database: %w", err)
	}
	created, err := store.CreateFirstAccount(ctx, a, k, ev)
	if err != nil || !created {
		os.Remove(tmp)
		return err
	}
	path := tmp
	// A hard link gives the file its final name only if that name is
	// free: a file already there (a stale key, or anything an attacker
	// put there) is never replaced nor written through.
	if os.Link(tmp, f.KeyFile) == nil {
		os.Remove(tmp)
		path = f.KeyFile
	}
	// The log names the file wherever the server was started from.
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	f.Logger.Warn(fmt.Sprintf("created the account %q; its owner API key is in owner_key_file, readable only by this user: read it, keep it secret, then delete the file", a.Name),
		"account", a.ID, "owner_key_file", path, "dashboard", f.Dashboard)
	return nil
}

// writeKeyFile writes secret to a new file beside path, created with
// O_EXCL and mode 0600, synced to disk, and returns its name.
func writeKeyFile(path, secret string) (string, error) {
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
