package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pihu-ai/pihu/client"
	"github.com/pihu-ai/pihu/webhook"
)

// checkWidths saves the page as name.png at 1280 px and, reloaded at 375
// px, as name-375.png (when screenshots are asked for), and fails the test
// if at 375 px the page scrolls sideways, or a region that is not
// focusable does (a keyboard could not reach what it hides). It comes
// back to 1280 px.
func (b *chromium) checkWidths(name, waitFor string) {
	b.t.Helper()
	b.shot(name)
	b.run("375 px "+name, chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(waitFor)))
	overflow := b.read("sideways scrolling of "+name, chromedp.Evaluate[string](`(() => {
		const doc = document.documentElement;
		if (doc.scrollWidth > window.innerWidth) return "the page is " + doc.scrollWidth + " px wide";
		for (const el of document.querySelectorAll("body *")) {
			const x = getComputedStyle(el).overflowX;
			if ((x === "auto" || x === "scroll") && el.scrollWidth > el.clientWidth + 1 && el.tabIndex < 0)
				return "a region that is not focusable scrolls sideways: " + el.tagName.toLowerCase() + "." + el.className;
		}
		return "";
	})()`))
	if overflow != "" {
		b.t.Errorf("%s at 375 px: %s", name, overflow)
	}
	b.shot(name + "-375")
	b.run("1280 px "+name, chromedp.EmulateViewport(1280, 860), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(waitFor)))
}

// TestBrowserWebhookFlows drives the webhook pages in headless Chromium:
// send a test event to a real receiver (which fails it once: "retrying
// (attempt 1 of 20)"), view its payload, resend it (delivered), edit the
// endpoint's URL, events and description, and roll its secret with an
// overlap, the new secret shown once; a delivery then verifies with
// either secret.
func TestBrowserWebhookFlows(t *testing.T) {
	b := startBrowser(t)
	srv, db, _ := startServer(t, serverOptions{webhookLoopback: true})
	var (
		mu       sync.Mutex
		received [][2]string // body, Pihu-Signature
	)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		received = append(received, [2]string{string(body), r.Header.Get("Pihu-Signature")})
		time.Sleep(20 * time.Millisecond)
		if len(received) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // the first delivery fails once
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	verifies := func(secret string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, r := range received {
			if _, err := client.VerifyWebhook([]byte(r[0]), r[1], secret, time.Minute); err == nil {
				n++
			}
		}
		return n
	}
	disp := &webhook.Dispatcher{Store: db, AllowLoopback: true, Backoff: func(int) time.Duration { return time.Hour }}
	deliver := func() {
		t.Helper()
		if _, err := disp.RunOnce(t.Context()); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
	}

	b.signUp(srv.URL)
	b.run("add an endpoint",
		chromedp.Navigate(srv.URL+"/webhooks"),
		chromedp.WaitVisible(chromedp.CSS(`#url`)),
		chromedp.SendKeys(chromedp.CSS(`#url`), rc.URL+"/pihu-events"),
		chromedp.Click(chromedp.CSS(`input[name="events"][value="api_key.revoked"]`)),
		chromedp.SendKeys(chromedp.CSS(`#description`), "Security alerts"),
		chromedp.Submit(chromedp.CSS(`#url`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)),
	)
	secret := b.read("read the secret", chromedp.Value(chromedp.CSS(`#secret`)))
	b.run("open the endpoint", chromedp.Click(chromedp.CSS(`a.button[href^="/webhooks/we_"]`)), chromedp.WaitVisible(chromedp.CSS(`form[action$="/test"] button`)))
	endpoint := b.read("read the endpoint's path", chromedp.Evaluate[string](`location.pathname`))

	// A test event, which the receiver fails once.
	b.run("send a test event",
		chromedp.Click(chromedp.CSS(`form[action$="/test"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert.success`)),
	)
	deliver()
	b.run("see it retrying", chromedp.Navigate(srv.URL+endpoint), chromedp.WaitVisible(chromedp.CSS(`a[href*="/deliveries/whd_"]`)))
	page := b.read("read the endpoint page", chromedp.OuterHTML(chromedp.CSS("main")))
	for _, want := range []string{"webhook.test", "retrying (attempt 1 of 20)", "the endpoint answered 503", " ms)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the endpoint page does not show %q:\n%s", want, page)
		}
	}
	b.checkWidths("webhook-test-event", `a[href*="/deliveries/whd_"]`)

	// Its payload, then a resend, which is delivered.
	b.run("view the payload",
		chromedp.Click(chromedp.CSS(`a[href*="/deliveries/whd_"]`)),
		chromedp.WaitVisible(chromedp.CSS(`pre.payload`)),
	)
	payload := b.read("read the payload", chromedp.Text(chromedp.CSS(`pre.payload`)))
	if !strings.Contains(payload, `"type": "webhook.test"`) || !strings.Contains(payload, `"endpoint_id": "`+strings.TrimPrefix(endpoint, "/webhooks/")+`"`) {
		t.Errorf("the payload shown is %s", payload)
	}
	b.checkWidths("webhook-delivery", `pre.payload`)
	b.run("resend it",
		chromedp.Click(chromedp.CSS(`form[action$="/resend"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert.success`)),
	)
	deliver()
	b.run("see it delivered", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`.alert.success`)))
	page = b.read("read the endpoint page", chromedp.OuterHTML(chromedp.CSS("main")))
	if !strings.Contains(page, "delivered") || !strings.Contains(page, "retrying (attempt 1 of 20)") {
		t.Errorf("the endpoint page does not show the resent delivery delivered beside the first:\n%s", page)
	}
	b.checkWidths("webhook-resend", `.alert.success`)
	if n := verifies(secret); n != 2 {
		t.Errorf("%d deliveries verify with the secret, want 2", n)
	}

	// Edit the URL, events and description.
	b.run("open the edit form",
		chromedp.Click(chromedp.CSS(`details.edit-panel summary`)),
		chromedp.WaitVisible(chromedp.CSS(`details.edit-panel #description`)),
		chromedp.SetValue(chromedp.CSS(`details.edit-panel #url`), rc.URL+"/v2/pihu-events"),
		chromedp.Click(chromedp.CSS(`details.edit-panel input[name="events"][value="api_key.leaked"]`)),
		chromedp.SetValue(chromedp.CSS(`details.edit-panel #description`), "Security alerts (v2)"),
	)
	b.checkWidthsKeepOpen("webhook-edit")
	b.run("save the edit",
		chromedp.Submit(chromedp.CSS(`details.edit-panel #url`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/test"] button`)),
	)
	head := b.read("read the endpoint's head", chromedp.OuterHTML(chromedp.CSS(".page-head")))
	details := b.read("read the endpoint's details", chromedp.OuterHTML(chromedp.CSS("dl.details")))
	if !strings.Contains(head, "/v2/pihu-events") || !strings.Contains(head, "Security alerts (v2)") || !strings.Contains(details, "api_key.leaked") {
		t.Errorf("after the edit the endpoint shows:\n%s\n%s", head, details)
	}

	// Roll the secret, the old one signing for 24 hours more.
	b.run("open the roll page",
		chromedp.Click(chromedp.CSS(`a[href$="/roll"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="expire_old_in"][value="24h"]`)),
	)
	b.checkWidths("webhook-roll", `input[name="expire_old_in"][value="24h"]`)
	b.run("roll it",
		chromedp.Click(chromedp.CSS(`input[name="expire_old_in"][value="24h"]`)),
		chromedp.Click(chromedp.CSS(`form[action$="/roll"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)),
	)
	rolled := b.read("read the new secret", chromedp.Value(chromedp.CSS(`#secret`)))
	if !strings.HasPrefix(rolled, "whsec_") || rolled == secret {
		t.Fatalf("the roll shows %q", rolled)
	}
	b.checkWidthsKeepOpen("webhook-secret-rolled")
	b.run("send another test event",
		chromedp.Navigate(srv.URL+endpoint),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/test"] button`)),
		chromedp.Click(chromedp.CSS(`form[action$="/test"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert.success`)),
	)
	deliver()
	if o, n := verifies(secret), verifies(rolled); o != 3 || n != 1 {
		t.Errorf("during the overlap %d deliveries verify with the old secret and %d with the new; want 3 and 1", o, n)
	}
}

// checkWidthsKeepOpen is checkWidths for a page whose state a reload
// would lose (an open form): it resizes without reloading.
func (b *chromium) checkWidthsKeepOpen(name string) {
	b.t.Helper()
	b.shot(name)
	b.run("375 px "+name, chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile), chromedp.Sleep(200*time.Millisecond))
	if w := b.read("width of "+name, chromedp.Evaluate[string](`String(document.documentElement.scrollWidth)`)); w != "375" {
		b.t.Errorf("%s at 375 px: the page is %s px wide", name, w)
	}
	b.shot(name + "-375")
	b.run("1280 px "+name, chromedp.EmulateViewport(1280, 860), chromedp.Sleep(200*time.Millisecond))
}
