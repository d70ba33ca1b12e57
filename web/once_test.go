package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/web"
)

// countKeys is how many unrevoked keys the account of email has.
func countKeys(tb testing.TB, d *dashboard, email string) int {
	tb.Helper()
	keys, _, err := d.Store.ListKeys(tb.Context(), pihu.KeyFilter{AccountID: mustUser(tb, d, email).AccountID, Limit: 100})
	if err != nil {
		tb.Fatal(err)
	}
	return len(keys)
}

// checkShownOnce checks that p is the second view of a secret: 410, no
// secret, and a link to what it belonged to.
func checkShownOnce(tb testing.TB, p *page, link string, secret *regexp.Regexp) {
	tb.Helper()
	checkStatus(tb, p, http.StatusGone)
	checkContains(tb, p, "was shown once", "cannot be shown again", `href="`+link+`"`)
	if s := secret.FindString(p.Body); s != "" {
		tb.Errorf("%s: a second view shows the secret %q", p.Request.URL.Path, s)
	}
}

var keySecretPath = regexp.MustCompile(`^/keys/(key_[0-9A-Za-z]{22})/secret/[0-9A-Za-z]{22}$`)

// TestKeys_CreateRedirects: creating a key answers 303 to a page that
// shows its secret once; a reload shows no secret and creates nothing.
func TestKeys_CreateRedirects(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	post := b.post("/keys", form("name", "Billing", "permissions", "candidate:read", "environment", "live"))
	checkStatus(t, post, http.StatusSeeOther)
	loc := post.Header.Get("Location")
	m := keySecretPath.FindStringSubmatch(loc)
	if m == nil {
		t.Fatalf("POST /keys: Location %q, want /keys/{id}/secret/{view}", loc)
	}
	if secretRe.MatchString(post.Body) || secretRe.MatchString(loc) {
		t.Errorf("the answer to the form holds the secret")
	}
	if n := countKeys(t, d, "ada@example.com"); n != 1 {
		t.Fatalf("keys: got %d, want 1", n)
	}

	first := b.get(loc)
	checkStatus(t, first, http.StatusOK)
	secret := secretRe.FindString(first.Body)
	if _, err := d.Auth.Authenticate(t.Context(), secret); err != nil {
		t.Fatalf("the secret on the page: %q, %v", secret, err)
	}
	if first.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", first.Header.Get("Cache-Control"))
	}
	// A reload: no secret, no new key.
	checkShownOnce(t, b.get(loc), "/keys/"+m[1], secretRe)
	if n := countKeys(t, d, "ada@example.com"); n != 1 {
		t.Errorf("keys after the reload: got %d, want 1", n)
	}

	t.Run("OtherSession", func(t *testing.T) {
		loc := b.post("/keys", form("name", "Other", "permissions", "candidate:read", "environment", "live")).Header.Get("Location")
		// The same person in another browser, and another account's
		// owner, see nothing, and do not spend the view.
		checkShownOnce(t, d.login(t, "ada@example.com").get(loc), "/keys/"+keySecretPath.FindStringSubmatch(loc)[1], secretRe)
		checkStatus(t, d.signUp(t, "eve@example.com").get(loc), http.StatusGone)
		p := b.get(loc)
		checkStatus(t, p, http.StatusOK)
		if !secretRe.MatchString(p.Body) {
			t.Errorf("the creating session's view was spent by another")
		}
	})
	t.Run("AnotherKeysPath", func(t *testing.T) {
		loc := b.post("/keys", form("name", "Third", "permissions", "candidate:read", "environment", "live")).Header.Get("Location")
		view := loc[strings.LastIndex(loc, "/")+1:]
		checkStatus(t, b.get("/keys/key_0000000000000000000000/secret/"+view), http.StatusGone)
		checkStatus(t, b.get(loc), http.StatusOK)
	})
	t.Run("Expires", func(t *testing.T) {
		loc := b.post("/keys", form("name", "Late", "permissions", "candidate:read", "environment", "live")).Header.Get("Location")
		d.Clock.Add(5 * time.Minute)
		checkShownOnce(t, b.get(loc), "/keys/"+keySecretPath.FindStringSubmatch(loc)[1], secretRe)
	})
	t.Run("Viewer", func(t *testing.T) {
		viewer := d.member(t, b, "vic@example.com", pihu.RoleViewer)
		checkStatus(t, viewer.get("/keys/key_0000000000000000000000/secret/x"), http.StatusForbidden)
	})
}

// TestKeys_RotateRedirects: a rotation answers 303 to the one view of the
// new secret, which names the key it replaces.
func TestKeys_RotateRedirects(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	id, _ := b.createKey("Billing")
	post := b.post("/keys/"+id+"/rotate", form("expire_old_in", "1h"))
	checkStatus(t, post, http.StatusSeeOther)
	m := keySecretPath.FindStringSubmatch(post.Header.Get("Location"))
	if m == nil || m[1] == id {
		t.Fatalf("POST rotate: Location %q, want the new key's secret page", post.Header.Get("Location"))
	}
	p := b.get(post.Header.Get("Location"))
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "API key rotated", "It replaces", `href="/keys/`+id+`"`)
	if !secretRe.MatchString(p.Body) {
		t.Errorf("no secret on the rotated page")
	}
	checkShownOnce(t, b.get(post.Header.Get("Location")), "/keys/"+m[1], secretRe)
	if n := countKeys(t, d, "ada@example.com"); n != 2 { // the old one, in its hour, and the new one
		t.Errorf("keys: got %d, want 2", n)
	}
}

// TestWebhooks_CreateRedirects: an endpoint's signing secret is shown
// once, on the page the form redirects to.
func TestWebhooks_CreateRedirects(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	post := b.post("/webhooks", form("environment", "live", "url", "https://example.com/hooks", "events", "api_key.created"))
	checkStatus(t, post, http.StatusSeeOther)
	loc := post.Header.Get("Location")
	id := endpointIDRe.FindString(loc)
	if id == "" || !strings.HasPrefix(loc, "/webhooks/"+id+"/secret/") || whSecretRe.MatchString(post.Body) {
		t.Fatalf("POST /webhooks: Location %q, want /webhooks/{id}/secret/{view}, and no secret", loc)
	}
	p := b.get(loc)
	checkStatus(t, p, http.StatusOK)
	if !whSecretRe.MatchString(p.Body) {
		t.Fatalf("no signing secret on the created page:\n%s", p.Body)
	}
	checkShownOnce(t, b.get(loc), "/webhooks/"+id, whSecretRe)
	es, _, _ := d.Store.ListWebhookEndpoints(t.Context(), pihu.Scope{AccountID: mustUser(t, d, "ada@example.com").AccountID, Environment: pihu.Live}, pihu.Page{Limit: 10})
	if len(es) != 1 {
		t.Errorf("endpoints: got %d, want 1", len(es))
	}
}

// TestTeam_InviteRedirects: an invite's link is shown once, on the team
// page the form redirects to.
func TestTeam_InviteRedirects(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	post := owner.post("/team", form("email", "bob@example.com", "role", "viewer"))
	checkStatus(t, post, http.StatusSeeOther)
	loc := post.Header.Get("Location")
	if !strings.HasPrefix(loc, "/team/invites/inv_") || inviteLink.MatchString(post.Body) || strings.Contains(loc, "token") {
		t.Fatalf("POST /team: Location %q, want the invite's one view, and no link", loc)
	}
	p := owner.get(loc)
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "bob@example.com</strong> was invited as viewer")
	if !inviteLink.MatchString(p.Body) {
		t.Fatalf("no invite link on the page:\n%s", p.Body)
	}
	checkShownOnce(t, owner.get(loc), "/team", inviteLink)
	acct := mustUser(t, d, "ada@example.com").AccountID
	if invites, _ := d.Store.ListInvites(t.Context(), acct, d.Clock.Now()); len(invites) != 1 {
		t.Errorf("invites: got %d, want 1", len(invites))
	}
}

// TestSetup_Notice: until the first start's owner has used the setup
// link, the sign-in and sign-up pages say where it is (and when it
// expired, once it has); then they do not.
func TestSetup_Notice(t *testing.T) {
	d := newDashboard(t)
	const notice = `id="setup-notice"`
	for _, path := range []string{"/login", "/signup"} {
		if p := d.browser(t).get(path); strings.Contains(p.Body, notice) {
			t.Errorf("GET %s with no setup link: got the notice", path)
		}
	}
	token, _ := firstStart(t, d)
	for _, path := range []string{"/login", "/signup", "/"} {
		p := d.browser(t).get(path)
		if path == "/" {
			checkRedirect(t, p, "/login")
			continue
		}
		checkStatus(t, p, http.StatusOK)
		checkContains(t, p, notice, "has no owner signed in yet", "it printed the link there", "beside its SQLite database", "until <span class=\"nowrap\">2024-02-21 12:00 UTC</span>", "new, separate account")
	}
	d.Clock.Add(web.LinkLifetime)
	checkContains(t, d.browser(t).get("/login"), notice, "That link expired on <span class=\"nowrap\">2024-02-21 12:00 UTC</span>")
	d.Clock.Add(-web.LinkLifetime)

	checkRedirect(t, d.browser(t).post("/setup", form("token", token, "email", "ops@example.com", "password", password)), "/keys")
	for _, path := range []string{"/login", "/signup"} {
		if p := d.browser(t).get(path); strings.Contains(p.Body, notice) {
			t.Errorf("GET %s after setup: got the notice", path)
		}
	}
}

// TestSetup_LinkStates: a used, expired or unknown setup link says so,
// with no form, before anyone types a password; a POST with it too.
func TestSetup_LinkStates(t *testing.T) {
	d := newDashboard(t)
	token, _ := firstStart(t, d)
	noForm := func(p *page, want string) {
		t.Helper()
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, want)
		if strings.Contains(p.Body, `action="/setup"`) || strings.Contains(p.Body, `type="password"`) {
			t.Errorf("%s: the page shows the form", want)
		}
	}
	p := d.browser(t).get(web.SetupPath(token))
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, `action="/setup"`)

	noForm(d.browser(t).get(web.SetupPath(token+"x")), "This link is not valid")
	noForm(d.browser(t).get("/setup"), "This link is not valid")
	d.Clock.Add(web.LinkLifetime)
	noForm(d.browser(t).get(web.SetupPath(token)), "This setup link has expired")
	noForm(d.browser(t).post("/setup", form("token", token, "email", "ops@example.com", "password", password)), "This setup link has expired")
	d.Clock.Add(-web.LinkLifetime)

	checkRedirect(t, d.browser(t).post("/setup", form("token", token, "email", "ops@example.com", "password", password)), "/keys")
	noForm(d.browser(t).get(web.SetupPath(token)), "This setup link was used already")
	// Even with a form at fault, the link's state comes first.
	noForm(d.browser(t).post("/setup", form("token", token, "email", "x", "password", "short")), "This setup link was used already")
}

// TestInvite_UsedLinkNoForm: a used or expired invite link says which,
// with no form.
func TestInvite_UsedLinkNoForm(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	used := owner.invite("bob@example.com", pihu.RoleViewer)
	checkRedirect(t, d.browser(t).post("/invite", form("token", used, "email", "bob@example.com", "password", password)), "/keys")
	expired := owner.invite("carol@example.com", pihu.RoleViewer)
	d.Clock.Add(web.LinkLifetime)
	for token, says := range map[string]string{used: "This invite was used already", expired: "This invite has expired"} {
		p := d.browser(t).get(web.InvitePath(token))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, says)
		if strings.Contains(p.Body, `action="/invite"`) || strings.Contains(p.Body, `type="password"`) {
			t.Errorf("a used or expired invite link shows the form")
		}
	}
}
