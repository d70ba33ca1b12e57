package http

import (
	"net/http"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
)

// Metrics of the API (see package metrics): ServeHTTP records every request
// by the pattern that routed it and its status, and require records each
// authentication's outcome and each rate-limit decision on a key. The
// labels are the server's patterns and the error codes of package pihu:
// never a key, a key id or a path a client wrote.

// initMetrics takes the metrics options.
func (s *Server) initMetrics(opts Options) {
	s.metrics = opts.Metrics
	if opts.MetricsHandler != nil {
		s.handle("GET /metrics", s.serveMetrics(opts.MetricsHandler))
	}
}

// serveMetrics serves h at /metrics; like every endpoint it takes no
// query parameter it does not know.
func (s *Server) serveMetrics(h http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := noParameters(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	}
}

// observeDecision records an admission's decision, at every door (see
// auth.Admission): its outcome, and the rate limit's when it was reached.
func (s *Server) observeDecision(d auth.Decision) {
	if s.metrics == nil {
		return
	}
	switch d.Outcome {
	case auth.Admitted:
		s.metrics.AuthOutcome("valid")
		s.metrics.RateLimit("key", "allowed")
		return
	case auth.RefusedRateLimit:
		s.metrics.RateLimit("key", "limited")
	}
	s.metrics.AuthOutcome(d.Outcome.Code())
}

// observeAuthFailure records a request refused before its key was known:
// no key, a bad one, or an address out of failed attempts.
func (s *Server) observeAuthFailure(err error) {
	s.metrics.AuthFailed(pihu.ErrorCode(err))
}

// observeInactive records, at the doors that check a key other than as
// the request's own credential (verify, the OAuth client), the refusal of
// a disabled key: a key the server knows, counted like the admission's
// refusals (as the doors that authenticate a bearer key count it through
// observeAuthFailure). A revoked or expired key is not counted there.
func (s *Server) observeInactive(err error) {
	if code := pihu.ErrorCode(err); code == pihu.EDisabledAPIKey {
		s.metrics.AuthOutcome(code)
	}
}
