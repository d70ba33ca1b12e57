package http

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/logbuf"
	"github.com/pihu-ai/pihu/metrics"
	"github.com/pihu-ai/pihu/sqlite"
)

// BenchmarkHotPath measures one authenticated request through the whole
// server (request id, log line as serve writes it, routing, Bearer parsing, cached
// authentication, allowed address, rate limit, permission) to a handler
// that does nothing, so that it is the cost every endpoint pays.
func BenchmarkHotPath(b *testing.B) {
	for _, bc := range []struct {
		name  string
		token bool // an access token as the bearer, rather than the key
		route func(s *Server, h http.HandlerFunc) http.Handler
	}{
		{"Unauthenticated", false, func(s *Server, h http.HandlerFunc) http.Handler { return h }},
		{"Authenticated", false, func(s *Server, h http.HandlerFunc) http.Handler { return s.require("candidate:read", h) }},
		{"AuthenticatedToken", true, func(s *Server, h http.HandlerFunc) http.Handler { return s.require("candidate:read", h) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			db, k, secret := benchStore(b)
			tokens := auth.NewTokens(db, auth.TokenOptions{Issuer: "https://auth.example.com"})
			logs := logbuf.New(io.Discard, 100*time.Millisecond)
			defer logs.Close()
			// The log line is written as serve writes it: text, formatted
			// by RequestLog, buffered; and metrics on, as serve runs.
			logger := slog.New(logbuf.Handler(slog.NewTextHandler(logs, nil), logs))
			m := metrics.New()
			s := New(Options{Store: db, Auth: auth.New(db, auth.Options{Tokens: tokens, Logger: logger, Observer: m}), Logger: logger,
				RequestLog: logbuf.NewRequestLog(logs, false), Metrics: m})
			s.mux.Handle("GET /bench", bc.route(s, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
			bearer := secret
			if bc.token {
				at, err := pihu.NewAccessToken(k, pihu.TokenRequest{ExpiresIn: "1h"}, tokens.Issuer(), time.Now())
				if err != nil {
					b.Fatal(err)
				}
				if bearer, err = tokens.Sign(context.Background(), at); err != nil {
					b.Fatal(err)
				}
			}
			req := httptest.NewRequest("GET", "/bench", nil)
			req.Header.Set("Authorization", "Bearer "+bearer)
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

// benchStore is a SQLite store in a temporary folder, closed with b, with
// one account whose owner key (returned, with its secret) has a limit no
// benchmark reaches.
func benchStore(b testing.TB) (*sqlite.DB, *pihu.Key, string) {
	b.Helper()
	db, err := sqlite.Open(context.Background(), sqlitetest.Path(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "Bench", Created: time.Now()}
	k, secret, _ := pihu.NewKey(a.ID, pihu.OwnerKeyRequest(), nil, time.Now())
	k.RateLimit = pihu.StoredRateLimit("1000000/s")
	if err := db.CreateAccount(context.Background(), a, k); err != nil {
		b.Fatal(err)
	}
	return db, k, secret
}

// BenchmarkOverhead is what ServeHTTP adds to a handler that does nothing
// (request id, client address, context, response writer, routing,
// metrics, the log line as serve writes it): Server minus Handler, in
// time and in allocations (httptest's recorder is in both). cpu-ns/op is
// the process's CPU time per request, steadier than ns/op on a busy
// machine.
func BenchmarkOverhead(b *testing.B) {
	db, _, _ := benchStore(b)
	logs := logbuf.New(io.Discard, 100*time.Millisecond)
	defer logs.Close()
	logger := slog.New(logbuf.Handler(slog.NewTextHandler(logs, nil), logs))
	m := metrics.New()
	s := New(Options{Store: db, Auth: auth.New(db, auth.Options{Logger: logger, Observer: m}), Logger: logger,
		RequestLog: logbuf.NewRequestLog(logs, false), Metrics: m})
	nothing := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }
	s.mux.HandleFunc("GET /bench", nothing)
	req := httptest.NewRequest("GET", "/bench", nil)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"Handler", http.HandlerFunc(nothing)}, {"Server", s}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				w := httptest.NewRecorder()
				bc.h.ServeHTTP(w, req)
				if w.Code != http.StatusNoContent {
					b.Fatalf("got %d", w.Code)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
