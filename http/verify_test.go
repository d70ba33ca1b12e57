package http_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

// storeKey puts a key straight into the store, for states the API cannot
// produce in this test (made in the past, revoked).
func (ts *testServer) storeKey(tb testing.TB, accountID string, req pihu.KeyRequest, created time.Time, revoked *time.Time) (*pihu.Key, string) {
	tb.Helper()
	k, secret, err := pihu.NewKey(accountID, req, nil, created)
	if err != nil {
		tb.Fatal(err)
	}
	k.Revoked = revoked
	if err := ts.Store.CreateKey(context.Background(), k); err != nil {
		tb.Fatal(err)
	}
	return k, secret
}

// verifyResult checks a 200 of POST /v1/auth/verify: its code, validity,
// and which fields are set.
func verifyResult(code string, check func(t *testing.T, v pihuhttp.VerifyResult)) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		t.Helper()
		var v pihuhttp.VerifyResult
		r.decode(t, &v)
		if v.Code != code || v.Valid != (code == "VALID") {
			t.Errorf("got valid %v code %s, want code %s", v.Valid, v.Code, code)
		}
		for _, field := range []string{"valid", "code", "key_id", "account_id", "environment", "permissions", "expires", "ratelimit"} {
			if !strings.Contains(string(r.body), `"`+field+`":`) {
				t.Errorf("field %s missing: %s", field, r.body)
			}
		}
		if check != nil {
			check(t, v)
		}
	}
}

const notFoundBody = `{"valid":false,"code":"NOT_FOUND","kind":"api_key","key_id":null,"account_id":null,"environment":null,"permissions":null,"expires":null,"ratelimit":null,"ratelimits":[],"metadata":null,"identity":null,"remaining":null,"next_refill":null,"identity_remaining":null,"identity_next_refill":null}` + "\n"

// notFound checks that a NOT_FOUND says nothing at all about the key.
func notFound(t *testing.T, r response) {
	t.Helper()
	if string(r.body) != notFoundBody {
		t.Errorf("got %s, want %s", r.body, notFoundBody)
	}
}

func TestVerify(t *testing.T) {
	ts := newTestServer(t)
	verifier := ts.newKey(t, ts.Owner, `{"name":"verifier","permissions":["api_key:verify"]}`).Key
	slowVerifier := ts.newKey(t, ts.Owner, `{"name":"slow","permissions":["api_key:verify"],"rate_limit":"1/h"}`).Key
	testVerifier := ts.newKey(t, ts.Owner, `{"name":"test verifier","permissions":["api_key:verify"],"environment":"test"}`).Key
	noVerify := ts.newKey(t, ts.Owner, `{"name":"no verify","permissions":["api_key:read"]}`).Key
	target := ts.newKey(t, ts.Owner, `{"name":"target","permissions":["candidate:write","interview:read"],"expiration":"30d","rate_limit":"3/m"}`)
	plain := ts.newKey(t, ts.Owner, `{"name":"plain","permissions":["candidate:read"]}`)
	past := ts.Clock.Now().Add(-48 * time.Hour)
	expiredReq := pihu.KeyRequest{Name: "expired", Permissions: pihu.Permissions{"candidate:read"}, Expiration: "1d"}
	expired, expiredSecret := ts.storeKey(t, ts.Account.ID, expiredReq, past, nil)
	revokedAt := ts.Clock.Now().Add(-time.Hour)
	revoked, revokedSecret := ts.storeKey(t, ts.Account.ID, pihu.KeyRequest{Name: "revoked", Permissions: pihu.Permissions{"*"}}, past, &revokedAt)
	otherAccount, otherSecret := ts.newAccount(t, "Other")

	verify := func(name, caller, body string, code string, check func(*testing.T, pihuhttp.VerifyResult)) scenario {
		return scenario{name: name, method: "POST", path: "/v1/auth/verify", key: caller, body: body, status: 200,
			check: verifyResult(code, check)}
	}
	key := func(secret string, perms ...string) string {
		if perms == nil {
			return `{"key":"` + secret + `"}`
		}
		return `{"key":"` + secret + `","permissions":["` + strings.Join(perms, `","`) + `"]}`
	}

	ts.run(t, []scenario{
		verify("Valid", verifier, key(target.Key), "VALID", func(t *testing.T, v pihuhttp.VerifyResult) {
			if v.KeyID == nil || *v.KeyID != target.ID || v.AccountID == nil || *v.AccountID != ts.Account.ID || v.Environment == nil || *v.Environment != "live" ||
				strings.Join(v.Permissions, ",") != "candidate:write,interview:read" || v.Expires == nil || *v.Expires != *target.Expires {
				t.Errorf("got %+v, want the target key's fields", v)
			}
			if v.RateLimit == nil || *v.RateLimit != (pihuhttp.VerifyRateLimit{Limit: 3, Remaining: 2, Reset: 20}) {
				t.Errorf("ratelimit: got %+v, want 3, 2 remaining, reset in 20 s", v.RateLimit)
			}
		}),
		// Held through candidate:write, which implies candidate:read.
		verify("ValidWithPermissions", verifier, key(target.Key, "candidate:read", "interview:read"), "VALID", func(t *testing.T, v pihuhttp.VerifyResult) {
			if v.RateLimit == nil || v.RateLimit.Remaining != 1 {
				t.Errorf("ratelimit: got %+v, want 1 remaining", v.RateLimit)
			}
		}),
		verify("InsufficientPermissions", verifier, key(target.Key, "candidate:read", "interview:write"), "INSUFFICIENT_PERMISSIONS", func(t *testing.T, v pihuhttp.VerifyResult) {
			if v.KeyID == nil || *v.KeyID != target.ID || v.RateLimit == nil || v.RateLimit.Remaining != 0 {
				t.Errorf("got %+v, want the key's fields and 0 remaining", v)
			}
		}),
		verify("RateLimited", verifier, key(target.Key), "RATE_LIMITED", func(t *testing.T, v pihuhttp.VerifyResult) {
			if v.KeyID == nil || v.RateLimit == nil || *v.RateLimit != (pihuhttp.VerifyRateLimit{Limit: 3, Remaining: 0, Reset: 60}) {
				t.Errorf("got %+v with ratelimit %+v, want 0 remaining, reset in 60 s", v, v.RateLimit)
			}
		}),
		// The verifications spent the key's own budget.
		{name: "KeyItselfLimited", method: "GET", path: "/v1/auth/whoami", key: target.Key, status: 429, code: "rate_limited"},
		verify("WildcardNotHeld", verifier, key(plain.Key, "candidate:*"), "INSUFFICIENT_PERMISSIONS", nil),
		verify("EmptyPermissionsIsValid", verifier, `{"key":"`+plain.Key+`","permissions":[]}`, "VALID", nil),
		verify("NullPermissionsIsValid", verifier, `{"key":"`+plain.Key+`","permissions":null}`, "VALID", func(t *testing.T, v pihuhttp.VerifyResult) {
			if v.Expires != nil || v.RateLimit == nil || v.RateLimit.Limit != 1000 || v.RateLimit.Remaining != 997 {
				t.Errorf("got %+v with ratelimit %+v, want no expiry and the 1000/m default", v, v.RateLimit)
			}
		}),
		verify("Expired", verifier, key(expiredSecret), "EXPIRED", func(t *testing.T, v pihuhttp.VerifyResult) {
			if v.KeyID == nil || *v.KeyID != expired.ID || v.Expires == nil || *v.Expires != past.Add(24*time.Hour).Format(time.RFC3339) || v.RateLimit != nil {
				t.Errorf("got %+v, want the key's fields and no ratelimit", v)
			}
		}),
		verify("Revoked", verifier, key(revokedSecret, "candidate:read"), "REVOKED", func(t *testing.T, v pihuhttp.VerifyResult) {
			if v.KeyID == nil || *v.KeyID != revoked.ID || v.RateLimit != nil {
				t.Errorf("got %+v, want the key's id and no ratelimit", v)
			}
		}),
		{name: "NotFoundUnknown", method: "POST", path: "/v1/auth/verify", key: verifier, body: key(forged(1)[0]), status: 200, check: notFound},
		{name: "NotFoundMalformed", method: "POST", path: "/v1/auth/verify", key: verifier, body: key("ph_live_abc123"), status: 200, check: notFound},
		{name: "NotFoundNotAKey", method: "POST", path: "/v1/auth/verify", key: verifier, body: key("hello"), status: 200, check: notFound},
		{name: "NotFoundBadChecksum", method: "POST", path: "/v1/auth/verify", key: verifier, body: key(corrupt(plain.Key)), status: 200, check: notFound},
		{name: "NotFoundOtherAccount", method: "POST", path: "/v1/auth/verify", key: verifier, body: key(otherSecret, "*"), status: 200, check: notFound},
		{name: "NotFoundLiveKeyForTestCaller", method: "POST", path: "/v1/auth/verify", key: testVerifier, body: key(plain.Key), status: 200, check: notFound},

		{name: "ErrEmptyBody", method: "POST", path: "/v1/auth/verify", key: verifier, headers: map[string]string{"Content-Type": "application/json"}, status: 400, code: "invalid_json"},
		{name: "ErrNotJSON", method: "POST", path: "/v1/auth/verify", key: verifier, body: `{"key":`, status: 400, code: "invalid_json"},
		{name: "ErrKeyMissing", method: "POST", path: "/v1/auth/verify", key: verifier, body: `{"permissions":["*"]}`, status: 400, code: "parameter_missing", param: "key"},
		{name: "ErrKeyNull", method: "POST", path: "/v1/auth/verify", key: verifier, body: `{"key":null}`, status: 400, code: "parameter_missing", param: "key"},
		{name: "ErrKeyEmpty", method: "POST", path: "/v1/auth/verify", key: verifier, body: `{"key":""}`, status: 400, code: "parameter_invalid", param: "key"},
		{name: "ErrKeyNotString", method: "POST", path: "/v1/auth/verify", key: verifier, body: `{"key":5}`, status: 400, code: "parameter_invalid", param: "key"},
		{name: "ErrUnknownPermission", method: "POST", path: "/v1/auth/verify", key: verifier, body: key(plain.Key, "candidate:delete"), status: 400, code: "parameter_invalid", param: "permissions"},
		{name: "ErrPermissionsNotArray", method: "POST", path: "/v1/auth/verify", key: verifier, body: `{"key":"` + plain.Key + `","permissions":"*"}`, status: 400, code: "parameter_invalid", param: "permissions"},
		{name: "ErrUnknownField", method: "POST", path: "/v1/auth/verify", key: verifier, body: `{"key":"` + plain.Key + `","scopes":[]}`, status: 400, code: "parameter_unknown", param: "scopes"},
		{name: "ErrNotJSONType", method: "POST", path: "/v1/auth/verify", key: verifier, body: key(plain.Key), headers: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
		{name: "ErrNoKey", method: "POST", path: "/v1/auth/verify", body: key(plain.Key), status: 401, code: "missing_api_key"},
		{name: "ErrUnknownCaller", method: "POST", path: "/v1/auth/verify", key: forged(1)[0], body: key(plain.Key), status: 401, code: "invalid_api_key"},
		{name: "ErrNoPermission", method: "POST", path: "/v1/auth/verify", key: noVerify, body: key(plain.Key), status: 403, code: "insufficient_permissions",
			check: func(t *testing.T, r response) {
				if got := r.errorBody(t).Required; got != "api_key:verify" {
					t.Errorf("required: got %q", got)
				}
			}},
		{name: "ErrWrongMethod", method: "GET", path: "/v1/auth/verify", key: verifier, status: 405, code: "method_not_allowed"},
		verify("CallerWithinLimit", slowVerifier, key(plain.Key), "VALID", nil),
		{name: "ErrCallerRateLimited", method: "POST", path: "/v1/auth/verify", key: slowVerifier, body: key(plain.Key), status: 429, code: "rate_limited",
			check: rateHeaders(1, 0, 3600, 3600)},
	})

	t.Run("LastUsedRecorded", func(t *testing.T) {
		if err := ts.Auth.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		got, err := ts.Store.Key(context.Background(), ts.Account.ID, plain.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastUsed == nil || !got.LastUsed.Equal(ts.Clock.Now()) {
			t.Errorf("last_used of the verified key: got %v, want %v", got.LastUsed, ts.Clock.Now())
		}
		for _, k := range []*pihu.Key{expired, revoked} {
			if got, _ := ts.Store.Key(context.Background(), ts.Account.ID, k.ID); got.LastUsed != nil {
				t.Errorf("last_used of %s key: got %v, want null", k.Name, got.LastUsed)
			}
		}
	})
	t.Run("OtherAccountUntouched", func(t *testing.T) {
		// Verifying another account's key neither recorded a use nor spent
		// its budget.
		if err := ts.Auth.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		k, err := ts.Store.KeyByDigest(context.Background(), pihu.Digest(otherSecret))
		if err != nil || k.AccountID != otherAccount.ID {
			t.Fatalf("got %v, %v", k, err)
		}
		if k.LastUsed != nil {
			t.Errorf("last_used: got %v, want null", k.LastUsed)
		}
		r := ts.do(t, "GET", "/v1/auth/whoami", otherSecret, "")
		if r.status != 200 || r.header.Get("RateLimit-Remaining") != "999" {
			t.Errorf("other account's key: got %d with %q remaining, want 200 and 999", r.status, r.header.Get("RateLimit-Remaining"))
		}
	})
}

// corrupt returns secret with its last character changed, so that its
// checksum is wrong.
func corrupt(secret string) string {
	last := byte('x')
	if secret[len(secret)-1] == last {
		last = 'y'
	}
	return secret[:len(secret)-1] + string(last)
}

// TestVerify_AllowedIPs checks that verify applies a key's allowed_ips as
// the API does: VALID only for an ip given and inside them, before the
// key's limit is spent; and that it tells the key's environment.
func TestVerify_AllowedIPs(t *testing.T) {
	ts := newTestServer(t)
	verifier := ts.newKey(t, ts.Owner, `{"name":"verifier","permissions":["api_key:verify"]}`).Key
	office := ts.newKey(t, ts.Owner, `{"name":"office","permissions":["candidate:read"],"allowed_ips":["203.0.113.7","10.0.0.0/8","2001:db8::/32"],"rate_limit":"5/m"}`)
	anywhere := ts.newKey(t, ts.Owner, `{"name":"anywhere","permissions":["candidate:read"],"environment":"test"}`)

	verify := func(name, body, code string, check func(*testing.T, pihuhttp.VerifyResult)) scenario {
		return scenario{name: name, method: "POST", path: "/v1/auth/verify", key: verifier, body: body, status: 200,
			check: verifyResult(code, check)}
	}
	spent := func(remaining int) func(*testing.T, pihuhttp.VerifyResult) {
		return func(t *testing.T, v pihuhttp.VerifyResult) {
			t.Helper()
			if v.KeyID == nil || *v.KeyID != office.ID || v.Environment == nil || *v.Environment != "live" {
				t.Errorf("got %+v, want the office key's fields", v)
			}
			if remaining < 0 {
				if v.RateLimit != nil {
					t.Errorf("ratelimit: got %+v, want null: nothing spent", v.RateLimit)
				}
				return
			}
			if v.RateLimit == nil || v.RateLimit.Remaining != remaining {
				t.Errorf("ratelimit: got %+v, want %d remaining", v.RateLimit, remaining)
			}
		}
	}
	ts.run(t, []scenario{
		verify("ErrNoIP", `{"key":"`+office.Key+`"}`, "IP_NOT_ALLOWED", spent(-1)),
		verify("ErrNullIP", `{"key":"`+office.Key+`","ip":null}`, "IP_NOT_ALLOWED", spent(-1)),
		verify("ErrOutside", `{"key":"`+office.Key+`","ip":"198.51.100.1"}`, "IP_NOT_ALLOWED", spent(-1)),
		verify("ErrOutsideWithPermissions", `{"key":"`+office.Key+`","ip":"198.51.100.1","permissions":["candidate:read"]}`, "IP_NOT_ALLOWED", spent(-1)),
		verify("Exact", `{"key":"`+office.Key+`","ip":"203.0.113.7"}`, "VALID", spent(4)),
		verify("InRange", `{"key":"`+office.Key+`","ip":"10.20.30.40"}`, "VALID", spent(3)),
		verify("MappedIPv4", `{"key":"`+office.Key+`","ip":"::ffff:10.1.1.1"}`, "VALID", spent(2)),
		verify("IPv6", `{"key":"`+office.Key+`","ip":"2001:db8::42"}`, "VALID", spent(1)),
		verify("NoAllowedIPsAnyIP", `{"key":"`+anywhere.Key+`","ip":"198.51.100.1"}`, "VALID", func(t *testing.T, v pihuhttp.VerifyResult) {
			if v.Environment == nil || *v.Environment != "test" {
				t.Errorf("environment: got %v, want test", v.Environment)
			}
		}),
		verify("NoAllowedIPsNoIP", `{"key":"`+anywhere.Key+`"}`, "VALID", nil),
		{name: "ErrIPNotAnAddress", method: "POST", path: "/v1/auth/verify", key: verifier, body: `{"key":"` + office.Key + `","ip":"example.com"}`, status: 400, code: "parameter_invalid", param: "ip"},
		{name: "ErrIPRange", method: "POST", path: "/v1/auth/verify", key: verifier, body: `{"key":"` + office.Key + `","ip":"10.0.0.0/8"}`, status: 400, code: "parameter_invalid", param: "ip"},
		{name: "ErrIPZone", method: "POST", path: "/v1/auth/verify", key: verifier, body: `{"key":"` + office.Key + `","ip":"fe80::1%eth0"}`, status: 400, code: "parameter_invalid", param: "ip"},
		{name: "ErrIPEmpty", method: "POST", path: "/v1/auth/verify", key: verifier, body: `{"key":"` + office.Key + `","ip":""}`, status: 400, code: "parameter_invalid", param: "ip"},
		{name: "ErrIPNotString", method: "POST", path: "/v1/auth/verify", key: verifier, body: `{"key":"` + office.Key + `","ip":167772161}`, status: 400, code: "parameter_invalid", param: "ip"},
	})
}
