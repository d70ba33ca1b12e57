package http_test

import (
	"crypto/sha256"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/ratelimit"
)

// snapshot is the whole stored state: every table's row count and a
// digest of its rows, read from the database file.
func (ts *testServer) snapshot(tb testing.TB) map[string]string {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+ts.dbPath+"?mode=ro")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		tb.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	out := make(map[string]string, len(tables))
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			tb.Fatal(err)
		}
		cols, _ := rows.Columns()
		h := sha256.New()
		n := 0
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				tb.Fatal(err)
			}
			fmt.Fprintf(h, "%v\n", vals)
			n++
		}
		rows.Close()
		out[table] = fmt.Sprintf("%d rows %x", n, h.Sum(nil)[:8])
	}
	return out
}

// badRequest is a malformed request and the 4xx it must get.
type badRequest struct {
	method, path, key, body string
	headers                 map[string]string
	status                  int
	code                    string
}

// TestBadInput sends more than a hundred malformed requests across every
// endpoint. Each must get its 4xx with the SPEC error body (type, code, a
// message a person can act on, the request id) and change nothing stored:
// the whole database is the same before and after, table by table.
func TestBadInput(t *testing.T) {
	ts := newTestServer(t, func(o *pihuhttp.Options) { o.LeakedKeysLimit = ratelimit.PerMinute(1000) })
	owner := ts.Owner
	narrow := ts.newKey(t, owner, `{"name":"narrow","permissions":["candidate:read"]}`)
	testKey := ts.newKey(t, owner, `{"name":"test","permissions":["*"],"environment":"test"}`)
	other, otherOwner := ts.newAccount(t, "Other")
	_ = other
	otherKey := ts.newKey(t, otherOwner, `{"name":"theirs","permissions":["candidate:read"]}`)
	cand := ts.do(t, "POST", "/v1/candidates", owner, `{"name":"Ada","email":"ada@example.com"}`)
	var c struct{ ID string }
	cand.decode(t, &c)
	intv := ts.do(t, "POST", "/v1/interviews", owner, `{"candidate_id":"`+c.ID+`","position":"eng"}`)
	var iv struct{ ID string }
	intv.decode(t, &iv)

	big := `{"name":"` + strings.Repeat("x", 70<<10) + `"}`
	lookalike := "ph_live_" + strings.Repeat("A", 40) // wrong checksum
	unknownKey := pihu.NewSecret(pihu.Live)
	var reqs []badRequest
	add := func(status int, code, method, path, key, body string, headers ...string) {
		h := map[string]string{}
		for i := 0; i+1 < len(headers); i += 2 {
			h[headers[i]] = headers[i+1]
		}
		reqs = append(reqs, badRequest{method, path, key, body, h, status, code})
	}

	// Every JSON body, malformed in every generic way.
	for _, ep := range []string{"/v1/auth/api-keys", "/v1/auth/api-keys/" + narrow.ID + "/rotate", "/v1/auth/verify", "/v1/auth/tokens", "/v1/candidates", "/v1/interviews", "/v1/auth/leaked-keys"} {
		add(400, "invalid_json", "POST", ep, owner, `{`)
		add(400, "invalid_json", "POST", ep, owner, `[]`)
		add(400, "invalid_json", "POST", ep, owner, `{}{}`)
		add(400, "invalid_json", "POST", ep, owner, "{\"name\":\"\xff\"}")
		add(400, "parameter_unknown", "POST", ep, owner, `{"nope":1}`)
		add(400, "parameter_unknown", "POST", ep, owner, `{"NAME":"x","KEYS":[],"KEY":"x"}`)
		add(415, "unsupported_media_type", "POST", ep, owner, `{}`, "Content-Type", "text/plain")
		add(413, "body_too_large", "POST", ep, owner, big)
		add(400, "parameter_invalid", "POST", ep, owner, `{}`, "Idempotency-Key", "é")
		add(400, "parameter_invalid", "POST", ep, owner, `{}`, "Idempotency-Key", strings.Repeat("i", 300))
	}

	// Creating keys.
	for _, tc := range []struct{ body, code string }{
		{`{"permissions":["*"]}`, "parameter_missing"},
		{`{"name":"","permissions":["*"]}`, "parameter_invalid"},
		{`{"name":"` + strings.Repeat("n", 101) + `","permissions":["*"]}`, "parameter_invalid"},
		{`{"name":"a\u0000b","permissions":["*"]}`, "parameter_invalid"},
		{`{"name":7,"permissions":["*"]}`, "parameter_invalid"},
		{`{"name":"k"}`, "parameter_missing"},
		{`{"name":"k","permissions":[]}`, "parameter_invalid"},
		{`{"name":"k","permissions":"*"}`, "parameter_invalid"},
		{`{"name":"k","permissions":["candidate:delete"]}`, "parameter_invalid"},
		{`{"name":"k","permissions":["*"],"expiration":"0d"}`, "parameter_invalid"},
		{`{"name":"k","permissions":["*"],"expiration":"3651d"}`, "parameter_invalid"},
		{`{"name":"k","permissions":["*"],"expiration":"1y"}`, "parameter_invalid"},
		{`{"name":"k","permissions":["*"],"expiration":"-1d"}`, "parameter_invalid"},
		{`{"name":"k","permissions":["*"],"environment":"prod"}`, "parameter_invalid"},
		{`{"name":"k","permissions":["*"],"rate_limit":"fast"}`, "parameter_invalid"},
		{`{"name":"k","permissions":["*"],"rate_limit":"0/m"}`, "parameter_invalid"},
		{`{"name":"k","permissions":["*"],"allowed_ips":["nowhere"]}`, "parameter_invalid"},
		{`{"name":"k","permissions":["*"],"allowed_ips":[]}`, "parameter_invalid"},
		{`{"name":"k","permissions":["*"],"allowed_ips":["fe80::1%eth0"]}`, "parameter_invalid"},
	} {
		add(400, tc.code, "POST", "/v1/auth/api-keys", owner, tc.body)
	}
	add(403, "insufficient_permissions", "POST", "/v1/auth/api-keys", narrow.Key, `{"name":"k","permissions":["candidate:read"]}`)
	add(403, "insufficient_permissions", "POST", "/v1/auth/api-keys", testKey.Key, `{"name":"k","permissions":["*"],"environment":"live"}`)

	// Lists and their query strings.
	for _, ep := range []string{"/v1/auth/api-keys", "/v1/candidates", "/v1/interviews", "/v1/auth/audit-events"} {
		add(400, "parameter_invalid", "GET", ep+"?limit=0", owner, "")
		add(400, "parameter_invalid", "GET", ep+"?limit=101", owner, "")
		add(400, "parameter_invalid", "GET", ep+"?limit=ten", owner, "")
		add(400, "parameter_invalid", "GET", ep+"?starting_after=nope_123", owner, "")
		add(400, "parameter_unknown", "GET", ep+"?sort=asc", owner, "")
		add(400, "parameter_invalid", "GET", ep+"?limit=1&limit=2", owner, "")
		add(400, "parameter_invalid", "GET", ep+"?%zz", owner, "")
	}

	// Ids: unknown, of another account, of another environment.
	for _, path := range []string{"/v1/auth/api-keys/key_nope", "/v1/auth/api-keys/" + otherKey.ID, "/v1/candidates/cand_nope", "/v1/interviews/intv_nope", "/v1/auth/api-keys/key_nope/usage"} {
		add(404, "not_found", "GET", path, owner, "")
	}
	add(404, "not_found", "GET", "/v1/candidates/"+c.ID, testKey.Key, "")
	add(404, "not_found", "DELETE", "/v1/auth/api-keys/"+otherKey.ID, owner, "")
	add(404, "not_found", "DELETE", "/v1/candidates/cand_nope", owner, "")
	add(404, "not_found", "DELETE", "/v1/interviews/intv_nope", owner, "")
	add(404, "not_found", "POST", "/v1/auth/api-keys/key_nope/rotate", owner, `{}`)
	add(400, "parameter_invalid", "GET", "/v1/auth/api-keys/"+narrow.ID+"/usage?granularity=week", owner, "")
	add(400, "parameter_invalid", "DELETE", "/v1/auth/api-keys/"+narrow.ID+"?cascade=maybe", owner, "")
	add(400, "parameter_unknown", "DELETE", "/v1/candidates/"+c.ID+"?force=1", owner, "")
	add(403, "insufficient_permissions", "DELETE", "/v1/candidates/"+c.ID, narrow.Key, "")
	add(403, "insufficient_permissions", "DELETE", "/v1/interviews/"+iv.ID, narrow.Key, "")

	// Rotation, verification, tokens, resources, leak reports.
	add(400, "parameter_invalid", "POST", "/v1/auth/api-keys/"+narrow.ID+"/rotate", owner, `{"expire_old_in":"soon"}`)
	add(400, "parameter_invalid", "POST", "/v1/auth/api-keys/"+narrow.ID+"/rotate", owner, `{"expire_old_in":"0m"}`)
	add(400, "parameter_invalid", "POST", "/v1/auth/api-keys/"+narrow.ID+"/rotate", owner, `{"expire_old_in":5}`)
	add(400, "parameter_missing", "POST", "/v1/auth/verify", owner, `{}`)
	add(400, "parameter_invalid", "POST", "/v1/auth/verify", owner, `{"key":"`+narrow.Key+`","permissions":["nope"]}`)
	add(400, "parameter_invalid", "POST", "/v1/auth/verify", owner, `{"key":"`+narrow.Key+`","ip":"not-an-ip"}`)
	add(403, "insufficient_permissions", "POST", "/v1/auth/verify", narrow.Key, `{"key":"`+narrow.Key+`"}`)
	add(400, "parameter_invalid", "POST", "/v1/auth/tokens", owner, `{"permissions":["nope"]}`)
	add(400, "parameter_invalid", "POST", "/v1/auth/tokens", owner, `{"expires_in":"2h"}`)
	add(400, "parameter_invalid", "POST", "/v1/auth/tokens", owner, `{"expires_in":""}`)
	add(400, "parameter_invalid", "POST", "/v1/auth/tokens", owner, `{"audience":"a b"}`)
	add(403, "insufficient_permissions", "POST", "/v1/auth/tokens", narrow.Key, `{}`)
	add(400, "parameter_missing", "POST", "/v1/candidates", owner, `{"email":"a@example.com"}`)
	add(400, "parameter_invalid", "POST", "/v1/candidates", owner, `{"name":"A","email":"not an email"}`)
	add(400, "parameter_missing", "POST", "/v1/interviews", owner, `{"position":"eng"}`)
	add(400, "parameter_missing", "POST", "/v1/interviews", owner, `{"candidate_id":"`+c.ID+`"}`)
	add(400, "parameter_invalid", "POST", "/v1/interviews", owner, `{"candidate_id":"`+c.ID+`","position":"eng","scheduled_at":"tomorrow"}`)
	add(400, "parameter_invalid", "POST", "/v1/interviews", owner, `{"candidate_id":"`+c.ID+`","position":"eng","scheduled_at":"2024-02-30T14:30:00Z"}`)
	add(400, "parameter_missing", "POST", "/v1/auth/leaked-keys", "", `{}`)
	add(400, "parameter_invalid", "POST", "/v1/auth/leaked-keys", "", `{"keys":"ph_live_x"}`)
	add(400, "parameter_invalid", "POST", "/v1/auth/leaked-keys", "", `{"keys":[`+strings.TrimSuffix(strings.Repeat(`"x",`, 1001), ",")+`]}`)

	// Authentication and routing.
	for _, path := range []string{"/v1/auth/whoami", "/v1/auth/api-keys", "/v1/candidates", "/v1/interviews", "/v1/auth/audit-events"} {
		add(401, "missing_api_key", "GET", path, "", "")
		add(401, "invalid_api_key", "GET", path, lookalike, "")
		add(401, "invalid_api_key", "GET", path, unknownKey, "")
		add(401, "missing_api_key", "GET", path, "", "", "Authorization", "Basic dXNlcjpwYXNz") // another scheme: no Bearer credentials (RFC 6750 §3.1)
	}
	add(400, "parameter_invalid", "GET", "/v1/auth/whoami", "", "", "Authorization", "Bearer "+owner+", Bearer "+narrow.Key)
	add(400, "parameter_unknown", "GET", "/v1/auth/whoami?verbose=1", owner, "")
	add(400, "parameter_unknown", "GET", "/healthz?x=1", "", "")
	add(400, "parameter_unknown", "GET", "/v1/openapi.json?x=1", "", "")
	add(405, "method_not_allowed", "PUT", "/v1/auth/api-keys", owner, `{}`)
	add(405, "method_not_allowed", "PATCH", "/v1/candidates/"+c.ID, owner, `{}`)
	add(404, "not_found", "GET", "/v1/nothing", owner, "")
	add(404, "not_found", "GET", "/v1/auth/api-keys/"+narrow.ID+"/nothing", owner, "")

	if len(reqs) < 100 {
		t.Fatalf("%d bad requests, want at least 100", len(reqs))
	}
	before := ts.snapshot(t)
	for i, br := range reqs {
		name := fmt.Sprintf("%03d_%s_%s_%d", i, br.method, strings.SplitN(br.path, "?", 2)[0], br.status)
		t.Run(name, func(t *testing.T) {
			h := map[string]string{"Authorization": bearer(br.key), "Content-Type": contentType(br.body)}
			for k, v := range br.headers {
				h[k] = v
			}
			r := ts.doWith(t, br.method, br.path, br.body, h)
			if r.status != br.status {
				t.Fatalf("%s %.80s %.80s: got %d %s, want %d %s", br.method, br.path, br.body, r.status, r.body, br.status, br.code)
			}
			e := r.errorBody(t)
			if e.Code != br.code {
				t.Errorf("%s %.80s %.80s: code %q (%s), want %q", br.method, br.path, br.body, e.Code, e.Message, br.code)
			}
			if e.Type == "" || e.RequestID != r.header.Get("Request-Id") || len(e.Message) < 20 || !strings.HasSuffix(e.Message, ".") {
				t.Errorf("error body: got %s, want a type, the request id and a sentence to act on", r.body)
			}
			if strings.Contains(e.Message, "Internal") {
				t.Errorf("message shows an internal error: %s", e.Message)
			}
		})
	}
	after := ts.snapshot(t)
	for table, b := range before {
		if after[table] != b {
			t.Errorf("table %s changed: %s before, %s after the bad requests", table, b, after[table])
		}
	}
	t.Logf("%d bad requests, %d tables unchanged", len(reqs), len(before))

	// The snapshot sees a change: one good request changes it.
	ts.do(t, "POST", "/v1/candidates", owner, `{"name":"Grace","email":"grace@example.com"}`)
	if changed := ts.snapshot(t); changed["candidates"] == after["candidates"] {
		t.Errorf("the snapshot did not see a new candidate: %s", changed["candidates"])
	}
}
