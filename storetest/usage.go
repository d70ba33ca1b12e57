package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func runUsage(t *testing.T, run func(*testing.T, string, func(*testing.T, pihu.Store))) {
	run(t, "Add", testUsageAdd)
	run(t, "Accumulate", testUsageAccumulate)
	run(t, "RetentionPurge", testUsageRetentionPurge)
	run(t, "OtherAccountIsNotFound", testUsageOtherAccountIsNotFound)
	run(t, "UnknownKeysSkipped", testUsageUnknownKeysSkipped)
}

// testUsageAdd stores counts of two keys in several hours and reads them
// back per key, oldest first, within the window asked for, hours without a
// request left out; a revoked key keeps its usage.
func testUsageAdd(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	revoked := newKey(t, a.ID, readKey("Revoked"), epoch)
	revoked.Revoked = timePtr(epoch.Add(time.Hour))
	mustCreateKey(t, s, revoked)

	h0, h1, h3 := epoch, epoch.Add(time.Hour), epoch.Add(3*time.Hour)
	mustAddUsage(t, s, h3, []pihu.UsageCount{
		{KeyID: owner.ID, Hour: h3, Allowed: 4, Refused: 1, By: pihu.Refusals{pihu.RefusalAddress: 1}},
		{KeyID: owner.ID, Hour: h0, Allowed: 10},
		{KeyID: revoked.ID, Hour: h1, Refused: 7, By: pihu.Refusals{1, 2, 2, 1, 1}},
		{KeyID: owner.ID, Hour: h1}, // nothing to count: no row
	})

	checkUsage(t, s, a.ID, owner.ID, h0, h3.Add(time.Hour), []pihu.UsageCount{
		{KeyID: owner.ID, Hour: h0, Allowed: 10},
		{KeyID: owner.ID, Hour: h3, Allowed: 4, Refused: 1, By: pihu.Refusals{pihu.RefusalAddress: 1}},
	})
	// from is inclusive, to exclusive.
	checkUsage(t, s, a.ID, owner.ID, h1, h3, nil)
	checkUsage(t, s, a.ID, owner.ID, h3, h3.Add(time.Hour), []pihu.UsageCount{
		{KeyID: owner.ID, Hour: h3, Allowed: 4, Refused: 1, By: pihu.Refusals{pihu.RefusalAddress: 1}},
	})
	checkUsage(t, s, a.ID, revoked.ID, h0, h3, []pihu.UsageCount{
		{KeyID: revoked.ID, Hour: h1, Refused: 7, By: pihu.Refusals{1, 2, 2, 1, 1}},
	})
}

// testUsageAccumulate adds counts to those already stored for the same key
// and hour, the refusals of each reason to theirs, and files a time inside
// an hour under the hour's start. A refusal without a reason (counted
// before reasons were kept) stays in Refused only.
func testUsageAccumulate(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	inside := epoch.Add(34*time.Minute + 56*time.Second)
	mustAddUsage(t, s, epoch, []pihu.UsageCount{{KeyID: owner.ID, Hour: epoch, Allowed: 2, Refused: 1}})
	mustAddUsage(t, s, inside, []pihu.UsageCount{{KeyID: owner.ID, Hour: inside, Allowed: 3}})
	mustAddUsage(t, s, inside, []pihu.UsageCount{{KeyID: owner.ID, Hour: inside, Refused: 5, By: pihu.Refusals{2, 1, 1, 0, 1}}})
	mustAddUsage(t, s, inside, []pihu.UsageCount{
		{KeyID: owner.ID, Hour: inside, Refused: 2, By: pihu.Refusals{pihu.RefusalCredits: 2}},
		{KeyID: owner.ID, Hour: epoch, Refused: 1, By: pihu.Refusals{pihu.RefusalRateLimit: 1}},
	})
	checkUsage(t, s, a.ID, owner.ID, epoch, epoch.Add(time.Hour), []pihu.UsageCount{
		{KeyID: owner.ID, Hour: epoch, Allowed: 5, Refused: 9, By: pihu.Refusals{3, 1, 1, 2, 1}},
	})
}

// testUsageRetentionPurge checks that adding counts deletes those of hours
// older than UsageRetention before the time given, of every key, and keeps
// the rest.
func testUsageRetentionPurge(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	other := newKey(t, a.ID, readKey("Other"), epoch)
	mustCreateKey(t, s, other)
	old, kept := epoch, epoch.Add(time.Hour)
	mustAddUsage(t, s, epoch, []pihu.UsageCount{
		{KeyID: owner.ID, Hour: old, Allowed: 1},
		{KeyID: owner.ID, Hour: kept, Allowed: 2},
		{KeyID: other.ID, Hour: old, Refused: 3},
	})

	// An hour after the first hour is UsageRetention old, it is gone;
	// the next hour is exactly UsageRetention old, and stays.
	now := kept.Add(pihu.UsageRetention)
	mustAddUsage(t, s, now, []pihu.UsageCount{{KeyID: other.ID, Hour: now, Allowed: 4}})
	checkUsage(t, s, a.ID, owner.ID, old, now.Add(time.Hour), []pihu.UsageCount{
		{KeyID: owner.ID, Hour: kept, Allowed: 2},
	})
	checkUsage(t, s, a.ID, other.ID, old, now.Add(time.Hour), []pihu.UsageCount{
		{KeyID: other.ID, Hour: now, Allowed: 4},
	})
	// Counts that arrive for an hour already past retention are not kept.
	mustAddUsage(t, s, now, []pihu.UsageCount{{KeyID: owner.ID, Hour: old, Allowed: 9}})
	checkUsage(t, s, a.ID, owner.ID, old, kept, nil)
}

func testUsageOtherAccountIsNotFound(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	b, _ := mustCreateAccount(t, s, "Other")
	mustAddUsage(t, s, epoch, []pihu.UsageCount{{KeyID: owner.ID, Hour: epoch, Allowed: 1}})
	for _, tt := range []struct{ account, key string }{
		{b.ID, owner.ID},
		{a.ID, pihu.NewID(pihu.PrefixKey)},
		{pihu.NewID(pihu.PrefixAccount), owner.ID},
	} {
		got, err := s.Usage(t.Context(), tt.account, tt.key, epoch, epoch.Add(time.Hour))
		checkError(t, err, pihu.ENotFound, "")
		if got != nil {
			t.Errorf("Usage(%s, %s): got %v, want nothing", tt.account, tt.key, got)
		}
	}
}

// testUsageUnknownKeysSkipped checks that counts of a key the store does
// not have are dropped without failing the batch they came in.
func testUsageUnknownKeysSkipped(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	unknown := pihu.NewID(pihu.PrefixKey)
	mustAddUsage(t, s, epoch, []pihu.UsageCount{
		{KeyID: unknown, Hour: epoch, Allowed: 5},
		{KeyID: owner.ID, Hour: epoch, Allowed: 1},
	})
	checkUsage(t, s, a.ID, owner.ID, epoch, epoch.Add(time.Hour), []pihu.UsageCount{
		{KeyID: owner.ID, Hour: epoch, Allowed: 1},
	})
	if err := s.AddUsage(t.Context(), nil, epoch); err != nil {
		t.Errorf("AddUsage(nil): %v", err)
	}
}

func mustAddUsage(tb testing.TB, s pihu.Store, now time.Time, counts []pihu.UsageCount) {
	tb.Helper()
	if err := s.AddUsage(tb.Context(), counts, now); err != nil {
		tb.Fatalf("AddUsage: %v", err)
	}
}

// checkUsage checks that the stored hourly counts of key keyID from from
// to to are want, in order, every hour in UTC.
func checkUsage(tb testing.TB, s pihu.Store, accountID, keyID string, from, to time.Time, want []pihu.UsageCount) {
	tb.Helper()
	got, err := s.Usage(tb.Context(), accountID, keyID, from, to)
	if err != nil {
		tb.Fatalf("Usage: %v", err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		tb.Errorf("Usage from %v to %v: got %v, want %v", from, to, got, want)
	}
	for _, c := range got {
		if c.Hour.Location() != time.UTC {
			tb.Errorf("Usage: hour %v not in UTC", c.Hour)
		}
	}
}
