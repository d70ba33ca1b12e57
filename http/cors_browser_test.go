package http_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	pihuhttp "github.com/pihu-ai/pihu/http"
)

// startChromium starts headless Chromium for t and returns the context its
// steps run in (60 s in all), or skips t when there is none (or under
// -short). The browser stops when t ends.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("no Chromium found (looked for chromium, chromium-browser, google-chrome): install it (apt-get install chromium) to run the browser tests")
	}
	if testing.Short() {
		t.Skip("the browser test is not short")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelCtx)
	// The first Do starts the browser, on a context without a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// corsPage is the page of a browser app (docs/tokens.md, the browser-app
// flow): with the access token its backend gave it, it reads candidates,
// creates one (a request with a preflight: JSON and Idempotency-Key), and
// tries once with the browser's credentials; it writes what it could read
// of each answer in #result, and adds #done.
const corsPage = `<!doctype html><title>app</title><pre id="result"></pre>
<script>
(async () => {
  const api = API, token = TOKEN, out = [];
  const auth = {Authorization: "Bearer " + token};
  try {
    const r = await fetch(api + "/v1/candidates", {headers: auth});
    const remaining = r.headers.get("RateLimit-Remaining");
    out.push("get " + r.status + " " + (r.headers.get("Request-Id") || "").slice(0, 4) + " " + (/^[0-9]+$/.test(remaining) ? "limit" : remaining) + " " + (await r.json()).data.length);
  } catch (e) { out.push("get blocked"); }
  try {
    const r = await fetch(api + "/v1/candidates", {method: "POST", body: JSON.stringify({name: "Ada Lovelace", email: "ada@example.com"}),
      headers: {...auth, "Content-Type": "application/json", "Idempotency-Key": "create-ada"}});
    out.push("post " + r.status + " " + (await r.json()).name);
  } catch (e) { out.push("post blocked"); }
  try {
    const r = await fetch(api + "/v1/auth/whoami", {headers: auth, credentials: "include"});
    out.push("credentials " + r.status);
  } catch (e) { out.push("credentials blocked"); }
  try {
    const r = await fetch(api + "/v1/candidates", {headers: {Authorization: "Bearer ph_live_wrong"}});
    out.push("error " + r.status + " " + (await r.json()).error.code + " " + r.headers.get("WWW-Authenticate").slice(0, 6));
  } catch (e) { out.push("error blocked"); }
  document.getElementById("result").textContent = out.join("\n");
  const done = document.createElement("p");
  done.id = "done";
  done.textContent = "done";
  document.body.appendChild(done);
})();
</script>`

// TestCORS_Browser runs the browser-app flow of docs/tokens.md in
// Chromium: a page of an allowed origin calls the API with an access
// token, preflighted requests included, and reads the answers and the
// headers exposed to it (an error's too); the same page served from
// another origin is refused every answer by the browser, and its POST
// never reaches the API; and no page may send the browser's credentials.
func TestCORS_Browser(t *testing.T) {
	ctx := startChromium(t)
	// The app's page, with the API's URL and the token its backend gave.
	pageHandler := func(api, token string) http.Handler {
		apiJSON, _ := json.Marshal(api)
		tokenJSON, _ := json.Marshal(token)
		body := strings.NewReplacer("API", string(apiJSON), "TOKEN", string(tokenJSON)).Replace(corsPage)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte(body))
		})
	}
	// Two origins of the app's page (their ports differ): the API lists
	// the first.
	allowed, other := httptest.NewUnstartedServer(nil), httptest.NewUnstartedServer(nil)
	origins, err := pihuhttp.ParseCORSOrigins("http://" + allowed.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(o *pihuhttp.Options) { o.CORSOrigins = origins })
	token := ts.mint(t, ts.Owner, `{"permissions":["candidate:read","candidate:write"]}`).AccessToken
	for _, srv := range []*httptest.Server{allowed, other} {
		srv.Config.Handler = pageHandler(ts.URL, token)
		srv.Start()
		t.Cleanup(srv.Close)
	}

	run := func(url string) string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("#done"))); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		result, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#result")))
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		return result
	}
	got := run(allowed.URL)
	want := "get 200 req_ limit 0\npost 200 Ada Lovelace\ncredentials blocked\nerror 401 invalid_api_key Bearer"
	if got != want {
		t.Errorf("the page of the allowed origin read:\n%s\nwant:\n%s", got, want)
	}
	got = run(other.URL)
	want = "get blocked\npost blocked\ncredentials blocked\nerror blocked"
	if got != want {
		t.Errorf("the page of another origin read:\n%s\nwant:\n%s", got, want)
	}
	// Its POST was stopped at the preflight: one candidate, the allowed
	// page's.
	var list struct{ Data []struct{ Name string } }
	ts.do(t, "GET", "/v1/candidates", ts.Owner, "").decode(t, &list)
	if len(list.Data) != 1 {
		t.Errorf("candidates: got %+v, want the allowed page's only", list.Data)
	}
}
