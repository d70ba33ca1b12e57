package auth_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
)

// TestIdentity_ChangeReachesCachedKeys: a cached key answers its identity
// with no read; a change of the identity (InvalidateIdentity) makes its
// keys, and only them, be read again once, with the identity as it is now.
func TestIdentity_ChangeReachesCachedKeys(t *testing.T) {
	f := newRoleFixture(t)
	ctx := context.Background()
	i, err := pihu.NewIdentity(f.owner, pihu.IdentityRequest{ExternalID: "org_acme", Metadata: json.RawMessage(`{"plan":"pro"}`)}, f.now)
	if err == nil {
		err = f.store.CreateIdentity(ctx, i)
	}
	if err != nil {
		t.Fatal(err)
	}
	var ofIdentity, others []string
	for n := range 6 {
		req := pihu.KeyRequest{Name: "k", Permissions: pihu.Permissions{"candidate:read"}}
		if n%2 == 0 {
			req.IdentityID = i.ID
		}
		k, secret, err := pihu.NewKey(f.owner.AccountID, req, f.owner, f.now)
		if err == nil {
			err = f.store.CreateKey(ctx, k)
		}
		if err != nil {
			t.Fatal(err)
		}
		if n%2 == 0 {
			ofIdentity = append(ofIdentity, secret)
		} else {
			others = append(others, secret)
		}
	}
	a := auth.New(f.store, auth.Options{Now: func() time.Time { return f.now }})
	all := append(append([]string{}, ofIdentity...), others...)
	for _, s := range all {
		if _, err := a.Authenticate(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	f.store.reset()
	for _, s := range ofIdentity {
		k, err := a.Authenticate(ctx, s)
		if err != nil || k.Identity == nil || k.Identity.ExternalID != "org_acme" || string(k.Identity.Metadata) != `{"plan":"pro"}` {
			t.Fatalf("a warm key of the identity: got %+v, %v", k, err)
		}
	}
	if keys, accounts, _ := f.store.counts(); keys != 0 || accounts != 0 {
		t.Fatalf("warm keys of an identity read the store: %d key and %d account reads", keys, accounts)
	}

	ext := "org_acme_2"
	change := &pihu.IdentityChange{ExternalID: &ext}
	if _, err := f.store.UpdateIdentity(ctx, pihu.IdentityUpdate{Scope: pihu.ScopeOf(f.owner), ID: i.ID,
		Apply: func(i *pihu.Identity) error { change.Apply(i, f.now); return nil }}); err != nil {
		t.Fatal(err)
	}
	a.InvalidateIdentity(i.ID)
	f.store.reset()
	for range 2 {
		for _, s := range all {
			k, err := a.Authenticate(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			if k.Identity != nil && k.Identity.ExternalID != ext {
				t.Errorf("a key of the changed identity answers %q, want %q", k.Identity.ExternalID, ext)
			}
		}
	}
	if keys, _, _ := f.store.counts(); keys != int64(len(ofIdentity)) {
		t.Errorf("after the identity changed: %d key reads, want %d (its keys, once each)", keys, len(ofIdentity))
	}
}
