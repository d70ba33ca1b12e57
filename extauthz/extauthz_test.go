package extauthz_test

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/extauthz"
	"github.com/pihu-ai/pihu/gateway"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/ratelimit"
	"github.com/pihu-ai/pihu/sqlite"
)

// env is a Check service over gRPC on loopback, deciding with a real
// store, authenticator and admission path, and a Check client built from
// the same go-control-plane types as Envoy's.
type env struct {
	client  authv3.AuthorizationClient
	store   *sqlite.DB
	authn   *auth.Authenticator
	account *pihu.Account
	now     time.Time
	tokens  *auth.Tokens
}

func newEnv(t *testing.T, opts extauthz.Options) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlitetest.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{store: db, now: time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return e.now }
	db.Now = clock
	e.account = &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "A", Created: e.now}
	owner, _, err := pihu.NewKey(e.account.ID, pihu.OwnerKeyRequest(), nil, e.now)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAccount(ctx, e.account, owner); err != nil {
		t.Fatal(err)
	}
	e.tokens = auth.NewTokens(db, auth.TokenOptions{Issuer: "https://auth.example.com", Now: clock})
	e.authn = auth.New(db, auth.Options{Now: clock, Tokens: e.tokens})
	opts.Admission = auth.NewAdmission(e.authn, auth.AdmissionOptions{
		Limiter: ratelimit.NewMemory(ratelimit.MemoryOptions{Now: clock}), DefaultLimit: ratelimit.PerMinute(1000),
		FailedAuthLimit: ratelimit.PerMinute(3), Credits: db, Now: clock,
	})
	opts.Now = clock
	g := grpc.NewServer()
	extauthz.New(opts).Register(g)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var served sync.WaitGroup
	served.Go(func() { g.Serve(ln) })
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		g.Stop()
		served.Wait()
	})
	e.client = authv3.NewAuthorizationClient(conn)
	return e
}

// key creates a key of req's making and returns it with its secret.
func (e *env) key(t *testing.T, req pihu.KeyRequest, rateLimit string) (*pihu.Key, string) {
	t.Helper()
	if req.Name == "" {
		req.Name = "k"
	}
	k, secret, err := pihu.NewKey(e.account.ID, req, nil, e.now)
	if err != nil {
		t.Fatal(err)
	}
	k.RateLimit = pihu.StoredRateLimit(rateLimit)
	if err := e.store.CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return k, secret
}

// request is what Envoy asks about: a request from source with headers
// (lower case) on a route with context extensions ext.
type request struct {
	source, method, path string
	headers, ext         map[string]string
	headerMap            [][2]string // sent as header_map instead of headers
}

func (e *env) check(t *testing.T, r request) *authv3.CheckResponse {
	t.Helper()
	if r.method == "" {
		r.method = "GET"
	}
	if r.path == "" {
		r.path = "/v1/interviews"
	}
	if r.source == "" {
		r.source = "203.0.113.7"
	}
	h := &authv3.AttributeContext_HttpRequest{Method: r.method, Path: r.path, Host: "api.example.com", Headers: r.headers}
	if r.headerMap != nil {
		h.Headers = nil
		h.HeaderMap = &corev3.HeaderMap{}
		for _, kv := range r.headerMap {
			h.HeaderMap.Headers = append(h.HeaderMap.Headers, &corev3.HeaderValue{Key: kv[0], RawValue: []byte(kv[1])})
		}
	}
	res, err := e.client.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: r.source, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 50000}},
		}}},
		Request:           &authv3.AttributeContext_Request{Http: h},
		ContextExtensions: r.ext,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func headers(hs []*corev3.HeaderValueOption) map[string]string {
	out := map[string]string{}
	for _, h := range hs {
		if h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			out["!append "+h.GetHeader().GetKey()] = h.GetAppendAction().String()
		}
		out[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	return out
}

// denied checks that res is a denial of status with error code, and
// returns its headers.
func denied(t *testing.T, res *authv3.CheckResponse, status int, code string) map[string]string {
	t.Helper()
	d := res.GetDeniedResponse()
	if d == nil || res.GetStatus().GetCode() == int32(codes.OK) {
		t.Fatalf("got %v, want a denial", res)
	}
	var body pihu.ErrorBody
	if err := json.Unmarshal([]byte(d.GetBody()), &body); err != nil {
		t.Fatalf("body %q: %v", d.GetBody(), err)
	}
	h := headers(d.GetHeaders())
	if int(d.GetStatus().GetCode()) != status || body.Error.Code != code {
		t.Errorf("got %d %s, want %d %s", d.GetStatus().GetCode(), d.GetBody(), status, code)
	}
	if h["request-id"] == "" || h["request-id"] != body.Error.RequestID || h["content-type"] != "application/json" {
		t.Errorf("headers %v, body %s", h, d.GetBody())
	}
	return h
}

func bearer(secret string) map[string]string {
	return map[string]string{"authorization": "Bearer " + secret}
}

// TestCheck_Allowed: an admitted request is OK, with the identity headers
// set on the request for the upstream (replacing any the client sent),
// every other X-Pihu-* header of the client removed, and the RateLimit
// headers for the client.
func TestCheck_Allowed(t *testing.T) {
	e := newEnv(t, extauthz.Options{})
	k, secret := e.key(t, pihu.KeyRequest{Permissions: pihu.Permissions{"interview:write", "token:write"}}, "")
	h := bearer(secret)
	h["x-pihu-key-id"] = "key_forged"
	h["x-pihu-kind"] = "access_token"
	h["x-pihu-admin"] = "yes"
	res := e.check(t, request{headers: h, ext: map[string]string{"permission": "interview:write, interview:read", "environment": "live"}})
	ok := res.GetOkResponse()
	if ok == nil || res.GetStatus().GetCode() != int32(codes.OK) {
		t.Fatalf("got %v", res)
	}
	up := headers(ok.GetHeaders())
	want := map[string]string{"x-pihu-key-id": k.ID, "x-pihu-account-id": e.account.ID, "x-pihu-environment": "live",
		"x-pihu-permissions": "interview:write,token:write", "x-pihu-kind": "api_key"}
	if len(up) != len(want) {
		t.Errorf("headers for the upstream: got %v, want %v", up, want)
	}
	for name, v := range want {
		if up[name] != v {
			t.Errorf("%s: got %q, want %q", name, up[name], v)
		}
	}
	if got := ok.GetHeadersToRemove(); !slices.Equal(got, []string{"x-pihu-admin"}) {
		t.Errorf("headers_to_remove: got %v, want the client's other x-pihu-* header", got)
	}
	down := headers(ok.GetResponseHeadersToAdd())
	if down["ratelimit-limit"] != "1000" || down["ratelimit-remaining"] != "999" || !strings.HasPrefix(down["request-id"], "req_") {
		t.Errorf("headers for the client: %v", down)
	}

	// An access token: its own permissions, its key's id.
	at, err := pihu.NewAccessToken(k, pihu.TokenRequest{Permissions: pihu.Permissions{"interview:read"}}, e.tokens.Issuer(), e.now)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := e.tokens.Sign(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	res = e.check(t, request{headerMap: [][2]string{{"authorization", "Bearer " + signed}}, ext: map[string]string{"permission": "interview:read"}})
	up = headers(res.GetOkResponse().GetHeaders())
	if up["x-pihu-kind"] != "access_token" || up["x-pihu-key-id"] != k.ID || up["x-pihu-permissions"] != "interview:read" {
		t.Errorf("an access token: got %v", res)
	}
	res = e.check(t, request{headers: map[string]string{"authorization": "Bearer " + signed}, ext: map[string]string{"permission": "interview:write"}})
	denied(t, res, 403, "insufficient_permissions")
}

// TestCheck_Refused: each refusal with its status, headers and code.
func TestCheck_Refused(t *testing.T) {
	e := newEnv(t, extauthz.Options{})
	ctx := context.Background()
	_, reader := e.key(t, pihu.KeyRequest{Permissions: pihu.Permissions{"interview:read"}}, "")
	_, once := e.key(t, pihu.KeyRequest{Permissions: pihu.Permissions{"interview:read"}}, "1/m")
	revoked, revokedSecret := e.key(t, pihu.KeyRequest{Permissions: pihu.Permissions{"interview:read"}}, "")
	_, test := e.key(t, pihu.KeyRequest{Permissions: pihu.Permissions{"interview:read"}, Environment: pihu.Test}, "")

	h := denied(t, e.check(t, request{}), 401, "missing_api_key")
	if h["www-authenticate"] != `Bearer realm="pihu"` {
		t.Errorf("no key: WWW-Authenticate %q", h["www-authenticate"])
	}
	h = denied(t, e.check(t, request{headers: bearer(reader), ext: map[string]string{"permission": "interview:write"}}), 403, "insufficient_permissions")
	if !strings.Contains(h["www-authenticate"], `scope="interview:write"`) || h["ratelimit-remaining"] != "999" {
		t.Errorf("a permission missing: headers %v", h)
	}
	denied(t, e.check(t, request{headers: bearer(test), ext: map[string]string{"environment": "live"}}), 403, "insufficient_permissions")
	denied(t, e.check(t, request{headers: bearer(reader), ext: map[string]string{"permission": "nope"}}), 400, "parameter_invalid")

	if res := e.check(t, request{headers: bearer(once)}); res.GetOkResponse() == nil {
		t.Fatalf("the first request of 1/m: %v", res)
	}
	h = denied(t, e.check(t, request{headers: bearer(once)}), 429, "rate_limited")
	if h["retry-after"] != "60" || h["ratelimit-remaining"] != "0" {
		t.Errorf("rate limited: headers %v", h)
	}

	// Revoked through the store and dropped from the cache, as the API
	// does: refused at the next Check.
	if res := e.check(t, request{headers: bearer(revokedSecret)}); res.GetOkResponse() == nil {
		t.Fatalf("before revocation: %v", res)
	}
	if _, err := e.store.RevokeKey(ctx, e.account.ID, revoked.ID, e.now); err != nil {
		t.Fatal(err)
	}
	e.authn.Invalidate(revoked.ID)
	h = denied(t, e.check(t, request{headers: bearer(revokedSecret)}), 401, "revoked_api_key")
	if !strings.Contains(h["www-authenticate"], `error="invalid_token"`) {
		t.Errorf("revoked: WWW-Authenticate %q", h["www-authenticate"])
	}
}

// TestCheck_ClientAddress: allowed_ips and the failed-authentication
// budget go by the client's address: the source address Envoy sends, or,
// when that is a trusted proxy in front of Envoy, the x-forwarded-for
// entry left of the trusted ones.
func TestCheck_ClientAddress(t *testing.T) {
	e := newEnv(t, extauthz.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	_, there := e.key(t, pihu.KeyRequest{Permissions: pihu.Permissions{"*"}, AllowedIPs: []string{"203.0.113.7"}}, "")
	withXFF := func(secret, xff string) map[string]string {
		h := bearer(secret)
		h["x-forwarded-for"] = xff
		return h
	}
	for _, tc := range []struct {
		name, source, xff string
		ok                bool
	}{
		{"Source", "203.0.113.7", "", true},
		{"OtherSource", "198.51.100.1", "", false},
		{"SourceIgnoresForgedXFF", "198.51.100.1", "203.0.113.7", false},
		{"TrustedSourceReadsXFF", "10.0.0.2", "198.51.100.9, 203.0.113.7", true},
		{"TrustedSourceSkipsTrusted", "10.0.0.2", "203.0.113.7, 10.0.0.3", true},
		{"TrustedSourceOtherClient", "10.0.0.2", "203.0.113.7, 198.51.100.1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.check(t, request{source: tc.source, headers: withXFF(there, tc.xff)})
			if tc.ok && res.GetOkResponse() == nil {
				t.Errorf("got %v, want OK", res)
			}
			if !tc.ok {
				denied(t, res, 403, "ip_not_allowed")
			}
		})
	}

	// Three failures a minute per address: a guessing client locks out
	// only itself, not the proxy in front of Envoy.
	for i, want := range []int{401, 401, 401, 429} {
		res := e.check(t, request{source: "10.0.0.2", headers: withXFF(pihu.NewSecret(pihu.Live), "198.51.100.66")})
		if got := int(res.GetDeniedResponse().GetStatus().GetCode()); got != want {
			t.Errorf("guess %d: got %d, want %d", i+1, got, want)
		}
		if want == 429 {
			h := denied(t, res, 429, "rate_limited")
			if h["retry-after"] == "" || !strings.HasPrefix(h["ratelimit-policy"], `"failed-auth"`) || h["www-authenticate"] == "" {
				t.Errorf("out of failures: headers %v", h)
			}
		}
	}
	denied(t, e.check(t, request{source: "10.0.0.2", headers: withXFF(pihu.NewSecret(pihu.Live), "198.51.100.67")}), 401, "invalid_api_key")
}

// TestCheck_Routes: with a route table, the route of the method and path
// Envoy sends decides what the key needs; no route is a 404.
func TestCheck_Routes(t *testing.T) {
	routes, err := gateway.ParseRoutes([]byte(`{"routes":[{"route":"POST /v1/interviews","permissions":["interview:write"]},{"route":"GET /v1/interviews/{id}","permissions":["interview:read"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, extauthz.Options{Routes: routes})
	_, reader := e.key(t, pihu.KeyRequest{Permissions: pihu.Permissions{"interview:read"}}, "")
	if res := e.check(t, request{method: "GET", path: "/v1/interviews/intv_1?x=1", headers: bearer(reader)}); res.GetOkResponse() == nil {
		t.Errorf("a route the key may use: %v", res)
	}
	denied(t, e.check(t, request{method: "POST", path: "/v1/interviews", headers: bearer(reader)}), 403, "insufficient_permissions")
	denied(t, e.check(t, request{method: "GET", path: "/v1/candidates", headers: bearer(reader)}), 404, "not_found")
}

// TestCheck_RevokedBeforeItsSpend: a key with credits, revoked in the
// store after this instance cached it (by another instance, whose
// message has not arrived), spends nothing at its next Check and is
// refused as revoked, as it is on the API's doors: the spending re-checks
// the key that spends.
func TestCheck_RevokedBeforeItsSpend(t *testing.T) {
	e := newEnv(t, extauthz.Options{})
	ctx := context.Background()
	k, secret := e.key(t, pihu.KeyRequest{Permissions: pihu.Permissions{"interview:read"}, Credits: &pihu.Credits{Remaining: 10}}, "")
	if res := e.check(t, request{headers: bearer(secret)}); res.GetOkResponse() == nil {
		t.Fatalf("before revocation: %v", res)
	}
	if _, err := e.store.RevokeKey(ctx, e.account.ID, k.ID, e.now); err != nil {
		t.Fatal(err)
	}
	denied(t, e.check(t, request{headers: bearer(secret)}), 401, "revoked_api_key")
	got, err := e.store.Key(ctx, e.account.ID, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Credits == nil || got.Credits.Remaining != 9 {
		t.Errorf("credits after a refused Check: %+v, want 9 (one spent before the revocation, none after)", got.Credits)
	}
}
