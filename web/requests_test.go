package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// logRequests records requests of key id of account accountID in the
// request log as the API does (through the Authenticator), and flushes
// them.
func (d *dashboard) logRequests(tb testing.TB, accountID, id string, entries ...pihu.RequestLogEntry) {
	tb.Helper()
	for _, e := range entries {
		e.AccountID, e.KeyID = accountID, id
		if e.Door == "" {
			e.Door = pihu.DoorAPI
		}
		d.Auth.LogRequest(&e)
	}
	if err := d.Auth.Flush(tb.Context()); err != nil {
		tb.Fatal(err)
	}
}

// TestRequests_Pages: a key's page shows its recent requests (time,
// method, path, status, address, reason in words), filtered to refusals
// or a reason; the account's Requests page, reached from the header,
// shows every key's and filters by key; another account sees none of
// them.
func TestRequests_Pages(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	billing, _ := owner.createKey("Billing service")
	search, _ := owner.createKey("Search")
	acct := memberOf(t, d.Store, "ada@example.com").AccountID
	d.logRequests(t, acct, billing,
		pihu.RequestLogEntry{RequestID: "req_1", Method: "GET", Path: "/v1/invoices", Status: 200, IP: "203.0.113.7"},
		pihu.RequestLogEntry{RequestID: "req_2", Method: "POST", Path: "/v1/invoices", Status: 429, IP: "203.0.113.7", Code: pihu.ERateLimited},
		pihu.RequestLogEntry{RequestID: "req_3", Method: "DELETE", Path: "/v1/invoices/9", Status: 403, IP: "198.51.100.2", Code: pihu.EIPNotAllowed},
	)
	d.logRequests(t, acct, search, pihu.RequestLogEntry{RequestID: "req_4", Method: "GET", Path: "/v1/search", Status: 404, IP: "192.0.2.1", Code: pihu.ENotFound})

	p := owner.get("/keys/" + billing)
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "Recent requests", `<code>GET /v1/invoices</code>`, "200 OK", "429 Too Many Requests", "<strong>Rate limited</strong>",
		"<strong>Address not allowed</strong>", "<code>203.0.113.7</code>", `tabindex="0" role="region" aria-label="Requests"`)
	if strings.Contains(p.Body, "/v1/search") {
		t.Errorf("the key's page shows another key's request")
	}
	p = owner.get("/keys/" + billing + "?show=refused")
	checkContains(t, p, "POST /v1/invoices", "DELETE /v1/invoices/9")
	if strings.Contains(p.Body, "200 OK") {
		t.Errorf("refused only shows a request let through")
	}
	p = owner.get("/keys/" + billing + "?reason=ip_not_allowed")
	checkContains(t, p, "DELETE /v1/invoices/9")
	if strings.Contains(p.Body, "POST /v1/invoices") {
		t.Errorf("the reason filter shows another reason")
	}

	p = owner.get("/requests")
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, `<a href="/requests" aria-current="page">Requests</a>`, "GET /v1/search", "Not found", "POST /v1/invoices", "Billing service", "Search")
	p = owner.get("/requests?key=" + search)
	checkContains(t, p, "GET /v1/search")
	if strings.Contains(p.Body, "/v1/invoices") {
		t.Errorf("the key filter shows another key's requests")
	}
	checkStatus(t, owner.get("/requests?show=everything"), http.StatusBadRequest)

	other := d.signUp(t, "grace@example.com")
	if p := other.get("/requests"); strings.Contains(p.Body, "/v1/invoices") || !strings.Contains(p.Body, "No requests") {
		t.Errorf("another account's Requests page shows these requests")
	}
	checkStatus(t, other.get("/keys/"+billing), http.StatusNotFound)
}

// TestRequests_Omitted: the requests left out of the log over the budget
// show as one row that says how many.
func TestRequests_Omitted(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	id, _ := owner.createKey("Busy")
	acct := memberOf(t, d.Store, "ada@example.com").AccountID
	if err := d.Store.AppendRequestLog(t.Context(), []pihu.RequestLogEntry{{AccountID: acct, KeyID: id, Time: time.Now(), Omitted: 250}}); err != nil {
		t.Fatal(err)
	}
	checkContains(t, owner.get("/keys/"+id), "250 requests not logged")
}
