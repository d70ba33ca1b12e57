package client_test

import (
	"context"
	"testing"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/client"
)

func TestClient_Verify(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	owner := s.client(t, s.Owner)
	verifier, err := owner.CreateKey(ctx, client.KeyParams{Name: "gateway", Permissions: []string{"api_key:verify"}})
	if err != nil {
		t.Fatal(err)
	}
	presented, err := owner.CreateKey(ctx, client.KeyParams{Name: "customer", Permissions: []string{"candidate:read"}, RateLimit: "5/m"})
	if err != nil {
		t.Fatal(err)
	}
	c := s.client(t, verifier.Key)

	t.Run("Valid", func(t *testing.T) {
		v, err := c.Verify(ctx, client.VerifyParams{Key: presented.Key, Permissions: []string{"candidate:read"}})
		if err != nil {
			t.Fatal(err)
		}
		if !v.Valid || v.Code != client.VerifyValid || v.KeyID != presented.ID || v.AccountID == "" ||
			v.RateLimit == nil || v.RateLimit.Limit != 5 || v.RateLimit.Remaining != 4 {
			t.Errorf("got %+v (ratelimit %+v)", v, v.RateLimit)
		}
	})
	t.Run("InsufficientPermissions", func(t *testing.T) {
		v, err := c.Verify(ctx, client.VerifyParams{Key: presented.Key, Permissions: []string{"candidate:write"}})
		if err != nil {
			t.Fatal(err)
		}
		if v.Valid || v.Code != client.VerifyInsufficientPermissions {
			t.Errorf("got %+v", v)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		v, err := c.Verify(ctx, client.VerifyParams{Key: pihu.NewSecret(pihu.Live)})
		if err != nil {
			t.Fatal(err)
		}
		if v.Valid || v.Code != client.VerifyNotFound || v.KeyID != "" || v.RateLimit != nil {
			t.Errorf("got %+v", v)
		}
	})
	t.Run("AllowedIPs", func(t *testing.T) {
		office, err := owner.CreateKey(ctx, client.KeyParams{Name: "office", Permissions: []string{"candidate:read"}, AllowedIPs: []string{"203.0.113.0/24"}, Environment: "test"})
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.Verify(ctx, client.VerifyParams{Key: office.Key})
		if err != nil {
			t.Fatal(err)
		}
		if v.Valid || v.Code != client.VerifyIPNotAllowed || v.KeyID != office.ID || v.Environment != "test" {
			t.Errorf("without IP: got %+v", v)
		}
		v, err = c.Verify(ctx, client.VerifyParams{Key: office.Key, IP: "203.0.113.9"})
		if err != nil {
			t.Fatal(err)
		}
		if !v.Valid || v.Code != client.VerifyValid || v.Environment != "test" {
			t.Errorf("with IP inside: got %+v", v)
		}
	})
	t.Run("ErrNoPermission", func(t *testing.T) {
		_, err := s.client(t, presented.Key).Verify(ctx, client.VerifyParams{Key: verifier.Key})
		apiError(t, err, 403, "insufficient_permissions")
	})
	t.Run("ErrBadRequest", func(t *testing.T) {
		_, err := c.Verify(ctx, client.VerifyParams{Key: presented.Key, Permissions: []string{"nope"}})
		if e := apiError(t, err, 400, "parameter_invalid"); e.Param != "permissions" {
			t.Errorf("param: got %q, want permissions", e.Param)
		}
	})
}
