package client_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/pihu-ai/pihu/client"
)

func TestClient_Identities(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	c := s.client(t, s.Owner)

	i, err := c.CreateIdentity(ctx, client.IdentityParams{ExternalID: "org_acme", Metadata: json.RawMessage(`{"plan":"pro"}`), RateLimit: "2/m"})
	if err != nil {
		t.Fatalf("CreateIdentity: %v", err)
	}
	if i.ExternalID != "org_acme" || string(i.Metadata) != `{"plan":"pro"}` || i.RateLimit == nil || *i.RateLimit != "2/m" ||
		i.Environment != "live" || i.Created.IsZero() || i.RequestID() == "" {
		t.Errorf("got %+v", i)
	}
	_, err = c.CreateIdentity(ctx, client.IdentityParams{ExternalID: "org_acme"})
	apiError(t, err, 409, "identity_exists")

	var keys []*client.CreatedKey
	for _, name := range []string{"a", "b"} {
		k, err := c.CreateKey(ctx, client.KeyParams{Name: name, Permissions: []string{"candidate:read"}, IdentityID: i.ID})
		if err != nil || k.IdentityID == nil || *k.IdentityID != i.ID {
			t.Fatalf("CreateKey for the identity: got %+v, %v", k, err)
		}
		keys = append(keys, k)
	}
	who, err := s.client(t, keys[0].Key).Whoami(ctx)
	if err != nil || who.Identity == nil || who.Identity.ID != i.ID || who.Identity.ExternalID != "org_acme" {
		t.Errorf("whoami: got %+v, %v", who, err)
	}
	// The two keys share 2/m: whoami spent one, one is left for both.
	if _, err := s.client(t, keys[1].Key).Whoami(ctx); err != nil {
		t.Errorf("the second request of the identity: %v", err)
	}
	_, err = s.client(t, keys[0].Key).Whoami(ctx)
	apiError(t, err, 429, "rate_limited")
	v, err := c.Verify(ctx, client.VerifyParams{Key: keys[1].Key})
	if err != nil || v.Identity == nil || v.Identity.ExternalID != "org_acme" || v.Code != "RATE_LIMITED" {
		t.Errorf("verify: got %+v, %v; want the identity, rate limited", v, err)
	}

	u, err := c.IdentityUsage(ctx, i.ID, client.UsageParams{})
	if err != nil || u.IdentityID != i.ID || u.Total.Allowed != 2 || u.Total.RefusedBy.RateLimited != 2 {
		t.Errorf("IdentityUsage: got %+v, %v; want 2 allowed, 2 rate limited", u, err)
	}
	list, err := c.ListKeysWith(ctx, client.KeyListParams{IdentityID: i.ID})
	if err != nil || len(list.Data) != 2 {
		t.Fatalf("ListKeysWith identity: got %+v, %v", list, err)
	}
	updated, err := c.UpdateKey(ctx, keys[1].ID, client.UpdateKeyParams{NoIdentity: true})
	if err != nil || updated.IdentityID != nil {
		t.Fatalf("UpdateKey without identity: got %+v, %v", updated, err)
	}
	if updated, err = c.UpdateKey(ctx, keys[1].ID, client.UpdateKeyParams{IdentityID: i.ID}); err != nil || updated.IdentityID == nil {
		t.Fatalf("UpdateKey with identity: got %+v, %v", updated, err)
	}

	changed, err := c.UpdateIdentity(ctx, i.ID, client.UpdateIdentityParams{ExternalID: "org_acme_2", NoRateLimit: true, Metadata: json.RawMessage("null")})
	if err != nil || changed.ExternalID != "org_acme_2" || changed.RateLimit != nil || changed.Metadata != nil && string(changed.Metadata) != "null" {
		t.Fatalf("UpdateIdentity: got %+v, %v", changed, err)
	}
	found, err := c.ListIdentities(ctx, client.IdentityListParams{ExternalID: "org_acme_2"})
	if err != nil || len(found.Data) != 1 || found.Data[0].ID != i.ID {
		t.Errorf("ListIdentities by external id: got %+v, %v", found, err)
	}
	if got, err := c.GetIdentity(ctx, i.ID); err != nil || got.ExternalID != "org_acme_2" {
		t.Errorf("GetIdentity: got %+v, %v", got, err)
	}

	_, err = c.DeleteIdentity(ctx, i.ID, false)
	if e := apiError(t, err, 409, "identity_in_use"); e.KeyCount != 2 {
		t.Errorf("KeyCount: got %d, want 2", e.KeyCount)
	}
	d, err := c.DeleteIdentity(ctx, i.ID, true)
	if err != nil || !d.Deleted || d.RevokedKeys != 2 {
		t.Fatalf("with its keys: got %+v, %v", d, err)
	}
	_, err = s.client(t, keys[0].Key).Whoami(ctx)
	apiError(t, err, 401, "revoked_api_key")
	_, err = c.GetIdentity(ctx, i.ID)
	apiError(t, err, 404, "not_found")
}

// TestClient_IdentityCredits: an identity is created with credits its
// keys share, and UpdateIdentity adds to, sets and removes them.
func TestClient_IdentityCredits(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	c := s.client(t, s.Owner)
	two := int64(2)
	i, err := c.CreateIdentity(ctx, client.IdentityParams{ExternalID: "org_acme", Remaining: &two,
		Refill: &client.Refill{Interval: client.RefillDaily, Amount: 10}})
	if err != nil || i.Remaining == nil || *i.Remaining != 2 || i.Refill == nil || i.Refill.Amount != 10 || i.NextRefill == nil {
		t.Fatalf("CreateIdentity with credits: got %+v, %v", i, err)
	}
	k, err := c.CreateKey(ctx, client.KeyParams{Name: "a", Permissions: []string{"candidate:read"}, IdentityID: i.ID})
	if err != nil {
		t.Fatal(err)
	}
	kc := s.client(t, k.Key)
	for range 2 {
		if _, err := kc.Whoami(ctx); err != nil {
			t.Fatalf("a request of the identity: %v", err)
		}
	}
	_, err = kc.Whoami(ctx)
	apiError(t, err, 403, "usage_exceeded")
	add := int64(5)
	changed, err := c.UpdateIdentity(ctx, i.ID, client.UpdateIdentityParams{Add: &add, NoRefill: true})
	if err != nil || changed.Remaining == nil || *changed.Remaining != 5 || changed.Refill != nil {
		t.Fatalf("UpdateIdentity add: got %+v, %v", changed, err)
	}
	if _, err := kc.Whoami(ctx); err != nil {
		t.Errorf("after credits were added: %v", err)
	}
	changed, err = c.UpdateIdentity(ctx, i.ID, client.UpdateIdentityParams{StopCounting: true})
	if err != nil || changed.Remaining != nil {
		t.Fatalf("UpdateIdentity stop counting: got %+v, %v", changed, err)
	}
}
