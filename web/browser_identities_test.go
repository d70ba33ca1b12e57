package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pihu-ai/pihu"
)

// TestBrowserIdentities creates an identity in headless Chromium, sees a
// key made for it name it on its page, and deletes the identity with its
// keys (ticking "and revoke its keys", accepting the confirmation): the
// key is then refused.
func TestBrowserIdentities(t *testing.T) {
	b := startBrowser(t)
	run, read, shot := b.run, b.read, b.shot
	srv, db, authn := startServer(t, serverOptions{})

	b.signUp(srv.URL)
	for _, idt := range []struct{ ext, limit, meta string }{{"org_globex", "", `{"plan":"free"}`}, {"org_acme", "100/m", `{"plan":"pro","region":"eu"}`}} {
		run("create an identity",
			chromedp.Click(chromedp.CSS(`a[href="/identities"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#external_id`)),
			chromedp.SendKeys(chromedp.CSS(`#external_id`), idt.ext),
			chromedp.SendKeys(chromedp.CSS(`#rate_limit`), idt.limit),
			chromedp.SendKeys(chromedp.CSS(`#metadata`), idt.meta),
			chromedp.Submit(chromedp.CSS(`#external_id`)),
			// The row of this identity: the list showed the last one's
			// before the form was sent.
			chromedp.WaitVisible(`//tr[starts-with(@id, "idt_")]//strong[text()="`+idt.ext+`"]`),
		)
	}
	page := read("read the list", chromedp.OuterHTML(chromedp.CSS("main")))
	for _, want := range []string{"org_acme", "100/m, shared", "org_globex", "region"} {
		if !strings.Contains(page, want) {
			t.Errorf("the identities page does not show %q:\n%s", want, page)
		}
	}
	shot("identities")

	user := memberOf(t, db, "ada@example.com")
	list, _, err := db.ListIdentities(t.Context(), pihu.IdentityFilter{Scope: pihu.Scope{AccountID: user.AccountID, Environment: pihu.Live}, ExternalID: "org_acme"})
	if err != nil || len(list) != 1 {
		t.Fatalf("the store has %v (%v)", list, err)
	}
	k, secret, err := pihu.NewKey(user.AccountID, pihu.KeyRequest{Name: "Acme production", Permissions: pihu.Permissions{"candidate:read"}, IdentityID: list[0].ID}, nil, list[0].Created)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	run("open the key's page",
		chromedp.Navigate(srv.URL+"/keys/"+k.ID),
		chromedp.WaitVisible(chromedp.CSS(`a[href^="/identities"]`)),
	)
	keyPage := read("read the key page", chromedp.OuterHTML(chromedp.CSS("main")))
	for _, want := range []string{"Identity", "org_acme", "shares 100/m with its other keys", "Its identity's, shared"} {
		if !strings.Contains(keyPage, want) {
			t.Errorf("the key page does not show %q:\n%s", want, keyPage)
		}
	}
	shot("key-identity")

	sel := `tr[id="` + list[0].ID + `"] `
	run("delete it with its keys",
		chromedp.Click(chromedp.CSS(`a[href^="/identities"]`)),
		chromedp.WaitVisible(chromedp.CSS(sel+`input[name="revoke_keys"]`)),
		chromedp.Click(chromedp.CSS(sel+`input[name="revoke_keys"]`)),
		chromedp.Click(chromedp.CSS(sel+`button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert.success`)),
	)
	if _, err := authn.Authenticate(t.Context(), secret); pihu.ErrorCode(err) != pihu.ERevokedAPIKey {
		t.Errorf("the key of the deleted identity: got %v, want %s", err, pihu.ERevokedAPIKey)
	}
}
