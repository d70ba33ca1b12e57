package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/sqlite"
)

// addAuthenticator adds a virtual platform authenticator to the browser,
// one that keeps discoverable credentials and verifies its person (as a
// laptop's fingerprint reader does), and returns its id.
func (b *chromium) addAuthenticator() cdpwebauthn.AuthenticatorID {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
		Options: &cdpwebauthn.VirtualAuthenticatorOptions{
			Protocol: cdpwebauthn.AuthenticatorProtocolCtap2, Ctap2version: cdpwebauthn.Ctap2versionCtap21,
			Transport: cdpwebauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
			IsUserVerified: true, AutomaticPresenceSimulation: true,
			// A credential read back (GetCredentials) carries this extension's
			// fields, which another authenticator takes only if it has it.
			HasCmtgKey: true,
		},
	})
	if err != nil {
		b.t.Fatalf("adding a virtual authenticator: %v", err)
	}
	return res.AuthenticatorID
}

// TestBrowserPasskeys drives passkeys in headless Chromium with the
// DevTools' virtual authenticators: Ada registers a passkey on one
// authenticator and another on a second, renames one, signs in with it
// without her email or password, removes it, and is refused when she
// tries it again; then her first passkey, on a third authenticator, is
// her second factor after her password.
func TestBrowserPasskeys(t *testing.T) {
	b := startBrowser(t)
	run, read := b.run, b.read
	srv, db, _ := startServer(t, serverOptions{})
	// Passkeys are bound to a domain name: localhost, not 127.0.0.1.
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	if _, err := chromedp.Call(b.ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	first := b.addAuthenticator()

	register := func(name string, want int) {
		t.Helper()
		run("register the passkey "+name,
			chromedp.Navigate(url+"/account"),
			chromedp.WaitVisible(chromedp.CSS(`#passkeys [data-passkey="register"]`)),
			chromedp.SendKeys(chromedp.CSS(`#passkey_name`), name),
			chromedp.Click(chromedp.CSS(`#passkeys [data-passkey="register"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#passkeys .alert.success`)),
		)
		names := read("read the passkeys", chromedp.Evaluate[string](`[...document.querySelectorAll("#passkeys .passkey-name")].map(e => e.textContent).join(",")`))
		if got := len(strings.Split(names, ",")); got != want || !strings.Contains(names, name) {
			t.Fatalf("passkeys listed: got %q, want %d with %s", names, want, name)
		}
	}
	signOut := func() {
		t.Helper()
		run("sign out",
			chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
		)
	}
	withPasskey := func() {
		t.Helper()
		run("sign in with a passkey",
			chromedp.Navigate(url+"/login"),
			chromedp.WaitVisible(chromedp.CSS(`[data-passkey="signin"]`)),
			chromedp.Click(chromedp.CSS(`[data-passkey="signin"]`)),
		)
	}

	b.signUp(url)
	register("Laptop", 1)
	saved, err := chromedp.Call(b.ctx, cdpwebauthn.GetCredentials, cdpwebauthn.GetCredentialsParams{AuthenticatorID: first})
	if err != nil || len(saved.Credentials) != 1 {
		t.Fatalf("the first authenticator's credentials: got %v, %v", saved, err)
	}
	// A second device: the first one is put away (its credential kept).
	if _, err := chromedp.Call(b.ctx, cdpwebauthn.RemoveVirtualAuthenticator, cdpwebauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: first}); err != nil {
		t.Fatal(err)
	}
	second := b.addAuthenticator()
	register("Phone", 2)
	u, err := db.UserByEmail(t.Context(), "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	var phone string
	keys, _ := db.ListPasskeys(t.Context(), u.ID)
	for _, k := range keys {
		if k.Name == "Phone" {
			phone = k.ID
		}
	}
	run("rename the second passkey",
		chromedp.SetValue(chromedp.CSS(`#rename-`+phone), "Work phone"),
		chromedp.Submit(chromedp.CSS(`#rename-`+phone)),
		chromedp.WaitVisible(chromedp.CSS(`#passkeys .alert.success`)),
	)
	if names := read("read the names", chromedp.Text(chromedp.CSS(`#passkeys .passkey-list`))); !strings.Contains(names, "Work phone") || !strings.Contains(names, "Laptop") {
		t.Errorf("after renaming: got %q", names)
	}
	b.shotWidths("passkeys-account")
	signOut()

	b.shotWidths("passkeys-sign-in")
	withPasskey()
	run("signed in", chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)))
	if who := read("read the header", chromedp.Text(chromedp.CSS(`.who`))); !strings.Contains(who, "ada@example.com") {
		t.Errorf("header: got %q", who)
	}
	run("remove the passkey just used",
		chromedp.Navigate(url+"/account"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/account/passkeys/`+phone+`/remove"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/account/passkeys/`+phone+`/remove"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#passkeys .alert.success`)),
	)
	if n := read("count the passkeys", chromedp.Evaluate[string](`String(document.querySelectorAll("#passkeys .passkey-name").length)`)); n != "1" {
		t.Errorf("passkeys after removing one: got %s, want 1", n)
	}
	signOut()
	withPasskey()
	run("the removed passkey is refused", chromedp.WaitVisible(chromedp.CSS(`.passkey-signin [data-passkey-message]:not([hidden])`)))
	if msg := read("read the refusal", chromedp.Text(chromedp.CSS(`.passkey-signin [data-passkey-message]`))); !strings.Contains(msg, "removed") {
		t.Errorf("refusal: got %q, want it to say the passkey was removed", msg)
	}
	if b.has(`form[action="/logout"]`) {
		t.Fatal("signed in with a removed passkey")
	}

	// The first device again: its passkey is the second factor after the
	// password.
	if _, err := chromedp.Call(b.ctx, cdpwebauthn.RemoveVirtualAuthenticator, cdpwebauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: second}); err != nil {
		t.Fatal(err)
	}
	third := b.addAuthenticator()
	kept := saved.Credentials[0]
	kept.ActiveCmtgKeyIndex = nil
	if _, err := chromedp.Call(b.ctx, cdpwebauthn.AddCredential, cdpwebauthn.AddCredentialParams{AuthenticatorID: third, Credential: kept}); err != nil {
		t.Fatalf("restoring the first passkey: %v", err)
	}
	run("sign in with the password",
		chromedp.Navigate(url+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		// "Start again" is the second factor's page's only.
		chromedp.WaitVisible(chromedp.CSS(`a[href="/login"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-passkey="signin"]`)),
	)
	if b.has(`form[action="/login/two-factor"]`) {
		t.Error("the second factor's page asks a person without an authenticator app for its code")
	}
	b.shotWidths("passkeys-second-factor")
	bogus := true
	if _, err := chromedp.Call(b.ctx, cdpwebauthn.SetResponseOverrideBits, cdpwebauthn.SetResponseOverrideBitsParams{AuthenticatorID: third, IsBogusSignature: &bogus}); err != nil {
		t.Fatal(err)
	}
	run("a passkey whose signature is wrong is refused",
		chromedp.Click(chromedp.CSS(`[data-passkey="signin"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.passkey-signin [data-passkey-message]:not([hidden])`)),
	)
	if msg := read("read the refusal", chromedp.Text(chromedp.CSS(`.passkey-signin [data-passkey-message]`))); !strings.Contains(msg, "could not be verified") {
		t.Errorf("refusal: got %q", msg)
	}
	if _, err := chromedp.Call(b.ctx, cdpwebauthn.SetResponseOverrideBits, cdpwebauthn.SetResponseOverrideBitsParams{AuthenticatorID: third}); err != nil {
		t.Fatal(err)
	}
	run("use the passkey as the second factor",
		chromedp.Click(chromedp.CSS(`[data-passkey="signin"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)),
	)

	ms, _ := db.Memberships(t.Context(), u.ID)
	events, _, err := db.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: ms[0].AccountID, Target: u.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range events {
		count[e.Action]++
	}
	for action, want := range map[string]int{
		pihu.ActionUserPasskeyAdded: 2, pihu.ActionUserPasskeyRenamed: 1, pihu.ActionUserPasskeyRemoved: 1,
		pihu.ActionUserPasskeyUsed: 2, pihu.ActionUserLogin: 2, pihu.ActionUserPasskeyFailed: 1,
	} {
		if count[action] != want {
			t.Errorf("%s events: got %d, want %d", action, count[action], want)
		}
	}
	keys, _ = db.ListPasskeys(t.Context(), u.ID)
	if len(keys) != 1 || keys[0].Name != "Laptop" || keys[0].LastUsed == nil || !slices.Equal(keys[0].CredentialID, saved.Credentials[0].CredentialID) {
		t.Errorf("passkeys left: got %+v", keys)
	}
}

// TestBrowserPasskeys_AnyInstance: two instances of serve on one database,
// behind a proxy that sends every ceremony's answer to the instance that
// did not make its challenge, as a load balancer without sticky sessions
// may. A passkey registers, and signs in without a password, all the same:
// the challenge waits in the database, not in the memory of the instance
// that made it.
func TestBrowserPasskeys_AnyInstance(t *testing.T) {
	b := startBrowser(t)
	run := b.run
	path := sqlitetest.Path(t)
	var backends [2]*url.URL
	for i := range backends {
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		api, _ := newInstance(t, db, serverOptions{})
		srv := httptest.NewServer(api)
		t.Cleanup(srv.Close)
		backends[i], _ = url.Parse(srv.URL)
	}
	// The answers, and only they, go to the second instance.
	answers := map[string]bool{"/account/passkeys": true, "/login/passkey": true}
	var answered, challenged atomic.Int64
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		to := backends[0]
		switch {
		case pr.In.Method == http.MethodPost && answers[pr.In.URL.Path]:
			to = backends[1]
			answered.Add(1)
		case strings.HasSuffix(pr.In.URL.Path, "/options"):
			challenged.Add(1)
		}
		pr.SetURL(to)
		pr.Out.Host = pr.In.Host
	}})
	t.Cleanup(proxy.Close)
	// Passkeys are bound to a domain name: localhost, not 127.0.0.1.
	site := strings.Replace(proxy.URL, "127.0.0.1", "localhost", 1)
	if _, err := chromedp.Call(b.ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	b.addAuthenticator()

	b.signUp(site)
	run("register a passkey",
		chromedp.Navigate(site+"/account"),
		chromedp.WaitVisible(chromedp.CSS(`#passkeys [data-passkey="register"]`)),
		chromedp.SendKeys(chromedp.CSS(`#passkey_name`), "Laptop"),
		chromedp.Click(chromedp.CSS(`#passkeys [data-passkey="register"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#passkeys .alert.success`)),
	)
	run("sign out",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
	)
	run("sign in with the passkey",
		chromedp.Navigate(site+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`[data-passkey="signin"]`)),
		chromedp.Click(chromedp.CSS(`[data-passkey="signin"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)),
	)
	if who := b.read("read the header", chromedp.Text(chromedp.CSS(`.who`))); !strings.Contains(who, "ada@example.com") {
		t.Errorf("header: got %q", who)
	}
	if c, a := challenged.Load(), answered.Load(); c < 2 || a < 2 {
		t.Errorf("challenges made by the first instance: %d, answers taken by the second: %d; want 2 of each at least", c, a)
	}
}
