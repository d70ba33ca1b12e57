package http_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	pihuhttp "github.com/pihu-ai/pihu/http"
)

// TestIdentities_Credits: an identity is created with credits and a
// refill, shows them, and PATCH sets, adds to and removes them, each
// change an identity.updated event naming the fields; bad input changes
// nothing. Its keys spend one balance, and a change reaches their cached
// entries at once.
func TestIdentities_Credits(t *testing.T) {
	ts := newTestServer(t)
	writer := ts.newKey(t, ts.Owner, `{"name":"w","permissions":["identity:write","api_key:write","candidate:read"]}`).Key
	i := ts.newIdentity(t, writer, `{"external_id":"org_acme","remaining":6,"refill":{"interval":"monthly","amount":100,"day":1}}`)
	if i.Remaining == nil || *i.Remaining != 6 || i.Refill == nil || i.Refill.Amount != 100 || i.NextRefill == nil || *i.NextRefill != "2024-03-01T00:00:00Z" {
		t.Fatalf("created: got %+v", i)
	}
	plain := ts.newIdentity(t, writer, `{"external_id":"org_plain"}`)
	if plain.Remaining != nil || plain.Refill != nil || plain.NextRefill != nil {
		t.Fatalf("an identity without credits: got %+v", plain)
	}
	member := ts.newKey(t, writer, `{"name":"member","permissions":["candidate:read","identity:write"],"identity_id":"`+i.ID+`"}`)
	other := ts.newKey(t, writer, `{"name":"other","permissions":["candidate:read"],"identity_id":"`+i.ID+`"}`)
	path := "/v1/identities/" + i.ID

	ts.run(t, []scenario{
		{name: "CreateAdd", method: "POST", path: "/v1/identities", key: writer, body: `{"external_id":"x","add":1}`, status: 400, code: "parameter_invalid", param: "add"},
		{name: "CreateRefillWithoutRemaining", method: "POST", path: "/v1/identities", key: writer, body: `{"external_id":"x","refill":{"interval":"daily","amount":5}}`, status: 400, code: "parameter_missing", param: "remaining"},
		{name: "CreateNegative", method: "POST", path: "/v1/identities", key: writer, body: `{"external_id":"x","remaining":-1}`, status: 400, code: "parameter_invalid", param: "remaining"},
		{name: "CreateBadRefill", method: "POST", path: "/v1/identities", key: writer, body: `{"external_id":"x","remaining":1,"refill":{"interval":"hourly","amount":5}}`, status: 400, code: "parameter_invalid", param: "refill"},
		{name: "PatchRemainingAndAdd", method: "PATCH", path: path, key: writer, body: `{"remaining":1,"add":1}`, status: 400, code: "parameter_invalid", param: "add"},
		{name: "PatchAddTooMuch", method: "PATCH", path: path, key: writer, body: `{"add":1000000000001}`, status: 400, code: "parameter_invalid", param: "add"},
		{name: "PatchAddUncounted", method: "PATCH", path: "/v1/identities/" + plain.ID, key: writer, body: `{"add":1}`, status: 400, code: "parameter_invalid", param: "add"},
		{name: "PatchRefillUncounted", method: "PATCH", path: "/v1/identities/" + plain.ID, key: writer, body: `{"refill":{"interval":"daily","amount":5}}`, status: 400, code: "parameter_invalid", param: "refill"},
		{name: "PatchOwnIdentityAdds", method: "PATCH", path: path, key: member.Key, body: `{"add":5}`, status: 403, code: "insufficient_permissions", param: "add"},
		{name: "PatchOwnIdentityRaises", method: "PATCH", path: path, key: member.Key, body: `{"remaining":50}`, status: 403, code: "insufficient_permissions", param: "remaining"},
		{name: "PatchOwnIdentityStopsCounting", method: "PATCH", path: path, key: member.Key, body: `{"remaining":null}`, status: 403, code: "insufficient_permissions", param: "remaining"},
	})
	// Each of the member's 3 requests spent one of the identity's
	// credits, refused for what it asked or not; nothing else changed.
	var got pihuhttp.Identity
	ts.do(t, "GET", path, writer, "").decode(t, &got)
	if *got.Remaining != 3 {
		t.Fatalf("after the refused changes: %d credits, want 3", *got.Remaining)
	}

	// The identity's keys share its 3 credits.
	for n, k := range []string{member.Key, other.Key, member.Key} {
		if r := ts.do(t, "GET", "/v1/candidates", k, ""); r.status != 200 {
			t.Fatalf("request %d: got %d %s", n, r.status, r.body)
		}
	}
	r := ts.do(t, "GET", "/v1/candidates", other.Key, "")
	if r.status != 403 || r.errorBody(t).Code != "usage_exceeded" || !strings.Contains(r.errorBody(t).Message, "PATCH /v1/identities/"+i.ID) ||
		r.header.Get("Pihu-Credits-Refill") != "2024-03-01T00:00:00Z" || r.header.Get("Retry-After") == "" {
		t.Fatalf("the fourth request: got %d %s %v", r.status, r.body, r.header)
	}

	// Adding reaches the keys' cached entries at once.
	r = ts.patch(t, path, writer, `{"add":3}`)
	r.decode(t, &got)
	if *got.Remaining != 3 {
		t.Fatalf("after add: got %s", r.body)
	}
	if r := ts.do(t, "GET", "/v1/candidates", other.Key, ""); r.status != 200 {
		t.Fatalf("after add: got %d %s", r.status, r.body)
	}
	// The key of the identity may lower it (its request spends one).
	if r := ts.do(t, "PATCH", path, member.Key, `{"remaining":1}`); r.status != 200 {
		t.Fatalf("a key lowering its identity's credits: got %d %s", r.status, r.body)
	}
	r = ts.patch(t, path, writer, `{"refill":{"interval":"daily","amount":10}}`)
	r.decode(t, &got)
	if *got.Remaining != 1 || got.Refill.Interval != "daily" || *got.NextRefill != "2024-02-21T00:00:00Z" {
		t.Fatalf("after the refill changed: got %s", r.body)
	}
	ts.Clock.Add(24 * time.Hour)
	ts.do(t, "GET", path, writer, "").decode(t, &got)
	if *got.Remaining != 10 {
		t.Fatalf("the next day: %d credits, want the refill's 10", *got.Remaining)
	}
	r = ts.patch(t, path, writer, `{"remaining":null}`)
	r.decode(t, &got)
	if got.Remaining != nil || got.Refill != nil {
		t.Fatalf("after remaining null: got %s", r.body)
	}
	for range 20 {
		if r := ts.do(t, "GET", "/v1/candidates", other.Key, ""); r.status != 200 {
			t.Fatalf("uncounted: got %d %s", r.status, r.body)
		}
	}

	r = ts.do(t, "GET", "/v1/auth/audit-events?limit=100", ts.Owner, "")
	var events struct {
		Data []struct {
			Action, Target string
			Changes        []string `json:"changes"`
		} `json:"data"`
	}
	r.decode(t, &events)
	var changes [][]string
	for _, ev := range events.Data {
		if ev.Action == "identity.updated" && ev.Target == i.ID {
			changes = append(changes, ev.Changes)
		}
	}
	slices.Reverse(changes)
	want := [][]string{{"add"}, {"remaining"}, {"refill"}, {"remaining"}}
	if len(changes) != len(want) {
		t.Fatalf("identity.updated events: got %v, want %v", changes, want)
	}
	for n := range want {
		if !slices.Equal(changes[n], want[n]) {
			t.Errorf("identity.updated event %d: changes %v, want %v", n, changes[n], want[n])
		}
	}
}

// TestVerify_IdentityCredits: verify answers what the key's identity's
// credits were left at: identity_remaining and identity_next_refill, beside
// the key's own remaining; null for a key of no identity, of one without
// credits, or refused before credits were looked at. When the key's own
// credits are short, the identity's cost is given back, and shown so.
func TestVerify_IdentityCredits(t *testing.T) {
	ts := newTestServer(t)
	writer := ts.newKey(t, ts.Owner, `{"name":"w","permissions":["identity:write","api_key:write","api_key:verify","candidate:read"]}`).Key
	i := ts.newIdentity(t, writer, `{"external_id":"org_acme","remaining":10,"refill":{"interval":"daily","amount":10}}`)
	plain := ts.newIdentity(t, writer, `{"external_id":"org_plain"}`)
	shared := ts.newKey(t, writer, `{"name":"shared","permissions":["candidate:read"],"identity_id":"`+i.ID+`"}`).Key
	both := ts.newKey(t, writer, `{"name":"both","permissions":["candidate:read"],"remaining":1,"identity_id":"`+i.ID+`"}`).Key
	uncounted := ts.newKey(t, writer, `{"name":"uncounted","permissions":["candidate:read"],"identity_id":"`+plain.ID+`"}`).Key
	alone := ts.newKey(t, writer, `{"name":"alone","permissions":["candidate:read"]}`).Key
	verify := func(body string) pihuhttp.VerifyResult {
		t.Helper()
		var res pihuhttp.VerifyResult
		r := ts.do(t, "POST", "/v1/auth/verify", writer, body)
		checkStatus(t, r, 200, "")
		if !strings.Contains(string(r.body), `"identity_remaining":`) || !strings.Contains(string(r.body), `"identity_next_refill":`) {
			t.Errorf("the answer lacks identity_remaining or identity_next_refill: %s", r.body)
		}
		r.decode(t, &res)
		return res
	}
	num := func(p *int64) string {
		if p == nil {
			return "null"
		}
		return strconv.FormatInt(*p, 10)
	}
	str := func(p *string) string {
		if p == nil {
			return "null"
		}
		return *p
	}
	for _, c := range []struct {
		name, body, code          string
		remaining, identity, next string
	}{
		{"Shared", `{"key":"` + shared + `","cost":3}`, pihuhttp.VerifyValid, "null", "7", "2024-02-21T00:00:00Z"},
		{"SharedCheckOnly", `{"key":"` + shared + `","cost":0}`, pihuhttp.VerifyValid, "null", "7", "2024-02-21T00:00:00Z"},
		{"Both", `{"key":"` + both + `"}`, pihuhttp.VerifyValid, "0", "6", "2024-02-21T00:00:00Z"},
		// The key's own are short: the identity's credit comes back.
		{"BothKeyShort", `{"key":"` + both + `"}`, pihuhttp.VerifyUsageExceeded, "0", "6", "2024-02-21T00:00:00Z"},
		{"IdentityShort", `{"key":"` + shared + `","cost":7}`, pihuhttp.VerifyUsageExceeded, "6", "6", "2024-02-21T00:00:00Z"},
		{"RefusedBefore", `{"key":"` + shared + `","permissions":["interview:read"]}`, pihuhttp.VerifyInsufficientPermissions, "null", "null", "null"},
		{"IdentityUncounted", `{"key":"` + uncounted + `"}`, pihuhttp.VerifyValid, "null", "null", "null"},
		{"NoIdentity", `{"key":"` + alone + `"}`, pihuhttp.VerifyValid, "null", "null", "null"},
	} {
		res := verify(c.body)
		if got := []string{res.Code, num(res.Remaining), num(res.IdentityRemaining), str(res.IdentityNextRefill)}; !slices.Equal(got, []string{c.code, c.remaining, c.identity, c.next}) {
			t.Errorf("%s: code, remaining, identity_remaining, identity_next_refill: got %v, want %v", c.name, got, []string{c.code, c.remaining, c.identity, c.next})
		}
	}
	var got pihuhttp.Identity
	ts.do(t, "GET", "/v1/identities/"+i.ID, writer, "").decode(t, &got)
	if *got.Remaining != 6 {
		t.Errorf("the identity after the verifications: %d credits, want 6", *got.Remaining)
	}
}
