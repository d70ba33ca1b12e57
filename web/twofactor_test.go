package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/ratelimit"
	"github.com/pihu-ai/pihu/web"
)

var (
	totpSecretRe   = regexp.MustCompile(`<code id="totp-secret"[^>]*>([A-Z2-7 ]+)</code>`)
	recoveryCodeRe = regexp.MustCompile(`<li><code>([2-9a-z]{4}-[2-9a-z]{4}-[2-9a-z]{4})</code></li>`)
)

// code is the authenticator app's code of secret at the dashboard's time,
// computed as an app computes it.
func (d *dashboard) code(tb testing.TB, secret string) string {
	tb.Helper()
	c, err := totp.GenerateCode(secret, d.Clock.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// enrol adds an authenticator app to b's sign-in through the two-factor
// page, and returns the secret the page shows and the recovery codes.
func (d *dashboard) enrol(tb testing.TB, b *browser) (secret string, codes []string) {
	tb.Helper()
	p := b.get("/account/two-factor")
	checkStatus(tb, p, http.StatusOK)
	m := totpSecretRe.FindStringSubmatch(p.Body)
	if m == nil {
		tb.Fatalf("no secret on the two-factor page:\n%s", p.Body)
	}
	secret = strings.ReplaceAll(m[1], " ", "")
	p = b.created(b.post("/account/two-factor", form("secret", m[1], "code", d.code(tb, secret))))
	for _, c := range recoveryCodeRe.FindAllStringSubmatch(p.Body, -1) {
		codes = append(codes, c[1])
	}
	if len(codes) != pihu.RecoveryCodeCount {
		tb.Fatalf("recovery codes: got %d, want %d\n%s", len(codes), pihu.RecoveryCodeCount, p.Body)
	}
	return secret, codes
}

// password signs email in with the password, in a new browser, which the
// dashboard then asks for the second factor.
func (d *dashboard) password(tb testing.TB, email string, header ...string) *browser {
	tb.Helper()
	b := d.browser(tb)
	checkRedirect(tb, b.post("/login", form("email", email, "password", password), header...), "/login/two-factor")
	return b
}

func actions(tb testing.TB, d *dashboard, accountID string, n int) []string {
	tb.Helper()
	events, _, err := d.Store.ListAuditEvents(tb.Context(), pihu.AuditFilter{AccountID: accountID, Limit: n})
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, ev := range events {
		out = append(out, ev.Action)
	}
	return out
}

func TestTwoFactor_Enrol(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	checkContains(t, b.get("/account"), `href="/account/two-factor"`, "Add an authenticator app")
	p := b.get("/account/two-factor")
	checkContains(t, p, `<img class="qr" src="data:image/png;base64,`, `name="secret"`, `autocomplete="one-time-code"`)
	secret := strings.ReplaceAll(totpSecretRe.FindStringSubmatch(p.Body)[1], " ", "")
	if len(secret) != 32 {
		t.Errorf("secret %q: want 32 base32 characters (160 bits)", secret)
	}

	t.Run("WrongCode", func(t *testing.T) {
		p := b.post("/account/two-factor", form("secret", secret, "code", "000000"))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, `id="code-error"`, secret[:4])
		if u := mustUser(t, d, "ada@example.com"); u.TwoFactor != nil {
			t.Errorf("a wrong code enrolled: %+v", u)
		}
	})
	t.Run("ForgedSecret", func(t *testing.T) {
		checkStatus(t, b.post("/account/two-factor", form("secret", "ABC", "code", "000000")), http.StatusBadRequest)
	})

	p = b.post("/account/two-factor", form("secret", secret, "code", d.code(t, secret)))
	checkStatus(t, p, http.StatusSeeOther)
	codesPage := p.Header.Get("Location")
	p = b.get(codesPage)
	checkStatus(t, p, http.StatusOK)
	codes := recoveryCodeRe.FindAllStringSubmatch(p.Body, -1)
	if len(codes) != 10 {
		t.Fatalf("recovery codes: got %d, want 10", len(codes))
	}
	// Shown once.
	checkStatus(t, b.get(codesPage), http.StatusGone)

	u := mustUser(t, d, "ada@example.com")
	if u.TwoFactor == nil || u.TOTPSecret != secret {
		t.Fatalf("user after enrolling: %+v", u)
	}
	if got := actions(t, d, u.AccountID, 1); len(got) != 1 || got[0] != pihu.ActionUserTwoFactorEnabled {
		t.Errorf("events: got %v, want user.two_factor_enabled", got)
	}
	p = b.get("/account/two-factor")
	checkContains(t, p, "Two-factor sign-in is on", `<span id="codes-left">10</span>`)
	if strings.Contains(p.Body, secret) {
		t.Errorf("the two-factor page shows the secret after enrolling")
	}
	// Enrolling again does nothing.
	checkRedirect(t, b.post("/account/two-factor", form("secret", secret, "code", d.code(t, secret))), "/account/two-factor")
}

func TestTwoFactor_SignIn(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	secret, codes := d.enrol(t, owner)
	u := mustUser(t, d, "ada@example.com")

	t.Run("PasswordAloneOpensNothing", func(t *testing.T) {
		b := d.password(t, "ada@example.com")
		checkRedirect(t, b.get("/keys"), "/login")
		checkRedirect(t, b.get("/account"), "/login")
		checkStatus(t, b.get("/login/two-factor"), http.StatusOK)
		checkRedirect(t, d.browser(t).get("/login/two-factor"), "/login")
	})
	t.Run("ReusedCodeRefused", func(t *testing.T) {
		// The enrolment's code is of this very step: used already.
		b := d.password(t, "ada@example.com")
		p := b.post("/login/two-factor", form("code", d.code(t, secret)))
		checkStatus(t, p, http.StatusUnauthorized)
		checkContains(t, p, "This code was used already")
	})
	t.Run("WrongCode", func(t *testing.T) {
		b := d.password(t, "ada@example.com")
		p := b.post("/login/two-factor", form("code", "123456"))
		checkStatus(t, p, http.StatusUnauthorized)
		checkContains(t, p, "This code is not right")
		if got := actions(t, d, u.AccountID, 1); got[0] != pihu.ActionUserLoginFailed {
			t.Errorf("events: got %v, want user.login_failed first", got)
		}
	})
	d.Clock.Add(30 * time.Second)
	next := d.code(t, secret)
	t.Run("NextCodeSignsIn", func(t *testing.T) {
		b := d.password(t, "ada@example.com")
		pending := b.client.Jar.Cookies(mustURL(t, d.URL))[0].Value
		checkRedirect(t, b.post("/login/two-factor", form("code", next)), "/keys")
		checkStatus(t, b.get("/keys"), http.StatusOK)
		if got := actions(t, d, u.AccountID, 1); got[0] != pihu.ActionUserLogin {
			t.Errorf("events: got %v, want user.login first", got)
		}
		// The waiting session's cookie is not the signed-in one.
		if b.client.Jar.Cookies(mustURL(t, d.URL))[0].Value == pending {
			t.Errorf("the cookie stayed the same after the second factor")
		}
		checkRedirect(t, d.browser(t).get("/keys", "Cookie", web.CookieName+"="+pending), "/login")
	})
	t.Run("SameCodeTwiceRefused", func(t *testing.T) {
		b := d.password(t, "ada@example.com")
		p := b.post("/login/two-factor", form("code", next))
		checkStatus(t, p, http.StatusUnauthorized)
		checkContains(t, p, "This code was used already")
	})
	t.Run("RecoveryCodeWorksOnce", func(t *testing.T) {
		b := d.password(t, "ada@example.com")
		checkRedirect(t, b.post("/login/two-factor", form("code", strings.ToUpper(codes[3]))), "/keys")
		if got := actions(t, d, u.AccountID, 2); got[0] != pihu.ActionUserLogin || got[1] != pihu.ActionUserRecoveryCodeUsed {
			t.Errorf("events: got %v, want user.login and user.recovery_code_used", got)
		}
		b = d.password(t, "ada@example.com")
		checkStatus(t, b.post("/login/two-factor", form("code", codes[3])), http.StatusUnauthorized)
		checkRedirect(t, b.post("/login/two-factor", form("code", codes[4])), "/keys")
		checkContains(t, b.get("/account/two-factor"), `<span id="codes-left">8</span>`)
	})
	t.Run("WaitingSignInExpires", func(t *testing.T) {
		b := d.password(t, "ada@example.com")
		d.Clock.Add(11 * time.Minute)
		checkRedirect(t, b.post("/login/two-factor", form("code", d.code(t, secret))), "/login")
	})
	t.Run("InviteAsksForTheCode", func(t *testing.T) {
		other := d.signUp(t, "grace@example.com")
		p := other.created(other.post("/team", form("email", "ada@example.com", "role", "viewer")))
		token := html(inviteLink.FindStringSubmatch(p.Body)[1])
		b := d.browser(t)
		checkRedirect(t, b.post("/invite", form("token", token, "email", "ada@example.com", "password", password)), "/login/two-factor")
		checkRedirect(t, b.get("/keys"), "/login")
	})
}

// Codes are limited as passwords are: per email and per address, from the
// same budget, given back when right.
func TestTwoFactor_RateLimited(t *testing.T) {
	d := newDashboard(t, func(o *web.Options) { o.SignInLimit = ratelimit.PerMinute(3) })
	owner := d.signUp(t, "ada@example.com")
	secret, _ := d.enrol(t, owner)
	d.Clock.Add(30 * time.Second)
	b := d.password(t, "ada@example.com", clientHeader, "198.51.100.1")
	for range 3 {
		checkStatus(t, b.post("/login/two-factor", form("code", "000000"), clientHeader, "198.51.100.1"), http.StatusUnauthorized)
	}
	// The right code, from another address: the email's budget is spent.
	p := b.post("/login/two-factor", form("code", d.code(t, secret)), clientHeader, "198.51.100.2")
	checkStatus(t, p, http.StatusTooManyRequests)
	checkContains(t, p, "Too many wrong codes")
	if p.Header.Get("Retry-After") == "" {
		t.Errorf("no Retry-After")
	}
	// And so is the password's, which shares it.
	checkStatus(t, d.browser(t).post("/login", form("email", "ada@example.com", "password", password), clientHeader, "198.51.100.3"), http.StatusTooManyRequests)
	d.Clock.Add(time.Minute)
	b = d.password(t, "ada@example.com", clientHeader, "198.51.100.2")
	checkRedirect(t, b.post("/login/two-factor", form("code", d.code(t, secret)), clientHeader, "198.51.100.2"), "/keys")
}

func TestTwoFactor_Disable(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	secret, codes := d.enrol(t, b)
	p := b.post("/account/two-factor/disable", form("password", "wrong password"))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "Give your password, or a code")
	checkStatus(t, b.post("/account/two-factor/disable", form("code", "000000")), http.StatusBadRequest)
	if u := mustUser(t, d, "ada@example.com"); u.TwoFactor == nil {
		t.Fatalf("removed without the password")
	}
	t.Run("WithARecoveryCode", func(t *testing.T) {
		checkRedirect(t, b.post("/account/two-factor/disable", form("code", codes[0])), "/account/two-factor?removed=1")
		checkContains(t, b.get("/account/two-factor?removed=1"), "Two-factor sign-in was removed")
		checkRedirect(t, d.browser(t).post("/login", form("email", "ada@example.com", "password", password)), "/keys")
		u := mustUser(t, d, "ada@example.com")
		if got := actions(t, d, u.AccountID, 2); got[0] != pihu.ActionUserLogin || got[1] != pihu.ActionUserTwoFactorDisabled {
			t.Errorf("events: got %v", got)
		}
	})
	t.Run("WithThePassword", func(t *testing.T) {
		d.enrol(t, b)
		checkRedirect(t, b.post("/account/two-factor/disable", form("password", password)), "/account/two-factor?removed=1")
		if u := mustUser(t, d, "ada@example.com"); u.TwoFactor != nil || u.TOTPSecret != "" {
			t.Errorf("after removing: %+v", u)
		}
	})
	_ = secret
}

// An account that requires two-factor sign-in sends a member without it
// to enrol, from every page, until they have; only an owner or an admin
// with a second factor of their own turns it on; a member keeps theirs
// while it is required.
func TestTwoFactor_Required(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	viewer := d.member(t, owner, "grace@example.com", pihu.RoleViewer)
	checkStatus(t, viewer.post("/account/two-factor-required", form("two_factor_required", "on")), http.StatusForbidden)

	p := owner.post("/account/two-factor-required", form("two_factor_required", "on"))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "Add an authenticator app or a passkey to your own sign-in first")
	checkStatus(t, owner.post("/account/two-factor-required", form("two_factor_required", "maybe")), http.StatusBadRequest)

	d.enrol(t, owner)
	checkRedirect(t, owner.post("/account/two-factor-required", form("two_factor_required", "on")), "/account?twofactor=1#two-factor-required")
	u := mustUser(t, d, "ada@example.com")
	events, _, _ := d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: u.AccountID, Limit: 1})
	if len(events) != 1 || events[0].Action != pihu.ActionAccountUpdated || strings.Join(events[0].Changes, ",") != "two_factor_required" {
		t.Errorf("events: got %+v, want account.updated of two_factor_required", events)
	}
	checkStatus(t, owner.get("/keys"), http.StatusOK)

	// The viewer, signed in already, is sent to enrol from every page.
	for _, path := range []string{"/keys", "/account", "/audit", "/team"} {
		checkRedirect(t, viewer.get(path), "/account/two-factor")
	}
	p = viewer.get("/account/two-factor")
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "requires two-factor sign-in")
	secret, _ := d.enrol(t, viewer)
	checkStatus(t, viewer.get("/keys"), http.StatusOK)
	p = viewer.post("/account/two-factor/disable", form("password", password))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "requires two-factor sign-in of every member")

	// Signing in asks for the code, then opens the dashboard.
	d.Clock.Add(30 * time.Second)
	b := d.password(t, "grace@example.com")
	checkRedirect(t, b.post("/login/two-factor", form("code", d.code(t, secret))), "/keys")

	// Not required any more: one may remove theirs.
	checkRedirect(t, owner.post("/account/two-factor-required", form("two_factor_required", "off")), "/account?twofactor=1#two-factor-required")
	checkRedirect(t, viewer.post("/account/two-factor/disable", form("password", password)), "/account/two-factor?removed=1")
}

// A member who must enrol may still sign out.
func TestTwoFactor_RequiredSignOut(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	viewer := d.member(t, owner, "grace@example.com", pihu.RoleViewer)
	d.enrol(t, owner)
	checkStatus(t, owner.post("/account/two-factor-required", form("two_factor_required", "on")), http.StatusSeeOther)
	checkRedirect(t, viewer.post("/logout", nil), "/login")
	checkRedirect(t, viewer.get("/account/two-factor"), "/login")
}

// The Account page lists one's sessions, with browser, address and
// times, and signs out one of them, or all the others, at once.
func TestSessions_List(t *testing.T) {
	d := newDashboard(t)
	const firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
	const safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	a := d.browser(t)
	a.header.Set("User-Agent", firefox)
	checkRedirect(t, a.post("/signup", form("email", "ada@example.com", "password", password, "account_name", "Acme")), "/keys")
	d.Clock.Add(time.Hour)
	phone := d.browser(t)
	phone.header.Set("User-Agent", safari)
	phone.header.Set(clientHeader, "198.51.100.7")
	checkRedirect(t, phone.post("/login", form("email", "ada@example.com", "password", password)), "/keys")
	third := d.login(t, "ada@example.com")
	other := d.signUp(t, "grace@example.com")

	p := a.get("/account")
	checkContains(t, p, "Firefox on Windows", "Safari on iPhone", "<code>198.51.100.7</code>", "This browser", "Sign out all other sessions")
	if strings.Index(p.Body, "Safari on iPhone") > strings.Index(p.Body, "Firefox on Windows") {
		t.Errorf("sessions: want the newest first")
	}
	ids := regexp.MustCompile(`action="/account/sessions/(sess_[0-9A-Za-z]+)/revoke"`).FindAllStringSubmatch(p.Body, -1)
	if len(ids) != 2 {
		t.Fatalf("sign-out buttons: got %d, want 2 (not this browser's)", len(ids))
	}
	// Another person cannot sign out Ada's sessions.
	checkStatus(t, other.post("/account/sessions/"+ids[0][1]+"/revoke", nil), http.StatusNotFound)
	checkStatus(t, phone.get("/keys"), http.StatusOK)

	// Last seen moves at most once a minute: no write per request.
	lastSeen := func() time.Time {
		t.Helper()
		sess, _ := d.Store.ListSessions(t.Context(), mustUser(t, d, "ada@example.com").ID)
		for _, s := range sess {
			if s.IP == "127.0.0.1" && s.Created.After(time.Date(2024, 2, 20, 12, 30, 0, 0, time.UTC)) {
				return s.LastSeen // the third browser's
			}
		}
		t.Fatalf("no session of the third browser in %v", sess)
		return time.Time{}
	}
	signedIn := lastSeen()
	d.Clock.Add(30 * time.Second)
	checkStatus(t, third.get("/keys"), http.StatusOK)
	if got := lastSeen(); !got.Equal(signedIn) {
		t.Errorf("last seen 30 s later: got %v, want %v", got, signedIn)
	}
	d.Clock.Add(31 * time.Second)
	checkStatus(t, third.get("/keys"), http.StatusOK)
	if got := lastSeen(); !got.Equal(signedIn.Add(61 * time.Second)) {
		t.Errorf("last seen 61 s later: got %v, want %v", got, signedIn.Add(61*time.Second))
	}

	var phoneID string
	for _, m := range ids {
		sess, _ := d.Store.ListSessions(t.Context(), mustUser(t, d, "ada@example.com").ID)
		for _, s := range sess {
			if s.ID == m[1] && s.IP == "198.51.100.7" {
				phoneID = s.ID
			}
		}
	}
	checkRedirect(t, a.post("/account/sessions/"+phoneID+"/revoke", nil), "/account?signedout=1#sessions")
	checkRedirect(t, phone.get("/keys"), "/login")
	checkStatus(t, third.get("/keys"), http.StatusOK)
	checkStatus(t, a.post("/account/sessions/"+phoneID+"/revoke", nil), http.StatusNotFound)

	checkRedirect(t, a.post("/account/sessions/revoke-others", nil), "/account?signedout=all#sessions")
	checkRedirect(t, third.get("/keys"), "/login")
	checkStatus(t, a.get("/keys"), http.StatusOK)
	checkStatus(t, other.get("/keys"), http.StatusOK)
	u := mustUser(t, d, "ada@example.com")
	if got := actions(t, d, u.AccountID, 1); got[0] != pihu.ActionUserSessionsRevoked {
		t.Errorf("events: got %v, want user.sessions_revoked", got)
	}
}

func TestBrowserName(t *testing.T) {
	for ua, want := range map[string]string{
		"": "Unknown browser",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36":                 "Chrome on Linux",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15": "Safari on macOS",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0": "Edge on Windows",
		"Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36":              "Chrome on Android",
		"curl/8.5.0": "curl",
	} {
		if got := web.BrowserName(ua); got != want {
			t.Errorf("%q: got %q, want %q", ua, got, want)
		}
	}
}

// The audit log filters sign-in events by action.
func TestAudit_ByAction(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	d.enrol(t, b)
	checkStatus(t, d.password(t, "ada@example.com").post("/login/two-factor", form("code", "000000")), http.StatusUnauthorized)
	p := b.get("/audit?category=signins")
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, `<code class="id action">user.login_failed</code>`, `<code class="id action">user.two_factor_enabled</code>`,
		"Failed to sign in: a wrong second factor", "Turned on two-factor sign-in", `<option value="signins" selected>`)
	if p := b.get("/audit?category=keys"); strings.Contains(p.Body, "user.login_failed") || strings.Contains(p.Body, "user.two_factor_enabled") {
		t.Errorf("the keys view shows sign-ins")
	}
	checkStatus(t, b.get("/audit?category=nonsense"), http.StatusBadRequest)
}
