package client_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/pihu-ai/pihu/client"
)

// TestKeys_CreditsMetadataUpdateImport runs the client's calls for
// credits, metadata, updates and imports against the real server.
func TestKeys_CreditsMetadataUpdateImport(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	owner := s.client(t, s.Owner)
	two := int64(2)
	k, err := owner.CreateKey(ctx, client.KeyParams{Name: "metered", Permissions: []string{"candidate:read"},
		Metadata: json.RawMessage(`{"plan":"pro"}`), Remaining: &two, Refill: &client.Refill{Interval: client.RefillMonthly, Amount: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if string(k.Metadata) != `{"plan":"pro"}` || k.Remaining == nil || *k.Remaining != 2 || k.Refill == nil || k.Refill.Day != 1 || k.NextRefill == nil {
		t.Fatalf("created: %+v", k.KeyExtras)
	}

	verifier, err := owner.CreateKey(ctx, client.KeyParams{Name: "verifier", Permissions: []string{"api_key:verify"}})
	if err != nil {
		t.Fatal(err)
	}
	vc := s.client(t, verifier.Key)
	zero := int64(0)
	v, err := vc.Verify(ctx, client.VerifyParams{Key: k.Key, Cost: &two})
	if err != nil || !v.Valid || *v.Remaining != 0 || string(v.Metadata) != `{"plan":"pro"}` {
		t.Fatalf("verify: %+v, %v", v, err)
	}
	v, err = vc.Verify(ctx, client.VerifyParams{Key: k.Key, Cost: &zero})
	if err != nil || v.Valid || v.Code != client.VerifyUsageExceeded {
		t.Fatalf("verify with none left: %+v, %v", v, err)
	}
	_, err = s.client(t, k.Key).ListCandidates(ctx, client.ListParams{})
	apiError(t, err, 403, "usage_exceeded")

	add := int64(5)
	got, err := owner.UpdateKey(ctx, k.ID, client.UpdateKeyParams{Name: "renamed", Add: &add, Metadata: json.RawMessage("null"), NoRefill: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "renamed" || *got.Remaining != 5 || got.Refill != nil || (got.Metadata != nil && string(got.Metadata) != "null") {
		t.Fatalf("updated: %+v %+v", got, got.KeyExtras)
	}
	if _, err := s.client(t, k.Key).ListCandidates(ctx, client.ListParams{}); err != nil {
		t.Fatalf("after adding credits: %v", err)
	}
	_, err = owner.UpdateKey(ctx, k.ID, client.UpdateKeyParams{})
	apiError(t, err, 400, "parameter_missing")

	const secret = "sk_legacy_0123456789abcdefghij"
	imported, err := owner.ImportKeys(ctx, []client.ImportKeyParams{{Hash: client.HashSecret(secret), Name: "legacy", Permissions: []string{"candidate:read"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(imported.Data) != 1 || !imported.Data[0].Imported || imported.Data[0].Hint != "" {
		t.Fatalf("imported: %+v", imported.Data)
	}
	if _, err := s.client(t, secret).ListCandidates(ctx, client.ListParams{}); err != nil {
		t.Fatalf("the imported secret: %v", err)
	}
	_, err = owner.ImportKeys(ctx, []client.ImportKeyParams{{Hash: client.HashSecret(secret), Name: "again", Permissions: []string{"candidate:read"}}})
	apiError(t, err, 409, "key_exists")
}
