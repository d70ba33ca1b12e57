package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
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
