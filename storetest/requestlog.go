package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func runRequestLog(t *testing.T, run func(*testing.T, string, func(*testing.T, pihu.Store))) {
	run(t, "AppendAndList", testRequestLogAppendAndList)
	run(t, "Filters", testRequestLogFilters)
	run(t, "Pages", testRequestLogPages)
	run(t, "OtherAccount", testRequestLogOtherAccount)
	run(t, "PruneRetention", testRequestLogPruneRetention)
	run(t, "PruneCap", testRequestLogPruneCap)
}

// entry is a request log entry of key k at epoch plus sec seconds.
func entry(k *pihu.Key, sec int, status int, code string) pihu.RequestLogEntry {
	return pihu.RequestLogEntry{
		RequestID: pihu.NewID(pihu.PrefixRequest), AccountID: k.AccountID, KeyID: k.ID,
		Time: epoch.Add(time.Duration(sec) * time.Second), Door: pihu.DoorAPI,
		Method: "GET", Path: fmt.Sprintf("/v1/things/%d", sec), Status: status, IP: "203.0.113.7", Code: code,
	}
}

func mustAppendLog(t *testing.T, s pihu.Store, entries ...pihu.RequestLogEntry) {
	t.Helper()
	if err := s.AppendRequestLog(t.Context(), entries); err != nil {
		t.Fatalf("AppendRequestLog: %v", err)
	}
}

func listLog(t *testing.T, s pihu.Store, f pihu.RequestLogFilter) []*pihu.RequestLogEntry {
	t.Helper()
	got, _, err := s.ListRequestLog(t.Context(), f)
	if err != nil {
		t.Fatalf("ListRequestLog(%+v): %v", f, err)
	}
	return got
}

// paths are the paths of entries, in their order.
func paths(entries []*pihu.RequestLogEntry) []string {
	out := []string{}
	for _, e := range entries {
		out = append(out, e.Path)
	}
	return out
}

func checkPaths(t *testing.T, what string, got []*pihu.RequestLogEntry, want ...string) {
	t.Helper()
	if g := fmt.Sprint(paths(got)); g != fmt.Sprint(append([]string{}, want...)) {
		t.Errorf("%s: got %s, want %v", what, g, want)
	}
}

// testRequestLogAppendAndList stores entries with every field and reads
// them back newest first, each with an id of its own; an entry of an
// unknown key, or naming another account than its key's, is skipped.
func testRequestLogAppendAndList(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	_, other := mustCreateAccount(t, s, "Other")
	first := entry(owner, 1, 200, "")
	first.TokenID, first.Door = "tok_abc", pihu.DoorForward
	second := entry(owner, 2, 429, pihu.ERateLimited)
	omitted := pihu.RequestLogEntry{AccountID: a.ID, KeyID: owner.ID, Time: epoch.Add(3 * time.Second), Omitted: 42}
	unknown := entry(owner, 4, 200, "")
	unknown.KeyID = pihu.NewID(pihu.PrefixKey)
	wrongAccount := entry(other, 5, 200, "")
	wrongAccount.AccountID = a.ID
	mustAppendLog(t, s, first, second, omitted, unknown, wrongAccount)

	got := listLog(t, s, pihu.RequestLogFilter{AccountID: a.ID})
	if len(got) != 3 {
		t.Fatalf("got %d entries, want 3: %v", len(got), paths(got))
	}
	ids := map[string]bool{}
	for _, e := range got {
		if len(e.ID) != len(pihu.PrefixRequestLog)+pihu.IDLength || e.ID[:4] != pihu.PrefixRequestLog || ids[e.ID] {
			t.Errorf("entry id %q: want a fresh rql_ id", e.ID)
		}
		ids[e.ID] = true
		e.ID = ""
	}
	omitted.ID = ""
	for i, want := range []pihu.RequestLogEntry{omitted, second, first} {
		if *got[i] != want {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, *got[i], want)
		}
	}
	if got := listLog(t, s, pihu.RequestLogFilter{AccountID: other.AccountID}); len(got) != 0 {
		t.Errorf("the other account's log: got %v, want nothing", paths(got))
	}
}

// testRequestLogFilters selects by key, status, status class, error code,
// refusals (omissions included) and time range.
func testRequestLogFilters(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	k2 := newKey(t, a.ID, readKey("Second"), epoch)
	mustCreateKey(t, s, k2)
	mustAppendLog(t, s,
		entry(owner, 1, 200, ""),
		entry(owner, 2, 429, pihu.ERateLimited),
		entry(k2, 3, 404, pihu.ENotFound),
		entry(k2, 4, 403, pihu.EIPNotAllowed),
		entry(owner, 5, 500, pihu.EInternal),
		pihu.RequestLogEntry{AccountID: a.ID, KeyID: k2.ID, Time: epoch.Add(6 * time.Second), Omitted: 3, Path: "omitted"},
	)
	f := func(mod func(*pihu.RequestLogFilter)) pihu.RequestLogFilter {
		f := pihu.RequestLogFilter{AccountID: a.ID}
		mod(&f)
		return f
	}
	checkPaths(t, "key", listLog(t, s, f(func(f *pihu.RequestLogFilter) { f.KeyID = k2.ID })), "omitted", "/v1/things/4", "/v1/things/3")
	checkPaths(t, "status", listLog(t, s, f(func(f *pihu.RequestLogFilter) { f.Status = 429 })), "/v1/things/2")
	checkPaths(t, "class", listLog(t, s, f(func(f *pihu.RequestLogFilter) { f.StatusClass = 4 })), "/v1/things/4", "/v1/things/3", "/v1/things/2")
	checkPaths(t, "code", listLog(t, s, f(func(f *pihu.RequestLogFilter) { f.Code = pihu.EIPNotAllowed })), "/v1/things/4")
	checkPaths(t, "refused", listLog(t, s, f(func(f *pihu.RequestLogFilter) { f.Refused = true })), "omitted", "/v1/things/4", "/v1/things/2")
	checkPaths(t, "refused key", listLog(t, s, f(func(f *pihu.RequestLogFilter) { f.Refused, f.KeyID = true, owner.ID })), "/v1/things/2")
	test := newKey(t, a.ID, pihu.KeyRequest{Name: "Test", Environment: pihu.Test, Permissions: pihu.Permissions{"candidate:read"}}, epoch)
	mustCreateKey(t, s, test)
	mustAppendLog(t, s, entry(test, 7, 200, ""))
	checkPaths(t, "test environment", listLog(t, s, f(func(f *pihu.RequestLogFilter) { f.Environment = pihu.Test })), "/v1/things/7")
	if got := listLog(t, s, f(func(f *pihu.RequestLogFilter) { f.Environment = pihu.Live })); len(got) != 6 {
		t.Errorf("live environment: got %v, want the 6 entries of live keys", paths(got))
	}
	checkPaths(t, "since until", listLog(t, s, f(func(f *pihu.RequestLogFilter) {
		f.Since, f.Until = epoch.Add(2*time.Second), epoch.Add(4*time.Second)
	})), "/v1/things/3", "/v1/things/2")
}

// testRequestLogPages pages newest first with starting_after and
// ending_before; an unknown cursor is EParameterInvalid.
func testRequestLogPages(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	for i := 1; i <= 5; i++ {
		mustAppendLog(t, s, entry(owner, i, 200, ""))
	}
	p1, more, err := s.ListRequestLog(t.Context(), pihu.RequestLogFilter{AccountID: a.ID, Limit: 2})
	if err != nil || !more {
		t.Fatalf("first page: more %v, err %v", more, err)
	}
	checkPaths(t, "first page", p1, "/v1/things/5", "/v1/things/4")
	p2 := listLog(t, s, pihu.RequestLogFilter{AccountID: a.ID, Limit: 2, StartingAfter: p1[1].ID})
	checkPaths(t, "second page", p2, "/v1/things/3", "/v1/things/2")
	back := listLog(t, s, pihu.RequestLogFilter{AccountID: a.ID, Limit: 2, EndingBefore: p2[0].ID})
	checkPaths(t, "back", back, "/v1/things/5", "/v1/things/4")
	_, _, err = s.ListRequestLog(t.Context(), pihu.RequestLogFilter{AccountID: a.ID, StartingAfter: pihu.NewID(pihu.PrefixRequestLog)})
	checkError(t, err, pihu.EParameterInvalid, "starting_after")
}

// testRequestLogOtherAccount: a key of another account, or an unknown
// one, is ENotFound, and another account's entry is not a cursor.
func testRequestLogOtherAccount(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	b, other := mustCreateAccount(t, s, "Other")
	mustAppendLog(t, s, entry(owner, 1, 200, ""), entry(other, 2, 200, ""))
	for _, key := range []string{other.ID, pihu.NewID(pihu.PrefixKey)} {
		got, _, err := s.ListRequestLog(t.Context(), pihu.RequestLogFilter{AccountID: a.ID, KeyID: key})
		checkError(t, err, pihu.ENotFound, "")
		if got != nil {
			t.Errorf("ListRequestLog of key %s: got %v, want nothing", key, paths(got))
		}
	}
	theirs := listLog(t, s, pihu.RequestLogFilter{AccountID: b.ID})
	checkPaths(t, "other account", theirs, "/v1/things/2")
	_, _, err := s.ListRequestLog(t.Context(), pihu.RequestLogFilter{AccountID: a.ID, StartingAfter: theirs[0].ID})
	checkError(t, err, pihu.EParameterInvalid, "starting_after")
}

// testRequestLogPruneRetention deletes the entries older than before,
// of every account.
func testRequestLogPruneRetention(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	b, other := mustCreateAccount(t, s, "Other")
	mustAppendLog(t, s, entry(owner, 1, 200, ""), entry(other, 2, 200, ""), entry(owner, 3, 200, ""), entry(other, 4, 200, ""))
	n, err := s.PruneRequestLog(t.Context(), epoch.Add(3*time.Second), 100)
	if err != nil || n != 2 {
		t.Fatalf("PruneRequestLog: %d, %v; want 2 deleted", n, err)
	}
	checkPaths(t, "kept", listLog(t, s, pihu.RequestLogFilter{AccountID: a.ID}), "/v1/things/3")
	checkPaths(t, "kept", listLog(t, s, pihu.RequestLogFilter{AccountID: b.ID}), "/v1/things/4")
}

// testRequestLogPruneCap keeps the max newest entries of each account.
func testRequestLogPruneCap(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	b, other := mustCreateAccount(t, s, "Other")
	for i := 1; i <= 5; i++ {
		mustAppendLog(t, s, entry(owner, i, 200, ""))
	}
	mustAppendLog(t, s, entry(other, 1, 200, ""), entry(other, 2, 200, ""))
	n, err := s.PruneRequestLog(t.Context(), epoch, 3)
	if err != nil || n != 2 {
		t.Fatalf("PruneRequestLog: %d, %v; want 2 deleted", n, err)
	}
	checkPaths(t, "capped", listLog(t, s, pihu.RequestLogFilter{AccountID: a.ID}), "/v1/things/5", "/v1/things/4", "/v1/things/3")
	checkPaths(t, "under the cap", listLog(t, s, pihu.RequestLogFilter{AccountID: b.ID}), "/v1/things/2", "/v1/things/1")
}
