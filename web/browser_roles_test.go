package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserRolesAndDisable drives roles and disabling in headless
// Chromium: an owner creates a role, creates a key holding only that role,
// uses it; disables it from its page, sees the badge and the notice, and
// the API refuses the key with disabled_api_key, which the key's usage
// then names as the reason of its refusal; edits its name and limit;
// enabling it restores it.
func TestBrowserRolesAndDisable(t *testing.T) {
	b := startBrowser(t)
	run, read, shot := b.run, b.read, b.shot
	srv, _, authn := startServer(t, serverOptions{usage: true})
	call := func(secret, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body.Error.Code
	}
	text := func(sel string) string {
		t.Helper()
		return read("read "+sel, chromedp.Text(chromedp.CSS(sel)))
	}

	b.signUp(srv.URL)
	run("open the roles page",
		chromedp.Navigate(srv.URL+"/roles"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/roles"] #name`)),
	)
	run("create a role",
		chromedp.SendKeys(chromedp.CSS(`form[action="/roles"] #name`), "Support"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/roles"] #description`), "Reads candidates for the help desk"),
		chromedp.Click(chromedp.CSS(`form[action="/roles"] input[name="permissions"][value="candidate:read"]`)),
		chromedp.Submit(chromedp.CSS(`form[action="/roles"] #name`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action^="/roles/role_"]`)),
	)
	if s := text("dl.details"); !strings.Contains(s, "candidate:read") || !strings.Contains(s, "help desk") {
		t.Errorf("the new role's page: %q, want candidate:read and its description", s)
	}
	run("back to the roles", chromedp.Navigate(srv.URL+"/roles"), chromedp.WaitVisible(chromedp.CSS(`a[href^="/roles/role_"]`)))
	if s := text("table"); !strings.Contains(s, "Support") || !strings.Contains(s, "candidate:read") {
		t.Errorf("the roles page after creating one: %q, want Support with candidate:read", s)
	}
	shot("roles")

	run("create a key with the role only",
		chromedp.Navigate(srv.URL+"/keys/new"),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Help desk"),
		chromedp.Click(chromedp.CSS(`input[name="roles"]`)),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)),
	)
	secret := read("read the key", chromedp.Value(chromedp.CSS(`#secret`)))
	if status, code := call(secret, "/v1/candidates"); status != 200 {
		t.Fatalf("listing candidates with the role's key: %d %s, want 200", status, code)
	}
	if status, code := call(secret, "/v1/interviews"); status != 403 {
		t.Errorf("listing interviews with the role's key: %d %s, want 403 (the role does not grant it)", status, code)
	}

	run("open the key's page",
		chromedp.Navigate(srv.URL+"/keys"),
		chromedp.WaitVisible(chromedp.CSS(`table.keys`)),
		chromedp.Click(chromedp.CSS(`table.keys a[href^="/keys/key_"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/enabled"] button`)),
	)
	if s := text("dl"); !strings.Contains(s, "Support") {
		t.Errorf("the key's details: %q, want its role Support", s)
	}
	run("disable it",
		chromedp.Click(chromedp.CSS(`form[action$="/enabled"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.badge.disabled`)),
	)
	if s := text(".alert.warning"); !strings.Contains(s, "disabled_api_key") {
		t.Errorf("the disabled key's notice: %q, want it to name disabled_api_key", s)
	}
	if status, code := call(secret, "/v1/candidates"); status != 401 || code != "disabled_api_key" {
		t.Errorf("the disabled key: %d %s, want 401 disabled_api_key", status, code)
	}
	if err := authn.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	run("reload its page", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`figure.chart .why`)))
	if s := text("figure.chart .why"); !strings.Contains(s, "1 key disabled") {
		t.Errorf("the usage caption: %q, want the refusal counted as disabled", s)
	}
	shot("key-disabled")

	run("edit it",
		chromedp.Click(chromedp.CSS(`a[href$="/edit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/edit"] #name`)),
		chromedp.Clear(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Help desk (EU)"),
		chromedp.SendKeys(chromedp.CSS(`#rate_limit`), "120/m"),
	)
	shot("key-edit")
	run("save the edit",
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert.success`)),
	)
	if s := text(".alert.success"); !strings.Contains(s, "Help desk (EU)") {
		t.Errorf("after saving: %q, want a notice naming the key", s)
	}
	if s := text("dl"); !strings.Contains(s, "120/m") {
		t.Errorf("the key's details after the edit: %q, want its rate limit 120/m", s)
	}

	run("enable it",
		chromedp.Click(chromedp.CSS(`form[action$="/enabled"] button`)),
		chromedp.WaitNotPresent(chromedp.CSS(`.badge.disabled`)),
	)
	if status, code := call(secret, "/v1/candidates"); status != 200 {
		t.Errorf("the enabled key: %d %s, want 200", status, code)
	}
}
