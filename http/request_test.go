package http_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/ratelimit"
)

// TestRequests_ExactFieldNames: JSON field names match exactly, on every
// route with a body. A name that encoding/json would fold onto a field (by
// case, or by Unicode folding: ſ is s, K is k) is an unknown field, next
// to the real one or instead of it, at any depth; nothing is created.
func TestRequests_ExactFieldNames(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"target","permissions":["candidate:read"]}`)
	c := ts.newCandidate(t, ts.Owner, "Ada")
	hint := func(want string) func(t *testing.T, r response) {
		return func(t *testing.T, r response) {
			if msg := r.errorBody(t).Message; !strings.Contains(msg, `"`+want+`"`) {
				t.Errorf("message %q does not name the field %q", msg, want)
			}
		}
	}
	create := "/v1/auth/api-keys"
	ts.run(t, []scenario{
		{name: "ErrCaseNextToReal", method: "POST", path: create, key: ts.Owner, status: 400, code: "parameter_unknown", param: "Expiration",
			body: `{"name":"x","permissions":["*"],"expiration":"1d","Expiration":"3650d"}`, check: hint("expiration")},
		{name: "ErrCaseInsteadOfReal", method: "POST", path: create, key: ts.Owner, status: 400, code: "parameter_unknown", param: "Expiration",
			body: `{"name":"x","permissions":["*"],"Expiration":"1d"}`, check: hint("expiration")},
		{name: "ErrUpperCase", method: "POST", path: create, key: ts.Owner, status: 400, code: "parameter_unknown", param: "ALLOWED_IPS",
			body: `{"name":"x","permissions":["*"],"ALLOWED_IPS":["10.0.0.1"]}`, check: hint("allowed_ips")},
		{name: "ErrLongS", method: "POST", path: create, key: ts.Owner, status: 400, code: "parameter_unknown", param: "permiſſions",
			body: `{"name":"x","permiſſions":["*"]}`, check: hint("permissions")},
		{name: "ErrLongSEscaped", method: "POST", path: create, key: ts.Owner, status: 400, code: "parameter_unknown", param: "permiſſions",
			body: `{"name":"x","permissions":["candidate:read"],"permi\u017f\u017fions":["*"]}`},
		{name: "ErrKelvinSign", method: "POST", path: "/v1/auth/verify", key: ts.Owner, status: 400, code: "parameter_unknown", param: "\u212aey",
			body: `{"\u212aey":"` + k.Key + `"}`, check: hint("key")},
		{name: "ErrRotate", method: "POST", path: create + "/" + k.ID + "/rotate", key: ts.Owner, status: 400, code: "parameter_unknown", param: "Expire_Old_In",
			body: `{"Expire_Old_In":"1h"}`},
		{name: "ErrLeakedKeys", method: "POST", path: "/v1/auth/leaked-keys", status: 400, code: "parameter_unknown", param: "KEYS",
			body: `{"KEYS":["` + k.Key + `"]}`},
		{name: "ErrCandidate", method: "POST", path: "/v1/candidates", key: ts.Owner, status: 400, code: "parameter_unknown", param: "Email",
			body: `{"name":"Ada","Email":"ada@example.com"}`},
		{name: "ErrInterview", method: "POST", path: "/v1/interviews", key: ts.Owner, status: 400, code: "parameter_unknown", param: "Candidate_ID",
			body: `{"Candidate_ID":"` + c.ID + `","position":"Engineer"}`},
		{name: "ErrRevokeBody", method: "DELETE", path: create + "/" + k.ID, key: ts.Owner, status: 400, code: "parameter_unknown", param: "Cascade",
			body: `{"Cascade":true}`},
		{name: "ExactStillWorks", method: "POST", path: create, key: ts.Owner, status: 200,
			body: `{"name":"x","permissions":["candidate:read"],"expiration":"1d","allowed_ips":["10.0.0.1"]}`},
	})
	// The key of the refused report is still valid, and no key was made
	// by the refused creates.
	ts.works(t, k.Key, 200, "")
	var list struct{ Data []struct{ Name string } }
	ts.do(t, "GET", create+"?limit=100", ts.Owner, "").decode(t, &list)
	if n := len(list.Data); n != 3 { // owner, target, ExactStillWorks
		t.Errorf("keys after the scenarios: got %d, want 3", n)
	}
}

// TestRequests_QueryParameters walks every operation of the OpenAPI
// document, and so every route of the server (TestOpenAPI_EveryOperationIsServed
// checks they are the same), with a query string it cannot take: an
// unknown parameter, a malformed query string and a parameter given twice
// are a 400 everywhere, before anything is looked up or changed.
func TestRequests_QueryParameters(t *testing.T) {
	ts := newTestServer(t)
	for _, o := range operations(t) {
		if o.op.OperationID == "oauthToken" {
			continue // its errors are RFC 6749's; TestOAuth_Errors refuses a query string
		}
		if strings.HasPrefix(o.path, "/.well-known/") {
			continue // public documents ignore a query string: TestTokens_Discovery
		}
		path := strings.ReplaceAll(o.path, "{id}", "x_1")
		key := ""
		if secured(o.op) {
			key = ts.Owner
		}
		var scenarios []scenario
		for _, q := range []struct {
			name, query, code, param string
		}{
			{"ErrUnknown", "?unknown=1", "parameter_unknown", "unknown"},
			{"ErrUnknownEmpty", "?verbose", "parameter_unknown", "verbose"},
			{"ErrUnknownNextToKnown", "?limit=1&starting_after=x_1&expand=all", "parameter_unknown", "expand"},
			{"ErrSemicolon", "?limit=1;x=2", "parameter_invalid", "limit"},
			{"ErrSemicolonAlone", "?;", "parameter_invalid", ""},
			{"ErrBadEscape", "?%zz", "parameter_invalid", ""},
			{"ErrBadEscapeInValue", "?limit=%zz", "parameter_invalid", "limit"},
			{"ErrTwice", "?limit=1&limit=1", "parameter_invalid", "limit"},
		} {
			if q.name == "ErrTwice" && o.op.Parameters.GetByInAndName("query", "limit") == nil {
				q.code = "parameter_unknown" // before being twice
			}
			scenarios = append(scenarios, scenario{name: q.name, method: o.method, path: path + q.query, key: key, status: 400, code: q.code, param: q.param})
		}
		t.Run(o.op.OperationID, func(t *testing.T) { ts.run(t, scenarios) })
	}
	// Nothing was created, rotated or revoked by the refused requests.
	var list struct{ Data []struct{ Name string } }
	ts.do(t, "GET", "/v1/auth/api-keys", ts.Owner, "").decode(t, &list)
	if len(list.Data) != 1 {
		t.Errorf("keys after the refused requests: got %d, want the owner key only", len(list.Data))
	}
}

// TestRequests_DeleteBody: a DELETE takes its body the same way on every
// resource: none, or {} with Content-Type application/json; anything
// else is refused as any body would be, and deletes nothing.
func TestRequests_DeleteBody(t *testing.T) {
	ts := newTestServer(t)
	resources := map[string]func() string{
		"Key": func() string {
			return "/v1/auth/api-keys/" + ts.newKey(t, ts.Owner, `{"name":"k","permissions":["candidate:read"]}`).ID
		},
		"Candidate": func() string { return "/v1/candidates/" + ts.newCandidate(t, ts.Owner, "Ada").ID },
		"Interview": func() string {
			c := ts.newCandidate(t, ts.Owner, "Ada")
			r := ts.do(t, "POST", "/v1/interviews", ts.Owner, `{"candidate_id":"`+c.ID+`","position":"Engineer"}`)
			var iv struct{ ID string }
			r.decode(t, &iv)
			return "/v1/interviews/" + iv.ID
		},
	}
	for name, create := range resources {
		t.Run(name, func(t *testing.T) {
			kept := create()
			ts.run(t, []scenario{
				{name: "ErrField", method: "DELETE", path: kept, key: ts.Owner, body: `{"reason":"x"}`, status: 400, code: "parameter_unknown", param: "reason"},
				{name: "ErrNotJSON", method: "DELETE", path: kept, key: ts.Owner, body: `reason=x`, status: 400, code: "invalid_json"},
				{name: "ErrArray", method: "DELETE", path: kept, key: ts.Owner, body: `[]`, status: 400, code: "invalid_json"},
				{name: "ErrTrailing", method: "DELETE", path: kept, key: ts.Owner, body: `{} {}`, status: 400, code: "invalid_json"},
				{name: "ErrContentType", method: "DELETE", path: kept, key: ts.Owner, body: `{}`, headers: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
				{name: "ErrTooLarge", method: "DELETE", path: kept, key: ts.Owner, body: `{"x":"` + strings.Repeat("a", 70<<10) + `"}`, status: 413, code: "body_too_large"},
				{name: "ErrQuery", method: "DELETE", path: kept + "?force=true", key: ts.Owner, status: 400, code: "parameter_unknown", param: "force"},
				{name: "StillThere", method: "GET", path: kept, key: ts.Owner, status: 200},
				{name: "EmptyObject", method: "DELETE", path: create(), key: ts.Owner, body: `{}`, status: 200},
				{name: "NoBody", method: "DELETE", path: create(), key: ts.Owner, status: 200},
				{name: "WhitespaceBody", method: "DELETE", path: create(), key: ts.Owner, body: " \n", headers: map[string]string{"Content-Type": ""}, status: 200},
			})
		})
	}
}

// doHeader sends a request with exactly the header lines given, which may
// repeat a name, and checks the exchange against the OpenAPI document.
func (ts *testServer) doHeader(tb testing.TB, method, path, body string, header http.Header) response {
	tb.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header = header
	res, err := ts.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	checkContract(tb, req, body, res.StatusCode, res.Header, b)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// TestRequests_TwoAuthorizationHeaders: a request with two Authorization
// headers, however equal, or with two credentials joined in one, is a
// 400 before any key is looked up: no key is used, and no failure is
// counted against the address.
func TestRequests_TwoAuthorizationHeaders(t *testing.T) {
	ts := newTestServer(t, func(o *pihuhttp.Options) { o.FailedAuthLimit = ratelimit.PerMinute(2) })
	forged := pihu.NewSecret(pihu.Live)
	for _, tc := range []struct {
		name  string
		lines []string
	}{
		{"SameKeyTwice", []string{"Bearer " + ts.Owner, "Bearer " + ts.Owner}},
		{"ValidThenForged", []string{"Bearer " + ts.Owner, "Bearer " + forged}},
		{"ForgedThenValid", []string{"Bearer " + forged, "Bearer " + ts.Owner}},
		{"EmptyThenValid", []string{"", "Bearer " + ts.Owner}},
		{"ThreeLines", []string{"Bearer " + forged, "Bearer " + forged, "Bearer " + ts.Owner}},
		{"CommaJoined", []string{"Bearer " + ts.Owner + ", Bearer " + forged}},
		{"CommaJoinedNoSpace", []string{"Bearer " + forged + "," + ts.Owner}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, route := range []struct{ method, path, body string }{
				{"GET", "/v1/auth/whoami", ""},
				{"GET", "/v1/auth/api-keys", ""},
				{"POST", "/v1/auth/api-keys", `{"name":"x","permissions":["*"]}`},
			} {
				h := http.Header{"Authorization": tc.lines}
				if route.body != "" {
					h.Set("Content-Type", "application/json")
				}
				r := ts.doHeader(t, route.method, route.path, route.body, h)
				if r.status != 400 {
					t.Fatalf("%s %s: got %d %s, want 400", route.method, route.path, r.status, r.body)
				}
				if e := r.errorBody(t); e.Code != "parameter_invalid" || e.Param != "Authorization" || e.Type != "invalid_request_error" {
					t.Errorf("%s %s: got %+v, want parameter_invalid on Authorization", route.method, route.path, e)
				}
				if r.header.Get("RateLimit-Limit") != "" {
					t.Errorf("%s %s: a key's rate limit was spent", route.method, route.path)
				}
			}
		})
	}
	// Nothing was created, and the 21 refusals spent none of the address's
	// 2 failures: the next forged key is a 401, not a 429.
	var list struct{ Data []struct{ Name string } }
	ts.do(t, "GET", "/v1/auth/api-keys", ts.Owner, "").decode(t, &list)
	if len(list.Data) != 1 {
		t.Errorf("keys: got %d, want the owner key only", len(list.Data))
	}
	ts.works(t, forged, 401, "invalid_api_key")
}
