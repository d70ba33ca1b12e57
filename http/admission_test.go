package http_test

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	pihuhttp "github.com/pihu-ai/pihu/http"
)

// door is one way into the admission path: it makes one request with the
// key (id and secret) and says which refusal the answer was, in the
// admission's words ("" for admitted).
type door struct {
	name string
	do   func(t *testing.T, ts *testServer, id, secret string) string
}

// doors are every door that admits a request made with a key: require
// (the API's routes), verify, the OAuth token endpoint, the forward-auth
// endpoint of gateways and Envoy's Check (package extauthz, over gRPC).
// Each needs one permission of the key: candidate:read for all but the
// OAuth token endpoint (a route that needs it, a verification or a
// gateway asking for it), token:write for that one.
var doors = []door{
	{"Require", func(t *testing.T, ts *testServer, id, secret string) string {
		res := ts.do(t, "GET", "/v1/candidates", secret, "")
		if res.status == 200 {
			return ""
		}
		return res.errorBody(t).Code
	}},
	{"Verify", func(t *testing.T, ts *testServer, id, secret string) string {
		res := ts.do(t, "POST", "/v1/auth/verify", ts.Owner, `{"key":"`+secret+`","permissions":["candidate:read"],"ip":"127.0.0.1"}`)
		var out pihuhttp.VerifyResult
		res.decode(t, &out)
		return map[string]string{
			pihuhttp.VerifyValid: "", pihuhttp.VerifyIPNotAllowed: "ip_not_allowed", pihuhttp.VerifyRateLimited: "rate_limited",
			pihuhttp.VerifyInsufficientPermissions: "insufficient_permissions", pihuhttp.VerifyUsageExceeded: "usage_exceeded",
			pihuhttp.VerifyDisabled: "disabled_api_key",
		}[out.Code]
	}},
	{"OAuthToken", func(t *testing.T, ts *testServer, id, secret string) string {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
		res := ts.doWith(t, "POST", "/v1/oauth/token", form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		res.decode(t, &e)
		switch {
		case res.status == 200:
			return ""
		case res.status == 429:
			return "rate_limited"
		case res.status == 401 && e.Error == "invalid_client" && strings.Contains(e.Description, "is disabled"):
			return "disabled_api_key"
		case strings.Contains(e.Description, "allowed_ips"):
			return "ip_not_allowed"
		case strings.Contains(e.Description, "permission"):
			return "insufficient_permissions"
		case strings.Contains(e.Description, "credits"):
			return "usage_exceeded"
		}
		t.Fatalf("OAuth token: %d %s", res.status, res.body)
		return ""
	}},
	{"ForwardAuth", func(t *testing.T, ts *testServer, id, secret string) string {
		res := ts.do(t, "GET", "/v1/auth/forward?permission=candidate:read", secret, "")
		if res.status == 200 {
			return ""
		}
		return res.errorBody(t).Code
	}},
	{"Check", func(t *testing.T, ts *testServer, id, secret string) string {
		res := ts.check(t, checkRequest("GET", "/v1/candidates", map[string]string{"authorization": "Bearer " + secret}, map[string]string{"permission": "candidate:read"}))
		if res.GetOkResponse() != nil {
			return ""
		}
		var e pihuhttp.ErrorBody
		if err := json.Unmarshal([]byte(res.GetDeniedResponse().GetBody()), &e); err != nil {
			t.Fatal(err)
		}
		return e.Error.Code
	}},
}

// TestAdmission_EveryDoor runs the same cases through every door, and
// checks that each decides the same and counts the same: the key's usage
// (allowed and refused) and the auth outcome metric. Before the one
// admission path, the OAuth token endpoint counted none of its refusals.
func TestAdmission_EveryDoor(t *testing.T) {
	cases := []struct {
		name string
		key  string // the body creating the key, less its name
		// first is how many requests go first, admitted (a rate limit
		// of one a minute is then spent).
		first int
		want  string
		// identity, if not "", is the body creating an identity that
		// the key is made for; credits, if the identity has some, is
		// how many it must have left after the request.
		identity string
		credits  int64
	}{
		{"Admitted", `"permissions":["candidate:read","token:write"]`, 0, "", "", 0},
		{"AddressOutside", `"permissions":["candidate:read","token:write"],"allowed_ips":["10.0.0.0/8"]`, 0, "ip_not_allowed", "", 0},
		{"RateLimited", `"permissions":["candidate:read","token:write"],"rate_limit":"1/m"`, 1, "rate_limited", "", 0},
		{"PermissionMissing", `"permissions":["interview:read"]`, 0, "insufficient_permissions", "", 0},
		{"CreditsSpent", `"permissions":["candidate:read","token:write"],"remaining":0`, 0, "usage_exceeded", "", 0},
		// An identity's credits, which all its keys share, are spent
		// on every door; a key with credits of its own needs both, and
		// a request either refuses spends neither.
		{"IdentityCreditsSpent", `"permissions":["candidate:read","token:write"]`, 0, "", `"remaining":5`, 4},
		{"IdentityCreditsShort", `"permissions":["candidate:read","token:write"],"remaining":5`, 0, "usage_exceeded", `"remaining":0`, 0},
		{"IdentityKeysOwnShort", `"permissions":["candidate:read","token:write"],"remaining":0`, 0, "usage_exceeded", `"remaining":5`, 5},
	}
	for _, d := range doors {
		t.Run(d.name, func(t *testing.T) {
			ts := newTestServer(t)
			for _, tc := range cases {
				body := `{"name":"` + tc.name + `",` + tc.key
				var identity pihuhttp.Identity
				if tc.identity != "" {
					res := ts.do(t, "POST", "/v1/identities", ts.Owner, `{"external_id":"`+tc.name+`",`+tc.identity+`}`)
					res.decode(t, &identity)
					body += `,"identity_id":"` + identity.ID + `"`
				}
				k := ts.newKey(t, ts.Owner, body+`}`)
				for range tc.first {
					if got := d.do(t, ts, k.ID, k.Key); got != "" {
						t.Fatalf("%s: a first request: got %q, want it admitted", tc.name, got)
					}
				}
				before := outcomes(t, ts)
				if got := d.do(t, ts, k.ID, k.Key); got != tc.want {
					t.Errorf("%s: got %q, want %q", tc.name, got, orAdmitted(tc.want))
				}
				if err := ts.Auth.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
				usage, err := ts.Store.Usage(context.Background(), ts.Account.ID, k.ID, ts.Clock.Now().Add(-time.Hour), ts.Clock.Now().Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				var allowed, refused int64
				for _, u := range usage {
					allowed, refused = allowed+u.Allowed, refused+u.Refused
				}
				wantAllowed, wantRefused := int64(tc.first), int64(0)
				if tc.want == "" {
					wantAllowed++
				} else {
					wantRefused++
				}
				if allowed != wantAllowed || refused != wantRefused {
					t.Errorf("%s: usage allowed %d refused %d, want %d and %d", tc.name, allowed, refused, wantAllowed, wantRefused)
				}
				// A verification is also a request of the verifier's
				// key, admitted.
				rise := map[string]int{orValid(tc.want): 1}
				if d.name == "Verify" {
					rise["valid"]++
				}
				after := outcomes(t, ts)
				for outcome, want := range rise {
					if got := after[outcome] - before[outcome]; got != want {
						t.Errorf("%s: pihu_auth_outcomes_total{outcome=%q} rose by %d, want %d", tc.name, outcome, got, want)
					}
				}
				if tc.identity != "" {
					var got pihuhttp.Identity
					ts.do(t, "GET", "/v1/identities/"+identity.ID, ts.Owner, "").decode(t, &got)
					if got.Remaining == nil || *got.Remaining != tc.credits {
						t.Errorf("%s: the identity's credits left: got %v, want %d", tc.name, got.Remaining, tc.credits)
					}
				}
			}
		})
	}
}

var outcomeLine = regexp.MustCompile(`(?m)^pihu_auth_outcomes_total\{outcome="([a-z_]+)"\} (\d+)$`)

// outcomes scrapes the auth outcome counters.
func outcomes(t *testing.T, ts *testServer) map[string]int {
	t.Helper()
	res := ts.do(t, "GET", "/metrics", "", "")
	out := map[string]int{}
	for _, m := range outcomeLine.FindAllStringSubmatch(string(res.body), -1) {
		n, _ := strconv.Atoi(m[2])
		out[m[1]] = n
	}
	return out
}

func orValid(code string) string {
	if code == "" {
		return "valid"
	}
	return code
}

func orAdmitted(code string) string {
	if code == "" {
		return "admitted"
	}
	return code
}
