package http_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	pihuhttp "github.com/pihu-ai/pihu/http"
)

// requestsOf reads the request log at path (a key's or the account's) with
// secret, after flushing what was recorded.
func (ts *testServer) requestsOf(tb testing.TB, secret, path string) pihuhttp.RequestLogList {
	tb.Helper()
	if err := ts.Auth.Flush(tb.Context()); err != nil {
		tb.Fatalf("Flush: %v", err)
	}
	r := ts.do(tb, "GET", path, secret, "")
	if r.status != 200 {
		tb.Fatalf("GET %s: got %d %s", path, r.status, r.body)
	}
	var l pihuhttp.RequestLogList
	r.decode(tb, &l)
	return l
}

func checkEntry(tb testing.TB, what string, got, want pihuhttp.RequestLogItem) {
	tb.Helper()
	if !strings.HasPrefix(got.ID, "rql_") || got.Time != "2024-02-20T12:00:00Z" {
		tb.Errorf("%s: id %q, time %q: want a rql_ id and the request's time", what, got.ID, got.Time)
	}
	got.ID, got.Time = "", ""
	if got != want {
		tb.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// TestRequestLog_EveryDoor: a request made with a key through each door
// adds one entry to the key's log, with the method and path (the original
// request's for forward auth and Envoy, none for a verification), never
// the query string, the status, the client's address, the request id and
// a refusal's code; and nothing of the key's secret or the query string
// reaches the database.
func TestRequestLog_EveryDoor(t *testing.T) {
	ts := newTestServer(t, behindProxy(t))
	ts.check(t, checkRequest("GET", "/", nil, nil))
	reader := ts.newKey(t, ts.Owner, `{"name":"reader","permissions":["candidate:read"]}`)
	verifier := ts.newKey(t, ts.Owner, `{"name":"verifier","permissions":["api_key:verify"]}`)
	keyLog := "/v1/auth/api-keys/" + reader.ID + "/requests"

	// The API: let through, answered with an error, refused.
	r0 := ts.doWith(t, "GET", "/v1/candidates?secret_marker=hunter2", "", map[string]string{"Authorization": bearer(reader.Key), "X-Forwarded-For": "203.0.113.9"})
	if r0.status != 400 {
		t.Fatalf("GET /v1/candidates?secret_marker: %d %s", r0.status, r0.body)
	}
	r := ts.doWith(t, "GET", "/v1/candidates?limit=5", "", map[string]string{"Authorization": bearer(reader.Key), "X-Forwarded-For": "203.0.113.9"})
	if r.status != 200 {
		t.Fatalf("GET /v1/candidates: %d %s", r.status, r.body)
	}
	api := r.header.Get("Request-Id")
	r = ts.doWith(t, "POST", "/v1/candidates", `{"name":"A","email":"a@example.com"}`, map[string]string{"Authorization": bearer(reader.Key), "X-Forwarded-For": "203.0.113.9"})
	if r.status != 403 {
		t.Fatalf("POST /v1/candidates: %d %s", r.status, r.body)
	}
	refused := r.header.Get("Request-Id")
	// Verify: the verified key's entry.
	r = ts.do(t, "POST", "/v1/auth/verify", verifier.Key, `{"key":"`+reader.Key+`","ip":"198.51.100.4"}`)
	if r.status != 200 {
		t.Fatalf("verify: %d %s", r.status, r.body)
	}
	verify := r.header.Get("Request-Id")
	// Forward auth: the original request's method and path.
	r = ts.doWith(t, "GET", "/v1/auth/forward", "", map[string]string{"Authorization": bearer(reader.Key),
		"X-Forwarded-Method": "DELETE", "X-Forwarded-Uri": "/app/orders/7?token=query_marker", "X-Forwarded-For": "192.0.2.5"})
	if r.status != 200 {
		t.Fatalf("forward auth: %d %s", r.status, r.body)
	}
	forward := r.header.Get("Request-Id")
	// Envoy's Check: Envoy's attributes.
	res := ts.check(t, checkRequest("PUT", "/envoy/things?sig=query_marker", map[string]string{"authorization": bearer(reader.Key)}, nil))
	envoy := asResponse(res).header.Get("Request-Id")

	got := ts.requestsOf(t, ts.Owner, keyLog).Data
	if len(got) != 6 {
		t.Fatalf("got %d entries, want 6: %+v", len(got), got)
	}
	want := []pihuhttp.RequestLogItem{
		{RequestID: envoy, KeyID: reader.ID, Door: "envoy", Method: "PUT", Path: "/envoy/things", Status: 200, IP: "127.0.0.1"},
		{RequestID: forward, KeyID: reader.ID, Door: "forward", Method: "DELETE", Path: "/app/orders/7", Status: 200, IP: "192.0.2.5"},
		{RequestID: verify, KeyID: reader.ID, Door: "verify", Status: 200, IP: "198.51.100.4"},
		{RequestID: refused, KeyID: reader.ID, Door: "api", Method: "POST", Path: "/v1/candidates", Status: 403, IP: "203.0.113.9", Code: "insufficient_permissions", Refused: true},
		{RequestID: api, KeyID: reader.ID, Door: "api", Method: "GET", Path: "/v1/candidates", Status: 200, IP: "203.0.113.9"},
		{RequestID: r0.header.Get("Request-Id"), KeyID: reader.ID, Door: "api", Method: "GET", Path: "/v1/candidates", Status: 400, IP: "203.0.113.9", Code: "parameter_unknown"},
	}
	for i := range want {
		checkEntry(t, want[i].Door+" "+want[i].Method, got[i], want[i])
	}
	// The verifier's own request is in its log.
	mine := ts.requestsOf(t, ts.Owner, "/v1/auth/api-keys/"+verifier.ID+"/requests").Data
	if len(mine) != 1 || mine[0].Path != "/v1/auth/verify" || mine[0].RequestID != verify || mine[0].Door != "api" {
		t.Errorf("the verifier's log: %+v, want its POST /v1/auth/verify", mine)
	}

	// Nothing secret on disk: no key, no query string.
	for _, f := range []string{ts.dbPath, ts.dbPath + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range []string{reader.Key, verifier.Key, "hunter2", "query_marker", "secret_marker"} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q", f, s)
			}
		}
	}
}

// TestRequestLog_Filters: the account's log and a key's take status (a
// status or a class), refused, code and key_id; a bad value is a 400.
func TestRequestLog_Filters(t *testing.T) {
	ts := newTestServer(t)
	reader := ts.newKey(t, ts.Owner, `{"name":"reader","permissions":["candidate:read"]}`)
	ts.do(t, "GET", "/v1/candidates", reader.Key, "")
	ts.do(t, "GET", "/v1/candidates/cand_nope", reader.Key, "")
	ts.do(t, "POST", "/v1/candidates", reader.Key, `{"name":"A","email":"a@example.com"}`)
	count := func(query string) int {
		return len(ts.requestsOf(t, ts.Owner, "/v1/auth/requests?key_id="+reader.ID+query).Data)
	}
	for query, want := range map[string]int{"": 3, "&status=4xx": 2, "&status=404": 1, "&refused=true": 1,
		"&code=insufficient_permissions": 1, "&code=not_found": 1, "&created[gte]=2024-02-20T12:00:01Z": 0} {
		if got := count(query); got != want {
			t.Errorf("%s: got %d entries, want %d", query, got, want)
		}
	}
	for _, q := range []string{"status=600", "status=4x", "refused=yes", "code=Not-A-Code", "color=red", "key_id="} {
		if r := ts.do(t, "GET", "/v1/auth/requests?"+q, ts.Owner, ""); r.status != 400 {
			t.Errorf("?%s: got %d %s, want 400", q, r.status, r.body)
		}
	}
}

// TestRequestLog_Budget: an account records at most its burst of entries
// at once; the requests over it are left out and counted, and the log says
// how many, in an entry of their key that the refused filter shows.
func TestRequestLog_Budget(t *testing.T) {
	ts := newTestServer(t)
	reader := ts.newKey(t, ts.Owner, `{"name":"reader","permissions":["candidate:read"],"rate_limit":"1000/m"}`)
	if err := ts.Auth.Flush(t.Context()); err != nil { // the key's creation, by the owner
		t.Fatal(err)
	}
	n := 105 // the clock stands still: no refill
	for range n {
		ts.do(t, "GET", "/v1/auth/whoami", reader.Key, "")
	}
	path := "/v1/auth/api-keys/" + reader.ID + "/requests?limit=100"
	page := ts.requestsOf(t, ts.Owner, path)
	// The owner's request creating the key spent one of the burst: the
	// reader's log holds the burst less one, and the count of the rest.
	left := n - (100 - 1)
	if page.HasMore || len(page.Data) != 100 || page.Data[0].Omitted != int64(left) || page.Data[0].Refused {
		t.Fatalf("%d entries, the first %+v, has_more %v: want 99 requests and %d omitted", len(page.Data), page.Data[0], page.HasMore, left)
	}
	if r := ts.requestsOf(t, ts.Owner, "/v1/auth/requests?refused=true&key_id="+reader.ID).Data; len(r) != 1 || r[0].Omitted != int64(left) {
		t.Errorf("refused=true: %+v, want the omission", r)
	}
}

// TestRequestLog_OtherAccount: another account's key's log is a 404, by
// path or key_id, and its account-wide log holds none of these entries.
func TestRequestLog_OtherAccount(t *testing.T) {
	ts := newTestServer(t)
	reader := ts.newKey(t, ts.Owner, `{"name":"reader","permissions":["candidate:read"]}`)
	ts.do(t, "GET", "/v1/candidates", reader.Key, "")
	_, other := ts.newAccount(t, "Other")
	if err := ts.Auth.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/auth/api-keys/" + reader.ID + "/requests", "/v1/auth/requests?key_id=" + reader.ID} {
		if r := ts.do(t, "GET", path, other, ""); r.status != 404 {
			t.Errorf("%s by another account: got %d %s, want 404", path, r.status, r.body)
		}
	}
	for _, e := range ts.requestsOf(t, other, "/v1/auth/requests").Data {
		if e.KeyID == reader.ID {
			t.Errorf("another account sees %+v", e)
		}
	}
	test := ts.newKey(t, ts.Owner, `{"name":"test reader","environment":"test","permissions":["api_key:read"]}`)
	for _, e := range ts.requestsOf(t, test.Key, "/v1/auth/requests").Data {
		if e.KeyID != test.ID {
			t.Errorf("a test key sees a live key's entry %+v", e)
		}
	}
	if r := ts.do(t, "GET", "/v1/auth/requests?key_id="+reader.ID, test.Key, ""); r.status != 404 {
		t.Errorf("a test key naming a live key: got %d, want 404", r.status)
	}
}

// TestRequestLog_Token: an access token's request is logged under the key
// it was minted with, marked with the token's id, and the token is not
// stored.
func TestRequestLog_Token(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"minter","permissions":["candidate:read","token:write"]}`)
	tok := ts.mint(t, k.Key, `{"permissions":["candidate:read"]}`)
	if r := ts.do(t, "GET", "/v1/candidates", tok.AccessToken, ""); r.status != 200 {
		t.Fatalf("GET with the token: %d %s", r.status, r.body)
	}
	got := ts.requestsOf(t, ts.Owner, "/v1/auth/api-keys/"+k.ID+"/requests").Data
	if len(got) != 2 || got[0].Path != "/v1/candidates" || got[0].TokenID == "" || got[0].KeyID != k.ID || got[1].TokenID != "" {
		t.Fatalf("got %+v, want the token's request under its key, with the token's id, then the key's own", got)
	}
	b, err := os.ReadFile(ts.dbPath)
	if err == nil && bytes.Contains(b, []byte(tok.AccessToken)) {
		t.Errorf("the database holds the access token")
	}
}
