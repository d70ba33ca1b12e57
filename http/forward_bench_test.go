package http

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/logbuf"
	"github.com/pihu-ai/pihu/metrics"
)

// BenchmarkForwardAuth is the forward-auth endpoint's answer to nginx's
// question (a permission to check, the original request in X-Original-*
// headers from a trusted proxy, auth_request=1), next to whoami's, the
// request the load harness compares with a bare server: through the whole
// server, with the log line as serve writes it and metrics on. Its figures
// through nginx are bench/run.sh gateway's.
func BenchmarkForwardAuth(b *testing.B) {
	db, _, secret := benchStore(b)
	logs := logbuf.New(io.Discard, 100*time.Millisecond)
	defer logs.Close()
	logger := slog.New(logbuf.Handler(slog.NewTextHandler(logs, nil), logs))
	m := metrics.New()
	s := New(Options{Store: db, Auth: auth.New(db, auth.Options{Logger: logger, Observer: m}), Logger: logger,
		RequestLog: logbuf.NewRequestLog(logs, false), Metrics: m,
		TrustedProxyHeader: "X-Forwarded-For", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}})
	for _, bc := range []struct{ name, target string }{
		{"Whoami", "/v1/auth/whoami"},
		{"ForwardAuth", "/v1/auth/forward?auth_request=1&permission=interview:read"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", bc.target, nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			req.Header.Set("X-Original-Method", "GET")
			req.Header.Set("X-Original-URI", "/v1/interviews/intv_1?page=2")
			req.Header.Set("X-Forwarded-Host", "api.example.com")
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				w := httptest.NewRecorder()
				s.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("got %d %s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
