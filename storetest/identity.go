package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func runIdentities(t *testing.T, run runFunc) {
	run(t, "CreateAndGet", testIdentitiesCreateAndGet)
	run(t, "ExternalIDUniquePerScope", testIdentitiesExternalIDUnique)
	run(t, "ListPagination", testIdentitiesListPagination)
	run(t, "KeyIdentityRoundTrip", testIdentitiesKeyRoundTrip)
	run(t, "KeyIdentityMustBeTheScopes", testIdentitiesKeyMustBeTheScopes)
	run(t, "UpdateKeyIdentity", testIdentitiesUpdateKey)
	run(t, "Update", testIdentitiesUpdate)
	run(t, "DeleteUnused", testIdentitiesDeleteUnused)
	run(t, "DeleteInUse", testIdentitiesDeleteInUse)
	run(t, "DeleteRevokesKeys", testIdentitiesDeleteRevokesKeys)
	run(t, "RotationKeepsIdentity", testIdentitiesRotation)
	run(t, "NamedLimits", testNamedLimits)
}

// mustIdentity stores an identity of external id ext in owner's account
// and the environment env, with a rate limit if limit is not "".
func mustIdentity(tb testing.TB, s pihu.Store, owner *pihu.Key, env pihu.Environment, ext, limit string) *pihu.Identity {
	tb.Helper()
	creator := *owner
	creator.Environment = env
	req := pihu.IdentityRequest{ExternalID: ext, Metadata: json.RawMessage(`{"plan":"pro"}`)}
	if limit != "" {
		req.RateLimit = &limit
	}
	i, err := pihu.NewIdentity(&creator, req, epoch)
	if err != nil {
		tb.Fatalf("NewIdentity: %v", err)
	}
	if err := s.CreateIdentity(tb.Context(), i); err != nil {
		tb.Fatalf("CreateIdentity(%s): %v", ext, err)
	}
	return i
}

// identityKey builds a key made by owner for identity id, in env.
func identityKey(tb testing.TB, owner *pihu.Key, name string, env pihu.Environment, id string) *pihu.Key {
	tb.Helper()
	return childKey(tb, owner, pihu.KeyRequest{Name: name, Permissions: pihu.Permissions{"candidate:read"}, Environment: env, IdentityID: id}, epoch)
}

func checkIdentity(tb testing.TB, got, want *pihu.Identity) {
	tb.Helper()
	if got.ID != want.ID || got.AccountID != want.AccountID || got.Environment != want.Environment || got.ExternalID != want.ExternalID ||
		string(got.Metadata) != string(want.Metadata) || got.RateLimit != want.RateLimit ||
		!got.Created.Equal(want.Created) || !got.Updated.Equal(want.Updated) || got.Created.Location() != time.UTC {
		tb.Errorf("identity: got %+v, want %+v", got, want)
	}
}

// checkKeyIdentity checks what a key read from the store says of its
// identity: want's id, external id, metadata and rate limit, or none.
func checkKeyIdentity(tb testing.TB, what string, k *pihu.Key, want *pihu.Identity) {
	tb.Helper()
	switch got := k.Identity; {
	case want == nil && got != nil:
		tb.Errorf("%s: identity %+v, want none", what, got)
	case want == nil:
	case got == nil:
		tb.Errorf("%s: no identity, want %s", what, want.ID)
	case got.ID != want.ID || got.ExternalID != want.ExternalID || string(got.Metadata) != string(want.Metadata) ||
		got.RateLimit != want.RateLimit || got.AccountID != k.AccountID || got.Environment != k.Environment:
		tb.Errorf("%s: identity %+v, want %+v", what, got, want)
	}
}

// testIdentitiesCreateAndGet checks that an identity comes back as
// stored, in its scope only: not to the account's other environment, nor
// to another account.
func testIdentitiesCreateAndGet(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	_, other := mustCreateAccount(t, s, "Other")
	i := mustIdentity(t, s, owner, pihu.Live, "user_42", "100/m")
	got, err := s.Identity(t.Context(), pihu.Scope{AccountID: a.ID, Environment: pihu.Live}, i.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkIdentity(t, got, i)
	for _, sc := range []pihu.Scope{{AccountID: a.ID, Environment: pihu.Test}, {AccountID: other.AccountID, Environment: pihu.Live}} {
		_, err := s.Identity(t.Context(), sc, i.ID)
		checkError(t, err, pihu.ENotFound, "")
	}
}

// testIdentitiesExternalIDUnique checks that an external id names one
// identity of an account and environment, that the other environment
// and another account may have one of the same, and that a deleted
// identity's external id is free again.
func testIdentitiesExternalIDUnique(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	_, other := mustCreateAccount(t, s, "Other")
	first := mustIdentity(t, s, owner, pihu.Live, "org_acme", "")
	again, _ := pihu.NewIdentity(owner, pihu.IdentityRequest{ExternalID: "org_acme"}, epoch)
	checkError(t, s.CreateIdentity(t.Context(), again), pihu.EIdentityExists, "external_id")
	mustIdentity(t, s, owner, pihu.Test, "org_acme", "")
	mustIdentity(t, s, other, pihu.Live, "org_acme", "")
	if _, _, err := s.DeleteIdentity(t.Context(), pihu.IdentityDeletion{Scope: pihu.Scope{AccountID: a.ID, Environment: pihu.Live}, ID: first.ID, At: epoch}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateIdentity(t.Context(), again); err != nil {
		t.Errorf("the external id of a deleted identity: got %v, want it free", err)
	}
}

// testIdentitiesListPagination checks that identities page newest first
// within their scope, that a deleted one's id is still a cursor, that an
// unknown or other environment's id is EParameterInvalid, and the filter
// by external id.
func testIdentitiesListPagination(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	live := pihu.Scope{AccountID: a.ID, Environment: pihu.Live}
	var all []*pihu.Identity
	for n := range 5 {
		all = append(all, mustIdentity(t, s, owner, pihu.Live, fmt.Sprintf("user_%d", n), ""))
	}
	testOne := mustIdentity(t, s, owner, pihu.Test, "user_test", "")
	if _, _, err := s.DeleteIdentity(t.Context(), pihu.IdentityDeletion{Scope: live, ID: all[2].ID, At: epoch}); err != nil {
		t.Fatal(err)
	}
	page, more, err := s.ListIdentities(t.Context(), pihu.IdentityFilter{Scope: live, Page: pihu.Page{Limit: 2}})
	if err != nil || !more || len(page) != 2 || page[0].ID != all[4].ID || page[1].ID != all[3].ID {
		t.Fatalf("first page: got %v, %v, %v; want user_4, user_3 and more", externalIDs(page), more, err)
	}
	page, more, err = s.ListIdentities(t.Context(), pihu.IdentityFilter{Scope: live, Page: pihu.Page{Limit: 2, StartingAfter: all[2].ID}})
	if err != nil || more || len(page) != 2 || page[0].ID != all[1].ID || page[1].ID != all[0].ID {
		t.Errorf("after the deleted one: got %v, %v, %v; want user_1, user_0", externalIDs(page), more, err)
	}
	_, _, err = s.ListIdentities(t.Context(), pihu.IdentityFilter{Scope: live, Page: pihu.Page{StartingAfter: pihu.NewID(pihu.PrefixIdentity)}})
	checkError(t, err, pihu.EParameterInvalid, "starting_after")
	_, _, err = s.ListIdentities(t.Context(), pihu.IdentityFilter{Scope: live, Page: pihu.Page{StartingAfter: testOne.ID}})
	checkError(t, err, pihu.EParameterInvalid, "starting_after")
	page, _, err = s.ListIdentities(t.Context(), pihu.IdentityFilter{Scope: live, ExternalID: "user_3"})
	if err != nil || len(page) != 1 || page[0].ID != all[3].ID {
		t.Errorf("by external id: got %v, %v; want user_3", externalIDs(page), err)
	}
	page, _, err = s.ListIdentities(t.Context(), pihu.IdentityFilter{Scope: pihu.Scope{AccountID: a.ID, Environment: pihu.Test}})
	if err != nil || len(page) != 1 || page[0].ID != testOne.ID {
		t.Errorf("test scope: got %v, %v; want user_test only", externalIDs(page), err)
	}
}

func externalIDs(is []*pihu.Identity) []string {
	out := make([]string, len(is))
	for n, i := range is {
		out[n] = i.ExternalID
	}
	return out
}

// testIdentitiesKeyRoundTrip checks that every read of a key returns its
// identity (id, external id, metadata, rate limit), and that the keys
// list filters by identity.
func testIdentitiesKeyRoundTrip(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	i := mustIdentity(t, s, owner, pihu.Live, "user_42", "5/m")
	k := identityKey(t, owner, "K1", pihu.Live, i.ID)
	mustCreateKey(t, s, k)
	checkKeyIdentity(t, "CreateKey's key", k, i)
	k2 := identityKey(t, owner, "K2", pihu.Live, i.ID)
	mustCreateKey(t, s, k2)
	plain := childKey(t, owner, readKey("Plain"), epoch)
	mustCreateKey(t, s, plain)

	byDigest, err := s.KeyByDigest(t.Context(), k.Digest)
	if err != nil {
		t.Fatal(err)
	}
	checkKeyIdentity(t, "KeyByDigest", byDigest, i)
	byID, err := s.Key(t.Context(), a.ID, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkKeyIdentity(t, "Key", byID, i)
	got, err := s.Key(t.Context(), a.ID, plain.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkKeyIdentity(t, "a key without identity", got, nil)
	keys, _ := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Identity: i.ID})
	checkKeys(t, keys, []*pihu.Key{k2, k})
	for _, k := range keys {
		checkKeyIdentity(t, "ListKeys", k, i)
	}
	if keys, _ := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Identity: pihu.NewID(pihu.PrefixIdentity)}); len(keys) != 0 {
		t.Errorf("keys of an unknown identity: got %d, want none", len(keys))
	}
	// IdentityKeys: every key, revoked ones included, oldest first; none
	// for another account.
	if _, err := s.RevokeKey(t.Context(), a.ID, k2.ID, epoch.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	ids, err := s.IdentityKeys(t.Context(), a.ID, i.ID)
	if err != nil || len(ids) != 2 || ids[0] != k.ID || ids[1] != k2.ID {
		t.Errorf("IdentityKeys: got %v, %v; want K1 and the revoked K2", ids, err)
	}
	_, other := mustCreateAccount(t, s, "Other")
	if ids, err := s.IdentityKeys(t.Context(), other.AccountID, i.ID); err != nil || len(ids) != 0 {
		t.Errorf("IdentityKeys of another account: got %v, %v; want none", ids, err)
	}
}

// testIdentitiesKeyMustBeTheScopes checks that a key may have only an
// identity of its own account and environment: another's is
// EParameterInvalid on "identity_id", and nothing is stored.
func testIdentitiesKeyMustBeTheScopes(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	_, other := mustCreateAccount(t, s, "Other")
	testOne := mustIdentity(t, s, owner, pihu.Test, "user_test", "")
	otherOne := mustIdentity(t, s, other, pihu.Live, "user_other", "")
	for _, id := range []string{testOne.ID, otherOne.ID, pihu.NewID(pihu.PrefixIdentity)} {
		k := identityKey(t, owner, "K", pihu.Live, id)
		checkError(t, s.CreateKey(t.Context(), k), pihu.EParameterInvalid, "identity_id")
		if _, err := s.Key(t.Context(), a.ID, k.ID); pihu.ErrorCode(err) != pihu.ENotFound {
			t.Errorf("a key refused for its identity: got %v, want it not stored", err)
		}
	}
	k := identityKey(t, owner, "Test key", pihu.Test, testOne.ID)
	mustCreateKey(t, s, k)
	checkKeyIdentity(t, "a test key of a test identity", k, testOne)
}

// testIdentitiesUpdateKey checks that UpdateKey gives a key an identity,
// checked as CreateKey checks it, and takes it away.
func testIdentitiesUpdateKey(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	i := mustIdentity(t, s, owner, pihu.Live, "user_42", "10/s")
	testOne := mustIdentity(t, s, owner, pihu.Test, "user_test", "")
	k := childKey(t, owner, readKey("K"), epoch)
	mustCreateKey(t, s, k)
	set := func(id string) (*pihu.Key, error) {
		return s.UpdateKey(t.Context(), pihu.KeyUpdate{AccountID: a.ID, ID: k.ID, Apply: func(k *pihu.Key) error {
			k.Identity = nil
			if id != "" {
				k.Identity = &pihu.Identity{ID: id}
			}
			return nil
		}})
	}
	got, err := set(i.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkKeyIdentity(t, "UpdateKey's answer", got, i)
	stored, _ := s.KeyByDigest(t.Context(), k.Digest)
	checkKeyIdentity(t, "the key given an identity", stored, i)
	_, err = set(testOne.ID)
	checkError(t, err, pihu.EParameterInvalid, "identity_id")
	stored, _ = s.KeyByDigest(t.Context(), k.Digest)
	checkKeyIdentity(t, "the key refused another environment's identity", stored, i)
	if _, err := set(""); err != nil {
		t.Fatal(err)
	}
	stored, _ = s.KeyByDigest(t.Context(), k.Digest)
	checkKeyIdentity(t, "the key whose identity was taken", stored, nil)
}

// testIdentitiesUpdate checks that a change of an identity is stored,
// recorded, and seen by every read of its keys; that an external id of
// another identity is EIdentityExists; that Apply may refuse; and that
// another scope's identity is not found.
func testIdentitiesUpdate(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	live := pihu.Scope{AccountID: a.ID, Environment: pihu.Live}
	i := mustIdentity(t, s, owner, pihu.Live, "user_42", "")
	mustIdentity(t, s, owner, pihu.Live, "user_43", "")
	k := identityKey(t, owner, "K", pihu.Live, i.ID)
	mustCreateKey(t, s, k)
	limit := pihu.StoredRateLimit("3/m")
	ext := "user_42b"
	change := &pihu.IdentityChange{ExternalID: &ext, Metadata: pihu.Some(json.RawMessage(`{"plan":"team"}`)), RateLimit: pihu.Some(limit)}
	if err := change.Validate(); err != nil {
		t.Fatal(err)
	}
	at := epoch.Add(time.Hour)
	got, err := s.UpdateIdentity(t.Context(), pihu.IdentityUpdate{Scope: live, ID: i.ID,
		Apply: func(i *pihu.Identity) error { change.Apply(i, at); return nil },
		Event: func(i *pihu.Identity) *pihu.AuditEvent {
			return pihu.NewIdentityEvent(pihu.ActionIdentityUpdated, owner.ID, "", i, at)
		}})
	if err != nil {
		t.Fatal(err)
	}
	want := *i
	want.ExternalID, want.Metadata, want.RateLimit, want.Updated = ext, json.RawMessage(`{"plan":"team"}`), limit, at
	checkIdentity(t, got, &want)
	stored, _ := s.Identity(t.Context(), live, i.ID)
	checkIdentity(t, stored, &want)
	byDigest, _ := s.KeyByDigest(t.Context(), k.Digest)
	checkKeyIdentity(t, "the key of the changed identity", byDigest, &want)
	events, _, err := s.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: a.ID, Target: i.ID})
	if err != nil || len(events) != 1 || events[0].Action != pihu.ActionIdentityUpdated {
		t.Errorf("events of the identity: got %v, %v; want one %s", events, err, pihu.ActionIdentityUpdated)
	}

	taken := "user_43"
	_, err = s.UpdateIdentity(t.Context(), pihu.IdentityUpdate{Scope: live, ID: i.ID,
		Apply: func(i *pihu.Identity) error { i.ExternalID = taken; return nil }})
	checkError(t, err, pihu.EIdentityExists, "external_id")
	refusal := errors.New("refused")
	_, err = s.UpdateIdentity(t.Context(), pihu.IdentityUpdate{Scope: live, ID: i.ID,
		Apply: func(i *pihu.Identity) error { i.ExternalID = "x"; return refusal }})
	if !errors.Is(err, refusal) {
		t.Errorf("Apply refused: got %v, want its error", err)
	}
	stored, _ = s.Identity(t.Context(), live, i.ID)
	checkIdentity(t, stored, &want)
	_, err = s.UpdateIdentity(t.Context(), pihu.IdentityUpdate{Scope: pihu.Scope{AccountID: a.ID, Environment: pihu.Test}, ID: i.ID,
		Apply: func(*pihu.Identity) error { return nil }})
	checkError(t, err, pihu.ENotFound, "")
}

// testIdentitiesDeleteUnused checks that an identity without active keys
// is deleted, once, with its event; and that its revoked keys lose it.
func testIdentitiesDeleteUnused(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	live := pihu.Scope{AccountID: a.ID, Environment: pihu.Live}
	i := mustIdentity(t, s, owner, pihu.Live, "user_42", "")
	k := identityKey(t, owner, "Revoked", pihu.Live, i.ID)
	mustCreateKey(t, s, k)
	if _, err := s.RevokeKey(t.Context(), a.ID, k.ID, epoch.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.DeleteIdentity(t.Context(), pihu.IdentityDeletion{Scope: pihu.Scope{AccountID: a.ID, Environment: pihu.Test}, ID: i.ID, At: epoch})
	checkError(t, err, pihu.ENotFound, "")
	got, revoked, err := s.DeleteIdentity(t.Context(), pihu.IdentityDeletion{Scope: live, ID: i.ID, At: epoch,
		Event: func(i *pihu.Identity) *pihu.AuditEvent {
			return pihu.NewIdentityEvent(pihu.ActionIdentityDeleted, owner.ID, "", i, epoch)
		}})
	if err != nil || len(revoked) != 0 {
		t.Fatalf("got %v, %v; want no key revoked", revoked, err)
	}
	checkIdentity(t, got, i)
	if _, err := s.Identity(t.Context(), live, i.ID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("Identity after deletion: got %v, want %s", err, pihu.ENotFound)
	}
	stored, _ := s.Key(t.Context(), a.ID, k.ID)
	checkKeyIdentity(t, "the revoked key of a deleted identity", stored, nil)
	events, _, _ := s.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: a.ID, Target: i.ID})
	if len(events) != 1 || events[0].Action != pihu.ActionIdentityDeleted {
		t.Errorf("events: got %v, want one %s", events, pihu.ActionIdentityDeleted)
	}
	_, _, err = s.DeleteIdentity(t.Context(), pihu.IdentityDeletion{Scope: live, ID: i.ID, At: epoch})
	checkError(t, err, pihu.ENotFound, "")
}

// testIdentitiesDeleteInUse checks that deleting an identity with active
// keys is refused with their count (a revoked key not counted), and
// changes nothing.
func testIdentitiesDeleteInUse(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	live := pihu.Scope{AccountID: a.ID, Environment: pihu.Live}
	i := mustIdentity(t, s, owner, pihu.Live, "user_42", "")
	var keys []*pihu.Key
	for _, name := range []string{"K1", "K2", "Revoked"} {
		k := identityKey(t, owner, name, pihu.Live, i.ID)
		mustCreateKey(t, s, k)
		keys = append(keys, k)
	}
	if _, err := s.RevokeKey(t.Context(), a.ID, keys[2].ID, epoch.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.DeleteIdentity(t.Context(), pihu.IdentityDeletion{Scope: live, ID: i.ID, At: epoch})
	if e, ok := err.(*pihu.Error); !ok || e.Code != pihu.EIdentityInUse || e.KeyCount != 2 {
		t.Fatalf("got %v, want %s with KeyCount 2", err, pihu.EIdentityInUse)
	}
	if _, err := s.Identity(t.Context(), live, i.ID); err != nil {
		t.Errorf("the identity refused deletion: %v", err)
	}
	stored, _ := s.KeyByDigest(t.Context(), keys[0].Digest)
	checkKeyIdentity(t, "a key of the identity refused deletion", stored, i)
	if stored.Revoked != nil {
		t.Errorf("a key of the identity refused deletion is revoked")
	}
}

// testIdentitiesDeleteRevokesKeys checks that deleting with RevokeKeys
// revokes every active key of the identity as RevokeKeys does (Check on
// each, which may refuse it all, and an event each) and deletes it.
func testIdentitiesDeleteRevokesKeys(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	live := pihu.Scope{AccountID: a.ID, Environment: pihu.Live}
	i := mustIdentity(t, s, owner, pihu.Live, "user_42", "")
	var keys []*pihu.Key
	for _, name := range []string{"K1", "K2"} {
		k := identityKey(t, owner, name, pihu.Live, i.ID)
		mustCreateKey(t, s, k)
		keys = append(keys, k)
	}
	refusal := pihu.Errorf(pihu.EInsufficientPermissions, "no")
	_, _, err := s.DeleteIdentity(t.Context(), pihu.IdentityDeletion{Scope: live, ID: i.ID, At: epoch, RevokeKeys: true,
		Check: func(k *pihu.Key) error {
			if k.ID == keys[1].ID {
				return refusal
			}
			return nil
		}})
	if err != refusal {
		t.Fatalf("Check refused: got %v, want its error", err)
	}
	if stored, _ := s.KeyByDigest(t.Context(), keys[0].Digest); stored.Revoked != nil {
		t.Fatalf("a refused deletion revoked a key")
	}
	at := epoch.Add(time.Hour)
	var checked int
	_, revoked, err := s.DeleteIdentity(t.Context(), pihu.IdentityDeletion{Scope: live, ID: i.ID, At: at, RevokeKeys: true,
		Check: func(*pihu.Key) error { checked++; return nil },
		KeyEvent: func(k *pihu.Key) *pihu.AuditEvent {
			return pihu.NewAuditEvent(pihu.ActionKeyRevoked, owner.ID, "", k, at)
		}})
	if err != nil || len(revoked) != 2 || checked != 2 {
		t.Fatalf("got %d revoked, %d checked, %v; want 2, 2, nil", len(revoked), checked, err)
	}
	for _, k := range keys {
		stored, _ := s.KeyByDigest(t.Context(), k.Digest)
		if stored.Revoked == nil || !stored.Revoked.Equal(at) {
			t.Errorf("key %s: revoked %v, want %v", k.Name, stored.Revoked, at)
		}
		checkKeyIdentity(t, "a key revoked with its identity", stored, nil)
		events, _, _ := s.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: a.ID, Target: k.ID})
		if len(events) == 0 || events[0].Action != pihu.ActionKeyRevoked {
			t.Errorf("key %s: events %v, want %s first", k.Name, events, pihu.ActionKeyRevoked)
		}
	}
	if _, err := s.Identity(t.Context(), live, i.ID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("Identity after deletion: got %v, want %s", err, pihu.ENotFound)
	}
}

// testIdentitiesRotation checks that a key's successor keeps its
// identity.
func testIdentitiesRotation(t *testing.T, s pihu.Store) {
	_, owner := mustCreateAccount(t, s, "Acme")
	i := mustIdentity(t, s, owner, pihu.Live, "user_42", "")
	k := identityKey(t, owner, "K", pihu.Live, i.ID)
	mustCreateKey(t, s, k)
	next, _, err := k.Successor(owner, epoch.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateKey(t.Context(), next, next.Created); err != nil {
		t.Fatal(err)
	}
	stored, _ := s.KeyByDigest(t.Context(), next.Digest)
	checkKeyIdentity(t, "the successor", stored, i)
}
