package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestNamedLimits_Dashboard: the key edit form sets, shows and removes a
// key's named limits, refusing a bad one; the identities page creates an
// identity with named limits, lists them, and replaces or removes them.
func TestNamedLimits_Dashboard(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	u := mustUser(t, d, "ada@example.com")
	id, _ := b.createKey("Billing")

	p := b.post("/keys/"+id+"/edit", editForm("ratelimits", "tokens=50000/d, images=10/m"))
	checkStatus(t, p, http.StatusSeeOther)
	k, err := d.Store.Key(t.Context(), u.AccountID, id)
	if err != nil || k.RateLimits.String() != "images=10/m, tokens=50000/d" {
		t.Fatalf("after the edit: %v, %v", k.RateLimits, err)
	}
	checkContains(t, b.get("/keys/"+id), "<code>images=10/m</code>", "<code>tokens=50000/d</code>")
	checkContains(t, b.get("/keys/"+id+"/edit"), `value="images=10/m, tokens=50000/d"`)

	p = b.post("/keys/"+id+"/edit", editForm("ratelimits", "Tokens=5/m"))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, `id="ratelimits-error"`)
	p = b.post("/keys/"+id+"/edit", editForm("ratelimits", ""))
	checkStatus(t, p, http.StatusSeeOther)
	if k, _ := d.Store.Key(t.Context(), u.AccountID, id); k.RateLimits != nil {
		t.Errorf("after emptying the field: %v, want none", k.RateLimits)
	}

	p = b.post("/identities", form("environment", "live", "external_id", "org_acme", "ratelimits", "tokens=1000/h"))
	checkStatus(t, p, http.StatusSeeOther)
	checkContains(t, b.get("/identities?env=live"), "<code>tokens=1000/h</code>")
	idt := identityIDRe.FindString(p.Header.Get("Location"))
	p = b.post("/identities/"+idt+"/ratelimits", form("environment", "live", "ratelimits", "tokens=10/m, images=1/s"))
	checkStatus(t, p, http.StatusSeeOther)
	checkContains(t, b.get("/identities?env=live"), "<code>images=1/s</code>", "<code>tokens=10/m</code>", `value="images=1/s, tokens=10/m"`)
	p = b.post("/identities/"+idt+"/ratelimits", form("environment", "live", "ratelimits", "x=fast"))
	checkStatus(t, p, http.StatusBadRequest)
	p = b.post("/identities/"+idt+"/ratelimits", form("environment", "live", "ratelimits", ""))
	checkStatus(t, p, http.StatusSeeOther)
	if strings.Contains(b.get("/identities?env=live").Body, "<code>tokens=") {
		t.Errorf("the identity's named limits after emptying them: still listed")
	}
	p = b.post("/identities", form("environment", "live", "external_id", "org_x", "ratelimits", "tokens"))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "is not NAME=LIMIT")
}
