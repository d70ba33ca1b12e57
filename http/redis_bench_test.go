package http

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/internal/redistest"
	"github.com/pihu-ai/pihu/ratelimit"
)

// BenchmarkHotPath_Limiter measures one authenticated request through the
// whole server, as BenchmarkHotPath does, with the rate limit decided in
// process and in Redis (--redis). See BENCHMARKS.md.
func BenchmarkHotPath_Limiter(b *testing.B) {
	url := redistest.URL(b)
	for _, bc := range []struct {
		name    string
		limiter func(b *testing.B) ratelimit.Limiter
	}{
		{"Memory", func(b *testing.B) ratelimit.Limiter { return ratelimit.NewMemory(ratelimit.MemoryOptions{}) }},
		{"Redis", func(b *testing.B) ratelimit.Limiter {
			c, err := ratelimit.DialRedis(url)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.Close() })
			r := ratelimit.NewRedis(c, ratelimit.RedisOptions{Prefix: redistest.Prefix(b)})
			b.Cleanup(func() { r.Close() })
			return r
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			db, _, secret := benchStore(b)
			s := New(Options{Store: db, Auth: auth.New(db, auth.Options{}), Logger: slog.New(slog.DiscardHandler), Limiter: bc.limiter(b)})
			s.mux.Handle("GET /bench", s.require("candidate:read", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
			req := httptest.NewRequest("GET", "/bench", nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				s.ServeHTTP(w, req)
				if w.Code != http.StatusNoContent {
					b.Fatalf("got %d %s", w.Code, w.Body)
				}
			}
		})
	}
}
