package http_test

import (
	"strings"
	"testing"

	pihuhttp "github.com/pihu-ai/pihu/http"
)

// newIdentity creates an identity through the API with key and returns
// it.
func (ts *testServer) newIdentity(tb testing.TB, key, body string) pihuhttp.Identity {
	tb.Helper()
	r := ts.do(tb, "POST", "/v1/identities", key, body)
	if r.status != 200 {
		tb.Fatalf("creating identity %s: got %d %s", body, r.status, r.body)
	}
	var i pihuhttp.Identity
	r.decode(tb, &i)
	return i
}

func TestIdentities(t *testing.T) {
	ts := newTestServer(t)
	_, other := ts.newAccount(t, "Other")
	writer := ts.newKey(t, ts.Owner, `{"name":"w","permissions":["identity:write","api_key:write","candidate:read"]}`).Key
	reader := ts.newKey(t, ts.Owner, `{"name":"r","permissions":["identity:read"]}`).Key
	noPerm := ts.newKey(t, ts.Owner, `{"name":"n","permissions":["candidate:read"]}`).Key
	keyWriter := ts.newKey(t, ts.Owner, `{"name":"kw","permissions":["api_key:write","candidate:read"]}`).Key
	test := ts.newKey(t, ts.Owner, `{"name":"t","permissions":["*"],"environment":"test"}`).Key
	acme := ts.newIdentity(t, writer, `{"external_id":"org_acme","metadata":{"plan":"pro"},"rate_limit":"100/m"}`)
	if !strings.HasPrefix(acme.ID, "idt_") || acme.ExternalID != "org_acme" || string(acme.Metadata) != `{"plan":"pro"}` ||
		acme.RateLimit == nil || *acme.RateLimit != "100/m" || acme.Environment != "live" || acme.Created != "2024-02-20T12:00:00Z" {
		t.Fatalf("got %+v", acme)
	}
	testOne := ts.newIdentity(t, test, `{"external_id":"org_acme"}`)
	theirs := ts.newIdentity(t, other, `{"external_id":"org_acme"}`)
	member := ts.newKey(t, ts.Owner, `{"name":"member","permissions":["identity:write"],"identity_id":"`+acme.ID+`"}`).Key

	ts.run(t, []scenario{
		{name: "CreateTwice", method: "POST", path: "/v1/identities", key: writer, body: `{"external_id":"org_acme"}`, status: 409, code: "identity_exists", param: "external_id"},
		{name: "CreateNoExternalID", method: "POST", path: "/v1/identities", key: writer, body: `{"metadata":{"a":1}}`, status: 400, code: "parameter_missing", param: "external_id"},
		{name: "CreateEmptyExternalID", method: "POST", path: "/v1/identities", key: writer, body: `{"external_id":""}`, status: 400, code: "parameter_invalid", param: "external_id"},
		{name: "CreateLongExternalID", method: "POST", path: "/v1/identities", key: writer, body: `{"external_id":"` + strings.Repeat("a", 256) + `"}`, status: 400, code: "parameter_invalid", param: "external_id"},
		{name: "CreateControlInExternalID", method: "POST", path: "/v1/identities", key: writer, body: `{"external_id":"a\u0007b"}`, status: 400, code: "parameter_invalid", param: "external_id"},
		{name: "CreateBadRateLimit", method: "POST", path: "/v1/identities", key: writer, body: `{"external_id":"x","rate_limit":"lots"}`, status: 400, code: "parameter_invalid", param: "rate_limit"},
		{name: "CreateBadMetadata", method: "POST", path: "/v1/identities", key: writer, body: `{"external_id":"x","metadata":[1]}`, status: 400, code: "parameter_invalid", param: "metadata"},
		{name: "CreateUnknownField", method: "POST", path: "/v1/identities", key: writer, body: `{"external_id":"x","name":"x"}`, status: 400, code: "parameter_unknown", param: "name"},
		{name: "CreateNoKey", method: "POST", path: "/v1/identities", body: `{"external_id":"x"}`, status: 401, code: "missing_api_key"},
		{name: "CreateWithoutPermission", method: "POST", path: "/v1/identities", key: reader, body: `{"external_id":"x"}`, status: 403, code: "insufficient_permissions"},
		{name: "Get", method: "GET", path: "/v1/identities/" + acme.ID, key: reader, status: 200},
		{name: "GetLiveWithTestKey", method: "GET", path: "/v1/identities/" + acme.ID, key: test, status: 404, code: "not_found"},
		{name: "GetTestWithLiveKey", method: "GET", path: "/v1/identities/" + testOne.ID, key: reader, status: 404, code: "not_found"},
		{name: "GetOtherAccounts", method: "GET", path: "/v1/identities/" + theirs.ID, key: reader, status: 404, code: "not_found"},
		{name: "GetWithoutPermission", method: "GET", path: "/v1/identities/" + acme.ID, key: noPerm, status: 403, code: "insufficient_permissions"},
		{name: "GetUnknownParameter", method: "GET", path: "/v1/identities/" + acme.ID + "?x=1", key: reader, status: 400, code: "parameter_unknown", param: "x"},
		{name: "ListByExternalID", method: "GET", path: "/v1/identities?external_id=org_acme", key: reader, status: 200,
			check: func(t *testing.T, r response) {
				var page pihuhttp.IdentityList
				r.decode(t, &page)
				if len(page.Data) != 1 || page.Data[0].ID != acme.ID {
					t.Errorf("got %s, want the live org_acme only", r.body)
				}
			}},
		{name: "ListTestKeySeesTestOnly", method: "GET", path: "/v1/identities", key: test, status: 200,
			check: func(t *testing.T, r response) {
				var page pihuhttp.IdentityList
				r.decode(t, &page)
				if len(page.Data) != 1 || page.Data[0].ID != testOne.ID {
					t.Errorf("got %s, want the test identity only", r.body)
				}
			}},
		{name: "ListLiveCursorWithTestKey", method: "GET", path: "/v1/identities?starting_after=" + acme.ID, key: test, status: 400, code: "parameter_invalid", param: "starting_after"},
		{name: "ListWithoutPermission", method: "GET", path: "/v1/identities", key: noPerm, status: 403, code: "insufficient_permissions"},
		{name: "PatchNothing", method: "PATCH", path: "/v1/identities/" + acme.ID, key: writer, body: `{}`, status: 400, code: "parameter_missing"},
		{name: "PatchOtherAccounts", method: "PATCH", path: "/v1/identities/" + theirs.ID, key: writer, body: `{"metadata":null}`, status: 404, code: "not_found"},
		{name: "PatchBadRateLimit", method: "PATCH", path: "/v1/identities/" + acme.ID, key: writer, body: `{"rate_limit":"0/m"}`, status: 400, code: "parameter_invalid", param: "rate_limit"},
		{name: "PatchWithoutPermission", method: "PATCH", path: "/v1/identities/" + acme.ID, key: reader, body: `{"metadata":null}`, status: 403, code: "insufficient_permissions"},
		{name: "PatchOwnIdentityRaisesLimit", method: "PATCH", path: "/v1/identities/" + acme.ID, key: member, body: `{"rate_limit":"101/m"}`, status: 403, code: "insufficient_permissions", param: "rate_limit"},
		{name: "PatchOwnIdentityRemovesLimit", method: "PATCH", path: "/v1/identities/" + acme.ID, key: member, body: `{"rate_limit":null}`, status: 403, code: "insufficient_permissions", param: "rate_limit"},
		{name: "PatchOwnIdentityLowersLimit", method: "PATCH", path: "/v1/identities/" + acme.ID, key: member, body: `{"rate_limit":"100/h"}`, status: 200},
		{name: "PatchOwnIdentityRestoresLimit", method: "PATCH", path: "/v1/identities/" + acme.ID, key: writer, body: `{"rate_limit":"100/m"}`, status: 200},
		{name: "DeleteOtherAccounts", method: "DELETE", path: "/v1/identities/" + theirs.ID, key: writer, status: 404, code: "not_found"},
		{name: "DeleteBadRevokeKeys", method: "DELETE", path: "/v1/identities/" + acme.ID + "?revoke_keys=yes", key: writer, status: 400, code: "parameter_invalid", param: "revoke_keys"},
		{name: "DeleteWithoutPermission", method: "DELETE", path: "/v1/identities/" + acme.ID, key: reader, status: 403, code: "insufficient_permissions"},
		{name: "KeyWithOtherAccountsIdentity", method: "POST", path: "/v1/auth/api-keys", key: writer, body: `{"name":"k","permissions":["candidate:read"],"identity_id":"` + theirs.ID + `"}`, status: 400, code: "parameter_invalid", param: "identity_id"},
		{name: "KeyWithTestIdentity", method: "POST", path: "/v1/auth/api-keys", key: writer, body: `{"name":"k","permissions":["candidate:read"],"identity_id":"` + testOne.ID + `"}`, status: 400, code: "parameter_invalid", param: "identity_id"},
		{name: "KeyWithEmptyIdentity", method: "POST", path: "/v1/auth/api-keys", key: writer, body: `{"name":"k","permissions":["candidate:read"],"identity_id":""}`, status: 400, code: "parameter_invalid", param: "identity_id"},
		{name: "KeyIdentityNeedsIdentityRead", method: "POST", path: "/v1/auth/api-keys", key: keyWriter, body: `{"name":"k","permissions":["candidate:read"],"identity_id":"` + acme.ID + `"}`, status: 403, code: "insufficient_permissions", param: "identity_id"},
		{name: "KeysByUnknownIdentity", method: "GET", path: "/v1/auth/api-keys?identity_id=idt_nothing", key: writer, status: 200,
			check: func(t *testing.T, r response) {
				if !strings.Contains(string(r.body), `"data":[]`) {
					t.Errorf("got %s, want no key", r.body)
				}
			}},
		{name: "KeysByEmptyIdentity", method: "GET", path: "/v1/auth/api-keys?identity_id=", key: writer, status: 400, code: "parameter_invalid", param: "identity_id"},
	})

	t.Run("KeysOfTheIdentity", func(t *testing.T) {
		k := ts.newKey(t, writer, `{"name":"acme 1","permissions":["candidate:read"],"identity_id":"`+acme.ID+`"}`)
		if k.IdentityID == nil || *k.IdentityID != acme.ID {
			t.Fatalf("created: got %+v, want identity_id %s", k, acme.ID)
		}
		plain := ts.newKey(t, writer, `{"name":"plain","permissions":["candidate:read"]}`)
		r := ts.do(t, "GET", "/v1/auth/api-keys?identity_id="+acme.ID, writer, "")
		var page pihuhttp.KeyList
		r.decode(t, &page)
		if r.status != 200 || len(page.Data) != 2 || page.Data[0].ID != k.ID || *page.Data[0].IdentityID != acme.ID { // k and member
			t.Fatalf("keys of the identity: got %d %s", r.status, r.body)
		}
		// PATCH gives and takes an identity; a key cannot change its own.
		r = ts.patch(t, "/v1/auth/api-keys/"+plain.ID, writer, `{"identity_id":"`+acme.ID+`"}`)
		if !strings.Contains(string(r.body), `"identity_id":"`+acme.ID+`"`) {
			t.Errorf("PATCH identity_id: got %s", r.body)
		}
		r = ts.patch(t, "/v1/auth/api-keys/"+plain.ID, writer, `{"identity_id":null}`)
		if !strings.Contains(string(r.body), `"identity_id":null`) {
			t.Errorf("PATCH identity_id null: got %s", r.body)
		}
		self := ts.newKey(t, ts.Owner, `{"name":"self","permissions":["api_key:write","identity:read","candidate:read"],"identity_id":"`+acme.ID+`"}`)
		r = ts.do(t, "PATCH", "/v1/auth/api-keys/"+self.ID, self.Key, `{"identity_id":null}`)
		if r.status != 403 || r.errorBody(t).Param != "identity_id" {
			t.Errorf("a key leaving its own identity: got %d %s, want 403 on identity_id", r.status, r.body)
		}
		r = ts.do(t, "PATCH", "/v1/auth/api-keys/"+plain.ID, writer, `{"identity_id":"`+testOne.ID+`"}`)
		if r.status != 400 || r.errorBody(t).Param != "identity_id" {
			t.Errorf("a live key given a test identity: got %d %s", r.status, r.body)
		}
	})
}

// TestIdentities_SharedRateLimit: the keys of an identity with 5/m get 5
// requests a minute in all, not 5 each; a key's own limit applies too.
func TestIdentities_SharedRateLimit(t *testing.T) {
	ts := newTestServer(t)
	shared := ts.newIdentity(t, ts.Owner, `{"external_id":"user_42","rate_limit":"5/m"}`)
	var keys []string
	for _, name := range []string{"a", "b", "c"} {
		keys = append(keys, ts.newKey(t, ts.Owner, `{"name":"`+name+`","permissions":["candidate:read"],"identity_id":"`+shared.ID+`"}`).Key)
	}
	admitted := 0
	for i := range 15 {
		r := ts.do(t, "GET", "/v1/candidates", keys[i%3], "")
		switch r.status {
		case 200:
			admitted++
			if i < 5 && r.header.Get("RateLimit-Limit") != "5" {
				t.Errorf("request %d: RateLimit-Limit %q, want the identity's 5", i+1, r.header.Get("RateLimit-Limit"))
			}
		case 429:
			if r.header.Get("Retry-After") == "" || r.errorBody(t).Code != "rate_limited" {
				t.Errorf("request %d: got %v %s", i+1, r.header, r.body)
			}
		default:
			t.Fatalf("request %d: got %d %s", i+1, r.status, r.body)
		}
	}
	if admitted != 5 {
		t.Errorf("three keys of an identity of 5/m: %d requests admitted, want 5 in all", admitted)
	}
	// The identity's usage adds up its keys' requests, by outcome.
	r := ts.do(t, "GET", "/v1/identities/"+shared.ID+"/usage", ts.Owner, "")
	var u pihuhttp.IdentityUsage
	r.decode(t, &u)
	if r.status != 200 || u.IdentityID != shared.ID || u.Total.Allowed != 5 || u.Total.Refused != 10 || u.Total.RefusedBy.RateLimited != 10 ||
		len(u.Data) != 24 || u.Data[23].Allowed != 5 {
		t.Errorf("usage of the identity: got %d %s, want 5 allowed and 10 rate limited", r.status, r.body)
	}
	if r := ts.do(t, "GET", "/v1/identities/"+shared.ID+"/usage?granularity=week", ts.Owner, ""); r.status != 400 {
		t.Errorf("usage with a bad granularity: got %d", r.status)
	}
	testKey := ts.newKey(t, ts.Owner, `{"name":"t","permissions":["identity:read"],"environment":"test"}`).Key
	if r := ts.do(t, "GET", "/v1/identities/"+shared.ID+"/usage", testKey, ""); r.status != 404 {
		t.Errorf("a live identity's usage with a test key: got %d, want 404", r.status)
	}
	plain := ts.newKey(t, ts.Owner, `{"name":"plain","permissions":["candidate:read"]}`).Key
	if r := ts.do(t, "GET", "/v1/candidates", plain, ""); r.status != 200 {
		t.Errorf("a key of no identity: got %d, want its own limit", r.status)
	}

	// Both limits: a key of 2/m within an identity of 10/m gets 2, and
	// what it was refused is not taken from the identity.
	wide := ts.newIdentity(t, ts.Owner, `{"external_id":"user_43","rate_limit":"10/m"}`)
	narrow := ts.newKey(t, ts.Owner, `{"name":"narrow","permissions":["candidate:read"],"rate_limit":"2/m","identity_id":"`+wide.ID+`"}`).Key
	other := ts.newKey(t, ts.Owner, `{"name":"other","permissions":["candidate:read"],"identity_id":"`+wide.ID+`"}`).Key
	for i := range 4 {
		r := ts.do(t, "GET", "/v1/candidates", narrow, "")
		if want := map[bool]int{true: 200, false: 429}[i < 2]; r.status != want {
			t.Errorf("narrow key, request %d: got %d, want %d", i+1, r.status, want)
		}
		if i >= 2 && r.header.Get("RateLimit-Limit") != "2" {
			t.Errorf("narrow key refused: RateLimit-Limit %q, want its own 2", r.header.Get("RateLimit-Limit"))
		}
	}
	for i := range 9 {
		if r := ts.do(t, "GET", "/v1/candidates", other, ""); (r.status == 200) != (i < 8) {
			t.Errorf("other key, request %d: got %d; want 8 of the identity's 10 left", i+1, r.status)
		}
	}

	// A change of the identity's limit reaches its cached keys at once.
	ts.patch(t, "/v1/identities/"+shared.ID, ts.Owner, `{"rate_limit":null}`)
	if r := ts.do(t, "GET", "/v1/candidates", keys[0], ""); r.status != 200 || r.header.Get("RateLimit-Limit") != "1000" {
		t.Errorf("after the shared limit was removed: got %d, RateLimit-Limit %q, want the default", r.status, r.header.Get("RateLimit-Limit"))
	}
}

// TestIdentities_EveryDoorNamesIt: whoami, verify and forward-auth name
// the key's identity, and show a change of it at once (the cached key is
// read again).
func TestIdentities_EveryDoorNamesIt(t *testing.T) {
	ts := newTestServer(t)
	i := ts.newIdentity(t, ts.Owner, `{"external_id":"org_acme","metadata":{"plan":"pro"}}`)
	k := ts.newKey(t, ts.Owner, `{"name":"acme","permissions":["candidate:read"],"identity_id":"`+i.ID+`"}`)
	verifier := ts.newKey(t, ts.Owner, `{"name":"v","permissions":["api_key:verify"]}`).Key
	plain := ts.newKey(t, ts.Owner, `{"name":"plain","permissions":["candidate:read"]}`).Key
	check := func(t *testing.T, ext, meta string) {
		t.Helper()
		want := `"identity":{"id":"` + i.ID + `","external_id":"` + ext + `","metadata":` + meta + `}`
		if r := ts.do(t, "GET", "/v1/auth/whoami", k.Key, ""); r.status != 200 || !strings.Contains(string(r.body), want) {
			t.Errorf("whoami: got %d %s, want %s", r.status, r.body, want)
		}
		if r := ts.do(t, "POST", "/v1/auth/verify", verifier, `{"key":"`+k.Key+`"}`); r.status != 200 || !strings.Contains(string(r.body), want) {
			t.Errorf("verify: got %d %s, want %s", r.status, r.body, want)
		}
		r := ts.doWith(t, "GET", "/v1/auth/forward?permission=candidate:read", "", map[string]string{"Authorization": bearer(k.Key)})
		if r.status != 200 || r.header.Get("X-Pihu-Identity-Id") != i.ID || r.header.Get("X-Pihu-External-Id") != ext {
			t.Errorf("forward-auth: got %d %v", r.status, r.header)
		}
	}
	check(t, "org_acme", `{"plan":"pro"}`)
	ts.patch(t, "/v1/identities/"+i.ID, ts.Owner, `{"external_id":"org_acme_2","metadata":null}`)
	check(t, "org_acme_2", `null`)

	if r := ts.do(t, "GET", "/v1/auth/whoami", plain, ""); !strings.Contains(string(r.body), `"identity":null`) {
		t.Errorf("whoami of a key of no identity: got %s", r.body)
	}
	r := ts.doWith(t, "GET", "/v1/auth/forward?permission=candidate:read", "", map[string]string{"Authorization": bearer(plain)})
	if r.status != 200 || r.header.Get("X-Pihu-Identity-Id") != "" {
		t.Errorf("forward-auth of a key of no identity: got %d %v", r.status, r.header)
	}
}

// TestIdentities_Delete: an identity with active keys is kept, with a 409
// saying how many, unless revoke_keys=true, which revokes them at once
// (audited) and only if the caller may revoke each.
func TestIdentities_Delete(t *testing.T) {
	ts := newTestServer(t)
	i := ts.newIdentity(t, ts.Owner, `{"external_id":"org_acme"}`)
	var keys []pihuhttp.KeyCreated
	for _, name := range []string{"a", "b"} {
		keys = append(keys, ts.newKey(t, ts.Owner, `{"name":"`+name+`","permissions":["candidate:read"],"identity_id":"`+i.ID+`"}`))
	}
	narrow := ts.newKey(t, ts.Owner, `{"name":"narrow","permissions":["identity:write"]}`).Key
	r := ts.do(t, "DELETE", "/v1/identities/"+i.ID, ts.Owner, "")
	if e := r.errorBody(t); r.status != 409 || e.Code != "identity_in_use" || e.KeyCount != 2 || !strings.Contains(e.Message, "revoke_keys=true") {
		t.Fatalf("got %d %s, want 409 identity_in_use with key_count 2", r.status, r.body)
	}
	r = ts.do(t, "DELETE", "/v1/identities/"+i.ID+"?revoke_keys=true", narrow, "")
	if r.status != 403 || r.errorBody(t).Code != "insufficient_permissions" {
		t.Fatalf("a caller that may not revoke the keys: got %d %s", r.status, r.body)
	}
	if r := ts.do(t, "GET", "/v1/candidates", keys[0].Key, ""); r.status != 200 {
		t.Fatalf("refused deletions revoked a key: got %d %s", r.status, r.body)
	}
	r = ts.do(t, "DELETE", "/v1/identities/"+i.ID+"?revoke_keys=true", ts.Owner, "")
	var d pihuhttp.IdentityDeleted
	r.decode(t, &d)
	if r.status != 200 || !d.Deleted || d.RevokedKeys != 2 || d.ID != i.ID {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	for _, k := range keys {
		if r := ts.do(t, "GET", "/v1/candidates", k.Key, ""); r.status != 401 || r.errorBody(t).Code != "revoked_api_key" {
			t.Errorf("key %s after its identity was deleted: got %d %s", k.Name, r.status, r.body)
		}
	}
	r = ts.do(t, "GET", "/v1/auth/audit-events?limit=100", ts.Owner, "")
	var events struct {
		Data []struct{ Action, Target string } `json:"data"`
	}
	r.decode(t, &events)
	seen := map[string]bool{}
	for _, ev := range events.Data {
		seen[ev.Action+" "+ev.Target] = true
	}
	for _, want := range []string{"api_key.revoked " + keys[0].ID, "api_key.revoked " + keys[1].ID, "identity.created " + i.ID, "identity.deleted " + i.ID} {
		if !seen[want] {
			t.Errorf("no audit event %s in %s", want, r.body)
		}
	}
	if r := ts.do(t, "GET", "/v1/identities/"+i.ID, ts.Owner, ""); r.status != 404 {
		t.Errorf("the deleted identity: got %d", r.status)
	}
}

// TestIdentities_AccessTokens: an access token minted from a key of an
// identity names the identity and spends its shared limit, as the key.
func TestIdentities_AccessTokens(t *testing.T) {
	ts := newTestServer(t)
	i := ts.newIdentity(t, ts.Owner, `{"external_id":"org_acme","rate_limit":"3/m"}`)
	k := ts.newKey(t, ts.Owner, `{"name":"acme","permissions":["candidate:read","token:write"],"identity_id":"`+i.ID+`"}`)
	tok := ts.mint(t, k.Key, `{"permissions":["candidate:read"]}`) // the first request of the 3
	r := ts.do(t, "GET", "/v1/auth/whoami", tok.AccessToken, "")
	if r.status != 200 || !strings.Contains(string(r.body), `"identity":{"id":"`+i.ID+`"`) {
		t.Fatalf("whoami with the token: got %d %s, want its key's identity", r.status, r.body)
	}
	if r := ts.do(t, "GET", "/v1/candidates", k.Key, ""); r.status != 200 {
		t.Fatalf("the third request: got %d %s", r.status, r.body)
	}
	if r := ts.do(t, "GET", "/v1/candidates", tok.AccessToken, ""); r.status != 429 {
		t.Errorf("the token's request after 3 of the identity's 3/m: got %d %s, want 429", r.status, r.body)
	}
}
