package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/pihu-ai/pihu"
)

// The rules of ending_before, the cursor that pages back towards the
// newest item (Stripe's semantics), the same for every list:
//
//   - a page ending before item X holds the Limit items next newer than
//     X, still newest first;
//   - hasMore reports whether newer items remain beyond the page, so a
//     client pages back with ending_before set to the first id of each
//     page until hasMore is false;
//   - a deleted (or revoked) item's id is still a cursor; an id that was
//     never in the list (another account's, another environment's) is
//     EParameterInvalid on "ending_before";
//   - both cursors at once are EParameterInvalid on "ending_before".

// lister lists one page of a list of items.
type lister[T any] func(tb testing.TB, p pihu.Page) ([]T, bool, error)

// checkEndingBefore pages back through all (the whole list, newest first)
// with limit, from its oldest item, and checks every page and hasMore.
func checkEndingBefore[T any](t *testing.T, list lister[T], id func(T) string, all []T, limit int) {
	t.Helper()
	want := all[:len(all)-1] // every item newer than the oldest
	var got []T              // newest first, as the pages are put back together
	p := pihu.Page{Limit: limit, EndingBefore: id(all[len(all)-1])}
	for pages := 1; ; pages++ {
		page, hasMore, err := list(t, p)
		if err != nil {
			t.Fatalf("page %d (%+v): %v", pages, p, err)
		}
		end := len(want) - len(got)
		start := max(0, end-limit)
		if pageIDs(page, id) != pageIDs(want[start:end], id) {
			t.Fatalf("page %d ending before %s: got %s, want %s", pages, p.EndingBefore, pageIDs(page, id), pageIDs(want[start:end], id))
		}
		if hasMore != (start > 0) {
			t.Fatalf("page %d: hasMore: got %v, want %v", pages, hasMore, start > 0)
		}
		got = append(slices.Clone(page), got...)
		if !hasMore {
			break
		}
		p.EndingBefore = id(page[0])
	}
	if pageIDs(got, id) != pageIDs(want, id) {
		t.Errorf("paged back: got %s, want %s", pageIDs(got, id), pageIDs(want, id))
	}
}

// checkCursorErrors checks the errors of the cursors of a list: an id
// that was never in it (unknown), as starting_after or ending_before, and
// both cursors at once.
func checkCursorErrors[T any](t *testing.T, list lister[T], known, unknown string) {
	t.Helper()
	_, _, err := list(t, pihu.Page{Limit: 10, EndingBefore: unknown})
	checkError(t, err, pihu.EParameterInvalid, "ending_before")
	_, _, err = list(t, pihu.Page{Limit: 10, StartingAfter: unknown})
	checkError(t, err, pihu.EParameterInvalid, "starting_after")
	_, _, err = list(t, pihu.Page{Limit: 10, StartingAfter: known, EndingBefore: known})
	checkError(t, err, pihu.EParameterInvalid, "ending_before")
}

func pageIDs[T any](items []T, id func(T) string) string {
	out := make([]string, len(items))
	for i, v := range items {
		out[i] = id(v)
	}
	return fmt.Sprint(out)
}

// testKeysListEndingBefore pages back through 8 keys (a revoked one among
// them, left out of the pages but still a cursor) with several limits.
func testKeysListEndingBefore(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	_, ownerB := mustCreateAccount(t, s, "Other")
	all := []*pihu.Key{owner}
	for i := range 7 {
		k := newKey(t, a.ID, readKey(fmt.Sprintf("Key %d", i)), epoch)
		mustCreateKey(t, s, k)
		all = append(all, k)
	}
	revoked := all[3]
	if _, err := s.RevokeKeys(t.Context(), pihu.Revocation{AccountID: a.ID, ID: revoked.ID, At: epoch}); err != nil {
		t.Fatalf("RevokeKeys: %v", err)
	}
	all = slices.Delete(all, 3, 4)
	slices.Reverse(all)
	list := func(tb testing.TB, p pihu.Page) ([]*pihu.Key, bool, error) {
		return s.ListKeys(tb.Context(), pihu.KeyFilter{AccountID: a.ID, Limit: p.Limit, StartingAfter: p.StartingAfter, EndingBefore: p.EndingBefore})
	}
	keyID := func(k *pihu.Key) string { return k.ID }
	for _, limit := range []int{1, 2, 3, 6, 10} {
		t.Run(fmt.Sprint("Limit", limit), func(t *testing.T) { checkEndingBefore(t, list, keyID, all, limit) })
	}
	t.Run("RevokedIsCursor", func(t *testing.T) {
		got, hasMore, err := list(t, pihu.Page{Limit: 2, EndingBefore: revoked.ID})
		if err != nil {
			t.Fatal(err)
		}
		// all is newest first: revoked sat between all[3] and all[4].
		if pageIDs(got, keyID) != pageIDs(all[2:4], keyID) || !hasMore {
			t.Errorf("got %s (hasMore %v), want %s (hasMore true)", pageIDs(got, keyID), hasMore, pageIDs(all[2:4], keyID))
		}
	})
	t.Run("NewestIsEmpty", func(t *testing.T) {
		got, hasMore, err := list(t, pihu.Page{Limit: 10, EndingBefore: all[0].ID})
		if err != nil || len(got) != 0 || hasMore {
			t.Errorf("ending before the newest: got %d keys, hasMore %v, %v; want none", len(got), hasMore, err)
		}
	})
	t.Run("Errors", func(t *testing.T) { checkCursorErrors(t, list, all[1].ID, ownerB.ID) })
}

// testAuditListEndingBefore pages back through an account's audit events.
func testAuditListEndingBefore(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	_, ownerB := mustCreateAccount(t, s, "Other")
	for i := range 6 {
		k := newKey(t, a.ID, readKey(fmt.Sprintf("Key %d", i)), epoch)
		if err := s.CreateKey(t.Context(), k, pihu.NewAuditEvent(pihu.ActionKeyCreated, owner.ID, "127.0.0.1", k, epoch)); err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
	}
	all, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 100})
	if len(all) < 6 {
		t.Fatalf("got %d events, want at least 6", len(all))
	}
	list := func(tb testing.TB, p pihu.Page) ([]*pihu.AuditEvent, bool, error) {
		return s.ListAuditEvents(tb.Context(), pihu.AuditFilter{AccountID: a.ID, Limit: p.Limit, StartingAfter: p.StartingAfter, EndingBefore: p.EndingBefore})
	}
	eventID := func(e *pihu.AuditEvent) string { return e.ID }
	for _, limit := range []int{1, 4, 100} {
		t.Run(fmt.Sprint("Limit", limit), func(t *testing.T) { checkEndingBefore(t, list, eventID, all, limit) })
	}
	other, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: ownerB.AccountID, Limit: 1})
	unknown := pihu.NewID(pihu.PrefixEvent)
	if len(other) > 0 {
		unknown = other[0].ID
	}
	t.Run("Errors", func(t *testing.T) { checkCursorErrors(t, list, all[1].ID, unknown) })
}

// testCandidatesListEndingBefore pages back through the candidates of a
// scope, a deleted one among them still a cursor.
func testCandidatesListEndingBefore(t *testing.T, s pihu.Store) {
	live, test, _ := scopes(t, s)
	var all []*pihu.Candidate
	for i := range 7 {
		all = append(all, newCandidate(t, s, live, fmt.Sprintf("Ada %d", i), epoch))
	}
	slices.Reverse(all)
	gone := all[2]
	if err := s.DeleteCandidate(t.Context(), live, gone.ID); err != nil {
		t.Fatalf("DeleteCandidate: %v", err)
	}
	visible := slices.Delete(slices.Clone(all), 2, 3)
	list := func(tb testing.TB, p pihu.Page) ([]*pihu.Candidate, bool, error) {
		return s.ListCandidates(tb.Context(), live, p)
	}
	candidateID := func(c *pihu.Candidate) string { return c.ID }
	for _, limit := range []int{1, 2, 5, 100} {
		t.Run(fmt.Sprint("Limit", limit), func(t *testing.T) { checkEndingBefore(t, list, candidateID, visible, limit) })
	}
	t.Run("DeletedIsCursor", func(t *testing.T) {
		got, hasMore, err := list(t, pihu.Page{Limit: 10, EndingBefore: gone.ID})
		if err != nil || pageIDs(got, candidateID) != pageIDs(all[:2], candidateID) || hasMore {
			t.Errorf("got %s (hasMore %v, %v), want %s", pageIDs(got, candidateID), hasMore, err, pageIDs(all[:2], candidateID))
		}
	})
	testOnly := newCandidate(t, s, test, "Test person", epoch)
	t.Run("Errors", func(t *testing.T) { checkCursorErrors(t, list, visible[1].ID, testOnly.ID) })
}

// testInterviewsListEndingBefore pages back through the interviews of a
// scope.
func testInterviewsListEndingBefore(t *testing.T, s pihu.Store) {
	live, _, other := scopes(t, s)
	c := newCandidate(t, s, live, "Ada", epoch)
	var all []*pihu.Interview
	for i := range 5 {
		all = append(all, newInterview(t, s, live, c.ID, fmt.Sprintf("Role %d", i), epoch))
	}
	slices.Reverse(all)
	list := func(tb testing.TB, p pihu.Page) ([]*pihu.Interview, bool, error) {
		return s.ListInterviews(tb.Context(), live, p)
	}
	interviewID := func(iv *pihu.Interview) string { return iv.ID }
	for _, limit := range []int{1, 3, 100} {
		t.Run(fmt.Sprint("Limit", limit), func(t *testing.T) { checkEndingBefore(t, list, interviewID, all, limit) })
	}
	oc := newCandidate(t, s, other, "Other", epoch)
	elsewhere := newInterview(t, s, other, oc.ID, "Other", epoch)
	t.Run("Errors", func(t *testing.T) { checkCursorErrors(t, list, all[1].ID, elsewhere.ID) })
}
