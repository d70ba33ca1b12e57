package storetest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func runDisable(t *testing.T, run runFunc) {
	run(t, "DisableAndEnable", testDisableAndEnable)
	run(t, "ListFilter", testDisableListFilter)
	run(t, "CreatorDisabled", testDisableCreatorDisabled)
	run(t, "RotatedStaysDisabled", testDisableRotatedStaysDisabled)
	run(t, "LeakRevokesDisabled", testDisableLeakRevokesDisabled)
}

// disable sets key id of account accountID enabled or not through
// UpdateKey, as PATCH does (pihu.KeyChange), by caller at at, and returns
// the key as changed.
func disable(tb testing.TB, s pihu.Store, caller *pihu.Key, accountID, id string, enabled bool, at time.Time) *pihu.Key {
	tb.Helper()
	change := &pihu.KeyChange{Enabled: &enabled}
	k, err := s.UpdateKey(tb.Context(), pihu.KeyUpdate{AccountID: accountID, ID: id,
		Apply:  func(k *pihu.Key) error { return change.Apply(caller, k, at) },
		Events: func(k *pihu.Key) []*pihu.AuditEvent { return change.Events(caller.ID, "203.0.113.7", k, at) },
	})
	if err != nil {
		tb.Fatalf("UpdateKey enabled %t: %v", enabled, err)
	}
	return k
}

// testDisableAndEnable checks that a key disabled through UpdateKey is
// stored so (read by id, by digest and in lists), with its audit event
// and the webhook event of the same name carrying the key as changed, and
// that enabling it again does the same the other way; a change to the
// state it has already records nothing.
func testDisableAndEnable(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	e := mustCreateEndpoint(t, s, owner, pihu.EventKeyDisabled, pihu.EventKeyEnabled)
	k := childKey(t, owner, readKey("Paused"), epoch)
	mustCreateKey(t, s, k)

	for i, enabled := range []bool{false, false, true} {
		at := epoch.Add(time.Duration(i+1) * time.Minute)
		got := disable(t, s, owner, a.ID, k.ID, enabled, at)
		if got.Disabled == enabled {
			t.Fatalf("UpdateKey enabled %t: got Disabled %t", enabled, got.Disabled)
		}
		want := *k
		want.Disabled = !enabled
		byID, err := s.Key(t.Context(), a.ID, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		checkKey(t, byID, &want)
		byDigest, err := s.KeyByDigest(t.Context(), k.Digest)
		if err != nil {
			t.Fatal(err)
		}
		checkKey(t, byDigest, &want)
		listed, _ := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 100})
		if i := slices.IndexFunc(listed, func(l *pihu.Key) bool { return l.ID == k.ID }); i < 0 || listed[i].Disabled == enabled {
			t.Errorf("ListKeys after enabled %t: got %v", enabled, listed)
		}
	}

	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: k.ID, Limit: 100})
	var actions []string
	for _, ev := range slices.Backward(events) {
		actions = append(actions, ev.Action)
		if ev.Actor != owner.ID || ev.IP != "203.0.113.7" {
			t.Errorf("event %+v: want the owner's, from 203.0.113.7", ev)
		}
	}
	// The second disabling changed nothing, and recorded nothing.
	if want := []string{pihu.ActionKeyCreated, pihu.ActionKeyDisabled, pihu.ActionKeyEnabled}; !slices.Equal(actions, want) && !slices.Equal(actions, want[1:]) {
		t.Errorf("events: got %v, want %v", actions, want[1:])
	}
	checkDisableDeliveries(t, s, owner, e, k)
}

// checkDisableDeliveries checks that endpoint e of owner's account has
// two deliveries, api_key.disabled and api_key.enabled, each carrying key
// k as that change left it.
func checkDisableDeliveries(t *testing.T, s pihu.Store, owner *pihu.Key, e *pihu.WebhookEndpoint, k *pihu.Key) {
	t.Helper()
	ds := mustDeliveries(t, s, pihu.ScopeOf(owner), e.ID)
	if len(ds) != 2 {
		t.Fatalf("deliveries: got %d, want 2 (disabled, enabled)", len(ds))
	}
	claimed, err := s.ClaimDeliveries(t.Context(), epoch.Add(time.Hour), time.Minute, 10)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("ClaimDeliveries: got %d, %v", len(claimed), err)
	}
	seen := map[string]bool{}
	for _, d := range claimed {
		var p pihu.WebhookPayload
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if p.Data.ID != k.ID || p.Type != d.EventType || p.Data.Enabled != (p.Type == pihu.EventKeyEnabled) {
			t.Errorf("payload of %s: got %s, want the key as the change left it", d.EventType, d.Payload)
		}
		seen[p.Type] = true
	}
	if !seen[pihu.EventKeyDisabled] || !seen[pihu.EventKeyEnabled] {
		t.Errorf("events delivered: got %v, want api_key.disabled and api_key.enabled", seen)
	}
}

// testDisableListFilter checks KeyFilter.Enabled: the enabled keys, or the
// disabled ones, newest first, with any key of the list (of either state)
// a valid cursor.
func testDisableListFilter(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	var keys []*pihu.Key
	for i := range 4 {
		k := childKey(t, owner, readKey("K"), epoch.Add(time.Duration(i)*time.Second))
		k.Disabled = i%2 == 1
		mustCreateKey(t, s, k)
		keys = append(keys, k)
	}
	on, off := true, false
	got, more := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 100, Enabled: &off})
	checkKeys(t, got, []*pihu.Key{keys[3], keys[1]})
	if more {
		t.Error("disabled: has_more, want none")
	}
	got, _ = mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 100, Enabled: &on})
	checkKeys(t, got, []*pihu.Key{keys[2], keys[0], owner})
	got, _ = mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 100, Enabled: &off, StartingAfter: keys[2].ID})
	checkKeys(t, got, []*pihu.Key{keys[1]})
	got, more = mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 1, Enabled: &on, EndingBefore: keys[0].ID})
	checkKeys(t, got, []*pihu.Key{keys[2]})
	if more {
		t.Error("enabled, ending before the oldest: has_more, want none")
	}
}

// testDisableCreatorDisabled checks that a disabled key creates, rotates
// and mints nothing: the transaction that would store the key or the
// token's event refuses it with EDisabledAPIKey, and stores nothing.
func testDisableCreatorDisabled(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	creator := childKey(t, owner, pihu.KeyRequest{Name: "Creator", Permissions: pihu.Permissions{"*"}}, epoch)
	mustCreateKey(t, s, creator)
	target := childKey(t, owner, readKey("Target"), epoch)
	mustCreateKey(t, s, target)
	disable(t, s, owner, a.ID, creator.ID, false, epoch)
	before, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 100})
	at := epoch.Add(time.Minute)

	child := childKey(t, creator, readKey("Child"), at)
	err := s.CreateKey(t.Context(), child, pihu.NewAuditEvent(pihu.ActionKeyCreated, creator.ID, "", child, at))
	checkError(t, err, pihu.EDisabledAPIKey, "")
	next, _, err := target.Successor(creator, at)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.RotateKey(t.Context(), next, at, rotationEvents(next, target, creator.ID)...)
	checkError(t, err, pihu.EDisabledAPIKey, "")
	err = s.RecordToken(t.Context(), pihu.NewAuditEvent(pihu.ActionTokenCreated, creator.ID, "", creator, at))
	checkError(t, err, pihu.EDisabledAPIKey, "")

	for _, id := range []string{child.ID, next.ID} {
		_, err := s.Key(t.Context(), a.ID, id)
		checkError(t, err, pihu.ENotFound, "")
	}
	after, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 100})
	checkEvents(t, after, before)

	// Enabled again, it creates.
	disable(t, s, owner, a.ID, creator.ID, true, at)
	child = childKey(t, creator, readKey("Child"), at)
	if err := s.CreateKey(t.Context(), child); err != nil {
		t.Fatalf("CreateKey by the key enabled again: %v", err)
	}
}

// testDisableRotatedStaysDisabled checks that the successor of a disabled
// key is stored disabled.
func testDisableRotatedStaysDisabled(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	k := childKey(t, owner, readKey("Paused"), epoch)
	mustCreateKey(t, s, k)
	old := disable(t, s, owner, a.ID, k.ID, false, epoch)
	at := epoch.Add(time.Minute)
	next, _, err := old.Successor(owner, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateKey(t.Context(), next, at, rotationEvents(next, old, owner.ID)...); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	got, err := s.KeyByDigest(t.Context(), next.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Disabled {
		t.Error("the successor of a disabled key: got enabled, want disabled")
	}
}

// testDisableLeakRevokesDisabled checks that a report of a disabled key
// found in public revokes it (under the default policy), as it would an
// enabled key: it could be enabled again.
func testDisableLeakRevokesDisabled(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	k := childKey(t, owner, readKey("Paused"), epoch)
	mustCreateKey(t, s, k)
	disable(t, s, owner, a.ID, k.ID, false, epoch)
	at := epoch.Add(time.Minute)
	out := mustRecordLeaks(t, s, pihu.LeakReport{AccountID: a.ID, KeyID: k.ID, Leak: githubLeak("https://github.com/acme/app", at)})
	if !slices.Equal(out, []pihu.LeakOutcome{pihu.LeakRevoked}) {
		t.Fatalf("outcomes: got %v, want [revoked]", out)
	}
	got, err := s.Key(t.Context(), a.ID, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Revoked == nil {
		t.Error("a disabled key reported leaked: not revoked")
	}
}
