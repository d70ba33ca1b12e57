package http_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	pihuhttp "github.com/pihu-ai/pihu/http"
)

// TestServer_Dashboard checks that a dashboard given to the server answers
// every path outside the API, with the client address the API resolved,
// and that the API's own paths keep their JSON answers, 404 and 405
// included.
func TestServer_Dashboard(t *testing.T) {
	ts := newTestServer(t, func(o *pihuhttp.Options) {
		o.TrustedProxyHeader = "X-Forwarded-For"
		o.TrustedProxies, _ = pihuhttp.ParseTrustedProxies("127.0.0.0/8")
		o.Dashboard = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "dashboard "+r.Method+" "+r.URL.Path+" from "+pihuhttp.ClientIP(r))
		})
	})
	get := func(method, path string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Content-Type"), string(b)
	}
	for _, path := range []string{"/", "/keys", "/login", "/static/style.css", "/v1beta", "/healthzz"} {
		status, _, body := get("GET", path)
		if want := "dashboard GET " + path + " from 203.0.113.9"; status != 200 || body != want {
			t.Errorf("GET %s: got %d %q, want 200 %q", path, status, body, want)
		}
	}
	if status, _, body := get("POST", "/login"); status != 200 || !strings.HasPrefix(body, "dashboard POST") {
		t.Errorf("POST /login: got %d %q, want the dashboard", status, body)
	}
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/v1/nowhere", 404, "not_found"},
		{"GET", "/v1/", 404, "not_found"},
		{"POST", "/healthz", 405, "method_not_allowed"},
		{"DELETE", "/readyz", 405, "method_not_allowed"},
		{"POST", "/.well-known/jwks.json", 405, "method_not_allowed"},
		{"GET", "/.well-known/nothing", 404, "not_found"},
		{"PUT", "/v1/auth/api-keys", 405, "method_not_allowed"},
		{"GET", "/v1/auth/whoami", 401, "missing_api_key"},
	} {
		status, ctype, body := get(c.method, c.path)
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		json.Unmarshal([]byte(body), &e)
		if status != c.status || e.Error.Code != c.code || !strings.HasPrefix(ctype, "application/json") {
			t.Errorf("%s %s: got %d %s %q, want %d %s in JSON", c.method, c.path, status, ctype, body, c.status, c.code)
		}
	}
	if status, _, _ := get("GET", "/healthz"); status != 200 {
		t.Errorf("GET /healthz: got %d, want 200", status)
	}
}
