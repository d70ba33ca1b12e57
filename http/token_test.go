package http_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/ratelimit"
)

// mint mints a token with key through POST /v1/auth/tokens.
func (ts *testServer) mint(tb testing.TB, key, body string) pihuhttp.TokenCreated {
	tb.Helper()
	r := ts.do(tb, "POST", "/v1/auth/tokens", key, body)
	if r.status != 200 {
		tb.Fatalf("minting a token with %s: got %d %s", body, r.status, r.body)
	}
	var tok pihuhttp.TokenCreated
	r.decode(tb, &tok)
	return tok
}

// signingKey returns the server's active signing key, as stored.
func (ts *testServer) signingKey(tb testing.TB) *pihu.SigningKey {
	tb.Helper()
	keys, err := ts.Store.SigningKeys(context.Background())
	if err != nil || len(keys) == 0 || keys[0].Retired != nil {
		tb.Fatalf("SigningKeys: %v, %v", len(keys), err)
	}
	return keys[0]
}

// forge signs claims with method and key under the header fields given,
// as an attacker (or a test) would.
func forge(tb testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	tb.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// payload decodes the claims of a JWT without verifying it.
func payload(tb testing.TB, token string) jwt.MapClaims {
	tb.Helper()
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatal(err)
	}
	var c jwt.MapClaims
	if err := json.Unmarshal(b, &c); err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestTokens_Create(t *testing.T) {
	ts := newTestServer(t)
	minter := ts.newKey(t, ts.Owner, `{"name":"minter","permissions":["candidate:read","token:write"]}`)
	noTokens := ts.newKey(t, ts.Owner, `{"name":"no tokens","permissions":["candidate:read"]}`).Key
	shortLived := ts.newKey(t, ts.Owner, `{"name":"short","permissions":["*"],"expiration":"30m"}`).Key
	slow := ts.newKey(t, ts.Owner, `{"name":"slow","permissions":["token:write"],"rate_limit":"1/h"}`).Key
	ts.do(t, "GET", "/v1/auth/whoami", slow, "")

	checkToken := func(expiresIn int, perms ...string) func(t *testing.T, r response) {
		return func(t *testing.T, r response) {
			var tok pihuhttp.TokenCreated
			r.decode(t, &tok)
			if tok.TokenType != "Bearer" || tok.ExpiresIn != expiresIn || !slices.Equal(tok.Permissions, perms) {
				t.Errorf("token: got %s %d %v, want Bearer %d %v", tok.TokenType, tok.ExpiresIn, tok.Permissions, expiresIn, perms)
			}
			if want := ts.Clock.Now().Add(time.Duration(expiresIn) * time.Second).Format(time.RFC3339); tok.Expires != want {
				t.Errorf("expires: got %s, want %s", tok.Expires, want)
			}
			c := payload(t, tok.AccessToken)
			if c["sub"] != minterOrOwner(ts, t, c) || c["acct"] != ts.Account.ID || c["env"] != "live" || c["scope"] != strings.Join(perms, " ") {
				t.Errorf("claims: got %v", c)
			}
			if c["iss"] != ts.Tokens.Issuer() || c["jti"] == "" || c["exp"].(float64)-c["iat"].(float64) != float64(expiresIn) {
				t.Errorf("claims: got %v", c)
			}
			for _, secret := range []string{ts.Owner, minter.Key} {
				if strings.Contains(tok.AccessToken, secret) {
					t.Error("the token holds a secret key")
				}
			}
		}
	}
	ts.run(t, []scenario{
		{name: "Default", method: "POST", path: "/v1/auth/tokens", key: minter.Key, status: 200, check: checkToken(900, "candidate:read", "token:write")},
		{name: "EmptyObject", method: "POST", path: "/v1/auth/tokens", key: minter.Key, body: `{}`, status: 200, check: checkToken(900, "candidate:read", "token:write")},
		{name: "Subset", method: "POST", path: "/v1/auth/tokens", key: minter.Key, body: `{"permissions":["candidate:read"],"expires_in":"1h"}`, status: 200, check: checkToken(3600, "candidate:read")},
		{name: "WildcardKey", method: "POST", path: "/v1/auth/tokens", key: ts.Owner, body: `{"permissions":["interview:*"],"expires_in":"5m"}`, status: 200, check: checkToken(300, "interview:*")},
		{name: "DefaultEndsWithTheKey", method: "POST", path: "/v1/auth/tokens", key: shortLived, body: `{"expires_in":"30m"}`, status: 200, check: checkToken(1800, "*")},
		{name: "Audience", method: "POST", path: "/v1/auth/tokens", key: minter.Key, body: `{"audience":"https://api.example.com"}`, status: 200,
			check: func(t *testing.T, r response) {
				var tok pihuhttp.TokenCreated
				r.decode(t, &tok)
				if aud := payload(t, tok.AccessToken)["aud"]; !slices.Equal(toStrings(aud), []string{"https://api.example.com"}) {
					t.Errorf("aud: got %v", aud)
				}
			}},
		{name: "ErrEscalation", method: "POST", path: "/v1/auth/tokens", key: minter.Key, body: `{"permissions":["candidate:write"]}`, status: 403, code: "insufficient_permissions", param: "permissions",
			check: func(t *testing.T, r response) {
				if got := r.errorBody(t).Required; got != "candidate:write" {
					t.Errorf("required: got %q, want candidate:write", got)
				}
			}},
		{name: "ErrEscalationWildcard", method: "POST", path: "/v1/auth/tokens", key: minter.Key, body: `{"permissions":["*"]}`, status: 403, code: "insufficient_permissions", param: "permissions"},
		{name: "ErrEmptyPermissions", method: "POST", path: "/v1/auth/tokens", key: minter.Key, body: `{"permissions":[]}`, status: 400, code: "parameter_invalid", param: "permissions"},
		{name: "ErrUnknownPermission", method: "POST", path: "/v1/auth/tokens", key: minter.Key, body: `{"permissions":["candidate:fly"]}`, status: 400, code: "parameter_invalid", param: "permissions"},
		{name: "ErrTooLong", method: "POST", path: "/v1/auth/tokens", key: minter.Key, body: `{"expires_in":"61m"}`, status: 400, code: "parameter_invalid", param: "expires_in"},
		{name: "ErrNotALifetime", method: "POST", path: "/v1/auth/tokens", key: minter.Key, body: `{"expires_in":"15"}`, status: 400, code: "parameter_invalid", param: "expires_in"},
		{name: "ErrEmptyExpiresIn", method: "POST", path: "/v1/auth/tokens", key: minter.Key, body: `{"expires_in":""}`, status: 400, code: "parameter_invalid", param: "expires_in"},
		{name: "ErrOutlivesKey", method: "POST", path: "/v1/auth/tokens", key: shortLived, body: `{"expires_in":"31m"}`, status: 400, code: "parameter_invalid", param: "expires_in",
			check: func(t *testing.T, r response) {
				if want := ts.Clock.Now().Add(30 * time.Minute).Format(time.RFC3339); !strings.Contains(r.errorBody(t).Message, want) {
					t.Errorf("message %q does not say when the key expires (%s)", r.errorBody(t).Message, want)
				}
			}},
		{name: "ErrAudience", method: "POST", path: "/v1/auth/tokens", key: minter.Key, body: `{"audience":"two words"}`, status: 400, code: "parameter_invalid", param: "audience"},
		{name: "ErrAudienceRelative", method: "POST", path: "/v1/auth/tokens", key: minter.Key, body: `{"audience":"http:/relative"}`, status: 400, code: "parameter_invalid", param: "audience"},
		{name: "ErrEmptyAudience", method: "POST", path: "/v1/auth/tokens", key: minter.Key, body: `{"audience":""}`, status: 400, code: "parameter_invalid", param: "audience"},
		{name: "ErrUnknownField", method: "POST", path: "/v1/auth/tokens", key: minter.Key, body: `{"scope":"candidate:read"}`, status: 400, code: "parameter_unknown", param: "scope"},
		{name: "ErrNoPermission", method: "POST", path: "/v1/auth/tokens", key: noTokens, status: 403, code: "insufficient_permissions",
			check: func(t *testing.T, r response) {
				if got := r.errorBody(t).Required; got != "token:write" {
					t.Errorf("required: got %q, want token:write", got)
				}
			}},
		{name: "ErrNoKey", method: "POST", path: "/v1/auth/tokens", status: 401, code: "missing_api_key"},
		{name: "ErrRateLimited", method: "POST", path: "/v1/auth/tokens", key: slow, status: 429, code: "rate_limited"},
		{name: "ErrNotFound", method: "POST", path: "/v1/auth/token", key: minter.Key, status: 404, code: "not_found"},
	})
}

// minterOrOwner is the key id a token's sub should be: the one whose
// secret minted it, found by the token's own claim being one of the
// account's keys.
func minterOrOwner(ts *testServer, tb testing.TB, c jwt.MapClaims) string {
	tb.Helper()
	id, _ := c["sub"].(string)
	if _, err := ts.Store.Key(context.Background(), ts.Account.ID, id); err != nil {
		return "not a key of the account"
	}
	if c["client_id"] != id {
		return "client_id differs from sub"
	}
	return id
}

func toStrings(v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		out = append(out, v)
	case []any:
		for _, s := range v {
			out = append(out, s.(string))
		}
	}
	return out
}

// TestTokens_Use: a token works wherever a key does, with its own
// permissions, as its parent key (account, rate limit, last_used); it
// stops at its exp and, on pihu, as soon as its parent is revoked.
func TestTokens_Use(t *testing.T) {
	ts := newTestServer(t)
	parent := ts.newKey(t, ts.Owner, `{"name":"backend","permissions":["candidate:read","candidate:write","token:write"],"rate_limit":"10/h"}`)
	tok := ts.mint(t, parent.Key, `{"permissions":["candidate:read"]}`)

	ts.run(t, []scenario{
		{name: "Read", method: "GET", path: "/v1/candidates", key: tok.AccessToken, status: 200},
		{name: "ErrWrite", method: "POST", path: "/v1/candidates", key: tok.AccessToken, body: `{"name":"Ada","email":"ada@example.com"}`, status: 403, code: "insufficient_permissions",
			check: func(t *testing.T, r response) {
				if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="insufficient_scope"`) {
					t.Errorf("WWW-Authenticate: got %q", got)
				}
			}},
		{name: "ErrMintMore", method: "POST", path: "/v1/auth/tokens", key: tok.AccessToken, status: 403, code: "insufficient_permissions"},
		{name: "Whoami", method: "GET", path: "/v1/auth/whoami", key: tok.AccessToken, status: 200,
			check: func(t *testing.T, r response) {
				var who struct {
					Key struct {
						ID          string
						Permissions []string
						Expires     string
					}
					Account struct{ ID string }
				}
				r.decode(t, &who)
				if who.Key.ID != parent.ID || who.Account.ID != ts.Account.ID || !slices.Equal(who.Key.Permissions, []string{"candidate:read"}) || who.Key.Expires != tok.Expires {
					t.Errorf("whoami with a token: got %+v, want key %s with [candidate:read] until %s", who, parent.ID, tok.Expires)
				}
			}},
	})

	t.Run("RateLimitAndLastUsedOfTheParent", func(t *testing.T) {
		r := ts.do(t, "GET", "/v1/candidates", tok.AccessToken, "")
		// 1 mint + 4 uses above + this one: the parent's limit of 10/h.
		if got := r.header.Get("RateLimit-Remaining"); got != "4" {
			t.Errorf("RateLimit-Remaining: got %s, want 4 (the parent key's budget)", got)
		}
		if err := ts.Auth.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		k, err := ts.Store.Key(context.Background(), ts.Account.ID, parent.ID)
		if err != nil || k.LastUsed == nil {
			t.Errorf("parent's last_used after a token's use: got %v (%v), want set", k.LastUsed, err)
		}
		var line string
		for l := range strings.Lines(ts.logs.String()) {
			if strings.Contains(l, "msg=request") && strings.Contains(l, "path=/v1/candidates") {
				line = l
			}
		}
		if !strings.Contains(line, "key_id="+parent.ID) || !strings.Contains(line, "token_id=tok_") {
			t.Errorf("the request's log line does not name the parent key and the token: %q", line)
		}
	})

	t.Run("ErrExpired", func(t *testing.T) {
		short := ts.mint(t, parent.Key, `{"expires_in":"1m"}`)
		ts.do(t, "GET", "/v1/candidates", short.AccessToken, "")
		ts.Clock.Add(time.Minute)
		r := ts.do(t, "GET", "/v1/candidates", short.AccessToken, "")
		checkCode(t, r, 401, "expired_api_key", "")
		if msg := r.errorBody(t).Message; !strings.Contains(msg, "access token expired") {
			t.Errorf("message: got %q, want it to say the access token expired", msg)
		}
	})

	t.Run("ErrParentRevoked", func(t *testing.T) {
		ts.do(t, "GET", "/v1/candidates", tok.AccessToken, "") // cached
		if r := ts.do(t, "DELETE", "/v1/auth/api-keys/"+parent.ID, ts.Owner, ""); r.status != 200 {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		r := ts.do(t, "GET", "/v1/candidates", tok.AccessToken, "")
		checkCode(t, r, 401, "revoked_api_key", "")
		if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
			t.Errorf("WWW-Authenticate: got %q", got)
		}
	})

	t.Run("ErrParentExpired", func(t *testing.T) {
		k := ts.newKey(t, ts.Owner, `{"name":"brief","permissions":["token:write","candidate:read"],"expiration":"10m"}`)
		tok := ts.mint(t, k.Key, "")
		if tok.ExpiresIn != 600 {
			t.Errorf("expires_in: got %d, want 600 (the key's remaining life)", tok.ExpiresIn)
		}
		ts.Clock.Add(10 * time.Minute)
		checkCode(t, ts.do(t, "GET", "/v1/candidates", tok.AccessToken, ""), 401, "expired_api_key", "")
	})
}

// TestTokens_TokenMintsToken: a token with token:write mints tokens that
// neither outlive nor exceed it, and creates keys that do not outlive it.
func TestTokens_TokenMintsToken(t *testing.T) {
	ts := newTestServer(t)
	outer := ts.mint(t, ts.Owner, `{"permissions":["token:write","candidate:read","api_key:write"],"expires_in":"10m"}`)
	inner := ts.mint(t, outer.AccessToken, `{"permissions":["candidate:read"],"expires_in":"5m"}`)
	if r := ts.do(t, "GET", "/v1/candidates", inner.AccessToken, ""); r.status != 200 {
		t.Errorf("inner token: got %d %s", r.status, r.body)
	}
	if c := payload(t, inner.AccessToken); c["sub"] != ts.ownerID(t) {
		t.Errorf("inner token's sub: got %v, want the owner key", c["sub"])
	}
	checkCode(t, ts.do(t, "POST", "/v1/auth/tokens", outer.AccessToken, `{"expires_in":"11m"}`), 400, "parameter_invalid", "expires_in")
	checkCode(t, ts.do(t, "POST", "/v1/auth/tokens", outer.AccessToken, `{"permissions":["interview:read"]}`), 403, "insufficient_permissions", "permissions")
	// A key made with a token cannot outlive the token.
	checkCode(t, ts.do(t, "POST", "/v1/auth/api-keys", outer.AccessToken, `{"name":"forever","permissions":["candidate:read"]}`), 400, "parameter_invalid", "expiration")
	if r := ts.do(t, "POST", "/v1/auth/api-keys", outer.AccessToken, `{"name":"brief","permissions":["candidate:read"],"expiration":"10m"}`); r.status != 200 {
		t.Errorf("a key within the token's life: got %d %s", r.status, r.body)
	}
}

// TestTokens_Refused: tokens that are not exactly what pihu issued are
// 401 invalid_api_key with the RFC 6750 challenge, and count as failed
// authentications: forged ones, and ones signed with the real key that
// claim what pihu never issues (a lifetime over an hour, "crit"
// extensions, another "typ", even in case only, dates that are not
// numbers).
func TestTokens_Refused(t *testing.T) {
	ts := newTestServer(t)
	good := ts.mint(t, ts.Owner, `{"permissions":["candidate:read"]}`).AccessToken
	sk := ts.signingKey(t)
	claims := payload(t, good)
	header := map[string]any{"kid": sk.ID, "typ": "at+jwt"}
	with := func(name string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		if v == nil {
			delete(c, name)
		} else {
			c[name] = v
		}
		return c
	}
	parts := strings.Split(good, ".")
	tampered := with("scope", "*")
	tamperedJSON, _ := json.Marshal(tampered)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	iat, exp := claims["iat"].(float64), claims["exp"].(float64)
	verifier := ts.newKey(t, ts.Owner, `{"name":"verifier","permissions":["api_key:verify"]}`).Key
	noneToken := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"`+sk.ID+`"}`)) + "." + parts[1] + "."

	for _, tt := range []struct {
		name, token, message string
	}{
		{"TamperedPayload", parts[0] + "." + base64.RawURLEncoding.EncodeToString(tamperedJSON) + "." + parts[2], "signature"},
		{"TamperedSignature", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64)), "signature"},
		{"AlgNone", noneToken, "algorithm"},
		{"AlgNoneSigned", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, header, claims), "algorithm"},
		{"HS256WithThePublicKey", forge(t, jwt.SigningMethodHS256, []byte(sk.PublicKey), header, claims), "algorithm"},
		{"HS256WithThePublicKeyBase64", forge(t, jwt.SigningMethodHS256, []byte(base64.RawURLEncoding.EncodeToString(sk.PublicKey)), header, claims), "algorithm"},
		{"UnknownKid", forge(t, jwt.SigningMethodEdDSA, otherKey, map[string]any{"kid": "sig_unknown", "typ": "at+jwt"}, claims), "kid"},
		{"NoKid", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, map[string]any{"typ": "at+jwt"}, claims), "kid"},
		{"KnownKidOtherKey", forge(t, jwt.SigningMethodEdDSA, otherKey, header, claims), "signature"},
		{"OtherIssuer", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, header, with("iss", "https://evil.example")), "issued by another server"},
		{"OtherAudience", ts.mint(t, ts.Owner, `{"audience":"https://other.example"}`).AccessToken, "another audience"},
		{"NoExp", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, header, with("exp", nil)), "format"},
		{"FutureIat", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, header, with("iat", float64(ts.Clock.Now().Add(time.Hour).Unix()))), "format"},
		{"NoTyp", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, map[string]any{"kid": sk.ID}, claims), "format"},
		{"IDToken", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, map[string]any{"kid": sk.ID, "typ": "JWT"}, claims), "format"},
		{"BadScope", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, header, with("scope", "root")), "scope"},
		{"OtherAccount", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, header, with("acct", "acct_other")), "does not exist"},
		{"Garbage", "a.b.c", "format"},
		// Signed with the real key, yet not what pihu issues.
		{"LifetimeOverAnHour", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, header, with("exp", iat+3601)), "longer than the 1 hour"},
		{"LifetimeOfADay", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, header, with("exp", iat+86400)), "longer than the 1 hour"},
		{"Crit", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, map[string]any{"kid": sk.ID, "typ": "at+jwt", "crit": []string{"ext"}, "ext": true}, claims), "crit"},
		{"CritEmpty", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, map[string]any{"kid": sk.ID, "typ": "at+jwt", "crit": []string{}}, claims), "crit"},
		{"TypUpperCase", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, map[string]any{"kid": sk.ID, "typ": "AT+JWT"}, claims), `"typ" must be exactly "at+jwt"`},
		{"TypMediaType", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, map[string]any{"kid": sk.ID, "typ": "application/at+jwt"}, claims), `"typ" must be exactly "at+jwt"`},
		{"ExpString", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, header, with("exp", strconv.FormatInt(int64(exp), 10))), `"exp" is not a number`},
		{"IatString", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, header, with("iat", strconv.FormatInt(int64(iat), 10))), `"iat" is not a number`},
		{"NbfString", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, header, with("nbf", strconv.FormatInt(int64(iat), 10))), `"nbf" is not a number`},
		{"ExpNull", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, header, with("exp", json.RawMessage("null"))), `"exp" is not a number`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(t, "GET", "/v1/candidates", tt.token, "")
			checkCode(t, r, 401, "invalid_api_key", "")
			if msg := r.errorBody(t).Message; !strings.Contains(msg, tt.message) {
				t.Errorf("message: got %q, want it to mention %q", msg, tt.message)
			}
			if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="pihu", error="invalid_token", error_description="`) {
				t.Errorf("WWW-Authenticate: got %q", got)
			}
			// The verification endpoint refuses it the same way.
			body, _ := json.Marshal(map[string]string{"key": tt.token})
			var v pihuhttp.VerifyResult
			ts.do(t, "POST", "/v1/auth/verify", verifier, string(body)).decode(t, &v)
			if v.Valid || v.Code != "NOT_FOUND" {
				t.Errorf("verify: got %s, want NOT_FOUND", v.Code)
			}
		})
	}
	t.Run("Forged", func(t *testing.T) {
		// The forging helper itself makes tokens pihu takes: the cases
		// above fail for the reason they name, not for the helper.
		if r := ts.do(t, "GET", "/v1/candidates", forge(t, jwt.SigningMethodEdDSA, sk.PrivateKey, header, claims), ""); r.status != 200 {
			t.Errorf("a token signed like pihu's: got %d %s", r.status, r.body)
		}
	})
}

// TestTokens_FailedAuthLimit: bad tokens spend the address's failure
// budget like bad keys, and then get 429; so does a token this server has
// not verified yet (its signature is not checked for that address), while
// a token already verified goes on working, as a key already seen does.
func TestTokens_FailedAuthLimit(t *testing.T) {
	ts := newTestServer(t, func(o *pihuhttp.Options) { o.FailedAuthLimit = ratelimit.PerMinute(2) })
	seen := ts.mint(t, ts.Owner, "").AccessToken
	ts.do(t, "GET", "/v1/candidates", seen, "")
	unseen := ts.mint(t, ts.Owner, "").AccessToken
	for range 2 {
		checkCode(t, ts.do(t, "GET", "/v1/candidates", "a.b.c", ""), 401, "invalid_api_key", "")
	}
	checkCode(t, ts.do(t, "GET", "/v1/candidates", "a.b.c", ""), 429, "rate_limited", "")
	checkCode(t, ts.do(t, "GET", "/v1/candidates", unseen, ""), 429, "rate_limited", "")
	if r := ts.do(t, "GET", "/v1/candidates", seen, ""); r.status != 200 {
		t.Errorf("a token verified before: got %d %s, want 200", r.status, r.body)
	}
}

// TestTokens_Audit: minting is a token.created event of the key, and
// neither the audit log, the database nor the server log holds the token.
func TestTokens_Audit(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"minter","permissions":["token:write","api_key:read"]}`)
	tok := ts.mint(t, k.Key, "")
	ts.do(t, "GET", "/v1/auth/whoami", tok.AccessToken, "")
	events := ts.events(t, ts.Owner)
	if len(events) == 0 || events[0].Action != "token.created" || events[0].Actor != k.ID || events[0].Target != k.ID {
		t.Fatalf("newest event: got %+v, want token.created by and of %s", events[0], k.ID)
	}
	b, _ := json.Marshal(events)
	sig := tok.AccessToken[strings.LastIndex(tok.AccessToken, ".")+1:]
	if strings.Contains(string(b), sig) || strings.Contains(ts.logs.String(), sig) {
		t.Error("the token is in the audit log or the server log")
	}
}

// TestTokens_Idempotency: a retry with the same Idempotency-Key gets the
// same token; a token never replays its parent key's responses.
func TestTokens_Idempotency(t *testing.T) {
	ts := newTestServer(t)
	first := ts.post(t, "/v1/auth/tokens", ts.Owner, `{"expires_in":"5m"}`, "mint-1")
	checkActed(t, first, 200)
	checkReplay(t, ts.post(t, "/v1/auth/tokens", ts.Owner, `{"expires_in":"5m"}`, "mint-1"), first)

	body := `{"name":"k","permissions":["candidate:read"],"expiration":"10m"}`
	created := ts.post(t, "/v1/auth/api-keys", ts.Owner, body, "create-1")
	checkActed(t, created, 200)
	tok := ts.mint(t, ts.Owner, `{"permissions":["api_key:write","candidate:read"]}`)
	again := ts.post(t, "/v1/auth/api-keys", tok.AccessToken, body, "create-1")
	checkActed(t, again, 200)
	if strings.Contains(string(again.body), payloadKey(t, created)) {
		t.Error("a token was replayed its parent key's response, with the secret it holds")
	}
}

func payloadKey(tb testing.TB, r response) string {
	tb.Helper()
	var k pihuhttp.KeyCreated
	r.decode(tb, &k)
	return k.Key
}

// TestTokens_Rotation: a rotation made elsewhere (another instance, the
// CLI) is followed: a token signed with the new key is accepted at once
// (an unknown kid reloads the keys), tokens of the old key keep working
// until they expire, and the old key leaves the JWKS after
// SigningKeyRetention.
func TestTokens_Rotation(t *testing.T) {
	ts := newTestServer(t)
	old := ts.mint(t, ts.Owner, `{"expires_in":"1h"}`)
	oldKid := ts.signingKey(t).ID
	if _, err := ts.Store.RotateSigningKey(context.Background(), pihu.NewSigningKey(ts.Clock.Now())); err != nil {
		t.Fatal(err)
	}
	other := auth.NewTokens(ts.Store, auth.TokenOptions{Issuer: ts.Tokens.Issuer(), Now: ts.Clock.Now})
	at, err := pihu.NewAccessToken(mustKey(t, ts, ts.ownerID(t)), pihu.TokenRequest{}, ts.Tokens.Issuer(), ts.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := other.Sign(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	for name, token := range map[string]string{"NewKey": fresh, "OldKey": old.AccessToken} {
		if r := ts.do(t, "GET", "/v1/auth/whoami", token, ""); r.status != 200 {
			t.Errorf("%s: got %d %s", name, r.status, r.body)
		}
	}
	kids := func() []string {
		var doc auth.JWKS
		ts.do(t, "GET", "/.well-known/jwks.json", "", "").decode(t, &doc)
		var ids []string
		for _, k := range doc.Keys {
			ids = append(ids, k.KeyID)
		}
		return ids
	}
	if got := kids(); len(got) != 2 || got[1] != oldKid {
		t.Errorf("JWKS after rotation: got %v, want the new key and %s", got, oldKid)
	}
	ts.Clock.Add(pihu.SigningKeyRetention)
	if got := kids(); len(got) != 1 || got[0] == oldKid {
		t.Errorf("JWKS after the retention: got %v, want the new key only", got)
	}
}

func mustKey(tb testing.TB, ts *testServer, id string) *pihu.Key {
	tb.Helper()
	k, err := ts.Store.Key(context.Background(), ts.Account.ID, id)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func TestTokens_JWKS(t *testing.T) {
	ts := newTestServer(t)
	ts.run(t, []scenario{
		{name: "Keys", method: "GET", path: "/.well-known/jwks.json", status: 200, check: func(t *testing.T, r response) {
			if got := r.header.Get("Cache-Control"); got != "public, max-age=300" {
				t.Errorf("Cache-Control: got %q", got)
			}
			var doc map[string][]map[string]string
			r.decode(t, &doc)
			sk := ts.signingKey(t)
			if len(doc["keys"]) != 1 {
				t.Fatalf("keys: got %v", doc)
			}
			k := doc["keys"][0]
			want := map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": sk.ID, "alg": "EdDSA", "use": "sig", "x": base64.RawURLEncoding.EncodeToString(sk.PublicKey)}
			if len(k) != len(want) {
				t.Errorf("key: got %v, want exactly %v", k, want)
			}
			for name, v := range want {
				if k[name] != v {
					t.Errorf("%s: got %q, want %q", name, k[name], v)
				}
			}
		}},
		{name: "Discovery", method: "GET", path: "/.well-known/openid-configuration", status: 200, check: func(t *testing.T, r response) {
			var c pihuhttp.OpenIDConfiguration
			r.decode(t, &c)
			iss := ts.Tokens.Issuer()
			if c.Issuer != iss || c.JWKSURI != iss+"/.well-known/jwks.json" || c.TokenEndpoint != iss+"/v1/oauth/token" ||
				!slices.Equal(c.GrantTypesSupported, []string{"client_credentials"}) || !slices.Contains(c.TokenEndpointAuthMethodsSupported, "client_secret_basic") {
				t.Errorf("discovery: got %+v", c)
			}
		}},
		{name: "ErrMethod", method: "POST", path: "/.well-known/jwks.json", body: `{}`, status: 405, code: "method_not_allowed"},
	})
}

// TestTokens_Discovery: the discovery documents claim what is true of
// pihu, and only that. RFC 8414's document has every field that RFC
// requires, client credentials as the only grant, and no authorization
// endpoint (pihu has none), so no response type. OpenID Connect
// Discovery's is that, with the fields it requires that pihu's tokens
// make true, and partial: no authorization_endpoint. Both, and the JWKS,
// answer HEAD and ignore a query string.
func TestTokens_Discovery(t *testing.T) {
	ts := newTestServer(t)
	iss := ts.Tokens.Issuer()
	fields := func(t *testing.T, r response) map[string]any {
		t.Helper()
		var m map[string]any
		r.decode(t, &m)
		return m
	}
	ts.run(t, []scenario{
		{name: "RFC8414", method: "GET", path: "/.well-known/oauth-authorization-server", status: 200, check: func(t *testing.T, r response) {
			m := fields(t, r)
			// RFC 8414 §2: issuer, token_endpoint (with a grant that uses
			// it), response_types_supported are required.
			for _, name := range []string{"issuer", "token_endpoint", "response_types_supported", "jwks_uri", "grant_types_supported", "token_endpoint_auth_methods_supported", "scopes_supported"} {
				if _, ok := m[name]; !ok {
					t.Errorf("no %q in %v", name, m)
				}
			}
			if m["issuer"] != iss || m["token_endpoint"] != iss+"/v1/oauth/token" || m["jwks_uri"] != iss+"/.well-known/jwks.json" ||
				fmt.Sprint(m["grant_types_supported"]) != "[client_credentials]" || fmt.Sprint(m["response_types_supported"]) != "[]" ||
				fmt.Sprint(m["token_endpoint_auth_methods_supported"]) != "[client_secret_basic client_secret_post]" {
				t.Errorf("metadata: got %v", m)
			}
			for _, untrue := range []string{"authorization_endpoint", "id_token_signing_alg_values_supported", "subject_types_supported", "userinfo_endpoint"} {
				if _, ok := m[untrue]; ok {
					t.Errorf("the RFC 8414 document claims %q: %v", untrue, m)
				}
			}
		}},
		{name: "OpenIDConnect", method: "GET", path: "/.well-known/openid-configuration", status: 200, check: func(t *testing.T, r response) {
			m := fields(t, r)
			// OpenID Connect Discovery §3 requires these, and
			// authorization_endpoint, which pihu has not.
			for _, name := range []string{"issuer", "jwks_uri", "response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported", "token_endpoint"} {
				if _, ok := m[name]; !ok {
					t.Errorf("no %q in %v", name, m)
				}
			}
			if _, ok := m["authorization_endpoint"]; ok {
				t.Errorf("an authorization_endpoint pihu does not have: %v", m)
			}
			if fmt.Sprint(m["subject_types_supported"]) != "[public]" || fmt.Sprint(m["id_token_signing_alg_values_supported"]) != "[EdDSA]" ||
				fmt.Sprint(m["response_types_supported"]) != "[]" || fmt.Sprint(m["grant_types_supported"]) != "[client_credentials]" {
				t.Errorf("configuration: got %v", m)
			}
		}},
	})
	for _, path := range []string{"/.well-known/jwks.json", "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		t.Run(strings.TrimPrefix(path, "/.well-known/"), func(t *testing.T) {
			get := ts.do(t, "GET", path, "", "")
			checkStatus(t, get, 200, "")
			// A query string changes nothing: no 400 for what a cache
			// buster or a library appends.
			for _, q := range []string{"?kid=x", "?v=2&cache=no", "?"} {
				r := ts.do(t, "GET", path+q, "", "")
				if r.status != 200 || string(r.body) != string(get.body) {
					t.Errorf("GET %s%s: got %d %s, want the document", path, q, r.status, r.body)
				}
			}
			head := ts.do(t, "HEAD", path+"?x=1", "", "")
			if head.status != 200 || len(head.body) != 0 || head.header.Get("Content-Type") != "application/json" ||
				head.header.Get("Cache-Control") != "public, max-age=300" || head.header.Get("Content-Length") != strconv.Itoa(len(get.body)) {
				t.Errorf("HEAD: got %d %v %q, want GET's headers without the body", head.status, head.header, head.body)
			}
			if r := ts.do(t, "DELETE", path, "", ""); r.status != 405 || r.header.Get("Allow") != "GET, HEAD" {
				t.Errorf("DELETE: got %d, Allow %q; want 405 allowing GET, HEAD", r.status, r.header.Get("Allow"))
			}
		})
	}
}

// TestVerify_Tokens: POST /v1/auth/verify takes tokens and says so.
func TestVerify_Tokens(t *testing.T) {
	ts := newTestServer(t)
	verifier := ts.newKey(t, ts.Owner, `{"name":"verifier","permissions":["api_key:verify"]}`).Key
	parent := ts.newKey(t, ts.Owner, `{"name":"p","permissions":["candidate:read","token:write"]}`)
	tok := ts.mint(t, parent.Key, `{"permissions":["candidate:read"],"expires_in":"10m"}`)
	_, otherOwner := ts.newAccount(t, "Other")
	foreign := ts.mint(t, otherOwner, "")
	verify := func(token string, extra string) VerifyResult {
		var out VerifyResult
		ts.do(t, "POST", "/v1/auth/verify", verifier, `{"key":"`+token+`"`+extra+`}`).decode(t, &out)
		return out
	}
	if v := verify(tok.AccessToken, `,"permissions":["candidate:read"]`); !v.Valid || v.Kind != "access_token" || v.KeyID == nil || *v.KeyID != parent.ID ||
		!slices.Equal(v.Permissions, []string{"candidate:read"}) || v.Expires == nil || *v.Expires != tok.Expires {
		t.Errorf("valid token: got %+v", v)
	}
	if v := verify(tok.AccessToken, `,"permissions":["token:write"]`); v.Code != "INSUFFICIENT_PERMISSIONS" {
		t.Errorf("token without the permission: got %s", v.Code)
	}
	if v := verify(parent.Key, ""); v.Kind != "api_key" || !v.Valid {
		t.Errorf("key: got %+v", v)
	}
	if v := verify("a.b.c", ""); v.Code != "NOT_FOUND" || v.Kind != "access_token" || v.KeyID != nil {
		t.Errorf("garbage token: got %+v", v)
	}
	if v := verify(foreign.AccessToken, ""); v.Code != "NOT_FOUND" || v.KeyID != nil {
		t.Errorf("another account's token: got %+v", v)
	}
	ts.Clock.Add(10 * time.Minute)
	if v := verify(tok.AccessToken, ""); v.Code != "EXPIRED" || v.KeyID == nil || *v.KeyID != parent.ID {
		t.Errorf("expired token: got %+v", v)
	}
	if v := verify(foreign.AccessToken, ""); v.Code != "NOT_FOUND" || v.KeyID != nil {
		t.Errorf("another account's expired token: got %+v", v)
	}
	live := ts.mint(t, parent.Key, "")
	ts.do(t, "DELETE", "/v1/auth/api-keys/"+parent.ID, ts.Owner, "")
	if v := verify(live.AccessToken, ""); v.Code != "REVOKED" || v.Valid {
		t.Errorf("token of a revoked key: got %+v", v)
	}
}

// VerifyResult is pihuhttp.VerifyResult with pointers read as the test
// needs them.
type VerifyResult = pihuhttp.VerifyResult
