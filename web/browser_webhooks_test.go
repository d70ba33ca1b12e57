package web_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pihu-ai/pihu"
)

// TestBrowserWebhooks adds a webhook endpoint in headless Chromium, reads
// its secret from the page, sees a key's creation queued for it, and
// disables and deletes it (accepting the confirmation). On the way it
// opens the page of a key with credits and metadata (set as a PATCH
// would), which shows both.
func TestBrowserWebhooks(t *testing.T) {
	b := startBrowser(t)
	run, read, shot := b.run, b.read, b.shot
	srv, db, _ := startServer(t, serverOptions{})

	b.signUp(srv.URL)
	run("add an endpoint",
		chromedp.Click(chromedp.CSS(`a[href="/webhooks"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#url`)),
		chromedp.SendKeys(chromedp.CSS(`#url`), "https://example.com/pihu-events"),
		chromedp.Click(chromedp.CSS(`input[name="events"][value="api_key.created"]`)),
		chromedp.Click(chromedp.CSS(`input[name="events"][value="api_key.leaked"]`)),
		chromedp.SendKeys(chromedp.CSS(`#description`), "Security alerts"),
		chromedp.Submit(chromedp.CSS(`#url`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)),
	)
	secret := read("read the secret", chromedp.Value(chromedp.CSS(`#secret`)))
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the created page shows %q, want a whsec_ secret", secret)
	}
	run("create a key",
		chromedp.Navigate(srv.URL+"/keys/new"),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Billing service"),
		chromedp.Click(chromedp.CSS(`input[name="permissions"][value="candidate:read"]`)),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)),
	)
	run("open the key",
		chromedp.Navigate(srv.URL+"/keys"),
		chromedp.WaitVisible(chromedp.CSS(`a[href^="/keys/key_"]`)),
	)
	href := read("read the key's link", chromedp.Evaluate[string](`document.querySelector('a[href^="/keys/key_"]').getAttribute("href")`))
	user := memberOf(t, db, "ada@example.com")
	keys, _, err := db.ListKeys(t.Context(), pihu.KeyFilter{AccountID: user.AccountID, Limit: 1})
	if err != nil || len(keys) != 1 || href != "/keys/"+keys[0].ID {
		t.Fatalf("the list links %q; the store has %v (%v)", href, keys, err)
	}
	if _, err := db.UpdateKey(t.Context(), pihu.KeyUpdate{AccountID: keys[0].AccountID, ID: keys[0].ID, Apply: func(k *pihu.Key) error {
		k.Metadata = json.RawMessage(`{"plan":"scale","tenant":"acme-eu"}`)
		k.Credits = &pihu.Credits{Remaining: 940, Refill: &pihu.Refill{Interval: pihu.RefillMonthly, Amount: 1000, Day: 1}, Refilled: k.Created}
		return nil
	}}); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	run("open the key's page",
		chromedp.Navigate(srv.URL+href),
		chromedp.WaitVisible(chromedp.CSS(`pre.metadata`)),
	)
	keyPage := read("read the key page", chromedp.OuterHTML(chromedp.CSS("main")))
	for _, want := range []string{"Credits", "940", "refilled to 1000", "on day 1 of every month", "tenant", "acme-eu"} {
		if !strings.Contains(keyPage, want) {
			t.Errorf("the key page does not show %q:\n%s", want, keyPage)
		}
	}
	shot("key-credits")
	run("open the endpoint",
		chromedp.Navigate(srv.URL+"/webhooks"),
		chromedp.WaitVisible(chromedp.CSS(`a[href^="/webhooks/we_"]`)),
		chromedp.Click(chromedp.CSS(`a[href^="/webhooks/we_"]`)),
		chromedp.WaitVisible(chromedp.CSS(`h2`)),
	)
	page := read("read the endpoint page", chromedp.OuterHTML(chromedp.CSS("main")))
	if !strings.Contains(page, "api_key.created") || !strings.Contains(page, "pending") || strings.Contains(page, secret) {
		t.Errorf("the endpoint page does not show the queued delivery, or shows the secret:\n%s", page)
	}
	shot("webhook-endpoint")
	run("disable it",
		chromedp.Click(chromedp.CSS(`form[action$="/enabled"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/enabled"] button.primary`)),
	)
	run("delete it",
		chromedp.Click(chromedp.CSS(`a.button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-confirm] button`)),
		chromedp.Click(chromedp.CSS(`form[data-confirm] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.empty`)),
	)
}
