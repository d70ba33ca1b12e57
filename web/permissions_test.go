package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
)

func TestPermissions(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	if err := d.Store.DefinePermission(t.Context(), &pihu.DefinedPermission{Name: "audit:export", Description: "Export the audit trail.", Created: d.Clock.Now()}); err != nil {
		t.Fatal(err)
	}

	p := b.post("/permissions", form("name", "billing:read", "description", "Read invoices."))
	checkRedirect(t, p, "/permissions")
	p = b.get("/permissions")
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "<code>billing:read</code>", "Read invoices.", "<code>audit:export</code>", "<code>candidate:read</code>",
		`action="/permissions/billing:read/delete"`)
	if strings.Contains(p.Body, `action="/permissions/audit:export/delete"`) || strings.Contains(p.Body, `action="/permissions/candidate:read/delete"`) {
		t.Errorf("a built-in or server-wide permission has a delete button")
	}

	t.Run("Invalid", func(t *testing.T) {
		p := b.post("/permissions", form("name", "candidate:export"))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "a resource of pihu")
		p = b.post("/permissions", form("name", "billing:read"))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "already")
	})
	t.Run("KeyForm", func(t *testing.T) {
		p := b.get("/keys/new")
		checkContains(t, p, `name="permissions" value="billing:read"`, "Read invoices.", `name="permissions" value="audit:export"`)
		p = b.created(b.post("/keys", form("name", "Billing", "permissions", "billing:read", "permissions", "audit:export", "environment", "live")))
		checkContains(t, p, "It will not be shown again")
		p = b.post("/keys", form("name", "Orders", "permissions", "orders:read", "environment", "live"))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "is not a permission")
	})
	t.Run("Delete", func(t *testing.T) {
		p := b.post("/permissions/billing:read/delete", form())
		checkStatus(t, p, http.StatusConflict)
		checkContains(t, p, "1 key holds")
		p = b.post("/permissions/billing:read/delete", form("force", "true"))
		checkRedirect(t, p, "/permissions?deleted=billing:read")
		if p := b.get("/permissions"); strings.Contains(p.Body, `action="/permissions/billing:read/delete"`) {
			t.Errorf("billing:read still listed")
		}

		p = b.post("/permissions/audit:export/delete", form("force", "true"))
		checkStatus(t, p, http.StatusNotFound)
	})
	t.Run("Viewer", func(t *testing.T) {
		viewer := d.member(t, b, "val@example.com", pihu.RoleViewer)
		p := viewer.get("/permissions")
		checkStatus(t, p, http.StatusOK)
		if strings.Contains(p.Body, "Define a permission") {
			t.Errorf("a viewer sees the form")
		}
		if p := viewer.post("/permissions", form("name", "x:y")); p.StatusCode != http.StatusForbidden {
			t.Errorf("viewer define: got %d, want 403", p.StatusCode)
		}
	})
}
