package http_test

import (
	"context"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
)

// TestTokens_VerifyWithGoOIDC verifies an access token with go-oidc, as a
// service that knows pihu's issuer URL and nothing else would: go-oidc
// finds the keys through /.well-known/openid-configuration only, and
// takes the algorithms it accepts from its
// id_token_signing_alg_values_supported. This is why pihu keeps that
// document, partial as it is (docs/tokens.md).
func TestTokens_VerifyWithGoOIDC(t *testing.T) {
	ts := newTestServer(t)
	tok := ts.mint(t, ts.Owner, `{"permissions":["candidate:read"]}`)
	ctx := context.Background()
	iss := ts.Tokens.Issuer()
	provider, err := oidc.NewProvider(ctx, iss)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: iss, Now: ts.Clock.Now})
	got, err := verifier.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("go-oidc refused a token pihu issued: %v", err)
	}
	var claims struct {
		Scope string `json:"scope"`
		Acct  string `json:"acct"`
	}
	if err := got.Claims(&claims); err != nil || got.Subject != ts.ownerID(t) || claims.Scope != "candidate:read" || claims.Acct != ts.Account.ID {
		t.Errorf("claims: sub %q, %+v (%v)", got.Subject, claims, err)
	}
	tampered := tok.AccessToken[:len(tok.AccessToken)-4] + "AAAA"
	if _, err := verifier.Verify(ctx, tampered); err == nil {
		t.Error("go-oidc verified a tampered signature")
	}
}
