package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func runCreditLeases(t *testing.T, run func(*testing.T, string, func(*testing.T, pihu.Store))) {
	run(t, "Recorded", testCreditLeasesRecorded)
	run(t, "Replaced", testCreditLeasesReplaced)
	run(t, "Refused", testCreditLeasesRefused)
	run(t, "Sealed", testCreditLeasesSealed)
	run(t, "Report", testCreditLeasesReport)
	run(t, "ExpireReturnsOnce", testCreditLeasesExpireReturnsOnce)
	run(t, "ExpireAfterSet", testCreditLeasesExpireAfterSet)
	run(t, "ExpireAfterRefill", testCreditLeasesExpireAfterRefill)
	run(t, "ExpireNoCredits", testCreditLeasesExpireNoCredits)
	run(t, "RenewExtends", testCreditLeasesRenewExtends)
	run(t, "ReturnDeletes", testCreditLeasesReturnDeletes)
	run(t, "ReturnRotated", testCreditLeasesReturnRotated)
	run(t, "Invalid", testCreditLeasesInvalid)
}

// leaseReq is a lease by instance of key id: one credit for the request
// and lease more, unreported of which the instance may spend at once.
func leaseReq(id, instance string, lease, unreported int64, expires time.Time) pihu.LeaseRequest {
	return pihu.LeaseRequest{KeyID: id, Instance: instance, Cost: 1, Lease: lease, Unreported: unreported, Expires: expires}
}

func mustLease(tb testing.TB, s pihu.Store, r pihu.LeaseRequest, now time.Time) pihu.Spend {
	tb.Helper()
	sp, err := s.LeaseCredits(tb.Context(), r, now)
	if err != nil {
		tb.Fatalf("LeaseCredits(%+v): %v", r, err)
	}
	return sp
}

// leasesOf is the leases of instance on keys ids as recorded (renewed to
// expires).
func leasesOf(tb testing.TB, s pihu.Store, instance string, expires time.Time, ids ...string) map[string]pihu.CreditLease {
	tb.Helper()
	ls, err := s.RenewCreditLeases(tb.Context(), instance, ids, expires)
	if err != nil {
		tb.Fatalf("RenewCreditLeases(%s): %v", instance, err)
	}
	out := make(map[string]pihu.CreditLease)
	for _, l := range ls {
		out[l.KeyID] = l
	}
	return out
}

func mustExpire(tb testing.TB, s pihu.Store, now time.Time) int {
	tb.Helper()
	n, err := s.ExpireCreditLeases(tb.Context(), now, 100)
	if err != nil {
		tb.Fatalf("ExpireCreditLeases: %v", err)
	}
	return n
}

// testCreditLeasesRecorded: a lease spends the request's cost and the
// lease at once, and is recorded holding the lease less what the
// instance may spend before it reports, against the balance's refilled.
func testCreditLeasesRecorded(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 100, nil, epoch)
	now := epoch.Add(time.Minute)
	sp := mustLease(t, s, leaseReq(k.ID, "inst_a", 20, 2, now.Add(30*time.Second)), now)
	checkSpend(t, sp, true, 79)
	if !sp.Refilled.Equal(epoch) {
		t.Errorf("Spend.Refilled: got %v, want %v", sp.Refilled, epoch)
	}
	got := leasesOf(t, s, "inst_a", now.Add(time.Minute), k.ID)
	l, ok := got[k.ID]
	if !ok || len(got) != 1 {
		t.Fatalf("leases of inst_a: got %+v, want one of key %s", got, k.ID)
	}
	if l.Held != 18 || !l.Refilled.Equal(epoch) || !l.Expires.Equal(now.Add(time.Minute)) {
		t.Errorf("lease: got %+v, want 18 held, refilled %v, expiring %v", l, epoch, now.Add(time.Minute))
	}
	if other := leasesOf(t, s, "inst_b", now.Add(time.Minute), k.ID); len(other) != 0 {
		t.Errorf("leases of inst_b: got %+v, want none", other)
	}
	checkSpend(t, mustSpend(t, s, k.ID, 0, now), true, 79)
}

// testCreditLeasesReplaced: a second lease of the same instance on the
// same key gives back what the instance says it has not spent of the
// first, and replaces it.
func testCreditLeasesReplaced(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 100, nil, epoch)
	now := epoch.Add(time.Minute)
	mustLease(t, s, leaseReq(k.ID, "inst_a", 20, 2, now.Add(time.Minute)), now) // 79 left
	r := leaseReq(k.ID, "inst_a", 10, 10, now.Add(time.Minute))
	r.Unspent = 5
	checkSpend(t, mustLease(t, s, r, now), true, 79+5-11)
	if l := leasesOf(t, s, "inst_a", now.Add(time.Minute), k.ID)[k.ID]; l.Held != 0 {
		t.Errorf("the second lease, all of it unreported: got %d held, want 0", l.Held)
	}
}

// testCreditLeasesRefused: a lease the balance cannot cover spends
// nothing and records nothing; the instance's previous lease is returned
// all the same.
func testCreditLeasesRefused(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 100, nil, epoch)
	now := epoch.Add(time.Minute)
	mustLease(t, s, leaseReq(k.ID, "inst_a", 20, 2, now.Add(time.Minute)), now) // 79 left
	r := leaseReq(k.ID, "inst_a", 90, 9, now.Add(time.Minute))
	r.Unspent = 7
	checkSpend(t, mustLease(t, s, r, now), false, 86)
	if got := leasesOf(t, s, "inst_a", now.Add(time.Minute), k.ID); len(got) != 0 {
		t.Errorf("after a refused lease: got %+v, want no lease", got)
	}
	if n := mustExpire(t, s, now.Add(time.Hour)); n != 0 {
		t.Errorf("ExpireCreditLeases after a refused lease: got %d, want 0", n)
	}
	checkSpend(t, mustSpend(t, s, k.ID, 0, now.Add(time.Hour)), true, 86)
}

// testCreditLeasesSealed: a lease taken in the second its balance was
// set is recorded holding nothing (it can never be given back, see
// pihu.LeaseSealed), and returns nothing when it expires.
func testCreditLeasesSealed(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 100, nil, epoch)
	now := epoch.Add(500 * time.Millisecond)
	checkSpend(t, mustLease(t, s, leaseReq(k.ID, "inst_a", 20, 2, now.Add(time.Minute)), now), true, 79)
	if l := leasesOf(t, s, "inst_a", now.Add(time.Minute), k.ID)[k.ID]; l.Held != 0 {
		t.Errorf("a lease in the second the balance was set: got %d held, want 0", l.Held)
	}
	mustExpire(t, s, now.Add(time.Hour))
	checkSpend(t, mustSpend(t, s, k.ID, 0, now.Add(time.Hour)), true, 79)
}

// testCreditLeasesReport: a report lowers what a lease holds, never
// raises it, and moves its expiry; a lease not recorded is reported as
// such.
func testCreditLeasesReport(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 100, nil, epoch)
	now := epoch.Add(time.Minute)
	mustLease(t, s, leaseReq(k.ID, "inst_a", 20, 2, now.Add(time.Minute)), now) // 18 held
	report := func(held int64, expires time.Time) bool {
		t.Helper()
		ok, err := s.ReportCreditLease(t.Context(), k.ID, "inst_a", held, expires)
		if err != nil {
			t.Fatalf("ReportCreditLease(%d): %v", held, err)
		}
		return ok
	}
	if !report(16, now.Add(2*time.Minute)) {
		t.Fatal("ReportCreditLease of a recorded lease: got false")
	}
	if !report(17, now.Add(3*time.Minute)) {
		t.Fatal("ReportCreditLease of a recorded lease: got false")
	}
	ls, err := s.RenewCreditLeases(t.Context(), "inst_b", []string{k.ID}, now) // another instance's: nothing
	if err != nil || len(ls) != 0 {
		t.Fatalf("RenewCreditLeases(inst_b): got %+v, %v; want none", ls, err)
	}
	// Expired at the first report's expiry? No: the second moved it.
	if n := mustExpire(t, s, now.Add(2*time.Minute)); n != 0 {
		t.Errorf("ExpireCreditLeases before the reported expiry: got %d, want 0", n)
	}
	if n := mustExpire(t, s, now.Add(3*time.Minute)); n != 1 {
		t.Errorf("ExpireCreditLeases at the reported expiry: got %d, want 1", n)
	}
	checkSpend(t, mustSpend(t, s, k.ID, 0, now.Add(3*time.Minute)), true, 79+16)
	if report(10, now.Add(time.Hour)) {
		t.Error("ReportCreditLease of an expired, returned lease: got true, want false")
	}
	_, err = s.ReportCreditLease(t.Context(), k.ID, "inst_a", -1, now)
	checkError(t, err, pihu.EParameterInvalid, "held")
}

// testCreditLeasesExpireReturnsOnce: two sweepers at once (and again
// later) return an expired lease's held credits to its key exactly
// once; a lease not yet expired stays.
func testCreditLeasesExpireReturnsOnce(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 1000, nil, epoch)
	now := epoch.Add(time.Minute)
	mustLease(t, s, leaseReq(k.ID, "inst_a", 100, 10, now.Add(30*time.Second)), now) // 899 left, 90 held
	mustLease(t, s, leaseReq(k.ID, "inst_b", 50, 5, now.Add(time.Hour)), now)        // 848 left
	if n := mustExpire(t, s, now.Add(29*time.Second)); n != 0 {
		t.Fatalf("ExpireCreditLeases before expiry: got %d, want 0", n)
	}
	checkExpireOnce(t, []pihu.Store{s, s}, now.Add(30*time.Second))
	checkSpend(t, mustSpend(t, s, k.ID, 0, now.Add(time.Minute)), true, 848+90)
	if n := mustExpire(t, s, now.Add(time.Minute)); n != 0 {
		t.Errorf("ExpireCreditLeases again: got %d, want 0", n)
	}
	checkSpend(t, mustSpend(t, s, k.ID, 0, now.Add(time.Minute)), true, 848+90)
	if got := leasesOf(t, s, "inst_b", now.Add(time.Hour), k.ID); len(got) != 1 {
		t.Errorf("the lease not expired: got %+v, want it still recorded", got)
	}
}

// checkExpireOnce runs ExpireCreditLeases at now from 8 goroutines over
// stores at once: exactly one lease is expired in all.
func checkExpireOnce(t *testing.T, stores []pihu.Store, now time.Time) {
	t.Helper()
	var total atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 8 {
		st := stores[i%len(stores)]
		wg.Go(func() {
			<-start
			n, err := st.ExpireCreditLeases(t.Context(), now, 100)
			if err != nil {
				t.Errorf("ExpireCreditLeases: %v", err)
			}
			total.Add(int64(n))
		})
	}
	close(start)
	wg.Wait()
	if n := total.Load(); n != 1 {
		t.Errorf("8 sweepers at once expired %d leases in all, want 1", n)
	}
}

// testCreditLeasesExpireAfterSet: an expired lease is not added to a
// balance set through the API after it was taken.
func testCreditLeasesExpireAfterSet(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 100, nil, epoch)
	now := epoch.Add(time.Minute)
	mustLease(t, s, leaseReq(k.ID, "inst_a", 20, 2, now.Add(30*time.Second)), now)
	if _, err := s.UpdateKey(t.Context(), pihu.KeyUpdate{AccountID: k.AccountID, ID: k.ID,
		Apply: func(k *pihu.Key) error {
			k.Credits = &pihu.Credits{Remaining: 500, Refilled: now.Add(time.Second)}
			return nil
		}}); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	if n := mustExpire(t, s, now.Add(time.Minute)); n != 1 {
		t.Errorf("ExpireCreditLeases: got %d, want 1 (deleted, nothing given back)", n)
	}
	checkSpend(t, mustSpend(t, s, k.ID, 0, now.Add(time.Minute)), true, 500)
}

// testCreditLeasesExpireAfterRefill: an expired lease taken before a
// refill is not carried over it.
func testCreditLeasesExpireAfterRefill(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 100, &pihu.Refill{Interval: pihu.RefillDaily, Amount: 50}, epoch)
	now := epoch.Add(time.Hour)
	mustLease(t, s, leaseReq(k.ID, "inst_a", 20, 2, now.Add(30*time.Second)), now)
	tomorrow := time.Date(2024, 2, 21, 1, 0, 0, 0, time.UTC)
	if n := mustExpire(t, s, tomorrow); n != 1 {
		t.Errorf("ExpireCreditLeases: got %d, want 1", n)
	}
	checkSpend(t, mustSpend(t, s, k.ID, 0, tomorrow), true, 50)
}

// testCreditLeasesExpireNoCredits: the lease of a key whose credits were
// taken off is deleted when it expires, and gives nothing back.
func testCreditLeasesExpireNoCredits(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 100, nil, epoch)
	now := epoch.Add(time.Minute)
	mustLease(t, s, leaseReq(k.ID, "inst_a", 20, 2, now.Add(30*time.Second)), now)
	if _, err := s.UpdateKey(t.Context(), pihu.KeyUpdate{AccountID: k.AccountID, ID: k.ID,
		Apply: func(k *pihu.Key) error { k.Credits = nil; return nil }}); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	if n := mustExpire(t, s, now.Add(time.Minute)); n != 1 {
		t.Errorf("ExpireCreditLeases: got %d, want 1", n)
	}
	checkSpend(t, mustSpend(t, s, k.ID, 0, now.Add(time.Minute)), true, -1)
}

// testCreditLeasesRenewExtends: a renewed lease does not expire at its
// old expiry, and does at the new one; a lease of the instance on a key
// it does not list is not renewed.
func testCreditLeasesRenewExtends(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 100, nil, epoch)
	other := creditKey(t, s, 100, nil, epoch)
	now := epoch.Add(time.Minute)
	mustLease(t, s, leaseReq(k.ID, "inst_a", 20, 2, now.Add(30*time.Second)), now)
	mustLease(t, s, leaseReq(other.ID, "inst_a", 20, 2, now.Add(30*time.Second)), now)
	got := leasesOf(t, s, "inst_a", now.Add(90*time.Second), k.ID, "key_unknown")
	if l := got[k.ID]; len(got) != 1 || !l.Expires.Equal(now.Add(90*time.Second)) {
		t.Errorf("renewed leases: got %+v, want the one of %s, expiring at %v", got, k.ID, now.Add(90*time.Second))
	}
	if n := mustExpire(t, s, now.Add(time.Minute)); n != 1 {
		t.Errorf("ExpireCreditLeases after the old expiry: got %d, want 1 (the lease not renewed)", n)
	}
	checkSpend(t, mustSpend(t, s, k.ID, 0, now.Add(time.Minute)), true, 79)
	checkSpend(t, mustSpend(t, s, other.ID, 0, now.Add(time.Minute)), true, 97)
	if n := mustExpire(t, s, now.Add(90*time.Second)); n != 1 {
		t.Errorf("ExpireCreditLeases at the new expiry: got %d, want 1", n)
	}
	checkSpend(t, mustSpend(t, s, k.ID, 0, now.Add(2*time.Minute)), true, 97)
}

// testCreditLeasesReturnDeletes: a lease returned gives back what the
// instance says it has not spent, and is gone: returned again, reported
// or expired, it gives nothing more.
func testCreditLeasesReturnDeletes(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 100, nil, epoch)
	now := epoch.Add(time.Minute)
	mustLease(t, s, leaseReq(k.ID, "inst_a", 20, 2, now.Add(30*time.Second)), now) // 79 left
	ret := func(unspent int64) bool {
		t.Helper()
		ok, err := s.ReturnCreditLease(t.Context(), k.ID, "inst_a", unspent, now.Add(time.Second))
		if err != nil {
			t.Fatalf("ReturnCreditLease(%d): %v", unspent, err)
		}
		return ok
	}
	if !ret(19) {
		t.Fatal("ReturnCreditLease of a recorded lease: got false")
	}
	checkSpend(t, mustSpend(t, s, k.ID, 0, now.Add(time.Second)), true, 98)
	if ret(19) {
		t.Error("ReturnCreditLease again: got true, want false")
	}
	if n := mustExpire(t, s, now.Add(time.Hour)); n != 0 {
		t.Errorf("ExpireCreditLeases after the return: got %d, want 0", n)
	}
	if ok, err := s.ReportCreditLease(t.Context(), k.ID, "inst_a", 1, now.Add(time.Hour)); err != nil || ok {
		t.Errorf("ReportCreditLease after the return: got %v, %v; want false", ok, err)
	}
	checkSpend(t, mustSpend(t, s, k.ID, 0, now.Add(time.Hour)), true, 98)
}

// testCreditLeasesReturnRotated: a lease taken with a key rotated since
// goes back to its successor's balance, which the two share.
func testCreditLeasesReturnRotated(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 100, nil, epoch)
	now := epoch.Add(time.Minute)
	mustLease(t, s, leaseReq(k.ID, "inst_a", 20, 2, now.Add(30*time.Second)), now) // 79 left
	next, _, err := k.Successor(k, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateKey(t.Context(), next, now.Add(time.Hour)); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	if n := mustExpire(t, s, now.Add(time.Minute)); n != 1 {
		t.Errorf("ExpireCreditLeases: got %d, want 1", n)
	}
	checkSpend(t, mustSpend(t, s, next.ID, 0, now.Add(time.Minute)), true, 97)
}

// testCreditLeasesInvalid: a malformed lease is refused, and a lease of
// a key that does not exist is ENotFound.
func testCreditLeasesInvalid(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 100, nil, epoch)
	now := epoch.Add(time.Minute)
	_, err := s.LeaseCredits(t.Context(), leaseReq(k.ID, "inst_a", 20, 21, now), now)
	checkError(t, err, pihu.EParameterInvalid, "unreported")
	_, err = s.LeaseCredits(t.Context(), leaseReq(k.ID, "", 20, 2, now), now)
	checkError(t, err, pihu.EParameterInvalid, "instance")
	_, err = s.LeaseCredits(t.Context(), leaseReq("key_unknown", "inst_a", 20, 2, now), now)
	checkError(t, err, pihu.ENotFound, "")
	checkSpend(t, mustSpend(t, s, k.ID, 0, now), true, 100)
}

// testInstancesExpireCreditLeases: sweepers on two instances at once
// return an expired lease once.
func testInstancesExpireCreditLeases(t *testing.T, s [2]pihu.Store) {
	k := creditKey(t, s[0], 1000, nil, epoch)
	now := epoch.Add(time.Minute)
	mustLease(t, s[0], leaseReq(k.ID, "inst_a", 100, 10, now.Add(30*time.Second)), now) // 899 left, 90 held
	checkExpireOnce(t, s[:], now.Add(time.Minute))
	checkSpend(t, mustSpend(t, s[1], k.ID, 0, now.Add(time.Minute)), true, 989)
}
