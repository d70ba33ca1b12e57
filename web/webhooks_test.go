package web_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
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
