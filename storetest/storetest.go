// Package storetest is the conformance suite of pihu.Store: every backend
// (sqlite, postgres) runs it from its own tests, so that they all keep the
// same promises, the ones the HTTP layer relies on.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// Run checks, one subtest per rule, that the stores open returns behave as
// pihu.Store says. open must return a new, empty store each time it is
// called; Run closes it when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) pihu.Store) {
	run := func(t *testing.T, name string, test func(*testing.T, pihu.Store)) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			test(t, s)
		})
	}
	t.Run("Accounts", func(t *testing.T) {
		run(t, "Create", testAccountsCreate)
		run(t, "CreateFillsDefaults", testAccountsCreateFillsDefaults)
		run(t, "CreateInvalid", testAccountsCreateInvalid)
		run(t, "CreateIsAtomic", testAccountsCreateIsAtomic)
		run(t, "NotFound", testAccountsNotFound)
		run(t, "Count", testAccountsCount)
		run(t, "CreateRecordsEvents", testAccountsCreateRecordsEvents)
		run(t, "CreateEventIsAtomic", testAccountsCreateEventIsAtomic)
		run(t, "CreateFirst", testAccountsCreateFirst)
		run(t, "CreateFirstInvalid", testAccountsCreateFirstInvalid)
		run(t, "CreateFirstConcurrent", testAccountsCreateFirstConcurrent)
		run(t, "CreateOwnerKey", testAccountsCreateOwnerKey)
		run(t, "CreateOwnerKeyNotFound", testAccountsCreateOwnerKeyNotFound)
		run(t, "CreateOwnerKeyIsAtomic", testAccountsCreateOwnerKeyIsAtomic)
		run(t, "List", testAccountsList)
	})
	t.Run("Keys", func(t *testing.T) {
		run(t, "CreateAndGetByDigest", testKeysCreateAndGetByDigest)
		run(t, "RoundTripAllFields", testKeysRoundTripAllFields)
		run(t, "NotFound", testKeysNotFound)
		run(t, "OtherAccountIsNotFound", testKeysOtherAccountIsNotFound)
		run(t, "UnknownAccountRejected", testKeysUnknownAccountRejected)
		run(t, "DuplicateDigestRejected", testKeysDuplicateDigestRejected)
		run(t, "DuplicateIDRejected", testKeysDuplicateIDRejected)
		run(t, "ListNewestFirst", testKeysListNewestFirst)
		run(t, "ListExcludesRevoked", testKeysListExcludesRevoked)
		run(t, "ListOnlyOwnAccount", testKeysListOnlyOwnAccount)
		run(t, "ListPagination", testKeysListPagination)
		run(t, "ListLimitOutOfRange", testKeysListLimitOutOfRange)
		run(t, "ListStartingAfterRevoked", testKeysListStartingAfterRevoked)
		run(t, "ListStartingAfterUnknownIsInvalid", testKeysListStartingAfterUnknownIsInvalid)
		run(t, "ListStartingAfterOtherAccount", testKeysListStartingAfterOtherAccount)
		run(t, "ListEnvironmentFilter", testKeysListEnvironmentFilter)
		run(t, "ListStartingAfterOtherEnvironment", testKeysListStartingAfterOtherEnvironment)
		run(t, "ListEndingBefore", testKeysListEndingBefore)
		run(t, "CreatedBy", testKeysCreatedBy)
		run(t, "TouchKeys", testKeysTouchKeys)
		run(t, "ConcurrentCreates", testKeysConcurrentCreates)
	})
	t.Run("Users", func(t *testing.T) { runUsers(t, run) })
	t.Run("Teams", func(t *testing.T) { runTeams(t, run) })
	t.Run("Members", func(t *testing.T) { runMembers(t, run) })
	t.Run("TwoFactor", func(t *testing.T) { runTwoFactor(t, run) })
	t.Run("Passkeys", func(t *testing.T) { runPasskeys(t, run) })
	t.Run("Candidates", func(t *testing.T) { runCandidates(t, run) })
	t.Run("Interviews", func(t *testing.T) { runInterviews(t, run) })
	t.Run("Lifecycle", func(t *testing.T) {
		run(t, "Revoke", testLifecycleRevoke)
		run(t, "RevokeNotFound", testLifecycleRevokeNotFound)
		run(t, "RevokeConcurrent", testLifecycleRevokeConcurrent)
		run(t, "RotateNow", testLifecycleRotateNow)
		run(t, "RotateGrace", testLifecycleRotateGrace)
		run(t, "RotateNotFound", testLifecycleRotateNotFound)
		run(t, "RotateIsAtomic", testLifecycleRotateIsAtomic)
		run(t, "RotateTwice", testLifecycleRotateTwice)
		run(t, "CreatorMustBeActive", testLifecycleCreatorMustBeActive)
		run(t, "CreateRacesRevocation", testLifecycleCreateRacesRevocation)
		run(t, "RevokeCascade", testLifecycleRevokeCascade)
		run(t, "RevokeCheckRefuses", testLifecycleRevokeCheckRefuses)
		run(t, "CascadeRacesCreate", testLifecycleCascadeRacesCreate)
	})
	t.Run("Audit", func(t *testing.T) {
		run(t, "CreateKeyRecordsEvents", testAuditCreateKeyRecordsEvents)
		run(t, "CreateKeyWithoutEvents", testAuditCreateKeyWithoutEvents)
		run(t, "CreateKeyIsAtomic", testAuditCreateKeyIsAtomic)
		run(t, "ListPagination", testAuditListPagination)
		run(t, "ListEnvironmentFilter", testAuditListEnvironmentFilter)
		run(t, "ListOnlyOwnAccount", testAuditListOnlyOwnAccount)
		run(t, "ListTargetFilter", testAuditListTargetFilter)
		run(t, "ListFilters", testAuditListFilters)
		run(t, "ListStartingAfterOtherEnvironment", testAuditListStartingAfterOtherEnvironment)
		run(t, "ListEndingBefore", testAuditListEndingBefore)
	})
	t.Run("Idempotency", func(t *testing.T) { runIdempotency(t, run) })
	t.Run("Usage", func(t *testing.T) { runUsage(t, run) })
	t.Run("RequestLog", func(t *testing.T) { runRequestLog(t, run) })
	t.Run("SigningKeys", func(t *testing.T) { runSigningKeys(t, run) })
	t.Run("Webhooks", func(t *testing.T) { runWebhooks(t, run) })
	t.Run("Credits", func(t *testing.T) { runCredits(t, run) })
	t.Run("CreditLeases", func(t *testing.T) { runCreditLeases(t, run) })
	t.Run("Actors", func(t *testing.T) { runActors(t, run) })
	t.Run("Leaks", func(t *testing.T) { runLeaks(t, run) })
	t.Run("Permissions", func(t *testing.T) { runPermissions(t, run) })
	t.Run("Disable", func(t *testing.T) { runDisable(t, run) })
	t.Run("Roles", func(t *testing.T) { runRoles(t, run) })
	t.Run("Filters", func(t *testing.T) { runFilters(t, run) })
	t.Run("Identities", func(t *testing.T) { runIdentities(t, run) })
	t.Run("IdentityCredits", func(t *testing.T) { runIdentityCredits(t, run) })
}

// epoch is the time the tests' clock starts at: a whole second, in UTC,
// like every time a store keeps.
var epoch = time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC)

func testAccountsCreate(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")

	got, err := s.Account(t.Context(), a.ID)
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	if got.ID != a.ID || got.Name != "Acme" || !got.Created.Equal(epoch) || got.Created.Location() != time.UTC {
		t.Errorf("Account: got %+v, want %+v", got, a)
	}
	k, err := s.Key(t.Context(), a.ID, owner.ID)
	if err != nil {
		t.Fatalf("Key(owner): %v", err)
	}
	checkKey(t, k, owner)
}

func testAccountsCreateFillsDefaults(t *testing.T, s pihu.Store) {
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "Acme"}
	owner, _, err := pihu.NewKey("", pihu.OwnerKeyRequest(), nil, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccount(t.Context(), a, owner); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	if owner.AccountID != a.ID {
		t.Errorf("owner.AccountID: got %v, want %v", owner.AccountID, a.ID)
	}
	if a.Created.IsZero() || a.Created.Location() != time.UTC || !a.Created.Equal(a.Created.Truncate(time.Second)) {
		t.Errorf("Created: got %v, want a whole second in UTC", a.Created)
	}
	got, err := s.Account(t.Context(), a.ID)
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	if !got.Created.Equal(a.Created) {
		t.Errorf("Account.Created: got %v, want %v", got.Created, a.Created)
	}
	if _, err := s.Key(t.Context(), a.ID, owner.ID); err != nil {
		t.Errorf("Key(owner): %v", err)
	}
}

func testAccountsCreateInvalid(t *testing.T, s pihu.Store) {
	for _, tt := range []struct {
		name, code string
	}{
		{"", pihu.EParameterMissing},
		{string(bytes.Repeat([]byte("x"), 101)), pihu.EParameterInvalid},
	} {
		a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: tt.name, Created: epoch}
		owner := newKey(t, a.ID, pihu.OwnerKeyRequest(), epoch)
		err := s.CreateAccount(t.Context(), a, owner)
		checkError(t, err, tt.code, "name")
	}
	checkCount(t, s, 0)
}

// testAccountsCreateIsAtomic checks that an account whose first key cannot
// be stored is not stored either.
func testAccountsCreateIsAtomic(t *testing.T, s pihu.Store) {
	_, first := mustCreateAccount(t, s, "First")

	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "Second", Created: epoch}
	owner := newKey(t, a.ID, pihu.OwnerKeyRequest(), epoch)
	owner.Digest = first.Digest
	if err := s.CreateAccount(t.Context(), a, owner); err == nil {
		t.Fatal("CreateAccount with a duplicate key digest: got nil error, want one")
	}
	_, err := s.Account(t.Context(), a.ID)
	checkError(t, err, pihu.ENotFound, "")
	checkCount(t, s, 1)
}

func testAccountsNotFound(t *testing.T, s pihu.Store) {
	mustCreateAccount(t, s, "Acme")
	_, err := s.Account(t.Context(), pihu.NewID(pihu.PrefixAccount))
	checkError(t, err, pihu.ENotFound, "")
}

func testAccountsCount(t *testing.T, s pihu.Store) {
	checkCount(t, s, 0)
	for i := range 3 {
		mustCreateAccount(t, s, fmt.Sprintf("Account %d", i))
	}
	checkCount(t, s, 3)
}

func testKeysCreateAndGetByDigest(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	k, secret, err := pihu.NewKey(a.ID, pihu.KeyRequest{
		Name:        "CI runner",
		Permissions: pihu.Permissions{"interview:write", "candidate:read", "api_key:*"},
		Expiration:  "30d",
		Environment: pihu.Test,
	}, owner, epoch.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	mustCreateKey(t, s, k)

	got, err := s.KeyByDigest(t.Context(), pihu.Digest(secret))
	if err != nil {
		t.Fatalf("KeyByDigest: %v", err)
	}
	checkKey(t, got, k)
	got, err = s.Key(t.Context(), a.ID, k.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	checkKey(t, got, k)

	got, err = s.KeyByDigest(t.Context(), owner.Digest)
	if err != nil {
		t.Fatalf("KeyByDigest(owner): %v", err)
	}
	checkKey(t, got, owner)
}

// testKeysRoundTripAllFields stores a key with every optional field set,
// revocation included (a key created revoked; RevokeKey has its own rules).
func testKeysRoundTripAllFields(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	k := newKey(t, a.ID, pihu.KeyRequest{Name: "Rotated", Permissions: pihu.Permissions{"*"}, Expiration: "1h"}, epoch)
	k.LastUsed = timePtr(epoch.Add(10 * time.Second))
	k.Revoked = timePtr(epoch.Add(20 * time.Second))
	k.RotatedFrom = owner.ID
	k.RateLimit = pihu.StoredRateLimit("100/m")
	k.AllowedIPs = pihu.StoredAllowedIPs([]string{"10.0.0.0/8", "2001:db8::1"})
	mustCreateKey(t, s, k)

	got, err := s.KeyByDigest(t.Context(), k.Digest)
	if err != nil {
		t.Fatalf("KeyByDigest: %v", err)
	}
	checkKey(t, got, k)
	got, err = s.Key(t.Context(), a.ID, k.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	checkKey(t, got, k)
}

func testKeysNotFound(t *testing.T, s pihu.Store) {
	a, _ := mustCreateAccount(t, s, "Acme")
	_, err := s.Key(t.Context(), a.ID, pihu.NewID(pihu.PrefixKey))
	checkError(t, err, pihu.ENotFound, "")
	_, err = s.KeyByDigest(t.Context(), pihu.Digest(pihu.NewSecret(pihu.Live)))
	checkError(t, err, pihu.ENotFound, "")
}

func testKeysOtherAccountIsNotFound(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	b, _ := mustCreateAccount(t, s, "Other")
	revoked := newKey(t, a.ID, pihu.OwnerKeyRequest(), epoch)
	revoked.Revoked = timePtr(epoch)
	mustCreateKey(t, s, revoked)

	for _, id := range []string{owner.ID, revoked.ID} {
		_, err := s.Key(t.Context(), b.ID, id)
		checkError(t, err, pihu.ENotFound, "")
	}
}

func testKeysUnknownAccountRejected(t *testing.T, s pihu.Store) {
	k := newKey(t, pihu.NewID(pihu.PrefixAccount), pihu.OwnerKeyRequest(), epoch)
	if err := s.CreateKey(t.Context(), k); err == nil {
		t.Errorf("CreateKey for an unknown account: got nil error, want one")
	}
}

func testKeysDuplicateDigestRejected(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	k := newKey(t, a.ID, pihu.KeyRequest{Name: "Copy", Permissions: pihu.Permissions{"candidate:read"}}, epoch)
	k.Digest = owner.Digest
	if err := s.CreateKey(t.Context(), k); err == nil {
		t.Fatal("CreateKey with a duplicate digest: got nil error, want one")
	}
	got, err := s.KeyByDigest(t.Context(), owner.Digest)
	if err != nil {
		t.Fatalf("KeyByDigest: %v", err)
	}
	checkKey(t, got, owner)
	_, err = s.Key(t.Context(), a.ID, k.ID)
	checkError(t, err, pihu.ENotFound, "")
}

func testKeysDuplicateIDRejected(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	k := newKey(t, a.ID, pihu.KeyRequest{Name: "Copy", Permissions: pihu.Permissions{"candidate:read"}}, epoch)
	k.ID = owner.ID
	if err := s.CreateKey(t.Context(), k); err == nil {
		t.Fatal("CreateKey with a duplicate id: got nil error, want one")
	}
	got, err := s.Key(t.Context(), a.ID, owner.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	checkKey(t, got, owner)
}

func testKeysListNewestFirst(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	want := []*pihu.Key{owner}
	for i := range 3 {
		k := newKey(t, a.ID, readKey(fmt.Sprintf("Key %d", i)), epoch.Add(time.Duration(i+1)*time.Hour))
		mustCreateKey(t, s, k)
		want = append(want, k)
	}
	slices.Reverse(want)

	got, hasMore := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 10})
	checkKeys(t, got, want)
	if hasMore {
		t.Errorf("hasMore: got %v, want %v", hasMore, false)
	}
}

func testKeysListExcludesRevoked(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	revoked := newKey(t, a.ID, readKey("Revoked"), epoch)
	revoked.Revoked = timePtr(epoch.Add(time.Second))
	mustCreateKey(t, s, revoked)
	kept := newKey(t, a.ID, readKey("Kept"), epoch)
	mustCreateKey(t, s, kept)

	got, hasMore := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 10})
	checkKeys(t, got, []*pihu.Key{kept, owner})
	if hasMore {
		t.Errorf("hasMore: got %v, want %v", hasMore, false)
	}
	// A page that ends just before a revoked key has no more to show.
	got, hasMore = mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 2})
	checkKeys(t, got, []*pihu.Key{kept, owner})
	if hasMore {
		t.Errorf("hasMore with limit 2: got %v, want %v", hasMore, false)
	}
}

func testKeysListOnlyOwnAccount(t *testing.T, s pihu.Store) {
	a, ownerA := mustCreateAccount(t, s, "Acme")
	b, ownerB := mustCreateAccount(t, s, "Other")
	kb := newKey(t, b.ID, readKey("B's"), epoch)
	mustCreateKey(t, s, kb)

	got, _ := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 10})
	checkKeys(t, got, []*pihu.Key{ownerA})
	got, _ = mustList(t, s, pihu.KeyFilter{AccountID: b.ID, Limit: 10})
	checkKeys(t, got, []*pihu.Key{kb, ownerB})
}

// testKeysListPagination pages through keys created in the same second:
// the order must still be total and stable, every key on exactly one page.
func testKeysListPagination(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	want := []*pihu.Key{owner}
	for i := range 24 {
		k := newKey(t, a.ID, readKey(fmt.Sprintf("Key %d", i)), epoch)
		mustCreateKey(t, s, k)
		want = append(want, k)
	}
	slices.Reverse(want)

	for _, limit := range []int{1, 5, 7, 25, 100} {
		t.Run(fmt.Sprint("Limit", limit), func(t *testing.T) {
			var got []*pihu.Key
			f := pihu.KeyFilter{AccountID: a.ID, Limit: limit}
			for pages := 1; ; pages++ {
				page, hasMore := mustList(t, s, f)
				if len(page) == 0 || len(page) > limit {
					t.Fatalf("page %d: got %v keys, want 1 to %v", pages, len(page), limit)
				}
				if wantMore := len(got)+len(page) < len(want); hasMore != wantMore {
					t.Fatalf("page %d: hasMore: got %v, want %v", pages, hasMore, wantMore)
				}
				got = append(got, page...)
				if !hasMore {
					break
				}
				f.StartingAfter = page[len(page)-1].ID
			}
			checkKeys(t, got, want)
		})
	}
}

func testKeysListLimitOutOfRange(t *testing.T, s pihu.Store) {
	a, _ := mustCreateAccount(t, s, "Acme")
	for i := range 101 {
		mustCreateKey(t, s, newKey(t, a.ID, readKey(fmt.Sprintf("Key %d", i)), epoch))
	}
	for _, tt := range []struct{ limit, want int }{{0, 10}, {-1, 10}, {101, 100}, {1000, 100}} {
		got, hasMore := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: tt.limit})
		if len(got) != tt.want || !hasMore {
			t.Errorf("Limit %d: got %v keys (hasMore %v), want %v (hasMore true)", tt.limit, len(got), hasMore, tt.want)
		}
	}
}

// testKeysListStartingAfterRevoked checks that a key revoked between two
// pages still works as the cursor of the next.
func testKeysListStartingAfterRevoked(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	older := newKey(t, a.ID, readKey("Older"), epoch)
	mustCreateKey(t, s, older)
	revoked := newKey(t, a.ID, readKey("Revoked"), epoch)
	revoked.Revoked = timePtr(epoch)
	mustCreateKey(t, s, revoked)
	mustCreateKey(t, s, newKey(t, a.ID, readKey("Newer"), epoch))

	got, hasMore := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 10, StartingAfter: revoked.ID})
	checkKeys(t, got, []*pihu.Key{older, owner})
	if hasMore {
		t.Errorf("hasMore: got %v, want %v", hasMore, false)
	}
}

func testKeysListStartingAfterUnknownIsInvalid(t *testing.T, s pihu.Store) {
	a, _ := mustCreateAccount(t, s, "Acme")
	_, _, err := s.ListKeys(t.Context(), pihu.KeyFilter{AccountID: a.ID, Limit: 10, StartingAfter: pihu.NewID(pihu.PrefixKey)})
	checkError(t, err, pihu.EParameterInvalid, "starting_after")
}

func testKeysListStartingAfterOtherAccount(t *testing.T, s pihu.Store) {
	a, _ := mustCreateAccount(t, s, "Acme")
	_, ownerB := mustCreateAccount(t, s, "Other")
	_, _, err := s.ListKeys(t.Context(), pihu.KeyFilter{AccountID: a.ID, Limit: 10, StartingAfter: ownerB.ID})
	checkError(t, err, pihu.EParameterInvalid, "starting_after")
}

func testKeysListEnvironmentFilter(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	var live, test []*pihu.Key
	for i := range 6 {
		req := readKey(fmt.Sprintf("Key %d", i))
		req.Environment = pihu.Live
		if i%2 == 0 {
			req.Environment = pihu.Test
		}
		k := newKey(t, a.ID, req, epoch)
		mustCreateKey(t, s, k)
		if k.Environment == pihu.Test {
			test = append(test, k)
		} else {
			live = append(live, k)
		}
	}
	live = append([]*pihu.Key{owner}, live...)
	slices.Reverse(live)
	slices.Reverse(test)

	got, _ := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Environment: pihu.Test, Limit: 10})
	checkKeys(t, got, test)
	got, _ = mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Environment: pihu.Live, Limit: 10})
	checkKeys(t, got, live)
	got, _ = mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 10})
	if len(got) != 7 {
		t.Errorf("no filter: got %v keys, want %v", len(got), 7)
	}

	// Paging a filtered list: the cursor is a key of the list's
	// environment (testKeysListStartingAfterOtherEnvironment: not of the
	// other).
	got, hasMore := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Environment: pihu.Test, Limit: 1})
	checkKeys(t, got, test[:1])
	if !hasMore {
		t.Errorf("hasMore: got %v, want %v", hasMore, true)
	}
	got, _ = mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Environment: pihu.Test, Limit: 10, StartingAfter: test[0].ID})
	checkKeys(t, got, test[1:])
}

func testKeysTouchKeys(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	other := newKey(t, a.ID, readKey("Other"), epoch)
	mustCreateKey(t, s, other)
	if err := s.TouchKeys(t.Context(), nil); err != nil {
		t.Fatalf("TouchKeys(nil): %v", err)
	}

	t1, t2 := epoch.Add(time.Minute), epoch.Add(2*time.Minute)
	mustTouch(t, s, map[string]time.Time{owner.ID: t2, pihu.NewID(pihu.PrefixKey): t2})
	checkLastUsed(t, s, owner, &t2)
	checkLastUsed(t, s, other, nil)

	mustTouch(t, s, map[string]time.Time{owner.ID: t1, other.ID: t1})
	checkLastUsed(t, s, owner, &t2)
	checkLastUsed(t, s, other, &t1)

	t3 := epoch.Add(3 * time.Minute)
	mustTouch(t, s, map[string]time.Time{owner.ID: t3.Add(500 * time.Millisecond)})
	checkLastUsed(t, s, owner, &t3)
}

func testKeysConcurrentCreates(t *testing.T, s pihu.Store) {
	const workers, each = 8, 10
	a, _ := mustCreateAccount(t, s, "Acme")
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		keys []*pihu.Key
	)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				k, _, err := pihu.NewKey(a.ID, readKey(fmt.Sprintf("Worker %d key %d", w, i)), nil, epoch)
				if err != nil {
					t.Error(err)
					return
				}
				if err := s.CreateKey(t.Context(), k); err != nil {
					t.Errorf("CreateKey: %v", err)
					return
				}
				mu.Lock()
				keys = append(keys, k)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	got, hasMore := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 100})
	if hasMore || len(got) != workers*each+1 {
		t.Errorf("listed: got %v keys (hasMore %v), want %v", len(got), hasMore, workers*each+1)
	}
	for _, k := range keys {
		stored, err := s.KeyByDigest(t.Context(), k.Digest)
		if err != nil {
			t.Fatalf("KeyByDigest(%s): %v", k.ID, err)
		}
		checkKey(t, stored, k)
	}
}

// readKey is a request for a key that reads candidates.
func readKey(name string) pihu.KeyRequest {
	return pihu.KeyRequest{Name: name, Permissions: pihu.Permissions{"candidate:read"}}
}

// newKey builds (but does not store) a key of account accountID.
func newKey(tb testing.TB, accountID string, req pihu.KeyRequest, now time.Time) *pihu.Key {
	tb.Helper()
	k, _, err := pihu.NewKey(accountID, req, nil, now)
	if err != nil {
		tb.Fatalf("NewKey: %v", err)
	}
	return k
}

func mustCreateKey(tb testing.TB, s pihu.Store, k *pihu.Key) {
	tb.Helper()
	if err := s.CreateKey(tb.Context(), k); err != nil {
		tb.Fatalf("CreateKey: %v", err)
	}
}

// mustCreateAccount stores an account created at epoch, and its owner key.
func mustCreateAccount(tb testing.TB, s pihu.Store, name string) (*pihu.Account, *pihu.Key) {
	tb.Helper()
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: name, Created: epoch}
	owner := newKey(tb, a.ID, pihu.OwnerKeyRequest(), epoch)
	if err := s.CreateAccount(tb.Context(), a, owner); err != nil {
		tb.Fatalf("CreateAccount: %v", err)
	}
	return a, owner
}

func mustList(tb testing.TB, s pihu.Store, f pihu.KeyFilter) ([]*pihu.Key, bool) {
	tb.Helper()
	keys, hasMore, err := s.ListKeys(tb.Context(), f)
	if err != nil {
		tb.Fatalf("ListKeys(%+v): %v", f, err)
	}
	return keys, hasMore
}

func mustTouch(tb testing.TB, s pihu.Store, uses map[string]time.Time) {
	tb.Helper()
	if err := s.TouchKeys(tb.Context(), uses); err != nil {
		tb.Fatalf("TouchKeys: %v", err)
	}
}

func checkLastUsed(tb testing.TB, s pihu.Store, k *pihu.Key, want *time.Time) {
	tb.Helper()
	got, err := s.Key(tb.Context(), k.AccountID, k.ID)
	if err != nil {
		tb.Fatalf("Key: %v", err)
	}
	checkTime(tb, k.Name+" LastUsed", got.LastUsed, want)
}

func checkCount(tb testing.TB, s pihu.Store, want int) {
	tb.Helper()
	got, err := s.CountAccounts(tb.Context())
	if err != nil {
		tb.Fatalf("CountAccounts: %v", err)
	}
	if got != want {
		tb.Errorf("CountAccounts: got %v, want %v", got, want)
	}
}

// checkError checks that err is a *pihu.Error with code and param.
func checkError(tb testing.TB, err error, code, param string) {
	tb.Helper()
	var e *pihu.Error
	if !errors.As(err, &e) {
		tb.Errorf("error: got %v, want a *pihu.Error with code %v", err, code)
		return
	}
	if e.Code != code || e.Param != param {
		tb.Errorf("error code and param: got %v %q, want %v %q (%v)", e.Code, e.Param, code, param, err)
	}
}

// checkKeys checks that got holds the keys of want, in the same order.
func checkKeys(tb testing.TB, got, want []*pihu.Key) {
	tb.Helper()
	if !slices.Equal(ids(got), ids(want)) {
		tb.Fatalf("keys: got %v, want %v", ids(got), ids(want))
	}
	for i := range got {
		checkKey(tb, got[i], want[i])
	}
}

func ids(keys []*pihu.Key) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.ID
	}
	return out
}

// checkKey checks that the store gave back every field of want exactly,
// every time in UTC.
func checkKey(tb testing.TB, got, want *pihu.Key) {
	tb.Helper()
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"ID", got.ID, want.ID},
		{"AccountID", got.AccountID, want.AccountID},
		{"Name", got.Name, want.Name},
		{"Environment", got.Environment, want.Environment},
		{"Hint", got.Hint, want.Hint},
		{"RotatedFrom", got.RotatedFrom, want.RotatedFrom},
		{"RateLimit", got.RateLimit.String(), want.RateLimit.String()},
		{"CreatedBy", got.CreatedBy, want.CreatedBy},
		{"Metadata", string(got.Metadata), string(want.Metadata)},
		{"Imported", got.Imported, want.Imported},
		{"Disabled", got.Disabled, want.Disabled},
	} {
		if f.got != f.want {
			tb.Errorf("key %s: %s: got %v, want %v", want.ID, f.name, f.got, f.want)
		}
	}
	if !slices.Equal(got.Permissions, want.Permissions) {
		tb.Errorf("key %s: Permissions: got %v, want %v", want.ID, got.Permissions, want.Permissions)
	}
	if len(got.Roles) != 0 || len(want.Roles) != 0 {
		if !slices.Equal(got.Roles, want.Roles) {
			tb.Errorf("key %s: Roles: got %v, want %v", want.ID, got.Roles, want.Roles)
		}
	}
	if g, w := got.AllowedIPs.Strings(), want.AllowedIPs.Strings(); !slices.Equal(g, w) || got.AllowedIPs.Anywhere() != want.AllowedIPs.Anywhere() {
		tb.Errorf("key %s: AllowedIPs: got %#v, want %#v", want.ID, g, w)
	}
	if !bytes.Equal(got.Digest, want.Digest) {
		tb.Errorf("key %s: Digest: got %x, want %x", want.ID, got.Digest, want.Digest)
	}
	checkTime(tb, want.ID+" Created", &got.Created, &want.Created)
	checkTime(tb, want.ID+" Expires", got.Expires, want.Expires)
	checkTime(tb, want.ID+" LastUsed", got.LastUsed, want.LastUsed)
	checkTime(tb, want.ID+" Revoked", got.Revoked, want.Revoked)
	checkCredits(tb, want.ID, got.Credits, want.Credits)
}

// checkCredits checks that the credits got are want's.
func checkCredits(tb testing.TB, id string, got, want *pihu.Credits) {
	tb.Helper()
	if (got == nil) != (want == nil) {
		tb.Errorf("key %s: Credits: got %+v, want %+v", id, got, want)
		return
	}
	if got == nil {
		return
	}
	if got.Remaining != want.Remaining || (got.Refill == nil) != (want.Refill == nil) || got.Refill != nil && *got.Refill != *want.Refill {
		tb.Errorf("key %s: Credits: got %+v (refill %+v), want %+v (refill %+v)", id, *got, got.Refill, *want, want.Refill)
	}
	checkTime(tb, id+" Credits.Refilled", &got.Refilled, &want.Refilled)
}

// checkTime checks that got and want are both nil, or the same instant
// with got in UTC.
func checkTime(tb testing.TB, field string, got, want *time.Time) {
	tb.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil || !got.Equal(*want) || got.Location() != time.UTC:
		tb.Errorf("%s: got %v, want %v", field, got, want)
	}
}

func timePtr(t time.Time) *time.Time { return &t }
