package http_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	pihuhttp "github.com/pihu-ai/pihu/http"
)

// TestKeys_AllowedIPs uses keys limited to addresses. httptest's requests
// come from 127.0.0.1: a key limited to 203.0.113.0/24 is refused, one
// limited to 127.0.0.1/32 works.
func TestKeys_AllowedIPs(t *testing.T) {
	ts := newTestServer(t)
	elsewhere := ts.newKey(t, ts.Owner, `{"name":"elsewhere","permissions":["*"],"allowed_ips":["203.0.113.0/24"]}`)
	here := ts.newKey(t, ts.Owner, `{"name":"here","permissions":["*"],"allowed_ips":["127.0.0.1/32"]}`)
	hundred := make([]string, 101)
	for i := range hundred {
		hundred[i] = fmt.Sprintf(`"10.0.0.%d"`, i)
	}
	create := "/v1/auth/api-keys"
	created := func(want ...string) func(t *testing.T, r response) {
		return func(t *testing.T, r response) {
			var k pihuhttp.KeyCreated
			r.decode(t, &k)
			if !slices.Equal(k.AllowedIPs, want) || (k.AllowedIPs == nil) != (want == nil) {
				t.Errorf("allowed_ips: got %#v, want %#v", k.AllowedIPs, want)
			}
			if want == nil && !strings.Contains(string(r.body), `"allowed_ips":null`) {
				t.Errorf("allowed_ips is not null: %s", r.body)
			}
		}
	}

	ts.run(t, []scenario{
		{name: "Normalised", method: "POST", path: create, key: ts.Owner, status: 200,
			body:  `{"name":"n","permissions":["candidate:read"],"allowed_ips":["203.0.113.7","10.1.2.3/8","2001:DB8::/32","::ffff:192.0.2.1","203.0.113.7/32"]}`,
			check: created("203.0.113.7", "10.0.0.0/8", "2001:db8::/32", "192.0.2.1")},
		{name: "NullIsAnywhere", method: "POST", path: create, key: ts.Owner, body: `{"name":"n","permissions":["candidate:read"],"allowed_ips":null}`, status: 200, check: created()},
		{name: "OmittedIsAnywhere", method: "POST", path: create, key: ts.Owner, body: `{"name":"n","permissions":["candidate:read"]}`, status: 200, check: created()},
		{name: "ShownInItem", method: "GET", path: "/v1/auth/api-keys/" + elsewhere.ID, key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				var item pihuhttp.KeyItem
				r.decode(t, &item)
				if !slices.Equal(item.AllowedIPs, []string{"203.0.113.0/24"}) {
					t.Errorf("allowed_ips: got %v", item.AllowedIPs)
				}
			}},
		{name: "ShownInList", method: "GET", path: "/v1/auth/api-keys?limit=100", key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				var page pihuhttp.KeyList
				r.decode(t, &page)
				for _, item := range page.Data {
					if item.ID == here.ID && !slices.Equal(item.AllowedIPs, []string{"127.0.0.1"}) {
						t.Errorf("allowed_ips of %s: got %v", item.Name, item.AllowedIPs)
					}
				}
			}},
		{name: "AllowedHere", method: "GET", path: "/v1/auth/whoami", key: here.Key, status: 200},
		{name: "ErrRefusedHere", method: "GET", path: "/v1/auth/whoami", key: elsewhere.Key, status: 403, code: "ip_not_allowed",
			check: func(t *testing.T, r response) {
				e := r.errorBody(t)
				if e.Type != "permission_error" || !strings.Contains(e.Message, "127.0.0.1") || e.Required != "" {
					t.Errorf("error: got %+v, want a permission_error naming the address", e)
				}
				if strings.Contains(e.Message, "203.0.113") {
					t.Errorf("the message shows the key's allowed addresses: %q", e.Message)
				}
				if got := r.header.Get("WWW-Authenticate"); got != "" {
					t.Errorf("WWW-Authenticate: got %q, want none (not a scope problem)", got)
				}
			}},
		// Refused before anything else: even a request the key could not
		// make anyway says where it may be used from.
		{name: "ErrRefusedBeforePermission", method: "GET", path: "/v1/auth/api-keys", key: elsewhere.Key, status: 403, code: "ip_not_allowed"},
		{name: "ErrRefusedCreate", method: "POST", path: create, key: elsewhere.Key, body: `{"name":"n","permissions":["candidate:read"]}`, status: 403, code: "ip_not_allowed"},

		// A child of a limited key inherits its list or narrows it.
		{name: "ChildInherits", method: "POST", path: create, key: here.Key, body: `{"name":"child","permissions":["candidate:read"]}`, status: 200, check: created("127.0.0.1")},
		{name: "ChildSame", method: "POST", path: create, key: here.Key, body: `{"name":"child","permissions":["candidate:read"],"allowed_ips":["127.0.0.1"]}`, status: 200, check: created("127.0.0.1")},
		{name: "ErrChildWidens", method: "POST", path: create, key: here.Key, body: `{"name":"child","permissions":["candidate:read"],"allowed_ips":["127.0.0.0/8"]}`, status: 403, code: "insufficient_permissions", param: "allowed_ips"},
		{name: "ErrChildElsewhere", method: "POST", path: create, key: here.Key, body: `{"name":"child","permissions":["candidate:read"],"allowed_ips":["127.0.0.1","198.51.100.1"]}`, status: 403, code: "insufficient_permissions", param: "allowed_ips"},

		{name: "ErrEmpty", method: "POST", path: create, key: ts.Owner, body: `{"name":"n","permissions":["*"],"allowed_ips":[]}`, status: 400, code: "parameter_invalid", param: "allowed_ips"},
		{name: "ErrHostname", method: "POST", path: create, key: ts.Owner, body: `{"name":"n","permissions":["*"],"allowed_ips":["localhost"]}`, status: 400, code: "parameter_invalid", param: "allowed_ips"},
		{name: "ErrBadRange", method: "POST", path: create, key: ts.Owner, body: `{"name":"n","permissions":["*"],"allowed_ips":["10.0.0.0/33"]}`, status: 400, code: "parameter_invalid", param: "allowed_ips"},
		{name: "ErrTooMany", method: "POST", path: create, key: ts.Owner, body: `{"name":"n","permissions":["*"],"allowed_ips":[` + strings.Join(hundred, ",") + `]}`, status: 400, code: "parameter_invalid", param: "allowed_ips"},
		{name: "ErrNotArray", method: "POST", path: create, key: ts.Owner, body: `{"name":"n","permissions":["*"],"allowed_ips":"10.0.0.1"}`, status: 400, code: "parameter_invalid", param: "allowed_ips"},
		{name: "ErrNotStrings", method: "POST", path: create, key: ts.Owner, body: `{"name":"n","permissions":["*"],"allowed_ips":[10]}`, status: 400, code: "parameter_invalid", param: "allowed_ips"},
	})
}
