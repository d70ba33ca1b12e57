package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/ratelimit"
	"github.com/pihu-ai/pihu/web"
)

// resetLinkRe finds a password reset link on the team page.
var resetLinkRe = regexp.MustCompile(`value="http://[^"]+/password-reset\?token=([^"]+)"`)

// issueReset makes a password reset link for member id through b's team
// page and returns its token.
func (b *browser) issueReset(id string) string {
	b.tb.Helper()
	p := b.created(b.post("/team/members/"+id+"/reset", nil))
	link := resetLinkRe.FindStringSubmatch(p.Body)
	if link == nil {
		b.tb.Fatalf("no reset link on the team page:\n%s", p.Body)
	}
	return html(link[1])
}

func checkRole(tb testing.TB, d *dashboard, accountID, email string, want pihu.Role) {
	tb.Helper()
	u, err := d.Store.UserByEmail(tb.Context(), email)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := d.Store.User(tb.Context(), accountID, u.ID)
	if err != nil || m.Role != want {
		tb.Errorf("%s: got %+v, %v; want %s", email, m, err, want)
	}
}

// TestMembers_ChangeRole: owners change any member's role, admins up to
// admin and never an owner's, viewers none; the last owner stays; the
// change holds at once, is named on the team page and audited; another
// account's member is a 404; a refusal changes nothing.
func TestMembers_ChangeRole(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	other := d.signUp(t, "eve@example.com")
	adam := d.member(t, owner, "adam@example.com", pihu.RoleAdmin)
	vic := d.member(t, owner, "vic@example.com", pihu.RoleViewer)
	acct := mustUser(t, d, "ada@example.com").AccountID
	ada, v := memberOf(t, d.Store, "ada@example.com"), memberOf(t, d.Store, "vic@example.com")

	// The owner may give vic any role; adam only admin or viewer, and
	// nothing to the owner.
	p := owner.get("/team")
	checkContains(t, p, `action="/team/members/`+v.ID+`/role"`, `<option value="owner">Owner</option>`)
	p = adam.get("/team")
	checkContains(t, p, `action="/team/members/`+v.ID+`/role"`, `<option value="admin">Admin</option>`)
	if strings.Contains(p.Body, `<option value="owner">`) || strings.Contains(p.Body, `action="/team/members/`+ada.ID+`/role"`) {
		t.Errorf("an admin is offered to make owners or to change the owner:\n%s", p.Body)
	}
	if p := vic.get("/team"); strings.Contains(p.Body, `/role"`) || strings.Contains(p.Body, `/reset"`) {
		t.Errorf("a viewer is offered to change roles or reset passwords")
	}

	for _, tt := range []struct {
		name   string
		who    *browser
		target string
		role   string
		status int
		says   string
	}{
		{"AdminGrantsOwner", adam, v.ID, "owner", http.StatusForbidden, "a role above your own"},
		{"AdminDemotesOwner", adam, ada.ID, "viewer", http.StatusForbidden, "only an owner changes it"},
		{"Viewer", vic, v.ID, "admin", http.StatusForbidden, "Viewers read keys"},
		{"LastOwner", owner, ada.ID, "admin", http.StatusBadRequest, "at least one owner"},
		{"NoSuchRole", owner, v.ID, "root", http.StatusBadRequest, "Choose owner, admin or viewer."},
		{"OtherAccount", other, v.ID, "admin", http.StatusNotFound, "no member with this id"},
		{"Unknown", owner, "user_unknown", "admin", http.StatusNotFound, "no member with this id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.who.post("/team/members/"+tt.target+"/role", form("role", tt.role))
			checkStatus(t, p, tt.status)
			checkContains(t, p, tt.says)
		})
	}
	checkStatus(t, owner.post("/team/members/"+v.ID+"/role", form("role", "admin"), "Sec-Fetch-Site", "cross-site"), http.StatusForbidden)
	checkRole(t, d, acct, "vic@example.com", pihu.RoleViewer)
	checkRole(t, d, acct, "ada@example.com", pihu.RoleOwner)

	// An admin makes vic admin; the team page says so; vic manages keys
	// at once.
	checkRedirect(t, adam.post("/team/members/"+v.ID+"/role", form("role", "admin")), "/team?done=role&member="+v.ID)
	checkContains(t, adam.get("/team?done=role&member="+v.ID), "vic@example.com is now admin.")
	checkRole(t, d, acct, "vic@example.com", pihu.RoleAdmin)
	checkContains(t, vic.get("/keys"), "vic@example.com · admin")
	checkStatus(t, vic.get("/keys/new"), http.StatusOK)
	// The owner makes adam an owner, then steps down to admin herself.
	a := memberOf(t, d.Store, "adam@example.com")
	checkRedirect(t, owner.post("/team/members/"+a.ID+"/role", form("role", "owner")), "/team?done=role&member="+a.ID)
	checkRedirect(t, owner.post("/team/members/"+ada.ID+"/role", form("role", "admin")), "/team?done=role&member="+ada.ID)
	checkContains(t, owner.get("/team?done=role&member="+ada.ID), "You are now admin in this account.")
	checkRole(t, d, acct, "adam@example.com", pihu.RoleOwner)
	checkRole(t, d, acct, "ada@example.com", pihu.RoleAdmin)
	// Demoted, vic no longer manages keys, at once.
	checkRedirect(t, adam.post("/team/members/"+v.ID+"/role", form("role", "viewer")), "/team?done=role&member="+v.ID)
	checkStatus(t, vic.get("/keys/new"), http.StatusForbidden)

	events, _, _ := d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: acct, Target: v.ID, Limit: 10})
	if len(events) < 2 || events[0].Action != pihu.ActionUserRoleChanged || events[0].Actor != a.ID || events[1].Action != pihu.ActionUserRoleChanged {
		t.Errorf("events: got %v, want the two role changes first", events)
	}
	checkContains(t, adam.get("/audit"), "Changed the role of the member")
}

// TestMembers_RegenerateInvite: an owner makes a new link for a pending
// invite, shown once; the old link says it was canceled or replaced, with
// no form; the new one works. An admin may not; another account's invite
// is a 404.
func TestMembers_RegenerateInvite(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	other := d.signUp(t, "eve@example.com")
	admin := d.member(t, owner, "adam@example.com", pihu.RoleAdmin)
	old := owner.invite("grace@example.com", pihu.RoleViewer)
	acct := mustUser(t, d, "ada@example.com").AccountID
	invites, _ := d.Store.ListInvites(t.Context(), acct, d.Clock.Now())
	id := invites[0].ID
	checkContains(t, owner.get("/team"), `action="/team/invites/`+id+`/regenerate"`)

	checkStatus(t, admin.post("/team/invites/"+id+"/regenerate", nil), http.StatusForbidden)
	checkStatus(t, other.post("/team/invites/"+id+"/regenerate", nil), http.StatusNotFound)
	checkStatus(t, owner.post("/team/invites/"+id+"/regenerate", nil, "Sec-Fetch-Site", "cross-site"), http.StatusForbidden)
	checkStatus(t, d.browser(t).get(web.InvitePath(old)), http.StatusOK)

	p := owner.post("/team/invites/"+id+"/regenerate", nil)
	checkStatus(t, p, http.StatusSeeOther)
	at := p.Header.Get("Location")
	p = owner.get(at)
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "has a new invite link, as viewer", "the earlier link no longer works")
	link := inviteLink.FindStringSubmatch(p.Body)
	if link == nil {
		t.Fatalf("no invite link:\n%s", p.Body)
	}
	token := html(link[1])
	checkStatus(t, owner.get(at), http.StatusGone) // shown once
	checkStatus(t, owner.post("/team/invites/"+id+"/regenerate", nil), http.StatusNotFound)

	p = d.browser(t).get(web.InvitePath(old))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "This invite was canceled", "replaced by a newer link", "grace@example.com")
	if strings.Contains(p.Body, `type="password"`) {
		t.Errorf("the replaced link's page shows a form")
	}
	p = d.browser(t).get(web.InvitePath(token))
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "This invite is for <strong>grace@example.com</strong>", "Join Acme ada@example.com", "as <strong>viewer</strong>", `value="grace@example.com"`)
	checkRedirect(t, d.browser(t).post("/invite", form("token", token, "email", "grace@example.com", "password", password)), "/keys")
	events, _ := d.Store.ListInvites(t.Context(), acct, d.Clock.Now())
	if len(events) != 0 {
		t.Errorf("pending invites after the new link was used: %v", events)
	}
}

// TestMembers_PasswordReset: an admin makes a password reset link for a
// viewer, shown once; the link's page names the email and the account;
// using it sets the new password, ends every session of the member's and
// sends them to sign in; it works once, and the old password no longer
// does. Both steps are audited.
func TestMembers_PasswordReset(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	adam := d.member(t, owner, "adam@example.com", pihu.RoleAdmin)
	vic := d.member(t, owner, "vic@example.com", pihu.RoleViewer)
	acct := mustUser(t, d, "ada@example.com").AccountID
	v := memberOf(t, d.Store, "vic@example.com")
	checkContains(t, adam.get("/team"), `action="/team/members/`+v.ID+`/reset"`)

	p := adam.post("/team/members/"+v.ID+"/reset", nil)
	checkStatus(t, p, http.StatusSeeOther)
	at := p.Header.Get("Location")
	p = adam.get(at)
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "A password reset link for <strong>vic@example.com</strong>", "Pihu sends no mail")
	token := html(resetLinkRe.FindStringSubmatch(p.Body)[1])
	checkStatus(t, adam.get(at), http.StatusGone)

	p = d.browser(t).get(web.ResetPath(token))
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "For <strong>vic@example.com</strong>, a member of <strong>Acme ada@example.com</strong>", `name="password"`)
	p = d.browser(t).post("/password-reset", form("token", token, "password", "short"))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, `id="password-error"`)
	const newPassword = "a brand new passphrase"
	checkRedirect(t, d.browser(t).post("/password-reset", form("token", token, "password", newPassword)), "/login?reset=1")
	checkContains(t, d.browser(t).get("/login?reset=1"), "Your new password is set")
	checkRedirect(t, vic.get("/keys"), "/login") // signed out
	checkStatus(t, d.browser(t).post("/login", form("email", "vic@example.com", "password", password)), http.StatusUnauthorized)
	b := d.browser(t)
	checkRedirect(t, b.post("/login", form("email", "vic@example.com", "password", newPassword)), "/keys")
	checkContains(t, b.get("/keys"), "vic@example.com · viewer")

	// Once only: the page says so, with no form.
	p = d.browser(t).get(web.ResetPath(token))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "This link was used already", "vic@example.com")
	p = d.browser(t).post("/password-reset", form("token", token, "password", "yet another password"))
	checkStatus(t, p, http.StatusBadRequest)
	if strings.Contains(p.Body, `type="password"`) {
		t.Errorf("a used reset link's page shows a form")
	}
	checkRedirect(t, d.browser(t).post("/login", form("email", "vic@example.com", "password", newPassword)), "/keys")

	events, _, _ := d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: acct, Target: v.ID, Limit: 10})
	var actions []string
	for _, ev := range events {
		actions = append(actions, ev.Action)
	}
	if got := strings.Join(actions, " "); !strings.Contains(got, pihu.ActionUserPasswordReset+" "+pihu.ActionUserPasswordResetIssued) {
		t.Errorf("events: got %s, want the reset after its link", got)
	}
}

// TestMembers_PasswordResetRules: only owners reset owners' passwords,
// viewers reset none, a member who belongs to other accounts too cannot
// be reset from one, another account's member is a 404; a newer link
// replaces an older, and a link expires after 24 hours, each page saying
// so before any form.
func TestMembers_PasswordResetRules(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	other := d.signUp(t, "eve@example.com")
	grace := d.signUp(t, "grace@example.com")
	adam := d.member(t, owner, "adam@example.com", pihu.RoleAdmin)
	vic := d.member(t, owner, "vic@example.com", pihu.RoleViewer)
	token := owner.invite("grace@example.com", pihu.RoleViewer)
	checkRedirect(t, grace.post("/invite", form("token", token, "email", "grace@example.com", "password", password)), "/keys")
	ada, a, v, g := memberOf(t, d.Store, "ada@example.com"), memberOf(t, d.Store, "adam@example.com"), memberOf(t, d.Store, "vic@example.com"), mustUser(t, d, "grace@example.com")

	if p := adam.get("/team"); strings.Contains(p.Body, `action="/team/members/`+ada.ID+`/reset"`) {
		t.Errorf("an admin is offered to reset the owner's password")
	}
	for _, tt := range []struct {
		name   string
		who    *browser
		target string
		status int
		says   string
	}{
		{"AdminResetsOwner", adam, ada.ID, http.StatusForbidden, "Only an owner resets an owner"},
		{"Viewer", vic, a.ID, http.StatusForbidden, "Viewers read keys"},
		{"MemberElsewhere", owner, g.ID, http.StatusForbidden, "signs in to other accounts too"},
		{"OtherAccount", other, v.ID, http.StatusNotFound, "no member with this id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.who.post("/team/members/"+tt.target+"/reset", nil)
			checkStatus(t, p, tt.status)
			checkContains(t, p, tt.says)
		})
	}

	first := owner.issueReset(v.ID)
	second := owner.issueReset(v.ID)
	p := d.browser(t).get(web.ResetPath(first))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "This link was replaced")
	p = d.browser(t).post("/password-reset", form("token", first, "password", "a brand new passphrase"))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "This link was replaced")
	d.Clock.Add(web.LinkLifetime)
	p = d.browser(t).get(web.ResetPath(second))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "This link has expired")
	if strings.Contains(p.Body, `type="password"`) {
		t.Errorf("an expired reset link's page shows a form")
	}
	p = d.browser(t).get(web.ResetPath("pwr_nothing.at-all"))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "This link is not valid")
	// Nothing changed vic's password.
	d.login(t, "vic@example.com")
}

// TestMembers_PasswordResetIssuerDemoted: a reset link whose issuer was
// demoted before it was used resets nothing.
func TestMembers_PasswordResetIssuerDemoted(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	adam := d.member(t, owner, "adam@example.com", pihu.RoleAdmin)
	d.member(t, owner, "vic@example.com", pihu.RoleViewer)
	a, v := memberOf(t, d.Store, "adam@example.com"), memberOf(t, d.Store, "vic@example.com")
	token := adam.issueReset(v.ID)
	checkRedirect(t, owner.post("/team/members/"+a.ID+"/role", form("role", "viewer")), "/team?done=role&member="+a.ID)
	p := d.browser(t).post("/password-reset", form("token", token, "password", "a brand new passphrase"))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "This link is not valid")
	d.login(t, "vic@example.com")
}

// TestMembers_PasswordResetKeepsSecondFactor: a member with a second
// factor who resets their password is still asked for it at sign-in.
func TestMembers_PasswordResetKeepsSecondFactor(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	d.member(t, owner, "vic@example.com", pihu.RoleViewer)
	v := memberOf(t, d.Store, "vic@example.com")
	if err := d.Store.EnableTwoFactor(t.Context(), v.AccountID, v.ID, "JBSWY3DPEHPK3PXP", 0, nil, d.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	token := owner.issueReset(v.ID)
	const newPassword = "a brand new passphrase"
	checkRedirect(t, d.browser(t).post("/password-reset", form("token", token, "password", newPassword)), "/login?reset=1")
	checkRedirect(t, d.browser(t).post("/login", form("email", "vic@example.com", "password", newPassword)), "/login/two-factor")
}

// TestMembers_RegenerateInviteLimited: a regenerated link spends the
// account's invite limit, as an invite does.
func TestMembers_RegenerateInviteLimited(t *testing.T) {
	d := newDashboard(t, func(o *web.Options) { o.InviteLimit = ratelimit.PerHour(2) })
	owner := d.signUp(t, "ada@example.com")
	old := owner.invite("grace@example.com", pihu.RoleViewer)
	acct := mustUser(t, d, "ada@example.com").AccountID
	invites, _ := d.Store.ListInvites(t.Context(), acct, d.Clock.Now())
	id := invites[0].ID
	p := owner.post("/team/invites/"+id+"/regenerate", nil)
	checkStatus(t, p, http.StatusSeeOther)
	invites, _ = d.Store.ListInvites(t.Context(), acct, d.Clock.Now())
	p = owner.post("/team/invites/"+invites[0].ID+"/regenerate", nil)
	checkStatus(t, p, http.StatusTooManyRequests)
	checkContains(t, p, "too many invites")
	if p.Header.Get("Retry-After") == "" {
		t.Errorf("no Retry-After")
	}
	if after, _ := d.Store.ListInvites(t.Context(), acct, d.Clock.Now()); len(after) != 1 || after[0].ID != invites[0].ID {
		t.Errorf("invites after a refused regeneration: got %v, want %s still", after, invites[0].ID)
	}
	checkStatus(t, d.browser(t).get(web.InvitePath(old)), http.StatusBadRequest)
}
