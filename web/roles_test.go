package web_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
)

var roleIDRe = regexp.MustCompile(`role_[0-9A-Za-z]{22}`)

// TestKeyRoles drives the Roles page: list, create, change, delete (refused
// with the count while keys hold the role, unless forced), and the key
// form that gives keys roles; a change reaches the API's cache at once.
func TestKeyRoles(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	owner := mustUser(t, d, "ada@example.com")

	p := b.get("/roles")
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "no role yet", "Create a role", `name="permissions" value="candidate:read"`)

	p = b.post("/roles", form("name", "support", "description", "First line.", "permissions", "candidate:read", "permissions", "interview:read"))
	checkStatus(t, p, http.StatusSeeOther)
	loc := p.Header.Get("Location")
	id := roleIDRe.FindString(loc)
	if id == "" || loc != "/roles/"+id {
		t.Fatalf("create: redirected to %q, want the role's page", loc)
	}
	p = b.get(loc)
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "support", "First line.", "<code>"+id+"</code>", `value="candidate:read" checked`, `value="interview:read" checked`)

	t.Run("Invalid", func(t *testing.T) {
		p := b.post("/roles", form("name", "support", "permissions", "candidate:read"))
		checkStatus(t, p, http.StatusConflict)
		checkContains(t, p, "already")
		p = b.post("/roles", form("name", "empty"))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "permissions")
		p = b.post("/roles", form("name", "bad", "permissions", "orders:read"))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "is not a permission")
	})

	// A key given the role, and nothing of its own.
	p = b.get("/keys/new")
	checkContains(t, p, `name="roles" value="`+id+`"`, "support")
	p = b.created(b.post("/keys", form("name", "Support desk", "roles", id, "environment", "live")))
	checkContains(t, p, "support")
	keyID, secret := keyIDRe.FindString(p.Body), secretRe.FindString(p.Body)
	k, err := d.Auth.Authenticate(t.Context(), secret)
	if err != nil || !slices.Equal(k.Roles, []string{id}) || !k.Rights().Grants("interview:read") {
		t.Fatalf("the key: got %+v, %v", k, err)
	}
	p = b.get("/keys/" + keyID)
	checkContains(t, p, `href="/roles/`+id+`">support</a>`, "None of its own")
	checkContains(t, b.get("/keys"), `href="/roles/`+id+`"`)
	if p := b.post("/keys", form("name", "Nothing", "environment", "live")); p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "at least one permission or role") {
		t.Errorf("a key without permissions or roles: got %d", p.StatusCode)
	}
	if p := b.post("/keys", form("name", "Other", "roles", "role_nothing", "environment", "live")); p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "is not a role of this account") {
		t.Errorf("a key with an unknown role: got %d", p.StatusCode)
	}

	t.Run("Change", func(t *testing.T) {
		p := b.post("/roles/"+id, form("name", "support", "description", "", "permissions", "candidate:read"))
		checkRedirect(t, p, "/roles/"+id+"?saved=1")
		checkContains(t, b.get("/roles/"+id+"?saved=1"), "Saved")
		k, err := d.Auth.Authenticate(t.Context(), secret)
		if err != nil || k.Rights().Grants("interview:read") || !k.Rights().Grants("candidate:read") {
			t.Errorf("the key after the change: got rights %v, %v", k.Rights(), err)
		}
		p = b.post("/roles/"+id, form("name", "support"))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "empty")
		events, _, _ := d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: owner.AccountID, Target: id, Limit: 10})
		if len(events) != 2 || events[0].Action != pihu.ActionRoleUpdated || events[0].Actor != owner.ID || events[1].Action != pihu.ActionRoleCreated {
			t.Errorf("events of the role: got %+v", events)
		}
	})
	t.Run("Viewer", func(t *testing.T) {
		viewer := d.member(t, b, "val@example.com", pihu.RoleViewer)
		p := viewer.get("/roles")
		checkStatus(t, p, http.StatusOK)
		if strings.Contains(p.Body, "Create a role") {
			t.Errorf("a viewer sees the form")
		}
		checkStatus(t, viewer.get("/roles/"+id), http.StatusOK)
		for _, path := range []string{"/roles", "/roles/" + id, "/roles/" + id + "/delete"} {
			if p := viewer.post(path, form("name", "x", "permissions", "candidate:read", "force", "true")); p.StatusCode != http.StatusForbidden {
				t.Errorf("viewer POST %s: got %d, want 403", path, p.StatusCode)
			}
		}
	})
	t.Run("CrossSite", func(t *testing.T) {
		p := b.post("/roles/"+id+"/delete", form("force", "true"), "Sec-Fetch-Site", "cross-site")
		checkStatus(t, p, http.StatusForbidden)
		checkContains(t, p, "Cross-site request refused")
	})
	t.Run("OtherAccount", func(t *testing.T) {
		eve := d.signUp(t, "eve@example.com")
		checkStatus(t, eve.get("/roles/"+id), http.StatusNotFound)
		checkStatus(t, eve.post("/roles/"+id+"/delete", form("force", "true")), http.StatusNotFound)
		checkStatus(t, eve.post("/roles/"+id, form("name", "mine", "permissions", "candidate:read")), http.StatusNotFound)
	})
	t.Run("Delete", func(t *testing.T) {
		p := b.post("/roles/"+id+"/delete", form())
		checkStatus(t, p, http.StatusConflict)
		checkContains(t, p, "1 key holds")
		p = b.post("/roles/"+id+"/delete", form("force", "true"))
		checkRedirect(t, p, "/roles?deleted=support")
		checkContains(t, b.get("/roles?deleted=support"), "Deleted the role", "no role yet")
		k, err := d.Auth.Authenticate(t.Context(), secret)
		if err != nil || len(k.Rights()) != 0 || len(k.Roles) != 0 {
			t.Errorf("the key after its role was deleted: got %+v, %v; want no rights", k, err)
		}
		checkStatus(t, b.get("/roles/"+id), http.StatusNotFound)
	})
}
