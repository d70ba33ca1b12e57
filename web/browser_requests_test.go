package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pihu-ai/pihu"
)

// TestBrowserRequests makes real requests to the API with a key, some let
// through and some refused, then in headless Chromium reads them on the
// key's page, keeps the refused ones with the filter (a plain form), and
// opens the account's Requests page from the header; and the same on a
// phone 375 px wide, where the table scrolls inside its focusable region.
func TestBrowserRequests(t *testing.T) {
	b := startBrowser(t)
	run, read, shot := b.run, b.read, b.shot
	srv, db, authn := startServer(t, serverOptions{usage: true})
	b.signUp(srv.URL)

	acct := memberOf(t, db, "ada@example.com").AccountID
	k, secret, err := pihu.NewKey(acct, pihu.KeyRequest{Name: "Billing service", Permissions: pihu.Permissions{"candidate:read"}, RateLimit: new("3/m")}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	call := func(method, path string, want int) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(`{"name":"A","email":"a@example.com"}`))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d", method, path, res.StatusCode, want)
		}
	}
	call("GET", "/v1/candidates?limit=5", 200)
	call("GET", "/v1/candidates/cand_missing", 404)
	call("POST", "/v1/candidates", 403)
	call("GET", "/v1/candidates", 429)
	if err := authn.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}

	run("the key's page",
		chromedp.Navigate(srv.URL+"/keys/"+k.ID),
		chromedp.WaitVisible(chromedp.CSS(`#requests table`)),
	)
	table := read("read the requests", chromedp.OuterHTML(chromedp.CSS(`#requests`)))
	for _, want := range []string{"GET /v1/candidates", "404 Not Found", "POST /v1/candidates", "Missing permission", "429 Too Many Requests", "Rate limited", "127.0.0.1"} {
		if !strings.Contains(table, want) {
			t.Errorf("the key's requests lack %q", want)
		}
	}
	if strings.Contains(table, "limit=5") {
		t.Errorf("the key's requests show a query string")
	}
	run("refused only",
		chromedp.SetValue(chromedp.CSS(`#req-show`), "refused"),
		chromedp.Click(chromedp.CSS(`#requests form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#requests a.button.ghost`)),
	)
	table = read("read the refused", chromedp.OuterHTML(chromedp.CSS(`#requests tbody`)))
	if strings.Count(table, "<tr") != 2 || strings.Contains(table, "200 OK") {
		t.Errorf("refused only: want the 403 and the 429 alone:\n%s", table)
	}
	run("scroll to the requests", chromedp.ScrollIntoView(chromedp.CSS(`#requests`)))
	shot("key-requests")

	run("the Requests page",
		chromedp.Click(chromedp.CSS(`nav a[href="/requests"]`)),
		chromedp.WaitVisible(chromedp.CSS(`h1`)),
	)
	main := read("read the Requests page", chromedp.OuterHTML(chromedp.CSS("main")))
	if !strings.Contains(main, "Billing service") || strings.Count(main, "GET /v1/candidates") != 3 {
		t.Errorf("the Requests page does not show the key's requests:\n%s", main)
	}
	shot("requests")
	if screenshotDir() != "" {
		run("phone", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`h1`)))
		shot("requests-phone")
		run("laptop", chromedp.EmulateViewport(1280, 860))
	}
}
