package web_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pihu-ai/pihu"
)

// TestBrowserKeySearch searches the keys page in headless Chromium as a
// person would: types a name prefix, picks a status and a role, submits
// the form (no script involved), and sees only the keys that match, with
// the search kept in the URL and in the form; then lists the revoked
// keys, and shows the same search on a phone 375 px wide.
func TestBrowserKeySearch(t *testing.T) {
	b := startBrowser(t)
	run, read, shot := b.run, b.read, b.shot
	srv, db, _ := startServer(t, serverOptions{})

	b.signUp(srv.URL)
	// The account's keys and roles, made straight in the store.
	acct := memberOf(t, db, "ada@example.com").AccountID
	admin := &pihu.Key{AccountID: acct, Environment: pihu.Live, Permissions: pihu.Permissions{"*"}}
	roles := map[string]*pihu.KeyRole{}
	for name, perms := range map[string]pihu.Permissions{"support": {"candidate:read", "interview:read"}, "billing": {"webhook:read"}} {
		r, err := pihu.NewKeyRole(acct, pihu.RoleRequest{Name: name, Permissions: perms}, admin, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateRole(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		roles[name] = r
	}
	accountRoles := []*pihu.KeyRole{roles["support"], roles["billing"]}
	ids := map[string]string{}
	for _, k := range []struct {
		name  string
		perms pihu.Permissions
		role  string
		state string
	}{
		{"web-checkout (old)", pihu.Permissions{"candidate:read"}, "support", "revoked"},
		{"batch-reports", pihu.Permissions{"interview:read"}, "", ""},
		{"web-frontend", pihu.Permissions{"candidate:read"}, "support", ""},
		{"web-admin", pihu.Permissions{"api_key:read"}, "billing", ""},
		{"web-checkout", nil, "support", ""},
		{"web-preview", pihu.Permissions{"candidate:read"}, "support", "disabled"},
	} {
		req := pihu.KeyRequest{Name: k.name, Permissions: k.perms, AccountRoles: accountRoles}
		if k.role != "" {
			req.Roles = []string{roles[k.role].ID}
		}
		key, _, err := pihu.NewKey(acct, req, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		key.Disabled = k.state == "disabled"
		if err := db.CreateKey(t.Context(), key); err != nil {
			t.Fatal(err)
		}
		if k.state == "revoked" {
			if _, err := db.RevokeKey(t.Context(), acct, key.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		ids[k.name] = key.ID
	}

	run("search",
		chromedp.Navigate(srv.URL+"/keys"),
		chromedp.WaitVisible(chromedp.CSS(`#name_prefix`)),
		chromedp.SendKeys(chromedp.CSS(`#name_prefix`), "web-"),
		chromedp.SetValue(chromedp.CSS(`#status`), "enabled"),
		chromedp.SetValue(chromedp.CSS(`#role`), roles["support"].ID),
		chromedp.Click(chromedp.CSS(`form.key-search button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form.key-search a.button.ghost`)), // Clear: the search is on
	)
	loc := read("read the URL", chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); q.Get("name_prefix") != "web-" || q.Get("status") != "enabled" || q.Get("role") != roles["support"].ID || q.Get("env") != "live" {
		t.Errorf("the search's URL is %s, want the filters in it", loc)
	}
	main := read("read the list", chromedp.OuterHTML(chromedp.CSS("main")))
	for name, id := range ids {
		want := name == "web-frontend" || name == "web-checkout"
		if strings.Contains(main, `href="/keys/`+id+`"`) != want {
			t.Errorf("the search lists %q: %t, want %t", name, !want, want)
		}
	}
	if v := read("read the search box", chromedp.Value(chromedp.CSS(`#name_prefix`))); v != "web-" {
		t.Errorf("the search box holds %q after the search, want web-", v)
	}
	shot("keys-search")
	if screenshotDir() != "" {
		run("phone", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#name_prefix`)))
		shot("keys-search-phone")
		run("laptop", chromedp.EmulateViewport(1280, 860))
	}

	run("list the revoked keys",
		chromedp.SetValue(chromedp.CSS(`#status`), "revoked"),
		chromedp.SetValue(chromedp.CSS(`#role`), ""),
		chromedp.Click(chromedp.CSS(`form.key-search button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.badge.revoked`)),
	)
	main = read("read the revoked list", chromedp.OuterHTML(chromedp.CSS("main")))
	if !strings.Contains(main, ids["web-checkout (old)"]) || strings.Contains(main, ids["web-checkout"]) {
		t.Errorf("the revoked list does not list the revoked key alone:\n%s", main)
	}
	run("clear", chromedp.Click(chromedp.CSS(`form.key-search a.button.ghost`)), chromedp.WaitVisible(chromedp.CSS(`#name_prefix`)))
	main = read("read the whole list", chromedp.OuterHTML(chromedp.CSS("main")))
	if !strings.Contains(main, ids["batch-reports"]) || !strings.Contains(main, ids["web-preview"]) || strings.Contains(main, ids["web-checkout (old)"]) {
		t.Errorf("after Clear, the list is not every unrevoked key:\n%s", main)
	}
}
