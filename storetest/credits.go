package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func runCredits(t *testing.T, run func(*testing.T, string, func(*testing.T, pihu.Store))) {
	run(t, "RoundTrip", testCreditsRoundTrip)
	run(t, "SpendExact", testCreditsSpendExact)
	run(t, "SpendCost", testCreditsSpendCost)
	run(t, "RotationOneBalance", testCreditsRotationOneBalance)
	run(t, "NoCredits", testCreditsNoCredits)
	run(t, "SpendNotFound", testCreditsSpendNotFound)
	run(t, "RefillDaily", testCreditsRefillDaily)
	run(t, "RefillMonthlyLastDay", testCreditsRefillMonthlyLastDay)
	run(t, "Update", testCreditsUpdate)
	run(t, "UpdateRefused", testCreditsUpdateRefused)
	run(t, "UpdateNotFound", testCreditsUpdateNotFound)
	run(t, "Import", testCreditsImport)
	run(t, "ImportDuplicate", testCreditsImportDuplicate)
	run(t, "ImportMany", testCreditsImportMany)
}

// spendAll spends one credit at a time from 16 goroutines until each is
// refused, goroutine i spending key ids[i%len(ids)] through
// stores[i%len(stores)] at now, and returns how many spends succeeded.
func spendAll(t *testing.T, stores []pihu.Store, ids []string, now time.Time) int64 {
	t.Helper()
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		st, id := stores[i%len(stores)], ids[i%len(ids)]
		wg.Go(func() {
			for {
				sp, err := st.SpendCredits(t.Context(), id, 1, now)
				if err != nil {
					t.Errorf("SpendCredits(%s): %v", id, err)
					return
				}
				if !sp.OK {
					return
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	return ok.Load()
}

// creditKey stores a key of a new account with n credits and refill r,
// created at now.
func creditKey(tb testing.TB, s pihu.Store, n int64, r *pihu.Refill, now time.Time) *pihu.Key {
	tb.Helper()
	a, _ := mustCreateAccount(tb, s, "Acme")
	req := readKey("metered")
	req.Credits = &pihu.Credits{Remaining: n, Refill: r}
	k := newKey(tb, a.ID, req, now)
	mustCreateKey(tb, s, k)
	return k
}

func mustSpend(tb testing.TB, s pihu.Store, id string, cost int64, now time.Time) pihu.Spend {
	tb.Helper()
	sp, err := s.SpendCredits(tb.Context(), id, cost, now)
	if err != nil {
		tb.Fatalf("SpendCredits(%s, %d): %v", id, cost, err)
	}
	return sp
}

func checkSpend(tb testing.TB, got pihu.Spend, ok bool, remaining int64) {
	tb.Helper()
	if got.OK != ok || got.Remaining != remaining {
		tb.Errorf("spend: got ok=%v remaining=%d, want ok=%v remaining=%d", got.OK, got.Remaining, ok, remaining)
	}
}

// testCreditsRoundTrip stores a key with metadata and credits, and reads
// every field back.
func testCreditsRoundTrip(t *testing.T, s pihu.Store) {
	a, _ := mustCreateAccount(t, s, "Acme")
	req := readKey("metered")
	req.Metadata = json.RawMessage(`{"plan":"pro","seats":3,"tags":["a","b"]}`)
	req.Credits = &pihu.Credits{Remaining: 7, Refill: &pihu.Refill{Interval: pihu.RefillMonthly, Amount: 100, Day: 15}}
	k := newKey(t, a.ID, req, epoch)
	mustCreateKey(t, s, k)
	got, err := s.Key(t.Context(), a.ID, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, got, k)
	got, err = s.KeyByDigest(t.Context(), k.Digest)
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, got, k)
}

// testCreditsSpendExact spends a key of 100 credits from 16 goroutines
// until each is refused: exactly 100 spends succeed, and none is lost.
func testCreditsSpendExact(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 100, nil, epoch)
	if n := spendAll(t, []pihu.Store{s}, []string{k.ID}, epoch.Add(time.Minute)); n != 100 {
		t.Errorf("successful spends: got %d, want 100", n)
	}
	checkSpend(t, mustSpend(t, s, k.ID, 1, epoch.Add(time.Minute)), false, 0)
}

// testCreditsRotationOneBalance rotates a key with credits and a grace
// period: the successor takes the balance as it stands in the store (not
// as the caller read it), and spends with the old key and the new one,
// side by side, share it: exactly as many succeed as were left.
func testCreditsRotationOneBalance(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 100, nil, epoch)
	now := epoch.Add(time.Minute)
	checkSpend(t, mustSpend(t, s, k.ID, 10, now), true, 90)
	// k is the key as created (100 credits): the rotation must not trust it.
	next, _, err := k.Successor(k, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateKey(t.Context(), next, now.Add(time.Hour)); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	got, err := s.KeyByDigest(t.Context(), next.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if got.Credits == nil || got.Credits.Remaining != 90 {
		t.Fatalf("successor's credits: got %+v, want the 90 left", got.Credits)
	}
	if n := spendAll(t, []pihu.Store{s}, []string{k.ID, next.ID}, now.Add(time.Minute)); n != 90 {
		t.Errorf("successful spends with the old and the new key: got %d, want 90", n)
	}
	checkSpend(t, mustSpend(t, s, k.ID, 1, now.Add(time.Minute)), false, 0)
	checkSpend(t, mustSpend(t, s, next.ID, 1, now.Add(time.Minute)), false, 0)
}

// testCreditsSpendCost spends more than one credit at a time; a cost
// larger than what is left spends nothing, and a cost of 0 checks without
// spending.
func testCreditsSpendCost(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 10, nil, epoch)
	now := epoch.Add(time.Minute)
	checkSpend(t, mustSpend(t, s, k.ID, 4, now), true, 6)
	checkSpend(t, mustSpend(t, s, k.ID, 7, now), false, 6)
	checkSpend(t, mustSpend(t, s, k.ID, 0, now), true, 6)
	checkSpend(t, mustSpend(t, s, k.ID, 6, now), true, 0)
	checkSpend(t, mustSpend(t, s, k.ID, 0, now), false, 0)
	got, err := s.KeyByDigest(t.Context(), k.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if got.Credits == nil || got.Credits.Remaining != 0 {
		t.Errorf("stored credits: got %+v, want 0 remaining", got.Credits)
	}
}

// testCreditsNoCredits: a key without credits is never refused, and keeps
// no credits.
func testCreditsNoCredits(t *testing.T, s pihu.Store) {
	a, _ := mustCreateAccount(t, s, "Acme")
	k := newKey(t, a.ID, readKey("free"), epoch)
	mustCreateKey(t, s, k)
	checkSpend(t, mustSpend(t, s, k.ID, 5, epoch), true, -1)
	got, err := s.KeyByDigest(t.Context(), k.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if got.Credits != nil {
		t.Errorf("Credits: got %+v, want nil", got.Credits)
	}
}

func testCreditsSpendNotFound(t *testing.T, s pihu.Store) {
	_, err := s.SpendCredits(t.Context(), "key_unknown", 1, epoch)
	checkError(t, err, pihu.ENotFound, "")
}

// testCreditsRefillDaily spends a daily-refilled key dry, and finds it
// full again (at the amount, not more) after the next midnight UTC.
func testCreditsRefillDaily(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 2, &pihu.Refill{Interval: pihu.RefillDaily, Amount: 3}, epoch) // 12:00
	now := epoch.Add(time.Hour)
	checkSpend(t, mustSpend(t, s, k.ID, 2, now), true, 0)
	sp := mustSpend(t, s, k.ID, 1, now)
	checkSpend(t, sp, false, 0)
	if want := time.Date(2024, 2, 21, 0, 0, 0, 0, time.UTC); sp.NextRefill == nil || !sp.NextRefill.Equal(want) {
		t.Errorf("NextRefill: got %v, want %v", sp.NextRefill, want)
	}
	// One second before midnight: still dry.
	checkSpend(t, mustSpend(t, s, k.ID, 1, time.Date(2024, 2, 20, 23, 59, 59, 0, time.UTC)), false, 0)
	// Two days later: one refill, to the amount.
	later := time.Date(2024, 2, 22, 8, 0, 0, 0, time.UTC)
	checkSpend(t, mustSpend(t, s, k.ID, 1, later), true, 2)
	checkSpend(t, mustSpend(t, s, k.ID, 2, later), true, 0)
	checkSpend(t, mustSpend(t, s, k.ID, 1, later.Add(time.Hour)), false, 0)
}

// testCreditsRefillMonthlyLastDay: a refill on day 31 comes on the last
// day of a month of 30 days (and of February).
func testCreditsRefillMonthlyLastDay(t *testing.T, s pihu.Store) {
	start := time.Date(2024, 4, 1, 9, 0, 0, 0, time.UTC)
	k := creditKey(t, s, 1, &pihu.Refill{Interval: pihu.RefillMonthly, Amount: 5, Day: 31}, start)
	checkSpend(t, mustSpend(t, s, k.ID, 1, start), true, 0)
	sp := mustSpend(t, s, k.ID, 1, time.Date(2024, 4, 29, 23, 0, 0, 0, time.UTC))
	checkSpend(t, sp, false, 0)
	if want := time.Date(2024, 4, 30, 0, 0, 0, 0, time.UTC); sp.NextRefill == nil || !sp.NextRefill.Equal(want) {
		t.Errorf("NextRefill: got %v, want %v (April has 30 days)", sp.NextRefill, want)
	}
	checkSpend(t, mustSpend(t, s, k.ID, 1, time.Date(2024, 4, 30, 0, 0, 0, 0, time.UTC)), true, 4)
	// May 31st is the next refill; May 30th is not.
	checkSpend(t, mustSpend(t, s, k.ID, 4, time.Date(2024, 5, 30, 12, 0, 0, 0, time.UTC)), true, 0)
	checkSpend(t, mustSpend(t, s, k.ID, 1, time.Date(2024, 5, 30, 23, 59, 59, 0, time.UTC)), false, 0)
	checkSpend(t, mustSpend(t, s, k.ID, 1, time.Date(2024, 5, 31, 0, 0, 0, 0, time.UTC)), true, 4)
}

// testCreditsUpdate changes every field an update may change, and reads
// them back, with the audit event.
func testCreditsUpdate(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 10, nil, epoch)
	exp := epoch.Add(48 * time.Hour)
	var ev *pihu.AuditEvent
	got, err := s.UpdateKey(t.Context(), pihu.KeyUpdate{AccountID: k.AccountID, ID: k.ID,
		Apply: func(k *pihu.Key) error {
			k.Name = "renamed"
			k.Permissions = pihu.Permissions{"candidate:read", "interview:read"}
			k.RateLimit = pihu.StoredRateLimit("5/s")
			k.AllowedIPs = pihu.StoredAllowedIPs([]string{"203.0.113.0/24"})
			k.Metadata = json.RawMessage(`{"plan":"team"}`)
			k.Expires = &exp
			k.Credits = &pihu.Credits{Remaining: 42, Refill: &pihu.Refill{Interval: pihu.RefillDaily, Amount: 50}, Refilled: epoch.Add(time.Hour)}
			return nil
		},
		Events: func(k *pihu.Key) []*pihu.AuditEvent {
			ev = pihu.NewAuditEvent(pihu.ActionKeyUpdated, k.ID, "203.0.113.7", k, epoch.Add(time.Hour))
			ev.Changes = []string{"name", "permissions"}
			return []*pihu.AuditEvent{ev}
		},
	})
	if err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	stored, err := s.Key(t.Context(), k.AccountID, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, stored, got)
	if stored.Name != "renamed" || string(stored.Metadata) != `{"plan":"team"}` || stored.Credits.Remaining != 42 {
		t.Errorf("stored: got %+v", stored)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: k.AccountID, Target: k.ID})
	checkEvents(t, events, []*pihu.AuditEvent{ev})
	// Clearing: metadata and credits go back to none.
	got, err = s.UpdateKey(t.Context(), pihu.KeyUpdate{AccountID: k.AccountID, ID: k.ID,
		Apply: func(k *pihu.Key) error {
			k.Metadata, k.Credits, k.Expires, k.AllowedIPs = nil, nil, nil, pihu.AllowedIPs{}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	stored, err = s.KeyByDigest(t.Context(), k.Digest)
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, stored, got)
}

// testCreditsUpdateRefused: an Apply that refuses changes nothing.
func testCreditsUpdateRefused(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 10, nil, epoch)
	refusal := pihu.Errorf(pihu.EInsufficientPermissions, "no")
	_, err := s.UpdateKey(t.Context(), pihu.KeyUpdate{AccountID: k.AccountID, ID: k.ID,
		Apply: func(k *pihu.Key) error { k.Name = "changed"; return refusal },
		Events: func(k *pihu.Key) []*pihu.AuditEvent {
			return []*pihu.AuditEvent{pihu.NewAuditEvent(pihu.ActionKeyUpdated, k.ID, "", k, epoch)}
		}})
	checkError(t, err, pihu.EInsufficientPermissions, "")
	stored, err := s.Key(t.Context(), k.AccountID, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, stored, k)
	if events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: k.AccountID, Target: k.ID}); len(events) != 0 {
		t.Errorf("events: got %d, want 0", len(events))
	}
}

// testCreditsUpdateNotFound: another account's key, or a revoked one, is
// not found.
func testCreditsUpdateNotFound(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 10, nil, epoch)
	other, _ := mustCreateAccount(t, s, "Other")
	apply := func(k *pihu.Key) error { k.Name = "x"; return nil }
	_, err := s.UpdateKey(t.Context(), pihu.KeyUpdate{AccountID: other.ID, ID: k.ID, Apply: apply})
	checkError(t, err, pihu.ENotFound, "")
	if _, err := s.RevokeKey(t.Context(), k.AccountID, k.ID, epoch.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateKey(t.Context(), pihu.KeyUpdate{AccountID: k.AccountID, ID: k.ID, Apply: apply})
	checkError(t, err, pihu.ENotFound, "")
}

// importedKey builds an imported key of account accountID for secret.
func importedKey(accountID, secret string) *pihu.Key {
	return &pihu.Key{
		ID: pihu.NewID(pihu.PrefixKey), AccountID: accountID, Name: "imported", Environment: pihu.Live,
		Permissions: pihu.Permissions{"candidate:read"}, Digest: pihu.Digest(secret), Created: epoch, Imported: true,
		Metadata: json.RawMessage(`{"from":"legacy"}`),
	}
}

func testCreditsImport(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	keys := []*pihu.Key{importedKey(a.ID, "sk_legacy_1"), importedKey(a.ID, "sk_legacy_2")}
	ev := pihu.NewAuditEvent(pihu.ActionKeyCreated, owner.ID, "", keys[0], epoch)
	if err := s.ImportKeys(t.Context(), keys, ev); err != nil {
		t.Fatalf("ImportKeys: %v", err)
	}
	for _, k := range keys {
		got, err := s.KeyByDigest(t.Context(), k.Digest)
		if err != nil {
			t.Fatal(err)
		}
		checkKey(t, got, k)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: keys[0].ID})
	checkEvents(t, events, []*pihu.AuditEvent{ev})
}

// testCreditsImportDuplicate: a hash stored already, or twice in the
// list, fails the whole import, naming the index.
func testCreditsImportDuplicate(t *testing.T, s pihu.Store) {
	a, _ := mustCreateAccount(t, s, "Acme")
	if err := s.ImportKeys(t.Context(), []*pihu.Key{importedKey(a.ID, "stored")}); err != nil {
		t.Fatal(err)
	}
	fresh := importedKey(a.ID, "fresh")
	err := s.ImportKeys(t.Context(), []*pihu.Key{fresh, importedKey(a.ID, "stored")})
	checkError(t, err, pihu.EKeyExists, "keys[1].hash")
	err = s.ImportKeys(t.Context(), []*pihu.Key{fresh, importedKey(a.ID, "other"), importedKey(a.ID, "fresh")})
	checkError(t, err, pihu.EKeyExists, "keys[2].hash")
	if _, err := s.KeyByDigest(t.Context(), fresh.Digest); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("a key of a failed import was stored: %v", err)
	}
	if _, err := s.KeyByDigest(t.Context(), pihu.Digest("other")); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("a key of a failed import was stored: %v", err)
	}
}

// testCreditsImportMany imports 1,000 keys at once.
func testCreditsImportMany(t *testing.T, s pihu.Store) {
	a, _ := mustCreateAccount(t, s, "Acme")
	keys := make([]*pihu.Key, 1000)
	for i := range keys {
		keys[i] = importedKey(a.ID, fmt.Sprintf("legacy-secret-%d", i))
	}
	if err := s.ImportKeys(t.Context(), keys); err != nil {
		t.Fatalf("ImportKeys: %v", err)
	}
	for _, i := range []int{0, 499, 999} {
		got, err := s.KeyByDigest(t.Context(), keys[i].Digest)
		if err != nil {
			t.Fatal(err)
		}
		checkKey(t, got, keys[i])
	}
	all, _ := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 100})
	if len(all) != 100 {
		t.Errorf("listed %d keys, want a full page", len(all))
	}
}

// testInstancesSpendCredits spends a key of 100 credits from 8 goroutines
// on each of two instances: exactly 100 spends succeed.
func testInstancesSpendCredits(t *testing.T, s [2]pihu.Store) {
	k := creditKey(t, s[0], 100, nil, epoch)
	if n := spendAll(t, s[:], []string{k.ID}, epoch.Add(time.Minute)); n != 100 {
		t.Errorf("successful spends: got %d, want 100", n)
	}
}
