package client_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/client"
)

// newKey creates a key through c, failing the test if it cannot.
func newKey(tb testing.TB, c *client.Client, p client.KeyParams) *client.CreatedKey {
	tb.Helper()
	k, err := c.CreateKey(context.Background(), p)
	if err != nil {
		tb.Fatalf("CreateKey(%q): %v", p.Name, err)
	}
	return k
}

func TestClient_RevokeKey(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	owner := s.client(t, s.Owner)

	t.Run("Revoked", func(t *testing.T) {
		k := newKey(t, owner, client.KeyParams{Name: "CI runner", Permissions: []string{"candidate:read"}, Expiration: "30d"})
		// The key works before.
		if _, err := s.client(t, k.Key).Whoami(ctx); err != nil {
			t.Fatalf("Whoami before revocation: %v", err)
		}

		got, err := owner.RevokeKey(ctx, k.ID)
		if err != nil {
			t.Fatalf("RevokeKey: %v", err)
		}
		if !got.Revoked || got.ID != k.ID || got.Name != "CI runner" || got.Environment != "live" ||
			!slices.Equal(got.Permissions, []string{"candidate:read"}) || !got.Created.Equal(k.Created) ||
			got.Expires == nil || !got.Expires.Equal(*k.Expires) || got.Hint != pihu.Hint(k.Key) {
			t.Errorf("RevokeKey: got %+v", got)
		}
		if raw := string(got.RawJSON()); !strings.Contains(raw, `"revoked":true`) || strings.Contains(raw, k.Key) {
			t.Errorf("RevokeKey: raw %s", raw)
		}
		if !strings.HasPrefix(got.RequestID(), "req_") {
			t.Errorf("RevokeKey: request id %q", got.RequestID())
		}

		// At once: the next call with the key is refused.
		_, err = s.client(t, k.Key).Whoami(ctx)
		if e := apiError(t, err, 401, "revoked_api_key"); e.Type != "authentication_error" {
			t.Errorf("type: got %q, want authentication_error", e.Type)
		}
		if strings.Contains(err.Error(), k.Key[8:]) {
			t.Errorf("the error holds the key: %v", err)
		}

		// It has left the list: get and a second revocation are 404.
		_, err = owner.GetKey(ctx, k.ID)
		apiError(t, err, 404, "not_found")
		_, err = owner.RevokeKey(ctx, k.ID)
		apiError(t, err, 404, "not_found")
	})
	t.Run("ItsOwnKey", func(t *testing.T) {
		k := newKey(t, owner, client.KeyParams{Name: "self", Permissions: []string{"api_key:write"}})
		c := s.client(t, k.Key)
		if got, err := c.RevokeKey(ctx, k.ID); err != nil || !got.Revoked {
			t.Fatalf("RevokeKey of itself: got %+v, %v", got, err)
		}
		_, err := c.Whoami(ctx)
		apiError(t, err, 401, "revoked_api_key")
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := owner.RevokeKey(ctx, "key_nope")
		apiError(t, err, 404, "not_found")
	})
	t.Run("ErrOtherAccount", func(t *testing.T) {
		other := s.client(t, s.newAccount(t, "Other"))
		theirs := newKey(t, other, client.KeyParams{Name: "theirs", Permissions: []string{"candidate:read"}})
		_, err := owner.RevokeKey(ctx, theirs.ID)
		apiError(t, err, 404, "not_found")
		// Their key still works.
		if _, err := s.client(t, theirs.Key).Whoami(ctx); err != nil {
			t.Errorf("Whoami with the other account's key: %v", err)
		}
	})
	t.Run("ErrNoPermission", func(t *testing.T) {
		reader := newKey(t, owner, client.KeyParams{Name: "reader", Permissions: []string{"api_key:read"}})
		target := newKey(t, owner, client.KeyParams{Name: "target", Permissions: []string{"candidate:read"}})
		_, err := s.client(t, reader.Key).RevokeKey(ctx, target.ID)
		if e := apiError(t, err, 403, "insufficient_permissions"); e.Required != "api_key:write" {
			t.Errorf("required: got %q, want api_key:write", e.Required)
		}
		if _, err := owner.GetKey(ctx, target.ID); err != nil {
			t.Errorf("the key is gone after a refused revocation: %v", err)
		}
	})
}

func TestClient_RevokeKeyWith(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	owner := s.client(t, s.Owner)
	parent := newKey(t, owner, client.KeyParams{Name: "parent", Permissions: []string{"api_key:write", "candidate:read"}})
	if parent.CreatedBy == nil || *parent.CreatedBy == "" {
		t.Errorf("CreatedBy: got %v, want the owner key's id", parent.CreatedBy)
	}
	child := newKey(t, s.client(t, parent.Key), client.KeyParams{Name: "child", Permissions: []string{"candidate:read"}})
	if child.CreatedBy == nil || *child.CreatedBy != parent.ID {
		t.Errorf("CreatedBy: got %v, want %s", child.CreatedBy, parent.ID)
	}
	got, err := owner.RevokeKeyWith(ctx, parent.ID, client.RevokeParams{Cascade: true})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Revoked || got.RevokedDescendants != 1 {
		t.Errorf("got revoked %v with %d descendants, want true and 1", got.Revoked, got.RevokedDescendants)
	}
	_, err = s.client(t, child.Key).Whoami(ctx)
	apiError(t, err, 401, "revoked_api_key")
}

func TestClient_RotateKey(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	owner := s.client(t, s.Owner)

	t.Run("Now", func(t *testing.T) {
		old := newKey(t, owner, client.KeyParams{
			Name: "CI runner", Permissions: []string{"candidate:read", "interview:write"}, Expiration: "30d", Environment: "test",
		})
		next, err := owner.RotateKey(ctx, old.ID, client.RotateParams{})
		if err != nil {
			t.Fatalf("RotateKey: %v", err)
		}
		if next.ID == old.ID || !strings.HasPrefix(next.ID, "key_") || next.Key == old.Key {
			t.Errorf("RotateKey: got id %q, the old one %q", next.ID, old.ID)
		}
		if env, ok := pihu.ParseSecret(next.Key); !ok || env != pihu.Test {
			t.Errorf("RotateKey: the new key does not parse as a test key")
		}
		if next.RotatedFrom != old.ID || next.Name != old.Name || next.Environment != "test" ||
			!slices.Equal(next.Permissions, old.Permissions) {
			t.Errorf("RotateKey: got %+v, want the settings of %+v", next, old)
		}
		if next.Expires == nil || next.Expires.Sub(next.Created) != 30*24*time.Hour {
			t.Errorf("RotateKey: expires %v, created %v; want the old lifetime of 30 days from now", next.Expires, next.Created)
		}
		if raw := string(next.RawJSON()); !strings.Contains(raw, `"rotated_from":"`+old.ID+`"`) {
			t.Errorf("RotateKey: raw %s", raw)
		}

		// The new key works; the old one is refused at once.
		who, err := s.client(t, next.Key).Whoami(ctx)
		if err != nil {
			t.Fatalf("Whoami with the new key: %v", err)
		}
		if who.Key.ID != next.ID || who.Key.Name != "CI runner" || who.Key.Environment != "test" {
			t.Errorf("Whoami with the new key: got %+v", who.Key)
		}
		_, err = s.client(t, old.Key).Whoami(ctx)
		apiError(t, err, 401, "revoked_api_key")
		_, err = owner.GetKey(ctx, old.ID)
		apiError(t, err, 404, "not_found")

		// A revoked key cannot be rotated again.
		_, err = owner.RotateKey(ctx, old.ID, client.RotateParams{})
		apiError(t, err, 404, "not_found")
	})
	t.Run("ExplicitNow", func(t *testing.T) {
		old := newKey(t, owner, client.KeyParams{Name: "explicit", Permissions: []string{"candidate:read"}})
		next, err := owner.RotateKey(ctx, old.ID, client.RotateParams{ExpireOldIn: "now"})
		if err != nil {
			t.Fatalf("RotateKey: %v", err)
		}
		if next.Expires != nil {
			t.Errorf("RotateKey of a key that never expires: expires %v, want nil", next.Expires)
		}
		_, err = s.client(t, old.Key).Whoami(ctx)
		apiError(t, err, 401, "revoked_api_key")
	})
	t.Run("GracePeriod", func(t *testing.T) {
		old := newKey(t, owner, client.KeyParams{Name: "deploy", Permissions: []string{"candidate:read"}})
		next, err := owner.RotateKey(ctx, old.ID, client.RotateParams{ExpireOldIn: "24h"})
		if err != nil {
			t.Fatalf("RotateKey: %v", err)
		}
		if next.RotatedFrom != old.ID {
			t.Errorf("rotated from: got %q, want %q", next.RotatedFrom, old.ID)
		}
		// Both keys work during the grace period.
		for name, key := range map[string]string{"old": old.Key, "new": next.Key} {
			if _, err := s.client(t, key).Whoami(ctx); err != nil {
				t.Errorf("Whoami with the %s key: %v", name, err)
			}
		}
		// The old key now expires 24 h after the rotation.
		got, err := owner.GetKey(ctx, old.ID)
		if err != nil {
			t.Fatalf("GetKey of the old key: %v", err)
		}
		want := next.Created.Add(24 * time.Hour)
		if got.Expires == nil || !got.Expires.Equal(want) {
			t.Errorf("old key expires: got %v, want %v", got.Expires, want)
		}
		if d := time.Until(want); d < 23*time.Hour || d > 25*time.Hour {
			t.Errorf("old key expires in %v, want about 24h", d)
		}
		if got.Revoked {
			t.Errorf("old key: got revoked during its grace period")
		}
	})
	t.Run("ErrExpireOldInInvalid", func(t *testing.T) {
		old := newKey(t, owner, client.KeyParams{Name: "bad grace", Permissions: []string{"candidate:read"}})
		for _, v := range []string{"tomorrow", "24", "-1h", "1y"} {
			_, err := owner.RotateKey(ctx, old.ID, client.RotateParams{ExpireOldIn: v})
			if e := apiError(t, err, 400, "parameter_invalid"); e.Param != "expire_old_in" {
				t.Errorf("ExpireOldIn %q: param: got %q, want expire_old_in", v, e.Param)
			}
		}
		// Nothing happened: the key still works and no successor exists.
		if _, err := s.client(t, old.Key).Whoami(ctx); err != nil {
			t.Errorf("Whoami after refused rotations: %v", err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := owner.RotateKey(ctx, "key_nope", client.RotateParams{})
		apiError(t, err, 404, "not_found")
		_, err = owner.RotateKey(ctx, "key_nope", client.RotateParams{ExpireOldIn: "24h"})
		apiError(t, err, 404, "not_found")
	})
	t.Run("ErrOtherAccount", func(t *testing.T) {
		other := s.client(t, s.newAccount(t, "Other"))
		theirs := newKey(t, other, client.KeyParams{Name: "theirs", Permissions: []string{"candidate:read"}})
		_, err := owner.RotateKey(ctx, theirs.ID, client.RotateParams{})
		apiError(t, err, 404, "not_found")
		if _, err := s.client(t, theirs.Key).Whoami(ctx); err != nil {
			t.Errorf("Whoami with the other account's key: %v", err)
		}
	})
	t.Run("ErrNoPermission", func(t *testing.T) {
		reader := newKey(t, owner, client.KeyParams{Name: "reader", Permissions: []string{"api_key:read"}})
		_, err := s.client(t, reader.Key).RotateKey(ctx, reader.ID, client.RotateParams{})
		if e := apiError(t, err, 403, "insufficient_permissions"); e.Required != "api_key:write" {
			t.Errorf("required: got %q, want api_key:write", e.Required)
		}
	})
	t.Run("DotSegmentsRefused", func(t *testing.T) {
		for _, id := range []string{"", ".", ".."} {
			if _, err := owner.RotateKey(ctx, id, client.RotateParams{}); err == nil || errors.As(err, new(*client.Error)) {
				t.Errorf("RotateKey(%q): got %v, want a client-side error", id, err)
			}
		}
	})
}
