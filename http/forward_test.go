package http_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu/gateway"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/ratelimit"
)

// behindProxy makes the test client (127.0.0.1) a trusted proxy that
// writes the client's address in X-Forwarded-For, as a gateway in front
// of pihu does.
func behindProxy(t testing.TB) func(*pihuhttp.Options) {
	return func(o *pihuhttp.Options) {
		o.TrustedProxyHeader = "X-Forwarded-For"
		o.TrustedProxies = loopback
	}
}

// TestForwardAuth_Allowed: an admitted request is a 200 with no body and
// the identity headers for the upstream, and the key's RateLimit headers;
// an access token is told apart from its key.
func TestForwardAuth_Allowed(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"writer","permissions":["interview:write","token:write"]}`)
	r := ts.doWith(t, "GET", "/v1/auth/forward?permission=interview:write&permission=interview:read", "", map[string]string{"Authorization": bearer(k.Key)})
	if r.status != 200 || len(r.body) != 0 {
		t.Fatalf("got %d %q, want 200 and no body", r.status, r.body)
	}
	want := map[string]string{
		gateway.HeaderKeyID: k.ID, gateway.HeaderAccountID: ts.Account.ID, gateway.HeaderEnvironment: "live",
		gateway.HeaderPermissions: "interview:write,token:write", gateway.HeaderKind: "api_key",
		"RateLimit-Limit": "1000", "RateLimit-Remaining": "999", "RateLimit-Policy": `"default";q=1000;w=60`,
	}
	for name, v := range want {
		if got := r.header.Get(name); got != v {
			t.Errorf("%s: got %q, want %q", name, got, v)
		}
	}

	tok := ts.mint(t, k.Key, `{"permissions":["interview:read"]}`)
	r = ts.doWith(t, "GET", "/v1/auth/forward?permission=interview:read", "", map[string]string{"Authorization": bearer(tok.AccessToken)})
	if r.status != 200 || r.header.Get(gateway.HeaderKind) != "access_token" || r.header.Get(gateway.HeaderKeyID) != k.ID || r.header.Get(gateway.HeaderPermissions) != "interview:read" {
		t.Errorf("an access token: got %d %v", r.status, r.header)
	}
	// The token is not its key: it has no interview:write.
	r = ts.doWith(t, "GET", "/v1/auth/forward?permission=interview:write", "", map[string]string{"Authorization": bearer(tok.AccessToken)})
	if r.status != 403 || r.errorBody(t).Required != "interview:write" {
		t.Errorf("an access token without the permission: got %d %s", r.status, r.body)
	}
}

// refusalHeaders are the headers of a refusal that must be the same at
// every door.
var refusalHeaders = []string{"WWW-Authenticate", "Retry-After", "RateLimit-Policy", "RateLimit", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Pihu-Credits-Refill", "Content-Type", "Cache-Control"}

// TestForwardAuth_SameRefusalsAsTheAPI: every refusal of the forward-auth
// endpoint is, header for header and byte for byte (but the request id),
// the API's own to a request needing the same permission, made with a key
// made the same way.
func TestForwardAuth_SameRefusalsAsTheAPI(t *testing.T) {
	ts := newTestServer(t)
	for _, tc := range []struct {
		name, key string // key: the body creating it, less its name; "" for no key
		revoke    bool
		disable   bool
		first     int // requests admitted first, with each key
		secret    string
		status    int
	}{
		{name: "NoKey", status: 401},
		{name: "UnknownKey", secret: forged(1)[0], status: 401},
		{name: "TwoCredentials", secret: "a, Bearer b", status: 400},
		{name: "Revoked", key: `"permissions":["interview:read"]`, revoke: true, status: 401},
		{name: "Disabled", key: `"permissions":["interview:read"]`, disable: true, status: 401},
		{name: "PermissionMissing", key: `"permissions":["candidate:read"]`, status: 403},
		{name: "AddressOutside", key: `"permissions":["interview:read"],"allowed_ips":["10.0.0.0/8"]`, status: 403},
		{name: "RateLimited", key: `"permissions":["interview:read"],"rate_limit":"1/m"`, first: 1, status: 429},
		{name: "OutOfCredits", key: `"permissions":["interview:read"],"remaining":1,"refill":{"interval":"daily","amount":5}`, first: 1, status: 403},
		{name: "OutOfCreditsNoRefill", key: `"permissions":["interview:read"],"remaining":0`, status: 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got [2]response
			var ids [2]string
			for i, path := range []string{"/v1/interviews", "/v1/auth/forward?permission=interview:read"} {
				secret := tc.secret
				if tc.key != "" {
					k := ts.newKey(t, ts.Owner, `{"name":"`+tc.name+`",`+tc.key+`}`)
					secret, ids[i] = k.Key, k.ID
					if tc.revoke {
						ts.do(t, "DELETE", "/v1/auth/api-keys/"+k.ID, ts.Owner, "")
					}
					if tc.disable {
						ts.setEnabled(t, ts.Owner, k.ID, false)
					}
				}
				for range tc.first {
					if r := ts.do(t, "GET", path, secret, ""); r.status != 200 {
						t.Fatalf("a first request to %s: %d %s", path, r.status, r.body)
					}
				}
				got[i] = ts.do(t, "GET", path, secret, "")
			}
			api, fwd := got[0], got[1]
			if api.status != tc.status || fwd.status != tc.status {
				t.Fatalf("status: the API %d, forward auth %d, want %d (%s, %s)", api.status, fwd.status, tc.status, api.body, fwd.body)
			}
			for _, h := range refusalHeaders {
				// Each door had a key of its own, whose id a message may name.
				a, f := api.header.Get(h), fwd.header.Get(h)
				if ids[0] != "" {
					a, f = strings.ReplaceAll(a, ids[0], "key_…"), strings.ReplaceAll(f, ids[1], "key_…")
				}
				if a != f {
					t.Errorf("%s: the API %q, forward auth %q", h, a, f)
				}
			}
			// Each door had a key of its own, whose id a message may name.
			a, f := withoutRequestID(t, api), withoutRequestID(t, fwd)
			if ids[0] != "" {
				a, f = strings.ReplaceAll(a, ids[0], "key_…"), strings.ReplaceAll(f, ids[1], "key_…")
			}
			if a != f {
				t.Errorf("body: the API %s, forward auth %s", a, f)
			}
		})
	}
}

// withoutRequestID is r's body with its error's request_id blanked.
func withoutRequestID(t *testing.T, r response) string {
	t.Helper()
	var b map[string]map[string]any
	r.decode(t, &b)
	if b["error"]["request_id"] != r.header.Get("Request-Id") {
		t.Errorf("request_id %v, not the Request-Id header %q", b["error"]["request_id"], r.header.Get("Request-Id"))
	}
	delete(b["error"], "request_id")
	out, _ := json.Marshal(b)
	return string(out)
}

// TestForwardAuth_Parameters: the URL's parameters are the gateway
// config's, checked as strictly as any query string of the API, except
// the client's own query string, which a gateway may send instead (Caddy
// does when its uri has none): then what the endpoint does not take is
// ignored, and a cost can only raise what is spent.
func TestForwardAuth_Parameters(t *testing.T) {
	ts := newTestServer(t, behindProxy(t))
	live := ts.newKey(t, ts.Owner, `{"name":"live","permissions":["interview:read"],"remaining":100}`)
	test := ts.newKey(t, ts.Owner, `{"name":"test","permissions":["interview:read"],"environment":"test"}`)
	get := func(query, key string, headers map[string]string) response {
		h := map[string]string{"Authorization": bearer(key)}
		for k, v := range headers {
			h[k] = v
		}
		return ts.doWith(t, "GET", "/v1/auth/forward"+query, "", h)
	}
	for _, tc := range []struct {
		name, query, key string
		headers          map[string]string
		status           int
		code, param      string
	}{
		{name: "ErrUnknown", query: "?permision=interview:read", key: live.Key, status: 400, code: "parameter_unknown", param: "permision"},
		{name: "ErrPermission", query: "?permission=interview:writ", key: live.Key, status: 400, code: "parameter_invalid", param: "permission"},
		{name: "ErrEnvironment", query: "?environment=prod", key: live.Key, status: 400, code: "parameter_invalid", param: "environment"},
		{name: "ErrEnvironmentTwice", query: "?environment=live&environment=test", key: live.Key, status: 400, code: "parameter_invalid", param: "environment"},
		{name: "ErrCost", query: "?cost=-1", key: live.Key, status: 400, code: "parameter_invalid", param: "cost"},
		{name: "ErrAuthRequest", query: "?auth_request=yes", key: live.Key, status: 400, code: "parameter_invalid", param: "auth_request"},
		{name: "ErrMalformed", query: "?permission=%zz", key: live.Key, status: 400, code: "parameter_invalid", param: "permission"},
		{name: "Environment", query: "?environment=live", key: live.Key, status: 200},
		{name: "ErrOtherEnvironment", query: "?environment=live&permission=interview:read", key: test.Key, status: 403, code: "insufficient_permissions"},
		// The original request's own query string is not the config's.
		{name: "ClientsQuery", query: "?page=2&sort=%zz", key: live.Key, headers: map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/v1/interviews?page=2&sort=%zz"}, status: 200},
		{name: "ClientsQueryAddsPermission", query: "?permission=interview:write", key: live.Key, headers: map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/x?permission=interview:write"}, status: 403, code: "insufficient_permissions"},
		// From a peer that is not a trusted proxy, the query is the one
		// the peer asks with.
		{name: "ErrUntrustedClientsQuery", query: "?page=2", key: live.Key, headers: map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/v1/interviews?page=2", "X-Forwarded-For": "203.0.113.7"}, status: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := get(tc.query, tc.key, tc.headers)
			if r.status != tc.status {
				t.Fatalf("got %d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.status >= 400 {
				if e := r.errorBody(t); e.Code != tc.code || e.Param != tc.param {
					t.Errorf("got %s (%s), want %s (%s)", e.Code, e.Param, tc.code, tc.param)
				}
			}
		})
	}

	// Credits: a cost of the config's is spent; the client's own
	// query string cannot lower it.
	remaining := func() int64 { return *ts.keyItem(t, live.ID).Remaining }
	before := remaining()
	if r := get("?cost=5", live.Key, nil); r.status != 200 {
		t.Fatalf("cost=5: %d %s", r.status, r.body)
	}
	if r := get("?cost=0", live.Key, map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/v1/interviews?cost=0"}); r.status != 200 {
		t.Fatalf("the client's cost=0: %d %s", r.status, r.body)
	}
	if r := get("?cost=0", live.Key, nil); r.status != 200 {
		t.Fatalf("cost=0: %d %s", r.status, r.body)
	}
	if got := before - remaining(); got != 6 {
		t.Errorf("credits spent by cost=5, the client's cost=0 and the config's cost=0: got %d, want 5+1+0", got)
	}
}

// TestForwardAuth_AuthRequest: with auth_request=1, for nginx, a refusal
// other than a 401 is a 403, and every refusal carries its status and its
// body in headers, for the nginx config to answer with; the rest of the
// answer is the API's.
func TestForwardAuth_AuthRequest(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"once","permissions":["interview:read"],"rate_limit":"1/m"}`)
	for _, tc := range []struct {
		name, key       string
		status, carried int
	}{
		{"Admitted", k.Key, 200, 0},
		{"RateLimited", k.Key, 403, 429},
		{"NoKey", "", 401, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do(t, "GET", "/v1/auth/forward?permission=interview:read&auth_request=1", tc.key, "")
			if r.status != tc.status {
				t.Fatalf("got %d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.carried == 0 {
				if r.header.Get(pihuhttp.HeaderStatus) != "" || r.header.Get(pihuhttp.HeaderError) != "" {
					t.Errorf("an admitted request carries a refusal: %v", r.header)
				}
				return
			}
			if got := r.header.Get(pihuhttp.HeaderStatus); got != fmt.Sprint(tc.carried) {
				t.Errorf("%s: got %q, want %d", pihuhttp.HeaderStatus, got, tc.carried)
			}
			if got := r.header.Get(pihuhttp.HeaderError) + "\n"; got != string(r.body) {
				t.Errorf("%s: got %q, want the body %q", pihuhttp.HeaderError, got, r.body)
			}
			if tc.carried == 429 && r.header.Get("Retry-After") == "" {
				t.Error("a 429 carried without its Retry-After")
			}
		})
	}
}

// TestForwardAuth_Routes: with a route table, what a request needs is its
// route's, found from the original request the gateway describes (only a
// trusted proxy may); a request that matches no route is a 404, whatever
// its key.
func TestForwardAuth_Routes(t *testing.T) {
	routes, err := gateway.ParseRoutes([]byte(`{"routes":[
		{"route":"GET /v1/interviews/{id}","permissions":["interview:read"]},
		{"route":"POST /v1/interviews","permissions":["interview:write"],"environment":"live"},
		{"route":"admin.example.com/","permissions":["api_key:write"]},
		{"route":"/public/"}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, behindProxy(t), func(o *pihuhttp.Options) { o.GatewayRoutes = routes })
	reader := ts.newKey(t, ts.Owner, `{"name":"reader","permissions":["interview:read"]}`).Key
	orig := func(method, uri, host string) map[string]string {
		return map[string]string{"X-Forwarded-Method": method, "X-Forwarded-Uri": uri, "X-Forwarded-Host": host}
	}
	nginx := func(method, uri string) map[string]string {
		return map[string]string{"X-Original-Method": method, "X-Original-URI": uri}
	}
	for _, tc := range []struct {
		name    string
		key     string
		headers map[string]string
		status  int
		code    string
	}{
		{"Route", reader, orig("GET", "/v1/interviews/intv_1?x=1", "api.example.com"), 200, ""},
		{"RouteOfNginx", reader, nginx("GET", "/v1/interviews/intv_1"), 200, ""},
		{"RouteOfIngressNginx", reader, map[string]string{"X-Original-Method": "GET", "X-Original-URL": "https://api.example.com/v1/interviews/intv_1?x=1"}, 200, ""},
		{"ErrRouteOfIngressNginxHost", reader, map[string]string{"X-Original-Method": "GET", "X-Original-URL": "https://admin.example.com/v1/interviews/intv_1"}, 403, "insufficient_permissions"},
		{"HeadIsGet", reader, orig("HEAD", "/v1/interviews/intv_1", ""), 200, ""},
		{"ErrRoutePermission", reader, orig("POST", "/v1/interviews", ""), 403, "insufficient_permissions"},
		{"ErrRouteOfHost", reader, orig("GET", "/v1/interviews/intv_1", "admin.example.com:8443"), 403, "insufficient_permissions"},
		{"AnyKey", reader, orig("DELETE", "/public/a", ""), 200, ""},
		{"ErrNoRoute", reader, orig("GET", "/v1/candidates", ""), 404, "not_found"},
		{"ErrNoRouteNoKey", "", orig("GET", "/v1/candidates", ""), 404, "not_found"},
		{"ErrOtherMethod", reader, orig("PUT", "/v1/interviews/intv_1", ""), 404, "not_found"},
		{"ErrUncleanPath", reader, orig("GET", "/public/../v1/candidates", ""), 404, "not_found"},
		{"NoKey", "", orig("GET", "/v1/interviews/intv_1", ""), 401, "missing_api_key"},
		{"ErrNoOriginal", reader, nil, 400, "parameter_missing"},
		{"ErrBadMethod", reader, orig("GE T", "/v1/interviews/intv_1", ""), 400, "parameter_invalid"},
		{"ErrBadURI", reader, orig("GET", "v1/interviews", ""), 400, "parameter_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"Authorization": bearer(tc.key)}
			for k, v := range tc.headers {
				h[k] = v
			}
			r := ts.doWith(t, "GET", "/v1/auth/forward", "", h)
			if r.status != tc.status {
				t.Fatalf("got %d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.code != "" && r.errorBody(t).Code != tc.code {
				t.Errorf("got %s, want %s", r.body, tc.code)
			}
		})
	}

	// From a peer that is not a trusted proxy, the original request is
	// unknown: its route cannot be found.
	ts2 := newTestServer(t, func(o *pihuhttp.Options) { o.GatewayRoutes = routes })
	k := ts2.newKey(t, ts2.Owner, `{"name":"reader","permissions":["interview:read"]}`).Key
	h := orig("GET", "/v1/interviews/intv_1", "")
	h["Authorization"] = bearer(k)
	if r := ts2.doWith(t, "GET", "/v1/auth/forward", "", h); r.status != 400 || r.errorBody(t).Param != "X-Forwarded-Uri" {
		t.Errorf("from an untrusted peer: got %d %s, want 400 on X-Forwarded-Uri", r.status, r.body)
	}
}

// TestForwardAuth_ClientAddress: allowed_ips are judged on the address of
// the client the gateway names, and failed authentications count against
// that client, never the gateway: one client guessing keys locks out only
// itself. From a peer that is not a trusted proxy, the header is ignored.
func TestForwardAuth_ClientAddress(t *testing.T) {
	ts := newTestServer(t, behindProxy(t), func(o *pihuhttp.Options) { o.FailedAuthLimit = ratelimit.PerMinute(2) })
	there := ts.newKey(t, ts.Owner, `{"name":"there","permissions":["*"],"allowed_ips":["203.0.113.7"]}`).Key
	from := func(key, addr string) response {
		return ts.doWith(t, "GET", "/v1/auth/forward", "", map[string]string{"Authorization": bearer(key), "X-Forwarded-For": addr})
	}
	if r := from(there, "203.0.113.7"); r.status != 200 {
		t.Errorf("from its allowed address: got %d %s", r.status, r.body)
	}
	if r := from(there, "198.51.100.1"); r.status != 403 || r.errorBody(t).Code != "ip_not_allowed" {
		t.Errorf("from another address: got %d %s", r.status, r.body)
	}
	for i, want := range []int{401, 401, 429} {
		if r := from(forged(1)[0], "198.51.100.66"); r.status != want {
			t.Errorf("guess %d: got %d, want %d", i+1, r.status, want)
		}
	}
	if r := from(forged(1)[0], "198.51.100.67"); r.status != 401 {
		t.Errorf("another client's bad key: got %d, want 401: the guesser's failures count against the gateway", r.status)
	}

	untrusted := newTestServer(t)
	k := untrusted.newKey(t, untrusted.Owner, `{"name":"there","permissions":["*"],"allowed_ips":["203.0.113.7"]}`).Key
	r := untrusted.doWith(t, "GET", "/v1/auth/forward", "", map[string]string{"Authorization": bearer(k), "X-Forwarded-For": "203.0.113.7"})
	if r.status != 403 {
		t.Errorf("a forged X-Forwarded-For from an untrusted peer: got %d, want 403", r.status)
	}
}

// TestForwardAuth_Methods: a gateway may ask with the client's own
// method; HEAD and OPTIONS are not served, as on the whole API. A POST is
// a question, not a write: the client's Idempotency-Key, which a gateway
// may pass on, is the original request's, and replays nothing: a key
// revoked after a first question is refused at the second.
func TestForwardAuth_Methods(t *testing.T) {
	ts := newTestServer(t)
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		if r := ts.do(t, m, "/v1/auth/forward", ts.Owner, ""); r.status != 200 {
			t.Errorf("%s: got %d %s", m, r.status, r.body)
		}
	}
	k := ts.newKey(t, ts.Owner, `{"name":"once","permissions":["interview:read"]}`)
	h := map[string]string{"Authorization": bearer(k.Key), "Idempotency-Key": "order-1"}
	if r := ts.doWith(t, "POST", "/v1/auth/forward", "", h); r.status != 200 || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("a first POST: %d %v", r.status, r.header)
	}
	ts.do(t, "DELETE", "/v1/auth/api-keys/"+k.ID, ts.Owner, "")
	if r := ts.doWith(t, "POST", "/v1/auth/forward", "", h); r.status != 401 || r.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("the same POST after revocation: got %d %v, want 401", r.status, r.header)
	}
	for _, m := range []string{"HEAD", "OPTIONS"} {
		if r := ts.do(t, m, "/v1/auth/forward", ts.Owner, ""); r.status != 405 || !strings.Contains(r.header.Get("Allow"), "DELETE") {
			t.Errorf("%s: got %d Allow %q", m, r.status, r.header.Get("Allow"))
		}
	}
	if r := ts.do(t, "GET", "/v1/auth/forward", ts.Owner, ""); r.header.Get("Content-Type") != "" {
		t.Errorf("an empty 200 with Content-Type %q", r.header.Get("Content-Type"))
	}
}
