package web_test

import (
	"html/template"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/web"
)

// providerLogin is the test provider's own sign-in page: the person types
// their email, and the provider signs them in as that (verified) email.
var providerLogin = template.Must(template.New("login").Parse(`<!doctype html><html lang="en"><title>Mock ID</title>
<main><h1>Sign in to Mock ID</h1><form method="get" action="{{.Action}}">
{{range $k, $v := .Query}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">{{end}}
<label for="login_email">Email</label> <input id="login_email" name="login_email" type="email">
<button type="submit">Continue</button></form></main></html>`))

// startProvider runs mockoidc with a sign-in page of its own in front of
// its authorization endpoint, as a real provider has.
func startProvider(t *testing.T) *mockoidc.MockOIDC {
	t.Helper()
	op, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	op.AddMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != mockoidc.AuthorizationEndpoint {
				next.ServeHTTP(w, r)
				return
			}
			email := r.URL.Query().Get("login_email")
			if email == "" {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				providerLogin.Execute(w, map[string]any{"Action": r.URL.Path, "Query": r.URL.Query()})
				return
			}
			op.QueueUser(&mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true})
			next.ServeHTTP(w, r)
		})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Shutdown() })
	return op
}

// TestBrowserSSO drives single sign-on in headless Chromium: the sign-in
// page's "Sign in with Mock ID" button, the provider's own sign-in page,
// and back on the dashboard signed in, as a new member of the provider's
// account; the owner requires SSO of the team on the Account page; and
// the page a provider that is down gives.
func TestBrowserSSO(t *testing.T) {
	b := startBrowser(t)
	op := startProvider(t)
	providers, err := web.LoadSSOProviders(writeProviders(t, op, ""), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	// A second provider, which cannot be reached.
	down := providers[0]
	down.ID, down.Name, down.Issuer = "okta", "Okta", "http://127.0.0.1:1/oauth2/default"
	providers = append(providers, down)
	srv, db, _ := startServer(t, serverOptions{sso: providers})
	now := pihu.Timestamp(time.Now())
	owner := &pihu.User{ID: pihu.NewID(pihu.PrefixUser), AccountID: ssoAccount, Email: "ada@acme.test",
		PasswordHash: web.HashPassword(password, fastPassword), Role: pihu.RoleOwner, Created: now, PasswordChanged: &now}
	if err := db.CreateAccountWithOwner(t.Context(), &pihu.Account{ID: ssoAccount, Name: "Acme Recruiting", Created: now}, owner); err != nil {
		t.Fatal(err)
	}
	signOut := func() {
		b.run("sign out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	}
	withProvider := func(email string) {
		b.t.Helper()
		b.run("sign in with Mock ID as "+email,
			chromedp.Navigate(srv.URL+"/login"),
			chromedp.Click(chromedp.CSS(`a[data-sso="mock"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#login_email`)),
			chromedp.SendKeys(chromedp.CSS(`#login_email`), email),
			chromedp.Submit(chromedp.CSS(`#login_email`)),
		)
	}

	b.run("the sign-in page", chromedp.Navigate(srv.URL+"/login"), chromedp.WaitVisible(chromedp.CSS(`#sso-signin`)))
	b.shotWidths("sso-sign-in")

	withProvider("grace@acme.test")
	b.run("back on the dashboard", chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)))
	if loc := b.read("the page", chromedp.Location()); !strings.HasSuffix(loc, "/keys") {
		t.Errorf("after signing in: at %s, want the keys", loc)
	}
	if u, err := db.UserByEmail(t.Context(), "grace@acme.test"); err != nil {
		t.Errorf("the new member: %v", err)
	} else if m, err := db.User(t.Context(), ssoAccount, u.ID); err != nil || m.Role != pihu.RoleViewer {
		t.Errorf("the new member: got %+v, %v", m, err)
	}
	signOut()

	withProvider("mallory@evil.test")
	b.run("a domain not allowed", chromedp.WaitVisible(chromedp.CSS(`.status-code`)))
	if text := b.read("the refusal", chromedp.Text(chromedp.CSS(`main`))); !strings.Contains(text, "acme.test only") {
		t.Errorf("refusal: got %q", text)
	}
	b.shotWidths("sso-refused")

	withProvider("ada@acme.test")
	b.run("require SSO of the team",
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.Navigate(srv.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS(`#sso-required`)),
		chromedp.Click(chromedp.CSS(`input[name="sso_required"][value="on"]`)),
		chromedp.Submit(chromedp.CSS(`form[action="/account/sso-required"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#sso-required .alert.success`)),
		chromedp.ScrollIntoView(chromedp.CSS(`#sso-required`)),
	)
	b.shotWidths("sso-account")
	signOut()
	b.run("a password is refused",
		chromedp.SendKeys(chromedp.CSS(`#email`), "ada@acme.test"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert.error`)),
	)
	if text := b.read("the refusal", chromedp.Text(chromedp.CSS(`.alert.error`))); !strings.Contains(text, "single sign-on only") {
		t.Errorf("password sign-in: got %q", text)
	}

	b.run("the provider is down", chromedp.Navigate(srv.URL+"/login"), chromedp.Click(chromedp.CSS(`a[data-sso="okta"]`)), chromedp.WaitVisible(chromedp.CSS(`.status-code`)))
	if text := b.read("the page", chromedp.Text(chromedp.CSS(`main`))); !strings.Contains(text, "Okta is unavailable") {
		t.Errorf("provider down: got %q", text)
	}
	b.shotWidths("sso-provider-down")
}
