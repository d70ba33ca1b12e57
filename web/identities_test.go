package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
)

var identityIDRe = regexp.MustCompile(`idt_[0-9A-Za-z]{22}`)

// TestIdentities drives the Identities page: list per environment,
// create, delete (refused with the count while active keys have the
// identity, unless its keys are revoked with it, at once in the API's
// cache), and the identity named on its key's page.
func TestIdentities(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	owner := mustUser(t, d, "ada@example.com")

	p := b.get("/identities")
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "no live identity yet", "Create an identity", `name="external_id"`)

	p = b.post("/identities", form("environment", "live", "external_id", "org_acme", "rate_limit", "5/m", "metadata", `{"plan":"pro"}`))
	checkStatus(t, p, http.StatusSeeOther)
	id := identityIDRe.FindString(p.Header.Get("Location"))
	if id == "" {
		t.Fatalf("create: redirected to %q, want the list", p.Header.Get("Location"))
	}
	p = b.get("/identities?env=live")
	checkContains(t, p, "org_acme", "<code>"+id+"</code>", "5/m, shared", "plan")
	if strings.Contains(b.get("/identities?env=test").Body, id) {
		t.Errorf("the test identities list a live identity")
	}

	t.Run("Invalid", func(t *testing.T) {
		p := b.post("/identities", form("environment", "live", "external_id", "org_acme"))
		checkStatus(t, p, http.StatusConflict)
		checkContains(t, p, "exists already")
		p = b.post("/identities", form("environment", "live", "external_id", ""))
		checkStatus(t, p, http.StatusBadRequest)
		p = b.post("/identities", form("environment", "live", "external_id", "x", "rate_limit", "lots"))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "is not a rate limit")
		p = b.post("/identities", form("environment", "live", "external_id", "x", "metadata", "{"))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "not JSON")
	})

	// A key made for the identity, through the API's rules, shows it.
	k, secret, err := pihu.NewKey(owner.AccountID, pihu.KeyRequest{Name: "Acme", Permissions: pihu.Permissions{"candidate:read"}, IdentityID: id}, nil, d.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Store.CreateKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	checkContains(t, b.get("/keys/"+k.ID), "Identity", "org_acme", id, "shares 5/m with its other keys")

	p = b.post("/identities/"+id+"/delete", form("environment", "live"))
	checkStatus(t, p, http.StatusConflict)
	checkContains(t, p, "1 active key belongs")
	if _, err := d.Auth.Authenticate(t.Context(), secret); err != nil {
		t.Fatalf("the key after a refused deletion: %v", err)
	}
	if p := b.post("/identities/"+id+"/delete", form("environment", "test", "revoke_keys", "true")); p.StatusCode != http.StatusNotFound {
		t.Errorf("deleting a live identity as a test one: got %d, want 404", p.StatusCode)
	}
	p = b.post("/identities/"+id+"/delete", form("environment", "live", "revoke_keys", "true"))
	checkStatus(t, p, http.StatusSeeOther)
	checkContains(t, b.get(p.Header.Get("Location")), "Deleted the identity <strong>org_acme</strong>")
	if _, err := d.Auth.Authenticate(t.Context(), secret); pihu.ErrorCode(err) != pihu.ERevokedAPIKey {
		t.Errorf("the key of the deleted identity: got %v, want %s", err, pihu.ERevokedAPIKey)
	}
}
