package client_test

import (
	"context"
	"testing"

	"github.com/pihu-ai/pihu/client"
)

// TestClient_NamedLimits: a key's and an identity's named limits through
// create, update and verify.
func TestClient_NamedLimits(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	c := s.client(t, s.Owner)
	i, err := c.CreateIdentity(ctx, client.IdentityParams{ExternalID: "org_1", RateLimits: map[string]string{"images": "2/m"}})
	if err != nil || i.RateLimits["images"] != "2/m" {
		t.Fatalf("CreateIdentity: %+v, %v", i, err)
	}
	k, err := c.CreateKey(ctx, client.KeyParams{Name: "llm", Permissions: []string{"candidate:read"},
		RateLimits: map[string]string{"tokens": "100/m"}})
	if err != nil || k.RateLimits["tokens"] != "100/m" {
		t.Fatalf("CreateKey: %+v, %v", k, err)
	}
	u, err := c.UpdateKey(ctx, k.ID, client.UpdateKeyParams{RateLimits: map[string]string{"tokens": "50/m"}, IdentityID: i.ID})
	if err != nil || len(u.RateLimits) != 1 || u.RateLimits["tokens"] != "50/m" {
		t.Fatalf("UpdateKey: %+v, %v", u, err)
	}
	cost := 30
	v, err := c.Verify(ctx, client.VerifyParams{Key: k.Key, RateLimits: []client.LimitSpend{{Name: "tokens", Cost: &cost}, {Name: "images"}, {Name: "audio"}}})
	if err != nil || !v.Valid || len(v.RateLimits) != 3 || *v.RateLimits[0].Remaining != 20 || *v.RateLimits[1].Remaining != 1 || v.RateLimits[2].Defined {
		t.Fatalf("Verify: %+v, %v", v, err)
	}
	v, err = c.Verify(ctx, client.VerifyParams{Key: k.Key, RateLimits: []client.LimitSpend{{Name: "tokens", Cost: &cost}}})
	if err != nil || v.Valid || v.Code != client.VerifyRateLimited {
		t.Fatalf("Verify 30 of 20 left: %+v, %v", v, err)
	}
	u, err = c.UpdateKey(ctx, k.ID, client.UpdateKeyParams{NoRateLimits: true})
	if err != nil || len(u.RateLimits) != 0 {
		t.Fatalf("UpdateKey NoRateLimits: %+v, %v", u, err)
	}
	ci, err := c.UpdateIdentity(ctx, i.ID, client.UpdateIdentityParams{NoRateLimits: true})
	if err != nil || len(ci.RateLimits) != 0 {
		t.Fatalf("UpdateIdentity NoRateLimits: %+v, %v", ci, err)
	}
}
