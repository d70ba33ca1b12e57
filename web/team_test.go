package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/ratelimit"
	"github.com/pihu-ai/pihu/web"
)

// invite invites email with role through owner's team form and returns
// the link's token.
func (b *browser) invite(email string, role pihu.Role) string {
	b.tb.Helper()
	p := b.created(b.post("/team", form("email", email, "role", string(role))))
	link := inviteLink.FindStringSubmatch(p.Body)
	if link == nil {
		b.tb.Fatalf("no invite link on the team page:\n%s", p.Body)
	}
	return html(link[1])
}

var (
	inviteIDRe  = regexp.MustCompile(`inv_[0-9A-Za-z]{22}`)
	requestIDRe = regexp.MustCompile(`req_[0-9A-Za-z]+`)
)

// TestTeam_InviteRevealsNothing: inviting the email of a person who
// belongs to another account is answered exactly as inviting an address
// nobody has (the same status and page, but for the address, the link
// and the ids), and neither reserves the address.
func TestTeam_InviteRevealsNothing(t *testing.T) {
	d := newDashboard(t)
	d.signUp(t, "carol@example.com") // another account's person
	owner := d.signUp(t, "ada@example.com")
	answer := func(email string) (int, string) {
		p := owner.post("/team", form("email", email, "role", "admin"))
		if p.StatusCode == http.StatusSeeOther {
			p = owner.get(p.Header.Get("Location"))
		}
		body := strings.ReplaceAll(p.Body, email, "EMAIL")
		body = inviteLink.ReplaceAllString(body, `value="LINK"`)
		body = inviteIDRe.ReplaceAllString(body, "inv_ID")
		return p.StatusCode, requestIDRe.ReplaceAllString(body, "req_ID")
	}
	knownStatus, known := answer("carol@example.com")
	unknownStatus, unknown := answer("nobody@example.com")
	if knownStatus != http.StatusOK || unknownStatus != http.StatusOK {
		t.Fatalf("statuses: got %d for a person of another account, %d for an unknown address; want 200 both", knownStatus, unknownStatus)
	}
	// The second page lists one more pending invite: compare each with
	// the other's invites left out.
	strip := regexp.MustCompile(`(?s)<table class="table" id="invites">.*?</table>`)
	if strip.ReplaceAllString(known, "") != strip.ReplaceAllString(unknown, "") {
		t.Errorf("the answers differ:\n%s\n---\n%s", known, unknown)
	}
	acct := mustUser(t, d, "ada@example.com").AccountID
	if users, _ := d.Store.ListUsers(t.Context(), acct); len(users) != 1 {
		t.Errorf("members: got %d, want the owner only until an invite is used", len(users))
	}
}

// TestTeam_InviteReservesNothing: a pending invite never blocks its
// address elsewhere: the person may sign up for an account of their own,
// and be invited by another account, and then join both.
func TestTeam_InviteReservesNothing(t *testing.T) {
	d := newDashboard(t)
	ada := d.signUp(t, "ada@example.com")
	bob := d.signUp(t, "bob@example.com")
	fromAda := ada.invite("grace@example.com", pihu.RoleViewer)
	grace := d.signUp(t, "grace@example.com")
	fromBob := bob.invite("grace@example.com", pihu.RoleAdmin)
	for _, token := range []string{fromAda, fromBob} {
		checkRedirect(t, grace.post("/invite", form("token", token, "email", "grace@example.com", "password", password)), "/keys")
	}
	g, _ := d.Store.UserByEmail(t.Context(), "grace@example.com")
	accounts, _ := d.Store.Memberships(t.Context(), g.ID)
	if len(accounts) != 3 {
		t.Errorf("grace's accounts: got %+v, want her own and the two that invited her", accounts)
	}
}

// TestTeam_SeveralAccounts: a person of one account joins another with
// their own password (never changed by the invite), signs in once to
// both, each with its role, and switches between them on the Account page;
// an account they are not a member of is a 404.
func TestTeam_SeveralAccounts(t *testing.T) {
	d := newDashboard(t)
	ada := d.signUp(t, "ada@example.com")
	bob := d.signUp(t, "bob@example.com")
	d.signUp(t, "carol@example.com")
	own, bobs := mustUser(t, d, "ada@example.com").AccountID, mustUser(t, d, "bob@example.com").AccountID
	carols := mustUser(t, d, "carol@example.com").AccountID
	token := bob.invite("ada@example.com", pihu.RoleViewer)

	// The link holder does not know ada's password: it is not changed.
	holder := d.browser(t)
	p := holder.post("/invite", form("token", token, "email", "ada@example.com", "password", "another password"))
	checkStatus(t, p, http.StatusUnauthorized)
	checkContains(t, p, "The email or the password is not right.")
	checkRedirect(t, ada.post("/invite", form("token", token, "email", "ada@example.com", "password", password)), "/keys")
	checkContains(t, ada.get("/keys"), "Acme bob@example.com", "ada@example.com · viewer")

	// Signing in again: one email and password, her first account.
	b := d.login(t, "ada@example.com")
	checkContains(t, b.get("/keys"), "Acme ada@example.com", "ada@example.com · owner")
	p = b.get("/account")
	checkContains(t, p, "Your accounts", "Acme bob@example.com", `value="`+bobs+`"`)
	checkRedirect(t, b.post("/account/switch", form("account", bobs)), "/keys")
	checkContains(t, b.get("/keys"), "Acme bob@example.com", "ada@example.com · viewer")
	// A viewer there, an owner at home: the role is the account's.
	checkStatus(t, b.post("/keys", form("name", "Mine", "permissions", "*", "environment", "live")), http.StatusForbidden)
	checkStatus(t, b.post("/account/switch", form("account", carols)), http.StatusNotFound)
	checkStatus(t, b.post("/account/switch", form("account", "acct_unknown")), http.StatusNotFound)
	checkContains(t, b.get("/keys"), "Acme bob@example.com")
	checkRedirect(t, b.post("/account/switch", form("account", own)), "/keys")
	checkContains(t, b.get("/keys"), "Acme ada@example.com", "ada@example.com · owner")
}

// TestTeam_InviteOnlyWithItsEmail: an invite link works only with the
// email it was made for; refused, it stays pending.
func TestTeam_InviteOnlyWithItsEmail(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	d.signUp(t, "eve@example.com")
	token := owner.invite("grace@example.com", pihu.RoleAdmin)
	for _, email := range []string{"eve@example.com", "mallory@example.com"} {
		p := d.browser(t).post("/invite", form("token", token, "email", email, "password", password))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, `id="email-error"`, "for another email address")
	}
	if _, err := d.Store.UserByEmail(t.Context(), "mallory@example.com"); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("a refused invite stored a person: %v", err)
	}
	acct := mustUser(t, d, "ada@example.com").AccountID
	if users, _ := d.Store.ListUsers(t.Context(), acct); len(users) != 1 {
		t.Errorf("members: got %d, want the owner only", len(users))
	}
	checkRedirect(t, d.browser(t).post("/invite", form("token", token, "email", "grace@example.com", "password", password)), "/keys")
}

// TestTeam_InvitePasswordLimited: joining with a person's password is a
// sign-in: wrong guesses spend the email's sign-in budget, and the invite
// stays pending for its owner.
func TestTeam_InvitePasswordLimited(t *testing.T) {
	d := newDashboard(t, func(o *web.Options) { o.SignInLimit = ratelimit.PerMinute(3) })
	d.signUp(t, "grace@example.com")
	owner := d.signUp(t, "ada@example.com")
	token := owner.invite("grace@example.com", pihu.RoleAdmin)
	for i := range 3 {
		p := d.browser(t).post("/invite", form("token", token, "email", "grace@example.com", "password", "guess number "+string(rune('1'+i))), clientHeader, "203.0.113."+string(rune('1'+i)))
		checkStatus(t, p, http.StatusUnauthorized)
	}
	p := d.browser(t).post("/invite", form("token", token, "email", "grace@example.com", "password", password), clientHeader, "203.0.113.9")
	checkStatus(t, p, http.StatusTooManyRequests)
	if p.Header.Get("Retry-After") == "" {
		t.Errorf("no Retry-After")
	}
	d.Clock.Add(time.Minute)
	checkRedirect(t, d.browser(t).post("/invite", form("token", token, "email", "grace@example.com", "password", password), clientHeader, "203.0.113.9"), "/keys")
}

// TestTeam_LinksForTheirPurpose: a setup link works only for setup, and an
// invite link only for its invite.
func TestTeam_LinksForTheirPurpose(t *testing.T) {
	d := newDashboard(t)
	setupToken, setupAccount := firstStart(t, d)
	owner := d.signUp(t, "ada@example.com")
	inviteToken := owner.invite("bob@example.com", pihu.RoleViewer)

	// The invite's link at /setup sets nothing, whatever email is given.
	p := d.browser(t).post("/setup", form("token", inviteToken, "email", "bob@example.com", "password", password))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "This link is not valid")
	if _, err := d.Store.UserByEmail(t.Context(), "bob@example.com"); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("an invite link used at /setup stored a person: %v", err)
	}
	// The setup link at /invite is no invite.
	checkStatus(t, d.browser(t).get(web.InvitePath(setupToken)), http.StatusBadRequest)
	p = d.browser(t).post("/invite", form("token", setupToken, "email", "ops@example.com", "password", password))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "This invite link is not valid")
	// Each still works where it belongs.
	checkRedirect(t, d.browser(t).post("/setup", form("token", setupToken, "email", "ops@example.com", "password", password)), "/keys")
	if u := mustUser(t, d, "ops@example.com"); u.AccountID != setupAccount || u.Role != pihu.RoleOwner {
		t.Errorf("the setup link's user: got %+v, want the owner of %s", u, setupAccount)
	}
	checkRedirect(t, d.browser(t).post("/invite", form("token", inviteToken, "email", "bob@example.com", "password", password)), "/keys")
}

// firstStart makes the first start's account, with its owner without
// email nor password and a setup link, and returns the link's token and
// the account's id.
func firstStart(tb testing.TB, d *dashboard) (token, accountID string) {
	tb.Helper()
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "Default", Created: d.Clock.Now()}
	k, _, _ := pihu.NewKey(a.ID, pihu.OwnerKeyRequest(), nil, d.Clock.Now())
	if err := d.Store.CreateAccount(tb.Context(), a, k); err != nil {
		tb.Fatal(err)
	}
	u := &pihu.User{ID: pihu.NewID(pihu.PrefixUser), AccountID: a.ID, Role: pihu.RoleOwner, Created: d.Clock.Now()}
	token, digest := web.NewLinkToken(u)
	link := &pihu.Link{Digest: digest, UserID: u.ID, AccountID: a.ID, Purpose: pihu.LinkSetup, Created: d.Clock.Now(), Expires: d.Clock.Now().Add(web.LinkLifetime)}
	if err := d.Store.CreateUser(tb.Context(), u, link); err != nil {
		tb.Fatal(err)
	}
	return token, a.ID
}

// TestTeam_CancelInvite: an owner cancels a pending invite and its link
// stops working; another account's owner, or an admin, cannot.
func TestTeam_CancelInvite(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	other := d.signUp(t, "eve@example.com")
	admin := d.member(t, owner, "adam@example.com", pihu.RoleAdmin)
	token := owner.invite("grace@example.com", pihu.RoleViewer)
	acct := mustUser(t, d, "ada@example.com").AccountID
	invites, _ := d.Store.ListInvites(t.Context(), acct, d.Clock.Now())
	if len(invites) != 1 {
		t.Fatalf("invites: got %v", invites)
	}
	id := invites[0].ID
	checkStatus(t, other.post("/team/invites/"+id+"/cancel", nil), http.StatusNotFound)
	checkStatus(t, admin.post("/team/invites/"+id+"/cancel", nil), http.StatusForbidden)
	checkStatus(t, owner.post("/team/invites/"+id+"/cancel", nil, "Sec-Fetch-Site", "cross-site"), http.StatusForbidden)
	checkStatus(t, d.browser(t).get(web.InvitePath(token)), http.StatusOK) // still pending

	checkRedirect(t, owner.post("/team/invites/"+id+"/cancel", nil), "/team?done=canceled")
	checkContains(t, owner.get("/team?done=canceled"), "The invite was canceled", "No pending invites.")
	checkStatus(t, owner.post("/team/invites/"+id+"/cancel", nil), http.StatusNotFound)
	p := d.browser(t).post("/invite", form("token", token, "email", "grace@example.com", "password", password))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "This invite was canceled", "grace@example.com", "Acme ada@example.com")
	if strings.Contains(p.Body, `type="password"`) {
		t.Errorf("the page of a canceled invite shows a form:\n%s", p.Body)
	}
	events, _, _ := d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: acct, Target: id, Limit: 10})
	if len(events) != 2 || events[0].Action != pihu.ActionInviteCanceled {
		t.Errorf("events: got %v, want the invite, then its cancellation", events)
	}
}

// TestTeam_RemoveMember: an owner removes a member, who is signed out of
// the account at once and keeps their own; the last owner stays; another
// account's member is a 404; an admin cannot remove.
func TestTeam_RemoveMember(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	other := d.signUp(t, "eve@example.com")
	grace := d.signUp(t, "grace@example.com")
	adam := d.member(t, owner, "adam@example.com", pihu.RoleAdmin)
	token := owner.invite("grace@example.com", pihu.RoleAdmin)
	checkRedirect(t, grace.post("/invite", form("token", token, "email", "grace@example.com", "password", password)), "/keys")
	acct := mustUser(t, d, "ada@example.com").AccountID
	g := mustUser(t, d, "grace@example.com") // in her own account
	ada := mustUser(t, d, "ada@example.com")
	checkContains(t, owner.get("/team"), `action="/team/members/`+g.ID+`/remove"`)

	checkStatus(t, other.post("/team/members/"+g.ID+"/remove", nil), http.StatusNotFound)
	checkStatus(t, adam.post("/team/members/"+g.ID+"/remove", nil), http.StatusForbidden)
	p := owner.post("/team/members/"+ada.ID+"/remove", nil)
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "at least one owner")

	checkContains(t, grace.get("/keys"), "Acme ada@example.com") // she is looking at ada's account
	checkRedirect(t, owner.post("/team/members/"+g.ID+"/remove", nil), "/team?done=removed")
	checkContains(t, owner.get("/team?done=removed"), "The member was removed")
	checkRedirect(t, grace.get("/keys"), "/login")
	if _, err := d.Store.User(t.Context(), acct, g.ID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("grace in ada's account after the removal: %v", err)
	}
	checkContains(t, d.login(t, "grace@example.com").get("/keys"), "Acme grace@example.com", "grace@example.com · owner")
	checkStatus(t, owner.post("/team/members/"+g.ID+"/remove", nil), http.StatusNotFound)
	// A person removed from their only account signs in to nothing.
	checkRedirect(t, owner.post("/team/members/"+mustUser(t, d, "adam@example.com").ID+"/remove", nil), "/team?done=removed")
	p = d.browser(t).post("/login", form("email", "adam@example.com", "password", password))
	checkStatus(t, p, http.StatusForbidden)
	checkContains(t, p, "not a member of any account")
	if p.Header.Get("Set-Cookie") != "" {
		t.Errorf("a person of no account was given a session")
	}
	events, _, _ := d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: acct, Target: g.ID, Limit: 10})
	if len(events) == 0 || events[0].Action != pihu.ActionUserRemoved || events[0].Actor != ada.ID {
		t.Errorf("events: got %v, want the removal by ada first", events)
	}
}

// TestTeam_InviteRateLimited: invites are limited per account, spent
// before the invite is stored; another account has its own budget.
func TestTeam_InviteRateLimited(t *testing.T) {
	d := newDashboard(t, func(o *web.Options) { o.InviteLimit = ratelimit.PerHour(3) })
	owner := d.signUp(t, "ada@example.com")
	other := d.signUp(t, "eve@example.com")
	for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		owner.invite(email, pihu.RoleViewer)
	}
	p := owner.post("/team", form("email", "d@example.com", "role", "viewer"))
	checkStatus(t, p, http.StatusTooManyRequests)
	checkContains(t, p, "too many invites")
	if p.Header.Get("Retry-After") == "" {
		t.Errorf("no Retry-After")
	}
	acct := mustUser(t, d, "ada@example.com").AccountID
	if invites, _ := d.Store.ListInvites(t.Context(), acct, d.Clock.Now()); len(invites) != 3 {
		t.Errorf("invites: got %d, want 3", len(invites))
	}
	other.invite("d@example.com", pihu.RoleViewer)
	d.Clock.Add(20 * time.Minute)
	owner.invite("d@example.com", pihu.RoleViewer)
}
