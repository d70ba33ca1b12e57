package http_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/client"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/webhook"
)

// receiver is a webhook endpoint on loopback that checks every delivery's
// signature and records the events; fail, if set, answers a delivery's
// number (from 1) with a status other than 204.
type receiver struct {
	*httptest.Server
	t      *testing.T
	secret string
	clock  func() time.Time
	fail   func(n int) int

	mu     sync.Mutex
	n      int
	events []client.Event
	bad    []string
	sigs   []string // every delivery's Pihu-Signature
}

func newReceiver(t *testing.T, clock func() time.Time) *receiver {
	rc := &receiver{t: t, clock: clock}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.n++
	rc.sigs = append(rc.sigs, r.Header.Get("Pihu-Signature"))
	// The deliveries are signed at the server's clock, which the tests
	// set in the past: the tolerance reaches back to it.
	tolerance := time.Since(rc.clock()) + time.Minute
	ev, err := client.VerifyWebhook(body, r.Header.Get("Pihu-Signature"), rc.secret, tolerance)
	switch {
	case err != nil:
		rc.bad = append(rc.bad, err.Error())
	case r.Header.Get("Pihu-Event-Id") != ev.ID:
		rc.bad = append(rc.bad, "Pihu-Event-Id "+r.Header.Get("Pihu-Event-Id")+" is not the event's id "+ev.ID)
	case strings.Contains(string(body), "ph_live_") && !strings.Contains(string(body), `"hint":"ph_live_…`):
		rc.bad = append(rc.bad, "a body holds a secret: "+string(body))
	}
	if rc.fail != nil {
		if status := rc.fail(rc.n); status != 0 {
			w.WriteHeader(status)
			return
		}
	}
	rc.events = append(rc.events, ev)
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) types() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string]int{}
	for _, ev := range rc.events {
		out[ev.Type]++
	}
	return out
}

// webhookServer is a test server whose rate-limited keys are reported to
// a Notifier, as serve wires it.
func webhookServer(t *testing.T) (*testServer, *webhook.Notifier) {
	n := &webhook.Notifier{}
	ts := newTestServer(t, func(o *pihuhttp.Options) {
		n.Store, n.Now = o.Store, o.Now
		o.KeyEvents = n
		o.WebhookLoopback = true // the receivers listen on loopback
	})
	return ts, n
}

// createEndpoint registers rc for events through the API with key.
func (ts *testServer) createEndpoint(t *testing.T, key string, rc *receiver, events ...string) pihuhttp.WebhookEndpointCreated {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"url": rc.URL + "/hooks", "events": events, "description": "test receiver"})
	res := ts.do(t, "POST", "/v1/webhook-endpoints", key, string(b))
	if res.status != 200 {
		t.Fatalf("creating endpoint: %d %s", res.status, res.body)
	}
	var e pihuhttp.WebhookEndpointCreated
	res.decode(t, &e)
	rc.secret = e.Secret
	return e
}

// dispatch runs the dispatcher until it finds nothing due, at most n
// rounds.
func dispatch(t *testing.T, d *webhook.Dispatcher, n int) {
	t.Helper()
	for range n {
		got, err := d.RunOnce(t.Context())
		if err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		if got == 0 {
			return
		}
	}
}

// TestWebhooks_EveryEventSigned makes every kind of event happen, through
// the API where a request causes it, and checks that the receiver gets
// each, signed, whatever the order.
func TestWebhooks_EveryEventSigned(t *testing.T) {
	ts, notifier := webhookServer(t)
	rc := newReceiver(t, ts.Clock.Now)
	ep := ts.createEndpoint(t, ts.Owner, rc, pihu.WebhookEventTypes...)
	if !strings.HasPrefix(ep.Secret, "whsec_") || !strings.HasPrefix(ep.ID, "we_") || !ep.Enabled {
		t.Fatalf("endpoint: got %+v", ep)
	}

	created := ts.newKey(t, ts.Owner, `{"name":"Worker","permissions":["candidate:read"],"expiration":"8d","rate_limit":"1/m"}`)
	rotated := ts.do(t, "POST", "/v1/auth/api-keys/"+created.ID+"/rotate", ts.Owner, `{"expire_old_in":"1h"}`)
	if rotated.status != 200 {
		t.Fatalf("rotate: %d %s", rotated.status, rotated.body)
	}
	var next pihuhttp.KeyCreated
	rotated.decode(t, &next)
	// The new key is limited to one request a minute: its second is a 429.
	for i := range 2 {
		if res := ts.do(t, "GET", "/v1/auth/whoami", next.Key, ""); res.status != []int{200, 429}[i] {
			t.Fatalf("whoami %d: got %d %s", i, res.status, res.body)
		}
	}
	if res := ts.do(t, "GET", "/v1/auth/whoami", next.Key, ""); res.status != 429 {
		t.Fatalf("whoami again: got %d", res.status)
	}
	// A key with one credit: its second request and a verification are
	// refused for credits, which is one event.
	metered := ts.newKey(t, ts.Owner, `{"name":"Metered","permissions":["candidate:read"],"remaining":1}`)
	for i := range 2 {
		if res := ts.do(t, "GET", "/v1/auth/whoami", metered.Key, ""); res.status != []int{200, 403}[i] {
			t.Fatalf("metered whoami %d: got %d %s", i, res.status, res.body)
		}
	}
	if res := ts.do(t, "POST", "/v1/auth/verify", ts.Owner, `{"key":"`+metered.Key+`"}`); res.status != 200 || !strings.Contains(string(res.body), `"USAGE_EXCEEDED"`) {
		t.Fatalf("verify metered: got %d %s", res.status, res.body)
	}
	// Metered disabled, then enabled again: an event each.
	ts.setEnabled(t, ts.Owner, metered.ID, false)
	ts.setEnabled(t, ts.Owner, metered.ID, true)
	notifier.Wait()
	// Eight days' key: a day later it is within 7 days of expiring.
	ts.Clock.Add(24*time.Hour + time.Minute)
	if err := notifier.CheckExpiring(t.Context()); err != nil {
		t.Fatalf("CheckExpiring: %v", err)
	}
	if err := notifier.CheckExpiring(t.Context()); err != nil { // a second check sends nothing more
		t.Fatalf("CheckExpiring: %v", err)
	}
	leaked := ts.newKey(t, ts.Owner, `{"name":"Leaky","permissions":["candidate:read"]}`)
	if res := ts.do(t, "POST", "/v1/auth/leaked-keys", "", `{"keys":["`+leaked.Key+`"]}`); res.status != 200 {
		t.Fatalf("leaked-keys: %d %s", res.status, res.body)
	}
	if res := ts.do(t, "DELETE", "/v1/auth/api-keys/"+next.ID, ts.Owner, ""); res.status != 200 {
		t.Fatalf("revoke: %d %s", res.status, res.body)
	}

	d := &webhook.Dispatcher{Store: ts.Store, Now: ts.Clock.Now, AllowLoopback: true}
	dispatch(t, d, 20)
	got := rc.types()
	want := map[string]int{
		pihu.EventKeyCreated: 4, // Worker, its successor, Metered, Leaky
		pihu.EventKeyRotated: 1, pihu.EventKeyRateLimited: 1, pihu.EventKeyUsageExceeded: 1,
		// Only the successor: rotation left Worker an hour to live, a
		// lifetime too short for a notice.
		pihu.EventKeyExpiringSoon: 1,
		pihu.EventKeyLeaked:       1, pihu.EventKeyRevoked: 1,
		pihu.EventKeyDisabled: 1, pihu.EventKeyEnabled: 1,
	}
	for typ, n := range want {
		if got[typ] != n {
			t.Errorf("%s: received %d, want %d (all: %v)", typ, got[typ], n, got)
		}
	}
	if len(rc.bad) > 0 {
		t.Errorf("bad deliveries: %v", rc.bad)
	}
	for _, ev := range rc.events {
		if ev.Data.ID == "" || !ev.Livemode || !strings.HasPrefix(ev.ID, "evt_") {
			t.Errorf("event %+v: want a live key's item", ev)
		}
		if ev.Type == pihu.EventKeyRotated && (ev.Data.ID != created.ID || ev.Data.Expires == nil) {
			t.Errorf("rotated: got data %+v, want the old key with its new expiry", ev.Data)
		}
		if (ev.Type == pihu.EventKeyDisabled || ev.Type == pihu.EventKeyEnabled) && (ev.Data.ID != metered.ID || ev.Data.Enabled != (ev.Type == pihu.EventKeyEnabled)) {
			t.Errorf("%s: got data %+v, want Metered as the change left it", ev.Type, ev.Data)
		}
	}
	// Every delivery is visible with its attempt.
	res := ts.do(t, "GET", "/v1/webhook-endpoints/"+ep.ID+"/deliveries?limit=100", ts.Owner, "")
	var list pihuhttp.DeliveryList
	res.decode(t, &list)
	if len(list.Data) != 12 {
		t.Fatalf("deliveries: got %d, want 12: %s", len(list.Data), res.body)
	}
	for _, dl := range list.Data {
		if dl.Status != pihu.DeliveryDelivered || len(dl.Attempts) != 1 || dl.Attempts[0].StatusCode == nil || *dl.Attempts[0].StatusCode != 204 || dl.NextAttempt != nil {
			t.Errorf("delivery: got %+v", dl)
		}
	}
}

// TestWebhooks_RetriesUntilAccepted has the receiver fail twice: the
// third attempt delivers, and all three are recorded.
func TestWebhooks_RetriesUntilAccepted(t *testing.T) {
	ts, _ := webhookServer(t)
	rc := newReceiver(t, ts.Clock.Now)
	rc.fail = func(n int) int { return map[int]int{1: 500, 2: 503}[n] }
	ep := ts.createEndpoint(t, ts.Owner, rc, pihu.EventKeyCreated)
	ts.newKey(t, ts.Owner, `{"name":"Worker","permissions":["candidate:read"]}`)

	var waits []int
	d := &webhook.Dispatcher{Store: ts.Store, Now: ts.Clock.Now, AllowLoopback: true, Backoff: func(n int) time.Duration {
		waits = append(waits, n)
		return time.Minute
	}}
	for round := range 3 {
		if n, err := d.RunOnce(t.Context()); err != nil || n != 1 {
			t.Fatalf("round %d: sent %d, %v", round, n, err)
		}
		if n, _ := d.RunOnce(t.Context()); n != 0 {
			t.Fatalf("round %d: sent again before the backoff", round)
		}
		ts.Clock.Add(time.Minute)
	}
	if n, _ := d.RunOnce(t.Context()); n != 0 {
		t.Fatal("sent again after delivery")
	}
	if fmt.Sprint(waits) != "[1 2]" {
		t.Errorf("backoff asked for attempts %v, want [1 2]", waits)
	}
	res := ts.do(t, "GET", "/v1/webhook-endpoints/"+ep.ID+"/deliveries", ts.Owner, "")
	var list pihuhttp.DeliveryList
	res.decode(t, &list)
	if len(list.Data) != 1 {
		t.Fatalf("deliveries: %s", res.body)
	}
	dl := list.Data[0]
	var codes []int
	for _, a := range dl.Attempts {
		codes = append(codes, *a.StatusCode)
	}
	if dl.Status != "delivered" || fmt.Sprint(codes) != "[500 503 204]" || dl.Attempts[0].Error == nil || dl.Attempts[2].Error != nil {
		t.Errorf("delivery: got %s, want delivered after 500, 503, 204", res.body)
	}
	if got := rc.types()[pihu.EventKeyCreated]; got != 1 || len(rc.bad) > 0 {
		t.Errorf("received %d, bad %v", got, rc.bad)
	}
	var e pihuhttp.WebhookEndpoint
	ts.do(t, "GET", "/v1/webhook-endpoints/"+ep.ID, ts.Owner, "").decode(t, &e)
	if e.FailingSince != nil || !e.Enabled {
		t.Errorf("endpoint after a success: %+v", e)
	}
}

// TestWebhooks_DisabledAfterFailing keeps the receiver failing past the
// give-up time: the delivery fails for good and the endpoint is disabled,
// with an audit event.
func TestWebhooks_DisabledAfterFailing(t *testing.T) {
	ts, _ := webhookServer(t)
	rc := newReceiver(t, ts.Clock.Now)
	rc.fail = func(int) int { return 500 }
	ep := ts.createEndpoint(t, ts.Owner, rc, pihu.EventKeyCreated)
	ts.newKey(t, ts.Owner, `{"name":"Worker","permissions":["candidate:read"]}`)
	d := &webhook.Dispatcher{Store: ts.Store, Now: ts.Clock.Now, AllowLoopback: true, Backoff: func(int) time.Duration { return time.Hour }}
	// Attempts at 0, 25, 50 and 75 hours: the fourth is past the 72
	// hours a delivery is retried and an endpoint may fail.
	for range 4 {
		dispatch(t, d, 1)
		ts.Clock.Add(25 * time.Hour)
	}
	var e pihuhttp.WebhookEndpoint
	ts.do(t, "GET", "/v1/webhook-endpoints/"+ep.ID, ts.Owner, "").decode(t, &e)
	if e.Enabled || e.FailingSince == nil {
		t.Errorf("endpoint failing for 3 days: got %+v, want disabled", e)
	}
	var list pihuhttp.DeliveryList
	ts.do(t, "GET", "/v1/webhook-endpoints/"+ep.ID+"/deliveries", ts.Owner, "").decode(t, &list)
	if len(list.Data) != 1 || list.Data[0].Status != "failed" || len(list.Data[0].Attempts) != 4 || list.Data[0].NextAttempt != nil {
		t.Errorf("delivery: got %+v, want failed after 4 attempts", list.Data)
	}
	var events pihuhttp.AuditEventList
	ts.do(t, "GET", "/v1/auth/audit-events", ts.Owner, "").decode(t, &events)
	if len(events.Data) == 0 || events.Data[0].Action != pihu.ActionWebhookEndpointDisabled || events.Data[0].Target != ep.ID || events.Data[0].Actor != webhook.ActorSystem {
		t.Errorf("audit events: got %+v, want the endpoint disabled first", events.Data)
	}
	// Enabling it again clears the failure.
	res := ts.do(t, "PATCH", "/v1/webhook-endpoints/"+ep.ID, ts.Owner, `{"enabled":true}`)
	res.decode(t, &e)
	if res.status != 200 || !e.Enabled || e.FailingSince != nil {
		t.Errorf("re-enabled: got %d %s", res.status, res.body)
	}
}

// TestWebhookEndpoints_LoopbackRefused: a server without WebhookLoopback
// (serve's default) refuses a URL to its own machine when an endpoint is
// created or its URL changed, and the refusal changes nothing.
func TestWebhookEndpoints_LoopbackRefused(t *testing.T) {
	ts := newTestServer(t)
	res := ts.do(t, "POST", "/v1/webhook-endpoints", ts.Owner, `{"url":"https://example.com/hooks","events":["api_key.created"]}`)
	if res.status != 200 {
		t.Fatalf("a public URL: got %d %s", res.status, res.body)
	}
	var ep pihuhttp.WebhookEndpointCreated
	res.decode(t, &ep)
	path := "/v1/webhook-endpoints/" + ep.ID
	for _, url := range []string{
		"http://127.0.0.1:8080/hooks", "http://localhost/hooks", "http://LOCALHOST:9/hooks", "http://[::1]/hooks",
		"https://localhost/hooks", "https://127.0.0.2/hooks", "https://[::ffff:127.0.0.1]/hooks",
	} {
		t.Run(url, func(t *testing.T) {
			body := `{"url":"` + url + `","events":["api_key.created"]}`
			for _, req := range [][2]string{{"POST", "/v1/webhook-endpoints"}, {"PATCH", path}} {
				res := ts.do(t, req[0], req[1], ts.Owner, body)
				e := res.errorBody(t)
				if res.status != 400 || e.Code != "parameter_invalid" || e.Param != "url" || !strings.Contains(e.Message, "--webhook-loopback allow") {
					t.Errorf("%s: got %d %s, want a 400 on url saying how to allow it", req[0], res.status, res.body)
				}
			}
		})
	}
	res = ts.do(t, "GET", "/v1/webhook-endpoints", ts.Owner, "")
	if res.status != 200 || strings.Count(string(res.body), `"id":"we_`) != 1 || !strings.Contains(string(res.body), `"url":"https://example.com/hooks"`) {
		t.Errorf("after the refusals: got %d %s, want the one endpoint, unchanged", res.status, res.body)
	}
	// Changing other fields of an endpoint is not a change of URL.
	if res := ts.do(t, "PATCH", path, ts.Owner, `{"description":"still public"}`); res.status != 200 {
		t.Errorf("PATCH description: got %d %s", res.status, res.body)
	}
}

// TestWebhookEndpoints covers every route of the endpoints API: success,
// bad input, no key, a key without the permission, another account's or
// environment's endpoint.
func TestWebhookEndpoints(t *testing.T) {
	ts, _ := webhookServer(t)
	rc := newReceiver(t, ts.Clock.Now)
	ep := ts.createEndpoint(t, ts.Owner, rc, pihu.EventKeyRevoked)
	reader := ts.newKey(t, ts.Owner, `{"name":"Reader","permissions":["webhook:read"]}`).Key
	other := ts.newKey(t, ts.Owner, `{"name":"Other","permissions":["candidate:read"]}`).Key
	testKey := ts.newKey(t, ts.Owner, `{"name":"Test","permissions":["webhook:*"],"environment":"test"}`).Key
	limited := ts.newKey(t, ts.Owner, `{"name":"Limited","permissions":["webhook:*"],"rate_limit":"1/m"}`).Key
	_, foreign := ts.newAccount(t, "Foreign")
	path := "/v1/webhook-endpoints/" + ep.ID
	ok := func(url string) string { return `{"url":"` + url + `","events":["api_key.created"]}` }
	ts.run(t, []scenario{
		{name: "Create", method: "POST", path: "/v1/webhook-endpoints", key: ts.Owner, body: `{"url":"https://example.com/hooks","events":["api_key.created","api_key.leaked"],"enabled":false}`, status: 200,
			check: func(t *testing.T, r response) {
				var e pihuhttp.WebhookEndpointCreated
				r.decode(t, &e)
				if e.Enabled || e.Environment != "live" || len(e.Events) != 2 || !strings.HasPrefix(e.Secret, "whsec_") || e.Description != "" {
					t.Errorf("got %s", r.body)
				}
			}},
		{name: "CreateLocalhost", method: "POST", path: "/v1/webhook-endpoints", key: ts.Owner, body: ok("http://localhost:9/x"), status: 200},
		{name: "CreateIPv6Loopback", method: "POST", path: "/v1/webhook-endpoints", key: ts.Owner, body: ok("http://[::1]:9/x"), status: 200},
		{name: "CreateHTTPNonLoopback", method: "POST", path: "/v1/webhook-endpoints", key: ts.Owner, body: ok("http://example.com/x"), status: 400, code: "parameter_invalid", param: "url"},
		{name: "CreateHTTPPrivate", method: "POST", path: "/v1/webhook-endpoints", key: ts.Owner, body: ok("http://10.0.0.1/x"), status: 400, code: "parameter_invalid", param: "url"},
		{name: "CreateUserinfo", method: "POST", path: "/v1/webhook-endpoints", key: ts.Owner, body: ok("https://user:pw@example.com/x"), status: 400, code: "parameter_invalid", param: "url"},
		{name: "CreateFTP", method: "POST", path: "/v1/webhook-endpoints", key: ts.Owner, body: ok("ftp://example.com/x"), status: 400, code: "parameter_invalid", param: "url"},
		{name: "CreateRelative", method: "POST", path: "/v1/webhook-endpoints", key: ts.Owner, body: ok("/hooks"), status: 400, code: "parameter_invalid", param: "url"},
		{name: "CreateTooLong", method: "POST", path: "/v1/webhook-endpoints", key: ts.Owner, body: ok("https://example.com/" + strings.Repeat("a", 2048)), status: 400, code: "parameter_invalid", param: "url"},
		{name: "CreateNoURL", method: "POST", path: "/v1/webhook-endpoints", key: ts.Owner, body: `{"events":["api_key.created"]}`, status: 400, code: "parameter_missing", param: "url"},
		{name: "CreateNoEvents", method: "POST", path: "/v1/webhook-endpoints", key: ts.Owner, body: `{"url":"https://example.com"}`, status: 400, code: "parameter_missing", param: "events"},
		{name: "CreateEmptyEvents", method: "POST", path: "/v1/webhook-endpoints", key: ts.Owner, body: `{"url":"https://example.com","events":[]}`, status: 400, code: "parameter_invalid", param: "events"},
		{name: "CreateUnknownEvent", method: "POST", path: "/v1/webhook-endpoints", key: ts.Owner, body: `{"url":"https://example.com","events":["api_key.eaten"]}`, status: 400, code: "parameter_invalid", param: "events"},
		{name: "CreateUnknownField", method: "POST", path: "/v1/webhook-endpoints", key: ts.Owner, body: `{"url":"https://example.com","events":["api_key.created"],"secret":"x"}`, status: 400, code: "parameter_unknown", param: "secret"},
		{name: "CreateNoKey", method: "POST", path: "/v1/webhook-endpoints", body: ok("https://example.com"), status: 401, code: "missing_api_key"},
		{name: "CreateReadOnly", method: "POST", path: "/v1/webhook-endpoints", key: reader, body: ok("https://example.com"), status: 403, code: "insufficient_permissions"},
		{name: "List", method: "GET", path: "/v1/webhook-endpoints?limit=1", key: reader, status: 200,
			check: func(t *testing.T, r response) {
				var l pihuhttp.WebhookEndpointList
				r.decode(t, &l)
				if len(l.Data) != 1 || !l.HasMore || strings.Contains(string(r.body), "whsec_") {
					t.Errorf("got %s", r.body)
				}
			}},
		{name: "ListBadCursor", method: "GET", path: "/v1/webhook-endpoints?starting_after=we_nope", key: reader, status: 400, code: "parameter_invalid", param: "starting_after"},
		{name: "ListNoPermission", method: "GET", path: "/v1/webhook-endpoints", key: other, status: 403, code: "insufficient_permissions"},
		{name: "ListTestKeySeesNoLive", method: "GET", path: "/v1/webhook-endpoints", key: testKey, status: 200,
			check: func(t *testing.T, r response) {
				if !strings.Contains(string(r.body), `"data":[]`) {
					t.Errorf("got %s", r.body)
				}
			}},
		{name: "Get", method: "GET", path: path, key: reader, status: 200,
			check: func(t *testing.T, r response) {
				if strings.Contains(string(r.body), "whsec_") || !strings.Contains(string(r.body), ep.ID) {
					t.Errorf("got %s", r.body)
				}
			}},
		{name: "GetUnknownParameter", method: "GET", path: path + "?x=1", key: reader, status: 400, code: "parameter_unknown", param: "x"},
		{name: "GetOtherAccount", method: "GET", path: path, key: foreign, status: 404, code: "not_found"},
		{name: "GetOtherEnvironment", method: "GET", path: path, key: testKey, status: 404, code: "not_found"},
		{name: "GetNoKey", method: "GET", path: path, status: 401, code: "missing_api_key"},
		{name: "Patch", method: "PATCH", path: path, key: ts.Owner, body: `{"events":["api_key.revoked","api_key.rotated"],"description":"ops"}`, status: 200,
			check: func(t *testing.T, r response) {
				var e pihuhttp.WebhookEndpoint
				r.decode(t, &e)
				if len(e.Events) != 2 || e.Description != "ops" || e.URL != rc.URL+"/hooks" {
					t.Errorf("got %s", r.body)
				}
			}},
		{name: "PatchBadURL", method: "PATCH", path: path, key: ts.Owner, body: `{"url":"http://169.254.169.254/"}`, status: 400, code: "parameter_invalid", param: "url"},
		{name: "PatchEmptyEvents", method: "PATCH", path: path, key: ts.Owner, body: `{"events":[]}`, status: 400, code: "parameter_invalid", param: "events"},
		{name: "PatchReadOnly", method: "PATCH", path: path, key: reader, body: `{"enabled":false}`, status: 403, code: "insufficient_permissions"},
		{name: "PatchOtherAccount", method: "PATCH", path: path, key: foreign, body: `{"enabled":false}`, status: 404, code: "not_found"},
		{name: "Deliveries", method: "GET", path: path + "/deliveries", key: reader, status: 200},
		{name: "DeliveriesOtherAccount", method: "GET", path: path + "/deliveries", key: foreign, status: 404, code: "not_found"},
		{name: "DeliveriesNoPermission", method: "GET", path: path + "/deliveries", key: other, status: 403, code: "insufficient_permissions"},
		{name: "DeleteReadOnly", method: "DELETE", path: path, key: reader, status: 403, code: "insufficient_permissions"},
		{name: "DeleteOtherEnvironment", method: "DELETE", path: path, key: testKey, status: 404, code: "not_found"},
		{name: "Delete", method: "DELETE", path: path, key: ts.Owner, status: 200},
		{name: "DeleteAgain", method: "DELETE", path: path, key: ts.Owner, status: 404, code: "not_found"},
		{name: "GetDeleted", method: "GET", path: path, key: ts.Owner, status: 404, code: "not_found"},
		{name: "RateLimitedFirst", method: "GET", path: "/v1/webhook-endpoints", key: limited, status: 200},
		{name: "RateLimited", method: "POST", path: "/v1/webhook-endpoints", key: limited, body: ok("https://example.com/x"), status: 429, code: "rate_limited"},
	})
	// Every change is in the audit log.
	var events pihuhttp.AuditEventList
	ts.do(t, "GET", "/v1/auth/audit-events?limit=100", ts.Owner, "").decode(t, &events)
	actions := map[string]bool{}
	for _, ev := range events.Data {
		if ev.Target == ep.ID {
			actions[ev.Action] = true
		}
	}
	for _, a := range []string{pihu.ActionWebhookEndpointCreated, pihu.ActionWebhookEndpointUpdated, pihu.ActionWebhookEndpointDeleted} {
		if !actions[a] {
			t.Errorf("no %s audit event for %s: %v", a, ep.ID, actions)
		}
	}
}

// TestWebhooks_TestKeyEventsGoToTestEndpoints checks that a test key's
// events reach the test environment's endpoints only.
func TestWebhooks_TestKeyEventsGoToTestEndpoints(t *testing.T) {
	ts, _ := webhookServer(t)
	live := newReceiver(t, ts.Clock.Now)
	test := newReceiver(t, ts.Clock.Now)
	testKey := ts.newKey(t, ts.Owner, `{"name":"Test admin","permissions":["*"],"environment":"test"}`).Key
	ts.createEndpoint(t, ts.Owner, live, pihu.EventKeyCreated)
	ts.createEndpoint(t, testKey, test, pihu.EventKeyCreated)
	ts.newKey(t, testKey, `{"name":"Test worker","permissions":["candidate:read"]}`)
	ts.newKey(t, ts.Owner, `{"name":"Test by live","permissions":["candidate:read"],"environment":"test"}`)
	dispatch(t, &webhook.Dispatcher{Store: ts.Store, Now: ts.Clock.Now, AllowLoopback: true}, 5)
	if got := live.types(); len(got) != 0 {
		t.Errorf("the live endpoint received %v", got)
	}
	if got := test.types()[pihu.EventKeyCreated]; got != 2 {
		t.Errorf("the test endpoint received %d, want 2", got)
	}
	for _, ev := range test.events {
		if ev.Livemode || ev.Data.Environment != "test" {
			t.Errorf("test event: %+v", ev)
		}
		if ev.Data.Name == "Test by live" && ev.Data.CreatedBy != nil {
			t.Errorf("a test endpoint learned a live key's id: %v", *ev.Data.CreatedBy)
		}
	}
}

// TestWebhookEndpoints_TestEvent sends a test event to one endpoint, which
// receives it signed as usual while another endpoint of the account
// receives nothing, and checks who may send one.
func TestWebhookEndpoints_TestEvent(t *testing.T) {
	ts, _ := webhookServer(t)
	rc := newReceiver(t, ts.Clock.Now)
	bystander := newReceiver(t, ts.Clock.Now)
	ep := ts.createEndpoint(t, ts.Owner, rc, pihu.EventKeyRevoked)
	ts.createEndpoint(t, ts.Owner, bystander, pihu.WebhookEventTypes...)
	reader := ts.newKey(t, ts.Owner, `{"name":"Reader","permissions":["webhook:read"]}`).Key
	testKey := ts.newKey(t, ts.Owner, `{"name":"Test","permissions":["webhook:*"],"environment":"test"}`).Key
	limited := ts.newKey(t, ts.Owner, `{"name":"Limited","permissions":["webhook:*"],"rate_limit":"1/m"}`).Key
	token := ts.mint(t, ts.newKey(t, ts.Owner, `{"name":"Writer","permissions":["webhook:write","token:write"]}`).Key, `{}`).AccessToken
	_, foreign := ts.newAccount(t, "Foreign")
	path := "/v1/webhook-endpoints/" + ep.ID + "/test"
	var sent pihuhttp.Delivery
	ts.run(t, []scenario{
		{name: "OK", method: "POST", path: path, key: ts.Owner, status: 200, check: func(t *testing.T, r response) {
			r.decode(t, &sent)
			if sent.Type != pihu.EventWebhookTest || sent.Status != pihu.DeliveryPending || len(sent.Attempts) != 0 || !strings.HasPrefix(sent.EventID, "evt_") {
				t.Errorf("got %s", r.body)
			}
		}},
		{name: "EmptyObject", method: "POST", path: path, key: ts.Owner, body: `{}`, status: 200},
		// A test event leaves nothing that outlives a token.
		{name: "Token", method: "POST", path: path, key: token, status: 200},
		{name: "UnknownField", method: "POST", path: path, key: ts.Owner, body: `{"type":"api_key.created"}`, status: 400, code: "parameter_unknown", param: "type"},
		{name: "NoKey", method: "POST", path: path, status: 401, code: "missing_api_key"},
		{name: "ReadOnly", method: "POST", path: path, key: reader, status: 403, code: "insufficient_permissions"},
		{name: "OtherAccount", method: "POST", path: path, key: foreign, status: 404, code: "not_found"},
		{name: "OtherEnvironment", method: "POST", path: path, key: testKey, status: 404, code: "not_found"},
		{name: "Unknown", method: "POST", path: "/v1/webhook-endpoints/we_nope/test", key: ts.Owner, status: 404, code: "not_found"},
		{name: "RateLimitedFirst", method: "POST", path: path, key: limited, status: 200},
		{name: "RateLimited", method: "POST", path: path, key: limited, status: 429, code: "rate_limited"},
	})
	dispatch(t, &webhook.Dispatcher{Store: ts.Store, Now: ts.Clock.Now, AllowLoopback: true}, 5)
	if got := rc.types(); got[pihu.EventWebhookTest] != 4 || len(got) != 1 {
		t.Errorf("the endpoint received %v, want 4 test events", got)
	}
	if len(rc.bad) > 0 {
		t.Errorf("bad deliveries: %v", rc.bad)
	}
	if got := bystander.types(); got[pihu.EventWebhookTest] != 0 {
		t.Errorf("another endpoint received %v", got)
	}
	var l pihuhttp.DeliveryList
	ts.do(t, "GET", "/v1/webhook-endpoints/"+ep.ID+"/deliveries", ts.Owner, "").decode(t, &l)
	if len(l.Data) != 4 || l.Data[3].ID != sent.ID || l.Data[2].Status != pihu.DeliveryDelivered {
		t.Errorf("deliveries: %+v, want the test ones, delivered", l.Data)
	}
}

// TestWebhookEndpoints_Resend resends a delivery: a new delivery of the
// same event (id and body), which the receiver gets again.
func TestWebhookEndpoints_Resend(t *testing.T) {
	ts, _ := webhookServer(t)
	rc := newReceiver(t, ts.Clock.Now)
	ep := ts.createEndpoint(t, ts.Owner, rc, pihu.EventKeyCreated)
	other := ts.createEndpoint(t, ts.Owner, newReceiver(t, ts.Clock.Now), pihu.EventKeyCreated)
	ts.newKey(t, ts.Owner, `{"name":"Worker","permissions":["candidate:read"]}`)
	d := &webhook.Dispatcher{Store: ts.Store, Now: ts.Clock.Now, AllowLoopback: true}
	dispatch(t, d, 5)
	var l pihuhttp.DeliveryList
	ts.do(t, "GET", "/v1/webhook-endpoints/"+ep.ID+"/deliveries", ts.Owner, "").decode(t, &l)
	if len(l.Data) != 1 {
		t.Fatalf("deliveries: %+v", l.Data)
	}
	first := l.Data[0]
	reader := ts.newKey(t, ts.Owner, `{"name":"Reader","permissions":["webhook:read"]}`).Key
	token := ts.mint(t, ts.newKey(t, ts.Owner, `{"name":"Writer","permissions":["webhook:write","token:write"]}`).Key, `{}`).AccessToken
	_, foreign := ts.newAccount(t, "Foreign")
	path := "/v1/webhook-endpoints/" + ep.ID + "/deliveries/" + first.ID + "/resend"
	var again pihuhttp.Delivery
	ts.run(t, []scenario{
		{name: "OK", method: "POST", path: path, key: ts.Owner, status: 200, check: func(t *testing.T, r response) {
			r.decode(t, &again)
			if again.ID == first.ID || again.EventID != first.EventID || again.Type != first.Type || again.Status != pihu.DeliveryPending {
				t.Errorf("got %s, want a new delivery of %s", r.body, first.EventID)
			}
		}},
		{name: "Token", method: "POST", path: path, key: token, status: 200},
		{name: "UnknownField", method: "POST", path: path, key: ts.Owner, body: `{"to":"x"}`, status: 400, code: "parameter_unknown", param: "to"},
		{name: "NoKey", method: "POST", path: path, status: 401, code: "missing_api_key"},
		{name: "ReadOnly", method: "POST", path: path, key: reader, status: 403, code: "insufficient_permissions"},
		{name: "OtherAccount", method: "POST", path: path, key: foreign, status: 404, code: "not_found"},
		{name: "ThroughAnotherEndpoint", method: "POST", path: "/v1/webhook-endpoints/" + other.ID + "/deliveries/" + first.ID + "/resend", key: ts.Owner, status: 404, code: "not_found"},
		{name: "UnknownDelivery", method: "POST", path: "/v1/webhook-endpoints/" + ep.ID + "/deliveries/whd_nope/resend", key: ts.Owner, status: 404, code: "not_found"},
	})
	dispatch(t, d, 5)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, ev := range rc.events {
		if ev.ID == first.EventID {
			n++
		}
	}
	if n != 3 || len(rc.bad) > 0 {
		t.Errorf("received %s %d times (bad: %v), want 3 times (sent, resent twice)", first.EventID, n, rc.bad)
	}
}

// TestWebhookEndpoints_RollSecret rolls an endpoint's secret with an
// hour's overlap: meanwhile each delivery carries a signature by each
// secret, and a receiver holding either accepts it; after the hour, the
// new secret alone signs.
func TestWebhookEndpoints_RollSecret(t *testing.T) {
	ts, _ := webhookServer(t)
	rc := newReceiver(t, ts.Clock.Now)
	ep := ts.createEndpoint(t, ts.Owner, rc, pihu.EventKeyCreated)
	reader := ts.newKey(t, ts.Owner, `{"name":"Reader","permissions":["webhook:read"]}`).Key
	writer := ts.newKey(t, ts.Owner, `{"name":"Writer","permissions":["webhook:write","token:write"]}`).Key
	token := ts.mint(t, writer, `{}`).AccessToken
	_, foreign := ts.newAccount(t, "Foreign")
	path := "/v1/webhook-endpoints/" + ep.ID + "/roll-secret"
	var rolled pihuhttp.WebhookEndpointCreated
	ts.run(t, []scenario{
		{name: "TooLong", method: "POST", path: path, key: ts.Owner, body: `{"expire_old_in":"8d"}`, status: 400, code: "parameter_invalid", param: "expire_old_in"},
		{name: "NotADuration", method: "POST", path: path, key: ts.Owner, body: `{"expire_old_in":"soon"}`, status: 400, code: "parameter_invalid", param: "expire_old_in"},
		{name: "UnknownField", method: "POST", path: path, key: ts.Owner, body: `{"secret":"whsec_mine"}`, status: 400, code: "parameter_unknown", param: "secret"},
		{name: "NoKey", method: "POST", path: path, status: 401, code: "missing_api_key"},
		{name: "ReadOnly", method: "POST", path: path, key: reader, status: 403, code: "insufficient_permissions"},
		{name: "Token", method: "POST", path: path, key: token, status: 403, code: "insufficient_permissions"},
		{name: "OtherAccount", method: "POST", path: path, key: foreign, status: 404, code: "not_found"},
		{name: "OK", method: "POST", path: path, key: ts.Owner, body: `{"expire_old_in":"1h"}`, status: 200, check: func(t *testing.T, r response) {
			r.decode(t, &rolled)
			want := ts.Clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			if !strings.HasPrefix(rolled.Secret, "whsec_") || rolled.Secret == ep.Secret || rolled.PreviousSecretExpires == nil || *rolled.PreviousSecretExpires != want {
				t.Errorf("got %s, want a new secret and the old one until %s", r.body, want)
			}
		}},
	})
	if res := ts.do(t, "GET", "/v1/webhook-endpoints/"+ep.ID, ts.Owner, ""); res.status != 200 || strings.Contains(string(res.body), "whsec_") || !strings.Contains(string(res.body), `"previous_secret_expires":"`) {
		t.Errorf("GET after the roll: %d %s", res.status, res.body)
	}
	d := &webhook.Dispatcher{Store: ts.Store, Now: ts.Clock.Now, AllowLoopback: true}
	// During the overlap a receiver with the old secret, then one with
	// the new, accepts the deliveries.
	for _, secret := range []string{ep.Secret, rolled.Secret} {
		rc.mu.Lock()
		rc.secret = secret
		rc.mu.Unlock()
		ts.newKey(t, ts.Owner, `{"name":"During","permissions":["candidate:read"]}`)
		dispatch(t, d, 5)
	}
	rc.mu.Lock()
	if len(rc.events) < 2 || len(rc.bad) > 0 || slices.ContainsFunc(rc.sigs, func(s string) bool { return strings.Count(s, "v1=") != 2 }) {
		t.Errorf("during the overlap: received %d, bad %v, signatures %q", len(rc.events), rc.bad, rc.sigs)
	}
	rc.secret = ep.Secret
	rc.mu.Unlock()
	// After it, the old secret no longer verifies.
	ts.Clock.Add(time.Hour + time.Second)
	ts.newKey(t, ts.Owner, `{"name":"After","permissions":["candidate:read"]}`)
	dispatch(t, d, 5)
	rc.mu.Lock()
	if len(rc.bad) != 1 || strings.Count(rc.sigs[len(rc.sigs)-1], "v1=") != 1 {
		t.Errorf("after the overlap: bad %v, signatures %q; want one signature, not by the old secret", rc.bad, rc.sigs)
	}
	rc.mu.Unlock()
	// "now" (the default) ends the old secret at once.
	var again pihuhttp.WebhookEndpointCreated
	ts.do(t, "POST", path, ts.Owner, "").decode(t, &again)
	if again.Secret == rolled.Secret || again.PreviousSecretExpires != nil {
		t.Errorf("a roll with no overlap: %+v", again)
	}
	var events pihuhttp.AuditEventList
	ts.do(t, "GET", "/v1/auth/audit-events?limit=100", ts.Owner, "").decode(t, &events)
	n := 0
	for _, ev := range events.Data {
		if ev.Target == ep.ID && ev.Action == pihu.ActionWebhookSecretRolled {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d %s audit events, want 2", n, pihu.ActionWebhookSecretRolled)
	}
}
