package main_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestServe_GatewayRoutesRefused: a route table serve cannot use stops
// it at start-up (exit 2), saying what is wrong and where.
func TestServe_GatewayRoutesRefused(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "routes.json")
	if err := os.WriteFile(bad, []byte(`{"routes":[{"route":"GET /a/{x}"},{"route":"GET /a/{y}","permissions":["interview:read"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, want string }{
		{bad, `--gateway-routes: ` + bad + `: route 2 ("GET /a/{y}")`},
		{filepath.Join(dir, "none.json"), "--gateway-routes: open "},
	} {
		r := pihuCLI(t, "", "", "serve", "--addr", "127.0.0.1:0", "--database", "sqlite:"+filepath.Join(dir, "pihu.db"), "--gateway-routes", tc.file)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("--gateway-routes %s: exit %d, stderr %q; want 2 and %q", tc.file, r.code, r.stderr, tc.want)
		}
	}
}

var extAuthzListening = regexp.MustCompile(`ext_authz_addr=(\S+)`)

// TestServe_Gateways: serve with a route table and --ext-authz-addr
// answers the forward-auth endpoint and Envoy's Check with the table's
// requirements, from the same admission path.
func TestServe_Gateways(t *testing.T) {
	dir := t.TempDir()
	routes := filepath.Join(dir, "routes.json")
	if err := os.WriteFile(routes, []byte(`{"routes":[{"route":"GET /v1/interviews/{id}","permissions":["interview:read"]},{"route":"POST /v1/interviews","permissions":["interview:write"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, dir, "--gateway-routes", routes, "--ext-authz-addr", "127.0.0.1:0",
		"--trusted-proxy-header", "X-Forwarded-For", "--trusted-proxies", "127.0.0.1")
	owner := ownerKey(t, s)
	code, k := do(t, "POST", s.url+"/v1/auth/api-keys", owner, `{"name":"reader","permissions":["interview:read"]}`)
	if code != 200 {
		t.Fatalf("creating a key: %d %v", code, k)
	}
	reader, id := k["key"].(string), k["id"].(string)

	forward := func(method, uri string) *http.Response {
		req, _ := http.NewRequest("GET", s.url+"/v1/auth/forward", nil)
		req.Header.Set("Authorization", "Bearer "+reader)
		req.Header.Set("X-Forwarded-Method", method)
		req.Header.Set("X-Forwarded-Uri", uri)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := forward("GET", "/v1/interviews/intv_1"); res.StatusCode != 200 || res.Header.Get("X-Pihu-Key-Id") != id {
		t.Errorf("forward auth on a route the key may use: got %d %v", res.StatusCode, res.Header)
	}
	if res := forward("POST", "/v1/interviews"); res.StatusCode != 403 {
		t.Errorf("forward auth on a route needing interview:write: got %d", res.StatusCode)
	}
	if res := forward("GET", "/v1/candidates"); res.StatusCode != 404 {
		t.Errorf("forward auth on no route: got %d", res.StatusCode)
	}

	m := extAuthzListening.FindStringSubmatch(s.stderr.String())
	if m == nil {
		t.Fatalf("no ext_authz address in the log:\n%s", s.stderr.String())
	}
	conn, err := grpc.NewClient(m[1], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	check := func(method, path string) *authv3.CheckResponse {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
				SocketAddress: &corev3.SocketAddress{Address: "203.0.113.7"},
			}}},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: method, Path: path, Headers: map[string]string{"authorization": "Bearer " + reader},
			}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := check("GET", "/v1/interviews/intv_1"); res.GetOkResponse() == nil {
		t.Errorf("Check on a route the key may use: %v", res)
	}
	if res := check("POST", "/v1/interviews"); res.GetDeniedResponse().GetStatus().GetCode() != 403 {
		t.Errorf("Check on a route needing interview:write: %v", res)
	}
	s.stop(t)
}
