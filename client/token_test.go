package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/client"
)

func TestClient_CreateToken(t *testing.T) {
	s := newServer(t)
	c := s.client(t, s.Owner)
	ctx := context.Background()
	tok, err := c.CreateToken(ctx, client.TokenParams{Permissions: []string{"candidate:read"}, ExpiresIn: "5m"})
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.ExpiresIn != 300 || !slices.Equal(tok.Permissions, []string{"candidate:read"}) || time.Until(tok.Expires) > 5*time.Minute {
		t.Errorf("token: got %+v", tok)
	}
	// The token is an API credential like a key, with its own rights.
	browser := s.client(t, tok.AccessToken)
	if _, err := browser.ListCandidates(ctx, client.ListParams{}); err != nil {
		t.Errorf("listing candidates with the token: %v", err)
	}
	_, err = browser.CreateCandidate(ctx, client.CandidateParams{Name: "Ada", Email: "ada@example.com"})
	apiError(t, err, 403, "insufficient_permissions")
	_, err = browser.CreateToken(ctx, client.TokenParams{})
	apiError(t, err, 403, "insufficient_permissions")

	v, err := s.client(t, s.Owner).Verify(ctx, client.VerifyParams{Key: tok.AccessToken})
	if err != nil || !v.Valid || v.Kind != client.KindAccessToken {
		t.Errorf("Verify of the token: got %+v, %v", v, err)
	}
	if v, err := c.Verify(ctx, client.VerifyParams{Key: s.Owner}); err != nil || v.Kind != client.KindAPIKey {
		t.Errorf("Verify of a key: got %+v, %v", v, err)
	}
	_, err = c.CreateToken(ctx, client.TokenParams{ExpiresIn: "2h"})
	apiError(t, err, 400, "parameter_invalid")
}

// countingTransport counts the requests for the JWKS document.
type countingTransport struct{ jwks atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/.well-known/jwks.json") {
		c.jwks.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (s *server) verifier(tb testing.TB, cfg client.TokenVerifierConfig) (*client.TokenVerifier, *countingTransport) {
	tb.Helper()
	ct := &countingTransport{}
	if cfg.Issuer == "" {
		cfg.Issuer = s.tokens.Issuer()
	}
	cfg.HTTPClient = &http.Client{Transport: ct}
	v, err := client.NewTokenVerifier(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return v, ct
}

func TestTokenVerifier(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	c := s.client(t, s.Owner)
	tok, err := c.CreateToken(ctx, client.TokenParams{Permissions: []string{"candidate:write"}})
	if err != nil {
		t.Fatal(err)
	}
	v, fetches := s.verifier(t, client.TokenVerifierConfig{})

	claims, err := v.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if claims.Issuer != s.tokens.Issuer() || claims.Environment != "live" || claims.KeyID == "" || !claims.Has("candidate:read") || claims.Has("interview:read") {
		t.Errorf("claims: got %+v", claims)
	}
	for range 10 {
		if _, err := v.Verify(ctx, tok.AccessToken); err != nil {
			t.Fatal(err)
		}
	}
	if n := fetches.jwks.Load(); n != 1 {
		t.Errorf("JWKS fetches for 11 verifications: got %d, want 1", n)
	}

	t.Run("ErrExpired", func(t *testing.T) {
		late, _ := s.verifier(t, client.TokenVerifierConfig{Now: func() time.Time { return time.Now().Add(16 * time.Minute) }})
		if _, err := late.Verify(ctx, tok.AccessToken); !errors.Is(err, client.ErrExpiredToken) {
			t.Errorf("got %v, want ErrExpiredToken", err)
		}
	})
	t.Run("ErrExpiredOnceCached", func(t *testing.T) {
		var skew atomic.Int64
		v, _ := s.verifier(t, client.TokenVerifierConfig{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
		if _, err := v.Verify(ctx, tok.AccessToken); err != nil {
			t.Fatal(err)
		}
		skew.Store(int64(16 * time.Minute))
		if _, err := v.Verify(ctx, tok.AccessToken); !errors.Is(err, client.ErrExpiredToken) {
			t.Errorf("a cached token past its exp: got %v, want ErrExpiredToken", err)
		}
	})
	t.Run("Audience", func(t *testing.T) {
		billing, _ := s.verifier(t, client.TokenVerifierConfig{Audience: "billing-service"})
		if _, err := billing.Verify(ctx, tok.AccessToken); !errors.Is(err, client.ErrInvalidToken) {
			t.Errorf("a token for pihu at a billing verifier: got %v, want ErrInvalidToken", err)
		}
		forBilling, err := c.CreateToken(ctx, client.TokenParams{Audience: "billing-service"})
		if err != nil {
			t.Fatal(err)
		}
		if claims, err := billing.Verify(ctx, forBilling.AccessToken); err != nil || claims.Audience != "billing-service" {
			t.Errorf("a token for billing: got %+v, %v", claims, err)
		}
	})
	t.Run("ErrOtherIssuer", func(t *testing.T) {
		other, _ := s.verifier(t, client.TokenVerifierConfig{Issuer: "https://other.example", JWKSURL: s.URL + "/.well-known/jwks.json"})
		if _, err := other.Verify(ctx, tok.AccessToken); !errors.Is(err, client.ErrInvalidToken) {
			t.Errorf("got %v, want ErrInvalidToken", err)
		}
	})
	t.Run("ErrForged", func(t *testing.T) {
		keys, _ := s.store.SigningKeys(ctx)
		sk := keys[0]
		parts := strings.Split(tok.AccessToken, ".")
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(tok.AccessToken, claims); err != nil {
			t.Fatal(err)
		}
		sign := func(m jwt.SigningMethod, key any, kid string) string {
			tk := jwt.NewWithClaims(m, claims)
			tk.Header["kid"], tk.Header["typ"] = kid, "at+jwt"
			out, err := tk.SignedString(key)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		// signReal signs with the server's own key what pihu never
		// issues: a header or claims changed by edit.
		signReal := func(edit func(h map[string]any, c jwt.MapClaims)) string {
			c := jwt.MapClaims{}
			for k, v := range claims {
				c[k] = v
			}
			tk := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
			tk.Header["kid"], tk.Header["typ"] = sk.ID, "at+jwt"
			edit(tk.Header, c)
			out, err := tk.SignedString(sk.PrivateKey)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		iat := claims["iat"].(float64)
		if _, err := v.Verify(ctx, signReal(func(map[string]any, jwt.MapClaims) {})); err != nil {
			t.Errorf("a token signed like the server's: %v", err)
		}
		_, stranger, _ := ed25519.GenerateKey(rand.Reader)
		for name, forged := range map[string]string{
			"Tampered":           parts[0] + "." + parts[1] + "x." + parts[2],
			"AlgNone":            sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, sk.ID),
			"HS256PublicKey":     sign(jwt.SigningMethodHS256, []byte(sk.PublicKey), sk.ID),
			"OtherKey":           sign(jwt.SigningMethodEdDSA, stranger, sk.ID),
			"UnknownKid":         sign(jwt.SigningMethodEdDSA, stranger, "sig_unknown"),
			"LifetimeOverAnHour": signReal(func(_ map[string]any, c jwt.MapClaims) { c["exp"] = iat + 3601 }),
			"Crit":               signReal(func(h map[string]any, _ jwt.MapClaims) { h["crit"] = []string{"ext"} }),
			"TypUpperCase":       signReal(func(h map[string]any, _ jwt.MapClaims) { h["typ"] = "AT+JWT" }),
			"ExpString":          signReal(func(_ map[string]any, c jwt.MapClaims) { c["exp"] = strconv.FormatFloat(iat+600, 'f', 0, 64) }),
		} {
			if _, err := v.Verify(ctx, forged); !errors.Is(err, client.ErrInvalidToken) {
				t.Errorf("%s: got %v, want ErrInvalidToken", name, err)
			}
		}
	})

	t.Run("RefreshOnUnknownKid", func(t *testing.T) {
		// Another instance starts signing with a new key: the verifier
		// fetches the keys again once, and then no more for made-up kids.
		if _, err := s.store.RotateSigningKey(ctx, pihu.NewSigningKey(time.Now())); err != nil {
			t.Fatal(err)
		}
		other := auth.NewTokens(s.store, auth.TokenOptions{Issuer: s.tokens.Issuer()})
		owner, err := c.Whoami(ctx)
		if err != nil {
			t.Fatal(err)
		}
		parent, err := s.store.Key(ctx, owner.Account.ID, owner.Key.ID)
		if err != nil {
			t.Fatal(err)
		}
		at, err := pihu.NewAccessToken(parent, pihu.TokenRequest{}, s.tokens.Issuer(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := other.Sign(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		v, fetches := s.verifier(t, client.TokenVerifierConfig{})
		if _, err := v.Verify(ctx, tok.AccessToken); err != nil { // the old key: still published
			t.Fatalf("a token of the retired key: %v", err)
		}
		if _, err := v.Verify(ctx, fresh); err != nil {
			t.Fatalf("a token of the new key: %v", err)
		}
		_, stranger, _ := ed25519.GenerateKey(rand.Reader)
		for i := range 5 {
			tk := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"iss": s.tokens.Issuer()})
			tk.Header["kid"], tk.Header["typ"] = "sig_made_up_"+string(rune('a'+i)), "at+jwt"
			forged, _ := tk.SignedString(stranger)
			if _, err := v.Verify(ctx, forged); !errors.Is(err, client.ErrInvalidToken) {
				t.Errorf("made-up kid: got %v", err)
			}
		}
		if n := fetches.jwks.Load(); n > 2 {
			t.Errorf("JWKS fetches: got %d, want at most 2 (the first, and one for the new kid)", n)
		}
	})
}

func TestTokenVerifier_ServerDown(t *testing.T) {
	v, err := client.NewTokenVerifier(client.TokenVerifierConfig{Issuer: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), "eyJhbGciOiJFZERTQSIsImtpZCI6InNpZ194IiwidHlwIjoiYXQrand0In0.e30.AAAA")
	if err == nil || errors.Is(err, client.ErrInvalidToken) || errors.Is(err, client.ErrExpiredToken) {
		t.Errorf("with the keys unreachable: got %v, want an error that is neither invalid nor expired", err)
	}
	if _, err := client.NewTokenVerifier(client.TokenVerifierConfig{Issuer: "auth.example.com"}); err == nil {
		t.Error("an issuer that is not a URL was accepted")
	}
}

// BenchmarkTokenVerifier_Warm is the offline check a service makes of
// each token: the keys are cached, so it is the signature and the claims.
func BenchmarkTokenVerifier_Warm(b *testing.B) {
	s := newServer(b)
	ctx := context.Background()
	tok, err := s.client(b, s.Owner).CreateToken(ctx, client.TokenParams{ExpiresIn: "1h"})
	if err != nil {
		b.Fatal(err)
	}
	v, _ := s.verifier(b, client.TokenVerifierConfig{})
	if _, err := v.Verify(ctx, tok.AccessToken); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}
