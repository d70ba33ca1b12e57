package main_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestServe_CORSOrigins: --cors-origins (or PIHU_CORS_ORIGINS) lists the
// origins whose pages may call the API from a browser; their preflight is
// answered, another origin's is not, and a value that is not a list of
// origins stops serve (exit 2).
func TestServe_CORSOrigins(t *testing.T) {
	preflight := func(url, origin string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("OPTIONS", url+"/v1/candidates", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode, res.Header.Get("Access-Control-Allow-Origin")
	}
	s := startServer(t, t.TempDir(), "--cors-origins", "https://app.example.com, http://localhost:3000")
	for _, origin := range []string{"https://app.example.com", "http://localhost:3000"} {
		if status, allow := preflight(s.url, origin); status != http.StatusNoContent || allow != origin {
			t.Errorf("preflight from %s: got %d, Access-Control-Allow-Origin %q", origin, status, allow)
		}
	}
	if status, allow := preflight(s.url, "https://evil.example"); status != http.StatusMethodNotAllowed || allow != "" {
		t.Errorf("preflight from another origin: got %d, Access-Control-Allow-Origin %q", status, allow)
	}
	s.stop(t)

	t.Setenv("PIHU_CORS_ORIGINS", "https://app.example.com")
	s = startServer(t, t.TempDir())
	if status, allow := preflight(s.url, "https://app.example.com"); status != http.StatusNoContent || allow != "https://app.example.com" {
		t.Errorf("PIHU_CORS_ORIGINS: got %d, Access-Control-Allow-Origin %q", status, allow)
	}
	s.stop(t)

	for _, bad := range []string{"*", "https://app.example.com/path"} {
		if out, code := runBinary(t, "serve", "--addr", "127.0.0.1:0", "--cors-origins", bad); code != 2 || !strings.Contains(out, "--cors-origins") {
			t.Errorf("--cors-origins %q: got exit %d and %q, want 2 naming the flag", bad, code, out)
		}
	}
}
