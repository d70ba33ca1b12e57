package http

import (
	"net/http"

	"github.com/pihu-ai/pihu"
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

// observeAuth records how require ended for a request: err is the error
// that refused it, nil if it went on to its handler.
func (s *Server) observeAuth(err error) {
	if s.metrics == nil {
		return
	}
	code := pihu.ErrorCode(err)
	switch code {
	case "":
		s.metrics.AuthOutcome("valid")
		s.metrics.RateLimit("key", "allowed")
		return
	case pihu.ERateLimited:
		s.metrics.RateLimit("key", "limited")
	}
	s.metrics.AuthOutcome(code)
}

// observeAuthFailure records a request refused before its key was known:
// no key, a bad one, or an address out of failed attempts.
func (s *Server) observeAuthFailure(err error) {
	if s.metrics == nil {
		return
	}
	code := pihu.ErrorCode(err)
	if code == pihu.ERateLimited {
		s.metrics.RateLimit("failed_auth", "limited")
	}
	s.metrics.AuthOutcome(code)
}

// errInsufficient is what observeAuth is told of a key without the
// permission a request needs.
var errInsufficient = &pihu.Error{Code: pihu.EInsufficientPermissions}

// errIPRefused is what observeAuth is told of a key used from outside its
// allowed_ips.
var errIPRefused = &pihu.Error{Code: pihu.EIPNotAllowed}
