package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// runInterviews registers the rules of pihu.InterviewStore.
func runInterviews(t *testing.T, run runFunc) {
	run(t, "CreateAndGet", testInterviewsCreateAndGet)
	run(t, "CandidateMustBeInScope", testInterviewsCandidateMustBeInScope)
	run(t, "NotFound", testInterviewsNotFound)
	run(t, "OtherScopeIsNotFound", testInterviewsOtherScopeIsNotFound)
	run(t, "ListPagination", testInterviewsListPagination)
	run(t, "ListStartingAfterInvalid", testInterviewsListStartingAfterInvalid)
	run(t, "ListEndingBefore", testInterviewsListEndingBefore)
	run(t, "Delete", testInterviewsDelete)
	run(t, "DeleteKeepsCursor", testInterviewsDeleteKeepsCursor)
	run(t, "NoneOutlivesItsCandidate", testInterviewsNoneOutlivesItsCandidate)
}

// newInterview builds and stores an interview of candidateID in scope sc.
func newInterview(tb testing.TB, s pihu.Store, sc pihu.Scope, candidateID, position string, now time.Time) *pihu.Interview {
	tb.Helper()
	iv, err := pihu.NewInterview(&pihu.Key{AccountID: sc.AccountID, Environment: sc.Environment}, candidateID, position, nil, now)
	if err != nil {
		tb.Fatalf("NewInterview: %v", err)
	}
	if err := s.CreateInterview(tb.Context(), iv); err != nil {
		tb.Fatalf("CreateInterview: %v", err)
	}
	return iv
}

func testInterviewsCreateAndGet(t *testing.T, s pihu.Store) {
	live, _, _ := scopes(t, s)
	c := newCandidate(t, s, live, "Ada", epoch)
	at := epoch.Add(48 * time.Hour)
	scheduled, err := pihu.NewInterview(&pihu.Key{AccountID: live.AccountID, Environment: live.Environment}, c.ID, "Backend engineer", &at, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateInterview(t.Context(), scheduled); err != nil {
		t.Fatalf("CreateInterview: %v", err)
	}
	unscheduled := newInterview(t, s, live, c.ID, "Designer", epoch.Add(time.Second))
	for _, want := range []*pihu.Interview{scheduled, unscheduled} {
		got, err := s.Interview(t.Context(), live, want.ID)
		if err != nil {
			t.Fatalf("Interview: %v", err)
		}
		checkInterview(t, got, want)
	}
}

// testInterviewsCandidateMustBeInScope checks that an interview can only be
// made for a candidate of the same account and environment that is not
// deleted, and that a refused one is not stored.
func testInterviewsCandidateMustBeInScope(t *testing.T, s pihu.Store) {
	live, test, other := scopes(t, s)
	inTest := newCandidate(t, s, test, "Test", epoch)
	inOther := newCandidate(t, s, other, "Other", epoch)
	deleted := newCandidate(t, s, live, "Deleted", epoch)
	if err := s.DeleteCandidate(t.Context(), live, deleted.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{pihu.NewID(pihu.PrefixCandidate), inTest.ID, inOther.ID, deleted.ID} {
		iv, err := pihu.NewInterview(&pihu.Key{AccountID: live.AccountID, Environment: live.Environment}, id, "Engineer", nil, epoch)
		if err != nil {
			t.Fatal(err)
		}
		checkError(t, s.CreateInterview(t.Context(), iv), pihu.EParameterInvalid, "candidate_id")
		_, err = s.Interview(t.Context(), live, iv.ID)
		checkError(t, err, pihu.ENotFound, "")
	}
	got, _ := mustListInterviews(t, s, live, pihu.Page{Limit: 10})
	if len(got) != 0 {
		t.Errorf("ListInterviews: got %v, want none", interviewIDs(got))
	}
}

func testInterviewsNotFound(t *testing.T, s pihu.Store) {
	live, _, _ := scopes(t, s)
	_, err := s.Interview(t.Context(), live, pihu.NewID(pihu.PrefixInterview))
	checkError(t, err, pihu.ENotFound, "")
	checkError(t, s.DeleteInterview(t.Context(), live, pihu.NewID(pihu.PrefixInterview)), pihu.ENotFound, "")
}

func testInterviewsOtherScopeIsNotFound(t *testing.T, s pihu.Store) {
	live, test, other := scopes(t, s)
	iv := newInterview(t, s, live, newCandidate(t, s, live, "Ada", epoch).ID, "Engineer", epoch)
	for _, sc := range []pihu.Scope{test, other} {
		_, err := s.Interview(t.Context(), sc, iv.ID)
		checkError(t, err, pihu.ENotFound, "")
		checkError(t, s.DeleteInterview(t.Context(), sc, iv.ID), pihu.ENotFound, "")
		got, _ := mustListInterviews(t, s, sc, pihu.Page{Limit: 10})
		if len(got) != 0 {
			t.Errorf("ListInterviews(%+v): got %v, want none", sc, interviewIDs(got))
		}
	}
	got, err := s.Interview(t.Context(), live, iv.ID)
	if err != nil {
		t.Fatalf("Interview after deletes from other scopes: %v", err)
	}
	checkInterview(t, got, iv)
}

func testInterviewsListPagination(t *testing.T, s pihu.Store) {
	live, test, _ := scopes(t, s)
	c := newCandidate(t, s, live, "Ada", epoch)
	tc := newCandidate(t, s, test, "Test", epoch)
	var want []*pihu.Interview
	for i := range 17 {
		want = append(want, newInterview(t, s, live, c.ID, fmt.Sprint("Position ", i), epoch))
		if i%4 == 0 {
			newInterview(t, s, test, tc.ID, "Test", epoch)
		}
	}
	slices.Reverse(want)
	for _, limit := range []int{1, 4, 17, 100} {
		t.Run(fmt.Sprint("Limit", limit), func(t *testing.T) {
			got := pageAll(t, limit, len(want), func(p pihu.Page) ([]*pihu.Interview, bool) {
				return mustListInterviews(t, s, live, p)
			}, func(iv *pihu.Interview) string { return iv.ID })
			checkInterviews(t, got, want)
		})
	}
}

func testInterviewsListStartingAfterInvalid(t *testing.T, s pihu.Store) {
	live, test, _ := scopes(t, s)
	inTest := newInterview(t, s, test, newCandidate(t, s, test, "Test", epoch).ID, "Engineer", epoch)
	liveCandidate := newCandidate(t, s, live, "Ada", epoch)
	for _, id := range []string{pihu.NewID(pihu.PrefixInterview), inTest.ID, liveCandidate.ID} {
		_, _, err := s.ListInterviews(t.Context(), live, pihu.Page{Limit: 10, StartingAfter: id})
		checkError(t, err, pihu.EParameterInvalid, "starting_after")
	}
}

func testInterviewsDelete(t *testing.T, s pihu.Store) {
	live, _, _ := scopes(t, s)
	c := newCandidate(t, s, live, "Ada", epoch)
	kept := newInterview(t, s, live, c.ID, "Kept", epoch)
	gone := newInterview(t, s, live, c.ID, "Gone", epoch)
	if err := s.DeleteInterview(t.Context(), live, gone.ID); err != nil {
		t.Fatalf("DeleteInterview: %v", err)
	}
	_, err := s.Interview(t.Context(), live, gone.ID)
	checkError(t, err, pihu.ENotFound, "")
	checkError(t, s.DeleteInterview(t.Context(), live, gone.ID), pihu.ENotFound, "")
	got, _ := mustListInterviews(t, s, live, pihu.Page{Limit: 10})
	checkInterviews(t, got, []*pihu.Interview{kept})
	// The candidate is untouched.
	if _, err := s.Candidate(t.Context(), live, c.ID); err != nil {
		t.Errorf("Candidate after deleting an interview: %v", err)
	}
}

func testInterviewsDeleteKeepsCursor(t *testing.T, s pihu.Store) {
	live, _, _ := scopes(t, s)
	c := newCandidate(t, s, live, "Ada", epoch)
	older := newInterview(t, s, live, c.ID, "Older", epoch)
	cursor := newInterview(t, s, live, c.ID, "Cursor", epoch)
	if err := s.DeleteInterview(t.Context(), live, cursor.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := mustListInterviews(t, s, live, pihu.Page{Limit: 10, StartingAfter: cursor.ID})
	checkInterviews(t, got, []*pihu.Interview{older})
}

// testInterviewsNoneOutlivesItsCandidate races interview creations against
// the deletion of their candidate: whatever the order, no interview of the
// deleted candidate is left visible.
func testInterviewsNoneOutlivesItsCandidate(t *testing.T, s pihu.Store) {
	live, _, _ := scopes(t, s)
	c := newCandidate(t, s, live, "Ada", epoch)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				iv, err := pihu.NewInterview(&pihu.Key{AccountID: live.AccountID, Environment: live.Environment}, c.ID, fmt.Sprint(w, "/", i), nil, epoch)
				if err != nil {
					t.Error(err)
					return
				}
				if err := s.CreateInterview(t.Context(), iv); err != nil && pihu.ErrorCode(err) != pihu.EParameterInvalid {
					t.Errorf("CreateInterview: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		if err := s.DeleteCandidate(t.Context(), live, c.ID); err != nil {
			t.Errorf("DeleteCandidate: %v", err)
		}
	})
	wg.Wait()
	got, _ := mustListInterviews(t, s, live, pihu.Page{Limit: 100})
	if len(got) != 0 {
		t.Errorf("interviews of a deleted candidate: got %v, want none", interviewIDs(got))
	}
}

func mustListInterviews(tb testing.TB, s pihu.Store, sc pihu.Scope, p pihu.Page) ([]*pihu.Interview, bool) {
	tb.Helper()
	ivs, hasMore, err := s.ListInterviews(tb.Context(), sc, p)
	if err != nil {
		tb.Fatalf("ListInterviews(%+v, %+v): %v", sc, p, err)
	}
	return ivs, hasMore
}

func interviewIDs(ivs []*pihu.Interview) []string {
	out := make([]string, len(ivs))
	for i, iv := range ivs {
		out[i] = iv.ID
	}
	return out
}

func checkInterviews(tb testing.TB, got, want []*pihu.Interview) {
	tb.Helper()
	if !slices.Equal(interviewIDs(got), interviewIDs(want)) {
		tb.Fatalf("interviews: got %v, want %v", interviewIDs(got), interviewIDs(want))
	}
	for i := range got {
		checkInterview(tb, got[i], want[i])
	}
}

// checkInterview checks that the store gave back every field of want.
func checkInterview(tb testing.TB, got, want *pihu.Interview) {
	tb.Helper()
	if got.ID != want.ID || got.AccountID != want.AccountID || got.Environment != want.Environment ||
		got.CandidateID != want.CandidateID || got.Position != want.Position || got.Status != want.Status {
		tb.Errorf("interview: got %+v, want %+v", got, want)
	}
	checkTime(tb, want.ID+" ScheduledAt", got.ScheduledAt, want.ScheduledAt)
	checkTime(tb, want.ID+" Created", &got.Created, &want.Created)
}
