package storetest

import (
	"testing"

	"github.com/pihu-ai/pihu"
)

// testNamedLimits checks that the named limits of a key and of an
// identity are stored as given, come back with every read of the key (its
// identity's with it), and are replaced or cleared by an update.
func testNamedLimits(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	live := pihu.Scope{AccountID: a.ID, Environment: pihu.Live}
	creator := *owner
	i, err := pihu.NewIdentity(&creator, pihu.IdentityRequest{ExternalID: "org_1",
		RateLimits: map[string]string{"tokens": "50000/d", "images": "10/m"}}, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateIdentity(t.Context(), i); err != nil {
		t.Fatal(err)
	}
	k := childKey(t, owner, pihu.KeyRequest{Name: "K", Permissions: pihu.Permissions{"candidate:read"}, IdentityID: i.ID,
		RateLimits: map[string]string{"tokens": "1000/h"}}, epoch)
	mustCreateKey(t, s, k)

	check := func(what string, got pihu.NamedLimits, want string) {
		t.Helper()
		if got.Stored() != want || got.Err() != nil {
			t.Errorf("%s: got %q (%v), want %q", what, got.Stored(), got.Err(), want)
		}
	}
	stored, err := s.Identity(t.Context(), live, i.ID)
	if err != nil {
		t.Fatal(err)
	}
	check("the identity's", stored.RateLimits, "images=10/m,tokens=50000/d")
	byDigest, err := s.KeyByDigest(t.Context(), k.Digest)
	if err != nil {
		t.Fatal(err)
	}
	check("the key's", byDigest.RateLimits, "tokens=1000/h")
	check("the key's identity's", byDigest.Identity.RateLimits, "images=10/m,tokens=50000/d")
	byID, _ := s.Key(t.Context(), a.ID, k.ID)
	check("the key's, by id", byID.RateLimits, "tokens=1000/h")
	list, _, err := s.ListKeys(t.Context(), pihu.KeyFilter{AccountID: a.ID, Environment: pihu.Live, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		if l.ID == k.ID {
			check("the key's, listed", l.RateLimits, "tokens=1000/h")
		}
	}

	next, _ := pihu.ParseNamedLimits(map[string]string{"tokens": "500/h", "calls": "5/s"}, "ratelimits")
	got, err := s.UpdateKey(t.Context(), pihu.KeyUpdate{AccountID: a.ID, ID: k.ID, Apply: func(k *pihu.Key) error { k.RateLimits = next; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	check("the key's, updated", got.RateLimits, "calls=5/s,tokens=500/h")
	byDigest, _ = s.KeyByDigest(t.Context(), k.Digest)
	check("the key's, updated, read again", byDigest.RateLimits, "calls=5/s,tokens=500/h")
	if _, err := s.UpdateKey(t.Context(), pihu.KeyUpdate{AccountID: a.ID, ID: k.ID, Apply: func(k *pihu.Key) error { k.RateLimits = nil; return nil }}); err != nil {
		t.Fatal(err)
	}
	byDigest, _ = s.KeyByDigest(t.Context(), k.Digest)
	check("the key's, cleared", byDigest.RateLimits, "")

	change := &pihu.IdentityChange{RateLimits: pihu.Some(next)}
	if _, err := s.UpdateIdentity(t.Context(), pihu.IdentityUpdate{Scope: live, ID: i.ID,
		Apply: func(i *pihu.Identity) error { change.Apply(i, epoch); return nil }}); err != nil {
		t.Fatal(err)
	}
	stored, _ = s.Identity(t.Context(), live, i.ID)
	check("the identity's, updated", stored.RateLimits, "calls=5/s,tokens=500/h")
	byDigest, _ = s.KeyByDigest(t.Context(), k.Digest)
	check("the key's identity's, updated", byDigest.Identity.RateLimits, "calls=5/s,tokens=500/h")
}
