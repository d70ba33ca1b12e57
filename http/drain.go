package http

import (
	"net/http"
	"sync/atomic"
)

// draining is set by Drain: the server is shutting down.
type draining struct{ atomic.Bool }

// Drain marks the server as shutting down: from now on /readyz answers 503
// (status "unavailable", reason "draining"), so that a load balancer sends
// new requests elsewhere while those in flight finish. Every other route
// goes on answering. It is safe to call from any goroutine, more than once.
func (s *Server) Drain() { s.draining.Store(true) }

// answerDraining writes readyz's 503 if the server is draining, and
// reports whether it did.
func (s *Server) answerDraining(w http.ResponseWriter) bool {
	if !s.draining.Load() {
		return false
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "draining"})
	return true
}
