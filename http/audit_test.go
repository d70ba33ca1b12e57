package http_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	pihuhttp "github.com/pihu-ai/pihu/http"
)

// events pages through every audit event the secret can see, newest first.
func (ts *testServer) events(tb testing.TB, secret string) []pihuhttp.AuditEventItem {
	tb.Helper()
	return pageAll(tb, ts, secret, "/v1/auth/audit-events", func(e pihuhttp.AuditEventItem) string { return e.ID })
}

func TestAuditEvents(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.ownerID(t)
	noPerm := ts.newKey(t, ts.Owner, `{"name":"c","permissions":["candidate:read"]}`)
	created := ts.newKey(t, ts.Owner, `{"name":"a","permissions":["candidate:read"]}`)
	ts.Clock.Add(time.Minute)
	writer := ts.newKey(t, ts.Owner, `{"name":"writer","permissions":["api_key:write","candidate:read"]}`)
	testKey := ts.newKey(t, writer.Key, `{"name":"test","permissions":["api_key:read"],"environment":"test"}`)
	ts.Clock.Add(time.Minute)
	if r := ts.do(t, "DELETE", "/v1/auth/api-keys/"+created.ID, writer.Key, ""); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	r := ts.do(t, "POST", "/v1/auth/api-keys/"+testKey.ID+"/rotate", ts.Owner, `{"expire_old_in":"1h"}`)
	if r.status != 200 {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	next := rotated(t, r)
	leaked := ts.newKey(t, ts.Owner, `{"name":"leaked","permissions":["candidate:read"]}`)
	ts.do(t, "POST", "/v1/auth/leaked-keys", "", `{"keys":["`+leaked.Key+`"]}`)
	// Rejected requests record nothing.
	ts.do(t, "POST", "/v1/auth/api-keys", ts.Owner, `{"name":"x","permissions":["nope"]}`)
	ts.do(t, "DELETE", "/v1/auth/api-keys/"+created.ID, ts.Owner, "")
	_, otherOwner := ts.newAccount(t, "Other")
	ts.newKey(t, otherOwner, `{"name":"theirs","permissions":["candidate:read"]}`)

	t0, t1, t2 := "2024-02-20T12:00:00Z", "2024-02-20T12:01:00Z", "2024-02-20T12:02:00Z"
	want := []pihuhttp.AuditEventItem{ // newest first
		{Action: "api_key.leaked", Actor: "anonymous", Target: leaked.ID, Created: t2},
		{Action: "api_key.created", Actor: owner, Target: leaked.ID, Created: t2},
		{Action: "api_key.rotated", Actor: owner, Target: testKey.ID, Created: t2},
		{Action: "api_key.created", Actor: owner, Target: next.ID, Created: t2},
		{Action: "api_key.revoked", Actor: writer.ID, Target: created.ID, Created: t2},
		{Action: "api_key.created", Actor: writer.ID, Target: testKey.ID, Created: t1},
		{Action: "api_key.created", Actor: owner, Target: writer.ID, Created: t1},
		{Action: "api_key.created", Actor: owner, Target: created.ID, Created: t0},
		{Action: "api_key.created", Actor: owner, Target: noPerm.ID, Created: t0},
	}
	check := func(t *testing.T, got, want []pihuhttp.AuditEventItem) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("got %d events %+v, want %d", len(got), got, len(want))
		}
		for i := range got {
			g := got[i]
			if !strings.HasPrefix(g.ID, "evt_") || g.IP != "127.0.0.1" {
				t.Errorf("event %d: id %q, ip %q; want evt_… from 127.0.0.1", i, g.ID, g.IP)
			}
			g.ID, g.IP = "", ""
			if !reflect.DeepEqual(g, want[i]) {
				t.Errorf("event %d: got %+v, want %+v", i, g, want[i])
			}
		}
	}

	var page1 pihuhttp.AuditEventList
	ts.run(t, []scenario{
		{name: "All", method: "GET", path: "/v1/auth/audit-events?limit=100", key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				var list pihuhttp.AuditEventList
				r.decode(t, &list)
				check(t, list.Data, want)
				if list.HasMore {
					t.Errorf("has_more: got true")
				}
				for _, secret := range []string{ts.Owner, created.Key, writer.Key, testKey.Key, next.Key, leaked.Key} {
					if strings.Contains(string(r.body), secret[8:]) {
						t.Fatalf("the audit log holds a secret: %s", r.body)
					}
				}
			}},
		{name: "FirstPage", method: "GET", path: "/v1/auth/audit-events?limit=3", key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				r.decode(t, &page1)
				check(t, page1.Data, want[:3])
				if !page1.HasMore {
					t.Errorf("has_more: got false")
				}
			}},
		{name: "DefaultLimit", method: "GET", path: "/v1/auth/audit-events", key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				var list pihuhttp.AuditEventList
				r.decode(t, &list)
				check(t, list.Data, want) // 9, under the default 10
			}},
		// A test key sees only the events of test keys, and no live key's
		// id: the live actors show as "live_key".
		{name: "TestKeySeesTestEvents", method: "GET", path: "/v1/auth/audit-events", key: next.Key, status: 200,
			check: func(t *testing.T, r response) {
				var list pihuhttp.AuditEventList
				r.decode(t, &list)
				hide := func(e pihuhttp.AuditEventItem) pihuhttp.AuditEventItem {
					e.Actor = pihuhttp.ActorLiveKey
					return e
				}
				check(t, list.Data, []pihuhttp.AuditEventItem{hide(want[2]), hide(want[3]), hide(want[5])})
				for _, id := range []string{owner, writer.ID} {
					if strings.Contains(string(r.body), id) {
						t.Errorf("a test key's audit log shows the live key %s: %s", id, r.body)
					}
				}
			}},

		{name: "OtherAccountSeesItsOwn", method: "GET", path: "/v1/auth/audit-events", key: otherOwner, status: 200,
			check: func(t *testing.T, r response) {
				var list pihuhttp.AuditEventList
				r.decode(t, &list)
				if len(list.Data) != 1 || list.Data[0].Action != "api_key.created" {
					t.Errorf("got %+v, want the other account's one event", list.Data)
				}
			}},
		{name: "ErrLimitZero", method: "GET", path: "/v1/auth/audit-events?limit=0", key: ts.Owner, status: 400, code: "parameter_invalid", param: "limit"},
		{name: "ErrLimitTooLarge", method: "GET", path: "/v1/auth/audit-events?limit=101", key: ts.Owner, status: 400, code: "parameter_invalid", param: "limit"},
		{name: "ErrStartingAfterUnknown", method: "GET", path: "/v1/auth/audit-events?starting_after=evt_nope", key: ts.Owner, status: 400, code: "parameter_invalid", param: "starting_after"},
		{name: "ErrStartingAfterKey", method: "GET", path: "/v1/auth/audit-events?starting_after=" + writer.ID, key: ts.Owner, status: 400, code: "parameter_invalid", param: "starting_after"},
		{name: "ErrUnknownParameter", method: "GET", path: "/v1/auth/audit-events?actions=api_key.created", key: ts.Owner, status: 400, code: "parameter_unknown", param: "actions"},
		// The filters, alone and together.
		{name: "FilterAction", method: "GET", path: "/v1/auth/audit-events?action=api_key.revoked", key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) { check(t, decodeEvents(t, r), []pihuhttp.AuditEventItem{want[4]}) }},
		{name: "FilterActions", method: "GET", path: "/v1/auth/audit-events?action=api_key.revoked,api_key.leaked", key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				check(t, decodeEvents(t, r), []pihuhttp.AuditEventItem{want[0], want[4]})
			}},
		{name: "FilterResourceAndActor", method: "GET", path: "/v1/auth/audit-events?action=api_key.*&actor=" + writer.ID, key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				check(t, decodeEvents(t, r), []pihuhttp.AuditEventItem{want[4], want[5]})
			}},
		{name: "FilterOtherResource", method: "GET", path: "/v1/auth/audit-events?action=user.*", key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) { check(t, decodeEvents(t, r), nil) }},
		{name: "FilterTarget", method: "GET", path: "/v1/auth/audit-events?target=" + testKey.ID, key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				check(t, decodeEvents(t, r), []pihuhttp.AuditEventItem{want[2], want[5]})
			}},
		{name: "FilterTime", method: "GET", path: "/v1/auth/audit-events?created%5Bgte%5D=" + t1 + "&created%5Blt%5D=" + t2, key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) { check(t, decodeEvents(t, r), want[5:7]) }},
		{name: "ErrAction", method: "GET", path: "/v1/auth/audit-events?action=Revoked", key: ts.Owner, status: 400, code: "parameter_invalid", param: "action"},
		{name: "ErrActionTwice", method: "GET", path: "/v1/auth/audit-events?action=user.*&action=api_key.*", key: ts.Owner, status: 400, code: "parameter_invalid", param: "action"},
		{name: "ErrCreated", method: "GET", path: "/v1/auth/audit-events?created%5Bgte%5D=yesterday", key: ts.Owner, status: 400, code: "parameter_invalid", param: "created[gte]"},
		{name: "ErrCreatedRange", method: "GET", path: "/v1/auth/audit-events?created%5Bgte%5D=" + t2 + "&created%5Blt%5D=" + t1, key: ts.Owner, status: 400, code: "parameter_invalid", param: "created[lt]"},
		{name: "ErrNoKey", method: "GET", path: "/v1/auth/audit-events", status: 401, code: "missing_api_key"},
		{name: "ErrRevokedKey", method: "GET", path: "/v1/auth/audit-events", key: created.Key, status: 401, code: "revoked_api_key"},
		{name: "ErrNoPermission", method: "GET", path: "/v1/auth/audit-events", key: noPerm.Key, status: 403, code: "insufficient_permissions"},
		{name: "ErrNoSuchPath", method: "GET", path: "/v1/auth/audit-events/evt_1", key: ts.Owner, status: 404, code: "not_found"},
		{name: "ErrWrongMethod", method: "POST", path: "/v1/auth/audit-events", key: ts.Owner, body: `{}`, status: 405, code: "method_not_allowed"},
	})

	// A live event's id is as unknown to a test key as one that never
	// existed: the same 400, the same message.
	t.Run("TestKeyStartingAfterLiveEvent", func(t *testing.T) {
		all := ts.events(t, ts.Owner)
		live, test := all[0], all[2] // api_key.leaked of a live key; api_key.rotated of a test key
		if r := ts.do(t, "GET", "/v1/auth/audit-events?starting_after="+test.ID, next.Key, ""); r.status != 200 {
			t.Fatalf("after a test event: got %d %s, want 200", r.status, r.body)
		}
		got := ts.do(t, "GET", "/v1/auth/audit-events?starting_after="+live.ID, next.Key, "").errorBody(t)
		unknown := ts.do(t, "GET", "/v1/auth/audit-events?starting_after=evt_0000000000000000000000", next.Key, "").errorBody(t)
		if got.Code != "parameter_invalid" || got.Param != "starting_after" ||
			got.Message != strings.ReplaceAll(unknown.Message, "evt_0000000000000000000000", live.ID) {
			t.Errorf("after a live event: got %+v, want the answer to an unknown id %+v", got, unknown)
		}
	})

	t.Run("SecondPage", func(t *testing.T) {
		r := ts.do(t, "GET", "/v1/auth/audit-events?limit=3&starting_after="+page1.Data[2].ID, ts.Owner, "")
		var list pihuhttp.AuditEventList
		r.decode(t, &list)
		check(t, list.Data, want[3:6])
	})
}

// decodeEvents is the events of a page of the audit log.
func decodeEvents(tb testing.TB, r response) []pihuhttp.AuditEventItem {
	tb.Helper()
	var list pihuhttp.AuditEventList
	r.decode(tb, &list)
	return list.Data
}
