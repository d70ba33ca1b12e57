package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/pihu-ai/pihu/auth"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/ratelimit"
	"github.com/pihu-ai/pihu/sqlite"
	"github.com/pihu-ai/pihu/web"
)

// chromium is headless Chromium driving the dashboard for one test, each
// step failing the test with its name.
type chromium struct {
	t   *testing.T
	ctx context.Context // the steps' context: 60 s in all

	axeMissingSaid bool // the test has said that axe-core is not installed
}

// startBrowser starts Chromium for t, or skips t when there is none (or
// under -short). Confirmations (revoke, rotate, delete) are accepted, as a
// person would. The browser stops when t ends.
func startBrowser(t *testing.T) *chromium {
	t.Helper()
	return startBrowserFor(t, 60*time.Second)
}

// startBrowserFor is startBrowser with steps of d in all.
func startBrowserFor(t *testing.T, d time.Duration) *chromium {
	t.Helper()
	browserPath := findBrowser()
	if browserPath == "" {
		t.Skip("no Chromium found (looked for chromium, chromium-browser, google-chrome): install it (apt-get install chromium) to run the browser tests")
	}
	if testing.Short() {
		t.Skip("the browser test is not short")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browserPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 860), chromedp.Flag("hide-scrollbars", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelCtx)
	// The first Do starts the browser, on a context without a timeout
	// (a timeout there would stop the browser); the steps get d.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", browserPath, err)
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	t.Cleanup(cancel)
	dialogs := chromedp.Events(ctx, cdppage.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return &chromium{t: t, ctx: ctx}
}

// run does a step's actions.
func (b *chromium) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
}

// read returns what a step reads.
func (b *chromium) read(step string, a chromedp.Action[string]) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
	return v
}

// shot checks the page's accessibility (checkA11y) and saves it as
// name.png in screenshotDir, when it is set.
func (b *chromium) shot(name string) {
	b.t.Helper()
	b.checkA11y(name)
	dir := screenshotDir()
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// serverOptions are what a browser test's server has beyond the API and
// the dashboard on one SQLite store.
type serverOptions struct {
	// usage counts requests for the dashboard's charts, with an
	// in-memory rate limiter and client addresses, as serve does.
	usage bool
	// webhookLoopback lets endpoints name a receiver on this machine.
	webhookLoopback bool
	// sso are the dashboard's single sign-on providers.
	sso []web.SSOProvider
}

// startServer starts the API with the dashboard at /, on one SQLite store
// in a temporary folder, for one browser test; they stop when it ends.
func startServer(t *testing.T, o serverOptions) (*httptest.Server, *sqlite.DB, *auth.Authenticator) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), sqlitetest.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	api, authn := newInstance(t, db, o)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv, db, authn
}

// newInstance is what one instance of serve serves on db: the API with the
// dashboard at /, and its authenticator.
func newInstance(t *testing.T, db *sqlite.DB, o serverOptions) (http.Handler, *auth.Authenticator) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	authn := auth.New(db, auth.Options{Logger: logger})
	wo := web.Options{Store: db, Auth: authn, Logger: logger, Password: fastPassword, WebhookLoopback: o.webhookLoopback, SSOProviders: o.sso}
	ho := pihuhttp.Options{Store: db, Auth: authn, Logger: logger, WebhookLoopback: o.webhookLoopback}
	if o.usage {
		limiter := ratelimit.NewMemory(ratelimit.MemoryOptions{})
		wo.Usage, wo.Limiter, wo.ClientIP = authn, limiter, pihuhttp.ClientIP
		ho.Limiter = limiter
	}
	dash, err := web.New(wo)
	if err != nil {
		t.Fatal(err)
	}
	ho.Dashboard = dash
	return pihuhttp.New(ho), authn
}

// signUp signs up in the browser at the server of url, as Ada of Acme
// Recruiting, and waits for the page that follows (her keys).
func (b *chromium) signUp(url string) {
	b.t.Helper()
	b.run("sign up",
		chromedp.Navigate(url+"/signup"),
		chromedp.WaitVisible(chromedp.CSS(`#account_name`)),
		chromedp.SendKeys(chromedp.CSS(`#account_name`), "Acme Recruiting"),
		chromedp.SendKeys(chromedp.CSS(`#email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)),
	)
}
