package http_test

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestList_EndingBefore pages back through every list with ending_before,
// as Stripe does: the page before an item holds the items next newer than
// it, newest first, has_more says whether newer ones remain; an unknown
// id, an empty one and both cursors at once are 400s on ending_before.
func TestList_EndingBefore(t *testing.T) {
	ts := newTestServer(t)
	var cand struct{ ID string }
	for i := range 4 {
		ts.newKey(t, ts.Owner, fmt.Sprintf(`{"name":"k%d","permissions":["candidate:read"]}`, i))
		r := ts.do(t, "POST", "/v1/candidates", ts.Owner, fmt.Sprintf(`{"name":"Ada %d","email":"ada@example.com"}`, i))
		r.decode(t, &cand)
		ts.do(t, "POST", "/v1/interviews", ts.Owner, `{"candidate_id":"`+cand.ID+`","position":"Engineer"}`)
	}
	type list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
		HasMore bool `json:"has_more"`
	}
	get := func(t *testing.T, path string) list {
		t.Helper()
		r := ts.do(t, "GET", path, ts.Owner, "")
		if r.status != 200 {
			t.Fatalf("GET %s: got %d %s", path, r.status, r.body)
		}
		var l list
		if err := json.Unmarshal(r.body, &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	for _, path := range []string{"/v1/auth/api-keys", "/v1/auth/audit-events", "/v1/candidates", "/v1/interviews"} {
		t.Run(path, func(t *testing.T) {
			all := get(t, path+"?limit=100")
			n := len(all.Data)
			if n < 4 {
				t.Fatalf("got %d items, want at least 4", n)
			}
			oldest := all.Data[n-1].ID
			page := get(t, path+"?limit=2&ending_before="+oldest)
			if len(page.Data) != 2 || page.Data[0].ID != all.Data[n-3].ID || page.Data[1].ID != all.Data[n-2].ID || page.HasMore != (n > 3) {
				t.Errorf("page before the oldest: got %+v, want %v then %v, has_more %v", page, all.Data[n-3].ID, all.Data[n-2].ID, n > 3)
			}
			if first := get(t, path+"?ending_before="+all.Data[1].ID); len(first.Data) != 1 || first.Data[0].ID != all.Data[0].ID || first.HasMore {
				t.Errorf("page before the second: got %+v, want the newest alone", first)
			}
			ts.run(t, []scenario{
				{name: "ErrBoth", method: "GET", path: path + "?starting_after=" + oldest + "&ending_before=" + oldest, key: ts.Owner, status: 400, code: "parameter_invalid", param: "ending_before"},
				{name: "ErrUnknown", method: "GET", path: path + "?ending_before=key_nothing", key: ts.Owner, status: 400, code: "parameter_invalid", param: "ending_before"},
				{name: "ErrEmpty", method: "GET", path: path + "?ending_before=", key: ts.Owner, status: 400, code: "parameter_invalid", param: "ending_before"},
			})
		})
	}
}
