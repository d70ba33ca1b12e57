package http_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/guard"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

// /readyz says whether the Redis instances share answers; a degraded
// Redis leaves the server ready (200, status degraded with the reason),
// since it serves without it, and a database that does not answer is a
// 503 with the Redis detail too.
func TestReadyz_Redis(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     func() string
		want       string
		wantStatus string
	}{
		{"Unused", nil, "unused", "ok"},
		{"OK", func() string { return "ok" }, "ok", "ok"},
		{"Degraded", func() string { return "degraded" }, "degraded", "degraded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, func(o *pihuhttp.Options) { o.RedisStatus = tc.status })
			check := func(wantCode int, wantDB, wantStatus string) {
				t.Helper()
				r := ts.do(t, "GET", "/readyz", "", "")
				var body map[string]string
				r.decode(t, &body)
				if r.status != wantCode || body["redis"] != tc.want || body["database"] != wantDB || body["status"] != wantStatus {
					t.Errorf("got %d %s, want %d with status %q, database %q and redis %q", r.status, r.body, wantCode, wantStatus, wantDB, tc.want)
				}
				if (wantStatus == "ok") != (body["reason"] == "") {
					t.Errorf("reason %q with status %q: want one exactly when not ok", body["reason"], body["status"])
				}
			}
			check(http.StatusOK, "ok", tc.wantStatus)
			ts.Store.Close()
			check(http.StatusServiceUnavailable, "unreachable", "unavailable")
		})
	}
}

// TestReadyz_Database: with the database unreachable, an instance that
// answers keys already verified from the cache (stale-if-error) stays
// ready, degraded, saying why; one that does not, one that has not reached
// its database since it started, and one whose database is refused (the
// old primary of a failover) are not ready, and say why.
func TestReadyz_Database(t *testing.T) {
	for _, tc := range []struct {
		name           string
		stale          time.Duration
		state, why     string
		wantCode       int
		wantStatus     string
		wantDB, reason string
	}{
		{"StaleIfError", 15 * time.Minute, "down", "The database does not answer.", 200, "degraded", "unreachable", "answered from the cache for up to 15m0s"},
		{"NoStaleIfError", 0, "down", "The database does not answer.", 503, "unavailable", "unreachable", "does not answer"},
		{"Connecting", 15 * time.Minute, "connecting", "The database has not been reached yet.", 503, "unavailable", "connecting", "not been reached"},
		{"Refused", 15 * time.Minute, "refused", "It is the old primary.", 503, "unavailable", "refused", "old primary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, func(o *pihuhttp.Options) {
				o.Auth = auth.New(o.Store, auth.Options{StaleIfError: tc.stale})
				o.DatabaseState = func() (string, string) {
					if tc.state == "down" {
						return "unreachable", tc.why
					}
					return tc.state, tc.why
				}
			})
			ts.Store.Close()
			r := ts.do(t, "GET", "/readyz", "", "")
			var body map[string]string
			r.decode(t, &body)
			if r.status != tc.wantCode || body["status"] != tc.wantStatus || body["database"] != tc.wantDB || !strings.Contains(body["reason"], tc.reason) {
				t.Errorf("got %d %s, want %d with status %q, database %q and a reason saying %q", r.status, r.body, tc.wantCode, tc.wantStatus, tc.wantDB, tc.reason)
			}
		})
	}
}

// TestUnavailable_OneLineARequest: during an outage of the database, the
// server's log gets no line per failed request or failed readiness check
// beyond each request's own line (the store's guard logs the outage once,
// when its state changes); each 503 has Retry-After.
func TestUnavailable_OneLineARequest(t *testing.T) {
	// The API's store is one that has not connected yet: every call
	// fails with EUnavailable, as in an outage.
	g := guard.New(guard.Options{Logger: slog.New(slog.DiscardHandler)})
	ts := newTestServer(t, func(o *pihuhttp.Options) {
		o.Store = g
		o.DatabaseState = func() (string, string) { st, why := g.State(); return st.String(), why }
	})
	for range 5 {
		r := ts.do(t, "GET", "/v1/auth/api-keys", ts.Owner, "")
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Fatalf("got %d (Retry-After %q) %s, want 503 with Retry-After", r.status, r.header.Get("Retry-After"), r.body)
		}
		ts.do(t, "GET", "/readyz", "", "")
	}
	for _, line := range strings.Split(strings.TrimSpace(ts.logs.String()), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			t.Errorf("a line logged for a failed request: %s", line)
		}
	}
}
