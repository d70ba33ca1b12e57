package web_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/pihu-ai/pihu"
)

// axeDir holds the pinned axe-core (package.json and package-lock.json);
// .ci/run installs it with npm ci --ignore-scripts before the tests.
var axeDir = filepath.Join("testdata", "axe")

var axeSource = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile(filepath.Join(axeDir, "node_modules", "axe-core", "axe.min.js"))
	return string(b), err
})

// axeRun runs axe-core on the page and returns its serious and critical
// violations as JSON, each with the elements it found.
const axeRun = `(async () => {
	const r = await axe.run(document, {resultTypes: ["violations"]});
	return JSON.stringify(r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({
		id: v.id, impact: v.impact, help: v.help,
		nodes: v.nodes.map(n => n.target.join(" ") + ": " + (n.failureSummary || "").replace(/\s+/g, " ")),
	})));
})()`

// sidewaysScroll says what scrolls sideways on the page: the page itself,
// or a region a keyboard cannot reach (one that is not focusable, or
// focusable without a role of region and a name); "" when nothing does.
const sidewaysScroll = `(() => {
	const doc = document.documentElement;
	if (doc.scrollWidth > window.innerWidth) {
		let widest = "";
		for (const el of document.querySelectorAll("body *")) {
			const r = el.getBoundingClientRect();
			if (r.right > window.innerWidth + 1 && getComputedStyle(el).position !== "absolute") { widest = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().replace(/\s+/g, ".") : ""); }
		}
		return "the page is " + doc.scrollWidth + " px wide (" + widest + " reaches past the edge)";
	}
	for (const el of document.querySelectorAll("body *")) {
		const x = getComputedStyle(el).overflowX;
		if ((x === "auto" || x === "scroll") && el.scrollWidth > el.clientWidth + 1) {
			const name = el.tagName.toLowerCase() + "." + el.className;
			if (el.tabIndex < 0) return "a region that is not focusable scrolls sideways: " + name;
			if (el.getAttribute("role") !== "region" || !(el.getAttribute("aria-label") || el.getAttribute("aria-labelledby"))) return "a focusable region without role=region and a name scrolls sideways: " + name;
		}
	}
	return "";
})()`

// contrastScript defines contrast(a, b), the WCAG contrast ratio of two
// CSS colours given as rgb(…).
const contrastScript = `function contrast(a, b) {
	const lum = c => {
		const [r, g, b] = c.match(/[\d.]+/g).slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
		return 0.2126 * r + 0.7152 * g + 0.0722 * b;
	};
	const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
	return (x + 0.05) / (y + 0.05);
}`

// axeViolation is one of axe-core's findings.
type axeViolation struct {
	ID, Impact, Help string
	Nodes            []string
}

// checkA11y runs axe-core on the page as it is, and fails the test on any
// serious or critical violation, printing them. At the desktop width (the
// browser's own, 1280 px) it also checks the page at 375 px and that at
// 320 px nothing scrolls sideways except inside a focusable region, then
// comes back to 1280 px, without reloading (a page answering a POST, or a
// form being filled, stays as it is). Without axe-core installed it fails
// under CI (PIHU_CI set, as .ci/run does) and otherwise says once that it
// did not check.
func (b *chromium) checkA11y(name string) {
	b.t.Helper()
	src, err := axeSource()
	if err != nil {
		if os.Getenv("PIHU_CI") != "" {
			b.t.Fatalf("axe-core is not installed (%v): run npm ci --ignore-scripts in web/testdata/axe", err)
		}
		if !b.axeMissingSaid {
			b.axeMissingSaid = true
			b.t.Logf("accessibility not checked: axe-core is not installed (run npm ci --ignore-scripts in web/testdata/axe)")
		}
		return
	}
	width := b.read("width of "+name, chromedp.Evaluate[string](`String(window.innerWidth)`))
	b.axe(name+" at "+width+" px", src)
	if width != "1280" {
		return
	}
	b.run("375 px "+name, chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile), chromedp.Sleep(100*time.Millisecond))
	b.axe(name+" at 375 px", src)
	b.run("320 px "+name, chromedp.EmulateViewport(320, 640, chromedp.EmulateMobile), chromedp.Sleep(100*time.Millisecond))
	if s := b.read("sideways scrolling of "+name, chromedp.Evaluate[string](sidewaysScroll)); s != "" {
		b.t.Errorf("%s at 320 px: %s", name, s)
	}
	b.run("1280 px "+name, chromedp.EmulateViewport(1280, 860), chromedp.Sleep(100*time.Millisecond))
}

// shotWide saves the page as name.png at 1280 px and name-375.png at
// 375 px, without reloading it, checking it at each (shot), when
// screenshots are asked for; it comes back to 1280 px.
func (b *chromium) shotWide(name string) {
	b.t.Helper()
	if screenshotDir() == "" {
		b.checkA11y(name) // at both widths, without screenshots
		return
	}
	b.shot(name)
	b.run("375 px "+name, chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile), chromedp.Sleep(150*time.Millisecond))
	b.shot(name + "-375")
	b.run("1280 px "+name, chromedp.EmulateViewport(1280, 860), chromedp.Sleep(100*time.Millisecond))
}

// axe injects axe-core into the page, once, and runs it.
func (b *chromium) axe(step, src string) {
	b.t.Helper()
	if b.read("axe-core in "+step, chromedp.Evaluate[string](`typeof window.axe`)) != "object" {
		b.run("inject axe-core in "+step, chromedp.Evaluate[chromedp.Void](src))
	}
	out := b.read("axe-core on "+step, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		b.t.Fatalf("axe-core on %s: %v in %q", step, err, out)
	}
	if len(vs) == 0 {
		return
	}
	var s strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&s, "\n  %s (%s): %s", v.ID, v.Impact, v.Help)
		for _, n := range v.Nodes {
			fmt.Fprintf(&s, "\n    %s", n)
		}
	}
	b.t.Errorf("axe-core: %d serious or critical violations on %s:%s", len(vs), step, s.String())
}

// TestAxeFinds: the accessibility check finds what it is for: text of too
// little contrast, a page wider than a phone, and a table scrolling
// sideways in a region a keyboard cannot reach.
func TestAxeFinds(t *testing.T) {
	if _, err := axeSource(); err != nil && os.Getenv("PIHU_CI") == "" {
		t.Skipf("axe-core is not installed (run npm ci --ignore-scripts in web/testdata/axe): %v", err)
	}
	b := startBrowser(t)
	page := `<!doctype html><html lang="en"><head><title>t</title><meta name="viewport" content="width=device-width"></head><body><main>` +
		`<p style="color:#aaa;background:#fff">Too faint</p>` +
		`<div style="overflow-x:auto"><table><tr><td style="white-space:nowrap">` + strings.Repeat("wide ", 100) + `</td></tr></table></div>` +
		`</main></body></html>`
	b.run("open", chromedp.Navigate("data:text/html,"+url.PathEscape(page)), chromedp.WaitVisible(chromedp.CSS(`p`)))
	src, err := axeSource()
	if err != nil {
		t.Fatal(err)
	}
	b.run("inject", chromedp.Evaluate[chromedp.Void](src))
	out := b.read("axe", chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
	if !strings.Contains(out, `"color-contrast"`) {
		t.Errorf("axe-core on faint text: %s, want color-contrast", out)
	}
	if s := b.read("sideways", chromedp.Evaluate[string](sidewaysScroll)); !strings.Contains(s, "not focusable") {
		t.Errorf("a table scrolling in a plain div: %q, want it named as not focusable", s)
	}
}

// TestBrowserAccessibility visits every page of the dashboard, in the
// states a person meets them (empty and filled, a form with its errors,
// a rotating key, a test key), and checks each at 1280 and 375 px with
// axe-core and for sideways scrolling at 320 px (checkA11y).
func TestBrowserAccessibility(t *testing.T) {
	b := startBrowserFor(t, 4*time.Minute)
	srv, db, _ := startServer(t, serverOptions{usage: true, webhookLoopback: true})
	visit := func(name, path, waitFor string) {
		t.Helper()
		b.run("open "+name, chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(chromedp.CSS(waitFor)))
		b.checkA11y(name)
	}

	visit("sign in", "/login", `form[action="/login"]`)
	b.run("sign in wrongly",
		chromedp.SendKeys(chromedp.CSS(`#email`), "nobody@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "wrong password here"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert.error`)))
	if f := b.read("focus", chromedp.Evaluate[string](`document.activeElement.className`)); f != "alert error" {
		t.Errorf("a refused sign-in: focus on %q, want the message saying why", f)
	}
	b.checkA11y("sign in refused")
	visit("sign up", "/signup", `#account_name`)
	b.signUp(srv.URL)
	b.checkA11y("keys, empty")

	visit("new key", "/keys/new", `#name`)
	b.run("apply a preset",
		chromedp.WaitVisible(chromedp.CSS(`#preset`)),
		chromedp.Click(chromedp.CSS(`input[name="permissions"][value="interview:read"]`)),
		chromedp.SetValue(chromedp.CSS(`#preset`), "candidate:read candidate:write"),
		chromedp.Click(chromedp.CSS(`button[data-apply-preset]`)),
	)
	ticked := b.read("ticked", chromedp.Evaluate[string](`[...document.querySelectorAll('input[name="permissions"]:checked')].map(e => e.value).join(" ")`))
	if ticked != "candidate:read candidate:write" {
		t.Errorf("after the preset full access to candidate: %q ticked", ticked)
	}
	b.shotWide("key-new-presets")
	b.run("back to no permission", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('input[name="permissions"]').forEach(e => e.checked = false)`))
	b.run("new key with errors", chromedp.Submit(chromedp.CSS(`#name`)), chromedp.WaitVisible(chromedp.CSS(`.field-error`)))
	b.checkA11y("new key with errors")
	b.run("create a key",
		chromedp.SendKeys(chromedp.CSS(`#name`), "Billing service"),
		chromedp.Click(chromedp.CSS(`input[name="permissions"][value="candidate:read"]`)),
		chromedp.SendKeys(chromedp.CSS(`#rate_limit`), "600/m"),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)))
	b.checkA11y("key created")
	visit("new test key", "/keys/new?env=test", `#name`)
	b.run("create a test key",
		chromedp.SendKeys(chromedp.CSS(`#name`), "CI pipeline"),
		chromedp.Click(chromedp.CSS(`input[name="permissions"][value="candidate:read"]`)),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)))
	b.checkA11y("test key created")
	visit("test keys", "/keys?env=test", `table.keys`)

	acct := mustAccount(t, db, "ada@example.com")
	visit("keys", "/keys", `table.keys`)
	list := b.read("the list", chromedp.OuterHTML(chromedp.CSS("main")))
	id := keyIDRe.FindString(list)
	if err := db.AddUsage(t.Context(), syntheticUsage(id, time.Now()), time.Now()); err != nil {
		t.Fatal(err)
	}
	visit("key page", "/keys/"+id, `figure.chart svg`)
	// What axe-core leaves to people: an input's border against the page
	// (3:1) and the charts' axis text (4.5:1).
	contrasts := b.read("contrasts", chromedp.Evaluate[string](contrastScript+`
		(() => {
			const input = document.createElement("input");
			input.type = "text";
			document.querySelector("main").append(input);
			const border = contrast(getComputedStyle(input).borderTopColor, "rgb(255, 255, 255)");
			input.remove();
			const axis = contrast(getComputedStyle(document.querySelector("figure.chart .axis")).fill, "rgb(255, 255, 255)");
			return border.toFixed(2) + " " + axis.toFixed(2);
		})()`))
	var border, axis float64
	if _, err := fmt.Sscan(contrasts, &border, &axis); err != nil || border < 3 || axis < 4.5 {
		t.Errorf("contrasts: input border %.2f:1 (want 3:1), chart axis text %.2f:1 (want 4.5:1) (%v)", border, axis, err)
	}
	visit("edit key", "/keys/"+id+"/edit", `#name`)
	visit("revoke key", "/keys/"+id+"/revoke", `form[action$="/revoke"] button`)
	visit("rotate key", "/keys/"+id+"/rotate", `input[name="expire_old_in"]`)
	b.run("rotate with a grace period",
		chromedp.Click(chromedp.CSS(`input[name="expire_old_in"][value="24h"]`)),
		chromedp.Click(chromedp.CSS(`form button[type="submit"].primary`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)))
	b.checkA11y("key rotated")
	visit("keys, one rotating", "/keys", `table.keys`)
	if n := b.read("rows", chromedp.Evaluate[string](`String(document.querySelectorAll("table.keys a.strong").length)`)); n != "1" {
		t.Errorf("the keys page lists %s keys, want 1: the rotating pair as one row", n)
	}
	if s := b.read("the pair", chromedp.Text(chromedp.CSS(`.rotating-note`))); !strings.Contains(s, "Old key Billing service stops at") {
		t.Errorf("the rotating pair's row says %q", s)
	}
	b.shotWide("keys-rotating")
	visit("rotating key page", "/keys/"+id, `h1`)
	visit("keys, searched", "/keys?name_prefix=Bill", `table.keys`)
	_ = acct

	visit("permissions", "/permissions", `form[action="/permissions"]`)
	b.run("define a permission",
		chromedp.SendKeys(chromedp.CSS(`#name`), "billing:read"),
		chromedp.SendKeys(chromedp.CSS(`#description`), "Read invoices"),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/permissions/billing:read/delete"]`)))
	b.checkA11y("permissions, one defined")
	visit("roles", "/roles", `form[action="/roles"] #name`)
	b.run("create a role",
		chromedp.SendKeys(chromedp.CSS(`form[action="/roles"] #name`), "Support"),
		chromedp.Click(chromedp.CSS(`form[action="/roles"] input[name="permissions"][value="candidate:read"]`)),
		chromedp.Submit(chromedp.CSS(`form[action="/roles"] #name`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action^="/roles/role_"]`)))
	b.checkA11y("role page")
	visit("roles, one made", "/roles", `a[href^="/roles/role_"]`)
	visit("identities", "/identities", `#external_id`)
	b.run("create an identity",
		chromedp.SendKeys(chromedp.CSS(`#external_id`), "org_acme"),
		chromedp.Submit(chromedp.CSS(`#external_id`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action^="/identities/"]`)))
	b.checkA11y("identities, one made")

	visit("webhooks", "/webhooks", `#url`)
	b.run("add an endpoint with errors", chromedp.Submit(chromedp.CSS(`#url`)), chromedp.WaitVisible(chromedp.CSS(`.field-error`)))
	b.checkA11y("webhooks, a form with errors")
	b.run("add an endpoint",
		chromedp.SendKeys(chromedp.CSS(`#url`), "https://example.com/pihu-events"),
		chromedp.Click(chromedp.CSS(`input[name="events"]`)),
		chromedp.Submit(chromedp.CSS(`#url`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)))
	if f := b.read("focus", chromedp.Evaluate[string](`document.activeElement.id`)); f != "secret-heading" {
		t.Errorf("the new signing secret's page: focus on %q, want its heading", f)
	}
	b.checkA11y("webhook created")
	visit("webhooks, one endpoint", "/webhooks", `a[href^="/webhooks/"]`)
	hook := b.read("the endpoint", chromedp.Evaluate[string](`document.querySelector("main a[href^=\"/webhooks/we_\"]").getAttribute("href")`))
	visit("webhook", hook, `h1`)
	visit("webhook roll", hook+"/roll", `form[action$="/roll"]`)
	visit("webhook delete", hook+"/delete", `form[action$="/delete"]`)

	visit("team", "/team", `#email`)
	visit("audit log", "/audit", `table`)
	visit("account", "/account", `#two-factor`)
	visit("two-factor", "/account/two-factor", `h1`)
	visit("not found", "/keys/key_nothere", `.status-code`)
}

// TestBrowserKeyboard: with the keyboard alone, Enter on a permission's
// checkbox does not submit the half-filled form; a form sent with errors
// brings focus to the first of them; the new key's page brings focus to
// its heading, and its copy button keeps focus off the secret. Times show
// in the viewer's time zone, with UTC on hover.
func TestBrowserKeyboard(t *testing.T) {
	b := startBrowser(t)
	srv, db, _ := startServer(t, serverOptions{})
	focused := func() string {
		t.Helper()
		return b.read("focus", chromedp.Evaluate[string](`(() => { const e = document.activeElement; return e ? e.tagName.toLowerCase() + "#" + e.id + (e.getAttribute("data-copy") ? "[copy]" : "") : ""; })()`))
	}
	if _, err := chromedp.Call(b.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Kolkata"}); err != nil {
		t.Fatal(err)
	}
	b.signUp(srv.URL)
	acct := mustAccount(t, db, "ada@example.com")

	b.run("new key",
		chromedp.Navigate(srv.URL+"/keys/new"),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Billing service"),
		chromedp.Focus(chromedp.CSS(`input[name="permissions"][value="candidate:read"]`)),
		chromedp.KeyEvent(" "),
		chromedp.KeyEvent("\r"),
		chromedp.Sleep(300*time.Millisecond),
	)
	if keys, _, _ := db.ListKeys(t.Context(), pihu.KeyFilter{AccountID: acct, Limit: 10}); len(keys) != 0 {
		t.Fatalf("Enter on a permission's checkbox made %d keys", len(keys))
	}
	if n := b.read("ticked", chromedp.Evaluate[string](`String(document.querySelectorAll('input[name="permissions"]:checked').length)`)); n != "1" {
		t.Errorf("after Space and Enter on a checkbox, %s are ticked, want 1 (Space ticks, Enter neither ticks nor sends)", n)
	}

	b.run("send with an error",
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#name").value = ""`),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`.field-error`)),
	)
	if f := focused(); f != "input#name" {
		t.Errorf("after a form with an error: focus on %q, want the invalid name field", f)
	}

	b.run("send it right",
		chromedp.SendKeys(chromedp.CSS(`#name`), "Billing service"),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)),
	)
	if f := focused(); f != "h1#secret-heading" {
		t.Errorf("on the new key's page: focus on %q, want its heading", f)
	}
	b.run("copy", chromedp.Focus(chromedp.CSS(`button[data-copy="secret"]`)), chromedp.KeyEvent("\r"), chromedp.Sleep(200*time.Millisecond))
	if f := focused(); f != "button#[copy]" {
		t.Errorf("after copying: focus on %q, want the copy button (off the secret)", f)
	}

	b.run("keys", chromedp.Navigate(srv.URL+"/keys"), chromedp.WaitVisible(chromedp.CSS(`table.keys time[data-local="day"]`)))
	got := b.read("a time", chromedp.Evaluate[string](`(() => { const e = document.querySelector('table.keys time[data-local="clock"]'); return e.textContent + "|" + e.title; })()`))
	shown, title, _ := strings.Cut(got, "|")
	if !strings.Contains(shown, "GMT+5:30") || !strings.HasSuffix(title, " UTC") {
		t.Errorf("a time in Kolkata shows %q with the title %q, want local time (GMT+5:30) and UTC on hover", shown, title)
	}
	b.checkA11y("keys in local time")
}
