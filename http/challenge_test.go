package http_test

import (
	"strings"
	"testing"

	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/ratelimit"
)

// TestChallenge checks the WWW-Authenticate header of each refusal against
// RFC 6750 §3: a plain challenge without an error code when no Bearer
// credentials were given (none, or another scheme); invalid_token for a
// bad key; invalid_request on a 400 for a malformed Bearer header;
// insufficient_scope with the scope; and on the 429 of the
// failed-authentication limit a challenge too. An error_description,
// where there is one, is a quoted-string of the characters §3 allows, and
// holds no key.
func TestChallenge(t *testing.T) {
	ts := newTestServer(t, func(o *pihuhttp.Options) { o.FailedAuthLimit = ratelimit.PerMinute(100) })
	reader := ts.newKey(t, ts.Owner, `{"name":"r","permissions":["candidate:read"]}`).Key
	forged := "ph_live_" + strings.Repeat("a", 40) // not a key, but shaped like one
	for _, tc := range []struct {
		name, header string
		status       int
		code         string
		want         string // the header up to error_description, or all of it
	}{
		{"NoKey", "", 401, "missing_api_key", `Bearer realm="pihu"`},
		{"BasicScheme", "Basic dXNlcjpwYXNz", 401, "missing_api_key", `Bearer realm="pihu"`},
		{"KeyWithoutScheme", ts.Owner, 401, "missing_api_key", `Bearer realm="pihu"`},
		{"UnknownKey", "Bearer " + forged, 401, "invalid_api_key", `Bearer realm="pihu", error="invalid_token", error_description="`},
		{"TwoCredentials", "Bearer a, Bearer b", 400, "parameter_invalid", `Bearer realm="pihu", error="invalid_request", error_description="`},
		{"NotAB64Token", `Bearer a"b`, 400, "parameter_invalid", `Bearer realm="pihu", error="invalid_request", error_description="`},
		{"Scope", "Bearer " + reader, 403, "insufficient_permissions", `Bearer realm="pihu", error="insufficient_scope", error_description="This API key does not have the 'api_key:read' permission that this request needs.", scope="api_key:read"`},
		{"AddressLimited", "Bearer " + forged, 429, "rate_limited", `Bearer realm="pihu", error_description="Too many failed authentications from your address. Check your API key, and retry in `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := ts
			if tc.status == 429 {
				ts = newTestServer(t, func(o *pihuhttp.Options) { o.FailedAuthLimit = ratelimit.PerMinute(1) })
				ts.do(t, "GET", "/v1/auth/whoami", forged, "")
			}
			r := ts.doWith(t, "GET", "/v1/auth/api-keys", "", map[string]string{"Authorization": tc.header})
			if r.status != tc.status || r.errorBody(t).Code != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
			got := r.header.Get("WWW-Authenticate")
			if strings.HasSuffix(tc.want, `"`) && !strings.HasSuffix(tc.want, `="`) {
				if got != tc.want {
					t.Errorf("WWW-Authenticate: got %q, want %q", got, tc.want)
				}
			} else if !strings.HasPrefix(got, tc.want) {
				t.Errorf("WWW-Authenticate: got %q, want it to begin %q", got, tc.want)
			}
			if desc, ok := strings.CutPrefix(got[strings.Index(got+"error_description=", "error_description="):], `error_description="`); ok {
				desc = desc[:strings.IndexByte(desc, '"')]
				for _, c := range []byte(desc) {
					if c < 0x20 || c > 0x7e || c == '\\' {
						t.Errorf("error_description %q has %q, which RFC 6750 §3 forbids", desc, c)
					}
				}
				if strings.Contains(desc, "ph_live_") && !strings.Contains(desc, "ph_live_ or") {
					t.Errorf("error_description %q quotes a key", desc)
				}
			}
		})
	}
}
