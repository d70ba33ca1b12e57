package http_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

// setEnabled disables or enables key id with PATCH, as secret, and checks
// the answer shows it so.
func (ts *testServer) setEnabled(tb testing.TB, secret, id string, enabled bool) pihuhttp.KeyItem {
	tb.Helper()
	res := ts.do(tb, "PATCH", "/v1/auth/api-keys/"+id, secret, fmt.Sprintf(`{"enabled":%t}`, enabled))
	if res.status != 200 {
		tb.Fatalf("PATCH enabled %t: got %d %s", enabled, res.status, res.body)
	}
	var k pihuhttp.KeyItem
	res.decode(tb, &k)
	if k.Enabled != enabled {
		tb.Fatalf("PATCH enabled %t: the answer shows enabled %t", enabled, k.Enabled)
	}
	return k
}

// usageOfKey returns the requests of key id counted so far, after a
// flush: allowed, and refused as disabled_api_key (every refusal must have
// that reason: one counted under another fails the test).
func (ts *testServer) usageOfKey(tb testing.TB, id string) (allowed, refused int64) {
	tb.Helper()
	if err := ts.Auth.Flush(context.Background()); err != nil {
		tb.Fatal(err)
	}
	usage, err := ts.Store.Usage(context.Background(), ts.Account.ID, id, ts.Clock.Now().Add(-time.Hour), ts.Clock.Now().Add(time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	for _, u := range usage {
		if u.By[pihu.RefusalDisabled] != u.Refused {
			tb.Errorf("usage of %s: %d refused, %d of them as disabled_api_key (%v)", id, u.Refused, u.By[pihu.RefusalDisabled], u.By)
		}
		allowed, refused = allowed+u.Allowed, refused+u.By[pihu.RefusalDisabled]
	}
	return allowed, refused
}

// TestAdmission_DisabledEveryDoor disables a key and checks that every
// door refuses it, and an access token minted from it before, with
// disabled_api_key, each refusal counted in the key's usage (refused) and
// in the auth outcome metric; then enables it again and checks that every
// door admits both once more, at once (the cache is dropped by the PATCH).
func TestAdmission_DisabledEveryDoor(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"Paused","permissions":["candidate:read","token:write"]}`)
	token := ts.mint(t, k.Key, `{}`).AccessToken
	creds := []struct{ name, secret string }{{"Key", k.Key}, {"Token", token}}
	// Warm: every door admits both, so both are in the cache when the
	// key is disabled.
	for _, d := range doors {
		for _, c := range creds {
			if d.name == "OAuthToken" && c.name == "Token" {
				continue // its client_secret is a key's secret, never a token
			}
			if got := d.do(t, ts, k.ID, c.secret); got != "" {
				t.Fatalf("%s with the %s before disabling: got %q, want admitted", d.name, c.name, got)
			}
		}
	}

	for _, enabled := range []bool{false, true} {
		ts.setEnabled(t, ts.Owner, k.ID, enabled)
		want := "disabled_api_key"
		if enabled {
			want = ""
		}
		for _, d := range doors {
			for _, c := range creds {
				if d.name == "OAuthToken" && c.name == "Token" {
					continue
				}
				name := fmt.Sprintf("%s/%s/enabled=%t", d.name, c.name, enabled)
				before := outcomes(t, ts)
				allowed0, refused0 := ts.usageOfKey(t, k.ID)
				if got := d.do(t, ts, k.ID, c.secret); got != want {
					t.Errorf("%s: got %q, want %q", name, got, orAdmitted(want))
				}
				allowed, refused := ts.usageOfKey(t, k.ID)
				wantAllowed, wantRefused := allowed0, refused0+1
				if enabled {
					wantAllowed, wantRefused = allowed0+1, refused0
				}
				if allowed != wantAllowed || refused != wantRefused {
					t.Errorf("%s: usage allowed %d refused %d, want %d and %d", name, allowed, refused, wantAllowed, wantRefused)
				}
				rise := map[string]int{orValid(want): 1}
				if d.name == "Verify" {
					rise["valid"]++ // the verifier's own request
				}
				after := outcomes(t, ts)
				for outcome, n := range rise {
					if got := after[outcome] - before[outcome]; got != n {
						t.Errorf("%s: pihu_auth_outcomes_total{outcome=%q} rose by %d, want %d", name, outcome, got, n)
					}
				}
			}
		}
		// Minting a token with the key, and using the API with it.
		res := ts.do(t, "POST", "/v1/auth/tokens", k.Key, `{}`)
		if enabled && res.status != 200 || !enabled && (res.status != 401 || res.errorBody(t).Code != "disabled_api_key") {
			t.Errorf("minting a token with enabled=%t: got %d %s", enabled, res.status, res.body)
		}
	}
}

// TestKeys_DisabledRefusal checks what a disabled key, and a token minted
// from it, are told: 401 disabled_api_key with the RFC 6750 challenge, and
// a message that says how to enable the key again.
func TestKeys_DisabledRefusal(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"Paused","permissions":["candidate:read","token:write"]}`)
	token := ts.mint(t, k.Key, `{}`).AccessToken
	ts.setEnabled(t, ts.Owner, k.ID, false)
	for _, tt := range []struct{ name, secret, says string }{
		{"Key", k.Key, "This API key is disabled."},
		{"Token", token, "The API key this access token was minted with is disabled"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := ts.do(t, "GET", "/v1/candidates", tt.secret, "")
			e := res.errorBody(t)
			if res.status != 401 || e.Code != "disabled_api_key" || e.Type != "authentication_error" {
				t.Fatalf("got %d %s", res.status, res.body)
			}
			if !strings.Contains(e.Message, tt.says) || !strings.Contains(e.Message, "PATCH /v1/auth/api-keys/"+k.ID) || !strings.Contains(e.Message, `{"enabled": true}`) {
				t.Errorf("message: got %q, want it to say how to enable %s again", e.Message, k.ID)
			}
			if ch := res.header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate: got %q, want error=\"invalid_token\"", ch)
			}
		})
	}
}

// TestKeys_Disable checks the rules of PATCH enabled: the body, who may
// disable or enable which key, that a key may disable itself but not
// enable itself, and what disabling leaves alone (the keys it created, its
// revocation, rotation, a leak report).
func TestKeys_Disable(t *testing.T) {
	ts := newTestServer(t)
	path := "/v1/auth/api-keys/"
	target := ts.newKey(t, ts.Owner, `{"name":"Target","permissions":["candidate:read"]}`)
	narrow := ts.newKey(t, ts.Owner, `{"name":"Narrow","permissions":["api_key:write"]}`)
	self := ts.newKey(t, ts.Owner, `{"name":"Self","permissions":["api_key:*","candidate:read","token:write"]}`)
	testKey := ts.newKey(t, ts.Owner, `{"name":"Test","permissions":["*"],"environment":"test"}`)
	selfToken := ts.mint(t, self.Key, `{}`).AccessToken
	ts.run(t, []scenario{
		{name: "ErrNull", method: "PATCH", path: path + target.ID, key: ts.Owner, body: `{"enabled":null}`, status: 400, code: "parameter_invalid", param: "enabled"},
		{name: "ErrString", method: "PATCH", path: path + target.ID, key: ts.Owner, body: `{"enabled":"false"}`, status: 400, code: "parameter_invalid", param: "enabled"},
		{name: "ErrNotItsRights", method: "PATCH", path: path + target.ID, key: narrow.Key, body: `{"enabled":false}`, status: 403, code: "insufficient_permissions"},
		{name: "ErrTestKeyOnLiveKey", method: "PATCH", path: path + target.ID, key: testKey.Key, body: `{"enabled":false}`, status: 404, code: "not_found"},
		{name: "ErrTokenOnItsKey", method: "PATCH", path: path + self.ID, key: selfToken, body: `{"enabled":false}`, status: 403, code: "insufficient_permissions"},
	})
	ts.works(t, target.Key, 200, "")

	t.Run("DisableItself", func(t *testing.T) {
		child := ts.newKey(t, self.Key, `{"name":"Child","permissions":["candidate:read"]}`)
		ts.setEnabled(t, self.Key, self.ID, false)
		ts.works(t, self.Key, 401, "disabled_api_key")
		ts.works(t, selfToken, 401, "disabled_api_key")
		// It cannot enable itself: it is refused before anything.
		res := ts.do(t, "PATCH", path+self.ID, self.Key, `{"enabled":true}`)
		if res.status != 401 || res.errorBody(t).Code != "disabled_api_key" {
			t.Fatalf("enabling itself: got %d %s", res.status, res.body)
		}
		// Nor revoke itself with its own secret (a report of leaked keys
		// does that, see LeakedWhileDisabled).
		res = ts.do(t, "DELETE", path+self.ID, self.Key, "")
		if res.status != 401 || res.errorBody(t).Code != "disabled_api_key" {
			t.Fatalf("revoking itself: got %d %s", res.status, res.body)
		}
		// No cascade: the key it created works.
		ts.works(t, child.Key, 200, "")
		ts.setEnabled(t, ts.Owner, self.ID, true)
		ts.works(t, self.Key, 200, "")
		ts.works(t, selfToken, 200, "")
	})
	t.Run("AlreadyAsAsked", func(t *testing.T) {
		// Enabling an enabled key changes nothing, and is a 200.
		ts.setEnabled(t, ts.Owner, target.ID, true)
		ts.works(t, target.Key, 200, "")
	})
	t.Run("RotatedStaysDisabled", func(t *testing.T) {
		k := ts.newKey(t, ts.Owner, `{"name":"Rotated","permissions":["candidate:read"]}`)
		ts.setEnabled(t, ts.Owner, k.ID, false)
		res := ts.do(t, "POST", path+k.ID+"/rotate", ts.Owner, `{}`)
		if res.status != 200 {
			t.Fatalf("rotate: %d %s", res.status, res.body)
		}
		var next pihuhttp.KeyCreated
		res.decode(t, &next)
		if next.Enabled {
			t.Errorf("the successor of a disabled key: got enabled, want disabled")
		}
		ts.works(t, next.Key, 401, "disabled_api_key")
		ts.setEnabled(t, ts.Owner, next.ID, true)
		ts.works(t, next.Key, 200, "")
	})
	t.Run("RevokedWhileDisabled", func(t *testing.T) {
		k := ts.newKey(t, ts.Owner, `{"name":"Revoked","permissions":["candidate:read"]}`)
		ts.setEnabled(t, ts.Owner, k.ID, false)
		if res := ts.do(t, "DELETE", path+k.ID, ts.Owner, ""); res.status != 200 {
			t.Fatalf("revoke: %d %s", res.status, res.body)
		}
		ts.works(t, k.Key, 401, "revoked_api_key")
		// A revoked key is not enabled again: it is gone.
		if res := ts.do(t, "PATCH", path+k.ID, ts.Owner, `{"enabled":true}`); res.status != 404 {
			t.Fatalf("enabling a revoked key: got %d %s, want 404", res.status, res.body)
		}
	})
	t.Run("LeakedWhileDisabled", func(t *testing.T) {
		// A disabled key reported leaked is revoked: it could be enabled
		// again otherwise.
		k := ts.newKey(t, ts.Owner, `{"name":"Leaked","permissions":["candidate:read"]}`)
		ts.setEnabled(t, ts.Owner, k.ID, false)
		res := ts.do(t, "POST", "/v1/auth/leaked-keys", "", `{"keys":["`+k.Key+`"]}`)
		if res.status != 200 || !strings.Contains(string(res.body), `"revoked":1`) {
			t.Fatalf("leaked-keys: %d %s", res.status, res.body)
		}
		ts.works(t, k.Key, 401, "revoked_api_key")
	})
}

// TestKeys_DisableEvents checks the audit events of PATCH enabled: one
// api_key.disabled or api_key.enabled when the key's state changes, beside
// an api_key.updated of the other fields given, and none when it does not.
func TestKeys_DisableEvents(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.ownerID(t)
	k := ts.newKey(t, ts.Owner, `{"name":"Audited","permissions":["candidate:read"]}`)
	path := "/v1/auth/api-keys/" + k.ID
	steps := []struct{ body, want string }{
		{`{"enabled":false}`, "api_key.disabled"},
		{`{"enabled":false}`, ""}, // already disabled: nothing happened
		{`{"enabled":true,"name":"Renamed"}`, "api_key.updated name, api_key.enabled"},
		{`{"name":"Again","enabled":true}`, "api_key.updated name"},
	}
	for _, s := range steps {
		before := len(ts.events(t, ts.Owner))
		if res := ts.do(t, "PATCH", path, ts.Owner, s.body); res.status != 200 {
			t.Fatalf("PATCH %s: %d %s", s.body, res.status, res.body)
		}
		events := ts.events(t, ts.Owner)
		var got []string
		for _, ev := range slices.Backward(events[:len(events)-before]) {
			if ev.Target != k.ID || ev.Actor != owner {
				t.Errorf("PATCH %s: event %+v, want the key's, by the owner", s.body, ev)
			}
			if len(ev.Changes) > 0 {
				got = append(got, ev.Action+" "+strings.Join(ev.Changes, ","))
			} else {
				got = append(got, ev.Action)
			}
		}
		if strings.Join(got, ", ") != s.want {
			t.Errorf("PATCH %s: events %q, want %q", s.body, strings.Join(got, ", "), s.want)
		}
	}
}

// TestKeys_ListEnabledFilter checks GET /v1/auth/api-keys?enabled=…: the
// enabled or the disabled keys only, any key of the list a valid cursor,
// and a value other than true or false a 400.
func TestKeys_ListEnabledFilter(t *testing.T) {
	ts := newTestServer(t)
	a := ts.newKey(t, ts.Owner, `{"name":"A","permissions":["candidate:read"]}`)
	b := ts.newKey(t, ts.Owner, `{"name":"B","permissions":["candidate:read"]}`)
	c := ts.newKey(t, ts.Owner, `{"name":"C","permissions":["candidate:read"]}`)
	ts.setEnabled(t, ts.Owner, a.ID, false)
	ts.setEnabled(t, ts.Owner, c.ID, false)
	list := func(query string) []string {
		res := ts.do(t, "GET", "/v1/auth/api-keys?limit=100&"+query, ts.Owner, "")
		if res.status != 200 {
			t.Fatalf("list %s: %d %s", query, res.status, res.body)
		}
		var l pihuhttp.KeyList
		res.decode(t, &l)
		var names []string
		for _, k := range l.Data {
			if k.Enabled == strings.HasPrefix(query, "enabled=false") {
				t.Errorf("list %s: %s is enabled %t", query, k.Name, k.Enabled)
			}
			names = append(names, k.Name)
		}
		return names
	}
	if got := list("enabled=false"); !slices.Equal(got, []string{"C", "A"}) {
		t.Errorf("enabled=false: got %v, want [C A]", got)
	}
	if got := list("enabled=true"); !slices.Equal(got, []string{"B", pihu.OwnerKeyRequest().Name}) {
		t.Errorf("enabled=true: got %v, want B and the owner key", got)
	}
	// A cursor of the other state is a key of the list all the same.
	if got := list("enabled=false&starting_after=" + b.ID); !slices.Equal(got, []string{"A"}) {
		t.Errorf("enabled=false after B: got %v, want [A]", got)
	}
	ts.run(t, []scenario{
		{name: "ErrValue", method: "GET", path: "/v1/auth/api-keys?enabled=no", key: ts.Owner, status: 400, code: "parameter_invalid", param: "enabled"},
		{name: "ErrTwice", method: "GET", path: "/v1/auth/api-keys?enabled=true&enabled=false", key: ts.Owner, status: 400, code: "parameter_invalid", param: "enabled"},
		{name: "GetShowsIt", method: "GET", path: "/v1/auth/api-keys/" + a.ID, key: ts.Owner, status: 200, check: func(t *testing.T, r response) {
			if !strings.Contains(string(r.body), `"enabled":false`) {
				t.Errorf("got %s, want enabled false", r.body)
			}
		}},
	})
}
