package http_test

import (
	"context"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

// usageOf reads the usage of key id with the owner key.
func (ts *testServer) usageOf(tb testing.TB, id, granularity string) pihuhttp.KeyUsage {
	tb.Helper()
	path := "/v1/auth/api-keys/" + id + "/usage"
	if granularity != "" {
		path += "?granularity=" + granularity
	}
	r := ts.do(tb, "GET", path, ts.Owner, "")
	if r.status != 200 {
		tb.Fatalf("usage of %s: got %d %s", id, r.status, r.body)
	}
	var u pihuhttp.KeyUsage
	r.decode(tb, &u)
	return u
}

// TestUsage_Counting makes requests with keys and checks, through the API,
// what each counted in its key's current hour: allowed whatever the
// endpoint answered, refused when refused after the key was recognised, and
// nothing for a key that does not work.
func TestUsage_Counting(t *testing.T) {
	ts := newTestServer(t)
	verifier := ts.newKey(t, ts.Owner, `{"name":"verifier","permissions":["api_key:verify"]}`).Key
	verify := func(key pihuhttp.KeyCreated, extra string) func(t *testing.T) {
		return func(t *testing.T) {
			r := ts.do(t, "POST", "/v1/auth/verify", verifier, `{"key":"`+key.Key+`"`+extra+`}`)
			if r.status != 200 {
				t.Fatalf("verify: got %d %s", r.status, r.body)
			}
		}
	}
	request := func(method, path string, key pihuhttp.KeyCreated, body string, status int) func(t *testing.T) {
		return func(t *testing.T) {
			if r := ts.do(t, method, path, key.Key, body); r.status != status {
				t.Fatalf("%s %s: got %d %s, want %d", method, path, r.status, r.body, status)
			}
		}
	}
	newKey := func(body string) pihuhttp.KeyCreated { return ts.newKey(t, ts.Owner, body) }
	reader := func(name string) pihuhttp.KeyCreated {
		return newKey(`{"name":"` + name + `","permissions":["candidate:read"]}`)
	}

	for _, tt := range []struct {
		name             string
		key              pihuhttp.KeyCreated
		requests         func(k pihuhttp.KeyCreated) []func(*testing.T)
		allowed, refused int64
		by               pihuhttp.RefusedBy
	}{
		{name: "Allowed", key: reader("ok"), allowed: 2, requests: func(k pihuhttp.KeyCreated) []func(*testing.T) {
			return []func(*testing.T){request("GET", "/v1/candidates", k, "", 200), request("GET", "/v1/auth/whoami", k, "", 200)}
		}},
		{name: "AllowedWhateverTheHandlerAnswers", key: reader("handler"), allowed: 2, requests: func(k pihuhttp.KeyCreated) []func(*testing.T) {
			return []func(*testing.T){request("GET", "/v1/candidates/cand_nope", k, "", 404), request("GET", "/v1/candidates?limit=0", k, "", 400)}
		}},
		{name: "RefusedIPNotAllowed", key: newKey(`{"name":"elsewhere","permissions":["*"],"allowed_ips":["203.0.113.0/24"]}`), refused: 1, by: pihuhttp.RefusedBy{IPNotAllowed: 1},
			requests: func(k pihuhttp.KeyCreated) []func(*testing.T) {
				return []func(*testing.T){request("GET", "/v1/auth/whoami", k, "", 403)}
			}},
		{name: "RefusedRateLimited", key: newKey(`{"name":"one","permissions":["*"],"rate_limit":"1/m"}`), allowed: 1, refused: 2, by: pihuhttp.RefusedBy{RateLimited: 2},
			requests: func(k pihuhttp.KeyCreated) []func(*testing.T) {
				return []func(*testing.T){request("GET", "/v1/auth/whoami", k, "", 200), request("GET", "/v1/auth/whoami", k, "", 429),
					request("POST", "/v1/candidates", k, `{"name":"A","email":"a@example.com"}`, 429)}
			}},
		{name: "RefusedInsufficientPermissions", key: reader("narrow"), refused: 1, by: pihuhttp.RefusedBy{InsufficientPermissions: 1}, requests: func(k pihuhttp.KeyCreated) []func(*testing.T) {
			return []func(*testing.T){request("POST", "/v1/candidates", k, `{"name":"A","email":"a@example.com"}`, 403)}
		}},
		{name: "RevokedCountsNothing", key: reader("revoked"), requests: func(k pihuhttp.KeyCreated) []func(*testing.T) {
			return []func(*testing.T){request("DELETE", "/v1/auth/api-keys/"+k.ID, pihuhttp.KeyCreated{Key: ts.Owner}, "", 200),
				request("GET", "/v1/candidates", k, "", 401), verify(k, "")}
		}},
		{name: "ExpiredCountsNothing", key: newKey(`{"name":"brief","permissions":["candidate:read"],"expiration":"1m"}`), requests: func(k pihuhttp.KeyCreated) []func(*testing.T) {
			return []func(*testing.T){func(*testing.T) { ts.Clock.Add(time.Minute) }, request("GET", "/v1/candidates", k, "", 401), verify(k, "")}
		}},
		{name: "VerifyValid", key: reader("verified"), allowed: 1, requests: func(k pihuhttp.KeyCreated) []func(*testing.T) {
			return []func(*testing.T){verify(k, `,"permissions":["candidate:read"]`)}
		}},
		{name: "RefusedUsageExceeded", key: newKey(`{"name":"metered","permissions":["*"],"remaining":1}`), allowed: 1, refused: 1,
			by: pihuhttp.RefusedBy{UsageExceeded: 1}, requests: func(k pihuhttp.KeyCreated) []func(*testing.T) {
				return []func(*testing.T){request("GET", "/v1/auth/whoami", k, "", 200), request("GET", "/v1/auth/whoami", k, "", 403)}
			}},
		{name: "VerifyInsufficientPermissions", key: reader("verified narrow"), refused: 1, by: pihuhttp.RefusedBy{InsufficientPermissions: 1}, requests: func(k pihuhttp.KeyCreated) []func(*testing.T) {
			return []func(*testing.T){verify(k, `,"permissions":["candidate:write"]`)}
		}},
		{name: "VerifyIPNotAllowed", key: newKey(`{"name":"verified elsewhere","permissions":["*"],"allowed_ips":["203.0.113.0/24"]}`), allowed: 1, refused: 1,
			by: pihuhttp.RefusedBy{IPNotAllowed: 1},
			requests: func(k pihuhttp.KeyCreated) []func(*testing.T) {
				return []func(*testing.T){verify(k, `,"ip":"198.51.100.1"`), verify(k, `,"ip":"203.0.113.9"`)}
			}},
		{name: "VerifyRateLimited", key: newKey(`{"name":"verified once","permissions":["*"],"rate_limit":"1/m"}`), allowed: 1, refused: 1,
			by: pihuhttp.RefusedBy{RateLimited: 1},
			requests: func(k pihuhttp.KeyCreated) []func(*testing.T) {
				return []func(*testing.T){verify(k, ""), verify(k, "")}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, do := range tt.requests(tt.key) {
				do(t)
			}
			u := ts.usageOf(t, tt.key.ID, "")
			last := u.Data[len(u.Data)-1]
			want := pihuhttp.UsageCounts{Allowed: tt.allowed, Refused: tt.refused, RefusedBy: tt.by}
			if last.UsageCounts != want || u.Total != want {
				t.Errorf("usage of this hour: got %+v (total %+v), want %+v", last, u.Total, want)
			}
		})
	}

	// The verifier counted one allowed request for each of its 8
	// verifications, whatever their answer.
	if got := ts.usageOf(t, pihuAPIKeyID(t, ts, verifier), "").Total; got.Allowed != 8 || got.Refused != 0 {
		t.Errorf("verifier's usage: got %+v, want 8 allowed", got)
	}
}

// pihuAPIKeyID is the id of the key whose secret is given.
func pihuAPIKeyID(tb testing.TB, ts *testServer, secret string) string {
	tb.Helper()
	k, err := ts.Store.KeyByDigest(context.Background(), pihu.Digest(secret))
	if err != nil {
		tb.Fatal(err)
	}
	return k.ID
}

// TestUsage_OffTheHotPath: requests write nothing to the store until the
// Authenticator flushes, yet show in the usage at once, and a flush does
// not count them twice.
func TestUsage_OffTheHotPath(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"k","permissions":["candidate:read"]}`)
	for range 3 {
		ts.do(t, "GET", "/v1/candidates", k.Key, "")
	}
	from, to := pihu.UsageHourly.Window(ts.Clock.Now())
	stored := func() []pihu.UsageCount {
		counts, err := ts.Store.Usage(context.Background(), ts.Account.ID, k.ID, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return counts
	}
	if got := stored(); len(got) != 0 {
		t.Errorf("stored before a flush: got %v, want nothing", got)
	}
	if got := ts.usageOf(t, k.ID, "").Total; got.Allowed != 3 {
		t.Errorf("usage before a flush: got %+v, want 3 allowed", got)
	}
	if err := ts.Auth.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := stored(); len(got) != 1 || got[0].Allowed != 3 {
		t.Errorf("stored after a flush: got %v, want 3 allowed", got)
	}
	if got := ts.usageOf(t, k.ID, "").Total; got.Allowed != 3 {
		t.Errorf("usage after a flush: got %+v, want 3 allowed", got)
	}
}

func TestUsage_Get(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	k := ts.newKey(t, ts.Owner, `{"name":"k","permissions":["candidate:read"]}`)
	revoked := ts.newKey(t, ts.Owner, `{"name":"revoked","permissions":["candidate:read"]}`)
	testKey := ts.newKey(t, ts.Owner, `{"name":"test","permissions":["api_key:read"],"environment":"test"}`)
	testTarget := ts.newKey(t, ts.Owner, `{"name":"test target","permissions":["candidate:read"],"environment":"test"}`)
	once := ts.newKey(t, ts.Owner, `{"name":"once","permissions":["api_key:read"],"rate_limit":"1/m"}`)
	_, otherOwner := ts.newAccount(t, "Other")

	// The clock is 2024-02-20 12:00 UTC. Stored counts: 3 hours ago, 23
	// hours ago (the first hour of the 24), 24 hours ago (outside them,
	// but yesterday), 29 days ago (the first day of the 30) and 30 days
	// ago (outside); and a request now, not flushed.
	now := ts.Clock.Now()
	if err := ts.Store.AddUsage(ctx, []pihu.UsageCount{
		{KeyID: k.ID, Hour: now.Add(-3 * time.Hour), Allowed: 5, Refused: 2, By: pihu.Refusals{pihu.RefusalCredits: 1}},
		{KeyID: k.ID, Hour: now.Add(-23 * time.Hour), Allowed: 7},
		{KeyID: k.ID, Hour: now.Add(-24 * time.Hour), Allowed: 11},
		{KeyID: k.ID, Hour: now.Add(-29 * 24 * time.Hour), Refused: 13},
		{KeyID: k.ID, Hour: now.Add(-30 * 24 * time.Hour), Allowed: 17},
		{KeyID: revoked.ID, Hour: now.Add(-time.Hour), Allowed: 1},
	}, now); err != nil {
		t.Fatal(err)
	}
	ts.do(t, "GET", "/v1/candidates", k.Key, "")
	ts.do(t, "DELETE", "/v1/auth/api-keys/"+revoked.ID, ts.Owner, "")
	path := "/v1/auth/api-keys/" + k.ID + "/usage"

	series := func(granularity string, n int, start, end string, total pihuhttp.UsageCounts, nonzero map[int]pihuhttp.UsageCounts) func(*testing.T, response) {
		return func(t *testing.T, r response) {
			var u pihuhttp.KeyUsage
			r.decode(t, &u)
			if u.KeyID != k.ID || u.Granularity != granularity || u.Start != start || u.End != end || u.Total != total {
				t.Errorf("got key %s, %s from %s to %s, total %+v; want %s, %s from %s to %s, total %+v",
					u.KeyID, u.Granularity, u.Start, u.End, u.Total, k.ID, granularity, start, end, total)
			}
			if len(u.Data) != n {
				t.Fatalf("buckets: got %d, want %d", len(u.Data), n)
			}
			step := time.Hour
			if granularity == "day" {
				step = 24 * time.Hour
			}
			first, _ := time.Parse(time.RFC3339, start)
			for i, b := range u.Data {
				if want := first.Add(time.Duration(i) * step).Format(time.RFC3339); b.Start != want {
					t.Errorf("bucket %d: starts at %s, want %s", i, b.Start, want)
				}
				if got, want := b.UsageCounts, nonzero[i]; got != want {
					t.Errorf("bucket %d (%s): got %+v, want %+v", i, b.Start, got, want)
				}
			}
		}
	}

	// Of the 2 refused 3 hours ago, the store has a reason for 1; the
	// other was counted before reasons were kept (as were the 13).
	oneAndOne := pihuhttp.RefusedBy{UsageExceeded: 1, Other: 1}
	ts.run(t, []scenario{
		{name: "Hourly", method: "GET", path: path, key: ts.Owner, status: 200,
			check: series("hour", 24, "2024-02-19T13:00:00Z", "2024-02-20T13:00:00Z", pihuhttp.UsageCounts{Allowed: 13, Refused: 2, RefusedBy: oneAndOne},
				map[int]pihuhttp.UsageCounts{0: {Allowed: 7}, 20: {Allowed: 5, Refused: 2, RefusedBy: oneAndOne}, 23: {Allowed: 1}})},
		{name: "HourlyByName", method: "GET", path: path + "?granularity=hour", key: ts.Owner, status: 200,
			check: series("hour", 24, "2024-02-19T13:00:00Z", "2024-02-20T13:00:00Z", pihuhttp.UsageCounts{Allowed: 13, Refused: 2, RefusedBy: oneAndOne},
				map[int]pihuhttp.UsageCounts{0: {Allowed: 7}, 20: {Allowed: 5, Refused: 2, RefusedBy: oneAndOne}, 23: {Allowed: 1}})},
		{name: "Daily", method: "GET", path: path + "?granularity=day", key: ts.Owner, status: 200,
			check: series("day", 30, "2024-01-22T00:00:00Z", "2024-02-21T00:00:00Z", pihuhttp.UsageCounts{Allowed: 24, Refused: 15, RefusedBy: pihuhttp.RefusedBy{UsageExceeded: 1, Other: 14}},
				map[int]pihuhttp.UsageCounts{0: {Refused: 13, RefusedBy: pihuhttp.RefusedBy{Other: 13}}, 28: {Allowed: 18}, 29: {Allowed: 6, Refused: 2, RefusedBy: oneAndOne}})},
		{name: "RevokedKeyHasUsage", method: "GET", path: "/v1/auth/api-keys/" + revoked.ID + "/usage", key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				var u pihuhttp.KeyUsage
				r.decode(t, &u)
				if u.Total.Allowed != 1 || u.Data[22].Allowed != 1 {
					t.Errorf("got %+v, want 1 allowed an hour ago", u.Total)
				}
			}},
		{name: "TestKeySeesTestKey", method: "GET", path: "/v1/auth/api-keys/" + testTarget.ID + "/usage", key: testKey.Key, status: 200},
		{name: "ErrGranularityUnknown", method: "GET", path: path + "?granularity=week", key: ts.Owner, status: 400, code: "parameter_invalid", param: "granularity"},
		{name: "ErrGranularityEmpty", method: "GET", path: path + "?granularity=", key: ts.Owner, status: 400, code: "parameter_invalid", param: "granularity"},
		{name: "ErrGranularityTwice", method: "GET", path: path + "?granularity=day&granularity=day", key: ts.Owner, status: 400, code: "parameter_invalid", param: "granularity"},
		{name: "ErrUnknownParameter", method: "GET", path: path + "?limit=10", key: ts.Owner, status: 400, code: "parameter_unknown", param: "limit"},
		{name: "ErrMalformedQuery", method: "GET", path: path + "?granularity=day;x", key: ts.Owner, status: 400, code: "parameter_invalid", param: "granularity"},
		{name: "ErrNoKey", method: "GET", path: path, status: 401, code: "missing_api_key"},
		{name: "ErrNoPermission", method: "GET", path: path, key: k.Key, status: 403, code: "insufficient_permissions"},
		{name: "ErrUnknown", method: "GET", path: "/v1/auth/api-keys/key_nope/usage", key: ts.Owner, status: 404, code: "not_found"},
		{name: "ErrOtherAccount", method: "GET", path: path, key: otherOwner, status: 404, code: "not_found"},
		{name: "ErrTestKeyLooksAtLiveKey", method: "GET", path: path, key: testKey.Key, status: 404, code: "not_found"},
		{name: "ErrMethod", method: "POST", path: path, key: ts.Owner, body: `{}`, status: 405, code: "method_not_allowed",
			check: func(t *testing.T, r response) {
				if got := r.header.Get("Allow"); got != "GET" {
					t.Errorf("Allow: got %q, want %q", got, "GET")
				}
			}},
		{name: "FirstOfLimit", method: "GET", path: path, key: once.Key, status: 200},
		{name: "ErrRateLimited", method: "GET", path: path, key: once.Key, status: 429, code: "rate_limited"},
	})
}
