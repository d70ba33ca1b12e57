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
		chromedp.WaitVisible(chromedp.CSS(`#invites form[action$="/cancel"] button`)),
		chromedp.Click(chromedp.CSS(`#invites form[action$="/cancel"] button`)),
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

// TestBrowserTeamManagement drives the team's management in headless
// Chromium: an owner invites two people; one opens her link, which names
// the account, her email and her role, and joins; the owner makes her an
// admin, regenerates the other's link (the old one then says it was
// replaced, with no form), cancels that invite, and makes a password
// reset link for her; she opens it, sets a new password, is sent to sign
// in, and signs in with it; the used link then says so.
func TestBrowserTeamManagement(t *testing.T) {
	b := startBrowser(t)
	run, read, text := b.run, b.read, func(sel string) string {
		t.Helper()
		return b.read("read "+sel, chromedp.Text(chromedp.CSS(sel)))
	}
	srv, _, _ := startServer(t, serverOptions{})
	const newPassword = "a brand new passphrase"
	invite := func(email string) string {
		t.Helper()
		run("invite "+email,
			chromedp.Navigate(srv.URL+"/team"),
			chromedp.WaitVisible(chromedp.CSS(`#email`)),
			chromedp.SendKeys(chromedp.CSS(`#email`), email),
			chromedp.SetValue(chromedp.CSS(`#role`), "viewer"),
			chromedp.Submit(chromedp.CSS(`#email`)),
			chromedp.WaitVisible(chromedp.CSS(`#invite-link`)),
		)
		return read("read the invite link", chromedp.Value(chromedp.CSS(`#invite-link`)))
	}
	signOut := func() {
		t.Helper()
		run("sign out",
			chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
		)
	}
	signIn := func(email, pw string) {
		t.Helper()
		run("sign in as "+email,
			chromedp.Navigate(srv.URL+"/login"),
			chromedp.WaitVisible(chromedp.CSS(`#email`)),
			chromedp.SendKeys(chromedp.CSS(`#email`), email),
			chromedp.SendKeys(chromedp.CSS(`#password`), pw),
			chromedp.Submit(chromedp.CSS(`#password`)),
			chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)),
		)
	}
	vic := `#members tr[data-member="vic@example.com"] `

	b.signUp(srv.URL)
	vicLink := invite("vic@example.com")
	zedLink := invite("zed@example.com")
	signOut()

	run("open vic's invite", chromedp.Navigate(vicLink), chromedp.WaitVisible(chromedp.CSS(`#invite-for`)))
	if s := text("#invite-for"); !strings.Contains(s, "vic@example.com") || !strings.Contains(s, "Acme Recruiting") || !strings.Contains(s, "viewer") {
		t.Errorf("the invite page says %q, want the email, the account and the role", s)
	}
	if v := read("read the email field", chromedp.Value(chromedp.CSS(`#email`))); v != "vic@example.com" {
		t.Errorf("the invite's email field holds %q, want vic@example.com", v)
	}
	b.shotWidths("invite-page")
	run("vic joins",
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)),
	)
	signOut()

	signIn("ada@example.com", password)
	run("make vic an admin",
		chromedp.Navigate(srv.URL+"/team"),
		chromedp.WaitVisible(chromedp.CSS(vic+`select`)),
		chromedp.SetValue(chromedp.CSS(vic+`select`), "admin"),
		chromedp.Click(chromedp.CSS(vic+`.member-role button`)),
		chromedp.WaitVisible(chromedp.CSS(`p.alert[role="status"]`)),
	)
	if s := text(`p.alert[role="status"]`); !strings.Contains(s, "vic@example.com is now admin.") {
		t.Errorf("after the role change the page says %q", s)
	}
	if v := read("read vic's role", chromedp.Value(chromedp.CSS(vic+`select`))); v != "admin" {
		t.Errorf("vic's role on the team page: got %q, want admin", v)
	}
	b.shotWidths("team-members")

	run("regenerate zed's link",
		chromedp.Click(chromedp.CSS(`#invites form[action$="/regenerate"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#invite-link`)),
	)
	newZed := read("read the new link", chromedp.Value(chromedp.CSS(`#invite-link`)))
	if newZed == zedLink || !strings.Contains(text(`.secret-panel .alert`), "the earlier link no longer works") {
		t.Errorf("the regenerated link: got %q (was %q)", newZed, zedLink)
	}
	b.shotWidths("team-invite-regenerated")
	run("open zed's old link", chromedp.Navigate(zedLink), chromedp.WaitVisible(chromedp.CSS(`#link-notice`)))
	if s := text("#link-notice"); !strings.Contains(s, "canceled") || !strings.Contains(s, "zed@example.com") || b.has(`input[type="password"]`) {
		t.Errorf("the replaced link says %q, with a form: %v", s, b.has(`input[type="password"]`))
	}
	b.shotWidths("invite-replaced")
	run("cancel zed's invite",
		chromedp.Navigate(srv.URL+"/team"),
		chromedp.WaitVisible(chromedp.CSS(`#invites form[action$="/cancel"] button`)),
		chromedp.Click(chromedp.CSS(`#invites form[action$="/cancel"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#invites td.empty`)),
	)
	run("open zed's new link", chromedp.Navigate(newZed), chromedp.WaitVisible(chromedp.CSS(`#link-notice`)))
	if s := text("#link-notice"); !strings.Contains(s, "canceled") {
		t.Errorf("the canceled invite's link says %q", s)
	}

	run("reset vic's password",
		chromedp.Navigate(srv.URL+"/team"),
		chromedp.WaitVisible(chromedp.CSS(vic+`form[action$="/reset"] button`)),
		chromedp.Click(chromedp.CSS(vic+`form[action$="/reset"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#reset-link`)),
	)
	resetLink := read("read the reset link", chromedp.Value(chromedp.CSS(`#reset-link`)))
	b.shotWidths("team-password-reset-link")
	signOut()

	run("open the reset link", chromedp.Navigate(resetLink), chromedp.WaitVisible(chromedp.CSS(`#reset-for`)))
	if s := text("#reset-for"); !strings.Contains(s, "vic@example.com") || !strings.Contains(s, "Acme Recruiting") {
		t.Errorf("the reset page says %q, want vic's email and the account", s)
	}
	b.shotWidths("password-reset")
	run("set the new password",
		chromedp.SendKeys(chromedp.CSS(`#password`), newPassword),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`#reset-done`)),
	)
	b.shotWidths("password-reset-done")
	signIn("vic@example.com", newPassword)
	if h := text(".who"); !strings.Contains(h, "vic@example.com · admin") {
		t.Errorf("after the reset the header says %q, want vic as an admin", h)
	}
	run("open the used reset link", chromedp.Navigate(resetLink), chromedp.WaitVisible(chromedp.CSS(`#link-notice`)))
	if s := text("#link-notice"); !strings.Contains(s, "was used") || b.has(`input[type="password"]`) {
		t.Errorf("the used reset link says %q", s)
	}
}
