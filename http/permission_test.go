package http_test

import (
	"context"
	"net"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/extauthz"
	"github.com/pihu-ai/pihu/gateway"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

// permissionNames returns the names of GET /v1/permissions by source.
func permissionNames(tb testing.TB, ts *testServer, key string) map[string][]string {
	tb.Helper()
	r := ts.do(tb, "GET", "/v1/permissions", key, "")
	if r.status != 200 {
		tb.Fatalf("GET /v1/permissions: got %d %s", r.status, r.body)
	}
	var list pihuhttp.PermissionList
	r.decode(tb, &list)
	out := map[string][]string{}
	for _, p := range list.Data {
		out[p.Source] = append(out[p.Source], p.Name)
	}
	return out
}

func TestPermissions(t *testing.T) {
	ts := newTestServer(t)
	_, other := ts.newAccount(t, "Other")
	reader := ts.newKey(t, ts.Owner, `{"name":"r","permissions":["permission:read"]}`).Key
	writer := ts.newKey(t, ts.Owner, `{"name":"w","permissions":["permission:write","api_key:write"]}`).Key
	test := ts.newKey(t, ts.Owner, `{"name":"t","permissions":["*"],"environment":"test"}`).Key
	noPerm := ts.newKey(t, ts.Owner, `{"name":"n","permissions":["candidate:read"]}`).Key
	if err := ts.Store.DefinePermission(context.Background(), &pihu.DefinedPermission{Name: "audit:export", Description: "Export the audit trail.", Created: ts.Clock.Now()}); err != nil {
		t.Fatal(err)
	}

	ts.run(t, []scenario{
		{name: "Create", method: "POST", path: "/v1/permissions", key: writer, body: `{"name":"billing:read","description":"Read invoices."}`, status: 200,
			check: func(t *testing.T, r response) {
				var p pihuhttp.PermissionItem
				r.decode(t, &p)
				if p.Name != "billing:read" || p.Description != "Read invoices." || p.Source != "account" || p.Created == nil || *p.Created != "2024-02-20T12:00:00Z" {
					t.Errorf("got %+v", p)
				}
			}},
		{name: "CreateWithoutDescription", method: "POST", path: "/v1/permissions", key: ts.Owner, body: `{"name":"billing:write"}`, status: 200},
		{name: "CreateTwice", method: "POST", path: "/v1/permissions", key: writer, body: `{"name":"billing:read"}`, status: 409, code: "permission_exists", param: "name"},
		{name: "CreateServerWideName", method: "POST", path: "/v1/permissions", key: writer, body: `{"name":"audit:export"}`, status: 409, code: "permission_exists", param: "name"},
		{name: "CreateBuiltIn", method: "POST", path: "/v1/permissions", key: writer, body: `{"name":"candidate:read"}`, status: 400, code: "parameter_invalid", param: "name"},
		{name: "CreateOnBuiltInResource", method: "POST", path: "/v1/permissions", key: writer, body: `{"name":"candidate:export"}`, status: 400, code: "parameter_invalid", param: "name"},
		{name: "CreateWildcard", method: "POST", path: "/v1/permissions", key: writer, body: `{"name":"billing:*"}`, status: 400, code: "parameter_invalid", param: "name"},
		{name: "CreateMalformed", method: "POST", path: "/v1/permissions", key: writer, body: `{"name":"Billing"}`, status: 400, code: "parameter_invalid", param: "name"},
		{name: "CreateNoName", method: "POST", path: "/v1/permissions", key: writer, body: `{"description":"x"}`, status: 400, code: "parameter_missing", param: "name"},
		{name: "CreateUnknownField", method: "POST", path: "/v1/permissions", key: writer, body: `{"name":"a:b","scope":"x"}`, status: 400, code: "parameter_unknown", param: "scope"},
		{name: "CreateNoKey", method: "POST", path: "/v1/permissions", body: `{"name":"a:b"}`, status: 401, code: "missing_api_key"},
		{name: "CreateWithoutPermission", method: "POST", path: "/v1/permissions", key: reader, body: `{"name":"a:b"}`, status: 403, code: "insufficient_permissions"},
		{name: "CreateWithTestKey", method: "POST", path: "/v1/permissions", key: test, body: `{"name":"a:b"}`, status: 403, code: "insufficient_permissions"},
		{name: "ListWithoutPermission", method: "GET", path: "/v1/permissions", key: noPerm, status: 403, code: "insufficient_permissions"},
		{name: "ListUnknownParameter", method: "GET", path: "/v1/permissions?limit=5", key: reader, status: 400, code: "parameter_unknown", param: "limit"},
		{name: "DeleteBuiltIn", method: "DELETE", path: "/v1/permissions/candidate:read", key: writer, status: 400, code: "parameter_invalid", param: "name"},
		{name: "DeleteServerWide", method: "DELETE", path: "/v1/permissions/audit:export", key: writer, status: 400, code: "parameter_invalid", param: "name"},
		{name: "DeleteUnknown", method: "DELETE", path: "/v1/permissions/nothing:here", key: writer, status: 404, code: "not_found"},
		{name: "DeleteOtherAccounts", method: "DELETE", path: "/v1/permissions/billing:read", key: other, status: 404, code: "not_found"},
		{name: "DeleteBadForce", method: "DELETE", path: "/v1/permissions/billing:read?force=yes", key: writer, status: 400, code: "parameter_invalid", param: "force"},
		{name: "DeleteWithTestKey", method: "DELETE", path: "/v1/permissions/billing:read", key: test, status: 403, code: "insufficient_permissions"},
	})

	t.Run("List", func(t *testing.T) {
		got := permissionNames(t, ts, reader)
		if n := len(got["built_in"]); n != len(pihu.Catalogue) {
			t.Errorf("got %d built-in permissions, want %d", n, len(pihu.Catalogue))
		}
		if strings.Join(got["server"], ",") != "audit:export" || strings.Join(got["account"], ",") != "billing:read,billing:write" {
			t.Errorf("got %v", got)
		}
		// A test key reads the catalogue, which both environments share.
		if got := permissionNames(t, ts, test); len(got["account"]) != 2 {
			t.Errorf("test key: got %v", got)
		}
	})
	t.Run("Audited", func(t *testing.T) {
		r := ts.do(t, "GET", "/v1/auth/audit-events?limit=100", ts.Owner, "")
		if !strings.Contains(string(r.body), `"action":"permission.created","actor":"`) || !strings.Contains(string(r.body), `"target":"billing:read"`) {
			t.Errorf("no permission.created event for billing:read: %s", r.body)
		}
	})
	t.Run("AccessTokenRefused", func(t *testing.T) {
		r := ts.do(t, "POST", "/v1/auth/tokens", ts.Owner, `{}`)
		var tok pihuhttp.TokenCreated
		r.decode(t, &tok)
		if r := ts.do(t, "POST", "/v1/permissions", tok.AccessToken, `{"name":"tok:en"}`); r.status != 403 || r.errorBody(t).Code != "insufficient_permissions" {
			t.Errorf("token: got %d %s, want 403", r.status, r.body)
		}
		if got := permissionNames(t, ts, tok.AccessToken); len(got["account"]) != 2 {
			t.Errorf("token reading: got %v", got)
		}
	})
	t.Run("OtherAccountInvisible", func(t *testing.T) {
		got := permissionNames(t, ts, other)
		if len(got["account"]) != 0 || strings.Join(got["server"], ",") != "audit:export" {
			t.Errorf("got %v, want the server-wide permission only", got)
		}
		// Nor can it give them.
		r := ts.do(t, "POST", "/v1/auth/api-keys", other, `{"name":"k","permissions":["billing:read"]}`)
		if r.status != 400 || r.errorBody(t).Param != "permissions" {
			t.Errorf("got %d %s, want 400 on permissions", r.status, r.body)
		}
	})
}

func TestPermissions_Keys(t *testing.T) {
	ts := newTestServer(t)
	if r := ts.do(t, "POST", "/v1/permissions", ts.Owner, `{"name":"billing:read","description":"Read invoices."}`); r.status != 200 {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	ts.do(t, "POST", "/v1/permissions", ts.Owner, `{"name":"billing:write"}`)
	if err := ts.Store.DefinePermission(context.Background(), &pihu.DefinedPermission{Name: "audit:export", Created: ts.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	verifier := ts.newKey(t, ts.Owner, `{"name":"v","permissions":["api_key:verify"]}`).Key
	billing := ts.newKey(t, ts.Owner, `{"name":"b","permissions":["billing:write","audit:export","api_key:write","token:write"]}`)
	wildcard := ts.newKey(t, ts.Owner, `{"name":"w","permissions":["billing:*"]}`)

	verify := func(t *testing.T, key, perm string) pihuhttp.VerifyResult {
		t.Helper()
		r := ts.do(t, "POST", "/v1/auth/verify", verifier, `{"key":"`+key+`","permissions":["`+perm+`"]}`)
		if r.status != 200 {
			t.Fatalf("verify %s: got %d %s", perm, r.status, r.body)
		}
		var v pihuhttp.VerifyResult
		r.decode(t, &v)
		return v
	}
	t.Run("Verify", func(t *testing.T) {
		for _, tt := range []struct {
			key, perm, code string
		}{
			{billing.Key, "billing:write", "VALID"},
			{billing.Key, "billing:read", "VALID"}, // write implies read
			{billing.Key, "audit:export", "VALID"}, // server-wide
			{wildcard.Key, "billing:read", "VALID"},
			{wildcard.Key, "billing:anything", "VALID"}, // undefined, but the wildcard covers it
			{billing.Key, "billing:delete", "INSUFFICIENT_PERMISSIONS"},
			{billing.Key, "orders:read", "INSUFFICIENT_PERMISSIONS"}, // undefined anywhere: not granted
			{wildcard.Key, "audit:export", "INSUFFICIENT_PERMISSIONS"},
		} {
			if v := verify(t, tt.key, tt.perm); v.Code != tt.code {
				t.Errorf("verify %s: got %s, want %s", tt.perm, v.Code, tt.code)
			}
		}
		r := ts.do(t, "POST", "/v1/auth/verify", verifier, `{"key":"`+billing.Key+`","permissions":["Billing"]}`)
		if r.status != 400 || r.errorBody(t).Param != "permissions" {
			t.Errorf("malformed permission: got %d %s, want 400 on permissions", r.status, r.body)
		}
	})
	t.Run("ForwardAuth", func(t *testing.T) {
		for _, tt := range []struct {
			query  string
			status int
		}{
			{"?permission=billing:read", 200},
			{"?permission=audit:export", 200},
			{"?permission=orders:read", 403},
			{"?permission=Orders", 400},
		} {
			r := ts.doWith(t, "GET", "/v1/auth/forward"+tt.query, "", map[string]string{"Authorization": bearer(billing.Key)})
			if r.status != tt.status {
				t.Errorf("%s: got %d %s, want %d", tt.query, r.status, r.body, tt.status)
			}
		}
	})
	t.Run("Token", func(t *testing.T) {
		r := ts.do(t, "POST", "/v1/auth/tokens", billing.Key, `{"permissions":["billing:read"]}`)
		if r.status != 200 {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		var tok pihuhttp.TokenCreated
		r.decode(t, &tok)
		rf := ts.doWith(t, "GET", "/v1/auth/forward?permission=billing:read", "", map[string]string{"Authorization": bearer(tok.AccessToken)})
		if rf.status != 200 {
			t.Errorf("forward-auth with the token: got %d %s", rf.status, rf.body)
		}
		if r := ts.do(t, "POST", "/v1/auth/tokens", billing.Key, `{"permissions":["orders:read"]}`); r.status != 400 || r.errorBody(t).Param != "permissions" {
			t.Errorf("undefined: got %d %s, want 400 on permissions", r.status, r.body)
		}
	})
	ts.run(t, []scenario{
		{name: "CreateUndefined", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"k","permissions":["orders:read"]}`, status: 400, code: "parameter_invalid", param: "permissions",
			check: func(t *testing.T, r response) {
				if m := r.errorBody(t).Message; !strings.Contains(m, "POST /v1/permissions") || !strings.Contains(m, "billing:read") {
					t.Errorf("message %q does not say how to define one, or list the account's", m)
				}
			}},
		{name: "CreateWildcardOfDefinedResource", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"k","permissions":["audit:*"]}`, status: 200},
		{name: "CreateWildcardOfUnknownResource", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"k","permissions":["orders:*"]}`, status: 400, code: "parameter_invalid", param: "permissions"},
		{name: "NoEscalation", method: "POST", path: "/v1/auth/api-keys", key: billing.Key, body: `{"name":"k","permissions":["billing:read","audit:export"]}`, status: 200},
		{name: "EscalationRefused", method: "POST", path: "/v1/auth/api-keys", key: billing.Key, body: `{"name":"k","permissions":["billing:*"]}`, status: 403, code: "insufficient_permissions", param: "permissions"},
		{name: "PatchDefined", method: "PATCH", path: "/v1/auth/api-keys/" + wildcard.ID, key: ts.Owner, body: `{"permissions":["billing:read"]}`, status: 200},
		{name: "PatchUndefined", method: "PATCH", path: "/v1/auth/api-keys/" + wildcard.ID, key: ts.Owner, body: `{"permissions":["orders:read"]}`, status: 400, code: "parameter_invalid", param: "permissions"},
	})

	t.Run("DeleteInUse", func(t *testing.T) {
		// billing:read is held by the key PATCHed above and the one
		// NoEscalation made; billing:write by billing's.
		r := ts.do(t, "DELETE", "/v1/permissions/billing:read", ts.Owner, "")
		if r.status != 409 {
			t.Fatalf("got %d %s, want 409", r.status, r.body)
		}
		if e := r.errorBody(t); e.Code != "permission_in_use" || e.KeyCount != 2 || !strings.Contains(e.Message, "2 keys hold") {
			t.Errorf("got %+v, want permission_in_use with key_count 2", e)
		}
		if got := permissionNames(t, ts, ts.Owner)["account"]; len(got) != 2 {
			t.Errorf("got %v, want it kept", got)
		}
		r = ts.do(t, "DELETE", "/v1/permissions/billing:read?force=true", ts.Owner, "")
		var d pihuhttp.PermissionDeleted
		r.decode(t, &d)
		if r.status != 200 || !d.Deleted || d.KeyCount != 2 || d.Name != "billing:read" || d.Description != "Read invoices." {
			t.Errorf("forced: got %d %s", r.status, r.body)
		}
		if got := permissionNames(t, ts, ts.Owner)["account"]; strings.Join(got, ",") != "billing:write" {
			t.Errorf("got %v, want billing:write left", got)
		}
		// It can no longer be given.
		if r := ts.do(t, "POST", "/v1/auth/api-keys", ts.Owner, `{"name":"k","permissions":["billing:read"]}`); r.status != 400 {
			t.Errorf("giving a deleted permission: got %d %s, want 400", r.status, r.body)
		}
		// An unused one goes without force.
		ts.do(t, "POST", "/v1/permissions", ts.Owner, `{"name":"spare:read"}`)
		if r := ts.do(t, "DELETE", "/v1/permissions/spare:read", ts.Owner, ""); r.status != 200 {
			t.Errorf("unused: got %d %s", r.status, r.body)
		}
	})
}

// TestPermissions_Gateways: a route table may name the permissions
// accounts define (it is read before any account exists), and
// forward-auth and Envoy's Check grant them as the API grants built-in
// ones.
func TestPermissions_Gateways(t *testing.T) {
	routes, err := gateway.ParseRoutes([]byte(`{"routes":[
		{"route":"GET /invoices/{id}","permissions":["billing:read"]},
		{"route":"POST /invoices","permissions":["billing:write"]}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, behindProxy(t), func(o *pihuhttp.Options) { o.GatewayRoutes = routes })
	// Check with the same route table, as serve --ext-authz-addr runs it.
	api := ts.Server.Config.Handler.(*pihuhttp.Server)
	g := grpc.NewServer()
	extauthz.New(extauthz.Options{Admission: api.Admission(), Now: ts.Clock.Now, Routes: routes}).Register(g)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(ln)
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	check := authv3.NewAuthorizationClient(conn)
	for _, name := range []string{"billing:read", "billing:write"} {
		if r := ts.do(t, "POST", "/v1/permissions", ts.Owner, `{"name":"`+name+`"}`); r.status != 200 {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	}
	reader := ts.newKey(t, ts.Owner, `{"name":"reader","permissions":["billing:read"]}`).Key
	writer := ts.newKey(t, ts.Owner, `{"name":"writer","permissions":["billing:write"]}`).Key
	wildcard := ts.newKey(t, ts.Owner, `{"name":"all","permissions":["billing:*"]}`).Key
	for _, tc := range []struct {
		name, key, method, path string
		status                  int
	}{
		{"Reader", reader, "GET", "/invoices/inv_1", 200},
		{"ReaderCannotWrite", reader, "POST", "/invoices", 403},
		{"WriterReads", writer, "GET", "/invoices/inv_1", 200},
		{"Writer", writer, "POST", "/invoices", 200},
		{"Wildcard", wildcard, "POST", "/invoices", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.doWith(t, "GET", "/v1/auth/forward", "", map[string]string{"Authorization": bearer(tc.key),
				"X-Forwarded-Method": tc.method, "X-Forwarded-Uri": tc.path, "X-Forwarded-Host": "api.example.com"})
			if r.status != tc.status {
				t.Errorf("forward-auth: got %d %s, want %d", r.status, r.body, tc.status)
			}
			res, err := check.Check(t.Context(), checkRequest(tc.method, tc.path, map[string]string{"authorization": "Bearer " + tc.key}, nil))
			if err != nil {
				t.Fatal(err)
			}
			if c := asResponse(res); c.status != tc.status {
				t.Errorf("Check: got %d %s, want %d", c.status, c.body, tc.status)
			}
		})
	}
}
