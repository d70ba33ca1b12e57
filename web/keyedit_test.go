package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// editForm is the edit form of a key made by createKey, as the page
// fills it in, with the fields of kv set over it.
func editForm(kv ...string) url.Values {
	f := form("name", "Billing", "permissions", "candidate:read")
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

func TestKeys_Edit(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	id, secret := b.createKey("Billing")
	if _, err := d.Auth.Authenticate(t.Context(), secret); err != nil {
		t.Fatal(err)
	}
	u := mustUser(t, d, "ada@example.com")
	events := func() []*pihu.AuditEvent {
		t.Helper()
		evs, _, err := d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: u.AccountID, Target: id, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	before := len(events())

	p := b.get("/keys/" + id + "/edit")
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, `action="/keys/`+id+`/edit"`, `value="Billing"`, `value="candidate:read" checked`, `type="date"`)
	checkContains(t, b.get("/keys/"+id), `href="/keys/`+id+`/edit"`)

	t.Run("Mistakes", func(t *testing.T) {
		p := b.post("/keys/"+id+"/edit", editForm("name", "", "rate_limit", "fast", "expires", "tomorrow", "remaining", "lots", "metadata", "[1]"))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, `id="name-error"`, `id="rate_limit-error"`, `id="expires-error"`, `id="remaining-error"`)
		p = b.post("/keys/"+id+"/edit", editForm("metadata", "[1]", "allowed_ips", "not-an-address"))
		checkStatus(t, p, http.StatusBadRequest)
		p = b.post("/keys/"+id+"/edit", editForm("expires", "2001-01-01"))
		checkStatus(t, p, http.StatusBadRequest)
		p = b.post("/keys/"+id+"/edit", editForm("permissions", "billing:read"))
		checkStatus(t, p, http.StatusBadRequest)
		p = b.post("/keys/"+id+"/edit", url.Values{"name": {"Billing"}})
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "Choose at least one permission or role.")
		k, err := d.Store.Key(t.Context(), u.AccountID, id)
		if err != nil || k.Name != "Billing" || !k.RateLimit.IsZero() || k.Expires != nil || k.Metadata != nil || k.Credits != nil {
			t.Errorf("after refused edits the key is %+v, %v: want it as it was", k, err)
		}
		if n := len(events()); n != before {
			t.Errorf("refused edits wrote %d audit events", n-before)
		}
	})

	t.Run("NothingChanged", func(t *testing.T) {
		checkRedirect(t, b.post("/keys/"+id+"/edit", editForm()), "/keys/"+id+"?saved=0")
		checkContains(t, b.get("/keys/"+id+"?saved=0"), "Nothing to save")
		if n := len(events()); n != before {
			t.Errorf("an edit without change wrote %d audit events", n-before)
		}
	})

	checkRedirect(t, b.post("/keys/"+id+"/edit", editForm(
		"name", "Billing v2",
		"permissions", "interview:read",
		"rate_limit", "50/m",
		"allowed_ips", "10.0.0.0/8\n127.0.0.1",
		"metadata", `{"team": "billing"}`,
		"expires", "2030-01-01",
		"remaining", "100",
	)), "/keys/"+id+"?saved=7")
	checkContains(t, b.get("/keys/"+id+"?saved=7"), "Saved the changes to <strong>Billing v2</strong>")
	k, err := d.Store.Key(t.Context(), u.AccountID, id)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if k.Name != "Billing v2" || strings.Join(k.Permissions.Strings(), ",") != "interview:read" || k.RateLimit.String() != "50/m" ||
		k.AllowedIPs.String() != "10.0.0.0/8, 127.0.0.1" || string(k.Metadata) != `{"team":"billing"}` ||
		k.Expires == nil || !k.Expires.Equal(want) || k.Credits == nil || k.Credits.Remaining != 100 {
		t.Errorf("after the edit the key is %+v", k)
	}
	// The cached key changed at once: the API sees the new permissions.
	ak, err := d.Auth.Authenticate(t.Context(), secret)
	if err != nil || ak.Name != "Billing v2" || !ak.Rights().Grants("interview:read") || ak.Rights().Grants("candidate:read") {
		t.Errorf("the API after the edit: %+v, %v", ak, err)
	}
	evs := events()
	if len(evs) != before+1 || evs[0].Action != pihu.ActionKeyUpdated || evs[0].Actor != u.ID {
		t.Errorf("events after the edit: %+v, want one api_key.updated by the user", evs)
	}
	// The form shows the key as it now is, and clearing fields clears them.
	checkContains(t, b.get("/keys/"+id+"/edit"), `value="Billing v2"`, `value="2030-01-01"`, `value="50/m"`, "10.0.0.0/8\n127.0.0.1", `value="100"`)
	checkRedirect(t, b.post("/keys/"+id+"/edit", editForm("name", "Billing v2", "permissions", "interview:read")), "/keys/"+id+"?saved=5")
	k, _ = d.Store.Key(t.Context(), u.AccountID, id)
	if k.Expires != nil || !k.RateLimit.IsZero() || !k.AllowedIPs.Anywhere() || k.Metadata != nil || k.Credits != nil {
		t.Errorf("after clearing: %+v, want no expiry, limit, addresses, metadata or credits", k)
	}

	t.Run("NotByOthers", func(t *testing.T) {
		other := d.signUp(t, "eve@example.com")
		checkStatus(t, other.get("/keys/"+id+"/edit"), http.StatusNotFound)
		checkStatus(t, other.post("/keys/"+id+"/edit", editForm("name", "Eve's")), http.StatusNotFound)
		viewer := d.member(t, b, "grace@example.com", pihu.RoleViewer)
		if p := viewer.post("/keys/"+id+"/edit", editForm("name", "Grace's")); p.StatusCode == http.StatusSeeOther {
			t.Errorf("a viewer edited the key: got %d", p.StatusCode)
		}
		if strings.Contains(viewer.get("/keys/"+id).Body, `/edit"`) {
			t.Error("a viewer is offered the edit link")
		}
		if k, _ := d.Store.Key(t.Context(), u.AccountID, id); k.Name != "Billing v2" {
			t.Errorf("after the others' attempts the key is named %q", k.Name)
		}
	})

	t.Run("Revoked", func(t *testing.T) {
		checkRedirect(t, b.post("/keys/"+id+"/revoke", nil), "/keys?env=live&revoked="+id)
		checkStatus(t, b.get("/keys/"+id+"/edit"), http.StatusNotFound)
		checkStatus(t, b.post("/keys/"+id+"/edit", editForm("name", "Back")), http.StatusNotFound)
	})
}
