package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// runCandidates registers the rules of pihu.CandidateStore.
func runCandidates(t *testing.T, run runFunc) {
	run(t, "CreateAndGet", testCandidatesCreateAndGet)
	run(t, "NotFound", testCandidatesNotFound)
	run(t, "OtherScopeIsNotFound", testCandidatesOtherScopeIsNotFound)
	run(t, "DuplicateIDRejected", testCandidatesDuplicateIDRejected)
	run(t, "UnknownAccountRejected", testCandidatesUnknownAccountRejected)
	run(t, "ListNewestFirstInScope", testCandidatesListNewestFirstInScope)
	run(t, "ListPagination", testCandidatesListPagination)
	run(t, "ListLimitOutOfRange", testCandidatesListLimitOutOfRange)
	run(t, "ListStartingAfterInvalid", testCandidatesListStartingAfterInvalid)
	run(t, "ListEndingBefore", testCandidatesListEndingBefore)
	run(t, "Delete", testCandidatesDelete)
	run(t, "DeleteOtherScopeIsNotFound", testCandidatesDeleteOtherScopeIsNotFound)
	run(t, "DeleteKeepsCursor", testCandidatesDeleteKeepsCursor)
	run(t, "DeleteCascadesToInterviews", testCandidatesDeleteCascadesToInterviews)
}

// runFunc runs one rule on a new store.
type runFunc func(t *testing.T, name string, test func(*testing.T, pihu.Store))

// scopes returns the live and test scopes of a new account, and the live
// scope of another account.
func scopes(t *testing.T, s pihu.Store) (live, test, other pihu.Scope) {
	t.Helper()
	a, _ := mustCreateAccount(t, s, "Acme")
	b, _ := mustCreateAccount(t, s, "Other")
	return pihu.Scope{AccountID: a.ID, Environment: pihu.Live},
		pihu.Scope{AccountID: a.ID, Environment: pihu.Test},
		pihu.Scope{AccountID: b.ID, Environment: pihu.Live}
}

// newCandidate builds and stores a candidate in scope sc created at now.
func newCandidate(tb testing.TB, s pihu.Store, sc pihu.Scope, name string, now time.Time) *pihu.Candidate {
	tb.Helper()
	c, err := pihu.NewCandidate(&pihu.Key{AccountID: sc.AccountID, Environment: sc.Environment}, name, "ada@example.com", now)
	if err != nil {
		tb.Fatalf("NewCandidate: %v", err)
	}
	if err := s.CreateCandidate(tb.Context(), c); err != nil {
		tb.Fatalf("CreateCandidate: %v", err)
	}
	return c
}

func testCandidatesCreateAndGet(t *testing.T, s pihu.Store) {
	live, test, _ := scopes(t, s)
	c := newCandidate(t, s, live, "Ada Lovelace", epoch)
	tc := newCandidate(t, s, test, "Test person", epoch.Add(time.Hour))
	for _, want := range []*pihu.Candidate{c, tc} {
		got, err := s.Candidate(t.Context(), pihu.Scope{AccountID: want.AccountID, Environment: want.Environment}, want.ID)
		if err != nil {
			t.Fatalf("Candidate: %v", err)
		}
		checkCandidate(t, got, want)
	}
}

func testCandidatesNotFound(t *testing.T, s pihu.Store) {
	live, _, _ := scopes(t, s)
	newCandidate(t, s, live, "Ada", epoch)
	_, err := s.Candidate(t.Context(), live, pihu.NewID(pihu.PrefixCandidate))
	checkError(t, err, pihu.ENotFound, "")
}

// testCandidatesOtherScopeIsNotFound checks both walls: another account,
// and the other environment of the same account.
func testCandidatesOtherScopeIsNotFound(t *testing.T, s pihu.Store) {
	live, test, other := scopes(t, s)
	c := newCandidate(t, s, live, "Ada", epoch)
	for _, sc := range []pihu.Scope{test, other} {
		_, err := s.Candidate(t.Context(), sc, c.ID)
		checkError(t, err, pihu.ENotFound, "")
		got, _ := mustListCandidates(t, s, sc, pihu.Page{Limit: 100})
		if len(got) != 0 {
			t.Errorf("ListCandidates(%+v): got %v, want none", sc, candidateIDs(got))
		}
	}
}

func testCandidatesDuplicateIDRejected(t *testing.T, s pihu.Store) {
	live, _, _ := scopes(t, s)
	c := newCandidate(t, s, live, "Ada", epoch)
	dup := *c
	dup.Name = "Copy"
	if err := s.CreateCandidate(t.Context(), &dup); err == nil {
		t.Fatal("CreateCandidate with a duplicate id: got nil error, want one")
	}
	got, err := s.Candidate(t.Context(), live, c.ID)
	if err != nil {
		t.Fatalf("Candidate: %v", err)
	}
	checkCandidate(t, got, c)
}

func testCandidatesUnknownAccountRejected(t *testing.T, s pihu.Store) {
	c, err := pihu.NewCandidate(&pihu.Key{AccountID: pihu.NewID(pihu.PrefixAccount), Environment: pihu.Live}, "Ada", "ada@example.com", epoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCandidate(t.Context(), c); err == nil {
		t.Error("CreateCandidate for an unknown account: got nil error, want one")
	}
}

func testCandidatesListNewestFirstInScope(t *testing.T, s pihu.Store) {
	live, test, other := scopes(t, s)
	var want []*pihu.Candidate
	for i := range 3 {
		want = append(want, newCandidate(t, s, live, fmt.Sprint("Live ", i), epoch.Add(time.Duration(i)*time.Hour)))
		newCandidate(t, s, test, fmt.Sprint("Test ", i), epoch)
		newCandidate(t, s, other, fmt.Sprint("Other ", i), epoch)
	}
	slices.Reverse(want)
	got, hasMore := mustListCandidates(t, s, live, pihu.Page{Limit: 10})
	checkCandidates(t, got, want)
	if hasMore {
		t.Errorf("hasMore: got %v, want %v", hasMore, false)
	}
}

// testCandidatesListPagination pages through candidates created in the
// same second: every one on exactly one page, in a stable order.
func testCandidatesListPagination(t *testing.T, s pihu.Store) {
	live, test, _ := scopes(t, s)
	var want []*pihu.Candidate
	for i := range 24 {
		want = append(want, newCandidate(t, s, live, fmt.Sprint("Candidate ", i), epoch))
		if i%3 == 0 {
			newCandidate(t, s, test, fmt.Sprint("Test ", i), epoch)
		}
	}
	slices.Reverse(want)
	for _, limit := range []int{1, 5, 7, 24, 100} {
		t.Run(fmt.Sprint("Limit", limit), func(t *testing.T) {
			got := pageAll(t, limit, len(want), func(p pihu.Page) ([]*pihu.Candidate, bool) {
				return mustListCandidates(t, s, live, p)
			}, func(c *pihu.Candidate) string { return c.ID })
			checkCandidates(t, got, want)
		})
	}
}

func testCandidatesListLimitOutOfRange(t *testing.T, s pihu.Store) {
	live, _, _ := scopes(t, s)
	for i := range 101 {
		newCandidate(t, s, live, fmt.Sprint("Candidate ", i), epoch)
	}
	for _, tt := range []struct{ limit, want int }{{0, 10}, {-1, 10}, {101, 100}} {
		got, hasMore := mustListCandidates(t, s, live, pihu.Page{Limit: tt.limit})
		if len(got) != tt.want || !hasMore {
			t.Errorf("Limit %d: got %v candidates (hasMore %v), want %v (hasMore true)", tt.limit, len(got), hasMore, tt.want)
		}
	}
}

func testCandidatesListStartingAfterInvalid(t *testing.T, s pihu.Store) {
	live, test, other := scopes(t, s)
	inTest := newCandidate(t, s, test, "Test", epoch)
	inOther := newCandidate(t, s, other, "Other", epoch)
	for _, id := range []string{pihu.NewID(pihu.PrefixCandidate), inTest.ID, inOther.ID} {
		_, _, err := s.ListCandidates(t.Context(), live, pihu.Page{Limit: 10, StartingAfter: id})
		checkError(t, err, pihu.EParameterInvalid, "starting_after")
	}
}

func testCandidatesDelete(t *testing.T, s pihu.Store) {
	live, _, _ := scopes(t, s)
	kept := newCandidate(t, s, live, "Kept", epoch)
	gone := newCandidate(t, s, live, "Gone", epoch)
	if err := s.DeleteCandidate(t.Context(), live, gone.ID); err != nil {
		t.Fatalf("DeleteCandidate: %v", err)
	}
	_, err := s.Candidate(t.Context(), live, gone.ID)
	checkError(t, err, pihu.ENotFound, "")
	checkError(t, s.DeleteCandidate(t.Context(), live, gone.ID), pihu.ENotFound, "")
	got, _ := mustListCandidates(t, s, live, pihu.Page{Limit: 10})
	checkCandidates(t, got, []*pihu.Candidate{kept})
}

func testCandidatesDeleteOtherScopeIsNotFound(t *testing.T, s pihu.Store) {
	live, test, other := scopes(t, s)
	c := newCandidate(t, s, live, "Ada", epoch)
	for _, sc := range []pihu.Scope{test, other} {
		checkError(t, s.DeleteCandidate(t.Context(), sc, c.ID), pihu.ENotFound, "")
	}
	got, err := s.Candidate(t.Context(), live, c.ID)
	if err != nil {
		t.Fatalf("Candidate after deletes from other scopes: %v", err)
	}
	checkCandidate(t, got, c)
}

// testCandidatesDeleteKeepsCursor checks that a candidate deleted between
// two pages still works as the cursor of the next.
func testCandidatesDeleteKeepsCursor(t *testing.T, s pihu.Store) {
	live, _, _ := scopes(t, s)
	older := newCandidate(t, s, live, "Older", epoch)
	cursor := newCandidate(t, s, live, "Cursor", epoch)
	newCandidate(t, s, live, "Newer", epoch)
	if err := s.DeleteCandidate(t.Context(), live, cursor.ID); err != nil {
		t.Fatal(err)
	}
	got, hasMore := mustListCandidates(t, s, live, pihu.Page{Limit: 10, StartingAfter: cursor.ID})
	checkCandidates(t, got, []*pihu.Candidate{older})
	if hasMore {
		t.Errorf("hasMore: got %v, want %v", hasMore, false)
	}
}

func testCandidatesDeleteCascadesToInterviews(t *testing.T, s pihu.Store) {
	live, _, _ := scopes(t, s)
	gone := newCandidate(t, s, live, "Gone", epoch)
	kept := newCandidate(t, s, live, "Kept", epoch)
	ivGone := newInterview(t, s, live, gone.ID, "Engineer", epoch)
	ivKept := newInterview(t, s, live, kept.ID, "Engineer", epoch)
	if err := s.DeleteCandidate(t.Context(), live, gone.ID); err != nil {
		t.Fatal(err)
	}
	_, err := s.Interview(t.Context(), live, ivGone.ID)
	checkError(t, err, pihu.ENotFound, "")
	got, _ := mustListInterviews(t, s, live, pihu.Page{Limit: 10})
	checkInterviews(t, got, []*pihu.Interview{ivKept})
	// The deleted interview's id is still a cursor.
	got, _ = mustListInterviews(t, s, live, pihu.Page{Limit: 10, StartingAfter: ivGone.ID})
	if len(got) != 0 {
		t.Errorf("after the deleted interview: got %v, want none", interviewIDs(got))
	}
}

// pageAll follows a list page by page with limit, checking that no page is
// empty or too long, and that hasMore is true exactly until total items are
// seen.
func pageAll[T any](t *testing.T, limit, total int, list func(pihu.Page) ([]T, bool), id func(T) string) []T {
	t.Helper()
	var got []T
	p := pihu.Page{Limit: limit}
	for pages := 1; ; pages++ {
		page, hasMore := list(p)
		if len(page) == 0 || len(page) > limit {
			t.Fatalf("page %d: got %v items, want 1 to %v", pages, len(page), limit)
		}
		if wantMore := len(got)+len(page) < total; hasMore != wantMore {
			t.Fatalf("page %d: hasMore: got %v, want %v", pages, hasMore, wantMore)
		}
		got = append(got, page...)
		if !hasMore {
			return got
		}
		p.StartingAfter = id(page[len(page)-1])
	}
}

func mustListCandidates(tb testing.TB, s pihu.Store, sc pihu.Scope, p pihu.Page) ([]*pihu.Candidate, bool) {
	tb.Helper()
	cs, hasMore, err := s.ListCandidates(tb.Context(), sc, p)
	if err != nil {
		tb.Fatalf("ListCandidates(%+v, %+v): %v", sc, p, err)
	}
	return cs, hasMore
}

func candidateIDs(cs []*pihu.Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func checkCandidates(tb testing.TB, got, want []*pihu.Candidate) {
	tb.Helper()
	if !slices.Equal(candidateIDs(got), candidateIDs(want)) {
		tb.Fatalf("candidates: got %v, want %v", candidateIDs(got), candidateIDs(want))
	}
	for i := range got {
		checkCandidate(tb, got[i], want[i])
	}
}

// checkCandidate checks that the store gave back every field of want.
func checkCandidate(tb testing.TB, got, want *pihu.Candidate) {
	tb.Helper()
	if got.ID != want.ID || got.AccountID != want.AccountID || got.Environment != want.Environment ||
		got.Name != want.Name || got.Email != want.Email {
		tb.Errorf("candidate: got %+v, want %+v", got, want)
	}
	checkTime(tb, want.ID+" Created", &got.Created, &want.Created)
}
