package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/client"
	"github.com/pihu-ai/pihu/web"
	"github.com/pihu-ai/pihu/webhook"
)

var (
	whSecretRe   = regexp.MustCompile(`whsec_[0-9A-Za-z]{40,}`)
	endpointIDRe = regexp.MustCompile(`we_[0-9A-Za-z]{22}`)
)

func TestWebhooks_Dashboard(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	checkContains(t, b.get("/webhooks"), "No live webhook endpoints yet", "Add an endpoint", `aria-current="page">Webhooks`)

	// The API's URL rules hold here too.
	p := b.post("/webhooks", form("environment", "live", "url", "http://example.com/hooks", "events", "api_key.created"))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "must use https")
	p = b.post("/webhooks", form("environment", "live", "url", "https://example.com/hooks"))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "Give &#34;events&#34;")
	// So does the server's refusal of its own machine (serve's default).
	for _, u := range []string{"http://127.0.0.1:4242/hooks", "https://localhost/hooks"} {
		p = b.post("/webhooks", form("environment", "live", "url", u, "events", "api_key.created"))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "does not deliver webhooks to its own machine", "--webhook-loopback allow")
	}

	p = b.created(b.post("/webhooks", form("environment", "live", "url", "https://example.com/hooks", "events", "api_key.created", "events", "api_key.revoked", "description", "Alerts")))
	secret, id := whSecretRe.FindString(p.Body), endpointIDRe.FindString(p.Body)
	if secret == "" || id == "" {
		t.Fatalf("no secret or id on the created page:\n%s", p.Body)
	}
	list := b.get("/webhooks")
	checkContains(t, list, "https://example.com/hooks", "Alerts", "api_key.revoked")
	if strings.Contains(list.Body, secret) {
		t.Error("the list shows the secret")
	}
	if strings.Contains(b.get("/webhooks?env=test").Body, "https://example.com/hooks") {
		t.Error("the test list shows a live endpoint")
	}
	checkStatus(t, b.get("/webhooks?env=staging"), http.StatusBadRequest)

	// A key created in the dashboard queues a delivery to it.
	checkContains(t, b.get("/webhooks/"+id), "No deliveries yet")
	b.createKey("Billing")
	page := b.get("/webhooks/" + id)
	checkContains(t, page, "api_key.created", "pending", "Disable")
	if strings.Contains(page.Body, secret) {
		t.Error("the endpoint page shows the secret")
	}

	// A viewer reads, and changes nothing.
	viewer := d.member(t, b, "bob@example.com", pihu.RoleViewer)
	vp := viewer.get("/webhooks")
	checkContains(t, vp, "https://example.com/hooks")
	if strings.Contains(vp.Body, "Add an endpoint") {
		t.Error("the viewer is offered to add an endpoint")
	}
	if strings.Contains(viewer.get("/webhooks/"+id).Body, "Disable") {
		t.Error("the viewer is offered to disable an endpoint")
	}
	checkStatus(t, viewer.post("/webhooks", form("environment", "live", "url", "https://example.com/x", "events", "api_key.created")), http.StatusForbidden)
	checkStatus(t, viewer.post("/webhooks/"+id+"/enabled", form("enabled", "false")), http.StatusForbidden)
	checkStatus(t, viewer.post("/webhooks/"+id+"/delete", form()), http.StatusForbidden)

	// Another account sees none of it.
	other := d.signUp(t, "eve@example.com")
	checkStatus(t, other.get("/webhooks/"+id), http.StatusNotFound)
	checkStatus(t, other.post("/webhooks/"+id+"/delete", form()), http.StatusNotFound)

	checkRedirect(t, b.post("/webhooks/"+id+"/enabled", form("enabled", "false")), "/webhooks/"+id)
	checkContains(t, b.get("/webhooks/"+id), "Disabled", "Enable")
	checkStatus(t, b.post("/webhooks/"+id+"/enabled", form("enabled", "maybe")), http.StatusBadRequest)

	checkContains(t, b.get("/webhooks/"+id+"/delete"), "Delete this endpoint?", `data-confirm=`)
	checkRedirect(t, b.post("/webhooks/"+id+"/delete", form()), "/webhooks?env=live")
	checkStatus(t, b.get("/webhooks/"+id), http.StatusNotFound)

	// Every change is in the audit log.
	checkContains(t, b.get("/audit?key="+id), pihu.ActionWebhookEndpointCreated, pihu.ActionWebhookEndpointUpdated, pihu.ActionWebhookEndpointDeleted)
}

// deliver runs a real dispatcher over the dashboard's store once, on the
// dashboard's clock moved on by the time really spent (so attempts have
// real durations), giving up after maxAttempts.
func deliver(t *testing.T, d *dashboard, maxAttempts int) {
	t.Helper()
	start := time.Now()
	disp := &webhook.Dispatcher{Store: d.Store, AllowLoopback: true, MaxAttempts: maxAttempts,
		Now:     func() time.Time { return d.Clock.Now().Add(time.Since(start)) },
		Backoff: func(int) time.Duration { return 0 }, Logger: slog.New(slog.DiscardHandler)}
	if _, err := disp.RunOnce(t.Context()); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
}

// TestWebhooks_EditAndStatus edits an endpoint on its page, through the
// rules of PATCH, and reads its failing deliveries: their durations in
// milliseconds, "retrying (attempt 1 of 20)", then "failed after 2
// attempts". The Test switch holds in the navigation of a test page.
func TestWebhooks_EditAndStatus(t *testing.T) {
	d := newDashboard(t, func(o *web.Options) { o.WebhookLoopback = true })
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(25 * time.Millisecond)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	b := d.signUp(t, "ada@example.com")
	p := b.created(b.post("/webhooks", form("environment", "test", "url", failing.URL+"/hooks", "events", "api_key.created")))
	id := endpointIDRe.FindString(p.Body)

	// The test environment stays chosen across the sections.
	page := b.get("/webhooks/" + id)
	checkContains(t, page, `href="/keys?env=test"`, `href="/webhooks?env=test"`, "Edit the URL, events and description")
	checkContains(t, b.get("/webhooks?env=test"), `href="/keys?env=test"`)
	checkContains(t, b.get("/keys?env=test"), `href="/webhooks?env=test"`)
	if strings.Contains(b.get("/keys").Body, `href="/webhooks?env=test"`) {
		t.Error("a live page links to the test webhooks")
	}

	// The edit form refuses what PATCH refuses, beside the field, and
	// changes nothing.
	bad := b.post("/webhooks/"+id+"/edit", form("url", "http://example.com/x", "events", "api_key.created"))
	checkStatus(t, bad, http.StatusBadRequest)
	checkContains(t, bad, "must use https", `aria-invalid="true"`, "<details class=\"panel edit-panel\" open>")
	bad = b.post("/webhooks/"+id+"/edit", form("url", failing.URL+"/hooks"))
	checkStatus(t, bad, http.StatusBadRequest)
	checkContains(t, bad, "&#34;events&#34; is empty")
	bad = b.post("/webhooks/"+id+"/edit", form("url", failing.URL+"/hooks", "events", "api_key.created", "events", "key.nope"))
	checkStatus(t, bad, http.StatusBadRequest)
	checkContains(t, bad, "is not an event type")
	e, err := d.Store.WebhookEndpoint(t.Context(), pihu.Scope{AccountID: memberOf(t, d.Store, "ada@example.com").AccountID, Environment: pihu.Test}, id)
	if err != nil || e.URL != failing.URL+"/hooks" || len(e.Events) != 1 {
		t.Fatalf("after refused edits the endpoint is %+v, %v", e, err)
	}
	checkRedirect(t, b.post("/webhooks/"+id+"/edit", form("url", failing.URL+"/v2", "events", "api_key.created", "events", "api_key.revoked", "description", "Alerts")), "/webhooks/"+id)
	page = b.get("/webhooks/" + id)
	checkContains(t, page, failing.URL+"/v2", "api_key.revoked", "Alerts")
	// The server's refusal of its own machine holds for a new URL.
	strict := newDashboard(t)
	sb := strict.signUp(t, "bob@example.com")
	sid := endpointIDRe.FindString(sb.created(sb.post("/webhooks", form("environment", "live", "url", "https://example.com/a", "events", "api_key.created"))).Body)
	bad = sb.post("/webhooks/"+sid+"/edit", form("url", "https://localhost/a", "events", "api_key.created"))
	checkStatus(t, bad, http.StatusBadRequest)
	checkContains(t, bad, "does not deliver webhooks to its own machine")
	viewer := d.member(t, b, "eve@example.com", pihu.RoleViewer)
	checkStatus(t, viewer.post("/webhooks/"+id+"/edit", form("url", "https://example.com/x", "events", "api_key.created")), http.StatusForbidden)
	if strings.Contains(viewer.get("/webhooks/"+id).Body, "Edit the URL") {
		t.Error("the viewer is offered the edit form")
	}

	// A failing delivery: its attempt's duration in milliseconds, and
	// where it stands in words.
	b.createKey("Billing", "environment", "test")
	deliver(t, d, 2)
	page = b.get("/webhooks/" + id)
	checkContains(t, page, "retrying (attempt 1 of 20)", "the endpoint answered 503")
	if !regexp.MustCompile(`\((2[5-9]|[3-9]\d|\d{3,}) ms\)`).MatchString(page.Body) {
		t.Errorf("the attempt's duration is not in whole milliseconds:\n%s", page.Body)
	}
	if regexp.MustCompile(`\d+\.\d+ms|µs`).MatchString(page.Body) {
		t.Errorf("a duration is printed raw:\n%s", page.Body)
	}
	deliver(t, d, 2)
	checkContains(t, b.get("/webhooks/"+id), "failed after 2 attempts")
	checkContains(t, b.get("/audit?key="+id), pihu.ActionWebhookEndpointUpdated)
}

// sigReceiver is a webhook endpoint on loopback that keeps every
// delivery's body and signature header.
type sigReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	sigs   []string
}

func newSigReceiver(t *testing.T) *sigReceiver {
	rc := &sigReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies, rc.sigs = append(rc.bodies, body), append(rc.sigs, r.Header.Get("Pihu-Signature"))
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// verified returns the events received that verify with secret.
func (rc *sigReceiver) verified(t *testing.T, secret string) []client.Event {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []client.Event
	for i, body := range rc.bodies {
		// The deliveries are signed at the dashboard's clock, in 2024.
		if ev, err := client.VerifyWebhook(body, rc.sigs[i], secret, time.Since(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))); err == nil {
			out = append(out, ev)
		}
	}
	return out
}

// TestWebhooks_TestResendPayloadRoll sends a test event from the endpoint
// page, which a real receiver gets signed; views its payload; resends it
// (the same event again); and rolls the secret with an overlap, after
// which a delivery verifies with either secret.
func TestWebhooks_TestResendPayloadRoll(t *testing.T) {
	d := newDashboard(t, func(o *web.Options) { o.WebhookLoopback = true })
	rc := newSigReceiver(t)
	b := d.signUp(t, "ada@example.com")
	p := b.created(b.post("/webhooks", form("environment", "live", "url", rc.URL+"/hooks", "events", "api_key.revoked")))
	secret, id := whSecretRe.FindString(p.Body), endpointIDRe.FindString(p.Body)
	checkContains(t, b.get("/webhooks/"+id), "Send test event", "Roll secret")

	// A test event, to this endpoint only.
	sent := b.post("/webhooks/"+id+"/test", form())
	checkStatus(t, sent, http.StatusSeeOther)
	loc := sent.Header.Get("Location")
	deliveryID := regexp.MustCompile(`whd_[0-9A-Za-z]+`).FindString(loc)
	if !strings.HasPrefix(loc, "/webhooks/"+id+"?queued=whd_") || deliveryID == "" {
		t.Fatalf("the test event redirects to %q", loc)
	}
	checkContains(t, b.get(loc), "Delivery "+deliveryID+" was queued", pihu.EventWebhookTest, "pending", `href="/webhooks/`+id+`/deliveries/`+deliveryID+`"`)
	deliver(t, d, 20)
	if got := rc.verified(t, secret); len(got) != 1 || got[0].Type != pihu.EventWebhookTest {
		t.Fatalf("the receiver verified %+v, want the test event", got)
	}

	// Its payload, read-only and escaped, in a region that scrolls alone.
	dp := b.get("/webhooks/" + id + "/deliveries/" + deliveryID)
	checkContains(t, dp, "delivered", "&#34;type&#34;: &#34;webhook.test&#34;", "&#34;endpoint_id&#34;: &#34;"+id+"&#34;", `tabindex="0"`, `action="/webhooks/`+id+`/deliveries/`+deliveryID+`/resend"`, "204")
	if strings.Contains(dp.Body, secret) {
		t.Error("the delivery page shows the secret")
	}
	checkStatus(t, b.get("/webhooks/"+id+"/deliveries/whd_nope"), http.StatusNotFound)

	// Resent: a new delivery of the same event.
	again := b.post("/webhooks/"+id+"/deliveries/"+deliveryID+"/resend", form())
	checkStatus(t, again, http.StatusSeeOther)
	if l := again.Header.Get("Location"); !strings.Contains(l, "?queued=whd_") || strings.Contains(l, deliveryID) {
		t.Errorf("the resend redirects to %q, want a new delivery", l)
	}
	deliver(t, d, 20)
	if got := rc.verified(t, secret); len(got) != 2 || got[1].ID != got[0].ID {
		t.Fatalf("the receiver verified %+v, want the same event twice", got)
	}

	// Nobody else acts on it; a viewer reads.
	viewer := d.member(t, b, "bob@example.com", pihu.RoleViewer)
	vp := viewer.get("/webhooks/" + id + "/deliveries/" + deliveryID)
	checkContains(t, vp, "webhook.test")
	if strings.Contains(vp.Body, "/resend") {
		t.Error("the viewer is offered to resend")
	}
	for _, path := range []string{"/test", "/deliveries/" + deliveryID + "/resend", "/roll"} {
		checkStatus(t, viewer.post("/webhooks/"+id+path, form("expire_old_in", "now")), http.StatusForbidden)
	}
	other := d.signUp(t, "eve@example.com")
	checkStatus(t, other.get("/webhooks/"+id+"/deliveries/"+deliveryID), http.StatusNotFound)
	checkStatus(t, other.post("/webhooks/"+id+"/deliveries/"+deliveryID+"/resend", form()), http.StatusNotFound)
	checkStatus(t, other.post("/webhooks/"+id+"/test", form()), http.StatusNotFound)

	// The roll: an overlap longer than 7 days is refused; an hour's is
	// shown once, and deliveries verify with either secret meanwhile.
	checkContains(t, b.get("/webhooks/"+id+"/roll"), "When should the old secret stop signing?", `value="24h" checked`)
	bad := b.post("/webhooks/"+id+"/roll", form("expire_old_in", "8d"))
	checkStatus(t, bad, http.StatusBadRequest)
	checkContains(t, bad, "longer than 7 days")
	rolled := b.post("/webhooks/"+id+"/roll", form("expire_old_in", "1h"))
	checkStatus(t, rolled, http.StatusSeeOther)
	view := b.get(rolled.Header.Get("Location"))
	checkContains(t, view, "Signing secret rolled", "The old secret signs too until 2024-02-20 13:00 UTC")
	newSecret := whSecretRe.FindString(view.Body)
	if newSecret == "" || newSecret == secret {
		t.Fatalf("the roll shows %q", newSecret)
	}
	checkStatus(t, b.get(rolled.Header.Get("Location")), http.StatusGone)
	checkContains(t, b.get("/webhooks/"+id), "the former secret also signs until 2024-02-20 13:00 UTC")
	b.post("/webhooks/"+id+"/test", form())
	deliver(t, d, 20)
	if o, n := rc.verified(t, secret), rc.verified(t, newSecret); len(o) != 3 || len(n) != 1 {
		t.Errorf("during the overlap %d deliveries verify with the old secret and %d with the new; want 3 and 1", len(o), len(n))
	}
	checkContains(t, b.get("/audit?key="+id), pihu.ActionWebhookSecretRolled)
}
