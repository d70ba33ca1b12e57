package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkTokenVerifier_Signature is the first check of a token, before
// it is cached: the Ed25519 signature and the claims, with the keys
// already fetched.
func BenchmarkTokenVerifier_Signature(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	jwks := fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"sig_1","alg":"EdDSA","use":"sig"}]}`, base64.RawURLEncoding.EncodeToString(pub))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, jwks) }))
	defer srv.Close()
	v, err := NewTokenVerifier(TokenVerifierConfig{Issuer: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"iss": srv.URL, "aud": []string{srv.URL}, "sub": "key_1", "client_id": "key_1", "acct": "acct_1", "env": "live",
		"scope": "candidate:read", "jti": "tok_1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	tok.Header["kid"], tok.Header["typ"] = "sig_1", "at+jwt"
	s, err := tok.SignedString(priv)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.verify(ctx, s); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.verify(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
}
