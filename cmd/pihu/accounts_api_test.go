package main_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// pihu accounts sign-in and members read, through the API, the account of
// the key in PIHU_API_KEY, and need account:read and member:read.
func TestAccountsSignInAndMembers(t *testing.T) {
	s := startServer(t, t.TempDir())
	owner := ownerKey(t, s)

	r := pihuCLI(t, s.url, owner, "accounts", "sign-in").ok(t)
	if !strings.Contains(r.stdout, "Two-factor sign-in") || !strings.Contains(r.stdout, "not required") || !strings.Contains(r.stdout, "SSO only") {
		t.Errorf("sign-in: got\n%s", r.stdout)
	}
	r = pihuCLI(t, s.url, owner, "accounts", "sign-in", "--json").ok(t)
	var settings struct {
		TwoFactorRequired *bool `json:"two_factor_required"`
		SSORequired       *bool `json:"sso_required"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &settings); err != nil || settings.TwoFactorRequired == nil || *settings.TwoFactorRequired || settings.SSORequired == nil || *settings.SSORequired {
		t.Errorf("sign-in --json: got %q (%v)", r.stdout, err)
	}

	// The first start's owner, before the setup link: no email, no
	// sign-in method yet.
	r = pihuCLI(t, s.url, owner, "accounts", "members", "--json").ok(t)
	var members struct {
		Data []struct {
			ID            string   `json:"id"`
			Role          string   `json:"role"`
			SignInMethods []string `json:"sign_in_methods"`
			Passkeys      int      `json:"passkeys"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &members); err != nil || len(members.Data) != 1 {
		t.Fatalf("members --json: got %q (%v)", r.stdout, err)
	}
	if m := members.Data[0]; !strings.HasPrefix(m.ID, "user_") || m.Role != "owner" || m.SignInMethods == nil || len(m.SignInMethods) != 0 {
		t.Errorf("member: got %+v", m)
	}
	r = pihuCLI(t, s.url, owner, "accounts", "members").ok(t)
	for _, want := range []string{"EMAIL", "SIGN-IN", "PASSKEYS", members.Data[0].ID, "owner"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("members: no %q in\n%s", want, r.stdout)
		}
	}

	r = pihuCLI(t, s.url, owner, "keys", "create", "--name", "Settings", "--permission", "account:read", "--json").ok(t)
	var k struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &k); err != nil || k.Key == "" {
		t.Fatalf("keys create: got %q (%v)", r.stdout, err)
	}
	pihuCLI(t, s.url, k.Key, "accounts", "sign-in").ok(t)
	if r := pihuCLI(t, s.url, k.Key, "accounts", "members"); r.code != 1 || !strings.Contains(r.stderr, "insufficient_permissions") && !strings.Contains(r.stderr, "member:read") {
		t.Errorf("members without member:read: got %d %q", r.code, r.stderr)
	}
	if r := pihuCLI(t, s.url, owner, "accounts", "members", "extra"); r.code != 2 {
		t.Errorf("members with an argument: got %d, want 2", r.code)
	}
}
