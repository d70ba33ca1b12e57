package http_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"
)

// TestTokens_OfflineWithAnotherLibrary verifies a token as a service that
// never talks to pihu would: with the JWKS document only, fetched once,
// and lestrrat-go/jwx, a JWT library other than the golang-jwt the server
// signs with. It checks the signature, iss, aud and exp, and reads the
// claims pihu documents.
func TestTokens_OfflineWithAnotherLibrary(t *testing.T) {
	ts := newTestServer(t)
	res, err := http.Get(ts.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Parse(doc)
	if err != nil {
		t.Fatalf("jwk.Parse: %v", err)
	}
	tok := ts.mint(t, ts.Owner, `{"permissions":["candidate:read","interview:read"],"expires_in":"10m","audience":"https://billing.example"}`)
	owner := ts.ownerID(t)
	ts.Close() // from here on, nothing but the document

	clock := func(d time.Duration) jwxjwt.ParseOption {
		return jwxjwt.WithClock(jwxjwt.ClockFunc(func() time.Time { return ts.Clock.Now().Add(d) }))
	}
	parse := func(token string, opts ...jwxjwt.ParseOption) (jwxjwt.Token, error) {
		opts = append([]jwxjwt.ParseOption{jwxjwt.WithKeySet(set), jwxjwt.WithValidate(true)}, opts...)
		return jwxjwt.Parse([]byte(token), opts...)
	}
	iss := ts.Tokens.Issuer()
	got, err := parse(tok.AccessToken, jwxjwt.WithIssuer(iss), jwxjwt.WithAudience("https://billing.example"), clock(0))
	if err != nil {
		t.Fatalf("verifying offline: %v", err)
	}
	var scope, acct, env string
	sub, _ := got.Subject()
	if err := got.Get("scope", &scope); err != nil || scope != "candidate:read interview:read" {
		t.Errorf("scope: got %q (%v)", scope, err)
	}
	if err := got.Get("acct", &acct); err != nil || acct != ts.Account.ID {
		t.Errorf("acct: got %q (%v)", acct, err)
	}
	if err := got.Get("env", &env); err != nil || env != "live" {
		t.Errorf("env: got %q (%v)", env, err)
	}
	if sub != owner {
		t.Errorf("sub: got %q, want the owner key", sub)
	}

	for name, opts := range map[string][]jwxjwt.ParseOption{
		"ErrExpired":       {jwxjwt.WithIssuer(iss), jwxjwt.WithAudience("https://billing.example"), clock(10 * time.Minute)},
		"ErrOtherAudience": {jwxjwt.WithIssuer(iss), jwxjwt.WithAudience("https://other.example"), clock(0)},
		"ErrOtherIssuer":   {jwxjwt.WithIssuer("https://evil.example"), jwxjwt.WithAudience("https://billing.example"), clock(0)},
	} {
		if _, err := parse(tok.AccessToken, opts...); err == nil {
			t.Errorf("%s: verified, want refused", name)
		}
	}
	tampered := tok.AccessToken[:len(tok.AccessToken)-4] + "AAAA"
	if _, err := parse(tampered, clock(0)); err == nil {
		t.Error("a tampered signature verified")
	}
}
