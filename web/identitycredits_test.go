package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
)

// TestIdentities_Credits: the Identities page creates an identity with
// credits its keys share and a refill, shows what is left, and adds to
// them or sets them (identity.updated, reaching its keys at once); the
// key form offers the account's identities, and a key made there for
// one spends its credits.
func TestIdentities_Credits(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")

	p := b.post("/identities", form("environment", "live", "external_id", "org_acme", "remaining", "2", "refill_interval", "daily", "refill_amount", "50"))
	checkStatus(t, p, http.StatusSeeOther)
	id := identityIDRe.FindString(p.Header.Get("Location"))
	checkContains(t, b.get("/identities?env=live"), "<strong>2</strong> left, shared", "refilled to 50 every day", `action="/identities/`+id+`/credits"`)
	b.post("/identities", form("environment", "test", "external_id", "org_test"))
	// A monthly refill on a day of the month; empty, the 1st.
	checkStatus(t, b.post("/identities", form("environment", "live", "external_id", "org_mid", "remaining", "5",
		"refill_interval", "monthly", "refill_amount", "80", "refill_day", "15")), http.StatusSeeOther)
	checkStatus(t, b.post("/identities", form("environment", "live", "external_id", "org_first", "remaining", "5",
		"refill_interval", "monthly", "refill_amount", "90")), http.StatusSeeOther)
	checkContains(t, b.get("/identities?env=live"), "refilled to 80 on day 15 of every month", "refilled to 90 on day 1 of every month",
		`<input id="refill_day" name="refill_day"`)

	t.Run("Invalid", func(t *testing.T) {
		p := b.post("/identities", form("environment", "live", "external_id", "x", "remaining", "lots"))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "whole number")
		p = b.post("/identities", form("environment", "live", "external_id", "x", "refill_interval", "daily", "refill_amount", "5"))
		checkStatus(t, p, http.StatusBadRequest)
		// A refill's day: monthly only, 1 to 31; an amount or a day
		// without an interval is not dropped silently.
		for _, c := range []struct{ interval, amount, day, want string }{
			{"daily", "5", "3", "Only a monthly refill has a day"},
			{"monthly", "5", "0", "from 1 to 31"},
			{"monthly", "5", "32", "from 1 to 31"},
			{"monthly", "5", "1st", "from 1 to 31"},
			{"", "5", "", "Choose when the credits are refilled"},
			{"", "", "15", "Choose when the credits are refilled"},
		} {
			p := b.post("/identities", form("environment", "live", "external_id", "x", "remaining", "9",
				"refill_interval", c.interval, "refill_amount", c.amount, "refill_day", c.day))
			checkStatus(t, p, http.StatusBadRequest)
			checkContains(t, p, c.want)
		}
		if strings.Contains(b.get("/identities?env=live").Body, "<strong>x</strong>") {
			t.Error("a refused identity was created")
		}
		p = b.post("/identities/"+id+"/credits", form("environment", "live", "add", "1", "remaining", "1"))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "not both")
		p = b.post("/identities/"+id+"/credits", form("environment", "live"))
		checkStatus(t, p, http.StatusBadRequest)
		if p := b.post("/identities/"+id+"/credits", form("environment", "test", "add", "1")); p.StatusCode != http.StatusNotFound {
			t.Errorf("a live identity's credits as a test one: got %d, want 404", p.StatusCode)
		}
	})

	// The key form offers the identities, and makes a key for one.
	p = b.get("/keys/new")
	checkContains(t, p, `<select id="identity_id" name="identity_id"`, `value="`+id+`"`, "org_acme (live, shares its credits)", "org_test (test)")
	p = b.post("/keys", form("name", "Acme", "permissions", "candidate:read", "environment", "test", "identity_id", id))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "is not an identity of this account and environment")
	secret := secretRe.FindString(b.created(b.post("/keys", form("name", "Acme", "permissions", "candidate:read", "environment", "live", "identity_id", id))).Body)
	k, err := d.Auth.Authenticate(t.Context(), secret)
	if err != nil || k.Identity == nil || k.Identity.ID != id || !k.Identity.HasCredits() {
		t.Fatalf("the key made for the identity: %+v, %v", k, err)
	}
	spend := func() bool {
		t.Helper()
		sp, err := d.Store.SpendCredits(t.Context(), id, 1, d.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return sp.OK
	}
	spend()
	spend()
	if spend() {
		t.Fatalf("a third credit of 2")
	}

	p = b.post("/identities/"+id+"/credits", form("environment", "live", "add", "3"))
	checkStatus(t, p, http.StatusSeeOther)
	checkContains(t, b.get("/identities?env=live"), "<strong>3</strong> left")
	p = b.post("/identities/"+id+"/credits", form("environment", "live", "remaining", "7"))
	checkStatus(t, p, http.StatusSeeOther)
	checkContains(t, b.get("/identities?env=live"), "<strong>7</strong> left")
	events, _, err := d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: k.AccountID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, ev := range events {
		if ev.Action == pihu.ActionIdentityUpdated && ev.Target == id {
			changes = append(changes, strings.Join(ev.Changes, ","))
		}
	}
	if strings.Join(changes, " ") != "remaining add" {
		t.Errorf("identity.updated events: got %v, want remaining, then add (newest first)", changes)
	}
}
