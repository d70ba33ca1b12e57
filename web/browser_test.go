package web_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/sqlite"
)

// findBrowser returns the path of a Chromium-based browser, or "".
func findBrowser() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	return ""
}

// screenshotDir is where the browser test writes its screenshots when
// PIHU_SCREENSHOTS=1, for the README; otherwise it writes none, so that a
// test run leaves the tree as it was.
func screenshotDir() string {
	if os.Getenv("PIHU_SCREENSHOTS") != "1" {
		return ""
	}
	return filepath.Join("..", "docs", "screenshots")
}

// TestBrowser drives the dashboard in headless Chromium as a person would:
// sign up, create a key and read it from the page, use it against the API,
// see it listed without its secret, rotate and revoke it, invite a viewer
// who then cannot create a key, and sign out.
func TestBrowser(t *testing.T) {
	b := startBrowser(t)
	ctx, run, read, shot := b.ctx, b.run, b.read, b.shot

	// The real server: the API with the dashboard at /, on one store.
	srv, db, authn := startServer(t, serverOptions{usage: true})

	text := func(sel string) string {
		t.Helper()
		return read("read "+sel, chromedp.Text(chromedp.CSS(sel)))
	}
	whoami := func(secret string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/v1/auth/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var who struct {
			Key struct{ Name string } `json:"key"`
		}
		json.NewDecoder(res.Body).Decode(&who)
		if res.StatusCode == 200 && who.Key.Name != "Billing service" {
			t.Errorf("whoami: got the key %q, want Billing service", who.Key.Name)
		}
		return res.StatusCode
	}

	// Sign up.
	run("sign up",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/signup"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/signup"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#account_name`)),
		chromedp.SendKeys(chromedp.CSS(`#account_name`), "Acme Recruiting"),
		chromedp.SendKeys(chromedp.CSS(`#email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`a.button.primary[href^="/keys/new"]`)),
	)
	if h := text("h1"); h != "API keys" {
		t.Fatalf("after sign-up: got the page %q, want API keys", h)
	}

	// Two older keys, made at the store, for the list to show its
	// warnings: one past 90 days, one expiring within 7.
	acct := mustAccount(t, db, "ada@example.com")
	for _, old := range []struct {
		name, expiration string
		age              time.Duration
	}{{"Legacy importer", "", 120 * 24 * time.Hour}, {"Partner sandbox", "30d", 26 * 24 * time.Hour}} {
		req := pihu.KeyRequest{Name: old.name, Permissions: pihu.Permissions{"candidate:read", "interview:read"}, Environment: pihu.Live, Expiration: old.expiration}
		k, _, err := pihu.NewKey(acct, req, nil, time.Now().Add(-old.age))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateKey(t.Context(), k); err != nil {
			t.Fatal(err)
		}
	}

	// A test key, so that the live list below has a neighbour to leave
	// out.
	run("create a test key",
		chromedp.Navigate(srv.URL+"/keys/new?env=test"),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "CI pipeline"),
		chromedp.Click(chromedp.CSS(`input[name="permissions"][value="candidate:read"]`)),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)),
	)

	// Create a key and read it from the page.
	run("create a key",
		chromedp.Navigate(srv.URL+"/keys"),
		chromedp.Click(chromedp.CSS(`a.button.primary[href^="/keys/new"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Billing service"),
		chromedp.Click(chromedp.CSS(`input[name="permissions"][value="candidate:read"]`)),
		chromedp.Click(chromedp.CSS(`input[name="permissions"][value="interview:write"]`)),
		chromedp.SendKeys(chromedp.CSS(`#expiration`), "90d"),
		chromedp.SendKeys(chromedp.CSS(`#rate_limit`), "600/m"),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)),
	)
	secret := read("read the key", chromedp.Value(chromedp.CSS(`#secret`)))
	if _, ok := pihu.ParseSecret(secret); !ok || !strings.HasPrefix(secret, "ph_live_") {
		t.Fatalf("the page shows %q, want a live key", secret)
	}
	run("copy", chromedp.Click(chromedp.CSS(`button[data-copy="secret"]`)))
	if !strings.Contains(text(".secret-panel"), "will not be shown again") {
		t.Errorf("the create page does not warn that the key is shown once")
	}
	shot("key-created")

	// Use it against the API.
	if status := whoami(secret); status != 200 {
		t.Fatalf("whoami with the key from the page: got %d, want 200", status)
	}

	// See it listed without its secret, and used.
	if err := authn.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	run("list keys",
		chromedp.Navigate(srv.URL+"/keys"),
		chromedp.WaitVisible(chromedp.CSS(`table.keys`)),
	)
	list := read("read the list", chromedp.OuterHTML(chromedp.CSS("html")))
	if !strings.Contains(list, "Billing service") || !strings.Contains(list, pihu.Hint(secret)) {
		t.Errorf("the keys page does not list the key by name and hint")
	}
	if strings.Contains(list, secret) || strings.Contains(list, "CI pipeline") {
		t.Errorf("the live keys page shows the secret, or a test key")
	}
	shot("keys")
	if screenshotDir() != "" {
		// The same page on a phone.
		run("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(srv.URL+"/keys"), chromedp.WaitVisible(chromedp.CSS(`table.keys`)))
		shot("keys-phone")
		run("laptop", chromedp.EmulateViewport(1280, 860))
	}

	// The key page, with its usage chart.
	id := keyIDRe.FindString(list)
	k, err := db.Key(t.Context(), acct, id)
	if err != nil || k.Name != "Billing service" {
		t.Fatalf("the key listed first: %+v, %v", k, err)
	}
	if err := db.AddUsage(t.Context(), syntheticUsage(id, time.Now()), time.Now()); err != nil {
		t.Fatal(err)
	}
	run("key page",
		chromedp.Navigate(srv.URL+"/keys/"+id),
		chromedp.WaitVisible(chromedp.CSS(`figure.chart svg`)),
	)
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("figure.chart rect.bar-allowed").length`))
	if err != nil {
		t.Fatal(err)
	}
	if bars < 20 {
		t.Errorf("the key page draws %d bars, want the usage of most hours and days", bars)
	}
	shot("key-page")

	// Rotate it, ending the old key now.
	run("rotate",
		chromedp.Click(chromedp.CSS(`a[href$="/rotate"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="expire_old_in"][value="now"]`)),
		chromedp.Click(chromedp.CSS(`input[name="expire_old_in"][value="now"]`)),
		chromedp.Click(chromedp.CSS(`form button[type="submit"].primary`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)),
	)
	next := read("read the new key", chromedp.Value(chromedp.CSS(`#secret`)))
	if next == secret || !strings.HasPrefix(next, "ph_live_") {
		t.Fatalf("after rotating: got %q, want a new key", next)
	}
	if status := whoami(secret); status != 401 {
		t.Errorf("whoami with the rotated key: got %d, want 401", status)
	}
	if status := whoami(next); status != 200 {
		t.Errorf("whoami with its successor: got %d, want 200", status)
	}

	// Revoke the successor.
	run("revoke",
		chromedp.Click(chromedp.CSS(`a[href^="/keys/key_"].button`)), // View the key
		chromedp.WaitVisible(chromedp.CSS(`a[href$="/revoke"]`)),
		chromedp.Click(chromedp.CSS(`a[href$="/revoke"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/revoke"] button`)),
		chromedp.Click(chromedp.CSS(`form[action$="/revoke"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert.success`)),
	)
	if status := whoami(next); status != 401 {
		t.Errorf("whoami with the revoked key: got %d, want 401", status)
	}

	// Invite a viewer.
	run("invite",
		chromedp.Click(chromedp.CSS(`nav a[href="/team"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "vic@example.com"),
		chromedp.SetValue(chromedp.CSS(`#role`), "viewer"),
		chromedp.Submit(chromedp.CSS(`#email`)),
		chromedp.WaitVisible(chromedp.CSS(`#invite-link`)),
	)
	invite := read("read the invite link", chromedp.Value(chromedp.CSS(`#invite-link`)))
	if !strings.HasPrefix(invite, srv.URL+"/invite?token=") {
		t.Fatalf("invite link: got %q", invite)
	}

	// Sign out, and join as the viewer.
	run("sign out",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
	)
	run("join",
		chromedp.Navigate(invite),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`table.keys`)),
	)
	viewerList := read("viewer's keys", chromedp.OuterHTML(chromedp.CSS("main")))
	if strings.Contains(viewerList, "Create key") {
		t.Errorf("the viewer is offered to create a key")
	}
	// The form is refused though the viewer reaches it, and a POST made
	// by hand from the page is refused too.
	run("viewer opens the form",
		chromedp.Navigate(srv.URL+"/keys/new"),
		chromedp.WaitVisible(chromedp.CSS(`.status-code`)),
	)
	if s := text(".status-code"); s != "403" {
		t.Errorf("the viewer's create form: got %s, want 403", s)
	}
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/keys", {method: "POST", body: new URLSearchParams({name: "Mine", permissions: "*", environment: "live"})}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if status != 403 {
		t.Errorf("the viewer's POST /keys: got %d, want 403", status)
	}
	keys, _, _ := db.ListKeys(t.Context(), pihu.KeyFilter{AccountID: k.AccountID, Limit: 10})
	if len(keys) != 3 { // the two old ones and the test key; Billing's are revoked
		t.Errorf("keys: got %d, want 3", len(keys))
	}

	run("viewer signs out",
		chromedp.Navigate(srv.URL+"/keys"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
		chromedp.Navigate(srv.URL+"/keys"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
	)
}

// syntheticUsage is a plausible month of traffic for key id, for the
// chart: a daily rhythm, a few refusals.
func syntheticUsage(id string, now time.Time) []pihu.UsageCount {
	var out []pihu.UsageCount
	end := now.UTC().Truncate(time.Hour)
	for h := 0; h < 30*24; h++ {
		hour := end.Add(-time.Duration(h) * time.Hour)
		base := int64(120 + 80*((hour.Hour()+6)%24)/12 + (h*37)%50)
		if hour.Weekday() == time.Saturday || hour.Weekday() == time.Sunday {
			base /= 3
		}
		rl, perm := int64((h*13)%9), int64(h%4/3)
		out = append(out, pihu.UsageCount{KeyID: id, Hour: hour, Allowed: base, Refused: rl + perm,
			By: pihu.Refusals{pihu.RefusalRateLimit: rl, pihu.RefusalPermission: perm}})
	}
	return out
}

func mustAccount(tb testing.TB, db *sqlite.DB, email string) string {
	tb.Helper()
	return memberOf(tb, db, email).AccountID
}
