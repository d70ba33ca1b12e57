package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu/sqlite"
)

// writeSSOFile writes a providers file naming account, with its client
// secret in a file beside it, and returns its path.
func writeSSOFile(tb testing.TB, dir, account, extra string) string {
	tb.Helper()
	secret := filepath.Join(dir, "okta-secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	file := filepath.Join(dir, "sso.json")
	body := `{"providers":[{"id":"okta","name":"Okta","issuer":"https://acme.okta.example","client_id":"pihu",` +
		`"client_secret_file":"` + secret + `","domains":["acme.example"],"account":"` + account + `"` + extra + `}]}`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		tb.Fatal(err)
	}
	return file
}

// TestServe_SSOProviders: serve checks its providers file at start-up
// (exit 2, saying what is wrong), an account that does not exist
// included; a good one shows its button on the sign-in page, whether or
// not the provider can be reached.
func TestServe_SSOProviders(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "pihu.db")
	accountID := createAccount(t, db, "Acme")
	for _, tc := range []struct{ file, want string }{
		{writeSSOFile(t, t.TempDir(), accountID, `,"colour":"red"`), `--sso-providers: SSO providers file`},
		{writeSSOFile(t, t.TempDir(), "acct_nobody", ""), `--sso-providers: provider "okta": no account has the id "acct_nobody"`},
		{filepath.Join(dir, "none.json"), "--sso-providers: SSO providers file: open "},
	} {
		r := pihuCLI(t, "", "", "serve", "--addr", "127.0.0.1:0", "--database", db, "--sso-providers", tc.file)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("--sso-providers %s: exit %d, stderr %q; want 2 and %q", tc.file, r.code, r.stderr, tc.want)
		}
	}
	s := startServer(t, dir, "--sso-providers", writeSSOFile(t, t.TempDir(), accountID, ""))
	res, err := http.Get(s.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `href="/login/sso/okta"`) || !strings.Contains(string(body), "Sign in with Okta") {
		t.Errorf("the sign-in page has no Okta button:\n%s", body)
	}
	// The provider's host does not exist: its button answers a page
	// that says so, not a 500.
	res, err = http.Get(s.url + "/login/sso/okta")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadGateway {
		t.Errorf("GET /login/sso/okta: got %d, want 502", res.StatusCode)
	}
}

// TestAccountsRecover_SSO: recovering an account that requires single
// sign-on (its provider lost) turns that off, so that its owner signs in
// with their password again.
func TestAccountsRecover_SSO(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pihu.db")
	accountID := createAccount(t, "sqlite:"+path, "Acme")
	store, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.SetSSORequired(t.Context(), accountID, true); err != nil {
		t.Fatal(err)
	}
	store.Close()
	r := pihuCLI(t, "", "", "accounts", "recover", accountID, "--database", "sqlite:"+path).ok(t)
	if !strings.Contains(r.stdout, "Sign-in through SSO only was on, and is now off") {
		t.Errorf("recover: got\n%s", r.stdout)
	}
	store, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if a, err := store.Account(t.Context(), accountID); err != nil || a.SSORequired {
		t.Errorf("account after recover: got %+v, %v", a, err)
	}
	r = pihuCLI(t, "", "", "accounts", "recover", accountID, "--database", "sqlite:"+path).ok(t)
	if strings.Contains(r.stdout, "SSO") {
		t.Errorf("recover of an account without SSO: got\n%s", r.stdout)
	}
}

// createAccount creates an account with `pihu accounts create` and
// returns its id.
func createAccount(tb testing.TB, db, name string) string {
	tb.Helper()
	r := pihuCLI(tb, "", "", "accounts", "create", "--name", name, "--json", "--database", db).ok(tb)
	var got struct {
		Account struct{ ID string } `json:"account"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Account.ID == "" {
		tb.Fatalf("accounts create: got %q (%v)", r.stdout, err)
	}
	return got.Account.ID
}
