package web_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/web"
)

// TestTemplates checks that every page template is one the dashboard
// parses at start (New fails on a missing or broken one).
func TestTemplates(t *testing.T) {
	files, err := filepath.Glob("templates/*.html")
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates: %v", err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".html"))
	}
	want := append(web.PageNames(), "layout")
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("templates: got %v, want %v", names, want)
	}
	// A missing page stops the start.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "templates"), 0o755)
	for _, f := range files {
		if !strings.HasSuffix(f, "audit.html") {
			b, _ := os.ReadFile(f)
			os.WriteFile(filepath.Join(dir, "templates", filepath.Base(f)), b, 0o644)
		}
	}
	if err := web.ParsePages(os.DirFS(dir)); err == nil || !strings.Contains(err.Error(), "audit") {
		t.Errorf("templates without audit.html: got %v, want an error naming it", err)
	}
}

// TestSecurityHeaders checks the headers of every kind of response.
func TestSecurityHeaders(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	id, _ := owner.createKey("Billing")
	pages := []*page{
		d.browser(t).get("/login"), d.browser(t).get("/signup"), d.browser(t).get("/nowhere"),
		owner.get("/keys"), owner.get("/keys/" + id), owner.get("/keys/new"), owner.get("/audit"), owner.get("/team"), owner.get("/account"),
		owner.post("/keys", form("name", "K", "permissions", "*", "environment", "live")),
		owner.created(owner.post("/keys", form("name", "K2", "permissions", "*", "environment", "live"))),
		owner.post("/keys", form("name", "")),
		d.browser(t).post("/login", form("email", "x@example.com", "password", "wrong password")),
		d.browser(t).get("/static/style.css"),
	}
	for _, p := range pages {
		for h, want := range map[string]string{
			"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "same-origin",
			"X-Content-Type-Options":  "nosniff",
		} {
			if got := p.Header.Get(h); got != want {
				t.Errorf("%s %s: %s: got %q, want %q", p.Request.Method, p.Request.URL.Path, h, got, want)
			}
		}
		if cc := p.Header.Get("Cache-Control"); !strings.HasPrefix(p.Request.URL.Path, "/static/") && cc != "no-store" {
			t.Errorf("%s %s: Cache-Control: got %q, want no-store", p.Request.Method, p.Request.URL.Path, cc)
		}
		// No inline script or style: the CSP would block it.
		for _, inline := range []string{"<script>", "style=", "onclick=", "onsubmit=", "javascript:"} {
			if strings.Contains(p.Body, inline) {
				t.Errorf("%s %s: inline %q, which the CSP blocks", p.Request.Method, p.Request.URL.Path, inline)
			}
		}
	}
	checkStatus(t, d.browser(t).get("/nowhere"), http.StatusNotFound)
	js := d.browser(t).get("/static/app.js")
	checkStatus(t, js, http.StatusOK)
	checkContains(t, js, "data-copy", "data-confirm")
}

// TestCrossSite checks that a form posted from another site is refused
// with 403, and changes nothing.
func TestCrossSite(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	id, secret := owner.createKey("Billing")
	u := mustUser(t, d, "ada@example.com")
	forms := []struct {
		path string
		form []string
	}{
		{"/keys", []string{"name", "Evil", "permissions", "*", "environment", "live"}},
		{"/keys/" + id + "/revoke", nil},
		{"/keys/" + id + "/rotate", []string{"expire_old_in", "now"}},
		{"/team", []string{"email", "eve@example.com", "role", "admin"}},
		{"/account/password", []string{"current_password", password, "new_password", "owned by eve"}},
		{"/logout", nil},
		{"/login", []string{"email", "ada@example.com", "password", password}},
		{"/signup", []string{"email", "eve@example.com", "password", password, "account_name", "Eve"}},
	}
	for _, f := range forms {
		for _, header := range [][]string{
			{"Sec-Fetch-Site", "cross-site"},
			{"Origin", "https://evil.example"},
		} {
			p := owner.post(f.path, form(f.form...), header...)
			checkStatus(t, p, http.StatusForbidden)
			checkContains(t, p, "Cross-site request refused")
		}
	}
	// Nothing changed: one key, working; one user; no other account; the
	// owner still signed in with the old password.
	keys, _, _ := d.Store.ListKeys(t.Context(), pihu.KeyFilter{AccountID: u.AccountID, Limit: 10})
	if len(keys) != 1 {
		t.Errorf("keys: got %d, want 1", len(keys))
	}
	if _, err := d.Auth.Authenticate(t.Context(), secret); err != nil {
		t.Errorf("the key: %v", err)
	}
	if users, _ := d.Store.ListUsers(t.Context(), u.AccountID); len(users) != 1 {
		t.Errorf("users: got %d, want 1", len(users))
	}
	if n, _ := d.Store.CountAccounts(t.Context()); n != 1 {
		t.Errorf("accounts: got %d, want 1", n)
	}
	checkStatus(t, owner.get("/keys"), http.StatusOK)
	// The same forms from the dashboard's own pages go through.
	checkStatus(t, owner.post("/keys", form("name", "Mine", "permissions", "*", "environment", "live"), "Sec-Fetch-Site", "same-origin", "Origin", d.URL), http.StatusSeeOther)
}

// TestSignedOut checks that every page and form of a signed-in user sends
// a visitor without a session to /login.
func TestSignedOut(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	id, _ := owner.createKey("Billing")
	b := d.browser(t)
	for _, path := range []string{"/", "/keys", "/keys?env=test", "/keys/new", "/keys/" + id, "/keys/" + id + "/revoke", "/keys/" + id + "/rotate", "/audit", "/team", "/account"} {
		checkRedirect(t, b.get(path), "/login")
	}
	for _, path := range []string{"/keys", "/keys/" + id + "/revoke", "/keys/" + id + "/rotate", "/team", "/account/password", "/logout"} {
		checkRedirect(t, b.post(path, form("name", "x", "permissions", "*", "environment", "live", "expire_old_in", "now", "email", "eve@example.com", "role", "admin")), "/login")
	}
	if _, err := d.Store.Key(t.Context(), mustUser(t, d, "ada@example.com").AccountID, id); err != nil {
		t.Errorf("key: %v", err)
	}
}

// TestRoles checks that each role is refused, with 403 and a page saying
// why, every page and form it may not use, whatever its page shows.
func TestRoles(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	id, secret := owner.createKey("Billing")
	viewer := d.member(t, owner, "vic@example.com", pihu.RoleViewer)
	admin := d.member(t, owner, "adam@example.com", pihu.RoleAdmin)
	acct := mustUser(t, d, "ada@example.com").AccountID

	// A viewer reads.
	for _, path := range []string{"/keys", "/keys?env=test", "/keys/" + id, "/audit", "/team", "/account"} {
		checkStatus(t, viewer.get(path), http.StatusOK)
	}
	p := viewer.get("/keys")
	if strings.Contains(p.Body, "Create key") {
		t.Errorf("the viewer's keys page offers to create a key")
	}
	if p := viewer.get("/keys/" + id); strings.Contains(p.Body, "/revoke\"") || strings.Contains(p.Body, "/rotate\"") {
		t.Errorf("the viewer's key page offers to revoke or rotate")
	}
	// …and changes nothing.
	for _, path := range []string{"/keys/new", "/keys/" + id + "/revoke", "/keys/" + id + "/rotate"} {
		p := viewer.get(path)
		checkStatus(t, p, http.StatusForbidden)
		checkContains(t, p, "Your role in this account, viewer, may not do this.")
	}
	for _, f := range []struct {
		path string
		form []string
	}{
		{"/keys", []string{"name", "Mine", "permissions", "*", "environment", "live"}},
		{"/keys/" + id + "/revoke", nil},
		{"/keys/" + id + "/rotate", []string{"expire_old_in", "now"}},
		{"/team", []string{"email", "eve@example.com", "role", "admin"}},
	} {
		p := viewer.post(f.path, form(f.form...))
		checkStatus(t, p, http.StatusForbidden)
		checkContains(t, p, "may not do this")
	}
	// An admin manages keys, not invites.
	checkStatus(t, admin.get("/keys/new"), http.StatusOK)
	adminKey, _ := admin.createKey("Admin's")
	p = admin.post("/team", form("email", "eve@example.com", "role", "admin"))
	checkStatus(t, p, http.StatusForbidden)
	checkContains(t, p, "owners send, regenerate and cancel invites")
	if strings.Contains(admin.get("/team").Body, "Invite a member") {
		t.Errorf("the admin's team page offers to invite a member")
	}

	keys, _, _ := d.Store.ListKeys(t.Context(), pihu.KeyFilter{AccountID: acct, Limit: 10})
	if len(keys) != 2 || keys[0].ID != adminKey {
		t.Errorf("keys: got %d, want the owner's and the admin's", len(keys))
	}
	if _, err := d.Auth.Authenticate(t.Context(), secret); err != nil {
		t.Errorf("the owner's key after the viewer's attempts: %v", err)
	}
	if users, _ := d.Store.ListUsers(t.Context(), acct); len(users) != 3 {
		t.Errorf("users: got %d, want 3", len(users))
	}
}

func TestAudit(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	first, _ := owner.createKey("First")
	var last string
	for i := range 50 {
		last, _ = owner.createKey(fmt.Sprint("Key ", i))
	}
	p := owner.get("/audit")
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "api_key.created", "Created the key", "ada@example.com", last, "Older events")
	if strings.Contains(p.Body, `href="/keys/`+first+`"`) {
		t.Errorf("the first page shows the oldest event")
	}
	next := p.Body[strings.Index(p.Body, "starting_after=")+len("starting_after="):]
	next = next[:strings.IndexByte(next, '"')]
	p = owner.get("/audit?starting_after=" + next)
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, `href="/keys/`+first+`"`, "user.signed_up")

	p = owner.get("/audit?key=" + first)
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, `href="/keys/`+first+`"`, `value="`+first+`"`)
	if strings.Contains(p.Body, last) || strings.Contains(p.Body, "user.signed_up") {
		t.Errorf("the log of one key shows other events")
	}
	checkStatus(t, owner.get("/audit?starting_after=evt_unknown"), http.StatusBadRequest)
	// Another account's log is its own.
	other := d.signUp(t, "eve@example.com")
	if p := other.get("/audit"); strings.Contains(p.Body, first) || strings.Contains(p.Body, "ada@example.com") {
		t.Errorf("another account's audit log shows this one's events")
	}
}

func TestTeam(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	p := owner.get("/team")
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "ada@example.com", "Invite a member", `<label for="email">Email</label>`, `<label for="role">Role</label>`, "No pending invites.")

	p = owner.created(owner.post("/team", form("email", "Bob@Example.com", "role", "admin")))
	checkContains(t, p, "bob@example.com</strong> was invited as admin", `data-copy="invite-link"`)
	token := html(inviteLink.FindStringSubmatch(p.Body)[1])
	// The link is shown once; the invite is listed as pending.
	p = owner.get("/team")
	if strings.Contains(p.Body, token) {
		t.Errorf("the team page shows the invite link again")
	}
	checkContains(t, p, `<td>bob@example.com</td>`, "Cancel invite")
	acct := mustUser(t, d, "ada@example.com").AccountID
	invites, _ := d.Store.ListInvites(t.Context(), acct, d.Clock.Now())
	if len(invites) != 1 {
		t.Fatalf("invites: got %v, want bob's", invites)
	}
	events, _, _ := d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: acct, Target: invites[0].ID, Limit: 10})
	if len(events) != 1 || events[0].Action != pihu.ActionUserInvited || events[0].Actor != mustUser(t, d, "ada@example.com").ID {
		t.Errorf("events: got %v, want the invitation by the owner", events)
	}
	// An invite is no person: bob cannot sign in before he joins.
	checkStatus(t, d.browser(t).post("/login", form("email", "bob@example.com", "password", password)), http.StatusUnauthorized)

	b := d.browser(t)
	p = b.get(web.InvitePath(token))
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "Join Acme ada@example.com", "This invite is for <strong>bob@example.com</strong>", "as <strong>admin</strong>", `name="email"`, `name="password"`)
	checkStatus(t, b.post("/invite", form("token", token, "email", "bob@example.com", "password", "short")), http.StatusBadRequest)
	checkRedirect(t, b.post("/invite", form("token", token, "email", "Bob@example.com", "password", password)), "/keys")
	checkContains(t, b.get("/keys"), "bob@example.com · admin")
	bob := mustUser(t, d, "bob@example.com")
	if bob.AccountID != acct || bob.Role != pihu.RoleAdmin {
		t.Errorf("bob: got %+v, want an admin of %s", bob, acct)
	}
	events, _, _ = d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: acct, Target: bob.ID, Limit: 10})
	if len(events) != 2 || events[0].Action != pihu.ActionUserLogin || events[1].Action != pihu.ActionUserJoined {
		t.Errorf("events: got %v, want bob joining, then signing in", events)
	}
	p = d.browser(t).post("/invite", form("token", token, "email", "bob@example.com", "password", password))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "This invite was used already")
	checkContains(t, owner.get("/team"), "No pending invites.")

	bad := []struct {
		name, field string
		form        []string
	}{
		{"BadEmail", "email", []string{"email", "bob", "role", "admin"}},
		{"NoEmail", "email", []string{"role", "admin"}},
		{"AlreadyMember", "email", []string{"email", "bob@example.com", "role", "viewer"}},
		{"Owner", "role", []string{"email", "carol@example.com", "role", "owner"}},
		{"NoRole", "role", []string{"email", "carol@example.com"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			p := owner.post("/team", form(tt.form...))
			checkStatus(t, p, http.StatusBadRequest)
			checkContains(t, p, `id="`+tt.field+`-error"`)
			if users, _ := d.Store.ListUsers(t.Context(), acct); len(users) != 2 {
				t.Errorf("users: got %d, want 2", len(users))
			}
			if invites, _ := d.Store.ListInvites(t.Context(), acct, d.Clock.Now()); len(invites) != 0 {
				t.Errorf("invites: got %d, want none", len(invites))
			}
		})
	}
}
