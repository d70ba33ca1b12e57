package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/web"
)

// ssoAccount is the account the test provider signs people in to.
const ssoAccount = "acct_ssoTestAccount000000"

// ssoTest is a dashboard with one provider, "mock", a real OpenID Connect
// provider (mockoidc) on a loopback port, vouching for acme.test and
// signing people in to ssoAccount, whose owner is ada@acme.test.
type ssoTest struct {
	*dashboard
	op    *mockoidc.MockOIDC
	opts  web.Options
	owner *pihu.User
}

// writeProviders writes a providers file for op and returns its path.
func writeProviders(tb testing.TB, op *mockoidc.MockOIDC, extra string) string {
	tb.Helper()
	dir := tb.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(op.ClientSecret+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	file := filepath.Join(dir, "sso.json")
	body := `{"providers":[{"id":"mock","name":"Mock ID","issuer":"` + op.Issuer() + `","client_id":"` + op.ClientID +
		`","client_secret_file":"` + secret + `","domains":["acme.test"],"account":"` + ssoAccount + `"` + extra + `}]}`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		tb.Fatal(err)
	}
	return file
}

func newSSOTest(tb testing.TB) *ssoTest {
	tb.Helper()
	op, err := mockoidc.Run()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { op.Shutdown() })
	providers, err := web.LoadSSOProviders(writeProviders(tb, op, ""), os.Getenv)
	if err != nil {
		tb.Fatal(err)
	}
	t := &ssoTest{op: op}
	t.dashboard = newDashboard(tb, func(o *web.Options) {
		o.SSOProviders = providers
		t.opts = *o
	})
	// The provider's tokens are of the real time, which the dashboard's
	// clock checks them against.
	t.Clock.Add(time.Since(t.Clock.Now()).Truncate(time.Second))
	now := t.Clock.Now()
	t.owner = &pihu.User{ID: pihu.NewID(pihu.PrefixUser), AccountID: ssoAccount, Email: "ada@acme.test",
		PasswordHash: web.HashPassword(password, fastPassword), Role: pihu.RoleOwner, Created: now, PasswordChanged: &now}
	if err := t.Store.CreateAccountWithOwner(tb.Context(), &pihu.Account{ID: ssoAccount, Name: "Acme", Created: now}, t.owner); err != nil {
		tb.Fatal(err)
	}
	return t
}

// queue makes the provider sign the next sign-in in as email.
func (t *ssoTest) queue(email string, verified bool) {
	t.op.QueueUser(&mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: verified})
}

// start begins a sign-in in b, and returns the provider's authorization
// URL it was sent to.
func (t *ssoTest) start(tb testing.TB, b *browser) *url.URL {
	tb.Helper()
	p := b.get("/login/sso/mock")
	checkStatus(tb, p, http.StatusSeeOther)
	u := mustURL(tb, p.Header.Get("Location"))
	q := u.Query()
	if !strings.HasPrefix(u.String(), t.op.AuthorizationEndpoint()) || q.Get("state") == "" || q.Get("nonce") == "" ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("scope") != "openid email profile" {
		tb.Fatalf("start: got a redirect to %s", u)
	}
	return u
}

// authorize signs in at the provider (mockoidc signs in the queued user
// at once) and returns the dashboard's callback path and query.
func (t *ssoTest) authorize(tb testing.TB, auth *url.URL) string {
	tb.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(auth.String())
	if err != nil {
		tb.Fatal(err)
	}
	res.Body.Close()
	back := mustURL(tb, res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || back.Path != "/login/sso/mock/callback" || back.Query().Get("code") == "" {
		tb.Fatalf("authorize: got %d to %s", res.StatusCode, back)
	}
	return back.RequestURI()
}

// signIn goes through the whole flow in b and returns the callback's page.
func (t *ssoTest) signIn(tb testing.TB, b *browser) *page {
	tb.Helper()
	return b.get(t.authorize(tb, t.start(tb, b)))
}

// failures are the reasons of the account's user.sso_failed events, oldest
// first.
func (t *ssoTest) failures(tb testing.TB) []string {
	tb.Helper()
	events, _, err := t.Store.ListAuditEvents(tb.Context(), pihu.AuditFilter{AccountID: ssoAccount, Actions: []string{pihu.ActionUserSSOFailed}, Limit: 100})
	if err != nil {
		tb.Fatal(err)
	}
	var why []string
	for _, e := range slices.Backward(events) {
		why = append(why, strings.Join(e.Changes, ","))
	}
	return why
}

func TestSSO_SignIn(t *testing.T) {
	t.Run("NewPersonJoins", func(t *testing.T) {
		s := newSSOTest(t)
		b := s.browser(t)
		checkContains(t, b.get("/login"), `href="/login/sso/mock"`, "Sign in with Mock ID")
		s.queue("grace@acme.test", true)
		start := b.get("/login/sso/mock")
		c := start.Cookies()
		if len(c) != 1 || c[0].Name != "pihu_sso" || !c[0].HttpOnly || c[0].SameSite != http.SameSiteLaxMode || c[0].Path != "/login/sso/" || c[0].MaxAge != 600 {
			t.Errorf("the sign-in's cookie: got %+v", c)
		}
		callback := s.authorize(t, mustURL(t, start.Header.Get("Location")))
		checkRedirect(t, b.get(callback), "/keys")
		checkStatus(t, b.get("/keys"), http.StatusOK)
		u := memberOf(t, s.Store, "grace@acme.test")
		if u.AccountID != ssoAccount || u.Role != pihu.RoleViewer || u.PasswordHash != "" {
			t.Errorf("the new member: got %+v, want a viewer of %s without a password", u, ssoAccount)
		}
		events, _, _ := s.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: ssoAccount, Target: u.ID, Limit: 10})
		var actions []string
		for _, e := range events {
			actions = append(actions, e.Action)
		}
		for _, want := range []string{pihu.ActionUserSSOLinked, pihu.ActionUserLogin, pihu.ActionUserSSOLogin} {
			if !slices.Contains(actions, want) {
				t.Errorf("events: got %v, want %s", actions, want)
			}
		}
		// The callback cleared the cookie: the same answer again is
		// refused for its state, before the provider is asked.
		checkStatus(t, b.get(callback), http.StatusBadRequest)
		if got := s.failures(t); !slices.Equal(got, []string{"state"}) {
			t.Errorf("failures: got %v", got)
		}
	})
	t.Run("ExistingMember", func(t *testing.T) {
		s := newSSOTest(t)
		b := s.browser(t)
		s.queue("ADA@acme.test", true)
		checkRedirect(t, s.signIn(t, b), "/keys")
		checkContains(t, b.get("/account"), "ada@acme.test")
		if n, _ := s.Store.ListUsers(t.Context(), ssoAccount); len(n) != 1 {
			t.Errorf("members: got %d, want 1", len(n))
		}
	})
	t.Run("NoSecondFactorHere", func(t *testing.T) {
		// The provider has its own: a member with an authenticator app
		// lands on the keys, not on the page that asks for the code.
		s := newSSOTest(t)
		if err := s.Store.EnableTwoFactor(t.Context(), ssoAccount, s.owner.ID, "JBSWY3DPEHPK3PXP", 0, nil, s.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		b := s.browser(t)
		s.queue("ada@acme.test", true)
		checkRedirect(t, s.signIn(t, b), "/keys")
		checkStatus(t, b.get("/keys"), http.StatusOK)
	})
	t.Run("PersonOfAnotherAccount", func(t *testing.T) {
		s := newSSOTest(t)
		s.signUp(t, "bob@acme.test")
		s.queue("bob@acme.test", true)
		p := s.signIn(t, s.browser(t))
		checkStatus(t, p, http.StatusForbidden)
		checkContains(t, p, "Not a member")
		if got := s.failures(t); !slices.Equal(got, []string{"member"}) {
			t.Errorf("failures: got %v", got)
		}
	})
	t.Run("AnotherInstance", func(t *testing.T) {
		// The sign-in starts on one instance and comes back to another:
		// what it needs is in its cookie, not in an instance's memory.
		s := newSSOTest(t)
		h2, err := web.New(s.opts)
		if err != nil {
			t.Fatal(err)
		}
		other := httptest.NewServer(h2)
		t.Cleanup(other.Close)
		b := s.browser(t)
		s.queue("grace@acme.test", true)
		callback := s.authorize(t, s.start(t, b))
		b.d = &dashboard{Server: other}
		p := b.get(callback)
		checkRedirect(t, p, "/keys")
		checkStatus(t, b.get("/keys"), http.StatusOK)
	})
	t.Run("UnknownProvider", func(t *testing.T) {
		s := newSSOTest(t)
		checkStatus(t, s.browser(t).get("/login/sso/nope"), http.StatusNotFound)
		checkStatus(t, s.browser(t).get("/login/sso/nope/callback?code=x&state=y"), http.StatusNotFound)
	})
}

// The refusals: each a page saying what to do (never a 500), nobody
// signed in, and an audit event naming why.
func TestSSO_Refused(t *testing.T) {
	t.Run("WrongState", func(t *testing.T) {
		s := newSSOTest(t)
		b := s.browser(t)
		s.queue("grace@acme.test", true)
		back := mustURL(t, s.authorize(t, s.start(t, b)))
		q := back.Query()
		q.Set("state", "forged")
		p := b.get(back.Path + "?" + q.Encode())
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "Start again")
		checkRedirect(t, b.get("/keys"), "/login")
		// A callback in a browser that started nothing is refused too.
		checkStatus(t, s.browser(t).get(back.RequestURI()), http.StatusBadRequest)
		if got := s.failures(t); !slices.Equal(got, []string{"state", "state"}) {
			t.Errorf("failures: got %v", got)
		}
	})
	t.Run("ReplayedCode", func(t *testing.T) {
		s := newSSOTest(t)
		s.queue("grace@acme.test", true)
		first := s.browser(t)
		used := mustURL(t, s.authorize(t, s.start(t, first)))
		checkRedirect(t, first.get(used.RequestURI()), "/keys")
		// Another browser starts its own sign-in, and comes back with the
		// code the first one used, under its own state.
		b := s.browser(t)
		mine := s.start(t, b)
		q := used.Query()
		q.Set("state", mine.Query().Get("state"))
		p := b.get(used.Path + "?" + q.Encode())
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "used already")
		checkRedirect(t, b.get("/keys"), "/login")
		if got := s.failures(t); !slices.Equal(got, []string{"code"}) {
			t.Errorf("failures: got %v", got)
		}
	})
	t.Run("WrongNonce", func(t *testing.T) {
		s := newSSOTest(t)
		b := s.browser(t)
		s.queue("grace@acme.test", true)
		auth := s.start(t, b)
		q := auth.Query()
		q.Set("nonce", "another sign-in's")
		auth.RawQuery = q.Encode()
		p := b.get(s.authorize(t, auth))
		checkStatus(t, p, http.StatusBadRequest)
		checkRedirect(t, b.get("/keys"), "/login")
		if got := s.failures(t); !slices.Equal(got, []string{"nonce"}) {
			t.Errorf("failures: got %v", got)
		}
	})
	t.Run("UnverifiedEmail", func(t *testing.T) {
		s := newSSOTest(t)
		b := s.browser(t)
		s.queue("ada@acme.test", false)
		p := s.signIn(t, b)
		checkStatus(t, p, http.StatusForbidden)
		checkContains(t, p, "Email not verified")
		checkRedirect(t, b.get("/keys"), "/login")
		if got := s.failures(t); !slices.Equal(got, []string{"email_verified"}) {
			t.Errorf("failures: got %v", got)
		}
	})
	t.Run("DomainNotAllowed", func(t *testing.T) {
		s := newSSOTest(t)
		b := s.browser(t)
		s.queue("mallory@evil.test", true)
		p := s.signIn(t, b)
		checkStatus(t, p, http.StatusForbidden)
		checkContains(t, p, "acme.test only")
		if _, err := s.Store.UserByEmail(t.Context(), "mallory@evil.test"); pihu.ErrorCode(err) != pihu.ENotFound {
			t.Errorf("UserByEmail: got %v, want ENotFound", err)
		}
		if got := s.failures(t); !slices.Equal(got, []string{"domain"}) {
			t.Errorf("failures: got %v", got)
		}
	})
	t.Run("ProviderError", func(t *testing.T) {
		s := newSSOTest(t)
		b := s.browser(t)
		auth := s.start(t, b)
		p := b.get("/login/sso/mock/callback?error=access_denied&state=" + url.QueryEscape(auth.Query().Get("state")))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "access_denied")
		p = b.get("/login/sso/mock/callback?error=Call+555-0100+now&error_description=Call+us")
		checkStatus(t, p, http.StatusBadRequest)
		if strings.Contains(p.Body, "555") || strings.Contains(p.Body, "Call us") {
			t.Errorf("the page says the URL's words:\n%s", p.Body)
		}
	})
	t.Run("ProviderDown", func(t *testing.T) {
		s := newSSOTest(t)
		if err := s.op.Shutdown(); err != nil {
			t.Fatal(err)
		}
		b := s.browser(t)
		p := b.get("/login/sso/mock")
		checkStatus(t, p, http.StatusBadGateway)
		checkContains(t, p, "Mock ID is unavailable", "email and password")
		// Password sign-in goes on working.
		checkRedirect(t, b.post("/login", form("email", "ada@acme.test", "password", password)), "/keys")
		if got := s.failures(t); !slices.Equal(got, []string{"provider"}) {
			t.Errorf("failures: got %v", got)
		}
	})
	t.Run("ProviderBack", func(t *testing.T) {
		// A discovery that failed is asked again at the next sign-in, at
		// most every 5 seconds.
		s := newSSOTest(t)
		s.op.QueueError(&mockoidc.ServerError{Code: http.StatusInternalServerError, Error: "server_error"})
		b := s.browser(t)
		checkStatus(t, b.get("/login/sso/mock"), http.StatusBadGateway)
		checkStatus(t, b.get("/login/sso/mock"), http.StatusBadGateway)
		s.Clock.Add(5 * time.Second)
		s.queue("grace@acme.test", true)
		checkRedirect(t, s.signIn(t, b), "/keys")
	})
	t.Run("ProviderDownAtCallback", func(t *testing.T) {
		s := newSSOTest(t)
		b := s.browser(t)
		s.queue("grace@acme.test", true)
		back := s.authorize(t, s.start(t, b))
		s.op.Shutdown()
		p := b.get(back)
		checkStatus(t, p, http.StatusBadGateway)
		checkContains(t, p, "Mock ID is unavailable")
	})
}

// An account that requires SSO refuses its members' passwords, in every
// door a password opens, and lets SSO in; only an owner changes it, and
// only while a provider serves the account.
func TestSSO_Required(t *testing.T) {
	s := newSSOTest(t)
	owner := s.login(t, "ada@acme.test")
	checkContains(t, owner.get("/account"), `action="/account/sso-required"`)
	admin := s.member(t, owner, "alan@acme.test", pihu.RoleAdmin)
	checkStatus(t, admin.post("/account/sso-required", form("sso_required", "on")), http.StatusForbidden)
	checkStatus(t, owner.post("/account/sso-required", form("sso_required", "maybe")), http.StatusBadRequest)
	checkRedirect(t, owner.post("/account/sso-required", form("sso_required", "on")), "/account?sso=1#sso-required")
	if a, _ := s.Store.Account(t.Context(), ssoAccount); !a.SSORequired {
		t.Fatalf("account: got %+v, want SSO required", a)
	}
	// Sessions open stay open.
	checkStatus(t, owner.get("/keys"), http.StatusOK)
	checkContains(t, owner.get("/account?sso=1"), "The single sign-on setting was saved")

	p := s.browser(t).post("/login", form("email", "ada@acme.test", "password", password))
	checkStatus(t, p, http.StatusForbidden)
	checkContains(t, p, "single sign-on only")
	s.queue("ada@acme.test", true)
	b := s.browser(t)
	checkRedirect(t, s.signIn(t, b), "/keys")

	// A person with an account of their own too opens that one by
	// password, and cannot switch from it to the one that requires SSO.
	other := s.signUp(t, "bob@example.com")
	invite := owner.invite("bob@example.com", pihu.RoleViewer)
	checkStatus(t, s.browser(t).post("/invite", form("token", invite, "email", "bob@example.com", "password", password)), http.StatusForbidden)
	bob := s.login(t, "bob@example.com")
	p = bob.post("/account/switch", form("account", ssoAccount))
	checkStatus(t, p, http.StatusForbidden)
	checkContains(t, p, "Single sign-on required")
	_ = other

	// An account no provider serves cannot require it.
	p = other.post("/account/sso-required", form("sso_required", "on"))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "No single sign-on provider signs people in to this account")

	checkRedirect(t, b.post("/account/sso-required", form("sso_required", "off")), "/account?sso=1#sso-required")
	s.login(t, "alan@acme.test")
}

func TestLoadSSOProviders(t *testing.T) {
	t.Setenv("PIHU_TEST_SSO_SECRET", "from the environment")
	for _, tt := range []struct {
		name, body, want string
	}{
		{"UnknownField", `{"providers":[{"id":"x","colour":"red"}]}`, `unknown field "colour"`},
		{"None", `{"providers":[]}`, "names no provider"},
		{"BadID", `{"providers":[{"id":"Okta!"}]}`, `"id" must be`},
		{"NoSecret", `{"providers":[{"id":"okta","name":"Okta","issuer":"https://okta.example.com","client_id":"c","domains":["example.com"],"account":"acct_x"}]}`, "client_secret_file"},
		{"EmptyEnv", `{"providers":[{"id":"okta","name":"Okta","issuer":"https://okta.example.com","client_id":"c","client_secret_env":"PIHU_TEST_SSO_NONE","domains":["example.com"],"account":"acct_x"}]}`, "client secret is empty"},
		{"BadDomain", `{"providers":[{"id":"okta","name":"Okta","issuer":"https://okta.example.com","client_id":"c","client_secret_env":"PIHU_TEST_SSO_SECRET","domains":["@example.com"],"account":"acct_x"}]}`, `"domains"`},
		{"OwnerRole", `{"providers":[{"id":"okta","name":"Okta","issuer":"https://okta.example.com","client_id":"c","client_secret_env":"PIHU_TEST_SSO_SECRET","domains":["example.com"],"account":"acct_x","role":"owner"}]}`, `"role" must be`},
		{"Twice", `{"providers":[{"id":"okta","name":"Okta","issuer":"https://okta.example.com","client_id":"c","client_secret_env":"PIHU_TEST_SSO_SECRET","domains":["example.com"],"account":"acct_x"},{"id":"okta","name":"Okta","issuer":"https://okta.example.com","client_id":"c","client_secret_env":"PIHU_TEST_SSO_SECRET","domains":["example.com"],"account":"acct_x"}]}`, "two providers have the id"},
		{"OK", `{"providers":[{"id":"okta","name":"Okta","issuer":"https://okta.example.com","client_id":"c","client_secret_env":"PIHU_TEST_SSO_SECRET","domains":["Example.com"],"account":"acct_x"}]}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "sso.json")
			os.WriteFile(file, []byte(tt.body), 0o600)
			got, err := web.LoadSSOProviders(file, os.Getenv)
			if tt.want == "" {
				if err != nil || len(got) != 1 || got[0].Role != pihu.RoleViewer || got[0].Domains[0] != "example.com" {
					t.Fatalf("got %+v, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// A passkey does not open an account that requires single sign-on: the
// refusal comes before the passkey's signature is even checked.
func TestSSO_RequiredRefusesPasskeys(t *testing.T) {
	d := newDashboard(t, localhost)
	d.signUp(t, "ada@example.com")
	addPasskey(t, d, "ada@example.com", "Laptop", "cred-1")
	u := memberOf(t, d.Store, "ada@example.com")
	if _, err := d.Store.SetSSORequired(t.Context(), u.AccountID, true); err != nil {
		t.Fatal(err)
	}
	b := d.browser(t)
	p := b.postJSON("/login/passkey", passkeyAnswer(b.signInChallenge(), "cred-1", u.ID))
	checkStatus(t, p, http.StatusForbidden)
	checkContains(t, p, "single sign-on only")
	checkRedirect(t, b.get("/keys"), "/login")
}

// A person whose first account requires SSO signs in by password to the
// next one of theirs that does not.
func TestSSO_RequiredPasswordOpensAnother(t *testing.T) {
	s := newSSOTest(t)
	ada := s.login(t, "ada@acme.test")
	s.member(t, ada, "alan@acme.test", pihu.RoleAdmin)
	bob := s.signUp(t, "bob@example.com")
	invite := bob.invite("alan@acme.test", pihu.RoleViewer)
	checkRedirect(t, s.browser(t).post("/invite", form("token", invite, "email", "alan@acme.test", "password", password)), "/keys")
	checkRedirect(t, ada.post("/account/sso-required", form("sso_required", "on")), "/account?sso=1#sso-required")
	s.Clock.Add(time.Minute) // the sign-in's session is the newest
	s.login(t, "alan@acme.test")
	person, _ := s.Store.UserByEmail(t.Context(), "alan@acme.test")
	sessions, err := s.Store.ListSessions(t.Context(), person.ID)
	if err != nil || len(sessions) == 0 {
		t.Fatalf("sessions: got %v, %v", sessions, err)
	}
	if bobs := memberOf(t, s.Store, "bob@example.com").AccountID; sessions[0].AccountID != bobs {
		t.Errorf("the password opened %s, want %s (Bob's account)", sessions[0].AccountID, bobs)
	}
}
