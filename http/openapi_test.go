package http_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/ratelimit"
)

// operation is one method on one path of the document.
type operation struct {
	method, path string
	op           *openapi3.Operation
}

func operations(tb testing.TB) []operation {
	tb.Helper()
	c, err := loadContract()
	if err != nil {
		tb.Fatal(err)
	}
	var ops []operation
	for _, path := range c.doc.Paths.InMatchingOrder() {
		for method, op := range c.doc.Paths.Value(path).Operations() {
			ops = append(ops, operation{method, path, op})
		}
	}
	slices.SortFunc(ops, func(a, b operation) int { return strings.Compare(a.path+a.method, b.path+b.method) })
	return ops
}

func secured(op *openapi3.Operation) bool { return op.Security == nil || len(*op.Security) > 0 }

// TestOpenAPI_Document checks the rules every operation of the document
// follows, so that an operation added by hand cannot forget one: an id, a
// 200, the Request-Id header on every response; on authenticated routes
// 401, 403, 429, the rate-limit headers and the permission it needs; on
// routes with a body 400, 413 and 415.
func TestOpenAPI_Document(t *testing.T) {
	ops := operations(t)
	if len(ops) < 20 {
		t.Fatalf("the document has %d operations; SPEC §5 has at least 20", len(ops))
	}
	ids := map[string]bool{}
	for _, o := range ops {
		name := o.method + " " + o.path
		if o.op.OperationID == "" || ids[o.op.OperationID] {
			t.Errorf("%s: operationId %q is empty or used twice", name, o.op.OperationID)
		}
		ids[o.op.OperationID] = true
		want := []int{200, 500}
		if secured(o.op) {
			want = append(want, 401, 403, 429)
			// whoami takes any key, and forward auth what the gateway
			// asks for.
			if perm, _ := o.op.Extensions["x-permission"].(string); perm == "" && o.op.OperationID != "whoami" && !slices.Contains(o.op.Tags, "Gateways") {
				t.Errorf("%s: an authenticated operation without x-permission", name)
			}
		}
		if o.op.RequestBody != nil {
			want = append(want, 400, 413, 415)
		}
		for _, status := range want {
			if o.op.Responses.Status(status) == nil {
				t.Errorf("%s: no %d response", name, status)
			}
		}
		for status, r := range o.op.Responses.Map() {
			if r.Value.Headers["Request-Id"] == nil {
				t.Errorf("%s: the %s response has no Request-Id header", name, status)
			}
			if secured(o.op) && (status == "200" || status == "429") {
				for _, h := range []string{"RateLimit-Policy", "RateLimit", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
					if r.Value.Headers[h] == nil {
						t.Errorf("%s: the %s response has no %s header", name, status, h)
					}
				}
			}
		}
	}
}

// TestOpenAPI_EveryOperationIsServed sends every operation of the document
// to the server: an authenticated one must answer 401 without a key and
// 403 naming its x-permission with a key that lacks it; one without
// authentication must not be a 404 or 405. Together with the harness,
// which fails on any response to a path the document lacks, the routes of
// the server and of the document are the same.
func TestOpenAPI_EveryOperationIsServed(t *testing.T) {
	// Every operation is sent without a key: more failed authentications
	// than the default budget of the test client's address.
	ts := newTestServer(t, func(o *pihuhttp.Options) { o.FailedAuthLimit = ratelimit.PerMinute(1000) })
	verifyOnly := ts.newKey(t, ts.Owner, `{"name":"v","permissions":["api_key:verify"]}`).Key
	readOnly := ts.newKey(t, ts.Owner, `{"name":"r","permissions":["candidate:read"]}`).Key
	for _, o := range operations(t) {
		path := strings.ReplaceAll(o.path, "{id}", "x_1")
		t.Run(o.op.OperationID, func(t *testing.T) {
			if !secured(o.op) {
				body := ""
				if o.op.RequestBody != nil {
					body = "{}"
				}
				if r := ts.do(t, o.method, path, "", body); r.status == http.StatusNotFound || r.status == http.StatusMethodNotAllowed {
					t.Errorf("%s %s: got %d, want it served", o.method, path, r.status)
				}
				return
			}
			if r := ts.do(t, o.method, path, "", ""); r.status != http.StatusUnauthorized {
				t.Errorf("%s %s without a key: got %d, want 401", o.method, path, r.status)
			}
			perm, _ := o.op.Extensions["x-permission"].(string)
			if perm == "" {
				return
			}
			lacking := verifyOnly
			if perm == "api_key:verify" {
				lacking = readOnly
			}
			r := ts.do(t, o.method, path, lacking, "")
			if r.status != http.StatusForbidden || r.errorBody(t).Required != perm {
				t.Errorf("%s %s with a key without %s: got %d %s, want 403 requiring it", o.method, path, perm, r.status, r.body)
			}
		})
	}
}

func TestOpenAPI_Served(t *testing.T) {
	ts := newTestServer(t)
	ts.run(t, []scenario{
		{name: "WithoutKey", method: "GET", path: "/v1/openapi.json", status: 200,
			check: func(t *testing.T, r response) {
				if !bytes.Equal(r.body, pihuhttp.OpenAPIDocument()) {
					t.Error("the served document is not the embedded one")
				}
			}},
		{name: "ErrWrongMethod", method: "POST", path: "/v1/openapi.json", body: `{}`, status: 405, code: "method_not_allowed"},
	})
}

// TestOpenAPI_NullableHasType walks the raw document: OpenAPI 3.0 reads
// `nullable` only beside a `type` in the same schema (Redocly's
// nullable-type-sibling), so a nullable `allOf` or `$ref` silently means
// "not null" to generators and linters.
func TestOpenAPI_NullableHasType(t *testing.T) {
	var doc any
	if err := json.Unmarshal(pihuhttp.OpenAPIDocument(), &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["nullable"] == true && v["type"] == nil {
				t.Errorf("%s: nullable without a type beside it", path)
			}
			for k, c := range v {
				walk(path+"/"+k, c)
			}
		case []any:
			for i, c := range v {
				walk(fmt.Sprintf("%s/%d", path, i), c)
			}
		}
	}
	walk("#", doc)
}
