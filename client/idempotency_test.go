package client_test

import (
	"testing"

	"github.com/pihu-ai/pihu/client"
)

func TestClient_IdempotencyKey(t *testing.T) {
	s := newServer(t)
	owner := s.client(t, s.Owner)
	countKeys := func(t *testing.T) int {
		t.Helper()
		list, err := owner.ListKeys(t.Context(), client.ListParams{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(list.Data)
	}
	params := client.KeyParams{Name: "Deploy", Permissions: []string{"api_key:write"}}

	t.Run("CreateKeyRetried", func(t *testing.T) {
		before := countKeys(t)
		ctx := client.WithIdempotencyKey(t.Context(), client.NewIdempotencyKey())
		first, err := owner.CreateKey(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		retry, err := owner.CreateKey(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if first.Replayed() || !retry.Replayed() || retry.ID != first.ID || retry.Key != first.Key {
			t.Errorf("got %s (replayed %v) then %s (replayed %v), want one key, the second a replay",
				first.ID, first.Replayed(), retry.ID, retry.Replayed())
		}
		if n := countKeys(t); n != before+1 {
			t.Errorf("keys: got %d more, want 1", n-before)
		}
		_, err = owner.CreateKey(ctx, client.KeyParams{Name: "Other", Permissions: []string{"api_key:write"}})
		if e := apiError(t, err, 400, "idempotency_key_reused"); e.Param != "Idempotency-Key" {
			t.Errorf("param: got %q, want Idempotency-Key", e.Param)
		}
	})

	// The lockout the header prevents: a key rotating itself loses the
	// answer, and its retry still gets the new key.
	t.Run("RotateSelfRetried", func(t *testing.T) {
		self, err := owner.CreateKey(t.Context(), params)
		if err != nil {
			t.Fatal(err)
		}
		c := s.client(t, self.Key)
		ctx := client.WithIdempotencyKey(t.Context(), client.NewIdempotencyKey())
		first, err := c.RotateKey(ctx, self.ID, client.RotateParams{ExpireOldIn: "now"})
		if err != nil {
			t.Fatal(err)
		}
		retry, err := c.RotateKey(ctx, self.ID, client.RotateParams{ExpireOldIn: "now"})
		if err != nil {
			t.Fatalf("retry with the rotated key: %v", err)
		}
		if !retry.Replayed() || retry.Key != first.Key {
			t.Errorf("retry: got %s (replayed %v), want the replay of %s", retry.ID, retry.Replayed(), first.ID)
		}
		if _, err := s.client(t, retry.Key).Whoami(t.Context()); err != nil {
			t.Errorf("the new key: %v", err)
		}
	})

	t.Run("WithoutIdempotencyKey", func(t *testing.T) {
		before := countKeys(t)
		for range 2 {
			k, err := owner.CreateKey(t.Context(), params)
			if err != nil {
				t.Fatal(err)
			}
			if k.Replayed() {
				t.Error("Replayed: got true without an Idempotency-Key")
			}
		}
		if n := countKeys(t); n != before+2 {
			t.Errorf("keys: got %d more, want 2", n-before)
		}
	})

	t.Run("OnlyOnPost", func(t *testing.T) {
		ctx := client.WithIdempotencyKey(t.Context(), "") // invalid: refused on a POST
		if _, err := owner.ListKeys(ctx, client.ListParams{}); err != nil {
			t.Errorf("ListKeys: got %v, want the header not sent", err)
		}
		_, err := owner.CreateKey(ctx, params)
		apiError(t, err, 400, "parameter_invalid")
	})
}
