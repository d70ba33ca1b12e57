package web_test

import (
	"crypto/sha256"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/ratelimit"
	"github.com/pihu-ai/pihu/web"
)

func TestSignup(t *testing.T) {
	t.Run("Page", func(t *testing.T) {
		d := newDashboard(t)
		p := d.browser(t).get("/signup")
		checkStatus(t, p, http.StatusOK)
		checkContains(t, p, `<label for="email">Email</label>`, `name="account_name"`, `type="password"`)
	})
	t.Run("CreatesAccountAndSignsIn", func(t *testing.T) {
		d := newDashboard(t)
		b := d.signUp(t, "Ada@Example.com")
		p := b.get("/keys")
		checkStatus(t, p, http.StatusOK)
		checkContains(t, p, "ada@example.com", "owner", "Acme Ada@Example.com")
		u := mustUser(t, d, "ada@example.com")
		if u.Role != pihu.RoleOwner || !strings.HasPrefix(u.PasswordHash, "$argon2id$") || strings.Contains(u.PasswordHash, password) {
			t.Errorf("user: got role %s and hash %q, want an owner with an argon2id hash", u.Role, u.PasswordHash)
		}
		events, _, _ := d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: u.AccountID, Limit: 10})
		if len(events) != 1 || events[0].Action != pihu.ActionUserSignedUp || events[0].Actor != u.ID {
			t.Errorf("events: got %v, want the sign-up by the user", events)
		}
	})
	t.Run("CookieAttributes", func(t *testing.T) {
		d := newDashboard(t)
		p := d.browser(t).post("/signup", form("email", "ada@example.com", "password", password, "account_name", "Acme"))
		checkRedirect(t, p, "/keys")
		cookies := p.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies: got %d, want 1", len(cookies))
		}
		c := cookies[0]
		if c.Name != web.CookieName || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
			t.Errorf("cookie: got %+v, want HttpOnly, SameSite=Lax, Path=/, not Secure over plain HTTP", c)
		}
		if len(c.Value) != 43 {
			t.Errorf("cookie value: got %d characters, want 43 (32 random bytes)", len(c.Value))
		}
		// Only the SHA-256 of the id is stored.
		digest := sha256.Sum256([]byte(c.Value))
		if _, err := d.Store.SessionByDigest(t.Context(), digest[:]); err != nil {
			t.Errorf("the session is not stored by the digest of its id: %v", err)
		}
		if _, err := d.Store.SessionByDigest(t.Context(), []byte(c.Value)); pihu.ErrorCode(err) != pihu.ENotFound {
			t.Errorf("the session is stored by its id: %v", err)
		}
	})
	t.Run("SecureUnderTLS", func(t *testing.T) {
		d := newTLSDashboard(t)
		p := d.browser(t).post("/signup", form("email", "ada@example.com", "password", password, "account_name", "Acme"))
		checkRedirect(t, p, "/keys")
		if c := p.Cookies(); len(c) != 1 || !c[0].Secure {
			t.Errorf("cookie under TLS: got %+v, want Secure", c)
		}
	})
	bad := []struct {
		name, field string
		form        []string
		message     string
	}{
		{"ShortPassword", "password", []string{"email", "ada@example.com", "password", "short", "account_name", "Acme"}, "use at least 10"},
		{"NoPassword", "password", []string{"email", "ada@example.com", "account_name", "Acme"}, "at least 10 characters"},
		{"BadEmail", "email", []string{"email", "ada", "password", password, "account_name", "Acme"}, "is not an email address"},
		{"NoAccountName", "account_name", []string{"email", "ada@example.com", "password", password}, "An account needs a name"},
		{"LongAccountName", "account_name", []string{"email", "ada@example.com", "password", password, "account_name", strings.Repeat("a", 101)}, "at most 100"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			d := newDashboard(t)
			p := d.browser(t).post("/signup", form(tt.form...))
			checkStatus(t, p, http.StatusBadRequest)
			checkContains(t, p, `id="`+tt.field+`-error"`, tt.message, `aria-invalid="true"`)
			if strings.Contains(p.Body, password) {
				t.Errorf("the page shows the password back")
			}
			if n, _ := d.Store.CountAccounts(t.Context()); n != 0 {
				t.Errorf("accounts: got %d, want none stored", n)
			}
			if p.Header.Get("Set-Cookie") != "" {
				t.Errorf("a failed sign-up set a cookie")
			}
		})
	}
	t.Run("EmailTaken", func(t *testing.T) {
		d := newDashboard(t)
		d.signUp(t, "ada@example.com")
		p := d.browser(t).post("/signup", form("email", "ADA@example.com", "password", password, "account_name", "Other"))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, `id="email-error"`, "already exists")
		if n, _ := d.Store.CountAccounts(t.Context()); n != 1 {
			t.Errorf("accounts: got %d, want 1", n)
		}
	})
}

func TestLogin(t *testing.T) {
	t.Run("Page", func(t *testing.T) {
		d := newDashboard(t)
		p := d.browser(t).get("/login")
		checkStatus(t, p, http.StatusOK)
		checkContains(t, p, `<label for="email">Email</label>`, `<label for="password">Password</label>`, `autocomplete="current-password"`)
	})
	t.Run("SignsIn", func(t *testing.T) {
		d := newDashboard(t)
		d.signUp(t, "ada@example.com")
		b := d.browser(t)
		checkRedirect(t, b.get("/keys"), "/login")
		checkRedirect(t, b.post("/login", form("email", " ADA@example.com ", "password", password)), "/keys")
		checkStatus(t, b.get("/keys"), http.StatusOK)
		checkRedirect(t, b.get("/login"), "/keys")
		checkRedirect(t, b.get("/"), "/keys")
		u := mustUser(t, d, "ada@example.com")
		events, _, _ := d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: u.AccountID, Limit: 10})
		if len(events) != 2 || events[0].Action != pihu.ActionUserLogin || events[0].Actor != u.ID || events[0].IP != "127.0.0.1" {
			t.Errorf("events: got %v, want the sign-in by the user, from 127.0.0.1", events)
		}
	})
	t.Run("OneMessageForEveryFailure", func(t *testing.T) {
		d := newDashboard(t)
		d.signUp(t, "ada@example.com")
		for _, f := range [][]string{
			{"email", "ada@example.com", "password", "wrong password"},
			{"email", "bob@example.com", "password", password},
			{"email", "not an email", "password", password},
			{"email", "ada@example.com"},
		} {
			p := d.browser(t).post("/login", form(f...))
			checkStatus(t, p, http.StatusUnauthorized)
			checkContains(t, p, "The email or the password is not right.")
			if p.Header.Get("Set-Cookie") != "" {
				t.Errorf("%v: a failed sign-in set a cookie", f)
			}
		}
	})
	t.Run("UnknownEmailCostsAHash", func(t *testing.T) {
		// With costly hashes, a sign-in with an unknown email costs as
		// much as one with a wrong password: both compute argon2id. The
		// cost is the process's CPU time, which a loaded machine does not
		// change (wall time failed under load); the two alternate.
		d := newDashboard(t, func(o *web.Options) { o.Password = web.PasswordParams{Memory: 32 * 1024, Time: 3, Threads: 1} })
		d.signUp(t, "ada@example.com")
		var known, unknown time.Duration
		for range 3 {
			for _, email := range []string{"ada@example.com", "bob@example.com"} {
				// The garbage of earlier sign-ins (and tests) is
				// collected before, not during, the one measured.
				runtime.GC()
				start := processCPU()
				d.browser(t).post("/login", form("email", email, "password", "wrong password"), clientHeader, "198.51.100."+email[:1])
				if used := processCPU() - start; email[0] == 'a' {
					known += used
				} else {
					unknown += used
				}
			}
		}
		if unknown < known/2 {
			t.Errorf("an unknown email cost %v of CPU, a known one %v: the difference tells which emails exist", unknown, known)
		}
	})
	t.Run("RateLimitedPerEmail", func(t *testing.T) {
		d := newDashboard(t, func(o *web.Options) { o.SignInLimit = ratelimit.PerMinute(3) })
		d.signUp(t, "ada@example.com")
		for i := range 3 {
			p := d.browser(t).post("/login", form("email", "ada@example.com", "password", "wrong password"), clientHeader, "198.51.100."+string(rune('1'+i)))
			checkStatus(t, p, http.StatusUnauthorized)
		}
		// From yet another address, with the right password: the email's
		// budget is spent.
		p := d.browser(t).post("/login", form("email", "ada@example.com", "password", password), clientHeader, "198.51.100.9")
		checkStatus(t, p, http.StatusTooManyRequests)
		checkContains(t, p, "Too many failed sign-ins")
		if p.Header.Get("Retry-After") == "" {
			t.Errorf("no Retry-After")
		}
		// Another email from a fresh address is not limited.
		d.signUp(t, "bob@example.com")
		checkRedirect(t, d.browser(t).post("/login", form("email", "bob@example.com", "password", password), clientHeader, "198.51.100.10"), "/keys")
		// A minute later the email may try again.
		d.Clock.Add(time.Minute)
		checkRedirect(t, d.browser(t).post("/login", form("email", "ada@example.com", "password", password), clientHeader, "198.51.100.9"), "/keys")
	})
	t.Run("RateLimitedPerAddress", func(t *testing.T) {
		d := newDashboard(t, func(o *web.Options) { o.SignInLimit = ratelimit.PerMinute(3) })
		d.signUp(t, "ada@example.com")
		for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
			checkStatus(t, d.browser(t).post("/login", form("email", email, "password", "wrong password"), clientHeader, "203.0.113.5"), http.StatusUnauthorized)
		}
		checkStatus(t, d.browser(t).post("/login", form("email", "ada@example.com", "password", password), clientHeader, "203.0.113.5"), http.StatusTooManyRequests)
		checkRedirect(t, d.browser(t).post("/login", form("email", "ada@example.com", "password", password), clientHeader, "203.0.113.6"), "/keys")
	})
	t.Run("RateLimitedPerIPv6Network", func(t *testing.T) {
		// Addresses of one /64 share a budget: one client holds them all.
		d := newDashboard(t, func(o *web.Options) { o.SignInLimit = ratelimit.PerMinute(2) })
		d.signUp(t, "ada@example.com")
		for _, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2"} {
			checkStatus(t, d.browser(t).post("/login", form("email", "x@example.com", "password", "wrong password"), clientHeader, ip), http.StatusUnauthorized)
		}
		checkStatus(t, d.browser(t).post("/login", form("email", "ada@example.com", "password", password), clientHeader, "2001:db8:1:2::3"), http.StatusTooManyRequests)
		checkRedirect(t, d.browser(t).post("/login", form("email", "ada@example.com", "password", password), clientHeader, "2001:db8:1:3::1"), "/keys")
	})
	t.Run("SharedLimiter", func(t *testing.T) {
		// The limiter given is the one used: an address whose budget is
		// spent elsewhere (by the API, sharing it) is limited here too.
		lim := ratelimit.NewMemory(ratelimit.MemoryOptions{})
		d := newDashboard(t, func(o *web.Options) { o.Limiter = lim; o.SignInLimit = ratelimit.PerMinute(1) })
		d.signUp(t, "ada@example.com")
		if _, err := lim.Allow(t.Context(), "signin-ip:203.0.113.7", ratelimit.PerMinute(1)); err != nil {
			t.Fatal(err)
		}
		checkStatus(t, d.browser(t).post("/login", form("email", "ada@example.com", "password", password), clientHeader, "203.0.113.7"), http.StatusTooManyRequests)
	})
}

func TestLogout(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	cookie := b.client.Jar.Cookies(mustURL(t, d.URL))[0].Value
	checkRedirect(t, b.post("/logout", nil), "/login")
	checkRedirect(t, b.get("/keys"), "/login")
	digest := sha256.Sum256([]byte(cookie))
	if _, err := d.Store.SessionByDigest(t.Context(), digest[:]); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("session after sign-out: got %v, want it deleted", err)
	}
	// A copy of the old cookie signs no one in.
	replay := d.browser(t)
	p := replay.get("/keys", "Cookie", web.CookieName+"="+cookie)
	checkRedirect(t, p, "/login")
	u := mustUser(t, d, "ada@example.com")
	events, _, _ := d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: u.AccountID, Limit: 1})
	if len(events) != 1 || events[0].Action != pihu.ActionUserLogout || events[0].Actor != u.ID {
		t.Errorf("events: got %v, want the sign-out by the user", events)
	}
}

func TestSessions(t *testing.T) {
	t.Run("IdleExpiry", func(t *testing.T) {
		d := newDashboard(t)
		b := d.signUp(t, "ada@example.com")
		d.Clock.Add(11 * time.Hour)
		checkStatus(t, b.get("/keys"), http.StatusOK)
		d.Clock.Add(11 * time.Hour) // 11 h after the last use: still on
		checkStatus(t, b.get("/keys"), http.StatusOK)
		d.Clock.Add(12 * time.Hour)
		checkRedirect(t, b.get("/keys"), "/login")
	})
	t.Run("AbsoluteExpiry", func(t *testing.T) {
		d := newDashboard(t)
		b := d.signUp(t, "ada@example.com")
		for range 15 { // used every 11 h, for 165 h
			d.Clock.Add(11 * time.Hour)
			checkStatus(t, b.get("/keys"), http.StatusOK)
		}
		d.Clock.Add(4 * time.Hour) // 169 h: past 7 days
		checkRedirect(t, b.get("/keys"), "/login")
	})
	t.Run("ForgedCookie", func(t *testing.T) {
		d := newDashboard(t)
		d.signUp(t, "ada@example.com")
		checkRedirect(t, d.browser(t).get("/keys", "Cookie", web.CookieName+"=forged"), "/login")
	})
}

func TestAccount_ChangePassword(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	other := d.browser(t)
	checkRedirect(t, other.post("/login", form("email", "ada@example.com", "password", password)), "/keys")
	checkStatus(t, b.get("/account"), http.StatusOK)

	p := b.post("/account/password", form("current_password", "wrong password", "new_password", "a new password"))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, `id="current_password-error"`)
	p = b.post("/account/password", form("current_password", password, "new_password", "short"))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, `id="new_password-error"`)

	d.Clock.Add(time.Second)
	checkRedirect(t, b.post("/account/password", form("current_password", password, "new_password", "a new password")), "/account?changed=1")
	checkStatus(t, b.get("/keys"), http.StatusOK)  // this browser goes on
	checkRedirect(t, other.get("/keys"), "/login") // the other is signed out
	checkStatus(t, d.browser(t).post("/login", form("email", "ada@example.com", "password", password)), http.StatusUnauthorized)
	checkRedirect(t, d.browser(t).post("/login", form("email", "ada@example.com", "password", "a new password")), "/keys")
}

func TestSetup(t *testing.T) {
	d := newDashboard(t)
	// The first start's account: an owner with no email nor password,
	// and a setup link.
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "Default", Created: d.Clock.Now()}
	k, _, _ := pihu.NewKey(a.ID, pihu.OwnerKeyRequest(), nil, d.Clock.Now())
	if err := d.Store.CreateAccount(t.Context(), a, k); err != nil {
		t.Fatal(err)
	}
	u := &pihu.User{ID: pihu.NewID(pihu.PrefixUser), AccountID: a.ID, Role: pihu.RoleOwner, Created: d.Clock.Now()}
	token, digest := web.NewLinkToken(u)
	link := &pihu.Link{Digest: digest, UserID: u.ID, AccountID: a.ID, Purpose: pihu.LinkSetup, Created: d.Clock.Now(), Expires: d.Clock.Now().Add(web.LinkLifetime)}
	if err := d.Store.CreateUser(t.Context(), u, link); err != nil {
		t.Fatal(err)
	}
	b := d.browser(t)
	p := b.get(web.SetupPath(token))
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, `name="token" value="`+token+`"`)

	p = b.post("/setup", form("token", token, "email", "nope", "password", password))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, `id="email-error"`)
	p = b.post("/setup", form("token", token+"x", "email", "ops@example.com", "password", password))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "This link is not valid")

	checkRedirect(t, b.post("/setup", form("token", token, "email", "ops@example.com", "password", password)), "/keys")
	checkContains(t, b.get("/keys"), "ops@example.com", "Default")
	// Once only.
	p = d.browser(t).post("/setup", form("token", token, "email", "eve@example.com", "password", password))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "This setup link was used already")
	events, _, _ := d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: a.ID, Target: u.ID, Limit: 10})
	if len(events) != 2 || events[1].Action != pihu.ActionUserPasswordSet || events[1].Actor != u.ID {
		t.Errorf("events: got %v, want the password set, then the sign-in", events)
	}
}

func TestInvite_Expired(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	p := owner.created(owner.post("/team", form("email", "bob@example.com", "role", "viewer")))
	link := inviteLink.FindStringSubmatch(p.Body)
	d.Clock.Add(web.LinkLifetime)
	p = d.browser(t).post("/invite", form("token", html(link[1]), "email", "bob@example.com", "password", password))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "This invite has expired")
	if _, err := d.Store.UserByEmail(t.Context(), "bob@example.com"); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("an expired invite stored a person: %v", err)
	}
}
