package http

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// readyz answers whether this instance should get traffic, with what it
// depends on and, when something is wrong, why:
//
//   - 200 "ok": the database answers (and Redis, if any);
//   - 200 "degraded": the instance serves, without all it needs: Redis
//     cannot be reached (limits are kept in process, cached keys trusted
//     for a second), or the database cannot be reached while keys already
//     verified are answered from the cache (stale-if-error);
//   - 503 "unavailable": the database cannot be reached and nothing is
//     answered without it (stale-if-error off), it has not been reached
//     since the server started, the primary it is on is refused (see
//     package guard), or the server is draining.
//
// A check whose client gave up gets no answer, and tells nothing of the
// database: it is not counted against it.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := noParameters(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.answerDraining(w) {
		return
	}
	redis := "unused"
	if s.redisStatus != nil {
		redis = s.redisStatus()
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	err := s.store.Ping(ctx)
	if r.Context().Err() != nil {
		return
	}
	body := map[string]string{"status": "ok", "database": "ok", "redis": redis}
	status := http.StatusOK
	if err != nil {
		state, reason := "unreachable", "The database does not answer."
		if s.databaseState != nil {
			if st, why := s.databaseState(); st != "up" && st != "" {
				state, reason = st, why
			}
		}
		body["database"] = state
		if stale := s.auth.StaleIfError(); state == "unreachable" && stale > 0 {
			body["status"] = "degraded"
			reason += fmt.Sprintf(" Keys already verified are answered from the cache for up to %s past their TTL; unknown keys and anything that needs the database get 503.", stale)
		} else {
			body["status"] = "unavailable"
			status = http.StatusServiceUnavailable
		}
		body["reason"] = reason
	}
	if redis == "degraded" {
		if body["status"] == "ok" {
			body["status"] = "degraded"
		}
		body["reason"] = join(body["reason"], "Redis cannot be reached: rate limits are kept in this process, and cached keys are trusted for a second until it is back.")
	}
	writeJSON(w, status, body)
}

// join joins two sentences.
func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}
