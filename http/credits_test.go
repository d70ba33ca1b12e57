package http_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/internal/redistest"
	"github.com/pihu-ai/pihu/ratelimit"
	"github.com/pihu-ai/pihu/redisbus"
)

// callCountingStore counts the store calls of the request path: key
// reads, account reads and spends of credits.
type callCountingStore struct {
	pihu.Store
	keyReads, accountReads, spends atomic.Int64
}

func (s *callCountingStore) KeyByDigest(ctx context.Context, d []byte) (*pihu.Key, error) {
	s.keyReads.Add(1)
	return s.Store.KeyByDigest(ctx, d)
}

func (s *callCountingStore) Account(ctx context.Context, id string) (*pihu.Account, error) {
	s.accountReads.Add(1)
	return s.Store.Account(ctx, id)
}

func (s *callCountingStore) SpendCredits(ctx context.Context, id string, cost int64, now time.Time) (pihu.Spend, error) {
	s.spends.Add(1)
	return s.Store.SpendCredits(ctx, id, cost, now)
}

func (s *callCountingStore) calls() int64 {
	return s.keyReads.Load() + s.accountReads.Load() + s.spends.Load()
}

// newCountingServer is a test server whose store calls are counted.
func newCountingServer(t *testing.T) (*testServer, *callCountingStore) {
	var cs *callCountingStore
	ts := newTestServer(t, func(o *pihuhttp.Options) {
		cs = &callCountingStore{Store: o.Store}
		o.Store = cs
		o.Auth = auth.New(cs, auth.Options{Now: o.Now})
	})
	return ts, cs
}

func (ts *testServer) keyItem(tb testing.TB, id string) pihuhttp.KeyItem {
	tb.Helper()
	var item pihuhttp.KeyItem
	r := ts.do(tb, "GET", "/v1/auth/api-keys/"+id, ts.Owner, "")
	if r.status != 200 {
		tb.Fatalf("GET key %s: %d %s", id, r.status, r.body)
	}
	r.decode(tb, &item)
	return item
}

func checkStatus(tb testing.TB, r response, status int, code string) {
	tb.Helper()
	if r.status != status {
		tb.Fatalf("got %d %s, want %d %s", r.status, r.body, status, code)
	}
	if code != "" {
		if got := r.errorBody(tb).Code; got != code {
			tb.Fatalf("code: got %q, want %q (%s)", got, code, r.body)
		}
	}
}

// TestCredits_SpendExact spends a key of 100 credits from 16 goroutines
// through the API: exactly 100 requests get through, every other one is
// 403 usage_exceeded; then the same through verify, with a cost.
func TestCredits_SpendExact(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"metered","permissions":["candidate:read"],"remaining":100,"rate_limit":"100000/m"}`)
	if k.Remaining == nil || *k.Remaining != 100 || k.Refill != nil || k.NextRefill != nil {
		t.Fatalf("created: remaining %v refill %v next %v", k.Remaining, k.Refill, k.NextRefill)
	}
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 10 {
				r := ts.do(t, "GET", "/v1/auth/whoami", k.Key, "")
				switch {
				case r.status == 200:
					ok.Add(1)
				case r.status == 403 && strings.Contains(string(r.body), `"usage_exceeded"`):
					refused.Add(1)
				default:
					t.Errorf("got %d %s", r.status, r.body)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != 100 || refused.Load() != 60 {
		t.Errorf("got %d through and %d refused, want 100 and 60", ok.Load(), refused.Load())
	}
	if got := ts.keyItem(t, k.ID).Remaining; got == nil || *got != 0 {
		t.Errorf("remaining: got %v, want 0", got)
	}

	verifier := ts.newKey(t, ts.Owner, `{"name":"verifier","permissions":["api_key:verify"],"rate_limit":"100000/m"}`).Key
	v := ts.newKey(t, ts.Owner, `{"name":"verified","permissions":["candidate:read"],"remaining":100,"rate_limit":"100000/m"}`)
	var valid atomic.Int64
	for range 16 {
		wg.Go(func() {
			for range 20 {
				var res pihuhttp.VerifyResult
				r := ts.do(t, "POST", "/v1/auth/verify", verifier, `{"key":"`+v.Key+`","cost":2}`)
				r.decode(t, &res)
				if res.Valid {
					valid.Add(1)
				} else if res.Code != pihuhttp.VerifyUsageExceeded {
					t.Errorf("got %s", r.body)
				}
			}
		})
	}
	wg.Wait()
	if valid.Load() != 50 {
		t.Errorf("valid verifications of cost 2 with 100 credits: got %d, want 50", valid.Load())
	}
}

// TestCredits_UsageExceeded: the 403 names the next refill in its
// message and headers, and the key works again once it has come.
func TestCredits_UsageExceeded(t *testing.T) {
	ts := newTestServer(t) // 2024-02-20 12:00 UTC
	k := ts.newKey(t, ts.Owner, `{"name":"daily","permissions":["candidate:read"],"remaining":1,"refill":{"interval":"daily","amount":5}}`)
	if k.NextRefill == nil || *k.NextRefill != "2024-02-21T00:00:00Z" || k.Refill == nil || k.Refill.Day != nil {
		t.Fatalf("created: next_refill %v, refill %+v", k.NextRefill, k.Refill)
	}
	checkStatus(t, ts.do(t, "GET", "/v1/candidates", k.Key, ""), 200, "")
	r := ts.do(t, "GET", "/v1/candidates", k.Key, "")
	checkStatus(t, r, 403, pihu.EUsageExceeded)
	if e := r.errorBody(t); e.Type != "permission_error" || !strings.Contains(e.Message, "2024-02-21T00:00:00Z") {
		t.Errorf("error: got %+v", e)
	}
	if got := r.header.Get(pihuhttp.HeaderCreditsRefill); got != "2024-02-21T00:00:00Z" {
		t.Errorf("%s: got %q", pihuhttp.HeaderCreditsRefill, got)
	}
	if got := r.header.Get("Retry-After"); got != "43200" {
		t.Errorf("Retry-After: got %q, want 43200 (12 h)", got)
	}
	ts.Clock.Add(12 * time.Hour)
	ts.Auth.Invalidate(k.ID) // the key's cache entry is not what refills it; the store is
	checkStatus(t, ts.do(t, "GET", "/v1/candidates", k.Key, ""), 200, "")
	if got := ts.keyItem(t, k.ID); got.Remaining == nil || *got.Remaining != 4 || *got.NextRefill != "2024-02-22T00:00:00Z" {
		t.Errorf("after the refill: remaining %v, next %v; want 4, 2024-02-22", got.Remaining, got.NextRefill)
	}

	// Without a refill: no header, and the message says how to add.
	once := ts.newKey(t, ts.Owner, `{"name":"once","permissions":["candidate:read"],"remaining":0}`)
	r = ts.do(t, "GET", "/v1/candidates", once.Key, "")
	checkStatus(t, r, 403, pihu.EUsageExceeded)
	if r.header.Get(pihuhttp.HeaderCreditsRefill) != "" || r.header.Get("Retry-After") != "" || !strings.Contains(r.errorBody(t).Message, "PATCH") {
		t.Errorf("no refill: headers %v, body %s", r.header, r.body)
	}
}

// TestCredits_RefusedSpendsNothing: a request refused for its address,
// its rate limit or a permission spends no credit.
func TestCredits_RefusedSpendsNothing(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"m","permissions":["candidate:read"],"remaining":5,"rate_limit":"1/h"}`)
	far := ts.newKey(t, ts.Owner, `{"name":"far","permissions":["candidate:read"],"remaining":5,"allowed_ips":["203.0.113.7"]}`)
	checkStatus(t, ts.do(t, "GET", "/v1/interviews", k.Key, ""), 403, pihu.EInsufficientPermissions) // spends the rate limit, not a credit
	checkStatus(t, ts.do(t, "GET", "/v1/candidates", k.Key, ""), 429, pihu.ERateLimited)
	checkStatus(t, ts.do(t, "GET", "/v1/candidates", far.Key, ""), 403, pihu.EIPNotAllowed)
	for _, id := range []string{k.ID, far.ID} {
		if got := ts.keyItem(t, id).Remaining; got == nil || *got != 5 {
			t.Errorf("key %s: remaining %v, want 5", id, got)
		}
	}
}

func ptrString(p *int64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// TestCredits_ReplaySpendsNothing: a retry of a POST with its
// Idempotency-Key gets the first answer and spends no credit (it does not
// run again), even once the key has none left; a request refused for its
// credits keeps no record, so its retry runs once credits are back; a
// refused Idempotency-Key spends nothing.
func TestCredits_ReplaySpendsNothing(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"m","permissions":["candidate:write"],"remaining":2}`)
	remaining := func(want int64) {
		t.Helper()
		if got := ts.keyItem(t, k.ID).Remaining; got == nil || *got != want {
			t.Errorf("remaining: got %s, want %d", ptrString(got), want)
		}
	}
	first := ts.post(t, "/v1/candidates", k.Key, `{"name":"Ada","email":"ada@example.com"}`, "create-ada")
	checkActed(t, first, 200)
	remaining(1)
	checkReplay(t, ts.post(t, "/v1/candidates", k.Key, `{"name":"Ada","email":"ada@example.com"}`, "create-ada"), first)
	remaining(1)
	checkStatus(t, ts.post(t, "/v1/candidates", k.Key, `{"name":"Grace","email":"grace@example.com"}`, "create-ada"), 400, pihu.EIdempotencyKeyReused)
	remaining(1)
	checkActed(t, ts.post(t, "/v1/candidates", k.Key, `{"name":"Linus","email":"linus@example.com"}`, "create-linus"), 200)
	remaining(0)
	// Out of credits: the replay still answers, a new request does not.
	checkReplay(t, ts.post(t, "/v1/candidates", k.Key, `{"name":"Ada","email":"ada@example.com"}`, "create-ada"), first)
	checkStatus(t, ts.post(t, "/v1/candidates", k.Key, `{"name":"Edsger","email":"edsger@example.com"}`, "create-edsger"), 403, pihu.EUsageExceeded)
	if r := ts.do(t, "PATCH", "/v1/auth/api-keys/"+k.ID, ts.Owner, `{"remaining":1}`); r.status != 200 {
		t.Fatalf("PATCH remaining: %d %s", r.status, r.body)
	}
	checkActed(t, ts.post(t, "/v1/candidates", k.Key, `{"name":"Edsger","email":"edsger@example.com"}`, "create-edsger"), 200)
	remaining(0)
	if n := ts.count(t, ts.Owner, "/v1/candidates"); n != 3 {
		t.Errorf("candidates: got %d, want 3 (Ada, Linus, Edsger once each)", n)
	}
}

// TestCredits_WarmKeyCallsNoStore: a warm key without credits makes no
// store call at all; one with credits makes exactly one, its spend.
func TestCredits_WarmKeyCallsNoStore(t *testing.T) {
	ts, cs := newCountingServer(t)
	free := ts.newKey(t, ts.Owner, `{"name":"free","permissions":["candidate:read"]}`)
	metered := ts.newKey(t, ts.Owner, `{"name":"metered","permissions":["candidate:read"],"remaining":10,"metadata":{"plan":"pro"}}`)
	for _, k := range []string{free.Key, metered.Key} {
		checkStatus(t, ts.do(t, "GET", "/v1/auth/whoami", k, ""), 200, "") // warm
	}
	before := cs.calls()
	for range 5 {
		checkStatus(t, ts.do(t, "GET", "/v1/auth/whoami", free.Key, ""), 200, "")
	}
	if got := cs.calls() - before; got != 0 {
		t.Errorf("store calls of 5 warm requests without credits: got %d, want 0", got)
	}
	before, spends := cs.calls(), cs.spends.Load()
	for range 5 {
		checkStatus(t, ts.do(t, "GET", "/v1/auth/whoami", metered.Key, ""), 200, "")
	}
	if got := cs.calls() - before; got != 5 || cs.spends.Load()-spends != 5 {
		t.Errorf("store calls of 5 warm requests with credits: got %d, want 5 spends", got)
	}
}

func TestVerify_CreditsAndMetadata(t *testing.T) {
	ts := newTestServer(t)
	verifier := ts.newKey(t, ts.Owner, `{"name":"verifier","permissions":["api_key:verify"]}`).Key
	k := ts.newKey(t, ts.Owner, `{"name":"m","permissions":["candidate:read"],"remaining":5,"metadata":{"plan":"pro","seats":3},
		"refill":{"interval":"monthly","amount":5,"day":31}}`)
	free := ts.newKey(t, ts.Owner, `{"name":"free","permissions":["candidate:read"]}`)
	verify := func(body string) pihuhttp.VerifyResult {
		t.Helper()
		var res pihuhttp.VerifyResult
		r := ts.do(t, "POST", "/v1/auth/verify", verifier, body)
		checkStatus(t, r, 200, "")
		r.decode(t, &res)
		return res
	}
	check := func(res pihuhttp.VerifyResult, code string, remaining int64) {
		t.Helper()
		if res.Code != code || res.Remaining == nil || *res.Remaining != remaining || string(res.Metadata) != `{"plan":"pro","seats":3}` ||
			res.NextRefill == nil || *res.NextRefill != "2024-02-29T00:00:00Z" {
			t.Errorf("got %+v (remaining %v, next %v), want %s with %d left", res, res.Remaining, res.NextRefill, code, remaining)
		}
	}
	check(verify(`{"key":"`+k.Key+`"}`), pihuhttp.VerifyValid, 4)
	check(verify(`{"key":"`+k.Key+`","cost":0}`), pihuhttp.VerifyValid, 4)
	check(verify(`{"key":"`+k.Key+`","cost":3}`), pihuhttp.VerifyValid, 1)
	check(verify(`{"key":"`+k.Key+`","cost":2}`), pihuhttp.VerifyUsageExceeded, 1)
	check(verify(`{"key":"`+k.Key+`","cost":1}`), pihuhttp.VerifyValid, 0)
	check(verify(`{"key":"`+k.Key+`","cost":0}`), pihuhttp.VerifyUsageExceeded, 0)
	// Refused before the credits are looked at: nothing spent, none shown.
	res := verify(`{"key":"` + k.Key + `","permissions":["interview:read"]}`)
	if res.Code != pihuhttp.VerifyInsufficientPermissions || res.Remaining != nil || string(res.Metadata) != `{"plan":"pro","seats":3}` {
		t.Errorf("got %+v", res)
	}
	res = verify(`{"key":"` + free.Key + `","cost":1000}`)
	if !res.Valid || res.Remaining != nil || res.NextRefill != nil || !isNull(res.Metadata) {
		t.Errorf("a key without credits: got %+v", res)
	}
	for _, body := range []string{`{"key":"x","cost":-1}`, `{"key":"x","cost":1.5}`, `{"key":"x","cost":"1"}`} {
		r := ts.do(t, "POST", "/v1/auth/verify", verifier, body)
		checkStatus(t, r, 400, "")
		if p := r.errorBody(t).Param; p != "cost" {
			t.Errorf("%s: param %q, want cost", body, p)
		}
	}
}

func TestKeys_Metadata(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"m","permissions":["candidate:read"],"metadata":{ "plan" : "pro", "limits":{"a":[1,2]} }}`)
	const want = `{"plan":"pro","limits":{"a":[1,2]}}`
	if string(k.Metadata) != want {
		t.Errorf("created: metadata %s, want %s", k.Metadata, want)
	}
	if got := ts.keyItem(t, k.ID); string(got.Metadata) != want || got.Imported || got.Hint == nil {
		t.Errorf("get: %+v", got)
	}
	var rotated pihuhttp.RotatedKey
	r := ts.do(t, "POST", "/v1/auth/api-keys/"+k.ID+"/rotate", ts.Owner, "")
	checkStatus(t, r, 200, "")
	r.decode(t, &rotated)
	if string(rotated.Metadata) != want {
		t.Errorf("rotated: metadata %s, want it carried over", rotated.Metadata)
	}
	members := make([]string, 51)
	for i := range members {
		members[i] = fmt.Sprintf(`"m%d":1`, i)
	}
	for name, md := range map[string]string{
		"Array":    `[1]`,
		"String":   `"pro"`,
		"TooLarge": `{"a":"` + strings.Repeat("x", 4100) + `"}`,
		"51":       `{` + strings.Join(members, ",") + `}`,
	} {
		r := ts.do(t, "POST", "/v1/auth/api-keys", ts.Owner, `{"name":"m","permissions":["candidate:read"],"metadata":`+md+`}`)
		checkStatus(t, r, 400, pihu.EParameterInvalid)
		if p := r.errorBody(t).Param; p != "metadata" {
			t.Errorf("%s: param %q, want metadata", name, p)
		}
	}
}

func TestKeys_Update(t *testing.T) {
	ts := newTestServer(t)
	writer := ts.newKey(t, ts.Owner, `{"name":"writer","permissions":["api_key:write","api_key:read","candidate:read"]}`)
	k := ts.newKey(t, ts.Owner, `{"name":"target","permissions":["candidate:read"],"remaining":3}`)
	path := "/v1/auth/api-keys/" + k.ID
	checkStatus(t, ts.do(t, "GET", "/v1/candidates", k.Key, ""), 200, "") // warm, 2 left

	var item pihuhttp.KeyItem
	r := ts.do(t, "PATCH", path, writer.Key, `{"name":"renamed","metadata":{"plan":"team"},"add":10,"rate_limit":"5/s","expires":"2024-03-01T00:00:00Z"}`)
	checkStatus(t, r, 200, "")
	r.decode(t, &item)
	if item.Name != "renamed" || string(item.Metadata) != `{"plan":"team"}` || *item.Remaining != 12 || *item.RateLimit != "5/s" || *item.Expires != "2024-03-01T00:00:00Z" {
		t.Errorf("updated: %+v", item)
	}
	events := ts.events(t, ts.Owner)
	if ev := events[0]; ev.Action != pihu.ActionKeyUpdated || ev.Target != k.ID || strings.Join(ev.Changes, ",") != "name,rate_limit,metadata,expires,add" {
		t.Errorf("event: %+v", ev)
	}
	// Clearing, and credits set then stopped.
	r = ts.do(t, "PATCH", path, writer.Key, `{"metadata":null,"expires":null,"remaining":7,"refill":{"interval":"monthly","amount":7}}`)
	checkStatus(t, r, 200, "")
	r.decode(t, &item)
	if !isNull(item.Metadata) || item.Expires != nil || *item.Remaining != 7 || item.Refill == nil || *item.Refill.Day != 1 {
		t.Errorf("cleared: %+v", item)
	}
	r = ts.do(t, "PATCH", path, writer.Key, `{"remaining":null}`)
	checkStatus(t, r, 200, "")
	r.decode(t, &item)
	if item.Remaining != nil || item.Refill != nil {
		t.Errorf("credits stopped: %+v", item)
	}

	// The change reaches the cache at once: a permission taken away.
	checkStatus(t, ts.do(t, "PATCH", path, writer.Key, `{"permissions":["api_key:read"]}`), 200, "")
	checkStatus(t, ts.do(t, "GET", "/v1/candidates", k.Key, ""), 403, pihu.EInsufficientPermissions)

	other, otherOwner := ts.newAccount(t, "Other")
	_ = other
	narrow := ts.newKey(t, ts.Owner, `{"name":"narrow","permissions":["api_key:write"],"allowed_ips":["127.0.0.1"]}`)
	limited := ts.newKey(t, ts.Owner, `{"name":"limited","permissions":["api_key:write","candidate:read"],"expiration":"1d"}`)
	for _, c := range []struct {
		name, key, path, body string
		status                int
		code, param           string
	}{
		{"EmptyBody", writer.Key, path, ``, 400, pihu.EInvalidJSON, ""},
		{"NoField", writer.Key, path, `{}`, 400, pihu.EParameterMissing, ""},
		{"UnknownField", writer.Key, path, `{"key":"x"}`, 400, pihu.EParameterUnknown, "key"},
		{"RemainingAndAdd", writer.Key, path, `{"remaining":1,"add":1}`, 400, pihu.EParameterInvalid, "add"},
		{"AddWithoutCredits", writer.Key, path, `{"add":1}`, 400, pihu.EParameterInvalid, "add"},
		{"BadRefill", writer.Key, path, `{"remaining":1,"refill":{"interval":"weekly","amount":1}}`, 400, pihu.EParameterInvalid, "refill"},
		{"BadExpires", writer.Key, path, `{"expires":"tomorrow"}`, 400, pihu.EParameterInvalid, "expires"},
		{"PastExpires", writer.Key, path, `{"expires":"2020-01-01T00:00:00Z"}`, 400, pihu.EParameterInvalid, "expires"},
		{"Escalation", writer.Key, path, `{"permissions":["*"]}`, 403, pihu.EInsufficientPermissions, "permissions"},
		{"SelfEscalation", writer.Key, "/v1/auth/api-keys/" + writer.ID, `{"permissions":["api_key:write","interview:write"]}`, 403, pihu.EInsufficientPermissions, "permissions"},
		{"NarrowerCaller", narrow.Key, path, `{"name":"x"}`, 403, pihu.EInsufficientPermissions, ""},
		{"Outliving", limited.Key, path, `{"expires":null}`, 400, pihu.EParameterInvalid, "expires"},
		{"SelfOutliving", limited.Key, "/v1/auth/api-keys/" + limited.ID, `{"expires":null}`, 403, pihu.EInsufficientPermissions, "expires"},
		{"OtherAccount", otherOwner, path, `{"name":"x"}`, 404, pihu.ENotFound, ""},
		{"NoPermission", k.Key, path, `{"name":"x"}`, 403, pihu.EInsufficientPermissions, ""},
		{"Unauthenticated", "", path, `{"name":"x"}`, 401, pihu.EMissingAPIKey, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ts.do(t, "PATCH", c.path, c.key, c.body)
			checkStatus(t, r, c.status, c.code)
			if c.param != "" && r.errorBody(t).Param != c.param {
				t.Errorf("param: got %q, want %q", r.errorBody(t).Param, c.param)
			}
		})
	}
	// A key may change itself within its rights.
	r = ts.do(t, "PATCH", "/v1/auth/api-keys/"+writer.ID, writer.Key, `{"name":"me","permissions":["api_key:write","api_key:read"]}`)
	checkStatus(t, r, 200, "")
	// A revoked key is not found.
	checkStatus(t, ts.do(t, "DELETE", path, ts.Owner, ""), 200, "")
	checkStatus(t, ts.do(t, "PATCH", path, ts.Owner, `{"name":"x"}`), 404, pihu.ENotFound)
}

// TestKeys_UpdateReachesOtherInstances: a PATCH through one instance is
// seen at once by another that holds the key warm, through Redis.
func TestKeys_UpdateReachesOtherInstances(t *testing.T) {
	url := redistest.URL(t)
	channel := redistest.Prefix(t) + "invalidate"
	bus := func() *redisbus.Bus {
		c, err := ratelimit.DialRedis(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return redisbus.New(c, redisbus.Options{Channel: channel})
	}
	var this *auth.Authenticator
	ts := newTestServer(t, func(o *pihuhttp.Options) {
		this = auth.New(o.Store, auth.Options{Now: o.Now, TTL: time.Hour, Invalidations: bus()})
		o.Auth = this
	})
	other := auth.New(ts.Store, auth.Options{Now: ts.Clock.Now, TTL: time.Hour, Invalidations: bus()})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { this.Listen(ctx) })
	wg.Go(func() { other.Listen(ctx) })
	deadline := time.Now().Add(5 * time.Second)
	for !(other.Subscribed() && this.Subscribed()) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	k := ts.newKey(t, ts.Owner, `{"name":"k","permissions":["candidate:read"],"metadata":{"v":1}}`)
	if got, err := other.Authenticate(ctx, k.Key); err != nil || string(got.Metadata) != `{"v":1}` {
		t.Fatalf("warming: %v, %v", got, err)
	}
	checkStatus(t, ts.do(t, "PATCH", "/v1/auth/api-keys/"+k.ID, ts.Owner, `{"metadata":{"v":2},"remaining":3}`), 200, "")
	for time.Now().Before(deadline.Add(5 * time.Second)) {
		got, err := other.Authenticate(ctx, k.Key)
		if err == nil && string(got.Metadata) == `{"v":2}` && got.Credits != nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the other instance did not see the change")
}

// isNull reports whether a raw member decoded from a response is null.
func isNull(raw []byte) bool { return raw == nil || string(raw) == "null" }

func digestHex(secret string) string {
	d := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(d[:])
}

func TestKeys_Import(t *testing.T) {
	ts, cs := newCountingServer(t)
	secrets := []string{"sk_live_legacy0123456789abcdef", "unkey_3ZbD9kQe7aM1xT5pL8wR2"}
	body := fmt.Sprintf(`{"keys":[
		{"hash":%q,"name":"legacy","permissions":["candidate:read"],"metadata":{"from":"legacy"},"remaining":2},
		{"hash":%q,"name":"unkey","permissions":["candidate:read"],"environment":"test","expires":"2025-01-01T00:00:00Z"}]}`,
		digestHex(secrets[0]), strings.ToUpper(digestHex(secrets[1])))
	r := ts.do(t, "POST", "/v1/auth/api-keys/import", ts.Owner, body)
	checkStatus(t, r, 200, "")
	var out pihuhttp.ImportedKeys
	r.decode(t, &out)
	if len(out.Data) != 2 || !out.Data[0].Imported || out.Data[0].Hint != nil || *out.Data[0].Remaining != 2 || out.Data[1].Environment != "test" {
		t.Fatalf("imported: %s", r.body)
	}
	for _, s := range secrets {
		checkStatus(t, ts.do(t, "GET", "/v1/candidates", s, ""), 200, "")
	}
	// Again: a hash stored already is a 409 naming it, and nothing is
	// stored.
	fresh := "a-fresh-secret-of-another-system"
	r = ts.do(t, "POST", "/v1/auth/api-keys/import", ts.Owner, fmt.Sprintf(`{"keys":[
		{"hash":%q,"name":"fresh","permissions":["candidate:read"]},
		{"hash":%q,"name":"again","permissions":["candidate:read"]}]}`, digestHex(fresh), digestHex(secrets[0])))
	checkStatus(t, r, 409, pihu.EKeyExists)
	if p := r.errorBody(t).Param; p != "keys[1].hash" {
		t.Errorf("param: got %q", p)
	}
	checkStatus(t, ts.do(t, "GET", "/v1/candidates", fresh, ""), 401, pihu.EInvalidAPIKey)
	// Now remembered as unknown; importing it makes it known at once.
	r = ts.do(t, "POST", "/v1/auth/api-keys/import", ts.Owner, fmt.Sprintf(`{"keys":[{"hash":%q,"name":"fresh","permissions":["candidate:read"]}]}`, digestHex(fresh)))
	checkStatus(t, r, 200, "")
	checkStatus(t, ts.do(t, "GET", "/v1/candidates", fresh, ""), 200, "")

	// Garbage: not shaped as an importable secret, no read; the same
	// unknown secret twice, one read.
	before := cs.keyReads.Load()
	for _, g := range []string{"short", "ph_live_notachecksum0000000000000000000000000000000", strings.Repeat("x", 300)} {
		checkStatus(t, ts.do(t, "GET", "/v1/candidates", g, ""), 401, pihu.EInvalidAPIKey)
	}
	if got := cs.keyReads.Load() - before; got != 0 {
		t.Errorf("reads for malformed secrets: got %d, want 0", got)
	}
	before = cs.keyReads.Load()
	for range 3 {
		checkStatus(t, ts.do(t, "GET", "/v1/candidates", "an-unknown-secret-of-no-system", ""), 401, pihu.EInvalidAPIKey)
	}
	if got := cs.keyReads.Load() - before; got != 1 {
		t.Errorf("reads for one unknown secret sent 3 times: got %d, want 1", got)
	}

	escalating := ts.newKey(t, ts.Owner, `{"name":"w","permissions":["api_key:write"]}`).Key
	for _, c := range []struct {
		name, key, body string
		status          int
		code, param     string
	}{
		{"NoKeys", ts.Owner, `{"keys":[]}`, 400, pihu.EParameterInvalid, "keys"},
		{"Missing", ts.Owner, `{}`, 400, pihu.EParameterMissing, "keys"},
		{"BadHash", ts.Owner, `{"keys":[{"hash":"abc","name":"x","permissions":["candidate:read"]}]}`, 400, pihu.EParameterInvalid, "keys[0].hash"},
		{"NoName", ts.Owner, `{"keys":[{"hash":"` + digestHex("n") + `","permissions":["candidate:read"]}]}`, 400, pihu.EParameterMissing, "keys[0].name"},
		{"UnknownField", ts.Owner, `{"keys":[{"hash":"` + digestHex("n") + `","name":"x","permissions":["candidate:read"],"key":"x"}]}`, 400, pihu.EParameterUnknown, "key"},
		{"Escalation", escalating, `{"keys":[{"hash":"` + digestHex("n") + `","name":"x","permissions":["candidate:read"]}]}`, 403, pihu.EInsufficientPermissions, "keys[0].permissions"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ts.do(t, "POST", "/v1/auth/api-keys/import", c.key, c.body)
			checkStatus(t, r, c.status, c.code)
			if r.errorBody(t).Param != c.param {
				t.Errorf("param: got %q, want %q", r.errorBody(t).Param, c.param)
			}
		})
	}
}

// TestKeys_ImportMany imports 1,000 keys in one request, larger than the
// 64 KiB of other bodies.
func TestKeys_ImportMany(t *testing.T) {
	ts := newTestServer(t)
	var b strings.Builder
	b.WriteString(`{"keys":[`)
	for i := range 1000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"hash":%q,"name":"legacy %d","permissions":["candidate:read"]}`, digestHex(fmt.Sprintf("legacy-secret-number-%d", i)), i)
	}
	b.WriteString(`]}`)
	r := ts.post(t, "/v1/auth/api-keys/import", ts.Owner, b.String(), "import-1")
	checkStatus(t, r, 200, "")
	var out pihuhttp.ImportedKeys
	r.decode(t, &out)
	if len(out.Data) != 1000 {
		t.Fatalf("imported %d keys, want 1000", len(out.Data))
	}
	replay := ts.post(t, "/v1/auth/api-keys/import", ts.Owner, b.String(), "import-1")
	if replay.status != 200 || replay.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %d, %v", replay.status, replay.header)
	}
	checkStatus(t, ts.do(t, "GET", "/v1/candidates", "legacy-secret-number-999", ""), 200, "")
	over := `{"keys":[` + strings.Repeat(`{"hash":"`+digestHex("x")+`","name":"x","permissions":["candidate:read"]},`, 1000) + `{"hash":"` + digestHex("y") + `","name":"y","permissions":["candidate:read"]}]}`
	checkStatus(t, ts.do(t, "POST", "/v1/auth/api-keys/import", ts.Owner, over), 400, pihu.EParameterInvalid)
}
