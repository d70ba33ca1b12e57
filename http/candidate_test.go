package http_test

import (
	"fmt"
	"strings"
	"testing"

	pihuhttp "github.com/pihu-ai/pihu/http"
)

// newCandidate creates a candidate through the API with key.
func (ts *testServer) newCandidate(tb testing.TB, key, name string) pihuhttp.Candidate {
	tb.Helper()
	r := ts.do(tb, "POST", "/v1/candidates", key, fmt.Sprintf(`{"name":%q,"email":"someone@example.com"}`, name))
	if r.status != 200 {
		tb.Fatalf("creating candidate %q: got %d %s", name, r.status, r.body)
	}
	var c pihuhttp.Candidate
	r.decode(tb, &c)
	return c
}

// resourceKeys are keys of the test server's account for the resource
// scenarios.
type resourceKeys struct {
	candRead, candWrite, intvRead, intvWrite string // live, one permission each
	test                                     string // test, "*"
	otherOwner                               string // another account's owner key
}

func (ts *testServer) resourceKeys(tb testing.TB) resourceKeys {
	tb.Helper()
	key := func(perms, env string) string {
		return ts.newKey(tb, ts.Owner, `{"name":"k","permissions":[`+perms+`],"environment":"`+env+`"}`).Key
	}
	_, other := ts.newAccount(tb, "Other")
	return resourceKeys{
		candRead: key(`"candidate:read"`, "live"), candWrite: key(`"candidate:write"`, "live"),
		intvRead: key(`"interview:read"`, "live"), intvWrite: key(`"interview:write"`, "live"),
		test: key(`"*"`, "test"), otherOwner: other,
	}
}

func decodeCandidate(t *testing.T, r response) pihuhttp.Candidate {
	t.Helper()
	var c pihuhttp.Candidate
	r.decode(t, &c)
	return c
}

func TestCandidates_Create(t *testing.T) {
	ts := newTestServer(t)
	k := ts.resourceKeys(t)
	const path = "/v1/candidates"
	ts.run(t, []scenario{
		{name: "OK", method: "POST", path: path, key: ts.Owner, body: `{"name":"Ada Lovelace","email":"ada@example.com"}`, status: 200,
			check: func(t *testing.T, r response) {
				c := decodeCandidate(t, r)
				if !strings.HasPrefix(c.ID, "cand_") || c.Name != "Ada Lovelace" || c.Email != "ada@example.com" ||
					c.Environment != "live" || c.Created != "2024-02-20T12:00:00Z" {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "WriteKey", method: "POST", path: path, key: k.candWrite, body: `{"name":"Grace","email":"grace@example.com"}`, status: 200},
		{name: "TestKeyMakesTestData", method: "POST", path: path, key: k.test, body: `{"name":"Test","email":"t@example.com"}`, status: 200,
			check: func(t *testing.T, r response) {
				if c := decodeCandidate(t, r); c.Environment != "test" {
					t.Errorf("environment: got %q, want test", c.Environment)
				}
			}},
		{name: "UnicodeName200", method: "POST", path: path, key: ts.Owner, body: `{"name":"` + strings.Repeat("ж", 200) + `","email":"a@example.com"}`, status: 200},

		{name: "ErrNameMissing", method: "POST", path: path, key: ts.Owner, body: `{"email":"ada@example.com"}`, status: 400, code: "parameter_missing", param: "name"},
		{name: "ErrNameNull", method: "POST", path: path, key: ts.Owner, body: `{"name":null,"email":"ada@example.com"}`, status: 400, code: "parameter_missing", param: "name"},
		{name: "ErrNameEmpty", method: "POST", path: path, key: ts.Owner, body: `{"name":"","email":"ada@example.com"}`, status: 400, code: "parameter_invalid", param: "name"},
		{name: "ErrNameBlank", method: "POST", path: path, key: ts.Owner, body: `{"name":"   ","email":"ada@example.com"}`, status: 400, code: "parameter_invalid", param: "name"},
		{name: "ErrNameTooLong", method: "POST", path: path, key: ts.Owner, body: `{"name":"` + strings.Repeat("ж", 201) + `","email":"a@example.com"}`, status: 400, code: "parameter_invalid", param: "name"},
		{name: "ErrNameNotString", method: "POST", path: path, key: ts.Owner, body: `{"name":["Ada"],"email":"ada@example.com"}`, status: 400, code: "parameter_invalid", param: "name"},
		{name: "ErrNameControl", method: "POST", path: path, key: ts.Owner, body: `{"name":"Ada\u0000","email":"ada@example.com"}`, status: 400, code: "parameter_invalid", param: "name"},
		{name: "ErrEmailMissing", method: "POST", path: path, key: ts.Owner, body: `{"name":"Ada"}`, status: 400, code: "parameter_missing", param: "email"},
		{name: "ErrEmailEmpty", method: "POST", path: path, key: ts.Owner, body: `{"name":"Ada","email":""}`, status: 400, code: "parameter_invalid", param: "email"},
		{name: "ErrEmailInvalid", method: "POST", path: path, key: ts.Owner, body: `{"name":"Ada","email":"ada at example.com"}`, status: 400, code: "parameter_invalid", param: "email"},
		{name: "ErrEmailDisplayName", method: "POST", path: path, key: ts.Owner, body: `{"name":"Ada","email":"Ada <ada@example.com>"}`, status: 400, code: "parameter_invalid", param: "email"},
		{name: "ErrUnknownField", method: "POST", path: path, key: ts.Owner, body: `{"name":"Ada","email":"ada@example.com","phone":"1"}`, status: 400, code: "parameter_unknown", param: "phone"},
		{name: "ErrEnvironmentNotAField", method: "POST", path: path, key: ts.Owner, body: `{"name":"Ada","email":"ada@example.com","environment":"test"}`, status: 400, code: "parameter_unknown", param: "environment"},
		{name: "ErrBadJSON", method: "POST", path: path, key: ts.Owner, body: `{"name":"Ada",}`, status: 400, code: "invalid_json"},
		{name: "ErrNoBody", method: "POST", path: path, key: ts.Owner, headers: map[string]string{"Content-Type": "application/json"}, status: 400, code: "invalid_json"},

		{name: "ErrNoKey", method: "POST", path: path, body: `{"name":"Ada","email":"ada@example.com"}`, status: 401, code: "missing_api_key"},
		{name: "ErrBadKey", method: "POST", path: path, key: "ph_live_nope", body: `{"name":"Ada","email":"ada@example.com"}`, status: 401, code: "invalid_api_key"},
		{name: "ErrReadKeyCannotWrite", method: "POST", path: path, key: k.candRead, body: `{"name":"Ada","email":"ada@example.com"}`, status: 403, code: "insufficient_permissions",
			check: func(t *testing.T, r response) {
				if got := r.errorBody(t).Required; got != "candidate:write" {
					t.Errorf("required: got %q, want candidate:write", got)
				}
			}},
		{name: "ErrInterviewKey", method: "POST", path: path, key: k.intvWrite, body: `{"name":"Ada","email":"ada@example.com"}`, status: 403, code: "insufficient_permissions"},
		{name: "ErrTooLarge", method: "POST", path: path, key: ts.Owner, body: `{"name":"` + strings.Repeat("a", 65<<10) + `","email":"a@example.com"}`, status: 413, code: "body_too_large"},
		{name: "ErrNotJSON", method: "POST", path: path, key: ts.Owner, body: `name=Ada`, headers: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
	})

	t.Run("BadInputChangesNothing", func(t *testing.T) {
		var before pihuhttp.CandidateList
		ts.do(t, "GET", "/v1/candidates?limit=100", ts.Owner, "").decode(t, &before)
		ts.do(t, "POST", path, ts.Owner, `{"name":"Ada","email":"nope"}`)
		ts.do(t, "POST", path, k.candRead, `{"name":"Ada","email":"ada@example.com"}`)
		var after pihuhttp.CandidateList
		ts.do(t, "GET", "/v1/candidates?limit=100", ts.Owner, "").decode(t, &after)
		if len(after.Data) != len(before.Data) {
			t.Errorf("got %d candidates after rejected requests, want %d", len(after.Data), len(before.Data))
		}
	})
}

func TestCandidates_List(t *testing.T) {
	ts := newTestServer(t)
	k := ts.resourceKeys(t)
	var live []pihuhttp.Candidate // oldest first
	for i := range 12 {
		live = append(live, ts.newCandidate(t, ts.Owner, fmt.Sprint("Live ", i)))
	}
	test := ts.newCandidate(t, k.test, "Test")
	other := ts.newCandidate(t, k.otherOwner, "Other")
	page := func(t *testing.T, r response) pihuhttp.CandidateList {
		t.Helper()
		var p pihuhttp.CandidateList
		r.decode(t, &p)
		return p
	}
	ts.run(t, []scenario{
		{name: "FirstPageNewestFirst", method: "GET", path: "/v1/candidates", key: k.candRead, status: 200,
			check: func(t *testing.T, r response) {
				p := page(t, r)
				if len(p.Data) != 10 || !p.HasMore || p.Data[0].ID != live[11].ID || p.Data[9].ID != live[2].ID {
					t.Errorf("got %d items (has_more %v), want the 10 newest live candidates", len(p.Data), p.HasMore)
				}
				if p.Data[0] != live[11] {
					t.Errorf("item: got %+v, want %+v", p.Data[0], live[11])
				}
			}},
		{name: "WriteImpliesRead", method: "GET", path: "/v1/candidates?limit=1", key: k.candWrite, status: 200},
		{name: "StartingAfter", method: "GET", path: "/v1/candidates?limit=3&starting_after=" + live[3].ID, key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				p := page(t, r)
				if len(p.Data) != 3 || p.HasMore || p.Data[0].ID != live[2].ID || p.Data[2].ID != live[0].ID {
					t.Errorf("got %+v, want live[2..0] and no more", p)
				}
			}},
		{name: "TestKeySeesTestDataOnly", method: "GET", path: "/v1/candidates", key: k.test, status: 200,
			check: func(t *testing.T, r response) {
				if p := page(t, r); len(p.Data) != 1 || p.Data[0].ID != test.ID {
					t.Errorf("got %+v, want only the test candidate", p.Data)
				}
			}},
		{name: "OtherAccountSeesItsOwn", method: "GET", path: "/v1/candidates", key: k.otherOwner, status: 200,
			check: func(t *testing.T, r response) {
				if p := page(t, r); len(p.Data) != 1 || p.Data[0].ID != other.ID {
					t.Errorf("got %+v, want only the other account's candidate", p.Data)
				}
			}},
		{name: "ErrLimitZero", method: "GET", path: "/v1/candidates?limit=0", key: ts.Owner, status: 400, code: "parameter_invalid", param: "limit"},
		{name: "ErrLimitTooLarge", method: "GET", path: "/v1/candidates?limit=101", key: ts.Owner, status: 400, code: "parameter_invalid", param: "limit"},
		{name: "ErrStartingAfterUnknown", method: "GET", path: "/v1/candidates?starting_after=cand_nope", key: ts.Owner, status: 400, code: "parameter_invalid", param: "starting_after"},
		{name: "ErrStartingAfterOtherEnvironment", method: "GET", path: "/v1/candidates?starting_after=" + test.ID, key: ts.Owner, status: 400, code: "parameter_invalid", param: "starting_after"},
		{name: "ErrStartingAfterOtherAccount", method: "GET", path: "/v1/candidates?starting_after=" + other.ID, key: ts.Owner, status: 400, code: "parameter_invalid", param: "starting_after"},
		{name: "ErrUnknownParameter", method: "GET", path: "/v1/candidates?email=ada@example.com", key: ts.Owner, status: 400, code: "parameter_unknown", param: "email"},
		{name: "ErrNoKey", method: "GET", path: "/v1/candidates", status: 401, code: "missing_api_key"},
		{name: "ErrNoPermission", method: "GET", path: "/v1/candidates", key: k.intvWrite, status: 403, code: "insufficient_permissions"},
	})
}

func TestCandidates_Get(t *testing.T) {
	ts := newTestServer(t)
	k := ts.resourceKeys(t)
	c := ts.newCandidate(t, ts.Owner, "Ada")
	test := ts.newCandidate(t, k.test, "Test")
	ts.run(t, []scenario{
		{name: "OK", method: "GET", path: "/v1/candidates/" + c.ID, key: k.candRead, status: 200,
			check: func(t *testing.T, r response) {
				if got := decodeCandidate(t, r); got != c {
					t.Errorf("got %+v, want %+v", got, c)
				}
			}},
		{name: "WriteImpliesRead", method: "GET", path: "/v1/candidates/" + c.ID, key: k.candWrite, status: 200},
		{name: "TestKeyGetsTestData", method: "GET", path: "/v1/candidates/" + test.ID, key: k.test, status: 200},
		{name: "ErrUnknown", method: "GET", path: "/v1/candidates/cand_nope", key: ts.Owner, status: 404, code: "not_found"},
		{name: "ErrOtherAccount", method: "GET", path: "/v1/candidates/" + c.ID, key: k.otherOwner, status: 404, code: "not_found"},
		{name: "ErrTestKeyOnLiveData", method: "GET", path: "/v1/candidates/" + c.ID, key: k.test, status: 404, code: "not_found"},
		{name: "ErrLiveKeyOnTestData", method: "GET", path: "/v1/candidates/" + test.ID, key: ts.Owner, status: 404, code: "not_found"},
		{name: "ErrNoKey", method: "GET", path: "/v1/candidates/" + c.ID, status: 401, code: "missing_api_key"},
		{name: "ErrNoPermission", method: "GET", path: "/v1/candidates/" + c.ID, key: k.intvRead, status: 403, code: "insufficient_permissions"},
	})
}

func TestCandidates_Delete(t *testing.T) {
	ts := newTestServer(t)
	k := ts.resourceKeys(t)
	c := ts.newCandidate(t, ts.Owner, "Ada")
	kept := ts.newCandidate(t, ts.Owner, "Kept")
	test := ts.newCandidate(t, k.test, "Test")
	iv := ts.newInterview(t, ts.Owner, c.ID)
	ts.run(t, []scenario{
		{name: "ErrNoKey", method: "DELETE", path: "/v1/candidates/" + c.ID, status: 401, code: "missing_api_key"},
		{name: "ErrReadKey", method: "DELETE", path: "/v1/candidates/" + c.ID, key: k.candRead, status: 403, code: "insufficient_permissions"},
		{name: "ErrOtherAccount", method: "DELETE", path: "/v1/candidates/" + c.ID, key: k.otherOwner, status: 404, code: "not_found"},
		{name: "ErrTestKeyOnLiveData", method: "DELETE", path: "/v1/candidates/" + c.ID, key: k.test, status: 404, code: "not_found"},
		{name: "ErrLiveKeyOnTestData", method: "DELETE", path: "/v1/candidates/" + test.ID, key: ts.Owner, status: 404, code: "not_found"},
		{name: "StillThere", method: "GET", path: "/v1/candidates/" + c.ID, key: ts.Owner, status: 200},
		{name: "OK", method: "DELETE", path: "/v1/candidates/" + c.ID, key: k.candWrite, status: 200,
			check: func(t *testing.T, r response) {
				var d pihuhttp.Deleted
				r.decode(t, &d)
				if d.ID != c.ID || !d.Deleted {
					t.Errorf("got %+v, want {%s true}", d, c.ID)
				}
			}},
		{name: "Gone", method: "GET", path: "/v1/candidates/" + c.ID, key: ts.Owner, status: 404, code: "not_found"},
		{name: "ErrAgain", method: "DELETE", path: "/v1/candidates/" + c.ID, key: ts.Owner, status: 404, code: "not_found"},
		{name: "InterviewsGoToo", method: "GET", path: "/v1/interviews/" + iv.ID, key: ts.Owner, status: 404, code: "not_found"},
		{name: "DeletedIDIsStillACursor", method: "GET", path: "/v1/candidates?starting_after=" + c.ID, key: ts.Owner, status: 200,
			check: func(t *testing.T, r response) {
				var p pihuhttp.CandidateList
				r.decode(t, &p)
				if len(p.Data) != 0 {
					t.Errorf("got %+v, want nothing older than the deleted candidate", p.Data)
				}
			}},
		{name: "OthersKept", method: "GET", path: "/v1/candidates/" + kept.ID, key: ts.Owner, status: 200},
		{name: "TestDataKept", method: "GET", path: "/v1/candidates/" + test.ID, key: k.test, status: 200},
	})
}
