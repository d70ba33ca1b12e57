package storetest

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func runLeaks(t *testing.T, run runFunc) {
	run(t, "RevokeByDefault", testLeaksRevokeByDefault)
	run(t, "ReportedTwiceHandledOnce", testLeaksReportedTwiceHandledOnce)
	run(t, "Flag", testLeaksFlag)
	run(t, "NothingToDo", testLeaksNothingToDo)
	run(t, "Concurrent", testLeaksConcurrent)
	run(t, "Policy", testLeaksPolicy)
	run(t, "PolicyErrors", testLeaksPolicyErrors)
}

// githubLeak is a report by GitHub's secret scanning at the time at.
func githubLeak(url string, at time.Time) pihu.Leak {
	return pihu.NewLeak(pihu.ActorGitHubSecretScanning, url, "commit", at)
}

func mustRecordLeaks(tb testing.TB, s pihu.Store, reports ...pihu.LeakReport) []pihu.LeakOutcome {
	tb.Helper()
	out, err := s.RecordLeaks(tb.Context(), reports)
	if err != nil {
		tb.Fatalf("RecordLeaks: %v", err)
	}
	return out
}

// leakEvents returns the api_key.leaked events of account a about key id.
func leakEvents(tb testing.TB, s pihu.Store, accountID, id string) []*pihu.AuditEvent {
	tb.Helper()
	events, _ := mustListEvents(tb, s, pihu.AuditFilter{AccountID: accountID, Target: id, Limit: 100})
	var out []*pihu.AuditEvent
	for _, ev := range events {
		if ev.Action == pihu.ActionKeyLeaked {
			out = append(out, ev)
		}
	}
	return out
}

// testLeaksRevokeByDefault checks that a report revokes the key of an
// account that never chose a policy, stores where it was found on the
// key, and records one api_key.leaked event with the place, and its
// webhook event, in the same transaction.
func testLeaksRevokeByDefault(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	e := mustCreateEndpoint(t, s, owner, pihu.EventKeyLeaked)
	k := childKey(t, owner, readKey("worker"), epoch)
	mustCreateKey(t, s, k)
	at := epoch.Add(time.Minute)
	leak := githubLeak("https://github.com/acme/app/blob/abc/.env", at)

	out := mustRecordLeaks(t, s, pihu.LeakReport{AccountID: a.ID, KeyID: k.ID, Leak: leak, IP: "192.0.2.1"})
	if !slices.Equal(out, []pihu.LeakOutcome{pihu.LeakRevoked}) {
		t.Fatalf("outcomes: got %v, want [revoked]", out)
	}
	got, err := s.Key(t.Context(), a.ID, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Revoked == nil || !got.Revoked.Equal(at) {
		t.Errorf("Revoked: got %v, want %v", got.Revoked, at)
	}
	want := leak
	want.Revoked = true
	if got.Leaked == nil || *got.Leaked != want || !got.Leaked.At.Equal(at) {
		t.Errorf("Leaked: got %+v, want %+v", got.Leaked, want)
	}
	events := leakEvents(t, s, a.ID, k.ID)
	if len(events) != 1 {
		t.Fatalf("api_key.leaked events: got %d, want 1", len(events))
	}
	ev := events[0]
	if ev.Actor != pihu.ActorGitHubSecretScanning || ev.URL != leak.URL || ev.Source != "commit" || ev.IP != "192.0.2.1" || ev.Environment != pihu.Live {
		t.Errorf("event: got %+v", ev)
	}
	ds := mustDeliveries(t, s, pihu.ScopeOf(owner), e.ID)
	if len(ds) != 1 || ds[0].EventType != pihu.EventKeyLeaked || ds[0].EventID != ev.ID {
		t.Fatalf("deliveries: got %+v, want one api_key.leaked", ds)
	}
	claimed, err := s.ClaimDeliveries(t.Context(), at, time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimDeliveries: got %d, %v", len(claimed), err)
	}
	var p pihu.WebhookPayload
	if err := json.Unmarshal(claimed[0].Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.Data.ID != k.ID || p.Data.Leaked == nil || p.Data.Leaked.URL != leak.URL || !p.Data.Leaked.Revoked {
		t.Errorf("payload: got %s, want the key with where it leaked", claimed[0].Payload)
	}
}

// testLeaksReportedTwiceHandledOnce checks that a key reported twice in
// one call, and again in another, is revoked once with one event.
func testLeaksReportedTwiceHandledOnce(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	k := childKey(t, owner, readKey("worker"), epoch)
	mustCreateKey(t, s, k)
	r := pihu.LeakReport{AccountID: a.ID, KeyID: k.ID, Leak: githubLeak("https://github.com/acme/app", epoch.Add(time.Minute))}

	if out := mustRecordLeaks(t, s, r, r); !slices.Equal(out, []pihu.LeakOutcome{pihu.LeakRevoked, pihu.LeakIgnored}) {
		t.Errorf("one call: got %v, want [revoked ignored]", out)
	}
	r.Leak.At = epoch.Add(2 * time.Minute)
	if out := mustRecordLeaks(t, s, r); !slices.Equal(out, []pihu.LeakOutcome{pihu.LeakIgnored}) {
		t.Errorf("again: got %v, want [ignored]", out)
	}
	if n := len(leakEvents(t, s, a.ID, k.ID)); n != 1 {
		t.Errorf("api_key.leaked events: got %d, want 1", n)
	}
	got, _ := s.Key(t.Context(), a.ID, k.ID)
	if !got.Revoked.Equal(epoch.Add(time.Minute)) {
		t.Errorf("Revoked: got %v, want the first report's time", got.Revoked)
	}
}

// testLeaksFlag checks the flag policy: the key keeps working, the report
// is stored and recorded once per place, and a forced report revokes it.
func testLeaksFlag(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	if _, err := s.SetLeakPolicy(t.Context(), a.ID, pihu.LeakFlag); err != nil {
		t.Fatalf("SetLeakPolicy: %v", err)
	}
	k := childKey(t, owner, readKey("worker"), epoch)
	mustCreateKey(t, s, k)
	first := pihu.LeakReport{AccountID: a.ID, KeyID: k.ID, Leak: githubLeak("https://github.com/acme/app/1", epoch.Add(time.Minute))}
	again := first
	again.Leak.At = epoch.Add(2 * time.Minute)
	elsewhere := pihu.LeakReport{AccountID: a.ID, KeyID: k.ID, Leak: githubLeak("https://github.com/acme/app/2", epoch.Add(3*time.Minute))}

	out := mustRecordLeaks(t, s, first, again, elsewhere)
	if want := []pihu.LeakOutcome{pihu.LeakFlagged, pihu.LeakIgnored, pihu.LeakFlagged}; !slices.Equal(out, want) {
		t.Fatalf("outcomes: got %v, want %v", out, want)
	}
	got, _ := s.Key(t.Context(), a.ID, k.ID)
	if got.Revoked != nil {
		t.Errorf("Revoked: got %v, want nil (flagged keys keep working)", got.Revoked)
	}
	if got.Leaked == nil || got.Leaked.URL != elsewhere.Leak.URL || got.Leaked.Revoked {
		t.Errorf("Leaked: got %+v, want the last place, not revoked", got.Leaked)
	}
	if n := len(leakEvents(t, s, a.ID, k.ID)); n != 2 {
		t.Errorf("api_key.leaked events: got %d, want 2 (one per place)", n)
	}

	forced := pihu.LeakReport{AccountID: a.ID, KeyID: k.ID, Leak: pihu.NewLeak(pihu.ActorAnonymous, "", "", epoch.Add(4*time.Minute)), Force: true}
	if out := mustRecordLeaks(t, s, forced); !slices.Equal(out, []pihu.LeakOutcome{pihu.LeakRevoked}) {
		t.Fatalf("forced: got %v, want [revoked]", out)
	}
	got, _ = s.Key(t.Context(), a.ID, k.ID)
	if got.Revoked == nil || got.Leaked == nil || !got.Leaked.Revoked || got.Leaked.By != pihu.ActorAnonymous {
		t.Errorf("after a forced report: got revoked %v, leaked %+v", got.Revoked, got.Leaked)
	}
}

// testLeaksNothingToDo checks that a report of an expired key, a revoked
// key, a key of another account or no key changes nothing and records no
// event.
func testLeaksNothingToDo(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	other, _ := mustCreateAccount(t, s, "Other")
	expiring := readKey("expiring")
	expiring.Expiration = "1m"
	expired := childKey(t, owner, expiring, epoch)
	mustCreateKey(t, s, expired)
	revoked := childKey(t, owner, readKey("revoked"), epoch)
	mustCreateKey(t, s, revoked)
	if _, err := s.RevokeKey(t.Context(), a.ID, revoked.ID, epoch); err != nil {
		t.Fatal(err)
	}
	live := childKey(t, owner, readKey("live"), epoch)
	mustCreateKey(t, s, live)
	leak := githubLeak("https://github.com/acme/app", epoch.Add(time.Hour))

	out := mustRecordLeaks(t, s,
		pihu.LeakReport{AccountID: a.ID, KeyID: expired.ID, Leak: leak},
		pihu.LeakReport{AccountID: a.ID, KeyID: revoked.ID, Leak: leak},
		pihu.LeakReport{AccountID: other.ID, KeyID: live.ID, Leak: leak},
		pihu.LeakReport{AccountID: a.ID, KeyID: pihu.NewID(pihu.PrefixKey), Leak: leak},
	)
	if want := []pihu.LeakOutcome{pihu.LeakIgnored, pihu.LeakIgnored, pihu.LeakIgnored, pihu.LeakIgnored}; !slices.Equal(out, want) {
		t.Errorf("outcomes: got %v, want %v", out, want)
	}
	for _, k := range []*pihu.Key{expired, revoked, live} {
		got, _ := s.Key(t.Context(), a.ID, k.ID)
		if got.Leaked != nil || (k == live && got.Revoked != nil) {
			t.Errorf("%s: got leaked %+v, revoked %v, want unchanged", k.Name, got.Leaked, got.Revoked)
		}
		if n := len(leakEvents(t, s, a.ID, k.ID)); n != 0 {
			t.Errorf("%s: got %d api_key.leaked events, want none", k.Name, n)
		}
	}
}

// testLeaksConcurrent checks that reports of the same key sent at once,
// as GitHub's retries may be, revoke it once with one event.
func testLeaksConcurrent(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	k := childKey(t, owner, readKey("worker"), epoch)
	mustCreateKey(t, s, k)
	r := pihu.LeakReport{AccountID: a.ID, KeyID: k.ID, Leak: githubLeak("https://github.com/acme/app", epoch.Add(time.Minute))}
	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		revoked int
	)
	for range n {
		wg.Go(func() {
			out, err := s.RecordLeaks(t.Context(), []pihu.LeakReport{r})
			if err != nil {
				t.Errorf("RecordLeaks: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if out[0] == pihu.LeakRevoked {
				revoked++
			}
		})
	}
	wg.Wait()
	if revoked != 1 {
		t.Errorf("revocations: got %d of %d reports, want 1", revoked, n)
	}
	if got := len(leakEvents(t, s, a.ID, k.ID)); got != 1 {
		t.Errorf("api_key.leaked events: got %d, want 1", got)
	}
}

// testLeaksPolicy checks that an account's policy is revoke until set,
// that SetLeakPolicy changes it with its audit event, and that both
// Account and ListAccounts show it.
func testLeaksPolicy(t *testing.T, s pihu.Store) {
	a, _ := mustCreateAccount(t, s, "Acme")
	got, err := s.Account(t.Context(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LeakPolicy != pihu.LeakRevoke {
		t.Errorf("default policy: got %q, want revoke", got.LeakPolicy)
	}
	ev := pihu.NewAccountEvent("user_1", "192.0.2.1", a, []string{"leak_policy"}, epoch.Add(time.Minute))
	changed, err := s.SetLeakPolicy(t.Context(), a.ID, pihu.LeakFlag, ev)
	if err != nil {
		t.Fatalf("SetLeakPolicy: %v", err)
	}
	if changed.ID != a.ID || changed.Name != "Acme" || changed.LeakPolicy != pihu.LeakFlag || !changed.Created.Equal(epoch) {
		t.Errorf("SetLeakPolicy: got %+v", changed)
	}
	if got, _ := s.Account(t.Context(), a.ID); got.LeakPolicy != pihu.LeakFlag {
		t.Errorf("Account: got %q, want flag", got.LeakPolicy)
	}
	for _, sum := range mustListAccounts(t, s, epoch) {
		if sum.ID == a.ID && sum.LeakPolicy != pihu.LeakFlag {
			t.Errorf("ListAccounts: got %q, want flag", sum.LeakPolicy)
		}
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: a.ID, Limit: 10})
	checkEvents(t, events, []*pihu.AuditEvent{ev})
}

func testLeaksPolicyErrors(t *testing.T, s pihu.Store) {
	a, _ := mustCreateAccount(t, s, "Acme")
	_, err := s.SetLeakPolicy(t.Context(), a.ID, "ignore")
	checkError(t, err, pihu.EParameterInvalid, "leak_policy")
	_, err = s.SetLeakPolicy(t.Context(), pihu.NewID(pihu.PrefixAccount), pihu.LeakFlag)
	checkError(t, err, pihu.ENotFound, "")
	if got, _ := s.Account(t.Context(), a.ID); got.LeakPolicy != pihu.LeakRevoke {
		t.Errorf("after refusals: got %q, want revoke", got.LeakPolicy)
	}
}
