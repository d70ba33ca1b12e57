package http_test

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/extauthz"
	"github.com/pihu-ai/pihu/gateway"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

// limitDoor is a door that spends named limits: it makes one request
// with secret spending "tokens" (cost given) and "images" (1, a limit the
// key does not define), and returns the answer as HTTP (status, headers,
// error body) and, for verify, what it said of each limit.
type limitDoor struct {
	name string
	do   func(t *testing.T, ts *testServer, secret string, cost int) (response, []pihuhttp.VerifyNamedLimit)
}

// namedLimitRoutes is the route table of the doors that read one: the
// route spends tokens (the test's cost, passed in the path) and images.
var namedLimitRoutes = func() *gateway.Routes {
	var b strings.Builder
	b.WriteString(`{"routes":[`)
	for i := range 8 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"route":"POST /v1/complete/` + strconv.Itoa(i) + `","ratelimits":[{"name":"tokens","cost":` + strconv.Itoa(i) + `},{"name":"images"}]}`)
	}
	b.WriteString(`,{"route":"/"}]}`)
	rt, err := gateway.ParseRoutes([]byte(b.String()))
	if err != nil {
		panic(err)
	}
	return rt
}()

var limitDoors = []limitDoor{
	{"Verify", func(t *testing.T, ts *testServer, secret string, cost int) (response, []pihuhttp.VerifyNamedLimit) {
		res := ts.do(t, "POST", "/v1/auth/verify", ts.Owner,
			`{"key":"`+secret+`","ratelimits":[{"name":"tokens","cost":`+strconv.Itoa(cost)+`},{"name":"images"}]}`)
		var out pihuhttp.VerifyResult
		res.decode(t, &out)
		// verify answers 200 whatever it says: its answer, as a door's.
		if out.Code == pihuhttp.VerifyRateLimited {
			res.status = 429
		}
		return res, out.RateLimits
	}},
	{"ForwardAuthQuery", func(t *testing.T, ts *testServer, secret string, cost int) (response, []pihuhttp.VerifyNamedLimit) {
		return ts.doWith(t, "GET", "/v1/auth/forward?ratelimit=tokens:"+strconv.Itoa(cost)+"&ratelimit=images", "", map[string]string{
			"Authorization": "Bearer " + secret, "X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/v1/other"}), nil
	}},
	{"ForwardAuthRoutes", func(t *testing.T, ts *testServer, secret string, cost int) (response, []pihuhttp.VerifyNamedLimit) {
		return ts.doWith(t, "GET", "/v1/auth/forward", "", map[string]string{"Authorization": "Bearer " + secret,
			"X-Forwarded-Method": "POST", "X-Forwarded-Uri": "/v1/complete/" + strconv.Itoa(cost)}), nil
	}},
	{"CheckExtensions", func(t *testing.T, ts *testServer, secret string, cost int) (response, []pihuhttp.VerifyNamedLimit) {
		return asResponse(ts.check(t, checkRequest("POST", "/v1/complete", map[string]string{"authorization": "Bearer " + secret},
			map[string]string{"ratelimit": "tokens:" + strconv.Itoa(cost) + ",images"}))), nil
	}},
	{"CheckRoutes", func(t *testing.T, ts *testServer, secret string, cost int) (response, []pihuhttp.VerifyNamedLimit) {
		return asResponse(routedCheck(t, ts, checkRequest("POST", "/v1/complete/"+strconv.Itoa(cost),
			map[string]string{"authorization": "Bearer " + secret}, nil))), nil
	}},
}

// routedCheck is ts.check through an Envoy Check server with the route
// table namedLimitRoutes.
func routedCheck(t *testing.T, ts *testServer, req *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	api := ts.Server.Config.Handler.(*pihuhttp.Server)
	g := grpc.NewServer()
	extauthz.New(extauthz.Options{Admission: api.Admission(), Now: ts.Clock.Now, Routes: namedLimitRoutes}).Register(g)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(ln)
	defer g.Stop()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res, err := authv3.NewAuthorizationClient(conn).Check(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestNamedLimits_EveryDoor runs the same story through every door that
// spends named limits: a key with "tokens": "10/m" spends 6 (admitted,
// 4 left, the tokens policy in the RateLimit headers beside the key's
// own, "images" undefined and said so), then 6 more (refused 429 naming
// the limit, Retry-After the time for 2 to come back, nothing spent),
// then 4 (admitted, 0 left). A key of an identity with "tokens": "10/m"
// shares it with the identity's other key.
func TestNamedLimits_EveryDoor(t *testing.T) {
	for _, d := range limitDoors {
		t.Run(d.name, func(t *testing.T) {
			ts := newTestServer(t, behindProxy(t), func(o *pihuhttp.Options) { o.GatewayRoutes = namedLimitRoutes })
			k := ts.newKey(t, ts.Owner, `{"name":"llm","permissions":["candidate:read"],"ratelimits":{"tokens":"10/m"}}`)

			res, limits := d.do(t, ts, k.Key, 6)
			if res.status != 200 {
				t.Fatalf("6 of 10: got %d %s, want 200", res.status, res.body)
			}
			// verify's headers are its caller's; its answer says the rest.
			if limits == nil {
				checkNamedHeaders(t, res)
			}
			if limits != nil {
				if len(limits) != 2 || !limits[0].Defined || *limits[0].Remaining != 4 || *limits[0].Limit != 10 || *limits[0].Reset != 36 ||
					limits[1].Defined || limits[1].Limit != nil || limits[1].Name != "images" {
					t.Errorf("verify's ratelimits: got %+v", limits)
				}
			}

			res, limits = d.do(t, ts, k.Key, 6)
			if res.status != 429 {
				t.Fatalf("6 more: got %d %s, want 429", res.status, res.body)
			}
			if limits == nil {
				e := res.errorBody(t)
				if e.Code != "rate_limited" || !strings.Contains(e.Message, `"tokens"`) {
					t.Errorf("refusal: got %+v, want rate_limited naming \"tokens\"", e)
				}
				if got := res.header.Get("Retry-After"); got != "12" {
					t.Errorf("Retry-After: got %q, want 12 (2 tokens back at 6 s each)", got)
				}
			} else if *limits[0].Remaining != 4 {
				t.Errorf("verify's tokens after a refusal: got %+v, want 4 left, nothing spent", limits[0])
			}

			if res, _ = d.do(t, ts, k.Key, 4); res.status != 200 {
				t.Fatalf("4 of the 4 left: got %d %s, want 200", res.status, res.body)
			}
			if got := res.header.Get("RateLimit"); limits == nil && !strings.HasSuffix(got, `"tokens";r=0;t=60`) {
				t.Errorf("RateLimit: got %q, want tokens at 0", got)
			}
		})
	}
}

// TestNamedLimits_Identity: an identity's named limit is shared by all
// its keys; a key's own limit of the same name applies too; a key that
// defines neither spends nothing.
func TestNamedLimits_Identity(t *testing.T) {
	ts := newTestServer(t)
	var idt pihuhttp.Identity
	res := ts.do(t, "POST", "/v1/identities", ts.Owner, `{"external_id":"org_1","ratelimits":{"tokens":"10/m"}}`)
	res.decode(t, &idt)
	if res.status != 200 || idt.RateLimits["tokens"] != "10/m" {
		t.Fatalf("identity: got %d %s", res.status, res.body)
	}
	a := ts.newKey(t, ts.Owner, `{"name":"a","permissions":["candidate:read"],"identity_id":"`+idt.ID+`"}`)
	b := ts.newKey(t, ts.Owner, `{"name":"b","permissions":["candidate:read"],"identity_id":"`+idt.ID+`","ratelimits":{"tokens":"3/m"}}`)
	verify := func(secret string, cost int) pihuhttp.VerifyResult {
		t.Helper()
		var out pihuhttp.VerifyResult
		ts.do(t, "POST", "/v1/auth/verify", ts.Owner, `{"key":"`+secret+`","ratelimits":[{"name":"tokens","cost":`+strconv.Itoa(cost)+`}]}`).decode(t, &out)
		return out
	}
	if out := verify(a.Key, 7); !out.Valid || *out.RateLimits[0].Remaining != 3 {
		t.Fatalf("a spends 7 of the identity's 10: got %+v", out)
	}
	if out := verify(b.Key, 4); out.Valid || out.Code != pihuhttp.VerifyRateLimited {
		t.Errorf("b spends 4 of the identity's 3 left: got %+v, want RATE_LIMITED", out)
	}
	if out := verify(b.Key, 3); !out.Valid || *out.RateLimits[0].Remaining != 0 {
		t.Errorf("b spends 3: got %+v, want valid, 0 left (of both)", out)
	}
	if out := verify(a.Key, 1); out.Valid {
		t.Errorf("a after b spent the rest: got %+v, want RATE_LIMITED", out)
	}
	ts.Clock.Add(60e9)
	if out := verify(b.Key, 4); out.Valid {
		t.Errorf("b's own 3/m refuses 4 though the identity has 10: got %+v", out)
	}
	if out := verify(a.Key, 10); !out.Valid {
		t.Errorf("a spends 10 a minute later (b's refusal gave back the identity's): got %+v", out)
	}
}

// checkNamedHeaders checks the headers of a door's answer after 6 of a
// key's "tokens": "10/m" were spent, "images" undefined.
func checkNamedHeaders(t *testing.T, res response) {
	t.Helper()
	if got, want := res.header.Get("RateLimit-Policy"), `"default";q=1000;w=60, "tokens";q=10;w=60`; got != want {
		t.Errorf("RateLimit-Policy: got %q, want %q", got, want)
	}
	if got := res.header.Get("RateLimit"); !strings.HasPrefix(got, `"default";r=`) || !strings.HasSuffix(got, `, "tokens";r=4;t=36`) {
		t.Errorf("RateLimit: got %q, want the default's then \"tokens\";r=4;t=36", got)
	}
	if got := res.header.Get(auth.HeaderUndefinedLimits); got != "images" {
		t.Errorf("%s: got %q, want images", auth.HeaderUndefinedLimits, got)
	}
}

// TestNamedLimits_Fields: a key's and an identity's ratelimits through
// create, get, list and PATCH (absent, null, a value), the names and
// limits refused, and a key that changes itself may only narrow them.
func TestNamedLimits_Fields(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"llm","permissions":["api_key:write","api_key:read","candidate:read"],"ratelimits":{"tokens":"50000/d","images":"10/m"}}`)
	if got := k.RateLimits; len(got) != 2 || got["tokens"] != "50000/d" || got["images"] != "10/m" {
		t.Fatalf("created: ratelimits %v", got)
	}
	item := func(t *testing.T, r response) map[string]string {
		var it pihuhttp.KeyItem
		r.decode(t, &it)
		return it.RateLimits
	}
	want := func(m string) func(t *testing.T, r response) {
		return func(t *testing.T, r response) {
			b, _ := json.Marshal(item(t, r))
			if string(b) != m {
				t.Errorf("ratelimits: got %s, want %s", b, m)
			}
		}
	}
	path := "/v1/auth/api-keys/" + k.ID
	eleven := `{`
	for i := range 11 {
		eleven += `"l` + strconv.Itoa(i) + `":"1/m",`
	}
	eleven = strings.TrimSuffix(eleven, ",") + `}`
	ts.run(t, []scenario{
		{name: "Get", method: "GET", path: path, key: ts.Owner, status: 200, check: want(`{"images":"10/m","tokens":"50000/d"}`)},
		{name: "PatchOtherFieldKeeps", method: "PATCH", path: path, key: ts.Owner, body: `{"name":"llm2"}`, status: 200, check: want(`{"images":"10/m","tokens":"50000/d"}`)},
		{name: "ErrSelfRaises", method: "PATCH", path: path, key: k.Key, body: `{"ratelimits":{"tokens":"60000/d","images":"10/m"}}`, status: 403, code: "insufficient_permissions", param: "ratelimits"},
		{name: "ErrSelfRemoves", method: "PATCH", path: path, key: k.Key, body: `{"ratelimits":{"tokens":"50000/d"}}`, status: 403, code: "insufficient_permissions", param: "ratelimits"},
		{name: "SelfLowersAndAdds", method: "PATCH", path: path, key: k.Key, body: `{"ratelimits":{"tokens":"1000/h","images":"5/m","calls":"1/s"}}`, status: 200, check: want(`{"calls":"1/s","images":"5/m","tokens":"1000/h"}`)},
		{name: "PatchReplaces", method: "PATCH", path: path, key: ts.Owner, body: `{"ratelimits":{"tokens":"100/m"}}`, status: 200, check: want(`{"tokens":"100/m"}`)},
		{name: "PatchNullClears", method: "PATCH", path: path, key: ts.Owner, body: `{"ratelimits":null}`, status: 200, check: want(`{}`)},
		{name: "ErrName", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"x","permissions":["candidate:read"],"ratelimits":{"Tokens":"1/m"}}`, status: 400, code: "parameter_invalid", param: "ratelimits"},
		{name: "ErrRequests", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"x","permissions":["candidate:read"],"ratelimits":{"requests":"1/m"}}`, status: 400, code: "parameter_invalid", param: "ratelimits"},
		{name: "ErrLimit", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"x","permissions":["candidate:read"],"ratelimits":{"tokens":"1/w"}}`, status: 400, code: "parameter_invalid", param: "ratelimits.tokens"},
		{name: "ErrTooMany", method: "PATCH", path: path, key: ts.Owner, body: `{"ratelimits":` + eleven + `}`, status: 400, code: "parameter_invalid", param: "ratelimits"},
		{name: "ErrNotAnObject", method: "PATCH", path: path, key: ts.Owner, body: `{"ratelimits":["tokens"]}`, status: 400, code: "parameter_invalid", param: "ratelimits"},
		{name: "ErrVerifyName", method: "POST", path: "/v1/auth/verify", key: ts.Owner, body: `{"key":"` + k.Key + `","ratelimits":[{"name":"a-b"}]}`, status: 400, code: "parameter_invalid", param: "ratelimits"},
		{name: "ErrVerifyNoName", method: "POST", path: "/v1/auth/verify", key: ts.Owner, body: `{"key":"` + k.Key + `","ratelimits":[{"cost":1}]}`, status: 400, code: "parameter_missing", param: "ratelimits"},
		{name: "ErrVerifyCost", method: "POST", path: "/v1/auth/verify", key: ts.Owner, body: `{"key":"` + k.Key + `","ratelimits":[{"name":"tokens","cost":-1}]}`, status: 400, code: "parameter_invalid", param: "ratelimits"},
		{name: "ErrVerifyTwice", method: "POST", path: "/v1/auth/verify", key: ts.Owner, body: `{"key":"` + k.Key + `","ratelimits":[{"name":"tokens"},{"name":"tokens"}]}`, status: 400, code: "parameter_invalid", param: "ratelimits"},
		{name: "ErrVerifyUnknownField", method: "POST", path: "/v1/auth/verify", key: ts.Owner, body: `{"key":"` + k.Key + `","ratelimits":[{"name":"tokens","costs":1}]}`, status: 400, code: "parameter_unknown", param: "costs"},
		{name: "ErrForwardCost", method: "GET", path: "/v1/auth/forward?ratelimit=tokens:x", key: k.Key, status: 400, code: "parameter_invalid", param: "ratelimit"},
		{name: "IdentityCreate", method: "POST", path: "/v1/identities", key: ts.Owner, body: `{"external_id":"org_9","ratelimits":{"tokens":"5/s"}}`, status: 200,
			check: func(t *testing.T, r response) {
				var i pihuhttp.Identity
				r.decode(t, &i)
				if i.RateLimits["tokens"] != "5/s" {
					t.Errorf("identity's ratelimits: got %v", i.RateLimits)
				}
				res := ts.do(t, "PATCH", "/v1/identities/"+i.ID, ts.Owner, `{"ratelimits":null}`)
				var cleared pihuhttp.Identity
				if res.decode(t, &cleared); res.status != 200 || cleared.RateLimits == nil || len(cleared.RateLimits) != 0 {
					t.Errorf("identity's ratelimits cleared: got %d %v, want {}", res.status, cleared.RateLimits)
				}
			}},
		{name: "ErrIdentityName", method: "POST", path: "/v1/identities", key: ts.Owner, body: `{"external_id":"org_8","ratelimits":{"default":"5/s"}}`, status: 400, code: "parameter_invalid", param: "ratelimits"},
	})
}

// TestNamedLimits_RequestsByName: "requests", the key's rate_limit, may
// be spent with a cost by name; an undefined name alone spends nothing
// and refuses nothing, whatever its cost.
func TestNamedLimits_RequestsByName(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"k","permissions":["candidate:read"],"rate_limit":"10/m"}`)
	var out pihuhttp.VerifyResult
	ts.do(t, "POST", "/v1/auth/verify", ts.Owner, `{"key":"`+k.Key+`","ratelimits":[{"name":"requests","cost":8},{"name":"nope","cost":1000000}]}`).decode(t, &out)
	if !out.Valid || out.RateLimit.Remaining != 2 || *out.RateLimits[0].Remaining != 2 || !out.RateLimits[0].Defined || out.RateLimits[1].Defined {
		t.Fatalf("requests:8 of 10, nope undefined: got %+v %+v", out, out.RateLimits)
	}
	ts.do(t, "POST", "/v1/auth/verify", ts.Owner, `{"key":"`+k.Key+`","ratelimits":[{"name":"requests","cost":3}]}`).decode(t, &out)
	if out.Code != pihuhttp.VerifyRateLimited || out.RateLimit.Remaining != 2 {
		t.Errorf("requests:3 with 2 left: got %+v, want RATE_LIMITED, 2 left", out)
	}
}

// TestNamedLimits_GivenBack: a request refused after its named limits
// were spent (here for a permission it lacks) gets them back; a cost over
// the limit's N is refused saying it can never pass.
func TestNamedLimits_GivenBack(t *testing.T) {
	ts := newTestServer(t)
	k := ts.newKey(t, ts.Owner, `{"name":"k","permissions":["candidate:read"],"ratelimits":{"tokens":"10/m"}}`)
	var out pihuhttp.VerifyResult
	ts.do(t, "POST", "/v1/auth/verify", ts.Owner, `{"key":"`+k.Key+`","permissions":["interview:read"],"ratelimits":[{"name":"tokens","cost":8}]}`).decode(t, &out)
	if out.Code != pihuhttp.VerifyInsufficientPermissions {
		t.Fatalf("verify without the permission: got %+v", out)
	}
	ts.do(t, "POST", "/v1/auth/verify", ts.Owner, `{"key":"`+k.Key+`","ratelimits":[{"name":"tokens","cost":0}]}`).decode(t, &out)
	if !out.Valid || *out.RateLimits[0].Remaining != 10 {
		t.Errorf("tokens after a refusal for a permission: got %+v, want all 10 back", out.RateLimits)
	}
	res := ts.doWith(t, "GET", "/v1/auth/forward?ratelimit=tokens:11", "", map[string]string{"Authorization": "Bearer " + k.Key})
	if e := res.errorBody(t); res.status != 429 || !strings.Contains(e.Message, "more than its limit of 10/m ever allows at once") {
		t.Errorf("a cost over the burst: got %d %+v", res.status, e)
	}
}
