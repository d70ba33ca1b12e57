package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/metrics"
)

// The life of `pihu serve` past its start: the flags of TLS, metrics and
// shutdown, the metrics listener, the certificate reload on SIGHUP, and the
// drain on SIGTERM.
//
// On SIGTERM (or SIGINT) serve drains: /readyz answers 503 at once; for
// DrainDelay it goes on taking requests, so that load balancers see it and
// stop sending any; then it stops taking connections and waits up to
// DrainTimeout for the requests in flight; then it writes the key uses not
// yet written (last_used, usage counts) and exits 0. A second signal while
// it drains exits at once, with status 1, writing nothing more.

// defaultDrainTimeout is --drain-timeout's default, and the bound of a
// Config that sets none.
const defaultDrainTimeout = 30 * time.Second

// operationsFlags defines the flags of TLS, metrics and shutdown.
func (c *Config) operationsFlags(fs *flag.FlagSet) error {
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("PIHU_METRICS_ADDR", ""), "serve /metrics on this address instead of --addr, e.g. 127.0.0.1:9090 (PIHU_METRICS_ADDR)")
	fs.StringVar(&c.TLSCert, "tls-cert", env("PIHU_TLS_CERT", ""), "PEM certificate (chain) file: serve HTTPS, reloaded on SIGHUP; needs --tls-key (PIHU_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", env("PIHU_TLS_KEY", ""), "PEM private key file of --tls-cert (PIHU_TLS_KEY)")
	if err := durationFlag(fs, &c.DrainDelay, "drain-delay", "PIHU_DRAIN_DELAY", 0, "on SIGTERM, keep taking requests this long while /readyz answers 503 (PIHU_DRAIN_DELAY)"); err != nil {
		return err
	}
	return durationFlag(fs, &c.DrainTimeout, "drain-timeout", "PIHU_DRAIN_TIMEOUT", defaultDrainTimeout, "on SIGTERM, wait at most this long for requests in flight (PIHU_DRAIN_TIMEOUT)")
}

// serveMetrics serves m at /metrics on addr, if addr is set, and returns
// its server (nil if addr is empty).
func serveMetrics(addr string, m *metrics.Metrics, logger *slog.Logger) (*http.Server, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go srv.Serve(ln)
	logger.Info("serving metrics", "metrics_addr", ln.Addr().String())
	return srv, nil
}

// reloadOnSIGHUP reloads cert at each SIGHUP until the returned function
// is called. Without a certificate it still takes SIGHUP, which would
// otherwise end the process, and logs that there is nothing to reload.
func reloadOnSIGHUP(cert *certificate, logger *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				reloadCertificate(cert, logger)
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}

// drain stops srv as the package comment says: readiness off, DrainDelay
// of requests still taken, then at most DrainTimeout for those in flight.
// served is srv.Serve's result.
func drain(api *pihuhttp.Server, srv *http.Server, served <-chan error, c Config, logger *slog.Logger) error {
	api.Drain()
	logger.Info("shutting down: /readyz answers 503; draining requests", "drain_delay", c.DrainDelay.String(), "drain_timeout", c.DrainTimeout.String())
	if c.DrainDelay > 0 {
		select {
		case err := <-served:
			return err
		case <-time.After(c.DrainDelay):
		}
	}
	timeout := c.DrainTimeout
	if timeout == 0 {
		timeout = defaultDrainTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("shutting down: requests still in flight after --drain-timeout; closing their connections", "drain_timeout", c.DrainTimeout.String())
		srv.Close()
		return nil
	}
	return err
}

// exitOnSecondSignal exits the process at once, with status 1, on a
// SIGTERM or SIGINT received after ctx is done (the first signal, which
// started the drain): an operator who asks twice does not want to wait.
func exitOnSecondSignal(ctx context.Context, stderr io.Writer) {
	<-ctx.Done()
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	<-again
	fmt.Fprintln(stderr, "pihu: a second signal: exiting at once, without draining")
	os.Exit(1)
}
