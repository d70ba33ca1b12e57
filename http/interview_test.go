package http_test

import (
	"fmt"
	"strings"
	"testing"

	pihuhttp "github.com/pihu-ai/pihu/http"
)

// newInterview creates an interview of candidateID through the API.
func (ts *testServer) newInterview(tb testing.TB, key, candidateID string) pihuhttp.Interview {
	tb.Helper()
	r := ts.do(tb, "POST", "/v1/interviews", key, fmt.Sprintf(`{"candidate_id":%q,"position":"Engineer"}`, candidateID))
	if r.status != 200 {
		tb.Fatalf("creating interview of %s: got %d %s", candidateID, r.status, r.body)
	}
	var iv pihuhttp.Interview
	r.decode(tb, &iv)
	return iv
}

func decodeInterview(t *testing.T, r response) pihuhttp.Interview {
	t.Helper()
	var iv pihuhttp.Interview
	r.decode(t, &iv)
	return iv
}

func TestInterviews_Create(t *testing.T) {
	ts := newTestServer(t)
	k := ts.resourceKeys(t)
	c := ts.newCandidate(t, ts.Owner, "Ada")
	test := ts.newCandidate(t, k.test, "Test")
	other := ts.newCandidate(t, k.otherOwner, "Other")
	deleted := ts.newCandidate(t, ts.Owner, "Deleted")
	ts.do(t, "DELETE", "/v1/candidates/"+deleted.ID, ts.Owner, "")
	const path = "/v1/interviews"
	body := func(candidateID string) string {
		return `{"candidate_id":"` + candidateID + `","position":"Backend engineer"}`
	}
	ts.run(t, []scenario{
		{name: "OK", method: "POST", path: path, key: k.intvWrite, body: body(c.ID), status: 200,
			check: func(t *testing.T, r response) {
				iv := decodeInterview(t, r)
				if !strings.HasPrefix(iv.ID, "intv_") || iv.CandidateID != c.ID || iv.Position != "Backend engineer" ||
					iv.ScheduledAt != nil || iv.Status != "scheduled" || iv.Environment != "live" || iv.Created != "2024-02-20T12:00:00Z" {
					t.Errorf("got %+v", iv)
				}
			}},
		{name: "ScheduledAtInUTC", method: "POST", path: path, key: ts.Owner, status: 200,
			body: `{"candidate_id":"` + c.ID + `","position":"Designer","scheduled_at":"2024-03-01T15:30:00+01:00"}`,
			check: func(t *testing.T, r response) {
				if iv := decodeInterview(t, r); iv.ScheduledAt == nil || *iv.ScheduledAt != "2024-03-01T14:30:00Z" {
					t.Errorf("scheduled_at: got %v, want 2024-03-01T14:30:00Z", iv.ScheduledAt)
				}
			}},
		{name: "ScheduledAtNull", method: "POST", path: path, key: ts.Owner, status: 200,
			body: `{"candidate_id":"` + c.ID + `","position":"Designer","scheduled_at":null}`},
		{name: "TestKeyTestCandidate", method: "POST", path: path, key: k.test, body: body(test.ID), status: 200,
			check: func(t *testing.T, r response) {
				if iv := decodeInterview(t, r); iv.Environment != "test" {
					t.Errorf("environment: got %q, want test", iv.Environment)
				}
			}},

		{name: "ErrCandidateUnknown", method: "POST", path: path, key: ts.Owner, body: body("cand_nope"), status: 400, code: "parameter_invalid", param: "candidate_id"},
		{name: "ErrCandidateOtherAccount", method: "POST", path: path, key: ts.Owner, body: body(other.ID), status: 400, code: "parameter_invalid", param: "candidate_id"},
		{name: "ErrLiveCandidateWithTestKey", method: "POST", path: path, key: k.test, body: body(c.ID), status: 400, code: "parameter_invalid", param: "candidate_id"},
		{name: "ErrTestCandidateWithLiveKey", method: "POST", path: path, key: ts.Owner, body: body(test.ID), status: 400, code: "parameter_invalid", param: "candidate_id"},
		{name: "ErrCandidateDeleted", method: "POST", path: path, key: ts.Owner, body: body(deleted.ID), status: 400, code: "parameter_invalid", param: "candidate_id"},
		{name: "ErrCandidateMissing", method: "POST", path: path, key: ts.Owner, body: `{"position":"Engineer"}`, status: 400, code: "parameter_missing", param: "candidate_id"},
		{name: "ErrCandidateEmpty", method: "POST", path: path, key: ts.Owner, body: `{"candidate_id":"","position":"Engineer"}`, status: 400, code: "parameter_invalid", param: "candidate_id"},
		{name: "ErrCandidateNotString", method: "POST", path: path, key: ts.Owner, body: `{"candidate_id":7,"position":"Engineer"}`, status: 400, code: "parameter_invalid", param: "candidate_id"},
		{name: "ErrPositionMissing", method: "POST", path: path, key: ts.Owner, body: `{"candidate_id":"` + c.ID + `"}`, status: 400, code: "parameter_missing", param: "position"},
		{name: "ErrPositionEmpty", method: "POST", path: path, key: ts.Owner, body: `{"candidate_id":"` + c.ID + `","position":""}`, status: 400, code: "parameter_invalid", param: "position"},
		{name: "ErrPositionTooLong", method: "POST", path: path, key: ts.Owner, body: `{"candidate_id":"` + c.ID + `","position":"` + strings.Repeat("x", 201) + `"}`, status: 400, code: "parameter_invalid", param: "position"},
		{name: "ErrScheduledAtNotRFC3339", method: "POST", path: path, key: ts.Owner, body: `{"candidate_id":"` + c.ID + `","position":"E","scheduled_at":"tomorrow"}`, status: 400, code: "parameter_invalid", param: "scheduled_at"},
		{name: "ScheduledAtFractionTruncated", method: "POST", path: path, key: ts.Owner, body: `{"candidate_id":"` + c.ID + `","position":"E","scheduled_at":"2024-03-01T14:30:00.999Z"}`, status: 200,
			check: func(t *testing.T, r response) {
				if !strings.Contains(string(r.body), `"scheduled_at":"2024-03-01T14:30:00Z"`) {
					t.Errorf("got %s, want scheduled_at 2024-03-01T14:30:00Z", r.body)
				}
			}},
		{name: "ErrScheduledAtNumber", method: "POST", path: path, key: ts.Owner, body: `{"candidate_id":"` + c.ID + `","position":"E","scheduled_at":1709303400}`, status: 400, code: "parameter_invalid", param: "scheduled_at"},
		{name: "ErrStatusNotAField", method: "POST", path: path, key: ts.Owner, body: `{"candidate_id":"` + c.ID + `","position":"E","status":"done"}`, status: 400, code: "parameter_unknown", param: "status"},

		{name: "ErrNoKey", method: "POST", path: path, body: body(c.ID), status: 401, code: "missing_api_key"},
		{name: "ErrReadKey", method: "POST", path: path, key: k.intvRead, body: body(c.ID), status: 403, code: "insufficient_permissions",
			check: func(t *testing.T, r response) {
				if got := r.errorBody(t).Required; got != "interview:write" {
					t.Errorf("required: got %q, want interview:write", got)
				}
			}},
		{name: "ErrCandidateKey", method: "POST", path: path, key: k.candWrite, body: body(c.ID), status: 403, code: "insufficient_permissions"},
		{name: "ErrTooLarge", method: "POST", path: path, key: ts.Owner, body: `{"position":"` + strings.Repeat("a", 65<<10) + `"}`, status: 413, code: "body_too_large"},
		{name: "ErrNotJSON", method: "POST", path: path, key: ts.Owner, body: body(c.ID), headers: map[string]string{"Content-Type": "application/xml"}, status: 415, code: "unsupported_media_type"},
	})
}

func TestInterviews_List(t *testing.T) {
	ts := newTestServer(t)
	k := ts.resourceKeys(t)
	c := ts.newCandidate(t, ts.Owner, "Ada")
	var live []pihuhttp.Interview
	for range 4 {
		live = append(live, ts.newInterview(t, ts.Owner, c.ID))
	}
	test := ts.newInterview(t, k.test, ts.newCandidate(t, k.test, "Test").ID)
	page := func(t *testing.T, r response) pihuhttp.InterviewList {
		t.Helper()
		var p pihuhttp.InterviewList
		r.decode(t, &p)
		return p
	}
	ts.run(t, []scenario{
		{name: "NewestFirst", method: "GET", path: "/v1/interviews?limit=3", key: k.intvRead, status: 200,
			check: func(t *testing.T, r response) {
				p := page(t, r)
				if len(p.Data) != 3 || !p.HasMore || p.Data[0] != live[3] || p.Data[2].ID != live[1].ID {
					t.Errorf("got %+v, want the 3 newest and more", p)
				}
			}},
		{name: "StartingAfter", method: "GET", path: "/v1/interviews?starting_after=" + live[1].ID, key: k.intvWrite, status: 200,
			check: func(t *testing.T, r response) {
				if p := page(t, r); len(p.Data) != 1 || p.HasMore || p.Data[0].ID != live[0].ID {
					t.Errorf("got %+v, want the oldest only", p)
				}
			}},
		{name: "TestKeySeesTestDataOnly", method: "GET", path: "/v1/interviews", key: k.test, status: 200,
			check: func(t *testing.T, r response) {
				if p := page(t, r); len(p.Data) != 1 || p.Data[0].ID != test.ID {
					t.Errorf("got %+v, want only the test interview", p.Data)
				}
			}},
		{name: "OtherAccountSeesNone", method: "GET", path: "/v1/interviews", key: k.otherOwner, status: 200,
			check: func(t *testing.T, r response) {
				if p := page(t, r); len(p.Data) != 0 || p.HasMore {
					t.Errorf("got %+v, want nothing", p)
				}
			}},
		{name: "ErrLimit", method: "GET", path: "/v1/interviews?limit=x", key: ts.Owner, status: 400, code: "parameter_invalid", param: "limit"},
		{name: "ErrStartingAfterCandidateID", method: "GET", path: "/v1/interviews?starting_after=" + c.ID, key: ts.Owner, status: 400, code: "parameter_invalid", param: "starting_after"},
		{name: "ErrStartingAfterOtherEnvironment", method: "GET", path: "/v1/interviews?starting_after=" + test.ID, key: ts.Owner, status: 400, code: "parameter_invalid", param: "starting_after"},
		{name: "ErrNoKey", method: "GET", path: "/v1/interviews", status: 401, code: "missing_api_key"},
		{name: "ErrNoPermission", method: "GET", path: "/v1/interviews", key: k.candWrite, status: 403, code: "insufficient_permissions"},
	})
}

func TestInterviews_Get(t *testing.T) {
	ts := newTestServer(t)
	k := ts.resourceKeys(t)
	iv := ts.newInterview(t, ts.Owner, ts.newCandidate(t, ts.Owner, "Ada").ID)
	test := ts.newInterview(t, k.test, ts.newCandidate(t, k.test, "Test").ID)
	ts.run(t, []scenario{
		{name: "OK", method: "GET", path: "/v1/interviews/" + iv.ID, key: k.intvRead, status: 200,
			check: func(t *testing.T, r response) {
				if got := decodeInterview(t, r); got.ID != iv.ID || got.CandidateID != iv.CandidateID || got.Created != iv.Created {
					t.Errorf("got %+v, want %+v", got, iv)
				}
			}},
		{name: "TestKeyGetsTestData", method: "GET", path: "/v1/interviews/" + test.ID, key: k.test, status: 200},
		{name: "ErrUnknown", method: "GET", path: "/v1/interviews/intv_nope", key: ts.Owner, status: 404, code: "not_found"},
		{name: "ErrOtherAccount", method: "GET", path: "/v1/interviews/" + iv.ID, key: k.otherOwner, status: 404, code: "not_found"},
		{name: "ErrTestKeyOnLiveData", method: "GET", path: "/v1/interviews/" + iv.ID, key: k.test, status: 404, code: "not_found"},
		{name: "ErrLiveKeyOnTestData", method: "GET", path: "/v1/interviews/" + test.ID, key: ts.Owner, status: 404, code: "not_found"},
		{name: "ErrNoKey", method: "GET", path: "/v1/interviews/" + iv.ID, status: 401, code: "missing_api_key"},
		{name: "ErrNoPermission", method: "GET", path: "/v1/interviews/" + iv.ID, key: k.candRead, status: 403, code: "insufficient_permissions"},
	})
}

func TestInterviews_Delete(t *testing.T) {
	ts := newTestServer(t)
	k := ts.resourceKeys(t)
	c := ts.newCandidate(t, ts.Owner, "Ada")
	iv := ts.newInterview(t, ts.Owner, c.ID)
	test := ts.newInterview(t, k.test, ts.newCandidate(t, k.test, "Test").ID)
	ts.run(t, []scenario{
		{name: "ErrNoKey", method: "DELETE", path: "/v1/interviews/" + iv.ID, status: 401, code: "missing_api_key"},
		{name: "ErrReadKey", method: "DELETE", path: "/v1/interviews/" + iv.ID, key: k.intvRead, status: 403, code: "insufficient_permissions"},
		{name: "ErrOtherAccount", method: "DELETE", path: "/v1/interviews/" + iv.ID, key: k.otherOwner, status: 404, code: "not_found"},
		{name: "ErrTestKeyOnLiveData", method: "DELETE", path: "/v1/interviews/" + iv.ID, key: k.test, status: 404, code: "not_found"},
		{name: "ErrLiveKeyOnTestData", method: "DELETE", path: "/v1/interviews/" + test.ID, key: ts.Owner, status: 404, code: "not_found"},
		{name: "OK", method: "DELETE", path: "/v1/interviews/" + iv.ID, key: k.intvWrite, status: 200,
			check: func(t *testing.T, r response) {
				var d pihuhttp.Deleted
				r.decode(t, &d)
				if d.ID != iv.ID || !d.Deleted {
					t.Errorf("got %+v, want {%s true}", d, iv.ID)
				}
			}},
		{name: "Gone", method: "GET", path: "/v1/interviews/" + iv.ID, key: ts.Owner, status: 404, code: "not_found"},
		{name: "ErrAgain", method: "DELETE", path: "/v1/interviews/" + iv.ID, key: ts.Owner, status: 404, code: "not_found"},
		{name: "CandidateKept", method: "GET", path: "/v1/candidates/" + c.ID, key: ts.Owner, status: 200},
		{name: "TestDataKept", method: "GET", path: "/v1/interviews/" + test.ID, key: k.test, status: 200},
	})
}
