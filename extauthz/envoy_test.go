package extauthz_test

import (
	"encoding/json"
	"os"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/extauthz"
)

// TestEnvoyConfig reads deploy/envoy/envoy.yaml as Envoy would, into
// Envoy's own bootstrap types, and validates it with their rules; then
// sends Check, with a key that may do everything, the context extensions
// of each of its routes: every one must be admitted, so that the
// documented config speaks Check's language.
func TestEnvoyConfig(t *testing.T) {
	b, err := os.ReadFile("../deploy/envoy/envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var boot bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(js, &boot); err != nil {
		t.Fatalf("envoy.yaml is not an Envoy bootstrap: %v", err)
	}
	if err := boot.ValidateAll(); err != nil {
		t.Fatalf("envoy.yaml: %v", err)
	}

	var hcm hcmv3.HttpConnectionManager
	if err := boot.GetStaticResources().GetListeners()[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	var filter extauthzv3.ExtAuthz
	if err := hcm.GetHttpFilters()[0].GetTypedConfig().UnmarshalTo(&filter); err != nil {
		t.Fatal(err)
	}
	if filter.GetFailureModeAllow() || filter.GetGrpcService().GetEnvoyGrpc().GetClusterName() != "pihu_ext_authz" {
		t.Errorf("the ext_authz filter: %v", &filter)
	}

	e := newEnv(t, extauthz.Options{})
	_, all := e.key(t, pihu.KeyRequest{Permissions: pihu.Permissions{"*"}}, "")
	routes := hcm.GetRouteConfig().GetVirtualHosts()[0].GetRoutes()
	if len(routes) < 3 {
		t.Fatalf("%d routes", len(routes))
	}
	for _, r := range routes {
		ext := contextExtensions(t, r)
		if ext == nil {
			continue
		}
		if res := e.check(t, request{path: r.GetMatch().GetPrefix(), headers: bearer(all), ext: ext}); res.GetOkResponse() == nil {
			t.Errorf("route %v: Check refuses its context extensions %v: %s", r.GetMatch(), ext, res.GetDeniedResponse().GetBody())
		}
	}
}

// contextExtensions are the ext_authz context extensions of route r, nil
// if it sets none.
func contextExtensions(t *testing.T, r *routev3.Route) map[string]string {
	t.Helper()
	cfg, ok := r.GetTypedPerFilterConfig()["envoy.filters.http.ext_authz"]
	if !ok {
		return nil
	}
	var per extauthzv3.ExtAuthzPerRoute
	if err := cfg.UnmarshalTo(&per); err != nil {
		t.Fatal(err)
	}
	return per.GetCheckSettings().GetContextExtensions()
}
