package web_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromium is headless Chromium driving the dashboard for one test, each
// step failing the test with its name.
type chromium struct {
	t   *testing.T
	ctx context.Context // the steps' context: 60 s in all
}

// startBrowser starts Chromium for t, or skips t when there is none (or
// under -short). Confirmations (revoke, rotate, delete) are accepted, as a
// person would. The browser stops when t ends.
func startBrowser(t *testing.T) *chromium {
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
	// (a timeout there would stop the browser); the steps get 60 s.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", browserPath, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
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

// shot saves the page as name.png in screenshotDir, when it is set.
func (b *chromium) shot(name string) {
	b.t.Helper()
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
