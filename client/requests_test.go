package client_test

import (
	"context"
	"testing"

	"github.com/pihu-ai/pihu/client"
)

// TestClient_Requests reads the request log of a key and of the account,
// filtered, and gets a 404 for another account's key.
func TestClient_Requests(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	c := s.client(t, s.Owner)
	k, err := c.CreateKey(ctx, client.KeyParams{Name: "used", Permissions: []string{"candidate:read"}})
	if err != nil {
		t.Fatal(err)
	}
	used := s.client(t, k.Key)
	if _, err := used.Whoami(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = used.CreateKey(ctx, client.KeyParams{Name: "more", Permissions: []string{"candidate:read"}})
	apiError(t, err, 403, "insufficient_permissions")
	if err := s.auth.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	l, err := c.KeyRequests(ctx, k.ID, client.RequestLogParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Data) != 2 || l.Data[0].Method != "POST" || l.Data[0].Status != 403 || !l.Data[0].Refused || l.Data[0].Code != "insufficient_permissions" ||
		l.Data[1].Path != "/v1/auth/whoami" || l.Data[1].Status != 200 || l.Data[1].Time.IsZero() {
		t.Fatalf("KeyRequests: %+v", l.Data)
	}
	refused, err := c.ListRequests(ctx, client.RequestLogParams{KeyID: k.ID, Refused: true, Status: "4xx"})
	if err != nil {
		t.Fatal(err)
	}
	if len(refused.Data) != 1 || refused.Data[0].ID != l.Data[0].ID {
		t.Errorf("ListRequests(refused): %+v", refused.Data)
	}
	other := s.client(t, s.newAccount(t, "Other"))
	_, err = other.KeyRequests(ctx, k.ID, client.RequestLogParams{})
	apiError(t, err, 404, "not_found")
}
