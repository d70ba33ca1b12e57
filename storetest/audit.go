package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func testAuditCreateKeyRecordsEvents(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	k := newKey(t, a.ID, pihu.KeyRequest{Name: "CI", Permissions: pihu.Permissions{"candidate:read"}, Environment: pihu.Test}, epoch.Add(time.Minute))
	ev := pihu.NewAuditEvent(pihu.ActionKeyCreated, owner.ID, "203.0.113.7", k, epoch.Add(time.Minute))
	if err := s.CreateKey(t.Context(), k, ev); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	got, err := s.Key(t.Context(), a.ID, k.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	checkKey(t, got, k)
	events, hasMore := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 10})
	checkEvents(t, events, []*pihu.AuditEvent{ev})
	if hasMore {
		t.Errorf("hasMore: got %v, want %v", hasMore, false)
	}
	// The event is as given, field by field.
	if ev.Environment != pihu.Test || ev.Target != k.ID || ev.Actor != owner.ID || ev.AccountID != a.ID {
		t.Errorf("NewAuditEvent: got %+v", ev)
	}
}

func testAuditCreateKeyWithoutEvents(t *testing.T, s pihu.Store) {
	a, _ := mustCreateAccount(t, s, "Acme")
	mustCreateKey(t, s, newKey(t, a.ID, readKey("Quiet"), epoch))
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 10})
	checkEvents(t, events, nil)
}

// testAuditCreateKeyIsAtomic checks that a key that cannot be stored
// leaves no event, and an event that cannot be stored leaves no key.
func testAuditCreateKeyIsAtomic(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	first := newKey(t, a.ID, readKey("First"), epoch)
	firstEvent := pihu.NewAuditEvent(pihu.ActionKeyCreated, owner.ID, "127.0.0.1", first, epoch)
	if err := s.CreateKey(t.Context(), first, firstEvent); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}

	dupKey := newKey(t, a.ID, readKey("Duplicate digest"), epoch)
	dupKey.Digest = first.Digest
	if err := s.CreateKey(t.Context(), dupKey, pihu.NewAuditEvent(pihu.ActionKeyCreated, owner.ID, "127.0.0.1", dupKey, epoch)); err == nil {
		t.Fatal("CreateKey with a duplicate digest: got nil error, want one")
	}

	dupEvent := newKey(t, a.ID, readKey("Duplicate event"), epoch)
	ev := pihu.NewAuditEvent(pihu.ActionKeyCreated, owner.ID, "127.0.0.1", dupEvent, epoch)
	ev.ID = firstEvent.ID
	if err := s.CreateKey(t.Context(), dupEvent, ev); err == nil {
		t.Fatal("CreateKey with a duplicate event id: got nil error, want one")
	}
	_, err := s.Key(t.Context(), a.ID, dupEvent.ID)
	checkError(t, err, pihu.ENotFound, "")

	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 10})
	checkEvents(t, events, []*pihu.AuditEvent{firstEvent})
}

// testAuditListPagination pages through events recorded in the same
// second: every event on exactly one page, newest first.
func testAuditListPagination(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	var want []*pihu.AuditEvent
	for i := range 13 {
		k := newKey(t, a.ID, readKey(fmt.Sprintf("Key %d", i)), epoch)
		ev := pihu.NewAuditEvent(pihu.ActionKeyCreated, owner.ID, "127.0.0.1", k, epoch)
		if err := s.CreateKey(t.Context(), k, ev); err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		want = append(want, ev)
	}
	slices.Reverse(want)

	for _, limit := range []int{1, 4, 13, 100} {
		t.Run(fmt.Sprint("Limit", limit), func(t *testing.T) {
			var got []*pihu.AuditEvent
			f := pihu.AuditFilter{AccountID: a.ID, Limit: limit}
			for pages := 1; ; pages++ {
				page, hasMore := mustListEvents(t, s, f)
				if len(page) == 0 || len(page) > limit {
					t.Fatalf("page %d: got %v events, want 1 to %v", pages, len(page), limit)
				}
				if wantMore := len(got)+len(page) < len(want); hasMore != wantMore {
					t.Fatalf("page %d: hasMore: got %v, want %v", pages, hasMore, wantMore)
				}
				got = append(got, page...)
				if !hasMore {
					break
				}
				f.StartingAfter = page[len(page)-1].ID
			}
			checkEvents(t, got, want)
		})
	}
	for _, tt := range []struct{ limit, want int }{{0, 10}, {-1, 10}, {101, 13}} {
		got, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: tt.limit})
		if len(got) != tt.want {
			t.Errorf("Limit %d: got %v events, want %v", tt.limit, len(got), tt.want)
		}
	}
}

func testAuditListEnvironmentFilter(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	var live, test []*pihu.AuditEvent
	for i, env := range []pihu.Environment{pihu.Test, pihu.Live, pihu.Test, pihu.Live} {
		req := readKey(fmt.Sprintf("Key %d", i))
		req.Environment = env
		k := newKey(t, a.ID, req, epoch)
		ev := pihu.NewAuditEvent(pihu.ActionKeyCreated, owner.ID, "127.0.0.1", k, epoch)
		if err := s.CreateKey(t.Context(), k, ev); err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		if env == pihu.Test {
			test = append([]*pihu.AuditEvent{ev}, test...)
		} else {
			live = append([]*pihu.AuditEvent{ev}, live...)
		}
	}
	// An event about no key has no environment: only an unfiltered list
	// shows it.
	k := newKey(t, a.ID, readKey("Other"), epoch)
	keyless := pihu.NewAuditEvent("user.login", "user_1", "127.0.0.1", k, epoch)
	keyless.Environment, keyless.Target = "", "user_1"
	if err := s.CreateKey(t.Context(), k, keyless); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}

	got, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Environment: pihu.Test, Limit: 10})
	checkEvents(t, got, test)
	got, _ = mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Environment: pihu.Live, Limit: 10})
	checkEvents(t, got, live)
	got, _ = mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 10})
	if len(got) != 5 || got[0].ID != keyless.ID {
		t.Fatalf("no filter: got %v events, want 5, the keyless one first", len(got))
	}
	checkEvent(t, got[0], keyless)
	// Paging a filtered list: the cursor is an event of the list's
	// environment.
	got, _ = mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Environment: pihu.Test, Limit: 10, StartingAfter: test[0].ID})
	checkEvents(t, got, test[1:])
}

func testAuditListOnlyOwnAccount(t *testing.T, s pihu.Store) {
	a, ownerA := mustCreateAccount(t, s, "Acme")
	b, ownerB := mustCreateAccount(t, s, "Other")
	ka := newKey(t, a.ID, readKey("A's"), epoch)
	evA := pihu.NewAuditEvent(pihu.ActionKeyCreated, ownerA.ID, "127.0.0.1", ka, epoch)
	kb := newKey(t, b.ID, readKey("B's"), epoch)
	evB := pihu.NewAuditEvent(pihu.ActionKeyCreated, ownerB.ID, "127.0.0.1", kb, epoch)
	for _, c := range []struct {
		k  *pihu.Key
		ev *pihu.AuditEvent
	}{{ka, evA}, {kb, evB}} {
		if err := s.CreateKey(t.Context(), c.k, c.ev); err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
	}
	got, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 10})
	checkEvents(t, got, []*pihu.AuditEvent{evA})
	got, _ = mustListEvents(t, s, pihu.AuditFilter{AccountID: b.ID, Limit: 10})
	checkEvents(t, got, []*pihu.AuditEvent{evB})

	// Another account's event is no cursor, and neither is an unknown id.
	for _, id := range []string{evB.ID, pihu.NewID(pihu.PrefixEvent)} {
		_, _, err := s.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: a.ID, Limit: 10, StartingAfter: id})
		checkError(t, err, pihu.EParameterInvalid, "starting_after")
	}
}

func testAuditListTargetFilter(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	var one, two []*pihu.AuditEvent
	for i := range 4 {
		k := newKey(t, a.ID, readKey(fmt.Sprint("Key ", i)), epoch)
		ev := pihu.NewAuditEvent(pihu.ActionKeyCreated, owner.ID, "127.0.0.1", k, epoch)
		if err := s.CreateKey(t.Context(), k, ev); err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		_, err := s.RevokeKey(t.Context(), a.ID, k.ID, epoch, pihu.NewAuditEvent(pihu.ActionKeyRevoked, owner.ID, "127.0.0.1", k, epoch))
		if err != nil {
			t.Fatalf("RevokeKey: %v", err)
		}
		events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: k.ID, Limit: 10})
		if i == 1 {
			one = events
		}
		if i == 2 {
			two = events
		}
	}
	for _, events := range [][]*pihu.AuditEvent{one, two} {
		if len(events) != 2 || events[0].Action != pihu.ActionKeyRevoked || events[1].Action != pihu.ActionKeyCreated || events[0].Target != events[1].Target {
			t.Fatalf("one key's history: got %v, want its revocation then its creation", events)
		}
	}
	if one[0].Target == two[0].Target {
		t.Fatalf("two keys' histories are the same: %v", one)
	}
	// Paging one key's history.
	got, more := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: one[0].Target, Limit: 1})
	if len(got) != 1 || !more || got[0].ID != one[0].ID {
		t.Fatalf("first page: got %v (more %v), want %s and more", got, more, one[0].ID)
	}
	got, more = mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: one[0].Target, Limit: 1, StartingAfter: got[0].ID})
	checkEvents(t, got, one[1:])
	if more {
		t.Errorf("second page: more is true, want false")
	}
	// An unknown target has no history.
	got, _ = mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: pihu.NewID(pihu.PrefixKey), Limit: 10})
	if len(got) != 0 {
		t.Errorf("unknown target: got %d events, want none", len(got))
	}
}

func mustListEvents(tb testing.TB, s pihu.Store, f pihu.AuditFilter) ([]*pihu.AuditEvent, bool) {
	tb.Helper()
	events, hasMore, err := s.ListAuditEvents(tb.Context(), f)
	if err != nil {
		tb.Fatalf("ListAuditEvents(%+v): %v", f, err)
	}
	return events, hasMore
}

// checkEvents checks that got holds the events of want, in the same order,
// every field equal.
func checkEvents(tb testing.TB, got, want []*pihu.AuditEvent) {
	tb.Helper()
	gotIDs, wantIDs := make([]string, len(got)), make([]string, len(want))
	for i, ev := range got {
		gotIDs[i] = ev.ID
	}
	for i, ev := range want {
		wantIDs[i] = ev.ID
	}
	if !slices.Equal(gotIDs, wantIDs) {
		tb.Fatalf("events: got %v, want %v", gotIDs, wantIDs)
	}
	for i := range got {
		checkEvent(tb, got[i], want[i])
	}
}

func checkEvent(tb testing.TB, got, want *pihu.AuditEvent) {
	tb.Helper()
	g, w := *got, *want
	g.Created, w.Created = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		tb.Errorf("event %s: got %+v, want %+v", want.ID, *got, *want)
	}
	checkTime(tb, want.ID+" Created", &got.Created, &want.Created)
}

// testAuditListFilters checks the filters by actions (exact and a
// resource's), actor, targets and time, alone and together, and with a
// cursor.
func testAuditListFilters(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	other, otherOwner := mustCreateAccount(t, s, "Other")
	// Key i is created at epoch + i hours by owner (even i) or by key 0
	// (odd i), and revoked an hour later; key 3 is left alone.
	var keys []*pihu.Key
	for i := range 4 {
		at := epoch.Add(time.Duration(i) * time.Hour)
		k := newKey(t, a.ID, readKey(fmt.Sprint("Key ", i)), at)
		actor := owner.ID
		if i%2 == 1 {
			actor = keys[0].ID
		}
		if err := s.CreateKey(t.Context(), k, pihu.NewAuditEvent(pihu.ActionKeyCreated, actor, "127.0.0.1", k, at)); err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		if i != 3 {
			if _, err := s.RevokeKey(t.Context(), a.ID, k.ID, at.Add(time.Hour), pihu.NewAuditEvent(pihu.ActionKeyRevoked, owner.ID, "127.0.0.1", k, at.Add(time.Hour))); err != nil {
				t.Fatalf("RevokeKey: %v", err)
			}
		}
		keys = append(keys, k)
	}
	// The other account's events match no filter of this one.
	ok := newKey(t, other.ID, readKey("Theirs"), epoch)
	if err := s.CreateKey(t.Context(), ok, pihu.NewAuditEvent(pihu.ActionKeyCreated, otherOwner.ID, "127.0.0.1", ok, epoch)); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	// Every event of this account, to compare each filter's page with.
	all, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 100})
	want := func(keep func(ev *pihu.AuditEvent) bool) []*pihu.AuditEvent {
		var out []*pihu.AuditEvent
		for _, ev := range all {
			if keep(ev) {
				out = append(out, ev)
			}
		}
		return out
	}
	ids := func(ks ...*pihu.Key) []string {
		var out []string
		for _, k := range ks {
			out = append(out, k.ID)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		f    pihu.AuditFilter
		keep func(ev *pihu.AuditEvent) bool
	}{
		{"Action", pihu.AuditFilter{Actions: []string{pihu.ActionKeyRevoked}}, func(ev *pihu.AuditEvent) bool { return ev.Action == pihu.ActionKeyRevoked }},
		{"Resource", pihu.AuditFilter{Actions: []string{"api_key.*"}}, func(ev *pihu.AuditEvent) bool { return strings.HasPrefix(ev.Action, "api_key.") }},
		{"NoSuchResource", pihu.AuditFilter{Actions: []string{"apixkey.*", "api_key.nothing"}}, func(*pihu.AuditEvent) bool { return false }},
		{"Actor", pihu.AuditFilter{Actor: keys[0].ID}, func(ev *pihu.AuditEvent) bool { return ev.Actor == keys[0].ID }},
		{"Targets", pihu.AuditFilter{Targets: ids(keys[1], keys[3])}, func(ev *pihu.AuditEvent) bool { return ev.Target == keys[1].ID || ev.Target == keys[3].ID }},
		{"NoTargets", pihu.AuditFilter{Targets: []string{}}, func(*pihu.AuditEvent) bool { return false }},
		{"Since", pihu.AuditFilter{Since: epoch.Add(2 * time.Hour)}, func(ev *pihu.AuditEvent) bool { return !ev.Created.Before(epoch.Add(2 * time.Hour)) }},
		{"Until", pihu.AuditFilter{Until: epoch.Add(2 * time.Hour)}, func(ev *pihu.AuditEvent) bool { return ev.Created.Before(epoch.Add(2 * time.Hour)) }},
		{"All", pihu.AuditFilter{Actions: []string{pihu.ActionKeyCreated}, Actor: owner.ID, Since: epoch.Add(time.Hour), Until: epoch.Add(3 * time.Hour)},
			func(ev *pihu.AuditEvent) bool {
				return ev.Action == pihu.ActionKeyCreated && ev.Actor == owner.ID && !ev.Created.Before(epoch.Add(time.Hour)) && ev.Created.Before(epoch.Add(3*time.Hour))
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			f.AccountID, f.Limit = a.ID, 100
			got, more := mustListEvents(t, s, f)
			checkEvents(t, got, want(tt.keep))
			if more {
				t.Errorf("more is true, want false")
			}
			if len(got) < 2 {
				return
			}
			// A page of one, then the rest after it.
			f.Limit = 1
			first, more := mustListEvents(t, s, f)
			checkEvents(t, first, got[:1])
			if !more {
				t.Errorf("a page of one: more is false, want true")
			}
			f.Limit, f.StartingAfter = 100, first[0].ID
			rest, _ := mustListEvents(t, s, f)
			checkEvents(t, rest, got[1:])
		})
	}
	if len(want(func(ev *pihu.AuditEvent) bool { return ev.Action == pihu.ActionKeyRevoked })) != 3 {
		t.Fatalf("the account's events: %v, want 3 revocations among them", all)
	}
}
