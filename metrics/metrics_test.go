package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestLabels checks that label values are bounded: a method or a status a
// client could choose falls into "other".
func TestLabels(t *testing.T) {
	for in, want := range map[string]string{"GET": "GET", "DELETE": "DELETE", "BREW": "other", "get": "other", "ph_live_x": "other"} {
		if got := knownMethod(in); got != want {
			t.Errorf("knownMethod(%q): got %q, want %q", in, got, want)
		}
	}
	for in, want := range map[int]string{200: "200", 204: "204", 418: "418", 503: "503", 0: "other", 1000: "other", 99: "other"} {
		if got := statusLabel(in); got != want {
			t.Errorf("statusLabel(%d): got %q, want %q", in, got, want)
		}
	}
	var m *Metrics // a nil *Metrics records nothing, without panicking
	m.Request("GET /x", "GET", 200, time.Millisecond)
	m.AuthOutcome("valid")
	m.RateLimit("key", "allowed")
	m.CacheHit()
	m.CacheMiss()
	m.Flushed(nil)
	m.CacheSize(func() int { return 0 })
}

// TestHandler scrapes a registry after one of each record.
func TestHandler(t *testing.T) {
	m := New()
	m.CacheSize(func() int { return 7 })
	m.Request("GET /v1/auth/whoami", "GET", 200, time.Millisecond)
	m.AuthOutcome("revoked_api_key")
	m.Flushed(io.EOF)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`pihu_http_requests_total{method="GET",route="GET /v1/auth/whoami",status="200"} 1`,
		`pihu_auth_outcomes_total{outcome="revoked_api_key"} 1`,
		`pihu_usage_flushes_total{result="failed"} 1`,
		`pihu_key_cache_entries 7`,
		`go_goroutines`,
		`process_cpu_seconds_total`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in:\n%s", want, body)
		}
	}
}

// BenchmarkRequest is what metrics add to one authenticated request on the
// hot path: the request, its authentication outcome, its rate-limit
// decision and a cache hit.
func BenchmarkRequest(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.CacheHit()
		m.AuthOutcome("valid")
		m.RateLimit("key", "allowed")
		m.Request("GET /v1/candidates", "GET", 200, 50*time.Microsecond)
	}
}
