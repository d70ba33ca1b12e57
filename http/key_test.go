package http_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

const seedBody = `{
"name": "My API Key",
"expiration": "30d",
"permissions": ["interview:write", "candidate:read"]
}`

func TestKeys_Create(t *testing.T) {
	ts := newTestServer(t)
	reader := ts.newKey(t, ts.Owner, `{"name":"reader","permissions":["api_key:read","candidate:read"]}`).Key
	limited := ts.newKey(t, ts.Owner, `{"name":"limited","permissions":["api_key:write","candidate:read"],"expiration":"10d"}`).Key
	testKey := ts.newKey(t, ts.Owner, `{"name":"test","permissions":["*"],"environment":"test"}`).Key
	expiring := ts.newKey(t, ts.Owner, `{"name":"short","permissions":["*"],"expiration":"1h"}`).Key
	forged := pihu.NewSecret(pihu.Live) // right checksum, never stored

	ts.run(t, []scenario{
		{name: "Seed", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: seedBody, status: 200,
			check: func(t *testing.T, r response) {
				var k pihuhttp.KeyCreated
				r.decode(t, &k)
				if env, ok := pihu.ParseSecret(k.Key); !ok || env != pihu.Live {
					t.Errorf("key %q does not parse as a live key", k.Key)
				}
				created, _ := time.Parse(time.RFC3339, k.Created)
				if k.Expires == nil || *k.Expires != created.Add(30*24*time.Hour).Format(time.RFC3339) {
					t.Errorf("expires: got %v, want created + 30 days", k.Expires)
				}
				if got := strings.Join(k.Permissions, ","); got != "interview:write,candidate:read" {
					t.Errorf("permissions: got %s", got)
				}
			}},
		{name: "TestEnvironment", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, status: 200,
			body: `{"name":"t","permissions":["candidate:read"],"environment":"test"}`,
			check: func(t *testing.T, r response) {
				var k pihuhttp.KeyCreated
				r.decode(t, &k)
				if !strings.HasPrefix(k.Key, "ph_test_") || k.Environment != "test" || k.Expires != nil {
					t.Errorf("got %+v, want a test key that never expires", k)
				}
			}},
		{name: "ScopedCreatorWithinRights", method: "POST", path: "/v1/auth/api-keys", key: limited, status: 200,
			body: `{"name":"child","permissions":["candidate:read"],"expiration":"10d"}`},
		{name: "SchemeCaseInsensitive", method: "POST", path: "/v1/auth/api-keys", body: `{"name":"x","permissions":["candidate:read"]}`,
			headers: map[string]string{"Authorization": "bEaReR " + ts.Owner}, status: 200},

		{name: "ErrEmptyBody", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, headers: map[string]string{"Content-Type": "application/json"}, status: 400, code: "invalid_json"},
		{name: "ErrNotJSON", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":`, status: 400, code: "invalid_json"},
		{name: "ErrArray", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `[{"name":"x"}]`, status: 400, code: "invalid_json"},
		{name: "ErrTrailingData", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"x","permissions":["*"]} {}`, status: 400, code: "invalid_json"},
		{name: "ErrDuplicateField", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"x","name":"y","permissions":["*"]}`, status: 400, code: "invalid_json"},
		{name: "ErrNotUTF8", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: "{\"name\":\"\xff\",\"permissions\":[\"*\"]}", status: 400, code: "invalid_json"},
		{name: "ErrControlCharacter", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"a\nb","permissions":["*"]}`, status: 400, code: "parameter_invalid", param: "name"},
		{name: "ErrUnknownField", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"x","permissions":["*"],"scopes":["*"]}`, status: 400, code: "parameter_unknown", param: "scopes"},
		{name: "ErrNameRequired", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"permissions":["*"]}`, status: 400, code: "parameter_missing", param: "name"},
		{name: "ErrNameNull", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":null,"permissions":["*"]}`, status: 400, code: "parameter_missing", param: "name"},
		{name: "ErrNameEmpty", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"","permissions":["*"]}`, status: 400, code: "parameter_invalid", param: "name"},
		{name: "ErrNameBidiOverride", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"prod \u202eyek-tset","permissions":["*"]}`, status: 400, code: "parameter_invalid", param: "name"},
		{name: "ErrNameBidiIsolateRaw", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: "{\"name\":\"a \u2066b\u2069\",\"permissions\":[\"*\"]}", status: 400, code: "parameter_invalid", param: "name"},
		{name: "ErrNameZeroWidthOnly", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"\u200b\u200d\ufeff","permissions":["*"]}`, status: 400, code: "parameter_invalid", param: "name"},
		{name: "ErrNameTooLong", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"` + strings.Repeat("é", 101) + `","permissions":["*"]}`, status: 400, code: "parameter_invalid", param: "name"},
		{name: "ErrNameNotString", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":5,"permissions":["*"]}`, status: 400, code: "parameter_invalid", param: "name"},
		{name: "ErrPermissionsRequired", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"x"}`, status: 400, code: "parameter_missing", param: "permissions"},
		{name: "ErrPermissionsEmpty", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"x","permissions":[]}`, status: 400, code: "parameter_invalid", param: "permissions"},
		{name: "ErrPermissionsNotArray", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"x","permissions":"*"}`, status: 400, code: "parameter_invalid", param: "permissions"},
		{name: "ErrPermissionUnknown", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"x","permissions":["candidate:delete"]}`, status: 400, code: "parameter_invalid", param: "permissions"},
		{name: "ErrKeyAsPermissionIsMasked", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"x","permissions":["` + ts.Owner + `"]}`, status: 400, code: "parameter_invalid", param: "permissions",
			check: func(t *testing.T, r response) {
				if strings.Contains(string(r.body), ts.Owner[8:]) {
					t.Errorf("the error body quotes a key: %s", r.body)
				}
			}},
		{name: "ErrExpirationInvalid", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"x","permissions":["*"],"expiration":"1y"}`, status: 400, code: "parameter_invalid", param: "expiration"},
		{name: "ErrExpirationEmpty", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"x","permissions":["*"],"expiration":""}`, status: 400, code: "parameter_invalid", param: "expiration"},
		{name: "ErrExpirationTooLong", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"x","permissions":["*"],"expiration":"3651d"}`, status: 400, code: "parameter_invalid", param: "expiration"},
		{name: "ErrEnvironmentInvalid", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"x","permissions":["*"],"environment":"prod"}`, status: 400, code: "parameter_invalid", param: "environment"},
		{name: "ErrOutlivesCreator", method: "POST", path: "/v1/auth/api-keys", key: limited, body: `{"name":"x","permissions":["candidate:read"]}`, status: 400, code: "parameter_invalid", param: "expiration",
			check: func(t *testing.T, r response) {
				if msg := r.errorBody(t).Message; !strings.Contains(msg, "2024-03-01T12:00:00Z") {
					t.Errorf("message %q does not say when the creating key expires", msg)
				}
			}},

		{name: "ErrNoKey", method: "POST", path: "/v1/auth/api-keys", body: seedBody, status: 401, code: "missing_api_key",
			check: func(t *testing.T, r response) {
				if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="pihu"` {
					t.Errorf("WWW-Authenticate: got %q", got)
				}
			}},
		{name: "ErrMalformedKey", method: "POST", path: "/v1/auth/api-keys", key: "ph_live_abc123", body: seedBody, status: 401, code: "invalid_api_key",
			check: func(t *testing.T, r response) {
				if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="pihu", error="invalid_token", error_description="`) {
					t.Errorf("WWW-Authenticate: got %q", got)
				}
			}},
		{name: "ErrWrongScheme", method: "POST", path: "/v1/auth/api-keys", body: seedBody, headers: map[string]string{"Authorization": "Basic " + ts.Owner}, status: 401, code: "missing_api_key"},
		{name: "ErrUnknownKey", method: "POST", path: "/v1/auth/api-keys", key: forged, body: seedBody, status: 401, code: "invalid_api_key"},
		{name: "ErrNoPermission", method: "POST", path: "/v1/auth/api-keys", key: reader, body: seedBody, status: 403, code: "insufficient_permissions",
			check: func(t *testing.T, r response) {
				want := `Bearer realm="pihu", error="insufficient_scope", error_description="This API key does not have the 'api_key:write' permission that this request needs.", scope="api_key:write"`
				if got := r.header.Get("WWW-Authenticate"); got != want {
					t.Errorf("WWW-Authenticate: got %q, want %q", got, want)
				}
				if got := r.errorBody(t).Required; got != "api_key:write" {
					t.Errorf("required: got %q", got)
				}
			}},
		{name: "ErrEscalation", method: "POST", path: "/v1/auth/api-keys", key: limited, body: `{"name":"x","permissions":["candidate:write"],"expiration":"1d"}`, status: 403, code: "insufficient_permissions", param: "permissions"},
		{name: "ErrTestKeyCreatesLive", method: "POST", path: "/v1/auth/api-keys", key: testKey, body: `{"name":"x","permissions":["candidate:read"],"environment":"live"}`, status: 403, code: "insufficient_permissions", param: "environment"},
		{name: "ErrTooLarge", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"` + strings.Repeat("a", 70<<10) + `"}`, status: 413, code: "body_too_large"},
		{name: "ErrNotJSONType", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: seedBody, headers: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type",
			check: func(t *testing.T, r response) {
				if got := r.header.Get("Accept-Post"); got != "application/json" {
					t.Errorf("Accept-Post: got %q, want application/json", got)
				}
				if msg := r.errorBody(t).Message; !strings.Contains(msg, "accepts only application/json") {
					t.Errorf("message %q does not say what is accepted", msg)
				}
			}},
		{name: "ErrFormType", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: "name=x", headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 415, code: "unsupported_media_type"},
	})

	t.Run("ErrExpiredKey", func(t *testing.T) {
		if r := ts.do(t, "GET", "/v1/auth/whoami", expiring, ""); r.status != 200 { // warms the cache
			t.Fatalf("got %d before expiry", r.status)
		}
		ts.Clock.Add(time.Hour)
		defer ts.Clock.Add(-time.Hour)
		r := ts.do(t, "GET", "/v1/auth/whoami", expiring, "")
		if r.status != 401 || r.errorBody(t).Code != "expired_api_key" {
			t.Fatalf("got %d %s, want 401 expired_api_key", r.status, r.body)
		}
	})

	t.Run("BadInputChangesNothing", func(t *testing.T) {
		before := ts.listAll(t, ts.Owner)
		ts.do(t, "POST", "/v1/auth/api-keys", ts.Owner, `{"name":"x","permissions":["nope"]}`)
		ts.do(t, "POST", "/v1/auth/api-keys", limited, `{"name":"x","permissions":["*"],"expiration":"1d"}`)
		if after := ts.listAll(t, ts.Owner); len(after) != len(before) {
			t.Errorf("got %d keys after rejected requests, want %d", len(after), len(before))
		}
	})
}

// listAll pages through every key the secret can see.
func (ts *testServer) listAll(tb testing.TB, secret string) []pihuhttp.KeyItem {
	tb.Helper()
	return pageAll(tb, ts, secret, "/v1/auth/api-keys", func(k pihuhttp.KeyItem) string { return k.ID })
}

// pageAll pages through every item of the list at path that the secret
// can see, newest first, 100 at a time.
func pageAll[T any](tb testing.TB, ts *testServer, secret, path string, id func(T) string) []T {
	tb.Helper()
	var all []T
	next := path + "?limit=100"
	for {
		r := ts.do(tb, "GET", next, secret, "")
		if r.status != 200 {
			tb.Fatalf("listing %s: got %d %s", path, r.status, r.body)
		}
		var page struct {
			Data    []T  `json:"data"`
			HasMore bool `json:"has_more"`
		}
		r.decode(tb, &page)
		all = append(all, page.Data...)
		if !page.HasMore {
			return all
		}
		next = path + "?limit=100&starting_after=" + id(page.Data[len(page.Data)-1])
	}
}

func TestKeys_List(t *testing.T) {
	ts := newTestServer(t)
	var ids []string // oldest first
	for i := range 12 {
		ids = append(ids, ts.newKey(t, ts.Owner, fmt.Sprintf(`{"name":"k%d","permissions":["candidate:read"]}`, i)).ID)
	}
	writer := ts.newKey(t, ts.Owner, `{"name":"writer","permissions":["candidate:write"]}`).Key
	testKey := ts.newKey(t, ts.Owner, `{"name":"test","permissions":["api_key:read"],"environment":"test"}`)
	other, _ := ts.newAccount(t, "Other")
	_ = other

	ts.run(t, []scenario{
		{name: "FirstPage", method: "GET", path: "/v1/auth/api-keys", key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				var page pihuhttp.KeyList
				r.decode(t, &page)
				if len(page.Data) != 10 || !page.HasMore {
					t.Fatalf("got %d items, has_more %v; want 10, true", len(page.Data), page.HasMore)
				}
				// Newest first: the test key, the writer, then k11, k10, …
				if page.Data[0].ID != testKey.ID || page.Data[2].ID != ids[11] {
					t.Errorf("order: got %s, %s; want newest first", page.Data[0].Name, page.Data[2].Name)
				}
				if page.Data[2].Hint == nil || page.Data[2].LastUsed != nil || page.Data[2].Environment != "live" {
					t.Errorf("item: got %+v", page.Data[2])
				}
				if strings.Contains(string(r.body), `"key"`) {
					t.Errorf("the list shows a secret: %s", r.body)
				}
			}},
		{name: "StartingAfter", method: "GET", path: "/v1/auth/api-keys?limit=2&starting_after=" + ids[5], key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				var page pihuhttp.KeyList
				r.decode(t, &page)
				if len(page.Data) != 2 || page.Data[0].ID != ids[4] || page.Data[1].ID != ids[3] || !page.HasMore {
					t.Errorf("got %+v", page)
				}
			}},
		{name: "LastPage", method: "GET", path: "/v1/auth/api-keys?limit=5&starting_after=" + ids[4], key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				var page pihuhttp.KeyList
				r.decode(t, &page)
				// ids[3..0] and the owner key.
				if len(page.Data) != 5 || page.HasMore || page.Data[4].Name != "Owner key" {
					t.Errorf("got %d items, has_more %v", len(page.Data), page.HasMore)
				}
			}},
		{name: "TestKeySeesTestKeysOnly", method: "GET", path: "/v1/auth/api-keys", key: testKey.Key, status: 200,
			check: func(t *testing.T, r response) {
				var page pihuhttp.KeyList
				r.decode(t, &page)
				if len(page.Data) != 1 || page.Data[0].ID != testKey.ID {
					t.Errorf("got %+v, want only the test key", page.Data)
				}
			}},
		{name: "ErrLimitZero", method: "GET", path: "/v1/auth/api-keys?limit=0", key: ts.Owner, status: 400, code: "parameter_invalid", param: "limit"},
		{name: "ErrLimitTooLarge", method: "GET", path: "/v1/auth/api-keys?limit=101", key: ts.Owner, status: 400, code: "parameter_invalid", param: "limit"},
		{name: "ErrLimitNotNumber", method: "GET", path: "/v1/auth/api-keys?limit=ten", key: ts.Owner, status: 400, code: "parameter_invalid", param: "limit"},
		{name: "ErrStartingAfterUnknown", method: "GET", path: "/v1/auth/api-keys?starting_after=key_doesnotexist", key: ts.Owner, status: 400, code: "parameter_invalid", param: "starting_after"},
		{name: "ErrUnknownParameter", method: "GET", path: "/v1/auth/api-keys?page=2", key: ts.Owner, status: 400, code: "parameter_unknown", param: "page"},
		{name: "ErrNoKey", method: "GET", path: "/v1/auth/api-keys", status: 401, code: "missing_api_key"},
		{name: "ErrNoPermission", method: "GET", path: "/v1/auth/api-keys", key: writer, status: 403, code: "insufficient_permissions"},
	})
}

func TestKeys_Get(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, seedBody)
	liveOnly := ts.newKey(t, ts.Owner, `{"name":"live","permissions":["candidate:read"]}`)
	testKey := ts.newKey(t, ts.Owner, `{"name":"test","permissions":["api_key:read"],"environment":"test"}`)
	_, otherOwner := ts.newAccount(t, "Other")

	ts.run(t, []scenario{
		{name: "OK", method: "GET", path: "/v1/auth/api-keys/" + k.ID, key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				var item pihuhttp.KeyItem
				r.decode(t, &item)
				if item.ID != k.ID || item.Name != k.Name || item.Created != k.Created || *item.Expires != *k.Expires ||
					item.Hint == nil || *item.Hint != "ph_live_…"+k.Key[len(k.Key)-4:] {
					t.Errorf("got %+v, want the key created as %+v", item, k)
				}
			}},
		{name: "ErrUnknown", method: "GET", path: "/v1/auth/api-keys/key_nope", key: ts.Owner, status: 404, code: "not_found"},
		{name: "ErrOtherAccount", method: "GET", path: "/v1/auth/api-keys/" + k.ID, key: otherOwner, status: 404, code: "not_found"},
		{name: "ErrTestKeyLooksAtLiveKey", method: "GET", path: "/v1/auth/api-keys/" + liveOnly.ID, key: testKey.Key, status: 404, code: "not_found"},
		{name: "ErrNoKey", method: "GET", path: "/v1/auth/api-keys/" + k.ID, status: 401, code: "missing_api_key"},
		{name: "ErrNoPermission", method: "GET", path: "/v1/auth/api-keys/" + k.ID, key: liveOnly.Key, status: 403, code: "insufficient_permissions"},
	})
}

func TestWhoami(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, seedBody)
	ts.run(t, []scenario{
		{name: "OK", method: "GET", path: "/v1/auth/whoami", key: k.Key, status: 200,
			check: func(t *testing.T, r response) {
				var got struct {
					Key struct {
						ID, Name, Environment string
						Permissions           []string
						Expires               *string
					}
					Account struct{ ID, Name string }
				}
				r.decode(t, &got)
				if got.Key.ID != k.ID || got.Key.Name != "My API Key" || got.Key.Environment != "live" ||
					*got.Key.Expires != *k.Expires || len(got.Key.Permissions) != 2 ||
					got.Account.ID != ts.Account.ID || got.Account.Name != "Default" {
					t.Errorf("got %+v", got)
				}
			}},
		{name: "ErrNoKey", method: "GET", path: "/v1/auth/whoami", status: 401, code: "missing_api_key"},
		{name: "ErrBearerWithoutKey", method: "GET", path: "/v1/auth/whoami", headers: map[string]string{"Authorization": "Bearer "}, status: 401, code: "missing_api_key"},
		{name: "ErrKeyWithTrailer", method: "GET", path: "/v1/auth/whoami", headers: map[string]string{"Authorization": "Bearer " + k.Key + " x"}, status: 400, code: "parameter_invalid", param: "Authorization"},
	})
}

func TestRouting(t *testing.T) {
	ts := newTestServer(t)
	ts.run(t, []scenario{
		{name: "UnknownPath", method: "GET", path: "/v1/nothing", key: ts.Owner, status: 404, code: "not_found"},
		{name: "UnknownPathNoKey", method: "GET", path: "/v1/auth/api-keyz", status: 404, code: "not_found"},
		{name: "Root", method: "GET", path: "/nothing-here", status: 404, code: "not_found"},
		{name: "WrongMethod", method: "PUT", path: "/v1/auth/api-keys", key: ts.Owner, status: 405, code: "method_not_allowed",
			check: func(t *testing.T, r response) {
				if got := r.header.Get("Allow"); !strings.Contains(got, "GET") || !strings.Contains(got, "POST") {
					t.Errorf("Allow: got %q", got)
				}
			}},
		{name: "WrongMethodOnItem", method: "PUT", path: "/v1/auth/api-keys/key_x", key: ts.Owner, status: 405, code: "method_not_allowed"},
		{name: "Healthz", method: "GET", path: "/healthz", status: 200},
		{name: "Readyz", method: "GET", path: "/readyz", status: 200},
	})
	t.Run("DatabaseDown", func(t *testing.T) {
		ts.do(t, "GET", "/v1/auth/whoami", ts.Owner, "") // the key is now cached
		ts.Store.Close()
		if r := ts.do(t, "GET", "/readyz", "", ""); r.status != http.StatusServiceUnavailable {
			t.Errorf("readyz: got %d, want 503", r.status)
		}
		r := ts.do(t, "GET", "/v1/auth/api-keys", ts.Owner, "")
		if e := r.errorBody(t); r.status != 500 || e.Code != "internal" || e.Type != "api_error" || strings.Contains(e.Message, "sql") {
			t.Errorf("got %d %s, want 500 internal without internals", r.status, r.body)
		}
		if !strings.Contains(ts.logs.String(), "internal error") {
			t.Error("the fault is not logged")
		}
	})
}

func TestLastUsed(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"used","permissions":["api_key:read"]}`)
	item := func() pihuhttp.KeyItem {
		var item pihuhttp.KeyItem
		ts.do(t, "GET", "/v1/auth/api-keys/"+k.ID, ts.Owner, "").decode(t, &item)
		return item
	}
	if got := item().LastUsed; got != nil {
		t.Fatalf("last_used before any use: got %v, want null", *got)
	}
	ts.Clock.Add(time.Minute)
	ts.do(t, "GET", "/v1/auth/whoami", k.Key, "")
	if err := ts.Auth.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := "2024-02-20T12:01:00Z"
	if got := item().LastUsed; got == nil || *got != want {
		t.Errorf("last_used: got %v, want %s", got, want)
	}
}

func TestLogsHoldNoKey(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, seedBody)
	ts.do(t, "GET", "/v1/auth/api-keys/"+k.Key, ts.Owner, "") // a key pasted into a path
	ts.do(t, "GET", "/v1/auth/whoami", k.Key+"x", "")
	ts.do(t, "GET", "/v1/auth/whoami", k.Key, "")
	logs := ts.logs.String()
	for _, secret := range []string{ts.Owner, k.Key} {
		if strings.Contains(logs, secret) || strings.Contains(logs, secret[8:]) {
			t.Fatalf("the log holds a key:\n%s", logs)
		}
	}
	if !strings.Contains(logs, "key_id="+k.ID) {
		t.Errorf("the log does not name the key id of authenticated requests:\n%s", logs)
	}
}
