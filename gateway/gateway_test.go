package gateway_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/gateway"
)

// TestParseRoutes_Errors: a route table that cannot be used is refused
// when it is read, with what is wrong and where.
func TestParseRoutes_Errors(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"NotJSON", `routes:`, "not a route table"},
		{"UnknownField", `{"routes":[{"route":"/","permission":["x"]}]}`, `unknown field "permission"`},
		{"UnknownTopField", `{"routes":[{"route":"/"}],"unmatched":"allow"}`, `unknown field "unmatched"`},
		{"Trailing", `{"routes":[{"route":"/"}]} {}`, "more after"},
		{"Empty", `{"routes":[]}`, `no "routes"`},
		{"NoRoutes", `{}`, `no "routes"`},
		{"Null", `{"routes":[null]}`, "route 1 is null"},
		{"NoPattern", `{"routes":[{"permissions":["interview:read"]}]}`, `route 1 (""): "route" is missing`},
		{"BadPattern", `{"routes":[{"route":"/"},{"route":"GET /a/{x"}]}`, `route 2 ("GET /a/{x")`},
		{"Conflict", `{"routes":[{"route":"GET /a/{x}"},{"route":"GET /a/{y}"}]}`, `route 2 ("GET /a/{y}"): `},
		{"Duplicate", `{"routes":[{"route":"/a"},{"route":"/a"}]}`, `route 2 ("/a")`},
		{"BadPermission", `{"routes":[{"route":"/","permissions":["Orders:write"]}]}`, `"Orders:write" is not a permission`},
		{"BadEnvironment", `{"routes":[{"route":"/","environment":"prod"}]}`, `"environment" must be "live" or "test"`},
		{"BadCost", `{"routes":[{"route":"/","cost":-1}]}`, `"cost" must be a whole number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gateway.ParseRoutes([]byte(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
	if _, err := gateway.LoadRoutes(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("a file that does not exist: no error")
	}
	path := filepath.Join(t.TempDir(), "routes.json")
	if err := os.WriteFile(path, []byte(`{"routes":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := gateway.LoadRoutes(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("a bad file: got %v, want an error naming it", err)
	}
}

// TestRoutes_Match: routes match as ServeMux patterns do, the most
// specific first; a request no route takes, or one ServeMux would
// redirect, matches none.
func TestRoutes_Match(t *testing.T) {
	rt, err := gateway.ParseRoutes([]byte(`{"routes":[
		{"route":"GET /v1/interviews/{id}","permissions":["interview:read"]},
		{"route":"POST /v1/interviews","permissions":["interview:write"],"cost":5},
		{"route":"/v1/admin/","permissions":["api_key:write"]},
		{"route":"admin.example.com/","permissions":["*"]},
		{"route":"/health"}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, host, uri string
		want              string // the route's pattern, "" for none
	}{
		{"GET", "", "/v1/interviews/intv_1", "GET /v1/interviews/{id}"},
		{"HEAD", "", "/v1/interviews/intv_1?x=1", "GET /v1/interviews/{id}"},
		{"DELETE", "", "/v1/interviews/intv_1", ""},
		{"POST", "", "/v1/interviews", "POST /v1/interviews"},
		{"POST", "api.example.com", "/v1/interviews", "POST /v1/interviews"},
		{"GET", "", "/v1/admin/keys/1", "/v1/admin/"},
		{"GET", "admin.example.com:443", "/v1/interviews/intv_1", "admin.example.com/"},
		{"GET", "", "/health", "/health"},
		{"GET", "", "/healthz", ""},
		{"GET", "", "/v1/admin", ""},                      // ServeMux redirects it to /v1/admin/
		{"GET", "", "/health/../v1/admin/x", ""},          // not clean: redirected
		{"GET", "", "http://a.example/health", "/health"}, // absolute-form
		{"GET", "", "health", ""},
		{"GET", "", "", ""},
	} {
		r := rt.Match(tc.method, tc.host, tc.uri)
		got := ""
		if r != nil {
			got = r.Pattern
		}
		if got != tc.want {
			t.Errorf("%s %s %s: got %q, want %q", tc.method, tc.host, tc.uri, got, tc.want)
		}
	}
}

// TestNeed: the gateway's parameters add to the route's requirements; an
// environment both give must agree; the cost is the gateway's, else the
// route's, else 1.
func TestNeed(t *testing.T) {
	five, zero := int64(5), int64(0)
	route := &gateway.Route{Pattern: "/", Permissions: []pihu.Permission{"interview:read"}, Environment: pihu.Live, Cost: &five}
	n, err := gateway.Need(route, gateway.Params{Permissions: []pihu.Permission{"candidate:read"}}, "203.0.113.7")
	if err != nil || !slices.Equal(n.Permissions, []pihu.Permission{"interview:read", "candidate:read"}) || n.Environment != pihu.Live || n.Cost != 5 || n.ClientIP != "203.0.113.7" {
		t.Errorf("route and parameters: got %+v, %v", n, err)
	}
	if n, _ := gateway.Need(route, gateway.Params{Cost: &zero}, ""); n.Cost != 0 {
		t.Errorf("the gateway's cost 0: got %d", n.Cost)
	}
	if n, _ := gateway.Need(nil, gateway.Params{}, ""); n.Cost != 1 || n.Permissions != nil {
		t.Errorf("nothing asked: got %+v", n)
	}
	if _, err := gateway.Need(route, gateway.Params{Environment: pihu.Test}, ""); pihu.ErrorCode(err) != pihu.EParameterInvalid {
		t.Errorf("two environments: got %v", err)
	}
	if route.Permissions[0] != "interview:read" || len(route.Permissions) != 1 {
		t.Errorf("the route changed: %v", route.Permissions)
	}
}

// TestAppendIdentity: the headers name the key, and an access token as
// such with its own permissions.
func TestAppendIdentity(t *testing.T) {
	k := &pihu.Key{ID: "key_1", AccountID: "acct_1", Environment: pihu.Test, Permissions: pihu.Permissions{"interview:read", "candidate:*"}}
	got := gateway.AppendIdentity(nil, k)
	want := []pihu.Header{{Name: gateway.HeaderKeyID, Value: "key_1"}, {Name: gateway.HeaderAccountID, Value: "acct_1"}, {Name: gateway.HeaderEnvironment, Value: "test"},
		{Name: gateway.HeaderPermissions, Value: "interview:read,candidate:*"}, {Name: gateway.HeaderKind, Value: "api_key"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	k.Token = &pihu.AccessToken{ID: "tok_1"}
	if got := gateway.AppendIdentity(nil, k); got[4].Value != "access_token" {
		t.Errorf("a token: got %v", got)
	}
	for _, h := range got {
		if !slices.Contains(gateway.IdentityHeaders, h.Name) {
			t.Errorf("%s is not in IdentityHeaders", h.Name)
		}
	}
	// A key of an identity (an access token's parent's) names it too.
	k.Identity = &pihu.Identity{ID: "idt_1", ExternalID: "org_acme"}
	got = gateway.AppendIdentity(nil, k)
	for _, want := range []pihu.Header{{Name: gateway.HeaderIdentityID, Value: "idt_1"}, {Name: gateway.HeaderExternalID, Value: "org_acme"}} {
		if !slices.Contains(got, want) {
			t.Errorf("a key of an identity: got %v, want %v among them", got, want)
		}
	}
	for _, h := range got {
		if !slices.Contains(gateway.IdentityHeaders, h.Name) {
			t.Errorf("%s is not in IdentityHeaders", h.Name)
		}
	}
}
