package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
)

// requestLogPruneInterval is how often serve prunes the request log.
const requestLogPruneInterval = time.Minute

// requestLogFlags defines the flags of the request log (see
// docs/operations.md).
func (c *Config) requestLogFlags(fs *flag.FlagSet) error {
	if err := durationFlag(fs, &c.RequestLogRetention, "request-log-retention", "PIHU_REQUEST_LOG_RETENTION", pihu.DefaultRequestLogRetention,
		"how long the request log keeps an entry; 0 turns the log off (PIHU_REQUEST_LOG_RETENTION)"); err != nil {
		return err
	}
	for _, f := range []struct {
		p          *int
		name, env  string
		def        int
		usage, min string
	}{
		{&c.RequestLogMax, "request-log-max", "PIHU_REQUEST_LOG_MAX", pihu.DefaultRequestLogMax, "the most entries the request log keeps per account (PIHU_REQUEST_LOG_MAX)", ""},
		{&c.RequestLogRate, "request-log-rate", "PIHU_REQUEST_LOG_RATE", auth.DefaultRequestLogRate, "the entries an account may add to the request log per second and instance; the requests over it are counted, not logged (PIHU_REQUEST_LOG_RATE)", ""},
		{&c.RequestLogBurst, "request-log-burst", "PIHU_REQUEST_LOG_BURST", auth.DefaultRequestLogBurst, "the entries an account may add to the request log at once, above --request-log-rate (PIHU_REQUEST_LOG_BURST)", ""},
	} {
		def := f.def
		if v, ok := os.LookupEnv(f.env); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return usageError{fmt.Sprintf("%s=%q: give a whole number, 1 or more", f.env, v)}
			}
			def = n
		}
		fs.IntVar(f.p, f.name, def, f.usage)
	}
	return nil
}

// checkRequestLogFlags checks the request log's flags once parsed.
func (c *Config) checkRequestLogFlags() error {
	for _, f := range []struct {
		name string
		n    int
	}{{"request-log-max", c.RequestLogMax}, {"request-log-rate", c.RequestLogRate}, {"request-log-burst", c.RequestLogBurst}} {
		if f.n < 1 {
			return usageError{fmt.Sprintf("--%s %d: give a whole number, 1 or more", f.name, f.n)}
		}
	}
	return nil
}

// requestLogOptions are the Authenticator's options of the request log.
func (c *Config) requestLogOptions(o *auth.Options) {
	o.NoRequestLog = c.RequestLogRetention == 0
	o.RequestLogRate, o.RequestLogBurst = float64(c.RequestLogRate), c.RequestLogBurst
}

// pruneRequestLog deletes, every interval until ctx is done, the request
// log's entries older than retention and each account's beyond max; with
// retention 0 (the log off), every entry.
func pruneRequestLog(ctx context.Context, store pihu.RequestLogStore, retention time.Duration, max int, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := store.PruneRequestLog(ctx, time.Now().Add(-retention), max); err != nil && ctx.Err() == nil && pihu.ErrorCode(err) != pihu.EUnavailable {
			logger.Error("request log: prune", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
