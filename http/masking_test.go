package http_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

// TestRequests_KeyNeverEchoed sends a key in every part of a request (the
// method, the path, query names and values, JSON names and values at
// every depth, and headers: a second Authorization, a comma-joined one,
// Idempotency-Key, X-Forwarded-For, a header named by the key) and checks
// that neither the responses (bodies and headers) nor the server's log
// hold it: whatever is echoed or logged is masked to the key's hint. It
// does so for an issued key, a key with a right checksum never issued, and
// a lookalike whose checksum is wrong.
func TestRequests_KeyNeverEchoed(t *testing.T) {
	ts := newTestServer(t, func(o *pihuhttp.Options) { o.TrustedProxyHeader, o.TrustedProxies = "X-Forwarded-For", loopback })
	issued := ts.newKey(t, ts.Owner, `{"name":"issued","permissions":["candidate:read"]}`).Key
	c := ts.newCandidate(t, ts.Owner, "Ada")
	ts.logs.Reset()

	for name, secret := range map[string]string{
		"Issued":        issued,
		"NeverIssued":   pihu.NewSecret(pihu.Test),
		"WrongChecksum": corrupt(pihu.NewSecret(pihu.Live)),
	} {
		t.Run(name, func(t *testing.T) {
			k := secret
			type request struct {
				method, path, body string
				header             http.Header
			}
			auth := func(lines ...string) http.Header {
				h := http.Header{"Authorization": lines, "Content-Type": {"application/json"}}
				return h
			}
			owner := auth("Bearer " + ts.Owner)
			var requests []request
			add := func(method, path, body string, h http.Header) {
				requests = append(requests, request{method, path, body, h})
			}
			// The method, and the path.
			add(k, "/v1/auth/api-keys", "", owner)
			add(k, "/v1/"+k, "", owner)
			add(k, "/healthz", "", nil)
			for _, p := range []string{"/v1/auth/api-keys/", "/v1/candidates/", "/v1/interviews/"} {
				add("GET", p+k, "", owner)
				add("DELETE", p+k, "", owner)
			}
			add("POST", "/v1/auth/api-keys/"+k+"/rotate", "", owner)
			add("GET", "/v1/"+k+"/x?"+k+"="+k, "", owner)
			// The query string.
			for _, q := range []string{k + "=" + k, "limit=" + k, "starting_after=" + k, k, k + ";x=1", "limit=1;" + k, k + "=%zz", k + "=1&" + k + "=2"} {
				add("GET", "/v1/auth/api-keys?"+q, "", owner)
				add("GET", "/v1/auth/whoami?"+q, "", owner)
				add("GET", "/healthz?"+q, "", nil)
				add("POST", "/v1/auth/verify?"+q, `{"key":"x"}`, owner)
			}
			// JSON names and values.
			for _, b := range []string{
				`{"` + k + `":"` + k + `"}`,
				`{"name":"x","permissions":["*"],"` + k + `":1}`,
				`{"name":"x","permissions":["` + k + `"]}`,
				`{"name":"x","permissions":["*"],"expiration":"` + k + `"}`,
				`{"name":"x","permissions":["*"],"environment":"` + k + `"}`,
				`{"name":"x","permissions":["*"],"rate_limit":"` + k + `"}`,
				`{"name":"x","permissions":["*"],"allowed_ips":["` + k + `"]}`,
				`{"name":"` + k + "\n" + `","permissions":["*"]}`,
				`{"name":"x","permissions":{"` + k + `":1}}`,
				`{"` + k + `":1,"` + k + `":2}`,
				`{"name":"x"} {"` + k + `":1}`,
				`{"` + k + `"`,
			} {
				add("POST", "/v1/auth/api-keys", b, owner)
			}
			add("POST", "/v1/auth/api-keys/"+k+"/rotate", `{"expire_old_in":"`+k+`"}`, owner)
			add("POST", "/v1/auth/verify", `{"key":"`+k+`","permissions":["`+k+`"]}`, owner)
			add("POST", "/v1/auth/verify", `{"key":"`+k+`"}`, owner)
			add("POST", "/v1/candidates", `{"name":"Ada","email":"`+k+`"}`, owner)
			add("POST", "/v1/interviews", `{"candidate_id":"`+k+`","position":"x"}`, owner)
			add("POST", "/v1/interviews", `{"candidate_id":"`+c.ID+`","position":"x","scheduled_at":"`+k+`"}`, owner)
			add("DELETE", "/v1/candidates/"+c.ID, `{"`+k+`":true}`, owner)
			add("POST", "/v1/auth/leaked-keys", `{"keys":"`+k+`"}`, auth())
			// Headers.
			add("GET", "/v1/auth/whoami", "", auth("Bearer "+k))
			add("GET", "/v1/auth/whoami", "", auth(k))
			add("GET", "/v1/auth/whoami", "", auth("Basic "+k))
			add("GET", "/v1/auth/whoami", "", auth("Bearer "+ts.Owner, "Bearer "+k))
			add("GET", "/v1/auth/whoami", "", auth("Bearer "+ts.Owner+", Bearer "+k))
			add("GET", "/v1/auth/whoami", "", auth("Bearer "+k+" "+k))
			for _, h := range []string{"Idempotency-Key", "X-Forwarded-For", "X-Request-Id", "User-Agent", "Cookie", "Referer", k} {
				hh := auth("Bearer " + ts.Owner)
				hh[h] = []string{k}
				add("GET", "/v1/auth/whoami", "", hh)
				add("POST", "/v1/auth/api-keys", `{"name":"x"}`, hh)
			}
			add("POST", "/v1/auth/api-keys", `{"name":"x"}`, http.Header{"Authorization": {"Bearer " + ts.Owner}, "Content-Type": {k}})
			add("POST", "/v1/auth/api-keys", `{"name":"x"}`, http.Header{"Authorization": {"Bearer " + ts.Owner}, "Content-Type": {"application/json; charset=" + k}})
			add("POST", "/v1/auth/leaked-keys", `{"keys":["`+k+`"]}`, auth()) // last: revokes the issued key

			before := strings.Count(ts.logs.String(), "msg=request ")
			for _, req := range requests {
				r := ts.doHeader(t, req.method, req.path, req.body, req.header)
				shown := string(r.body) + fmt.Sprint(r.header)
				if leaks(shown, k) {
					t.Errorf("%s %s %s (headers %v): the response holds the key: %d %s %v",
						pihu.MaskSecrets(req.method), pihu.MaskSecrets(req.path), pihu.MaskSecrets(req.body), len(req.header), r.status, pihu.MaskSecrets(string(r.body)), len(r.header))
				}
			}
			if got := strings.Count(ts.logs.String(), "msg=request ") - before; got != len(requests) {
				t.Errorf("the log has %d request lines for %d requests", got, len(requests))
			}
			if leaks(ts.logs.String(), k) {
				t.Errorf("the log holds the key:\n%s", strings.ReplaceAll(ts.logs.String(), k[8:], "<KEY>"))
			}
		})
	}
}

// leaks reports whether s holds secret, or its random part (the key
// behind another prefix, as when a header name is put in canonical case).
func leaks(s, secret string) bool {
	return strings.Contains(s, secret) || strings.Contains(s, secret[len("ph_live_"):])
}
