package web_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/pihu-ai/pihu/auth"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/sqlite"
	"github.com/pihu-ai/pihu/web"
)

// shotWidths saves the page as name.png at the desktop width and as
// name-phone.png at a phone's (375 px), without reloading it (a page shown
// once cannot be), when screenshots are asked for.
func (b *chromium) shotWidths(name string) {
	b.t.Helper()
	if screenshotDir() == "" {
		b.checkA11y(name) // at both widths, without screenshots
		return
	}
	b.shot(name)
	b.run("phone "+name, chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile), chromedp.Sleep(200*time.Millisecond))
	b.shot(name + "-phone")
	b.run("laptop "+name, chromedp.EmulateViewport(1280, 860), chromedp.Sleep(100*time.Millisecond))
}

// TestBrowserTwoFactor drives two-factor sign-in in headless Chromium: a
// person adds an authenticator app, reading the secret shown beside the QR
// code and typing the code computed from it (as the app would), keeps the
// recovery codes shown once, signs out, and signs in with the password
// then the next code; then with a recovery code; then requires two-factor
// of the team and sees their sessions on the Account page.
func TestBrowserTwoFactor(t *testing.T) {
	b := startBrowser(t)
	run, read := b.run, b.read
	db, err := sqlite.Open(t.Context(), sqlitetest.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &clock{now: time.Now().UTC()}
	db.Now = clk.Now
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	authn := auth.New(db, auth.Options{Logger: logger, Now: clk.Now})
	dash, err := web.New(web.Options{Store: db, Auth: authn, Logger: logger, Password: fastPassword, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(pihuhttp.New(pihuhttp.Options{Store: db, Auth: authn, Logger: logger, Dashboard: dash}))
	t.Cleanup(srv.Close)
	code := func(secret string) string {
		t.Helper()
		c, err := totp.GenerateCode(secret, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	signOut := func() {
		t.Helper()
		run("sign out",
			chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
		)
	}
	withPassword := func() {
		t.Helper()
		run("sign in with the password",
			chromedp.Navigate(srv.URL+"/login"),
			chromedp.WaitVisible(chromedp.CSS(`#email`)),
			chromedp.SendKeys(chromedp.CSS(`#email`), "ada@example.com"),
			chromedp.SendKeys(chromedp.CSS(`#password`), password),
			chromedp.Submit(chromedp.CSS(`#password`)),
			chromedp.WaitVisible(chromedp.CSS(`form[action="/login/two-factor"] #code`)),
		)
	}
	secondFactor := func(c string) {
		t.Helper()
		run("give the second factor",
			chromedp.SendKeys(chromedp.CSS(`#code`), c),
			chromedp.Submit(chromedp.CSS(`#code`)),
			chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)),
		)
	}

	b.signUp(srv.URL)
	run("open the two-factor page from the account page",
		chromedp.Navigate(srv.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS(`#two-factor a.button`)),
		chromedp.Click(chromedp.CSS(`#two-factor a.button`)),
		chromedp.WaitVisible(chromedp.CSS(`#totp-secret`)),
	)
	if !b.has(`img.qr[src^="data:image/png;base64,"]`) {
		t.Fatalf("no QR code on the enrolment page")
	}
	b.shotWidths("two-factor-enrol")
	secret := strings.ReplaceAll(read("read the secret", chromedp.Text(chromedp.CSS(`#totp-secret`))), " ", "")
	run("type a wrong code",
		chromedp.SendKeys(chromedp.CSS(`#code`), "000000"),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`#code-error`)),
	)
	run("type the app's code",
		chromedp.SetValue(chromedp.CSS(`#code`), code(secret)),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`#recovery-codes`)),
	)
	b.shotWidths("two-factor-recovery-codes")
	codes := regexp.MustCompile(`[2-9a-z]{4}-[2-9a-z]{4}-[2-9a-z]{4}`).FindAllString(read("read the recovery codes", chromedp.Text(chromedp.CSS(`#recovery-codes`))), -1)
	if len(codes) != 10 {
		t.Fatalf("recovery codes: got %d, want 10", len(codes))
	}
	signOut()

	withPassword()
	b.shotWidths("two-factor-sign-in")
	run("the enrolment's code again is refused",
		chromedp.SendKeys(chromedp.CSS(`#code`), code(secret)),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert.error`)),
	)
	if msg := read("read the refusal", chromedp.Text(chromedp.CSS(`.alert.error`))); !strings.Contains(msg, "used already") {
		t.Errorf("refusal: got %q, want it to say the code was used", msg)
	}
	clk.Add(30 * time.Second)
	secondFactor(code(secret))
	if who := read("read the header", chromedp.Text(chromedp.CSS(`.who`))); !strings.Contains(who, "ada@example.com") {
		t.Errorf("header: got %q", who)
	}
	signOut()

	withPassword()
	secondFactor(codes[0])
	run("the two-factor page says how many codes are left",
		chromedp.Navigate(srv.URL+"/account/two-factor"),
		chromedp.WaitVisible(chromedp.CSS(`#codes-left`)),
	)
	if left := read("read the codes left", chromedp.Text(chromedp.CSS(`#codes-left`))); left != "9" {
		t.Errorf("codes left: got %s, want 9", left)
	}
	b.shotWidths("two-factor-on")
	signOut()
	withPassword()
	run("a recovery code used is refused",
		chromedp.SendKeys(chromedp.CSS(`#code`), codes[0]),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert.error`)),
	)
	secondFactor(codes[1])

	run("require two-factor of the team",
		chromedp.Navigate(srv.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS(`#two-factor-required`)),
		chromedp.Click(chromedp.CSS(`input[name="two_factor_required"][value="on"]`)),
		chromedp.Submit(chromedp.CSS(`form[action="/account/two-factor-required"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#two-factor-required .alert.success`)),
		chromedp.ScrollIntoView(chromedp.CSS(`#sessions`)),
	)
	if n := read("count the sessions", chromedp.Evaluate[string](`String(document.querySelectorAll("#sessions .session-list li").length)`)); n != "1" {
		t.Errorf("sessions listed: got %s, want 1 (the others were signed out)", n)
	}
	b.shotWidths("two-factor-account")
}
