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

// works sends one authenticated request with secret and checks its status
// and, for a failure, its error code.
func (ts *testServer) works(tb testing.TB, secret string, status int, code string) {
	tb.Helper()
	r := ts.do(tb, "GET", "/v1/auth/whoami", secret, "")
	if r.status != status {
		tb.Fatalf("whoami: got %d %s, want %d %s", r.status, r.body, status, code)
	}
	if status >= 400 {
		if got := r.errorBody(tb).Code; got != code {
			tb.Fatalf("whoami: got code %q, want %q", got, code)
		}
	}
}

// ids returns the ids of items.
func itemIDs(items []pihuhttp.KeyItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func TestKeys_Revoke(t *testing.T) {
	ts := newTestServer(t)
	victim := ts.newKey(t, ts.Owner, `{"name":"victim","permissions":["candidate:read"],"expiration":"30d","allowed_ips":["127.0.0.0/8"]}`)
	self := ts.newKey(t, ts.Owner, `{"name":"self","permissions":["api_key:write"]}`)
	reader := ts.newKey(t, ts.Owner, `{"name":"reader","permissions":["api_key:read"]}`).Key
	expiring := ts.newKey(t, ts.Owner, `{"name":"expiring","permissions":["candidate:read"],"expiration":"1h"}`)
	liveOnly := ts.newKey(t, ts.Owner, `{"name":"live","permissions":["candidate:read"]}`)
	testKey := ts.newKey(t, ts.Owner, `{"name":"test","permissions":["*"],"environment":"test"}`)
	testVictim := ts.newKey(t, ts.Owner, `{"name":"test victim","permissions":["candidate:read"],"environment":"test"}`)
	_, otherOwner := ts.newAccount(t, "Other")
	path := "/v1/auth/api-keys/"

	ts.run(t, []scenario{
		{name: "WarmVictim", method: "GET", path: "/v1/auth/whoami", key: victim.Key, status: 200},
		{name: "OK", method: "DELETE", path: path + victim.ID, key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				var got struct {
					pihuhttp.KeyItem
					Revoked *bool `json:"revoked"`
				}
				r.decode(t, &got)
				if got.Revoked == nil || !*got.Revoked {
					t.Errorf("revoked: got %v, want true", got.Revoked)
				}
				if got.ID != victim.ID || got.Name != "victim" || got.Created != victim.Created || *got.Expires != *victim.Expires ||
					got.Hint == nil || *got.Hint != "ph_live_…"+victim.Key[len(victim.Key)-4:] || !slices.Equal(got.AllowedIPs, []string{"127.0.0.0/8"}) {
					t.Errorf("got %+v, want the item of %+v", got.KeyItem, victim)
				}
				if strings.Contains(string(r.body), victim.Key[8:]) {
					t.Errorf("the response holds the secret: %s", r.body)
				}
			}},
		// The very next request with the revoked key, whose verification
		// was cached, is refused.
		{name: "RevokedAtOnce", method: "GET", path: "/v1/auth/whoami", key: victim.Key, status: 401, code: "revoked_api_key",
			check: func(t *testing.T, r response) {
				if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="pihu", error="invalid_token", error_description="`) {
					t.Errorf("WWW-Authenticate: got %q", got)
				}
			}},
		{name: "LeavesTheList", method: "GET", path: "/v1/auth/api-keys?limit=100", key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				var page pihuhttp.KeyList
				r.decode(t, &page)
				if slices.Contains(itemIDs(page.Data), victim.ID) {
					t.Errorf("the revoked key is still listed")
				}
			}},
		{name: "ErrGetRevoked", method: "GET", path: path + victim.ID, key: ts.Owner, status: 404, code: "not_found"},
		{name: "ErrAlreadyRevoked", method: "DELETE", path: path + victim.ID, key: ts.Owner, status: 404, code: "not_found"},
		{name: "ExpiredKeyCanBeRevoked", method: "DELETE", path: path + expiring.ID, key: ts.Owner, status: 200},
		{name: "WarmSelf", method: "GET", path: "/v1/auth/whoami", key: self.Key, status: 200},
		{name: "RevokeSelf", method: "DELETE", path: path + self.ID, key: self.Key, status: 200},
		{name: "SelfRevokedAtOnce", method: "DELETE", path: path + liveOnly.ID, key: self.Key, status: 401, code: "revoked_api_key"},
		{name: "TestKeyRevokesTestKey", method: "DELETE", path: path + testVictim.ID, key: testKey.Key, status: 200},
		{name: "EmptyObjectBody", method: "DELETE", path: path + liveOnly.ID, key: ts.Owner, body: `{}`, status: 200},

		{name: "ErrUnknownParameter", method: "DELETE", path: path + ts.ownerID(t) + "?force=true", key: ts.Owner, status: 400, code: "parameter_unknown", param: "force"},
		{name: "ErrUnknownField", method: "DELETE", path: path + ts.ownerID(t), key: ts.Owner, body: `{"reason":"leaked"}`, status: 400, code: "parameter_unknown", param: "reason"},
		{name: "ErrBodyNotJSON", method: "DELETE", path: path + ts.ownerID(t), key: ts.Owner, body: `reason`, status: 400, code: "invalid_json"},
		{name: "ErrNoKey", method: "DELETE", path: path + ts.ownerID(t), status: 401, code: "missing_api_key"},
		{name: "ErrRevokedCaller", method: "DELETE", path: path + ts.ownerID(t), key: victim.Key, status: 401, code: "revoked_api_key"},
		{name: "ErrNoPermission", method: "DELETE", path: path + ts.ownerID(t), key: reader, status: 403, code: "insufficient_permissions",
			check: func(t *testing.T, r response) {
				if got := r.errorBody(t).Required; got != "api_key:write" {
					t.Errorf("required: got %q, want api_key:write", got)
				}
			}},
		{name: "ErrUnknown", method: "DELETE", path: path + "key_nope", key: ts.Owner, status: 404, code: "not_found"},
		{name: "ErrOtherAccount", method: "DELETE", path: path + ts.ownerID(t), key: otherOwner, status: 404, code: "not_found"},
		{name: "ErrTestKeyRevokesLiveKey", method: "DELETE", path: path + ts.ownerID(t), key: testKey.Key, status: 404, code: "not_found"},
	})

	t.Run("ErrorsChangedNothing", func(t *testing.T) {
		ts.works(t, ts.Owner, 200, "")
		ts.works(t, reader, 200, "")
		ts.works(t, testKey.Key, 200, "")
	})
}

// ownerID is the id of the first account's owner key.
func (ts *testServer) ownerID(tb testing.TB) string {
	tb.Helper()
	var who struct {
		Key struct{ ID string } `json:"key"`
	}
	ts.do(tb, "GET", "/v1/auth/whoami", ts.Owner, "").decode(tb, &who)
	return who.Key.ID
}

// rotated decodes a rotation's response.
func rotated(tb testing.TB, r response) pihuhttp.RotatedKey {
	tb.Helper()
	var k pihuhttp.RotatedKey
	r.decode(tb, &k)
	return k
}

func TestKeys_Rotate(t *testing.T) {
	ts := newTestServer(t)
	// A key created an hour ago, living 30 days, limited to this machine.
	deploy := ts.newKey(t, ts.Owner, `{"name":"deploy","permissions":["candidate:read","interview:write"],"expiration":"30d","allowed_ips":["127.0.0.1"],"rate_limit":"5/m"}`)
	ts.Clock.Add(time.Hour)
	graced := ts.newKey(t, ts.Owner, `{"name":"graced","permissions":["candidate:read"]}`)
	shortLived := ts.newKey(t, ts.Owner, `{"name":"short","permissions":["candidate:read"],"expiration":"2h"}`)
	forever := ts.newKey(t, ts.Owner, `{"name":"forever","permissions":["candidate:read"]}`)
	everything := ts.newKey(t, ts.Owner, `{"name":"everything","permissions":["*"]}`)
	plain := ts.newKey(t, ts.Owner, `{"name":"plain","permissions":["candidate:read"]}`)
	scoped := ts.newKey(t, ts.Owner, `{"name":"scoped","permissions":["api_key:write","candidate:read"],"expiration":"10d"}`)
	local := ts.newKey(t, ts.Owner, `{"name":"local","permissions":["*"],"allowed_ips":["127.0.0.1/32"]}`)
	localChild := ts.newKey(t, ts.Owner, `{"name":"local child","permissions":["candidate:read"],"allowed_ips":["127.0.0.1"]}`)
	reader := ts.newKey(t, ts.Owner, `{"name":"reader","permissions":["api_key:read"]}`).Key
	testKey := ts.newKey(t, ts.Owner, `{"name":"test","permissions":["*"],"environment":"test"}`)
	testChild := ts.newKey(t, testKey.Key, `{"name":"test child","permissions":["candidate:read"],"expiration":"7d"}`)
	revoked := ts.newKey(t, ts.Owner, `{"name":"revoked","permissions":["candidate:read"]}`)
	ts.do(t, "DELETE", "/v1/auth/api-keys/"+revoked.ID, ts.Owner, "")
	_, otherOwner := ts.newAccount(t, "Other")
	now := ts.Clock.Now()
	path := func(id string) string { return "/v1/auth/api-keys/" + id + "/rotate" }

	var next, nextGraced pihuhttp.RotatedKey
	ts.run(t, []scenario{
		{name: "WarmOld", method: "GET", path: "/v1/auth/whoami", key: deploy.Key, status: 200},
		{name: "NowByDefault", method: "POST", path: path(deploy.ID), key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				next = rotated(t, r)
				if next.RotatedFrom != deploy.ID || next.ID == deploy.ID || !strings.HasPrefix(next.ID, "key_") {
					t.Errorf("rotated_from, id: got %q %q, want %q and a new id", next.RotatedFrom, next.ID, deploy.ID)
				}
				if env, ok := pihu.ParseSecret(next.Key); !ok || env != pihu.Live || next.Key == deploy.Key {
					t.Errorf("key: want a new live key")
				}
				if next.Name != "deploy" || next.Environment != "live" || !slices.Equal(next.Permissions, deploy.Permissions) ||
					!slices.Equal(next.AllowedIPs, []string{"127.0.0.1"}) || next.RateLimit == nil || *next.RateLimit != "5/m" {
					t.Errorf("got %+v, want the old key's settings", next.KeyCreated)
				}
				// The lifetime, 30 days, counted from now.
				if want := now.Add(30 * 24 * time.Hour).Format(time.RFC3339); next.Created != now.Format(time.RFC3339) || next.Expires == nil || *next.Expires != want {
					t.Errorf("created, expires: got %s %v, want %s %s", next.Created, next.Expires, now.Format(time.RFC3339), want)
				}
			}},
		{name: "OldRevokedAtOnce", method: "GET", path: "/v1/auth/whoami", key: deploy.Key, status: 401, code: "revoked_api_key"},
		{name: "OldLeftTheList", method: "GET", path: "/v1/auth/api-keys/" + deploy.ID, key: ts.Owner, status: 404, code: "not_found"},
		{name: "ErrRotateOldAgain", method: "POST", path: path(deploy.ID), key: ts.Owner, status: 404, code: "not_found"},

		{name: "WarmGraced", method: "GET", path: "/v1/auth/whoami", key: graced.Key, status: 200},
		{name: "Grace", method: "POST", path: path(graced.ID), key: ts.Owner, body: `{"expire_old_in":"24h"}`, status: 200,
			check: func(t *testing.T, r response) {
				nextGraced = rotated(t, r)
				if nextGraced.Expires != nil || nextGraced.RotatedFrom != graced.ID || nextGraced.AllowedIPs != nil {
					t.Errorf("got %+v, want a key that never expires, from %s, usable anywhere", nextGraced, graced.ID)
				}
				if !strings.Contains(string(r.body), `"allowed_ips":null`) {
					t.Errorf("allowed_ips is not null: %s", r.body)
				}
			}},
		{name: "OldWorksDuringGrace", method: "GET", path: "/v1/auth/whoami", key: graced.Key, status: 200},
		// Rotated once, it is in its grace period: rotating it again would
		// give it a second successor.
		{name: "ErrRotateGracedAgain", method: "POST", path: path(graced.ID), key: ts.Owner, body: `{"expire_old_in":"1h"}`, status: 409, code: "already_rotated",
			check: func(t *testing.T, r response) {
				if msg := r.errorBody(t).Message; !strings.Contains(msg, nextGraced.ID) {
					t.Errorf("message: got %q, want it to name the successor %s", msg, nextGraced.ID)
				}
			}},
		{name: "OldListedWithItsEnd", method: "GET", path: "/v1/auth/api-keys/" + graced.ID, key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				var item pihuhttp.KeyItem
				r.decode(t, &item)
				if want := now.Add(24 * time.Hour).Format(time.RFC3339); item.Expires == nil || *item.Expires != want {
					t.Errorf("expires: got %v, want %s", item.Expires, want)
				}
			}},
		// The grace never lengthens a key: this one ends in an hour.
		{name: "GraceLongerThanLife", method: "POST", path: path(shortLived.ID), key: ts.Owner, body: `{"expire_old_in":"7d"}`, status: 200},
		{name: "ShortLivedKeepsItsEnd", method: "GET", path: "/v1/auth/api-keys/" + shortLived.ID, key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				var item pihuhttp.KeyItem
				r.decode(t, &item)
				if want := now.Add(2 * time.Hour).Format(time.RFC3339); item.Expires == nil || *item.Expires != want {
					t.Errorf("expires: got %v, want %s", item.Expires, want)
				}
			}},
		{name: "ExplicitNow", method: "POST", path: path(forever.ID), key: ts.Owner, body: `{"expire_old_in":"now"}`, status: 200},
		{name: "ForeverRevoked", method: "GET", path: "/v1/auth/whoami", key: forever.Key, status: 401, code: "revoked_api_key"},
		{name: "TestKeyRotatesTestKey", method: "POST", path: path(testChild.ID), key: testKey.Key, status: 200,
			check: func(t *testing.T, r response) {
				k := rotated(t, r)
				if !strings.HasPrefix(k.Key, "ph_test_") || k.Environment != "test" {
					t.Errorf("got %+v, want a test key", k.KeyCreated)
				}
			}},
		{name: "LimitedCallerSameAddresses", method: "POST", path: path(localChild.ID), key: local.Key, body: `{"expire_old_in":"1h"}`, status: 200},
		{name: "ScopedWithinRights", method: "POST", path: path(testOf(t, ts, scoped.Key)), key: scoped.Key, status: 200},

		{name: "ErrGraceInvalid", method: "POST", path: path(everything.ID), key: ts.Owner, body: `{"expire_old_in":"1y"}`, status: 400, code: "parameter_invalid", param: "expire_old_in"},
		{name: "ErrGraceEmpty", method: "POST", path: path(everything.ID), key: ts.Owner, body: `{"expire_old_in":""}`, status: 400, code: "parameter_invalid", param: "expire_old_in"},
		{name: "ErrGraceNotString", method: "POST", path: path(everything.ID), key: ts.Owner, body: `{"expire_old_in":24}`, status: 400, code: "parameter_invalid", param: "expire_old_in"},
		{name: "ErrGraceTooLong", method: "POST", path: path(everything.ID), key: ts.Owner, body: `{"expire_old_in":"3651d"}`, status: 400, code: "parameter_invalid", param: "expire_old_in"},
		{name: "ErrUnknownField", method: "POST", path: path(everything.ID), key: ts.Owner, body: `{"expiration":"1d"}`, status: 400, code: "parameter_unknown", param: "expiration"},
		{name: "ErrUnknownParameter", method: "POST", path: path(everything.ID) + "?expire_old_in=now", key: ts.Owner, status: 400, code: "parameter_unknown", param: "expire_old_in"},
		{name: "ErrNotJSON", method: "POST", path: path(everything.ID), key: ts.Owner, body: `{"expire_old_in":`, status: 400, code: "invalid_json"},
		{name: "ErrOutlivesCaller", method: "POST", path: path(plain.ID), key: scoped.Key, status: 400, code: "parameter_invalid", param: "expiration",
			check: func(t *testing.T, r response) {
				if msg := r.errorBody(t).Message; !strings.Contains(msg, now.Add(10*24*time.Hour).Format(time.RFC3339)) {
					t.Errorf("message %q does not say when the rotating key expires", msg)
				}
			}},
		{name: "ErrNoKey", method: "POST", path: path(everything.ID), status: 401, code: "missing_api_key"},
		{name: "ErrRevokedCaller", method: "POST", path: path(everything.ID), key: revoked.Key, status: 401, code: "revoked_api_key"},
		{name: "ErrNoPermission", method: "POST", path: path(everything.ID), key: reader, status: 403, code: "insufficient_permissions"},
		{name: "ErrEscalation", method: "POST", path: path(everything.ID), key: scoped.Key, body: `{"expire_old_in":"1h"}`, status: 403, code: "insufficient_permissions", param: "permissions"},
		{name: "ErrWidensAddresses", method: "POST", path: path(everything.ID), key: local.Key, status: 403, code: "insufficient_permissions", param: "allowed_ips"},
		{name: "ErrUnknown", method: "POST", path: path("key_nope"), key: ts.Owner, status: 404, code: "not_found"},
		{name: "ErrRevoked", method: "POST", path: path(revoked.ID), key: ts.Owner, status: 404, code: "not_found"},
		{name: "ErrOtherAccount", method: "POST", path: path(everything.ID), key: otherOwner, status: 404, code: "not_found"},
		{name: "ErrTestKeyRotatesLiveKey", method: "POST", path: path(everything.ID), key: testKey.Key, status: 404, code: "not_found"},
	})

	t.Run("NewKeysWork", func(t *testing.T) {
		ts.works(t, nextGraced.Key, 200, "")
		ts.works(t, everything.Key, 200, "") // every failed rotation left it alone
		ts.works(t, plain.Key, 200, "")
	})
	t.Run("OldExpiresAfterGrace", func(t *testing.T) {
		ts.Clock.Add(24*time.Hour - time.Second)
		ts.works(t, graced.Key, 200, "")
		ts.Clock.Add(time.Second)
		ts.works(t, graced.Key, 401, "expired_api_key")
		ts.works(t, nextGraced.Key, 200, "")
		// The old key stays in the list, expired, until someone revokes it.
		if !slices.Contains(itemIDs(ts.listAll(t, ts.Owner)), graced.ID) {
			t.Errorf("the expired old key left the list")
		}
	})
}

// testOf creates, with the scoped key, a key it may rotate, and returns its
// id.
func testOf(tb testing.TB, ts *testServer, scoped string) string {
	tb.Helper()
	return ts.newKey(tb, scoped, `{"name":"scoped child","permissions":["candidate:read"],"expiration":"1d"}`).ID
}

func TestTestKeys(t *testing.T) {
	ts := newTestServer(t)
	testKey := ts.newKey(t, ts.Owner, `{"name":"test","permissions":["*"],"environment":"test"}`)
	live := ts.newKey(t, ts.Owner, `{"name":"live","permissions":["candidate:read"]}`)
	ts.run(t, []scenario{
		{name: "CreatesTestKeysByDefault", method: "POST", path: "/v1/auth/api-keys", key: testKey.Key, body: `{"name":"t","permissions":["candidate:read"]}`, status: 200,
			check: func(t *testing.T, r response) {
				var k pihuhttp.KeyCreated
				r.decode(t, &k)
				if env, ok := pihu.ParseSecret(k.Key); !ok || env != pihu.Test || k.Environment != "test" {
					t.Errorf("got %+v, want a test key", k)
				}
			}},
		{name: "ErrCannotCreateLiveKey", method: "POST", path: "/v1/auth/api-keys", key: testKey.Key, body: `{"name":"l","permissions":["candidate:read"],"environment":"live"}`, status: 403, code: "insufficient_permissions", param: "environment"},
		{name: "ErrCannotSeeLiveKey", method: "GET", path: "/v1/auth/api-keys/" + live.ID, key: testKey.Key, status: 404, code: "not_found"},
		{name: "ErrCannotRotateLiveKey", method: "POST", path: "/v1/auth/api-keys/" + live.ID + "/rotate", key: testKey.Key, status: 404, code: "not_found"},
		{name: "ErrCannotRevokeLiveKey", method: "DELETE", path: "/v1/auth/api-keys/" + live.ID, key: testKey.Key, status: 404, code: "not_found"},
		{name: "LiveKeyCreatesTestKey", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"t2","permissions":["candidate:read"],"environment":"test"}`, status: 200},
	})
	ts.works(t, live.Key, 200, "")
}

func TestLeakedKeys(t *testing.T) {
	ts := newTestServer(t)
	a := ts.newKey(t, ts.Owner, `{"name":"a","permissions":["candidate:read"]}`)
	b := ts.newKey(t, ts.Owner, `{"name":"b","permissions":["candidate:read"],"environment":"test"}`)
	other, otherOwner := ts.newAccount(t, "Other")
	c := ts.newKey(t, otherOwner, `{"name":"c","permissions":["candidate:read"],"allowed_ips":["203.0.113.0/24"]}`)
	gone := ts.newKey(t, ts.Owner, `{"name":"gone","permissions":["candidate:read"]}`)
	ts.do(t, "DELETE", "/v1/auth/api-keys/"+gone.ID, ts.Owner, "")
	expired := ts.newKey(t, ts.Owner, `{"name":"expired","permissions":["candidate:read"],"expiration":"1m"}`)
	ts.Clock.Add(time.Minute)
	bystander := ts.newKey(t, ts.Owner, `{"name":"bystander","permissions":["candidate:read"]}`)
	forged := pihu.NewSecret(pihu.Live) // a right checksum, never issued
	lookalike := a.Key[:len(a.Key)-1] + flip(a.Key[len(a.Key)-1])
	path := "/v1/auth/leaked-keys"
	body := func(keys ...string) string {
		return `{"keys":["` + strings.Join(keys, `","`) + `"]}`
	}
	revokedCount := func(want int) func(t *testing.T, r response) {
		return func(t *testing.T, r response) {
			var got map[string]int
			r.decode(t, &got)
			if len(got) != 1 || got["revoked"] != want {
				t.Errorf("got %s, want {\"revoked\": %d}", r.body, want)
			}
		}
	}

	ts.run(t, []scenario{
		{name: "WarmA", method: "GET", path: "/v1/auth/whoami", key: a.Key, status: 200},
		{name: "ForgedRevokesNothing", method: "POST", path: path, body: body(forged, lookalike, "ph_live_abc123", "not a key", ""), status: 200, check: revokedCount(0)},
		{name: "AStillWorks", method: "GET", path: "/v1/auth/whoami", key: a.Key, status: 200},
		{name: "OK", method: "POST", path: path, status: 200, check: revokedCount(3),
			// Known keys of two accounts and environments, one twice,
			// among keys already revoked or expired and strings that are
			// not keys; no Authorization needed, a bad one ignored.
			body:    body(a.Key, "  ", b.Key, a.Key, c.Key, gone.Key, expired.Key, forged, lookalike),
			headers: map[string]string{"Authorization": "Bearer nonsense"}},
		{name: "ARevokedAtOnce", method: "GET", path: "/v1/auth/whoami", key: a.Key, status: 401, code: "revoked_api_key"},
		{name: "BRevoked", method: "GET", path: "/v1/auth/whoami", key: b.Key, status: 401, code: "revoked_api_key"},
		{name: "ExpiredStaysExpired", method: "GET", path: "/v1/auth/whoami", key: expired.Key, status: 401, code: "expired_api_key"},
		{name: "AgainRevokesNothing", method: "POST", path: path, body: body(a.Key, b.Key), status: 200, check: revokedCount(0)},
		{name: "EmptyList", method: "POST", path: path, body: `{"keys":[]}`, status: 200, check: revokedCount(0)},
	})
	ts.works(t, bystander.Key, 200, "")
	ts.works(t, ts.Owner, 200, "")

	t.Run("Audit", func(t *testing.T) {
		for _, tc := range []struct {
			owner   string
			targets []string
		}{
			{ts.Owner, []string{a.ID, b.ID}},
			{otherOwner, []string{c.ID}},
		} {
			var leaked []string
			for _, ev := range ts.events(t, tc.owner) {
				if ev.Action == "api_key.leaked" {
					if ev.Actor != "anonymous" || ev.IP != "127.0.0.1" {
						t.Errorf("event %+v: want actor anonymous from 127.0.0.1", ev)
					}
					leaked = append(leaked, ev.Target)
				}
			}
			slices.Sort(leaked)
			slices.Sort(tc.targets)
			if !slices.Equal(leaked, tc.targets) {
				t.Errorf("leaked events: got targets %v, want %v", leaked, tc.targets)
			}
		}
		_ = other
	})
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestLeakedKeys_Errors(t *testing.T) {
	ts := newTestServer(t)
	a := ts.newKey(t, ts.Owner, `{"name":"a","permissions":["candidate:read"]}`)
	many := make([]string, pihu.MaxLeakedKeys+1)
	for i := range many {
		many[i] = `"x"`
	}
	path := "/v1/auth/leaked-keys"
	ts.run(t, []scenario{
		{name: "ErrTooMany", method: "POST", path: path, body: `{"keys":[` + strings.Join(many, ",") + `]}`, status: 400, code: "parameter_invalid", param: "keys"},
		{name: "ErrTooManyWithAReal", method: "POST", path: path, body: `{"keys":["` + a.Key + `",` + strings.Join(many, ",") + `]}`, status: 400, code: "parameter_invalid", param: "keys"},
		{name: "ErrMissing", method: "POST", path: path, body: `{}`, status: 400, code: "parameter_missing", param: "keys"},
		{name: "ErrNull", method: "POST", path: path, body: `{"keys":null}`, status: 400, code: "parameter_missing", param: "keys"},
		{name: "ErrNotArray", method: "POST", path: path, body: `{"keys":"` + a.Key + `"}`, status: 400, code: "parameter_invalid", param: "keys"},
		{name: "ErrNotStrings", method: "POST", path: path, body: `{"keys":[1]}`, status: 400, code: "parameter_invalid", param: "keys"},
		{name: "ErrUnknownField", method: "POST", path: path, body: `{"keys":[],"reason":"x"}`, status: 400, code: "parameter_unknown", param: "reason"},
		{name: "ErrEmptyBody", method: "POST", path: path, headers: map[string]string{"Content-Type": "application/json"}, status: 400, code: "invalid_json"},
		{name: "ErrNotJSONType", method: "POST", path: path, body: `{"keys":[]}`, headers: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
		{name: "ErrWrongMethod", method: "GET", path: path, status: 405, code: "method_not_allowed"},
	})
	ts.works(t, a.Key, 200, "")
}

// TestLeakedKeys_RateLimit checks the per-address limit on reports: ten a
// minute, refilled smoothly.
func TestLeakedKeys_RateLimit(t *testing.T) {
	ts := newTestServer(t)
	body := `{"keys":["` + pihu.NewSecret(pihu.Live) + `"]}`
	for i := range 10 {
		if r := ts.do(t, "POST", "/v1/auth/leaked-keys", "", body); r.status != 200 {
			t.Fatalf("report %d: got %d %s", i+1, r.status, r.body)
		}
	}
	r := ts.do(t, "POST", "/v1/auth/leaked-keys", "", body)
	if r.status != 429 || r.errorBody(t).Code != "rate_limited" || r.errorBody(t).Type != "rate_limit_error" {
		t.Fatalf("report 11: got %d %s, want 429 rate_limited", r.status, r.body)
	}
	if got := r.header.Get("Retry-After"); got != "6" {
		t.Errorf("Retry-After: got %q, want 6 (a minute / 10)", got)
	}
	ts.Clock.Add(6 * time.Second)
	if r := ts.do(t, "POST", "/v1/auth/leaked-keys", "", body); r.status != 200 {
		t.Errorf("after waiting: got %d %s", r.status, r.body)
	}
	if r := ts.do(t, "POST", "/v1/auth/leaked-keys", "", body); r.status != 429 {
		t.Errorf("the next at once: got %d, want 429", r.status)
	}
	// Keys go on working: the limit is on reports, not on the address.
	ts.works(t, ts.Owner, 200, "")
}

func TestLeakedKeys_OneThousand(t *testing.T) {
	ts := newTestServer(t)
	keys := make([]string, 0, pihu.MaxLeakedKeys)
	for i := range 20 {
		keys = append(keys, ts.newKey(t, ts.Owner, fmt.Sprintf(`{"name":"k%d","permissions":["candidate:read"]}`, i)).Key)
	}
	for len(keys) < pihu.MaxLeakedKeys {
		keys = append(keys, pihu.NewSecret(pihu.Live))
	}
	body := `{"keys":["` + strings.Join(keys, `","`) + `"]}`
	if len(body) > pihuhttp.MaxBodyBytes {
		t.Fatalf("a report of %d keys is %d bytes, over the %d-byte body limit", len(keys), len(body), pihuhttp.MaxBodyBytes)
	}
	start := time.Now()
	r := ts.do(t, "POST", "/v1/auth/leaked-keys", "", body)
	if r.status != 200 || string(r.body) != "{\"revoked\":20}\n" {
		t.Fatalf("got %d %s, want {\"revoked\":20}", r.status, r.body)
	}
	t.Logf("a report of %d keys, 20 of them real: %v", len(keys), time.Since(start))
}

// TestKeys_RevokeRights checks that revoking another key needs every
// permission of that key and no narrower allowed_ips, so that a narrow
// key cannot lock the account out of its owner key; a key may always
// revoke itself.
func TestKeys_RevokeRights(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.ownerID(t)
	// The review's key: write only, one address, an hour to live.
	narrow := ts.newKey(t, ts.Owner, `{"name":"narrow","permissions":["api_key:write"],"allowed_ips":["127.0.0.1"],"expiration":"1h"}`)
	reader := ts.newKey(t, ts.Owner, `{"name":"reader","permissions":["candidate:read","interview:read"]}`)
	manager := ts.newKey(t, ts.Owner, `{"name":"manager","permissions":["api_key:write","candidate:*"]}`)
	local := ts.newKey(t, ts.Owner, `{"name":"local","permissions":["*"],"allowed_ips":["127.0.0.1"]}`)
	localReader := ts.newKey(t, ts.Owner, `{"name":"local reader","permissions":["candidate:read"],"allowed_ips":["127.0.0.1"]}`)
	wideReader := ts.newKey(t, ts.Owner, `{"name":"wide reader","permissions":["candidate:read"],"allowed_ips":["127.0.0.0/8"]}`)
	anywhere := ts.newKey(t, ts.Owner, `{"name":"anywhere","permissions":["candidate:read"]}`)
	testWriter := ts.newKey(t, ts.Owner, `{"name":"test writer","permissions":["api_key:write","candidate:read"],"environment":"test"}`)
	testOwnerLike := ts.newKey(t, ts.Owner, `{"name":"test star","permissions":["*"],"environment":"test"}`)
	path := "/v1/auth/api-keys/"

	forbidden := func(required, param string) func(*testing.T, response) {
		return func(t *testing.T, r response) {
			t.Helper()
			e := r.errorBody(t)
			if e.Required != required || e.Param != param {
				t.Errorf("required %q, param %q: want %q, %q", e.Required, e.Param, required, param)
			}
		}
	}
	ts.run(t, []scenario{
		{name: "ErrNarrowRevokesOwner", method: "DELETE", path: path + owner, key: narrow.Key, status: 403, code: "insufficient_permissions", check: forbidden("*", "")},
		{name: "OwnerStillWorks", method: "GET", path: "/v1/auth/whoami", key: ts.Owner, status: 200},
		{name: "ErrNarrowRevokesReader", method: "DELETE", path: path + reader.ID, key: narrow.Key, status: 403, code: "insufficient_permissions", check: forbidden("candidate:read", "")},
		{name: "ErrManagerLacksInterviewRead", method: "DELETE", path: path + reader.ID, key: manager.Key, status: 403, code: "insufficient_permissions", check: forbidden("interview:read", "")},
		{name: "ErrManagerRevokesOwner", method: "DELETE", path: path + owner, key: manager.Key, status: 403, code: "insufficient_permissions", check: forbidden("*", "")},
		{name: "ErrLocalRevokesAnywhere", method: "DELETE", path: path + anywhere.ID, key: local.Key, status: 403, code: "insufficient_permissions", check: forbidden("", "")},
		{name: "ErrLocalRevokesWider", method: "DELETE", path: path + wideReader.ID, key: local.Key, status: 403, code: "insufficient_permissions", check: forbidden("", "")},
		{name: "ErrLocalRevokesOwner", method: "DELETE", path: path + owner, key: local.Key, status: 403, code: "insufficient_permissions", check: forbidden("", "")},
		{name: "ErrTestWriterRevokesTestStar", method: "DELETE", path: path + testOwnerLike.ID, key: testWriter.Key, status: 403, code: "insufficient_permissions", check: forbidden("*", "")},
		{name: "ErrTestKeyRevokesLiveKey", method: "DELETE", path: path + anywhere.ID, key: testOwnerLike.Key, status: 404, code: "not_found"},
		{name: "RefusedKeysStillWork", method: "GET", path: "/v1/auth/whoami", key: anywhere.Key, status: 200},
		{name: "LocalRevokesSameAddresses", method: "DELETE", path: path + localReader.ID, key: local.Key, status: 200},
		{name: "ManagerRevokesWithin", method: "DELETE", path: path + wideReader.ID, key: manager.Key, status: 200},
		{name: "NarrowRevokesItself", method: "DELETE", path: path + narrow.ID, key: narrow.Key, status: 200},
		{name: "LiveRevokesTest", method: "DELETE", path: path + testWriter.ID, key: ts.Owner, status: 200},
		{name: "OwnerRevokesAnything", method: "DELETE", path: path + local.ID, key: ts.Owner, status: 200},
	})
	// The refusals changed nothing and recorded nothing.
	for _, ev := range ts.events(t, ts.Owner) {
		if ev.Action == "api_key.revoked" && (ev.Target == owner || ev.Target == reader.ID || ev.Target == anywhere.ID || ev.Target == testOwnerLike.ID) {
			t.Errorf("a refused revocation was recorded: %+v", ev)
		}
	}
}

// TestKeys_RevokeCascade checks DELETE …?cascade=true: every key created by
// the key, at any depth and in both environments, is revoked with it, in
// one step, and refused at once.
func TestKeys_RevokeCascade(t *testing.T) {
	ts := newTestServer(t)
	writer := `"permissions":["api_key:write","candidate:read"]`
	root := ts.newKey(t, ts.Owner, `{"name":"root",`+writer+`}`)
	child := ts.newKey(t, root.Key, `{"name":"child",`+writer+`}`)
	testChild := ts.newKey(t, root.Key, `{"name":"test child",`+writer+`,"environment":"test"}`)
	grandchild := ts.newKey(t, child.Key, `{"name":"grandchild","permissions":["candidate:read"]}`)
	// Rotating the child with the child: its successor is the child's.
	r := ts.do(t, "POST", "/v1/auth/api-keys/"+grandchild.ID+"/rotate", child.Key, `{"expire_old_in":"1h"}`)
	if r.status != 200 {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	successor := rotated(t, r)
	sibling := ts.newKey(t, ts.Owner, `{"name":"sibling",`+writer+`}`)
	nephew := ts.newKey(t, sibling.Key, `{"name":"nephew","permissions":["candidate:read"]}`)
	plainChild := ts.newKey(t, sibling.Key, `{"name":"plain child","permissions":["candidate:read"]}`)
	path := "/v1/auth/api-keys/"

	ts.run(t, []scenario{
		{name: "ErrCascadeValue", method: "DELETE", path: path + root.ID + "?cascade=yes", key: ts.Owner, status: 400, code: "parameter_invalid", param: "cascade"},
		{name: "ErrCascadeEmpty", method: "DELETE", path: path + root.ID + "?cascade=", key: ts.Owner, status: 400, code: "parameter_invalid", param: "cascade"},
		{name: "ErrCascadeTwice", method: "DELETE", path: path + root.ID + "?cascade=true&cascade=true", key: ts.Owner, status: 400, code: "parameter_invalid", param: "cascade"},
		{name: "WarmGrandchild", method: "GET", path: "/v1/auth/whoami", key: grandchild.Key, status: 200},
		{name: "Cascade", method: "DELETE", path: path + root.ID + "?cascade=true", key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				var got pihuhttp.RevokedKey
				r.decode(t, &got)
				if got.ID != root.ID || !got.Revoked || got.RevokedDescendants != 4 {
					t.Errorf("got %s revoked %v with %d descendants, want %s with 4", got.ID, got.Revoked, got.RevokedDescendants, root.ID)
				}
			}},
		{name: "WithoutCascade", method: "DELETE", path: path + sibling.ID + "?cascade=false", key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				var got pihuhttp.RevokedKey
				r.decode(t, &got)
				if got.RevokedDescendants != 0 {
					t.Errorf("revoked_descendants: got %d, want 0", got.RevokedDescendants)
				}
			}},
	})
	for _, k := range []pihuhttp.KeyCreated{root, child, testChild, grandchild, successor.KeyCreated} {
		ts.works(t, k.Key, 401, "revoked_api_key")
	}
	for _, k := range []pihuhttp.KeyCreated{nephew, plainChild} {
		ts.works(t, k.Key, 200, "")
	}
	revokedEvents := 0
	for _, ev := range ts.events(t, ts.Owner) {
		if ev.Action == "api_key.revoked" {
			revokedEvents++
		}
	}
	if revokedEvents != 6 {
		t.Errorf("api_key.revoked events: got %d, want 6 (5 by the cascade, 1 without)", revokedEvents)
	}
}

// TestKeys_CreatedBy checks that keys show the key that created them, an
// owner key none, and a test key no live key's id.
func TestKeys_CreatedBy(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.ownerID(t)
	parent := ts.newKey(t, ts.Owner, `{"name":"parent","permissions":["api_key:*","candidate:read"],"environment":"test"}`)
	child := ts.newKey(t, parent.Key, `{"name":"child","permissions":["candidate:read"]}`)
	if parent.CreatedBy == nil || *parent.CreatedBy != owner || child.CreatedBy == nil || *child.CreatedBy != parent.ID {
		t.Fatalf("created_by on create: got %v and %v, want %s and %s", parent.CreatedBy, child.CreatedBy, owner, parent.ID)
	}
	byID := func(items []pihuhttp.KeyItem) map[string]*string {
		m := make(map[string]*string)
		for _, it := range items {
			m[it.ID] = it.CreatedBy
		}
		return m
	}
	live := byID(ts.listAll(t, ts.Owner))
	if live[owner] != nil || live[parent.ID] == nil || *live[parent.ID] != owner || live[child.ID] == nil || *live[child.ID] != parent.ID {
		t.Errorf("created_by in a live key's list: got %v", live)
	}
	test := byID(ts.listAll(t, parent.Key))
	if test[parent.ID] != nil || test[child.ID] == nil || *test[child.ID] != parent.ID {
		t.Errorf("created_by in a test key's list: got %v, want the live creator hidden", test)
	}
	r := ts.do(t, "GET", "/v1/auth/api-keys/"+parent.ID, parent.Key, "")
	if r.status != 200 || strings.Contains(string(r.body), owner) {
		t.Errorf("a test key's get shows the live key %s: %d %s", owner, r.status, r.body)
	}
}

// TestKeys_CreatorRevokedElsewhere checks that a key revoked where this
// server's cache could not see it (another instance, or the database)
// creates and rotates nothing, though its cached entry still
// authenticates: the store re-checks it in the transaction that would
// write the new key.
func TestKeys_CreatorRevokedElsewhere(t *testing.T) {
	ts := newTestServer(t)
	writer := ts.newKey(t, ts.Owner, `{"name":"writer","permissions":["api_key:write","candidate:read"]}`)
	target := ts.newKey(t, ts.Owner, `{"name":"target","permissions":["candidate:read"]}`)
	ts.works(t, writer.Key, 200, "") // cached
	if _, err := ts.Store.RevokeKey(context.Background(), ts.Account.ID, writer.ID, ts.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	before := len(ts.listAll(t, ts.Owner))
	ts.run(t, []scenario{
		{name: "ErrCreate", method: "POST", path: "/v1/auth/api-keys", key: writer.Key, body: `{"name":"x","permissions":["candidate:read"]}`, status: 401, code: "revoked_api_key"},
		{name: "ErrRotate", method: "POST", path: "/v1/auth/api-keys/" + target.ID + "/rotate", key: writer.Key, status: 401, code: "revoked_api_key"},
	})
	if after := len(ts.listAll(t, ts.Owner)); after != before {
		t.Errorf("keys: got %d, want %d: a revoked key created one", after, before)
	}
	ts.works(t, target.Key, 200, "")
}
