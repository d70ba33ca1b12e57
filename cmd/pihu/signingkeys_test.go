package main_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

type signingKeyItem struct {
	KID, Algorithm, Status, Created string
	Retired                         *string
	PublishedUntil                  *string `json:"published_until"`
}

// TestSigningKeys runs the token signing keys' commands against the
// database of a running server: the first token creates the key, list
// shows it, rotate retires it (still published) and makes a new one, and
// no output holds a private key.
func TestSigningKeys(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "pihu.db")
	s := startServer(t, dir, "--issuer", "https://auth.example.com")
	owner := ownerKey(t, s)

	status, disc := do(t, "GET", s.url+"/.well-known/openid-configuration", "", "")
	if status != 200 || disc["issuer"] != "https://auth.example.com" || disc["token_endpoint"] != "https://auth.example.com/v1/oauth/token" {
		t.Fatalf("discovery: got %d %v", status, disc)
	}
	status, tok := do(t, "POST", s.url+"/v1/auth/tokens", owner, "")
	if status != 200 {
		t.Fatalf("minting: got %d %v", status, tok)
	}
	token := tok["access_token"].(string)
	if status, _ := do(t, "GET", s.url+"/v1/auth/whoami", token, ""); status != 200 {
		t.Fatalf("whoami with the token: got %d", status)
	}

	list := func() []signingKeyItem {
		r := pihuCLI(t, "", "", "signing-keys", "list", "--database", db, "--json").ok(t)
		var items []signingKeyItem
		if err := json.Unmarshal([]byte(r.stdout), &items); err != nil {
			t.Fatalf("signing-keys list --json: %v in %q", err, r.stdout)
		}
		return items
	}
	first := list()
	if len(first) != 1 || first[0].Status != "active" || first[0].Algorithm != "EdDSA" || first[0].Retired != nil {
		t.Fatalf("list: got %+v, want one active EdDSA key", first)
	}

	r := pihuCLI(t, "", "", "signing-keys", "rotate", "--database", db, "--json").ok(t)
	var rotated struct{ Active, Retired *signingKeyItem }
	if err := json.Unmarshal([]byte(r.stdout), &rotated); err != nil {
		t.Fatal(err)
	}
	if rotated.Retired == nil || rotated.Retired.KID != first[0].KID || rotated.Retired.Status != "published" || rotated.Active.KID == first[0].KID {
		t.Errorf("rotate: got %s", r.stdout)
	}
	after := list()
	if len(after) != 2 || after[0].Status != "active" || after[1].Status != "published" || after[1].PublishedUntil == nil {
		t.Errorf("list after rotate: got %+v", after)
	}
	// Tokens signed by the retired key keep working.
	if status, _ := do(t, "GET", s.url+"/v1/auth/whoami", token, ""); status != 200 {
		t.Errorf("whoami with a token of the retired key: got %d", status)
	}
	text := pihuCLI(t, "", "", "signing-keys", "list", "--database", db).ok(t).stdout
	if !strings.Contains(text, "KID") || !strings.Contains(text, first[0].KID) {
		t.Errorf("list: got %q", text)
	}
	for _, out := range []string{r.stdout, text, s.stderr.String()} {
		if strings.Contains(strings.ToLower(out), "private") || strings.Contains(out, token) {
			t.Errorf("an output holds a private key or the token:\n%s", out)
		}
	}
}

func TestSigningKeys_Errors(t *testing.T) {
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"NoSubcommand": {"signing-keys"},
		"Unknown":      {"signing-keys", "delete"},
		"Argument":     {"signing-keys", "list", "extra", "--database", "sqlite:" + filepath.Join(dir, "pihu.db")},
		"BadIssuer":    {"serve", "--addr", "127.0.0.1:0", "--database", "sqlite:" + filepath.Join(dir, "pihu.db"), "--issuer", "auth.example.com"},
	} {
		t.Run(name, func(t *testing.T) {
			if r := pihuCLI(t, "", "", args...); r.code != 2 {
				t.Errorf("pihu %v: exit %d, want 2; stderr %s", args, r.code, r.stderr)
			}
		})
	}
	if r := pihuCLI(t, "", "", "signing-keys", "list", "--database", "sqlite:"+filepath.Join(dir, "none.db")); r.code != 1 {
		t.Errorf("list on a missing database: exit %d, want 1", r.code)
	}
}
