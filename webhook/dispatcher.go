// Package webhook sends the events of pihu's webhook outbox: a Dispatcher
// claims due deliveries from the store with a lease, POSTs each, signed
// (Sign), to its endpoint through a client that reaches no private address
// (NewClient), and records every attempt; a Notifier adds the events that
// no store transaction writes (rate limited, usage exceeded, expiring
// soon), each once however many instances notice it.
package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/metrics"
)

// ActorSystem is the actor of the audit events pihu records by itself,
// such as disabling an endpoint that has failed for three days.
const ActorSystem = "system"

// Dispatcher delivers the outbox. Create it with its fields set (Store is
// required) and call Run. Several dispatchers, in one process or many,
// may share a store: a delivery's lease gives it to one at a time.
type Dispatcher struct {
	Store pihu.Store
	// Client sends the deliveries (default NewClient(AllowLoopback)).
	Client *http.Client
	// AllowLoopback lets the default Client deliver to loopback addresses
	// (serve --webhook-loopback allow): for development and tests, where
	// the receiver runs beside pihu. Off, a delivery there is a failed
	// attempt.
	AllowLoopback bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives failures of the store (default slog.Default()).
	Logger *slog.Logger
	// Metrics counts attempts by outcome (nil: none).
	Metrics *metrics.Metrics
	// Backoff is the wait before attempt n+1 after n failed attempts
	// (default Backoff).
	Backoff func(n int) time.Duration
	// GiveUp is how long a delivery is retried, and how long an
	// endpoint may fail before it is disabled (default
	// pihu.WebhookGiveUp).
	GiveUp time.Duration
	// MaxAttempts is the most attempts a delivery gets before it is
	// given up, if GiveUp has not passed first (default
	// pihu.WebhookMaxAttempts).
	MaxAttempts int
	// Interval is how often the outbox is polled (default 1s).
	Interval time.Duration
	// Lease is how long a claim holds a delivery (default 1 minute, more
	// than a whole attempt).
	Lease time.Duration
	// Batch is the most deliveries claimed, and sent at once, per poll
	// (default 16).
	Batch int
	// Notifier, if set, has its expiring-soon check run every
	// ExpiryInterval (default 1 minute).
	Notifier       *Notifier
	ExpiryInterval time.Duration
}

// Backoff is the default retry schedule, Exponential(30 * time.Second):
// over three days it makes about 20 attempts.
func Backoff(n int) time.Duration { return Exponential(30 * time.Second)(n) }

// Exponential is the retry schedule that waits first after the first
// failure, doubling after each further one up to 6 hours, each wait
// jittered by ±20% so that the retries of many failed deliveries spread
// out.
func Exponential(first time.Duration) func(n int) time.Duration {
	return func(n int) time.Duration { return exponential(first, n) }
}

func exponential(first time.Duration, n int) time.Duration {
	d := first
	for i := 1; i < n && d < 6*time.Hour; i++ {
		d *= 2
	}
	d = min(d, 6*time.Hour)
	jitter := time.Duration((rand.Float64()*0.4 - 0.2) * float64(d))
	return d + jitter
}

func (d *Dispatcher) defaults() {
	if d.Client == nil {
		d.Client = NewClient(d.AllowLoopback)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Backoff == nil {
		d.Backoff = Backoff
	}
	if d.GiveUp == 0 {
		d.GiveUp = pihu.WebhookGiveUp
	}
	if d.MaxAttempts == 0 {
		d.MaxAttempts = pihu.WebhookMaxAttempts
	}
	if d.Interval == 0 {
		d.Interval = time.Second
	}
	if d.Lease == 0 {
		d.Lease = time.Minute
	}
	if d.Batch == 0 {
		d.Batch = 16
	}
	if d.ExpiryInterval == 0 {
		d.ExpiryInterval = time.Minute
	}
}

// Run delivers until ctx is done, then waits for the attempts under way
// to end (each within Timeout) and records them before it returns: a
// draining server loses no attempt it made.
func (d *Dispatcher) Run(ctx context.Context) {
	d.defaults()
	poll := time.NewTicker(d.Interval)
	defer poll.Stop()
	var lastExpiry time.Time
	for {
		if d.Notifier != nil && d.Now().Sub(lastExpiry) >= d.ExpiryInterval {
			lastExpiry = d.Now()
			if err := d.Notifier.CheckExpiring(context.WithoutCancel(ctx)); err != nil && !unavailable(err) {
				d.Logger.Error("webhooks: expiring keys", "err", err)
			}
			if _, err := d.Store.PruneWebhooks(context.WithoutCancel(ctx), d.Now().Add(-pihu.WebhookRetention)); err != nil && !unavailable(err) {
				d.Logger.Error("webhooks: prune", "err", err)
			}
		}
		for {
			n, err := d.RunOnce(ctx)
			if err != nil && !unavailable(err) {
				d.Logger.Error("webhooks: claim deliveries", "err", err)
			}
			if n < d.Batch || ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		}
	}
}

// unavailable reports whether err is the store's unavailability: not
// logged here, at every poll of an outage; the store's guard logs the
// outage once (see package guard), and the deliveries wait for it.
func unavailable(err error) bool { return pihu.ErrorCode(err) == pihu.EUnavailable }

// RunOnce claims the deliveries due now, sends them at once, records every
// attempt, and returns how many it sent. The attempts run to their end
// even if ctx is cancelled meanwhile.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	d.defaults()
	if ctx.Err() != nil {
		return 0, nil
	}
	ctx = context.WithoutCancel(ctx)
	claimed, err := d.Store.ClaimDeliveries(ctx, d.Now(), d.Lease, d.Batch)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, dl := range claimed {
		wg.Go(func() { d.deliver(ctx, dl) })
	}
	wg.Wait()
	return len(claimed), nil
}

// deliver makes one attempt of dl and records it.
func (d *Dispatcher) deliver(ctx context.Context, dl *pihu.Delivery) {
	attempt := d.attempt(ctx, dl)
	ok := attempt.StatusCode >= 200 && attempt.StatusCode < 300
	outcome := pihu.DeliveryOutcome{Attempt: attempt, Delivered: ok}
	result := metrics.WebhookDelivered
	if !ok {
		next := attempt.At.Add(d.Backoff(len(dl.Attempts) + 1))
		if next.Sub(dl.Created) < d.GiveUp && len(dl.Attempts)+1 < d.MaxAttempts {
			outcome.NextAttempt = &next
			result = metrics.WebhookRetrying
		} else {
			result = metrics.WebhookFailed
		}
	}
	d.Metrics.WebhookDelivery(result)
	failingSince, err := d.Store.FinishDelivery(ctx, dl, outcome)
	if err != nil {
		d.Logger.Error("webhooks: record attempt", "delivery", dl.ID, "err", err)
		return
	}
	if failingSince != nil && attempt.At.Sub(*failingSince) >= d.GiveUp {
		d.disable(ctx, dl)
	}
}

// attempt POSTs dl's payload, signed at this moment, and describes what
// happened, without the URL (which may hold a token of the receiver's).
func (d *Dispatcher) attempt(ctx context.Context, dl *pihu.Delivery) pihu.DeliveryAttempt {
	start := d.Now()
	a := pihu.DeliveryAttempt{At: start.UTC()}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dl.URL, bytes.NewReader(dl.Payload))
	if err != nil {
		a.Error = "the endpoint's URL is not valid"
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pihu-webhooks/1")
	var previous []string
	if dl.PreviousSecret != "" {
		previous = append(previous, dl.PreviousSecret)
	}
	req.Header.Set(SignatureHeader, Sign(dl.Secret, start, dl.Payload, previous...))
	req.Header.Set(EventIDHeader, dl.EventID)
	req.Header.Set("Pihu-Event-Type", dl.EventType)
	resp, err := d.Client.Do(req)
	a.Duration = d.Now().Sub(start)
	if err != nil {
		a.Error = describe(err)
		// The operator may see what the account may not (the addresses),
		// never the URL.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		d.Logger.Info("webhooks: attempt failed", "delivery", dl.ID, "endpoint", dl.EndpointID, "reason", a.Error, "err", err)
		return a
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	a.StatusCode = resp.StatusCode
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		a.Error = fmt.Sprintf("the endpoint answered a redirect (%d), which deliveries never follow", resp.StatusCode)
	case resp.StatusCode >= 300:
		a.Error = fmt.Sprintf("the endpoint answered %d", resp.StatusCode)
	}
	return a
}

// describe says in words why an attempt got no answer, for the account
// that owns the endpoint: never the error's own text, which may hold the
// URL (and a token of the receiver's in it), the address of pihu's
// resolver, or the address the endpoint's name resolved to, which may be
// one of pihu's own network.
func describe(err error) string {
	var (
		refused *refusedError
		dnsErr  *net.DNSError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &refused):
		return refused.Reason()
	case errors.As(err, &dnsErr):
		switch {
		case dnsErr.IsNotFound:
			return "could not resolve the host: no such host"
		case dnsErr.IsTimeout:
			return "could not resolve the host: the DNS lookup timed out"
		}
		return "could not resolve the host"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("timed out: no answer within %s", Timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "the connection was reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "the host is unreachable"
	}
	if why, ok := tlsFailure(err); ok {
		return "TLS error: " + why
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the connection closed before an answer"
	}
	return "the request failed"
}

// tlsFailure says why the TLS handshake failed, if that is what err is.
func tlsFailure(err error) (string, bool) {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
		alert    tls.AlertError
		verify   *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &unknown):
		return "the certificate is signed by an unknown authority", true
	case errors.As(err, &hostname):
		return "the certificate is not valid for the host", true
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "the certificate has expired or is not valid yet", true
	case errors.As(err, &invalid), errors.As(err, &verify):
		return "the certificate is not valid", true
	case errors.As(err, &record), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "the endpoint does not speak TLS (is it an http:// URL?)", true
	case errors.As(err, &alert):
		return "the endpoint refused the handshake", true
	case strings.Contains(err.Error(), "tls: "):
		return "the handshake failed", true
	}
	return "", false
}

// disable turns off the endpoint of dl, failing for GiveUp, with an audit
// event.
func (d *Dispatcher) disable(ctx context.Context, dl *pihu.Delivery) {
	scope := pihu.Scope{AccountID: dl.AccountID, Environment: dl.Environment}
	e, err := d.Store.WebhookEndpoint(ctx, scope, dl.EndpointID)
	if err != nil || !e.Enabled {
		return
	}
	e.Enabled = false
	ev := pihu.NewWebhookAuditEvent(pihu.ActionWebhookEndpointDisabled, ActorSystem, "", e, d.Now())
	if err := d.Store.UpdateWebhookEndpoint(ctx, e, ev); err != nil {
		d.Logger.Error("webhooks: disable endpoint", "endpoint", e.ID, "err", err)
		return
	}
	d.Metrics.WebhookDelivery(metrics.WebhookEndpointDisabled)
	d.Logger.Warn("webhooks: endpoint disabled after failing for too long", "endpoint", e.ID, "failing_for", d.GiveUp)
}
