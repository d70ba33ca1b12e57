package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserTeams drives teams in headless Chromium: an owner invites
// someone, cancels the invite (its row goes), invites a person who has an
// account of her own; she joins with her own password and lands in the
// inviting account as a viewer, then switches to her own account from the
// Account page, where she is the owner; the header says which each time.
func TestBrowserTeams(t *testing.T) {
	b := startBrowser(t)
	run, read, shot := b.run, b.read, b.shot
	srv, _, _ := startServer(t, serverOptions{})
	header := func() string {
		t.Helper()
		return read("read the header", chromedp.Text(chromedp.CSS(`.who`)))
	}
	signUp := func(account, email string) {
		t.Helper()
		run("sign up "+email,
			chromedp.Navigate(srv.URL+"/signup"),
			chromedp.WaitVisible(chromedp.CSS(`#account_name`)),
			chromedp.SendKeys(chromedp.CSS(`#account_name`), account),
			chromedp.SendKeys(chromedp.CSS(`#email`), email),
			chromedp.SendKeys(chromedp.CSS(`#password`), password),
			chromedp.Submit(chromedp.CSS(`#password`)),
			chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)),
		)
	}
	signOut := func() {
		t.Helper()
		run("sign out",
			chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
		)
	}
	invite := func(email string) {
		t.Helper()
		run("invite "+email,
			chromedp.Navigate(srv.URL+"/team"),
			chromedp.WaitVisible(chromedp.CSS(`#email`)),
			chromedp.SendKeys(chromedp.CSS(`#email`), email),
			chromedp.SetValue(chromedp.CSS(`#role`), "viewer"),
			chromedp.Submit(chromedp.CSS(`#email`)),
			chromedp.WaitVisible(chromedp.CSS(`#invite-link`)),
		)
	}

	signUp("Grace Labs", "grace@example.com")
	signOut()
	signUp("Acme Recruiting", "ada@example.com")
	invite("zed@example.com")
	run("cancel the invite",
		chromedp.Navigate(srv.URL+"/team"),
		chromedp.WaitVisible(chromedp.CSS(`#invites form[action^="/team/invites/"] button`)),
		chromedp.Click(chromedp.CSS(`#invites form[action^="/team/invites/"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#invites td.empty`)),
	)
	if s := read("read the invites", chromedp.Text(chromedp.CSS(`#invites`))); strings.Contains(s, "zed@example.com") {
		t.Errorf("the canceled invite is still listed: %q", s)
	}
	invite("grace@example.com")
	link := read("read the invite link", chromedp.Value(chromedp.CSS(`#invite-link`)))
	shot("team-invite")
	signOut()

	run("join with her own password",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "grace@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)),
	)
	if h := header(); !strings.Contains(h, "Acme Recruiting") || !strings.Contains(h, "grace@example.com · viewer") {
		t.Errorf("after joining: the header says %q, want Acme Recruiting, grace as a viewer", h)
	}
	run("switch to her own account",
		chromedp.Click(chromedp.CSS(`a.who-account`)),
		chromedp.WaitVisible(chromedp.CSS(`#accounts`)),
		chromedp.Click(chromedp.CSS(`#accounts form[action="/account/switch"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`table.keys`)),
	)
	if h := header(); !strings.Contains(h, "Grace Labs") || !strings.Contains(h, "grace@example.com · owner") {
		t.Errorf("after switching: the header says %q, want Grace Labs, grace as its owner", h)
	}
	run("back to the account page",
		chromedp.Click(chromedp.CSS(`a.who-account`)),
		chromedp.WaitVisible(chromedp.CSS(`#accounts`)),
	)
	shot("accounts")
	if s := read("read the accounts", chromedp.Text(chromedp.CSS(`#accounts`))); !strings.Contains(s, "Switch to Acme Recruiting") {
		t.Errorf("the account page offers %q, want a switch back to Acme Recruiting", s)
	}
}
