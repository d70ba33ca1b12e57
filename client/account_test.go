package client_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/client"
)

func TestClient_AccountSignInAndMembers(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	c := s.client(t, s.Owner)
	accounts, err := s.store.ListAccounts(ctx, time.Now())
	if err != nil || len(accounts) != 1 {
		t.Fatalf("accounts: got %v, %v", accounts, err)
	}
	accountID := accounts[0].ID
	u := &pihu.User{ID: pihu.NewID("user_"), AccountID: accountID, Email: "ada@example.com", PasswordHash: "x", Role: pihu.RoleAdmin, Created: time.Now()}
	if err := s.store.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	p := &pihu.Passkey{ID: pihu.NewID(pihu.PrefixPasskey), UserID: u.ID, Name: "Laptop", CredentialID: []byte("c"), Credential: []byte("{}"), Created: time.Now()}
	if err := s.store.CreatePasskey(ctx, accountID, p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.SetTwoFactorRequired(ctx, accountID, true); err != nil {
		t.Fatal(err)
	}

	settings, err := c.GetAccountSignIn(ctx)
	if err != nil || !settings.TwoFactorRequired || settings.RequestID() == "" {
		t.Errorf("GetAccountSignIn: got %+v, %v", settings, err)
	}
	list, err := c.ListMembers(ctx)
	if err != nil || len(list.Data) != 1 {
		t.Fatalf("ListMembers: got %+v, %v", list, err)
	}
	if m := list.Data[0]; m.ID != u.ID || m.Email != "ada@example.com" || m.Role != "admin" || !m.TwoFactor || m.Passkeys != 1 ||
		!slices.Equal(m.SignInMethods, []string{"password", "passkey"}) || m.Joined.IsZero() {
		t.Errorf("member: got %+v", m)
	}

	k, err := c.CreateKey(ctx, client.KeyParams{Name: "Settings only", Permissions: []string{"account:read"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.client(t, k.Key).ListMembers(ctx)
	apiError(t, err, 403, "insufficient_permissions")
}
