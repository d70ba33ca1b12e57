package http_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pihu-ai/pihu/extauthz"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

// checkClients are the Check clients of the test servers, each to an
// extauthz server over gRPC on loopback, deciding through the API
// server's own admission path, as serve --ext-authz-addr does.
var checkClients sync.Map // *testServer → authv3.AuthorizationClient

// check sends req to the Check service of ts, started on the first call,
// and stopped at the end of the test tb of that call: make the first call
// in the test that made ts.
func (ts *testServer) check(tb testing.TB, req *authv3.CheckRequest) *authv3.CheckResponse {
	tb.Helper()
	c, ok := checkClients.Load(ts)
	if !ok {
		api := ts.Server.Config.Handler.(*pihuhttp.Server)
		g := grpc.NewServer()
		extauthz.New(extauthz.Options{Admission: api.Admission(), Now: ts.Clock.Now, Metrics: ts.metrics}).Register(g)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		go g.Serve(ln)
		conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			checkClients.Delete(ts)
			conn.Close()
			g.Stop()
		})
		c, _ = checkClients.LoadOrStore(ts, authv3.NewAuthorizationClient(conn))
	}
	res, err := c.(authv3.AuthorizationClient).Check(context.Background(), req)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// checkRequest is the CheckRequest Envoy sends for a request from
// 127.0.0.1 (the address the API's requests in these tests come from),
// with headers (lower case) and the route's context extensions.
func checkRequest(method, path string, headers, ext map[string]string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "127.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}},
		}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Path: path, Host: "api.example.com", Headers: headers,
		}},
		ContextExtensions: ext,
	}}
}

// asResponse is the HTTP answer Envoy makes of a Check response: the
// denial's status, headers and body; for an OK, a 200 with the headers
// added to the client's response.
func asResponse(res *authv3.CheckResponse) response {
	r := response{status: 200, header: http.Header{}}
	hs := res.GetOkResponse().GetResponseHeadersToAdd()
	if d := res.GetDeniedResponse(); d != nil {
		r.status, hs, r.body = int(d.GetStatus().GetCode()), d.GetHeaders(), []byte(d.GetBody())
	}
	for _, h := range hs {
		r.header.Set(h.GetHeader().GetKey(), h.GetHeader().GetValue())
	}
	return r
}

// TestCheck_SameRefusalsAsTheAPI: Check refuses as the API does, header
// for header and byte for byte but the request id, from the same ordered
// path, each case with a key of its own made the same way.
func TestCheck_SameRefusalsAsTheAPI(t *testing.T) {
	ts := newTestServer(t)
	ts.check(t, checkRequest("GET", "/", nil, nil)) // started for the whole test
	for _, tc := range []struct {
		name, key string
		revoke    bool
		disable   bool
		first     int
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got [2]response
			var ids [2]string
			for i := range got {
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
				door := func() response {
					if i == 0 {
						return ts.do(t, "GET", "/v1/interviews", secret, "")
					}
					h := map[string]string{}
					if secret != "" {
						h["authorization"] = "Bearer " + secret
					}
					return asResponse(ts.check(t, checkRequest("GET", "/v1/interviews", h, map[string]string{"permission": "interview:read"})))
				}
				for range tc.first {
					if r := door(); r.status != 200 {
						t.Fatalf("a first request: %d %s", r.status, r.body)
					}
				}
				got[i] = door()
			}
			api, chk := got[0], got[1]
			if api.status != tc.status || chk.status != tc.status {
				t.Fatalf("status: the API %d, Check %d, want %d (%s, %s)", api.status, chk.status, tc.status, api.body, chk.body)
			}
			for _, h := range refusalHeaders {
				// Each door had a key of its own, whose id a message may name.
				a, c := api.header.Get(h), chk.header.Get(h)
				if ids[0] != "" {
					a, c = strings.ReplaceAll(a, ids[0], "key_…"), strings.ReplaceAll(c, ids[1], "key_…")
				}
				if a != c {
					t.Errorf("%s: the API %q, Check %q", h, a, c)
				}
			}
			a, c := withoutRequestID(t, api), withoutRequestID(t, chk)
			if ids[0] != "" {
				a, c = strings.ReplaceAll(a, ids[0], "key_…"), strings.ReplaceAll(c, ids[1], "key_…")
			}
			if a != c {
				t.Errorf("body: the API %s, Check %s", a, c)
			}
		})
	}
}
