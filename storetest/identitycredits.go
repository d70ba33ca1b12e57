package storetest

import (
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// The credits of identities, which all the identity's keys share: the
// store spends, leases, refunds and changes them under the identity's id
// as it does a key's under the key's.
func runIdentityCredits(t *testing.T, run runFunc) {
	run(t, "RoundTrip", testIdentityCreditsRoundTrip)
	run(t, "SpendExact", testIdentityCreditsSpendExact)
	run(t, "SpendRefill", testIdentityCreditsSpendRefill)
	run(t, "Leases", testIdentityCreditsLeases)
	run(t, "Refund", testIdentityCreditsRefund)
	run(t, "Update", testIdentityCreditsUpdate)
	run(t, "Deleted", testIdentityCreditsDeleted)
}

// creditIdentity stores an identity of a new account with n credits and
// refill r, created at epoch, and returns it with the account's owner.
func creditIdentity(tb testing.TB, s pihu.Store, n int64, r *pihu.Refill) (*pihu.Identity, *pihu.Key) {
	tb.Helper()
	_, owner := mustCreateAccount(tb, s, "Acme")
	req := pihu.IdentityRequest{ExternalID: "org_acme", Credits: &pihu.Credits{Remaining: n, Refill: r}}
	i, err := pihu.NewIdentity(owner, req, epoch)
	if err != nil {
		tb.Fatalf("NewIdentity: %v", err)
	}
	if err := s.CreateIdentity(tb.Context(), i); err != nil {
		tb.Fatalf("CreateIdentity: %v", err)
	}
	return i, owner
}

func checkIdentityCredits(tb testing.TB, what string, got, want *pihu.Credits) {
	tb.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		tb.Errorf("%s: credits %+v, want %+v", what, got, want)
	case got.Remaining != want.Remaining || !got.Refilled.Equal(want.Refilled) ||
		(got.Refill == nil) != (want.Refill == nil) || got.Refill != nil && *got.Refill != *want.Refill:
		tb.Errorf("%s: credits %+v (refill %+v), want %+v (refill %+v)", what, got, got.Refill, want, want.Refill)
	}
}

// testIdentityCreditsRoundTrip: an identity's credits come back as
// stored, from Identity and ListIdentities; a key of the identity says
// that its identity counts credits, and a key of one without credits
// says it does not.
func testIdentityCreditsRoundTrip(t *testing.T, s pihu.Store) {
	i, owner := creditIdentity(t, s, 7, &pihu.Refill{Interval: pihu.RefillMonthly, Amount: 100, Day: 15})
	sc := pihu.Scope{AccountID: owner.AccountID, Environment: owner.Environment}
	got, err := s.Identity(t.Context(), sc, i.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkIdentityCredits(t, "Identity", got.Credits, i.Credits)
	list, _, err := s.ListIdentities(t.Context(), pihu.IdentityFilter{Scope: sc, Page: pihu.Page{Limit: 10}})
	if err != nil || len(list) != 1 {
		t.Fatalf("ListIdentities: %v, %d identities", err, len(list))
	}
	checkIdentityCredits(t, "ListIdentities", list[0].Credits, i.Credits)

	k := identityKey(t, owner, "metered", owner.Environment, i.ID)
	mustCreateKey(t, s, k)
	stored, err := s.KeyByDigest(t.Context(), k.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !stored.Identity.HasCredits() {
		t.Errorf("a key of an identity with credits: identity %+v, want it to count credits", stored.Identity)
	}
	plain := mustIdentity(t, s, owner, owner.Environment, "org_plain", "")
	k2 := identityKey(t, owner, "plain", owner.Environment, plain.ID)
	mustCreateKey(t, s, k2)
	if stored, err = s.Key(t.Context(), owner.AccountID, k2.ID); err != nil {
		t.Fatal(err)
	}
	if stored.Identity == nil || stored.Identity.HasCredits() {
		t.Errorf("a key of an identity without credits: identity %+v, want one that counts none", stored.Identity)
	}
}

// testIdentityCreditsSpendExact spends an identity of 100 credits from 16
// goroutines, through the identity's id as its keys do, until each is
// refused: exactly 100 spends succeed, it never goes below zero, and the
// keys' own balances are untouched.
func testIdentityCreditsSpendExact(t *testing.T, s pihu.Store) {
	i, owner := creditIdentity(t, s, 100, nil)
	req := readKey("metered")
	req.IdentityID, req.Credits = i.ID, &pihu.Credits{Remaining: 1000}
	k := newKey(t, owner.AccountID, req, epoch)
	mustCreateKey(t, s, k)
	now := epoch.Add(time.Minute)
	if n := spendAll(t, []pihu.Store{s}, []string{i.ID}, now); n != 100 {
		t.Errorf("successful spends: got %d, want 100", n)
	}
	checkSpend(t, mustSpend(t, s, i.ID, 1, now), false, 0)
	checkSpend(t, mustSpend(t, s, i.ID, 0, now), false, 0)
	checkSpend(t, mustSpend(t, s, k.ID, 0, now), true, 1000)
	got, err := s.Identity(t.Context(), pihu.ScopeOf(owner), i.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Credits == nil || got.Credits.Remaining != 0 {
		t.Errorf("identity's credits after the spends: got %+v, want 0", got.Credits)
	}
}

// testIdentityCreditsSpendRefill: a spend more than is left is refused
// and spends nothing; the daily refill sets the balance to its amount at
// the next spend after midnight.
func testIdentityCreditsSpendRefill(t *testing.T, s pihu.Store) {
	i, _ := creditIdentity(t, s, 10, &pihu.Refill{Interval: pihu.RefillDaily, Amount: 50})
	now := epoch.Add(time.Minute)
	checkSpend(t, mustSpend(t, s, i.ID, 4, now), true, 6)
	sp := mustSpend(t, s, i.ID, 7, now)
	checkSpend(t, sp, false, 6)
	if sp.NextRefill == nil || !sp.NextRefill.Equal(epoch.Truncate(24*time.Hour).Add(24*time.Hour)) {
		t.Errorf("NextRefill: got %v", sp.NextRefill)
	}
	checkSpend(t, mustSpend(t, s, i.ID, 7, now.Add(24*time.Hour)), true, 43)
}

// testIdentityCreditsLeases: a lease of an identity's credits spends them
// at once and is recorded under the identity's id; what it holds goes
// back to the identity when it expires.
func testIdentityCreditsLeases(t *testing.T, s pihu.Store) {
	i, _ := creditIdentity(t, s, 100, nil)
	now := epoch.Add(time.Minute)
	checkSpend(t, mustLease(t, s, leaseReq(i.ID, "inst_a", 20, 2, now.Add(30*time.Second)), now), true, 79)
	got := leasesOf(t, s, "inst_a", now.Add(time.Minute), i.ID)
	if l, ok := got[i.ID]; !ok || l.Held != 18 {
		t.Fatalf("leases of inst_a: got %+v, want 18 held of identity %s", got, i.ID)
	}
	if n := mustExpire(t, s, now.Add(2*time.Minute)); n != 1 {
		t.Errorf("ExpireCreditLeases: got %d, want 1", n)
	}
	checkSpend(t, mustSpend(t, s, i.ID, 0, now.Add(2*time.Minute)), true, 97)
}

// testIdentityCreditsRefund: credits refunded after a spend go back to
// the balance they came from, but not to a balance set since; a key's
// are refunded likewise.
func testIdentityCreditsRefund(t *testing.T, s pihu.Store) {
	i, owner := creditIdentity(t, s, 10, nil)
	now := epoch.Add(time.Minute)
	sp := mustSpend(t, s, i.ID, 3, now)
	ok, err := s.RefundCredits(t.Context(), i.ID, 3, sp, now)
	if err != nil || !ok {
		t.Fatalf("RefundCredits: %v, %v; want it given back", ok, err)
	}
	checkSpend(t, mustSpend(t, s, i.ID, 0, now), true, 10)
	sp = mustSpend(t, s, i.ID, 3, now.Add(time.Minute))
	change := &pihu.IdentityChange{Remaining: pihu.Some(int64(50))}
	if _, err := s.UpdateIdentity(t.Context(), pihu.IdentityUpdate{Scope: pihu.ScopeOf(owner), ID: i.ID,
		Apply: func(i *pihu.Identity) error { return change.ApplyCredits(i, now.Add(time.Hour)) }}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.RefundCredits(t.Context(), i.ID, 3, sp, now.Add(2*time.Hour)); err != nil || ok {
		t.Errorf("RefundCredits after the balance was set: %v, %v; want nothing given back", ok, err)
	}
	checkSpend(t, mustSpend(t, s, i.ID, 0, now.Add(2*time.Hour)), true, 50)

	k := creditKey(t, s, 5, nil, epoch)
	sp = mustSpend(t, s, k.ID, 5, now)
	if ok, err := s.RefundCredits(t.Context(), k.ID, 5, sp, now); err != nil || !ok {
		t.Errorf("RefundCredits of a key: %v, %v", ok, err)
	}
	checkSpend(t, mustSpend(t, s, k.ID, 0, now), true, 5)
	if ok, err := s.RefundCredits(t.Context(), "idt_missing", 1, sp, now); err != nil || ok {
		t.Errorf("RefundCredits of no identity: %v, %v; want nothing, no error", ok, err)
	}
}

// testIdentityCreditsUpdate: UpdateIdentity stores the credits as the
// change leaves them: set, added to, refill changed, removed.
func testIdentityCreditsUpdate(t *testing.T, s pihu.Store) {
	i, owner := creditIdentity(t, s, 10, nil)
	now := epoch.Add(time.Minute)
	mustSpend(t, s, i.ID, 4, now)
	update := func(c *pihu.IdentityChange, at time.Time) *pihu.Identity {
		t.Helper()
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		got, err := s.UpdateIdentity(t.Context(), pihu.IdentityUpdate{Scope: pihu.ScopeOf(owner), ID: i.ID,
			Apply: func(i *pihu.Identity) error { c.Apply(i, at); return c.ApplyCredits(i, at) }})
		if err != nil {
			t.Fatal(err)
		}
		stored, err := s.Identity(t.Context(), pihu.ScopeOf(owner), i.ID)
		if err != nil {
			t.Fatal(err)
		}
		checkIdentityCredits(t, "the identity as stored", stored.Credits, got.Credits)
		return got
	}
	add := int64(5)
	got := update(&pihu.IdentityChange{Add: &add}, now)
	checkIdentityCredits(t, "after add", got.Credits, &pihu.Credits{Remaining: 11, Refilled: epoch})
	refill := pihu.Refill{Interval: pihu.RefillDaily, Amount: 20}
	got = update(&pihu.IdentityChange{Refill: pihu.Some(refill)}, now)
	checkIdentityCredits(t, "after refill", got.Credits, &pihu.Credits{Remaining: 11, Refill: &refill, Refilled: epoch})
	got = update(&pihu.IdentityChange{Remaining: pihu.Null[int64]()}, now)
	checkIdentityCredits(t, "after remaining null", got.Credits, nil)
	checkSpend(t, mustSpend(t, s, i.ID, 1000, now), true, -1)
}

// testIdentityCreditsDeleted: a deleted identity's credits are not
// found.
func testIdentityCreditsDeleted(t *testing.T, s pihu.Store) {
	i, owner := creditIdentity(t, s, 10, nil)
	if _, _, err := s.DeleteIdentity(t.Context(), pihu.IdentityDeletion{Scope: pihu.ScopeOf(owner), ID: i.ID, At: epoch}); err != nil {
		t.Fatal(err)
	}
	_, err := s.SpendCredits(t.Context(), i.ID, 1, epoch.Add(time.Minute))
	checkError(t, err, pihu.ENotFound, "")
}

// testInstancesSpendIdentityCredits spends an identity of 100 credits
// through two instances at once: exactly 100 spends succeed.
func testInstancesSpendIdentityCredits(t *testing.T, s [2]pihu.Store) {
	i, _ := creditIdentity(t, s[0], 100, nil)
	if n := spendAll(t, s[:], []string{i.ID}, epoch.Add(time.Minute)); n != 100 {
		t.Errorf("successful spends: got %d, want 100", n)
	}
	checkSpend(t, mustSpend(t, s[1], i.ID, 1, epoch.Add(time.Minute)), false, 0)
}
