package http_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/ratelimit"
)

// rateHeaders checks the RateLimit-* headers of a response, RateLimit and
// RateLimit-Policy (whatever their policy and window), and Retry-After:
// retry 0 means the header must be absent.
func rateHeaders(limit, remaining, reset, retry int) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		t.Helper()
		for _, h := range []struct {
			name string
			want int
		}{{"RateLimit-Limit", limit}, {"RateLimit-Remaining", remaining}, {"RateLimit-Reset", reset}} {
			if got := r.header.Get(h.name); got != strconv.Itoa(h.want) {
				t.Errorf("%s: got %q, want %d", h.name, got, h.want)
			}
		}
		if got, want := r.header.Get("RateLimit"), fmt.Sprintf(";r=%d;t=%d", remaining, reset); !strings.HasPrefix(got, `"`) || !strings.HasSuffix(got, want) {
			t.Errorf("RateLimit: got %q, want \"policy\"%s", got, want)
		}
		if got, want := r.header.Get("RateLimit-Policy"), fmt.Sprintf(";q=%d;w=", limit); !strings.Contains(got, want) {
			t.Errorf("RateLimit-Policy: got %q, want it to hold %s", got, want)
		}
		got := r.header.Get("Retry-After")
		if retry == 0 && got != "" || retry != 0 && got != strconv.Itoa(retry) {
			t.Errorf("Retry-After: got %q, want %d (0: none)", got, retry)
		}
		if r.status == 429 {
			if e := r.errorBody(t); e.Type != "rate_limit_error" {
				t.Errorf("error.type: got %q, want rate_limit_error", e.Type)
			}
		}
	}
}

// TestRateLimit_Key: a 5/m key makes 5 requests, its 6th is a 429 with the
// headers, one request comes back every 12 s, and no other key is touched.
func TestRateLimit_Key(t *testing.T) {
	ts := newTestServer(t)
	five := ts.newKey(t, ts.Owner, `{"name":"five","permissions":["api_key:read"],"rate_limit":"5/m"}`).Key
	other := ts.newKey(t, ts.Owner, `{"name":"other","permissions":["api_key:read"]}`).Key
	whoami := func(name, key string, status int, check func(*testing.T, response)) scenario {
		sc := scenario{name: name, method: "GET", path: "/v1/auth/whoami", key: key, status: status, check: check}
		if status == 429 {
			sc.code = "rate_limited"
		}
		return sc
	}
	ts.run(t, []scenario{
		whoami("1st", five, 200, rateHeaders(5, 4, 12, 0)),
		whoami("2nd", five, 200, rateHeaders(5, 3, 24, 0)),
		whoami("3rd", five, 200, rateHeaders(5, 2, 36, 0)),
		whoami("4th", five, 200, rateHeaders(5, 1, 48, 0)),
		whoami("5th", five, 200, rateHeaders(5, 0, 60, 0)),
		whoami("6thIs429", five, 429, rateHeaders(5, 0, 60, 12)),
		// Over its limit, the key gets 429 before its permissions are
		// looked at: no 403 tells it anything meanwhile.
		{name: "429BeforePermission", method: "POST", path: "/v1/auth/api-keys", key: five, body: seedBody, status: 429, code: "rate_limited",
			check: rateHeaders(5, 0, 60, 12)},
		whoami("OtherKeyUntouched", other, 200, rateHeaders(1000, 999, 1, 0)),
		{name: "403CarriesHeaders", method: "POST", path: "/v1/auth/api-keys", key: other, body: seedBody, status: 403, code: "insufficient_permissions",
			check: rateHeaders(1000, 998, 1, 0)},
		{name: "400CarriesHeaders", method: "GET", path: "/v1/auth/api-keys?limit=0", key: other, status: 400, code: "parameter_invalid", param: "limit",
			check: rateHeaders(1000, 997, 1, 0)},
	})
	ts.Clock.Add(12 * time.Second)
	ts.run(t, []scenario{
		whoami("OneBackAfter12s", five, 200, rateHeaders(5, 0, 60, 0)),
		whoami("ThenRefusedAgain", five, 429, rateHeaders(5, 0, 60, 12)),
	})
	ts.Clock.Add(5 * time.Second)
	ts.run(t, []scenario{whoami("RetryAfterRoundsUp", five, 429, rateHeaders(5, 0, 55, 7))})
	ts.Clock.Add(time.Minute)
	ts.run(t, []scenario{whoami("FullAfterAMinute", five, 200, rateHeaders(5, 4, 12, 0))})
}

// TestRateLimit_PerKeyOverridesDefault: with a default of 3/m, a key
// created with 10/m makes 10 requests, and a key without one makes 3.
func TestRateLimit_PerKeyOverridesDefault(t *testing.T) {
	ts := newTestServer(t, func(o *pihuhttp.Options) { o.DefaultLimit = ratelimit.PerMinute(3) })
	ten := ts.newKey(t, ts.Owner, `{"name":"ten","permissions":["api_key:read"],"rate_limit":"10/m"}`)
	plain := ts.newKey(t, ts.Owner, `{"name":"plain","permissions":["api_key:read"]}`)
	count := func(key string) int {
		n := 0
		for range 20 {
			if r := ts.do(t, "GET", "/v1/auth/whoami", key, ""); r.status == 200 {
				n++
			} else if r.status != 429 {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		}
		return n
	}
	if got := count(ten.Key); got != 10 {
		t.Errorf("10/m key: got %d requests through, want 10", got)
	}
	if got := count(plain.Key); got != 3 {
		t.Errorf("key with the 3/m default: got %d requests through, want 3", got)
	}
	ts.Clock.Add(time.Minute)
	ts.run(t, []scenario{
		{name: "ItemShowsOwnLimit", method: "GET", path: "/v1/auth/api-keys/" + ten.ID, key: ten.Key, status: 200,
			check: func(t *testing.T, r response) {
				var item pihuhttp.KeyItem
				r.decode(t, &item)
				if item.RateLimit == nil || *item.RateLimit != "10/m" {
					t.Errorf("rate_limit: got %v, want 10/m", item.RateLimit)
				}
				if !strings.Contains(string(r.body), `"hint":"`+*item.Hint+`","rate_limit":"10/m"`) {
					t.Errorf("rate_limit is not right after hint: %s", r.body)
				}
				rateHeaders(10, 9, 6, 0)(t, r)
			}},
		{name: "ItemShowsDefaultAsNull", method: "GET", path: "/v1/auth/api-keys/" + plain.ID, key: ten.Key, status: 200,
			check: func(t *testing.T, r response) {
				if !strings.Contains(string(r.body), `"rate_limit":null`) {
					t.Errorf("want rate_limit null: %s", r.body)
				}
			}},
	})
}

// TestKeys_CreateRateLimit: rate_limit on create, shown in the response.
func TestKeys_CreateRateLimit(t *testing.T) {
	ts := newTestServer(t)
	create := func(name, rateLimit string, status int) scenario {
		sc := scenario{name: name, method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, status: status,
			body: `{"name":"x","permissions":["candidate:read"],"rate_limit":` + rateLimit + `}`}
		if status == 400 {
			sc.code, sc.param = "parameter_invalid", "rate_limit"
		}
		return sc
	}
	ok := create("PerMinute", `"100/m"`, 200)
	ok.check = func(t *testing.T, r response) {
		var k pihuhttp.KeyCreated
		r.decode(t, &k)
		if k.RateLimit == nil || *k.RateLimit != "100/m" {
			t.Errorf("rate_limit: got %v, want 100/m", k.RateLimit)
		}
		if !strings.Contains(string(r.body), `"environment":"live","rate_limit":"100/m",`) {
			t.Errorf("rate_limit is not right after environment: %s", r.body)
		}
	}
	null := create("NullIsTheDefault", `null`, 200)
	null.check = func(t *testing.T, r response) {
		var k pihuhttp.KeyCreated
		r.decode(t, &k)
		if k.RateLimit != nil {
			t.Errorf("rate_limit: got %v, want null", *k.RateLimit)
		}
	}
	ts.run(t, []scenario{
		ok, null,
		create("PerSecond", `"1/s"`, 200),
		create("PerHour", `"1000000/h"`, 200),
		// A child may have a higher limit than its creator: limits are per
		// key (see README).
		create("HigherThanCreator", `"100000/s"`, 200),
		create("ErrWord", `"fast"`, 400),
		create("ErrZero", `"0/m"`, 400),
		create("ErrDays", `"5/d"`, 400),
		create("ErrNoUnit", `"100"`, 400),
		create("ErrTooMany", `"1000001/s"`, 400),
		create("ErrEmpty", `""`, 400),
		create("ErrNumber", `100`, 400),
		create("ErrLeadingZero", `"010/m"`, 400),
	})
	t.Run("BadRateLimitChangesNothing", func(t *testing.T) {
		before := len(ts.listAll(t, ts.Owner))
		ts.do(t, "POST", "/v1/auth/api-keys", ts.Owner, `{"name":"x","permissions":["*"],"rate_limit":"lots"}`)
		if after := len(ts.listAll(t, ts.Owner)); after != before {
			t.Errorf("got %d keys after a rejected request, want %d", after, before)
		}
	})
}

// forged returns n keys with a right checksum that were never issued.
func forged(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = pihu.NewSecret(pihu.Live)
	}
	return keys
}

// TestRateLimit_FailedAuth: an address guessing keys meets a 429 after 30
// failures a minute, while valid keys from other addresses (and keys this
// server has seen, from any address) go on working.
func TestRateLimit_FailedAuth(t *testing.T) {
	ts := newTestServer(t, func(o *pihuhttp.Options) { o.TrustedProxyHeader, o.TrustedProxies = "X-Forwarded-For", loopback })
	seen := ts.newKey(t, ts.Owner, `{"name":"seen","permissions":["api_key:read"]}`).Key
	unseen := ts.newKey(t, ts.Owner, `{"name":"unseen","permissions":["api_key:read"]}`).Key
	fromOther := ts.newKey(t, ts.Owner, `{"name":"other","permissions":["api_key:read"]}`).Key
	const attacker = "203.0.113.7"
	n := 0
	from := func(addr, key string) response {
		// The client sets the left part, a new one each time; the proxy
		// appends the address it saw, the only part trusted.
		n++
		return ts.doWith(t, "GET", "/v1/auth/whoami", "", map[string]string{
			"Authorization": bearer(key), "X-Forwarded-For": fmt.Sprintf("10.0.%d.%d, %s", n/250, n%250, addr)})
	}
	if r := from(attacker, seen); r.status != 200 {
		t.Fatalf("seen key before the attack: got %d", r.status)
	}

	for i, key := range forged(60) {
		r := from(attacker, key)
		want, code := 401, "invalid_api_key"
		if i >= 30 {
			want, code = 429, "rate_limited"
		}
		if r.status != want || r.errorBody(t).Code != code {
			t.Fatalf("wrong key %d: got %d %s, want %d %s", i+1, r.status, r.body, want, code)
		}
		if want == 429 && r.header.Get("Retry-After") != "2" {
			t.Errorf("wrong key %d: Retry-After %q, want 2 (30/m)", i+1, r.header.Get("Retry-After"))
		}
		// No key's limit is shown to a failed authentication; its 429
		// shows the address's.
		if r.header.Get("RateLimit-Limit") != "" || want == 429 && !strings.HasPrefix(r.header.Get("RateLimit"), `"failed-auth";r=0;`) {
			t.Errorf("wrong key %d: RateLimit %q, RateLimit-Limit %q: want no key's headers, and the failed-auth policy's on a 429", i+1, r.header.Get("RateLimit"), r.header.Get("RateLimit-Limit"))
		}
	}

	wrong := func(name, key string) scenario {
		return scenario{name: name, method: "GET", path: "/v1/auth/whoami", status: 429, code: "rate_limited",
			headers: map[string]string{"Authorization": bearer(key), "X-Forwarded-For": attacker}}
	}
	ts.run(t, []scenario{
		wrong("MalformedKeyFromAttacker", "ph_live_abc"),
		wrong("NoKeyFromAttacker", ""),
		wrong("SpoofedLeftPartDoesNotHelp", forged(1)[0]),
		// A key this server has not seen is not even looked up: a lookup
		// would have found it valid.
		wrong("UnseenValidKeyFromAttacker", unseen),
		{name: "SeenKeyFromAttacker", method: "GET", path: "/v1/auth/whoami", status: 200,
			headers: map[string]string{"Authorization": bearer(seen), "X-Forwarded-For": attacker}},
		{name: "ValidKeyFromOtherAddress", method: "GET", path: "/v1/auth/whoami", status: 200,
			headers: map[string]string{"Authorization": bearer(fromOther), "X-Forwarded-For": "198.51.100.1"}},
		{name: "WrongKeyFromOtherAddressIs401", method: "GET", path: "/v1/auth/whoami", status: 401, code: "invalid_api_key",
			headers: map[string]string{"Authorization": bearer(forged(1)[0]), "X-Forwarded-For": "198.51.100.1"}},
	})

	// One failure comes back every 2 s: the unseen key is then looked up
	// and works, and the next wrong key spends that failure.
	ts.Clock.Add(2 * time.Second)
	if r := from(attacker, unseen); r.status != 200 {
		t.Errorf("unseen key 2 s later: got %d %s, want 200", r.status, r.body)
	}
	if r := from(attacker, forged(1)[0]); r.status != 401 {
		t.Errorf("wrong key 2 s later: got %d, want 401", r.status)
	}
	if r := from(attacker, forged(1)[0]); r.status != 429 {
		t.Errorf("second wrong key 2 s later: got %d, want 429", r.status)
	}
	if !strings.Contains(ts.logs.String(), "ip="+attacker) {
		t.Error("the log does not show the address from X-Forwarded-For")
	}
}

// TestRateLimit_FailedAuthIPv6: the addresses of one /64 share a budget.
func TestRateLimit_FailedAuthIPv6(t *testing.T) {
	ts := newTestServer(t, func(o *pihuhttp.Options) {
		o.TrustedProxyHeader, o.TrustedProxies = "X-Real-IP", loopback
		o.FailedAuthLimit = ratelimit.PerMinute(5)
	})
	try := func(addr string) int {
		return ts.doWith(t, "GET", "/v1/auth/whoami", "", map[string]string{"Authorization": bearer(forged(1)[0]), "X-Real-IP": addr}).status
	}
	for i := range 5 {
		if got := try(fmt.Sprintf("2001:db8:0:1::%x", i+1)); got != 401 {
			t.Fatalf("failure %d: got %d, want 401", i+1, got)
		}
	}
	if got := try("2001:db8:0:1:ffff::1"); got != 429 {
		t.Errorf("6th failure from the same /64: got %d, want 429", got)
	}
	if got := try("2001:db8:0:2::1"); got != 401 {
		t.Errorf("failure from another /64: got %d, want 401", got)
	}
	if got := try("[2001:db8:0:1::9]:4711"); got != 429 {
		t.Errorf("address with a port from the same /64: got %d, want 429", got)
	}
}

// TestRateLimit_FailedAuthNoProxyHeader: without a trusted header,
// X-Forwarded-For is ignored, so a client cannot escape its budget by
// forging one: 60 wrong keys from one address meet a 429.
func TestRateLimit_FailedAuthNoProxyHeader(t *testing.T) {
	ts := newTestServer(t)
	if r := ts.do(t, "GET", "/v1/auth/whoami", ts.Owner, ""); r.status != 200 {
		t.Fatalf("owner key: got %d", r.status)
	}
	statuses := map[int]int{}
	first429 := 0
	for i, key := range forged(60) {
		r := ts.doWith(t, "GET", "/v1/auth/whoami", "", map[string]string{
			"Authorization": bearer(key), "X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i)})
		statuses[r.status]++
		if r.status == 429 && first429 == 0 {
			first429 = i + 1
		}
	}
	if statuses[401] != 30 || statuses[429] != 30 || first429 != 31 {
		t.Errorf("60 wrong keys: got %v, first 429 at %d; want 30×401 then 30×429", statuses, first429)
	}
	if r := ts.do(t, "GET", "/v1/auth/whoami", ts.Owner, ""); r.status != 200 {
		t.Errorf("the owner key, seen before, from the same address: got %d, want 200", r.status)
	}
}

// brokenLimiter is a limiter whose backend is down.
type brokenLimiter struct{}

func (brokenLimiter) Allow(context.Context, string, ratelimit.Limit) (ratelimit.Result, error) {
	return ratelimit.Result{}, errors.New("redis: connection refused")
}

func (brokenLimiter) Peek(context.Context, string, ratelimit.Limit) (ratelimit.Result, error) {
	return ratelimit.Result{}, errors.New("redis: connection refused")
}

func (brokenLimiter) Refund(context.Context, string, ratelimit.Limit) error {
	return errors.New("redis: connection refused")
}

func (brokenLimiter) AllowN(context.Context, string, ratelimit.Limit, int) (ratelimit.Result, error) {
	return ratelimit.Result{}, errors.New("redis: connection refused")
}

func (brokenLimiter) RefundN(context.Context, string, ratelimit.Limit, int) error {
	return errors.New("redis: connection refused")
}

// TestRateLimit_LimiterDown: a failing limiter lets requests through,
// without RateLimit headers, and logs why.
func TestRateLimit_LimiterDown(t *testing.T) {
	ts := newTestServer(t, func(o *pihuhttp.Options) { o.Limiter = brokenLimiter{} })
	ts.run(t, []scenario{
		{name: "ValidKey", method: "GET", path: "/v1/auth/whoami", key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				if r.header.Get("RateLimit-Limit") != "" {
					t.Errorf("RateLimit-Limit without a limiter: %q", r.header.Get("RateLimit-Limit"))
				}
			}},
		{name: "WrongKeyStill401", method: "GET", path: "/v1/auth/whoami", key: forged(1)[0], status: 401, code: "invalid_api_key"},
	})
	if !strings.Contains(ts.logs.String(), "rate limiter failed") {
		t.Error("the limiter's failure is not logged")
	}
}

// TestRateLimit_DraftHeaders checks the headers of
// draft-ietf-httpapi-ratelimit-headers: RateLimit-Policy names the quota
// and its window, so that 5/m and 5/s differ, and RateLimit what is left
// and when it is whole; the limits of a client address (failed
// authentications, leaked-key reports) send them under their own policy.
func TestRateLimit_DraftHeaders(t *testing.T) {
	ts := newTestServer(t, func(o *pihuhttp.Options) {
		o.FailedAuthLimit = ratelimit.PerMinute(1)
		o.LeakedKeysLimit = ratelimit.PerHour(2)
	})
	perMinute := ts.newKey(t, ts.Owner, `{"name":"m","permissions":["api_key:read"],"rate_limit":"5/m"}`).Key
	perSecond := ts.newKey(t, ts.Owner, `{"name":"s","permissions":["api_key:read"],"rate_limit":"5/s"}`).Key
	forged := "ph_live_" + strings.Repeat("a", 40)
	draft := func(policy, rate string) func(t *testing.T, r response) {
		return func(t *testing.T, r response) {
			if got := r.header.Get("RateLimit-Policy"); got != policy {
				t.Errorf("RateLimit-Policy: got %q, want %q", got, policy)
			}
			if got := r.header.Get("RateLimit"); got != rate {
				t.Errorf("RateLimit: got %q, want %q", got, rate)
			}
		}
	}
	ts.run(t, []scenario{
		{name: "PerMinute", method: "GET", path: "/v1/auth/whoami", key: perMinute, status: 200, check: draft(`"default";q=5;w=60`, `"default";r=4;t=12`)},
		{name: "PerSecond", method: "GET", path: "/v1/auth/whoami", key: perSecond, status: 200, check: draft(`"default";q=5;w=1`, `"default";r=4;t=1`)},
		{name: "ServerDefault", method: "GET", path: "/v1/auth/whoami", key: ts.Owner, status: 200, check: draft(`"default";q=1000;w=60`, `"default";r=997;t=1`)}, // two keys were created with it
		{name: "FailedAuthSpends", method: "GET", path: "/v1/auth/whoami", key: forged, status: 401, code: "invalid_api_key"},
		{name: "FailedAuth429", method: "GET", path: "/v1/auth/whoami", key: forged, status: 429, code: "rate_limited", check: draft(`"failed-auth";q=1;w=60`, `"failed-auth";r=0;t=60`)},
		{name: "LeakedKeys", method: "POST", path: "/v1/auth/leaked-keys", body: `{"keys":["` + forged + `"]}`, status: 200, check: draft(`"leaked-keys";q=2;w=3600`, `"leaked-keys";r=1;t=1800`)},
		{name: "LeakedKeysLast", method: "POST", path: "/v1/auth/leaked-keys", body: `{"keys":["` + forged + `"]}`, status: 200, check: draft(`"leaked-keys";q=2;w=3600`, `"leaked-keys";r=0;t=3600`)},
		{name: "LeakedKeys429", method: "POST", path: "/v1/auth/leaked-keys", body: `{"keys":["` + forged + `"]}`, status: 429, code: "rate_limited", check: draft(`"leaked-keys";q=2;w=3600`, `"leaked-keys";r=0;t=3600`)},
	})
}
