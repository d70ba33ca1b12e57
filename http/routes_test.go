package http_test

import (
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/ratelimit"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestRoutes_EveryMethod sends every method to every path of the OpenAPI
// document, and to a few paths it does not have, without a key, with a key
// that may do everything and with a bad one: the harness fails on any
// status the document does not list for the operation (a 404 or a 405 with
// its error body where it has none), and a 405 must list in Allow exactly
// the methods the document has for the path. HEAD is not served by the
// API: it is a 405 like any other method the path lacks.
func TestRoutes_EveryMethod(t *testing.T) {
	ts := newTestServer(t)
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	methods := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	paths := c.doc.Paths.InMatchingOrder()
	unknown := []string{"/v1/nothing", "/v1/auth/api-keys/key_1/nothing", "/.well-known/nothing", "/v2/auth/api-keys", "/healthz/x"}
	for _, path := range append(slices.Clone(paths), unknown...) {
		var documented []string
		if item := c.doc.Paths.Value(path); item != nil {
			for m := range item.Operations() {
				documented = append(documented, m)
			}
		}
		concrete := strings.ReplaceAll(path, "{id}", "key_1")
		for _, method := range methods {
			for _, key := range []string{"", ts.Owner, "ph_live_nothing"} {
				body := ""
				if method == "POST" || method == "PUT" || method == "PATCH" {
					body = "{}"
				}
				r := ts.do(t, method, concrete, key, body)
				switch {
				case slices.Contains(documented, method):
					// The harness checked the status against the operation.
				case len(documented) > 0:
					if r.status != http.StatusMethodNotAllowed {
						t.Errorf("%s %s: got %d, want 405", method, concrete, r.status)
						continue
					}
					allow := strings.Split(r.header.Get("Allow"), ", ")
					if !sameSet(allow, documented) {
						t.Errorf("%s %s: Allow: got %q, want the document's %q", method, concrete, allow, documented)
					}
				default:
					if r.status != http.StatusNotFound {
						t.Errorf("%s %s: got %d, want 404", method, concrete, r.status)
					}
				}
			}
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestRoutes_AddressLimits spends a client address's budgets of failed
// authentications and of leaked-key reports, then sends every operation of
// the document with no key and with a bad one, and a report: every 429
// they get must be one the document lists for the operation, with its
// headers.
func TestRoutes_AddressLimits(t *testing.T) {
	ts := newTestServer(t, func(o *pihuhttp.Options) {
		o.FailedAuthLimit = ratelimit.PerMinute(1)
		o.LeakedKeysLimit = ratelimit.PerMinute(1)
	})
	ts.do(t, "GET", "/v1/auth/whoami", "ph_live_nothing", "")
	ts.do(t, "POST", "/v1/auth/leaked-keys", "", `{"keys":["ph_live_nothing"]}`)
	if r := ts.do(t, "POST", "/v1/auth/leaked-keys", "", `{"keys":["ph_live_nothing"]}`); r.status != http.StatusTooManyRequests {
		t.Errorf("a second report: got %d, want 429", r.status)
	}
	limited := 0
	for _, o := range operations(t) {
		path := strings.ReplaceAll(o.path, "{id}", "key_1")
		body := ""
		if o.op.RequestBody != nil {
			body = "{}"
		}
		for _, key := range []string{"", "ph_live_nothing"} {
			if r := ts.do(t, o.method, path, key, body); r.status == http.StatusTooManyRequests {
				limited++
			}
		}
	}
	if limited == 0 {
		t.Error("no request was refused by the failed-authentication limit")
	}
}
