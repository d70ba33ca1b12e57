package client_test

import (
	"context"
	"slices"
	"testing"

	"github.com/pihu-ai/pihu/client"
)

func TestClient_Roles(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	c := s.client(t, s.Owner)

	r, err := c.CreateRole(ctx, client.RoleParams{Name: "support", Description: "First line.", Permissions: []string{"candidate:read"}})
	if err != nil {
		t.Fatalf("CreateRole: %v", err)
	}
	if r.Name != "support" || r.Description != "First line." || !slices.Equal(r.Permissions, []string{"candidate:read"}) || r.Created.IsZero() || r.RequestID() == "" {
		t.Errorf("got %+v", r)
	}
	_, err = c.CreateRole(ctx, client.RoleParams{Name: "support", Permissions: []string{"candidate:read"}})
	apiError(t, err, 409, "role_exists")

	k, err := c.CreateKey(ctx, client.KeyParams{Name: "Support", Roles: []string{r.ID}})
	if err != nil {
		t.Fatalf("CreateKey with a role: %v", err)
	}
	if !slices.Equal(k.Roles, []string{r.ID}) || len(k.Permissions) != 0 {
		t.Errorf("created: got roles %v, permissions %v", k.Roles, k.Permissions)
	}
	who, err := s.client(t, k.Key).Whoami(ctx)
	if err != nil || !slices.Equal(who.Key.Roles, []string{r.ID}) {
		t.Errorf("whoami: got %+v, %v", who, err)
	}
	if _, err := s.client(t, k.Key).ListCandidates(ctx, client.ListParams{}); err != nil {
		t.Errorf("candidates through the role: %v", err)
	}

	desc := ""
	r, err = c.UpdateRole(ctx, r.ID, client.UpdateRoleParams{Description: &desc, Permissions: []string{"interview:read"}})
	if err != nil || r.Description != "" || !slices.Equal(r.Permissions, []string{"interview:read"}) {
		t.Fatalf("UpdateRole: got %+v, %v", r, err)
	}
	_, err = s.client(t, k.Key).ListCandidates(ctx, client.ListParams{})
	apiError(t, err, 403, "insufficient_permissions")

	got, err := c.GetRole(ctx, r.ID)
	if err != nil || got.ID != r.ID {
		t.Errorf("GetRole: got %+v, %v", got, err)
	}
	list, err := c.ListRoles(ctx, client.ListParams{Limit: 1})
	if err != nil || len(list.Data) != 1 || list.Data[0].ID != r.ID || list.HasMore {
		t.Errorf("ListRoles: got %+v, %v", list, err)
	}

	other, err := c.CreateKey(ctx, client.KeyParams{Name: "Other", Permissions: []string{"webhook:read"}})
	if err != nil {
		t.Fatal(err)
	}
	updated, err := c.UpdateKey(ctx, other.ID, client.UpdateKeyParams{Roles: []string{r.ID}})
	if err != nil || !slices.Equal(updated.Roles, []string{r.ID}) {
		t.Fatalf("UpdateKey roles: got %+v, %v", updated, err)
	}
	if updated, err = c.UpdateKey(ctx, other.ID, client.UpdateKeyParams{NoRoles: true}); err != nil || len(updated.Roles) != 0 {
		t.Fatalf("UpdateKey without roles: got %+v, %v", updated, err)
	}

	_, err = c.DeleteRole(ctx, r.ID, false)
	if e := apiError(t, err, 409, "role_in_use"); e.KeyCount != 1 {
		t.Errorf("KeyCount: got %d, want 1", e.KeyCount)
	}
	d, err := c.DeleteRole(ctx, r.ID, true)
	if err != nil || !d.Deleted || d.KeyCount != 1 {
		t.Fatalf("forced: got %+v, %v", d, err)
	}
	_, err = c.GetRole(ctx, r.ID)
	apiError(t, err, 404, "not_found")
}
