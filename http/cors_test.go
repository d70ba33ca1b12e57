package http_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	pihuhttp "github.com/pihu-ai/pihu/http"
)

// rawDo sends a request outside the contract harness (a preflight is no
// operation of the OpenAPI document) and returns its status and headers.
func rawDo(tb testing.TB, method, url string, header map[string]string) (int, http.Header) {
	tb.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header
}

// corsHeaders are the headers of CORS an answer has.
func corsHeaders(h http.Header) []string {
	var out []string
	for name := range h {
		if strings.HasPrefix(name, "Access-Control-") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// TestCORS: a page of an origin the server lists may call the API: its
// preflight is answered with what it may send, and every answer (an
// error's too) names its origin and the headers it may read, never with
// credentials. Any other origin, the dashboard's paths, and a server that
// lists none get no CORS header.
func TestCORS(t *testing.T) {
	const app, other = "https://app.example.com", "https://evil.example"
	ts := newTestServer(t, func(o *pihuhttp.Options) { o.CORSOrigins = []string{app, "http://localhost:3000"} })
	preflight := func(origin, path, method string) map[string]string {
		return map[string]string{"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": "authorization,content-type,idempotency-key"}
	}

	t.Run("Preflight", func(t *testing.T) {
		for _, path := range []string{"/v1/candidates", "/v1/auth/api-keys/key_1", "/.well-known/jwks.json"} {
			status, h := rawDo(t, "OPTIONS", ts.URL+path, preflight(app, path, "POST"))
			if status != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != app ||
				h.Get("Access-Control-Allow-Methods") != "GET, POST, PATCH, DELETE" ||
				h.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type, Idempotency-Key" ||
				h.Get("Access-Control-Max-Age") != "7200" || h.Get("Access-Control-Allow-Credentials") != "" ||
				!slices.Contains(h.Values("Vary"), "Origin") || h.Get("Request-Id") == "" {
				t.Errorf("OPTIONS %s from %s: got %d %v", path, app, status, h)
			}
		}
	})
	t.Run("Request", func(t *testing.T) {
		for _, c := range []struct {
			key    string
			status int
		}{{ts.Owner, 200}, {"", 401}, {"ph_live_nothing", 401}} {
			r := ts.doWith(t, "GET", "/v1/candidates", "", map[string]string{"Authorization": bearer(c.key), "Origin": app})
			h := r.header
			if r.status != c.status || h.Get("Access-Control-Allow-Origin") != app || h.Get("Access-Control-Allow-Credentials") != "" ||
				!slices.Contains(h.Values("Vary"), "Origin") {
				t.Errorf("GET with key %q from %s: got %d %v", c.key, app, r.status, h)
			}
			if got := h.Get("Access-Control-Expose-Headers"); got != "Request-Id, RateLimit, RateLimit-Policy, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, WWW-Authenticate, Idempotent-Replayed, Pihu-Credits-Refill" {
				t.Errorf("Access-Control-Expose-Headers: got %q", got)
			}
		}
		// An origin is matched as the browser writes it.
		r := ts.doWith(t, "GET", "/v1/candidates", "", map[string]string{"Authorization": bearer(ts.Owner), "Origin": "http://localhost:3000"})
		if r.header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
			t.Errorf("the second origin: got %v", r.header)
		}
	})
	t.Run("OtherOrigins", func(t *testing.T) {
		for _, origin := range []string{other, "https://app.example.com.evil.example", "http://app.example.com", "https://APP.example.com", "null", "*"} {
			if status, h := rawDo(t, "OPTIONS", ts.URL+"/v1/candidates", preflight(origin, "/v1/candidates", "POST")); status != http.StatusMethodNotAllowed || len(corsHeaders(h)) != 0 {
				t.Errorf("preflight from %s: got %d %v, want 405 without CORS", origin, status, corsHeaders(h))
			}
			r := ts.doWith(t, "GET", "/v1/candidates", "", map[string]string{"Authorization": bearer(ts.Owner), "Origin": origin})
			if got := corsHeaders(r.header); r.status != 200 || len(got) != 0 || !slices.Contains(r.header.Values("Vary"), "Origin") {
				t.Errorf("GET from %s: got %d %v, want the answer without CORS (the browser withholds it), varying by Origin", origin, r.status, r.header)
			}
		}
		// Not a preflight: OPTIONS without Access-Control-Request-Method.
		if status, _ := rawDo(t, "OPTIONS", ts.URL+"/v1/candidates", map[string]string{"Origin": app}); status != http.StatusMethodNotAllowed {
			t.Errorf("OPTIONS without Access-Control-Request-Method: got %d, want 405", status)
		}
		// Outside the API (the dashboard's paths, the operations'): no CORS.
		for _, path := range []string{"/healthz", "/", "/login"} {
			if _, h := rawDo(t, "OPTIONS", ts.URL+path, preflight(app, path, "POST")); len(corsHeaders(h)) != 0 {
				t.Errorf("OPTIONS %s: got %v, want no CORS", path, corsHeaders(h))
			}
		}
	})
	t.Run("NoneListed", func(t *testing.T) {
		plain := newTestServer(t)
		if status, h := rawDo(t, "OPTIONS", plain.URL+"/v1/candidates", preflight(app, "/v1/candidates", "GET")); status != http.StatusMethodNotAllowed || len(corsHeaders(h)) != 0 {
			t.Errorf("preflight: got %d %v, want 405 without CORS", status, corsHeaders(h))
		}
		r := plain.doWith(t, "GET", "/v1/candidates", "", map[string]string{"Authorization": bearer(plain.Owner), "Origin": app})
		if len(corsHeaders(r.header)) != 0 || slices.Contains(r.header.Values("Vary"), "Origin") {
			t.Errorf("GET: got %v, want no CORS", r.header)
		}
	})
}

func TestParseCORSOrigins(t *testing.T) {
	got, err := pihuhttp.ParseCORSOrigins(" https://App.Example.com , http://localhost:3000,https://a.example:443, http://[::1]:8080/")
	want := []string{"https://app.example.com", "http://localhost:3000", "https://a.example", "http://[::1]:8080"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	if got, err := pihuhttp.ParseCORSOrigins(" "); got != nil || err != nil {
		t.Errorf("empty: got %q, %v", got, err)
	}
	for _, bad := range []string{"*", "app.example.com", "https://*.example.com", "https://app.example.com/path", "https://app.example.com?x=1",
		"ftp://app.example.com", "https://u:p@app.example.com", "https://a.example,,https://b.example", "null"} {
		if _, err := pihuhttp.ParseCORSOrigins(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
