// Package metrics is what pihu tells Prometheus: requests by route and
// status, their latency, authentication outcomes, rate-limit decisions, the
// key cache, store query latency, the batched writes of key uses, and the Go
// runtime.
//
// No label ever holds a key, a key id, an account id or anything a client
// chose: routes are the server's own patterns, statuses and codes come from
// fixed tables, and store operations are method names. A label whose values
// a client could choose would let it grow the series without bound, and one
// holding key material would put it in every dashboard and scrape.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the collectors of one server, registered in a registry of
// its own (never the global one, so that two servers in one test process
// do not collide). It is safe for concurrent use; a nil *Metrics records
// nothing.
type Metrics struct {
	registry *prometheus.Registry

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	authOutcomes    *prometheus.CounterVec
	rateLimit       *prometheus.CounterVec
	cacheHits       prometheus.Counter
	cacheMisses     prometheus.Counter
	cacheStale      prometheus.Counter
	storeDuration   *prometheus.HistogramVec
	storeErrors     *prometheus.CounterVec
	flushes         *prometheus.CounterVec
	webhooks        *prometheus.CounterVec

	// The series of the hot path, resolved once: the labels of a series
	// are hashed on every WithLabelValues, which would cost more than the
	// rest of recording.
	authValid, keyAllowed prometheus.Counter
	series                sync.Map // requestLabels → *requestSeries
}

// requestLabels name the series of one kind of request.
type requestLabels struct {
	route, method string
	status        int
}

// requestSeries are the counter and the histogram of one kind of request.
type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// New returns Metrics with the Go runtime and process collectors
// registered.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pihu_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pihu_http_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its handler, by route pattern.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		authOutcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pihu_auth_outcomes_total",
			Help: "Authentications of requests that need a key, by outcome: valid, or the error code that refused them.",
		}, []string{"outcome"}),
		rateLimit: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pihu_ratelimit_decisions_total",
			Help: "Rate-limit decisions, by limit (key, failed_auth, leaked_keys) and decision (allowed, limited, error).",
		}, []string{"limit", "decision"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pihu_key_cache_hits_total",
			Help: "Key lookups answered from the in-process cache.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pihu_key_cache_misses_total",
			Help: "Key lookups that read the store: not cached, or cached for longer than the TTL.",
		}),
		cacheStale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pihu_key_cache_stale_total",
			Help: "Key lookups answered from the cache past their TTL because the store was unavailable (--stale-if-error).",
		}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pihu_store_query_duration_seconds",
			Help:    "Time of each store call, by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pihu_store_errors_total",
			Help: "Store calls that failed with an internal error (not found and the like are answers, not failures), by operation.",
		}, []string{"op"}),
		flushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pihu_usage_flushes_total",
			Help: "Batched writes of key uses (last_used and usage counts), by result (ok, failed).",
		}, []string{"result"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pihu_webhook_deliveries_total",
			Help: "Webhook delivery attempts, by outcome: delivered, retrying (failed, tried again later), failed (given up), endpoint_disabled.",
		}, []string{"outcome"}),
	}
	m.authValid = m.authOutcomes.WithLabelValues("valid")
	m.keyAllowed = m.rateLimit.WithLabelValues("key", "allowed")
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.requestDuration, m.authOutcomes, m.rateLimit,
		m.cacheHits, m.cacheMisses, m.cacheStale, m.storeDuration, m.storeErrors, m.flushes, m.webhooks,
	)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Register adds a collector of the caller's, such as a gauge read at scrape
// time.
func (m *Metrics) Register(c prometheus.Collector) error {
	return m.registry.Register(c)
}

// CacheSize reports the number of entries of the key cache at each scrape,
// as read by size.
func (m *Metrics) CacheSize(size func() int) {
	if m == nil {
		return
	}
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "pihu_key_cache_entries",
		Help: "Keys in the in-process cache.",
	}, func() float64 { return float64(size()) }))
}

// Request records one answered request: route is the pattern that routed
// it ("GET /v1/auth/api-keys/{id}"), or "" for none.
func (m *Metrics) Request(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	l := requestLabels{route, knownMethod(method), status}
	v, ok := m.series.Load(l)
	if !ok {
		v, _ = m.series.LoadOrStore(l, &requestSeries{
			count:    m.requests.WithLabelValues(l.route, l.method, statusLabel(status)),
			duration: m.requestDuration.WithLabelValues(l.route),
		})
	}
	rs := v.(*requestSeries)
	rs.count.Inc()
	rs.duration.Observe(d.Seconds())
}

// AuthOutcome records the outcome of authenticating a request: "valid" or
// an error code of package pihu.
func (m *Metrics) AuthOutcome(outcome string) {
	if m == nil {
		return
	}
	if outcome == "valid" {
		m.authValid.Inc()
		return
	}
	m.authOutcomes.WithLabelValues(outcome).Inc()
}

// AuthFailed records a request refused before its key was known, by its
// error code: no key, a bad one, or "rate_limited" for an address out of
// failed authentications (also a "failed_auth" rate-limit decision).
func (m *Metrics) AuthFailed(code string) {
	if m == nil {
		return
	}
	if code == "rate_limited" {
		m.RateLimit("failed_auth", "limited")
	}
	m.AuthOutcome(code)
}

// RateLimit records one rate-limit decision on limit ("key",
// "failed_auth", "leaked_keys"): "allowed", "limited" or "error".
func (m *Metrics) RateLimit(limit, decision string) {
	if m == nil {
		return
	}
	if limit == "key" && decision == "allowed" {
		m.keyAllowed.Inc()
		return
	}
	m.rateLimit.WithLabelValues(limit, decision).Inc()
}

// CacheHit records a key lookup answered from the cache.
func (m *Metrics) CacheHit() {
	if m != nil {
		m.cacheHits.Inc()
	}
}

// CacheMiss records a key lookup that read the store.
func (m *Metrics) CacheMiss() {
	if m != nil {
		m.cacheMisses.Inc()
	}
}

// StaleHit records a key lookup answered from the cache, past its TTL,
// because the store was unavailable.
func (m *Metrics) StaleHit() {
	if m != nil {
		m.cacheStale.Inc()
	}
}

// StoreState reports, at each scrape, the state of the store as state
// names it, one of states: pihu_store_state is 1 for that state's series
// and 0 for the others; and the calls failed at once, without reaching the
// store, as failedFast counts them.
func (m *Metrics) StoreState(states []string, state func() string, failedFast func() int64) {
	if m == nil {
		return
	}
	for _, name := range states {
		m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "pihu_store_state",
			Help:        "The state of the database: 1 for the current one of connecting (not reached since start), up, down (the breaker is open: calls fail at once until a probe gets an answer) and refused (not a primary this instance may write to).",
			ConstLabels: prometheus.Labels{"state": name},
		}, func() float64 {
			if state() == name {
				return 1
			}
			return 0
		}))
	}
	m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "pihu_store_failed_fast_total",
		Help: "Store calls failed at once, without reaching the database, while it was not up.",
	}, func() float64 { return float64(failedFast()) }))
}

// Flushed records a batched write of key uses, failed if err is not nil.
func (m *Metrics) Flushed(err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.flushes.WithLabelValues("failed").Inc()
		return
	}
	m.flushes.WithLabelValues("ok").Inc()
}

// Webhook outcomes, the values of pihu_webhook_deliveries_total's label.
const (
	WebhookDelivered        = "delivered"
	WebhookRetrying         = "retrying"
	WebhookFailed           = "failed"
	WebhookEndpointDisabled = "endpoint_disabled"
)

// WebhookDelivery records the outcome of a delivery attempt, one of the
// Webhook… constants.
func (m *Metrics) WebhookDelivery(outcome string) {
	if m == nil {
		return
	}
	m.webhooks.WithLabelValues(outcome).Inc()
}

// knownMethod keeps the method label to the methods the API knows: a
// method is any token a client sends.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// statusLabel is the status as its three digits, without allocating for
// the common ones.
func statusLabel(s int) string {
	switch s {
	case 200:
		return "200"
	case 204:
		return "204"
	case 400:
		return "400"
	case 401:
		return "401"
	case 403:
		return "403"
	case 404:
		return "404"
	case 429:
		return "429"
	case 500:
		return "500"
	}
	if s < 100 || s > 999 {
		return "other"
	}
	return string([]byte{byte('0' + s/100), byte('0' + s/10%10), byte('0' + s%10)})
}
