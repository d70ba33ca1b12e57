package http_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

// TestTokens_NotItsKey checks that an access token is not the key it was
// minted from: whatever its permissions, it never revokes, rotates or
// changes that key (its credits included), while it acts on other keys as
// a key with its permissions would; and it cannot create or change
// webhook endpoints, which would outlive it.
func TestTokens_NotItsKey(t *testing.T) {
	ts := newTestServer(t)
	parent := ts.newKey(t, ts.Owner, `{"name":"parent","permissions":["*"],"remaining":100}`)
	token := ts.mint(t, parent.Key, `{}`).AccessToken
	narrow := ts.mint(t, parent.Key, `{"permissions":["api_key:write","webhook:read"]}`).AccessToken
	other := ts.newKey(t, ts.Owner, `{"name":"other","permissions":["candidate:read"]}`)
	rotated := ts.newKey(t, ts.Owner, `{"name":"rotated","permissions":["candidate:read"],"expiration":"5m"}`)
	changed := ts.newKey(t, ts.Owner, `{"name":"changed","permissions":["candidate:read"]}`)
	revocable := ts.newKey(t, ts.Owner, `{"name":"revocable","permissions":["candidate:read"]}`)
	endpoint := ts.do(t, "POST", "/v1/webhook-endpoints", parent.Key, `{"url":"https://hooks.example.com/pihu","events":["api_key.created"]}`)
	var e pihuhttp.WebhookEndpointCreated
	endpoint.decode(t, &e)
	self := "/v1/auth/api-keys/" + parent.ID

	ts.run(t, []scenario{
		{name: "ErrRevokeItsKey", method: "DELETE", path: self, key: token, status: 403, code: pihu.EInsufficientPermissions},
		{name: "ErrRevokeItsKeyCascade", method: "DELETE", path: self + "?cascade=true", key: token, status: 403, code: pihu.EInsufficientPermissions},
		{name: "ErrRotateItsKey", method: "POST", path: self + "/rotate", key: token, body: `{"expire_old_in":"now"}`, status: 403, code: pihu.EInsufficientPermissions},
		{name: "ErrChangeItsKey", method: "PATCH", path: self, key: token, body: `{"name":"mine now"}`, status: 403, code: pihu.EInsufficientPermissions},
		{name: "ErrChangeItsKeyCredits", method: "PATCH", path: self, key: token, body: `{"add":1000}`, status: 403, code: pihu.EInsufficientPermissions},
		{name: "ErrChangeItsKeyNarrower", method: "PATCH", path: self, key: token, body: `{"remaining":1}`, status: 403, code: pihu.EInsufficientPermissions},
		{name: "ErrRevokeBeyondItsPermissions", method: "DELETE", path: "/v1/auth/api-keys/" + other.ID, key: narrow, status: 403, code: pihu.EInsufficientPermissions},
		{name: "ErrCreateWebhookEndpoint", method: "POST", path: "/v1/webhook-endpoints", key: token, body: `{"url":"https://hooks.example.com/token","events":["api_key.created"]}`, status: 403, code: pihu.EInsufficientPermissions},
		{name: "ErrChangeWebhookEndpoint", method: "PATCH", path: "/v1/webhook-endpoints/" + e.ID, key: token, body: `{"enabled":false}`, status: 403, code: pihu.EInsufficientPermissions},
		// Other keys: as a key with the token's permissions.
		{name: "RotateOther", method: "POST", path: "/v1/auth/api-keys/" + rotated.ID + "/rotate", key: token, body: `{}`, status: 200},
		{name: "ChangeOther", method: "PATCH", path: "/v1/auth/api-keys/" + changed.ID, key: token, body: `{"name":"renamed"}`, status: 200},
		{name: "RevokeOther", method: "DELETE", path: "/v1/auth/api-keys/" + revocable.ID, key: token, status: 200},
		{name: "ListWebhookEndpoints", method: "GET", path: "/v1/webhook-endpoints", key: token, status: 200},
		{name: "DeleteWebhookEndpoint", method: "DELETE", path: "/v1/webhook-endpoints/" + e.ID, key: token, status: 200},
	})
	ts.works(t, parent.Key, 200, "")
	ts.works(t, token, 200, "")
	item := ts.keyItem(t, parent.ID)
	if item.Name != "parent" || item.Remaining == nil || *item.Remaining > 100 {
		t.Errorf("the token's key after its attempts: %+v, want it unchanged", item)
	}
	r := ts.do(t, "POST", "/v1/webhook-endpoints", token, `{"url":"https://hooks.example.com/token","events":["api_key.created"]}`)
	if msg := r.errorBody(t).Message; r.status != 403 || !strings.Contains(msg, "access token") || !strings.Contains(msg, "API key") {
		t.Errorf("webhook endpoint with a token: got %d %q, want 403 saying to use an API key", r.status, msg)
	}
}

// TestKeys_RevokeSelf checks that a key may always revoke itself with its
// own secret: without api_key:write, from outside its allowed_ips, with no
// credits left (it spends none); still authenticated, rate limited and
// counted in its usage. Its access token may not, and a key without
// api_key:write revokes no other key.
func TestKeys_RevokeSelf(t *testing.T) {
	ts := newTestServer(t)
	other := ts.newKey(t, ts.Owner, `{"name":"other","permissions":["candidate:read"]}`)
	for _, tt := range []struct{ name, body string }{
		{"WithoutPermission", `{"name":"reader","permissions":["candidate:read"]}`},
		{"OutsideAllowedIPs", `{"name":"confined","permissions":["candidate:read"],"allowed_ips":["203.0.113.7"]}`},
		{"NoCreditsLeft", `{"name":"spent","permissions":["candidate:read"],"remaining":0}`},
		{"WithAllPermissions", `{"name":"writer","permissions":["*"]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := ts.newKey(t, ts.Owner, tt.body)
			r := ts.do(t, "DELETE", "/v1/auth/api-keys/"+k.ID, k.Key, "")
			if r.status != 200 {
				t.Fatalf("revoking itself: got %d %s, want 200", r.status, r.body)
			}
			var revoked pihuhttp.RevokedKey
			r.decode(t, &revoked)
			if !revoked.Revoked || revoked.ID != k.ID {
				t.Errorf("revoking itself: got %s", r.body)
			}
			ts.works(t, k.Key, 401, "revoked_api_key")
			stored, err := ts.Store.Key(t.Context(), ts.Account.ID, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Credits != nil && stored.Credits.Remaining != 0 {
				t.Errorf("credits after revoking itself: got %d, want 0 (none spent)", stored.Credits.Remaining)
			}
		})
	}

	reader := ts.newKey(t, ts.Owner, `{"name":"reader","permissions":["candidate:read","token:write"]}`)
	token := ts.mint(t, reader.Key, `{}`).AccessToken
	limited := ts.newKey(t, ts.Owner, `{"name":"limited","permissions":["candidate:read"],"rate_limit":"1/h"}`)
	ts.works(t, limited.Key, 200, "")
	ts.run(t, []scenario{
		{name: "ErrOtherKeyWithoutPermission", method: "DELETE", path: "/v1/auth/api-keys/" + other.ID, key: reader.Key, status: 403, code: pihu.EInsufficientPermissions},
		{name: "ErrItsTokenWithoutPermission", method: "DELETE", path: "/v1/auth/api-keys/" + reader.ID, key: token, status: 403, code: pihu.EInsufficientPermissions},
		{name: "ErrRateLimited", method: "DELETE", path: "/v1/auth/api-keys/" + limited.ID, key: limited.Key, status: 429, code: pihu.ERateLimited},
	})
	ts.works(t, reader.Key, 200, "")
	ts.works(t, other.Key, 200, "")

	// The revocation counts in the key's usage, as any request.
	counted := ts.newKey(t, ts.Owner, `{"name":"counted","permissions":["candidate:read"]}`)
	if r := ts.do(t, "DELETE", "/v1/auth/api-keys/"+counted.ID, counted.Key, ""); r.status != 200 {
		t.Fatalf("revoking itself: got %d %s", r.status, r.body)
	}
	if err := ts.Auth.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if u := ts.usageOf(t, counted.ID, ""); u.Total.Allowed != 1 {
		t.Errorf("usage after revoking itself: got %+v, want 1 allowed", u.Total)
	}
}

// TestKeys_UpdateSelfNarrows checks that a key changing itself may only
// narrow its limits: a higher or removed rate limit, a later or no
// expiry, wider or no allowed_ips, more credits, uncounted use, or a
// larger refill is 403 insufficient_permissions on the field, and changes
// nothing; a narrower one goes through. A key with rights over it may
// still raise them.
func TestKeys_UpdateSelfNarrows(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"self","permissions":["api_key:write","api_key:read"],"rate_limit":"100/m","expiration":"30d",`+
		`"allowed_ips":["127.0.0.0/8"],"remaining":100,"refill":{"interval":"daily","amount":100}}`)
	path := "/v1/auth/api-keys/" + k.ID
	later := ts.Clock.Now().Add(60 * 24 * time.Hour).Format(time.RFC3339)
	sooner := ts.Clock.Now().Add(10 * 24 * time.Hour).Format(time.RFC3339)
	before := ts.keyItem(t, k.ID)

	var refused []scenario
	for _, tt := range []struct{ name, body, param string }{
		{"HigherRateLimit", `{"rate_limit":"200/m"}`, "rate_limit"},
		{"FasterRateLimit", `{"rate_limit":"100/s"}`, "rate_limit"},
		{"LargerBurst", `{"rate_limit":"1000/h"}`, "rate_limit"},
		{"NoRateLimit", `{"rate_limit":null}`, "rate_limit"},
		{"LaterExpiry", `{"expires":"` + later + `"}`, "expires"},
		{"NoExpiry", `{"expires":null}`, "expires"},
		{"WiderAllowedIPs", `{"allowed_ips":["0.0.0.0/0"]}`, "allowed_ips"},
		{"NoAllowedIPs", `{"allowed_ips":null}`, "allowed_ips"},
		{"MoreCredits", `{"remaining":101}`, "remaining"},
		{"UncountedUse", `{"remaining":null}`, "remaining"},
		{"AddCredits", `{"add":1}`, "add"},
		{"LargerRefill", `{"refill":{"interval":"daily","amount":200}}`, "refill"},
		{"OtherRefill", `{"refill":{"interval":"monthly","amount":100}}`, "refill"},
	} {
		refused = append(refused, scenario{name: "Err" + tt.name, method: "PATCH", path: path, key: k.Key, body: tt.body,
			status: 403, code: pihu.EInsufficientPermissions, param: tt.param})
	}
	ts.run(t, refused)
	if after := ts.keyItem(t, k.ID); !sameKeyItem(before, after) {
		t.Errorf("after the refused changes: got %+v, want %+v", after, before)
	}

	ts.run(t, []scenario{
		{name: "LowerRateLimit", method: "PATCH", path: path, key: k.Key, body: `{"rate_limit":"50/m"}`, status: 200},
		{name: "SoonerExpiry", method: "PATCH", path: path, key: k.Key, body: `{"expires":"` + sooner + `"}`, status: 200},
		{name: "NarrowerAllowedIPs", method: "PATCH", path: path, key: k.Key, body: `{"allowed_ips":["127.0.0.1"]}`, status: 200},
		{name: "FewerCredits", method: "PATCH", path: path, key: k.Key, body: `{"remaining":50}`, status: 200},
		{name: "SmallerRefill", method: "PATCH", path: path, key: k.Key, body: `{"refill":{"interval":"daily","amount":10}}`, status: 200},
		{name: "NoRefill", method: "PATCH", path: path, key: k.Key, body: `{"refill":null}`, status: 200},
		{name: "Name", method: "PATCH", path: path, key: k.Key, body: `{"name":"renamed"}`, status: 200},
		{name: "OwnerRaises", method: "PATCH", path: path, key: ts.Owner, body: `{"rate_limit":"1000/m","add":1000,"expires":null,"allowed_ips":null}`, status: 200},
	})

	// A key with the server's default limit (1000/m) may take a lower
	// one of its own, not a higher one.
	d := ts.newKey(t, ts.Owner, `{"name":"default","permissions":["api_key:write"]}`)
	ts.run(t, []scenario{
		{name: "ErrAboveDefault", method: "PATCH", path: "/v1/auth/api-keys/" + d.ID, key: d.Key, body: `{"rate_limit":"2000/m"}`, status: 403, code: pihu.EInsufficientPermissions, param: "rate_limit"},
		{name: "BelowDefault", method: "PATCH", path: "/v1/auth/api-keys/" + d.ID, key: d.Key, body: `{"rate_limit":"10/m"}`, status: 200},
	})
}

// sameKeyItem reports whether two views of a key show the same limits,
// but for the credits left, which the requests made with it spend.
func sameKeyItem(a, b pihuhttp.KeyItem) bool {
	str := func(s *string) string {
		if s == nil {
			return "null"
		}
		return *s
	}
	num := func(n *int64) int64 {
		if n == nil {
			return -1
		}
		return *n
	}
	return a.Name == b.Name && str(a.RateLimit) == str(b.RateLimit) && str(a.Expires) == str(b.Expires) &&
		len(a.AllowedIPs) == len(b.AllowedIPs) && num(b.Remaining) <= num(a.Remaining) && (a.Refill == nil) == (b.Refill == nil) &&
		(a.Refill == nil || a.Refill.Amount == b.Refill.Amount && a.Refill.Interval == b.Refill.Interval)
}
