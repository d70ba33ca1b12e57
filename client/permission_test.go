package client_test

import (
	"context"
	"testing"

	"github.com/pihu-ai/pihu/client"
)

func TestClient_Permissions(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	c := s.client(t, s.Owner)

	p, err := c.CreatePermission(ctx, client.PermissionParams{Name: "billing:read", Description: "Read invoices."})
	if err != nil {
		t.Fatalf("CreatePermission: %v", err)
	}
	if p.Name != "billing:read" || p.Source != "account" || p.Created == nil || p.RequestID() == "" {
		t.Errorf("got %+v", p)
	}
	_, err = c.CreatePermission(ctx, client.PermissionParams{Name: "billing:read"})
	apiError(t, err, 409, "permission_exists")

	list, err := c.ListPermissions(ctx)
	if err != nil {
		t.Fatalf("ListPermissions: %v", err)
	}
	last := list.Data[len(list.Data)-1]
	if last.Name != "billing:read" || last.Description != "Read invoices." || list.Data[0].Source != "built_in" || list.Data[0].Created != nil {
		t.Errorf("got %+v", list.Data)
	}

	if _, err := c.CreateKey(ctx, client.KeyParams{Name: "Billing", Permissions: []string{"billing:read"}}); err != nil {
		t.Fatalf("CreateKey with a defined permission: %v", err)
	}
	_, err = c.DeletePermission(ctx, "billing:read", false)
	if e := apiError(t, err, 409, "permission_in_use"); e.KeyCount != 1 {
		t.Errorf("KeyCount: got %d, want 1", e.KeyCount)
	}
	d, err := c.DeletePermission(ctx, "billing:read", true)
	if err != nil || !d.Deleted || d.KeyCount != 1 {
		t.Fatalf("forced: got %+v, %v", d, err)
	}
	_, err = c.DeletePermission(ctx, "billing:read", false)
	apiError(t, err, 404, "not_found")
}
