package http_test

import (
	"slices"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

// TestAccount_SignInAndMembers reads the account's sign-in settings and its
// members with their sign-in methods: account:read and member:read (or a
// wildcard over them) are needed, a key of either environment may read,
// and another account's members never show.
func TestAccount_SignInAndMembers(t *testing.T) {
	ts := newTestServer(t)
	ctx := t.Context()
	now := ts.Clock.Now()
	ada := &pihu.User{ID: pihu.NewID("user_"), AccountID: ts.Account.ID, Email: "ada@example.com", PasswordHash: "x", Role: pihu.RoleOwner, Created: now}
	bob := &pihu.User{ID: pihu.NewID("user_"), AccountID: ts.Account.ID, Email: "bob@example.com", PasswordHash: "x", Role: pihu.RoleViewer, Created: now.Add(time.Minute)}
	for _, u := range []*pihu.User{ada, bob} {
		if err := ts.Store.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.Store.EnableTwoFactor(ctx, ts.Account.ID, ada.ID, "JBSWY3DPEHPK3PXP", 1, nil, now); err != nil {
		t.Fatal(err)
	}
	for _, cred := range []string{"a", "b"} {
		p := &pihu.Passkey{ID: pihu.NewID(pihu.PrefixPasskey), UserID: ada.ID, Name: cred, CredentialID: []byte(cred), Credential: []byte("{}"), Created: now}
		if err := ts.Store.CreatePasskey(ctx, ts.Account.ID, p); err != nil {
			t.Fatal(err)
		}
	}
	other, _ := ts.newAccount(t, "Other")
	if err := ts.Store.CreateUser(ctx, &pihu.User{ID: pihu.NewID("user_"), AccountID: other.ID, Email: "eve@example.com", Role: pihu.RoleOwner, Created: now}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Store.SetSSORequired(ctx, ts.Account.ID, true); err != nil {
		t.Fatal(err)
	}
	accountReader := ts.newKey(t, ts.Owner, `{"name":"a","permissions":["account:read"]}`)
	memberReader := ts.newKey(t, ts.Owner, `{"name":"m","permissions":["member:*"],"environment":"test"}`)
	keyReader := ts.newKey(t, ts.Owner, `{"name":"k","permissions":["api_key:read"]}`)

	ts.run(t, []scenario{
		{name: "SignIn", method: "GET", path: "/v1/auth/account/sign-in", key: accountReader.Key, status: 200, check: func(t *testing.T, r response) {
			var got pihuhttp.AccountSignIn
			r.decode(t, &got)
			if got.TwoFactorRequired || !got.SSORequired {
				t.Errorf("got %+v, want two_factor_required false, sso_required true", got)
			}
		}},
		{name: "Members", method: "GET", path: "/v1/auth/account/members", key: memberReader.Key, status: 200, check: func(t *testing.T, r response) {
			var got pihuhttp.MemberList
			r.decode(t, &got)
			if len(got.Data) != 2 {
				t.Fatalf("members: got %+v, want ada and bob", got)
			}
			a, b := got.Data[0], got.Data[1]
			if a.ID != ada.ID || a.Email != "ada@example.com" || a.Role != "owner" || !a.TwoFactor || a.Passkeys != 2 ||
				!slices.Equal(a.SignInMethods, []string{"password", "totp", "passkey"}) {
				t.Errorf("ada: got %+v", a)
			}
			if b.ID != bob.ID || b.Role != "viewer" || b.TwoFactor || b.Passkeys != 0 || !slices.Equal(b.SignInMethods, []string{"password"}) {
				t.Errorf("bob: got %+v", b)
			}
		}},
		{name: "ErrNoKey", method: "GET", path: "/v1/auth/account/members", status: 401, code: "missing_api_key"},
		{name: "ErrMembersNeedMemberRead", method: "GET", path: "/v1/auth/account/members", key: accountReader.Key, status: 403, code: "insufficient_permissions"},
		{name: "ErrSignInNeedsAccountRead", method: "GET", path: "/v1/auth/account/sign-in", key: keyReader.Key, status: 403, code: "insufficient_permissions"},
		{name: "ErrUnknownParameter", method: "GET", path: "/v1/auth/account/members?limit=5", key: ts.Owner, status: 400, code: "parameter_unknown", param: "limit"},
		{name: "ErrPost", method: "POST", path: "/v1/auth/account/sign-in", key: ts.Owner, body: `{}`, status: 405, code: "method_not_allowed"},
	})

	if _, err := ts.Store.SetTwoFactorRequired(ctx, ts.Account.ID, true); err != nil {
		t.Fatal(err)
	}
	var got pihuhttp.AccountSignIn
	ts.do(t, "GET", "/v1/auth/account/sign-in", ts.Owner, "").decode(t, &got)
	if !got.TwoFactorRequired {
		t.Errorf("after requiring it: got %+v", got)
	}
}
