package http_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

// TestKeys_ImportTokenShaped: an imported secret of any shape the docs
// allow authenticates, two dots included (a secret of another system
// written "acme.live.…", or a legacy JWT used as an API key), as a key
// and on every door: a request, whoami, verify. One no key has is still
// judged as an access token; and pihu's own tokens, longer than any
// imported secret, are never looked up as keys.
func TestKeys_ImportTokenShaped(t *testing.T) {
	var cs *callCountingStore
	ts := newTestServer(t, func(o *pihuhttp.Options) {
		cs = &callCountingStore{Store: o.Store}
		o.Store = cs
		o.Auth = auth.New(cs, auth.Options{Now: o.Now, Tokens: o.Auth.Tokens()})
	})
	legacyJWT := forge(t, jwt.SigningMethodHS256, []byte("legacy-hmac-secret"), map[string]any{"typ": "JWT"}, jwt.MapClaims{"sub": "svc-42"})
	secrets := []string{"acme.live.0123456789abcdef", legacyJWT}
	if !pihu.LooksLikeToken(secrets[0]) || !pihu.LooksLikeToken(legacyJWT) || !pihu.ImportableSecret(legacyJWT) {
		t.Fatalf("the secrets must have a token's shape and be importable: %q", secrets)
	}
	r := ts.do(t, "POST", "/v1/auth/api-keys/import", ts.Owner, fmt.Sprintf(`{"keys":[
		{"hash":%q,"name":"dotted","permissions":["candidate:read"]},
		{"hash":%q,"name":"legacy jwt","permissions":["candidate:read"]}]}`, digestHex(secrets[0]), digestHex(secrets[1])))
	checkStatus(t, r, 200, "")
	var imported pihuhttp.ImportedKeys
	r.decode(t, &imported)
	verifier := ts.newKey(t, ts.Owner, `{"name":"verifier","permissions":["api_key:verify"]}`).Key

	for i, secret := range secrets {
		id := imported.Data[i].ID
		checkStatus(t, ts.do(t, "GET", "/v1/candidates", secret, ""), 200, "")
		var who struct{ Key struct{ ID string } }
		ts.do(t, "GET", "/v1/auth/whoami", secret, "").decode(t, &who)
		if who.Key.ID != id {
			t.Errorf("%s: whoami: got key %q, want the imported %q", secret, who.Key.ID, id)
		}
		body, _ := json.Marshal(map[string]string{"key": secret})
		var v pihuhttp.VerifyResult
		ts.do(t, "POST", "/v1/auth/verify", verifier, string(body)).decode(t, &v)
		if !v.Valid || v.Kind != pihuhttp.VerifyKindAPIKey || v.KeyID == nil || *v.KeyID != id {
			t.Errorf("%s: verify: got %+v, want a valid api_key %s", secret, v, id)
		}
	}

	// Revoked, it is refused as the key it is, not as a bad token.
	checkStatus(t, ts.do(t, "DELETE", "/v1/auth/api-keys/"+imported.Data[0].ID, ts.Owner, ""), 200, "")
	checkStatus(t, ts.do(t, "GET", "/v1/candidates", secrets[0], ""), 401, pihu.ERevokedAPIKey)

	// A secret of that shape that no key has is judged as a token.
	r = ts.do(t, "GET", "/v1/candidates", "acme.live.fedcba9876543210", "")
	checkStatus(t, r, 401, pihu.EInvalidAPIKey)
	if msg := r.errorBody(t).Message; !strings.Contains(msg, "access token") {
		t.Errorf("an unknown token-shaped secret: got %q, want the access token's reason", msg)
	}

	// pihu's tokens are longer than any imported secret: never looked up
	// by digest.
	token := ts.mint(t, ts.Owner, `{"permissions":["candidate:read"]}`).AccessToken
	if len(token) <= pihu.MaxImportedSecret {
		t.Fatalf("a token of %d characters: pihu's tokens must be longer than the %d of the longest imported secret", len(token), pihu.MaxImportedSecret)
	}
	before := cs.keyReads.Load()
	checkStatus(t, ts.do(t, "GET", "/v1/candidates", token, ""), 200, "")
	if got := cs.keyReads.Load() - before; got != 0 {
		t.Errorf("a token was looked up as a key %d times", got)
	}
}
