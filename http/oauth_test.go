package http_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/ratelimit"
)

// TestOAuth_ClientCredentials: golang.org/x/oauth2/clientcredentials,
// unchanged, gets a token from the real server and calls the API with it,
// with the credentials in HTTP Basic and in the body.
func TestOAuth_ClientCredentials(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"service","permissions":["candidate:read","candidate:write","token:write"]}`)
	for name, style := range map[string]oauth2.AuthStyle{"AutoDetect": oauth2.AuthStyleAutoDetect, "Basic": oauth2.AuthStyleInHeader, "Body": oauth2.AuthStyleInParams} {
		t.Run(name, func(t *testing.T) {
			cfg := clientcredentials.Config{
				ClientID: k.ID, ClientSecret: k.Key, TokenURL: ts.URL + "/v1/oauth/token",
				Scopes: []string{"candidate:read"}, AuthStyle: style,
			}
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, ts.Client())
			tok, err := cfg.Token(ctx)
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if tok.TokenType != "Bearer" || tok.Extra("scope") != "candidate:read" || tok.Extra("expires_in") != float64(900) || tok.Expiry.IsZero() {
				t.Errorf("token: got %s, scope %v, expires_in %v", tok.TokenType, tok.Extra("scope"), tok.Extra("expires_in"))
			}
			client := cfg.Client(ctx)
			res, err := client.Get(ts.URL + "/v1/candidates")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Errorf("GET /v1/candidates with the token: got %d", res.StatusCode)
			}
			res, err = client.Post(ts.URL+"/v1/candidates", "application/json", strings.NewReader(`{"name":"Ada","email":"ada@example.com"}`))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 403 {
				t.Errorf("POST /v1/candidates with a candidate:read token: got %d, want 403", res.StatusCode)
			}
		})
	}
	t.Run("ErrWrongSecret", func(t *testing.T) {
		other := ts.newKey(t, ts.Owner, `{"name":"other","permissions":["token:write"]}`)
		cfg := clientcredentials.Config{ClientID: k.ID, ClientSecret: other.Key, TokenURL: ts.URL + "/v1/oauth/token"}
		_, err := cfg.Token(context.WithValue(context.Background(), oauth2.HTTPClient, ts.Client()))
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
			t.Errorf("Token with another key's secret: got %v, want invalid_client", err)
		}
	})
}

// TestOAuth_SpendsCredits: a token minted at the token endpoint spends a
// credit of its key, as POST /v1/auth/tokens does, and counts in its
// usage; a retry with its Idempotency-Key spends none; a key out of
// credits gets RFC 6749's unauthorized_client, with the refill's headers.
func TestOAuth_SpendsCredits(t *testing.T) {
	ts := newTestServer(t) // 2024-02-20 12:00 UTC
	k := ts.newKey(t, ts.Owner, `{"name":"service","permissions":["token:write"],"remaining":2,"refill":{"interval":"daily","amount":2}}`)
	auth := map[string]string{"Authorization": basic(k.ID, k.Key)}
	retry := map[string]string{"Authorization": basic(k.ID, k.Key), "Idempotency-Key": "mint-1"}
	remaining := func(want int64) {
		t.Helper()
		if got := ts.keyItem(t, k.ID).Remaining; got == nil || *got != want {
			t.Errorf("remaining: got %s, want %d", ptrString(got), want)
		}
	}
	first := ts.oauth(t, "grant_type=client_credentials", retry)
	if first.status != 200 {
		t.Fatalf("mint: got %d %s", first.status, first.body)
	}
	remaining(1)
	checkReplay(t, ts.oauth(t, "grant_type=client_credentials", retry), first)
	remaining(1)
	if r := ts.oauth(t, "grant_type=client_credentials", auth); r.status != 200 {
		t.Fatalf("second mint: got %d %s", r.status, r.body)
	}
	remaining(0)
	r := ts.oauth(t, "grant_type=client_credentials", auth)
	var e pihuhttp.OAuthError
	r.decode(t, &e)
	if r.status != 400 || e.Error != "unauthorized_client" || !strings.Contains(e.ErrorDescription, "credits") {
		t.Errorf("out of credits: got %d %s, want 400 unauthorized_client about credits", r.status, r.body)
	}
	if r.header.Get(pihuhttp.HeaderCreditsRefill) != "2024-02-21T00:00:00Z" || r.header.Get("Retry-After") != "43200" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("out of credits: headers %v", r.header)
	}
	ts.Auth.Flush(t.Context())
	usage := ts.do(t, "GET", "/v1/auth/api-keys/"+k.ID+"/usage", ts.Owner, "")
	if usage.status != 200 || !strings.Contains(string(usage.body), `"allowed":3`) || !strings.Contains(string(usage.body), `"refused":1`) {
		t.Errorf("usage: got %d %s, want 3 allowed (two mints, one replay) and 1 refused", usage.status, usage.body)
	}
}

// oauth posts form to the token endpoint with the headers given.
func (ts *testServer) oauth(tb testing.TB, form string, headers map[string]string) response {
	tb.Helper()
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for k, v := range headers {
		h[k] = v
	}
	return ts.doWith(tb, "POST", "/v1/oauth/token", form, h)
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// TestOAuth_Errors: every refusal is RFC 6749 §5.2's body, with
// Cache-Control: no-store and Pragma: no-cache, and a 401 has the Basic
// challenge.
func TestOAuth_Errors(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"service","permissions":["candidate:read","token:write"]}`)
	noTokens := ts.newKey(t, ts.Owner, `{"name":"plain","permissions":["candidate:read"]}`)
	elsewhere := ts.newKey(t, ts.Owner, `{"name":"office","permissions":["token:write"],"allowed_ips":["203.0.113.7"]}`)
	revoked := ts.newKey(t, ts.Owner, `{"name":"gone","permissions":["token:write"]}`)
	ts.do(t, "DELETE", "/v1/auth/api-keys/"+revoked.ID, ts.Owner, "")
	slow := ts.newKey(t, ts.Owner, `{"name":"slow","permissions":["token:write"],"rate_limit":"1/h"}`)
	ts.do(t, "GET", "/v1/auth/whoami", slow.Key, "")
	auth := basic(k.ID, k.Key)
	creds := "&client_id=" + k.ID + "&client_secret=" + k.Key

	for _, tt := range []struct {
		name    string
		form    string
		headers map[string]string
		status  int
		code    string
	}{
		{"OKBasic", "grant_type=client_credentials", map[string]string{"Authorization": auth}, 200, ""},
		{"OKBody", "grant_type=client_credentials&scope=candidate:read" + creds, nil, 200, ""},
		{"OKUnknownParameterIgnored", "grant_type=client_credentials&resource=x", map[string]string{"Authorization": auth}, 200, ""},
		{"ErrNoCredentials", "grant_type=client_credentials", nil, 401, "invalid_client"},
		{"ErrWrongSecret", "grant_type=client_credentials", map[string]string{"Authorization": basic(k.ID, noTokens.Key)}, 401, "invalid_client"},
		{"ErrWrongID", "grant_type=client_credentials", map[string]string{"Authorization": basic(noTokens.ID, k.Key)}, 401, "invalid_client"},
		{"ErrUnknownSecret", "grant_type=client_credentials", map[string]string{"Authorization": basic(k.ID, "ph_live_x")}, 401, "invalid_client"},
		{"ErrTokenAsSecret", "grant_type=client_credentials", map[string]string{"Authorization": basic(k.ID, "a.b.c")}, 401, "invalid_client"},
		{"ErrBearer", "grant_type=client_credentials", map[string]string{"Authorization": "Bearer " + k.Key}, 401, "invalid_client"},
		{"ErrMalformedBasic", "grant_type=client_credentials", map[string]string{"Authorization": "Basic !!!"}, 401, "invalid_client"},
		{"ErrRevoked", "grant_type=client_credentials", map[string]string{"Authorization": basic(revoked.ID, revoked.Key)}, 401, "invalid_client"},
		{"ErrTwoMethods", "grant_type=client_credentials" + creds, map[string]string{"Authorization": auth}, 400, "invalid_request"},
		{"ErrNoGrantType", "scope=candidate:read", map[string]string{"Authorization": auth}, 400, "invalid_request"},
		{"ErrPasswordGrant", "grant_type=password&username=a&password=b", map[string]string{"Authorization": auth}, 400, "unsupported_grant_type"},
		{"ErrTwice", "grant_type=client_credentials&grant_type=client_credentials", map[string]string{"Authorization": auth}, 400, "invalid_request"},
		{"ErrJSON", `{"grant_type":"client_credentials"}`, map[string]string{"Authorization": auth, "Content-Type": "application/json"}, 400, "invalid_request"},
		{"ErrUnknownScope", "grant_type=client_credentials&scope=candidate:fly", map[string]string{"Authorization": auth}, 400, "invalid_scope"},
		{"ErrEscalation", "grant_type=client_credentials&scope=candidate:read%20interview:read", map[string]string{"Authorization": auth}, 400, "invalid_scope"},
		{"ErrNoTokenWrite", "grant_type=client_credentials", map[string]string{"Authorization": basic(noTokens.ID, noTokens.Key)}, 400, "unauthorized_client"},
		{"ErrAllowedIPs", "grant_type=client_credentials", map[string]string{"Authorization": basic(elsewhere.ID, elsewhere.Key)}, 400, "unauthorized_client"},
		{"ErrRateLimited", "grant_type=client_credentials", map[string]string{"Authorization": basic(slow.ID, slow.Key)}, 429, "temporarily_unavailable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.oauth(t, tt.form, tt.headers)
			if r.status != tt.status {
				t.Fatalf("status: got %d %s, want %d", r.status, r.body, tt.status)
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
				t.Errorf("headers: Cache-Control %q, Pragma %q; want no-store, no-cache", r.header.Get("Cache-Control"), r.header.Get("Pragma"))
			}
			if tt.status == 200 {
				var tok pihuhttp.OAuthToken
				r.decode(t, &tok)
				if tok.TokenType != "Bearer" || tok.ExpiresIn != 900 || tok.AccessToken == "" || tok.Scope == "" {
					t.Errorf("token: got %s", r.body)
				}
				return
			}
			var e map[string]string
			if err := json.Unmarshal(r.body, &e); err != nil || e["error"] != tt.code || e["error_description"] == "" || len(e) != 2 {
				t.Errorf("body: got %s, want error %q with a description and nothing else", r.body, tt.code)
			}
			if strings.Contains(string(r.body), k.Key) {
				t.Error("the error echoes the secret")
			}
			if got := r.header.Get("WWW-Authenticate"); (tt.status == 401) != strings.HasPrefix(got, `Basic realm="pihu"`) {
				t.Errorf("WWW-Authenticate: got %q on a %d", got, tt.status)
			}
			if tt.status == 429 && r.header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		})
	}
	t.Run("ErrQueryString", func(t *testing.T) {
		req, _ := http.NewRequest("POST", ts.URL+"/v1/oauth/token?grant_type=client_credentials", strings.NewReader(""))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 400 {
			t.Errorf("parameters in the URL: got %d, want 400", res.StatusCode)
		}
	})
	t.Run("Idempotency", func(t *testing.T) {
		h := map[string]string{"Authorization": auth, "Idempotency-Key": "oauth-1"}
		first := ts.oauth(t, "grant_type=client_credentials", h)
		again := ts.oauth(t, "grant_type=client_credentials", h)
		if first.status != 200 || string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry: got %d %s (replayed %q), want the first token again", again.status, again.body, again.header.Get("Idempotent-Replayed"))
		}
		if again.header.Get("Pragma") != "no-cache" || again.header.Get("Cache-Control") != "no-store" {
			t.Errorf("replay headers: %v", again.header)
		}
	})
	t.Run("Audited", func(t *testing.T) {
		if ev := ts.events(t, ts.Owner)[0]; ev.Action != "token.created" || ev.Target != k.ID {
			t.Errorf("newest event: got %+v, want token.created of %s", ev, k.ID)
		}
	})
}

// TestOAuth_FailedAuthLimit: wrong client secrets spend the address's
// failure budget, and then get 429 in RFC 6749's format.
func TestOAuth_FailedAuthLimit(t *testing.T) {
	ts := newTestServer(t, func(o *pihuhttp.Options) { o.FailedAuthLimit = ratelimit.PerMinute(2) })
	k := ts.newKey(t, ts.Owner, `{"name":"service","permissions":["token:write"]}`)
	wrong := map[string]string{"Authorization": basic(k.ID, "ph_live_"+strings.Repeat("x", 46))}
	for range 2 {
		if r := ts.oauth(t, "grant_type=client_credentials", wrong); r.status != 401 {
			t.Fatalf("wrong secret: got %d %s", r.status, r.body)
		}
	}
	if r := ts.oauth(t, "grant_type=client_credentials", wrong); r.status != 429 || !strings.Contains(string(r.body), "temporarily_unavailable") {
		t.Errorf("after the budget: got %d %s, want 429 temporarily_unavailable", r.status, r.body)
	}
}
