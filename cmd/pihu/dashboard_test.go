package main_test

import (
	"bytes"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServe_Dashboard checks that serve answers the dashboard at / next to
// the API, and that the first start's setup link, written to its 0600 file,
// gives the "Default" account's owner an email and a password, without the
// link's token reaching the log.
func TestServe_Dashboard(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	linkFile := filepath.Join(dir, "pihu.db.setup-link")
	info, err := os.Stat(linkFile)
	if err != nil || info.Mode() != 0o600 {
		t.Fatalf("setup link file: %v, %v; want mode 0600", info, err)
	}
	b, _ := os.ReadFile(linkFile)
	link := strings.TrimSpace(string(b))
	if !strings.HasPrefix(link, s.url+"/setup?token=") {
		t.Fatalf("setup link: got %q", link)
	}
	token := strings.TrimPrefix(link, s.url+"/setup?token=")

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Errorf("GET /: got %d to %q, want 303 to /login", res.StatusCode, res.Header.Get("Location"))
	}
	// Until the owner has set up, the sign-in page says where the setup
	// link is, and that signing up makes another account.
	const notice = `id="setup-notice"`
	if status, page := getPage(t, client, s.url+"/login"); status != 200 || !strings.Contains(page, notice) ||
		!strings.Contains(page, "beside its SQLite database") || !strings.Contains(page, "Create a new, separate account") {
		t.Errorf("GET /login before setup: got %d, want the setup notice and sign-up as a separate account\n%s", status, page)
	}
	res, err = client.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("GET the setup link: got %d with CSP %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}
	res, err = client.PostForm(s.url+"/setup", url.Values{"token": {token}, "email": {"ops@example.com"}, "password": {"correct horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/keys" {
		t.Fatalf("POST /setup: got %d to %q, want 303 to /keys", res.StatusCode, res.Header.Get("Location"))
	}
	res, err = client.Get(s.url + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body := new(bytes.Buffer)
	if _, err := body.ReadFrom(res.Body); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.Contains(body.String(), "Default") || !strings.Contains(body.String(), "ops@example.com") {
		t.Errorf("GET /keys after setup: got %d\n%s", res.StatusCode, body)
	}
	// Set up, the notice is gone, and the link says it was used, with no
	// form.
	other := &http.Client{CheckRedirect: client.CheckRedirect}
	if status, page := getPage(t, other, s.url+"/login"); status != 200 || strings.Contains(page, notice) {
		t.Errorf("GET /login after setup: got %d, want no setup notice\n%s", status, page)
	}
	if status, page := getPage(t, other, link); status != 400 || !strings.Contains(page, "was used already") || strings.Contains(page, "<form") {
		t.Errorf("GET the used setup link: got %d, want 400 saying it was used, without a form\n%s", status, page)
	}
	// The API keeps its JSON answers.
	status, out := do(t, "GET", s.url+"/v1/nowhere", "", "")
	if status != 404 || out["error"] == nil {
		t.Errorf("GET /v1/nowhere: got %d %v, want the API's JSON 404", status, out)
	}
	logs := s.logsWith(t, "path=/setup")
	if strings.Contains(logs, token) {
		t.Errorf("the setup link's token is in the log:\n%s", logs)
	}
	if !strings.Contains(logs, "path=/setup") {
		t.Errorf("the dashboard's requests are not logged:\n%s", logs)
	}
}

// getPage GETs url with client and returns the status and the body.
func getPage(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	res, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(res.Body); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, body.String()
}
