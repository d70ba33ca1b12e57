package web_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// TestAudit_Filters filters the audit log by a key's name (revoked keys
// included), by kind (sign-ins apart), by actor email and by dates, shows
// actions in words, and exports what it shows as CSV, spreadsheet-safe.
func TestAudit_Filters(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	billing, _ := owner.createKey("Billing service")
	owner.createKey("Search")
	// A key named like a formula, to export.
	formula, _ := owner.createKey("=HYPERLINK(\"x\")")
	checkRedirect(t, owner.post("/keys/"+billing+"/revoke", nil), "/keys?env=live&revoked="+billing)
	admin := d.member(t, owner, "grace@example.com", "admin")
	graceKey, _ := admin.createKey("Grace's key")

	p := owner.get("/audit")
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "Created the key Billing service", "Revoked the key Billing service", "Signed up", `<code class="id action">api_key.revoked</code>`)

	// By name: the revoked key's whole history, no other key's.
	p = owner.get("/audit?key=Billing+service")
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "Created the key Billing service", "Revoked the key Billing service", `value="Billing service"`)
	for _, other := range []string{"Search", "Signed up", graceKey} {
		if strings.Contains(p.Body, other) {
			t.Errorf("the history of Billing service shows %q", other)
		}
	}
	if p := owner.get("/audit?key=Nobody"); !strings.Contains(p.Body, "No events.") {
		t.Errorf("a name that names no key shows events")
	}

	// Sign-ins apart from key changes.
	p = owner.get("/audit?category=signins")
	checkContains(t, p, "Signed up")
	if strings.Contains(p.Body, "Created the key") {
		t.Errorf("the sign-ins view shows key changes")
	}
	p = owner.get("/audit?category=keys")
	checkContains(t, p, "Created the key Search")
	if strings.Contains(p.Body, "Signed up") || strings.Contains(p.Body, "Invited a member") {
		t.Errorf("the keys view shows sign-ins or the team")
	}
	checkContains(t, owner.get("/audit?category=team"), "Invited a member")

	// By actor: Grace's own actions only.
	p = owner.get("/audit?actor=grace@example.com&category=keys")
	checkContains(t, p, "Grace&#39;s key")
	if strings.Contains(p.Body, "Billing service") {
		t.Errorf("Grace's actions show Ada's")
	}

	// By dates: today has everything, yesterday nothing.
	today := d.Clock.Now().UTC().Format(time.DateOnly)
	yesterday := d.Clock.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	checkContains(t, owner.get("/audit?from="+today+"&to="+today), "Created the key Search")
	checkContains(t, owner.get("/audit?to="+yesterday), "No events.")
	p = owner.get("/audit?from=" + today + "&to=" + yesterday)
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "must come after its start")
	checkStatus(t, owner.get("/audit?from=monday"), http.StatusBadRequest)
	checkStatus(t, owner.get("/audit?category=secrets"), http.StatusBadRequest)

	// The CSV holds what the page shows, formulas defused.
	p = owner.get("/audit.csv?category=keys")
	checkStatus(t, p, http.StatusOK)
	if ct := p.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" || !strings.Contains(p.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("the export's headers: %q, %q", ct, p.Header.Get("Content-Disposition"))
	}
	rows, err := csv.NewReader(strings.NewReader(p.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 || strings.Join(rows[0], ",") != "time,action,description,actor_id,actor,target_id,target,ip" {
		t.Fatalf("the export: %q, want a header and 5 key events", rows)
	}
	var sawFormula bool
	for _, row := range rows[1:] {
		if !strings.HasPrefix(row[1], "api_key.") {
			t.Errorf("the keys export holds %q", row)
		}
		if row[5] == formula {
			sawFormula = true
			if row[6] != "'=HYPERLINK(\"x\")" || !strings.HasPrefix(row[2], "Created the key =") {
				t.Errorf("the formula key's row: %q, want its name quoted with an apostrophe", row)
			}
		}
	}
	if !sawFormula {
		t.Errorf("the export lacks the formula key: %q", rows)
	}
	// Another account's export is its own.
	other := d.signUp(t, "eve@example.com")
	if p := other.get("/audit.csv"); strings.Contains(p.Body, billing) || strings.Contains(p.Body, "ada@example.com") {
		t.Errorf("another account's export shows this one's events")
	}
}

// TestAudit_ExportCap: the CSV export holds the newest 10,000 events that
// match, newest first, however many more there are (docs/dashboard.md).
func TestAudit_ExportCap(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	acct := memberOf(t, d.Store, "ada@example.com").AccountID
	now := d.Clock.Now()
	k, _, err := pihu.NewKey(acct, pihu.KeyRequest{Name: "Busy", Permissions: pihu.Permissions{"candidate:read"}}, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	// 10,050 events of one key, a second apart, stored with it.
	const n = 10050
	events := make([]*pihu.AuditEvent, n)
	for i := range events {
		events[i] = pihu.NewAuditEvent(pihu.EventKeyCreated, "key_"+strings.Repeat("0", pihu.IDLength), "", k, now.Add(time.Duration(i-n)*time.Second))
	}
	if err := d.Store.CreateKey(t.Context(), k, events...); err != nil {
		t.Fatal(err)
	}
	p := owner.get("/audit.csv?key=" + k.ID)
	checkStatus(t, p, http.StatusOK)
	rows, err := csv.NewReader(strings.NewReader(p.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+10000 {
		t.Fatalf("the export of %d events has %d rows, want a header and 10,000", n, len(rows))
	}
	newest := now.Add(-time.Second).UTC().Format(time.RFC3339)
	oldest := now.Add(-10000 * time.Second).UTC().Format(time.RFC3339)
	if rows[1][0] != newest || rows[10000][0] != oldest {
		t.Errorf("the export runs from %s to %s, want the newest 10,000: %s to %s", rows[1][0], rows[10000][0], newest, oldest)
	}
}
