package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/client"
)

// protected is a service behind client.Middleware: it answers 200 with
// the verified identity.
func protected(tb testing.TB, cfg client.MiddlewareConfig) *httptest.Server {
	tb.Helper()
	h := client.Middleware(cfg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(client.IdentityFromContext(r.Context()))
	}))
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status int
	header http.Header
	id     client.Identity
	err    struct {
		Type, Code, Message, Param, Required string
		RequestID                            string `json:"request_id"`
	}
}

func call(tb testing.TB, url, authorization string) answer {
	tb.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	a := answer{status: res.StatusCode, header: res.Header}
	if res.StatusCode == 200 {
		err = json.NewDecoder(res.Body).Decode(&a.id)
	} else {
		var body struct{ Error *json.RawMessage }
		err = json.NewDecoder(res.Body).Decode(&body)
		if err == nil && body.Error != nil {
			err = json.Unmarshal(*body.Error, &a.err)
		}
	}
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestMiddleware runs a service protected by client.Middleware against a
// real pihu server: a valid key gets through with its identity in the
// context, every refusal has pihu's own status, code and challenge, a
// revoked key is refused once its cached verification ends, and an access
// token is verified offline.
func TestMiddleware(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	owner := s.client(t, s.Owner)
	verifier, err := owner.CreateKey(ctx, client.KeyParams{Name: "verifier", Permissions: []string{"api_key:verify"}})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := client.NewTokenVerifier(client.TokenVerifierConfig{Issuer: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	clk := &testClock{now: time.Now()}
	svc := protected(t, client.MiddlewareConfig{
		Client: s.client(t, verifier.Key), Tokens: tokens, Permissions: []string{"candidate:read"}, Now: clk.Now,
	})
	reader, err := owner.CreateKey(ctx, client.KeyParams{Name: "reader", Permissions: []string{"candidate:read"}})
	if err != nil {
		t.Fatal(err)
	}
	writerOnly, err := owner.CreateKey(ctx, client.KeyParams{Name: "interviews", Permissions: []string{"interview:read"}})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := owner.CreateKey(ctx, client.KeyParams{Name: "elsewhere", Permissions: []string{"candidate:read"}, AllowedIPs: []string{"192.0.2.1"}})
	if err != nil {
		t.Fatal(err)
	}
	limited, err := owner.CreateKey(ctx, client.KeyParams{Name: "limited", Permissions: []string{"candidate:read"}, RateLimit: "1/m"})
	if err != nil {
		t.Fatal(err)
	}
	disabled, err := owner.CreateKey(ctx, client.KeyParams{Name: "disabled", Permissions: []string{"candidate:read"}})
	if err != nil {
		t.Fatal(err)
	}
	if k, err := owner.DisableKey(ctx, disabled.ID); err != nil || k.Enabled {
		t.Fatalf("DisableKey: got %+v, %v", k, err)
	}
	forged := "ph_live_" + strings.Repeat("a", 40)

	t.Run("ValidKey", func(t *testing.T) {
		a := call(t, svc.URL, "Bearer "+reader.Key)
		if a.status != 200 || a.id.KeyID != reader.ID || a.id.Kind != client.KindAPIKey || a.id.Environment != "live" || !a.id.Has("candidate:read") {
			t.Fatalf("got %d %+v, want 200 with the reader's identity", a.status, a.id)
		}
	})
	// Each refusal is compared with pihu's answer to the same key on a
	// route needing the same permission.
	for _, tc := range []struct {
		name, authorization string
		status              int
		code, param         string
	}{
		{"NoKey", "", 401, "missing_api_key", ""},
		{"BasicScheme", "Basic dXNlcjpwYXNz", 401, "missing_api_key", ""},
		{"Malformed", "Bearer a b", 400, "parameter_invalid", "Authorization"},
		{"NotAB64Token", "Bearer ph_live_é", 400, "parameter_invalid", "Authorization"},
		{"UnknownKey", "Bearer " + forged, 401, "invalid_api_key", ""},
		{"WithoutPermission", "Bearer " + writerOnly.Key, 403, "insufficient_permissions", ""},
		{"FromAnotherAddress", "Bearer " + elsewhere.Key, 403, "ip_not_allowed", ""},
		{"Disabled", "Bearer " + disabled.Key, 401, "disabled_api_key", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, svc.URL, tc.authorization)
			p := call(t, s.URL+"/v1/candidates", tc.authorization)
			if a.status != tc.status || a.err.Code != tc.code || a.err.Param != tc.param || a.err.Message == "" || !strings.HasPrefix(a.err.RequestID, "req_") {
				t.Errorf("middleware: got %d %+v, want %d %s", a.status, a.err, tc.status, tc.code)
			}
			if a.status != p.status || a.err.Type != p.err.Type || a.err.Code != p.err.Code || a.err.Param != p.err.Param || a.err.Required != p.err.Required {
				t.Errorf("middleware answered %d %+v, pihu %d %+v", a.status, a.err, p.status, p.err)
			}
			got, want := a.header.Get("WWW-Authenticate"), p.header.Get("WWW-Authenticate")
			if cut := strings.Index(want, ", error_description"); cut >= 0 {
				want = want[:cut]
			}
			if !strings.HasPrefix(got, want) || (want == "") != (got == "") {
				t.Errorf("WWW-Authenticate: got %q, pihu %q", got, p.header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("RateLimited", func(t *testing.T) {
		clk.Add(time.Minute) // no cached verification of it
		if a := call(t, svc.URL, "Bearer "+limited.Key); a.status != 200 {
			t.Fatalf("first request: got %d", a.status)
		}
		clk.Add(time.Minute)
		a := call(t, svc.URL, "Bearer "+limited.Key)
		if a.status != 429 || a.err.Code != "rate_limited" || a.err.Type != "rate_limit_error" || a.header.Get("Retry-After") == "" {
			t.Errorf("got %d %+v Retry-After %q, want 429 rate_limited with Retry-After", a.status, a.err, a.header.Get("Retry-After"))
		}
	})
	t.Run("RevokedAfterCache", func(t *testing.T) {
		k, err := owner.CreateKey(ctx, client.KeyParams{Name: "to revoke", Permissions: []string{"candidate:read"}})
		if err != nil {
			t.Fatal(err)
		}
		if a := call(t, svc.URL, "Bearer "+k.Key); a.status != 200 {
			t.Fatalf("before revocation: got %d", a.status)
		}
		if _, err := owner.RevokeKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if a := call(t, svc.URL, "Bearer "+k.Key); a.status != 200 {
			t.Errorf("within the cache's 5 s: got %d, want the cached 200", a.status)
		}
		clk.Add(5 * time.Second)
		if a := call(t, svc.URL, "Bearer "+k.Key); a.status != 401 || a.err.Code != "revoked_api_key" {
			t.Errorf("after the cache's 5 s: got %d %+v, want 401 revoked_api_key", a.status, a.err)
		}
	})
	t.Run("AccessTokenOffline", func(t *testing.T) {
		minter, err := owner.CreateKey(ctx, client.KeyParams{Name: "minter", Permissions: []string{"token:write", "candidate:read", "interview:read"}})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.client(t, minter.Key).CreateToken(ctx, client.TokenParams{Permissions: []string{"candidate:read"}})
		if err != nil {
			t.Fatal(err)
		}
		a := call(t, svc.URL, "Bearer "+tok.AccessToken)
		if a.status != 200 || a.id.Kind != client.KindAccessToken || a.id.KeyID != minter.ID || a.id.TokenID == "" {
			t.Errorf("got %d %+v, want 200 with the token's identity", a.status, a.id)
		}
		narrow, err := s.client(t, minter.Key).CreateToken(ctx, client.TokenParams{Permissions: []string{"interview:read"}})
		if err != nil {
			t.Fatal(err)
		}
		if a := call(t, svc.URL, "Bearer "+narrow.AccessToken); a.status != 403 || a.err.Required != "candidate:read" {
			t.Errorf("token without the permission: got %d %+v, want 403 requiring candidate:read", a.status, a.err)
		}
		if a := call(t, svc.URL, "Bearer "+tok.AccessToken[:len(tok.AccessToken)-4]+"AAAA"); a.status != 401 || a.err.Code != "invalid_api_key" {
			t.Errorf("tampered token: got %d %+v, want 401 invalid_api_key", a.status, a.err)
		}
	})
	t.Run("PihuUnreachable", func(t *testing.T) {
		down, err := client.New(client.Config{BaseURL: "http://127.0.0.1:1/", APIKey: verifier.Key})
		if err != nil {
			t.Fatal(err)
		}
		svc := protected(t, client.MiddlewareConfig{Client: down})
		if a := call(t, svc.URL, "Bearer "+reader.Key); a.status != 503 || a.err.Type != "api_error" {
			t.Errorf("got %d %+v, want 503 api_error", a.status, a.err)
		}
	})
}
