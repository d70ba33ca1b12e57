package auth_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
)

// FuzzAuthenticate_Token states the property of the token parser: a bearer
// value is accepted only if it is the token that was signed (a changed
// header, payload or signature is refused), an accepted one is the parent
// key restricted to the token's permissions, and a refusal is a 401 error
// (invalid or expired), never a panic or another error.
func FuzzAuthenticate_Token(f *testing.F) {
	_, a, k, token, _, _ := tokenSetup(f, pihu.Permissions{"candidate:read"})
	parts := strings.Split(token, ".")
	f.Add(token)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(parts[0] + "." + parts[1] + "." + parts[2] + "x")
	f.Add("eyJhbGciOiJub25lIn0." + parts[1] + ".")
	f.Add(strings.ToUpper(token))
	f.Add("a.b.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := a.Authenticate(context.Background(), s)
		if err != nil {
			if c := pihu.ErrorCode(err); c != pihu.EInvalidAPIKey && c != pihu.EExpiredAPIKey {
				t.Fatalf("%q: got %v (%s), want invalid_api_key or expired_api_key", s, err, c)
			}
			return
		}
		if s != token {
			t.Fatalf("%q accepted: only the signed token %q may be", s, token)
		}
		if got.ID != k.ID || !got.Permissions.Grants("candidate:read") || got.Permissions.Grants("candidate:write") {
			t.Fatalf("the token's key: got %+v", got)
		}
	})
}
