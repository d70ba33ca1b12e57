package web_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu/auth"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/sqlite"
	"github.com/pihu-ai/pihu/web"
)

// TestNames_SameRulesAsAPI: the names and descriptions people type in the
// dashboard (a key's name, an account's at sign-up, a webhook endpoint's
// description) are refused for the same characters as through the API,
// by the same domain validators: control characters (which the API's JSON
// decoder refuses in every string, and forms never meet), bidirectional
// controls, and names with nothing visible; and what the API takes, the
// dashboard takes.
func TestNames_SameRulesAsAPI(t *testing.T) {
	db, err := sqlite.Open(t.Context(), sqlitetest.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	authn := auth.New(db, auth.Options{Logger: logger})
	dash, err := web.New(web.Options{Store: db, Auth: authn, Logger: logger, Password: fastPassword})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(pihuhttp.New(pihuhttp.Options{Store: db, Auth: authn, Logger: logger, Dashboard: dash}))
	t.Cleanup(srv.Close)
	d := &dashboard{Server: srv, Store: db, Auth: authn}
	owner := d.signUp(t, "ada@example.com")
	_, secret := owner.createKey("API", "permissions", "*")
	api := func(path string, body map[string]any) int {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(string(b)))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}

	for _, tt := range []struct {
		name, text string
		ok         bool
	}{
		{"Plain", "Billing service", true},
		{"Emoji", "👩\u200d💻 CI", true},
		{"ErrNewline", "billing\nadmin", false},
		{"ErrTab", "billing\tadmin", false},
		{"ErrEscape", "billing\x1b[2J", false},
		{"ErrC1Control", "billing\u009b", false},
		{"ErrBidiOverride", "invoice\u202egpj.exe", false},
		{"ErrIsolate", "prod \u2067key\u2069", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want, wantAPI := http.StatusBadRequest, http.StatusBadRequest
			if tt.ok {
				want, wantAPI = http.StatusSeeOther, http.StatusOK
			}
			p := owner.post("/keys", form("name", tt.text, "permissions", "candidate:read", "environment", "live"))
			if p.StatusCode != want || !tt.ok && !strings.Contains(p.Body, `id="name-error"`) {
				t.Errorf("dashboard key name: got %d, want %d with the error next to the name", p.StatusCode, want)
			}
			if got := api("/v1/auth/api-keys", map[string]any{"name": tt.text, "permissions": []string{"candidate:read"}}); got != wantAPI {
				t.Errorf("API key name: got %d, want %d", got, wantAPI)
			}

			p = owner.post("/webhooks", form("url", "https://example.com/hooks", "events", "api_key.created", "description", tt.text, "environment", "live"))
			if tt.ok && p.StatusCode != http.StatusSeeOther || !tt.ok && (p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, `id="description-error"`)) {
				t.Errorf("dashboard webhook description: got %d, want %d with the error next to the description", p.StatusCode, want)
			}
			if got := api("/v1/webhook-endpoints", map[string]any{"url": "https://example.com/hooks", "events": []string{"api_key.created"}, "description": tt.text}); got != wantAPI {
				t.Errorf("API webhook description: got %d, want %d", got, wantAPI)
			}

			signup := d.browser(t).post("/signup", form("email", "x"+strings.ToLower(tt.name)+"@example.com", "password", password, "account_name", tt.text))
			if tt.ok && signup.StatusCode != http.StatusSeeOther || !tt.ok && (signup.StatusCode != http.StatusBadRequest || !strings.Contains(signup.Body, `id="account_name-error"`)) {
				t.Errorf("sign-up account name: got %d, want the account refused for its name (400) or created (303)", signup.StatusCode)
			}
		})
	}
}
