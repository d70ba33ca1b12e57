package http_test

import (
	"testing"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

// TestAccount_LeakPolicy reads and changes the account's leak policy
// through GET and PATCH /v1/auth/account: only a live key holding "*"
// may change it, every refusal changes nothing, and a change is recorded
// as account.updated.
func TestAccount_LeakPolicy(t *testing.T) {
	ts := newTestServer(t)
	reader := ts.newKey(t, ts.Owner, `{"name":"reader","permissions":["api_key:read"]}`)
	writer := ts.newKey(t, ts.Owner, `{"name":"writer","permissions":["api_key:write"]}`)
	testOwner := ts.newKey(t, ts.Owner, `{"name":"test owner","permissions":["*"],"environment":"test"}`)
	policy := func(t *testing.T) string {
		t.Helper()
		var a pihuhttp.AccountItem
		r := ts.do(t, "GET", "/v1/auth/account", reader.Key, "")
		if r.status != 200 {
			t.Fatalf("GET account: %d %s", r.status, r.body)
		}
		r.decode(t, &a)
		if a.ID != ts.Account.ID || a.Name != "Default" || a.Created != "2024-02-20T12:00:00Z" {
			t.Errorf("GET account: got %+v", a)
		}
		return a.LeakPolicy
	}
	if got := policy(t); got != "revoke" {
		t.Fatalf("default leak_policy: got %q, want revoke", got)
	}
	ts.run(t, []scenario{
		{name: "ErrNoKey", method: "PATCH", path: "/v1/auth/account", body: `{"leak_policy":"flag"}`, status: 401, code: "missing_api_key"},
		{name: "ErrWriterLacksWildcard", method: "PATCH", path: "/v1/auth/account", key: writer.Key, body: `{"leak_policy":"flag"}`, status: 403, code: "insufficient_permissions"},
		{name: "ErrTestKey", method: "PATCH", path: "/v1/auth/account", key: testOwner.Key, body: `{"leak_policy":"flag"}`, status: 403, code: "insufficient_permissions"},
		{name: "ErrInvalid", method: "PATCH", path: "/v1/auth/account", key: ts.Owner, body: `{"leak_policy":"ignore"}`, status: 400, code: "parameter_invalid", param: "leak_policy"},
		{name: "ErrUnknownField", method: "PATCH", path: "/v1/auth/account", key: ts.Owner, body: `{"name":"Acme"}`, status: 400, code: "parameter_unknown", param: "name"},
		{name: "ErrGetNeedsRead", method: "GET", path: "/v1/auth/account", key: ts.newKey(t, ts.Owner, `{"name":"c","permissions":["candidate:read"]}`).Key, status: 403, code: "insufficient_permissions"},
		{name: "Nothing", method: "PATCH", path: "/v1/auth/account", key: ts.Owner, body: `{}`, status: 200},
	})
	if got := policy(t); got != "revoke" {
		t.Fatalf("after the refusals: got %q, want revoke", got)
	}
	updated := func() int {
		n := 0
		for _, ev := range ts.events(t, ts.Owner) {
			if ev.Action == pihu.ActionAccountUpdated && ev.Target == ts.Account.ID && len(ev.Changes) == 1 && ev.Changes[0] == "leak_policy" {
				n++
			}
		}
		return n
	}
	if n := updated(); n != 0 {
		t.Fatalf("account.updated events after the refusals: got %d, want none", n)
	}
	for range 2 { // the second changes nothing, and records nothing
		r := ts.do(t, "PATCH", "/v1/auth/account", ts.Owner, `{"leak_policy":"flag"}`)
		var a pihuhttp.AccountItem
		r.decode(t, &a)
		if r.status != 200 || a.LeakPolicy != "flag" {
			t.Fatalf("PATCH: got %d %s", r.status, r.body)
		}
	}
	if got := policy(t); got != "flag" {
		t.Errorf("after PATCH: got %q, want flag", got)
	}
	if n := updated(); n != 1 {
		t.Errorf("account.updated events: got %d, want 1", n)
	}
}
