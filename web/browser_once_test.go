package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/web"
)

// shotBoth saves the page as name.png at the desktop width and, after
// reloading it at a phone's, as name-phone.png, when screenshots are
// asked for; it comes back to the desktop width.
func (b *chromium) shotBoth(name, waitFor string) {
	b.t.Helper()
	if screenshotDir() == "" {
		b.checkA11y(name) // at both widths, without screenshots
		return
	}
	b.shot(name)
	b.run("phone "+name, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(waitFor)))
	b.shot(name + "-phone")
	b.run("laptop "+name, chromedp.EmulateViewport(1280, 860), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(waitFor)))
}

// has reports whether the page has an element matching sel.
func (b *chromium) has(sel string) bool {
	b.t.Helper()
	ok, err := b.lookFor(sel)
	if err != nil {
		b.t.Fatalf("looking for %s: %v", sel, err)
	}
	return ok
}

// lookFor looks for an element matching sel, by script.
func (b *chromium) lookFor(sel string) (bool, error) {
	return chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.querySelector(`+jsString(sel)+`) !== null`))
}

// waitFor waits up to 10 s for an element matching sel, by script, which
// works on a page restored from the back/forward cache too; a look that
// fails while the page navigates is tried again.
func (b *chromium) waitFor(sel string) {
	b.t.Helper()
	for range 100 {
		if ok, err := b.lookFor(sel); ok && err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("no %s on the page after 10 s", sel)
}

// jsString quotes s for a script.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// TestBrowserFirstVisit: before the first start's owner has set up, the
// front page says where the setup link is and offers sign-up as a new,
// separate account; the setup link works once, and opened again says it
// was used, with no form; the notice is then gone. An expired invite link
// says so with no form.
func TestBrowserFirstVisit(t *testing.T) {
	b := startBrowser(t)
	d := newDashboard(t)
	token, _ := firstStart(t, d)
	text := func(sel string) string {
		t.Helper()
		return b.read("read "+sel, chromedp.Text(chromedp.CSS(sel)))
	}

	b.run("front page", chromedp.Navigate(d.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#setup-notice`)))
	if s := text("#setup-notice"); !strings.Contains(s, "setup link") || !strings.Contains(s, "beside its SQLite database") || !strings.Contains(s, "log") {
		t.Errorf("the setup notice says %q", s)
	}
	if s := text(`a[href="/signup"]`); s != "Create a new, separate account" {
		t.Errorf("the sign-up link says %q, want it to say it makes a new, separate account", s)
	}
	b.shotBoth("first-visit", `#setup-notice`)
	b.run("sign-up page", chromedp.Click(chromedp.CSS(`a[href="/signup"]`)), chromedp.WaitVisible(chromedp.CSS(`#account_name`)))
	if h := text("h1"); h != "Create a new, separate account" || !b.has(`#setup-notice`) {
		t.Errorf("the sign-up page: got %q, want a new, separate account under the setup notice", h)
	}

	b.run("set up",
		chromedp.Navigate(d.URL+web.SetupPath(token)),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "ops@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`table.keys`)),
	)
	b.run("the setup link again", chromedp.Navigate(d.URL+web.SetupPath(token)), chromedp.WaitVisible(chromedp.CSS(`#link-notice`)))
	if s := text("#link-notice"); !strings.Contains(s, "was used") || b.has(`form[action="/setup"]`) || b.has(`input[type="password"]`) {
		t.Errorf("the used setup link: got %q, with a form: %v", s, b.has(`form[action="/setup"]`))
	}
	b.shotBoth("setup-link-used", `#link-notice`)

	// An invite, expired before it is opened.
	b.run("invite",
		chromedp.Navigate(d.URL+"/team"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "vic@example.com"),
		chromedp.Submit(chromedp.CSS(`#email`)),
		chromedp.WaitVisible(chromedp.CSS(`#invite-link`)),
	)
	invite := b.read("read the invite link", chromedp.Value(chromedp.CSS(`#invite-link`)))
	b.run("sign out",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
	)
	if b.has(`#setup-notice`) {
		t.Errorf("the sign-in page still shows the setup notice after setup")
	}
	d.Clock.Add(web.LinkLifetime)
	b.run("expired invite", chromedp.Navigate(invite), chromedp.WaitVisible(chromedp.CSS(`#link-notice`)))
	if s := text("#link-notice"); !strings.Contains(s, "expired") || b.has(`form[action="/invite"]`) || b.has(`input[type="password"]`) {
		t.Errorf("the expired invite link: got %q, with a form: %v", s, b.has(`form[action="/invite"]`))
	}
}

// TestBrowserSecretOnce: the page after "Create key" shows the secret;
// reloading it creates no second key and shows no secret, Back goes to the
// form with no resubmission, and Forward shows the secret no more.
func TestBrowserSecretOnce(t *testing.T) {
	b := startBrowser(t)
	d := newDashboard(t)
	keys := func() int {
		t.Helper()
		return countKeys(t, d, "ada@example.com")
	}
	b.run("sign up",
		chromedp.Navigate(d.URL+"/signup"),
		chromedp.WaitVisible(chromedp.CSS(`#account_name`)),
		chromedp.SendKeys(chromedp.CSS(`#account_name`), "Acme Recruiting"),
		chromedp.SendKeys(chromedp.CSS(`#email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`table.keys`)),
	)
	b.run("create a key",
		chromedp.Navigate(d.URL+"/keys/new"),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Billing service"),
		chromedp.Click(chromedp.CSS(`input[name="permissions"][value="candidate:read"]`)),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)),
	)
	secret := b.read("read the key", chromedp.Value(chromedp.CSS(`#secret`)))
	if _, ok := pihu.ParseSecret(secret); !ok {
		t.Fatalf("the page shows %q, want a key", secret)
	}
	page := b.read("the secret page's address", chromedp.Location())
	if strings.Contains(page, secret) || !strings.Contains(page, "/secret/") {
		t.Errorf("the secret page's address: got %q", page)
	}
	if n := keys(); n != 1 {
		t.Fatalf("keys: got %d, want 1", n)
	}

	// Away to the key's page and Back: the browser must not bring the
	// secret back from its memory.
	b.run("view the key", chromedp.Click(chromedp.CSS(`a.button[href^="/keys/key_"]`)), chromedp.WaitVisible(chromedp.CSS(`dl.details`)))
	b.run("back to the secret", chromedp.Evaluate[chromedp.Void](`history.back()`))
	b.waitFor(`main .shown-once`)
	if b.has(`#secret`) {
		t.Errorf("Back to the secret's page shows the secret again")
	}
	b.run("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`main .shown-once`)))
	if b.has(`#secret`) || strings.Contains(b.read("read the page", chromedp.OuterHTML(chromedp.CSS("html"))), secret) {
		t.Errorf("the reloaded page shows the secret")
	}
	if s := b.read("read the notice", chromedp.Text(chromedp.CSS(`main .alert.warning`))); !strings.Contains(s, "was shown once") {
		t.Errorf("the reloaded page says %q, want that the secret was shown once", s)
	}
	if !b.has(`a[href^="/keys/key_"]`) {
		t.Errorf("the reloaded page has no link to the key")
	}
	if n := keys(); n != 1 {
		t.Errorf("keys after the reload: got %d, want 1", n)
	}
	b.shotBoth("secret-shown-once", `main .shown-once`)

	// history.back(), as the button does, and a script looks for the
	// page: chromedp's NavigateBack and its DOM queries wait for events
	// that a page restored from the back/forward cache does not send.
	b.run("back", chromedp.Evaluate[chromedp.Void](`history.back()`))
	b.waitFor(`#name`)
	if at := b.read("where Back went", chromedp.Location()); !strings.HasSuffix(at, "/keys/new") {
		t.Errorf("Back went to %q, want the form at /keys/new", at)
	}
	if n := keys(); n != 1 {
		t.Errorf("keys after Back: got %d, want 1", n)
	}
	b.run("forward", chromedp.Evaluate[chromedp.Void](`history.forward()`))
	b.waitFor(`main .shown-once`)
	if b.has(`#secret`) {
		t.Errorf("Forward shows the secret again")
	}
	if n := keys(); n != 1 {
		t.Errorf("keys after Forward: got %d, want 1", n)
	}
}
