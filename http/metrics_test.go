package http_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/metrics"
	"github.com/pihu-ai/pihu/ratelimit"
)

// withMetrics serves metrics on the API's address, as serve does without
// --metrics-addr.
func withMetrics(o *pihuhttp.Options) {
	m := metrics.New()
	o.Metrics, o.MetricsHandler = m, m.Handler()
}

// TestMetrics runs a scenario, scrapes /metrics and checks that it counts
// what happened by route pattern, status and outcome, and that no label
// holds a key, a key id or a path a client wrote.
func TestMetrics(t *testing.T) {
	ts := newTestServer(t, func(o *pihuhttp.Options) { o.DefaultLimit = ratelimit.PerMinute(3) })
	k := ts.newKey(t, ts.Owner, `{"name":"reader","permissions":["candidate:read"]}`)
	secrets := []string{ts.Owner, k.Key}
	ids := []string{k.ID, ts.Account.ID}
	for range 4 { // the fourth is over the limit of 3/m
		ts.do(t, "GET", "/v1/candidates", k.Key, "")
	}
	ts.do(t, "GET", "/v1/auth/api-keys/"+k.ID, ts.Owner, "")
	ts.do(t, "POST", "/v1/interviews", ts.Owner, `{"candidate_id":"cand_nope","position":"x"}`)
	bogus := "ph_live_" + strings.Repeat("A", 40)
	ts.do(t, "GET", "/v1/auth/whoami", bogus, "")
	ts.do(t, "GET", "/v1/auth/whoami", "", "")
	ts.do(t, "GET", "/v1/"+k.Key, "", "") // a key pasted into a path

	res := ts.do(t, "GET", "/metrics", "", "")
	if res.status != 200 {
		t.Fatalf("GET /metrics: got %d %s", res.status, res.body)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type: got %q, want text/plain; version=0.0.4", ct)
	}
	body := string(res.body)
	for _, want := range []string{
		`pihu_http_requests_total{method="POST",route="POST /v1/auth/api-keys",status="200"} 1`,
		`pihu_http_requests_total{method="GET",route="GET /v1/candidates",status="200"} 3`,
		`pihu_http_requests_total{method="GET",route="GET /v1/candidates",status="429"} 1`,
		`pihu_http_requests_total{method="GET",route="GET /v1/auth/api-keys/{id}",status="200"} 1`,
		`pihu_http_requests_total{method="GET",route="/",status="404"} 1`,
		`pihu_http_request_duration_seconds_bucket{route="GET /v1/candidates",le="+Inf"} 4`,
		`pihu_auth_outcomes_total{outcome="valid"} 6`,
		`pihu_auth_outcomes_total{outcome="rate_limited"} 1`,
		`pihu_auth_outcomes_total{outcome="invalid_api_key"} 1`,
		`pihu_auth_outcomes_total{outcome="missing_api_key"} 1`,
		`pihu_ratelimit_decisions_total{decision="allowed",limit="key"} 6`,
		`pihu_ratelimit_decisions_total{decision="limited",limit="key"} 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no line %q", want)
		}
	}
	for _, s := range append(secrets, bogus) {
		if strings.Contains(body, s) || strings.Contains(body, s[8:]) {
			t.Errorf("/metrics holds a secret")
		}
	}
	if found := pihu.FindSecrets(res.body); len(found) != 0 {
		t.Errorf("pihu.FindSecrets found %d keys in /metrics", len(found))
	}
	for _, id := range ids {
		if strings.Contains(body, id) {
			t.Errorf("/metrics holds the id %s", id)
		}
	}
	// Every label value is a route pattern, a method, a status or a code:
	// nothing a client chose.
	label := regexp.MustCompile(`\{([^}]*)\}`)
	for _, m := range label.FindAllStringSubmatch(body, -1) {
		if strings.Contains(m[1], "key_") || strings.Contains(m[1], "acct_") || strings.Contains(m[1], "ph_") {
			t.Errorf("a label holds an id or a key: %s", m[1])
		}
	}

	t.Run("ErrParameterUnknown", func(t *testing.T) {
		ts.run(t, []scenario{{name: "query", method: "GET", path: "/metrics?x=1", status: 400, code: "parameter_unknown", param: "x"}})
	})
}

// TestMetrics_NotServed checks that /metrics is the API's 404 on its
// address when it is served elsewhere (--metrics-addr), even with the
// dashboard answering every other path.
func TestMetrics_NotServed(t *testing.T) {
	dashboard := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("dashboard")) })
	ts := newTestServer(t, func(o *pihuhttp.Options) { o.MetricsHandler, o.Dashboard = nil, dashboard })
	ts.run(t, []scenario{{name: "NotFound", method: "GET", path: "/metrics", status: 404, code: "not_found"}})
}
